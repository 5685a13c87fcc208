//! The deal as plain types: what a deal workbook says, validated and exact.
//!
//! Owns the vocabulary of the whole product (facilities, phases, tranches, parties…), the
//! error type every input check reports (`InputError`) and the semantic checks (`validate`).
//! Must not touch files, the clock, the environment, calamine or rust_xlsxwriter: readers
//! build these types, the engine consumes them. Every amount, rate and factor is a
//! `Decimal`; every value read from a workbook remembers its cell (`Sourced`).

pub mod correlation;
mod deal;
mod error;
pub mod plausible;
pub mod sample;
pub mod source;

pub mod validate;

pub use deal::*;
pub use error::{InputError, InputWarning};
pub use source::{CellRef, Sourced, column_letters};
pub use validate::validate;

/// An amount of money in the deal currency.
pub type Money = rust_decimal::Decimal;
/// A rate or share as a fraction (5% is 0.05).
pub type Rate = rust_decimal::Decimal;
/// A calendar year as the deal's period labels use it (the year a period starts in).
pub type Year = i32;
