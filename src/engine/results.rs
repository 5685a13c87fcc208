//! What a run produces, gathered from the evaluated calculation: per-party metrics, the
//! project's values, each government's fiscal position, tranche metrics, checks and the
//! event log. Decimals are strings at full precision in the JSON.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::calc::{Calc, EPS, Expr, RowId, ScalarId, Values};
use super::rules::{Built, CheckLine, EventKind, LedgerParty, Lines};
use crate::finance;
use crate::model::{Deal, Scenario};

/// A period of the model: its label year and dates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Period {
    pub label: String,
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum DiscountRate {
    Flat(String),
    Schedule(Vec<String>),
}

/// A party of the ledger and, for the deal's parties, what it is worth to it.
///
/// In the JSON a ledger-only party (the project company, Market, Suppliers, the engine's
/// bookkeeping) has its name, kind, `"ledger_only": true` and its cash flows, nothing else:
/// it is not measured. Here its metrics read "n/a".
#[derive(Debug, Clone, PartialEq)]
pub struct PartyResult {
    pub name: String,
    pub kind: String,
    pub ledger_only: bool,
    pub discount_rate: DiscountRate,
    /// Its ledger: the sum of the entries it pays and receives (+ received).
    pub cash_flows: Vec<String>,
    /// An offtaker's contracts: the market value of what it takes, and the tonnes. Its
    /// metrics measure cash flows plus that value.
    pub offtake: Option<OfftakeResult>,
    pub npv: String,
    pub irr: Option<String>,
    /// Every IRR of the flows it is measured on, ascending (several when they change sign
    /// more than once).
    pub irr_roots: Vec<String>,
    /// False when the flows have several IRRs: the IRR alone does not rank them; read the
    /// NPV and the MIRR.
    pub irr_unique: bool,
    pub mirr: Option<String>,
    pub payback_year: Option<String>,
    pub money_multiple: Option<String>,
    pub peak_exposure: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OfftakeResult {
    /// Per period: the market value of the tonnes it takes under its contracts.
    pub market_value_received: Vec<String>,
    /// Tonnes it takes over the horizon.
    pub tonnes_secured: String,
}

impl Serialize for PartyResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        if self.ledger_only {
            let mut st = s.serialize_struct("PartyResult", 4)?;
            st.serialize_field("name", &self.name)?;
            st.serialize_field("kind", &self.kind)?;
            st.serialize_field("ledger_only", &true)?;
            st.serialize_field("cash_flows", &self.cash_flows)?;
            return st.end();
        }
        let mut st = s.serialize_struct("PartyResult", 13)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("discount_rate", &self.discount_rate)?;
        st.serialize_field("cash_flows", &self.cash_flows)?;
        if let Some(o) = &self.offtake {
            st.serialize_field("offtake", o)?;
        }
        st.serialize_field("npv", &self.npv)?;
        st.serialize_field("irr", &self.irr)?;
        st.serialize_field("irr_roots", &self.irr_roots)?;
        st.serialize_field("irr_unique", &self.irr_unique)?;
        st.serialize_field("mirr", &self.mirr)?;
        st.serialize_field("payback_year", &self.payback_year)?;
        st.serialize_field("money_multiple", &self.money_multiple)?;
        st.serialize_field("peak_exposure", &self.peak_exposure)?;
        st.end()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProjectResult {
    pub name: String,
    pub discount_rate: String,
    pub unlevered_pre_tax_cash_flows: Vec<String>,
    pub unlevered_post_tax_cash_flows: Vec<String>,
    pub npv_pre_tax: String,
    pub irr_pre_tax: Option<String>,
    pub irr_pre_tax_roots: Vec<String>,
    pub npv_post_tax: String,
    pub irr_post_tax: Option<String>,
    pub irr_post_tax_roots: Vec<String>,
    pub risked_npv: String,
    pub cfads: Vec<String>,
    /// What no one in the deal funded (0 unless the deal has no completion support).
    pub funding_gap: String,
    /// A construction funding gap met by the sponsors by shareholding.
    pub completion_support: String,
    pub overrun_equity: String,
    pub equity_deficit_support: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoanSubsidy {
    pub tranche: String,
    pub subsidy_cost: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GovernmentResult {
    pub name: String,
    pub fiscal_npv: String,
    pub net_outlay: String,
    pub receipts: BTreeMap<String, String>,
    pub payments: BTreeMap<String, String>,
    pub peak_exposure: String,
    pub guarantee_calls: String,
    pub floor_payout: String,
    pub contingent_liability: Vec<String>,
    pub secured_tonnes: String,
    pub cost_per_tonne: Option<String>,
    pub loan_subsidy: Vec<LoanSubsidy>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParticipantResult {
    pub party: String,
    pub share: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrancheResult {
    pub name: String,
    pub kind: String,
    pub rank: u32,
    pub participants: Vec<ParticipantResult>,
    pub balance: Vec<String>,
    pub dscr_min: Option<String>,
    pub dscr_avg: Option<String>,
    pub llcr: Option<String>,
    /// The first year a payment due was missed.
    pub default_year: Option<String>,
    pub exposure_at_default: Option<String>,
    /// Recoveries after the default year, valued in it at the loan's contract rate.
    pub recoveries_pv: Option<String>,
    /// Loss given default: exposure at default less the PV of recoveries (0 to EAD).
    pub loss: Option<String>,
    /// Loss given default as a share of the exposure at default.
    pub loss_pct: Option<String>,
    pub loss_after_guarantee: Option<String>,
    /// What is still owed at the horizon and written off, nominal.
    pub shortfall_at_horizon: Option<String>,
    pub first_arrears_year: Option<String>,
    pub guarantee_calls: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
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
                amount: c.amount.as_deref().and_then(|a| a.parse().ok()),
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
    pub amount: String,
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

fn texts(values: &[Decimal]) -> Vec<String> {
    values.iter().map(|v| text(*v)).collect()
}

/// Every IRR of a row of flows, as text (none when there is none).
fn roots_of(flows: &[Decimal]) -> Vec<String> {
    finance::irr_roots(flows)
        .map(|r| texts(&r))
        .unwrap_or_default()
}

fn year_text(d: Decimal) -> String {
    d.trunc().to_string()
}

pub(super) fn assemble(deal: &Deal, scenario: &Scenario, built: Built, values: Values) -> Results {
    let Built {
        calc,
        lines,
        parties,
        ..
    } = built;
    let scalar = |s: ScalarId| values.scalar(s);
    let scalar_text = |s: ScalarId| scalar(s).map(text);
    let zero_text = |s: Option<ScalarId>| {
        s.and_then(scalar)
            .map(text)
            .unwrap_or_else(|| "0".to_string())
    };

    let periods = periods(deal);
    let mut party_results = Vec::new();
    for (p, party) in parties.iter().enumerate() {
        let pl = &lines.parties[p];
        let flows = values.row(pl.net);
        let discount_rate = discount_rate_of(deal, scenario, party, &calc, &values);
        if pl.ledger_only {
            let na = || "n/a".to_string();
            party_results.push(PartyResult {
                name: party.name.clone(),
                kind: party.kind.label().to_string(),
                ledger_only: true,
                discount_rate,
                cash_flows: texts(flows),
                offtake: None,
                npv: na(),
                irr: None,
                irr_roots: Vec::new(),
                irr_unique: true,
                mirr: None,
                payback_year: None,
                money_multiple: None,
                peak_exposure: na(),
            });
            continue;
        }
        let measured = pl.offtake.as_ref().map(|o| o.position).unwrap_or(pl.net);
        // Every root (several when the flows change sign more than once).
        let roots = roots_of(values.row(measured));
        party_results.push(PartyResult {
            name: party.name.clone(),
            kind: party.kind.label().to_string(),
            ledger_only: false,
            discount_rate,
            cash_flows: texts(flows),
            offtake: pl.offtake.as_ref().map(|o| OfftakeResult {
                market_value_received: texts(values.row(o.goods)),
                tonnes_secured: zero_text(Some(o.tonnes)),
            }),
            npv: zero_text(Some(pl.npv)),
            irr: scalar_text(pl.irr),
            irr_unique: roots.len() < 2,
            irr_roots: roots,
            mirr: scalar_text(pl.mirr),
            payback_year: scalar(pl.payback).map(year_text),
            money_multiple: scalar_text(pl.money_multiple),
            peak_exposure: zero_text(Some(pl.peak_exposure)),
        });
    }

    let pj = &lines.project;
    let row_texts = |r: Option<RowId>| r.map(|r| texts(values.row(r))).unwrap_or_default();
    let project = ProjectResult {
        name: deal.project_name.value.clone(),
        discount_rate: match parties.first() {
            Some(project) => match discount_rate_of(deal, scenario, project, &calc, &values) {
                DiscountRate::Flat(rate) => rate,
                DiscountRate::Schedule(_) => text(deal.discount_rate.value),
            },
            None => text(deal.discount_rate.value),
        },
        unlevered_pre_tax_cash_flows: row_texts(pj.pre_tax),
        unlevered_post_tax_cash_flows: row_texts(pj.post_tax),
        npv_pre_tax: zero_text(pj.npv_pre_tax),
        irr_pre_tax: pj.irr_pre_tax.and_then(scalar_text),
        irr_pre_tax_roots: pj
            .pre_tax
            .map(|r| roots_of(values.row(r)))
            .unwrap_or_default(),
        npv_post_tax: zero_text(pj.npv_post_tax),
        irr_post_tax: pj.irr_post_tax.and_then(scalar_text),
        irr_post_tax_roots: pj
            .post_tax
            .map(|r| roots_of(values.row(r)))
            .unwrap_or_default(),
        risked_npv: zero_text(pj.risked_npv),
        cfads: row_texts(lines.cfads),
        funding_gap: zero_text(pj.funding_gap),
        completion_support: zero_text(pj.completion_support),
        overrun_equity: zero_text(pj.overrun_equity),
        equity_deficit_support: zero_text(pj.deficit_support),
    };

    let governments = lines
        .governments
        .iter()
        .map(|g| GovernmentResult {
            name: parties[g.party].name.clone(),
            fiscal_npv: zero_text(Some(g.fiscal_npv)),
            net_outlay: zero_text(Some(g.net_outlay)),
            receipts: g
                .receipts
                .iter()
                .map(|(k, s)| (k.label().to_string(), zero_text(Some(*s))))
                .collect(),
            payments: g
                .payments
                .iter()
                .map(|(k, s)| (k.label().to_string(), zero_text(Some(*s))))
                .collect(),
            peak_exposure: zero_text(Some(g.peak_exposure)),
            guarantee_calls: zero_text(Some(g.guarantee_calls)),
            floor_payout: zero_text(Some(g.floor_payout)),
            contingent_liability: texts(values.row(g.contingent_liability)),
            secured_tonnes: zero_text(Some(g.secured_tonnes)),
            cost_per_tonne: scalar_text(g.cost_per_tonne),
            loan_subsidy: g
                .loan_subsidy
                .iter()
                .map(|(t, s)| LoanSubsidy {
                    tranche: deal.tranches[*t].name.value.clone(),
                    subsidy_cost: scalar_text(*s),
                })
                .collect(),
        })
        .collect();

    let tranches = lines
        .tranches
        .iter()
        .map(|tl| {
            let t = &deal.tranches[tl.tranche];
            TrancheResult {
                name: t.name.value.clone(),
                kind: t.kind.value.label().to_string(),
                rank: t.rank.value,
                participants: t
                    .participants
                    .iter()
                    .map(|p| ParticipantResult {
                        party: p.party.value.clone(),
                        share: text(p.share.value),
                    })
                    .collect(),
                balance: row_texts(tl.balance),
                dscr_min: tl.dscr_min.and_then(scalar_text),
                dscr_avg: tl.dscr_avg.and_then(scalar_text),
                llcr: tl.llcr.and_then(scalar_text),
                default_year: tl.default_year.and_then(scalar).map(year_text),
                exposure_at_default: tl.exposure_at_default.and_then(scalar_text),
                recoveries_pv: tl.recoveries_pv.and_then(scalar_text),
                loss: tl.loss.and_then(scalar_text),
                loss_pct: tl.loss_pct.and_then(scalar_text),
                loss_after_guarantee: tl.loss_after_guarantee.and_then(scalar_text),
                shortfall_at_horizon: tl.shortfall.and_then(scalar_text),
                first_arrears_year: tl.first_arrears_year.and_then(scalar).map(year_text),
                guarantee_calls: tl.calls.and_then(scalar_text),
            }
        })
        .collect();

    let checks = lines
        .checks
        .iter()
        .map(|c| {
            let deviation = scalar(c.deviation).unwrap_or_default();
            let ok = scalar(c.ok) == Some(Decimal::ONE);
            let failure = if ok {
                None
            } else {
                // The checks' own tolerance: half a unit of the ledger.
                let half_unit = Decimal::new(5, deal.ledger_precision.value + 1);
                first_failure(&calc, &values, c, half_unit)
            };
            CheckResult {
                name: c.name.clone(),
                ok,
                detail: format!("largest deviation {}", deviation.round_dp(6).normalize()),
                year: failure.map(|(y, _)| y),
                amount: failure.map(|(_, v)| text(v)),
            }
        })
        .collect();

    let mut events = Vec::new();
    for source in &lines.events {
        for (t, v) in values.row(source.row).iter().enumerate() {
            if *v <= EPS {
                continue;
            }
            let year = calc.year_of(t);
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
                year,
                kind: source.kind,
                subject: source.subject.clone(),
                amount: text(amount),
                detail,
            });
        }
    }
    events.sort_by(|a, b| (a.year, a.kind, &a.subject).cmp(&(b.year, b.kind, &b.subject)));

    Results {
        scenario: scenario.name.value.clone(),
        periods,
        parties: party_results,
        project,
        governments,
        tranches,
        checks,
        events,
        calc,
        values,
        lines,
        ledger_parties: parties,
    }
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
                label: (deal.first_year() + t as i32).to_string(),
                start: from.to_string(),
                end: to.to_string(),
            }
        })
        .collect()
}

fn discount_rate_of(
    deal: &Deal,
    scenario: &Scenario,
    party: &LedgerParty,
    _calc: &Calc,
    _values: &Values,
) -> DiscountRate {
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
                    text(p.rate_schedule[k].1.value + change)
                })
                .collect();
            DiscountRate::Schedule(rates)
        }
        Some(p) => DiscountRate::Flat(text(p.discount_rate.value + change)),
        None => DiscountRate::Flat(text(deal.discount_rate.value + change)),
    }
}

/// The JSON document of a run: the deal, its periods and every scenario's results.
#[derive(Serialize)]
struct JsonScenario<'a> {
    name: &'a str,
    parties: &'a [PartyResult],
    project: &'a ProjectResult,
    governments: &'a [GovernmentResult],
    tranches: &'a [TrancheResult],
    checks: &'a [CheckResult],
    events: &'a [Event],
}

#[derive(Serialize)]
struct JsonRun<'a> {
    deal: &'a str,
    currency: &'a str,
    discounting: &'a str,
    periods: &'a [Period],
    scenarios: Vec<JsonScenario<'a>>,
}

/// The complete, exact JSON of a run (deterministic: fields and lists in a fixed order).
pub fn to_json(deal: &Deal, runs: &[Results]) -> String {
    let periods = periods(deal);
    let doc = JsonRun {
        deal: &deal.name.value,
        currency: &deal.currency.value,
        discounting: deal.discounting.value.label(),
        periods: &periods,
        scenarios: runs
            .iter()
            .map(|r| JsonScenario {
                name: &r.scenario,
                parties: &r.parties,
                project: &r.project,
                governments: &r.governments,
                tranches: &r.tranches,
                checks: &r.checks,
                events: &r.events,
            })
            .collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}
