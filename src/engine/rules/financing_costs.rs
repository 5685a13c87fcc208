//! Financing costs: each loan's interest and fees, each guarantee's fee on what it covers,
//! and the accounts (balances, drawn to date, calls) that rows built before them read in
//! their previous period, reserved here so that every stage can refer to them.

use super::financing::TrancheRows;
use super::{BuildError, Builder};
use crate::engine::calc::{Expr, Unit, min2, pos, sum};
use crate::model::key::{InputKey, TrancheField};
use crate::model::{GuaranteeKind, TrancheKind};

impl Builder<'_> {
    /// Interest, fees and the accounts other rows refer to in their previous period.
    pub(super) fn build_financing_costs(&mut self) -> Result<(), BuildError> {
        self.c.section("Financing costs");
        let deal = self.deal;
        self.fin.tranches = vec![TrancheRows::default(); deal.tranches.len()];
        self.fin.cash = Some(
            self.c
                .reserve("Project cash (unrestricted and trapped)", Unit::Money),
        );
        for i in 0..deal.tranches.len() {
            self.reserve_accounts(i);
        }
        for (i, t) in deal.tranches.iter().enumerate() {
            if t.kind.value.is_loan() {
                self.loan_interest(i);
                self.loan_fees(i);
            }
        }
        for (i, t) in deal.tranches.iter().enumerate() {
            if t.kind.value == TrancheKind::Guarantee {
                self.guarantee_fee(i)?;
            }
        }
        Ok(())
    }

    /// Tranche `i`'s accounts, reserved before their formulas are known: drawn to date,
    /// overrun equity to date, a loan's balances, a guarantee's calls and claim.
    fn reserve_accounts(&mut self, i: usize) {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let kind = t.kind.value;
        if kind.is_funding() {
            self.fin.tranches[i].drawn = Some(
                self.c
                    .reserve(format!("{name}: drawn to date"), Unit::Money),
            );
        }
        if kind == TrancheKind::Equity && !t.overrun_cap.value.is_zero() {
            self.fin.tranches[i].overrun_total = Some(
                self.c
                    .reserve(format!("{name}: overrun equity to date"), Unit::Money),
            );
        }
        if kind.is_loan() {
            self.reserve_loan_accounts(i);
        }
        if kind == TrancheKind::Guarantee {
            self.fin.tranches[i].calls = Some(
                self.c
                    .reserve(format!("{name}: calls to date"), Unit::Money),
            );
            if t.guarantee_kind.value == GuaranteeKind::DebtService {
                self.fin.tranches[i].claim = Some(self.c.reserve(
                    format!("{name}: claim on the loan from its calls (subrogation)"),
                    Unit::Money,
                ));
            }
        }
    }

    /// Loan `i`'s balances: principal, arrears, the balance at the start of operations,
    /// its DSRA, and whether it is in default.
    fn reserve_loan_accounts(&mut self, i: usize) {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let r = &mut self.fin.tranches[i];
        r.principal = Some(
            self.c
                .reserve(format!("{name}: principal balance"), Unit::Money),
        );
        r.arrears_interest = Some(
            self.c
                .reserve(format!("{name}: interest in arrears"), Unit::Money),
        );
        r.arrears_principal = Some(
            self.c
                .reserve(format!("{name}: principal in arrears"), Unit::Money),
        );
        r.start_balance = Some(self.c.reserve(
            format!("{name}: balance at the start of operations"),
            Unit::Money,
        ));
        if !t.dsra_months.value.is_zero() {
            r.dsra = Some(self.c.reserve(format!("{name}: DSRA balance"), Unit::Money));
        }
        r.defaulted = Some(self.c.reserve(
            format!("{name}: in default (since its first missed payment)"),
            Unit::Flag,
        ));
    }

    /// Loan `i`'s interest on what it owed at the start of the year (principal and
    /// arrears), plus its default margin on the arrears, and the part capitalised in
    /// development when the loan says so.
    fn loan_interest(&mut self, i: usize) {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let r = self.rows(i).clone();
        let opening = Self::prev_of(r.principal)
            + Self::prev_of(r.arrears_interest)
            + Self::prev_of(r.arrears_principal);
        let rate = self.input(
            t.interest_rate.value,
            InputKey::Tranche(i, TrancheField::InterestRate),
        );
        let mut due = rate * opening;
        // Without a margin the formula stays the rate on the balance.
        if !t.default_margin.value.is_zero() {
            let margin = self.input(
                t.default_margin.value,
                InputKey::Tranche(i, TrancheField::DefaultMargin),
            );
            let arrears = Self::prev_of(r.arrears_interest) + Self::prev_of(r.arrears_principal);
            due = due + margin * arrears;
        }
        let interest = self
            .c
            .row(format!("{name}: interest"), Unit::Money, self.book(due));
        self.fin.tranches[i].interest = Some(interest);
        self.fin.financing_costs.push(interest);
        if t.capitalise_interest.value {
            let cap = self.c.row(
                format!("{name}: interest capitalised"),
                Unit::Money,
                Expr::Row(interest) * Expr::Row(self.t.dev),
            );
            self.fin.tranches[i].capitalised = Some(cap);
        }
    }

    /// Loan `i`'s upfront fee on its commitment at financial close, and its commitment fee
    /// on what is undrawn while it can be drawn.
    fn loan_fees(&mut self, i: usize) {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let r = self.rows(i).clone();
        let commitment = self.input(
            t.commitment.value,
            InputKey::Tranche(i, TrancheField::Commitment),
        );
        let upfront = self.input(
            t.upfront_fee.value,
            InputKey::Tranche(i, TrancheField::UpfrontFee),
        );
        let upfront = self.c.row(
            format!("{name}: upfront fee"),
            Unit::Money,
            self.book(upfront * commitment.clone() * Expr::Row(self.t.fc_flag)),
        );
        let fee_rate = self.input(
            t.commitment_fee.value,
            InputKey::Tranche(i, TrancheField::CommitmentFee),
        );
        let undrawn = pos(commitment - Self::prev_of(r.drawn));
        let commitment_fee = self.c.row(
            format!("{name}: commitment fee"),
            Unit::Money,
            self.book(fee_rate * undrawn * Expr::Row(self.t.debt_available)),
        );
        self.fin.tranches[i].upfront_fee = Some(upfront);
        self.fin.tranches[i].commitment_fee = Some(commitment_fee);
        self.fin.financing_costs.push(upfront);
        self.fin.financing_costs.push(commitment_fee);
    }

    /// Guarantee `i`'s fee: its rate on the exposure it covers of its loan this year.
    fn guarantee_fee(&mut self, i: usize) -> Result<(), BuildError> {
        let t = &self.deal.tranches[i];
        let name = t.name.value.clone();
        let k = self.covered_tranche(t)?;
        let rk = self.rows(k).clone();
        let opening = Self::prev_of(rk.principal)
            + Self::prev_of(rk.arrears_interest)
            + Self::prev_of(rk.arrears_principal);
        let exposure = self.guaranteed_exposure(i, k, opening);
        let exposure = self.c.row(
            format!("{name}: guaranteed exposure"),
            Unit::Money,
            self.book(exposure),
        );
        let fee_rate = self.input(
            t.commitment_fee.value,
            InputKey::Tranche(i, TrancheField::CommitmentFee),
        );
        let fee = self.c.row(
            format!("{name}: guarantee fee due"),
            Unit::Money,
            self.book(fee_rate * Expr::Row(exposure)),
        );
        self.fin.tranches[i].exposure = Some(exposure);
        self.fin.tranches[i].guarantee_fee = Some(fee);
        self.fin.financing_costs.push(fee);
        Ok(())
    }

    /// What guarantee `i` covers of loan `k` this year (its fee base and its guarantors'
    /// contingent liability): a debt-service guarantee, what the lenders are still owed up
    /// to what is left of its cap; a loss guarantee, the loan until it defaults, when it is
    /// called once (its call reads the whole-run LGD, so its cap cannot depend on it).
    fn guaranteed_exposure(&mut self, i: usize, k: usize, opening: Expr) -> Expr {
        let t = &self.deal.tranches[i];
        let cap = self.input(
            t.commitment.value,
            InputKey::Tranche(i, TrancheField::Commitment),
        );
        let coverage = self.input(
            t.coverage.value,
            InputKey::Tranche(i, TrancheField::Coverage),
        );
        match t.guarantee_kind.value {
            GuaranteeKind::DebtService => {
                let claims: Vec<Expr> = self.claims_on(k).into_iter().map(Expr::Prev).collect();
                let remaining = pos(cap - Self::prev_of(self.rows(i).calls));
                min2(remaining, coverage * pos(opening - sum(claims)))
            }
            GuaranteeKind::Loss => {
                let defaulted = Self::prev_of(self.rows(k).defaulted);
                (Expr::one() - defaulted) * min2(cap, coverage * opening)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use crate::engine::run;
    use crate::engine::tests::{defaulting_bullet, row};
    use crate::model::{Scenario, Sourced};

    /// The defaulting bullet of `engine/tests.rs` (100,000 at 10%, half of 2033's interest
    /// missed): without a margin, 2034 charges 10% of 105,000 and 2035 10% of the 35,500 of
    /// principal still in arrears. With a 2% default margin, 2034 adds 2% of the 5,000 of
    /// interest in arrears (10,600), so 2034's 80,000 of cash repays 64,400 of principal and
    /// 2035 charges 12% of the 35,600 left in arrears (4,272).
    #[test]
    fn a_default_margin_charges_its_rate_on_the_arrears_only() {
        let years = |r: &crate::engine::Results| row(r, "Senior: interest")[3..6].to_vec();
        let plain = defaulting_bullet(["100", "46.95"]);
        let r = run(&plain, &Scenario::base()).expect("runs");
        assert!(r.all_checks_pass(), "{:?}", r.checks);
        assert_eq!(years(&r), [dec!(10000), dec!(10500), dec!(3550)]);

        let mut deal = plain.clone();
        deal.tranches[1].default_margin = Sourced::bare(dec!(0.02));
        let r = run(&deal, &Scenario::base()).expect("runs");
        assert!(r.all_checks_pass(), "{:?}", r.checks);
        assert_eq!(years(&r), [dec!(10000), dec!(10600), dec!(4272)]);
        assert_eq!(
            row(&r, "Senior: recoveries after default")[4..6],
            [dec!(80000), dec!(26950)]
        );
    }
}
