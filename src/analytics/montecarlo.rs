//! Monte Carlo price paths: many futures of the simulated prices, each run through the full
//! engine and waterfall in exact decimals, summarised per party, tranche and government.
//!
//! A path. For each simulated product (the Monte Carlo sheet), x is the log of the price's
//! ratio to the deck, 0 at the model start. Each period it becomes
//!   x ← e^(−κ)·x + σ·√((1 − e^(−2κ))/(2κ))·ε + Σ jumps      (σ·ε when κ = 0)
//! (the exact yearly step of an Ornstein–Uhlenbeck process reverting at speed κ), where ε are
//! standard normals correlated between products through the Cholesky factor of the
//! correlation matrix, and the jumps are a Poisson number (mean: the jump intensity) of
//! normal falls in log price, each N(ln(1 − jump mean), jump spread²). Crashes are
//! independent between products; only the yearly shocks are correlated. The period's price
//! multiplier is e^(x − k_t), where k_t = ln E[e^(x_t)] is the convexity correction of that
//! year (half the variance x has built up, plus the crashes' compensator): each year's
//! simulated price has the deck (after the scenario) as its expectation, and its median lies
//! below it. It is drawn in floating point, kept within 0.000001 and 1,000, rounded to 6
//! decimal places through its text and turned into a `Decimal`; from there on everything is
//! exact. Each period draws, in order: one normal per simulated product, then per product its
//! jump count and one normal per jump.
//!
//! Determinism. A path's random numbers come from a generator seeded with (seed, path index)
//! alone (`random`), so a path is a pure function of (deal, scenario, seed, path index):
//! `path` computes one from nothing else. A run's statistics are sums of the paths' values
//! rounded to 6 decimal places (exact in `Decimal`, so any grouping gives the same sum),
//! counts, minima, maxima and quantile sketches that merge by adding counts: the same seed
//! gives the same bytes whatever the number of threads, and runs over disjoint ranges of
//! paths merge exactly (`Summary::merge`), so a run can be sharded across machines.
//!
//! Memory is flat in the number of paths: a path's values are folded into the statistics
//! and dropped. Quantiles (P5 … P95) come from the sketch: within 0.1% (relative) of the
//! exact quantile of the simulated values, the value of 0-based rank ⌊q·(n − 1)⌋.
//!
//! Owns the paths, the statistics and the run. Must not print, write or read the clock:
//! progress goes to the caller's callback.

use std::ops::Range;

use rayon::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

use super::random::{Normals, Xoshiro256};
use super::sketch::{Sketch, to_f64};
use super::{AnalyticsError, PROJECT_LABEL, equity_holders, equity_label};
use crate::engine::calc::{EPS, Partial, ScalarId, Values};
use crate::engine::results::as_text;
use crate::engine::rules::LedgerPartyKind;
use crate::engine::{self, EngineError, Prepared};
use crate::model::correlation::cholesky;
use crate::model::{CompletionSupport, Deal, Scenario};

/// Simulated multipliers enter the engine with this many decimal places.
pub const MULTIPLIER_DP: u32 = 6;
/// A path's metrics are summed with this many decimal places (a millionth of a currency
/// unit), which keeps every sum exact.
pub const METRIC_DP: u32 = 6;
/// How a path's metric is rounded to `METRIC_DP` (Excel's ROUND: half away from zero).
pub const METRIC_ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;
/// A simulated multiplier is kept within these (a price never reaches 0 nor runs away).
pub const MIN_MULTIPLIER: f64 = 0.000001;
pub const MAX_MULTIPLIER: f64 = 1000.0;
/// The most paths one run takes.
pub const MAX_PATHS: u64 = 1_000_000_000;

/// What a recorded metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// The project's unlevered NPV after tax.
    ProjectNpv,
    /// A party's NPV at its own rate (or the sum over the equity holders).
    Npv,
    /// A loan's loss given default (exposure at default less the PV of recoveries at its
    /// contract rate, before guarantees).
    TrancheLoss,
    /// A government's price-floor payments over the horizon.
    FloorPayout,
    /// A government's guarantee calls over the horizon.
    GuaranteeCalls,
}

/// One recorded metric: a scalar of the calculation, or the sum of several.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    /// For an NPV: the party's kind ("sponsor", "government"…); "project" or "equity".
    pub group: String,
    scalars: Vec<ScalarId>,
}

/// A product's process in floating point, ready to draw.
#[derive(Debug, Clone)]
struct Drawn {
    /// Index into the deal's products (and the prepared price paths).
    product: usize,
    decay: f64,
    shock_sd: f64,
    intensity: f64,
    jump_log_mean: f64,
    jump_spread: f64,
    /// k_t = ln E[e^(x_t)] for each period t (see `convexity`).
    convexity: Vec<f64>,
}

/// ln E[e^(x_t)] for t = 1..=periods, so that e^(x_t − k_t) has expectation 1 in law. x_t is a
/// sum of independent yearly innovations, the one of year t − j scaled by d^j (d = e^(−κ)):
/// a normal of standard deviation s, and a Poisson(λ) number of jumps N(μ, σ²). For a
/// scale a, E[e^(a·shock)] = e^(a²s²/2) and E[e^(a·jumps)] = e^(λ(e^(aμ + a²σ²/2) − 1)), so
/// k_t = Σ_{j<t} [ (d^j s)²/2 + λ(e^(d^j μ + (d^j σ)²/2) − 1) ].
fn convexity(
    decay: f64,
    shock_sd: f64,
    intensity: f64,
    jump_log_mean: f64,
    jump_spread: f64,
    periods: usize,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(periods);
    let mut k = 0.0;
    let mut a = 1.0;
    for _ in 0..periods {
        let shock = a * shock_sd;
        let jump = a * jump_spread;
        k += shock * shock / 2.0;
        if intensity > 0.0 {
            k += intensity * (libm::exp(a * jump_log_mean + jump * jump / 2.0) - 1.0);
        }
        out.push(k);
        a *= decay;
    }
    out
}

/// A scenario prepared for many paths.
pub struct Simulation {
    pub scenario: String,
    prepared: Prepared,
    plan: Partial,
    drawn: Vec<Drawn>,
    /// Lower-triangular Cholesky factor of the correlations, in floating point.
    factor: Vec<Vec<f64>>,
    periods: usize,
    pub metrics: Vec<Metric>,
    /// The project's unfunded construction gap, where the deal has no completion support: a
    /// path with one is infeasible, counted apart and left out of every statistic.
    unfunded: Option<ScalarId>,
    /// The simulated products' names, in Monte Carlo sheet order.
    pub products: Vec<String>,
}

/// Reused buffers of one thread.
pub struct Workspace {
    inputs: Vec<Decimal>,
    values: Values,
}

/// One path: its multipliers (per simulated product, per period) and its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct PathResult {
    pub multipliers: Vec<Vec<Decimal>>,
    pub metrics: Vec<Decimal>,
    /// The construction gap the path left unfunded (0: the path is feasible).
    pub unfunded: Decimal,
}

fn decimal_from_text(x: f64) -> Decimal {
    let text = format!("{x:.0$}", MULTIPLIER_DP as usize);
    text.parse::<Decimal>().unwrap_or(Decimal::ONE).normalize()
}

/// A multiplier as it enters the engine: clamped, rounded to 6 places through its text.
pub fn multiplier(x: f64) -> Decimal {
    let x = if x.is_nan() {
        1.0
    } else {
        x.clamp(MIN_MULTIPLIER, MAX_MULTIPLIER)
    };
    decimal_from_text(x)
}

fn f64_of(d: Decimal) -> f64 {
    to_f64(d)
}

impl Simulation {
    /// Prepares `scenario` of `deal` for simulation: the calculation built once, the rows
    /// that cannot move with prices evaluated once, the processes and the correlation factor.
    pub fn new(deal: &Deal, scenario: &Scenario) -> Result<Simulation, AnalyticsError> {
        let mc = deal
            .monte_carlo
            .as_ref()
            .filter(|m| !m.processes.is_empty())
            .ok_or_else(|| {
                AnalyticsError::Input(
                    "the deal has no Monte Carlo sheet with a product on it (fill in the Monte Carlo sheet: a row per simulated product with its volatility, reversion and jumps; `lodestone template --example ndpr-joint-facility` shows one)".into(),
                )
            })?;
        if mc.processes.len() > crate::model::MonteCarlo::MAX_PRODUCTS {
            return Err(AnalyticsError::Input(format!(
                "the Monte Carlo sheet simulates {} products, more than the {} Lodestone simulates together",
                mc.processes.len(),
                crate::model::MonteCarlo::MAX_PRODUCTS
            )));
        }
        let factor = cholesky(&mc.matrix()).map_err(|e| {
            AnalyticsError::Input(format!(
                "the Monte Carlo sheet's correlations are not a valid correlation matrix: {e}"
            ))
        })?;
        let factor: Vec<Vec<f64>> = factor
            .iter()
            .map(|row| row.iter().map(|v| f64_of(*v)).collect())
            .collect();
        let mut position: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::with_capacity(deal.products.len());
        for (i, q) in deal.products.iter().enumerate() {
            position.entry(q.name.value.as_str()).or_insert(i);
        }
        let mut drawn = Vec::new();
        for p in &mc.processes {
            let product = position
                .get(p.product.value.as_str())
                .copied()
                .ok_or_else(|| {
                    AnalyticsError::Input(format!(
                        "the Monte Carlo sheet simulates '{}', which has no price deck",
                        p.product.value
                    ))
                })?;
            let kappa = f64_of(p.reversion.value);
            let sigma = f64_of(p.volatility.value);
            let decay = libm::exp(-kappa);
            let shock_sd = if kappa > 0.0 {
                sigma * libm::sqrt((1.0 - decay * decay) / (2.0 * kappa))
            } else {
                sigma
            };
            let intensity = f64_of(p.jump_intensity.value);
            let jump_log_mean = libm::log(1.0 - f64_of(p.jump_mean.value));
            let jump_spread = f64_of(p.jump_spread.value);
            drawn.push(Drawn {
                product,
                decay,
                shock_sd,
                intensity,
                jump_log_mean,
                jump_spread,
                convexity: convexity(
                    decay,
                    shock_sd,
                    intensity,
                    jump_log_mean,
                    jump_spread,
                    deal.horizon_years.value as usize,
                ),
            });
        }
        let profiles = engine::sculpt_profiles(deal)?;
        let prepared = engine::prepare(deal, scenario, &profiles)?;
        let metrics = metrics(deal, &prepared);
        let unfunded = match deal.completion_support.value {
            CompletionSupport::NoSupport => prepared.built.lines.project.funding_gap,
            CompletionSupport::Shareholding => None,
        };
        let needed: Vec<ScalarId> = metrics
            .iter()
            .flat_map(|m| m.scalars.iter().copied())
            .chain(unfunded)
            .collect();
        let plan = prepared.partial(Some(&needed), true)?;
        Ok(Simulation {
            scenario: scenario.name.value.clone(),
            periods: prepared.built.calc.periods,
            prepared,
            plan,
            drawn,
            factor,
            metrics,
            unfunded,
            products: mc
                .processes
                .iter()
                .map(|p| p.product.value.clone())
                .collect(),
        })
    }

    /// The engine's prepared calculation (its lines, its base values).
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The evaluation with every multiplier at 1.
    pub fn base_values(&self) -> &Values {
        self.plan.base()
    }

    pub fn workspace(&self) -> Workspace {
        Workspace {
            inputs: self.prepared.inputs().to_vec(),
            values: self.plan.base().clone(),
        }
    }

    /// The multipliers of path `path` of a run seeded `seed`: per simulated product (in
    /// Monte Carlo sheet order), per period. A pure function of the deal, the seed and the
    /// path index.
    pub fn multipliers(&self, seed: u64, path: u64) -> Vec<Vec<Decimal>> {
        let mut normals = Normals::new(Xoshiro256::for_path(seed, path));
        let k = self.drawn.len();
        let mut x = vec![0.0f64; k];
        let mut z = vec![0.0f64; k];
        let mut out: Vec<Vec<Decimal>> = vec![Vec::with_capacity(self.periods); k];
        for t in 0..self.periods {
            for zi in z.iter_mut() {
                *zi = normals.standard();
            }
            for (i, d) in self.drawn.iter().enumerate() {
                let shock: f64 = self.factor[i]
                    .iter()
                    .zip(&z)
                    .take(i + 1)
                    .map(|(l, z)| l * z)
                    .sum();
                let mut jumps = 0.0;
                for _ in 0..normals.poisson(d.intensity) {
                    jumps += d.jump_log_mean + d.jump_spread * normals.standard();
                }
                x[i] = d.decay * x[i] + d.shock_sd * shock + jumps;
                let k = d.convexity.get(t).copied().unwrap_or_default();
                out[i].push(multiplier(libm::exp(x[i] - k)));
            }
        }
        out
    }

    /// One path's metrics (each rounded to 6 places), in `metrics` order.
    pub fn path(
        &self,
        seed: u64,
        path: u64,
        work: &mut Workspace,
    ) -> Result<PathResult, EngineError> {
        let multipliers = self.multipliers(seed, path);
        let metrics = self.evaluate(&multipliers, work)?;
        let unfunded = self
            .unfunded
            .and_then(|s| work.values.scalar(s))
            .unwrap_or_default();
        Ok(PathResult {
            multipliers,
            metrics,
            unfunded,
        })
    }

    /// The metrics with these multipliers.
    pub fn evaluate(
        &self,
        multipliers: &[Vec<Decimal>],
        work: &mut Workspace,
    ) -> Result<Vec<Decimal>, EngineError> {
        let paths = self.prepared.price_path_inputs();
        for (d, m) in self.drawn.iter().zip(multipliers) {
            if let Some(ids) = paths.get(d.product) {
                for (id, v) in ids.iter().zip(m) {
                    work.inputs[*id] = *v;
                }
            }
        }
        self.prepared
            .evaluate_partial(&self.plan, &work.inputs, &mut work.values)?;
        Ok(self
            .metrics
            .iter()
            .map(|m| {
                m.scalars
                    .iter()
                    .map(|s| work.values.scalar(*s).unwrap_or_default())
                    .fold(Decimal::ZERO, |a, b| a.saturating_add(b))
                    .round_dp_with_strategy(METRIC_DP, METRIC_ROUNDING)
            })
            .collect())
    }

    /// Paths `paths` of a run seeded `seed`, summarised; `progress` is called with 1 after
    /// each path. Runs on the current rayon pool. When paths fail, the error of the one with
    /// the smallest index is returned (whatever the threads did first).
    pub fn run(
        &self,
        seed: u64,
        paths: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Summary, AnalyticsError> {
        let n = self.metrics.len();
        type Acc = (Summary, Option<(u64, EngineError)>, Workspace);
        let fold = |(mut summary, mut failed, mut work): Acc, p: u64| -> Acc {
            match self.path(seed, p, &mut work) {
                Ok(r) if r.unfunded > EPS => summary.add_unfunded(),
                Ok(r) => summary.add(&r.metrics),
                Err(e) => {
                    if failed.as_ref().is_none_or(|(q, _)| p < *q) {
                        failed = Some((p, e));
                    }
                }
            }
            progress(1);
            (summary, failed, work)
        };
        let (summary, failed) = paths
            .into_par_iter()
            .fold(|| (Summary::new(n), None, self.workspace()), fold)
            .map(|(s, f, _)| (s, f))
            .reduce(
                || (Summary::new(n), None),
                |(mut a, fa), (b, fb)| {
                    a.merge(&b);
                    let failed = match (fa, fb) {
                        (Some(x), Some(y)) => Some(if x.0 <= y.0 { x } else { y }),
                        (x, y) => x.or(y),
                    };
                    (a, failed)
                },
            );
        if let Some((p, e)) = failed {
            return Err(AnalyticsError::Input(format!("path {p}: {e}")));
        }
        if summary.overflowed {
            return Err(AnalyticsError::Input(
                "a sum of path values is too large for exact arithmetic".into(),
            ));
        }
        Ok(summary)
    }

    /// The simulated price of each product by year, at some percentiles, over the first
    /// `paths` paths (a fixed-size sample, for the fan chart): per product, per period,
    /// (deck price, the quantiles in `qs` order). Prices in the product's own unit.
    pub fn price_fan(
        &self,
        seed: u64,
        paths: u64,
        qs: &[f64],
    ) -> Vec<Vec<(Decimal, Vec<Decimal>)>> {
        let k = self.drawn.len();
        let mut samples: Vec<Vec<Vec<Decimal>>> = vec![vec![Vec::new(); self.periods]; k];
        for p in 0..paths {
            for (i, m) in self.multipliers(seed, p).into_iter().enumerate() {
                for (t, v) in m.into_iter().enumerate() {
                    samples[i][t].push(v);
                }
            }
        }
        let lines = &self.prepared.built.lines;
        let base = self.plan.base();
        self.drawn
            .iter()
            .zip(samples)
            .map(|(d, per_period)| {
                let deck: Vec<Decimal> = lines
                    .prices
                    .get(d.product)
                    .map(|(_, row)| base.row(*row).to_vec())
                    .unwrap_or_default();
                per_period
                    .into_iter()
                    .enumerate()
                    .map(|(t, mut v)| {
                        v.sort();
                        let price = deck.get(t).copied().unwrap_or_default();
                        let quantiles = qs
                            .iter()
                            .map(|q| {
                                let rank = libm::floor(q * (v.len().max(1) - 1) as f64) as usize;
                                let m = v.get(rank).copied().unwrap_or(Decimal::ONE);
                                price.checked_mul(m).unwrap_or_default()
                            })
                            .collect();
                        (price, quantiles)
                    })
                    .collect()
            })
            .collect()
    }
}

/// One path of `scenario` on `deal` from nothing but (deal, scenario, seed, path index): the
/// contract that lets runs shard and merge. (A `Simulation` computes the same, faster.)
pub fn path(
    deal: &Deal,
    scenario: &Scenario,
    seed: u64,
    index: u64,
) -> Result<PathResult, AnalyticsError> {
    let sim = Simulation::new(deal, scenario)?;
    let mut work = sim.workspace();
    Ok(sim.path(seed, index, &mut work)?)
}

/// What a path records: the project, each of the deal's parties (and the equity holders
/// together when there are several), each loan's loss, each government's floor payments
/// and guarantee calls.
fn metrics(deal: &Deal, prepared: &Prepared) -> Vec<Metric> {
    let built = &prepared.built;
    let lines = &built.lines;
    let mut out = Vec::new();
    if let Some(npv) = lines.project.npv_post_tax {
        out.push(Metric {
            name: PROJECT_LABEL.to_string(),
            kind: MetricKind::ProjectNpv,
            group: "project".into(),
            scalars: vec![npv],
        });
    }
    let holders = equity_holders(deal, &built.parties);
    if holders.len() > 1 {
        out.push(Metric {
            name: equity_label(&built.parties, &holders),
            kind: MetricKind::Npv,
            group: "equity".into(),
            scalars: holders
                .iter()
                .filter_map(|p| lines.parties.get(*p).map(|l| l.npv))
                .collect(),
        });
    }
    for (p, party) in built.parties.iter().enumerate() {
        if let LedgerPartyKind::Deal(kind) = party.kind
            && let Some(l) = lines.parties.get(p)
        {
            out.push(Metric {
                name: party.name.clone(),
                kind: MetricKind::Npv,
                group: kind.label().to_string(),
                scalars: vec![l.npv],
            });
        }
    }
    for t in &lines.tranches {
        if let Some(loss) = t.loss {
            out.push(Metric {
                name: deal.tranches[t.tranche].name.value.clone(),
                kind: MetricKind::TrancheLoss,
                group: deal.tranches[t.tranche].kind.value.label().to_string(),
                scalars: vec![loss],
            });
        }
    }
    for g in &lines.governments {
        let name = built.parties[g.party].name.clone();
        out.push(Metric {
            name: name.clone(),
            kind: MetricKind::FloorPayout,
            group: "government".into(),
            scalars: vec![g.floor_payout],
        });
        out.push(Metric {
            name,
            kind: MetricKind::GuaranteeCalls,
            group: "government".into(),
            scalars: vec![g.guarantee_calls],
        });
    }
    out
}

/// The streamed statistics of one metric.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stat {
    pub count: u64,
    /// Exact: the values are rounded to 6 places before they are added.
    pub sum: Decimal,
    /// Paths with a value below 0 (a negative NPV).
    pub negative: u64,
    /// Paths with a value above the engine's zero, 0.000001 (a loss, a payout).
    pub positive: u64,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub sketch: Sketch,
}

impl Stat {
    fn add(&mut self, v: Decimal) -> bool {
        self.count += 1;
        let ok = match self.sum.checked_add(v) {
            Some(s) => {
                self.sum = s;
                true
            }
            None => false,
        };
        if v.is_sign_negative() && !v.is_zero() {
            self.negative += 1;
        }
        if v > EPS {
            self.positive += 1;
        }
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        self.sketch.add(v);
        ok
    }

    fn merge(&mut self, other: &Stat) -> bool {
        self.count += other.count;
        let ok = match self.sum.checked_add(other.sum) {
            Some(s) => {
                self.sum = s;
                true
            }
            None => false,
        };
        self.negative += other.negative;
        self.positive += other.positive;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.sketch.merge(&other.sketch);
        ok
    }

    /// The mean, to 6 places.
    pub fn mean(&self) -> Option<Decimal> {
        if self.count == 0 {
            return None;
        }
        self.sum
            .checked_div(Decimal::from(self.count))
            .map(|m| m.round_dp_with_strategy(METRIC_DP, METRIC_ROUNDING))
    }

    /// The share of paths with a negative value.
    pub fn share_negative(&self) -> Option<Decimal> {
        share(self.negative, self.count)
    }

    /// The share of paths with a value above zero.
    pub fn share_positive(&self) -> Option<Decimal> {
        share(self.positive, self.count)
    }

    /// The q-quantile from the sketch (see the module header), to the cent, within the
    /// exact minimum and maximum.
    pub fn quantile(&self, q: f64) -> Option<Decimal> {
        let x = self.sketch.quantile(q)?;
        let d = format!("{x:.2}").parse::<Decimal>().ok()?;
        let d = match (self.min, self.max) {
            (Some(lo), Some(hi)) => d.clamp(lo, hi),
            _ => d,
        };
        Some(d.normalize())
    }
}

fn share(n: u64, of: u64) -> Option<Decimal> {
    if of == 0 {
        return None;
    }
    Decimal::from(n).checked_div(Decimal::from(of))
}

/// A run's statistics, one per metric: mergeable, in any order, exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub paths: u64,
    /// Paths that left a construction gap unfunded: in `paths`, in no statistic.
    pub unfunded: u64,
    pub stats: Vec<Stat>,
    overflowed: bool,
}

impl Summary {
    pub fn new(metrics: usize) -> Self {
        Summary {
            paths: 0,
            unfunded: 0,
            stats: vec![Stat::default(); metrics],
            overflowed: false,
        }
    }

    pub fn add(&mut self, values: &[Decimal]) {
        self.paths += 1;
        for (s, v) in self.stats.iter_mut().zip(values) {
            if !s.add(*v) {
                self.overflowed = true;
            }
        }
    }

    /// Counts an infeasible path (an unfunded construction gap): it has no NPV to add.
    pub fn add_unfunded(&mut self) {
        self.paths += 1;
        self.unfunded += 1;
    }

    /// Adds another run's paths (a disjoint range of the same seed, say).
    pub fn merge(&mut self, other: &Summary) {
        self.paths += other.paths;
        self.unfunded += other.unfunded;
        self.overflowed |= other.overflowed;
        for (s, o) in self.stats.iter_mut().zip(&other.stats) {
            if !s.merge(o) {
                self.overflowed = true;
            }
        }
    }
}

/// A histogram from a metric's sketch: `bins` equal bins from its 0.5th to its 99.5th
/// percentile (the rest counted below and above), each path counted in the bin of its
/// sketch bucket's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// (from, to, paths).
    pub bins: Vec<(Decimal, Decimal, u64)>,
    pub below: u64,
    pub above: u64,
}

pub fn histogram(stat: &Stat, bins: usize) -> Option<Histogram> {
    let lo = stat.sketch.quantile(0.005)?;
    let hi = stat.sketch.quantile(0.995)?;
    let bins = bins.max(1);
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        0.0
    };
    let mut counts = vec![0u64; if width > 0.0 { bins } else { 1 }];
    let (mut below, mut above) = (0, 0);
    for (v, n) in stat.sketch.buckets() {
        if v < lo {
            below += n;
        } else if v > hi {
            above += n;
        } else if width > 0.0 {
            let k = (((v - lo) / width) as usize).min(bins - 1);
            counts[k] += n;
        } else {
            counts[0] += n;
        }
    }
    let edge = |x: f64| format!("{x:.0}").parse::<Decimal>().unwrap_or_default();
    Some(Histogram {
        bins: counts
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let from = lo + width * k as f64;
                let to = if width > 0.0 { from + width } else { hi };
                (edge(from), edge(to), *n)
            })
            .collect(),
        below,
        above,
    })
}

/// The percentiles reported for NPVs.
pub const PERCENTILES: [(&str, f64); 5] = [
    ("P5", 0.05),
    ("P10", 0.10),
    ("P50", 0.50),
    ("P90", 0.90),
    ("P95", 0.95),
];

/// A party's NPV distribution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartyRow {
    pub name: String,
    pub group: String,
    #[serde(serialize_with = "as_text::opt")]
    pub mean: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p5: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p10: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p50: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p90: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p95: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub probability_negative: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub min: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub max: Option<Decimal>,
    #[serde(skip)]
    pub stat: usize,
}

/// A loan's losses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrancheRow {
    pub name: String,
    pub kind: String,
    #[serde(serialize_with = "as_text::opt")]
    pub probability_of_loss: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub expected_loss: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p95_loss: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub max_loss: Option<Decimal>,
    #[serde(skip)]
    pub stat: usize,
}

/// A government's contingent payments.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GovernmentRow {
    pub name: String,
    #[serde(serialize_with = "as_text::opt")]
    pub probability_floor_payout: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub expected_floor_payout: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p95_floor_payout: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub probability_guarantee_call: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub expected_guarantee_calls: Option<Decimal>,
    #[serde(serialize_with = "as_text::opt")]
    pub p95_guarantee_calls: Option<Decimal>,
    #[serde(skip)]
    pub stats: (usize, usize),
}

/// What a run says, in the order the outputs show it (exact text in the JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The share of paths that left a construction gap unfunded (a deal without completion
    /// support): infeasible, and left out of every statistic below.
    #[serde(serialize_with = "as_text::opt")]
    pub probability_unfunded: Option<Decimal>,
    pub paths_unfunded: u64,
    pub parties: Vec<PartyRow>,
    pub tranches: Vec<TrancheRow>,
    pub governments: Vec<GovernmentRow>,
}

pub fn report(sim: &Simulation, summary: &Summary) -> Report {
    let mut parties = Vec::new();
    let mut tranches = Vec::new();
    let mut governments: Vec<GovernmentRow> = Vec::new();
    for (i, (m, st)) in sim.metrics.iter().zip(&summary.stats).enumerate() {
        match m.kind {
            MetricKind::ProjectNpv | MetricKind::Npv => parties.push(PartyRow {
                name: m.name.clone(),
                group: m.group.clone(),
                mean: st.mean(),
                p5: st.quantile(0.05),
                p10: st.quantile(0.10),
                p50: st.quantile(0.50),
                p90: st.quantile(0.90),
                p95: st.quantile(0.95),
                probability_negative: st.share_negative(),
                min: st.min,
                max: st.max,
                stat: i,
            }),
            MetricKind::TrancheLoss => tranches.push(TrancheRow {
                name: m.name.clone(),
                kind: m.group.clone(),
                probability_of_loss: st.share_positive(),
                expected_loss: st.mean(),
                p95_loss: st.quantile(0.95),
                max_loss: st.max,
                stat: i,
            }),
            MetricKind::FloorPayout => governments.push(GovernmentRow {
                name: m.name.clone(),
                probability_floor_payout: st.share_positive(),
                expected_floor_payout: st.mean(),
                p95_floor_payout: st.quantile(0.95),
                probability_guarantee_call: None,
                expected_guarantee_calls: None,
                p95_guarantee_calls: None,
                stats: (i, i),
            }),
            MetricKind::GuaranteeCalls => {
                if let Some(g) = governments.iter_mut().find(|g| g.name == m.name) {
                    g.probability_guarantee_call = st.share_positive();
                    g.expected_guarantee_calls = st.mean();
                    g.p95_guarantee_calls = st.quantile(0.95);
                    g.stats.1 = i;
                }
            }
        }
    }
    Report {
        probability_unfunded: share(summary.unfunded, summary.paths),
        paths_unfunded: summary.unfunded,
        parties,
        tranches,
        governments,
    }
}

#[derive(serde::Serialize)]
struct JsonProcess<'a> {
    product: &'a str,
    volatility: String,
    reversion: String,
    jump_intensity: String,
    jump_mean: String,
    jump_spread: String,
}

#[derive(serde::Serialize)]
struct JsonRun<'a> {
    deal: &'a str,
    currency: &'a str,
    scenario: &'a str,
    paths: u64,
    seed: u64,
    method: &'static str,
    processes: Vec<JsonProcess<'a>>,
    correlations: Vec<Vec<String>>,
    #[serde(flatten)]
    report: &'a Report,
}

/// The method in one sentence, for the JSON and the workbook.
pub const METHOD: &str = "Each path: per simulated product, log price relative to the deck mean-reverting (exact yearly Ornstein-Uhlenbeck step) with correlated normal shocks and Poisson crash jumps, less each year's convexity correction ln E[e^x] so that every year's expected price is the deck, drawn in floating point from a generator seeded by (seed, path index), rounded to 6 decimal places and run through the full engine in exact decimals. Means are exact over values rounded to 6 places; percentiles come from a quantile sketch within 0.1% (relative) of the exact sample percentile (0-based rank floor(q(n-1))); probabilities count paths (a loss or payout counts above 0.000001). A loan's loss is its loss given default before guarantees. A path that leaves a construction gap unfunded (a deal without completion support) is infeasible: counted in probability_unfunded and left out of every other statistic.";

/// The run as JSON: settings, the processes and every statistic (decimals as text).
pub fn to_json(deal: &Deal, sim: &Simulation, summary: &Summary, seed: u64) -> String {
    let report = report(sim, summary);
    let processes = deal
        .monte_carlo
        .as_ref()
        .map(|m| {
            m.processes
                .iter()
                .map(|p| JsonProcess {
                    product: &p.product.value,
                    volatility: p.volatility.value.normalize().to_string(),
                    reversion: p.reversion.value.normalize().to_string(),
                    jump_intensity: p.jump_intensity.value.normalize().to_string(),
                    jump_mean: p.jump_mean.value.normalize().to_string(),
                    jump_spread: p.jump_spread.value.normalize().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let correlations = deal
        .monte_carlo
        .as_ref()
        .map(|m| {
            m.matrix()
                .iter()
                .map(|row| row.iter().map(|v| v.normalize().to_string()).collect())
                .collect()
        })
        .unwrap_or_default();
    let doc = JsonRun {
        deal: &deal.name.value,
        currency: &deal.currency.value,
        scenario: &sim.scenario,
        paths: summary.paths,
        seed,
        method: METHOD,
        processes,
        correlations,
        report: &report,
    };
    let mut out =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;
    use rust_decimal_macros::dec;

    fn example(name: &str) -> Deal {
        examples::example(name).expect("example")
    }

    #[test]
    fn multipliers_enter_with_six_places_within_their_bounds() {
        for (x, want) in [
            (1.0, dec!(1)),
            (0.123_456_789, dec!(0.123457)),
            (1.000_000_4, dec!(1)),
            (2.5, dec!(2.5)),
            (0.0, dec!(0.000001)),
            (1e9, dec!(1000)),
            (f64::NAN, dec!(1)),
        ] {
            assert_eq!(multiplier(x), want, "{x}");
        }
    }

    /// With no volatility and no crashes every multiplier is 1 and every path is the base
    /// case, exactly: each metric equals the engine's own run digit for digit.
    #[test]
    fn with_zero_volatility_and_no_jumps_every_path_is_the_base_case() {
        for name in examples::EXAMPLES {
            let mut deal = example(name);
            if let Some(mc) = &mut deal.monte_carlo {
                for p in &mut mc.processes {
                    p.volatility.value = Decimal::ZERO;
                    p.jump_intensity.value = Decimal::ZERO;
                }
            }
            let base = engine::run(&deal, &Scenario::base()).expect("base");
            let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
            let mut work = sim.workspace();
            for p in [0, 1, 17] {
                let r = sim.path(7, p, &mut work).expect("path");
                assert!(
                    r.multipliers.iter().flatten().all(|m| *m == Decimal::ONE),
                    "{name}: path {p}"
                );
                for (m, v) in sim.metrics.iter().zip(&r.metrics) {
                    let want = match m.kind {
                        MetricKind::ProjectNpv => base.project.npv_post_tax,
                        MetricKind::Npv if m.group == "equity" => continue,
                        MetricKind::Npv => {
                            base.party(&m.name).and_then(|p| p.npv).unwrap_or_default()
                        }
                        MetricKind::TrancheLoss => base
                            .tranche(&m.name)
                            .and_then(|t| t.loss)
                            .unwrap_or_default(),
                        MetricKind::FloorPayout => base
                            .government(&m.name)
                            .map(|g| g.floor_payout)
                            .unwrap_or_default(),
                        MetricKind::GuaranteeCalls => base
                            .government(&m.name)
                            .map(|g| g.guarantee_calls)
                            .unwrap_or_default(),
                    };
                    assert_eq!(
                        *v,
                        want.round_dp_with_strategy(METRIC_DP, METRIC_ROUNDING),
                        "{name}: path {p}: {} ({:?})",
                        m.name,
                        m.kind
                    );
                }
            }
        }
    }

    /// Issue 12, finding 8: prices were centred on the deck's median, not its mean. Each
    /// year's simulated price, deck × multiplier, has the deck as its expectation: over
    /// 20,000 paths the sample mean of the multiplier is within three standard errors of 1
    /// in every year, for a mean-reverting price with rare crashes (the NdPr example's) and a
    /// random walk with frequent ones.
    #[test]
    fn each_years_simulated_price_has_the_deck_as_its_mean() {
        let mut deal = example("ndpr-joint-facility");
        for (volatility, reversion, intensity, fall) in [
            (dec!(0.4), dec!(0.3), dec!(0.1), dec!(0.3)),
            (dec!(0.25), dec!(0), dec!(0.5), dec!(0.2)),
        ] {
            if let Some(mc) = &mut deal.monte_carlo {
                let p = &mut mc.processes[0];
                p.volatility.value = volatility;
                p.reversion.value = reversion;
                p.jump_intensity.value = intensity;
                p.jump_mean.value = fall;
            }
            let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
            let n = 20_000u64;
            let periods = deal.horizon_years.value as usize;
            let mut sum = vec![0.0f64; periods];
            let mut squares = vec![0.0f64; periods];
            for path in 0..n {
                for (t, m) in sim.multipliers(11, path)[0].iter().enumerate() {
                    let m = f64_of(*m);
                    sum[t] += m;
                    squares[t] += m * m;
                }
            }
            for t in 0..periods {
                let mean = sum[t] / n as f64;
                let sd = (squares[t] / n as f64 - mean * mean).max(0.0).sqrt();
                let se = sd / (n as f64).sqrt();
                assert!(
                    (mean - 1.0).abs() <= 3.0 * se,
                    "σ {volatility}, κ {reversion}, λ {intensity}: year {t}: mean {mean}, standard error {se}"
                );
            }
            // The median lies below the deck: the correction is not a no-op.
            let mut last: Vec<f64> = (0..2001)
                .map(|path| f64_of(*sim.multipliers(11, path)[0].last().expect("a year")))
                .collect();
            last.sort_by(f64::total_cmp);
            assert!(last[1000] < 0.95, "median {}", last[1000]);
        }
    }

    /// Issue 12, finding 4: every offtaker had a 100% probability of a negative NPV, and
    /// the statistics listed no outside parties only because of the kind filter. Offtakers
    /// are measured on the value of their contracts; the project company, Market, Suppliers
    /// and the bookkeeping party are never statistics.
    #[test]
    fn offtakers_are_valued_on_their_contracts_and_outside_parties_are_no_statistic() {
        let deal = example("ndpr-joint-facility");
        let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
        let built = &sim.prepared().built;
        for (p, party) in built.parties.iter().enumerate() {
            let listed = sim.metrics.iter().any(|m| m.name == party.name);
            assert_eq!(
                listed, !built.lines.parties[p].ledger_only,
                "{}",
                party.name
            );
        }
        let summary = sim.run(1, 0..200, &|_| {}).expect("runs");
        let report = report(&sim, &summary);
        let tokai = report
            .parties
            .iter()
            .find(|x| x.name == "Tokai Magnetics")
            .expect("offtaker");
        let negative: Decimal = tokai.probability_negative.expect("probability");
        assert!(negative < Decimal::ONE, "P(NPV < 0) = {negative}");
    }

    /// The same seed gives the same statistics on one thread and on two, and two ranges of
    /// paths merged give the run over both.
    #[test]
    fn a_run_is_the_same_on_one_and_two_threads_and_shards_merge_exactly() {
        let deal = example("spodumene-crash");
        let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
        let on = |threads: usize, paths: Range<u64>| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| sim.run(2026, paths, &|_| {}))
                .expect("runs")
        };
        let one = on(1, 0..40);
        let two = on(2, 0..40);
        assert_eq!(one, two);
        assert_eq!(one.paths, 40);
        let mut shards = on(2, 0..13);
        shards.merge(&on(1, 13..40));
        assert_eq!(shards, one);
        assert_ne!(
            on(1, 0..40),
            on(1, 1..41),
            "different paths, different numbers"
        );
    }

    #[test]
    fn a_path_is_a_function_of_deal_scenario_seed_and_index_alone() {
        let deal = example("gallium-refinery");
        let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
        let mut work = sim.workspace();
        // Paths evaluated in another order, with a used workspace, agree with fresh ones.
        let later = sim.path(99, 5, &mut work).expect("path");
        let _ = sim.path(99, 4, &mut work).expect("path");
        assert_eq!(path(&deal, &Scenario::base(), 99, 5).expect("path"), later);
        assert_ne!(sim.path(99, 6, &mut work).expect("path"), later);
    }

    /// Gallium's two prices are correlated 0.9: their first-year log multipliers are, too
    /// (within sampling error), and at correlation 1 with the same process they are equal.
    #[test]
    fn correlated_products_move_together() {
        let mut deal = example("gallium-refinery");
        if let Some(mc) = &mut deal.monte_carlo {
            for p in &mut mc.processes {
                p.jump_intensity.value = Decimal::ZERO;
            }
        }
        let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
        let n = 3000;
        let pairs: Vec<(f64, f64)> = (0..n)
            .map(|p| {
                let m = sim.multipliers(1, p);
                (libm::log(to_f64(m[0][0])), libm::log(to_f64(m[1][0])))
            })
            .collect();
        let mean = |f: &dyn Fn(&(f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>() / n as f64;
        let (ma, mb) = (mean(&|p| p.0), mean(&|p| p.1));
        let cov = mean(&|p| (p.0 - ma) * (p.1 - mb));
        let (va, vb) = (mean(&|p| (p.0 - ma).powi(2)), mean(&|p| (p.1 - mb).powi(2)));
        let rho = cov / (va * vb).sqrt();
        assert!((rho - 0.9).abs() < 0.02, "sample correlation {rho}");
        // The first year's shock has the sheet's volatility: 35% at reversion 0.3.
        let sd = va.sqrt();
        let want = 0.35 * ((1.0 - (-0.6f64).exp()) / 0.6).sqrt();
        assert!((sd - want).abs() < 0.015, "sd {sd}, want {want}");
        if let Some(mc) = &mut deal.monte_carlo {
            mc.processes[1].correlations[0].value = Decimal::ONE;
        }
        let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
        let m = sim.multipliers(3, 3);
        assert_eq!(m[0], m[1]);
    }

    #[test]
    fn a_deal_without_a_monte_carlo_sheet_is_refused_with_the_reason() {
        let mut deal = example("ndpr-joint-facility");
        deal.monte_carlo = None;
        match Simulation::new(&deal, &Scenario::base()) {
            Err(AnalyticsError::Input(m)) => assert!(m.contains("no Monte Carlo sheet"), "{m}"),
            other => panic!("{:?}", other.err()),
        }
    }

    /// A deal without completion support whose equity cannot cover its build: every path
    /// leaves the gap unfunded, is counted as infeasible, and gives no NPV to any statistic.
    #[test]
    fn paths_with_an_unfunded_gap_are_counted_apart_and_give_no_npv() {
        let mut deal = example("spodumene-crash");
        deal.completion_support.value = CompletionSupport::NoSupport;
        deal.tranches[0].commitment.value = dec!(1000000);
        let sim = Simulation::new(&deal, &Scenario::base()).expect("simulation");
        let summary = sim.run(5, 0..6, &|_| {}).expect("runs");
        assert_eq!((summary.paths, summary.unfunded), (6, 6));
        assert!(summary.stats.iter().all(|s| s.count == 0));
        let r = report(&sim, &summary);
        assert_eq!(r.probability_unfunded, Some(Decimal::ONE));
        assert!(r.parties.iter().all(|p| p.mean.is_none()));
        let mut merged = sim.run(5, 0..2, &|_| {}).expect("runs");
        merged.merge(&sim.run(5, 2..6, &|_| {}).expect("runs"));
        assert_eq!(merged, summary);
    }

    #[test]
    fn statistics_count_negatives_losses_and_quantiles() {
        let mut s = Summary::new(1);
        for v in [dec!(-2), dec!(0), dec!(0.0000001), dec!(3), dec!(5)] {
            s.add(&[v]);
        }
        let st = &s.stats[0];
        assert_eq!(st.count, 5);
        assert_eq!(st.negative, 1);
        assert_eq!(st.positive, 2, "0.0000001 is the engine's zero");
        assert_eq!(st.mean(), Some(dec!(1.2)));
        assert_eq!(st.share_negative(), Some(dec!(0.2)));
        assert_eq!(st.quantile(0.0), Some(dec!(-2)));
        assert_eq!(st.quantile(1.0), Some(dec!(5)));
        let h = histogram(st, 4).expect("histogram");
        assert_eq!(
            h.bins.iter().map(|b| b.2).sum::<u64>() + h.below + h.above,
            5
        );
    }
}
