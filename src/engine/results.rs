//! What a run produces, gathered from the evaluated calculation: per-party metrics, the
//! project's values, each government's fiscal position, tranche metrics and rows, checks
//! and the event log — as exact `Decimal`s, years and enums. This is the one result API:
//! the JSON (`crate::json`), the workbook writer, the screen summary (`crate::report`) and
//! the analytics read these structures; each formats at its own edge.
//!
//! The `Serialize` implementations say how the JSON shows a value (`as_text`): a decimal
//! as its text at full precision, a year as text; nothing is rounded.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::calc::{Calc, EPS, Expr, FlowKind, RowId, ScalarId, Values};
use super::rules::{Built, CheckLine, EventKind, LedgerParty, LedgerPartyKind, Lines};
use crate::finance;
use crate::model::{Deal, Scenario, TrancheKind};

/// A period of the model: its year (the JSON's `label`) and its first and last days.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Period {
    #[serde(rename = "label", serialize_with = "as_text::year")]
    pub year: i32,
    #[serde(serialize_with = "as_text::label")]
    pub start: chrono::NaiveDate,
    #[serde(serialize_with = "as_text::label")]
    pub end: chrono::NaiveDate,
}

/// A party's discount rate: one rate, or one per period (a declining public rate).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum DiscountRate {
    Flat(#[serde(serialize_with = "as_text::dec")] Decimal),
    Schedule(#[serde(serialize_with = "as_text::decs")] Vec<Decimal>),
}

/// A party of the ledger and, for the deal's parties, what it is worth to it.
///
/// A ledger-only party (the project company, Market, Suppliers, the engine's bookkeeping)
/// is not measured: its `npv` and `peak_exposure` are `None`, and in the JSON it has its
/// name, kind, `"ledger_only": true` and its cash flows, nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyResult {
    pub name: String,
    pub kind: LedgerPartyKind,
    pub ledger_only: bool,
    pub discount_rate: DiscountRate,
    /// Its ledger: the sum of the entries it pays and receives (+ received).
    pub cash_flows: Vec<Decimal>,
    /// The entries behind `cash_flows`, one per row of the ledger it is on.
    pub ledger: Vec<LedgerEntry>,
    /// An offtaker's contracts: the market value of what it takes, and the tonnes. Its
    /// metrics measure cash flows plus that value.
    pub offtake: Option<OfftakeResult>,
    pub npv: Option<Decimal>,
    pub irr: Option<Decimal>,
    /// Every IRR of the flows it is measured on, ascending (several when they change sign
    /// more than once).
    pub irr_roots: Vec<Decimal>,
    /// False when the flows have several IRRs: the IRR alone does not rank them; read the
    /// NPV and the MIRR.
    pub irr_unique: bool,
    pub mirr: Option<Decimal>,
    pub payback_year: Option<i32>,
    pub money_multiple: Option<Decimal>,
    pub peak_exposure: Option<Decimal>,
}

/// One row of the ledger as one party sees it: + received, − paid.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LedgerEntry {
    pub kind: FlowKind,
    /// The party on the other side.
    pub counterparty: String,
    /// The calculation row it is (its label in the workbook).
    pub row: String,
    #[serde(serialize_with = "as_text::decs")]
    pub values: Vec<Decimal>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OfftakeResult {
    /// Per period: the market value of the tonnes it takes under its contracts.
    #[serde(serialize_with = "as_text::decs")]
    pub market_value_received: Vec<Decimal>,
    /// Tonnes it takes over the horizon.
    #[serde(serialize_with = "as_text::dec")]
    pub tonnes_secured: Decimal,
}

impl Serialize for PartyResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use as_text::{Text, Texts, Year};
        use serde::ser::SerializeStruct;
        if self.ledger_only {
            let mut st = s.serialize_struct("PartyResult", 4)?;
            st.serialize_field("name", &self.name)?;
            st.serialize_field("kind", self.kind.label())?;
            st.serialize_field("ledger_only", &true)?;
            st.serialize_field("cash_flows", &Texts(&self.cash_flows))?;
            return st.end();
        }
        let mut st = s.serialize_struct("PartyResult", 13)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("kind", self.kind.label())?;
        st.serialize_field("discount_rate", &self.discount_rate)?;
        st.serialize_field("cash_flows", &Texts(&self.cash_flows))?;
        if let Some(o) = &self.offtake {
            st.serialize_field("offtake", o)?;
        }
        st.serialize_field("npv", &Text(self.npv.unwrap_or_default()))?;
        st.serialize_field("irr", &self.irr.map(Text))?;
        st.serialize_field("irr_roots", &Texts(&self.irr_roots))?;
        st.serialize_field("irr_unique", &self.irr_unique)?;
        st.serialize_field("mirr", &self.mirr.map(Text))?;
        st.serialize_field("payback_year", &self.payback_year.map(Year))?;
        st.serialize_field("money_multiple", &self.money_multiple.map(Text))?;
        let peak = self.peak_exposure.unwrap_or_default();
        st.serialize_field("peak_exposure", &Text(peak))?;
        st.end()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProjectResult {
    pub name: String,
    #[serde(serialize_with = "as_text::dec")]
    pub discount_rate: Decimal,
    #[serde(serialize_with = "as_text::decs")]
    pub unlevered_pre_tax_cash_flows: Vec<Decimal>,
    #[serde(serialize_with = "as_text::decs")]
    pub unlevered_post_tax_cash_flows: Vec<Decimal>,
    #[serde(serialize_with = "as_text::dec")]
    pub npv_pre_tax: Decimal,
    #[serde(serialize_with = "as_text::opt")]
    pub irr_pre_tax: Option<Decimal>,
    #[serde(serialize_with = "as_text::decs")]
    pub irr_pre_tax_roots: Vec<Decimal>,
    #[serde(serialize_with = "as_text::dec")]
    pub npv_post_tax: Decimal,
    #[serde(serialize_with = "as_text::opt")]
    pub irr_post_tax: Option<Decimal>,
    #[serde(serialize_with = "as_text::decs")]
    pub irr_post_tax_roots: Vec<Decimal>,
    #[serde(serialize_with = "as_text::dec")]
    pub risked_npv: Decimal,
    #[serde(serialize_with = "as_text::decs")]
    pub cfads: Vec<Decimal>,
    /// What no one in the deal funded (0 unless the deal has no completion support).
    #[serde(serialize_with = "as_text::dec")]
    pub funding_gap: Decimal,
    /// A construction funding gap met by the sponsors by shareholding.
    #[serde(serialize_with = "as_text::dec")]
    pub completion_support: Decimal,
    #[serde(serialize_with = "as_text::dec")]
    pub overrun_equity: Decimal,
    #[serde(serialize_with = "as_text::dec")]
    pub equity_deficit_support: Decimal,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoanSubsidy {
    pub tranche: String,
    #[serde(serialize_with = "as_text::opt")]
    pub subsidy_cost: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GovernmentResult {
    pub name: String,
    #[serde(serialize_with = "as_text::dec")]
    pub fiscal_npv: Decimal,
    #[serde(serialize_with = "as_text::dec")]
    pub net_outlay: Decimal,
    /// What it receives over the horizon, by kind of flow (keyed by the kind's snake_case
    /// name in the JSON).
    #[serde(serialize_with = "as_text::by_flow")]
    pub receipts: BTreeMap<FlowKind, Decimal>,
    #[serde(serialize_with = "as_text::by_flow")]
    pub payments: BTreeMap<FlowKind, Decimal>,
    #[serde(serialize_with = "as_text::dec")]
    pub peak_exposure: Decimal,
    #[serde(serialize_with = "as_text::dec")]
    pub guarantee_calls: Decimal,
    #[serde(serialize_with = "as_text::dec")]
    pub floor_payout: Decimal,
    #[serde(serialize_with = "as_text::decs")]
    pub contingent_liability: Vec<Decimal>,
    #[serde(serialize_with = "as_text::dec")]
    pub secured_tonnes: Decimal,
    #[serde(serialize_with = "as_text::opt")]
    pub cost_per_tonne: Option<Decimal>,
    pub loan_subsidy: Vec<LoanSubsidy>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParticipantResult {
    pub party: String,
    #[serde(serialize_with = "as_text::dec")]
    pub share: Decimal,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrancheResult {
    /// Its index in `deal.tranches`.
    #[serde(skip)]
    pub index: usize,
    pub name: String,
    #[serde(serialize_with = "as_text::label")]
    pub kind: TrancheKind,
    pub rank: u32,
    pub participants: Vec<ParticipantResult>,
    #[serde(serialize_with = "as_text::decs")]
    pub balance: Vec<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub dscr_min: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub dscr_avg: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub llcr: Option<Decimal>,
    /// The first year a payment due was missed.
    #[serde(serialize_with = "as_text::opt_year")]
    pub default_year: Option<i32>,
    #[serde(serialize_with = "as_text::opt")]
    pub exposure_at_default: Option<Decimal>,
    /// Recoveries after the default year, valued in it at the loan's contract rate.
    #[serde(serialize_with = "as_text::opt")]
    pub recoveries_pv: Option<Decimal>,
    /// Loss given default: exposure at default less the PV of recoveries (0 to EAD).
    #[serde(serialize_with = "as_text::opt")]
    pub loss: Option<Decimal>,
    /// Loss given default as a share of the exposure at default.
    #[serde(serialize_with = "as_text::opt")]
    pub loss_pct: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub loss_after_guarantee: Option<Decimal>,
    /// What is still owed at the horizon and written off, nominal.
    #[serde(serialize_with = "as_text::opt")]
    pub shortfall_at_horizon: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt_year")]
    pub first_arrears_year: Option<i32>,
    #[serde(serialize_with = "as_text::opt")]
    pub guarantee_calls: Option<Decimal>,
    /// What the loan disbursed over the horizon (in the JSON with the rows).
    #[serde(skip)]
    pub disbursed: Option<Decimal>,
    /// Its calculation per year (in the JSON only with the rows: `crate::json::Options`).
    #[serde(skip)]
    pub rows: TrancheRows,
}

/// A tranche's calculation per year (its balance is `TrancheResult::balance`); a row the
/// tranche does not have (no DSRA, no debt service for a grant) is `None`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TrancheRows {
    /// Drawn in the year (construction funding).
    #[serde(serialize_with = "as_text::opt_decs")]
    pub draws: Option<Vec<Decimal>>,
    /// Interest accrued in the year.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub interest: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub interest_paid: Option<Vec<Decimal>>,
    /// Principal scheduled in the year.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub principal_scheduled: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub principal_paid: Option<Vec<Decimal>>,
    /// Principal outstanding at the end of the year (arrears apart).
    #[serde(serialize_with = "as_text::opt_decs")]
    pub principal_balance: Option<Vec<Decimal>>,
    /// Interest and principal fallen due and unpaid, at the end of the year.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub arrears_interest: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub arrears_principal: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub debt_service: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub dscr: Option<Vec<Decimal>>,
    /// The debt service reserve account's balance at the end of the year.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub dsra: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub dsra_draw: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub dsra_topup: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub dsra_release: Option<Vec<Decimal>>,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub write_off: Option<Vec<Decimal>>,
}

/// A facility's physical output per year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FacilityResult {
    pub name: String,
    #[serde(serialize_with = "as_text::opt_decs")]
    pub production: Option<Vec<Decimal>>,
    /// What it has to sell: production less the feed its plants take.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub sellable: Option<Vec<Decimal>>,
    /// Its sales value per year (contracts, market, transfers to its plants); None for a
    /// facility that sells nothing.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub sales_value: Option<Vec<Decimal>>,
    /// Its costs per year as the calculation sheet books them: operating (feed included),
    /// capital, and expensed (exploration, rehabilitation…).
    #[serde(serialize_with = "as_text::decs")]
    pub operating_costs: Vec<Decimal>,
    #[serde(serialize_with = "as_text::decs")]
    pub capital_costs: Vec<Decimal>,
    #[serde(serialize_with = "as_text::decs")]
    pub expensed_costs: Vec<Decimal>,
    /// The royalty on its sales value; None where no royalty applies.
    #[serde(serialize_with = "as_text::opt_decs")]
    pub royalty: Option<Vec<Decimal>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// A failed check: the first year it fails (absent when it holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// A failed check: by how much it misses in that year (absent when it holds).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text::opt"
    )]
    pub amount: Option<Decimal>,
}

/// A check that does not hold, as `run` and the analytics print it first and the Summary
/// shows it at the top (worded by `report::check_failure`).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckFailure {
    pub scenario: String,
    pub check: String,
    /// The first year it fails, when the check is measured year by year.
    pub year: Option<i32>,
    /// By how much it misses in that year.
    pub amount: Option<Decimal>,
    /// "largest deviation 5400000".
    pub detail: String,
}

/// Every failed check of these runs, in scenario order.
pub fn failures(runs: &[Results]) -> Vec<CheckFailure> {
    runs.iter()
        .flat_map(|r| {
            r.checks.iter().filter(|c| !c.ok).map(|c| CheckFailure {
                scenario: r.scenario.clone(),
                check: c.name.clone(),
                year: c.year,
                amount: c.amount,
                detail: c.detail.clone(),
            })
        })
        .collect()
}

/// The first year a check fails and its value then: the row its deviation is measured on
/// (inside the deviation's row maximum or minimum) at its first period beyond the
/// tolerance — either way for a check that a row is zero (it takes both the maximum and the
/// minimum), below zero only for a check that it is never negative.
fn first_failure(
    calc: &Calc,
    values: &Values,
    check: &CheckLine,
    tolerance: Decimal,
) -> Option<(i32, Decimal)> {
    fn rows(expr: &Expr, found: &mut Vec<(RowId, bool)>) {
        match expr {
            Expr::RowMax(r) => found.push((*r, true)),
            Expr::RowMin(r) => found.push((*r, false)),
            Expr::Sqrt(e) | Expr::Neg(e) | Expr::Abs(e) => rows(e, found),
            Expr::Add(es)
            | Expr::Mul(es)
            | Expr::Min(es)
            | Expr::Max(es)
            | Expr::And(es)
            | Expr::Or(es) => es.iter().for_each(|e| rows(e, found)),
            Expr::Sub(a, b) | Expr::Div(a, b) | Expr::Pow(a, b) | Expr::Cmp(_, a, b) => {
                rows(a, found);
                rows(b, found);
            }
            Expr::If(a, b, c) => {
                rows(a, found);
                rows(b, found);
                rows(c, found);
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    rows(&calc.scalars.get(check.deviation.index())?.expr, &mut found);
    let (row, _) = *found.first()?;
    let two_sided = found.iter().any(|(r, max)| *r == row && *max);
    values
        .row(row)
        .iter()
        .enumerate()
        .find(|(_, v)| {
            if two_sided {
                v.abs() > tolerance
            } else {
                -**v > tolerance
            }
        })
        .map(|(t, v)| (calc.year_of(t), *v))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub year: i32,
    pub kind: EventKind,
    pub subject: String,
    #[serde(serialize_with = "as_text::dec")]
    pub amount: Decimal,
    pub detail: String,
}

/// One scenario's results, with the calculation behind them (for the workbook).
#[derive(Debug, Clone)]
pub struct Results {
    pub scenario: String,
    pub periods: Vec<Period>,
    pub parties: Vec<PartyResult>,
    pub project: ProjectResult,
    pub governments: Vec<GovernmentResult>,
    pub tranches: Vec<TrancheResult>,
    pub facilities: Vec<FacilityResult>,
    pub checks: Vec<CheckResult>,
    pub events: Vec<Event>,
    pub calc: Calc,
    pub values: Values,
    pub lines: Lines,
    pub ledger_parties: Vec<LedgerParty>,
}

impl Results {
    /// Every check held.
    pub fn all_checks_pass(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn party(&self, name: &str) -> Option<&PartyResult> {
        self.parties.iter().find(|p| p.name == name)
    }

    pub fn tranche(&self, name: &str) -> Option<&TrancheResult> {
        self.tranches.iter().find(|t| t.name == name)
    }

    pub fn government(&self, name: &str) -> Option<&GovernmentResult> {
        self.governments.iter().find(|g| g.name == name)
    }
}

/// The text of a decimal in the JSON: every significant digit, nothing rounded, no trailing
/// zeros (so 0.020 typed in code and 0.02 read from a cell give the same JSON).
pub fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// How the JSON shows the results' values (`serialize_with` helpers and wrappers).
pub mod as_text {
    use std::collections::BTreeMap;
    use std::fmt::Display;

    use rust_decimal::Decimal;
    use serde::{Serialize, Serializer};

    use crate::engine::calc::FlowKind;

    /// A decimal as its text (`super::text`).
    pub struct Text(pub Decimal);
    /// Decimals as texts.
    pub struct Texts<'a>(pub &'a [Decimal]);
    /// A year as text ("2031").
    pub struct Year(pub i32);

    impl Serialize for Text {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0.normalize())
        }
    }

    impl Serialize for Texts<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|d| Text(*d)))
        }
    }

    impl Serialize for Year {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }

    pub fn dec<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        Text(*d).serialize(s)
    }

    pub fn decs<S: Serializer>(d: &[Decimal], s: S) -> Result<S::Ok, S::Error> {
        Texts(d).serialize(s)
    }

    pub fn opt<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Text).serialize(s)
    }

    pub fn opt_decs<S: Serializer>(d: &Option<Vec<Decimal>>, s: S) -> Result<S::Ok, S::Error> {
        d.as_deref().map(Texts).serialize(s)
    }

    pub fn year<S: Serializer>(y: &i32, s: S) -> Result<S::Ok, S::Error> {
        Year(*y).serialize(s)
    }

    pub fn opt_year<S: Serializer>(y: &Option<i32>, s: S) -> Result<S::Ok, S::Error> {
        y.map(Year).serialize(s)
    }

    /// By its `Display`: an enum of the model by the label a user types ("senior debt"), a
    /// date as ISO 8601 ("2030-12-31").
    pub fn label<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// The snake_case name of a kind of flow ("upside_share"): its serde name.
    pub fn flow_key(kind: FlowKind) -> String {
        match serde_json::to_value(kind) {
            Ok(serde_json::Value::String(name)) => name,
            _ => kind.label().replace(' ', "_"),
        }
    }

    /// Amounts by kind of flow, keyed by the kind's snake_case name in alphabetical order.
    pub fn by_flow<S: Serializer>(
        map: &BTreeMap<FlowKind, Decimal>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut named: Vec<(String, Text)> =
            map.iter().map(|(k, v)| (flow_key(*k), Text(*v))).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        s.collect_map(named)
    }
}

/// Every IRR of a row of flows (none when there is none).
fn roots_of(flows: &[Decimal]) -> Vec<Decimal> {
    finance::irr_roots(flows).unwrap_or_default()
}

/// A year the calculation holds as a decimal (a payback or default year).
fn year_of(d: Decimal) -> Option<i32> {
    d.trunc().to_i32()
}

/// What assembling reads: the calculation, its values and where each result is.
struct Source<'a> {
    deal: &'a Deal,
    scenario: &'a Scenario,
    calc: &'a Calc,
    values: &'a Values,
    lines: &'a Lines,
    parties: &'a [LedgerParty],
}

impl Source<'_> {
    fn scalar(&self, s: ScalarId) -> Option<Decimal> {
        self.values.scalar(s)
    }

    fn opt(&self, s: Option<ScalarId>) -> Option<Decimal> {
        s.and_then(|s| self.scalar(s))
    }

    /// A scalar, 0 where it has no value.
    fn zero(&self, s: Option<ScalarId>) -> Decimal {
        self.opt(s).unwrap_or_default()
    }

    fn row(&self, r: RowId) -> Vec<Decimal> {
        self.values.row(r).to_vec()
    }

    fn opt_row(&self, r: Option<RowId>) -> Option<Vec<Decimal>> {
        r.map(|r| self.row(r))
    }

    /// The sum of rows, period by period (zeros for none).
    fn sum_rows(&self, rows: &[RowId]) -> Vec<Decimal> {
        let mut out = vec![Decimal::ZERO; self.values.periods];
        for r in rows {
            for (o, v) in out.iter_mut().zip(self.values.row(*r)) {
                *o += *v;
            }
        }
        out
    }

    /// A row, empty when there is none.
    fn row_or_empty(&self, r: Option<RowId>) -> Vec<Decimal> {
        self.opt_row(r).unwrap_or_default()
    }
}

pub(super) fn assemble(deal: &Deal, scenario: &Scenario, built: Built, values: Values) -> Results {
    let tranche_rows: Vec<TrancheRows> = built
        .fin_rows
        .iter()
        .map(|f| {
            let row = |r: Option<RowId>| r.map(|r| values.row(r).to_vec());
            TrancheRows {
                draws: row(f.draws),
                interest: row(f.interest),
                interest_paid: row(f.interest_paid),
                principal_scheduled: row(f.scheduled),
                principal_paid: row(f.principal_paid),
                principal_balance: row(f.principal),
                arrears_interest: row(f.arrears_interest),
                arrears_principal: row(f.arrears_principal),
                debt_service: row(f.debt_service),
                dscr: row(f.dscr),
                dsra: row(f.dsra),
                dsra_draw: row(f.dsra_draw),
                dsra_topup: row(f.dsra_topup),
                dsra_release: row(f.dsra_release),
                write_off: row(f.write_off),
            }
        })
        .collect();
    let Built {
        calc,
        lines,
        parties,
        ..
    } = built;
    let src = Source {
        deal,
        scenario,
        calc: &calc,
        values: &values,
        lines: &lines,
        parties: &parties,
    };
    let mut events = events(&src);
    events.sort_by(|a, b| (a.year, a.kind, &a.subject).cmp(&(b.year, b.kind, &b.subject)));
    Results {
        scenario: scenario.name.value.clone(),
        periods: periods(deal),
        parties: party_results(&src),
        project: project_result(&src),
        governments: government_results(&src),
        tranches: tranche_results(&src, tranche_rows),
        facilities: facility_results(&src),
        checks: check_results(&src),
        events,
        calc,
        values,
        lines,
        ledger_parties: parties,
    }
}

fn party_results(src: &Source) -> Vec<PartyResult> {
    let entries = ledger_entries(src);
    src.parties
        .iter()
        .zip(entries)
        .enumerate()
        .map(|(p, (party, ledger))| {
            let pl = &src.lines.parties[p];
            let discount_rate = discount_rate_of(src.deal, src.scenario, party);
            let mut result = PartyResult {
                name: party.name.clone(),
                kind: party.kind,
                ledger_only: pl.ledger_only,
                discount_rate,
                cash_flows: src.row(pl.net),
                ledger,
                offtake: None,
                npv: None,
                irr: None,
                irr_roots: Vec::new(),
                irr_unique: true,
                mirr: None,
                payback_year: None,
                money_multiple: None,
                peak_exposure: None,
            };
            if !pl.ledger_only {
                measure(src, pl, &mut result);
            }
            result
        })
        .collect()
}

/// A measured party's metrics.
fn measure(src: &Source, pl: &super::rules::PartyLines, result: &mut PartyResult) {
    let measured = pl.offtake.as_ref().map(|o| o.position).unwrap_or(pl.net);
    // Every root (several when the flows change sign more than once).
    let roots = roots_of(src.values.row(measured));
    result.offtake = pl.offtake.as_ref().map(|o| OfftakeResult {
        market_value_received: src.row(o.goods),
        tonnes_secured: src.zero(Some(o.tonnes)),
    });
    result.npv = Some(src.zero(Some(pl.npv)));
    result.irr = src.scalar(pl.irr);
    result.irr_unique = roots.len() < 2;
    result.irr_roots = roots;
    result.mirr = src.scalar(pl.mirr);
    result.payback_year = src.scalar(pl.payback).and_then(year_of);
    result.money_multiple = src.scalar(pl.money_multiple);
    result.peak_exposure = Some(src.zero(Some(pl.peak_exposure)));
}

/// Each ledger party's entries: every row of the calculation tagged as a flow from one
/// party to another, + for the payee and − for the payer.
fn ledger_entries(src: &Source) -> Vec<Vec<LedgerEntry>> {
    let mut entries = vec![Vec::new(); src.parties.len()];
    let name = |p: usize| {
        src.parties
            .get(p)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    for &r in &src.calc.order {
        let def = &src.calc.rows[r];
        let Some(tag) = &def.ledger else { continue };
        let paid = src.values.row(r);
        for (party, other, sign) in [
            (tag.payee, tag.payer, Decimal::ONE),
            (tag.payer, tag.payee, Decimal::NEGATIVE_ONE),
        ] {
            if let Some(list) = entries.get_mut(party) {
                list.push(LedgerEntry {
                    kind: tag.kind,
                    counterparty: name(other),
                    row: def.label.clone(),
                    values: paid.iter().map(|v| v * sign).collect(),
                });
            }
        }
    }
    entries
}

fn project_result(src: &Source) -> ProjectResult {
    let (deal, pj) = (src.deal, &src.lines.project);
    let roots = |r: Option<RowId>| r.map(|r| roots_of(src.values.row(r))).unwrap_or_default();
    ProjectResult {
        name: deal.project_name.value.clone(),
        discount_rate: match src.parties.first() {
            Some(project) => match discount_rate_of(deal, src.scenario, project) {
                DiscountRate::Flat(rate) => rate,
                DiscountRate::Schedule(_) => deal.discount_rate.value,
            },
            None => deal.discount_rate.value,
        },
        unlevered_pre_tax_cash_flows: src.row_or_empty(pj.pre_tax),
        unlevered_post_tax_cash_flows: src.row_or_empty(pj.post_tax),
        npv_pre_tax: src.zero(pj.npv_pre_tax),
        irr_pre_tax: src.opt(pj.irr_pre_tax),
        irr_pre_tax_roots: roots(pj.pre_tax),
        npv_post_tax: src.zero(pj.npv_post_tax),
        irr_post_tax: src.opt(pj.irr_post_tax),
        irr_post_tax_roots: roots(pj.post_tax),
        risked_npv: src.zero(pj.risked_npv),
        cfads: src.row_or_empty(src.lines.cfads),
        funding_gap: src.zero(pj.funding_gap),
        completion_support: src.zero(pj.completion_support),
        overrun_equity: src.zero(pj.overrun_equity),
        equity_deficit_support: src.zero(pj.deficit_support),
    }
}

fn government_results(src: &Source) -> Vec<GovernmentResult> {
    let by_flow = |flows: &[(FlowKind, ScalarId)]| -> BTreeMap<FlowKind, Decimal> {
        flows
            .iter()
            .map(|(k, s)| (*k, src.zero(Some(*s))))
            .collect()
    };
    src.lines
        .governments
        .iter()
        .map(|g| GovernmentResult {
            name: src.parties[g.party].name.clone(),
            fiscal_npv: src.zero(Some(g.fiscal_npv)),
            net_outlay: src.zero(Some(g.net_outlay)),
            receipts: by_flow(&g.receipts),
            payments: by_flow(&g.payments),
            peak_exposure: src.zero(Some(g.peak_exposure)),
            guarantee_calls: src.zero(Some(g.guarantee_calls)),
            floor_payout: src.zero(Some(g.floor_payout)),
            contingent_liability: src.row(g.contingent_liability),
            secured_tonnes: src.zero(Some(g.secured_tonnes)),
            cost_per_tonne: src.scalar(g.cost_per_tonne),
            loan_subsidy: g
                .loan_subsidy
                .iter()
                .map(|(t, s)| LoanSubsidy {
                    tranche: src.deal.tranches[*t].name.value.clone(),
                    subsidy_cost: src.scalar(*s),
                })
                .collect(),
        })
        .collect()
}

fn tranche_results(src: &Source, mut rows: Vec<TrancheRows>) -> Vec<TrancheResult> {
    src.lines
        .tranches
        .iter()
        .map(|tl| {
            let t = &src.deal.tranches[tl.tranche];
            TrancheResult {
                index: tl.tranche,
                name: t.name.value.clone(),
                kind: t.kind.value,
                rank: t.rank.value,
                participants: t
                    .participants
                    .iter()
                    .map(|p| ParticipantResult {
                        party: p.party.value.clone(),
                        share: p.share.value,
                    })
                    .collect(),
                balance: src.row_or_empty(tl.balance),
                dscr_min: src.opt(tl.dscr_min),
                dscr_avg: src.opt(tl.dscr_avg),
                llcr: src.opt(tl.llcr),
                default_year: src.opt(tl.default_year).and_then(year_of),
                exposure_at_default: src.opt(tl.exposure_at_default),
                recoveries_pv: src.opt(tl.recoveries_pv),
                loss: src.opt(tl.loss),
                loss_pct: src.opt(tl.loss_pct),
                loss_after_guarantee: src.opt(tl.loss_after_guarantee),
                shortfall_at_horizon: src.opt(tl.shortfall),
                first_arrears_year: src.opt(tl.first_arrears_year).and_then(year_of),
                guarantee_calls: src.opt(tl.calls),
                disbursed: src.opt(tl.disbursed),
                rows: rows
                    .get_mut(tl.tranche)
                    .map(std::mem::take)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn facility_results(src: &Source) -> Vec<FacilityResult> {
    src.lines
        .facilities
        .iter()
        .map(|f| FacilityResult {
            name: f.name.clone(),
            production: src.opt_row(f.production),
            sellable: src.opt_row(f.sellable),
            sales_value: src.opt_row(f.sales_value),
            operating_costs: src.sum_rows(&f.operating),
            capital_costs: src.sum_rows(&f.capital),
            expensed_costs: src.sum_rows(&f.expensed),
            royalty: src.opt_row(f.royalty),
        })
        .collect()
}

fn check_results(src: &Source) -> Vec<CheckResult> {
    // The checks' own tolerance: half a unit of the ledger.
    let half_unit = Decimal::new(5, src.deal.ledger_precision.value + 1);
    src.lines
        .checks
        .iter()
        .map(|c| {
            let deviation = src.scalar(c.deviation).unwrap_or_default();
            let ok = src.scalar(c.ok) == Some(Decimal::ONE);
            let failure = if ok {
                None
            } else {
                first_failure(src.calc, src.values, c, half_unit)
            };
            CheckResult {
                name: c.name.clone(),
                ok,
                detail: format!("largest deviation {}", deviation.round_dp(6).normalize()),
                year: failure.map(|(y, _)| y),
                amount: failure.map(|(_, v)| v),
            }
        })
        .collect()
}

fn events(src: &Source) -> Vec<Event> {
    let mut events = Vec::new();
    for source in &src.lines.events {
        for (t, v) in src.values.row(source.row).iter().enumerate() {
            if *v <= EPS {
                continue;
            }
            let amount = if source.kind == EventKind::Lockup {
                Decimal::ZERO
            } else {
                *v
            };
            let detail = match source.kind {
                EventKind::Lockup => {
                    "distributions locked up: a DSCR below its lock-up ratio or arrears outstanding"
                        .to_string()
                }
                kind => format!(
                    "{} of {} on {}",
                    kind.label(),
                    amount.round_dp(2),
                    source.subject
                ),
            };
            events.push(Event {
                year: src.calc.year_of(t),
                kind: source.kind,
                subject: source.subject.clone(),
                amount,
                detail,
            });
        }
    }
    events
}

/// The model's periods: period t runs from the (t−1)th anniversary of the start date to
/// the day before the t-th.
pub fn periods(deal: &Deal) -> Vec<Period> {
    let start = deal.start_date.value;
    (0..deal.horizon_years.value)
        .map(|t| {
            let from = start
                .checked_add_months(chrono::Months::new(12 * t))
                .unwrap_or(start);
            let to = start
                .checked_add_months(chrono::Months::new(12 * (t + 1)))
                .and_then(|d| d.pred_opt())
                .unwrap_or(start);
            Period {
                year: deal.first_year() + t as i32,
                start: from,
                end: to,
            }
        })
        .collect()
}

fn discount_rate_of(deal: &Deal, scenario: &Scenario, party: &LedgerParty) -> DiscountRate {
    let change: Decimal = scenario
        .overrides
        .iter()
        .filter(|o| o.kind.value == crate::model::OverrideKind::DiscountRateChange)
        .filter(|o| match (&o.party, party.deal_index) {
            (None, _) => true,
            (Some(t), Some(_)) => t.value == party.name,
            // The project company and the outside parties discount at the project's rate.
            (Some(t), None) => t.value == deal.project_name.value,
        })
        .map(|o| o.value.value)
        .sum();
    match party.deal_index.map(|k| &deal.parties[k]) {
        Some(p) if !p.rate_schedule.is_empty() => {
            let first = p.rate_schedule.first().map(|(y, _)| *y).unwrap_or_default();
            let rates = (0..deal.horizon_years.value as i32)
                .map(|t| {
                    let year = deal.first_year() + t;
                    let k = (year - first).clamp(0, p.rate_schedule.len() as i32 - 1) as usize;
                    p.rate_schedule[k].1.value + change
                })
                .collect();
            DiscountRate::Schedule(rates)
        }
        Some(p) => DiscountRate::Flat(p.discount_rate.value + change),
        None => DiscountRate::Flat(deal.discount_rate.value + change),
    }
}
