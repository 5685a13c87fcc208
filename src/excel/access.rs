//! How each column of the deal workbook moves between a record of the model and its cell,
//! both ways: `schema` declares every column once as a `Column` (its model field's key, its
//! header, unit, type, default and meaning, and one `Access`), and the reader, the template
//! and the input writer all iterate those declarations. A field is read and written by the
//! same declaration, so the two directions cannot drift apart.
//!
//! Owns the kinds of access (a required value, a value whose blank is the schema's default,
//! an option, a name of the record a row belongs to) and the few columns that are read as a
//! group (a facility's feed and ramp-up, a fiscal regime's production tax credit) or written
//! by their record's kind (a cost's amount, an override's value). Must not decide whether a
//! value is valid beyond its type (`validate` does).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::inputs::CellValue;
use super::keys::Column as _;
use super::read::{FromCell, Log, Rec};
use super::schema::{self, Field};
use crate::model::*;

/// One column of a sheet (or one item of a key/value sheet): the model field it holds, how
/// the workbook presents it, and how it moves between the record and its cell.
pub struct Column<R: 'static, K: 'static> {
    /// The model field (`TrancheField::InterestRate`); `()` on sheets the engine reads by
    /// other keys (a discount rate's party, the Monte Carlo sheet).
    pub key: K,
    /// Header, unit, type, default and meaning: the template, the README and the reader's
    /// messages use it.
    pub field: Field,
    pub access: &'static dyn Access<R>,
}

/// What the input writer puts in a column's cell for one record.
pub enum Written<'d> {
    /// The model's value (a blank when it is the default of a record it does not apply to),
    /// with the cell it was read from.
    Value(CellValue, Option<&'d CellRef>),
    /// Nothing: an absent option, or a column of a group the record does not have.
    Absent,
    /// A value the model derives rather than holds ("market" as a feed source).
    Derived(CellValue),
    /// The name of the record the row belongs to (a participant's tranche): the sheet's
    /// writer knows it.
    Parent,
}

/// How one column is read into a record and written back from it.
pub trait Access<R> {
    /// Reads the column `name` of the record at `rec` into `record`.
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R);
    /// What the input writer shows for `record`.
    fn write<'d>(&self, record: &'d R) -> Written<'d>;
    /// Gives the value the cell of a missing sheet (so that checks on it stay quiet).
    fn missing(&self, _record: &mut R, _cell: &CellRef) {}
    /// Whether a record at its `Default` holds what the reader gives a blank cell of
    /// `field`: Err says how they differ.
    #[cfg(test)]
    fn default_agrees(&self, _field: &Field) -> Result<(), String> {
        Ok(())
    }
}

/// Where a field sits in its record: built by `lens!(Record: path.to.field)`.
pub struct Lens<R, T> {
    pub get: fn(&R) -> &T,
    pub set: fn(&mut R) -> &mut T,
}

/// A `Lens` on a field of a record type: `lens!(Tranche: interest_rate)`.
macro_rules! lens {
    ($record:ty : $($path:ident).+) => {
        $crate::excel::access::Lens {
            get: |r: &$record| &r.$($path).+,
            set: |r: &mut $record| &mut r.$($path).+,
        }
    };
}
pub(crate) use lens;

/// When a defaulted value is written: `None` always; `Some(applies)` only on records the
/// field applies to (a loan's interest rate) or where it differs from its default.
pub type Shown<R> = Option<fn(&R) -> bool>;

/// A value that must be filled.
pub struct Required<R, T>(pub Lens<R, Sourced<T>>);

/// A value whose blank means the schema's default.
pub struct Defaulted<R, T>(pub Lens<R, Sourced<T>>, pub Shown<R>);

/// A value whose blank means the schema's default and that applies only to some records
/// (`.1`: loans): anywhere else a value other than the default would be ignored, so the
/// reader refuses it at its cell. Written like `Defaulted` where it applies.
pub struct Scoped<R: 'static, T>(pub Lens<R, Sourced<T>>, pub &'static AppliesTo<R>);

/// The records a `Scoped` field applies to.
pub struct AppliesTo<R> {
    pub test: fn(&R) -> bool,
    /// The cell `test` reads (a tranche's kind): when it could not be read, the test is not
    /// trusted and nothing is refused.
    pub by: fn(&R) -> Option<&CellRef>,
    /// The records, for messages: "loans".
    pub to: &'static str,
}

/// A value whose blank means `.1`, which the schema describes in words ("deal currency").
pub struct BlankIs<R, T>(pub Lens<R, Sourced<T>>, pub T, pub Shown<R>);

/// A value whose blank means none (or one the model works out).
pub struct Optional<R, T>(pub Lens<R, Option<Sourced<T>>>);

/// The column naming the record a row belongs to (a participant's tranche, a scenario's
/// name, a rate schedule's party): read and written by its sheet, which groups the rows.
pub struct ParentName;

/// The cell of a model value.
pub fn put<T: ToCell>(v: &Sourced<T>) -> Written<'_> {
    Written::Value(v.value.to_cell(), v.cell.as_ref())
}

/// The cell of an optional model value, or nothing.
pub fn put_opt<T: ToCell>(v: &Option<Sourced<T>>) -> Written<'_> {
    v.as_ref().map(put).unwrap_or(Written::Absent)
}

/// Whether a defaulted value is shown: always, where it applies, or where it differs.
fn shown<R: Default, T: PartialEq>(record: &R, lens: &Lens<R, Sourced<T>>, when: Shown<R>) -> bool {
    when.is_none_or(|applies| applies(record))
        || (lens.get)(record).value != (lens.get)(&R::default()).value
}

fn written<'d, R: Default, T: ToCell + PartialEq + 'static>(
    record: &'d R,
    lens: &Lens<R, Sourced<T>>,
    when: Shown<R>,
) -> Written<'d> {
    let v = (lens.get)(record);
    if shown(record, lens, when) {
        put(v)
    } else {
        Written::Value(CellValue::Blank, v.cell.as_ref())
    }
}

impl<R: Default, T: FromCell + ToCell + PartialEq + 'static> Access<R> for Required<R, T> {
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R) {
        *(self.0.set)(record) = rec.required(log, name);
    }
    fn write<'d>(&self, record: &'d R) -> Written<'d> {
        put((self.0.get)(record))
    }
    fn missing(&self, record: &mut R, cell: &CellRef) {
        (self.0.set)(record).cell = Some(cell.clone());
    }
}

impl<R: Default, T: FromCell + ToCell + PartialEq + std::fmt::Debug + 'static> Access<R>
    for Defaulted<R, T>
{
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R) {
        *(self.0.set)(record) = rec.defaulted(log, name);
    }
    fn write<'d>(&self, record: &'d R) -> Written<'d> {
        written(record, &self.0, self.1)
    }
    fn missing(&self, record: &mut R, cell: &CellRef) {
        (self.0.set)(record).cell = Some(cell.clone());
    }
    #[cfg(test)]
    fn default_agrees(&self, field: &Field) -> Result<(), String> {
        let blank = T::from_cell(&calamine::Data::String(field.default.to_string()), field)
            .map_err(|_| format!("its default '{}' cannot be read", field.default))?;
        let record = R::default();
        let default = &(self.0.get)(&record).value;
        if *default == blank {
            Ok(())
        } else {
            Err(format!(
                "a blank reads as {blank:?}, the record's Default holds {default:?}"
            ))
        }
    }
}

impl<R: Default, T: FromCell + ToCell + PartialEq + std::fmt::Debug + 'static> Access<R>
    for Scoped<R, T>
{
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R) {
        let v: Sourced<T> = rec.defaulted(log, name);
        let applies = self.1;
        let trusted = (applies.by)(record).is_some_and(|c| !log.is_failed(c));
        let unused =
            trusted && !(applies.test)(record) && v.value != (self.0.get)(&R::default()).value;
        if let Some(cell) = v.cell.clone().filter(|_| unused) {
            log.refuse(
                rec.sheet_name(),
                cell,
                format!(
                    "{name} applies only to {} (found {}, expected a blank on this row)",
                    applies.to,
                    rec.found(name)
                ),
            );
        }
        *(self.0.set)(record) = v;
    }
    fn write<'d>(&self, record: &'d R) -> Written<'d> {
        written(record, &self.0, Some(self.1.test))
    }
    fn missing(&self, record: &mut R, cell: &CellRef) {
        (self.0.set)(record).cell = Some(cell.clone());
    }
    #[cfg(test)]
    fn default_agrees(&self, field: &Field) -> Result<(), String> {
        Defaulted(
            Lens {
                get: self.0.get,
                set: self.0.set,
            },
            None,
        )
        .default_agrees(field)
    }
}

impl<R: Default, T: FromCell + ToCell + PartialEq + Clone + std::fmt::Debug + 'static> Access<R>
    for BlankIs<R, T>
{
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R) {
        *(self.0.set)(record) = rec.or(log, name, self.1.clone());
    }
    fn write<'d>(&self, record: &'d R) -> Written<'d> {
        written(record, &self.0, self.2)
    }
    fn missing(&self, record: &mut R, cell: &CellRef) {
        (self.0.set)(record).cell = Some(cell.clone());
    }
    #[cfg(test)]
    fn default_agrees(&self, _field: &Field) -> Result<(), String> {
        let record = R::default();
        let default = &(self.0.get)(&record).value;
        if *default == self.1 {
            Ok(())
        } else {
            Err(format!(
                "a blank reads as {:?}, the record's Default holds {default:?}",
                self.1
            ))
        }
    }
}

impl<R, T: FromCell + ToCell + 'static> Access<R> for Optional<R, T> {
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R) {
        *(self.0.set)(record) = rec.optional(log, name);
    }
    fn write<'d>(&self, record: &'d R) -> Written<'d> {
        put_opt((self.0.get)(record))
    }
}

impl<R> Access<R> for ParentName {
    fn read(&self, _name: &'static str, _rec: Rec, _log: &mut Log, _record: &mut R) {}
    fn write<'d>(&self, _record: &'d R) -> Written<'d> {
        Written::Parent
    }
}

/// A column whose cell depends on another field of its record: read as required, written
/// by `write` (a cost's amount is a fraction when its basis is % of revenue).
pub struct RequiredShownBy<R>(
    pub Lens<R, Sourced<Decimal>>,
    pub for<'d> fn(&'d R) -> Written<'d>,
);

impl<R> Access<R> for RequiredShownBy<R> {
    fn read(&self, name: &'static str, rec: Rec, log: &mut Log, record: &mut R) {
        *(self.0.set)(record) = rec.required(log, name);
    }
    fn write<'d>(&self, record: &'d R) -> Written<'d> {
        (self.1)(record)
    }
}

/// A cost's amount: a fraction when its basis is % of revenue.
pub fn cost_amount(c: &CostLine) -> Written<'_> {
    let value = if c.basis.value == CostBasis::PercentOfRevenue {
        CellValue::Fraction(c.amount.value)
    } else {
        CellValue::Number(c.amount.value)
    };
    Written::Value(value, c.amount.cell.as_ref())
}

/// An override's value: a fraction for the kinds whose value is a share (a crash's depth,
/// an overrun, an uptake, a rate change).
pub fn override_value(o: &Override) -> Written<'_> {
    let fraction = matches!(
        o.kind.value,
        OverrideKind::PriceCrash
            | OverrideKind::CapexOverrun
            | OverrideKind::OfftakeUptake
            | OverrideKind::DiscountRateChange
    );
    let value = if fraction {
        CellValue::Fraction(o.value.value)
    } else {
        CellValue::Number(o.value.value)
    };
    Written::Value(value, o.value.cell.as_ref())
}

// ----- Columns read as a group -------------------------------------------------------------

/// A column of a facility's feed (source, product, recovery, transfer pricing and price,
/// share): the whole feed is read with its source; each column is written from it.
pub struct FeedColumn(pub FacilityField);

impl Access<Facility> for FeedColumn {
    fn read(&self, _name: &'static str, rec: Rec, log: &mut Log, f: &mut Facility) {
        if self.0 == FacilityField::FeedSource {
            f.feed = read_feed(rec, log);
        }
    }

    fn write<'d>(&self, f: &'d Facility) -> Written<'d> {
        use FacilityField as F;
        let Some(Feed { source, recovery }) = &f.feed else {
            return Written::Absent;
        };
        match (self.0, source) {
            (F::FeedSource, FeedSource::Market { .. }) => {
                Written::Derived(CellValue::Text("market".to_string()))
            }
            (F::FeedSource, FeedSource::Facility { name, .. }) => put(name),
            (F::FeedProduct, FeedSource::Market { product }) => put(product),
            (F::Recovery, _) => put(recovery),
            (F::TransferPricing, FeedSource::Facility { pricing, .. }) => put(pricing),
            (F::TransferPrice, FeedSource::Facility { price, .. }) => put_opt(price),
            (F::FeedShare, FeedSource::Facility { share, .. }) => put_opt(share),
            _ => Written::Absent,
        }
    }
}

fn read_feed(r: Rec, log: &mut Log) -> Option<Feed> {
    use FacilityField as F;
    let sheet = schema::FACILITIES.name;
    let source: Option<Sourced<String>> = r.optional(log, F::FeedSource.column());
    let Some(source) = source else {
        for field in [
            F::FeedProduct,
            F::Recovery,
            F::TransferPricing,
            F::TransferPrice,
            F::FeedShare,
        ] {
            r.unwanted(
                log,
                field.column(),
                "Feed source is blank",
                "without a feed source a facility takes no feed",
            );
        }
        return None;
    };
    let recovery = r.defaulted(log, F::Recovery.column());
    let source = if source.value.eq_ignore_ascii_case("market") {
        for field in [F::TransferPricing, F::TransferPrice, F::FeedShare] {
            r.unwanted(
                log,
                field.column(),
                "Feed source is market",
                "transfer pricing and feed shares apply only to feed from a facility of the deal",
            );
        }
        let product = match r.optional(log, F::FeedProduct.column()) {
            Some(p) => p,
            None => {
                let cell = r.cell(log, F::FeedProduct.column());
                log.cell_error(
                    sheet,
                    cell.clone(),
                    "Feed product is missing (found a blank, expected the product bought at market: a product of the Prices sheet)".to_string(),
                );
                Sourced::new(String::new(), cell)
            }
        };
        FeedSource::Market { product }
    } else {
        FeedSource::Facility {
            name: source,
            pricing: r.defaulted(log, F::TransferPricing.column()),
            price: r.optional(log, F::TransferPrice.column()),
            share: r.optional(log, F::FeedShare.column()),
        }
    };
    Some(Feed { source, recovery })
}

/// Step `.0` (from 0) of a facility's ramp-up: the steps are read together (filled from
/// Ramp 1 without gaps) with the first; each is written from the list.
pub struct RampStep(pub usize);

impl Access<Facility> for RampStep {
    fn read(&self, _name: &'static str, rec: Rec, log: &mut Log, f: &mut Facility) {
        if self.0 == 0 {
            f.ramp = read_ramp(rec, log);
        }
    }

    fn write<'d>(&self, f: &'d Facility) -> Written<'d> {
        f.ramp.get(self.0).map(put).unwrap_or(Written::Absent)
    }
}

fn read_ramp(r: Rec, log: &mut Log) -> Vec<Sourced<Rate>> {
    let mut ramp = Vec::new();
    let mut gap: Option<&'static str> = None;
    for field in (0..RAMP_STEPS).filter_map(FacilityField::ramp) {
        let name = field.column();
        match r.optional::<Decimal>(log, name) {
            Some(v) => {
                if let Some(blank) = gap {
                    let cell = v
                        .cell
                        .clone()
                        .unwrap_or_else(|| log.phantom(schema::FACILITIES.name));
                    log.cell_error(
                        schema::FACILITIES.name,
                        cell,
                        format!(
                            "{name} is given but {blank} is blank (found a gap in the ramp-up, expected ramp-up years filled from Ramp 1 without gaps)"
                        ),
                    );
                }
                ramp.push(v);
            }
            None => {
                if gap.is_none() {
                    gap = Some(name);
                }
            }
        }
    }
    ramp
}

/// A column of a fiscal regime's production tax credit: read together with its rate (a
/// blank rate means no credit, and then every other PTC column must be blank); each
/// written from the credit.
pub struct PtcColumn(pub FiscalField);

impl Access<FiscalRegime> for PtcColumn {
    fn read(&self, _name: &'static str, rec: Rec, log: &mut Log, f: &mut FiscalRegime) {
        if self.0 == FiscalField::PtcRate {
            f.production_tax_credit = read_ptc(rec, log);
        }
    }

    fn write<'d>(&self, f: &'d FiscalRegime) -> Written<'d> {
        use FiscalField as F;
        let Some(ptc) = &f.production_tax_credit else {
            return Written::Absent;
        };
        match self.0 {
            F::PtcRate => put(&ptc.rate),
            F::PtcCategories => put(&ptc.categories),
            F::PtcFacilities => put(&ptc.facility_kinds),
            F::PtcFirstYear => put(&ptc.first_year),
            F::PtcLastYear => put(&ptc.last_year),
            F::PtcRefundable => put(&ptc.refundable),
            _ => Written::Absent,
        }
    }
}

fn read_ptc(r: Rec, log: &mut Log) -> Option<ProductionTaxCredit> {
    use FiscalField as F;
    let Some(rate) = r.optional::<Decimal>(log, F::PtcRate.column()) else {
        for field in [
            F::PtcCategories,
            F::PtcFacilities,
            F::PtcFirstYear,
            F::PtcLastYear,
            F::PtcRefundable,
        ] {
            r.unwanted(
                log,
                field.column(),
                "PTC rate is blank",
                "without a PTC rate there is no production tax credit",
            );
        }
        return None;
    };
    Some(ProductionTaxCredit {
        rate,
        categories: r.defaulted(log, F::PtcCategories.column()),
        facility_kinds: r.defaulted(log, F::PtcFacilities.column()),
        first_year: r.required(log, F::PtcFirstYear.column()),
        last_year: r.required(log, F::PtcLastYear.column()),
        refundable: r.defaulted(log, F::PtcRefundable.column()),
    })
}

// ----- Values as cells ---------------------------------------------------------------------

/// A model value as the input writer shows it.
pub trait ToCell {
    fn to_cell(&self) -> CellValue;
}

impl ToCell for String {
    fn to_cell(&self) -> CellValue {
        CellValue::Text(self.clone())
    }
}

impl ToCell for Decimal {
    fn to_cell(&self) -> CellValue {
        CellValue::Number(*self)
    }
}

impl ToCell for u32 {
    fn to_cell(&self) -> CellValue {
        CellValue::Number(Decimal::from(*self))
    }
}

impl ToCell for i32 {
    fn to_cell(&self) -> CellValue {
        CellValue::Number(Decimal::from(*self))
    }
}

impl ToCell for bool {
    fn to_cell(&self) -> CellValue {
        CellValue::YesNo(*self)
    }
}

impl ToCell for NaiveDate {
    fn to_cell(&self) -> CellValue {
        CellValue::Date(*self)
    }
}

/// The labelled enums are written by their label (any `Labelled` type).
impl<T: Labelled> ToCell for T {
    fn to_cell(&self) -> CellValue {
        CellValue::Text(self.label().to_string())
    }
}

/// A list of labels as "a, b".
impl<T: Labelled> ToCell for Vec<T> {
    fn to_cell(&self) -> CellValue {
        CellValue::Text(
            self.iter()
                .map(|v| v.label())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}
