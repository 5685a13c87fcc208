//! Properties the finance functions must have on any input, checked on seeded random series
//! (SplitMix64 in `finance_support`, so a failure names its seed and case and reproduces).

mod finance_support;

use chrono::{Days, Months, NaiveDate};
use finance_support::{Rng, abs_sum, date};
use lodestone::finance::{irr, irr_roots, npv, xirr, xirr_roots};
use rust_decimal::{Decimal, MathematicalOps};

/// A conventional project: one to three outlays, then 3–40 inflows (one in seven of them zero),
/// amounts in cents.
fn project(rng: &mut Rng) -> Vec<Decimal> {
    let outlays = rng.range(1, 3) as usize;
    let years = rng.range(3, 40) as usize;
    let mut v: Vec<Decimal> = (0..outlays)
        .map(|_| Decimal::new(-rng.range(100_000, 5_000_000_000), 2))
        .collect();
    for _ in 0..years {
        let x = rng.range(-200_000_000, 1_200_000_000);
        v.push(Decimal::new(x.max(0), 2));
    }
    v
}

/// Any signs at all: the hard case for root finding.
fn wild(rng: &mut Rng) -> Vec<Decimal> {
    let n = rng.range(2, 30) as usize;
    (0..n).map(|_| rng.amount(500_000)).collect()
}

/// Σ |vᵢ|/(1+r)^i for i = 1..n: the scale of Excel's NPV at r.
fn discounted_scale(rate: Decimal, values: &[Decimal]) -> Decimal {
    let abs: Vec<Decimal> = values.iter().map(|v| v.abs()).collect();
    npv(rate, &abs).expect("npv of |v|")
}

#[test]
fn npv_at_the_irr_is_zero_relative_to_the_discounted_flows() {
    let mut rng = Rng::new(0x1234_5678);
    let mut checked = 0;
    for case in 0..300 {
        let values = if case % 2 == 0 {
            project(&mut rng)
        } else {
            wild(&mut rng)
        };
        let Ok(roots) = irr_roots(&values) else {
            continue;
        };
        for r in roots {
            let residual = npv(r, &values).expect("npv at a root");
            let scale = discounted_scale(r, &values);
            assert!(
                residual.abs() <= scale * Decimal::new(1, 18),
                "case {case}: NPV at root {r} is {residual}, scale {scale}; values {values:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} roots checked");
}

#[test]
fn irr_is_unchanged_when_every_flow_is_scaled() {
    let mut rng = Rng::new(42);
    let factors = [
        Decimal::new(1, 3),
        Decimal::new(1_000_000, 0),
        Decimal::new(1, 0),
    ];
    for case in 0..100 {
        let values = project(&mut rng);
        let Ok(base) = irr(&values, None) else {
            continue;
        };
        for factor in factors {
            let scaled: Vec<Decimal> = values.iter().map(|v| v * factor).collect();
            let got = irr(&scaled, None).expect("scaled irr");
            let tolerance = Decimal::new(1, 27) * base.abs().max(Decimal::ONE);
            assert!(
                (got - base).abs() <= tolerance,
                "case {case}: irr {base} became {got} when scaled by {factor}"
            );
        }
    }
}

#[test]
fn deal_sized_flows_work() {
    // A billion-dollar project: NPV near the root is of order 1e9 × 1e-28, far below any
    // absolute threshold a float solver would use, and it must not matter.
    let billion = Decimal::new(1_000_000_000, 0);
    let unit = [-3, -2, 1, 1, 1, 1, 1, 1, 1, 1, 2].map(Decimal::from);
    let deal: Vec<Decimal> = unit.iter().map(|v| v * billion).collect();
    let a = irr(&unit, None).expect("unit irr");
    let b = irr(&deal, None).expect("deal irr");
    assert_eq!(a, b);
    let dates: Vec<NaiveDate> = (0..deal.len() as u64)
        .map(|i| date("2026-01-15") + Days::new(400 * i))
        .collect();
    let x = xirr(&deal, &dates, None).expect("deal xirr");
    assert_eq!(xirr(&unit, &dates, None).expect("unit xirr"), x);
}

#[test]
fn xirr_on_365_day_years_equals_irr() {
    let mut rng = Rng::new(7);
    for case in 0..100 {
        let values = if case % 3 == 2 {
            wild(&mut rng)
        } else {
            project(&mut rng)
        };
        let dates: Vec<NaiveDate> = (0..values.len() as u64)
            .map(|i| date("2019-03-01") + Days::new(365 * i))
            .collect();
        let periodic = irr_roots(&values);
        let dated = xirr_roots(&values, &dates);
        match (&periodic, &dated) {
            (Ok(p), Ok(d)) => {
                assert_eq!(p.len(), d.len(), "case {case}: roots {p:?} vs {d:?}");
                for (a, b) in p.iter().zip(d) {
                    let tolerance = Decimal::new(1, 26) * a.abs().max(Decimal::ONE);
                    assert!(
                        (*a - *b).abs() <= tolerance,
                        "case {case}: irr {a} vs xirr {b}; values {values:?}"
                    );
                }
            }
            (Err(a), Err(b)) => assert_eq!(
                a.to_string().replace("XIRR", "IRR"),
                b.to_string().replace("XIRR", "IRR")
            ),
            _ => panic!("case {case}: {periodic:?} vs {dated:?}"),
        }
    }
}

/// On calendar years (365 or 366 days) the time of flow i is tᵢ ∈ [i, i·366/365], so in
/// s = ln(1+r) the XIRR of a conventional project lies between s/(1 + 1/365) and s: that is the
/// precision the 365-day convention allows.
#[test]
fn xirr_on_calendar_years_agrees_with_irr_to_the_day_count() {
    let mut rng = Rng::new(11);
    for case in 0..100 {
        let values = project(&mut rng);
        let Ok(r) = irr(&values, None) else {
            continue;
        };
        let dates: Vec<NaiveDate> = (0..values.len() as u32)
            .map(|i| {
                date("2024-02-29")
                    .checked_add_months(Months::new(12 * i))
                    .expect("date")
            })
            .collect();
        let x = xirr(&values, &dates, None).expect("xirr");
        let s = (Decimal::ONE + r).ln();
        let sx = (Decimal::ONE + x).ln();
        let slack = Decimal::new(1, 20);
        let (lo, hi) = if s >= Decimal::ZERO {
            (s * Decimal::from(365) / Decimal::from(366), s)
        } else {
            (s, s * Decimal::from(365) / Decimal::from(366))
        };
        assert!(
            sx >= lo - slack && sx <= hi + slack,
            "case {case}: ln(1+xirr) = {sx} outside [{lo}, {hi}] (irr {r}, xirr {x})"
        );
    }
}

#[test]
fn every_listed_root_is_a_sign_change_and_no_sign_change_is_missed() {
    let mut rng = Rng::new(2024);
    let mut roots_seen = 0;
    for case in 0..150 {
        let values = wild(&mut rng);
        let Ok(roots) = irr_roots(&values) else {
            continue;
        };
        for w in roots.windows(2) {
            assert!(w[0] < w[1], "case {case}: roots not ascending: {roots:?}");
        }
        for &r in &roots {
            assert!(r > Decimal::NEGATIVE_ONE && r <= Decimal::from(1_000_000));
            let delta = Decimal::new(1, 15) * r.abs().max(Decimal::new(1, 6));
            let lo = npv((r - delta).max(Decimal::new(-9_999_999, 7)), &values).expect("npv");
            let hi = npv(r + delta, &values).expect("npv");
            assert!(
                lo.is_sign_negative() != hi.is_sign_negative() && !lo.is_zero() && !hi.is_zero(),
                "case {case}: no sign change across root {r}: {lo} / {hi}; values {values:?}"
            );
            roots_seen += 1;
        }
        // A grid of rates from −99% to 1000%: each sign change of the NPV between neighbours
        // must hold an odd number of listed roots. (Near −100% the NPV of 30 flows can exceed
        // Decimal's range; those grid points are skipped.)
        let grid: Vec<Decimal> = (0..400)
            .map(|i| Decimal::new(-99, 2) + Decimal::new(i * i, 4))
            .collect();
        let signs: Vec<Option<bool>> = grid
            .iter()
            .map(|r| npv(*r, &values).ok().map(|v| v.is_sign_negative()))
            .collect();
        for i in 0..grid.len() - 1 {
            let inside = roots
                .iter()
                .filter(|r| **r > grid[i] && **r <= grid[i + 1])
                .count();
            if let (Some(a), Some(b)) = (signs[i], signs[i + 1])
                && a != b
            {
                assert!(
                    inside % 2 == 1,
                    "case {case}: NPV changes sign in ({}, {}] but roots there are {inside}: {roots:?}",
                    grid[i],
                    grid[i + 1]
                );
            }
        }
    }
    assert!(roots_seen > 50, "only {roots_seen} roots seen");
}

#[test]
fn close_pairs_of_roots_are_both_found() {
    // (x − a)(x − b)·(stuff) with a and b close: NPV dips below zero only between them, so a
    // grid scan coarser than b − a sees no sign change at all.
    let cases: [(&str, [i64; 3], [&str; 2]); 3] = [
        ("1% apart", [-10_000, 20_100, -10_100], ["0", "0.01"]),
        (
            "1e-6 apart",
            [-1_000_000, 2_000_001, -1_000_001],
            ["0", "0.000001"],
        ),
        (
            "1e-12 apart",
            [-1_000_000_000_000, 2_000_000_000_001, -1_000_000_000_001],
            ["0", "0.000000000001"],
        ),
    ];
    for (name, coefficients, want) in cases {
        let values = coefficients.map(Decimal::from);
        let got = irr_roots(&values).expect("roots");
        let want: Vec<Decimal> = want.iter().map(|w| w.parse().expect("decimal")).collect();
        assert_eq!(got.len(), 2, "{name}: {got:?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (*g - *w).abs() <= Decimal::new(1, 26),
                "{name}: {got:?} vs {want:?}"
            );
        }
    }
    let _ = abs_sum(&[]);
}

#[test]
fn roots_where_the_npv_only_touches_zero_are_found() {
    let d = Decimal::from;
    // −100 + 220x − 121x² = −(11x − 10)²: the NPV touches zero at exactly 10% and is negative
    // elsewhere, so there is no sign change to find; the tangency is found at the critical
    // point of the Rolle recursion, where the computed NPV is within rounding of zero.
    let cases: [(&str, Vec<Decimal>, &str); 3] = [
        ("double root at 10%", vec![d(-100), d(220), d(-121)], "0.1"),
        ("double root at 0", vec![d(1), d(-2), d(1)], "0"),
        ("triple root at 0", vec![d(-1), d(3), d(-3), d(1)], "0"),
    ];
    for (name, values, want) in cases {
        let want: Decimal = want.parse().expect("decimal");
        assert_eq!(irr_roots(&values).expect("roots"), vec![want], "{name}");
        assert_eq!(irr(&values, None).expect("irr"), want, "{name}");
    }
    // Two roots closer than about 1e-16 cannot be told apart in 38-digit arithmetic (the NPV
    // between them is below 1e-34 of the flows); they are reported once, at their midpoint.
    let eps = Decimal::new(1, 20);
    let values = [Decimal::NEGATIVE_ONE, d(2) + eps, -(Decimal::ONE + eps)];
    let roots = irr_roots(&values).expect("roots");
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert!(roots[0].abs() <= Decimal::new(1, 19), "{roots:?}");
}

/// The fast path (Newton from the guess plus a proof that no root is closer) must agree with
/// the full isolation on which root is closest to the guess.
#[test]
fn irr_returns_the_listed_root_closest_to_the_guess() {
    let mut rng = Rng::new(31337);
    let mut compared = 0;
    for case in 0..400 {
        let values = wild(&mut rng);
        let Ok(roots) = irr_roots(&values) else {
            continue;
        };
        if roots.is_empty() {
            continue;
        }
        let guess = Decimal::new(rng.range(-95, 150), 2);
        let distance = |r: &Decimal| (*r - guess).abs();
        let best = roots.iter().min_by_key(|r| distance(r)).copied();
        let tie = roots
            .iter()
            .filter(|r| distance(r) == distance(&best.unwrap_or_default()))
            .count()
            > 1;
        if tie {
            continue;
        }
        let got = irr(&values, Some(guess)).ok();
        assert_eq!(
            got, best,
            "case {case}: guess {guess}, roots {roots:?}, values {values:?}"
        );
        let dates: Vec<NaiveDate> = (0..values.len() as u64)
            .map(|i| date("2001-01-01") + Days::new(365 * i))
            .collect();
        let x = xirr(&values, &dates, Some(guess)).ok();
        let xroots = xirr_roots(&values, &dates).unwrap_or_default();
        let xbest = xroots.iter().min_by_key(|r| (**r - guess).abs()).copied();
        assert_eq!(
            x, xbest,
            "case {case} (dated): guess {guess}, roots {xroots:?}"
        );
        compared += 1;
    }
    assert!(compared > 100, "only {compared} cases compared");
}

#[test]
fn the_closest_root_wins_when_the_proof_interval_straddles_zero() {
    // −200 + 446x − 245x² = −(49x − 50)(5x − 4), x = 1/(1+r): roots at −2% and 25%.
    let values = [-200, 446, -245].map(Decimal::from);
    let roots = irr_roots(&values).expect("roots");
    assert_eq!(roots, vec![Decimal::new(-2, 2), Decimal::new(25, 2)]);
    for hundredths in 0..=200 {
        let guess = Decimal::new(hundredths, 3);
        let want = if (guess - roots[0]).abs() <= (guess - roots[1]).abs() {
            roots[0]
        } else {
            roots[1]
        };
        assert_eq!(irr(&values, Some(guess)), Ok(want), "guess {guess}");
    }
}
