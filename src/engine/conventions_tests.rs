//! Hand-worked deals for the conventions the README's "How Lodestone computes" states: each
//! isolates one rule (MIRR's rate, combined overrides, delays of every phase, several
//! facilities of one product, a mine shared by several plants) on a deal small enough to
//! work on paper.

use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;
use rust_decimal_macros::dec;

use super::*;
use crate::model::sample::*;
use crate::model::*;

/// The values of a row found by its label.
fn row(r: &Results, label: &str) -> Vec<Decimal> {
    let id = r
        .calc
        .rows
        .iter()
        .position(|d| d.label == label)
        .unwrap_or_else(|| panic!("no row '{label}'"));
    r.values.row(crate::engine::calc::RowId::new(id)).to_vec()
}

fn party_value(
    r: &Results,
    party: &str,
    pick: fn(&results::PartyResult) -> Option<Decimal>,
) -> Decimal {
    r.party(party)
        .and_then(pick)
        .unwrap_or_else(|| panic!("no value for '{party}'"))
}

fn close(a: Decimal, b: Decimal, tol: Decimal) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn mirr_takes_the_schedules_own_first_rate_under_mid_year_discounting() {
    // Sponsor: −150,000 in 2030, then 80,000 a year for four years, then 0. Its schedule
    // is 6% in 2030 and 4% from 2031; the deal discounts mid-year. MIRR takes 6% for both
    // finance and reinvestment: FV of the inflows at 6% to 2035 is
    // 80,000 × (1.06⁴ + 1.06³ + 1.06² + 1.06) = 370,967.4368; the outflow is 150,000 at
    // the start; (370,967.4368 / 150,000)^(1/5) − 1 = 19.8529991344%.
    // (The mid-year factor's root, √1.06 − 1 = 2.96%, would give 18.08%.)
    let mut deal = one_mine_all_equity();
    deal.discounting = Sourced::bare(Discounting::MidYear);
    deal.parties[0].rate_schedule = vec![
        (2030, Sourced::bare(dec!(0.06))),
        (2031, Sourced::bare(dec!(0.04))),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    let mirr = party_value(&r, "Sponsor", |p| p.mirr);
    assert!(
        close(mirr, dec!(0.198529991344166), dec!(0.000000000001)),
        "MIRR {mirr}"
    );
    // A flat 6% under mid-year gives the same MIRR: the rate, not the factor.
    deal.parties[0].rate_schedule.clear();
    deal.parties[0].discount_rate = Sourced::bare(dec!(0.06));
    let flat = run(&deal, &Scenario::base()).expect("runs");
    let flat_mirr = party_value(&flat, "Sponsor", |p| p.mirr);
    assert!(
        close(flat_mirr, mirr, dec!(0.000000000001)),
        "{flat_mirr} vs {mirr}"
    );
}

#[test]
fn a_discount_rate_change_naming_the_project_company_moves_the_projects_rate() {
    // The project's 10% plus 2 points: its unlevered NPV is Excel's NPV at 12%, and no
    // other party's rate moves.
    let deal = one_mine_all_equity();
    let mut change = override_of(OverrideKind::DiscountRateChange, "0.02");
    change.party = Some(Sourced::bare("Project".into()));
    let base = run(&deal, &Scenario::base()).expect("base");
    let r = run(&deal, &scenario("Dearer", vec![change])).expect("runs");
    let flows: Vec<Decimal> = r.project.unlevered_post_tax_cash_flows.clone();
    let want = crate::finance::npv(dec!(0.12), &flows).expect("npv");
    let got: Decimal = r.project.npv_post_tax;
    assert!(close(got, want, dec!(0.000001)), "{got} vs {want}");
    assert_eq!(r.project.discount_rate, dec!(0.12));
    assert_eq!(
        r.party("Sponsor").and_then(|p| p.npv),
        base.party("Sponsor").and_then(|p| p.npv),
        "the sponsor's rate is untouched"
    );
}

#[test]
fn two_crashes_and_two_multipliers_on_one_product_multiply() {
    // A 50% crash in 2031 (one year down, one at the bottom, back over one year) and a 20%
    // crash in 2032 (one year down, then flat at 0.8), with price multipliers 0.9 and 1.5:
    // by year the product of the two crash shapes times 0.9 × 1.5 = 1.35.
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(6);
    let mut first = override_of(OverrideKind::PriceCrash, "0.5");
    first.start_year = Some(Sourced::bare(2031));
    first.bottom_years = Sourced::bare(1);
    first.recovery_years = Sourced::bare(1);
    let mut second = override_of(OverrideKind::PriceCrash, "0.2");
    second.start_year = Some(Sourced::bare(2032));
    second.haircut = Sourced::bare(dec!(0.2));
    let mut overrides = vec![first, second];
    for m in ["0.9", "1.5"] {
        let mut o = override_of(OverrideKind::PriceMultiplier, m);
        o.product = Some(Sourced::bare("Ore".into()));
        overrides.push(o);
    }
    let s = scenario("Two crashes", overrides);
    assert!(
        validate(&Deal {
            scenarios: vec![s.clone()],
            ..deal.clone()
        })
        .is_empty()
    );
    let r = run(&deal, &s).expect("runs");
    // 2030: 1 × 1; 2031: 0.5 × 1; 2032: 0.5 × 0.8; 2033: 1 × 0.8; then 0.8.
    let crash = [
        dec!(1),
        dec!(0.5),
        dec!(0.4),
        dec!(0.8),
        dec!(0.8),
        dec!(0.8),
    ];
    let want: Vec<Decimal> = crash.iter().map(|c| c * dec!(1.35) * dec!(100)).collect();
    assert_eq!(row(&r, "Ore: market price (USD per t)"), want);
}

fn delay(phase: Phase, years: &str) -> Override {
    let mut o = override_of(OverrideKind::Delay, years);
    o.phase = Some(Sourced::bare(phase));
    o
}

#[test]
fn a_ramp_up_delay_moves_each_step_later_holding_the_first() {
    // Ramp 50%, 80%, then nameplate 1,000 t for four years. A year's ramp-up delay: 50%
    // twice, then 80%, then four years at 1,000 t, all a year later.
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(9);
    deal.facilities[0].ramp = vec![Sourced::bare(dec!(0.5)), Sourced::bare(dec!(0.8))];
    let s = scenario("Slow start", vec![delay(Phase::RampUp, "1")]);
    assert!(
        validate(&Deal {
            scenarios: vec![s.clone()],
            ..deal.clone()
        })
        .is_empty()
    );
    let base = run(&deal, &Scenario::base()).expect("base");
    let late = run(&deal, &s).expect("delay");
    let k = |v: &str| v.parse::<Decimal>().expect("number");
    let want = |v: [&str; 9]| v.map(k).to_vec();
    assert_eq!(
        row(&base, "Mine: production"),
        want(["0", "500", "800", "1000", "1000", "1000", "1000", "0", "0"])
    );
    assert_eq!(
        row(&late, "Mine: production"),
        want([
            "0", "500", "500", "800", "1000", "1000", "1000", "1000", "0"
        ])
    );
    assert!(late.all_checks_pass(), "{:?}", late.checks);
}

#[test]
fn an_operations_delay_lengthens_the_life_and_a_closure_delay_spreads_closure_costs() {
    // Four years at 1,000 t from 2031, then a year of closure costing 10,000 in total.
    // Operations +2 and closure +1: six years of output (2031–36), then 5,000 a year of
    // closure in 2037 and 2038.
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(9);
    deal.facilities[0].closure_years = Sourced::bare(1);
    deal.costs.push(cost(
        "Mine",
        "Rehab",
        CostCategory::Rehabilitation,
        CostBasis::TotalOverPhase,
        Some(Phase::Closure),
        "10000",
    ));
    let s = scenario(
        "Longer life",
        vec![delay(Phase::Operations, "2"), delay(Phase::Closure, "1")],
    );
    assert!(
        validate(&Deal {
            scenarios: vec![s.clone()],
            ..deal.clone()
        })
        .is_empty()
    );
    let r = run(&deal, &s).expect("runs");
    let k = |v: &str| v.parse::<Decimal>().expect("number");
    let want = |v: [&str; 9]| v.map(k).to_vec();
    assert_eq!(
        row(&r, "Mine: production"),
        want([
            "0", "1000", "1000", "1000", "1000", "1000", "1000", "0", "0"
        ])
    );
    assert_eq!(
        row(&r, "Mine: Rehab (rehabilitation)"),
        want(["0", "0", "0", "0", "0", "0", "0", "5000", "5000"])
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

/// Row values at one period, by label.
fn at(r: &Results, label: &str, t: usize) -> Decimal {
    row(r, label)[t]
}

/// Two mines of one product: Mine A (1,000 t, royalty 5% in Testland) and Mine B (3,000 t,
/// royalty 10% in Otherland), both built in 2030 and producing 2031–34; Ore at 100/t; a
/// buyer contracted for 40% of the Ore at a fixed 150/t in 2031–32.
fn two_mines() -> Deal {
    let mut deal = one_mine_all_equity();
    deal.facilities[0].name = Sourced::bare("Mine A".into());
    deal.costs[0].facility = Sourced::bare("Mine A".into());
    deal.costs.truncate(1);
    let mut b = facility(
        "Mine B",
        FacilityKind::Mine,
        "Ore",
        "3000",
        2030,
        [0, 0, 0, 1],
        &[],
        4,
        0,
    );
    b.country = Sourced::bare("Otherland".into());
    deal.facilities.push(b);
    deal.fiscal = vec![
        fiscal("Testland", "0.05", "0", "Government"),
        fiscal("Otherland", "0.1", "0", "Government"),
    ];
    deal.parties
        .push(party("Buyer", PartyKind::Offtaker, "0.08"));
    deal.offtakes = vec![Offtake {
        name: Sourced::bare("Contract".into()),
        product: Sourced::bare("Ore".into()),
        buyer: Sourced::bare("Buyer".into()),
        share: Sourced::bare(dec!(0.4)),
        start_year: Sourced::bare(2031),
        end_year: Sourced::bare(2032),
        pricing: Sourced::bare(PricingKind::Fixed),
        discount: Sourced::bare(Decimal::ZERO),
        fixed_price: Some(Sourced::bare(dec!(150))),
        floor: None,
        cap: None,
        take_or_pay: Sourced::bare(Decimal::ZERO),
    }];
    deal
}

#[test]
fn two_mines_of_one_product_each_sell_their_output_with_their_own_royalty() {
    let deal = two_mines();
    assert!(validate(&deal).is_empty(), "{:?}", validate(&deal));
    let r = run(&deal, &Scenario::base()).expect("runs");
    // 2031: 4,000 t of Ore; the contract takes 40% = 1,600 t at 150 = 240,000; the other
    // 2,400 t sell at market for 240,000. Mine A made a quarter of the Ore: 120,000 of
    // sales and a 5% royalty of 6,000; Mine B three quarters: 360,000 and 10% = 36,000.
    assert_eq!(
        at(&r, "Ore: sellable output (every facility making it)", 1),
        dec!(4000)
    );
    assert_eq!(at(&r, "Contract: contracted volume", 1), dec!(1600));
    assert_eq!(at(&r, "Contract: sales to Buyer", 1), dec!(240000));
    assert_eq!(at(&r, "Ore: market sales", 1), dec!(240000));
    assert_eq!(at(&r, "Mine A: sales value", 1), dec!(120000));
    assert_eq!(at(&r, "Mine B: sales value", 1), dec!(360000));
    assert_eq!(at(&r, "Mine A: royalty to Government", 1), dec!(6000));
    assert_eq!(at(&r, "Mine B: royalty to Government", 1), dec!(36000));
    // 2033, after the contract: 4,000 t at market, 400,000; royalties 5,000 and 30,000.
    assert_eq!(at(&r, "Ore: market sales", 3), dec!(400000));
    assert_eq!(at(&r, "Mine A: royalty to Government", 3), dec!(5000));
    assert_eq!(at(&r, "Mine B: royalty to Government", 3), dec!(30000));
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

/// A 120,000 t mine of Concentrate (500/t) feeding two refineries of Oxide (50,000/t) at
/// 4% recovery: Refinery 1 of 4,500 t could take 112,500 t of feed, Refinery 2 of 3,000 t
/// 75,000 t. Transfers at market. All built in 2030, producing 2031–34.
fn shared_mine(mine: &str) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.facilities[0].product = Sourced::bare("Concentrate".into());
    deal.facilities[0].nameplate = Sourced::bare(mine.parse().expect("nameplate"));
    deal.costs.truncate(1);
    deal.products = vec![
        product("Concentrate", &[(2030, "500")]),
        product("Oxide", &[(2030, "50000")]),
    ];
    for (name, nameplate) in [("Refinery 1", "4500"), ("Refinery 2", "3000")] {
        let mut f = facility(
            name,
            FacilityKind::Refinery,
            "Oxide",
            nameplate,
            2030,
            [0, 0, 0, 1],
            &[],
            4,
            0,
        );
        f.feed = Some(Feed {
            source: FeedSource::Facility {
                name: Sourced::bare("Mine".into()),
                pricing: Sourced::bare(TransferPricing::Market),
                price: None,
                share: None,
            },
            recovery: Sourced::bare(dec!(0.04)),
        });
        deal.facilities.push(f);
    }
    deal
}

#[test]
fn a_mine_short_of_what_its_refineries_can_take_shares_its_output_pro_rata() {
    let deal = shared_mine("120000");
    assert!(validate(&deal).is_empty(), "{:?}", validate(&deal));
    let r = run(&deal, &Scenario::base()).expect("runs");
    // 187,500 t wanted, 120,000 t made: each refinery gets 120,000 / 187,500 = 64% of
    // what it can take: 72,000 t and 48,000 t, giving 2,880 t and 1,920 t of Oxide. The
    // mine sells nothing at market (not −67,500 t).
    assert_eq!(at(&r, "Mine: feed its plants can take", 1), dec!(187500));
    assert_eq!(
        at(&r, "Mine: share of that it supplies (pro rata)", 1),
        dec!(0.64)
    );
    assert_eq!(
        at(&r, "Refinery 1: feed available from Mine (pro rata)", 1),
        dec!(72000)
    );
    assert_eq!(
        at(&r, "Refinery 2: feed available from Mine (pro rata)", 1),
        dec!(48000)
    );
    assert_eq!(at(&r, "Refinery 1: feed used", 1), dec!(72000));
    assert_eq!(at(&r, "Refinery 2: feed used", 1), dec!(48000));
    assert_eq!(
        at(
            &r,
            "Refinery 1: production (capacity capped by feed × recovery)",
            1
        ),
        dec!(2880)
    );
    assert_eq!(
        at(
            &r,
            "Refinery 2: production (capacity capped by feed × recovery)",
            1
        ),
        dec!(1920)
    );
    assert_eq!(
        at(&r, "Mine: sold (production less feed transferred)", 1),
        dec!(0)
    );
    assert_eq!(at(&r, "Concentrate: market sales", 1), dec!(0));
    // The mine's sales value is its transfers at market: 120,000 t × 500 = 60m; Oxide
    // sells 4,800 t × 50,000 = 240m, 60% of it Refinery 1's.
    assert_eq!(at(&r, "Mine: sales value", 1), dec!(60000000));
    assert_eq!(at(&r, "Oxide: market sales", 1), dec!(240000000));
    assert_eq!(at(&r, "Refinery 1: sales value", 1), dec!(144000000));
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_mine_with_more_than_its_refineries_take_sells_the_rest_at_market() {
    // 200,000 t: both refineries take all they can (187,500 t); 12,500 t sell at 500.
    let r = run(&shared_mine("200000"), &Scenario::base()).expect("runs");
    assert_eq!(
        at(&r, "Mine: share of that it supplies (pro rata)", 1),
        dec!(1)
    );
    assert_eq!(at(&r, "Refinery 1: feed used", 1), dec!(112500));
    assert_eq!(at(&r, "Refinery 2: feed used", 1), dec!(75000));
    assert_eq!(at(&r, "Concentrate: market sales", 1), dec!(6250000));
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn fixed_feed_shares_split_a_mine_and_the_rest_sells_at_market() {
    // Shares of 70% and 20% of 120,000 t: Refinery 1 may take 84,000 t but its 4,500 t
    // nameplate needs only 112,500 t, so it takes 84,000 (3,360 t of Oxide); Refinery 2 may
    // take 24,000 t (960 t). The 12,000 t left sell at market for 6m.
    let mut deal = shared_mine("120000");
    for (k, share) in [(1, dec!(0.7)), (2, dec!(0.2))] {
        if let Some(Feed {
            source: FeedSource::Facility { share: s, .. },
            ..
        }) = &mut deal.facilities[k].feed
        {
            *s = Some(Sourced::bare(share));
        }
    }
    assert!(validate(&deal).is_empty(), "{:?}", validate(&deal));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert_eq!(
        at(
            &r,
            "Refinery 1: feed available from Mine (its feed share)",
            1
        ),
        dec!(84000)
    );
    assert_eq!(at(&r, "Refinery 1: feed used", 1), dec!(84000));
    assert_eq!(at(&r, "Refinery 2: feed used", 1), dec!(24000));
    assert_eq!(
        at(
            &r,
            "Refinery 1: production (capacity capped by feed × recovery)",
            1
        ),
        dec!(3360)
    );
    assert_eq!(
        at(&r, "Mine: sold (production less feed transferred)", 1),
        dec!(12000)
    );
    assert_eq!(at(&r, "Concentrate: market sales", 1), dec!(6000000));
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_mine_whose_product_has_no_price_is_worked_for_what_its_refinery_takes() {
    // Ore has no price: the 1,000 t mine feeds a refinery of 80 t at 10% recovery, which
    // can take 800 t. The mine is worked for 800 t (its 20/t opex: 16,000, transferred at
    // cost), nothing is left unsold, and a check says so.
    let mut deal = one_mine_all_equity();
    deal.products = vec![product("Oxide", &[(2030, "2000")])];
    let mut refinery = facility(
        "Refinery",
        FacilityKind::Refinery,
        "Oxide",
        "80",
        2030,
        [0, 0, 0, 1],
        &[],
        4,
        0,
    );
    refinery.feed = Some(Feed {
        source: FeedSource::Facility {
            name: Sourced::bare("Mine".into()),
            pricing: Sourced::bare(TransferPricing::Cost),
            price: None,
            share: None,
        },
        recovery: Sourced::bare(dec!(0.1)),
    });
    deal.facilities.push(refinery);
    assert!(validate(&deal).is_empty(), "{:?}", validate(&deal));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert_eq!(at(&r, "Refinery: feed it can take", 1), dec!(800));
    assert_eq!(
        at(
            &r,
            "Mine: output worked (what its plants take; its product has no price)",
            1
        ),
        dec!(800)
    );
    assert_eq!(at(&r, "Mine: production", 1), dec!(800));
    assert_eq!(
        at(&r, "Mine: sold (production less feed transferred)", 1),
        dec!(0)
    );
    assert_eq!(at(&r, "Mine: Run (variable opex)", 1), dec!(16000));
    assert_eq!(
        at(&r, "Transfer: Mine feed to Refinery (cost)", 1),
        dec!(16000)
    );
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "Mine: all its output (no price) goes to its plants" && c.ok),
        "{:?}",
        r.checks
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_loans_subsidy_cost_is_a_share_of_the_pv_or_of_the_nominal_disbursements() {
    // A government lends 100,000 at 0% in 2030 (construction), repaid 25,000 a year 2031–34
    // (straight-line over four years), and discounts at 5%. PV of the disbursement:
    // 100,000 / 1.05; PV of the repayments: 25,000 × (1.05⁻² + … + 1.05⁻⁵). The subsidy cost
    // is their difference, as a share of the PV of the disbursement (the default) or of
    // the 100,000 as paid.
    let mut deal = one_mine_all_equity();
    deal.tranches.push(loan(
        "Soft loan",
        TrancheKind::ConcessionalLoan,
        1,
        "100000",
        1,
        "0",
        4,
        Repayment::StraightLine,
        &[("Government", "1")],
    ));
    deal.tranches[0].draw_priority = Sourced::bare(2);
    let subsidy = |deal: &Deal| -> Decimal {
        let r = run(deal, &Scenario::base()).expect("runs");
        assert!(r.all_checks_pass(), "{:?}", r.checks);
        r.governments[0].loan_subsidy[0]
            .subsidy_cost
            .expect("subsidy")
    };
    let v = Decimal::ONE / dec!(1.05);
    let pv_out = dec!(100000) * v;
    let pv_back: Decimal = (2..=5).map(|k| dec!(25000) * v.powi(k)).sum();
    let pv = subsidy(&deal);
    assert!(
        close(pv, (pv_out - pv_back) / pv_out, dec!(0.0000000001)),
        "{pv}"
    );
    deal.subsidy_basis = Sourced::bare(SubsidyBasis::Nominal);
    let nominal = subsidy(&deal);
    assert!(
        close(
            nominal,
            (pv_out - pv_back) / dec!(100000),
            dec!(0.0000000001)
        ),
        "{nominal}"
    );
}
