//! The ledger and what is measured on it: each party's net cash flow (the sum of its
//! entries), its discounting, NPV, IRR, MIRR, payback, money multiple and peak exposure.
//! What is measured beyond the parties lives beside it, each in its own file: the project's
//! unlevered and risked values (project_metrics.rs), each tranche's cover ratios and losses
//! (tranche_metrics.rs), each government's fiscal position (government.rs), and the checks
//! every run must pass (checks.rs).

use rust_decimal::Decimal;

use super::{BuildError, Builder, LedgerPartyKind, OfftakeLines, PROJECT, PartyLines};
use crate::engine::calc::{
    EPS, Expr, RowId, ScalarId, Stage, Unit, and, div, eq, ge, if_, le, lt, or, pos, sum,
};
use crate::model::PartyKind;
use crate::model::key::{DealField, InputKey, PartyField};

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
    pub(super) fn mid_year(&self) -> bool {
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
    pub(super) fn npv_of(&self, discount: &Discount, row: RowId) -> Expr {
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

    /// Each party's measures (a ledger-only party's have no value), then the project's, the
    /// tranches' and the governments'.
    pub(super) fn build_metrics(&mut self) -> Result<(), BuildError> {
        self.c.section("Party metrics");
        let mut discounts = Vec::new();
        for p in 0..self.parties.len() {
            let discount = self.discount_of(p);
            // The project company and the outside world are kept in the ledger, never
            // measured: an NPV of Market's purchases is no one's value.
            let lines = if matches!(self.parties[p].kind, LedgerPartyKind::Deal(_)) {
                self.measured_party(p, &discount)
            } else {
                self.ledger_only_party(p)
            };
            self.lines.parties.push(lines);
            discounts.push(discount);
        }
        self.build_project_metrics(&discounts[PROJECT])?;
        self.build_tranche_metrics()?;
        self.build_government_metrics(&discounts)?;
        Ok(())
    }

    /// A party kept in the ledger only: its running total, and every metric the one scalar
    /// without a value.
    fn ledger_only_party(&mut self, p: usize) -> PartyLines {
        let net = self.party_nets[p];
        let name = self.parties[p].name.clone();
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
        PartyLines {
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
        }
    }

    /// A deal party measured on its cash flows (an offtaker on its position): NPV, IRR,
    /// MIRR, payback, money multiple and peak exposure.
    fn measured_party(&mut self, p: usize, discount: &Discount) -> PartyLines {
        let net = self.party_nets[p];
        let name = self.parties[p].name.clone();
        let offtake = self.offtake_position(p, net);
        let measured = offtake.as_ref().map(|o| o.position).unwrap_or(net);
        let (cumulative, paid_back) = self.cumulative_and_paid_back(&name, measured);
        let npv_label = if offtake.is_some() {
            format!("{name}: NPV (value of its contracts)")
        } else {
            format!("{name}: NPV")
        };
        let npv = self.c.scalar(
            npv_label,
            Unit::Money,
            self.npv_of(discount, measured),
            Stage::Post,
        );
        let irr = self.c.scalar(
            format!("{name}: IRR"),
            Unit::Percent,
            Expr::Irr(measured, Box::new(Expr::num(Decimal::new(1, 1)))),
            Stage::Post,
        );
        let rate = self.mirr_rate(discount);
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
        let (money_multiple, peak) = self.multiple_and_peak(&name, measured, cumulative);
        PartyLines {
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
        }
    }

    /// The running total of what a party's metrics measure, and the flag of the years it
    /// is paid back (back to zero or above after having been out of pocket).
    fn cumulative_and_paid_back(&mut self, name: &str, measured: RowId) -> (RowId, RowId) {
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
        (cumulative, paid_back)
    }

    /// The money multiple (what comes in over what goes out; none when nothing goes out)
    /// and the peak exposure (the deepest the running total goes below zero).
    fn multiple_and_peak(
        &mut self,
        name: &str,
        measured: RowId,
        cumulative: RowId,
    ) -> (ScalarId, ScalarId) {
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
        (money_multiple, peak)
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
}
