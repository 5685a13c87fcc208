//! Properties that must hold for any deal and scenario: the ledger balances every period,
//! the project's cash never goes negative, sources equal uses, and every tranche's balance
//! and reserve corkscrew closes; the books are exact to the ledger precision (every period's
//! ledger sums to exactly zero, each party's flows are the exact sum of its entries, no
//! amount carries more places than the ledger keeps). Deals are drawn at random (a fixed
//! seed: reproducible).

use lodestone::engine;
use lodestone::model::sample::*;
use lodestone::model::*;
use rust_decimal::Decimal;

/// A small deterministic generator (xorshift64*), so failures reproduce from the case number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A decimal in [lo, hi) with `dp` decimal places.
    fn dec(&mut self, lo: i64, hi: i64, dp: u32) -> Decimal {
        let scale = 10i64.pow(dp);
        let span = ((hi - lo) * scale) as u64;
        Decimal::new(lo * scale + self.below(span.max(1)) as i64, dp)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

fn s<T>(v: T) -> Sourced<T> {
    Sourced::bare(v)
}

fn random_deal(rng: &mut Rng) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.ledger_precision = s(rng.pick(&[0, 1, 2, 2, 2, 3, 4, 6]));
    deal.horizon_years = s(12 + rng.below(10) as u32);
    let construction = 1 + rng.below(3) as u32;
    let permitting = rng.below(3) as u32;
    let ramp: Vec<&str> = ["0.4", "0.7", "0.9"][..rng.below(4) as usize].to_vec();
    deal.facilities = vec![facility(
        "Mine",
        FacilityKind::Mine,
        "Ore",
        "1000",
        2030,
        [0, 0, permitting, construction],
        &ramp,
        5 + rng.below(4) as u32,
        rng.below(2) as u32,
    )];
    deal.facilities[0].gates.permitting = s(rng.dec(0, 1, 2));
    let deck: Vec<(i32, Sourced<Decimal>)> =
        (0..6).map(|k| (2030 + k, s(rng.dec(60, 160, 1)))).collect();
    deal.products[0].deck = deck;
    deal.products[0].escalation = s(rng.dec(0, 1, 2) / Decimal::from(20));
    deal.costs = vec![
        cost(
            "Mine",
            "Build",
            CostCategory::DevelopmentCapex,
            CostBasis::TotalOverPhase,
            Some(Phase::Construction),
            &rng.dec(100_000, 400_000, 0).to_string(),
        ),
        cost(
            "Mine",
            "Run",
            CostCategory::VariableOpex,
            CostBasis::PerTonne,
            None,
            &rng.dec(10, 50, 2).to_string(),
        ),
        cost(
            "Mine",
            "Site",
            CostCategory::FixedOpex,
            CostBasis::PerYear,
            Some(Phase::Production),
            &rng.dec(0, 20_000, 0).to_string(),
        ),
        cost(
            "Mine",
            "Permits",
            CostCategory::Exploration,
            CostBasis::PerYear,
            Some(Phase::Permitting),
            &rng.dec(0, 10_000, 0).to_string(),
        ),
        cost(
            "Mine",
            "Rehab",
            CostCategory::Rehabilitation,
            CostBasis::TotalOverPhase,
            Some(Phase::Closure),
            &rng.dec(0, 50_000, 0).to_string(),
        ),
    ];
    deal.costs[1].escalation = s(rng.dec(0, 5, 2) / Decimal::from(100));
    deal.fiscal[0].tax_rate = s(rng.dec(0, 40, 0) / Decimal::from(100));
    deal.fiscal[0].royalty_concentrate = s(rng.dec(0, 8, 1) / Decimal::from(100));
    deal.fiscal[0].loss_carry_forward = s(rng.below(2) == 0);
    deal.parties.push(party("Bank", PartyKind::Bank, "0.08"));
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    deal.parties
        .push(party("Ally", PartyKind::Government, "0.02"));
    let repayments = [
        Repayment::Annuity,
        Repayment::StraightLine,
        Repayment::Bullet,
        Repayment::Sculpted,
    ];
    let mut tranches = vec![equity(
        "Equity",
        &rng.dec(50_000, 300_000, 0).to_string(),
        &[("Sponsor", "0.7"), ("Treasury", "0.3")],
    )];
    tranches[0].draw_priority = s(rng.below(2) as u32 + 1);
    tranches[0].overrun_cap = s(rng.dec(0, 100_000, 0));
    let mut senior = loan(
        "Senior",
        TrancheKind::SeniorDebt,
        1,
        &rng.dec(0, 250_000, 0).to_string(),
        1 + rng.below(2) as u32,
        &(rng.dec(2, 12, 1) / Decimal::from(100)).to_string(),
        3 + rng.below(6) as u32,
        rng.pick(&repayments),
        &[("Bank", "1")],
    );
    senior.grace_years = s(rng.below(2) as u32);
    senior.target_dscr = Some(s(rng.dec(1, 3, 2)));
    senior.dsra_months = s(Decimal::from(rng.pick(&[0u32, 6, 12])));
    if rng.below(2) == 0 {
        senior.lockup_dscr = Some(s(rng.dec(1, 2, 2)));
    }
    senior.capitalise_interest = s(rng.below(2) == 0);
    senior.upfront_fee = s(rng.dec(0, 2, 2) / Decimal::from(100));
    senior.commitment_fee = s(rng.dec(0, 1, 2) / Decimal::from(100));
    tranches.push(senior);
    let mut joint = loan(
        "Joint",
        TrancheKind::ConcessionalLoan,
        1 + rng.below(2) as u32,
        &rng.dec(0, 150_000, 0).to_string(),
        2,
        "0.02",
        4 + rng.below(6) as u32,
        rng.pick(&[
            Repayment::Annuity,
            Repayment::StraightLine,
            Repayment::Bullet,
        ]),
        &[("Treasury", "0.4"), ("Ally", "0.6")],
    );
    // Three lenders in shares with no simple fraction of the amounts they split.
    if rng.below(2) == 0 {
        let a = rng.dec(1, 60, 0) / Decimal::from(100);
        let b = rng.dec(1, 39, 0) / Decimal::from(100);
        joint.participants = vec![
            participant("Treasury", a),
            participant("Ally", b),
            participant("Bank", Decimal::ONE - a - b),
        ];
    }
    joint.funds_overruns = s(rng.below(3) == 0);
    tranches.push(joint);
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
    if rng.below(2) == 0 {
        tranches.push(guarantee(
            "Cover",
            "Senior",
            &rng.dec(0, 200_000, 0).to_string(),
            &rng.dec(0, 1, 2).to_string(),
            &[("Ally", "1")],
        ));
    }
    deal.tranches = tranches;
    if rng.below(2) == 0 {
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
    deal
}

fn random_scenario(rng: &mut Rng) -> Scenario {
    let mut overrides = Vec::new();
    if rng.below(2) == 0 {
        let mut crash = override_of(OverrideKind::PriceCrash, &rng.dec(0, 1, 2).to_string());
        crash.start_year = Some(s(2030 + rng.below(8) as i32));
        crash.fall_years = s(1 + rng.below(2) as u32);
        crash.bottom_years = s(rng.below(3) as u32);
        crash.recovery_years = s(rng.below(4) as u32);
        crash.haircut = s(rng.dec(0, 30, 0) / Decimal::from(100));
        overrides.push(crash);
    }
    if rng.below(2) == 0 {
        overrides.push(override_of(
            OverrideKind::CapexOverrun,
            &rng.dec(0, 1, 2).to_string(),
        ));
    }
    if rng.below(3) == 0 {
        let mut delay = override_of(OverrideKind::Delay, &rng.below(3).to_string());
        delay.phase = Some(s(Phase::Construction));
        overrides.push(delay);
    }
    if rng.below(3) == 0 {
        overrides.push(override_of(
            OverrideKind::OpexMultiplier,
            &rng.dec(1, 2, 2).to_string(),
        ));
    }
    scenario("Random", overrides)
}

fn participant(party: &str, share: Decimal) -> Participant {
    Participant {
        party: s(party.into()),
        share: s(share),
    }
}

#[test]
fn the_ledger_and_every_corkscrew_hold_for_random_deals_and_scenarios() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for case in 0..150 {
        let deal = random_deal(&mut rng);
        let scenario = random_scenario(&mut rng);
        let runs = engine::run_all(&deal, std::slice::from_ref(&scenario))
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        let places = deal.ledger_precision.value;
        for results in &runs {
            let case = format!("case {case} ({}, {places} places)", results.scenario);
            for check in &results.checks {
                assert!(
                    check.ok,
                    "{case}: check '{}' failed: {}",
                    check.name, check.detail
                );
                // Every check's rows are whole units of the ledger: it holds exactly.
                assert_eq!(
                    check.detail, "largest deviation 0",
                    "{case}: {}",
                    check.name
                );
            }
            every_party_is_the_sum_of_its_entries(results, &case);
        }
        let json: serde_json::Value =
            serde_json::from_str(&lodestone::json::to_json(&deal, &runs)).expect("json");
        for scenario in json["scenarios"].as_array().expect("scenarios") {
            let case = format!("case {case} ({})", scenario["name"]);
            // Every period's ledger, as the JSON prints it, sums to exactly zero.
            let parties = scenario["parties"].as_array().expect("parties");
            for t in 0..deal.horizon_years.value as usize {
                let total: Decimal = parties.iter().map(|p| number(&p["cash_flows"][t])).sum();
                assert_eq!(total, Decimal::ZERO, "{case}: period {t}");
            }
            for (field, v) in money_amounts(scenario) {
                assert!(
                    number(v).scale() <= places,
                    "{case}: {field} = {v} has more than {places} decimal places"
                );
            }
        }
    }
}

fn number(v: &serde_json::Value) -> Decimal {
    v.as_str()
        .and_then(|s| s.parse::<Decimal>().ok())
        .unwrap_or_else(|| panic!("not a decimal: {v}"))
}

/// A party's cash flow is the sum of the ledger entries it pays and receives, to the digit.
fn every_party_is_the_sum_of_its_entries(r: &engine::Results, case: &str) {
    for (p, party) in r.parties.iter().enumerate() {
        for t in 0..r.periods.len() {
            let mut sum = Decimal::ZERO;
            for (row, def) in r.calc.rows.iter().enumerate() {
                let row = engine::calc::RowId::new(row);
                if let Some(tag) = &def.ledger {
                    if tag.payee == p {
                        sum += r.values.at(row, t);
                    }
                    if tag.payer == p {
                        sum -= r.values.at(row, t);
                    }
                }
            }
            assert_eq!(
                party.cash_flows[t], sum,
                "{case}: {} in period {t}",
                party.name
            );
            // The entries the results list for it (the JSON's ledger rows) say the same.
            let listed: Decimal = party.ledger.iter().map(|e| e.values[t]).sum();
            assert_eq!(
                listed, sum,
                "{case}: {}'s entries in period {t}",
                party.name
            );
        }
    }
}

// ----- Facilities making one product, mines shared by several plants ------------------------

/// A random network: one to three mines (two may make the same ore), zero to three plants
/// each fed by a random mine, products priced or not, feed shares on some sources, offtake
/// contracts and a price floor on random products.
fn random_network(rng: &mut Rng) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = s(26);
    let ores = ["Ore A", "Ore B"];
    let metals = ["Oxide", "Metal"];
    let ramps: [&[&str]; 3] = [&[], &["0.5"], &["0.3", "0.8"]];
    let mut facilities = Vec::new();
    let mut costs = Vec::new();
    for m in 0..1 + rng.below(3) {
        let name = format!("Mine {m}");
        facilities.push(facility(
            &name,
            FacilityKind::Mine,
            rng.pick(&ores),
            &rng.dec(500, 3000, 0).to_string(),
            2030,
            [0, 0, rng.below(2) as u32, 1 + rng.below(2) as u32],
            rng.pick(&ramps),
            3 + rng.below(5) as u32,
            rng.below(2) as u32,
        ));
    }
    let mines = facilities.len();
    for k in 0..rng.below(4) {
        let source = facilities[rng.below(mines as u64) as usize]
            .name
            .value
            .clone();
        let mut plant = facility(
            &format!("Plant {k}"),
            rng.pick(&[FacilityKind::Concentrator, FacilityKind::Refinery]),
            rng.pick(&metals),
            &rng.dec(20, 400, 0).to_string(),
            2030,
            [0, 0, rng.below(3) as u32, 1 + rng.below(2) as u32],
            rng.pick(&ramps),
            2 + rng.below(6) as u32,
            rng.below(2) as u32,
        );
        plant.feed = Some(Feed {
            source: FeedSource::Facility {
                name: s(source),
                pricing: s(rng.pick(&[TransferPricing::Market, TransferPricing::Cost])),
                price: None,
                share: None,
            },
            recovery: s(rng.dec(1, 100, 0) / Decimal::from(100)),
        });
        facilities.push(plant);
    }
    // Feed shares on some sources: for all of their plants, summing to at most 100%.
    for m in 0..mines {
        let name = facilities[m].name.value.clone();
        let plants: Vec<usize> = (mines..facilities.len())
            .filter(|&j| {
                matches!(&facilities[j].feed, Some(Feed { source: FeedSource::Facility { name: n, .. }, .. }) if n.value == name)
            })
            .collect();
        if plants.is_empty() || rng.below(3) != 0 {
            continue;
        }
        let mut left = Decimal::ONE;
        for j in plants {
            let share = (rng.dec(0, 100, 0) / Decimal::from(100)).min(left);
            left -= share;
            if let Some(Feed {
                source: FeedSource::Facility { share: sh, .. },
                ..
            }) = &mut facilities[j].feed
            {
                *sh = Some(s(share));
            }
        }
    }
    for f in &facilities {
        let name = f.name.value.clone();
        costs.push(cost(
            &name,
            "Build",
            CostCategory::DevelopmentCapex,
            CostBasis::TotalOverPhase,
            Some(Phase::Construction),
            &rng.dec(10_000, 200_000, 0).to_string(),
        ));
        costs.push(cost(
            &name,
            "Run",
            CostCategory::VariableOpex,
            CostBasis::PerTonne,
            None,
            &rng.dec(1, 40, 2).to_string(),
        ));
    }
    // Products: the metals always priced; an ore left unpriced half the time when every
    // mine making it feeds a plant (transferred at cost, without feed shares: worked only
    // for what its plants take).
    let mut products = Vec::new();
    for ore in ores {
        let feeds_a_plant = |m: &Facility| {
            facilities.iter().any(|g| {
                matches!(&g.feed, Some(Feed { source: FeedSource::Facility { name, .. }, .. }) if name.value == m.name.value)
            })
        };
        let captive = facilities[..mines]
            .iter()
            .filter(|m| m.product.value == ore)
            .all(feeds_a_plant);
        if captive && rng.below(2) == 0 {
            let sources: Vec<String> = facilities[..mines]
                .iter()
                .filter(|m| m.product.value == ore)
                .map(|m| m.name.value.clone())
                .collect();
            for f in facilities.iter_mut() {
                if let Some(Feed {
                    source:
                        FeedSource::Facility {
                            name,
                            pricing,
                            share,
                            ..
                        },
                    ..
                }) = &mut f.feed
                    && sources.contains(&name.value)
                {
                    pricing.value = TransferPricing::Cost;
                    *share = None;
                }
            }
            continue;
        }
        products.push(product(ore, &[(2030, &rng.dec(20, 200, 0).to_string())]));
    }
    for metal in metals {
        products.push(product(
            metal,
            &[(2030, &rng.dec(500, 5000, 0).to_string())],
        ));
    }
    deal.facilities = facilities;
    deal.costs = costs;
    deal.products = products;
    deal.fiscal[0].royalty_concentrate = s(rng.dec(0, 8, 1) / Decimal::from(100));
    deal.parties
        .push(party("Buyer", PartyKind::Offtaker, "0.08"));
    for k in 0..rng.below(3) {
        let priced: Vec<String> = deal.products.iter().map(|p| p.name.value.clone()).collect();
        let product = priced[rng.below(priced.len() as u64) as usize].clone();
        deal.offtakes.push(Offtake {
            name: s(format!("Contract {k}")),
            product: s(product),
            buyer: s("Buyer".into()),
            share: s(rng.dec(0, 50, 0) / Decimal::from(100)),
            start_year: s(2031 + rng.below(4) as i32),
            end_year: s(2036 + rng.below(6) as i32),
            pricing: s(PricingKind::Market),
            discount: s(rng.dec(0, 10, 0) / Decimal::from(100)),
            fixed_price: None,
            floor: None,
            cap: None,
            take_or_pay: s(rng.dec(0, 100, 0) / Decimal::from(100)),
        });
    }
    deal.tranches = vec![equity("Equity", "100000000", &[("Sponsor", "1")])];
    deal
}

fn random_network_scenario(rng: &mut Rng, deal: &Deal) -> Scenario {
    let mut overrides = Vec::new();
    let facility = |rng: &mut Rng| {
        let k = rng.below(deal.facilities.len() as u64 + 1) as usize;
        deal.facilities.get(k).map(|f| s(f.name.value.clone()))
    };
    for _ in 0..rng.below(3) {
        let mut delay = override_of(OverrideKind::Delay, &(1 + rng.below(2)).to_string());
        delay.phase = Some(s(rng.pick(&[
            Phase::Construction,
            Phase::RampUp,
            Phase::Operations,
            Phase::Closure,
        ])));
        delay.facility = facility(rng);
        overrides.push(delay);
    }
    if rng.below(2) == 0 {
        let mut ramp = override_of(
            OverrideKind::RampMultiplier,
            &rng.dec(0, 2, 2).max(Decimal::new(1, 2)).to_string(),
        );
        ramp.facility = facility(rng);
        overrides.push(ramp);
    }
    if rng.below(2) == 0 && !deal.offtakes.is_empty() {
        let mut uptake = override_of(OverrideKind::OfftakeUptake, &rng.dec(0, 1, 2).to_string());
        uptake.product = Some(deal.offtakes[0].product.clone());
        overrides.push(uptake);
    }
    if overrides.is_empty() {
        overrides.push(override_of(OverrideKind::RampMultiplier, "0.8"));
    }
    scenario("Random", overrides)
}

/// What counts as zero for a row: Decimal keeps 28 significant digits, so a sum of
/// tonnages can differ from its parts in the 28th digit (2102.7777…78 has 29 of them).
fn rounding(values: &[Decimal]) -> Decimal {
    let scale = values
        .iter()
        .map(|v| v.abs())
        .max()
        .unwrap_or_default()
        .max(Decimal::ONE);
    scale * Decimal::new(1, 20)
}

#[test]
fn no_output_goes_unsold_and_no_tonnes_or_sales_are_negative_in_random_networks() {
    let mut rng = Rng(0x5EED_0013_FEED_0002);
    let mut computed = 0;
    for case in 0..300 {
        let mut deal = random_network(&mut rng);
        let scenario = random_network_scenario(&mut rng, &deal);
        deal.scenarios = vec![scenario.clone()];
        if !validate(&deal).is_empty() {
            continue;
        }
        computed += 1;
        for sc in [Scenario::base(), scenario] {
            let r = engine::run(&deal, &sc).unwrap_or_else(|e| panic!("case {case}: {e}"));
            let what = |label: &str| format!("case {case} ({}): {label}", sc.name.value);
            for (id, row) in r.calc.rows.iter().enumerate() {
                let sales = row
                    .ledger
                    .as_ref()
                    .is_some_and(|t| t.kind == engine::calc::FlowKind::Sales);
                if row.unit != engine::calc::Unit::Tonnes && !sales {
                    continue;
                }
                let values = r.values.row(engine::calc::RowId::new(id));
                let tolerance = rounding(values);
                for (t, v) in values.iter().enumerate() {
                    assert!(
                        *v >= -tolerance,
                        "{}: period {t}: {v} is negative",
                        what(&row.label)
                    );
                }
            }
            // A facility's output is sold (its product has a price: contracts or the
            // market take all of the product's sellable output), or it has no price and
            // nothing is left over once its plants have their feed.
            for lines in &r.lines.facilities {
                let f = deal.facility(&lines.name).expect("facility");
                let sellable = lines.sellable.expect("sellable row");
                let production = lines.production.expect("production row");
                let tolerance = rounding(r.values.row(production));
                if deal.product(&f.product.value).is_none() {
                    for (t, v) in r.values.row(sellable).iter().enumerate() {
                        assert!(
                            v.abs() <= tolerance,
                            "{}: period {t}: {v} t unsold",
                            what(&lines.name)
                        );
                    }
                }
            }
            for check in &r.checks {
                assert!(check.ok, "{}: {}", what(&check.name), check.detail);
            }
        }
    }
    eprintln!("{computed} of 300 random networks passed check");
    assert!(
        computed > 100,
        "only {computed} of 300 random networks passed check"
    );
}

/// Every amount of money in a scenario of the JSON (NPVs, which are values not amounts, are
/// left out), with where it is.
fn money_amounts(scenario: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let mut out = Vec::new();
    fn add<'a>(
        out: &mut Vec<(String, &'a serde_json::Value)>,
        what: &str,
        v: &'a serde_json::Value,
    ) {
        match v {
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(k, x)| add(out, &format!("{what}[{k}]"), x)),
            serde_json::Value::Object(map) => map
                .iter()
                .for_each(|(k, x)| add(out, &format!("{what}.{k}"), x)),
            serde_json::Value::Null => {}
            _ => out.push((what.to_string(), v)),
        }
    }
    for (k, p) in scenario["parties"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for f in ["cash_flows", "peak_exposure"] {
            add(&mut out, &format!("parties[{k}].{f}"), &p[f]);
        }
    }
    let project = &scenario["project"];
    for f in [
        "unlevered_pre_tax_cash_flows",
        "unlevered_post_tax_cash_flows",
        "cfads",
        "funding_gap",
        "completion_support",
        "overrun_equity",
        "equity_deficit_support",
    ] {
        add(&mut out, &format!("project.{f}"), &project[f]);
    }
    for (k, g) in scenario["governments"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for f in [
            "net_outlay",
            "receipts",
            "payments",
            "peak_exposure",
            "guarantee_calls",
            "floor_payout",
            "contingent_liability",
        ] {
            add(&mut out, &format!("governments[{k}].{f}"), &g[f]);
        }
    }
    for (k, t) in scenario["tranches"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for f in ["balance", "loss", "loss_after_guarantee", "guarantee_calls"] {
            add(&mut out, &format!("tranches[{k}].{f}"), &t[f]);
        }
    }
    for (k, e) in scenario["events"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        add(&mut out, &format!("events[{k}].amount"), &e["amount"]);
    }
    out
}
