//! Excel's financial functions (NPV, XNPV, IRR, XIRR, MIRR) in exact decimals.
//! PLACEHOLDER: replaced by the finance branch on merge; naive implementations so the
//! engine can compile meanwhile.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;

#[derive(Debug, Clone, PartialEq)]
pub enum FinanceError {
    NoRoot,
    Invalid,
}

impl std::fmt::Display for FinanceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for FinanceError {}

pub fn npv(rate: Decimal, values: &[Decimal]) -> Result<Decimal, FinanceError> {
    if rate <= -Decimal::ONE {
        return Err(FinanceError::Invalid);
    }
    let x = Decimal::ONE
        .checked_div(Decimal::ONE + rate)
        .ok_or(FinanceError::Invalid)?;
    let mut acc = Decimal::ZERO;
    for v in values.iter().rev() {
        acc = (acc + v).checked_mul(x).ok_or(FinanceError::Invalid)?;
    }
    Ok(acc)
}

pub fn xnpv(
    _rate: Decimal,
    _values: &[Decimal],
    _dates: &[NaiveDate],
) -> Result<Decimal, FinanceError> {
    Err(FinanceError::Invalid)
}

pub fn irr(values: &[Decimal], guess: Option<Decimal>) -> Result<Decimal, FinanceError> {
    let roots = irr_roots(values)?;
    let g = guess.unwrap_or(Decimal::new(1, 1));
    roots
        .into_iter()
        .min_by_key(|r| (r - g).abs())
        .ok_or(FinanceError::NoRoot)
}

pub fn irr_roots(values: &[Decimal]) -> Result<Vec<Decimal>, FinanceError> {
    let f = |r: Decimal| -> Option<Decimal> {
        let y = Decimal::ONE + r;
        let mut acc = Decimal::ZERO;
        for v in values {
            acc = acc.checked_mul(y)?.checked_add(*v)?;
        }
        Some(acc)
    };
    let mut roots = Vec::new();
    let mut prev = Decimal::new(-999, 3);
    let mut fp = f(prev).ok_or(FinanceError::Invalid)?;
    let mut r = prev;
    while r < Decimal::from(10) {
        r += Decimal::new(5, 3);
        let Some(fr) = f(r) else { break };
        if (fr.is_sign_negative() != fp.is_sign_negative()) && !fp.is_zero() {
            let (mut lo, mut hi, flo) = (prev, r, fp);
            for _ in 0..100 {
                let mid = (lo + hi) / Decimal::TWO;
                let fm = f(mid).ok_or(FinanceError::Invalid)?;
                if fm.is_sign_negative() == flo.is_sign_negative() {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            roots.push((lo + hi) / Decimal::TWO);
        }
        prev = r;
        fp = fr;
    }
    if roots.is_empty() {
        return Err(FinanceError::NoRoot);
    }
    Ok(roots)
}

pub fn xirr(
    _values: &[Decimal],
    _dates: &[NaiveDate],
    _guess: Option<Decimal>,
) -> Result<Decimal, FinanceError> {
    Err(FinanceError::Invalid)
}

pub fn xirr_roots(_values: &[Decimal], _dates: &[NaiveDate]) -> Result<Vec<Decimal>, FinanceError> {
    Err(FinanceError::Invalid)
}

pub fn mirr(
    values: &[Decimal],
    finance_rate: Decimal,
    reinvest_rate: Decimal,
) -> Result<Decimal, FinanceError> {
    let n = values.len() as i64;
    let pos: Vec<Decimal> = values.iter().map(|v| (*v).max(Decimal::ZERO)).collect();
    let neg: Vec<Decimal> = values.iter().map(|v| (*v).min(Decimal::ZERO)).collect();
    let fv = npv(reinvest_rate, &pos)? * (Decimal::ONE + reinvest_rate).powi(n);
    let pv = npv(finance_rate, &neg)? * (Decimal::ONE + finance_rate);
    if pv.is_zero() || fv.is_zero() {
        return Err(FinanceError::Invalid);
    }
    let ratio = -fv / pv;
    Ok(ratio.powd(Decimal::ONE / Decimal::from(n - 1)) - Decimal::ONE)
}
