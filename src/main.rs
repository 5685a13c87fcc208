//! The `lodestone` binary: arguments in, exit code out. The only place that prints.
//!
//! Exit codes: 0 success, 1 bad input (or a file that cannot be written), 2 usage error.
//! Problems go to stderr, one per line; a valid deal's summary goes to stdout.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use lodestone::cli::{Cli, Command};
use lodestone::examples::{self, EXAMPLES};
use lodestone::excel::read::read_deal;
use lodestone::excel::template::save_template;
use lodestone::model::Deal;

const BAD_INPUT: u8 = 1;
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Template { output, example } => template(&output, example.as_deref()),
        Command::Check { file } => check(&file),
        Command::Run { .. } => {
            eprintln!("lodestone: this command is not built yet");
            ExitCode::from(USAGE)
        }
    }
}

fn template(output: &Path, example: Option<&str>) -> ExitCode {
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

fn check(file: &Path) -> ExitCode {
    match read_deal(file) {
        Ok(deal) => {
            println!("{}: valid — {}", file.display(), summary(&deal));
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
