//! Cell provenance: where an input value came from, so that checks long after reading can
//! still name the cell (`deal.xlsx: 'Financing'!D7: …`).

use std::fmt;
use std::ops::Deref;

/// A cell of an input workbook, zero-based internally, shown as `'Sheet'!B7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellRef {
    pub sheet: String,
    /// Zero-based row (row 7 in Excel is 6 here).
    pub row: u32,
    /// Zero-based column (column B is 1).
    pub col: u32,
}

impl CellRef {
    pub fn new(sheet: impl Into<String>, row: u32, col: u32) -> Self {
        CellRef {
            sheet: sheet.into(),
            row,
            col,
        }
    }

    /// The A1-style address without the sheet, e.g. `B7`.
    pub fn a1(&self) -> String {
        format!("{}{}", column_letters(self.col), self.row as u64 + 1)
    }
}

impl fmt::Display for CellRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'!{}", self.sheet, self.a1())
    }
}

/// Excel column letters for a zero-based column index (0 → A, 26 → AA).
pub fn column_letters(col: u32) -> String {
    let mut n = col as u64 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A value with the cell it was read from. Values built in code (tests, examples before
/// they are written) have no cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sourced<T> {
    pub value: T,
    pub cell: Option<CellRef>,
}

impl<T> Sourced<T> {
    pub fn new(value: T, cell: CellRef) -> Self {
        Sourced {
            value,
            cell: Some(cell),
        }
    }

    /// A value that did not come from a workbook.
    pub fn bare(value: T) -> Self {
        Sourced { value, cell: None }
    }

    /// Where the value came from, for messages: `'Sheet'!B7` or `(built in code)`.
    pub fn origin(&self) -> String {
        match &self.cell {
            Some(c) => c.to_string(),
            None => "(not from a workbook)".to_string(),
        }
    }
}

impl<T> Deref for Sourced<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> From<T> for Sourced<T> {
    fn from(value: T) -> Self {
        Sourced::bare(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_cover_one_two_and_three_letters() {
        for (col, want) in [
            (0, "A"),
            (1, "B"),
            (25, "Z"),
            (26, "AA"),
            (51, "AZ"),
            (52, "BA"),
            (701, "ZZ"),
            (702, "AAA"),
        ] {
            assert_eq!(column_letters(col), want, "column {col}");
        }
    }

    #[test]
    fn cell_ref_displays_as_excel_does() {
        assert_eq!(
            CellRef::new("Financing", 6, 3).to_string(),
            "'Financing'!D7"
        );
    }
}
