//! Values a deal may hold but rarely means: a loan of 144 years (months typed as years), an
//! interest rate of 75%, a price floor at seven times the market, a plant whose operating
//! costs exceed its revenue at full output. Each is a warning, not an error: the deal runs,
//! and `check` and `run` say what looked odd and where.
//!
//! Owns `warnings` and its thresholds. Pure, like `validate`: a `Deal` in, warnings out, each
//! at the cell that holds the odd value. Must not refuse anything (`validate` does) nor
//! compute cash flows (the engine does): the revenue and cost estimates here are a rough
//! look at one year, said as such.

use rust_decimal::{Decimal, MathematicalOps};

use super::{
    CostBasis, Deal, Facility, FeedSource, InputWarning, OverrideKind, Phase, Product, Sourced,
    Year,
};

/// A loan's tenor beyond which months were probably typed as years.
pub const MAX_TENOR_YEARS: u32 = 40;
/// An interest or discount rate above which a typing slip is likelier than the rate.
pub const MAX_RATE: Decimal = Decimal::from_parts(30, 0, 0, false, 2);
/// A price floor above this multiple of the price deck pays out every year.
pub const MAX_FLOOR_TO_DECK: Decimal = Decimal::from_parts(3, 0, 0, false, 0);

/// Every implausible value of the deal, in sheet order.
pub fn warnings(deal: &Deal) -> Vec<InputWarning> {
    let mut out = Vec::new();
    rates(deal, &mut out);
    tenors(deal, &mut out);
    floors(deal, &mut out);
    opex_over_revenue(deal, &mut out);
    ramp_multipliers(deal, &mut out);
    out
}

fn warn<T>(out: &mut Vec<InputWarning>, v: &Sourced<T>, message: String) {
    out.push(InputWarning::new(v.cell.clone(), message));
}

/// 0.305 → "30.5%".
fn pct(d: Decimal) -> String {
    match d.checked_mul(Decimal::ONE_HUNDRED) {
        Some(p) => format!("{}%", p.normalize()),
        None => d.normalize().to_string(),
    }
}

fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A whole amount with thousands separators: 7399429926.4 → "7,399,429,926".
fn whole(d: Decimal) -> String {
    let digits = d.round().abs().normalize().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if d.round().is_sign_negative() && !d.round().is_zero() {
        out.insert(0, '-');
    }
    out
}

/// Rates above 30% (and at most 100%: above that `validate` refuses them).
fn rates(deal: &Deal, out: &mut Vec<InputWarning>) {
    let mut rate = |what: String, v: &Sourced<Decimal>, kind: &str| {
        if v.value > MAX_RATE && v.value <= Decimal::ONE {
            warn(
                out,
                v,
                format!(
                    "{what} is {}, above {}: is that meant? ({kind} rates are fractions: 0.075 or 7.5% is 7.5%)",
                    pct(v.value),
                    pct(MAX_RATE)
                ),
            );
        }
    };
    rate(
        "the project discount rate".into(),
        &deal.discount_rate,
        "discount",
    );
    for p in &deal.parties {
        let name = &p.name.value;
        rate(
            format!("the discount rate of '{name}'"),
            &p.discount_rate,
            "discount",
        );
        for (year, r) in &p.rate_schedule {
            rate(
                format!("the {year} discount rate of '{name}'"),
                r,
                "discount",
            );
        }
    }
    for t in deal.tranches.iter().filter(|t| t.kind.value.is_loan()) {
        rate(
            format!("the interest rate of '{}'", t.name.value),
            &t.interest_rate,
            "interest",
        );
    }
}

fn tenors(deal: &Deal, out: &mut Vec<InputWarning>) {
    for t in deal.tranches.iter().filter(|t| t.kind.value.is_loan()) {
        let tenor = t.tenor_years.value;
        if tenor > MAX_TENOR_YEARS {
            warn(
                out,
                &t.tenor_years,
                format!(
                    "the tenor of '{}' is {tenor} years, more than {MAX_TENOR_YEARS}: were months typed as years? (the tenor is in years after construction, such as 15)",
                    t.name.value
                ),
            );
        }
    }
}

/// A deck's price in a year, as the engine reads it: flat before the first year, escalated
/// after the last. None for an empty deck or a number too large to hold.
fn deck_price(p: &Product, year: Year) -> Option<Decimal> {
    let (first, _) = p.deck.first()?;
    let (last, last_price) = p.deck.last()?;
    if year <= *first {
        return p.deck.first().map(|(_, v)| v.value);
    }
    if year <= *last {
        return p
            .deck
            .iter()
            .rev()
            .find(|(y, _)| *y <= year)
            .map(|(_, v)| v.value);
    }
    let growth = Decimal::ONE
        .checked_add(p.escalation.value)?
        .checked_powi(i64::from(year - last))?;
    last_price.value.checked_mul(growth)
}

/// The highest deck price of a product over some years (within the model).
fn highest_deck_price(deal: &Deal, p: &Product, start: Year, end: Year) -> Option<Decimal> {
    let from = start.max(deal.first_year());
    let to = end.min(deal.last_year());
    (from..=to).filter_map(|y| deck_price(p, y)).max()
}

/// Price floors (of price support and of offtake contracts) above three times the deck.
fn floors(deal: &Deal, out: &mut Vec<InputWarning>) {
    let mut check = |floor: &Sourced<Decimal>,
                     product: &str,
                     start: Year,
                     end: Year,
                     what: String| {
        let Some(p) = deal.product(product) else {
            return;
        };
        let Some(deck) = highest_deck_price(deal, p, start, end) else {
            return;
        };
        let Some(limit) = deck.checked_mul(MAX_FLOOR_TO_DECK) else {
            return;
        };
        if deck > Decimal::ZERO && floor.value > limit {
            let times = (floor.value / deck).round_dp(1);
            warn(
                out,
                floor,
                format!(
                    "{what} of {} is {}× the price deck of '{product}' (at most {} {} {} in {start}–{end}), above {}×: is that meant? (a floor that high pays out every year)",
                    num(floor.value),
                    num(times),
                    num(deck.round_dp(2)),
                    p.currency.value,
                    p.unit.value,
                    num(MAX_FLOOR_TO_DECK)
                ),
            );
        }
    };
    for o in &deal.offtakes {
        if let Some(floor) = &o.floor {
            check(
                floor,
                &o.product.value,
                o.start_year.value,
                o.end_year.value,
                format!("the floor of contract '{}'", o.name.value),
            );
        }
    }
    for s in &deal.price_supports {
        check(
            &s.floor,
            &s.product.value,
            s.start_year.value,
            s.end_year.value,
            format!("the floor of '{}'", s.name.value),
        );
    }
}

/// The year a facility first runs at nameplate (after its ramp-up); None when it never does.
fn first_full_year(f: &Facility) -> Option<Year> {
    if f.operations_years.value == 0 {
        return None;
    }
    let before: u32 = [
        Phase::Exploration,
        Phase::Feasibility,
        Phase::Permitting,
        Phase::Construction,
        Phase::RampUp,
    ]
    .iter()
    .map(|p| f.phase_years(*p))
    .sum();
    f.start_year.value.checked_add(i32::try_from(before).ok()?)
}

/// A product's price per tonne in the deal currency in a year (deck, unit, FX).
fn price_per_tonne(deal: &Deal, product: &str, year: Year) -> Option<Decimal> {
    let p = deal.product(product)?;
    let price = deck_price(p, year)?.checked_mul(p.unit.value.per_tonne_factor())?;
    if p.currency.value == deal.currency.value {
        return Some(price);
    }
    let fx = deal
        .fx
        .iter()
        .find(|s| s.currency.value == p.currency.value)?;
    let rate = fx
        .rates
        .iter()
        .rev()
        .find(|(y, _)| *y <= year)
        .or_else(|| fx.rates.first())
        .map(|(_, r)| r.value)?;
    price.checked_mul(rate)
}

/// A facility whose operating costs (cost lines and feed bought at market) exceed its revenue
/// at the deck price when it runs at nameplate, in its first year at nameplate.
fn opex_over_revenue(deal: &Deal, out: &mut Vec<InputWarning>) {
    for f in &deal.facilities {
        let Some(year) = first_full_year(f) else {
            continue;
        };
        if let Some((opex, revenue)) = opex_and_revenue(deal, f, year)
            && revenue > Decimal::ZERO
            && opex > revenue
        {
            warn(
                out,
                &f.nameplate,
                format!(
                    "the operating costs of '{}' exceed its revenue at nameplate: in {year}, its first year at full output, {} {} a year of costs against {} {} of sales at the price deck; is that meant? (check the cost amounts and their basis: per tonne, per year)",
                    f.name.value,
                    whole(opex),
                    deal.currency.value,
                    whole(revenue),
                    deal.currency.value
                ),
            );
        }
    }
}

/// (operating costs, revenue) of a facility at nameplate in a year; None when its product
/// has no price deck or a figure is too large to hold.
fn opex_and_revenue(deal: &Deal, f: &Facility, year: Year) -> Option<(Decimal, Decimal)> {
    let tonnes = f.nameplate.value;
    let revenue = tonnes.checked_mul(price_per_tonne(deal, &f.product.value, year)?)?;
    let mut opex = Decimal::ZERO;
    for c in deal
        .costs
        .iter()
        .filter(|c| c.facility.value == f.name.value && c.category.value.is_operating())
    {
        let phase = c.phase.as_ref().map(|p| p.value);
        let in_operations = matches!(phase, None | Some(Phase::Production | Phase::Operations));
        if !in_operations {
            continue;
        }
        let base = c
            .base_year
            .as_ref()
            .map(|y| y.value)
            .unwrap_or(deal.first_year());
        let escalation = Decimal::ONE
            .checked_add(c.escalation.value)?
            .checked_powi(i64::from(year) - i64::from(base))?;
        let amount = match c.basis.value {
            CostBasis::PerYear => c.amount.value.checked_mul(escalation)?,
            CostBasis::PerTonne => c
                .amount
                .value
                .checked_mul(tonnes)?
                .checked_mul(escalation)?,
            CostBasis::PercentOfRevenue => c.amount.value.checked_mul(revenue)?,
            CostBasis::TotalOverPhase => {
                let years = f.phase_years(phase.unwrap_or(Phase::Production)).max(1);
                c.amount
                    .value
                    .checked_div(Decimal::from(years))?
                    .checked_mul(escalation)?
            }
        };
        opex = opex.checked_add(amount)?;
    }
    if let Some(feed) = &f.feed
        && let FeedSource::Market { product } = &feed.source
        && feed.recovery.value > Decimal::ZERO
    {
        let feed_tonnes = tonnes.checked_div(feed.recovery.value)?;
        let cost = feed_tonnes.checked_mul(price_per_tonne(deal, &product.value, year)?)?;
        opex = opex.checked_add(cost)?;
    }
    Some((opex, revenue))
}

/// A scenario's ramp multiplier that takes a ramp-up year above 100% of nameplate (output is
/// capped there, so the multiplier does less than it says).
fn ramp_multipliers(deal: &Deal, out: &mut Vec<InputWarning>) {
    for s in &deal.scenarios {
        for o in s
            .overrides
            .iter()
            .filter(|o| o.kind.value == OverrideKind::RampMultiplier)
        {
            for f in deal.facilities.iter().filter(|f| match &o.facility {
                Some(name) => name.value == f.name.value,
                None => true,
            }) {
                let highest = f
                    .ramp
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| Some((i, r.value.checked_mul(o.value.value)?)))
                    .max_by_key(|(_, v)| *v);
                if let Some((i, ramped)) = highest
                    && ramped > Decimal::ONE
                {
                    warn(
                        out,
                        &o.value,
                        format!(
                            "the ramp multiplier {} of '{}' takes ramp-up year {} of '{}' to {} of nameplate; output is capped at 100%, so the multiplier does less than it says",
                            num(o.value.value),
                            s.name.value,
                            i + 1,
                            f.name.value,
                            pct(ramped)
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;

    fn messages(deal: &Deal) -> Vec<String> {
        warnings(deal).iter().map(|w| w.message.clone()).collect()
    }

    #[test]
    fn the_examples_and_the_blank_deal_are_plausible() {
        for name in examples::EXAMPLES {
            let deal = examples::example(name).expect("example");
            assert_eq!(messages(&deal), Vec::<String>::new(), "example {name}");
        }
        assert_eq!(messages(&examples::blank()), Vec::<String>::new(), "blank");
    }

    #[test]
    fn each_implausible_value_is_named() {
        type Change = fn(&mut Deal);
        let cases: Vec<(&str, Change, &str)> = vec![
            (
                "a 144-year tenor",
                |d| d.tranches[1].tenor_years.value = 144,
                "the tenor of 'Senior debt' is 144 years, more than 40: were months typed as years?",
            ),
            (
                "75% interest",
                |d| d.tranches[1].interest_rate.value = Decimal::new(75, 2),
                "the interest rate of 'Senior debt' is 75%, above 30%: is that meant?",
            ),
            (
                "a 35% discount rate",
                |d| d.discount_rate.value = Decimal::new(35, 2),
                "the project discount rate is 35%, above 30%: is that meant?",
            ),
            (
                "a floor at 7x the deck",
                |d| {
                    let top = d.products[0]
                        .deck
                        .iter()
                        .map(|(_, v)| v.value)
                        .max()
                        .unwrap_or_default();
                    d.price_supports[0].floor.value = top * Decimal::from(7);
                },
                "the floor of 'US NdPr price floor' of 875 is 5.7× the price deck of 'NdPr oxide'",
            ),
            (
                "opex over revenue",
                |d| {
                    d.costs
                        .iter_mut()
                        .filter(|c| c.category.value.is_operating())
                        .for_each(|c| c.amount.value *= Decimal::from(40))
                },
                "the operating costs of 'NdPr refinery' exceed its revenue at nameplate: in 2039, its first year at full output, 7,399,429,926 USD a year of costs against 595,337,688 USD of sales at the price deck",
            ),
        ];
        for (case, change, want) in cases {
            let mut deal = examples::example("ndpr-joint-facility").expect("example");
            change(&mut deal);
            let got = messages(&deal);
            assert!(
                got.iter().any(|m| m.starts_with(want)),
                "case {case}: want a warning starting {want:?}, got {got:#?}"
            );
        }
    }
}
