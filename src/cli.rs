//! Command-line definitions: clap parses arguments into these types; `main` runs them.
//! Nothing here reads a workbook or prints; it only describes what the user asked for.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}
