//! VAT summary by period, two ways:
//!
//! - [`vat_from_ledger`]: from the VAT accounts of the ledger, both doors. Collected VAT
//!   is accounts 4457x (credit minus debit), deductible VAT accounts 4456x (debit minus
//!   credit), by month and account number. French charts give one account per rate
//!   (`445711` 20 %, `445712` 10 %, ...), so the account is the rate's proxy here: the
//!   ledger carries no rate. Memory: one accumulator per (company, month, account).
//! - [`vat_by_rate`]: from invoice lines (API door only: Data Sharing has no invoice
//!   lines), by month of the invoice date, direction and the line's `vat_rate`: the
//!   base (HT), the VAT and the amount with tax. Only the lines of accounting documents
//!   count: a credit note's (negative) lines in the month of the credit note, none of a
//!   draft's, proforma's, quote's or order's.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{FastMap, month_start};
use crate::canonical::{Invoice, InvoiceLine, LedgerLine, ThirdPartyKind};

/// Collected (on sales) or deductible (on purchases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VatDirection {
    /// TVA collectée (4457x, customer invoices).
    Collected,
    /// TVA déductible (4456x, supplier invoices).
    Deductible,
}

impl VatDirection {
    /// The direction of a VAT account, if it is one.
    pub fn of_account(number: &str) -> Option<Self> {
        if number.starts_with("4457") {
            Some(VatDirection::Collected)
        } else if number.starts_with("4456") {
            Some(VatDirection::Deductible)
        } else {
            None
        }
    }

    /// `collected` or `deductible`.
    pub fn as_str(self) -> &'static str {
        match self {
            VatDirection::Collected => "collected",
            VatDirection::Deductible => "deductible",
        }
    }
}

/// VAT on one account in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatLedgerRow {
    /// The company.
    pub company_id: i64,
    /// First day of the month.
    pub month: NaiveDate,
    /// Collected or deductible.
    pub direction: VatDirection,
    /// The VAT account.
    pub account_number: String,
    /// The VAT amount (collected: credit − debit; deductible: debit − credit).
    pub vat: Decimal,
}

/// VAT by month and account, from the ledger lines dated `from` to `to`.
pub fn vat_from_ledger<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<VatLedgerRow> {
    let mut groups: FastMap<(i64, NaiveDate, VatDirection, String), Decimal> = FastMap::default();
    for line in lines {
        if line.date < from || line.date > to {
            continue;
        }
        let Some(direction) = VatDirection::of_account(&line.account_number) else {
            continue;
        };
        let vat = match direction {
            VatDirection::Collected => line.credit - line.debit,
            VatDirection::Deductible => line.debit - line.credit,
        };
        *groups
            .entry((
                line.company_id,
                month_start(line.date),
                direction,
                line.account_number.to_string(),
            ))
            .or_default() += vat;
    }
    let sorted: BTreeMap<_, _> = groups.into_iter().collect();
    sorted
        .into_iter()
        .map(
            |((company_id, month, direction, account_number), vat)| VatLedgerRow {
                company_id,
                month,
                direction,
                account_number,
                vat,
            },
        )
        .collect()
}

/// Net VAT due per company and month from [`vat_from_ledger`]'s rows: collected minus
/// deductible (negative: a credit of VAT).
pub fn net_vat(rows: &[VatLedgerRow]) -> Vec<(i64, NaiveDate, Decimal)> {
    let mut out: BTreeMap<(i64, NaiveDate), Decimal> = BTreeMap::new();
    for r in rows {
        let signed = match r.direction {
            VatDirection::Collected => r.vat,
            VatDirection::Deductible => -r.vat,
        };
        *out.entry((r.company_id, r.month)).or_default() += signed;
    }
    out.into_iter().map(|((c, m), v)| (c, m, v)).collect()
}

/// Invoiced amounts of one rate in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatRateRow {
    /// The company.
    pub company_id: i64,
    /// First day of the month of the invoice date.
    pub month: NaiveDate,
    /// Collected (customer invoices) or deductible (supplier invoices).
    pub direction: VatDirection,
    /// The rate as the source names it (`FR_200`), or `"unknown"`.
    pub vat_rate: String,
    /// Base (HT).
    pub base: Decimal,
    /// VAT.
    pub vat: Decimal,
    /// Amount with tax (TTC).
    pub amount_ttc: Decimal,
}

/// VAT by month, direction and rate from invoice lines of invoices dated `from` to `to`.
/// Lines whose invoice is unknown are skipped (the quality checks report them), and so
/// are those of an invoice that is not an accounting document ([`Invoice::counts`]).
pub fn vat_by_rate(
    invoices: &[Invoice],
    lines: &[InvoiceLine],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<VatRateRow> {
    let dates: FastMap<(i64, ThirdPartyKind, i64), NaiveDate> = invoices
        .iter()
        .filter(|i| i.counts())
        .map(|i| ((i.company_id, i.kind, i.id), i.date))
        .collect();
    let mut groups: BTreeMap<(i64, NaiveDate, VatDirection, String), [Decimal; 3]> =
        BTreeMap::new();
    for l in lines {
        let Some(&date) = dates.get(&(l.company_id, l.kind, l.invoice_id)) else {
            continue;
        };
        if date < from || date > to {
            continue;
        }
        let direction = match l.kind {
            ThirdPartyKind::Customer => VatDirection::Collected,
            ThirdPartyKind::Supplier => VatDirection::Deductible,
        };
        let rate = l.vat_rate.clone().unwrap_or_else(|| "unknown".to_owned());
        let g = groups
            .entry((l.company_id, month_start(date), direction, rate))
            .or_default();
        g[0] += l.amount_ht;
        g[1] += l.vat;
        g[2] += l.amount_ttc;
    }
    groups
        .into_iter()
        .map(
            |((company_id, month, direction, vat_rate), [base, vat, amount_ttc])| VatRateRow {
                company_id,
                month,
                direction,
                vat_rate,
                base,
                vat,
                amount_ttc,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_by_rate_counts_invoices_and_credit_notes_only() {
        let books = crate::testing::books_with_every_document();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("date");
        let rows = vat_by_rate(&books.invoices, &books.invoice_lines, d(7, 1), d(7, 31));
        let m = |units: i64| Decimal::new(units * 100, 2);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.direction,
                    r.vat_rate.as_str(),
                    r.base,
                    r.vat,
                    r.amount_ttc,
                )
            })
            .collect();
        // Collected: invoice 10 (1,000 + 200) and its credit note (-500 - 100); the
        // draft, proforma, quote and orders' lines are left out. Deductible: invoice 20,
        // not the supplier's draft.
        assert_eq!(
            got,
            [
                (VatDirection::Collected, "FR_200", m(500), m(100), m(600)),
                (VatDirection::Deductible, "FR_200", m(300), m(60), m(360)),
            ]
        );
        assert!(rows.iter().all(|r| r.month == d(7, 1) && r.company_id == 1));
    }
}
