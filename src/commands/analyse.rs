//! The analytics commands: `sensitivity` (tornado), `breakeven` (solvers) and `montecarlo`
//! (price paths). Each reports the failed checks of the scenarios it analyses first (exit 3
//! after writing), then analyses and writes its outputs.

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use super::{
    Observer, analysed_failures, analysis_failed, check_outputs, outputs, read_deal, scenario_in,
    write_all,
};
use crate::analytics::breakeven::{self, ScenarioAnswers};
use crate::analytics::montecarlo::{Simulation, Summary};
use crate::analytics::sensitivity::{self, Tornado};
use crate::engine::results::CheckFailure;
use crate::error::{Error, WriteFailure};
use crate::excel::analytics::{montecarlo_bytes, tornado_bytes};
use crate::excel::write::WriteError;
use crate::model::{Deal, Scenario};

/// What `lodestone sensitivity` was asked for.
#[derive(Debug, Clone, Default)]
pub struct SensitivityOptions {
    pub file: PathBuf,
    /// The tornado workbook to write (.xlsx).
    pub output: PathBuf,
    pub json: Option<PathBuf>,
    /// Each driver shocked down and up by this share (strictly between 0 and 1).
    pub shock: Decimal,
}

/// A tornado, written.
#[derive(Debug)]
pub struct SensitivityReport {
    pub deal: Deal,
    pub tornado: Tornado,
    /// The base case's failed checks.
    pub failures: Vec<CheckFailure>,
    pub written: Vec<PathBuf>,
}

/// The tornado of the base case: each driver shocked down and up.
pub fn sensitivity(
    options: &SensitivityOptions,
    observer: &dyn Observer,
) -> Result<SensitivityReport, Error> {
    let file = options.file.as_path();
    check_outputs(file, &outputs(&options.output, options.json.as_ref()))?;
    let (deal, _) = read_deal(file, observer)?;
    let failures = analysed_failures(file, &deal, &[&Scenario::base()], observer)?;
    let tornado =
        sensitivity::tornado(&deal, options.shock).map_err(|e| analysis_failed(file, e))?;
    let workbook = built(&options.output, tornado_bytes(&deal, &tornado))?;
    let text = (options.json.as_ref()).map(|_| sensitivity::to_json(&deal, &tornado));
    let written = write_all(&files(
        &options.output,
        &workbook,
        options.json.as_ref(),
        &text,
    ))?;
    Ok(SensitivityReport {
        deal,
        tornado,
        failures,
        written,
    })
}

/// What `lodestone breakeven` was asked for.
#[derive(Debug, Clone, Default)]
pub struct BreakevenOptions {
    pub file: PathBuf,
    /// Write the answers as exact JSON here.
    pub json: Option<PathBuf>,
}

/// The breakeven answers of the base case and each scenario.
#[derive(Debug)]
pub struct BreakevenReport {
    pub deal: Deal,
    pub answers: Vec<ScenarioAnswers>,
    /// The failed checks of the base case and the scenarios.
    pub failures: Vec<CheckFailure>,
    /// The JSON, if asked for.
    pub written: Vec<PathBuf>,
}

/// Solves every breakeven of the base case and each scenario, each verified by a rerun.
pub fn breakeven(
    options: &BreakevenOptions,
    observer: &dyn Observer,
) -> Result<BreakevenReport, Error> {
    let file = options.file.as_path();
    let json: Vec<&Path> = options.json.iter().map(PathBuf::as_path).collect();
    check_outputs(file, &json)?;
    let (deal, _) = read_deal(file, observer)?;
    let base = Scenario::base();
    let analysed: Vec<&Scenario> = std::iter::once(&base).chain(&deal.scenarios).collect();
    let failures = analysed_failures(file, &deal, &analysed, observer)?;
    let answers = breakeven::solve_all(&deal).map_err(|e| analysis_failed(file, e))?;
    let mut written = Vec::new();
    if let Some(path) = &options.json {
        let text = breakeven::to_json(&deal, &answers);
        written = write_all(&[(path, text.as_bytes())])?;
    }
    Ok(BreakevenReport {
        deal,
        answers,
        failures,
        written,
    })
}

/// What `lodestone montecarlo` was asked for.
#[derive(Debug, Clone, Default)]
pub struct MonteCarloOptions {
    pub file: PathBuf,
    /// The results workbook to write (.xlsx).
    pub output: PathBuf,
    pub json: Option<PathBuf>,
    /// The number of paths (at least 1).
    pub paths: u64,
    /// The same seed gives the same results, whatever the number of threads.
    pub seed: u64,
    /// Simulate prices on top of this scenario (None: the base case).
    pub scenario: Option<String>,
    /// Threads to use (None: every core).
    pub threads: Option<u32>,
}

/// A Monte Carlo run, written.
pub struct MonteCarloReport {
    pub deal: Deal,
    pub simulation: Simulation,
    pub summary: Summary,
    /// The failed checks of the scenario simulated on.
    pub failures: Vec<CheckFailure>,
    pub written: Vec<PathBuf>,
}

/// Paths whose price fan the workbook charts (a fixed sample: the first ones).
const FAN_PATHS: u64 = 1000;

/// Simulates the price paths on every thread asked for, telling the observer the progress.
pub fn montecarlo(
    options: &MonteCarloOptions,
    observer: &dyn Observer,
) -> Result<MonteCarloReport, Error> {
    let file = options.file.as_path();
    check_outputs(file, &outputs(&options.output, options.json.as_ref()))?;
    let (deal, _) = read_deal(file, observer)?;
    let scenario = match &options.scenario {
        None => Scenario::base(),
        Some(name) => scenario_in(file, &deal, name)?,
    };
    let failures = analysed_failures(file, &deal, &[&scenario], observer)?;
    let simulation = Simulation::new(&deal, &scenario).map_err(|e| analysis_failed(file, e))?;
    let summary = simulate(options, &simulation, observer)?;
    let written = write_montecarlo(options, &deal, &simulation, &summary)?;
    Ok(MonteCarloReport {
        deal,
        simulation,
        summary,
        failures,
        written,
    })
}

/// Runs the paths on a pool of the threads asked for.
fn simulate(
    options: &MonteCarloOptions,
    sim: &Simulation,
    observer: &dyn Observer,
) -> Result<Summary, Error> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = options.threads {
        pool = pool.num_threads(n as usize);
    }
    let pool = pool.build().map_err(Error::Threads)?;
    let result =
        pool.install(|| sim.run(options.seed, 0..options.paths, &|n| observer.paths_done(n)));
    observer.paths_finished();
    result.map_err(|e| analysis_failed(&options.file, e))
}

fn write_montecarlo(
    options: &MonteCarloOptions,
    deal: &Deal,
    sim: &Simulation,
    summary: &Summary,
) -> Result<Vec<PathBuf>, Error> {
    let fan_paths = options.paths.min(FAN_PATHS);
    let fan = sim.price_fan(options.seed, fan_paths, &[0.05, 0.5, 0.95]);
    let bytes = montecarlo_bytes(deal, sim, summary, options.seed, &fan, fan_paths);
    let workbook = built(&options.output, bytes)?;
    let text = (options.json.as_ref())
        .map(|_| crate::analytics::montecarlo::to_json(deal, sim, summary, options.seed));
    write_all(&files(
        &options.output,
        &workbook,
        options.json.as_ref(),
        &text,
    ))
}

/// A workbook's bytes, or the error naming the output it was for.
fn built(path: &Path, bytes: Result<Vec<u8>, WriteError>) -> Result<Vec<u8>, Error> {
    bytes.map_err(|source| {
        WriteFailure::Workbook {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

/// The workbook, then the JSON when there is one.
fn files<'a>(
    output: &'a Path,
    workbook: &'a [u8],
    json: Option<&'a PathBuf>,
    text: &'a Option<String>,
) -> Vec<(&'a Path, &'a [u8])> {
    let mut files = vec![(output, workbook)];
    if let (Some(path), Some(text)) = (json, text) {
        files.push((path.as_path(), text.as_bytes()));
    }
    files
}
