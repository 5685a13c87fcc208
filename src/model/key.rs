//! Typed keys of the deal's inputs: a path in the model (tranche 2's interest rate,
//! participant 1 of tranche 0, override 3 of scenario 1, the 2031 point of product 0's
//! price deck), scoped to a deal.
//!
//! The engine registers every input it reads under such a key; only `excel` knows which
//! sheet, row and column holds it. Owns the key types; each record's field enum is declared
//! beside its record in `deal.rs` and re-exported here. Must not name a sheet or a column:
//! no text here says where a value is typed.

use super::Year;
pub use super::deal::{
    CostField, DealField, FacilityField, FiscalField, FxField, OfftakeField, OverrideField,
    ParticipantField, PartyField, PriceSupportField, ProductField, RAMP_STEPS, TrancheField,
};

/// Participant `participant` (from 0) of tranche `tranche`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantAt {
    pub tranche: usize,
    pub participant: usize,
}

/// Override `index` (from 0) of scenario `scenario` (an index into `Deal::scenarios`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OverrideAt {
    pub scenario: usize,
    pub index: usize,
}

/// An input of one deal: a record of the model (by its index in the deal's list) and a
/// field of it, or a point of a time series by year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKey {
    Deal(DealField),
    Facility(usize, FacilityField),
    Product(usize, ProductField),
    /// A point of product `product`'s price deck.
    PriceDeck {
        product: usize,
        year: Year,
    },
    Fx(usize, FxField),
    /// A point of FX series `series`.
    FxRate {
        series: usize,
        year: Year,
    },
    Cost(usize, CostField),
    Fiscal(usize, FiscalField),
    Party(usize, PartyField),
    /// A point of party `party`'s discount-rate schedule.
    DiscountRate {
        party: usize,
        year: Year,
    },
    Offtake(usize, OfftakeField),
    PriceSupport(usize, PriceSupportField),
    Tranche(usize, TrancheField),
    Participant(ParticipantAt, ParticipantField),
    Override(OverrideAt, OverrideField),
    /// A simulated price multiplier of a Monte Carlo path: no cell of the deal holds it.
    PricePath {
        product: usize,
        year: Year,
    },
}

/// Which deal of a run an input belongs to. A run computes one deal today (`DealId::FIRST`);
/// a portfolio will number its deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DealId(pub u32);

impl DealId {
    /// The deal of a single-deal run.
    pub const FIRST: DealId = DealId(0);
}

/// An input of a run: which deal, and where in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub deal: DealId,
    pub input: InputKey,
}

impl Key {
    /// An input of the deal of a single-deal run.
    pub fn of(input: InputKey) -> Key {
        Key {
            deal: DealId::FIRST,
            input,
        }
    }
}
