//! Each government's fiscal position: receipts and payments by kind, net outlay, the supply
//! its offtakers secure and its cost per tonne, guarantee calls, floor payouts, contingent
//! liability, and the subsidy cost of each loan it takes part in.

use super::ledger::Discount;
use super::{BuildError, Builder, GovernmentLines, LedgerPartyKind};
use crate::engine::calc::{EPS, Expr, FlowKind, RowId, ScalarId, Stage, Unit, div, if_, le, sum};
use crate::model::key::{InputKey, ParticipantField};
use crate::model::{PartyKind, SubsidyBasis, TrancheKind};

/// The horizon's total of a party's flows of each kind.
type FlowTotals = Vec<(FlowKind, ScalarId)>;

impl Builder<'_> {
    /// Each government's fiscal position, in party order.
    pub(super) fn build_government_metrics(
        &mut self,
        discounts: &[Discount],
    ) -> Result<(), BuildError> {
        self.c.section("Government metrics");
        for (p, discount) in discounts.iter().enumerate() {
            if self.parties[p].kind != LedgerPartyKind::Deal(PartyKind::Government) {
                continue;
            }
            let lines = self.government_metrics(p, discount);
            self.lines.governments.push(lines);
        }
        Ok(())
    }

    /// Government `p`'s fiscal position: what it receives and pays by kind, its net outlay,
    /// the supply its offtakers secure and what each tonne cost it, its guarantee calls,
    /// floor payouts and contingent liability, and the subsidy cost of each loan.
    fn government_metrics(&mut self, p: usize, discount: &Discount) -> GovernmentLines {
        let name = self.parties[p].name.clone();
        let discount = discount.clone();
        let (receipt_lines, payment_lines) = self.flow_totals_by_kind(p, &name);
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
        let secured = self.secured_by_offtakers(p, &name);
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
        let contingent = self.contingent_liability(&name);
        let loan_subsidy = self.loan_subsidies(p, &name, &discount);
        GovernmentLines {
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
        }
    }

    /// The horizon's totals of what party `p` receives and pays, one per kind of flow.
    fn flow_totals_by_kind(&mut self, p: usize, name: &str) -> (FlowTotals, FlowTotals) {
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
        (receipt_lines, payment_lines)
    }

    /// Supply secured: the tonnes taken by offtakers of government `p`'s country.
    fn secured_by_offtakers(&mut self, p: usize, name: &str) -> ScalarId {
        let deal = self.deal;
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
        self.c.scalar(
            format!("{name}: tonnes secured by its offtakers"),
            Unit::Tonnes,
            sum(secured),
            Stage::Post,
        )
    }

    /// Contingent liability: the government's share of the guarantees outstanding and this
    /// year's exposure of the price floors it gives.
    fn contingent_liability(&mut self, name: &str) -> RowId {
        let deal = self.deal;
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
        self.c.row(
            format!("{name}: contingent liability (guarantees and floors)"),
            Unit::Money,
            sum(contingent),
        )
    }

    /// Subsidy cost of each loan government `p` takes part in (US credit reform): the PV of
    /// its disbursements less the PV of what comes back, as a share of the disbursements
    /// (their PV, or as paid, as the deal says).
    fn loan_subsidies(
        &mut self,
        p: usize,
        name: &str,
        discount: &Discount,
    ) -> Vec<(usize, ScalarId)> {
        let mut loan_subsidy = Vec::new();
        for (i, t) in self.deal.tranches.iter().enumerate() {
            if !t.kind.value.is_loan() {
                continue;
            }
            if let Some(subsidy) = self.loan_subsidy(p, i, name, discount) {
                loan_subsidy.push((i, subsidy));
            }
        }
        loan_subsidy
    }

    /// The subsidy cost of loan `i` to party `p` (None when it disburses nothing of it).
    fn loan_subsidy(
        &mut self,
        p: usize,
        i: usize,
        name: &str,
        discount: &Discount,
    ) -> Option<ScalarId> {
        let deal = self.deal;
        let t = &deal.tranches[i];
        let flows: Vec<(RowId, FlowKind)> = self.fin.tranches[i]
            .flows
            .iter()
            .filter(|(party, ..)| *party == p)
            .map(|(_, r, k)| (*r, *k))
            .collect();
        let (disbursement, _) = flows
            .iter()
            .find(|(_, k)| *k == FlowKind::Disbursement)
            .copied()?;
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
            SubsidyBasis::PresentValue => self.npv_of(discount, disbursement),
            SubsidyBasis::Nominal => Expr::RowSum(disbursement),
        };
        let pv_net = self.npv_of(discount, row);
        let subsidy = if_(
            le(pv_out.clone(), Expr::Num(EPS)),
            Expr::Na,
            div(-pv_net, pv_out),
        );
        Some(self.c.scalar(
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
        ))
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
}
