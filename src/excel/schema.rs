//! The deal workbook's layout: every sheet, column and key a modeller types, declared once
//! as a `Column`: the model field it holds (its key, for the engine), its header, unit,
//! type, default and meaning, and how it moves between the record and its cell (`access`).
//! The one source for the reader (which headers to look for, how each value is read), the
//! template and input writer (headers, notes, dropdowns, each record's cells), the engine's
//! input cells (`keys`) and the README's tables. A sheet's `fields` are its columns' schema
//! halves.
//!
//! Conventions (DESIGN.md §3): key/value sheets have the label in column A, the value in B,
//! the unit in C and a note in D. Tables have one header row (the first row holding
//! anything), one record per row; headers match case-insensitively on the text before any
//! " (unit)"; blank rows are ignored; extra columns (notes) are allowed (see `headers` for how a
//! header near a field is refused and an unknown one warned about). Time series have
//! fixed columns, then one column per calendar year.

use super::access::{
    AppliesTo, BlankIs, Column, Defaulted, FeedColumn, Optional, ParentName, PtcColumn, RampStep,
    Required, RequiredShownBy, Scoped, cost_amount, lens, override_value,
};
use crate::model::*;

/// How a sheet is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Label in A, value in B, unit in C, note in D.
    KeyValue,
    /// Header row 1, one record per row below.
    Table,
    /// Header row 1: the fields, then one column per calendar year.
    TimeSeries,
    /// A table whose header row continues with one column per record, headed by the
    /// record's name (its first field): a symmetric matrix such as correlations.
    Matrix,
}

/// What a cell must hold.
#[derive(Debug, Clone, Copy)]
pub enum ValueType {
    Text,
    /// Any number (amounts, prices, tonnages, ratios).
    Number,
    /// A fraction: a cell showing 5% holds 0.05; text "5%" is accepted.
    Percent,
    /// A whole number (years of a duration, months, ranks).
    Integer,
    /// A calendar year such as 2031.
    Year,
    /// An Excel date or ISO text (2027-01-01).
    Date,
    /// yes/no.
    YesNo,
    /// One of a fixed list of labels (a dropdown).
    Choice(fn() -> Vec<&'static str>),
    /// A comma-separated list of labels.
    ChoiceList(fn() -> Vec<&'static str>),
}

/// A column of a table or a key of a key/value sheet.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The header (or label) text, matched case-insensitively.
    pub name: &'static str,
    /// Shown after the name in the template's header, e.g. "t/yr"; "" for none.
    pub unit: &'static str,
    pub value_type: ValueType,
    pub required: bool,
    /// What a blank cell means, for the documentation ("" when required).
    pub default: &'static str,
    pub meaning: &'static str,
    /// The values the reader accepts (beyond the type): `Range::Any` for fields whose
    /// bounds `validate` checks with the rest of the deal.
    pub range: Range,
}

/// The numbers a field accepts, checked by the reader on the cell: a declaration's bounds,
/// so that a new field needs no separate check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Any,
    /// 0 to 1 (0% to 100%).
    Share,
    /// 0 or more.
    NonNegative,
}

impl Range {
    pub fn holds(self, value: rust_decimal::Decimal) -> bool {
        match self {
            Range::Any => true,
            Range::Share => {
                value >= rust_decimal::Decimal::ZERO && value <= rust_decimal::Decimal::ONE
            }
            Range::NonNegative => value >= rust_decimal::Decimal::ZERO,
        }
    }

    /// What a value in range looks like, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            Range::Any => "any number",
            Range::Share => "0% to 100%",
            Range::NonNegative => "0 or more",
        }
    }
}

impl Field {
    /// The field with bounds the reader checks.
    pub const fn within(self, range: Range) -> Field {
        Field { range, ..self }
    }

    /// The header as the template writes it: `Nameplate (t/yr)`.
    pub fn header(&self) -> String {
        if self.unit.is_empty() {
            self.name.to_string()
        } else {
            format!("{} ({})", self.name, self.unit)
        }
    }
}

/// A sheet of the deal workbook.
#[derive(Debug, Clone, Copy)]
pub struct SheetSchema {
    pub name: &'static str,
    pub layout: Layout,
    /// Absent optional sheets mean "none of these".
    pub required: bool,
    pub purpose: &'static str,
    pub fields: &'static [Field],
}

impl SheetSchema {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A sheet's fields, from its columns: the schema half of each `Column`, as the slice the
/// reader, the template and the README walk.
macro_rules! fields_of {
    ($columns:ident) => {{
        const N: usize = $columns.len();
        const FIELDS: [Field; N] = field_array($columns);
        &FIELDS
    }};
}

const fn field_array<R, K, const N: usize>(columns: &[Column<R, K>]) -> [Field; N] {
    let mut out = [PLACEHOLDER; N];
    let mut i = 0;
    while i < N {
        out[i] = columns[i].field;
        i += 1;
    }
    out
}

const PLACEHOLDER: Field = Field {
    name: "",
    unit: "",
    value_type: ValueType::Text,
    required: false,
    default: "",
    meaning: "",
    range: Range::Any,
};

// The records a field applies to: where it is written even at its default, and (for `Scoped`
// fields) the only records where the reader accepts a value other than the default.
fn draws(t: &Tranche) -> bool {
    t.kind.value.is_funding()
}
fn is_loan(t: &Tranche) -> bool {
    t.kind.value.is_loan()
}
fn charges_fees(t: &Tranche) -> bool {
    t.kind.value.is_loan() || t.kind.value == TrancheKind::Guarantee
}
fn is_equity(t: &Tranche) -> bool {
    t.kind.value == TrancheKind::Equity
}
fn is_guarantee(t: &Tranche) -> bool {
    t.kind.value == TrancheKind::Guarantee
}
fn priced_off_market(o: &Offtake) -> bool {
    o.pricing.value != PricingKind::Fixed
}
fn is_crash(o: &Override) -> bool {
    o.kind.value == OverrideKind::PriceCrash
}
fn tranche_kind(t: &Tranche) -> Option<&CellRef> {
    t.kind.cell.as_ref()
}

// The records a `Scoped` field applies to, and the cell that says so.
const LOANS: AppliesTo<Tranche> = AppliesTo {
    test: is_loan,
    by: tranche_kind,
    to: "loans",
};
const FUNDING: AppliesTo<Tranche> = AppliesTo {
    test: draws,
    by: tranche_kind,
    to: "tranches that fund the project (every kind but guarantees)",
};
const FEE_PAYERS: AppliesTo<Tranche> = AppliesTo {
    test: charges_fees,
    by: tranche_kind,
    to: "loans and guarantees",
};
const OFF_MARKET: AppliesTo<Offtake> = AppliesTo {
    test: priced_off_market,
    by: |o| o.pricing.cell.as_ref(),
    to: "market, floor and collar pricing",
};

const fn req(
    name: &'static str,
    unit: &'static str,
    value_type: ValueType,
    meaning: &'static str,
) -> Field {
    Field {
        name,
        unit,
        value_type,
        required: true,
        default: "",
        meaning,
        range: Range::Any,
    }
}

const fn opt(
    name: &'static str,
    unit: &'static str,
    value_type: ValueType,
    default: &'static str,
    meaning: &'static str,
) -> Field {
    Field {
        name,
        unit,
        value_type,
        required: false,
        default,
        meaning,
        range: Range::Any,
    }
}

use ValueType::*;

fn discounting() -> Vec<&'static str> {
    Discounting::labels()
}
fn subsidy_bases() -> Vec<&'static str> {
    SubsidyBasis::labels()
}
fn facility_kinds() -> Vec<&'static str> {
    FacilityKind::labels()
}
fn transfer_pricing() -> Vec<&'static str> {
    TransferPricing::labels()
}
fn price_units() -> Vec<&'static str> {
    PriceUnit::labels()
}
fn cost_categories() -> Vec<&'static str> {
    CostCategory::labels()
}
fn cost_bases() -> Vec<&'static str> {
    CostBasis::labels()
}
fn phases() -> Vec<&'static str> {
    Phase::labels()
}
/// The phases a delay can lengthen: the scheduled ones (production is ramp-up plus
/// operations, not a phase of its own).
fn delay_phases() -> Vec<&'static str> {
    Phase::SCHEDULED.iter().map(|p| p.label()).collect()
}
fn party_kinds() -> Vec<&'static str> {
    PartyKind::labels()
}
fn pricing_kinds() -> Vec<&'static str> {
    PricingKind::labels()
}
fn tranche_kinds() -> Vec<&'static str> {
    TrancheKind::labels()
}
fn completion_supports() -> Vec<&'static str> {
    CompletionSupport::labels()
}
fn guarantee_kinds() -> Vec<&'static str> {
    GuaranteeKind::labels()
}
fn repayments() -> Vec<&'static str> {
    Repayment::labels()
}
fn override_kinds() -> Vec<&'static str> {
    OverrideKind::labels()
}

pub(crate) const DEAL_COLUMNS: &[Column<Deal, DealField>] = &[
    Column {
        key: DealField::Name,
        field: req(
            "Deal name",
            "",
            Text,
            "The deal's name, shown on every output.",
        ),
        access: &Required(lens!(Deal: name)),
    },
    Column {
        key: DealField::Currency,
        field: req(
            "Currency",
            "ISO code",
            Text,
            "The deal currency; every amount is in it unless a sheet says otherwise.",
        ),
        access: &Required(lens!(Deal: currency)),
    },
    Column {
        key: DealField::StartDate,
        field: req(
            "Model start date",
            "date",
            Date,
            "Period 1 starts here; each period is one year and is labelled by the year it starts in.",
        ),
        access: &Required(lens!(Deal: start_date)),
    },
    Column {
        key: DealField::Horizon,
        field: req(
            "Horizon",
            "years",
            Integer,
            "Number of annual periods modelled.",
        ),
        access: &Required(lens!(Deal: horizon_years)),
    },
    Column {
        key: DealField::Discounting,
        field: opt(
            "Discounting",
            "",
            Choice(discounting),
            "end-of-year",
            "end-of-year: Excel NPV over the annual flows; mid-year: the same times (1+r)^0.5.",
        ),
        access: &Defaulted(lens!(Deal: discounting), None),
    },
    Column {
        key: DealField::DiscountRate,
        field: req(
            "Project discount rate",
            "%",
            Percent,
            "The project's rate for its unlevered and risked NPV.",
        ),
        access: &Required(lens!(Deal: discount_rate)),
    },
    Column {
        key: DealField::ProjectCompany,
        field: opt(
            "Project company",
            "",
            Text,
            "Project",
            "The project company (SPV): a party of the ledger with its own cash account.",
        ),
        access: &Defaulted(lens!(Deal: project_name), None),
    },
    Column {
        key: DealField::FinancialCloseYear,
        field: opt(
            "Financial close year",
            "year",
            Year,
            "first construction year",
            "Debt is available from this year; before it, only equity funds the project.",
        ),
        access: &Optional(lens!(Deal: financial_close_year)),
    },
    Column {
        key: DealField::TaxHomeCountry,
        field: opt(
            "Tax home country",
            "",
            Text,
            "first facility's country",
            "Where interest and fees are deducted for company tax.",
        ),
        access: &Optional(lens!(Deal: tax_home_country)),
    },
    Column {
        key: DealField::SubsidyBasis,
        field: opt(
            "Subsidy cost basis",
            "",
            Choice(subsidy_bases),
            "PV of disbursements",
            "A government's subsidy cost of a loan (PV of its disbursements less PV of what comes back, at its own rate) as a share of: the PV of the disbursements, or the disbursements as paid.",
        ),
        access: &Defaulted(lens!(Deal: subsidy_basis), None),
    },
    Column {
        key: DealField::CompletionSupport,
        field: opt(
            "Completion support",
            "",
            Choice(completion_supports),
            "by shareholding",
            "Who meets a construction funding gap beyond every committed tranche and the overrun equity: the sponsors by shareholding (as equity, shown in their ledger and the Log), or none, which makes any unfunded gap a failed check.",
        ),
        access: &Defaulted(lens!(Deal: completion_support), None),
    },
    Column {
        key: DealField::LedgerPrecision,
        field: opt(
            "Ledger precision",
            "decimal places",
            Integer,
            "2",
            "Every amount posted to the ledger is rounded once to this many decimal places (Excel's ROUND, half away from zero), so the books are exact to the cent; 0 to 10. Rates, factors, NPVs and IRRs are never rounded.",
        ),
        access: &Defaulted(lens!(Deal: ledger_precision), None),
    },
    Column {
        key: DealField::ReserveFunding,
        field: opt(
            "DSRA funding",
            "",
            Choice(ReserveFunding::labels),
            "after each rank",
            "When the waterfall tops up debt service reserves: after each rank's interest and principal (a senior reserve is refilled before junior debt service is paid), or after all debt service (every rank's interest and principal first, then the reserves, senior first).",
        ),
        access: &Defaulted(lens!(Deal: reserve_funding), None),
    },
];

pub const DEAL: SheetSchema = SheetSchema {
    name: "Deal",
    layout: Layout::KeyValue,
    required: true,
    purpose: "The deal itself: name, currency, timeline and discounting.",
    fields: fields_of!(DEAL_COLUMNS),
};

pub(crate) const FACILITIES_COLUMNS: &[Column<Facility, FacilityField>] = &[
    Column {
        key: FacilityField::Name,
        field: req("Facility", "", Text, "A unique name."),
        access: &Required(lens!(Facility: name)),
    },
    Column {
        key: FacilityField::Kind,
        field: req(
            "Kind",
            "",
            Choice(facility_kinds),
            "mine, concentrator or refinery; decides the royalty rate.",
        ),
        access: &Required(lens!(Facility: kind)),
    },
    Column {
        key: FacilityField::Country,
        field: req(
            "Country",
            "",
            Text,
            "Host country; its row on the Fiscal sheet applies.",
        ),
        access: &Required(lens!(Facility: country)),
    },
    Column {
        key: FacilityField::Product,
        field: req(
            "Product",
            "",
            Text,
            "What it sells: a product of the Prices sheet, or one without a price that it only transfers to plants of the deal (at cost or a fixed price; then it is worked only for what they take). Several facilities may make one product.",
        ),
        access: &Required(lens!(Facility: product)),
    },
    Column {
        key: FacilityField::Nameplate,
        field: req("Nameplate", "t/yr", Number, "Output at full capacity."),
        access: &Required(lens!(Facility: nameplate)),
    },
    Column {
        key: FacilityField::FeedSource,
        field: opt(
            "Feed source",
            "",
            Text,
            "none (a mine)",
            "For processing: the facility of the deal that feeds it, or market to buy feed.",
        ),
        access: &FeedColumn(FacilityField::FeedSource),
    },
    Column {
        key: FacilityField::FeedProduct,
        field: opt(
            "Feed product",
            "",
            Text,
            "the source's product",
            "For market feed: the product bought (a row of the Prices sheet).",
        ),
        access: &FeedColumn(FacilityField::FeedProduct),
    },
    Column {
        key: FacilityField::Recovery,
        field: opt(
            "Recovery",
            "t out per t feed",
            Number,
            "1",
            "Tonnes of product per tonne of feed; caps output at feed x recovery.",
        ),
        access: &FeedColumn(FacilityField::Recovery),
    },
    Column {
        key: FacilityField::TransferPricing,
        field: opt(
            "Transfer pricing",
            "",
            Choice(transfer_pricing),
            "market",
            "How feed from a facility of the deal is valued: market price, the source's cash cost, or a fixed price.",
        ),
        access: &FeedColumn(FacilityField::TransferPricing),
    },
    Column {
        key: FacilityField::TransferPrice,
        field: opt(
            "Transfer price",
            "per t",
            Number,
            "",
            "For fixed transfer pricing: deal currency per tonne of feed.",
        ),
        access: &FeedColumn(FacilityField::TransferPrice),
    },
    Column {
        key: FacilityField::StartYear,
        field: req("Start year", "year", Year, "The year exploration starts."),
        access: &Required(lens!(Facility: start_year)),
    },
    Column {
        key: FacilityField::Exploration,
        field: opt(
            "Exploration",
            "years",
            Integer,
            "0",
            "Duration of exploration.",
        ),
        access: &Defaulted(lens!(Facility: exploration_years), None),
    },
    Column {
        key: FacilityField::Feasibility,
        field: opt(
            "Feasibility",
            "years",
            Integer,
            "0",
            "Duration of feasibility studies.",
        ),
        access: &Defaulted(lens!(Facility: feasibility_years), None),
    },
    Column {
        key: FacilityField::Permitting,
        field: opt(
            "Permitting",
            "years",
            Integer,
            "0",
            "Duration of permitting and approvals.",
        ),
        access: &Defaulted(lens!(Facility: permitting_years), None),
    },
    Column {
        key: FacilityField::Construction,
        field: req(
            "Construction",
            "years",
            Integer,
            "Duration of construction.",
        ),
        access: &Required(lens!(Facility: construction_years)),
    },
    Column {
        key: FacilityField::Ramp1,
        field: opt(
            "Ramp 1",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 1; fill Ramp 1.. Ramp 5 for as many ramp-up years as there are.",
        ),
        access: &RampStep(0),
    },
    Column {
        key: FacilityField::Ramp2,
        field: opt(
            "Ramp 2",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 2.",
        ),
        access: &RampStep(1),
    },
    Column {
        key: FacilityField::Ramp3,
        field: opt(
            "Ramp 3",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 3.",
        ),
        access: &RampStep(2),
    },
    Column {
        key: FacilityField::Ramp4,
        field: opt(
            "Ramp 4",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 4.",
        ),
        access: &RampStep(3),
    },
    Column {
        key: FacilityField::Ramp5,
        field: opt(
            "Ramp 5",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 5.",
        ),
        access: &RampStep(4),
    },
    Column {
        key: FacilityField::Operations,
        field: req(
            "Operations",
            "years",
            Integer,
            "Years at nameplate after ramp-up.",
        ),
        access: &Required(lens!(Facility: operations_years)),
    },
    Column {
        key: FacilityField::Closure,
        field: opt(
            "Closure",
            "years",
            Integer,
            "0",
            "Years of closure and rehabilitation after operations.",
        ),
        access: &Defaulted(lens!(Facility: closure_years), None),
    },
    Column {
        key: FacilityField::GateExploration,
        field: opt(
            "P exploration",
            "%",
            Percent,
            "100%",
            "Probability of passing the gate at the end of exploration.",
        ),
        access: &Defaulted(lens!(Facility: gates.exploration), None),
    },
    Column {
        key: FacilityField::GateFeasibility,
        field: opt(
            "P feasibility",
            "%",
            Percent,
            "100%",
            "Probability of passing the gate at the end of feasibility.",
        ),
        access: &Defaulted(lens!(Facility: gates.feasibility), None),
    },
    Column {
        key: FacilityField::GatePermitting,
        field: opt(
            "P permitting",
            "%",
            Percent,
            "100%",
            "Probability of passing the gate at the end of permitting.",
        ),
        access: &Defaulted(lens!(Facility: gates.permitting), None),
    },
    Column {
        key: FacilityField::GateConstruction,
        field: opt(
            "P construction",
            "%",
            Percent,
            "100%",
            "Probability of completing construction (financing and build).",
        ),
        access: &Defaulted(lens!(Facility: gates.construction), None),
    },
    Column {
        key: FacilityField::FeedShare,
        field: opt(
            "Feed share",
            "% of the source's output",
            Percent,
            "pro rata",
            "For feed from a facility of the deal: the share of its output this facility may take (the rest sells at market). Blank for every facility the source feeds: shared pro rata to what each can take.",
        ),
        access: &FeedColumn(FacilityField::FeedShare),
    },
];

pub const FACILITIES: SheetSchema = SheetSchema {
    name: "Facilities",
    layout: Layout::Table,
    required: true,
    purpose: "Mines, concentrators and refineries, each with its phase schedule from its start year and its stage-gate probabilities. Phases run back to back: exploration, feasibility, permitting, construction, ramp-up (one year per Ramp cell), operations, closure.",
    fields: fields_of!(FACILITIES_COLUMNS),
};

pub(crate) const PRICES_COLUMNS: &[Column<Product, ProductField>] = &[
    Column {
        key: ProductField::Name,
        field: req("Product", "", Text, "A unique product name."),
        access: &Required(lens!(Product: name)),
    },
    Column {
        key: ProductField::Unit,
        field: req("Unit", "", Choice(price_units), "per t or per kg."),
        access: &Required(lens!(Product: unit)),
    },
    Column {
        key: ProductField::Currency,
        field: opt(
            "Currency",
            "ISO code",
            Text,
            "deal currency",
            "The deck's currency; other than the deal's, it needs a row on the FX sheet.",
        ),
        access: &BlankIs(lens!(Product: currency), String::new(), None),
    },
    Column {
        key: ProductField::Escalation,
        field: opt(
            "Escalation",
            "%/yr",
            Percent,
            "0%",
            "Yearly escalation after the deck's last year.",
        ),
        access: &Defaulted(lens!(Product: escalation), None),
    },
];

pub const PRICES: SheetSchema = SheetSchema {
    name: "Prices",
    layout: Layout::TimeSeries,
    required: true,
    purpose: "A price deck per product by calendar year, flat after the last year unless an escalation is given; years ascending and consecutive.",
    fields: fields_of!(PRICES_COLUMNS),
};

pub(crate) const FX_COLUMNS: &[Column<FxSeries, FxField>] = &[Column {
    key: FxField::Currency,
    field: req("Currency", "ISO code", Text, "The foreign currency."),
    access: &Required(lens!(FxSeries: currency)),
}];

pub const FX: SheetSchema = SheetSchema {
    name: "FX",
    layout: Layout::TimeSeries,
    required: false,
    purpose: "Exchange rates by calendar year: deal currency per one unit of the row's currency, flat after the last year.",
    fields: fields_of!(FX_COLUMNS),
};

pub(crate) const COSTS_COLUMNS: &[Column<CostLine, CostField>] = &[
    Column {
        key: CostField::Facility,
        field: req("Facility", "", Text, "The facility that incurs it."),
        access: &Required(lens!(CostLine: facility)),
    },
    Column {
        key: CostField::Item,
        field: req("Item", "", Text, "What it is."),
        access: &Required(lens!(CostLine: item)),
    },
    Column {
        key: CostField::Category,
        field: req(
            "Category",
            "",
            Choice(cost_categories),
            "Decides tax treatment (capex is depreciated) and which scenarios move it.",
        ),
        access: &Required(lens!(CostLine: category)),
    },
    Column {
        key: CostField::Basis,
        field: req(
            "Basis",
            "",
            Choice(cost_bases),
            "total over phase (spread evenly over the phase's years), per year (each year of the phase), per tonne (of output), % of revenue.",
        ),
        access: &Required(lens!(CostLine: basis)),
    },
    Column {
        key: CostField::Phase,
        field: opt(
            "Phase",
            "",
            Choice(phases),
            "production (for per tonne and % of revenue)",
            "When it is incurred; production is ramp-up plus operations.",
        ),
        access: &Optional(lens!(CostLine: phase)),
    },
    Column {
        key: CostField::Amount,
        field: req(
            "Amount",
            "deal currency or %",
            Number,
            "Total, per year or per tonne in the deal currency; a fraction for % of revenue.",
        ),
        access: &RequiredShownBy(lens!(CostLine: amount), cost_amount),
    },
    Column {
        key: CostField::Escalation,
        field: opt(
            "Escalation",
            "%/yr",
            Percent,
            "0%",
            "Yearly escalation from the base year.",
        ),
        access: &Defaulted(lens!(CostLine: escalation), None),
    },
    Column {
        key: CostField::BaseYear,
        field: opt(
            "Base year",
            "year",
            Year,
            "the model's first year",
            "The year the amount is priced in.",
        ),
        access: &Optional(lens!(CostLine: base_year)),
    },
];

pub const COSTS: SheetSchema = SheetSchema {
    name: "Costs",
    layout: Layout::Table,
    required: true,
    purpose: "Cost lines per facility, in the deal currency of the base year, escalated yearly.",
    fields: fields_of!(COSTS_COLUMNS),
};

pub(crate) const FISCAL_COLUMNS: &[Column<FiscalRegime, FiscalField>] = &[
    Column {
        key: FiscalField::Country,
        field: req("Country", "", Text, "The host country."),
        access: &Required(lens!(FiscalRegime: country)),
    },
    Column {
        key: FiscalField::RoyaltyConcentrate,
        field: opt(
            "Royalty concentrate",
            "%",
            Percent,
            "0%",
            "Royalty on the sales value of mines and concentrators (WA: 5%).",
        ),
        access: &Defaulted(lens!(FiscalRegime: royalty_concentrate), None),
    },
    Column {
        key: FiscalField::RoyaltyRefined,
        field: opt(
            "Royalty refined",
            "%",
            Percent,
            "0%",
            "Royalty on the sales value of refineries (WA: 2.5%).",
        ),
        access: &Defaulted(lens!(FiscalRegime: royalty_refined), None),
    },
    Column {
        key: FiscalField::RoyaltyPayee,
        field: req(
            "Royalty payee",
            "",
            Text,
            "The party that receives royalties.",
        ),
        access: &Required(lens!(FiscalRegime: royalty_payee)),
    },
    Column {
        key: FiscalField::TaxRate,
        field: opt(
            "Tax rate",
            "%",
            Percent,
            "0%",
            "Company tax on taxable income (Australia: 30%).",
        ),
        access: &Defaulted(lens!(FiscalRegime: tax_rate), None),
    },
    Column {
        key: FiscalField::TaxAuthority,
        field: req(
            "Tax authority",
            "",
            Text,
            "The party that receives company tax and pays tax credits.",
        ),
        access: &Required(lens!(FiscalRegime: tax_authority)),
    },
    Column {
        key: FiscalField::Depreciation,
        field: opt(
            "Depreciation",
            "years",
            Integer,
            "10",
            "Straight-line tax life of capital costs, from first production.",
        ),
        access: &Defaulted(lens!(FiscalRegime: depreciation_years), None),
    },
    Column {
        key: FiscalField::LossCarryForward,
        field: opt(
            "Loss carry-forward",
            "",
            YesNo,
            "yes",
            "Tax losses reduce later taxable income.",
        ),
        access: &Defaulted(lens!(FiscalRegime: loss_carry_forward), None),
    },
    Column {
        key: FiscalField::PtcRate,
        field: opt(
            "PTC rate",
            "%",
            Percent,
            "0% (none)",
            "Production tax credit on eligible processing costs (Australia: 10%).",
        ),
        access: &PtcColumn(FiscalField::PtcRate),
    },
    Column {
        key: FiscalField::PtcCategories,
        field: opt(
            "PTC categories",
            "",
            ChoiceList(cost_categories),
            "fixed opex, variable opex",
            "Cost categories eligible for the credit, comma-separated.",
        ),
        access: &PtcColumn(FiscalField::PtcCategories),
    },
    Column {
        key: FiscalField::PtcFacilities,
        field: opt(
            "PTC facilities",
            "",
            ChoiceList(facility_kinds),
            "refinery",
            "Facility kinds whose costs are eligible, comma-separated.",
        ),
        access: &PtcColumn(FiscalField::PtcFacilities),
    },
    Column {
        key: FiscalField::PtcFirstYear,
        field: opt(
            "PTC first year",
            "year",
            Year,
            "",
            "First year of the credit (Australia: 2027).",
        ),
        access: &PtcColumn(FiscalField::PtcFirstYear),
    },
    Column {
        key: FiscalField::PtcLastYear,
        field: opt(
            "PTC last year",
            "year",
            Year,
            "",
            "Last year of the credit (Australia: 2040).",
        ),
        access: &PtcColumn(FiscalField::PtcLastYear),
    },
    Column {
        key: FiscalField::PtcRefundable,
        field: opt(
            "PTC refundable",
            "",
            YesNo,
            "yes",
            "Paid in cash where it exceeds tax; otherwise it offsets tax and the rest carries forward.",
        ),
        access: &PtcColumn(FiscalField::PtcRefundable),
    },
];

pub const FISCAL: SheetSchema = SheetSchema {
    name: "Fiscal",
    layout: Layout::Table,
    required: true,
    purpose: "Fiscal terms per host country: royalties, company tax, depreciation, losses, production tax credit.",
    fields: fields_of!(FISCAL_COLUMNS),
};

pub(crate) const PARTIES_COLUMNS: &[Column<Party, PartyField>] = &[
    Column {
        key: PartyField::Name,
        field: req("Party", "", Text, "A unique name."),
        access: &Required(lens!(Party: name)),
    },
    Column {
        key: PartyField::Kind,
        field: req(
            "Kind",
            "",
            Choice(party_kinds),
            "sponsor, bank, government, offtaker or other.",
        ),
        access: &Required(lens!(Party: kind)),
    },
    Column {
        key: PartyField::Country,
        field: opt(
            "Country",
            "",
            Text,
            "",
            "A government's offtakers are the offtakers of its country.",
        ),
        access: &Optional(lens!(Party: country)),
    },
    Column {
        key: PartyField::DiscountRate,
        field: req(
            "Discount rate",
            "%",
            Percent,
            "The party's own rate (public rates: Australia 7%, US OMB A-4 2%, UK Green Book 3.5%).",
        ),
        access: &Required(lens!(Party: discount_rate)),
    },
];

pub const PARTIES: SheetSchema = SheetSchema {
    name: "Parties",
    layout: Layout::Table,
    required: true,
    purpose: "Everyone who pays or receives. The project company, Market (buyers of uncontracted output) and Suppliers (contractors and suppliers) are added automatically.",
    fields: fields_of!(PARTIES_COLUMNS),
};

pub(crate) const DISCOUNT_RATES_COLUMNS: &[Column<Party, ()>] = &[Column {
    key: (),
    field: req("Party", "", Text, "A party of the Parties sheet."),
    access: &ParentName,
}];

pub const DISCOUNT_RATES: SheetSchema = SheetSchema {
    name: "Discount rates",
    layout: Layout::TimeSeries,
    required: false,
    purpose: "Optional per-year discount rate schedules (such as the Green Book's declining rates), flat after the last year; they override the Parties sheet's rate.",
    fields: fields_of!(DISCOUNT_RATES_COLUMNS),
};

pub(crate) const OFFTAKE_COLUMNS: &[Column<Offtake, OfftakeField>] = &[
    Column {
        key: OfftakeField::Name,
        field: req("Contract", "", Text, "A unique name."),
        access: &Required(lens!(Offtake: name)),
    },
    Column {
        key: OfftakeField::Product,
        field: req("Product", "", Text, "The product sold."),
        access: &Required(lens!(Offtake: product)),
    },
    Column {
        key: OfftakeField::Buyer,
        field: req("Buyer", "", Text, "A party."),
        access: &Required(lens!(Offtake: buyer)),
    },
    Column {
        key: OfftakeField::Share,
        field: req(
            "Share",
            "% of output",
            Percent,
            "Share of the product's sellable output.",
        ),
        access: &Required(lens!(Offtake: share)),
    },
    Column {
        key: OfftakeField::StartYear,
        field: req("Start year", "year", Year, "First year of deliveries."),
        access: &Required(lens!(Offtake: start_year)),
    },
    Column {
        key: OfftakeField::EndYear,
        field: req("End year", "year", Year, "Last year of deliveries."),
        access: &Required(lens!(Offtake: end_year)),
    },
    Column {
        key: OfftakeField::Pricing,
        field: req(
            "Pricing",
            "",
            Choice(pricing_kinds),
            "market (less the discount), fixed, floor (max of floor and discounted market) or collar (floor and cap).",
        ),
        access: &Required(lens!(Offtake: pricing)),
    },
    Column {
        key: OfftakeField::Discount,
        field: opt(
            "Discount",
            "%",
            Percent,
            "0%",
            "Discount to the market price.",
        ),
        access: &Scoped(lens!(Offtake: discount), &OFF_MARKET),
    },
    Column {
        key: OfftakeField::FixedPrice,
        field: opt(
            "Fixed price",
            "product unit",
            Number,
            "",
            "For fixed pricing, in the product's unit and currency.",
        ),
        access: &Optional(lens!(Offtake: fixed_price)),
    },
    Column {
        key: OfftakeField::Floor,
        field: opt(
            "Floor",
            "product unit",
            Number,
            "",
            "For floor and collar pricing.",
        ),
        access: &Optional(lens!(Offtake: floor)),
    },
    Column {
        key: OfftakeField::Cap,
        field: opt("Cap", "product unit", Number, "", "For collar pricing."),
        access: &Optional(lens!(Offtake: cap)),
    },
    Column {
        key: OfftakeField::TakeOrPay,
        field: opt(
            "Take-or-pay",
            "%",
            Percent,
            "0%",
            "Share of the contracted volume the buyer pays for even when it takes less.",
        ),
        access: &Defaulted(lens!(Offtake: take_or_pay), None),
    },
];

pub const OFFTAKE: SheetSchema = SheetSchema {
    name: "Offtake",
    layout: Layout::Table,
    required: false,
    purpose: "Offtake contracts: a buyer's share of a product's output over a span of years. Volume not contracted sells at market.",
    fields: fields_of!(OFFTAKE_COLUMNS),
};

pub(crate) const PRICE_SUPPORT_COLUMNS: &[Column<PriceSupport, PriceSupportField>] = &[
    Column {
        key: PriceSupportField::Name,
        field: req("Support", "", Text, "A unique name."),
        access: &Required(lens!(PriceSupport: name)),
    },
    Column {
        key: PriceSupportField::Product,
        field: req("Product", "", Text, "The product supported."),
        access: &Required(lens!(PriceSupport: product)),
    },
    Column {
        key: PriceSupportField::Supporter,
        field: req(
            "Supporter",
            "",
            Text,
            "The party that pays the gap (usually a government).",
        ),
        access: &Required(lens!(PriceSupport: supporter)),
    },
    Column {
        key: PriceSupportField::Floor,
        field: req(
            "Floor",
            "product unit",
            Number,
            "Floor price, in the product's unit and currency.",
        ),
        access: &Required(lens!(PriceSupport: floor)),
    },
    Column {
        key: PriceSupportField::CoveredShare,
        field: opt(
            "Covered share",
            "% of sales",
            Percent,
            "100%",
            "Share of the product's sales volume covered.",
        ),
        access: &Defaulted(lens!(PriceSupport: covered_share), None),
    },
    Column {
        key: PriceSupportField::UpsideShare,
        field: opt(
            "Upside share",
            "%",
            Percent,
            "0%",
            "Share of (market - threshold) paid back to the supporter.",
        ),
        access: &Defaulted(lens!(PriceSupport: upside_share), None),
    },
    Column {
        key: PriceSupportField::UpsideThreshold,
        field: opt(
            "Upside threshold",
            "product unit",
            Number,
            "the floor",
            "Price above which the upside is shared.",
        ),
        access: &Optional(lens!(PriceSupport: upside_threshold)),
    },
    Column {
        key: PriceSupportField::StartYear,
        field: req("Start year", "year", Year, "First year of support."),
        access: &Required(lens!(PriceSupport: start_year)),
    },
    Column {
        key: PriceSupportField::EndYear,
        field: req("End year", "year", Year, "Last year of support."),
        access: &Required(lens!(PriceSupport: end_year)),
    },
];

pub const PRICE_SUPPORT: SheetSchema = SheetSchema {
    name: "Price support",
    layout: Layout::Table,
    required: false,
    purpose: "Price floors: a party pays the gap when market < floor on the covered volume, and may take a share of the upside above a threshold.",
    fields: fields_of!(PRICE_SUPPORT_COLUMNS),
};

pub(crate) const FINANCING_COLUMNS: &[Column<Tranche, TrancheField>] = &[
    Column {
        key: TrancheField::Name,
        field: req("Tranche", "", Text, "A unique name."),
        access: &Required(lens!(Tranche: name)),
    },
    Column {
        key: TrancheField::Kind,
        field: req(
            "Kind",
            "",
            Choice(tranche_kinds),
            "equity, senior debt, subordinated debt, concessional loan, first-loss, grant or guarantee.",
        ),
        access: &Required(lens!(Tranche: kind)),
    },
    Column {
        key: TrancheField::Rank,
        field: req(
            "Rank",
            "1 = most senior",
            Integer,
            "The waterfall pays loans by rank, pro rata within a rank; first-loss ranks below all other loans.",
        ),
        access: &Required(lens!(Tranche: rank)),
    },
    Column {
        key: TrancheField::Commitment,
        field: req(
            "Commitment",
            "deal currency",
            Number,
            "The most it provides; for a guarantee, the cap on calls.",
        ),
        access: &Required(lens!(Tranche: commitment)),
    },
    Column {
        key: TrancheField::DrawPriority,
        field: opt(
            "Draw priority",
            "",
            Integer,
            "1",
            "Construction uses are met in this order, pro rata within a priority.",
        ),
        access: &Scoped(lens!(Tranche: draw_priority), &FUNDING),
    },
    Column {
        key: TrancheField::InterestRate,
        field: opt(
            "Interest rate",
            "%",
            Percent,
            "0%",
            "Yearly rate on the opening balance (and arrears).",
        ),
        access: &Defaulted(lens!(Tranche: interest_rate), Some(is_loan)),
    },
    Column {
        key: TrancheField::UpfrontFee,
        field: opt(
            "Upfront fee",
            "% of commitment",
            Percent,
            "0%",
            "Loans: paid at financial close.",
        ),
        access: &Scoped(lens!(Tranche: upfront_fee), &LOANS),
    },
    Column {
        key: TrancheField::CommitmentFee,
        field: opt(
            "Commitment fee",
            "%/yr",
            Percent,
            "0%",
            "On the undrawn commitment; for a guarantee, the yearly fee on the guaranteed exposure.",
        ),
        access: &Scoped(lens!(Tranche: commitment_fee), &FEE_PAYERS),
    },
    Column {
        key: TrancheField::CapitaliseInterest,
        field: opt(
            "Capitalise interest",
            "",
            YesNo,
            "no",
            "Interest during construction is added to the balance instead of paid.",
        ),
        access: &Defaulted(lens!(Tranche: capitalise_interest), Some(is_loan)),
    },
    Column {
        key: TrancheField::Grace,
        field: opt(
            "Grace",
            "years",
            Integer,
            "0",
            "Years after construction with interest only.",
        ),
        access: &Defaulted(lens!(Tranche: grace_years), Some(is_loan)),
    },
    Column {
        key: TrancheField::Tenor,
        field: opt(
            "Tenor",
            "years",
            Integer,
            "",
            "Loans: years after construction by which the loan is repaid, grace included.",
        ),
        access: &BlankIs(lens!(Tranche: tenor_years), 0, Some(is_loan)),
    },
    Column {
        key: TrancheField::Repayment,
        field: opt(
            "Repayment",
            "",
            Choice(repayments),
            "annuity",
            "annuity, straight-line, bullet, or sculpted to the target DSCR (on the base case).",
        ),
        access: &Defaulted(lens!(Tranche: repayment), Some(is_loan)),
    },
    Column {
        key: TrancheField::TargetDscr,
        field: opt("Target DSCR", "x", Number, "", "For sculpted repayment."),
        access: &Optional(lens!(Tranche: target_dscr)),
    },
    Column {
        key: TrancheField::DsraMonths,
        field: opt(
            "DSRA",
            "months",
            Number,
            "0",
            "Debt service reserve: months of next year's debt service.",
        ),
        access: &Defaulted(lens!(Tranche: dsra_months), Some(is_loan)),
    },
    Column {
        key: TrancheField::LockupDscr,
        field: opt(
            "Lock-up DSCR",
            "x",
            Number,
            "",
            "Distributions stop while this tranche's DSCR is below it.",
        ),
        access: &Optional(lens!(Tranche: lockup_dscr)),
    },
    Column {
        key: TrancheField::FundsOverruns,
        field: opt(
            "Funds overruns",
            "",
            YesNo,
            "no",
            "Standby money, drawn only for costs beyond the other tranches' commitments.",
        ),
        access: &Scoped(lens!(Tranche: funds_overruns), &FUNDING),
    },
    Column {
        key: TrancheField::OverrunCap,
        field: opt(
            "Overrun cap",
            "deal currency",
            Number,
            "0",
            "Equity: extra equity the sponsors inject for overruns.",
        ),
        access: &Defaulted(lens!(Tranche: overrun_cap), Some(is_equity)),
    },
    Column {
        key: TrancheField::Covers,
        field: opt("Covers", "", Text, "", "Guarantee: the loan it covers."),
        access: &Optional(lens!(Tranche: covers)),
    },
    Column {
        key: TrancheField::Coverage,
        field: opt(
            "Coverage",
            "%",
            Percent,
            "100%",
            "Guarantee: the share of each missed payment (debt service) or of the loss given default (loss) it pays, up to the commitment.",
        ),
        access: &Defaulted(lens!(Tranche: coverage), Some(is_guarantee)),
    },
    Column {
        key: TrancheField::GuaranteeKind,
        field: opt(
            "Guarantee kind",
            "",
            Choice(guarantee_kinds),
            "debt service",
            "Guarantee: debt service pays the covered share of each missed payment of the covered loan when it is missed, and is repaid from later recoveries at the loan's rank; loss pays the covered share of the loan's loss given default in its default year.",
        ),
        access: &Defaulted(lens!(Tranche: guarantee_kind), Some(is_guarantee)),
    },
    Column {
        key: TrancheField::Shareholding,
        field: opt(
            "Shareholding",
            "%",
            Percent,
            "pro rata to commitment",
            "Equity: share of distributions.",
        ),
        access: &Optional(lens!(Tranche: shareholding)),
    },
    Column {
        key: TrancheField::DefaultMargin,
        field: opt(
            "Default margin",
            "%/yr",
            Percent,
            "0%",
            "Loans: extra yearly interest on what is in arrears (missed interest and principal), on top of the interest rate.",
        )
        .within(Range::Share),
        access: &Scoped(lens!(Tranche: default_margin), &LOANS),
    },
];

pub const FINANCING: SheetSchema = SheetSchema {
    name: "Financing",
    layout: Layout::Table,
    required: true,
    purpose: "The capital structure: equity, loans, grants, guarantees and first-loss money. Each tranche's funders are on the Participants sheet.",
    fields: fields_of!(FINANCING_COLUMNS),
};

pub(crate) const PARTICIPANTS_COLUMNS: &[Column<Participant, ParticipantField>] = &[
    Column {
        key: ParticipantField::Tranche,
        field: req("Tranche", "", Text, "A tranche of the Financing sheet."),
        access: &ParentName,
    },
    Column {
        key: ParticipantField::Party,
        field: req("Party", "", Text, "A party of the Parties sheet."),
        access: &Required(lens!(Participant: party)),
    },
    Column {
        key: ParticipantField::Share,
        field: req(
            "Share",
            "%",
            Percent,
            "Its share of every flow of the tranche.",
        ),
        access: &Required(lens!(Participant: share)),
    },
];

pub const PARTICIPANTS: SheetSchema = SheetSchema {
    name: "Participants",
    layout: Layout::Table,
    required: true,
    purpose: "Who funds each tranche and in what shares (a joint facility: US 40%, Japan 30%, Australia 30%). Every tranche needs rows summing to 100%.",
    fields: fields_of!(PARTICIPANTS_COLUMNS),
};

pub(crate) const SCENARIOS_COLUMNS: &[Column<Override, OverrideField>] = &[
    Column {
        key: OverrideField::Scenario,
        field: req("Scenario", "", Text, "The scenario's name."),
        access: &ParentName,
    },
    Column {
        key: OverrideField::Kind,
        field: req("Override", "", Choice(override_kinds), "What changes."),
        access: &Required(lens!(Override: kind)),
    },
    Column {
        key: OverrideField::Product,
        field: opt(
            "Product",
            "",
            Text,
            "all products",
            "Price crash, price multiplier, offtake uptake: the product.",
        ),
        access: &Optional(lens!(Override: product)),
    },
    Column {
        key: OverrideField::Facility,
        field: opt(
            "Facility",
            "",
            Text,
            "all facilities",
            "Capex overrun, delay, ramp and opex multipliers: the facility.",
        ),
        access: &Optional(lens!(Override: facility)),
    },
    Column {
        key: OverrideField::Phase,
        field: opt(
            "Phase",
            "",
            Choice(delay_phases),
            "",
            "Delay: the phase that takes longer; later phases move with it (ramp-up: each step of the profile comes later, the first one holding meanwhile; operations: a longer life).",
        ),
        access: &Optional(lens!(Override: phase)),
    },
    Column {
        key: OverrideField::Party,
        field: opt(
            "Party",
            "",
            Text,
            "every party",
            "Discount rate change: the party.",
        ),
        access: &Optional(lens!(Override: party)),
    },
    Column {
        key: OverrideField::Value,
        field: req(
            "Value",
            "",
            Number,
            "Crash depth %, multiplier, overrun %, delay years, uptake %, or rate change (0.01 = +1 point).",
        ),
        access: &RequiredShownBy(lens!(Override: value), override_value),
    },
    Column {
        key: OverrideField::StartYear,
        field: opt(
            "Start year",
            "year",
            Year,
            "",
            "Price crash: the year the fall starts.",
        ),
        access: &Optional(lens!(Override: start_year)),
    },
    Column {
        key: OverrideField::FallYears,
        field: opt(
            "Fall years",
            "years",
            Integer,
            "1",
            "Price crash: the price falls linearly to (1 - depth) over these years.",
        ),
        access: &Defaulted(lens!(Override: fall_years), Some(is_crash)),
    },
    Column {
        key: OverrideField::BottomYears,
        field: opt(
            "Bottom years",
            "years",
            Integer,
            "0",
            "Price crash: further years at the bottom.",
        ),
        access: &Defaulted(lens!(Override: bottom_years), Some(is_crash)),
    },
    Column {
        key: OverrideField::RecoveryYears,
        field: opt(
            "Recovery years",
            "years",
            Integer,
            "0",
            "Price crash: years of linear recovery to (1 - haircut).",
        ),
        access: &Defaulted(lens!(Override: recovery_years), Some(is_crash)),
    },
    Column {
        key: OverrideField::Haircut,
        field: opt(
            "Haircut",
            "%",
            Percent,
            "0%",
            "Price crash: the share of the price lost for good.",
        ),
        access: &Defaulted(lens!(Override: haircut), Some(is_crash)),
    },
];

pub const SCENARIOS: SheetSchema = SheetSchema {
    name: "Scenarios",
    layout: Layout::Table,
    required: false,
    purpose: "Named overrides of the base case, one row per override; rows with the same scenario name combine, even on the same target (multipliers and crashes multiply; overruns, delays and rate changes add). The base case (Base) is implicit.",
    fields: fields_of!(SCENARIOS_COLUMNS),
};

pub(crate) const MONTE_CARLO_COLUMNS: &[Column<PriceProcess, ()>] = &[
    Column {
        key: (),
        field: req(
            "Product",
            "",
            Text,
            "A product of the Prices sheet whose price is simulated.",
        ),
        access: &Required(lens!(PriceProcess: product)),
    },
    Column {
        key: (),
        field: req(
            "Volatility",
            "%/yr",
            Percent,
            "Standard deviation of the yearly shock to the log price (40% is a typical year's move of about a third up or down).",
        ),
        access: &Required(lens!(PriceProcess: volatility)),
    },
    Column {
        key: (),
        field: opt(
            "Reversion",
            "/yr",
            Number,
            "0",
            "Speed at which the log price returns to the deck: a gap closes by 1 - e^-speed in a year (0.3: about a quarter a year; 0: a random walk around the deck).",
        ),
        access: &Defaulted(lens!(PriceProcess: reversion), None),
    },
    Column {
        key: (),
        field: opt(
            "Jump intensity",
            "per yr",
            Number,
            "0",
            "Expected crashes a year (Poisson): 0.1 is one a decade on average.",
        ),
        access: &Defaulted(lens!(PriceProcess: jump_intensity), None),
    },
    Column {
        key: (),
        field: opt(
            "Jump mean",
            "% fall",
            Percent,
            "0%",
            "The median crash: the price falls to (1 - this) of its level (30%: to 70%).",
        ),
        access: &Defaulted(lens!(PriceProcess: jump_mean), None),
    },
    Column {
        key: (),
        field: opt(
            "Jump spread",
            "log",
            Number,
            "0",
            "Standard deviation of a crash's size in log terms (0.2: crashes vary by about a fifth).",
        ),
        access: &Defaulted(lens!(PriceProcess: jump_spread), None),
    },
];

pub const MONTE_CARLO: SheetSchema = SheetSchema {
    name: "Monte Carlo",
    layout: Layout::Matrix,
    required: false,
    purpose: "Price paths for `lodestone montecarlo`, one row per simulated product: each year the log price moves back towards the deck at the reversion speed, takes a normal shock of the given volatility, and may crash (a Poisson number of jumps a year, each a fall of about the jump mean); corrected so that each year's simulated price has the deck as its expectation. After the fields, a correlation matrix of the yearly shocks: one column per product of this sheet, headed by its name; 1 on the diagonal, and a blank is its mirror cell's value (or 0). Products not listed keep their deck.",
    fields: fields_of!(MONTE_CARLO_COLUMNS),
};

/// Every field of every record, by name: a field added to a record does not compile until
/// it is listed here, next to the columns that must declare it (or, like a tranche's
/// participants, the sheet that holds it). A list, not a rule: the columns decide.
#[allow(dead_code, clippy::too_many_arguments)]
fn every_record_field_has_a_place(
    deal: &Deal,
    facility: &Facility,
    product: &Product,
    fx_series: &FxSeries,
    cost_line: &CostLine,
    fiscal_regime: &FiscalRegime,
    party: &Party,
    offtake: &Offtake,
    price_support: &PriceSupport,
    tranche: &Tranche,
    participant: &Participant,
    overrides: &Override,
    price_process: &PriceProcess,
) {
    let Deal {
        name: _,
        currency: _,
        start_date: _,
        horizon_years: _,
        discounting: _,
        discount_rate: _,
        project_name: _,
        financial_close_year: _,
        tax_home_country: _,
        subsidy_basis: _,
        completion_support: _,
        ledger_precision: _,
        reserve_funding: _,
        facilities: _,
        products: _,
        fx: _,
        costs: _,
        fiscal: _,
        parties: _,
        offtakes: _,
        price_supports: _,
        tranches: _,
        scenarios: _,
        monte_carlo: _,
    } = deal;
    let Facility {
        name: _,
        kind: _,
        country: _,
        product: _,
        nameplate: _,
        feed: _,
        start_year: _,
        exploration_years: _,
        feasibility_years: _,
        permitting_years: _,
        construction_years: _,
        ramp: _,
        operations_years: _,
        closure_years: _,
        gates: _,
    } = facility;
    let Product {
        name: _,
        unit: _,
        currency: _,
        escalation: _,
        deck: _,
    } = product;
    let FxSeries {
        currency: _,
        rates: _,
    } = fx_series;
    let CostLine {
        facility: _,
        item: _,
        category: _,
        basis: _,
        phase: _,
        amount: _,
        escalation: _,
        base_year: _,
    } = cost_line;
    let FiscalRegime {
        country: _,
        royalty_concentrate: _,
        royalty_refined: _,
        royalty_payee: _,
        tax_rate: _,
        tax_authority: _,
        depreciation_years: _,
        loss_carry_forward: _,
        production_tax_credit: _,
    } = fiscal_regime;
    let Party {
        name: _,
        kind: _,
        country: _,
        discount_rate: _,
        rate_schedule: _,
    } = party;
    let Offtake {
        name: _,
        product: _,
        buyer: _,
        share: _,
        start_year: _,
        end_year: _,
        pricing: _,
        discount: _,
        fixed_price: _,
        floor: _,
        cap: _,
        take_or_pay: _,
    } = offtake;
    let PriceSupport {
        name: _,
        product: _,
        supporter: _,
        floor: _,
        covered_share: _,
        upside_share: _,
        upside_threshold: _,
        start_year: _,
        end_year: _,
    } = price_support;
    let Tranche {
        name: _,
        kind: _,
        rank: _,
        commitment: _,
        draw_priority: _,
        interest_rate: _,
        upfront_fee: _,
        commitment_fee: _,
        capitalise_interest: _,
        grace_years: _,
        tenor_years: _,
        repayment: _,
        target_dscr: _,
        dsra_months: _,
        lockup_dscr: _,
        funds_overruns: _,
        overrun_cap: _,
        covers: _,
        coverage: _,
        guarantee_kind: _,
        shareholding: _,
        default_margin: _,
        participants: _,
    } = tranche;
    let Participant { party: _, share: _ } = participant;
    let Override {
        kind: _,
        product: _,
        facility: _,
        phase: _,
        party: _,
        value: _,
        start_year: _,
        fall_years: _,
        bottom_years: _,
        recovery_years: _,
        haircut: _,
    } = overrides;
    let PriceProcess {
        product: _,
        volatility: _,
        reversion: _,
        jump_intensity: _,
        jump_mean: _,
        jump_spread: _,
        correlations: _,
    } = price_process;
}

/// Every sheet of the deal workbook, in the order the template writes them.
pub const SHEETS: &[SheetSchema] = &[
    DEAL,
    FACILITIES,
    PRICES,
    FX,
    COSTS,
    FISCAL,
    PARTIES,
    DISCOUNT_RATES,
    OFFTAKE,
    PRICE_SUPPORT,
    FINANCING,
    PARTICIPANTS,
    SCENARIOS,
    MONTE_CARLO,
];

/// The sheets as Markdown, one table per sheet (field, unit, meaning, default): the README's
/// "The deal workbook" section is this text, checked by `tests/readme.rs`.
pub fn markdown_tables() -> String {
    let mut out = String::new();
    for sheet in SHEETS {
        let (required, layout) = (
            if sheet.required {
                "required"
            } else {
                "optional"
            },
            match sheet.layout {
                Layout::KeyValue => "item in column A, value in B, unit in C, notes in D",
                Layout::Table => "a header row, then one record per row",
                Layout::TimeSeries => {
                    "a header row of these fields then calendar years, one series per row"
                }
                Layout::Matrix => {
                    "a header row of these fields then one column per row's product (the correlation matrix), one product per row"
                }
            },
        );
        out.push_str(&format!(
            "### {} ({required}; {layout})\n\n{}\n\n",
            sheet.name, sheet.purpose
        ));
        out.push_str("| Field | Unit | Meaning | Default |\n|---|---|---|---|\n");
        for f in sheet.fields {
            let meaning = match f.value_type {
                ValueType::Choice(labels) => {
                    format!("{} One of: {}.", f.meaning, labels().join(", "))
                }
                ValueType::ChoiceList(labels) => {
                    format!("{} Any of: {}.", f.meaning, labels().join(", "))
                }
                _ => f.meaning.to_string(),
            };
            let default = if f.required {
                "*required*".to_string()
            } else if f.default.is_empty() {
                "blank".to_string()
            } else {
                f.default.to_string()
            };
            let cell = |t: &str| t.replace('|', "\\|");
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(f.name),
                cell(f.unit),
                cell(&meaning),
                cell(&default)
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_holds_its_bounds_and_nothing_past_them() {
        use rust_decimal_macros::dec;
        for (range, inside, outside) in [
            (
                Range::Share,
                [dec!(0), dec!(1)],
                [dec!(-0.0001), dec!(1.0001)],
            ),
            (
                Range::NonNegative,
                [dec!(0), dec!(1e9)],
                [dec!(-0.0001), dec!(-1)],
            ),
        ] {
            assert!(inside.iter().all(|v| range.holds(*v)), "{range:?}");
            assert!(!outside.iter().any(|v| range.holds(*v)), "{range:?}");
        }
        assert!(Range::Any.holds(dec!(-1e9)));
    }

    /// A value other than the default where its field does not apply would be ignored: the
    /// reader refuses it at its cell (a guarantee's upfront fee, a guarantee's draw priority,
    /// a fixed-price contract's discount), and accepts the default there.
    #[test]
    fn a_value_where_its_field_does_not_apply_is_refused_at_its_cell() {
        use crate::excel::read::read_deal_bytes;
        use crate::excel::template::template_bytes;
        use rust_decimal_macros::dec;
        let name = "ndpr-joint-facility";
        let mut deal = crate::examples::example(name).expect("example");
        let notes = crate::examples::example_notes(name).expect("notes");
        let bytes = template_bytes(&deal, &notes).expect("template");
        assert!(read_deal_bytes(&bytes, "deal.xlsx").is_ok(), "as written");
        let guarantee = 4;
        assert_eq!(deal.tranches[guarantee].kind.value, TrancheKind::Guarantee);
        deal.tranches[guarantee].upfront_fee = Sourced::bare(dec!(0.01));
        deal.tranches[guarantee].draw_priority = Sourced::bare(2);
        deal.offtakes[0].pricing = Sourced::bare(PricingKind::Fixed);
        deal.offtakes[0].fixed_price = Some(Sourced::bare(dec!(100)));
        deal.offtakes[0].discount = Sourced::bare(dec!(0.05));
        let bytes = template_bytes(&deal, &notes).expect("template");
        let errors = read_deal_bytes(&bytes, "deal.xlsx")
            .expect_err("refused")
            .errors;
        let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        for want in [
            "'Financing'!G6: Upfront fee applies only to loans (found 1%, expected a blank on this row)",
            "'Financing'!E6: Draw priority applies only to tranches that fund the project",
            "'Offtake'!H2: Discount applies only to market, floor and collar pricing (found 5%",
        ] {
            assert!(texts.iter().any(|t| t.contains(want)), "{want}\n{texts:#?}");
        }
        // Out of range too (150%): one error for the cell, not a second from `validate`.
        deal.tranches[guarantee].upfront_fee = Sourced::bare(dec!(1.5));
        let bytes = template_bytes(&deal, &notes).expect("template");
        let errors = read_deal_bytes(&bytes, "deal.xlsx")
            .expect_err("refused")
            .errors;
        let at_g6: Vec<String> = errors
            .iter()
            .map(|e| e.to_string())
            .filter(|t| t.starts_with("'Financing'!G6"))
            .collect();
        assert_eq!(
            at_g6,
            [
                "'Financing'!G6: Upfront fee applies only to loans (found 150%, expected a blank on this row)"
            ]
        );
    }

    /// A loan's default margin is read from its column (the last of Financing); a value
    /// outside 0% to 100%, or on equity, is refused at its cell.
    #[test]
    fn a_default_margin_is_read_from_its_cell_within_its_range() {
        use crate::excel::read::read_deal_bytes;
        use crate::excel::template::template_bytes;
        use rust_decimal_macros::dec;
        let name = "ndpr-joint-facility";
        let mut deal = crate::examples::example(name).expect("example");
        let notes = crate::examples::example_notes(name).expect("notes");
        deal.tranches[1].default_margin = Sourced::bare(dec!(0.02));
        let bytes = template_bytes(&deal, &notes).expect("template");
        let read = read_deal_bytes(&bytes, "deal.xlsx").expect("reads");
        let margin = &read.tranches[1].default_margin;
        assert_eq!(margin.value, dec!(0.02));
        let cell = margin.cell.as_ref().map(|c| c.to_string());
        assert_eq!(cell.as_deref(), Some("'Financing'!V3"));

        deal.tranches[1].default_margin = Sourced::bare(dec!(-0.01));
        deal.tranches[0].default_margin = Sourced::bare(dec!(0.02));
        let bytes = template_bytes(&deal, &notes).expect("template");
        let errors = read_deal_bytes(&bytes, "deal.xlsx")
            .expect_err("refused")
            .errors;
        let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        for want in [
            "'Financing'!V3: Default margin is out of range (found -1%, expected 0% to 100%)",
            "'Financing'!V2: Default margin applies only to loans (found 2%,",
        ] {
            assert!(texts.iter().any(|t| t.contains(want)), "{want}\n{texts:#?}");
        }
    }

    /// Each record's `Default` (what the examples and tests build on) holds, for every
    /// optional column, what the reader gives a blank cell of it.
    #[test]
    fn every_records_default_is_what_a_blank_reads_as() {
        fn check<R, K>(columns: &[Column<R, K>]) -> Vec<String> {
            columns
                .iter()
                .filter_map(|c| {
                    let e = c.access.default_agrees(&c.field).err()?;
                    Some(format!("{}: {e}", c.field.name))
                })
                .collect()
        }
        let mut wrong = Vec::new();
        wrong.extend(check(DEAL_COLUMNS));
        wrong.extend(check(FACILITIES_COLUMNS));
        wrong.extend(check(PRICES_COLUMNS));
        wrong.extend(check(FX_COLUMNS));
        wrong.extend(check(COSTS_COLUMNS));
        wrong.extend(check(FISCAL_COLUMNS));
        wrong.extend(check(PARTIES_COLUMNS));
        wrong.extend(check(DISCOUNT_RATES_COLUMNS));
        wrong.extend(check(OFFTAKE_COLUMNS));
        wrong.extend(check(PRICE_SUPPORT_COLUMNS));
        wrong.extend(check(FINANCING_COLUMNS));
        wrong.extend(check(PARTICIPANTS_COLUMNS));
        wrong.extend(check(SCENARIOS_COLUMNS));
        wrong.extend(check(MONTE_CARLO_COLUMNS));
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
    use std::collections::HashSet;

    #[test]
    fn sheet_and_field_names_are_unique_ignoring_case() {
        let mut sheets = HashSet::new();
        for s in SHEETS {
            assert!(
                sheets.insert(s.name.to_lowercase()),
                "sheet {} twice",
                s.name
            );
            let mut fields = HashSet::new();
            for f in s.fields {
                assert!(
                    fields.insert(f.name.to_lowercase()),
                    "{}: field {} twice",
                    s.name,
                    f.name
                );
                assert!(
                    f.required
                        || !f.default.is_empty()
                        || f.unit.contains("unit")
                        || !f.meaning.is_empty()
                );
            }
        }
    }

    #[test]
    fn headers_carry_units_in_brackets() {
        assert_eq!(
            FACILITIES.field("Nameplate").map(|f| f.header()),
            Some("Nameplate (t/yr)".to_string())
        );
        assert_eq!(
            FACILITIES.field("Facility").map(|f| f.header()),
            Some("Facility".to_string())
        );
    }
}
