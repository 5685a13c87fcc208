//! The starter deal: the smallest deal that passes `check`, for a user to grow.

use super::*;
use crate::excel::schema;

pub fn deal() -> Deal {
    Deal {
        name: text("New deal"),
        currency: text("USD"),
        start_date: date(2027, 1, 1),
        horizon_years: s(30),
        discounting: s(Discounting::EndOfYear),
        discount_rate: pct("8"),
        project_name: text("Project"),
        financial_close_year: None,
        tax_home_country: None,
        subsidy_basis: s(SubsidyBasis::PresentValue),
        completion_support: s(CompletionSupport::Shareholding),
        ledger_precision: s(crate::model::DEFAULT_LEDGER_PRECISION),
        facilities: vec![Facility {
            name: text("Mine"),
            kind: s(FacilityKind::Mine),
            country: text("Australia"),
            product: text("Concentrate"),
            nameplate: num("100000"),
            feed: None,
            start_year: s(2027),
            exploration_years: s(0),
            feasibility_years: s(0),
            permitting_years: s(0),
            construction_years: s(2),
            ramp: vec![pct("50"), pct("80")],
            operations_years: s(20),
            closure_years: s(2),
            gates: StageGates::certain(),
        }],
        products: vec![Product {
            name: text("Concentrate"),
            unit: s(PriceUnit::PerTonne),
            currency: text("USD"),
            escalation: pct("0"),
            deck: series(2027, &["1000"]),
        }],
        fx: Vec::new(),
        costs: vec![cost(
            "Mine",
            "Development capex",
            CostCategory::DevelopmentCapex,
            CostBasis::TotalOverPhase,
            Some(Phase::Construction),
            "100000000",
            "0",
            None,
        )],
        fiscal: vec![FiscalRegime {
            royalty_payee: text("Government"),
            tax_authority: text("Government"),
            ..australia(false)
        }],
        parties: vec![
            party("Sponsor", PartyKind::Sponsor, None, "10"),
            party("Government", PartyKind::Government, Some("Australia"), "7"),
        ],
        offtakes: Vec::new(),
        price_supports: Vec::new(),
        tranches: vec![Tranche {
            participants: participants(&[("Sponsor", "100")]),
            ..tranche("Sponsor equity", TrancheKind::Equity, 1, "100000000")
        }],
        scenarios: Vec::new(),
        monte_carlo: None,
        ..Deal::default()
    }
}

pub fn notes() -> Notes {
    let mut n = Notes {
        title: "New deal — Lodestone deal workbook".to_string(),
        description: vec![
            "A blank but valid starter: one mine, one product, one cost line, one fiscal row, a sponsor, a government and one equity tranche. Replace the yellow cells with your deal; add rows for more facilities, costs, parties and tranches.".to_string(),
        ],
        ..Notes::default()
    };
    n.row(
        schema::FACILITIES.name,
        0,
        "Replace with your facility; add refineries below with a Feed source.",
    );
    n.row(schema::COSTS.name, 0, "Add one row per cost line.");
    n
}
