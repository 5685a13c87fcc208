//! What the commands print: `run`'s table, party × scenario, of NPV and IRR; the tornado,
//! the breakeven answers and the Monte Carlo statistics. The only place that rounds, and
//! only for presentation (Excel's ROUND: half away from zero).

use rust_decimal::{Decimal, RoundingStrategy};

use crate::analytics::breakeven::{Outcome, Question, ScenarioAnswers, Unknown, floors_at};
use crate::analytics::montecarlo::Report;
use crate::analytics::sensitivity::Tornado;
use crate::engine::Results;
use crate::engine::results::CheckFailure;

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

/// An amount to the cent with thousands separators: -5400000.126 → "-5,400,000.13".
pub fn amount(v: Decimal) -> String {
    let r = v.round_dp_with_strategy(2, ROUNDING);
    let text = format!("{:.2}", r.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if r.is_sign_negative() && !r.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{}.{frac}", group(int))
}

/// A failed check as the commands print it, first: "CHECK FAILED: scenario 'Base': The
/// ledger balances in every period fails in 2030 by 5,400,000.00 USD (largest deviation …)".
pub fn check_failure(f: &CheckFailure, currency: &str) -> String {
    match (f.year, f.amount) {
        (Some(year), Some(v)) => format!(
            "CHECK FAILED: scenario '{}': {} fails in {year} by {} {currency} ({})",
            f.scenario,
            f.check,
            amount(v),
            f.detail
        ),
        _ => format!(
            "CHECK FAILED: scenario '{}': {} fails ({})",
            f.scenario, f.check, f.detail
        ),
    }
}

/// 0.12345 → "12.3%".
pub fn percent(v: Decimal) -> String {
    let p = (v * Decimal::ONE_HUNDRED).round_dp_with_strategy(PERCENT_DP, ROUNDING);
    format!("{:.1$}%", p, PERCENT_DP as usize)
}

/// The run table: one row per party of the deal (the project company and the parties
/// outside the deal are kept in the ledger, not measured), NPV and IRR per scenario. An IRR
/// with a star is one of several (listed below the table with the MIRR); an offtaker's NPV
/// is the value of its contracts, and the tonnes it secures follow.
pub fn table(runs: &[Results], currency: &str) -> String {
    let Some(first) = runs.first() else {
        return String::new();
    };
    let names: Vec<&str> = first
        .parties
        .iter()
        .filter(|p| !p.ledger_only)
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
                    p.npv.map(millions).unwrap_or_default(),
                    p.irr
                        .map(percent)
                        .map(|i| if p.irr_unique { i } else { format!("{i}*") })
                        .unwrap_or_else(|| "n/a".into()),
                ),
                None => ("".into(), "".into()),
            };
            out.push_str(&format!("  {:>12} {:>9}", npv, irr));
        }
        out.push('\n');
    }
    let offtakers: Vec<&str> = first
        .parties
        .iter()
        .filter(|p| p.offtake.is_some())
        .map(|p| p.name.as_str())
        .collect();
    if !offtakers.is_empty() {
        out.push_str("Tonnes secured\n");
        for name in &offtakers {
            out.push_str(&format!("{:width$}", name, width = width));
            for r in runs {
                let tonnes = r
                    .party(name)
                    .and_then(|p| p.offtake.as_ref())
                    .map(|o| format!("{} t", whole(o.tonnes_secured)))
                    .unwrap_or_default();
                out.push_str(&format!("  {:>22}", tonnes));
            }
            out.push('\n');
        }
        out.push_str(
            "Offtakers' NPV is the value of their contracts: the discounted (market price − contract price) × the tonnes they take, at their own rate.\n",
        );
    }
    let mut several = Vec::new();
    for r in runs {
        for p in r.parties.iter().filter(|p| !p.ledger_only && !p.irr_unique) {
            let roots: Vec<String> = p.irr_roots.iter().map(|x| percent(*x)).collect();
            let mirr = p.mirr.map(percent).unwrap_or_else(|| "n/a".into());
            several.push(format!(
                "  {} in {}: IRRs {}; MIRR {mirr}\n",
                p.name,
                r.scenario,
                roots.join(", ")
            ));
        }
    }
    if !several.is_empty() {
        out.push_str(
            "* one of several IRRs: these flows change sign more than once, so several rates make their NPV zero and none of them ranks the investment; read the NPV, and the MIRR (at the party's own rate):\n",
        );
        for line in several {
            out.push_str(&line);
        }
    }
    out
}

/// Ratios (DSCR) are shown with four decimal places: 1.0003x.
pub const RATIO_DP: u32 = 4;

/// 1.00029 → "1.0003x".
pub fn ratio(v: Decimal) -> String {
    let r = v.round_dp_with_strategy(RATIO_DP, ROUNDING);
    format!("{:.1$}x", r, RATIO_DP as usize)
}

/// A whole amount with thousands separators: −1234567.5 → "-1,234,568".
pub fn whole(v: Decimal) -> String {
    let r = v.round_dp_with_strategy(0, ROUNDING);
    let digits = r.abs().trunc().to_string();
    let sign = if r.is_sign_negative() && !r.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{}", group(&digits))
}

fn signed_millions(v: Decimal) -> String {
    let m = millions(v);
    if m.starts_with('-') || m == "0.0m" {
        m
    } else {
        format!("+{m}")
    }
}

/// The tornado: per driver (ranked by the project's swing), the change of each metric's NPV
/// from the base case when the driver goes down / up.
pub fn tornado(t: &Tornado, currency: &str) -> String {
    let mut out = format!(
        "Tornado: each driver shocked by ±{}; change in NPV from the base case ({currency}, millions), down / up\n",
        percent(t.shock)
    );
    let width = 20;
    let col = 21;
    out.push_str(&format!("{:width$}", ""));
    for m in &t.metrics {
        let short = if m.as_str() == crate::analytics::PROJECT_LABEL {
            "Project"
        } else {
            m.as_str()
        };
        let head: String = short.chars().take(col).collect();
        out.push_str(&format!("  {head:>col$}"));
    }
    out.push('\n');
    out.push_str(&format!("{:width$}", "Base NPV"));
    for v in &t.base {
        out.push_str(&format!("  {:>col$}", millions(*v)));
    }
    out.push('\n');
    for bar in t.ranked(0) {
        out.push_str(&format!("{:width$}", bar.driver.label()));
        for (m, base) in t.base.iter().enumerate() {
            let d = |vals: &[Decimal]| {
                vals.get(m)
                    .and_then(|v| v.checked_sub(*base))
                    .map(signed_millions)
                    .unwrap_or_default()
            };
            let side = |case: &crate::analytics::sensitivity::Case| match case.unfunded {
                Some(_) => "infeasible".to_string(),
                None => d(&case.values),
            };
            let cell = format!("{} / {}", side(&bar.low), side(&bar.high));
            out.push_str(&format!("  {cell:>col$}"));
        }
        out.push('\n');
    }
    for bar in &t.bars {
        out.push_str(&format!(
            "  {}: down = {}, up = {}\n",
            bar.driver.label(),
            bar.low.label,
            bar.high.label
        ));
    }
    for (side, case) in t
        .bars
        .iter()
        .flat_map(|b| [("down", &b.low), ("up", &b.high)])
    {
        if let Some(gap) = case.unfunded {
            out.push_str(&format!(
                "  infeasible: {} ({side}) leaves a construction gap of {} unfunded (the deal has no completion support)\n",
                case.label,
                millions(gap)
            ));
        }
    }
    out
}

/// Solver verifications show DSCRs with six decimal places: the two sides of a target
/// differ in the fourth.
pub const SOLVER_RATIO_DP: u32 = 6;

fn show_metric(question: Question, v: Option<Decimal>) -> String {
    match (question, v) {
        (_, None) => "n/a".to_string(),
        (Question::EquityNpvZero | Question::FirstLossForLoansAbove, Some(v)) => whole(v),
        (_, Some(v)) => {
            let r = v.round_dp_with_strategy(SOLVER_RATIO_DP, ROUNDING);
            format!("{:.1$}x", r, SOLVER_RATIO_DP as usize)
        }
    }
}

fn show_target(question: Question, v: Decimal) -> String {
    match question {
        Question::EquityNpvZero | Question::FirstLossForLoansAbove => whole(v),
        _ => format!("{}x", v.normalize()),
    }
}

/// A solver's value with the decimal places of its tolerance.
fn on_grid(v: Decimal, tolerance: Decimal) -> String {
    let dp = tolerance.normalize().scale() as usize;
    format!("{:.dp$}", v.round_dp(dp as u32))
}

fn show_unknown(unknown: &Unknown, v: Decimal) -> String {
    match unknown {
        Unknown::PriceMultiplier => format!(
            "price multiplier {}",
            on_grid(v, crate::analytics::breakeven::MULTIPLIER_TOLERANCE)
        ),
        Unknown::FloorFactor(_) => {
            let floors: Vec<String> = floors_at(unknown, v)
                .iter()
                .map(|(name, level, unit)| format!("{name} at {} {unit}", level.normalize()))
                .collect();
            format!(
                "floor × {} ({})",
                on_grid(v, crate::analytics::breakeven::FLOOR_TOLERANCE),
                floors.join("; ")
            )
        }
        Unknown::Commitment { tranche, currency } => {
            format!("{tranche} commitment {currency} {}", whole(v))
        }
    }
}

/// The breakeven answers, one line each, with the verifying reruns.
pub fn breakeven(all: &[ScenarioAnswers]) -> String {
    let mut out = String::new();
    for s in all {
        out.push_str(&format!("{}\n", s.scenario));
        for a in &s.answers {
            let q = a.question;
            let goal = format!(
                "{} {}",
                if a.target.at_least { "≥" } else { "≤" },
                show_target(q, a.target.value)
            );
            let line = match &a.outcome {
                Outcome::Solved {
                    value,
                    metric,
                    below,
                    metric_below,
                    tolerance,
                    runs,
                } => format!(
                    "{} → {} {} (target {goal}; one step below, at {}: {}; tolerance {}; {runs} runs)",
                    show_unknown(&a.unknown, *value),
                    a.target.metric,
                    show_metric(q, *metric),
                    on_grid(*below, *tolerance),
                    show_metric(q, *metric_below),
                    tolerance.normalize(),
                ),
                Outcome::AtLowerBound { value, metric, .. } => format!(
                    "{}: {} → {} {} (target {goal})",
                    match a.unknown {
                        Unknown::PriceMultiplier => "met at the lowest multiplier tried",
                        Unknown::FloorFactor(_) => "no floor needed",
                        Unknown::Commitment { .. } => "no first-loss money needed",
                    },
                    show_unknown(&a.unknown, *value),
                    a.target.metric,
                    show_metric(q, *metric),
                ),
                Outcome::NoBracket { tried, upper } => {
                    let shown: Vec<String> = tried
                        .iter()
                        .take(8)
                        .map(|(x, m)| format!("{} → {}", x.normalize(), show_metric(q, *m)))
                        .collect();
                    format!(
                        "no answer: {} never reaches {goal} up to {} (tried {})",
                        a.target.metric,
                        upper.normalize(),
                        shown.join(", ")
                    )
                }
                Outcome::NotApplicable(reason) => format!("not applicable: {reason}"),
                Outcome::OnlyDisplacesEquity { .. } => {
                    crate::analytics::breakeven::displaces_equity(&a.outcome)
                }
            };
            out.push_str(&format!("  {}: {line}\n", q.label()));
            for held in &a.held {
                out.push_str(&format!("    ({held})\n"));
            }
            if !a.infeasible.is_empty() {
                let xs: Vec<String> = a
                    .infeasible
                    .iter()
                    .map(|x| x.normalize().to_string())
                    .collect();
                out.push_str(&format!(
                    "    (infeasible, an unfunded construction gap, at {})\n",
                    xs.join(", ")
                ));
            }
        }
    }
    out
}

/// The Monte Carlo statistics: NPV percentiles per party, losses per tranche, contingent
/// payments per government.
pub fn montecarlo(r: &Report, currency: &str) -> String {
    let m = |v: &Option<Decimal>| v.map(millions).unwrap_or_else(|| "n/a".into());
    let p = |v: &Option<Decimal>| v.map(percent).unwrap_or_else(|| "n/a".into());
    let width = r
        .parties
        .iter()
        .map(|x| x.name.chars().count())
        .chain(r.tranches.iter().map(|x| x.name.chars().count()))
        .max()
        .unwrap_or(10)
        .clamp(10, 40);
    let mut out = String::new();
    if r.paths_unfunded > 0 {
        out.push_str(&format!(
            "Infeasible: {} of the paths ({}) leave a construction gap unfunded (the deal has no completion support); they are in no statistic below.\n",
            r.paths_unfunded,
            p(&r.probability_unfunded)
        ));
    }
    out.push_str(&format!(
        "{:width$}  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
        format!("NPV ({currency})"),
        "mean",
        "P5",
        "P10",
        "P50",
        "P90",
        "P95",
        "P(<0)"
    ));
    for x in &r.parties {
        out.push_str(&format!(
            "{:width$}  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
            x.name.chars().take(width).collect::<String>(),
            m(&x.mean),
            m(&x.p5),
            m(&x.p10),
            m(&x.p50),
            m(&x.p90),
            m(&x.p95),
            p(&x.probability_negative)
        ));
    }
    if !r.tranches.is_empty() {
        out.push_str(&format!(
            "\n{:width$}  {:>10} {:>10} {:>10} {:>10}\n",
            "Loss by tranche", "P(loss)", "expected", "P95", "worst"
        ));
        for x in &r.tranches {
            out.push_str(&format!(
                "{:width$}  {:>10} {:>10} {:>10} {:>10}\n",
                x.name.chars().take(width).collect::<String>(),
                p(&x.probability_of_loss),
                m(&x.expected_loss),
                m(&x.p95_loss),
                m(&x.max_loss)
            ));
        }
    }
    if !r.governments.is_empty() {
        out.push_str(&format!(
            "\n{:width$}  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            "Government", "P(floor)", "E[floor]", "P95", "P(call)", "E[calls]", "P95"
        ));
        for g in &r.governments {
            out.push_str(&format!(
                "{:width$}  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                g.name.chars().take(width).collect::<String>(),
                p(&g.probability_floor_payout),
                m(&g.expected_floor_payout),
                m(&g.p95_floor_payout),
                p(&g.probability_guarantee_call),
                m(&g.expected_guarantee_calls),
                m(&g.p95_guarantee_calls)
            ));
        }
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

    fn base_run(deal: &crate::model::Deal) -> Vec<Results> {
        crate::engine::run_all(deal, &[]).expect("runs")
    }

    #[test]
    fn the_table_flags_an_irr_that_is_one_of_several_and_lists_the_roots_with_the_mirr() {
        let table = table(&base_run(&crate::model::sample::two_irrs()), "USD");
        let sponsor = table
            .lines()
            .find(|l| l.starts_with("Sponsor"))
            .expect("sponsor row");
        assert!(sponsor.trim_end().ends_with("10.0%*"), "{table}");
        assert!(
            table.contains("  Sponsor in Base: IRRs 10.0%, 20.0%; MIRR 7.9%\n"),
            "{table}"
        );
        assert!(table.contains("* one of several IRRs"), "{table}");
        // The project company and the outside world are not rows of the table.
        for outside in ["Project", "Market", "Suppliers", "Funding gap"] {
            assert!(
                !table.lines().any(|l| l.starts_with(outside)),
                "{outside}: {table}"
            );
        }
    }

    #[test]
    fn the_table_shows_an_offtakers_contract_value_and_the_tonnes_it_secures() {
        let table = table(
            &base_run(&crate::model::sample::discounted_offtake()),
            "USD",
        );
        let row = table
            .lines()
            .find(|l| l.starts_with("Magnets"))
            .expect("offtaker row");
        assert!(row.contains("0.0m"), "{table}");
        assert!(!row.contains('-'), "a positive value: {table}");
        assert!(table.contains("Tonnes secured\n"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("Magnets") && l.trim_end().ends_with("2,000 t")),
            "{table}"
        );
    }
}
