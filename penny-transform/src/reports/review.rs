//! The review of a closing period (révision): per company and fiscal year, the checks
//! an accountant runs first, each finding a [`ReviewRow`] with its account, its amount
//! and why it matters ([`ReviewCheck::why`]).
//!
//! | check | looks at | amount |
//! |---|---|---|
//! | [`CustomerCreditBalance`](ReviewCheck::CustomerCreditBalance) | 411* closing in credit | the closing balance (debit − credit) |
//! | [`SupplierDebitBalance`](ReviewCheck::SupplierDebitBalance) | 401* closing in debit | the closing balance |
//! | [`BankInCredit`](ReviewCheck::BankInCredit) | 512* closing in credit | the closing balance |
//! | [`SuspenseNotZero`](ReviewCheck::SuspenseNotZero) | 471*, 472*, 473* closing not zero | the closing balance |
//! | [`VatToPayMismatch`](ReviewCheck::VatToPayMismatch) | the credits of 44551* (VAT declared to pay) against the credits of 4457* (collected) minus the debits of 4456* (deductible) of the year, when 44551 moved in it | declared − (collected − deductible) |
//! | [`OldUnletteredItems`](ReviewCheck::OldUnletteredItems) | unlettered 411*/401* lines dated more than 90 days before the year's end (or the as-of day, if earlier) | their sum (debit − credit) |
//! | [`ChangeInClosedYear`](ReviewCheck::ChangeInClosedYear) | lines a cycle inserted, changed or deleted, dated in a `closed` or `frozen` fiscal year ([`LineChange`]) | the change (debit − credit, new − old) |
//! | [`UnbalancedEntry`](ReviewCheck::UnbalancedEntry) | entries whose debits and credits differ | debit − credit |
//! | [`TrialBalanceUnbalanced`](ReviewCheck::TrialBalanceUnbalanced) | a year's trial balance whose debits and credits differ | debits − credits |
//! | [`AccountNotInChart`](ReviewCheck::AccountNotInChart) | accounts with lines in the year missing from the chart of accounts (companies with a chart) | the year's debit − credit |
//!
//! Inputs: the trial balance per company, account and fiscal year (its closing and
//! movements, [`TrialBalanceRow`]s, as `report_trial_balance` holds them), the chart,
//! the fiscal years, what [`ReviewLines`] gathered from the lines as they streamed by,
//! and the changes a cycle saw ([`LineChange`]).
//!
//! Lettering is as of the sync: an item lettered after the year's end is not reported
//! for that year.
//!
//! Memory: [`ReviewLines`] keeps the entries whose lines seen so far do not balance
//! (an entry is dropped each time it balances, so balanced entries whose lines come
//! together cost nothing) and one sum per company, account and day of unlettered
//! customer and supplier lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::reconcile::{Columns, ReconcileError};
use super::trial_balance::TrialBalanceRow;
use super::{FastMap, Sum};
use crate::batch::{Batch, BatchBuilder, BatchError};
use crate::canonical::{Account, FiscalYear, LedgerLine};
use crate::schema::{Column, LogicalType, Schema};
use crate::value::Value;

/// How old an unlettered item is to be reported, in days.
pub const OLD_ITEM_DAYS: u64 = 90;

/// One check of the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReviewCheck {
    /// A customer account (411*) with a credit balance.
    CustomerCreditBalance,
    /// A supplier account (401*) with a debit balance.
    SupplierDebitBalance,
    /// A bank account (512*) in credit.
    BankInCredit,
    /// A suspense or wait account (471*, 472*, 473*) not at zero.
    SuspenseNotZero,
    /// The VAT declared to pay (44551*) is not the collected minus the deductible VAT.
    VatToPayMismatch,
    /// Unlettered customer or supplier items older than 90 days.
    OldUnletteredItems,
    /// A line dated in a closed or frozen fiscal year inserted, changed or deleted.
    ChangeInClosedYear,
    /// An entry whose debits and credits differ.
    UnbalancedEntry,
    /// A trial balance whose debits and credits differ.
    TrialBalanceUnbalanced,
    /// An account used but missing from the chart of accounts.
    AccountNotInChart,
}

impl ReviewCheck {
    /// Every check.
    pub const ALL: [ReviewCheck; 10] = [
        ReviewCheck::CustomerCreditBalance,
        ReviewCheck::SupplierDebitBalance,
        ReviewCheck::BankInCredit,
        ReviewCheck::SuspenseNotZero,
        ReviewCheck::VatToPayMismatch,
        ReviewCheck::OldUnletteredItems,
        ReviewCheck::ChangeInClosedYear,
        ReviewCheck::UnbalancedEntry,
        ReviewCheck::TrialBalanceUnbalanced,
        ReviewCheck::AccountNotInChart,
    ];

    /// The name written in the table (`customer_credit_balance`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewCheck::CustomerCreditBalance => "customer_credit_balance",
            ReviewCheck::SupplierDebitBalance => "supplier_debit_balance",
            ReviewCheck::BankInCredit => "bank_in_credit",
            ReviewCheck::SuspenseNotZero => "suspense_not_zero",
            ReviewCheck::VatToPayMismatch => "vat_to_pay_mismatch",
            ReviewCheck::OldUnletteredItems => "old_unlettered_items",
            ReviewCheck::ChangeInClosedYear => "change_in_closed_year",
            ReviewCheck::UnbalancedEntry => "unbalanced_entry",
            ReviewCheck::TrialBalanceUnbalanced => "trial_balance_unbalanced",
            ReviewCheck::AccountNotInChart => "account_not_in_chart",
        }
    }

    /// The check named `name` ([`as_str`](Self::as_str)).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Why it matters, for the accountant.
    pub fn why(self) -> &'static str {
        match self {
            ReviewCheck::CustomerCreditBalance => {
                "a customer owing a negative amount: a payment twice, a credit note not refunded, or a payment on the wrong account"
            }
            ReviewCheck::SupplierDebitBalance => {
                "a supplier owing us: an invoice not booked, a payment twice, or a payment on the wrong account"
            }
            ReviewCheck::BankInCredit => {
                "an overdraft must be shown as a debt (519), or bank lines are missing"
            }
            ReviewCheck::SuspenseNotZero => {
                "suspense accounts must be cleared before closing: their lines are not yet booked where they belong"
            }
            ReviewCheck::VatToPayMismatch => {
                "the VAT declared does not follow from the VAT booked: a declaration wrong or booked in another period, or VAT on the wrong account"
            }
            ReviewCheck::OldUnletteredItems => {
                "items open for more than 90 days: unpaid invoices to provision or chase, or payments not lettered"
            }
            ReviewCheck::ChangeInClosedYear => {
                "a closed year's books changed after closing: its statements and FEC no longer match the books"
            }
            ReviewCheck::UnbalancedEntry => "every entry must balance: the books are not valid",
            ReviewCheck::TrialBalanceUnbalanced => {
                "the year's debits and credits differ: the books are not valid"
            }
            ReviewCheck::AccountNotInChart => {
                "lines on an account missing from the chart: the statements may leave them out"
            }
        }
    }
}

/// One finding of the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    /// The company.
    pub company_id: i64,
    /// First day of the fiscal year.
    pub period_start: NaiveDate,
    /// Last day of the fiscal year.
    pub period_end: NaiveDate,
    /// The check.
    pub check: ReviewCheck,
    /// The account (empty for the checks of the whole books).
    pub account_number: String,
    /// What within the account: the entry of an unbalanced entry, the line of a change
    /// (empty otherwise).
    pub reference: String,
    /// The amount at issue (see the module docs, per check).
    pub amount: Decimal,
    /// What was found and why it matters.
    pub detail: String,
}

/// How a cycle changed a line ([`LineChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineChangeKind {
    /// A new line.
    Inserted,
    /// A line whose date, account or amounts changed.
    Changed,
    /// A line gone.
    Deleted,
}

impl LineChangeKind {
    /// `inserted`, `changed`, `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineChangeKind::Inserted => "inserted",
            LineChangeKind::Changed => "changed",
            LineChangeKind::Deleted => "deleted",
        }
    }
}

/// A ledger line an incremental cycle inserted, changed or deleted: the review reports
/// it when a version of it is dated in a closed or frozen fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange {
    /// How it changed.
    pub kind: LineChangeKind,
    /// The company.
    pub company_id: i64,
    /// The line.
    pub line_id: i64,
    /// Its account (the new version's, else the old one's).
    pub account_number: String,
    /// The old version's date (changed, deleted).
    pub old_date: Option<NaiveDate>,
    /// The new version's date (inserted, changed).
    pub new_date: Option<NaiveDate>,
    /// New minus old (debit − credit); the old amount negated for a deletion.
    pub amount: Decimal,
}

impl LineChange {
    /// The change from `old` to `new` (either may be absent, not both).
    pub fn between(old: Option<&LedgerLine>, new: Option<&LedgerLine>) -> Option<Self> {
        let any = new.or(old)?;
        let balance = |l: Option<&LedgerLine>| l.map_or(Decimal::ZERO, |l| l.debit - l.credit);
        Some(LineChange {
            kind: match (old, new) {
                (None, _) => LineChangeKind::Inserted,
                (Some(_), Some(_)) => LineChangeKind::Changed,
                (Some(_), None) => LineChangeKind::Deleted,
            },
            company_id: any.company_id,
            line_id: any.line_id,
            account_number: any.account_number.to_string(),
            old_date: old.map(|l| l.date),
            new_date: new.map(|l| l.date),
            amount: balance(new) - balance(old),
        })
    }
}

/// An entry's lines seen so far.
#[derive(Debug, Clone, Copy, Default)]
struct OpenEntry {
    net: Sum,
    date: NaiveDate,
}

/// Unlettered items of one account and day.
#[derive(Debug, Clone, Copy)]
struct Items {
    net: Sum,
    lines: u64,
    first_line: i64,
}

/// Whether unlettered lines of `account` are reviewed (customers 411*, suppliers 401*).
fn lettered_account(account: &str) -> bool {
    account.starts_with("411") || account.starts_with("401")
}

/// What the review needs of the lines, gathered as they stream by ([`add`](Self::add)).
#[derive(Debug, Default)]
pub struct ReviewLines {
    entries: FastMap<(i64, i64), OpenEntry>,
    unlettered: BTreeMap<(i64, String, NaiveDate), Items>,
}

impl ReviewLines {
    /// Nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one line.
    pub fn add(&mut self, line: &LedgerLine) {
        let key = (line.company_id, line.entry_id);
        let e = self.entries.entry(key).or_insert(OpenEntry {
            date: line.date,
            ..OpenEntry::default()
        });
        e.net.add(line.debit);
        e.net.sub(line.credit);
        e.date = e.date.min(line.date);
        if e.net.value().is_zero() {
            self.entries.remove(&key);
        }
        let unlettered = line.lettering.as_deref().is_none_or(str::is_empty);
        if unlettered && lettered_account(&line.account_number) {
            let items = self
                .unlettered
                .entry((line.company_id, line.account_number.to_string(), line.date))
                .or_insert(Items {
                    net: Sum::default(),
                    lines: 0,
                    first_line: line.line_id,
                });
            items.net.add(line.debit);
            items.net.sub(line.credit);
            items.lines += 1;
            items.first_line = items.first_line.min(line.line_id);
        }
    }

    /// Adds lines.
    pub fn extend<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for l in lines {
            self.add(l);
        }
    }

    /// How many entries and unlettered days are held.
    pub fn len(&self) -> usize {
        self.entries.len() + self.unlettered.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the review reads.
#[derive(Debug, Clone, Copy)]
pub struct ReviewInput<'a> {
    /// The fiscal years reviewed (each company's; a finding falls in the year of its
    /// date, or of its trial balance row).
    pub fiscal_years: &'a [FiscalYear],
    /// The chart of accounts (a company with no account in it is not checked for
    /// accounts missing from it).
    pub chart: &'a [Account],
    /// The trial balance per company, account and fiscal year.
    pub trial_balance: &'a [TrialBalanceRow],
    /// What the lines showed.
    pub lines: &'a ReviewLines,
    /// The lines a cycle changed (empty for a whole rebuild).
    pub changes: &'a [LineChange],
    /// The day of the review: a year not ended is reviewed as of it.
    pub as_of: NaiveDate,
}

/// Whether a fiscal year's status says it is closed (`closed`, `frozen`).
pub fn is_closed(year: &FiscalYear) -> bool {
    matches!(year.status.as_deref(), Some("closed" | "frozen"))
}

/// Runs every check; rows sorted by company, year, check, account and reference.
pub fn review(input: &ReviewInput<'_>) -> Vec<ReviewRow> {
    let mut out = Vec::new();
    let mut years: BTreeMap<i64, Vec<&FiscalYear>> = BTreeMap::new();
    for fy in input.fiscal_years {
        years.entry(fy.company_id).or_default().push(fy);
    }
    let year_of = |company: i64, date: NaiveDate| {
        years
            .get(&company)
            .and_then(|ys| ys.iter().find(|y| y.contains(date)).copied())
    };
    let row = |y: (i64, NaiveDate, NaiveDate),
               check: ReviewCheck,
               account: &str,
               reference: String,
               amount: Decimal,
               what: String| ReviewRow {
        company_id: y.0,
        period_start: y.1,
        period_end: y.2,
        check,
        account_number: account.to_owned(),
        reference,
        amount,
        detail: format!("{what}: {}", check.why()),
    };

    // From the trial balance: balances at the year's end, the year's totals.
    let charted: std::collections::HashSet<(i64, &str)> = input
        .chart
        .iter()
        .map(|a| (a.company_id, a.number.as_str()))
        .collect();
    let with_chart: std::collections::HashSet<i64> =
        input.chart.iter().map(|a| a.company_id).collect();
    #[derive(Default)]
    struct YearTotals {
        debit: Decimal,
        credit: Decimal,
        declared: Decimal,
        vat_to_pay_moved: bool,
        collected: Decimal,
        deductible: Decimal,
    }
    let mut totals: BTreeMap<(i64, NaiveDate, NaiveDate), YearTotals> = BTreeMap::new();
    for r in input.trial_balance {
        let y = (r.company_id, r.period_start, r.period_end);
        let a = r.account_number.as_str();
        let t = totals.entry(y).or_default();
        t.debit += r.debit;
        t.credit += r.credit;
        if a.starts_with("44551") {
            t.declared += r.credit;
            t.vat_to_pay_moved |= !(r.debit.is_zero() && r.credit.is_zero());
        } else if a.starts_with("4457") {
            t.collected += r.credit;
        } else if a.starts_with("4456") {
            t.deductible += r.debit;
        }
        let at = |end: NaiveDate| format!("balance {} at {end}", r.closing);
        let balance_check = if a.starts_with("411") && r.closing.is_sign_negative() {
            Some(ReviewCheck::CustomerCreditBalance)
        } else if a.starts_with("401") && r.closing.is_sign_positive() {
            Some(ReviewCheck::SupplierDebitBalance)
        } else if a.starts_with("512") && r.closing.is_sign_negative() {
            Some(ReviewCheck::BankInCredit)
        } else if ["471", "472", "473"].iter().any(|p| a.starts_with(p)) {
            Some(ReviewCheck::SuspenseNotZero)
        } else {
            None
        };
        if let Some(check) = balance_check.filter(|_| !r.closing.is_zero()) {
            out.push(row(y, check, a, String::new(), r.closing, at(r.period_end)));
        }
        let moved = !(r.debit.is_zero() && r.credit.is_zero());
        if moved && with_chart.contains(&r.company_id) && !charted.contains(&(r.company_id, a)) {
            out.push(row(
                y,
                ReviewCheck::AccountNotInChart,
                a,
                String::new(),
                r.debit - r.credit,
                format!("debits {}, credits {} in the year", r.debit, r.credit),
            ));
        }
    }
    for (y, t) in totals {
        if t.debit != t.credit {
            out.push(row(
                y,
                ReviewCheck::TrialBalanceUnbalanced,
                "",
                String::new(),
                t.debit - t.credit,
                format!("debits {}, credits {}", t.debit, t.credit),
            ));
        }
        let expected = t.collected - t.deductible;
        if t.vat_to_pay_moved && t.declared != expected {
            out.push(row(
                y,
                ReviewCheck::VatToPayMismatch,
                "44551",
                String::new(),
                t.declared - expected,
                format!(
                    "declared to pay (credits of 44551) {}, collected (credits of 4457) {} − deductible (debits of 4456) {} = {expected} (a declaration of the year's last period booked the next year differs by that period's VAT)",
                    t.declared, t.collected, t.deductible
                ),
            ));
        }
    }

    // From the lines.
    for (&(company, entry), e) in &input.lines.entries {
        let net = e.net.value();
        if net.is_zero() {
            continue;
        }
        if let Some(fy) = year_of(company, e.date) {
            out.push(row(
                (company, fy.start, fy.end),
                ReviewCheck::UnbalancedEntry,
                "",
                entry.to_string(),
                net,
                format!("entry {entry} of {} is off by {net}", e.date),
            ));
        }
    }
    for (company, ys) in &years {
        for fy in ys {
            if fy.start > input.as_of {
                continue;
            }
            let at = fy.end.min(input.as_of);
            let Some(horizon) = at.checked_sub_days(chrono::Days::new(OLD_ITEM_DAYS)) else {
                continue;
            };
            let from = (*company, String::new(), NaiveDate::MIN);
            let mut per_account: BTreeMap<&str, (Decimal, u64, NaiveDate, i64)> = BTreeMap::new();
            for ((c, account, date), items) in input.lines.unlettered.range(from..) {
                if c != company {
                    break;
                }
                if *date > horizon {
                    continue;
                }
                let a = per_account.entry(account).or_insert((
                    Decimal::ZERO,
                    0,
                    *date,
                    items.first_line,
                ));
                a.0 += items.net.value();
                a.1 += items.lines;
                if *date < a.2 {
                    a.2 = *date;
                    a.3 = items.first_line;
                }
            }
            for (account, (amount, lines, oldest, first)) in per_account {
                out.push(row(
                    (*company, fy.start, fy.end),
                    ReviewCheck::OldUnletteredItems,
                    account,
                    String::new(),
                    amount,
                    format!(
                        "{lines} unlettered lines dated before {horizon} ({OLD_ITEM_DAYS} days before {at}), the oldest of {oldest} (line {first})"
                    ),
                ));
            }
        }
    }

    // From the changes a cycle saw.
    for c in input.changes {
        let mut seen = Vec::new();
        for date in [c.old_date, c.new_date].into_iter().flatten() {
            let Some(fy) = year_of(c.company_id, date).filter(|fy| is_closed(fy)) else {
                continue;
            };
            if seen.contains(&fy.start) {
                continue;
            }
            seen.push(fy.start);
            out.push(row(
                (c.company_id, fy.start, fy.end),
                ReviewCheck::ChangeInClosedYear,
                &c.account_number,
                c.line_id.to_string(),
                c.amount,
                format!(
                    "line {} {} (dated {}) in the {} year",
                    c.line_id,
                    c.kind.as_str(),
                    date,
                    fy.status.as_deref().unwrap_or("closed")
                ),
            ));
        }
    }

    out.sort_by(|a, b| {
        (
            a.company_id,
            a.period_start,
            a.check,
            &a.account_number,
            &a.reference,
        )
            .cmp(&(
                b.company_id,
                b.period_start,
                b.check,
                &b.account_number,
                &b.reference,
            ))
    });
    // One row per key (a line changed twice in the changes given): amounts added.
    out.dedup_by(|later, first| {
        let same = (
            later.company_id,
            later.period_start,
            later.check,
            &later.account_number,
            &later.reference,
        ) == (
            first.company_id,
            first.period_start,
            first.check,
            &first.account_number,
            &first.reference,
        );
        if same {
            first.amount += later.amount;
        }
        same
    });
    out
}

/// The rows of a batch of a trial balance table (`report_trial_balance`: columns
/// `company_id`, `period_start`, `period_end`, `account_number`, `opening`, `debit`,
/// `credit`, `closing`), read by column name.
pub fn trial_balance_rows(batch: &Batch) -> Result<Vec<TrialBalanceRow>, ReconcileError> {
    let c = Columns::new(batch);
    let (company, start, end, account, opening, debit, credit, closing) = (
        c.index("company_id")?,
        c.index("period_start")?,
        c.index("period_end")?,
        c.index("account_number")?,
        c.index("opening")?,
        c.index("debit")?,
        c.index("credit")?,
        c.index("closing")?,
    );
    (0..c.len())
        .map(|row| {
            Ok(TrialBalanceRow {
                company_id: c.int(row, company, "company_id")?,
                period_start: c.date(row, start, "period_start")?,
                period_end: c.date(row, end, "period_end")?,
                account_number: c.text(row, account, "account_number")?,
                opening: c.money(row, opening, "opening")?,
                debit: c.money(row, debit, "debit")?,
                credit: c.money(row, credit, "credit")?,
                closing: c.money(row, closing, "closing")?,
            })
        })
        .collect()
}

/// The fiscal years of a batch of `canonical_fiscal_years` (columns `company_id`,
/// `start`, `end`, `status`), read by column name.
pub fn fiscal_year_rows(batch: &Batch) -> Result<Vec<FiscalYear>, ReconcileError> {
    let c = Columns::new(batch);
    let (company, start, end) = (c.index("company_id")?, c.index("start")?, c.index("end")?);
    let status = c.index("status").ok();
    (0..c.len())
        .map(|row| {
            Ok(FiscalYear {
                company_id: c.int(row, company, "company_id")?,
                start: c.date(row, start, "start")?,
                end: c.date(row, end, "end")?,
                status: c.opt_text(row, status, "status")?,
            })
        })
        .collect()
}

/// The rows of a batch of [`REVIEW_TABLE`] read back, by column name (a `check` this
/// version does not know is refused).
pub fn review_rows(batch: &Batch) -> Result<Vec<ReviewRow>, ReconcileError> {
    let c = Columns::new(batch);
    let (company, start, end, check, account, reference, amount, detail) = (
        c.index("company_id")?,
        c.index("period_start")?,
        c.index("period_end")?,
        c.index("check")?,
        c.index("account_number")?,
        c.index("reference")?,
        c.index("amount")?,
        c.index("detail")?,
    );
    (0..c.len())
        .map(|row| {
            let name = c.text(row, check, "check")?;
            let check = ReviewCheck::parse(&name).ok_or_else(|| ReconcileError::WrongValue {
                table: batch.table().to_owned(),
                row,
                column: "check",
                expected: "the name of a review check",
                found: name.clone(),
            })?;
            Ok(ReviewRow {
                company_id: c.int(row, company, "company_id")?,
                period_start: c.date(row, start, "period_start")?,
                period_end: c.date(row, end, "period_end")?,
                check,
                account_number: c.text(row, account, "account_number")?,
                reference: c.text(row, reference, "reference")?,
                amount: c.money(row, amount, "amount")?,
                detail: c.text(row, detail, "detail")?,
            })
        })
        .collect()
}

/// The lines whose versions differ between `old` and `new` (keyed by company and
/// line id): inserted, deleted, or changed in date, account, journal, entry, label or
/// amounts.
pub fn line_changes(
    old: &BTreeMap<(i64, i64), LedgerLine>,
    new: &BTreeMap<(i64, i64), LedgerLine>,
) -> Vec<LineChange> {
    let same = |a: &LedgerLine, b: &LedgerLine| {
        (
            a.date,
            &a.account_number,
            &a.journal_code,
            a.entry_id,
            &a.label,
            a.debit,
            a.credit,
        ) == (
            b.date,
            &b.account_number,
            &b.journal_code,
            b.entry_id,
            &b.label,
            b.debit,
            b.credit,
        )
    };
    let keys: std::collections::BTreeSet<&(i64, i64)> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (old.get(k), new.get(k)) {
            (Some(a), Some(b)) if same(a, b) => None,
            (a, b) => LineChange::between(a, b),
        })
        .collect()
}

/// The table of the star schema the review is written in.
pub const REVIEW_TABLE: &str = "report_review";

/// The schema of [`REVIEW_TABLE`].
pub fn review_schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(
            REVIEW_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("period_start", LogicalType::Date),
                Column::required("period_end", LogicalType::Date),
                Column::required("check", LogicalType::Text),
                Column::required("account_number", LogicalType::Text),
                Column::required("account_key", LogicalType::Text),
                Column::required("reference", LogicalType::Text),
                Column::required("amount", LogicalType::Decimal { scale: 2 }),
                Column::required("detail", LogicalType::Text),
            ],
            [
                "company_id",
                "period_start",
                "check",
                "account_number",
                "reference",
            ],
        )
        .expect("the review schema is valid"),
    )
}

/// The review's rows as batches of [`REVIEW_TABLE`] (`account_key`: the star schema's
/// `<company_id>|<account>`, to relate to `dim_account`).
pub fn review_batches(rows: &[ReviewRow], batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let mut b = BatchBuilder::upsert(review_schema(), batch_rows.max(1));
    let mut out = Vec::new();
    for r in rows {
        out.extend(b.push(vec![
            Value::Int64(r.company_id),
            Value::Date(r.period_start),
            Value::Date(r.period_end),
            Value::Text(r.check.as_str().to_owned()),
            Value::Text(r.account_number.clone()),
            Value::Text(crate::star::key(r.company_id, &r.account_number)),
            Value::Text(r.reference.clone()),
            Value::Decimal(r.amount.round_dp(2)),
            Value::Text(r.detail.clone()),
        ])?);
    }
    out.extend(b.finish()?);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::reports::trial_balance::{TrialBalanceOptions, trial_balance};

    const COMPANY: i64 = 3;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn eur(cents: i64) -> Decimal {
        Decimal::new(cents, 2)
    }

    /// Generated books of a small trading company over 2025 (closed) and 2026: each
    /// month a sale and a purchase, both paid and lettered, a VAT declaration and its
    /// payment; a closing review of them finds nothing.
    struct Books {
        lines: Vec<LedgerLine>,
        years: Vec<FiscalYear>,
        chart: Vec<Account>,
        next_entry: i64,
    }

    impl Books {
        fn entry(
            &mut self,
            date: NaiveDate,
            journal: &str,
            lines: &[(&str, i64, i64, Option<&str>)],
        ) {
            self.next_entry += 1;
            for (account, debit, credit, lettering) in lines {
                let line_id = self.next_entry * 10 + self.lines.len() as i64 % 10;
                self.lines.push(LedgerLine {
                    company_id: COMPANY,
                    entry_id: self.next_entry,
                    line_id,
                    date,
                    journal_code: journal.into(),
                    account_number: (*account).into(),
                    label: format!("{journal} {date}"),
                    debit: eur(*debit),
                    credit: eur(*credit),
                    third_party: None,
                    document_ref: None,
                    due_date: None,
                    lettering: lettering.map(str::to_owned),
                    categories: None,
                });
            }
        }

        fn generate() -> Books {
            let mut b = Books {
                lines: Vec::new(),
                years: [(2025, "closed"), (2026, "open")]
                    .into_iter()
                    .map(|(y, status)| FiscalYear {
                        company_id: COMPANY,
                        start: d(y, 1, 1),
                        end: d(y, 12, 31),
                        status: Some(status.into()),
                    })
                    .collect(),
                chart: Vec::new(),
                next_entry: 0,
            };
            b.entry(
                d(2025, 1, 1),
                "AN",
                &[
                    ("512000", 10_000_00, 0, None),
                    ("101000", 0, 10_000_00, None),
                ],
            );
            for year in [2025, 2026] {
                for m in 1..=12 {
                    let customer = ["411DUPONT", "411MARTIN", "411DURAND"][m as usize % 3];
                    let sale = format!("S{year}{m}");
                    let buy = format!("P{year}{m}");
                    b.entry(
                        d(year, m, 5),
                        "VT",
                        &[
                            (customer, 1_200_00, 0, Some(&sale)),
                            ("707000", 0, 1_000_00, None),
                            ("445710", 0, 200_00, None),
                        ],
                    );
                    b.entry(
                        d(year, m, 8),
                        "HA",
                        &[
                            ("607000", 500_00, 0, None),
                            ("445660", 100_00, 0, None),
                            ("401ACME", 0, 600_00, Some(&buy)),
                        ],
                    );
                    b.entry(
                        d(year, m, 20),
                        "BQ",
                        &[
                            ("512000", 1_200_00, 0, None),
                            (customer, 0, 1_200_00, Some(&sale)),
                        ],
                    );
                    b.entry(
                        d(year, m, 25),
                        "BQ",
                        &[
                            ("401ACME", 600_00, 0, Some(&buy)),
                            ("512000", 0, 600_00, None),
                        ],
                    );
                    b.entry(
                        d(year, m, 28),
                        "OD",
                        &[
                            ("445710", 200_00, 0, None),
                            ("445660", 0, 100_00, None),
                            ("445510", 0, 100_00, None),
                        ],
                    );
                    b.entry(
                        d(year, m, 28),
                        "BQ",
                        &[("445510", 100_00, 0, None), ("512000", 0, 100_00, None)],
                    );
                }
            }
            let mut accounts: Vec<String> = b
                .lines
                .iter()
                .map(|l| l.account_number.to_string())
                .collect();
            accounts.sort();
            accounts.dedup();
            b.chart = accounts
                .into_iter()
                .map(|number| Account {
                    company_id: COMPANY,
                    label: number.clone(),
                    number,
                })
                .collect();
            b
        }

        fn trial_balance(&self) -> Vec<TrialBalanceRow> {
            self.years
                .iter()
                .flat_map(|fy| {
                    trial_balance(&self.lines, &TrialBalanceOptions::new(fy.start, fy.end)).rows
                })
                .collect()
        }

        fn review_with(&self, tb: &[TrialBalanceRow], changes: &[LineChange]) -> Vec<ReviewRow> {
            let mut lines = ReviewLines::new();
            lines.extend(&self.lines);
            review(&ReviewInput {
                fiscal_years: &self.years,
                chart: &self.chart,
                trial_balance: tb,
                lines: &lines,
                changes,
                as_of: d(2027, 2, 1),
            })
        }

        fn review(&self) -> Vec<ReviewRow> {
            self.review_with(&self.trial_balance(), &[])
        }
    }

    fn found(rows: &[ReviewRow]) -> Vec<(i32, ReviewCheck, &str)> {
        use chrono::Datelike;
        rows.iter()
            .map(|r| (r.period_start.year(), r.check, r.account_number.as_str()))
            .collect()
    }

    #[test]
    fn clean_books_have_nothing_to_review() {
        let b = Books::generate();
        assert!(b.lines.len() > 300);
        assert_eq!(b.review(), []);
    }

    #[test]
    fn a_customer_paying_too_much_is_in_credit() {
        let mut b = Books::generate();
        b.entry(
            d(2026, 12, 30),
            "BQ",
            &[
                ("512000", 300_00, 0, None),
                ("411DUPONT", 0, 300_00, Some("X")),
            ],
        );
        let rows = b.review();
        assert_eq!(
            found(&rows),
            [(2026, ReviewCheck::CustomerCreditBalance, "411DUPONT")]
        );
        assert_eq!(rows[0].amount, eur(-300_00));
        assert!(
            rows[0].detail.contains("at 2026-12-31"),
            "{}",
            rows[0].detail
        );
    }

    #[test]
    fn a_supplier_paid_twice_is_in_debit() {
        let mut b = Books::generate();
        b.entry(
            d(2025, 6, 30),
            "BQ",
            &[
                ("401ACME", 600_00, 0, Some("P20256")),
                ("512000", 0, 600_00, None),
            ],
        );
        assert_eq!(
            found(&b.review()),
            [
                (2025, ReviewCheck::SupplierDebitBalance, "401ACME"),
                (2026, ReviewCheck::SupplierDebitBalance, "401ACME"),
            ]
        );
    }

    #[test]
    fn an_overdraft_is_found() {
        let mut b = Books::generate();
        b.entry(
            d(2025, 12, 15),
            "BQ",
            &[
                ("215400", 50_000_00, 0, None),
                ("512000", 0, 50_000_00, None),
            ],
        );
        b.chart.push(Account {
            company_id: COMPANY,
            number: "215400".into(),
            label: "Matériel".into(),
        });
        let rows = b.review();
        assert_eq!(
            found(&rows),
            [
                (2025, ReviewCheck::BankInCredit, "512000"),
                (2026, ReviewCheck::BankInCredit, "512000"),
            ]
        );
        assert!(rows[0].amount.is_sign_negative());
    }

    #[test]
    fn a_suspense_account_left_open_is_found() {
        let mut b = Books::generate();
        b.entry(
            d(2026, 4, 2),
            "BQ",
            &[("471000", 50_00, 0, None), ("512000", 0, 50_00, None)],
        );
        b.chart.push(Account {
            company_id: COMPANY,
            number: "471000".into(),
            label: "Attente".into(),
        });
        let rows = b.review();
        assert_eq!(
            found(&rows),
            [(2026, ReviewCheck::SuspenseNotZero, "471000")]
        );
        assert_eq!(rows[0].amount, eur(50_00));
    }

    #[test]
    fn a_wrong_vat_declaration_is_found() {
        let mut b = Books::generate();
        // March 2026's declaration splits 10.00 wrong between deductible and to pay.
        let march = b
            .lines
            .iter()
            .position(|l| l.date == d(2026, 3, 28) && &*l.account_number == "445660")
            .expect("the declaration");
        b.lines[march].credit = eur(110_00);
        b.lines[march + 1].credit = eur(90_00);
        let rows = b.review();
        assert_eq!(
            found(&rows),
            [(2026, ReviewCheck::VatToPayMismatch, "44551")]
        );
        assert_eq!(rows[0].amount, eur(-10_00));
    }

    #[test]
    fn an_unpaid_invoice_is_an_old_item() {
        let mut b = Books::generate();
        // March 2026's customer payment is gone; its invoice is unlettered.
        b.lines.retain(|l| l.date != d(2026, 3, 20));
        let sale = b
            .lines
            .iter_mut()
            .find(|l| l.date == d(2026, 3, 5) && l.lettering.is_some())
            .expect("the sale");
        sale.lettering = None;
        let rows = b.review();
        assert_eq!(
            found(&rows),
            [(2026, ReviewCheck::OldUnletteredItems, "411DUPONT")]
        );
        assert_eq!(rows[0].amount, eur(1_200_00));
        assert!(
            rows[0].detail.contains("before 2026-10-02"),
            "{}",
            rows[0].detail
        );
        // As of the 1st of May 2026, it is not 90 days old yet.
        let mut lines = ReviewLines::new();
        lines.extend(&b.lines);
        let early = review(&ReviewInput {
            fiscal_years: &b.years,
            chart: &b.chart,
            trial_balance: &[],
            lines: &lines,
            changes: &[],
            as_of: d(2026, 5, 1),
        });
        assert_eq!(early, []);
    }

    #[test]
    fn changes_in_a_closed_year_are_found() {
        let b = Books::generate();
        let old = b
            .lines
            .iter()
            .find(|l| l.date.to_string() == "2025-06-05")
            .expect("line");
        let mut new = old.clone();
        new.debit = eur(1_300_00);
        let in_open_year = b
            .lines
            .iter()
            .find(|l| l.date.to_string() == "2026-06-05")
            .expect("line");
        let changes = [
            LineChange::between(Some(old), Some(&new)).expect("change"),
            LineChange::between(Some(in_open_year), None).expect("deletion"),
        ];
        let rows = b.review_with(&b.trial_balance(), &changes);
        assert_eq!(
            found(&rows),
            [(2025, ReviewCheck::ChangeInClosedYear, &*old.account_number)]
        );
        assert_eq!(rows[0].amount, eur(100_00));
        assert_eq!(rows[0].reference, old.line_id.to_string());
        assert!(rows[0].detail.contains("changed"), "{}", rows[0].detail);
        // Written and read back alike.
        let batches = review_batches(&rows, 10).expect("rows fit the schema");
        assert_eq!(review_rows(&batches[0]).expect("read back"), rows);

        // From old and new versions: a re-delivered line unchanged is no change.
        let key = |l: &LedgerLine| ((l.company_id, l.line_id), l.clone());
        let before: BTreeMap<_, _> = [key(old), key(in_open_year)].into_iter().collect();
        let mut after = before.clone();
        after.insert((COMPANY, old.line_id), new.clone());
        let moved = LineChange::between(Some(old), Some(&new)).expect("change");
        assert_eq!(line_changes(&before, &after), [moved]);
        assert_eq!(line_changes(&before, &before), []);
        after.remove(&(COMPANY, in_open_year.line_id));
        assert_eq!(line_changes(&before, &after).len(), 2);
    }

    #[test]
    fn an_unbalanced_entry_is_found_with_its_year() {
        let mut b = Books::generate();
        let i = b
            .lines
            .iter()
            .position(|l| l.date == d(2025, 9, 8) && &*l.account_number == "607000")
            .expect("a purchase");
        b.lines[i].debit = eur(500_01);
        let entry = b.lines[i].entry_id;
        let rows = b.review();
        assert_eq!(
            found(&rows),
            [
                (2025, ReviewCheck::UnbalancedEntry, ""),
                (2025, ReviewCheck::TrialBalanceUnbalanced, ""),
            ]
        );
        assert_eq!(rows[0].reference, entry.to_string());
        assert_eq!(rows[0].amount, eur(1));
    }

    #[test]
    fn entries_whose_lines_come_apart_are_judged_whole() {
        let b = Books::generate();
        let mut lines = ReviewLines::new();
        // Every line of every entry, but in reverse and interleaved order.
        lines.extend(b.lines.iter().rev().step_by(2));
        lines.extend(b.lines.iter().rev().skip(1).step_by(2));
        assert!(lines.entries.is_empty());
        assert!(lines.is_empty());
    }

    #[test]
    fn a_trial_balance_that_does_not_balance_is_found() {
        let b = Books::generate();
        let mut tb = b.trial_balance();
        let i = tb
            .iter()
            .position(|r| r.account_number == "607000" && r.period_start == d(2026, 1, 1))
            .expect("row");
        tb[i].debit -= eur(500_00);
        let rows = b.review_with(&tb, &[]);
        assert_eq!(
            found(&rows),
            [(2026, ReviewCheck::TrialBalanceUnbalanced, "")]
        );
        assert_eq!(rows[0].amount, eur(-500_00));
    }

    #[test]
    fn an_account_missing_from_the_chart_is_found() {
        let mut b = Books::generate();
        b.chart.retain(|a| a.number != "607000");
        assert_eq!(
            found(&b.review()),
            [
                (2025, ReviewCheck::AccountNotInChart, "607000"),
                (2026, ReviewCheck::AccountNotInChart, "607000"),
            ]
        );
        // A company without any chart is not checked.
        b.chart.clear();
        assert_eq!(b.review(), []);
    }

    #[test]
    fn checks_round_trip_their_names() {
        for c in ReviewCheck::ALL {
            assert_eq!(ReviewCheck::parse(c.as_str()), Some(c));
            assert!(!c.why().is_empty());
        }
        assert_eq!(ReviewCheck::parse("nope"), None);
    }

    #[test]
    fn trial_balance_rows_decode_by_name() {
        let money = LogicalType::Decimal { scale: 2 };
        let schema = std::sync::Arc::new(
            Schema::new(
                "report_trial_balance",
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("period_start", LogicalType::Date),
                    Column::required("period_end", LogicalType::Date),
                    Column::required("account_number", LogicalType::Text),
                    Column::required("opening", money),
                    Column::required("debit", money),
                    Column::required("credit", money),
                    Column::required("closing", money),
                ],
                ["company_id", "period_start", "account_number"],
            )
            .expect("schema"),
        );
        let b = Books::generate();
        let tb = b.trial_balance();
        let rows: Vec<Vec<crate::Value>> = tb
            .iter()
            .map(|r| {
                use crate::Value::*;
                vec![
                    Int64(r.company_id),
                    Date(r.period_start),
                    Date(r.period_end),
                    Text(r.account_number.clone()),
                    Decimal(r.opening),
                    Decimal(r.debit),
                    Decimal(r.credit),
                    Decimal(r.closing),
                ]
            })
            .collect();
        let batch = Batch::upsert(schema, rows).expect("batch");
        assert_eq!(trial_balance_rows(&batch).expect("decoded"), tb);
    }
}
