//! Cash flows in the one shape every rate solver here works on: an exponential sum.
//!
//! A flow `c` at time `k/unit` (k periods for IRR, k days for XIRR with `unit` = 365) is worth
//! `c·(1+r)^(−k/unit) = c·z^k` with `z = (1+r)^(−1/unit)`, so the NPV is `Σ cᵢ z^kᵢ`. Putting IRR
//! and XIRR in this shape lets one root finder serve both. This module owns building that shape
//! from user input (zero flows dropped, same-day flows netted, dates sorted) and evaluating it
//! exactly; it decides nothing about which root to return.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::wide::Wide;

/// Flows with strictly increasing offsets `k`, `k[0] = 0`, and no zero coefficient.
#[derive(Clone, Debug)]
pub(crate) struct Flows {
    /// Offsets per year: 1 for periodic flows, 365 for dated ones.
    pub(crate) unit: i64,
    pub(crate) k: Vec<i64>,
    pub(crate) c: Vec<Wide>,
    pub(crate) gaps: Gaps,
}

/// What the input looks like before any solving; the public functions turn the bad shapes into
/// errors that say why there is no rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Empty,
    /// Every flow is zero.
    AllZero {
        count: usize,
    },
    /// Flows exist but net to zero on every date.
    NetZero {
        count: usize,
    },
    /// All non-zero (net) flows have one sign.
    OneSign {
        count: usize,
        positive: bool,
    },
    /// The signs change this many times (Descartes' bound on the number of roots).
    Mixed {
        sign_changes: usize,
    },
}

impl Flows {
    /// Flows one period apart, the first at time 0 (Excel's IRR).
    pub(crate) fn periodic(values: &[Decimal]) -> (Flows, Shape) {
        // Coefficients are the flows times 10^scale (integers): a common factor moves no root.
        let scale = common_scale(values);
        let mut k = Vec::with_capacity(values.len());
        let mut c = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            if !v.is_zero() {
                k.push(i as i64);
                c.push(Wide::from_decimal_scaled(*v, scale));
            }
        }
        Flows::finish(1, k, c, values.len(), false)
    }

    /// Flows on dates, in any order (Excel's XIRR); flows on the same date are netted, because
    /// only their sum can matter to the NPV, and Descartes' rule needs distinct times.
    /// Lengths must already match.
    pub(crate) fn dated(values: &[Decimal], dates: &[NaiveDate]) -> (Flows, Shape) {
        let scale = common_scale(values);
        let mut pairs: Vec<(i64, Decimal)> = dates
            .iter()
            .map(|d| i64::from(d.num_days_from_ce()))
            .zip(values.iter().copied())
            .collect();
        pairs.sort_by_key(|&(day, _)| day);
        let mut k = Vec::with_capacity(pairs.len());
        let mut c = Vec::with_capacity(pairs.len());
        let mut netted = false;
        let mut i = 0;
        while i < pairs.len() {
            let day = pairs[i].0;
            let mut exact = Some(pairs[i].1);
            let mut wide = Wide::from_decimal_scaled(pairs[i].1, scale);
            i += 1;
            while i < pairs.len() && pairs[i].0 == day {
                netted |= !pairs[i].1.is_zero();
                exact = exact.and_then(|sum| sum.checked_add(pairs[i].1));
                wide = wide.add(Wide::from_decimal_scaled(pairs[i].1, scale));
                i += 1;
            }
            // The Decimal sum is exact; Wide is the fallback only if it overflows Decimal.
            let total = exact.map_or(wide, |d| Wide::from_decimal_scaled(d, scale));
            if !total.is_zero() {
                k.push(day);
                c.push(total);
            }
        }
        Flows::finish(365, k, c, values.len(), netted)
    }

    fn finish(
        unit: i64,
        mut k: Vec<i64>,
        c: Vec<Wide>,
        count: usize,
        netted: bool,
    ) -> (Flows, Shape) {
        if let Some(&first) = k.first() {
            for x in &mut k {
                *x -= first;
            }
        }
        let gaps = Gaps::new(&k);
        let flows = Flows { unit, k, c, gaps };
        let shape = if count == 0 {
            Shape::Empty
        } else if flows.c.is_empty() {
            if netted {
                Shape::NetZero { count }
            } else {
                Shape::AllZero { count }
            }
        } else {
            match sign_changes(&flows.c) {
                0 => Shape::OneSign {
                    count: flows.c.len(),
                    positive: !flows.c[0].is_negative(),
                },
                n => Shape::Mixed { sign_changes: n },
            }
        };
        (flows, shape)
    }

    pub(crate) fn len(&self) -> usize {
        self.c.len()
    }

    /// The last offset (the first is 0).
    pub(crate) fn span(&self) -> i64 {
        self.k.last().copied().unwrap_or(0)
    }
}

/// The largest decimal scale among `values`: converting each at this scale makes every
/// coefficient an integer times one common power of ten.
pub(crate) fn common_scale(values: &[Decimal]) -> u32 {
    values.iter().map(Decimal::scale).max().unwrap_or(0)
}

pub(crate) fn sign_changes(c: &[Wide]) -> usize {
    c.windows(2)
        .filter(|w| w[0].is_negative() != w[1].is_negative())
        .count()
}

/// The sums one evaluation of `Σ cᵢ z^(kᵢ−k₀)` produces (those not asked for stay zero).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sums {
    /// Σ cᵢ z^(kᵢ−k₀)
    pub(crate) value: Wide,
    /// Σ (kᵢ−k₀) cᵢ z^(kᵢ−k₀): −unit times the derivative in s = ln(1+r).
    pub(crate) slope: Wide,
    /// Σ |cᵢ| z^(kᵢ−k₀): the scale against which rounding error is measured.
    pub(crate) abs: Wide,
}

/// Which sums besides the value an evaluation must produce; each costs about as much as the
/// value itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Want {
    pub(crate) slope: bool,
    pub(crate) abs: bool,
}

impl Want {
    pub(crate) const VALUE: Want = Want {
        slope: false,
        abs: false,
    };
    pub(crate) const WITH_ABS: Want = Want {
        abs: true,
        ..Want::VALUE
    };
    pub(crate) const WITH_SLOPE: Want = Want {
        slope: true,
        ..Want::VALUE
    };
    pub(crate) const ALL: Want = Want {
        slope: true,
        abs: true,
    };
}

/// The gaps between consecutive offsets, planned once per series: the distinct gaps in
/// ascending order, and for each position which of them it is. An evaluation forms z^g for each
/// distinct gap from the previous one times z^(difference); for a yearly schedule the
/// differences are a few days, so a power costs one or two multiplications instead of nine.
#[derive(Clone, Debug)]
pub(crate) struct Gaps {
    distinct: Vec<u64>,
    /// `index[i]`: the distinct gap between offsets i and i+1.
    index: Vec<usize>,
}

impl Gaps {
    pub(crate) fn new(k: &[i64]) -> Gaps {
        let raw: Vec<u64> = k.windows(2).map(|w| (w[1] - w[0]).unsigned_abs()).collect();
        if raw.iter().all(|g| Some(g) == raw.first()) {
            return Gaps {
                distinct: raw.first().copied().into_iter().collect(),
                index: vec![0; raw.len()],
            };
        }
        let mut distinct = raw.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let index = raw
            .iter()
            .map(|g| distinct.binary_search(g).unwrap_or(0))
            .collect();
        Gaps { distinct, index }
    }

    /// z^g for each distinct gap g, in the order of `distinct`.
    fn powers(&self, z: Wide) -> Vec<Wide> {
        let mut squares = vec![z];
        let mut out = Vec::with_capacity(self.distinct.len());
        let mut previous = (0u64, Wide::ONE);
        for &g in &self.distinct {
            let mut step = g - previous.0;
            let mut p = previous.1;
            let mut bit = 0;
            while step > 0 {
                if bit == squares.len() {
                    let top = squares[bit - 1];
                    squares.push(top.mul(top));
                }
                if step & 1 == 1 {
                    p = p.mul(squares[bit]);
                }
                step >>= 1;
                bit += 1;
            }
            out.push(p);
            previous = (g, p);
        }
        out
    }
}

/// Evaluates the exponential sum with offsets `k` (ascending, gaps planned in `gaps`) and
/// coefficients `c` at `z`, by Horner's rule over the gaps:
/// `A = c₀ + z^(k₁−k₀)·(c₁ + z^(k₂−k₁)·(…))`, carrying the first moment alongside.
/// Each step multiplies by a power of `z` and adds, so the rounding error stays a small multiple
/// of 2⁻¹²⁸ times `abs`, whatever the size of the powers (Wide cannot overflow).
pub(crate) fn evaluate(k: &[i64], c: &[Wide], gaps: &Gaps, z: Wide, want: Want) -> Sums {
    let n = c.len();
    let mut sums = Sums {
        value: Wide::ZERO,
        slope: Wide::ZERO,
        abs: Wide::ZERO,
    };
    if n == 0 || k.len() != n || gaps.index.len() + 1 != n {
        return sums;
    }
    let powers = gaps.powers(z);
    let mut value = c[n - 1];
    let mut slope = Wide::ZERO;
    let mut abs = if want.abs { c[n - 1].abs() } else { Wide::ZERO };
    for i in (0..n - 1).rev() {
        let which = gaps.index[i];
        let p = powers[which];
        let gap = gaps.distinct[which];
        if want.slope {
            // The first moment about offset i from the moments about offset i+1.
            let g_value = if gap == 1 {
                value
            } else {
                Wide::from_u128(u128::from(gap)).mul(value)
            };
            slope = p.mul(slope.add(g_value));
        }
        value = p.mul_add(value, c[i]);
        if want.abs {
            abs = p.mul_add(abs, c[i].abs());
        }
    }
    sums.value = value;
    sums.slope = slope;
    sums.abs = abs;
    sums
}

/// [`evaluate`] at two points at once (value, and Σ|terms| when `abs`): Horner's rule is a chain
/// of dependent steps, so running two chains side by side lets the processor overlap them, and
/// the two checks that verify a root cost little more than one.
pub(crate) fn evaluate_pair(
    k: &[i64],
    c: &[Wide],
    gaps: &Gaps,
    z: [Wide; 2],
    abs: bool,
) -> [Sums; 2] {
    let n = c.len();
    let zero = Sums {
        value: Wide::ZERO,
        slope: Wide::ZERO,
        abs: Wide::ZERO,
    };
    if n == 0 || k.len() != n || gaps.index.len() + 1 != n {
        return [zero; 2];
    }
    let powers = [gaps.powers(z[0]), gaps.powers(z[1])];
    let last_abs = if abs { c[n - 1].abs() } else { Wide::ZERO };
    let mut value = [c[n - 1]; 2];
    let mut total = [last_abs; 2];
    for i in (0..n - 1).rev() {
        let which = gaps.index[i];
        let (p0, p1) = (powers[0][which], powers[1][which]);
        value = [p0.mul_add(value[0], c[i]), p1.mul_add(value[1], c[i])];
        if abs {
            let a = c[i].abs();
            total = [p0.mul_add(total[0], a), p1.mul_add(total[1], a)];
        }
    }
    [
        Sums {
            value: value[0],
            abs: total[0],
            ..zero
        },
        Sums {
            value: value[1],
            abs: total[1],
            ..zero
        },
    ]
}

/// A bound on the rounding error of [`evaluate`] (and of forming `z`) for `n` terms spanning
/// `span` offsets: each term's power carries `z`'s relative error (≈2⁻¹²² from `exp`/`ln`)
/// about `span` times, and each Horner step adds a few roundings of 2⁻¹²⁸. Generous by a
/// factor of about four.
pub(crate) fn rounding_bound(abs: Wide, n: usize, span: i64) -> Wide {
    let weight = span.saturating_add(4 * n as i64).saturating_add(256);
    abs.mul(Wide::from_i64(weight)).mul_pow2(-120)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn shapes_are_classified() {
        let cases: [(&str, Vec<Decimal>, Shape); 6] = [
            ("empty", vec![], Shape::Empty),
            ("zeros", vec![d("0"), d("-0")], Shape::AllZero { count: 2 }),
            (
                "positive",
                vec![d("1"), d("0"), d("2")],
                Shape::OneSign {
                    count: 2,
                    positive: true,
                },
            ),
            (
                "negative",
                vec![d("-1")],
                Shape::OneSign {
                    count: 1,
                    positive: false,
                },
            ),
            (
                "one change",
                vec![d("0"), d("-1"), d("0"), d("2")],
                Shape::Mixed { sign_changes: 1 },
            ),
            (
                "three changes",
                vec![d("-5"), d("10.5"), d("1"), d("-8"), d("1")],
                Shape::Mixed { sign_changes: 3 },
            ),
        ];
        for (name, values, shape) in cases {
            assert_eq!(Flows::periodic(&values).1, shape, "{name}");
        }
        let (flows, _) = Flows::periodic(&[d("0"), d("-1"), d("0"), d("2")]);
        assert_eq!(flows.k, vec![0, 2]);
    }

    #[test]
    fn same_day_flows_are_netted_and_dates_sorted() {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (flows, shape) = Flows::dated(
            &[d("5"), d("-10"), d("3"), d("-3")],
            &[
                date("2021-01-11"),
                date("2021-01-01"),
                date("2021-01-06"),
                date("2021-01-06"),
            ],
        );
        assert_eq!(flows.k, vec![0, 10]);
        assert_eq!(shape, Shape::Mixed { sign_changes: 1 });
        let (_, shape) = Flows::dated(
            &[d("5"), d("-5")],
            &[date("2021-01-01"), date("2021-01-01")],
        );
        assert_eq!(shape, Shape::NetZero { count: 2 });
        let (_, shape) = Flows::dated(&[d("0"), d("0")], &[date("2021-01-01"), date("2021-01-01")]);
        assert_eq!(shape, Shape::AllZero { count: 2 });
    }

    #[test]
    fn gap_powers_match_repeated_multiplication() {
        let k = [0, 365, 731, 1096, 1100, 1100 + 400];
        let z = Wide::ratio(9999, 10000);
        let gaps = Gaps::new(&k);
        for (g, p) in gaps.distinct.iter().zip(gaps.powers(z)) {
            let want = z.powi(*g);
            assert!(p.sub(want).abs() < want.mul_pow2(-118), "z^{g}");
        }
    }

    #[test]
    fn evaluation_matches_direct_sum() {
        // −100 + 60 z + 70 z³ at z = 1/1.1.
        let k = [0, 1, 3];
        let c = [-100i64, 60, 70].map(Wide::from_i64);
        let z = Wide::from_i64(11).recip().unwrap().mul(Wide::from_i64(10));
        let s = evaluate(&k, &c, &Gaps::new(&k), z, Want::ALL);
        let direct = c[0].add(c[1].mul(z)).add(c[2].mul(z.powi(3)));
        let slope = c[1].mul(z).add(Wide::from_i64(3).mul(c[2]).mul(z.powi(3)));
        assert!(s.value.sub(direct).abs() < Wide::ONE.mul_pow2(-110));
        assert!(s.slope.sub(slope).abs() < Wide::ONE.mul_pow2(-110));
        assert!(s.abs > s.value.abs());
        let z2 = Wide::ratio(3, 4);
        let pair = evaluate_pair(&k, &c, &Gaps::new(&k), [z, z2], true);
        let second = evaluate(&k, &c, &Gaps::new(&k), z2, Want::WITH_ABS);
        assert_eq!(pair[0].value, s.value);
        assert_eq!(pair[0].abs, s.abs);
        assert_eq!(pair[1].value, second.value);
        assert_eq!(pair[1].abs, second.abs);
    }
}
