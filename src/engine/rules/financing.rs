//! Risk-sharing finance: interest and fees, construction funding by draw priority, the
//! operating waterfall (interest then principal by rank, arrears, DSRA, lock-ups,
//! distributions), defaults at maturity, write-offs at the horizon, guarantees and
//! first-loss money, and every tranche flow split between the tranche's participants in
//! the ledger.
//!
//! The waterfall is data: tranches are grouped by rank (first-loss below every other loan)
//! and each group runs the same steps — interest, principal, DSRA — on the cash left by the
//! groups above it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{BuildError, Builder, EventKind, EventSource, FUNDING_GAP, PROJECT};
use crate::engine::calc::{
    EPS, Expr, FlowKind, RowId, Unit, and, div, eq, ge, gt, if_, le, lt, max2, min2, or, pos, pow,
    safe_div, sum,
};
use crate::model::key::{InputKey, TrancheField};
use crate::model::{CompletionSupport, GuaranteeKind, Repayment, Tranche, TrancheKind};

/// Amounts drawn per tranche index at one stage.
type Draws = BTreeMap<usize, RowId>;

/// Sculpted repayment profiles solved on the base case: for each sculpted tranche, the
/// share of its balance at the start of operations repaid in repayment years 1, 2, …
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SculptProfiles {
    pub profiles: BTreeMap<usize, Vec<Decimal>>,
}

#[derive(Debug, Clone, Default)]
pub struct TrancheRows {
    pub interest: Option<RowId>,
    pub capitalised: Option<RowId>,
    pub upfront_fee: Option<RowId>,
    pub commitment_fee: Option<RowId>,
    pub exposure: Option<RowId>,
    pub guarantee_fee: Option<RowId>,
    pub draws: Option<RowId>,
    pub overrun: Option<RowId>,
    pub overrun_total: Option<RowId>,
    pub drawn: Option<RowId>,
    pub principal: Option<RowId>,
    pub arrears_interest: Option<RowId>,
    pub arrears_principal: Option<RowId>,
    pub start_balance: Option<RowId>,
    pub outstanding: Option<RowId>,
    pub scheduled: Option<RowId>,
    pub interest_paid: Option<RowId>,
    pub principal_paid: Option<RowId>,
    pub write_off: Option<RowId>,
    pub dsra: Option<RowId>,
    pub dsra_init: Option<RowId>,
    pub dsra_draw: Option<RowId>,
    pub dsra_topup: Option<RowId>,
    pub dsra_release: Option<RowId>,
    pub debt_service: Option<RowId>,
    pub cumulative_service: Option<RowId>,
    pub tested: Option<RowId>,
    pub dscr: Option<RowId>,
    /// The lock-up ratio as a row, to chart DSCR against it.
    pub covenant: Option<RowId>,
    pub in_arrears: Option<RowId>,
    pub fee_paid: Option<RowId>,
    pub call: Option<RowId>,
    pub calls: Option<RowId>,
    /// Ledger rows of this tranche: (party index, row, kind).
    pub flows: Vec<(usize, RowId, FlowKind)>,
    /// Debt of this rank and above outstanding at the start of each year.
    pub senior_debt_open: Option<RowId>,
    /// Interest and principal due this year (arrears included).
    pub interest_due: Option<RowId>,
    pub principal_due: Option<RowId>,
    /// Principal and arrears owed at the year end, before any write-off at the horizon.
    pub owed: Option<RowId>,
    /// 1 from the loan's first missed payment on; 1 in that year only; what it is owed then.
    pub defaulted: Option<RowId>,
    pub default_flag: Option<RowId>,
    pub ead: Option<RowId>,
    /// Debt-service guarantees: the claim on the covered loan the calls bought (subrogation),
    /// and what the lenders pass on to the guarantor from the loan's recoveries.
    pub claim: Option<RowId>,
    pub recovery: Option<RowId>,
    /// Loans: the loss measures.
    pub loss: Option<super::losses::LossLines>,
}

#[derive(Debug, Clone, Default)]
pub struct Financing {
    pub tranches: Vec<TrancheRows>,
    /// Interest and fees, deductible for tax.
    pub financing_costs: Vec<RowId>,
    pub cash: Option<RowId>,
    pub cash_flow: Option<RowId>,
    pub cfads: Option<RowId>,
    pub fees_dev: Option<RowId>,
    pub idc_cash: Option<RowId>,
    pub dsra_init_total: Option<RowId>,
    /// What no committed source met in development and the sponsors' completion support did
    /// not either (always 0 unless the deal says there is no completion support).
    pub dev_gap: Option<RowId>,
    /// The sponsors' completion support: a construction funding gap met by shareholding.
    pub completion_support: Option<RowId>,
    pub deficit_support: Option<RowId>,
    pub distribution: Option<RowId>,
    pub locked: Option<RowId>,
    /// (loan tranche index) in waterfall order.
    pub loans_in_order: Vec<usize>,
}

impl Builder<'_> {
    fn is_loan(&self, i: usize) -> bool {
        self.deal.tranches[i].kind.value.is_loan()
    }

    /// The waterfall order of a loan: by rank, first-loss below every other loan.
    fn rank_key(&self, i: usize) -> (bool, u32) {
        let t = &self.deal.tranches[i];
        (t.kind.value == TrancheKind::FirstLoss, t.rank.value)
    }

    /// The index of the tranche a guarantee covers.
    fn covered_tranche(&self, guarantee: &Tranche) -> Result<usize, BuildError> {
        let covered = guarantee.covers.as_ref().ok_or_else(|| {
            BuildError(format!(
                "guarantee '{}' covers no tranche",
                guarantee.name.value
            ))
        })?;
        self.tranche_index(&covered.value)
    }

    /// The subrogated claims of the debt-service guarantees that cover loan `k`.
    pub(super) fn claims_on(&self, k: usize) -> Vec<RowId> {
        self.guarantees_of(k)
            .into_iter()
            .filter_map(|g| self.rows(g).claim)
            .collect()
    }

    /// The guarantees that cover loan `k`, in deal order.
    pub(super) fn guarantees_of(&self, k: usize) -> Vec<usize> {
        let name = &self.deal.tranches[k].name.value;
        self.deal
            .tranches
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.kind.value == TrancheKind::Guarantee
                    && g.covers.as_ref().is_some_and(|c| &c.value == name)
            })
            .map(|(g, _)| g)
            .collect()
    }

    fn tranche_index(&self, name: &str) -> Result<usize, BuildError> {
        self.deal
            .tranches
            .iter()
            .position(|t| t.name.value == name)
            .ok_or_else(|| BuildError(format!("unknown tranche '{name}'")))
    }

    pub(super) fn rows(&self, i: usize) -> &TrancheRows {
        &self.fin.tranches[i]
    }

    pub(super) fn row_of(r: Option<RowId>) -> Expr {
        r.map(Expr::Row).unwrap_or_else(Expr::zero)
    }

    pub(super) fn prev_of(r: Option<RowId>) -> Expr {
        r.map(Expr::Prev).unwrap_or_else(Expr::zero)
    }

    /// Interest, fees and the accounts other rows refer to in their previous period.
    pub(super) fn build_financing_costs(&mut self) -> Result<(), BuildError> {
        self.c.section("Financing costs");
        let deal = self.deal;
        self.fin.tranches = vec![TrancheRows::default(); deal.tranches.len()];
        self.fin.cash = Some(
            self.c
                .reserve("Project cash (unrestricted and trapped)", Unit::Money),
        );
        for (i, t) in deal.tranches.iter().enumerate() {
            let name = t.name.value.clone();
            let kind = t.kind.value;
            if kind.is_funding() {
                self.fin.tranches[i].drawn = Some(
                    self.c
                        .reserve(format!("{name}: drawn to date"), Unit::Money),
                );
            }
            if kind == TrancheKind::Equity && !t.overrun_cap.value.is_zero() {
                self.fin.tranches[i].overrun_total = Some(
                    self.c
                        .reserve(format!("{name}: overrun equity to date"), Unit::Money),
                );
            }
            if kind.is_loan() {
                let r = &mut self.fin.tranches[i];
                r.principal = Some(
                    self.c
                        .reserve(format!("{name}: principal balance"), Unit::Money),
                );
                r.arrears_interest = Some(
                    self.c
                        .reserve(format!("{name}: interest in arrears"), Unit::Money),
                );
                r.arrears_principal = Some(
                    self.c
                        .reserve(format!("{name}: principal in arrears"), Unit::Money),
                );
                r.start_balance = Some(self.c.reserve(
                    format!("{name}: balance at the start of operations"),
                    Unit::Money,
                ));
                if !t.dsra_months.value.is_zero() {
                    r.dsra = Some(self.c.reserve(format!("{name}: DSRA balance"), Unit::Money));
                }
                r.defaulted = Some(self.c.reserve(
                    format!("{name}: in default (since its first missed payment)"),
                    Unit::Flag,
                ));
            }
            if kind == TrancheKind::Guarantee {
                self.fin.tranches[i].calls = Some(
                    self.c
                        .reserve(format!("{name}: calls to date"), Unit::Money),
                );
                if t.guarantee_kind.value == GuaranteeKind::DebtService {
                    self.fin.tranches[i].claim = Some(self.c.reserve(
                        format!("{name}: claim on the loan from its calls (subrogation)"),
                        Unit::Money,
                    ));
                }
            }
        }
        for (i, t) in deal.tranches.iter().enumerate() {
            let name = t.name.value.clone();
            if !t.kind.value.is_loan() {
                continue;
            }
            let r = self.rows(i).clone();
            let opening = Self::prev_of(r.principal)
                + Self::prev_of(r.arrears_interest)
                + Self::prev_of(r.arrears_principal);
            let rate = self.input(
                t.interest_rate.value,
                InputKey::Tranche(i, TrancheField::InterestRate),
            );
            let interest = self.c.row(
                format!("{name}: interest"),
                Unit::Money,
                self.book(rate * opening),
            );
            self.fin.tranches[i].interest = Some(interest);
            self.fin.financing_costs.push(interest);
            if t.capitalise_interest.value {
                let cap = self.c.row(
                    format!("{name}: interest capitalised"),
                    Unit::Money,
                    Expr::Row(interest) * Expr::Row(self.t.dev),
                );
                self.fin.tranches[i].capitalised = Some(cap);
            }
            let commitment = self.input(
                t.commitment.value,
                InputKey::Tranche(i, TrancheField::Commitment),
            );
            let upfront = self.input(
                t.upfront_fee.value,
                InputKey::Tranche(i, TrancheField::UpfrontFee),
            );
            let upfront = self.c.row(
                format!("{name}: upfront fee"),
                Unit::Money,
                self.book(upfront * commitment.clone() * Expr::Row(self.t.fc_flag)),
            );
            let fee_rate = self.input(
                t.commitment_fee.value,
                InputKey::Tranche(i, TrancheField::CommitmentFee),
            );
            let undrawn = pos(commitment - Self::prev_of(r.drawn));
            let commitment_fee = self.c.row(
                format!("{name}: commitment fee"),
                Unit::Money,
                self.book(fee_rate * undrawn * Expr::Row(self.t.debt_available)),
            );
            self.fin.tranches[i].upfront_fee = Some(upfront);
            self.fin.tranches[i].commitment_fee = Some(commitment_fee);
            self.fin.financing_costs.push(upfront);
            self.fin.financing_costs.push(commitment_fee);
        }
        for (i, t) in deal.tranches.iter().enumerate() {
            if t.kind.value != TrancheKind::Guarantee {
                continue;
            }
            let name = t.name.value.clone();
            let k = self.covered_tranche(t)?;
            let rk = self.rows(k).clone();
            let opening = Self::prev_of(rk.principal)
                + Self::prev_of(rk.arrears_interest)
                + Self::prev_of(rk.arrears_principal);
            let exposure = self.guaranteed_exposure(i, k, opening);
            let exposure = self.c.row(
                format!("{name}: guaranteed exposure"),
                Unit::Money,
                self.book(exposure),
            );
            let fee_rate = self.input(
                t.commitment_fee.value,
                InputKey::Tranche(i, TrancheField::CommitmentFee),
            );
            let fee = self.c.row(
                format!("{name}: guarantee fee due"),
                Unit::Money,
                self.book(fee_rate * Expr::Row(exposure)),
            );
            self.fin.tranches[i].exposure = Some(exposure);
            self.fin.tranches[i].guarantee_fee = Some(fee);
            self.fin.financing_costs.push(fee);
        }
        Ok(())
    }

    /// What guarantee `i` covers of loan `k` this year (its fee base and its guarantors'
    /// contingent liability): a debt-service guarantee, what the lenders are still owed up
    /// to what is left of its cap; a loss guarantee, the loan until it defaults, when it is
    /// called once (its call reads the whole-run LGD, so its cap cannot depend on it).
    fn guaranteed_exposure(&mut self, i: usize, k: usize, opening: Expr) -> Expr {
        let t = &self.deal.tranches[i];
        let cap = self.input(
            t.commitment.value,
            InputKey::Tranche(i, TrancheField::Commitment),
        );
        let coverage = self.input(
            t.coverage.value,
            InputKey::Tranche(i, TrancheField::Coverage),
        );
        match t.guarantee_kind.value {
            GuaranteeKind::DebtService => {
                let claims: Vec<Expr> = self.claims_on(k).into_iter().map(Expr::Prev).collect();
                let remaining = pos(cap - Self::prev_of(self.rows(i).calls));
                min2(remaining, coverage * pos(opening - sum(claims)))
            }
            GuaranteeKind::Loss => {
                let defaulted = Self::prev_of(self.rows(k).defaulted);
                (Expr::one() - defaulted) * min2(cap, coverage * opening)
            }
        }
    }

    /// The project's cash flow before financing, levered (tax after interest) and unlevered.
    pub(super) fn build_cash_flow(&mut self) -> Result<(), BuildError> {
        self.c.section("Cash flow");
        let receipts = sum(self.ops.receipts.iter().map(|r| Expr::Row(*r)).collect());
        let receipts = self.c.row(
            "Operating receipts (sales, floor support)",
            Unit::Money,
            receipts,
        );
        let payments = sum(self.ops.payments.iter().map(|r| Expr::Row(*r)).collect());
        let payments = self.c.row(
            "Operating and capital costs (incl. feed, upside share)",
            Unit::Money,
            payments,
        );
        let royalties = sum(self
            .ops
            .royalty
            .iter()
            .flatten()
            .map(|r| Expr::Row(*r))
            .collect());
        let royalties = self.c.row("Royalties", Unit::Money, royalties);
        let pre_tax = self.c.row(
            "Unlevered cash flow before tax",
            Unit::Money,
            Expr::Row(receipts) - Expr::Row(payments) - Expr::Row(royalties),
        );
        let unlevered_tax = sum(self
            .fiscal
            .tax_unlevered
            .iter()
            .map(|r| Expr::Row(*r))
            .collect());
        let unlevered_refund = sum(self
            .fiscal
            .refunds_unlevered
            .iter()
            .map(|r| Expr::Row(*r))
            .collect());
        let post_tax = self.c.row(
            "Unlevered cash flow after tax",
            Unit::Money,
            Expr::Row(pre_tax) - unlevered_tax + unlevered_refund,
        );
        let tax = sum(self.fiscal.tax_paid.iter().map(|r| Expr::Row(*r)).collect());
        let refunds = sum(self.fiscal.refunds.iter().map(|r| Expr::Row(*r)).collect());
        let cash_flow = self.c.row(
            "Cash flow before financing",
            Unit::Money,
            Expr::Row(pre_tax) - tax + refunds,
        );
        self.fin.cash_flow = Some(cash_flow);
        self.lines.project.pre_tax = Some(pre_tax);
        self.lines.project.post_tax = Some(post_tax);
        Ok(())
    }

    /// Which periods a tranche may be drawn in: equity and grants throughout development,
    /// loans from financial close.
    fn eligible(&self, i: usize) -> Expr {
        if self.is_loan(i) {
            Expr::Row(self.t.debt_available)
        } else {
            Expr::Row(self.t.dev)
        }
    }

    /// Meets `need` from the tranches in draw-priority order (standby money after the
    /// rest, then sponsors' overrun equity), pro rata within a priority and up to each
    /// commitment. Returns the draws per tranche, overrun equity per tranche, and the gap.
    fn cascade(
        &mut self,
        stage: &str,
        need: RowId,
        prior: &BTreeMap<usize, RowId>,
        prior_overrun: &BTreeMap<usize, RowId>,
    ) -> Result<(Draws, Draws, RowId), BuildError> {
        let deal = self.deal;
        let mut groups: BTreeMap<(bool, u32), Vec<usize>> = BTreeMap::new();
        for (i, t) in deal.tranches.iter().enumerate() {
            if t.kind.value.is_funding() {
                groups
                    .entry((t.funds_overruns.value, t.draw_priority.value))
                    .or_default()
                    .push(i);
            }
        }
        let mut remaining = need;
        let mut draws = BTreeMap::new();
        for ((standby, priority), members) in groups {
            let mut avail = Vec::new();
            for &i in &members {
                let t = &deal.tranches[i];
                let commitment = self.input(
                    t.commitment.value,
                    InputKey::Tranche(i, TrancheField::Commitment),
                );
                let taken = Self::prev_of(self.rows(i).drawn)
                    + prior
                        .get(&i)
                        .map(|r| Expr::Row(*r))
                        .unwrap_or_else(Expr::zero);
                let a = self.c.row(
                    format!("{}: available ({stage})", t.name.value),
                    Unit::Money,
                    self.book(self.eligible(i) * pos(commitment - taken)),
                );
                avail.push((i, a));
            }
            let label = format!(
                "priority {priority}{}",
                if standby { " standby" } else { "" }
            );
            let (d, r) = self.pro_rata(stage, &label, remaining, &avail)?;
            draws.extend(d);
            remaining = r;
        }
        let mut overrun = BTreeMap::new();
        let mut avail = Vec::new();
        for (i, t) in deal.tranches.iter().enumerate() {
            let Some(total) = self.rows(i).overrun_total else {
                continue;
            };
            let cap = self.input(
                t.overrun_cap.value,
                InputKey::Tranche(i, TrancheField::OverrunCap),
            );
            let taken = Expr::Prev(total)
                + prior_overrun
                    .get(&i)
                    .map(|r| Expr::Row(*r))
                    .unwrap_or_else(Expr::zero);
            let a = self.c.row(
                format!("{}: overrun equity available ({stage})", t.name.value),
                Unit::Money,
                self.book(Expr::Row(self.t.dev) * pos(cap - taken)),
            );
            avail.push((i, a));
        }
        if !avail.is_empty() {
            let (d, r) = self.pro_rata(stage, "sponsor overrun equity", remaining, &avail)?;
            overrun.extend(d);
            remaining = r;
        }
        Ok((draws, overrun, remaining))
    }

    /// Shares `need` between tranches pro rata to what each has available (`allocate`: the
    /// draws sum exactly to what the priority meets).
    fn pro_rata(
        &mut self,
        stage: &str,
        label: &str,
        need: RowId,
        avail: &[(usize, RowId)],
    ) -> Result<(BTreeMap<usize, RowId>, RowId), BuildError> {
        let total = if avail.len() == 1 {
            avail[0].1
        } else {
            self.c.row(
                format!("Available at {label} ({stage})"),
                Unit::Money,
                sum(avail.iter().map(|(_, a)| Expr::Row(*a)).collect()),
            )
        };
        let met = self.c.row(
            format!("Met at {label} ({stage})"),
            Unit::Money,
            min2(Expr::Row(need), Expr::Row(total)),
        );
        let weights: Vec<Expr> = avail.iter().map(|(_, a)| Expr::Row(*a)).collect();
        let parts = self.allocate(Expr::Row(met), &weights, Some(Expr::Row(total)));
        let mut draws = BTreeMap::new();
        for ((i, _), part) in avail.iter().zip(parts) {
            let name = &self.deal.tranches[*i].name.value;
            let d = self
                .c
                .row(format!("{name}: drawn ({stage})"), Unit::Money, part);
            draws.insert(*i, d);
        }
        let remaining = self.c.row(
            format!("Still to fund after {label} ({stage})"),
            Unit::Money,
            // Exactly what the priority could not meet (no rounding residue of the shares).
            pos(Expr::Row(need) - Expr::Row(total)),
        );
        Ok((draws, remaining))
    }

    /// Repayment years of a loan: the year index j (1 = first repayment year) as an
    /// expression of the operating year, and the number of repayment years n.
    fn repayment_index(&mut self, i: usize, offset: i64) -> (Expr, Expr) {
        let t = &self.deal.tranches[i];
        let grace = self.input(
            t.grace_years.value.into(),
            InputKey::Tranche(i, TrancheField::Grace),
        );
        let tenor = self.input(
            t.tenor_years.value.into(),
            InputKey::Tranche(i, TrancheField::Tenor),
        );
        let j = Expr::Row(self.t.op_year) - grace.clone() + Expr::num(offset);
        (j, max2(Expr::one(), tenor - grace))
    }

    /// The share of the starting balance scheduled for repayment year `j` (before the
    /// final year, which repays whatever is left).
    fn schedule_fraction(&mut self, i: usize, j: Expr, n: Expr) -> Expr {
        let t = &self.deal.tranches[i];
        match t.repayment.value {
            Repayment::StraightLine => div(Expr::one(), n),
            Repayment::Bullet => Expr::zero(),
            Repayment::Annuity => {
                let r = self.input(
                    t.interest_rate.value,
                    InputKey::Tranche(i, TrancheField::InterestRate),
                );
                let growth = Expr::one() + r.clone();
                if_(
                    le(r.clone(), Expr::Num(EPS)),
                    div(Expr::one(), n.clone()),
                    div(
                        r * pow(growth.clone(), j - Expr::one()),
                        pow(growth, n) - Expr::one(),
                    ),
                )
            }
            Repayment::Sculpted => match self.sculpt.profiles.get(&i).cloned() {
                Some(profile) => {
                    let name = t.name.value.clone();
                    let items: Vec<Expr> = profile
                        .iter()
                        .enumerate()
                        .map(|(k, v)| {
                            self.c.solved(
                                format!(
                                    "{name}: sculpted share repaid in repayment year {}",
                                    k + 1
                                ),
                                *v,
                            )
                        })
                        .collect();
                    if items.is_empty() {
                        Expr::zero()
                    } else {
                        Expr::Choose(Box::new(j), items)
                    }
                }
                None => Expr::zero(),
            },
        }
    }

    /// Scheduled principal in repayment year `j` given the balance and the starting balance.
    fn scheduled(&mut self, i: usize, j: Expr, n: Expr, balance: Expr, start: Expr) -> Expr {
        let fraction = self.schedule_fraction(i, j.clone(), n.clone());
        let within = and(vec![ge(j.clone(), Expr::one()), le(j.clone(), n.clone())]);
        let amount = self.book(fraction * start);
        if_(
            within,
            if_(eq(j, n), balance.clone(), min2(balance, amount)),
            Expr::zero(),
        )
    }

    fn sculpting_now(&self, i: usize) -> bool {
        self.deal.tranches[i].repayment.value == Repayment::Sculpted
            && !self.sculpt.profiles.contains_key(&i)
    }

    pub(super) fn build_funding(&mut self) -> Result<(), BuildError> {
        self.c.section("Funding");
        let deal = self.deal;
        let dev = Expr::Row(self.t.dev);
        let cash = self
            .fin
            .cash
            .ok_or_else(|| BuildError("cash account missing".into()))?;
        let cash_flow = Self::row_of(self.fin.cash_flow);
        let mut fees = Vec::new();
        let mut idc = Vec::new();
        for r in &self.fin.tranches {
            fees.extend(
                [r.upfront_fee, r.commitment_fee, r.guarantee_fee]
                    .into_iter()
                    .flatten()
                    .map(Expr::Row),
            );
            if let Some(interest) = r.interest {
                idc.push(Expr::Row(interest) - Self::row_of(r.capitalised));
            }
        }
        let fees_dev = self.c.row(
            "Fees paid in development",
            Unit::Money,
            dev.clone() * sum(fees),
        );
        let idc_cash = self.c.row(
            "Interest paid in development (not capitalised)",
            Unit::Money,
            dev.clone() * sum(idc),
        );
        let need1 = self.c.row(
            "Funding need (costs, fees, interest)",
            Unit::Money,
            dev.clone()
                * pos(Expr::Row(fees_dev) + Expr::Row(idc_cash)
                    - cash_flow.clone()
                    - Expr::Prev(cash)),
        );
        let (draws1, overrun1, gap1) =
            self.cascade("costs", need1, &BTreeMap::new(), &BTreeMap::new())?;

        // The initial DSRA, sized on the debt drawn for costs (the first operating year's
        // top-up brings it to the exact target).
        let mut inits = Vec::new();
        for (i, t) in deal.tranches.iter().enumerate() {
            let r = self.rows(i).clone();
            if r.dsra.is_none() {
                continue;
            }
            let months = self.input(
                t.dsra_months.value,
                InputKey::Tranche(i, TrancheField::DsraMonths),
            );
            let rate = self.input(
                t.interest_rate.value,
                InputKey::Tranche(i, TrancheField::InterestRate),
            );
            let balance = Self::prev_of(r.principal)
                + Self::row_of(r.capitalised)
                + draws1
                    .get(&i)
                    .map(|d| Expr::Row(*d))
                    .unwrap_or_else(Expr::zero);
            let balance = self.c.row(
                format!("{}: balance before the DSRA draw", t.name.value),
                Unit::Money,
                balance,
            );
            let principal = if self.sculpting_now(i) {
                Expr::zero()
            } else {
                let (_, n) = self.repayment_index(i, 0);
                let grace = self.input(
                    t.grace_years.value.into(),
                    InputKey::Tranche(i, TrancheField::Grace),
                );
                let j = Expr::one() - grace;
                self.scheduled(i, j, n, Expr::Row(balance), Expr::Row(balance))
            };
            let init = self.c.row(
                format!("{}: initial DSRA funding", t.name.value),
                Unit::Money,
                self.book(
                    Expr::Row(self.t.last_dev)
                        * div(months, Expr::num(12))
                        * (rate * Expr::Row(balance) + principal),
                ),
            );
            self.fin.tranches[i].dsra_init = Some(init);
            inits.push(Expr::Row(init));
        }
        let init_total = self.c.row("Initial DSRA funding", Unit::Money, sum(inits));
        let first_draws = sum(draws1
            .values()
            .chain(overrun1.values())
            .map(|r| Expr::Row(*r))
            .collect::<Vec<_>>())
            + Expr::Row(gap1);
        let surplus =
            Expr::Prev(cash) + cash_flow.clone() - Expr::Row(fees_dev) - Expr::Row(idc_cash)
                + first_draws;
        let need2 = self.c.row(
            "Funding need (initial DSRA)",
            Unit::Money,
            Expr::Row(self.t.last_dev) * pos(Expr::Row(init_total) - surplus),
        );
        let (draws2, overrun2, gap2) = self.cascade("DSRA", need2, &draws1, &overrun1)?;

        let mut all_draws = Vec::new();
        for (i, t) in deal.tranches.iter().enumerate() {
            if !t.kind.value.is_funding() {
                continue;
            }
            let name = t.name.value.clone();
            let parts: Vec<Expr> = [draws1.get(&i), draws2.get(&i)]
                .into_iter()
                .flatten()
                .map(|r| Expr::Row(*r))
                .collect();
            let draws = self
                .c
                .row(format!("{name}: drawdowns"), Unit::Money, sum(parts));
            let drawn = self
                .rows(i)
                .drawn
                .ok_or_else(|| BuildError(format!("tranche '{name}' has no drawn account")))?;
            self.c.place(drawn, Expr::Prev(drawn) + Expr::Row(draws));
            self.fin.tranches[i].draws = Some(draws);
            all_draws.push(Expr::Row(draws));
            let kind = match t.kind.value {
                TrancheKind::Equity => FlowKind::Equity,
                TrancheKind::Grant => FlowKind::Grant,
                _ => FlowKind::Disbursement,
            };
            let flows = self.split_flow(i, &format!("{name}: drawdowns"), draws, true, kind)?;
            self.record_flows(i, &flows, kind);
            if let Some(total) = self.rows(i).overrun_total {
                let parts: Vec<Expr> = [overrun1.get(&i), overrun2.get(&i)]
                    .into_iter()
                    .flatten()
                    .map(|r| Expr::Row(*r))
                    .collect();
                let overrun =
                    self.c
                        .row(format!("{name}: overrun equity"), Unit::Money, sum(parts));
                self.c.place(total, Expr::Prev(total) + Expr::Row(overrun));
                self.fin.tranches[i].overrun = Some(overrun);
                all_draws.push(Expr::Row(overrun));
                let flows = self.split_flow(
                    i,
                    &format!("{name}: overrun equity"),
                    overrun,
                    true,
                    FlowKind::Equity,
                )?;
                self.record_flows(i, &flows, FlowKind::Equity);
                self.lines.events.push(EventSource {
                    kind: EventKind::OverrunEquity,
                    subject: name.clone(),
                    row: overrun,
                });
            }
            if t.kind.value.is_loan() {
                let r = self.rows(i).clone();
                let fees = Self::row_of(r.upfront_fee) + Self::row_of(r.commitment_fee);
                let fees = self.c.row(format!("{name}: fees paid"), Unit::Money, fees);
                let flows =
                    self.split_flow(i, &format!("{name}: fees"), fees, false, FlowKind::Fees)?;
                self.record_flows(i, &flows, FlowKind::Fees);
            }
        }
        let gap = self.c.row(
            "Funding gap in development (beyond the committed money)",
            Unit::Money,
            Expr::Row(gap1) + Expr::Row(gap2),
        );
        let (support, dev_gap) = self.completion_support(gap)?;
        self.fin.fees_dev = Some(fees_dev);
        self.fin.idc_cash = Some(idc_cash);
        self.fin.dsra_init_total = Some(init_total);
        self.fin.dev_gap = Some(dev_gap);
        self.fin.completion_support = support;
        let dev_sources = self.c.row(
            "Development sources (drawdowns, overrun equity, completion support, unfunded gap)",
            Unit::Money,
            sum(all_draws) + Expr::Row(gap),
        );
        self.dev_sources = Some(dev_sources);
        Ok(())
    }

    /// A construction funding gap beyond every committed source is met by the sponsors by
    /// shareholding (completion support, as an operating deficit is), unless the deal says
    /// there is none: then it stays unfunded, met in the ledger by a bookkeeping party and
    /// reported by a failed check. Returns the support row (if any) and the unfunded gap.
    fn completion_support(&mut self, gap: RowId) -> Result<(Option<RowId>, RowId), BuildError> {
        if self.deal.completion_support.value == CompletionSupport::NoSupport {
            let unfunded = self.c.row(
                "Unfunded gap in development (no completion support)",
                Unit::Money,
                Expr::Row(gap),
            );
            self.lines.events.push(EventSource {
                kind: EventKind::FundingGap,
                subject: "development".into(),
                row: unfunded,
            });
            return Ok((None, unfunded));
        }
        let support = self.c.row(
            "Completion support by the sponsors (by shareholding)",
            Unit::Money,
            Expr::Row(gap),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::CompletionSupport,
            subject: "equity holders".into(),
            row: support,
        });
        let (equity, weights, total) = self.equity_weights();
        let parts = self.allocate(Expr::Row(support), &weights, total);
        for (&i, part) in equity.iter().zip(parts) {
            let name = self.deal.tranches[i].name.value.clone();
            let row = format!("{name}: completion support");
            self.equity_flow(i, &row, &row, part, FlowKind::Equity)?;
        }
        let unfunded = self.c.row(
            "Unfunded gap in development",
            Unit::Money,
            Expr::Row(gap) - Expr::Row(support),
        );
        Ok((Some(support), unfunded))
    }

    /// The equity tranches and the weights an amount is split between them by: their
    /// shareholdings as given (then no total: they sum to 1), else their commitments and
    /// the total commitment (pro rata to commitment). Validation makes shareholdings given
    /// for every equity tranche or for none. `allocate` splits exactly by these.
    fn equity_weights(&mut self) -> (Vec<usize>, Vec<Expr>, Option<Expr>) {
        let deal = self.deal;
        let equity: Vec<usize> = (0..deal.tranches.len())
            .filter(|i| deal.tranches[*i].kind.value == TrancheKind::Equity)
            .collect();
        let given: Option<Vec<Expr>> = equity
            .iter()
            .map(|&i| {
                deal.tranches[i]
                    .shareholding
                    .as_ref()
                    .map(|s| self.input(s.value, InputKey::Tranche(i, TrancheField::Shareholding)))
            })
            .collect();
        if let Some(shares) = given {
            return (equity, shares, None);
        }
        let commitments: Vec<Expr> = equity
            .iter()
            .map(|&i| {
                self.input(
                    deal.tranches[i].commitment.value,
                    InputKey::Tranche(i, TrancheField::Commitment),
                )
            })
            .collect();
        let total = sum(commitments.clone());
        (equity, commitments, Some(total))
    }

    /// Equity tranche `i`'s part of an amount: a line of its own (`row`), split between its
    /// participants as ledger flows (`flow`), paid in for `FlowKind::Equity`, out otherwise.
    fn equity_flow(
        &mut self,
        i: usize,
        row: &str,
        flow: &str,
        part: Expr,
        kind: FlowKind,
    ) -> Result<(), BuildError> {
        let amount = self.c.row(row, Unit::Money, part);
        let flows = self.split_flow(i, flow, amount, kind == FlowKind::Equity, kind)?;
        self.record_flows(i, &flows, kind);
        Ok(())
    }

    fn record_flows(&mut self, i: usize, rows: &[RowId], kind: FlowKind) {
        for r in rows {
            if let Some(tag) = &self.c.rows[*r].ledger {
                let party = if tag.payer == PROJECT {
                    tag.payee
                } else {
                    tag.payer
                };
                self.fin.tranches[i].flows.push((party, *r, kind));
            }
        }
    }

    pub(super) fn build_waterfall(&mut self) -> Result<(), BuildError> {
        self.c.section("Waterfall");
        let deal = self.deal;
        let ops = Expr::Row(self.t.ops);
        let dev = Expr::Row(self.t.dev);
        let cash = self
            .fin
            .cash
            .ok_or_else(|| BuildError("cash account missing".into()))?;
        let cash_flow = Self::row_of(self.fin.cash_flow);
        let cfads = self.c.row(
            "CFADS (cash flow available for debt service)",
            Unit::Money,
            ops.clone() * cash_flow.clone(),
        );
        self.fin.cfads = Some(cfads);
        self.lines.cfads = Some(cfads);
        let start = self.c.row(
            "Cash available (CFADS and cash brought forward)",
            Unit::Money,
            ops.clone() * (cash_flow.clone() + Expr::Prev(cash)),
        );

        // Guarantee fees rank first.
        let guarantees: Vec<usize> = (0..deal.tranches.len())
            .filter(|i| self.rows(*i).guarantee_fee.is_some())
            .collect();
        let mut available = start;
        if !guarantees.is_empty() {
            let due = sum(guarantees
                .iter()
                .map(|i| Self::row_of(self.rows(*i).guarantee_fee))
                .collect());
            let due = self
                .c
                .row("Guarantee fees due", Unit::Money, ops.clone() * due);
            let met = self.c.row(
                "Guarantee fees paid in operations",
                Unit::Money,
                min2(pos(Expr::Row(start)), Expr::Row(due)),
            );
            let fees: Vec<Expr> = guarantees
                .iter()
                .map(|g| Self::row_of(self.rows(*g).guarantee_fee))
                .collect();
            let parts = self.allocate(Expr::Row(met), &fees, Some(Expr::Row(due)));
            let mut paid_ops = Vec::new();
            for (&g, part) in guarantees.iter().zip(parts) {
                let fee = Self::row_of(self.rows(g).guarantee_fee);
                let name = deal.tranches[g].name.value.clone();
                let paid = self.c.row(
                    format!("{name}: guarantee fee paid"),
                    Unit::Money,
                    if_(dev.clone(), fee, part),
                );
                self.fin.tranches[g].fee_paid = Some(paid);
                paid_ops.push(Expr::Row(paid));
                let flows = self.split_flow(
                    g,
                    &format!("{name}: guarantee fee"),
                    paid,
                    false,
                    FlowKind::GuaranteeFee,
                )?;
                self.record_flows(g, &flows, FlowKind::GuaranteeFee);
            }
            available = self.c.row(
                "Cash after guarantee fees",
                Unit::Money,
                Expr::Row(start) - ops.clone() * sum(paid_ops),
            );
        }

        let mut loans: Vec<usize> = (0..deal.tranches.len())
            .filter(|i| self.is_loan(*i))
            .collect();
        loans.sort_by_key(|i| (self.rank_key(*i), *i));
        self.fin.loans_in_order = loans.clone();
        let mut ranks: BTreeMap<(bool, u32), Vec<usize>> = BTreeMap::new();
        for &i in &loans {
            ranks.entry(self.rank_key(i)).or_default().push(i);
        }
        let mut senior_service: Vec<Expr> = Vec::new();
        for ((first_loss, rank), mut members) in ranks {
            // Sculpted tranches size their principal on what the others of the rank leave.
            members.sort_by_key(|i| (self.sculpting_now(*i), *i));
            let rank_label = if first_loss {
                format!("first-loss rank {rank}")
            } else {
                format!("rank {rank}")
            };
            let mut due_interest = BTreeMap::new();
            let mut due_principal = BTreeMap::new();
            let mut rank_interest: Vec<Expr> = members
                .iter()
                .map(|i| Self::row_of(self.rows(*i).interest))
                .collect();
            // Scheduled principal of the rank's tranches that are not being sculpted.
            let mut rank_principal: Vec<Expr> = Vec::new();
            for &i in &members {
                let t = &deal.tranches[i];
                let name = t.name.value.clone();
                let r = self.rows(i).clone();
                let (j, n) = self.repayment_index(i, 0);
                let balance = Self::prev_of(r.principal);
                let start_balance = Self::prev_of(r.start_balance);
                let scheduled = if self.sculpting_now(i) {
                    let target = t.target_dscr.as_ref().map(|v| v.value).ok_or_else(|| {
                        BuildError(format!(
                            "tranche '{name}' is sculpted but has no target DSCR"
                        ))
                    })?;
                    let target = self.input(target, InputKey::Tranche(i, TrancheField::TargetDscr));
                    let sculpted: Vec<usize> = members
                        .iter()
                        .copied()
                        .filter(|k| self.sculpting_now(*k))
                        .collect();
                    let share = safe_div(
                        balance.clone(),
                        sum(sculpted
                            .iter()
                            .map(|k| Self::prev_of(self.rows(*k).principal))
                            .collect()),
                        Expr::zero(),
                    );
                    let budget = div(Expr::Row(cfads), target)
                        - sum(senior_service.clone())
                        - sum(rank_interest.clone())
                        - sum(rank_principal.clone());
                    let within = and(vec![ge(j.clone(), Expr::one()), le(j.clone(), n.clone())]);
                    if_(
                        within,
                        if_(
                            eq(j.clone(), n.clone()),
                            balance.clone(),
                            min2(balance.clone(), self.book(pos(budget) * share)),
                        ),
                        Expr::zero(),
                    )
                } else {
                    self.scheduled(i, j.clone(), n.clone(), balance.clone(), start_balance)
                };
                let sculpting = self.sculpting_now(i);
                let scheduled = self.c.row(
                    format!("{name}: scheduled principal"),
                    Unit::Money,
                    ops.clone() * scheduled,
                );
                if !sculpting {
                    rank_principal.push(Expr::Row(scheduled));
                }
                let interest = Self::row_of(r.interest);
                let capitalised = Self::row_of(r.capitalised);
                let di = self.c.row(
                    format!("{name}: interest due"),
                    Unit::Money,
                    if_(
                        dev.clone(),
                        interest.clone() - capitalised,
                        Self::prev_of(r.arrears_interest) + interest,
                    ),
                );
                let dp = self.c.row(
                    format!("{name}: principal due"),
                    Unit::Money,
                    ops.clone() * (Self::prev_of(r.arrears_principal) + Expr::Row(scheduled)),
                );
                self.fin.tranches[i].scheduled = Some(scheduled);
                self.fin.tranches[i].interest_due = Some(di);
                self.fin.tranches[i].principal_due = Some(dp);
                due_interest.insert(i, di);
                due_principal.insert(i, dp);
            }
            rank_interest.clear();
            let total_interest = self.c.row(
                format!("{rank_label}: interest due"),
                Unit::Money,
                ops.clone() * sum(due_interest.values().map(|r| Expr::Row(*r)).collect()),
            );
            let interest_met = self.c.row(
                format!("{rank_label}: interest paid from cash in operations"),
                Unit::Money,
                min2(pos(Expr::Row(available)), Expr::Row(total_interest)),
            );
            let dues: Vec<Expr> = members.iter().map(|i| Expr::Row(due_interest[i])).collect();
            let parts = self.allocate(
                Expr::Row(interest_met),
                &dues,
                Some(Expr::Row(total_interest)),
            );
            let mut from_cash_interest = BTreeMap::new();
            for (&i, part) in members.iter().zip(parts) {
                let name = &deal.tranches[i].name.value;
                let di = Expr::Row(due_interest[&i]);
                let paid = self.c.row(
                    format!("{name}: interest paid from cash"),
                    Unit::Money,
                    if_(dev.clone(), di, part),
                );
                from_cash_interest.insert(i, paid);
            }
            let after_interest = self.c.row(
                format!("{rank_label}: cash after interest"),
                Unit::Money,
                pos(Expr::Row(available))
                    - ops.clone()
                        * sum(from_cash_interest.values().map(|r| Expr::Row(*r)).collect()),
            );
            let total_principal = self.c.row(
                format!("{rank_label}: principal due"),
                Unit::Money,
                sum(due_principal.values().map(|r| Expr::Row(*r)).collect()),
            );
            let principal_met = self.c.row(
                format!("{rank_label}: principal paid from cash"),
                Unit::Money,
                min2(pos(Expr::Row(after_interest)), Expr::Row(total_principal)),
            );
            let dues: Vec<Expr> = members
                .iter()
                .map(|i| Expr::Row(due_principal[i]))
                .collect();
            let mut principal_parts = self
                .allocate(
                    Expr::Row(principal_met),
                    &dues,
                    Some(Expr::Row(total_principal)),
                )
                .into_iter();
            let mut from_cash = Vec::new();
            for &i in &members {
                let t = &deal.tranches[i];
                let name = t.name.value.clone();
                let r = self.rows(i).clone();
                let di = Expr::Row(due_interest[&i]);
                let dp = Expr::Row(due_principal[&i]);
                let pic = Expr::Row(from_cash_interest[&i]);
                let ppc_label = if r.dsra.is_some() {
                    format!("{name}: principal paid from cash")
                } else {
                    format!("{name}: principal paid")
                };
                let ppc = self.c.row(
                    ppc_label,
                    Unit::Money,
                    principal_parts.next().unwrap_or_else(Expr::zero),
                );
                from_cash.push(ops.clone() * pic.clone());
                from_cash.push(Expr::Row(ppc));
                let (pay_interest, pay_principal) = match r.dsra {
                    Some(dsra) => {
                        let shortfall = di.clone() - pic.clone() + dp.clone() - Expr::Row(ppc);
                        let draw = self.c.row(
                            format!("{name}: DSRA drawn"),
                            Unit::Money,
                            ops.clone() * min2(Expr::Prev(dsra), shortfall),
                        );
                        self.fin.tranches[i].dsra_draw = Some(draw);
                        self.lines.events.push(EventSource {
                            kind: EventKind::DsraDraw,
                            subject: name.clone(),
                            row: draw,
                        });
                        let pi = self.c.row(
                            format!("{name}: interest paid"),
                            Unit::Money,
                            pic.clone() + min2(di.clone() - pic.clone(), Expr::Row(draw)),
                        );
                        let pp = self.c.row(
                            format!("{name}: principal paid"),
                            Unit::Money,
                            Expr::Row(ppc) + Expr::Row(draw) - (Expr::Row(pi) - pic),
                        );
                        (pi, pp)
                    }
                    None => {
                        let pi = self
                            .c
                            .row(format!("{name}: interest paid"), Unit::Money, pic);
                        (pi, ppc)
                    }
                };
                self.fin.tranches[i].interest_paid = Some(pay_interest);
                self.fin.tranches[i].principal_paid = Some(pay_principal);
                let flows = self.split_flow(
                    i,
                    &format!("{name}: interest"),
                    pay_interest,
                    false,
                    FlowKind::Interest,
                )?;
                self.record_flows(i, &flows, FlowKind::Interest);
                let flows = self.split_flow(
                    i,
                    &format!("{name}: principal"),
                    pay_principal,
                    false,
                    FlowKind::Principal,
                )?;
                self.record_flows(i, &flows, FlowKind::Principal);
                self.build_balances(i)?;
            }
            let after_service = self.c.row(
                format!("{rank_label}: cash after debt service"),
                Unit::Money,
                Expr::Row(available) - sum(from_cash),
            );
            available = after_service;
            // Debt service reserves of this rank.
            let with_dsra: Vec<usize> = members
                .iter()
                .copied()
                .filter(|i| self.rows(*i).dsra.is_some())
                .collect();
            if !with_dsra.is_empty() {
                let mut needs = BTreeMap::new();
                for &i in &with_dsra {
                    let t = &deal.tranches[i];
                    let name = t.name.value.clone();
                    let r = self.rows(i).clone();
                    let months = self.input(
                        t.dsra_months.value,
                        InputKey::Tranche(i, TrancheField::DsraMonths),
                    );
                    let rate = self.input(
                        t.interest_rate.value,
                        InputKey::Tranche(i, TrancheField::InterestRate),
                    );
                    let next_principal = if self.sculpting_now(i) {
                        Expr::zero()
                    } else {
                        let (j, n) = self.repayment_index(i, 1);
                        self.scheduled(
                            i,
                            j,
                            n,
                            Self::row_of(r.principal),
                            Self::row_of(r.start_balance),
                        )
                    };
                    let target = self.c.row(
                        format!("{name}: DSRA target (next year's debt service)"),
                        Unit::Money,
                        if_(
                            Expr::Row(self.t.last),
                            Expr::zero(),
                            self.book(
                                div(months, Expr::num(12))
                                    * (rate * Self::row_of(r.outstanding) + next_principal),
                            ),
                        ),
                    );
                    let dsra = r.dsra.ok_or_else(|| BuildError("DSRA missing".into()))?;
                    let before = self.c.row(
                        format!("{name}: DSRA after draws"),
                        Unit::Money,
                        Expr::Prev(dsra) - Self::row_of(r.dsra_draw),
                    );
                    let need = self.c.row(
                        format!("{name}: DSRA top-up needed"),
                        Unit::Money,
                        ops.clone() * pos(Expr::Row(target) - Expr::Row(before)),
                    );
                    let release = self.c.row(
                        format!("{name}: DSRA released"),
                        Unit::Money,
                        ops.clone() * pos(Expr::Row(before) - Expr::Row(target)),
                    );
                    needs.insert(i, (need, release, before));
                }
                let total = self.c.row(
                    format!("{rank_label}: DSRA top-up needed"),
                    Unit::Money,
                    sum(needs.values().map(|(n, _, _)| Expr::Row(*n)).collect()),
                );
                let funded = self.c.row(
                    format!("{rank_label}: DSRA top-up funded"),
                    Unit::Money,
                    min2(pos(Expr::Row(available)), Expr::Row(total)),
                );
                let weights: Vec<Expr> = needs.values().map(|(n, _, _)| Expr::Row(*n)).collect();
                let parts = self.allocate(Expr::Row(funded), &weights, Some(Expr::Row(total)));
                let mut net = Vec::new();
                for ((&i, &(_, release, before)), part) in needs.iter().zip(parts) {
                    let name = deal.tranches[i].name.value.clone();
                    let topup = self
                        .c
                        .row(format!("{name}: DSRA top-up"), Unit::Money, part);
                    let dsra = self
                        .rows(i)
                        .dsra
                        .ok_or_else(|| BuildError("DSRA missing".into()))?;
                    let init = Self::row_of(self.rows(i).dsra_init);
                    self.c.place(
                        dsra,
                        if_(
                            dev.clone(),
                            Expr::Prev(dsra) + init,
                            Expr::Row(before) + Expr::Row(topup) - Expr::Row(release),
                        ),
                    );
                    self.fin.tranches[i].dsra_topup = Some(topup);
                    self.fin.tranches[i].dsra_release = Some(release);
                    net.push(Expr::Row(release) - Expr::Row(topup));
                }
                available = self.c.row(
                    format!("{rank_label}: cash after DSRA"),
                    Unit::Money,
                    Expr::Row(available) + sum(net),
                );
            }
            for &i in &members {
                let r = self.rows(i);
                senior_service
                    .push(Self::row_of(r.interest) * ops.clone() + Self::row_of(r.scheduled));
            }
        }
        self.build_cover_ratios(&loans)?;
        self.build_distributions(available)?;
        Ok(())
    }

    /// Balances of a loan after this year's payments; default at final maturity, write-off
    /// at the horizon.
    fn build_balances(&mut self, i: usize) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.rows(i).clone();
        let (principal, ai, ap, start) = match (
            r.principal,
            r.arrears_interest,
            r.arrears_principal,
            r.start_balance,
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
            _ => return Err(BuildError(format!("loan '{name}' has no balance accounts"))),
        };
        let interest = Self::row_of(r.interest);
        let capitalised = Self::row_of(r.capitalised);
        let scheduled = Self::row_of(r.scheduled);
        let ai_pre = self.c.row(
            format!("{name}: interest in arrears before write-off"),
            Unit::Money,
            Expr::Prev(ai) + interest - capitalised.clone() - Self::row_of(r.interest_paid),
        );
        let ap_pre = self.c.row(
            format!("{name}: principal in arrears before write-off"),
            Unit::Money,
            Expr::Prev(ap) + scheduled.clone() - Self::row_of(r.principal_paid),
        );
        let b_pre = self.c.row(
            format!("{name}: principal balance before write-off"),
            Unit::Money,
            Expr::Prev(principal) + Self::row_of(r.draws) + capitalised - scheduled,
        );
        // A loan still owed money at its final maturity is in default, not forgiven: what
        // it is owed stays in the waterfall at its rank, bearing interest, ahead of every
        // junior tranche, and only what is left at the horizon is written off. (Writing it
        // off at maturity would let a junior tranche with a longer tenor be repaid from later
        // cash while the senior lost: first-loss money would not absorb losses first.)
        let (j, n) = self.repayment_index(i, 0);
        let defaulted = self.c.row(
            format!("{name}: unpaid at final maturity (default)"),
            Unit::Money,
            if_(
                and(vec![Expr::Row(self.t.ops), eq(j, n)]),
                Expr::Row(b_pre) + Expr::Row(ai_pre) + Expr::Row(ap_pre),
                Expr::zero(),
            ),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::UnpaidAtMaturity,
            subject: name.clone(),
            row: defaulted,
        });
        self.build_default(i, b_pre, ai_pre, ap_pre)?;
        let is_final = self.t.last;
        let write_off = self.c.row(
            format!("{name}: written off (loss)"),
            Unit::Money,
            if_(
                Expr::Row(is_final),
                Expr::Row(b_pre) + Expr::Row(ai_pre) + Expr::Row(ap_pre),
                Expr::zero(),
            ),
        );
        self.c.place(
            principal,
            if_(Expr::Row(is_final), Expr::zero(), Expr::Row(b_pre)),
        );
        self.c.place(
            ai,
            if_(Expr::Row(is_final), Expr::zero(), Expr::Row(ai_pre)),
        );
        self.c.place(
            ap,
            if_(Expr::Row(is_final), Expr::zero(), Expr::Row(ap_pre)),
        );
        self.c.place(
            start,
            if_(
                Expr::Row(self.t.dev),
                Expr::Row(principal),
                Expr::Prev(start),
            ),
        );
        let outstanding = self.c.row(
            format!("{name}: outstanding (principal and arrears)"),
            Unit::Money,
            Expr::Row(principal) + Expr::Row(ai) + Expr::Row(ap),
        );
        let in_arrears = self.c.row(
            format!("{name}: in arrears"),
            Unit::Flag,
            gt(Expr::Row(ai) + Expr::Row(ap), Expr::Num(EPS)),
        );
        self.fin.tranches[i].write_off = Some(write_off);
        self.fin.tranches[i].outstanding = Some(outstanding);
        self.fin.tranches[i].in_arrears = Some(in_arrears);
        let arrears = self.c.row(
            format!("{name}: arrears"),
            Unit::Money,
            Expr::Row(ai) + Expr::Row(ap),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::Arrears,
            subject: name.clone(),
            row: arrears,
        });
        self.lines.events.push(EventSource {
            kind: EventKind::WriteOff,
            subject: name,
            row: write_off,
        });
        Ok(())
    }

    /// Running totals rank by rank (debt service, and debt at the start of the year), each
    /// adding its own loans to the ranks above: one line per rank, where a sum over every
    /// senior loan for each loan grew with the square of the loans. Loans come in rank
    /// order, so the additions happen in the order a loan-by-loan sum makes them.
    fn rank_totals(&mut self, loans: &[usize]) -> BTreeMap<(bool, u32), (RowId, RowId)> {
        let mut by_rank: BTreeMap<(bool, u32), Vec<usize>> = BTreeMap::new();
        for &i in loans {
            by_rank.entry(self.rank_key(i)).or_default().push(i);
        }
        let mut totals = BTreeMap::new();
        let mut above: Option<(RowId, RowId)> = None;
        for (key, members) in &by_rank {
            let rank = if key.0 {
                format!("first-loss rank {}", key.1)
            } else {
                format!("rank {}", key.1)
            };
            let service = self.c.row(
                format!("Debt service of {rank} and above"),
                Unit::Money,
                sum(above
                    .map(|(s, _)| Expr::Row(s))
                    .into_iter()
                    .chain(
                        members
                            .iter()
                            .map(|k| Self::row_of(self.rows(*k).debt_service)),
                    )
                    .collect()),
            );
            let open = self.c.row(
                format!("Debt of {rank} and above at the start of the year"),
                Unit::Money,
                sum(above
                    .map(|(_, o)| Expr::Row(o))
                    .into_iter()
                    .chain(
                        members
                            .iter()
                            .map(|k| Self::prev_of(self.rows(*k).outstanding)),
                    )
                    .collect()),
            );
            above = Some((service, open));
            totals.insert(*key, (service, open));
        }
        totals
    }

    /// Default, as lenders and rating agencies count it: the first year a payment of
    /// interest or principal due is missed (still unpaid at the year end, after any DSRA
    /// draw); an annual payment unpaid at the year end is more than 90 days past due. The
    /// exposure at default is everything the loan is owed at the end of that year: principal
    /// (due or not) and arrears. The loan stays in the waterfall (no acceleration).
    fn build_default(
        &mut self,
        i: usize,
        principal: RowId,
        interest_arrears: RowId,
        principal_arrears: RowId,
    ) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let defaulted = self
            .rows(i)
            .defaulted
            .ok_or_else(|| BuildError(format!("loan '{name}' has no default flag")))?;
        let owed = self.c.row(
            format!("{name}: owed before any write-off"),
            Unit::Money,
            Expr::Row(principal) + Expr::Row(interest_arrears) + Expr::Row(principal_arrears),
        );
        let missed = self.c.row(
            format!("{name}: a payment missed this year"),
            Unit::Flag,
            and(vec![
                Expr::Row(self.t.ops),
                gt(
                    Expr::Row(interest_arrears) + Expr::Row(principal_arrears),
                    Expr::Num(EPS),
                ),
            ]),
        );
        self.c.place(
            defaulted,
            or(vec![Expr::Prev(defaulted), Expr::Row(missed)]),
        );
        let first = self.c.row(
            format!("{name}: defaults this year (first missed payment)"),
            Unit::Flag,
            Expr::Row(defaulted) - Expr::Prev(defaulted),
        );
        let ead = self.c.row(
            format!("{name}: exposure at default"),
            Unit::Money,
            Expr::Row(first) * Expr::Row(owed),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::Default,
            subject: name,
            row: ead,
        });
        let r = &mut self.fin.tranches[i];
        r.owed = Some(owed);
        r.default_flag = Some(first);
        r.ead = Some(ead);
        Ok(())
    }

    /// Each loan's DSCR: CFADS over the scheduled debt service of its rank and every rank
    /// above it.
    fn build_cover_ratios(&mut self, loans: &[usize]) -> Result<(), BuildError> {
        self.c.section("Cover ratios");
        let ops = Expr::Row(self.t.ops);
        let cfads = Self::row_of(self.fin.cfads);
        for &i in loans {
            let name = self.deal.tranches[i].name.value.clone();
            let r = self.rows(i).clone();
            let service = self.c.row(
                format!("{name}: scheduled debt service"),
                Unit::Money,
                ops.clone() * (Self::row_of(r.interest) + Self::row_of(r.scheduled)),
            );
            self.fin.tranches[i].debt_service = Some(service);
        }
        let totals = self.rank_totals(loans);
        for &i in loans {
            let name = self.deal.tranches[i].name.value.clone();
            let Some(&(service, open)) = totals.get(&self.rank_key(i)) else {
                continue;
            };
            let cumulative = self.c.row(
                format!("{name}: debt service of its rank and above"),
                Unit::Money,
                Expr::Row(service),
            );
            let open = self.c.row(
                format!("{name}: debt of its rank and above at the start of the year"),
                Unit::Money,
                Expr::Row(open),
            );
            // Tested over the loan's own life (to its final maturity): after it, a loan in
            // default owes arrears, not scheduled debt service.
            let (j, n) = self.repayment_index(i, 0);
            let tested = self.c.row(
                format!("{name}: DSCR tested"),
                Unit::Flag,
                and(vec![
                    ops.clone(),
                    le(j, n),
                    gt(Expr::Row(cumulative), Expr::Num(EPS)),
                ]),
            );
            let dscr = self.c.row(
                format!("{name}: DSCR"),
                Unit::Ratio,
                if_(
                    Expr::Row(tested),
                    div(cfads.clone(), Expr::Row(cumulative)),
                    Expr::zero(),
                ),
            );
            if let Some(lockup) = self.deal.tranches[i].lockup_dscr.as_ref().map(|l| l.value) {
                let ratio = self.input(lockup, InputKey::Tranche(i, TrancheField::LockupDscr));
                let covenant =
                    self.c
                        .row(format!("{name}: lock-up DSCR covenant"), Unit::Ratio, ratio);
                self.fin.tranches[i].covenant = Some(covenant);
            }
            let t = &mut self.fin.tranches[i];
            t.cumulative_service = Some(cumulative);
            t.senior_debt_open = Some(open);
            t.tested = Some(tested);
            t.dscr = Some(dscr);
        }
        Ok(())
    }

    /// Lock-up test, distributions to equity by shareholding, and the cash account.
    fn build_distributions(&mut self, available: RowId) -> Result<(), BuildError> {
        self.c.section("Distributions");
        let deal = self.deal;
        let ops = Expr::Row(self.t.ops);
        let dev = Expr::Row(self.t.dev);
        let mut tests = Vec::new();
        let mut arrears = Vec::new();
        for (i, t) in deal.tranches.iter().enumerate() {
            let r = self.rows(i).clone();
            if let Some(a) = r.in_arrears {
                arrears.push(Expr::Row(a));
            }
            if let (Some(lockup), Some(tested), Some(dscr)) = (&t.lockup_dscr, r.tested, r.dscr) {
                let ratio =
                    self.input(lockup.value, InputKey::Tranche(i, TrancheField::LockupDscr));
                tests.push(and(vec![Expr::Row(tested), lt(Expr::Row(dscr), ratio)]));
            }
        }
        let mut reasons = arrears;
        reasons.extend(tests);
        let locked = self.c.row(
            "Distributions locked up (DSCR below lock-up or arrears)",
            Unit::Flag,
            and(vec![
                ops.clone(),
                eq(Expr::Row(self.t.last), Expr::zero()),
                or(reasons),
            ]),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::Lockup,
            subject: "distributions".into(),
            row: locked,
        });
        let distribution = self.c.row(
            "Distributions to equity",
            Unit::Money,
            if_(
                Expr::Row(locked),
                Expr::zero(),
                ops.clone() * pos(Expr::Row(available)),
            ),
        );
        // A cash deficit in operations (closure costs after revenue ends, costs above
        // revenue in a crash) is met by the equity holders, by shareholding: the owners'
        // obligation, not the lenders'.
        let support = self.c.row(
            "Equity support for cash deficits",
            Unit::Money,
            ops.clone() * pos(-Expr::Row(available)),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::EquitySupport,
            subject: "equity holders".into(),
            row: support,
        });
        let cash = self
            .fin
            .cash
            .ok_or_else(|| BuildError("cash account missing".into()))?;
        let dev_cash = Expr::Prev(cash) + Self::row_of(self.fin.cash_flow)
            - Self::row_of(self.fin.fees_dev)
            - Self::row_of(self.fin.idc_cash)
            - Self::row_of(self.fin.dsra_init_total)
            + Self::row_of(self.dev_sources);
        self.c.place(
            cash,
            if_(
                dev,
                dev_cash,
                pos(Expr::Row(available)) - Expr::Row(distribution),
            ),
        );
        self.fin.distribution = Some(distribution);
        self.fin.deficit_support = Some(support);
        self.fin.locked = Some(locked);
        self.lines.cash = Some(cash);

        let (equity, weights, total) = self.equity_weights();
        let paid_parts = self.allocate(Expr::Row(distribution), &weights, total.clone());
        let support_parts = self.allocate(Expr::Row(support), &weights, total);
        for ((&i, paid), put_in) in equity.iter().zip(paid_parts).zip(support_parts) {
            let name = deal.tranches[i].name.value.clone();
            let paid_row = format!("{name}: distributions");
            self.equity_flow(i, &paid_row, &paid_row, paid, FlowKind::Distribution)?;
            self.equity_flow(
                i,
                &format!("{name}: support for cash deficits"),
                &format!("{name}: deficit support"),
                put_in,
                FlowKind::Equity,
            )?;
        }
        let gap = Self::row_of(self.fin.dev_gap);
        self.flow(
            "Unfunded gap (bookkeeping: met by nobody in the deal)",
            gap,
            FUNDING_GAP,
            PROJECT,
            FlowKind::FundingGap,
        );
        Ok(())
    }
}
