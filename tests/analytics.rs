//! The analytics end to end: each breakeven solver's answer reproduces its target on an
//! independent rerun (and one step below does not); the tornado's signs make sense; the
//! commands' outputs, exit codes, determinism across threads, and refusal to write over the
//! input or leave partial files.

mod common;

use common::{TempDir, example, files, lodestone, text};
use lodestone::analytics::breakeven::{self, Outcome, Question, Unknown};
use lodestone::analytics::sensitivity::{self, Driver};
use lodestone::analytics::{
    equity_holders, equity_npv, price_multiplier, senior_dscr_min, sold_products,
};
use lodestone::engine::{self, Results, SculptProfiles};
use lodestone::examples;
use lodestone::model::{Deal, Scenario};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

fn ndpr() -> Deal {
    examples::example("ndpr-joint-facility").expect("example")
}

/// The metric a question targets, from an independent run.
fn metric(
    deal: &Deal,
    scenario: &Scenario,
    question: Question,
    unknown: &Unknown,
    x: Decimal,
    profiles: &SculptProfiles,
) -> Option<Decimal> {
    let run =
        |d: &Deal, s: &Scenario| -> Results { engine::run_with(d, s, profiles).expect("runs") };
    match question {
        Question::EquityNpvZero | Question::SeniorDscrOne => {
            let mut s = scenario.clone();
            s.overrides
                .extend(price_multiplier(&sold_products(deal), x));
            let r = run(deal, &s);
            if question == Question::EquityNpvZero {
                let holders = equity_holders(deal, &r.ledger_parties);
                Some(equity_npv(&r, &holders))
            } else {
                senior_dscr_min(&r)
            }
        }
        Question::FloorForLockup => {
            let Unknown::FloorFactor(floors) = unknown else {
                panic!("floor factor")
            };
            // A blank upside threshold is the floor: held at the deal's floor while it varies.
            let mut d = deal.clone();
            for (s, (_, floor, _)) in d.price_supports.iter_mut().zip(floors) {
                if s.upside_threshold.is_none() {
                    s.upside_threshold = Some(lodestone::model::Sourced::bare(*floor));
                }
                s.floor.value = *floor * x;
            }
            let r = run(&d, scenario);
            senior_dscr_min(&r)
        }
        Question::FirstLossForLoansAbove => {
            let mut d = deal.clone();
            let fl = d
                .tranches
                .iter()
                .position(|t| t.kind.value == lodestone::model::TrancheKind::FirstLoss)
                .expect("first-loss");
            d.tranches[fl].commitment.value = x;
            let r = run(&d, scenario);
            Some(loss_above(&d, fl, &r))
        }
    }
}

/// The loss given default (before guarantees) of the loans ranked above first-loss tranche
/// `fl`, from a run.
fn loss_above(deal: &Deal, fl: usize, r: &Results) -> Decimal {
    let above = breakeven::loans_above(deal, fl);
    r.lines
        .tranches
        .iter()
        .filter(|t| above.contains(&t.tranche))
        .filter_map(|t| t.loss.and_then(|s| r.values.scalar(s)))
        .sum()
}

/// Finding 6 of issue 12: the NdPr floor's upside threshold is blank, so it is the floor;
/// scaling the floor used to scale the threshold with it, and typing the default in gave
/// another answer. Both now give the same answer, and the blank one says what it held.
#[test]
fn the_floor_solver_holds_a_blank_threshold_at_the_deals_floor() {
    let deal = ndpr();
    let profiles = engine::sculpt_profiles(&deal).expect("profiles");
    let overrun = &deal.scenarios[2];
    let blank =
        breakeven::solve(&deal, overrun, Question::FloorForLockup, &profiles).expect("solves");
    let mut typed = deal.clone();
    for s in &mut typed.price_supports {
        s.upside_threshold = Some(lodestone::model::Sourced::bare(s.floor.value));
    }
    let explicit =
        breakeven::solve(&typed, overrun, Question::FloorForLockup, &profiles).expect("solves");
    assert_eq!(blank.outcome, explicit.outcome);
    assert!(
        matches!(blank.outcome, Outcome::Solved { .. }),
        "{:?}",
        blank.outcome
    );
    assert_eq!(blank.held.len(), 1, "{:?}", blank.held);
    assert!(
        blank.held[0].contains("upside-sharing threshold"),
        "{:?}",
        blank.held
    );
    assert!(explicit.held.is_empty());
}

/// A small stressed deal where first-loss money lends in the senior's place: the mine costs
/// 150,000; the first-loss tranche draws first (priority 1), the senior (100,000 at 10% over
/// four years, priority 2) next, equity last. At a price of 40 CFADS is 20,000 a year for
/// four years: the senior loses nothing if it lends at most 20,000 × a(4, 10%) = 63,397.31,
/// so first-loss money must cover 150,000 − 63,397.31 = 86,602.69: 86,610 on the grid of 10.
#[test]
fn the_first_loss_solver_finds_the_commitment_that_protects_the_loans_above_it() {
    use lodestone::model::sample::*;
    use lodestone::model::{Repayment, Sourced, TrancheKind};
    let mut deal = one_mine_all_equity();
    deal.products[0].deck = vec![(2030, Sourced::bare(dec("40")))];
    deal.tranches[0].draw_priority = Sourced::bare(3);
    deal.parties
        .push(party("Bank", lodestone::model::PartyKind::Bank, "0.08"));
    deal.tranches.push(loan(
        "Senior",
        TrancheKind::SeniorDebt,
        1,
        "100000",
        2,
        "0.1",
        4,
        Repayment::Annuity,
        &[("Bank", "1")],
    ));
    deal.tranches.push(loan(
        "First loss",
        TrancheKind::FirstLoss,
        2,
        "20000",
        1,
        "0.1",
        4,
        Repayment::Annuity,
        &[("Government", "1")],
    ));
    let profiles = engine::sculpt_profiles(&deal).expect("profiles");
    let a = breakeven::solve(
        &deal,
        &Scenario::base(),
        Question::FirstLossForLoansAbove,
        &profiles,
    )
    .expect("solves");
    match a.outcome {
        Outcome::Solved {
            value,
            below,
            metric,
            metric_below,
            ..
        } => {
            assert_eq!((value, below), (dec("86610"), dec("86600")));
            assert_eq!(metric, Some(Decimal::ZERO));
            assert!(
                metric_below.is_some_and(|m| m > Decimal::ZERO),
                "{metric_below:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// In the NdPr crash with the overrun, drawn after the other loans (draw priority 3), the
/// first-loss money finds them fully drawn: more of it would only replace the sponsors'
/// overrun equity, and the answer says so (the joint facility loan loses whatever the
/// first-loss commitment). Drawn pro rata with them, as the example has it, it lends in
/// their place: 870.4m protects them (pinned above).
#[test]
fn first_loss_money_that_only_displaces_equity_is_said_to() {
    let mut deal = ndpr();
    let fl = deal
        .tranches
        .iter()
        .position(|t| t.name.value == "Australian first-loss")
        .expect("first-loss");
    deal.tranches[fl].draw_priority.value = 3;
    let profiles = engine::sculpt_profiles(&deal).expect("profiles");
    let a = breakeven::solve(
        &deal,
        &deal.scenarios[3],
        Question::FirstLossForLoansAbove,
        &profiles,
    )
    .expect("solves");
    match &a.outcome {
        Outcome::OnlyDisplacesEquity { loss_above, .. } => {
            assert!(
                loss_above.is_some_and(|l| l > Decimal::ZERO),
                "{loss_above:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(breakeven::displaces_equity(&a.outcome).contains("only displaces sponsor equity"));
}

/// Each solver, pinned: its answer, the target holding there on a rerun, failing one
/// tolerance below, and the stated tolerance.
#[test]
fn each_solver_reproduces_its_target_on_rerun() {
    let deal = ndpr();
    let profiles = engine::sculpt_profiles(&deal).expect("profiles");
    let cases = [
        (
            Scenario::base(),
            Question::EquityNpvZero,
            "0.8985",
            "0.0001",
        ),
        (
            Scenario::base(),
            Question::SeniorDscrOne,
            "0.8952",
            "0.0001",
        ),
        (
            deal.scenarios[2].clone(),
            Question::FloorForLockup,
            "1.1633",
            "0.0001",
        ),
        (
            deal.scenarios[3].clone(),
            Question::FirstLossForLoansAbove,
            "868800000",
            "100000",
        ),
    ];
    for (scenario, question, want, tolerance) in cases {
        let case = format!("{} / {}", scenario.name.value, question.label());
        let answer = breakeven::solve(&deal, &scenario, question, &profiles).expect("solves");
        let Outcome::Solved {
            value,
            below,
            tolerance: got_tolerance,
            metric: reported,
            ..
        } = answer.outcome
        else {
            panic!("case {case}: {:?}", answer.outcome)
        };
        assert_eq!(value, dec(want), "case {case}");
        assert_eq!(got_tolerance, dec(tolerance), "case {case}");
        assert_eq!(value - below, dec(tolerance), "case {case}: one step below");
        let at = metric(
            &deal,
            &scenario,
            question,
            &answer.unknown,
            value,
            &profiles,
        );
        let under = metric(
            &deal,
            &scenario,
            question,
            &answer.unknown,
            below,
            &profiles,
        );
        assert_eq!(
            at, reported,
            "case {case}: the rerun gives what was reported"
        );
        let holds = |m: Option<Decimal>| match m {
            Some(m) if answer.target.at_least => m >= answer.target.value,
            Some(m) => m <= answer.target.value,
            None => false,
        };
        assert!(holds(at), "case {case}: target missed at {value}: {at:?}");
        assert!(
            !holds(under),
            "case {case}: target already met at {below}: {under:?}"
        );
    }
}

#[test]
fn out_of_reach_and_inapplicable_questions_say_so() {
    let deal = ndpr();
    let profiles = engine::sculpt_profiles(&deal).expect("profiles");
    let mut hopeless = deal.scenarios[3].clone();
    hopeless
        .overrides
        .extend(price_multiplier(&sold_products(&deal), dec("0.6")));
    let a = breakeven::solve(
        &deal,
        &hopeless,
        Question::FirstLossForLoansAbove,
        &profiles,
    )
    .expect("solves");
    assert!(
        matches!(a.outcome, Outcome::NoBracket { .. }),
        "{:?}",
        a.outcome
    );
    // The crash's lasting haircut bites after the US floor has expired: no floor level
    // over the floor's term lifts the senior DSCR to the lock-up ratio.
    let a = breakeven::solve(
        &deal,
        &deal.scenarios[0],
        Question::FloorForLockup,
        &profiles,
    )
    .expect("solves");
    assert!(
        matches!(a.outcome, Outcome::NoBracket { .. }),
        "{:?}",
        a.outcome
    );
    let base = breakeven::solve(
        &deal,
        &Scenario::base(),
        Question::FirstLossForLoansAbove,
        &profiles,
    )
    .expect("solves");
    assert!(
        matches!(base.outcome, Outcome::AtLowerBound { value, metric: Some(m), .. } if value.is_zero() && m.is_zero()),
        "{:?}",
        base.outcome
    );
    let spodumene = examples::example("spodumene-crash").expect("example");
    let profiles = engine::sculpt_profiles(&spodumene).expect("profiles");
    let a = breakeven::solve(
        &spodumene,
        &Scenario::base(),
        Question::FloorForLockup,
        &profiles,
    )
    .expect("solves");
    assert!(
        matches!(&a.outcome, Outcome::NotApplicable(r) if r.contains("no price floor")),
        "{:?}",
        a.outcome
    );
}

/// Higher prices, lower costs, a faster ramp and no delay raise the project's and equity's
/// NPV; higher discount rates lower a positive NPV.
#[test]
fn tornado_signs_make_sense() {
    for name in examples::EXAMPLES {
        let deal = examples::example(name).expect("example");
        let t = sensitivity::tornado(&deal, dec("0.2")).expect("tornado");
        assert_eq!(
            t.metrics.len(),
            2 + deal
                .parties
                .iter()
                .filter(|p| p.kind.value == lodestone::model::PartyKind::Government)
                .count()
        );
        for metric in [0, 1] {
            let base = t.base[metric];
            for bar in &t.bars {
                let (lo, hi) = (bar.low.values[metric], bar.high.values[metric]);
                let case = format!("{name}: {} on {}", bar.driver.label(), t.metrics[metric]);
                match bar.driver {
                    Driver::Price | Driver::RampSpeed => {
                        assert!(lo < base && base < hi, "{case}: {lo} {base} {hi}")
                    }
                    Driver::Capex | Driver::Opex => {
                        assert!(lo > base && base > hi, "{case}: {lo} {base} {hi}")
                    }
                    Driver::Delay => assert!(lo == base && hi < base, "{case}: {lo} {base} {hi}"),
                    Driver::DiscountRates if base > Decimal::ZERO => {
                        assert!(lo > base && base > hi, "{case}: {lo} {base} {hi}")
                    }
                    Driver::DiscountRates => {}
                }
            }
        }
    }
}

// ----- The commands ------------------------------------------------------------------------

fn at(dir: &TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

#[test]
fn sensitivity_writes_the_tornado_and_its_json() {
    let dir = TempDir::new("sensitivity");
    let deal = example(&dir, "ndpr-joint-facility");
    let before = std::fs::read(&deal).expect("input");
    let (xlsx, json) = (at(&dir, "t.xlsx"), at(&dir, "t.json"));
    let out = lodestone(&[
        "sensitivity",
        &deal,
        "-o",
        &xlsx,
        "--json",
        &json,
        "--shock",
        "25%",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for want in [
        "±25.0%",
        "Price",
        "Construction delay",
        "Discount rates",
        "US Government",
    ] {
        assert!(table.contains(want), "lacks {want:?}:\n{table}");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid");
    assert_eq!(doc["shock"], "0.25");
    assert_eq!(doc["drivers"].as_array().map(|a| a.len()), Some(6));
    assert!(doc["base"]["Project (unlevered, after tax)"].is_string());
    assert_eq!(
        files(&dir),
        ["ndpr-joint-facility.xlsx", "t.json", "t.xlsx"]
    );
    assert_eq!(std::fs::read(&deal).expect("input"), before);
    // The same deal and shock give the same bytes.
    let again = at(&dir, "t2.xlsx");
    let out = lodestone(&["sensitivity", &deal, "-o", &again, "--shock", "0.25"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::read(&xlsx).expect("a") == std::fs::read(&again).expect("b"),
        "bytes differ"
    );
}

#[test]
fn breakeven_prints_each_answer_with_its_verification() {
    let dir = TempDir::new("breakeven");
    let deal = example(&dir, "spodumene-crash");
    let json = at(&dir, "b.json");
    let out = lodestone(&["breakeven", &deal, "--json", &json]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for want in [
        "price multiplier for equity NPV = 0: price multiplier ",
        "one step below, at ",
        "tolerance 0.0001",
        "not applicable: the deal has no price floor",
        "Spodumene crash",
    ] {
        assert!(stdout.contains(want), "lacks {want:?}:\n{stdout}");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid");
    let first = &doc["scenarios"][0]["answers"][0];
    assert_eq!(first["outcome"], "solved");
    assert!(first["value"].is_string() && first["metric_below"].is_string());
}

#[test]
fn montecarlo_gives_the_same_bytes_on_one_thread_and_two() {
    let dir = TempDir::new("montecarlo");
    let deal = example(&dir, "spodumene-crash");
    let run = |threads: &str, tag: &str| {
        let (xlsx, json) = (
            at(&dir, &format!("{tag}.xlsx")),
            at(&dir, &format!("{tag}.json")),
        );
        let out = lodestone(&[
            "montecarlo",
            &deal,
            "--paths",
            "40",
            "--seed",
            "7",
            "-o",
            &xlsx,
            "--json",
            &json,
            "--threads",
            threads,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            out.stderr.is_empty(),
            "no progress bar when stderr is not a terminal"
        );
        (
            std::fs::read(&xlsx).expect("xlsx"),
            std::fs::read(&json).expect("json"),
            text(&out.stdout).replace(tag, "OUT"),
        )
    };
    let one = run("1", "threads-1");
    let two = run("2", "threads-2");
    assert!(one.0 == two.0, "workbooks differ");
    assert!(one.1 == two.1, "JSON differs");
    assert_eq!(one.2, two.2);
    assert!(one.2.contains("40 paths of 'Base', seed 7"), "{}", one.2);
    let doc: serde_json::Value = serde_json::from_slice(&one.1).expect("valid");
    assert_eq!(doc["paths"], 40);
    assert!(doc["parties"][0]["p95"].is_string());
    assert!(doc["tranches"][0]["probability_of_loss"].is_string());
}

#[test]
fn analytics_usage_and_input_errors_exit_2_and_1_and_write_nothing() {
    let dir = TempDir::new("analytics-errors");
    let deal = example(&dir, "gallium-refinery");
    let before = std::fs::read(&deal).expect("input");
    let out_x = at(&dir, "out.xlsx");
    let usage: Vec<Vec<&str>> = vec![
        vec!["sensitivity", &deal, "-o", &out_x, "--shock", "1.5"],
        vec!["sensitivity", &deal, "-o", &out_x, "--shock", "none"],
        vec!["sensitivity", &deal, "-o", &deal],
        vec!["breakeven", &deal, "--json", &deal],
        vec!["montecarlo", &deal, "-o", &deal],
        vec!["montecarlo", &deal, "-o", &out_x, "--json", &out_x],
        vec!["montecarlo", &deal, "-o", &out_x, "--paths", "0"],
        vec!["montecarlo", &deal, "-o", &out_x, "--scenario", "Nope"],
        vec!["montecarlo", &deal],
    ];
    for args in usage {
        let out = lodestone(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A deal without a Monte Carlo sheet: bad input, and the old output stays.
    let mut plain = examples::example("gallium-refinery").expect("example");
    plain.monte_carlo = None;
    let bytes = lodestone::excel::template::template_bytes(
        &plain,
        &lodestone::excel::inputs::Notes::default(),
    )
    .expect("bytes");
    let plain_path = dir.write("plain.xlsx", &bytes);
    let existing = dir.write("previous.xlsx", b"previous results");
    let out = lodestone(&[
        "montecarlo",
        &plain_path.display().to_string(),
        "-o",
        &existing.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no Monte Carlo sheet"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&existing).expect("old"), b"previous results");
    // Not a workbook: exit 1 for every command.
    let bad = dir
        .write("bad.xlsx", b"not a workbook")
        .display()
        .to_string();
    for args in [
        vec!["sensitivity", &bad, "-o", &out_x],
        vec!["breakeven", &bad],
        vec!["montecarlo", &bad, "-o", &out_x],
    ] {
        let out = lodestone(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    // An unwritable output: exit 1, nothing partial.
    let nowhere = dir
        .path()
        .join("missing")
        .join("t.xlsx")
        .display()
        .to_string();
    let out = lodestone(&["sensitivity", &deal, "-o", &nowhere]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&deal).expect("input"), before);
    assert_eq!(
        files(&dir),
        [
            "bad.xlsx",
            "gallium-refinery.xlsx",
            "plain.xlsx",
            "previous.xlsx"
        ]
    );
}
