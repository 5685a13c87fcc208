//! Validation and reading are linear in the rows (issue 14): no check scans a list for every
//! row. Work is counted, not timed: the heap allocations made on this thread (a counting
//! allocator), which every check's messages, keys and lookups make per row, so a pairwise
//! scan that allocates shows as a square. Ten times the rows must cost at most twelve times
//! the allocations; the CPU time is printed for the record.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lodestone::examples;
use lodestone::excel::read::read_deal_bytes;
use lodestone::excel::template::template_bytes;
use lodestone::model::*;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocations `f` makes on this thread, and its CPU time.
fn work<T>(f: impl FnOnce() -> T) -> (T, u64, std::time::Duration) {
    let cpu = || {
        // SAFETY: a zeroed rusage is valid for getrusage to fill in.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer for the call.
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        std::time::Duration::from_secs((u.ru_utime.tv_sec + u.ru_stime.tv_sec) as u64)
            + std::time::Duration::from_micros((u.ru_utime.tv_usec + u.ru_stime.tv_usec) as u64)
    };
    let before = ALLOCATIONS.with(|c| c.get());
    let start = cpu();
    let out = f();
    let spent = cpu() - start;
    (out, ALLOCATIONS.with(|c| c.get()) - before, spent)
}

fn name(s: String) -> Sourced<String> {
    Sourced::bare(s)
}

/// The NdPr example with `n` rows added to each table: facilities, cost lines, parties,
/// offtake contracts, tranches with a participant each, scenario overrides, and every tenth
/// reference unknown (so that hints are built too).
fn scaled(n: usize) -> Deal {
    let mut d = examples::example("ndpr-joint-facility").expect("example");
    let mine = d.facilities[0].clone();
    let cost = d.costs[0].clone();
    let party = d.parties[0].clone();
    let offtake = d.offtakes.first().cloned().expect("an offtake");
    let loan = d
        .tranches
        .iter()
        .find(|t| t.kind.value == TrancheKind::SeniorDebt)
        .cloned()
        .expect("a senior loan");
    let scenario = d.scenarios[0].clone();
    for i in 0..n {
        let unknown = i % 10 == 9;
        let mut f = mine.clone();
        f.name = name(format!("Mine {i}"));
        d.facilities.push(f);
        let mut c = cost.clone();
        c.facility = name(if unknown {
            format!("Nowhere {i}")
        } else {
            format!("Mine {i}")
        });
        c.item = name(format!("Item {i}"));
        d.costs.push(c);
        let mut p = party.clone();
        p.name = name(format!("Party {i}"));
        d.parties.push(p);
        let mut o = offtake.clone();
        o.name = name(format!("Contract {i}"));
        o.buyer = name(if unknown {
            format!("Nobody {i}")
        } else {
            format!("Party {i}")
        });
        o.share = Sourced::bare(rust_decimal::Decimal::new(1, 6));
        d.offtakes.push(o);
        let mut t = loan.clone();
        t.name = name(format!("Loan {i}"));
        t.participants = vec![Participant {
            party: name(if unknown {
                format!("Nobody {i}")
            } else {
                format!("Party {i}")
            }),
            share: Sourced::bare(rust_decimal::Decimal::ONE),
        }];
        d.tranches.push(t);
        let mut s = scenario.clone();
        s.name = name(format!("Scenario {i}"));
        d.scenarios.push(s);
    }
    d
}

#[test]
fn validation_is_linear_in_the_rows() {
    let (small, small_work, _) = work(|| validate(&scaled(1_000)));
    let (large, large_work, cpu) = work(|| validate(&scaled(10_000)));
    eprintln!(
        "validate: 1,000 rows a table {small_work} allocations ({} problems); 10,000 rows {large_work} allocations ({} problems), {cpu:?} of CPU",
        small.len(),
        large.len()
    );
    assert!(
        large.len() >= 10 * small.len() - 10,
        "the problems scale too"
    );
    assert!(
        large_work <= 12 * small_work,
        "10x the rows took {:.1}x the allocations",
        large_work as f64 / small_work as f64
    );
}

#[test]
fn reading_is_linear_in_the_rows() {
    let notes = examples::example_notes("ndpr-joint-facility").expect("notes");
    let small = template_bytes(&scaled(400), &notes).expect("small");
    let large = template_bytes(&scaled(4_000), &notes).expect("large");
    let (a, small_work, _) = work(|| read_deal_bytes(&small, "small.xlsx"));
    let (b, large_work, cpu) = work(|| read_deal_bytes(&large, "large.xlsx"));
    let problems = |r: &Result<Deal, lodestone::excel::read::ReadErrors>| {
        r.as_ref().err().map(|e| e.errors.len()).unwrap_or(0)
    };
    eprintln!(
        "read: 400 rows a table {small_work} allocations ({} lines); 4,000 rows (24,000 rows in all) {large_work} allocations ({} lines), {cpu:?} of CPU",
        problems(&a),
        problems(&b)
    );
    assert!(
        large_work <= 12 * small_work,
        "10x the rows took {:.1}x the allocations",
        large_work as f64 / small_work as f64
    );
}

#[test]
fn ten_thousand_simulated_products_are_refused_without_building_their_matrix() {
    let mut d = examples::example("ndpr-joint-facility").expect("example");
    let mc = d.monte_carlo.as_mut().expect("monte carlo");
    let process = mc.processes[0].clone();
    mc.processes = (0..10_000)
        .map(|i| {
            let mut p = process.clone();
            p.product = name(format!("Product {i}"));
            p.correlations = Vec::new();
            p
        })
        .collect();
    let (problems, allocations, _) = work(|| validate(&d));
    assert!(
        problems
            .iter()
            .any(|e| e.to_string().contains("10000 simulated products")),
        "{problems:?}"
    );
    assert!(allocations < 1_000_000, "{allocations} allocations");
}
