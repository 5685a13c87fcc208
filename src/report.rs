//! What `lodestone run` prints: a short table, party × scenario, of NPV and IRR. The only
//! place that rounds, and only for presentation (Excel's ROUND: half away from zero).

use rust_decimal::{Decimal, RoundingStrategy};

use crate::engine::Results;

/// Excel's ROUND: half away from zero.
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;
/// Money is shown in millions with one decimal place.
pub const MILLIONS_DP: u32 = 1;
/// Rates are shown as percentages with one decimal place.
pub const PERCENT_DP: u32 = 1;

/// Thousands separators for an integer part.
fn group(digits: &str) -> String {
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1234567.89 → "1.2m"; -2500000000 → "-2,500.0m".
pub fn millions(v: Decimal) -> String {
    let m = (v / Decimal::from(1_000_000)).round_dp_with_strategy(MILLIONS_DP, ROUNDING);
    let text = format!("{:.1$}", m.abs(), MILLIONS_DP as usize);
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let sign = if m.is_sign_negative() && !m.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{}.{frac}m", group(int))
}

/// 0.12345 → "12.3%".
pub fn percent(v: Decimal) -> String {
    let p = (v * Decimal::ONE_HUNDRED).round_dp_with_strategy(PERCENT_DP, ROUNDING);
    format!("{:.1$}%", p, PERCENT_DP as usize)
}

/// The run table: one row per party, NPV and IRR per scenario.
pub fn table(runs: &[Results], currency: &str) -> String {
    let Some(first) = runs.first() else {
        return String::new();
    };
    let skip = ["project", "market", "suppliers", "funding gap"];
    let names: Vec<&str> = first
        .parties
        .iter()
        .filter(|p| !skip.contains(&p.kind.as_str()))
        .map(|p| p.name.as_str())
        .collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
    let mut out = String::new();
    out.push_str(&format!("{:width$}", "", width = width));
    for r in runs {
        let head: String = r.scenario.chars().take(22).collect();
        out.push_str(&format!("  {:>22}", head));
    }
    out.push('\n');
    out.push_str(&format!(
        "{:width$}",
        format!("NPV ({currency}) / IRR"),
        width = width
    ));
    for _ in runs {
        out.push_str(&format!("  {:>12} {:>9}", "NPV", "IRR"));
    }
    out.push('\n');
    for name in names {
        out.push_str(&format!("{:width$}", name, width = width));
        for r in runs {
            let (npv, irr) = match r.party(name) {
                Some(p) => (
                    p.npv.parse::<Decimal>().map(millions).unwrap_or_default(),
                    p.irr
                        .as_deref()
                        .and_then(|i| i.parse::<Decimal>().ok())
                        .map(percent)
                        .unwrap_or_else(|| "n/a".into()),
                ),
                None => ("".into(), "".into()),
            };
            out.push_str(&format!("  {:>12} {:>9}", npv, irr));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn presentation_rounds_half_away_from_zero_like_excel() {
        let cases = [
            (dec!(1234567.89), "1.2m"),
            (dec!(-2500000000), "-2,500.0m"),
            (dec!(50000), "0.1m"),
            (dec!(-50000), "-0.1m"),
            (dec!(0), "0.0m"),
            (dec!(987654321012.5), "987,654.3m"),
        ];
        for (v, want) in cases {
            assert_eq!(millions(v), want, "millions({v})");
        }
        assert_eq!(percent(dec!(0.12345)), "12.3%");
        assert_eq!(percent(dec!(0.00049)), "0.0%");
        assert_eq!(percent(dec!(-0.0125)), "-1.3%");
    }
}
