//! Lodestone: the money in critical-mineral projects, in exact decimals.
//!
//! The crate is split the way the data flows (see `../shared/DESIGN.md` §2):
//! `finance` holds Excel's financial functions computed in `Decimal`; `model` the deal as
//! plain types; `engine` the pure cash-flow engine; `excel` the only code that reads or
//! writes workbooks; `examples` the bundled deals (pure constructors); `cli` turns
//! arguments into a validated run configuration; `output` writes a command's files as one
//! transaction; `json` and `report` format the results for pipelines and the screen.

pub mod analytics;
pub mod cli;
pub mod engine;
pub mod examples;
pub mod excel;
pub mod finance;
pub mod json;
pub mod model;
pub mod output;
pub mod report;
