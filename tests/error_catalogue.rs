//! The error catalogue: one bad workbook per kind of error, each with its exact message; and
//! one workbook per kind of warning (valid, but with something read that was probably not
//! meant), each with its exact warnings.
//! The bad workbooks are built here from an example: the deal mutated before writing, or
//! the written workbook patched (cells, headers, sheets), or raw bytes.
//!
//! Set LODESTONE_SHOW=1 to print what each case gives instead of failing on a difference.

mod common;

use common::{Patch, TempDir, Xlsx};
use lodestone::examples;
use lodestone::excel::inputs::Notes;
use lodestone::excel::read::{read, read_deal};
use lodestone::excel::template::template_bytes;
use lodestone::model::*;
use rust_decimal::Decimal;

enum Bad {
    /// The example with its deal changed before it is written.
    Deal(&'static str, fn(&mut Deal)),
    /// The example's workbook with its XML changed.
    Patch(&'static str, fn(&mut Xlsx)),
    /// The example's workbook with its notes, its XML changed.
    Noted(&'static str, fn(&mut Xlsx)),
    /// A file of these bytes.
    Bytes(fn() -> Vec<u8>),
}

struct Case {
    name: &'static str,
    bad: Bad,
    /// Every error, in order, as `'Sheet'!B7: message` (the file name is left out).
    want: &'static [&'static str],
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

fn build(bad: &Bad) -> Vec<u8> {
    match bad {
        Bad::Deal(example, change) => {
            let mut deal = examples::example(example).expect("example");
            change(&mut deal);
            template_bytes(&deal, &Notes::default()).expect("bytes")
        }
        Bad::Patch(example, patch) => {
            let deal = examples::example(example).expect("example");
            let mut xlsx = Xlsx::open(&template_bytes(&deal, &Notes::default()).expect("bytes"));
            patch(&mut xlsx);
            xlsx.bytes()
        }
        Bad::Noted(example, patch) => {
            let mut xlsx = Xlsx::open(&common::example_bytes(example));
            patch(&mut xlsx);
            xlsx.bytes()
        }
        Bad::Bytes(bytes) => bytes(),
    }
}

const NDPR: &str = "ndpr-joint-facility";
const GALLIUM: &str = "gallium-refinery";

fn cases() -> Vec<Case> {
    vec![
        // ----- The file itself ---------------------------------------------------------
        Case {
            name: "empty file",
            bad: Bad::Bytes(Vec::new),
            want: &[
                "empty file (0 bytes), not a spreadsheet (expected an .xlsx, .xlsm, .xls or .ods file)",
            ],
        },
        Case {
            name: "not a spreadsheet",
            bad: Bad::Bytes(|| b"Deal name,NdPr\nCurrency,USD\n".to_vec()),
            want: &[
                "not a spreadsheet (a text file; save it from Excel or LibreOffice as .xlsx; expected an .xlsx, .xlsm, .xls or .ods file)",
            ],
        },
        Case {
            name: "truncated file",
            bad: Bad::Bytes(|| {
                let bytes = common::example_bytes(NDPR);
                bytes[..bytes.len() / 2].to_vec()
            }),
            want: &[
                "not a spreadsheet (a damaged or truncated zip archive: invalid Zip archive: Could not find EOCD; expected an .xlsx, .xlsm, .xls or .ods file)",
            ],
        },
        Case {
            name: "a zip without a workbook",
            bad: Bad::Bytes(|| {
                let mut x = Xlsx::open(&common::example_bytes(NDPR));
                x.set_part("xl/workbook.xml", String::new());
                x.bytes()
            }),
            want: &[
                "not a spreadsheet (a zip archive whose workbook cannot be read: Unexpected end of xml, expecting '</workbook>'; expected an .xlsx, .xlsm, .xls or .ods file)",
            ],
        },
        // ----- Sheets and columns ------------------------------------------------------
        Case {
            name: "missing sheet",
            bad: Bad::Patch(NDPR, |x| x.remove_sheet("Facilities")),
            want: &[
                "missing sheet 'Facilities' (a required sheet; the workbook has About, Deal, Prices, FX, Costs, Fiscal, Parties, Discount rates, Offtake, Price support, Financing, Participants, Scenarios, Monte Carlo)",
            ],
        },
        Case {
            name: "missing column",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "E1", Patch::Text("Capacity (t/yr)"))
            }),
            want: &[
                "'Facilities'!E1: unknown column 'Capacity (t/yr)' (did you mean 'Nameplate'? expected 'Nameplate (t/yr)': a required column)",
            ],
        },
        Case {
            name: "a column twice",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "E1", Patch::Text("kind"))
            }),
            want: &[
                "'Facilities': the header row (row 1) has no 'Nameplate (t/yr)' column (a required column: output at full capacity)",
                "'Facilities'!E1: the column 'Kind' appears twice (first at 'Facilities'!B1, expected each column once)",
            ],
        },
        Case {
            name: "a misspelt header: Interest for Interest rate",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "F1", Patch::Text("Interest (%)"))
            }),
            want: &[
                "'Financing'!F1: unknown column 'Interest (%)' (did you mean 'Interest rate'? expected 'Interest rate (%)'; as typed, it is ignored and every row takes the default, 0%)",
            ],
        },
        Case {
            name: "a misspelt Kind header: the one error, no loan's fee refused on an unread kind",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "B1", Patch::Text("Kinds"))
            }),
            want: &[
                "'Financing'!B1: unknown column 'Kinds' (did you mean 'Kind'? it is a required column)",
            ],
        },
        Case {
            name: "a misspelt header: Corporate tax rate for Tax rate",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Fiscal", "E1", Patch::Text("Corporate tax rate (%)"))
            }),
            want: &[
                "'Fiscal'!E1: unknown column 'Corporate tax rate (%)' (did you mean 'Tax rate'? expected 'Tax rate (%)'; as typed, it is ignored and every row takes the default, 0%)",
            ],
        },
        Case {
            name: "a misspelt header: a typo",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "I1", Patch::Text("Capitalise interst"))
            }),
            want: &[
                "'Financing'!I1: unknown column 'Capitalise interst' (did you mean 'Capitalise interest'? as typed, it is ignored and every row takes the default, no)",
            ],
        },
        Case {
            name: "a misspelt header: a unit outside brackets and a plural",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "K1", Patch::Text("Tenors, years"));
                x.set_cell("Parties", "D1", Patch::Text("Discount rate %"));
            }),
            want: &[
                "'Parties'!D1: unknown column 'Discount rate %' (did you mean 'Discount rate'? expected 'Discount rate (%)': a required column)",
                "'Financing'!K1: unknown column 'Tenors, years' (did you mean 'Tenor'? expected 'Tenor (years)'; as typed, it is ignored and every row leaves Tenor blank)",
            ],
        },
        Case {
            name: "a misspelt header near several fields",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Fiscal", "B1", Patch::Text("Royalty"));
                x.set_cell("Fiscal", "C1", Patch::Text("Comments"));
            }),
            want: &[
                "'Fiscal'!B1: unknown column 'Royalty' (did you mean 'Royalty concentrate' or 'Royalty refined'? as typed, it is ignored)",
            ],
        },
        Case {
            name: "a unit in a header that contradicts the field's",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "K1", Patch::Text("Tenor (months)"));
                x.set_cell("Financing", "D1", Patch::Text("Commitment (USD m)"));
                x.set_cell("Facilities", "E1", Patch::Text("Nameplate (kt/yr)"));
            }),
            want: &[
                "'Facilities'!E1: the header 'Nameplate (kt/yr)' says kt/yr, but Lodestone reads Nameplate in t/yr (expected the header 'Nameplate (t/yr)' and values in t/yr; as it is, every value would be taken as t/yr)",
                "'Financing'!D1: the header 'Commitment (USD m)' says USD m, but Lodestone reads Commitment in deal currency (expected the header 'Commitment (deal currency)' and values in deal currency; as it is, every value would be taken as deal currency)",
                "'Financing'!K1: the header 'Tenor (months)' says months, but Lodestone reads Tenor in years (expected the header 'Tenor (years)' and values in years; as it is, every value would be taken as years)",
            ],
        },
        Case {
            name: "a misspelt sheet name",
            bad: Bad::Patch(NDPR, |x| x.rename_sheet("Scenarios", "Scenario")),
            want: &[
                "the sheet 'Scenario' is not read (did you mean 'Scenarios'? rename it 'Scenarios'; as named, its rows are ignored)",
            ],
        },
        Case {
            name: "the last year of a time series typed as text",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Prices", "N1", Patch::Text("2035e"))),
            want: &[
                "'Prices'!N1: the header of a column of values is not a year (found text \"2035e\", expected the year 2035, after 2034, as a number); as it is, the values under it would be ignored",
            ],
        },
        Case {
            name: "a year of a time series typed as a fiscal-year label",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Prices", "J1", Patch::Text("FY2031"))),
            want: &[
                "'Prices'!J1: the header of a column of values is not a year (found text \"FY2031\", expected the year 2031, after 2030, as a number; year labels such as 'FY2031' are not read; type the year alone, as a number such as 2031 (a period is labelled by the calendar year it starts in)); as it is, the values under it would be ignored",
                "'Prices'!K2: the price deck of 'NdPr oxide' has non-consecutive years (found 2032 after 2030, expected 2031)",
            ],
        },
        Case {
            name: "the last year of a time series left blank",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Prices", "N1", Patch::Text(""))),
            want: &[
                "'Prices'!N1: the header of a column of values is not a year (found a blank, expected the year 2035, after 2034, as a number); as it is, the values under it would be ignored",
            ],
        },
        Case {
            name: "a year header that is no year",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Prices", "N1", Patch::Number("20350"))),
            want: &[
                "'Prices'!N1: the header of a column of values is not a year (found 20350, expected the year 2035, after 2034, as a number); as it is, the values under it would be ignored",
            ],
        },
        Case {
            name: "unknown item on a key/value sheet",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Deal", "A9", Patch::Text("Financial clse year"))
            }),
            want: &[
                "'Deal'!A9: unknown item 'Financial clse year' (did you mean 'Financial close year'? as typed, it is ignored and the deal takes the default, first construction year)",
            ],
        },
        Case {
            name: "a ledger precision out of range",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Deal", "B13", Patch::Number("11"))),
            want: &[
                "'Deal'!B13: ledger precision out of range (found 11 decimal places, expected 0 to 10; 2 books to the cent)",
            ],
        },
        Case {
            name: "missing required value",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Facilities", "C3", Patch::Text(""))),
            want: &[
                "'Facilities'!C3: Country is missing (found a blank, expected text: host country; its row on the Fiscal sheet applies)",
            ],
        },
        // ----- Cells -------------------------------------------------------------------
        Case {
            name: "text where a number belongs",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "E2", Patch::Text("lots"))
            }),
            want: &[
                "'Facilities'!E2: Nameplate is not a number (found text \"lots\", expected a number (t/yr))",
            ],
        },
        Case {
            name: "currency marks in a number",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Price support", "D2", Patch::Text("US$110"))
            }),
            want: &[
                "'Price support'!D2: Floor is not a number (found text \"US$110\", expected a number (product unit); currency marks are not read: the currency is set by the sheet's Currency column or the deal currency; type the number alone)",
            ],
        },
        Case {
            name: "a decimal comma",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Financing", "F3", Patch::Text("8,5%"))),
            want: &[
                "'Financing'!F3: Interest rate is not a percentage (found text \"8,5%\", expected a percentage such as 5% or 0.05; a comma that does not separate thousands is ambiguous (a decimal comma?); use '.' for decimals)",
            ],
        },
        Case {
            name: "Excel error value",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "D3", Patch::Error("#DIV/0!"))
            }),
            want: &[
                "'Financing'!D3: Commitment holds an Excel error (found #DIV/0!, expected a number (deal currency); fix the formula or the cell it refers to)",
            ],
        },
        Case {
            name: "formula without a saved value",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Deal", "B5", Patch::FormulaWithoutValue("2061-2026+1"))
            }),
            want: &[
                "'Deal'!B5: Horizon is a formula with no saved value (found =2061-2026+1, expected a whole number of 0 or more; open the file in Excel or LibreOffice, recalculate and save it)",
            ],
        },
        Case {
            name: "not a whole number",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "O2", Patch::Number("2.5"))
            }),
            want: &[
                "'Facilities'!O2: Construction is not a whole number (found 2.5, expected a whole number of 0 or more)",
            ],
        },
        Case {
            name: "not a year",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "K2", Patch::Number("20266"))
            }),
            want: &[
                "'Facilities'!K2: Start year is not a year (found 20266, expected a year such as 2031; years are whole numbers from 1900 to 2200)",
            ],
        },
        Case {
            name: "the phantom 29 February 1900",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Deal", "B4", Patch::Number("60"))),
            want: &[
                "'Deal'!B4: Model start date is not a date (found a date-formatted 60, expected a date such as 2027-01-01; it is 1900-02-29, a day that does not exist (Excel's 1900 leap-year bug))",
            ],
        },
        Case {
            name: "not a date",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Deal", "B4", Patch::Text("1/1/2026"))),
            want: &[
                "'Deal'!B4: Model start date is not a date (found text \"1/1/2026\", expected a date such as 2027-01-01)",
            ],
        },
        Case {
            name: "not yes or no",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Financing", "I3", Patch::Text("maybe"))
            }),
            want: &[
                "'Financing'!I3: Capitalise interest is not yes or no (found text \"maybe\", expected yes or no)",
            ],
        },
        Case {
            name: "not a recognised choice",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Facilities", "B2", Patch::Text("mne"))),
            want: &[
                "'Facilities'!B2: Kind is not a recognised kind (found text \"mne\", expected one of: mine, concentrator, refinery)",
            ],
        },
        Case {
            name: "a gap in the ramp-up",
            bad: Bad::Patch(NDPR, |x| x.set_cell("Facilities", "Q2", Patch::Text(""))),
            want: &[
                "'Facilities'!R2: Ramp 3 is given but Ramp 2 is blank (found a gap in the ramp-up, expected ramp-up years filled from Ramp 1 without gaps)",
            ],
        },
        Case {
            name: "feed fields on a mine",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "H2", Patch::Number("0.5"))
            }),
            want: &[
                "'Facilities'!H2: Recovery is given but Feed source is blank (found 0.5, expected a blank: without a feed source a facility takes no feed)",
            ],
        },
        Case {
            name: "participants of an unknown tranche",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Participants", "A3", Patch::Text("Senior loan"))
            }),
            want: &[
                "'Participants'!A3: unknown tranche 'Senior loan' (expected a tranche of the Financing sheet: 'Sponsor equity', 'Senior debt', 'Joint facility loan', 'Australian first-loss', 'Japan senior guarantee')",
            ],
        },
        // ----- Semantics ---------------------------------------------------------------
        Case {
            name: "negative tonnage",
            bad: Bad::Deal(NDPR, |d| d.facilities[0].nameplate.value = dec("-140000")),
            want: &[
                "'Facilities'!E2: the nameplate of 'Mine and concentrator' is negative (found -140000 t/yr, expected more than 0)",
            ],
        },
        Case {
            name: "negative price",
            bad: Bad::Deal(NDPR, |d| d.products[0].deck[4].1.value = dec("-100")),
            want: &[
                "'Prices'!I2: the 2030 price of 'NdPr oxide' is negative (found -100 USD per kg, expected 0 or more)",
            ],
        },
        Case {
            name: "probability above 100%",
            bad: Bad::Deal(NDPR, |d| {
                d.facilities[0].gates.exploration.value = dec("1.5")
            }),
            want: &[
                "'Facilities'!W2: the probability that 'Mine and concentrator' passes exploration is outside 0–100% (found 150%, expected a share between 0% and 100%; 1.5 looks like a percentage typed as a whole number: if 1.5% was meant, type 1.5% or 0.015)",
            ],
        },
        Case {
            name: "share below 0%",
            bad: Bad::Deal(NDPR, |d| d.offtakes[1].share.value = dec("-0.2")),
            want: &[
                "'Offtake'!D3: the share of contract 'Malaysian magnet offtake' is outside 0–100% (found -20%, expected a share between 0% and 100%)",
            ],
        },
        Case {
            name: "participant shares not summing to 100%",
            bad: Bad::Deal(NDPR, |d| {
                d.tranches[2].participants[2].share.value = dec("0.2")
            }),
            want: &[
                "'Participants'!C4: participant shares of tranche 'Joint facility loan' sum to 90% (expected 100%; found 'US Government' 40% at 'Participants'!C4, 'Japan Government' 30% at 'Participants'!C5, 'Australian Government' 20% at 'Participants'!C6)",
            ],
        },
        Case {
            name: "guarantee covering a tranche that does not exist",
            bad: Bad::Deal(NDPR, |d| {
                d.tranches[4].covers = Some(Sourced::bare("Senior loan".into()))
            }),
            want: &[
                "'Financing'!R6: guarantee 'Japan senior guarantee' covers an unknown tranche 'Senior loan' (expected one of 'Sponsor equity', 'Senior debt', 'Joint facility loan', 'Australian first-loss', 'Japan senior guarantee')",
            ],
        },
        Case {
            name: "schedule past the horizon",
            bad: Bad::Deal(NDPR, |d| d.horizon_years.value = 30),
            want: &[
                "'Facilities'!K2: the schedule of 'Mine and concentrator' ends after the horizon (found 2026–2061: exploration 3, feasibility 2, permitting 2, construction 3, ramp-up 3, operations 20, closure 3 years, expected to end by 2055; lengthen the horizon or shorten a phase)",
                "'Facilities'!K3: the schedule of 'NdPr refinery' ends after the horizon (found 2029–2061: feasibility 2, permitting 2, construction 3, ramp-up 3, operations 20, closure 3 years, expected to end by 2055; lengthen the horizon or shorten a phase)",
            ],
        },
        Case {
            name: "schedule before the model start",
            bad: Bad::Deal(NDPR, |d| d.facilities[0].start_year.value = 2025),
            want: &[
                "'Facilities'!K2: 'Mine and concentrator' starts before the model (found 2025, expected 2026 or later: the model starts on 2026-01-01)",
            ],
        },
        Case {
            name: "duplicate names",
            bad: Bad::Deal(NDPR, |d| {
                let mut twin = d.parties[6].clone();
                twin.name.value = "tokai magnetics".into();
                d.parties.push(twin);
            }),
            want: &[
                "'Parties'!A11: duplicate party name 'tokai magnetics' (first at 'Parties'!A8; expected a unique name)",
            ],
        },
        Case {
            name: "unknown party, product and facility",
            bad: Bad::Deal(NDPR, |d| {
                d.offtakes[0].buyer.value = "Tokai Magnetic".into();
                d.offtakes[1].product.value = "NdPr metal".into();
                d.costs[0].facility.value = "Mine".into();
            }),
            want: &[
                "'Costs'!A2: unknown facility 'Mine' for cost 'Exploration drilling and resource definition' (expected one of 'Mine and concentrator', 'NdPr refinery')",
                "'Offtake'!C2: unknown party 'Tokai Magnetic' as the buyer of contract 'Japanese magnet offtake' (expected one of 'Sponsor', 'Senior banks', 'US Government', 'Japan Government', 'Australian Government', 'WA Government', 'Tokai Magnetics', 'Selangor Magnet Works', 'Hai Phong Magnets')",
                "'Offtake'!B3: unknown product 'NdPr metal' for contract 'Malaysian magnet offtake' (no price deck on the Prices sheet; expected one of 'NdPr oxide')",
            ],
        },
        Case {
            name: "offtake shares over 100% in a year",
            bad: Bad::Deal(NDPR, |d| d.offtakes[0].share.value = dec("0.75")),
            want: &[
                "'Offtake'!D4: offtake shares of 'NdPr oxide' sum to 105% in 2038 (found 'Japanese magnet offtake' 75% at 'Offtake'!D2, 'Malaysian magnet offtake' 20% at 'Offtake'!D3, 'Vietnamese magnet offtake' 10% at 'Offtake'!D4; expected at most 100%)",
            ],
        },
        Case {
            name: "a hole in the price deck",
            bad: Bad::Deal(NDPR, |d| {
                d.products[0].deck.remove(4);
            }),
            want: &[
                "'Prices'!J2: the price deck of 'NdPr oxide' has non-consecutive years (found 2031 after 2029, expected 2030)",
            ],
        },
        Case {
            name: "price in a currency without FX",
            bad: Bad::Deal(GALLIUM, |d| d.fx.clear()),
            want: &[
                "'Prices'!C3: 'Crude gallium (index)' is priced in CNY but the FX sheet has no CNY row (expected USD per CNY from 2030)",
            ],
        },
        Case {
            name: "price in a currency without the FX sheet",
            bad: Bad::Patch(GALLIUM, |x| x.remove_sheet("FX")),
            want: &[
                "'Prices'!C3: 'Crude gallium (index)' is priced in CNY but the FX sheet has no CNY row (expected USD per CNY from 2030)",
            ],
        },
        Case {
            name: "a year typed as a fiscal-year label",
            bad: Bad::Patch(NDPR, |x| {
                x.set_cell("Facilities", "K2", Patch::Text("FY2026"))
            }),
            want: &[
                "'Facilities'!K2: Start year is not a year (found text \"FY2026\", expected a year such as 2031; year labels such as 'FY2026' are not read; type the year alone, as a number such as 2026 (a period is labelled by the calendar year it starts in))",
            ],
        },
        Case {
            name: "tax typed as a whole number",
            bad: Bad::Deal(NDPR, |d| d.fiscal[0].tax_rate.value = dec("21")),
            want: &[
                "'Fiscal'!E2: the company tax rate of Australia is outside 0–100% (found 2100%, expected a share between 0% and 100%; 21 looks like a percentage typed as a whole number: if 21% was meant, type 21% or 0.21)",
            ],
        },
        Case {
            name: "Base is reserved",
            bad: Bad::Deal(NDPR, |d| d.scenarios[2].name.value = "Base".into()),
            want: &[
                "'Scenarios'!A4: 'Base' is reserved for the base case, which is implicit (expected another scenario name)",
            ],
        },
        Case {
            name: "reserved party names",
            bad: Bad::Deal(NDPR, |d| {
                for name in ["Market", "Goldfields Rare Earths"] {
                    let mut p = d.parties[0].clone();
                    p.name.value = name.into();
                    d.parties.push(p);
                }
            }),
            want: &[
                "'Parties'!A11: 'Market' is a reserved party name (the project company 'Goldfields Rare Earths', Market and Suppliers are added automatically; expected another name)",
                "'Parties'!A12: 'Goldfields Rare Earths' is a reserved party name (the project company 'Goldfields Rare Earths', Market and Suppliers are added automatically; expected another name)",
            ],
        },
        Case {
            name: "loan without tenor, sculpted without target",
            bad: Bad::Deal(NDPR, |d| {
                d.tranches[1].tenor_years.value = 0;
                d.tranches[2].repayment.value = Repayment::Sculpted;
            }),
            want: &[
                "'Financing'!K3: loan 'Senior debt' has no tenor (found 0 or a blank, expected the years after construction by which it is repaid)",
                "'Financing'!L4: 'Joint facility loan' is sculpted without a target DSCR (expected a Target DSCR such as 1.35)",
            ],
        },
        Case {
            name: "a percentage typed as a whole number",
            bad: Bad::Deal(NDPR, |d| d.tranches[1].interest_rate.value = dec("8.5")),
            want: &[
                "'Financing'!F3: the interest rate of 'Senior debt' of 850% looks like a percentage typed as a whole number (found 8.5, expected a fraction such as 0.08 or a percentage such as 8%)",
            ],
        },
        Case {
            name: "first-loss not below every loan",
            bad: Bad::Deal(NDPR, |d| d.tranches[3].rank.value = 2),
            want: &[
                "'Financing'!C5: first-loss tranche 'Australian first-loss' ranks 2, not below 'Joint facility loan' at rank 2 (expected a rank number greater than every other loan's)",
            ],
        },
        Case {
            name: "equity shareholdings not summing to 100%",
            bad: Bad::Deal(GALLIUM, |d| {
                d.tranches[2].shareholding = Some(Sourced::bare(dec("0.1")))
            }),
            want: &[
                "'Financing'!U2: equity shareholdings sum to 90% (expected 100%; found 'Japanese equity' 45% at 'Financing'!U2, 'US equity' 35% at 'Financing'!U3, 'Australian concessional equity' 10% at 'Financing'!U4)",
            ],
        },
        Case {
            name: "no equity tranche",
            bad: Bad::Deal(NDPR, |d| d.tranches[0].kind.value = TrancheKind::Grant),
            want: &[
                "'Financing'!Q2: 'Sponsor equity' has an overrun cap but is a grant (expected a blank: the overrun cap is extra equity)",
                "the deal has no equity tranche (expected at least one tranche of kind 'equity' on the Financing sheet)",
            ],
        },
        Case {
            name: "fixed transfer pricing without a price",
            bad: Bad::Deal(NDPR, |d| {
                if let Some(feed) = &mut d.facilities[1].feed
                    && let FeedSource::Facility { pricing, .. } = &mut feed.source
                {
                    pricing.value = TransferPricing::Fixed;
                }
            }),
            want: &[
                "'Facilities'!I3: fixed transfer pricing for 'NdPr refinery' without a transfer price (expected a price per tonne in Transfer price)",
            ],
        },
        Case {
            name: "feed from a facility that starts later, in a cycle",
            bad: Bad::Deal(NDPR, |d| {
                d.facilities[0].kind.value = FacilityKind::Concentrator;
                d.facilities[0].feed = Some(Feed {
                    source: FeedSource::Facility {
                        name: Sourced::bare("NdPr refinery".into()),
                        pricing: Sourced::bare(TransferPricing::Cost),
                        price: None,
                        share: None,
                    },
                    recovery: Sourced::bare(Decimal::ONE),
                });
            }),
            want: &[
                "'Facilities'!F2: the feed source 'NdPr refinery' starts in 2029, after 'Mine and concentrator' starts in 2026 (expected a source that starts no later than the facility it feeds)",
                "'Facilities'!F2: the feed sources form a cycle: Mine and concentrator ← NdPr refinery ← Mine and concentrator (expected each facility to be fed by an earlier one)",
            ],
        },
        Case {
            name: "crash shape on a capex overrun",
            bad: Bad::Deal(NDPR, |d| {
                d.scenarios[2].overrides[0].recovery_years.value = 3
            }),
            want: &[
                "'Scenarios'!K4: the capex overrun of 'Capex overrun' has recovery years (expected a blank: the crash shape applies only to price crash overrides)",
            ],
        },
        // ----- The Monte Carlo sheet ---------------------------------------------------
        Case {
            name: "volatility typed as a whole number",
            bad: Bad::Deal(NDPR, |d| {
                if let Some(mc) = &mut d.monte_carlo {
                    mc.processes[0].volatility.value = dec("40");
                }
            }),
            want: &[
                "'Monte Carlo'!B2: the volatility of 'NdPr oxide' on the Monte Carlo sheet is out of range (found 4000%, expected a yearly volatility from 0% to 200%, such as 40%)",
            ],
        },
        Case {
            name: "a crash of 100%",
            bad: Bad::Deal(NDPR, |d| {
                if let Some(mc) = &mut d.monte_carlo {
                    mc.processes[0].jump_mean.value = Decimal::ONE;
                }
            }),
            want: &[
                "'Monte Carlo'!E2: the jump mean of 'NdPr oxide' on the Monte Carlo sheet is out of range (found 100%, expected a fall from 0% to below 100%, such as 30%)",
            ],
        },
        Case {
            name: "a simulated product without a price deck",
            bad: Bad::Deal(NDPR, |d| {
                if let Some(mc) = &mut d.monte_carlo {
                    mc.processes[0].product.value = "Dysprosium oxide".into();
                }
            }),
            want: &[
                "'Monte Carlo'!A2: unknown product 'Dysprosium oxide' on the Monte Carlo sheet (no price deck on the Prices sheet; expected one of 'NdPr oxide')",
            ],
        },
        Case {
            name: "a correlation above 1",
            bad: Bad::Deal(GALLIUM, |d| {
                if let Some(mc) = &mut d.monte_carlo {
                    mc.processes[1].correlations[0].value = dec("1.5");
                }
            }),
            want: &[
                "'Monte Carlo'!G3: the correlation of 'Crude gallium (index)' with 'Gallium 4N' is outside −1 to 1 (found 1.5, expected a correlation from −1 to 1, such as 0.6)",
            ],
        },
        Case {
            name: "correlations that cannot hold together",
            bad: Bad::Deal(GALLIUM, |d| {
                let mut germanium = d.products[0].clone();
                germanium.name.value = "Germanium".into();
                d.products.push(germanium);
                if let Some(mc) = &mut d.monte_carlo {
                    let mut p = mc.processes[1].clone();
                    p.product.value = "Germanium".into();
                    p.correlations = vec![Sourced::bare(dec("0.9")), Sourced::bare(dec("-0.9"))];
                    mc.processes.push(p);
                }
            }),
            want: &[
                "'Monte Carlo'!A4: the correlations of 'Germanium' (0.9 with 'Gallium 4N', -0.9 with 'Crude gallium (index)') cannot hold together with those of the products above it (found a matrix that is not positive semi-definite, expected a valid correlation matrix: lower some correlations towards 0)",
            ],
        },
        Case {
            name: "an asymmetric correlation matrix",
            bad: Bad::Patch(GALLIUM, |x| {
                x.set_cell("Monte Carlo", "H2", Patch::Number("0.5"))
            }),
            want: &[
                "'Monte Carlo'!H2: the correlation of 'Gallium 4N' with 'Crude gallium (index)' is 0.5 here but 0.9 at 'Monte Carlo'!G3 (expected the same value in both halves of the matrix, or one of them blank)",
            ],
        },
        Case {
            name: "a product's correlation with itself",
            bad: Bad::Patch(GALLIUM, |x| {
                x.set_cell("Monte Carlo", "G2", Patch::Number("0.8"))
            }),
            want: &[
                "'Monte Carlo'!G2: the correlation of 'Gallium 4N' with itself is 0.8 (expected 1 or a blank)",
            ],
        },
        Case {
            name: "a correlation column that names no product",
            bad: Bad::Patch(GALLIUM, |x| {
                x.set_cell("Monte Carlo", "H1", Patch::Text("Crude gallium"))
            }),
            want: &[
                "'Monte Carlo'!H1: the correlation column 'Crude gallium' names no product of this sheet (expected a column headed by a product of the Product column: 'Gallium 4N', 'Crude gallium (index)'; put notes in a Notes column)",
            ],
        },
    ]
}

#[test]
fn every_error_kind_has_its_exact_message() {
    let show = std::env::var_os("LODESTONE_SHOW").is_some();
    let dir = TempDir::new("catalogue");
    let mut failures = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let path = dir.write(&format!("case{i}.xlsx"), &build(&case.bad));
        let got: Vec<String> = match read_deal(&path) {
            Ok(_) => vec!["(valid)".to_string()],
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        };
        if show {
            println!(
                "Case {:?}\n{}\n",
                case.name,
                got.iter()
                    .map(|l| format!("    {l:?},"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        } else if got != case.want {
            failures.push(format!(
                "case {:?}:\n  want {:#?}\n  got  {:#?}",
                case.name, case.want, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Valid deals with something odd: every warning, in order (the deal must still be valid).
fn warning_cases() -> Vec<Case> {
    vec![
        Case {
            name: "a column Lodestone does not know",
            bad: Bad::Noted(NDPR, |x| x.set_cell("Costs", "I1", Patch::Text("Currency"))),
            want: &[
                "'Costs'!I1: warning: the column 'Currency' is ignored: it is not a field of the Costs sheet (a column headed Notes, Comment or Source is kept without this warning)",
            ],
        },
        Case {
            name: "notes columns stay quiet",
            bad: Bad::Noted(NDPR, |x| {
                x.set_cell("Costs", "I1", Patch::Text("Comments"));
                x.set_cell("Facilities", "AA1", Patch::Text("Source"));
                x.set_cell("Prices", "O1", Patch::Text("Note"));
                x.set_cell("Deal", "D1", Patch::Text("Sources"));
            }),
            want: &[],
        },
        Case {
            name: "values under no header",
            bad: Bad::Noted(NDPR, |x| x.set_cell("Costs", "I1", Patch::Text(""))),
            want: &[
                "'Costs'!I1: warning: the column I holds values but has no header, so they are ignored (expected a header naming a field of the Costs sheet, or Notes)",
            ],
        },
        Case {
            name: "an item Lodestone does not know",
            bad: Bad::Noted(NDPR, |x| {
                x.set_cell("Deal", "A9", Patch::Text("Prepared by"))
            }),
            want: &[
                "'Deal'!A9: warning: the item 'Prepared by' is ignored: it is not an item of the Deal sheet (a row labelled Notes, Comment or Source is kept without this warning)",
            ],
        },
        Case {
            name: "a Monte Carlo column that is neither a field nor a product",
            bad: Bad::Noted(NDPR, |x| {
                x.set_cell("Monte Carlo", "H1", Patch::Text("Remarks"))
            }),
            want: &[
                "'Monte Carlo'!H1: warning: the column 'Remarks' is ignored: it is neither a field of the Monte Carlo sheet nor a product of its Product column (a column headed Notes, Comment or Source is kept without this warning)",
            ],
        },
        Case {
            name: "a 144-year tenor",
            bad: Bad::Deal(NDPR, |d| d.tranches[1].tenor_years.value = 144),
            want: &[
                "'Financing'!K3: warning: the tenor of 'Senior debt' is 144 years, more than 40: were months typed as years? (the tenor is in years after construction, such as 15)",
            ],
        },
        Case {
            name: "75% interest and a 35% discount rate",
            bad: Bad::Deal(NDPR, |d| {
                d.tranches[1].interest_rate.value = dec("0.75");
                d.parties[0].discount_rate.value = dec("0.35");
            }),
            want: &[
                "'Parties'!D2: warning: the discount rate of 'Sponsor' is 35%, above 30%: is that meant? (discount rates are fractions: 0.075 or 7.5% is 7.5%)",
                "'Financing'!F3: warning: the interest rate of 'Senior debt' is 75%, above 30%: is that meant? (interest rates are fractions: 0.075 or 7.5% is 7.5%)",
            ],
        },
        Case {
            name: "a floor at seven times the deck",
            bad: Bad::Deal(NDPR, |d| d.price_supports[0].floor.value = dec("1100")),
            want: &[
                "'Price support'!D2: warning: the floor of 'US NdPr price floor' of 1100 is 7.2× the price deck of 'NdPr oxide' (at most 152.37 USD per kg in 2036–2045), above 3×: is that meant? (a floor that high pays out every year)",
            ],
        },
        Case {
            name: "operating costs above revenue at nameplate",
            bad: Bad::Deal(GALLIUM, |d| {
                for c in d
                    .costs
                    .iter_mut()
                    .filter(|c| c.category.value.is_operating())
                {
                    c.amount.value *= Decimal::from(20);
                }
            }),
            want: &[
                "'Facilities'!E2: warning: the operating costs of 'Gallium refinery' exceed its revenue at nameplate: in 2032, its first year at full output, 342,103,102 USD a year of costs against 60,000,000 USD of sales at the price deck; is that meant? (check the cost amounts and their basis: per tonne, per year)",
            ],
        },
        Case {
            name: "a ramp multiplier above 100% of nameplate",
            bad: Bad::Deal(NDPR, |d| {
                let mut o = d.scenarios[2].overrides[0].clone();
                o.kind.value = OverrideKind::RampMultiplier;
                o.value.value = dec("1.5");
                o.facility = None;
                d.scenarios[2].overrides = vec![o];
            }),
            want: &[
                "'Scenarios'!G4: warning: the ramp multiplier 1.5 of 'Capex overrun' takes ramp-up year 3 of 'Mine and concentrator' to 142.5% of nameplate; output is capped at 100%, so the multiplier does less than it says",
                "'Scenarios'!G4: warning: the ramp multiplier 1.5 of 'Capex overrun' takes ramp-up year 3 of 'NdPr refinery' to 142.5% of nameplate; output is capped at 100%, so the multiplier does less than it says",
            ],
        },
    ]
}

#[test]
fn every_warning_kind_has_its_exact_message() {
    let show = std::env::var_os("LODESTONE_SHOW").is_some();
    let dir = TempDir::new("warnings");
    let mut failures = Vec::new();
    for (i, case) in warning_cases().into_iter().enumerate() {
        let path = dir.write(&format!("case{i}.xlsx"), &build(&case.bad));
        let reading = read(&path);
        let mut got: Vec<String> = reading.warnings.iter().map(|w| w.to_string()).collect();
        if let Err(e) = &reading.deal {
            got.push(format!("(invalid: {e})"));
        }
        if show {
            println!(
                "Case {:?}\n{}\n",
                case.name,
                got.iter()
                    .map(|l| format!("    {l:?},"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        } else if got != case.want {
            failures.push(format!(
                "case {:?}:\n  want {:#?}\n  got  {:#?}",
                case.name, case.want, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
