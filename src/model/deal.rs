//! The deal's types, one per thing a modeller names in the workbook (DESIGN.md §3).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{Money, Rate, Sourced, Year};

/// Declares an enumeration whose variants a user picks from a dropdown: each variant has
/// the label shown in the workbook, and `parse` accepts that label case-insensitively
/// (with `-`, `_` and spaces treated alike).
macro_rules! labelled_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in the order the workbook's dropdown lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label a user sees and types.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Reads a label, forgiving case and `-`/`_`/space differences.
            pub fn parse(text: &str) -> Option<$name> {
                let want = normalise_label(text);
                Self::ALL.iter().copied().find(|v| normalise_label(v.label()) == want)
            }

            /// The labels, for dropdowns and error messages.
            pub fn labels() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.label()).collect()
            }
        }

        impl Labelled for $name {
            fn all() -> &'static [Self] {
                Self::ALL
            }
            fn label(self) -> &'static str {
                $name::label(self)
            }
            fn parse(text: &str) -> Option<Self> {
                $name::parse(text)
            }
        }

        /// The first variant: a placeholder before a cell is read (records that default a
        /// choice to another variant say so in their own `Default`).
        impl Default for $name {
            fn default() -> Self {
                Self::ALL[0]
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

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

/// A choice a user picks from a dropdown (every `labelled_enum!`): what the reader and the
/// writer need to read and write any of them.
pub trait Labelled: Copy + PartialEq + 'static {
    /// Every variant, in dropdown order.
    fn all() -> &'static [Self];
    /// The label a user sees and types.
    fn label(self) -> &'static str;
    /// Reads a label, forgiving case and `-`/`_`/space differences.
    fn parse(text: &str) -> Option<Self>;
}

/// Lower-cases and folds `-`, `_` and runs of spaces into one space.
pub fn normalise_label(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .replace(['-', '_'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

labelled_enum!(
    /// When in the year cash flows are assumed to occur for discounting.
    Discounting { EndOfYear => "end-of-year", MidYear => "mid-year" }
);

labelled_enum!(
    /// What a loan's subsidy cost is a share of: the present value of its disbursements at
    /// the government's rate, or the disbursements as paid.
    SubsidyBasis { PresentValue => "PV of disbursements", Nominal => "disbursements" }
);

labelled_enum!(
    /// What a facility does; it decides which royalty rate applies.
    FacilityKind { Mine => "mine", Concentrator => "concentrator", Refinery => "refinery" }
);

labelled_enum!(
    /// The phases of a facility's life, back to back from its start year.
    Phase {
        Exploration => "exploration",
        Feasibility => "feasibility",
        Permitting => "permitting",
        Construction => "construction",
        RampUp => "ramp-up",
        Operations => "operations",
        Closure => "closure",
        Production => "production",
    }
);

impl Phase {
    /// The phases that occupy time in a schedule, in order (`Production` is ramp-up plus
    /// operations, a convenience for cost lines, not a phase of its own).
    pub const SCHEDULED: [Phase; 7] = [
        Phase::Exploration,
        Phase::Feasibility,
        Phase::Permitting,
        Phase::Construction,
        Phase::RampUp,
        Phase::Operations,
        Phase::Closure,
    ];
}

labelled_enum!(
    /// How a refinery or concentrator values the feed it takes from a mine of the deal.
    TransferPricing { Market => "market", Cost => "cost", Fixed => "fixed" }
);

labelled_enum!(
    /// The unit a price deck is quoted in.
    PriceUnit { PerTonne => "per t", PerKg => "per kg" }
);

impl PriceUnit {
    /// How many price units make a tonne.
    pub fn per_tonne_factor(self) -> Decimal {
        match self {
            PriceUnit::PerTonne => Decimal::ONE,
            PriceUnit::PerKg => Decimal::ONE_THOUSAND,
        }
    }
}

labelled_enum!(
    /// What a cost line is, which decides its tax treatment and which scenarios move it.
    CostCategory {
        Exploration => "exploration",
        DevelopmentCapex => "development capex",
        SustainingCapex => "sustaining capex",
        FixedOpex => "fixed opex",
        VariableOpex => "variable opex",
        FeedPurchase => "feed purchase",
        Environmental => "environmental",
        ResidueHandling => "residue handling",
        Rehabilitation => "rehabilitation",
    }
);

impl CostCategory {
    /// Capital costs are depreciated for tax; every other category is deducted when paid.
    pub fn is_capital(self) -> bool {
        matches!(
            self,
            CostCategory::DevelopmentCapex | CostCategory::SustainingCapex
        )
    }

    /// Operating costs, which an opex multiplier scales.
    pub fn is_operating(self) -> bool {
        matches!(
            self,
            CostCategory::FixedOpex
                | CostCategory::VariableOpex
                | CostCategory::FeedPurchase
                | CostCategory::Environmental
                | CostCategory::ResidueHandling
        )
    }
}

labelled_enum!(
    /// How a cost line's amount turns into annual cost.
    CostBasis {
        TotalOverPhase => "total over phase",
        PerYear => "per year",
        PerTonne => "per tonne",
        PercentOfRevenue => "% of revenue",
    }
);

labelled_enum!(
    /// Who a party is; governments get fiscal metrics, lenders debt metrics.
    PartyKind {
        Sponsor => "sponsor",
        Bank => "bank",
        Government => "government",
        Offtaker => "offtaker",
        Other => "other",
    }
);

labelled_enum!(
    /// How an offtake contract prices the product.
    PricingKind { Market => "market", Fixed => "fixed", Floor => "floor", Collar => "collar" }
);

labelled_enum!(
    /// The kinds of money in the capital structure.
    TrancheKind {
        Equity => "equity",
        SeniorDebt => "senior debt",
        SubordinatedDebt => "subordinated debt",
        ConcessionalLoan => "concessional loan",
        FirstLoss => "first-loss",
        Grant => "grant",
        Guarantee => "guarantee",
    }
);

impl TrancheKind {
    /// Loans carry interest and a repayment schedule; first-loss money is a loan that
    /// ranks below every other loan.
    pub fn is_loan(self) -> bool {
        matches!(
            self,
            TrancheKind::SeniorDebt
                | TrancheKind::SubordinatedDebt
                | TrancheKind::ConcessionalLoan
                | TrancheKind::FirstLoss
        )
    }

    /// Tranches that put cash into the project during construction.
    pub fn is_funding(self) -> bool {
        !matches!(self, TrancheKind::Guarantee)
    }
}

labelled_enum!(
    /// What a guarantee pays: the covered share of each missed payment of debt service when
    /// it is missed (repaid to the guarantor from later recoveries, at the loan's rank), or
    /// the covered share of the loss given default in the default year.
    GuaranteeKind { DebtService => "debt service", Loss => "loss" }
);

labelled_enum!(
    /// When the operating waterfall tops up the loans' debt service reserves: right after
    /// each rank's interest and principal (a senior reserve before junior debt service), or
    /// after every rank's debt service (junior lenders paid before senior reserves).
    ReserveFunding { EachRank => "after each rank", AllDebtService => "after all debt service" }
);

labelled_enum!(
    /// Who meets a construction funding gap beyond every committed source: the sponsors by
    /// shareholding (completion support), or nobody, which makes the gap a failed check.
    CompletionSupport { Shareholding => "by shareholding", NoSupport => "none" }
);

labelled_enum!(
    /// How a loan's principal is scheduled over its repayment years.
    Repayment {
        Annuity => "annuity",
        StraightLine => "straight-line",
        Bullet => "bullet",
        Sculpted => "sculpted",
    }
);

labelled_enum!(
    /// The kinds of scenario override (DESIGN.md §3, Scenarios).
    OverrideKind {
        PriceCrash => "price crash",
        PriceMultiplier => "price multiplier",
        CapexOverrun => "capex overrun",
        Delay => "delay",
        RampMultiplier => "ramp multiplier",
        OpexMultiplier => "opex multiplier",
        DiscountRateChange => "discount rate change",
        OfftakeUptake => "offtake uptake",
    }
);

/// The most characters of text a deal may hold in one value: what an Excel cell holds.
pub const MAX_TEXT_CHARS: usize = 32_767;
/// The longest name (of a facility, product, party, tranche, scenario, country…): names label
/// the results' lines, sheets and chart series, and Excel limits a series name to 255.
pub const MAX_NAME_CHARS: usize = 255;

/// The whole deal, as read from a workbook and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    pub name: Sourced<String>,
    /// ISO code of the deal currency; every amount not marked otherwise is in it.
    pub currency: Sourced<String>,
    /// Period t runs from the (t−1)th to the t-th anniversary of this date.
    pub start_date: Sourced<NaiveDate>,
    pub horizon_years: Sourced<u32>,
    pub discounting: Sourced<Discounting>,
    /// The project's own rate, used for its unlevered and risked values.
    pub discount_rate: Sourced<Rate>,
    /// The project company (SPV), a party of the ledger.
    pub project_name: Sourced<String>,
    /// The year debt becomes available; before it only equity funds the project.
    /// None: the first year any facility starts construction.
    pub financial_close_year: Option<Sourced<Year>>,
    /// Where interest and fees are deducted for tax. None: the first facility's country.
    pub tax_home_country: Option<Sourced<String>>,
    /// What a government's subsidy cost of a loan is a share of.
    pub subsidy_basis: Sourced<SubsidyBasis>,
    /// Who meets a construction funding gap beyond the committed money.
    pub completion_support: Sourced<CompletionSupport>,
    /// Decimal places every ledger amount is rounded to (Excel's ROUND, half away from
    /// zero): 2 books to the cent.
    pub ledger_precision: Sourced<u32>,
    /// Where the waterfall funds debt service reserves.
    pub reserve_funding: Sourced<ReserveFunding>,
    pub facilities: Vec<Facility>,
    pub products: Vec<Product>,
    pub fx: Vec<FxSeries>,
    pub costs: Vec<CostLine>,
    pub fiscal: Vec<FiscalRegime>,
    pub parties: Vec<Party>,
    pub offtakes: Vec<Offtake>,
    pub price_supports: Vec<PriceSupport>,
    pub tranches: Vec<Tranche>,
    pub scenarios: Vec<Scenario>,
    pub monte_carlo: Option<MonteCarlo>,
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
        ReserveFunding,
    }
);

impl Deal {
    /// The calendar year the first period starts in; periods are labelled by start year.
    pub fn first_year(&self) -> Year {
        chrono::Datelike::year(&self.start_date.value)
    }

    /// The last period's label year.
    pub fn last_year(&self) -> Year {
        self.first_year() + self.horizon_years.value as Year - 1
    }

    pub fn facility(&self, name: &str) -> Option<&Facility> {
        self.facilities.iter().find(|f| f.name.value == name)
    }

    pub fn product(&self, name: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.name.value == name)
    }

    pub fn party(&self, name: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.name.value == name)
    }

    pub fn tranche(&self, name: &str) -> Option<&Tranche> {
        self.tranches.iter().find(|t| t.name.value == name)
    }

    pub fn fiscal_regime(&self, country: &str) -> Option<&FiscalRegime> {
        self.fiscal.iter().find(|f| f.country.value == country)
    }
}

/// A mine, concentrator or refinery, with its phase schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Facility {
    pub name: Sourced<String>,
    pub kind: Sourced<FacilityKind>,
    pub country: Sourced<String>,
    /// The product it sells (a row of the Prices sheet, or a product only transferred).
    pub product: Sourced<String>,
    /// Output at full capacity, tonnes of product per year.
    pub nameplate: Sourced<Decimal>,
    /// Where its feed comes from; None for a mine.
    pub feed: Option<Feed>,
    /// The year exploration starts (the first phase with a non-zero duration starts here).
    pub start_year: Sourced<Year>,
    pub exploration_years: Sourced<u32>,
    pub feasibility_years: Sourced<u32>,
    pub permitting_years: Sourced<u32>,
    pub construction_years: Sourced<u32>,
    /// % of nameplate in each ramp-up year; its length is the ramp-up duration.
    pub ramp: Vec<Sourced<Rate>>,
    pub operations_years: Sourced<u32>,
    pub closure_years: Sourced<u32>,
    /// Probability of passing the gate at the end of exploration, feasibility,
    /// permitting and construction.
    pub gates: StageGates,
}

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

impl Facility {
    /// The duration of a scheduled phase in the base case.
    pub fn phase_years(&self, phase: Phase) -> u32 {
        match phase {
            Phase::Exploration => self.exploration_years.value,
            Phase::Feasibility => self.feasibility_years.value,
            Phase::Permitting => self.permitting_years.value,
            Phase::Construction => self.construction_years.value,
            Phase::RampUp => self.ramp.len() as u32,
            Phase::Operations => self.operations_years.value,
            Phase::Closure => self.closure_years.value,
            Phase::Production => self.ramp.len() as u32 + self.operations_years.value,
        }
    }
}

/// The probabilities of passing each stage gate (1 = certain).
#[derive(Debug, Clone, PartialEq)]
pub struct StageGates {
    pub exploration: Sourced<Rate>,
    pub feasibility: Sourced<Rate>,
    pub permitting: Sourced<Rate>,
    pub construction: Sourced<Rate>,
}

impl StageGates {
    /// Every gate passes for sure.
    pub fn certain() -> Self {
        StageGates {
            exploration: Sourced::bare(Decimal::ONE),
            feasibility: Sourced::bare(Decimal::ONE),
            permitting: Sourced::bare(Decimal::ONE),
            construction: Sourced::bare(Decimal::ONE),
        }
    }

    /// (phase whose end is the gate, probability), in schedule order.
    pub fn in_order(&self) -> [(Phase, &Sourced<Rate>); 4] {
        [
            (Phase::Exploration, &self.exploration),
            (Phase::Feasibility, &self.feasibility),
            (Phase::Permitting, &self.permitting),
            (Phase::Construction, &self.construction),
        ]
    }
}

/// A processing facility's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub source: FeedSource,
    /// Tonnes of output per tonne of feed.
    pub recovery: Sourced<Rate>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedSource {
    /// A mine (or concentrator) of this deal; its output is shared between the facilities it
    /// feeds (by their feed shares, or pro rata to what each can take).
    Facility {
        name: Sourced<String>,
        pricing: Sourced<TransferPricing>,
        /// Price per tonne in the deal currency, for fixed transfer pricing.
        price: Option<Sourced<Money>>,
        /// The share of the source's output this facility may take as feed. None: the
        /// source's output is shared pro rata to what each facility it feeds can take.
        share: Option<Sourced<Rate>>,
    },
    /// Bought at the market price of a product on the Prices sheet.
    Market { product: Sourced<String> },
}

/// A price deck: one product's price by year, flat (or escalated) after the last year.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Product {
    pub name: Sourced<String>,
    pub unit: Sourced<PriceUnit>,
    /// The deck's currency; converted to the deal currency through the FX sheet.
    pub currency: Sourced<String>,
    /// Yearly escalation after the deck's last year (0: flat).
    pub escalation: Sourced<Rate>,
    /// (year, price), years ascending and consecutive.
    pub deck: Vec<(Year, Sourced<Decimal>)>,
}

fields!(
    /// A field of a product (its price deck's points are `InputKey::PriceDeck`).
    ProductField { Name, Unit, Currency, Escalation }
);

/// An exchange-rate series: deal currency per one unit of `currency`, by year, flat after
/// the last year.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FxSeries {
    pub currency: Sourced<String>,
    pub rates: Vec<(Year, Sourced<Decimal>)>,
}

fields!(
    /// A field of an FX series (its points are `InputKey::Fx`).
    FxField { Currency }
);

/// One cost line of one facility.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostLine {
    pub facility: Sourced<String>,
    pub item: Sourced<String>,
    pub category: Sourced<CostCategory>,
    pub basis: Sourced<CostBasis>,
    /// When the cost is incurred; required for total and per-year bases, optional (any
    /// producing year) for per-tonne and % of revenue.
    pub phase: Option<Sourced<Phase>>,
    /// Deal currency (total, per year, per tonne) or a fraction (% of revenue).
    pub amount: Sourced<Decimal>,
    /// Yearly escalation of the amount from the base year.
    pub escalation: Sourced<Rate>,
    /// The year the amount is priced in. None: the model's first year.
    pub base_year: Option<Sourced<Year>>,
}

fields!(
    /// A field of a cost line.
    CostField { Facility, Item, Category, Basis, Phase, Amount, Escalation, BaseYear }
);

/// A host country's fiscal terms.
#[derive(Debug, Clone, PartialEq)]
pub struct FiscalRegime {
    pub country: Sourced<String>,
    /// Royalty on the sales value of mines and concentrators.
    pub royalty_concentrate: Sourced<Rate>,
    /// Royalty on the sales value of refineries.
    pub royalty_refined: Sourced<Rate>,
    /// The party that receives royalties.
    pub royalty_payee: Sourced<String>,
    pub tax_rate: Sourced<Rate>,
    /// The party that receives company tax and pays tax credits.
    pub tax_authority: Sourced<String>,
    /// Straight-line tax life of capital costs, from first production.
    pub depreciation_years: Sourced<u32>,
    pub loss_carry_forward: Sourced<bool>,
    pub production_tax_credit: Option<ProductionTaxCredit>,
}

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

/// A tax credit on eligible processing costs (Australia's 10% production tax incentive).
#[derive(Debug, Clone, PartialEq)]
pub struct ProductionTaxCredit {
    pub rate: Sourced<Rate>,
    pub categories: Sourced<Vec<CostCategory>>,
    pub facility_kinds: Sourced<Vec<FacilityKind>>,
    pub first_year: Sourced<Year>,
    pub last_year: Sourced<Year>,
    /// Refundable: paid in cash where it exceeds tax. Otherwise it offsets tax and the
    /// unused part is carried forward.
    pub refundable: Sourced<bool>,
}

/// Everyone who pays or receives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Party {
    pub name: Sourced<String>,
    pub kind: Sourced<PartyKind>,
    pub country: Option<Sourced<String>>,
    pub discount_rate: Sourced<Rate>,
    /// A per-year rate schedule (flat after its last year), overriding `discount_rate`.
    pub rate_schedule: Vec<(Year, Sourced<Rate>)>,
}

fields!(
    /// A field of a party (its rate schedule's points are `InputKey::DiscountRate`).
    PartyField { Name, Kind, Country, DiscountRate }
);

/// An offtake contract: a buyer's share of a product's output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Offtake {
    pub name: Sourced<String>,
    pub product: Sourced<String>,
    pub buyer: Sourced<String>,
    /// Share of the product's sellable output.
    pub share: Sourced<Rate>,
    pub start_year: Sourced<Year>,
    pub end_year: Sourced<Year>,
    pub pricing: Sourced<PricingKind>,
    /// Discount to the market price (market, floor and collar pricing).
    pub discount: Sourced<Rate>,
    /// Fixed price, floor and cap in the product's unit and currency.
    pub fixed_price: Option<Sourced<Decimal>>,
    pub floor: Option<Sourced<Decimal>>,
    pub cap: Option<Sourced<Decimal>>,
    /// Share of the contracted volume the buyer pays for even when it takes less.
    pub take_or_pay: Sourced<Rate>,
}

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

/// A party (usually a government) that pays the gap when market < floor, and may take a
/// share of the upside above a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSupport {
    pub name: Sourced<String>,
    pub product: Sourced<String>,
    pub supporter: Sourced<String>,
    /// In the product's unit and currency.
    pub floor: Sourced<Decimal>,
    /// Share of the product's sales volume covered.
    pub covered_share: Sourced<Rate>,
    pub upside_share: Sourced<Rate>,
    /// Price above which the upside is shared. None: the floor.
    pub upside_threshold: Option<Sourced<Decimal>>,
    pub start_year: Sourced<Year>,
    pub end_year: Sourced<Year>,
}

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

/// A tranche of the capital structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Tranche {
    pub name: Sourced<String>,
    pub kind: Sourced<TrancheKind>,
    /// 1 = most senior; the waterfall pays by rank.
    pub rank: Sourced<u32>,
    /// Funding tranches: the most they provide. Guarantees: the cap on calls.
    pub commitment: Sourced<Money>,
    /// Lower draws first; equal priorities draw pro rata.
    pub draw_priority: Sourced<u32>,
    pub interest_rate: Sourced<Rate>,
    /// % of commitment, paid at financial close.
    pub upfront_fee: Sourced<Rate>,
    /// % a year on the undrawn commitment; for guarantees, % a year on the guaranteed
    /// exposure.
    pub commitment_fee: Sourced<Rate>,
    /// Interest during construction is added to the balance rather than paid.
    pub capitalise_interest: Sourced<bool>,
    /// Years after construction during which only interest is paid.
    pub grace_years: Sourced<u32>,
    /// Years after construction by which the loan is repaid (grace included).
    pub tenor_years: Sourced<u32>,
    pub repayment: Sourced<Repayment>,
    pub target_dscr: Option<Sourced<Decimal>>,
    /// Debt service reserve: months of next year's debt service.
    pub dsra_months: Sourced<Decimal>,
    /// Distributions stop while this tranche's DSCR is below this.
    pub lockup_dscr: Option<Sourced<Decimal>>,
    /// Standby money, drawn only for costs beyond the other tranches' commitments.
    pub funds_overruns: Sourced<bool>,
    /// Equity only: extra equity the sponsors put in for overruns beyond the commitment.
    pub overrun_cap: Sourced<Money>,
    /// Guarantees: the tranche covered, and the share of its loss paid.
    pub covers: Option<Sourced<String>>,
    pub coverage: Sourced<Rate>,
    /// Guarantees: debt service (pays missed payments when missed) or loss (pays the loss
    /// given default in the default year).
    pub guarantee_kind: Sourced<GuaranteeKind>,
    /// Equity only: share of distributions. None: pro rata to commitment.
    pub shareholding: Option<Sourced<Rate>>,
    /// Loans: extra yearly interest on what is in arrears (missed interest and principal).
    pub default_margin: Sourced<Rate>,
    /// Who funds it and in what shares (summing to 100%).
    pub participants: Vec<Participant>,
}

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
        DefaultMargin,
    }
);

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Participant {
    pub party: Sourced<String>,
    pub share: Sourced<Rate>,
}

fields!(
    /// A field of a tranche's participant.
    ParticipantField { Tranche, Party, Share }
);

/// A named set of overrides of the base case.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: Sourced<String>,
    pub overrides: Vec<Override>,
}

/// One override: what it changes and by how much. Which fields matter depends on the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub kind: Sourced<OverrideKind>,
    /// Price crash, price multiplier, offtake uptake: the product (None: all products).
    pub product: Option<Sourced<String>>,
    /// Capex overrun, delay, ramp and opex multipliers: the facility (None: all).
    pub facility: Option<Sourced<String>>,
    /// Delay: the phase that takes longer.
    pub phase: Option<Sourced<Phase>>,
    /// Discount rate change: the party (None: every party and the project).
    pub party: Option<Sourced<String>>,
    /// Crash depth, multiplier, overrun %, delay years, rate change.
    pub value: Sourced<Decimal>,
    /// Price crash: the year the fall starts.
    pub start_year: Option<Sourced<Year>>,
    /// Price crash shape: years of the fall (≥ 1), at the bottom, and of the recovery.
    pub fall_years: Sourced<u32>,
    pub bottom_years: Sourced<u32>,
    pub recovery_years: Sourced<u32>,
    /// Price crash: the share of the price lost for good after the recovery.
    pub haircut: Sourced<Rate>,
}

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

/// Monte Carlo settings (the Monte Carlo sheet): a price process per simulated product and
/// the correlation of their yearly shocks. Products not listed keep their deck.
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarlo {
    pub processes: Vec<PriceProcess>,
}

impl MonteCarlo {
    /// The most products simulated together: their correlation matrix is read, checked and
    /// factorised whole (its size grows with the square of the count, its factorisation
    /// with the cube), so a sheet of thousands of rows must be refused before it is built.
    pub const MAX_PRODUCTS: usize = 100;
}

/// One product's simulated price: its log deviation from the deck reverts towards zero, is
/// shaken each year by a normal shock and, now and then, by a crash (a Poisson number of
/// jumps, each a normal fall in the log price).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceProcess {
    /// A product of the Prices sheet.
    pub product: Sourced<String>,
    /// Standard deviation of the yearly shock to the log price (0.4 is 40% a year).
    pub volatility: Sourced<Rate>,
    /// Speed of reversion to the deck, per year: a gap closes by 1 − e^(−speed) in a year.
    pub reversion: Sourced<Decimal>,
    /// Expected crashes per year.
    pub jump_intensity: Sourced<Decimal>,
    /// The median crash as a fall in price (0.3: the price drops to 70% of its level).
    pub jump_mean: Sourced<Rate>,
    /// Standard deviation of a crash's size in log terms.
    pub jump_spread: Sourced<Decimal>,
    /// Correlation of this product's shocks with those of each product listed above it (the
    /// lower triangle of the matrix, in sheet order).
    pub correlations: Vec<Sourced<Decimal>>,
}

impl MonteCarlo {
    /// The full correlation matrix in sheet order: 1 on the diagonal, symmetric.
    pub fn matrix(&self) -> Vec<Vec<Decimal>> {
        let n = self.processes.len();
        let mut m = vec![vec![Decimal::ZERO; n]; n];
        for (i, p) in self.processes.iter().enumerate() {
            m[i][i] = Decimal::ONE;
            for (j, rho) in p.correlations.iter().enumerate().take(i) {
                m[i][j] = rho.value;
                m[j][i] = rho.value;
            }
        }
        m
    }
}

impl Scenario {
    /// The name of the implicit base case.
    pub const BASE: &'static str = "Base";

    /// The base case: no overrides.
    pub fn base() -> Self {
        Scenario {
            name: Sourced::bare(Self::BASE.to_string()),
            overrides: Vec::new(),
        }
    }
}

// ----- Records before their cells are read ----------------------------------------------------
//
// Each record's `Default` is what the reader starts from: every required field a placeholder,
// every optional one at the schema's default (a test in `excel::schema` checks that each
// agrees with the default the template documents and the reader applies to a blank), so
// code that builds records (the examples, tests) writes `..Tranche::default()` and a new
// field needs no edit there.

impl Default for Deal {
    fn default() -> Self {
        Deal {
            name: Sourced::default(),
            currency: Sourced::default(),
            start_date: Sourced::default(),
            horizon_years: Sourced::default(),
            discounting: Sourced::bare(Discounting::EndOfYear),
            discount_rate: Sourced::default(),
            project_name: Sourced::bare("Project".to_string()),
            financial_close_year: None,
            tax_home_country: None,
            subsidy_basis: Sourced::bare(SubsidyBasis::PresentValue),
            completion_support: Sourced::bare(CompletionSupport::Shareholding),
            ledger_precision: Sourced::bare(super::DEFAULT_LEDGER_PRECISION),
            reserve_funding: Sourced::bare(ReserveFunding::EachRank),
            facilities: Vec::new(),
            products: Vec::new(),
            fx: Vec::new(),
            costs: Vec::new(),
            fiscal: Vec::new(),
            parties: Vec::new(),
            offtakes: Vec::new(),
            price_supports: Vec::new(),
            tranches: Vec::new(),
            scenarios: Vec::new(),
            monte_carlo: None,
        }
    }
}

impl Default for Facility {
    fn default() -> Self {
        Facility {
            name: Sourced::default(),
            kind: Sourced::default(),
            country: Sourced::default(),
            product: Sourced::default(),
            nameplate: Sourced::default(),
            feed: None,
            start_year: Sourced::default(),
            exploration_years: Sourced::default(),
            feasibility_years: Sourced::default(),
            permitting_years: Sourced::default(),
            construction_years: Sourced::default(),
            ramp: Vec::new(),
            operations_years: Sourced::default(),
            closure_years: Sourced::default(),
            gates: StageGates::certain(),
        }
    }
}

impl Default for FiscalRegime {
    fn default() -> Self {
        FiscalRegime {
            country: Sourced::default(),
            royalty_concentrate: Sourced::default(),
            royalty_refined: Sourced::default(),
            royalty_payee: Sourced::default(),
            tax_rate: Sourced::default(),
            tax_authority: Sourced::default(),
            depreciation_years: Sourced::bare(10),
            loss_carry_forward: Sourced::bare(true),
            production_tax_credit: None,
        }
    }
}

impl Default for PriceSupport {
    fn default() -> Self {
        PriceSupport {
            name: Sourced::default(),
            product: Sourced::default(),
            supporter: Sourced::default(),
            floor: Sourced::default(),
            covered_share: Sourced::bare(Decimal::ONE),
            upside_share: Sourced::default(),
            upside_threshold: None,
            start_year: Sourced::default(),
            end_year: Sourced::default(),
        }
    }
}

impl Default for Tranche {
    fn default() -> Self {
        Tranche {
            name: Sourced::default(),
            kind: Sourced::default(),
            rank: Sourced::default(),
            commitment: Sourced::default(),
            draw_priority: Sourced::bare(1),
            interest_rate: Sourced::default(),
            upfront_fee: Sourced::default(),
            commitment_fee: Sourced::default(),
            capitalise_interest: Sourced::default(),
            grace_years: Sourced::default(),
            tenor_years: Sourced::default(),
            repayment: Sourced::bare(Repayment::Annuity),
            target_dscr: None,
            dsra_months: Sourced::default(),
            lockup_dscr: None,
            funds_overruns: Sourced::default(),
            overrun_cap: Sourced::default(),
            covers: None,
            coverage: Sourced::bare(Decimal::ONE),
            guarantee_kind: Sourced::bare(GuaranteeKind::DebtService),
            shareholding: None,
            default_margin: Sourced::default(),
            participants: Vec::new(),
        }
    }
}

impl Default for Override {
    fn default() -> Self {
        Override {
            kind: Sourced::default(),
            product: None,
            facility: None,
            phase: None,
            party: None,
            value: Sourced::default(),
            start_year: None,
            fall_years: Sourced::bare(1),
            bottom_years: Sourced::default(),
            recovery_years: Sourced::default(),
            haircut: Sourced::default(),
        }
    }
}
