//! The deal workbook's layout: every sheet, column and key a modeller types, with its unit,
//! meaning and default. One source for the reader (which headers to look for), the template
//! writer (headers, notes, dropdowns) and the README's tables.
//!
//! Conventions (DESIGN.md §3): key/value sheets have the label in column A, the value in B,
//! the unit in C and a note in D. Tables have one header row (the first row holding
//! anything), one record per row; headers match case-insensitively on the text before any
//! " (unit)"; blank rows are ignored; extra columns (notes) are allowed (see `headers` for how a
//! header near a field is refused and an unknown one warned about). Time series have
//! fixed columns, then one column per calendar year.

use crate::model::{
    CompletionSupport, CostBasis, CostCategory, Discounting, FacilityKind, GuaranteeKind,
    OverrideKind, PartyKind, Phase, PriceUnit, PricingKind, Repayment, SubsidyBasis, TrancheKind,
    TransferPricing,
};

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
}

impl Field {
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

pub const DEAL: SheetSchema = SheetSchema {
    name: "Deal",
    layout: Layout::KeyValue,
    required: true,
    purpose: "The deal itself: name, currency, timeline and discounting.",
    fields: &[
        req(
            "Deal name",
            "",
            Text,
            "The deal's name, shown on every output.",
        ),
        req(
            "Currency",
            "ISO code",
            Text,
            "The deal currency; every amount is in it unless a sheet says otherwise.",
        ),
        req(
            "Model start date",
            "date",
            Date,
            "Period 1 starts here; each period is one year and is labelled by the year it starts in.",
        ),
        req(
            "Horizon",
            "years",
            Integer,
            "Number of annual periods modelled.",
        ),
        opt(
            "Discounting",
            "",
            Choice(discounting),
            "end-of-year",
            "end-of-year: Excel NPV over the annual flows; mid-year: the same times (1+r)^0.5.",
        ),
        req(
            "Project discount rate",
            "%",
            Percent,
            "The project's rate for its unlevered and risked NPV.",
        ),
        opt(
            "Project company",
            "",
            Text,
            "Project",
            "The project company (SPV): a party of the ledger with its own cash account.",
        ),
        opt(
            "Financial close year",
            "year",
            Year,
            "first construction year",
            "Debt is available from this year; before it, only equity funds the project.",
        ),
        opt(
            "Tax home country",
            "",
            Text,
            "first facility's country",
            "Where interest and fees are deducted for company tax.",
        ),
        opt(
            "Subsidy cost basis",
            "",
            Choice(subsidy_bases),
            "PV of disbursements",
            "A government's subsidy cost of a loan (PV of its disbursements less PV of what comes back, at its own rate) as a share of: the PV of the disbursements, or the disbursements as paid.",
        ),
        opt(
            "Completion support",
            "",
            Choice(completion_supports),
            "by shareholding",
            "Who meets a construction funding gap beyond every committed tranche and the overrun equity: the sponsors by shareholding (as equity, shown in their ledger and the Log), or none, which makes any unfunded gap a failed check.",
        ),
        opt(
            "Ledger precision",
            "decimal places",
            Integer,
            "2",
            "Every amount posted to the ledger is rounded once to this many decimal places (Excel's ROUND, half away from zero), so the books are exact to the cent; 0 to 10. Rates, factors, NPVs and IRRs are never rounded.",
        ),
    ],
};

pub const FACILITIES: SheetSchema = SheetSchema {
    name: "Facilities",
    layout: Layout::Table,
    required: true,
    purpose: "Mines, concentrators and refineries, each with its phase schedule from its start year and its stage-gate probabilities. Phases run back to back: exploration, feasibility, permitting, construction, ramp-up (one year per Ramp cell), operations, closure.",
    fields: &[
        req("Facility", "", Text, "A unique name."),
        req(
            "Kind",
            "",
            Choice(facility_kinds),
            "mine, concentrator or refinery; decides the royalty rate.",
        ),
        req(
            "Country",
            "",
            Text,
            "Host country; its row on the Fiscal sheet applies.",
        ),
        req(
            "Product",
            "",
            Text,
            "What it sells: a product of the Prices sheet, or one without a price that it only transfers to plants of the deal (at cost or a fixed price; then it is worked only for what they take). Several facilities may make one product.",
        ),
        req("Nameplate", "t/yr", Number, "Output at full capacity."),
        opt(
            "Feed source",
            "",
            Text,
            "none (a mine)",
            "For processing: the facility of the deal that feeds it, or market to buy feed.",
        ),
        opt(
            "Feed product",
            "",
            Text,
            "the source's product",
            "For market feed: the product bought (a row of the Prices sheet).",
        ),
        opt(
            "Recovery",
            "t out per t feed",
            Number,
            "1",
            "Tonnes of product per tonne of feed; caps output at feed x recovery.",
        ),
        opt(
            "Transfer pricing",
            "",
            Choice(transfer_pricing),
            "market",
            "How feed from a facility of the deal is valued: market price, the source's cash cost, or a fixed price.",
        ),
        opt(
            "Transfer price",
            "per t",
            Number,
            "",
            "For fixed transfer pricing: deal currency per tonne of feed.",
        ),
        req("Start year", "year", Year, "The year exploration starts."),
        opt(
            "Exploration",
            "years",
            Integer,
            "0",
            "Duration of exploration.",
        ),
        opt(
            "Feasibility",
            "years",
            Integer,
            "0",
            "Duration of feasibility studies.",
        ),
        opt(
            "Permitting",
            "years",
            Integer,
            "0",
            "Duration of permitting and approvals.",
        ),
        req(
            "Construction",
            "years",
            Integer,
            "Duration of construction.",
        ),
        opt(
            "Ramp 1",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 1; fill Ramp 1.. Ramp 5 for as many ramp-up years as there are.",
        ),
        opt(
            "Ramp 2",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 2.",
        ),
        opt(
            "Ramp 3",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 3.",
        ),
        opt(
            "Ramp 4",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 4.",
        ),
        opt(
            "Ramp 5",
            "% of nameplate",
            Percent,
            "",
            "Output in ramp-up year 5.",
        ),
        req(
            "Operations",
            "years",
            Integer,
            "Years at nameplate after ramp-up.",
        ),
        opt(
            "Closure",
            "years",
            Integer,
            "0",
            "Years of closure and rehabilitation after operations.",
        ),
        opt(
            "P exploration",
            "%",
            Percent,
            "100%",
            "Probability of passing the gate at the end of exploration.",
        ),
        opt(
            "P feasibility",
            "%",
            Percent,
            "100%",
            "Probability of passing the gate at the end of feasibility.",
        ),
        opt(
            "P permitting",
            "%",
            Percent,
            "100%",
            "Probability of passing the gate at the end of permitting.",
        ),
        opt(
            "P construction",
            "%",
            Percent,
            "100%",
            "Probability of completing construction (financing and build).",
        ),
        opt(
            "Feed share",
            "% of the source's output",
            Percent,
            "pro rata",
            "For feed from a facility of the deal: the share of its output this facility may take (the rest sells at market). Blank for every facility the source feeds: shared pro rata to what each can take.",
        ),
    ],
};

pub const PRICES: SheetSchema = SheetSchema {
    name: "Prices",
    layout: Layout::TimeSeries,
    required: true,
    purpose: "A price deck per product by calendar year, flat after the last year unless an escalation is given; years ascending and consecutive.",
    fields: &[
        req("Product", "", Text, "A unique product name."),
        req("Unit", "", Choice(price_units), "per t or per kg."),
        opt(
            "Currency",
            "ISO code",
            Text,
            "deal currency",
            "The deck's currency; other than the deal's, it needs a row on the FX sheet.",
        ),
        opt(
            "Escalation",
            "%/yr",
            Percent,
            "0%",
            "Yearly escalation after the deck's last year.",
        ),
    ],
};

pub const FX: SheetSchema = SheetSchema {
    name: "FX",
    layout: Layout::TimeSeries,
    required: false,
    purpose: "Exchange rates by calendar year: deal currency per one unit of the row's currency, flat after the last year.",
    fields: &[req("Currency", "ISO code", Text, "The foreign currency.")],
};

pub const COSTS: SheetSchema = SheetSchema {
    name: "Costs",
    layout: Layout::Table,
    required: true,
    purpose: "Cost lines per facility, in the deal currency of the base year, escalated yearly.",
    fields: &[
        req("Facility", "", Text, "The facility that incurs it."),
        req("Item", "", Text, "What it is."),
        req(
            "Category",
            "",
            Choice(cost_categories),
            "Decides tax treatment (capex is depreciated) and which scenarios move it.",
        ),
        req(
            "Basis",
            "",
            Choice(cost_bases),
            "total over phase (spread evenly over the phase's years), per year (each year of the phase), per tonne (of output), % of revenue.",
        ),
        opt(
            "Phase",
            "",
            Choice(phases),
            "production (for per tonne and % of revenue)",
            "When it is incurred; production is ramp-up plus operations.",
        ),
        req(
            "Amount",
            "deal currency or %",
            Number,
            "Total, per year or per tonne in the deal currency; a fraction for % of revenue.",
        ),
        opt(
            "Escalation",
            "%/yr",
            Percent,
            "0%",
            "Yearly escalation from the base year.",
        ),
        opt(
            "Base year",
            "year",
            Year,
            "the model's first year",
            "The year the amount is priced in.",
        ),
    ],
};

pub const FISCAL: SheetSchema = SheetSchema {
    name: "Fiscal",
    layout: Layout::Table,
    required: true,
    purpose: "Fiscal terms per host country: royalties, company tax, depreciation, losses, production tax credit.",
    fields: &[
        req("Country", "", Text, "The host country."),
        opt(
            "Royalty concentrate",
            "%",
            Percent,
            "0%",
            "Royalty on the sales value of mines and concentrators (WA: 5%).",
        ),
        opt(
            "Royalty refined",
            "%",
            Percent,
            "0%",
            "Royalty on the sales value of refineries (WA: 2.5%).",
        ),
        req(
            "Royalty payee",
            "",
            Text,
            "The party that receives royalties.",
        ),
        opt(
            "Tax rate",
            "%",
            Percent,
            "0%",
            "Company tax on taxable income (Australia: 30%).",
        ),
        req(
            "Tax authority",
            "",
            Text,
            "The party that receives company tax and pays tax credits.",
        ),
        opt(
            "Depreciation",
            "years",
            Integer,
            "10",
            "Straight-line tax life of capital costs, from first production.",
        ),
        opt(
            "Loss carry-forward",
            "",
            YesNo,
            "yes",
            "Tax losses reduce later taxable income.",
        ),
        opt(
            "PTC rate",
            "%",
            Percent,
            "0% (none)",
            "Production tax credit on eligible processing costs (Australia: 10%).",
        ),
        opt(
            "PTC categories",
            "",
            ChoiceList(cost_categories),
            "fixed opex, variable opex",
            "Cost categories eligible for the credit, comma-separated.",
        ),
        opt(
            "PTC facilities",
            "",
            ChoiceList(facility_kinds),
            "refinery",
            "Facility kinds whose costs are eligible, comma-separated.",
        ),
        opt(
            "PTC first year",
            "year",
            Year,
            "",
            "First year of the credit (Australia: 2027).",
        ),
        opt(
            "PTC last year",
            "year",
            Year,
            "",
            "Last year of the credit (Australia: 2040).",
        ),
        opt(
            "PTC refundable",
            "",
            YesNo,
            "yes",
            "Paid in cash where it exceeds tax; otherwise it offsets tax and the rest carries forward.",
        ),
    ],
};

pub const PARTIES: SheetSchema = SheetSchema {
    name: "Parties",
    layout: Layout::Table,
    required: true,
    purpose: "Everyone who pays or receives. The project company, Market (buyers of uncontracted output) and Suppliers (contractors and suppliers) are added automatically.",
    fields: &[
        req("Party", "", Text, "A unique name."),
        req(
            "Kind",
            "",
            Choice(party_kinds),
            "sponsor, bank, government, offtaker or other.",
        ),
        opt(
            "Country",
            "",
            Text,
            "",
            "A government's offtakers are the offtakers of its country.",
        ),
        req(
            "Discount rate",
            "%",
            Percent,
            "The party's own rate (public rates: Australia 7%, US OMB A-4 2%, UK Green Book 3.5%).",
        ),
    ],
};

pub const DISCOUNT_RATES: SheetSchema = SheetSchema {
    name: "Discount rates",
    layout: Layout::TimeSeries,
    required: false,
    purpose: "Optional per-year discount rate schedules (such as the Green Book's declining rates), flat after the last year; they override the Parties sheet's rate.",
    fields: &[req("Party", "", Text, "A party of the Parties sheet.")],
};

pub const OFFTAKE: SheetSchema = SheetSchema {
    name: "Offtake",
    layout: Layout::Table,
    required: false,
    purpose: "Offtake contracts: a buyer's share of a product's output over a span of years. Volume not contracted sells at market.",
    fields: &[
        req("Contract", "", Text, "A unique name."),
        req("Product", "", Text, "The product sold."),
        req("Buyer", "", Text, "A party."),
        req(
            "Share",
            "% of output",
            Percent,
            "Share of the product's sellable output.",
        ),
        req("Start year", "year", Year, "First year of deliveries."),
        req("End year", "year", Year, "Last year of deliveries."),
        req(
            "Pricing",
            "",
            Choice(pricing_kinds),
            "market (less the discount), fixed, floor (max of floor and discounted market) or collar (floor and cap).",
        ),
        opt(
            "Discount",
            "%",
            Percent,
            "0%",
            "Discount to the market price.",
        ),
        opt(
            "Fixed price",
            "product unit",
            Number,
            "",
            "For fixed pricing, in the product's unit and currency.",
        ),
        opt(
            "Floor",
            "product unit",
            Number,
            "",
            "For floor and collar pricing.",
        ),
        opt("Cap", "product unit", Number, "", "For collar pricing."),
        opt(
            "Take-or-pay",
            "%",
            Percent,
            "0%",
            "Share of the contracted volume the buyer pays for even when it takes less.",
        ),
    ],
};

pub const PRICE_SUPPORT: SheetSchema = SheetSchema {
    name: "Price support",
    layout: Layout::Table,
    required: false,
    purpose: "Price floors: a party pays the gap when market < floor on the covered volume, and may take a share of the upside above a threshold.",
    fields: &[
        req("Support", "", Text, "A unique name."),
        req("Product", "", Text, "The product supported."),
        req(
            "Supporter",
            "",
            Text,
            "The party that pays the gap (usually a government).",
        ),
        req(
            "Floor",
            "product unit",
            Number,
            "Floor price, in the product's unit and currency.",
        ),
        opt(
            "Covered share",
            "% of sales",
            Percent,
            "100%",
            "Share of the product's sales volume covered.",
        ),
        opt(
            "Upside share",
            "%",
            Percent,
            "0%",
            "Share of (market - threshold) paid back to the supporter.",
        ),
        opt(
            "Upside threshold",
            "product unit",
            Number,
            "the floor",
            "Price above which the upside is shared.",
        ),
        req("Start year", "year", Year, "First year of support."),
        req("End year", "year", Year, "Last year of support."),
    ],
};

pub const FINANCING: SheetSchema = SheetSchema {
    name: "Financing",
    layout: Layout::Table,
    required: true,
    purpose: "The capital structure: equity, loans, grants, guarantees and first-loss money. Each tranche's funders are on the Participants sheet.",
    fields: &[
        req("Tranche", "", Text, "A unique name."),
        req(
            "Kind",
            "",
            Choice(tranche_kinds),
            "equity, senior debt, subordinated debt, concessional loan, first-loss, grant or guarantee.",
        ),
        req(
            "Rank",
            "1 = most senior",
            Integer,
            "The waterfall pays loans by rank, pro rata within a rank; first-loss ranks below all other loans.",
        ),
        req(
            "Commitment",
            "deal currency",
            Number,
            "The most it provides; for a guarantee, the cap on calls.",
        ),
        opt(
            "Draw priority",
            "",
            Integer,
            "1",
            "Construction uses are met in this order, pro rata within a priority.",
        ),
        opt(
            "Interest rate",
            "%",
            Percent,
            "0%",
            "Yearly rate on the opening balance (and arrears).",
        ),
        opt(
            "Upfront fee",
            "% of commitment",
            Percent,
            "0%",
            "Paid at financial close.",
        ),
        opt(
            "Commitment fee",
            "%/yr",
            Percent,
            "0%",
            "On the undrawn commitment; for a guarantee, the yearly fee on the guaranteed exposure.",
        ),
        opt(
            "Capitalise interest",
            "",
            YesNo,
            "no",
            "Interest during construction is added to the balance instead of paid.",
        ),
        opt(
            "Grace",
            "years",
            Integer,
            "0",
            "Years after construction with interest only.",
        ),
        opt(
            "Tenor",
            "years",
            Integer,
            "",
            "Loans: years after construction by which the loan is repaid, grace included.",
        ),
        opt(
            "Repayment",
            "",
            Choice(repayments),
            "annuity",
            "annuity, straight-line, bullet, or sculpted to the target DSCR (on the base case).",
        ),
        opt("Target DSCR", "x", Number, "", "For sculpted repayment."),
        opt(
            "DSRA",
            "months",
            Number,
            "0",
            "Debt service reserve: months of next year's debt service.",
        ),
        opt(
            "Lock-up DSCR",
            "x",
            Number,
            "",
            "Distributions stop while this tranche's DSCR is below it.",
        ),
        opt(
            "Funds overruns",
            "",
            YesNo,
            "no",
            "Standby money, drawn only for costs beyond the other tranches' commitments.",
        ),
        opt(
            "Overrun cap",
            "deal currency",
            Number,
            "0",
            "Equity: extra equity the sponsors inject for overruns.",
        ),
        opt("Covers", "", Text, "", "Guarantee: the loan it covers."),
        opt(
            "Coverage",
            "%",
            Percent,
            "100%",
            "Guarantee: the share of each missed payment (debt service) or of the loss given default (loss) it pays, up to the commitment.",
        ),
        opt(
            "Guarantee kind",
            "",
            Choice(guarantee_kinds),
            "debt service",
            "Guarantee: debt service pays the covered share of each missed payment of the covered loan when it is missed, and is repaid from later recoveries at the loan's rank; loss pays the covered share of the loan's loss given default in its default year.",
        ),
        opt(
            "Shareholding",
            "%",
            Percent,
            "pro rata to commitment",
            "Equity: share of distributions.",
        ),
    ],
};

pub const PARTICIPANTS: SheetSchema = SheetSchema {
    name: "Participants",
    layout: Layout::Table,
    required: true,
    purpose: "Who funds each tranche and in what shares (a joint facility: US 40%, Japan 30%, Australia 30%). Every tranche needs rows summing to 100%.",
    fields: &[
        req("Tranche", "", Text, "A tranche of the Financing sheet."),
        req("Party", "", Text, "A party of the Parties sheet."),
        req(
            "Share",
            "%",
            Percent,
            "Its share of every flow of the tranche.",
        ),
    ],
};

pub const SCENARIOS: SheetSchema = SheetSchema {
    name: "Scenarios",
    layout: Layout::Table,
    required: false,
    purpose: "Named overrides of the base case, one row per override; rows with the same scenario name combine, even on the same target (multipliers and crashes multiply; overruns, delays and rate changes add). The base case (Base) is implicit.",
    fields: &[
        req("Scenario", "", Text, "The scenario's name."),
        req("Override", "", Choice(override_kinds), "What changes."),
        opt(
            "Product",
            "",
            Text,
            "all products",
            "Price crash, price multiplier, offtake uptake: the product.",
        ),
        opt(
            "Facility",
            "",
            Text,
            "all facilities",
            "Capex overrun, delay, ramp and opex multipliers: the facility.",
        ),
        opt(
            "Phase",
            "",
            Choice(delay_phases),
            "",
            "Delay: the phase that takes longer; later phases move with it (ramp-up: each step of the profile comes later, the first one holding meanwhile; operations: a longer life).",
        ),
        opt(
            "Party",
            "",
            Text,
            "every party",
            "Discount rate change: the party.",
        ),
        req(
            "Value",
            "",
            Number,
            "Crash depth %, multiplier, overrun %, delay years, uptake %, or rate change (0.01 = +1 point).",
        ),
        opt(
            "Start year",
            "year",
            Year,
            "",
            "Price crash: the year the fall starts.",
        ),
        opt(
            "Fall years",
            "years",
            Integer,
            "1",
            "Price crash: the price falls linearly to (1 - depth) over these years.",
        ),
        opt(
            "Bottom years",
            "years",
            Integer,
            "0",
            "Price crash: further years at the bottom.",
        ),
        opt(
            "Recovery years",
            "years",
            Integer,
            "0",
            "Price crash: years of linear recovery to (1 - haircut).",
        ),
        opt(
            "Haircut",
            "%",
            Percent,
            "0%",
            "Price crash: the share of the price lost for good.",
        ),
    ],
};

pub const MONTE_CARLO: SheetSchema = SheetSchema {
    name: "Monte Carlo",
    layout: Layout::Matrix,
    required: false,
    purpose: "Price paths for `lodestone montecarlo`, one row per simulated product: each year the log price moves back towards the deck at the reversion speed, takes a normal shock of the given volatility, and may crash (a Poisson number of jumps a year, each a fall of about the jump mean); corrected so that each year's simulated price has the deck as its expectation. After the fields, a correlation matrix of the yearly shocks: one column per product of this sheet, headed by its name; 1 on the diagonal, and a blank is its mirror cell's value (or 0). Products not listed keep their deck.",
    fields: &[
        req(
            "Product",
            "",
            Text,
            "A product of the Prices sheet whose price is simulated.",
        ),
        req(
            "Volatility",
            "%/yr",
            Percent,
            "Standard deviation of the yearly shock to the log price (40% is a typical year's move of about a third up or down).",
        ),
        opt(
            "Reversion",
            "/yr",
            Number,
            "0",
            "Speed at which the log price returns to the deck: a gap closes by 1 - e^-speed in a year (0.3: about a quarter a year; 0: a random walk around the deck).",
        ),
        opt(
            "Jump intensity",
            "per yr",
            Number,
            "0",
            "Expected crashes a year (Poisson): 0.1 is one a decade on average.",
        ),
        opt(
            "Jump mean",
            "% fall",
            Percent,
            "0%",
            "The median crash: the price falls to (1 - this) of its level (30%: to 70%).",
        ),
        opt(
            "Jump spread",
            "log",
            Number,
            "0",
            "Standard deviation of a crash's size in log terms (0.2: crashes vary by about a fifth).",
        ),
    ],
};

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
