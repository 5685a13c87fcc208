//! The commands as library functions: `template`, `check`, `run`, `sensitivity`,
//! `breakeven` and `montecarlo`, each options in, a report of what happened out (the deal,
//! the results, the failed checks, the files written) or the `Error` that stopped it. The
//! `lodestone` binary is one caller; a portfolio runner, a shard worker or a test are others.
//!
//! Owns the order of a command's steps: refuse bad outputs before any work, read, compute,
//! build every output, then write them as one transaction. Must not print: what the user
//! should see while a command works (warnings, failed checks, progress) goes to the
//! `Observer` the caller passes; what to print after is the caller's, from the report.

mod analyse;
mod check;
mod run;

use std::path::{Path, PathBuf};

pub use analyse::{
    BreakevenOptions, BreakevenReport, MonteCarloOptions, MonteCarloReport, SensitivityOptions,
    SensitivityReport, breakeven, montecarlo, sensitivity,
};
pub use check::{CheckOptions, CheckReport, TemplateOptions, check, template};
pub use run::{RunOptions, RunReport, run};

use crate::analytics::{self, AnalyticsError};
use crate::engine::results::CheckFailure;
use crate::error::{Error, UnknownScenario, Usage};
use crate::excel::read::{self, Reading};
use crate::excel::write::same_file;
use crate::model::{Deal, InputWarning, Scenario};
use crate::output;
use crate::report;

/// What a command tells its caller while it works, as soon as it is known: the binary
/// prints each line on stderr (stdout for the defaults), a test may collect them, a
/// portfolio runner may ignore them. Every method does nothing unless overridden.
pub trait Observer: Sync {
    /// A warning about the deal's inputs, as `FILE: 'Sheet'!B7: warning: …`.
    fn warning(&self, _line: &str) {}
    /// A check of a scenario run or analysed that failed, as one line (without the program
    /// name); reported before the outputs are written.
    fn failed_check(&self, _line: &str) {}
    /// `check` with `defaults`: a default the reader applied, as `FILE: default: …`.
    fn default_applied(&self, _line: &str) {}
    /// Monte Carlo: `n` more paths simulated (called from the worker threads).
    fn paths_done(&self, _n: u64) {}
    /// Monte Carlo: every path is simulated; the outputs are built next.
    fn paths_finished(&self) {}
}

/// An observer that ignores everything (the report still holds the warnings and failures).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// The scenario `--scenario NAME` means: the base case for "Base", or the deal's scenario of
/// that name, ignoring case (validation keeps names unique ignoring case).
pub fn scenario_named(deal: &Deal, name: &str) -> Result<Scenario, UnknownScenario> {
    let wanted = name.trim();
    if wanted.eq_ignore_ascii_case(Scenario::BASE) {
        return Ok(Scenario::base());
    }
    let found = deal
        .scenarios
        .iter()
        .find(|s| s.name.value.trim().to_lowercase() == wanted.to_lowercase());
    match found {
        Some(s) => Ok(s.clone()),
        None => Err(UnknownScenario {
            name: name.to_string(),
            known: std::iter::once(Scenario::BASE.to_string())
                .chain(deal.scenarios.iter().map(|s| s.name.value.clone()))
                .collect(),
        }),
    }
}

/// The scenario named, or the usage error naming the deal's file.
fn scenario_in(file: &Path, deal: &Deal, name: &str) -> Result<Scenario, Error> {
    scenario_named(deal, name).map_err(|source| {
        Error::Usage(Usage::Scenario {
            file: file.to_path_buf(),
            source,
        })
    })
}

/// Refuses outputs that would overwrite the input or each other (a usage error), and
/// outputs that exist and are not regular files (bad input), before any work.
fn check_outputs(file: &Path, outputs: &[&Path]) -> Result<(), Error> {
    if let Some(target) = outputs.iter().find(|t| same_file(t, file)) {
        return Err(Usage::OverInput(target.to_path_buf()).into());
    }
    for (i, a) in outputs.iter().enumerate() {
        if outputs[i + 1..].iter().any(|b| same_file(a, b)) {
            return Err(Usage::SameOutputs.into());
        }
    }
    for target in outputs {
        output::check_target(target)?;
    }
    Ok(())
}

/// The outputs a command was asked for: the workbook, then the JSON if any.
fn outputs<'a>(workbook: &'a Path, json: Option<&'a PathBuf>) -> Vec<&'a Path> {
    std::iter::once(workbook)
        .chain(json.map(PathBuf::as_path))
        .collect()
}

/// Reads a deal, telling the observer its warnings; a deal that cannot be read or is not
/// valid is the error.
fn read_deal(file: &Path, observer: &dyn Observer) -> Result<(Deal, Vec<InputWarning>), Error> {
    let reading = read::read(file);
    tell_warnings(&reading, observer);
    let warnings = reading.warnings;
    reading.deal.map(|deal| (deal, warnings)).map_err(invalid)
}

fn tell_warnings(reading: &Reading, observer: &dyn Observer) {
    for line in reading.warning_lines() {
        observer.warning(&line);
    }
}

/// A file that could not be read is a `Read` error; one that was read, a `Validate` error.
fn invalid(errors: read::ReadErrors) -> Error {
    if errors.cause.is_some() {
        Error::Read(errors)
    } else {
        Error::Validate(errors)
    }
}

/// Tells the observer each failed check, in the deal's currency.
fn tell_failures(failures: &[CheckFailure], deal: &Deal, observer: &dyn Observer) {
    for f in failures {
        observer.failed_check(&report::check_failure(f, &deal.currency.value));
    }
}

/// The failed checks of the scenarios an analysis is about, told first; an engine failure
/// is bad input.
fn analysed_failures(
    file: &Path,
    deal: &Deal,
    scenarios: &[&Scenario],
    observer: &dyn Observer,
) -> Result<Vec<CheckFailure>, Error> {
    let failures = analytics::failed_checks(deal, scenarios)
        .map_err(|e| analysis_failed(file, AnalyticsError::Engine(e)))?;
    tell_failures(&failures, deal, observer);
    Ok(failures)
}

fn analysis_failed(file: &Path, source: AnalyticsError) -> Error {
    Error::Analytics {
        file: file.to_path_buf(),
        source,
    }
}

/// Writes every output as one transaction (see `crate::output`); the paths written.
fn write_all(files: &[(&Path, &[u8])]) -> Result<Vec<PathBuf>, Error> {
    output::write_all(files)?;
    Ok(files.iter().map(|(p, _)| p.to_path_buf()).collect())
}
