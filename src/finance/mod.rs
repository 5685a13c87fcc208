//! Excel's financial functions (NPV, XNPV, IRR, XIRR, MIRR) in exact decimals.
//!
//! This module owns the five functions and everything they need: the working arithmetic
//! (`wide`), the cash-flow shape the rate solvers share (`cashflows`), the root finder (`roots`),
//! its floating-point first estimates (`estimate`) and the errors (`error`). It reads no file
//! and knows nothing about deals; the engine calls it with plain `Decimal` series.
//!
//! # Conventions (Excel's)
//!
//! - `npv(r, v)` = Σᵢ vᵢ/(1+r)^i for i = 1..n: the *first* value is discounted one period.
//! - `xnpv(r, v, d)` = Σ vᵢ/(1+r)^((dᵢ−d₁)/365), d₁ the first date *listed*; dates need not be
//!   sorted, and a date before d₁ gets a negative exponent.
//! - `irr`/`xirr`: a rate r > −1 at which that NPV, with the first flow at time 0, is zero. With
//!   several such rates, the one closest to the guess (default 0.1); `irr_roots`/`xirr_roots`
//!   list them all, ascending.
//! - `mirr(v, f, re)` = (FV of the positive flows at `re` / −PV of the negative flows at `f`)^(1/(n−1)) − 1.
//!
//! # Precision
//!
//! Inputs are `Decimal`; the work is done in a 38-digit binary float made of integer arithmetic
//! (see `wide.rs` for why not `Decimal` itself) and each result is rounded once to the nearest
//! `Decimal`. Before that rounding, `npv`/`xnpv` are within about (n + days)·2⁻¹²⁰ of the true
//! value relative to Σ|vᵢ|/(1+r)^tᵢ, far below the last `Decimal` digit. The contract is 1e-20
//! relative to Σ|vᵢ| (at negative rates the discounted terms themselves exceed Σ|vᵢ|, and the
//! bound scales with them). Rates are verified to bracket a sign change of the NPV within about
//! 1e-21 relative; see `roots.rs` for the method and what "every root" guarantees. Against the
//! published 60-digit references (`tests/finance_vectors.rs`) the largest error is 2e-28 of Σ|v|
//! for NPV/XNPV and 4e-28 relative for rates: the last `Decimal` digit.
//!
//! Rates are reported in [−1 + 1e-28, 10⁶]: no `Decimal` lies closer to −100% than 1e-28.
//! Nothing here panics on any input: overflow and impossible rates come back as
//! [`FinanceError`]s.

mod cashflows;
mod error;
mod estimate;
mod roots;
mod wide;

use chrono::NaiveDate;
use rust_decimal::Decimal;

pub use error::FinanceError;

use cashflows::{Flows, Gaps, Shape, Want, common_scale, evaluate};
use roots::RootError;
use wide::Wide;

/// 1/365, XNPV's year per day.
const ONE_365TH: Wide = Wide::ratio(1, 365);

/// Excel's default IRR/XIRR guess, 10%.
const DEFAULT_GUESS: Decimal = Decimal::from_parts(1, 0, 0, false, 1);

/// Net present value, Excel's `NPV`: the first value is discounted one full period.
pub fn npv(rate: Decimal, values: &[Decimal]) -> Result<Decimal, FinanceError> {
    const FUNCTION: &str = "NPV";
    if values.is_empty() {
        return Err(FinanceError::NoCashFlows { function: FUNCTION });
    }
    let z = discount_factor(FUNCTION, rate)?;
    // Horner: z·(v₁ + z·(v₂ + … + z·vₙ)), on the values times 10^scale (integers).
    let scale = common_scale(values);
    let mut acc = Wide::ZERO;
    for v in values.iter().rev() {
        acc = z.mul_add(acc, Wide::from_decimal_scaled(*v, scale));
    }
    to_result(FUNCTION, rate, acc.mul(z).mul(Wide::pow10_neg(scale)))
}

/// Net present value of dated cash flows, Excel's `XNPV` (actual days / 365 from the first
/// date listed).
pub fn xnpv(
    rate: Decimal,
    values: &[Decimal],
    dates: &[NaiveDate],
) -> Result<Decimal, FinanceError> {
    const FUNCTION: &str = "XNPV";
    check_dates(FUNCTION, values, dates)?;
    if rate <= Decimal::NEGATIVE_ONE {
        return Err(FinanceError::RateNotAboveMinusOne {
            function: FUNCTION,
            rate,
        });
    }
    let first = dates[0];
    let scale = common_scale(values);
    let mut flows: Vec<(i64, Wide)> = dates
        .iter()
        .zip(values)
        .map(|(d, v)| {
            (
                d.signed_duration_since(first).num_days(),
                Wide::from_decimal_scaled(*v, scale),
            )
        })
        .collect();
    flows.sort_by_key(|&(day, _)| day);
    let (k, c): (Vec<i64>, Vec<Wide>) = flows.into_iter().unzip();
    // The per-day discount factor (1+r)^(−1/365), computed once; the sum then needs only
    // integer powers of it.
    let z = Wide::ONE
        .add(Wide::from_decimal(rate))
        .ln()
        .and_then(|l| l.mul(ONE_365TH).neg().exp())
        .ok_or(FinanceError::Overflow {
            function: FUNCTION,
            rate,
        })?;
    // Σ vᵢ z^(kᵢ−k_min), then shift to the first listed date (k = 0) by z^k_min.
    let sum = evaluate(&k, &c, &Gaps::new(&k), z, Want::VALUE)
        .value
        .mul(Wide::pow10_neg(scale));
    let earliest = k.first().copied().unwrap_or(0);
    let total = if earliest < 0 {
        let back = z.recip().ok_or(FinanceError::Overflow {
            function: FUNCTION,
            rate,
        })?;
        sum.mul(back.powi(earliest.unsigned_abs()))
    } else {
        sum
    };
    to_result(FUNCTION, rate, total)
}

/// Internal rate of return of periodic cash flows, Excel's `IRR`: the rate closest to `guess`
/// (default 10%) at which the NPV, first flow at time 0, is zero.
pub fn irr(values: &[Decimal], guess: Option<Decimal>) -> Result<Decimal, FinanceError> {
    const FUNCTION: &str = "IRR";
    let (flows, shape) = Flows::periodic(values);
    let sign_changes = require_sign_change(FUNCTION, shape, values.len())?;
    roots::closest_root(&flows, guess.unwrap_or(DEFAULT_GUESS))
        .map_err(|e| root_error(FUNCTION, e, sign_changes))
}

/// Every IRR in (−100%, 10⁶], ascending. An empty list when the flows never change sign or
/// the NPV never reaches zero; an error only when the question has no meaning (no flows, or
/// all zero so that every rate is a root).
pub fn irr_roots(values: &[Decimal]) -> Result<Vec<Decimal>, FinanceError> {
    const FUNCTION: &str = "IRR";
    let (flows, shape) = Flows::periodic(values);
    list_roots(FUNCTION, &flows, shape, values.len())
}

/// Internal rate of return of dated cash flows, Excel's `XIRR` (actual days / 365): the rate
/// closest to `guess` (default 10%). Flows on the same date are netted first.
pub fn xirr(
    values: &[Decimal],
    dates: &[NaiveDate],
    guess: Option<Decimal>,
) -> Result<Decimal, FinanceError> {
    const FUNCTION: &str = "XIRR";
    check_dates(FUNCTION, values, dates)?;
    let (flows, shape) = Flows::dated(values, dates);
    let sign_changes = require_sign_change(FUNCTION, shape, values.len())?;
    roots::closest_root(&flows, guess.unwrap_or(DEFAULT_GUESS))
        .map_err(|e| root_error(FUNCTION, e, sign_changes))
}

/// Every XIRR in (−100%, 10⁶], ascending; empty and error cases as for [`irr_roots`].
pub fn xirr_roots(values: &[Decimal], dates: &[NaiveDate]) -> Result<Vec<Decimal>, FinanceError> {
    const FUNCTION: &str = "XIRR";
    check_dates(FUNCTION, values, dates)?;
    let (flows, shape) = Flows::dated(values, dates);
    list_roots(FUNCTION, &flows, shape, values.len())
}

/// Modified internal rate of return, Excel's `MIRR`:
/// ((−NPV(reinvest, positives)·(1+reinvest)ⁿ) / (NPV(finance, negatives)·(1+finance)))^(1/(n−1)) − 1,
/// n counting every value, zeros included.
pub fn mirr(
    values: &[Decimal],
    finance_rate: Decimal,
    reinvest_rate: Decimal,
) -> Result<Decimal, FinanceError> {
    const FUNCTION: &str = "MIRR";
    if values.is_empty() {
        return Err(FinanceError::NoCashFlows { function: FUNCTION });
    }
    for (which, rate) in [("finance", finance_rate), ("reinvestment", reinvest_rate)] {
        if rate <= Decimal::NEGATIVE_ONE {
            return Err(FinanceError::MirrRateNotAboveMinusOne { which, rate });
        }
    }
    let positives = values
        .iter()
        .filter(|v| v.is_sign_positive() && !v.is_zero())
        .count();
    let negatives = values
        .iter()
        .filter(|v| v.is_sign_negative() && !v.is_zero())
        .count();
    if positives == 0 || negatives == 0 {
        return Err(FinanceError::MirrNeedsBothSigns {
            count: positives + negatives,
            zeros: values.len() - positives - negatives,
            positive: positives > 0,
        });
    }
    let grow = Wide::ONE.add(Wide::from_decimal(reinvest_rate));
    let shrink = Wide::ONE
        .add(Wide::from_decimal(finance_rate))
        .recip()
        .ok_or(FinanceError::MirrRateNotAboveMinusOne {
            which: "finance",
            rate: finance_rate,
        })?;
    // Future value of the inflows at the end of the last period, present value of the outflows
    // at the start of the first (both by Horner's rule).
    let mut future = Wide::ZERO;
    for v in values {
        let inflow = if v.is_sign_positive() {
            *v
        } else {
            Decimal::ZERO
        };
        future = future.mul(grow).add(Wide::from_decimal(inflow));
    }
    let mut present = Wide::ZERO;
    for v in values.iter().rev() {
        let outflow = if v.is_sign_negative() {
            *v
        } else {
            Decimal::ZERO
        };
        present = present.mul(shrink).add(Wide::from_decimal(outflow));
    }
    let overflow = FinanceError::Overflow {
        function: FUNCTION,
        rate: reinvest_rate,
    };
    let periods = Wide::from_i64(values.len() as i64 - 1);
    let growth = future
        .div(present.neg())
        .and_then(Wide::ln)
        .and_then(|l| l.div(periods))
        .and_then(Wide::exp)
        .ok_or(overflow.clone())?;
    growth
        .sub(Wide::ONE)
        .to_decimal()
        .map(|d| d.normalize())
        .ok_or(overflow)
}

/// 1/(1+rate), after checking the rate is above −100%.
fn discount_factor(function: &'static str, rate: Decimal) -> Result<Wide, FinanceError> {
    if rate <= Decimal::NEGATIVE_ONE {
        return Err(FinanceError::RateNotAboveMinusOne { function, rate });
    }
    Wide::ONE
        .add(Wide::from_decimal(rate))
        .recip()
        .ok_or(FinanceError::RateNotAboveMinusOne { function, rate })
}

fn to_result(function: &'static str, rate: Decimal, value: Wide) -> Result<Decimal, FinanceError> {
    value
        .to_decimal()
        .map(|d| d.normalize())
        .ok_or(FinanceError::Overflow { function, rate })
}

fn check_dates(
    function: &'static str,
    values: &[Decimal],
    dates: &[NaiveDate],
) -> Result<(), FinanceError> {
    if values.len() != dates.len() {
        return Err(FinanceError::LengthMismatch {
            function,
            values: values.len(),
            dates: dates.len(),
        });
    }
    if values.is_empty() {
        return Err(FinanceError::NoCashFlows { function });
    }
    Ok(())
}

/// The number of sign changes, or the reason there can be no root at all.
fn require_sign_change(
    function: &'static str,
    shape: Shape,
    total: usize,
) -> Result<usize, FinanceError> {
    match shape {
        Shape::Empty => Err(FinanceError::NoCashFlows { function }),
        Shape::AllZero { count } => Err(FinanceError::AllZero { function, count }),
        Shape::NetZero { count } => Err(FinanceError::NetZero { function, count }),
        Shape::OneSign { count, positive } => Err(FinanceError::NoSignChange {
            function,
            count,
            zeros: total - count,
            positive,
        }),
        Shape::Mixed { sign_changes } => Ok(sign_changes),
    }
}

fn list_roots(
    function: &'static str,
    flows: &Flows,
    shape: Shape,
    total: usize,
) -> Result<Vec<Decimal>, FinanceError> {
    match require_sign_change(function, shape, total) {
        Ok(sign_changes) => {
            roots::all_roots(flows).map_err(|e| root_error(function, e, sign_changes))
        }
        Err(FinanceError::NoSignChange { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn root_error(function: &'static str, error: RootError, sign_changes: usize) -> FinanceError {
    match error {
        RootError::NoRoot => FinanceError::NoRootInRange {
            function,
            sign_changes,
        },
        RootError::Unverified(near) => FinanceError::RootNotVerified { function, near },
    }
}
