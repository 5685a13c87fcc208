//! Why a financial function has no answer, in words a financier reads without a manual.
//!
//! Each variant carries the values that caused it; each message is one full sentence, pinned by a
//! test in `tests/finance_errors.rs`. Where Excel has an error code for the same situation the
//! message names it, so a reviewer comparing with a spreadsheet recognises the case.

use std::fmt;

use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinanceError {
    /// A list of cash flows with nothing in it.
    NoCashFlows { function: &'static str },
    /// XNPV/XIRR need exactly one date per cash flow.
    LengthMismatch {
        function: &'static str,
        values: usize,
        dates: usize,
    },
    /// Discounting at −100% or below divides by zero or by a negative number.
    RateNotAboveMinusOne {
        function: &'static str,
        rate: Decimal,
    },
    /// MIRR's finance or reinvestment rate at −100% or below.
    MirrRateNotAboveMinusOne { which: &'static str, rate: Decimal },
    /// Every cash flow is zero, so the NPV is zero at every rate.
    AllZero {
        function: &'static str,
        count: usize,
    },
    /// The flows on each date cancel, so the NPV is zero at every rate.
    NetZero {
        function: &'static str,
        count: usize,
    },
    /// No sign change: the NPV can never reach zero (Excel's #NUM!). `count` non-zero flows (for
    /// XIRR, after netting flows on the same date) and `zeros` others.
    NoSignChange {
        function: &'static str,
        count: usize,
        zeros: usize,
        positive: bool,
    },
    /// Signs change, but the NPV is not zero for any rate in (−100%, 10⁶].
    NoRootInRange {
        function: &'static str,
        sign_changes: usize,
    },
    /// A root exists near `near`, but its digits could not be confirmed (the NPV only grazes
    /// zero there, within rounding).
    RootNotVerified {
        function: &'static str,
        near: Decimal,
    },
    /// MIRR needs money in and money out (Excel's #DIV/0!); `count` non-zero flows, all of
    /// one sign, and `zeros` zeros.
    MirrNeedsBothSigns {
        count: usize,
        zeros: usize,
        positive: bool,
    },
    /// The result is beyond what a `Decimal` can hold (±7.9e28).
    Overflow {
        function: &'static str,
        rate: Decimal,
    },
}

/// The rate as a percentage, e.g. "-150%" (or, for a rate too large to multiply by 100, the
/// rate in scientific notation).
fn percent(rate: &Decimal) -> String {
    match rate.checked_mul(Decimal::ONE_HUNDRED) {
        Some(p) => format!("{}%", p.normalize()),
        None => format!("{rate:e} as a fraction"),
    }
}

fn sign_word(positive: bool) -> &'static str {
    if positive { "positive" } else { "negative" }
}

/// "all 3 are positive", "both non-zero ones are negative", …
fn all_are(count: usize, zeros: usize, positive: bool) -> String {
    let sign = sign_word(positive);
    match (count, zeros) {
        (0, 1) => "the only one is zero".to_string(),
        (0, 2) => "both are zero".to_string(),
        (0, n) => format!("all {n} are zero"),
        (1, 0) => format!("the only one is {sign}"),
        (1, _) => format!("the only non-zero one is {sign}"),
        (2, 0) => format!("both are {sign}"),
        (2, _) => format!("both non-zero ones are {sign}"),
        (n, 0) => format!("all {n} are {sign}"),
        (n, _) => format!("all {n} non-zero ones are {sign}"),
    }
}

impl fmt::Display for FinanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinanceError::NoCashFlows { function } => {
                write!(
                    f,
                    "{function} needs at least one cash flow, but the list is empty"
                )
            }
            FinanceError::LengthMismatch {
                function,
                values,
                dates,
            } => write!(
                f,
                "{function} needs one date per cash flow, but got {values} cash flows and {dates} dates"
            ),
            FinanceError::RateNotAboveMinusOne { function, rate } => write!(
                f,
                "{function} cannot discount at a rate of {rate} ({}): the rate must be above -1 (-100%)",
                percent(rate)
            ),
            FinanceError::MirrRateNotAboveMinusOne { which, rate } => write!(
                f,
                "MIRR cannot use a {which} rate of {rate} ({}): the rate must be above -1 (-100%)",
                percent(rate)
            ),
            FinanceError::AllZero { function, count } => write!(
                f,
                "{function} has no solution: all {count} cash flows are zero, so the NPV is zero at every rate (Excel: #NUM!)"
            ),
            FinanceError::NetZero { function, count } => write!(
                f,
                "{function} has no solution: the {count} cash flows cancel out on each date, so the NPV is zero at every rate (Excel: #NUM!)"
            ),
            FinanceError::NoSignChange {
                function,
                count,
                zeros,
                positive,
            } => write!(
                f,
                "{function} has no solution: the cash flows never change sign ({}) (Excel: #NUM!)",
                all_are(*count, *zeros, *positive)
            ),
            FinanceError::NoRootInRange {
                function,
                sign_changes,
            } => write!(
                f,
                "{function} has no solution: the cash flows change sign {} but the NPV is not zero at any rate above -100% and up to 1,000,000% (Excel: #NUM!)",
                match sign_changes {
                    1 => "once".to_string(),
                    2 => "twice".to_string(),
                    n => format!("{n} times"),
                }
            ),
            FinanceError::RootNotVerified { function, near } => write!(
                f,
                "{function} found a rate near {near} but could not confirm it to 12 significant digits: the NPV stays within rounding error of zero around it"
            ),
            FinanceError::MirrNeedsBothSigns {
                count,
                zeros,
                positive,
            } => write!(
                f,
                "MIRR needs at least one negative and one positive cash flow, but {} (Excel: #DIV/0!)",
                all_are(*count, *zeros, *positive)
            ),
            FinanceError::Overflow { function, rate } => write!(
                f,
                "{function} at a rate of {rate} is too large for a decimal number (beyond ±7.9e28)"
            ),
        }
    }
}

impl std::error::Error for FinanceError {}
