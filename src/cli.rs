//! The binary's command line (not part of the library): clap parses arguments into these
//! types; `main` turns them into the options of `lodestone::commands`. Nothing here reads a
//! workbook or prints; it only describes what the user asked for.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rust_decimal::Decimal;

/// The exit codes as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success: written, or the deal is valid (warnings do not change it)
  1  bad input: every problem listed on stderr with its file, sheet and cell; or a
     calculation that overflowed, or an output that cannot be written
  2  usage error: unknown command, option, example or scenario; an output over the input
     or over an existing template without --force
  3  a check failed (run and the analytics): the model ran and the outputs were written,
     but a check of a scenario run or analysed does not hold; the failure is printed first";

/// Lodestone models the money in critical-mineral projects: it reads a deal from an Excel
/// workbook, runs its scenarios in exact decimals, and writes NPV and IRR workbooks that
/// reviewers can audit cell by cell.
#[derive(Debug, Parser)]
#[command(name = "lodestone", version, about, long_about = None, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a blank deal template, or one of the bundled example deals.
    #[command(after_help = EXIT_CODES_HELP)]
    Template {
        /// Where to write the workbook (.xlsx); an existing file is kept unless --force.
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, value_name = "NAME", help = example_help())]
        example: Option<String>,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Validate a deal workbook: print every problem, or a one-line summary; warnings
    /// (ignored columns, implausible values) go to stderr and leave the exit code at 0.
    #[command(after_help = EXIT_CODES_HELP)]
    Check {
        /// The deal workbook (.xlsx, .xlsm, .xls or .ods).
        file: PathBuf,
        /// Also list every default applied (a blank cell, or a column the sheet lacks), with
        /// the cell it would have come from.
        #[arg(long)]
        defaults: bool,
    },
    /// Run the base case and the scenarios; write the results workbook and JSON.
    #[command(after_help = EXIT_CODES_HELP)]
    Run {
        /// The deal workbook.
        file: PathBuf,
        /// The results workbook to write (.xlsx).
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the complete results as exact JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Put every calculation row per year in the JSON too (each tranche's interest,
        /// principal, DSCR and DSRA, each facility's production, each party's ledger, every
        /// row of the workbook's calculation).
        #[arg(long, requires = "json")]
        json_rows: bool,
        /// Run only these scenarios (the base case always runs); repeatable; names match
        /// ignoring case.
        #[arg(long = "scenario", value_name = "NAME")]
        scenarios: Vec<String>,
    },
    /// Tornado: price, capex, opex, ramp speed, construction delay and discount rates each
    /// shocked down and up; the NPV of the project, equity and each government.
    #[command(after_help = EXIT_CODES_HELP)]
    Sensitivity {
        /// The deal workbook.
        file: PathBuf,
        /// The tornado workbook to write (.xlsx).
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the tornado as exact JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// The shock, a share between 0 and 1 (0.2 or 20%: each driver ±20%).
        #[arg(long, default_value = "0.2", value_parser = parse_shock)]
        shock: Decimal,
    },
    /// Breakeven solvers for the base case and each scenario: the price multiplier for equity
    /// NPV = 0 and for senior min DSCR = 1.00, the price floor for the lock-up DSCR, the
    /// first-loss commitment for no loss in the loans above it; each verified by a rerun.
    #[command(after_help = EXIT_CODES_HELP)]
    Breakeven {
        /// The deal workbook.
        file: PathBuf,
        /// Also write the answers as exact JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Monte Carlo price paths (the deal's Monte Carlo sheet): NPV percentiles and the
    /// probability of a loss per party, tranche and government.
    #[command(after_help = EXIT_CODES_HELP)]
    Montecarlo {
        /// The deal workbook.
        file: PathBuf,
        /// The number of paths.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
        paths: u64,
        /// The seed: the same seed gives the same results, whatever the number of threads.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The results workbook to write (.xlsx).
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the statistics as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Simulate prices on top of this scenario (default: the base case); the name matches
        /// ignoring case.
        #[arg(long, value_name = "NAME")]
        scenario: Option<String>,
        /// Threads to use (default: every core).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
    },
}

/// `template --example`'s help: the example names, from the list of examples itself.
fn example_help() -> String {
    format!(
        "An example deal to write instead of the blank template: {}",
        lodestone::examples::EXAMPLES.join(", ")
    )
}

/// A shock: a share strictly between 0 and 1, as 0.2 or 20%.
pub fn parse_shock(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<Decimal>()
            .map(|v| v / Decimal::ONE_HUNDRED),
        None => t.parse::<Decimal>(),
    }
    .map_err(|_| format!("'{text}' is not a number (expected a share such as 0.2 or 20%)"))?;
    if value <= Decimal::ZERO || value >= Decimal::ONE {
        return Err(format!(
            "{text} is outside 0 to 1 (expected a share such as 0.2 or 20%, above 0 and below 1)"
        ));
    }
    Ok(value)
}
