//! A command's outputs are written as one transaction (src/output.rs): a JSON that cannot be
//! written leaves the old workbook; `kill -9` at any moment leaves each output old or new
//! and no temporary file; links and devices are refused, never written through; an
//! existing output keeps its permission bits.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{TempDir, example, files, lodestone, text};

#[test]
fn a_json_that_cannot_be_written_leaves_the_old_workbook() {
    let dir = TempDir::new("outputs-json-fails");
    let deal = example(&dir, "gallium-refinery");
    let workbook = dir.write("results.xlsx", b"previous results");
    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &workbook.display().to_string(),
        "--json",
        "/nonexistent/x.json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/x.json: cannot write the file")
            && stderr.contains("no output was changed"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&workbook).expect("workbook"),
        b"previous results"
    );
    assert_eq!(files(&dir), ["gallium-refinery.xlsx", "results.xlsx"]);
}

#[test]
fn links_and_devices_are_refused_and_left_as_they_are() {
    let dir = TempDir::new("outputs-kinds");
    let deal = example(&dir, "gallium-refinery");
    let victim = dir.write("victim.json", b"someone else's file");
    let link = dir.path().join("results.json");
    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
    let workbook = dir.path().join("results.xlsx").display().to_string();
    let out = lodestone(&["run", &deal, "-o", &workbook, "--json", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/dev/null: is a device"),
        "{}",
        text(&out.stderr)
    );
    let null = std::fs::symlink_metadata("/dev/null").expect("/dev/null");
    assert!(
        null.file_type().is_char_device(),
        "/dev/null is still a device"
    );

    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &workbook,
        "--json",
        &link.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is a symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&victim).expect("victim"),
        b"someone else's file"
    );
    assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    assert_eq!(
        files(&dir),
        ["gallium-refinery.xlsx", "results.json", "victim.json"]
    );
}

#[test]
fn an_existing_outputs_permission_bits_are_kept() {
    let dir = TempDir::new("outputs-mode");
    let deal = example(&dir, "gallium-refinery");
    let workbook = dir.write("results.xlsx", b"old");
    let json = dir.write("results.json", b"old");
    std::fs::set_permissions(&workbook, std::fs::Permissions::from_mode(0o600)).expect("0600");
    std::fs::set_permissions(&json, std::fs::Permissions::from_mode(0o444)).expect("0444");
    let out = lodestone(&[
        "run",
        &deal,
        "-o",
        &workbook.display().to_string(),
        "--json",
        &json.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o7777;
    assert_eq!(mode(&workbook), 0o600);
    assert_eq!(mode(&json), 0o444);
    assert_ne!(std::fs::read(&workbook).expect("workbook"), b"old");
}

/// A small deterministic generator for the kill times (no dependency, same on every run).
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn kill_9_at_random_points_leaves_old_or_new_outputs_and_the_next_run_removes_any_temporary_name() {
    let dir = TempDir::new("outputs-kill");
    let deal = example(&dir, "gallium-refinery");
    let workbook = dir.path().join("results.xlsx");
    let json = dir.path().join("results.json");
    let args = |w: &std::path::Path, j: &std::path::Path| {
        vec![
            "run".to_string(),
            deal.clone(),
            "-o".to_string(),
            w.display().to_string(),
            "--json".to_string(),
            j.display().to_string(),
        ]
    };
    // The new outputs, and how long a whole run takes.
    let fresh = TempDir::new("outputs-kill-fresh");
    let (new_w, new_j) = (fresh.path().join("r.xlsx"), fresh.path().join("r.json"));
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args(args(&new_w, &new_j))
        .output()
        .expect("run");
    let whole = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (new_w, new_j) = (
        std::fs::read(&new_w).expect("workbook"),
        std::fs::read(&new_j).expect("json"),
    );
    let mut rng = Lcg(14);
    let mut outcomes = [0usize; 3];
    let mut swept = 0;
    for run in 0..40 {
        std::fs::write(&workbook, b"old workbook").expect("old");
        std::fs::write(&json, b"old json").expect("old");
        let mut child = Command::new(env!("CARGO_BIN_EXE_lodestone"))
            .args(args(&workbook, &json))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let delay = whole.mul_f64(1.1 * rng.next_unit());
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Killed between naming its outputs and renaming them (a few system calls; under load
        // the process may be descheduled there), a run leaves named temporary files, which
        // nothing can prevent (src/output.rs): at most one per output, and the next run in
        // the folder removes them.
        let left: Vec<String> = files(&dir)
            .into_iter()
            .filter(|n| {
                !["gallium-refinery.xlsx", "results.json", "results.xlsx"].contains(&n.as_str())
            })
            .collect();
        assert!(
            left.len() <= 2
                && left
                    .iter()
                    .all(|n| n.starts_with(".lodestone-") && n.ends_with(".tmp")),
            "run {run}, killed after {delay:?}: left {left:?}"
        );
        let w = std::fs::read(&workbook).expect("workbook");
        let j = std::fs::read(&json).expect("json");
        if !left.is_empty() {
            swept += 1;
            let out = Command::new(env!("CARGO_BIN_EXE_lodestone"))
                .args(args(&workbook, &json))
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            assert_eq!(
                files(&dir),
                ["gallium-refinery.xlsx", "results.json", "results.xlsx"],
                "run {run}: the next run did not remove {left:?}"
            );
        }
        let w_new = w == new_w;
        let j_new = j == new_j;
        assert!(
            w_new || w == b"old workbook",
            "run {run}: workbook half-written"
        );
        assert!(j_new || j == b"old json", "run {run}: json half-written");
        outcomes[usize::from(w_new) + usize::from(j_new)] += 1;
    }
    eprintln!(
        "kill -9 over 40 runs (a whole run {whole:?}): {} left both old, {} one new, {} both new; \
         {swept} left temporary names, each removed by the next run",
        outcomes[0], outcomes[1], outcomes[2]
    );
}
