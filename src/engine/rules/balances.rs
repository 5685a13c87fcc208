//! A loan's balances after each year's payments: arrears, default (the first missed
//! payment, and what is unpaid at final maturity), and the write-off at the horizon.

use super::{BuildError, Builder, EventKind, EventSource};
use crate::engine::calc::{EPS, Expr, RowId, Unit, and, eq, gt, if_, or};

/// A loan's balance accounts (reserved in the financing costs).
#[derive(Clone, Copy)]
struct Accounts {
    principal: RowId,
    arrears_interest: RowId,
    arrears_principal: RowId,
    start: RowId,
}

/// A loan's principal, interest in arrears and principal in arrears at the year end,
/// before any write-off.
#[derive(Clone, Copy)]
struct BeforeWriteOff {
    principal: RowId,
    interest: RowId,
    arrears: RowId,
}

impl BeforeWriteOff {
    /// Everything the loan is owed.
    fn owed(self) -> Expr {
        Expr::Row(self.principal) + Expr::Row(self.interest) + Expr::Row(self.arrears)
    }
}

impl Builder<'_> {
    /// Balances of a loan after this year's payments; default at final maturity, write-off
    /// at the horizon.
    pub(super) fn build_balances(&mut self, i: usize) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let accounts = self.balance_accounts(i)?;
        let pre = self.balances_before_write_off(i, accounts);
        self.unpaid_at_maturity(i, pre);
        self.build_default(i, pre.principal, pre.interest, pre.arrears)?;
        let write_off = self.write_off(i, accounts, pre);
        let (ai, ap) = (accounts.arrears_interest, accounts.arrears_principal);
        let outstanding = self.c.row(
            format!("{name}: outstanding (principal and arrears)"),
            Unit::Money,
            Expr::Row(accounts.principal) + Expr::Row(ai) + Expr::Row(ap),
        );
        let in_arrears = self.c.row(
            format!("{name}: in arrears"),
            Unit::Flag,
            gt(Expr::Row(ai) + Expr::Row(ap), Expr::Num(EPS)),
        );
        self.fin.tranches[i].write_off = Some(write_off);
        self.fin.tranches[i].outstanding = Some(outstanding);
        self.fin.tranches[i].in_arrears = Some(in_arrears);
        let arrears = self.c.row(
            format!("{name}: arrears"),
            Unit::Money,
            Expr::Row(ai) + Expr::Row(ap),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::Arrears,
            subject: name.clone(),
            row: arrears,
        });
        self.lines.events.push(EventSource {
            kind: EventKind::WriteOff,
            subject: name,
            row: write_off,
        });
        Ok(())
    }

    fn balance_accounts(&self, i: usize) -> Result<Accounts, BuildError> {
        let r = self.rows(i);
        match (
            r.principal,
            r.arrears_interest,
            r.arrears_principal,
            r.start_balance,
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => Ok(Accounts {
                principal: a,
                arrears_interest: b,
                arrears_principal: c,
                start: d,
            }),
            _ => {
                let name = &self.deal.tranches[i].name.value;
                Err(BuildError(format!("loan '{name}' has no balance accounts")))
            }
        }
    }

    /// Arrears grow by what was due and not paid; the balance by draws and capitalised
    /// interest, less the principal scheduled (unpaid principal moves to arrears).
    fn balances_before_write_off(&mut self, i: usize, a: Accounts) -> BeforeWriteOff {
        let name = self.deal.tranches[i].name.value.clone();
        let r = self.rows(i).clone();
        let interest = Self::row_of(r.interest);
        let capitalised = Self::row_of(r.capitalised);
        let scheduled = Self::row_of(r.scheduled);
        let ai_pre = self.c.row(
            format!("{name}: interest in arrears before write-off"),
            Unit::Money,
            Expr::Prev(a.arrears_interest) + interest
                - capitalised.clone()
                - Self::row_of(r.interest_paid),
        );
        let ap_pre = self.c.row(
            format!("{name}: principal in arrears before write-off"),
            Unit::Money,
            Expr::Prev(a.arrears_principal) + scheduled.clone() - Self::row_of(r.principal_paid),
        );
        let b_pre = self.c.row(
            format!("{name}: principal balance before write-off"),
            Unit::Money,
            Expr::Prev(a.principal) + Self::row_of(r.draws) + capitalised - scheduled,
        );
        BeforeWriteOff {
            principal: b_pre,
            interest: ai_pre,
            arrears: ap_pre,
        }
    }

    /// A loan still owed money at its final maturity is in default, not forgiven: what it
    /// is owed stays in the waterfall at its rank, bearing interest, ahead of every junior
    /// tranche, and only what is left at the horizon is written off. (Writing it off at
    /// maturity would let a junior tranche with a longer tenor be repaid from later cash
    /// while the senior lost: first-loss money would not absorb losses first.)
    fn unpaid_at_maturity(&mut self, i: usize, pre: BeforeWriteOff) {
        let name = self.deal.tranches[i].name.value.clone();
        let (j, n) = self.repayment_index(i, 0);
        let defaulted = self.c.row(
            format!("{name}: unpaid at final maturity (default)"),
            Unit::Money,
            if_(
                and(vec![Expr::Row(self.t.ops), eq(j, n)]),
                pre.owed(),
                Expr::zero(),
            ),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::UnpaidAtMaturity,
            subject: name,
            row: defaulted,
        });
    }

    /// Everything still owed at the horizon is written off; the accounts close the year
    /// at their balances before write-off (zero at the horizon), and the balance at the
    /// start of operations is the last development year's. Returns the write-off.
    fn write_off(&mut self, i: usize, a: Accounts, pre: BeforeWriteOff) -> RowId {
        let name = self.deal.tranches[i].name.value.clone();
        let is_final = self.t.last;
        let write_off = self.c.row(
            format!("{name}: written off (loss)"),
            Unit::Money,
            if_(Expr::Row(is_final), pre.owed(), Expr::zero()),
        );
        let closing = [
            (a.principal, pre.principal),
            (a.arrears_interest, pre.interest),
            (a.arrears_principal, pre.arrears),
        ];
        for (account, before) in closing {
            self.c.place(
                account,
                if_(Expr::Row(is_final), Expr::zero(), Expr::Row(before)),
            );
        }
        self.c.place(
            a.start,
            if_(
                Expr::Row(self.t.dev),
                Expr::Row(a.principal),
                Expr::Prev(a.start),
            ),
        );
        write_off
    }

    /// Default, as lenders and rating agencies count it: the first year a payment of
    /// interest or principal due is missed (still unpaid at the year end, after any DSRA
    /// draw); an annual payment unpaid at the year end is more than 90 days past due. The
    /// exposure at default is everything the loan is owed at the end of that year: principal
    /// (due or not) and arrears. The loan stays in the waterfall (no acceleration).
    fn build_default(
        &mut self,
        i: usize,
        principal: RowId,
        interest_arrears: RowId,
        principal_arrears: RowId,
    ) -> Result<(), BuildError> {
        let name = self.deal.tranches[i].name.value.clone();
        let defaulted = self
            .rows(i)
            .defaulted
            .ok_or_else(|| BuildError(format!("loan '{name}' has no default flag")))?;
        let owed = self.c.row(
            format!("{name}: owed before any write-off"),
            Unit::Money,
            Expr::Row(principal) + Expr::Row(interest_arrears) + Expr::Row(principal_arrears),
        );
        let missed = self.c.row(
            format!("{name}: a payment missed this year"),
            Unit::Flag,
            and(vec![
                Expr::Row(self.t.ops),
                gt(
                    Expr::Row(interest_arrears) + Expr::Row(principal_arrears),
                    Expr::Num(EPS),
                ),
            ]),
        );
        self.c.place(
            defaulted,
            or(vec![Expr::Prev(defaulted), Expr::Row(missed)]),
        );
        let first = self.c.row(
            format!("{name}: defaults this year (first missed payment)"),
            Unit::Flag,
            Expr::Row(defaulted) - Expr::Prev(defaulted),
        );
        let ead = self.c.row(
            format!("{name}: exposure at default"),
            Unit::Money,
            Expr::Row(first) * Expr::Row(owed),
        );
        self.lines.events.push(EventSource {
            kind: EventKind::Default,
            subject: name,
            row: ead,
        });
        let r = &mut self.fin.tranches[i];
        r.owed = Some(owed);
        r.default_flag = Some(first);
        r.ead = Some(ead);
        Ok(())
    }
}
