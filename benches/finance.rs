//! `cargo bench --bench finance`: median time per call of npv, xnpv, irr and xirr on the
//! shared 30-flow series (benches/series30.json, a copy of ../shared/bench/series30.json).
//!
//! A plain timing loop (std::time::Instant, median of 7 runs) rather than criterion: four
//! numbers compared against pyxirr's `timeit` medians (benches/pyxirr_anchor.py) need no
//! statistics framework, and the dependency tree stays lean. Results go to BENCHMARKS.md.

use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use chrono::NaiveDate;
use lodestone::finance::{irr, npv, xirr, xnpv};
use rust_decimal::Decimal;
use serde_json::Value;

const SERIES: &str = include_str!("series30.json");
const RUNS: usize = 7;

/// Median nanoseconds per call over `RUNS` runs of `calls` calls each.
fn median_ns<T>(calls: u32, mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..calls / 10 + 1 {
        black_box(f());
    }
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                black_box(f());
            }
            start.elapsed().as_nanos() as f64 / f64::from(calls)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

fn main() {
    let doc: Value = serde_json::from_str(SERIES).expect("series30.json is JSON");
    let values: Vec<Decimal> = doc["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| Decimal::from_str(v.as_str().expect("text")).expect("decimal"))
        .collect();
    let dates: Vec<NaiveDate> = doc["dates"]
        .as_array()
        .expect("dates")
        .iter()
        .map(|d| NaiveDate::parse_from_str(d.as_str().expect("text"), "%Y-%m-%d").expect("date"))
        .collect();
    let rate = Decimal::from_str(doc["rate"].as_str().expect("rate")).expect("decimal");

    println!("series30: {} flows, rate {rate}", values.len());
    println!(
        "  npv  = {}\n  xnpv = {}\n  irr  = {}\n  xirr = {}",
        npv(rate, &values).expect("npv"),
        xnpv(rate, &values, &dates).expect("xnpv"),
        irr(&values, None).expect("irr"),
        xirr(&values, &dates, None).expect("xirr"),
    );
    let calls = 20_000;
    let timings = [
        (
            "npv",
            median_ns(calls, || npv(black_box(rate), black_box(&values))),
        ),
        (
            "xnpv",
            median_ns(calls, || {
                xnpv(black_box(rate), black_box(&values), black_box(&dates))
            }),
        ),
        ("irr", median_ns(calls, || irr(black_box(&values), None))),
        (
            "xirr",
            median_ns(calls, || xirr(black_box(&values), black_box(&dates), None)),
        ),
    ];
    println!("median ns per call ({RUNS} runs of {calls} calls):");
    for (name, ns) in timings {
        println!("{name} {ns:.0}");
    }
}
