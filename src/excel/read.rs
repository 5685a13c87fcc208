//! Reads a deal workbook (xlsx, xlsm, xls, ods) into a validated `Deal`, or every problem
//! with it at once, each naming its file, sheet and cell.
//!
//! Owns the input layout as it is read: which cell holds which field (always through
//! `schema`), blank rows, extra columns, defaults, formulas without saved values, and the
//! suppression of follow-on errors (an "unknown facility" is not reported while the
//! Facilities sheet itself has errors). Must not write anything: the input file is only ever
//! opened for reading. Cell values become exact values only through `value`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use calamine::Data;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::access::Column;
use super::book::{self, OpenError, SheetCells};
use super::headers::{self, HeaderMatch};
use super::schema::{self, Field, Layout, SHEETS, SheetSchema, ValueType};
use super::value::{self, Rejected};
use crate::model::source::column_letters;
use crate::model::validate::{NameList, findings};
use crate::model::*;

/// Everything wrong with a workbook, ready to print one problem per line.
#[derive(Debug, Clone)]
pub struct ReadErrors {
    /// The file as the user named it.
    pub file: String,
    /// Sorted by sheet (in schema order), then row, then column.
    pub errors: Vec<InputError>,
    /// Why the file could not be read at all (its one error says so), as `source()`; None
    /// when it was read and what it says is not a valid deal.
    pub cause: Option<Arc<FileError>>,
}

/// Two readings agree when they report the same problems: the cause is how the first of
/// them arose (an `io::Error`, which has no equality), not what it says.
impl PartialEq for ReadErrors {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file && self.errors == other.errors
    }
}

/// Why a deal file could not be read as a workbook at all.
#[derive(Debug)]
pub enum FileError {
    /// The file cannot be opened (no such file, permission denied, …).
    Open(std::io::Error),
    /// The file opened but reading it failed.
    Read(std::io::Error),
    Folder,
    Empty,
    /// Over `book::MAX_FILE_BYTES`: the file's size.
    TooLarge(u64),
    /// Not a workbook of a supported format: why.
    NotWorkbook(String),
    /// A damaged workbook, with the reader's error that found it as its source.
    Damaged(book::Damaged),
    /// The spreadsheet reader failed on malformed data (a panic, caught).
    Unreadable,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const EXPECTED: &str = "expected an .xlsx, .xlsm, .xls or .ods file";
        match self {
            FileError::Open(e) => write!(f, "cannot open the file ({})", io_reason(e)),
            FileError::Read(e) => write!(f, "cannot read the file ({})", io_reason(e)),
            FileError::Folder => write!(f, "is a folder, not a spreadsheet ({EXPECTED})"),
            FileError::Empty => write!(f, "empty file (0 bytes), not a spreadsheet ({EXPECTED})"),
            FileError::TooLarge(n) => f.write_str(&book::too_large(*n)),
            FileError::NotWorkbook(reason) => {
                write!(f, "not a spreadsheet ({reason}; {EXPECTED})")
            }
            FileError::Damaged(d) => write!(f, "not a spreadsheet ({d}; {EXPECTED})"),
            FileError::Unreadable => f.write_str(
                "not a readable spreadsheet (the spreadsheet reader failed on malformed data)",
            ),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Open(e) | FileError::Read(e) => Some(e),
            FileError::Damaged(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for ReadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {e}", self.file)?;
        }
        Ok(())
    }
}

impl std::error::Error for ReadErrors {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|c| c as _)
    }
}

impl ReadErrors {
    fn file_level(file: &str, cause: FileError) -> Self {
        ReadErrors {
            file: file.to_string(),
            errors: vec![InputError::new(None, cause.to_string())],
            cause: Some(Arc::new(cause)),
        }
    }
}

/// Reads and validates a deal. Never panics, whatever the file holds, never modifies it, and
/// reads it in bounded memory and time (see `book`).
pub fn read_deal(path: &Path) -> Result<Deal, ReadErrors> {
    read(path).deal
}

/// What reading a deal gave: the deal or every problem with it, and beside either the
/// warnings (inputs that are read but probably not meant) and the defaults applied.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The file as the user named it.
    pub file: String,
    pub deal: Result<Deal, ReadErrors>,
    /// Sorted by sheet (in schema order), then row, then column.
    pub warnings: Vec<InputWarning>,
    /// In the order they were applied (sheet by sheet, record by record).
    pub defaults: Vec<DefaultUse>,
}

impl Reading {
    /// The warnings, one per line, each as `FILE: 'Sheet'!B7: warning: …`.
    pub fn warning_lines(&self) -> Vec<String> {
        self.warnings
            .iter()
            .map(|w| format!("{}: {w}", self.file))
            .collect()
    }

    fn file_level(file: &str, cause: FileError) -> Self {
        Reading {
            file: file.to_string(),
            deal: Err(ReadErrors::file_level(file, cause)),
            warnings: Vec::new(),
            defaults: Vec::new(),
        }
    }
}

/// A default the reader applied: a blank cell, or a column or item the sheet lacks, read as
/// the schema's default (`check --defaults` lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultUse {
    /// The sheet as the workbook names it.
    pub sheet: String,
    /// The blank cell; None when the sheet has no column (or item) for the field.
    pub cell: Option<CellRef>,
    /// The record's row (zero-based) on a table without the column.
    pub row: Option<u32>,
    pub field: &'static str,
    /// The schema's default, as documented.
    pub default: &'static str,
}

impl fmt::Display for DefaultUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.cell, self.row) {
            (Some(cell), _) => write!(f, "{cell}: {} is blank → {}", self.field, self.default),
            (None, Some(row)) => write!(
                f,
                "'{}' row {}: no {} column → {}",
                self.sheet,
                row.saturating_add(1),
                self.field,
                self.default
            ),
            (None, None) => write!(
                f,
                "'{}': no {} item → {}",
                self.sheet, self.field, self.default
            ),
        }
    }
}

/// What `lodestone check` decides: the deal as `read` gives it, refused too when the engine
/// cannot compute its base case or a scenario (`engine::preflight`), so that `check` refuses
/// whatever `run` would.
pub fn check(path: &Path) -> Reading {
    let mut reading = read(path);
    if let Ok(deal) = &reading.deal {
        let problems = crate::engine::preflight::preflight(deal);
        if !problems.is_empty() {
            reading.deal = Err(ReadErrors {
                file: reading.file.clone(),
                errors: problems,
                cause: None,
            });
        }
    }
    reading
}

/// Reads and validates a deal, with its warnings and defaults. Never panics, whatever the
/// file holds, and never modifies it.
pub fn read(path: &Path) -> Reading {
    let file = path.display().to_string();
    let bytes = match read_file(path) {
        Ok(bytes) => bytes,
        Err(cause) => return Reading::file_level(&file, cause),
    };
    read_bytes(&bytes, &file)
}

/// Reads and validates a deal from a workbook's bytes; `file` names it in messages.
pub fn read_deal_bytes(bytes: &[u8], file: &str) -> Result<Deal, ReadErrors> {
    read_bytes(bytes, file).deal
}

/// Reads and validates a deal from a workbook's bytes, with its warnings and defaults.
pub fn read_bytes(bytes: &[u8], file: &str) -> Reading {
    // A reader bug on malformed data must not take the program down with a backtrace.
    match std::panic::catch_unwind(|| read_workbook(bytes, file)) {
        Ok(reading) => reading,
        Err(_) => Reading::file_level(file, FileError::Unreadable),
    }
}

/// The file's bytes, up to the size Lodestone reads, or why they cannot be had.
fn read_file(path: &Path) -> Result<Vec<u8>, FileError> {
    let metadata = std::fs::metadata(path).map_err(FileError::Open)?;
    if metadata.is_dir() {
        return Err(FileError::Folder);
    }
    if metadata.len() == 0 {
        return Err(FileError::Empty);
    }
    if metadata.len() > book::MAX_FILE_BYTES {
        return Err(FileError::TooLarge(metadata.len()));
    }
    let file = std::fs::File::open(path).map_err(FileError::Open)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, book::MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(FileError::Read)?;
    Ok(bytes)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

fn read_workbook(bytes: &[u8], file: &str) -> Reading {
    let mut book = match book::open(bytes) {
        Ok(b) => b,
        Err(OpenError::NotWorkbook(reason)) => {
            return Reading::file_level(file, FileError::NotWorkbook(reason));
        }
        Err(OpenError::Damaged(d)) => return Reading::file_level(file, FileError::Damaged(d)),
        Err(OpenError::OverLimit {
            sheet,
            cell,
            message,
        }) => {
            let error = match (sheet, cell) {
                (Some(sheet), Some((row, col))) => {
                    InputError::at(CellRef::new(sheet, row, col), message)
                }
                (Some(sheet), None) => InputError::new(None, format!("'{sheet}': {message}")),
                (None, _) => InputError::new(None, message),
            };
            return Reading {
                file: file.to_string(),
                deal: Err(ReadErrors {
                    file: file.to_string(),
                    errors: vec![error],
                    cause: None,
                }),
                warnings: Vec::new(),
                defaults: Vec::new(),
            };
        }
    };
    let mut log = Log::default();
    let names = book.sheet_names();
    let mut grids: HashMap<&'static str, Grid> = HashMap::new();
    for sheet in SHEETS {
        let Some(actual) = names
            .iter()
            .find(|n| n.trim().eq_ignore_ascii_case(sheet.name))
        else {
            // A missing optional sheet means "none of these": its list is empty, truly, so
            // checks that consult it (a deck in CNY without an FX sheet) must still speak.
            if sheet.required {
                log.sheet_error(
                    sheet.name,
                    format!(
                        "missing sheet '{}' (a required sheet; the workbook has {})",
                        sheet.name,
                        if names.is_empty() {
                            "no sheets".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                );
            }
            continue;
        };
        log.actual_names.insert(actual.clone(), sheet.name);
        let cells = match book.read_sheet(actual) {
            Ok(c) => c,
            Err(e) => {
                log.broken.insert(sheet.name);
                log.sheet_error(
                    sheet.name,
                    format!("'{actual}': cannot read the sheet ({e})"),
                );
                continue;
            }
        };
        // Cells far outside the tables: the sheet is refused with one message naming them.
        if let Some(stray) = &cells.stray {
            let ((row, col), message) = stray.message();
            log.cell_error(sheet.name, CellRef::new(actual.clone(), row, col), message);
            continue;
        }
        grids.insert(sheet.name, Grid::new(actual.clone(), cells));
    }
    misnamed_sheets(&names, &grids, &mut log);
    let deal = build_deal(&grids, &mut log);
    finish(file, deal, log)
}

/// A sheet the reader does not read whose name is close to a sheet the workbook lacks
/// (`Scenario` for Scenarios): an error, or its rows would be ignored without a word.
fn misnamed_sheets(names: &[String], grids: &HashMap<&'static str, Grid>, log: &mut Log) {
    let missing: Vec<&SheetSchema> = SHEETS
        .iter()
        .filter(|s| !grids.contains_key(s.name))
        .collect();
    for name in names {
        // A sheet read, or matched to a schema sheet and refused (over a limit, unreadable):
        // its own message says what is wrong with it.
        if grids.values().any(|g| g.name == *name)
            || SHEETS
                .iter()
                .any(|s| name.trim().eq_ignore_ascii_case(s.name))
        {
            continue;
        }
        if let Some(meant) = headers::near_sheet(name, &missing) {
            log.sheet_error(
                meant.name,
                format!(
                    "the sheet '{name}' is not read (did you mean '{}'? rename it '{}'; as named, its rows are ignored)",
                    meant.name, meant.name
                ),
            );
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Adds the semantic checks to the reading errors, drops checks that only echo a reading
/// error, sorts, and decides.
fn finish(file: &str, deal: Deal, mut log: Log) -> Reading {
    for f in findings(&deal) {
        let echoes_failed_cell = f.cells.iter().any(|c| log.failed.contains(c))
            || f.error
                .cell
                .as_ref()
                .is_some_and(|c| log.refused.contains(c));
        let echoes_broken_sheet = f.lists.iter().any(|l| log.broken.contains(list_sheet(*l)));
        if echoes_failed_cell || echoes_broken_sheet {
            continue;
        }
        let key = log.sort_key(f.error.cell.as_ref());
        log.errors.push((key, f.error));
    }
    // Implausible values are only worth a word on a deal that is otherwise valid.
    if log.errors.is_empty() {
        for w in crate::model::plausible::warnings(&deal) {
            log.warn(w.cell, w.message);
        }
    }
    let mut warnings = std::mem::take(&mut log.warnings);
    warnings.sort_by_key(|a| a.0);
    let mut seen = HashSet::new();
    let warnings: Vec<InputWarning> = warnings
        .into_iter()
        .map(|(_, w)| w)
        .filter(|w| seen.insert(w.clone()))
        .collect();
    let mut seen = HashSet::new();
    let defaults: Vec<DefaultUse> = std::mem::take(&mut log.defaults)
        .into_iter()
        .filter(|d| seen.insert((d.sheet.clone(), d.cell.clone(), d.row, d.field)))
        .collect();
    let reading = |deal| Reading {
        file: file.to_string(),
        deal,
        warnings,
        defaults,
    };
    if log.errors.is_empty() {
        return reading(Ok(deal));
    }
    let mut errors = log.errors;
    errors.sort_by_key(|a| a.0);
    let mut seen = HashSet::new();
    errors.retain(|(_, e)| seen.insert(e.clone()));
    reading(Err(ReadErrors {
        file: file.to_string(),
        errors: capped(errors),
        cause: None,
    }))
}

/// The most problems shown for one sheet: past them a sheet is wrong throughout (a shifted
/// table, a pasted block), and ten thousand lines help no one.
pub const MAX_PROBLEMS_PER_SHEET: usize = 50;

/// The first `MAX_PROBLEMS_PER_SHEET` problems of each sheet (in order), then one line
/// saying how many more there are.
fn capped(errors: Vec<((usize, u32, u32), InputError)>) -> Vec<InputError> {
    let mut out = Vec::with_capacity(errors.len().min(SHEETS.len() * MAX_PROBLEMS_PER_SHEET));
    let mut i = 0;
    while i < errors.len() {
        let sheet = errors[i].0.0;
        let end = errors[i..]
            .iter()
            .position(|(k, _)| k.0 != sheet)
            .map_or(errors.len(), |n| i + n);
        let group = &errors[i..end];
        out.extend(
            group
                .iter()
                .take(MAX_PROBLEMS_PER_SHEET)
                .map(|(_, e)| e.clone()),
        );
        if group.len() > MAX_PROBLEMS_PER_SHEET {
            let more = book::thousands((group.len() - MAX_PROBLEMS_PER_SHEET) as u64);
            let whom = match SHEETS.get(sheet) {
                Some(s) => format!("on the sheet '{}'", s.name),
                None => "elsewhere".to_string(),
            };
            out.push(InputError::new(
                None,
                format!(
                    "and {more} more problems {whom} (the first {MAX_PROBLEMS_PER_SHEET} are shown; fix them and check again)"
                ),
            ));
        }
        i = end;
    }
    out
}

fn list_sheet(list: NameList) -> &'static str {
    match list {
        NameList::Facilities => schema::FACILITIES.name,
        NameList::Products => schema::PRICES.name,
        NameList::Fx => schema::FX.name,
        NameList::Fiscal => schema::FISCAL.name,
        NameList::Parties => schema::PARTIES.name,
        NameList::Tranches => schema::FINANCING.name,
        NameList::Participants => schema::PARTICIPANTS.name,
        NameList::Offtakes => schema::OFFTAKE.name,
        NameList::Supports => schema::PRICE_SUPPORT.name,
        NameList::Scenarios => schema::SCENARIOS.name,
        NameList::MonteCarlo => schema::MONTE_CARLO.name,
    }
}

fn sheet_index(name: &str) -> usize {
    SHEETS
        .iter()
        .position(|s| s.name == name)
        .unwrap_or(SHEETS.len())
}

/// A sheet as read: its values and formulas within bounds, at absolute positions, kept
/// sparse (only cells that hold something), so that memory follows the cells present.
struct Grid {
    name: String,
    values: HashMap<(u32, u32), Data>,
    formulas: HashMap<(u32, u32), String>,
    /// The rows and columns that hold anything (values or formulas), absolute.
    extent: Option<((u32, u32), (u32, u32))>,
}

static EMPTY: Data = Data::Empty;

impl Grid {
    fn new(name: String, cells: SheetCells) -> Self {
        let mut extent: Option<((u32, u32), (u32, u32))> = None;
        for &(r, c) in cells.values.keys().chain(cells.formulas.keys()) {
            extent = Some(match extent {
                None => ((r, c), (r, c)),
                Some((a, b)) => ((a.0.min(r), a.1.min(c)), (b.0.max(r), b.1.max(c))),
            });
        }
        Grid {
            name,
            values: cells.values,
            formulas: cells.formulas,
            extent,
        }
    }

    fn data(&self, row: u32, col: u32) -> &Data {
        self.values.get(&(row, col)).unwrap_or(&EMPTY)
    }

    fn formula(&self, row: u32, col: u32) -> Option<&str> {
        self.formulas
            .get(&(row, col))
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    /// Blank: nothing saved and no formula.
    fn is_blank(&self, row: u32, col: u32) -> bool {
        is_blank(self.data(row, col)) && self.formula(row, col).is_none()
    }

    /// The rows and columns that hold anything (values or formulas), absolute.
    fn extent(&self) -> Option<((u32, u32), (u32, u32))> {
        self.extent
    }

    fn cell(&self, row: u32, col: u32) -> CellRef {
        CellRef::new(self.name.clone(), row, col)
    }
}

fn is_blank(d: &Data) -> bool {
    match d {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The reading errors so far, the cells that failed (their values are placeholders), and
/// the sheets with any error (checks consulting their name lists are not trusted).
#[derive(Default)]
pub(crate) struct Log {
    errors: Vec<((usize, u32, u32), InputError)>,
    failed: HashSet<CellRef>,
    /// Cells read but refused (a value where its field does not apply).
    refused: HashSet<CellRef>,
    broken: HashSet<&'static str>,
    /// Actual sheet name → schema sheet name.
    actual_names: HashMap<String, &'static str>,
    warnings: Vec<((usize, u32, u32), InputWarning)>,
    defaults: Vec<DefaultUse>,
}

impl Log {
    fn sort_key(&self, cell: Option<&CellRef>) -> (usize, u32, u32) {
        match cell {
            Some(c) => {
                let schema_name = self
                    .actual_names
                    .get(&c.sheet)
                    .copied()
                    .unwrap_or(c.sheet.as_str());
                (sheet_index(schema_name), c.row.saturating_add(1), c.col)
            }
            None => (usize::MAX, 0, 0),
        }
    }

    fn sheet_error(&mut self, sheet: &'static str, message: String) {
        self.broken.insert(sheet);
        self.errors
            .push(((sheet_index(sheet), 0, 0), InputError::new(None, message)));
    }

    /// Whether a cell could not be read (its value is a placeholder that must not raise
    /// further errors).
    pub(crate) fn is_failed(&self, cell: &CellRef) -> bool {
        self.failed.contains(cell)
    }

    /// An error about a value that was read as it is (not a placeholder): checks on other
    /// cells of its row still run; `validate`'s findings about this very cell are dropped
    /// (one error per cell).
    pub(crate) fn refuse(&mut self, sheet: &'static str, cell: CellRef, message: String) {
        self.broken.insert(sheet);
        self.refused.insert(cell.clone());
        let key = self.sort_key(Some(&cell));
        self.errors.push((key, InputError::at(cell, message)));
    }

    pub(crate) fn cell_error(&mut self, sheet: &'static str, cell: CellRef, message: String) {
        self.broken.insert(sheet);
        self.failed.insert(cell.clone());
        let key = self.sort_key(Some(&cell));
        self.errors.push((key, InputError::at(cell, message)));
    }

    fn warn(&mut self, cell: Option<CellRef>, message: String) {
        let key = self.sort_key(cell.as_ref());
        self.warnings.push((key, InputWarning::new(cell, message)));
    }

    /// A value that could not be read at all (its sheet or column is missing): a cell no
    /// one will see, marked failed so that checks using the placeholder stay quiet.
    pub(crate) fn phantom(&mut self, sheet: &'static str) -> CellRef {
        let cell = CellRef::new(format!("{sheet} (missing)"), u32::MAX, u32::MAX);
        self.failed.insert(cell.clone());
        cell
    }
}

// ----- Reading one cell as a type ---------------------------------------------------------

/// Why a cell did not read as its type.
pub(crate) struct Problem {
    /// "is not a number".
    what: String,
    /// "a number (t/yr)".
    expected: String,
    /// Appended after the expectation: "; currency marks are not read …".
    hint: Option<String>,
}

impl Problem {
    fn new(what: &str, expected: String) -> Self {
        Problem {
            what: what.to_string(),
            expected,
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

fn expectation(field: &Field) -> String {
    match field.value_type {
        ValueType::Text => format!("text: {}", lower_first(field.meaning.trim_end_matches('.'))),
        ValueType::Number if field.unit.is_empty() => "a number".to_string(),
        ValueType::Number => format!("a number ({})", field.unit),
        ValueType::Percent => "a percentage such as 5% or 0.05".to_string(),
        ValueType::Integer => "a whole number of 0 or more".to_string(),
        ValueType::Year => "a year such as 2031".to_string(),
        ValueType::Date => "a date such as 2027-01-01".to_string(),
        ValueType::YesNo => "yes or no".to_string(),
        ValueType::Choice(labels) => format!("one of: {}", labels().join(", ")),
        ValueType::ChoiceList(labels) => {
            format!("a comma-separated list of: {}", labels().join(", "))
        }
    }
}

/// A type a cell can be read as.
pub(crate) trait FromCell: Sized {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem>;
    /// Stands in for a value that could not be read.
    fn placeholder() -> Self;
    /// The value as a number, for a field's declared range (None: not a number).
    fn number(&self) -> Option<Decimal> {
        None
    }
}

fn decimal_from_data(data: &Data, field: &Field) -> Result<Decimal, Problem> {
    let what = match field.value_type {
        ValueType::Percent => "is not a percentage",
        _ => "is not a number",
    };
    let exp = || expectation(field);
    match data {
        Data::Float(x) => value::decimal_from_f64(*x)
            .map_err(|e| Problem::new("cannot be held exactly", exp()).hint(e)),
        Data::Int(i) => Ok(Decimal::from(*i)),
        Data::String(s) => value::number_from_text(s).map_err(|Rejected(reason)| {
            let p = Problem::new(what, exp());
            if reason == "is not a number" {
                p
            } else {
                p.hint(reason)
            }
        }),
        Data::DateTime(_) | Data::DateTimeIso(_) => Err(Problem::new(what, exp())
            .hint("the cell is formatted as a date; format it as a number")),
        _ => Err(Problem::new(what, exp())),
    }
}

impl FromCell for Decimal {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        decimal_from_data(data, field)
    }
    fn placeholder() -> Self {
        Decimal::ZERO
    }
    fn number(&self) -> Option<Decimal> {
        Some(*self)
    }
}

impl FromCell for u32 {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        let exp = expectation(field);
        if let Data::String(s) = data
            && s.contains('%')
        {
            return Err(Problem::new("is not a whole number", exp));
        }
        let d = decimal_from_data(data, field).map_err(|p| Problem {
            what: "is not a whole number".into(),
            ..p
        })?;
        if !d.is_integer() {
            return Err(Problem::new("is not a whole number", exp));
        }
        if d < Decimal::ZERO {
            return Err(Problem::new("is negative", exp));
        }
        u32::try_from(d).map_err(|_| Problem::new("is too large", exp))
    }
    fn placeholder() -> Self {
        0
    }
    fn number(&self) -> Option<Decimal> {
        Some(Decimal::from(*self))
    }
}

impl FromCell for i32 {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        let exp = expectation(field);
        if let Data::String(s) = data
            && s.contains('%')
        {
            return Err(Problem::new("is not a year", exp));
        }
        let d = decimal_from_data(data, field).map_err(|p| Problem {
            what: "is not a year".into(),
            ..p
        })?;
        value::year_from_decimal(d).ok_or_else(|| {
            Problem::new("is not a year", exp).hint("years are whole numbers from 1900 to 2200")
        })
    }
    fn placeholder() -> Self {
        0
    }
    fn number(&self) -> Option<Decimal> {
        Some(Decimal::from(*self))
    }
}

impl FromCell for NaiveDate {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        let exp = || expectation(field);
        let fail =
            |reason: String| Problem::new("is not a date", exp()).hint(format!("it {reason}"));
        match data {
            Data::DateTime(dt) => value::date_from_excel(dt).map_err(fail),
            Data::DateTimeIso(s) => value::date_from_iso(s).map_err(fail),
            Data::String(s) => {
                value::date_from_iso(s).map_err(|_| Problem::new("is not a date", exp()))
            }
            Data::Float(x) => {
                let d = value::decimal_from_f64(*x)
                    .map_err(|_| Problem::new("is not a date", exp()))?;
                value::date_from_serial(d).map_err(|reason| {
                    fail(format!(
                        "is the date serial {} and {reason}",
                        value::shortest(*x)
                    ))
                })
            }
            Data::Int(i) => value::date_from_serial(Decimal::from(*i)).map_err(fail),
            _ => Err(Problem::new("is not a date", exp())),
        }
    }
    fn placeholder() -> Self {
        NaiveDate::default()
    }
}

impl FromCell for bool {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        let fail = || Problem::new("is not yes or no", expectation(field));
        match data {
            Data::Bool(b) => Ok(*b),
            Data::String(s) => value::yes_no_from_text(s).ok_or_else(fail),
            Data::Float(x) if *x == 1.0 => Ok(true),
            Data::Float(x) if *x == 0.0 => Ok(false),
            Data::Int(1) => Ok(true),
            Data::Int(0) => Ok(false),
            _ => Err(fail()),
        }
    }
    fn placeholder() -> Self {
        false
    }
}

impl FromCell for String {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        match data {
            Data::String(s) => Ok(s.trim().to_string()),
            Data::Float(x) => Ok(value::shortest(*x)),
            Data::Int(i) => Ok(i.to_string()),
            _ => Err(Problem::new("is not text", expectation(field))),
        }
    }
    fn placeholder() -> Self {
        String::new()
    }
}

/// The labelled enums are read by their label, forgiving case and `-`/`_`/space (any
/// `Labelled` type: a new choice needs nothing here).
impl<T: Labelled> FromCell for T {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        let what = format!("is not a recognised {}", field.name.to_lowercase());
        match data {
            Data::String(s) => T::parse(s).ok_or_else(|| Problem::new(&what, expectation(field))),
            _ => Err(Problem::new(&what, expectation(field))),
        }
    }
    fn placeholder() -> Self {
        T::all()[0]
    }
}

/// A comma-separated list of labels, each once.
impl<T: Labelled> FromCell for Vec<T> {
    fn from_cell(data: &Data, field: &Field) -> Result<Self, Problem> {
        let Data::String(s) = data else {
            return Err(Problem::new("is not a list", expectation(field)));
        };
        let mut out = Vec::new();
        for part in s.split(',') {
            if part.trim().is_empty() {
                continue;
            }
            match T::parse(part) {
                Some(v) if !out.contains(&v) => out.push(v),
                Some(_) => {}
                None => {
                    return Err(Problem::new(
                        &format!(
                            "names an unknown {} '{}'",
                            field.name.to_lowercase(),
                            part.trim()
                        ),
                        expectation(field),
                    ));
                }
            }
        }
        Ok(out)
    }
    fn placeholder() -> Self {
        Vec::new()
    }
}

/// What reading one field gave.
enum Slot<T> {
    Value(Sourced<T>),
    /// Nothing there; the cell, when the field has a place on the sheet.
    Blank(Option<CellRef>),
    /// Could not be read (already reported).
    Failed(CellRef),
}

/// One sheet's layout as found: where each field is.
struct Sheet<'g> {
    grid: &'g Grid,
    schema: &'static SheetSchema,
    /// Table: field name → column. Key/value: field name → (row, value column).
    columns: HashMap<&'static str, u32>,
    items: HashMap<&'static str, (u32, u32)>,
    /// Time series: (year, column), in column order.
    years: Vec<(i32, u32)>,
    /// The rows holding records, in order.
    rows: Vec<u32>,
    /// Table and matrix headers that name no field: (text, column), in column order.
    others: Vec<(String, u32)>,
    /// The header row of a table.
    header: u32,
    /// Fields whose header (or label) is misspelt (already reported): their values are not
    /// read, and checks that would use them stay quiet.
    misspelt: HashSet<&'static str>,
}

/// One record (a table row, or the whole of a key/value sheet).
#[derive(Clone, Copy)]
pub(crate) struct Rec<'s, 'g> {
    sheet: &'s Sheet<'g>,
    row: Option<u32>,
}

impl<'s, 'g> Rec<'s, 'g> {
    fn field(&self, name: &str) -> &'static Field {
        // Names are the schema's own constants; an unknown one is a bug caught by tests.
        self.sheet
            .schema
            .fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or(&UNKNOWN_FIELD)
    }

    fn position(&self, name: &'static str) -> Option<(u32, u32)> {
        match self.row {
            Some(row) => self.sheet.columns.get(name).map(|c| (row, *c)),
            None => self.sheet.items.get(name).copied(),
        }
    }

    fn is_blank(&self, name: &'static str) -> bool {
        match self.position(name) {
            Some((r, c)) => self.sheet.grid.is_blank(r, c),
            None => true,
        }
    }

    fn read<T: FromCell>(&self, log: &mut Log, name: &'static str) -> Slot<T> {
        let field = self.field(name);
        let Some((row, col)) = self.position(name) else {
            if self.sheet.misspelt.contains(name) {
                return Slot::Failed(log.phantom(self.sheet.schema.name));
            }
            return Slot::Blank(None);
        };
        read_cell(self.sheet, log, row, col, field, field.name)
    }

    /// A field that must be filled.
    pub(crate) fn required<T: FromCell>(&self, log: &mut Log, name: &'static str) -> Sourced<T> {
        match self.read(log, name) {
            Slot::Value(v) => v,
            Slot::Failed(cell) => Sourced::new(T::placeholder(), cell),
            Slot::Blank(Some(cell)) => {
                let field = self.field(name);
                log.cell_error(
                    self.sheet.schema.name,
                    cell.clone(),
                    format!(
                        "{} is missing (found a blank, expected {})",
                        field.name,
                        expectation(field)
                    ),
                );
                Sourced::new(T::placeholder(), cell)
            }
            Slot::Blank(None) => {
                // The whole column or item is missing; reported once for the sheet.
                let cell = log.phantom(self.sheet.schema.name);
                Sourced::new(T::placeholder(), cell)
            }
        }
    }

    /// A field whose blank means the schema's default.
    pub(crate) fn defaulted<T: FromCell>(&self, log: &mut Log, name: &'static str) -> Sourced<T> {
        match self.read(log, name) {
            Slot::Value(v) => v,
            Slot::Failed(cell) => Sourced::new(T::placeholder(), cell),
            Slot::Blank(cell) => {
                let field = self.field(name);
                self.applied_default(log, field, &cell);
                let value = match T::from_cell(&Data::String(field.default.to_string()), field) {
                    Ok(v) => v,
                    Err(_) => {
                        log.sheet_error(
                            self.sheet.schema.name,
                            format!(
                                "internal: the default of {} ('{}') cannot be read; please report this",
                                field.name, field.default
                            ),
                        );
                        T::placeholder()
                    }
                };
                Sourced { value, cell }
            }
        }
    }

    /// A field whose blank means "another value" that the schema describes in words.
    pub(crate) fn or<T: FromCell>(
        &self,
        log: &mut Log,
        name: &'static str,
        blank: T,
    ) -> Sourced<T> {
        match self.read(log, name) {
            Slot::Value(v) => v,
            Slot::Failed(cell) => Sourced::new(T::placeholder(), cell),
            Slot::Blank(cell) => {
                self.applied_default(log, self.field(name), &cell);
                Sourced { value: blank, cell }
            }
        }
    }

    /// A field whose blank means none, or a default the model works out (the schema says
    /// which in words: "first construction year").
    pub(crate) fn optional<T: FromCell>(
        &self,
        log: &mut Log,
        name: &'static str,
    ) -> Option<Sourced<T>> {
        match self.read(log, name) {
            Slot::Value(v) => Some(v),
            Slot::Failed(cell) => Some(Sourced::new(T::placeholder(), cell)),
            Slot::Blank(cell) => {
                self.applied_default(log, self.field(name), &cell);
                None
            }
        }
    }

    /// Records a default applied to a blank (or absent) field, for `check --defaults`. A
    /// field whose blank simply means "none" (no documented default) is not a default.
    fn applied_default(&self, log: &mut Log, field: &'static Field, cell: &Option<CellRef>) {
        if field.default.is_empty() {
            return;
        }
        log.defaults.push(DefaultUse {
            sheet: self.sheet.grid.name.clone(),
            cell: cell.clone(),
            row: if cell.is_some() { None } else { self.row },
            field: field.name,
            default: field.default,
        });
    }

    /// The cell of a field, for messages about it (a phantom when it has no place).
    pub(crate) fn cell(&self, log: &mut Log, name: &'static str) -> CellRef {
        match self.position(name) {
            Some((r, c)) => self.sheet.grid.cell(r, c),
            None => log.phantom(self.sheet.schema.name),
        }
    }

    /// The sheet the record is on, as the schema names it.
    pub(crate) fn sheet_name(&self) -> &'static str {
        self.sheet.schema.name
    }

    /// What the cell of a field holds, for messages ("2%", "the text 'x'").
    pub(crate) fn found(&self, name: &'static str) -> String {
        self.position(name)
            .map(|(r, c)| described(self.sheet.grid.data(r, c), self.field(name)))
            .unwrap_or_else(|| "nothing".to_string())
    }

    /// Reports a value that is there but must not be.
    pub(crate) fn unwanted(&self, log: &mut Log, name: &'static str, why: &str, because: &str) {
        if !self.is_blank(name) {
            let cell = self.cell(log, name);
            let data = self
                .position(name)
                .map(|(r, c)| value::describe(self.sheet.grid.data(r, c)))
                .unwrap_or_default();
            log.cell_error(
                self.sheet.schema.name,
                cell,
                format!("{name} is given but {why} (found {data}, expected a blank: {because})"),
            );
        }
    }

    /// The series of a time-series row: every filled year column.
    fn series(&self, log: &mut Log, series_field: &'static Field) -> Vec<(Year, Sourced<Decimal>)> {
        let Some(row) = self.row else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (year, col) in &self.sheet.years {
            let label = format!("the {} for {year}", series_field.name);
            match read_cell(self.sheet, log, row, *col, series_field, &label) {
                Slot::Value(v) => out.push((*year, v)),
                Slot::Failed(cell) => out.push((*year, Sourced::new(Decimal::ZERO, cell))),
                Slot::Blank(_) => {}
            }
        }
        out
    }
}

static UNKNOWN_FIELD: Field = Field {
    name: "(unknown field)",
    unit: "",
    value_type: ValueType::Text,
    required: false,
    default: "",
    meaning: "",
    range: schema::Range::Any,
};

/// The pseudo-fields of time-series year columns.
static PRICE_CELL: Field = Field {
    name: "price",
    unit: "product unit",
    value_type: ValueType::Number,
    required: false,
    default: "",
    meaning: "",
    range: schema::Range::Any,
};
static FX_CELL: Field = Field {
    name: "rate",
    unit: "deal currency per unit",
    value_type: ValueType::Number,
    required: false,
    default: "",
    meaning: "",
    range: schema::Range::Any,
};
static RATE_CELL: Field = Field {
    name: "discount rate",
    unit: "%",
    value_type: ValueType::Percent,
    required: false,
    default: "",
    meaning: "",
    range: schema::Range::Any,
};

fn read_cell<T: FromCell>(
    sheet: &Sheet,
    log: &mut Log,
    row: u32,
    col: u32,
    field: &Field,
    label: &str,
) -> Slot<T> {
    let grid = sheet.grid;
    let cell = grid.cell(row, col);
    let data = grid.data(row, col);
    if let Data::Error(e) = data {
        log.cell_error(
            sheet.schema.name,
            cell.clone(),
            format!(
                "{label} holds an Excel error (found {e}, expected {}; fix the formula or the cell it refers to)",
                expectation(field)
            ),
        );
        return Slot::Failed(cell);
    }
    if matches!(data, Data::Empty) {
        if let Some(formula) = grid.formula(row, col) {
            log.cell_error(
                sheet.schema.name,
                cell.clone(),
                format!(
                    "{label} is a formula with no saved value (found ={}, expected {}; open the file in Excel or LibreOffice, recalculate and save it)",
                    short(formula),
                    expectation(field)
                ),
            );
            return Slot::Failed(cell);
        }
        return Slot::Blank(Some(cell));
    }
    if is_blank(data) {
        return Slot::Blank(Some(cell));
    }
    match T::from_cell(data, field) {
        Ok(v) if v.number().is_some_and(|n| !field.range.holds(n)) => {
            log.cell_error(
                sheet.schema.name,
                cell.clone(),
                format!(
                    "{label} is out of range (found {}, expected {})",
                    described(data, field),
                    field.range.expected()
                ),
            );
            Slot::Failed(cell)
        }
        Ok(v) => Slot::Value(Sourced::new(v, cell)),
        Err(p) => {
            let hint = p.hint.map(|h| format!("; {h}")).unwrap_or_default();
            log.cell_error(
                sheet.schema.name,
                cell.clone(),
                format!(
                    "{label} {} (found {}, expected {}{hint})",
                    p.what,
                    value::describe(data),
                    p.expected
                ),
            );
            Slot::Failed(cell)
        }
    }
}

/// A cell's value for a message about a field: a number in a percentage field as a
/// percentage (0.015 as 1.5%), anything else as `value::describe` shows it.
fn described(data: &Data, field: &Field) -> String {
    let number = match data {
        Data::Float(x) => value::decimal_from_f64(*x).ok(),
        Data::Int(i) => Some(Decimal::from(*i)),
        _ => None,
    };
    match (field.value_type, number) {
        (ValueType::Percent, Some(d)) => format!("{}%", (d * Decimal::ONE_HUNDRED).normalize()),
        _ => value::describe(data),
    }
}

fn short(s: &str) -> String {
    let shown: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        format!("{shown}…")
    } else {
        shown
    }
}

/// A header cell's text: a string as typed, or a number as its digits (a year typed where a
/// field belongs). None for a blank.
fn header_text(d: &Data) -> Option<String> {
    match d {
        Data::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Data::Float(x) => Some(value::shortest(*x)),
        Data::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A year column's header: a whole number 1900–2200 (as a number or text).
fn header_year(d: &Data) -> Option<i32> {
    let dec = match d {
        Data::Float(x) => value::decimal_from_f64(*x).ok()?,
        Data::Int(i) => Decimal::from(*i),
        Data::String(s) => value::exact_decimal(s.trim()).ok()?,
        _ => return None,
    };
    value::year_from_decimal(dec)
}

/// Whether a cell holds a number (or text that reads as one).
fn holds_number(d: &Data) -> bool {
    match d {
        Data::Float(_) | Data::Int(_) => true,
        Data::String(s) => value::number_from_text(s).is_ok(),
        _ => false,
    }
}

/// What a sheet does with its records, for messages: "every row", "the deal".
fn every_record(schema: &SheetSchema) -> &'static str {
    match schema.layout {
        Layout::KeyValue => "the deal",
        _ => "every row",
    }
}

/// The error for a header or label near fields of the sheet: "did you mean", what was
/// expected, and what the typo would have done.
fn near_message(schema: &SheetSchema, what: &str, text: &str, near: &[&Field]) -> String {
    let mean = headers::did_you_mean(near);
    let key_value = schema.layout == Layout::KeyValue;
    let expected = match near {
        [f] if !key_value && !f.unit.is_empty() => format!(" expected '{}'", f.header()),
        _ => String::new(),
    };
    let (colon, semicolon) = if expected.is_empty() {
        (" it is", " as")
    } else {
        (":", "; as")
    };
    let consequence = match near {
        [f] if f.required => format!("{colon} a required {what}"),
        [f] if f.default.is_empty() => format!(
            "{semicolon} typed, it is ignored and {} leaves {} blank",
            every_record(schema),
            f.name
        ),
        [f] => format!(
            "{semicolon} typed, it is ignored and {} takes the default, {}",
            every_record(schema),
            f.default
        ),
        _ => format!("{semicolon} typed, it is ignored"),
    };
    format!(
        "unknown {what} '{}' ({mean}{expected}{consequence})",
        short(text)
    )
}

/// The error for a header whose unit contradicts its field's: the values would be read in
/// another unit than their label says.
fn unit_message(text: &str, typed: &str, field: &Field) -> String {
    format!(
        "the header '{}' says {typed}, but Lodestone reads {} in {} (expected the header '{}' and values in {}; as it is, every value would be taken as {})",
        short(text),
        field.name,
        field.unit,
        field.header(),
        field.unit,
        field.unit
    )
}

/// Finds a sheet's fields: the header row of a table, or the labels of a key/value sheet.
/// Every header is matched through `headers`: a field, a typo of one (an error), a note, or
/// unknown (a warning); a time series' year columns must be years.
fn layout<'g>(grid: &'g Grid, schema: &'static SheetSchema, log: &mut Log) -> Sheet<'g> {
    let mut sheet = Sheet {
        grid,
        schema,
        columns: HashMap::new(),
        items: HashMap::new(),
        years: Vec::new(),
        rows: Vec::new(),
        others: Vec::new(),
        header: 0,
        misspelt: HashSet::new(),
    };
    let Some(((r0, c0), (r1, c1))) = grid.extent() else {
        // An empty optional sheet means "none of these".
        if schema.required {
            let expected = match schema.layout {
                Layout::KeyValue => {
                    "rows of an item in column A and its value in column B".to_string()
                }
                _ => format!(
                    "a header row ({}) and one row per record",
                    schema
                        .fields
                        .iter()
                        .filter(|f| f.required)
                        .map(|f| f.header())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            log.sheet_error(
                schema.name,
                format!("'{}': the sheet is empty (expected {expected})", grid.name),
            );
        }
        return sheet;
    };
    if schema.layout == Layout::KeyValue {
        key_value_layout(&mut sheet, (r0, c0), (r1, c1), log);
        return sheet;
    }
    // Tables and time series: the first row holding anything is the header row.
    let Some(header) = (r0..=r1).find(|r| (c0..=c1).any(|c| !grid.is_blank(*r, c))) else {
        return sheet;
    };
    sheet.header = header;
    // First the years and the exact fields, so that only fields without a column are
    // suggested for the rest.
    let mut first_at: HashMap<&'static str, CellRef> = HashMap::new();
    let mut year_at: HashMap<i32, CellRef> = HashMap::new();
    let mut rest: Vec<(u32, Option<String>)> = Vec::new();
    for col in c0..=c1 {
        let data = grid.data(header, col);
        if schema.layout == Layout::TimeSeries
            && let Some(year) = header_year(data)
        {
            if let Some(first) = year_at.get(&year) {
                log.cell_error(
                    schema.name,
                    grid.cell(header, col),
                    format!("the year {year} is a column twice (first at {first}, expected each year once)"),
                );
            } else {
                year_at.insert(year, grid.cell(header, col));
                sheet.years.push((year, col));
            }
            continue;
        }
        let text = header_text(data);
        match text.as_deref().and_then(|t| headers::exact(schema, t)) {
            Some(f)
                if let Some(typed) = text.as_deref().and_then(|t| headers::unit_conflict(f, t)) =>
            {
                log.cell_error(
                    schema.name,
                    grid.cell(header, col),
                    unit_message(text.as_deref().unwrap_or_default(), &typed, f),
                );
                sheet.misspelt.insert(f.name);
                first_at.insert(f.name, grid.cell(header, col));
            }
            Some(f) => {
                if let Some(first) = first_at.get(f.name) {
                    log.cell_error(
                        schema.name,
                        grid.cell(header, col),
                        format!(
                            "the column '{}' appears twice (first at {first}, expected each column once)",
                            f.name
                        ),
                    );
                } else {
                    first_at.insert(f.name, grid.cell(header, col));
                    sheet.columns.insert(f.name, col);
                }
            }
            None => rest.push((col, text)),
        }
    }
    let not_years = misplaced_years(&sheet, &rest, (c0, c1), r1, log);
    other_headers(&mut sheet, rest, &not_years, r1, log);
    for f in schema.fields.iter().filter(|f| f.required) {
        if !sheet.columns.contains_key(f.name) && !sheet.misspelt.contains(f.name) {
            log.sheet_error(
                schema.name,
                format!(
                    "'{}': the header row (row {}) has no '{}' column (a required column: {})",
                    grid.name,
                    header + 1,
                    f.header(),
                    lower_first(f.meaning.trim_end_matches('.'))
                ),
            );
        }
    }
    let watched: Vec<u32> = sheet
        .columns
        .values()
        .copied()
        .chain(sheet.years.iter().map(|(_, c)| *c))
        .collect();
    sheet.rows = (header + 1..=r1)
        .filter(|r| watched.iter().any(|c| !grid.is_blank(*r, *c)))
        .collect();
    sheet
}

/// Whether any cell below a sheet's header row, down to row `last`, passes a test.
fn column_holds(sheet: &Sheet, col: u32, last: u32, test: &dyn Fn(&Data) -> bool) -> bool {
    (sheet.header + 1..=last).any(|r| test(sheet.grid.data(r, col)))
}

/// A time series' columns of values among or right after the years must be years: a year
/// typed as text ("FY2041"), a number that is no year, or no header at all would drop that
/// year without a word. Without a single year, every such column should have been one.
/// Reports each and returns their columns.
fn misplaced_years(
    sheet: &Sheet,
    rest: &[(u32, Option<String>)],
    (c0, c1): (u32, u32),
    last: u32,
    log: &mut Log,
) -> HashSet<u32> {
    let (grid, schema) = (sheet.grid, sheet.schema);
    let mut not_years: HashSet<u32> = HashSet::new();
    let span = match (
        sheet.years.iter().map(|(_, c)| *c).min(),
        sheet.years.iter().map(|(_, c)| *c).max(),
    ) {
        (Some(lo), Some(hi)) => Some((lo, hi.saturating_add(1))),
        _ if schema.layout == Layout::TimeSeries => Some((c0, c1)),
        _ => None,
    };
    let Some((lo, mut end)) = span else {
        return not_years;
    };
    for (col, text) in rest {
        if *col < lo || *col > end {
            continue;
        }
        if text.as_deref().is_some_and(headers::is_quiet)
            || !column_holds(sheet, *col, last, &holds_number)
        {
            continue;
        }
        not_years.insert(*col);
        if *col == end {
            end = end.saturating_add(1);
        }
        let year_at = |c: u32| sheet.years.iter().find(|(_, yc)| *yc == c).map(|(y, _)| *y);
        let expected = match (col.checked_sub(1).and_then(year_at), year_at(col + 1)) {
            (Some(y), _) => format!("the year {}, after {y}", y + 1),
            (None, Some(y)) => format!("the year {}, before {y}", y - 1),
            (None, None) => "a year such as 2031".to_string(),
        };
        let hint = match text.as_deref().map(value::number_from_text) {
            Some(Err(value::Rejected(reason))) if reason != "is not a number" => {
                format!("; {reason}")
            }
            _ => String::new(),
        };
        let found = match text {
            Some(_) => value::describe(grid.data(sheet.header, *col)),
            None => "a blank".to_string(),
        };
        log.cell_error(
            schema.name,
            grid.cell(sheet.header, *col),
            format!(
                "the header of a column of values is not a year (found {found}, expected {expected}, as a number{hint}); as it is, the values under it would be ignored"
            ),
        );
    }
    not_years
}

/// Headers that are neither a field nor a year: a typo of a field without a column (an
/// error), a note (quiet), a matrix column (for its reader), or unknown (a warning). Values
/// under no header are warned about too.
fn other_headers(
    sheet: &mut Sheet,
    rest: Vec<(u32, Option<String>)>,
    not_years: &HashSet<u32>,
    last: u32,
    log: &mut Log,
) {
    let (grid, schema) = (sheet.grid, sheet.schema);
    // Products named on a matrix sheet head its matrix columns, whatever they resemble.
    let row_names: HashSet<String> = match (schema.layout, schema.fields.first()) {
        (Layout::Matrix, Some(first)) => match sheet.columns.get(first.name) {
            Some(col) => (sheet.header + 1..=last)
                .filter_map(|r| header_text(grid.data(r, *col)))
                .map(|t| t.to_lowercase())
                .collect(),
            None => HashSet::new(),
        },
        _ => HashSet::new(),
    };
    for (col, text) in rest {
        if not_years.contains(&col) {
            continue;
        }
        let at = grid.cell(sheet.header, col);
        let Some(text) = text else {
            if column_holds(sheet, col, last, &|d| !is_blank(d)) {
                log.warn(
                    Some(at),
                    format!(
                        "the column {} holds values but has no header, so they are ignored (expected a header naming a field of the {} sheet, or Notes)",
                        column_letters(col),
                        schema.name
                    ),
                );
            }
            continue;
        };
        if row_names.contains(&text.to_lowercase()) {
            sheet.others.push((text, col));
            continue;
        }
        let open =
            |f: &Field| !sheet.columns.contains_key(f.name) && !sheet.misspelt.contains(f.name);
        match headers::classify(schema, &text, &open) {
            HeaderMatch::Field(_) | HeaderMatch::Quiet => {}
            HeaderMatch::Near(near) => {
                sheet.misspelt.extend(near.iter().map(|f| f.name));
                log.cell_error(
                    schema.name,
                    at,
                    near_message(schema, "column", &text, &near),
                );
            }
            HeaderMatch::Unknown if schema.layout == Layout::Matrix => {
                // The matrix reader decides: a misspelt product, or a column of notes.
                sheet.others.push((text, col));
            }
            HeaderMatch::Unknown => {
                log.warn(
                    Some(at),
                    format!(
                        "the column '{}' is ignored: it is not a field of the {} sheet (a column headed Notes, Comment or Source is kept without this warning)",
                        short(&text),
                        schema.name
                    ),
                );
                sheet.others.push((text, col));
            }
        }
    }
}

/// A key/value sheet's items: the label is the first filled cell of a row, its value the
/// cell to the right. Labels are matched like headers.
fn key_value_layout(sheet: &mut Sheet, (r0, c0): (u32, u32), (r1, c1): (u32, u32), log: &mut Log) {
    let grid = sheet.grid;
    let schema = sheet.schema;
    let mut first_at: HashMap<&'static str, CellRef> = HashMap::new();
    let mut rest: Vec<(u32, u32, Option<String>)> = Vec::new();
    for row in r0..=r1 {
        let Some(col) = (c0..=c1).find(|c| !grid.is_blank(row, *c)) else {
            continue;
        };
        let label = header_text(grid.data(row, col));
        // A header row: "Item | Value | …" (or any label above a "Value" column).
        let key = label.as_deref().map(headers::key).unwrap_or_default();
        let next = header_text(grid.data(row, col + 1))
            .as_deref()
            .map(headers::key)
            .unwrap_or_default();
        if key == "item" || next == "value" {
            continue;
        }
        match label.as_deref().and_then(|t| headers::exact(schema, t)) {
            Some(f)
                if let Some(typed) =
                    label.as_deref().and_then(|t| headers::unit_conflict(f, t)) =>
            {
                log.cell_error(
                    schema.name,
                    grid.cell(row, col),
                    unit_message(label.as_deref().unwrap_or_default(), &typed, f),
                );
                sheet.misspelt.insert(f.name);
                first_at.insert(f.name, grid.cell(row, col));
            }
            Some(f) => {
                if let Some(first) = first_at.get(f.name) {
                    log.cell_error(
                        schema.name,
                        grid.cell(row, col),
                        format!(
                            "'{}' is given twice (first at {first}, expected each item once)",
                            f.name
                        ),
                    );
                } else {
                    first_at.insert(f.name, grid.cell(row, col));
                    sheet.items.insert(f.name, (row, col + 1));
                }
            }
            None => rest.push((row, col, label)),
        }
    }
    for (row, col, label) in rest {
        let at = grid.cell(row, col);
        let Some(label) = label else {
            log.warn(
                Some(at),
                format!(
                    "the row holds {} where an item belongs, so it is ignored (expected an item of the {} sheet in this column)",
                    value::describe(grid.data(row, col)),
                    schema.name
                ),
            );
            continue;
        };
        let open =
            |f: &Field| !sheet.items.contains_key(f.name) && !sheet.misspelt.contains(f.name);
        match headers::classify(schema, &label, &open) {
            HeaderMatch::Field(_) | HeaderMatch::Quiet => {}
            HeaderMatch::Near(near) => {
                sheet.misspelt.extend(near.iter().map(|f| f.name));
                log.cell_error(schema.name, at, near_message(schema, "item", &label, &near));
            }
            HeaderMatch::Unknown => log.warn(
                Some(at),
                format!(
                    "the item '{}' is ignored: it is not an item of the {} sheet (a row labelled Notes, Comment or Source is kept without this warning)",
                    short(&label),
                    schema.name
                ),
            ),
        }
    }
    for f in schema.fields.iter().filter(|f| f.required) {
        if !sheet.items.contains_key(f.name) && !sheet.misspelt.contains(f.name) {
            log.sheet_error(
                schema.name,
                format!(
                    "'{}': no '{}' item (a required item; expected a row with '{}' in column A and its value in column B)",
                    grid.name,
                    f.name,
                    f.header()
                ),
            );
        }
    }
}

// ----- The deal, sheet by sheet ------------------------------------------------------------

fn build_deal(grids: &HashMap<&'static str, Grid>, log: &mut Log) -> Deal {
    let sheet =
        |s: &'static SheetSchema, log: &mut Log| grids.get(s.name).map(|g| layout(g, s, log));
    let deal_sheet = sheet(&schema::DEAL, log);
    let facilities_sheet = sheet(&schema::FACILITIES, log);
    let prices_sheet = sheet(&schema::PRICES, log);
    let fx_sheet = sheet(&schema::FX, log);
    let costs_sheet = sheet(&schema::COSTS, log);
    let fiscal_sheet = sheet(&schema::FISCAL, log);
    let parties_sheet = sheet(&schema::PARTIES, log);
    let rates_sheet = sheet(&schema::DISCOUNT_RATES, log);
    let offtake_sheet = sheet(&schema::OFFTAKE, log);
    let support_sheet = sheet(&schema::PRICE_SUPPORT, log);
    let financing_sheet = sheet(&schema::FINANCING, log);
    let participants_sheet = sheet(&schema::PARTICIPANTS, log);
    let scenarios_sheet = sheet(&schema::SCENARIOS, log);
    let monte_carlo_sheet = sheet(&schema::MONTE_CARLO, log);

    let mut deal = read_deal_sheet(deal_sheet.as_ref(), log);
    deal.facilities = table(facilities_sheet.as_ref(), log, schema::FACILITIES_COLUMNS);
    check_feed_products(facilities_sheet.as_ref(), &deal.facilities, log);
    deal.products = records(prices_sheet.as_ref(), log, |r, log| {
        let mut product: Product = read_record(r, log, schema::PRICES_COLUMNS);
        // A blank currency is the deal's (read as "", which no typed currency can be; a cell
        // that could not be read is reported and marked failed, and takes it too).
        if product.currency.value.is_empty() {
            product.currency.value = deal.currency.value.clone();
        }
        product.deck = r.series(log, &PRICE_CELL);
        product
    });
    deal.fx = records(fx_sheet.as_ref(), log, |r, log| {
        let fields: FxSeries = read_record(r, log, schema::FX_COLUMNS);
        FxSeries {
            rates: r.series(log, &FX_CELL),
            ..fields
        }
    });
    deal.costs = table(costs_sheet.as_ref(), log, schema::COSTS_COLUMNS);
    deal.fiscal = table(fiscal_sheet.as_ref(), log, schema::FISCAL_COLUMNS);
    deal.parties = table(parties_sheet.as_ref(), log, schema::PARTIES_COLUMNS);
    attach_rate_schedules(rates_sheet.as_ref(), &mut deal.parties, log);
    deal.offtakes = table(offtake_sheet.as_ref(), log, schema::OFFTAKE_COLUMNS);
    deal.price_supports = table(support_sheet.as_ref(), log, schema::PRICE_SUPPORT_COLUMNS);
    deal.tranches = table(financing_sheet.as_ref(), log, schema::FINANCING_COLUMNS);
    attach_participants(participants_sheet.as_ref(), &mut deal.tranches, log);
    deal.scenarios = read_scenarios(scenarios_sheet.as_ref(), log);
    deal.monte_carlo = read_monte_carlo(monte_carlo_sheet.as_ref(), log);
    deal
}

fn records<T>(
    sheet: Option<&Sheet>,
    log: &mut Log,
    mut read: impl FnMut(Rec, &mut Log) -> T,
) -> Vec<T> {
    let Some(sheet) = sheet else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(sheet.rows.len());
    for row in &sheet.rows {
        out.push(read(
            Rec {
                sheet,
                row: Some(*row),
            },
            log,
        ));
    }
    out
}

/// A table's records, each read column by column.
fn table<R: Default, K>(sheet: Option<&Sheet>, log: &mut Log, columns: &[Column<R, K>]) -> Vec<R> {
    records(sheet, log, |r, log| read_record(r, log, columns))
}

/// A record read column by column, each through its declaration in `schema`.
fn read_record<R: Default, K>(r: Rec, log: &mut Log, columns: &[Column<R, K>]) -> R {
    let mut record = R::default();
    for column in columns {
        column.access.read(column.field.name, r, log, &mut record);
    }
    record
}

/// The Deal sheet's values; without the sheet (already reported), its defaults, marked as
/// read from a missing cell so that checks on them stay quiet.
fn read_deal_sheet(sheet: Option<&Sheet>, log: &mut Log) -> Deal {
    match sheet {
        Some(sheet) => read_record(Rec { sheet, row: None }, log, schema::DEAL_COLUMNS),
        None => {
            let mut deal = Deal::default();
            let cell = log.phantom(schema::DEAL.name);
            for column in schema::DEAL_COLUMNS {
                column.access.missing(&mut deal, &cell);
            }
            deal
        }
    }
}

/// A Feed product given with feed from a facility must be that facility's product (the
/// model takes it from the source, so anything else would be silently ignored).
fn check_feed_products(sheet: Option<&Sheet>, facilities: &[Facility], log: &mut Log) {
    let Some(sheet) = sheet else { return };
    let Some(col) = sheet.columns.get("Feed product") else {
        return;
    };
    let mut by_name: HashMap<&str, &Facility> = HashMap::with_capacity(facilities.len());
    for f in facilities {
        by_name.entry(f.name.value.as_str()).or_insert(f);
    }
    for (row, f) in sheet.rows.iter().zip(facilities) {
        let Some(Feed {
            source: FeedSource::Facility { name, .. },
            ..
        }) = &f.feed
        else {
            continue;
        };
        if sheet.grid.is_blank(*row, *col) {
            continue;
        }
        let Some(source) = by_name.get(name.value.as_str()) else {
            continue;
        };
        let given = value::describe(sheet.grid.data(*row, *col));
        let matches = matches!(sheet.grid.data(*row, *col), Data::String(s) if s.trim() == source.product.value);
        if !matches {
            log.cell_error(
                schema::FACILITIES.name,
                sheet.grid.cell(*row, *col),
                format!(
                    "Feed product differs from what '{}' produces (found {given}, expected '{}' or a blank)",
                    source.name.value, source.product.value
                ),
            );
        }
    }
}

fn attach_rate_schedules(sheet: Option<&Sheet>, parties: &mut [Party], log: &mut Log) {
    let parties_broken = log.broken.contains(schema::PARTIES.name);
    let mut first_at: HashMap<String, CellRef> = HashMap::new();
    let rows = records(sheet, log, |r, log| {
        let party: Sourced<String> = r.required(log, "Party");
        let series = r.series(log, &RATE_CELL);
        (party, series)
    });
    let mut index: HashMap<String, usize> = HashMap::with_capacity(parties.len());
    for (i, p) in parties.iter().enumerate() {
        index.entry(p.name.value.clone()).or_insert(i);
    }
    let mut known: Option<String> = None;
    for (party, series) in rows {
        let cell = party
            .cell
            .clone()
            .unwrap_or_else(|| log.phantom(schema::DISCOUNT_RATES.name));
        if let Some(first) = first_at.get(&party.value) {
            log.cell_error(
                schema::DISCOUNT_RATES.name,
                cell,
                format!(
                    "'{}' has two discount rate rows (first at {first}, expected one row per party)",
                    party.value
                ),
            );
            continue;
        }
        first_at.insert(party.value.clone(), cell.clone());
        match index.get(&party.value) {
            Some(&i) => parties[i].rate_schedule = series,
            None if parties_broken || log.failed.contains(&cell) => {}
            None => {
                let known =
                    known.get_or_insert_with(|| quoted_list(parties.iter().map(|p| &p.name)));
                log.cell_error(
                    schema::DISCOUNT_RATES.name,
                    cell,
                    format!(
                        "unknown party '{}' (expected a party of the Parties sheet: {known})",
                        party.value,
                    ),
                );
            }
        }
    }
}

/// "'A', 'B', 'C'": the names of a list, for a message.
fn quoted_list<'n>(names: impl Iterator<Item = &'n Sourced<String>>) -> String {
    names
        .map(|n| format!("'{}'", n.value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn attach_participants(sheet: Option<&Sheet>, tranches: &mut [Tranche], log: &mut Log) {
    let financing_broken = log.broken.contains(schema::FINANCING.name);
    let rows = records(sheet, log, |r, log| {
        let tranche: Sourced<String> = r.required(log, "Tranche");
        let participant = read_record(r, log, schema::PARTICIPANTS_COLUMNS);
        (tranche, participant)
    });
    // Looked up by name (and by name in lower case, for the hint), not scanned per row.
    let mut index: HashMap<String, usize> = HashMap::with_capacity(tranches.len());
    let mut folded: HashMap<String, usize> = HashMap::with_capacity(tranches.len());
    for (i, t) in tranches.iter().enumerate() {
        index.entry(t.name.value.clone()).or_insert(i);
        folded.entry(t.name.value.to_ascii_lowercase()).or_insert(i);
    }
    let mut known: Option<String> = None;
    for (tranche, participant) in rows {
        match index.get(&tranche.value) {
            Some(&i) => tranches[i].participants.push(participant),
            None => {
                let cell = tranche
                    .cell
                    .clone()
                    .unwrap_or_else(|| log.phantom(schema::PARTICIPANTS.name));
                if financing_broken || log.failed.contains(&cell) {
                    continue;
                }
                let hint = match folded.get(&tranche.value.to_ascii_lowercase()) {
                    Some(&i) => format!(
                        "did you mean '{}'? names must match exactly",
                        tranches[i].name.value
                    ),
                    None => format!(
                        "expected a tranche of the Financing sheet: {}",
                        known.get_or_insert_with(|| quoted_list(tranches.iter().map(|t| &t.name)))
                    ),
                };
                log.cell_error(
                    schema::PARTICIPANTS.name,
                    cell,
                    format!("unknown tranche '{}' ({hint})", tranche.value),
                );
            }
        }
    }
}

fn read_scenarios(sheet: Option<&Sheet>, log: &mut Log) -> Vec<Scenario> {
    let rows = records(sheet, log, |r, log| {
        let name: Sourced<String> = r.required(log, "Scenario");
        let o = read_record(r, log, schema::SCENARIOS_COLUMNS);
        (name, o)
    });
    // Rows with the same name make one scenario, in the order names first appear.
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, o) in rows {
        match index.get(&name.value) {
            Some(&i) => scenarios[i].overrides.push(o),
            None => {
                index.insert(name.value.clone(), scenarios.len());
                scenarios.push(Scenario {
                    name,
                    overrides: vec![o],
                });
            }
        }
    }
    scenarios
}

/// A cell of the Monte Carlo sheet's correlation matrix.
static CORRELATION_CELL: Field = Field {
    name: "correlation",
    unit: "",
    value_type: ValueType::Number,
    required: false,
    default: "",
    meaning: "",
    range: schema::Range::Any,
};

/// The Monte Carlo sheet: a price process per row, then the correlation matrix, whose
/// columns are headed by the rows' product names (in any order). A blank matrix cell is its
/// mirror's value, or 0; the diagonal is 1. None when the sheet has no rows.
fn read_monte_carlo(sheet: Option<&Sheet>, log: &mut Log) -> Option<MonteCarlo> {
    let sheet = sheet?;
    let sheet_name = schema::MONTE_CARLO.name;
    let mut processes: Vec<PriceProcess> = records(Some(sheet), log, |r, log| {
        read_record(r, log, schema::MONTE_CARLO_COLUMNS)
    });
    if processes.is_empty() {
        return None;
    }
    if processes.len() > MonteCarlo::MAX_PRODUCTS {
        log.sheet_error(
            sheet_name,
            format!(
                "'{}': {} rows of simulated products, more than the {} Lodestone simulates together (expected one row per product of the Prices sheet)",
                sheet.grid.name,
                book::thousands(processes.len() as u64),
                MonteCarlo::MAX_PRODUCTS
            ),
        );
        return None;
    }
    let grid = sheet.grid;
    let header_row = sheet.header;
    // Which column holds each product's correlations.
    let n = processes.len();
    let mut column_of: Vec<Option<u32>> = vec![None; n];
    for (text, col) in &sheet.others {
        let name = text.trim();
        if headers::is_quiet(name) {
            continue;
        }
        let at = grid.cell(header_row, *col);
        match processes.iter().position(|p| p.product.value == name) {
            Some(j) => match column_of[j] {
                Some(first) => log.cell_error(
                    sheet_name,
                    at,
                    format!(
                        "the correlation column '{name}' appears twice (first at {}, expected one column per product)",
                        grid.cell(header_row, first)
                    ),
                ),
                None => column_of[j] = Some(*col),
            },
            None => {
                let holds_numbers = sheet
                    .rows
                    .iter()
                    .any(|r| matches!(grid.data(*r, *col), Data::Float(_) | Data::Int(_)));
                let near = processes
                    .iter()
                    .find(|p| p.product.value.eq_ignore_ascii_case(name));
                if holds_numbers || near.is_some() {
                    let products: Vec<String> = processes
                        .iter()
                        .map(|p| format!("'{}'", p.product.value))
                        .collect();
                    let hint = match near {
                        Some(p) => format!("did you mean '{}'? names must match exactly", p.product.value),
                        None => format!(
                            "expected a column headed by a product of the Product column: {}; put notes in a Notes column",
                            products.join(", ")
                        ),
                    };
                    log.cell_error(
                        sheet_name,
                        at,
                        format!("the correlation column '{name}' names no product of this sheet ({hint})"),
                    );
                } else {
                    log.warn(
                        Some(at),
                        format!(
                            "the column '{}' is ignored: it is neither a field of the {sheet_name} sheet nor a product of its Product column (a column headed Notes, Comment or Source is kept without this warning)",
                            short(name)
                        ),
                    );
                }
            }
        }
    }
    // The matrix as read: (row i, column j) → value, blank or failed.
    let names: Vec<String> = processes.iter().map(|p| p.product.value.clone()).collect();
    let mut cells: Vec<Vec<Slot<Decimal>>> = Vec::with_capacity(n);
    for (i, row) in sheet.rows.iter().enumerate() {
        let mut line = Vec::with_capacity(n);
        for (j, col) in column_of.iter().enumerate() {
            let slot = match col {
                Some(col) => {
                    let label = format!("the correlation of '{}' with '{}'", names[i], names[j]);
                    read_cell(sheet, log, *row, *col, &CORRELATION_CELL, &label)
                }
                None => Slot::Blank(None),
            };
            line.push(slot);
        }
        cells.push(line);
    }
    for i in 0..n {
        if let Slot::Value(v) = &cells[i][i]
            && v.value != Decimal::ONE
            && let Some(cell) = v.cell.clone()
        {
            log.cell_error(
                sheet_name,
                cell,
                format!(
                    "the correlation of '{}' with itself is {} (expected 1 or a blank)",
                    names[i],
                    v.value.normalize()
                ),
            );
        }
    }
    for i in 0..n {
        let mut correlations = Vec::with_capacity(i);
        for j in 0..i {
            let lower = &cells[i][j];
            let upper = &cells[j][i];
            let value = match (lower, upper) {
                (Slot::Value(lo), Slot::Value(up)) => {
                    if lo.value != up.value
                        && let Some(cell) = up.cell.clone()
                    {
                        log.cell_error(
                            sheet_name,
                            cell,
                            format!(
                                "the correlation of '{}' with '{}' is {} here but {} at {} (expected the same value in both halves of the matrix, or one of them blank)",
                                names[j],
                                names[i],
                                up.value.normalize(),
                                lo.value.normalize(),
                                lo.origin()
                            ),
                        );
                    }
                    lo.clone()
                }
                (Slot::Value(v), _) => v.clone(),
                (Slot::Failed(cell), _) => Sourced::new(Decimal::ZERO, cell.clone()),
                (Slot::Blank(_), Slot::Value(v)) => v.clone(),
                (Slot::Blank(_), Slot::Failed(cell)) => Sourced::new(Decimal::ZERO, cell.clone()),
                (Slot::Blank(cell), Slot::Blank(_)) => Sourced {
                    value: Decimal::ZERO,
                    cell: cell.clone(),
                },
            };
            correlations.push(value);
        }
        processes[i].correlations = correlations;
    }
    Some(MonteCarlo { processes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_default_is_readable_or_described_in_words() {
        // Defaults the reader cannot parse are descriptions, handled by `or`/`optional`.
        let described = [
            "first construction year",
            "first facility's country",
            "none (a mine)",
            "the source's product",
            "deal currency",
            "production (for per tonne and % of revenue)",
            "the model's first year",
            "0% (none)",
            "the floor",
            "pro rata to commitment",
            "pro rata",
            "all products",
            "all facilities",
            "every party",
        ];
        for sheet in SHEETS {
            for f in sheet
                .fields
                .iter()
                .filter(|f| !f.required && !f.default.is_empty())
            {
                let data = Data::String(f.default.to_string());
                let ok = match f.value_type {
                    ValueType::Text => true,
                    ValueType::Number | ValueType::Percent => Decimal::from_cell(&data, f).is_ok(),
                    ValueType::Integer => u32::from_cell(&data, f).is_ok(),
                    ValueType::Year => i32::from_cell(&data, f).is_ok(),
                    ValueType::Date => NaiveDate::from_cell(&data, f).is_ok(),
                    ValueType::YesNo => bool::from_cell(&data, f).is_ok(),
                    ValueType::Choice(labels) => labels().contains(&f.default),
                    ValueType::ChoiceList(labels) => {
                        f.default.split(',').all(|p| labels().contains(&p.trim()))
                    }
                };
                assert!(
                    ok || described.contains(&f.default),
                    "{}: default of {} ('{}') is neither readable nor a known description",
                    sheet.name,
                    f.name,
                    f.default
                );
            }
        }
    }
}
