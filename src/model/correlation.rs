//! Correlation matrices: whether one is valid (symmetric, unit diagonal, positive
//! semi-definite) and its Cholesky factor, in exact decimals. Validation uses it to name the
//! row where a matrix stops being possible; Monte Carlo uses the factor to correlate shocks.
//!
//! Owns the factorisation only. Must not read cells or draw random numbers.

use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;

/// A pivot this close to zero is zero: the matrix is singular there (two products moving as
/// one, say), which is allowed, rather than slightly negative through rounding.
pub const PIVOT_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 9);

/// Below a zero pivot, what a row still needs from that column must be this close to zero
/// (the square root of the pivot tolerance: an error in a pivot of ε is one of √ε here).
const RESIDUAL_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 4);

/// Why a matrix is not a correlation matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationError {
    /// Not square, or an entry on the diagonal is not 1, or (i, j) ≠ (j, i).
    Shape(String),
    /// Row `row`'s correlations with the rows above cannot hold together with theirs: the
    /// matrix is not positive semi-definite (the factorisation fails at that row).
    NotPositiveSemiDefinite { row: usize },
    /// An entry too large for exact arithmetic.
    Overflow,
}

impl std::fmt::Display for CorrelationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorrelationError::Shape(s) => f.write_str(s),
            CorrelationError::NotPositiveSemiDefinite { row } => write!(
                f,
                "row {} makes the matrix not positive semi-definite",
                row + 1
            ),
            CorrelationError::Overflow => f.write_str("an entry too large for exact arithmetic"),
        }
    }
}

/// The lower-triangular L with L·Lᵀ = the matrix, for a positive semi-definite matrix: where
/// a pivot is zero (within `PIVOT_TOLERANCE`) its column is zero, and the rows below must
/// then be explained by the columns before it.
pub fn cholesky(m: &[Vec<Decimal>]) -> Result<Vec<Vec<Decimal>>, CorrelationError> {
    let n = m.len();
    for (i, row) in m.iter().enumerate() {
        if row.len() != n {
            return Err(CorrelationError::Shape(format!(
                "row {} has {} entries (expected {n})",
                i + 1,
                row.len()
            )));
        }
        if row[i] != Decimal::ONE {
            return Err(CorrelationError::Shape(format!(
                "the diagonal entry of row {} is {} (expected 1)",
                i + 1,
                row[i].normalize()
            )));
        }
        for (j, v) in row.iter().enumerate() {
            if *v != m[j][i] {
                return Err(CorrelationError::Shape(format!(
                    "entries ({}, {}) and ({}, {}) differ (expected a symmetric matrix)",
                    i + 1,
                    j + 1,
                    j + 1,
                    i + 1
                )));
            }
        }
    }
    let over = || CorrelationError::Overflow;
    let mut l = vec![vec![Decimal::ZERO; n]; n];
    for j in 0..n {
        let mut pivot = m[j][j];
        for x in &l[j][..j] {
            pivot = pivot
                .checked_sub(x.checked_mul(*x).ok_or_else(over)?)
                .ok_or_else(over)?;
        }
        if pivot < -PIVOT_TOLERANCE {
            return Err(CorrelationError::NotPositiveSemiDefinite { row: j });
        }
        let zero_pivot = pivot <= PIVOT_TOLERANCE;
        let d = if zero_pivot {
            Decimal::ZERO
        } else {
            pivot.sqrt().ok_or_else(over)?
        };
        l[j][j] = d;
        for i in j + 1..n {
            let mut s = m[i][j];
            for (a, b) in l[i][..j].iter().zip(&l[j][..j]) {
                s = s
                    .checked_sub(a.checked_mul(*b).ok_or_else(over)?)
                    .ok_or_else(over)?;
            }
            if zero_pivot {
                // Column j carries nothing: row i must not need it.
                if s.abs() > RESIDUAL_TOLERANCE {
                    return Err(CorrelationError::NotPositiveSemiDefinite { row: i });
                }
                l[i][j] = Decimal::ZERO;
            } else {
                l[i][j] = s.checked_div(d).ok_or_else(over)?;
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn times_transpose(l: &[Vec<Decimal>]) -> Vec<Vec<Decimal>> {
        let n = l.len();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..n).map(|k| l[i][k] * l[j][k]).sum())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn valid_matrices_factor_back_to_themselves() {
        let cases: Vec<(&str, Vec<Vec<Decimal>>)> = vec![
            ("one product", vec![vec![dec!(1)]]),
            (
                "two, correlated",
                vec![vec![dec!(1), dec!(0.9)], vec![dec!(0.9), dec!(1)]],
            ),
            (
                "two moving as one (singular)",
                vec![vec![dec!(1), dec!(1)], vec![dec!(1), dec!(1)]],
            ),
            (
                "three, one a copy of the first",
                vec![
                    vec![dec!(1), dec!(0.5), dec!(1)],
                    vec![dec!(0.5), dec!(1), dec!(0.5)],
                    vec![dec!(1), dec!(0.5), dec!(1)],
                ],
            ),
            (
                "three, independent",
                vec![
                    vec![dec!(1), dec!(0), dec!(0)],
                    vec![dec!(0), dec!(1), dec!(0)],
                    vec![dec!(0), dec!(0), dec!(1)],
                ],
            ),
        ];
        for (case, m) in cases {
            let l = cholesky(&m).unwrap_or_else(|e| panic!("case {case}: {e}"));
            let back = times_transpose(&l);
            for i in 0..m.len() {
                for j in 0..m.len() {
                    assert!(
                        (back[i][j] - m[i][j]).abs() < dec!(0.000000000001),
                        "case {case}: ({i}, {j}) is {} not {}",
                        back[i][j],
                        m[i][j]
                    );
                }
            }
        }
    }

    #[test]
    fn impossible_matrices_name_the_row() {
        let cases: Vec<(&str, Vec<Vec<Decimal>>, &str)> = vec![
            (
                "A with B and C 0.9, B with C −0.9",
                vec![
                    vec![dec!(1), dec!(0.9), dec!(0.9)],
                    vec![dec!(0.9), dec!(1), dec!(-0.9)],
                    vec![dec!(0.9), dec!(-0.9), dec!(1)],
                ],
                "row 3 makes the matrix not positive semi-definite",
            ),
            (
                "a correlation above 1",
                vec![vec![dec!(1), dec!(1.5)], vec![dec!(1.5), dec!(1)]],
                "row 2 makes the matrix not positive semi-definite",
            ),
            (
                "A = B but C differs with them",
                vec![
                    vec![dec!(1), dec!(1), dec!(0.5)],
                    vec![dec!(1), dec!(1), dec!(0.2)],
                    vec![dec!(0.5), dec!(0.2), dec!(1)],
                ],
                "row 3 makes the matrix not positive semi-definite",
            ),
            (
                "not symmetric",
                vec![vec![dec!(1), dec!(0.5)], vec![dec!(0.4), dec!(1)]],
                "entries (1, 2) and (2, 1) differ (expected a symmetric matrix)",
            ),
            (
                "diagonal not 1",
                vec![vec![dec!(0.9)]],
                "the diagonal entry of row 1 is 0.9 (expected 1)",
            ),
        ];
        for (case, m, want) in cases {
            let got = cholesky(&m).map(|_| ()).map_err(|e| e.to_string());
            match got {
                Err(e) => assert!(e.starts_with(want), "case {case}: got {e:?}, want {want:?}"),
                Ok(()) => panic!("case {case}: accepted"),
            }
        }
    }
}
