//! Hand-checkable tests of the engine's rules on small deals.

use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;
use rust_decimal_macros::dec;

use super::*;
use crate::model::sample::*;
use crate::model::*;

fn flows(r: &Results, party: &str) -> Vec<Decimal> {
    r.party(party)
        .map(|p| {
            p.cash_flows
                .iter()
                .map(|v| v.parse().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

fn num(s: &Option<String>) -> Decimal {
    s.as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

#[test]
fn one_mine_no_debt_can_be_checked_on_paper() {
    let deal = one_mine_all_equity();
    let r = run(&deal, &Scenario::base()).expect("runs");
    // 2030 build 150,000 from equity; 2031–34 sell 1,000 t × 100 less 20/t; 2035 nothing.
    assert_eq!(
        flows(&r, "Sponsor"),
        vec![
            dec!(-150000),
            dec!(80000),
            dec!(80000),
            dec!(80000),
            dec!(80000),
            dec!(0)
        ]
    );
    // NPV at 10%, first flow discounted one period (Excel NPV).
    let x = Decimal::ONE / dec!(1.1);
    let mut want = Decimal::ZERO;
    let mut df = Decimal::ONE;
    for v in [
        dec!(-150000),
        dec!(80000),
        dec!(80000),
        dec!(80000),
        dec!(80000),
        dec!(0),
    ] {
        df *= x;
        want += v * df;
    }
    let npv: Decimal = r
        .party("Sponsor")
        .map(|p| p.npv.parse().unwrap_or_default())
        .unwrap_or_default();
    assert!((npv - want).abs() < dec!(0.000001), "npv {npv} want {want}");
    // IRR: −150,000 + 80,000 × annuity(4, r) = 0 → r ≈ 39.6%.
    let irr = num(&r.party("Sponsor").and_then(|p| p.irr.clone()));
    let check: Decimal = [dec!(80000); 4]
        .iter()
        .enumerate()
        .map(|(k, v)| v / (Decimal::ONE + irr).powi(k as i64 + 1))
        .sum();
    assert!(
        (check - dec!(150000)).abs() < dec!(0.0001),
        "irr {irr} gives {check}"
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    // The project's ledger: sales from the market, costs to suppliers.
    assert_eq!(
        flows(&r, "Market"),
        vec![
            dec!(0),
            dec!(-100000),
            dec!(-100000),
            dec!(-100000),
            dec!(-100000),
            dec!(0)
        ]
    );
    assert_eq!(
        flows(&r, "Suppliers"),
        vec![
            dec!(150000),
            dec!(20000),
            dec!(20000),
            dec!(20000),
            dec!(20000),
            dec!(0)
        ]
    );
}
