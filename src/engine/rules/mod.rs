//! Builds one scenario's calculation from the deal: the deal's rules written as rows.
//!
//! The order of the parts is the order of the calculation in each period: timeline,
//! production, prices, costs, revenue, royalties, financing costs, tax, cash flow, funding,
//! the waterfall, balances, losses and guarantees, the ledger, metrics and checks. Each part
//! lives in its own file; they share the `Builder` and record what they made in `Lines`,
//! which the results and the writer read.

mod balances;
mod cash_flow;
mod checks;
mod costs;
mod cover;
mod distributions;
mod financing;
mod financing_costs;
mod fiscal;
mod funding;
mod government;
mod ledger;
mod losses;
mod operations;
mod prices;
mod production;
mod project_metrics;
mod repayment;
mod reserves;
mod revenue;
mod timeline;
mod tranche_metrics;
mod waterfall;

use rust_decimal::Decimal;

use super::calc::{Calc, EPS, Expr, FlowKind, Precision, RowId, ScalarId, if_, le, round, sum};
use crate::model::key::{
    DealField, InputKey, Key, OverrideAt, OverrideField, ParticipantAt, ParticipantField,
};
use crate::model::{Deal, Override, OverrideKind, PartyKind, Scenario, Sourced};

pub use financing::SculptProfiles;

/// The parties of the ledger: the project company, the outside world, then the deal's.
#[derive(Debug, Clone)]
pub struct LedgerParty {
    pub name: String,
    pub kind: LedgerPartyKind,
    /// Index into `deal.parties` for the deal's own parties.
    pub deal_index: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerPartyKind {
    Project,
    Market,
    Suppliers,
    FundingGap,
    Deal(PartyKind),
}

impl LedgerPartyKind {
    pub fn label(self) -> &'static str {
        match self {
            LedgerPartyKind::Project => "project",
            LedgerPartyKind::Market => "market",
            LedgerPartyKind::Suppliers => "suppliers",
            LedgerPartyKind::FundingGap => "funding gap",
            LedgerPartyKind::Deal(k) => k.label(),
        }
    }
}

pub const PROJECT: usize = 0;
pub const MARKET: usize = 1;
pub const SUPPLIERS: usize = 2;
pub const FUNDING_GAP: usize = 3;

/// The name of the outside parties the engine adds.
pub const MARKET_NAME: &str = "Market";
pub const SUPPLIERS_NAME: &str = "Suppliers";
pub const FUNDING_GAP_NAME: &str = "Funding gap";

/// Rows and scalars that results and metrics read, by what they mean.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    pub parties: Vec<PartyLines>,
    pub project: ProjectLines,
    pub tranches: Vec<TrancheLines>,
    pub governments: Vec<GovernmentLines>,
    pub checks: Vec<CheckLine>,
    pub events: Vec<EventSource>,
    pub facilities: Vec<FacilityLines>,
    /// Market price per product in its own unit, for charts and price support.
    pub prices: Vec<(String, RowId)>,
    pub cfads: Option<RowId>,
    pub cash: Option<RowId>,
    /// The operating-period flag (1 from commercial operations).
    pub operating: Option<RowId>,
    /// With price paths: per product (deal order), the multiplier input of each period.
    pub price_paths: Vec<Vec<super::calc::InputId>>,
    /// The one scalar (no value) that stands for every metric of a ledger-only party.
    pub not_measured: Option<ScalarId>,
}

#[derive(Debug, Clone, Default)]
pub struct FacilityLines {
    pub name: String,
    pub production: Option<RowId>,
    /// What it has to sell: production less the feed its plants take.
    pub sellable: Option<RowId>,
    /// Its sales value (contracts, market, transfers to its plants): the royalty base.
    pub sales_value: Option<RowId>,
    /// Its cost rows: operating (incl. feed), capital, and expensed (exploration,
    /// rehabilitation…).
    pub operating: Vec<RowId>,
    pub capital: Vec<RowId>,
    pub expensed: Vec<RowId>,
    pub royalty: Option<RowId>,
}

#[derive(Debug, Clone)]
pub struct PartyLines {
    /// Its ledger: the sum of the entries it pays and receives.
    pub net: RowId,
    /// The running total of what its metrics measure (its position, for an offtaker).
    pub cumulative: RowId,
    /// Kept in the ledger only, not measured: the project company (its owners are measured)
    /// and the parties outside the deal (Market, Suppliers, the engine's bookkeeping). Its
    /// metric scalars are then `Lines::not_measured`, which has no value.
    pub ledger_only: bool,
    /// An offtaker's contracts: what it receives for what it pays.
    pub offtake: Option<OfftakeLines>,
    pub npv: ScalarId,
    pub irr: ScalarId,
    pub mirr: ScalarId,
    pub payback: ScalarId,
    pub money_multiple: ScalarId,
    pub peak_exposure: ScalarId,
    /// The party's rate in each period (after any scenario change).
    pub rates: Vec<Expr>,
}

/// An offtaker is measured on its position: its cash flows (what it pays for the product)
/// plus the market value of the tonnes it takes. The NPV of that position is the value of
/// its contracts, the discounted (market − contract price) × tonnes.
#[derive(Debug, Clone)]
pub struct OfftakeLines {
    /// Market value of the tonnes it takes, per period.
    pub goods: RowId,
    /// Cash flows plus `goods`: what its NPV, IRR and the rest measure.
    pub position: RowId,
    /// Tonnes it takes over the horizon: the supply it secures.
    pub tonnes: ScalarId,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectLines {
    pub pre_tax: Option<RowId>,
    /// Cumulative unlevered cash flow after tax.
    pub cumulative: Option<RowId>,
    pub post_tax: Option<RowId>,
    pub npv_pre_tax: Option<ScalarId>,
    pub irr_pre_tax: Option<ScalarId>,
    pub npv_post_tax: Option<ScalarId>,
    pub irr_post_tax: Option<ScalarId>,
    pub risked_npv: Option<ScalarId>,
    pub funding_gap: Option<ScalarId>,
    pub completion_support: Option<ScalarId>,
    pub overrun_equity: Option<ScalarId>,
    pub deficit_support: Option<ScalarId>,
}

#[derive(Debug, Clone)]
pub struct TrancheLines {
    pub tranche: usize,
    /// Outstanding (principal and arrears) at the end of each period.
    pub balance: Option<RowId>,
    pub draws: Option<RowId>,
    pub dscr_min: Option<ScalarId>,
    pub dscr_avg: Option<ScalarId>,
    pub dscr: Option<RowId>,
    pub covenant: Option<RowId>,
    pub llcr: Option<ScalarId>,
    /// Loss given default: exposure at default less the PV of recoveries after it.
    pub loss: Option<ScalarId>,
    /// Loss given default as a share of the exposure at default.
    pub loss_pct: Option<ScalarId>,
    pub loss_after_guarantee: Option<ScalarId>,
    pub default_year: Option<ScalarId>,
    pub exposure_at_default: Option<ScalarId>,
    pub recoveries_pv: Option<ScalarId>,
    /// The nominal shortfall written off at the horizon.
    pub shortfall: Option<ScalarId>,
    pub first_arrears_year: Option<ScalarId>,
    pub disbursed: Option<ScalarId>,
    pub calls: Option<ScalarId>,
}

#[derive(Debug, Clone)]
pub struct GovernmentLines {
    pub party: usize,
    pub fiscal_npv: ScalarId,
    pub net_outlay: ScalarId,
    pub receipts: Vec<(FlowKind, ScalarId)>,
    pub payments: Vec<(FlowKind, ScalarId)>,
    pub cost_per_tonne: ScalarId,
    pub secured_tonnes: ScalarId,
    pub peak_exposure: ScalarId,
    pub guarantee_calls: ScalarId,
    pub floor_payout: ScalarId,
    pub contingent_liability: RowId,
    /// (loan tranche, subsidy cost as a share of disbursements).
    pub loan_subsidy: Vec<(usize, ScalarId)>,
}

#[derive(Debug, Clone)]
pub struct CheckLine {
    pub name: String,
    /// 1 when the check holds.
    pub ok: ScalarId,
    /// The largest deviation, for the detail text.
    pub deviation: ScalarId,
}

/// Rows whose non-zero values are events of the log.
#[derive(Debug, Clone)]
pub struct EventSource {
    pub kind: EventKind,
    pub subject: String,
    pub row: RowId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    FundingGap,
    CompletionSupport,
    OverrunEquity,
    EquitySupport,
    Lockup,
    Arrears,
    Default,
    UnpaidAtMaturity,
    DsraDraw,
    WriteOff,
    GuaranteeCall,
    FloorPayout,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::FundingGap => "unfunded funding gap",
            EventKind::CompletionSupport => "completion support by the sponsors",
            EventKind::OverrunEquity => "overrun equity",
            EventKind::EquitySupport => "equity support for a cash deficit",
            EventKind::Lockup => "distribution lock-up",
            EventKind::Arrears => "arrears",
            EventKind::Default => "default (first missed payment): exposure at default",
            EventKind::UnpaidAtMaturity => "unpaid at final maturity",
            EventKind::DsraDraw => "DSRA draw",
            EventKind::WriteOff => "write-off",
            EventKind::GuaranteeCall => "guarantee call",
            EventKind::FloorPayout => "price floor payout",
        }
    }
}

/// A built calculation and the map of what is where.
pub struct Built {
    pub calc: Calc,
    pub lines: Lines,
    pub parties: Vec<LedgerParty>,
    /// Every tranche's rows, for solvers that read the calculation back.
    pub fin_rows: Vec<financing::TrancheRows>,
    /// The ledger precision as rounding refers to it (the Deal sheet's input).
    pub ledger_digits: Expr,
    /// The operating year (1 in the first year of commercial operations).
    pub op_year: RowId,
}

impl Built {
    /// What every row and scalar is known to be (see `Calc::precisions`).
    pub fn precisions(&self, places: u32) -> super::calc::Precisions {
        self.calc.precisions(&self.ledger_digits, places, &[])
    }
}

/// A build failure that is the deal's fault (the validator should have caught it).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildError(pub String);

pub(crate) struct Builder<'a> {
    pub deal: &'a Deal,
    pub scenario: &'a Scenario,
    /// This scenario's index among the deal's, when it is one of them (else its
    /// overrides are constants).
    scenario_index: Option<usize>,
    pub c: Calc,
    pub lines: Lines,
    pub parties: Vec<LedgerParty>,
    /// Ledger flows, in order (also in `c.rows[..].ledger`).
    pub flows: Vec<RowId>,
    pub t: timeline::Timeline,
    pub ops: operations::Operations,
    pub fin: financing::Financing,
    pub fiscal: fiscal::Fiscal,
    pub sculpt: &'a SculptProfiles,
    /// Add a simulated price multiplier input per product and period.
    pub price_paths: bool,
    /// Development sources: drawdowns, overrun equity and the gap (for the cash account).
    pub dev_sources: Option<RowId>,
    /// Each ledger party's net cash flow row.
    pub party_nets: Vec<RowId>,
    /// The ledger precision (decimal places) as the Deal sheet's input, and its value.
    pub ledger_digits: Expr,
    pub ledger_places: u32,
}

/// Builds the calculation of `scenario` on `deal`.
pub fn build(
    deal: &Deal,
    scenario: &Scenario,
    sculpt: &SculptProfiles,
) -> Result<Built, BuildError> {
    build_with(deal, scenario, sculpt, false)
}

/// Builds the calculation; with `price_paths`, every product's market price also takes a
/// per-period multiplier input (1 by default) that a Monte Carlo path sets.
pub fn build_with(
    deal: &Deal,
    scenario: &Scenario,
    sculpt: &SculptProfiles,
    price_paths: bool,
) -> Result<Built, BuildError> {
    let first_year = deal.first_year();
    let periods = deal.horizon_years.value as usize;
    let parties = ledger_parties(deal);
    let scenario_index = scenario_index(deal, scenario);
    let mut c = Calc::new(first_year, periods);
    let ledger_places = deal.ledger_precision.value;
    let ledger_digits = c.input(
        Decimal::from(ledger_places),
        Key::of(InputKey::Deal(DealField::LedgerPrecision)),
    );
    let mut b = Builder {
        deal,
        scenario,
        scenario_index,
        c,
        lines: Lines::default(),
        parties,
        flows: Vec::new(),
        t: Default::default(),
        ops: Default::default(),
        fin: Default::default(),
        fiscal: Default::default(),
        sculpt,
        price_paths,
        dev_sources: None,
        party_nets: Vec::new(),
        ledger_digits,
        ledger_places,
    };
    b.build_parts()?;
    Ok(Built {
        calc: b.c,
        lines: b.lines,
        parties: b.parties,
        fin_rows: b.fin.tranches,
        ledger_digits: b.ledger_digits,
        op_year: b.t.op_year,
    })
}

/// The ledger's parties: the project company, the outside world (market, suppliers, the
/// funding gap), then the deal's own parties in order.
fn ledger_parties(deal: &Deal) -> Vec<LedgerParty> {
    let mut parties = vec![
        LedgerParty {
            name: deal.project_name.value.clone(),
            kind: LedgerPartyKind::Project,
            deal_index: None,
        },
        LedgerParty {
            name: MARKET_NAME.into(),
            kind: LedgerPartyKind::Market,
            deal_index: None,
        },
        LedgerParty {
            name: SUPPLIERS_NAME.into(),
            kind: LedgerPartyKind::Suppliers,
            deal_index: None,
        },
        LedgerParty {
            name: FUNDING_GAP_NAME.into(),
            kind: LedgerPartyKind::FundingGap,
            deal_index: None,
        },
    ];
    for (i, p) in deal.parties.iter().enumerate() {
        parties.push(LedgerParty {
            name: p.name.value.clone(),
            kind: LedgerPartyKind::Deal(p.kind.value),
            deal_index: Some(i),
        });
    }
    parties
}

/// The scenario's index among the deal's, if it is one of them.
fn scenario_index(deal: &Deal, scenario: &Scenario) -> Option<usize> {
    deal.scenarios.iter().position(|s| s == scenario)
}

impl<'a> Builder<'a> {
    /// Every part of the calculation in the order of a period's calculation (see the module
    /// header), then the booking of flows to whole units of the ledger and the chaining of
    /// long rows.
    fn build_parts(&mut self) -> Result<(), BuildError> {
        self.build_timeline()?;
        self.build_operations()?;
        self.build_financing_costs()?;
        self.build_fiscal()?;
        self.record_facility_accounts();
        self.build_cash_flow()?;
        self.build_funding()?;
        self.build_waterfall()?;
        self.build_losses_and_guarantees()?;
        self.build_ledger()?;
        self.build_metrics()?;
        self.build_checks()?;
        self.book_every_flow();
        self.snap_booked_factors();
        // Excel's limits by construction: long aggregates become chains of helper rows.
        self.c.chain_long_rows();
        Ok(())
    }

    /// An input of the deal, by its key in the model (where it is typed is the
    /// workbook's business).
    pub fn input(&mut self, value: Decimal, input: InputKey) -> Expr {
        self.c.input(value, Key::of(input))
    }

    /// A key of the deal's own terms.
    pub fn deal_input(&mut self, value: Decimal, field: DealField) -> Expr {
        self.input(value, InputKey::Deal(field))
    }

    /// The overrides of this scenario of one kind, with their key when the scenario is one
    /// of the deal's.
    pub fn overrides(&self, kind: OverrideKind) -> Vec<(Option<OverrideAt>, &'a Override)> {
        let scenario: &'a Scenario = self.scenario;
        scenario
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.kind.value == kind)
            .map(|(index, o)| {
                let at = self
                    .scenario_index
                    .map(|scenario| OverrideAt { scenario, index });
                (at, o)
            })
            .collect()
    }

    /// A field of an override: an input when the scenario is the deal's, else a constant.
    pub fn override_input(
        &mut self,
        at: Option<OverrideAt>,
        value: Decimal,
        field: OverrideField,
    ) -> Expr {
        match at {
            Some(at) => self.input(value, InputKey::Override(at, field)),
            None => Expr::Num(value),
        }
    }

    /// Does an override with an optional target apply to `name`?
    pub fn targets(target: &Option<Sourced<String>>, name: &str) -> bool {
        target.as_ref().is_none_or(|t| t.value == name)
    }

    pub fn party_index(&self, name: &str) -> Result<usize, BuildError> {
        self.parties
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| BuildError(format!("unknown party '{name}'")))
    }

    /// An amount as the ledger books it: rounded once to the ledger precision (Excel's
    /// ROUND, half away from zero).
    pub fn book(&self, amount: Expr) -> Expr {
        if amount.is_zero() {
            return amount;
        }
        round(amount, self.ledger_digits.clone())
    }

    /// Splits `amount` (booked: on the ledger's grid) into parts in proportion to `weights`
    /// that sum to it exactly. Part k is ROUND(amount × (w1+…+wk) / W) − ROUND(amount ×
    /// (w1+…+wk−1) / W): within one unit of the ledger of its exact share, never of the
    /// opposite sign to the amount, and the last part is the remainder, the amount less the
    /// others. `total` is W, the sum of the weights (None when they are shares summing to
    /// 1; a zero W gives zero parts). The amount is multiplied before it is divided, so an
    /// exact half unit rounds away from zero here as in Excel. Over more than
    /// `INLINE_PARTS` parts the running sums of the weights are lines of their own, each the
    /// one before plus a weight, so that the formulas grow linearly with the parts (a rank
    /// of hundreds of loans) rather than with their square.
    pub fn allocate(&mut self, amount: Expr, weights: &[Expr], total: Option<Expr>) -> Vec<Expr> {
        let n = weights.len();
        let running = self.running_weights(&amount, weights);
        let cumulative = |k: usize| -> Expr {
            if k == 0 {
                return Expr::zero();
            }
            let w = running[k - 1].clone();
            match &total {
                None => self.book(amount.clone() * w),
                Some(total) => if_(
                    le(super::calc::abs(total.clone()), Expr::Num(EPS)),
                    Expr::zero(),
                    self.book(super::calc::div(amount.clone() * w, total.clone())),
                ),
            }
        };
        let mut parts = Vec::with_capacity(n);
        for k in 1..=n {
            if k == n {
                parts.push(amount.clone() - cumulative(k - 1));
            } else {
                parts.push(cumulative(k) - cumulative(k - 1));
            }
        }
        parts
    }

    /// w1+…+wk for k = 1..n−1 (the last is not needed: the last part is the remainder):
    /// inline sums over a few parts, lines of their own over more (see `allocate`).
    fn running_weights(&mut self, amount: &Expr, weights: &[Expr]) -> Vec<Expr> {
        let n = weights.len();
        if n <= INLINE_PARTS {
            return (1..n).map(|k| sum(weights[..k].to_vec())).collect();
        }
        let (what, unit) = match amount {
            Expr::Row(r) => (self.c.rows[*r].label.clone(), weight_unit(&self.c, weights)),
            _ => ("Allocation".to_string(), weight_unit(&self.c, weights)),
        };
        let mut out: Vec<Expr> = Vec::with_capacity(n.saturating_sub(1));
        for k in 1..n {
            let w = weights[k - 1].clone();
            let e = match out.last() {
                None => w,
                Some(prev) => prev.clone() + w,
            };
            let row = self.c.row(
                format!("{what}: weights of its first {k} of {n} parts"),
                unit,
                e,
            );
            out.push(Expr::Row(row));
        }
        out
    }

    /// Rounds every ledger flow that is not already on the ledger's grid by construction:
    /// the ledger books each amount once. Flows built from booked amounts (the usual case)
    /// are left as they are; a flow that is not gets ROUND around its formula here, so no
    /// flow, and no party's cash flow, can carry residue.
    fn book_every_flow(&mut self) {
        let mut booked = vec![false; self.c.rows.len()];
        for &r in &self.flows {
            booked[r] = true;
        }
        let p = self
            .c
            .precisions(&self.ledger_digits, self.ledger_places, &booked);
        for &r in &self.flows {
            let expr = &self.c.rows[r].expr;
            if super::calc::precision_of(expr, &p, &self.ledger_digits, self.ledger_places)
                < Precision::Grid
            {
                let e = std::mem::take(&mut self.c.rows[r].expr);
                self.c.rows[r].expr = self.book(e);
            }
        }
    }

    /// Inside every booking, wraps each factor that is already a whole number of ledger units
    /// (an amount summed from booked amounts) in ROUND to the ledger precision as well. In
    /// exact arithmetic that is the identity, so no number of the engine changes; in a
    /// spreadsheet's floating point it puts the factor back on the nearest double to its
    /// cents, so that a product which is exactly half a cent (2,062,754.10 × 45% =
    /// 928,239.345) rounds away from zero as in the engine, instead of following the tiny
    /// error that the sums behind the factor left (928,239.3449999…).
    fn snap_booked_factors(&mut self) {
        let p = self
            .c
            .precisions(&self.ledger_digits, self.ledger_places, &[]);
        let snapper = Snapper {
            p: &p,
            digits: &self.ledger_digits,
            places: self.ledger_places,
        };
        for r in 0..self.c.rows.len() {
            let e = std::mem::take(&mut self.c.rows[r].expr);
            self.c.rows[r].expr = snapper.comparisons(snapper.outside(e));
        }
    }

    /// Adds a ledger flow row.
    pub fn flow(
        &mut self,
        label: impl Into<String>,
        expr: Expr,
        payer: usize,
        payee: usize,
        kind: FlowKind,
    ) -> RowId {
        let r = self.c.flow(label, expr, payer, payee, kind);
        self.flows.push(r);
        r
    }

    /// Splits a tranche-level amount (booked) between the tranche's participants as ledger
    /// flows that sum to it exactly (`allocate`: the last participant gets the remainder).
    /// `inbound`: participants pay the project (draws); otherwise the project pays them.
    pub fn split_flow(
        &mut self,
        tranche: usize,
        label: &str,
        amount: RowId,
        inbound: bool,
        kind: FlowKind,
    ) -> Result<Vec<RowId>, BuildError> {
        let t = &self.deal.tranches[tranche];
        let single = t.participants.len() == 1;
        let participants: Vec<(String, Decimal, ParticipantAt)> = self.participant_records(tranche);
        let shares: Vec<Expr> = participants
            .iter()
            .map(|(_, share, record)| {
                self.input(
                    *share,
                    InputKey::Participant(*record, ParticipantField::Share),
                )
            })
            .collect();
        let parts = self.allocate(Expr::Row(amount), &shares, None);
        let mut rows = Vec::new();
        for ((party, _, _), part) in participants.into_iter().zip(parts) {
            let p = self.party_index(&party)?;
            let (payer, payee) = if inbound { (p, PROJECT) } else { (PROJECT, p) };
            let name = if single {
                format!("{label} — {party}")
            } else {
                format!("{label} — {party} share")
            };
            rows.push(self.flow(name, part, payer, payee, kind));
        }
        Ok(rows)
    }

    /// (party, share, which participant) of a tranche.
    pub fn participant_records(&self, tranche: usize) -> Vec<(String, Decimal, ParticipantAt)> {
        self.deal.tranches[tranche]
            .participants
            .iter()
            .enumerate()
            .map(|(participant, p)| {
                let at = ParticipantAt {
                    tranche,
                    participant,
                };
                (p.party.value.clone(), p.share.value, at)
            })
            .collect()
    }

    /// The discount-rate change of this scenario that applies to a party (None: the
    /// project company, which an override also reaches by naming it). Changes add up.
    pub fn rate_change(&mut self, party: Option<&str>) -> Expr {
        let mut total = Expr::zero();
        let project = self.deal.project_name.value.as_str();
        for (record, o) in self.overrides(OverrideKind::DiscountRateChange) {
            let applies = match &o.party {
                None => true,
                Some(t) => t.value == party.unwrap_or(project),
            };
            if applies {
                let v = self.override_input(record, o.value.value, OverrideField::Value);
                total = total + v;
            }
        }
        total
    }
}

/// The most parts an allocation writes its running weights inline for (see
/// `Builder::allocate`): every deal's participants and most ranks, so their formulas stay
/// as they were.
const INLINE_PARTS: usize = 4;

/// The unit of a sum of weights: that of the lines they read (money, tonnes), or a ratio
/// for shares typed on the sheets.
fn weight_unit(c: &Calc, weights: &[Expr]) -> super::calc::Unit {
    match weights.first() {
        Some(Expr::Row(r)) => c.rows[*r].unit,
        _ => super::calc::Unit::Ratio,
    }
}

/// Rewrites bookings so that their factors on the ledger's grid are snapped (see
/// `Builder::snap_booked_factors`).
struct Snapper<'a> {
    p: &'a super::calc::Precisions,
    digits: &'a Expr,
    places: u32,
}

impl Snapper<'_> {
    /// Outside any booking: look for ROUND to the ledger precision.
    fn outside(&self, e: Expr) -> Expr {
        match e {
            Expr::Round(a, d) if d.as_ref() == self.digits => {
                Expr::Round(Box::new(self.inside(*a)), d)
            }
            other => self.map(other, |s, x| s.outside(x)),
        }
    }

    /// Within a booking's argument: snap the grid factors of products and quotients.
    fn inside(&self, e: Expr) -> Expr {
        match e {
            Expr::Mul(items) => Expr::Mul(items.into_iter().map(|f| self.factor(f)).collect()),
            Expr::Div(a, b) => Expr::Div(Box::new(self.factor(*a)), Box::new(self.factor(*b))),
            other => self.map(other, |s, x| s.inside(x)),
        }
    }

    fn factor(&self, f: Expr) -> Expr {
        let on_grid =
            super::calc::precision_of(&f, self.p, self.digits, self.places) == Precision::Grid;
        let already = matches!(f, Expr::Num(_) | Expr::Round(..));
        if on_grid && !already {
            round(f, self.digits.clone())
        } else {
            self.inside(f)
        }
    }

    /// Applies `go` to the direct operands of arithmetic and choice (not to conditions, not
    /// to whole-row aggregates, which are not in a period's bookings).
    fn map(&self, e: Expr, go: impl Fn(&Self, Expr) -> Expr) -> Expr {
        let b = |x: Box<Expr>| Box::new(go(self, *x));
        match e {
            Expr::Neg(a) => Expr::Neg(b(a)),
            Expr::Abs(a) => Expr::Abs(b(a)),
            Expr::Add(v) => Expr::Add(v.into_iter().map(|x| go(self, x)).collect()),
            Expr::Mul(v) => Expr::Mul(v.into_iter().map(|x| go(self, x)).collect()),
            Expr::Min(v) => Expr::Min(v.into_iter().map(|x| go(self, x)).collect()),
            Expr::Max(v) => Expr::Max(v.into_iter().map(|x| go(self, x)).collect()),
            Expr::Sub(x, y) => Expr::Sub(b(x), b(y)),
            Expr::Div(x, y) => Expr::Div(b(x), b(y)),
            Expr::Round(x, d) => Expr::Round(b(x), d),
            Expr::If(c, x, y) => Expr::If(c, b(x), b(y)),
            Expr::Choose(i, v) => Expr::Choose(i, v.into_iter().map(|x| go(self, x)).collect()),
            other => other,
        }
    }

    /// Every comparison of an amount on the ledger's grid compares ROUND(amount) instead:
    /// the identity in exact arithmetic, it makes a spreadsheet compare the whole cents the
    /// engine does. Without it a sum that is exactly zero here but a few binary digits off
    /// zero there (about 10^-5 at 10^10) passes a test such as "arrears > 0.000001" or a
    /// guard against dividing by zero whose divisor the booking then rounds to 0.
    fn comparisons(&self, e: Expr) -> Expr {
        let go = |x: Box<Expr>| Box::new(self.comparisons(*x));
        let all = |v: Vec<Expr>| v.into_iter().map(|x| self.comparisons(x)).collect();
        match e {
            Expr::Cmp(op, a, b) => Expr::Cmp(op, Box::new(self.snap(*a)), Box::new(self.snap(*b))),
            Expr::Neg(a) => Expr::Neg(go(a)),
            Expr::Abs(a) => Expr::Abs(go(a)),
            Expr::Sub(x, y) => Expr::Sub(go(x), go(y)),
            Expr::Div(x, y) => Expr::Div(go(x), go(y)),
            Expr::Round(x, d) => Expr::Round(go(x), d),
            Expr::If(c, x, y) => Expr::If(go(c), go(x), go(y)),
            Expr::Add(v) => Expr::Add(all(v)),
            Expr::Mul(v) => Expr::Mul(all(v)),
            Expr::Min(v) => Expr::Min(all(v)),
            Expr::Max(v) => Expr::Max(all(v)),
            Expr::And(v) => Expr::And(all(v)),
            Expr::Or(v) => Expr::Or(all(v)),
            Expr::Choose(i, v) => Expr::Choose(go(i), all(v)),
            other => other,
        }
    }

    /// An operand of a comparison: ROUND around it when it is on the grid and not already
    /// a number or a rounding.
    fn snap(&self, x: Expr) -> Expr {
        let on_grid =
            super::calc::precision_of(&x, self.p, self.digits, self.places) == Precision::Grid;
        let already = matches!(x, Expr::Num(_) | Expr::Round(..))
            || matches!(&x, Expr::Abs(a) if matches!(a.as_ref(), Expr::Round(..)));
        if on_grid && !already {
            round(x, self.digits.clone())
        } else {
            self.comparisons(x)
        }
    }
}
