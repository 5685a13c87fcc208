//! Analytics on top of the engine: a tornado of one-at-a-time shocks (`sensitivity`),
//! exact-decimal breakeven solvers (`breakeven`) and Monte Carlo price paths (`montecarlo`,
//! with its random numbers in `random` and its quantile sketch in `sketch`).
//!
//! Pure like the engine: a deal and settings in, numbers out; every amount, rate and factor
//! a `Decimal`. Floating point appears only where a random path is drawn (then rounded to
//! 6 decimal places through text before it enters the engine) and in the sketch's bucket
//! index. Must not touch files, workbooks, the terminal, the clock or the environment:
//! progress goes to a callback the caller supplies, and the workbook writers live in
//! `excel`.

pub mod breakeven;
pub mod montecarlo;
pub mod random;
pub mod sensitivity;
pub mod sketch;

use std::fmt;

use rust_decimal::Decimal;

use crate::engine::Results;
use crate::engine::results::{CheckFailure, failures};
use crate::engine::rules::{LedgerParty, LedgerPartyKind};
use crate::engine::{self, EngineError};
use crate::model::{Deal, PartyKind, Scenario, TrancheKind};

/// Why an analysis could not be done.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalyticsError {
    /// A setting out of range (the caller's mistake: a usage error).
    Setting(String),
    /// The deal lacks what the analysis needs (a Monte Carlo sheet, say).
    Input(String),
    /// A run of the engine failed.
    Engine(EngineError),
}

impl fmt::Display for AnalyticsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalyticsError::Setting(s) | AnalyticsError::Input(s) => f.write_str(s),
            AnalyticsError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AnalyticsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AnalyticsError::Engine(e) => Some(e),
            AnalyticsError::Setting(_) | AnalyticsError::Input(_) => None,
        }
    }
}

impl From<EngineError> for AnalyticsError {
    fn from(e: EngineError) -> Self {
        AnalyticsError::Engine(e)
    }
}

/// The failed checks of the scenarios of the deal an analysis is about (the base case, or
/// those named): the analysis still runs and writes its outputs, and the command exits 3
/// (`error::exit::CHECKS_FAILED`) with the failures printed first. The points an analysis
/// constructs itself (tornado cases, solver trials, paths) are not these.
pub fn failed_checks(
    deal: &Deal,
    scenarios: &[&Scenario],
) -> Result<Vec<CheckFailure>, EngineError> {
    let profiles = engine::sculpt_profiles(deal)?;
    let mut runs = Vec::with_capacity(scenarios.len());
    for s in scenarios {
        runs.push(engine::run_with(deal, s, &profiles)?);
    }
    Ok(failures(&runs))
}

/// The parties whose NPV is "equity": the deal's sponsors or, in a deal without sponsors, the
/// participants of its equity tranches. Ledger indices, in ledger order.
pub fn equity_holders(deal: &Deal, parties: &[LedgerParty]) -> Vec<usize> {
    let sponsors: Vec<usize> = parties
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == LedgerPartyKind::Deal(PartyKind::Sponsor))
        .map(|(i, _)| i)
        .collect();
    if !sponsors.is_empty() {
        return sponsors;
    }
    let names: Vec<&str> = deal
        .tranches
        .iter()
        .filter(|t| t.kind.value == TrancheKind::Equity)
        .flat_map(|t| t.participants.iter().map(|p| p.party.value.as_str()))
        .collect();
    parties
        .iter()
        .enumerate()
        .filter(|(_, p)| p.deal_index.is_some() && names.contains(&p.name.as_str()))
        .map(|(i, _)| i)
        .collect()
}

/// "Equity (Sponsor)", "Equity (A + B)".
pub fn equity_label(parties: &[LedgerParty], holders: &[usize]) -> String {
    let names: Vec<&str> = holders
        .iter()
        .filter_map(|i| parties.get(*i).map(|p| p.name.as_str()))
        .collect();
    format!("Equity ({})", names.join(" + "))
}

/// The products whose price "price" means in the tornado and the breakeven solvers: those
/// a facility of the deal sells with a price deck. A product only bought as feed (crude
/// gallium for a refinery) keeps its deck: a price shock is to the project's revenue.
/// Every product with a deck, in a deal that sells none.
pub fn sold_products(deal: &Deal) -> Vec<String> {
    let sold: Vec<String> = deal
        .products
        .iter()
        .filter(|p| {
            deal.facilities
                .iter()
                .any(|f| f.product.value == p.name.value)
        })
        .map(|p| p.name.value.clone())
        .collect();
    if sold.is_empty() {
        return deal.products.iter().map(|p| p.name.value.clone()).collect();
    }
    sold
}

/// A price multiplier on each of these products (a scenario override per product).
pub fn price_multiplier(products: &[String], m: Decimal) -> Vec<crate::model::Override> {
    use crate::model::{Override, OverrideKind, Sourced};
    products
        .iter()
        .map(|p| Override {
            kind: Sourced::bare(OverrideKind::PriceMultiplier),
            product: Some(Sourced::bare(p.clone())),
            facility: None,
            phase: None,
            party: None,
            value: Sourced::bare(m),
            start_year: None,
            fall_years: Sourced::bare(1),
            bottom_years: Sourced::bare(0),
            recovery_years: Sourced::bare(0),
            haircut: Sourced::bare(Decimal::ZERO),
        })
        .collect()
}

/// The label of the project's own value.
pub const PROJECT_LABEL: &str = "Project (unlevered, after tax)";

/// The project's unlevered NPV after tax.
pub fn project_npv(r: &Results) -> Decimal {
    r.project.npv_post_tax
}

/// A party's NPV (0 for a party not measured or not in the ledger).
pub fn party_npv(r: &Results, party: usize) -> Decimal {
    r.parties.get(party).and_then(|p| p.npv).unwrap_or_default()
}

/// The sum of the equity holders' NPVs, each at its own rate.
pub fn equity_npv(r: &Results, holders: &[usize]) -> Decimal {
    holders
        .iter()
        .map(|p| party_npv(r, *p))
        .fold(Decimal::ZERO, |a, b| a.saturating_add(b))
}

/// The tranches that are senior debt, in deal order.
pub fn senior_tranches(deal: &Deal) -> Vec<usize> {
    deal.tranches
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind.value == TrancheKind::SeniorDebt)
        .map(|(i, _)| i)
        .collect()
}

/// The lowest minimum DSCR of the senior tranches (None when none has debt service).
pub fn senior_dscr_min(r: &Results) -> Option<Decimal> {
    r.tranches
        .iter()
        .filter(|t| t.kind == TrancheKind::SeniorDebt)
        .filter_map(|t| t.dscr_min)
        .min()
}

/// The construction funding gap no one in the deal met (only a deal without completion
/// support has one): a run with one is infeasible, and the analytics report it as such,
/// never with an NPV.
pub fn unfunded_gap(r: &Results) -> Option<Decimal> {
    let gap = r.project.funding_gap;
    (gap > crate::engine::calc::EPS).then_some(gap)
}

/// The senior tranches' loss given default, before any guarantee pays part of it.
pub fn senior_loss(r: &Results) -> Decimal {
    r.tranches
        .iter()
        .filter(|t| t.kind == TrancheKind::SeniorDebt)
        .filter_map(|t| t.loss)
        .fold(Decimal::ZERO, |a, b| a.saturating_add(b))
}
