//! Command-line definitions: clap parses arguments into these types; `main` runs them.
//! Nothing here reads a workbook or prints; it only describes what the user asked for.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rust_decimal::Decimal;

/// Lodestone models the money in critical-mineral projects: it reads a deal from an Excel
/// workbook, runs its scenarios in exact decimals, and writes NPV and IRR workbooks that
/// reviewers can audit cell by cell.
#[derive(Debug, Parser)]
#[command(name = "lodestone", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a blank deal template, or one of the bundled example deals.
    Template {
        /// Where to write the workbook (.xlsx).
        #[arg(short, long)]
        output: PathBuf,
        /// An example deal to write instead of the blank template.
        #[arg(long, value_name = "NAME")]
        example: Option<String>,
    },
    /// Validate a deal workbook: print every problem, or a one-line summary.
    Check {
        /// The deal workbook (.xlsx, .xlsm, .xls or .ods).
        file: PathBuf,
    },
    /// Run the base case and the scenarios; write the results workbook and JSON.
    Run {
        /// The deal workbook.
        file: PathBuf,
        /// The results workbook to write (.xlsx).
        #[arg(short, long)]
        output: PathBuf,
        /// Also write the complete results as exact JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Run only these scenarios (the base case always runs); repeatable.
        #[arg(long = "scenario", value_name = "NAME")]
        scenarios: Vec<String>,
    },
    /// Tornado: price, capex, opex, ramp speed, construction delay and discount rates each
    /// shocked down and up; the NPV of the project, equity and each government.
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
    Breakeven {
        /// The deal workbook.
        file: PathBuf,
        /// Also write the answers as exact JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Monte Carlo price paths (the deal's Monte Carlo sheet): NPV percentiles and the
    /// probability of a loss per party, tranche and government.
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
        /// Simulate prices on top of this scenario (default: the base case).
        #[arg(long, value_name = "NAME")]
        scenario: Option<String>,
        /// Threads to use (default: every core).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
    },
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
