//! Cover ratios: each loan's DSCR on the debt service of its rank and every rank above it.

use std::collections::BTreeMap;

use super::{BuildError, Builder};
use crate::engine::calc::{EPS, Expr, RowId, Unit, and, div, gt, if_, le, sum};
use crate::model::key::{InputKey, TrancheField};

impl Builder<'_> {
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

    /// Each loan's DSCR: CFADS over the scheduled debt service of its rank and every rank
    /// above it.
    pub(super) fn build_cover_ratios(&mut self, loans: &[usize]) -> Result<(), BuildError> {
        self.c.section("Cover ratios");
        let ops = Expr::Row(self.t.ops);
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
            if let Some(&(service, open)) = totals.get(&self.rank_key(i)) {
                self.dscr(i, service, open);
            }
        }
        Ok(())
    }

    /// Loan `i`'s DSCR: CFADS over `service`, the scheduled debt service of its rank and
    /// the ranks above it (`open`: their debt at the start of the year), where tested; and
    /// its lock-up covenant as a row.
    fn dscr(&mut self, i: usize, service: RowId, open: RowId) {
        let ops = Expr::Row(self.t.ops);
        let cfads = Self::row_of(self.fin.cfads);
        let name = self.deal.tranches[i].name.value.clone();
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
            let covenant = self
                .c
                .row(format!("{name}: lock-up DSCR covenant"), Unit::Ratio, ratio);
            self.fin.tranches[i].covenant = Some(covenant);
        }
        let t = &mut self.fin.tranches[i];
        t.cumulative_service = Some(cumulative);
        t.senior_debt_open = Some(open);
        t.tested = Some(tested);
        t.dscr = Some(dscr);
    }
}
