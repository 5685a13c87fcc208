//! The bundled deals: a blank-but-valid starter and three realistic examples built from the
//! public figures in DESIGN.md §1, each with its row notes and citations.
//!
//! Owns the example deals as pure constructors (no I/O: `lodestone template` writes them).
//! Must not hold anything a user's deal would need: the examples are illustrations, and
//! their calibration notes live in their own files.

mod blank;
mod gallium;
mod ndpr;
mod spodumene;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::excel::inputs::Notes;
use crate::model::*;

/// The examples `lodestone template --example NAME` knows.
pub const EXAMPLES: &[&str] = &["ndpr-joint-facility", "spodumene-crash", "gallium-refinery"];

/// An example deal by name.
pub fn example(name: &str) -> Option<Deal> {
    match name {
        "ndpr-joint-facility" => Some(ndpr::deal()),
        "spodumene-crash" => Some(spodumene::deal()),
        "gallium-refinery" => Some(gallium::deal()),
        _ => None,
    }
}

/// An example's row notes, description and sources.
pub fn example_notes(name: &str) -> Option<Notes> {
    match name {
        "ndpr-joint-facility" => Some(ndpr::notes()),
        "spodumene-crash" => Some(spodumene::notes()),
        "gallium-refinery" => Some(gallium::notes()),
        _ => None,
    }
}

/// The starter deal of `lodestone template` without `--example`: the least a deal needs to
/// pass `check` (one mine, one product, one cost line, one fiscal row, a sponsor and a
/// government, one equity tranche with its participant).
pub fn blank() -> Deal {
    blank::deal()
}

pub fn blank_notes() -> Notes {
    blank::notes()
}

// ----- Helpers for writing deals in code (constants only: a typo fails the tests) ----------

fn s<T>(value: T) -> Sourced<T> {
    Sourced::bare(value)
}

fn text(value: &str) -> Sourced<String> {
    Sourced::bare(value.to_string())
}

/// A decimal from its text; the examples' constants are checked by the tests.
fn d(value: &str) -> Decimal {
    value.parse().unwrap_or(Decimal::MIN)
}

/// A percentage: `pct("2.5")` is 0.025.
fn pct(value: &str) -> Sourced<Decimal> {
    s(d(value) / Decimal::ONE_HUNDRED)
}

fn num(value: &str) -> Sourced<Decimal> {
    s(d(value))
}

fn date(y: i32, m: u32, day: u32) -> Sourced<NaiveDate> {
    s(NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default())
}

/// A deck or series from its first year.
fn series(first: i32, values: &[&str]) -> Vec<(Year, Sourced<Decimal>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (first + i as i32, num(v)))
        .collect()
}

fn party(name: &str, kind: PartyKind, country: Option<&str>, rate: &str) -> Party {
    Party {
        name: text(name),
        kind: s(kind),
        country: country.map(text),
        discount_rate: pct(rate),
        rate_schedule: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn cost(
    facility: &str,
    item: &str,
    category: CostCategory,
    basis: CostBasis,
    phase: Option<Phase>,
    amount: &str,
    escalation: &str,
    base_year: Option<Year>,
) -> CostLine {
    CostLine {
        facility: text(facility),
        item: text(item),
        category: s(category),
        basis: s(basis),
        phase: phase.map(s),
        amount: num(amount),
        escalation: pct(escalation),
        base_year: base_year.map(s),
    }
}

/// A tranche with every optional term at its default (the schema's, through `Default`);
/// the caller sets what differs.
fn tranche(name: &str, kind: TrancheKind, rank: u32, commitment: &str) -> Tranche {
    Tranche {
        name: text(name),
        kind: s(kind),
        rank: s(rank),
        commitment: num(commitment),
        ..Tranche::default()
    }
}

fn participants(list: &[(&str, &str)]) -> Vec<Participant> {
    list.iter()
        .map(|(party, share)| Participant {
            party: text(party),
            share: pct(share),
        })
        .collect()
}

/// An override with every field at its default.
fn change(kind: OverrideKind, value: Sourced<Decimal>) -> Override {
    Override {
        kind: s(kind),
        value,
        ..Override::default()
    }
}

/// A price crash: falls by `depth` over `fall` years from `start`, stays `bottom` years,
/// recovers over `recovery` years to (1 − haircut).
fn crash(
    product: &str,
    depth: &str,
    start: Year,
    fall: u32,
    bottom: u32,
    recovery: u32,
    haircut: &str,
) -> Override {
    Override {
        product: Some(text(product)),
        start_year: Some(s(start)),
        fall_years: s(fall),
        bottom_years: s(bottom),
        recovery_years: s(recovery),
        haircut: pct(haircut),
        ..change(OverrideKind::PriceCrash, pct(depth))
    }
}

fn offtake(
    name: &str,
    product: &str,
    buyer: &str,
    share: &str,
    years: (Year, Year),
    pricing: PricingKind,
) -> Offtake {
    Offtake {
        name: text(name),
        product: text(product),
        buyer: text(buyer),
        share: pct(share),
        start_year: s(years.0),
        end_year: s(years.1),
        pricing: s(pricing),
        ..Offtake::default()
    }
}

/// A simulated price: volatility and jump mean in percent, the rest as numbers, and the
/// correlations with the products above it on the Monte Carlo sheet.
fn process(
    product: &str,
    volatility: &str,
    reversion: &str,
    (intensity, mean, spread): (&str, &str, &str),
    correlations: &[&str],
) -> PriceProcess {
    PriceProcess {
        product: text(product),
        volatility: pct(volatility),
        reversion: num(reversion),
        jump_intensity: num(intensity),
        jump_mean: pct(mean),
        jump_spread: num(spread),
        correlations: correlations.iter().map(|c| num(c)).collect(),
    }
}

/// The Australian fiscal terms of DESIGN.md §1: WA royalties, company tax, and (for
/// processing) the refundable production tax incentive.
fn australia(ptc: bool) -> FiscalRegime {
    FiscalRegime {
        country: text("Australia"),
        royalty_concentrate: pct("5"),
        royalty_refined: pct("2.5"),
        royalty_payee: text("WA Government"),
        tax_rate: pct("30"),
        tax_authority: text("Australian Government"),
        depreciation_years: s(10),
        loss_carry_forward: s(true),
        production_tax_credit: ptc.then(|| ProductionTaxCredit {
            rate: pct("10"),
            categories: s(vec![
                CostCategory::FixedOpex,
                CostCategory::VariableOpex,
                CostCategory::ResidueHandling,
            ]),
            facility_kinds: s(vec![FacilityKind::Refinery]),
            first_year: s(2027),
            last_year: s(2040),
            refundable: s(true),
        }),
    }
}

/// Public sources shared by the examples (DESIGN.md §1).
mod cite {
    pub const NDPR_CRASH: &str = "NdPr oxide fell from about US$173/kg (Feb 2022) to about US$51/kg (Jun 2024), -70% (China domestic spot, as summarised in DESIGN.md §1).";
    pub const DOD_FLOOR: &str = "US Department of Defense, July 2025: a US$110/kg NdPr price floor for 10 years, with 30% of the upside above it (the DoD-MP Materials agreement).";
    pub const SPODUMENE_CRASH: &str =
        "Spodumene concentrate (SC6) fell 87% from Dec 2022 to Sep 2024 (DESIGN.md §1).";
    pub const CMF: &str = "Australia's Critical Minerals Facility lent A$1.65bn to one rare-earth refinery (Eneabba, 2022).";
    pub const FRAMEWORK: &str = "US-Australia critical minerals framework, Oct 2025: at least US$1bn committed from each side.";
    pub const LEAD_TIME: &str = "Exploration to production takes about 10 years for a critical-mineral mine (DESIGN.md §1).";
    pub const WA_ROYALTY: &str = "Western Australia royalties: 5% of the royalty value of concentrate, 2.5% for metal or refined product (Mining Regulations 1981 (WA), reg. 86).";
    pub const COMPANY_TAX: &str = "Australian company tax: 30% (Income Tax Rates Act 1986).";
    pub const PTC: &str = "Critical Minerals Production Tax Incentive: a refundable offset of 10% of eligible processing costs, for years 2027-28 to 2039-40 (Australian Treasury, 2024-25 Budget).";
    pub const RATE_AU: &str = "Australian public discount rate 7% real (Office of Impact Analysis, cost-benefit analysis guidance).";
    pub const RATE_US: &str = "US public discount rate 2% (OMB Circular A-4, 2023 revision).";
    pub const RATE_JP: &str = "Japan public discount rate 4% (MLIT technical guideline for cost-benefit analysis of public works).";
    pub const NDPR_VOLATILITY: &str = "Monte Carlo calibration: the 2022-24 NdPr fall, ln(173/51) = 1.22 in log price over about 28 months [2], is a two-standard-deviation move at 40% a year (2 x 0.40 x sqrt(2.3) = 1.21); reversion, crash frequency and size are illustrative (one crash a decade, falls of about 30%).";
    pub const SPODUMENE_VOLATILITY: &str = "Monte Carlo calibration: the 2022-24 spodumene fall of 87% [1], ln(1/0.13) = 2.04 in log price over 21 months, is a two-standard-deviation move at 75% a year (2 x 0.75 x sqrt(1.75) = 1.98); reversion, crash frequency and size are illustrative.";
    pub const GALLIUM_CONTROLS: &str = "Gallium is a policy-driven market: China, the dominant producer, licensed gallium exports from 1 August 2023 and banned them to the US in December 2024 (Ministry of Commerce announcements). The Monte Carlo volatility (35% a year) and crash frequency (one in about seven years, a relaxation of controls) are illustrative.";
    pub const ILLUSTRATIVE: &str = "Capex, opex, debt terms and private discount rates are illustrative round numbers chosen for a plausible deal, not any company's figures.";
}
