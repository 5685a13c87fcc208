//! Rates of return: every root of the NPV in (−100%, 10⁶], or the one closest to a guess, each
//! verified before it is returned.
//!
//! # The method
//!
//! In s = ln(1+r) the NPV is an exponential sum F(s) = Σ cᵢ e^(−tᵢ s) (see `cashflows.rs`), and
//! for exponential sums with distinct tᵢ Descartes' rule of signs holds: F has at most as many
//! real roots as its coefficients have sign changes, so one sign change means exactly one root.
//! With more, roots are *isolated* by Rolle's theorem: G(s) = d/ds[e^(t₀ s) F(s)] is again an
//! exponential sum, with one term fewer (the first dropped) and coefficients (tᵢ − t₀)·cᵢ of the
//! same signs; between two roots of F lies a root of G. (Dropping the last term instead, with
//! e^(t_last s), works the same way; we drop whichever end removes a sign change soonest.)
//! Recursing until a level has at most one sign change, and climbing back up, each level's roots
//! cut [s_min, s_max] into pieces on which the level above is monotone, so it has a root in a
//! piece exactly when its values at the two ends differ in sign. Nothing is sampled, so close
//! pairs of roots cannot slip between grid points.
//!
//! All signs that decide anything are computed in `Wide` (38 digits). Within a piece, the root
//! is first located by the float code (`estimate.rs`; cheap when a deep level still has hundreds
//! of terms), then `Wide` must confirm a sign change within 1e-12 of it before Newton's method
//! polishes it there; if `Wide` disagrees, the whole piece is searched in `Wide`.
//!
//! The limit is precision, and it is stated rather than hidden: a value within its rounding
//! bound at a cutting point counts as zero, so a root where the NPV only touches zero (the
//! double root of −100 + 220x − 121x² at 10%) is found, and two roots closer than about 1e-16
//! (in s) are reported once, at their midpoint, because the NPV between them is below 1e-34 of
//! the flows and no 38-digit arithmetic can see it.
//!
//! # Verification
//!
//! Each root is refined to about 1e-32 in s, rounded to a `Decimal` rate r, and *verified*: the
//! NPV is evaluated at r ∓ δ with δ = 2⁻⁷⁰·max(|r|, 1e-8) ≈ 8.5e-22 relative (at least 2⁻⁹²,
//! four times the rounding of r to 28 places), and the two values must differ in sign by more
//! than a bound on their rounding error. So the true root lies within 2δ of the returned rate:
//! about 21 significant digits against the 12 promised, and in practice the rate is the nearest
//! `Decimal`. Only a root the NPV merely touches, or one too flat to show a sign change at 1e-21,
//! may widen δ (up to ~1e-13 relative) or rest on the NPV being zero within rounding at r; if
//! neither holds, the rate is reported as unverifiable rather than returned with digits it does
//! not have.
//!
//! The domain is s ∈ [ln(1e-28), ln(1 + 10⁶)]: no `Decimal` rate lies closer to −100% than
//! −1 + 1e-28, and rates above 10⁶ are outside the convention here.
//!
//! # The fast paths
//!
//! The full isolation costs many evaluations, so `closest_root` first tries cheaper proofs, with
//! floats only proposing (see `estimate.rs`):
//! - one sign change: the single root is bracketed by the domain ends, located in floating
//!   point, refined by Newton's method in `Wide` and verified as above;
//! - several: Newton from the guess finds a root r*, and a derivative bound proves F monotone on
//!   the rates within |r* − guess| of the guess, so no other root is closer; then refine and
//!   verify. If any step fails, the full isolation decides.

use std::sync::LazyLock;

use rust_decimal::Decimal;

use super::cashflows::{
    Flows, Gaps, Sums, Want, evaluate, evaluate_pair, rounding_bound, sign_changes,
};
use super::estimate::{Estimate, Estimator};
use super::wide::Wide;

/// Why no rate came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RootError {
    /// The NPV is not zero anywhere in the domain.
    NoRoot,
    /// A root lies near this rate but its digits could not be confirmed.
    Unverified(Decimal),
}

struct Domain {
    s_min: Wide,
    s_max: Wide,
}

static DOMAIN: LazyLock<Domain> = LazyLock::new(|| Domain {
    s_min: Wide::from_decimal(Decimal::new(1, 28))
        .ln()
        .unwrap_or(Wide::ZERO),
    s_max: Wide::from_i64(1_000_001).ln().unwrap_or(Wide::ZERO),
});

/// 1e-8: below this size a rate's precision is judged in absolute terms.
const SCALE_FLOOR: Wide = Wide::ratio(1, 100_000_000);
/// 1e-28: the smallest 1 + r a `Decimal` rate can give.
const Y_FLOOR: Wide = Wide::ratio(1, 10_000_000_000_000_000_000_000_000_000);

/// 10⁶, the largest rate reported.
const RATE_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The root closest to `guess` (ties go to the lower rate).
pub(crate) fn closest_root(flows: &Flows, guess: Decimal) -> Result<Decimal, RootError> {
    let est = Estimator::new(flows);
    let start = Estimate::from_guess(guess);
    if sign_changes(&flows.c) == 1 {
        if let Some(found) = single_root_fast(flows, &est, start) {
            return found;
        }
    } else if let Some(r) = nearest_root_fast(flows, &est, start) {
        return Ok(r);
    }
    // Distances in Wide: |r − guess| can overflow Decimal when the guess is near its limit.
    let g = Wide::from_decimal(guess);
    let distance = |r: Decimal| Wide::from_decimal(r).sub(g).abs();
    let mut best: Option<Decimal> = None;
    for r in all_roots(flows)? {
        if best.is_none_or(|b| distance(r) < distance(b)) {
            best = Some(r);
        }
    }
    best.ok_or(RootError::NoRoot)
}

/// One sign change: the root is unique on the whole line, so it is in the domain exactly when F
/// differs in sign at the two ends. `None` when the fast path cannot decide.
fn single_root_fast(
    flows: &Flows,
    est: &Estimator,
    start: Estimate,
) -> Option<Result<Decimal, RootError>> {
    let (lo, hi) = est.domain_signs();
    let lo = lo.or_else(|| wide_sign(flows, &DOMAIN.s_min))?;
    let hi = hi.or_else(|| wide_sign(flows, &DOMAIN.s_max))?;
    if lo == 0 || hi == 0 {
        return None;
    }
    if lo == hi {
        return Some(Err(RootError::NoRoot));
    }
    refine(flows, est.root_in_domain(lo, start)).map(Ok)
}

/// Several sign changes: a root reached by Newton from the guess is the closest one if F is
/// provably monotone on every rate at least as close to the guess.
fn nearest_root_fast(flows: &Flows, est: &Estimator, start: Estimate) -> Option<Decimal> {
    let found = est.newton_from(start)?;
    if !est.is_nearest(start, found) {
        return None;
    }
    let r = refine(flows, found)?;
    found.agrees_with(r).then_some(r)
}

/// Every root in the domain, ascending.
pub(crate) fn all_roots(flows: &Flows) -> Result<Vec<Decimal>, RootError> {
    let mut rates: Vec<Decimal> = Vec::new();
    for s in isolate(flows) {
        let r = s.exp().map(|y| y.sub(Wide::ONE));
        match r.and_then(|r| verify(flows, r, None, true)) {
            Some(rate) => {
                if rates.last() != Some(&rate) {
                    rates.push(rate);
                }
            }
            None => {
                let near = r.and_then(Wide::to_decimal).unwrap_or(Decimal::ZERO);
                return Err(RootError::Unverified(near));
            }
        }
    }
    Ok(rates)
}

/// Newton's method in `Wide` from a float estimate, then verification. The estimate is
/// usually good to ~1e-16, so one Newton step (which squares the error) lands near 1e-32; the
/// rate is verified right after any step shorter than 2⁻⁵² and usually that is the first.
/// IRR works in y = 1+r (z = 1/y needs no logarithm); XIRR in s (z = e^(−s/365), one `exp`).
fn refine(flows: &Flows, s0: Estimate) -> Option<Decimal> {
    let small = |step: Wide, scale: Wide, bits: i64| {
        step.is_zero() || step.abs().log2_floor() < scale.abs().log2_floor().max(0) - bits
    };
    let mut abs_hint = None;
    let mut settled = false;
    if flows.unit == 1 {
        let mut y = s0.growth();
        for _ in 0..8 {
            let sums = evaluate(&flows.k, &flows.c, &flows.gaps, y.recip()?, Want::ALL);
            abs_hint = Some(sums.abs);
            // f(y) = Σ cᵢ y^(−kᵢ), f'(y) = −slope/y, so the Newton step is y·value/slope.
            let Some(ratio) = sums.value.div(sums.slope) else {
                break;
            };
            y = y.add(y.mul(ratio));
            if y.signum() <= 0 {
                return None;
            }
            if small(ratio, Wide::ONE, 52)
                && let Some(r) = verify(flows, y.sub(Wide::ONE), abs_hint, false)
            {
                return Some(r);
            }
            if small(ratio, Wide::ONE, 110) {
                settled = true;
                break;
            }
        }
        // Widening δ is for a rate Newton's method settled on (a flat root); a rate where it
        // never settled is no root.
        verify(flows, y.sub(Wide::ONE), abs_hint, settled)
    } else {
        let unit = Wide::from_i64(flows.unit);
        let mut s = s0.s();
        for _ in 0..8 {
            let sums = evaluate(
                &flows.k,
                &flows.c,
                &flows.gaps,
                base_at(flows, s)?,
                Want::ALL,
            );
            abs_hint = Some(sums.abs);
            // F'(s) = −slope/unit, so the Newton step is unit·value/slope.
            let Some(step) = sums.value.div(sums.slope).map(|q| unit.mul(q)) else {
                break;
            };
            s = s.add(step);
            if small(step, s, 52)
                && let Some(r) = verify(flows, s.exp()?.sub(Wide::ONE), abs_hint, false)
            {
                return Some(r);
            }
            if small(step, s, 110) {
                settled = true;
                break;
            }
        }
        verify(flows, s.exp()?.sub(Wide::ONE), abs_hint, settled)
    }
}

/// Rounds a rate to `Decimal` and checks that the NPV changes sign across it (module header).
/// `abs_hint` is Σ|terms| from an evaluation next to the rate (it changes by ~1e-15 over the
/// bracket, and the bound uses twice it); without it each check computes its own. Only the
/// final check may `widen` δ, for roots too flat to confirm at 1e-21.
///
/// The bracket's ends are formed in `Wide` as r ∓ δ with δ = 2⁻⁷⁰·max(|r|, 1e-8) ≈ 8.5e-22
/// relative (at least 2⁻⁹² ≈ 2e-28, four times the rounding of r to 28 places).
fn verify(flows: &Flows, rate: Wide, abs_hint: Option<Wide>, widen: bool) -> Option<Decimal> {
    let r = rate.to_decimal()?.normalize();
    if r <= Decimal::NEGATIVE_ONE || r > RATE_MAX {
        return None;
    }
    let center = Wide::from_decimal(r);
    let scale = center.abs().max(SCALE_FLOOR);
    let mut delta = scale.mul_pow2(-70).max(Wide::ONE.mul_pow2(-92));
    let attempts = if widen { 9 } else { 1 };
    let abs_hint = abs_hint.map(|a| a.mul_pow2(1));
    for _ in 0..attempts {
        let y = Wide::ONE.add(center);
        let [below, above] = npv_signs(flows, [y.sub(delta).max(Y_FLOOR), y.add(delta)], abs_hint)?;
        if below != 0 && above != 0 && below != above {
            return Some(r);
        }
        if widen && npv_sign(flows, y, None)? == 0 {
            // Zero to within rounding at r itself: a root where the NPV only touches zero, or
            // one that r hits exactly (e.g. rate 0 for flows that sum to zero).
            return Some(r);
        }
        delta = delta.mul(Wide::from_i64(10));
    }
    None
}

/// The sign of Σ cᵢ y^(−kᵢ/unit) (y = 1 + r), or 0 when its magnitude is within the rounding
/// bound (measured against `abs`, or against Σ|terms| computed here when `abs` is `None`).
fn npv_sign(flows: &Flows, y: Wide, abs: Option<Wide>) -> Option<i8> {
    let want = if abs.is_some() {
        Want::VALUE
    } else {
        Want::WITH_ABS
    };
    let mut sums = evaluate(&flows.k, &flows.c, &flows.gaps, base(flows, y)?, want);
    if let Some(abs) = abs {
        sums.abs = abs;
    }
    Some(signed(flows, sums))
}

/// [`npv_sign`] at two points, evaluated side by side.
fn npv_signs(flows: &Flows, y: [Wide; 2], abs: Option<Wide>) -> Option<[i8; 2]> {
    let z = [base(flows, y[0])?, base(flows, y[1])?];
    let sums = evaluate_pair(&flows.k, &flows.c, &flows.gaps, z, abs.is_none());
    Some(sums.map(|mut s| {
        if let Some(abs) = abs {
            s.abs = abs;
        }
        signed(flows, s)
    }))
}

/// z = y^(−1/unit), the discount factor per offset, for y = 1 + r > 0.
fn base(flows: &Flows, y: Wide) -> Option<Wide> {
    if y.signum() <= 0 {
        None
    } else if flows.unit == 1 {
        y.recip()
    } else {
        base_at(flows, y.ln()?)
    }
}

/// z = e^(−s/unit), the discount factor per offset, at s = ln(1 + r).
fn base_at(flows: &Flows, s: Wide) -> Option<Wide> {
    if flows.unit == 1 {
        s.neg().exp()
    } else {
        s.neg().mul(Wide::from_i64(flows.unit).recip()?).exp()
    }
}

fn signed(flows: &Flows, sums: Sums) -> i8 {
    if sums.value.abs() > rounding_bound(sums.abs, flows.len(), flows.span()) {
        sums.value.signum()
    } else {
        0
    }
}

/// The sign of F at a point s given in `Wide` (used when a float sign is too close to call).
fn wide_sign(flows: &Flows, s: &Wide) -> Option<i8> {
    let z = base_at(flows, *s)?;
    let sums = evaluate(&flows.k, &flows.c, &flows.gaps, z, Want::WITH_ABS);
    Some(signed(flows, sums))
}

/// One level of the Rolle recursion: flows `lo..hi` with derived coefficients.
struct Level {
    lo: usize,
    hi: usize,
    c: Vec<Wide>,
    gaps: Gaps,
}

impl Level {
    fn new(flows: &Flows, lo: usize, hi: usize, c: Vec<Wide>) -> Level {
        Level {
            lo,
            hi,
            c,
            gaps: Gaps::new(&flows.k[lo..hi]),
        }
    }

    fn at(&self, flows: &Flows, s: Wide, want: Want) -> Option<Sums> {
        let z = base_at(flows, s)?;
        Some(evaluate(
            &flows.k[self.lo..self.hi],
            &self.c,
            &self.gaps,
            z,
            want,
        ))
    }

    /// Rolle's step: the next level's roots separate this level's.
    fn derive(&self, flows: &Flows) -> Level {
        let c = &self.c;
        let m = c.len();
        let first_change = c[0].is_negative() != c[1].is_negative();
        let last_change = c[m - 2].is_negative() != c[m - 1].is_negative();
        let drop_first = if first_change {
            true
        } else if last_change {
            false
        } else {
            let run = |it: &mut dyn Iterator<Item = &Wide>, sign: bool| {
                it.take_while(|w| w.is_negative() == sign).count()
            };
            run(&mut c.iter(), c[0].is_negative())
                <= run(&mut c.iter().rev(), c[m - 1].is_negative())
        };
        let k = &flows.k[self.lo..self.hi];
        if drop_first {
            let c = (1..m)
                .map(|i| c[i].mul(Wide::from_i64(k[i] - k[0])))
                .collect();
            Level::new(flows, self.lo + 1, self.hi, c)
        } else {
            let c = (0..m - 1)
                .map(|i| c[i].mul(Wide::from_i64(k[m - 1] - k[i])))
                .collect();
            Level::new(flows, self.lo, self.hi - 1, c)
        }
    }

    /// A root in (a, b), where the level's value at `a` has sign `sign_a` and at `b` the
    /// opposite. A float estimate comes first (cheap, and deep levels have many terms); if
    /// `Wide` confirms a sign change within 1e-12 of it, that tight bracket is polished by
    /// Newton's method in `Wide`, otherwise the whole bracket is searched in `Wide`. Either way
    /// the answer comes from a bracket whose end signs `Wide` computed.
    fn solve(&self, flows: &Flows, mut a: Wide, sign_a: i8, mut b: Wide, bits: i64) -> Wide {
        let est = Estimator::from_coefficients(&flows.k[self.lo..self.hi], &self.c, flows.unit);
        if let Some((lo, hi)) = est.bracket_root(a, sign_a, b) {
            let sign = |s: Wide| self.at(flows, s, Want::VALUE).map(|v| v.value.signum());
            match (sign(lo), sign(hi)) {
                (Some(0), _) => return lo,
                (_, Some(0)) => return hi,
                (Some(l), Some(h)) if l == sign_a && h == -sign_a => {
                    a = lo;
                    b = hi;
                }
                _ => {}
            }
        }
        self.polish(flows, a, sign_a, b, bits)
    }

    /// Newton in s within the bracket (a, b), bisecting whenever Newton leaves the bracket or
    /// the bracket fails to halve every two steps, until the bracket or the Newton step is
    /// below 2^−bits relative, or the steps stop shrinking (the rounding-noise floor).
    fn polish(&self, flows: &Flows, mut a: Wide, sign_a: i8, mut b: Wide, bits: i64) -> Wide {
        let unit = Wide::from_i64(flows.unit);
        let mut x = a.add(b).mul_pow2(-1);
        let mut widths = [b.sub(a); 2];
        let mut last_step: Option<i64> = None;
        for iter in 0..600 {
            let Some(sums) = self.at(flows, x, Want::WITH_SLOPE) else {
                return x;
            };
            if sums.value.is_zero() {
                return x;
            }
            if sums.value.signum() == sign_a {
                a = x;
            } else {
                b = x;
            }
            let width = b.sub(a);
            let tolerance = x.abs().log2_floor().max(0) - bits;
            if width.is_zero() || width.log2_floor() < tolerance {
                return x;
            }
            let stalled = width.log2_floor() >= widths[iter % 2].log2_floor();
            widths[iter % 2] = width;
            // F'(s) = −slope/unit for this scaling, so Newton's step is unit·value/slope.
            let step = sums.value.div(sums.slope).map(|q| unit.mul(q));
            match step.map(|d| (d, x.add(d))) {
                Some((d, next)) if !stalled && next > a && next < b => {
                    let size = if d.is_zero() {
                        i64::MIN
                    } else {
                        d.log2_floor()
                    };
                    let floor =
                        last_step.is_some_and(|last| size >= last - 1 && size < tolerance + 30);
                    if size < tolerance || floor {
                        return next;
                    }
                    last_step = Some(size);
                    x = next;
                }
                _ => x = a.add(b).mul_pow2(-1),
            }
        }
        x
    }
}

/// The roots of F in [s_min, s_max], ascending, by the Rolle recursion of the module header.
fn isolate(flows: &Flows) -> Vec<Wide> {
    let domain = &*DOMAIN;
    let mut levels = vec![Level::new(flows, 0, flows.len(), flows.c.clone())];
    while let Some(last) = levels.last() {
        if last.c.len() < 2 || sign_changes(&last.c) <= 1 {
            break;
        }
        let next = last.derive(flows);
        levels.push(next);
    }
    let mut roots: Vec<Wide> = Vec::new();
    for (depth, level) in levels.iter().enumerate().rev() {
        let deepest = depth + 1 == levels.len();
        if deepest && sign_changes(&level.c) == 0 {
            continue;
        }
        let mut points = vec![domain.s_min];
        points.extend(
            roots
                .iter()
                .copied()
                .filter(|s| *s > domain.s_min && *s < domain.s_max),
        );
        points.push(domain.s_max);
        points.dedup();
        // A value within its rounding bound counts as zero: at an isolating point (a critical
        // point of this level) that is a root where the function touches zero, such as the
        // double root of −100 + 220x − 121x² at exactly 10%, whose computed value is a
        // rounding-sized −1e-74 rather than 0.
        let signs: Vec<i8> = points
            .iter()
            .map(|s| {
                level
                    .at(flows, *s, Want::WITH_ABS)
                    .map_or(0, |sums| signed(flows, sums))
            })
            .collect();
        let mut found = Vec::new();
        for i in 0..points.len() {
            if signs[i] == 0 {
                found.push(points[i]);
            } else if i + 1 < points.len() && signs[i + 1] != 0 && signs[i + 1] != signs[i] {
                // Level 0's roots are the answers (~1e-32); deeper levels' only cut intervals,
                // where an error ε moves the parent's value by ~ε², so ~1e-21 is plenty.
                let bits = if depth == 0 { 106 } else { 70 };
                found.push(level.solve(flows, points[i], signs[i], points[i + 1], bits));
            }
        }
        roots = found;
    }
    roots
}
