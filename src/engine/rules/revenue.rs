//! Revenue: each product's sales by offtake contract and at market, price-floor support
//! and upside sharing, each producer's share where several make a product, and feed
//! transferred between facilities.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{BuildError, Builder, LedgerPartyKind, MARKET, PROJECT};
use crate::engine::calc::{
    Expr, FlowKind, RowId, Unit, and, ge, le, max2, min2, pos, safe_div, sum,
};
use crate::model::key::{FacilityField, InputKey, OfftakeField, OverrideField, PriceSupportField};
use crate::model::{
    CostCategory, FeedSource, OverrideKind, PartyKind, PricingKind, TransferPricing,
};

/// A price support's floor payout and upside, each split among the facilities making the
/// product.
type SupportParts = (Vec<Expr>, Vec<Expr>);

impl Builder<'_> {
    /// Each product's sales, then feed transfers; a facility's sales value (its royalty base)
    /// is the sum of its parts.
    pub(super) fn build_revenue(&mut self) -> Result<(), BuildError> {
        self.c.section("Revenue");
        let deal = self.deal;
        let mut sales: BTreeMap<usize, Vec<Expr>> = BTreeMap::new();
        for p in 0..deal.products.len() {
            self.sell_product(p, &mut sales)?;
        }
        self.transfer_feed(&mut sales)?;
        for (i, f) in deal.facilities.iter().enumerate() {
            let items = sales.remove(&i).unwrap_or_default();
            if items.is_empty() {
                continue;
            }
            let row = self.c.row(
                format!("{}: sales value", f.name.value),
                Unit::Money,
                sum(items),
            );
            self.ops.revenue[i] = Some(row);
        }
        Ok(())
    }

    /// One product's sales: every facility making it puts its sellable output together;
    /// each offtake contract takes its share of that total, the rest sells at market, and
    /// price support covers its share of it. With several facilities, each one's share of
    /// the sales (and of the support) is its share of the sellable output, which is what
    /// its royalty and tax are on.
    fn sell_product(
        &mut self,
        p: usize,
        sales: &mut BTreeMap<usize, Vec<Expr>>,
    ) -> Result<(), BuildError> {
        let deal = self.deal;
        let pname = deal.products[p].name.value.clone();
        let producers: Vec<usize> = (0..deal.facilities.len())
            .filter(|&i| deal.facilities[i].product.value == pname)
            .collect();
        let mut outputs = Vec::new();
        for &i in &producers {
            outputs.push(self.ops.sellable[i].ok_or_else(|| {
                BuildError(format!(
                    "facility '{}' has no sales row",
                    deal.facilities[i].name.value
                ))
            })?);
        }
        let sellable = match outputs[..] {
            [] => return Ok(()),
            [one] => one,
            _ => self.c.row(
                format!("{pname}: sellable output (every facility making it)"),
                Unit::Tonnes,
                sum(outputs.iter().map(|r| Expr::Row(*r)).collect()),
            ),
        };
        let revenue = self.product_sales(p, sellable)?;
        let mut supports = Vec::new();
        for s in 0..deal.price_supports.len() {
            if deal.price_supports[s].product.value == pname {
                supports.push(self.price_support(s, p, sellable)?);
            }
        }
        if let [i] = producers[..] {
            let items = sales.entry(i).or_default();
            items.extend(revenue.iter().map(|r| Expr::Row(*r)));
            for (payout, upside) in supports {
                self.ops.support[i].push(payout);
                self.ops.upside[i].push(upside);
            }
            return Ok(());
        }
        let (sales_parts, support_parts) =
            self.producer_parts(&outputs, sellable, &revenue, &supports);
        for (k, &i) in producers.iter().enumerate() {
            let fname = deal.facilities[i].name.value.clone();
            let row = self.c.row(
                format!("{fname}: {pname} sales (its share)"),
                Unit::Money,
                sales_parts[k].clone(),
            );
            sales.entry(i).or_default().push(Expr::Row(row));
            for (payouts, upsides) in &support_parts {
                let payout = self.c.row(
                    format!("{fname}: floor support (its share)"),
                    Unit::Money,
                    payouts[k].clone(),
                );
                let upside = self.c.row(
                    format!("{fname}: upside shared away (its share)"),
                    Unit::Money,
                    upsides[k].clone(),
                );
                self.ops.support[i].push(payout);
                self.ops.upside[i].push(upside);
            }
        }
        Ok(())
    }

    /// Product `p`'s sales flows: each offtake contract on it (after the scenario's uptake),
    /// then what is left sold at market.
    fn product_sales(&mut self, p: usize, sellable: RowId) -> Result<Vec<RowId>, BuildError> {
        let deal = self.deal;
        let pname = deal.products[p].name.value.clone();
        let mut uptake = Expr::one();
        for (record, o) in self.overrides(OverrideKind::OfftakeUptake) {
            if Self::targets(&o.product, &pname) {
                uptake = uptake * self.override_input(record, o.value.value, OverrideField::Value);
            }
        }
        let mut revenue = Vec::new();
        let mut taken_all = Vec::new();
        for c in 0..deal.offtakes.len() {
            if deal.offtakes[c].product.value != pname {
                continue;
            }
            let (row, taken) = self.offtake_contract(c, p, sellable, &uptake)?;
            revenue.push(row);
            taken_all.push(Expr::Row(taken));
        }
        let market_volume = if taken_all.is_empty() {
            sellable
        } else {
            self.c.row(
                format!("{pname}: volume sold at market"),
                Unit::Tonnes,
                Expr::Row(sellable) - sum(taken_all),
            )
        };
        let market = self.flow(
            format!("{pname}: market sales"),
            self.book(Expr::Row(market_volume) * Expr::Row(self.ops.price_deal[p])),
            MARKET,
            PROJECT,
            FlowKind::Sales,
        );
        self.ops.receipts.push(market);
        revenue.push(market);
        Ok(revenue)
    }

    /// Each facility's share of a product's sales and of each price support's payout and
    /// upside, split exactly (`allocate`) by its share of the sellable output: the parts,
    /// whole cents, add up to the product's amounts.
    fn producer_parts(
        &mut self,
        outputs: &[RowId],
        sellable: RowId,
        revenue: &[RowId],
        supports: &[(RowId, RowId)],
    ) -> (Vec<Expr>, Vec<SupportParts>) {
        let weights: Vec<Expr> = outputs.iter().map(|r| Expr::Row(*r)).collect();
        let split =
            |b: &mut Self, amount: Expr| b.allocate(amount, &weights, Some(Expr::Row(sellable)));
        let total = sum(revenue.iter().map(|r| Expr::Row(*r)).collect());
        let sales_parts = split(self, total);
        let support_parts: Vec<SupportParts> = supports
            .iter()
            .map(|&(payout, upside)| {
                (
                    split(self, Expr::Row(payout)),
                    split(self, Expr::Row(upside)),
                )
            })
            .collect();
        (sales_parts, support_parts)
    }

    /// Contract `c`'s share of what is left to sell, in the years it runs.
    fn contracted_volume(&mut self, c: usize, sellable: RowId) -> RowId {
        let contract = &self.deal.offtakes[c];
        let share = self.input(
            contract.share.value,
            InputKey::Offtake(c, OfftakeField::Share),
        );
        let start = self.input(
            contract.start_year.value.into(),
            InputKey::Offtake(c, OfftakeField::StartYear),
        );
        let end = self.input(
            contract.end_year.value.into(),
            InputKey::Offtake(c, OfftakeField::EndYear),
        );
        let active = and(vec![ge(Expr::Year, start), le(Expr::Year, end)]);
        self.c.row(
            format!("{}: contracted volume", contract.name.value),
            Unit::Tonnes,
            Expr::Row(sellable) * share * active,
        )
    }

    /// An offtake contract on a product's sellable output: (its sales flow, tonnes taken).
    fn offtake_contract(
        &mut self,
        c: usize,
        p: usize,
        sellable: RowId,
        uptake: &Expr,
    ) -> Result<(RowId, RowId), BuildError> {
        let deal = self.deal;
        let contract = &deal.offtakes[c];
        let product = &deal.products[p];
        let conversion = self.ops.conversion[p].clone();
        let market_unit = Expr::Row(self.ops.price_unit[p]);
        let cname = contract.name.value.clone();
        let volume = self.contracted_volume(c, sellable);
        let (taken, paid) = if uptake.is_one() {
            (volume, volume)
        } else {
            let taken = self.c.row(
                format!("{cname}: volume taken"),
                Unit::Tonnes,
                Expr::Row(volume) * uptake.clone(),
            );
            let top = self.input(
                contract.take_or_pay.value,
                InputKey::Offtake(c, OfftakeField::TakeOrPay),
            );
            let paid = self.c.row(
                format!("{cname}: volume paid for (take-or-pay)"),
                Unit::Tonnes,
                max2(Expr::Row(taken), Expr::Row(volume) * top),
            );
            (taken, paid)
        };
        let price = self.contract_price(c, market_unit)?;
        let price = self.c.row(
            format!(
                "{cname}: contract price ({} {})",
                product.currency.value,
                product.unit.value.label()
            ),
            Unit::Price,
            price,
        );
        let buyer = self.party_index(&contract.buyer.value)?;
        let revenue = self.flow(
            format!("{cname}: sales to {}", contract.buyer.value),
            self.book(Expr::Row(paid) * Expr::Row(price) * conversion),
            buyer,
            PROJECT,
            FlowKind::Sales,
        );
        // An offtaker is measured on what it receives as well as what it pays.
        if self.parties[buyer].kind == LedgerPartyKind::Deal(PartyKind::Offtaker) {
            let goods = self.c.row(
                format!("{cname}: market value of the tonnes taken"),
                Unit::Money,
                self.book(Expr::Row(taken) * Expr::Row(self.ops.price_deal[p])),
            );
            self.ops.goods.push((c, buyer, goods));
        }
        self.ops.receipts.push(revenue);
        self.ops.taken.push((c, taken));
        Ok((revenue, taken))
    }

    /// A contract's price in the product's unit: market less the discount, fixed, floor
    /// (the higher of the floor and the discounted market) or collar.
    fn contract_price(&mut self, c: usize, market_unit: Expr) -> Result<Expr, BuildError> {
        let contract = &self.deal.offtakes[c];
        let cname = &contract.name.value;
        let discount = self.input(
            contract.discount.value,
            InputKey::Offtake(c, OfftakeField::Discount),
        );
        let discounted = market_unit * (Expr::one() - discount);
        let given = |v: &Option<crate::model::Sourced<Decimal>>, what: &str| {
            v.as_ref()
                .map(|v| v.value)
                .ok_or_else(|| BuildError(format!("contract '{cname}' needs a {what}")))
        };
        Ok(match contract.pricing.value {
            PricingKind::Market => discounted,
            PricingKind::Fixed => {
                let v = given(&contract.fixed_price, "fixed price")?;
                self.input(v, InputKey::Offtake(c, OfftakeField::FixedPrice))
            }
            PricingKind::Floor => {
                let v = given(&contract.floor, "floor")?;
                max2(
                    self.input(v, InputKey::Offtake(c, OfftakeField::Floor)),
                    discounted,
                )
            }
            PricingKind::Collar => {
                let floor = given(&contract.floor, "floor")?;
                let cap = given(&contract.cap, "cap")?;
                let floor = self.input(floor, InputKey::Offtake(c, OfftakeField::Floor));
                let cap = self.input(cap, InputKey::Offtake(c, OfftakeField::Cap));
                min2(cap, max2(floor, discounted))
            }
        })
    }

    /// A price floor on a product's sellable output: (payout from the supporter, upside
    /// paid back to it).
    fn price_support(
        &mut self,
        s: usize,
        p: usize,
        sellable: RowId,
    ) -> Result<(RowId, RowId), BuildError> {
        let support = &self.deal.price_supports[s];
        let conversion = self.ops.conversion[p].clone();
        let market_unit = Expr::Row(self.ops.price_unit[p]);
        let sname = support.name.value.clone();
        let supporter = self.party_index(&support.supporter.value)?;
        let share = self.input(
            support.covered_share.value,
            InputKey::PriceSupport(s, PriceSupportField::CoveredShare),
        );
        let start = self.input(
            support.start_year.value.into(),
            InputKey::PriceSupport(s, PriceSupportField::StartYear),
        );
        let end = self.input(
            support.end_year.value.into(),
            InputKey::PriceSupport(s, PriceSupportField::EndYear),
        );
        let active = and(vec![ge(Expr::Year, start), le(Expr::Year, end)]);
        let covered = self.c.row(
            format!("{sname}: covered volume"),
            Unit::Tonnes,
            Expr::Row(sellable) * share * active,
        );
        let floor = self.input(
            support.floor.value,
            InputKey::PriceSupport(s, PriceSupportField::Floor),
        );
        let threshold = match &support.upside_threshold {
            Some(t) => self.input(
                t.value,
                InputKey::PriceSupport(s, PriceSupportField::UpsideThreshold),
            ),
            None => floor.clone(),
        };
        let payout = self.flow(
            format!("{sname}: floor support from {}", support.supporter.value),
            self.book(
                pos(floor.clone() - market_unit.clone()) * Expr::Row(covered) * conversion.clone(),
            ),
            supporter,
            PROJECT,
            FlowKind::FloorSupport,
        );
        let upside_share = self.input(
            support.upside_share.value,
            InputKey::PriceSupport(s, PriceSupportField::UpsideShare),
        );
        let upside = self.flow(
            format!("{sname}: upside share to {}", support.supporter.value),
            self.book(
                upside_share
                    * pos(market_unit - threshold)
                    * Expr::Row(covered)
                    * conversion.clone(),
            ),
            PROJECT,
            supporter,
            FlowKind::UpsideShare,
        );
        let exposure = self.c.row(
            format!("{sname}: maximum payout this year (price at zero)"),
            Unit::Money,
            self.book(floor * Expr::Row(covered) * conversion),
        );
        self.ops.receipts.push(payout);
        self.ops.payments.push(upside);
        self.ops.floors.push((s, payout, exposure));
        Ok((payout, upside))
    }

    /// Transfers between facilities of the deal: revenue of the source, cost of the user
    /// (in feed order, so a chain's cost-based prices see upstream transfers).
    fn transfer_feed(&mut self, sales: &mut BTreeMap<usize, Vec<Expr>>) -> Result<(), BuildError> {
        let deal = self.deal;
        for &i in &self.ops.order.clone() {
            let f = &deal.facilities[i];
            let Some(feed) = &f.feed else { continue };
            let FeedSource::Facility {
                name: source,
                pricing,
                price,
                ..
            } = &feed.source
            else {
                continue;
            };
            let j = self.facility_index(&source.value)?;
            let used = self.ops.feed_used[i].ok_or_else(|| {
                BuildError(format!("facility '{}' has no feed row", f.name.value))
            })?;
            let unit_price = match pricing.value {
                TransferPricing::Market => {
                    let p = self.product_index(&deal.facilities[j].product.value)?;
                    Expr::Row(self.ops.price_deal[p])
                }
                TransferPricing::Fixed => {
                    let v = price.as_ref().map(|v| v.value).ok_or_else(|| {
                        BuildError(format!(
                            "facility '{}' needs a transfer price",
                            f.name.value
                        ))
                    })?;
                    self.input(v, InputKey::Facility(i, FacilityField::TransferPrice))
                }
                TransferPricing::Cost => {
                    let costs: Vec<Expr> = self.ops.operating[j]
                        .iter()
                        .map(|r| Expr::Row(*r))
                        .collect();
                    let production = self.ops.production[j]
                        .map(Expr::Row)
                        .unwrap_or_else(Expr::zero);
                    let unit = self.c.row(
                        format!("{}: cash cost per tonne", source.value),
                        Unit::PerTonne,
                        safe_div(sum(costs), production, Expr::zero()),
                    );
                    Expr::Row(unit)
                }
            };
            let value = self.c.row(
                format!(
                    "Transfer: {} feed to {} ({})",
                    source.value,
                    f.name.value,
                    pricing.value.label()
                ),
                Unit::Money,
                self.book(Expr::Row(used) * unit_price),
            );
            sales.entry(j).or_default().push(Expr::Row(value));
            self.ops.operating[i].push(value);
            self.ops.by_category[i].push((CostCategory::FeedPurchase, value));
        }
        Ok(())
    }
}
