//! Failed checks fail: a scenario whose checks do not hold makes `run` and every analytics
//! command exit 3, print the failing check, scenario, year and amount first, and still write
//! the outputs, with the failure red at the top of the Summary.
//!
//! At the library level a run's check is made to fail by hand, so these tests do not depend
//! on a deal the engine gets wrong. End to end, a deal without completion support whose
//! commitments fall 40m short of its build is run: its unfunded gap fails a check, so the
//! binary must exit 3 and print the failure first.

mod common;

use common::{TempDir, lodestone, text};
use lodestone::engine;
use lodestone::engine::results::failures;
use lodestone::examples;
use lodestone::excel::inputs::Notes;
use lodestone::excel::template::template_bytes;
use lodestone::excel::write::results_bytes_with;
use lodestone::model::*;
use lodestone::{exit, exit_code_after_run};

/// The Summary's first column, top to bottom (empty cells as "").
fn summary_column(bytes: &[u8]) -> Vec<String> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("open");
    let range = book.worksheet_range("Summary").expect("Summary");
    (0..12)
        .map(|r| {
            range
                .get_value((r, 0))
                .map(|d| d.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_failed_check_maps_to_exit_3_and_leads_the_summary() {
    let deal = examples::example("spodumene-crash").expect("example");
    let mut runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
    assert_eq!(failures(&runs), Vec::new(), "the example's checks hold");
    assert_eq!(exit_code_after_run(&failures(&runs)), exit::SUCCESS);

    let check = &mut runs[1].checks[0];
    check.ok = false;
    check.year = Some(2030);
    check.amount = Some(rust_decimal_macros::dec!(-5400000.126));
    check.detail = "largest deviation 5400000.126".into();
    let failed = failures(&runs);
    assert_eq!(exit_code_after_run(&failed), exit::CHECKS_FAILED);
    assert_eq!(exit::CHECKS_FAILED, 3);
    let line = lodestone::report::check_failure(&failed[0], "USD");
    assert_eq!(
        line,
        format!(
            "CHECK FAILED: scenario '{}': The ledger balances in every period fails in 2030 by -5,400,000.13 USD (largest deviation 5400000.126)",
            runs[1].scenario
        )
    );

    let warnings = vec![InputWarning::new(
        Some(CellRef::new("Costs", 0, 9)),
        "the column 'Currency' is ignored",
    )];
    let bytes = results_bytes_with(&deal, &runs, &warnings).expect("workbook");
    let column = summary_column(&bytes);
    assert_eq!(
        column[3],
        "CHECKS FAILED: 1 check of the scenarios below does not hold; the figures that depend on them are not reliable"
    );
    assert_eq!(column[4], line);
    assert_eq!(
        column[5],
        "Input warnings (1): values read but probably not what was meant"
    );
    assert_eq!(
        column[6],
        "'Costs'!J1: warning: the column 'Currency' is ignored"
    );
    assert_eq!(column[7], "");
    assert_eq!(column[8], "Decision numbers");
}

#[test]
fn a_summary_without_failures_or_warnings_keeps_its_layout() {
    let deal = examples::example("gallium-refinery").expect("example");
    let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
    let bytes = results_bytes_with(&deal, &runs, &[]).expect("workbook");
    let column = summary_column(&bytes);
    assert_eq!(column[2], "Every check of every scenario");
    assert_eq!(column[3], "");
    assert_eq!(column[4], "Decision numbers");
}

/// The blank deal without completion support whose sponsor commits 60m to a 100m build: a
/// 40m construction gap nobody funds, which the engine's check *No unfunded gap in
/// development* must report.
fn unfunded_gap() -> Deal {
    let mut deal = examples::blank();
    deal.completion_support = Sourced::bare(CompletionSupport::NoSupport);
    deal.tranches[0].commitment = Sourced::bare("60000000".parse().unwrap_or_default());
    deal
}

#[test]
fn run_and_the_analytics_exit_3_when_the_deal_fails_its_checks() {
    let deal = unfunded_gap();
    assert_eq!(validate(&deal), Vec::new(), "check accepts the deal");
    let runs = engine::run_all(&deal, &[]).expect("runs");
    let failed = failures(&runs);
    let dir = TempDir::new("failed-checks");
    let file = dir.write(
        "deal.xlsx",
        &template_bytes(&deal, &Notes::default()).expect("bytes"),
    );
    let file = file.display().to_string();
    let results = dir.path().join("results.xlsx");
    let json = dir.path().join("results.json");
    let out = lodestone(&[
        "run",
        &file,
        "-o",
        &results.display().to_string(),
        "--json",
        &json.display().to_string(),
    ]);
    let stderr = text(&out.stderr);
    assert!(
        results.exists() && json.exists(),
        "outputs written: {stderr}"
    );
    let tornado = dir.path().join("tornado.xlsx");
    let analytics = [
        lodestone(&["sensitivity", &file, "-o", &tornado.display().to_string()]),
        lodestone(&["breakeven", &file]),
    ];
    assert!(!failed.is_empty(), "the unfunded gap fails a check");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let first = format!(
        "lodestone: {}",
        lodestone::report::check_failure(&failed[0], "USD")
    );
    assert_eq!(stderr.lines().next(), Some(first.as_str()), "{stderr}");
    assert!(failed[0].year.is_some() && failed[0].amount.is_some());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("CHECKS FAILED"),
        "the table's footer says so too: {stdout}"
    );
    let bytes = std::fs::read(&results).expect("results");
    assert!(summary_column(&bytes)[3].starts_with("CHECKS FAILED"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("JSON");
    let checks = doc["scenarios"][0]["checks"].as_array().expect("checks");
    let bad = checks
        .iter()
        .find(|c| c["ok"] == false)
        .expect("a failed check");
    assert_eq!(bad["year"], failed[0].year.expect("year"));
    for a in &analytics {
        assert_eq!(a.status.code(), Some(3), "{}", text(&a.stderr));
        assert_eq!(
            text(&a.stderr).lines().next(),
            Some(first.as_str()),
            "the failure comes first"
        );
    }
    assert!(tornado.exists(), "the tornado is still written");
}

#[test]
fn scenario_names_match_ignoring_case() {
    let dir = TempDir::new("scenario-case");
    let deal = common::example(&dir, "ndpr-joint-facility");
    let json = dir.path().join("r.json").display().to_string();
    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &dir.path().join("r.xlsx").display().to_string(),
        "--json",
        &json,
        "--scenario",
        "capex OVERRUN",
        "--scenario",
        "base",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("JSON");
    let names: Vec<&str> = doc["scenarios"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Base", "Capex overrun"]);
    let out = lodestone(&[
        "montecarlo",
        &deal,
        "--paths",
        "4",
        "--scenario",
        "CAPEX overrun",
        "-o",
        &dir.path().join("mc.xlsx").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("paths of 'Capex overrun'"),
        "{}",
        text(&out.stdout)
    );
}
