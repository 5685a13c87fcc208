//! Golden results: the exact JSON of each example deal's run, checked in under
//! tests/golden/. Any change to a number shows up here as a diff to review.
//!
//! Refresh after an intended change with:
//!   LODESTONE_BLESS=1 cargo test --release --test golden
//! then review `git diff tests/golden/`.

use std::path::PathBuf;

use lodestone::engine;
use lodestone::examples::{self, EXAMPLES};
use lodestone::json::to_json;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"))
}

#[test]
fn each_example_runs_to_its_golden_json() {
    let bless = std::env::var("LODESTONE_BLESS").is_ok();
    let mut stale = Vec::new();
    for name in EXAMPLES {
        let deal = examples::example(name).expect("example");
        let runs =
            engine::run_all(&deal, &deal.scenarios).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = to_json(&deal, &runs);
        let path = golden_path(name);
        if bless {
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let (line, (g, w)) = got
                .lines()
                .zip(want.lines().chain(std::iter::repeat("<end of file>")))
                .enumerate()
                .find(|(_, (g, w))| g != w)
                .unwrap_or((0, ("<lengths differ>", "")));
            stale.push(format!(
                "{name}: first difference at line {}:\n  golden: {w}\n  now:    {g}",
                line + 1
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "results differ from tests/golden (refresh with LODESTONE_BLESS=1 cargo test --release --test golden, then review the diff):\n{}",
        stale.join("\n")
    );
}
