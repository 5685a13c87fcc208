//! `gallium-refinery`: a small Australian gallium refinery (100 t/yr of 4N gallium) buying
//! crude gallium at an index price in CNY, owned by Japanese, US and Australian concessional
//! equity, with Japanese and US buyers.
//!
//! Calibration (nominal US$, costs +2%/yr): capex about US$120m (US$110m of plant in 2028
//! dollars); 100 t/yr at US$600–900/kg is US$60–90m of revenue, against feed of about
//! US$27m (1,800 CNY/kg at 0.14 US$/CNY, 96% recovery) and opex of about US$17m. Equity
//! US$120m in three tranches (Japan 40%, US 30%, Australia 30% of the money; Australia takes
//! 20% of distributions: its concession), plus a US$40m Critical Minerals Facility loan.

use super::*;
use crate::excel::schema;

const REFINERY: &str = "Gallium refinery";
const GALLIUM: &str = "Gallium 4N";
const CRUDE: &str = "Crude gallium (index)";

pub fn deal() -> Deal {
    use CostBasis::*;
    use CostCategory::*;
    Deal {
        name: text("Kwinana gallium refinery (example)"),
        currency: text("USD"),
        start_date: date(2026, 1, 1),
        horizon_years: s(22),
        discounting: s(Discounting::EndOfYear),
        discount_rate: pct("9"),
        project_name: text("Kwinana Gallium"),
        financial_close_year: None,
        tax_home_country: None,
        subsidy_basis: s(SubsidyBasis::PresentValue),
        completion_support: s(CompletionSupport::Shareholding),
        ledger_precision: s(crate::model::DEFAULT_LEDGER_PRECISION),
        facilities: vec![Facility {
            name: text(REFINERY),
            kind: s(FacilityKind::Refinery),
            country: text("Australia"),
            product: text(GALLIUM),
            nameplate: num("100"),
            feed: Some(Feed {
                source: FeedSource::Market {
                    product: text(CRUDE),
                },
                recovery: num("0.96"),
            }),
            start_year: s(2026),
            exploration_years: s(0),
            feasibility_years: s(1),
            permitting_years: s(1),
            construction_years: s(2),
            ramp: vec![pct("50"), pct("80")],
            operations_years: s(15),
            closure_years: s(1),
            gates: StageGates {
                exploration: pct("100"),
                feasibility: pct("90"),
                permitting: pct("95"),
                construction: pct("90"),
            },
        }],
        products: vec![
            Product {
                name: text(GALLIUM),
                unit: s(PriceUnit::PerKg),
                currency: text("USD"),
                escalation: pct("2"),
                deck: series(2026, &["1000", "950", "900", "800", "700", "650", "600"]),
            },
            Product {
                name: text(CRUDE),
                unit: s(PriceUnit::PerKg),
                currency: text("CNY"),
                escalation: pct("1"),
                deck: series(2026, &["1900", "1900", "1850", "1850", "1800"]),
            },
        ],
        fx: vec![FxSeries {
            currency: text("CNY"),
            rates: series(2026, &["0.14", "0.14", "0.14"]),
        }],
        costs: vec![
            cost(
                REFINERY,
                "Front-end engineering and design",
                DevelopmentCapex,
                TotalOverPhase,
                Some(Phase::Feasibility),
                "6000000",
                "2",
                Some(2026),
            ),
            cost(
                REFINERY,
                "Works approval and licensing",
                Environmental,
                TotalOverPhase,
                Some(Phase::Permitting),
                "2000000",
                "2",
                Some(2026),
            ),
            cost(
                REFINERY,
                "Refinery construction",
                DevelopmentCapex,
                TotalOverPhase,
                Some(Phase::Construction),
                "110000000",
                "2",
                Some(2028),
            ),
            cost(
                REFINERY,
                "Sustaining capex",
                SustainingCapex,
                PerYear,
                Some(Phase::Production),
                "2500000",
                "2",
                None,
            ),
            cost(
                REFINERY,
                "Fixed operating costs",
                FixedOpex,
                PerYear,
                Some(Phase::Production),
                "9000000",
                "2",
                None,
            ),
            cost(
                REFINERY,
                "Reagents, power and consumables",
                VariableOpex,
                PerTonne,
                Some(Phase::Production),
                "45000",
                "2",
                None,
            ),
            cost(
                REFINERY,
                "Residue handling",
                ResidueHandling,
                PerTonne,
                Some(Phase::Production),
                "5000",
                "2",
                None,
            ),
            cost(
                REFINERY,
                "Decommissioning",
                Rehabilitation,
                TotalOverPhase,
                Some(Phase::Closure),
                "5000000",
                "2",
                None,
            ),
        ],
        fiscal: vec![australia(true)],
        parties: vec![
            party(
                "Japanese trading house",
                PartyKind::Sponsor,
                Some("Japan"),
                "8",
            ),
            party("JOGMEC", PartyKind::Government, Some("Japan"), "4"),
            party(
                "US strategic investor",
                PartyKind::Sponsor,
                Some("United States"),
                "10",
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
            party(
                "Tokyo semiconductor buyer",
                PartyKind::Offtaker,
                Some("Japan"),
                "8",
            ),
            party(
                "US defence electronics buyer",
                PartyKind::Offtaker,
                Some("United States"),
                "9",
            ),
        ],
        offtakes: vec![
            Offtake {
                fixed_price: Some(num("750")),
                take_or_pay: pct("70"),
                ..offtake(
                    "Japanese offtake",
                    GALLIUM,
                    "Tokyo semiconductor buyer",
                    "50",
                    (2030, 2039),
                    PricingKind::Fixed,
                )
            },
            Offtake {
                discount: pct("1"),
                floor: Some(num("550")),
                take_or_pay: pct("50"),
                ..offtake(
                    "US offtake",
                    GALLIUM,
                    "US defence electronics buyer",
                    "30",
                    (2030, 2039),
                    PricingKind::Floor,
                )
            },
        ],
        price_supports: Vec::new(),
        tranches: vec![
            Tranche {
                draw_priority: s(2),
                shareholding: Some(pct("45")),
                participants: participants(&[("Japanese trading house", "60"), ("JOGMEC", "40")]),
                ..tranche("Japanese equity", TrancheKind::Equity, 2, "48000000")
            },
            Tranche {
                draw_priority: s(2),
                shareholding: Some(pct("35")),
                participants: participants(&[("US strategic investor", "100")]),
                ..tranche("US equity", TrancheKind::Equity, 2, "36000000")
            },
            Tranche {
                draw_priority: s(2),
                shareholding: Some(pct("20")),
                participants: participants(&[("Australian Government", "100")]),
                ..tranche(
                    "Australian concessional equity",
                    TrancheKind::Equity,
                    2,
                    "36000000",
                )
            },
            Tranche {
                // Drawn first once construction starts; equity funds what comes before and
                // the rest.
                draw_priority: s(1),
                interest_rate: pct("3.5"),
                capitalise_interest: s(true),
                grace_years: s(3),
                tenor_years: s(12),
                repayment: s(Repayment::Annuity),
                participants: participants(&[("Australian Government", "100")]),
                ..tranche(
                    "Critical Minerals Facility loan",
                    TrancheKind::ConcessionalLoan,
                    1,
                    "40000000",
                )
            },
        ],
        scenarios: vec![
            Scenario {
                name: text("Gallium price crash"),
                overrides: vec![crash(GALLIUM, "60", 2031, 1, 2, 3, "30")],
            },
            Scenario {
                name: text("Capex overrun"),
                overrides: vec![change(OverrideKind::CapexOverrun, pct("40"))],
            },
        ],
        monte_carlo: Some(MonteCarlo {
            processes: vec![
                process(GALLIUM, "35", "0.3", ("0.15", "30", "0.2"), &[]),
                process(CRUDE, "35", "0.3", ("0.15", "30", "0.2"), &["0.9"]),
            ],
        }),
        ..Deal::default()
    }
}

pub fn notes() -> Notes {
    let mut n = Notes {
        title: "Gallium refinery — an example Lodestone deal".to_string(),
        description: vec![
            "A small gallium refinery in Western Australia making 100 t/yr of 4N gallium from crude gallium bought at an index price quoted in CNY. Owned through three equity tranches: Japanese (a trading house with JOGMEC), a US strategic investor, and Australian concessional equity that takes a smaller share of distributions than of the money; a Critical Minerals Facility loan completes the funding. Japanese and US buyers take most of the output.".to_string(),
            "Scenarios: the ex-China gallium premium collapses (-60% in a year), and a 40% capex overrun.".to_string(),
        ],
        sources: vec![
            cite::CMF.to_string(),
            cite::FRAMEWORK.to_string(),
            cite::WA_ROYALTY.to_string(),
            cite::COMPANY_TAX.to_string(),
            cite::PTC.to_string(),
            cite::RATE_AU.to_string(),
            cite::RATE_JP.to_string(),
            cite::ILLUSTRATIVE.to_string(),
            cite::GALLIUM_CONTROLS.to_string(),
        ],
        ..Notes::default()
    };
    n.row(
        schema::FACILITIES.name,
        0,
        "100 t/yr of 4N gallium, 96% recovery from crude gallium bought at market [8].",
    );
    n.row(
        schema::PRICES.name,
        0,
        "Ex-China 4N price easing from US$1,000/kg as new supply arrives [8].",
    );
    n.row(
        schema::PRICES.name,
        1,
        "Feed priced on a Chinese domestic crude-gallium index, in CNY per kg [8].",
    );
    n.row(schema::FX.name, 0, "US$ per CNY, flat after 2028 [8].");
    n.row(schema::FISCAL.name, 0, "WA royalty 2.5% refined [3]; company tax 30% [4]; refundable 10% production tax incentive on processing costs [5].");
    n.row(
        schema::PARTIES.name,
        1,
        "Japan Organization for Metals and Energy Security; public rate 4% [7].",
    );
    n.row(schema::PARTIES.name, 3, "Public rate 7% [6]; equity and loan through the Critical Minerals Facility [1] and the US-Australia framework [2].");
    n.row(
        schema::FINANCING.name,
        2,
        "30% of the equity money for 20% of distributions: the concession.",
    );
    n.row(
        schema::FINANCING.name,
        3,
        "Critical Minerals Facility, concessional at 3.5% [1].",
    );
    n.row(
        schema::OFFTAKE.name,
        0,
        "Fixed US$750/kg for ten years, 70% take-or-pay.",
    );
    n.row(
        schema::OFFTAKE.name,
        1,
        "Market less 1% with a US$550/kg floor.",
    );
    n.row(schema::MONTE_CARLO.name, 0, "Export controls make gallium a policy-driven price: 35%/yr, a crash of about 30% every six or seven years when controls ease [9].");
    n.row(schema::MONTE_CARLO.name, 1, "The crude index moves with 4N metal (correlation 0.9 of the yearly shocks); its crashes are drawn separately [9].");
    n
}
