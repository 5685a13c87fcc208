//! Production: each facility's capacity through its phases and ramp-up, capped by the
//! feed it can get; a source's output shared among the facilities it feeds (by their feed
//! shares, or pro rata to what each can take); what is left to sell.

use rust_decimal::Decimal;

use super::{BuildError, Builder};
use crate::engine::calc::{Expr, RowId, Unit, ge, if_, le, min2, safe_div, sum};
use crate::model::key::{FacilityField, InputKey, OverrideField};
use crate::model::{FeedSource, OverrideKind, Phase};

/// A facility's feed share of its source's output, when given.
fn feed_share(f: &crate::model::Facility) -> Option<Decimal> {
    match &f.feed.as_ref()?.source {
        FeedSource::Facility { share, .. } => share.as_ref().map(|s| s.value),
        FeedSource::Market { .. } => None,
    }
}

impl Builder<'_> {
    /// Each facility's production in feed order (a source before what it feeds, sharing its
    /// output among them), then what each has to sell: production less feed transferred.
    pub(super) fn build_production(&mut self) -> Result<(), BuildError> {
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
                ..super::FacilityLines::default()
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
            self.feed_by_shares(&source, &consumers, shares, production, available);
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
        self.feed_pro_rata(&source, &consumers, production, target, demand, available)
    }

    /// Each consumer's feed from a source when every one has a feed share: that share of
    /// the source's production.
    fn feed_by_shares(
        &mut self,
        source: &str,
        consumers: &[usize],
        shares: Vec<Option<Decimal>>,
        production: RowId,
        available: &mut [Option<Expr>],
    ) {
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
    }

    /// Each consumer's feed from a source without feed shares: pro rata to the feed each can
    /// take, all of it when there is enough.
    fn feed_pro_rata(
        &mut self,
        source: &str,
        consumers: &[usize],
        production: RowId,
        target: &[RowId],
        demand: &mut [Option<RowId>],
        available: &mut [Option<Expr>],
    ) -> Result<(), BuildError> {
        let mut wanted = Vec::new();
        for &j in consumers {
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
}
