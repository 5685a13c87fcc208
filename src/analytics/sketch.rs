//! A quantile sketch with a relative-accuracy guarantee, so that Monte Carlo keeps flat
//! memory however many paths it runs: the DDSketch of Masson, Rim and Lee (VLDB 2019).
//!
//! Each value goes into a logarithmic bucket: a positive x into bucket i = ⌈ln x / ln γ⌉,
//! which holds (γ^(i−1), γ^i], with γ = (1 + α)/(1 − α); negative values likewise by their
//! magnitude, and zero apart. A bucket stands for the value 2γ^i/(γ + 1), within α of
//! everything in it, so a quantile read from the buckets is within a relative α of the exact
//! sample quantile (here α = 0.1%). Buckets are counts: two sketches merge by adding them,
//! in any order, with exactly the same result, which is what makes a run independent of
//! threads and shardable across machines. Memory grows with the span of the values, not
//! their number: values from 10⁻⁶ to 10¹⁵ in magnitude need at most about 24,000 buckets per
//! sign, and a deal's NPVs span far less.
//!
//! Owns the sketch. Must not round or present values (the callers do).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// α: a quantile is within 0.1% (relative) of the exact sample quantile.
pub const RELATIVE_ACCURACY: f64 = 0.001;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// A mergeable summary of the distribution of a stream of values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    positive: BTreeMap<i32, u64>,
    /// By the magnitude's bucket.
    negative: BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
}

/// The bucket of a positive magnitude.
fn index(magnitude: f64) -> i32 {
    let i = libm::ceil(libm::log(magnitude) / libm::log(gamma()));
    i.clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

/// The value a bucket stands for: within α of everything in it.
fn representative(i: i32) -> f64 {
    let g = gamma();
    2.0 * libm::exp(i as f64 * libm::log(g)) / (g + 1.0)
}

/// A decimal as f64 through its text (DESIGN.md §5): the nearest f64, on every platform.
pub fn to_f64(x: Decimal) -> f64 {
    x.to_string().parse::<f64>().unwrap_or(0.0)
}

impl Sketch {
    pub fn new() -> Self {
        Sketch::default()
    }

    pub fn add(&mut self, x: Decimal) {
        self.count += 1;
        if x.is_zero() {
            self.zeros += 1;
            return;
        }
        let magnitude = to_f64(x.abs());
        if !(magnitude.is_finite() && magnitude > 0.0) {
            self.zeros += 1;
            return;
        }
        let store = if x.is_sign_negative() {
            &mut self.negative
        } else {
            &mut self.positive
        };
        *store.entry(index(magnitude)).or_insert(0) += 1;
    }

    /// Adds another sketch's counts: the same result in any order.
    pub fn merge(&mut self, other: &Sketch) {
        for (i, n) in &other.positive {
            *self.positive.entry(*i).or_insert(0) += n;
        }
        for (i, n) in &other.negative {
            *self.negative.entry(*i).or_insert(0) += n;
        }
        self.zeros += other.zeros;
        self.count += other.count;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many buckets are in use (the sketch's memory, for tests and documentation).
    pub fn buckets_in_use(&self) -> usize {
        self.positive.len() + self.negative.len() + usize::from(self.zeros > 0)
    }

    /// Every bucket as (the value it stands for, count), smallest value first.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.negative
            .iter()
            .rev()
            .map(|(i, n)| (-representative(*i), *n))
            .chain((self.zeros > 0).then_some((0.0, self.zeros)))
            .chain(self.positive.iter().map(|(i, n)| (representative(*i), *n)))
    }

    /// The q-quantile (0 ≤ q ≤ 1): the value of 0-based rank ⌊q·(n − 1)⌋ among the values
    /// sorted ascending, within a relative α; exactly 0 where that value is 0. None when the
    /// sketch is empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = libm::floor(q * (self.count - 1) as f64) as u64;
        let mut seen = 0u64;
        for (value, n) in self.buckets() {
            seen += n;
            if seen > rank {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_quantile(sorted: &[Decimal], q: f64) -> Decimal {
        let rank = (q * (sorted.len() - 1) as f64).floor() as usize;
        sorted[rank]
    }

    /// Values across signs and magnitudes (and many zeros): every quantile within α of the
    /// exact one, and the same sketch whichever way the values are split and merged.
    #[test]
    fn quantiles_are_within_the_relative_accuracy_and_merging_is_exact() {
        let mut values: Vec<Decimal> = Vec::new();
        let mut x: u64 = 12345;
        for k in 0..20_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mantissa = (x >> 20) as i64 % 2_000_000_000 - 600_000_000;
            let v = if k % 7 == 0 {
                Decimal::ZERO
            } else {
                Decimal::new(mantissa, (k % 9) as u32)
            };
            values.push(v);
        }
        let mut whole = Sketch::new();
        values.iter().for_each(|v| whole.add(*v));
        let mut parts = [Sketch::new(), Sketch::new(), Sketch::new()];
        for (k, v) in values.iter().enumerate() {
            parts[(k * 7919) % 3].add(*v);
        }
        let mut merged = Sketch::new();
        for p in parts.iter().rev() {
            merged.merge(p);
        }
        assert_eq!(merged, whole, "merge order and split do not matter");
        let mut sorted = values.clone();
        sorted.sort();
        for q in [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0] {
            let exact = to_f64(exact_quantile(&sorted, q));
            let got = whole.quantile(q).expect("quantile");
            let tolerance = RELATIVE_ACCURACY * exact.abs() * 1.000001;
            assert!(
                (got - exact).abs() <= tolerance,
                "q {q}: got {got}, exact {exact}"
            );
        }
        assert!(whole.buckets_in_use() < 30_000);
    }

    #[test]
    fn an_empty_sketch_has_no_quantile_and_zeros_are_exact() {
        assert_eq!(Sketch::new().quantile(0.5), None);
        let mut s = Sketch::new();
        for _ in 0..95 {
            s.add(Decimal::ZERO);
        }
        for k in 1..=5 {
            s.add(Decimal::from(k * 1000));
        }
        assert_eq!(s.quantile(0.5), Some(0.0));
        assert_eq!(s.quantile(0.94), Some(0.0));
        let top = s.quantile(1.0).expect("max");
        assert!((top - 5000.0).abs() <= 5.0 + 1e-9, "{top}");
    }
}
