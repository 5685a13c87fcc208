//! `spodumene-crash`: a Western Australian spodumene (SC6) mine selling to ASEAN battery
//! makers under take-or-pay offtakes, hit by an 87% price crash like that of 2022–24.
//!
//! Calibration (nominal US$, costs +2%/yr): capex about US$400m (US$380m of mine, DMS plant
//! and infrastructure in 2028 dollars, plus studies and approvals); 300 kt/yr of SC6 at
//! US$1,400/t in 2030 (+2%/yr after) is about US$420m of revenue; opex about US$200m/yr.
//! Debt US$340m: senior US$240m at 8% sculpted to a 1.40x DSCR over 7 years, and a
//! US$100m NAIF concessional loan at 4.5%; equity US$220m. The crash takes SC6 to about
//! US$180/t, below cash cost, in the first years of production.

use super::*;
use crate::excel::schema;

const MINE: &str = "Red Hill mine";
const SC6: &str = "SC6 spodumene concentrate";

pub fn deal() -> Deal {
    use CostBasis::*;
    use CostCategory::*;
    Deal {
        name: text("Red Hill spodumene (example)"),
        currency: text("USD"),
        start_date: date(2026, 1, 1),
        horizon_years: s(23),
        discounting: s(Discounting::MidYear),
        discount_rate: pct("10"),
        project_name: text("Red Hill Lithium"),
        financial_close_year: Some(s(2028)),
        tax_home_country: Some(text("Australia")),
        subsidy_basis: s(SubsidyBasis::PresentValue),
        completion_support: s(CompletionSupport::Shareholding),
        ledger_precision: s(crate::model::DEFAULT_LEDGER_PRECISION),
        facilities: vec![Facility {
            name: text(MINE),
            kind: s(FacilityKind::Mine),
            country: text("Australia"),
            product: text(SC6),
            nameplate: num("300000"),
            feed: None,
            start_year: s(2026),
            exploration_years: s(0),
            feasibility_years: s(1),
            permitting_years: s(1),
            construction_years: s(2),
            ramp: vec![pct("50"), pct("85")],
            operations_years: s(15),
            closure_years: s(2),
            gates: StageGates {
                exploration: pct("100"),
                feasibility: pct("90"),
                permitting: pct("90"),
                construction: pct("95"),
            },
        }],
        products: vec![Product {
            name: text(SC6),
            unit: s(PriceUnit::PerTonne),
            currency: text("USD"),
            escalation: pct("2"),
            deck: series(2026, &["950", "1100", "1250", "1350", "1400"]),
        }],
        fx: Vec::new(),
        costs: vec![
            cost(
                MINE,
                "Definitive feasibility study",
                Exploration,
                TotalOverPhase,
                Some(Phase::Feasibility),
                "14000000",
                "2",
                Some(2026),
            ),
            cost(
                MINE,
                "Approvals (EPA Part IV, native title)",
                Exploration,
                TotalOverPhase,
                Some(Phase::Permitting),
                "6000000",
                "2",
                Some(2026),
            ),
            cost(
                MINE,
                "Mine, DMS plant and infrastructure",
                DevelopmentCapex,
                TotalOverPhase,
                Some(Phase::Construction),
                "380000000",
                "2",
                Some(2028),
            ),
            cost(
                MINE,
                "Sustaining capex",
                SustainingCapex,
                PerYear,
                Some(Phase::Production),
                "14000000",
                "2",
                None,
            ),
            cost(
                MINE,
                "Site fixed costs",
                FixedOpex,
                PerYear,
                Some(Phase::Production),
                "48000000",
                "2",
                None,
            ),
            cost(
                MINE,
                "Mining, processing, haulage and port",
                VariableOpex,
                PerTonne,
                None,
                "390",
                "2",
                None,
            ),
            cost(
                MINE,
                "Tailings storage and environmental monitoring",
                Environmental,
                PerYear,
                Some(Phase::Production),
                "3000000",
                "2",
                None,
            ),
            cost(
                MINE,
                "Rehabilitation and closure",
                Rehabilitation,
                TotalOverPhase,
                Some(Phase::Closure),
                "45000000",
                "2",
                None,
            ),
        ],
        fiscal: vec![australia(false)],
        parties: vec![
            party("Sponsor", PartyKind::Sponsor, Some("Australia"), "12"),
            party("Senior banks", PartyKind::Bank, None, "8"),
            party(
                "Australian Government",
                PartyKind::Government,
                Some("Australia"),
                "7",
            ),
            party(
                "WA Government",
                PartyKind::Government,
                Some("Australia"),
                "7",
            ),
            party(
                "Java Battery Materials",
                PartyKind::Offtaker,
                Some("Indonesia"),
                "9",
            ),
            party("Mekong Cells", PartyKind::Offtaker, Some("Vietnam"), "9"),
            party("Chao Phraya EV", PartyKind::Offtaker, Some("Thailand"), "9"),
        ],
        offtakes: vec![
            Offtake {
                discount: pct("2"),
                take_or_pay: pct("80"),
                ..offtake(
                    "Indonesian battery offtake",
                    SC6,
                    "Java Battery Materials",
                    "50",
                    (2030, 2037),
                    PricingKind::Market,
                )
            },
            Offtake {
                floor: Some(num("800")),
                cap: Some(num("2000")),
                take_or_pay: pct("60"),
                ..offtake(
                    "Vietnamese battery offtake",
                    SC6,
                    "Mekong Cells",
                    "25",
                    (2030, 2035),
                    PricingKind::Collar,
                )
            },
            Offtake {
                fixed_price: Some(num("1200")),
                take_or_pay: pct("50"),
                ..offtake(
                    "Thai battery offtake",
                    SC6,
                    "Chao Phraya EV",
                    "15",
                    (2031, 2036),
                    PricingKind::Fixed,
                )
            },
        ],
        price_supports: Vec::new(),
        tranches: vec![
            Tranche {
                overrun_cap: num("60000000"),
                participants: participants(&[("Sponsor", "100")]),
                ..tranche("Sponsor equity", TrancheKind::Equity, 3, "220000000")
            },
            Tranche {
                draw_priority: s(2),
                interest_rate: pct("8"),
                upfront_fee: pct("2.25"),
                commitment_fee: pct("0.8"),
                capitalise_interest: s(true),
                grace_years: s(1),
                tenor_years: s(7),
                repayment: s(Repayment::Sculpted),
                target_dscr: Some(num("1.4")),
                dsra_months: num("6"),
                lockup_dscr: Some(num("1.15")),
                participants: participants(&[("Senior banks", "100")]),
                ..tranche(
                    "Senior project finance",
                    TrancheKind::SeniorDebt,
                    1,
                    "240000000",
                )
            },
            Tranche {
                draw_priority: s(2),
                interest_rate: pct("4.5"),
                capitalise_interest: s(true),
                grace_years: s(2),
                tenor_years: s(10),
                repayment: s(Repayment::StraightLine),
                participants: participants(&[("Australian Government", "100")]),
                ..tranche(
                    "NAIF concessional loan",
                    TrancheKind::ConcessionalLoan,
                    2,
                    "100000000",
                )
            },
        ],
        scenarios: vec![
            Scenario {
                name: text("Spodumene crash"),
                overrides: vec![spodumene_crash()],
            },
            Scenario {
                name: text("Crash with weak uptake"),
                overrides: vec![
                    spodumene_crash(),
                    Override {
                        product: Some(text(SC6)),
                        ..change(OverrideKind::OfftakeUptake, pct("60"))
                    },
                ],
            },
        ],
        monte_carlo: Some(MonteCarlo {
            processes: vec![process(SC6, "75", "0.5", ("0.1", "35", "0.25"), &[])],
        }),
        ..Deal::default()
    }
}

/// −87% over two years from first production, a year at the bottom, four to recover to
/// 65% of the deck.
fn spodumene_crash() -> Override {
    crash(SC6, "87", 2030, 2, 1, 4, "35")
}

pub fn notes() -> Notes {
    let mut n = Notes {
        title: "Spodumene crash — an example Lodestone deal".to_string(),
        description: vec![
            "A Western Australian spodumene mine producing SC6 concentrate for ASEAN battery makers under offtakes with take-or-pay. Financed by sponsor equity, senior project finance sculpted to a 1.40x DSCR, and a concessional loan from the Northern Australia Infrastructure Facility.".to_string(),
            "Scenarios: an 87% crash, as spodumene fell from Dec 2022 to Sep 2024, starting with first production; and the same crash with the buyers taking only 60% of their contracted volumes (take-or-pay then pays for part of the rest).".to_string(),
        ],
        sources: vec![
            cite::SPODUMENE_CRASH.to_string(),
            cite::WA_ROYALTY.to_string(),
            cite::COMPANY_TAX.to_string(),
            cite::RATE_AU.to_string(),
            cite::ILLUSTRATIVE.to_string(),
            cite::SPODUMENE_VOLATILITY.to_string(),
        ],
        ..Notes::default()
    };
    n.row(schema::FACILITIES.name, 0, "300 kt/yr SC6; one year each of feasibility and permitting, two of construction, first production 2030 [5].");
    n.row(schema::MONTE_CARLO.name, 0, "75%/yr: the 87% fall of 2022-24 is a two-sigma move [1][6]; lithium cycles turn faster (reversion 0.5); a crash of about 35% once a decade [6].");
    n.row(schema::PRICES.name, 0, "US$950/t in 2026 to US$1,400/t by 2030, +2%/yr after [5]; the Dec 2022 peak was far above, the Sep 2024 trough far below [1].");
    n.row(
        schema::COSTS.name,
        5,
        "Blank phase: every producing year [5].",
    );
    n.row(schema::FISCAL.name, 0, "WA royalty 5% on spodumene concentrate [2]; company tax 30% [3]; a mine earns no production tax incentive.");
    n.row(
        schema::PARTIES.name,
        2,
        "Australian public rate 7% [4]; lends through NAIF.",
    );
    n.row(
        schema::OFFTAKE.name,
        0,
        "Half the output for eight years, 80% take-or-pay.",
    );
    n.row(schema::OFFTAKE.name, 1, "Collar: US$800-2,000/t.");
    n.row(schema::OFFTAKE.name, 2, "Fixed US$1,200/t for six years.");
    n.row(
        schema::FINANCING.name,
        1,
        "Sculpted to a 1.40x DSCR on the base case; lock-up below 1.15x [5].",
    );
    n.row(
        schema::FINANCING.name,
        2,
        "Northern Australia Infrastructure Facility (Pilbara is in its remit) [5].",
    );
    n.row(
        schema::SCENARIOS.name,
        0,
        "-87% over two years, as Dec 2022 to Sep 2024 [1].",
    );
    n.row(
        schema::SCENARIOS.name,
        2,
        "Buyers take 60% of contracted volumes.",
    );
    n
}
