//! The tornado: each driver shocked down and up by the same share `s` of the base case, one
//! at a time, through ordinary scenario overrides; the NPV of the project, of equity and of
//! each government read from each run.
//!
//! The shocks (s = 0.2 unless the caller says otherwise; 0 < s < 1):
//! - price: a price multiplier of 1 − s and 1 + s on every product the project sells (a
//!   product only bought as feed keeps its deck);
//! - capex: a capex overrun of −s and +s on every facility;
//! - opex: an opex multiplier of 1 − s and 1 + s;
//! - ramp speed: a ramp multiplier of 1 − s and 1 + s (ramp-up output is capped at
//!   nameplate);
//! - delay: the construction of each facility takes ⌈s × its construction years⌉ more years
//!   (at least one): 20% of a three-year build is 0.6 years, one whole year. Construction
//!   cannot finish early in the model, so the favourable side is the base case itself.
//!   Where the delay pushes a schedule past the horizon, the case runs on a horizon
//!   lengthened to fit, and its label says so;
//! - discount rates: every party's rate, and the project's, moves by s times itself (a 7%
//!   public rate to 5.6% and 8.4% at s = 0.2). A party with a per-year schedule moves by s
//!   times its schedule's first rate.
//!
//! Owns the drivers and their overrides. Must not write or print anything.

use rust_decimal::Decimal;

use super::{
    AnalyticsError, PROJECT_LABEL, equity_holders, equity_label, equity_npv, party_npv,
    price_multiplier, project_npv, sold_products, unfunded_gap,
};
use crate::engine::{self, SculptProfiles};
use crate::model::{Deal, Override, OverrideKind, Phase, Scenario, Sourced};

/// The shock when none is given: ±20%.
pub const DEFAULT_SHOCK: Decimal = Decimal::from_parts(2, 0, 0, false, 1);

/// What is shocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    Price,
    Capex,
    Opex,
    RampSpeed,
    Delay,
    DiscountRates,
}

impl Driver {
    pub const ALL: [Driver; 6] = [
        Driver::Price,
        Driver::Capex,
        Driver::Opex,
        Driver::RampSpeed,
        Driver::Delay,
        Driver::DiscountRates,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Driver::Price => "Price",
            Driver::Capex => "Capex",
            Driver::Opex => "Opex",
            Driver::RampSpeed => "Ramp speed",
            Driver::Delay => "Construction delay",
            Driver::DiscountRates => "Discount rates",
        }
    }
}

/// One side of a driver: what was run and what it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// In words: "price × 0.8", "construction +1 yr".
    pub label: String,
    pub overrides: Vec<Override>,
    /// Per metric, in the tornado's metric order (not a value when the case is infeasible).
    pub values: Vec<Decimal>,
    /// The horizon (years) the case ran on when its overrides push a schedule past the
    /// deal's: lengthened so that no year of the case is cut off.
    pub extended_horizon: Option<u32>,
    /// The construction funding gap no one met (a deal without completion support): the
    /// case is infeasible and has no NPV.
    pub unfunded: Option<Decimal>,
}

/// A driver's two runs: its input lowered and raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub driver: Driver,
    pub low: Case,
    pub high: Case,
}

impl Bar {
    /// Whether either side is infeasible (an unfunded construction gap).
    pub fn infeasible(&self) -> bool {
        self.low.unfunded.is_some() || self.high.unfunded.is_some()
    }

    /// How far apart the two sides put a metric: what the tornado sorts by. A driver with an
    /// infeasible side ranks first: nothing moves a deal further than making it unfundable.
    pub fn swing(&self, metric: usize) -> Decimal {
        if self.infeasible() {
            return Decimal::MAX;
        }
        let (a, b) = (
            self.low.values.get(metric).copied().unwrap_or_default(),
            self.high.values.get(metric).copied().unwrap_or_default(),
        );
        a.checked_sub(b).map(|d| d.abs()).unwrap_or(Decimal::MAX)
    }
}

/// The whole tornado.
#[derive(Debug, Clone, PartialEq)]
pub struct Tornado {
    pub shock: Decimal,
    /// The metrics: the project, equity, then each government.
    pub metrics: Vec<String>,
    pub base: Vec<Decimal>,
    pub bars: Vec<Bar>,
}

impl Tornado {
    /// The drivers for one metric, the widest swing first.
    pub fn ranked(&self, metric: usize) -> Vec<&Bar> {
        let mut bars: Vec<&Bar> = self.bars.iter().collect();
        bars.sort_by_key(|b| std::cmp::Reverse(b.swing(metric)));
        bars
    }
}

/// Checks a shock: a share strictly between 0 and 1.
pub fn check_shock(shock: Decimal) -> Result<(), AnalyticsError> {
    if shock <= Decimal::ZERO || shock >= Decimal::ONE {
        return Err(AnalyticsError::Setting(format!(
            "the shock must be a share between 0 and 1, such as 0.2 for ±20% (found {})",
            shock.normalize()
        )));
    }
    Ok(())
}

/// Runs the tornado on the base case.
pub fn tornado(deal: &Deal, shock: Decimal) -> Result<Tornado, AnalyticsError> {
    check_shock(shock)?;
    let profiles = engine::sculpt_profiles(deal)?;
    let base = engine::run_with(deal, &Scenario::base(), &profiles)?;
    let holders = equity_holders(deal, &base.ledger_parties);
    let governments: Vec<usize> = base.lines.governments.iter().map(|g| g.party).collect();
    let mut metrics = vec![
        PROJECT_LABEL.to_string(),
        equity_label(&base.ledger_parties, &holders),
    ];
    metrics.extend(
        governments
            .iter()
            .map(|g| base.ledger_parties[*g].name.clone()),
    );
    let measure = |r: &engine::Results| -> Vec<Decimal> {
        let mut out = vec![project_npv(r), equity_npv(r, &holders)];
        out.extend(governments.iter().map(|g| party_npv(r, *g)));
        out
    };
    let base_values = measure(&base);
    let base_unfunded = unfunded_gap(&base);
    let run = |label: String,
               overrides: Vec<Override>,
               profiles: &SculptProfiles|
     -> Result<Case, AnalyticsError> {
        if overrides.is_empty() {
            return Ok(Case {
                label,
                overrides,
                values: base_values.clone(),
                extended_horizon: None,
                unfunded: base_unfunded,
            });
        }
        let scenario = Scenario {
            name: Sourced::bare(label.clone()),
            overrides: overrides.clone(),
        };
        let extended_horizon = horizon_to_fit(deal, &overrides);
        let (label, r) = match extended_horizon {
            None => (label, engine::run_with(deal, &scenario, profiles)?),
            Some(years) => {
                let mut longer = deal.clone();
                longer.horizon_years = Sourced::bare(years);
                let label = format!(
                    "{label} (horizon +{} yr)",
                    years.saturating_sub(deal.horizon_years.value)
                );
                (label, engine::run_with(&longer, &scenario, profiles)?)
            }
        };
        Ok(Case {
            label,
            overrides,
            values: measure(&r),
            extended_horizon,
            unfunded: unfunded_gap(&r),
        })
    };
    let mut bars = Vec::new();
    for driver in Driver::ALL {
        let (low_label, low) = shocked(deal, driver, -shock);
        let (high_label, high) = shocked(deal, driver, shock);
        bars.push(Bar {
            driver,
            low: run(low_label, low, &profiles)?,
            high: run(high_label, high, &profiles)?,
        });
    }
    Ok(Tornado {
        shock,
        metrics,
        base: base_values,
        bars,
    })
}

fn change(kind: OverrideKind, value: Decimal) -> Override {
    Override {
        kind: Sourced::bare(kind),
        product: None,
        facility: None,
        phase: None,
        party: None,
        value: Sourced::bare(value),
        start_year: None,
        fall_years: Sourced::bare(1),
        bottom_years: Sourced::bare(0),
        recovery_years: Sourced::bare(0),
        haircut: Sourced::bare(Decimal::ZERO),
    }
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// The overrides that move a driver by `signed` (−s or +s), and the case in words.
pub fn shocked(deal: &Deal, driver: Driver, signed: Decimal) -> (String, Vec<Override>) {
    let factor = Decimal::ONE + signed;
    match driver {
        Driver::Price => (
            format!("price × {}", text(factor)),
            price_multiplier(&sold_products(deal), factor),
        ),
        Driver::Capex => (
            format!(
                "capex {}{}%",
                if signed.is_sign_negative() { "" } else { "+" },
                text(signed * Decimal::ONE_HUNDRED)
            ),
            vec![change(OverrideKind::CapexOverrun, signed)],
        ),
        Driver::Opex => (
            format!("opex × {}", text(factor)),
            vec![change(OverrideKind::OpexMultiplier, factor)],
        ),
        Driver::RampSpeed => (
            format!("ramp × {}", text(factor)),
            vec![change(OverrideKind::RampMultiplier, factor)],
        ),
        Driver::Delay => {
            if signed <= Decimal::ZERO {
                return ("on schedule (base)".to_string(), Vec::new());
            }
            let mut overrides = Vec::new();
            let mut years = Vec::new();
            for f in &deal.facilities {
                let build = f.construction_years.value;
                if build == 0 {
                    continue;
                }
                let n = delay_years(signed, build);
                years.push(n);
                overrides.push(Override {
                    facility: Some(Sourced::bare(f.name.value.clone())),
                    phase: Some(Sourced::bare(Phase::Construction)),
                    ..change(OverrideKind::Delay, Decimal::from(n))
                });
            }
            years.sort();
            years.dedup();
            let label = match years.as_slice() {
                [n] => format!("construction +{n} yr"),
                _ => format!(
                    "construction +{} yr",
                    years
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                ),
            };
            (label, overrides)
        }
        Driver::DiscountRates => {
            // An override without a party moves every party and the project by the same
            // amount; each party then gets the difference to its own proportional change.
            let project = deal.discount_rate.value * signed;
            let mut overrides = vec![change(OverrideKind::DiscountRateChange, project)];
            for p in &deal.parties {
                let rate = p
                    .rate_schedule
                    .first()
                    .map(|(_, r)| r.value)
                    .unwrap_or(p.discount_rate.value);
                let extra = rate * signed - project;
                if !extra.is_zero() {
                    overrides.push(Override {
                        party: Some(Sourced::bare(p.name.value.clone())),
                        ..change(OverrideKind::DiscountRateChange, extra)
                    });
                }
            }
            (format!("rates × {}", text(factor)), overrides)
        }
    }
}

/// The horizon a case needs when its delays push a facility's schedule past the deal's
/// (None when everything fits): the tornado lengthens it rather than drop the years cut off
/// (closure costs, the last years of output), which `check` would refuse in a deal.
pub fn horizon_to_fit(deal: &Deal, overrides: &[Override]) -> Option<u32> {
    let first = i64::from(deal.first_year());
    let mut needed = i64::from(deal.horizon_years.value);
    for f in &deal.facilities {
        let extra: i64 = overrides
            .iter()
            .filter(|o| o.kind.value == OverrideKind::Delay)
            .filter(|o| o.facility.as_ref().is_none_or(|t| t.value == f.name.value))
            .filter(|o| {
                o.phase
                    .as_ref()
                    .is_some_and(|p| p.value != Phase::RampUp || !f.ramp.is_empty())
            })
            .map(|o| i64::try_from(o.value.value).unwrap_or(0))
            .sum();
        let years: i64 = Phase::SCHEDULED
            .iter()
            .map(|p| i64::from(f.phase_years(*p)))
            .sum();
        needed = needed.max(i64::from(f.start_year.value) + years + extra - first);
    }
    let needed = u32::try_from(needed).ok()?;
    (needed > deal.horizon_years.value).then_some(needed)
}

/// ⌈shock × construction years⌉, at least 1: whole years of delay.
pub fn delay_years(shock: Decimal, construction_years: u32) -> u32 {
    let years = (shock * Decimal::from(construction_years)).ceil();
    let years = u32::try_from(years).unwrap_or(u32::MAX);
    years.max(1)
}

#[derive(serde::Serialize)]
struct JsonCase<'a> {
    case: &'a str,
    /// Empty when the case is infeasible.
    npv: std::collections::BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    horizon_years: Option<u32>,
    /// "unfunded construction gap of …" when the case cannot be funded.
    infeasible: Option<String>,
}

#[derive(serde::Serialize)]
struct JsonBar<'a> {
    driver: Driver,
    label: &'static str,
    low: JsonCase<'a>,
    high: JsonCase<'a>,
    swing: std::collections::BTreeMap<&'a str, String>,
}

#[derive(serde::Serialize)]
struct JsonTornado<'a> {
    deal: &'a str,
    currency: &'a str,
    shock: String,
    metrics: &'a [String],
    base: std::collections::BTreeMap<&'a str, String>,
    drivers: Vec<JsonBar<'a>>,
}

/// A case as JSON: its NPVs, or why it has none.
fn json_case<'a>(
    case: &'a Case,
    by_metric: &dyn Fn(&[Decimal]) -> std::collections::BTreeMap<&'a str, String>,
) -> JsonCase<'a> {
    match case.unfunded {
        Some(gap) => JsonCase {
            case: &case.label,
            npv: Default::default(),
            infeasible: Some(format!("unfunded construction gap of {}", text(gap))),
            horizon_years: case.extended_horizon,
        },
        None => JsonCase {
            case: &case.label,
            npv: by_metric(&case.values),
            infeasible: None,
            horizon_years: case.extended_horizon,
        },
    }
}

/// The tornado as exact JSON (decimals as text; drivers in a fixed order).
pub fn to_json(deal: &Deal, t: &Tornado) -> String {
    let by_metric = |values: &[Decimal]| -> std::collections::BTreeMap<&str, String> {
        t.metrics
            .iter()
            .zip(values)
            .map(|(m, v)| (m.as_str(), text(*v)))
            .collect()
    };
    let doc = JsonTornado {
        deal: &deal.name.value,
        currency: &deal.currency.value,
        shock: text(t.shock),
        metrics: &t.metrics,
        base: by_metric(&t.base),
        drivers: t
            .bars
            .iter()
            .map(|b| JsonBar {
                driver: b.driver,
                label: b.driver.label(),
                low: json_case(&b.low, &by_metric),
                high: json_case(&b.high, &by_metric),
                swing: if b.infeasible() {
                    Default::default()
                } else {
                    by_metric(&(0..t.metrics.len()).map(|m| b.swing(m)).collect::<Vec<_>>())
                },
            })
            .collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn delay_maps_the_shock_to_whole_years() {
        for (shock, build, want) in [
            (dec!(0.2), 3, 1),
            (dec!(0.2), 5, 1),
            (dec!(0.2), 6, 2),
            (dec!(0.5), 3, 2),
            (dec!(0.05), 2, 1),
            (dec!(0.99), 4, 4),
        ] {
            assert_eq!(
                delay_years(shock, build),
                want,
                "shock {shock}, {build} years"
            );
        }
    }

    #[test]
    fn a_delay_past_the_horizon_lengthens_the_horizon_of_its_case() {
        // One mine: build 150,000 in 2030, sell 80,000 net a year 2031–34; a five-year
        // horizon ends in 2034, with no room. A year's construction delay spreads the build
        // over 2030–31 and sells 2032–35: the case runs on six years, and its project NPV at
        // 10% counts the 2035 year the deal's horizon would have cut off.
        let mut deal = crate::model::sample::one_mine_all_equity();
        deal.horizon_years = Sourced::bare(5);
        let t = tornado(&deal, dec!(0.2)).expect("tornado");
        let bar = t
            .bars
            .iter()
            .find(|b| b.driver == Driver::Delay)
            .expect("delay bar");
        assert_eq!(bar.high.label, "construction +1 yr (horizon +1 yr)");
        assert_eq!(bar.high.extended_horizon, Some(6));
        let flows = [
            dec!(-75000),
            dec!(-75000),
            dec!(80000),
            dec!(80000),
            dec!(80000),
            dec!(80000),
        ];
        let want = crate::finance::npv(dec!(0.1), &flows).expect("npv");
        assert!(
            (bar.high.values[0] - want).abs() < dec!(0.000001),
            "{} vs {want}",
            bar.high.values[0]
        );
        assert_eq!(bar.low.extended_horizon, None);
    }

    #[test]
    fn a_shock_outside_zero_to_one_is_refused() {
        for bad in [dec!(0), dec!(1), dec!(-0.2), dec!(1.5)] {
            assert!(check_shock(bad).is_err(), "{bad}");
        }
        assert!(check_shock(dec!(0.2)).is_ok());
    }

    /// Without completion support, capex +20% on a deal with 10,000 of headroom leaves a
    /// gap: that side is infeasible, has no NPV in the JSON, and ranks first.
    #[test]
    fn a_case_with_an_unfunded_gap_is_infeasible_not_an_npv() {
        use crate::model::sample::*;
        use crate::model::{CompletionSupport, Repayment, TrancheKind};
        let mut deal = one_mine_all_equity();
        deal.tranches[0].commitment.value = dec!(60000);
        deal.tranches.push(loan(
            "Senior",
            TrancheKind::SeniorDebt,
            1,
            "100000",
            1,
            "0.1",
            4,
            Repayment::Annuity,
            &[("Sponsor", "1")],
        ));
        deal.completion_support.value = CompletionSupport::NoSupport;
        let t = tornado(&deal, dec!(0.2)).expect("tornado");
        let capex = t
            .bars
            .iter()
            .find(|b| b.driver == Driver::Capex)
            .expect("capex");
        assert_eq!(capex.high.unfunded, Some(dec!(20000)));
        assert_eq!(capex.low.unfunded, None);
        assert_eq!(t.ranked(1)[0].driver, Driver::Capex);
        let json: serde_json::Value = serde_json::from_str(&to_json(&deal, &t)).expect("json");
        let bar = &json["drivers"][1];
        assert_eq!(
            bar["high"]["infeasible"],
            "unfunded construction gap of 20000"
        );
        assert!(bar["high"]["npv"].as_object().is_some_and(|m| m.is_empty()));
        assert!(bar["low"]["infeasible"].is_null());
    }

    #[test]
    fn discount_rates_move_by_the_share_of_each_rate() {
        let deal = crate::examples::example("ndpr-joint-facility").expect("example");
        let (label, overrides) = shocked(&deal, Driver::DiscountRates, dec!(0.2));
        assert_eq!(label, "rates × 1.2");
        // The project's 9% moves by 1.8 points; the US Government's 2% by 0.4 points.
        assert_eq!(overrides[0].value.value, dec!(0.018));
        let us = overrides
            .iter()
            .find(|o| o.party.as_ref().is_some_and(|p| p.value == "US Government"))
            .expect("US override");
        assert_eq!(dec!(0.018) + us.value.value, dec!(0.004));
    }
}
