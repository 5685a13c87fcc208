//! The results workbook: LibreOffice recomputes every formula to the engine's value (zero
//! mismatches, ≥ 95% of numeric cells on calculation sheets are formulas), the workbook is
//! itself a valid deal whose run gives the same JSON, and the same input gives the same bytes.
//!
//! The recomputation needs LibreOffice (`soffice`); outside CI its absence skips that test
//! with a message, in CI (CI=true) it is a failure.

mod common;

use std::path::Path;
use std::process::Command;

use common::TempDir;
use lodestone::engine;
use lodestone::examples::{self, EXAMPLES};
use lodestone::excel::read::read_deal;
use lodestone::excel::write::results_bytes;
use lodestone::json::to_json;

fn run_example(name: &str) -> (lodestone::model::Deal, Vec<engine::Results>) {
    let deal = examples::example(name).expect("example");
    let runs = engine::run_all(&deal, &deal.scenarios).unwrap_or_else(|e| panic!("{name}: {e}"));
    (deal, runs)
}

fn soffice_available() -> bool {
    Command::new("soffice")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn libreoffice_recomputes_every_formula_to_the_engines_value() {
    if !soffice_available() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "LibreOffice (soffice) is required in CI: .ci/run installs libreoffice-calc-nogui"
            );
        }
        eprintln!(
            "SKIPPED: soffice not found; install libreoffice-calc-nogui to recompute the results workbooks"
        );
        return;
    }
    let dir = TempDir::new("recompute");
    for name in EXAMPLES {
        let (deal, runs) = run_example(name);
        let path = dir.write(
            &format!("{name}.xlsx"),
            &results_bytes(&deal, &runs).expect("workbook"),
        );
        let report = recompute(name, &path);
        // Calculation sheets: at least 95% of numeric cells are formulas.
        for line in report
            .lines()
            .filter(|l| l.starts_with("Calc ") || l.starts_with("Gov "))
        {
            let numbers: Vec<u64> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            // "<sheet>: F formulas, N numeric values, formula share S%, M mismatches"
            let (formulas, values) = (numbers[numbers.len() - 4], numbers[numbers.len() - 3]);
            let share = formulas as f64 / (formulas + values) as f64;
            assert!(
                share >= 0.95,
                "{name}: {line}: formula share {share:.3} below 95%"
            );
        }
    }
}

/// A deal of 20 facilities and 20 tranches: its chained lines (long sums split into helper
/// rows), per-gate risked value and running debt-service totals recompute in LibreOffice
/// too. (The 320 × 240 is measured in BENCHMARKS.md: minutes of LibreOffice.)
#[test]
fn libreoffice_recomputes_a_deal_of_20_facilities_and_20_tranches() {
    if !soffice_available() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "LibreOffice (soffice) is required in CI"
        );
        eprintln!("SKIPPED: soffice not found");
        return;
    }
    let dir = TempDir::new("recompute-grown");
    let deal = common::grown(20, 20);
    let runs = engine::run_all(&deal, &[]).expect("runs");
    let bytes = results_bytes(&deal, &runs).expect("workbook");
    let strings = common::Xlsx::open(&bytes).part("xl/sharedStrings.xml");
    assert!(
        strings.contains("(part 1)"),
        "the deal exercises chained lines"
    );
    // Its balances reach ~10^10: a zero there recomputes to within a few bits of 10^10.
    recompute_within("20 x 20", &dir.write("grown.xlsx", &bytes), "2e-5");
}

/// LibreOffice's recomputation of a workbook (tests/tools/xlsx-recalc), asserted to agree
/// with the engine's cached values to xlsx-recalc's default tolerance (1e-6 absolute); its
/// report, also shown on stderr.
fn recompute(name: &str, path: &Path) -> String {
    recompute_within(name, path, "1e-6")
}

/// As `recompute`, with an absolute tolerance of `abs` for values that are exactly zero in
/// the engine: a spreadsheet sums in binary floating point, whose last bit at 10^10 is about
/// 2e-6, so a sum of amounts that large that is exactly zero in decimal comes back as a few
/// of those bits.
fn recompute_within(name: &str, path: &Path, abs: &str) -> String {
    let recalc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/xlsx-recalc");
    let out = Command::new("python3")
        .arg(&recalc)
        .arg(path)
        .args(["--abs", abs])
        .output()
        .expect("run xlsx-recalc");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    // Straight to stderr (not println!, which the test harness captures), so the
    // formula share of every sheet shows in CI's output.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("{name}:\n{report}").as_bytes(),
    );
    assert!(
        out.status.success(),
        "{name}: LibreOffice disagrees with the engine:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

/// The rules of issue 12 that the examples do not use, in one small deal: a loan that
/// defaults (its loss given default discounted to the default year), a loss guarantee paid
/// in the default year from that whole-run measure, a debt-service guarantee with its
/// subrogated claim, sustaining capex depreciated per vintage, and a capex overrun met by
/// completion support. LibreOffice recomputes every formula to the engine's value.
#[test]
fn libreoffice_recomputes_losses_guarantees_and_completion_support() {
    if !soffice_available() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("LibreOffice (soffice) is required in CI");
        }
        eprintln!("SKIPPED: soffice not found");
        return;
    }
    use lodestone::model::sample::*;
    use lodestone::model::*;
    let d = |v: &str| Sourced::bare(v.parse::<rust_decimal::Decimal>().unwrap_or_default());
    let mut deal = one_mine_all_equity();
    deal.facilities[0].operations_years = Sourced::bare(5);
    deal.fiscal[0].tax_rate = d("0.3");
    deal.fiscal[0].depreciation_years = Sourced::bare(2);
    deal.costs.push(cost(
        "Mine",
        "Sustaining",
        CostCategory::SustainingCapex,
        CostBasis::PerYear,
        Some(Phase::Operations),
        "3000",
    ));
    deal.products[0].deck = ["100", "100", "30", "25", "100", "46.95"]
        .iter()
        .enumerate()
        .map(|(k, p)| (2030 + k as i32, d(p)))
        .collect();
    deal.tranches[0].commitment = d("100000");
    deal.tranches[0].draw_priority = Sourced::bare(2);
    deal.parties.push(party("Bank", PartyKind::Bank, "0.08"));
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    deal.tranches.push(loan(
        "Senior",
        TrancheKind::SeniorDebt,
        1,
        "100000",
        1,
        "0.1",
        4,
        Repayment::Bullet,
        &[("Bank", "1")],
    ));
    let mut service = guarantee(
        "Service cover",
        "Senior",
        "20000",
        "0.5",
        &[("Treasury", "1")],
    );
    service.commitment_fee = d("0.01");
    let mut loss = guarantee(
        "Loss cover",
        "Senior",
        "1000000",
        "0.4",
        &[("Treasury", "1")],
    );
    loss.guarantee_kind = Sourced::bare(GuaranteeKind::Loss);
    loss.commitment_fee = d("0.005");
    deal.tranches.push(service);
    deal.tranches.push(loss);
    deal.scenarios.push(scenario(
        "Overrun",
        vec![override_of(OverrideKind::CapexOverrun, "0.5")],
    ));
    assert_eq!(lodestone::model::validate(&deal), Vec::new());
    let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
    assert!(runs.iter().all(|r| r.all_checks_pass()));
    assert!(
        runs[0]
            .tranche("Senior")
            .and_then(|t| t.default_year)
            .is_some()
    );
    assert!(!runs[1].project.completion_support.is_zero());
    let dir = TempDir::new("recompute-rules");
    let bytes = results_bytes(&deal, &runs).expect("workbook");
    recompute("rules", &dir.write("rules.xlsx", &bytes));
}

#[test]
fn the_results_workbook_is_a_deal_that_runs_to_the_same_json() {
    let dir = TempDir::new("round-trip");
    for name in EXAMPLES {
        let (deal, runs) = run_example(name);
        let path = dir.write(
            &format!("{name}.xlsx"),
            &results_bytes(&deal, &runs).expect("workbook"),
        );
        let again = read_deal(&path).unwrap_or_else(|e| {
            panic!("{name}: the results workbook does not read as a deal:\n{e}")
        });
        let runs_again = engine::run_all(&again, &again.scenarios).expect("runs again");
        assert_eq!(
            to_json(&again, &runs_again),
            to_json(&deal, &runs),
            "{name}: the round trip changed the results"
        );
    }
}

#[test]
fn the_same_deal_gives_the_same_bytes() {
    for name in EXAMPLES {
        let (deal, runs) = run_example(name);
        let first = results_bytes(&deal, &runs).expect("workbook");
        let (deal2, runs2) = run_example(name);
        assert!(
            first == results_bytes(&deal2, &runs2).expect("workbook"),
            "{name}: two runs wrote different workbooks"
        );
        assert_eq!(
            to_json(&deal, &runs),
            to_json(&deal2, &runs2),
            "{name}: two runs wrote different JSON"
        );
    }
}
