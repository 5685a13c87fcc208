//! The binary end to end: `template` and `check`, their output and exit codes (0 valid, 1 bad
//! input, 2 usage), no partial files, the input never modified, an existing file kept.

mod common;

use common::{Patch, TempDir, Xlsx, lodestone, text};

#[test]
fn template_then_check_a_blank_deal() {
    let dir = TempDir::new("cli-blank");
    let file = dir.path().join("deal.xlsx");
    let file_s = file.display().to_string();
    let out = lodestone(&["template", "-o", &file_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = lodestone(&["check", &file_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{file_s}: valid — 'New deal': 1 facility, 1 product, 2 parties, 1 tranche, 0 scenarios, 2027–2056\n"
        )
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["deal.xlsx"],
        "no temporary files are left behind"
    );
}

#[test]
fn check_a_valid_example_prints_its_summary() {
    let dir = TempDir::new("cli-example");
    let file = dir.path().join("ndpr.xlsx");
    let file_s = file.display().to_string();
    let out = lodestone(&[
        "template",
        "--example",
        "ndpr-joint-facility",
        "-o",
        &file_s,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before = std::fs::read(&file).expect("read");
    let modified = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .expect("mtime");
    let out = lodestone(&["check", &file_s]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{file_s}: valid — 'Goldfields NdPr joint facility (example)': 2 facilities, 1 product, 9 parties, 5 tranches, 4 scenarios, 2026–2063\n"
        )
    );
    assert!(out.stderr.is_empty());
    assert_eq!(
        std::fs::read(&file).expect("read"),
        before,
        "check modified its input"
    );
    assert_eq!(
        std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .expect("mtime"),
        modified
    );
}

#[test]
fn check_an_invalid_deal_prints_every_problem_and_exits_1() {
    let dir = TempDir::new("cli-invalid");
    let mut x = Xlsx::open(&common::example_bytes("ndpr-joint-facility"));
    x.set_cell("Facilities", "E2", Patch::Text("lots"));
    x.set_cell("Financing", "D3", Patch::Error("#DIV/0!"));
    let file = dir.write("bad.xlsx", &x.bytes());
    let file_s = file.display().to_string();
    let out = lodestone(&["check", &file_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        format!(
            "{file_s}: 'Facilities'!E2: Nameplate is not a number (found text \"lots\", expected a number (t/yr))\n\
             {file_s}: 'Financing'!D3: Commitment holds an Excel error (found #DIV/0!, expected a number (deal currency); fix the formula or the cell it refers to)\n\
             {file_s}: 2 problems\n"
        )
    );
}

#[test]
fn check_a_file_that_is_not_a_workbook_says_so_in_one_line() {
    let dir = TempDir::new("cli-garbage");
    for (case, bytes, want) in [
        (
            "empty",
            Vec::new(),
            "empty file (0 bytes), not a spreadsheet (expected an .xlsx, .xlsm, .xls or .ods file)",
        ),
        (
            "text",
            b"hello".to_vec(),
            "not a spreadsheet (a text file; save it from Excel or LibreOffice as .xlsx; expected an .xlsx, .xlsm, .xls or .ods file)",
        ),
    ] {
        let file = dir.write("deal.xlsx", &bytes);
        let out = lodestone(&["check", &file.display().to_string()]);
        assert_eq!(out.status.code(), Some(1), "case {case}");
        assert_eq!(
            text(&out.stderr),
            format!("{}: {want}\n", file.display()),
            "case {case}"
        );
    }
    let out = lodestone(&["check", "/nonexistent/deal.xlsx"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "/nonexistent/deal.xlsx: cannot open the file (no such file)\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new("cli-usage");
    let xlsx = dir.path().join("x.xlsx").display().to_string();
    let out = lodestone(&["template", "--example", "copper-smelter", "-o", &xlsx]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "lodestone: unknown example 'copper-smelter' (expected one of: ndpr-joint-facility, spodumene-crash, gallium-refinery)\n"
    );
    assert!(!dir.path().join("x.xlsx").exists(), "nothing written");

    let csv = dir.path().join("x.csv").display().to_string();
    let out = lodestone(&["template", "-o", &csv]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!("lodestone: {csv}: the template is an Excel workbook; name it FILE.xlsx\n")
    );

    for args in [
        &[][..],
        &["check"][..],
        &["frobnicate"][..],
        &["template"][..],
    ] {
        let out = lodestone(args);
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
    }
}

#[test]
fn template_into_a_missing_folder_fails_and_leaves_nothing() {
    let dir = TempDir::new("cli-nofolder");
    let file = dir.path().join("no/such/folder/deal.xlsx");
    let out = lodestone(&["template", "-o", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(&format!(
        "lodestone: {}: cannot write the file",
        file.display()
    )));
    assert!(!file.exists());
}

#[test]
fn template_refuses_an_existing_file_without_force() {
    let dir = TempDir::new("cli-refuse");
    let file = dir.write("deal.xlsx", b"an edited deal");
    let file_s = file.display().to_string();
    let out = lodestone(&["template", "-o", &file_s]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "lodestone: {file_s}: already exists; choose another file name, or pass --force to overwrite it\n"
        )
    );
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&file).expect("read"), b"an edited deal");
}

#[test]
fn template_with_force_replaces_an_existing_file_whole() {
    let dir = TempDir::new("cli-replace");
    let file = dir.write("deal.xlsx", b"old contents");
    let out = lodestone(&[
        "template",
        "--example",
        "gallium-refinery",
        "--force",
        "-o",
        &file.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&file).expect("read"),
        common::example_bytes("gallium-refinery")
    );
}

#[test]
fn help_lists_the_examples_and_the_exit_codes() {
    let out = lodestone(&["template", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for name in lodestone::examples::EXAMPLES {
        assert!(help.contains(name), "template --help lacks {name}:\n{help}");
    }
    for command in ["run", "check", "sensitivity", "breakeven", "montecarlo"] {
        let out = lodestone(&[command, "--help"]);
        let help = text(&out.stdout);
        assert!(
            help.contains("Exit codes:") && help.contains("3  a check failed"),
            "{command} --help lacks the exit codes:\n{help}"
        );
    }
}

#[test]
fn check_refuses_what_run_would_refuse() {
    // A price escalating 100% a year for two centuries outgrows exact arithmetic: run would
    // fail; check says so first, naming the escalation's cell.
    let mut deal = lodestone::examples::blank();
    deal.horizon_years.value = 200;
    deal.facilities[0].operations_years.value = 190;
    deal.products[0].escalation.value = rust_decimal::Decimal::ONE;
    let dir = TempDir::new("cli-preflight");
    let bytes = lodestone::excel::template::template_bytes(
        &deal,
        &lodestone::excel::inputs::Notes::default(),
    )
    .expect("bytes");
    let file = dir.write("deal.xlsx", &bytes);
    let file_s = file.display().to_string();
    let out = lodestone(&["check", &file_s]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{file_s}: 'Prices'!D2: scenario 'Base': an amount too large for exact arithmetic (overflow) in 'Market: cumulative cash flow' in 2096: the escalation of 'Concentrate' of 100%/yr compounds to more than 10^28 over 199 years (expected an escalation that stays within the 28 significant digits Lodestone computes with: lower it, or shorten the horizon)\n"
        )
    );
    let out = lodestone(&[
        "run",
        &file_s,
        "-o",
        &dir.path().join("r.xlsx").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "run refuses it too");
}

#[test]
fn check_run_and_the_analytics_print_warnings_and_exit_0() {
    let dir = TempDir::new("cli-warnings");
    let mut x = Xlsx::open(&common::example_bytes("gallium-refinery"));
    x.set_cell("Costs", "I1", Patch::Text("Currency"));
    let file = dir.write("deal.xlsx", &x.bytes());
    let file_s = file.display().to_string();
    let warning = format!(
        "{file_s}: 'Costs'!I1: warning: the column 'Currency' is ignored: it is not a field of the Costs sheet (a column headed Notes, Comment or Source is kept without this warning)"
    );
    let out = lodestone(&["check", &file_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("{warning}\n"));
    assert!(
        text(&out.stdout).starts_with(&format!("{file_s}: valid (1 warning, above) — ")),
        "{}",
        text(&out.stdout)
    );
    let results = dir.path().join("r.xlsx").display().to_string();
    let out = lodestone(&["run", &file_s, "-o", &results]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("{warning}\n"));
    let out = lodestone(&["breakeven", &file_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("{warning}\n"));
}

#[test]
fn check_defaults_lists_every_default_with_its_cell() {
    let dir = TempDir::new("cli-defaults");
    let file = dir.path().join("deal.xlsx");
    let file_s = file.display().to_string();
    assert_eq!(
        lodestone(&["template", "-o", &file_s]).status.code(),
        Some(0)
    );
    let mut x = Xlsx::open(&std::fs::read(&file).expect("read"));
    x.set_cell("Financing", "F1", Patch::Text("Notes on rates"));
    std::fs::write(&file, x.bytes()).expect("write");
    let out = lodestone(&["check", "--defaults", &file_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "default: 'Deal'!B9: Financial close year is blank → first construction year",
        "default: 'Facilities'!F2: Feed source is blank → none (a mine)",
        "default: 'Financing' row 2: no Interest rate column → 0%",
        "default: 'Financing'!I2: Capitalise interest is blank → no",
    ] {
        assert!(
            stdout.contains(&format!("{file_s}: {line}\n")),
            "missing {line:?} in:\n{stdout}"
        );
    }
    assert!(stdout.ends_with(" 2027–2056\n"), "{stdout}");
    let out = lodestone(&["check", &file_s]);
    assert!(!text(&out.stdout).contains("default:"));
}
