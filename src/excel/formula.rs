//! Renders the engine's expressions as Excel formulas: the same description the engine
//! evaluates in exact decimals becomes FAST-style formulas (one formula per row, the same
//! in every period column), so a recalculation in Excel or LibreOffice reproduces the
//! engine's numbers.
//!
//! Owns: formula text. Knows where things are only through `Placement` (this sheet's rows
//! and scalar cells) and `Inputs` (where each input cell of the deal lives).

use std::cell::RefCell;
use std::fmt::Write as _;

use rust_decimal::Decimal;

use crate::engine::calc::{Calc, Expr, InputId, RowId};
use crate::model::CellRef;
use crate::model::key::Key;

/// The most arguments Lodestone writes in one call of MIN, MAX, AND or OR (Excel's limit is
/// 255); a longer list is written as groups of it.
const LIST_ARGUMENTS: usize = 128;

/// Where the rows and cells of one calculation sheet are.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The sheet's name, for references from other sheets.
    pub sheet: String,
    /// Zero-based worksheet row of each calculation row (by RowId).
    pub row_of: Vec<u32>,
    /// Zero-based (row, column) of each scalar (by ScalarId).
    pub scalar_at: Vec<(u32, u32)>,
    /// Zero-based (row, column) of each engine-solved value.
    pub solved_at: Vec<(u32, u32)>,
    /// Zero-based column of the first period; the column before it is the opening column.
    pub first_col: u32,
    /// Zero-based row holding each period's label year.
    pub year_row: u32,
    pub periods: usize,
}

/// Finds the cell of an input of the deal workbook.
pub trait Inputs {
    fn cell(&self, key: &Key) -> Option<CellRef>;
}

/// A reference to render that has no place: an internal inconsistency, reported not hidden.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A1 reference, optionally absolute in row and column.
pub fn a1(row: u32, col: u32, abs_col: bool, abs_row: bool) -> String {
    let mut out = String::with_capacity(12);
    push_a1(&mut out, row, col, abs_col, abs_row);
    out
}

/// Appends an A1 reference without allocating (formulas are written by the hundred
/// thousand).
pub fn push_a1(out: &mut String, row: u32, col: u32, abs_col: bool, abs_row: bool) {
    if abs_col {
        out.push('$');
    }
    push_column(out, col);
    if abs_row {
        out.push('$');
    }
    push_number(out, row + 1);
}

/// A column's letters: 0 is A, 26 is AA.
fn push_column(out: &mut String, col: u32) {
    let mut letters = [0u8; 4];
    let mut n = col + 1;
    let mut k = letters.len();
    while n > 0 && k > 0 {
        k -= 1;
        letters[k] = b'A' + ((n - 1) % 26) as u8;
        n = (n - 1) / 26;
    }
    for b in &letters[k..] {
        out.push(*b as char);
    }
}

fn push_number(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for b in &digits[k..] {
        out.push(*b as char);
    }
}

/// A sheet name as formulas quote it.
pub fn quote_sheet(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

/// An absolute reference to a cell of another sheet.
pub fn external(cell: &CellRef) -> String {
    format!(
        "{}!{}",
        quote_sheet(&cell.sheet),
        a1(cell.row, cell.col, true, true)
    )
}

/// The text of a number in a formula.
pub fn number(v: Decimal) -> String {
    let v = v.normalize();
    if v.is_sign_negative() && !v.is_zero() {
        format!("({v})")
    } else {
        v.to_string()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    /// A number is wanted: booleans become 1 or 0.
    Value,
    /// A condition is wanted (IF, AND, OR): booleans stay booleans.
    Condition,
}

pub struct Renderer<'a> {
    calc: &'a Calc,
    place: &'a Placement,
    inputs: &'a dyn Inputs,
    /// Each input's reference text, resolved once.
    input_refs: Vec<Option<String>>,
    /// While a row template is rendered: where each relative column goes in the text, and
    /// the column it names in the first period.
    marks: RefCell<Option<Vec<(usize, u32)>>>,
}

/// A row's formula with its relative columns left out: one rendering serves every period,
/// since only the column letters of same-row references change along the row (FAST style).
pub struct RowTemplate {
    text: String,
    marks: Vec<(usize, u32)>,
}

impl RowTemplate {
    /// The formula in period `t` (0-based), without the leading '='.
    pub fn formula(&self, t: usize) -> String {
        let mut out = String::with_capacity(self.text.len() + 3 * self.marks.len());
        let mut from = 0;
        for &(at, col) in &self.marks {
            out.push_str(&self.text[from..at]);
            push_column(&mut out, col + t as u32);
            from = at;
        }
        out.push_str(&self.text[from..]);
        out
    }
}

impl<'a> Renderer<'a> {
    pub fn new(calc: &'a Calc, place: &'a Placement, inputs: &'a dyn Inputs) -> Self {
        let input_refs = calc
            .inputs
            .iter()
            .map(|def| inputs.cell(&def.key).map(|cell| external(&cell)))
            .collect();
        Renderer {
            calc,
            place,
            inputs,
            input_refs,
            marks: RefCell::new(None),
        }
    }

    /// The formula of a row in period `t` (0-based), without the leading '='.
    pub fn row_formula(&self, expr: &Expr, t: usize) -> Result<String, RenderError> {
        Ok(self.row_template(expr)?.formula(t))
    }

    /// A row's formula for every period, rendered once.
    pub fn row_template(&self, expr: &Expr) -> Result<RowTemplate, RenderError> {
        let mut text = String::new();
        *self.marks.borrow_mut() = Some(Vec::new());
        let rendered = self.render(expr, Some(0), Ctx::Value, &mut text);
        let marks = self.marks.borrow_mut().take().unwrap_or_default();
        rendered?;
        Ok(RowTemplate { text, marks })
    }

    /// A reference to a cell in period column `col` (of the first period while a template
    /// is rendered): relative column, row relative or absolute.
    fn push_relative(&self, out: &mut String, row: u32, col: u32, abs_row: bool) {
        match self.marks.borrow_mut().as_mut() {
            Some(marks) => {
                marks.push((out.len(), col));
                if abs_row {
                    out.push('$');
                }
                push_number(out, row + 1);
            }
            None => push_a1(out, row, col, false, abs_row),
        }
    }

    /// The formula of a scalar cell.
    pub fn scalar_formula(&self, expr: &Expr) -> Result<String, RenderError> {
        let mut out = String::new();
        self.render(expr, None, Ctx::Value, &mut out)?;
        Ok(out)
    }

    fn period_col(&self, t: usize) -> u32 {
        self.place.first_col + t as u32
    }

    fn row_range(&self, r: RowId) -> Result<String, RenderError> {
        let row = *self
            .place
            .row_of
            .get(r.index())
            .ok_or_else(|| RenderError(format!("row {r} has no place")))?;
        let first = self.place.first_col;
        let last = first + self.place.periods as u32 - 1;
        Ok(format!(
            "{}:{}",
            a1(row, first, true, true),
            a1(row, last, true, true)
        ))
    }

    fn year_range(&self) -> String {
        let first = self.place.first_col;
        let last = first + self.place.periods as u32 - 1;
        format!(
            "{}:{}",
            a1(self.place.year_row, first, true, true),
            a1(self.place.year_row, last, true, true)
        )
    }

    fn input(&self, id: InputId) -> Result<&str, RenderError> {
        match self.input_refs.get(id.index()) {
            Some(Some(text)) => Ok(text),
            _ => {
                let addr = self
                    .calc
                    .inputs
                    .get(id.index())
                    .map(|d| format!("{:?}", d.key));
                Err(RenderError(format!(
                    "no cell for input {}",
                    addr.unwrap_or_default()
                )))
            }
        }
    }

    /// Children of arithmetic are parenthesised unless they are atoms.
    fn operand(&self, e: &Expr, t: Option<usize>, out: &mut String) -> Result<(), RenderError> {
        let atomic = match e {
            Expr::Num(v) => !v.is_sign_negative() || v.is_zero(),
            Expr::Input(_)
            | Expr::Scalar(_)
            | Expr::Row(_)
            | Expr::Prev(_)
            | Expr::Year
            | Expr::FirstYear
            | Expr::Solved(_) => true,
            Expr::Add(_)
            | Expr::Sub(..)
            | Expr::Mul(_)
            | Expr::Div(..)
            | Expr::Pow(..)
            | Expr::Neg(_) => false,
            // Functions (and IF-wrapped booleans) are atoms.
            _ => true,
        };
        if atomic {
            self.render(e, t, Ctx::Value, out)
        } else {
            out.push('(');
            self.render(e, t, Ctx::Value, out)?;
            out.push(')');
            Ok(())
        }
    }

    /// Writes `NAME(item, item, …)` for an associative function (MIN, MAX, AND, OR).
    fn list(
        &self,
        name: &str,
        items: &[Expr],
        t: Option<usize>,
        ctx: Ctx,
        out: &mut String,
    ) -> Result<(), RenderError> {
        out.push_str(name);
        out.push('(');
        // Excel takes at most 255 arguments a function: a longer list (the first year of
        // hundreds of facilities) is written as the same function of groups of it, which
        // MIN, MAX, AND and OR give the same value for.
        if items.len() > LIST_ARGUMENTS {
            let size = items.len().div_ceil(LIST_ARGUMENTS).max(LIST_ARGUMENTS);
            for (k, group) in items.chunks(size).enumerate() {
                if k > 0 {
                    out.push(',');
                }
                self.list(name, group, t, ctx, out)?;
            }
            out.push(')');
            return Ok(());
        }
        for (k, item) in items.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            self.render(item, t, ctx, out)?;
        }
        out.push(')');
        Ok(())
    }

    fn period(t: Option<usize>) -> Result<usize, RenderError> {
        t.ok_or_else(|| RenderError("a per-period reference in a scalar".into()))
    }

    fn render(
        &self,
        e: &Expr,
        t: Option<usize>,
        ctx: Ctx,
        out: &mut String,
    ) -> Result<(), RenderError> {
        let is_boolean = matches!(e, Expr::Cmp(..) | Expr::And(_) | Expr::Or(_));
        if is_boolean && ctx == Ctx::Value {
            out.push_str("IF(");
            self.render(e, t, Ctx::Condition, out)?;
            out.push_str(",1,0)");
            return Ok(());
        }
        match e {
            Expr::Num(v) => out.push_str(&number(*v)),
            Expr::Na => out.push_str("\"n/a\""),
            Expr::Input(id) => out.push_str(self.input(*id)?),
            Expr::Scalar(id) => {
                let (r, c) = *self
                    .place
                    .scalar_at
                    .get(id.index())
                    .ok_or_else(|| RenderError(format!("scalar {id} has no place")))?;
                push_a1(out, r, c, true, true);
            }
            Expr::Solved(id) => {
                let (r, c) = *self
                    .place
                    .solved_at
                    .get(*id)
                    .ok_or_else(|| RenderError(format!("solved value {id} has no place")))?;
                out.push_str(&a1(r, c, true, true));
            }
            Expr::Row(r) => {
                let t = Self::period(t)?;
                let row = *self
                    .place
                    .row_of
                    .get(r.index())
                    .ok_or_else(|| RenderError(format!("row {r} has no place")))?;
                self.push_relative(out, row, self.period_col(t), false);
            }
            Expr::Prev(r) => {
                let t = Self::period(t)?;
                let row = *self
                    .place
                    .row_of
                    .get(r.index())
                    .ok_or_else(|| RenderError(format!("row {r} has no place")))?;
                self.push_relative(out, row, self.period_col(t) - 1, false);
            }
            Expr::Lag(r, k) => {
                // The row k periods back by its position along the row: period index
                // (year − first year + 1) − k, or 0 before the first period.
                let index = Expr::Year - Expr::FirstYear + Expr::one() - k.as_ref().clone();
                let lagged = crate::engine::calc::if_(
                    crate::engine::calc::lt(index.clone(), Expr::one()),
                    Expr::zero(),
                    Expr::RowAt(*r, Box::new(index)),
                );
                self.render(&lagged, t, ctx, out)?;
            }
            Expr::Year => {
                let t = Self::period(t)?;
                self.push_relative(out, self.place.year_row, self.period_col(t), true);
            }
            Expr::FirstYear => {
                out.push_str(&a1(self.place.year_row, self.place.first_col, true, true))
            }
            Expr::Neg(a) => {
                out.push('-');
                self.operand(a, t, out)?;
            }
            Expr::Add(items) => {
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        out.push('+');
                    }
                    self.operand(item, t, out)?;
                }
            }
            Expr::Sub(a, b) => {
                self.operand(a, t, out)?;
                out.push('-');
                self.operand(b, t, out)?;
            }
            Expr::Mul(items) => {
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        out.push('*');
                    }
                    self.operand(item, t, out)?;
                }
            }
            Expr::Div(a, b) => {
                self.operand(a, t, out)?;
                out.push('/');
                self.operand(b, t, out)?;
            }
            Expr::Pow(a, b) => {
                self.operand(a, t, out)?;
                out.push('^');
                self.operand(b, t, out)?;
            }
            Expr::Sqrt(a) => {
                self.list("SQRT", std::slice::from_ref(a.as_ref()), t, Ctx::Value, out)?
            }
            Expr::Min(items) => self.list("MIN", items, t, Ctx::Value, out)?,
            Expr::Max(items) => self.list("MAX", items, t, Ctx::Value, out)?,
            Expr::Abs(a) => {
                self.list("ABS", std::slice::from_ref(a.as_ref()), t, Ctx::Value, out)?
            }
            Expr::Round(a, digits) => {
                out.push_str("ROUND(");
                self.render(a, t, Ctx::Value, out)?;
                out.push(',');
                self.render(digits, t, Ctx::Value, out)?;
                out.push(')');
            }
            Expr::If(c, a, b) => {
                out.push_str("IF(");
                self.render(c, t, Ctx::Condition, out)?;
                out.push(',');
                self.render(a, t, Ctx::Value, out)?;
                out.push(',');
                self.render(b, t, Ctx::Value, out)?;
                out.push(')');
            }
            Expr::Cmp(op, a, b) => {
                self.operand(a, t, out)?;
                out.push_str(op.excel());
                self.operand(b, t, out)?;
            }
            Expr::And(items) => self.list("AND", items, t, Ctx::Condition, out)?,
            Expr::Or(items) => self.list("OR", items, t, Ctx::Condition, out)?,
            Expr::Choose(index, items) => {
                // The engine clamps the index to 1..=n; so does the formula.
                let _ = write!(out, "CHOOSE(MAX(1,MIN({},INT(", items.len());
                self.render(index, t, Ctx::Value, out)?;
                out.push_str("))),");
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    self.render(item, t, Ctx::Value, out)?;
                }
                out.push(')');
            }
            Expr::Lookup(s, key) => {
                let series = self
                    .calc
                    .series
                    .get(*s)
                    .ok_or_else(|| RenderError(format!("series {s} unknown")))?;
                let (first, last) = match (series.points.first(), series.points.last()) {
                    (Some(f), Some(l)) => (*f, *l),
                    _ => return Err(RenderError(format!("series {s} is empty"))),
                };
                let cell = |id: InputId| -> Result<CellRef, RenderError> {
                    let def = &self.calc.inputs[id];
                    self.inputs
                        .cell(&def.key)
                        .ok_or_else(|| RenderError(format!("no cell for input {:?}", def.key)))
                };
                let (a, b) = (cell(first)?, cell(last)?);
                let sheet = quote_sheet(&a.sheet);
                let values = format!(
                    "{sheet}!{}:{}",
                    a1(a.row, a.col, true, true),
                    a1(b.row, b.col, true, true)
                );
                // Canonical time series keep their years in the header row (row 1).
                let years = format!(
                    "{sheet}!{}:{}",
                    a1(0, a.col, true, true),
                    a1(0, b.col, true, true)
                );
                out.push_str("INDEX(");
                out.push_str(&values);
                out.push_str(",MATCH(MAX(");
                self.render(key, t, Ctx::Value, out)?;
                let _ = write!(out, ",{}),{years},1))", series.first_year);
            }
            Expr::RowSum(r) => {
                let _ = write!(out, "SUM({})", self.row_range(*r)?);
            }
            Expr::RowMin(r) => {
                let _ = write!(out, "MIN({})", self.row_range(*r)?);
            }
            Expr::RowMax(r) => {
                let _ = write!(out, "MAX({})", self.row_range(*r)?);
            }
            Expr::RowSumIf(r, positive) => {
                let _ = write!(
                    out,
                    "SUMIF({},\"{}0\")",
                    self.row_range(*r)?,
                    if *positive { ">" } else { "<" }
                );
            }
            Expr::RowAt(r, index) => {
                let _ = write!(
                    out,
                    "INDEX({},MAX(1,MIN({},INT(",
                    self.row_range(*r)?,
                    self.place.periods
                );
                self.render(index, t, Ctx::Value, out)?;
                out.push_str("))))");
            }
            Expr::RowMinWhere(r, f) => {
                let (vals, flags) = (self.row_range(*r)?, self.row_range(*f)?);
                let _ = write!(
                    out,
                    "IF(COUNTIF({flags},1)=0,\"n/a\",MINIFS({vals},{flags},1))"
                );
            }
            Expr::RowAvgWhere(r, f) => {
                let (vals, flags) = (self.row_range(*r)?, self.row_range(*f)?);
                let _ = write!(
                    out,
                    "IF(COUNTIF({flags},1)=0,\"n/a\",AVERAGEIF({flags},1,{vals}))"
                );
            }
            Expr::Npv(rate, r) => {
                out.push_str("NPV(");
                self.render(rate, t, Ctx::Value, out)?;
                let _ = write!(out, ",{})", self.row_range(*r)?);
            }
            Expr::SumProduct(a, b) => {
                let _ = write!(
                    out,
                    "SUMPRODUCT({},{})",
                    self.row_range(*a)?,
                    self.row_range(*b)?
                );
            }
            Expr::Irr(r, guess) => {
                let _ = write!(out, "IFERROR(IRR({},", self.row_range(*r)?);
                self.render(guess, t, Ctx::Value, out)?;
                out.push_str("),\"n/a\")");
            }
            Expr::Mirr(r, f, re) => {
                let _ = write!(out, "IFERROR(MIRR({},", self.row_range(*r)?);
                self.render(f, t, Ctx::Value, out)?;
                out.push(',');
                self.render(re, t, Ctx::Value, out)?;
                out.push_str("),\"n/a\")");
            }
            Expr::FirstYearWhere(r) => {
                let _ = write!(
                    out,
                    "IFERROR(INDEX({},MATCH(1,{},0)),\"n/a\")",
                    self.year_range(),
                    self.row_range(*r)?
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::calc::{CmpOp, Unit, and, ge, if_, lt, max2};
    use crate::model::key::{InputKey, TrancheField};
    use rust_decimal_macros::dec;

    struct Fixed;
    impl Inputs for Fixed {
        fn cell(&self, key: &Key) -> Option<CellRef> {
            match key.input {
                InputKey::Tranche(record, _) => {
                    Some(CellRef::new("Financing", record as u32 + 1, 4))
                }
                InputKey::PriceDeck { product, year } => Some(CellRef::new(
                    "Prices",
                    product as u32 + 1,
                    (year - 2025) as u32 + 3,
                )),
                _ => None,
            }
        }
    }

    fn setup() -> (Calc, Placement) {
        let mut c = Calc::new(2030, 3);
        c.section("Test");
        let rate = c.input(
            dec!(0.1),
            Key::of(InputKey::Tranche(2, TrancheField::InterestRate)),
        );
        let bal = c.reserve("Balance", Unit::Money);
        let int = c.row("Interest", Unit::Money, rate * Expr::Prev(bal));
        c.place(bal, Expr::Prev(bal) + Expr::num(100) - Expr::Row(int));
        c.row(
            "Flag",
            Unit::Flag,
            and(vec![
                ge(Expr::Year, Expr::num(2031)),
                lt(Expr::Year, Expr::num(2033)),
            ]),
        );
        c.row(
            "Guarded",
            Unit::Money,
            if_(
                Expr::Cmp(CmpOp::Gt, Box::new(Expr::Row(int)), Box::new(Expr::num(0))),
                max2(Expr::Row(int), Expr::num(dec!(-2.5))),
                -Expr::Row(bal),
            ),
        );
        let place = Placement {
            sheet: "Calc Base".into(),
            row_of: vec![11, 10, 12, 13],
            scalar_at: vec![],
            solved_at: vec![],
            first_col: 4,
            year_row: 1,
            periods: 3,
        };
        (c, place)
    }

    #[test]
    fn rows_render_as_one_formula_per_row_shifting_with_the_column() {
        let (c, place) = setup();
        let r = Renderer::new(&c, &place, &Fixed);
        let cases = [
            (1, 0, "'Financing'!$E$4*D12"),
            (1, 2, "'Financing'!$E$4*F12"),
            (0, 1, "(E12+100)-F11"),
            (2, 0, "IF(AND(E$2>=2031,E$2<2033),1,0)"),
            (3, 0, "IF(E11>0,MAX(E11,(-2.5)),-E12)"),
        ];
        for (row, t, want) in cases {
            let got = r.row_formula(&c.rows[row].expr, t).expect("renders");
            assert_eq!(got, want, "row {row} period {t}");
        }
    }

    /// Excel takes at most 255 arguments a function: a MIN of 300 numbers is written as a
    /// MIN of groups of at most 128, and a MAX of 20,000 as groups of groups.
    #[test]
    fn a_long_min_or_max_is_written_in_groups_of_at_most_128_arguments() {
        let (c, place) = setup();
        let r = Renderer::new(&c, &place, &Fixed);
        let items = |n: usize| (1..=n).map(|k| Expr::num(Decimal::from(k))).collect();
        let min = r.scalar_formula(&Expr::Min(items(300))).expect("renders");
        assert!(min.starts_with("MIN(MIN(1,2,"), "{min}");
        assert!(min.contains(",128),MIN(129,"), "{min}");
        assert!(
            min.contains(",256),MIN(257,") && min.ends_with(",300))"),
            "{min}"
        );
        assert_eq!(crate::excel::limits::most_arguments(&min), 128);
        let max = r
            .scalar_formula(&Expr::Max(items(20_000)))
            .expect("renders");
        assert!(crate::excel::limits::most_arguments(&max) <= 128);
        let numbers: Vec<usize> = max
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(
            numbers,
            (1..=20_000).collect::<Vec<_>>(),
            "every item, in order"
        );
        let short = r.scalar_formula(&Expr::Min(items(3))).expect("renders");
        assert_eq!(short, "MIN(1,2,3)");
    }

    #[test]
    fn a_row_template_fills_every_period_across_the_z_to_aa_boundary() {
        let (c, mut place) = setup();
        place.first_col = 25; // Z
        let r = Renderer::new(&c, &place, &Fixed);
        let balance = r.row_template(&c.rows[0].expr).expect("renders");
        let flag = r.row_template(&c.rows[2].expr).expect("renders");
        let got: Vec<String> = (0..3).map(|t| balance.formula(t)).collect();
        assert_eq!(got, ["(Y12+100)-Z11", "(Z12+100)-AA11", "(AA12+100)-AB11"]);
        assert_eq!(flag.formula(2), "IF(AND(AB$2>=2031,AB$2<2033),1,0)");
        // A per-period reference in a scalar is still refused, and leaves no template behind.
        assert!(r.scalar_formula(&c.rows[0].expr).is_err());
        assert_eq!(r.row_formula(&c.rows[0].expr, 1).expect("renders"), got[1]);
    }

    #[test]
    fn a_lag_indexes_its_row_by_the_period_less_the_lag() {
        let (c, place) = setup();
        let r = Renderer::new(&c, &place, &Fixed);
        let lag = Expr::Lag(RowId::new(0), Box::new(Expr::num(2)));
        assert_eq!(
            r.row_formula(&lag, 2).expect("renders"),
            "IF((((G$2-$E$2)+1)-2)<1,0,INDEX($E$12:$G$12,MAX(1,MIN(3,INT(((G$2-$E$2)+1)-2)))))"
        );
    }

    #[test]
    fn lookups_use_index_match_over_the_inputs_own_years() {
        let mut c = Calc::new(2030, 2);
        c.section("Test");
        let ids: Vec<InputId> = (2028..=2031)
            .map(|y| {
                match c.input(
                    dec!(1),
                    Key::of(InputKey::PriceDeck {
                        product: 0,
                        year: y,
                    }),
                ) {
                    Expr::Input(id) => id,
                    _ => unreachable!(),
                }
            })
            .collect();
        let s = c.add_series(2028, ids);
        c.row("Deck", Unit::Price, Expr::Lookup(s, Box::new(Expr::Year)));
        let place = Placement {
            sheet: "S".into(),
            row_of: vec![5],
            scalar_at: vec![],
            solved_at: vec![],
            first_col: 4,
            year_row: 1,
            periods: 2,
        };
        let r = Renderer::new(&c, &place, &Fixed);
        assert_eq!(
            r.row_formula(&c.rows[0].expr, 1).expect("renders"),
            "INDEX('Prices'!$G$2:$J$2,MATCH(MAX(F$2,2028),'Prices'!$G$1:$J$1,1))"
        );
    }
}
