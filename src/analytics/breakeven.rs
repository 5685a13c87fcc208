//! Breakeven solvers, in exact decimals: for the base case and each scenario of the deal,
//! - the price multiplier at which equity NPV reaches 0 (a multiplier of the market price of
//!   every product the project sells, on top of the scenario's prices; a product only bought
//!   as feed keeps its price);
//! - the price multiplier at which the senior debt's minimum DSCR reaches 1.00;
//! - the price-floor level at which the senior minimum DSCR reaches its lock-up ratio (every
//!   floor of the Price support sheet scaled by one factor; skipped, with the reason, when
//!   the deal has no floor or the senior debt no lock-up ratio);
//! - the smallest commitment of the first first-loss tranche of the Financing sheet at which
//!   no loan ranked above it in the waterfall loses anything (their loss given default before
//!   any guarantee), the rest of the funding plan as the deal has it. First-loss money
//!   protects the loans above it only by lending in their place: where they draw the same
//!   whatever its size (they are fully drawn, and more first-loss money would only replace
//!   sponsor equity), the answer says so instead of searching.
//!
//! An input that defaults from the variable being solved is held at its value in the deal as
//! given while solving, and the answer says so: an upside-sharing threshold left blank is the
//! floor, so scaling the floor would otherwise move the threshold with it. A trial that
//! leaves a construction gap unfunded (a deal without completion support) is infeasible: it
//! has no metric, fails the target, and the answer lists it.
//!
//! Each is "the smallest x at which a condition holds", the condition failing below and
//! holding above. The solver works on a grid of the stated tolerance (x = k × tolerance, k
//! whole): it brackets the answer by halving towards the lower bound or doubling towards
//! the upper one, then bisects until the two ends are one step apart. The answer is the end
//! where the condition holds, and it is verified by two fresh runs: at the answer (the
//! condition holds) and one step below (it does not). Where no bracket exists within the
//! bounds the answer says so, with the values tried.
//!
//! Runs use `engine::run_with` with the sculpted profiles computed once from the deal as
//! given (a sculpted loan's schedule is its contract: a different floor or first-loss
//! commitment does not re-sculpt it).
//!
//! Owns the solver and the four questions. Must not write or print anything.

use rayon::prelude::*;
use rust_decimal::Decimal;

use super::{AnalyticsError, equity_holders, equity_label, equity_npv, senior_dscr_min};
use super::{price_multiplier, senior_tranches, sold_products, unfunded_gap};
use crate::engine::calc::EPS;
use crate::engine::{self, Results, SculptProfiles};
use crate::model::{Deal, Scenario, TrancheKind};

/// The multiplier's tolerance: a ten-thousandth of the price deck.
pub const MULTIPLIER_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 4);
/// The floor factor's tolerance: a ten-thousandth of the deal's floor.
pub const FLOOR_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 4);
/// Price multipliers are searched from 0.0001 to 10 (the Scenarios sheet's range).
const MAX_MULTIPLIER: i64 = 100_000;
/// Floors are searched from 0 to 10 times the deal's.
const MAX_FLOOR_FACTOR: i64 = 100_000;
/// The most runs one question may take (a bracket and a bisection take about 30).
const MAX_RUNS: usize = 200;

/// Reads a question's metric from a run.
type Reader<'a> = dyn Fn(&Results) -> Option<Decimal> + Sync + 'a;

/// The questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Question {
    EquityNpvZero,
    SeniorDscrOne,
    FloorForLockup,
    FirstLossForLoansAbove,
}

impl Question {
    pub const ALL: [Question; 4] = [
        Question::EquityNpvZero,
        Question::SeniorDscrOne,
        Question::FloorForLockup,
        Question::FirstLossForLoansAbove,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Question::EquityNpvZero => "price multiplier for equity NPV = 0",
            Question::SeniorDscrOne => "price multiplier for senior min DSCR = 1.00",
            Question::FloorForLockup => "price floor for senior min DSCR = lock-up",
            Question::FirstLossForLoansAbove => "first-loss commitment for no loss above it",
        }
    }
}

/// What was varied, for the answer's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Unknown {
    PriceMultiplier,
    /// Every floor scaled by one factor: (support name, its floor in the deal, its unit).
    FloorFactor(Vec<(String, Decimal, String)>),
    /// The commitment of this tranche, in the deal currency.
    Commitment {
        tranche: String,
        currency: String,
    },
}

/// What a metric must reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// "equity NPV (Sponsor)", "senior min DSCR".
    pub metric: String,
    /// The value to reach (0, 1.00, the lock-up ratio, or 0 for the loss).
    pub value: Decimal,
    /// At least the value (NPV, DSCR), or at most it (a loss).
    pub at_least: bool,
}

impl Target {
    fn holds(&self, metric: Option<Decimal>) -> bool {
        match metric {
            None => false,
            Some(m) if self.at_least => m >= self.value,
            Some(m) => m <= self.value,
        }
    }
}

/// A question's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The smallest x on the grid where the target holds, verified by reruns at x and one
    /// tolerance below.
    Solved {
        value: Decimal,
        metric: Option<Decimal>,
        below: Decimal,
        metric_below: Option<Decimal>,
        tolerance: Decimal,
        runs: usize,
    },
    /// The target already holds at the lower bound (no floor, no first-loss money needed).
    AtLowerBound {
        value: Decimal,
        metric: Option<Decimal>,
        runs: usize,
    },
    /// The target never holds between the bounds: the values tried and what they gave.
    NoBracket {
        tried: Vec<(Decimal, Option<Decimal>)>,
        upper: Decimal,
    },
    /// The question does not apply to the deal (no senior debt, no floor, …).
    NotApplicable(String),
    /// More first-loss money only displaces sponsor equity: the loans above it draw the
    /// same at no first-loss money and at the upper bound, so their loss (the same too)
    /// cannot be reduced by it.
    OnlyDisplacesEquity {
        loss_above: Option<Decimal>,
        drawn_above: Decimal,
        upper: Decimal,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question: Question,
    pub unknown: Unknown,
    pub target: Target,
    pub outcome: Outcome,
    /// Inputs that default from the unknown, held at their value in the deal as given, in
    /// words ("the upside threshold of 'US floor' held at 110 (blank: the floor)").
    pub held: Vec<String>,
    /// Values of the unknown whose run left a construction gap unfunded (no metric).
    pub infeasible: Vec<Decimal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioAnswers {
    pub scenario: String,
    pub answers: Vec<Answer>,
}

/// Every question for the base case and each scenario of the deal. The questions run side
/// by side (each is independent and deterministic); the order of the answers is fixed.
pub fn solve_all(deal: &Deal) -> Result<Vec<ScenarioAnswers>, AnalyticsError> {
    let profiles = engine::sculpt_profiles(deal)?;
    let mut scenarios = vec![Scenario::base()];
    scenarios.extend(deal.scenarios.iter().cloned());
    let jobs: Vec<(usize, Question)> = (0..scenarios.len())
        .flat_map(|s| Question::ALL.into_iter().map(move |q| (s, q)))
        .collect();
    let answers: Vec<Result<Answer, AnalyticsError>> = jobs
        .par_iter()
        .map(|(s, q)| solve(deal, &scenarios[*s], *q, &profiles))
        .collect();
    let mut out: Vec<ScenarioAnswers> = scenarios
        .iter()
        .map(|s| ScenarioAnswers {
            scenario: s.name.value.clone(),
            answers: Vec::new(),
        })
        .collect();
    for ((s, _), answer) in jobs.iter().zip(answers) {
        out[*s].answers.push(answer?);
    }
    Ok(out)
}

/// One question on one scenario.
pub fn solve(
    deal: &Deal,
    scenario: &Scenario,
    question: Question,
    profiles: &SculptProfiles,
) -> Result<Answer, AnalyticsError> {
    match question {
        Question::EquityNpvZero | Question::SeniorDscrOne => {
            solve_price_multiplier(deal, scenario, question, profiles)
        }
        Question::FloorForLockup => floor_for_lockup(deal, scenario, profiles),
        Question::FirstLossForLoansAbove => first_loss(deal, scenario, profiles),
    }
}

/// The scenario with one more price multiplier on every product the project sells.
fn with_multiplier(scenario: &Scenario, sold: &[String], m: Decimal) -> Scenario {
    let mut s = scenario.clone();
    s.overrides.extend(price_multiplier(sold, m));
    s
}

/// A solver's trials that left a construction gap unfunded (no metric, the target fails).
#[derive(Default)]
struct Infeasible(std::sync::Mutex<Vec<Decimal>>);

impl Infeasible {
    /// The metric of a trial at `x`, or none (and `x` noted) when the run is infeasible.
    fn read(&self, x: Decimal, r: &Results, read: &Reader) -> Option<Decimal> {
        if unfunded_gap(r).is_some() {
            if let Ok(mut xs) = self.0.lock() {
                xs.push(x);
            }
            return None;
        }
        read(r)
    }

    fn values(self) -> Vec<Decimal> {
        let mut xs = self.0.into_inner().unwrap_or_default();
        xs.sort();
        xs.dedup();
        xs
    }
}

fn solve_price_multiplier(
    deal: &Deal,
    scenario: &Scenario,
    question: Question,
    profiles: &SculptProfiles,
) -> Result<Answer, AnalyticsError> {
    let base = engine::run_with(deal, scenario, profiles)?;
    let holders = equity_holders(deal, &base.ledger_parties);
    let sold = sold_products(deal);
    let (target, read): (Target, Box<Reader>) = match question {
        Question::EquityNpvZero => (
            Target {
                metric: format!("{} NPV", equity_label(&base.ledger_parties, &holders)),
                value: Decimal::ZERO,
                at_least: true,
            },
            Box::new(move |r: &Results| Some(equity_npv(r, &holders))),
        ),
        _ => (
            Target {
                metric: "senior min DSCR".to_string(),
                value: Decimal::ONE,
                at_least: true,
            },
            Box::new(|r: &Results| senior_dscr_min(r)),
        ),
    };
    let infeasible = Infeasible::default();
    let answer = |outcome, infeasible: Vec<Decimal>| Answer {
        question,
        unknown: Unknown::PriceMultiplier,
        target: target.clone(),
        outcome,
        held: Vec::new(),
        infeasible,
    };
    if question == Question::SeniorDscrOne && senior_tranches(deal).is_empty() {
        return Ok(answer(
            Outcome::NotApplicable(
                "the deal has no senior debt (no tranche of kind senior debt)".into(),
            ),
            Vec::new(),
        ));
    }
    let grid = Grid {
        step: MULTIPLIER_TOLERANCE,
        lo: 1,
        hi: MAX_MULTIPLIER,
        start: 10_000,
        scale: 10_000,
    };
    let outcome = smallest(&grid, &target, |m| {
        let r = engine::run_with(deal, &with_multiplier(scenario, &sold, m), profiles)?;
        Ok(infeasible.read(m, &r, &*read))
    })?;
    Ok(answer(outcome, infeasible.values()))
}

/// The deal with every upside threshold left blank (the floor, by default) given its value,
/// so that it stays put while the floor varies; and those thresholds in words.
fn thresholds_held(deal: &Deal) -> (Deal, Vec<String>) {
    let mut held = deal.clone();
    let mut said = Vec::new();
    for s in &mut held.price_supports {
        if s.upside_threshold.is_none() && !s.upside_share.value.is_zero() {
            said.push(format!(
                "the upside-sharing threshold of '{}' held at {} (left blank, it is the floor, which the solver varies)",
                s.name.value,
                s.floor.value.normalize()
            ));
            s.upside_threshold = Some(crate::model::Sourced::bare(s.floor.value));
        }
    }
    (held, said)
}

fn floor_for_lockup(
    deal: &Deal,
    scenario: &Scenario,
    profiles: &SculptProfiles,
) -> Result<Answer, AnalyticsError> {
    let seniors = senior_tranches(deal);
    let lockup = seniors
        .iter()
        .find_map(|t| deal.tranches[*t].lockup_dscr.as_ref().map(|l| l.value));
    let floors: Vec<(String, Decimal, String)> = deal
        .price_supports
        .iter()
        .map(|s| {
            let unit = deal
                .product(&s.product.value)
                .map(|p| format!("{} {}", p.currency.value, p.unit.value.label()))
                .unwrap_or_default();
            (s.name.value.clone(), s.floor.value, unit)
        })
        .collect();
    let target = Target {
        metric: "senior min DSCR".to_string(),
        value: lockup.unwrap_or(Decimal::ONE),
        at_least: true,
    };
    let (held_deal, held) = thresholds_held(deal);
    let answer = |outcome, held: Vec<String>, infeasible: Vec<Decimal>| Answer {
        question: Question::FloorForLockup,
        unknown: Unknown::FloorFactor(floors.clone()),
        target: target.clone(),
        outcome,
        held,
        infeasible,
    };
    let not = |reason: &str| {
        answer(
            Outcome::NotApplicable(reason.into()),
            Vec::new(),
            Vec::new(),
        )
    };
    if seniors.is_empty() {
        return Ok(not(
            "the deal has no senior debt (no tranche of kind senior debt)",
        ));
    }
    if lockup.is_none() {
        return Ok(not(
            "the senior debt has no lock-up DSCR (Financing sheet, Lock-up DSCR): there is no ratio to reach",
        ));
    }
    if floors.is_empty() {
        return Ok(not(
            "the deal has no price floor (Price support sheet): add one, at any level, to solve for the level needed",
        ));
    }
    let grid = Grid {
        step: FLOOR_TOLERANCE,
        lo: 0,
        hi: MAX_FLOOR_FACTOR,
        start: 10_000,
        scale: 10_000,
    };
    let infeasible = Infeasible::default();
    let read = |r: &Results| senior_dscr_min(r);
    let outcome = smallest(&grid, &target, |factor| {
        let mut d = held_deal.clone();
        for s in &mut d.price_supports {
            s.floor.value = s.floor.value.checked_mul(factor).unwrap_or(Decimal::MAX);
        }
        let r = engine::run_with(&d, scenario, profiles)?;
        Ok(infeasible.read(factor, &r, &read))
    })?;
    Ok(answer(outcome, held, infeasible.values()))
}

/// A tolerance for money: a ten-thousandth of `scale` rounded down to a power of ten (at
/// least 0.01): 600m gives 10,000.
pub fn money_tolerance(scale: Decimal) -> Decimal {
    let mut step = Decimal::new(1, 2);
    let limit = scale / Decimal::from(10_000);
    while step * Decimal::TEN <= limit && step < Decimal::from(1_000_000_000_000i64) {
        step *= Decimal::TEN;
    }
    step.normalize()
}

/// The loans ranked above loan `fl` in the waterfall (first-loss money below every other
/// loan, then by rank).
pub fn loans_above(deal: &Deal, fl: usize) -> Vec<usize> {
    let key = |i: usize| {
        let t = &deal.tranches[i];
        (t.kind.value == TrancheKind::FirstLoss, t.rank.value)
    };
    (0..deal.tranches.len())
        .filter(|i| *i != fl && deal.tranches[*i].kind.value.is_loan() && key(*i) < key(fl))
        .collect()
}

/// The loss given default (before guarantees) and the amount disbursed of these loans.
fn loss_and_drawn(r: &Results, loans: &[usize]) -> (Decimal, Decimal) {
    let sum = |pick: fn(&crate::engine::results::TrancheResult) -> Option<Decimal>| {
        r.tranches
            .iter()
            .filter(|t| loans.contains(&t.index))
            .filter_map(pick)
            .fold(Decimal::ZERO, |a, b| a.saturating_add(b))
    };
    (sum(|t| t.loss), sum(|t| t.disbursed))
}

fn first_loss(
    deal: &Deal,
    scenario: &Scenario,
    profiles: &SculptProfiles,
) -> Result<Answer, AnalyticsError> {
    let first_loss = deal
        .tranches
        .iter()
        .position(|t| t.kind.value == TrancheKind::FirstLoss);
    let above = first_loss
        .map(|fl| loans_above(deal, fl))
        .unwrap_or_default();
    let target = Target {
        metric: "loss given default of the loans above it".to_string(),
        value: EPS,
        at_least: false,
    };
    let unknown = Unknown::Commitment {
        tranche: first_loss
            .map(|i| deal.tranches[i].name.value.clone())
            .unwrap_or_default(),
        currency: deal.currency.value.clone(),
    };
    let answer = |outcome, infeasible: Vec<Decimal>| Answer {
        question: Question::FirstLossForLoansAbove,
        unknown: unknown.clone(),
        target: target.clone(),
        outcome,
        held: Vec::new(),
        infeasible,
    };
    let Some(fl) = first_loss else {
        return Ok(answer(
            Outcome::NotApplicable(
                "the deal has no first-loss tranche (kind first-loss on the Financing sheet)"
                    .into(),
            ),
            Vec::new(),
        ));
    };
    if above.is_empty() {
        return Ok(answer(
            Outcome::NotApplicable(
                "no loan ranks above the first-loss tranche: there is nothing for it to protect"
                    .into(),
            ),
            Vec::new(),
        ));
    }
    let lent_above: Decimal = above
        .iter()
        .map(|t| deal.tranches[*t].commitment.value)
        .fold(Decimal::ZERO, |a, b| a.saturating_add(b));
    let step = money_tolerance(lent_above);
    let to_k = |x: Decimal| -> i64 { i64::try_from((x / step).round()).unwrap_or(i64::MAX / 4) };
    // Up to ten times everything lent: beyond that the loss above is not for want of
    // first-loss money.
    let lent: Decimal = deal
        .tranches
        .iter()
        .filter(|t| t.kind.value.is_loan())
        .map(|t| t.commitment.value)
        .fold(Decimal::ZERO, |a, b| a.saturating_add(b));
    let grid = Grid {
        step,
        lo: 0,
        hi: to_k(lent.saturating_mul(Decimal::TEN)).max(1),
        start: to_k(deal.tranches[fl].commitment.value),
        scale: to_k(lent_above).max(1),
    };
    let with = |c: Decimal| -> Result<Results, AnalyticsError> {
        let mut d = deal.clone();
        d.tranches[fl].commitment.value = c;
        Ok(engine::run_with(&d, scenario, profiles)?)
    };
    // First-loss money helps the loans above only by lending in their place.
    let (none, most) = (with(grid.x(grid.lo))?, with(grid.x(grid.hi))?);
    let (loss_none, drawn_none) = loss_and_drawn(&none, &above);
    let (_, drawn_most) = loss_and_drawn(&most, &above);
    let feasible = |r: &Results| unfunded_gap(r).is_none();
    if loss_none > EPS && drawn_none == drawn_most && feasible(&none) && feasible(&most) {
        return Ok(answer(
            Outcome::OnlyDisplacesEquity {
                loss_above: Some(loss_none),
                drawn_above: drawn_none,
                upper: grid.x(grid.hi),
            },
            Vec::new(),
        ));
    }
    let infeasible = Infeasible::default();
    let read = |r: &Results| Some(loss_and_drawn(r, &above).0);
    let outcome = smallest(&grid, &target, |c| Ok(infeasible.read(c, &with(c)?, &read)))?;
    Ok(answer(outcome, infeasible.values()))
}

/// The search space: x = k × step for whole k from `lo` to `hi`, starting at `start`;
/// `scale` is a sensible first step up from `lo` when the start is at it.
struct Grid {
    step: Decimal,
    lo: i64,
    hi: i64,
    start: i64,
    scale: i64,
}

impl Grid {
    fn x(&self, k: i64) -> Decimal {
        Decimal::from(k) * self.step
    }
}

/// The runs of one search: what was tried and what it gave.
struct Search<'t, F> {
    run: F,
    target: &'t Target,
    tried: Vec<(Decimal, Option<Decimal>)>,
}

impl<F> Search<'_, F>
where
    F: FnMut(Decimal) -> Result<Option<Decimal>, AnalyticsError>,
{
    fn metric(&mut self, x: Decimal) -> Result<Option<Decimal>, AnalyticsError> {
        let m = (self.run)(x)?;
        self.tried.push((x, m));
        Ok(m)
    }

    fn holds(&mut self, x: Decimal) -> Result<bool, AnalyticsError> {
        let m = self.metric(x)?;
        Ok(self.target.holds(m))
    }
}

/// How a bracket search ended.
enum Bracket {
    /// (k where the target fails, k where it holds), fails < holds.
    Found(i64, i64),
    AtLowerBound,
    None,
}

/// The smallest grid point where the target holds (see the module header).
fn smallest(
    grid: &Grid,
    target: &Target,
    run: impl FnMut(Decimal) -> Result<Option<Decimal>, AnalyticsError>,
) -> Result<Outcome, AnalyticsError> {
    let mut search = Search {
        run,
        target,
        tried: Vec::new(),
    };
    let start = grid.start.clamp(grid.lo, grid.hi);
    let bracket = if search.holds(grid.x(start))? {
        // Halve the distance to the lower bound until the target fails.
        let mut holds = start;
        loop {
            if holds == grid.lo {
                break Bracket::AtLowerBound;
            }
            if search.tried.len() > MAX_RUNS {
                break Bracket::None;
            }
            let k = grid.lo + (holds - grid.lo) / 2;
            if search.holds(grid.x(k))? {
                holds = k;
            } else {
                break Bracket::Found(k, holds);
            }
        }
    } else {
        // Double the distance from the lower bound until the target holds.
        let mut fails = start;
        loop {
            if fails >= grid.hi || search.tried.len() > MAX_RUNS {
                break Bracket::None;
            }
            let k = if fails <= grid.lo {
                grid.lo + grid.scale
            } else {
                grid.lo + 2 * (fails - grid.lo)
            }
            .min(grid.hi);
            if search.holds(grid.x(k))? {
                break Bracket::Found(fails, k);
            }
            fails = k;
        }
    };
    let (mut fails, mut holds) = match bracket {
        Bracket::Found(f, h) => (f, h),
        Bracket::AtLowerBound => {
            let value = grid.x(grid.lo);
            let metric = search.metric(value)?;
            return Ok(Outcome::AtLowerBound {
                value,
                metric,
                runs: search.tried.len(),
            });
        }
        Bracket::None => {
            return Ok(Outcome::NoBracket {
                tried: search.tried,
                upper: grid.x(grid.hi),
            });
        }
    };
    while holds - fails > 1 && search.tried.len() <= MAX_RUNS {
        let mid = fails + (holds - fails) / 2;
        if search.holds(grid.x(mid))? {
            holds = mid;
        } else {
            fails = mid;
        }
    }
    // Verification: fresh runs at the answer and one step below.
    let value = grid.x(holds);
    let below = grid.x(fails);
    let metric = search.metric(value)?;
    let metric_below = search.metric(below)?;
    Ok(Outcome::Solved {
        value,
        metric,
        below,
        metric_below,
        tolerance: grid.step * Decimal::from(holds - fails),
        runs: search.tried.len(),
    })
}

#[derive(serde::Serialize)]
struct JsonFloor {
    support: String,
    floor: String,
}

#[derive(serde::Serialize)]
struct JsonAnswer {
    question: Question,
    label: &'static str,
    unknown: &'static str,
    target_metric: String,
    target: String,
    target_is_minimum: bool,
    outcome: &'static str,
    value: Option<String>,
    metric_at_value: Option<String>,
    value_below: Option<String>,
    metric_below: Option<String>,
    tolerance: Option<String>,
    runs: Option<usize>,
    floors: Vec<JsonFloor>,
    tried: Vec<(String, Option<String>)>,
    reason: Option<String>,
    /// Inputs held at their value in the deal as given while solving.
    held: Vec<String>,
    /// Values tried whose run left a construction gap unfunded.
    infeasible: Vec<String>,
}

#[derive(serde::Serialize)]
struct JsonScenario {
    scenario: String,
    answers: Vec<JsonAnswer>,
}

#[derive(serde::Serialize)]
struct JsonBreakeven<'a> {
    deal: &'a str,
    currency: &'a str,
    scenarios: Vec<JsonScenario>,
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Why first-loss money cannot help, in words.
pub fn displaces_equity(outcome: &Outcome) -> String {
    match outcome {
        Outcome::OnlyDisplacesEquity {
            loss_above,
            drawn_above,
            upper,
        } => format!(
            "more first-loss money only displaces sponsor equity: the loans above it draw {} whether it commits 0 or {}, and lose {} (loss given default): no first-loss commitment protects them",
            text(*drawn_above),
            text(*upper),
            loss_above.map(text).unwrap_or_else(|| "n/a".into())
        ),
        _ => String::new(),
    }
}

/// The floors an answer's factor gives: (support, floor level).
pub fn floors_at(unknown: &Unknown, factor: Decimal) -> Vec<(String, Decimal, String)> {
    match unknown {
        Unknown::FloorFactor(floors) => floors
            .iter()
            .map(|(name, floor, unit)| {
                (
                    name.clone(),
                    floor.checked_mul(factor).unwrap_or(Decimal::MAX),
                    unit.clone(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The answers as exact JSON.
pub fn to_json(deal: &Deal, all: &[ScenarioAnswers]) -> String {
    let scenarios = all
        .iter()
        .map(|s| JsonScenario {
            scenario: s.scenario.clone(),
            answers: s
                .answers
                .iter()
                .map(|a| {
                    let mut j = JsonAnswer {
                        question: a.question,
                        label: a.question.label(),
                        unknown: match a.unknown {
                            Unknown::PriceMultiplier => "price multiplier",
                            Unknown::FloorFactor(_) => "price floor factor",
                            Unknown::Commitment { .. } => "first-loss commitment",
                        },
                        target_metric: a.target.metric.clone(),
                        target: text(a.target.value),
                        target_is_minimum: a.target.at_least,
                        outcome: "",
                        value: None,
                        metric_at_value: None,
                        value_below: None,
                        metric_below: None,
                        tolerance: None,
                        runs: None,
                        floors: Vec::new(),
                        tried: Vec::new(),
                        reason: None,
                        held: a.held.clone(),
                        infeasible: a.infeasible.iter().map(|x| text(*x)).collect(),
                    };
                    let floors = |v: Decimal| {
                        floors_at(&a.unknown, v)
                            .into_iter()
                            .map(|(support, floor, _)| JsonFloor {
                                support,
                                floor: text(floor),
                            })
                            .collect()
                    };
                    match &a.outcome {
                        Outcome::Solved {
                            value,
                            metric,
                            below,
                            metric_below,
                            tolerance,
                            runs,
                        } => {
                            j.outcome = "solved";
                            j.value = Some(text(*value));
                            j.metric_at_value = metric.map(text);
                            j.value_below = Some(text(*below));
                            j.metric_below = metric_below.map(text);
                            j.tolerance = Some(text(*tolerance));
                            j.runs = Some(*runs);
                            j.floors = floors(*value);
                        }
                        Outcome::AtLowerBound {
                            value,
                            metric,
                            runs,
                        } => {
                            j.outcome = "met_at_lower_bound";
                            j.value = Some(text(*value));
                            j.metric_at_value = metric.map(text);
                            j.runs = Some(*runs);
                            j.floors = floors(*value);
                        }
                        Outcome::NoBracket { tried, upper } => {
                            j.outcome = "no_bracket";
                            j.tried = tried.iter().map(|(x, m)| (text(*x), m.map(text))).collect();
                            j.reason = Some(format!(
                                "the target is not reached anywhere up to {}",
                                text(*upper)
                            ));
                        }
                        Outcome::NotApplicable(reason) => {
                            j.outcome = "not_applicable";
                            j.reason = Some(reason.clone());
                        }
                        Outcome::OnlyDisplacesEquity { .. } => {
                            j.outcome = "only_displaces_equity";
                            j.reason = Some(displaces_equity(&a.outcome));
                        }
                    }
                    j
                })
                .collect(),
        })
        .collect();
    let doc = JsonBreakeven {
        deal: &deal.name.value,
        currency: &deal.currency.value,
        scenarios,
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
    fn money_tolerance_is_a_ten_thousandth_rounded_down_to_a_power_of_ten() {
        for (scale, want) in [
            (dec!(600000000), dec!(10000)),
            (dec!(100000), dec!(10)),
            (dec!(99999), dec!(1)),
            (dec!(5), dec!(0.01)),
            (dec!(0), dec!(0.01)),
        ] {
            assert_eq!(money_tolerance(scale), want, "scale {scale}");
        }
    }

    /// The solver on a known function: the smallest k/100 with k/100 ≥ 0.4321, from either
    /// side of the start, and a target out of reach.
    #[test]
    fn the_solver_brackets_and_bisects_to_one_step() {
        let target = Target {
            metric: "x".into(),
            value: dec!(0.4321),
            at_least: true,
        };
        for start in [1, 10, 100, 300] {
            let grid = Grid {
                step: dec!(0.0001),
                lo: 0,
                hi: 100_000,
                start,
                scale: 10_000,
            };
            let got = smallest(&grid, &target, |x| Ok(Some(x))).expect("solves");
            match got {
                Outcome::Solved {
                    value,
                    metric,
                    below,
                    metric_below,
                    ..
                } => {
                    assert_eq!(value, dec!(0.4321), "start {start}");
                    assert_eq!(metric, Some(dec!(0.4321)));
                    assert_eq!(below, dec!(0.4320));
                    assert_eq!(metric_below, Some(dec!(0.4320)));
                }
                other => panic!("start {start}: {other:?}"),
            }
        }
        let grid = Grid {
            step: dec!(0.0001),
            lo: 0,
            hi: 1000,
            start: 10,
            scale: 10,
        };
        assert!(matches!(
            smallest(&grid, &target, |x| Ok(Some(x))),
            Ok(Outcome::NoBracket { .. })
        ));
        let easy = Target {
            value: dec!(-1),
            ..target
        };
        assert!(matches!(
            smallest(&grid, &easy, |x| Ok(Some(x))),
            Ok(Outcome::AtLowerBound { value, .. }) if value.is_zero()
        ));
    }
}
