//! check ⊇ run: a deal that `check` accepts never fails to run for a reason in the deal.
//!
//! Random valid deals (the bundled examples, the blank deal and deals drawn here) are
//! mutated by seeded random edits of the kinds a modeller makes: a value typed far too large,
//! zero, negative or as a whole-number percentage, a year outside the model, a name that
//! refers to nothing, a row deleted, an optional sheet removed, a cell of the workbook
//! overwritten. Most mutants are checked at the model level (`validate`, what `check` runs on
//! a deal) and the rest as workbooks (written, patched, then read as `check` reads them).
//! Whenever validation accepts a mutant, the engine must run the base case and every
//! scenario: a build error would be a rule validation misses (check would refuse the deal,
//! but without naming a cell). An overflow that no single cell decides (an escalation
//! compounding over two centuries) must be refused by check's preflight, which runs the
//! engine. A third of the accepted workbook cases also write the results workbook, which
//! must not fail either. Failed checks of a run are not refusals (they exit 3) and are
//! allowed here.
//!
//! Cases: 1,200 in CI (`CI` set) and release builds, 150 in a debug build; set
//! LODESTONE_MUTANTS to change it. A failure names its seed, so it reproduces alone with
//! LODESTONE_MUTANT_SEED=n.

mod common;

use common::{Patch, TempDir, Xlsx};
use lodestone::engine::preflight::preflight;
use lodestone::engine::{self, EngineError};
use lodestone::examples;
use lodestone::excel::inputs::Notes;
use lodestone::excel::read::{check, read_deal};
use lodestone::excel::template::template_bytes;
use lodestone::excel::write::results_bytes;
use lodestone::model::sample::*;
use lodestone::model::*;
use rust_decimal::Decimal;

/// A small deterministic generator (SplitMix64), so a case reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
    /// A decimal in [lo, hi) with `dp` decimal places.
    fn dec(&mut self, lo: i64, hi: i64, dp: u32) -> Decimal {
        let scale = 10i64.pow(dp);
        let span = ((hi - lo) * scale).max(1) as usize;
        Decimal::new(lo * scale + self.below(span) as i64, dp)
    }
}

fn s<T>(v: T) -> Sourced<T> {
    Sourced::bare(v)
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or_default()
}

/// Values a modeller types by mistake, for a number of any kind.
fn odd_number(rng: &mut Rng) -> Decimal {
    dec(rng.pick(&[
        "0", "-1", "-0.5", "0.000001", "0.5", "1", "1.5", "7.5", "21", "100", "2030", "1000000",
        "1e12", "1e15", "1e20", "-1e15",
    ]))
}

fn odd_count(rng: &mut Rng) -> u32 {
    rng.pick(&[0, 1, 2, 3, 5, 10, 40, 50, 100, 144, 200, 1000])
}

fn odd_year(rng: &mut Rng, deal: &Deal) -> i32 {
    let first = deal.first_year();
    let last = deal.last_year();
    rng.pick(&[
        first - 30,
        first - 1,
        first,
        first + 1,
        first + 5,
        last - 1,
        last,
        last + 1,
        last + 30,
        1900,
        2200,
    ])
}

fn odd_name(rng: &mut Rng, deal: &Deal) -> String {
    let mut names: Vec<String> = vec!["Nowhere".into(), String::new(), "market".into()];
    names.extend(deal.facilities.iter().map(|f| f.name.value.clone()));
    names.extend(deal.parties.iter().map(|p| p.name.value.clone()));
    names.extend(deal.tranches.iter().map(|t| t.name.value.clone()));
    names.extend(deal.products.iter().map(|p| p.name.value.clone()));
    names.extend(deal.fiscal.iter().map(|f| f.country.value.clone()));
    let name = rng.pick(&names);
    if rng.chance(4) {
        name.to_uppercase()
    } else {
        name
    }
}

/// A random but (mostly) valid deal: a mine, perhaps a refinery it feeds or one buying at
/// market, a second product priced in another currency, loans, a guarantee, offtakes, a
/// floor, scenarios of every kind, a Monte Carlo sheet.
fn random_deal(rng: &mut Rng) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = s(20 + rng.below(10) as u32);
    let construction = 1 + rng.below(3) as u32;
    let permitting = rng.below(3) as u32;
    let ramp: Vec<&str> = ["0.4", "0.7", "0.9"][..rng.below(4)].to_vec();
    deal.facilities = vec![facility(
        "Mine",
        FacilityKind::Mine,
        "Ore",
        "1000",
        2030,
        [0, 0, permitting, construction],
        &ramp,
        5 + rng.below(6) as u32,
        rng.below(3) as u32,
    )];
    deal.products[0].deck = (0..6).map(|k| (2030 + k, s(rng.dec(60, 160, 1)))).collect();
    deal.products[0].escalation = s(rng.dec(0, 5, 2) / Decimal::ONE_HUNDRED);
    deal.costs.push(cost(
        "Mine",
        "Site",
        CostCategory::FixedOpex,
        CostBasis::PerYear,
        Some(Phase::Production),
        &rng.dec(0, 20_000, 0).to_string(),
    ));
    deal.costs.push(cost(
        "Mine",
        "Rehab",
        CostCategory::Rehabilitation,
        CostBasis::TotalOverPhase,
        Some(Phase::Closure),
        &rng.dec(0, 50_000, 0).to_string(),
    ));
    if deal.facilities[0].closure_years.value == 0 {
        deal.costs.pop();
    }
    if rng.chance(2) {
        // A refinery: fed by the mine (at market, cost or a fixed price) or buying at market.
        let mut refinery = facility(
            "Refinery",
            FacilityKind::Refinery,
            "Metal",
            "500",
            2031,
            [0, 0, 0, 2],
            &["0.5"],
            6,
            0,
        );
        let from_market = rng.chance(3);
        refinery.feed = Some(Feed {
            source: if from_market {
                FeedSource::Market {
                    product: s("Ore".into()),
                }
            } else {
                let pricing = rng.pick(&[
                    TransferPricing::Market,
                    TransferPricing::Cost,
                    TransferPricing::Fixed,
                ]);
                FeedSource::Facility {
                    name: s("Mine".into()),
                    pricing: s(pricing),
                    price: (pricing == TransferPricing::Fixed).then(|| s(dec("40"))),
                    share: None,
                }
            },
            recovery: s(rng.dec(3, 10, 1) / Decimal::TEN),
        });
        deal.facilities.push(refinery);
        let mut metal = product("Metal", &[(2030, "400"), (2031, "420")]);
        if rng.chance(2) {
            metal.currency = s("CNY".into());
            metal.unit = s(PriceUnit::PerKg);
            metal.deck = vec![(2030, s(dec("2.8"))), (2031, s(dec("3")))];
            deal.fx.push(FxSeries {
                currency: s("CNY".into()),
                rates: vec![(2030, s(dec("0.14"))), (2031, s(dec("0.14")))],
            });
        }
        deal.products.push(metal);
        deal.costs.push(cost(
            "Refinery",
            "Plant",
            CostCategory::DevelopmentCapex,
            CostBasis::TotalOverPhase,
            Some(Phase::Construction),
            "80000",
        ));
        deal.costs.push(cost(
            "Refinery",
            "Reagents",
            CostCategory::VariableOpex,
            CostBasis::PerTonne,
            None,
            "30",
        ));
    }
    deal.fiscal[0].tax_rate = s(rng.dec(0, 40, 0) / Decimal::ONE_HUNDRED);
    deal.fiscal[0].royalty_concentrate = s(rng.dec(0, 8, 1) / Decimal::ONE_HUNDRED);
    deal.parties.push(party("Bank", PartyKind::Bank, "0.08"));
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    deal.parties
        .push(party("Buyer", PartyKind::Offtaker, "0.06"));
    let mut tranches = vec![equity(
        "Equity",
        &rng.dec(100_000, 300_000, 0).to_string(),
        &[("Sponsor", "0.7"), ("Treasury", "0.3")],
    )];
    let mut senior = loan(
        "Senior",
        TrancheKind::SeniorDebt,
        1,
        &rng.dec(10_000, 250_000, 0).to_string(),
        1 + rng.below(2) as u32,
        &(rng.dec(2, 12, 1) / Decimal::ONE_HUNDRED).to_string(),
        3 + rng.below(8) as u32,
        rng.pick(&[
            Repayment::Annuity,
            Repayment::StraightLine,
            Repayment::Bullet,
            Repayment::Sculpted,
        ]),
        &[("Bank", "1")],
    );
    if senior.repayment.value == Repayment::Sculpted {
        senior.target_dscr = Some(s(rng.dec(11, 20, 0) / Decimal::TEN));
    }
    senior.dsra_months = s(Decimal::from(rng.pick(&[0u32, 6, 12])));
    senior.capitalise_interest = s(rng.chance(2));
    senior.upfront_fee = s(rng.dec(0, 2, 2) / Decimal::ONE_HUNDRED);
    if rng.chance(2) {
        senior.lockup_dscr = Some(s(dec("1.1")));
    }
    tranches.push(senior);
    if rng.chance(2) {
        tranches.push(loan(
            "First loss",
            TrancheKind::FirstLoss,
            3,
            &rng.dec(0, 60_000, 0).to_string(),
            2,
            "0.01",
            6,
            Repayment::Bullet,
            &[("Treasury", "1")],
        ));
    }
    if rng.chance(2) {
        tranches.push(guarantee(
            "Cover",
            "Senior",
            &rng.dec(1, 200_000, 0).to_string(),
            &rng.dec(0, 1, 2).to_string(),
            &[("Treasury", "1")],
        ));
    }
    deal.tranches = tranches;
    if rng.chance(2) {
        deal.offtakes.push(Offtake {
            name: s("Contract".into()),
            product: s("Ore".into()),
            buyer: s("Buyer".into()),
            share: s(rng.dec(1, 100, 0) / Decimal::ONE_HUNDRED),
            start_year: s(2032),
            end_year: s(2040),
            pricing: s(PricingKind::Collar),
            discount: s(dec("0.02")),
            fixed_price: None,
            floor: Some(s(dec("70"))),
            cap: Some(s(dec("150"))),
            take_or_pay: s(dec("0.5")),
        });
    }
    if rng.chance(2) {
        deal.price_supports.push(PriceSupport {
            name: s("Floor".into()),
            product: s("Ore".into()),
            supporter: s("Treasury".into()),
            floor: s(rng.dec(50, 120, 0)),
            covered_share: s(rng.dec(0, 1, 2)),
            upside_share: s(rng.dec(0, 1, 2)),
            upside_threshold: None,
            start_year: s(2031),
            end_year: s(2038),
        });
    }
    for k in 0..rng.below(3) {
        let o = random_override(rng, &deal);
        deal.scenarios
            .push(scenario(&format!("Scenario {}", k + 1), vec![o]));
    }
    deal
}

/// An override of a random kind with a value in its range.
fn random_override(rng: &mut Rng, deal: &Deal) -> Override {
    let kind = rng.pick(OverrideKind::ALL);
    let value = match kind {
        OverrideKind::PriceCrash => rng.dec(1, 100, 0) / Decimal::ONE_HUNDRED,
        OverrideKind::PriceMultiplier
        | OverrideKind::RampMultiplier
        | OverrideKind::OpexMultiplier => rng.dec(1, 30, 1) / Decimal::TEN,
        OverrideKind::CapexOverrun => rng.dec(-50, 200, 0) / Decimal::ONE_HUNDRED,
        OverrideKind::Delay => Decimal::from(1 + rng.below(3)),
        OverrideKind::DiscountRateChange => rng.dec(-3, 5, 0) / Decimal::ONE_HUNDRED,
        OverrideKind::OfftakeUptake => rng.dec(0, 100, 0) / Decimal::ONE_HUNDRED,
    };
    let mut o = override_of(kind, &value.to_string());
    match kind {
        OverrideKind::PriceCrash => {
            o.start_year = Some(s(deal.first_year() + rng.below(10) as i32));
            o.fall_years = s(1 + rng.below(2) as u32);
            o.bottom_years = s(rng.below(3) as u32);
            o.recovery_years = s(rng.below(4) as u32);
        }
        OverrideKind::Delay => {
            o.phase = Some(s(rng.pick(&[
                Phase::Exploration,
                Phase::Feasibility,
                Phase::Permitting,
                Phase::Construction,
            ])));
        }
        OverrideKind::OfftakeUptake => {
            o.product = deal.offtakes.first().map(|c| c.product.clone());
            if o.product.is_none() {
                return override_of(OverrideKind::OpexMultiplier, "1.1");
            }
        }
        _ => {}
    }
    o
}

/// One seeded edit of the kind a modeller makes (many of them leave the deal invalid, which
/// `validate` must then say; some leave it valid but odd, which the engine must then run).
fn mutate(rng: &mut Rng, deal: &mut Deal) {
    let year = odd_year(rng, deal);
    let count = odd_count(rng);
    let number = odd_number(rng);
    let name = odd_name(rng, deal);
    let nf = deal.facilities.len();
    let np = deal.products.len();
    let nt = deal.tranches.len();
    let f = rng.below(nf);
    let p = rng.below(np);
    let t = rng.below(nt);
    match rng.below(40) {
        // The Deal sheet.
        0 => deal.horizon_years.value = count,
        1 => deal.discount_rate.value = number,
        2 => deal.financial_close_year = Some(s(year)),
        3 => deal.tax_home_country = Some(s(name)),
        4 => deal.project_name.value = name,
        // Facilities.
        5 if nf > 0 => deal.facilities[f].nameplate.value = number,
        6 if nf > 0 => deal.facilities[f].start_year.value = year,
        7 if nf > 0 => {
            let fac = &mut deal.facilities[f];
            match rng.below(5) {
                0 => fac.construction_years.value = count,
                1 => fac.operations_years.value = count,
                2 => fac.exploration_years.value = count,
                3 => fac.closure_years.value = count,
                _ => fac.permitting_years.value = count,
            }
        }
        8 if nf > 0 => {
            let fac = &mut deal.facilities[f];
            if rng.chance(2) || fac.ramp.is_empty() {
                fac.ramp.push(s(number));
            } else {
                fac.ramp.clear();
            }
        }
        9 if nf > 0 => deal.facilities[f].gates.construction.value = number,
        10 if nf > 0 => {
            let kinds = [
                FacilityKind::Mine,
                FacilityKind::Concentrator,
                FacilityKind::Refinery,
            ];
            deal.facilities[f].kind.value = rng.pick(&kinds);
        }
        11 if nf > 0 => {
            let source = match rng.below(3) {
                0 => None,
                1 => Some(FeedSource::Market {
                    product: s(name.clone()),
                }),
                _ => Some(FeedSource::Facility {
                    name: s(name.clone()),
                    pricing: s(rng.pick(&[
                        TransferPricing::Market,
                        TransferPricing::Cost,
                        TransferPricing::Fixed,
                    ])),
                    price: rng.chance(2).then(|| s(number)),
                    // A feed share of the mutant's number (any value, valid or not).
                    share: rng.chance(3).then(|| s(number)),
                }),
            };
            deal.facilities[f].feed = source.map(|source| Feed {
                source,
                recovery: s(number),
            });
        }
        12 if nf > 0 => deal.facilities[f].product.value = name,
        13 if nf > 0 => deal.facilities[f].country.value = name,
        14 if nf > 0 => {
            deal.facilities.remove(f);
        }
        // Prices and FX.
        15 if np > 0 => {
            let deck = &mut deal.products[p].deck;
            match rng.below(4) {
                0 => deck.clear(),
                1 if deck.len() > 2 => {
                    deck.remove(1);
                }
                2 => {
                    if let Some(first) = deck.first_mut() {
                        first.1.value = number;
                    }
                }
                _ => {
                    if let Some(first) = deck.first_mut() {
                        first.0 = year;
                    }
                }
            }
        }
        16 if np > 0 => deal.products[p].currency.value = rng.pick(&["CNY", "EUR", "usd"]).into(),
        17 if np > 0 => deal.products[p].escalation.value = number,
        18 if np > 0 => {
            deal.products.remove(p);
        }
        19 => match deal.fx.first_mut() {
            None => {}
            Some(fx) => match rng.below(3) {
                0 => deal.fx.clear(),
                1 => {
                    if let Some(r) = fx.rates.first_mut() {
                        r.1.value = number;
                    }
                }
                _ => {
                    if let Some(r) = fx.rates.first_mut() {
                        r.0 = year;
                    }
                }
            },
        },
        // Costs.
        20 if !deal.costs.is_empty() => {
            let c = rng.below(deal.costs.len());
            let line = &mut deal.costs[c];
            match rng.below(6) {
                0 => line.amount.value = number,
                1 => line.escalation.value = number,
                2 => line.base_year = Some(s(year)),
                3 => line.facility.value = name,
                4 => line.basis.value = rng.pick(CostBasis::ALL),
                _ => line.phase = rng.chance(3).then(|| s(rng.pick(Phase::ALL))),
            }
        }
        // Fiscal and parties.
        21 if !deal.fiscal.is_empty() => {
            let r = &mut deal.fiscal[0];
            match rng.below(5) {
                0 => r.tax_rate.value = number,
                1 => r.royalty_concentrate.value = number,
                2 => r.depreciation_years.value = count,
                3 => r.royalty_payee.value = name,
                _ => r.tax_authority.value = name,
            }
        }
        22 if !deal.parties.is_empty() => {
            let k = rng.below(deal.parties.len());
            match rng.below(4) {
                0 => deal.parties[k].discount_rate.value = number,
                1 => deal.parties[k].name.value = name,
                2 => deal.parties[k].rate_schedule.push((year, s(dec("0.035")))),
                _ => {
                    deal.parties.remove(k);
                }
            }
        }
        // Offtake and price support.
        23 if !deal.offtakes.is_empty() => {
            let o = &mut deal.offtakes[0];
            match rng.below(6) {
                0 => o.share.value = number,
                1 => o.start_year.value = year,
                2 => o.end_year.value = year,
                3 => o.pricing.value = rng.pick(PricingKind::ALL),
                4 => o.floor = Some(s(number)),
                _ => o.buyer.value = name,
            }
        }
        24 if !deal.price_supports.is_empty() => {
            let sp = &mut deal.price_supports[0];
            match rng.below(5) {
                0 => sp.floor.value = number,
                1 => sp.covered_share.value = number,
                2 => sp.start_year.value = year,
                3 => sp.upside_threshold = Some(s(number)),
                _ => sp.product.value = name,
            }
        }
        // Financing.
        25 if nt > 0 => deal.tranches[t].commitment.value = number,
        26 if nt > 0 => deal.tranches[t].interest_rate.value = number,
        27 if nt > 0 => deal.tranches[t].tenor_years.value = count,
        28 if nt > 0 => deal.tranches[t].grace_years.value = count,
        29 if nt > 0 => {
            let tr = &mut deal.tranches[t];
            match rng.below(6) {
                0 => tr.repayment.value = rng.pick(Repayment::ALL),
                1 => tr.target_dscr = Some(s(number)),
                2 => tr.dsra_months.value = number,
                3 => tr.lockup_dscr = Some(s(number)),
                4 => tr.rank.value = count,
                _ => tr.draw_priority.value = count,
            }
        }
        30 if nt > 0 => deal.tranches[t].kind.value = rng.pick(TrancheKind::ALL),
        31 if nt > 0 => {
            let tr = &mut deal.tranches[t];
            match rng.below(4) {
                0 => tr.participants.clear(),
                1 => {
                    if let Some(p) = tr.participants.first_mut() {
                        p.share.value = number;
                    }
                }
                2 => {
                    if let Some(p) = tr.participants.first_mut() {
                        p.party.value = name;
                    }
                }
                _ => tr.covers = Some(s(name)),
            }
        }
        32 if nt > 0 => {
            let tr = &mut deal.tranches[t];
            match rng.below(4) {
                0 => tr.funds_overruns.value = !tr.funds_overruns.value,
                1 => tr.overrun_cap.value = number,
                2 => tr.capitalise_interest.value = !tr.capitalise_interest.value,
                _ => tr.shareholding = Some(s(number)),
            }
        }
        33 if nt > 0 => {
            deal.tranches.remove(t);
        }
        // Scenarios.
        34 => {
            let o = random_override(rng, deal);
            deal.scenarios.push(scenario("Mutant", vec![o]));
        }
        35 if !deal.scenarios.is_empty() => {
            let k = rng.below(deal.scenarios.len());
            if let Some(o) = deal.scenarios[k].overrides.first_mut() {
                match rng.below(6) {
                    0 => o.value.value = number,
                    1 => o.start_year = Some(s(year)),
                    2 => o.facility = Some(s(name)),
                    3 => o.product = Some(s(name)),
                    4 => o.phase = Some(s(rng.pick(Phase::ALL))),
                    _ => o.fall_years.value = count,
                }
            }
        }
        36 => {
            // A delay as long as the horizon allows, on every facility.
            let mut o = override_of(OverrideKind::Delay, &count.clamp(1, 50).to_string());
            o.phase = Some(s(Phase::Construction));
            deal.scenarios.push(scenario("Long delay", vec![o]));
        }
        // Monte Carlo.
        37 if np > 0 => {
            let mc = deal.monte_carlo.get_or_insert(MonteCarlo {
                processes: Vec::new(),
            });
            let above = mc.processes.len();
            mc.processes.push(PriceProcess {
                product: s(deal.products[p].name.value.clone()),
                volatility: s(rng.dec(0, 80, 0) / Decimal::ONE_HUNDRED),
                reversion: s(rng.dec(0, 10, 1) / Decimal::TEN),
                jump_intensity: s(rng.dec(0, 3, 1) / Decimal::TEN),
                jump_mean: s(dec("0.3")),
                jump_spread: s(dec("0.2")),
                correlations: (0..above).map(|_| s(number)).collect(),
            });
        }
        // A second mutation on the same record kind.
        _ => {
            let n = rng.below(2);
            if n == 0 && nf > 0 {
                deal.facilities[f].nameplate.value = number;
            } else if nt > 0 {
                deal.tranches[t].commitment.value = number;
            }
        }
    }
}

/// The base of case `seed`: an example, the blank deal or a random deal.
fn base_deal(rng: &mut Rng) -> Deal {
    match rng.below(8) {
        0 => examples::example(rng.pick(examples::EXAMPLES)).expect("example"),
        1 => examples::blank(),
        _ => random_deal(rng),
    }
}

struct Outcome {
    accepted: bool,
    ran: bool,
}

/// Runs the base case and every scenario of a deal validation accepts. A build error is a
/// rule validation misses (a failure of this test: `check` would refuse it without naming a
/// cell). An overflow is refused by `check`'s preflight, which runs the same engine: the
/// deal is then refused, not accepted.
fn run_validated(deal: &Deal, write: bool) -> Result<Outcome, String> {
    match engine::run_all(deal, &deal.scenarios) {
        Ok(runs) => {
            // The results workbook of an accepted deal must be writable too.
            if write && let Err(e) = results_bytes(deal, &runs) {
                return Err(format!("the results workbook fails: {e}"));
            }
            Ok(Outcome {
                accepted: true,
                ran: true,
            })
        }
        Err(e @ EngineError::Build { .. }) => Err(format!("validation misses it: {e}")),
        Err(e @ EngineError::Arithmetic { .. }) => {
            if preflight(deal).is_empty() {
                Err(format!("check's preflight misses it: {e}"))
            } else {
                Ok(Outcome {
                    accepted: false,
                    ran: false,
                })
            }
        }
    }
}

/// One model-level case: mutate, validate, and run what validates.
fn model_case(seed: u64) -> Result<Outcome, String> {
    let mut rng = Rng(seed);
    let mut deal = base_deal(&mut rng);
    for _ in 0..1 + rng.below(3) {
        mutate(&mut rng, &mut deal);
    }
    if !validate(&deal).is_empty() {
        return Ok(Outcome {
            accepted: false,
            ran: false,
        });
    }
    run_validated(&deal, false)
}

/// One workbook-level case: mutate the deal, write it, patch the workbook (a cell
/// overwritten, an optional sheet removed), read it as `check` does, and run what reads.
fn workbook_case(seed: u64, dir: &TempDir) -> Result<Outcome, String> {
    let mut rng = Rng(seed);
    let mut deal = base_deal(&mut rng);
    if rng.chance(2) {
        mutate(&mut rng, &mut deal);
    }
    let Ok(bytes) = template_bytes(&deal, &Notes::default()) else {
        return Ok(Outcome {
            accepted: false,
            ran: false,
        });
    };
    let mut x = Xlsx::open(&bytes);
    match rng.below(3) {
        0 => {
            let sheet = rng.pick(&[
                "FX",
                "Discount rates",
                "Offtake",
                "Price support",
                "Scenarios",
                "Monte Carlo",
            ]);
            x.remove_sheet(sheet);
        }
        _ => {
            let sheet = rng.pick(&[
                "Deal",
                "Facilities",
                "Prices",
                "FX",
                "Costs",
                "Fiscal",
                "Parties",
                "Offtake",
                "Price support",
                "Financing",
                "Participants",
                "Scenarios",
            ]);
            let cells = x.numeric_cells(sheet);
            if !cells.is_empty() {
                let cell = rng.pick(&cells);
                let value = odd_number(&mut rng).to_string();
                let text = rng.pick(&["", "x", "5%", "FY2030", "1,5"]);
                if rng.chance(4) {
                    x.set_cell(sheet, &cell.a1(), Patch::Text(text));
                } else {
                    x.set_cell(sheet, &cell.a1(), Patch::Number(&value));
                }
            }
        }
    }
    let path = dir.write(&format!("mutant-{seed}.xlsx"), &x.bytes());
    let read = read_deal(&path);
    // What check decides on the same file: the reading, then the engine's preflight.
    let checked = check(&path).deal.is_ok();
    let _ = std::fs::remove_file(&path);
    if let Ok(deal) = &read
        && checked
        && let Err(e) = engine::run_all(deal, &deal.scenarios)
    {
        return Err(format!("check accepts it, run fails: {e}"));
    }
    let Ok(deal) = read else {
        return Ok(Outcome {
            accepted: false,
            ran: false,
        });
    };
    run_validated(&deal, rng.chance(3))
}

fn cases() -> u64 {
    if let Some(n) = std::env::var("LODESTONE_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var_os("CI").is_some() || !cfg!(debug_assertions) {
        1200
    } else {
        150
    }
}

#[test]
fn a_deal_check_accepts_never_fails_to_run_for_an_input_reason() {
    let dir = TempDir::new("check-covers-run");
    let seeds: Vec<u64> = match std::env::var("LODESTONE_MUTANT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (0..cases()).collect(),
    };
    let mut failures = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for seed in &seeds {
        // One case in five goes through a workbook, as `check` reads it.
        let outcome = if seed % 5 == 4 {
            workbook_case(*seed, &dir)
        } else {
            model_case(*seed)
        };
        match outcome {
            Ok(o) if o.accepted && o.ran => accepted += 1,
            Ok(_) => refused += 1,
            Err(e) => failures.push(format!("seed {seed}: check accepts it, run fails: {e}")),
        }
    }
    println!(
        "{} mutants: {accepted} accepted and run, {refused} refused",
        seeds.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} mutants:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
    // The mutants must exercise both sides: many accepted and run, many refused.
    if seeds.len() >= 100 {
        assert!(
            accepted * 5 >= seeds.len() && refused * 5 >= seeds.len(),
            "{accepted} accepted and {refused} refused of {}",
            seeds.len()
        );
    }
}
