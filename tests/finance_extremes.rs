//! Nothing in the finance core may panic, whatever it is given: values at Decimal's limits,
//! a thousand flows, rates at −100% and beyond 10⁶, dates ten thousand years apart. Every call
//! here must return `Ok` or `Err`, and every rate it returns must lie in (−1, 10⁶].

mod finance_support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{Days, NaiveDate};
use finance_support::{Rng, date};
use lodestone::finance::{FinanceError, irr, irr_roots, mirr, npv, xirr, xirr_roots, xnpv};
use rust_decimal::Decimal;

fn series() -> Vec<(&'static str, Vec<Decimal>)> {
    let max = Decimal::MAX;
    let tiny = Decimal::new(1, 28);
    let mut rng = Rng::new(99);
    let mut conventional = vec![Decimal::from(-1000)];
    conventional.extend((1..1000).map(|_| Decimal::from(3)));
    vec![
        ("max and -max", vec![max, -max]),
        ("-max, max, max", vec![-max, max, max]),
        ("alternating max", vec![max, -max, max, -max, max, -max]),
        ("tiny against max", vec![-tiny, max]),
        ("max against tiny", vec![-max, tiny]),
        ("tiny both signs", vec![tiny, -tiny, tiny]),
        ("all max", vec![max; 40]),
        ("single", vec![Decimal::ONE]),
        ("thousand conventional", conventional),
        ("two hundred alternating", alternating(200)),
        (
            "a hundred random signs, huge",
            (0..100)
                .map(|_| {
                    Decimal::new(rng.range(-1_000_000_000_000_000, 1_000_000_000_000_000), 0)
                        * Decimal::from(10_000_000_000i64)
                })
                .collect(),
        ),
    ]
}

/// 1, −1, 1, …: n − 1 sign changes, and the NPV is zero only at r = 0 (n even).
fn alternating(n: usize) -> Vec<Decimal> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                Decimal::ONE
            } else {
                Decimal::NEGATIVE_ONE
            }
        })
        .collect()
}

fn rates() -> Vec<Decimal> {
    vec![
        Decimal::from_i128_with_scale(-9_999_999_999_999_999_999_999_999_999, 28),
        Decimal::new(-5, 1),
        Decimal::ZERO,
        Decimal::new(1, 28),
        Decimal::from(1_000_000),
        Decimal::from(100_000_000_000_000_000_000i128),
        Decimal::MAX,
        Decimal::NEGATIVE_ONE,
        Decimal::from(-7),
    ]
}

fn schedules(n: usize) -> Vec<(&'static str, Vec<NaiveDate>)> {
    let start = date("2020-02-29");
    let mut far = vec![NaiveDate::MIN, NaiveDate::MAX];
    far.extend((2..n).map(|i| date("1000-01-01") + Days::new(i as u64 * 997)));
    far.truncate(n);
    vec![
        (
            "daily",
            (0..n as u64).map(|i| start + Days::new(i)).collect(),
        ),
        (
            "reversed yearly",
            (0..n as u64)
                .rev()
                .map(|i| start + Days::new(365 * i))
                .collect(),
        ),
        ("all one day", vec![start; n]),
        ("calendar extremes", far),
    ]
}

#[test]
fn no_input_makes_the_finance_core_panic() {
    let mut panics: Vec<String> = Vec::new();
    let mut bad_rates: Vec<String> = Vec::new();
    let mut calls = 0;
    let mut check =
        |name: String, f: &mut dyn FnMut() -> Result<Vec<Decimal>, FinanceError>, is_rate: bool| {
            calls += 1;
            match catch_unwind(AssertUnwindSafe(f)) {
                Err(_) => panics.push(name),
                Ok(Ok(values)) if is_rate => {
                    for r in values {
                        if r <= Decimal::NEGATIVE_ONE || r > Decimal::from(1_000_000) {
                            bad_rates.push(format!("{name}: {r}"));
                        }
                    }
                }
                Ok(_) => {}
            }
        };
    let guesses = [
        None,
        Some(Decimal::NEGATIVE_ONE),
        Some(Decimal::from(-5)),
        Some(Decimal::from_i128_with_scale(
            -9_999_999_999_999_999_999_999_999_999,
            28,
        )),
        Some(Decimal::from(1_000_000)),
        Some(Decimal::MAX),
    ];
    for (label, values) in series() {
        for rate in rates() {
            check(
                format!("npv {label} at {rate}"),
                &mut || npv(rate, &values).map(|v| vec![v]),
                false,
            );
            for other in [Decimal::ZERO, rate] {
                check(
                    format!("mirr {label} at {rate}, {other}"),
                    &mut || mirr(&values, rate, other).map(|v| vec![v]),
                    false,
                );
            }
        }
        for guess in guesses {
            check(
                format!("irr {label} guess {guess:?}"),
                &mut || irr(&values, guess).map(|v| vec![v]),
                true,
            );
        }
        check(
            format!("irr_roots {label}"),
            &mut || irr_roots(&values),
            true,
        );
        for (when, dates) in schedules(values.len()) {
            for rate in rates() {
                check(
                    format!("xnpv {label} {when} at {rate}"),
                    &mut || xnpv(rate, &values, &dates).map(|v| vec![v]),
                    false,
                );
            }
            check(
                format!("xirr {label} {when}"),
                &mut || xirr(&values, &dates, None).map(|v| vec![v]),
                true,
            );
            check(
                format!("xirr_roots {label} {when}"),
                &mut || xirr_roots(&values, &dates),
                true,
            );
        }
    }
    println!("{calls} calls, no panic expected");
    assert!(
        panics.is_empty(),
        "{} calls panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(
        bad_rates.is_empty(),
        "rates outside (-1, 1e6]:\n{}",
        bad_rates.join("\n")
    );
}

#[test]
fn a_thousand_flows_with_999_sign_changes_still_get_their_one_root() {
    let values = alternating(1000);
    assert_eq!(irr_roots(&values), Ok(vec![Decimal::ZERO]));
}
