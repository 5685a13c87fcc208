//! Losses as lenders measure them, and guarantees that pay when the loss falls due.
//!
//! Per loan: its default (the first year a payment due is missed, see `build_default`), the
//! exposure at default (EAD: principal and arrears owed at the end of that year), the
//! recoveries after it, their present value at the loan's contract rate to the default year,
//! the loss given default LGD = EAD − PV of recoveries (never below 0 nor above EAD), LGD as a
//! share of EAD, and apart from them the nominal shortfall written off at the horizon.
//!
//! Per guarantee, by its kind:
//! - debt service: pays the covered share of each payment of the covered loan that falls due
//!   and is missed, in the year it is missed, up to what is left of its cap; each call buys the
//!   guarantor a claim on the loan (subrogation) that bears the loan's rate and is repaid from
//!   the loan's later recoveries pari passu with the lenders' own arrears (the lenders pass
//!   that share on);
//! - loss: pays the covered share of the loan's LGD, up to its cap, in the default year (a
//!   whole-run measure read in that year: the calculation evaluates the call after it).
//!
//! The project's own flows do not depend on either (a guarantee is paid between the guarantor
//! and the lenders), so the loan's LGD is the same with or without them; the lenders' loss
//! after guarantees is measured the same way on what they receive, calls included.

use rust_decimal::Decimal;

use super::{BuildError, Builder, EventKind, EventSource};
use crate::engine::calc::{
    EPS, Expr, FlowKind, RowId, ScalarId, Stage, Unit, div, if_, le, max2, min2, pos, pow,
    safe_div, sum,
};
use crate::model::GuaranteeKind;
use crate::model::key::{InputKey, ParticipantAt, ParticipantField, TrancheField};

/// A loan's loss measures (whole-run scalars).
#[derive(Debug, Clone, Copy)]
pub struct LossLines {
    pub default_year: ScalarId,
    pub ead: ScalarId,
    /// Nominal recoveries after the default year, and their value in it.
    pub recoveries: ScalarId,
    pub pv_recoveries: ScalarId,
    pub lgd: ScalarId,
    pub lgd_pct: ScalarId,
    /// What is still owed at the horizon and written off (nominal, arrears interest
    /// included).
    pub shortfall: ScalarId,
    /// The lenders' LGD counting what guarantees paid them (the LGD where none covers it).
    pub after_guarantees: ScalarId,
    /// The discount factor to the default year, per period.
    discount: RowId,
}

impl Builder<'_> {
    pub(super) fn build_losses_and_guarantees(&mut self) -> Result<(), BuildError> {
        self.c.section("Losses and guarantees");
        let loans: Vec<usize> = self.fin.loans_in_order.clone();
        for &i in &loans {
            self.build_loss_measures(i)?;
        }
        for &k in &loans {
            let guarantees = self.guarantees_of(k);
            let (service, loss): (Vec<usize>, Vec<usize>) = guarantees.iter().partition(|g| {
                self.deal.tranches[**g].guarantee_kind.value == GuaranteeKind::DebtService
            });
            if !service.is_empty() {
                self.build_debt_service_guarantees(k, &service)?;
            }
            for g in loss {
                self.build_loss_guarantee(k, g)?;
            }
            self.build_loss_after_guarantees(k, &guarantees)?;
        }
        Ok(())
    }

    /// EAD, recoveries after default and their PV at the contract rate to the default year,
    /// LGD, LGD % of EAD, and the shortfall at the horizon.
    fn build_loss_measures(&mut self, i: usize) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.fin.tranches[i].clone();
        let (Some(first), Some(ead_row)) = (r.default_flag, r.ead) else {
            return Err(BuildError(format!("loan '{name}' has no default rows")));
        };
        let (discount, recovered, pv) = self.recovery_rows(i)?;
        let post = |b: &mut Self, label: String, unit: Unit, expr: Expr| {
            b.c.scalar(label, unit, expr, Stage::Post)
        };
        let default_year = post(
            self,
            format!("{name}: default year"),
            Unit::Year,
            Expr::FirstYearWhere(first),
        );
        let ead = post(
            self,
            format!("{name}: exposure at default"),
            Unit::Money,
            Expr::RowSum(ead_row),
        );
        let recoveries = post(
            self,
            format!("{name}: recoveries after default"),
            Unit::Money,
            Expr::RowSum(recovered),
        );
        let pv_recoveries = post(
            self,
            format!("{name}: recoveries after default, PV at the default year"),
            Unit::Money,
            Expr::RowSum(pv),
        );
        let (lgd, lgd_pct) = self.lgd_scalars(&name, ead, pv_recoveries);
        let shortfall = post(
            self,
            format!("{name}: shortfall at the horizon (written off)"),
            Unit::Money,
            r.write_off.map(Expr::RowSum).unwrap_or_default(),
        );
        self.fin.tranches[i].loss = Some(LossLines {
            default_year,
            ead,
            recoveries,
            pv_recoveries,
            lgd,
            lgd_pct,
            shortfall,
            after_guarantees: lgd,
            discount,
        });
        Ok(())
    }

    /// A loan's discount factor to its default year (at its contract rate), what it is paid
    /// after that year, and that discounted.
    fn recovery_rows(&mut self, i: usize) -> Result<(RowId, RowId, RowId), BuildError> {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let r = self.fin.tranches[i].clone();
        let defaulted = r
            .defaulted
            .ok_or_else(|| BuildError(format!("loan '{name}' has no default rows")))?;
        let rate = self.input(
            t.interest_rate.value,
            InputKey::Tranche(i, TrancheField::InterestRate),
        );
        let since = self
            .c
            .reserve(format!("{name}: years since default"), Unit::Count);
        self.c.place(
            since,
            Expr::Prev(defaulted) * (Expr::Prev(since) + Expr::one()),
        );
        let discount = self.c.row(
            format!("{name}: discount factor to the default year"),
            Unit::Ratio,
            pow(Expr::one() + rate, -Expr::Row(since)),
        );
        let paid = Self::row_of(r.interest_paid) + Self::row_of(r.principal_paid);
        let recovered = self.c.row(
            format!("{name}: recoveries after default"),
            Unit::Money,
            Expr::Prev(defaulted) * paid,
        );
        let pv = self.c.row(
            format!("{name}: recoveries discounted to the default year"),
            Unit::Money,
            Expr::Row(recovered) * Expr::Row(discount),
        );
        Ok((discount, recovered, pv))
    }

    /// LGD = EAD − PV of recoveries (0 to EAD), and as a share of EAD.
    fn lgd_scalars(&mut self, name: &str, ead: ScalarId, pv: ScalarId) -> (ScalarId, ScalarId) {
        let lgd = self.c.scalar(
            format!("{name}: loss given default"),
            Unit::Money,
            // Reported in whole units of the ledger, like every amount of money.
            self.book(clamp_to_exposure(
                Expr::Scalar(ead),
                Expr::Scalar(pv),
                self.booking_rounding(),
            )),
            Stage::Post,
        );
        let pct = self.c.scalar(
            format!("{name}: loss given default % of exposure"),
            Unit::Percent,
            if_(
                le(Expr::Scalar(ead), Expr::Num(EPS)),
                Expr::Na,
                div(Expr::Scalar(lgd), Expr::Scalar(ead)),
            ),
            Stage::Post,
        );
        (lgd, pct)
    }

    /// Debt-service guarantees of loan `k`: each year, the payments that fell due and were
    /// missed; the covered share paid by each guarantee (up to its cap); the guarantors'
    /// claims from their calls, repaid from the loan's payments pro rata to what is due.
    fn build_debt_service_guarantees(
        &mut self,
        k: usize,
        guarantees: &[usize],
    ) -> Result<(), BuildError> {
        let t = &self.deal.tranches[k];
        let name = t.name.value.clone();
        let r = self.fin.tranches[k].clone();
        let ops = Expr::Row(self.t.ops);
        let rate = self.input(
            t.interest_rate.value,
            InputKey::Tranche(k, TrancheField::InterestRate),
        );
        let due = Self::row_of(r.interest_due) + Self::row_of(r.principal_due);
        let paid = Self::row_of(r.interest_paid) + Self::row_of(r.principal_paid);
        let opening = Self::prev_of(r.principal)
            + Self::prev_of(r.arrears_interest)
            + Self::prev_of(r.arrears_principal);
        let owed = self.guarantor_recoveries(k, guarantees)?;
        let recovered: Vec<Expr> = guarantees
            .iter()
            .map(|g| Self::row_of(self.fin.tranches[*g].recovery))
            .collect();
        let unpaid = self.c.row(
            format!("{name}: lenders' payments due and unpaid this year"),
            Unit::Money,
            ops.clone()
                * pos(due
                    - sum(owed.iter().map(|o| Expr::Row(*o)).collect())
                    - (paid - sum(recovered))),
        );
        let claims: Vec<Expr> = guarantees
            .iter()
            .filter_map(|g| self.fin.tranches[*g].claim.map(Expr::Prev))
            .collect();
        let missed = self.c.row(
            format!("{name}: lenders' payments falling due this year and missed"),
            Unit::Money,
            ops * min2(
                Expr::Row(unpaid),
                self.book(rate * pos(opening - sum(claims))) + Self::row_of(r.scheduled),
            ),
        );
        self.debt_service_calls(k, guarantees, missed, &owed)
    }

    /// Each debt-service guarantor's claim due this year (with the loan's interest), and
    /// what it recovers of it from the loan's payments, pro rata to what is due on the loan.
    fn guarantor_recoveries(
        &mut self,
        k: usize,
        guarantees: &[usize],
    ) -> Result<Vec<RowId>, BuildError> {
        let t = &self.deal.tranches[k];
        let name = t.name.value.clone();
        let r = self.fin.tranches[k].clone();
        let ops = Expr::Row(self.t.ops);
        let rate = self.input(
            t.interest_rate.value,
            InputKey::Tranche(k, TrancheField::InterestRate),
        );
        let due = Self::row_of(r.interest_due) + Self::row_of(r.principal_due);
        let paid = Self::row_of(r.interest_paid) + Self::row_of(r.principal_paid);
        let mut owed = Vec::new();
        for &g in guarantees {
            let gname = self.deal.tranches[g].name.value.clone();
            let claim = self.claim_row(g)?;
            let owed_g = self.c.row(
                format!("{gname}: claim due this year (with interest)"),
                Unit::Money,
                Expr::Prev(claim) + self.book(Expr::Prev(claim) * rate.clone()),
            );
            let share = safe_div(paid.clone() * Expr::Row(owed_g), due.clone(), Expr::zero());
            let rec = self.c.row(
                format!("{gname}: recovered from {name}'s payments"),
                Unit::Money,
                self.book(ops.clone() * min2(Expr::Row(owed_g), share)),
            );
            self.fin.tranches[g].recovery = Some(rec);
            self.guarantee_flows(g, k, rec, FlowKind::GuaranteeRecovery)?;
            owed.push(owed_g);
        }
        Ok(owed)
    }

    /// Each debt-service guarantee's call on the missed payments (its coverage, up to what is
    /// left of its cap and of the missed payments), and its claim at the year end.
    fn debt_service_calls(
        &mut self,
        k: usize,
        guarantees: &[usize],
        missed: RowId,
        owed: &[RowId],
    ) -> Result<(), BuildError> {
        let name = self.deal.tranches[k].name.value.clone();
        let mut called: Vec<Expr> = Vec::new();
        for (&g, &owed_g) in guarantees.iter().zip(owed) {
            let gt = &self.deal.tranches[g];
            let gname = gt.name.value.clone();
            let cap = self.input(
                gt.commitment.value,
                InputKey::Tranche(g, TrancheField::Commitment),
            );
            let coverage = self.input(
                gt.coverage.value,
                InputKey::Tranche(g, TrancheField::Coverage),
            );
            let calls = self.calls_row(g)?;
            let call = self.c.row(
                format!("{gname}: call on {name}'s missed payments"),
                Unit::Money,
                self.book(Expr::Min(vec![
                    coverage * Expr::Row(missed),
                    pos(cap - Expr::Prev(calls)),
                    pos(Expr::Row(missed) - sum(called.clone())),
                ])),
            );
            called.push(Expr::Row(call));
            self.place_call(g, k, call)?;
            let claim = self.claim_row(g)?;
            let rec = Self::row_of(self.fin.tranches[g].recovery);
            self.c.place(
                claim,
                if_(
                    Expr::Row(self.t.last),
                    Expr::zero(),
                    Expr::Row(owed_g) - rec + Expr::Row(call),
                ),
            );
        }
        Ok(())
    }

    /// A loss guarantee of loan `k`: the covered share of its LGD, up to the cap, in the
    /// default year.
    fn build_loss_guarantee(&mut self, k: usize, g: usize) -> Result<(), BuildError> {
        let name = self.deal.tranches[k].name.value.clone();
        let gt = &self.deal.tranches[g];
        let gname = gt.name.value.clone();
        let cap = self.input(
            gt.commitment.value,
            InputKey::Tranche(g, TrancheField::Commitment),
        );
        let coverage = self.input(
            gt.coverage.value,
            InputKey::Tranche(g, TrancheField::Coverage),
        );
        let (Some(first), Some(loss)) =
            (self.fin.tranches[k].default_flag, self.fin.tranches[k].loss)
        else {
            return Err(BuildError(format!("loan '{name}' has no loss measures")));
        };
        let call = self.c.row(
            format!("{gname}: call on {name}'s loss given default"),
            Unit::Money,
            self.book(Expr::Row(first) * min2(coverage * Expr::Scalar(loss.lgd), cap)),
        );
        self.place_call(g, k, call)
    }

    /// The lenders' LGD after guarantees: EAD less the PV at the default year of what they
    /// receive from it on (the calls, and the loan's payments less what they pass on to
    /// debt-service guarantors), between 0 and EAD.
    fn build_loss_after_guarantees(
        &mut self,
        k: usize,
        guarantees: &[usize],
    ) -> Result<(), BuildError> {
        let name = self.deal.tranches[k].name.value.clone();
        let r = self.fin.tranches[k].clone();
        let (Some(mut loss), Some(defaulted)) = (r.loss, r.defaulted) else {
            return Err(BuildError(format!("loan '{name}' has no loss measures")));
        };
        if guarantees.is_empty() {
            return Ok(());
        }
        let calls: Vec<Expr> = guarantees
            .iter()
            .filter_map(|g| self.fin.tranches[*g].call.map(Expr::Row))
            .collect();
        let passed_on: Vec<Expr> = guarantees
            .iter()
            .filter_map(|g| self.fin.tranches[*g].recovery.map(Expr::Row))
            .collect();
        let paid = Self::row_of(r.interest_paid) + Self::row_of(r.principal_paid);
        let received = self.c.row(
            format!("{name}: lenders' recoveries from default, guarantee calls included"),
            Unit::Money,
            Expr::Prev(defaulted) * (paid - sum(passed_on)) + Expr::Row(defaulted) * sum(calls),
        );
        let pv = self.c.row(
            format!("{name}: lenders' recoveries discounted to the default year"),
            Unit::Money,
            Expr::Row(received) * Expr::Row(loss.discount),
        );
        loss.after_guarantees = self.c.scalar(
            format!("{name}: loss given default after guarantees"),
            Unit::Money,
            self.book(clamp_to_exposure(
                Expr::Scalar(loss.ead),
                Expr::RowSum(pv),
                self.booking_rounding(),
            )),
            Stage::Post,
        );
        self.fin.tranches[k].loss = Some(loss);
        Ok(())
    }

    /// Records a guarantee's call row: its running total, the Log, and the payments from
    /// the guarantor's participants to the covered loan's.
    fn place_call(&mut self, g: usize, k: usize, call: RowId) -> Result<(), BuildError> {
        let calls = self.calls_row(g)?;
        self.c.place(calls, Expr::Prev(calls) + Expr::Row(call));
        self.fin.tranches[g].call = Some(call);
        self.lines.events.push(EventSource {
            kind: EventKind::GuaranteeCall,
            subject: self.deal.tranches[g].name.value.clone(),
            row: call,
        });
        self.guarantee_flows(g, k, call, FlowKind::GuaranteeCall)
    }

    /// Ledger flows between guarantee `g`'s participants and loan `k`'s, split by both
    /// shares: a call goes from the guarantors to the lenders, a recovery the other way.
    fn guarantee_flows(
        &mut self,
        g: usize,
        k: usize,
        amount: RowId,
        kind: FlowKind,
    ) -> Result<(), BuildError> {
        let name = self.deal.tranches[g].name.value.clone();
        let guarantors = self.participant_records(g);
        let lenders = self.participant_records(k);
        let shares = |b: &mut Self, records: &[(String, Decimal, ParticipantAt)]| -> Vec<Expr> {
            records
                .iter()
                .map(|(_, share, record)| {
                    b.input(
                        *share,
                        InputKey::Participant(*record, ParticipantField::Share),
                    )
                })
                .collect()
        };
        let g_shares = shares(self, &guarantors);
        let l_shares = shares(self, &lenders);
        // Split twice, each split exact (`allocate`): the amount between the guarantors,
        // then each one's part between the lenders.
        let g_parts = self.allocate(Expr::Row(amount), &g_shares, None);
        for ((guarantor, _, _), g_part) in guarantors.iter().zip(g_parts) {
            let gp = self.party_index(guarantor)?;
            let by_guarantor = if guarantors.len() == 1 {
                amount
            } else {
                self.c.row(
                    format!("{name}: {} share of {guarantor}", kind.label()),
                    Unit::Money,
                    g_part,
                )
            };
            let l_parts = self.allocate(Expr::Row(by_guarantor), &l_shares, None);
            for ((lender, _, _), part) in lenders.iter().zip(l_parts) {
                let lp = self.party_index(lender)?;
                let (from, to, label) = match kind {
                    FlowKind::GuaranteeRecovery => (
                        lp,
                        gp,
                        format!("{name}: recovery passed by {lender} to {guarantor}"),
                    ),
                    _ => (
                        gp,
                        lp,
                        format!("{name}: call paid by {guarantor} to {lender}"),
                    ),
                };
                let row = self.flow(label, part, from, to, kind);
                self.fin.tranches[g].flows.push((gp, row, kind));
            }
        }
        Ok(())
    }

    /// How far the PV of a loan's recoveries may fall short of its exposure from the
    /// ledger's rounding alone: each year's interest and payments are booked to within half
    /// a unit of the ledger, so over the horizon at most half a unit a year (and never less
    /// than the engine's tolerance for a discounted sum).
    fn booking_rounding(&self) -> Expr {
        max2(
            self.check_tolerance() * Expr::num(Decimal::from(self.c.periods)),
            Expr::Num(EPS),
        )
    }

    fn calls_row(&self, g: usize) -> Result<RowId, BuildError> {
        self.fin.tranches[g]
            .calls
            .ok_or_else(|| BuildError("calls account missing".into()))
    }

    fn claim_row(&self, g: usize) -> Result<RowId, BuildError> {
        self.fin.tranches[g]
            .claim
            .ok_or_else(|| BuildError("guarantor's claim account missing".into()))
    }
}

/// EAD − PV of recoveries, never below 0 nor above EAD; a difference within `rounding` is 0:
/// a loan recovered in full at its contract rate has lost nothing.
fn clamp_to_exposure(ead: Expr, pv: Expr, rounding: Expr) -> Expr {
    let lost = ead.clone() - pv;
    if_(le(lost.clone(), rounding), Expr::zero(), min2(ead, lost))
}
