//! `Wide`: the finance core's working number, a binary float with a 128-bit mantissa and a
//! 64-bit exponent, built only from integer arithmetic.
//!
//! Why not compute in `Decimal` directly? Measured on this machine (rust_decimal 1.43): a
//! full-precision `Decimal` multiply costs about 100 ns, `ln` 9 µs, `exp` 6 µs and `powd` 16 µs,
//! so a 30-flow XNPV done in `Decimal` (one fractional power, then thirty products) would take
//! several times pyxirr's 3–4 µs before any root finding; and `Decimal` stops at 7.9e28 with a fixed resolution of 1e-28, so `(1+r)^n` overflows for rates near −100%
//! and long series, and small intermediate values lose their significant digits.
//! `Wide` carries about 38 significant digits (ten more than `Decimal`, so rounding inside a long
//! sum never reaches the 28 digits we return), cannot overflow in any power this crate forms, and
//! is deterministic on every machine because it is integer code. Inputs arrive as `Decimal`
//! (converted with a relative error below 2⁻¹²⁷) and every public result is rounded once, at the
//! end, to the nearest `Decimal`.
//!
//! This module owns the arithmetic (add, multiply, reciprocal, `exp`, `ln`) and the conversions to
//! and from `Decimal`; it knows nothing about cash flows.

use std::cmp::Ordering;
use std::sync::LazyLock;

use rust_decimal::Decimal;

const TOP: u128 = 1 << 127;
const LOW64: u128 = u64::MAX as u128;
/// Decimal's largest mantissa, 2⁹⁶ − 1.
const DECIMAL_MAX_MANTISSA: u128 = (1 << 96) - 1;

/// A binary float: `(−1)^neg · mant · 2^(exp − 127)`, with `mant` in [2¹²⁷, 2¹²⁸) so that
/// `|value|` is in [2^exp, 2^(exp+1)). Zero is `mant == 0` (and `exp == 0`, `neg == false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wide {
    mant: u128,
    exp: i64,
    neg: bool,
}

impl Wide {
    pub(crate) const ZERO: Wide = Wide {
        mant: 0,
        exp: 0,
        neg: false,
    };
    pub(crate) const ONE: Wide = Wide {
        mant: TOP,
        exp: 0,
        neg: false,
    };
    pub(crate) const TWO: Wide = Wide {
        mant: TOP,
        exp: 1,
        neg: false,
    };

    pub(crate) const fn from_u128(m: u128) -> Wide {
        if m == 0 {
            return Wide::ZERO;
        }
        let lz = m.leading_zeros();
        Wide {
            mant: m << lz,
            exp: 127 - lz as i64,
            neg: false,
        }
    }

    pub(crate) const fn from_i128(m: i128) -> Wide {
        let w = Wide::from_u128(m.unsigned_abs());
        Wide {
            neg: m < 0 && w.mant != 0,
            ..w
        }
    }

    pub(crate) const fn from_i64(m: i64) -> Wide {
        Wide::from_i128(m as i128)
    }

    /// `num / den`, rounded to nearest; `const` so that tables are built by the compiler.
    /// Needs 0 < `den` < 2¹²⁷ (every caller passes a small integer or a power of ten); other
    /// denominators give zero rather than a panic.
    pub(crate) const fn ratio(num: u128, den: u128) -> Wide {
        if den == 0 || den >= TOP {
            return Wide::ZERO;
        }
        let mut mant = num / den;
        let mut rem = num % den;
        if mant == 0 && rem == 0 {
            return Wide::ZERO;
        }
        let mut frac_bits: i64 = 0;
        while mant < TOP {
            rem <<= 1;
            mant <<= 1;
            frac_bits += 1;
            if rem >= den {
                rem -= den;
                mant |= 1;
            }
        }
        let mut exp = 127 - frac_bits;
        if rem << 1 >= den {
            if mant == u128::MAX {
                mant = TOP;
                exp += 1;
            } else {
                mant += 1;
            }
        }
        Wide {
            mant,
            exp,
            neg: false,
        }
    }

    /// Raw parts, for the hardware-float estimate code (which lives in `estimate.rs`, so that
    /// every use of binary floating point in the finance core sits in one file).
    pub(crate) const fn parts(self) -> (bool, i64, u128) {
        (self.neg, self.exp, self.mant)
    }

    /// Inverse of [`Wide::parts`] for any mantissa (it is normalised here).
    pub(crate) const fn from_parts(neg: bool, exp: i64, mant: u128) -> Wide {
        if mant == 0 {
            return Wide::ZERO;
        }
        let lz = mant.leading_zeros() as i64;
        Wide {
            mant: mant << lz,
            exp: exp.saturating_sub(lz),
            neg,
        }
    }

    pub(crate) const fn is_zero(self) -> bool {
        self.mant == 0
    }

    pub(crate) const fn is_negative(self) -> bool {
        self.neg
    }

    /// −1, 0 or 1.
    pub(crate) const fn signum(self) -> i8 {
        if self.mant == 0 {
            0
        } else if self.neg {
            -1
        } else {
            1
        }
    }

    pub(crate) const fn abs(self) -> Wide {
        Wide { neg: false, ..self }
    }

    pub(crate) const fn neg(self) -> Wide {
        if self.mant == 0 {
            self
        } else {
            Wide {
                neg: !self.neg,
                ..self
            }
        }
    }

    /// `self · 2^k`, exactly.
    pub(crate) const fn mul_pow2(self, k: i64) -> Wide {
        if self.mant == 0 {
            self
        } else {
            Wide {
                exp: self.exp.saturating_add(k),
                ..self
            }
        }
    }

    /// ⌊log₂|self|⌋ (meaningless for zero).
    pub(crate) const fn log2_floor(self) -> i64 {
        self.exp
    }

    /// Rounds a 256-bit mantissa `hi·2¹²⁸ + lo` (top bit of `hi` set) to 128 bits, half up.
    #[inline(always)]
    const fn round(hi: u128, lo: u128, exp: i64, neg: bool) -> Wide {
        if lo >> 127 == 1 {
            if hi == u128::MAX {
                Wide {
                    mant: TOP,
                    exp: exp.saturating_add(1),
                    neg,
                }
            } else {
                Wide {
                    mant: hi + 1,
                    exp,
                    neg,
                }
            }
        } else {
            Wide { mant: hi, exp, neg }
        }
    }

    #[inline(always)]
    pub(crate) fn mul(self, other: Wide) -> Wide {
        if self.mant == 0 || other.mant == 0 {
            return Wide::ZERO;
        }
        let (hi, lo) = mul_u128(self.mant, other.mant);
        let exp = self.exp.saturating_add(other.exp);
        let neg = self.neg != other.neg;
        if hi >> 127 == 1 {
            Wide::round(hi, lo, exp.saturating_add(1), neg)
        } else {
            Wide::round((hi << 1) | (lo >> 127), lo << 1, exp, neg)
        }
    }

    /// Sum, exact to 256 bits before the final rounding: cancellation between nearly equal
    /// values (the NPV near its root) loses nothing beyond that rounding.
    #[inline(always)]
    pub(crate) fn add(self, other: Wide) -> Wide {
        if self.mant == 0 {
            return other;
        }
        if other.mant == 0 {
            return self;
        }
        Unrounded::from(self).add(Unrounded::from(other))
    }

    /// `self·m + a` with a single rounding: the step of Horner's rule, where it saves the
    /// product's rounding and normalisation.
    #[inline(always)]
    pub(crate) fn mul_add(self, m: Wide, a: Wide) -> Wide {
        if self.mant == 0 || m.mant == 0 {
            return a;
        }
        let (hi, lo) = mul_u128(self.mant, m.mant);
        let exp = self.exp.saturating_add(m.exp);
        let neg = self.neg != m.neg;
        let product = if hi >> 127 == 1 {
            Unrounded {
                hi,
                lo,
                exp: exp.saturating_add(1),
                neg,
            }
        } else {
            Unrounded {
                hi: (hi << 1) | (lo >> 127),
                lo: lo << 1,
                exp,
                neg,
            }
        };
        if a.mant == 0 {
            return product.round();
        }
        product.add(Unrounded::from(a))
    }

    #[inline(always)]
    pub(crate) fn sub(self, other: Wide) -> Wide {
        self.add(other.neg())
    }

    /// 1/self; `None` for zero. Two Newton steps from a 63-bit quotient, each with its residual
    /// formed by a fused multiply-add, give the nearest 128-bit value in practice (and exactly
    /// 1 for 1, so NPV at rate 0 is an exact sum).
    pub(crate) fn recip(self) -> Option<Wide> {
        if self.mant == 0 {
            return None;
        }
        let scale = self.exp.saturating_neg();
        let sign = |r: Wide| if self.neg { r.neg() } else { r };
        if self.mant == TOP {
            return Some(sign(Wide::ONE.mul_pow2(scale)));
        }
        let top = (self.mant >> 64) as u64;
        let q = (u128::MAX >> 1) / top as u128;
        let y0 = Wide::from_u128(q).mul_pow2(-64);
        let m = Wide {
            mant: self.mant,
            exp: 0,
            neg: false,
        };
        let minus_one = Wide::ONE.neg();
        let y1 = y0.mul_add(m.mul_add(y0, minus_one).neg(), y0);
        let y2 = y1.mul_add(m.mul_add(y1, minus_one).neg(), y1);
        Some(sign(y2.mul_pow2(scale)))
    }

    pub(crate) fn div(self, other: Wide) -> Option<Wide> {
        Some(self.mul(other.recip()?))
    }

    /// `self^n` by repeated squaring.
    pub(crate) fn powi(self, mut n: u64) -> Wide {
        let mut base = self;
        let mut acc = Wide::ONE;
        while n > 0 {
            if n & 1 == 1 {
                acc = acc.mul(base);
            }
            n >>= 1;
            if n > 0 {
                base = base.mul(base);
            }
        }
        acc
    }

    /// Nearest integer of |self| (half up); `None` if it does not fit in 128 bits.
    fn round_abs_to_u128(self) -> Option<u128> {
        if self.mant == 0 || self.exp < -1 {
            return Some(0);
        }
        if self.exp >= 128 {
            return None;
        }
        let shift = (127 - self.exp) as u32;
        if shift == 0 {
            return Some(self.mant);
        }
        if shift == 128 {
            return Some(1);
        }
        Some((self.mant >> shift) + ((self.mant >> (shift - 1)) & 1))
    }

    /// Nearest integer (half away from zero), if its magnitude is below 2⁶².
    pub(crate) fn round_to_i64(self) -> Option<i64> {
        if self.exp >= 62 {
            return None;
        }
        let m = self.round_abs_to_u128()? as i64;
        Some(if self.neg { -m } else { m })
    }

    pub(crate) fn from_decimal(d: Decimal) -> Wide {
        let w = Wide::from_i128(d.mantissa());
        match d.scale() as usize {
            0 => w,
            s => w.mul(POW10_NEG[s.min(28)]),
        }
    }

    /// `d · 10^scale` for `scale` ≥ `d.scale()`: the mantissa brought to a common decimal scale.
    /// A series converted this way needs one multiply by 10^−scale in total instead of one per
    /// value (and root finding needs none: scaling all flows does not move a root).
    pub(crate) fn from_decimal_scaled(d: Decimal, scale: u32) -> Wide {
        let w = Wide::from_i128(d.mantissa());
        let shift = scale.saturating_sub(d.scale()) as usize;
        if shift == 0 {
            w
        } else {
            w.mul(POW10[shift.min(28)])
        }
    }

    /// 10^−scale (scale ≤ 28), to undo [`Wide::from_decimal_scaled`].
    pub(crate) fn pow10_neg(scale: u32) -> Wide {
        POW10_NEG[(scale as usize).min(28)]
    }

    /// The nearest `Decimal` (half away from zero, at the finest scale that fits), or `None` when
    /// |self| ≥ 2⁹⁶, beyond `Decimal::MAX`.
    pub(crate) fn to_decimal(self) -> Option<Decimal> {
        if self.mant == 0 || self.exp < -100 {
            return Some(Decimal::ZERO);
        }
        if self.exp >= 96 {
            return None;
        }
        // |self|·10^s < 2^(exp+1)·10^s ≤ 2⁹⁶ when s·log₂10 ≤ 95 − exp.
        let mut s = ((95 - self.exp) * 30103 / 100_000).clamp(0, 28) as usize;
        let abs = self.abs();
        let mut m = abs.mul(POW10[s]).round_abs_to_u128()?;
        while m > DECIMAL_MAX_MANTISSA {
            if s == 0 {
                return None;
            }
            s -= 1;
            m = abs.mul(POW10[s]).round_abs_to_u128()?;
        }
        while s < 28 {
            let finer = abs.mul(POW10[s + 1]).round_abs_to_u128()?;
            if finer > DECIMAL_MAX_MANTISSA {
                break;
            }
            s += 1;
            m = finer;
        }
        let signed = if self.neg { -(m as i128) } else { m as i128 };
        Decimal::try_from_i128_with_scale(signed, s as u32).ok()
    }

    /// eˣ with a relative error of about 2⁻¹²²; `None` when |x| ≥ 2⁴¹ (far outside anything a
    /// rate produces).
    pub(crate) fn exp(self) -> Option<Wide> {
        if self.mant == 0 {
            return Some(Wide::ONE);
        }
        if self.exp > 40 {
            return None;
        }
        let c = &*CONSTS;
        // x = k·ln2 + r, |r| ≤ ln2/2; then e^r = (e^(r/16))¹⁶ with a short Taylor series.
        let k = self.mul(c.inv_ln2).round_to_i64()?;
        let r = self
            .sub(Wide::from_i64(k).mul(c.ln2))
            .mul_pow2(-EXP_HALVINGS);
        let mut p = INV_FACTORIAL[EXP_DEGREE];
        for j in (0..EXP_DEGREE).rev() {
            p = p.mul(r).add(INV_FACTORIAL[j]);
        }
        for _ in 0..EXP_HALVINGS {
            p = p.mul(p);
        }
        Some(p.mul_pow2(k))
    }

    /// ln x for x > 0, with an absolute error of about 2⁻¹²⁵ and, near x = 1, a relative error of
    /// the same order (the reduction below never subtracts two nearly equal logarithms).
    pub(crate) fn ln(self) -> Option<Wide> {
        if self.mant == 0 || self.neg {
            return None;
        }
        let c = &*CONSTS;
        // self = m · 2^e with m in [0.75, 1.5), then m = c_j · (1 + u), c_j = 1 + j/64.
        let (m, scaled, e) = if self.mant >= THREE_HALVES {
            (
                Wide {
                    mant: self.mant,
                    exp: -1,
                    neg: false,
                },
                self.mant >> 1,
                self.exp.saturating_add(1),
            )
        } else {
            (
                Wide {
                    mant: self.mant,
                    exp: 0,
                    neg: false,
                },
                self.mant,
                self.exp,
            )
        };
        let j = ((scaled + (1 << 120)) >> 121) as i64 - 64;
        let idx = (j + LN_TABLE_OFFSET) as usize;
        let u = m.mul(c.inv_c[idx]).sub(Wide::ONE);
        // ln(1+u) = 2·atanh(w), w = u/(2+u), |w| < 0.0053.
        let w = u.mul(Wide::TWO.add(u).recip()?);
        let series = atanh_series(w, LN_ATANH_TERMS).mul_pow2(1);
        Some(Wide::from_i64(e).mul(c.ln2).add(c.ln_c[idx]).add(series))
    }
}

/// A non-zero value with a 256-bit mantissa `hi·2¹²⁸ + lo` (top bit of `hi` set), before
/// rounding: an exact product, or an operand of an exact sum.
#[derive(Clone, Copy)]
struct Unrounded {
    hi: u128,
    lo: u128,
    exp: i64,
    neg: bool,
}

impl From<Wide> for Unrounded {
    #[inline(always)]
    fn from(w: Wide) -> Unrounded {
        Unrounded {
            hi: w.mant,
            lo: 0,
            exp: w.exp,
            neg: w.neg,
        }
    }
}

impl Unrounded {
    #[inline(always)]
    fn round(self) -> Wide {
        Wide::round(self.hi, self.lo, self.exp, self.neg)
    }

    /// The exact sum, truncated to 256 bits (an operand 256 or more bits smaller is dropped),
    /// then rounded to 128.
    #[inline(always)]
    fn add(self, other: Unrounded) -> Wide {
        let (big, small) = if (self.exp, self.hi, self.lo) >= (other.exp, other.hi, other.lo) {
            (self, other)
        } else {
            (other, self)
        };
        let d = big.exp.saturating_sub(small.exp);
        if d >= 256 {
            return big.round();
        }
        let d = d as u32;
        let (s_hi, s_lo) = if d == 0 {
            (small.hi, small.lo)
        } else if d < 128 {
            (small.hi >> d, (small.lo >> d) | (small.hi << (128 - d)))
        } else if d == 128 {
            (0, small.hi)
        } else {
            (0, small.hi >> (d - 128))
        };
        if big.neg == small.neg {
            let (lo, c1) = big.lo.overflowing_add(s_lo);
            let (hi, c2) = big.hi.overflowing_add(s_hi);
            let (hi, c3) = hi.overflowing_add(c1 as u128);
            if c2 || c3 {
                let lo = (lo >> 1) | (hi << 127);
                Wide::round((hi >> 1) | TOP, lo, big.exp.saturating_add(1), big.neg)
            } else {
                Wide::round(hi, lo, big.exp, big.neg)
            }
        } else {
            let (lo, borrow) = big.lo.overflowing_sub(s_lo);
            let hi = big.hi - s_hi - borrow as u128;
            if hi == 0 && lo == 0 {
                return Wide::ZERO;
            }
            let lz = if hi != 0 {
                hi.leading_zeros()
            } else {
                128 + lo.leading_zeros()
            };
            let (hi, lo) = if lz == 0 {
                (hi, lo)
            } else if lz < 128 {
                ((hi << lz) | (lo >> (128 - lz)), lo << lz)
            } else if lz == 128 {
                (lo, 0)
            } else {
                (lo << (lz - 128), 0)
            };
            Wide::round(hi, lo, big.exp.saturating_sub(lz as i64), big.neg)
        }
    }
}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Wide) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wide {
    fn cmp(&self, other: &Wide) -> Ordering {
        match self.signum().cmp(&other.signum()) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let magnitude = (self.exp, self.mant).cmp(&(other.exp, other.mant));
        match self.signum() {
            0 => Ordering::Equal,
            1 => magnitude,
            _ => magnitude.reverse(),
        }
    }
}

/// The full 256-bit product of two 128-bit integers, as (high, low) halves.
#[inline]
const fn mul_u128(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & LOW64);
    let (b1, b0) = (b >> 64, b & LOW64);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & LOW64) + (p10 & LOW64);
    let lo = (p00 & LOW64) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// w + w³/3 + w⁵/5 + … (terms up to w^(2·terms−1)).
fn atanh_series(w: Wide, terms: usize) -> Wide {
    let w2 = w.mul(w);
    let mut p = ODD_RECIPROCAL[terms - 1];
    for k in (0..terms - 1).rev() {
        p = p.mul(w2).add(ODD_RECIPROCAL[k]);
    }
    w.mul(p)
}

const EXP_HALVINGS: i64 = 4;
/// |r/16| ≤ 0.0217, so the Taylor remainder after degree 15 is below 2⁻¹³³.
const EXP_DEGREE: usize = 15;
/// |w| < 0.0053: the atanh series' remainder after 9 terms is below 2⁻¹⁴⁰.
const LN_ATANH_TERMS: usize = 9;
/// For the table itself and ln 2, |w| ≤ 1/3: 45 terms leave less than 2⁻¹⁴⁰.
const TABLE_ATANH_TERMS: usize = 45;
const THREE_HALVES: u128 = 3 << 126;
/// c_j = 1 + j/64 for j in −16..=32 covers m in [0.75, 1.5).
const LN_TABLE_OFFSET: i64 = 16;
const LN_TABLE_LEN: usize = 49;

const INV_FACTORIAL: [Wide; EXP_DEGREE + 1] = {
    let mut t = [Wide::ZERO; EXP_DEGREE + 1];
    let mut f: u128 = 1;
    let mut j = 0;
    while j <= EXP_DEGREE {
        if j > 0 {
            f *= j as u128;
        }
        t[j] = Wide::ratio(1, f);
        j += 1;
    }
    t
};

const ODD_RECIPROCAL: [Wide; TABLE_ATANH_TERMS] = {
    let mut t = [Wide::ZERO; TABLE_ATANH_TERMS];
    let mut k = 0;
    while k < TABLE_ATANH_TERMS {
        t[k] = Wide::ratio(1, 2 * k as u128 + 1);
        k += 1;
    }
    t
};

/// 10^s, exact.
pub(crate) const POW10: [Wide; 29] = {
    let mut t = [Wide::ZERO; 29];
    let mut p: u128 = 1;
    let mut s = 0;
    while s < 29 {
        t[s] = Wide::from_u128(p);
        p *= 10;
        s += 1;
    }
    t
};

/// 10^−s, correctly rounded.
const POW10_NEG: [Wide; 29] = {
    let mut t = [Wide::ZERO; 29];
    let mut p: u128 = 1;
    let mut s = 0;
    while s < 29 {
        t[s] = Wide::ratio(1, p);
        p *= 10;
        s += 1;
    }
    t
};

struct Consts {
    ln2: Wide,
    inv_ln2: Wide,
    /// ln(1 + j/64) and 64/(64 + j) for j in −16..=32.
    ln_c: [Wide; LN_TABLE_LEN],
    inv_c: [Wide; LN_TABLE_LEN],
}

/// Built once from series (ln 2 = 2·atanh(1/3), ln c = 2·atanh((c−1)/(c+1))), so no constant in
/// this file is a magic number; the unit tests check them against 38-digit references.
static CONSTS: LazyLock<Consts> = LazyLock::new(|| {
    let ln2 = atanh_series(Wide::ratio(1, 3), TABLE_ATANH_TERMS).mul_pow2(1);
    let inv_ln2 = ln2.recip().unwrap_or(Wide::ONE);
    let mut ln_c = [Wide::ZERO; LN_TABLE_LEN];
    let mut inv_c = [Wide::ZERO; LN_TABLE_LEN];
    for (idx, (ln, inv)) in ln_c.iter_mut().zip(inv_c.iter_mut()).enumerate() {
        let j = idx as i64 - LN_TABLE_OFFSET;
        let w = Wide::ratio(j.unsigned_abs() as u128, (128 + j) as u128);
        let w = if j < 0 { w.neg() } else { w };
        *ln = atanh_series(w, TABLE_ATANH_TERMS).mul_pow2(1);
        *inv = Wide::ratio(64, (64 + j) as u128);
    }
    Consts {
        ln2,
        inv_ln2,
        ln_c,
        inv_c,
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Parses a decimal string with up to 38 significant digits exactly enough for these tests.
    fn w(s: &str) -> Wide {
        let neg = s.starts_with('-');
        let s = s.trim_start_matches('-');
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits: String = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        let keep = digits.len().min(38);
        let m: u128 = if keep == 0 {
            0
        } else {
            digits[..keep].parse().unwrap()
        };
        // value = m · 10^(len(int) − keep) adjusted for leading zeros stripped
        let lead = format!("{int}{frac}").len() - digits.len();
        let exp10 = int.len() as i64 - lead as i64 - keep as i64;
        let v = if exp10 >= 0 {
            Wide::from_u128(m).mul(POW10[exp10 as usize])
        } else {
            let mut v = Wide::from_u128(m);
            let mut e = -exp10;
            while e > 0 {
                let step = e.min(28);
                v = v.mul(POW10_NEG[step as usize]);
                e -= step;
            }
            v
        };
        if neg { v.neg() } else { v }
    }

    /// ⌊log₂ of the relative error⌋ (i64::MIN when exact).
    fn rel_err(got: Wide, want: Wide) -> i64 {
        let d = got.sub(want).abs();
        if d.is_zero() {
            return i64::MIN;
        }
        d.mul(want.abs().recip().unwrap()).log2_floor()
    }

    #[test]
    fn arithmetic_is_exact_where_it_should_be() {
        let cases: [(Wide, Wide, Wide); 4] = [
            (Wide::from_i64(3), Wide::from_i64(4), Wide::from_i64(7)),
            (Wide::from_i64(-3), Wide::from_i64(4), Wide::from_i64(1)),
            (Wide::from_i64(3), Wide::from_i64(-3), Wide::ZERO),
            (Wide::ratio(1, 3), Wide::ratio(2, 3), Wide::ONE),
        ];
        for (i, (a, b, sum)) in cases.iter().enumerate() {
            assert_eq!(a.add(*b), *sum, "case {i}: {a:?} + {b:?}");
        }
        assert_eq!(
            Wide::from_i64(6).mul(Wide::from_i64(-7)),
            Wide::from_i64(-42)
        );
        assert_eq!(Wide::from_i64(7).powi(5), Wide::from_i64(16807));
        assert!(Wide::from_i64(-2) < Wide::from_i64(1));
        assert!(Wide::from_i64(-2) < Wide::from_i64(-1));
        assert!(Wide::ratio(1, 3) > Wide::ZERO);
    }

    #[test]
    fn mul_add_rounds_once() {
        // (1 + 2⁻⁷⁰)² − (1 + 2⁻⁶⁹) = 2⁻¹⁴⁰ exactly; a rounded product would lose it.
        let a = Wide::ONE.add(Wide::ONE.mul_pow2(-70));
        let b = Wide::ONE.add(Wide::ONE.mul_pow2(-69)).neg();
        assert_eq!(a.mul_add(a, b), Wide::ONE.mul_pow2(-140));
        assert_eq!(a.mul_add(Wide::ZERO, b), b);
        let x = Wide::ratio(7, 3);
        assert_eq!(x.mul_add(Wide::from_i64(3), Wide::ZERO), Wide::from_i64(7));
    }

    #[test]
    fn cancellation_keeps_the_low_bits() {
        // (1 + 2⁻¹⁰⁰) − 1 must be exactly 2⁻¹⁰⁰.
        let tiny = Wide::ONE.mul_pow2(-100);
        assert_eq!(Wide::ONE.add(tiny).sub(Wide::ONE), tiny);
    }

    #[test]
    fn reciprocal_and_division() {
        for d in [3i64, 7, 10, 365, -12345, 1 << 40] {
            let r = Wide::from_i64(d).recip().unwrap();
            let back = r.mul(Wide::from_i64(d));
            assert!(rel_err(back, Wide::ONE) < -126, "1/{d}");
        }
        assert!(Wide::ZERO.recip().is_none());
        assert_eq!(Wide::ONE.recip(), Some(Wide::ONE));
        assert_eq!(
            Wide::from_i64(-4).recip(),
            Some(Wide::ONE.mul_pow2(-2).neg())
        );
    }

    #[test]
    fn decimal_round_trip() {
        let cases = [
            "0",
            "1",
            "-1",
            "0.1",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "1.0000000000000000000000000001",
            "-0.9999999999999832633809057503",
            "123456.789",
            "7.9228162514264337593543950335",
        ];
        for s in cases {
            let d = Decimal::from_str(s).unwrap();
            assert_eq!(Wide::from_decimal(d).to_decimal(), Some(d), "{s}");
        }
        assert_eq!(Wide::from_i64(1).mul_pow2(96).to_decimal(), None);
        // 2/3 rounds half away from zero at the 28th decimal.
        assert_eq!(
            Wide::ratio(2, 3).to_decimal().unwrap().to_string(),
            "0.6666666666666666666666666667"
        );
    }

    /// References: mpmath at 50 digits.
    #[test]
    fn exp_and_ln_match_references() {
        let ln_cases = [
            ("1.08", "0.076961041136128324984217044315201834891"),
            ("2", "0.69314718055994530941723212145817656808"),
            (
                "0.0000000000000167",
                "-31.723367675487975837028112498205047956",
            ),
            ("1000001", "13.815511557963774104441281811439718579"),
            ("1.4999", "0.40539843921917672271849046708674114476"),
            ("0.75", "-0.2876820724517809274392190059938274315"),
        ];
        for (x, want) in ln_cases {
            let got = Wide::from_decimal(Decimal::from_str(x).unwrap())
                .ln()
                .unwrap();
            let want = parse_sci(want);
            assert!(rel_err(got, want) < -122, "ln({x})");
        }
        let exp_cases = [
            ("1", "2.7182818284590452353602874713526624978"),
            ("-31.72", "1.6756334986383210710179173012890997646e-14"),
            (
                "0.00021085216749624198625812888853479954765",
                "1.000210874398376959924795200002308903",
            ),
            (
                "64.472382603833279152503760731162197813",
                "1.0000000000000000000000000000000000000e28",
            ),
            ("-0.5", "0.60653065971263342360379953499118045344"),
        ];
        for (x, want) in exp_cases {
            let got = parse_sci(x).exp().unwrap();
            let want = parse_sci(want);
            assert!(rel_err(got, want) < -120, "exp({x})");
        }
        // Near 1, 1 + x itself is only held to 2⁻¹²⁸ absolute, so ln can promise an absolute
        // error of that order, which is ten orders below Decimal's resolution for a rate.
        let near_one = [
            (
                "-0.0000000000000000000000000001",
                "-1.00000000000000000000000000005e-28",
            ),
            (
                "0.0000000000000000000000000001",
                "9.9999999999999999999999999995e-29",
            ),
        ];
        for (x, want) in near_one {
            let got = Wide::ONE
                .add(Wide::from_decimal(Decimal::from_str(x).unwrap()))
                .ln()
                .unwrap();
            let abs_err = got.sub(parse_sci(want)).abs();
            assert!(abs_err < Wide::ONE.mul_pow2(-124), "ln(1 + {x})");
        }
        assert_eq!(Wide::ZERO.exp(), Some(Wide::ONE));
        assert_eq!(Wide::ONE.ln(), Some(Wide::ZERO));
        assert!(Wide::ZERO.ln().is_none());
        assert!(Wide::from_i64(-1).ln().is_none());
    }

    fn parse_sci(s: &str) -> Wide {
        match s.split_once('e') {
            None => w(s),
            Some((m, e)) => {
                let e: i64 = e.parse().unwrap();
                let mut v = w(m);
                let mut left = e.abs();
                while left > 0 {
                    let step = left.min(28) as usize;
                    v = v.mul(if e > 0 { POW10[step] } else { POW10_NEG[step] });
                    left -= step as i64;
                }
                v
            }
        }
    }
}
