//! Typed keys of the deal's inputs: a path in the model (tranche 2's interest rate,
//! participant 1 of tranche 0, override 3 of scenario 1, the 2031 point of product 0's
//! price deck), scoped to a deal.
//!
//! The engine registers every input it reads under such a key; only `excel::inputs` knows
//! which sheet, row and column holds it. Owns the key types and one field enum per kind of
//! record. Must not name a sheet or a column: no text here says where a value is typed.

use super::{Phase, Year};

/// Declares a field enum with `ALL`, every variant in the order of the record's columns.
macro_rules! fields {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every field, in the order of the record's columns.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }
    };
}

fields!(
    /// A key of the deal's own terms.
    DealField {
        Name,
        Currency,
        StartDate,
        Horizon,
        Discounting,
        DiscountRate,
        ProjectCompany,
        FinancialCloseYear,
        TaxHomeCountry,
        SubsidyBasis,
        CompletionSupport,
        LedgerPrecision,
    }
);

fields!(
    /// A field of a facility.
    FacilityField {
        Name,
        Kind,
        Country,
        Product,
        Nameplate,
        FeedSource,
        FeedProduct,
        Recovery,
        TransferPricing,
        TransferPrice,
        StartYear,
        Exploration,
        Feasibility,
        Permitting,
        Construction,
        Ramp1,
        Ramp2,
        Ramp3,
        Ramp4,
        Ramp5,
        Operations,
        Closure,
        GateExploration,
        GateFeasibility,
        GatePermitting,
        GateConstruction,
        FeedShare,
    }
);

/// The ramp-up steps a facility can hold (`FacilityField::ramp`).
pub const RAMP_STEPS: usize = 5;

impl FacilityField {
    /// The k-th (from 0) step of the ramp-up profile, if the record has room for it.
    pub fn ramp(k: usize) -> Option<FacilityField> {
        use FacilityField::*;
        [Ramp1, Ramp2, Ramp3, Ramp4, Ramp5].get(k).copied()
    }

    /// The probability of passing the gate at the end of `phase` (construction's for any
    /// phase after it).
    pub fn gate(phase: Phase) -> FacilityField {
        match phase {
            Phase::Exploration => FacilityField::GateExploration,
            Phase::Feasibility => FacilityField::GateFeasibility,
            Phase::Permitting => FacilityField::GatePermitting,
            _ => FacilityField::GateConstruction,
        }
    }

    /// The phase whose gate this field is the probability of.
    pub fn gate_phase(self) -> Option<Phase> {
        match self {
            FacilityField::GateExploration => Some(Phase::Exploration),
            FacilityField::GateFeasibility => Some(Phase::Feasibility),
            FacilityField::GatePermitting => Some(Phase::Permitting),
            FacilityField::GateConstruction => Some(Phase::Construction),
            _ => None,
        }
    }
}

fields!(
    /// A field of a product (its price deck's points are `InputKey::PriceDeck`).
    ProductField { Name, Unit, Currency, Escalation }
);

fields!(
    /// A field of an FX series (its points are `InputKey::Fx`).
    FxField { Currency }
);

fields!(
    /// A field of a cost line.
    CostField { Facility, Item, Category, Basis, Phase, Amount, Escalation, BaseYear }
);

fields!(
    /// A field of a country's fiscal regime.
    FiscalField {
        Country,
        RoyaltyConcentrate,
        RoyaltyRefined,
        RoyaltyPayee,
        TaxRate,
        TaxAuthority,
        Depreciation,
        LossCarryForward,
        PtcRate,
        PtcCategories,
        PtcFacilities,
        PtcFirstYear,
        PtcLastYear,
        PtcRefundable,
    }
);

fields!(
    /// A field of a party (its rate schedule's points are `InputKey::DiscountRate`).
    PartyField { Name, Kind, Country, DiscountRate }
);

fields!(
    /// A field of an offtake contract.
    OfftakeField {
        Name,
        Product,
        Buyer,
        Share,
        StartYear,
        EndYear,
        Pricing,
        Discount,
        FixedPrice,
        Floor,
        Cap,
        TakeOrPay,
    }
);

fields!(
    /// A field of a price-floor support.
    PriceSupportField {
        Name,
        Product,
        Supporter,
        Floor,
        CoveredShare,
        UpsideShare,
        UpsideThreshold,
        StartYear,
        EndYear,
    }
);

fields!(
    /// A field of a financing tranche.
    TrancheField {
        Name,
        Kind,
        Rank,
        Commitment,
        DrawPriority,
        InterestRate,
        UpfrontFee,
        CommitmentFee,
        CapitaliseInterest,
        Grace,
        Tenor,
        Repayment,
        TargetDscr,
        DsraMonths,
        LockupDscr,
        FundsOverruns,
        OverrunCap,
        Covers,
        Coverage,
        GuaranteeKind,
        Shareholding,
    }
);

fields!(
    /// A field of a tranche's participant.
    ParticipantField { Tranche, Party, Share }
);

fields!(
    /// A field of a scenario's override.
    OverrideField {
        Scenario,
        Kind,
        Product,
        Facility,
        Phase,
        Party,
        Value,
        StartYear,
        FallYears,
        BottomYears,
        RecoveryYears,
        Haircut,
    }
);

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
