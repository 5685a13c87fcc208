//! The JSON of a run, for pipelines: the results (`engine::results`) as one document with
//! its schema version and the Lodestone version at the top, every key snake_case, every
//! amount exact (a decimal's text; see `engine::results::as_text`). With
//! `Options::rows`, each scenario also carries its calculation per year. The document's
//! shape is `schema/results.schema.json`; `tests/json_schema.rs` validates every example
//! against it.
//!
//! Pure: text in memory; the caller writes it.

use serde::Serialize;

use crate::engine::Results;
use crate::engine::calc::Unit;
use crate::engine::results::{
    CheckResult, Event, FacilityResult, GovernmentResult, LedgerEntry, PartyResult, Period,
    ProjectResult, TrancheResult, TrancheRows, as_text, periods,
};
use crate::model::Deal;

/// The version of the document's shape. Bump the minor number when a key is added, the
/// major number when a key is renamed or removed or a value changes its type or meaning;
/// update `schema/results.schema.json` in the same commit (README, "The JSON").
pub const SCHEMA_VERSION: &str = "1.1";

/// What the document holds beyond the results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Every calculation row per year (`--json-rows`): each tranche's draws, interest,
    /// principal, DSCR and DSRA; each facility's production, sales value, costs and royalty; each party's ledger entries;
    /// and every row of the calculation as the workbook shows it.
    pub rows: bool,
}

#[derive(Serialize)]
struct Document<'a> {
    schema_version: &'static str,
    lodestone_version: &'static str,
    deal: &'a str,
    currency: &'a str,
    discounting: &'a str,
    periods: &'a [Period],
    scenarios: Vec<Scenario<'a>>,
}

#[derive(Serialize)]
struct Scenario<'a> {
    name: &'a str,
    parties: &'a [PartyResult],
    project: &'a ProjectResult,
    governments: &'a [GovernmentResult],
    tranches: &'a [TrancheResult],
    checks: &'a [CheckResult],
    events: &'a [Event],
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Rows<'a>>,
}

/// A scenario's calculation per year.
#[derive(Serialize)]
struct Rows<'a> {
    tranches: Vec<TrancheYears<'a>>,
    facilities: &'a [FacilityResult],
    ledger: Vec<PartyLedger<'a>>,
    calculation: Vec<CalcRow<'a>>,
}

#[derive(Serialize)]
struct TrancheYears<'a> {
    name: &'a str,
    #[serde(serialize_with = "as_text::opt")]
    disbursed: Option<rust_decimal::Decimal>,
    #[serde(flatten)]
    rows: &'a TrancheRows,
}

#[derive(Serialize)]
struct PartyLedger<'a> {
    party: &'a str,
    entries: &'a [LedgerEntry],
}

/// One row of the calculation: its section and label as in the workbook, its unit.
#[derive(Serialize)]
struct CalcRow<'a> {
    section: &'a str,
    label: &'a str,
    unit: &'static str,
    values: as_text::Texts<'a>,
}

/// The JSON of a run without the per-year rows (what `run --json` writes).
pub fn to_json(deal: &Deal, runs: &[Results]) -> String {
    to_json_with(deal, runs, Options::default())
}

/// The complete, exact JSON of a run (deterministic: fields and lists in a fixed order).
pub fn to_json_with(deal: &Deal, runs: &[Results], options: Options) -> String {
    let periods = periods(deal);
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        lodestone_version: env!("CARGO_PKG_VERSION"),
        deal: &deal.name.value,
        currency: &deal.currency.value,
        discounting: deal.discounting.value.label(),
        periods: &periods,
        scenarios: runs
            .iter()
            .map(|r| Scenario {
                name: &r.scenario,
                parties: &r.parties,
                project: &r.project,
                governments: &r.governments,
                tranches: &r.tranches,
                checks: &r.checks,
                events: &r.events,
                rows: options.rows.then(|| rows(r)),
            })
            .collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}

fn rows(r: &Results) -> Rows<'_> {
    Rows {
        tranches: r
            .tranches
            .iter()
            .map(|t| TrancheYears {
                name: &t.name,
                disbursed: t.disbursed,
                rows: &t.rows,
            })
            .collect(),
        facilities: &r.facilities,
        ledger: r
            .parties
            .iter()
            .map(|p| PartyLedger {
                party: &p.name,
                entries: &p.ledger,
            })
            .collect(),
        calculation: r
            .calc
            .order
            .iter()
            .filter_map(|&id| {
                let def = r.calc.rows.get(id.index())?;
                Some(CalcRow {
                    section: r.calc.sections.get(def.section).map_or("", |s| &s.title),
                    label: &def.label,
                    unit: unit_name(def.unit),
                    values: as_text::Texts(r.values.row(id)),
                })
            })
            .collect(),
    }
}

/// A unit's snake_case name in the JSON.
fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Money => "money",
        Unit::Tonnes => "tonnes",
        Unit::PerTonne => "per_tonne",
        Unit::Price => "price",
        Unit::Percent => "percent",
        Unit::Ratio => "ratio",
        Unit::Flag => "flag",
        Unit::Year => "year",
        Unit::Count => "count",
    }
}
