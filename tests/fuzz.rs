//! The fuzzing suite (issue 14): a few thousand mutants of the three examples, made from a
//! fixed seed, each checked by the `lodestone` binary in a child process whose address space
//! is limited to `MEMORY_KB` (`ulimit -v 1000000`, about 1 GB). Every case must end by itself with
//! exit 0 (the mutant is still a valid deal) or 1 with every line naming the file: no panic,
//! no abort, no signal, and CPU time within `cpu_budget` for its size. A sample of the valid
//! mutants is run as well (exit 0, 1 or 3, every line naming a file), within
//! `RUN_MEMORY_KB`.
//!
//! Cell-level mutations edit the sheets' XML: types (text, booleans, errors, dates, shared
//! strings that are not there, formulas without values), huge and tiny numbers, far cells,
//! duplicated rows and sheets, deleted headers and sheets, long and odd texts. Byte-level
//! mutations damage the file: truncation, flipped bytes, damaged zip entries and central
//! directory, damaged or missing content types and XML, and moderate zip bombs.
//!
//! `LODESTONE_FUZZ_CASES` (default 3,000 in release, 300 in debug) and `LODESTONE_FUZZ_SEED`
//! (default 14) change the run; the case count and time are printed. For longer, coverage-
//! guided runs of the reader see fuzz/README.md (`cargo fuzz`).

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{TempDir, Xlsx, example_bytes, lodestone_limited};
use lodestone::examples::EXAMPLES;

/// The stated memory bound for reading a workbook: the address space of each `check`
/// (`ulimit -v 1000000`, about 1 GB).
const MEMORY_KB: u64 = 1_000_000;
/// A `run` of a valid mutant: the engine's threads and the results workbook's. Most of a
/// run's address space is the allocator's reservations (about 120 MB are resident for
/// the NdPr example), so its bound is stated as an address space of about 4 GB.
const RUN_MEMORY_KB: u64 = 4_000_000;

/// CPU allowed for a case of `bytes` (linear in the input; debug builds are slower).
fn cpu_budget(bytes: usize) -> Duration {
    let scale = if cfg!(debug_assertions) { 10 } else { 1 };
    (Duration::from_secs(2) + Duration::from_millis((bytes as u64 >> 20) * 100)) * scale
}

/// SplitMix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The worksheets of a workbook: (name, part).
fn sheets(x: &Xlsx) -> Vec<(String, String)> {
    let workbook = x.part("xl/workbook.xml");
    workbook
        .split("<sheet name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|name| (name.to_string(), x.sheet_part(name)))
        .collect()
}

/// Byte spans of the elements `<tag …>…</tag>` or `<tag …/>` in `xml`.
fn spans(xml: &str, tag: &str) -> Vec<(usize, usize)> {
    let open = format!("<{tag} ");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open) {
        let start = from + i;
        let Some(gt) = xml[start..].find('>') else {
            break;
        };
        let end = if xml[..start + gt].ends_with('/') {
            start + gt + 1
        } else {
            match xml[start..].find(&close) {
                Some(e) => start + e + close.len(),
                None => break,
            }
        };
        out.push((start, end));
        from = end;
    }
    out
}

/// The `r="…"` of an element's start tag.
fn reference(element: &str) -> Option<&str> {
    let tag = &element[..element.find('>')?];
    let at = tag.find(" r=\"")? + 4;
    let len = tag[at..].find('"')?;
    Some(&tag[at..at + len])
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A replacement for a cell: a value of another type, or an extreme one.
fn odd_cell(rng: &mut Rng, at: &str) -> String {
    let numbers = [
        "1e308",
        "-1e308",
        "1e-308",
        "5e-324",
        "4.9e-324",
        "1.7976931348623157e308",
        "79228162514264337593543950336",
        "-79228162514264337593543950335",
        "0",
        "-0",
        "123456789012345678901234567890",
        "0.1",
        "1e28",
        "-1",
        "2200",
        "1899",
        "99999999",
        "NaN",
        "inf",
        "",
        "1,5",
        "0x10",
    ];
    let texts = [
        "",
        " ",
        "x",
        "5%",
        "150%",
        "(1,000)",
        "1.5e20",
        "US$110",
        "1.65bn",
        "1,5",
        "2027-01-01",
        "2027-13-45",
        "FY2030",
        "TRUE",
        "yes",
        "maybe",
        "Ünïcödé 日本 ✓",
        "𝓛𝓸𝓭𝓮𝓼𝓽𝓸𝓷𝓮",
        "\u{202e}reversed",
        "a\tb",
        "=1+1",
        "#REF!",
        "market",
        "mine",
        "senior debt",
        "annuity",
        "sculpted",
        "per tonne",
        "Base",
        "base",
        "nan",
    ];
    match rng.below(10) {
        0 | 1 => format!("<c r=\"{at}\"><v>{}</v></c>", rng.pick::<&str>(&numbers)),
        2 | 3 => format!(
            "<c r=\"{at}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
            escape(rng.pick::<&str>(&texts))
        ),
        4 => format!(
            "<c r=\"{at}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
            "n".repeat(*rng.pick(&[256, 1_000, 32_767, 32_768, 40_000]))
        ),
        5 => format!("<c r=\"{at}\" t=\"b\"><v>{}</v></c>", rng.below(3)),
        6 => format!(
            "<c r=\"{at}\" t=\"e\"><v>{}</v></c>",
            rng.pick(&["#DIV/0!", "#REF!", "#N/A", "#VALUE!", "#NUM!"])
        ),
        7 => format!(
            "<c r=\"{at}\" t=\"s\"><v>{}</v></c>",
            rng.pick(&["0", "5", "999999", "-1"])
        ),
        8 => format!(
            "<c r=\"{at}\"><f>{}</f></c>",
            rng.pick(&["A1+1", "SUM(A:A)", "1/0", "B2"])
        ),
        _ => format!(
            "<c r=\"{at}\" t=\"d\"><v>{}</v></c>",
            rng.pick(&[
                "2027-01-01T00:00:00",
                "0001-01-01T00:00:00",
                "9999-12-31T23:59:59",
                "x"
            ])
        ),
    }
}

/// A cell-level mutation of a workbook; returns what was done.
fn mutate_cells(rng: &mut Rng, x: &mut Xlsx) -> &'static str {
    let sheets = sheets(x);
    let (name, part) = rng.pick(&sheets).clone();
    let xml = x.part(&part);
    let cells = spans(&xml, "c");
    let rows = spans(&xml, "row");
    match rng.below(9) {
        0..=2 if !cells.is_empty() => {
            // A cell of another type or an extreme value.
            let (s, e) = *rng.pick(&cells);
            let at = reference(&xml[s..e]).unwrap_or("A1").to_string();
            let cell = odd_cell(rng, &at);
            x.set_part(&part, format!("{}{cell}{}", &xml[..s], &xml[e..]));
            "a cell of another type or value"
        }
        3 => {
            // A far cell, just past the limits or at the grid's end.
            let (row, col) = match rng.below(4) {
                0 => (1_048_576, 16_383),
                1 => (5_001 + rng.below(100) as u64, rng.below(30) as u64),
                2 => (1 + rng.below(50) as u64, 500 + rng.below(20) as u64),
                _ => (1 + rng.below(1_048_575) as u64, rng.below(16_384) as u64),
            };
            let at = format!("{}{row}", lodestone::model::column_letters(col as u32));
            let cell = odd_cell(rng, &at);
            x.append_rows(&name, &format!("<row r=\"{row}\">{cell}</row>"));
            "a far cell"
        }
        4 if !rows.is_empty() => {
            // A row duplicated, usually a few times, now and then past the row limit.
            let (s, e) = *rng.pick(&rows);
            let row = &xml[s..e];
            let old = reference(row).unwrap_or("1").to_string();
            let times = if rng.chance(5) {
                5_200
            } else {
                1 + rng.below(30)
            };
            let last = rows.len() as u64 + 1;
            let mut copies = String::new();
            for k in 0..times as u64 {
                let new = (last + k + 1).to_string();
                copies.push_str(
                    &row.replace(&format!(" r=\"{old}\""), &format!(" r=\"{new}\""))
                        .replace(&format!("{old}\""), &format!("{new}\"")),
                );
            }
            x.append_rows(&name, &copies);
            "duplicated rows"
        }
        5 => {
            // A sheet duplicated, under another name or the same in other case.
            let copy_name = if rng.chance(50) {
                name.to_uppercase()
            } else {
                format!("{name} (2)")
            };
            let n = x.parts.len() + 100;
            let new_part = format!("xl/worksheets/sheet{n}.xml");
            let bytes = xml.clone().into_bytes();
            x.parts.push((new_part.clone(), bytes));
            let rels = x.part("xl/_rels/workbook.xml.rels").replace(
                "</Relationships>",
                &format!("<Relationship Id=\"rIdF{n}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/></Relationships>"),
            );
            x.set_part("xl/_rels/workbook.xml.rels", rels);
            let types = x.part("[Content_Types].xml").replace(
                "</Types>",
                &format!("<Override PartName=\"/{new_part}\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>"),
            );
            x.set_part("[Content_Types].xml", types);
            let workbook = x.part("xl/workbook.xml").replace(
                "</sheets>",
                &format!(
                    "<sheet name=\"{}\" sheetId=\"{n}\" r:id=\"rIdF{n}\"/></sheets>",
                    escape(&copy_name)
                ),
            );
            x.set_part("xl/workbook.xml", workbook);
            "a duplicated sheet"
        }
        6 if !rows.is_empty() => {
            // A header deleted: a cell of the first row emptied.
            let (s, e) = rows[0];
            let first = &xml[s..e];
            let header_cells = spans(first, "c");
            if header_cells.is_empty() {
                return "nothing";
            }
            let (cs, ce) = *rng.pick(&header_cells);
            let at = reference(&first[cs..ce]).unwrap_or("A1").to_string();
            let patched = format!("{}<c r=\"{at}\"/>{}", &first[..cs], &first[ce..]);
            x.set_part(&part, format!("{}{patched}{}", &xml[..s], &xml[e..]));
            "a deleted header"
        }
        7 => {
            x.remove_sheet(&name);
            "a deleted sheet"
        }
        _ if !rows.is_empty() => {
            // A row deleted.
            let (s, e) = *rng.pick(&rows);
            x.set_part(&part, format!("{}{}", &xml[..s], &xml[e..]));
            "a deleted row"
        }
        _ => "nothing",
    }
}

/// A byte-level mutation of a file; returns what was done.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) -> &'static str {
    let len = bytes.len();
    match rng.below(6) {
        0 => {
            bytes.truncate(rng.below(len));
            "truncated"
        }
        1 => {
            for _ in 0..1 + rng.below(16) {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            "flipped bits"
        }
        2 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(len);
                bytes[i] = rng.next() as u8;
            }
            "random bytes"
        }
        _ => {
            // A field of a zip header: sizes, offsets, counts, compression method, CRC.
            let signature: &[u8] = match rng.below(3) {
                0 => b"PK\x03\x04",
                1 => b"PK\x01\x02",
                _ => b"PK\x05\x06",
            };
            let at: Vec<usize> = bytes
                .windows(4)
                .enumerate()
                .filter(|(_, w)| *w == signature)
                .map(|(i, _)| i)
                .collect();
            if at.is_empty() {
                return "nothing";
            }
            let i = *rng.pick(&at) + 4 + rng.below(26);
            let value: &[u8] = match rng.below(4) {
                0 => &[0xFF, 0xFF, 0xFF, 0xFF],
                1 => &[0, 0, 0, 0],
                2 => &[0xFF, 0xFF],
                _ => &[0x63, 0x00],
            };
            for (k, b) in value.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(i + k) {
                    *slot = *b;
                }
            }
            "a damaged zip header"
        }
    }
}

/// A mutation of a part's text: the content types, or XML cut or unbalanced.
fn mutate_parts(rng: &mut Rng, x: &mut Xlsx) -> &'static str {
    let names: Vec<String> = x.parts.iter().map(|(n, _)| n.clone()).collect();
    match rng.below(4) {
        0 => {
            let types = x.part("[Content_Types].xml");
            let damaged = match rng.below(3) {
                0 => String::new(),
                1 => types[..rng.below(types.len())].to_string(),
                _ => types.replace("spreadsheetml", "wordprocessingml"),
            };
            x.set_part("[Content_Types].xml", damaged);
            "damaged content types"
        }
        1 => {
            let i = rng.below(x.parts.len());
            x.parts.remove(i);
            "a part removed"
        }
        _ => {
            let name = rng.pick(&names).clone();
            let Some((_, data)) = x.parts.iter_mut().find(|(n, _)| *n == name) else {
                return "nothing";
            };
            let cut = rng.below(data.len() + 1);
            match rng.below(3) {
                0 => data.truncate(cut),
                1 => data
                    .splice(cut..cut, b"<c r=\"A1\"><v>".iter().copied())
                    .for_each(drop),
                _ => data
                    .splice(cut..cut, b"</sheetData></worksheet>".iter().copied())
                    .for_each(drop),
            }
            "damaged XML"
        }
    }
}

/// Moderate zip bombs: a sheet part that unpacks to tens of megabytes (one just under the
/// part limit, one over) and a shared-strings table of a million entries.
fn bombs() -> Vec<(Vec<u8>, &'static str)> {
    let base = example_bytes("gallium-refinery");
    let mut out = Vec::new();
    for (megabytes, what) in [(60, "a 60 MB sheet"), (70, "a 70 MB sheet")] {
        let mut x = Xlsx::open(&base);
        let mut rows = String::with_capacity(megabytes << 20);
        let mut r = 10u32;
        while rows.len() < megabytes << 20 {
            rows.push_str(&format!("<row r=\"{r}\"><c r=\"A{r}\"><v>1</v></c></row>"));
            r += 1;
        }
        x.append_rows("Costs", &rows);
        out.push((x.deflated_bytes(), what));
    }
    let mut x = Xlsx::open(&base);
    let strings = x.part("xl/sharedStrings.xml");
    let extra = "<si><t>x</t></si>".repeat(1_000_000);
    let strings = strings.replacen("</sst>", &format!("{extra}</sst>"), 1);
    x.set_part("xl/sharedStrings.xml", strings);
    out.push((x.deflated_bytes(), "a million shared strings"));
    out
}

struct Case {
    bytes: Vec<u8>,
    extension: &'static str,
    what: String,
}

/// The cases, all from `seed`.
fn cases(seed: u64, count: usize) -> Vec<Case> {
    let mut rng = Rng(seed);
    let bases: Vec<(&str, Vec<u8>)> = EXAMPLES.iter().map(|n| (*n, example_bytes(n))).collect();
    let fixtures = [
        (
            "ods",
            include_bytes!("fixtures/ndpr-joint-facility.ods").to_vec(),
        ),
        (
            "xls",
            include_bytes!("fixtures/ndpr-joint-facility.xls").to_vec(),
        ),
    ];
    // The bombs take seconds to deflate in a debug build: release only (CI).
    let bombs = if cfg!(debug_assertions) {
        Vec::new()
    } else {
        bombs()
    };
    let mut out: Vec<Case> = bombs
        .into_iter()
        .map(|(bytes, what)| Case {
            bytes,
            extension: "xlsx",
            what: what.to_string(),
        })
        .collect();
    while out.len() < count {
        let n = out.len();
        if rng.chance(8) {
            // The .ods and .xls fixtures, damaged byte by byte.
            let (extension, base) = rng.pick(&fixtures);
            let mut bytes = base.clone();
            let what = mutate_bytes(&mut rng, &mut bytes);
            out.push(Case {
                bytes,
                extension,
                what: format!("case {n}: .{extension}, {what}"),
            });
            continue;
        }
        let (name, base) = rng.pick(&bases);
        let mut x = Xlsx::open(base);
        let mut done = Vec::new();
        let level = rng.below(10);
        if level < 6 {
            for _ in 0..1 + rng.below(3) {
                done.push(mutate_cells(&mut rng, &mut x));
            }
        } else if level < 8 {
            done.push(mutate_parts(&mut rng, &mut x));
        }
        let mut bytes = if rng.chance(50) {
            x.bytes()
        } else {
            x.deflated_bytes()
        };
        if level >= 8 {
            done.push(mutate_bytes(&mut rng, &mut bytes));
        }
        out.push(Case {
            bytes,
            extension: "xlsx",
            what: format!("case {n}: {name}, {}", done.join(", ")),
        });
    }
    out
}

#[derive(Default)]
struct Tally {
    valid: usize,
    refused: usize,
    runs: usize,
    /// CPU time of every child together: the suite's cost on an idle machine.
    cpu: Duration,
    worst_cpu: (Duration, String),
    failures: Vec<String>,
}

#[test]
fn thousands_of_mutants_end_cleanly_in_bounded_memory_and_time() {
    let count: usize = std::env::var("LODESTONE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 300 } else { 3_000 });
    let seed: u64 = std::env::var("LODESTONE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(14);
    let start = Instant::now();
    let cases = cases(seed, count);
    let made = start.elapsed();
    let dir = TempDir::new("fuzz");
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let path = dir.write(&format!("case-{i}.{}", case.extension), &case.bytes);
                    let file = path.display().to_string();
                    let mut problems = Vec::new();
                    let check = lodestone_limited(&["check", &file], MEMORY_KB);
                    problems.extend(verdict(&check, &file, &[0, 1], case.bytes.len()));
                    let mut ran = false;
                    // A sample of the valid mutants is run too.
                    if check.code == Some(0) && i.is_multiple_of(32) {
                        let out = dir.path().join(format!("case-{i}-results.xlsx"));
                        let run = lodestone_limited(
                            &["run", &file, "-o", &out.display().to_string()],
                            RUN_MEMORY_KB,
                        );
                        problems.extend(verdict(&run, &file, &[0, 1, 3], case.bytes.len()));
                        let _ = std::fs::remove_file(out);
                        ran = true;
                    }
                    if !problems.is_empty()
                        && let Ok(keep) = std::env::var("LODESTONE_FUZZ_KEEP")
                    {
                        let _ = std::fs::copy(&path, format!("{keep}/case-{i}.{}", case.extension));
                    }
                    let _ = std::fs::remove_file(&path);
                    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                    if check.code == Some(0) {
                        t.valid += 1;
                    } else {
                        t.refused += 1;
                    }
                    t.runs += usize::from(ran);
                    t.cpu += check.cpu;
                    if check.cpu > t.worst_cpu.0 {
                        t.worst_cpu = (check.cpu, case.what.clone());
                    }
                    for p in problems {
                        t.failures.push(format!("{}: {p}", case.what));
                    }
                }
            });
        }
    });
    let t = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    let report = format!(
        "fuzz: {} cases (seed {seed}) in {:.1?} ({:.1?} making them) on {workers} threads, {:.1?} of CPU in the checks: {} valid, {} refused, {} run; the most CPU {:.0?} ({}); address space limited to {MEMORY_KB} KB\n",
        cases.len(),
        start.elapsed(),
        made,
        t.cpu,
        t.valid,
        t.refused,
        t.runs,
        t.worst_cpu.0,
        t.worst_cpu.1
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), report.as_bytes());
    assert!(
        t.failures.is_empty(),
        "{} of {} cases failed:\n{}",
        t.failures.len(),
        cases.len(),
        t.failures.join("\n")
    );
}

/// What is wrong with how a command ended, if anything.
fn verdict(run: &common::Limited, file: &str, codes: &[i32], bytes: usize) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(signal) = run.signal {
        problems.push(format!("killed by signal {signal}:\n{}", run.stderr));
    }
    match run.code {
        Some(c) if codes.contains(&c) => {}
        other => problems.push(format!("exit {other:?}:\n{}", run.stderr)),
    }
    if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
        problems.push(format!("a panic:\n{}", run.stderr));
    }
    if run.code == Some(1) {
        if run.stderr.trim().is_empty() {
            problems.push("exit 1 without a message".into());
        }
        for line in run.stderr.lines().filter(|l| !l.trim().is_empty()) {
            if !line.contains(file) {
                problems.push(format!("a line that does not name the file: {line}"));
                break;
            }
        }
    }
    if run.cpu > cpu_budget(bytes) {
        problems.push(format!(
            "{:?} of CPU for {bytes} bytes (budget {:?})",
            run.cpu,
            cpu_budget(bytes)
        ));
    }
    problems
}
