//! `run`: the base case and the scenarios, into the results workbook and (optionally) JSON.

use std::path::{Path, PathBuf};

use super::{Observer, check_outputs, outputs, read_deal, scenario_in, tell_failures, write_all};
use crate::engine::results::{self, CheckFailure};
use crate::engine::{self, Results};
use crate::error::{Error, WriteFailure};
use crate::excel::write::results_bytes_with;
use crate::model::{Deal, InputWarning, Scenario};

/// What `lodestone run` was asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The deal workbook.
    pub file: PathBuf,
    /// The results workbook to write (.xlsx).
    pub output: PathBuf,
    /// Also write the complete results as exact JSON here.
    pub json: Option<PathBuf>,
    /// What the JSON holds (`rows`: every calculation row per year).
    pub json_options: crate::json::Options,
    /// Run only these scenarios (the base case always runs); names match ignoring case.
    /// Empty: every scenario.
    pub scenarios: Vec<String>,
}

/// What a run did: every output is written.
#[derive(Debug)]
pub struct RunReport {
    pub deal: Deal,
    /// The base case, then each scenario run.
    pub runs: Vec<Results>,
    pub warnings: Vec<InputWarning>,
    /// The checks that failed (the outputs are written all the same; exit 3).
    pub failures: Vec<CheckFailure>,
    /// The files written: the workbook, then the JSON.
    pub written: Vec<PathBuf>,
}

/// Runs the base case and the scenarios; writes the workbook and (optionally) the JSON only
/// once both are complete, never over the input. Failed checks go to the observer before
/// anything is written.
pub fn run(options: &RunOptions, observer: &dyn Observer) -> Result<RunReport, Error> {
    let file = options.file.as_path();
    check_outputs(file, &outputs(&options.output, options.json.as_ref()))?;
    let (deal, warnings) = read_deal(file, observer)?;
    let selected = selected_scenarios(file, &deal, &options.scenarios)?;
    let runs = engine::run_all(&deal, &selected).map_err(|source| Error::Engine {
        file: file.to_path_buf(),
        source,
    })?;
    let failures = results::failures(&runs);
    tell_failures(&failures, &deal, observer);
    let written = write_results(options, &deal, &runs, &warnings)?;
    Ok(RunReport {
        deal,
        runs,
        warnings,
        failures,
        written,
    })
}

/// The scenarios named (each once, the base case left to `run_all`), or all of them.
fn selected_scenarios(file: &Path, deal: &Deal, names: &[String]) -> Result<Vec<Scenario>, Error> {
    if names.is_empty() {
        return Ok(deal.scenarios.clone());
    }
    let mut selected: Vec<Scenario> = Vec::new();
    for name in names {
        let s = scenario_in(file, deal, name)?;
        let known = selected.iter().any(|t| t.name.value == s.name.value);
        if s.name.value != Scenario::BASE && !known {
            selected.push(s);
        }
    }
    Ok(selected)
}

/// Builds the workbook and the JSON, then writes them as one transaction.
fn write_results(
    options: &RunOptions,
    deal: &Deal,
    runs: &[Results],
    warnings: &[InputWarning],
) -> Result<Vec<PathBuf>, Error> {
    let workbook =
        results_bytes_with(deal, runs, warnings).map_err(|source| WriteFailure::Workbook {
            path: options.output.clone(),
            source,
        })?;
    let text = options
        .json
        .as_ref()
        .map(|_| crate::json::to_json_with(deal, runs, options.json_options));
    let mut files: Vec<(&Path, &[u8])> = vec![(&options.output, &workbook)];
    if let (Some(path), Some(text)) = (&options.json, &text) {
        files.push((path, text.as_bytes()));
    }
    write_all(&files)
}
