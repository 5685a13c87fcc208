//! The deal's input sheets in their canonical layout: what the template, the examples and
//! (later) the results workbook write, and where every input lives (`input_cell`).
//!
//! The canonical layout, derived from `schema` alone:
//! - Table and time-series sheets: the header row is row 1; records from row 2 in model
//!   order; columns in schema field order, then (time series) one column per year from the
//!   sheet's earliest to its latest year, then a Notes column.
//! - Key/value sheets: row 1 is a header (Item, Value, Unit, Notes), then one row per schema
//!   field in order: label in A, value in B, unit in C, notes in D.
//! - Participants: one row per (tranche, participant) in tranche order. Scenarios: one row
//!   per override in scenario order. Discount rates: one row per party with a schedule, in
//!   party order. Facilities: Ramp 1..5 hold the ramp list.
//!
//! Owns that layout, the input styling (FAST: inputs in blue on light yellow), dropdowns and
//! header notes. Must not decide what a value means (the reader and `validate` do) and must
//! not touch the file system: it fills a `Workbook` that its caller saves.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_xlsxwriter::{DataValidation, Format, FormatBorder, Note, Workbook, Worksheet, XlsxError};

use super::schema::{self, Field, Layout, SHEETS, SheetSchema, ValueType};
use super::value;
use crate::model::*;

/// A field of a record: a schema field by name, or a year column of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKey<'a> {
    Name(&'a str),
    Year(i32),
    /// A matrix sheet's column for its k-th record (the Monte Carlo correlations).
    Column(usize),
}

/// What a cell holds, before it is styled.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    Blank,
    Text(String),
    Number(Decimal),
    /// A number in a mixed column that is a fraction here, shown as a percentage (a crash
    /// depth or an overrun in Scenarios' Value, a % of revenue cost amount).
    Fraction(Decimal),
    Date(NaiveDate),
    YesNo(bool),
}

/// One input of the deal at its canonical place.
#[derive(Debug, Clone, PartialEq)]
pub struct InputValue<'d> {
    pub sheet: &'static str,
    /// The record's index on its sheet (0 for a key/value sheet).
    pub record: usize,
    pub field: FieldKey<'static>,
    pub value: CellValue,
    /// True when the model holds a value for it (a `Sourced`, possibly one whose default
    /// is written as a blank); false for an absent option or a derived cell.
    pub present: bool,
    /// The cell the model's value came from, if it was read from a workbook.
    pub cell: Option<&'d CellRef>,
}

/// Free text shown beside the inputs, and the About sheet's story: notes are not part of
/// the deal, so they travel separately.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    /// Shown as the About sheet's heading.
    pub title: String,
    /// Paragraphs describing the deal.
    pub description: Vec<String>,
    /// Citations for the figures used.
    pub sources: Vec<String>,
    /// (sheet, record) → the text of that row's Notes cell. On a key/value sheet the
    /// record is the field's index in the schema.
    pub rows: BTreeMap<(&'static str, usize), String>,
}

impl Notes {
    pub fn row(&mut self, sheet: &'static str, record: usize, text: impl Into<String>) {
        self.rows.insert((sheet, record), text.into());
    }
}

// ----- Where inputs live -------------------------------------------------------------------

/// The canonical cell of an input: `sheet` is a schema sheet name, `record` the record's
/// index on that sheet (see the module header for Participants, Scenarios and Discount
/// rates; `participant_record`, `override_record` and `rate_schedule_record` compute them),
/// `field` a schema field name or, on a time series, a year. None when there is no such
/// sheet, record, field or year column.
pub fn input_cell(deal: &Deal, sheet: &str, record: usize, field: FieldKey) -> Option<CellRef> {
    let schema = SHEETS.iter().find(|s| s.name == sheet)?;
    let field_index = |name: &str| schema.fields.iter().position(|f| f.name == name);
    match schema.layout {
        Layout::KeyValue => {
            let FieldKey::Name(name) = field else {
                return None;
            };
            if record != 0 {
                return None;
            }
            let i = field_index(name)?;
            Some(CellRef::new(schema.name, 1 + i as u32, 1))
        }
        Layout::Table | Layout::TimeSeries | Layout::Matrix => {
            let records = record_count(deal, schema.name);
            if record >= records {
                return None;
            }
            let row = 1 + record as u32;
            let col = match field {
                FieldKey::Name(name) => field_index(name)? as u32,
                FieldKey::Column(k) => {
                    if schema.layout != Layout::Matrix || k >= records {
                        return None;
                    }
                    (schema.fields.len() + k) as u32
                }
                FieldKey::Year(y) => {
                    let (first, last) = year_span(deal, schema.name)?;
                    if y < first || y > last {
                        return None;
                    }
                    (schema.fields.len() as i64 + (y - first) as i64) as u32
                }
            };
            Some(CellRef::new(schema.name, row, col))
        }
    }
}

/// The record of a tranche's participant on the Participants sheet.
pub fn participant_record(deal: &Deal, tranche: usize, participant: usize) -> Option<usize> {
    let t = deal.tranches.get(tranche)?;
    if participant >= t.participants.len() {
        return None;
    }
    let before: usize = deal.tranches[..tranche]
        .iter()
        .map(|t| t.participants.len())
        .sum();
    Some(before + participant)
}

/// The record of a scenario's override on the Scenarios sheet.
pub fn override_record(deal: &Deal, scenario: usize, index: usize) -> Option<usize> {
    let s = deal.scenarios.get(scenario)?;
    if index >= s.overrides.len() {
        return None;
    }
    let before: usize = deal.scenarios[..scenario]
        .iter()
        .map(|s| s.overrides.len())
        .sum();
    Some(before + index)
}

/// The record of a party's discount rate schedule, if it has one.
pub fn rate_schedule_record(deal: &Deal, party: usize) -> Option<usize> {
    let p = deal.parties.get(party)?;
    if p.rate_schedule.is_empty() {
        return None;
    }
    Some(
        deal.parties[..party]
            .iter()
            .filter(|p| !p.rate_schedule.is_empty())
            .count(),
    )
}

fn record_count(deal: &Deal, sheet: &str) -> usize {
    match sheet {
        "Deal" => 1,
        "Facilities" => deal.facilities.len(),
        "Prices" => deal.products.len(),
        "FX" => deal.fx.len(),
        "Costs" => deal.costs.len(),
        "Fiscal" => deal.fiscal.len(),
        "Parties" => deal.parties.len(),
        "Discount rates" => deal
            .parties
            .iter()
            .filter(|p| !p.rate_schedule.is_empty())
            .count(),
        "Offtake" => deal.offtakes.len(),
        "Price support" => deal.price_supports.len(),
        "Financing" => deal.tranches.len(),
        "Participants" => deal.tranches.iter().map(|t| t.participants.len()).sum(),
        "Scenarios" => deal.scenarios.iter().map(|s| s.overrides.len()).sum(),
        "Monte Carlo" => deal
            .monte_carlo
            .as_ref()
            .map(|m| m.processes.len())
            .unwrap_or(0),
        _ => 0,
    }
}

/// The first and last year columns of a time-series sheet.
fn year_span(deal: &Deal, sheet: &str) -> Option<(i32, i32)> {
    let years: Vec<i32> = match sheet {
        "Prices" => deal
            .products
            .iter()
            .flat_map(|p| p.deck.iter().map(|(y, _)| *y))
            .collect(),
        "FX" => deal
            .fx
            .iter()
            .flat_map(|s| s.rates.iter().map(|(y, _)| *y))
            .collect(),
        "Discount rates" => deal
            .parties
            .iter()
            .flat_map(|p| p.rate_schedule.iter().map(|(y, _)| *y))
            .collect(),
        _ => Vec::new(),
    };
    Some((*years.iter().min()?, *years.iter().max()?))
}

// ----- The deal as cells --------------------------------------------------------------------

/// Every input of the deal, sheet by sheet in schema order, at its canonical record and
/// field. Exhaustive by construction: each model type is destructured field by field, so a
/// new field does not compile until it has a place here.
pub fn input_values(deal: &Deal) -> Vec<InputValue<'_>> {
    let mut out = Vec::new();
    deal_values(deal, &mut out);
    for (i, f) in deal.facilities.iter().enumerate() {
        facility_values(f, &mut Rec::new(&mut out, schema::FACILITIES.name, i));
    }
    for (i, p) in deal.products.iter().enumerate() {
        let Product {
            name,
            unit,
            currency,
            escalation,
            deck,
        } = p;
        let mut r = Rec::new(&mut out, schema::PRICES.name, i);
        r.text("Product", name);
        r.choice("Unit", unit, |u| u.label());
        r.text("Currency", currency);
        r.number("Escalation", escalation);
        r.series(deck);
    }
    for (i, s) in deal.fx.iter().enumerate() {
        let FxSeries { currency, rates } = s;
        let mut r = Rec::new(&mut out, schema::FX.name, i);
        r.text("Currency", currency);
        r.series(rates);
    }
    for (i, c) in deal.costs.iter().enumerate() {
        let CostLine {
            facility,
            item,
            category,
            basis,
            phase,
            amount,
            escalation,
            base_year,
        } = c;
        let mut r = Rec::new(&mut out, schema::COSTS.name, i);
        r.text("Facility", facility);
        r.text("Item", item);
        r.choice("Category", category, |c| c.label());
        r.choice("Basis", basis, |b| b.label());
        r.opt_choice("Phase", phase, |p| p.label());
        if basis.value == CostBasis::PercentOfRevenue {
            r.put("Amount", amount, |d| CellValue::Fraction(*d), true);
        } else {
            r.number("Amount", amount);
        }
        r.number("Escalation", escalation);
        r.opt_year("Base year", base_year);
    }
    for (i, f) in deal.fiscal.iter().enumerate() {
        fiscal_values(f, &mut Rec::new(&mut out, schema::FISCAL.name, i));
    }
    for (i, p) in deal.parties.iter().enumerate() {
        let Party {
            name,
            kind,
            country,
            discount_rate,
            rate_schedule: _, // on the Discount rates sheet, below
        } = p;
        let mut r = Rec::new(&mut out, schema::PARTIES.name, i);
        r.text("Party", name);
        r.choice("Kind", kind, |k| k.label());
        r.opt_text("Country", country);
        r.number("Discount rate", discount_rate);
    }
    for (i, p) in deal
        .parties
        .iter()
        .filter(|p| !p.rate_schedule.is_empty())
        .enumerate()
    {
        let mut r = Rec::new(&mut out, schema::DISCOUNT_RATES.name, i);
        r.derived("Party", CellValue::Text(p.name.value.clone()));
        r.series(&p.rate_schedule);
    }
    for (i, o) in deal.offtakes.iter().enumerate() {
        offtake_values(o, &mut Rec::new(&mut out, schema::OFFTAKE.name, i));
    }
    for (i, s) in deal.price_supports.iter().enumerate() {
        let PriceSupport {
            name,
            product,
            supporter,
            floor,
            covered_share,
            upside_share,
            upside_threshold,
            start_year,
            end_year,
        } = s;
        let mut r = Rec::new(&mut out, schema::PRICE_SUPPORT.name, i);
        r.text("Support", name);
        r.text("Product", product);
        r.text("Supporter", supporter);
        r.number("Floor", floor);
        r.number("Covered share", covered_share);
        r.number("Upside share", upside_share);
        r.opt_number("Upside threshold", upside_threshold);
        r.year("Start year", start_year);
        r.year("End year", end_year);
    }
    for (i, t) in deal.tranches.iter().enumerate() {
        tranche_values(t, &mut Rec::new(&mut out, schema::FINANCING.name, i));
    }
    let mut record = 0;
    for t in &deal.tranches {
        for p in &t.participants {
            let Participant { party, share } = p;
            let mut r = Rec::new(&mut out, schema::PARTICIPANTS.name, record);
            r.derived("Tranche", CellValue::Text(t.name.value.clone()));
            r.text("Party", party);
            r.number("Share", share);
            record += 1;
        }
    }
    let mut record = 0;
    for s in &deal.scenarios {
        let Scenario { name, overrides } = s;
        for (i, o) in overrides.iter().enumerate() {
            let mut r = Rec::new(&mut out, schema::SCENARIOS.name, record);
            // The name is read from the scenario's first row; later rows repeat it.
            if i == 0 {
                r.text("Scenario", name);
            } else {
                r.derived("Scenario", CellValue::Text(name.value.clone()));
            }
            override_values(o, &mut r);
            record += 1;
        }
    }
    if let Some(mc) = &deal.monte_carlo {
        monte_carlo_values(mc, &mut out);
    }
    out
}

/// The Monte Carlo sheet: each process, then its row of the correlation matrix. The model
/// holds the lower triangle; the diagonal and the upper triangle are written as derived cells
/// so that the sheet shows the whole symmetric matrix.
fn monte_carlo_values<'d>(mc: &'d MonteCarlo, out: &mut Vec<InputValue<'d>>) {
    let MonteCarlo { processes } = mc;
    for (i, p) in processes.iter().enumerate() {
        let PriceProcess {
            product,
            volatility,
            reversion,
            jump_intensity,
            jump_mean,
            jump_spread,
            correlations,
        } = p;
        let mut r = Rec::new(out, schema::MONTE_CARLO.name, i);
        r.text("Product", product);
        r.number("Volatility", volatility);
        r.number("Reversion", reversion);
        r.number("Jump intensity", jump_intensity);
        r.number("Jump mean", jump_mean);
        r.number("Jump spread", jump_spread);
        for k in 0..processes.len() {
            let field = FieldKey::Column(k);
            if let Some(rho) = correlations.get(k).filter(|_| k < i) {
                r.push(field, CellValue::Number(rho.value), true, rho.cell.as_ref());
            } else if k == i {
                r.push(field, CellValue::Number(Decimal::ONE), false, None);
            } else {
                let mirror = processes
                    .get(k)
                    .and_then(|q| q.correlations.get(i))
                    .map(|rho| CellValue::Number(rho.value))
                    .unwrap_or(CellValue::Blank);
                r.push(field, mirror, false, None);
            }
        }
    }
}

fn deal_values<'d>(deal: &'d Deal, out: &mut Vec<InputValue<'d>>) {
    let Deal {
        name,
        currency,
        start_date,
        horizon_years,
        discounting,
        discount_rate,
        project_name,
        financial_close_year,
        tax_home_country,
        subsidy_basis,
        completion_support,
        ledger_precision,
        facilities: _,
        products: _,
        fx: _,
        costs: _,
        fiscal: _,
        parties: _,
        offtakes: _,
        price_supports: _,
        tranches: _,
        scenarios: _,
        monte_carlo: _, // on the Monte Carlo sheet, below
    } = deal;
    let mut r = Rec::new(out, schema::DEAL.name, 0);
    r.text("Deal name", name);
    r.text("Currency", currency);
    r.put(
        "Model start date",
        start_date,
        |d| CellValue::Date(*d),
        true,
    );
    r.integer("Horizon", horizon_years);
    r.choice("Discounting", discounting, |d| d.label());
    r.number("Project discount rate", discount_rate);
    r.text("Project company", project_name);
    r.opt_year("Financial close year", financial_close_year);
    r.opt_text("Tax home country", tax_home_country);
    r.choice("Subsidy cost basis", subsidy_basis, |b| b.label());
    r.choice("Completion support", completion_support, |c| c.label());
    r.integer("Ledger precision", ledger_precision);
}

fn facility_values<'d>(f: &'d Facility, r: &mut Rec<'_, 'd>) {
    let Facility {
        name,
        kind,
        country,
        product,
        nameplate,
        feed,
        start_year,
        exploration_years,
        feasibility_years,
        permitting_years,
        construction_years,
        ramp,
        operations_years,
        closure_years,
        gates,
    } = f;
    r.text("Facility", name);
    r.choice("Kind", kind, |k| k.label());
    r.text("Country", country);
    r.text("Product", product);
    r.number("Nameplate", nameplate);
    match feed {
        None => {
            for field in [
                "Feed source",
                "Feed product",
                "Recovery",
                "Transfer pricing",
                "Transfer price",
                "Feed share",
            ] {
                r.absent(field);
            }
        }
        Some(Feed { source, recovery }) => {
            match source {
                FeedSource::Market { product } => {
                    r.derived("Feed source", CellValue::Text("market".to_string()));
                    r.text("Feed product", product);
                }
                FeedSource::Facility { name, .. } => {
                    r.text("Feed source", name);
                    r.absent("Feed product");
                }
            }
            r.number("Recovery", recovery);
            match source {
                FeedSource::Market { .. } => {
                    r.absent("Transfer pricing");
                    r.absent("Transfer price");
                    r.absent("Feed share");
                }
                FeedSource::Facility {
                    pricing,
                    price,
                    share,
                    ..
                } => {
                    r.choice("Transfer pricing", pricing, |p| p.label());
                    r.opt_number("Transfer price", price);
                    r.opt_number("Feed share", share);
                }
            }
        }
    }
    r.year("Start year", start_year);
    r.integer("Exploration", exploration_years);
    r.integer("Feasibility", feasibility_years);
    r.integer("Permitting", permitting_years);
    r.integer("Construction", construction_years);
    for (i, field) in ["Ramp 1", "Ramp 2", "Ramp 3", "Ramp 4", "Ramp 5"]
        .into_iter()
        .enumerate()
    {
        match ramp.get(i) {
            Some(v) => r.number(field, v),
            None => r.absent(field),
        }
    }
    r.integer("Operations", operations_years);
    r.integer("Closure", closure_years);
    let StageGates {
        exploration,
        feasibility,
        permitting,
        construction,
    } = gates;
    r.number("P exploration", exploration);
    r.number("P feasibility", feasibility);
    r.number("P permitting", permitting);
    r.number("P construction", construction);
}

fn fiscal_values<'d>(f: &'d FiscalRegime, r: &mut Rec<'_, 'd>) {
    let FiscalRegime {
        country,
        royalty_concentrate,
        royalty_refined,
        royalty_payee,
        tax_rate,
        tax_authority,
        depreciation_years,
        loss_carry_forward,
        production_tax_credit,
    } = f;
    r.text("Country", country);
    r.number("Royalty concentrate", royalty_concentrate);
    r.number("Royalty refined", royalty_refined);
    r.text("Royalty payee", royalty_payee);
    r.number("Tax rate", tax_rate);
    r.text("Tax authority", tax_authority);
    r.integer("Depreciation", depreciation_years);
    r.yes_no("Loss carry-forward", loss_carry_forward, true);
    match production_tax_credit {
        None => {
            for field in [
                "PTC rate",
                "PTC categories",
                "PTC facilities",
                "PTC first year",
                "PTC last year",
                "PTC refundable",
            ] {
                r.absent(field);
            }
        }
        Some(ProductionTaxCredit {
            rate,
            categories,
            facility_kinds,
            first_year,
            last_year,
            refundable,
        }) => {
            r.number("PTC rate", rate);
            r.put(
                "PTC categories",
                categories,
                |c| CellValue::Text(join_labels(c.iter().map(|c| c.label()))),
                true,
            );
            r.put(
                "PTC facilities",
                facility_kinds,
                |k| CellValue::Text(join_labels(k.iter().map(|k| k.label()))),
                true,
            );
            r.year("PTC first year", first_year);
            r.year("PTC last year", last_year);
            r.yes_no("PTC refundable", refundable, true);
        }
    }
}

fn join_labels<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    labels.collect::<Vec<_>>().join(", ")
}

fn offtake_values<'d>(o: &'d Offtake, r: &mut Rec<'_, 'd>) {
    let Offtake {
        name,
        product,
        buyer,
        share,
        start_year,
        end_year,
        pricing,
        discount,
        fixed_price,
        floor,
        cap,
        take_or_pay,
    } = o;
    r.text("Contract", name);
    r.text("Product", product);
    r.text("Buyer", buyer);
    r.number("Share", share);
    r.year("Start year", start_year);
    r.year("End year", end_year);
    r.choice("Pricing", pricing, |p| p.label());
    let discounted = pricing.value != PricingKind::Fixed;
    r.number_unless_default("Discount", discount, Decimal::ZERO, discounted);
    r.opt_number("Fixed price", fixed_price);
    r.opt_number("Floor", floor);
    r.opt_number("Cap", cap);
    r.number("Take-or-pay", take_or_pay);
}

fn tranche_values<'d>(t: &'d Tranche, r: &mut Rec<'_, 'd>) {
    let Tranche {
        name,
        kind,
        rank,
        commitment,
        draw_priority,
        interest_rate,
        upfront_fee,
        commitment_fee,
        capitalise_interest,
        grace_years,
        tenor_years,
        repayment,
        target_dscr,
        dsra_months,
        lockup_dscr,
        funds_overruns,
        overrun_cap,
        covers,
        coverage,
        guarantee_kind,
        shareholding,
        participants: _, // on the Participants sheet
    } = t;
    let k = kind.value;
    let loan = k.is_loan();
    let guarantee = k == TrancheKind::Guarantee;
    let equity = k == TrancheKind::Equity;
    r.text("Tranche", name);
    r.choice("Kind", kind, |k| k.label());
    r.integer("Rank", rank);
    r.number("Commitment", commitment);
    let draws = k.is_funding();
    if draws || draw_priority.value != 1 {
        r.integer("Draw priority", draw_priority);
    } else {
        r.blank_default("Draw priority", draw_priority);
    }
    r.number_unless_default("Interest rate", interest_rate, Decimal::ZERO, loan);
    r.number_unless_default("Upfront fee", upfront_fee, Decimal::ZERO, loan || guarantee);
    r.number_unless_default(
        "Commitment fee",
        commitment_fee,
        Decimal::ZERO,
        loan || guarantee,
    );
    r.yes_no("Capitalise interest", capitalise_interest, loan);
    if loan || grace_years.value != 0 {
        r.integer("Grace", grace_years);
    } else {
        r.blank_default("Grace", grace_years);
    }
    if loan || tenor_years.value != 0 {
        r.integer("Tenor", tenor_years);
    } else {
        r.blank_default("Tenor", tenor_years);
    }
    if loan || repayment.value != Repayment::Annuity {
        r.choice("Repayment", repayment, |p| p.label());
    } else {
        r.blank_default("Repayment", repayment);
    }
    r.opt_number("Target DSCR", target_dscr);
    r.number_unless_default("DSRA", dsra_months, Decimal::ZERO, loan);
    r.opt_number("Lock-up DSCR", lockup_dscr);
    r.yes_no("Funds overruns", funds_overruns, draws);
    r.number_unless_default("Overrun cap", overrun_cap, Decimal::ZERO, equity);
    r.opt_text("Covers", covers);
    r.number_unless_default("Coverage", coverage, Decimal::ONE, guarantee);
    if guarantee || guarantee_kind.value != GuaranteeKind::DebtService {
        r.choice("Guarantee kind", guarantee_kind, |k| k.label());
    } else {
        r.blank_default("Guarantee kind", guarantee_kind);
    }
    r.opt_number("Shareholding", shareholding);
}

fn override_values<'d>(o: &'d Override, r: &mut Rec<'_, 'd>) {
    let Override {
        kind,
        product,
        facility,
        phase,
        party,
        value,
        start_year,
        fall_years,
        bottom_years,
        recovery_years,
        haircut,
    } = o;
    let crash = kind.value == OverrideKind::PriceCrash;
    r.choice("Override", kind, |k| k.label());
    r.opt_text("Product", product);
    r.opt_text("Facility", facility);
    r.opt_choice("Phase", phase, |p| p.label());
    r.opt_text("Party", party);
    let fraction = matches!(
        kind.value,
        OverrideKind::PriceCrash
            | OverrideKind::CapexOverrun
            | OverrideKind::OfftakeUptake
            | OverrideKind::DiscountRateChange
    );
    if fraction {
        r.put("Value", value, |d| CellValue::Fraction(*d), true);
    } else {
        r.number("Value", value);
    }
    r.opt_year("Start year", start_year);
    for (field, v, default) in [
        ("Fall years", fall_years, 1),
        ("Bottom years", bottom_years, 0),
        ("Recovery years", recovery_years, 0),
    ] {
        if crash || v.value != default {
            r.integer(field, v);
        } else {
            r.blank_default(field, v);
        }
    }
    r.number_unless_default("Haircut", haircut, Decimal::ZERO, crash);
}

/// Collects one record's cells.
struct Rec<'o, 'd> {
    out: &'o mut Vec<InputValue<'d>>,
    sheet: &'static str,
    record: usize,
}

impl<'o, 'd> Rec<'o, 'd> {
    fn new(out: &'o mut Vec<InputValue<'d>>, sheet: &'static str, record: usize) -> Self {
        Rec { out, sheet, record }
    }

    fn push(
        &mut self,
        field: FieldKey<'static>,
        value: CellValue,
        present: bool,
        cell: Option<&'d CellRef>,
    ) {
        self.out.push(InputValue {
            sheet: self.sheet,
            record: self.record,
            field,
            value,
            present,
            cell,
        });
    }

    /// A model value; written, or left blank when `show` is false (its default, on a record
    /// it does not apply to).
    fn put<T>(
        &mut self,
        name: &'static str,
        v: &'d Sourced<T>,
        f: impl Fn(&T) -> CellValue,
        show: bool,
    ) {
        let value = if show { f(&v.value) } else { CellValue::Blank };
        self.push(FieldKey::Name(name), value, true, v.cell.as_ref());
    }

    fn put_opt<T>(
        &mut self,
        name: &'static str,
        v: &'d Option<Sourced<T>>,
        f: impl Fn(&T) -> CellValue,
    ) {
        match v {
            Some(v) => self.put(name, v, f, true),
            None => self.absent(name),
        }
    }

    fn blank_default<T>(&mut self, name: &'static str, v: &'d Sourced<T>) {
        self.put(name, v, |_| CellValue::Blank, false);
    }

    fn absent(&mut self, name: &'static str) {
        self.push(FieldKey::Name(name), CellValue::Blank, false, None);
    }

    /// A cell the model derives rather than holds (a participant's tranche name).
    fn derived(&mut self, name: &'static str, value: CellValue) {
        self.push(FieldKey::Name(name), value, false, None);
    }

    fn text(&mut self, name: &'static str, v: &'d Sourced<String>) {
        self.put(name, v, |s| CellValue::Text(s.clone()), true);
    }

    fn opt_text(&mut self, name: &'static str, v: &'d Option<Sourced<String>>) {
        self.put_opt(name, v, |s| CellValue::Text(s.clone()));
    }

    fn number(&mut self, name: &'static str, v: &'d Sourced<Decimal>) {
        self.put(name, v, |d| CellValue::Number(*d), true);
    }

    fn number_unless_default(
        &mut self,
        name: &'static str,
        v: &'d Sourced<Decimal>,
        default: Decimal,
        applies: bool,
    ) {
        let show = applies || v.value != default;
        self.put(name, v, |d| CellValue::Number(*d), show);
    }

    fn opt_number(&mut self, name: &'static str, v: &'d Option<Sourced<Decimal>>) {
        self.put_opt(name, v, |d| CellValue::Number(*d));
    }

    fn integer(&mut self, name: &'static str, v: &'d Sourced<u32>) {
        self.put(name, v, |n| CellValue::Number(Decimal::from(*n)), true);
    }

    fn year(&mut self, name: &'static str, v: &'d Sourced<i32>) {
        self.put(name, v, |y| CellValue::Number(Decimal::from(*y)), true);
    }

    fn opt_year(&mut self, name: &'static str, v: &'d Option<Sourced<i32>>) {
        self.put_opt(name, v, |y| CellValue::Number(Decimal::from(*y)));
    }

    fn yes_no(&mut self, name: &'static str, v: &'d Sourced<bool>, applies: bool) {
        // The schema's defaults: loss carry-forward and PTC refundable default to yes.
        let default = matches!(name, "Loss carry-forward" | "PTC refundable");
        let show = applies || v.value != default;
        self.put(name, v, |b| CellValue::YesNo(*b), show);
    }

    fn choice<T>(
        &mut self,
        name: &'static str,
        v: &'d Sourced<T>,
        label: impl Fn(&T) -> &'static str,
    ) {
        self.put(name, v, |x| CellValue::Text(label(x).to_string()), true);
    }

    fn opt_choice<T>(
        &mut self,
        name: &'static str,
        v: &'d Option<Sourced<T>>,
        label: impl Fn(&T) -> &'static str,
    ) {
        self.put_opt(name, v, |x| CellValue::Text(label(x).to_string()));
    }

    fn series(&mut self, series: &'d [(Year, Sourced<Decimal>)]) {
        for (year, v) in series {
            self.push(
                FieldKey::Year(*year),
                CellValue::Number(v.value),
                true,
                v.cell.as_ref(),
            );
        }
    }
}

// ----- Writing ------------------------------------------------------------------------------

/// Light yellow fill and blue font: the FAST convention for cells a user types into.
const INPUT_FILL: &str = "#FFF9C4";
const INPUT_FONT: &str = "#0000FF";
const HEADER_FILL: &str = "#DDE4EE";
/// Dropdowns and column formats cover this many rows below the header (Excel rows 2..=200).
const INPUT_ROWS: u32 = 199;

/// The formats of the input sheets.
struct Styles {
    header: Format,
    note_text: Format,
}

impl Styles {
    fn new() -> Self {
        Styles {
            header: Format::new()
                .set_bold()
                .set_background_color(HEADER_FILL)
                .set_border_bottom(FormatBorder::Medium),
            note_text: Format::new().set_font_color("#595959").set_italic(),
        }
    }

    /// An input cell of a field, with the number format its type (and value) needs.
    fn input(field: Option<&Field>, value: &CellValue) -> Format {
        let base = Format::new()
            .set_background_color(INPUT_FILL)
            .set_font_color(INPUT_FONT);
        let vt = field.map(|f| f.value_type);
        match (vt, value) {
            (_, CellValue::Date(_)) | (Some(ValueType::Date), _) => {
                base.set_num_format("yyyy-mm-dd")
            }
            (Some(ValueType::Percent), _) | (_, CellValue::Fraction(_)) => {
                base.set_num_format("0.0##%")
            }
            (Some(ValueType::Integer | ValueType::Year), _) => base.set_num_format("0"),
            (_, CellValue::Number(d)) if d.is_integer() => base.set_num_format("#,##0"),
            (_, CellValue::Number(_)) => base.set_num_format("#,##0.0#########"),
            _ => base,
        }
    }
}

/// Writes every input sheet of the deal, in schema order, in the canonical layout.
pub fn write_input_sheets(
    workbook: &mut Workbook,
    deal: &Deal,
    notes: &Notes,
) -> Result<(), XlsxError> {
    let values = input_values(deal);
    let styles = Styles::new();
    for schema in SHEETS {
        let sheet_values: Vec<&InputValue> =
            values.iter().filter(|v| v.sheet == schema.name).collect();
        let ws = workbook.add_worksheet();
        ws.set_name(schema.name)?;
        // Printed (or exported to PDF) one page wide, headers repeated.
        ws.set_landscape();
        ws.set_print_fit_to_pages(1, 0);
        ws.set_print_gridlines(true);
        ws.set_repeat_rows(0, 0)?;
        match schema.layout {
            Layout::KeyValue => write_key_value(ws, schema, &sheet_values, notes, &styles)?,
            Layout::Table | Layout::TimeSeries | Layout::Matrix => {
                write_table(ws, deal, schema, &sheet_values, notes, &styles)?
            }
        }
    }
    Ok(())
}

fn header_note(field: &Field) -> Note {
    let mut text = field.meaning.to_string();
    if !field.unit.is_empty() {
        text.push_str(&format!("\nUnit: {}.", field.unit));
    }
    if field.required {
        text.push_str("\nRequired.");
    } else if !field.default.is_empty() {
        text.push_str(&format!("\nIf blank: {}.", field.default));
    } else {
        text.push_str("\nOptional.");
    }
    if let ValueType::Choice(labels) | ValueType::ChoiceList(labels) = field.value_type {
        text.push_str(&format!("\nOne of: {}.", labels().join(", ")));
    }
    let lines = 1 + text.len() as u32 / 40 + text.matches('\n').count() as u32;
    Note::new(text)
        .set_author("Lodestone")
        .add_author_prefix(false)
        .set_width(300)
        .set_height(20 + 16 * lines)
}

fn write_value(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: &CellValue,
    format: &Format,
) -> Result<(), XlsxError> {
    match value {
        CellValue::Blank => ws.write_blank(row, col, format)?,
        CellValue::Text(s) => ws.write_string_with_format(row, col, s, format)?,
        CellValue::Number(d) | CellValue::Fraction(d) => match value::f64_for_cell(*d) {
            Some(x) => ws.write_number_with_format(row, col, x, format)?,
            // More digits than an f64 keeps: stored as text, which the reader reads exactly.
            None => ws.write_string_with_format(row, col, d.to_string(), format)?,
        },
        CellValue::Date(d) => {
            let serial = excel_serial(*d);
            ws.write_number_with_format(row, col, serial as f64, format)?
        }
        CellValue::YesNo(b) => {
            ws.write_string_with_format(row, col, if *b { "yes" } else { "no" }, format)?
        }
    };
    Ok(())
}

/// Excel's 1900-system serial of a date (from 1900-03-01 on; earlier dates are not inputs).
fn excel_serial(d: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
    (d - epoch).num_days()
}

fn display_len(value: &CellValue) -> usize {
    match value {
        CellValue::Blank => 0,
        CellValue::Text(s) => s.chars().count(),
        CellValue::Number(d) | CellValue::Fraction(d) => {
            let s = d.normalize().to_string();
            s.len() + s.len() / 3
        }
        CellValue::Date(_) => 10,
        CellValue::YesNo(_) => 3,
    }
}

/// Columns that name a record of another sheet: their dropdown lists that sheet's names.
const REFERENCES: &[(&str, &str, &str)] = &[
    ("Deal", "Tax home country", "Fiscal"),
    ("Facilities", "Country", "Fiscal"),
    ("Facilities", "Feed product", "Prices"),
    ("Costs", "Facility", "Facilities"),
    ("Fiscal", "Royalty payee", "Parties"),
    ("Fiscal", "Tax authority", "Parties"),
    ("Discount rates", "Party", "Parties"),
    ("Offtake", "Product", "Prices"),
    ("Offtake", "Buyer", "Parties"),
    ("Price support", "Product", "Prices"),
    ("Price support", "Supporter", "Parties"),
    ("Financing", "Covers", "Financing"),
    ("Participants", "Tranche", "Financing"),
    ("Participants", "Party", "Parties"),
    ("Scenarios", "Product", "Prices"),
    ("Scenarios", "Facility", "Facilities"),
    ("Scenarios", "Party", "Parties"),
    ("Monte Carlo", "Product", "Prices"),
];

/// A dropdown for a field: its labels, yes/no, or the names of the sheet it refers to
/// (a warning, not a stop, for names not yet typed there).
fn dropdown(sheet: &str, field: &Field) -> Option<Result<DataValidation, XlsxError>> {
    match field.value_type {
        ValueType::Choice(labels) => Some(DataValidation::new().allow_list_strings(&labels())),
        ValueType::YesNo => Some(DataValidation::new().allow_list_strings(&["yes", "no"])),
        _ => {
            let (_, _, target) = REFERENCES
                .iter()
                .find(|(s, f, _)| *s == sheet && *f == field.name)?;
            let formula = format!("='{target}'!$A$2:$A${}", INPUT_ROWS + 1);
            Some(Ok(DataValidation::new()
                .allow_list_formula(rust_xlsxwriter::Formula::new(formula))
                .set_error_style(
                    rust_xlsxwriter::DataValidationErrorStyle::Warning,
                )))
        }
    }
}

fn width(chars: usize) -> f64 {
    (chars.clamp(6, 48) + 2) as f64
}

fn write_key_value(
    ws: &mut Worksheet,
    schema: &SheetSchema,
    values: &[&InputValue],
    notes: &Notes,
    styles: &Styles,
) -> Result<(), XlsxError> {
    for (col, title) in ["Item", "Value", "Unit", "Notes"].into_iter().enumerate() {
        ws.write_string_with_format(0, col as u16, title, &styles.header)?;
    }
    let mut widths = [4usize, 5, 4, 5];
    for (i, field) in schema.fields.iter().enumerate() {
        let row = 1 + i as u32;
        ws.write_string(row, 0, field.name)?;
        ws.insert_note(row, 0, &header_note(field))?;
        let value = values
            .iter()
            .find(|v| v.field == FieldKey::Name(field.name))
            .map(|v| v.value.clone())
            .unwrap_or(CellValue::Blank);
        write_value(ws, row, 1, &value, &Styles::input(Some(field), &value))?;
        if let Some(dv) = dropdown(schema.name, field) {
            ws.add_data_validation(row, 1, row, 1, &dv?)?;
        }
        ws.write_string(row, 2, field.unit)?;
        if let Some(note) = notes.rows.get(&(schema.name, i)) {
            ws.write_string_with_format(row, 3, note, &styles.note_text)?;
            widths[3] = widths[3].max(note.chars().count());
        }
        widths[0] = widths[0].max(field.name.len());
        widths[1] = widths[1].max(display_len(&value));
        widths[2] = widths[2].max(field.unit.len());
    }
    for (col, w) in widths.iter().enumerate() {
        let w = if col == 3 {
            (*w).min(120) as f64
        } else {
            width(*w)
        };
        ws.set_column_width(col as u16, w)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn write_table(
    ws: &mut Worksheet,
    deal: &Deal,
    schema: &SheetSchema,
    values: &[&InputValue],
    notes: &Notes,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let fixed = schema.fields.len() as u16;
    let years: Vec<i32> = match year_span(deal, schema.name) {
        Some((first, last)) if schema.layout == Layout::TimeSeries => (first..=last).collect(),
        _ => Vec::new(),
    };
    // A matrix sheet's columns after the fields: one per record, headed by its name.
    let matrix: Vec<String> = if schema.layout == Layout::Matrix {
        let name_field = schema.fields.first().map(|f| f.name).unwrap_or_default();
        values
            .iter()
            .filter(|v| v.field == FieldKey::Name(name_field))
            .map(|v| match &v.value {
                CellValue::Text(t) => t.clone(),
                _ => String::new(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let notes_col = fixed + years.len() as u16 + matrix.len() as u16;
    let mut widths: Vec<usize> = Vec::new();
    for (col, field) in schema.fields.iter().enumerate() {
        let col = col as u16;
        let header = field.header();
        widths.push(header.chars().count());
        ws.write_string_with_format(0, col, &header, &styles.header)?;
        ws.insert_note(0, col, &header_note(field))?;
        ws.set_column_format(col, &Styles::input(Some(field), &CellValue::Blank))?;
        if let Some(dv) = dropdown(schema.name, field) {
            ws.add_data_validation(1, col, INPUT_ROWS, col, &dv?)?;
        }
    }
    let series_field = match schema.name {
        "Discount rates" => Field {
            value_type: ValueType::Percent,
            ..schema::DISCOUNT_RATES.fields[0]
        },
        _ => Field {
            value_type: ValueType::Number,
            ..schema.fields[0]
        },
    };
    for (i, year) in years.iter().enumerate() {
        let col = fixed + i as u16;
        ws.write_number_with_format(
            0,
            col,
            *year as f64,
            &styles.header.clone().set_num_format("0"),
        )?;
        ws.set_column_format(col, &Styles::input(Some(&series_field), &CellValue::Blank))?;
        widths.push(6);
    }
    let matrix_field = Field {
        value_type: ValueType::Number,
        ..schema.fields[0]
    };
    for (k, name) in matrix.iter().enumerate() {
        let col = fixed + years.len() as u16 + k as u16;
        ws.write_string_with_format(0, col, name, &styles.header)?;
        ws.insert_note(
            0,
            col,
            &Note::new(format!(
                "Correlation of each row's product with {name} (from -1 to 1). 1 on the diagonal; a blank is its mirror cell's value, or 0.\nThe header must be the product's name exactly."
            ))
            .set_author("Lodestone")
            .add_author_prefix(false)
            .set_width(300)
            .set_height(90),
        )?;
        ws.set_column_format(col, &Styles::input(Some(&matrix_field), &CellValue::Blank))?;
        widths.push(name.chars().count());
    }
    ws.write_string_with_format(0, notes_col, "Notes", &styles.header)?;
    ws.insert_note(
        0,
        notes_col,
        &Note::new("Free text: sources, assumptions. Lodestone ignores it (and any other column it does not know).")
            .set_author("Lodestone")
            .add_author_prefix(false)
            .set_width(300)
            .set_height(60),
    )?;
    widths.push(5);
    for v in values {
        let row = 1 + v.record as u32;
        let (col, field) = match v.field {
            FieldKey::Name(name) => match schema.fields.iter().position(|f| f.name == name) {
                Some(i) => (i as u16, Some(&schema.fields[i])),
                None => continue,
            },
            FieldKey::Year(y) => match years.iter().position(|x| *x == y) {
                Some(i) => (fixed + i as u16, Some(&series_field)),
                None => continue,
            },
            FieldKey::Column(k) if k < matrix.len() => {
                (fixed + years.len() as u16 + k as u16, Some(&matrix_field))
            }
            FieldKey::Column(_) => continue,
        };
        write_value(ws, row, col, &v.value, &Styles::input(field, &v.value))?;
        let w = &mut widths[col as usize];
        *w = (*w).max(display_len(&v.value));
    }
    let records = values.iter().map(|v| v.record + 1).max().unwrap_or(0);
    for record in 0..records {
        if let Some(note) = notes.rows.get(&(schema.name, record)) {
            ws.write_string_with_format(1 + record as u32, notes_col, note, &styles.note_text)?;
            let w = &mut widths[notes_col as usize];
            *w = (*w).max(note.chars().count());
        }
    }
    for (col, w) in widths.iter().enumerate() {
        let w = if col == notes_col as usize {
            (*w).min(120) as f64
        } else {
            width(*w)
        };
        ws.set_column_width(col as u16, w)?;
    }
    ws.set_freeze_panes(
        1,
        if schema.layout == Layout::TimeSeries {
            fixed
        } else {
            1
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_names_a_schema_field_and_a_table_sheet() {
        for (sheet, field, target) in REFERENCES {
            let schema = SHEETS.iter().find(|s| s.name == *sheet);
            assert!(
                schema.is_some_and(|s| s.field(field).is_some()),
                "{sheet}.{field} is not a schema field"
            );
            let target = SHEETS.iter().find(|s| s.name == *target);
            assert!(
                target.is_some_and(|t| t.layout != Layout::KeyValue),
                "{sheet}.{field} refers to a sheet without a name column"
            );
        }
    }

    #[test]
    fn input_cell_follows_the_canonical_layout() {
        let deal = crate::examples::example("ndpr-joint-facility").expect("example");
        let cases = [
            ("Deal", 0, FieldKey::Name("Horizon"), Some("'Deal'!B5")),
            ("Deal", 1, FieldKey::Name("Horizon"), None),
            (
                "Facilities",
                0,
                FieldKey::Name("Nameplate"),
                Some("'Facilities'!E2"),
            ),
            (
                "Facilities",
                1,
                FieldKey::Name("Ramp 3"),
                Some("'Facilities'!R3"),
            ),
            ("Facilities", 2, FieldKey::Name("Nameplate"), None),
            ("Prices", 0, FieldKey::Year(2026), Some("'Prices'!E2")),
            ("Prices", 0, FieldKey::Year(2035), Some("'Prices'!N2")),
            ("Prices", 0, FieldKey::Year(2036), None),
            (
                "Participants",
                4,
                FieldKey::Name("Share"),
                Some("'Participants'!C6"),
            ),
            (
                "Scenarios",
                4,
                FieldKey::Name("Value"),
                Some("'Scenarios'!G6"),
            ),
            ("Financing", 0, FieldKey::Name("No such field"), None),
            ("No such sheet", 0, FieldKey::Name("Facility"), None),
        ];
        for (sheet, record, field, want) in cases {
            let got = input_cell(&deal, sheet, record, field).map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "case {sheet} {record} {field:?}");
        }
        assert_eq!(participant_record(&deal, 2, 2), Some(4));
        assert_eq!(override_record(&deal, 3, 1), Some(4));
        assert_eq!(rate_schedule_record(&deal, 0), None);
    }
}
