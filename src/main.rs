//! The `lodestone` binary: arguments in, exit code out. The only place that prints.
//!
//! Exit codes: 0 success, 1 bad input (or a file that cannot be written), 2 usage error.
//! Problems go to stderr, one per line; a valid deal's summary goes to stdout.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use lodestone::cli::{Cli, Command};
use lodestone::engine;
use lodestone::examples::{self, EXAMPLES};
use lodestone::excel::read::read_deal;
use lodestone::excel::template::save_template;
use lodestone::excel::template::write_atomically;
use lodestone::excel::write::{results_bytes, same_file};
use lodestone::model::{Deal, Scenario};
use lodestone::report;

const BAD_INPUT: u8 = 1;
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Template { output, example } => template(&output, example.as_deref()),
        Command::Check { file } => check(&file),
        Command::Run {
            file,
            output,
            json,
            scenarios,
        } => run(&file, &output, json.as_deref(), &scenarios),
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

/// Runs the base case and the scenarios; writes the workbook and (optionally) the JSON only
/// once both are complete, never over the input.
fn run(file: &Path, output: &Path, json: Option<&Path>, names: &[String]) -> ExitCode {
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
    let deal = match read_deal(file) {
        Ok(deal) => deal,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let mut selected: Vec<Scenario> = Vec::new();
    if names.is_empty() {
        selected = deal.scenarios.clone();
    } else {
        for name in names {
            if name == Scenario::BASE {
                continue;
            }
            match deal.scenarios.iter().find(|s| &s.name.value == name) {
                Some(s) => selected.push(s.clone()),
                None => {
                    let known: Vec<&str> = deal
                        .scenarios
                        .iter()
                        .map(|s| s.name.value.as_str())
                        .collect();
                    eprintln!(
                        "lodestone: {}: no scenario named '{name}' (the deal has: Base, {})",
                        file.display(),
                        known.join(", ")
                    );
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
    let workbook = match results_bytes(&deal, &runs) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("lodestone: {}: {e}", output.display());
            return ExitCode::from(BAD_INPUT);
        }
    };
    let text = json.map(|_| engine::results::to_json(&deal, &runs));
    if let Err(e) = write_atomically(output, &workbook) {
        eprintln!("lodestone: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    if let (Some(path), Some(text)) = (json, text)
        && let Err(e) = write_atomically(path, text.as_bytes())
    {
        eprintln!("lodestone: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    print!("{}", report::table(&runs, &deal.currency.value));
    let failed: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.checks
                .iter()
                .filter(|c| !c.ok)
                .map(move |c| format!("{}: {} ({})", r.scenario, c.name, c.detail))
        })
        .collect();
    if failed.is_empty() {
        println!(
            "{}: written; every check holds in every scenario",
            output.display()
        );
    } else {
        println!("{}: written; CHECKS FAILED:", output.display());
        for f in failed {
            println!("  {f}");
        }
    }
    if let Some(path) = json {
        println!("{}: written", path.display());
    }
    // The process ends here: the operating system reclaims the results at once, where
    // dropping them (hundreds of thousands of small allocations) would take a tenth of the run.
    std::mem::forget(runs);
    std::mem::forget(workbook);
    ExitCode::SUCCESS
}
