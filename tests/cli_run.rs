//! `lodestone run` end to end: the table, both outputs, exit codes, a failed run leaving no
//! partial file and an existing output untouched, outputs never written over the input.

mod common;

use common::{TempDir, example, files, lodestone, text};

#[test]
fn run_writes_the_workbook_and_json_and_prints_npv_and_irr_by_party_and_scenario() {
    let dir = TempDir::new("run-ok");
    let deal = example(&dir, "spodumene-crash");
    let out_xlsx = dir.path().join("results.xlsx").display().to_string();
    let out_json = dir.path().join("results.json").display().to_string();
    let before = std::fs::read(&deal).expect("input");
    let out = lodestone(&["run", &deal, "-o", &out_xlsx, "--json", &out_json]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for want in [
        "Base",
        "Spodumene crash",
        "Sponsor",
        "Senior banks",
        "NPV",
        "IRR",
        "every check holds",
    ] {
        assert!(table.contains(want), "table lacks {want:?}:\n{table}");
    }
    assert_eq!(
        files(&dir),
        ["results.json", "results.xlsx", "spodumene-crash.xlsx"]
    );
    assert_eq!(
        std::fs::read(&deal).expect("input"),
        before,
        "the input is never modified"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["scenarios"][0]["name"], "Base");
    let parties = json["scenarios"][0]["parties"].as_array().expect("parties");
    let sponsor = parties
        .iter()
        .find(|p| p["kind"] == "sponsor")
        .expect("a sponsor");
    assert!(sponsor["npv"].is_string(), "decimals are strings");
    // The project company and the parties outside the deal are in the ledger, not measured.
    for outside in parties.iter().filter(|p| p["ledger_only"] == true) {
        assert!(outside["cash_flows"].is_array(), "{outside}");
        assert!(outside.get("npv").is_none(), "{outside}");
    }
    assert_eq!(
        parties
            .iter()
            .filter(|p| p["ledger_only"] == true)
            .map(|p| p["kind"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["project", "market", "suppliers", "funding gap"]
    );
}

#[test]
fn run_with_named_scenarios_runs_the_base_case_and_those_only() {
    let dir = TempDir::new("run-named");
    let deal = example(&dir, "ndpr-joint-facility");
    let out_json = dir.path().join("r.json").display().to_string();
    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &dir.path().join("r.xlsx").display().to_string(),
        "--json",
        &out_json,
        "--scenario",
        "Capex overrun",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).expect("json"))
            .expect("valid JSON");
    let names: Vec<&str> = json["scenarios"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Base", "Capex overrun"]);
}

#[test]
fn an_unknown_scenario_is_a_usage_error_and_writes_nothing() {
    let dir = TempDir::new("run-unknown");
    let deal = example(&dir, "gallium-refinery");
    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &dir.path().join("r.xlsx").display().to_string(),
        "--scenario",
        "Nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no scenario named 'Nope'"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(files(&dir), ["gallium-refinery.xlsx"]);
}

#[test]
fn results_are_never_written_over_the_input() {
    let dir = TempDir::new("run-same");
    let deal = example(&dir, "gallium-refinery");
    let before = std::fs::read(&deal).expect("input");
    for args in [
        vec!["run", &deal, "-o", &deal],
        vec!["run", &deal, "-o", "elsewhere.xlsx", "--json", &deal],
    ] {
        let out = lodestone(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("refusing to write results over the input deal"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(std::fs::read(&deal).expect("input"), before);
    assert_eq!(files(&dir), ["gallium-refinery.xlsx"]);
}

#[test]
fn a_bad_deal_fails_with_exit_1_and_leaves_an_existing_output_untouched() {
    let dir = TempDir::new("run-bad");
    let bad = dir.write("bad.xlsx", b"not a workbook");
    let existing = dir.write("results.xlsx", b"previous results");
    let out = lodestone(&[
        "run",
        &bad.display().to_string(),
        "-o",
        &existing.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&existing).expect("output"),
        b"previous results"
    );
    assert_eq!(files(&dir), ["bad.xlsx", "results.xlsx"]);
}

#[test]
fn an_unwritable_output_fails_without_a_partial_file() {
    let dir = TempDir::new("run-unwritable");
    let deal = example(&dir, "gallium-refinery");
    let target = dir
        .path()
        .join("missing-folder")
        .join("r.xlsx")
        .display()
        .to_string();
    let out = lodestone(&["run", &deal, "-o", &target]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(files(&dir), ["gallium-refinery.xlsx"]);
}

#[test]
fn json_rows_put_every_calculation_row_per_year_in_the_json_and_need_the_json() {
    let dir = TempDir::new("run-rows");
    let deal = example(&dir, "gallium-refinery");
    let out_xlsx = dir.path().join("results.xlsx").display().to_string();
    let out_json = dir.path().join("results.json").display().to_string();
    let out = lodestone(&["run", &deal, "-o", &out_xlsx, "--json-rows"]);
    assert_eq!(out.status.code(), Some(2), "--json-rows without --json");
    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &out_xlsx,
        "--json",
        &out_json,
        "--json-rows",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["schema_version"], lodestone::json::SCHEMA_VERSION);
    let periods = json["periods"].as_array().expect("periods").len();
    let rows = &json["scenarios"][0]["rows"];
    let calculation = rows["calculation"].as_array().expect("calculation rows");
    assert!(calculation.len() > 100, "{}", calculation.len());
    for row in calculation {
        assert_eq!(
            row["values"].as_array().map(Vec::len),
            Some(periods),
            "{row}"
        );
    }
    let tranche = &rows["tranches"][0];
    for key in ["interest", "principal_paid", "dscr", "dsra"] {
        assert!(
            tranche.get(key).is_some(),
            "tranche rows lack {key}: {tranche}"
        );
    }
    assert!(rows["ledger"].as_array().is_some_and(|l| !l.is_empty()));
    assert!(rows["facilities"][0]["production"].is_array());
}
