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

use super::access::{Column, Written};
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
/// field: each record written column by column through its declaration in `schema` (the
/// same that reads it).
pub fn input_values(deal: &Deal) -> Vec<InputValue<'_>> {
    let mut out = Vec::new();
    Rec::new(&mut out, schema::DEAL.name, 0).columns(deal, schema::DEAL_COLUMNS, None);
    for (i, f) in deal.facilities.iter().enumerate() {
        Rec::new(&mut out, schema::FACILITIES.name, i).columns(f, schema::FACILITIES_COLUMNS, None);
    }
    for (i, p) in deal.products.iter().enumerate() {
        let mut r = Rec::new(&mut out, schema::PRICES.name, i);
        r.columns(p, schema::PRICES_COLUMNS, None);
        r.series(&p.deck);
    }
    for (i, s) in deal.fx.iter().enumerate() {
        let mut r = Rec::new(&mut out, schema::FX.name, i);
        r.columns(s, schema::FX_COLUMNS, None);
        r.series(&s.rates);
    }
    for (i, c) in deal.costs.iter().enumerate() {
        Rec::new(&mut out, schema::COSTS.name, i).columns(c, schema::COSTS_COLUMNS, None);
    }
    for (i, f) in deal.fiscal.iter().enumerate() {
        Rec::new(&mut out, schema::FISCAL.name, i).columns(f, schema::FISCAL_COLUMNS, None);
    }
    for (i, p) in deal.parties.iter().enumerate() {
        Rec::new(&mut out, schema::PARTIES.name, i).columns(p, schema::PARTIES_COLUMNS, None);
    }
    for (i, p) in deal
        .parties
        .iter()
        .filter(|p| !p.rate_schedule.is_empty())
        .enumerate()
    {
        let mut r = Rec::new(&mut out, schema::DISCOUNT_RATES.name, i);
        r.columns(
            p,
            schema::DISCOUNT_RATES_COLUMNS,
            Some(Parent::derived(&p.name)),
        );
        r.series(&p.rate_schedule);
    }
    for (i, o) in deal.offtakes.iter().enumerate() {
        Rec::new(&mut out, schema::OFFTAKE.name, i).columns(o, schema::OFFTAKE_COLUMNS, None);
    }
    for (i, s) in deal.price_supports.iter().enumerate() {
        Rec::new(&mut out, schema::PRICE_SUPPORT.name, i).columns(
            s,
            schema::PRICE_SUPPORT_COLUMNS,
            None,
        );
    }
    for (i, t) in deal.tranches.iter().enumerate() {
        Rec::new(&mut out, schema::FINANCING.name, i).columns(t, schema::FINANCING_COLUMNS, None);
    }
    let mut record = 0;
    for t in &deal.tranches {
        for p in &t.participants {
            Rec::new(&mut out, schema::PARTICIPANTS.name, record).columns(
                p,
                schema::PARTICIPANTS_COLUMNS,
                Some(Parent::derived(&t.name)),
            );
            record += 1;
        }
    }
    let mut record = 0;
    for s in &deal.scenarios {
        for (i, o) in s.overrides.iter().enumerate() {
            // The name is read from the scenario's first row; later rows repeat it.
            let parent = if i == 0 {
                Parent::read(&s.name)
            } else {
                Parent::derived(&s.name)
            };
            Rec::new(&mut out, schema::SCENARIOS.name, record).columns(
                o,
                schema::SCENARIOS_COLUMNS,
                Some(parent),
            );
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
        let mut r = Rec::new(out, schema::MONTE_CARLO.name, i);
        r.columns(p, schema::MONTE_CARLO_COLUMNS, None);
        for k in 0..processes.len() {
            let field = FieldKey::Column(k);
            if let Some(rho) = p.correlations.get(k).filter(|_| k < i) {
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

/// The name of the record a row belongs to, as its row shows it.
struct Parent<'d> {
    name: &'d Sourced<String>,
    /// Read from this row (a scenario's first), rather than repeated from another.
    read: bool,
}

impl<'d> Parent<'d> {
    fn read(name: &'d Sourced<String>) -> Self {
        Parent { name, read: true }
    }

    fn derived(name: &'d Sourced<String>) -> Self {
        Parent { name, read: false }
    }
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

    /// A record's cells, column by column as `schema` declares them.
    fn columns<R, K>(
        &mut self,
        record: &'d R,
        columns: &[Column<R, K>],
        parent: Option<Parent<'d>>,
    ) {
        for column in columns {
            let field = FieldKey::Name(column.field.name);
            match column.access.write(record) {
                Written::Value(value, cell) => self.push(field, value, true, cell),
                Written::Absent => self.push(field, CellValue::Blank, false, None),
                Written::Derived(value) => self.push(field, value, false, None),
                Written::Parent => match &parent {
                    Some(p) if p.read => self.push(
                        field,
                        CellValue::Text(p.name.value.clone()),
                        true,
                        p.name.cell.as_ref(),
                    ),
                    Some(p) => self.push(field, CellValue::Text(p.name.value.clone()), false, None),
                    None => self.push(field, CellValue::Blank, false, None),
                },
            }
        }
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
