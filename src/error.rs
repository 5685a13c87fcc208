//! The library's one error: why a command (`crate::commands`) did not complete, each variant
//! holding the error of the module that failed as its `source()`, and the exit codes the
//! `lodestone` binary maps them to (README "Exit codes").
//!
//! `Display` gives the message the binary prints on stderr (after `lodestone: `, except the
//! lists of input problems, whose every line already names its file). Owns the mapping from
//! an error to its exit code; must not print.

use std::fmt;
use std::path::PathBuf;

use crate::analytics::AnalyticsError;
use crate::engine::EngineError;
use crate::engine::results::CheckFailure;
use crate::excel::read::ReadErrors;
use crate::excel::template::TemplateError;
use crate::excel::write::WriteError;
use crate::output::OutputError;

/// The exit codes, the same for every command (README "Exit codes").
pub mod exit {
    /// The template, the results or the analysis were written, or the deal is valid.
    pub const SUCCESS: u8 = 0;
    /// Bad input (every problem listed), a calculation that overflowed, or an output that
    /// cannot be written.
    pub const BAD_INPUT: u8 = 1;
    /// A usage error: unknown command, option, example or scenario; an output that would
    /// overwrite the input or an existing file.
    pub const USAGE: u8 = 2;
    /// The model ran but a check of the scenario run or analysed failed: the outputs are
    /// written, the failure printed first and shown at the top of the Summary.
    pub const CHECKS_FAILED: u8 = 3;
}

/// The exit code of a command whose model ran and whose outputs were written: 3 when a
/// check of a scenario run or analysed failed, 0 when every check holds.
pub fn exit_code_after_run(failures: &[CheckFailure]) -> u8 {
    if failures.is_empty() {
        exit::SUCCESS
    } else {
        exit::CHECKS_FAILED
    }
}

/// Why a command did not complete. A failed check is not an error: the command completes,
/// writes its outputs and reports the failures (exit 3).
#[derive(Debug)]
pub enum Error {
    /// The caller asked for something that cannot be done as asked (exit 2).
    Usage(Usage),
    /// The deal file cannot be read as a workbook: missing, unreadable, empty, not a
    /// spreadsheet. Its `source()` chain reaches the `io::Error` when there is one.
    Read(ReadErrors),
    /// The workbook was read and is not a valid deal: every problem, each at its cell.
    Validate(ReadErrors),
    /// The engine could not compute a scenario of the deal in `file`.
    Engine { file: PathBuf, source: EngineError },
    /// An analysis of the deal in `file` could not be done; a setting out of range is a
    /// usage error.
    Analytics {
        file: PathBuf,
        source: AnalyticsError,
    },
    /// An output could not be built or written.
    Write(WriteFailure),
    /// The worker threads of a Monte Carlo run could not be started.
    Threads(rayon::ThreadPoolBuildError),
}

impl Error {
    /// The exit code the binary ends with: 2 for a usage error (an analysis setting out of
    /// range included), 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::Analytics {
                source: AnalyticsError::Setting(_),
                ..
            } => exit::USAGE,
            _ => exit::BAD_INPUT,
        }
    }

    /// The input problems, when the error is a list of them (printed as they are, one per
    /// line, each naming its file).
    pub fn input_problems(&self) -> Option<&ReadErrors> {
        match self {
            Error::Read(e) | Error::Validate(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Read(e) | Error::Validate(e) => e.fmt(f),
            Error::Engine { file, source } => write!(f, "{}: {source}", file.display()),
            Error::Analytics { file, source } => write!(f, "{}: {source}", file.display()),
            Error::Write(e) => e.fmt(f),
            Error::Threads(e) => write!(f, "cannot start the worker threads ({e})"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(e) => Some(e),
            Error::Read(e) | Error::Validate(e) => Some(e),
            Error::Engine { source, .. } => Some(source),
            Error::Analytics { source, .. } => Some(source),
            Error::Write(e) => Some(e),
            Error::Threads(e) => Some(e),
        }
    }
}

impl From<Usage> for Error {
    fn from(e: Usage) -> Self {
        Error::Usage(e)
    }
}

impl From<WriteFailure> for Error {
    fn from(e: WriteFailure) -> Self {
        Error::Write(e)
    }
}

impl From<OutputError> for Error {
    fn from(e: OutputError) -> Self {
        Error::Write(WriteFailure::Output(e))
    }
}

/// A request that cannot be done as asked (exit 2): nothing was read or written.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    /// `template -o` names a file that is not `.xlsx`.
    TemplateNotXlsx(PathBuf),
    /// `template -o` names a file that exists, without `--force`.
    TemplateExists(PathBuf),
    /// `template --example` names no bundled example.
    UnknownExample(String),
    /// An output would replace the input deal.
    OverInput(PathBuf),
    /// Two outputs of one command are the same file.
    SameOutputs,
    /// `--scenario` names no scenario of the deal in `file`.
    Scenario {
        file: PathBuf,
        source: UnknownScenario,
    },
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Usage::TemplateNotXlsx(path) => write!(
                f,
                "{}: the template is an Excel workbook; name it FILE.xlsx",
                path.display()
            ),
            Usage::TemplateExists(path) => write!(
                f,
                "{}: already exists; choose another file name, or pass --force to overwrite it",
                path.display()
            ),
            Usage::UnknownExample(name) => write!(
                f,
                "unknown example '{name}' (expected one of: {})",
                crate::examples::EXAMPLES.join(", ")
            ),
            Usage::OverInput(path) => write!(
                f,
                "{}: refusing to write results over the input deal; choose another output file",
                path.display()
            ),
            Usage::SameOutputs => f.write_str("the workbook and the JSON must be different files"),
            Usage::Scenario { file, source } => write!(f, "{}: {source}", file.display()),
        }
    }
}

impl std::error::Error for Usage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Usage::Scenario { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `--scenario NAME` names neither the base case nor a scenario of the deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario {
    /// The name as given.
    pub name: String,
    /// The names the deal has, the base case first.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no scenario named '{}' (the deal has: {})",
            self.name,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

/// An output that could not be built or written.
#[derive(Debug)]
pub enum WriteFailure {
    /// The workbook for `path` could not be built; nothing was written.
    Workbook { path: PathBuf, source: WriteError },
    /// The template could not be built or written.
    Template(TemplateError),
    /// The outputs could not be written (see `crate::output` for what is left as it was).
    Output(OutputError),
}

impl fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteFailure::Workbook { path, source } => write!(f, "{}: {source}", path.display()),
            WriteFailure::Template(e) => e.fmt(f),
            WriteFailure::Output(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WriteFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteFailure::Workbook { source, .. } => Some(source),
            WriteFailure::Template(e) => Some(e),
            WriteFailure::Output(e) => Some(e),
        }
    }
}
