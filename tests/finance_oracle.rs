//! `irr_roots` against an independent oracle: all IRRs of 120 seeded random series (2–40 flows,
//! random signs, up to 3 roots each), found by mpmath's `polyroots` at 60 digits
//! (`tests/fixtures/random_irr_roots.py`, output committed beside it). Same count, same roots.

mod finance_support;

use finance_support::{parse_decimal, rate_tolerance, roots_match};
use lodestone::finance::{irr, irr_roots};
use rust_decimal::Decimal;
use serde_json::Value;

const ORACLE: &str = include_str!("fixtures/random-irr-roots.json");

fn decimals(v: &Value) -> Vec<Decimal> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| parse_decimal(x.as_str().expect("text")).0)
        .collect()
}

#[test]
fn irr_roots_match_mpmath_polyroots_on_random_series() {
    let doc: Value = serde_json::from_str(ORACLE).expect("JSON");
    let mut failures = Vec::new();
    let mut roots_checked = 0;
    for case in doc["cases"].as_array().expect("cases") {
        let id = case["id"].as_str().unwrap_or("?");
        let values = decimals(&case["values"]);
        let want = decimals(&case["roots"]);
        let got = irr_roots(&values);
        let same = match &got {
            Ok(roots) => roots_match(roots, &want),
            Err(_) => want.is_empty(),
        };
        if !same {
            failures.push(format!(
                "{id}: values {values:?}\n    expected {want:?}\n    got      {got:?}"
            ));
        }
        // And irr's default guess picks the one closest to 10%.
        if let Some(closest) = want.iter().min_by_key(|r| (**r - Decimal::new(1, 1)).abs()) {
            match irr(&values, None) {
                Ok(r) if (r - *closest).abs() <= rate_tolerance(*closest) => {}
                other => failures.push(format!("{id}: irr expected {closest}, got {other:?}")),
            }
        }
        roots_checked += want.len();
    }
    println!("{roots_checked} roots checked against mpmath");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
