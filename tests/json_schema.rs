//! The JSON of every example (as `run --json` writes it, and with `--json-rows`) validates
//! against `schema/results.schema.json`, and the schema's lists match the code's.
//!
//! The validator is a small one of the keywords the schema uses, not the `jsonschema`
//! crate: that crate brings dozens of crates (regex engines, URL and IDNA handling, and an
//! HTTP client unless its default features are off) into builds on a machine where every
//! build counts. This one refuses any keyword it does not check (so the schema cannot use
//! one silently ignored) and any `pattern` it does not know, and its own tests below show
//! that it rejects bad documents.

use serde_json::{Map, Value};

use lodestone::engine;
use lodestone::examples::{self, EXAMPLES};
use lodestone::json::{Options, SCHEMA_VERSION, to_json_with};
use lodestone::model::{Discounting, PartyKind, TrancheKind};

const DECIMAL: &str = "^-?(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?$";
const YEAR: &str = "^[0-9]{4}$";
const DATE: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// Keywords that only annotate.
const ANNOTATIONS: [&str; 5] = ["$schema", "$id", "title", "description", "$defs"];

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/results.schema.json");
    let text = std::fs::read_to_string(path).expect("schema file");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal's text as `engine::results::text` writes it.
fn is_decimal_text(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int_ok = digits(int) && (int == "0" || !int.starts_with('0'));
    int_ok && frac.is_none_or(|f| digits(f) && !f.ends_with('0'))
}

/// The patterns the schema uses, checked by hand (no regex engine in the build).
fn matches(pattern: &str, s: &str) -> Result<bool, String> {
    let parts = |s: &str, lens: &[usize]| {
        let p: Vec<&str> = s.split('-').collect();
        p.len() == lens.len() && p.iter().zip(lens).all(|(p, n)| p.len() == *n && digits(p))
    };
    match pattern {
        DECIMAL => Ok(is_decimal_text(s)),
        YEAR => Ok(parts(s, &[4])),
        DATE => Ok(parts(s, &[4, 2, 2])),
        other => Err(format!("the validator does not know the pattern {other}")),
    }
}

fn type_is(name: &str, v: &Value) -> bool {
    match name {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => false,
    }
}

struct Validator {
    root: Value,
}

impl Validator {
    fn errors(&self, doc: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(&self.root, doc, "$", &mut errors);
        errors
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(schema) = schema.as_object() else {
            errors.push(format!("{at}: a schema that is not an object: {schema}"));
            return;
        };
        for (keyword, arg) in schema {
            self.keyword(schema, keyword, arg, v, at, errors);
        }
    }

    fn keyword(
        &self,
        schema: &Map<String, Value>,
        keyword: &str,
        arg: &Value,
        v: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let mut fail = |what: String| errors.push(format!("{at}: {what}"));
        match keyword {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => {
                let target = arg
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| self.root["$defs"].get(name));
                match target {
                    Some(s) => self.check(s, v, at, errors),
                    None => fail(format!("an unresolved $ref {arg}")),
                }
            }
            "type" => {
                let names: Vec<&str> = match arg {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                if !names.iter().any(|n| type_is(n, v)) {
                    fail(format!("{v} is not of type {arg}"));
                }
            }
            "enum" => {
                if !arg.as_array().is_some_and(|a| a.contains(v)) {
                    fail(format!("{v} is not one of {arg}"));
                }
            }
            "const" => {
                if arg != v {
                    fail(format!("{v} is not {arg}"));
                }
            }
            "pattern" => {
                if let (Some(p), Some(s)) = (arg.as_str(), v.as_str()) {
                    match matches(p, s) {
                        Ok(true) => {}
                        Ok(false) => fail(format!("\"{s}\" does not match {p}")),
                        Err(e) => fail(e),
                    }
                }
            }
            "anyOf" => self.any_of(arg, v, at, errors),
            "items" => {
                for (k, item) in v.as_array().into_iter().flatten().enumerate() {
                    self.check(arg, item, &format!("{at}[{k}]"), errors);
                }
            }
            "required" => {
                let names = arg.as_array().into_iter().flatten();
                for name in names.filter_map(Value::as_str) {
                    if v.as_object().is_some_and(|o| !o.contains_key(name)) {
                        fail(format!("lacks the required key \"{name}\""));
                    }
                }
            }
            "properties" | "additionalProperties" | "propertyNames" => {
                self.members(schema, keyword, v, at, errors)
            }
            other => fail(format!("the validator does not know the keyword {other}")),
        }
    }

    fn any_of(&self, arg: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let branches = arg.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut why = Vec::new();
        for branch in branches {
            let mut e = Vec::new();
            self.check(branch, v, at, &mut e);
            if e.is_empty() {
                return;
            }
            why.push(e.join("; "));
        }
        errors.push(format!("{at}: matches none of anyOf ({})", why.join(" | ")));
    }

    /// An object's members: `properties`, `additionalProperties` (the members no property
    /// names) and `propertyNames`.
    fn members(
        &self,
        schema: &Map<String, Value>,
        keyword: &str,
        v: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(object) = v.as_object() else { return };
        let declared = schema.get("properties").and_then(Value::as_object);
        for (name, member) in object {
            let here = format!("{at}.{name}");
            let own = declared.and_then(|p| p.get(name));
            match (keyword, own, schema.get(keyword)) {
                ("properties", Some(s), _) => self.check(s, member, &here, errors),
                ("additionalProperties", None, Some(Value::Bool(false))) => {
                    errors.push(format!("{here}: a key the schema does not allow"))
                }
                ("additionalProperties", None, Some(s)) if s.is_object() => {
                    self.check(s, member, &here, errors)
                }
                ("propertyNames", _, Some(s)) => {
                    self.check(s, &Value::String(name.clone()), &here, errors)
                }
                _ => {}
            }
        }
    }
}

fn validator() -> Validator {
    Validator { root: schema() }
}

#[test]
fn every_examples_json_with_and_without_the_rows_matches_the_schema() {
    let v = validator();
    for name in EXAMPLES {
        let deal = examples::example(name).expect("example");
        let runs = engine::run_all(&deal, &deal.scenarios).expect("runs");
        for rows in [false, true] {
            let text = to_json_with(&deal, &runs, Options { rows });
            let doc: Value = serde_json::from_str(&text).expect("json");
            let errors = v.errors(&doc);
            assert!(
                errors.is_empty(),
                "{name} (rows {rows}): {} errors, first: {:#?}",
                errors.len(),
                &errors[..errors.len().min(5)]
            );
            let scenario = &doc["scenarios"][0];
            assert_eq!(scenario.get("rows").is_some(), rows, "{name}");
        }
    }
}

/// The enumerations of the schema, by their `$defs` name or path.
fn listed(schema: &Value, pointer: &str) -> Vec<String> {
    let list = schema.pointer(pointer).and_then(Value::as_array);
    let names = list.unwrap_or_else(|| panic!("no list at {pointer}"));
    names
        .iter()
        .filter_map(|n| n.as_str().map(String::from))
        .collect()
}

#[test]
fn the_schemas_lists_are_the_codes() {
    let schema = schema();
    assert_eq!(
        schema.pointer("/properties/schema_version/const"),
        Some(&Value::from(SCHEMA_VERSION))
    );
    let mut parties = vec!["project", "market", "suppliers", "funding gap"];
    parties.extend(PartyKind::labels());
    assert_eq!(listed(&schema, "/$defs/party_kind/enum"), parties);
    assert_eq!(
        listed(&schema, "/$defs/tranche/properties/kind/enum"),
        TrancheKind::labels()
    );
    assert_eq!(
        listed(&schema, "/properties/discounting/enum"),
        Discounting::labels()
    );
}

/// A small valid document, to break one thing at a time.
fn minimal() -> Value {
    serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "lodestone_version": "0.1.0",
        "deal": "D",
        "currency": "USD",
        "discounting": "mid-year",
        "periods": [{"label": "2030", "start": "2030-01-01", "end": "2030-12-31"}],
        "scenarios": [{
            "name": "Base",
            "parties": [
                {"name": "Market", "kind": "market", "ledger_only": true, "cash_flows": ["-1.5"]}
            ],
            "project": {
                "name": "P", "discount_rate": "0.1",
                "unlevered_pre_tax_cash_flows": ["0"], "unlevered_post_tax_cash_flows": ["0"],
                "npv_pre_tax": "0", "irr_pre_tax": null, "irr_pre_tax_roots": [],
                "npv_post_tax": "0", "irr_post_tax": null, "irr_post_tax_roots": [],
                "risked_npv": "0", "cfads": ["0"], "funding_gap": "0",
                "completion_support": "0", "overrun_equity": "0", "equity_deficit_support": "0"
            },
            "governments": [],
            "tranches": [],
            "checks": [{"name": "Ledger balances", "ok": true, "detail": "largest deviation 0"}],
            "events": [{"year": 2030, "kind": "lockup", "subject": "Senior", "amount": "0", "detail": "x"}]
        }]
    })
}

#[test]
fn the_validator_accepts_a_valid_document_and_rejects_each_kind_of_fault() {
    let v = validator();
    assert_eq!(v.errors(&minimal()), Vec::<String>::new());
    type Break = fn(&mut Value);
    let cases: [(&str, Break, &str); 10] = [
        ("an extra key", |d| d["extra"] = Value::from(1), "$.extra"),
        (
            "a missing key",
            |d| drop(d.as_object_mut().map(|o| o.remove("deal"))),
            "\"deal\"",
        ),
        ("a wrong type", |d| d["deal"] = Value::from(3), "$.deal"),
        (
            "trailing zeros",
            |d| d["scenarios"][0]["project"]["npv_pre_tax"] = "1.50".into(),
            "npv_pre_tax",
        ),
        (
            "an exponent",
            |d| d["scenarios"][0]["project"]["risked_npv"] = "1e5".into(),
            "risked_npv",
        ),
        (
            "a leading zero",
            |d| d["scenarios"][0]["project"]["cfads"][0] = "01".into(),
            "cfads[0]",
        ),
        (
            "a number for a decimal",
            |d| d["scenarios"][0]["project"]["funding_gap"] = Value::from(0),
            "funding_gap",
        ),
        (
            "an unknown event kind",
            |d| d["scenarios"][0]["events"][0]["kind"] = "lock up".into(),
            "kind",
        ),
        (
            "a party neither shape",
            |d| d["scenarios"][0]["parties"][0]["ledger_only"] = false.into(),
            "anyOf",
        ),
        (
            "another schema version",
            |d| d["schema_version"] = "0".into(),
            "schema_version",
        ),
    ];
    for (case, break_it, where_) in cases {
        let mut doc = minimal();
        break_it(&mut doc);
        let errors = v.errors(&doc);
        assert!(
            errors.iter().any(|e| e.contains(where_)),
            "{case}: expected an error at {where_}, got {errors:#?}"
        );
    }
}

#[test]
fn the_validator_refuses_a_keyword_or_pattern_it_does_not_check() {
    for schema in [
        serde_json::json!({"type": "string", "minLength": 2}),
        serde_json::json!({"type": "string", "pattern": "^[a-z]+$"}),
    ] {
        let v = Validator { root: schema };
        assert!(!v.errors(&Value::from("ab")).is_empty(), "{}", v.root);
    }
}

#[test]
fn decimal_texts_are_what_the_results_write() {
    use rust_decimal_macros::dec;
    for d in [
        dec!(0),
        dec!(-0.00),
        dec!(1.50),
        dec!(-1234.5678),
        dec!(1e-20),
        dec!(10),
    ] {
        let text = lodestone::engine::results::text(d);
        assert!(is_decimal_text(&text), "{d} -> {text}");
    }
    for bad in ["", "-", "1.", ".5", "1.0", "00", "+1", "1e5", "1,000"] {
        assert!(!is_decimal_text(bad), "{bad}");
    }
}
