//! The operating waterfall as data: an ordered list of steps (`WaterfallStep`), the order
//! a deal runs in one const (`WATERFALL`, or `RESERVES_LAST` when its Deal sheet funds
//! reserves after all debt service), interpreted by one small loop. A step
//! that works rank by rank runs, together with the rank steps next to it in the list, for
//! each rank in waterfall order (by rank, first-loss below every other loan) on the cash the
//! ranks above it left; the other steps run once. A deal could later give its own order:
//! `check_order` says, before anything is built, whether the steps can run in it.
//!
//! This file owns the steps that pay fees, interest and principal; the reserves, balances,
//! cover ratios and distributions it calls live in their own files.

use std::collections::BTreeMap;

use super::{BuildError, Builder};
use crate::engine::calc::{
    Expr, FlowKind, RowId, Unit, and, div, eq, ge, if_, le, min2, pos, safe_div, sum,
};
use crate::model::ReserveFunding;
use crate::model::key::{InputKey, TrancheField};

/// One step of the operating waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WaterfallStep {
    /// Guarantee fees, ahead of every loan (once).
    GuaranteeFees,
    /// A rank's scheduled principal, and each loan's interest and principal due, arrears
    /// included.
    DebtServiceDue,
    /// A rank's interest, from the cash left, pro rata to what each loan is due.
    Interest,
    /// A rank's principal, from the cash left after its interest, pro rata; each loan's DSRA
    /// then pays what cash did not; the loans' balances after the payments.
    Principal,
    /// A rank's debt service reserves topped up to their targets from the cash left, or
    /// released (what `ReleaseDsra` has not released already).
    FundDsra,
    /// A rank's reserves above their targets released to the cash left (only in orders that
    /// top reserves up later: a senior's release can then pay junior debt service).
    ReleaseDsra,
    /// Each loan's DSCR on the debt service of its rank and every rank above it (once).
    CoverRatios,
    /// Distributions locked up when a tested DSCR is below its lock-up or a loan is in
    /// arrears (once).
    LockUpTest,
    /// The cash left to equity by shareholding, a deficit met by equity, the cash account
    /// (once).
    Distribute,
}

/// The order of the waterfall: fees, then rank by rank interest, principal and reserves,
/// then the cover test, the lock-up and distributions.
pub(super) const WATERFALL: [WaterfallStep; 8] = [
    WaterfallStep::GuaranteeFees,
    WaterfallStep::DebtServiceDue,
    WaterfallStep::Interest,
    WaterfallStep::Principal,
    WaterfallStep::FundDsra,
    WaterfallStep::CoverRatios,
    WaterfallStep::LockUpTest,
    WaterfallStep::Distribute,
];

/// The order when the deal funds debt service reserves after all debt service (`DSRA
/// funding`): every rank's interest and principal (each rank's excess reserve released right
/// after them, as in `WATERFALL`), then the top-ups in a pass of their own over the ranks,
/// senior first.
pub(super) const RESERVES_LAST: [WaterfallStep; 9] = [
    WaterfallStep::GuaranteeFees,
    WaterfallStep::DebtServiceDue,
    WaterfallStep::Interest,
    WaterfallStep::Principal,
    WaterfallStep::ReleaseDsra,
    WaterfallStep::CoverRatios,
    WaterfallStep::FundDsra,
    WaterfallStep::LockUpTest,
    WaterfallStep::Distribute,
];

impl WaterfallStep {
    /// Does the step run once per rank (else once)?
    fn by_rank(self) -> bool {
        use WaterfallStep::*;
        matches!(
            self,
            DebtServiceDue | Interest | Principal | FundDsra | ReleaseDsra
        )
    }

    /// The steps whose rows this one reads: they must come before it in the list (for a
    /// rank step, they then have run for its rank).
    fn needs(self) -> &'static [WaterfallStep] {
        use WaterfallStep::*;
        match self {
            GuaranteeFees | DebtServiceDue => &[],
            Interest => &[DebtServiceDue],
            Principal => &[Interest],
            FundDsra | CoverRatios | ReleaseDsra => &[Principal],
            LockUpTest => &[CoverRatios],
            // The cash left at the end: after every step that pays from it.
            Distribute => &[LockUpTest, GuaranteeFees, FundDsra],
        }
    }

    /// The step this one must come right after: a rank's principal is paid from the cash
    /// its interest left, which no other step updates.
    fn right_after(self) -> Option<WaterfallStep> {
        match self {
            WaterfallStep::Principal => Some(WaterfallStep::Interest),
            _ => None,
        }
    }
}

/// Can the waterfall run in this order: every step once, each after the steps it reads
/// (and principal right after interest)?
pub(super) fn check_order(steps: &[WaterfallStep]) -> Result<(), BuildError> {
    for step in WATERFALL {
        let times = steps.iter().filter(|s| **s == step).count();
        if times != 1 {
            return Err(BuildError(format!(
                "the waterfall runs step {step:?} {times} times (it must run once)"
            )));
        }
    }
    for (k, step) in steps.iter().enumerate() {
        if let Some(need) = step.needs().iter().find(|n| !steps[..k].contains(n)) {
            return Err(BuildError(format!(
                "the waterfall runs step {step:?} before step {need:?}, which it reads"
            )));
        }
        if let Some(before) = step.right_after()
            && (k == 0 || steps[k - 1] != before)
        {
            return Err(BuildError(format!(
                "the waterfall runs step {step:?} not right after step {before:?}, whose \
                 cash it reads"
            )));
        }
    }
    // A release is credited once: before the top-ups that would otherwise credit it.
    let at = |step| steps.iter().position(|s| *s == step);
    match (at(WaterfallStep::ReleaseDsra), at(WaterfallStep::FundDsra)) {
        (Some(r), _) if steps.iter().filter(|s| **s == WaterfallStep::ReleaseDsra).count() > 1 => {
            Err(BuildError(format!(
                "the waterfall runs step ReleaseDsra more than once (first at {r})"
            )))
        }
        (Some(r), Some(f)) if r > f => Err(BuildError(
            "the waterfall runs step ReleaseDsra after step FundDsra, which would credit the release twice"
                .to_string(),
        )),
        _ => Ok(()),
    }
}

/// What the steps hand on to each other.
struct Waterfall {
    cfads: RowId,
    /// The cash left for the next step.
    available: RowId,
    /// The loans in waterfall order.
    loans: Vec<usize>,
    ranks: Vec<Rank>,
    /// Scheduled debt service of the ranks already scheduled: a sculpted loan's budget is
    /// what CFADS over its target leaves after them.
    senior_service: Vec<Expr>,
    /// Loans whose excess reserve `ReleaseDsra` has released this year: (top-up needed,
    /// release, balance after draws), for their top-up.
    released: BTreeMap<usize, (RowId, RowId, RowId)>,
}

/// One rank's rows, as its steps make them.
#[derive(Default)]
struct Rank {
    label: String,
    /// Its loans, those being sculpted last: they size their principal on what the others
    /// of the rank leave.
    members: Vec<usize>,
    interest_due: BTreeMap<usize, RowId>,
    principal_due: BTreeMap<usize, RowId>,
    interest_from_cash: BTreeMap<usize, RowId>,
    after_interest: Option<RowId>,
}

impl Builder<'_> {
    /// The operating waterfall: the steps of the deal's order (`WATERFALL` or
    /// `RESERVES_LAST`), each run of rank steps next to each other run for one rank after
    /// another.
    pub(super) fn build_waterfall(&mut self) -> Result<(), BuildError> {
        let order: &[WaterfallStep] = match self.deal.reserve_funding.value {
            ReserveFunding::EachRank => &WATERFALL,
            ReserveFunding::AllDebtService => &RESERVES_LAST,
        };
        check_order(order)?;
        let mut w = self.open_waterfall()?;
        for run in order.chunk_by(|a, b| a.by_rank() == b.by_rank()) {
            let times = if run[0].by_rank() { w.ranks.len() } else { 1 };
            for k in 0..times {
                for &step in run {
                    self.waterfall_step(step, &mut w, k)?;
                }
            }
        }
        Ok(())
    }

    /// Runs one step; `k` is the rank of a rank step (0, unread, for the others).
    fn waterfall_step(
        &mut self,
        step: WaterfallStep,
        w: &mut Waterfall,
        k: usize,
    ) -> Result<(), BuildError> {
        match step {
            WaterfallStep::GuaranteeFees => self.pay_guarantee_fees(w),
            WaterfallStep::DebtServiceDue => self.schedule_rank(w, k),
            WaterfallStep::Interest => self.pay_rank_interest(w, k),
            WaterfallStep::Principal => self.pay_rank_principal(w, k),
            WaterfallStep::FundDsra => self.fund_rank_dsra(w, k),
            WaterfallStep::ReleaseDsra => self.release_rank_dsra(w, k),
            WaterfallStep::CoverRatios => self.build_cover_ratios(&w.loans),
            WaterfallStep::LockUpTest => self.lock_up(),
            WaterfallStep::Distribute => self.distribute(w.available),
        }
    }

    /// CFADS, the cash the waterfall starts from (CFADS and cash brought forward), and the
    /// loans grouped by rank.
    fn open_waterfall(&mut self) -> Result<Waterfall, BuildError> {
        self.c.section("Waterfall");
        let ops = Expr::Row(self.t.ops);
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
        let (loans, ranks) = self.ranks();
        Ok(Waterfall {
            cfads,
            available: start,
            loans,
            ranks,
            senior_service: Vec::new(),
            released: BTreeMap::new(),
        })
    }

    /// The loans in waterfall order (by rank, first-loss below every other loan), and
    /// grouped by rank.
    fn ranks(&mut self) -> (Vec<usize>, Vec<Rank>) {
        let deal = self.deal;
        let mut loans: Vec<usize> = (0..deal.tranches.len())
            .filter(|i| self.is_loan(*i))
            .collect();
        loans.sort_by_key(|i| (self.rank_key(*i), *i));
        self.fin.loans_in_order = loans.clone();
        let mut ranks: BTreeMap<(bool, u32), Vec<usize>> = BTreeMap::new();
        for &i in &loans {
            ranks.entry(self.rank_key(i)).or_default().push(i);
        }
        let ranks = ranks
            .into_iter()
            .map(|((first_loss, rank), mut members)| {
                members.sort_by_key(|i| (self.sculpting_now(*i), *i));
                let label = if first_loss {
                    format!("first-loss rank {rank}")
                } else {
                    format!("rank {rank}")
                };
                Rank {
                    label,
                    members,
                    ..Rank::default()
                }
            })
            .collect();
        (loans, ranks)
    }

    /// Guarantee fees rank first: paid from the cash available, pro rata to what each
    /// guarantee is due (in full in development, where the funding pays them).
    fn pay_guarantee_fees(&mut self, w: &mut Waterfall) -> Result<(), BuildError> {
        let deal = self.deal;
        let ops = Expr::Row(self.t.ops);
        let guarantees: Vec<usize> = (0..deal.tranches.len())
            .filter(|i| self.rows(*i).guarantee_fee.is_some())
            .collect();
        if guarantees.is_empty() {
            return Ok(());
        }
        let start = w.available;
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
            paid_ops.push(Expr::Row(self.pay_guarantee_fee(g, part)?));
        }
        w.available = self.c.row(
            "Cash after guarantee fees",
            Unit::Money,
            Expr::Row(start) - ops.clone() * sum(paid_ops),
        );
        Ok(())
    }

    /// Guarantee `g`'s fee paid: its `part` of what operations met, its whole fee in
    /// development; split between its guarantors.
    fn pay_guarantee_fee(&mut self, g: usize, part: Expr) -> Result<RowId, BuildError> {
        let dev = Expr::Row(self.t.dev);
        let fee = Self::row_of(self.rows(g).guarantee_fee);
        let name = self.deal.tranches[g].name.value.clone();
        let paid = self.c.row(
            format!("{name}: guarantee fee paid"),
            Unit::Money,
            if_(dev.clone(), fee, part),
        );
        self.fin.tranches[g].fee_paid = Some(paid);
        let flows = self.split_flow(
            g,
            &format!("{name}: guarantee fee"),
            paid,
            false,
            FlowKind::GuaranteeFee,
        )?;
        self.record_flows(g, &flows, FlowKind::GuaranteeFee);
        Ok(paid)
    }

    /// A rank's debt service due: each loan's scheduled principal (a sculpted loan's on
    /// what the rank's other loans leave), its interest due and its principal due.
    fn schedule_rank(&mut self, w: &mut Waterfall, k: usize) -> Result<(), BuildError> {
        let ops = Expr::Row(self.t.ops);
        let members = w.ranks[k].members.clone();
        // Scheduled principal of the rank's tranches that are not being sculpted.
        let mut rank_principal: Vec<Expr> = Vec::new();
        for &i in &members {
            let scheduled = self.scheduled_principal(i, w, &members, &rank_principal)?;
            if !self.sculpting_now(i) {
                rank_principal.push(Expr::Row(scheduled));
            }
            let (di, dp) = self.debt_service_due(i, scheduled);
            w.ranks[k].interest_due.insert(i, di);
            w.ranks[k].principal_due.insert(i, dp);
        }
        for &i in &members {
            let r = self.rows(i);
            w.senior_service
                .push(Self::row_of(r.interest) * ops.clone() + Self::row_of(r.scheduled));
        }
        Ok(())
    }

    /// Loan `i`'s principal scheduled this year: by its repayment profile, or sculpted.
    fn scheduled_principal(
        &mut self,
        i: usize,
        w: &Waterfall,
        members: &[usize],
        rank_principal: &[Expr],
    ) -> Result<RowId, BuildError> {
        let ops = Expr::Row(self.t.ops);
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.rows(i).clone();
        let (j, n) = self.repayment_index(i, 0);
        let balance = Self::prev_of(r.principal);
        let start_balance = Self::prev_of(r.start_balance);
        let scheduled = if self.sculpting_now(i) {
            self.sculpted_principal(i, (j, n), w, members, rank_principal)?
        } else {
            self.scheduled(i, j.clone(), n.clone(), balance.clone(), start_balance)
        };
        Ok(self.c.row(
            format!("{name}: scheduled principal"),
            Unit::Money,
            ops.clone() * scheduled,
        ))
    }

    /// A sculpted loan's principal: its share (by balance, among the rank's loans being
    /// sculpted) of what CFADS over its target DSCR leaves after the debt service of the
    /// ranks above, its rank's interest and its rank's other principal; all of its balance
    /// in its last repayment year.
    fn sculpted_principal(
        &mut self,
        i: usize,
        (j, n): (Expr, Expr),
        w: &Waterfall,
        members: &[usize],
        rank_principal: &[Expr],
    ) -> Result<Expr, BuildError> {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let balance = Self::prev_of(self.rows(i).principal);
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
        let rank_interest: Vec<Expr> = members
            .iter()
            .map(|i| Self::row_of(self.rows(*i).interest))
            .collect();
        let budget = div(Expr::Row(w.cfads), target)
            - sum(w.senior_service.clone())
            - sum(rank_interest)
            - sum(rank_principal.to_vec());
        let within = and(vec![ge(j.clone(), Expr::one()), le(j.clone(), n.clone())]);
        Ok(if_(
            within,
            if_(
                eq(j.clone(), n.clone()),
                balance.clone(),
                min2(balance.clone(), self.book(pos(budget) * share)),
            ),
            Expr::zero(),
        ))
    }

    /// Loan `i`'s interest due (in development what is not capitalised; in operations with
    /// the interest in arrears) and principal due (scheduled and in arrears).
    fn debt_service_due(&mut self, i: usize, scheduled: RowId) -> (RowId, RowId) {
        let ops = Expr::Row(self.t.ops);
        let dev = Expr::Row(self.t.dev);
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.rows(i).clone();
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
        (di, dp)
    }

    /// A rank's interest: what the cash left meets of it, shared pro rata to what each
    /// loan is due (in development each loan's whole interest due, which the funding paid).
    fn pay_rank_interest(&mut self, w: &mut Waterfall, k: usize) -> Result<(), BuildError> {
        let deal = self.deal;
        let ops = Expr::Row(self.t.ops);
        let dev = Expr::Row(self.t.dev);
        let available = w.available;
        let rank = &mut w.ranks[k];
        let total_interest = self.c.row(
            format!("{}: interest due", rank.label),
            Unit::Money,
            ops.clone() * sum(rank.interest_due.values().map(|r| Expr::Row(*r)).collect()),
        );
        let interest_met = self.c.row(
            format!("{}: interest paid from cash in operations", rank.label),
            Unit::Money,
            min2(pos(Expr::Row(available)), Expr::Row(total_interest)),
        );
        let dues: Vec<Expr> = rank
            .members
            .iter()
            .map(|i| Expr::Row(rank.interest_due[i]))
            .collect();
        let parts = self.allocate(
            Expr::Row(interest_met),
            &dues,
            Some(Expr::Row(total_interest)),
        );
        for (&i, part) in rank.members.iter().zip(parts) {
            let name = &deal.tranches[i].name.value;
            let di = Expr::Row(rank.interest_due[&i]);
            let paid = self.c.row(
                format!("{name}: interest paid from cash"),
                Unit::Money,
                if_(dev.clone(), di, part),
            );
            rank.interest_from_cash.insert(i, paid);
        }
        let from_cash = sum(rank
            .interest_from_cash
            .values()
            .map(|r| Expr::Row(*r))
            .collect());
        rank.after_interest = Some(self.c.row(
            format!("{}: cash after interest", rank.label),
            Unit::Money,
            pos(Expr::Row(available)) - ops.clone() * from_cash,
        ));
        Ok(())
    }

    /// A rank's principal: what the cash left after its interest meets of it, shared pro
    /// rata to what each loan is due; then each loan's own payments and balances.
    fn pay_rank_principal(&mut self, w: &mut Waterfall, k: usize) -> Result<(), BuildError> {
        let rank = &w.ranks[k];
        let after_interest = rank
            .after_interest
            .ok_or_else(|| BuildError(format!("{}: principal paid before interest", rank.label)))?;
        let total_principal = self.c.row(
            format!("{}: principal due", rank.label),
            Unit::Money,
            sum(rank.principal_due.values().map(|r| Expr::Row(*r)).collect()),
        );
        let principal_met = self.c.row(
            format!("{}: principal paid from cash", rank.label),
            Unit::Money,
            min2(pos(Expr::Row(after_interest)), Expr::Row(total_principal)),
        );
        let dues: Vec<Expr> = rank
            .members
            .iter()
            .map(|i| Expr::Row(rank.principal_due[i]))
            .collect();
        let parts = self.allocate(
            Expr::Row(principal_met),
            &dues,
            Some(Expr::Row(total_principal)),
        );
        let mut from_cash = Vec::new();
        for (&i, part) in rank.members.iter().zip(parts) {
            from_cash.extend(self.pay_loan(i, part, rank)?);
        }
        w.available = self.c.row(
            format!("{}: cash after debt service", rank.label),
            Unit::Money,
            Expr::Row(w.available) - sum(from_cash),
        );
        Ok(())
    }

    /// Loan `i`'s payments this year: its `part` of the rank's principal from cash, then
    /// its DSRA pays what cash did not; interest and principal paid split between its
    /// participants, and its balances after them. Returns what it took from cash.
    fn pay_loan(&mut self, i: usize, part: Expr, rank: &Rank) -> Result<[Expr; 2], BuildError> {
        let ops = Expr::Row(self.t.ops);
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.rows(i).clone();
        let di = Expr::Row(rank.interest_due[&i]);
        let dp = Expr::Row(rank.principal_due[&i]);
        let pic = Expr::Row(rank.interest_from_cash[&i]);
        let ppc_label = if r.dsra.is_some() {
            format!("{name}: principal paid from cash")
        } else {
            format!("{name}: principal paid")
        };
        let ppc = self.c.row(ppc_label, Unit::Money, part);
        let from_cash = [ops.clone() * pic.clone(), Expr::Row(ppc)];
        let (pay_interest, pay_principal) = match r.dsra {
            Some(dsra) => self.draw_dsra(i, dsra, (di, dp), pic, ppc),
            None => {
                let pi = self
                    .c
                    .row(format!("{name}: interest paid"), Unit::Money, pic);
                (pi, ppc)
            }
        };
        self.fin.tranches[i].interest_paid = Some(pay_interest);
        self.fin.tranches[i].principal_paid = Some(pay_principal);
        self.book_debt_service(i, pay_interest, pay_principal)?;
        self.build_balances(i)?;
        Ok(from_cash)
    }

    /// Loan `i`'s interest and principal paid, split between its participants.
    fn book_debt_service(
        &mut self,
        i: usize,
        pay_interest: RowId,
        pay_principal: RowId,
    ) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
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
        Ok(())
    }

    /// The loans of a rank that keep a debt service reserve.
    fn with_dsra(&self, rank: &Rank) -> Vec<usize> {
        rank.members
            .iter()
            .copied()
            .filter(|i| self.rows(*i).dsra.is_some())
            .collect()
    }

    /// A rank's reserves above their targets, released to the cash left; their top-ups
    /// wait for `FundDsra`.
    fn release_rank_dsra(&mut self, w: &mut Waterfall, k: usize) -> Result<(), BuildError> {
        let label = w.ranks[k].label.clone();
        let with_dsra = self.with_dsra(&w.ranks[k]);
        if with_dsra.is_empty() {
            return Ok(());
        }
        let mut releases = Vec::new();
        for i in with_dsra {
            let need = self.dsra_need(i)?;
            releases.push(Expr::Row(need.1));
            w.released.insert(i, need);
        }
        w.available = self.c.row(
            format!("{label}: cash after DSRA releases"),
            Unit::Money,
            Expr::Row(w.available) + sum(releases),
        );
        Ok(())
    }

    /// A rank's debt service reserves: each loan's top-up need or release, the needs met
    /// from the cash left pro rata, and the cash after them.
    fn fund_rank_dsra(&mut self, w: &mut Waterfall, k: usize) -> Result<(), BuildError> {
        let rank = &w.ranks[k];
        let with_dsra = self.with_dsra(rank);
        if with_dsra.is_empty() {
            return Ok(());
        }
        let mut needs = BTreeMap::new();
        for &i in &with_dsra {
            let need = match w.released.get(&i) {
                Some(need) => *need,
                None => self.dsra_need(i)?,
            };
            needs.insert(i, need);
        }
        let total = self.c.row(
            format!("{}: DSRA top-up needed", rank.label),
            Unit::Money,
            sum(needs.values().map(|(n, _, _)| Expr::Row(*n)).collect()),
        );
        let funded = self.c.row(
            format!("{}: DSRA top-up funded", rank.label),
            Unit::Money,
            min2(pos(Expr::Row(w.available)), Expr::Row(total)),
        );
        let weights: Vec<Expr> = needs.values().map(|(n, _, _)| Expr::Row(*n)).collect();
        let parts = self.allocate(Expr::Row(funded), &weights, Some(Expr::Row(total)));
        let mut net = Vec::new();
        for ((&i, &(_, release, before)), part) in needs.iter().zip(parts) {
            let topup = self.place_dsra(i, part, release, before)?;
            net.push(if w.released.contains_key(&i) {
                Expr::zero() - Expr::Row(topup)
            } else {
                Expr::Row(release) - Expr::Row(topup)
            });
        }
        w.available = self.c.row(
            format!("{}: cash after DSRA", rank.label),
            Unit::Money,
            Expr::Row(w.available) + sum(net),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::WaterfallStep::*;
    use super::*;

    #[test]
    fn the_default_order_runs() {
        assert_eq!(check_order(&WATERFALL), Ok(()));
        assert_eq!(check_order(&RESERVES_LAST), Ok(()));
        let mut late = WATERFALL.to_vec();
        late.insert(5, WaterfallStep::ReleaseDsra);
        assert!(check_order(&late).is_err(), "a release after the top-ups");
        let mut twice = RESERVES_LAST.to_vec();
        twice.insert(5, WaterfallStep::ReleaseDsra);
        assert!(check_order(&twice).is_err(), "a release twice");
    }

    #[test]
    fn orders_the_steps_cannot_run_in_are_refused() {
        let cases: [(&str, Vec<WaterfallStep>, &str); 6] = [
            (
                "principal before interest",
                vec![
                    GuaranteeFees,
                    DebtServiceDue,
                    Principal,
                    Interest,
                    FundDsra,
                    CoverRatios,
                    LockUpTest,
                    Distribute,
                ],
                "step Principal before step Interest",
            ),
            (
                "distributions before the lock-up test",
                vec![
                    GuaranteeFees,
                    DebtServiceDue,
                    Interest,
                    Principal,
                    FundDsra,
                    CoverRatios,
                    Distribute,
                    LockUpTest,
                ],
                "step Distribute before step LockUpTest",
            ),
            (
                "no reserves",
                WATERFALL.into_iter().filter(|s| *s != FundDsra).collect(),
                "step FundDsra 0 times",
            ),
            (
                "every rank's interest before any principal",
                vec![
                    DebtServiceDue,
                    Interest,
                    GuaranteeFees,
                    Principal,
                    FundDsra,
                    CoverRatios,
                    LockUpTest,
                    Distribute,
                ],
                "step Principal not right after step Interest",
            ),
            (
                "fees after distributions",
                vec![
                    DebtServiceDue,
                    Interest,
                    Principal,
                    FundDsra,
                    CoverRatios,
                    LockUpTest,
                    Distribute,
                    GuaranteeFees,
                ],
                "step Distribute before step GuaranteeFees",
            ),
            (
                "fees twice",
                [vec![GuaranteeFees], WATERFALL.to_vec()].concat(),
                "step GuaranteeFees 2 times",
            ),
        ];
        for (case, steps, expected) in cases {
            let err = check_order(&steps).expect_err(case);
            assert!(
                err.0.contains(expected),
                "{case}: expected '{expected}' in '{}'",
                err.0
            );
        }
    }

    #[test]
    fn a_reordered_waterfall_that_reads_only_earlier_rows_is_accepted() {
        let steps = [
            DebtServiceDue,
            GuaranteeFees,
            Interest,
            Principal,
            CoverRatios,
            FundDsra,
            LockUpTest,
            Distribute,
        ];
        assert_eq!(check_order(&steps), Ok(()));
    }
}
