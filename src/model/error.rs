//! What is wrong with an input, and where: the error every reader and check reports.
//!
//! Owns `InputError` and `InputWarning`. They know cells (`CellRef`), not files: the reader
//! adds the file name when it prints (`deal.xlsx: 'Financing'!D7: …`).

use std::fmt;

use super::CellRef;

/// One problem with a deal's inputs, at the cell that holds the bad value (None when the
/// value did not come from a workbook, or the problem is a whole sheet's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputError {
    pub cell: Option<CellRef>,
    /// A full sentence fragment: what is wrong, then `(found …, expected …)` where useful.
    pub message: String,
}

impl InputError {
    pub fn new(cell: Option<CellRef>, message: impl Into<String>) -> Self {
        InputError {
            cell,
            message: message.into(),
        }
    }

    /// An error about a cell.
    pub fn at(cell: CellRef, message: impl Into<String>) -> Self {
        InputError::new(Some(cell), message)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cell {
            Some(cell) => write!(f, "{cell}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// Something in a deal's inputs that is read, but probably not what was meant: a column
/// Lodestone does not know (ignored), a tenor of 144 years. The deal still runs; `check` and
/// `run` print every warning, naming its cell, and the results workbook lists them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputWarning {
    pub cell: Option<CellRef>,
    /// What is odd and what Lodestone does with it.
    pub message: String,
}

impl InputWarning {
    pub fn new(cell: Option<CellRef>, message: impl Into<String>) -> Self {
        InputWarning {
            cell,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cell {
            Some(cell) => write!(f, "{cell}: warning: {}", self.message),
            None => write!(f, "warning: {}", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_the_cell_then_the_message() {
        let cases = [
            (
                "with a cell",
                InputError::at(CellRef::new("Financing", 6, 3), "negative commitment"),
                "'Financing'!D7: negative commitment",
            ),
            (
                "without a cell",
                InputError::new(None, "at least one facility is needed"),
                "at least one facility is needed",
            ),
        ];
        for (case, error, want) in cases {
            assert_eq!(error.to_string(), want, "case {case}");
        }
    }
}
