//! The `lodestone` binary: arguments in, exit code out. The only place that prints.
//!
//! Exit codes (`cli::exit`): 0 success, 1 bad input (or a file that cannot be written), 2
//! usage error, 3 a check failed (outputs written, the failure printed first). Problems and
//! warnings go to stderr, one per line; a valid deal's summary goes to stdout.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use lodestone::analytics::{self, AnalyticsError};
use lodestone::cli::{Cli, Command, exit, exit_code_after_run, scenario_named};
use lodestone::engine;
use lodestone::engine::results::CheckFailure;
use lodestone::examples::{self, EXAMPLES};
use lodestone::excel::analytics::{montecarlo_bytes, tornado_bytes};
use lodestone::excel::read::{self, Reading};
use lodestone::excel::template::save_template;
use lodestone::excel::write::{results_bytes_with, same_file};
use lodestone::model::{Deal, InputWarning, Scenario};
use lodestone::output;
use lodestone::report;

const BAD_INPUT: u8 = exit::BAD_INPUT;
const USAGE: u8 = exit::USAGE;

// mimalloc instead of the system allocator: writing the results workbook makes hundreds of
// thousands of small strings on several threads, and glibc's per-thread arenas spent about a
// fifth of `lodestone run` in malloc, free and growing heaps (9% faster end to end, measured
// in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Template {
            output,
            example,
            force,
        } => template(&output, example.as_deref(), force),
        Command::Check { file, defaults } => check(&file, defaults),
        Command::Run {
            file,
            output,
            json,
            json_rows,
            scenarios,
        } => {
            let options = lodestone::json::Options { rows: json_rows };
            run(&file, &output, json.as_deref(), options, &scenarios)
        }
        Command::Sensitivity {
            file,
            output,
            json,
            shock,
        } => sensitivity(&file, &output, json.as_deref(), shock),
        Command::Breakeven { file, json } => breakeven(&file, json.as_deref()),
        Command::Montecarlo {
            file,
            paths,
            seed,
            output,
            json,
            scenario,
            threads,
        } => montecarlo(
            &file,
            &McArgs {
                paths,
                seed,
                output: &output,
                json: json.as_deref(),
                scenario: scenario.as_deref(),
                threads,
            },
        ),
    }
}

fn template(output: &Path, example: Option<&str>, force: bool) -> ExitCode {
    let is_xlsx = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        eprintln!(
            "lodestone: {}: the template is an Excel workbook; name it FILE.xlsx",
            output.display()
        );
        return ExitCode::from(USAGE);
    }
    // A deal someone has edited must not vanish under a fresh template.
    if !force && std::fs::symlink_metadata(output).is_ok() {
        eprintln!(
            "lodestone: {}: already exists; choose another file name, or pass --force to overwrite it",
            output.display()
        );
        return ExitCode::from(USAGE);
    }
    let (deal, notes) = match example {
        None => (examples::blank(), examples::blank_notes()),
        Some(name) => match (examples::example(name), examples::example_notes(name)) {
            (Some(deal), Some(notes)) => (deal, notes),
            _ => {
                eprintln!(
                    "lodestone: unknown example '{name}' (expected one of: {})",
                    EXAMPLES.join(", ")
                );
                return ExitCode::from(USAGE);
            }
        },
    };
    match save_template(output, &deal, &notes) {
        Ok(()) => {
            println!("{}: written ({})", output.display(), summary(&deal));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lodestone: {e}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

fn check(file: &Path, defaults: bool) -> ExitCode {
    let reading = read::check(file);
    print_warnings(&reading);
    if defaults {
        for d in &reading.defaults {
            println!("{}: default: {d}", file.display());
        }
    }
    match reading.deal {
        Ok(deal) => {
            let n = reading.warnings.len();
            let warned = match n {
                0 => String::new(),
                1 => " (1 warning, above)".to_string(),
                _ => format!(" ({n} warnings, above)"),
            };
            println!("{}: valid{warned} — {}", file.display(), summary(&deal));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            let n = errors.errors.len();
            if n > 1 {
                eprintln!("{}: {n} problems", file.display());
            }
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// Each warning on stderr, naming its file and cell.
fn print_warnings(reading: &Reading) {
    for line in reading.warning_lines() {
        eprintln!("{line}");
    }
}

/// Failed checks on stderr, before anything else the command prints.
fn print_failures(failures: &[CheckFailure], currency: &str) {
    for f in failures {
        eprintln!("lodestone: {}", report::check_failure(f, currency));
    }
}

/// Exit 3 when a check failed, 0 otherwise (the outputs are written either way).
fn outcome(failures: &[CheckFailure]) -> ExitCode {
    ExitCode::from(exit_code_after_run(failures))
}

/// "'Name': 2 facilities, 1 product, …, 2026–2061".
fn summary(deal: &Deal) -> String {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "'{}': {}, {}, {}, {}, {}, {}–{}",
        deal.name.value,
        count(deal.facilities.len(), "facility", "facilities"),
        count(deal.products.len(), "product", "products"),
        count(deal.parties.len(), "party", "parties"),
        count(deal.tranches.len(), "tranche", "tranches"),
        count(deal.scenarios.len(), "scenario", "scenarios"),
        deal.first_year(),
        deal.last_year()
    )
}

/// Runs the base case and the scenarios; writes the workbook and (optionally) the JSON only
/// once both are complete, never over the input.
fn run(
    file: &Path,
    output: &Path,
    json: Option<&Path>,
    options: lodestone::json::Options,
    names: &[String],
) -> ExitCode {
    for target in std::iter::once(output).chain(json) {
        if same_file(target, file) {
            eprintln!(
                "lodestone: {}: refusing to write results over the input deal; choose another output file",
                target.display()
            );
            return ExitCode::from(USAGE);
        }
    }
    if json.is_some_and(|j| same_file(j, output)) {
        eprintln!("lodestone: the workbook and the JSON must be different files");
        return ExitCode::from(USAGE);
    }
    if let Err(code) = check_targets(std::iter::once(output).chain(json)) {
        return code;
    }
    let (deal, warnings) = match read_with_warnings(file) {
        Ok(read) => read,
        Err(code) => return code,
    };
    let mut selected: Vec<Scenario> = Vec::new();
    if names.is_empty() {
        selected = deal.scenarios.clone();
    } else {
        for name in names {
            match scenario_named(&deal, name) {
                Ok(s) if s.name.value == Scenario::BASE => {}
                Ok(s) => {
                    if !selected.iter().any(|t| t.name.value == s.name.value) {
                        selected.push(s);
                    }
                }
                Err(message) => {
                    eprintln!("lodestone: {}: {message}", file.display());
                    return ExitCode::from(USAGE);
                }
            }
        }
    }
    let runs = match engine::run_all(&deal, &selected) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("lodestone: {}: {e}", file.display());
            return ExitCode::from(BAD_INPUT);
        }
    };
    let failures = engine::results::failures(&runs);
    print_failures(&failures, &deal.currency.value);
    let workbook = match results_bytes_with(&deal, &runs, &warnings) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("lodestone: {}: {e}", output.display());
            return ExitCode::from(BAD_INPUT);
        }
    };
    let text = json.map(|_| lodestone::json::to_json_with(&deal, &runs, options));
    let mut files: Vec<(&Path, &[u8])> = vec![(output, &workbook)];
    if let (Some(path), Some(text)) = (json, &text) {
        files.push((path, text.as_bytes()));
    }
    if let Err(code) = write_all(&files) {
        return code;
    }
    print!("{}", report::table(&runs, &deal.currency.value));
    if failures.is_empty() {
        println!(
            "{}: written; every check holds in every scenario",
            output.display()
        );
    } else {
        println!(
            "{}: written; CHECKS FAILED: {} (listed first, on stderr; exit code 3)",
            output.display(),
            failures.len()
        );
    }
    if let Some(path) = json {
        println!("{}: written", path.display());
    }
    // The process ends here: the operating system reclaims the results at once, where
    // dropping them (hundreds of thousands of small allocations) would take a tenth of the run.
    std::mem::forget(runs);
    std::mem::forget(workbook);
    outcome(&failures)
}

/// Refuses outputs that would overwrite the input or each other (a usage error).
fn check_outputs(file: &Path, outputs: &[&Path]) -> Result<(), ExitCode> {
    for target in outputs {
        if same_file(target, file) {
            eprintln!(
                "lodestone: {}: refusing to write results over the input deal; choose another output file",
                target.display()
            );
            return Err(ExitCode::from(USAGE));
        }
    }
    for (i, a) in outputs.iter().enumerate() {
        if outputs[i + 1..].iter().any(|b| same_file(a, b)) {
            eprintln!("lodestone: the workbook and the JSON must be different files");
            return Err(ExitCode::from(USAGE));
        }
    }
    check_targets(outputs.iter().copied())
}

/// Refuses outputs that exist and are not regular files (links, devices), before any work.
fn check_targets<'a>(outputs: impl Iterator<Item = &'a Path>) -> Result<(), ExitCode> {
    for target in outputs {
        if let Err(e) = output::check_target(target) {
            eprintln!("lodestone: {e}");
            return Err(ExitCode::from(BAD_INPUT));
        }
    }
    Ok(())
}

/// Reads a deal, printing its warnings and, when it is not valid, its problems.
fn read_with_warnings(file: &Path) -> Result<(Deal, Vec<InputWarning>), ExitCode> {
    let reading = read::read(file);
    print_warnings(&reading);
    match reading.deal {
        Ok(deal) => Ok((deal, reading.warnings)),
        Err(errors) => {
            eprintln!("{errors}");
            Err(ExitCode::from(BAD_INPUT))
        }
    }
}

fn read(file: &Path) -> Result<Deal, ExitCode> {
    read_with_warnings(file).map(|(deal, _)| deal)
}

/// The failed checks of the scenarios an analysis is about, printed first; an engine failure
/// is bad input.
fn analysed_failures(
    file: &Path,
    deal: &Deal,
    scenarios: &[&Scenario],
) -> Result<Vec<CheckFailure>, ExitCode> {
    match analytics::failed_checks(deal, scenarios) {
        Ok(failures) => {
            print_failures(&failures, &deal.currency.value);
            Ok(failures)
        }
        Err(e) => Err(failed(file, AnalyticsError::Engine(e))),
    }
}

/// An analysis that failed: a setting out of range is a usage error, the rest bad input.
fn failed(file: &Path, e: AnalyticsError) -> ExitCode {
    eprintln!("lodestone: {}: {e}", file.display());
    match e {
        AnalyticsError::Setting(_) => ExitCode::from(USAGE),
        _ => ExitCode::from(BAD_INPUT),
    }
}

/// Writes every output as one transaction (see `lodestone::output`).
fn write_all(files: &[(&Path, &[u8])]) -> Result<(), ExitCode> {
    output::write_all(files).map_err(|e| {
        eprintln!("lodestone: {e}");
        ExitCode::from(BAD_INPUT)
    })
}

fn sensitivity(
    file: &Path,
    output: &Path,
    json: Option<&Path>,
    shock: rust_decimal::Decimal,
) -> ExitCode {
    let outputs: Vec<&Path> = std::iter::once(output).chain(json).collect();
    if let Err(code) = check_outputs(file, &outputs) {
        return code;
    }
    let deal = match read(file) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let failures = match analysed_failures(file, &deal, &[&Scenario::base()]) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let tornado = match analytics::sensitivity::tornado(&deal, shock) {
        Ok(t) => t,
        Err(e) => return failed(file, e),
    };
    let workbook = match tornado_bytes(&deal, &tornado) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lodestone: {}: {e}", output.display());
            return ExitCode::from(BAD_INPUT);
        }
    };
    let text = json.map(|_| analytics::sensitivity::to_json(&deal, &tornado));
    let mut files: Vec<(&Path, &[u8])> = vec![(output, &workbook)];
    if let (Some(path), Some(text)) = (json, &text) {
        files.push((path, text.as_bytes()));
    }
    if let Err(code) = write_all(&files) {
        return code;
    }
    print!("{}", report::tornado(&tornado, &deal.currency.value));
    for (path, _) in &files {
        println!("{}: written", path.display());
    }
    outcome(&failures)
}

fn breakeven(file: &Path, json: Option<&Path>) -> ExitCode {
    let outputs: Vec<&Path> = json.into_iter().collect();
    if let Err(code) = check_outputs(file, &outputs) {
        return code;
    }
    let deal = match read(file) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let base = Scenario::base();
    let analysed: Vec<&Scenario> = std::iter::once(&base).chain(&deal.scenarios).collect();
    let failures = match analysed_failures(file, &deal, &analysed) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let answers = match analytics::breakeven::solve_all(&deal) {
        Ok(a) => a,
        Err(e) => return failed(file, e),
    };
    if let Some(path) = json {
        let text = analytics::breakeven::to_json(&deal, &answers);
        if let Err(code) = write_all(&[(path, text.as_bytes())]) {
            return code;
        }
    }
    print!("{}", report::breakeven(&answers));
    if let Some(path) = json {
        println!("{}: written", path.display());
    }
    outcome(&failures)
}

struct McArgs<'a> {
    paths: u64,
    seed: u64,
    output: &'a Path,
    json: Option<&'a Path>,
    scenario: Option<&'a str>,
    threads: Option<u32>,
}

/// Paths whose price fan the workbook charts (a fixed sample: the first ones).
const FAN_PATHS: u64 = 1000;

fn montecarlo(file: &Path, args: &McArgs) -> ExitCode {
    let outputs: Vec<&Path> = std::iter::once(args.output).chain(args.json).collect();
    if let Err(code) = check_outputs(file, &outputs) {
        return code;
    }
    let deal = match read(file) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let scenario = match args.scenario {
        None => Scenario::base(),
        Some(name) => match scenario_named(&deal, name) {
            Ok(s) => s,
            Err(message) => {
                eprintln!("lodestone: {}: {message}", file.display());
                return ExitCode::from(USAGE);
            }
        },
    };
    let failures = match analysed_failures(file, &deal, &[&scenario]) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let sim = match analytics::montecarlo::Simulation::new(&deal, &scenario) {
        Ok(s) => s,
        Err(e) => return failed(file, e),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        pool = pool.num_threads(n as usize);
    }
    let pool = match pool.build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("lodestone: cannot start the worker threads ({e})");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let progress = Progress::new(args.paths);
    let result = pool.install(|| sim.run(args.seed, 0..args.paths, &|n| progress.advance(n)));
    progress.finish();
    let summary = match result {
        Ok(s) => s,
        Err(e) => return failed(file, e),
    };
    let fan = sim.price_fan(args.seed, args.paths.min(FAN_PATHS), &[0.05, 0.5, 0.95]);
    let workbook = match montecarlo_bytes(
        &deal,
        &sim,
        &summary,
        args.seed,
        &fan,
        args.paths.min(FAN_PATHS),
    ) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lodestone: {}: {e}", args.output.display());
            return ExitCode::from(BAD_INPUT);
        }
    };
    let text = args
        .json
        .map(|_| analytics::montecarlo::to_json(&deal, &sim, &summary, args.seed));
    let mut files: Vec<(&Path, &[u8])> = vec![(args.output, &workbook)];
    if let (Some(path), Some(text)) = (args.json, &text) {
        files.push((path, text.as_bytes()));
    }
    if let Err(code) = write_all(&files) {
        return code;
    }
    println!(
        "{} paths of '{}', seed {}",
        summary.paths, sim.scenario, args.seed
    );
    let report = analytics::montecarlo::report(&sim, &summary);
    print!("{}", report::montecarlo(&report, &deal.currency.value));
    for (path, _) in &files {
        println!("{}: written", path.display());
    }
    outcome(&failures)
}

/// The progress bar on stderr: shown once a run has taken a second, and only when stderr is
/// a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    start: std::time::Instant,
    terminal: bool,
    shown: std::sync::atomic::AtomicBool,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::hidden(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} paths ({percent}%), {elapsed} elapsed, about {eta} left",
        ) {
            bar.set_style(style);
        }
        Progress {
            bar,
            start: std::time::Instant::now(),
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            shown: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
        use std::sync::atomic::Ordering;
        if self.terminal
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() >= std::time::Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
