//! Risk-sharing finance: what every tranche's rules share. The tranche rows (`TrancheRows`),
//! the financing state the builder carries (`Financing`), and the helpers the stages use to
//! find a tranche, its guarantees and its rows, and to book its flows to its participants.
//!
//! The stages live beside this file, one a file, in the order of the calculation:
//! `financing_costs` (interest, fees, the accounts later rows refer to), `cash_flow` (before
//! financing), `funding` (construction draws by priority, overrun equity, completion
//! support), `waterfall` (the operating waterfall as an ordered list of steps run over the
//! ranks), with `repayment` (schedules and sculpting), `reserves` (the DSRA), `balances`
//! (arrears, default, write-off), `cover` (DSCR) and `distributions` (lock-up, distributions,
//! deficit support, the cash account); then `losses` (loss given default and guarantees).
//! Every tranche flow is split between the tranche's participants in the ledger.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{BuildError, Builder, PROJECT};
use crate::engine::calc::{Expr, FlowKind, RowId, Unit, sum};
use crate::model::key::{InputKey, TrancheField};
use crate::model::{Tranche, TrancheKind};

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
    pub(super) fn is_loan(&self, i: usize) -> bool {
        self.deal.tranches[i].kind.value.is_loan()
    }

    /// The waterfall order of a loan: by rank, first-loss below every other loan.
    pub(super) fn rank_key(&self, i: usize) -> (bool, u32) {
        let t = &self.deal.tranches[i];
        (t.kind.value == TrancheKind::FirstLoss, t.rank.value)
    }

    /// The index of the tranche a guarantee covers.
    pub(super) fn covered_tranche(&self, guarantee: &Tranche) -> Result<usize, BuildError> {
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

    /// The equity tranches and the weights an amount is split between them by: their
    /// shareholdings as given (then no total: they sum to 1), else their commitments and
    /// the total commitment (pro rata to commitment). Validation makes shareholdings given
    /// for every equity tranche or for none. `allocate` splits exactly by these.
    pub(super) fn equity_weights(&mut self) -> (Vec<usize>, Vec<Expr>, Option<Expr>) {
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
    pub(super) fn equity_flow(
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

    pub(super) fn record_flows(&mut self, i: usize, rows: &[RowId], kind: FlowKind) {
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
}
