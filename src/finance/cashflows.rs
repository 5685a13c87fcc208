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
        let mut k = Vec::with_capacity(values.len());
        let mut c = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            if !v.is_zero() {
                k.push(i as i64);
                c.push(Wide::from_decimal(*v));
            }
        }
        Flows::finish(1, k, c, values.len(), false)
    }

    /// Flows on dates, in any order (Excel's XIRR); flows on the same date are netted, because
    /// only their sum can matter to the NPV, and Descartes' rule needs distinct times.
    /// Lengths must already match.
    pub(crate) fn dated(values: &[Decimal], dates: &[NaiveDate]) -> (Flows, Shape) {
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
            let mut wide = Wide::from_decimal(pairs[i].1);
            i += 1;
            while i < pairs.len() && pairs[i].0 == day {
                netted = true;
                exact = exact.and_then(|sum| sum.checked_add(pairs[i].1));
                wide = wide.add(Wide::from_decimal(pairs[i].1));
                i += 1;
            }
            // The Decimal sum is exact; Wide is the fallback only if it overflows Decimal.
            let total = exact.map_or(wide, Wide::from_decimal);
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
        let flows = Flows { unit, k, c };
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

pub(crate) fn sign_changes(c: &[Wide]) -> usize {
    c.windows(2)
        .filter(|w| w[0].is_negative() != w[1].is_negative())
        .count()
}

/// The sums one evaluation of `Σ cᵢ z^(kᵢ−k₀)` produces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sums {
    /// Σ cᵢ z^(kᵢ−k₀)
    pub(crate) value: Wide,
    /// Σ (kᵢ−k₀) cᵢ z^(kᵢ−k₀): −unit times the derivative in s = ln(1+r), for Newton steps.
    pub(crate) slope: Wide,
    /// Σ |cᵢ| z^(kᵢ−k₀): the scale against which rounding error is measured.
    pub(crate) abs: Wide,
}

/// Evaluates the exponential sum with offsets `k` (ascending) and coefficients `c` at `z`, by
/// Horner's rule over the gaps between offsets: `A = c₀ + z^(k₁−k₀)·(c₁ + z^(k₂−k₁)·(…))`.
/// Each step multiplies by a power of `z` and adds, so the rounding error stays a small multiple
/// of 2⁻¹²⁸ times `abs`, whatever the size of the powers (Wide cannot overflow).
pub(crate) fn evaluate(k: &[i64], c: &[Wide], z: Wide, with_slope: bool) -> Sums {
    let n = c.len();
    if n == 0 {
        return Sums {
            value: Wide::ZERO,
            slope: Wide::ZERO,
            abs: Wide::ZERO,
        };
    }
    let mut powers = Powers::new(z);
    let mut value = c[n - 1];
    let mut slope = Wide::ZERO;
    let mut abs = c[n - 1].abs();
    for i in (0..n - 1).rev() {
        let gap = k[i + 1] - k[i];
        let p = powers.get(gap.unsigned_abs());
        if with_slope {
            let carried = if gap == 1 {
                value
            } else {
                Wide::from_i64(gap).mul(value)
            };
            slope = p.mul(slope.add(carried));
        }
        value = c[i].add(p.mul(value));
        abs = c[i].abs().add(p.mul(abs));
    }
    Sums { value, slope, abs }
}

/// A bound on the rounding error of [`evaluate`] (and of forming `z`) for `n` terms spanning
/// `span` offsets: each term's power carries `z`'s relative error (≈2⁻¹²² from `exp`/`ln`)
/// about `span` times, and each Horner step adds a few roundings of 2⁻¹²⁸. Generous by a
/// factor of about four.
pub(crate) fn rounding_bound(abs: Wide, n: usize, span: i64) -> Wide {
    let weight = span.saturating_add(4 * n as i64).saturating_add(256);
    abs.mul(Wide::from_i64(weight)).mul_pow2(-120)
}

/// Powers z^n for the gaps met in one evaluation: a table of z^(2^j) and the last result (gaps
/// repeat: yearly or monthly schedules have one or two distinct gaps).
struct Powers {
    table: Vec<Wide>,
    last_n: u64,
    last: Wide,
}

impl Powers {
    fn new(z: Wide) -> Powers {
        Powers {
            table: vec![z],
            last_n: 1,
            last: z,
        }
    }

    fn get(&mut self, n: u64) -> Wide {
        if n == self.last_n {
            return self.last;
        }
        if n == 0 {
            return Wide::ONE;
        }
        let bits = (64 - n.leading_zeros()) as usize;
        while self.table.len() < bits {
            let top = self.table[self.table.len() - 1];
            self.table.push(top.mul(top));
        }
        let mut acc: Option<Wide> = None;
        for (b, t) in self.table.iter().enumerate().take(bits) {
            if (n >> b) & 1 == 1 {
                acc = Some(acc.map_or(*t, |a| a.mul(*t)));
            }
        }
        let p = acc.unwrap_or(Wide::ONE);
        self.last_n = n;
        self.last = p;
        p
    }
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
    }

    #[test]
    fn evaluation_matches_direct_sum() {
        // −100 + 60 z + 70 z³ at z = 1/1.1.
        let k = [0, 1, 3];
        let c = [-100i64, 60, 70].map(Wide::from_i64);
        let z = Wide::from_i64(11).recip().unwrap().mul(Wide::from_i64(10));
        let s = evaluate(&k, &c, z, true);
        let direct = c[0].add(c[1].mul(z)).add(c[2].mul(z.powi(3)));
        let slope = c[1].mul(z).add(Wide::from_i64(3).mul(c[2]).mul(z.powi(3)));
        assert!(s.value.sub(direct).abs() < Wide::ONE.mul_pow2(-110));
        assert!(s.slope.sub(slope).abs() < Wide::ONE.mul_pow2(-110));
        assert!(s.abs > s.value.abs());
    }
}
