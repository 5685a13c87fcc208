//! The error catalogue: one input per way a financial function can refuse, with the exact
//! sentence a financier reads. A changed message must change here too, on purpose.

mod finance_support;

use std::error::Error;

use chrono::NaiveDate;
use finance_support::{date, decs};
use lodestone::finance::{FinanceError, irr, irr_roots, mirr, npv, xirr, xirr_roots, xnpv};
use rust_decimal::Decimal;

fn rate(text: &str) -> Decimal {
    finance_support::dec(text)
}

fn dates(texts: &[&str]) -> Vec<NaiveDate> {
    texts.iter().map(|t| date(t)).collect()
}

fn message<T: std::fmt::Debug>(result: Result<T, FinanceError>) -> String {
    match result {
        Ok(value) => format!("no error: Ok({value:?})"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_error_reads_as_a_sentence() {
    let d2 = dates(&["2024-01-01", "2025-01-01"]);
    let d3 = dates(&["2024-01-01", "2025-01-01", "2026-01-01"]);
    let same_day = dates(&["2024-01-01", "2024-01-01"]);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "npv at -100%",
            message(npv(rate("-1"), &decs(&["100"]))),
            "NPV cannot discount at a rate of -1 (-100%): the rate must be above -1 (-100%)",
        ),
        (
            "npv below -100%",
            message(npv(rate("-1.5"), &decs(&["100"]))),
            "NPV cannot discount at a rate of -1.5 (-150%): the rate must be above -1 (-100%)",
        ),
        (
            "npv at a rate too negative to print as a percentage",
            message(npv(-Decimal::MAX, &decs(&["100"]))),
            "NPV cannot discount at a rate of -79228162514264337593543950335 (-7.9228162514264337593543950335e28 as a fraction): the rate must be above -1 (-100%)",
        ),
        (
            "npv of nothing",
            message(npv(rate("0.1"), &[])),
            "NPV needs at least one cash flow, but the list is empty",
        ),
        (
            "npv too large",
            message(npv(
                rate("-0.99"),
                &decs(&[
                    "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1",
                ]),
            )),
            "NPV at a rate of -0.99 is too large for a decimal number (beyond ±7.9e28)",
        ),
        (
            "xnpv dates missing",
            message(xnpv(rate("0.1"), &decs(&["-100", "50", "60"]), &d2)),
            "XNPV needs one date per cash flow, but got 3 cash flows and 2 dates",
        ),
        (
            "xnpv at -100%",
            message(xnpv(rate("-1"), &decs(&["-100", "110"]), &d2)),
            "XNPV cannot discount at a rate of -1 (-100%): the rate must be above -1 (-100%)",
        ),
        (
            "xnpv of nothing",
            message(xnpv(rate("0.1"), &[], &[])),
            "XNPV needs at least one cash flow, but the list is empty",
        ),
        (
            "irr all positive",
            message(irr(&decs(&["1", "2", "3"]), None)),
            "IRR has no solution: the cash flows never change sign (all 3 are positive) (Excel: #NUM!)",
        ),
        (
            "irr all negative but zeros",
            message(irr(&decs(&["0", "-1", "0", "-2"]), None)),
            "IRR has no solution: the cash flows never change sign (both non-zero ones are negative) (Excel: #NUM!)",
        ),
        (
            "irr single flow",
            message(irr(&decs(&["-5"]), None)),
            "IRR has no solution: the cash flows never change sign (the only one is negative) (Excel: #NUM!)",
        ),
        (
            "irr all zero",
            message(irr(&decs(&["0", "-0", "0"]), None)),
            "IRR has no solution: all 3 cash flows are zero, so the NPV is zero at every rate (Excel: #NUM!)",
        ),
        (
            "irr of nothing",
            message(irr(&[], None)),
            "IRR needs at least one cash flow, but the list is empty",
        ),
        (
            "irr_roots all zero",
            message(irr_roots(&decs(&["0", "0"]))),
            "IRR has no solution: all 2 cash flows are zero, so the NPV is zero at every rate (Excel: #NUM!)",
        ),
        (
            "irr no root in range",
            // −10 + x − 10x² < 0 for every x = 1/(1+r): two sign changes, no root.
            message(irr(&decs(&["-10", "1", "-10"]), None)),
            "IRR has no solution: the cash flows change sign twice but the NPV is not zero at any rate above -100% and up to 1,000,000% (Excel: #NUM!)",
        ),
        (
            "xirr root beyond 1e6",
            message(xirr(
                &decs(&["-100", "150", "-100", "200"]),
                &dates(&["2016-01-01", "2016-01-02", "2016-01-06", "2016-01-09"]),
                None,
            )),
            "XIRR has no solution: the cash flows change sign 3 times but the NPV is not zero at any rate above -100% and up to 1,000,000% (Excel: #NUM!)",
        ),
        (
            "xirr same-day flows cancel",
            message(xirr(&decs(&["-5", "5"]), &same_day, None)),
            "XIRR has no solution: the 2 cash flows cancel out on each date, so the NPV is zero at every rate (Excel: #NUM!)",
        ),
        (
            "xirr one sign",
            message(xirr(&decs(&["1000", "100"]), &d2, None)),
            "XIRR has no solution: the cash flows never change sign (both are positive) (Excel: #NUM!)",
        ),
        (
            "xirr dates missing",
            message(xirr(&decs(&["-1", "2"]), &d3, None)),
            "XIRR needs one date per cash flow, but got 2 cash flows and 3 dates",
        ),
        (
            "xirr_roots of nothing",
            message(xirr_roots(&[], &[])),
            "XIRR needs at least one cash flow, but the list is empty",
        ),
        (
            "mirr no negative",
            message(mirr(
                &decs(&["39000", "30000", "21000", "37000", "46000"]),
                rate("0.1"),
                rate("0.12"),
            )),
            "MIRR needs at least one negative and one positive cash flow, but all 5 are positive (Excel: #DIV/0!)",
        ),
        (
            "mirr no positive",
            message(mirr(&decs(&["-1", "0"]), rate("0.1"), rate("0.12"))),
            "MIRR needs at least one negative and one positive cash flow, but the only non-zero one is negative (Excel: #DIV/0!)",
        ),
        (
            "mirr all zero",
            message(mirr(&decs(&["0", "0", "0"]), rate("0.1"), rate("0.12"))),
            "MIRR needs at least one negative and one positive cash flow, but all 3 are zero (Excel: #DIV/0!)",
        ),
        (
            "mirr finance rate -100%",
            message(mirr(&decs(&["-1", "2"]), rate("-1"), rate("0.1"))),
            "MIRR cannot use a finance rate of -1 (-100%): the rate must be above -1 (-100%)",
        ),
        (
            "mirr reinvestment rate below -100%",
            message(mirr(&decs(&["-1", "2"]), rate("0.1"), rate("-2"))),
            "MIRR cannot use a reinvestment rate of -2 (-200%): the rate must be above -1 (-100%)",
        ),
        (
            "mirr of nothing",
            message(mirr(&[], rate("0.1"), rate("0.1"))),
            "MIRR needs at least one cash flow, but the list is empty",
        ),
        (
            "unverifiable root",
            FinanceError::RootNotVerified {
                function: "IRR",
                near: rate("0.1"),
            }
            .to_string(),
            "IRR found a rate near 0.1 but could not confirm it to 12 significant digits: the NPV stays within rounding error of zero around it",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(name, got, want)| format!("{name}:\n    expected {want}\n    got      {got}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn finance_error_is_a_std_error() {
    let boxed: Box<dyn Error> = Box::new(FinanceError::NoCashFlows { function: "NPV" });
    assert!(boxed.source().is_none());
    assert_eq!(
        boxed.to_string(),
        "NPV needs at least one cash flow, but the list is empty"
    );
}
