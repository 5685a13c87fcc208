//! How a header (or a key/value sheet's label, or a sheet name) typed by a modeller is matched
//! to the schema: exactly, near a field (an error with "did you mean"), a note (kept quietly),
//! or unknown (a warning). The one place that decides what "close to a field" means, generic
//! over `schema`: a field added there is matched, suggested and protected here without a line
//! of its own.
//!
//! Exact: the text before any " (unit)", ignoring case and repeated spaces (`Nameplate (t/yr)`,
//! `NAMEPLATE`). Near: the same letters but for case, spacing, punctuation, a unit written
//! another way or a plural (`Interest rate %`, `Interestrate`, `Tenors`); a typo within one
//! edit (names of 4–5 letters) or two (longer names); the words of one contained in the other
//! (`Interest` for `Interest rate`, `Corporate tax rate` for `Tax rate`; a header that is part
//! of a field must start as it does); or a known synonym
//! (`Company tax` for `Tax rate`). Only fields that have no column yet are suggested: a second
//! column near a field that is already there is an unknown column, not a typo of it.
//!
//! Must not read cells or report anything: the reader asks, and words the problem.

use super::schema::{Field, SheetSchema, ValueType};

/// What a header is.
#[derive(Debug, Clone)]
pub enum HeaderMatch {
    /// Exactly a field of the sheet.
    Field(&'static Field),
    /// Not a field, but close to these (best first): a typo to report.
    Near(Vec<&'static Field>),
    /// A notes column (Notes, Comment, Source…): kept without a word.
    Quiet,
    /// Something else: ignored, with a warning.
    Unknown,
}

impl PartialEq for HeaderMatch {
    /// Fields are the schema's own constants: the same field is the same name.
    fn eq(&self, other: &Self) -> bool {
        let names = |fields: &[&Field]| fields.iter().map(|f| f.name).collect::<Vec<_>>();
        match (self, other) {
            (HeaderMatch::Field(a), HeaderMatch::Field(b)) => a.name == b.name,
            (HeaderMatch::Near(a), HeaderMatch::Near(b)) => names(a) == names(b),
            (HeaderMatch::Quiet, HeaderMatch::Quiet)
            | (HeaderMatch::Unknown, HeaderMatch::Unknown) => true,
            _ => false,
        }
    }
}

/// A header or label as matched exactly: the text before any " (unit)", lower-cased, spaces
/// folded.
pub fn key(text: &str) -> String {
    let before = text.split('(').next().unwrap_or("");
    before
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The field a header names exactly, if any.
pub fn exact(schema: &SheetSchema, text: &str) -> Option<&'static Field> {
    let k = key(text);
    if k.is_empty() {
        return None;
    }
    schema.fields.iter().find(|f| key(f.name) == k)
}

/// A unit written in a header's brackets that contradicts the field's own unit: months for
/// a tenor in years, kt for tonnes, millions for an amount, basis points for a percentage.
/// The values would be read in the field's unit, so they would not mean what their label
/// says. Returns the unit as typed. Units that merely say the same thing another way
/// (`% p.a.`, `tpa`, `USD`) are not contradictions.
pub fn unit_conflict(field: &Field, text: &str) -> Option<String> {
    let typed = bracketed(text)?;
    let typed_words = unit_words(&typed);
    let field_words = unit_words(field.unit);
    let first = |words: &[String], kind: Kind| words.iter().find_map(|w| kind.canonical(w));
    for kind in [Kind::Time, Kind::Mass] {
        if let (Some(t), Some(f)) = (first(&typed_words, kind), first(&field_words, kind))
            && t != f
        {
            return Some(typed);
        }
    }
    let numeric = matches!(field.value_type, ValueType::Number | ValueType::Integer);
    if numeric
        && first(&typed_words, Kind::Scale).is_some()
        && first(&field_words, Kind::Scale).is_none()
    {
        return Some(typed);
    }
    let basis_points = typed_words
        .iter()
        .any(|w| matches!(w.as_str(), "bps" | "bp" | "basis"));
    if basis_points && matches!(field.value_type, ValueType::Percent) {
        return Some(typed);
    }
    None
}

/// The text inside a header's first brackets: "Tenor (months)" → "months".
fn bracketed(text: &str) -> Option<String> {
    let start = text.find(['(', '['])?;
    let rest = &text[start + 1..];
    let end = rest.find([')', ']']).unwrap_or(rest.len());
    let inside = rest[..end].trim();
    (!inside.is_empty()).then(|| inside.to_string())
}

/// A unit's words, lower-case but for "Mt" (million tonnes, where "mt" and "MT" are metric
/// tonnes): "t/yr" → ["t", "yr"]; "US$ m" → ["us", "m"].
fn unit_words(unit: &str) -> Vec<String> {
    unit.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "Mt" | "Mtpa" => "mtpa".to_string(),
            _ => w.to_lowercase(),
        })
        .collect()
}

/// The kinds of unit whose mix-ups change a value by a factor.
#[derive(Clone, Copy)]
enum Kind {
    Time,
    Mass,
    Scale,
}

impl Kind {
    /// The unit a word names, in this kind, if any.
    fn canonical(self, word: &str) -> Option<&'static str> {
        match self {
            Kind::Time => match word {
                "year" | "years" | "yr" | "yrs" | "y" | "pa" | "annual" => Some("year"),
                "month" | "months" | "mth" | "mths" | "mo" | "mos" => Some("month"),
                "quarter" | "quarters" | "qtr" | "qtrs" | "q" => Some("quarter"),
                "week" | "weeks" | "wk" | "wks" => Some("week"),
                "day" | "days" | "d" => Some("day"),
                _ => None,
            },
            Kind::Mass => match word {
                "t" | "tonne" | "tonnes" | "ton" | "tons" | "tpa" | "mt" | "metric" | "dmt"
                | "wmt" => Some("t"),
                "kt" | "ktpa" | "kilotonne" | "kilotonnes" => Some("kt"),
                "mtpa" | "megatonne" | "megatonnes" => Some("Mt"),
                "kg" | "kgs" | "kilogram" | "kilograms" => Some("kg"),
                "lb" | "lbs" | "pound" | "pounds" => Some("lb"),
                "oz" | "ounce" | "ounces" => Some("oz"),
                "g" | "gram" | "grams" => Some("g"),
                _ => None,
            },
            Kind::Scale => match word {
                "k" | "000" | "000s" | "thousand" | "thousands" | "m" | "mn" | "mm" | "million"
                | "millions" | "bn" | "b" | "billion" | "billions" => Some("scaled"),
                _ => None,
            },
        }
    }
}

/// Headers whose column holds notes, not inputs: Notes, Note, Comment(s), Source(s), and any
/// header starting with one of those words ("Notes on the deck").
pub fn is_quiet(text: &str) -> bool {
    const QUIET: [&str; 6] = ["note", "notes", "comment", "comments", "source", "sources"];
    let words = words(text);
    words.first().is_some_and(|w| QUIET.contains(&w.as_str()))
}

/// Classifies a header of `schema`. `open` says which fields may still be suggested (those
/// without a column yet).
pub fn classify(schema: &SheetSchema, text: &str, open: &dyn Fn(&Field) -> bool) -> HeaderMatch {
    if let Some(f) = exact(schema, text) {
        return HeaderMatch::Field(f);
    }
    if is_quiet(text) {
        return HeaderMatch::Quiet;
    }
    let near = near_fields(schema, text, open);
    if near.is_empty() {
        HeaderMatch::Unknown
    } else {
        HeaderMatch::Near(near)
    }
}

/// Fields of `schema` that `text` is close to (see the module header), best first.
pub fn near_fields(
    schema: &SheetSchema,
    text: &str,
    open: &dyn Fn(&Field) -> bool,
) -> Vec<&'static Field> {
    let h = Words::of(text);
    if h.tokens.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(u32, usize, &'static Field)> = Vec::new();
    for (i, f) in schema.fields.iter().enumerate() {
        if !open(f) {
            continue;
        }
        if let Some(score) = closeness(schema.name, &h, f) {
            scored.push((score, i, f));
        }
    }
    scored.sort_by_key(|(score, i, _)| (*score, *i));
    match scored.first() {
        Some((best, _, _)) => {
            let best = *best;
            scored
                .into_iter()
                .filter(|(s, _, _)| *s == best)
                .map(|(_, _, f)| f)
                .collect()
        }
        None => Vec::new(),
    }
}

/// "did you mean 'Tax rate'?" or "did you mean 'Royalty concentrate' or 'Royalty refined'?".
pub fn did_you_mean(fields: &[&Field]) -> String {
    let names: Vec<String> = fields.iter().map(|f| format!("'{}'", f.name)).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!("did you mean {one}?"),
        [init @ .., last] => format!("did you mean {} or {last}?", init.join(", ")),
    }
}

/// The sheet of `sheets` (those the workbook lacks) that a sheet name is close to: the same
/// letters but for case, spacing, punctuation or a plural, or a typo (as for headers). Word
/// containment is not used for sheets: a workbook holds sheets of its own ("Scenario
/// comparison" in a results workbook is not a misspelt Scenarios).
pub fn near_sheet<'s>(name: &str, sheets: &[&'s SheetSchema]) -> Option<&'s SheetSchema> {
    let h = Words::of(name);
    if h.tokens.is_empty() {
        return None;
    }
    sheets
        .iter()
        .filter_map(|s| {
            let f = Words::of(s.name);
            let d = typo_distance(&h.compact, &f.compact)?;
            Some((d, *s))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, s)| s)
}

/// Known synonyms: (sheet, header as typed, field). A sheet of "" applies to every sheet.
/// Compared on their letters only (case, spacing and punctuation aside).
const SYNONYMS: &[(&str, &str, &str)] = &[
    ("Fiscal", "company tax", "Tax rate"),
    ("Fiscal", "corporate tax", "Tax rate"),
    ("Fiscal", "income tax", "Tax rate"),
    ("Fiscal", "corporation tax", "Tax rate"),
    ("Fiscal", "royalty recipient", "Royalty payee"),
    ("Fiscal", "tax life", "Depreciation"),
    ("Financing", "interest", "Interest rate"),
    ("Financing", "coupon", "Interest rate"),
    ("Financing", "amount", "Commitment"),
    ("Financing", "size", "Commitment"),
    ("Financing", "maturity", "Tenor"),
    ("Financing", "seniority", "Rank"),
    ("Financing", "type", "Kind"),
    ("Financing", "amortisation", "Repayment"),
    ("Financing", "amortization", "Repayment"),
    ("Financing", "guaranteed tranche", "Covers"),
    ("Facilities", "capacity", "Nameplate"),
    ("Facilities", "type", "Kind"),
    ("Facilities", "first year", "Start year"),
    ("Facilities", "recovery rate", "Recovery"),
    ("Facilities", "yield", "Recovery"),
    ("Parties", "type", "Kind"),
    ("Parties", "role", "Kind"),
    ("Parties", "hurdle rate", "Discount rate"),
    ("Parties", "rate", "Discount rate"),
    ("Offtake", "offtaker", "Buyer"),
    ("Offtake", "volume share", "Share"),
    ("Price support", "guarantor", "Supporter"),
    ("Price support", "floor price", "Floor"),
    ("Costs", "cost", "Amount"),
    ("Costs", "value", "Amount"),
    ("Costs", "type", "Category"),
    ("Costs", "escalation rate", "Escalation"),
    ("Prices", "commodity", "Product"),
    ("Prices", "escalation rate", "Escalation"),
    ("Participants", "funder", "Party"),
    ("Participants", "lender", "Party"),
    ("Scenarios", "type", "Override"),
    ("Deal", "name", "Deal name"),
    ("Deal", "start date", "Model start date"),
    ("Deal", "discount rate", "Project discount rate"),
    ("Deal", "model horizon", "Horizon"),
    ("Deal", "years", "Horizon"),
    ("Deal", "financial close", "Financial close year"),
];

/// Words that carry no meaning of their own in a header.
const FILLER: [&str; 10] = [
    "of", "the", "a", "an", "in", "per", "and", "or", "to", "for",
];

/// A text as compared: its words (lower-case, letters and digits only, plurals made
/// singular, bracketed units and filler dropped) and those words run together.
struct Words {
    tokens: Vec<String>,
    compact: String,
}

impl Words {
    fn of(text: &str) -> Self {
        let tokens: Vec<String> = words(text)
            .into_iter()
            .filter(|w| !FILLER.contains(&w.as_str()))
            .map(|w| singular(&w))
            .collect();
        let compact = tokens.concat();
        Words { tokens, compact }
    }
}

/// Lower-case words of letters and digits, with anything in brackets left out.
fn words(text: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_alphanumeric() => plain.extend(c.to_lowercase()),
            _ => plain.push(' '),
        }
    }
    plain.split_whitespace().map(str::to_string).collect()
}

/// A plural made singular, as far as headers go: "royalties" → "royalty", "tenors" → "tenor",
/// "shares" → "share" (but "class", "gas" and short words stay).
fn singular(w: &str) -> String {
    if let Some(stem) = w.strip_suffix("ies")
        && stem.len() >= 2
    {
        return format!("{stem}y");
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// How close a header is to a field: lower is closer; None when it is not close.
fn closeness(sheet: &str, h: &Words, field: &Field) -> Option<u32> {
    let f = Words::of(field.name);
    if f.tokens.is_empty() {
        return None;
    }
    // The same letters: case, spacing, punctuation, a unit or a plural.
    if h.compact == f.compact {
        return Some(0);
    }
    // A known synonym.
    let synonym = SYNONYMS.iter().any(|(s, typed, target)| {
        (s.is_empty() || *s == sheet)
            && *target == field.name
            && Words::of(typed).compact == h.compact
    });
    if synonym {
        return Some(1);
    }
    // A typo.
    if let Some(d) = typo_distance(&h.compact, &f.compact) {
        return Some(1 + d);
    }
    // One's words within the other's: the field's words all in the header ("Corporate tax
    // rate" for "Tax rate"), or the header's in the field's from its first word on ("Interest"
    // for "Interest rate", but not for "Capitalise interest").
    let within = |a: &[String], b: &[String]| a.iter().all(|w| b.contains(w));
    let leads = h.tokens.first() == f.tokens.first();
    if (leads && within(&h.tokens, &f.tokens)) || within(&f.tokens, &h.tokens) {
        let extra = h.tokens.len().abs_diff(f.tokens.len()) as u32;
        return Some(4 + extra);
    }
    None
}

/// The edit distance between two compact names when it is small enough to be a typo: none
/// for names of 3 letters or fewer, one edit for 4–5, two for longer ones.
fn typo_distance(a: &str, b: &str) -> Option<u32> {
    let len = a.chars().count().min(b.chars().count());
    let allowed = match len {
        0..=3 => 0,
        4..=5 => 1,
        _ => 2,
    };
    let d = levenshtein(a, b);
    (d <= allowed).then_some(d as u32)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::excel::schema::{self, SHEETS};

    #[test]
    fn headers_match_on_the_text_before_the_unit() {
        for (header, want) in [
            ("Nameplate (t/yr)", "nameplate"),
            ("nameplate", "nameplate"),
            ("  NAMEPLATE  ", "nameplate"),
            ("Take-or-pay (%)", "take-or-pay"),
            ("P  exploration(%)", "p exploration"),
        ] {
            assert_eq!(key(header), want, "case {header}");
        }
    }

    fn near(sheet: &SheetSchema, text: &str) -> Vec<&'static str> {
        match classify(sheet, text, &|_| true) {
            HeaderMatch::Near(fields) => fields.iter().map(|f| f.name).collect(),
            HeaderMatch::Field(f) => vec!["=", f.name],
            HeaderMatch::Quiet => vec!["(quiet)"],
            HeaderMatch::Unknown => vec![],
        }
    }

    #[test]
    fn near_headers_suggest_the_field_meant() {
        let cases: &[(&SheetSchema, &str, &[&str])] = &[
            (&schema::FINANCING, "Interest (%)", &["Interest rate"]),
            (
                &schema::FINANCING,
                "Capitalise interst",
                &["Capitalise interest"],
            ),
            (
                &schema::FINANCING,
                "Capitalize interest",
                &["Capitalise interest"],
            ),
            (&schema::FINANCING, "Interest rate %", &["Interest rate"]),
            (&schema::FINANCING, "Interest rate [%]", &["Interest rate"]),
            (&schema::FINANCING, "InterestRate", &["Interest rate"]),
            (&schema::FINANCING, "Tenors", &["Tenor"]),
            (&schema::FINANCING, "Lockup DSCR", &["Lock-up DSCR"]),
            (&schema::FISCAL, "Corporate tax rate (%)", &["Tax rate"]),
            (&schema::FISCAL, "Company tax", &["Tax rate"]),
            (
                &schema::FISCAL,
                "Royalty",
                &["Royalty concentrate", "Royalty refined", "Royalty payee"],
            ),
            (&schema::FACILITIES, "Capacity (t/yr)", &["Nameplate"]),
            (&schema::FACILITIES, "Nameplate t/yr", &["Nameplate"]),
            (
                &schema::DEAL,
                "Financial clse year",
                &["Financial close year"],
            ),
            (&schema::PARTIES, "Discount rates", &["Discount rate"]),
            (&schema::COSTS, "Base yr", &["Base year"]),
        ];
        for (sheet, text, want) in cases {
            assert_eq!(near(sheet, text), *want, "{}: {text}", sheet.name);
        }
    }

    #[test]
    fn notes_and_unrelated_headers_are_not_typos() {
        let cases: &[(&SheetSchema, &str, &[&str])] = &[
            (&schema::FINANCING, "Notes", &["(quiet)"]),
            (&schema::FINANCING, "Note", &["(quiet)"]),
            (&schema::FINANCING, "Comments", &["(quiet)"]),
            (&schema::FINANCING, "Source (2024 term sheet)", &["(quiet)"]),
            (&schema::FINANCING, "Notes on pricing", &["(quiet)"]),
            (&schema::COSTS, "Currency", &[]),
            (&schema::COSTS, "Check", &[]),
            (&schema::COSTS, "ID", &[]),
            (&schema::OFFTAKE, "Ref", &[]),
            (&schema::FINANCING, "Lender group", &[]),
            (
                &schema::FINANCING,
                "interest rate (%)",
                &["=", "Interest rate"],
            ),
        ];
        for (sheet, text, want) in cases {
            assert_eq!(near(sheet, text), *want, "{}: {text}", sheet.name);
        }
    }

    #[test]
    fn a_unit_that_contradicts_the_field_is_caught() {
        let field = |sheet: &SheetSchema, name: &str| sheet.field(name).expect("field");
        let cases: &[(&Field, &str, Option<&str>)] = &[
            (
                field(&schema::FINANCING, "Tenor"),
                "Tenor (months)",
                Some("months"),
            ),
            (field(&schema::FINANCING, "Tenor"), "Tenor (years)", None),
            (field(&schema::FINANCING, "Tenor"), "Tenor (yrs)", None),
            (
                field(&schema::FINANCING, "DSRA"),
                "DSRA (years)",
                Some("years"),
            ),
            (
                field(&schema::FACILITIES, "Nameplate"),
                "Nameplate (kt/yr)",
                Some("kt/yr"),
            ),
            (
                field(&schema::FACILITIES, "Nameplate"),
                "Nameplate (Mt/yr)",
                Some("Mt/yr"),
            ),
            (
                field(&schema::FACILITIES, "Nameplate"),
                "Nameplate (t/d)",
                Some("t/d"),
            ),
            (
                field(&schema::FACILITIES, "Nameplate"),
                "Nameplate (tpa)",
                None,
            ),
            (
                field(&schema::FACILITIES, "Nameplate"),
                "Nameplate (MT per year)",
                None,
            ),
            (
                field(&schema::FINANCING, "Commitment"),
                "Commitment (USD m)",
                Some("USD m"),
            ),
            (
                field(&schema::FINANCING, "Commitment"),
                "Commitment ($'000)",
                Some("$'000"),
            ),
            (
                field(&schema::FINANCING, "Commitment"),
                "Commitment (USD)",
                None,
            ),
            (
                field(&schema::FINANCING, "Interest rate"),
                "Interest rate (bps)",
                Some("bps"),
            ),
            (
                field(&schema::FINANCING, "Interest rate"),
                "Interest rate (% p.a.)",
                None,
            ),
            (
                field(&schema::COSTS, "Escalation"),
                "Escalation (%/month)",
                Some("%/month"),
            ),
        ];
        for (f, text, want) in cases {
            assert_eq!(unit_conflict(f, text).as_deref(), *want, "{text}");
        }
    }

    #[test]
    fn only_fields_without_a_column_are_suggested() {
        let open = |f: &Field| f.name != "Interest rate";
        assert_eq!(
            classify(&schema::FINANCING, "Interest", &open),
            HeaderMatch::Unknown
        );
    }

    #[test]
    fn every_field_is_found_exactly_by_its_own_header() {
        for sheet in SHEETS {
            for f in sheet.fields {
                assert_eq!(
                    classify(sheet, &f.header(), &|_| true),
                    HeaderMatch::Field(f),
                    "{}: {}",
                    sheet.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn synonyms_name_fields_of_their_sheet() {
        for (sheet, typed, field) in SYNONYMS {
            let schema = SHEETS.iter().find(|s| s.name == *sheet);
            assert!(
                schema.is_some_and(|s| s.field(field).is_some()),
                "synonym {typed:?}: no field {field:?} on sheet {sheet:?}"
            );
        }
    }

    #[test]
    fn sheet_names_near_a_missing_sheet() {
        let optional: Vec<&SheetSchema> =
            vec![&schema::SCENARIOS, &schema::PRICE_SUPPORT, &schema::FX];
        for (name, want) in [
            ("Scenario", Some("Scenarios")),
            ("Pricesupport", Some("Price support")),
            ("Price-support", Some("Price support")),
            ("Scenario comparison", None),
            ("Log", None),
            ("About", None),
        ] {
            assert_eq!(
                near_sheet(name, &optional).map(|s| s.name),
                want,
                "sheet {name}"
            );
        }
    }
}
