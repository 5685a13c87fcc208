//! Excel's own limits hold by construction in every workbook Lodestone writes (issue 14):
//! every formula at most 8,192 characters and 64 levels of nesting, every text at most
//! 32,767 characters, every sheet name at most 31, the grid within 1,048,576 × 16,384; and
//! the workbook's size grows linearly with facilities and tranches.
//!
//! CI writes a deal of 40 facilities and 40 tranches (and LibreOffice recomputes one of 20 ×
//! 20 in tests/results_workbook.rs); `LODESTONE_BIG=1 cargo test --release --test
//! excel_limits -- --ignored --nocapture` writes the 320 × 240 and prints its size
//! (recorded in BENCHMARKS.md).

mod common;

use std::io::{Cursor, Read};

use common::grown;
use lodestone::engine;
use lodestone::examples;
use lodestone::excel::write::results_bytes;
use lodestone::model::*;

/// What a workbook's parts show of Excel's limits.
#[derive(Debug, Default)]
pub struct Measured {
    pub bytes: usize,
    pub formulas: usize,
    pub longest_formula: usize,
    pub deepest_nesting: usize,
    /// The most arguments of one function call.
    pub most_arguments: usize,
    pub longest_text: usize,
    pub longest_sheet_name: usize,
    pub max_row: u64,
    pub max_col: u64,
}

fn unescape_len(s: &str) -> usize {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .chars()
        .count()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(gt) = after.find('>') else { break };
        if after[..gt].ends_with('/') {
            rest = &after[gt..];
            continue;
        }
        let body = &after[gt + 1..];
        let Some(end) = body.find(close) else { break };
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

fn a1_position(r: &str) -> (u64, u64) {
    let letters: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let col = letters
        .bytes()
        .fold(0u64, |a, b| a * 26 + (b - b'A' + 1) as u64);
    let row = r[letters.len()..].parse::<u64>().unwrap_or(0);
    (row, col)
}

pub fn measure(bytes: &[u8]) -> Measured {
    let mut m = Measured {
        bytes: bytes.len(),
        ..Measured::default()
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let name = f.name().expect("name").to_string();
        let mut text = String::new();
        f.read_to_string(&mut text).expect("utf-8 part");
        if name == "xl/workbook.xml" {
            for s in text.split("<sheet name=\"").skip(1) {
                let n = unescape_len(&s[..s.find('"').unwrap_or(0)]);
                m.longest_sheet_name = m.longest_sheet_name.max(n);
            }
        }
        if name.starts_with("xl/worksheets/sheet") {
            for f in between(&text, "<f", "</f>") {
                m.formulas += 1;
                m.longest_formula = m.longest_formula.max(unescape_len(f));
                m.deepest_nesting = m.deepest_nesting.max(lodestone::excel::limits::nesting(f));
                m.most_arguments = m
                    .most_arguments
                    .max(lodestone::excel::limits::most_arguments(f));
            }
            for r in text.split("<c r=\"").skip(1) {
                let (row, col) = a1_position(&r[..r.find('"').unwrap_or(0)]);
                m.max_row = m.max_row.max(row);
                m.max_col = m.max_col.max(col);
            }
        }
        if name == "xl/sharedStrings.xml" || name.starts_with("xl/worksheets/sheet") {
            for t in between(&text, "<t", "</t>") {
                m.longest_text = m.longest_text.max(unescape_len(t));
            }
        }
    }
    m
}

pub fn workbook(deal: &Deal) -> Vec<u8> {
    let runs = engine::run_all(deal, &[]).expect("runs");
    results_bytes(deal, &runs).expect("workbook")
}

fn assert_within_limits(what: &str, m: &Measured) {
    assert!(
        m.longest_formula <= 8_192,
        "{what}: a formula of {} characters",
        m.longest_formula
    );
    assert!(
        m.deepest_nesting <= 64,
        "{what}: {} levels of nesting",
        m.deepest_nesting
    );
    assert!(
        m.most_arguments <= 255,
        "{what}: a function of {} arguments",
        m.most_arguments
    );
    assert!(
        m.longest_text <= 32_767,
        "{what}: a text of {} characters",
        m.longest_text
    );
    assert!(
        m.longest_sheet_name <= 31,
        "{what}: a sheet name of {}",
        m.longest_sheet_name
    );
    assert!(
        m.max_row <= 1_048_576 && m.max_col <= 16_384,
        "{what}: {m:?}"
    );
}

#[test]
fn the_examples_stay_within_excels_limits() {
    for name in examples::EXAMPLES {
        let deal = examples::example(name).expect("example");
        let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
        let m = measure(&results_bytes(&deal, &runs).expect("workbook"));
        assert_within_limits(name, &m);
    }
}

#[test]
fn a_deal_of_40_facilities_and_40_tranches_stays_within_excels_limits_and_grows_linearly() {
    let small = measure(&workbook(&grown(10, 10)));
    let bytes = workbook(&grown(40, 40));
    if let Ok(path) = std::env::var("LODESTONE_LIMITS_DUMP") {
        std::fs::write(path, &bytes).expect("dump");
    }
    let large = measure(&bytes);
    eprintln!("10 x 10: {small:?}\n40 x 40: {large:?}");
    assert_within_limits("10 x 10", &small);
    assert_within_limits("40 x 40", &large);
    assert!(
        (large.bytes as f64) < 2.0 * 4.0 * small.bytes as f64,
        "40 x 40 is {} bytes, more than twice 4 x the {} of 10 x 10",
        large.bytes,
        small.bytes
    );
}

#[test]
#[ignore = "minutes of CPU: run with LODESTONE_BIG=1 in release (BENCHMARKS.md)"]
fn a_deal_of_320_facilities_and_240_tranches_stays_within_excels_limits() {
    let start = std::time::Instant::now();
    let small = measure(&workbook(&grown(10, 10)));
    let big = measure(&workbook(&grown(320, 240)));
    let linear = small.bytes as f64 * 28.0; // (320 + 240) / (10 + 10)
    eprintln!(
        "10 x 10: {small:?}\n320 x 240: {big:?}\n{:.2} x the linear extrapolation, {:?}",
        big.bytes as f64 / linear,
        start.elapsed()
    );
    assert_within_limits("320 x 240", &big);
    assert!((big.bytes as f64) < 2.0 * linear);
}

/// Prints the measures of the deals in `LODESTONE_SIZES` ("10x10,10x80"), for exploring how
/// the workbook grows.
#[test]
#[ignore = "exploration: LODESTONE_SIZES=10x10,10x80 cargo test --release --test excel_limits growth -- --ignored --nocapture"]
fn growth() {
    let sizes = std::env::var("LODESTONE_SIZES").unwrap_or_else(|_| "10x10".into());
    for size in sizes.split(',') {
        let (f, t) = size.split_once('x').expect("FxT");
        let (f, t): (usize, usize) = (f.parse().expect("f"), t.parse().expect("t"));
        let start = std::time::Instant::now();
        let bytes = workbook(&grown(f, t));
        if let Ok(dir) = std::env::var("LODESTONE_LIMITS_DUMP_DIR") {
            std::fs::write(format!("{dir}/w{f}x{t}.xlsx"), &bytes).expect("dump");
        }
        eprintln!("{f} x {t}: {:?} in {:?}", measure(&bytes), start.elapsed());
    }
}

#[test]
fn check_refuses_a_deal_name_over_32767_characters_and_a_name_over_255_naming_the_cells() {
    use common::{Patch, TempDir, Xlsx, example_bytes, lodestone, text};
    let dir = TempDir::new("limits-names");
    let mut x = Xlsx::open(&example_bytes("gallium-refinery"));
    x.set_cell("Deal", "B2", Patch::Text(&"n".repeat(40_000)));
    x.set_cell("Parties", "A2", Patch::Text(&"p".repeat(300)));
    let path = dir.write("long.xlsx", &x.bytes());
    let file = path.display().to_string();
    let out = lodestone(&["check", &file]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}: 'Deal'!B2: the deal name is 40000 characters long (found 'nnnn"
        )) && stderr.contains("expected at most 32767: the most an Excel cell holds)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}: 'Parties'!A2: a party name is 300 characters long"
        )),
        "{stderr}"
    );
    // At the limit, the name is fine and the workbook is written.
    let mut x = Xlsx::open(&example_bytes("gallium-refinery"));
    x.set_cell("Deal", "B2", Patch::Text(&"n".repeat(32_767)));
    let path = dir.write("longest.xlsx", &x.bytes());
    let results = dir.path().join("results.xlsx").display().to_string();
    let out = lodestone(&["run", &path.display().to_string(), "-o", &results]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = measure(&std::fs::read(&results).expect("results"));
    assert_within_limits("a deal name of 32,767 characters", &m);
    assert_eq!(m.longest_text, 32_767);
}

/// A header as long as a cell holds is an unknown column: its warning quotes the start of it,
/// and the results workbook, which lists the warning, is written (a mutant of the fuzzing
/// suite made the warning longer than a cell, and the run refused to write).
#[test]
fn a_header_as_long_as_a_cell_is_warned_about_briefly_and_the_run_writes() {
    use common::{Patch, TempDir, Xlsx, example_bytes, lodestone, text};
    let dir = TempDir::new("limits-header");
    let mut x = Xlsx::open(&example_bytes("gallium-refinery"));
    x.set_cell("Parties", "E1", Patch::Text(&"n".repeat(32_767)));
    let path = dir.write("long-header.xlsx", &x.bytes());
    let file = path.display().to_string();
    let out_path = dir.path().join("results.xlsx");
    let out = lodestone(&["run", &file, "-o", &out_path.display().to_string()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("'Parties'!E1"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(warning.contains(&format!("the column '{}…' is ignored", "n".repeat(60))));
    assert!(warning.chars().count() < 400, "{warning}");
    assert!(out_path.exists());
}
