//! The one place where a cell's value becomes an exact value, and back: numbers between
//! `f64` and `Decimal` through their shortest text, numeric text ("5%", "1,250,000",
//! "(1,000)"), Excel serial dates (with the 1900 leap-year bug), ISO dates and yes/no.
//!
//! Owns the conversions and the wording of what a cell was found to hold. Knows nothing of
//! sheets or fields: the reader decides what a cell must hold and where it is.

use std::str::FromStr;

use calamine::Data;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// The exact decimal an `f64` cell shows: through its shortest round-trip text (`{:e}` is
/// Rust's shortest representation with an exponent), so 0.1 stays 0.1 and 1e-7 stays
/// 0.0000001. Never `from_f64_retain`, which would keep the binary expansion.
pub fn decimal_from_f64(x: f64) -> Result<Decimal, String> {
    if !x.is_finite() {
        return Err(format!("{x} is not a finite number"));
    }
    let text = format!("{x:e}");
    exact_decimal(&text).map_err(|e| format!("{} {e}", shortest(x)))
}

/// The shortest text of an `f64`, as Excel would show it in General format (no exponent
/// for ordinary magnitudes).
pub fn shortest(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-9..1e21).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// The `f64` a Decimal is written as: parsed from its text, never `to_f64`. None when the
/// `f64` would not read back as the same decimal (more than ~15–17 significant digits), so
/// that the writer can store such values as text instead and keep them exact.
pub fn f64_for_cell(d: Decimal) -> Option<f64> {
    let x: f64 = d.to_string().parse().ok()?;
    match decimal_from_f64(x) {
        Ok(back) if back == d => Some(x),
        _ => None,
    }
}

/// Parses `[-]digits[.digits][e[+-]digits]` exactly.
pub fn exact_decimal(text: &str) -> Result<Decimal, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err("is not a number".to_string());
    }
    let (mantissa_text, exponent) = match body.find(['e', 'E']) {
        Some(i) => {
            let exp: i64 = body[i + 1..]
                .parse()
                .map_err(|_| "is not a number".to_string())?;
            (&body[..i], exp)
        }
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa_text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa_text, ""),
    };
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("is not a number".to_string());
    }
    if !(-400..=400).contains(&exponent) {
        return Err("is too large or too small to hold exactly".to_string());
    }
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mut scale: i64 = frac_part.len() as i64 - exponent;
    let mut digits = digits.to_string();
    if digits.is_empty() {
        return Ok(Decimal::ZERO);
    }
    // Trailing zeros only matter when the scale is beyond what a Decimal holds.
    while scale > i64::from(Decimal::MAX_SCALE) && digits.ends_with('0') {
        digits.pop();
        scale -= 1;
    }
    if digits.len() > 29 {
        return Err("has more significant digits than can be held exactly (29)".to_string());
    }
    let mut mantissa: i128 = digits.parse().map_err(|_| "is not a number".to_string())?;
    if scale > i64::from(Decimal::MAX_SCALE) {
        return Err("has more than 28 decimal places".to_string());
    }
    if scale < 0 {
        for _ in 0..(-scale) {
            mantissa = mantissa
                .checked_mul(10)
                .ok_or_else(|| "is too large to hold exactly".to_string())?;
        }
        scale = 0;
    }
    if negative {
        mantissa = -mantissa;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale as u32)
        .map_err(|_| "is too large to hold exactly".to_string())
}

/// Why numeric text was not read: the reason, shown after "expected a number".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

/// Reads a number typed as text. Accepted, exactly: `1250000`, `1,250,000` (commas only
/// as thousands separators in groups of three), `-5`, `−5`, `+5`, `(1,000)` (accounting
/// negative), `0.05`, `5%` (0.05), `1.5e20`. Rejected with a reason: currency marks
/// (`US$110`, `A$1.65bn`: the currency is set by a Currency column or the deal),
/// multipliers (`1.65bn`, `20m`), decimal commas (`1,5`), spaces inside the digits.
pub fn number_from_text(raw: &str) -> Result<Decimal, Rejected> {
    let mut s = raw.trim().replace('\u{2212}', "-");
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') && s.len() >= 2 {
        negative = true;
        s = s[1..s.len() - 1].trim().to_string();
    }
    let mut percent = false;
    if let Some(rest) = s.strip_suffix('%') {
        percent = true;
        s = rest.trim_end().to_string();
    }
    if let Some(rest) = s.strip_prefix('-') {
        if negative {
            return Err(Rejected("two minus signs".into()));
        }
        negative = true;
        s = rest.trim_start().to_string();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.trim_start().to_string();
    }
    if s.is_empty() {
        return Err(Rejected("no digits".into()));
    }
    let lower = s.to_lowercase();
    let letters = s.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    if matches!(&lower[..letters], "fy" | "cy" | "y")
        && lower[letters..]
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(Rejected(format!(
            "year labels such as '{}' are not read; type the year alone, as a number such as {} (a period is labelled by the calendar year it starts in)",
            s,
            s[letters..].trim_start()
        )));
    }
    let after_letters = s[letters..].trim_start();
    let currency_code =
        (1..=3).contains(&letters) && after_letters.starts_with(|c: char| c.is_ascii_digit());
    if s.contains(['$', '€', '£', '¥']) || currency_code {
        return Err(Rejected(
            "currency marks are not read: the currency is set by the sheet's Currency column or the deal currency; type the number alone".into(),
        ));
    }
    for suffix in [
        "bn", "mn", "mm", "m", "k", "b", "million", "billion", "thousand",
    ] {
        if let Some(head) = lower.strip_suffix(suffix)
            && head
                .trim_end()
                .ends_with(|c: char| c.is_ascii_digit() || c == '.')
        {
            return Err(Rejected(format!(
                "multipliers such as '{suffix}' are not read, to keep numbers exact and unambiguous; type the full number"
            )));
        }
    }
    if s.chars().any(char::is_whitespace) {
        return Err(Rejected(
            "spaces inside a number are ambiguous; type it without spaces (commas may separate thousands)".into(),
        ));
    }
    let s = if s.contains(',') {
        let (int_part, rest) = match s.find(['.', 'e', 'E']) {
            Some(i) => (&s[..i], &s[i..]),
            None => (s.as_str(), ""),
        };
        if rest.contains(',') {
            return Err(Rejected(
                "a comma after the decimal point is ambiguous; use '.' for decimals and ',' only between thousands".into(),
            ));
        }
        let groups: Vec<&str> = int_part.split(',').collect();
        let well_grouped = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !well_grouped {
            return Err(Rejected(
                "a comma that does not separate thousands is ambiguous (a decimal comma?); use '.' for decimals".into(),
            ));
        }
        format!("{}{rest}", groups.concat())
    } else {
        s
    };
    let mut d = exact_decimal(&s).map_err(Rejected)?;
    if percent {
        d = d
            .checked_div(Decimal::ONE_HUNDRED)
            .ok_or_else(|| Rejected("is too large to hold exactly".into()))?;
    }
    if negative {
        d = -d;
    }
    Ok(d)
}

/// Excel's 1900 date system: serial 1 is 1900-01-01, and serial 60 is the 29 February 1900
/// that Excel counts but that never was (a bug kept from Lotus 1-2-3), so serials before it
/// are one day off a plain count.
pub fn date_from_serial(serial: Decimal) -> Result<NaiveDate, String> {
    if !serial.is_integer() {
        return Err("has a time of day (expected a date alone)".into());
    }
    let n: i64 = serial
        .try_into()
        .map_err(|_| "is not a date serial".to_string())?;
    if n == 60 {
        return Err("is 1900-02-29, a day that does not exist (Excel's 1900 leap-year bug)".into());
    }
    if !(1..=2_958_465).contains(&n) {
        return Err("is outside Excel's dates (1900-01-01 to 9999-12-31)".into());
    }
    let base = if n < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31)
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)
    };
    base.and_then(|b| b.checked_add_days(chrono::Days::new(n as u64)))
        .ok_or_else(|| "is not a date serial".to_string())
}

/// A date cell as calamine gives it (its own epoch handling, 1900 or 1904).
pub fn date_from_excel(dt: &calamine::ExcelDateTime) -> Result<NaiveDate, String> {
    if !dt.is_datetime() {
        return Err("is a duration".into());
    }
    let (y, m, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    if (y, m, d) == (1900, 2, 29) {
        return Err("is 1900-02-29, a day that does not exist (Excel's 1900 leap-year bug)".into());
    }
    if (h, mi, s, ms) != (0, 0, 0, 0) {
        return Err("has a time of day (expected a date alone)".into());
    }
    NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
        .ok_or_else(|| "is not a valid date".to_string())
}

/// ISO 8601 date text: `2027-01-01`, optionally followed by a midnight time.
pub fn date_from_iso(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    let (date, time) = match t.split_once(['T', ' ']) {
        Some((d, time)) => (d, Some(time)),
        None => (t, None),
    };
    if let Some(time) = time {
        let zero = time
            .trim_end_matches('Z')
            .chars()
            .all(|c| c == '0' || c == ':' || c == '.');
        if !zero {
            return Err("has a time of day (expected a date alone)".into());
        }
    }
    let ok_shape = date.len() == 10
        && date.as_bytes()[4] == b'-'
        && date.as_bytes()[7] == b'-'
        && date
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !ok_shape {
        return Err("is not an ISO date".into());
    }
    NaiveDate::from_str(date).map_err(|_| "is not a valid date".to_string())
}

/// yes/no as a modeller types it.
pub fn yes_no_from_text(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// What a cell was found to hold, for messages: `text "twelve"`, `12.5`, `TRUE`, `#DIV/0!`.
pub fn describe(data: &Data) -> String {
    match data {
        Data::Empty => "a blank".to_string(),
        Data::String(s) if s.trim().is_empty() => "a blank".to_string(),
        Data::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "…" } else { "" };
            format!("text \"{shown}{more}\"")
        }
        Data::Float(x) => shortest(*x),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(dt) => match date_from_excel(dt) {
            Ok(d) => format!("the date {}", d.format("%Y-%m-%d")),
            Err(_) => format!("a date-formatted {}", shortest(dt.as_f64())),
        },
        Data::DateTimeIso(s) => format!("the date \"{s}\""),
        Data::DurationIso(s) => format!("the duration \"{s}\""),
        Data::Error(e) => format!("the error value {e}"),
    }
}

/// A year as a number (or its text): whole, 1900–2200.
pub fn year_from_decimal(d: Decimal) -> Option<i32> {
    if !d.is_integer() {
        return None;
    }
    let y: i64 = d.try_into().ok()?;
    if (1900..=2200).contains(&y) {
        Some(y as i32)
    } else {
        None
    }
}

/// The year of a date, for messages.
pub fn year_of(d: NaiveDate) -> i32 {
    d.year()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn floats_become_their_shortest_decimal() {
        let cases: &[(&str, f64, &str)] = &[
            ("one tenth stays one tenth", 0.1, "0.1"),
            ("small exponent", 1e-7, "0.0000001"),
            ("large exponent", 1.5e20, "150000000000000000000"),
            ("whole year", 2026.0, "2026"),
            ("percent cell", 0.05, "0.05"),
            ("negative", -1234.5, "-1234.5"),
            ("zero", 0.0, "0"),
            ("third", 1.0 / 3.0, "0.3333333333333333"),
            ("17 digits", 123456789012345680.0, "123456789012345680"),
            ("1e-28", 1e-28, "0.0000000000000000000000000001"),
        ];
        for (case, x, want) in cases {
            let got = decimal_from_f64(*x);
            assert_eq!(got, Ok(dec(want)), "case {case}: {x}");
            assert_eq!(
                got.map(|d| d.to_string()),
                Ok(want.to_string()),
                "case {case}: text"
            );
        }
    }

    #[test]
    fn floats_beyond_decimal_are_rejected() {
        for (case, x) in [
            ("too large", 1e30),
            ("too small", 1e-29),
            ("infinite", f64::INFINITY),
            ("nan", f64::NAN),
        ] {
            assert!(decimal_from_f64(x).is_err(), "case {case}: {x}");
        }
    }

    #[test]
    fn decimals_are_written_through_their_text() {
        let cases = [
            ("tenth", "0.1", Some(0.1)),
            ("price", "82.5", Some(82.5)),
            ("big", "1500000000", Some(1.5e9)),
            ("too many digits for f64", "0.12345678901234567890123", None),
        ];
        for (case, text, want) in cases {
            assert_eq!(f64_for_cell(dec(text)), want, "case {case}");
        }
    }

    #[test]
    fn numeric_text_is_read_exactly_or_rejected_with_a_reason() {
        let ok = [
            ("plain", "1250000", "1250000"),
            ("thousands", "1,250,000", "1250000"),
            ("thousands and decimals", "1,250,000.75", "1250000.75"),
            ("percent", "5%", "0.05"),
            ("percent with space", "12.5 %", "0.125"),
            ("negative percent", "-70%", "-0.7"),
            ("accounting negative", "(1,000)", "-1000"),
            ("unicode minus", "\u{2212}5", "-5"),
            ("plus", "+5", "5"),
            ("exponent", "1.5e20", "150000000000000000000"),
            ("small exponent", "1E-7", "0.0000001"),
            ("leading dot", ".5", "0.5"),
            ("surrounding spaces", "  42 ", "42"),
        ];
        for (case, text, want) in ok {
            assert_eq!(number_from_text(text), Ok(dec(want)), "case {case}: {text}");
        }
        let rejected = [
            ("word", "twelve", "not a number"),
            ("us dollars", "US$110", "currency"),
            ("dollar", "$110", "currency"),
            ("aud billions", "A$1.65bn", "currency"),
            ("billions", "1.65bn", "multipliers"),
            ("millions", "20m", "multipliers"),
            ("decimal comma", "1,5", "comma"),
            ("bad grouping", "12,50,000", "comma"),
            ("spaces", "1 250 000", "spaces"),
            ("empty", "", "no digits"),
            ("two dots", "1.2.3", "not a number"),
            (
                "too precise",
                "0.12345678901234567890123456789",
                "decimal places",
            ),
            (
                "huge exponent",
                "1e-9223372036854775808",
                "too large or too small",
            ),
        ];
        for (case, text, reason) in rejected {
            match number_from_text(text) {
                Ok(d) => panic!("case {case}: {text} read as {d}"),
                Err(Rejected(r)) => assert!(r.contains(reason), "case {case}: {r}"),
            }
        }
    }

    #[test]
    fn excel_serials_follow_the_1900_leap_year_bug() {
        let cases = [
            ("first day", 1, Some((1900, 1, 1))),
            ("last true February day", 59, Some((1900, 2, 28))),
            ("phantom 29 February", 60, None),
            ("first of March", 61, Some((1900, 3, 1))),
            ("2027", 46388, Some((2027, 1, 1))),
            ("zero", 0, None),
        ];
        for (case, serial, want) in cases {
            let got = date_from_serial(Decimal::from(serial)).ok();
            let want = want.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
            assert_eq!(got, want, "case {case}: serial {serial}");
        }
    }

    #[test]
    fn serial_dates_agree_with_calamine() {
        for serial in [1.0, 2.0, 59.0, 61.0, 366.0, 46388.0, 73051.0] {
            let dt =
                calamine::ExcelDateTime::new(serial, calamine::ExcelDateTimeType::DateTime, false);
            assert_eq!(
                date_from_excel(&dt).ok(),
                date_from_serial(Decimal::from(serial as i64)).ok(),
                "serial {serial}"
            );
        }
    }

    #[test]
    fn iso_dates_and_yes_no() {
        assert_eq!(
            date_from_iso("2027-01-01").ok(),
            NaiveDate::from_ymd_opt(2027, 1, 1)
        );
        assert_eq!(
            date_from_iso("2027-01-01T00:00:00").ok(),
            NaiveDate::from_ymd_opt(2027, 1, 1)
        );
        assert!(date_from_iso("2027-02-30").is_err());
        assert!(date_from_iso("1/1/2027").is_err());
        assert!(date_from_iso("2027-01-01T12:00:00").is_err());
        for (text, want) in [
            ("yes", Some(true)),
            ("Y", Some(true)),
            ("TRUE", Some(true)),
            ("1", Some(true)),
            ("no", Some(false)),
            ("n", Some(false)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("maybe", None),
        ] {
            assert_eq!(yes_no_from_text(text), want, "case {text}");
        }
    }
}
