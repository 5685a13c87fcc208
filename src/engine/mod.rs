//! The pure cash-flow engine: a deal and a scenario in, exact results out (DESIGN.md §4).
//!
//! `build` writes the deal's rules as a calculation (`calc`): rows of per-period
//! expressions. `calc` evaluates it in exact decimals; the results writer renders the same
//! rows as Excel formulas. `results` gathers metrics, checks and events for the JSON and
//! the workbook.
//!
//! Must not touch: files, workbooks, the clock or the environment.

pub mod build;
pub mod calc;
pub mod preflight;
pub mod results;

use std::fmt;

use rust_decimal::Decimal;

pub use build::SculptProfiles;
pub use results::Results;

use crate::model::{Deal, Repayment, Scenario};

/// Why a run failed: a line item and year that overflowed or divided by zero, or a deal the
/// engine cannot build (which validation should have caught).
#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    Build {
        scenario: String,
        problem: String,
    },
    Arithmetic {
        scenario: String,
        error: calc::EvalError,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Build { scenario, problem } => write!(
                f,
                "scenario '{scenario}': cannot build the calculation: {problem}"
            ),
            EngineError::Arithmetic { scenario, error } => {
                write!(f, "scenario '{scenario}': {error}")
            }
        }
    }
}

impl std::error::Error for EngineError {}

/// Runs one scenario (solving any sculpted repayment on the base case first).
pub fn run(deal: &Deal, scenario: &Scenario) -> Result<Results, EngineError> {
    let profiles = sculpt_profiles(deal)?;
    run_with(deal, scenario, &profiles)
}

/// Runs the base case and then each scenario, sharing the sculpting.
pub fn run_all(deal: &Deal, scenarios: &[Scenario]) -> Result<Vec<Results>, EngineError> {
    use rayon::prelude::*;
    let profiles = sculpt_profiles(deal)?;
    let base = Scenario::base();
    let all: Vec<&Scenario> = std::iter::once(&base).chain(scenarios).collect();
    // Scenarios are independent: run them side by side, then report in order (the first
    // failing scenario's error, whatever the threads did).
    let runs: Vec<Result<Results, EngineError>> = all
        .par_iter()
        .map(|s| run_with(deal, s, &profiles))
        .collect();
    runs.into_iter().collect()
}

/// Runs a scenario with given sculpted profiles.
pub fn run_with(
    deal: &Deal,
    scenario: &Scenario,
    profiles: &SculptProfiles,
) -> Result<Results, EngineError> {
    let name = scenario.name.value.clone();
    let built = build::build(deal, scenario, profiles).map_err(|e| EngineError::Build {
        scenario: name.clone(),
        problem: e.0,
    })?;
    let values = built
        .calc
        .evaluate()
        .map_err(|error| EngineError::Arithmetic {
            scenario: name.clone(),
            error,
        })?;
    Ok(results::assemble(deal, scenario, built, values))
}

/// A scenario's calculation built once, to be evaluated many times with other prices (a
/// Monte Carlo run): each evaluation is the full engine and waterfall in exact decimals.
pub struct Prepared {
    pub built: build::Built,
    inputs: Vec<Decimal>,
    scenario: String,
}

impl Prepared {
    /// The input values of the deal itself (every simulated multiplier at 1).
    pub fn inputs(&self) -> &[Decimal] {
        &self.inputs
    }

    /// Per product (deal order), the input index of each period's simulated multiplier.
    pub fn price_path_inputs(&self) -> &[Vec<calc::InputId>] {
        &self.built.lines.price_paths
    }

    /// Evaluates with these input values; `skip_rates` leaves IRR and MIRR out.
    pub fn evaluate(
        &self,
        inputs: &[Decimal],
        skip_rates: bool,
    ) -> Result<calc::Values, EngineError> {
        let options = calc::EvalOptions {
            inputs: Some(inputs),
            skip_rates,
        };
        self.built
            .calc
            .evaluate_with(&options)
            .map_err(|error| EngineError::Arithmetic {
                scenario: self.scenario.clone(),
                error,
            })
    }
}

impl Prepared {
    /// Prepares evaluations that change only the simulated price multipliers: the rows and
    /// scalars that cannot depend on them are evaluated once, here, and copied into every
    /// evaluation (the timeline, production and most costs of a deal).
    pub fn partial(
        &self,
        needed: Option<&[calc::ScalarId]>,
        skip_rates: bool,
    ) -> Result<calc::Partial, EngineError> {
        let varying: Vec<calc::InputId> = self.price_path_inputs().concat();
        let options = calc::EvalOptions {
            inputs: Some(&self.inputs),
            skip_rates,
        };
        self.built
            .calc
            .partial(&varying, needed, &options)
            .map_err(|error| self.arithmetic(error))
    }

    /// Evaluates with these input values (which may differ from `inputs()` only in the
    /// simulated multipliers) into `values`: the same numbers as `evaluate`, faster.
    pub fn evaluate_partial(
        &self,
        plan: &calc::Partial,
        inputs: &[Decimal],
        values: &mut calc::Values,
    ) -> Result<(), EngineError> {
        self.built
            .calc
            .evaluate_partial(plan, inputs, values)
            .map_err(|error| self.arithmetic(error))
    }

    fn arithmetic(&self, error: calc::EvalError) -> EngineError {
        EngineError::Arithmetic {
            scenario: self.scenario.clone(),
            error,
        }
    }
}

/// Builds a scenario's calculation with a simulated price multiplier per product and period.
pub fn prepare(
    deal: &Deal,
    scenario: &Scenario,
    profiles: &SculptProfiles,
) -> Result<Prepared, EngineError> {
    let name = scenario.name.value.clone();
    let built =
        build::build_with(deal, scenario, profiles, true).map_err(|e| EngineError::Build {
            scenario: name.clone(),
            problem: e.0,
        })?;
    let inputs = built.calc.input_values();
    Ok(Prepared {
        built,
        inputs,
        scenario: name,
    })
}

/// Sculpted loans repay CFADS / target DSCR − interest in the base case; that profile (a
/// share of the balance at the start of operations per repayment year) is then the
/// contractual schedule in every scenario, as it would be in the loan agreement.
pub fn sculpt_profiles(deal: &Deal) -> Result<SculptProfiles, EngineError> {
    let sculpted: Vec<usize> = deal
        .tranches
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind.value.is_loan() && t.repayment.value == Repayment::Sculpted)
        .map(|(i, _)| i)
        .collect();
    let mut profiles = SculptProfiles::default();
    if sculpted.is_empty() {
        return Ok(profiles);
    }
    let base = Scenario::base();
    let built = build::build(deal, &base, &profiles).map_err(|e| EngineError::Build {
        scenario: base.name.value.clone(),
        problem: e.0,
    })?;
    let values = built
        .calc
        .evaluate()
        .map_err(|error| EngineError::Arithmetic {
            scenario: base.name.value.clone(),
            error,
        })?;
    let periods = built.calc.periods;
    let op_year = built
        .calc
        .rows
        .iter()
        .position(|r| r.label == "Operating year");
    for i in sculpted {
        let t = &deal.tranches[i];
        let rows = &built.fin_rows[i];
        let (Some(start), Some(scheduled), Some(op_year)) =
            (rows.start_balance, rows.scheduled, op_year)
        else {
            continue;
        };
        let n = t
            .tenor_years
            .value
            .saturating_sub(t.grace_years.value)
            .max(1) as usize;
        let mut profile = vec![Decimal::ZERO; n];
        let opening = values.at(start, periods - 1);
        if !opening.is_zero() {
            for p in 0..periods {
                let j = values.at(op_year, p) - Decimal::from(t.grace_years.value);
                if j >= Decimal::ONE && j <= Decimal::from(n as u64) {
                    let k = j.trunc().mantissa() as usize / 10usize.pow(j.trunc().scale());
                    if let Some(slot) = profile.get_mut(k - 1) {
                        *slot = values
                            .at(scheduled, p)
                            .checked_div(opening)
                            .unwrap_or_default();
                    }
                }
            }
        }
        profiles.profiles.insert(i, profile);
    }
    Ok(profiles)
}

#[cfg(test)]
mod conventions_tests;
#[cfg(test)]
mod tests;
