//! The project's cash flow before financing, levered and unlevered.

use super::{BuildError, Builder};
use crate::engine::calc::{Expr, Unit, sum};

impl Builder<'_> {
    /// The project's cash flow before financing, levered (tax after interest) and unlevered.
    pub(super) fn build_cash_flow(&mut self) -> Result<(), BuildError> {
        self.c.section("Cash flow");
        let receipts = sum(self.ops.receipts.iter().map(|r| Expr::Row(*r)).collect());
        let receipts = self.c.row(
            "Operating receipts (sales, floor support)",
            Unit::Money,
            receipts,
        );
        let payments = sum(self.ops.payments.iter().map(|r| Expr::Row(*r)).collect());
        let payments = self.c.row(
            "Operating and capital costs (incl. feed, upside share)",
            Unit::Money,
            payments,
        );
        let royalties = sum(self
            .ops
            .royalty
            .iter()
            .flatten()
            .map(|r| Expr::Row(*r))
            .collect());
        let royalties = self.c.row("Royalties", Unit::Money, royalties);
        let pre_tax = self.c.row(
            "Unlevered cash flow before tax",
            Unit::Money,
            Expr::Row(receipts) - Expr::Row(payments) - Expr::Row(royalties),
        );
        let unlevered_tax = sum(self
            .fiscal
            .tax_unlevered
            .iter()
            .map(|r| Expr::Row(*r))
            .collect());
        let unlevered_refund = sum(self
            .fiscal
            .refunds_unlevered
            .iter()
            .map(|r| Expr::Row(*r))
            .collect());
        let post_tax = self.c.row(
            "Unlevered cash flow after tax",
            Unit::Money,
            Expr::Row(pre_tax) - unlevered_tax + unlevered_refund,
        );
        let tax = sum(self.fiscal.tax_paid.iter().map(|r| Expr::Row(*r)).collect());
        let refunds = sum(self.fiscal.refunds.iter().map(|r| Expr::Row(*r)).collect());
        let cash_flow = self.c.row(
            "Cash flow before financing",
            Unit::Money,
            Expr::Row(pre_tax) - tax + refunds,
        );
        self.fin.cash_flow = Some(cash_flow);
        self.lines.project.pre_tax = Some(pre_tax);
        self.lines.project.post_tax = Some(post_tax);
        Ok(())
    }
}
