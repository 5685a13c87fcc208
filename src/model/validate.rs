//! The semantic checks a deal must pass before anything is computed from it: the things that
//! would otherwise silently produce nonsense (a share of 150%, participants funding 90% of a
//! loan, a guarantee of a tranche that does not exist, a mine whose schedule runs past the
//! horizon, a price deck with a hole in it).
//!
//! Owns `validate` and the `Finding` it is built from. Pure: it reads a `Deal` and returns
//! every problem, each at the cell that holds the bad value; it never stops at the first.
//! It must not parse cells (the reader does) nor compute cash flows (the engine does).

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;

use super::{
    CellRef, CostBasis, Deal, Facility, FacilityKind, FeedSource, GuaranteeKind, InputError,
    MAX_LEDGER_PRECISION, OverrideKind, Phase, PricingKind, Repayment, Sourced, TrancheKind,
    TransferPricing,
};

/// Every problem with the deal, in the order the checks found them (readers sort them by
/// cell). Empty when the deal is valid.
pub fn validate(deal: &Deal) -> Vec<InputError> {
    findings(deal).into_iter().map(|f| f.error).collect()
}

/// A list of names a check consulted, so that a reader can tell a genuine problem from the
/// echo of a sheet it could not read (an "unknown facility" when the Facilities sheet is
/// missing is not worth reporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameList {
    Facilities,
    Products,
    Fx,
    Fiscal,
    Parties,
    Tranches,
    Participants,
    Offtakes,
    Supports,
    Scenarios,
    MonteCarlo,
}

/// One problem, with every cell and name list the check consulted to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub error: InputError,
    /// The cells whose values the check used (the error's own cell first).
    pub cells: Vec<CellRef>,
    /// The name lists the check looked things up in.
    pub lists: Vec<NameList>,
}

impl Finding {
    fn at(cell: &Option<CellRef>, message: impl Into<String>) -> Self {
        Finding {
            error: InputError::new(cell.clone(), message),
            cells: cell.iter().cloned().collect(),
            lists: Vec::new(),
        }
    }

    /// The check also used this value.
    fn with<T>(mut self, value: &Sourced<T>) -> Self {
        if let Some(c) = &value.cell {
            self.cells.push(c.clone());
        }
        self
    }

    fn with_opt<T>(self, value: &Option<Sourced<T>>) -> Self {
        match value {
            Some(v) => self.with(v),
            None => self,
        }
    }

    /// The check looked a name up in this list.
    fn uses(mut self, list: NameList) -> Self {
        self.lists.push(list);
        self
    }
}

/// Every problem with every cell and list each check consulted (see `NameList`).
pub fn findings(deal: &Deal) -> Vec<Finding> {
    let mut c = Checker {
        deal,
        idx: Index::new(deal),
        found: Vec::new(),
    };
    c.deal_sheet();
    c.facilities();
    c.products();
    c.fx();
    c.costs();
    c.fiscal();
    c.parties();
    c.offtakes();
    c.supports();
    c.tranches();
    c.scenarios();
    c.monte_carlo();
    c.texts();
    c.found
}

/// The percentage a fraction shows as: 0.305 → "30.5%".
fn pct(d: Decimal) -> String {
    match d.checked_mul(Decimal::ONE_HUNDRED) {
        Some(p) => format!("{}%", p.normalize()),
        None => d.normalize().to_string(),
    }
}

/// A sum of shares that cannot overflow: past Decimal's range it saturates, which is far
/// beyond 100% and reported as such.
fn sum(values: impl Iterator<Item = Decimal>) -> Decimal {
    values.fold(Decimal::ZERO, |acc, v| {
        acc.checked_add(v).unwrap_or(if v < Decimal::ZERO {
            Decimal::MIN
        } else {
            Decimal::MAX
        })
    })
}

fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Names compare for duplicates ignoring case and surrounding spaces ("Japan" and "japan "
/// would be one party to a reader of the workbook).
fn name_key(s: &str) -> String {
    s.trim().to_lowercase()
}

fn origin<T>(v: &Sourced<T>) -> String {
    match &v.cell {
        Some(c) => format!(" at {c}"),
        None => String::new(),
    }
}

/// A list of names, looked up by hash: a hint for an unknown name ("did you mean 'Japan'?",
/// or the first twelve) without scanning the list for every unknown name.
struct Known<'a> {
    /// The first name of each `name_key`.
    by_key: HashMap<String, &'a str>,
    first: Vec<&'a str>,
    len: usize,
}

impl<'a> Known<'a> {
    fn new(names: impl Iterator<Item = &'a str>) -> Self {
        let mut known = Known {
            by_key: HashMap::new(),
            first: Vec::new(),
            len: 0,
        };
        for name in names {
            known.by_key.entry(name_key(name)).or_insert(name);
            if known.first.len() < 12 {
                known.first.push(name);
            }
            known.len += 1;
        }
        known
    }

    /// "(expected one of: a, b, c)", or a hint at a name that differs only in case.
    fn hint(&self, found: &str) -> String {
        if let Some(k) = self.by_key.get(&name_key(found)) {
            return format!("did you mean '{k}'? names must match exactly");
        }
        if self.len == 0 {
            return "there are none".to_string();
        }
        let shown: Vec<String> = self.first.iter().map(|k| format!("'{k}'")).collect();
        let more = if self.len > 12 { ", …" } else { "" };
        format!("expected one of {}{more}", shown.join(", "))
    }
}

/// The deal's names, indexed once, so that every check is linear in the rows: no lookup
/// scans a list (10,000 participants of 10,000 tranches would be 10⁸ comparisons).
struct Index<'a> {
    facilities: HashMap<&'a str, &'a Facility>,
    products: HashMap<&'a str, &'a super::Product>,
    parties: HashMap<&'a str, &'a super::Party>,
    tranches: HashMap<&'a str, &'a super::Tranche>,
    fiscal: HashSet<&'a str>,
    fx: HashMap<&'a str, &'a super::FxSeries>,
    /// Products some facility makes, and those an offtake contract sells.
    produced: HashSet<&'a str>,
    sold: HashSet<&'a str>,
    /// Facilities whose output a refinery of the deal takes at cost or a fixed price.
    transferred: HashSet<&'a str>,
    /// Each product's first year of production or purchase as feed.
    needed_from: HashMap<&'a str, i64>,
    known_facilities: Known<'a>,
    known_products: Known<'a>,
    known_parties: Known<'a>,
    known_tranches: Known<'a>,
    known_fiscal: Known<'a>,
    known_produced: Known<'a>,
    known_sold: Known<'a>,
}

impl<'a> Index<'a> {
    fn new(d: &'a Deal) -> Self {
        fn first<'a, T>(items: &'a [T], key: impl Fn(&'a T) -> &'a str) -> HashMap<&'a str, &'a T> {
            let mut map = HashMap::with_capacity(items.len());
            for item in items {
                map.entry(key(item)).or_insert(item);
            }
            map
        }
        let mut transferred = HashSet::new();
        let mut needed_from: HashMap<&str, i64> = HashMap::new();
        for f in &d.facilities {
            let year = first_production(f);
            let mut need = |product: &'a str| {
                let y = needed_from.entry(product).or_insert(year);
                *y = (*y).min(year);
            };
            need(f.product.value.as_str());
            if let Some(feed) = &f.feed {
                match &feed.source {
                    FeedSource::Facility { name, pricing, .. } => {
                        if pricing.value != TransferPricing::Market {
                            transferred.insert(name.value.as_str());
                        }
                    }
                    FeedSource::Market { product } => need(product.value.as_str()),
                }
            }
        }
        Index {
            facilities: first(&d.facilities, |f| f.name.value.as_str()),
            products: first(&d.products, |p| p.name.value.as_str()),
            parties: first(&d.parties, |p| p.name.value.as_str()),
            tranches: first(&d.tranches, |t| t.name.value.as_str()),
            fiscal: d.fiscal.iter().map(|f| f.country.value.as_str()).collect(),
            fx: first(&d.fx, |s| s.currency.value.as_str()),
            produced: d
                .facilities
                .iter()
                .map(|f| f.product.value.as_str())
                .collect(),
            sold: d
                .offtakes
                .iter()
                .map(|c| c.product.value.as_str())
                .collect(),
            transferred,
            needed_from,
            known_facilities: Known::new(d.facilities.iter().map(|f| f.name.value.as_str())),
            known_products: Known::new(d.products.iter().map(|p| p.name.value.as_str())),
            known_parties: Known::new(d.parties.iter().map(|p| p.name.value.as_str())),
            known_tranches: Known::new(d.tranches.iter().map(|t| t.name.value.as_str())),
            known_fiscal: Known::new(d.fiscal.iter().map(|f| f.country.value.as_str())),
            known_produced: Known::new(d.facilities.iter().map(|f| f.product.value.as_str())),
            known_sold: Known::new(d.offtakes.iter().map(|c| c.product.value.as_str())),
        }
    }
}

struct Checker<'a> {
    deal: &'a Deal,
    idx: Index<'a>,
    found: Vec<Finding>,
}

impl<'a> Checker<'a> {
    fn push(&mut self, f: Finding) {
        self.found.push(f);
    }

    fn first_year(&self) -> i64 {
        self.deal.first_year() as i64
    }

    fn last_year(&self) -> i64 {
        self.first_year() + self.deal.horizon_years.value as i64 - 1
    }

    /// A share or probability: 0% to 100%. From 1 to 100 it was most likely typed as a
    /// whole number (21 for 21%), and the message says so.
    fn share(&mut self, what: &str, v: &Sourced<Decimal>) {
        if v.value < Decimal::ZERO || v.value > Decimal::ONE {
            let hint = if v.value > Decimal::ONE && v.value <= Decimal::ONE_HUNDRED {
                format!(
                    "; {} looks like a percentage typed as a whole number: if {}% was meant, type {}% or {}",
                    num(v.value),
                    num(v.value),
                    num(v.value),
                    num(v.value / Decimal::ONE_HUNDRED)
                )
            } else {
                String::new()
            };
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} is outside 0–100% (found {}, expected a share between 0% and 100%{hint})",
                    pct(v.value)
                ),
            ));
        }
    }

    /// A rate (interest, discount, escalation, tax): above −100%, and not above 100%, which
    /// is almost always a percentage typed as a whole number.
    fn rate(&mut self, what: &str, v: &Sourced<Decimal>) {
        if v.value > Decimal::ONE {
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} of {} looks like a percentage typed as a whole number (found {}, expected a fraction such as 0.08 or a percentage such as 8%)",
                    pct(v.value),
                    num(v.value)
                ),
            ));
        } else if v.value <= -Decimal::ONE {
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} is −100% or less (found {}, expected a rate above −100%)",
                    pct(v.value)
                ),
            ));
        }
    }

    fn not_negative(&mut self, what: &str, v: &Sourced<Decimal>, unit: &str) {
        if v.value < Decimal::ZERO {
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} is negative (found {}{unit}, expected 0 or more)",
                    num(v.value)
                ),
            ));
        }
    }

    fn positive(&mut self, what: &str, v: &Sourced<Decimal>, unit: &str) {
        if v.value < Decimal::ZERO {
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} is negative (found {}{unit}, expected more than 0)",
                    num(v.value)
                ),
            ));
        } else if v.value.is_zero() {
            self.push(Finding::at(
                &v.cell,
                format!("{what} is zero (found 0{unit}, expected more than 0)"),
            ));
        }
    }

    fn currency_code(&mut self, what: &str, v: &Sourced<String>) {
        let ok = v.value.len() == 3 && v.value.chars().all(|c| c.is_ascii_uppercase());
        if !ok {
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} is not an ISO currency code (found '{}', expected three capital letters such as USD)",
                    v.value
                ),
            ));
        }
    }

    /// A calendar year that must fall within the model's periods.
    fn within_model(&mut self, what: &str, v: &Sourced<i32>) {
        let (first, last) = (self.first_year(), self.last_year());
        let y = v.value as i64;
        if y < first || y > last {
            self.push(
                Finding::at(
                    &v.cell,
                    format!(
                        "{what} is outside the model (found {y}, expected a year from {first} to {last})"
                    ),
                )
                .with(&self.deal.start_date)
                .with(&self.deal.horizon_years),
            );
        }
    }

    /// Reports the second and later occurrences of each name.
    fn unique_names<'n>(
        &mut self,
        what: &str,
        names: impl Iterator<Item = &'n Sourced<String>>,
        list: NameList,
    ) {
        let mut seen: HashMap<String, &Sourced<String>> = HashMap::new();
        for n in names {
            match seen.get(&name_key(&n.value)) {
                Some(first) => {
                    let at = match &first.cell {
                        Some(c) => format!("first at {c}"),
                        None => "already used".to_string(),
                    };
                    self.push(
                        Finding::at(
                            &n.cell,
                            format!(
                                "duplicate {what} name '{}' ({at}; expected a unique name)",
                                n.value
                            ),
                        )
                        .with(*first)
                        .uses(list),
                    );
                }
                None => {
                    seen.insert(name_key(&n.value), n);
                }
            }
        }
    }

    fn unknown_party(&mut self, role: &str, r: &Sourced<String>) {
        if !self.idx.parties.contains_key(r.value.as_str()) {
            let hint = self.idx.known_parties.hint(&r.value);
            self.push(
                Finding::at(
                    &r.cell,
                    format!("unknown party '{}' {role} ({hint})", r.value),
                )
                .uses(NameList::Parties),
            );
        }
    }

    fn unknown_facility(&mut self, role: &str, r: &Sourced<String>) {
        if !self.idx.facilities.contains_key(r.value.as_str()) {
            let hint = self.idx.known_facilities.hint(&r.value);
            self.push(
                Finding::at(
                    &r.cell,
                    format!("unknown facility '{}' {role} ({hint})", r.value),
                )
                .uses(NameList::Facilities),
            );
        }
    }

    /// A product that must have a price deck.
    fn unknown_priced_product(&mut self, role: &str, r: &Sourced<String>) {
        if !self.idx.products.contains_key(r.value.as_str()) {
            let hint = self.idx.known_products.hint(&r.value);
            self.push(
                Finding::at(
                    &r.cell,
                    format!(
                        "unknown product '{}' {role} (no price deck on the Prices sheet; {hint})",
                        r.value
                    ),
                )
                .uses(NameList::Products),
            );
        }
    }

    fn is_reserved_party_name(&self, name: &str) -> bool {
        let k = name_key(name);
        k == name_key(&self.deal.project_name.value) || k == "market" || k == "suppliers"
    }

    // ----- Deal -------------------------------------------------------------------------

    fn deal_sheet(&mut self) {
        let d = self.deal;
        self.currency_code("the deal currency", &d.currency);
        let h = d.horizon_years.value;
        if !(1..=200).contains(&h) {
            self.push(Finding::at(
                &d.horizon_years.cell,
                format!("horizon out of range (found {h} years, expected 1 to 200 years)"),
            ));
        }
        self.rate("the project discount rate", &d.discount_rate);
        if d.project_name.value.trim().is_empty() {
            self.push(Finding::at(
                &d.project_name.cell,
                "the project company has no name (expected a name such as 'Project')",
            ));
        }
        if let Some(y) = &d.financial_close_year {
            self.within_model("the financial close year", y);
            self.close_before_operations(y);
        }
        let places = d.ledger_precision.value;
        if places > MAX_LEDGER_PRECISION {
            self.push(Finding::at(
                &d.ledger_precision.cell,
                format!(
                    "ledger precision out of range (found {places} decimal places, expected 0 to {MAX_LEDGER_PRECISION}; 2 books to the cent)"
                ),
            ));
        }
        if let Some(country) = &d.tax_home_country
            && !self.idx.fiscal.contains(country.value.as_str())
        {
            let hint = self.idx.known_fiscal.hint(&country.value);
            self.push(
                Finding::at(
                    &country.cell,
                    format!(
                        "the tax home country '{}' has no row on the Fiscal sheet ({hint})",
                        country.value
                    ),
                )
                .uses(NameList::Fiscal),
            );
        }
        if d.facilities.is_empty() {
            self.push(
                Finding::at(
                    &None,
                    "the deal has no facility (expected at least one row on the Facilities sheet)",
                )
                .uses(NameList::Facilities),
            );
        }
        if !d
            .tranches
            .iter()
            .any(|t| t.kind.value == TrancheKind::Equity)
        {
            self.push(
                Finding::at(
                    &None,
                    "the deal has no equity tranche (expected at least one tranche of kind 'equity' on the Financing sheet)",
                )
                .uses(NameList::Tranches),
            );
        }
    }

    /// Loans are drawn from financial close until operations start: a close after the last
    /// construction year would leave every loan undrawn and its fees unfunded. Lodestone does
    /// not model a refinancing after construction, so such a close is refused.
    fn close_before_operations(&mut self, close: &Sourced<i32>) {
        let d = self.deal;
        let Some(operations) = d.facilities.iter().map(first_production).max() else {
            return;
        };
        if !d.tranches.iter().any(|t| t.kind.value.is_loan()) {
            return;
        }
        let last_build = operations - 1;
        if close.value as i64 > last_build {
            let mut finding = Finding::at(
                &close.cell,
                format!(
                    "the financial close year ({}) is after construction, which ends in {last_build}: loans are drawn only until operations start, so none would ever be drawn (expected a year up to {last_build}, or a blank for the first construction year)",
                    close.value
                ),
            );
            // What the schedule was read from: an unreadable year or duration there makes
            // this an echo, not a finding.
            for f in &d.facilities {
                finding = finding
                    .with(&f.start_year)
                    .with(&f.exploration_years)
                    .with(&f.feasibility_years)
                    .with(&f.permitting_years)
                    .with(&f.construction_years);
            }
            self.push(finding.uses(NameList::Facilities));
        }
    }

    // ----- Facilities -------------------------------------------------------------------

    fn facilities(&mut self) {
        let d = self.deal;
        self.unique_names(
            "facility",
            d.facilities.iter().map(|f| &f.name),
            NameList::Facilities,
        );
        for f in &d.facilities {
            let name = &f.name.value;
            self.positive(&format!("the nameplate of '{name}'"), &f.nameplate, " t/yr");
            if !self.idx.fiscal.contains(f.country.value.as_str()) {
                let hint = self.idx.known_fiscal.hint(&f.country.value);
                self.push(
                    Finding::at(
                        &f.country.cell,
                        format!(
                            "'{name}' is in '{}', which has no row on the Fiscal sheet ({hint})",
                            f.country.value
                        ),
                    )
                    .uses(NameList::Fiscal),
                );
            }
            self.facility_product(f);
            self.feed(f);
            for (i, r) in f.ramp.iter().enumerate() {
                self.share(&format!("ramp-up year {} of '{name}'", i + 1), r);
            }
            if let Some(sixth) = f.ramp.get(5) {
                self.push(Finding::at(
                    &sixth.cell,
                    format!(
                        "'{name}' ramps up over {} years (expected at most 5: the Facilities sheet has Ramp 1 to Ramp 5)",
                        f.ramp.len()
                    ),
                ));
            }
            for (phase, p) in f.gates.in_order() {
                self.share(
                    &format!("the probability that '{name}' passes {}", phase.label()),
                    p,
                );
            }
            self.schedule(f);
        }
        self.feed_cycles();
        self.feed_shares();
    }

    /// Feed shares split a source's output between the facilities it feeds: each 0–100%,
    /// given for all of them or none (none: pro rata to what each can take), at most 100%
    /// together (the rest sells at market), and only where the rest has a price (a product
    /// without one is worked only for what its plants take, pro rata).
    fn feed_shares(&mut self) {
        let d = self.deal;
        for source in &d.facilities {
            let fed: Vec<(&Facility, Option<&Sourced<Decimal>>)> = d
                .facilities
                .iter()
                .filter_map(|f| match &f.feed.as_ref()?.source {
                    FeedSource::Facility { name, share, .. } if name.value == source.name.value => {
                        Some((f, share.as_ref()))
                    }
                    _ => None,
                })
                .collect();
            let given: Vec<&Sourced<Decimal>> = fed.iter().filter_map(|(_, s)| *s).collect();
            if given.is_empty() {
                continue;
            }
            for (f, share) in &fed {
                if let Some(share) = share {
                    self.share(
                        &format!(
                            "the feed share of '{}' in '{}'",
                            f.name.value, source.name.value
                        ),
                        share,
                    );
                }
            }
            let name = &source.name.value;
            if given.len() < fed.len() {
                let blank: Vec<String> = fed
                    .iter()
                    .filter(|(_, s)| s.is_none())
                    .map(|(f, _)| format!("'{}'", f.name.value))
                    .collect();
                let mut finding = Finding::at(
                    &given[0].cell,
                    format!(
                        "some facilities fed by '{name}' have a feed share and {} not (expected a share for every facility it feeds, or none: pro rata to what each can take)",
                        blank.join(", ") + if blank.len() == 1 { " does" } else { " do" }
                    ),
                );
                for s in &given[1..] {
                    finding = finding.with(*s);
                }
                self.push(finding.uses(NameList::Facilities));
                continue;
            }
            let total = sum(given.iter().map(|s| s.value));
            if total > Decimal::ONE {
                let parts: Vec<String> = fed
                    .iter()
                    .filter_map(|(f, s)| {
                        s.map(|s| format!("'{}' {}{}", f.name.value, pct(s.value), origin(s)))
                    })
                    .collect();
                let mut finding = Finding::at(
                    &given[0].cell,
                    format!(
                        "the feed shares of '{name}' sum to {} (expected at most 100%; found {})",
                        pct(total),
                        parts.join(", ")
                    ),
                );
                for s in &given[1..] {
                    finding = finding.with(*s);
                }
                self.push(finding);
            }
            if d.product(&source.product.value).is_none() {
                self.push(
                    Finding::at(
                        &given[0].cell,
                        format!(
                            "'{name}' has feed shares, but its product '{}' has no price deck: what the shares leave would go unsold (expected blank shares, so that it is worked only for what its plants take, pro rata; or a row on the Prices sheet)",
                            source.product.value
                        ),
                    )
                    .with(&source.product)
                    .uses(NameList::Products),
                );
            }
        }
    }

    /// A facility's product must be priced, unless all of it goes to a refinery of the
    /// deal at cost or a fixed price.
    fn facility_product(&mut self, f: &Facility) {
        if self.idx.products.contains_key(f.product.value.as_str()) {
            return;
        }
        let transferred = self.idx.transferred.contains(f.name.value.as_str());
        if !transferred {
            let hint = self.idx.known_products.hint(&f.product.value);
            self.push(
                Finding::at(
                    &f.product.cell,
                    format!(
                        "unknown product '{}' of '{}' (no price deck on the Prices sheet, and no refinery of the deal takes it at cost or a fixed price; {hint})",
                        f.product.value, f.name.value
                    ),
                )
                .uses(NameList::Products)
                .uses(NameList::Facilities),
            );
        }
    }

    fn feed(&mut self, f: &Facility) {
        let name = &f.name.value;
        match (&f.feed, f.kind.value) {
            (Some(_), FacilityKind::Mine) => {
                self.push(Finding::at(
                    &f.kind.cell,
                    format!(
                        "'{name}' is a mine but has a feed source (found a feed, expected none: only concentrators and refineries take feed)"
                    ),
                ));
            }
            (None, FacilityKind::Concentrator | FacilityKind::Refinery) => {
                self.push(Finding::at(
                    &f.kind.cell,
                    format!(
                        "'{name}' is a {} without a feed source (expected a facility of the deal or 'market' in Feed source)",
                        f.kind.value
                    ),
                ));
            }
            _ => {}
        }
        let Some(feed) = &f.feed else { return };
        self.positive(
            &format!("the recovery of '{name}'"),
            &feed.recovery,
            " t per t of feed",
        );
        match &feed.source {
            FeedSource::Market { product } => {
                self.unknown_priced_product(&format!("as the feed of '{name}'"), product);
            }
            FeedSource::Facility {
                name: source,
                pricing,
                price,
                ..
            } => {
                match self.idx.facilities.get(source.value.as_str()).copied() {
                    None => {
                        self.unknown_facility(&format!("as the feed source of '{name}'"), source)
                    }
                    Some(s) if s.name.value == *name => {
                        self.push(Finding::at(
                            &source.cell,
                            format!("'{name}' feeds itself (expected another facility of the deal, or 'market')"),
                        ));
                    }
                    Some(s) => {
                        if s.start_year.value > f.start_year.value {
                            self.push(
                                Finding::at(
                                    &source.cell,
                                    format!(
                                        "the feed source '{}' starts in {}, after '{name}' starts in {} (expected a source that starts no later than the facility it feeds)",
                                        s.name.value, s.start_year.value, f.start_year.value
                                    ),
                                )
                                .with(&s.start_year)
                                .with(&f.start_year)
                                .uses(NameList::Facilities),
                            );
                        }
                        if pricing.value == TransferPricing::Market
                            && !self.idx.products.contains_key(s.product.value.as_str())
                        {
                            self.push(
                                Finding::at(
                                    &pricing.cell,
                                    format!(
                                        "feed from '{}' is transferred at market, but its product '{}' has no price deck (expected a row on the Prices sheet, or transfer pricing 'cost' or 'fixed')",
                                        s.name.value, s.product.value
                                    ),
                                )
                                .with(&s.product)
                                .uses(NameList::Products)
                                .uses(NameList::Facilities),
                            );
                        }
                    }
                }
                match (pricing.value, price) {
                    (TransferPricing::Fixed, None) => self.push(Finding::at(
                        &pricing.cell,
                        format!(
                            "fixed transfer pricing for '{name}' without a transfer price (expected a price per tonne in Transfer price)"
                        ),
                    )),
                    (TransferPricing::Fixed, Some(p)) => {
                        self.not_negative(&format!("the transfer price of '{name}'"), p, " per t")
                    }
                    (_, Some(p)) => self.push(
                        Finding::at(
                            &p.cell,
                            format!(
                                "a transfer price is given for '{name}' but its transfer pricing is '{}' (expected a blank, or transfer pricing 'fixed')",
                                pricing.value
                            ),
                        )
                        .with(pricing),
                    ),
                    (_, None) => {}
                }
            }
        }
    }

    /// Cycles of feed sources, each reported once, from the member whose name sorts first.
    /// Each facility has at most one source, so one walk over them finds every cycle.
    fn feed_cycles(&mut self) {
        let d = self.deal;
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(d.facilities.len());
        for (i, f) in d.facilities.iter().enumerate() {
            index.entry(f.name.value.as_str()).or_insert(i);
        }
        let next: Vec<Option<usize>> = d
            .facilities
            .iter()
            .map(|f| facility_source(f).and_then(|n| index.get(n).copied()))
            .collect();
        // 0: not seen, 1: on the current walk, 2: done.
        let mut state = vec![0u8; d.facilities.len()];
        for start in 0..d.facilities.len() {
            let mut path = Vec::new();
            let mut i = start;
            while state[i] == 0 {
                state[i] = 1;
                path.push(i);
                match next[i] {
                    Some(j) => i = j,
                    None => break,
                }
            }
            if state[i] == 1
                && let Some(at) = path.iter().position(|&p| p == i)
                && path.len() - at > 1
            {
                self.feed_cycle(&path[at..]);
            }
            for p in path {
                state[p] = 2;
            }
        }
    }

    /// One cycle, in feed order (each member's source follows it).
    fn feed_cycle(&mut self, cycle: &[usize]) {
        let d = self.deal;
        let Some(start) = (0..cycle.len()).min_by(|a, b| {
            d.facilities[cycle[*a]]
                .name
                .value
                .cmp(&d.facilities[cycle[*b]].name.value)
        }) else {
            return;
        };
        let path: Vec<&Facility> = cycle[start..]
            .iter()
            .chain(&cycle[..start])
            .map(|&i| &d.facilities[i])
            .collect();
        let f = path[0];
        let names: Vec<&str> = path
            .iter()
            .map(|g| g.name.value.as_str())
            .chain([f.name.value.as_str()])
            .collect();
        let mut finding = Finding::at(
            &feed_source_cell(f),
            format!(
                "the feed sources form a cycle: {} (expected each facility to be fed by an earlier one)",
                names.join(" ← ")
            ),
        );
        for g in &path {
            if let Some(feed) = &g.feed
                && let FeedSource::Facility { name, .. } = &feed.source
            {
                finding = finding.with(name);
            }
        }
        self.push(finding.uses(NameList::Facilities));
    }

    /// The base-case schedule must start within the model and end by its last year.
    fn schedule(&mut self, f: &Facility) {
        let name = &f.name.value;
        let start = f.start_year.value as i64;
        let (first, last) = (self.first_year(), self.last_year());
        if start < first {
            self.push(
                Finding::at(
                    &f.start_year.cell,
                    format!(
                        "'{name}' starts before the model (found {start}, expected {first} or later: the model starts on {})",
                        self.deal.start_date.value
                    ),
                )
                .with(&self.deal.start_date),
            );
        }
        let durations: Vec<(Phase, u32)> = Phase::SCHEDULED
            .iter()
            .map(|p| (*p, f.phase_years(*p)))
            .collect();
        let total: i64 = durations.iter().map(|(_, y)| *y as i64).sum();
        if f.ramp.is_empty() && f.operations_years.value == 0 {
            self.push(
                Finding::at(
                    &f.operations_years.cell,
                    format!(
                        "'{name}' never produces (found no ramp-up and 0 years of operations, expected at least one producing year)"
                    ),
                )
                .with_opt(&f.ramp.first().cloned()),
            );
        }
        let end = start + total - 1;
        if total > 0 && end > last {
            let parts: Vec<String> = durations
                .iter()
                .filter(|(_, y)| *y > 0)
                .map(|(p, y)| format!("{} {y}", p.label()))
                .collect();
            let mut finding = Finding::at(
                &f.start_year.cell,
                format!(
                    "the schedule of '{name}' ends after the horizon (found {start}–{end}: {} years, expected to end by {last}; lengthen the horizon or shorten a phase)",
                    parts.join(", ")
                ),
            )
            .with(&self.deal.start_date)
            .with(&self.deal.horizon_years)
            .with(&f.exploration_years)
            .with(&f.feasibility_years)
            .with(&f.permitting_years)
            .with(&f.construction_years)
            .with(&f.operations_years)
            .with(&f.closure_years);
            for r in &f.ramp {
                finding = finding.with(r);
            }
            self.push(finding);
        }
    }

    // ----- Prices and FX ----------------------------------------------------------------

    /// The first year a product's price is needed: the first production of a facility that
    /// makes it or buys it as feed.
    fn product_needed_from(&self, product: &str) -> Option<i64> {
        self.idx.needed_from.get(product).copied()
    }

    fn products(&mut self) {
        let d = self.deal;
        self.unique_names(
            "product",
            d.products.iter().map(|p| &p.name),
            NameList::Products,
        );
        for p in &d.products {
            let name = &p.name.value;
            self.currency_code(&format!("the currency of '{name}'"), &p.currency);
            self.rate(&format!("the escalation of '{name}'"), &p.escalation);
            if p.deck.is_empty() {
                self.push(Finding::at(
                    &p.name.cell,
                    format!(
                        "the price deck of '{name}' has no prices (expected a price under at least one year column)"
                    ),
                ));
                continue;
            }
            for (year, price) in &p.deck {
                self.not_negative(
                    &format!("the {year} price of '{name}'"),
                    price,
                    &format!(" {} {}", p.currency.value, p.unit.value),
                );
            }
            self.consecutive_years(&format!("the price deck of '{name}'"), &p.deck);
            if let (Some(needed), Some((deck_first, price))) =
                (self.product_needed_from(name), p.deck.first())
                && (*deck_first as i64) > needed
            {
                self.push(
                    Finding::at(
                        &price.cell,
                        format!(
                            "the price deck of '{name}' starts in {deck_first}, after the product is first produced or bought in {needed} (expected prices from {needed})"
                        ),
                    )
                    .uses(NameList::Facilities),
                );
            }
        }
    }

    fn consecutive_years<T>(&mut self, what: &str, series: &[(i32, Sourced<T>)]) {
        for pair in series.windows(2) {
            let (prev, next) = (&pair[0], &pair[1]);
            if next.0 as i64 != prev.0 as i64 + 1 {
                self.push(
                    Finding::at(
                        &next.1.cell,
                        format!(
                            "{what} has non-consecutive years (found {} after {}, expected {})",
                            next.0,
                            prev.0,
                            prev.0 as i64 + 1
                        ),
                    )
                    .with(&prev.1),
                );
            }
        }
    }

    fn fx(&mut self) {
        let d = self.deal;
        self.unique_names(
            "FX currency",
            d.fx.iter().map(|s| &s.currency),
            NameList::Fx,
        );
        for s in &d.fx {
            let code = &s.currency.value;
            self.currency_code("the FX currency", &s.currency);
            if *code == d.currency.value {
                self.push(
                    Finding::at(
                        &s.currency.cell,
                        format!(
                            "an FX row for the deal currency {code} (expected only other currencies: the deal currency converts at 1)"
                        ),
                    )
                    .with(&d.currency),
                );
            }
            if s.rates.is_empty() {
                self.push(Finding::at(
                    &s.currency.cell,
                    format!("the FX row for {code} has no rates (expected a rate under at least one year column)"),
                ));
            }
            for (year, r) in &s.rates {
                self.positive(&format!("the {year} FX rate for {code}"), r, "");
            }
            self.consecutive_years(&format!("the FX row for {code}"), &s.rates);
        }
        // Every priced product in another currency needs rates from the year it is needed.
        for p in &d.products {
            let code = &p.currency.value;
            if *code == d.currency.value {
                continue;
            }
            let needed = self
                .product_needed_from(&p.name.value)
                .unwrap_or(self.first_year());
            match self.idx.fx.get(code.as_str()) {
                None => self.push(
                    Finding::at(
                        &p.currency.cell,
                        format!(
                            "'{}' is priced in {code} but the FX sheet has no {code} row (expected {} per {code} from {needed})",
                            p.name.value, d.currency.value
                        ),
                    )
                    .with(&d.currency)
                    .uses(NameList::Fx)
                    .uses(NameList::Facilities),
                ),
                Some(s) => {
                    if let Some((fx_first, rate)) = s.rates.first()
                        && (*fx_first as i64) > needed
                    {
                        self.push(
                            Finding::at(
                                &rate.cell,
                                format!(
                                    "the FX rates for {code} start in {fx_first}, but '{}' is priced in {code} from {needed} (expected rates from {needed})",
                                    p.name.value
                                ),
                            )
                            .with(&p.currency)
                            .uses(NameList::Facilities),
                        );
                    }
                }
            }
        }
    }

    // ----- Costs ------------------------------------------------------------------------

    fn costs(&mut self) {
        let d = self.deal;
        for c in &d.costs {
            let item = &c.item.value;
            self.unknown_facility(&format!("for cost '{item}'"), &c.facility);
            self.not_negative(&format!("the amount of '{item}'"), &c.amount, "");
            if c.basis.value == CostBasis::PercentOfRevenue {
                self.share(&format!("the % of revenue of '{item}'"), &c.amount);
            }
            self.rate(&format!("the escalation of '{item}'"), &c.escalation);
            let phase = c.phase.as_ref().map(|p| p.value);
            match (c.basis.value, &c.phase) {
                (CostBasis::TotalOverPhase | CostBasis::PerYear, None) => self.push(
                    Finding::at(
                        &c.basis.cell,
                        format!(
                            "cost '{item}' is '{}' but has no phase (expected the phase it is incurred in)",
                            c.basis.value
                        ),
                    ),
                ),
                (CostBasis::PerTonne | CostBasis::PercentOfRevenue, Some(p))
                    if !matches!(
                        p.value,
                        Phase::Production | Phase::RampUp | Phase::Operations
                    ) =>
                {
                    self.push(
                        Finding::at(
                            &p.cell,
                            format!(
                                "cost '{item}' is '{}' in {}, when nothing is produced (expected production, ramp-up or operations)",
                                c.basis.value, p.value
                            ),
                        )
                        .with(&c.basis),
                    )
                }
                _ => {}
            }
            if let (Some(phase), Some(f)) = (
                phase,
                self.idx.facilities.get(c.facility.value.as_str()).copied(),
            ) && c.basis.value == CostBasis::TotalOverPhase
                && f.phase_years(phase) == 0
                && let Some(p) = &c.phase
            {
                self.push(
                    Finding::at(
                        &p.cell,
                        format!(
                            "cost '{item}' is spread over {phase}, which lasts 0 years at '{}' (found 0 years, expected a phase of at least one year)",
                            f.name.value
                        ),
                    )
                    .uses(NameList::Facilities),
                );
            }
        }
    }

    // ----- Fiscal -----------------------------------------------------------------------

    fn fiscal(&mut self) {
        let d = self.deal;
        self.unique_names(
            "fiscal country",
            d.fiscal.iter().map(|f| &f.country),
            NameList::Fiscal,
        );
        for r in &d.fiscal {
            let country = &r.country.value;
            self.share(
                &format!("the concentrate royalty of {country}"),
                &r.royalty_concentrate,
            );
            self.share(
                &format!("the refined royalty of {country}"),
                &r.royalty_refined,
            );
            self.share(&format!("the company tax rate of {country}"), &r.tax_rate);
            self.unknown_party(
                &format!("as the royalty payee of {country}"),
                &r.royalty_payee,
            );
            self.unknown_party(
                &format!("as the tax authority of {country}"),
                &r.tax_authority,
            );
            if r.depreciation_years.value == 0 {
                self.push(Finding::at(
                    &r.depreciation_years.cell,
                    format!(
                        "the depreciation life of {country} is 0 years (expected 1 year or more)"
                    ),
                ));
            }
            if let Some(ptc) = &r.production_tax_credit {
                self.share(&format!("the PTC rate of {country}"), &ptc.rate);
                if ptc.categories.value.is_empty() {
                    self.push(Finding::at(
                        &ptc.categories.cell,
                        "the production tax credit has no eligible cost categories (expected a comma-separated list such as 'fixed opex, variable opex')",
                    ));
                }
                if ptc.facility_kinds.value.is_empty() {
                    self.push(Finding::at(
                        &ptc.facility_kinds.cell,
                        "the production tax credit has no eligible facility kinds (expected a list such as 'refinery')",
                    ));
                }
                if ptc.first_year.value > ptc.last_year.value {
                    self.push(
                        Finding::at(
                            &ptc.last_year.cell,
                            format!(
                                "the PTC ends before it starts (found {}–{}, expected a last year no earlier than the first)",
                                ptc.first_year.value, ptc.last_year.value
                            ),
                        )
                        .with(&ptc.first_year),
                    );
                }
            }
        }
    }

    // ----- Parties ----------------------------------------------------------------------

    fn parties(&mut self) {
        let d = self.deal;
        self.unique_names(
            "party",
            d.parties.iter().map(|p| &p.name),
            NameList::Parties,
        );
        for p in &d.parties {
            let name = &p.name.value;
            if self.is_reserved_party_name(name) {
                self.push(
                    Finding::at(
                        &p.name.cell,
                        format!(
                            "'{name}' is a reserved party name (the project company '{}', Market and Suppliers are added automatically; expected another name)",
                            d.project_name.value
                        ),
                    )
                    .with(&d.project_name),
                );
            }
            self.rate(&format!("the discount rate of '{name}'"), &p.discount_rate);
            for (year, r) in &p.rate_schedule {
                self.rate(&format!("the {year} discount rate of '{name}'"), r);
            }
            self.consecutive_years(
                &format!("the discount rate schedule of '{name}'"),
                &p.rate_schedule,
            );
        }
    }

    // ----- Offtake and price support ----------------------------------------------------

    fn produced(&self, product: &str) -> bool {
        self.idx.produced.contains(product)
    }

    fn offtakes(&mut self) {
        let d = self.deal;
        self.unique_names(
            "offtake contract",
            d.offtakes.iter().map(|o| &o.name),
            NameList::Offtakes,
        );
        for o in &d.offtakes {
            let name = &o.name.value;
            if o.pricing.value == PricingKind::Fixed {
                if !self.produced(&o.product.value) {
                    let hint = self.idx.known_produced.hint(&o.product.value);
                    self.push(
                        Finding::at(
                            &o.product.cell,
                            format!(
                                "unknown product '{}' of contract '{name}' (no facility of the deal produces it; {hint})",
                                o.product.value
                            ),
                        )
                        .uses(NameList::Facilities),
                    );
                }
            } else {
                self.unknown_priced_product(&format!("for contract '{name}'"), &o.product);
            }
            self.unknown_party(&format!("as the buyer of contract '{name}'"), &o.buyer);
            self.share(&format!("the share of contract '{name}'"), &o.share);
            self.share(&format!("the discount of contract '{name}'"), &o.discount);
            self.share(
                &format!("the take-or-pay of contract '{name}'"),
                &o.take_or_pay,
            );
            self.span(&format!("contract '{name}'"), &o.start_year, &o.end_year);
            let prices = [
                (
                    "fixed price",
                    &o.fixed_price,
                    o.pricing.value == PricingKind::Fixed,
                ),
                (
                    "floor",
                    &o.floor,
                    matches!(o.pricing.value, PricingKind::Floor | PricingKind::Collar),
                ),
                ("cap", &o.cap, o.pricing.value == PricingKind::Collar),
            ];
            for (what, value, needed) in prices {
                match (value, needed) {
                    (None, true) => self.push(Finding::at(
                        &o.pricing.cell,
                        format!(
                            "contract '{name}' is priced '{}' but has no {what} (expected a price in the {what} column)",
                            o.pricing.value
                        ),
                    )),
                    (Some(v), true) => {
                        self.not_negative(&format!("the {what} of contract '{name}'"), v, "")
                    }
                    (Some(v), false) => self.push(
                        Finding::at(
                            &v.cell,
                            format!(
                                "contract '{name}' has a {what} but is priced '{}' (expected a blank: a {what} applies only to {} pricing)",
                                o.pricing.value,
                                match what {
                                    "fixed price" => "fixed",
                                    "floor" => "floor or collar",
                                    _ => "collar",
                                }
                            ),
                        )
                        .with(&o.pricing),
                    ),
                    (None, false) => {}
                }
            }
            if let (Some(floor), Some(cap)) = (&o.floor, &o.cap)
                && floor.value > cap.value
            {
                self.push(
                    Finding::at(
                        &cap.cell,
                        format!(
                            "the cap of contract '{name}' is below its floor (found cap {} and floor {}, expected cap ≥ floor)",
                            num(cap.value),
                            num(floor.value)
                        ),
                    )
                    .with(floor),
                );
            }
        }
        let shares: Vec<Cover> = d
            .offtakes
            .iter()
            .map(|o| Cover {
                name: &o.name.value,
                product: &o.product.value,
                share: &o.share,
                start: o.start_year.value,
                end: o.end_year.value,
            })
            .collect();
        self.over_committed("offtake shares", "contracts", &shares);
    }

    /// A span of years: start ≤ end, and at least partly within the model.
    fn span(&mut self, what: &str, start: &Sourced<i32>, end: &Sourced<i32>) {
        if start.value > end.value {
            self.push(
                Finding::at(
                    &end.cell,
                    format!(
                        "{what} ends before it starts (found {}–{}, expected an end year no earlier than the start year)",
                        start.value, end.value
                    ),
                )
                .with(start),
            );
        } else if (end.value as i64) < self.first_year() || (start.value as i64) > self.last_year()
        {
            self.push(
                Finding::at(
                    &start.cell,
                    format!(
                        "{what} runs {}–{}, wholly outside the model (expected years overlapping {}–{})",
                        start.value,
                        end.value,
                        self.first_year(),
                        self.last_year()
                    ),
                )
                .with(end)
                .with(&self.deal.start_date)
                .with(&self.deal.horizon_years),
            );
        }
    }

    /// Shares of a product's volume that must not exceed 100% in any year.
    fn over_committed(&mut self, what: &str, noun: &str, covers: &[Cover]) {
        let mut products: BTreeMap<&str, Vec<&Cover>> = BTreeMap::new();
        for c in covers {
            products.entry(c.product).or_default().push(c);
        }
        for (product, list) in products {
            let mut years: Vec<i32> = list
                .iter()
                .flat_map(|c| [c.start, c.end])
                .filter(|y| (*y as i64) >= self.first_year() && (*y as i64) <= self.last_year())
                .collect();
            years.push(self.first_year() as i32);
            years.sort_unstable();
            years.dedup();
            // The sum only changes where a span starts, so those years are enough.
            for year in years {
                let active: Vec<&&Cover> = list
                    .iter()
                    .filter(|c| c.start <= year && year <= c.end)
                    .collect();
                let total = sum(active.iter().map(|c| c.share.value));
                if total > Decimal::ONE {
                    let parts: Vec<String> = active
                        .iter()
                        .map(|c| format!("'{}' {}{}", c.name, pct(c.share.value), origin(c.share)))
                        .collect();
                    let at = active.last().map(|c| c.share.cell.clone()).unwrap_or(None);
                    let mut finding = Finding::at(
                        &at,
                        format!(
                            "{what} of '{product}' sum to {} in {year} (found {}; expected at most 100%)",
                            pct(total),
                            parts.join(", ")
                        ),
                    );
                    for c in &active {
                        finding = finding.with(c.share);
                    }
                    finding = finding
                        .with(&self.deal.start_date)
                        .with(&self.deal.horizon_years);
                    self.push(finding.uses(if noun == "contracts" {
                        NameList::Offtakes
                    } else {
                        NameList::Supports
                    }));
                    break;
                }
            }
        }
    }

    fn supports(&mut self) {
        let d = self.deal;
        self.unique_names(
            "price support",
            d.price_supports.iter().map(|s| &s.name),
            NameList::Supports,
        );
        for s in &d.price_supports {
            let name = &s.name.value;
            self.unknown_priced_product(&format!("for support '{name}'"), &s.product);
            self.unknown_party(&format!("as the supporter of '{name}'"), &s.supporter);
            self.not_negative(&format!("the floor of '{name}'"), &s.floor, "");
            self.share(&format!("the covered share of '{name}'"), &s.covered_share);
            self.share(&format!("the upside share of '{name}'"), &s.upside_share);
            if let Some(t) = &s.upside_threshold
                && t.value < s.floor.value
            {
                self.push(
                    Finding::at(
                        &t.cell,
                        format!(
                            "the upside threshold of '{name}' is below its floor (found {}, expected at least the floor {})",
                            num(t.value),
                            num(s.floor.value)
                        ),
                    )
                    .with(&s.floor),
                );
            }
            self.span(&format!("support '{name}'"), &s.start_year, &s.end_year);
        }
        let covers: Vec<Cover> = d
            .price_supports
            .iter()
            .map(|s| Cover {
                name: &s.name.value,
                product: &s.product.value,
                share: &s.covered_share,
                start: s.start_year.value,
                end: s.end_year.value,
            })
            .collect();
        self.over_committed("covered shares of price supports", "supports", &covers);
    }

    // ----- Financing --------------------------------------------------------------------

    fn tranches(&mut self) {
        let d = self.deal;
        self.unique_names(
            "tranche",
            d.tranches.iter().map(|t| &t.name),
            NameList::Tranches,
        );
        for t in &d.tranches {
            let name = &t.name.value;
            if t.rank.value == 0 {
                self.push(Finding::at(
                    &t.rank.cell,
                    format!(
                        "the rank of '{name}' is 0 (expected 1 for the most senior, 2 below it, …)"
                    ),
                ));
            }
            if t.draw_priority.value == 0 {
                self.push(Finding::at(
                    &t.draw_priority.cell,
                    format!(
                        "the draw priority of '{name}' is 0 (expected 1 to draw first, 2 next, …)"
                    ),
                ));
            }
            self.positive(&format!("the commitment of '{name}'"), &t.commitment, "");
            self.rate(&format!("the interest rate of '{name}'"), &t.interest_rate);
            self.share(&format!("the upfront fee of '{name}'"), &t.upfront_fee);
            self.share(
                &format!("the commitment fee of '{name}'"),
                &t.commitment_fee,
            );
            if t.dsra_months.value < Decimal::ZERO || t.dsra_months.value > Decimal::from(24) {
                self.push(Finding::at(
                    &t.dsra_months.cell,
                    format!(
                        "the DSRA of '{name}' is out of range (found {} months, expected 0 to 24 months)",
                        num(t.dsra_months.value)
                    ),
                ));
            }
            self.loan_terms(t);
            self.guarantee_terms(t);
            self.equity_terms(t);
            self.participants(t);
        }
        self.first_loss_ranks();
        self.guarantee_coverage();
        self.shareholdings();
    }

    fn loan_terms(&mut self, t: &super::Tranche) {
        let name = &t.name.value;
        if t.kind.value.is_loan() {
            if t.tenor_years.value == 0 {
                self.push(
                    Finding::at(
                        &t.tenor_years.cell,
                        format!(
                            "loan '{name}' has no tenor (found {}, expected the years after construction by which it is repaid)",
                            if t.tenor_years.cell.is_some() { "0 or a blank" } else { "0" }
                        ),
                    )
                    .with(&t.kind),
                );
            } else if t.grace_years.value >= t.tenor_years.value {
                self.push(
                    Finding::at(
                        &t.grace_years.cell,
                        format!(
                            "the grace period of '{name}' leaves no repayment years (found grace {} and tenor {}, expected grace shorter than tenor)",
                            t.grace_years.value, t.tenor_years.value
                        ),
                    )
                    .with(&t.tenor_years),
                );
            }
            match (t.repayment.value, &t.target_dscr) {
                (Repayment::Sculpted, None) => self.push(Finding::at(
                    &t.repayment.cell,
                    format!(
                        "'{name}' is sculpted without a target DSCR (expected a Target DSCR such as 1.35)"
                    ),
                )),
                (Repayment::Sculpted, Some(dscr)) if dscr.value < Decimal::ONE => {
                    self.push(Finding::at(
                        &dscr.cell,
                        format!(
                            "the target DSCR of '{name}' is below 1 (found {}, expected 1 or more: debt service cannot exceed the cash available for it)",
                            num(dscr.value)
                        ),
                    ))
                }
                (Repayment::Sculpted, Some(_)) => {}
                (_, Some(dscr)) => self.push(
                    Finding::at(
                        &dscr.cell,
                        format!(
                            "'{name}' has a target DSCR but its repayment is '{}' (expected a blank, or repayment 'sculpted')",
                            t.repayment.value
                        ),
                    )
                    .with(&t.repayment),
                ),
                (_, None) => {}
            }
            if let Some(l) = &t.lockup_dscr
                && l.value <= Decimal::ZERO
            {
                self.push(Finding::at(
                    &l.cell,
                    format!(
                        "the lock-up DSCR of '{name}' is not positive (found {}, expected a ratio such as 1.10)",
                        num(l.value)
                    ),
                ));
            }
        } else {
            let kind = t.kind.value;
            let loan_only: [(&str, bool, &Option<CellRef>); 7] = [
                ("a tenor", t.tenor_years.value != 0, &t.tenor_years.cell),
                ("grace years", t.grace_years.value != 0, &t.grace_years.cell),
                (
                    "a target DSCR",
                    t.target_dscr.is_some(),
                    &cell_of(&t.target_dscr),
                ),
                (
                    "a lock-up DSCR",
                    t.lockup_dscr.is_some(),
                    &cell_of(&t.lockup_dscr),
                ),
                (
                    "a DSRA",
                    !t.dsra_months.value.is_zero(),
                    &t.dsra_months.cell,
                ),
                (
                    "capitalised interest",
                    t.capitalise_interest.value,
                    &t.capitalise_interest.cell,
                ),
                (
                    "an interest rate",
                    !t.interest_rate.value.is_zero(),
                    &t.interest_rate.cell,
                ),
            ];
            for (what, given, cell) in loan_only {
                if given {
                    self.push(
                        Finding::at(
                            cell,
                            format!(
                                "'{name}' is {} {kind} but has {what} (expected a blank: it applies only to loans)",
                                article(kind.label())
                            ),
                        )
                        .with(&t.kind),
                    );
                }
            }
        }
    }

    fn guarantee_terms(&mut self, t: &super::Tranche) {
        let name = &t.name.value;
        if t.kind.value == TrancheKind::Guarantee {
            self.share(&format!("the coverage of '{name}'"), &t.coverage);
            match &t.covers {
                None => self.push(Finding::at(
                    &t.kind.cell,
                    format!(
                        "guarantee '{name}' covers no tranche (expected a tranche name in Covers)"
                    ),
                )),
                Some(c) => match self.idx.tranches.get(c.value.as_str()).copied() {
                    None => {
                        let hint = self.idx.known_tranches.hint(&c.value);
                        self.push(
                            Finding::at(
                                &c.cell,
                                format!(
                                    "guarantee '{name}' covers an unknown tranche '{}' ({hint})",
                                    c.value
                                ),
                            )
                            .uses(NameList::Tranches),
                        );
                    }
                    Some(covered) if !covered.kind.value.is_loan() => self.push(
                        Finding::at(
                            &c.cell,
                            format!(
                                "guarantee '{name}' covers '{}', which is {} {} (expected a loan)",
                                covered.name.value,
                                article(covered.kind.value.label()),
                                covered.kind.value
                            ),
                        )
                        .with(&covered.kind)
                        .uses(NameList::Tranches),
                    ),
                    Some(_) => {}
                },
            }
        } else {
            if let Some(c) = &t.covers {
                self.push(
                    Finding::at(
                        &c.cell,
                        format!(
                            "'{name}' covers '{}' but is {} {} (expected a blank: only guarantees cover a tranche)",
                            c.value,
                            article(t.kind.value.label()),
                            t.kind.value
                        ),
                    )
                    .with(&t.kind),
                );
            }
            if t.coverage.value != Decimal::ONE {
                self.push(
                    Finding::at(
                        &t.coverage.cell,
                        format!(
                            "'{name}' has a coverage of {} but is not a guarantee (expected a blank)",
                            pct(t.coverage.value)
                        ),
                    )
                    .with(&t.kind),
                );
            }
            if t.guarantee_kind.value != GuaranteeKind::DebtService {
                self.push(
                    Finding::at(
                        &t.guarantee_kind.cell,
                        format!(
                            "'{name}' has a guarantee kind ({}) but is not a guarantee (expected a blank)",
                            t.guarantee_kind.value
                        ),
                    )
                    .with(&t.kind),
                );
            }
        }
    }

    fn equity_terms(&mut self, t: &super::Tranche) {
        let name = &t.name.value;
        if t.kind.value == TrancheKind::Equity {
            if let Some(s) = &t.shareholding {
                self.share(&format!("the shareholding of '{name}'"), s);
            }
            self.not_negative(&format!("the overrun cap of '{name}'"), &t.overrun_cap, "");
        } else {
            if let Some(s) = &t.shareholding {
                self.push(
                    Finding::at(
                        &s.cell,
                        format!(
                            "'{name}' has a shareholding but is {} {} (expected a blank: only equity holds shares)",
                            article(t.kind.value.label()),
                            t.kind.value
                        ),
                    )
                    .with(&t.kind),
                );
            }
            if !t.overrun_cap.value.is_zero() {
                self.push(
                    Finding::at(
                        &t.overrun_cap.cell,
                        format!(
                            "'{name}' has an overrun cap but is {} {} (expected a blank: the overrun cap is extra equity)",
                            article(t.kind.value.label()),
                            t.kind.value
                        ),
                    )
                    .with(&t.kind),
                );
            }
        }
    }

    fn participants(&mut self, t: &super::Tranche) {
        let name = &t.name.value;
        if t.participants.is_empty() {
            self.push(
                Finding::at(
                    &t.name.cell,
                    format!(
                        "tranche '{name}' has no participants (expected rows on the Participants sheet whose shares sum to 100%)"
                    ),
                )
                .uses(NameList::Participants),
            );
            return;
        }
        let mut seen: HashMap<String, &Sourced<String>> = HashMap::new();
        for p in &t.participants {
            self.unknown_party(&format!("as a participant of '{name}'"), &p.party);
            self.share(
                &format!("the share of '{}' in '{name}'", p.party.value),
                &p.share,
            );
            if let Some(first) = seen.get(&name_key(&p.party.value)) {
                self.push(
                    Finding::at(
                        &p.party.cell,
                        format!(
                            "'{}' participates in '{name}' twice (first{}; expected one row per participant)",
                            p.party.value,
                            origin(first)
                        ),
                    )
                    .with(*first),
                );
            } else {
                seen.insert(name_key(&p.party.value), &p.party);
            }
        }
        let total = sum(t.participants.iter().map(|p| p.share.value));
        if total != Decimal::ONE {
            let parts: Vec<String> = t
                .participants
                .iter()
                .map(|p| {
                    format!(
                        "'{}' {}{}",
                        p.party.value,
                        pct(p.share.value),
                        origin(&p.share)
                    )
                })
                .collect();
            let mut finding = Finding::at(
                &t.participants[0].share.cell,
                format!(
                    "participant shares of tranche '{name}' sum to {} (expected 100%; found {})",
                    pct(total),
                    parts.join(", ")
                ),
            );
            for p in &t.participants {
                finding = finding.with(&p.share);
            }
            self.push(finding.uses(NameList::Participants));
        }
    }

    /// The guarantees of one loan together cover at most all of each missed payment or loss:
    /// beyond it the lenders would be paid more than they lost.
    fn guarantee_coverage(&mut self) {
        let d = self.deal;
        // The guarantees grouped by the loan they cover, in one pass (linear in tranches).
        let mut by_loan: HashMap<&str, Vec<&super::Tranche>> = HashMap::new();
        for g in d
            .tranches
            .iter()
            .filter(|g| g.kind.value == TrancheKind::Guarantee)
        {
            if let Some(c) = &g.covers {
                by_loan.entry(c.value.as_str()).or_default().push(g);
            }
        }
        for loan in d.tranches.iter().filter(|t| t.kind.value.is_loan()) {
            let Some(covering) = by_loan.get(loan.name.value.as_str()) else {
                continue;
            };
            let total = sum(covering.iter().map(|g| g.coverage.value));
            if covering.len() < 2 || total <= Decimal::ONE {
                continue;
            }
            let parts: Vec<String> = covering
                .iter()
                .map(|g| format!("'{}' {}", g.name.value, pct(g.coverage.value)))
                .collect();
            let mut finding = Finding::at(
                &covering[0].coverage.cell,
                format!(
                    "the guarantees of '{}' cover {} of it ({}; expected at most 100% together)",
                    loan.name.value,
                    pct(total),
                    parts.join(", ")
                ),
            );
            for g in &covering[1..] {
                finding = finding.with(&g.coverage);
            }
            self.push(finding);
        }
    }

    /// Every first-loss tranche ranks below every other loan; a violation names the first
    /// loan (in sheet order) it does not rank below.
    fn first_loss_ranks(&mut self) {
        let d = self.deal;
        let others: Vec<&super::Tranche> = d
            .tranches
            .iter()
            .filter(|t| t.kind.value.is_loan() && t.kind.value != TrancheKind::FirstLoss)
            .collect();
        // The highest rank among the first i other loans: non-decreasing, so the first loan
        // at or below a rank is found by bisection.
        let highest: Vec<u32> = others
            .iter()
            .scan(0u32, |m, t| {
                *m = (*m).max(t.rank.value);
                Some(*m)
            })
            .collect();
        for fl in d
            .tranches
            .iter()
            .filter(|t| t.kind.value == TrancheKind::FirstLoss)
        {
            let i = highest.partition_point(|m| *m < fl.rank.value);
            if let Some(other) = others.get(i) {
                self.push(
                    Finding::at(
                        &fl.rank.cell,
                        format!(
                            "first-loss tranche '{}' ranks {}, not below '{}' at rank {} (expected a rank number greater than every other loan's)",
                            fl.name.value, fl.rank.value, other.name.value, other.rank.value
                        ),
                    )
                    .with(&other.rank)
                    .with(&other.kind)
                    .uses(NameList::Tranches),
                );
            }
        }
    }

    fn shareholdings(&mut self) {
        let d = self.deal;
        let equity: Vec<&super::Tranche> = d
            .tranches
            .iter()
            .filter(|t| t.kind.value == TrancheKind::Equity)
            .collect();
        let given: Vec<&Sourced<Decimal>> = equity
            .iter()
            .filter_map(|t| t.shareholding.as_ref())
            .collect();
        if given.is_empty() {
            return;
        }
        for t in &equity {
            if t.shareholding.is_none() {
                self.push(
                    Finding::at(
                        &t.name.cell,
                        format!(
                            "equity tranche '{}' has no shareholding while others do (expected a shareholding for every equity tranche, or none)",
                            t.name.value
                        ),
                    )
                    .uses(NameList::Tranches),
                );
            }
        }
        let total = sum(given.iter().map(|s| s.value));
        if given.len() == equity.len() && total != Decimal::ONE {
            let parts: Vec<String> = equity
                .iter()
                .filter_map(|t| {
                    t.shareholding
                        .as_ref()
                        .map(|s| format!("'{}' {}{}", t.name.value, pct(s.value), origin(s)))
                })
                .collect();
            let mut finding = Finding::at(
                &given[0].cell,
                format!(
                    "equity shareholdings sum to {} (expected 100%; found {})",
                    pct(total),
                    parts.join(", ")
                ),
            );
            for s in &given {
                finding = finding.with(*s);
            }
            self.push(finding.uses(NameList::Tranches));
        }
    }

    // ----- Scenarios --------------------------------------------------------------------

    fn scenarios(&mut self) {
        let d = self.deal;
        self.unique_names(
            "scenario",
            d.scenarios.iter().map(|s| &s.name),
            NameList::Scenarios,
        );
        for s in &d.scenarios {
            let name = &s.name.value;
            if name_key(name) == "base" {
                self.push(Finding::at(
                    &s.name.cell,
                    format!(
                        "'{name}' is reserved for the base case, which is implicit (expected another scenario name)"
                    ),
                ));
            }
            if s.overrides.is_empty() {
                self.push(Finding::at(
                    &s.name.cell,
                    format!("scenario '{name}' changes nothing (expected at least one override)"),
                ));
            }
            // Rows of one scenario combine, even on the same target (the README says how:
            // multipliers and crashes multiply, overruns, delays and rate changes add).
            for o in &s.overrides {
                self.an_override(name, o);
            }
            self.delayed_schedules(s);
        }
    }

    /// The phase a delay lengthens: any scheduled phase but production (which is ramp-up
    /// plus operations: which of them would take longer?); a ramp-up delay needs a facility
    /// with a ramp-up profile, whose steps it moves later.
    fn delay_phase(&mut self, what: &str, o: &super::Override) {
        let d = self.deal;
        let Some(p) = &o.phase else {
            self.push(Finding::at(
                &o.kind.cell,
                format!(
                    "{what} has no phase (expected the phase that takes longer: exploration, feasibility, permitting, construction, ramp-up, operations or closure)"
                ),
            ));
            return;
        };
        match p.value {
            Phase::Production => self.push(Finding::at(
                &p.cell,
                format!(
                    "{what} delays production, which is ramp-up plus operations (expected the phase that takes longer: ramp-up for a slower start, operations for a longer life)"
                ),
            )),
            Phase::RampUp => {
                let targeted: Vec<&Facility> = d
                    .facilities
                    .iter()
                    .filter(|f| o.facility.as_ref().is_none_or(|t| t.value == f.name.value))
                    .collect();
                if !targeted.is_empty() && targeted.iter().all(|f| f.ramp.is_empty()) {
                    let names: Vec<String> = targeted
                        .iter()
                        .map(|f| format!("'{}'", f.name.value))
                        .collect();
                    self.push(
                        Finding::at(
                            &p.cell,
                            format!(
                                "{what} delays ramp-up, but {} {} no ramp-up years, so it would change nothing (expected Ramp 1.. on the Facilities sheet, or another phase)",
                                names.join(", "),
                                if names.len() == 1 { "has" } else { "have" }
                            ),
                        )
                        .with_opt(&o.facility)
                        .uses(NameList::Facilities),
                    );
                }
            }
            _ => {}
        }
    }

    /// An override that would change nothing is refused: a capex overrun where no targeted
    /// facility has development capex, an opex multiplier where none has operating costs, a
    /// ramp multiplier where none has ramp-up years, a price change of a product no facility
    /// makes or buys.
    fn override_reaches_something(&mut self, what: &str, o: &super::Override) {
        let d = self.deal;
        let targeted = |f: &&Facility| o.facility.as_ref().is_none_or(|t| t.value == f.name.value);
        let has_cost = |f: &Facility, pick: fn(super::CostCategory) -> bool| {
            d.costs
                .iter()
                .any(|c| c.facility.value == f.name.value && pick(c.category.value))
        };
        let facilities: Vec<&Facility> = d.facilities.iter().filter(targeted).collect();
        if facilities.is_empty() && o.facility.is_some() {
            return; // an unknown facility, reported as such
        }
        let lacks = |what: &str| match &o.facility {
            Some(f) => format!("'{}' has no {what}", f.value),
            None => format!("no facility of the deal has {what}"),
        };
        let (reached, message) = match o.kind.value {
            OverrideKind::CapexOverrun => (
                facilities
                    .iter()
                    .any(|f| has_cost(f, |c| c == super::CostCategory::DevelopmentCapex)),
                lacks("development capex on the Costs sheet"),
            ),
            OverrideKind::OpexMultiplier => (
                facilities
                    .iter()
                    .any(|f| has_cost(f, super::CostCategory::is_operating)),
                lacks(
                    "operating costs on the Costs sheet (fixed or variable opex, feed purchase, environmental, residue handling)",
                ),
            ),
            OverrideKind::RampMultiplier => (
                facilities.iter().any(|f| !f.ramp.is_empty()),
                lacks("ramp-up years (Ramp 1.. on the Facilities sheet)"),
            ),
            OverrideKind::PriceCrash | OverrideKind::PriceMultiplier => {
                let Some(p) = &o.product else { return };
                if d.product(&p.value).is_none() {
                    return; // an unknown product, reported as such
                }
                let used = d.facilities.iter().any(|f| {
                    f.product.value == p.value
                        || matches!(&f.feed, Some(feed) if matches!(&feed.source,
                            FeedSource::Market { product } if product.value == p.value))
                });
                (
                    used,
                    format!(
                        "no facility of the deal makes '{}' or buys it as feed",
                        p.value
                    ),
                )
            }
            _ => return,
        };
        if reached {
            return;
        }
        let cell = match (&o.facility, &o.product) {
            (Some(f), _) => f.cell.clone(),
            (None, Some(p)) => p.cell.clone(),
            _ => o.kind.cell.clone(),
        };
        self.push(
            Finding::at(
                &cell,
                format!(
                    "{what} would change nothing: {message} (expected another target or override)"
                ),
            )
            .with(&o.kind)
            .uses(NameList::Facilities),
        );
    }

    /// A scenario's delays must keep every facility's schedule within the horizon, as the
    /// base case's must: the years pushed past it would be dropped.
    fn delayed_schedules(&mut self, s: &super::Scenario) {
        let d = self.deal;
        let last = self.last_year();
        for f in &d.facilities {
            let delays: Vec<&super::Override> = s
                .overrides
                .iter()
                .filter(|o| o.kind.value == OverrideKind::Delay)
                .filter(|o| o.facility.as_ref().is_none_or(|t| t.value == f.name.value))
                .filter(|o| match o.phase.as_ref().map(|p| p.value) {
                    Some(Phase::RampUp) => !f.ramp.is_empty(),
                    Some(Phase::Production) | None => false,
                    Some(_) => true,
                })
                .filter(|o| o.value.value.is_integer() && o.value.value > Decimal::ZERO)
                .collect();
            if delays.is_empty() {
                continue;
            }
            let extra: i64 = delays
                .iter()
                .map(|o| i64::try_from(o.value.value).unwrap_or(0))
                .sum();
            let total: i64 = Phase::SCHEDULED
                .iter()
                .map(|p| f.phase_years(*p) as i64)
                .sum();
            let base_end = f.start_year.value as i64 + total - 1;
            let end = base_end + extra;
            // A base schedule already past the horizon is reported as such, once.
            if end > last && base_end <= last {
                let mut finding = Finding::at(
                    &delays[0].value.cell,
                    format!(
                        "scenario '{}' delays '{}' by {extra} years, so its schedule ends in {end}, after the horizon (expected to end by {last}; lengthen the horizon or shorten the delay)",
                        s.name.value, f.name.value
                    ),
                )
                .with(&d.start_date)
                .with(&d.horizon_years)
                .with(&f.start_year)
                .with(&f.exploration_years)
                .with(&f.feasibility_years)
                .with(&f.permitting_years)
                .with(&f.construction_years)
                .with(&f.operations_years)
                .with(&f.closure_years);
                for o in &delays[1..] {
                    finding = finding.with(&o.value);
                }
                self.push(finding);
            }
        }
    }

    fn an_override(&mut self, scenario: &str, o: &super::Override) {
        let d = self.deal;
        let kind = o.kind.value;
        let what = format!("the {kind} of '{scenario}'");
        let v = &o.value;
        let range = |lo: Option<Decimal>, lo_incl: bool, hi: Option<Decimal>| {
            let above = match lo {
                Some(lo) if lo_incl => v.value >= lo,
                Some(lo) => v.value > lo,
                None => true,
            };
            above && hi.is_none_or(|hi| v.value <= hi)
        };
        let ten = Decimal::TEN;
        let (ok, expected) = match kind {
            OverrideKind::PriceCrash => (
                range(Some(Decimal::ZERO), false, Some(Decimal::ONE)),
                "a depth above 0% and at most 100%, such as 70%",
            ),
            OverrideKind::PriceMultiplier => (
                range(Some(Decimal::ZERO), false, Some(ten)),
                "a multiplier above 0 and at most 10, such as 0.8",
            ),
            OverrideKind::CapexOverrun => (
                range(Some(-Decimal::ONE), false, Some(ten)),
                "an overrun above −100% and at most 1000%, such as 60%",
            ),
            OverrideKind::Delay => (
                v.value.is_integer() && range(Some(Decimal::ONE), true, Some(Decimal::from(50))),
                "a whole number of years from 1 to 50",
            ),
            OverrideKind::RampMultiplier | OverrideKind::OpexMultiplier => (
                range(Some(Decimal::ZERO), false, Some(ten)),
                "a multiplier above 0 and at most 10, such as 1.2",
            ),
            OverrideKind::DiscountRateChange => (
                range(Some(-Decimal::ONE), false, Some(Decimal::ONE)),
                "a change between −100% and 100%, such as 0.01 for one point more",
            ),
            OverrideKind::OfftakeUptake => (
                range(Some(Decimal::ZERO), true, Some(Decimal::ONE)),
                "an uptake between 0% and 100% of the contracted volume",
            ),
        };
        if !ok {
            let found = match kind {
                OverrideKind::Delay
                | OverrideKind::PriceMultiplier
                | OverrideKind::RampMultiplier
                | OverrideKind::OpexMultiplier => num(v.value),
                _ => pct(v.value),
            };
            self.push(
                Finding::at(
                    &v.cell,
                    format!("{what} is out of range (found {found}, expected {expected})"),
                )
                .with(&o.kind),
            );
        }
        // Targets: each kind uses some of product, facility, phase, party.
        let uses_product = matches!(
            kind,
            OverrideKind::PriceCrash | OverrideKind::PriceMultiplier | OverrideKind::OfftakeUptake
        );
        let uses_facility = matches!(
            kind,
            OverrideKind::CapexOverrun
                | OverrideKind::Delay
                | OverrideKind::RampMultiplier
                | OverrideKind::OpexMultiplier
        );
        let is_crash = kind == OverrideKind::PriceCrash;
        self.override_target(&what, kind, "a product", &o.product, uses_product);
        self.override_target(&what, kind, "a facility", &o.facility, uses_facility);
        self.override_target(
            &what,
            kind,
            "a phase",
            &o.phase,
            kind == OverrideKind::Delay,
        );
        self.override_target(
            &what,
            kind,
            "a party",
            &o.party,
            kind == OverrideKind::DiscountRateChange,
        );
        self.override_target(&what, kind, "a start year", &o.start_year, is_crash);
        if uses_product && let Some(p) = &o.product {
            if kind == OverrideKind::OfftakeUptake {
                if !self.idx.sold.contains(p.value.as_str()) {
                    let hint = self.idx.known_sold.hint(&p.value);
                    self.push(
                        Finding::at(
                            &p.cell,
                            format!(
                                "{what} names product '{}', which no offtake contract sells ({hint})",
                                p.value
                            ),
                        )
                        .uses(NameList::Offtakes),
                    );
                }
            } else {
                self.unknown_priced_product(&format!("in {what}"), p);
            }
        }
        if uses_facility && let Some(f) = &o.facility {
            self.unknown_facility(&format!("in {what}"), f);
        }
        if kind == OverrideKind::Delay {
            self.delay_phase(&what, o);
        }
        self.override_reaches_something(&what, o);
        if kind == OverrideKind::DiscountRateChange
            && let Some(p) = &o.party
            && p.value != d.project_name.value
        {
            self.unknown_party(&format!("in {what}"), p);
        }
        if is_crash {
            match &o.start_year {
                None => self.push(Finding::at(
                    &o.kind.cell,
                    format!("{what} has no start year (expected the year the fall starts)"),
                )),
                Some(y) => self.within_model(&format!("the start year of {what}"), y),
            }
            if o.fall_years.value == 0 {
                self.push(Finding::at(
                    &o.fall_years.cell,
                    format!("{what} falls over 0 years (expected 1 year or more)"),
                ));
            }
            self.share(&format!("the haircut of {what}"), &o.haircut);
            if o.haircut.value > o.value.value
                && o.haircut.value <= Decimal::ONE
                && o.value.value > Decimal::ZERO
            {
                self.push(
                    Finding::at(
                        &o.haircut.cell,
                        format!(
                            "the haircut of {what} is deeper than the crash (found haircut {} and depth {}, expected a haircut no deeper than the depth)",
                            pct(o.haircut.value),
                            pct(o.value.value)
                        ),
                    )
                    .with(&o.value),
                );
            }
        } else {
            let shape: [(&str, bool, &Option<CellRef>); 4] = [
                ("fall years", o.fall_years.value != 1, &o.fall_years.cell),
                (
                    "bottom years",
                    o.bottom_years.value != 0,
                    &o.bottom_years.cell,
                ),
                (
                    "recovery years",
                    o.recovery_years.value != 0,
                    &o.recovery_years.cell,
                ),
                ("a haircut", !o.haircut.value.is_zero(), &o.haircut.cell),
            ];
            for (field, given, cell) in shape {
                if given {
                    self.push(
                        Finding::at(
                            cell,
                            format!(
                                "{what} has {field} (expected a blank: the crash shape applies only to price crash overrides)"
                            ),
                        )
                        .with(&o.kind),
                    );
                }
            }
        }
    }

    // ----- Texts -------------------------------------------------------------------------

    /// Texts the results workbook must hold: the deal's name in a cell (Excel's 32,767
    /// characters), every other name in labels and chart series (255).
    fn texts(&mut self) {
        let d = self.deal;
        self.text_length(
            "the deal name",
            &d.name,
            super::MAX_TEXT_CHARS,
            "the most an Excel cell holds",
        );
        let mut names: Vec<(&str, &Sourced<String>)> = vec![
            ("the deal currency", &d.currency),
            ("the project company's name", &d.project_name),
        ];
        names.extend(
            d.tax_home_country
                .iter()
                .map(|c| ("the tax home country", c)),
        );
        for f in &d.facilities {
            names.extend([
                ("a facility name", &f.name),
                ("a country", &f.country),
                ("a product name", &f.product),
            ]);
            if let Some(feed) = &f.feed {
                match &feed.source {
                    FeedSource::Facility { name, .. } => names.push(("a feed source", name)),
                    FeedSource::Market { product } => names.push(("a feed product", product)),
                }
            }
        }
        for p in &d.products {
            names.extend([("a product name", &p.name), ("a currency", &p.currency)]);
        }
        for s in &d.fx {
            names.push(("a currency", &s.currency));
        }
        for c in &d.costs {
            names.extend([("a facility name", &c.facility), ("a cost item", &c.item)]);
        }
        for r in &d.fiscal {
            names.extend([
                ("a country", &r.country),
                ("a royalty payee", &r.royalty_payee),
                ("a tax authority", &r.tax_authority),
            ]);
        }
        for p in &d.parties {
            names.push(("a party name", &p.name));
            names.extend(p.country.iter().map(|c| ("a country", c)));
        }
        for o in &d.offtakes {
            names.extend([
                ("a contract name", &o.name),
                ("a product name", &o.product),
                ("a buyer", &o.buyer),
            ]);
        }
        for s in &d.price_supports {
            names.extend([
                ("a support name", &s.name),
                ("a product name", &s.product),
                ("a supporter", &s.supporter),
            ]);
        }
        for t in &d.tranches {
            names.push(("a tranche name", &t.name));
            names.extend(t.covers.iter().map(|c| ("a covered tranche", c)));
            names.extend(t.participants.iter().map(|p| ("a participant", &p.party)));
        }
        for s in &d.scenarios {
            names.push(("a scenario name", &s.name));
            for o in &s.overrides {
                names.extend(o.product.iter().map(|v| ("a product name", v)));
                names.extend(o.facility.iter().map(|v| ("a facility name", v)));
                names.extend(o.party.iter().map(|v| ("a party name", v)));
            }
        }
        if let Some(mc) = &d.monte_carlo {
            names.extend(mc.processes.iter().map(|p| ("a product name", &p.product)));
        }
        for (what, v) in names {
            self.text_length(
                what,
                v,
                super::MAX_NAME_CHARS,
                "names label the results' lines, sheets and chart series, and Excel limits a series name to 255",
            );
        }
    }

    fn text_length(&mut self, what: &str, v: &Sourced<String>, max: usize, why: &str) {
        let chars = v.value.chars().count();
        if chars > max {
            let start: String = v.value.chars().take(40).collect();
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} is {chars} characters long (found '{start}…', expected at most {max}: {why})"
                ),
            ));
        }
    }

    // ----- Monte Carlo ---------------------------------------------------------------------

    fn monte_carlo(&mut self) {
        let Some(mc) = &self.deal.monte_carlo else {
            return;
        };
        if mc.processes.len() > super::MonteCarlo::MAX_PRODUCTS {
            self.push(
                Finding::at(
                    &mc.processes[super::MonteCarlo::MAX_PRODUCTS].product.cell,
                    format!(
                        "{} simulated products on the Monte Carlo sheet, more than the {} Lodestone simulates together (expected one row per product of the Prices sheet)",
                        mc.processes.len(),
                        super::MonteCarlo::MAX_PRODUCTS
                    ),
                )
                .uses(NameList::MonteCarlo),
            );
            return;
        }
        self.unique_names(
            "simulated product",
            mc.processes.iter().map(|p| &p.product),
            NameList::MonteCarlo,
        );
        let bounded = |v: &Sourced<Decimal>, hi: Decimal, hi_open: bool| {
            v.value >= Decimal::ZERO && (v.value < hi || (!hi_open && v.value == hi))
        };
        for (i, p) in mc.processes.iter().enumerate() {
            let name = &p.product.value;
            self.unknown_priced_product("on the Monte Carlo sheet", &p.product);
            let two = Decimal::TWO;
            let five = Decimal::from(5);
            let checks: [(&str, &Sourced<Decimal>, bool, &str); 5] = [
                (
                    "volatility",
                    &p.volatility,
                    bounded(&p.volatility, two, false),
                    "a yearly volatility from 0% to 200%, such as 40%",
                ),
                (
                    "reversion speed",
                    &p.reversion,
                    bounded(&p.reversion, five, false),
                    "a speed from 0 to 5 a year, such as 0.3",
                ),
                (
                    "jump intensity",
                    &p.jump_intensity,
                    bounded(&p.jump_intensity, five, false),
                    "from 0 to 5 crashes a year, such as 0.1",
                ),
                (
                    "jump mean",
                    &p.jump_mean,
                    bounded(&p.jump_mean, Decimal::ONE, true),
                    "a fall from 0% to below 100%, such as 30%",
                ),
                (
                    "jump spread",
                    &p.jump_spread,
                    bounded(&p.jump_spread, two, false),
                    "a standard deviation of the log size from 0 to 2, such as 0.2",
                ),
            ];
            for (what, v, ok, expected) in checks {
                if !ok {
                    let found = match what {
                        "volatility" | "jump mean" => pct(v.value),
                        _ => num(v.value),
                    };
                    self.push(Finding::at(
                        &v.cell,
                        format!(
                            "the {what} of '{name}' on the Monte Carlo sheet is out of range (found {found}, expected {expected})"
                        ),
                    ));
                }
            }
            if p.correlations.len() != i {
                self.push(Finding::at(
                    &p.product.cell,
                    format!(
                        "'{name}' has {} correlations on the Monte Carlo sheet (expected {i}: one with each product above it)",
                        p.correlations.len()
                    ),
                ));
                return;
            }
            for (j, rho) in p.correlations.iter().enumerate() {
                if rho.value < -Decimal::ONE || rho.value > Decimal::ONE {
                    self.push(Finding::at(
                        &rho.cell,
                        format!(
                            "the correlation of '{name}' with '{}' is outside −1 to 1 (found {}, expected a correlation from −1 to 1, such as 0.6)",
                            mc.processes[j].product.value,
                            num(rho.value)
                        ),
                    ));
                    return;
                }
            }
        }
        if let Err(super::correlation::CorrelationError::NotPositiveSemiDefinite { row }) =
            super::correlation::cholesky(&mc.matrix())
        {
            let p = &mc.processes[row];
            let above: Vec<String> = mc.processes[..row]
                .iter()
                .zip(&p.correlations)
                .map(|(q, rho)| format!("{} with '{}'", num(rho.value), q.product.value))
                .collect();
            let mut f = Finding::at(
                &p.product.cell,
                format!(
                    "the correlations of '{}' ({}) cannot hold together with those of the products above it (found a matrix that is not positive semi-definite, expected a valid correlation matrix: lower some correlations towards 0)",
                    p.product.value,
                    above.join(", ")
                ),
            );
            for q in &mc.processes[..=row] {
                for rho in &q.correlations {
                    f = f.with(rho);
                }
            }
            self.push(f);
        }
    }

    fn override_target<T>(
        &mut self,
        what: &str,
        kind: OverrideKind,
        field: &str,
        value: &Option<Sourced<T>>,
        applies: bool,
    ) {
        if let (Some(v), false) = (value, applies) {
            self.push(Finding::at(
                &v.cell,
                format!(
                    "{what} names {field}, which a {kind} override does not use (expected a blank)"
                ),
            ));
        }
    }
}

/// A share of a product's volume over a span of years (offtake or price support).
struct Cover<'c> {
    name: &'c str,
    product: &'c str,
    share: &'c Sourced<Decimal>,
    start: i32,
    end: i32,
}

fn cell_of<T>(v: &Option<Sourced<T>>) -> Option<CellRef> {
    v.as_ref().and_then(|v| v.cell.clone())
}

fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// The year a facility first produces: after exploration, feasibility, permitting and
/// construction.
fn first_production(f: &Facility) -> i64 {
    f.start_year.value as i64
        + f.exploration_years.value as i64
        + f.feasibility_years.value as i64
        + f.permitting_years.value as i64
        + f.construction_years.value as i64
}

fn facility_source(f: &Facility) -> Option<&str> {
    match &f.feed {
        Some(feed) => match &feed.source {
            FeedSource::Facility { name, .. } => Some(name.value.as_str()),
            FeedSource::Market { .. } => None,
        },
        None => None,
    }
}

fn feed_source_cell(f: &Facility) -> Option<CellRef> {
    match &f.feed {
        Some(feed) => match &feed.source {
            FeedSource::Facility { name, .. } => name.cell.clone(),
            FeedSource::Market { product } => product.cell.clone(),
        },
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;
    use crate::model::Scenario;

    fn messages(deal: &Deal) -> Vec<String> {
        validate(deal).iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn the_examples_and_the_blank_deal_are_valid() {
        for name in examples::EXAMPLES {
            let deal = examples::example(name).expect("example");
            assert_eq!(messages(&deal), Vec::<String>::new(), "example {name}");
        }
        assert_eq!(messages(&examples::blank()), Vec::<String>::new(), "blank");
    }

    /// Issue 11 finding 3: a financial close after construction (2030 for a 2028–29 build)
    /// left every loan undrawn and its upfront fee unfunded (5.4m unreconciled): refused.
    #[test]
    fn a_financial_close_after_construction_is_refused() {
        let mut deal = examples::example("spodumene-crash").expect("example");
        deal.financial_close_year = Some(Sourced::bare(2030));
        assert_eq!(
            messages(&deal),
            [
                "the financial close year (2030) is after construction, which ends in 2029: loans are drawn only until operations start, so none would ever be drawn (expected a year up to 2029, or a blank for the first construction year)"
            ]
        );
        deal.financial_close_year = Some(Sourced::bare(2029));
        assert_eq!(messages(&deal), Vec::<String>::new());
    }

    /// Two guarantees of one loan may not cover more than all of it between them.
    #[test]
    fn guarantees_of_one_loan_cover_at_most_all_of_it() {
        let mut deal = examples::example("ndpr-joint-facility").expect("example");
        let mut second = deal.tranches[4].clone();
        second.name.value = "Second cover".into();
        second.coverage.value = Decimal::new(6, 1);
        second.guarantee_kind.value = GuaranteeKind::Loss;
        deal.tranches.push(second);
        assert_eq!(
            messages(&deal),
            [
                "the guarantees of 'Senior debt' cover 110% of it ('Japan senior guarantee' 50%, 'Second cover' 60%; expected at most 100% together)"
            ]
        );
    }

    /// Deals built in code have no cells: the messages still name what is wrong.
    #[test]
    fn rules_name_the_problem_without_cells() {
        type Change = fn(&mut Deal);
        let cases: Vec<(&str, Change, &str)> = vec![
            (
                "no facility",
                |d| d.facilities.clear(),
                "the deal has no facility (expected at least one row on the Facilities sheet)",
            ),
            (
                "six ramp years",
                |d| {
                    let r = d.facilities[0].ramp[0].clone();
                    d.facilities[0].ramp = vec![r; 6];
                    d.facilities[0].operations_years.value = 10;
                },
                "'Mine' ramps up over 6 years (expected at most 5: the Facilities sheet has Ramp 1 to Ramp 5)",
            ),
            (
                "sum overflows",
                |d| {
                    let mut p = d.tranches[0].participants[0].clone();
                    p.share.value = Decimal::MAX;
                    d.tranches[0].participants.push(p.clone());
                    d.tranches[0].participants.push(p);
                },
                "participant shares of tranche 'Sponsor equity' sum to",
            ),
            (
                "scenario without overrides",
                |d| {
                    d.scenarios.push(Scenario {
                        name: Sourced::bare("Empty".into()),
                        overrides: Vec::new(),
                    })
                },
                "scenario 'Empty' changes nothing (expected at least one override)",
            ),
            (
                "zero depreciation",
                |d| d.fiscal[0].depreciation_years.value = 0,
                "the depreciation life of Australia is 0 years (expected 1 year or more)",
            ),
            (
                "lower-case currency",
                |d| d.currency.value = "usd".into(),
                "the deal currency is not an ISO currency code (found 'usd', expected three capital letters such as USD)",
            ),
            (
                "unknown fiscal country",
                |d| d.facilities[0].country.value = "Austraila".into(),
                "'Mine' is in 'Austraila', which has no row on the Fiscal sheet (expected one of 'Australia')",
            ),
            (
                "year overflow",
                |d| {
                    d.products[0].deck = vec![
                        (i32::MAX, Sourced::bare(Decimal::ONE)),
                        (i32::MIN, Sourced::bare(Decimal::ONE)),
                    ]
                },
                "the price deck of 'Concentrate' has non-consecutive years (found -2147483648 after 2147483647, expected 2147483648)",
            ),
        ];
        for (case, change, want) in cases {
            let mut deal = examples::blank();
            change(&mut deal);
            let got = messages(&deal);
            assert!(
                got.iter().any(|m| m.starts_with(want)),
                "case {case}: want a message starting {want:?}, got {got:#?}"
            );
        }
    }
}
