//! The `lodestone` binary: arguments in, exit code out; the only place that prints. The
//! ripgrep shape: `main` parses the arguments (`cli`), `try_main` runs the command through
//! `lodestone::commands` and prints what it did, and `main` alone turns an error into its
//! message and exit code.
//!
//! Exit codes (`lodestone::exit`): 0 success, 1 bad input (or a file that cannot be
//! written), 2 usage error, 3 a check failed (outputs written, the failure printed first).
//! Problems and warnings go to stderr, one per line; a valid deal's summary goes to stdout.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};
use lodestone::commands::{self, Observer};
use lodestone::model::Deal;
use lodestone::{Error, exit_code_after_run, report};

// mimalloc instead of the system allocator: writing the results workbook makes hundreds of
// thousands of small strings on several threads, and glibc's per-thread arenas spent about a
// fifth of `lodestone run` in malloc, free and growing heaps (9% faster end to end, measured
// in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let command = Cli::parse().command;
    let counts_problems = matches!(command, Command::Check { .. });
    match try_main(command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            print_error(&e, counts_problems);
            ExitCode::from(e.exit_code())
        }
    }
}

/// An error on stderr: a list of input problems as it is (each line names its file, and
/// `check` adds their count), anything else after the program's name.
fn print_error(e: &Error, counts_problems: bool) {
    match e.input_problems() {
        Some(errors) => {
            eprintln!("{errors}");
            let n = errors.errors.len();
            if counts_problems && n > 1 {
                eprintln!("{}: {n} problems", errors.file);
            }
        }
        None => eprintln!("lodestone: {e}"),
    }
}

/// Runs the command and prints what it did; the exit code when it completed.
fn try_main(command: Command) -> Result<u8, Error> {
    match command {
        Command::Template {
            output,
            example,
            force,
        } => template(commands::TemplateOptions {
            output,
            example,
            force,
        }),
        Command::Check { file, defaults } => check(commands::CheckOptions { file, defaults }),
        Command::Run {
            file,
            output,
            json,
            json_rows,
            scenarios,
        } => run(commands::RunOptions {
            file,
            output,
            json,
            json_options: lodestone::json::Options { rows: json_rows },
            scenarios,
        }),
        Command::Sensitivity {
            file,
            output,
            json,
            shock,
        } => sensitivity(commands::SensitivityOptions {
            file,
            output,
            json,
            shock,
        }),
        Command::Breakeven { file, json } => breakeven(commands::BreakevenOptions { file, json }),
        Command::Montecarlo {
            file,
            paths,
            seed,
            output,
            json,
            scenario,
            threads,
        } => montecarlo(commands::MonteCarloOptions {
            file,
            output,
            json,
            paths,
            seed,
            scenario,
            threads,
        }),
    }
}

fn template(options: commands::TemplateOptions) -> Result<u8, Error> {
    let deal = commands::template(&options)?;
    println!("{}: written ({})", options.output.display(), summary(&deal));
    Ok(lodestone::exit::SUCCESS)
}

fn check(options: commands::CheckOptions) -> Result<u8, Error> {
    let report = commands::check(&options, &Console::default())?;
    let warned = match report.warnings.len() {
        0 => String::new(),
        1 => " (1 warning, above)".to_string(),
        n => format!(" ({n} warnings, above)"),
    };
    println!(
        "{}: valid{warned} — {}",
        options.file.display(),
        summary(&report.deal)
    );
    Ok(lodestone::exit::SUCCESS)
}

fn run(options: commands::RunOptions) -> Result<u8, Error> {
    let report = commands::run(&options, &Console::default())?;
    print!(
        "{}",
        report::table(&report.runs, &report.deal.currency.value)
    );
    let n = report.failures.len();
    if n == 0 {
        println!(
            "{}: written; every check holds in every scenario",
            options.output.display()
        );
    } else {
        println!(
            "{}: written; CHECKS FAILED: {n} (listed first, on stderr; exit code 3)",
            options.output.display()
        );
    }
    if let Some(path) = &options.json {
        println!("{}: written", path.display());
    }
    let code = exit_code_after_run(&report.failures);
    // The process ends here: the operating system reclaims the results at once, where
    // dropping them (hundreds of thousands of small allocations) would take a tenth of the run.
    std::mem::forget(report);
    Ok(code)
}

fn sensitivity(options: commands::SensitivityOptions) -> Result<u8, Error> {
    let report = commands::sensitivity(&options, &Console::default())?;
    print!(
        "{}",
        report::tornado(&report.tornado, &report.deal.currency.value)
    );
    print_written(&report.written);
    Ok(exit_code_after_run(&report.failures))
}

fn breakeven(options: commands::BreakevenOptions) -> Result<u8, Error> {
    let report = commands::breakeven(&options, &Console::default())?;
    print!("{}", report::breakeven(&report.answers));
    print_written(&report.written);
    Ok(exit_code_after_run(&report.failures))
}

fn montecarlo(options: commands::MonteCarloOptions) -> Result<u8, Error> {
    let console = Console {
        progress: Some(Progress::new(options.paths)),
    };
    let report = commands::montecarlo(&options, &console)?;
    let sim = &report.simulation;
    println!(
        "{} paths of '{}', seed {}",
        report.summary.paths, sim.scenario, options.seed
    );
    let stats = lodestone::analytics::montecarlo::report(sim, &report.summary);
    print!(
        "{}",
        report::montecarlo(&stats, &report.deal.currency.value)
    );
    print_written(&report.written);
    Ok(exit_code_after_run(&report.failures))
}

fn print_written(paths: &[PathBuf]) {
    for path in paths {
        println!("{}: written", Path::display(path));
    }
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

/// What a command tells while it works, printed at once: warnings and failed checks on
/// stderr, defaults on stdout, the Monte Carlo progress bar on stderr.
#[derive(Default)]
struct Console {
    progress: Option<Progress>,
}

impl Observer for Console {
    fn warning(&self, line: &str) {
        eprintln!("{line}");
    }

    fn failed_check(&self, line: &str) {
        eprintln!("lodestone: {line}");
    }

    fn default_applied(&self, line: &str) {
        println!("{line}");
    }

    fn paths_done(&self, n: u64) {
        if let Some(p) = &self.progress {
            p.advance(n);
        }
    }

    fn paths_finished(&self) {
        if let Some(p) = &self.progress {
            p.finish();
        }
    }
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
