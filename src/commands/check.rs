//! `template` (write a blank deal or a bundled example) and `check` (validate a deal).

use std::path::PathBuf;

use super::{Observer, invalid, tell_warnings};
use crate::error::{Error, Usage, WriteFailure};
use crate::examples;
use crate::excel::read::{self, DefaultUse};
use crate::excel::template::save_template;
use crate::model::{Deal, InputWarning};

/// What `lodestone template` was asked for.
#[derive(Debug, Clone, Default)]
pub struct TemplateOptions {
    /// The workbook to write (.xlsx).
    pub output: PathBuf,
    /// A bundled example (`examples::EXAMPLES`) instead of the blank template.
    pub example: Option<String>,
    /// Replace the output if it exists.
    pub force: bool,
}

/// Writes the template; the deal written.
pub fn template(options: &TemplateOptions) -> Result<Deal, Error> {
    let output = &options.output;
    let is_xlsx = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        return Err(Usage::TemplateNotXlsx(output.clone()).into());
    }
    // A deal someone has edited must not vanish under a fresh template.
    if !options.force && std::fs::symlink_metadata(output).is_ok() {
        return Err(Usage::TemplateExists(output.clone()).into());
    }
    let (deal, notes) = match options.example.as_deref() {
        None => (examples::blank(), examples::blank_notes()),
        Some(name) => match (examples::example(name), examples::example_notes(name)) {
            (Some(deal), Some(notes)) => (deal, notes),
            _ => return Err(Usage::UnknownExample(name.to_string()).into()),
        },
    };
    save_template(output, &deal, &notes).map_err(WriteFailure::Template)?;
    Ok(deal)
}

/// What `lodestone check` was asked for.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The deal workbook.
    pub file: PathBuf,
    /// Tell the observer every default applied.
    pub defaults: bool,
}

/// A valid deal, as `check` found it.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub deal: Deal,
    pub warnings: Vec<InputWarning>,
    pub defaults: Vec<DefaultUse>,
}

/// Validates a deal as `run` would (the engine's preflight included): the deal, or every
/// problem with it as the error. Warnings (and, if asked, the defaults) go to the observer
/// first, valid or not.
pub fn check(options: &CheckOptions, observer: &dyn Observer) -> Result<CheckReport, Error> {
    let reading = read::check(&options.file);
    tell_warnings(&reading, observer);
    if options.defaults {
        for d in &reading.defaults {
            observer.default_applied(&format!("{}: default: {d}", options.file.display()));
        }
    }
    let deal = reading.deal.map_err(invalid)?;
    Ok(CheckReport {
        deal,
        warnings: reading.warnings,
        defaults: reading.defaults,
    })
}
