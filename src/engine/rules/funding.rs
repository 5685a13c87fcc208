//! Construction funding: the uses of development (fees, interest not capitalised, the
//! initial DSRA) met by the tranches in draw-priority order, pro rata within a priority and
//! up to each commitment, then sponsors' overrun equity, then the sponsors' completion
//! support (or an unfunded gap when the deal says there is none).

use std::collections::BTreeMap;

use super::{BuildError, Builder, EventKind, EventSource};
use crate::engine::calc::{Expr, FlowKind, RowId, Unit, min2, pos, sum};
use crate::model::key::{InputKey, TrancheField};
use crate::model::{CompletionSupport, TrancheKind};

/// Amounts drawn per tranche index at one stage.
pub(super) type Draws = BTreeMap<usize, RowId>;

impl Builder<'_> {
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
    /// rest, then sponsors' overrun equity: `cascade_overrun`), pro rata within a priority
    /// and up to each commitment. Returns the draws per tranche, overrun equity per tranche, and the gap.
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
        let (overrun, remaining) = self.cascade_overrun(stage, remaining, prior_overrun)?;
        Ok((draws, overrun, remaining))
    }

    /// What the committed money left of a need, met by the sponsors' overrun equity pro
    /// rata to what each equity tranche has left under its overrun cap (development only).
    /// Returns the overrun equity per tranche and what is still to fund.
    fn cascade_overrun(
        &mut self,
        stage: &str,
        need: RowId,
        prior_overrun: &BTreeMap<usize, RowId>,
    ) -> Result<(Draws, RowId), BuildError> {
        let deal = self.deal;
        let mut remaining = need;
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
        Ok((overrun, remaining))
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

    /// Development funding in two stages: the costs (fees, interest not capitalised, the
    /// cash flow's deficit), then the initial DSRA sized on the debt drawn for them; each
    /// tranche's drawdowns booked, and what no committed source met left to completion
    /// support.
    pub(super) fn build_funding(&mut self) -> Result<(), BuildError> {
        self.c.section("Funding");
        let dev = Expr::Row(self.t.dev);
        let cash = self
            .fin
            .cash
            .ok_or_else(|| BuildError("cash account missing".into()))?;
        let cash_flow = Self::row_of(self.fin.cash_flow);
        let (fees_dev, idc_cash) = self.development_financing_costs();
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
        let init_total = self.initial_dsra(&draws1);
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
        let (draws2, overrun2, gap2) = self.cascade("initial DSRA", need2, &draws1, &overrun1)?;
        let all_draws = self.book_drawdowns([&draws1, &draws2], [&overrun1, &overrun2])?;
        let gap = self.c.row(
            "Funding gap in development (beyond the committed money)",
            Unit::Money,
            Expr::Row(gap1) + Expr::Row(gap2),
        );
        self.close_funding(gap, all_draws)?;
        self.fin.fees_dev = Some(fees_dev);
        self.fin.idc_cash = Some(idc_cash);
        self.fin.dsra_init_total = Some(init_total);
        Ok(())
    }

    /// Fees and the interest not capitalised that fall in development: uses the funding
    /// meets. Returns the two rows.
    fn development_financing_costs(&mut self) -> (RowId, RowId) {
        let dev = Expr::Row(self.t.dev);
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
        (fees_dev, idc_cash)
    }

    /// Each funding tranche's drawdowns and overrun equity of both stages, and a loan's
    /// fees, booked to its participants. Returns the rows of everything drawn.
    fn book_drawdowns(
        &mut self,
        draws: [&Draws; 2],
        overruns: [&Draws; 2],
    ) -> Result<Vec<Expr>, BuildError> {
        let deal = self.deal;
        let mut all_draws = Vec::new();
        for (i, t) in deal.tranches.iter().enumerate() {
            if !t.kind.value.is_funding() {
                continue;
            }
            all_draws.push(Expr::Row(self.book_draws_of(i, draws)?));
            if let Some(total) = self.rows(i).overrun_total {
                all_draws.push(Expr::Row(self.book_overrun_equity(i, total, overruns)?));
            }
            if t.kind.value.is_loan() {
                self.book_loan_fees(i)?;
            }
        }
        Ok(all_draws)
    }

    /// Tranche `i`'s drawdowns (both stages): its drawn-to-date account, and its flows
    /// (equity, grant or loan disbursement) from its participants.
    fn book_draws_of(&mut self, i: usize, stages: [&Draws; 2]) -> Result<RowId, BuildError> {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let parts: Vec<Expr> = [stages[0].get(&i), stages[1].get(&i)]
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
        let kind = match t.kind.value {
            TrancheKind::Equity => FlowKind::Equity,
            TrancheKind::Grant => FlowKind::Grant,
            _ => FlowKind::Disbursement,
        };
        let flows = self.split_flow(i, &format!("{name}: drawdowns"), draws, true, kind)?;
        self.record_flows(i, &flows, kind);
        Ok(draws)
    }

    /// Equity tranche `i`'s overrun equity (both stages), added to its running `total` and
    /// paid in by its participants.
    fn book_overrun_equity(
        &mut self,
        i: usize,
        total: RowId,
        overruns: [&Draws; 2],
    ) -> Result<RowId, BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let parts: Vec<Expr> = [overruns[0].get(&i), overruns[1].get(&i)]
            .into_iter()
            .flatten()
            .map(|r| Expr::Row(*r))
            .collect();
        let overrun = self
            .c
            .row(format!("{name}: overrun equity"), Unit::Money, sum(parts));
        self.c.place(total, Expr::Prev(total) + Expr::Row(overrun));
        self.fin.tranches[i].overrun = Some(overrun);
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
        Ok(overrun)
    }

    /// Loan `i`'s upfront and commitment fees, paid to its participants.
    fn book_loan_fees(&mut self, i: usize) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.rows(i).clone();
        let fees = Self::row_of(r.upfront_fee) + Self::row_of(r.commitment_fee);
        let fees = self.c.row(format!("{name}: fees paid"), Unit::Money, fees);
        let flows = self.split_flow(i, &format!("{name}: fees"), fees, false, FlowKind::Fees)?;
        self.record_flows(i, &flows, FlowKind::Fees);
        Ok(())
    }

    /// The gap beyond the committed money to completion support (or unfunded), and the
    /// development sources the cash account reads.
    fn close_funding(&mut self, gap: RowId, all_draws: Vec<Expr>) -> Result<(), BuildError> {
        let (support, dev_gap) = self.completion_support(gap)?;
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
}
