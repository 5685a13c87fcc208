//! The project's measures: unlevered NPV and IRR before and after tax, the risked NPV over
//! the stage gates, and the totals of what it needed beyond its debt (unfunded gap,
//! completion support, equity support, overrun equity).

use rust_decimal::Decimal;

use super::ledger::Discount;
use super::{BuildError, Builder};
use crate::engine::calc::{Expr, RowId, Stage, Unit, if_, lt, pow, sum};
use crate::model::Phase;
use crate::model::key::{FacilityField, InputKey};

impl Builder<'_> {
    /// The project's unlevered NPV and IRR before and after tax, its risked NPV, and the
    /// totals of what it needed beyond its debt.
    pub(super) fn build_project_metrics(&mut self, discount: &Discount) -> Result<(), BuildError> {
        self.c.section("Project metrics");
        let (Some(pre), Some(post)) = (self.lines.project.pre_tax, self.lines.project.post_tax)
        else {
            return Err(BuildError("project cash flows missing".into()));
        };
        let guess = Box::new(Expr::num(Decimal::new(1, 1)));
        self.lines.project.npv_pre_tax = Some(self.c.scalar(
            "Project: unlevered NPV before tax",
            Unit::Money,
            self.npv_of(discount, pre),
            Stage::Post,
        ));
        self.lines.project.irr_pre_tax = Some(self.c.scalar(
            "Project: unlevered IRR before tax",
            Unit::Percent,
            Expr::Irr(pre, guess.clone()),
            Stage::Post,
        ));
        let npv_post = self.c.scalar(
            "Project: unlevered NPV after tax",
            Unit::Money,
            self.npv_of(discount, post),
            Stage::Post,
        );
        self.lines.project.npv_post_tax = Some(npv_post);
        self.lines.project.irr_post_tax = Some(self.c.scalar(
            "Project: unlevered IRR after tax",
            Unit::Percent,
            Expr::Irr(post, guess),
            Stage::Post,
        ));

        // Risked NPV: the value reached at each stage gate, weighted by the chance of
        // failing exactly there; the full NPV weighted by the chance of passing them all.
        let factor = self.project_discount_factor(discount);
        let cumulative = self.c.reserve(
            "Project: cumulative unlevered cash flow after tax",
            Unit::Money,
        );
        self.c
            .place(cumulative, Expr::Prev(cumulative) + Expr::Row(post));
        self.lines.project.cumulative = Some(cumulative);
        let cumulative_pv = self.c.reserve(
            "Project: cumulative discounted cash flow after tax",
            Unit::Money,
        );
        self.c.place(
            cumulative_pv,
            Expr::Prev(cumulative_pv) + Expr::Row(post) * Expr::Row(factor),
        );
        self.lines.project.risked_npv = Some(self.build_risked_npv(cumulative_pv, npv_post));
        self.build_project_support_totals();
        Ok(())
    }

    /// The project's discount factor of each period: from its one rate (mid-year where the
    /// deal says so), or its schedule's factors.
    fn project_discount_factor(&mut self, discount: &Discount) -> RowId {
        match discount {
            Discount::Flat(rate) => {
                let df = pow(
                    Expr::one() + rate.clone(),
                    -(Expr::Year - Expr::FirstYear + Expr::one()),
                );
                let df = if self.mid_year() {
                    df * Expr::Sqrt(Box::new(Expr::one() + rate.clone()))
                } else {
                    df
                };
                self.c.row("Project: discount factor", Unit::Ratio, df)
            }
            Discount::Schedule { factors, .. } => *factors,
        }
    }

    /// The horizon's totals of what the project needed beyond its debt: the unfunded gap,
    /// the sponsors' completion support, equity support for deficits, overrun equity.
    fn build_project_support_totals(&mut self) {
        let total = |b: &mut Self, row: Option<RowId>, label: &str| {
            row.map(|r| b.c.scalar(label, Unit::Money, Expr::RowSum(r), Stage::Post))
        };
        self.lines.project.funding_gap = total(self, self.fin.dev_gap, "Project: unfunded gap");
        self.lines.project.completion_support = total(
            self,
            self.fin.completion_support,
            "Project: sponsors' completion support",
        );
        self.lines.project.deficit_support = total(
            self,
            self.fin.deficit_support,
            "Project: equity support for cash deficits",
        );
        let overrun: Vec<Expr> = self
            .fin
            .tranches
            .iter()
            .filter_map(|t| t.overrun)
            .map(Expr::RowSum)
            .collect();
        self.lines.project.overrun_equity = Some(self.c.scalar(
            "Project: sponsors' overrun equity",
            Unit::Money,
            sum(overrun),
            Stage::Post,
        ));
    }

    /// Risked NPV: the value reached at each stage gate (the cumulative discounted cash flow
    /// then), weighted by the chance of failing exactly there; the full NPV weighted by the
    /// chance of passing them all.
    fn build_risked_npv(
        &mut self,
        cumulative_pv: RowId,
        npv_post: crate::engine::calc::ScalarId,
    ) -> crate::engine::calc::ScalarId {
        let mut gates = Vec::new();
        for (i, f) in self.deal.facilities.iter().enumerate() {
            let tl = &self.t.facilities[i];
            for (phase, probability) in f.gates.in_order() {
                let next = crate::engine::rules::timeline::phase_index(phase) + 1;
                let gate_year = tl.starts[next].clone() - Expr::one();
                let field = FacilityField::gate(phase);
                let base_year = self.base_gate_year(i, phase);
                gates.push((base_year, i, next, gate_year, probability.value, field));
            }
        }
        gates.sort_by_key(|(y, i, next, ..)| (*y, *i, *next));
        // One line per gate for the value lost by failing there and one for the chance of
        // passing it (the chance before it times its probability), so that the workbook
        // grows linearly with the gates; a single formula held a product of every earlier
        // probability in every term and grew with their square. The multiplications happen
        // in the same order as in that formula.
        let mut reach = Expr::one();
        let mut terms = Vec::new();
        for (_, i, _, gate_year, p, field) in gates {
            let facility = self.deal.facilities[i].name.value.clone();
            let gate = field.gate_phase().map_or("", |p| p.label());
            let p = self.input(p, InputKey::Facility(i, field));
            let index = gate_year.clone() - Expr::FirstYear + Expr::one();
            let value = if_(
                lt(gate_year, Expr::FirstYear),
                Expr::zero(),
                Expr::RowAt(cumulative_pv, Box::new(index)),
            );
            let lost = self.c.scalar(
                format!("Project: value if '{facility}' fails at {gate}, times its chance"),
                Unit::Money,
                reach.clone() * (Expr::one() - p.clone()) * value,
                Stage::Post,
            );
            terms.push(Expr::Scalar(lost));
            let passed = self.c.scalar(
                format!("Project: chance of passing every gate to '{facility}' {gate}"),
                Unit::Percent,
                reach * p,
                Stage::Post,
            );
            reach = Expr::Scalar(passed);
        }
        let all = self.c.scalar(
            "Project: NPV after tax if every gate is passed, times its chance",
            Unit::Money,
            reach * Expr::Scalar(npv_post),
            Stage::Post,
        );
        terms.push(Expr::Scalar(all));
        self.c.sum_scalar(
            "Project: risked NPV (stage gates)",
            Unit::Money,
            terms,
            Stage::Post,
        )
    }

    /// The base-case year of a stage gate, used only to order gates.
    fn base_gate_year(&self, i: usize, phase: Phase) -> i32 {
        let f = &self.deal.facilities[i];
        let mut year = f.start_year.value;
        for p in Phase::SCHEDULED {
            year += f.phase_years(p) as i32;
            if p == phase {
                break;
            }
        }
        year - 1
    }
}
