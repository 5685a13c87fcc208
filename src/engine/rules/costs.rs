//! Costs: each cost line by its category and basis (spread over a phase, per year, per
//! tonne, a share of revenue), escalated and multiplied by the scenario; feed bought at
//! market.

use super::{BuildError, Builder, MARKET, PROJECT, SUPPLIERS};
use crate::engine::calc::{Expr, FlowKind, div, if_, le, pow};
use crate::model::key::{CostField, InputKey, OverrideField};
use crate::model::{CostBasis, CostCategory, FeedSource, OverrideKind, Phase};

/// The kind of ledger flow a cost of this category is.
fn flow_kind(category: CostCategory) -> FlowKind {
    match category {
        CostCategory::Exploration => FlowKind::Exploration,
        CostCategory::DevelopmentCapex | CostCategory::SustainingCapex => FlowKind::Capex,
        CostCategory::FixedOpex | CostCategory::VariableOpex => FlowKind::Opex,
        CostCategory::FeedPurchase => FlowKind::FeedPurchase,
        CostCategory::Environmental | CostCategory::ResidueHandling => FlowKind::Environmental,
        CostCategory::Rehabilitation => FlowKind::Rehabilitation,
    }
}

impl Builder<'_> {
    /// Cost lines; `revenue_based` selects the % of revenue lines (built after revenue).
    pub(super) fn build_costs(&mut self, revenue_based: bool) -> Result<(), BuildError> {
        self.c.section(if revenue_based {
            "Costs on revenue"
        } else {
            "Cost lines"
        });
        for (l, line) in self.deal.costs.iter().enumerate() {
            if (line.basis.value == CostBasis::PercentOfRevenue) != revenue_based {
                continue;
            }
            self.cost_line(l)?;
        }
        if !revenue_based {
            self.market_feed_costs()?;
        }
        Ok(())
    }

    /// Cost line `l`: its amount by its basis (a total spread over a phase, a yearly amount
    /// in a phase, per tonne produced, or a share of revenue), escalated and multiplied by
    /// the scenario, paid to suppliers and kept by category.
    fn cost_line(&mut self, l: usize) -> Result<(), BuildError> {
        let deal = self.deal;
        let line = &deal.costs[l];
        let i = self.facility_index(&line.facility.value)?;
        let fname = deal.facilities[i].name.value.clone();
        let tl = self.t.facilities[i].clone();
        let category = line.category.value;
        let amount = self.input(line.amount.value, InputKey::Cost(l, CostField::Amount));
        let escalation = self.input(
            line.escalation.value,
            InputKey::Cost(l, CostField::Escalation),
        );
        let base_year = match &line.base_year {
            Some(y) => self.input(y.value.into(), InputKey::Cost(l, CostField::BaseYear)),
            None => Expr::FirstYear,
        };
        let esc = pow(Expr::one() + escalation, Expr::Year - base_year);
        let mult = self.cost_multiplier(category, &fname);
        let phase = line.phase.as_ref().map(|p| p.value);
        let flag = |phase: Phase| tl.flag(phase).map(Expr::Row).unwrap_or_else(Expr::zero);
        let production = self.ops.production[i]
            .map(Expr::Row)
            .unwrap_or_else(Expr::zero);
        let expr = match line.basis.value {
            CostBasis::TotalOverPhase => {
                let p = phase.ok_or_else(|| {
                    BuildError(format!("cost '{}' needs a phase", line.item.value))
                })?;
                let duration = tl.duration(p);
                if_(
                    le(duration.clone(), Expr::zero()),
                    Expr::zero(),
                    div(amount, duration) * flag(p) * esc * mult,
                )
            }
            CostBasis::PerYear => {
                let p = phase.ok_or_else(|| {
                    BuildError(format!("cost '{}' needs a phase", line.item.value))
                })?;
                amount * flag(p) * esc * mult
            }
            CostBasis::PerTonne => {
                let gate = phase.map(flag).unwrap_or_else(Expr::one);
                amount * production * gate * esc * mult
            }
            CostBasis::PercentOfRevenue => {
                let gate = phase.map(flag).unwrap_or_else(Expr::one);
                let revenue = self.ops.revenue[i]
                    .map(Expr::Row)
                    .unwrap_or_else(Expr::zero);
                amount * revenue * gate * mult
            }
        };
        let label = format!("{fname}: {} ({})", line.item.value, category.label());
        let expr = self.book(expr);
        let row = self.flow(label, expr, PROJECT, SUPPLIERS, flow_kind(category));
        self.ops.payments.push(row);
        self.ops.by_category[i].push((category, row));
        if category.is_capital() {
            self.ops.capital[i].push(row);
        } else if category.is_operating() {
            self.ops.operating[i].push(row);
        } else {
            self.ops.expensed[i].push(row);
        }
        Ok(())
    }

    /// The scenario's multiplier of a facility's cost: development capex grows by its
    /// overruns (added up), operating costs by its opex multipliers (multiplied).
    fn cost_multiplier(&mut self, category: CostCategory, fname: &str) -> Expr {
        let mut mult = Expr::one();
        if category == CostCategory::DevelopmentCapex {
            for (record, o) in self.overrides(OverrideKind::CapexOverrun) {
                if Self::targets(&o.facility, fname) {
                    mult = mult + self.override_input(record, o.value.value, OverrideField::Value);
                }
            }
        }
        if category.is_operating() {
            for (record, o) in self.overrides(OverrideKind::OpexMultiplier) {
                if Self::targets(&o.facility, fname) {
                    mult = mult * self.override_input(record, o.value.value, OverrideField::Value);
                }
            }
        }
        mult
    }

    /// Feed bought at market: the feed each such facility uses at the product's price.
    fn market_feed_costs(&mut self) -> Result<(), BuildError> {
        for (i, f) in self.deal.facilities.iter().enumerate() {
            let Some(feed) = &f.feed else { continue };
            let FeedSource::Market { product } = &feed.source else {
                continue;
            };
            let p = self.product_index(&product.value)?;
            let used = self.ops.feed_used[i].ok_or_else(|| {
                BuildError(format!("facility '{}' has no feed row", f.name.value))
            })?;
            let row = self.flow(
                format!(
                    "{}: feed bought at market ({})",
                    f.name.value, product.value
                ),
                self.book(Expr::Row(used) * Expr::Row(self.ops.price_deal[p])),
                PROJECT,
                MARKET,
                FlowKind::FeedPurchase,
            );
            self.ops.payments.push(row);
            self.ops.operating[i].push(row);
            self.ops.by_category[i].push((CostCategory::FeedPurchase, row));
        }
        Ok(())
    }
}
