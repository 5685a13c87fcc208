//! Test helpers: unique temporary folders that clean up after themselves, running the
//! binary, and an xlsx patcher that edits cells of a generated workbook to make bad ones.

#![allow(dead_code)]

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use lodestone::examples;
use lodestone::excel::template::template_bytes;
use lodestone::model::CellRef;

/// A folder under the system temp dir, unique per test and process, removed on drop.
pub struct TempDir(PathBuf);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("lodestone-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the `lodestone` binary with these arguments.
pub fn lodestone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args(args)
        .output()
        .expect("run lodestone")
}

/// A process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The names of the files in a folder, sorted.
pub fn files(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes an example deal into the folder with `lodestone template`; returns its path.
pub fn example(dir: &TempDir, name: &str) -> String {
    let path = dir.path().join(format!("{name}.xlsx"));
    let out = lodestone(&[
        "template",
        "--example",
        name,
        "-o",
        &path.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    path.display().to_string()
}

/// The template bytes of an example.
pub fn example_bytes(name: &str) -> Vec<u8> {
    let deal = examples::example(name).expect("example");
    let notes = examples::example_notes(name).expect("notes");
    template_bytes(&deal, &notes).expect("template bytes")
}

/// What to put in a cell.
pub enum Patch<'a> {
    /// An inline string.
    Text(&'a str),
    /// An error value with the formula that made it.
    Error(&'a str),
    /// A formula whose value was never saved.
    FormulaWithoutValue(&'a str),
    Number(&'a str),
    /// A formula with its saved value.
    Formula(&'a str, &'a str),
}

/// An xlsx file opened as its parts, so that tests can edit the XML.
pub struct Xlsx {
    /// Each part's name and bytes, in archive order.
    pub parts: Vec<(String, Vec<u8>)>,
}

impl Xlsx {
    pub fn open(bytes: &[u8]) -> Xlsx {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut parts = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).expect("zip entry");
            let mut data = Vec::new();
            file.read_to_end(&mut data).expect("read entry");
            let name = file.name().expect("entry name").to_string();
            parts.push((name, data));
        }
        Xlsx { parts }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.archive(zip::CompressionMethod::Stored)
    }

    /// The archive compressed as Excel does (deflate, fast), for tests of sizes.
    pub fn deflated_bytes(&self) -> Vec<u8> {
        self.archive(zip::CompressionMethod::Deflated)
    }

    fn archive(&self, method: zip::CompressionMethod) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .compression_level((method == zip::CompressionMethod::Deflated).then_some(1));
        for (name, data) in &self.parts {
            writer
                .start_file(name.as_str(), options)
                .expect("start entry");
            writer.write_all(data).expect("write entry");
        }
        writer.finish().expect("finish zip").into_inner()
    }

    pub fn part(&self, name: &str) -> String {
        let data = &self
            .parts
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no part {name}"))
            .1;
        String::from_utf8(data.clone()).expect("utf-8 part")
    }

    pub fn set_part(&mut self, name: &str, text: String) {
        let entry = self
            .parts
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no part {name}"));
        entry.1 = text.into_bytes();
    }

    /// The worksheet part of a sheet, through workbook.xml and its relationships.
    pub fn sheet_part(&self, sheet: &str) -> String {
        let workbook = self.part("xl/workbook.xml");
        let tag = format!("<sheet name=\"{sheet}\"");
        let start = workbook
            .find(&tag)
            .unwrap_or_else(|| panic!("no sheet {sheet}"));
        let rest = &workbook[start..];
        let rid = attr(rest, "r:id").expect("r:id");
        let rels = self.part("xl/_rels/workbook.xml.rels");
        let at = rels.find(&format!("Id=\"{rid}\"")).expect("relationship");
        let rel_start = rels[..at]
            .rfind("<Relationship")
            .expect("relationship start");
        let target = attr(&rels[rel_start..], "Target").expect("target");
        format!("xl/{target}")
    }

    pub fn set_cell(&mut self, sheet: &str, a1: &str, patch: Patch) {
        let part = self.sheet_part(sheet);
        let xml = self.part(&part);
        let (start, end) = find_cell(&xml, a1).unwrap_or_else(|| panic!("no cell {a1} on {sheet}"));
        let style = attr(&xml[start..end], "s")
            .map(|s| format!(" s=\"{s}\""))
            .unwrap_or_default();
        let cell = match patch {
            Patch::Text(t) => format!(
                "<c r=\"{a1}\"{style} t=\"inlineStr\"><is><t>{}</t></is></c>",
                escape(t)
            ),
            Patch::Error(e) => format!(
                "<c r=\"{a1}\"{style} t=\"e\"><f>1/0</f><v>{}</v></c>",
                escape(e)
            ),
            Patch::FormulaWithoutValue(f) => {
                format!("<c r=\"{a1}\"{style}><f>{}</f></c>", escape(f))
            }
            Patch::Number(n) => format!("<c r=\"{a1}\"{style}><v>{n}</v></c>"),
            Patch::Formula(f, v) => {
                format!("<c r=\"{a1}\"{style}><f>{}</f><v>{v}</v></c>", escape(f))
            }
        };
        let patched = format!("{}{cell}{}", &xml[..start], &xml[end..]);
        self.set_part(&part, patched);
    }

    /// Renames a sheet in the workbook's sheet list.
    pub fn rename_sheet(&mut self, sheet: &str, name: &str) {
        let xml = self.part("xl/workbook.xml");
        let tag = format!("<sheet name=\"{sheet}\"");
        assert!(xml.contains(&tag), "no sheet {sheet}");
        let patched = xml.replacen(&tag, &format!("<sheet name=\"{}\"", escape(name)), 1);
        self.set_part("xl/workbook.xml", patched);
    }

    /// Appends raw `<row>` elements at the end of a sheet's data.
    pub fn append_rows(&mut self, sheet: &str, rows: &str) {
        let part = self.sheet_part(sheet);
        let xml = self.part(&part);
        let patched = match xml.find("</sheetData>") {
            Some(at) => format!("{}{rows}{}", &xml[..at], &xml[at..]),
            None => xml.replace("<sheetData/>", &format!("<sheetData>{rows}</sheetData>")),
        };
        self.set_part(&part, patched);
    }

    /// Takes a sheet out of the workbook's sheet list (its part stays, unreferenced).
    pub fn remove_sheet(&mut self, sheet: &str) {
        let xml = self.part("xl/workbook.xml");
        let tag = format!("<sheet name=\"{sheet}\"");
        let start = xml.find(&tag).unwrap_or_else(|| panic!("no sheet {sheet}"));
        let end = start + xml[start..].find("/>").expect("sheet end") + 2;
        let patched = format!("{}{}", &xml[..start], &xml[end..]);
        self.set_part("xl/workbook.xml", patched);
    }

    /// Every cell of a sheet holding a number (no `t` attribute, a `<v>`), below row 1.
    pub fn numeric_cells(&self, sheet: &str) -> Vec<CellRef> {
        let xml = self.part(&self.sheet_part(sheet));
        let mut out = Vec::new();
        let mut rest = xml.as_str();
        while let Some(i) = rest.find("<c ") {
            rest = &rest[i..];
            let tag_end = rest.find('>').expect("tag end");
            let tag = &rest[..tag_end];
            let self_closing = tag.ends_with('/');
            let body_end = if self_closing {
                tag_end
            } else {
                rest.find("</c>").expect("cell end")
            };
            let body = &rest[..body_end];
            if !self_closing && attr(tag, "t").is_none() && body.contains("<v>") {
                let a1 = attr(tag, "r").expect("r");
                let cell = parse_a1(sheet, &a1);
                if cell.row > 0 {
                    out.push(cell);
                }
            }
            rest = &rest[tag_end..];
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The value of `name="…"` in the first tag of `text`.
fn attr(text: &str, name: &str) -> Option<String> {
    let tag_end = text.find('>').unwrap_or(text.len());
    let tag = &text[..tag_end];
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(tag[i..j].to_string())
}

/// The byte span of the `<c r="A1" …>…</c>` (or self-closing) element.
fn find_cell(xml: &str, a1: &str) -> Option<(usize, usize)> {
    let key = format!("<c r=\"{a1}\"");
    let mut from = 0;
    while let Some(i) = xml[from..].find(&key) {
        let start = from + i;
        let next = xml.as_bytes().get(start + key.len()).copied();
        if matches!(next, Some(b' ' | b'>' | b'/')) {
            let tag_end = start + xml[start..].find('>')?;
            if xml[..tag_end].ends_with('/') {
                return Some((start, tag_end + 1));
            }
            let end = start + xml[start..].find("</c>")? + 4;
            return Some((start, end));
        }
        from = start + key.len();
    }
    None
}

/// `B7` on `sheet` as a zero-based CellRef.
pub fn parse_a1(sheet: &str, a1: &str) -> CellRef {
    let letters: String = a1.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let digits = &a1[letters.len()..];
    let col = letters
        .bytes()
        .fold(0u32, |acc, b| acc * 26 + (b - b'A' + 1) as u32)
        - 1;
    let row: u32 = digits.parse::<u32>().expect("row") - 1;
    CellRef::new(sheet, row, col)
}

/// A cell's content as calamine read it, to rebuild workbooks in other layouts.
pub type Grid = Vec<(u32, u32, calamine::Data)>;

/// Every sheet of a workbook as (name, cells).
pub fn read_grids(path: &Path) -> Vec<(String, Grid)> {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(path).expect("open");
    let mut out = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).expect("range");
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let cells = range
            .used_cells()
            .map(|(r, c, d)| (r as u32 + r0, c as u32 + c0, d.clone()))
            .collect();
        out.push((name, cells));
    }
    out
}

/// Writes sheets of cells back as an xlsx (numbers, text, booleans; dates as dates).
pub fn write_grids(sheets: &[(String, Grid)]) -> Vec<u8> {
    use calamine::Data;
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (name, cells) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(name).expect("name");
        for (r, c, d) in cells {
            let c = *c as u16;
            match d {
                Data::Float(x) => ws.write_number(*r, c, *x).map(|_| ()),
                Data::Int(i) => ws.write_number(*r, c, *i as f64).map(|_| ()),
                Data::String(s) => ws.write_string(*r, c, s).map(|_| ()),
                Data::Bool(b) => ws.write_boolean(*r, c, *b).map(|_| ()),
                Data::DateTime(dt) => ws
                    .write_number_with_format(*r, c, dt.as_f64(), &date)
                    .map(|_| ()),
                _ => Ok(()),
            }
            .expect("write cell");
        }
    }
    wb.save_to_buffer().expect("save")
}

/// How a run of the binary under limits ended.
pub struct Limited {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// User and system CPU time of the process.
    pub cpu: std::time::Duration,
    pub wall: std::time::Duration,
}

static LIMITED: AtomicUsize = AtomicUsize::new(0);

/// Runs the binary with its address space limited to `memory_kb` kilobytes (`ulimit -v`),
/// measuring its CPU time.
pub fn lodestone_limited(args: &[&str], memory_kb: u64) -> Limited {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let n = LIMITED.fetch_add(1, Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!("lodestone-limited-{}-{n}", std::process::id()));
    let (out_path, err_path) = (base.with_extension("out"), base.with_extension("err"));
    let out = std::fs::File::create(&out_path).expect("stdout file");
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let bytes = memory_kb.saturating_mul(1024);
    let mut command = Command::new(env!("CARGO_BIN_EXE_lodestone"));
    command
        .args(args)
        .stdout(out)
        .stderr(err)
        .stdin(std::process::Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = std::time::Instant::now();
    // Reaped below by wait4, which also gives the child's CPU time.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("spawn lodestone");
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; the pointers are valid for the call.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert!(pid > 0, "wait4 failed");
    let status = std::process::ExitStatus::from_raw(status);
    let tv = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec as u64)
            + std::time::Duration::from_micros(t.tv_usec as u64)
    };
    let result = Limited {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned(),
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        wall,
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    result
}

/// The NdPr example grown to `facilities` facilities (mine and refinery pairs, each with the
/// example's cost lines) and `tranches` tranches (more senior loans sharing the debt).
pub fn grown(facilities: usize, tranches: usize) -> lodestone::model::Deal {
    use lodestone::model::*;
    let mut d = examples::example("ndpr-joint-facility").expect("example");
    let (mine, refinery) = (d.facilities[0].clone(), d.facilities[1].clone());
    let costs = d.costs.clone();
    let mut k = 1;
    while d.facilities.len() + 2 <= facilities {
        let mut m = mine.clone();
        m.name = Sourced::bare(format!("{} {k}", mine.name.value));
        let mut r = refinery.clone();
        r.name = Sourced::bare(format!("{} {k}", refinery.name.value));
        if let Some(feed) = &mut r.feed
            && let FeedSource::Facility { name, .. } = &mut feed.source
        {
            *name = m.name.clone();
        }
        for c in &costs {
            let mut c = c.clone();
            c.facility = if c.facility.value == mine.name.value {
                m.name.clone()
            } else {
                r.name.clone()
            };
            d.costs.push(c);
        }
        d.facilities.push(m);
        d.facilities.push(r);
        k += 1;
    }
    let senior = d
        .tranches
        .iter()
        .position(|t| t.kind.value == TrancheKind::SeniorDebt)
        .expect("senior debt");
    let extra = tranches.saturating_sub(d.tranches.len());
    let share = d.tranches[senior].commitment.value / rust_decimal::Decimal::from(extra + 1);
    d.tranches[senior].commitment.value = share;
    for i in 0..extra {
        let mut t = d.tranches[senior].clone();
        t.name = Sourced::bare(format!("Senior loan {}", i + 2));
        d.tranches.push(t);
    }
    d
}
