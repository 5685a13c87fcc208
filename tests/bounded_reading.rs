//! Hostile workbooks end quickly, in little memory, with one clear message: a single value
//! at XFD1048576, 200,000 rows of stray cells, 8,000 Monte Carlo rows (issue 14). Each runs
//! under `ulimit -v 1000000` (about 1 GB of address space) and must use under a second of
//! CPU in a release build.

mod common;

use std::time::Duration;

use common::{Patch, TempDir, Xlsx, example_bytes, lodestone_limited};

/// The address-space limit of the issue's `ulimit -v 1000000`, in kilobytes.
const MEMORY_KB: u64 = 1_000_000;

/// CPU allowed per command: a second in release (what CI runs); debug builds are slower.
fn cpu_budget() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(15)
    } else {
        Duration::from_secs(1)
    }
}

/// Checks `bytes` under the limits; returns stderr, asserting exit 1 and one line.
fn check_refused(dir: &TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.write(name, bytes);
    let file = path.display().to_string();
    let run = lodestone_limited(&["check", &file], MEMORY_KB);
    assert_eq!(
        run.signal, None,
        "{name}: killed by a signal\n{}",
        run.stderr
    );
    assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
    assert!(
        run.cpu < cpu_budget(),
        "{name}: {:?} of CPU (budget {:?})",
        run.cpu,
        cpu_budget()
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{name}: expected one message:\n{}",
        run.stderr
    );
    assert!(lines[0].starts_with(&format!("{file}: ")), "{}", lines[0]);
    eprintln!(
        "{name}: {:?} CPU, {:?} wall: {}",
        run.cpu, run.wall, lines[0]
    );
    lines[0].to_string()
}

#[test]
fn one_value_at_xfd1048576_is_named_as_a_stray_cell() {
    let dir = TempDir::new("bounded-far");
    let mut x = Xlsx::open(&example_bytes("ndpr-joint-facility"));
    x.append_rows(
        "Deal",
        r#"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
    );
    let line = check_refused(&dir, "far.xlsx", &x.bytes());
    assert!(
        line.contains("'Deal'!XFD1048576: a stray cell far outside the sheet's tables (found 1"),
        "{line}"
    );
}

#[test]
fn two_hundred_thousand_rows_of_stray_cells_are_one_message() {
    let dir = TempDir::new("bounded-rows");
    let mut x = Xlsx::open(&example_bytes("ndpr-joint-facility"));
    let mut rows = String::new();
    for r in 100..200_100u32 {
        rows.push_str(&format!(
            r#"<row r="{r}"><c r="AZ{r}"><v>{r}</v></c></row>"#
        ));
    }
    x.append_rows("Facilities", &rows);
    let line = check_refused(&dir, "rows.xlsx", &x.bytes());
    assert!(
        line.contains("'Facilities'!AZ200099: the sheet's data reaches AZ200099, beyond the first 5,000 rows and 500 columns"),
        "{line}"
    );
}

/// The Monte Carlo sheet's data row repeated `n` times.
fn monte_carlo_rows(n: u32) -> Vec<u8> {
    let mut x = Xlsx::open(&example_bytes("ndpr-joint-facility"));
    let part = x.sheet_part("Monte Carlo");
    let xml = x.part(&part);
    let start = xml.find(r#"<row r="2""#).expect("row 2");
    let end = start + xml[start..].find("</row>").expect("row end") + "</row>".len();
    let row = &xml[start..end];
    let mut rows = String::new();
    for r in 2..n + 2 {
        let mut copy = row.replacen(r#"<row r="2""#, &format!(r#"<row r="{r}""#), 1);
        for col in ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"] {
            copy = copy.replace(&format!(r#"r="{col}2""#), &format!(r#"r="{col}{r}""#));
        }
        rows.push_str(&copy);
    }
    let data_end = xml.find("</sheetData>").expect("sheet data");
    x.set_part(
        &part,
        format!("{}{rows}{}", &xml[..start], &xml[data_end..]),
    );
    x.bytes()
}

#[test]
fn eight_thousand_monte_carlo_rows_are_one_message() {
    let dir = TempDir::new("bounded-mc");
    let line = check_refused(&dir, "mc8000.xlsx", &monte_carlo_rows(8_000));
    assert!(
        line.contains("'Monte Carlo'!") && line.contains("the sheet's data reaches"),
        "{line}"
    );
    let line = check_refused(&dir, "mc4000.xlsx", &monte_carlo_rows(4_000));
    assert!(
        line.contains("'Monte Carlo': 4,000 rows of simulated products, more than the 100"),
        "{line}"
    );
}

#[test]
fn problems_are_capped_at_fifty_a_sheet() {
    let dir = TempDir::new("bounded-cap");
    let mut x = Xlsx::open(&example_bytes("gallium-refinery"));
    // 120 cost lines naming an unknown facility.
    let mut rows = String::new();
    for r in 100..220u32 {
        rows.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>Nowhere</t></is></c><c r="B{r}" t="inlineStr"><is><t>Item {r}</t></is></c><c r="C{r}" t="inlineStr"><is><t>fixed opex</t></is></c><c r="D{r}" t="inlineStr"><is><t>per year</t></is></c><c r="E{r}" t="inlineStr"><is><t>operations</t></is></c><c r="F{r}"><v>1</v></c></row>"#
        ));
    }
    x.append_rows("Costs", &rows);
    let path = dir.write("many.xlsx", &x.bytes());
    let file = path.display().to_string();
    let run = lodestone_limited(&["check", &file], MEMORY_KB);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let on_costs = run
        .stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{file}: 'Costs'!")))
        .count();
    assert_eq!(on_costs, 50, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{file}: and 70 more problems on the sheet 'Costs' (the first 50 are shown"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_part_that_unpacks_past_the_limit_is_refused_before_it_is_unpacked() {
    let dir = TempDir::new("bounded-bomb");
    let mut x = Xlsx::open(&example_bytes("gallium-refinery"));
    // 65 MB of one repeated cell: a few hundred kilobytes once deflated.
    let mut rows = String::with_capacity(90 << 20);
    let mut r = 10u32;
    while rows.len() < 65 << 20 {
        rows.push_str(&format!(r#"<row r="{r}"><c r="A{r}"><v>1</v></c></row>"#));
        r += 1;
    }
    x.append_rows("Deal", &rows);
    x.set_cell("Deal", "B2", Patch::Number("1"));
    let bytes = x.deflated_bytes();
    assert!(bytes.len() < 16 << 20, "{} bytes", bytes.len());
    let line = check_refused(&dir, "bomb.xlsx", &bytes);
    assert!(
        line.contains("unpacks to 65.") && line.contains("more than the 64.0 MB"),
        "{line}"
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_input_says_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new("bounded-perm");
    let path = dir.write("locked.xlsx", &example_bytes("gallium-refinery"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lodestone"));
    command.args(["check", &path.display().to_string()]);
    // SAFETY: libc calls only; root drops to nobody so that permissions apply.
    if unsafe { libc::geteuid() } == 0 {
        command.uid(65534).gid(65534);
    }
    let out = command.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "{}: cannot open the file (permission denied)",
            path.display()
        )
    );
}
