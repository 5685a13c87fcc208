//! `cargo bench --bench floor`: how near `lodestone run` is to the floor of what it writes.
//!
//! The floor is a bare dump: the very cells of the NdPr results workbook (every formula with
//! its cached value, every string and number; no formats, charts, notes or validations)
//! written with rust_xlsxwriter and nothing else, with Lodestone's own writer settings
//! (level-1 deflate, sheets built on their own threads, the same allocator). The cells are
//! taken from the workbook `lodestone run` writes, read back with calamine, so both sides
//! write the same thing by construction.
//!
//! Both sides use the same rust_xlsxwriter: the vendored copy with Lodestone's speed patches
//! (vendor/README.md), so the floor moves with the writer and the ratio measures what
//! Lodestone adds to it.
//!
//! The two are timed interleaved in one sitting (dump, run, dump, run, ...), so that a change
//! in the machine's load touches both; the run is the whole process (`lodestone run` on the
//! bundled example, reading, engine, workbook and JSON), the dump is in-process. Medians go to
//! BENCHMARKS.md with their ratio.

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Formula, Workbook, Worksheet};

const ROUNDS: usize = 21;
const EXAMPLE: &str = "ndpr-joint-facility";

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One cell of the dump: a formula with its cached value, or a plain value.
enum Cell {
    Formula(String, String),
    Text(String),
    Number(f64),
    Bool(bool),
}

struct Sheet {
    name: String,
    cells: Vec<(u32, u16, Cell)>,
}

fn cached(value: Option<&Data>) -> String {
    match value {
        Some(Data::Float(f)) => f.to_string(),
        Some(Data::Int(i)) => i.to_string(),
        Some(Data::String(s)) => s.clone(),
        Some(Data::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        _ => String::new(),
    }
}

fn plain(value: &Data) -> Option<Cell> {
    match value {
        Data::Float(f) => Some(Cell::Number(*f)),
        Data::Int(i) => Some(Cell::Number(*i as f64)),
        Data::String(s) => Some(Cell::Text(s.clone())),
        Data::Bool(b) => Some(Cell::Bool(*b)),
        _ => None,
    }
}

/// Every sheet's cells, read back from a workbook Lodestone wrote.
fn cells_of(bytes: &[u8]) -> Vec<Sheet> {
    let mut book = Xlsx::new(Cursor::new(bytes)).expect("the results workbook opens");
    let names = book.sheet_names().to_vec();
    names
        .into_iter()
        .map(|name| {
            let values = book.worksheet_range(&name).expect("values");
            let formulas = book.worksheet_formula(&name).expect("formulas");
            let mut cells = Vec::new();
            let (fr, fc) = formulas.start().unwrap_or((0, 0));
            let mut with_formula = std::collections::HashSet::new();
            for (r, c, f) in formulas.used_cells() {
                let (row, col) = (fr + r as u32, fc + c as u32);
                if f.is_empty() {
                    continue;
                }
                with_formula.insert((row, col));
                let value = values.get_value((row, col));
                cells.push((row, col as u16, Cell::Formula(f.clone(), cached(value))));
            }
            let (vr, vc) = values.start().unwrap_or((0, 0));
            for (r, c, v) in values.used_cells() {
                let (row, col) = (vr + r as u32, vc + c as u32);
                if with_formula.contains(&(row, col)) {
                    continue;
                }
                if let Some(cell) = plain(v) {
                    cells.push((row, col as u16, cell));
                }
            }
            Sheet { name, cells }
        })
        .collect()
}

fn fill(sheet: &Sheet) -> Worksheet {
    let mut ws = Worksheet::new();
    ws.set_name(&sheet.name).expect("sheet name");
    for (row, col, cell) in &sheet.cells {
        let written = match cell {
            Cell::Formula(f, v) => ws.write_formula(*row, *col, Formula::new(f).set_result(v)),
            Cell::Text(s) => ws.write_string(*row, *col, s),
            Cell::Number(n) => ws.write_number(*row, *col, *n),
            Cell::Bool(b) => ws.write_boolean(*row, *col, *b),
        };
        written.expect("cell");
    }
    ws
}

/// The floor: the same cells, the same writer settings, nothing else.
fn dump(sheets: &[Sheet]) -> Vec<u8> {
    let mut wb = Workbook::new();
    wb.set_zip_compression_level(1);
    let built: Vec<Worksheet> = std::thread::scope(|scope| {
        let handles: Vec<_> = sheets
            .iter()
            .map(|s| scope.spawn(move || fill(s)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sheet"))
            .collect()
    });
    for ws in built {
        wb.push_worksheet(ws);
    }
    let bytes = wb.save_to_buffer().expect("dump");
    // Not dropped, as `lodestone run` does not drop its workbook at exit: the floor is what
    // writing costs, not freeing.
    std::mem::forget(wb);
    bytes
}

fn run(example: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .arg("run")
        .arg(example)
        .arg("-o")
        .arg(out.join("r.xlsx"))
        .arg("--json")
        .arg(out.join("r.json"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("lodestone runs");
    assert!(status.success(), "lodestone run failed");
}

fn ms(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("templates").join(format!("{EXAMPLE}.xlsx"));
    let out: PathBuf = std::env::temp_dir().join(format!("lodestone-floor-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("folder");
    run(&example, &out);
    let sheets = cells_of(&std::fs::read(out.join("r.xlsx")).expect("results"));
    let formulas = sheets
        .iter()
        .flat_map(|s| &s.cells)
        .filter(|c| matches!(c.2, Cell::Formula(..)))
        .count();
    let cells: usize = sheets.iter().map(|s| s.cells.len()).sum();
    black_box(dump(&sheets));
    let (mut dumps, mut runs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        dumps.push(ms(|| drop(black_box(dump(&sheets)))));
        runs.push(ms(|| run(&example, &out)));
    }
    let _ = std::fs::remove_dir_all(&out);
    let (d, r) = (median(dumps), median(runs));
    println!(
        "{EXAMPLE}: {cells} cells ({formulas} formulas) on {} sheets",
        sheets.len()
    );
    println!("| bare dump | lodestone run | ratio |");
    println!("|---:|---:|---:|");
    println!("| {d:.1} ms | {r:.1} ms | {:.2}× |", r / d);
}
