//! `ndpr-joint-facility`: an Australian rare-earth mine feeding its own NdPr refinery,
//! funded by sponsor equity, commercial senior debt, a joint US–Japan–Australia concessional
//! loan and an Australian first-loss tranche, with a US price floor on NdPr.
//!
//! Calibration (nominal US$, costs escalated 2%/yr from 2026; worked by hand, to be checked
//! against the engine): capex about US$1.45bn (mine US$520m and refinery US$780m in 2034
//! dollars, US$105m of studies and approvals before); revenue about US$595m in 2039 at
//! nameplate (4,400 t of NdPr oxide at US$125/kg in 2035, +2%/yr after); cash costs about
//! US$315m (sustaining capex included), royalties about US$20m and the US upside share
//! about US$16m, so CFADS near US$250m. Debt US$1.2bn: senior US$600m at 8.5% (annuity
//! over 10 years after 2 of grace, about US$103m a year with capitalised interest), joint
//! facility US$450m at 3% (about US$47m) and first-loss US$150m at 4% (about US$19m):
//! base-case DSCR about 1.5 on all debt (about 2.4 on senior debt alone) once repayments
//! start, rising as prices escalate. In the first ramp-up year (40%) CFADS covers only about
//! half the senior interest; the six-month DSRA funded at completion bridges the rest.
//! Equity US$500m, with US$750m of completion support for overruns. The crash with a 60%
//! overrun leaves CFADS near zero from 2038 to 2040 on a larger debt: arrears build and the
//! most junior money (the first-loss) is the first to lose.

use super::*;
use crate::excel::schema;

const MINE: &str = "Mine and concentrator";
const REFINERY: &str = "NdPr refinery";
const CONCENTRATE: &str = "RE concentrate";
const NDPR: &str = "NdPr oxide";

pub fn deal() -> Deal {
    let first_production = 2036;
    Deal {
        name: text("Goldfields NdPr joint facility (example)"),
        currency: text("USD"),
        start_date: date(2026, 1, 1),
        horizon_years: s(38),
        discounting: s(Discounting::EndOfYear),
        discount_rate: pct("9"),
        project_name: text("Goldfields Rare Earths"),
        financial_close_year: None,
        tax_home_country: None,
        subsidy_basis: s(SubsidyBasis::PresentValue),
        completion_support: s(CompletionSupport::Shareholding),
        ledger_precision: s(crate::model::DEFAULT_LEDGER_PRECISION),
        facilities: vec![
            Facility {
                name: text(MINE),
                kind: s(FacilityKind::Mine),
                country: text("Australia"),
                product: text(CONCENTRATE),
                nameplate: num("140000"),
                feed: None,
                start_year: s(2026),
                exploration_years: s(3),
                feasibility_years: s(2),
                permitting_years: s(2),
                construction_years: s(3),
                ramp: vec![pct("50"), pct("80"), pct("95")],
                operations_years: s(20),
                closure_years: s(3),
                gates: StageGates {
                    exploration: pct("60"),
                    feasibility: pct("80"),
                    permitting: pct("85"),
                    construction: pct("95"),
                },
            },
            Facility {
                name: text(REFINERY),
                kind: s(FacilityKind::Refinery),
                country: text("Australia"),
                product: text(NDPR),
                nameplate: num("4400"),
                feed: Some(Feed {
                    source: FeedSource::Facility {
                        name: text(MINE),
                        pricing: s(TransferPricing::Cost),
                        price: None,
                        share: None,
                    },
                    recovery: num("0.0315"),
                }),
                start_year: s(2029),
                exploration_years: s(0),
                feasibility_years: s(2),
                permitting_years: s(2),
                construction_years: s(3),
                ramp: vec![pct("50"), pct("80"), pct("95")],
                operations_years: s(20),
                closure_years: s(3),
                gates: StageGates {
                    exploration: pct("100"),
                    feasibility: pct("90"),
                    permitting: pct("85"),
                    construction: pct("90"),
                },
            },
        ],
        products: vec![Product {
            name: text(NDPR),
            unit: s(PriceUnit::PerKg),
            currency: text("USD"),
            escalation: pct("2"),
            deck: series(
                2026,
                &[
                    "80", "85", "90", "95", "100", "105", "110", "115", "120", "125",
                ],
            ),
        }],
        fx: Vec::new(),
        costs: costs(),
        fiscal: vec![australia(true)],
        parties: vec![
            party("Sponsor", PartyKind::Sponsor, Some("Australia"), "11"),
            party("Senior banks", PartyKind::Bank, None, "8.5"),
            party(
                "US Government",
                PartyKind::Government,
                Some("United States"),
                "2",
            ),
            party(
                "Japan Government",
                PartyKind::Government,
                Some("Japan"),
                "4",
            ),
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
            party("Tokai Magnetics", PartyKind::Offtaker, Some("Japan"), "8"),
            party(
                "Selangor Magnet Works",
                PartyKind::Offtaker,
                Some("Malaysia"),
                "9",
            ),
            party(
                "Hai Phong Magnets",
                PartyKind::Offtaker,
                Some("Vietnam"),
                "9",
            ),
        ],
        offtakes: vec![
            Offtake {
                discount: pct("2"),
                floor: Some(num("75")),
                take_or_pay: pct("80"),
                ..offtake(
                    "Japanese magnet offtake",
                    NDPR,
                    "Tokai Magnetics",
                    "40",
                    (first_production, 2050),
                    PricingKind::Floor,
                )
            },
            Offtake {
                discount: pct("3"),
                take_or_pay: pct("50"),
                ..offtake(
                    "Malaysian magnet offtake",
                    NDPR,
                    "Selangor Magnet Works",
                    "20",
                    (first_production, 2045),
                    PricingKind::Market,
                )
            },
            Offtake {
                discount: pct("3"),
                ..offtake(
                    "Vietnamese magnet offtake",
                    NDPR,
                    "Hai Phong Magnets",
                    "10",
                    (2038, 2047),
                    PricingKind::Market,
                )
            },
        ],
        price_supports: vec![PriceSupport {
            name: text("US NdPr price floor"),
            product: text(NDPR),
            supporter: text("US Government"),
            floor: num("110"),
            covered_share: pct("50"),
            upside_share: pct("30"),
            upside_threshold: None,
            start_year: s(first_production),
            end_year: s(first_production + 9),
        }],
        tranches: tranches(),
        scenarios: vec![
            Scenario {
                name: text("NdPr crash"),
                overrides: vec![ndpr_crash()],
            },
            Scenario {
                name: text("Permitting delay"),
                overrides: vec![Override {
                    phase: Some(s(Phase::Permitting)),
                    ..change(OverrideKind::Delay, num("2"))
                }],
            },
            Scenario {
                name: text("Capex overrun"),
                overrides: vec![change(OverrideKind::CapexOverrun, pct("60"))],
            },
            Scenario {
                name: text("Crash and overrun"),
                overrides: vec![ndpr_crash(), change(OverrideKind::CapexOverrun, pct("60"))],
            },
        ],
        monte_carlo: Some(MonteCarlo {
            processes: vec![process(NDPR, "40", "0.3", ("0.1", "30", "0.2"), &[])],
        }),
        ..Deal::default()
    }
}

/// −70% over two years from the second production year, two years at the bottom, a
/// four-year recovery to 65% of the deck (a lasting 35% haircut): the 2022–24 fall, replayed.
fn ndpr_crash() -> Override {
    crash(NDPR, "70", 2037, 2, 2, 4, "35")
}

fn costs() -> Vec<CostLine> {
    use CostBasis::*;
    use CostCategory::*;
    vec![
        cost(
            MINE,
            "Exploration drilling and resource definition",
            Exploration,
            TotalOverPhase,
            Some(Phase::Exploration),
            "36000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Feasibility studies (PFS and DFS)",
            Exploration,
            TotalOverPhase,
            Some(Phase::Feasibility),
            "24000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Approvals, native title and environmental assessment",
            Exploration,
            TotalOverPhase,
            Some(Phase::Permitting),
            "12000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Mine, concentrator and site infrastructure",
            DevelopmentCapex,
            TotalOverPhase,
            Some(Phase::Construction),
            "520000000",
            "2",
            Some(2034),
        ),
        cost(
            MINE,
            "Sustaining capex",
            SustainingCapex,
            PerYear,
            Some(Phase::Production),
            "15000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Site fixed costs during ramp-up",
            FixedOpex,
            PerYear,
            Some(Phase::RampUp),
            "30000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Site fixed costs (labour, camp, power)",
            FixedOpex,
            PerYear,
            Some(Phase::Operations),
            "40000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Mining and beneficiation",
            VariableOpex,
            PerTonne,
            Some(Phase::Production),
            "150",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Tailings storage and monitoring",
            Environmental,
            PerYear,
            Some(Phase::Production),
            "3000000",
            "2",
            Some(2026),
        ),
        cost(
            MINE,
            "Mine rehabilitation and closure",
            Rehabilitation,
            TotalOverPhase,
            Some(Phase::Closure),
            "60000000",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Front-end engineering and design",
            DevelopmentCapex,
            TotalOverPhase,
            Some(Phase::Feasibility),
            "25000000",
            "2",
            Some(2029),
        ),
        cost(
            REFINERY,
            "Radiation licence and works approval",
            Environmental,
            TotalOverPhase,
            Some(Phase::Permitting),
            "8000000",
            "2",
            Some(2029),
        ),
        cost(
            REFINERY,
            "Refinery construction (cracking, leaching, solvent extraction)",
            DevelopmentCapex,
            TotalOverPhase,
            Some(Phase::Construction),
            "780000000",
            "2",
            Some(2034),
        ),
        cost(
            REFINERY,
            "Sustaining capex",
            SustainingCapex,
            PerYear,
            Some(Phase::Production),
            "20000000",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Refinery fixed costs during ramp-up",
            FixedOpex,
            PerYear,
            Some(Phase::RampUp),
            "45000000",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Refinery fixed costs",
            FixedOpex,
            PerYear,
            Some(Phase::Operations),
            "60000000",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Reagents, energy and consumables",
            VariableOpex,
            PerTonne,
            Some(Phase::Production),
            "15000",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Thorium and uranium residue handling and storage",
            ResidueHandling,
            PerTonne,
            Some(Phase::Production),
            "2500",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Radiation protection and environmental monitoring",
            Environmental,
            PerYear,
            Some(Phase::Production),
            "6000000",
            "2",
            Some(2026),
        ),
        cost(
            REFINERY,
            "Residue storage closure and rehabilitation",
            Rehabilitation,
            TotalOverPhase,
            Some(Phase::Closure),
            "90000000",
            "2",
            Some(2026),
        ),
    ]
}

fn tranches() -> Vec<Tranche> {
    vec![
        Tranche {
            draw_priority: s(1),
            overrun_cap: num("750000000"),
            participants: participants(&[("Sponsor", "100")]),
            ..tranche("Sponsor equity", TrancheKind::Equity, 4, "500000000")
        },
        Tranche {
            draw_priority: s(2),
            interest_rate: pct("8.5"),
            upfront_fee: pct("2"),
            commitment_fee: pct("0.75"),
            capitalise_interest: s(true),
            grace_years: s(2),
            tenor_years: s(12),
            repayment: s(Repayment::Annuity),
            dsra_months: num("6"),
            lockup_dscr: Some(num("1.2")),
            participants: participants(&[("Senior banks", "100")]),
            ..tranche("Senior debt", TrancheKind::SeniorDebt, 1, "600000000")
        },
        Tranche {
            draw_priority: s(2),
            interest_rate: pct("3"),
            upfront_fee: pct("0.5"),
            commitment_fee: pct("0.25"),
            capitalise_interest: s(true),
            grace_years: s(3),
            tenor_years: s(15),
            repayment: s(Repayment::Annuity),
            participants: participants(&[
                ("US Government", "40"),
                ("Japan Government", "30"),
                ("Australian Government", "30"),
            ]),
            ..tranche(
                "Joint facility loan",
                TrancheKind::ConcessionalLoan,
                2,
                "450000000",
            )
        },
        Tranche {
            draw_priority: s(2),
            interest_rate: pct("4"),
            capitalise_interest: s(true),
            grace_years: s(3),
            tenor_years: s(15),
            repayment: s(Repayment::StraightLine),
            participants: participants(&[("Australian Government", "100")]),
            ..tranche(
                "Australian first-loss",
                TrancheKind::FirstLoss,
                3,
                "150000000",
            )
        },
        Tranche {
            commitment_fee: pct("0.6"),
            covers: Some(text("Senior debt")),
            coverage: pct("50"),
            participants: participants(&[("Japan Government", "100")]),
            ..tranche(
                "Japan senior guarantee",
                TrancheKind::Guarantee,
                1,
                "300000000",
            )
        },
    ]
}

pub fn notes() -> Notes {
    let mut n = Notes {
        title: "NdPr joint facility — an example Lodestone deal".to_string(),
        description: vec![
            "An Australian rare-earth mine (RE concentrate) feeding its own NdPr oxide refinery, about ten years from the start of exploration (2026) to first production (2036). Funded by sponsor equity, commercial senior debt, a joint US-Japan-Australia concessional loan (40/30/30) and an Australian first-loss tranche; a Japanese guarantee pays half of any senior debt service missed. The US supports NdPr at US$110/kg for ten years and takes 30% of the upside above it. Offtake goes to Japanese and ASEAN magnet makers.".to_string(),
            "Scenarios: the 2022-24 NdPr crash replayed (-70% over two years), a two-year permitting delay, a 60% capex overrun, and the crash with the overrun. Figures are illustrative: see the notes beside each row and the sources below.".to_string(),
        ],
        sources: vec![
            cite::LEAD_TIME.to_string(),
            cite::NDPR_CRASH.to_string(),
            cite::DOD_FLOOR.to_string(),
            cite::WA_ROYALTY.to_string(),
            cite::COMPANY_TAX.to_string(),
            cite::PTC.to_string(),
            cite::RATE_AU.to_string(),
            cite::RATE_US.to_string(),
            cite::RATE_JP.to_string(),
            cite::CMF.to_string(),
            cite::FRAMEWORK.to_string(),
            cite::ILLUSTRATIVE.to_string(),
            cite::NDPR_VOLATILITY.to_string(),
        ],
        ..Notes::default()
    };
    let deal_row = |field: &str| {
        schema::DEAL
            .fields
            .iter()
            .position(|f| f.name == field)
            .unwrap_or(0)
    };
    n.row(
        schema::DEAL.name,
        deal_row("Model start date"),
        "Exploration starts in 2026; first NdPr in 2036, about ten years on [1].",
    );
    n.row(
        schema::DEAL.name,
        deal_row("Horizon"),
        "2026-2063: twenty years of operations and three of closure, and room for the two-year permitting delay.",
    );
    n.row(
        schema::DEAL.name,
        deal_row("Project discount rate"),
        "Illustrative nominal project WACC [12].",
    );
    n.row(schema::FACILITIES.name, 0, "140 kt/yr of concentrate; 3+2+2 years of exploration, feasibility and permitting, 3 of construction: first production 2036 [1].");
    n.row(schema::FACILITIES.name, 1, "4.4 kt/yr NdPr oxide at 3.15% recovery from the mine's concentrate, transferred at cost; starts later so its construction matches the mine's (2033-35).");
    n.row(schema::PRICES.name, 0, "US$80/kg in 2026 rising to US$125/kg by 2035, +2%/yr after; compare US$173/kg (Feb 2022) and US$51/kg (Jun 2024) [2].");
    for (i, note) in [
        "Studies and drilling before a decision to mine [12].",
        "Pre-feasibility and definitive feasibility studies [12].",
        "WA environmental approval and native title agreements [12].",
        "Mine, beneficiation plant, roads, power and water [12].",
        "",
        "The workforce and contracts build up over the ramp-up [12].",
        "",
        "Per tonne of concentrate [12].",
        "",
        "Landform, tailings cover and revegetation over closure [12].",
        "",
        "Licence under the Radiation Safety Act for thorium-bearing residue [12].",
        "Cracking and leaching, solvent extraction, product finishing [12].",
        "",
        "Lower while the plant ramps up [12].",
        "",
        "Acid, caustic, solvent, power and gas, per tonne of NdPr oxide [12].",
        "Radioactive (thorium and uranium-bearing) residue: handling and on-site storage, per tonne of NdPr oxide [12].",
        "",
        "Residue storage facility capping and long-term monitoring [12].",
    ]
    .into_iter()
    .enumerate()
    {
        if !note.is_empty() {
            n.row(schema::COSTS.name, i, note);
        }
    }
    n.row(schema::FISCAL.name, 0, "WA royalties 5% concentrate / 2.5% refined [4]; company tax 30% [5]; refundable 10% production tax incentive on processing costs 2027-2040 [6].");
    n.row(
        schema::PARTIES.name,
        0,
        "Illustrative sponsor hurdle rate [12].",
    );
    n.row(
        schema::PARTIES.name,
        1,
        "Illustrative commercial lenders' rate [12].",
    );
    n.row(schema::PARTIES.name, 2, "OMB Circular A-4 (2023): 2% [8].");
    n.row(
        schema::PARTIES.name,
        3,
        "MLIT cost-benefit guideline: 4% [9].",
    );
    n.row(schema::PARTIES.name, 4, "Australian public rate 7% [7]; lender through the Critical Minerals Facility [10] and the US-Australia framework [11].");
    n.row(schema::PARTIES.name, 5, "Receives WA royalties [4].");
    n.row(
        schema::PARTIES.name,
        6,
        "Japanese magnet maker (fictional).",
    );
    n.row(
        schema::PARTIES.name,
        7,
        "Malaysian magnet maker (fictional).",
    );
    n.row(
        schema::PARTIES.name,
        8,
        "Vietnamese magnet maker (fictional).",
    );
    n.row(
        schema::OFFTAKE.name,
        0,
        "40% for 15 years, market less 2% with a US$75/kg buyer floor, 80% take-or-pay.",
    );
    n.row(schema::PRICE_SUPPORT.name, 0, "US$110/kg for ten years from first production, 30% of the upside above it [3]; here on half of the volume.");
    n.row(
        schema::FINANCING.name,
        0,
        "US$500m, drawn first; up to US$750m more as completion support for overruns.",
    );
    n.row(
        schema::FINANCING.name,
        1,
        "Commercial banks: US$600m, annuity over the 10 years after 2 years' grace [12].",
    );
    n.row(
        schema::FINANCING.name,
        2,
        "Joint facility of the US, Japan and Australia, concessional at 3% [10][11].",
    );
    n.row(
        schema::FINANCING.name,
        3,
        "Ranks below every other loan: absorbs losses first.",
    );
    n.row(
        schema::FINANCING.name,
        4,
        "A debt-service guarantee: pays 50% of each payment the senior debt misses, when it is missed, up to US$300m in all, and is repaid from later recoveries; 0.6%/yr fee.",
    );
    n.row(
        schema::PARTICIPANTS.name,
        2,
        "Joint facility split 40/30/30.",
    );
    n.row(schema::SCENARIOS.name, 0, "-70% over two years, two at the bottom, four to recover to 65% of the deck (a lasting 35% haircut): as in 2022-24 [2].");
    n.row(
        schema::SCENARIOS.name,
        1,
        "Two more years of permitting for both facilities.",
    );
    n.row(schema::SCENARIOS.name, 2, "Capex 60% over budget.");
    n.row(schema::MONTE_CARLO.name, 0, "40%/yr: the 2022-24 fall is a two-sigma move [2][13]; gaps to the deck close by about a quarter a year; a crash of about 30% once a decade [13].");
    n.row(
        schema::SCENARIOS.name,
        3,
        "The crash and the overrun together.",
    );
    n
}
