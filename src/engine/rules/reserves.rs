//! Debt service reserve accounts (DSRA): funded in the last development year, drawn when
//! cash does not meet a loan's debt service, topped up to the next year's debt service (its
//! months of it) from the cash its rank leaves, released above it.

use super::funding::Draws;
use super::{BuildError, Builder, EventKind, EventSource};
use crate::engine::calc::{Expr, RowId, Unit, div, if_, min2, pos, sum};
use crate::model::key::{InputKey, TrancheField};

impl Builder<'_> {
    /// The initial DSRA, sized on the debt drawn for costs (the first operating year's
    /// top-up brings it to the exact target). Returns its total over the loans.
    pub(super) fn initial_dsra(&mut self, draws: &Draws) -> RowId {
        let mut inits = Vec::new();
        for i in 0..self.deal.tranches.len() {
            if self.rows(i).dsra.is_some() {
                let init = self.initial_dsra_of(i, draws);
                self.fin.tranches[i].dsra_init = Some(init);
                inits.push(Expr::Row(init));
            }
        }
        self.c.row("Initial DSRA funding", Unit::Money, sum(inits))
    }

    /// Loan `i`'s initial DSRA: its months of the first year's debt service on the balance
    /// after the draws for costs, in the last development year.
    fn initial_dsra_of(&mut self, i: usize, draws: &Draws) -> RowId {
        let t = &self.deal.tranches[i];
        let r = self.rows(i).clone();
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
            + draws
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
        self.c.row(
            format!("{}: initial DSRA funding", t.name.value),
            Unit::Money,
            self.book(
                Expr::Row(self.t.last_dev)
                    * div(months, Expr::num(12))
                    * (rate * Expr::Row(balance) + principal),
            ),
        )
    }

    /// Loan `i`'s DSRA pays what cash left unpaid of its interest and principal due
    /// (`due`), as far as it holds, interest first. Returns the interest and the principal
    /// paid.
    pub(super) fn draw_dsra(
        &mut self,
        i: usize,
        dsra: RowId,
        (di, dp): (Expr, Expr),
        pic: Expr,
        ppc: RowId,
    ) -> (RowId, RowId) {
        let ops = Expr::Row(self.t.ops);
        let name = self.deal.tranches[i].name.value.clone();
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

    /// Loan `i`'s DSRA against its target, its months of next year's debt service (none in
    /// the last year): returns the top-up needed, the release, and the balance after this
    /// year's draw.
    pub(super) fn dsra_need(&mut self, i: usize) -> Result<(RowId, RowId, RowId), BuildError> {
        let ops = Expr::Row(self.t.ops);
        let t = &self.deal.tranches[i];
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
        Ok((need, release, before))
    }

    /// Loan `i`'s DSRA after its top-up (`part` of what its rank funded) and release; the
    /// initial funding in development. Returns the top-up's row (the cash it takes).
    pub(super) fn place_dsra(
        &mut self,
        i: usize,
        part: Expr,
        release: RowId,
        before: RowId,
    ) -> Result<RowId, BuildError> {
        let dev = Expr::Row(self.t.dev);
        let name = self.deal.tranches[i].name.value.clone();
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
        Ok(topup)
    }
}
