//! Excel's conventions, pinned with cases whose answers are exact by construction, so any
//! drift in a convention (which value is discounted, which date is d₁, what n counts) shows up
//! as a wrong digit rather than a tolerance.
//!
//! One deliberate departure: Excel's XNPV/XIRR reject a date earlier than the first one
//! (#NUM!); Lodestone accepts it with a negative exponent, as the design asks, so that a
//! schedule listed in any order has one meaning.

mod finance_support;

use finance_support::{date, dec, decs};
use lodestone::finance::{irr, irr_roots, mirr, npv, xirr, xirr_roots, xnpv};
use rust_decimal::Decimal;

#[test]
fn conventions_match_excel() {
    let y2021 = date("2021-01-01");
    let y2022 = date("2022-01-01");
    let y2023 = date("2023-01-01");
    let cases: Vec<(
        &str,
        Result<Decimal, lodestone::finance::FinanceError>,
        &str,
    )> = vec![
        (
            "NPV discounts the first value one period",
            npv(dec("0.1"), &decs(&["110"])),
            "100",
        ),
        (
            "NPV at rate 0 is the plain sum",
            npv(
                dec("0"),
                &decs(&["-40000", "5000", "8000", "12000", "30000"]),
            ),
            "15000",
        ),
        (
            "XNPV: d₁ is the first date listed, not the earliest",
            xnpv(dec("0.1"), &decs(&["100", "110"]), &[y2022, y2021]),
            "221",
        ),
        (
            "XNPV: dates in any order",
            xnpv(
                dec("0.1"),
                &decs(&["-100", "121", "110"]),
                &[y2021, y2023, y2022],
            ),
            "100",
        ),
        (
            "XNPV at rate 0 is the plain sum",
            xnpv(dec("0"), &decs(&["1.5", "-0.25"]), &[y2023, y2021]),
            "1.25",
        ),
        (
            "IRR: the first flow is at time 0",
            irr(&decs(&["-100", "110"]), None),
            "0.1",
        ),
        (
            "IRR: leading zeros change nothing",
            irr(&decs(&["0", "0", "-100", "110"]), None),
            "0.1",
        ),
        (
            "IRR: trailing zeros change nothing",
            irr(&decs(&["-100", "110", "0"]), None),
            "0.1",
        ),
        (
            "XIRR: 365 days is one year",
            xirr(&decs(&["-100", "110"]), &[y2021, y2022], None),
            "0.1",
        ),
        (
            "XIRR: same-day flows are netted",
            xirr(&decs(&["-60", "-40", "110"]), &[y2021, y2021, y2022], None),
            "0.1",
        ),
        (
            "MIRR: n counts zeros",
            mirr(&decs(&["-100", "0", "121"]), dec("0.1"), dec("0.1")),
            "0.1",
        ),
        (
            "MIRR: outflows at the finance rate, inflows at the reinvestment rate",
            // PV(outflows) = −100 − 110/1.1 = −200; FV(inflows) = 1000·1.2 + 400 = 1600;
            // (1600/200)^(1/3) − 1 = 1.
            mirr(
                &decs(&["-100", "-110", "1000", "400"]),
                dec("0.1"),
                dec("0.2"),
            ),
            "1",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, got, want)| got.as_ref().ok() != Some(&dec(want)))
        .map(|(name, got, want)| format!("{name}: expected {want}, got {got:?}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_guess_picks_among_several_roots() {
    // −100 + 230x − 132x² = −(11x − 10)(12x − 10), x = 1/(1+r): roots at 10% and 20%.
    let values = decs(&["-100", "230", "-132"]);
    assert_eq!(irr_roots(&values), Ok(vec![dec("0.1"), dec("0.2")]));
    let cases = [
        (None, "0.1"),
        (Some("0.14"), "0.1"),
        (Some("0.16"), "0.2"),
        (Some("5"), "0.2"),
        (Some("-0.99"), "0.1"),
    ];
    for (guess, want) in cases {
        assert_eq!(
            irr(&values, guess.map(dec)),
            Ok(dec(want)),
            "guess {guess:?}"
        );
    }
    let dates = [date("2021-01-01"), date("2022-01-01"), date("2023-01-01")];
    assert_eq!(
        xirr_roots(&values, &dates),
        Ok(vec![dec("0.1"), dec("0.2")])
    );
    assert_eq!(xirr(&values, &dates, Some(dec("0.19"))), Ok(dec("0.2")));
}
