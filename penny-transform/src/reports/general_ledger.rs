//! General ledger (grand livre): per account, the opening balance, every line of the
//! period in date order with the running balance, and the totals.
//!
//! Memory: one opening accumulator per account, plus the lines of the period (they are
//! the report's output). Select accounts with `account_prefix` to keep it small. Lines
//! are sorted by date, entry id and line id; the running balance is debit minus credit.

use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::FastMap;
use crate::canonical::LedgerLine;

/// What the general ledger covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralLedgerOptions {
    /// First day (earlier lines make the opening balance).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Only accounts whose number starts with this (for example `"411"`).
    pub account_prefix: Option<String>,
}

/// One line of an account's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralLedgerLine {
    /// Accounting date.
    pub date: NaiveDate,
    /// Journal code.
    pub journal_code: String,
    /// Entry.
    pub entry_id: i64,
    /// Line.
    pub line_id: i64,
    /// Label.
    pub label: String,
    /// Document reference.
    pub document_ref: Option<String>,
    /// Lettering code.
    pub lettering: Option<String>,
    /// Debit.
    pub debit: Decimal,
    /// Credit.
    pub credit: Decimal,
    /// Balance after this line (debit minus credit, from the opening balance).
    pub running_balance: Decimal,
}

/// One account's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralLedgerAccount {
    /// The company.
    pub company_id: i64,
    /// The account.
    pub account_number: String,
    /// Balance before `from`.
    pub opening: Decimal,
    /// The lines of the period.
    pub lines: Vec<GeneralLedgerLine>,
    /// Sum of debits in the period.
    pub total_debit: Decimal,
    /// Sum of credits in the period.
    pub total_credit: Decimal,
    /// Balance after the last line.
    pub closing: Decimal,
}

#[derive(Default)]
struct Acc {
    opening: Decimal,
    lines: Vec<GeneralLedgerLine>,
}

/// The general ledger of `lines`, accounts sorted by company and number.
pub fn general_ledger<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    options: &GeneralLedgerOptions,
) -> Vec<GeneralLedgerAccount> {
    let mut groups: FastMap<(i64, Arc<str>), Acc> = FastMap::default();
    for line in lines {
        if line.date > options.to {
            continue;
        }
        if let Some(prefix) = &options.account_prefix
            && !line.account_number.starts_with(prefix.as_str())
        {
            continue;
        }
        let acc = groups
            .entry((line.company_id, line.account_number.clone()))
            .or_default();
        if line.date < options.from {
            acc.opening += line.debit - line.credit;
        } else {
            acc.lines.push(GeneralLedgerLine {
                date: line.date,
                journal_code: line.journal_code.to_string(),
                entry_id: line.entry_id,
                line_id: line.line_id,
                label: line.label.clone(),
                document_ref: line.document_ref.clone(),
                lettering: line.lettering.clone(),
                debit: line.debit,
                credit: line.credit,
                running_balance: Decimal::ZERO,
            });
        }
    }
    let mut out: Vec<GeneralLedgerAccount> = groups
        .into_iter()
        .map(|((company_id, account_number), mut acc)| {
            acc.lines.sort_by_key(|l| (l.date, l.entry_id, l.line_id));
            let mut balance = acc.opening;
            let (mut total_debit, mut total_credit) = (Decimal::ZERO, Decimal::ZERO);
            for l in &mut acc.lines {
                balance += l.debit - l.credit;
                total_debit += l.debit;
                total_credit += l.credit;
                l.running_balance = balance;
            }
            GeneralLedgerAccount {
                company_id,
                account_number: account_number.to_string(),
                opening: acc.opening,
                lines: acc.lines,
                total_debit,
                total_credit,
                closing: balance,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.company_id, &a.account_number).cmp(&(b.company_id, &b.account_number)));
    out
}
