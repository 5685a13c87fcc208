//! Operations: the order of the facilities (feed sources first), the product and facility
//! look-ups, and royalties. The stages of operations live beside it, each in its own file:
//! production (ramp-up, feed caps), prices (deck, escalation, FX, crashes, multipliers),
//! costs by category and basis, revenue by offtake contract and at market (price-floor
//! support and upside sharing, inter-facility transfers).

use super::{BuildError, Builder, PROJECT};
use crate::engine::calc::{Expr, FlowKind, RowId};
use crate::model::key::{FiscalField, InputKey};
use crate::model::{CostCategory, FacilityKind, FeedSource};

#[derive(Debug, Clone, Default)]
pub struct Operations {
    /// Facilities in calculation order (feed sources before the facilities they feed).
    pub order: Vec<usize>,
    pub production: Vec<Option<RowId>>,
    pub sellable: Vec<Option<RowId>>,
    pub feed_used: Vec<Option<RowId>>,
    /// Market price in the product's unit and currency, per product index.
    pub price_unit: Vec<RowId>,
    /// Market price in the deal currency per tonne, per product index.
    pub price_deal: Vec<RowId>,
    /// Product unit × FX: converts a price in the product's unit to deal currency per tonne.
    pub conversion: Vec<Expr>,
    /// Sales value per facility (contracts, market, transfers out): the royalty base.
    pub revenue: Vec<Option<RowId>>,
    /// Per facility: floor support received, upside paid away.
    pub support: Vec<Vec<RowId>>,
    pub upside: Vec<Vec<RowId>>,
    /// Per facility: operating costs deducted when incurred (incl. feed).
    pub operating: Vec<Vec<RowId>>,
    /// Per facility: capital costs (depreciated).
    pub capital: Vec<Vec<RowId>>,
    /// Per facility: other costs deducted when incurred (exploration, rehabilitation…).
    pub expensed: Vec<Vec<RowId>>,
    /// Per facility: (category, cost row) for tax-credit eligibility; feed transfers count as feed purchase.
    pub by_category: Vec<Vec<(CostCategory, RowId)>>,
    pub royalty: Vec<Option<RowId>>,
    /// Ledger rows of money coming into the project from operations.
    pub receipts: Vec<RowId>,
    /// Ledger rows of money leaving the project for operations (costs, feed, upside).
    pub payments: Vec<RowId>,
    /// (offtake contract, tonnes taken).
    pub taken: Vec<(usize, RowId)>,
    /// (offtake contract, buyer's ledger index, market value of the tonnes it takes): what
    /// the buyer receives for what it pays.
    pub goods: Vec<(usize, usize, RowId)>,
    /// (price support, its floor payout row, its maximum payout row).
    pub floors: Vec<(usize, RowId, RowId)>,
}

impl Builder<'_> {
    /// Each facility's sales value, costs and royalty, for its results (its rows are built
    /// by then: revenue, costs and the fiscal stage).
    pub(super) fn record_facility_accounts(&mut self) {
        for lines in &mut self.lines.facilities {
            let Some(i) = self
                .deal
                .facilities
                .iter()
                .position(|f| f.name.value == lines.name)
            else {
                continue;
            };
            lines.sales_value = self.ops.revenue[i];
            lines.operating = self.ops.operating[i].clone();
            lines.capital = self.ops.capital[i].clone();
            lines.expensed = self.ops.expensed[i].clone();
            lines.royalty = self.ops.royalty[i];
        }
    }

    /// Operations in their order: production, prices, costs, revenue, the costs on revenue,
    /// royalties.
    pub(super) fn build_operations(&mut self) -> Result<(), BuildError> {
        let n = self.deal.facilities.len();
        self.ops.order = self.facility_order()?;
        self.ops.production = vec![None; n];
        self.ops.sellable = vec![None; n];
        self.ops.feed_used = vec![None; n];
        self.ops.revenue = vec![None; n];
        self.ops.royalty = vec![None; n];
        self.ops.support = vec![Vec::new(); n];
        self.ops.upside = vec![Vec::new(); n];
        self.ops.operating = vec![Vec::new(); n];
        self.ops.capital = vec![Vec::new(); n];
        self.ops.expensed = vec![Vec::new(); n];
        self.ops.by_category = vec![Vec::new(); n];
        self.build_production()?;
        self.build_prices()?;
        self.build_costs(false)?;
        self.build_revenue()?;
        self.build_costs(true)?;
        self.build_royalties()?;
        Ok(())
    }

    /// Facilities ordered so that every feed source comes before what it feeds.
    fn facility_order(&self) -> Result<Vec<usize>, BuildError> {
        let facilities = &self.deal.facilities;
        let mut order = Vec::new();
        let mut state = vec![0u8; facilities.len()];
        fn visit(
            i: usize,
            b: &Builder<'_>,
            state: &mut [u8],
            order: &mut Vec<usize>,
        ) -> Result<(), BuildError> {
            match state[i] {
                2 => return Ok(()),
                1 => {
                    return Err(BuildError(format!(
                        "facility '{}' is part of a feed cycle",
                        b.deal.facilities[i].name.value
                    )));
                }
                _ => {}
            }
            state[i] = 1;
            if let Some(feed) = &b.deal.facilities[i].feed
                && let FeedSource::Facility { name, .. } = &feed.source
            {
                let j = b.facility_index(&name.value)?;
                visit(j, b, state, order)?;
            }
            state[i] = 2;
            order.push(i);
            Ok(())
        }
        for i in 0..facilities.len() {
            visit(i, self, &mut state, &mut order)?;
        }
        Ok(order)
    }

    pub fn facility_index(&self, name: &str) -> Result<usize, BuildError> {
        self.deal
            .facilities
            .iter()
            .position(|f| f.name.value == name)
            .ok_or_else(|| BuildError(format!("unknown facility '{name}'")))
    }

    pub fn product_index(&self, name: &str) -> Result<usize, BuildError> {
        self.deal
            .products
            .iter()
            .position(|p| p.name.value == name)
            .ok_or_else(|| BuildError(format!("unknown product '{name}'")))
    }

    /// A facility whose product has no price sells nothing: every tonne it makes goes to
    /// the plants it feeds (it is worked only for what they take). A check says so.
    pub(super) fn output_checks(&mut self) {
        for i in 0..self.deal.facilities.len() {
            if !self.unpriced(i) || self.consumers(i).is_empty() {
                continue;
            }
            if let Some(sellable) = self.ops.sellable[i] {
                let name = self.deal.facilities[i].name.value.clone();
                self.zero_check(
                    format!("{name}: all its output (no price) goes to its plants"),
                    sellable,
                );
            }
        }
    }

    /// Each selling facility's royalty to its country's payee: its sales value times the
    /// rate for its kind (refined for a refinery, concentrate for a mine or concentrator).
    fn build_royalties(&mut self) -> Result<(), BuildError> {
        self.c.section("Royalties");
        let deal = self.deal;
        for (i, f) in deal.facilities.iter().enumerate() {
            let Some(revenue) = self.ops.revenue[i] else {
                continue;
            };
            let (k, regime) = deal
                .fiscal
                .iter()
                .enumerate()
                .find(|(_, r)| r.country.value == f.country.value)
                .ok_or_else(|| BuildError(format!("no fiscal terms for {}", f.country.value)))?;
            let rate = match f.kind.value {
                FacilityKind::Refinery => self.input(
                    regime.royalty_refined.value,
                    InputKey::Fiscal(k, FiscalField::RoyaltyRefined),
                ),
                FacilityKind::Mine | FacilityKind::Concentrator => self.input(
                    regime.royalty_concentrate.value,
                    InputKey::Fiscal(k, FiscalField::RoyaltyConcentrate),
                ),
            };
            let payee = self.party_index(&regime.royalty_payee.value)?;
            let row = self.flow(
                format!(
                    "{}: royalty to {}",
                    f.name.value, regime.royalty_payee.value
                ),
                self.book(rate * Expr::Row(revenue)),
                PROJECT,
                payee,
                FlowKind::Royalty,
            );
            self.ops.royalty[i] = Some(row);
        }
        Ok(())
    }
}
