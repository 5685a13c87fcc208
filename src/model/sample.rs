//! Small deals built in code, simple enough to check on paper: the engine's unit tests and
//! property tests start from them.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;

fn s<T>(v: T) -> Sourced<T> {
    Sourced::bare(v)
}

fn d(v: &str) -> Decimal {
    v.parse().unwrap_or_default()
}

/// One mine, no debt: built in 2030 for 150,000, then four years selling 1,000 t at 100
/// with an opex of 20/t. No tax, no royalty; one sponsor funds everything.
pub fn one_mine_all_equity() -> Deal {
    Deal {
        name: s("One mine".into()),
        currency: s("USD".into()),
        start_date: s(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default()),
        horizon_years: s(6),
        discounting: s(Discounting::EndOfYear),
        discount_rate: s(d("0.1")),
        project_name: s("Project".into()),
        financial_close_year: None,
        tax_home_country: None,
        subsidy_basis: s(SubsidyBasis::PresentValue),
        completion_support: s(CompletionSupport::Shareholding),
        ledger_precision: s(crate::model::DEFAULT_LEDGER_PRECISION),
        facilities: vec![facility(
            "Mine",
            FacilityKind::Mine,
            "Ore",
            "1000",
            2030,
            [0, 0, 0, 1],
            &[],
            4,
            0,
        )],
        products: vec![product("Ore", &[(2030, "100")])],
        fx: vec![],
        costs: vec![
            cost(
                "Mine",
                "Build",
                CostCategory::DevelopmentCapex,
                CostBasis::TotalOverPhase,
                Some(Phase::Construction),
                "150000",
            ),
            cost(
                "Mine",
                "Run",
                CostCategory::VariableOpex,
                CostBasis::PerTonne,
                None,
                "20",
            ),
        ],
        fiscal: vec![fiscal("Testland", "0", "0", "Government")],
        parties: vec![
            party("Sponsor", PartyKind::Sponsor, "0.1"),
            party("Government", PartyKind::Government, "0.05"),
        ],
        offtakes: vec![],
        price_supports: vec![],
        tranches: vec![equity("Equity", "200000", &[("Sponsor", "1")])],
        scenarios: vec![],
        monte_carlo: None,
        ..Deal::default()
    }
}

/// Built in 2030 for 100,000, one year of operations netting 230,000, closed in 2032 for
/// 132,000 that the sponsor puts in: its flows −100,000, +230,000, −132,000 have two IRRs,
/// 10% and 20% (−100 + 230/1.1 − 132/1.21 = 0 = −100 + 230/1.2 − 132/1.44).
pub fn two_irrs() -> Deal {
    let mut deal = one_mine_all_equity();
    deal.horizon_years = s(3);
    deal.facilities[0].operations_years = s(1);
    deal.facilities[0].closure_years = s(1);
    deal.products[0].deck = vec![(2030, s(d("250")))];
    deal.costs[0].amount = s(d("100000"));
    deal.costs.push(cost(
        "Mine",
        "Rehabilitation",
        CostCategory::Rehabilitation,
        CostBasis::TotalOverPhase,
        Some(Phase::Closure),
        "132000",
    ));
    deal.parties[0].discount_rate = s(d("0.08"));
    deal
}

/// A buyer taking half the output at market less 10%, discounting at 10%.
pub fn discounted_offtake() -> Deal {
    let mut deal = one_mine_all_equity();
    deal.parties
        .push(party("Magnets", PartyKind::Offtaker, "0.1"));
    deal.offtakes.push(Offtake {
        name: s("Half at a discount".into()),
        product: s("Ore".into()),
        buyer: s("Magnets".into()),
        share: s(d("0.5")),
        start_year: s(2031),
        end_year: s(2040),
        pricing: s(PricingKind::Market),
        discount: s(d("0.1")),
        fixed_price: None,
        floor: None,
        cap: None,
        take_or_pay: s(Decimal::ZERO),
    });
    deal
}

#[allow(clippy::too_many_arguments)]
pub fn facility(
    name: &str,
    kind: FacilityKind,
    product: &str,
    nameplate: &str,
    start: i32,
    pre: [u32; 4],
    ramp: &[&str],
    operations: u32,
    closure: u32,
) -> Facility {
    Facility {
        name: s(name.into()),
        kind: s(kind),
        country: s("Testland".into()),
        product: s(product.into()),
        nameplate: s(d(nameplate)),
        feed: None,
        start_year: s(start),
        exploration_years: s(pre[0]),
        feasibility_years: s(pre[1]),
        permitting_years: s(pre[2]),
        construction_years: s(pre[3]),
        ramp: ramp.iter().map(|r| s(d(r))).collect(),
        operations_years: s(operations),
        closure_years: s(closure),
        gates: StageGates::certain(),
    }
}

pub fn product(name: &str, deck: &[(i32, &str)]) -> Product {
    Product {
        name: s(name.into()),
        unit: s(PriceUnit::PerTonne),
        currency: s("USD".into()),
        escalation: s(Decimal::ZERO),
        deck: deck.iter().map(|(y, p)| (*y, s(d(p)))).collect(),
    }
}

pub fn cost(
    facility: &str,
    item: &str,
    category: CostCategory,
    basis: CostBasis,
    phase: Option<Phase>,
    amount: &str,
) -> CostLine {
    CostLine {
        facility: s(facility.into()),
        item: s(item.into()),
        category: s(category),
        basis: s(basis),
        phase: phase.map(s),
        amount: s(d(amount)),
        escalation: s(Decimal::ZERO),
        base_year: None,
    }
}

pub fn fiscal(country: &str, royalty: &str, tax: &str, government: &str) -> FiscalRegime {
    FiscalRegime {
        country: s(country.into()),
        royalty_concentrate: s(d(royalty)),
        royalty_refined: s(d(royalty)),
        royalty_payee: s(government.into()),
        tax_rate: s(d(tax)),
        tax_authority: s(government.into()),
        depreciation_years: s(4),
        loss_carry_forward: s(true),
        production_tax_credit: None,
    }
}

pub fn party(name: &str, kind: PartyKind, rate: &str) -> Party {
    Party {
        name: s(name.into()),
        kind: s(kind),
        country: None,
        discount_rate: s(d(rate)),
        rate_schedule: vec![],
    }
}

fn tranche(
    name: &str,
    kind: TrancheKind,
    commitment: &str,
    participants: &[(&str, &str)],
) -> Tranche {
    Tranche {
        name: s(name.into()),
        kind: s(kind),
        rank: s(1),
        commitment: s(d(commitment)),
        participants: participants
            .iter()
            .map(|(p, sh)| Participant {
                party: s((*p).into()),
                share: s(d(sh)),
            })
            .collect(),
        ..Tranche::default()
    }
}

pub fn equity(name: &str, commitment: &str, participants: &[(&str, &str)]) -> Tranche {
    tranche(name, TrancheKind::Equity, commitment, participants)
}

/// A loan: rank, commitment, draw priority, rate, tenor and repayment profile.
#[allow(clippy::too_many_arguments)]
pub fn loan(
    name: &str,
    kind: TrancheKind,
    rank: u32,
    commitment: &str,
    priority: u32,
    rate: &str,
    tenor: u32,
    repayment: Repayment,
    participants: &[(&str, &str)],
) -> Tranche {
    let mut t = tranche(name, kind, commitment, participants);
    t.rank = s(rank);
    t.draw_priority = s(priority);
    t.interest_rate = s(d(rate));
    t.tenor_years = s(tenor);
    t.repayment = s(repayment);
    t
}

pub fn guarantee(
    name: &str,
    covers: &str,
    cap: &str,
    coverage: &str,
    participants: &[(&str, &str)],
) -> Tranche {
    let mut t = tranche(name, TrancheKind::Guarantee, cap, participants);
    t.covers = Some(s(covers.into()));
    t.coverage = s(d(coverage));
    t
}

/// A scenario from overrides.
pub fn scenario(name: &str, overrides: Vec<Override>) -> Scenario {
    Scenario {
        name: s(name.into()),
        overrides,
    }
}

/// An override of a kind with a value; other fields at their defaults.
pub fn override_of(kind: OverrideKind, value: &str) -> Override {
    Override {
        kind: s(kind),
        value: s(d(value)),
        ..Override::default()
    }
}
