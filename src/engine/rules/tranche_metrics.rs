//! Each tranche's measures: minimum and average DSCR, LLCR at first repayment, what a loan
//! disbursed, its loss given default and first year in arrears, a guarantee's calls.

use super::{BuildError, Builder, TrancheLines};
use crate::engine::calc::{
    EPS, Expr, RowId, ScalarId, Stage, Unit, and, div, ge, gt, if_, le, or, pow,
};
use crate::model::key::{InputKey, TrancheField};

impl Builder<'_> {
    /// Each tranche's measures, in deal order.
    pub(super) fn build_tranche_metrics(&mut self) -> Result<(), BuildError> {
        self.c.section("Tranche metrics");
        for i in 0..self.deal.tranches.len() {
            let lines = self.tranche_metrics(i);
            self.lines.tranches.push(lines);
        }
        Ok(())
    }

    /// Tranche `i`'s measures: its cover ratios, and for a loan what it disbursed, its loss
    /// given default and its first year in arrears; for a guarantee, its calls.
    fn tranche_metrics(&mut self, i: usize) -> TrancheLines {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let r = self.fin.tranches[i].clone();
        let mut lines = TrancheLines {
            tranche: i,
            balance: r.outstanding.or(r.drawn).or(r.exposure),
            draws: r.draws,
            dscr_min: None,
            dscr_avg: None,
            dscr: r.dscr,
            covenant: r.covenant,
            llcr: None,
            loss: None,
            loss_pct: None,
            loss_after_guarantee: None,
            default_year: None,
            exposure_at_default: None,
            recoveries_pv: None,
            shortfall: None,
            first_arrears_year: None,
            disbursed: None,
            calls: None,
        };
        if let (Some(dscr), Some(tested)) = (r.dscr, r.tested) {
            lines.dscr_min = Some(self.c.scalar(
                format!("{name}: minimum DSCR"),
                Unit::Ratio,
                Expr::RowMinWhere(dscr, tested),
                Stage::Post,
            ));
            lines.dscr_avg = Some(self.c.scalar(
                format!("{name}: average DSCR"),
                Unit::Ratio,
                Expr::RowAvgWhere(dscr, tested),
                Stage::Post,
            ));
        }
        if t.kind.value.is_loan() {
            self.loan_metrics(i, &r, &mut lines);
        }
        if let Some(call) = r.call {
            lines.calls = Some(self.c.scalar(
                format!("{name}: guarantee calls"),
                Unit::Money,
                Expr::RowSum(call),
                Stage::Post,
            ));
        }
        lines
    }

    /// A loan's measures: what it disbursed, its loss given default, its first year in
    /// arrears and its LLCR.
    fn loan_metrics(
        &mut self,
        i: usize,
        r: &super::financing::TrancheRows,
        lines: &mut TrancheLines,
    ) {
        let name = self.deal.tranches[i].name.value.clone();
        let disbursed = Expr::RowSum(r.draws.unwrap_or_default())
            + r.capitalised.map(Expr::RowSum).unwrap_or_else(Expr::zero);
        let disbursed = self.c.scalar(
            format!("{name}: disbursed (drawn and capitalised)"),
            Unit::Money,
            disbursed,
            Stage::Post,
        );
        if let Some(loss) = r.loss {
            lines.loss = Some(loss.lgd);
            lines.loss_pct = Some(loss.lgd_pct);
            lines.loss_after_guarantee = Some(loss.after_guarantees);
            lines.default_year = Some(loss.default_year);
            lines.exposure_at_default = Some(loss.ead);
            lines.recoveries_pv = Some(loss.pv_recoveries);
            lines.shortfall = Some(loss.shortfall);
        }
        lines.disbursed = Some(disbursed);
        if let Some(a) = r.in_arrears {
            lines.first_arrears_year = Some(self.c.scalar(
                format!("{name}: first year in arrears"),
                Unit::Year,
                Expr::FirstYearWhere(a),
                Stage::Post,
            ));
        }
        if let (Some(cfads), Some(open)) = (self.fin.cfads, r.senior_debt_open) {
            lines.llcr = Some(self.llcr(i, cfads, open));
        }
    }

    /// LLCR at the first repayment year: CFADS over the loan's remaining life, discounted at
    /// its rate, over the debt of its rank and above then.
    fn llcr(&mut self, i: usize, cfads: RowId, open: RowId) -> ScalarId {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let rate = self.input(
            t.interest_rate.value,
            InputKey::Tranche(i, TrancheField::InterestRate),
        );
        let grace = self.input(
            t.grace_years.value.into(),
            InputKey::Tranche(i, TrancheField::Grace),
        );
        let tenor = self.input(
            t.tenor_years.value.into(),
            InputKey::Tranche(i, TrancheField::Tenor),
        );
        let first = self.t.cod.clone() + grace;
        let maturity = self.t.cod.clone() + tenor - Expr::one();
        let life = self.c.row(
            format!("{name}: CFADS over the loan life from first repayment"),
            Unit::Money,
            Expr::Row(cfads)
                * and(vec![
                    ge(Expr::Year, first.clone()),
                    le(Expr::Year, maturity),
                ]),
        );
        let k = first - Expr::FirstYear + Expr::one();
        let debt = Expr::RowAt(open, Box::new(k.clone()));
        let value = Expr::Npv(Box::new(rate.clone()), life)
            * pow(Expr::one() + rate, k.clone() - Expr::one());
        let periods = Expr::num(self.c.periods as u64);
        let llcr = if_(
            or(vec![gt(k, periods), le(debt.clone(), Expr::Num(EPS))]),
            Expr::Na,
            div(value, debt),
        );
        self.c.scalar(
            format!("{name}: LLCR at first repayment"),
            Unit::Ratio,
            llcr,
            Stage::Post,
        )
    }
}
