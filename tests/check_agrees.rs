//! `check` and the README agree: what the README offers, check accepts and the engine
//! computes; what the engine cannot compute as documented, or what would change nothing,
//! check refuses, naming the cells.

use lodestone::model::sample::*;
use lodestone::model::*;
use rust_decimal::Decimal;

fn s<T>(v: T) -> Sourced<T> {
    Sourced::bare(v)
}

/// The messages check gives for a deal.
fn problems(deal: &Deal) -> Vec<String> {
    validate(deal).iter().map(|e| e.to_string()).collect()
}

fn with_scenario(mut deal: Deal, overrides: Vec<Override>) -> Deal {
    deal.scenarios = vec![scenario("Case", overrides)];
    deal
}

fn delay(phase: Phase, years: &str) -> Override {
    let mut o = override_of(OverrideKind::Delay, years);
    o.phase = Some(s(phase));
    o
}

#[test]
fn delays_of_every_scheduled_phase_are_accepted() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = s(12);
    deal.facilities[0].ramp = vec![s(Decimal::new(5, 1))];
    for phase in Phase::SCHEDULED {
        let deal = with_scenario(deal.clone(), vec![delay(phase, "1")]);
        assert_eq!(problems(&deal), Vec::<String>::new(), "{phase}");
    }
}

#[test]
fn a_delay_of_production_is_refused_as_ambiguous() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = s(12);
    let found = problems(&with_scenario(deal, vec![delay(Phase::Production, "1")]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("delays production, which is ramp-up plus operations"),
        "{found:?}"
    );
}

#[test]
fn a_ramp_up_delay_of_a_facility_without_ramp_up_years_is_refused_as_changing_nothing() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = s(12);
    let found = problems(&with_scenario(deal, vec![delay(Phase::RampUp, "1")]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("'Mine' has no ramp-up years, so it would change nothing"),
        "{found:?}"
    );
}

#[test]
fn a_scenario_delay_past_the_horizon_is_refused() {
    // 2030 build, 2031–34 operations: the six-year horizon ends in 2035, so one more year
    // fits and two do not.
    let deal = one_mine_all_equity();
    let one = with_scenario(deal.clone(), vec![delay(Phase::Operations, "1")]);
    assert_eq!(problems(&one), Vec::<String>::new());
    let two = with_scenario(deal, vec![delay(Phase::Construction, "2")]);
    let found = problems(&two);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("scenario 'Case' delays 'Mine' by 2 years, so its schedule ends in 2036, after the horizon (expected to end by 2035"),
        "{found:?}"
    );
}

#[test]
fn two_overrides_of_one_kind_on_one_target_are_accepted() {
    let deal = one_mine_all_equity();
    let mut a = override_of(OverrideKind::PriceMultiplier, "0.9");
    a.product = Some(s("Ore".into()));
    let b = a.clone();
    assert_eq!(
        problems(&with_scenario(deal, vec![a, b])),
        Vec::<String>::new()
    );
}

#[test]
fn a_price_deck_must_start_by_the_first_year_the_product_is_needed() {
    // The README: a deck holds its last price after its last year; before its first year
    // there is no price, so check asks for one from first production (2031).
    let mut deal = one_mine_all_equity();
    deal.products[0].deck = vec![(2031, s(Decimal::ONE_HUNDRED))];
    assert_eq!(problems(&deal), Vec::<String>::new());
    deal.products[0].deck = vec![(2032, s(Decimal::ONE_HUNDRED))];
    let found = problems(&deal);
    assert!(
        found
            .iter()
            .any(|m| m
                .contains("starts in 2032, after the product is first produced or bought in 2031")),
        "{found:?}"
    );
}

#[test]
fn every_bundled_example_passes_check() {
    for name in ["ndpr-joint-facility", "spodumene-crash", "gallium-refinery"] {
        let deal = lodestone::examples::example(name).expect("example");
        assert_eq!(problems(&deal), Vec::<String>::new(), "{name}");
    }
    assert_eq!(
        problems(&lodestone::examples::blank()),
        Vec::<String>::new()
    );
}

/// A 120,000 t mine of Concentrate feeding two refineries of Oxide at 4% recovery, with
/// feed shares as given.
fn shared_mine(shares: [Option<&str>; 2], concentrate_priced: bool) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.facilities[0].product = s("Concentrate".into());
    deal.facilities[0].nameplate = s(Decimal::from(120_000));
    deal.costs.truncate(1);
    deal.products = vec![product("Oxide", &[(2030, "50000")])];
    if concentrate_priced {
        deal.products.push(product("Concentrate", &[(2030, "500")]));
    }
    for (name, share) in ["Refinery 1", "Refinery 2"].into_iter().zip(shares) {
        let mut f = facility(
            name,
            FacilityKind::Refinery,
            "Oxide",
            "3000",
            2030,
            [0, 0, 0, 1],
            &[],
            4,
            0,
        );
        f.feed = Some(Feed {
            source: FeedSource::Facility {
                name: s("Mine".into()),
                pricing: s(TransferPricing::Cost),
                price: None,
                share: share.map(|v| s(v.parse().expect("share"))),
            },
            recovery: s(Decimal::new(4, 2)),
        });
        deal.facilities.push(f);
    }
    deal
}

#[test]
fn feed_shares_are_given_for_every_plant_of_a_source_or_none() {
    assert_eq!(
        problems(&shared_mine([None, None], true)),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&shared_mine([Some("0.7"), Some("0.3")], true)),
        Vec::<String>::new()
    );
    let found = problems(&shared_mine([Some("0.7"), None], true));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .contains("some facilities fed by 'Mine' have a feed share and 'Refinery 2' does not"),
        "{found:?}"
    );
}

#[test]
fn feed_shares_over_100_percent_are_refused() {
    let found = problems(&shared_mine([Some("0.7"), Some("0.4")], true));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("the feed shares of 'Mine' sum to 110% (expected at most 100%"),
        "{found:?}"
    );
}

#[test]
fn feed_shares_of_a_product_without_a_price_are_refused_as_leaving_output_unsold() {
    // Without shares, an unpriced mine is worked for what its plants take: accepted.
    assert_eq!(
        problems(&shared_mine([None, None], false)),
        Vec::<String>::new()
    );
    let found = problems(&shared_mine([Some("0.5"), Some("0.5")], false));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .contains("'Mine' has feed shares, but its product 'Concentrate' has no price deck"),
        "{found:?}"
    );
}

#[test]
fn overrides_that_would_change_nothing_are_refused() {
    // The sample mine has development capex and variable opex, but no ramp-up years.
    let deal = one_mine_all_equity();
    let ramp = override_of(OverrideKind::RampMultiplier, "0.8");
    let found = problems(&with_scenario(deal.clone(), vec![ramp]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(
            "the ramp multiplier of 'Case' would change nothing: no facility of the deal has ramp-up years"
        ),
        "{found:?}"
    );
    let mut no_capex = deal.clone();
    no_capex.costs.remove(0);
    let mut overrun = override_of(OverrideKind::CapexOverrun, "0.2");
    overrun.facility = Some(s("Mine".into()));
    let found = problems(&with_scenario(no_capex, vec![overrun]));
    assert!(
        found.iter().any(|m| m.contains(
            "the capex overrun of 'Case' would change nothing: 'Mine' has no development capex"
        )),
        "{found:?}"
    );
    let mut unused = deal.clone();
    unused.products.push(product("Spare", &[(2030, "5")]));
    let mut multiplier = override_of(OverrideKind::PriceMultiplier, "0.5");
    multiplier.product = Some(s("Spare".into()));
    let found = problems(&with_scenario(unused, vec![multiplier]));
    assert!(
        found
            .iter()
            .any(|m| m.contains("no facility of the deal makes 'Spare' or buys it as feed")),
        "{found:?}"
    );
    // What does reach something passes.
    let opex = override_of(OverrideKind::OpexMultiplier, "1.2");
    assert_eq!(
        problems(&with_scenario(deal, vec![opex])),
        Vec::<String>::new()
    );
}
