//! Operations: production (ramp-up, feed caps), prices (deck, escalation, FX, crashes,
//! multipliers), costs by category and basis, revenue by offtake contract and at market,
//! price-floor support and upside sharing, inter-facility transfers, royalties.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{BuildError, Builder, LedgerPartyKind, MARKET, PROJECT, SUPPLIERS};
use crate::engine::calc::{
    Expr, FlowKind, RowId, Unit, and, div, ge, if_, le, lt, max2, min2, pos, pow, safe_div, sum,
};
use crate::model::key::{
    CostField, FacilityField, FiscalField, InputKey, OfftakeField, OverrideAt, OverrideField,
    PriceSupportField, ProductField,
};
use crate::model::{
    CostBasis, CostCategory, FacilityKind, FeedSource, OverrideKind, PartyKind, Phase, PricingKind,
    TransferPricing,
};

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

/// A facility's feed share of its source's output, when given.
fn feed_share(f: &crate::model::Facility) -> Option<Decimal> {
    match &f.feed.as_ref()?.source {
        FeedSource::Facility { share, .. } => share.as_ref().map(|s| s.value),
        FeedSource::Market { .. } => None,
    }
}

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

    fn build_production(&mut self) -> Result<(), BuildError> {
        self.c.section("Production");
        let deal = self.deal;
        let order = self.ops.order.clone();
        let n = deal.facilities.len();
        let mut capacity = vec![RowId::default(); n];
        for &i in &order {
            capacity[i] = self.capacity_row(i)?;
        }
        let mut demand: Vec<Option<RowId>> = vec![None; n];
        let target = self.output_targets(&order, &capacity, &mut demand)?;
        let mut available: Vec<Option<Expr>> = vec![None; n];
        for &i in &order {
            let production = self.production_row(i, target[i], &available)?;
            self.ops.production[i] = Some(production);
            self.lines.facilities.push(super::FacilityLines {
                name: deal.facilities[i].name.value.clone(),
                production: Some(production),
                sellable: None,
            });
            self.share_feed(i, production, &target, &mut demand, &mut available)?;
        }
        for i in 0..n {
            let name = deal.facilities[i].name.value.clone();
            let production = self.ops.production[i]
                .ok_or_else(|| BuildError(format!("facility '{name}' has no production row")))?;
            let transferred: Vec<Expr> = self
                .consumers(i)
                .into_iter()
                .filter_map(|j| self.ops.feed_used[j].map(Expr::Row))
                .collect();
            let sellable = if transferred.is_empty() {
                production
            } else {
                self.c.row(
                    format!("{name}: sold (production less feed transferred)"),
                    Unit::Tonnes,
                    Expr::Row(production) - sum(transferred),
                )
            };
            self.ops.sellable[i] = Some(sellable);
            if let Some(lines) = self.lines.facilities.iter_mut().find(|l| l.name == name) {
                lines.sellable = Some(sellable);
            }
        }
        Ok(())
    }

    /// The facilities fed by facility `i`, in deal order.
    pub(super) fn consumers(&self, i: usize) -> Vec<usize> {
        let name = &self.deal.facilities[i].name.value;
        self.deal
            .facilities
            .iter()
            .enumerate()
            .filter(|(_, g)| matches!(&g.feed, Some(feed) if matches!(&feed.source, FeedSource::Facility { name: s, .. } if s.value == *name)))
            .map(|(j, _)| j)
            .collect()
    }

    /// A facility whose product has no price deck: none of its output can be sold, so it is
    /// worked only for what the facilities it feeds take.
    pub(super) fn unpriced(&self, i: usize) -> bool {
        self.deal
            .product(&self.deal.facilities[i].product.value)
            .is_none()
    }

    /// Nameplate × ramp-up % (or 100% in operations).
    fn capacity_row(&mut self, i: usize) -> Result<RowId, BuildError> {
        let f = &self.deal.facilities[i];
        let name = f.name.value.clone();
        let tl = self.t.facilities[i].clone();
        // Ramp multipliers of the scenario.
        let mut ramp_mult = Expr::one();
        for (record, o) in self.overrides(OverrideKind::RampMultiplier) {
            if Self::targets(&o.facility, &name) {
                ramp_mult =
                    ramp_mult * self.override_input(record, o.value.value, OverrideField::Value);
            }
        }
        let nameplate = self.input(
            f.nameplate.value,
            InputKey::Facility(i, FacilityField::Nameplate),
        );
        let ops_flag = tl
            .flag(Phase::Operations)
            .map(Expr::Row)
            .unwrap_or_else(Expr::zero);
        let utilisation = match tl.flag(Phase::RampUp) {
            Some(ramp_flag) if !f.ramp.is_empty() => {
                let mut items = Vec::new();
                for (k, r) in f.ramp.iter().enumerate() {
                    let field = FacilityField::ramp(k).ok_or_else(|| {
                        BuildError(format!("facility '{name}' has more than 5 ramp-up years"))
                    })?;
                    items.push(self.input(r.value, InputKey::Facility(i, field)));
                }
                // A ramp-up delay of N years: each step comes N years later, the first
                // one's % holding meanwhile (CHOOSE's index is clamped to 1..n).
                let delay = tl.delays[super::timeline::phase_index(Phase::RampUp)].clone();
                let index = Expr::Year - tl.start(Phase::RampUp) + Expr::one() - delay;
                let pct = Expr::Choose(Box::new(index), items) * ramp_mult;
                let ramp = self.c.row(
                    format!("{name}: ramp-up % of nameplate"),
                    Unit::Percent,
                    if_(Expr::Row(ramp_flag), min2(Expr::one(), pct), Expr::zero()),
                );
                Expr::Row(ramp) + ops_flag
            }
            _ => ops_flag,
        };
        Ok(self.c.row(
            format!("{name}: capacity"),
            Unit::Tonnes,
            nameplate * utilisation,
        ))
    }

    /// What each facility aims to produce: its capacity, except that a facility whose
    /// product has no price is worked only for the feed its plants can take. Worked out
    /// from the last plant of each chain back to its source.
    fn output_targets(
        &mut self,
        order: &[usize],
        capacity: &[RowId],
        demand: &mut [Option<RowId>],
    ) -> Result<Vec<RowId>, BuildError> {
        let mut target = capacity.to_vec();
        for &i in order.iter().rev() {
            let consumers = self.consumers(i);
            if consumers.is_empty() || !self.unpriced(i) {
                continue;
            }
            let mut wanted = Vec::new();
            for j in consumers {
                wanted.push(Expr::Row(self.feed_demand(j, target[j], demand)?));
            }
            let name = self.deal.facilities[i].name.value.clone();
            target[i] = self.c.row(
                format!("{name}: output worked (what its plants take; its product has no price)"),
                Unit::Tonnes,
                min2(Expr::Row(capacity[i]), sum(wanted)),
            );
        }
        Ok(target)
    }

    /// The feed facility `j` can take: what it aims to produce ÷ its recovery (made once).
    fn feed_demand(
        &mut self,
        j: usize,
        target: RowId,
        demand: &mut [Option<RowId>],
    ) -> Result<RowId, BuildError> {
        if let Some(row) = demand[j] {
            return Ok(row);
        }
        let f = &self.deal.facilities[j];
        let feed = f
            .feed
            .as_ref()
            .ok_or_else(|| BuildError(format!("facility '{}' has no feed", f.name.value)))?;
        let recovery = self.input(
            feed.recovery.value,
            InputKey::Facility(j, FacilityField::Recovery),
        );
        let row = self.c.row(
            format!("{}: feed it can take", f.name.value),
            Unit::Tonnes,
            safe_div(Expr::Row(target), recovery, Expr::zero()),
        );
        demand[j] = Some(row);
        Ok(row)
    }

    /// A facility's production (and, for a plant, the feed it uses): what it aims for,
    /// capped for a plant fed by a facility of the deal by the feed available to it ×
    /// recovery.
    fn production_row(
        &mut self,
        i: usize,
        target: RowId,
        available: &[Option<Expr>],
    ) -> Result<RowId, BuildError> {
        let f = &self.deal.facilities[i];
        let name = f.name.value.clone();
        let Some(feed) = &f.feed else {
            return Ok(self.c.row(
                format!("{name}: production"),
                Unit::Tonnes,
                Expr::Row(target),
            ));
        };
        let recovery = self.input(
            feed.recovery.value,
            InputKey::Facility(i, FacilityField::Recovery),
        );
        let (production, used) = match &feed.source {
            FeedSource::Facility { name: source, .. } => {
                let avail = available[i].clone().ok_or_else(|| {
                    BuildError(format!("feed source '{}' has no production", source.value))
                })?;
                let production = self.c.row(
                    format!("{name}: production (capacity capped by feed × recovery)"),
                    Unit::Tonnes,
                    min2(Expr::Row(target), avail.clone() * recovery.clone()),
                );
                // Short of feed, it uses all it is given (exactly: nothing is left over by
                // rounding); else what its output needs, never more than it is given.
                let used = if_(
                    le(avail.clone() * recovery.clone(), Expr::Row(target)),
                    avail.clone(),
                    min2(avail, safe_div(Expr::Row(target), recovery, Expr::zero())),
                );
                (production, used)
            }
            FeedSource::Market { .. } => {
                let production = self.c.row(
                    format!("{name}: production"),
                    Unit::Tonnes,
                    Expr::Row(target),
                );
                let used = safe_div(Expr::Row(production), recovery, Expr::zero());
                (production, used)
            }
        };
        let used = self.c.row(format!("{name}: feed used"), Unit::Tonnes, used);
        self.ops.feed_used[i] = Some(used);
        Ok(production)
    }

    /// Splits source `m`'s production between the facilities it feeds: by their feed
    /// shares when given, else pro rata to the feed each can take (all of it when there is
    /// enough). One facility without a share may take the whole output.
    fn share_feed(
        &mut self,
        m: usize,
        production: RowId,
        target: &[RowId],
        demand: &mut [Option<RowId>],
        available: &mut [Option<Expr>],
    ) -> Result<(), BuildError> {
        let consumers = self.consumers(m);
        if consumers.is_empty() {
            return Ok(());
        }
        let source = self.deal.facilities[m].name.value.clone();
        let shares: Vec<Option<Decimal>> = consumers
            .iter()
            .map(|&j| feed_share(&self.deal.facilities[j]))
            .collect();
        if shares.iter().all(Option::is_some) {
            for (&j, share) in consumers.iter().zip(shares) {
                let share = self.input(
                    share.unwrap_or_default(),
                    InputKey::Facility(j, FacilityField::FeedShare),
                );
                let name = self.deal.facilities[j].name.value.clone();
                let row = self.c.row(
                    format!("{name}: feed available from {source} (its feed share)"),
                    Unit::Tonnes,
                    Expr::Row(production) * share,
                );
                available[j] = Some(Expr::Row(row));
            }
            return Ok(());
        }
        if shares.iter().any(Option::is_some) {
            return Err(BuildError(format!(
                "some facilities fed by '{source}' have a feed share and some do not"
            )));
        }
        if let [j] = consumers[..] {
            available[j] = Some(Expr::Row(production));
            return Ok(());
        }
        let mut wanted = Vec::new();
        for &j in &consumers {
            wanted.push(self.feed_demand(j, target[j], demand)?);
        }
        let total = self.c.row(
            format!("{source}: feed its plants can take"),
            Unit::Tonnes,
            sum(wanted.iter().map(|r| Expr::Row(*r)).collect()),
        );
        let ratio = self.c.row(
            format!("{source}: share of that it supplies (pro rata)"),
            Unit::Percent,
            min2(
                Expr::one(),
                safe_div(Expr::Row(production), Expr::Row(total), Expr::one()),
            ),
        );
        // Plant k's feed is the pro-rata allotment of the first k plants less that of the
        // first k − 1, each capped by the output; once the plants so far want all there is
        // to want, their allotment is exactly min(output, feed wanted). So rounding neither
        // hands out more than was made nor leaves a sliver over.
        let all = min2(Expr::Row(production), Expr::Row(total));
        let allotted = |k: usize| -> Expr {
            if k == 0 {
                return Expr::zero();
            }
            if k == wanted.len() {
                return all.clone();
            }
            let so_far = sum(wanted[..k].iter().map(|r| Expr::Row(*r)).collect());
            if_(
                ge(so_far.clone(), Expr::Row(total)),
                all.clone(),
                min2(Expr::Row(production), so_far * Expr::Row(ratio)),
            )
        };
        for (k, &j) in consumers.iter().enumerate() {
            let name = self.deal.facilities[j].name.value.clone();
            let row = self.c.row(
                format!("{name}: feed available from {source} (pro rata)"),
                Unit::Tonnes,
                allotted(k + 1) - allotted(k),
            );
            available[j] = Some(Expr::Row(row));
        }
        Ok(())
    }

    fn build_prices(&mut self) -> Result<(), BuildError> {
        self.c.section("Prices");
        let deal = self.deal;
        for (p, product) in deal.products.iter().enumerate() {
            let name = product.name.value.clone();
            let mut points = Vec::new();
            for (year, price) in &product.deck {
                if let Expr::Input(id) = self.input(
                    price.value,
                    InputKey::PriceDeck {
                        product: p,
                        year: *year,
                    },
                ) {
                    points.push(id);
                }
            }
            let first =
                product.deck.first().map(|(y, _)| *y).ok_or_else(|| {
                    BuildError(format!("product '{name}' has an empty price deck"))
                })?;
            let last = product.deck.last().map(|(y, _)| *y).unwrap_or(first);
            let series = self.c.add_series(first, points);
            let escalation = self.input(
                product.escalation.value,
                InputKey::Product(p, ProductField::Escalation),
            );
            let deck = Expr::Lookup(series, Box::new(Expr::Year))
                * pow(Expr::one() + escalation, pos(Expr::Year - Expr::num(last)));
            let deck = self.c.row(
                format!(
                    "{name}: price deck ({} {})",
                    product.currency.value,
                    product.unit.value.label()
                ),
                Unit::Price,
                deck,
            );
            let mut factor = Expr::one();
            for (record, o) in self.overrides(OverrideKind::PriceCrash) {
                if !Self::targets(&o.product, &name) {
                    continue;
                }
                let crash = self.crash_multiplier(record, o);
                let row = self
                    .c
                    .row(format!("{name}: crash multiplier"), Unit::Ratio, crash);
                factor = factor * Expr::Row(row);
            }
            for (record, o) in self.overrides(OverrideKind::PriceMultiplier) {
                if Self::targets(&o.product, &name) {
                    factor =
                        factor * self.override_input(record, o.value.value, OverrideField::Value);
                }
            }
            if self.price_paths {
                // A simulated path: one multiplier per period, 1 unless a caller sets it.
                let mut ids = Vec::new();
                for t in 0..self.c.periods {
                    let year = self.c.year_of(t);
                    if let Expr::Input(id) =
                        self.input(Decimal::ONE, InputKey::PricePath { product: p, year })
                    {
                        ids.push(id);
                    }
                }
                let series = self.c.add_series(self.c.first_year, ids.clone());
                let path = self.c.row(
                    format!("{name}: simulated price multiplier"),
                    Unit::Ratio,
                    Expr::Lookup(series, Box::new(Expr::Year)),
                );
                factor = factor * Expr::Row(path);
                self.lines.price_paths.push(ids);
            }
            let market = self.c.row(
                format!(
                    "{name}: market price ({} {})",
                    product.currency.value,
                    product.unit.value.label()
                ),
                Unit::Price,
                Expr::Row(deck) * factor,
            );
            let mut conversion = Expr::num(product.unit.value.per_tonne_factor());
            if product.currency.value != deal.currency.value {
                let (k, fx) = deal
                    .fx
                    .iter()
                    .enumerate()
                    .find(|(_, fx)| fx.currency.value == product.currency.value)
                    .ok_or_else(|| {
                        BuildError(format!("no FX rates for {}", product.currency.value))
                    })?;
                let mut points = Vec::new();
                for (year, rate) in &fx.rates {
                    if let Expr::Input(id) = self.input(
                        rate.value,
                        InputKey::FxRate {
                            series: k,
                            year: *year,
                        },
                    ) {
                        points.push(id);
                    }
                }
                let first = fx
                    .rates
                    .first()
                    .map(|(y, _)| *y)
                    .unwrap_or(deal.first_year());
                let series = self.c.add_series(first, points);
                let fx_row = self.c.row(
                    format!("FX: {} per {}", deal.currency.value, fx.currency.value),
                    Unit::Ratio,
                    Expr::Lookup(series, Box::new(Expr::Year)),
                );
                conversion = conversion * Expr::Row(fx_row);
            }
            let deal_price = self.c.row(
                format!("{name}: market price ({} per t)", deal.currency.value),
                Unit::PerTonne,
                Expr::Row(market) * conversion.clone(),
            );
            self.ops.price_unit.push(market);
            self.ops.price_deal.push(deal_price);
            self.ops.conversion.push(conversion);
            self.lines.prices.push((name, market));
        }
        Ok(())
    }

    /// The crash shape of DESIGN.md §4.3, as a multiplier by year: a linear fall over the
    /// fall years to (1 − depth), the bottom for the bottom years, a linear recovery over
    /// the recovery years to (1 − haircut), then (1 − haircut) for good.
    fn crash_multiplier(&mut self, record: Option<OverrideAt>, o: &crate::model::Override) -> Expr {
        let start = self.override_input(
            record,
            o.start_year
                .as_ref()
                .map(|s| Decimal::from(s.value))
                .unwrap_or_default(),
            OverrideField::StartYear,
        );
        let depth = self.override_input(record, o.value.value, OverrideField::Value);
        let fall = self.override_input(record, o.fall_years.value.into(), OverrideField::FallYears);
        let bottom = self.override_input(
            record,
            o.bottom_years.value.into(),
            OverrideField::BottomYears,
        );
        let recovery = self.override_input(
            record,
            o.recovery_years.value.into(),
            OverrideField::RecoveryYears,
        );
        let haircut = self.override_input(record, o.haircut.value, OverrideField::Haircut);
        let k = Expr::Year - start;
        let trough = Expr::one() - depth.clone();
        let falling = Expr::one() - depth.clone() * div(k.clone() + Expr::one(), fall.clone());
        let recovering = trough.clone()
            + (depth - haircut.clone())
                * div(
                    k.clone() - fall.clone() - bottom.clone() + Expr::one(),
                    recovery.clone(),
                );
        if_(
            lt(k.clone(), Expr::zero()),
            Expr::one(),
            if_(
                lt(k.clone(), fall.clone()),
                falling,
                if_(
                    lt(k.clone(), fall.clone() + bottom.clone()),
                    trough,
                    if_(
                        lt(k, fall + bottom + recovery),
                        recovering,
                        Expr::one() - haircut,
                    ),
                ),
            ),
        )
    }

    /// Cost lines; `revenue_based` selects the % of revenue lines (built after revenue).
    fn build_costs(&mut self, revenue_based: bool) -> Result<(), BuildError> {
        self.c.section(if revenue_based {
            "Costs on revenue"
        } else {
            "Costs"
        });
        let deal = self.deal;
        for (l, line) in deal.costs.iter().enumerate() {
            if (line.basis.value == CostBasis::PercentOfRevenue) != revenue_based {
                continue;
            }
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
            let mut mult = Expr::one();
            if category == CostCategory::DevelopmentCapex {
                for (record, o) in self.overrides(OverrideKind::CapexOverrun) {
                    if Self::targets(&o.facility, &fname) {
                        mult =
                            mult + self.override_input(record, o.value.value, OverrideField::Value);
                    }
                }
            }
            if category.is_operating() {
                for (record, o) in self.overrides(OverrideKind::OpexMultiplier) {
                    if Self::targets(&o.facility, &fname) {
                        mult =
                            mult * self.override_input(record, o.value.value, OverrideField::Value);
                    }
                }
            }
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
        }
        if !revenue_based {
            // Feed bought at market.
            for (i, f) in deal.facilities.iter().enumerate() {
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
        }
        Ok(())
    }

    fn build_revenue(&mut self) -> Result<(), BuildError> {
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
        // Each facility's share of the sales and support, split exactly (`allocate`): the
        // parts, whole cents, add up to the product's amounts.
        let weights: Vec<Expr> = outputs.iter().map(|r| Expr::Row(*r)).collect();
        let split =
            |b: &mut Self, amount: Expr| b.allocate(amount, &weights, Some(Expr::Row(sellable)));
        let total = sum(revenue.iter().map(|r| Expr::Row(*r)).collect());
        let sales_parts = split(self, total);
        let support_parts: Vec<(Vec<Expr>, Vec<Expr>)> = supports
            .iter()
            .map(|&(payout, upside)| {
                (
                    split(self, Expr::Row(payout)),
                    split(self, Expr::Row(upside)),
                )
            })
            .collect();
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
        let volume = self.c.row(
            format!("{cname}: contracted volume"),
            Unit::Tonnes,
            Expr::Row(sellable) * share * active,
        );
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
