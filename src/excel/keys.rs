//! Where each typed input key of the model lives in the deal workbook: from a model field
//! (`TrancheField::InterestRate`) to its column, through the column declaration in `schema`
//! that carries the key, and from a record of the model to its row (`inputs::input_cell`).
//!
//! Owns that lookup. Every field enum is the list of its sheet's declared keys, in order,
//! which a test checks, so a field without a column (or a column without a field) fails.
//! Must not decide what a value means.

use super::inputs::{self, FieldKey, override_record, participant_record, rate_schedule_record};
use super::schema::{self, SheetSchema};
use crate::model::key::*;
use crate::model::{CellRef, Deal};

/// A model field that is a column (or key) of one schema sheet.
pub trait Column: Copy + PartialEq + 'static {
    /// Every field, in the sheet's column order.
    const ALL: &'static [Self];
    /// The sheet whose records hold this field.
    fn sheet() -> &'static SheetSchema;
    /// The keys of the sheet's declared columns, in order.
    fn declared() -> Vec<Self>;
    /// The schema field's name (its header or label).
    fn column(self) -> &'static str;
}

/// Ties a field enum to its sheet's column declarations in `schema`: a field's column is the
/// declaration that carries its key.
macro_rules! columns {
    ($($ty:ident on $sheet:ident via $columns:ident),+ $(,)?) => {$(
        impl Column for $ty {
            const ALL: &'static [Self] = $ty::ALL;
            fn sheet() -> &'static SheetSchema {
                &schema::$sheet
            }
            fn declared() -> Vec<Self> {
                schema::$columns.iter().map(|c| c.key).collect()
            }
            fn column(self) -> &'static str {
                schema::$columns
                    .iter()
                    .find(|c| c.key == self)
                    .map(|c| c.field.name)
                    .unwrap_or("(undeclared field)")
            }
        }
    )+};
}

columns!(
    DealField on DEAL via DEAL_COLUMNS,
    FacilityField on FACILITIES via FACILITIES_COLUMNS,
    ProductField on PRICES via PRICES_COLUMNS,
    FxField on FX via FX_COLUMNS,
    CostField on COSTS via COSTS_COLUMNS,
    FiscalField on FISCAL via FISCAL_COLUMNS,
    PartyField on PARTIES via PARTIES_COLUMNS,
    OfftakeField on OFFTAKE via OFFTAKE_COLUMNS,
    PriceSupportField on PRICE_SUPPORT via PRICE_SUPPORT_COLUMNS,
    TrancheField on FINANCING via FINANCING_COLUMNS,
    ParticipantField on PARTICIPANTS via PARTICIPANTS_COLUMNS,
    OverrideField on SCENARIOS via SCENARIOS_COLUMNS,
);

/// Where an input lives in the canonical layout: (sheet, record on it, field). None for
/// an input no sheet holds (a simulated price path) or a record the deal does not have.
pub fn place(deal: &Deal, input: &InputKey) -> Option<(&'static str, usize, FieldKey<'static>)> {
    fn named<F: Column>(
        record: usize,
        field: F,
    ) -> Option<(&'static str, usize, FieldKey<'static>)> {
        Some((F::sheet().name, record, FieldKey::Name(field.column())))
    }
    let year =
        |sheet: &SheetSchema, record: usize, year| Some((sheet.name, record, FieldKey::Year(year)));
    match *input {
        InputKey::Deal(f) => named(0, f),
        InputKey::Facility(i, f) => named(i, f),
        InputKey::Product(i, f) => named(i, f),
        InputKey::PriceDeck { product, year: y } => year(&schema::PRICES, product, y),
        InputKey::Fx(i, f) => named(i, f),
        InputKey::FxRate { series, year: y } => year(&schema::FX, series, y),
        InputKey::Cost(i, f) => named(i, f),
        InputKey::Fiscal(i, f) => named(i, f),
        InputKey::Party(i, f) => named(i, f),
        InputKey::DiscountRate { party, year: y } => year(
            &schema::DISCOUNT_RATES,
            rate_schedule_record(deal, party)?,
            y,
        ),
        InputKey::Offtake(i, f) => named(i, f),
        InputKey::PriceSupport(i, f) => named(i, f),
        InputKey::Tranche(i, f) => named(i, f),
        InputKey::Participant(at, f) => {
            named(participant_record(deal, at.tranche, at.participant)?, f)
        }
        InputKey::Override(at, f) => named(override_record(deal, at.scenario, at.index)?, f),
        InputKey::PricePath { .. } => None,
    }
}

/// The cell of an input of `deal` (the deal of a single-deal run).
pub fn key_cell(deal: &Deal, key: &Key) -> Option<CellRef> {
    if key.deal != DealId::FIRST {
        return None;
    }
    let (sheet, record, field) = place(deal, &key.input)?;
    inputs::input_cell(deal, sheet, record, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enum's fields are the keys of the sheet's declared columns, in order (so that a
    /// field without a column, or a column without a field, fails here), and by their
    /// column names the schema sheet's fields in order.
    fn check<F: Column + std::fmt::Debug>() {
        assert_eq!(
            F::declared(),
            F::ALL,
            "the columns declared for {:?}",
            F::ALL
        );
        let sheet = F::sheet();
        let mapped: Vec<&str> = F::ALL.iter().map(|f| f.column()).collect();
        let schema: Vec<&str> = sheet.fields.iter().map(|f| f.name).collect();
        assert_eq!(
            mapped,
            schema,
            "the fields of {:?} against sheet '{}'",
            F::ALL,
            sheet.name
        );
    }

    #[test]
    fn every_field_enum_maps_onto_its_sheet_one_to_one_in_order() {
        check::<DealField>();
        check::<FacilityField>();
        check::<ProductField>();
        check::<FxField>();
        check::<CostField>();
        check::<FiscalField>();
        check::<PartyField>();
        check::<OfftakeField>();
        check::<PriceSupportField>();
        check::<TrancheField>();
        check::<ParticipantField>();
        check::<OverrideField>();
    }

    #[test]
    fn keys_find_the_cells_of_the_canonical_layout() {
        let deal = crate::examples::example("ndpr-joint-facility").expect("example");
        let cases = [
            (InputKey::Deal(DealField::Horizon), Some("'Deal'!B5")),
            (
                InputKey::Facility(0, FacilityField::Nameplate),
                Some("'Facilities'!E2"),
            ),
            (
                InputKey::Facility(1, FacilityField::Ramp3),
                Some("'Facilities'!R3"),
            ),
            (InputKey::Facility(2, FacilityField::Nameplate), None),
            (
                InputKey::PriceDeck {
                    product: 0,
                    year: 2026,
                },
                Some("'Prices'!E2"),
            ),
            (
                InputKey::PriceDeck {
                    product: 0,
                    year: 2036,
                },
                None,
            ),
            (
                InputKey::Participant(
                    ParticipantAt {
                        tranche: 2,
                        participant: 2,
                    },
                    ParticipantField::Share,
                ),
                Some("'Participants'!C6"),
            ),
            (
                InputKey::Override(
                    OverrideAt {
                        scenario: 3,
                        index: 1,
                    },
                    OverrideField::Value,
                ),
                Some("'Scenarios'!G6"),
            ),
            (
                InputKey::DiscountRate {
                    party: 0,
                    year: 2030,
                },
                None,
            ),
            (
                InputKey::PricePath {
                    product: 0,
                    year: 2030,
                },
                None,
            ),
        ];
        for (input, want) in cases {
            let got = key_cell(&deal, &Key::of(input)).map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "case {input:?}");
        }
        let other = Key {
            deal: DealId(1),
            input: InputKey::Deal(DealField::Horizon),
        };
        assert_eq!(key_cell(&deal, &other), None, "another deal's key");
    }

    /// Every input the engine registers for the examples' scenarios (and a Monte Carlo
    /// build's) has a cell, except the simulated price paths, which no sheet holds.
    #[test]
    fn every_input_the_engine_reads_has_a_cell() {
        use crate::engine::rules;
        use crate::model::Scenario;
        for name in crate::examples::EXAMPLES {
            let deal = crate::examples::example(name).expect("example");
            let profiles = crate::engine::sculpt_profiles(&deal).expect("sculpt");
            let scenarios = std::iter::once(Scenario::base()).chain(deal.scenarios.clone());
            for (k, s) in scenarios.enumerate() {
                let built = rules::build_with(&deal, &s, &profiles, k == 0).expect("build");
                for def in &built.calc.inputs {
                    let cell = key_cell(&deal, &def.key);
                    let path = matches!(def.key.input, InputKey::PricePath { .. });
                    assert_eq!(
                        cell.is_none(),
                        path,
                        "{name}, {}: {:?}",
                        s.name.value,
                        def.key
                    );
                }
            }
        }
    }
}
