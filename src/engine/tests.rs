//! Hand-checkable tests of the engine's rules on small deals. The deals and `row` are
//! shared with the tests beside each rule (`crate::engine::tests::defaulting_bullet`).

use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;
use rust_decimal_macros::dec;

use super::*;
use crate::model::sample::*;
use crate::model::*;

fn flows(r: &Results, party: &str) -> Vec<Decimal> {
    r.party(party)
        .map(|p| p.cash_flows.clone())
        .unwrap_or_default()
}

fn num(s: &Option<Decimal>) -> Decimal {
    s.unwrap_or_default()
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
    let npv: Decimal = r.party("Sponsor").and_then(|p| p.npv).unwrap_or_default();
    assert!((npv - want).abs() < dec!(0.000001), "npv {npv} want {want}");
    // IRR: −150,000 + 80,000 × annuity(4, r) = 0 → r ≈ 39.6%.
    let irr = num(&r.party("Sponsor").and_then(|p| p.irr));
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

/// Each facility's accounts in the results: the paper mine sells 1,000 t × 100 in 2031–34,
/// builds for 150,000 in 2030 and spends 20 a tonne; its royalty rows add up to the
/// project's.
#[test]
fn a_facility_reports_its_sales_costs_and_royalty_per_year() {
    let deal = one_mine_all_equity();
    let r = run(&deal, &Scenario::base()).expect("runs");
    let mine = &r.facilities[0];
    let years = |v: [i64; 6]| v.map(Decimal::from).to_vec();
    assert_eq!(
        mine.sales_value.as_deref(),
        Some(&years([0, 100000, 100000, 100000, 100000, 0])[..])
    );
    assert_eq!(mine.capital_costs, years([150000, 0, 0, 0, 0, 0]));
    assert_eq!(
        mine.operating_costs,
        years([0, 20000, 20000, 20000, 20000, 0])
    );
    assert_eq!(mine.expensed_costs, years([0; 6]));
    for name in crate::examples::EXAMPLES {
        let deal = crate::examples::example(name).expect("example");
        let r = run(&deal, &Scenario::base()).expect("runs");
        let mut royalties = vec![Decimal::ZERO; r.values.periods];
        for f in &r.facilities {
            for (t, v) in f.royalty.iter().flatten().enumerate() {
                royalties[t] += *v;
            }
        }
        assert_eq!(royalties, row(&r, "Royalties"), "{name}");
    }
}

/// The values of a row found by its label.
pub(crate) fn row(r: &Results, label: &str) -> Vec<Decimal> {
    let id = r
        .calc
        .rows
        .iter()
        .position(|d| d.label == label)
        .unwrap_or_else(|| panic!("no row '{label}'"));
    r.values.row(crate::engine::calc::RowId::new(id)).to_vec()
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

/// Finding 2 of issue 12: each year's capital cost is depreciated over the tax life from the
/// later of its own year and first production. Build 150,000 in 2030; produce 2031–38 with
/// 3,000 of sustaining capex a year; a 3-year tax life. Cumulative capital ÷ life capped at
/// book value (the old rule) wrote 2034's 3,000-a-year vintages off at 6,000.
#[test]
fn sustaining_capex_beyond_the_tax_life_is_depreciated_per_vintage() {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = Sourced::bare(10);
    deal.facilities[0].operations_years = Sourced::bare(8);
    deal.fiscal[0].depreciation_years = Sourced::bare(3);
    deal.fiscal[0].tax_rate = Sourced::bare(dec!(0.3));
    deal.costs.push(cost(
        "Mine",
        "Sustaining",
        CostCategory::SustainingCapex,
        CostBasis::PerYear,
        Some(Phase::Operations),
        "3000",
    ));
    let r = run(&deal, &Scenario::base()).expect("runs");
    // 2031: 150,000/3 + 1,000 (its own vintage); 2032: + 1,000 more; 2033: + 1,000 more;
    // 2034 on: the build is written off, three 1,000 vintages run at once; 2039: no capex
    // that year, the 2037 and 2038 vintages remain.
    let k = |v: i64| Decimal::from(v);
    assert_eq!(
        row(&r, "Mine: depreciation"),
        vec![
            k(0),
            k(51000),
            k(52000),
            k(53000),
            k(3000),
            k(3000),
            k(3000),
            k(3000),
            k(3000),
            k(2000)
        ]
    );
    // Tax in 2034: 30% × (80,000 margin − 3,000 depreciation), every loss used by then.
    assert_eq!(row(&r, "Testland: company tax before credits")[4], k(23100));
    // What is left on the book at the horizon: the 2038 vintage's last third.
    assert_eq!(row(&r, "Mine: tax book value")[9], k(1000));
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
    assert_eq!(r.tranche("Senior").and_then(|t| t.loss), Some(dec!(0)));
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

/// Finding 9 of issue 12: a loan sculpted to 1.80× with no grace, interest capitalised,
/// drawn pro rata with equity and funding half of its own 6-month DSRA. Worked by hand:
/// capex 960,000 in each of 2030 and 2031, shared 50/50 (equal commitments); 10% on the
/// loan's 480,000 is capitalised in 2031, so it owes B′ = 1,008,000 before the DSRA. The
/// DSRA holds 6/12 × (10% × B′ + f × B′), f the first year's principal share, half of it
/// drawn from the loan: B = B′ + B′(0.1 + f)/4. CFADS is 655,200 (1,000 t at 675.20 less
/// 20/t), so debt service is 364,000 and f × B = 364,000 − 0.1 × B: B² − B′B − 91,000 B′ = 0,
/// B = 1,092,000 (DSRA 168,000, f = 7/30). Then 109,200 + 254,800, 83,720 + 280,280,
/// 55,692 + 308,308, and a final 248,612 × 1.1 = 273,473.20 (the 2035 price, 512.25176, is
/// set so that its CFADS is 1.8 times that). Every year's DSCR is 1.80 to 12 significant
/// digits: all these amounts are whole cents, so rounding the ledger to the cent keeps it.
/// A profile solved in one pass (DSRA sized on interest only) gave 1.8 × B′/B everywhere.
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
fn a_sculpted_loan_funding_its_own_dsra_hits_its_target_every_year() {
    let mut deal = financed("2000000", Repayment::Sculpted);
    deal.facilities[0].construction_years = Sourced::bare(2);
    deal.costs[0].amount = Sourced::bare(dec!(1920000));
    deal.tranches[0].commitment = Sourced::bare(dec!(2000000));
    deal.tranches[0].draw_priority = Sourced::bare(1);
    let senior = &mut deal.tranches[1];
    senior.target_dscr = Some(Sourced::bare(dec!(1.8)));
    senior.capitalise_interest = Sourced::bare(true);
    senior.dsra_months = Sourced::bare(dec!(6));
    let d = |v: &str| Sourced::bare(v.parse::<Decimal>().unwrap_or_default());
    deal.products[0].deck = (2030..=2034)
        .map(|y| (y, d("675.2")))
        .chain([(2035, d("512.25176"))])
        .collect();
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let digits = dec!(0.000000000001);
    let near = |got: Decimal, want: Decimal| (got / want - Decimal::ONE).abs() < digits;
    let start = row(&r, "Senior: balance at the start of operations")[1];
    assert!(near(start, dec!(1092000)), "starting balance {start}");
    let dsra = row(&r, "Senior: initial DSRA funding")[1];
    assert!(near(dsra, dec!(168000)), "initial DSRA {dsra}");
    let dscr = row(&r, "Senior: DSCR");
    for (t, d) in dscr.iter().enumerate().skip(2) {
        assert!(near(*d, dec!(1.8)), "{}: DSCR {d}", 2030 + t);
    }
    let principal = row(&r, "Senior: principal paid");
    for (t, want) in [(2, "254800"), (3, "280280"), (4, "308308"), (5, "248612")] {
        let want: Decimal = want.parse().unwrap_or_default();
        assert!(near(principal[t], want), "{}: {}", 2030 + t, principal[t]);
    }
}

/// A 100,000 four-year bullet at 10% (drawn 2030) on a mine producing 2031–35 (CFADS = 1,000
/// t × (price − 20)): 2031 price 100, 2032 30 (CFADS 10,000: the interest exactly), 2033 25
/// (CFADS 5,000: half the interest missed, the default), then `after` for 2034 (maturity) and
/// 2035.
pub(crate) fn defaulting_bullet(after: [&str; 2]) -> Deal {
    let mut deal = financed("100000", Repayment::Bullet);
    deal.facilities[0].operations_years = Sourced::bare(5);
    let d = |v: &str| Sourced::bare(v.parse::<Decimal>().unwrap_or_default());
    deal.products[0].deck = vec![
        (2030, d("100")),
        (2031, d("100")),
        (2032, d("30")),
        (2033, d("25")),
        (2034, d(after[0])),
        (2035, d(after[1])),
    ];
    deal.parties
        .push(party("Treasury", PartyKind::Government, "0.03"));
    deal
}

/// Finding 3 of issue 12: loss as lenders measure it. The loan defaults in 2033, owing its
/// 100,000 and 5,000 of interest (EAD 105,000). 2034 (price 100): 80,000 paid on 15,500 of
/// interest (5,000 arrears + 10% of 105,000) and 100,000 of principal; 2035 (price 46.95):
/// 26,950 on 3,550 of interest and 35,500 of principal arrears; 12,100 left at the horizon.
/// PV at 10% to 2033: 80,000 / 1.1 + 26,950 / 1.21 = 95,000, so LGD = 10,000 (9.52% of EAD),
/// which is the 12,100 shortfall valued in 2033 (12,100 / 1.21): less than the nominal.
#[test]
fn a_defaulting_loan_loses_its_exposure_less_the_pv_of_its_recoveries() {
    let deal = defaulting_bullet(["100", "46.95"]);
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let senior = r.tranche("Senior").expect("senior");
    assert_eq!(senior.default_year, Some(2033));
    assert_eq!(senior.exposure_at_default, Some(dec!(105000)));
    assert_eq!(
        row(&r, "Senior: recoveries after default"),
        [0, 0, 0, 0, 80000, 26950].map(Decimal::from)
    );
    let tiny = dec!(0.000000000000000001);
    let pv = num(&senior.recoveries_pv);
    assert!(close(pv, dec!(95000), tiny), "PV of recoveries {pv}");
    let lgd = num(&senior.loss);
    assert!(close(lgd, dec!(10000), tiny), "LGD {lgd}");
    assert!(lgd <= num(&senior.exposure_at_default));
    let pct = num(&senior.loss_pct);
    assert!(close(pct, dec!(10000) / dec!(105000), tiny), "LGD % {pct}");
    assert_eq!(senior.shortfall_at_horizon, Some(dec!(12100)));
    assert!(r.events.iter().any(|e| e.year == 2033
        && e.kind == rules::EventKind::Default
        && e.amount == dec!(105000)));
    // Without a guarantee the lenders bear the whole LGD.
    assert_eq!(senior.loss_after_guarantee, senior.loss);
}

/// Finding 10 of issue 12: a loss guarantee pays the covered share of the LGD in the default
/// year (2033), not the shortfall at the horizon: 80% of 10,000. It covers 80% of the loan
/// until then (its contingent liability), nothing after. A cap below binds.
#[test]
fn a_loss_guarantee_pays_its_share_of_the_lgd_in_the_default_year() {
    let mut deal = defaulting_bullet(["100", "46.95"]);
    deal.tranches.push(guarantee(
        "Cover",
        "Senior",
        "1000000",
        "0.8",
        &[("Treasury", "1")],
    ));
    deal.tranches[2].guarantee_kind = Sourced::bare(GuaranteeKind::Loss);
    let tiny = dec!(0.000000000000000001);
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let call = row(&r, "Cover: call on Senior's loss given default");
    assert!(close(call[3], dec!(8000), tiny), "2033 call {}", call[3]);
    assert!(call.iter().enumerate().all(|(t, c)| t == 3 || c.is_zero()));
    let treasury = flows(&r, "Treasury");
    assert!(close(treasury[3], dec!(-8000), tiny), "{treasury:?}");
    assert!(close(flows(&r, "Bank")[3], dec!(5000) + dec!(8000), tiny));
    let senior = r.tranche("Senior").expect("senior");
    assert!(close(num(&senior.loss), dec!(10000), tiny));
    assert!(close(num(&senior.loss_after_guarantee), dec!(2000), tiny));
    let liability = &r
        .government("Treasury")
        .expect("treasury")
        .contingent_liability;
    assert_eq!(
        liability[..5],
        [dec!(0), dec!(80000), dec!(80000), dec!(80000), dec!(0)]
    );

    deal.tranches[2].commitment = Sourced::bare(dec!(5000));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert_eq!(
        row(&r, "Cover: call on Senior's loss given default")[3],
        dec!(5000)
    );
    assert!(r.all_checks_pass(), "{:?}", r.checks);
}

/// A loss guarantee's call reads the whole-run LGD: a Monte Carlo evaluation (prepared once,
/// prices changed, only what depends on them recomputed, in phases) gives the full
/// evaluation's numbers digit for digit, calls included.
#[test]
fn a_partial_evaluation_with_a_loss_guarantee_equals_the_full_one() {
    let mut deal = defaulting_bullet(["100", "46.95"]);
    deal.tranches.push(guarantee(
        "Cover",
        "Senior",
        "1000000",
        "0.8",
        &[("Treasury", "1")],
    ));
    deal.tranches[2].guarantee_kind = Sourced::bare(GuaranteeKind::Loss);
    let profiles = sculpt_profiles(&deal).expect("profiles");
    let prepared = prepare(&deal, &Scenario::base(), &profiles).expect("prepares");
    let plan = prepared.partial(None, false).expect("plan");
    for m in [dec!(1), dec!(0.9), dec!(1.3), dec!(0.5)] {
        let mut inputs = prepared.inputs().to_vec();
        for ids in prepared.price_path_inputs() {
            for id in ids {
                inputs[*id] = m;
            }
        }
        let full = prepared.evaluate(&inputs, false).expect("full");
        let mut values = plan.base().clone();
        prepared
            .evaluate_partial(&plan, &inputs, &mut values)
            .expect("partial");
        assert!(values.rows == full.rows, "multiplier {m}: rows differ");
        assert!(
            values.scalars == full.scalars,
            "multiplier {m}: scalars differ"
        );
    }
}

/// Finding 10 of issue 12: a debt-service guarantee (80%) pays in the year a payment is
/// missed. 2033: 5,000 of the 10,000 of interest is missed, so it pays 4,000 to the bank
/// that year, and holds a 4,000 claim on the loan bearing 10%. 2034 (price 140, CFADS
/// 120,000): the loan pays all 115,500 due, of which the 4,400 owed on the claim passes to
/// the guarantor. The loan cured: its LGD is 0, and the bank received every payment on time.
#[test]
fn a_debt_service_guarantee_pays_each_missed_payment_when_it_is_missed() {
    let mut deal = defaulting_bullet(["140", "100"]);
    deal.tranches.push(guarantee(
        "Cover",
        "Senior",
        "1000000",
        "0.8",
        &[("Treasury", "1")],
    ));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let k = |v: i64| Decimal::from(v);
    assert_eq!(
        row(&r, "Cover: call on Senior's missed payments"),
        [0, 0, 0, 4000, 0, 0].map(k)
    );
    assert_eq!(
        row(&r, "Cover: recovered from Senior's payments"),
        [0, 0, 0, 0, 4400, 0].map(k)
    );
    assert_eq!(flows(&r, "Treasury"), [0, 0, 0, -4000, 4400, 0].map(k));
    // The bank: 10,000 a year of interest (5,000 from the project and 4,000 from the
    // guarantee in 2033, 1,000 still owed to it), then 115,500 − 4,400 in 2034.
    assert_eq!(
        flows(&r, "Bank"),
        [-100000, 10000, 10000, 9000, 111100, 0].map(k)
    );
    let senior = r.tranche("Senior").expect("senior");
    assert_eq!(senior.default_year, Some(2033));
    assert_eq!(senior.loss, Some(dec!(0)));
    assert_eq!(senior.loss_after_guarantee, Some(dec!(0)));
    assert_eq!(
        r.government("Treasury").map(|g| g.guarantee_calls),
        Some(dec!(4000))
    );

    // 2034 at 77.75 (CFADS 57,750, half of the 115,500 due): the guarantor recovers half of
    // its 4,400; the bank is owed 111,100 (its 1,000 of 2033 and 110,100 falling due: 10% of
    // its 101,000 claim and the 100,000 principal), receives 55,550, and the guarantee pays
    // 80% of the 55,550 missed: 44,440.
    deal.products[0].deck[4].1 = Sourced::bare(dec!(77.75));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    assert_eq!(
        row(&r, "Cover: recovered from Senior's payments")[4],
        k(2200)
    );
    assert_eq!(
        row(
            &r,
            "Senior: lenders' payments falling due this year and missed"
        )[4],
        k(55550)
    );
    assert_eq!(
        row(&r, "Cover: call on Senior's missed payments")[4],
        k(44440)
    );
    assert_eq!(
        row(&r, "Cover: claim on the loan from its calls (subrogation)")[4],
        k(4400 - 2200 + 44440)
    );
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
            .any(|e| e.year == 2032 && e.kind == rules::EventKind::Default)
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
    assert_eq!(r.tranche("Senior").and_then(|t| t.loss), Some(dec!(0)));
    // The first-loss money misses its first payment in 2031 (the senior takes everything):
    // what it is still owed at the horizon is its nominal shortfall; its loss given default
    // is that shortfall valued at its 10% in 2031, since what it is owed accrues at 10%.
    let first_loss = r.tranche("First loss").expect("first loss");
    assert_eq!(first_loss.default_year, Some(2031));
    let shortfall = num(&first_loss.shortfall_at_horizon);
    assert_eq!(row(&r, "First loss: written off (loss)")[5], shortfall);
    let lgd = num(&first_loss.loss);
    assert!(lgd > Decimal::ZERO && lgd <= num(&first_loss.exposure_at_default));
    // Reported to the cent, as every amount of money is.
    let want = (shortfall / dec!(1.1).powi(4))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(lgd, want, "LGD {lgd} vs {want}");
}

/// Finding 1 of issue 12: a construction gap beyond the committed money is met by the
/// sponsors (completion support by shareholding), never by a party outside the deal. A
/// 100% overrun doubles the 150,000 build: the 100,000 loan (priority 1) and the 150,000 of
/// equity leave 50,000, which the sponsor puts in; the bookkeeping "Funding gap" party pays
/// nothing, the Log says so, and the sponsor's NPV falls.
#[test]
fn a_funding_gap_beyond_the_commitments_is_met_by_the_sponsors_completion_support() {
    let mut deal = financed("100000", Repayment::Annuity);
    deal.tranches[0].commitment = Sourced::bare(dec!(150000));
    let overrun = scenario(
        "Overrun",
        vec![override_of(OverrideKind::CapexOverrun, "1")],
    );
    let base = run(&deal, &Scenario::base()).expect("base");
    let r = run(&deal, &overrun).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    assert_eq!(row(&r, "Senior: drawdowns")[0], dec!(100000));
    assert_eq!(row(&r, "Equity: drawdowns")[0], dec!(150000));
    assert_eq!(row(&r, "Equity: completion support")[0], dec!(50000));
    assert_eq!(flows(&r, "Sponsor")[0], dec!(-200000));
    assert!(flows(&r, "Funding gap").iter().all(|f| f.is_zero()));
    assert_eq!(r.project.completion_support, dec!(50000));
    assert_eq!(r.project.funding_gap, dec!(0));
    assert!(r.events.iter().any(|e| e.year == 2030
        && e.kind == rules::EventKind::CompletionSupport
        && e.amount == dec!(50000)));
    let npv = |r: &Results| num(&r.party("Sponsor").and_then(|p| p.npv));
    assert!(npv(&r) < npv(&base), "{} vs {}", npv(&r), npv(&base));

    // Without completion support the gap is unfunded: a failed check, and the bookkeeping
    // party's 50,000 shows where the deal is short.
    deal.completion_support = Sourced::bare(CompletionSupport::NoSupport);
    let r = run(&deal, &overrun).expect("runs");
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failed,
        ["No unfunded gap in development (the deal has no completion support)"]
    );
    assert_eq!(r.project.funding_gap, dec!(50000));
    assert_eq!(flows(&r, "Funding gap")[0], dec!(-50000));
    assert!(
        run(&deal, &Scenario::base())
            .expect("base")
            .all_checks_pass()
    );
}

/// Issue 11 finding 3: an equity commitment too small to matter (0.000001) once left the
/// sponsor's distributions unpaid (its share of them was guarded to 0) and the project's
/// cash 194m out. Now the lone equity tranche holds 100% whatever its size, the sponsor
/// meets the gap by completion support, and every check holds.
#[test]
fn a_tiny_equity_commitment_leaves_the_books_whole() {
    let mut deal = financed("100000", Repayment::Annuity);
    deal.tranches[0].commitment = Sourced::bare(dec!(0.000001));
    let r = run(&deal, &Scenario::base()).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    // The gap is 50,000 less the 0.000001 drawn, booked to the cent.
    assert_eq!(row(&r, "Equity: completion support")[0], dec!(50000));
    assert!(
        flows(&r, "Sponsor")[1..5]
            .iter()
            .all(|f| *f > Decimal::ZERO)
    );
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
            .any(|e| e.year == 2032 && e.kind == rules::EventKind::Lockup)
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
            .any(|e| e.year == 2032 && e.kind == rules::EventKind::DsraDraw)
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
            share: None,
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
        assert_eq!(Some(npv), party.npv, "{}", party.name);
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
        assert_eq!(Some(npv), party.npv, "{}", party.name);
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
        row(r, "Financial close (this year)")
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
    let got: Decimal = r.party("Sponsor").and_then(|p| p.npv).unwrap_or_default();
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
    let got: Decimal = r.party("Sponsor").and_then(|p| p.npv).unwrap_or_default();
    assert!(
        close(got, want, dec!(0.0000001)),
        "schedule {got} vs {want}"
    );
    assert_eq!(
        r.party("Sponsor").map(|p| p.discount_rate.clone()),
        Some(results::DiscountRate::Schedule(
            [
                dec!(0.1),
                dec!(0.05),
                dec!(0.05),
                dec!(0.05),
                dec!(0.05),
                dec!(0.05)
            ]
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
///
/// Since issue 12 the losses are losses given default: the first-loss tranche defaults in
/// 2036, its first operating year, owing 163.1m, and recovers nothing after it (the 434.7m
/// written off at the horizon is that exposure with 25 years of arrears interest); the joint
/// facility loan defaults the same year owing 470.4m and loses 36% of it. The senior debt
/// misses payments from 2041 and recovers all of them (no loss), and Japan's debt-service
/// guarantee pays half of each missed payment when it is missed, its whole 300m cap, and is
/// repaid, with interest, from the later recoveries.
#[test]
fn the_ndpr_joint_facility_shields_the_senior_lenders_in_the_crash_and_overrun() {
    let deal = crate::examples::example("ndpr-joint-facility").expect("example");
    let loss = |r: &Results, tranche: &str| num(&r.tranche(tranche).and_then(|t| t.loss));
    let base = run(&deal, &Scenario::base()).expect("runs");
    assert!(base.all_checks_pass(), "{:?}", base.checks);
    let senior = base.tranche("Senior debt").expect("senior tranche");
    assert_eq!(senior.loss, Some(dec!(0)));
    assert_eq!(senior.default_year, None);
    assert_eq!(senior.balance.last(), Some(&dec!(0)));

    let worst = deal
        .scenarios
        .iter()
        .find(|s| s.name.value == "Crash and overrun")
        .expect("scenario");
    let r = run(&deal, worst).expect("runs");
    assert!(r.all_checks_pass(), "{:?}", r.checks);
    let first_loss = r.tranche("Australian first-loss").expect("first-loss");
    let ead = num(&first_loss.exposure_at_default);
    assert_eq!(first_loss.default_year, Some(2036));
    assert!(close(
        loss(&r, "Australian first-loss"),
        ead,
        dec!(0.000001)
    ));
    assert!(num(&first_loss.shortfall_at_horizon) > dec!(2.6) * ead);
    assert_eq!(loss(&r, "Senior debt"), Decimal::ZERO);
    for t in [
        "Senior debt",
        "Joint facility loan",
        "Australian first-loss",
    ] {
        let t = r.tranche(t).expect("loan");
        let (lgd, ead) = (num(&t.loss), num(&t.exposure_at_default));
        assert!(
            lgd >= Decimal::ZERO && lgd <= ead,
            "{}: {lgd} of {ead}",
            t.name
        );
    }
    // The first-loss tranche loses a larger share of its exposure than the joint loan.
    let pct = |t: &str| num(&r.tranche(t).and_then(|t| t.loss_pct));
    assert!(pct("Australian first-loss") > pct("Joint facility loan"));
    assert!(pct("Joint facility loan") > dec!(0.35) && pct("Joint facility loan") < dec!(0.37));
    let japan = r.government("Japan Government").expect("Japan");
    assert_eq!(japan.guarantee_calls, dec!(300000000));
    let recovered: Decimal = japan
        .receipts
        .get(&calc::FlowKind::GuaranteeRecovery)
        .copied()
        .unwrap_or_default();
    assert!(recovered > dec!(300000000), "recovered {recovered}");
    let us = r.government("US Government").expect("US");
    let floor: Decimal = us.floor_payout;
    assert!(floor > Decimal::ZERO, "floor payout {floor}");
    for g in ["US Government", "Japan Government", "Australian Government"] {
        let g = r.government(g).expect("government");
        assert!(
            !g.receipts.is_empty() || !g.payments.is_empty(),
            "{}",
            g.name
        );
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
    assert_eq!(senior.balance[0], dec!(85714.29));
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
        assert_eq!(senior.balance[t], balance, "year {t}");
    }
    // The ledger sums to exactly zero every year; no amount has more than two places.
    for t in 0..r.periods.len() {
        let total: Decimal = r.parties.iter().map(|p| p.cash_flows[t]).sum();
        assert_eq!(total, Decimal::ZERO, "year {t}");
    }
    for p in &r.parties {
        for v in &p.cash_flows {
            assert!(v.normalize().scale() <= 2, "{}: {v}", p.name);
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
    assert_eq!(bank.money_multiple, Some(back / -out));
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
            assert!(v.normalize().scale() == 0, "{}: {v}", p.name);
        }
    }
}

/// Every amount of money the calculation holds is a whole number of cents by construction
/// (for any inputs), except discounted values.
#[test]
fn every_money_line_is_on_the_ledger_grid_except_present_values() {
    use crate::engine::calc::{Precision, Unit};
    // Present values and what is measured on them (a loss given default, a gate's risked
    // value), the exact depreciation a claim in whole cents is rounded from, and the
    // deviation of a check on tonnes.
    let allowed = [
        "discounted",
        ": NPV",
        "unlevered NPV",
        "risked NPV",
        "PV at the default year",
        "loss given default",
        "times its chance",
        "before rounding",
        "goes to its plants: largest deviation",
    ];
    let mut deals: Vec<(String, Deal)> = crate::examples::EXAMPLES
        .iter()
        .map(|n| (n.to_string(), crate::examples::example(n).expect("example")))
        .collect();
    deals.push(("three lenders".into(), pro_rata_with_three_lenders()));
    for (name, deal) in deals {
        let profiles = sculpt_profiles(&deal).expect("sculpt");
        for s in std::iter::once(Scenario::base()).chain(deal.scenarios.clone()) {
            let built = rules::build(&deal, &s, &profiles).expect("build");
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
    let roots: Vec<Decimal> = sponsor.irr_roots.to_vec();
    assert_eq!(roots.len(), 2, "{roots:?}");
    assert!(close(roots[0], dec!(0.1), dec!(1e-12)), "{roots:?}");
    assert!(close(roots[1], dec!(0.2), dec!(1e-12)), "{roots:?}");
    // The IRR shown is the root nearest 10%; the MIRR at the sponsor's 8%:
    // (230,000 × 1.08 / (100,000 + 132,000 / 1.08²))^½ − 1 = 7.94786…%.
    assert!(close(num(&sponsor.irr), dec!(0.1), dec!(1e-12)));
    assert!(close(num(&sponsor.mirr), dec!(0.0794786), dec!(0.0000001)));
    // The JSON says so.
    let json: serde_json::Value =
        serde_json::from_str(&crate::json::to_json(&two_irrs(), std::slice::from_ref(&r)))
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
        [
            dec!(0),
            dec!(50000),
            dec!(50000),
            dec!(50000),
            dec!(50000),
            dec!(0)
        ]
    );
    assert_eq!(offtake.tonnes_secured, dec!(2000));
    let want: Decimal = (2..=5).map(|k| dec!(5000) / dec!(1.1).powi(k)).sum();
    let npv: Decimal = magnets.npv.expect("measured");
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
        let total: Decimal = r.parties.iter().map(|p| p.cash_flows[t]).sum();
        assert_eq!(total, Decimal::ZERO);
    }
}

/// `DSRA funding`: a senior annuity (100,000 at 10% over 4 years, 31,547.08 a year, a 6-month
/// DSRA of 15,773.54) above a junior bullet (50,000 at 10%). In 2032 CFADS is 20,000: the
/// DSRA pays the senior shortfall (11,547.08, leaving 4,226.46) and the junior misses its
/// 5,000. In 2033 CFADS is 50,000: 18,452.92 is left after senior debt service, and the
/// junior is due 10,500 (5,000 of arrears and 10% of 55,000). Funding reserves after each
/// rank refills the senior DSRA first (11,547.08), leaving the junior 6,905.84 (3,594.16
/// still in arrears); funding them after all debt service pays the junior its 10,500 and
/// tops the reserve up with the 7,952.92 left (to 12,179.38). In 2034 (CFADS 50,000 again) the
/// senior's last payment leaves 18,452.92 and its reserve, no longer needed, is released
/// right after it in both orders, so the junior's bullet gets the release too: 34,226.46
/// (15,773.54 released) pays its 8,953.58 of interest and 25,272.88 of principal, or 30,632.30
/// (12,179.38 released) pays 5,000 and 25,632.30.
#[test]
fn reserves_funded_after_all_debt_service_pay_the_junior_lenders_first() {
    let deal_with = |funding: ReserveFunding| {
        let mut deal = financed("100000", Repayment::Annuity);
        deal.tranches[1].dsra_months = Sourced::bare(dec!(6));
        deal.tranches.push(loan(
            "Junior",
            TrancheKind::SubordinatedDebt,
            2,
            "50000",
            1,
            "0.1",
            4,
            Repayment::Bullet,
            &[("Bank", "1")],
        ));
        deal.reserve_funding = Sourced::bare(funding);
        let price = |v: i64| Sourced::bare(Decimal::from(v));
        deal.products[0].deck = [(2030, 100), (2031, 100), (2032, 40), (2033, 70), (2034, 70)]
            .map(|(y, p)| (y, price(p)))
            .to_vec();
        deal
    };
    let in_2033 = |r: &Results, label: &str| row(r, label)[3];
    let in_2034 = |r: &Results, label: &str| row(r, label)[4];
    for (funding, top_up, junior_paid, junior_arrears, dsra, last) in [
        (
            ReserveFunding::EachRank,
            dec!(11547.08),
            dec!(6905.84),
            dec!(3594.16),
            dec!(15773.54),
            [dec!(15773.54), dec!(8953.58), dec!(25272.88)],
        ),
        (
            ReserveFunding::AllDebtService,
            dec!(7952.92),
            dec!(10500),
            dec!(0),
            dec!(12179.38),
            [dec!(12179.38), dec!(5000), dec!(25632.30)],
        ),
    ] {
        let r = run(&deal_with(funding), &Scenario::base()).expect("runs");
        assert!(r.all_checks_pass(), "{funding:?}: {:?}", r.checks);
        assert_eq!(
            row(&r, "CFADS (cash flow available for debt service)")[3],
            dec!(50000)
        );
        assert_eq!(
            in_2033(&r, "Senior: principal paid"),
            dec!(26071.97),
            "{funding:?}"
        );
        assert_eq!(in_2033(&r, "Senior: DSRA top-up"), top_up, "{funding:?}");
        assert_eq!(
            in_2033(&r, "Junior: interest paid"),
            junior_paid,
            "{funding:?}"
        );
        assert_eq!(
            in_2033(&r, "Junior: interest in arrears"),
            junior_arrears,
            "{funding:?}"
        );
        assert_eq!(in_2033(&r, "Senior: DSRA balance"), dsra, "{funding:?}");
        let paid = [
            "Senior: DSRA released",
            "Junior: interest paid",
            "Junior: principal paid",
        ]
        .map(|label| in_2034(&r, label));
        assert_eq!(paid, last, "{funding:?}: 2034");
    }
}
