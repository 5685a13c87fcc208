//! Hand-checkable tests of the engine's rules on small deals.

use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;
use rust_decimal_macros::dec;

use super::*;
use crate::model::sample::*;
use crate::model::*;

fn flows(r: &Results, party: &str) -> Vec<Decimal> {
    r.party(party)
        .map(|p| {
            p.cash_flows
                .iter()
                .map(|v| v.parse().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

fn num(s: &Option<String>) -> Decimal {
    s.as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

#[test]
fn one_mine_no_debt_can_be_checked_on_paper() {
    let deal = one_mine_all_equity();
    let r = run(&deal, &Scenario::base()).expect("runs");
    // 2030 build 150,000 from equity; 2031–34 sell 1,000 t × 100 less 20/t; 2035 nothing.
    assert_eq!(
        flows(&r, "Sponsor"),
        vec![
            dec!(-150000),
            dec!(80000),
            dec!(80000),
            dec!(80000),
            dec!(80000),
            dec!(0)
        ]
    );
    // NPV at 10%, first flow discounted one period (Excel NPV).
    let x = Decimal::ONE / dec!(1.1);
    let mut want = Decimal::ZERO;
    let mut df = Decimal::ONE;
    for v in [
        dec!(-150000),
        dec!(80000),
        dec!(80000),
        dec!(80000),
        dec!(80000),
        dec!(0),
    ] {
        df *= x;
        want += v * df;
    }
    let npv: Decimal = r
        .party("Sponsor")
        .map(|p| p.npv.parse().unwrap_or_default())
        .unwrap_or_default();
    assert!((npv - want).abs() < dec!(0.000001), "npv {npv} want {want}");
    // IRR: −150,000 + 80,000 × annuity(4, r) = 0 → r ≈ 39.6%.
    let irr = num(&r.party("Sponsor").and_then(|p| p.irr.clone()));
    let check: Decimal = [dec!(80000); 4]
        .iter()
        .enumerate()
        .map(|(k, v)| v / (Decimal::ONE + irr).powi(k as i64 + 1))
        .sum();
    assert!(
        (check - dec!(150000)).abs() < dec!(0.0001),
        "irr {irr} gives {check}"
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    // The project's ledger: sales from the market, costs to suppliers.
    assert_eq!(
        flows(&r, "Market"),
        vec![
            dec!(0),
            dec!(-100000),
            dec!(-100000),
            dec!(-100000),
            dec!(-100000),
            dec!(0)
        ]
    );
    assert_eq!(
        flows(&r, "Suppliers"),
        vec![
            dec!(150000),
            dec!(20000),
            dec!(20000),
            dec!(20000),
            dec!(20000),
            dec!(0)
        ]
    );
}

/// The values of a row found by its label.
fn row(r: &Results, label: &str) -> Vec<Decimal> {
    let id = r
        .calc
        .rows
        .iter()
        .position(|d| d.label == label)
        .unwrap_or_else(|| panic!("no row '{label}'"));
    r.values.row(id).to_vec()
}

fn close(a: Decimal, b: Decimal, tol: Decimal) -> bool {
    (a - b).abs() <= tol
}

fn assert_rows_close(got: &[Decimal], want: &[Decimal], tol: Decimal, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(*g, *w, tol),
            "{what}: period {t}: got {g}, want {w}\n got  {got:?}\n want {want:?}"
        );
    }
}

#[test]
fn a_crash_falls_linearly_sits_at_the_bottom_recovers_and_keeps_its_haircut() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(8);
    let mut crash = override_of(OverrideKind::PriceCrash, "0.6");
    crash.start_year = Some(Sourced::bare(2031));
    crash.fall_years = Sourced::bare(2);
    crash.bottom_years = Sourced::bare(1);
    crash.recovery_years = Sourced::bare(2);
    crash.haircut = Sourced::bare(dec!(0.2));
    let r = run(&deal, &scenario("Crash", vec![crash])).expect("runs");
    // 2030 before; 2031–32 fall over two years to 0.4; 2033 bottom; 2034–35 recover to 0.8.
    let want = [
        dec!(1),
        dec!(0.7),
        dec!(0.4),
        dec!(0.4),
        dec!(0.6),
        dec!(0.8),
        dec!(0.8),
        dec!(0.8),
    ];
    assert_rows_close(
        &row(&r, "Ore: crash multiplier"),
        &want,
        Decimal::ZERO,
        "crash multiplier",
    );
    let prices: Vec<Decimal> = want.iter().map(|m| m * dec!(100)).collect();
    assert_rows_close(
        &row(&r, "Ore: market price (USD per t)"),
        &prices,
        Decimal::ZERO,
        "market price",
    );
}

#[test]
fn a_permitting_delay_shifts_construction_and_production() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(8);
    deal.facilities[0].permitting_years = Sourced::bare(1);
    let mut delay = override_of(OverrideKind::Delay, "2");
    delay.phase = Some(Sourced::bare(Phase::Permitting));
    let base = run(&deal, &Scenario::base()).expect("base");
    let late = run(&deal, &scenario("Delay", vec![delay])).expect("delay");
    let z = Decimal::ZERO;
    let k = dec!(1000);
    assert_eq!(row(&base, "Mine: production"), vec![z, z, k, k, k, k, z, z]);
    assert_eq!(row(&late, "Mine: production"), vec![z, z, z, z, k, k, k, k]);
    assert_eq!(
        row(&late, "Mine: construction"),
        vec![z, z, z, Decimal::ONE, z, z, z, z]
    );
}

#[test]
fn ramp_up_follows_the_profile_then_runs_at_nameplate() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(7);
    deal.facilities[0].ramp = vec![Sourced::bare(dec!(0.5)), Sourced::bare(dec!(0.8))];
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert_eq!(
        row(&r, "Mine: production"),
        vec![
            dec!(0),
            dec!(500),
            dec!(800),
            dec!(1000),
            dec!(1000),
            dec!(1000),
            dec!(1000)
        ]
    );
    // A slower ramp multiplies the ramp-up percentages only.
    let slow = run(
        &deal,
        &scenario(
            "Slow",
            vec![override_of(OverrideKind::RampMultiplier, "0.5")],
        ),
    )
    .expect("runs");
    assert_eq!(
        row(&slow, "Mine: production"),
        vec![
            dec!(0),
            dec!(250),
            dec!(400),
            dec!(1000),
            dec!(1000),
            dec!(1000),
            dec!(1000)
        ]
    );
}

#[test]
fn tax_deducts_depreciation_and_carries_losses_forward() {
    let mut deal = one_mine_all_equity();
    deal.fiscal[0].tax_rate = Sourced::bare(dec!(0.3));
    // Expensed in 2030: a 50,000 tax loss carried into 2031.
    deal.costs.push(cost(
        "Mine",
        "Studies",
        CostCategory::Exploration,
        CostBasis::TotalOverPhase,
        Some(Phase::Construction),
        "50000",
    ));
    let r = run(&deal, &Scenario::base()).expect("runs");
    // Depreciation 150,000 / 4 from 2031. Income 2031: 80,000 − 37,500 = 42,500 against the
    // 50,000 loss: no tax, 7,500 carried. 2032: 42,500 − 7,500 = 35,000 taxed at 30%.
    assert_eq!(
        row(&r, "Mine: depreciation"),
        vec![
            dec!(0),
            dec!(37500),
            dec!(37500),
            dec!(37500),
            dec!(37500),
            dec!(0)
        ]
    );
    assert_eq!(
        row(&r, "Testland: tax losses carried forward"),
        vec![dec!(50000), dec!(7500), dec!(0), dec!(0), dec!(0), dec!(0)]
    );
    assert_eq!(
        row(&r, "Testland: company tax before credits"),
        vec![
            dec!(0),
            dec!(0),
            dec!(10500),
            dec!(12750),
            dec!(12750),
            dec!(0)
        ]
    );
    assert_eq!(
        flows(&r, "Government"),
        vec![
            dec!(0),
            dec!(0),
            dec!(10500),
            dec!(12750),
            dec!(12750),
            dec!(0)
        ]
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_refundable_production_tax_credit_is_paid_in_cash_beyond_tax() {
    let mut deal = one_mine_all_equity();
    deal.facilities[0].kind = Sourced::bare(FacilityKind::Refinery);
    deal.fiscal[0].tax_rate = Sourced::bare(dec!(0.3));
    deal.fiscal[0].production_tax_credit = Some(ProductionTaxCredit {
        rate: Sourced::bare(dec!(0.1)),
        categories: Sourced::bare(vec![CostCategory::VariableOpex]),
        facility_kinds: Sourced::bare(vec![FacilityKind::Refinery]),
        first_year: Sourced::bare(2031),
        last_year: Sourced::bare(2032),
        refundable: Sourced::bare(true),
    });
    let r = run(&deal, &Scenario::base()).expect("runs");
    // Credit: 10% of 20,000 opex in 2031–32 = 2,000 a year, against tax of 12,750.
    assert_eq!(
        row(&r, "Testland: production tax credit earned"),
        vec![dec!(0), dec!(2000), dec!(2000), dec!(0), dec!(0), dec!(0)]
    );
    assert_eq!(
        row(&r, "Testland: company tax after credit"),
        vec![
            dec!(0),
            dec!(10750),
            dec!(10750),
            dec!(12750),
            dec!(12750),
            dec!(0)
        ]
    );
}

fn financed(loan_commitment: &str, repayment: Repayment) -> Deal {
    let mut deal = one_mine_all_equity();
    deal.tranches = vec![
        equity("Equity", "150000", &[("Sponsor", "1")]),
        loan(
            "Senior",
            TrancheKind::SeniorDebt,
            1,
            loan_commitment,
            1,
            "0.1",
            4,
            repayment,
            &[("Bank", "1")],
        ),
    ];
    deal.tranches[0].draw_priority = Sourced::bare(2);
    deal.parties.push(party("Bank", PartyKind::Bank, "0.08"));
    deal
}

#[test]
fn an_annuity_pays_equal_debt_service_and_repays_in_full() {
    let deal = financed("100000", Repayment::Annuity);
    let r = run(&deal, &Scenario::base()).expect("runs");
    let interest = row(&r, "Senior: interest paid");
    let principal = row(&r, "Senior: principal paid");
    // The annuity is 100,000 × 0.1 / (1 − 1.1^−4) = 31,547.0803…, booked to the cent: interest
    // ROUND(10% × balance, 2), principal ROUND(share × 100,000, 2), the last year the rest.
    let payment = dec!(31547.08);
    let by_hand = [
        (dec!(10000.00), dec!(21547.08)),
        (dec!(7845.29), dec!(23701.79)),
        (dec!(5475.11), dec!(26071.97)),
        (dec!(2867.92), dec!(28679.16)),
    ];
    for (t, (i, p)) in (1..=4).zip(by_hand) {
        assert_eq!((interest[t], principal[t]), (i, p), "year {t}");
        assert_eq!(interest[t] + principal[t], payment, "year {t}");
    }
    assert_eq!(
        row(&r, "Senior: outstanding (principal and arrears)")[4],
        Decimal::ZERO
    );
    assert_eq!(
        r.tranche("Senior").and_then(|t| t.loss.clone()).as_deref(),
        Some("0")
    );
    // The bank's flows: −100,000 in 2030, then the annuity.
    let bank = flows(&r, "Bank");
    assert_eq!(bank[0], dec!(-100000));
    assert_eq!(bank[1], payment);
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_sculpted_loan_holds_its_dscr_at_the_target_every_year() {
    // Sized so that CFADS / 2 amortises it exactly: 40,000 a year for 4 years at 10%.
    let size = dec!(40000) * (Decimal::ONE - Decimal::ONE / dec!(1.1).powi(4)) / dec!(0.1);
    let mut deal = financed(&size.to_string(), Repayment::Sculpted);
    deal.tranches[1].target_dscr = Some(Sourced::bare(dec!(2)));
    let r = run(&deal, &Scenario::base()).expect("runs");
    let dscr = row(&r, "Senior: DSCR");
    for (t, d) in dscr.iter().enumerate().take(5).skip(1) {
        assert!(close(*d, dec!(2), dec!(0.000000001)), "year {t}: DSCR {d}");
    }
    assert!(close(
        row(&r, "Senior: outstanding (principal and arrears)")[4],
        Decimal::ZERO,
        dec!(0.000001)
    ));
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

/// Sculpting meets a ledger booked to the cent: the debt service is CFADS / target DSCR
/// rounded to the cent (interest is booked, and the principal ROUND(CFADS / target −
/// interest)), so the DSCR is the target to within half a cent of debt service.
#[test]
fn a_sculpted_loan_pays_cfads_over_its_target_to_the_cent() {
    let mut deal = financed("150000", Repayment::Sculpted);
    deal.tranches[1].target_dscr = Some(Sourced::bare(dec!(1.3)));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let cfads = row(&r, "CFADS (cash flow available for debt service)");
    let service = row(&r, "Senior: scheduled debt service");
    let dscr = row(&r, "Senior: DSCR");
    // 2031–2032: 80,000 / 1.3 = 61,538.4615… → 61,538.46 (then the balance runs out).
    for t in 1..=2 {
        assert_eq!(cfads[t], dec!(80000), "year {t}");
        assert_eq!(service[t], dec!(61538.46), "year {t}");
        assert!(
            (dscr[t] - dec!(1.3)).abs() <= dec!(1.3) * dec!(0.005) / service[t],
            "year {t}: DSCR {}",
            dscr[t]
        );
    }
}

#[test]
fn a_guarantee_pays_coverage_times_the_loss_up_to_its_cap() {
    // Prices collapse after 2031: the bullet loan cannot be repaid at maturity.
    let mut deal = financed("100000", Repayment::Bullet);
    deal.products[0].deck = vec![
        (2030, Sourced::bare(dec!(100))),
        (2031, Sourced::bare(dec!(100))),
        (2032, Sourced::bare(dec!(30))),
    ];
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    for (cap, want) in [("1000000", None), ("20000", Some(dec!(20000)))] {
        let mut deal = deal.clone();
        deal.tranches.push(guarantee(
            "Cover",
            "Senior",
            cap,
            "0.8",
            &[("Treasury", "1")],
        ));
        let r = run(&deal, &Scenario::base()).expect("runs");
        let loss = num(&r.tranche("Senior").and_then(|t| t.loss.clone()));
        assert!(loss > Decimal::ZERO, "the loan must lose money");
        let calls = num(&r.tranche("Cover").and_then(|t| t.guarantee_calls.clone()));
        let want = want.unwrap_or(dec!(0.8) * loss);
        assert_eq!(calls, want, "cap {cap}: loss {loss}");
        assert_eq!(
            r.government("Treasury")
                .and_then(|g| g.guarantee_calls.parse::<Decimal>().ok()),
            Some(want)
        );
        assert!(r.all_checks_pass(), "{:?}", r.checks);
    }
}

#[test]
fn a_loan_unpaid_at_maturity_defaults_and_is_still_paid_ahead_of_first_loss_money() {
    // A two-year senior bullet and a four-year first-loss annuity; prices are 30 in the
    // first two operating years (CFADS 10,000), then 100 (CFADS 80,000).
    let mut deal = financed("100000", Repayment::Bullet);
    deal.tranches[1].tenor_years = Sourced::bare(2);
    deal.tranches.push(loan(
        "First loss",
        TrancheKind::FirstLoss,
        2,
        "50000",
        1,
        "0.1",
        4,
        Repayment::Annuity,
        &[("Treasury", "1")],
    ));
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    deal.products[0].deck = vec![
        (2030, Sourced::bare(dec!(30))),
        (2031, Sourced::bare(dec!(30))),
        (2032, Sourced::bare(dec!(30))),
        (2033, Sourced::bare(dec!(100))),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    // 2032, the senior's maturity: interest paid, the 100,000 of principal unpaid. It is in
    // default, not written off.
    let defaulted = row(&r, "Senior: unpaid at final maturity (default)");
    assert_eq!(defaulted[2], dec!(100000));
    assert!(
        r.events
            .iter()
            .any(|e| e.year == 2032 && e.kind == build::EventKind::Default)
    );
    assert!(
        row(&r, "Senior: written off (loss)")
            .iter()
            .all(|w| w.is_zero())
    );
    // The senior is still paid first: all of 2033's 80,000, then 10% on the 30,000 left
    // and the 30,000 in 2034. The first-loss money receives nothing until then.
    let bank = flows(&r, "Bank");
    assert_eq!(bank[3], dec!(80000));
    assert_eq!(bank[4], dec!(33000));
    let treasury = flows(&r, "Treasury");
    assert!(treasury[1..=3].iter().all(|f| f.is_zero()), "{treasury:?}");
    assert_eq!(treasury[4], dec!(47000));
    assert_eq!(
        r.tranche("Senior").and_then(|t| t.loss.clone()).as_deref(),
        Some("0")
    );
    // What the first-loss money is still owed at the horizon is its loss.
    let loss = num(&r.tranche("First loss").and_then(|t| t.loss.clone()));
    assert!(loss > Decimal::ZERO);
    assert_eq!(row(&r, "First loss: written off (loss)")[5], loss);
}

#[test]
fn a_lock_up_traps_cash_while_dscr_is_low_and_releases_it_when_it_recovers() {
    let mut deal = financed("100000", Repayment::Annuity);
    deal.horizon_years = Sourced::bare(6);
    deal.tranches[1].lockup_dscr = Some(Sourced::bare(dec!(1.5)));
    // 2032 dips to 60: CFADS 40,000 against 31,547 of debt service (DSCR 1.27 < 1.5).
    deal.products[0].deck = vec![
        (2030, Sourced::bare(dec!(100))),
        (2031, Sourced::bare(dec!(100))),
        (2032, Sourced::bare(dec!(60))),
        (2033, Sourced::bare(dec!(100))),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    let locked = row(
        &r,
        "Distributions locked up (DSCR below lock-up or arrears)",
    );
    assert_eq!(
        locked,
        vec![dec!(0), dec!(0), dec!(1), dec!(0), dec!(0), dec!(0)]
    );
    let dist = row(&r, "Distributions to equity");
    let cash = row(&r, "Project cash (unrestricted and trapped)");
    // The annuity's debt service, booked to the cent (see the annuity test).
    let service = dec!(31547.08);
    assert_eq!(dist[2], Decimal::ZERO);
    assert_eq!(cash[2], dec!(40000) - service, "trapped");
    assert_eq!(dist[3], dec!(80000) - service + cash[2], "released");
    assert_eq!(cash[3], Decimal::ZERO);
    assert!(
        r.events
            .iter()
            .any(|e| e.year == 2032 && e.kind == build::EventKind::Lockup)
    );
}

#[test]
fn a_dsra_is_funded_in_construction_and_drawn_on_a_shortfall() {
    let mut deal = financed("100000", Repayment::StraightLine);
    deal.tranches[1].dsra_months = Sourced::bare(dec!(6));
    deal.tranches[0].commitment = Sourced::bare(dec!(200000));
    // 2032 price 20: CFADS 0, so the DSRA pays what it can.
    deal.products[0].deck = vec![
        (2030, Sourced::bare(dec!(100))),
        (2031, Sourced::bare(dec!(100))),
        (2032, Sourced::bare(dec!(20))),
        (2033, Sourced::bare(dec!(100))),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    let dsra = row(&r, "Senior: DSRA balance");
    // Funded in 2030 on next year's service: 6/12 × (10% × 100,000 + 25,000) = 17,500.
    assert_eq!(dsra[0], dec!(17500));
    let drawn = row(&r, "Senior: DSRA drawn");
    assert!(
        drawn[2] > Decimal::ZERO,
        "DSRA drawn in the bad year: {drawn:?}"
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.year == 2032 && e.kind == build::EventKind::DsraDraw)
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn offtake_prices_and_a_price_floor_with_upside_sharing() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(4);
    deal.products[0].deck = vec![
        (2030, Sourced::bare(dec!(100))),
        (2031, Sourced::bare(dec!(100))),
        (2032, Sourced::bare(dec!(150))),
    ];
    deal.parties
        .push(party("Buyer", PartyKind::Offtaker, "0.1"));
    deal.offtakes.push(Offtake {
        name: Sourced::bare("Fixed".into()),
        product: Sourced::bare("Ore".into()),
        buyer: Sourced::bare("Buyer".into()),
        share: Sourced::bare(dec!(0.5)),
        start_year: Sourced::bare(2031),
        end_year: Sourced::bare(2040),
        pricing: Sourced::bare(PricingKind::Fixed),
        discount: Sourced::bare(Decimal::ZERO),
        fixed_price: Some(Sourced::bare(dec!(120))),
        floor: None,
        cap: None,
        take_or_pay: Sourced::bare(Decimal::ZERO),
    });
    deal.price_supports.push(PriceSupport {
        name: Sourced::bare("Floor".into()),
        product: Sourced::bare("Ore".into()),
        supporter: Sourced::bare("Government".into()),
        floor: Sourced::bare(dec!(110)),
        covered_share: Sourced::bare(Decimal::ONE),
        upside_share: Sourced::bare(dec!(0.3)),
        upside_threshold: None,
        start_year: Sourced::bare(2031),
        end_year: Sourced::bare(2040),
    });
    let r = run(&deal, &Scenario::base()).expect("runs");
    // Buyer takes 500 t at 120; the rest sells at market.
    assert_eq!(
        flows(&r, "Buyer"),
        vec![dec!(0), dec!(-60000), dec!(-60000), dec!(-60000)]
    );
    assert_eq!(
        flows(&r, "Market"),
        vec![dec!(0), dec!(-50000), dec!(-75000), dec!(-75000)]
    );
    // Floor: (110 − 100) × 1,000 t in 2031; upside 30% × (150 − 110) × 1,000 t after.
    assert_eq!(
        flows(&r, "Government"),
        vec![dec!(0), dec!(-10000), dec!(12000), dec!(12000)]
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_refinery_is_capped_by_its_mines_feed_and_pays_for_it_at_cost() {
    let mut deal = one_mine_all_equity();
    deal.products.push(product("Oxide", &[(2030, "2000")]));
    let mut refinery = facility(
        "Refinery",
        FacilityKind::Refinery,
        "Oxide",
        "150",
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
        },
        recovery: Sourced::bare(dec!(0.1)),
    });
    deal.facilities.push(refinery);
    let r = run(&deal, &Scenario::base()).expect("runs");
    // Capacity 150 t but 1,000 t of feed × 10% recovery gives 100 t; all the ore is used.
    assert_eq!(
        row(
            &r,
            "Refinery: production (capacity capped by feed × recovery)"
        )[1],
        dec!(100)
    );
    assert_eq!(row(&r, "Refinery: feed used")[1], dec!(1000));
    assert_eq!(
        row(&r, "Mine: sold (production less feed transferred)")[1],
        dec!(0)
    );
    // At cost: the mine's 20/t opex. Inside the project the transfer nets out.
    assert_eq!(
        row(&r, "Transfer: Mine feed to Refinery (cost)")[1],
        dec!(20000)
    );
    assert_eq!(flows(&r, "Market")[1], dec!(-200000));
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

#[test]
fn a_prepared_calculation_with_unit_price_paths_is_the_base_case_and_halved_paths_a_halved_price() {
    let deal = financed("100000", Repayment::Annuity);
    let profiles = sculpt_profiles(&deal).expect("profiles");
    let prepared = prepare(&deal, &Scenario::base(), &profiles).expect("prepares");
    let base = run(&deal, &Scenario::base()).expect("base");
    let values = prepared
        .evaluate(prepared.inputs(), false)
        .expect("evaluates");
    for (p, party) in base
        .parties
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.ledger_only)
    {
        let npv = values
            .scalar(prepared.built.lines.parties[p].npv)
            .unwrap_or_default();
        assert_eq!(npv.normalize().to_string(), party.npv, "{}", party.name);
    }
    // Every multiplier at 0.5 is the price multiplier scenario at 0.5.
    let mut inputs = prepared.inputs().to_vec();
    for ids in prepared.price_path_inputs() {
        for id in ids {
            inputs[*id] = dec!(0.5);
        }
    }
    let halved = prepared.evaluate(&inputs, true).expect("evaluates");
    let scenario = scenario(
        "Half",
        vec![override_of(OverrideKind::PriceMultiplier, "0.5")],
    );
    let want = run(&deal, &scenario).expect("runs");
    for (p, party) in want
        .parties
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.ledger_only)
    {
        let npv = halved
            .scalar(prepared.built.lines.parties[p].npv)
            .unwrap_or_default();
        assert_eq!(npv.normalize().to_string(), party.npv, "{}", party.name);
        assert_eq!(
            halved.scalar(prepared.built.lines.parties[p].irr),
            None,
            "rates skipped"
        );
    }
}

#[test]
fn debt_is_drawn_from_financial_close_and_equity_funds_what_comes_before() {
    let mut deal = financed("100000", Repayment::Annuity);
    deal.horizon_years = Sourced::bare(8);
    deal.facilities[0].construction_years = Sourced::bare(2);
    deal.tranches[0].draw_priority = Sourced::bare(2);
    deal.tranches[1].draw_priority = Sourced::bare(1);
    let default = run(&deal, &Scenario::base()).expect("runs");
    // Without a given close, debt is available from the first construction year (2030).
    assert_eq!(row(&default, "Senior: drawdowns")[0], dec!(75000));
    deal.financial_close_year = Some(Sourced::bare(2031));
    let late = run(&deal, &Scenario::base()).expect("runs");
    // 75,000 a year of capex: 2030 all equity, 2031 the loan first (priority 1).
    assert_eq!(row(&late, "Senior: drawdowns")[..2], [dec!(0), dec!(75000)]);
    assert_eq!(row(&late, "Equity: drawdowns")[..2], [dec!(75000), dec!(0)]);
    // A year's permitting delay moves construction, and the close with it, a year later.
    let mut delay = override_of(OverrideKind::Delay, "1");
    delay.phase = Some(Sourced::bare(Phase::Permitting));
    let delayed = run(&deal, &scenario("Delay", vec![delay])).expect("runs");
    let close = |r: &Results| {
        row(r, "Financial close year")
            .iter()
            .position(|v| *v == Decimal::ONE)
    };
    assert_eq!((close(&late), close(&delayed)), (Some(1), Some(2)));
    assert!(late.all_checks_pass() && delayed.all_checks_pass());
}

#[test]
fn mid_year_discounting_and_a_declining_rate_schedule() {
    let mut deal = one_mine_all_equity();
    deal.discounting = Sourced::bare(Discounting::MidYear);
    let flows = [
        dec!(-150000),
        dec!(80000),
        dec!(80000),
        dec!(80000),
        dec!(80000),
        dec!(0),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    let end_of_year = crate::finance::npv(dec!(0.1), &flows).expect("npv");
    let want = end_of_year * dec!(1.1).sqrt().expect("sqrt");
    let got: Decimal = r
        .party("Sponsor")
        .map(|p| p.npv.parse().unwrap_or_default())
        .unwrap_or_default();
    assert!(
        close(got, want, dec!(0.0000001)),
        "mid-year {got} vs {want}"
    );

    // A schedule: 10% in 2030, 5% from 2031 (flat after its last year), end of year.
    deal.discounting = Sourced::bare(Discounting::EndOfYear);
    deal.parties[0].rate_schedule = vec![
        (2030, Sourced::bare(dec!(0.1))),
        (2031, Sourced::bare(dec!(0.05))),
    ];
    let r = run(&deal, &Scenario::base()).expect("runs");
    let mut df = Decimal::ONE;
    let mut want = Decimal::ZERO;
    for (t, v) in flows.iter().enumerate() {
        df /= if t == 0 { dec!(1.1) } else { dec!(1.05) };
        want += v * df;
    }
    let got: Decimal = r
        .party("Sponsor")
        .map(|p| p.npv.parse().unwrap_or_default())
        .unwrap_or_default();
    assert!(
        close(got, want, dec!(0.0000001)),
        "schedule {got} vs {want}"
    );
    assert_eq!(
        r.party("Sponsor").map(|p| p.discount_rate.clone()),
        Some(results::DiscountRate::Schedule(
            ["0.1", "0.05", "0.05", "0.05", "0.05", "0.05"]
                .map(String::from)
                .to_vec()
        ))
    );
}

/// Every example, every scenario, multipliers moved everywhere, in some periods or nowhere:
/// the partial evaluation is the full one digit for digit (every row and scalar), and
/// prepared for a few scalars it still gives those exactly.
#[test]
fn partial_evaluations_of_the_examples_equal_full_evaluations() {
    for name in crate::examples::EXAMPLES {
        let deal = crate::examples::example(name).expect("example");
        let profiles = sculpt_profiles(&deal).expect("profiles");
        let mut scenarios = vec![Scenario::base()];
        scenarios.extend(deal.scenarios.iter().cloned());
        for scenario in &scenarios {
            let prepared = prepare(&deal, scenario, &profiles).expect("prepares");
            let lines = &prepared.built.lines;
            let mut needed: Vec<calc::ScalarId> = lines.parties.iter().map(|p| p.npv).collect();
            needed.extend(lines.tranches.iter().filter_map(|t| t.loss));
            needed.extend(lines.governments.iter().map(|g| g.floor_payout));
            let all = prepared.partial(None, true).expect("plan");
            let some = prepared.partial(Some(&needed), true).expect("plan");
            // Uneven multipliers everywhere; only in odd periods (the rest at 1, so that
            // cells are copied where nothing they read changed); none at all.
            for pattern in ["everywhere", "odd periods", "none"] {
                let mut inputs = prepared.inputs().to_vec();
                for (k, ids) in prepared.price_path_inputs().iter().enumerate() {
                    for (t, id) in ids.iter().enumerate() {
                        let moved = match pattern {
                            "everywhere" => true,
                            "odd periods" => t % 2 == 1,
                            _ => false,
                        };
                        if moved {
                            inputs[*id] =
                                Decimal::new(300 + ((t * 37 + k * 11) % 29) as i64 * 41, 3);
                        }
                    }
                }
                let full = prepared.evaluate(&inputs, true).expect("full");
                let mut values = all.base().clone();
                prepared
                    .evaluate_partial(&all, &inputs, &mut values)
                    .expect("partial");
                let case = format!("{name} / {} / {pattern}", scenario.name.value);
                assert!(values.rows == full.rows, "{case}: rows differ");
                assert!(values.scalars == full.scalars, "{case}: scalars differ");
                prepared
                    .evaluate_partial(&some, &inputs, &mut values)
                    .expect("partial");
                for s in &needed {
                    assert_eq!(values.scalar(*s), full.scalar(*s), "{case}: scalar {s}");
                }
            }
            assert!(
                some.dependent_rows() < all.dependent_rows(),
                "{name} / {}: the checks need not be recomputed",
                scenario.name.value
            );
        }
    }
}

/// The NdPr example tells the story the joint facility exists for: the senior debt is
/// repaid in the base case; in the crash with the overrun, the Australian first-loss money
/// loses first and most, the senior lenders lose nothing, the US floor pays out, and every
/// government's position is reported.
#[test]
fn the_ndpr_joint_facility_shields_the_senior_lenders_in_the_crash_and_overrun() {
    let deal = crate::examples::example("ndpr-joint-facility").expect("example");
    let loss = |r: &Results, tranche: &str| num(&r.tranche(tranche).and_then(|t| t.loss.clone()));
    let base = run(&deal, &Scenario::base()).expect("runs");
    assert!(base.all_checks_pass(), "{:?}", base.checks);
    let senior = base.tranche("Senior debt").expect("senior tranche");
    assert_eq!(senior.loss.as_deref(), Some("0"));
    assert_eq!(senior.balance.last().map(String::as_str), Some("0"));

    let worst = deal
        .scenarios
        .iter()
        .find(|s| s.name.value == "Crash and overrun")
        .expect("scenario");
    let r = run(&deal, worst).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let first_loss = loss(&r, "Australian first-loss");
    assert!(first_loss > Decimal::ZERO, "first-loss {first_loss}");
    assert_eq!(loss(&r, "Senior debt"), Decimal::ZERO);
    // The first-loss tranche loses a larger share of what it lent than the joint loan.
    let pct = |t: &str| num(&r.tranche(t).and_then(|t| t.loss_pct.clone()));
    assert!(pct("Australian first-loss") > pct("Joint facility loan"));
    let us = r.government("US Government").expect("US");
    let floor: Decimal = us.floor_payout.parse().expect("decimal");
    assert!(floor > Decimal::ZERO, "floor payout {floor}");
    for g in ["US Government", "Japan Government", "Australian Government"] {
        let g = r.government(g).expect("government");
        assert!(g.fiscal_npv.parse::<Decimal>().is_ok() && g.net_outlay.parse::<Decimal>().is_ok());
    }
}

/// A 150,000 construction cost drawn pro rata from 150,000 of equity and a 200,000 loan,
/// the loan held 30/30/40: every share is a fraction with no finite decimal.
fn pro_rata_with_three_lenders() -> Deal {
    let mut deal = one_mine_all_equity();
    deal.tranches = vec![
        equity("Equity", "150000", &[("Sponsor", "1")]),
        loan(
            "Senior",
            TrancheKind::SeniorDebt,
            1,
            "200000",
            1,
            "0.1",
            4,
            Repayment::Annuity,
            &[("Bank", "0.3"), ("Ally", "0.3"), ("Treasury", "0.4")],
        ),
    ];
    deal.parties.push(party("Bank", PartyKind::Bank, "0.08"));
    deal.parties.push(party("Ally", PartyKind::Bank, "0.08"));
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    deal
}

/// Issue 12, finding 7: a balance of pro-rata draws printed as 24239999.999999999999999999982.
#[test]
fn a_pro_rata_draw_books_whole_cents_and_each_balance_is_the_exact_sum_of_its_flows() {
    let deal = pro_rata_with_three_lenders();
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    // 150,000 × 150,000 / 350,000 = 64,285.714… → 64,285.71 of equity; the loan draws the
    // remainder, 85,714.29 (not 85,714.285714…).
    assert_eq!(flows(&r, "Sponsor")[0], dec!(-64285.71));
    let senior = r.tranche("Senior").expect("senior");
    assert_eq!(senior.balance[0], "85714.29");
    // Its lenders: ROUND(85,714.29 × 30%) = 25,714.29; ROUND(× 60%) − that = 25,714.28; the
    // last takes the remainder, 34,285.72. They sum to the draw exactly.
    assert_eq!(flows(&r, "Bank")[0], dec!(-25714.29));
    assert_eq!(flows(&r, "Ally")[0], dec!(-25714.28));
    assert_eq!(flows(&r, "Treasury")[0], dec!(-34285.72));
    // 2031: interest ROUND(10% × 85,714.29) = 8,571.43.
    assert_eq!(row(&r, "Senior: interest")[1], dec!(8571.43));
    // Each year's balance is last year's, plus draws, less principal repaid: exactly the
    // lenders' flows net of interest.
    let interest = row(&r, "Senior: interest paid");
    let mut balance = Decimal::ZERO;
    for (t, interest) in interest.iter().enumerate() {
        let lent: Decimal = ["Bank", "Ally", "Treasury"]
            .iter()
            .map(|p| flows(&r, p)[t])
            .sum();
        balance = balance - lent + interest;
        assert_eq!(senior.balance[t], results::text(balance), "year {t}");
    }
    // The ledger sums to exactly zero every year; no amount has more than two places.
    for t in 0..r.periods.len() {
        let total: Decimal = r
            .parties
            .iter()
            .map(|p| p.cash_flows[t].parse::<Decimal>().expect("number"))
            .sum();
        assert_eq!(total, Decimal::ZERO, "year {t}");
    }
    for p in &r.parties {
        for v in &p.cash_flows {
            assert!(
                v.parse::<Decimal>().expect("number").scale() <= 2,
                "{}: {v}",
                p.name
            );
        }
    }
    // The lenders get back exactly what they lent: a money multiple of principal and
    // interest over principal, with no residue.
    let bank = r.party("Bank").expect("bank");
    let out: Decimal = flows(&r, "Bank")
        .iter()
        .filter(|v| **v < Decimal::ZERO)
        .sum();
    let back: Decimal = flows(&r, "Bank")
        .iter()
        .filter(|v| **v > Decimal::ZERO)
        .sum();
    assert_eq!(
        bank.money_multiple
            .as_deref()
            .map(|m| m.parse::<Decimal>().expect("number")),
        Some(back / -out)
    );
}

#[test]
fn a_ledger_precision_of_zero_books_whole_units_and_every_check_still_holds() {
    let mut deal = pro_rata_with_three_lenders();
    deal.ledger_precision = Sourced::bare(0);
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    assert_eq!(flows(&r, "Sponsor")[0], dec!(-64286));
    assert_eq!(
        [
            flows(&r, "Bank")[0],
            flows(&r, "Ally")[0],
            flows(&r, "Treasury")[0]
        ],
        [dec!(-25714), dec!(-25714), dec!(-34286)]
    );
    for p in &r.parties {
        for v in &p.cash_flows {
            assert!(
                v.parse::<Decimal>().expect("number").scale() == 0,
                "{}: {v}",
                p.name
            );
        }
    }
}

/// Every amount of money the calculation holds is a whole number of cents by construction
/// (for any inputs), except discounted values.
#[test]
fn every_money_line_is_on_the_ledger_grid_except_present_values() {
    use crate::engine::calc::{Precision, Unit};
    let allowed = ["discounted", ": NPV", "unlevered NPV", "risked NPV"];
    let mut deals: Vec<(String, Deal)> = crate::examples::EXAMPLES
        .iter()
        .map(|n| (n.to_string(), crate::examples::example(n).expect("example")))
        .collect();
    deals.push(("three lenders".into(), pro_rata_with_three_lenders()));
    for (name, deal) in deals {
        let profiles = sculpt_profiles(&deal).expect("sculpt");
        for s in std::iter::once(Scenario::base()).chain(deal.scenarios.clone()) {
            let built = build::build(&deal, &s, &profiles).expect("build");
            let p = built.precisions(deal.ledger_precision.value);
            let off: Vec<&str> = built
                .calc
                .rows
                .iter()
                .enumerate()
                .filter(|(r, d)| d.unit == Unit::Money && p.rows[*r] == Precision::Any)
                .map(|(_, d)| d.label.as_str())
                .chain(
                    built
                        .calc
                        .scalars
                        .iter()
                        .enumerate()
                        .filter(|(k, d)| d.unit == Unit::Money && p.scalars[*k] == Precision::Any)
                        .map(|(_, d)| d.label.as_str()),
                )
                .filter(|label| !allowed.iter().any(|a| label.contains(a)))
                .collect();
            assert!(off.is_empty(), "{name} / {}: {off:#?}", s.name.value);
            // Every ledger flow is booked: on the grid by construction.
            for r in 0..built.calc.rows.len() {
                if built.calc.rows[r].ledger.is_some() {
                    assert!(p.rows[r] >= Precision::Grid, "{}", built.calc.rows[r].label);
                }
            }
        }
    }
}

/// Issue 12, finding 5: an IRR next to an NPV it contradicts, and no flag.
#[test]
fn flows_with_two_irrs_are_flagged_with_every_root_and_the_mirr() {
    let r = run(&two_irrs(), &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    assert_eq!(
        flows(&r, "Sponsor"),
        vec![dec!(-100000), dec!(230000), dec!(-132000)]
    );
    let sponsor = r.party("Sponsor").expect("sponsor");
    assert!(!sponsor.irr_unique);
    let roots: Vec<Decimal> = sponsor
        .irr_roots
        .iter()
        .map(|x| x.parse().expect("number"))
        .collect();
    assert_eq!(roots.len(), 2, "{roots:?}");
    assert!(close(roots[0], dec!(0.1), dec!(1e-12)), "{roots:?}");
    assert!(close(roots[1], dec!(0.2), dec!(1e-12)), "{roots:?}");
    // The IRR shown is the root nearest 10%; the MIRR at the sponsor's 8%:
    // (230,000 × 1.08 / (100,000 + 132,000 / 1.08²))^½ − 1 = 7.94786…%.
    assert!(close(num(&sponsor.irr), dec!(0.1), dec!(1e-12)));
    assert!(close(num(&sponsor.mirr), dec!(0.0794786), dec!(0.0000001)));
    // The JSON says so.
    let json: serde_json::Value =
        serde_json::from_str(&results::to_json(&two_irrs(), std::slice::from_ref(&r)))
            .expect("json");
    let party = json["scenarios"][0]["parties"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "Sponsor"))
        .expect("sponsor");
    assert_eq!(party["irr_unique"], false);
    assert_eq!(party["irr_roots"].as_array().map(|a| a.len()), Some(2));
    // One root: unique.
    let one = run(&one_mine_all_equity(), &Scenario::base()).expect("runs");
    assert!(one.party("Sponsor").expect("sponsor").irr_unique);
}

/// Issue 12, finding 4: an offtaker's NPV counted what it pays and not what it receives.
#[test]
fn an_offtaker_buying_at_a_discount_to_market_has_a_positive_contract_value() {
    let r = run(&discounted_offtake(), &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let magnets = r.party("Magnets").expect("offtaker");
    // Its purchases stay in the ledger: 500 t a year at 90.
    assert_eq!(
        flows(&r, "Magnets"),
        vec![
            dec!(0),
            dec!(-45000),
            dec!(-45000),
            dec!(-45000),
            dec!(-45000),
            dec!(0)
        ]
    );
    // It receives 500 t worth 100 each: the contract is worth (100 − 90) × 500 = 5,000 a
    // year, 2031–2034, discounted at 10% with the first year (2030) one period out:
    // 5,000 × (1.1^−2 + 1.1^−3 + 1.1^−4 + 1.1^−5) = 14,408.48…
    let offtake = magnets.offtake.as_ref().expect("offtake");
    assert_eq!(
        offtake.market_value_received,
        ["0", "50000", "50000", "50000", "50000", "0"]
    );
    assert_eq!(offtake.tonnes_secured, "2000");
    let want: Decimal = (2..=5).map(|k| dec!(5000) / dec!(1.1).powi(k)).sum();
    let npv: Decimal = magnets.npv.parse().expect("number");
    assert!(npv > Decimal::ZERO);
    assert!(close(npv, want, dec!(0.000001)), "{npv} vs {want}");
    // Its flows never change sign the other way: no IRR, and no money out to multiply.
    assert_eq!(magnets.irr, None);
}

/// Market, Suppliers, the engine's bookkeeping and the project company are kept in the
/// ledger and never measured: no metric of theirs exists to show.
#[test]
fn parties_outside_the_deal_are_in_the_ledger_and_never_measured() {
    let deal = crate::examples::example("ndpr-joint-facility").expect("example");
    let r = run(&deal, &Scenario::base()).expect("runs");
    let outside: Vec<&str> = r
        .parties
        .iter()
        .filter(|p| p.ledger_only)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        outside,
        [
            deal.project_name.value.as_str(),
            "Market",
            "Suppliers",
            "Funding gap"
        ]
    );
    for name in &outside {
        let prefix = format!("{name}: ");
        let measured: Vec<&str> = r
            .calc
            .scalars
            .iter()
            .map(|s| s.label.as_str())
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert!(measured.is_empty(), "{measured:?}");
    }
    // Their cash flows stay in the ledger, which still sums to zero.
    for t in 0..r.periods.len() {
        let total: Decimal = r
            .parties
            .iter()
            .map(|p| p.cash_flows[t].parse::<Decimal>().expect("number"))
            .sum();
        assert_eq!(total, Decimal::ZERO);
    }
}
