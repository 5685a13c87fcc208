//! Prices: each product's deck by year (escalated after its last year), the scenario's
//! crashes and multipliers, a simulated path's multipliers, and the conversion to the deal
//! currency per tonne.

use rust_decimal::Decimal;

use super::{BuildError, Builder};
use crate::engine::calc::{Expr, RowId, Unit, div, if_, lt, pos, pow};
use crate::model::OverrideKind;
use crate::model::key::{InputKey, OverrideAt, OverrideField, ProductField};

impl Builder<'_> {
    /// Every product's market price, in deal order.
    pub(super) fn build_prices(&mut self) -> Result<(), BuildError> {
        self.c.section("Market prices");
        for p in 0..self.deal.products.len() {
            self.product_prices(p)?;
        }
        Ok(())
    }

    /// Product `p`'s market price: its deck times the scenario's crashes and multipliers
    /// (and a simulated path's), in its own unit and currency and per tonne in the deal's.
    fn product_prices(&mut self, p: usize) -> Result<(), BuildError> {
        let deal = self.deal;
        let product = &deal.products[p];
        let name = product.name.value.clone();
        let deck = self.price_deck(p)?;
        let factor = self.price_factor(p);
        let market = self.c.row(
            format!(
                "{name}: market price ({} {})",
                product.currency.value,
                product.unit.value.label()
            ),
            Unit::Price,
            Expr::Row(deck) * factor,
        );
        let conversion = self.price_conversion(p)?;
        let deal_price = self.c.row(
            format!("{name}: market price ({} per t)", deal.currency.value),
            Unit::PerTonne,
            Expr::Row(market) * conversion.clone(),
        );
        self.ops.price_unit.push(market);
        self.ops.price_deal.push(deal_price);
        self.ops.conversion.push(conversion);
        self.lines.prices.push((name, market));
        Ok(())
    }

    /// Product `p`'s price deck by year, escalated after its last year.
    fn price_deck(&mut self, p: usize) -> Result<RowId, BuildError> {
        let product = &self.deal.products[p];
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
        let first = product
            .deck
            .first()
            .map(|(y, _)| *y)
            .ok_or_else(|| BuildError(format!("product '{name}' has an empty price deck")))?;
        let last = product.deck.last().map(|(y, _)| *y).unwrap_or(first);
        let series = self.c.add_series(first, points);
        let escalation = self.input(
            product.escalation.value,
            InputKey::Product(p, ProductField::Escalation),
        );
        let deck = Expr::Lookup(series, Box::new(Expr::Year))
            * pow(Expr::one() + escalation, pos(Expr::Year - Expr::num(last)));
        Ok(self.c.row(
            format!(
                "{name}: price deck ({} {})",
                product.currency.value,
                product.unit.value.label()
            ),
            Unit::Price,
            deck,
        ))
    }

    /// What the scenario multiplies product `p`'s deck by: its price crashes (one row each),
    /// its price multipliers, and with price paths the simulated multiplier of each period.
    fn price_factor(&mut self, p: usize) -> Expr {
        let name = self.deal.products[p].name.value.clone();
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
                factor = factor * self.override_input(record, o.value.value, OverrideField::Value);
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
        factor
    }

    /// Converts product `p`'s price to the deal currency per tonne: its unit's tonnes, and
    /// the FX rate by year where its currency is not the deal's.
    fn price_conversion(&mut self, p: usize) -> Result<Expr, BuildError> {
        let deal = self.deal;
        let product = &deal.products[p];
        let mut conversion = Expr::num(product.unit.value.per_tonne_factor());
        if product.currency.value != deal.currency.value {
            let (k, fx) = deal
                .fx
                .iter()
                .enumerate()
                .find(|(_, fx)| fx.currency.value == product.currency.value)
                .ok_or_else(|| BuildError(format!("no FX rates for {}", product.currency.value)))?;
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
        Ok(conversion)
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
}
