//! The end of the waterfall: the lock-up test, distributions to equity by shareholding,
//! equity support for cash deficits, and the project's cash account.

use super::{BuildError, Builder, EventKind, EventSource, FUNDING_GAP, PROJECT};
use crate::engine::calc::{Expr, FlowKind, RowId, Unit, and, eq, if_, lt, or, pos};
use crate::model::key::{InputKey, TrancheField};

impl Builder<'_> {
    /// Lock-up test: distributions stop in operations (but the last year) while a loan is
    /// in arrears or a tested DSCR is below its lock-up.
    pub(super) fn lock_up(&mut self) -> Result<(), BuildError> {
        self.c.section("Distributions");
        let deal = self.deal;
        let ops = Expr::Row(self.t.ops);
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
        self.fin.locked = Some(locked);
        Ok(())
    }

    /// The cash `available` at the end of the waterfall: distributed to equity unless
    /// locked up, a deficit met by equity; what stays is the project's cash.
    pub(super) fn distribute(&mut self, available: RowId) -> Result<(), BuildError> {
        let ops = Expr::Row(self.t.ops);
        let locked = self
            .fin
            .locked
            .ok_or_else(|| BuildError("distributions before the lock-up test".into()))?;
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
        self.place_cash(available, distribution)?;
        self.fin.distribution = Some(distribution);
        self.fin.deficit_support = Some(support);
        self.book_equity_flows(distribution, support)?;
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

    /// The project's cash account: in development what the funding left, in operations
    /// what the waterfall left after distributions.
    fn place_cash(&mut self, available: RowId, distribution: RowId) -> Result<(), BuildError> {
        let dev = Expr::Row(self.t.dev);
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
        self.lines.cash = Some(cash);
        Ok(())
    }

    /// Distributions and deficit support split between the equity tranches by
    /// shareholding, each booked to its participants.
    fn book_equity_flows(&mut self, distribution: RowId, support: RowId) -> Result<(), BuildError> {
        let deal = self.deal;
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
        Ok(())
    }
}
