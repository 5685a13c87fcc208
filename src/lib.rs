//! Lodestone: the money in critical-mineral projects, in exact decimals.
//!
//! The crate is split the way the data flows (see `../shared/DESIGN.md` §2):
//! `finance` holds Excel's financial functions computed in `Decimal`; `model` the deal as
//! plain types; `engine` the pure cash-flow engine; `excel` the only code that reads or
//! writes workbooks; `examples` the bundled deals (pure constructors); `output` writes a
//! command's files as one transaction; `json` and `report` format the results for pipelines
//! and the screen; `commands` runs each command (`run`, `check`, the analytics, `template`)
//! as a function that returns what it did or the one `Error` that stopped it. Arguments and
//! printing belong to the binary (`src/main.rs`).

pub mod analytics;
pub mod commands;
pub mod engine;
pub mod error;
pub mod examples;
pub mod excel;
pub mod finance;
pub mod json;
pub mod model;
pub mod output;
pub mod report;

pub use error::{Error, exit, exit_code_after_run};
