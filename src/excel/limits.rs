//! Excel's own limits, kept by every workbook Lodestone writes. They hold by construction:
//! long aggregates are chains of helper lines (`engine::calc::Calc::chain_long_rows`),
//! master checks count a range, names are at most `MAX_NAME_CHARS` (checked with the deal),
//! titles shorten the deal's name. The writers still check each formula and text as they
//! write it, and refuse, naming the sheet and cell, anything that would break a limit: a
//! file Excel reports as damaged is worse than no file.
//!
//! Owns the limits and the check. Must not build workbooks.

/// Excel: a formula of at most 8,192 characters and 64 levels of nested functions.
pub const MAX_FORMULA_CHARS: usize = 8_192;
pub const MAX_NESTING: usize = 64;
/// Excel: a function takes at most 255 arguments.
pub const MAX_ARGUMENTS: usize = 255;
/// Excel: a cell holds at most 32,767 characters.
pub use crate::model::MAX_TEXT_CHARS;
/// Excel: a sheet name is at most 31 characters.
pub const MAX_SHEET_NAME_CHARS: usize = 31;
/// Excel's grid.
pub const MAX_ROWS: u32 = 1_048_576;
pub const MAX_COLS: u32 = 16_384;
/// The longest name of anything in a deal (checked with the deal).
pub use crate::model::MAX_NAME_CHARS;
/// The deal's name as titles show it.
const TITLE_NAME_CHARS: usize = 120;

/// Levels of nested parentheses outside string literals.
pub fn nesting(formula: &str) -> usize {
    let (mut depth, mut deepest, mut quoted) = (0usize, 0usize, false);
    for c in formula.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The most arguments any one function call of the formula has (outside string literals).
pub fn most_arguments(formula: &str) -> usize {
    // One count per open parenthesis: its commas at its own level, plus one.
    let (mut open, mut most, mut quoted) = (Vec::<usize>::new(), 0usize, false);
    for c in formula.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => open.push(1),
            ')' if !quoted => most = most.max(open.pop().unwrap_or(0)),
            ',' if !quoted => {
                if let Some(n) = open.last_mut() {
                    *n += 1;
                }
            }
            _ => {}
        }
    }
    most
}

fn cell(sheet: &str, row: u32, col: u32) -> String {
    format!(
        "'{sheet}'!{}",
        crate::model::CellRef::new(sheet, row, col).a1()
    )
}

/// A formula as written (with or without its leading `=`), within Excel's limits.
pub fn check_formula(sheet: &str, row: u32, col: u32, formula: &str) -> Result<(), String> {
    let text = formula.strip_prefix('=').unwrap_or(formula);
    let chars = text.chars().count();
    if chars > MAX_FORMULA_CHARS {
        return Err(format!(
            "{}: a formula of {chars} characters, more than Excel's {MAX_FORMULA_CHARS} (Lodestone keeps formulas short by construction: please report this with the deal)",
            cell(sheet, row, col)
        ));
    }
    let depth = nesting(text);
    if depth > MAX_NESTING {
        return Err(format!(
            "{}: a formula nested {depth} levels deep, more than Excel's {MAX_NESTING} (please report this with the deal)",
            cell(sheet, row, col)
        ));
    }
    let arguments = most_arguments(text);
    if arguments > MAX_ARGUMENTS {
        return Err(format!(
            "{}: a function of {arguments} arguments, more than Excel's {MAX_ARGUMENTS} (please report this with the deal)",
            cell(sheet, row, col)
        ));
    }
    if row >= MAX_ROWS || col >= MAX_COLS {
        return Err(format!(
            "{}: beyond Excel's grid of {MAX_ROWS} rows and {MAX_COLS} columns",
            cell(sheet, row.min(MAX_ROWS), col.min(MAX_COLS))
        ));
    }
    Ok(())
}

/// A text cell within Excel's limit.
pub fn check_text(sheet: &str, row: u32, col: u32, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(format!(
            "{}: a text of {chars} characters, more than the {MAX_TEXT_CHARS} an Excel cell holds (please report this with the deal)",
            cell(sheet, row, col)
        ));
    }
    Ok(())
}

/// A message (an input warning quoting what a user typed) within a cell: whole when it
/// fits, else its start and "…". The readers shorten what they quote; this is the net.
pub fn clipped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= MAX_TEXT_CHARS {
        std::borrow::Cow::Borrowed(text)
    } else {
        let start: String = text.chars().take(MAX_TEXT_CHARS - 1).collect();
        std::borrow::Cow::Owned(format!("{start}…"))
    }
}

/// The deal's name for a title: whole when short, else its start and "…" (the whole name is
/// on the Deal sheet).
pub fn title_name(name: &str) -> String {
    if name.chars().count() <= TITLE_NAME_CHARS {
        name.to_string()
    } else {
        let start: String = name.chars().take(TITLE_NAME_CHARS - 1).collect();
        format!("{start}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_longer_than_a_cell_is_clipped_to_it() {
        let long = "n".repeat(MAX_TEXT_CHARS + 10);
        let short = clipped(&long);
        assert_eq!(short.chars().count(), MAX_TEXT_CHARS);
        assert!(short.ends_with('…'));
        assert_eq!(clipped(&"n".repeat(MAX_TEXT_CHARS)).len(), MAX_TEXT_CHARS);
    }

    #[test]
    fn formulas_over_the_limits_are_named() {
        assert_eq!(check_formula("Calc Base", 2, 4, "=A1+B1"), Ok(()));
        let long = format!("={}", "A1+".repeat(3_000));
        let e = check_formula("Calc Base", 2, 4, &long).expect_err("too long");
        assert!(
            e.starts_with("'Calc Base'!E3: a formula of 9000 characters"),
            "{e}"
        );
        let deep = format!("={}1{}", "(".repeat(65), ")".repeat(65));
        let e = check_formula("Summary", 0, 0, &deep).expect_err("too deep");
        assert!(e.contains("nested 65 levels"), "{e}");
        assert_eq!(nesting("=IF(A1=\"(\",(1),2)"), 2);
    }

    #[test]
    fn texts_over_the_limit_are_named_and_titles_shorten_the_name() {
        assert!(check_text("Log", 9, 5, &"x".repeat(32_767)).is_ok());
        let e = check_text("Log", 9, 5, &"x".repeat(32_768)).expect_err("too long");
        assert!(
            e.starts_with("'Log'!F10: a text of 32768 characters"),
            "{e}"
        );
        assert_eq!(title_name("Short"), "Short");
        assert_eq!(title_name(&"n".repeat(40_000)).chars().count(), 120);
    }
}
