//! `check`'s last step: the engine builds and evaluates the base case and every scenario of
//! a deal that passed validation, so that whatever `run` would refuse, `check` refuses first.
//! Validation names the cell of every rule it knows; what is left is arithmetic that no
//! single cell decides (an escalation compounding past 28 significant digits over a long
//! horizon, amounts that multiply beyond them), said here with the line and year that
//! overflowed and where to look.
//!
//! Pure, like the rest of the engine: a deal in, problems out. Checks of a run that do not
//! hold are not problems here (`run` writes its outputs and exits 3).

use rust_decimal::{Decimal, MathematicalOps};

use super::{EngineError, run_all};
use crate::model::{Deal, InputError};

/// Every reason the engine refuses the deal, as input errors (empty when it runs).
pub fn preflight(deal: &Deal) -> Vec<InputError> {
    match run_all(deal, &deal.scenarios) {
        Ok(_) => Vec::new(),
        Err(e @ EngineError::Arithmetic { .. }) => match steepest_escalation(deal) {
            // An escalation that multiplies by more than this is the likely culprit.
            Some(esc)
                if esc
                    .factor
                    .is_none_or(|f| f > Decimal::from(1_000_000_000u64)) =>
            {
                let by = match esc.factor {
                    Some(f) => {
                        let digits = f.trunc().to_string().len() - 1;
                        format!("about 10^{digits}")
                    }
                    None => "more than 10^28".to_string(),
                };
                vec![InputError::new(
                    esc.cell.clone(),
                    format!(
                        "{e}: {} of {}%/yr compounds to {by} over {} years (expected an escalation that stays within the 28 significant digits Lodestone computes with: lower it, or shorten the horizon)",
                        esc.what,
                        (esc.rate * Decimal::ONE_HUNDRED).normalize(),
                        esc.years
                    ),
                )]
            }
            _ => vec![InputError::new(None, overflow_message(&e))],
        },
        Err(e) => vec![InputError::new(
            None,
            format!(
                "{e} (the deal passed every check but cannot be computed; please report this with the workbook)"
            ),
        )],
    }
}

fn overflow_message(e: &EngineError) -> String {
    format!(
        "{e} (found inputs whose amounts outgrow the 28 significant digits Lodestone computes with, expected smaller ones: look for an escalation compounding over many years, or an amount, tonnage, price or rate typed far too large)"
    )
}

/// An escalation and how far it compounds within the model.
struct Escalation {
    what: String,
    rate: Decimal,
    years: i64,
    /// (1 + rate)^years; None beyond Decimal's range.
    factor: Option<Decimal>,
    cell: Option<crate::model::CellRef>,
}

/// The escalation (of a price deck after its last year, or of a cost line from its base
/// year) that compounds furthest by the model's last year.
fn steepest_escalation(deal: &Deal) -> Option<Escalation> {
    let last = i64::from(deal.last_year());
    let mut all = Vec::new();
    for p in &deal.products {
        if let Some((year, _)) = p.deck.last() {
            all.push((
                format!("the escalation of '{}'", p.name.value),
                &p.escalation,
                last - i64::from(*year),
            ));
        }
    }
    for c in &deal.costs {
        let base = c
            .base_year
            .as_ref()
            .map(|y| y.value)
            .unwrap_or(deal.first_year());
        all.push((
            format!("the escalation of cost '{}'", c.item.value),
            &c.escalation,
            last - i64::from(base),
        ));
    }
    all.into_iter()
        .filter(|(_, rate, years)| rate.value > Decimal::ZERO && *years > 0)
        .map(|(what, rate, years)| Escalation {
            factor: (Decimal::ONE + rate.value).checked_powi(years),
            what,
            rate: rate.value,
            years,
            cell: rate.cell.clone(),
        })
        .max_by(|a, b| match (a.factor, b.factor) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.cmp(&y),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;
    use rust_decimal::Decimal;

    #[test]
    fn the_examples_pass() {
        for name in examples::EXAMPLES {
            let deal = examples::example(name).expect("example");
            assert_eq!(preflight(&deal), Vec::new(), "example {name}");
        }
    }

    #[test]
    fn an_escalation_compounding_past_exact_arithmetic_is_refused() {
        let mut deal = examples::blank();
        deal.horizon_years.value = 200;
        deal.facilities[0].operations_years.value = 190;
        deal.products[0].escalation.value = Decimal::ONE;
        assert_eq!(
            crate::model::validate(&deal),
            Vec::new(),
            "validation passes"
        );
        let problems = preflight(&deal);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "scenario 'Base': an amount too large for exact arithmetic (overflow) in 'Market: cumulative cash flow' in 2096: the escalation of 'Concentrate' of 100%/yr compounds to more than 10^28 over 199 years (expected an escalation that stays within the 28 significant digits Lodestone computes with: lower it, or shorten the horizon)"
        );
    }
}
