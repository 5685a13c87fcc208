//! Workbooks laid out otherwise than the template: data not starting at A1, columns in
//! another order with lower-case headers and no units, blank rows, extra columns; other
//! formats (ods, xls, xlsm, xlsx re-saved by LibreOffice); formulas with saved values; and
//! several errors in one workbook, all reported, sorted.

mod common;

use std::path::PathBuf;

use calamine::Data;
use common::{Grid, Patch, TempDir, Xlsx};
use lodestone::examples;
use lodestone::excel::inputs::{input_cell, input_values};
use lodestone::excel::read::read_deal;
use lodestone::excel::schema::{Layout, SHEETS};
use lodestone::model::*;
use rust_decimal::Decimal;

const NDPR: &str = "ndpr-joint-facility";

fn ndpr() -> Deal {
    examples::example(NDPR).expect("example")
}

/// The deal read from `path` has the example's values; `cell_of` maps each canonical cell
/// to where it should now be.
fn assert_same_values(case: &str, path: &std::path::Path, cell_of: impl Fn(&CellRef) -> CellRef) {
    let want = ndpr();
    let read = match read_deal(path) {
        Ok(d) => d,
        Err(e) => panic!("case {case}: does not read:\n{e}"),
    };
    let (w, g) = (input_values(&want), input_values(&read));
    assert_eq!(w.len(), g.len(), "case {case}: number of inputs");
    for (w, g) in w.iter().zip(&g) {
        let at = format!("case {case}: {} record {} {:?}", w.sheet, w.record, w.field);
        assert_eq!(w.value, g.value, "{at}");
        if g.present {
            let canonical = input_cell(&want, g.sheet, g.record, g.field).expect("input cell");
            assert_eq!(g.cell, Some(&cell_of(&canonical)), "{at}: cell");
        }
    }
}

#[test]
fn a_sheet_starting_at_c3_still_names_cells_correctly() {
    let dir = TempDir::new("offset");
    let canonical = dir.write("canonical.xlsx", &common::example_bytes(NDPR));
    let shifted: Vec<(String, Grid)> = common::read_grids(&canonical)
        .into_iter()
        .map(|(name, cells)| {
            let cells = cells
                .into_iter()
                .map(|(r, c, d)| (r + 2, c + 2, d))
                .collect();
            (name, cells)
        })
        .collect();
    let path = dir.write("shifted.xlsx", &common::write_grids(&shifted));
    assert_same_values("shifted by two rows and columns", &path, |c| {
        CellRef::new(c.sheet.clone(), c.row + 2, c.col + 2)
    });

    // And an error in the shifted workbook names the shifted cell: Nameplate of the first
    // facility, canonical E2, is now G4.
    let mut x = Xlsx::open(&std::fs::read(&path).expect("read"));
    x.set_cell("Facilities", "G4", Patch::Text("lots"));
    let bad = dir.write("shifted-bad.xlsx", &x.bytes());
    let e = read_deal(&bad).expect_err("text in a number");
    assert_eq!(
        e.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        [
            "'Facilities'!G4: Nameplate is not a number (found text \"lots\", expected a number (t/yr))"
        ]
    );
}

/// Table columns in reverse order, headers lower-cased without units, a blank row after the
/// first record, and a comment column between the fields.
#[test]
fn columns_in_any_order_with_plain_headers_blank_rows_and_extra_columns() {
    let dir = TempDir::new("reordered");
    let canonical = dir.write("canonical.xlsx", &common::example_bytes(NDPR));
    let mut grids = common::read_grids(&canonical);
    for (name, cells) in grids.iter_mut() {
        let Some(schema) = SHEETS.iter().find(|s| s.name == name) else {
            continue;
        };
        if schema.layout != Layout::Table {
            continue;
        }
        let width = schema.fields.len() as u32;
        let mut out: Grid = Vec::new();
        for (r, c, d) in cells.drain(..) {
            if c >= width {
                continue; // the Notes column
            }
            let (r2, c2) = moved(r, c, width);
            let d = match (r, &d) {
                (0, Data::String(h)) => {
                    Data::String(h.split(" (").next().unwrap_or("").to_lowercase())
                }
                _ => d,
            };
            out.push((r2, c2, d));
        }
        out.push((0, width / 2, Data::String("Comment".into())));
        out.push((1, width / 2, Data::String("a note in the middle".into())));
        *cells = out;
    }
    let path = dir.write("reordered.xlsx", &common::write_grids(&grids));
    assert_same_values("reordered", &path, |c| {
        let schema = SHEETS.iter().find(|s| s.name == c.sheet).expect("sheet");
        if schema.layout != Layout::Table {
            return c.clone();
        }
        let (r, col) = moved(c.row, c.col, schema.fields.len() as u32);
        CellRef::new(c.sheet.clone(), r, col)
    });
}

/// Reverses the columns, leaves a gap for the comment column, and a blank row after row 2.
fn moved(row: u32, col: u32, width: u32) -> (u32, u32) {
    let reversed = width - 1 - col;
    let col = if reversed >= width / 2 {
        reversed + 1
    } else {
        reversed
    };
    let row = if row >= 2 { row + 1 } else { row };
    (row, col)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// LibreOffice's saves of the NdPr template (tests/fixtures/regenerate.sh).
#[test]
fn ods_xls_xlsm_and_a_libreoffice_xlsx_read_the_same() {
    let dir = TempDir::new("formats");
    let xlsm = dir.write("ndpr.xlsm", &common::example_bytes(NDPR));
    for (case, path) in [
        ("ods", fixture("ndpr-joint-facility.ods")),
        ("xls", fixture("ndpr-joint-facility.xls")),
        (
            "xlsx re-saved by LibreOffice",
            fixture("ndpr-joint-facility-libreoffice.xlsx"),
        ),
        ("xlsm", xlsm),
    ] {
        assert_same_values(case, &path, |c| c.clone());
    }
}

#[test]
fn a_formula_is_read_by_its_saved_value() {
    let dir = TempDir::new("formula");
    let mut x = Xlsx::open(&common::example_bytes(NDPR));
    x.set_cell("Deal", "B5", Patch::Formula("2063-2026+1", "38"));
    x.set_cell("Facilities", "E2", Patch::Formula("2*70000", "140000"));
    let path = dir.write("formula.xlsx", &x.bytes());
    let deal = read_deal(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deal.horizon_years.value, 38);
    assert_eq!(deal.facilities[0].nameplate.value, Decimal::from(140_000));
}

#[test]
fn text_numbers_percentages_and_dates_are_read_exactly() {
    let dir = TempDir::new("text-values");
    let mut x = Xlsx::open(&common::example_bytes(NDPR));
    x.set_cell("Deal", "B4", Patch::Text("2026-01-01"));
    x.set_cell("Deal", "B7", Patch::Text("9%"));
    x.set_cell("Facilities", "E2", Patch::Text("140,000"));
    x.set_cell("Financing", "D3", Patch::Text("600,000,000"));
    x.set_cell("Financing", "F3", Patch::Text("8.5 %"));
    x.set_cell("Financing", "I3", Patch::Text("Y"));
    let path = dir.write("text.xlsx", &x.bytes());
    assert_same_values("numbers typed as text", &path, |c| c.clone());
}

#[test]
fn several_errors_are_all_reported_sorted_by_sheet_then_cell() {
    let dir = TempDir::new("several");
    let mut deal = ndpr();
    deal.tranches[2].participants[2].share.value = "0.2".parse().unwrap_or_default();
    deal.products[0].deck[3].1.value = "-5".parse().unwrap_or_default();
    let bytes =
        lodestone::excel::template::template_bytes(&deal, &Default::default()).expect("bytes");
    let mut x = Xlsx::open(&bytes);
    // Patched in reverse order of where they are reported.
    x.set_cell("Scenarios", "G2", Patch::Text("seventy"));
    x.set_cell("Facilities", "E3", Patch::Text("lots"));
    x.set_cell("Facilities", "B2", Patch::Text("mne"));
    x.set_cell("Deal", "B7", Patch::Error("#N/A"));
    let path = dir.write("deal.xlsx", &x.bytes());
    let e = read_deal(&path).expect_err("bad");
    let file = path.display().to_string();
    assert_eq!(
        e.to_string(),
        [
            "'Deal'!B7: Project discount rate holds an Excel error (found #N/A, expected a percentage such as 5% or 0.05; fix the formula or the cell it refers to)",
            "'Facilities'!B2: Kind is not a recognised kind (found text \"mne\", expected one of: mine, concentrator, refinery)",
            "'Facilities'!E3: Nameplate is not a number (found text \"lots\", expected a number (t/yr))",
            "'Prices'!H2: the 2029 price of 'NdPr oxide' is negative (found -5 USD per kg, expected 0 or more)",
            "'Participants'!C4: participant shares of tranche 'Joint facility loan' sum to 90% (expected 100%; found 'US Government' 40% at 'Participants'!C4, 'Japan Government' 30% at 'Participants'!C5, 'Australian Government' 20% at 'Participants'!C6)",
            "'Scenarios'!G2: Value is not a number (found text \"seventy\", expected a number)",
        ]
        .map(|line| format!("{file}: {line}"))
        .join("\n")
    );
}

#[test]
fn optional_sheets_may_be_absent() {
    let dir = TempDir::new("optional");
    let deal = examples::blank();
    let bytes =
        lodestone::excel::template::template_bytes(&deal, &Default::default()).expect("bytes");
    let mut x = Xlsx::open(&bytes);
    for sheet in SHEETS.iter().filter(|s| !s.required) {
        x.remove_sheet(sheet.name);
    }
    x.remove_sheet("About");
    let path = dir.write("lean.xlsx", &x.bytes());
    let read = read_deal(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.facilities.len(), 1);
    assert!(read.scenarios.is_empty() && read.offtakes.is_empty() && read.fx.is_empty());
}

/// A correlation matrix with only its lower triangle typed (diagonal and upper half blank)
/// reads as the full symmetric matrix; one with only the upper half, too.
#[test]
fn a_correlation_matrix_may_be_typed_as_either_triangle() {
    let dir = TempDir::new("triangle");
    let deal = examples::example("gallium-refinery").expect("example");
    let bytes = common::example_bytes("gallium-refinery");
    for (case, blanks) in [
        ("lower triangle", ["G2", "H2", "H3"]),
        ("upper triangle", ["G2", "G3", "H3"]),
    ] {
        let mut x = Xlsx::open(&bytes);
        for cell in blanks {
            x.set_cell("Monte Carlo", cell, Patch::Text(""));
        }
        let path = dir.write(&format!("{case}.xlsx"), &x.bytes());
        let read = read_deal(&path).unwrap_or_else(|e| panic!("case {case}: {e}"));
        let (want, got) = (
            deal.monte_carlo.as_ref().expect("mc").matrix(),
            read.monte_carlo.as_ref().expect("mc").matrix(),
        );
        assert_eq!(want, got, "case {case}");
    }
}
