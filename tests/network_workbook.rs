//! Deals with a mine shared by several plants, several facilities making one product and a
//! product without a price: the results workbook's formulas recompute in LibreOffice to the
//! engine's values, and the workbook reads back (Feed share included) to the same results.
//!
//! Like tests/results_workbook.rs, the recomputation needs LibreOffice (`soffice`): outside
//! CI its absence skips that test with a message, in CI (CI=true) it is a failure.

mod common;

use std::path::Path;
use std::process::Command;

use common::TempDir;
use lodestone::engine;
use lodestone::excel::read::read_deal;
use lodestone::excel::write::results_bytes;
use lodestone::json::to_json;
use lodestone::model::sample::*;
use lodestone::model::*;
use rust_decimal::Decimal;

fn s<T>(v: T) -> Sourced<T> {
    Sourced::bare(v)
}

fn plant(
    name: &str,
    product: &str,
    nameplate: &str,
    source: &str,
    share: Option<&str>,
) -> Facility {
    let mut f = facility(
        name,
        FacilityKind::Refinery,
        product,
        nameplate,
        2030,
        [0, 0, 0, 1],
        &["0.5"],
        4,
        1,
    );
    f.feed = Some(Feed {
        source: FeedSource::Facility {
            name: s(source.into()),
            pricing: s(TransferPricing::Cost),
            price: None,
            share: share.map(|v| s(v.parse().expect("share"))),
        },
        recovery: s(Decimal::new(4, 2)),
    });
    f
}

/// Mine A (120,000 t of priced Concentrate) feeds Refineries 1 and 2 (pro rata, or by the
/// shares given); Mine B (unpriced Ore) feeds Refinery 3; all three refineries make Oxide,
/// part of it under an offtake contract and a price floor. A scenario delays ramp-up and
/// lengthens operations.
fn network(shares: [Option<&str>; 2]) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.name = s("Network".into());
    deal.horizon_years = s(9);
    deal.facilities[0].name = s("Mine A".into());
    deal.facilities[0].product = s("Concentrate".into());
    deal.facilities[0].nameplate = s(Decimal::from(120_000));
    deal.facilities[0].ramp = vec![s(Decimal::new(5, 1))];
    deal.facilities[0].closure_years = s(1);
    let mut mine_b = deal.facilities[0].clone();
    mine_b.name = s("Mine B".into());
    mine_b.product = s("Ore".into());
    mine_b.nameplate = s(Decimal::from(50_000));
    deal.facilities.push(mine_b);
    deal.facilities
        .push(plant("Refinery 1", "Oxide", "4500", "Mine A", shares[0]));
    deal.facilities
        .push(plant("Refinery 2", "Oxide", "3000", "Mine A", shares[1]));
    deal.facilities
        .push(plant("Refinery 3", "Oxide", "1000", "Mine B", None));
    deal.products = vec![
        product("Concentrate", &[(2030, "500")]),
        product("Oxide", &[(2030, "50000")]),
    ];
    deal.costs = Vec::new();
    for f in ["Mine A", "Mine B", "Refinery 1", "Refinery 2", "Refinery 3"] {
        deal.costs.push(cost(
            f,
            "Build",
            CostCategory::DevelopmentCapex,
            CostBasis::TotalOverPhase,
            Some(Phase::Construction),
            "1000000",
        ));
        deal.costs.push(cost(
            f,
            "Run",
            CostCategory::VariableOpex,
            CostBasis::PerTonne,
            None,
            "40",
        ));
    }
    deal.fiscal = vec![fiscal("Testland", "0.05", "0.3", "Government")];
    deal.parties
        .push(party("Buyer", PartyKind::Offtaker, "0.08"));
    deal.offtakes = vec![Offtake {
        name: s("Oxide contract".into()),
        product: s("Oxide".into()),
        buyer: s("Buyer".into()),
        share: s(Decimal::new(3, 1)),
        start_year: s(2031),
        end_year: s(2034),
        pricing: s(PricingKind::Fixed),
        discount: s(Decimal::ZERO),
        fixed_price: Some(s(Decimal::from(55_000))),
        floor: None,
        cap: None,
        take_or_pay: s(Decimal::ZERO),
    }];
    deal.price_supports = vec![PriceSupport {
        name: s("Oxide floor".into()),
        product: s("Oxide".into()),
        supporter: s("Government".into()),
        floor: s(Decimal::from(60_000)),
        covered_share: s(Decimal::new(5, 1)),
        upside_share: s(Decimal::ZERO),
        upside_threshold: None,
        start_year: s(2031),
        end_year: s(2035),
    }];
    deal.tranches = vec![equity("Equity", "100000000", &[("Sponsor", "1")])];
    // Mid-year discounting and declining rate schedules: MIRR's formula takes each party's
    // first-year rate.
    deal.discounting = s(Discounting::MidYear);
    deal.parties[0].rate_schedule = vec![
        (2030, s(Decimal::new(12, 2))),
        (2031, s(Decimal::new(10, 2))),
    ];
    deal.parties[1].rate_schedule = vec![
        (2030, s(Decimal::new(35, 3))),
        (2031, s(Decimal::new(35, 3))),
        (2032, s(Decimal::new(35, 3))),
        (2033, s(Decimal::new(3, 2))),
    ];
    let mut slow = override_of(OverrideKind::Delay, "1");
    slow.phase = Some(s(Phase::RampUp));
    slow.facility = Some(s("Refinery 1".into()));
    let mut longer = override_of(OverrideKind::Delay, "1");
    longer.phase = Some(s(Phase::Operations));
    longer.facility = Some(s("Mine A".into()));
    deal.scenarios = vec![scenario("Late refinery", vec![slow, longer])];
    deal
}

fn deals() -> Vec<(&'static str, Deal)> {
    vec![
        ("pro-rata", network([None, None])),
        ("shares", network([Some("0.6"), Some("0.3")])),
    ]
}

#[test]
fn the_network_deals_pass_check_and_their_workbooks_read_back_to_the_same_results() {
    let dir = TempDir::new("network-round-trip");
    for (name, deal) in deals() {
        assert!(validate(&deal).is_empty(), "{name}: {:?}", validate(&deal));
        let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
        for r in &runs {
            assert!(r.all_checks_pass(), "{name}: {:?}", r.checks);
        }
        let path = dir.write(
            &format!("{name}.xlsx"),
            &results_bytes(&deal, &runs).expect("workbook"),
        );
        let again = read_deal(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let runs_again = engine::run_all(&again, &again.scenarios).expect("runs again");
        assert_eq!(
            to_json(&again, &runs_again),
            to_json(&deal, &runs),
            "{name}: the round trip changed the results"
        );
    }
}

#[test]
fn libreoffice_recomputes_the_network_workbooks_to_the_engines_values() {
    let available = Command::new("soffice")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "LibreOffice (soffice) is required in CI"
        );
        eprintln!("SKIPPED: soffice not found");
        return;
    }
    let recalc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/xlsx-recalc");
    let dir = TempDir::new("network-recompute");
    for (name, deal) in deals() {
        let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
        let path = dir.write(
            &format!("{name}.xlsx"),
            &results_bytes(&deal, &runs).expect("workbook"),
        );
        let out = Command::new("python3")
            .arg(&recalc)
            .arg(&path)
            .output()
            .expect("run xlsx-recalc");
        assert!(
            out.status.success(),
            "{name}: LibreOffice disagrees with the engine:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
