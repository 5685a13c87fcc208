//! Fiscal terms per host country: depreciation of each year's capital cost from the later of
//! its year and first production,
//! company tax with losses carried forward, and the production tax credit (refunded in
//! cash, or set against tax with the rest carried forward). Tax is computed twice where
//! financing costs are deducted: as the project pays it, and unlevered (as if all equity)
//! for the project's unlevered post-tax value.

use super::{BuildError, Builder, PROJECT};
use crate::engine::calc::{
    Expr, FlowKind, RowId, Unit, and, div, ge, if_, le, max2, min2, pos, sum,
};
use crate::model::FiscalRegime;
use crate::model::key::{FiscalField, InputKey};

#[derive(Debug, Clone, Default)]
pub struct Fiscal {
    /// Ledger rows: tax paid, credits refunded.
    pub tax_paid: Vec<RowId>,
    pub refunds: Vec<RowId>,
    /// Unlevered equivalents (the same rows where no financing costs are deducted).
    pub tax_unlevered: Vec<RowId>,
    pub refunds_unlevered: Vec<RowId>,
}

/// The tax rows of one country, levered or not.
struct TaxRows {
    paid: RowId,
    refund: Option<RowId>,
}

impl Builder<'_> {
    /// Tax for each country with fiscal terms; the home country (the deal's tax home, else
    /// the first facility's) is where the financing costs are deducted.
    pub(super) fn build_fiscal(&mut self) -> Result<(), BuildError> {
        self.c.section("Royalties and tax");
        let deal = self.deal;
        let home = deal
            .tax_home_country
            .as_ref()
            .map(|c| c.value.clone())
            .or_else(|| deal.facilities.first().map(|f| f.country.value.clone()))
            .unwrap_or_default();
        for k in 0..deal.fiscal.len() {
            self.fiscal_regime(k, &home)?;
        }
        Ok(())
    }

    /// Country `k`'s company tax, on its facilities' income (the home country's also after
    /// the financing costs, and then unlevered as well), paid to its tax authority, and any
    /// credit refunded. A country with no facility is taxed only if it is the home country.
    fn fiscal_regime(&mut self, k: usize, home: &str) -> Result<(), BuildError> {
        let deal = self.deal;
        let regime = &deal.fiscal[k];
        let country = regime.country.value.clone();
        let facilities: Vec<usize> = deal
            .facilities
            .iter()
            .enumerate()
            .filter(|(_, f)| f.country.value == country)
            .map(|(i, _)| i)
            .collect();
        let is_home = country == home;
        if facilities.is_empty() && !is_home {
            return Ok(());
        }
        let life = self.input(
            regime.depreciation_years.value.into(),
            InputKey::Fiscal(k, FiscalField::Depreciation),
        );
        let operating_income = self.operating_income(&country, &facilities, life);
        let authority = self.party_index(&regime.tax_authority.value)?;
        let credit = self.production_tax_credit(k, regime, &facilities)?;
        let has_financing = is_home && !self.fin.financing_costs.is_empty();
        let variant = if has_financing { "unlevered" } else { "" };
        let unlevered = self.tax_chain(k, regime, &country, variant, operating_income, credit)?;
        let levered = if has_financing {
            let costs: Vec<Expr> = self
                .fin
                .financing_costs
                .iter()
                .map(|r| Expr::Row(*r))
                .collect();
            let income = self.c.row(
                format!("{country}: taxable income after financing costs"),
                Unit::Money,
                Expr::Row(operating_income) - sum(costs),
            );
            Some(self.tax_chain(k, regime, &country, "", income, credit)?)
        } else {
            None
        };
        self.book_tax(regime, &country, authority, unlevered, levered);
        Ok(())
    }

    /// Taxable income before financing costs: the facilities' sales, floor support and
    /// upside shared, less their costs as incurred, royalties and depreciation.
    fn operating_income(&mut self, country: &str, facilities: &[usize], life: Expr) -> RowId {
        let deal = self.deal;
        let mut income = Vec::new();
        for &i in facilities {
            let fname = deal.facilities[i].name.value.clone();
            let capital: Vec<Expr> = self.ops.capital[i].iter().map(|r| Expr::Row(*r)).collect();
            if !capital.is_empty() {
                let depreciation = self.depreciation(i, &fname, sum(capital), life.clone());
                income.push(-Expr::Row(depreciation));
            }
            if let Some(r) = self.ops.revenue[i] {
                income.push(Expr::Row(r));
            }
            for r in self.ops.support[i].clone() {
                income.push(Expr::Row(r));
            }
            for r in self.ops.upside[i].clone() {
                income.push(-Expr::Row(r));
            }
            for r in self.ops.operating[i]
                .clone()
                .into_iter()
                .chain(self.ops.expensed[i].clone())
            {
                income.push(-Expr::Row(r));
            }
            if let Some(r) = self.ops.royalty[i] {
                income.push(-Expr::Row(r));
            }
        }
        self.c.row(
            format!("{country}: taxable income before financing costs"),
            Unit::Money,
            sum(income),
        )
    }

    /// The ledger flows of a country's tax: paid to the authority, credits refunded by it
    /// (as levered where financing costs are deducted). The unlevered tax is the same flow
    /// where none are, else its own rows.
    fn book_tax(
        &mut self,
        regime: &FiscalRegime,
        country: &str,
        authority: usize,
        unlevered: TaxRows,
        levered: Option<TaxRows>,
    ) {
        let (paid, refund) = match &levered {
            Some(l) => (l.paid, l.refund),
            None => (unlevered.paid, unlevered.refund),
        };
        let paid_flow = self.flow(
            format!(
                "{country}: company tax paid to {}",
                regime.tax_authority.value
            ),
            Expr::Row(paid),
            PROJECT,
            authority,
            FlowKind::Tax,
        );
        self.fiscal.tax_paid.push(paid_flow);
        let refund_flow = refund.map(|r| {
            self.flow(
                format!(
                    "{country}: tax credit refunded by {}",
                    regime.tax_authority.value
                ),
                Expr::Row(r),
                authority,
                PROJECT,
                FlowKind::TaxCredit,
            )
        });
        self.fiscal.refunds.extend(refund_flow);
        match levered {
            Some(_) => {
                self.fiscal.tax_unlevered.push(unlevered.paid);
                self.fiscal.refunds_unlevered.extend(unlevered.refund);
            }
            None => {
                self.fiscal.tax_unlevered.push(paid_flow);
                self.fiscal.refunds_unlevered.extend(refund_flow);
            }
        }
    }

    /// Straight-line depreciation per vintage: each year's capital cost is written off in
    /// equal parts over the tax life from the later of its own year and the facility's first
    /// production (capital spent before production starts all at once in that year). The
    /// pool being written off gains each year's starting capital and loses what started a
    /// life ago; a life of 0 expenses capital as it starts.
    fn depreciation(&mut self, i: usize, fname: &str, capital: Expr, life: Expr) -> RowId {
        let capex = self
            .c
            .row(format!("{fname}: capital costs"), Unit::Money, capital);
        let book = self
            .c
            .reserve(format!("{fname}: tax book value"), Unit::Money);
        let started = self.t.facilities[i].producing_started;
        let starting = self.c.row(
            format!("{fname}: capital starting depreciation"),
            Unit::Money,
            Expr::Row(started)
                * (Expr::Row(capex) + (Expr::one() - Expr::Prev(started)) * Expr::Prev(book)),
        );
        let pool = self
            .c
            .reserve(format!("{fname}: capital being depreciated"), Unit::Money);
        let lag = Expr::Lag(starting, Box::new(max2(life.clone(), Expr::one())));
        self.c
            .place(pool, Expr::Prev(pool) + Expr::Row(starting) - lag);
        let exact = self.c.row(
            format!("{fname}: depreciation before rounding"),
            Unit::Money,
            if_(
                le(life.clone(), Expr::zero()),
                Expr::Row(starting),
                div(Expr::Row(pool), life),
            ),
        );
        let to_date = self.c.reserve(
            format!("{fname}: depreciation to date before rounding"),
            Unit::Money,
        );
        self.c
            .place(to_date, Expr::Prev(to_date) + Expr::Row(exact));
        // Claimed in whole units of the ledger, as the difference of the rounded running
        // total: each claim within a cent of the exact one, their sum exactly the capital
        // once it is written off, and the book value and taxable income whole cents (a tax
        // of exactly half a cent then rounds the same in a spreadsheet as here).
        let depreciation = self.c.row(
            format!("{fname}: depreciation"),
            Unit::Money,
            self.book(Expr::Row(to_date)) - self.book(Expr::Prev(to_date)),
        );
        self.c.place(
            book,
            Expr::Prev(book) + Expr::Row(capex) - Expr::Row(depreciation),
        );
        depreciation
    }

    /// The credit earned each year on eligible costs, if the country grants one.
    fn production_tax_credit(
        &mut self,
        k: usize,
        regime: &FiscalRegime,
        facilities: &[usize],
    ) -> Result<Option<(RowId, bool)>, BuildError> {
        let Some(ptc) = &regime.production_tax_credit else {
            return Ok(None);
        };
        let mut eligible = Vec::new();
        for &i in facilities {
            if !ptc
                .facility_kinds
                .value
                .contains(&self.deal.facilities[i].kind.value)
            {
                continue;
            }
            for (category, row) in &self.ops.by_category[i] {
                if ptc.categories.value.contains(category) {
                    eligible.push(Expr::Row(*row));
                }
            }
        }
        if eligible.is_empty() {
            return Ok(None);
        }
        let country = regime.country.value.clone();
        let rate = self.input(ptc.rate.value, InputKey::Fiscal(k, FiscalField::PtcRate));
        let first = self.input(
            ptc.first_year.value.into(),
            InputKey::Fiscal(k, FiscalField::PtcFirstYear),
        );
        let last = self.input(
            ptc.last_year.value.into(),
            InputKey::Fiscal(k, FiscalField::PtcLastYear),
        );
        let window = and(vec![ge(Expr::Year, first), le(Expr::Year, last)]);
        let eligible = self.c.row(
            format!("{country}: costs eligible for the production tax credit"),
            Unit::Money,
            sum(eligible),
        );
        let credit = self.c.row(
            format!("{country}: production tax credit earned"),
            Unit::Money,
            self.book(rate * Expr::Row(eligible) * window),
        );
        Ok(Some((credit, ptc.refundable.value)))
    }

    /// Losses carried forward, tax, and the credit's use, for one measure of income.
    fn tax_chain(
        &mut self,
        k: usize,
        regime: &FiscalRegime,
        country: &str,
        variant: &str,
        income: RowId,
        credit: Option<(RowId, bool)>,
    ) -> Result<TaxRows, BuildError> {
        let tag = if variant.is_empty() {
            String::new()
        } else {
            format!(" ({variant})")
        };
        let taxable = self.taxable_income(regime, country, &tag, income);
        let rate = self.input(
            regime.tax_rate.value,
            InputKey::Fiscal(k, FiscalField::TaxRate),
        );
        let tax = self.c.row(
            format!("{country}: company tax before credits{tag}"),
            Unit::Money,
            self.book(rate * Expr::Row(taxable)),
        );
        Ok(self.credit_use(country, &tag, tax, credit))
    }

    /// Taxable income: after the losses carried forward where the country allows it, and
    /// never below zero.
    fn taxable_income(
        &mut self,
        regime: &FiscalRegime,
        country: &str,
        tag: &str,
        income: RowId,
    ) -> RowId {
        if regime.loss_carry_forward.value {
            let losses = self.c.reserve(
                format!("{country}: tax losses carried forward{tag}"),
                Unit::Money,
            );
            let taxable = self.c.row(
                format!("{country}: taxable income after losses{tag}"),
                Unit::Money,
                pos(Expr::Row(income) - Expr::Prev(losses)),
            );
            self.c
                .place(losses, pos(Expr::Prev(losses) - Expr::Row(income)));
            taxable
        } else {
            self.c.row(
                format!("{country}: taxable income{tag}"),
                Unit::Money,
                pos(Expr::Row(income)),
            )
        }
    }

    /// The production tax credit's use against the tax: refunded in cash where it exceeds
    /// the tax (a refundable credit), or set against tax with the rest carried forward.
    fn credit_use(
        &mut self,
        country: &str,
        tag: &str,
        tax: RowId,
        credit: Option<(RowId, bool)>,
    ) -> TaxRows {
        match credit {
            None => TaxRows {
                paid: tax,
                refund: None,
            },
            Some((credit, true)) => {
                let paid = self.c.row(
                    format!("{country}: company tax after credit{tag}"),
                    Unit::Money,
                    pos(Expr::Row(tax) - Expr::Row(credit)),
                );
                let refund = self.c.row(
                    format!("{country}: credit refunded in cash{tag}"),
                    Unit::Money,
                    pos(Expr::Row(credit) - Expr::Row(tax)),
                );
                TaxRows {
                    paid,
                    refund: Some(refund),
                }
            }
            Some((credit, false)) => {
                let balance = self.c.reserve(
                    format!("{country}: unused credits carried forward{tag}"),
                    Unit::Money,
                );
                let available = self.c.row(
                    format!("{country}: credits available{tag}"),
                    Unit::Money,
                    Expr::Prev(balance) + Expr::Row(credit),
                );
                let used = self.c.row(
                    format!("{country}: credits used{tag}"),
                    Unit::Money,
                    min2(Expr::Row(tax), Expr::Row(available)),
                );
                self.c
                    .place(balance, Expr::Row(available) - Expr::Row(used));
                let paid = self.c.row(
                    format!("{country}: company tax after credit{tag}"),
                    Unit::Money,
                    Expr::Row(tax) - Expr::Row(used),
                );
                TaxRows { paid, refund: None }
            }
        }
    }
}
