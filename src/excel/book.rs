//! Opening a workbook of any supported format and reading a sheet's cells, in memory and
//! time bounded by the limits below, whatever the file holds (see SECURITY.md).
//!
//! calamine builds a dense range from a sheet's used corners; one value at XFD1048576 turns
//! that into a 512 GiB allocation, which no `catch_unwind` survives. So:
//! - `.xlsx`/`.xlsm` sheets are streamed cell by cell (calamine's cell reader); only cells
//!   within `MAX_ROWS` × `MAX_COLS` are kept, the others are counted as stray.
//! - `.ods` and `.xls` files, which calamine reads whole when it opens them, are measured
//!   first (every sheet's extent, the cells and text calamine would build) and refused
//!   before calamine sees them if that is over the limits. An `.xls` is handed to calamine
//!   as the very stream that was measured, re-wrapped, so that the two cannot disagree.
//! - Zip archives are checked before anything is unpacked: the number of parts, each part's
//!   declared size (which the zip reader enforces), the shared-strings count.
//!
//! Owns the formats and the limits; `read` owns what the cells mean. Must not interpret
//! cells beyond turning them into calamine's `Data`.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::sync::Arc;

use calamine::{Data, DataRef, Ods, Reader, Xls, Xlsx};

use crate::model::column_letters;

/// A sheet's data must lie within its first `MAX_ROWS` rows and `MAX_COLS` columns
/// (A1:SF5000). A deal needs a few dozen of each; time series need one column per year.
pub const MAX_ROWS: u32 = 5_000;
pub const MAX_COLS: u32 = 500;
/// The largest file read. Deal workbooks are tens of kilobytes; results workbooks of the
/// examples, read back as deals, about 2 MB.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Zip archives: at most this many parts, each unpacking to at most `MAX_PART_BYTES`.
pub const MAX_PARTS: usize = 10_000;
pub const MAX_PART_BYTES: u64 = 64 << 20;
/// The shared-strings part, which calamine keeps whole in memory.
pub const MAX_SHARED_STRINGS_BYTES: u64 = 16 << 20;
pub const MAX_SHARED_STRINGS: u64 = 1_000_000;
/// The text kept from one sheet's cells (values and formulas).
pub const MAX_SHEET_TEXT_BYTES: u64 = 64 << 20;
/// `.ods` and `.xls`: the cells calamine builds for all the sheets together (each sheet's
/// used rectangle), and the text in them.
pub const MAX_BUILT_CELLS: u64 = 2_500_000;
pub const MAX_BUILT_TEXT_BYTES: u64 = 64 << 20;
/// `.xls`: the largest file (calamine keeps its whole workbook stream in memory) and the
/// longest run of CONTINUE records (calamine's handling of them is quadratic).
pub const MAX_XLS_BYTES: u64 = 16 << 20;
const MAX_CONTINUES: usize = 4_096;

/// Why a file could not be opened as a workbook, in a user's words.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenError {
    /// Not a workbook: "a text file; save it …".
    NotWorkbook(String),
    /// A damaged workbook: the zip, calamine or compound-file error that found it.
    Damaged(Damaged),
    /// A workbook over a limit. `sheet`: the sheet that is, when one is.
    OverLimit {
        sheet: Option<String>,
        cell: Option<(u32, u32)>,
        message: String,
    },
}

/// A damaged workbook: what to tell the user ("a damaged zip archive: …") and, as its
/// `source()`, the error of the zip, calamine or compound-file reader that found it.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub reason: String,
    pub source: Arc<dyn std::error::Error + Send + Sync>,
}

/// Two damaged files agree when they are reported alike (the readers' errors have no
/// equality).
impl PartialEq for Damaged {
    fn eq(&self, other: &Self) -> bool {
        self.reason == other.reason
    }
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Damaged {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A damaged workbook: `what`, then the reader's message (without calamine's prefixes).
fn damaged_by<E: std::error::Error + Send + Sync + 'static>(what: &str, e: E) -> OpenError {
    OpenError::Damaged(Damaged {
        reason: format!("{what}: {}", damaged(&e)),
        source: Arc::new(e),
    })
}

/// Cells of a sheet outside A1:SF5000: how many, the first in reading order (with a
/// description of its value), and the corner of the used area (what Ctrl+End reaches).
#[derive(Debug, Clone, PartialEq)]
pub struct Stray {
    pub count: u64,
    pub first: (u32, u32),
    pub first_value: String,
    pub corner: (u32, u32),
}

impl Stray {
    fn add(stray: &mut Option<Stray>, pos: (u32, u32), describe: impl FnOnce() -> String) {
        match stray {
            Some(s) => {
                s.count += 1;
                s.corner = (s.corner.0.max(pos.0), s.corner.1.max(pos.1));
            }
            None => {
                *stray = Some(Stray {
                    count: 1,
                    first: pos,
                    first_value: describe(),
                    corner: pos,
                })
            }
        }
    }

    /// The cell to name and the message: one stray cell by itself, several by the corner
    /// their data reaches.
    pub fn message(&self) -> ((u32, u32), String) {
        let rows = thousands(MAX_ROWS as u64);
        if self.count == 1 {
            (
                self.first,
                format!(
                    "a stray cell far outside the sheet's tables (found {}, expected nothing beyond row {rows} or column {}: Lodestone reads a sheet's first {rows} rows and {MAX_COLS} columns; delete it)",
                    self.first_value,
                    column_letters(MAX_COLS - 1)
                ),
            )
        } else {
            (
                self.corner,
                format!(
                    "the sheet's data reaches {}, beyond the first {rows} rows and {MAX_COLS} columns that Lodestone reads (found {} cells outside A1:{}, the first at {}; expected a deal's tables within them; delete the cells beyond)",
                    a1(self.corner.0, self.corner.1),
                    thousands(self.count),
                    a1(MAX_ROWS - 1, MAX_COLS - 1),
                    a1(self.first.0, self.first.1)
                ),
            )
        }
    }
}

/// One sheet's cells within bounds, at absolute positions: values that are not empty, and
/// formulas.
#[derive(Debug, Default)]
pub struct SheetCells {
    pub values: HashMap<(u32, u32), Data>,
    pub formulas: HashMap<(u32, u32), String>,
    pub stray: Option<Stray>,
}

/// An open workbook.
pub enum Book<'b> {
    Xlsx(Box<Xlsx<Cursor<&'b [u8]>>>),
    Ods(Box<Ods<Cursor<&'b [u8]>>>),
    Xls(Box<Xls<Cursor<Vec<u8>>>>),
}

/// "A1"-style name of a zero-based cell.
pub fn a1(row: u32, col: u32) -> String {
    format!("{}{}", column_letters(col), row as u64 + 1)
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn mb(bytes: u64) -> String {
    let tenths = bytes.saturating_mul(10) / (1 << 20);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

fn over(message: String) -> OpenError {
    OpenError::OverLimit {
        sheet: None,
        cell: None,
        message,
    }
}

/// Why a file of `bytes` is not read.
pub fn too_large(bytes: u64) -> String {
    format!(
        "the file is {}, more than the {} Lodestone reads (a deal workbook is usually well under 1 MB)",
        mb(bytes),
        mb(MAX_FILE_BYTES)
    )
}

/// Opens the bytes of a workbook, checking its container against the limits first.
pub fn open(bytes: &[u8]) -> Result<Book<'_>, OpenError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(over(too_large(bytes.len() as u64)));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        open_zip(bytes)
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        xls::open(bytes)
    } else {
        Err(OpenError::NotWorkbook(not_workbook_reason(bytes)))
    }
}

/// Why bytes that are neither a zip archive nor an Excel 97-2003 file are not a workbook.
fn not_workbook_reason(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    if !head.is_empty()
        && head
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace() || *b >= 0x80)
    {
        "a text file; save it from Excel or LibreOffice as .xlsx".to_string()
    } else {
        "an unknown format".to_string()
    }
}

/// calamine's message for a damaged file, without its prefixes.
fn damaged(e: impl std::fmt::Display) -> String {
    e.to_string()
        .replace("Xlsx error: ", "")
        .replace("Xls error: ", "")
        .replace("Ods error: ", "")
        .replace("Zip error: ", "")
}

fn open_zip(bytes: &[u8]) -> Result<Book<'_>, OpenError> {
    zip_directory_bounds(bytes)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| damaged_by("a damaged or truncated zip archive", e))?;
    if archive.len() > MAX_PARTS {
        return Err(over(format!(
            "a zip archive of {} parts, more than the {} Lodestone reads",
            thousands(archive.len() as u64),
            thousands(MAX_PARTS as u64)
        )));
    }
    let mut kind = None;
    let mut shared_strings = Vec::new();
    for i in 0..archive.len() {
        let file = archive
            .by_index_raw(i)
            .map_err(|e| damaged_by("a damaged zip archive", e))?;
        let name = file.name().map(|n| n.to_string()).unwrap_or_default();
        let size = file.size();
        let lower = name.to_ascii_lowercase();
        let limit = if lower.ends_with("sharedstrings.xml") {
            shared_strings.push(i);
            MAX_SHARED_STRINGS_BYTES
        } else {
            MAX_PART_BYTES
        };
        if size > limit {
            return Err(over(format!(
                "the part '{name}' unpacks to {}, more than the {} Lodestone reads (a damaged file or a zip bomb)",
                mb(size),
                mb(limit)
            )));
        }
        match lower.as_str() {
            "xl/workbook.xml" => kind = kind.or(Some("xlsx")),
            "xl/workbook.bin" => kind = kind.or(Some("xlsb")),
            "content.xml" => kind = kind.or(Some("ods")),
            _ => {}
        }
    }
    match kind {
        Some("xlsx") => {
            for i in shared_strings {
                shared_strings_count(&mut archive, i)?;
            }
            let book = Xlsx::new(Cursor::new(bytes))
                .map_err(|e| damaged_by("a zip archive whose workbook cannot be read", e))?;
            Ok(Book::Xlsx(Box::new(book)))
        }
        Some("ods") => {
            ods::measure(&mut archive)?;
            let book = Ods::new(Cursor::new(bytes))
                .map_err(|e| damaged_by("a zip archive whose workbook cannot be read", e))?;
            Ok(Book::Ods(Box::new(book)))
        }
        Some(_) => Err(OpenError::NotWorkbook(
            "an Excel binary workbook (.xlsb); save it as .xlsx".to_string(),
        )),
        None => Err(OpenError::NotWorkbook(
            "a zip archive that holds no workbook (no xl/workbook.xml or content.xml)".to_string(),
        )),
    }
}

/// Every end-of-central-directory record in the file's tail: the zip reader sizes its
/// tables by them, so none may declare more than `MAX_PARTS` entries.
fn zip_directory_bounds(bytes: &[u8]) -> Result<(), OpenError> {
    let tail_start = bytes.len().saturating_sub(65_557);
    let u16_at = |i: usize| -> u64 {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as u64)
            .unwrap_or(0)
    };
    let u64_at = |i: usize| -> u64 {
        bytes
            .get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(u64::MAX)
    };
    let mut entries = 0u64;
    let mut i = tail_start;
    while let Some(at) = bytes[i..].windows(4).position(|w| w == b"PK\x05\x06") {
        let eocd = i + at;
        entries = entries.max(u16_at(eocd + 10));
        // Zip64: the locator sits just before, pointing at the zip64 record.
        if eocd >= 20 && bytes.get(eocd - 20..eocd - 16) == Some(b"PK\x06\x07".as_slice()) {
            let record = u64_at(eocd - 12);
            let count = usize::try_from(record)
                .ok()
                .filter(|r| bytes.get(*r..r + 4) == Some(b"PK\x06\x06".as_slice()))
                .map(|r| u64_at(r + 32))
                .unwrap_or(0);
            entries = entries.max(count);
        }
        i = eocd + 4;
    }
    if entries > MAX_PARTS as u64 {
        return Err(over(format!(
            "a zip archive that declares {} parts, more than the {} Lodestone reads",
            thousands(entries),
            thousands(MAX_PARTS as u64)
        )));
    }
    Ok(())
}

/// calamine reserves the shared-strings table by its declared `uniqueCount`.
fn shared_strings_count(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    index: usize,
) -> Result<(), OpenError> {
    let Ok(file) = archive.by_index(index) else {
        return Ok(()); // calamine will say what is wrong with it
    };
    let mut head = Vec::new();
    let _ = file.take(64 << 10).read_to_end(&mut head);
    let text = String::from_utf8_lossy(&head);
    let Some(sst) = text.find("sst ").or_else(|| text.find("sst\n")) else {
        return Ok(());
    };
    let tag_end = text[sst..].find('>').map(|e| sst + e).unwrap_or(text.len());
    let tag = &text[sst..tag_end];
    for attr in ["uniqueCount=\"", "uniqueCount='"] {
        if let Some(at) = tag.find(attr) {
            let digits: String = tag[at + attr.len()..]
                .chars()
                .take_while(|c| !matches!(c, '"' | '\''))
                .collect();
            let count = digits.trim().parse::<u64>().unwrap_or(0);
            if count > MAX_SHARED_STRINGS {
                return Err(over(format!(
                    "the workbook declares {} shared strings, more than the {} Lodestone reads",
                    thousands(count),
                    thousands(MAX_SHARED_STRINGS)
                )));
            }
        }
    }
    Ok(())
}

impl Book<'_> {
    pub fn sheet_names(&self) -> Vec<String> {
        match self {
            Book::Xlsx(b) => b.sheet_names(),
            Book::Ods(b) => b.sheet_names(),
            Book::Xls(b) => b.sheet_names(),
        }
    }

    /// The sheet's cells within A1:SF5000 (the rest counted as stray), or why it cannot be
    /// read.
    pub fn read_sheet(&mut self, name: &str) -> Result<SheetCells, String> {
        match self {
            Book::Xlsx(b) => read_xlsx_sheet(b, name),
            Book::Ods(b) => {
                let values = b.worksheet_range(name).map_err(damaged)?;
                let formulas = b.worksheet_formula(name).ok();
                Ok(from_ranges(&values, formulas.as_ref()))
            }
            Book::Xls(b) => {
                let values = b.worksheet_range(name).map_err(damaged)?;
                let formulas = b.worksheet_formula(name).ok();
                Ok(from_ranges(&values, formulas.as_ref()))
            }
        }
    }
}

/// Bounds the kept text of a sheet.
struct TextBudget(u64);

impl TextBudget {
    fn spend(&mut self, bytes: usize) -> Result<(), String> {
        self.0 = self.0.saturating_add(bytes as u64);
        if self.0 > MAX_SHEET_TEXT_BYTES {
            return Err(format!(
                "the sheet holds more than {} of text, more than Lodestone reads from a sheet",
                mb(MAX_SHEET_TEXT_BYTES)
            ));
        }
        Ok(())
    }
}

fn in_bounds(pos: (u32, u32)) -> bool {
    pos.0 < MAX_ROWS && pos.1 < MAX_COLS
}

/// A short description of a cell's value for messages ("the number 1", "text \"x\"").
fn describe_ref(d: &DataRef) -> String {
    let data: Data = match d {
        DataRef::SharedString(s) => Data::String(s.chars().take(40).collect()),
        DataRef::String(s) => Data::String(s.chars().take(40).collect()),
        other => other.clone().into(),
    };
    super::value::describe(&data)
}

/// Streams an xlsx sheet: values and formulas in one pass, nothing dense.
fn read_xlsx_sheet(book: &mut Xlsx<Cursor<&[u8]>>, name: &str) -> Result<SheetCells, String> {
    let mut reader = match book.worksheet_cells_reader(name) {
        Ok(r) => r,
        // A chart sheet: no cells.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(SheetCells::default()),
        Err(e) => return Err(damaged(e)),
    };
    let mut out = SheetCells::default();
    let mut text = TextBudget(0);
    // Shared formulas: the anchor's text and position, by index (worksheet-local).
    let mut shared: HashMap<usize, (String, (u32, u32))> = HashMap::new();
    while let Some(cell) = reader.next_cell_with_formula_metadata().map_err(damaged)? {
        let pos = cell.pos;
        let has_value = !matches!(cell.value, DataRef::Empty);
        if let Some(calamine::XlsxFormulaMetadata::Shared {
            shared_index,
            range,
            formula,
        }) = &cell.formula
        {
            text.spend(formula.len())?;
            if shared.len() < MAX_ROWS as usize * 4 || shared.contains_key(shared_index) {
                let anchor = range.map(|r| r.start).unwrap_or(pos);
                shared.insert(*shared_index, (formula.clone(), anchor));
            }
        }
        if !in_bounds(pos) {
            if has_value || cell.formula.is_some() {
                Stray::add(&mut out.stray, pos, || describe_ref(&cell.value));
            }
            continue;
        }
        let formula = match cell.formula {
            None => None,
            Some(calamine::XlsxFormulaMetadata::Normal { formula }) => Some(formula),
            Some(calamine::XlsxFormulaMetadata::Shared { formula, .. }) => Some(formula),
            Some(calamine::XlsxFormulaMetadata::SharedDerived { shared_index }) => {
                shared.get(&shared_index).map(|(template, anchor)| {
                    calamine::expand_shared_formula(template, *anchor, pos)
                        .unwrap_or_else(|_| template.clone())
                })
            }
            Some(_) => None,
        };
        if let Some(f) = formula.filter(|f| !f.is_empty()) {
            text.spend(f.len())?;
            out.formulas.insert(pos, f);
        }
        if has_value {
            let data: Data = cell.value.into();
            if let Data::String(s) = &data {
                text.spend(s.len())?;
            }
            out.values.insert(pos, data);
        }
    }
    Ok(out)
}

/// The cells of ranges calamine has built (already measured against the limits).
fn from_ranges(
    values: &calamine::Range<Data>,
    formulas: Option<&calamine::Range<String>>,
) -> SheetCells {
    let mut out = SheetCells::default();
    let (r0, c0) = values.start().unwrap_or((0, 0));
    for (r, c, v) in values.used_cells() {
        let pos = (r0 + r as u32, c0 + c as u32);
        if in_bounds(pos) {
            out.values.insert(pos, v.clone());
        } else {
            Stray::add(&mut out.stray, pos, || super::value::describe(v));
        }
    }
    if let Some(f) = formulas {
        let (r0, c0) = f.start().unwrap_or((0, 0));
        for (r, c, text) in f.used_cells() {
            let pos = (r0 + r as u32, c0 + c as u32);
            if !text.is_empty() && in_bounds(pos) {
                out.formulas.insert(pos, text.clone());
            }
        }
    }
    out
}

/// What calamine will build for one sheet of an `.ods` or `.xls`: its used rectangle, the
/// cells it pushes while reading, the text in them, and any cell outside A1:SF5000.
#[derive(Debug, Default)]
struct Extent {
    name: String,
    first: Option<(u32, u32)>,
    last: (u32, u32),
    pushed: u64,
    text: u64,
    stray: Option<Stray>,
}

impl Extent {
    fn new(name: String) -> Self {
        Extent {
            name,
            ..Extent::default()
        }
    }

    /// A non-empty cell at `pos` spanning `rows` × `cols` (repeats).
    fn cell(&mut self, pos: (u64, u64), rows: u64, cols: u64) {
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let start = (clamp(pos.0), clamp(pos.1));
        let end = (
            clamp(pos.0 + rows.max(1) - 1),
            clamp(pos.1 + cols.max(1) - 1),
        );
        self.first = Some(match self.first {
            None => start,
            Some(f) => (f.0.min(start.0), f.1.min(start.1)),
        });
        self.last = (self.last.0.max(end.0), self.last.1.max(end.1));
        if !in_bounds(end) {
            let at = if in_bounds(start) { end } else { start };
            Stray::add(&mut self.stray, at, || "a value".to_string());
            if let Some(s) = &mut self.stray {
                s.corner = (s.corner.0.max(end.0), s.corner.1.max(end.1));
            }
        }
    }

    fn area(&self) -> u64 {
        match self.first {
            None => 0,
            Some((r0, c0)) => (self.last.0 as u64 - r0 as u64 + 1)
                .saturating_mul(self.last.1 as u64 - c0 as u64 + 1),
        }
    }
}

/// Refuses a workbook whose sheets calamine would build beyond the limits.
fn check_extents(extents: &[Extent], format: &str) -> Result<(), OpenError> {
    for e in extents {
        if let Some(stray) = &e.stray {
            let (cell, message) = stray.message();
            return Err(OpenError::OverLimit {
                sheet: Some(e.name.clone()),
                cell: Some(cell),
                message,
            });
        }
    }
    let cells: u64 = extents
        .iter()
        .map(|e| e.area().max(e.pushed))
        .fold(0, u64::saturating_add);
    let text: u64 = extents.iter().map(|e| e.text).fold(0, u64::saturating_add);
    if cells > MAX_BUILT_CELLS || text > MAX_BUILT_TEXT_BYTES {
        let biggest = extents
            .iter()
            .max_by_key(|e| e.area().max(e.pushed))
            .map(|e| format!(" (the largest: '{}')", e.name))
            .unwrap_or_default();
        return Err(over(format!(
            "the sheets of this {format} file hold more than {} cells or {} of text between them{biggest}, more than Lodestone reads (it reads every sheet of an {format} file; save it as .xlsx, or delete the sheets it does not need)",
            thousands(MAX_BUILT_CELLS),
            mb(MAX_BUILT_TEXT_BYTES)
        )));
    }
    Ok(())
}

mod ods {
    //! Measures an `.ods` file's content.xml as calamine's ODS reader will read it.

    use super::*;
    use quick_xml::events::{BytesStart, Event};

    fn attr(e: &BytesStart, key: &str) -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == key)
            .map(|a| a.value.to_string())
    }

    fn repeat(e: &BytesStart, key: &str) -> u64 {
        attr(e, key)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    }

    /// A cell has a value when it says so (a value type, a value, a formula).
    fn has_value(e: &BytesStart) -> bool {
        e.attributes().flatten().any(|a| {
            let k = a.key.as_ref();
            k.starts_with("office:") || k == "table:formula"
        })
    }

    fn value_bytes(e: &BytesStart) -> u64 {
        e.attributes()
            .flatten()
            .filter(|a| a.key.as_ref().starts_with("office:") || a.key.as_ref() == "table:formula")
            .map(|a| a.value.len() as u64)
            .sum()
    }

    /// calamine caps a table's rows and a row's columns at Excel's grid.
    const GRID_ROWS: u64 = 1_048_576;
    const GRID_COLS: u64 = 16_384;

    pub(super) fn measure(archive: &mut zip::ZipArchive<Cursor<&[u8]>>) -> Result<(), OpenError> {
        let Ok(content) = archive.by_name("content.xml") else {
            return Ok(()); // calamine will say it is missing
        };
        let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(content));
        let mut buf = Vec::new();
        let mut extents: Vec<Extent> = Vec::new();
        let mut row: u64 = 0;
        let mut col: u64 = 0;
        let mut row_repeat: u64 = 1;
        let mut row_pushed: u64 = 0;
        // The open cell: its position, repeat and text so far.
        let mut cell: Option<(u64, u64, u64, bool)> = None;
        loop {
            buf.clear();
            let event = match xml.read_event_into(&mut buf) {
                Ok(e) => e,
                // calamine will report the damage.
                Err(_) => break,
            };
            match event {
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "table:table" => {
                    let name = attr(&e, "table:name").unwrap_or_default();
                    extents.push(Extent::new(name));
                    row = 0;
                }
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "table:table-row" => {
                    let r = repeat(&e, "table:number-rows-repeated");
                    row_repeat = r.min(GRID_ROWS.saturating_sub(row));
                    col = 0;
                    row_pushed = 0;
                }
                Event::End(e) if e.name().as_ref() == "table:table-row" => {
                    if let Some(x) = extents.last_mut() {
                        x.pushed = x.pushed.saturating_add(row_pushed);
                    }
                    row = row.saturating_add(row_repeat);
                }
                Event::Start(ref e) | Event::Empty(ref e)
                    if matches!(
                        e.name().as_ref(),
                        "table:table-cell" | "table:covered-table-cell"
                    ) =>
                {
                    let reps = repeat(e, "table:number-columns-repeated")
                        .min(GRID_COLS.saturating_sub(col));
                    let valued = has_value(e);
                    let bytes = value_bytes(e);
                    let is_start = matches!(event, Event::Start(_));
                    if is_start {
                        cell = Some((col, reps, bytes, valued));
                    } else {
                        close_cell(
                            &mut extents,
                            row,
                            row_repeat,
                            col,
                            reps,
                            bytes,
                            valued,
                            &mut row_pushed,
                        );
                    }
                    col = col.saturating_add(reps);
                }
                Event::End(e)
                    if matches!(
                        e.name().as_ref(),
                        "table:table-cell" | "table:covered-table-cell"
                    ) =>
                {
                    if let Some((c, reps, bytes, valued)) = cell.take() {
                        close_cell(
                            &mut extents,
                            row,
                            row_repeat,
                            c,
                            reps,
                            bytes,
                            valued,
                            &mut row_pushed,
                        );
                    }
                }
                Event::Start(_) | Event::Empty(_) => {
                    // Content inside a cell (text:p …) makes it a value.
                    if let Some(c) = &mut cell {
                        c.3 = true;
                    }
                }
                Event::Text(t) => {
                    if let Some(c) = &mut cell {
                        c.2 = c.2.saturating_add(t.len() as u64);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        check_extents(&extents, ".ods")
    }

    #[allow(clippy::too_many_arguments)]
    fn close_cell(
        extents: &mut [Extent],
        row: u64,
        row_repeat: u64,
        col: u64,
        reps: u64,
        bytes: u64,
        valued: bool,
        row_pushed: &mut u64,
    ) {
        let Some(x) = extents.last_mut() else { return };
        if !valued {
            return;
        }
        // calamine pushes the empties before a value and each repeat of it.
        *row_pushed = col.saturating_add(reps);
        x.text = x.text.saturating_add(
            bytes
                .saturating_mul(reps)
                .saturating_mul(row_repeat.min(1 << 20)),
        );
        x.cell((row, col), row_repeat, reps);
    }
}

mod xls {
    //! Measures an `.xls` workbook stream as calamine's BIFF reader will read it, and hands
    //! calamine that very stream.

    use super::*;
    use std::io::Write;

    fn u16_at(d: &[u8], i: usize) -> Option<u16> {
        d.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32_at(d: &[u8], i: usize) -> Option<u32> {
        d.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A BIFF record with the data of the CONTINUE records after it (calamine's
    /// `RecordIter`).
    struct Record<'a> {
        typ: u16,
        data: &'a [u8],
        cont: Vec<&'a [u8]>,
    }

    struct Records<'a> {
        stream: &'a [u8],
    }

    impl<'a> Iterator for Records<'a> {
        type Item = Result<Record<'a>, OpenError>;
        fn next(&mut self) -> Option<Self::Item> {
            let s = self.stream;
            if s.len() < 4 {
                return None; // calamine stops or reports the damage
            }
            let typ = u16_at(s, 0)?;
            let len = u16_at(s, 2)? as usize;
            if s.len() < len + 4 {
                return None;
            }
            let data = &s[4..4 + len];
            self.stream = &s[4 + len..];
            let mut cont = Vec::new();
            while self.stream.len() > 4 && u16_at(self.stream, 0) == Some(0x003C) {
                let len = u16_at(self.stream, 2).unwrap_or(0) as usize;
                if self.stream.len() < len + 4 {
                    return None;
                }
                cont.push(&self.stream[4..4 + len]);
                self.stream = &self.stream[4 + len..];
                if cont.len() > MAX_CONTINUES {
                    return Some(Err(over(format!(
                        "an Excel 97-2003 record continued more than {} times, more than Lodestone reads",
                        thousands(MAX_CONTINUES as u64)
                    ))));
                }
            }
            Some(Ok(Record { typ, data, cont }))
        }
    }

    /// The lengths (in UTF-8 bytes, at most) of the shared strings, reading the SST as
    /// calamine does; unreadable tails are left to calamine.
    fn sst_lengths(r: &Record) -> Vec<u64> {
        let mut lens = Vec::new();
        let mut parts: Vec<&[u8]> = std::iter::once(r.data)
            .chain(r.cont.iter().copied())
            .collect();
        parts.reverse();
        let Some(mut data) = parts.pop().map(|d| d.get(8..).unwrap_or(&[])) else {
            return lens;
        };
        // Bytes of the string still to skip across records, and the char count left.
        loop {
            if data.is_empty() {
                match parts.pop() {
                    Some(d) => data = d,
                    None => break,
                }
                continue;
            }
            if data.len() < 3 {
                break;
            }
            let cch = u16_at(data, 0).unwrap_or(0) as u64;
            let flags = data[2];
            let mut at = 3;
            let mut c_run = 0u64;
            let mut cb_ext = 0u64;
            if flags & 0x8 != 0 {
                c_run = u16_at(data, at).unwrap_or(0) as u64;
                at += 2;
            }
            if flags & 0x4 != 0 {
                cb_ext = u32_at(data, at).unwrap_or(0) as u64;
                at += 4;
            }
            lens.push(cch * 3);
            data = data.get(at..).unwrap_or(&[]);
            // The characters, which may run on into CONTINUE records (each starting with
            // a flags byte), then the runs and the phonetic block.
            let mut chars = cch;
            let mut high = flags & 0x1 != 0;
            while chars > 0 {
                if data.is_empty() {
                    match parts.pop() {
                        Some(d) if !d.is_empty() => {
                            high = d[0] & 0x1 != 0;
                            data = &d[1..];
                        }
                        _ => return lens,
                    }
                    continue;
                }
                let width = if high { 2 } else { 1 };
                let n = (data.len() as u64 / width).min(chars).max(1);
                data = data.get((n * width) as usize..).unwrap_or(&[]);
                chars -= n.min(chars);
            }
            let mut skip = c_run.saturating_mul(4).saturating_add(cb_ext);
            while skip > 0 {
                if data.is_empty() {
                    match parts.pop() {
                        Some(d) => data = d,
                        None => return lens,
                    }
                    continue;
                }
                let n = (data.len() as u64).min(skip);
                data = &data[n as usize..];
                skip -= n;
            }
        }
        lens
    }

    /// Best-effort name of a BoundSheet8 record (for messages only).
    fn sheet_name(data: &[u8]) -> String {
        let Some(&cch) = data.get(6) else {
            return String::new();
        };
        let cch = cch as usize;
        match data.get(7) {
            Some(0) | None => data
                .get(8..8 + cch)
                .map(|b| b.iter().map(|&c| c as char).collect())
                .unwrap_or_default(),
            Some(1) => {
                let units: Vec<u16> = data
                    .get(8..8 + 2 * cch)
                    .unwrap_or(&[])
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
            // BIFF5: the characters follow the count directly.
            Some(_) => data
                .get(7..7 + cch)
                .map(|b| b.iter().map(|&c| c as char).collect())
                .unwrap_or_default(),
        }
    }

    fn measure(stream: &[u8]) -> Result<(), OpenError> {
        let mut sheets: Vec<(usize, String)> = Vec::new();
        let mut sst: Vec<u64> = Vec::new();
        for r in (Records { stream }) {
            let r = r?;
            match r.typ {
                0x0085 => {
                    if let Some(pos) = u32_at(r.data, 0) {
                        sheets.push((pos as usize, sheet_name(r.data)));
                    }
                }
                0x00FC => sst = sst_lengths(&r),
                0x000A => break,
                _ => {}
            }
        }
        let mut extents = Vec::new();
        for (pos, name) in sheets {
            let Some(sheet) = stream.get(pos..) else {
                continue; // calamine fails on it
            };
            extents.push(measure_sheet(sheet, name, &sst)?);
        }
        check_extents(&extents, ".xls")
    }

    fn measure_sheet(sheet: &[u8], name: String, sst: &[u64]) -> Result<Extent, OpenError> {
        let mut x = Extent::new(name);
        let mut seen_bof = false;
        let mut depth = 0usize;
        let mut formula_at = (0u64, 0u64);
        for r in (Records { stream: sheet }) {
            let r = r?;
            if depth > 0 {
                match r.typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let d = r.data;
            let at = |d: &[u8]| -> Option<(u64, u64)> {
                Some((u16_at(d, 0)? as u64, u16_at(d, 2)? as u64))
            };
            let one = |x: &mut Extent, pos: Option<(u64, u64)>, text: u64| {
                if let Some(p) = pos {
                    x.cell(p, 1, 1);
                    x.pushed += 1;
                    x.text = x.text.saturating_add(text);
                }
            };
            match r.typ {
                0x0809 => {
                    if seen_bof {
                        depth += 1;
                    } else {
                        seen_bof = true;
                    }
                }
                0x0200 => {
                    // calamine reserves rows × columns of the declared dimensions (with its
                    // arithmetic, which wraps on an inverted range).
                    let (rf, rl, mut cf, cl) = match d.len() {
                        10 => (
                            u16_at(d, 0).unwrap_or(0) as u32,
                            u16_at(d, 2).unwrap_or(0) as u32,
                            u16_at(d, 4).unwrap_or(0) as u32,
                            u16_at(d, 6).unwrap_or(0) as u32,
                        ),
                        14 | 16 => (
                            u32_at(d, 0).unwrap_or(0),
                            u32_at(d, 4).unwrap_or(0),
                            u16_at(d, 8).unwrap_or(0) as u32,
                            u16_at(d, 10).unwrap_or(0) as u32,
                        ),
                        _ => continue,
                    };
                    if 0xFF < cf || cl < cf {
                        cf = 0;
                    }
                    let (end_r, end_c) = if rl >= 1 && cl >= 1 {
                        (rl - 1, cl - 1)
                    } else {
                        (rf, cf)
                    };
                    let rows = end_r.wrapping_sub(rf).wrapping_add(1) as u64;
                    let cols = end_c.wrapping_sub(cf).wrapping_add(1) as u64;
                    let reserve = rows.saturating_mul(cols);
                    if reserve > MAX_BUILT_CELLS {
                        return Err(OpenError::OverLimit {
                            sheet: Some(x.name.clone()),
                            cell: None,
                            message: format!(
                                "the sheet declares its size as {} rows × {} columns, more than Lodestone reads (at most {} cells; an Excel 97-2003 file from a damaged or unusual writer: save it as .xlsx)",
                                thousands(rows),
                                thousands(cols),
                                thousands(MAX_BUILT_CELLS)
                            ),
                        });
                    }
                }
                0x0203 | 0x027E if d.len() >= 10 => one(&mut x, at(d), 0),
                0x0205 if d.len() >= 8 => one(&mut x, at(d), 0),
                0x0204 | 0x00D6 if d.len() >= 6 => one(&mut x, at(d), d.len() as u64 * 3),
                0x0207 => one(&mut x, Some(formula_at), d.len() as u64 * 3),
                0x00FD if d.len() >= 10 => {
                    let i = u32_at(d, 6).unwrap_or(u32::MAX) as usize;
                    if let Some(len) = sst.get(i) {
                        one(&mut x, at(d), *len);
                    }
                }
                0x00BD if d.len() >= 6 => {
                    let first = u16_at(d, 2).unwrap_or(0) as u64;
                    let n = ((d.len() - 6) / 6) as u64;
                    if let (Some((row, _)), true) = (at(d), n > 0) {
                        x.cell((row, first), 1, n);
                        x.pushed += n;
                    }
                }
                0x0006 if d.len() >= 20 => {
                    if let Some(p) = at(d) {
                        formula_at = p;
                        // The value, and the formula's text (up to a few times its tokens).
                        one(&mut x, Some(p), d.len() as u64 * 8);
                        x.pushed += 1;
                    }
                }
                0x000A => break,
                _ => {}
            }
        }
        Ok(x)
    }

    pub(super) fn open(bytes: &[u8]) -> Result<Book<'static>, OpenError> {
        if bytes.len() as u64 > MAX_XLS_BYTES {
            return Err(over(format!(
                "the Excel 97-2003 file is {}, more than the {} Lodestone reads in that format (save it as .xlsx)",
                mb(bytes.len() as u64),
                mb(MAX_XLS_BYTES)
            )));
        }
        // The compound file's io::Error as it says itself (no calamine prefix to remove).
        let damaged = |e: std::io::Error| {
            OpenError::Damaged(Damaged {
                reason: format!("a damaged Excel 97-2003 file: {e}"),
                source: Arc::new(e),
            })
        };
        let mut cfb = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(damaged)?;
        let path = if cfb.is_stream("/Workbook") {
            "/Workbook"
        } else if cfb.is_stream("/Book") {
            "/Book"
        } else {
            return Err(OpenError::NotWorkbook(
                "a damaged Excel 97-2003 file: it has no workbook stream".to_string(),
            ));
        };
        let mut stream = Vec::new();
        cfb.open_stream(path)
            .map_err(damaged)?
            .take(MAX_XLS_BYTES)
            .read_to_end(&mut stream)
            .map_err(damaged)?;
        measure(&stream)?;
        // calamine reads the very stream measured: a fresh compound file holding it alone.
        let mut fresh =
            cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
                .map_err(damaged)?;
        fresh
            .create_stream("/Workbook")
            .and_then(|mut s| s.write_all(&stream))
            .map_err(damaged)?;
        fresh.flush().map_err(damaged)?;
        let bytes = fresh.into_inner().into_inner();
        let book = Xls::new(Cursor::new(bytes))
            .map_err(|e| super::damaged_by("a damaged Excel 97-2003 file", e))?;
        Ok(Book::Xls(Box::new(book)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_named_as_excel_does() {
        for (row, col, want) in [
            (0, 0, "A1"),
            (4_999, 499, "SF5000"),
            (1_048_575, 16_383, "XFD1048576"),
            (0, 26, "AA1"),
        ] {
            assert_eq!(a1(row, col), want, "({row}, {col})");
        }
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    fn zip(parts: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in parts {
            w.start_file(*name, options).expect("entry");
            w.write_all(text.as_bytes()).expect("write");
        }
        w.finish().expect("zip").into_inner()
    }

    fn over_limit(bytes: &[u8]) -> (Option<String>, Option<(u32, u32)>, String) {
        match open(bytes) {
            Err(OpenError::OverLimit {
                sheet,
                cell,
                message,
            }) => (sheet, cell, message),
            Err(e) => panic!("expected a limit, got {e:?}"),
            Ok(_) => panic!("expected a limit, got a workbook"),
        }
    }

    #[test]
    fn an_ods_cell_at_the_grids_far_corner_is_refused_before_calamine_builds_it() {
        let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>
<table:table table:name="Deal"><table:table-row><table:table-cell office:value-type="string"><text:p>Deal name</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="1048574"><table:table-cell/></table:table-row>
<table:table-row><table:table-cell table:number-columns-repeated="16383"/><table:table-cell office:value-type="float" office:value="1"/></table:table-row></table:table>
</office:spreadsheet></office:body></office:document-content>"#;
        let bytes = zip(&[
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", content),
        ]);
        let (sheet, cell, message) = over_limit(&bytes);
        assert_eq!(sheet.as_deref(), Some("Deal"));
        assert_eq!(cell, Some((1_048_575, 16_383)), "{message}");
        assert!(message.starts_with("a stray cell far outside"), "{message}");
    }

    #[test]
    fn ods_sheets_that_calamine_would_build_past_the_budget_are_refused() {
        let content = r#"<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet>
<table:table table:name="Costs"><table:table-row table:number-rows-repeated="4000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="400"/></table:table-row></table:table>
<table:table table:name="Workings"><table:table-row table:number-rows-repeated="4000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="400"/></table:table-row></table:table>
</office:spreadsheet></office:body></office:document-content>"#;
        let bytes = zip(&[("content.xml", content)]);
        let (_, _, message) = over_limit(&bytes);
        assert!(message.contains("more than 2,500,000 cells"), "{message}");
    }

    /// A BIFF8 record.
    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    /// An .xls whose one sheet, "Deal", holds these records after its BOF.
    fn xls(sheet_records: &[Vec<u8>]) -> Vec<u8> {
        use std::io::Write;
        let bof = |dt: u16| {
            record(
                0x0809,
                &[&0x0600u16.to_le_bytes()[..], &dt.to_le_bytes(), &[0; 12]].concat(),
            )
        };
        let mut bound = Vec::new();
        bound.extend(0u32.to_le_bytes()); // position, patched below
        bound.extend([0, 0, 4, 0]);
        bound.extend(b"Deal");
        let first = bof(0x0005);
        let at = first.len() + 4;
        let mut globals = [first, record(0x0085, &bound), record(0x000A, &[])].concat();
        let pos = globals.len() as u32;
        globals[at..at + 4].copy_from_slice(&pos.to_le_bytes());
        let mut stream = globals;
        stream.extend(bof(0x0010));
        for r in sheet_records {
            stream.extend(r);
        }
        stream.extend(record(0x000A, &[]));
        let mut cfb =
            cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
                .expect("cfb");
        cfb.create_stream("/Workbook")
            .and_then(|mut s| s.write_all(&stream))
            .expect("stream");
        cfb.flush().expect("flush");
        cfb.into_inner().into_inner()
    }

    fn number(row: u16, col: u16) -> Vec<u8> {
        record(
            0x0203,
            &[
                &row.to_le_bytes()[..],
                &col.to_le_bytes(),
                &[0, 0],
                &1f64.to_le_bytes(),
            ]
            .concat(),
        )
    }

    #[test]
    fn an_xls_within_the_limits_opens() {
        let bytes = xls(&[number(0, 0), number(10, 3)]);
        let mut book = open(&bytes).map_err(|e| format!("{e:?}")).expect("opens");
        assert_eq!(book.sheet_names(), ["Deal"]);
        let cells = book.read_sheet("Deal").expect("sheet");
        assert_eq!(cells.values.len(), 2);
        assert!(cells.stray.is_none());
    }

    #[test]
    fn an_xls_cell_far_away_or_a_huge_declared_dimension_is_refused() {
        let (sheet, cell, message) = over_limit(&xls(&[number(0, 0), number(60_000, 200)]));
        assert_eq!(sheet.as_deref(), Some("Deal"));
        assert_eq!(cell, Some((60_000, 200)), "{message}");
        let dims = [
            &0u32.to_le_bytes()[..],
            &65_536u32.to_le_bytes(),
            &0u16.to_le_bytes(),
            &256u16.to_le_bytes(),
            &[0, 0],
        ]
        .concat();
        let (_, _, message) = over_limit(&xls(&[record(0x0200, &dims)]));
        assert!(
            message.contains("declares its size as 65,536 rows × 256 columns"),
            "{message}"
        );
        // An inverted range, which calamine's arithmetic wraps to four billion rows.
        let inverted = [
            &10u32.to_le_bytes()[..],
            &2u32.to_le_bytes(),
            &0u16.to_le_bytes(),
            &1u16.to_le_bytes(),
            &[0, 0],
        ]
        .concat();
        let (_, _, message) = over_limit(&xls(&[record(0x0200, &inverted)]));
        assert!(
            message.contains("declares its size as 4,294,967,288 rows"),
            "{message}"
        );
    }

    #[test]
    fn one_stray_cell_is_named_by_itself_and_many_by_their_corner() {
        let mut stray = None;
        Stray::add(&mut stray, (1_048_575, 16_383), || "the number 1".into());
        let (cell, message) = stray.clone().expect("stray").message();
        assert_eq!(cell, (1_048_575, 16_383));
        assert!(
            message.starts_with("a stray cell far outside the sheet's tables (found the number 1"),
            "{message}"
        );
        Stray::add(&mut stray, (6_000, 1), || unreachable!());
        let (cell, message) = stray.expect("stray").message();
        assert_eq!(cell, (1_048_575, 16_383));
        assert!(
            message.contains("found 2 cells outside A1:SF5000"),
            "{message}"
        );
    }
}
