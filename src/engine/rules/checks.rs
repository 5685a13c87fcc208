//! The checks every run must pass: the ledger balances, the project's cash never goes
//! negative and moves by its net cash flow, sources equal uses in development, each
//! tranche's balance and DSRA corkscrews. Each check is a row that must stay within half a
//! unit of the ledger of zero (or never go below it).

use rust_decimal::Decimal;

use super::{BuildError, Builder, CheckLine, PROJECT};
use crate::engine::calc::{
    Expr, RowId, ScalarId, Stage, Unit, abs, eq, le, max2, pos, pow, safe_div, sum,
};

impl Builder<'_> {
    /// How far from zero a check's row may be: half a unit of the ledger (half a cent).
    /// Every row a check reads is a whole number of units in exact arithmetic, so in the
    /// engine this demands exactly zero; the half unit is only room for a recomputation of
    /// the workbook in floating point, which leaves far less.
    pub(super) fn check_tolerance(&self) -> Expr {
        Expr::num(Decimal::new(5, 1)) * pow(Expr::num(10), -self.ledger_digits.clone())
    }

    /// A check on a row that must stay within tolerance of zero in every period.
    pub(super) fn zero_check(&mut self, name: String, row: RowId) {
        let deviation = self.c.scalar(
            format!("{name}: largest deviation"),
            Unit::Money,
            max2(abs(Expr::RowMax(row)), abs(Expr::RowMin(row))),
            Stage::Post,
        );
        self.holds_within_tolerance(name, deviation);
    }

    /// Records check `name` as holding when its `deviation` is within the checks' tolerance.
    fn holds_within_tolerance(&mut self, name: String, deviation: ScalarId) {
        let ok = self.c.scalar(
            format!("{name}: holds"),
            Unit::Flag,
            le(Expr::Scalar(deviation), self.check_tolerance()),
            Stage::Post,
        );
        self.lines.checks.push(CheckLine {
            name,
            ok,
            deviation,
        });
    }

    /// A check that a row never goes below zero.
    fn non_negative_check(&mut self, name: String, row: RowId) {
        let deviation = self.c.scalar(
            format!("{name}: largest shortfall"),
            Unit::Money,
            pos(-Expr::RowMin(row)),
            Stage::Post,
        );
        self.holds_within_tolerance(name, deviation);
    }

    /// Every run's checks: the ledger and the project's cash, sources and uses, each
    /// tranche's corkscrews, and that an unpriced facility's output all goes to its plants.
    pub(super) fn build_checks(&mut self) -> Result<(), BuildError> {
        self.c.section("Checks");
        let cash = self.ledger_and_cash_checks()?;
        self.sources_and_uses_check(cash);
        for i in 0..self.deal.tranches.len() {
            self.tranche_checks(i);
        }
        self.output_checks();
        let _ = (
            eq(Expr::zero(), Expr::zero()),
            safe_div(Expr::zero(), Expr::one(), Expr::zero()),
        );
        Ok(())
    }

    /// The ledger balances in every period; the project's cash never goes negative, and its
    /// cash and reserves move by its net cash flow. Returns the cash account.
    fn ledger_and_cash_checks(&mut self) -> Result<RowId, BuildError> {
        let nets: Vec<Expr> = self.party_nets.iter().map(|r| Expr::Row(*r)).collect();
        let ledger = self.c.row(
            "Ledger: sum of every party's net cash flow",
            Unit::Money,
            sum(nets),
        );
        self.zero_check("The ledger balances in every period".into(), ledger);

        let cash = self
            .fin
            .cash
            .ok_or_else(|| BuildError("cash account missing".into()))?;
        let dsras: Vec<RowId> = self.fin.tranches.iter().filter_map(|t| t.dsra).collect();
        let accounts = self.c.row(
            "Project cash and reserves",
            Unit::Money,
            Expr::Row(cash) + sum(dsras.iter().map(|r| Expr::Row(*r)).collect()),
        );
        self.non_negative_check("The project's cash never goes negative".into(), cash);
        let corkscrew =
            Expr::Prev(accounts) + Expr::Row(self.party_nets[PROJECT]) - Expr::Row(accounts);
        let corkscrew = self.c.row(
            "Project accounts: opening + net cash flow − closing",
            Unit::Money,
            corkscrew,
        );
        self.zero_check(
            "The project's cash and reserves move by its net cash flow".into(),
            corkscrew,
        );
        Ok(cash)
    }

    /// Sources equal uses in development (the change in cash aside); without completion
    /// support, no unfunded gap either.
    fn sources_and_uses_check(&mut self, cash: RowId) {
        let dev = Expr::Row(self.t.dev);
        let mut uses = vec![
            -Self::row_of_opt(self.fin.cash_flow),
            Self::row_of_opt(self.fin.fees_dev),
            Self::row_of_opt(self.fin.dsra_init_total),
        ];
        let mut capitalised = Vec::new();
        for t in &self.fin.tranches {
            if let Some(i) = t.interest {
                uses.push(Expr::Row(i));
            }
            if let Some(c) = t.capitalised {
                capitalised.push(Expr::Row(c));
            }
        }
        let uses = self.c.row(
            "Uses in development (net costs, fees, interest, initial DSRA)",
            Unit::Money,
            dev.clone() * sum(uses),
        );
        let sources = self.c.row(
            "Sources in development (drawdowns, capitalised interest, overrun equity, completion support, unfunded gap)",
            Unit::Money,
            dev.clone() * (Self::row_of_opt(self.dev_sources) + sum(capitalised)),
        );
        let difference = self.c.row(
            "Sources − uses − change in cash (development)",
            Unit::Money,
            Expr::Row(sources) - Expr::Row(uses) - dev * (Expr::Row(cash) - Expr::Prev(cash)),
        );
        self.zero_check("Sources equal uses".into(), difference);
        if self.fin.completion_support.is_none()
            && let Some(gap) = self.fin.dev_gap
        {
            self.zero_check(
                "No unfunded gap in development (the deal has no completion support)".into(),
                gap,
            );
        }
    }

    /// Tranche `i`'s balance and DSRA corkscrews, and a balance that never goes negative.
    fn tranche_checks(&mut self, i: usize) {
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.fin.tranches[i].clone();
        if let Some(out) = r.outstanding {
            let expr = Expr::Prev(out) + Self::row_of_opt(r.draws) + Self::row_of_opt(r.interest)
                - Self::row_of_opt(r.interest_paid)
                - Self::row_of_opt(r.principal_paid)
                - Self::row_of_opt(r.write_off)
                - Expr::Row(out);
            let row = self.c.row(
                format!("{name}: opening + draws + interest − paid − written off − closing"),
                Unit::Money,
                expr,
            );
            self.zero_check(format!("{name}: balance corkscrew"), row);
            if let Some(p) = r.principal {
                self.non_negative_check(format!("{name}: balance never negative"), p);
            }
        }
        if let Some(dsra) = r.dsra {
            let expr =
                Expr::Prev(dsra) + Self::row_of_opt(r.dsra_init) + Self::row_of_opt(r.dsra_topup)
                    - Self::row_of_opt(r.dsra_draw)
                    - Self::row_of_opt(r.dsra_release)
                    - Expr::Row(dsra);
            let row = self.c.row(
                format!("{name}: DSRA opening + funding − draws − releases − closing"),
                Unit::Money,
                expr,
            );
            self.zero_check(format!("{name}: DSRA corkscrew"), row);
        }
    }

    /// A row's value, or 0 where there is no such row.
    fn row_of_opt(r: Option<RowId>) -> Expr {
        r.map(Expr::Row).unwrap_or_else(Expr::zero)
    }
}
