//! Canonical write → read gives back the same deal: every value equal (`input_values` lists
//! every input of the model, exhaustively), every value's cell where `input_cell` says it
//! is; and writing the read deal gives the same bytes.

mod common;

use common::TempDir;
use lodestone::examples::{self, EXAMPLES};
use lodestone::excel::inputs::{Notes, input_cell, input_values};
use lodestone::excel::read::read_deal;
use lodestone::excel::template::template_bytes;
use lodestone::model::*;
use rust_decimal::Decimal;

fn round_trip(case: &str, deal: &Deal, notes: &Notes) {
    let dir = TempDir::new("round-trip");
    let bytes = template_bytes(deal, notes).expect("bytes");
    let path = dir.write(&format!("{case}.xlsx"), &bytes);
    let read = match read_deal(&path) {
        Ok(d) => d,
        Err(e) => panic!("case {case}: does not read back:\n{e}"),
    };

    let want = input_values(deal);
    let got = input_values(&read);
    assert_eq!(want.len(), got.len(), "case {case}: number of inputs");
    for (w, g) in want.iter().zip(&got) {
        let at = format!("case {case}: {} record {} {:?}", w.sheet, w.record, w.field);
        assert_eq!(
            (w.sheet, w.record, w.field),
            (g.sheet, g.record, g.field),
            "{at}: order"
        );
        assert_eq!(w.value, g.value, "{at}: value");
        assert_eq!(w.present, g.present, "{at}: presence");
        if g.present {
            let canonical = input_cell(deal, g.sheet, g.record, g.field);
            assert!(canonical.is_some(), "{at}: input_cell has no answer");
            assert_eq!(g.cell, canonical.as_ref(), "{at}: cell");
        }
    }
    let again = template_bytes(&read, notes).expect("bytes again");
    assert!(
        again == bytes,
        "case {case}: rewriting the read deal changes the bytes"
    );
}

#[test]
fn every_example_round_trips_exactly() {
    for name in EXAMPLES {
        let deal = examples::example(name).expect("example");
        let notes = examples::example_notes(name).expect("notes");
        round_trip(name, &deal, &notes);
    }
    round_trip("blank", &examples::blank(), &examples::blank_notes());
}

/// Values that stress the number edge and the layout's less-used corners: rate schedules,
/// awkward decimals, more digits than an f64 holds (written as text), market feed.
#[test]
fn awkward_values_round_trip_exactly() {
    let mut deal = examples::example("ndpr-joint-facility").expect("example");
    deal.parties[2].rate_schedule = vec![
        (
            2026,
            Sourced::bare("0.035".parse::<Decimal>().unwrap_or_default()),
        ),
        (2027, Sourced::bare("0.03".parse().unwrap_or_default())),
        (2028, Sourced::bare("0.025".parse().unwrap_or_default())),
    ];
    deal.parties[4].rate_schedule = vec![(2030, Sourced::bare("0.07".parse().unwrap_or_default()))];
    deal.tranches[0].commitment = Sourced::bare("450000000.1".parse().unwrap_or_default());
    deal.costs[6].amount = Sourced::bare("0.0000001".parse().unwrap_or_default());
    deal.costs[7].amount = Sourced::bare("0.1234567890123456789".parse().unwrap_or_default());
    deal.products[0].deck[0].1 = Sourced::bare("150000000000000000000".parse().unwrap_or_default());
    deal.financial_close_year = Some(Sourced::bare(2033));
    deal.tax_home_country = Some(Sourced::bare("Australia".to_string()));
    round_trip("awkward", &deal, &Notes::default());
}
