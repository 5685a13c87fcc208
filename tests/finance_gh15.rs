//! numpy-financial gh-15: an IRR near −100% whose inflows `Decimal` cannot hold.
//!
//! The published series has 30 inflows shrinking from 2.4e-7 to 1.3e-313, and its reference
//! root (−0.99999999905960688…) depends on all of them: near −100% the discount factor
//! 1/(1+r) ≈ 1e9 multiplies the i-th inflow by 1e9^i. `Decimal`'s resolution is 1e-28, so 27 of
//! those inflows round to zero and two more lose digits; no decimal implementation can see the
//! published series, and pretending otherwise would mean faking the answer.
//!
//! What we assert instead: (1) the series rounded to `Decimal` (half away from zero at 28
//! places) has the root that mpmath finds for that same rounded series, computed independently
//! by `tests/fixtures/gh15_decimal_root.py` (output in `gh15-decimal-root.json`); (2) that root is
//! unchanged when the flows are scaled up (scaling down would lose more digits); (3) it differs
//! from the published root, and the test says so out loud.

mod finance_support;

use finance_support::{parse_decimal, rate_tolerance};
use lodestone::finance::{irr, irr_roots};
use rust_decimal::Decimal;
use serde_json::Value;

const VECTORS: &str = include_str!("fixtures/finance-public.json");
const DECIMAL_ROOT: &str = include_str!("fixtures/gh15-decimal-root.json");

fn published_case() -> Value {
    let doc: Value = serde_json::from_str(VECTORS).expect("JSON");
    doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["id"] == "npf_irr_gh15_near_minus1")
        .cloned()
        .expect("the gh15 case")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect()
}

/// The series as Decimal holds it, checked against the script's own rounding.
fn rounded_series() -> Vec<Decimal> {
    let case = published_case();
    let parsed: Vec<(Decimal, bool)> = strings(&case["values"])
        .iter()
        .map(|t| parse_decimal(t))
        .collect();
    let lost = parsed.iter().filter(|(_, exact)| !exact).count();
    println!(
        "npf_irr_gh15_near_minus1: {lost} of {} inputs are not representable in Decimal \
         (resolution 1e-28) and are rounded",
        parsed.len()
    );
    let ours: Vec<Decimal> = parsed.into_iter().map(|(d, _)| d).collect();
    let script: Value = serde_json::from_str(DECIMAL_ROOT).expect("JSON");
    let theirs: Vec<Decimal> = strings(&script["rounded_values"])
        .iter()
        .map(|t| parse_decimal(t).0)
        .collect();
    assert_eq!(ours, theirs, "the Rust and Python roundings must agree");
    ours
}

fn decimal_root() -> Decimal {
    let script: Value = serde_json::from_str(DECIMAL_ROOT).expect("JSON");
    let roots = strings(&script["roots"]);
    assert_eq!(
        roots.len(),
        1,
        "mpmath finds one root of the rounded series"
    );
    parse_decimal(&roots[0]).0
}

#[test]
fn gh15_rounded_series_has_the_root_mpmath_finds_for_it() {
    let values = rounded_series();
    let want = decimal_root();
    let got = irr(&values, None).expect("a root");
    assert!(
        (got - want).abs() <= rate_tolerance(want),
        "irr of the Decimal-rounded gh15 series: expected {want}, got {got}"
    );
    assert_eq!(irr_roots(&values).expect("roots").len(), 1);
    let published = parse_decimal(published_case()["expected"].as_str().expect("text")).0;
    println!(
        "npf_irr_gh15_near_minus1: root of the published (unrepresentable) series {published}; \
         root of the series Decimal holds {got}"
    );
    assert!(
        (got - published).abs() > Decimal::new(1, 10),
        "the published root should NOT be reachable from the rounded inputs; if it is, this \
         test's premise is wrong"
    );
}

#[test]
fn gh15_root_is_unchanged_when_the_flows_are_scaled_up() {
    let values = rounded_series();
    let base = irr(&values, None).expect("a root");
    for factor in [10i64, 1_000, 1_000_000, 1_000_000_000_000] {
        let scaled: Vec<Decimal> = values
            .iter()
            .map(|v| v.checked_mul(Decimal::from(factor)).expect("exact"))
            .collect();
        let got = irr(&scaled, None).expect("a root");
        assert!(
            (got - base).abs() <= rate_tolerance(base),
            "scaled by {factor}: expected {base}, got {got}"
        );
    }
}
