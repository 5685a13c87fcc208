//! The ledger and what is measured on it: each party's net cash flow (the sum of its
//! entries), its discounting, NPV, IRR, MIRR, payback, money multiple and peak exposure;
//! the project's unlevered and risked values; each government's fiscal position; each
//! tranche's cover ratios and losses; and the checks every run must pass.

use rust_decimal::Decimal;

use super::{
    BuildError, Builder, CheckLine, GovernmentLines, LedgerPartyKind, OfftakeLines, PROJECT,
    PartyLines, TrancheLines,
};
use crate::engine::calc::{
    EPS, Expr, FlowKind, RowId, ScalarId, Stage, Unit, abs, and, div, eq, ge, gt, if_, le, lt,
    max2, or, pos, pow, safe_div, sum,
};
use crate::model::key::{
    DealField, FacilityField, InputKey, ParticipantField, PartyField, TrancheField,
};
use crate::model::{PartyKind, Phase, SubsidyBasis, TrancheKind};

/// How a party discounts: one rate, or a per-year schedule folded into discount factors.
#[derive(Debug, Clone)]
pub enum Discount {
    Flat(Expr),
    /// The discount factor of each period (mid-year where the deal says so) and the rate
    /// of each period it was built from.
    Schedule {
        factors: RowId,
        rates: RowId,
    },
}

impl Builder<'_> {
    /// How far from zero a check's row may be: half a unit of the ledger (half a cent).
    /// Every row a check reads is a whole number of units in exact arithmetic, so in the
    /// engine this demands exactly zero; the half unit is only room for a recomputation of
    /// the workbook in floating point, which leaves far less.
    pub(super) fn check_tolerance(&self) -> Expr {
        Expr::num(Decimal::new(5, 1)) * pow(Expr::num(10), -self.ledger_digits.clone())
    }

    fn mid_year(&self) -> bool {
        self.deal.discounting.value == crate::model::Discounting::MidYear
    }

    /// The party's discounting (after any scenario change of rates).
    fn discount_of(&mut self, party: usize) -> Discount {
        let p = &self.parties[party];
        let (rate, name, schedule) = match p.deal_index {
            Some(k) => {
                let dp = &self.deal.parties[k];
                let rate = self.input(
                    dp.discount_rate.value,
                    InputKey::Party(k, PartyField::DiscountRate),
                );
                let schedule = if dp.rate_schedule.is_empty() {
                    None
                } else {
                    Some((k, dp.rate_schedule.clone()))
                };
                (rate, Some(dp.name.value.clone()), schedule)
            }
            None => (
                self.deal_input(self.deal.discount_rate.value, DealField::DiscountRate),
                None,
                None,
            ),
        };
        let change = self.rate_change(name.as_deref());
        match schedule {
            None => Discount::Flat(rate + change),
            Some((record, points)) => {
                let mut ids = Vec::new();
                for (year, r) in &points {
                    if let Expr::Input(id) = self.input(
                        r.value,
                        InputKey::DiscountRate {
                            party: record,
                            year: *year,
                        },
                    ) {
                        ids.push(id);
                    }
                }
                let first = points
                    .first()
                    .map(|(y, _)| *y)
                    .unwrap_or(self.deal.first_year());
                let series = self.c.add_series(first, ids);
                let pname = self.parties[party].name.clone();
                let rate_row = self.c.row(
                    format!("{pname}: discount rate"),
                    Unit::Percent,
                    Expr::Lookup(series, Box::new(Expr::Year)) + change,
                );
                let df = self
                    .c
                    .reserve(format!("{pname}: discount factor"), Unit::Ratio);
                let end = div(
                    if_(eq(Expr::Year, Expr::FirstYear), Expr::one(), Expr::Prev(df)),
                    Expr::one() + Expr::Row(rate_row),
                );
                self.c.place(df, end);
                if self.mid_year() {
                    let mid = self.c.row(
                        format!("{pname}: mid-year discount factor"),
                        Unit::Ratio,
                        Expr::Row(df) * Expr::Sqrt(Box::new(Expr::one() + Expr::Row(rate_row))),
                    );
                    Discount::Schedule {
                        factors: mid,
                        rates: rate_row,
                    }
                } else {
                    Discount::Schedule {
                        factors: df,
                        rates: rate_row,
                    }
                }
            }
        }
    }

    /// NPV of a row, valued at the model start, as the party discounts.
    fn npv_of(&self, discount: &Discount, row: RowId) -> Expr {
        match discount {
            Discount::Flat(rate) => {
                let npv = Expr::Npv(Box::new(rate.clone()), row);
                if self.mid_year() {
                    npv * Expr::Sqrt(Box::new(Expr::one() + rate.clone()))
                } else {
                    npv
                }
            }
            Discount::Schedule { factors, .. } => Expr::SumProduct(row, *factors),
        }
    }

    /// The one rate MIRR takes for both finance and reinvestment: the party's flat rate, or
    /// its schedule's rate in the model's first year (after any scenario change). A rate,
    /// never a discount factor read back: under mid-year discounting the factor carries
    /// √(1+r), which is timing, not a rate.
    fn mirr_rate(&self, discount: &Discount) -> Expr {
        match discount {
            Discount::Flat(rate) => rate.clone(),
            Discount::Schedule { rates, .. } => Expr::RowAt(*rates, Box::new(Expr::one())),
        }
    }

    pub(super) fn build_ledger(&mut self) -> Result<(), BuildError> {
        self.c.section("Ledger");
        let mut nets = Vec::new();
        for p in 0..self.parties.len() {
            let mut items = Vec::new();
            for &r in &self.flows {
                if let Some(tag) = &self.c.rows[r].ledger {
                    if tag.payee == p {
                        items.push(Expr::Row(r));
                    }
                    if tag.payer == p {
                        items.push(-Expr::Row(r));
                    }
                }
            }
            let name = self.parties[p].name.clone();
            nets.push(
                self.c
                    .row(format!("{name}: net cash flow"), Unit::Money, sum(items)),
            );
        }
        self.party_nets = nets;
        Ok(())
    }

    pub(super) fn build_metrics(&mut self) -> Result<(), BuildError> {
        self.c.section("Party metrics");
        let mut discounts = Vec::new();
        for p in 0..self.parties.len() {
            let net = self.party_nets[p];
            let name = self.parties[p].name.clone();
            let discount = self.discount_of(p);
            // The project company and the outside world are kept in the ledger, never
            // measured: an NPV of Market's purchases is no one's value.
            if !matches!(self.parties[p].kind, LedgerPartyKind::Deal(_)) {
                let na = match self.lines.not_measured {
                    Some(s) => s,
                    None => {
                        let s = self.c.scalar(
                            "Not measured: the project company and the parties outside the deal (kept in the ledger only)",
                            Unit::Money,
                            Expr::Na,
                            Stage::Post,
                        );
                        self.lines.not_measured = Some(s);
                        s
                    }
                };
                let cumulative = self
                    .c
                    .reserve(format!("{name}: cumulative cash flow"), Unit::Money);
                self.c
                    .place(cumulative, Expr::Prev(cumulative) + Expr::Row(net));
                self.lines.parties.push(PartyLines {
                    net,
                    cumulative,
                    ledger_only: true,
                    offtake: None,
                    npv: na,
                    irr: na,
                    mirr: na,
                    payback: na,
                    money_multiple: na,
                    peak_exposure: na,
                    rates: Vec::new(),
                });
                discounts.push(discount);
                continue;
            }
            let offtake = self.offtake_position(p, net);
            let measured = offtake.as_ref().map(|o| o.position).unwrap_or(net);
            let cumulative = self
                .c
                .reserve(format!("{name}: cumulative cash flow"), Unit::Money);
            self.c
                .place(cumulative, Expr::Prev(cumulative) + Expr::Row(measured));
            let been_negative = self
                .c
                .reserve(format!("{name}: has been out of pocket"), Unit::Flag);
            let paid_back = self.c.row(
                format!("{name}: paid back"),
                Unit::Flag,
                and(vec![
                    Expr::Prev(been_negative),
                    ge(Expr::Row(cumulative), Expr::zero()),
                ]),
            );
            self.c.place(
                been_negative,
                or(vec![
                    Expr::Prev(been_negative),
                    lt(Expr::Row(cumulative), -Expr::Num(EPS)),
                ]),
            );
            let npv_label = if offtake.is_some() {
                format!("{name}: NPV (value of its contracts)")
            } else {
                format!("{name}: NPV")
            };
            let npv = self.c.scalar(
                npv_label,
                Unit::Money,
                self.npv_of(&discount, measured),
                Stage::Post,
            );
            let irr = self.c.scalar(
                format!("{name}: IRR"),
                Unit::Percent,
                Expr::Irr(measured, Box::new(Expr::num(Decimal::new(1, 1)))),
                Stage::Post,
            );
            let rate = self.mirr_rate(&discount);
            let mirr = self.c.scalar(
                format!("{name}: MIRR"),
                Unit::Percent,
                Expr::Mirr(measured, Box::new(rate.clone()), Box::new(rate)),
                Stage::Post,
            );
            let payback = self.c.scalar(
                format!("{name}: payback year"),
                Unit::Year,
                Expr::FirstYearWhere(paid_back),
                Stage::Post,
            );
            let out = -Expr::RowSumIf(measured, false);
            let multiple = if_(
                le(out.clone(), Expr::Num(EPS)),
                Expr::Na,
                div(Expr::RowSumIf(measured, true), out),
            );
            let money_multiple = self.c.scalar(
                format!("{name}: money multiple"),
                Unit::Ratio,
                multiple,
                Stage::Post,
            );
            let peak = self.c.scalar(
                format!("{name}: peak exposure"),
                Unit::Money,
                pos(-Expr::RowMin(cumulative)),
                Stage::Post,
            );
            self.lines.parties.push(PartyLines {
                net,
                cumulative,
                ledger_only: false,
                offtake,
                npv,
                irr,
                mirr,
                payback,
                money_multiple,
                peak_exposure: peak,
                rates: Vec::new(),
            });
            discounts.push(discount);
        }
        self.build_project_metrics(&discounts[PROJECT])?;
        self.build_tranche_metrics()?;
        self.build_government_metrics(&discounts)?;
        Ok(())
    }

    /// An offtaker's position: its cash flows plus the market value of the tonnes it takes
    /// under its contracts (None for a party that buys nothing, or is not an offtaker: a
    /// sponsor or a government that buys is measured on its cash).
    fn offtake_position(&mut self, p: usize, net: RowId) -> Option<OfftakeLines> {
        if self.parties[p].kind != LedgerPartyKind::Deal(PartyKind::Offtaker) {
            return None;
        }
        let goods: Vec<(usize, RowId)> = self
            .ops
            .goods
            .iter()
            .filter(|(_, buyer, _)| *buyer == p)
            .map(|(c, _, r)| (*c, *r))
            .collect();
        if goods.is_empty() {
            return None;
        }
        let name = self.parties[p].name.clone();
        let value = if goods.len() == 1 {
            goods[0].1
        } else {
            self.c.row(
                format!("{name}: market value of the tonnes it takes"),
                Unit::Money,
                sum(goods.iter().map(|(_, r)| Expr::Row(*r)).collect()),
            )
        };
        let position = self.c.row(
            format!("{name}: position (cash flows and the market value of what it takes)"),
            Unit::Money,
            Expr::Row(net) + Expr::Row(value),
        );
        let taken: Vec<Expr> = self
            .ops
            .taken
            .iter()
            .filter(|(c, _)| goods.iter().any(|(g, _)| g == c))
            .map(|(_, r)| Expr::RowSum(*r))
            .collect();
        let tonnes = self.c.scalar(
            format!("{name}: tonnes secured"),
            Unit::Tonnes,
            sum(taken),
            Stage::Post,
        );
        Some(OfftakeLines {
            goods: value,
            position,
            tonnes,
        })
    }

    fn build_project_metrics(&mut self, discount: &Discount) -> Result<(), BuildError> {
        self.c.section("Project metrics");
        let (Some(pre), Some(post)) = (self.lines.project.pre_tax, self.lines.project.post_tax)
        else {
            return Err(BuildError("project cash flows missing".into()));
        };
        let guess = Box::new(Expr::num(Decimal::new(1, 1)));
        self.lines.project.npv_pre_tax = Some(self.c.scalar(
            "Project: unlevered NPV before tax",
            Unit::Money,
            self.npv_of(discount, pre),
            Stage::Post,
        ));
        self.lines.project.irr_pre_tax = Some(self.c.scalar(
            "Project: unlevered IRR before tax",
            Unit::Percent,
            Expr::Irr(pre, guess.clone()),
            Stage::Post,
        ));
        let npv_post = self.c.scalar(
            "Project: unlevered NPV after tax",
            Unit::Money,
            self.npv_of(discount, post),
            Stage::Post,
        );
        self.lines.project.npv_post_tax = Some(npv_post);
        self.lines.project.irr_post_tax = Some(self.c.scalar(
            "Project: unlevered IRR after tax",
            Unit::Percent,
            Expr::Irr(post, guess),
            Stage::Post,
        ));

        // Risked NPV: the value reached at each stage gate, weighted by the chance of
        // failing exactly there; the full NPV weighted by the chance of passing them all.
        let factor = match discount {
            Discount::Flat(rate) => {
                let df = pow(
                    Expr::one() + rate.clone(),
                    -(Expr::Year - Expr::FirstYear + Expr::one()),
                );
                let df = if self.mid_year() {
                    df * Expr::Sqrt(Box::new(Expr::one() + rate.clone()))
                } else {
                    df
                };
                self.c.row("Project: discount factor", Unit::Ratio, df)
            }
            Discount::Schedule { factors, .. } => *factors,
        };
        let cumulative = self.c.reserve(
            "Project: cumulative unlevered cash flow after tax",
            Unit::Money,
        );
        self.c
            .place(cumulative, Expr::Prev(cumulative) + Expr::Row(post));
        self.lines.project.cumulative = Some(cumulative);
        let cumulative_pv = self.c.reserve(
            "Project: cumulative discounted cash flow after tax",
            Unit::Money,
        );
        self.c.place(
            cumulative_pv,
            Expr::Prev(cumulative_pv) + Expr::Row(post) * Expr::Row(factor),
        );
        self.lines.project.risked_npv = Some(self.build_risked_npv(cumulative_pv, npv_post));
        let total = |b: &mut Self, row: Option<RowId>, label: &str| {
            row.map(|r| b.c.scalar(label, Unit::Money, Expr::RowSum(r), Stage::Post))
        };
        self.lines.project.funding_gap = total(self, self.fin.dev_gap, "Project: unfunded gap");
        self.lines.project.completion_support = total(
            self,
            self.fin.completion_support,
            "Project: sponsors' completion support",
        );
        self.lines.project.deficit_support = total(
            self,
            self.fin.deficit_support,
            "Project: equity support for cash deficits",
        );
        let overrun: Vec<Expr> = self
            .fin
            .tranches
            .iter()
            .filter_map(|t| t.overrun)
            .map(Expr::RowSum)
            .collect();
        self.lines.project.overrun_equity = Some(self.c.scalar(
            "Project: sponsors' overrun equity",
            Unit::Money,
            sum(overrun),
            Stage::Post,
        ));
        Ok(())
    }

    /// Risked NPV: the value reached at each stage gate (the cumulative discounted cash flow
    /// then), weighted by the chance of failing exactly there; the full NPV weighted by the
    /// chance of passing them all.
    fn build_risked_npv(
        &mut self,
        cumulative_pv: RowId,
        npv_post: crate::engine::calc::ScalarId,
    ) -> crate::engine::calc::ScalarId {
        let mut gates = Vec::new();
        for (i, f) in self.deal.facilities.iter().enumerate() {
            let tl = &self.t.facilities[i];
            for (phase, probability) in f.gates.in_order() {
                let next = crate::engine::rules::timeline::phase_index(phase) + 1;
                let gate_year = tl.starts[next].clone() - Expr::one();
                let field = FacilityField::gate(phase);
                let base_year = self.base_gate_year(i, phase);
                gates.push((base_year, i, next, gate_year, probability.value, field));
            }
        }
        gates.sort_by_key(|(y, i, next, ..)| (*y, *i, *next));
        // One line per gate for the value lost by failing there and one for the chance of
        // passing it (the chance before it times its probability), so that the workbook
        // grows linearly with the gates; a single formula held a product of every earlier
        // probability in every term and grew with their square. The multiplications happen
        // in the same order as in that formula.
        let mut reach = Expr::one();
        let mut terms = Vec::new();
        for (_, i, _, gate_year, p, field) in gates {
            let facility = self.deal.facilities[i].name.value.clone();
            let gate = field.gate_phase().map_or("", |p| p.label());
            let p = self.input(p, InputKey::Facility(i, field));
            let index = gate_year.clone() - Expr::FirstYear + Expr::one();
            let value = if_(
                lt(gate_year, Expr::FirstYear),
                Expr::zero(),
                Expr::RowAt(cumulative_pv, Box::new(index)),
            );
            let lost = self.c.scalar(
                format!("Project: value if '{facility}' fails at {gate}, times its chance"),
                Unit::Money,
                reach.clone() * (Expr::one() - p.clone()) * value,
                Stage::Post,
            );
            terms.push(Expr::Scalar(lost));
            let passed = self.c.scalar(
                format!("Project: chance of passing every gate to '{facility}' {gate}"),
                Unit::Percent,
                reach * p,
                Stage::Post,
            );
            reach = Expr::Scalar(passed);
        }
        let all = self.c.scalar(
            "Project: NPV after tax if every gate is passed, times its chance",
            Unit::Money,
            reach * Expr::Scalar(npv_post),
            Stage::Post,
        );
        terms.push(Expr::Scalar(all));
        self.c.sum_scalar(
            "Project: risked NPV (stage gates)",
            Unit::Money,
            terms,
            Stage::Post,
        )
    }

    /// The base-case year of a stage gate, used only to order gates.
    fn base_gate_year(&self, i: usize, phase: Phase) -> i32 {
        let f = &self.deal.facilities[i];
        let mut year = f.start_year.value;
        for p in Phase::SCHEDULED {
            year += f.phase_years(p) as i32;
            if p == phase {
                break;
            }
        }
        year - 1
    }

    fn build_tranche_metrics(&mut self) -> Result<(), BuildError> {
        self.c.section("Tranche metrics");
        let deal = self.deal;
        for (i, t) in deal.tranches.iter().enumerate() {
            let name = t.name.value.clone();
            let r = self.fin.tranches[i].clone();
            let mut lines = TrancheLines {
                tranche: i,
                balance: r.outstanding.or(r.drawn).or(r.exposure),
                draws: r.draws,
                dscr_min: None,
                dscr_avg: None,
                dscr: r.dscr,
                covenant: r.covenant,
                llcr: None,
                loss: None,
                loss_pct: None,
                loss_after_guarantee: None,
                default_year: None,
                exposure_at_default: None,
                recoveries_pv: None,
                shortfall: None,
                first_arrears_year: None,
                disbursed: None,
                calls: None,
            };
            if let (Some(dscr), Some(tested)) = (r.dscr, r.tested) {
                lines.dscr_min = Some(self.c.scalar(
                    format!("{name}: minimum DSCR"),
                    Unit::Ratio,
                    Expr::RowMinWhere(dscr, tested),
                    Stage::Post,
                ));
                lines.dscr_avg = Some(self.c.scalar(
                    format!("{name}: average DSCR"),
                    Unit::Ratio,
                    Expr::RowAvgWhere(dscr, tested),
                    Stage::Post,
                ));
            }
            if t.kind.value.is_loan() {
                let disbursed = Expr::RowSum(r.draws.unwrap_or_default())
                    + r.capitalised.map(Expr::RowSum).unwrap_or_else(Expr::zero);
                let disbursed = self.c.scalar(
                    format!("{name}: disbursed (drawn and capitalised)"),
                    Unit::Money,
                    disbursed,
                    Stage::Post,
                );
                if let Some(loss) = r.loss {
                    lines.loss = Some(loss.lgd);
                    lines.loss_pct = Some(loss.lgd_pct);
                    lines.loss_after_guarantee = Some(loss.after_guarantees);
                    lines.default_year = Some(loss.default_year);
                    lines.exposure_at_default = Some(loss.ead);
                    lines.recoveries_pv = Some(loss.pv_recoveries);
                    lines.shortfall = Some(loss.shortfall);
                }
                lines.disbursed = Some(disbursed);
                if let Some(a) = r.in_arrears {
                    lines.first_arrears_year = Some(self.c.scalar(
                        format!("{name}: first year in arrears"),
                        Unit::Year,
                        Expr::FirstYearWhere(a),
                        Stage::Post,
                    ));
                }
                // LLCR at the first repayment year: CFADS over the loan's remaining life,
                // discounted at its rate, over the debt of its rank and above then.
                if let (Some(cfads), Some(open)) = (self.fin.cfads, r.senior_debt_open) {
                    let rate = self.input(
                        t.interest_rate.value,
                        InputKey::Tranche(i, TrancheField::InterestRate),
                    );
                    let grace = self.input(
                        t.grace_years.value.into(),
                        InputKey::Tranche(i, TrancheField::Grace),
                    );
                    let tenor = self.input(
                        t.tenor_years.value.into(),
                        InputKey::Tranche(i, TrancheField::Tenor),
                    );
                    let first = self.t.cod.clone() + grace;
                    let maturity = self.t.cod.clone() + tenor - Expr::one();
                    let life = self.c.row(
                        format!("{name}: CFADS over the loan life from first repayment"),
                        Unit::Money,
                        Expr::Row(cfads)
                            * and(vec![
                                ge(Expr::Year, first.clone()),
                                le(Expr::Year, maturity),
                            ]),
                    );
                    let k = first - Expr::FirstYear + Expr::one();
                    let debt = Expr::RowAt(open, Box::new(k.clone()));
                    let value = Expr::Npv(Box::new(rate.clone()), life)
                        * pow(Expr::one() + rate, k.clone() - Expr::one());
                    let periods = Expr::num(self.c.periods as u64);
                    let llcr = if_(
                        or(vec![gt(k, periods), le(debt.clone(), Expr::Num(EPS))]),
                        Expr::Na,
                        div(value, debt),
                    );
                    lines.llcr = Some(self.c.scalar(
                        format!("{name}: LLCR at first repayment"),
                        Unit::Ratio,
                        llcr,
                        Stage::Post,
                    ));
                }
            }
            if let Some(call) = r.call {
                lines.calls = Some(self.c.scalar(
                    format!("{name}: guarantee calls"),
                    Unit::Money,
                    Expr::RowSum(call),
                    Stage::Post,
                ));
            }
            self.lines.tranches.push(lines);
        }
        Ok(())
    }

    /// The horizon's total of some ledger flows. Over a handful of flows it is one sum of
    /// their row totals; over more (a royalty from each of hundreds of facilities), a line of
    /// their yearly sum first, which the chaining of long lines keeps within Excel's formula
    /// length (a scalar's formula is not chained), then its total.
    fn total_of_flows(&mut self, label: String, rows: &[RowId]) -> ScalarId {
        let total = if rows.len() <= 8 {
            sum(rows.iter().map(|r| Expr::RowSum(*r)).collect())
        } else {
            let yearly = self.c.row(
                format!("{label} (by year)"),
                Unit::Money,
                sum(rows.iter().map(|r| Expr::Row(*r)).collect()),
            );
            Expr::RowSum(yearly)
        };
        self.c.scalar(label, Unit::Money, total, Stage::Post)
    }

    fn build_government_metrics(&mut self, discounts: &[Discount]) -> Result<(), BuildError> {
        self.c.section("Government metrics");
        let deal = self.deal;
        for (p, discount) in discounts.iter().enumerate() {
            if self.parties[p].kind != LedgerPartyKind::Deal(PartyKind::Government) {
                continue;
            }
            let name = self.parties[p].name.clone();
            let discount = discount.clone();
            let mut receipts: std::collections::BTreeMap<FlowKind, Vec<RowId>> = Default::default();
            let mut payments: std::collections::BTreeMap<FlowKind, Vec<RowId>> = Default::default();
            for &r in &self.flows {
                if let Some(tag) = &self.c.rows[r].ledger {
                    if tag.payee == p {
                        receipts.entry(tag.kind).or_default().push(r);
                    }
                    if tag.payer == p {
                        payments.entry(tag.kind).or_default().push(r);
                    }
                }
            }
            let receipt_lines: Vec<(FlowKind, ScalarId)> = receipts
                .into_iter()
                .map(|(kind, rows)| {
                    let label = format!("{name}: receipts, {}", kind.label());
                    (kind, self.total_of_flows(label, &rows))
                })
                .collect();
            let payment_lines: Vec<(FlowKind, ScalarId)> = payments
                .into_iter()
                .map(|(kind, rows)| {
                    let label = format!("{name}: payments, {}", kind.label());
                    (kind, self.total_of_flows(label, &rows))
                })
                .collect();
            let paid: Vec<Expr> = payment_lines
                .iter()
                .map(|(_, s)| Expr::Scalar(*s))
                .collect();
            let received: Vec<Expr> = receipt_lines
                .iter()
                .map(|(_, s)| Expr::Scalar(*s))
                .collect();
            let net_outlay = self.c.scalar(
                format!("{name}: net outlay (payments less receipts)"),
                Unit::Money,
                sum(paid) - sum(received),
                Stage::Post,
            );
            let fiscal_npv = self.lines.parties[p].npv;
            let peak = self.lines.parties[p].peak_exposure;
            // Supply secured: tonnes taken by offtakers of the government's country.
            let country = self.parties[p]
                .deal_index
                .and_then(|k| deal.parties[k].country.as_ref().map(|c| c.value.clone()));
            let mut secured = Vec::new();
            for (c, taken) in &self.ops.taken {
                let buyer = &deal.offtakes[*c].buyer.value;
                let buyer_country = deal
                    .party(buyer)
                    .and_then(|b| b.country.as_ref().map(|c| c.value.clone()));
                if country.is_some() && buyer_country == country {
                    secured.push(Expr::RowSum(*taken));
                }
            }
            let secured = self.c.scalar(
                format!("{name}: tonnes secured by its offtakers"),
                Unit::Tonnes,
                sum(secured),
                Stage::Post,
            );
            let per_tonne = if_(
                le(Expr::Scalar(secured), Expr::Num(EPS)),
                Expr::Na,
                div(-Expr::Scalar(fiscal_npv), Expr::Scalar(secured)),
            );
            let cost_per_tonne = self.c.scalar(
                format!("{name}: fiscal cost per tonne secured"),
                Unit::PerTonne,
                per_tonne,
                Stage::Post,
            );
            let guarantee_calls = self.c.scalar(
                format!("{name}: guarantee calls paid"),
                Unit::Money,
                self.total_paid(p, FlowKind::GuaranteeCall),
                Stage::Post,
            );
            let floor_payout = self.c.scalar(
                format!("{name}: price floor paid"),
                Unit::Money,
                self.total_paid(p, FlowKind::FloorSupport),
                Stage::Post,
            );
            // Contingent liability: guarantees outstanding and this year's floor exposure.
            let mut contingent = Vec::new();
            for (g, t) in deal.tranches.iter().enumerate() {
                if t.kind.value != TrancheKind::Guarantee {
                    continue;
                }
                let Some(exposure) = self.fin.tranches[g].exposure else {
                    continue;
                };
                for (party, share, record) in self.participant_records(g) {
                    if party == name {
                        let share = self.input(
                            share,
                            InputKey::Participant(record, ParticipantField::Share),
                        );
                        contingent.push(self.book(Expr::Row(exposure) * share));
                    }
                }
            }
            for (s, _, exposure) in self.ops.floors.clone() {
                if deal.price_supports[s].supporter.value == name {
                    contingent.push(Expr::Row(exposure));
                }
            }
            let contingent = self.c.row(
                format!("{name}: contingent liability (guarantees and floors)"),
                Unit::Money,
                sum(contingent),
            );
            // Subsidy cost of each loan it takes part in (US credit reform): the PV of its
            // disbursements less the PV of what comes back, as a share of the disbursements
            // (their PV, or as paid, as the deal says).
            let mut loan_subsidy = Vec::new();
            for (i, t) in deal.tranches.iter().enumerate() {
                if !t.kind.value.is_loan() {
                    continue;
                }
                let flows: Vec<(RowId, FlowKind)> = self.fin.tranches[i]
                    .flows
                    .iter()
                    .filter(|(party, ..)| *party == p)
                    .map(|(_, r, k)| (*r, *k))
                    .collect();
                let Some((disbursement, _)) = flows
                    .iter()
                    .find(|(_, k)| *k == FlowKind::Disbursement)
                    .copied()
                else {
                    continue;
                };
                let items: Vec<Expr> = flows
                    .iter()
                    .map(|(r, k)| {
                        if *k == FlowKind::Disbursement {
                            -Expr::Row(*r)
                        } else {
                            Expr::Row(*r)
                        }
                    })
                    .collect();
                let row = self.c.row(
                    format!("{name}: cash flows of {}", t.name.value),
                    Unit::Money,
                    sum(items),
                );
                let pv_out = match deal.subsidy_basis.value {
                    SubsidyBasis::PresentValue => self.npv_of(&discount, disbursement),
                    SubsidyBasis::Nominal => Expr::RowSum(disbursement),
                };
                let pv_net = self.npv_of(&discount, row);
                let subsidy = if_(
                    le(pv_out.clone(), Expr::Num(EPS)),
                    Expr::Na,
                    div(-pv_net, pv_out),
                );
                loan_subsidy.push((
                    i,
                    self.c.scalar(
                        format!(
                            "{name}: subsidy cost of {} (% of {})",
                            t.name.value,
                            match deal.subsidy_basis.value {
                                SubsidyBasis::PresentValue => "the PV of disbursements",
                                SubsidyBasis::Nominal => "disbursements as paid",
                            }
                        ),
                        Unit::Percent,
                        subsidy,
                        Stage::Post,
                    ),
                ));
            }
            self.lines.governments.push(GovernmentLines {
                party: p,
                fiscal_npv,
                net_outlay,
                receipts: receipt_lines,
                payments: payment_lines,
                cost_per_tonne,
                secured_tonnes: secured,
                peak_exposure: peak,
                guarantee_calls,
                floor_payout,
                contingent_liability: contingent,
                loan_subsidy,
            });
        }
        Ok(())
    }

    /// A check on a row that must stay within tolerance of zero in every period.
    pub(super) fn zero_check(&mut self, name: String, row: RowId) {
        let deviation = self.c.scalar(
            format!("{name}: largest deviation"),
            Unit::Money,
            max2(abs(Expr::RowMax(row)), abs(Expr::RowMin(row))),
            Stage::Post,
        );
        let ok = self.c.scalar(
            format!("{name}: holds"),
            Unit::Flag,
            le(Expr::Scalar(deviation), self.check_tolerance()),
            Stage::Post,
        );
        self.lines.checks.push(CheckLine {
            name,
            ok,
            deviation,
        });
    }

    /// A check that a row never goes below zero.
    fn non_negative_check(&mut self, name: String, row: RowId) {
        let deviation = self.c.scalar(
            format!("{name}: largest shortfall"),
            Unit::Money,
            pos(-Expr::RowMin(row)),
            Stage::Post,
        );
        let ok = self.c.scalar(
            format!("{name}: holds"),
            Unit::Flag,
            le(Expr::Scalar(deviation), self.check_tolerance()),
            Stage::Post,
        );
        self.lines.checks.push(CheckLine {
            name,
            ok,
            deviation,
        });
    }

    pub(super) fn build_checks(&mut self) -> Result<(), BuildError> {
        self.c.section("Checks");
        let nets: Vec<Expr> = self.party_nets.iter().map(|r| Expr::Row(*r)).collect();
        let ledger = self.c.row(
            "Ledger: sum of every party's net cash flow",
            Unit::Money,
            sum(nets),
        );
        self.zero_check("The ledger balances in every period".into(), ledger);

        let cash = self
            .fin
            .cash
            .ok_or_else(|| BuildError("cash account missing".into()))?;
        let dsras: Vec<RowId> = self.fin.tranches.iter().filter_map(|t| t.dsra).collect();
        let accounts = self.c.row(
            "Project cash and reserves",
            Unit::Money,
            Expr::Row(cash) + sum(dsras.iter().map(|r| Expr::Row(*r)).collect()),
        );
        self.non_negative_check("The project's cash never goes negative".into(), cash);
        let corkscrew =
            Expr::Prev(accounts) + Expr::Row(self.party_nets[PROJECT]) - Expr::Row(accounts);
        let corkscrew = self.c.row(
            "Project accounts: opening + net cash flow − closing",
            Unit::Money,
            corkscrew,
        );
        self.zero_check(
            "The project's cash and reserves move by its net cash flow".into(),
            corkscrew,
        );

        // Sources and uses in development.
        let dev = Expr::Row(self.t.dev);
        let mut uses = vec![
            -Self::row_of_opt(self.fin.cash_flow),
            Self::row_of_opt(self.fin.fees_dev),
            Self::row_of_opt(self.fin.dsra_init_total),
        ];
        let mut capitalised = Vec::new();
        for t in &self.fin.tranches {
            if let Some(i) = t.interest {
                uses.push(Expr::Row(i));
            }
            if let Some(c) = t.capitalised {
                capitalised.push(Expr::Row(c));
            }
        }
        let uses = self.c.row(
            "Uses in development (net costs, fees, interest, initial DSRA)",
            Unit::Money,
            dev.clone() * sum(uses),
        );
        let sources = self.c.row(
            "Sources in development (drawdowns, capitalised interest, overrun equity, completion support, unfunded gap)",
            Unit::Money,
            dev.clone() * (Self::row_of_opt(self.dev_sources) + sum(capitalised)),
        );
        let difference = self.c.row(
            "Sources − uses − change in cash (development)",
            Unit::Money,
            Expr::Row(sources) - Expr::Row(uses) - dev * (Expr::Row(cash) - Expr::Prev(cash)),
        );
        self.zero_check("Sources equal uses".into(), difference);
        if self.fin.completion_support.is_none()
            && let Some(gap) = self.fin.dev_gap
        {
            self.zero_check(
                "No unfunded gap in development (the deal has no completion support)".into(),
                gap,
            );
        }

        for (i, t) in self.deal.tranches.iter().enumerate() {
            let name = t.name.value.clone();
            let r = self.fin.tranches[i].clone();
            if let Some(out) = r.outstanding {
                let expr =
                    Expr::Prev(out) + Self::row_of_opt(r.draws) + Self::row_of_opt(r.interest)
                        - Self::row_of_opt(r.interest_paid)
                        - Self::row_of_opt(r.principal_paid)
                        - Self::row_of_opt(r.write_off)
                        - Expr::Row(out);
                let row = self.c.row(
                    format!("{name}: opening + draws + interest − paid − written off − closing"),
                    Unit::Money,
                    expr,
                );
                self.zero_check(format!("{name}: balance corkscrew"), row);
                if let Some(p) = r.principal {
                    self.non_negative_check(format!("{name}: balance never negative"), p);
                }
            }
            if let Some(dsra) = r.dsra {
                let expr = Expr::Prev(dsra)
                    + Self::row_of_opt(r.dsra_init)
                    + Self::row_of_opt(r.dsra_topup)
                    - Self::row_of_opt(r.dsra_draw)
                    - Self::row_of_opt(r.dsra_release)
                    - Expr::Row(dsra);
                let row = self.c.row(
                    format!("{name}: DSRA opening + funding − draws − releases − closing"),
                    Unit::Money,
                    expr,
                );
                self.zero_check(format!("{name}: DSRA corkscrew"), row);
            }
        }
        self.output_checks();
        let _ = (
            eq(Expr::zero(), Expr::zero()),
            safe_div(Expr::zero(), Expr::one(), Expr::zero()),
        );
        Ok(())
    }

    /// Everything party `p` pays in flows of one kind, over the whole horizon.
    fn total_paid(&self, p: usize, kind: FlowKind) -> Expr {
        sum(self
            .flows
            .iter()
            .filter(|r| {
                self.c.rows[**r]
                    .ledger
                    .as_ref()
                    .is_some_and(|t| t.payer == p && t.kind == kind)
            })
            .map(|r| Expr::RowSum(*r))
            .collect())
    }

    fn row_of_opt(r: Option<RowId>) -> Expr {
        r.map(Expr::Row).unwrap_or_else(Expr::zero)
    }
}
