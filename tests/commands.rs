//! The commands as library functions (`lodestone::commands`): what a portfolio runner, a
//! shard worker or another binary gets back, without the `lodestone` binary in between; and
//! the one error type, whose `source()` chain reaches the error that started it.

mod common;

use std::error::Error as _;
use std::path::PathBuf;
use std::sync::Mutex;

use common::{Patch, TempDir, Xlsx, example_bytes, files};
use lodestone::commands::{self, CheckOptions, Observer, Quiet, RunOptions, SensitivityOptions};
use lodestone::engine::{self, results};
use lodestone::error::{Usage, WriteFailure};
use lodestone::excel::inputs::Notes;
use lodestone::excel::read::FileError;
use lodestone::excel::template::template_bytes;
use lodestone::model::{CompletionSupport, Sourced};
use lodestone::{Error, examples, exit, exit_code_after_run, report};

/// Collects what a command tells while it works.
#[derive(Default)]
struct Collect {
    warnings: Mutex<Vec<String>>,
    failed_checks: Mutex<Vec<String>>,
}

impl Observer for Collect {
    fn warning(&self, line: &str) {
        self.warnings.lock().expect("lock").push(line.to_string());
    }

    fn failed_check(&self, line: &str) {
        self.failed_checks
            .lock()
            .expect("lock")
            .push(line.to_string());
    }
}

const NDPR: &str = "ndpr-joint-facility";

#[test]
fn run_as_a_library_function_writes_the_outputs_and_returns_the_failed_checks() {
    let dir = TempDir::new("commands-run");
    let file = dir.write("ndpr.xlsx", &example_bytes(NDPR));
    let options = RunOptions {
        file: file.clone(),
        output: dir.path().join("results.xlsx"),
        json: Some(dir.path().join("results.json")),
        scenarios: Vec::new(),
        ..RunOptions::default()
    };
    let observer = Collect::default();
    let report = commands::run(&options, &observer).expect("the NdPr example runs");

    assert_eq!(
        report.written,
        [options.output.clone(), options.json.clone().expect("json")]
    );
    assert_eq!(files(&dir), ["ndpr.xlsx", "results.json", "results.xlsx"]);
    let workbook = std::fs::read(&options.output).expect("workbook");
    assert!(workbook.starts_with(b"PK"), "the results workbook is a zip");
    // What was written is what was returned, and what the engine gives the bundled deal.
    let json = std::fs::read_to_string(options.json.as_ref().expect("json")).expect("json");
    assert_eq!(json, lodestone::json::to_json(&report.deal, &report.runs));
    let deal = examples::example(NDPR).expect("example");
    let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
    assert_eq!(
        json,
        lodestone::json::to_json(&deal, &runs),
        "the workbook reads back as the example"
    );
    assert_eq!(report.runs.len(), 1 + deal.scenarios.len());

    // The failed checks: those of the engine's own runs, told first, one line each.
    assert_eq!(report.failures, results::failures(&runs));
    let told: Vec<String> = (report.failures.iter())
        .map(|f| report::check_failure(f, &deal.currency.value))
        .collect();
    assert_eq!(*observer.failed_checks.lock().expect("lock"), told);
    assert_eq!(
        observer.warnings.lock().expect("lock").len(),
        report.warnings.len()
    );
    assert!(
        report.failures.is_empty(),
        "every check of the example holds"
    );
    assert_eq!(exit_code_after_run(&report.failures), exit::SUCCESS);
}

#[test]
fn a_failed_check_is_returned_and_told_first_and_the_outputs_are_written_all_the_same() {
    // The blank deal without completion support whose sponsor commits 60m to a 100m build:
    // a construction gap nobody funds.
    let mut deal = examples::blank();
    deal.completion_support = Sourced::bare(CompletionSupport::NoSupport);
    deal.tranches[0].commitment = Sourced::bare("60000000".parse().unwrap_or_default());
    let want = results::failures(&engine::run_all(&deal, &[]).expect("runs"));
    assert!(!want.is_empty(), "the unfunded gap fails a check");

    let dir = TempDir::new("commands-failed");
    let bytes = template_bytes(&deal, &Notes::default()).expect("bytes");
    let file = dir.write("deal.xlsx", &bytes);
    let observer = Collect::default();
    let options = SensitivityOptions {
        file,
        output: dir.path().join("tornado.xlsx"),
        json: None,
        shock: "0.2".parse().unwrap_or_default(),
    };
    let report = commands::sensitivity(&options, &observer).expect("the tornado is written");
    assert_eq!(report.failures, want);
    assert_eq!(report.written, std::slice::from_ref(&options.output));
    assert!(options.output.exists());
    let told: Vec<String> = (want.iter())
        .map(|f| report::check_failure(f, &deal.currency.value))
        .collect();
    assert_eq!(*observer.failed_checks.lock().expect("lock"), told);
    assert_eq!(exit_code_after_run(&report.failures), exit::CHECKS_FAILED);
}

#[test]
fn run_refuses_to_write_over_its_input_before_reading_it() {
    let dir = TempDir::new("commands-over-input");
    let file = dir.write("ndpr.xlsx", &example_bytes(NDPR));
    let before = std::fs::read(&file).expect("input");
    let options = RunOptions {
        file: file.clone(),
        output: file.clone(),
        ..RunOptions::default()
    };
    let e = commands::run(&options, &Quiet).expect_err("refused");
    assert!(
        matches!(&e, Error::Usage(Usage::OverInput(p)) if *p == file),
        "{e:?}"
    );
    assert_eq!(e.exit_code(), exit::USAGE);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: refusing to write results over the input deal; choose another output file",
            file.display()
        )
    );
    assert_eq!(std::fs::read(&file).expect("input"), before);
}

#[test]
fn an_unknown_scenario_is_a_usage_error_whose_source_names_the_scenarios() {
    let dir = TempDir::new("commands-scenario");
    let file = dir.write("ndpr.xlsx", &example_bytes(NDPR));
    let options = RunOptions {
        file: file.clone(),
        output: dir.path().join("r.xlsx"),
        json: None,
        json_options: Default::default(),
        scenarios: vec!["Nope".into()],
    };
    let e = commands::run(&options, &Quiet).expect_err("no such scenario");
    assert_eq!(e.exit_code(), exit::USAGE);
    let source = e.source().expect("the usage error");
    let unknown = source.source().expect("the unknown scenario");
    assert!(
        unknown
            .to_string()
            .starts_with("no scenario named 'Nope' (the deal has: Base, "),
        "{unknown}"
    );
    assert_eq!(e.to_string(), format!("{}: {unknown}", file.display()));
    assert_eq!(files(&dir), ["ndpr.xlsx"], "nothing written");
}

#[test]
fn a_missing_deal_is_a_read_error_whose_sources_reach_the_io_error() {
    let dir = TempDir::new("commands-missing");
    let file: PathBuf = dir.path().join("nowhere.xlsx");
    let options = CheckOptions {
        file: file.clone(),
        defaults: false,
    };
    let e = commands::check(&options, &Quiet).expect_err("no such file");
    assert!(matches!(e, Error::Read(_)), "{e:?}");
    assert_eq!(e.exit_code(), exit::BAD_INPUT);
    assert_eq!(
        e.to_string(),
        format!("{}: cannot open the file (no such file)", file.display())
    );

    // Error -> ReadErrors -> FileError -> io::Error, and nothing below it.
    let mut chain: Vec<&(dyn std::error::Error + 'static)> = vec![&e];
    let mut below = e.source();
    while let Some(next) = below {
        chain.push(next);
        below = next.source();
    }
    assert_eq!(chain.len(), 4, "{chain:?}");
    assert!(matches!(
        chain[2].downcast_ref::<FileError>(),
        Some(FileError::Open(_))
    ));
    let io = chain[3]
        .downcast_ref::<std::io::Error>()
        .expect("the io::Error at the bottom");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn an_output_in_a_missing_folder_is_a_write_error_whose_source_is_the_io_error() {
    let dir = TempDir::new("commands-no-folder");
    let file = dir.write("ndpr.xlsx", &example_bytes(NDPR));
    let options = commands::BreakevenOptions {
        file,
        json: Some(dir.path().join("missing").join("b.json")),
    };
    let e = commands::breakeven(&options, &Quiet).expect_err("no such folder");
    assert!(matches!(e, Error::Write(WriteFailure::Output(_))), "{e:?}");
    assert_eq!(e.exit_code(), exit::BAD_INPUT);
    let io = (e.source().and_then(|w| w.source()).and_then(|o| o.source()))
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("the io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_file_that_is_not_a_spreadsheet_is_a_read_error() {
    let dir = TempDir::new("commands-not-workbook");
    let file = dir.write("text.xlsx", b"not a workbook at all");
    let options = CheckOptions {
        file: file.clone(),
        defaults: false,
    };
    let e = commands::check(&options, &Quiet).expect_err("not a workbook");
    assert!(matches!(e, Error::Read(_)), "{e:?}");
    let problems = e.input_problems().expect("a list of problems");
    assert_eq!(problems.errors.len(), 1);
    let cause = e.source().and_then(|r| r.source()).expect("the file error");
    assert!(
        cause.source().is_none(),
        "no io::Error behind it: {cause:?}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("{}: not a spreadsheet (", file.display())),
        "{e}"
    );
}

#[test]
fn a_truncated_workbook_is_a_read_error_whose_source_is_the_zip_readers_error() {
    let dir = TempDir::new("commands-truncated");
    let bytes = example_bytes(NDPR);
    let file = dir.write("half.xlsx", &bytes[..bytes.len() / 2]);
    let options = CheckOptions {
        file: file.clone(),
        defaults: false,
    };
    let e = commands::check(&options, &Quiet).expect_err("truncated");
    assert!(matches!(e, Error::Read(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: not a spreadsheet (a damaged or truncated zip archive: invalid Zip archive: Could not find EOCD; expected an .xlsx, .xlsm, .xls or .ods file)",
            file.display()
        )
    );
    // Error -> ReadErrors -> FileError -> Damaged -> the zip reader's own error.
    let damaged =
        (e.source().and_then(|r| r.source()).and_then(|f| f.source())).expect("the damage");
    assert_eq!(
        damaged.to_string(),
        "a damaged or truncated zip archive: invalid Zip archive: Could not find EOCD"
    );
    let zip = damaged.source().expect("the zip error");
    assert!(
        zip.downcast_ref::<zip::result::ZipError>().is_some(),
        "{zip:?}"
    );
}

#[test]
fn an_invalid_deal_is_a_validate_error_listing_its_problems_at_their_cells() {
    let dir = TempDir::new("commands-invalid");
    let mut xlsx = Xlsx::open(&example_bytes(NDPR));
    xlsx.set_cell("Facilities", "E1", Patch::Text("Capacity (t/yr)"));
    let file = dir.write("bad.xlsx", &xlsx.bytes());
    let options = CheckOptions {
        file: file.clone(),
        defaults: false,
    };
    let e = commands::check(&options, &Quiet).expect_err("invalid");
    assert!(matches!(e, Error::Validate(_)), "{e:?}");
    assert_eq!(e.exit_code(), exit::BAD_INPUT);
    let problems = e.input_problems().expect("a list of problems");
    assert!(problems.cause.is_none(), "the file was read");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: 'Facilities'!E1: unknown column 'Capacity (t/yr)' (did you mean 'Nameplate'? expected 'Nameplate (t/yr)': a required column)",
            file.display()
        )
    );
}
