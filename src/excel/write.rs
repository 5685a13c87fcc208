//! The results workbook (DESIGN.md §6): Summary first, charts, one calculation sheet per
//! scenario with live FAST formulas and the engine's exact values as their cached results,
//! each government's ledger, a scenario comparison, checks, the event log, and the deal's
//! own input sheets — so the workbook is itself a valid deal.
//!
//! Owns the results layout, formats and charts. Formulas come from `formula` (the same
//! expressions the engine evaluated); input cells from `inputs` (the canonical layout).
//! Must not compute results: every number here comes from the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;
use rust_decimal::Decimal;
use rust_xlsxwriter::{
    Chart, ChartAxisLabelPosition, ChartType, Color, DocProperties, ExcelDateTime, Format,
    FormatAlign, FormatBorder, Formula, Note, Workbook, Worksheet, XlsxError,
};

use super::formula::{Inputs, Placement, Renderer, a1, external, quote_sheet};
use super::inputs::{self, Notes};
use super::keys;
use super::limits;
use crate::engine::Results;
use crate::engine::calc::{Expr, FlowKind, RowId, ScalarId, Unit};
use crate::engine::results::failures;
use crate::engine::rules::LedgerPartyKind;
use crate::model::key::{DealField, InputKey, Key};
use crate::model::{CellRef, Deal, InputWarning, PartyKind};

/// Why the results workbook could not be built.
#[derive(Debug)]
pub enum WriteError {
    Xlsx(XlsxError),
    Formula(String),
    /// A formula or text that would break one of Excel's limits (see `limits`).
    Limit(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Xlsx(e) => write!(f, "could not build the results workbook: {e}"),
            WriteError::Formula(e) => write!(f, "could not write a formula: {e}"),
            WriteError::Limit(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Xlsx(e) => Some(e),
            WriteError::Formula(_) | WriteError::Limit(_) => None,
        }
    }
}

impl From<XlsxError> for WriteError {
    fn from(e: XlsxError) -> Self {
        WriteError::Xlsx(e)
    }
}

/// The canonical input cells of a deal, for formulas.
struct DealInputs<'a>(&'a Deal);

impl Inputs for DealInputs<'_> {
    fn cell(&self, key: &Key) -> Option<CellRef> {
        keys::key_cell(self.0, key)
    }
}

/// Whether two paths name the same file (by canonical path where both exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The formats of the results workbook, made once.
struct Styles {
    title: Format,
    header: Format,
    section: Format,
    label: Format,
    unit: Format,
    money: Format,
    tonnes: Format,
    price: Format,
    percent: Format,
    ratio: Format,
    flag: Format,
    year: Format,
    solved: Format,
    opening: Format,
    text: Format,
    ok: Format,
    /// A failed check at the top of the Summary.
    alert: Format,
    /// An input warning.
    warning: Format,
}

impl Styles {
    fn new() -> Self {
        let base = Format::new().set_font_name("Calibri").set_font_size(10);
        // Right-aligned, so that "n/a" lines up with the numbers.
        let num = |f: &str| base.clone().set_num_format(f).set_align(FormatAlign::Right);
        Styles {
            title: base.clone().set_bold().set_font_size(14),
            header: base
                .clone()
                .set_bold()
                .set_border_bottom(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xDDEBF7))
                .set_align(FormatAlign::Center),
            section: base
                .clone()
                .set_bold()
                .set_background_color(Color::RGB(0xF2F2F2))
                .set_border_top(FormatBorder::Thin),
            label: base.clone(),
            unit: base
                .clone()
                .set_font_color(Color::RGB(0x595959))
                .set_align(FormatAlign::Center),
            money: num("#,##0;[Red]-#,##0"),
            tonnes: num("#,##0"),
            price: num("#,##0.00"),
            percent: num("0.00%"),
            ratio: num("0.00\"x\""),
            flag: num("0"),
            year: num("0"),
            solved: num("0.000000")
                .set_background_color(Color::RGB(0xFCE4D6))
                .set_font_color(Color::RGB(0x833C0B)),
            opening: num("0").set_font_color(Color::RGB(0xA6A6A6)),
            text: base.clone(),
            ok: base.clone().set_bold(),
            alert: base
                .clone()
                .set_bold()
                .set_font_color(Color::RGB(0xC00000))
                .set_background_color(Color::RGB(0xFFC7CE)),
            warning: base.clone().set_font_color(Color::RGB(0x9C5700)),
        }
    }

    fn for_unit(&self, unit: Unit) -> &Format {
        match unit {
            Unit::Money => &self.money,
            Unit::Tonnes => &self.tonnes,
            Unit::PerTonne | Unit::Price => &self.price,
            Unit::Percent => &self.percent,
            Unit::Ratio => &self.ratio,
            Unit::Flag | Unit::Count => &self.flag,
            Unit::Year => &self.year,
        }
    }
}

fn unit_text(unit: Unit, currency: &str) -> String {
    match unit {
        Unit::Money => currency.to_string(),
        Unit::Tonnes => "t".into(),
        Unit::PerTonne => format!("{currency}/t"),
        Unit::Price => "price".into(),
        Unit::Percent => "%".into(),
        Unit::Ratio => "x".into(),
        Unit::Flag => "flag".into(),
        Unit::Year => "year".into(),
        Unit::Count => "#".into(),
    }
}

/// The cached result text of a number: the Decimal's own digits. Written on the stack and
/// then copied into a string of its exact length, which rust_xlsxwriter keeps as a
/// `Box<str>` without reallocating (`to_string` grew a string and left it with spare room).
fn cached(v: Decimal) -> String {
    use std::io::Write;
    // A Decimal has at most 29 digits, a sign and a point.
    let mut buffer = [0u8; 40];
    let mut free = &mut buffer[..];
    match write!(free, "{}", v.normalize()) {
        Ok(()) => {
            let len = 40 - free.len();
            std::str::from_utf8(&buffer[..len])
                .map(String::from)
                .unwrap_or_else(|_| v.normalize().to_string())
        }
        Err(_) => v.normalize().to_string(),
    }
}

fn cached_opt(v: Option<Decimal>) -> String {
    v.map(cached).unwrap_or_else(|| "n/a".to_string())
}

/// A valid, unique worksheet name from a prefix and a free-text name.
fn sheet_name(prefix: &str, name: &str, taken: &mut BTreeSet<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\'".contains(c) { '-' } else { c })
        .collect();
    let mut base: String = format!("{prefix}{clean}").chars().take(31).collect();
    base = base.trim().to_string();
    let mut candidate = base.clone();
    let mut k = 2;
    while taken.contains(&candidate.to_lowercase()) {
        let suffix = format!(" {k}");
        candidate = format!(
            "{}{suffix}",
            base.chars().take(31 - suffix.len()).collect::<String>()
        );
        k += 1;
    }
    taken.insert(candidate.to_lowercase());
    candidate
}

/// A formula, checked against Excel's limits where it is written.
fn checked(ws: &Worksheet, row: u32, col: u16, formula: String) -> Result<Formula, WriteError> {
    limits::check_formula(&ws.name(), row, col as u32, &formula).map_err(WriteError::Limit)?;
    Ok(Formula::new(formula))
}

/// A label, checked against Excel's limit where it is written.
fn label_text<'t>(
    ws: &Worksheet,
    row: u32,
    col: u16,
    text: &'t str,
) -> Result<&'t str, WriteError> {
    limits::check_text(&ws.name(), row, col as u32, text).map_err(WriteError::Limit)?;
    Ok(text)
}

/// The most flows one row of a government's sheet adds up.
const GOVERNMENT_TERMS: usize = 100;

/// Where the Checks sheet keeps its master check, which the Summary repeats.
const MASTER_CHECK: &str = "Checks!$B$2";

/// The layout columns of a calculation sheet.
const LABEL_COL: u16 = 0;
const UNIT_COL: u16 = 1;
const VALUE_COL: u16 = 2;
const OPENING_COL: u16 = 3;
const FIRST_PERIOD_COL: u16 = 4;
const YEAR_ROW: u32 = 1;

/// What a calculation sheet put where, for the sheets that refer to it.
struct CalcSheet {
    place: Placement,
}

/// Builds the whole results workbook in memory.
pub fn results_bytes(deal: &Deal, runs: &[Results]) -> Result<Vec<u8>, WriteError> {
    results_bytes_with(deal, runs, &[])
}

/// Builds the whole results workbook in memory, listing the deal's input warnings at the
/// top of its Summary (under any failed check).
pub fn results_bytes_with(
    deal: &Deal,
    runs: &[Results],
    warnings: &[InputWarning],
) -> Result<Vec<u8>, WriteError> {
    let mut wb = Workbook::new();
    // Level 1 deflate: several times faster to write than the default 6, for a somewhat
    // larger file.
    wb.set_zip_compression_level(1);
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&created)
            .set_title(format!(
                "Lodestone results: {}",
                limits::title_name(&deal.name.value)
            )),
    );
    let styles = Styles::new();
    let inputs = DealInputs(deal);

    // Sheet names first: every reference needs them.
    let mut taken: BTreeSet<String> = crate::excel::schema::SHEETS
        .iter()
        .map(|s| s.name.to_lowercase())
        .collect();
    for fixed in [
        "Summary",
        "Charts",
        "Scenario comparison",
        "Checks",
        "Log",
        "About",
    ] {
        taken.insert(fixed.to_lowercase());
    }
    let calc_names: Vec<String> = runs
        .iter()
        .map(|r| sheet_name("Calc ", &r.scenario, &mut taken))
        .collect();
    let governments: Vec<(usize, String)> = runs
        .first()
        .map(|r| {
            r.ledger_parties
                .iter()
                .enumerate()
                .filter(|(_, p)| p.kind == LedgerPartyKind::Deal(PartyKind::Government))
                .map(|(i, p)| (i, p.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    let gov_names: Vec<String> = governments
        .iter()
        .map(|(_, n)| sheet_name("Gov ", n, &mut taken))
        .collect();

    // Placements are computed before writing so Summary (written first) can refer to them.
    let sheets: Vec<CalcSheet> = runs
        .iter()
        .zip(&calc_names)
        .map(|(r, name)| CalcSheet {
            place: placement(r, name),
        })
        .collect();

    for sheet in &sheets {
        let last = sheet.place.row_of.iter().copied().max().unwrap_or(0);
        if last >= limits::MAX_ROWS {
            return Err(WriteError::Limit(format!(
                "'{}': the calculation has {last} lines, more than Excel's {} rows",
                sheet.place.sheet,
                limits::MAX_ROWS
            )));
        }
    }
    write_summary(wb.add_worksheet(), deal, runs, warnings, &sheets, &styles)?;
    let charts = wb.add_worksheet();
    charts.set_name("Charts")?;
    // The calculation sheets are most of the work and independent: build them side by side
    // on rayon's threads, one per core (a thread per scenario only added fresh memory), then
    // add them in scenario order (the bytes do not depend on the threads).
    let built: Vec<Result<Worksheet, WriteError>> = runs
        .par_iter()
        .zip(&sheets)
        .map(|(run, sheet)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut ws = Worksheet::new();
                write_calc_sheet(&mut ws, deal, run, sheet, &inputs, &styles)?;
                Ok(ws)
            }))
            .unwrap_or_else(|_| {
                Err(WriteError::Formula(
                    "a calculation sheet could not be built".into(),
                ))
            })
        })
        .collect();
    for ws in built {
        wb.push_worksheet(ws?);
    }
    for (g, (party, _)) in governments.iter().enumerate() {
        write_government(
            wb.add_worksheet(),
            &gov_names[g],
            deal,
            runs,
            &sheets,
            *party,
            &styles,
        )?;
    }
    write_comparison(wb.add_worksheet(), deal, runs, &sheets, &styles)?;
    write_checks(wb.add_worksheet(), runs, &sheets, &styles)?;
    write_log(wb.add_worksheet(), runs, &styles)?;
    inputs::write_input_sheets(&mut wb, deal, &Notes::default())?;
    write_charts(&mut wb, deal, runs, &sheets, &gov_names, &governments)?;
    define_names(&mut wb, deal, runs, &sheets)?;
    let bytes = wb.save_to_buffer()?;
    // Freeing the workbook's hundreds of thousands of cells takes several milliseconds: do it
    // beside the caller's next steps (the JSON, the files) rather than before them.
    // (Should no thread start, the workbook is dropped here, with the closure.)
    let _ = std::thread::Builder::new().spawn(move || drop(wb));
    Ok(bytes)
}

/// Where each row, scalar and solved value of a run goes on its calculation sheet.
fn placement(run: &Results, sheet: &str) -> Placement {
    let calc = &run.calc;
    let mut row_of = vec![0u32; calc.rows.len()];
    let mut scalar_at = vec![(0u32, VALUE_COL as u32); calc.scalars.len()];
    let mut solved_at = vec![(0u32, VALUE_COL as u32); calc.solved.len()];
    let mut r = YEAR_ROW + 2;
    for (s, _) in calc.sections.iter().enumerate() {
        r += 1; // section title
        for (k, def) in calc.scalars.iter().enumerate() {
            if def.section == s {
                scalar_at[k] = (r, VALUE_COL as u32);
                r += 1;
            }
        }
        for &id in &calc.order {
            if calc.rows[id].section == s {
                row_of[id] = r;
                r += 1;
            }
        }
        r += 1; // spacer
    }
    if !calc.solved.is_empty() {
        r += 1;
        for slot in solved_at.iter_mut() {
            *slot = (r, VALUE_COL as u32);
            r += 1;
        }
    }
    Placement {
        sheet: sheet.to_string(),
        row_of,
        scalar_at,
        solved_at,
        first_col: FIRST_PERIOD_COL as u32,
        year_row: YEAR_ROW,
        periods: calc.periods,
    }
}

fn render_err(e: super::formula::RenderError) -> WriteError {
    WriteError::Formula(e.0)
}

/// Rows that some formula reads in the previous period: they get an explicit opening 0.
fn rows_read_as_previous(run: &Results) -> BTreeSet<RowId> {
    fn walk(e: &Expr, out: &mut BTreeSet<RowId>) {
        match e {
            Expr::Prev(r) => {
                out.insert(*r);
            }
            Expr::Neg(a)
            | Expr::Abs(a)
            | Expr::Sqrt(a)
            | Expr::Lookup(_, a)
            | Expr::Lag(_, a)
            | Expr::RowAt(_, a) => walk(a, out),
            Expr::Sub(a, b)
            | Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::Round(a, b)
            | Expr::Cmp(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::If(a, b, c) => {
                walk(a, out);
                walk(b, out);
                walk(c, out);
            }
            Expr::Add(v)
            | Expr::Mul(v)
            | Expr::Min(v)
            | Expr::Max(v)
            | Expr::And(v)
            | Expr::Or(v) => v.iter().for_each(|x| walk(x, out)),
            Expr::Choose(i, v) => {
                walk(i, out);
                v.iter().for_each(|x| walk(x, out));
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for def in &run.calc.rows {
        walk(&def.expr, &mut out);
    }
    out
}

fn write_calc_sheet(
    ws: &mut Worksheet,
    deal: &Deal,
    run: &Results,
    sheet: &CalcSheet,
    inputs: &DealInputs,
    styles: &Styles,
) -> Result<(), WriteError> {
    let place = &sheet.place;
    let calc = &run.calc;
    let values = &run.values;
    let currency = &deal.currency.value;
    ws.set_name(&place.sheet)?;
    ws.write_string_with_format(
        0,
        LABEL_COL,
        format!(
            "{} — scenario: {}",
            limits::title_name(&deal.name.value),
            run.scenario
        ),
        &styles.title,
    )?;
    ws.write_string_with_format(0, VALUE_COL, format!("Amounts in {currency}"), &styles.unit)?;
    for (col, text) in [
        (LABEL_COL, "Line"),
        (UNIT_COL, "Unit"),
        (VALUE_COL, "Total / value"),
        (OPENING_COL, "Opening"),
    ] {
        ws.write_string_with_format(YEAR_ROW, col, text, &styles.header)?;
    }
    let start = inputs
        .cell(&Key::of(InputKey::Deal(DealField::StartDate)))
        .ok_or_else(|| WriteError::Formula("no cell for the model start date".into()))?;
    for t in 0..calc.periods {
        let col = FIRST_PERIOD_COL + t as u16;
        let formula = if t == 0 {
            format!("=YEAR({})", external(&start))
        } else {
            format!("={}+1", a1(YEAR_ROW, col as u32 - 1, false, false))
        };
        ws.write_formula_with_format(
            YEAR_ROW,
            col,
            Formula::new(formula).set_result(calc.year_of(t).to_string()),
            &styles.header,
        )?;
    }
    let renderer = Renderer::new(calc, place, inputs);
    let opening = rows_read_as_previous(run);
    let mut r = YEAR_ROW + 2;
    for (s, section) in calc.sections.iter().enumerate() {
        ws.write_string_with_format(r, LABEL_COL, &section.title, &styles.section)?;
        for col in UNIT_COL..FIRST_PERIOD_COL + calc.periods as u16 {
            ws.write_blank(r, col, &styles.section)?;
        }
        r += 1;
        for (k, def) in calc.scalars.iter().enumerate() {
            let k = ScalarId::new(k);
            if def.section != s {
                continue;
            }
            let (row, col) = place.scalar_at[k];
            let label = label_text(ws, row, LABEL_COL, &def.label)?;
            ws.write_string_with_format(row, LABEL_COL, label, &styles.label)?;
            ws.write_string_with_format(
                row,
                UNIT_COL,
                unit_text(def.unit, currency),
                &styles.unit,
            )?;
            // Excel's IRR starts from a guess; starting it at the engine's root makes it
            // settle on the same root when the flows have several.
            let expr = match (&def.expr, values.scalar(k)) {
                (Expr::Irr(r, _), Some(root)) => {
                    Expr::Irr(*r, Box::new(Expr::Num(root.round_dp(6))))
                }
                (e, _) => e.clone(),
            };
            let text = renderer.scalar_formula(&expr).map_err(render_err)?;
            let formula = checked(ws, row, col as u16, format!("={text}"))?
                .set_result(cached_opt(values.scalar(k)));
            ws.write_formula_with_format(row, col as u16, formula, styles.for_unit(def.unit))?;
            r = row + 1;
        }
        for &id in &calc.order {
            let def = &calc.rows[id];
            if def.section != s {
                continue;
            }
            let row = place.row_of[id];
            let label = label_text(ws, row, LABEL_COL, &def.label)?;
            ws.write_string_with_format(row, LABEL_COL, label, &styles.label)?;
            ws.write_string_with_format(
                row,
                UNIT_COL,
                unit_text(def.unit, currency),
                &styles.unit,
            )?;
            let format = styles.for_unit(def.unit);
            let vals = values.row(id);
            if matches!(def.unit, Unit::Money | Unit::Tonnes) {
                let range = format!(
                    "{}:{}",
                    a1(row, FIRST_PERIOD_COL as u32, false, false),
                    a1(
                        row,
                        FIRST_PERIOD_COL as u32 + calc.periods as u32 - 1,
                        false,
                        false
                    )
                );
                let total: Decimal = vals
                    .iter()
                    .copied()
                    .fold(Decimal::ZERO, |a, b| a.checked_add(b).unwrap_or(a));
                ws.write_formula_with_format(
                    row,
                    VALUE_COL,
                    Formula::new(format!("=SUM({range})")).set_result(cached(total)),
                    format,
                )?;
            }
            if opening.contains(&id) {
                ws.write_number_with_format(row, OPENING_COL, 0.0, &styles.opening)?;
            }
            // The row's number format is set once; period cells written without a format
            // take it (a format lookup per cell is most of rust_xlsxwriter's cost).
            ws.set_row_format(row, format)?;
            let template = renderer.row_template(&def.expr).map_err(render_err)?;
            // The row's formulas differ only in their column letters: the last period's,
            // with the longest letters, is the longest.
            if let Some(last) = vals.len().checked_sub(1) {
                let col = FIRST_PERIOD_COL as u32 + last as u32;
                limits::check_formula(&place.sheet, row, col, &template.formula(last))
                    .map_err(WriteError::Limit)?;
            }
            for (t, v) in vals.iter().enumerate() {
                ws.write_formula(
                    row,
                    FIRST_PERIOD_COL + t as u16,
                    Formula::new(template.formula(t)).set_result(cached(*v)),
                )?;
            }
            r = row + 1;
        }
        r += 1;
    }
    if !calc.solved.is_empty() {
        ws.write_string_with_format(
            r,
            LABEL_COL,
            "Engine-solved values (checked by the formulas above)",
            &styles.section,
        )?;
        for (k, def) in calc.solved.iter().enumerate() {
            let (row, col) = place.solved_at[k];
            ws.write_string_with_format(row, LABEL_COL, &def.label, &styles.label)?;
            ws.write_string_with_format(row, UNIT_COL, "share", &styles.unit)?;
            let value: f64 = cached(def.value).parse().unwrap_or(0.0);
            ws.write_number_with_format(row, col as u16, value, &styles.solved)?;
        }
        ws.insert_note(place.solved_at[0].0, place.solved_at[0].1 as u16, &Note::new("Solved by the engine on the base case: the share of the loan's balance at the start of operations repaid in each repayment year, so that the base case's DSCR equals the target. The DSCR rows above prove it."))?;
    }
    ws.set_column_width(LABEL_COL, 62)?;
    ws.set_column_width(UNIT_COL, 8)?;
    ws.set_column_width(VALUE_COL, 17)?;
    ws.set_column_width(OPENING_COL, 8)?;
    ws.set_column_range_width(FIRST_PERIOD_COL, FIRST_PERIOD_COL + calc.periods as u16, 15)?;
    ws.set_freeze_panes(YEAR_ROW + 1, FIRST_PERIOD_COL)?;
    // Printed at a readable size across as many pages as the years need, the labels and the
    // year header repeated on each.
    ws.set_landscape();
    ws.set_repeat_rows(0, YEAR_ROW)?;
    ws.set_repeat_columns(LABEL_COL, OPENING_COL)?;
    Ok(())
}

/// A reference to a scalar of a scenario's calculation sheet.
fn scalar_ref(sheet: &CalcSheet, s: ScalarId) -> String {
    let (r, c) = sheet.place.scalar_at[s];
    format!(
        "{}!{}",
        quote_sheet(&sheet.place.sheet),
        a1(r, c, true, true)
    )
}

fn row_range_ref(sheet: &CalcSheet, row: RowId) -> String {
    let r = sheet.place.row_of[row];
    let first = sheet.place.first_col;
    let last = first + sheet.place.periods as u32 - 1;
    format!(
        "{}!{}:{}",
        quote_sheet(&sheet.place.sheet),
        a1(r, first, true, true),
        a1(r, last, true, true)
    )
}

/// A labelled row of one metric across the scenarios.
fn metric_row(
    ws: &mut Worksheet,
    row: u32,
    label: &str,
    runs: &[Results],
    sheets: &[CalcSheet],
    pick: impl Fn(&Results) -> Option<ScalarId>,
    format: &Format,
) -> Result<(), WriteError> {
    let label_format = Format::new().set_font_name("Calibri").set_font_size(10);
    let label = label_text(ws, row, 0, label)?;
    ws.write_string_with_format(row, 0, label, &label_format)?;
    for (k, (run, sheet)) in runs.iter().zip(sheets).enumerate() {
        if let Some(id) = pick(run) {
            link(
                ws,
                row,
                1 + k as u16,
                scalar_ref(sheet, id),
                run.values.scalar(id),
                format,
            )?;
        }
    }
    Ok(())
}

/// Writes a formula cell referring to a scalar, with its cached value.
fn link(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    formula: String,
    value: Option<Decimal>,
    format: &Format,
) -> Result<(), WriteError> {
    let formula = checked(ws, row, col, format!("={formula}"))?;
    ws.write_formula_with_format(row, col, formula.set_result(cached_opt(value)), format)?;
    Ok(())
}

/// Under the master check: each failed check in red (scenario, check, the first year it
/// fails and by how much), then the input warnings. Returns the next free row.
fn write_alerts(
    ws: &mut Worksheet,
    deal: &Deal,
    runs: &[Results],
    warnings: &[InputWarning],
    styles: &Styles,
    mut row: u32,
) -> Result<u32, WriteError> {
    let failed = failures(runs);
    if !failed.is_empty() {
        ws.write_string_with_format(
            row,
            0,
            format!(
                "CHECKS FAILED: {} check{} of the scenarios below do{} not hold; the figures that depend on them are not reliable",
                failed.len(),
                if failed.len() == 1 { "" } else { "s" },
                if failed.len() == 1 { "es" } else { "" }
            ),
            &styles.alert,
        )?;
        row += 1;
        for f in &failed {
            ws.write_string_with_format(
                row,
                0,
                crate::report::check_failure(f, &deal.currency.value),
                &styles.alert,
            )?;
            row += 1;
        }
    }
    if !warnings.is_empty() {
        ws.write_string_with_format(
            row,
            0,
            format!(
                "Input warnings ({}): values read but probably not what was meant",
                warnings.len()
            ),
            &styles.warning,
        )?;
        row += 1;
        for w in warnings {
            let line = w.to_string();
            ws.write_string_with_format(row, 0, limits::clipped(&line), &styles.warning)?;
            row += 1;
        }
    }
    Ok(row)
}

fn write_summary(
    ws: &mut Worksheet,
    deal: &Deal,
    runs: &[Results],
    warnings: &[InputWarning],
    sheets: &[CalcSheet],
    styles: &Styles,
) -> Result<(), WriteError> {
    ws.set_name("Summary")?;
    ws.write_string_with_format(
        0,
        0,
        format!("{} — results", limits::title_name(&deal.name.value)),
        &styles.title,
    )?;
    ws.write_string_with_format(
        1,
        0,
        format!(
            "Amounts in {}; NPVs valued at {} ({} discounting).",
            deal.currency.value,
            deal.start_date.value,
            deal.discounting.value.label()
        ),
        &styles.text,
    )?;
    // Master check: the Checks sheet's, which counts every check of every scenario (a
    // formula naming each check grew by ~190 characters a tranche).
    let ok = runs.iter().all(|r| r.all_checks_pass());
    ws.write_string_with_format(2, 0, "Every check of every scenario", &styles.ok)?;
    let verdict = if ok { "OK" } else { "FAILED" };
    ws.write_formula_with_format(
        2,
        1,
        Formula::new(format!("={}", MASTER_CHECK)).set_result(verdict),
        &styles.ok,
    )?;

    let mut row = write_alerts(ws, deal, runs, warnings, styles, 3)? + 1;
    let header = |ws: &mut Worksheet, row: u32, title: &str| -> Result<(), WriteError> {
        ws.write_string_with_format(row, 0, title, &styles.header)?;
        for (k, run) in runs.iter().enumerate() {
            ws.write_string_with_format(row, 1 + k as u16, &run.scenario, &styles.header)?;
        }
        Ok(())
    };
    let Some(first) = runs.first() else {
        return Ok(());
    };

    // The decisions first: project, lenders, governments.
    header(ws, row, "Decision numbers")?;
    row += 1;
    type Pick = fn(&Results) -> Option<ScalarId>;
    let project_lines: [(&str, Pick, &Format); 5] = [
        (
            "Project: unlevered NPV after tax",
            |r| r.lines.project.npv_post_tax,
            &styles.money,
        ),
        (
            "Project: unlevered IRR after tax",
            |r| r.lines.project.irr_post_tax,
            &styles.percent,
        ),
        (
            "Project: risked NPV (stage gates)",
            |r| r.lines.project.risked_npv,
            &styles.money,
        ),
        (
            "Project: sponsors' completion support",
            |r| r.lines.project.completion_support,
            &styles.money,
        ),
        (
            "Project: unfunded gap",
            |r| r.lines.project.funding_gap,
            &styles.money,
        ),
    ];
    let no_support = deal.completion_support.value == crate::model::CompletionSupport::NoSupport;
    for (label, pick, format) in project_lines {
        // A deal without completion support has none to show (its gap is the next line).
        if no_support && label == "Project: sponsors' completion support" {
            continue;
        }
        metric_row(ws, row, label, runs, sheets, pick, format)?;
        row += 1;
    }
    for (i, t) in deal.tranches.iter().enumerate() {
        let name = &t.name.value;
        if t.kind.value.is_loan() {
            metric_row(
                ws,
                row,
                &format!("{name}: minimum DSCR"),
                runs,
                sheets,
                |r| r.lines.tranches[i].dscr_min,
                &styles.ratio,
            )?;
            row += 1;
            metric_row(
                ws,
                row,
                &format!("{name}: loss given default"),
                runs,
                sheets,
                |r| r.lines.tranches[i].loss,
                &styles.money,
            )?;
            row += 1;
        }
        if first.lines.tranches[i].calls.is_some() {
            metric_row(
                ws,
                row,
                &format!("{name}: guarantee calls"),
                runs,
                sheets,
                |r| r.lines.tranches[i].calls,
                &styles.money,
            )?;
            row += 1;
        }
    }
    for (g, gl) in first.lines.governments.iter().enumerate() {
        let name = &first.ledger_parties[gl.party].name;
        metric_row(
            ws,
            row,
            &format!("{name}: fiscal NPV"),
            runs,
            sheets,
            |r| Some(r.lines.governments[g].fiscal_npv),
            &styles.money,
        )?;
        metric_row(
            ws,
            row + 1,
            &format!("{name}: peak exposure"),
            runs,
            sheets,
            |r| Some(r.lines.governments[g].peak_exposure),
            &styles.money,
        )?;
        metric_row(
            ws,
            row + 2,
            &format!("{name}: price floor paid"),
            runs,
            sheets,
            |r| Some(r.lines.governments[g].floor_payout),
            &styles.money,
        )?;
        metric_row(
            ws,
            row + 3,
            &format!("{name}: guarantee calls paid"),
            runs,
            sheets,
            |r| Some(r.lines.governments[g].guarantee_calls),
            &styles.money,
        )?;
        row += 4;
        ws.write_string_with_format(
            row,
            0,
            format!("{name}: peak contingent liability"),
            &styles.label,
        )?;
        for (k, (run, sheet)) in runs.iter().zip(sheets).enumerate() {
            let r = run.lines.governments[g].contingent_liability;
            let peak = run.values.row(r).iter().copied().max();
            link(
                ws,
                row,
                1 + k as u16,
                format!("MAX({})", row_range_ref(sheet, r)),
                peak,
                &styles.money,
            )?;
        }
        row += 1;
    }
    row += 1;

    // Every party of the deal: NPV and IRR (the project company and the parties outside the
    // deal are kept in the ledger, not measured).
    let shown: Vec<(usize, String)> = first
        .ledger_parties
        .iter()
        .enumerate()
        .filter(|(i, _)| !first.lines.parties[*i].ledger_only)
        .map(|(i, p)| (i, p.name.clone()))
        .collect();
    header(ws, row, "NPV by party")?;
    row += 1;
    for (p, name) in &shown {
        let label = if first.lines.parties[*p].offtake.is_some() {
            format!("{name} (value of its contracts)")
        } else {
            name.clone()
        };
        metric_row(
            ws,
            row,
            &label,
            runs,
            sheets,
            |r| Some(r.lines.parties[*p].npv),
            &styles.money,
        )?;
        row += 1;
    }
    row += 1;
    header(ws, row, "IRR by party")?;
    row += 1;
    for (p, name) in &shown {
        // Flows that change sign more than once have several IRRs: say so, list them and
        // show the MIRR beside them.
        let several = runs.iter().any(|r| {
            r.parties
                .get(*p)
                .is_some_and(|x| !x.ledger_only && !x.irr_unique)
        });
        let label = if several {
            format!("{name} (several IRRs: see every IRR and the MIRR below)")
        } else {
            name.clone()
        };
        metric_row(
            ws,
            row,
            &label,
            runs,
            sheets,
            |r| Some(r.lines.parties[*p].irr),
            &styles.percent,
        )?;
        row += 1;
        if several {
            ws.write_string_with_format(
                row,
                0,
                format!("{name}: every IRR (several when the flows change sign more than once)"),
                &styles.label,
            )?;
            for (k, run) in runs.iter().enumerate() {
                let Some(party) = run.parties.get(*p) else {
                    continue;
                };
                let roots: Vec<String> = party
                    .irr_roots
                    .iter()
                    .map(|x| crate::report::percent(*x))
                    .collect();
                let text = match roots.len() {
                    0 => "none".to_string(),
                    1 => roots.join(""),
                    _ => format!("several: {}", roots.join("; ")),
                };
                ws.write_string_with_format(row, 1 + k as u16, text, &styles.text)?;
            }
            row += 1;
            metric_row(
                ws,
                row,
                &format!("{name}: MIRR (at its own rate)"),
                runs,
                sheets,
                |r| Some(r.lines.parties[*p].mirr),
                &styles.percent,
            )?;
            row += 1;
        }
    }
    let offtakers: Vec<(usize, String)> = shown
        .iter()
        .filter(|(p, _)| first.lines.parties[*p].offtake.is_some())
        .cloned()
        .collect();
    if !offtakers.is_empty() {
        row += 1;
        header(ws, row, "Tonnes secured by offtakers")?;
        row += 1;
        for (p, name) in &offtakers {
            metric_row(
                ws,
                row,
                name,
                runs,
                sheets,
                |r| r.lines.parties[*p].offtake.as_ref().map(|o| o.tonnes),
                styles.for_unit(Unit::Tonnes),
            )?;
            row += 1;
        }
    }
    ws.set_column_width(0, 52)?;
    ws.set_column_range_width(1, runs.len() as u16, 20)?;
    ws.set_freeze_panes(5, 1)?;
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

fn write_government(
    ws: &mut Worksheet,
    name: &str,
    deal: &Deal,
    runs: &[Results],
    sheets: &[CalcSheet],
    party: usize,
    styles: &Styles,
) -> Result<(), WriteError> {
    ws.set_name(name)?;
    let party_name = runs
        .first()
        .map(|r| r.ledger_parties[party].name.clone())
        .unwrap_or_default();
    ws.write_string_with_format(
        0,
        0,
        format!("{party_name}: its own ledger, by scenario (+ received, − paid)"),
        &styles.title,
    )?;
    let periods = runs.first().map(|r| r.calc.periods).unwrap_or(0);
    let mut row = 2u32;
    for (run, sheet) in runs.iter().zip(sheets) {
        ws.write_string_with_format(
            row,
            0,
            format!("Scenario: {}", run.scenario),
            &styles.section,
        )?;
        for t in 0..periods {
            let col = FIRST_PERIOD_COL + t as u16;
            let year = format!(
                "{}!{}",
                quote_sheet(&sheet.place.sheet),
                a1(YEAR_ROW, col as u32, false, true)
            );
            ws.write_formula_with_format(
                row,
                col,
                Formula::new(format!("={year}")).set_result(run.calc.year_of(t).to_string()),
                &styles.header,
            )?;
        }
        row += 1;
        // Net flows by kind.
        let mut by_kind: BTreeMap<FlowKind, Vec<(RowId, bool)>> = BTreeMap::new();
        for (id, def) in run.calc.rows.iter().enumerate() {
            let id = RowId::new(id);
            if let Some(tag) = &def.ledger {
                if tag.payee == party {
                    by_kind.entry(tag.kind).or_default().push((id, true));
                }
                if tag.payer == party {
                    by_kind.entry(tag.kind).or_default().push((id, false));
                }
            }
        }
        let first_kind_row = row;
        // A kind's flows in rows of at most GOVERNMENT_TERMS each (a party in hundreds of
        // tranches would otherwise pass Excel's formula length); the net sums them all.
        let rows_of_kind = by_kind.iter().flat_map(|(kind, items)| {
            items
                .chunks(GOVERNMENT_TERMS)
                .enumerate()
                .map(move |(n, chunk)| (*kind, n, chunk))
        });
        for (kind, n, items) in rows_of_kind {
            let label = if n == 0 {
                kind.label().to_string()
            } else {
                format!("{} (continued)", kind.label())
            };
            ws.write_string_with_format(row, 0, &label, &styles.label)?;
            ws.write_string_with_format(row, UNIT_COL, &deal.currency.value, &styles.unit)?;
            for t in 0..periods {
                let col = FIRST_PERIOD_COL as u32 + t as u32;
                let mut text = String::new();
                let mut value = Decimal::ZERO;
                for (id, inbound) in items {
                    let cell = format!(
                        "{}!{}",
                        quote_sheet(&sheet.place.sheet),
                        a1(sheet.place.row_of[*id], col, false, false)
                    );
                    text.push(if *inbound { '+' } else { '-' });
                    text.push_str(&cell);
                    let v = run.values.at(*id, t);
                    value = if *inbound { value + v } else { value - v };
                }
                let formula = checked(ws, row, col as u16, format!("={text}"))?;
                ws.write_formula_with_format(
                    row,
                    col as u16,
                    formula.set_result(cached(value)),
                    &styles.money,
                )?;
            }
            row += 1;
        }
        let net_row = row;
        ws.write_string_with_format(row, 0, "Net cash flow", &styles.ok)?;
        let cum_row = row + 1;
        ws.write_string_with_format(cum_row, 0, "Cumulative net position", &styles.ok)?;
        let net = run.values.row(run.lines.parties[party].net);
        let mut cumulative = Decimal::ZERO;
        for (t, value) in net.iter().enumerate() {
            let col = FIRST_PERIOD_COL as u32 + t as u32;
            let text = if by_kind.is_empty() {
                "0".to_string()
            } else {
                format!(
                    "SUM({}:{})",
                    a1(first_kind_row, col, false, false),
                    a1(net_row - 1, col, false, false)
                )
            };
            ws.write_formula_with_format(
                net_row,
                col as u16,
                Formula::new(format!("={text}")).set_result(cached(*value)),
                &styles.money,
            )?;
            cumulative += *value;
            let cum = if t == 0 {
                a1(net_row, col, false, false)
            } else {
                format!(
                    "{}+{}",
                    a1(cum_row, col - 1, false, false),
                    a1(net_row, col, false, false)
                )
            };
            ws.write_formula_with_format(
                cum_row,
                col as u16,
                Formula::new(format!("={cum}")).set_result(cached(cumulative)),
                &styles.money,
            )?;
        }
        row = cum_row + 2;
    }
    ws.set_column_width(0, 40)?;
    ws.set_column_width(UNIT_COL, 8)?;
    ws.set_column_range_width(FIRST_PERIOD_COL, FIRST_PERIOD_COL + periods as u16, 15)?;
    ws.set_freeze_panes(2, FIRST_PERIOD_COL)?;
    Ok(())
}

fn write_comparison(
    ws: &mut Worksheet,
    _deal: &Deal,
    runs: &[Results],
    sheets: &[CalcSheet],
    styles: &Styles,
) -> Result<(), WriteError> {
    ws.set_name("Scenario comparison")?;
    ws.write_string_with_format(0, 0, "Every metric of every scenario", &styles.title)?;
    ws.write_string_with_format(1, 0, "Metric", &styles.header)?;
    for (k, run) in runs.iter().enumerate() {
        ws.write_string_with_format(1, 1 + k as u16, &run.scenario, &styles.header)?;
    }
    let Some(first) = runs.first() else {
        return Ok(());
    };
    let mut row = 2u32;
    for (s, def) in first.calc.scalars.iter().enumerate() {
        let s = ScalarId::new(s);
        if def.stage != crate::engine::calc::Stage::Post || Some(s) == first.lines.not_measured {
            continue;
        }
        ws.write_string_with_format(row, 0, &def.label, &styles.label)?;
        for (k, (run, sheet)) in runs.iter().zip(sheets).enumerate() {
            if s.index() < run.calc.scalars.len() && run.calc.scalars[s].label == def.label {
                link(
                    ws,
                    row,
                    1 + k as u16,
                    scalar_ref(sheet, s),
                    run.values.scalar(s),
                    styles.for_unit(def.unit),
                )?;
            }
        }
        row += 1;
    }
    ws.set_column_width(0, 70)?;
    ws.set_column_range_width(1, runs.len() as u16, 20)?;
    ws.set_freeze_panes(2, 1)?;
    Ok(())
}

fn write_checks(
    ws: &mut Worksheet,
    runs: &[Results],
    sheets: &[CalcSheet],
    styles: &Styles,
) -> Result<(), WriteError> {
    ws.set_name("Checks")?;
    ws.write_string_with_format(
        0,
        0,
        "Checks: every one must hold in every scenario",
        &styles.title,
    )?;
    let mut row = 3u32;
    ws.write_string_with_format(row, 0, "Check", &styles.header)?;
    for (k, run) in runs.iter().enumerate() {
        ws.write_string_with_format(row, 1 + 2 * k as u16, &run.scenario, &styles.header)?;
        ws.write_string_with_format(row, 2 + 2 * k as u16, "largest deviation", &styles.header)?;
    }
    row += 1;
    let Some(first) = runs.first() else {
        return Ok(());
    };
    for (c, check) in first.lines.checks.iter().enumerate() {
        ws.write_string_with_format(row, 0, &check.name, &styles.label)?;
        for (k, (run, sheet)) in runs.iter().zip(sheets).enumerate() {
            let Some(line) = run.lines.checks.get(c) else {
                continue;
            };
            let ok_ref = scalar_ref(sheet, line.ok);
            let ok = run.values.scalar(line.ok) == Some(Decimal::ONE);
            ws.write_formula_with_format(
                row,
                1 + 2 * k as u16,
                Formula::new(format!("=IF({ok_ref}=1,\"OK\",\"FAILED\")")).set_result(if ok {
                    "OK"
                } else {
                    "FAILED"
                }),
                &styles.ok,
            )?;
            link(
                ws,
                row,
                2 + 2 * k as u16,
                scalar_ref(sheet, line.deviation),
                run.values.scalar(line.deviation),
                &styles.price,
            )?;
        }
        row += 1;
    }
    // Every verdict of the table counted at once: one formula of constant length, however
    // many checks and scenarios there are.
    let all_ok = runs.iter().all(|r| r.all_checks_pass());
    ws.write_string_with_format(1, 0, "Master check", &styles.ok)?;
    let last_col = 2 * runs.len() as u32;
    let verdicts = if row > 4 {
        format!(
            "{}:{}",
            a1(4, 1, true, true),
            a1(row - 1, last_col.max(1), true, true)
        )
    } else {
        a1(4, 1, true, true)
    };
    ws.write_formula_with_format(
        1,
        1,
        Formula::new(format!(
            "=IF(COUNTIF({verdicts},\"FAILED\")=0,\"OK\",\"FAILED\")"
        ))
        .set_result(if all_ok { "OK" } else { "FAILED" }),
        &styles.ok,
    )?;
    ws.set_column_width(0, 62)?;
    ws.set_column_range_width(1, 2 * runs.len() as u16, 16)?;
    Ok(())
}

fn write_log(ws: &mut Worksheet, runs: &[Results], styles: &Styles) -> Result<(), WriteError> {
    ws.set_name("Log")?;
    ws.write_string_with_format(0, 0, "Event log: lock-ups, arrears, defaults, DSRA draws, write-offs, guarantee calls, floor payouts, funding gaps", &styles.title)?;
    for (col, h) in ["Scenario", "Year", "Event", "Subject", "Amount", "Detail"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(2, col as u16, *h, &styles.header)?;
    }
    let mut row = 3u32;
    let total: usize = runs.iter().map(|r| r.events.len()).sum();
    // The grid's last row says how many events did not fit (the JSON has them all).
    let last = limits::MAX_ROWS - 1;
    'events: for run in runs {
        for e in &run.events {
            if row == last {
                let shown = (row - 3) as usize;
                ws.write_string_with_format(
                    row,
                    0,
                    format!(
                        "… and {} more events, past Excel's last row (the JSON lists every event)",
                        total - shown
                    ),
                    &styles.text,
                )?;
                break 'events;
            }
            ws.write_string_with_format(row, 0, &run.scenario, &styles.text)?;
            ws.write_number_with_format(row, 1, e.year as f64, &styles.year)?;
            ws.write_string_with_format(row, 2, e.kind.label(), &styles.text)?;
            ws.write_string_with_format(row, 3, &e.subject, &styles.text)?;
            let amount: f64 = crate::engine::results::text(e.amount)
                .parse()
                .unwrap_or(0.0);
            ws.write_number_with_format(row, 4, amount, &styles.money)?;
            ws.write_string_with_format(row, 5, &e.detail, &styles.text)?;
            row += 1;
        }
    }
    for (col, w) in [
        (0u16, 24.0),
        (1, 8.0),
        (2, 22.0),
        (3, 30.0),
        (4, 16.0),
        (5, 80.0),
    ] {
        ws.set_column_width(col, w)?;
    }
    ws.set_freeze_panes(3, 0)?;
    Ok(())
}

fn write_charts(
    wb: &mut Workbook,
    deal: &Deal,
    runs: &[Results],
    sheets: &[CalcSheet],
    gov_names: &[String],
    governments: &[(usize, String)],
) -> Result<(), WriteError> {
    let Some(first) = runs.first() else {
        return Ok(());
    };
    let periods = first.calc.periods as u32;
    let years = |sheet: &CalcSheet| {
        (
            sheet.place.sheet.clone(),
            YEAR_ROW,
            FIRST_PERIOD_COL,
            YEAR_ROW,
            FIRST_PERIOD_COL + periods as u16 - 1,
        )
    };
    let series_of = |sheet: &CalcSheet, row: RowId| {
        (
            sheet.place.sheet.clone(),
            sheet.place.row_of[row],
            FIRST_PERIOD_COL,
            sheet.place.row_of[row],
            FIRST_PERIOD_COL + periods as u16 - 1,
        )
    };
    let mut charts = Vec::new();

    // 1. Each product's price: the deck (base case) against every scenario.
    for (p, (product, _)) in first.lines.prices.iter().enumerate() {
        let mut chart = Chart::new(ChartType::Line);
        chart
            .title()
            .set_name(&format!("{product}: market price by scenario"));
        for (run, sheet) in runs.iter().zip(sheets) {
            let Some((_, row)) = run.lines.prices.get(p) else {
                continue;
            };
            let (ys, yr, yc, _, yc2) = years(sheet);
            let (s, r, c, r2, c2) = series_of(sheet, *row);
            chart
                .add_series()
                .set_name(&run.scenario)
                .set_categories((ys.as_str(), yr, yc, yr, yc2))
                .set_values((s.as_str(), r, c, r2, c2));
        }
        chart.y_axis().set_name(&format!(
            "{} per {}",
            deal.products
                .get(p)
                .map(|x| x.currency.value.clone())
                .unwrap_or_default(),
            deal.products
                .get(p)
                .map(|x| x.unit.value.label().trim_start_matches("per ").to_string())
                .unwrap_or_default()
        ));
        charts.push(chart);
    }
    // 2. The project's annual cash flow (bars) and cumulative position (line), base case.
    if let (Some(sheet), Some(post)) = (sheets.first(), first.lines.project.post_tax) {
        let mut bars = Chart::new(ChartType::Column);
        bars.title()
            .set_name("Project: unlevered cash flow after tax (base case)");
        let (ys, yr, yc, _, yc2) = years(sheet);
        let (s, r, c, r2, c2) = series_of(sheet, post);
        bars.add_series()
            .set_name("Annual")
            .set_categories((ys.as_str(), yr, yc, yr, yc2))
            .set_values((s.as_str(), r, c, r2, c2));
        let Some(cumulative) = first.lines.project.cumulative else {
            return Ok(());
        };
        let mut line = Chart::new(ChartType::Line);
        let (s, r, c, r2, c2) = series_of(sheet, cumulative);
        line.add_series()
            .set_name("Cumulative (right axis)")
            .set_categories((ys.as_str(), yr, yc, yr, yc2))
            .set_values((s.as_str(), r, c, r2, c2))
            .set_secondary_axis(true);
        bars.combine(&line);
        bars.y_axis()
            .set_name(&format!("{} m", deal.currency.value))
            .set_num_format("#,##0,,");
        bars.y2_axis().set_num_format("#,##0,,");
        charts.push(bars);
    }
    // 3. DSCR of each loan with a DSCR, by scenario.
    // From the base case's first operating year: before it there is no debt service.
    let first_op = first
        .lines
        .operating
        .and_then(|r| first.values.row(r).iter().position(|v| *v == Decimal::ONE))
        .unwrap_or(0) as u16;
    for (k, tl) in first.lines.tranches.iter().enumerate() {
        if tl.dscr.is_none() {
            continue;
        }
        let name = &deal.tranches[tl.tranche].name.value;
        let mut chart = Chart::new(ChartType::Line);
        let title = if tl.covenant.is_some() {
            format!("{name}: DSCR by scenario, and its lock-up covenant")
        } else {
            format!("{name}: DSCR by scenario")
        };
        chart.title().set_name(&title);
        let window = |sheet: &CalcSheet, row: RowId| {
            let r = sheet.place.row_of[row];
            (
                sheet.place.sheet.clone(),
                r,
                FIRST_PERIOD_COL + first_op,
                r,
                FIRST_PERIOD_COL + periods as u16 - 1,
            )
        };
        for (run, sheet) in runs.iter().zip(sheets) {
            let Some(dscr) = run.lines.tranches.get(k).and_then(|t| t.dscr) else {
                continue;
            };
            let (ys, yr, _, _, yc2) = years(sheet);
            let (s, r, c, r2, c2) = window(sheet, dscr);
            chart
                .add_series()
                .set_name(&run.scenario)
                .set_categories((ys.as_str(), yr, FIRST_PERIOD_COL + first_op, yr, yc2))
                .set_values((s.as_str(), r, c, r2, c2));
        }
        if let (Some(covenant), Some(sheet)) = (tl.covenant, sheets.first()) {
            let (ys, yr, _, _, yc2) = years(sheet);
            let (s, r, c, r2, c2) = window(sheet, covenant);
            chart
                .add_series()
                .set_name("Lock-up covenant")
                .set_categories((ys.as_str(), yr, FIRST_PERIOD_COL + first_op, yr, yc2))
                .set_values((s.as_str(), r, c, r2, c2));
        }
        chart.y_axis().set_name("DSCR (x), 0 without debt service");
        charts.push(chart);
    }
    // 4. Each government's cumulative net position, by scenario.
    for (g, (party, pname)) in governments.iter().enumerate() {
        let mut chart = Chart::new(ChartType::Line);
        chart
            .title()
            .set_name(&format!("{pname}: cumulative net position by scenario"));
        chart
            .y_axis()
            .set_name(&format!("{} m", deal.currency.value))
            .set_num_format("#,##0,,");
        for (run, sheet) in runs.iter().zip(sheets) {
            let (ys, yr, yc, _, yc2) = years(sheet);
            let (s, r, c, r2, c2) = series_of(sheet, run.lines.parties[*party].cumulative);
            chart
                .add_series()
                .set_name(&run.scenario)
                .set_categories((ys.as_str(), yr, yc, yr, yc2))
                .set_values((s.as_str(), r, c, r2, c2));
        }
        let _ = &gov_names[g];
        charts.push(chart);
    }
    let ws = wb.worksheet_from_name("Charts")?;
    ws.write_string(
        0,
        0,
        "Charts (they read the calculation sheets, so they follow any change of inputs)",
    )?;
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    for (k, chart) in charts.iter_mut().enumerate() {
        chart.set_width(760).set_height(360);
        // Year labels below the plot, not across negative bars.
        chart
            .x_axis()
            .set_label_position(ChartAxisLabelPosition::Low);
        ws.insert_chart(2 + 20 * k as u32, 0, chart)?;
    }
    Ok(())
}

/// Names for the key inputs and outputs, so that formulas and readers can say what they mean.
fn define_names(
    wb: &mut Workbook,
    deal: &Deal,
    runs: &[Results],
    sheets: &[CalcSheet],
) -> Result<(), WriteError> {
    let inputs = DealInputs(deal);
    for (name, field) in [
        ("ModelStartDate", DealField::StartDate),
        ("Horizon", DealField::Horizon),
        ("ProjectDiscountRate", DealField::DiscountRate),
    ] {
        if let Some(cell) = inputs.cell(&Key::of(InputKey::Deal(field))) {
            wb.define_name(name, &format!("={}", external(&cell)))?;
        }
    }
    for (k, (run, sheet)) in runs.iter().zip(sheets).enumerate() {
        let tag = format!("S{}", k + 1);
        let pj = &run.lines.project;
        for (label, id) in [
            ("ProjectNPV", pj.npv_post_tax),
            ("ProjectIRR", pj.irr_post_tax),
            ("RiskedNPV", pj.risked_npv),
        ] {
            if let Some(id) = id {
                wb.define_name(
                    format!("{tag}_{label}"),
                    &format!("={}", scalar_ref(sheet, id)),
                )?;
            }
        }
    }
    Ok(())
}
