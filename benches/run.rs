//! `cargo bench --bench run`: where the time of `lodestone run` goes on each example —
//! reading the deal, the engine (base case and every scenario), the results workbook and the
//! JSON — as medians of several runs. The end-to-end figure (process start to files written)
//! is measured with hyperfine; both go to BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use lodestone::engine;
use lodestone::examples::EXAMPLES;
use lodestone::excel::read::read_deal;
use lodestone::excel::write::results_bytes;
use lodestone::json::to_json;

const RUNS: usize = 9;

// The binary's allocator, so that the phases add up to what `lodestone run` costs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_ms<T>(mut f: impl FnMut() -> T) -> f64 {
    black_box(f());
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn main() {
    println!("| example | read | engine (all scenarios) | workbook | JSON | total |");
    println!("|:---|---:|---:|---:|---:|---:|");
    for name in EXAMPLES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .join(format!("{name}.xlsx"));
        let deal = read_deal(&path).expect("example reads");
        let runs = engine::run_all(&deal, &deal.scenarios).expect("example runs");
        let read = median_ms(|| read_deal(&path).expect("reads"));
        let run = median_ms(|| engine::run_all(&deal, &deal.scenarios).expect("runs"));
        let book = median_ms(|| results_bytes(&deal, &runs).expect("workbook"));
        let json = median_ms(|| to_json(&deal, &runs));
        println!(
            "| {name} ({} scenarios) | {read:.1} ms | {run:.1} ms | {book:.1} ms | {json:.1} ms | {:.1} ms |",
            runs.len(),
            read + run + book + json
        );
    }
}
