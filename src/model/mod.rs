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
pub mod key;
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

/// The ledger precision when the Deal sheet gives none: books to the cent.
pub const DEFAULT_LEDGER_PRECISION: u32 = 2;
/// The most decimal places a ledger may keep (Decimal's 28 digits leave room for amounts up
/// to 10^17 at 10 places).
pub const MAX_LEDGER_PRECISION: u32 = 10;
/// How ledger amounts are rounded, in the engine and in the workbook's formulas alike:
/// Excel's ROUND, half away from zero.
pub const LEDGER_ROUNDING: rust_decimal::RoundingStrategy =
    rust_decimal::RoundingStrategy::MidpointAwayFromZero;
