//! Hand-worked deals for the conventions the README's "How Lodestone computes" states: each
//! isolates one rule (MIRR's rate, combined overrides, delays of every phase, several
//! facilities of one product, a mine shared by several plants) on a deal small enough to
//! work on paper.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::model::sample::*;
use crate::model::*;

/// The values of a row found by its label.
fn row(r: &Results, label: &str) -> Vec<Decimal> {
    let id = r
        .calc
        .rows
        .iter()
        .position(|d| d.label == label)
        .unwrap_or_else(|| panic!("no row '{label}'"));
    r.values.row(id).to_vec()
}

fn party_value(
    r: &Results,
    party: &str,
    pick: fn(&results::PartyResult) -> Option<String>,
) -> Decimal {
    r.party(party)
        .and_then(pick)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value for '{party}'"))
}

fn close(a: Decimal, b: Decimal, tol: Decimal) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn mirr_takes_the_schedules_own_first_rate_under_mid_year_discounting() {
    // Sponsor: −150,000 in 2030, then 80,000 a year for four years, then 0. Its schedule
    // is 6% in 2030 and 4% from 2031; the deal discounts mid-year. MIRR takes 6% for both
    // finance and reinvestment: FV of the inflows at 6% to 2035 is
    // 80,000 × (1.06⁴ + 1.06³ + 1.06² + 1.06) = 370,967.4368; the outflow is 150,000 at
    // the start; (370,967.4368 / 150,000)^(1/5) − 1 = 19.8529991344%.
    // (The mid-year factor's root, √1.06 − 1 = 2.96%, would give 18.08%.)
    let mut deal = one_mine_all_equity();
    deal.discounting = Sourced::bare(Discounting::MidYear);
    deal.parties[0].rate_schedule = vec![
        (2030, Sourced::bare(dec!(0.06))),
        (2031, Sourced::bare(dec!(0.04))),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    let mirr = party_value(&r, "Sponsor", |p| p.mirr.clone());
    assert!(
        close(mirr, dec!(0.198529991344166), dec!(0.000000000001)),
        "MIRR {mirr}"
    );
    // A flat 6% under mid-year gives the same MIRR: the rate, not the factor.
    deal.parties[0].rate_schedule.clear();
    deal.parties[0].discount_rate = Sourced::bare(dec!(0.06));
    let flat = run(&deal, &Scenario::base()).expect("runs");
    let flat_mirr = party_value(&flat, "Sponsor", |p| p.mirr.clone());
    assert!(
        close(flat_mirr, mirr, dec!(0.000000000001)),
        "{flat_mirr} vs {mirr}"
    );
}

#[test]
fn a_discount_rate_change_naming_the_project_company_moves_the_projects_rate() {
    // The project's 10% plus 2 points: its unlevered NPV is Excel's NPV at 12%, and no
    // other party's rate moves.
    let deal = one_mine_all_equity();
    let mut change = override_of(OverrideKind::DiscountRateChange, "0.02");
    change.party = Some(Sourced::bare("Project".into()));
    let base = run(&deal, &Scenario::base()).expect("base");
    let r = run(&deal, &scenario("Dearer", vec![change])).expect("runs");
    let flows: Vec<Decimal> = r
        .project
        .unlevered_post_tax_cash_flows
        .iter()
        .map(|v| v.parse().unwrap_or_default())
        .collect();
    let want = crate::finance::npv(dec!(0.12), &flows).expect("npv");
    let got: Decimal = r.project.npv_post_tax.parse().expect("npv");
    assert!(close(got, want, dec!(0.000001)), "{got} vs {want}");
    assert_eq!(r.project.discount_rate, "0.12");
    assert_eq!(
        r.party("Sponsor").map(|p| p.npv.clone()),
        base.party("Sponsor").map(|p| p.npv.clone()),
        "the sponsor's rate is untouched"
    );
}

#[test]
fn two_crashes_and_two_multipliers_on_one_product_multiply() {
    // A 50% crash in 2031 (one year down, one at the bottom, back over one year) and a 20%
    // crash in 2032 (one year down, then flat at 0.8), with price multipliers 0.9 and 1.5:
    // by year the product of the two crash shapes times 0.9 × 1.5 = 1.35.
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(6);
    let mut first = override_of(OverrideKind::PriceCrash, "0.5");
    first.start_year = Some(Sourced::bare(2031));
    first.bottom_years = Sourced::bare(1);
    first.recovery_years = Sourced::bare(1);
    let mut second = override_of(OverrideKind::PriceCrash, "0.2");
    second.start_year = Some(Sourced::bare(2032));
    second.haircut = Sourced::bare(dec!(0.2));
    let mut overrides = vec![first, second];
    for m in ["0.9", "1.5"] {
        let mut o = override_of(OverrideKind::PriceMultiplier, m);
        o.product = Some(Sourced::bare("Ore".into()));
        overrides.push(o);
    }
    let s = scenario("Two crashes", overrides);
    assert!(
        validate(&Deal {
            scenarios: vec![s.clone()],
            ..deal.clone()
        })
        .is_empty()
    );
    let r = run(&deal, &s).expect("runs");
    // 2030: 1 × 1; 2031: 0.5 × 1; 2032: 0.5 × 0.8; 2033: 1 × 0.8; then 0.8.
    let crash = [
        dec!(1),
        dec!(0.5),
        dec!(0.4),
        dec!(0.8),
        dec!(0.8),
        dec!(0.8),
    ];
    let want: Vec<Decimal> = crash.iter().map(|c| c * dec!(1.35) * dec!(100)).collect();
    assert_eq!(row(&r, "Ore: market price (USD per t)"), want);
}

fn delay(phase: Phase, years: &str) -> Override {
    let mut o = override_of(OverrideKind::Delay, years);
    o.phase = Some(Sourced::bare(phase));
    o
}

#[test]
fn a_ramp_up_delay_moves_each_step_later_holding_the_first() {
    // Ramp 50%, 80%, then nameplate 1,000 t for four years. A year's ramp-up delay: 50%
    // twice, then 80%, then four years at 1,000 t, all a year later.
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(9);
    deal.facilities[0].ramp = vec![Sourced::bare(dec!(0.5)), Sourced::bare(dec!(0.8))];
    let s = scenario("Slow start", vec![delay(Phase::RampUp, "1")]);
    assert!(
        validate(&Deal {
            scenarios: vec![s.clone()],
            ..deal.clone()
        })
        .is_empty()
    );
    let base = run(&deal, &Scenario::base()).expect("base");
    let late = run(&deal, &s).expect("delay");
    let k = |v: &str| v.parse::<Decimal>().expect("number");
    let want = |v: [&str; 9]| v.map(k).to_vec();
    assert_eq!(
        row(&base, "Mine: production"),
        want(["0", "500", "800", "1000", "1000", "1000", "1000", "0", "0"])
    );
    assert_eq!(
        row(&late, "Mine: production"),
        want([
            "0", "500", "500", "800", "1000", "1000", "1000", "1000", "0"
        ])
    );
    assert!(late.all_checks_pass(), "{:?}", late.checks);
}

#[test]
fn an_operations_delay_lengthens_the_life_and_a_closure_delay_spreads_closure_costs() {
    // Four years at 1,000 t from 2031, then a year of closure costing 10,000 in total.
    // Operations +2 and closure +1: six years of output (2031–36), then 5,000 a year of
    // closure in 2037 and 2038.
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(9);
    deal.facilities[0].closure_years = Sourced::bare(1);
    deal.costs.push(cost(
        "Mine",
        "Rehab",
        CostCategory::Rehabilitation,
        CostBasis::TotalOverPhase,
        Some(Phase::Closure),
        "10000",
    ));
    let s = scenario(
        "Longer life",
        vec![delay(Phase::Operations, "2"), delay(Phase::Closure, "1")],
    );
    assert!(
        validate(&Deal {
            scenarios: vec![s.clone()],
            ..deal.clone()
        })
        .is_empty()
    );
    let r = run(&deal, &s).expect("runs");
    let k = |v: &str| v.parse::<Decimal>().expect("number");
    let want = |v: [&str; 9]| v.map(k).to_vec();
    assert_eq!(
        row(&r, "Mine: production"),
        want([
            "0", "1000", "1000", "1000", "1000", "1000", "1000", "0", "0"
        ])
    );
    assert_eq!(
        row(&r, "Mine: Rehab (rehabilitation)"),
        want(["0", "0", "0", "0", "0", "0", "0", "5000", "5000"])
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}
