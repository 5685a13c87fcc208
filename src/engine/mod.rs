//! The pure cash-flow engine: a deal and a scenario in, exact results out (DESIGN.md §4).
//!
//! `rules` writes the deal's rules as a calculation (`calc`): rows of per-period
//! expressions. `calc` evaluates it in exact decimals; the results writer renders the same
//! rows as Excel formulas. `results` gathers metrics, checks and events for the JSON and
//! the workbook.
//!
//! Must not touch: files, workbooks, the clock or the environment.

pub mod calc;
pub mod preflight;
pub mod results;
pub mod rules;

use std::fmt;

use rust_decimal::Decimal;

pub use results::Results;
pub use rules::SculptProfiles;

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

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::Arithmetic { error, .. } => Some(error),
            EngineError::Build { .. } => None,
        }
    }
}

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
    let built = rules::build(deal, scenario, profiles).map_err(|e| EngineError::Build {
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
    pub built: rules::Built,
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
        rules::build_with(deal, scenario, profiles, true).map_err(|e| EngineError::Build {
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
///
/// The profile feeds back into what it is a share of: the initial DSRA holds months of the
/// first year's principal, drawn (with its capitalised interest and fees) from the loan
/// itself; interest deducted for tax moves CFADS. So it is solved to a fixed point: a first
/// profile from the base case sculpted year by year, then each pass runs the base case with
/// the profile and moves every repayment year's principal by what its DSCR missed
/// (CFADS / target − debt service of the rank and above, shared between the rank's
/// sculpted loans by balance), as a share of the new starting balance. It stops when a pass
/// changes no principal by more than `SCULPT_TOLERANCE`, or when passes stop bringing the
/// DSCRs closer to their targets (amounts rounded to the cent bound how close they get).
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
    let (built, values) = base_case(deal, &profiles)?;
    profiles = first_profiles(deal, &sculpted, &built, &values);
    let mut best: Option<(SculptProfiles, Decimal)> = None;
    let mut stale = 0;
    for _ in 0..MAX_SCULPT_PASSES {
        let (built, values) = base_case(deal, &profiles)?;
        let pass = refine_profiles(deal, &sculpted, &profiles, &built, &values);
        match &best {
            Some((_, miss)) if pass.miss >= *miss => stale += 1,
            _ => {
                best = Some((profiles.clone(), pass.miss));
                stale = 0;
            }
        }
        if pass.change <= SCULPT_TOLERANCE || stale >= 3 {
            break;
        }
        profiles = pass.profiles;
    }
    Ok(best.map(|(p, _)| p).unwrap_or(profiles))
}

/// Sculpting stops when no repayment year's principal moves by more than this (in currency
/// units) from one pass to the next.
const SCULPT_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 18);
/// Each pass shrinks the miss by the small share of principal that flows back into the
/// balance (a DSRA's months over twelve, times the first year's principal share): a few
/// dozen passes reach the last digit.
const MAX_SCULPT_PASSES: usize = 100;

/// The base case built and evaluated with these profiles.
fn base_case(
    deal: &Deal,
    profiles: &SculptProfiles,
) -> Result<(rules::Built, calc::Values), EngineError> {
    let base = Scenario::base();
    let built = rules::build(deal, &base, profiles).map_err(|e| EngineError::Build {
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
    Ok((built, values))
}

/// A sculpted loan's repayment years: (period, 1-based repayment year) of the base case.
fn repayment_years(
    deal: &Deal,
    i: usize,
    built: &rules::Built,
    values: &calc::Values,
) -> Vec<(usize, usize)> {
    let t = &deal.tranches[i];
    let n = t
        .tenor_years
        .value
        .saturating_sub(t.grace_years.value)
        .max(1) as usize;
    let op_year = built.op_year;
    (0..built.calc.periods)
        .filter_map(|p| {
            let j = values.at(op_year, p) - Decimal::from(t.grace_years.value);
            let j = i64::try_from(j.trunc()).ok()?;
            (j >= 1 && j as usize <= n).then_some((p, j as usize))
        })
        .collect()
}

/// The first profile: the base case sculpted year by year (no profile yet), each year's
/// principal as a share of the balance at the start of operations.
fn first_profiles(
    deal: &Deal,
    sculpted: &[usize],
    built: &rules::Built,
    values: &calc::Values,
) -> SculptProfiles {
    let mut profiles = SculptProfiles::default();
    let periods = built.calc.periods;
    for &i in sculpted {
        let t = &deal.tranches[i];
        let n = t
            .tenor_years
            .value
            .saturating_sub(t.grace_years.value)
            .max(1) as usize;
        let rows = &built.fin_rows[i];
        let mut profile = vec![Decimal::ZERO; n];
        if let (Some(start), Some(scheduled)) = (rows.start_balance, rows.scheduled) {
            let opening = values.at(start, periods - 1);
            for (p, j) in repayment_years(deal, i, built, values) {
                profile[j - 1] = values
                    .at(scheduled, p)
                    .checked_div(opening)
                    .unwrap_or_default();
            }
        }
        profiles.profiles.insert(i, profile);
    }
    profiles
}

/// One pass of the fixed point: the profiles moved by what each DSCR missed, the largest
/// move (in currency) and the largest relative miss of a DSCR before its final year.
struct Pass {
    profiles: SculptProfiles,
    change: Decimal,
    miss: Decimal,
}

fn refine_profiles(
    deal: &Deal,
    sculpted: &[usize],
    profiles: &SculptProfiles,
    built: &rules::Built,
    values: &calc::Values,
) -> Pass {
    let mut next = profiles.clone();
    let mut change = Decimal::ZERO;
    let mut miss = Decimal::ZERO;
    let periods = built.calc.periods;
    let Some(cfads) = built.lines.cfads else {
        return Pass {
            profiles: next,
            change,
            miss,
        };
    };
    for &i in sculpted {
        let t = &deal.tranches[i];
        let rows = &built.fin_rows[i];
        let (Some(target), Some(start), Some(scheduled), Some(service), Some(balance)) = (
            t.target_dscr.as_ref().map(|d| d.value),
            rows.start_balance,
            rows.scheduled,
            rows.cumulative_service,
            rows.principal,
        ) else {
            continue;
        };
        let opening = values.at(start, periods - 1);
        let years = repayment_years(deal, i, built, values);
        let last = years.iter().map(|(_, j)| *j).max().unwrap_or(0);
        let Some(profile) = next.profiles.get_mut(&i) else {
            continue;
        };
        for (p, j) in years {
            if j == last || p == 0 || opening.is_zero() {
                continue;
            }
            let cash = values.at(cfads, p);
            let due = values.at(service, p);
            let wanted = cash.checked_div(target).unwrap_or_default();
            if !due.is_zero() && !wanted.is_zero() {
                let dscr = due.checked_div(wanted).unwrap_or_default();
                miss = miss.max((dscr - Decimal::ONE).abs());
            }
            let share = sculpted_share(deal, built, sculpted, i, values, p);
            let principal = (values.at(scheduled, p) + (wanted - due) * share)
                .max(Decimal::ZERO)
                .min(values.at(balance, p - 1));
            change = change.max((principal - values.at(scheduled, p)).abs());
            if let Some(slot) = profile.get_mut(j - 1) {
                *slot = principal.checked_div(opening).unwrap_or_default();
            }
        }
    }
    Pass {
        profiles: next,
        change,
        miss,
    }
}

/// Loan `i`'s share of its rank's sculpted principal in period `p`: its balance over the
/// balances of the rank's sculpted loans (1 when it is the rank's only one).
fn sculpted_share(
    deal: &Deal,
    built: &rules::Built,
    sculpted: &[usize],
    i: usize,
    values: &calc::Values,
    p: usize,
) -> Decimal {
    let rank = |k: usize| {
        let t = &deal.tranches[k];
        (
            t.kind.value == crate::model::TrancheKind::FirstLoss,
            t.rank.value,
        )
    };
    let balance = |k: usize| {
        built.fin_rows[k]
            .principal
            .map(|r| values.at(r, p - 1))
            .unwrap_or_default()
    };
    let peers: Vec<usize> = sculpted
        .iter()
        .copied()
        .filter(|k| rank(*k) == rank(i))
        .collect();
    let total: Decimal = peers.iter().map(|k| balance(*k)).sum();
    if peers.len() <= 1 || total.is_zero() {
        return Decimal::ONE;
    }
    balance(i).checked_div(total).unwrap_or(Decimal::ONE)
}

#[cfg(test)]
mod conventions_tests;
#[cfg(test)]
pub(crate) mod tests;
