//! The calculation as data: rows of per-period expressions over inputs, scalars and other
//! rows, which the engine evaluates in exact decimals and the results writer renders as
//! Excel formulas. One description serves both, so the workbook's formulas and the engine's
//! numbers cannot drift apart.
//!
//! FAST rules hold by construction: a row has one expression for every period (time runs
//! across the columns); it may refer to inputs, scalars, rows above it in the same period,
//! and any row in the previous period (`Prev`, 0 before the first period).
//!
//! Owns: expression types, the evaluator. Must not touch: files, workbooks, the clock.

use std::collections::HashMap;
use std::ops::{Add, Mul, Neg, Sub};

use rust_decimal::Decimal;
use rust_decimal::prelude::MathematicalOps;

use crate::finance;
use crate::model::key::Key;

/// Differences this small (in currency units or ratios) count as zero in guards, so that a
/// recomputation in floating point takes the same branch as the exact engine.
pub const EPS: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// Declares an id newtype: an index into one table of the calculation, which cannot be
/// passed where another table's id is expected. Indexes vectors and slices directly.
macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(usize);

        impl $name {
            /// The id of the `index`-th entry of its table.
            pub fn new(index: usize) -> Self {
                $name(index)
            }

            /// The position in its table.
            pub fn index(self) -> usize {
                self.0
            }
        }

        impl<T> std::ops::Index<$name> for [T] {
            type Output = T;
            fn index(&self, id: $name) -> &T {
                &self[id.index()]
            }
        }

        impl<T> std::ops::IndexMut<$name> for [T] {
            fn index_mut(&mut self, id: $name) -> &mut T {
                &mut self[id.index()]
            }
        }

        impl<T> std::ops::Index<$name> for Vec<T> {
            type Output = T;
            fn index(&self, id: $name) -> &T {
                &self[id.index()]
            }
        }

        impl<T> std::ops::IndexMut<$name> for Vec<T> {
            fn index_mut(&mut self, id: $name) -> &mut T {
                &mut self[id.index()]
            }
        }

        /// Where the id's entries start in a row-major table of `width` columns (a row's
        /// first period among `Values::rows`).
        impl std::ops::Mul<usize> for $name {
            type Output = usize;
            fn mul(self, width: usize) -> usize {
                self.index() * width
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// An input of `Calc::inputs`.
    InputId
);
id!(
    /// A scalar of `Calc::scalars`.
    ScalarId
);
id!(
    /// A row of `Calc::rows`.
    RowId
);
pub type SeriesId = usize;

/// An input value and its key in the model (where it is typed is the workbook's business).
#[derive(Debug, Clone)]
pub struct InputDef {
    pub value: Decimal,
    pub key: Key,
}

/// A time series input (a price deck, FX rates, a rate schedule): consecutive years.
#[derive(Debug, Clone)]
pub struct SeriesDef {
    pub first_year: i32,
    /// One input per year from `first_year`.
    pub points: Vec<InputId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn excel(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
        }
    }

    fn holds(self, a: Decimal, b: Decimal) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }
}

/// An expression, evaluated per period for rows and once for scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(Decimal),
    /// No value ("n/a"): a ratio with nothing to divide by.
    Na,
    Input(InputId),
    Scalar(ScalarId),
    /// A row's value in the same period (the row must come earlier).
    Row(RowId),
    /// A row's value in the previous period; 0 in the first period.
    Prev(RowId),
    /// A row's value a whole number k ≥ 1 of periods earlier (the expression); 0 before the
    /// first period. Straight-line depreciation over a life of k years needs the capital that
    /// started k years ago.
    Lag(RowId, Box<Expr>),
    /// The period's label year.
    Year,
    /// The first period's label year.
    FirstYear,
    /// A value the engine solved (a sculpted repayment profile), shown as a value.
    Solved(usize),
    /// Square root (the mid-year discounting factor).
    Sqrt(Box<Expr>),
    Neg(Box<Expr>),
    Add(Vec<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Vec<Expr>),
    /// Division; a zero divisor is an error (guard with `If`).
    Div(Box<Expr>, Box<Expr>),
    /// Power with a whole-number exponent.
    Pow(Box<Expr>, Box<Expr>),
    Min(Vec<Expr>),
    Max(Vec<Expr>),
    Abs(Box<Expr>),
    /// Excel's ROUND(value, digits): half away from zero, to a whole number of decimal
    /// places (0 to `MAX_LEDGER_PRECISION`). How ledger amounts are booked.
    Round(Box<Expr>, Box<Expr>),
    /// Lazy: only the branch taken is evaluated. A condition is true when non-zero.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// Excel's CHOOSE with the index clamped to 1..=n.
    Choose(Box<Expr>, Vec<Expr>),
    /// The series' value at the last year ≤ the key (the first year's value before it).
    Lookup(SeriesId, Box<Expr>),
    // Aggregates over whole rows, for scalars evaluated after the periods.
    RowSum(RowId),
    RowMin(RowId),
    RowMax(RowId),
    /// Sum of the row's values that are positive (`SumIfPos(true)`) or negative.
    RowSumIf(RowId, bool),
    /// The row's value at a 1-based period index (clamped to the horizon).
    RowAt(RowId, Box<Expr>),
    /// The smallest value of a row over the periods where a flag row is 1 (none if never).
    RowMinWhere(RowId, RowId),
    /// The average of a row over the periods where a flag row is 1 (none if never).
    RowAvgWhere(RowId, RowId),
    /// Excel NPV(rate, row): the first period is discounted one period.
    Npv(Box<Expr>, RowId),
    SumProduct(RowId, RowId),
    /// Excel IRR(row, guess); no value when there is no rate.
    Irr(RowId, Box<Expr>),
    /// Excel MIRR(row, finance rate, reinvestment rate).
    Mirr(RowId, Box<Expr>, Box<Expr>),
    /// The label year of the first period whose value is 1; no value when none is.
    FirstYearWhere(RowId),
}

impl Default for Expr {
    fn default() -> Self {
        Expr::zero()
    }
}

impl Expr {
    pub fn num(v: impl Into<Decimal>) -> Expr {
        Expr::Num(v.into())
    }

    pub fn zero() -> Expr {
        Expr::Num(Decimal::ZERO)
    }

    pub fn one() -> Expr {
        Expr::Num(Decimal::ONE)
    }

    /// True when this is the literal 0 (lets builders drop empty terms).
    pub fn is_zero(&self) -> bool {
        matches!(self, Expr::Num(v) if v.is_zero())
    }

    pub fn is_one(&self) -> bool {
        matches!(self, Expr::Num(v) if *v == Decimal::ONE)
    }
}

pub fn div(a: Expr, b: Expr) -> Expr {
    if b.is_one() {
        return a;
    }
    Expr::Div(Box::new(a), Box::new(b))
}

/// a / b, or `otherwise` when |b| ≤ EPS.
pub fn safe_div(a: Expr, b: Expr, otherwise: Expr) -> Expr {
    if_(le(abs(b.clone()), Expr::Num(EPS)), otherwise, div(a, b))
}

pub fn pow(base: Expr, exp: Expr) -> Expr {
    if exp.is_zero() {
        return Expr::one();
    }
    if exp.is_one() {
        return base;
    }
    Expr::Pow(Box::new(base), Box::new(exp))
}

pub fn min(items: Vec<Expr>) -> Expr {
    if items.len() == 1 {
        return items.into_iter().next().unwrap_or_else(Expr::zero);
    }
    Expr::Min(items)
}

pub fn max(items: Vec<Expr>) -> Expr {
    if items.len() == 1 {
        return items.into_iter().next().unwrap_or_else(Expr::zero);
    }
    Expr::Max(items)
}

pub fn min2(a: Expr, b: Expr) -> Expr {
    Expr::Min(vec![a, b])
}

pub fn max2(a: Expr, b: Expr) -> Expr {
    Expr::Max(vec![a, b])
}

/// max(0, a)
pub fn pos(a: Expr) -> Expr {
    if a.is_zero() {
        return a;
    }
    Expr::Max(vec![Expr::zero(), a])
}

pub fn abs(a: Expr) -> Expr {
    Expr::Abs(Box::new(a))
}

/// Excel's ROUND(a, digits), half away from zero.
pub fn round(a: Expr, digits: Expr) -> Expr {
    Expr::Round(Box::new(a), Box::new(digits))
}

pub fn if_(cond: Expr, then: Expr, otherwise: Expr) -> Expr {
    match &cond {
        Expr::Num(v) if v.is_zero() => otherwise,
        Expr::Num(_) => then,
        _ if then == otherwise => then,
        _ => Expr::If(Box::new(cond), Box::new(then), Box::new(otherwise)),
    }
}

fn cmp(op: CmpOp, a: Expr, b: Expr) -> Expr {
    Expr::Cmp(op, Box::new(a), Box::new(b))
}

pub fn lt(a: Expr, b: Expr) -> Expr {
    cmp(CmpOp::Lt, a, b)
}
pub fn le(a: Expr, b: Expr) -> Expr {
    cmp(CmpOp::Le, a, b)
}
pub fn gt(a: Expr, b: Expr) -> Expr {
    cmp(CmpOp::Gt, a, b)
}
pub fn ge(a: Expr, b: Expr) -> Expr {
    cmp(CmpOp::Ge, a, b)
}
pub fn eq(a: Expr, b: Expr) -> Expr {
    cmp(CmpOp::Eq, a, b)
}

pub fn and(items: Vec<Expr>) -> Expr {
    let items: Vec<Expr> = items.into_iter().filter(|e| !e.is_one()).collect();
    match items.len() {
        0 => Expr::one(),
        1 => items.into_iter().next().unwrap_or_else(Expr::one),
        _ if items.iter().any(Expr::is_zero) => Expr::zero(),
        _ => Expr::And(items),
    }
}

pub fn or(items: Vec<Expr>) -> Expr {
    let items: Vec<Expr> = items.into_iter().filter(|e| !e.is_zero()).collect();
    match items.len() {
        0 => Expr::zero(),
        1 => items.into_iter().next().unwrap_or_else(Expr::zero),
        _ => Expr::Or(items),
    }
}

/// The sum of several terms, dropping literal zeros.
pub fn sum(items: Vec<Expr>) -> Expr {
    let mut items: Vec<Expr> = items.into_iter().filter(|e| !e.is_zero()).collect();
    match items.len() {
        0 => Expr::zero(),
        1 => items.pop().unwrap_or_else(Expr::zero),
        _ => Expr::Add(items),
    }
}

impl Add for Expr {
    type Output = Expr;
    fn add(self, rhs: Expr) -> Expr {
        if rhs.is_zero() {
            return self;
        }
        if self.is_zero() {
            return rhs;
        }
        match self {
            Expr::Add(mut items) => {
                items.push(rhs);
                Expr::Add(items)
            }
            other => Expr::Add(vec![other, rhs]),
        }
    }
}

impl Sub for Expr {
    type Output = Expr;
    fn sub(self, rhs: Expr) -> Expr {
        if rhs.is_zero() {
            return self;
        }
        if self.is_zero() {
            return -rhs;
        }
        Expr::Sub(Box::new(self), Box::new(rhs))
    }
}

impl Mul for Expr {
    type Output = Expr;
    fn mul(self, rhs: Expr) -> Expr {
        if self.is_zero() || rhs.is_zero() {
            return Expr::zero();
        }
        if self.is_one() {
            return rhs;
        }
        if rhs.is_one() {
            return self;
        }
        match self {
            Expr::Mul(mut items) => {
                items.push(rhs);
                Expr::Mul(items)
            }
            other => Expr::Mul(vec![other, rhs]),
        }
    }
}

impl Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        match self {
            Expr::Num(v) => Expr::Num(-v),
            Expr::Neg(inner) => *inner,
            other => Expr::Neg(Box::new(other)),
        }
    }
}

/// What a row or scalar measures, for number formats and the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Money,
    Tonnes,
    /// Price or cost per tonne in the deal currency.
    PerTonne,
    /// A price in a product's own unit and currency.
    Price,
    Percent,
    /// A ratio such as a DSCR or a multiplier.
    Ratio,
    /// 1 or 0.
    Flag,
    Year,
    Count,
}

/// Who pays whom: a row that is a cash flow of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTag {
    pub payer: usize,
    pub payee: usize,
    pub kind: FlowKind,
}

/// The kinds of flow, so that each party's receipts and payments can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    Sales,
    FeedPurchase,
    Capex,
    Opex,
    Exploration,
    Environmental,
    Rehabilitation,
    Royalty,
    Tax,
    TaxCredit,
    FloorSupport,
    UpsideShare,
    Equity,
    Distribution,
    Grant,
    Disbursement,
    Interest,
    Principal,
    Fees,
    GuaranteeFee,
    GuaranteeCall,
    GuaranteeRecovery,
    FundingGap,
}

impl FlowKind {
    pub fn label(self) -> &'static str {
        match self {
            FlowKind::Sales => "sales",
            FlowKind::FeedPurchase => "feed purchase",
            FlowKind::Capex => "capex",
            FlowKind::Opex => "opex",
            FlowKind::Exploration => "exploration",
            FlowKind::Environmental => "environmental",
            FlowKind::Rehabilitation => "rehabilitation",
            FlowKind::Royalty => "royalty",
            FlowKind::Tax => "tax",
            FlowKind::TaxCredit => "tax credit",
            FlowKind::FloorSupport => "floor support",
            FlowKind::UpsideShare => "upside share",
            FlowKind::Equity => "equity",
            FlowKind::Distribution => "distribution",
            FlowKind::Grant => "grant",
            FlowKind::Disbursement => "loan disbursement",
            FlowKind::Interest => "interest",
            FlowKind::Principal => "principal",
            FlowKind::Fees => "fees",
            FlowKind::GuaranteeFee => "guarantee fee",
            FlowKind::GuaranteeCall => "guarantee call",
            FlowKind::GuaranteeRecovery => "guarantee recovery",
            FlowKind::FundingGap => "funding gap",
        }
    }
}

/// A per-period line of the calculation.
#[derive(Debug, Clone)]
pub struct RowDef {
    pub label: String,
    pub unit: Unit,
    pub section: usize,
    pub expr: Expr,
    pub ledger: Option<LedgerTag>,
    /// Values the engine solved rather than a formula (written as values, styled apart).
    pub solved: bool,
}

/// When a scalar is evaluated: before the periods (from inputs) or after (from rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pre,
    Post,
}

#[derive(Debug, Clone)]
pub struct ScalarDef {
    pub label: String,
    pub unit: Unit,
    pub section: usize,
    pub expr: Expr,
    pub stage: Stage,
}

/// A value the engine solved, with what it is.
#[derive(Debug, Clone)]
pub struct SolvedDef {
    pub label: String,
    pub value: Decimal,
}

/// A titled group of rows and scalars (operations, fiscal, funding…).
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
}

/// One scenario's calculation.
#[derive(Debug, Clone, Default)]
pub struct Calc {
    pub first_year: i32,
    pub periods: usize,
    pub inputs: Vec<InputDef>,
    pub series: Vec<SeriesDef>,
    pub sections: Vec<Section>,
    pub scalars: Vec<ScalarDef>,
    pub rows: Vec<RowDef>,
    pub solved: Vec<SolvedDef>,
    /// The order rows are evaluated and shown in (ids are creation order; a row can be
    /// reserved early so that others refer to its previous period, and placed later).
    pub order: Vec<RowId>,
    placed: Vec<bool>,
    input_index: HashMap<Key, InputId>,
}

/// The rows (in evaluation order) and post scalars of one phase of evaluation.
#[derive(Debug, Clone, Default)]
pub struct PhaseStep {
    pub rows: Vec<RowId>,
    pub scalars: Vec<ScalarId>,
}

/// The phases of evaluation (see `Calc::phases`).
#[derive(Debug, Clone, Default)]
pub struct Phases {
    pub steps: Vec<PhaseStep>,
}

/// An evaluation failure: which line, which year, what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub line: String,
    pub year: Option<i32>,
    pub problem: &'static str,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.year {
            Some(y) => write!(f, "{} in '{}' in {}", self.problem, self.line, y),
            None => write!(f, "{} in '{}'", self.problem, self.line),
        }
    }
}

impl std::error::Error for EvalError {}

/// The evaluated numbers of a calculation.
#[derive(Debug, Clone)]
pub struct Values {
    pub periods: usize,
    /// Row-major: row r, period t at `r * periods + t`.
    pub rows: Vec<Decimal>,
    /// None where a scalar has no value (an IRR with no root, no payback year).
    pub scalars: Vec<Option<Decimal>>,
}

impl Values {
    pub fn row(&self, r: RowId) -> &[Decimal] {
        let start = r * self.periods;
        &self.rows[start..start + self.periods]
    }

    pub fn at(&self, r: RowId, t: usize) -> Decimal {
        self.rows[r * self.periods + t]
    }

    pub fn scalar(&self, s: ScalarId) -> Option<Decimal> {
        self.scalars.get(s.index()).copied().flatten()
    }
}

impl Calc {
    pub fn new(first_year: i32, periods: usize) -> Self {
        Calc {
            first_year,
            periods,
            ..Default::default()
        }
    }

    pub fn year_of(&self, t: usize) -> i32 {
        self.first_year + t as i32
    }

    /// Registers an input (once per key) and returns its expression.
    pub fn input(&mut self, value: Decimal, key: Key) -> Expr {
        if let Some(&id) = self.input_index.get(&key) {
            return Expr::Input(id);
        }
        let id = InputId::new(self.inputs.len());
        self.inputs.push(InputDef { value, key });
        self.input_index.insert(key, id);
        Expr::Input(id)
    }

    pub fn solved(&mut self, label: impl Into<String>, value: Decimal) -> Expr {
        self.solved.push(SolvedDef {
            label: label.into(),
            value,
        });
        Expr::Solved(self.solved.len() - 1)
    }

    pub fn add_series(&mut self, first_year: i32, points: Vec<InputId>) -> SeriesId {
        self.series.push(SeriesDef { first_year, points });
        self.series.len() - 1
    }

    pub fn section(&mut self, title: impl Into<String>) -> usize {
        self.sections.push(Section {
            title: title.into(),
        });
        self.sections.len() - 1
    }

    fn current_section(&self) -> usize {
        self.sections.len().saturating_sub(1)
    }

    pub fn row(&mut self, label: impl Into<String>, unit: Unit, expr: Expr) -> RowId {
        let r = self.reserve(label, unit);
        self.place(r, expr);
        r
    }

    /// Creates a row that later rows' `Prev` can refer to before its formula is known.
    pub fn reserve(&mut self, label: impl Into<String>, unit: Unit) -> RowId {
        let section = self.current_section();
        self.rows.push(RowDef {
            label: label.into(),
            unit,
            section,
            expr: Expr::zero(),
            ledger: None,
            solved: false,
        });
        self.placed.push(false);
        RowId::new(self.rows.len() - 1)
    }

    /// Gives a reserved row its formula and its place: after every row placed so far, in
    /// the current section.
    pub fn place(&mut self, r: RowId, expr: Expr) {
        let section = self.current_section();
        let def = &mut self.rows[r];
        def.expr = expr;
        def.section = section;
        if !self.placed[r] {
            self.placed[r] = true;
            self.order.push(r);
        }
    }

    /// A row that is a cash flow from `payer` to `payee`.
    pub fn flow(
        &mut self,
        label: impl Into<String>,
        expr: Expr,
        payer: usize,
        payee: usize,
        kind: FlowKind,
    ) -> RowId {
        let r = self.row(label, Unit::Money, expr);
        self.rows[r].ledger = Some(LedgerTag { payer, payee, kind });
        r
    }

    pub fn scalar(
        &mut self,
        label: impl Into<String>,
        unit: Unit,
        expr: Expr,
        stage: Stage,
    ) -> ScalarId {
        let section = self.current_section();
        self.scalars.push(ScalarDef {
            label: label.into(),
            unit,
            section,
            expr,
            stage,
        });
        ScalarId::new(self.scalars.len() - 1)
    }

    /// A scalar summing `terms`: when there are more than `CHAIN_LEAVES` leaves, through a
    /// chain of partial sums (each the one before plus its share), created first so that
    /// each is evaluated before it is read, and added in the same order.
    pub fn sum_scalar(
        &mut self,
        label: impl Into<String>,
        unit: Unit,
        terms: Vec<Expr>,
        stage: Stage,
    ) -> ScalarId {
        let label = label.into();
        let mut link: Option<Expr> = None;
        let mut segment: Vec<Expr> = Vec::new();
        let mut weight = 0;
        let mut part = 0;
        let mut terms = terms.into_iter().peekable();
        while let Some(term) = terms.next() {
            let w = leaves(&term);
            if weight > 0 && weight + w > CHAIN_LEAVES && terms.peek().is_some() {
                part += 1;
                let mut body: Vec<Expr> = link.take().into_iter().collect();
                body.append(&mut segment);
                let s = self.scalar(format!("{label} (part {part})"), unit, sum(body), stage);
                link = Some(Expr::Scalar(s));
                weight = 1;
            }
            weight += w;
            segment.push(term);
        }
        let mut body: Vec<Expr> = link.into_iter().collect();
        body.append(&mut segment);
        self.scalar(label, unit, sum(body), stage)
    }

    /// Evaluates the whole calculation: pre scalars, every period, then post scalars.
    pub fn evaluate(&self) -> Result<Values, EvalError> {
        self.evaluate_with(&EvalOptions::default())
    }

    /// The input values, for callers that evaluate with some of them changed.
    pub fn input_values(&self) -> Vec<Decimal> {
        self.inputs.iter().map(|i| i.value).collect()
    }

    /// Evaluates with other input values (a Monte Carlo path's prices) and, optionally,
    /// without the rate solvers (IRR, MIRR), which only some callers need.
    pub fn evaluate_with(&self, options: &EvalOptions<'_>) -> Result<Values, EvalError> {
        let own;
        let inputs = match options.inputs {
            Some(values) if values.len() == self.inputs.len() => values,
            Some(_) => {
                return Err(EvalError {
                    line: "inputs".into(),
                    year: None,
                    problem: INPUT_COUNT,
                });
            }
            None => {
                own = self.input_values();
                &own
            }
        };
        if let Some(r) = self.placed.iter().position(|p| !p) {
            return Err(EvalError {
                line: self.rows[r].label.clone(),
                year: None,
                problem: UNPLACED,
            });
        }
        let position = self.positions();
        let mut values = Values {
            periods: self.periods,
            rows: vec![Decimal::ZERO; self.rows.len() * self.periods],
            scalars: vec![None; self.scalars.len()],
        };
        for (s, def) in self.scalars.iter().enumerate() {
            let s = ScalarId::new(s);
            if def.stage == Stage::Pre {
                let ctx = self.ctx(&values, None, None, &position, inputs, options.skip_rates);
                values.scalars[s] = ctx.eval_opt(&def.expr).map_err(|p| self.err_scalar(s, p))?;
            }
        }
        for phase in &self.phases()?.steps {
            self.evaluate_phase(phase, &mut values, &position, inputs, options.skip_rates)?;
        }
        Ok(values)
    }

    /// One phase of a whole evaluation: its rows over every period, then its scalars.
    fn evaluate_phase(
        &self,
        phase: &PhaseStep,
        values: &mut Values,
        position: &[usize],
        inputs: &[Decimal],
        skip_rates: bool,
    ) -> Result<(), EvalError> {
        let n = self.periods;
        for t in 0..n {
            for &r in &phase.rows {
                let def = &self.rows[r];
                let ctx = self.ctx(values, Some(t), Some(r), position, inputs, skip_rates);
                let v = ctx.eval(&def.expr).map_err(|p| EvalError {
                    line: def.label.clone(),
                    year: Some(self.year_of(t)),
                    problem: p,
                })?;
                values.rows[r * n + t] = v;
            }
        }
        for &s in &phase.scalars {
            let ctx = self.ctx(values, None, None, position, inputs, skip_rates);
            values.scalars[s] = ctx
                .eval_opt(&self.scalars[s].expr)
                .map_err(|p| self.err_scalar(s, p))?;
        }
        Ok(())
    }

    /// The order of evaluation in phases: each phase evaluates its rows over every period,
    /// then the post scalars that read nothing later. A row that reads a post scalar (a loss
    /// guarantee paying the loss given default, a whole-life measure, in the default year)
    /// comes in a later phase than every row that scalar reads. Where no row reads a post
    /// scalar there is one phase: every row, then every post scalar.
    pub fn phases(&self) -> Result<Phases, EvalError> {
        let mut row_phase = vec![0usize; self.rows.len()];
        let mut scalar_phase = vec![0usize; self.scalars.len()];
        let post = |s: ScalarId| self.scalars[s].stage == Stage::Post;
        let limit = self.scalars.len() + 1;
        loop {
            let mut changed = false;
            for (s, def) in self.scalars.iter().enumerate() {
                let s = ScalarId::new(s);
                if !post(s) {
                    continue;
                }
                let mut p = 0;
                def.expr.visit_refs(&mut |r| match r {
                    Ref::Row(q) => p = p.max(row_phase[q]),
                    Ref::Scalar(q) if post(q) => p = p.max(scalar_phase[q]),
                    _ => {}
                });
                if p > scalar_phase[s] {
                    scalar_phase[s] = p;
                    changed = true;
                }
            }
            for (r, def) in self.rows.iter().enumerate() {
                let mut p = 0;
                def.expr.visit_refs(&mut |x| match x {
                    Ref::Row(q) => p = p.max(row_phase[q]),
                    Ref::Scalar(q) if post(q) => p = p.max(scalar_phase[q] + 1),
                    _ => {}
                });
                if p > row_phase[r] {
                    if p > limit {
                        return Err(EvalError {
                            line: def.label.clone(),
                            year: None,
                            problem: CIRCULAR,
                        });
                    }
                    row_phase[r] = p;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let count = row_phase.iter().copied().max().unwrap_or(0) + 1;
        let mut steps: Vec<PhaseStep> = (0..count).map(|_| PhaseStep::default()).collect();
        for &r in &self.order {
            steps[row_phase[r]].rows.push(r);
        }
        for (s, phase) in scalar_phase.iter().enumerate() {
            let s = ScalarId::new(s);
            if post(s) {
                steps[(*phase).min(count - 1)].scalars.push(s);
            }
        }
        Ok(Phases { steps })
    }

    fn err_scalar(&self, s: ScalarId, problem: &'static str) -> EvalError {
        EvalError {
            line: self.scalars[s].label.clone(),
            year: None,
            problem,
        }
    }
}

/// What an expression reads: an input, a scalar, a row (in this period, the previous one or
/// whole), or a series of inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref {
    Input(InputId),
    Scalar(ScalarId),
    Row(RowId),
    Series(SeriesId),
}

impl Expr {
    /// Calls `f` with everything the expression reads, whichever branch a run takes.
    pub fn visit_refs(&self, f: &mut impl FnMut(Ref)) {
        match self {
            Expr::Num(_) | Expr::Na | Expr::Year | Expr::FirstYear | Expr::Solved(_) => {}
            Expr::Input(id) => f(Ref::Input(*id)),
            Expr::Scalar(id) => f(Ref::Scalar(*id)),
            Expr::Row(r)
            | Expr::Prev(r)
            | Expr::RowSum(r)
            | Expr::RowMin(r)
            | Expr::RowMax(r)
            | Expr::RowSumIf(r, _)
            | Expr::FirstYearWhere(r) => f(Ref::Row(*r)),
            Expr::RowMinWhere(a, b) | Expr::RowAvgWhere(a, b) | Expr::SumProduct(a, b) => {
                f(Ref::Row(*a));
                f(Ref::Row(*b));
            }
            Expr::RowAt(r, e) | Expr::Npv(e, r) | Expr::Irr(r, e) | Expr::Lag(r, e) => {
                f(Ref::Row(*r));
                e.visit_refs(f);
            }
            Expr::Mirr(r, a, b) => {
                f(Ref::Row(*r));
                a.visit_refs(f);
                b.visit_refs(f);
            }
            Expr::Lookup(s, key) => {
                f(Ref::Series(*s));
                key.visit_refs(f);
            }
            Expr::Sqrt(a) | Expr::Neg(a) | Expr::Abs(a) => a.visit_refs(f),
            Expr::Sub(a, b)
            | Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::Round(a, b)
            | Expr::Cmp(_, a, b) => {
                a.visit_refs(f);
                b.visit_refs(f);
            }
            Expr::If(a, b, c) => {
                a.visit_refs(f);
                b.visit_refs(f);
                c.visit_refs(f);
            }
            Expr::Add(items)
            | Expr::Mul(items)
            | Expr::Min(items)
            | Expr::Max(items)
            | Expr::And(items)
            | Expr::Or(items) => items.iter().for_each(|e| e.visit_refs(f)),
            Expr::Choose(index, items) => {
                index.visit_refs(f);
                items.iter().for_each(|e| e.visit_refs(f));
            }
        }
    }
}

// ----- Long aggregates as chains of helper lines (Excel's formula limits) -------------------

/// The most leaves (references and numbers) an n-ary sum, product, MIN, MAX, AND or OR keeps
/// in one formula: about 3,000 characters at the longest references, well inside Excel's
/// 8,192, and far below its 255 arguments a function.
pub const CHAIN_LEAVES: usize = 96;

/// Leaves of an expression: the references and numbers its formula names.
pub fn leaves(e: &Expr) -> usize {
    match e {
        Expr::Num(_)
        | Expr::Na
        | Expr::Input(_)
        | Expr::Scalar(_)
        | Expr::Row(_)
        | Expr::Prev(_)
        | Expr::Year
        | Expr::FirstYear
        | Expr::Solved(_)
        | Expr::RowSum(_)
        | Expr::RowMin(_)
        | Expr::RowMax(_)
        | Expr::RowSumIf(..)
        | Expr::RowMinWhere(..)
        | Expr::RowAvgWhere(..)
        | Expr::SumProduct(..)
        | Expr::FirstYearWhere(_) => 1,
        Expr::Sqrt(a) | Expr::Neg(a) | Expr::Abs(a) | Expr::Lookup(_, a) | Expr::RowAt(_, a) => {
            1 + leaves(a)
        }
        Expr::Npv(a, _) | Expr::Irr(_, a) | Expr::Lag(_, a) => 1 + leaves(a),
        Expr::Mirr(_, a, b) => 1 + leaves(a) + leaves(b),
        Expr::Sub(a, b)
        | Expr::Div(a, b)
        | Expr::Pow(a, b)
        | Expr::Cmp(_, a, b)
        | Expr::Round(a, b) => leaves(a) + leaves(b),
        Expr::If(a, b, c) => leaves(a) + leaves(b) + leaves(c),
        Expr::Add(v) | Expr::Mul(v) | Expr::Min(v) | Expr::Max(v) | Expr::And(v) | Expr::Or(v) => {
            v.iter().map(leaves).sum()
        }
        Expr::Choose(i, v) => leaves(i) + v.iter().map(leaves).sum::<usize>(),
    }
}

/// Whether evaluating `e` can fail (a division, a root, a power, a rate solver): such an
/// expression must not be moved out of a branch that guards it.
fn can_fail(e: &Expr) -> bool {
    match e {
        Expr::Div(..) | Expr::Pow(..) | Expr::Sqrt(_) | Expr::Npv(..) | Expr::Irr(..) => true,
        Expr::Mirr(..) => true,
        Expr::Neg(a) | Expr::Abs(a) | Expr::Lookup(_, a) | Expr::RowAt(_, a) => can_fail(a),
        Expr::Sub(a, b) | Expr::Cmp(_, a, b) | Expr::Round(a, b) => can_fail(a) || can_fail(b),
        Expr::If(a, b, c) => can_fail(a) || can_fail(b) || can_fail(c),
        Expr::Add(v) | Expr::Mul(v) | Expr::Min(v) | Expr::Max(v) | Expr::And(v) | Expr::Or(v) => {
            v.iter().any(can_fail)
        }
        Expr::Choose(i, v) => can_fail(i) || v.iter().any(can_fail),
        _ => false,
    }
}

/// Rebuilds an n-ary node from its items.
type Rebuild = fn(Vec<Expr>) -> Expr;

/// An n-ary node's items and how to rebuild it, or the expression as it was.
fn n_ary(e: Expr) -> Result<(Vec<Expr>, Rebuild), Expr> {
    match e {
        Expr::Add(v) => Ok((v, Expr::Add)),
        Expr::Mul(v) => Ok((v, Expr::Mul)),
        Expr::Min(v) => Ok((v, Expr::Min)),
        Expr::Max(v) => Ok((v, Expr::Max)),
        Expr::And(v) => Ok((v, Expr::And)),
        Expr::Or(v) => Ok((v, Expr::Or)),
        other => Err(other),
    }
}

impl Calc {
    /// Turns every long n-ary node of every row into a chain of helper rows placed just
    /// before it: the first holds the first items, each next one the one before plus its
    /// share, and the row keeps the last link and the rest. The association is the engine's
    /// own left-to-right order, so every value stays exact to the digit; the formulas stay
    /// short and the workbook grows linearly with the items. A node inside a branch that is
    /// only evaluated sometimes (an IF, AND, OR, CHOOSE) is chained only when nothing in it
    /// can fail, so a guarded division is never evaluated unguarded.
    pub fn chain_long_rows(&mut self) {
        let order = std::mem::take(&mut self.order);
        let mut chained = Vec::with_capacity(order.len());
        for r in order {
            if !self.rows[r].solved && leaves(&self.rows[r].expr) > CHAIN_LEAVES {
                let expr = std::mem::take(&mut self.rows[r].expr);
                let mut part = 0;
                let expr = self.chain(expr, r, false, &mut part, &mut chained);
                self.rows[r].expr = expr;
            }
            chained.push(r);
        }
        self.order = chained;
    }

    fn chain(
        &mut self,
        e: Expr,
        owner: RowId,
        lazy: bool,
        part: &mut usize,
        order: &mut Vec<RowId>,
    ) -> Expr {
        let mut go = |c: &mut Self, e: Expr, lazy: bool| c.chain(e, owner, lazy, part, order);
        let boxed = |e: Expr| Box::new(e);
        let e = match e {
            Expr::Neg(a) => Expr::Neg(boxed(go(self, *a, lazy))),
            Expr::Abs(a) => Expr::Abs(boxed(go(self, *a, lazy))),
            Expr::Sub(a, b) => Expr::Sub(boxed(go(self, *a, lazy)), boxed(go(self, *b, lazy))),
            Expr::Cmp(op, a, b) => {
                Expr::Cmp(op, boxed(go(self, *a, lazy)), boxed(go(self, *b, lazy)))
            }
            Expr::Div(a, b) => Expr::Div(boxed(go(self, *a, lazy)), boxed(go(self, *b, lazy))),
            Expr::Round(a, d) => Expr::Round(boxed(go(self, *a, lazy)), d),
            Expr::If(a, b, c) => Expr::If(
                boxed(go(self, *a, lazy)),
                boxed(go(self, *b, true)),
                boxed(go(self, *c, true)),
            ),
            Expr::Add(v) => Expr::Add(v.into_iter().map(|x| go(self, x, lazy)).collect()),
            Expr::Mul(v) => Expr::Mul(v.into_iter().map(|x| go(self, x, lazy)).collect()),
            Expr::Min(v) => Expr::Min(v.into_iter().map(|x| go(self, x, lazy)).collect()),
            Expr::Max(v) => Expr::Max(v.into_iter().map(|x| go(self, x, lazy)).collect()),
            Expr::And(v) => Expr::And(v.into_iter().map(|x| go(self, x, true)).collect()),
            Expr::Or(v) => Expr::Or(v.into_iter().map(|x| go(self, x, true)).collect()),
            other => other,
        };
        let (items, rebuild) = match n_ary(e) {
            Ok(parts) => parts,
            Err(other) => return other,
        };
        let total: usize = items.iter().map(leaves).sum();
        if total <= CHAIN_LEAVES || (lazy && items.iter().any(can_fail)) {
            return rebuild(items);
        }
        let flag = matches!(rebuild(Vec::new()), Expr::And(_) | Expr::Or(_));
        let unit = if flag {
            Unit::Flag
        } else {
            self.rows[owner].unit
        };
        let mut link: Option<Expr> = None;
        let mut segment: Vec<Expr> = Vec::new();
        let mut weight = 0;
        let mut items = items.into_iter().peekable();
        while let Some(item) = items.next() {
            let w = leaves(&item);
            if weight > 0 && weight + w > CHAIN_LEAVES && items.peek().is_some() {
                *part += 1;
                let label = format!("{} (part {})", self.rows[owner].label, *part);
                let mut body: Vec<Expr> = link.take().into_iter().collect();
                body.append(&mut segment);
                let helper = self.reserve(label, unit);
                self.rows[helper].section = self.rows[owner].section;
                self.rows[helper].expr = rebuild(body);
                self.placed[helper] = true;
                order.push(helper);
                link = Some(Expr::Row(helper));
                weight = 1;
            }
            weight += w;
            segment.push(item);
        }
        let mut body: Vec<Expr> = link.into_iter().collect();
        body.append(&mut segment);
        rebuild(body)
    }
}

/// What a value is known to be, whatever the inputs: a whole number, a whole number of the
/// ledger's smallest unit (a cent, at two decimal places: "on the grid"), or anything.
/// Ordered from the least to the most precise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Any,
    Grid,
    Whole,
}

/// The precision of every row and scalar of a calculation.
#[derive(Debug, Clone, PartialEq)]
pub struct Precisions {
    pub rows: Vec<Precision>,
    pub scalars: Vec<Precision>,
}

impl Calc {
    /// What every row and scalar is known to be in every period, for any input values: the
    /// largest fixed point (a balance that adds amounts on the grid to its own previous value
    /// stays on the grid). `digits` is the expression rounding uses for the ledger precision
    /// and `places` its value; rows flagged in `booked` count as on the grid (they are about
    /// to be rounded).
    pub fn precisions(&self, digits: &Expr, places: u32, booked: &[bool]) -> Precisions {
        let mut p = Precisions {
            rows: vec![Precision::Whole; self.rows.len()],
            scalars: vec![Precision::Whole; self.scalars.len()],
        };
        loop {
            let mut changed = false;
            for (r, def) in self.rows.iter().enumerate() {
                let mut v = precision_of(&def.expr, &p, digits, places);
                if booked.get(r).copied().unwrap_or(false) {
                    v = v.max(Precision::Grid);
                }
                if v < p.rows[r] {
                    p.rows[r] = v;
                    changed = true;
                }
            }
            for (s, def) in self.scalars.iter().enumerate() {
                let v = precision_of(&def.expr, &p, digits, places);
                if v < p.scalars[s] {
                    p.scalars[s] = v;
                    changed = true;
                }
            }
            if !changed {
                return p;
            }
        }
    }
}

/// What an expression is known to be, given what the rows and scalars it reads are.
pub fn precision_of(e: &Expr, p: &Precisions, digits: &Expr, places: u32) -> Precision {
    use Precision::*;
    let all = |items: &[Expr]| {
        items
            .iter()
            .map(|x| precision_of(x, p, digits, places))
            .min()
            .unwrap_or(Whole)
    };
    let row = |r: &RowId| p.rows.get(r.index()).copied().unwrap_or(Any);
    match e {
        Expr::Num(v) => {
            if v.fract().is_zero() {
                Whole
            } else if v.round_dp(places) == *v {
                Grid
            } else {
                Any
            }
        }
        Expr::Na | Expr::Year | Expr::FirstYear | Expr::FirstYearWhere(_) => Whole,
        Expr::Cmp(..) | Expr::And(_) | Expr::Or(_) => Whole,
        Expr::Input(_) | Expr::Solved(_) => Any,
        Expr::Scalar(s) => p.scalars.get(s.index()).copied().unwrap_or(Any),
        Expr::Row(r)
        | Expr::Prev(r)
        | Expr::RowSum(r)
        | Expr::RowMin(r)
        | Expr::RowMax(r)
        | Expr::RowSumIf(r, _)
        | Expr::RowAt(r, _)
        | Expr::Lag(r, _)
        | Expr::RowMinWhere(r, _) => row(r),
        Expr::Neg(a) | Expr::Abs(a) => precision_of(a, p, digits, places),
        Expr::Sub(a, b) => {
            precision_of(a, p, digits, places).min(precision_of(b, p, digits, places))
        }
        Expr::Add(items) | Expr::Min(items) | Expr::Max(items) => all(items),
        Expr::If(_, a, b) => {
            precision_of(a, p, digits, places).min(precision_of(b, p, digits, places))
        }
        Expr::Choose(_, items) => all(items),
        // A product is on the grid when one factor is and the others are whole numbers
        // (flags, counts).
        Expr::Mul(items) => {
            let mut fractional = 0;
            for item in items {
                match precision_of(item, p, digits, places) {
                    Any => return Any,
                    Grid => fractional += 1,
                    Whole => {}
                }
            }
            match fractional {
                0 => Whole,
                1 => Grid,
                _ => Any,
            }
        }
        Expr::Round(a, d) => {
            let inner = precision_of(a, p, digits, places);
            if d.as_ref() == digits {
                inner.max(Grid)
            } else if d.is_zero() {
                Whole
            } else {
                inner
            }
        }
        Expr::Sqrt(_)
        | Expr::Div(..)
        | Expr::Pow(..)
        | Expr::Lookup(..)
        | Expr::RowAvgWhere(..)
        | Expr::Npv(..)
        | Expr::SumProduct(..)
        | Expr::Irr(..)
        | Expr::Mirr(..) => Any,
    }
}

/// A calculation prepared to be evaluated many times with only some inputs changing (a Monte
/// Carlo path changes only the simulated prices): the rows and scalars that can depend on
/// those inputs, through any chain of references in any period, and one evaluation of
/// everything with the default inputs. Evaluating with it recomputes the dependent rows and
/// scalars and copies the rest, which are the same whatever the varying inputs hold: the
/// values are those of a full evaluation, digit for digit.
///
/// Prepared for a list of needed scalars, it recomputes only what those read (directly or
/// through rows); other dependent rows and scalars then keep the base values, so a caller
/// reads the needed scalars and nothing else.
#[derive(Debug, Clone)]
pub struct Partial {
    base_inputs: Vec<Decimal>,
    base: Values,
    varying: Vec<bool>,
    /// The dependent rows, in evaluation order.
    rows: Vec<RowId>,
    pre: Vec<ScalarId>,
    /// Per phase of evaluation: the dependent rows (as indices into `rows`) and post
    /// scalars.
    steps: Vec<(Vec<usize>, Vec<ScalarId>)>,
    position: Vec<usize>,
    skip_rates: bool,
    /// Per row of `rows`: what its formula reads that can change (see `Read`).
    reads: Vec<Vec<Read>>,
    /// The series with a varying point.
    varying_series: Vec<SeriesId>,
}

/// What a dependent row's formula reads that may differ from the base evaluation: a cell of
/// a recomputed row (this period or the last), a varying input, a series with a varying
/// point, a recomputed scalar. A cell none of whose reads changed has its base value, so
/// the partial evaluation copies it instead of computing it: before production, a price
/// changes nothing downstream of a zero volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Row(RowId),
    Prev(RowId),
    Input(InputId),
    Series(SeriesId),
    Scalar(ScalarId),
    /// Anything else a row should not read in a period (a whole-row aggregate): always
    /// recompute.
    Always,
}

/// The reads of a row's formula (a period's view: same-period and previous-period rows kept
/// apart).
fn cell_reads(e: &Expr, out: &mut Vec<Read>) {
    match e {
        Expr::Num(_) | Expr::Na | Expr::Year | Expr::FirstYear | Expr::Solved(_) => {}
        Expr::Input(id) => out.push(Read::Input(*id)),
        Expr::Scalar(id) => out.push(Read::Scalar(*id)),
        Expr::Row(r) => out.push(Read::Row(*r)),
        Expr::Prev(r) => out.push(Read::Prev(*r)),
        Expr::Lookup(s, key) => {
            out.push(Read::Series(*s));
            cell_reads(key, out);
        }
        Expr::Sqrt(a) | Expr::Neg(a) | Expr::Abs(a) => cell_reads(a, out),
        Expr::Sub(a, b)
        | Expr::Div(a, b)
        | Expr::Pow(a, b)
        | Expr::Round(a, b)
        | Expr::Cmp(_, a, b) => {
            cell_reads(a, out);
            cell_reads(b, out);
        }
        Expr::If(a, b, c) => {
            cell_reads(a, out);
            cell_reads(b, out);
            cell_reads(c, out);
        }
        Expr::Add(items)
        | Expr::Mul(items)
        | Expr::Min(items)
        | Expr::Max(items)
        | Expr::And(items)
        | Expr::Or(items) => items.iter().for_each(|x| cell_reads(x, out)),
        Expr::Choose(index, items) => {
            cell_reads(index, out);
            items.iter().for_each(|x| cell_reads(x, out));
        }
        Expr::RowSum(_)
        | Expr::RowMin(_)
        | Expr::RowMax(_)
        | Expr::RowSumIf(..)
        | Expr::RowAt(..)
        | Expr::RowMinWhere(..)
        | Expr::RowAvgWhere(..)
        | Expr::Npv(..)
        | Expr::SumProduct(..)
        | Expr::Irr(..)
        | Expr::Mirr(..)
        | Expr::FirstYearWhere(_)
        // A cell several periods back: whether it changed is not tracked, so recompute.
        | Expr::Lag(..) => out.push(Read::Always),
    }
}

impl Partial {
    /// How many rows are evaluated per period (of all the calculation's rows).
    pub fn dependent_rows(&self) -> usize {
        self.rows.len()
    }

    /// The evaluation with the default inputs, which every other one starts from.
    pub fn base(&self) -> &Values {
        &self.base
    }
}

/// Which inputs, rows and scalars of a partial evaluation may differ from the base one.
struct Dependence {
    inputs: Vec<bool>,
    rows: Vec<bool>,
    scalars: Vec<bool>,
}

/// Per phase of a partial evaluation: its dependent rows (indices into the plan's rows)
/// and scalars.
type PartialSteps = Vec<(Vec<usize>, Vec<ScalarId>)>;

/// What differs from the base evaluation so far, during a partial evaluation.
struct Changed {
    inputs: Vec<bool>,
    series: Vec<bool>,
    scalars: Vec<bool>,
    /// Per cell, row by row (`row * periods + period`).
    cells: Vec<bool>,
}

impl Changed {
    /// Whether a cell in period `t` (of `n`) reading `reads` may differ from its base value.
    fn reaches(&self, reads: &[Read], t: usize, n: usize) -> bool {
        reads.iter().any(|read| match *read {
            Read::Row(q) => self.cells[q * n + t],
            Read::Prev(q) => t > 0 && self.cells[q * n + t - 1],
            Read::Input(id) => self.inputs[id],
            Read::Series(s) => self.series[s],
            Read::Scalar(s) => self.scalars[s],
            Read::Always => true,
        })
    }
}

impl Calc {
    /// Prepares evaluations in which only the `varying` inputs differ from the options'
    /// inputs (the calculation's own when None), bringing up to date the `needed` scalars
    /// (None: every row and scalar).
    pub fn partial(
        &self,
        varying: &[InputId],
        needed: Option<&[ScalarId]>,
        options: &EvalOptions<'_>,
    ) -> Result<Partial, EvalError> {
        let base = self.evaluate_with(options)?;
        let base_inputs = match options.inputs {
            Some(values) => values.to_vec(),
            None => self.input_values(),
        };
        let mut dep = self.dependence(varying);
        // Only what the needed scalars read, directly or through other rows, is brought up to
        // date (everything when the caller needs everything).
        if let Some(needed) = needed {
            self.keep_needed(needed, &mut dep);
        }
        let position = self.positions();
        let pre = (0..self.scalars.len())
            .map(ScalarId::new)
            .filter(|s| dep.scalars[*s] && self.scalars[*s].stage == Stage::Pre)
            .collect();
        let rows: Vec<RowId> = self
            .order
            .iter()
            .copied()
            .filter(|r| dep.rows[*r])
            .collect();
        let steps = self.partial_steps(&rows, &dep)?;
        let varying_series = self.varying_series(&dep.inputs);
        let reads = self.partial_reads(&rows, &dep, &varying_series);
        Ok(Partial {
            base_inputs,
            base,
            varying: dep.inputs,
            rows,
            pre,
            steps,
            position,
            skip_rates: options.skip_rates,
            reads,
            varying_series,
        })
    }

    /// What may differ when the `varying` inputs do: every row and scalar that reads one,
    /// directly or through other rows and scalars.
    fn dependence(&self, varying: &[InputId]) -> Dependence {
        let mut input_varies = vec![false; self.inputs.len()];
        for id in varying {
            if let Some(v) = input_varies.get_mut(id.index()) {
                *v = true;
            }
        }
        let mut row_dep = vec![false; self.rows.len()];
        let mut scalar_dep = vec![false; self.scalars.len()];
        // A row may read another row's previous period, so dependence can travel "upwards":
        // repeat until nothing changes (each pass marks at least one more, or stops).
        loop {
            let mut changed = false;
            let depends = |e: &Expr, row_dep: &[bool], scalar_dep: &[bool]| {
                let mut d = false;
                e.visit_refs(&mut |r| {
                    d |= match r {
                        Ref::Input(id) => input_varies.get(id.index()).copied().unwrap_or(false),
                        Ref::Scalar(id) => scalar_dep.get(id.index()).copied().unwrap_or(false),
                        Ref::Row(id) => row_dep.get(id.index()).copied().unwrap_or(false),
                        Ref::Series(s) => self.series.get(s).is_some_and(|s| {
                            s.points
                                .iter()
                                .any(|p| input_varies.get(p.index()).copied().unwrap_or(false))
                        }),
                    }
                });
                d
            };
            for (s, def) in self.scalars.iter().enumerate() {
                if !scalar_dep[s] && depends(&def.expr, &row_dep, &scalar_dep) {
                    scalar_dep[s] = true;
                    changed = true;
                }
            }
            for (r, def) in self.rows.iter().enumerate() {
                if !row_dep[r] && depends(&def.expr, &row_dep, &scalar_dep) {
                    row_dep[r] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        Dependence {
            inputs: input_varies,
            rows: row_dep,
            scalars: scalar_dep,
        }
    }

    /// Narrows the dependence to what the `needed` scalars read, directly or through other
    /// rows and scalars: nothing else is worth recomputing.
    fn keep_needed(&self, needed: &[ScalarId], dep: &mut Dependence) {
        let mut row_need = vec![false; self.rows.len()];
        let mut scalar_need = vec![false; self.scalars.len()];
        let mut stack: Vec<Ref> = needed.iter().map(|s| Ref::Scalar(*s)).collect();
        while let Some(r) = stack.pop() {
            let expr = match r {
                Ref::Scalar(s) if s.index() < scalar_need.len() && !scalar_need[s] => {
                    scalar_need[s] = true;
                    &self.scalars[s].expr
                }
                Ref::Row(r) if r.index() < row_need.len() && !row_need[r] => {
                    row_need[r] = true;
                    &self.rows[r].expr
                }
                _ => continue,
            };
            expr.visit_refs(&mut |r| stack.push(r));
        }
        for (dep, need) in dep.rows.iter_mut().zip(&row_need) {
            *dep &= *need;
        }
        for (dep, need) in dep.scalars.iter_mut().zip(&scalar_need) {
            *dep &= *need;
        }
    }

    /// Each row's place in the order of evaluation.
    fn positions(&self) -> Vec<usize> {
        let mut position = vec![0usize; self.rows.len()];
        for (k, r) in self.order.iter().enumerate() {
            position[*r] = k;
        }
        position
    }

    /// The phases of evaluation (see `phases`) kept to the dependent rows (as indices into
    /// `rows`, the dependent rows in order) and scalars.
    fn partial_steps(&self, rows: &[RowId], dep: &Dependence) -> Result<PartialSteps, EvalError> {
        let mut index_of = vec![usize::MAX; self.rows.len()];
        for (k, r) in rows.iter().enumerate() {
            index_of[*r] = k;
        }
        let steps = self
            .phases()?
            .steps
            .into_iter()
            .map(|step| {
                let rows = step
                    .rows
                    .iter()
                    .filter(|r| dep.rows[**r])
                    .map(|r| index_of[*r])
                    .collect();
                let scalars = step
                    .scalars
                    .into_iter()
                    .filter(|s| dep.scalars[*s])
                    .collect();
                (rows, scalars)
            })
            .collect();
        Ok(steps)
    }

    /// The series with a point among the varying inputs.
    fn varying_series(&self, input_varies: &[bool]) -> Vec<SeriesId> {
        (0..self.series.len())
            .filter(|s| {
                self.series[*s]
                    .points
                    .iter()
                    .any(|p| input_varies.get(p.index()).copied().unwrap_or(false))
            })
            .collect()
    }

    /// Per dependent row, what its formula reads that can change: recomputed rows and
    /// scalars, varying inputs and series (only those are worth checking), sorted and once
    /// each.
    fn partial_reads(
        &self,
        rows: &[RowId],
        dep: &Dependence,
        varying_series: &[SeriesId],
    ) -> Vec<Vec<Read>> {
        rows.iter()
            .map(|r| {
                let mut all = Vec::new();
                cell_reads(&self.rows[*r].expr, &mut all);
                let mut kept: Vec<Read> = all
                    .into_iter()
                    .filter(|read| match read {
                        Read::Row(q) | Read::Prev(q) => {
                            dep.rows.get(q.index()).copied().unwrap_or(true)
                        }
                        Read::Input(id) => dep.inputs.get(id.index()).copied().unwrap_or(true),
                        Read::Series(s) => varying_series.contains(s),
                        Read::Scalar(s) => dep.scalars.get(s.index()).copied().unwrap_or(true),
                        Read::Always => true,
                    })
                    .collect();
                kept.sort_by_key(|read| match read {
                    Read::Row(q) => (0, q.index()),
                    Read::Prev(q) => (1, q.index()),
                    Read::Input(q) => (2, q.index()),
                    Read::Series(q) => (3, *q),
                    Read::Scalar(q) => (4, q.index()),
                    Read::Always => (5, 0),
                });
                kept.dedup();
                kept
            })
            .collect()
    }

    /// Evaluates with `inputs`, which may differ from the plan's base inputs only where they
    /// vary, into `values` (reused between evaluations to save allocating).
    pub fn evaluate_partial(
        &self,
        plan: &Partial,
        inputs: &[Decimal],
        values: &mut Values,
    ) -> Result<(), EvalError> {
        let same_elsewhere = inputs.len() == plan.base_inputs.len()
            && inputs
                .iter()
                .zip(&plan.base_inputs)
                .zip(&plan.varying)
                .all(|((a, b), varies)| *varies || a == b);
        if !same_elsewhere {
            return Err(EvalError {
                line: "inputs".into(),
                year: None,
                problem: INPUT_OUTSIDE_PLAN,
            });
        }
        values.periods = plan.base.periods;
        values.rows.clone_from(&plan.base.rows);
        values.scalars.clone_from(&plan.base.scalars);
        let mut changed = self.changed_inputs(plan, inputs);
        for &s in &plan.pre {
            self.recompute_scalar(plan, inputs, values, s, &mut changed.scalars)?;
        }
        for (step_rows, step_scalars) in &plan.steps {
            for t in 0..self.periods {
                for &k in step_rows {
                    if changed.reaches(&plan.reads[k], t, self.periods) {
                        self.recompute_cell(plan, inputs, values, k, t, &mut changed.cells)?;
                    }
                    // Otherwise everything it reads is as in the base evaluation: so is its
                    // value.
                }
            }
            for &s in step_scalars {
                self.recompute_scalar(plan, inputs, values, s, &mut changed.scalars)?;
            }
        }
        Ok(())
    }

    /// What differs from the base evaluation before any row or scalar is recomputed: the
    /// inputs that changed and the series with a changed point.
    fn changed_inputs(&self, plan: &Partial, inputs: &[Decimal]) -> Changed {
        let input_changed: Vec<bool> = inputs
            .iter()
            .zip(&plan.base_inputs)
            .map(|(a, b)| a != b)
            .collect();
        let mut series_changed = vec![false; self.series.len()];
        for s in &plan.varying_series {
            series_changed[*s] = self.series[*s]
                .points
                .iter()
                .any(|p| input_changed.get(p.index()).copied().unwrap_or(true));
        }
        Changed {
            inputs: input_changed,
            series: series_changed,
            scalars: vec![false; self.scalars.len()],
            cells: vec![false; self.rows.len() * self.periods],
        }
    }

    /// Recomputes scalar `s` of a partial evaluation, noting whether it left its base value.
    fn recompute_scalar(
        &self,
        plan: &Partial,
        inputs: &[Decimal],
        values: &mut Values,
        s: ScalarId,
        scalar_changed: &mut [bool],
    ) -> Result<(), EvalError> {
        let ctx = self.ctx(values, None, None, &plan.position, inputs, plan.skip_rates);
        let v = ctx
            .eval_opt(&self.scalars[s].expr)
            .map_err(|p| self.err_scalar(s, p))?;
        scalar_changed[s] = v != plan.base.scalars[s];
        values.scalars[s] = v;
        Ok(())
    }

    /// Recomputes the cell of the plan's `k`th row in period `t`, noting whether it left its
    /// base value.
    fn recompute_cell(
        &self,
        plan: &Partial,
        inputs: &[Decimal],
        values: &mut Values,
        k: usize,
        t: usize,
        cell_changed: &mut [bool],
    ) -> Result<(), EvalError> {
        let n = self.periods;
        let r = plan.rows[k];
        let def = &self.rows[r];
        let ctx = self.ctx(
            values,
            Some(t),
            Some(r),
            &plan.position,
            inputs,
            plan.skip_rates,
        );
        let v = ctx.eval(&def.expr).map_err(|p| EvalError {
            line: def.label.clone(),
            year: Some(self.year_of(t)),
            problem: p,
        })?;
        cell_changed[r * n + t] = v != plan.base.rows[r * n + t];
        values.rows[r * n + t] = v;
        Ok(())
    }

    fn ctx<'a>(
        &'a self,
        values: &'a Values,
        period: Option<usize>,
        row: Option<RowId>,
        position: &'a [usize],
        inputs: &'a [Decimal],
        skip_rates: bool,
    ) -> Ctx<'a> {
        Ctx {
            calc: self,
            values,
            period,
            row,
            position,
            inputs,
            skip_rates,
        }
    }
}

const OVERFLOW: &str = "an amount too large for exact arithmetic (overflow)";
const DIV_ZERO: &str = "a division by zero";
const NO_VALUE: &str =
    "a value that does not exist (such as an IRR with no solution) used in arithmetic";
const BAD_REF: &str =
    "a reference to a line calculated later in the same period (an internal ordering error)";
const BAD_LAG: &str = "a look-back of less than one whole period (an internal error)";
const BAD_POW: &str = "a power with a fractional or out-of-range exponent";
const BAD_DIGITS: &str =
    "a rounding to a number of decimal places that is not a whole number from 0 to 10";
const INPUT_COUNT: &str = "a list of input values of the wrong length (an internal error)";
const INPUT_OUTSIDE_PLAN: &str =
    "an input changed that the partial evaluation was not prepared for (an internal error)";
const CIRCULAR: &str =
    "a line that reads a whole-run measure which reads the line itself (an internal error)";
const UNPLACED: &str = "a line reserved but never given a formula (an internal error)";
const ROW_AGG_IN_PERIOD: &str = "a whole-row aggregate used inside a period (an internal error)";

struct Ctx<'a> {
    calc: &'a Calc,
    values: &'a Values,
    period: Option<usize>,
    row: Option<RowId>,
    position: &'a [usize],
    inputs: &'a [Decimal],
    skip_rates: bool,
}

/// How to evaluate: with the calculation's own inputs or others, with or without the rate
/// solvers.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions<'a> {
    /// One value per input, in input order.
    pub inputs: Option<&'a [Decimal]>,
    /// Leave IRR and MIRR without a value (they cost more than the rest together).
    pub skip_rates: bool,
}

type EvalResult = Result<Decimal, &'static str>;

impl Ctx<'_> {
    /// Evaluates an expression that must have a value.
    fn eval(&self, e: &Expr) -> EvalResult {
        self.eval_opt(e)?.ok_or(NO_VALUE)
    }

    fn row_values(&self, r: RowId) -> Result<&[Decimal], &'static str> {
        if self.period.is_some() {
            return Err(ROW_AGG_IN_PERIOD);
        }
        Ok(self.values.row(r))
    }

    /// Evaluates an expression that may legitimately have no value (IRR, payback year).
    fn eval_opt(&self, e: &Expr) -> Result<Option<Decimal>, &'static str> {
        let v = match e {
            Expr::Num(v) => *v,
            Expr::Na => return Ok(None),
            Expr::Input(id) => self.inputs[*id],
            Expr::Scalar(id) => return Ok(self.values.scalars[*id]),
            Expr::Row(r) => self.same_period(*r)?,
            Expr::Prev(r) => self.previous_period(*r)?,
            Expr::Lag(r, k) => self.lagged(*r, k)?,
            Expr::Year => {
                let t = self.period.ok_or(ROW_AGG_IN_PERIOD)?;
                Decimal::from(self.calc.year_of(t))
            }
            Expr::FirstYear => Decimal::from(self.calc.first_year),
            Expr::Solved(id) => self.calc.solved[*id].value,
            Expr::Sqrt(a) => self.square_root(a)?,
            Expr::Neg(a) => -self.eval(a)?,
            Expr::Add(items) => self.total(items)?,
            Expr::Sub(a, b) => self.eval(a)?.checked_sub(self.eval(b)?).ok_or(OVERFLOW)?,
            Expr::Mul(items) => self.product(items)?,
            Expr::Div(a, b) => self.quotient(a, b)?,
            Expr::Pow(a, b) => self.whole_power(a, b)?,
            Expr::Min(items) => self.extreme(items, |b, v| b.min(v))?,
            Expr::Max(items) => self.extreme(items, |b, v| b.max(v))?,
            Expr::Abs(a) => self.eval(a)?.abs(),
            Expr::Round(a, digits) => self.rounded(a, digits)?,
            Expr::If(c, a, b) => {
                if !self.eval(c)?.is_zero() {
                    return self.eval_opt(a);
                }
                return self.eval_opt(b);
            }
            Expr::Cmp(op, a, b) => flag(op.holds(self.eval(a)?, self.eval(b)?)),
            Expr::And(items) => self.all_true(items)?,
            Expr::Or(items) => self.any_true(items)?,
            Expr::Choose(index, items) => return self.chosen(index, items),
            Expr::Lookup(s, key) => self.looked_up(*s, key)?,
            Expr::RowSum(_)
            | Expr::RowMin(_)
            | Expr::RowMax(_)
            | Expr::RowSumIf(..)
            | Expr::RowAt(..)
            | Expr::RowMinWhere(..)
            | Expr::RowAvgWhere(..)
            | Expr::Npv(..)
            | Expr::SumProduct(..)
            | Expr::Irr(..)
            | Expr::Mirr(..)
            | Expr::FirstYearWhere(_) => return self.eval_row_aggregate(e),
        };
        Ok(Some(v))
    }

    /// The whole-row cases (sums, extremes, NPV, IRR, …), read after every period is done.
    fn eval_row_aggregate(&self, e: &Expr) -> Result<Option<Decimal>, &'static str> {
        let v = match e {
            Expr::RowSum(r) => self.row_sum(*r)?,
            Expr::RowMin(r) => self
                .row_values(*r)?
                .iter()
                .copied()
                .min()
                .unwrap_or_default(),
            Expr::RowMax(r) => self
                .row_values(*r)?
                .iter()
                .copied()
                .max()
                .unwrap_or_default(),
            Expr::RowSumIf(r, positive) => self.row_sum_if(*r, *positive)?,
            Expr::RowAt(r, index) => self.row_at(*r, index)?,
            Expr::RowMinWhere(r, f) => {
                let (vals, flags) = (self.row_values(*r)?, self.row_values(*f)?);
                return Ok(vals
                    .iter()
                    .zip(flags)
                    .filter(|(_, f)| **f == Decimal::ONE)
                    .map(|(v, _)| *v)
                    .min());
            }
            Expr::RowAvgWhere(r, f) => return self.row_avg_where(*r, *f),
            Expr::Npv(rate, r) => {
                let rate = self.eval(rate)?;
                finance::npv(rate, self.row_values(*r)?).map_err(|_| OVERFLOW)?
            }
            Expr::SumProduct(a, b) => self.sum_product(*a, *b)?,
            Expr::Irr(..) | Expr::Mirr(..) if self.skip_rates => return Ok(None),
            Expr::Irr(r, guess) => {
                let guess = self.eval(guess)?;
                return Ok(finance::irr(self.row_values(*r)?, Some(guess)).ok());
            }
            Expr::Mirr(r, f, re) => {
                let (f, re) = (self.eval(f)?, self.eval(re)?);
                return Ok(finance::mirr(self.row_values(*r)?, f, re).ok());
            }
            Expr::FirstYearWhere(r) => {
                let vals = self.row_values(*r)?;
                return Ok(vals
                    .iter()
                    .position(|v| *v == Decimal::ONE)
                    .map(|t| Decimal::from(self.calc.year_of(t))));
            }
            _ => return Err(NOT_AN_AGGREGATE),
        };
        Ok(Some(v))
    }
}

const NOT_AN_AGGREGATE: &str =
    "an expression evaluated as a whole-row aggregate that is not one (an internal error)";

/// References to cells: the same period, earlier periods.
impl Ctx<'_> {
    /// A row's value this period; only a row placed earlier may be read.
    fn same_period(&self, r: RowId) -> EvalResult {
        let t = self.period.ok_or(ROW_AGG_IN_PERIOD)?;
        if let Some(current) = self.row
            && self.position[r] >= self.position[current]
        {
            return Err(BAD_REF);
        }
        Ok(self.values.at(r, t))
    }

    /// A row's value last period; 0 in the first period.
    fn previous_period(&self, r: RowId) -> EvalResult {
        let t = self.period.ok_or(ROW_AGG_IN_PERIOD)?;
        if t == 0 {
            Ok(Decimal::ZERO)
        } else {
            Ok(self.values.at(r, t - 1))
        }
    }

    /// A row's value k whole periods back (k ≥ 1); 0 before the first period.
    fn lagged(&self, r: RowId, k: &Expr) -> EvalResult {
        let t = self.period.ok_or(ROW_AGG_IN_PERIOD)?;
        let k = self.eval(k)?;
        if !k.fract().is_zero() || k < Decimal::ONE {
            return Err(BAD_LAG);
        }
        match usize::try_from(k.trunc().mantissa() / 10i128.pow(k.trunc().scale())) {
            Ok(k) if k <= t => Ok(self.values.at(r, t - k)),
            _ => Ok(Decimal::ZERO),
        }
    }
}

/// Arithmetic: every operation checked, so an overflow is an error and never a wrong number.
impl Ctx<'_> {
    /// The square root of a value that must not be negative.
    fn square_root(&self, a: &Expr) -> EvalResult {
        let v = self.eval(a)?;
        if v.is_sign_negative() && !v.is_zero() {
            return Err(BAD_POW);
        }
        v.sqrt().ok_or(OVERFLOW)
    }

    /// A sum of the items in order, each addition checked.
    fn total(&self, items: &[Expr]) -> EvalResult {
        let mut acc = Decimal::ZERO;
        for item in items {
            acc = acc.checked_add(self.eval(item)?).ok_or(OVERFLOW)?;
        }
        Ok(acc)
    }

    /// A product of the items in order, each multiplication checked.
    fn product(&self, items: &[Expr]) -> EvalResult {
        let mut acc = Decimal::ONE;
        for item in items {
            acc = acc.checked_mul(self.eval(item)?).ok_or(OVERFLOW)?;
        }
        Ok(acc)
    }

    /// A division: the divisor first, and zero is an error.
    fn quotient(&self, a: &Expr, b: &Expr) -> EvalResult {
        let d = self.eval(b)?;
        if d.is_zero() {
            return Err(DIV_ZERO);
        }
        self.eval(a)?.checked_div(d).ok_or(OVERFLOW)
    }

    /// A power with a whole exponent (negative divides).
    fn whole_power(&self, a: &Expr, b: &Expr) -> EvalResult {
        let base = self.eval(a)?;
        let exp = self.eval(b)?;
        if !exp.fract().is_zero() {
            return Err(BAD_POW);
        }
        let k = i64::try_from(exp.trunc().mantissa()).map_err(|_| BAD_POW)?;
        let k = k / 10i64.pow(exp.trunc().scale());
        power(base, k).ok_or(OVERFLOW)
    }

    /// MIN or MAX of the items (`pick` keeps the one it prefers); none is an error.
    fn extreme(&self, items: &[Expr], pick: impl Fn(Decimal, Decimal) -> Decimal) -> EvalResult {
        let mut best: Option<Decimal> = None;
        for item in items {
            let v = self.eval(item)?;
            best = Some(best.map_or(v, |b| pick(b, v)));
        }
        best.ok_or(NO_VALUE)
    }

    /// Rounding to a whole number of places from 0 to the ledger's maximum, half away from
    /// zero as the ledger rounds.
    fn rounded(&self, a: &Expr, digits: &Expr) -> EvalResult {
        let digits = self.eval(digits)?;
        if !digits.fract().is_zero()
            || digits.is_sign_negative() && !digits.is_zero()
            || digits > Decimal::from(crate::model::MAX_LEDGER_PRECISION)
        {
            return Err(BAD_DIGITS);
        }
        let places = u32::try_from(digits.trunc().mantissa() / 10i128.pow(digits.scale()))
            .map_err(|_| BAD_DIGITS)?;
        Ok(self
            .eval(a)?
            .round_dp_with_strategy(places, crate::model::LEDGER_ROUNDING))
    }
}

/// Logic and lookups: conditions stop at the first item that decides them, as Excel's do.
impl Ctx<'_> {
    /// AND: 0 at the first false item (the rest unevaluated), else 1.
    fn all_true(&self, items: &[Expr]) -> EvalResult {
        for item in items {
            if self.eval(item)?.is_zero() {
                return Ok(Decimal::ZERO);
            }
        }
        Ok(Decimal::ONE)
    }

    /// OR: 1 at the first true item (the rest unevaluated), else 0.
    fn any_true(&self, items: &[Expr]) -> EvalResult {
        for item in items {
            if !self.eval(item)?.is_zero() {
                return Ok(Decimal::ONE);
            }
        }
        Ok(Decimal::ZERO)
    }

    /// CHOOSE: the item at the (truncated) index from 1, clamped to the first and last.
    fn chosen(&self, index: &Expr, items: &[Expr]) -> Result<Option<Decimal>, &'static str> {
        let k = self.eval(index)?.trunc();
        let n = items.len();
        let i = if k < Decimal::ONE {
            0
        } else if k >= Decimal::from(n) {
            n.saturating_sub(1)
        } else {
            usize::try_from(k.mantissa() / 10i128.pow(k.scale())).unwrap_or(0) - 1
        };
        match items.get(i) {
            Some(item) => self.eval_opt(item),
            None => Err(NO_VALUE),
        }
    }

    /// A series' value for a year: the first point before it, the last after it.
    fn looked_up(&self, s: SeriesId, key: &Expr) -> EvalResult {
        let series = &self.calc.series[s];
        let key = self.eval(key)?;
        let first = Decimal::from(series.first_year);
        let offset = if key <= first {
            0
        } else {
            let d = (key - first).trunc();
            let d = i64::try_from(d.mantissa() / 10i128.pow(d.scale())).unwrap_or(i64::MAX);
            usize::try_from(d)
                .unwrap_or(usize::MAX)
                .min(series.points.len().saturating_sub(1))
        };
        let id = series.points.get(offset).ok_or(NO_VALUE)?;
        Ok(self.inputs[*id])
    }
}

/// Whole-row aggregates, read after every period is done.
impl Ctx<'_> {
    /// A row's total over every period.
    fn row_sum(&self, r: RowId) -> EvalResult {
        let mut acc = Decimal::ZERO;
        for v in self.row_values(r)? {
            acc = acc.checked_add(*v).ok_or(OVERFLOW)?;
        }
        Ok(acc)
    }

    /// The sum of a row's positive (or, `positive` false, negative) values.
    fn row_sum_if(&self, r: RowId, positive: bool) -> EvalResult {
        let mut acc = Decimal::ZERO;
        for v in self.row_values(r)? {
            if (positive && v.is_sign_positive() && !v.is_zero())
                || (!positive && v.is_sign_negative() && !v.is_zero())
            {
                acc = acc.checked_add(*v).ok_or(OVERFLOW)?;
            }
        }
        Ok(acc)
    }

    /// A row's value in the period at the (truncated) index from 1, clamped to the row.
    fn row_at(&self, r: RowId, index: &Expr) -> EvalResult {
        let vals = self.row_values(r)?;
        let k = self.eval(index)?.trunc();
        if vals.is_empty() {
            return Err(NO_VALUE);
        }
        let i = if k < Decimal::ONE {
            0
        } else if k >= Decimal::from(vals.len()) {
            vals.len() - 1
        } else {
            usize::try_from(k.mantissa() / 10i128.pow(k.scale())).unwrap_or(1) - 1
        };
        Ok(vals[i])
    }

    /// The average of a row over the periods its flag row marks; no value when none is.
    fn row_avg_where(&self, r: RowId, f: RowId) -> Result<Option<Decimal>, &'static str> {
        let (vals, flags) = (self.row_values(r)?, self.row_values(f)?);
        let mut acc = Decimal::ZERO;
        let mut n = 0u32;
        for (v, f) in vals.iter().zip(flags) {
            if *f == Decimal::ONE {
                acc = acc.checked_add(*v).ok_or(OVERFLOW)?;
                n += 1;
            }
        }
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(acc.checked_div(Decimal::from(n)).ok_or(OVERFLOW)?))
    }

    /// SUMPRODUCT of two rows, period by period, each step checked.
    fn sum_product(&self, a: RowId, b: RowId) -> EvalResult {
        let (a, b) = (self.row_values(a)?, self.row_values(b)?);
        let mut acc = Decimal::ZERO;
        for (x, y) in a.iter().zip(b) {
            acc = acc
                .checked_add(x.checked_mul(*y).ok_or(OVERFLOW)?)
                .ok_or(OVERFLOW)?;
        }
        Ok(acc)
    }
}

fn flag(b: bool) -> Decimal {
    if b { Decimal::ONE } else { Decimal::ZERO }
}

/// base^k for a whole k (negative k divides), exact to Decimal precision; None on overflow
/// or 0 to a negative power.
pub fn power(base: Decimal, k: i64) -> Option<Decimal> {
    if k < 0 {
        let p = power(base, -k)?;
        if p.is_zero() {
            return None;
        }
        return Decimal::ONE.checked_div(p);
    }
    base.checked_powi(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::key::{DealField, InputKey, OfftakeField};
    use rust_decimal_macros::dec;

    fn calc_with_rows() -> (Calc, RowId, RowId, RowId) {
        let mut c = Calc::new(2030, 4);
        c.section("Test");
        let year = c.row("Year", Unit::Year, Expr::Year);
        let flag = c.row(
            "After 2031",
            Unit::Flag,
            ge(Expr::Row(year), Expr::num(2031)),
        );
        let bal = c.row(
            "Balance",
            Unit::Money,
            Expr::Prev(RowId::new(2)) + Expr::num(10) * Expr::Row(flag),
        );
        (c, year, flag, bal)
    }

    #[test]
    fn rows_see_earlier_rows_this_period_and_any_row_last_period() {
        let (c, _, flag, bal) = calc_with_rows();
        let v = c.evaluate().expect("evaluates");
        assert_eq!(v.row(flag), &[dec!(0), dec!(1), dec!(1), dec!(1)]);
        assert_eq!(v.row(bal), &[dec!(0), dec!(10), dec!(20), dec!(30)]);
    }

    #[test]
    fn a_long_sum_becomes_a_chain_of_helper_rows_with_the_same_values() {
        let mut c = Calc::new(2030, 3);
        c.section("Test");
        let parts: Vec<RowId> = (0..300)
            .map(|i| {
                c.row(
                    format!("Part {i}"),
                    Unit::Money,
                    Expr::Num(Decimal::new(i * 7 + 1, 3)) * (Expr::Year - Expr::FirstYear),
                )
            })
            .collect();
        let total = c.row(
            "Total",
            Unit::Money,
            sum(parts.iter().map(|r| Expr::Row(*r)).collect()),
        );
        // A guarded division inside an IF stays where it is.
        let guarded = c.row(
            "Guarded",
            Unit::Money,
            if_(
                gt(Expr::Row(total), Expr::zero()),
                sum(parts
                    .iter()
                    .map(|r| div(Expr::Row(*r), Expr::Row(total)))
                    .collect()),
                Expr::zero(),
            ),
        );
        let before = c.evaluate().expect("evaluates");
        let rows = c.rows.len();
        let guarded_leaves = leaves(&c.rows[guarded].expr);
        c.chain_long_rows();
        assert_eq!(
            c.rows.len(),
            rows + 3,
            "300 leaves: three links of at most 96"
        );
        assert!(leaves(&c.rows[total].expr) <= CHAIN_LEAVES + 1);
        assert_eq!(c.rows[rows].label, "Total (part 1)");
        let at = |r: RowId| c.order.iter().position(|x| *x == r).expect("placed");
        let part = |k: usize| RowId::new(rows + k);
        assert!(at(part(2)) < at(total) && at(part(0)) < at(part(1)));
        assert_eq!(leaves(&c.rows[guarded].expr), guarded_leaves, "not chained");
        let after = c.evaluate().expect("evaluates");
        assert_eq!(before.row(total), after.row(total));
        assert_eq!(before.row(guarded), after.row(guarded));
    }

    #[test]
    fn a_reference_to_a_later_row_in_the_same_period_is_an_error_not_a_wrong_number() {
        let mut c = Calc::new(2030, 2);
        c.section("Test");
        c.row("Uses later row", Unit::Money, Expr::Row(RowId::new(1)));
        c.row("Later", Unit::Money, Expr::num(1));
        let err = c.evaluate().expect_err("must fail");
        assert_eq!(err.line, "Uses later row");
        assert_eq!(err.year, Some(2030));
    }

    #[test]
    fn a_reserved_row_is_evaluated_where_it_is_placed() {
        let mut c = Calc::new(2030, 3);
        c.section("Test");
        let balance = c.reserve("Balance", Unit::Money);
        let interest = c.row(
            "Interest",
            Unit::Money,
            Expr::Prev(balance) * Expr::num(dec!(0.1)),
        );
        c.place(
            balance,
            Expr::Prev(balance) + Expr::num(100) + Expr::Row(interest),
        );
        let v = c.evaluate().expect("evaluates");
        assert_eq!(v.row(balance), &[dec!(100), dec!(210), dec!(331)]);
        assert_eq!(c.order, vec![interest, balance]);
    }

    #[test]
    fn a_lag_reads_k_periods_back_and_zero_before_the_first() {
        let mut c = Calc::new(2030, 5);
        c.section("Test");
        let year = c.row("Year", Unit::Year, Expr::Year);
        let lagged = c.row(
            "Two back",
            Unit::Year,
            Expr::Lag(year, Box::new(Expr::num(2))),
        );
        let v = c.evaluate().expect("evaluates");
        assert_eq!(
            v.row(lagged),
            &[dec!(0), dec!(0), dec!(2030), dec!(2031), dec!(2032)]
        );
        c.row(
            "Bad",
            Unit::Year,
            Expr::Lag(year, Box::new(Expr::num(dec!(0.5)))),
        );
        assert_eq!(c.evaluate().expect_err("no lag").problem, BAD_LAG);
    }

    #[test]
    fn division_by_zero_names_the_line_and_year() {
        let mut c = Calc::new(2030, 3);
        c.section("Test");
        let y = c.row("Year", Unit::Year, Expr::Year);
        c.row(
            "Ratio",
            Unit::Ratio,
            div(Expr::one(), Expr::Row(y) - Expr::num(2031)),
        );
        let err = c.evaluate().expect_err("must fail");
        assert_eq!(err.to_string(), "a division by zero in 'Ratio' in 2031");
    }

    #[test]
    fn if_is_lazy_so_a_guarded_division_never_fails() {
        let mut c = Calc::new(2030, 2);
        c.section("Test");
        c.row(
            "Guarded",
            Unit::Ratio,
            safe_div(Expr::one(), Expr::zero(), Expr::num(7)),
        );
        let v = c.evaluate().expect("evaluates");
        assert_eq!(v.row(RowId::new(0)), &[dec!(7), dec!(7)]);
    }

    #[test]
    fn choose_clamps_its_index_like_the_written_formula() {
        let mut c = Calc::new(2030, 5);
        c.section("Test");
        let items = vec![Expr::num(10), Expr::num(20), Expr::num(30)];
        c.row(
            "Pick",
            Unit::Money,
            Expr::Choose(Box::new(Expr::Year - Expr::num(2030)), items),
        );
        let v = c.evaluate().expect("evaluates");
        assert_eq!(
            v.row(RowId::new(0)),
            &[dec!(10), dec!(10), dec!(20), dec!(30), dec!(30)]
        );
    }

    #[test]
    fn lookup_is_flat_before_and_after_the_series() {
        let mut c = Calc::new(2029, 5);
        c.section("Test");
        let a = c.input(
            dec!(100),
            Key::of(InputKey::PriceDeck {
                product: 0,
                year: 2030,
            }),
        );
        let b = c.input(
            dec!(110),
            Key::of(InputKey::PriceDeck {
                product: 0,
                year: 2031,
            }),
        );
        let (Expr::Input(a), Expr::Input(b)) = (a, b) else {
            panic!("inputs")
        };
        let s = c.add_series(2030, vec![a, b]);
        c.row("Price", Unit::Price, Expr::Lookup(s, Box::new(Expr::Year)));
        let v = c.evaluate().expect("evaluates");
        assert_eq!(
            v.row(RowId::new(0)),
            &[dec!(100), dec!(100), dec!(110), dec!(110), dec!(110)]
        );
    }

    #[test]
    fn powers_take_negative_whole_exponents_and_refuse_fractions() {
        assert_eq!(power(dec!(1.1), -1), Some(Decimal::ONE / dec!(1.1)));
        assert_eq!(power(dec!(2), 10), Some(dec!(1024)));
        let mut c = Calc::new(2030, 1);
        c.section("Test");
        c.row("Bad", Unit::Ratio, pow(Expr::num(2), Expr::num(dec!(0.5))));
        assert_eq!(c.evaluate().expect_err("fractional").problem, BAD_POW);
    }

    /// A varying input reaches a row placed earlier through the previous period, and a
    /// scalar through a whole-row aggregate: the partial evaluation finds both.
    fn calc_with_a_varying_input() -> (Calc, InputId, RowId, RowId, RowId, ScalarId) {
        let mut c = Calc::new(2030, 4);
        c.section("Test");
        let Expr::Input(price) = c.input(
            dec!(10),
            Key::of(InputKey::Offtake(0, OfftakeField::FixedPrice)),
        ) else {
            panic!("input")
        };
        let fixed = c.row("Fixed", Unit::Money, Expr::Year - Expr::num(2000));
        let balance = c.reserve("Balance", Unit::Money);
        let interest = c.row(
            "Interest",
            Unit::Money,
            Expr::Prev(balance) * Expr::num(dec!(0.1)),
        );
        c.place(
            balance,
            Expr::Prev(balance) + Expr::Input(price) + Expr::Row(interest),
        );
        let total = c.scalar("Total", Unit::Money, Expr::RowSum(interest), Stage::Post);
        (c, price, fixed, balance, interest, total)
    }

    #[test]
    fn a_partial_evaluation_gives_the_full_evaluation_digit_for_digit() {
        let (c, price, fixed, _, interest, total) = calc_with_a_varying_input();
        let plan = c
            .partial(&[price], None, &EvalOptions::default())
            .expect("plan");
        assert_eq!(
            plan.dependent_rows(),
            2,
            "interest (through Prev) and balance"
        );
        let mut values = plan.base().clone();
        for p in [dec!(10), dec!(3.5), dec!(-7), dec!(0)] {
            let mut inputs = c.input_values();
            inputs[price] = p;
            c.evaluate_partial(&plan, &inputs, &mut values)
                .expect("evaluates");
            let full = c
                .evaluate_with(&EvalOptions {
                    inputs: Some(&inputs),
                    skip_rates: false,
                })
                .expect("full");
            assert_eq!(values.rows, full.rows, "price {p}");
            assert_eq!(values.scalars, full.scalars, "price {p}");
        }
        assert_eq!(values.row(fixed), &[dec!(30), dec!(31), dec!(32), dec!(33)]);
        assert_eq!(values.row(interest)[0], dec!(0));
        assert_eq!(
            values.scalar(total),
            Some(dec!(0)),
            "price 0 leaves nothing"
        );
    }

    #[test]
    fn a_partial_evaluation_for_some_scalars_skips_what_they_do_not_read() {
        let (c, price, _, _, _, total) = calc_with_a_varying_input();
        let mut c = c;
        let unread = c.scalar(
            "Unread",
            Unit::Money,
            Expr::Input(price) * Expr::num(2),
            Stage::Post,
        );
        let plan = c
            .partial(&[price], Some(&[total]), &EvalOptions::default())
            .expect("plan");
        let mut values = plan.base().clone();
        let mut inputs = c.input_values();
        inputs[price] = dec!(20);
        c.evaluate_partial(&plan, &inputs, &mut values)
            .expect("evaluates");
        let full = c
            .evaluate_with(&EvalOptions {
                inputs: Some(&inputs),
                skip_rates: false,
            })
            .expect("full");
        assert_eq!(values.scalar(total), full.scalar(total));
        assert_eq!(
            values.scalar(unread),
            Some(dec!(20)),
            "the base value, not 40"
        );
    }

    /// A row may read a whole-run measure (a post scalar): it is evaluated in a later phase,
    /// after every row the measure reads, in full and partial evaluations alike; a row whose
    /// measure reads the row itself is refused.
    #[test]
    fn a_row_reading_a_post_scalar_is_evaluated_after_it() {
        let (mut c, price, _, balance, _, total) = calc_with_a_varying_input();
        let share = c.row(
            "Share of the total",
            Unit::Ratio,
            safe_div(Expr::Row(balance), Expr::Scalar(total), Expr::zero()),
        );
        let sum = c.scalar("Shares", Unit::Ratio, Expr::RowSum(share), Stage::Post);
        let v = c.evaluate().expect("evaluates");
        // Balance 10, 21, 33.1, 46.41; interest 0, 1, 2.1, 3.31 (total 6.41).
        assert_eq!(v.row(share)[1], dec!(21) / dec!(6.41));
        assert_eq!(v.scalar(sum), Some(v.row(share).iter().copied().sum()));
        assert_eq!(c.phases().expect("phases").steps.len(), 2);
        let plan = c
            .partial(&[price], None, &EvalOptions::default())
            .expect("plan");
        let mut values = plan.base().clone();
        let mut inputs = c.input_values();
        inputs[price] = dec!(3);
        c.evaluate_partial(&plan, &inputs, &mut values)
            .expect("partial");
        let full = c
            .evaluate_with(&EvalOptions {
                inputs: Some(&inputs),
                skip_rates: false,
            })
            .expect("full");
        assert_eq!(values.rows, full.rows);
        assert_eq!(values.scalars, full.scalars);
        let circular = c.reserve("Circular", Unit::Money);
        let measure = c.scalar("Measure", Unit::Money, Expr::RowSum(circular), Stage::Post);
        c.place(circular, Expr::Scalar(measure));
        assert_eq!(c.evaluate().expect_err("circular").problem, CIRCULAR);
    }

    #[test]
    fn a_partial_evaluation_refuses_a_change_it_was_not_prepared_for() {
        let (c, price, ..) = calc_with_a_varying_input();
        let plan = c.partial(&[], None, &EvalOptions::default()).expect("plan");
        let mut values = plan.base().clone();
        let mut inputs = c.input_values();
        inputs[price] = dec!(11);
        let err = c
            .evaluate_partial(&plan, &inputs, &mut values)
            .expect_err("refused");
        assert_eq!(err.problem, INPUT_OUTSIDE_PLAN);
    }

    #[test]
    fn inputs_are_registered_once_per_address() {
        let mut c = Calc::new(2030, 1);
        let addr = Key::of(InputKey::Deal(DealField::Horizon));
        let a = c.input(dec!(5), addr);
        let b = c.input(dec!(5), addr);
        assert_eq!(a, b);
        assert_eq!(c.inputs.len(), 1);
    }
}
