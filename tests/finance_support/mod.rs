//! Helpers shared by the finance test suites: reading the fixtures exactly.

#![allow(dead_code)]

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A reference or input number as the nearest `Decimal`, and whether that is exact.
///
/// The fixtures print references to 40 significant digits and some inputs in scientific
/// notation (down to 1e-313); `Decimal` holds at most 28 decimal places and 28–29 significant
/// digits, so the text is rounded (half away from zero) at whichever limit binds first.
pub fn parse_decimal(text: &str) -> (Decimal, bool) {
    let text = text.trim();
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exp10) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().expect("exponent")),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int}{frac}").trim_start_matches('0').to_string();
    let mut exp = exp10 - frac.len() as i64;
    if digits.is_empty() {
        return (Decimal::ZERO, true);
    }
    while digits.ends_with('0') {
        digits.pop();
        exp += 1;
    }
    if exp > 0 {
        digits.push_str(&"0".repeat(exp as usize));
        exp = 0;
    }
    let mut scale = -exp;
    let len = digits.len() as i64;
    let drop = (scale - 28).max(len - 28).max(0);
    assert!(drop <= scale, "{text}: integer part too long for Decimal");
    let mut exact = true;
    if drop > 0 {
        exact = false;
        let (kept, round_up) = if drop >= len {
            ("0".to_string(), drop == len && digits.as_bytes()[0] >= b'5')
        } else {
            let cut = (len - drop) as usize;
            (digits[..cut].to_string(), digits.as_bytes()[cut] >= b'5')
        };
        digits = if round_up { increment(&kept) } else { kept };
        scale -= drop;
    }
    let m: i128 = digits.parse().expect("digits");
    let d = Decimal::from_i128_with_scale(if neg { -m } else { m }, scale as u32);
    (d, exact)
}

fn increment(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    let mut i = bytes.len();
    loop {
        if i == 0 {
            bytes.insert(0, b'1');
            break;
        }
        i -= 1;
        if bytes[i] == b'9' {
            bytes[i] = b'0';
        } else {
            bytes[i] += 1;
            break;
        }
    }
    String::from_utf8(bytes).expect("ascii")
}

pub fn dec(text: &str) -> Decimal {
    parse_decimal(text).0
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("ISO date")
}

pub fn decs(texts: &[&str]) -> Vec<Decimal> {
    texts.iter().map(|t| dec(t)).collect()
}

/// Σ|vᵢ|, the scale NPV tolerances are relative to.
pub fn abs_sum(values: &[Decimal]) -> Decimal {
    values.iter().map(|v| v.abs()).sum()
}

/// A rate tolerance: 1e-20 relative (with 1e-8 as the smallest scale), never finer than two
/// units of `Decimal`'s last place.
pub fn rate_tolerance(expected: Decimal) -> Decimal {
    (expected.abs().max(Decimal::new(1, 8)) * Decimal::new(1, 20)).max(Decimal::new(2, 28))
}

/// The same roots, in order, each within [`rate_tolerance`] of the expected one.
pub fn roots_match(got: &[Decimal], want: &[Decimal]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (*g - *w).abs() <= rate_tolerance(*w))
}

/// A small deterministic generator (SplitMix64), so property tests need no dependency and
/// fail reproducibly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// An amount with two decimals in [−max, max] (as cents).
    pub fn amount(&mut self, max_cents: i64) -> Decimal {
        Decimal::new(self.range(-max_cents, max_cents), 2)
    }
}
