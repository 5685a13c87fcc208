//! Repayment schedules: the repayment years of a loan and the principal scheduled in each
//! (straight-line, bullet, annuity, or a sculpted profile solved on the base case).

use super::Builder;
use crate::engine::calc::{EPS, Expr, and, div, eq, ge, if_, le, max2, min2, pow};
use crate::model::Repayment;
use crate::model::key::{InputKey, TrancheField};

impl Builder<'_> {
    /// Repayment years of a loan: the year index j (1 = first repayment year) as an
    /// expression of the operating year, and the number of repayment years n.
    pub(super) fn repayment_index(&mut self, i: usize, offset: i64) -> (Expr, Expr) {
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
    pub(super) fn scheduled(
        &mut self,
        i: usize,
        j: Expr,
        n: Expr,
        balance: Expr,
        start: Expr,
    ) -> Expr {
        let fraction = self.schedule_fraction(i, j.clone(), n.clone());
        let within = and(vec![ge(j.clone(), Expr::one()), le(j.clone(), n.clone())]);
        let amount = self.book(fraction * start);
        if_(
            within,
            if_(eq(j, n), balance.clone(), min2(balance, amount)),
            Expr::zero(),
        )
    }

    pub(super) fn sculpting_now(&self, i: usize) -> bool {
        self.deal.tranches[i].repayment.value == Repayment::Sculpted
            && !self.sculpt.profiles.contains_key(&i)
    }
}
