//! First estimates in hardware floating point, and nothing else.
//!
//! This is the only file of the finance core that uses `f64`, and it may only *propose*: a root
//! found here is a starting point that `roots.rs` refines and verifies in `Wide` (38 digits,
//! integer arithmetic) before anything is returned, and a sign computed here is trusted only when
//! it clears its own rounding-error bound (otherwise the caller asks `Wide`). Floats earn their
//! place by speed: evaluating 30 flows costs about 0.1 µs here against about 1 µs in `Wide`,
//! which is what lets IRR stay within a small factor of pyxirr.
//!
//! Everything works in s = ln(1+r), where the NPV is the exponential sum F(s) = Σ cᵢ e^(−tᵢ s)
//! with tᵢ = kᵢ/unit. To keep every power ≤ 1 (so nothing overflows an f64), F is scaled by a
//! positive factor that does not move its roots: by e^(t₀ s) = 1 for s ≥ 0 (powers of e^(−s/unit))
//! and by e^(t_last s) for s < 0 (powers of e^(s/unit)).

use super::cashflows::Flows;
use super::wide::Wide;

/// ln(1e-28): no `Decimal` rate is closer to −100% than −1 + 1e-28.
pub(crate) const S_MIN: f64 = -64.472_382_603_833_28;
/// ln(1 + 10⁶): the upper end of the rates we report.
pub(crate) const S_MAX: f64 = 13.815_511_557_963_774;

/// A point s = ln(1+r) proposed by the code in this file. It never reaches a caller as is:
/// `roots.rs` refines it in `Wide` and verifies a sign change of the NPV around it first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Estimate(f64);

impl Estimate {
    /// Where a search for the root closest to `guess` starts: ln(1+guess), held inside the
    /// domain (a guess at or below −100% starts at its lower end, one above 10⁶ at its upper).
    pub(crate) fn from_guess(guess: rust_decimal::Decimal) -> Estimate {
        let g = wide_to_f64(Wide::from_decimal(guess));
        Estimate(if g > -1.0 {
            g.ln_1p().clamp(S_MIN, S_MAX)
        } else {
            S_MIN
        })
    }

    /// s itself, exactly.
    pub(crate) fn s(self) -> Wide {
        f64_to_wide(self.0)
    }

    /// 1 + r = eˢ, from the float `exp`: as good as the estimate itself (~1e-16), and it saves
    /// a `Wide` exponential.
    pub(crate) fn growth(self) -> Wide {
        f64_to_wide(self.0.exp())
    }

    /// Whether a refined rate is the root this estimate pointed at (within 1e-9).
    pub(crate) fn agrees_with(self, rate: rust_decimal::Decimal) -> bool {
        let r0 = self.0.exp_m1();
        (wide_to_f64(Wide::from_decimal(rate)) - r0).abs() <= 1e-9 * r0.abs().max(1e-6)
    }
}

/// F(s) and its derivative in s, for the scaled sum, with bounds on their rounding errors.
#[derive(Clone, Copy, Debug)]
struct Point {
    f: f64,
    df: f64,
    f_err: f64,
    df_err: f64,
}

/// The flows as `f64` coefficients, for estimates only.
pub(crate) struct Estimator<'a> {
    k: &'a [i64],
    c: Vec<f64>,
    abs_c: Vec<f64>,
    unit: f64,
    span: f64,
}

/// Which end the scaling factor comes from (see the module header).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// Powers of e^(−s/unit) measured from the first flow: all ≤ 1 when s ≥ 0.
    FromFirst,
    /// Powers of e^(s/unit) measured from the last flow: all ≤ 1 when s ≤ 0.
    FromLast,
}

impl<'a> Estimator<'a> {
    pub(crate) fn new(flows: &'a Flows) -> Estimator<'a> {
        Estimator::from_coefficients(&flows.k, &flows.c, flows.unit)
    }

    /// Any exponential sum with ascending offsets `k` (a level of the Rolle recursion, say).
    /// The coefficients are scaled by a power of two so the largest is near 1: only their
    /// ratios matter for roots, and those of a deep level can exceed the f64 range otherwise
    /// (the smallest then flush to zero, which makes the estimate rougher, never wrong: the
    /// caller checks it in `Wide`).
    pub(crate) fn from_coefficients(k: &'a [i64], c: &[Wide], unit: i64) -> Estimator<'a> {
        let top = c
            .iter()
            .filter(|w| !w.is_zero())
            .map(|w| w.log2_floor())
            .max()
            .unwrap_or(0);
        let c: Vec<f64> = c
            .iter()
            .map(|w| wide_to_f64(w.mul_pow2(top.saturating_neg())))
            .collect();
        let abs_c = c.iter().map(|x| x.abs()).collect();
        let span = match (k.first(), k.last()) {
            (Some(first), Some(last)) => (last - first) as f64,
            _ => 0.0,
        };
        Estimator {
            k,
            c,
            abs_c,
            unit: unit as f64,
            span,
        }
    }

    /// F and F' at s, scaled so that every power is ≤ 1.
    fn at(&self, s: f64) -> Point {
        let scale = if s >= 0.0 {
            Scale::FromFirst
        } else {
            Scale::FromLast
        };
        self.at_scaled(s, scale)
    }

    fn at_scaled(&self, s: f64, scale: Scale) -> Point {
        let (f, slope, abs_f, abs_slope) = self.horner(s, scale);
        // d/ds of Σ cᵢ e^(−(tᵢ−t₀)s) is −slope/unit; of Σ cᵢ e^((t_last−tᵢ)s) it is +slope/unit.
        let df = match scale {
            Scale::FromFirst => -slope / self.unit,
            Scale::FromLast => slope / self.unit,
        };
        let weight = self.error_weight(s);
        Point {
            f,
            df,
            f_err: abs_f * weight,
            df_err: abs_slope / self.unit * weight,
        }
    }

    /// Relative rounding-error weight of one evaluation: each term's factor is a product of up
    /// to n `exp`s, each off by an ulp plus the rounding of its argument (about |s|·span/unit
    /// ulps in total), and each Horner step adds a few roundings. Generous by about two.
    fn error_weight(&self, s: f64) -> f64 {
        let n = self.c.len() as f64;
        (8.0 * n + 2.0 * s.abs() * self.span / self.unit + 64.0) * f64::EPSILON
    }

    /// Horner over the gaps: returns (Σ cᵢ pᵢ, Σ dᵢ cᵢ pᵢ, Σ |cᵢ| pᵢ, Σ dᵢ |cᵢ| pᵢ) where dᵢ is the
    /// offset from the scaling end and pᵢ = e^(∓dᵢ s/unit) (≤ 1 when the scaling suits the sign
    /// of s, which `at` ensures; `at_most_one_root` may force one scaling across s = 0 within
    /// its overflow limit). Each gap's factor is its own `exp` (reused while gaps repeat) rather
    /// than a power of one base: powering a base to 365 would multiply its rounding error by 365.
    fn horner(&self, s: f64, scale: Scale) -> (f64, f64, f64, f64) {
        let coef = &self.c;
        let n = coef.len();
        let k = self.k;
        let step = |i: usize| -> usize {
            match scale {
                Scale::FromFirst => n - 1 - i,
                Scale::FromLast => i,
            }
        };
        let rate = match scale {
            Scale::FromFirst => -s / self.unit,
            Scale::FromLast => s / self.unit,
        };
        let first = step(0);
        let (mut a, mut d) = (coef[first], 0.0);
        let (mut sa, mut sd) = (self.abs_c[first], 0.0);
        let mut last_gap = -1i64;
        let mut last_pow = 1.0;
        for j in 1..n {
            let i = step(j);
            let prev = step(j - 1);
            let gap = (k[i] - k[prev]).abs();
            let p = if gap == last_gap {
                last_pow
            } else {
                last_gap = gap;
                last_pow = (rate * gap as f64).exp();
                last_pow
            };
            let g = gap as f64;
            d = p * (d + g * a);
            sd = p * (sd + g * sa);
            a = coef[i] + p * a;
            sa = self.abs_c[i] + p * sa;
        }
        (a, d, sa, sd)
    }

    /// Σ dᵢ² |cᵢ| pᵢ / unit²: the largest |F''| can be on an interval whose end, in the direction
    /// of growing powers, is s.
    fn curvature_bound(&self, s: f64, scale: Scale) -> f64 {
        let n = self.c.len();
        let rate = match scale {
            Scale::FromFirst => -s / self.unit,
            Scale::FromLast => s / self.unit,
        };
        let idx = |j: usize| match scale {
            Scale::FromFirst => n - 1 - j,
            Scale::FromLast => j,
        };
        // Moments of the |c| sum, carried through the gaps like `horner`.
        let (mut a, mut d, mut e) = (self.abs_c[idx(0)], 0.0, 0.0);
        for j in 1..n {
            let i = idx(j);
            let gap = (self.k[i] - self.k[idx(j - 1)]).abs() as f64;
            let p = (rate * gap).exp();
            e = p * (e + 2.0 * gap * d + gap * gap * a);
            d = p * (d + gap * a);
            a = self.abs_c[i] + p * a;
        }
        e / (self.unit * self.unit) * (1.0 + self.error_weight(s))
    }

    /// The sign of F at s when it clears the rounding-error bound; `None` when too close to call.
    pub(crate) fn sign(&self, s: f64) -> Option<i8> {
        let p = self.at(s);
        if p.f.abs() > p.f_err && p.f.is_finite() {
            Some(if p.f > 0.0 { 1 } else { -1 })
        } else {
            None
        }
    }

    /// The signs of F at the two ends of the domain, each `None` when too close to call.
    pub(crate) fn domain_signs(&self) -> (Option<i8>, Option<i8>) {
        (self.sign(S_MIN), self.sign(S_MAX))
    }

    /// The root of F in the domain, when F(s_min) has sign `sign_lo` and F(s_max) the opposite.
    pub(crate) fn root_in_domain(&self, sign_lo: i8, start: Estimate) -> Estimate {
        Estimate(self.root_in(S_MIN, S_MAX, sign_lo, start.0))
    }

    /// A candidate bracket for the root in (a, b) (F(a) of sign `sign_a`, F(b) opposite): the
    /// float root ± 1e-12 (relative), clipped to (a, b). The caller checks its signs in `Wide`
    /// before trusting it.
    pub(crate) fn bracket_root(&self, a: Wide, sign_a: i8, b: Wide) -> Option<(Wide, Wide)> {
        let (fa, fb) = (wide_to_f64(a), wide_to_f64(b));
        let root = self.root_in(fa, fb, sign_a, 0.5 * (fa + fb));
        if !(root.is_finite() && root > fa && root < fb) {
            return None;
        }
        let eps = 1e-12 * root.abs().max(1.0);
        Some((
            f64_to_wide(root - eps).max(a),
            f64_to_wide(root + eps).min(b),
        ))
    }

    /// Whether `found` (a root reached from `start`) is provably the root closest to the guess
    /// `start` stands for: F must be monotone on every rate at least as close to the guess.
    pub(crate) fn is_nearest(&self, start: Estimate, found: Estimate) -> bool {
        let g = start.0.exp_m1();
        let r0 = found.0.exp_m1();
        let reach = (r0 - g).abs() * (1.0 + 1e-9) + 1e-12 * r0.abs().max(1.0);
        let a = (g - reach).max(-1.0 + 1e-28).ln_1p().max(S_MIN);
        let b = (g + reach).min(1e6).ln_1p().min(S_MAX);
        self.at_most_one_root(a, b)
    }

    /// A root of F in [lo, hi], where F(lo) has sign `sign_lo` and F(hi) the opposite: Newton
    /// from `start`, falling back to bisection whenever Newton leaves the bracket or fails to
    /// halve it every two steps.
    fn root_in(&self, mut lo: f64, mut hi: f64, sign_lo: i8, start: f64) -> f64 {
        let mut s = if start > lo && start < hi {
            start
        } else {
            0.5 * (lo + hi)
        };
        let mut widths = [hi - lo; 2];
        for iter in 0..400 {
            let p = self.at(s);
            if p.f == 0.0 || !p.f.is_finite() {
                return s;
            }
            if (p.f > 0.0) == (sign_lo > 0) {
                lo = s;
            } else {
                hi = s;
            }
            let width = hi - lo;
            if width <= 4.0 * f64::EPSILON * s.abs().max(1.0) {
                return s;
            }
            let stalled = width > 0.5 * widths[iter % 2];
            widths[iter % 2] = width;
            let newton = s - p.f / p.df;
            let next = if !stalled && newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            if (next - s).abs() <= 2.0 * f64::EPSILON * s.abs().max(1.0) {
                return next;
            }
            s = next;
        }
        s
    }

    /// Newton from `start` without a bracket (several roots may exist; the caller proves which
    /// one it reached and verifies it). `None` if it does not settle. Settled means F is exactly
    /// zero, the step is down to a few units in the last place, or the steps have stopped
    /// shrinking while already tiny (the rounding noise floor): stopping any earlier would cost
    /// a second Newton step in `Wide`, which is a hundred times dearer than one here.
    pub(crate) fn newton_from(&self, start: Estimate) -> Option<Estimate> {
        let mut s = start.0.clamp(S_MIN, S_MAX);
        let mut last_step = f64::INFINITY;
        for _ in 0..100 {
            let p = self.at(s);
            if !p.f.is_finite() || !p.df.is_finite() || p.df == 0.0 {
                return None;
            }
            if p.f == 0.0 {
                return Some(Estimate(s));
            }
            let step = (-p.f / p.df).clamp(-2.0, 2.0);
            let next = (s + step).clamp(S_MIN, S_MAX);
            let size = (next - s).abs() / s.abs().max(1.0);
            if size <= 4.0 * f64::EPSILON || (size < 1e-9 && size >= 0.5 * last_step) {
                return Some(Estimate(next));
            }
            last_step = size;
            s = next;
        }
        None
    }

    /// True when F has at most one root in [a, b], proved by showing F' keeps one sign there:
    /// |F'(m)| exceeds its rounding error plus (half-width)·max|F''|, on [a, b] or on each of up to
    /// 64 pieces. False means "not proved", never "two roots".
    fn at_most_one_root(&self, a: f64, b: f64) -> bool {
        if a.is_nan() || b.is_nan() || a > b {
            return false;
        }
        let t_span = self.span / self.unit;
        // One scaling for the whole interval (the proof is about one function), with every
        // power bounded so that nothing overflows.
        let scale = if a >= 0.0 || t_span * a.abs() < 600.0 {
            Scale::FromFirst
        } else if b <= 0.0 || t_span * b.abs() < 600.0 {
            Scale::FromLast
        } else {
            return false;
        };
        let mut stack = vec![(a, b, 0u32)];
        while let Some((lo, hi, depth)) = stack.pop() {
            let m = 0.5 * (lo + hi);
            let p = self.at_scaled(m, scale);
            // Powers grow toward `lo` when measured from the first flow, toward `hi` otherwise.
            let worst = match scale {
                Scale::FromFirst => lo,
                Scale::FromLast => hi,
            };
            let bound = self.curvature_bound(worst, scale);
            let proved = p.df.is_finite()
                && bound.is_finite()
                && p.df.abs() - p.df_err > 0.5 * (hi - lo) * bound * (1.0 + 1e-9);
            if !proved {
                if depth >= 6 {
                    return false;
                }
                stack.push((lo, m, depth + 1));
                stack.push((m, hi, depth + 1));
            }
        }
        true
    }
}

/// Nearest `f64` of a `Wide` (for estimates; 0 or ±∞ outside the normal f64 range).
fn wide_to_f64(w: Wide) -> f64 {
    let (neg, exp, mant) = w.parts();
    if mant == 0 || exp < -1022 {
        return 0.0;
    }
    let sign = if neg { 1u64 << 63 } else { 0 };
    if exp > 1023 {
        return f64::from_bits(sign | f64::INFINITY.to_bits());
    }
    // Mantissa bits 126..75 are the 52 stored bits; bit 74 rounds (carry into the exponent is
    // what IEEE addition of the bit patterns does).
    let frac = ((mant >> 75) as u64) & ((1 << 52) - 1);
    let round = ((mant >> 74) & 1) as u64;
    let bits = (((exp + 1023) as u64) << 52 | frac) + round;
    f64::from_bits(sign | bits)
}

/// The `Wide` equal to a finite `f64` (exact: 53 bits fit in 128).
fn f64_to_wide(x: f64) -> Wide {
    if !x.is_finite() || x == 0.0 {
        return Wide::ZERO;
    }
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let frac = (bits & ((1 << 52) - 1)) as u128;
    let (mant, exp) = if biased == 0 {
        (frac, -1074 + 52)
    } else {
        (frac | (1 << 52), biased - 1023)
    };
    // value = mant · 2^(exp − 52); from_parts takes value = mant · 2^(e − 127).
    Wide::from_parts(neg, exp + 75, mant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        for x in [
            1.0,
            -0.1,
            1e-300,
            6.02e23,
            -1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(wide_to_f64(f64_to_wide(x)), x, "{x:e}");
        }
    }

    /// Both scalings describe one function up to a positive factor e^(t_last·s), whatever the
    /// sign of s; the certificate relies on that when it forces one scaling across s = 0.
    #[test]
    fn both_scalings_agree_across_zero() {
        let k = [0i64, 1, 3];
        let c = [-100i64, 60, 70].map(Wide::from_i64);
        let est = Estimator::from_coefficients(&k, &c, 1);
        for s in [-0.3, -0.01, 0.0, 0.02, 0.4] {
            let first = est.at_scaled(s, Scale::FromFirst);
            let last = est.at_scaled(s, Scale::FromLast);
            let factor = (3.0 * s).exp();
            assert!((first.f - last.f / factor).abs() < 1e-12, "s = {s}");
            // d/ds [F·e^(3s)] = F'·e^(3s) + 3F·e^(3s)
            let want = (last.df - 3.0 * last.f) / factor;
            assert!((first.df - want).abs() < 1e-12, "s = {s}");
        }
    }

    #[test]
    fn domain_ends_are_ln_of_the_rate_limits() {
        assert!((S_MIN - (1e-28f64).ln()).abs() < 1e-13);
        assert!((S_MAX - (1e6f64 + 1.0).ln()).abs() < 1e-13);
    }
}
