//! The reports of `penny_transform::reports` as tables of the star schema, for Power BI:
//!
//! - `report_trial_balance`: per company, fiscal year and account: opening balance,
//!   debits, credits, closing balance, under the French chart's rules
//!   ([`FiscalTrialBalanceBuilder`]: a year's own opening entries are its opening, else
//!   the balance-sheet accounts carry their closing and classes 6 and 7 open at zero,
//!   their result carried onto the company's 120 or 129 account, see
//!   [`result_accounts`]); for a company whose source gives no fiscal year,
//!   twelve-month years starting on `fiscal.year_start`, see [`fiscal_years_used`];
//! - `report_fiscal_results`: per company and fiscal year, revenue (class 7), expenses
//!   (class 6), result, the account it is carried onto, and where the year's opening
//!   comes from ([`fiscal_results_schema`]);
//! - `report_aged_receivables` / `report_aged_payables`: per company and customer or
//!   supplier, the open amount of its invoices by bucket of days past due (default
//!   buckets: not due, 0-30, 31-60, 61-90, >90; `third_party_id` 0 for invoices
//!   without one), as of the day of the sync
//!   ([`aged_balance::from_invoices`]);
//! - `report_sig`: the soldes intermédiaires de gestion per company and month
//!   ([`sig`](penny_transform::reports::sig)), without the opening entries (they are
//!   no month's movements; nor are they in the VAT from the ledger);
//! - `report_vat`: VAT per company, month, direction and VAT account from the ledger
//!   ([`vat_from_ledger`]), and per rate
//!   from the invoice lines ([`vat_by_rate`]),
//!   one table told apart by `source` (`ledger` or `invoices`).
//!
//! Memory: the lines are not held. They are summed, as they stream by, per company,
//! account and month, months split at the fiscal years' bounds ([`LineDays`]); the
//! reports are then computed from those sums, which is exact since every report groups
//! by month, by fiscal year or coarser. Their size grows with the accounts and months
//! used, not with the lines; the sums are saved ([`LINE_SUMS_TABLE`]) for the next
//! incremental update, which changes them by the lines it changed. The invoices are
//! digested alike ([`InvoiceDigest`]), and their digest saved ([`OPEN_AMOUNTS_TABLE`],
//! [`INVOICE_VAT_TABLE`]) and changed alike. The reports are computed in one pass over the
//! sums, without holding them as lines.
//!
//! Each table is replaced whole in one commit, on every run (see
//! [`crate::incremental`] for what incremental runs do).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use penny_transform::canonical::{
    Account, Books, FiscalYear, Invoice, InvoiceLine, LedgerLine, OPENING_JOURNAL_CODE,
    OpeningJournals, ThirdPartyKind,
};
use penny_transform::pcg::ResultAccounts;
use penny_transform::reports::FiscalCalendar;
use penny_transform::reports::aged_balance::{self, Buckets};
use penny_transform::reports::sig::SigBuilder;
use penny_transform::reports::trial_balance::FiscalTrialBalanceBuilder;
use penny_transform::reports::vat::{VatDirection, vat_by_rate, vat_from_ledger};
use penny_transform::{Batch, BatchBuilder, Column, LogicalType, Schema, Sink, Value};
use rust_decimal::Decimal;

use crate::error::SyncError;
use crate::transform::write::{TransformReport, batch_error};

const MONEY: LogicalType = LogicalType::Decimal { scale: 2 };

/// The names of the report tables.
pub const REPORT_TABLES: [&str; 6] = [
    "report_trial_balance",
    "report_fiscal_results",
    "report_aged_receivables",
    "report_aged_payables",
    "report_sig",
    "report_vat",
];

/// The table of the star schema the line sums are saved in ([`LineDays::batches`]), so
/// that the next incremental update changes them by the lines it changed instead of
/// summing every line again.
///
/// Its name carries the rule that makes periods ([`LineDays`]): a change of that rule
/// must change the name, so that sums saved under the old rule are not found (and are
/// made afresh) rather than changed under the new one. This rule keeps the lines of
/// the opening journals apart, per day.
pub const LINE_SUMS_TABLE: &str = "_penny_line_sums_openings_apart";

/// A key of the line sums: company, account number, first day of the period (the day,
/// for lines of an opening journal), and whether they are lines of an opening journal.
pub type SumKey = (i64, Arc<str>, NaiveDate, bool);

/// The sums of one account and period.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Sums {
    debit: Decimal,
    credit: Decimal,
    /// How many lines are summed: the sums go when their last line does, as if they
    /// had been summed afresh.
    lines: i64,
}

/// Saved sums that do not match the lines they are changed by: the sums must be
/// computed afresh.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the saved line sums do not match the saved lines ({0}): they are summed afresh")]
pub struct StaleSums(String);

/// Ledger lines summed per company, account and period (debits, credits).
///
/// A period is a calendar month, split at the fiscal years' first days and at the days
/// after their last: every report groups by month, by fiscal year, or by "before the
/// fiscal year" (the trial balance's opening), so the sums are exact for all of them,
/// and their number grows with the accounts and months used, not with the lines.
///
/// The lines of the opening journals ([`OpeningJournals`]) are summed apart, per day:
/// those dated on a fiscal year's first day are its opening entries (à-nouveaux), which
/// the reports tell from the movements ([`FiscalCalendar`]) whether the fiscal years
/// come from the source or are assumed later.
///
/// Only the accounts a monthly report reads (classes 6 and 7 for the SIG, VAT accounts
/// for the VAT) need months: in a company with fiscal years, the other accounts
/// (customers', suppliers', bank accounts: most of them) are summed per fiscal year,
/// their period running from the last fiscal-year bound on or before the line's day
/// (a month for lines before the first fiscal year).
///
/// The sums are saved in [`LINE_SUMS_TABLE`] and read back ([`add_saved`](Self::add_saved));
/// [`take_away`](Self::take_away) and [`put`](Self::put) then change them by the old and
/// new versions of the lines a run changed, which costs what the changes cost, not what the books hold.
#[derive(Debug, Default)]
pub struct LineDays {
    sums: HashMap<SumKey, Sums>,
    /// Per company, the days a fiscal year starts on or resumes after.
    boundaries: HashMap<i64, std::collections::BTreeSet<NaiveDate>>,
    /// The journals whose lines are summed apart.
    journals: OpeningJournals,
}

impl LineDays {
    /// Empty sums, with periods split at `fiscal_years`' bounds, the lines of
    /// `journals` summed apart.
    pub fn new(fiscal_years: &[FiscalYear], journals: OpeningJournals) -> Self {
        let mut boundaries: HashMap<i64, std::collections::BTreeSet<NaiveDate>> = HashMap::new();
        for fy in fiscal_years {
            let b = boundaries.entry(fy.company_id).or_default();
            b.insert(fy.start);
            if let Some(next) = fy.end.succ_opt() {
                b.insert(next);
            }
        }
        LineDays {
            sums: HashMap::new(),
            boundaries,
            journals,
        }
    }

    /// Whether `fiscal_years` split the periods as these sums' fiscal years do (if not,
    /// saved sums cannot be changed by difference).
    pub fn same_periods(&self, fiscal_years: &[FiscalYear]) -> bool {
        LineDays::new(fiscal_years, OpeningJournals::default()).boundaries == self.boundaries
    }

    /// The journals whose lines are summed apart (saved sums made with other opening
    /// journals cannot be changed by difference).
    pub fn opening_journals(&self) -> &OpeningJournals {
        &self.journals
    }

    /// How many sums (accounts and periods) there are.
    pub fn len(&self) -> usize {
        self.sums.len()
    }

    /// Whether there are no sums.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// The first day of the period of a line of `account` on `date`.
    fn period(&self, company_id: i64, account: &str, date: NaiveDate) -> NaiveDate {
        let month = penny_transform::reports::month_start(date);
        let Some(bounds) = self.boundaries.get(&company_id) else {
            return month;
        };
        let from = if monthly(account) {
            bounds.range(month..=date).next_back()
        } else {
            bounds.range(..=date).next_back()
        };
        from.copied().unwrap_or(month)
    }

    /// The key of a line's sums.
    fn key(
        &self,
        company_id: i64,
        account_number: &Arc<str>,
        journal_code: &str,
        date: NaiveDate,
    ) -> SumKey {
        if self.journals.contains(company_id, journal_code) {
            return (company_id, account_number.clone(), date, true);
        }
        (
            company_id,
            account_number.clone(),
            self.period(company_id, account_number, date),
            false,
        )
    }

    /// Adds lines.
    pub fn add<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for l in lines {
            let key = self.key(l.company_id, &l.account_number, &l.journal_code, l.date);
            let s = self.sums.entry(key).or_default();
            s.debit += l.debit;
            s.credit += l.credit;
            s.lines += 1;
        }
    }

    /// Takes away the old versions of lines (`canonical_ledger_lines` read back:
    /// `company_id`, `journal_code`, `account_number`, `date`, `debit`, `credit`) and returns the keys
    /// whose sums changed; an old version the sums do not hold is refused.
    pub fn take_away(
        &mut self,
        old: &Batch,
    ) -> Result<std::collections::BTreeSet<SumKey>, StaleSums> {
        let mut touched = std::collections::BTreeSet::new();
        let s = old.schema();
        let col = |name: &str| {
            s.column_index(name)
                .ok_or_else(|| StaleSums(format!("`{}` has no column `{name}`", s.name())))
        };
        let (c, j, a, d, dr, cr) = (
            col("company_id")?,
            col("journal_code")?,
            col("account_number")?,
            col("date")?,
            col("debit")?,
            col("credit")?,
        );
        for row in old.rows() {
            let (
                Some(Value::Int64(company_id)),
                Some(Value::Text(journal)),
                Some(Value::Text(account)),
                Some(Value::Date(date)),
                Some(Value::Decimal(debit)),
                Some(Value::Decimal(credit)),
            ) = (
                row.get(c),
                row.get(j),
                row.get(a),
                row.get(d),
                row.get(dr),
                row.get(cr),
            )
            else {
                return Err(StaleSums(format!(
                    "a line read back is incomplete: {row:?}"
                )));
            };
            let key = self.key(*company_id, &Arc::from(account.as_str()), journal, *date);
            let Some(sums) = self.sums.get_mut(&key) else {
                return Err(StaleSums(format!("no sums for {key:?}")));
            };
            sums.debit -= *debit;
            sums.credit -= *credit;
            sums.lines -= 1;
            if sums.lines < 0 {
                return Err(StaleSums(format!(
                    "more lines taken from {key:?} than summed"
                )));
            }
            if sums.lines == 0 {
                self.sums.remove(&key);
            }
            touched.insert(key);
        }
        Ok(touched)
    }

    /// Adds the new versions of lines and returns the keys whose sums changed.
    pub fn put<'a>(
        &mut self,
        new: impl IntoIterator<Item = &'a LedgerLine>,
    ) -> std::collections::BTreeSet<SumKey> {
        let mut touched = std::collections::BTreeSet::new();
        for l in new {
            touched.insert(self.key(l.company_id, &l.account_number, &l.journal_code, l.date));
            self.add([l]);
        }
        touched
    }

    /// The schema of [`LINE_SUMS_TABLE`].
    pub fn schema() -> Arc<Schema> {
        schema(
            LINE_SUMS_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("account_number", LogicalType::Text),
                Column::required("period", LogicalType::Date),
                Column::required("opening_journal", LogicalType::Bool),
                Column::required("debit", MONEY),
                Column::required("credit", MONEY),
                Column::required("lines", LogicalType::Int64),
            ],
            &["company_id", "account_number", "period", "opening_journal"],
        )
    }

    /// The sums as rows of [`LINE_SUMS_TABLE`]: all of them (`keys` `None`), or those of
    /// `keys`, with the keys whose sums are gone (to delete).
    pub fn batches(
        &self,
        keys: Option<&std::collections::BTreeSet<SumKey>>,
        batch_rows: usize,
    ) -> Result<(Vec<Batch>, Vec<Vec<Value>>), SyncError> {
        let row = |(company, account, period, opening): &SumKey, s: &Sums| {
            vec![
                Value::Int64(*company),
                Value::Text(account.to_string()),
                Value::Date(*period),
                Value::Bool(*opening),
                Value::Decimal(s.debit),
                Value::Decimal(s.credit),
                Value::Int64(s.lines),
            ]
        };
        let schema = Self::schema();
        match keys {
            None => Ok((
                batches(
                    &schema,
                    self.sums.iter().map(|(k, s)| row(k, s)),
                    batch_rows,
                )?,
                Vec::new(),
            )),
            Some(keys) => {
                let mut gone = Vec::new();
                let mut rows = Vec::new();
                for key in keys {
                    match self.sums.get(key) {
                        Some(s) => rows.push(row(key, s)),
                        None => gone.push(vec![
                            Value::Int64(key.0),
                            Value::Text(key.1.to_string()),
                            Value::Date(key.2),
                            Value::Bool(key.3),
                        ]),
                    }
                }
                Ok((batches(&schema, rows, batch_rows)?, gone))
            }
        }
    }

    /// Adds rows of [`LINE_SUMS_TABLE`] read back.
    pub fn add_saved(&mut self, batch: &Batch) -> Result<(), StaleSums> {
        for row in batch.rows() {
            let (
                Some(Value::Int64(company)),
                Some(Value::Text(account)),
                Some(Value::Date(period)),
                Some(Value::Bool(opening)),
                Some(Value::Decimal(debit)),
                Some(Value::Decimal(credit)),
                Some(Value::Int64(lines)),
            ) = (
                row.first(),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
                row.get(6),
            )
            else {
                return Err(StaleSums(format!(
                    "a row of `{LINE_SUMS_TABLE}` is not (company_id, account_number, period, opening_journal, debit, credit, lines): {row:?}"
                )));
            };
            self.sums.insert(
                (*company, Arc::from(account.as_str()), *period, *opening),
                Sums {
                    debit: *debit,
                    credit: *credit,
                    lines: *lines,
                },
            );
        }
        Ok(())
    }

    /// Calls `f` with one synthetic line per company, account and period, dated on the
    /// period's first day, carrying its sums (one line reused: nothing grows with the
    /// sums but the sums); the sums of opening journals' lines come in journal
    /// [`OPENING_JOURNAL_CODE`], the others in a journal of no code.
    fn for_each_line(&self, mut f: impl FnMut(&LedgerLine)) {
        let (opening_journal, other_journal): (Arc<str>, Arc<str>) =
            (Arc::from(OPENING_JOURNAL_CODE), Arc::from(""));
        let mut line = LedgerLine {
            company_id: 0,
            entry_id: 0,
            line_id: 0,
            date: NaiveDate::MIN,
            journal_code: Arc::from(""),
            account_number: Arc::from(""),
            label: String::new(),
            debit: Decimal::ZERO,
            credit: Decimal::ZERO,
            third_party: None,
            document_ref: None,
            due_date: None,
            lettering: None,
            categories: None,
        };
        for ((company_id, account, period, opening), s) in &self.sums {
            line.company_id = *company_id;
            line.journal_code = if *opening {
                opening_journal.clone()
            } else {
                other_journal.clone()
            };
            line.account_number = account.clone();
            line.date = *period;
            line.debit = s.debit;
            line.credit = s.credit;
            f(&line);
        }
    }

    /// Per company, the first and last periods of its sums.
    pub(crate) fn extent(&self) -> BTreeMap<i64, (NaiveDate, NaiveDate)> {
        let mut out: BTreeMap<i64, (NaiveDate, NaiveDate)> = BTreeMap::new();
        for (company_id, _, period, _) in self.sums.keys() {
            out.entry(*company_id)
                .and_modify(|(a, b)| {
                    *a = (*a).min(*period);
                    *b = (*b).max(*period);
                })
                .or_insert((*period, *period));
        }
        out
    }
}

/// Whether a monthly report reads `account` (the SIG: classes 6 and 7; the VAT: VAT
/// accounts).
fn monthly(account: &str) -> bool {
    penny_transform::reports::sig::Aggregate::of_account(account).is_some()
        || VatDirection::of_account(account).is_some()
}

/// An invoice's key: company, kind, id.
pub type InvoiceKey = (i64, ThirdPartyKind, i64);

/// What the payments and invoice lines need of their invoice.
#[derive(Debug, Clone, Copy)]
struct InvoiceBrief {
    third_party_id: Option<i64>,
    date: NaiveDate,
    /// The due date, else the invoice's date.
    due: NaiveDate,
}

/// One invoice's brief as kept: 24 bytes (a third party id of 0 for none, as the
/// open amounts count it).
#[derive(Debug, Clone, Copy)]
struct PackedBrief {
    id: i64,
    third_party_id: i64,
    date: NaiveDate,
    due: NaiveDate,
}

/// The invoices' briefs per company and kind, sorted by id once sealed (at the end of
/// every [`InvoiceDigest::add`]: nearly sorted input, the raw tables' key order, sorts
/// in linear time).
#[derive(Debug, Default)]
struct Briefs(BTreeMap<(i64, ThirdPartyKind), (Vec<PackedBrief>, bool)>);

impl Briefs {
    /// Adds an invoice (unsealed until [`seal`](Self::seal)).
    fn push(&mut self, (company, kind, id): InvoiceKey, brief: InvoiceBrief) {
        let (briefs, unsorted) = self.0.entry((company, kind)).or_default();
        if briefs.last().is_some_and(|last| last.id >= id) {
            *unsorted = true;
        }
        briefs.push(PackedBrief {
            id,
            third_party_id: brief.third_party_id.unwrap_or(0),
            date: brief.date,
            due: brief.due,
        });
    }

    /// Sorts the briefs by id where they came out of order.
    fn seal(&mut self) {
        for (briefs, unsorted) in self.0.values_mut() {
            if std::mem::take(unsorted) {
                briefs.sort_by_key(|b| b.id);
            }
        }
    }

    fn get(&self, (company, kind, id): &InvoiceKey) -> Option<InvoiceBrief> {
        let (briefs, unsorted) = self.0.get(&(*company, *kind))?;
        debug_assert!(!unsorted, "looked up before sealing");
        let i = briefs.binary_search_by_key(id, |b| b.id).ok()?;
        let b = briefs[i];
        Some(InvoiceBrief {
            third_party_id: (b.third_party_id != 0).then_some(b.third_party_id),
            date: b.date,
            due: b.due,
        })
    }
}

/// The table of the star schema the invoices' open amounts are saved in
/// ([`InvoiceDigest::saved_batches`]), for the next incremental update to change by the
/// invoices and payments it changed ([`aged_balance::OpenAmounts`]).
pub const OPEN_AMOUNTS_TABLE: &str = "_penny_open_amounts";

/// The table of the star schema the invoice lines' sums per company, kind, month and
/// VAT rate are saved in ([`InvoiceDigest::saved_batches`]).
pub const INVOICE_VAT_TABLE: &str = "_penny_invoice_vat_sums";

/// The columns of `canonical_invoices`, `canonical_invoice_lines` and
/// `canonical_invoice_payments` (with their keys) the digest reads back from the
/// previous run ([`InvoiceDigest::change`], [`read_back`]).
pub fn digest_canonical_columns(table: &str) -> &'static [&'static str] {
    match table {
        "canonical_invoices" => &[
            "third_party_id",
            "date",
            "due_date",
            "amount_ttc",
            "document_kind",
            "credited_invoice_id",
        ],
        "canonical_invoice_lines" => &["invoice_id", "amount_ht", "vat", "amount_ttc", "vat_rate"],
        "canonical_invoice_payments" => &["invoice_id", "date", "amount"],
        _ => &[],
    }
}

/// The group of an invoice's open amounts: company, kind, third party (none for an id
/// of 0, as the aged balances and the saved open amounts write a missing one).
fn open_group(
    company: i64,
    kind: ThirdPartyKind,
    third_party: Option<i64>,
) -> aged_balance::OpenGroup {
    (company, kind, third_party.filter(|t| *t != 0))
}

/// A key of the invoice lines' VAT sums: company, kind, month (of the invoice's date),
/// VAT rate (`unknown` for a line without one, as [`vat_by_rate`] names it).
type VatKey = (i64, ThirdPartyKind, NaiveDate, String);

/// The sums of the invoice lines of one [`VatKey`].
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct VatSums {
    amount_ht: Decimal,
    vat: Decimal,
    amount_ttc: Decimal,
    /// How many lines are summed (the sums go with their last line).
    lines: i64,
}

/// What the reports need of the invoices, their lines and their payments, gathered as
/// they stream by: the open amounts of the aged balances, summed as totals and payments
/// arrive ([`aged_balance::OpenAmounts`]); per invoice its third party and dates (the
/// payments' and lines' way to their invoice); the lines summed per company, kind, month
/// and VAT rate. Invoices must be added before their lines and payments (a line of an
/// unknown invoice is left out, as [`vat_by_rate`] does; so is a payment, which the aged
/// balance would not count), and each invoice once (as the raw tables' keys make them).
///
/// The open amounts and the VAT sums are saved ([`OPEN_AMOUNTS_TABLE`],
/// [`INVOICE_VAT_TABLE`]) and read back by the next incremental update
/// ([`add_saved`](Self::add_saved)), which changes them by the old and new versions of
/// the records it changed ([`change`](Self::change)) instead of reading every invoice.
///
/// Memory: with [`add`](Self::add), the briefs are kept in a vector per company and
/// kind sorted by id (looked up by binary search), 24 bytes an invoice; with
/// [`add_invoices`](Self::add_invoices) without briefs and
/// [`add_details`](Self::add_details), nothing per invoice. The open amounts grow with
/// the third parties and recent or future due dates, the VAT sums with the months and
/// rates.
#[derive(Debug)]
pub struct InvoiceDigest {
    open: aged_balance::OpenAmounts,
    invoices: Briefs,
    vat: BTreeMap<VatKey, VatSums>,
    /// The day the open amounts read back were kept as of.
    saved_on: Option<NaiveDate>,
    /// The open amounts [`change`](Self::change) touched.
    touched: Option<std::collections::BTreeSet<aged_balance::OpenKey>>,
    /// The invoices added with briefs that are not accounting documents (drafts,
    /// quotes...), for their lines to be told apart ([`counts`](Self::counts)).
    left_out: std::collections::BTreeSet<InvoiceKey>,
    /// Credit notes whose credited invoice was not seen yet, by that invoice's key
    /// ([`pending_credits`](Self::pending_credits)).
    pending: BTreeMap<InvoiceKey, Vec<PendingCredit>>,
}

/// A credit note waiting for the invoice it credits, whose due date it is aged on.
#[derive(Debug, Clone, Copy)]
struct PendingCredit {
    group: aged_balance::OpenGroup,
    /// The credit note's date (it counts from it).
    from: NaiveDate,
    /// Its own due date, used if the credited invoice never comes.
    own_due: NaiveDate,
    amount: Decimal,
}

impl InvoiceDigest {
    /// An empty digest for the aged balances as of `as_of` (payments after it are left
    /// out).
    pub fn new(as_of: NaiveDate) -> Self {
        InvoiceDigest {
            open: aged_balance::OpenAmounts::new(as_of, Buckets::default()),
            invoices: Briefs::default(),
            vat: BTreeMap::new(),
            saved_on: None,
            touched: None,
            left_out: std::collections::BTreeSet::new(),
            pending: BTreeMap::new(),
        }
    }

    /// The invoices credit notes added so far credit that the digest has not seen
    /// (the keyed full rebuild reads them back and gives them to
    /// [`resolve_credits`](Self::resolve_credits)). Credit notes still waiting when
    /// the digest is read are aged on their own due date.
    pub fn pending_credits(&self) -> impl Iterator<Item = &InvoiceKey> + '_ {
        self.pending.keys()
    }

    /// Ages the credit notes waiting for one of `invoices` on its due date (invoices
    /// that are not accounting documents credit nothing: those wait on).
    pub fn resolve_credits(&mut self, invoices: &[Invoice]) {
        for i in invoices
            .iter()
            .filter(|i| i.counts() && i.credits().is_none())
        {
            self.resolve((i.company_id, i.kind, i.id), i.due());
        }
    }

    /// Ages the credit notes waiting for invoice `key` on its due date `due`.
    fn resolve(&mut self, key: InvoiceKey, due: NaiveDate) {
        if self.pending.is_empty() {
            return;
        }
        for c in self.pending.remove(&key).unwrap_or_default() {
            self.open.add(c.group, c.from, due, c.amount);
        }
    }

    /// The open amounts, with the credit notes still waiting aged on their own due
    /// date.
    fn settled(&self) -> std::borrow::Cow<'_, aged_balance::OpenAmounts> {
        if self.pending.is_empty() {
            return std::borrow::Cow::Borrowed(&self.open);
        }
        let mut open = self.open.clone();
        for c in self.pending.values().flatten() {
            open.add(c.group, c.from, c.own_due, c.amount);
        }
        std::borrow::Cow::Owned(open)
    }

    /// Whether the invoice `key` counts: false for one added with briefs
    /// ([`add`](Self::add), [`add_invoices`](Self::add_invoices) with `keep_briefs`)
    /// that is not an accounting document, true otherwise (unknown invoices included).
    pub fn counts(&self, key: &InvoiceKey) -> bool {
        !self.left_out.contains(key)
    }

    /// The open amounts a [`change`](Self::change) touched, when the amounts were read
    /// back from the same day (kept alike, so the other saved rows and aged balances
    /// stand); `None` otherwise.
    fn same_day_changes(&self) -> Option<&std::collections::BTreeSet<aged_balance::OpenKey>> {
        self.touched
            .as_ref()
            .filter(|_| self.saved_on == Some(self.as_of()))
    }

    /// The day the aged balances are computed at.
    pub fn as_of(&self) -> NaiveDate {
        self.open.as_of()
    }

    /// Adds the invoices, then the invoice lines, then the payments of `books`.
    pub fn add(&mut self, books: &Books) {
        self.add_invoices(&books.invoices, true);
        for l in &books.invoice_lines {
            if let Some(invoice) = self.invoices.get(&(l.company_id, l.kind, l.invoice_id)) {
                let date = invoice.date;
                // Adding never fails.
                let _ = self.add_line(l, date, 1);
            }
        }
        for p in &books.payments {
            if let Some(i) = self.invoices.get(&(p.company_id, p.kind, p.invoice_id)) {
                self.open.add(
                    open_group(p.company_id, p.kind, i.third_party_id),
                    p.date.max(i.date),
                    i.due,
                    -p.amount,
                );
            }
        }
    }

    /// Adds invoices (their amounts owed). With `keep_briefs`, keeps what their lines
    /// and payments need of them (24 bytes each) for [`add`](Self::add) to join them;
    /// without, their lines and payments must come with them through
    /// [`add_details`](Self::add_details).
    ///
    /// Only accounting documents count ([`Invoice::counts`]): a draft, proforma,
    /// quote or order is left out, and so are its lines and payments, which find no
    /// brief; a credit note counts with its negative amounts, aged on the due date of
    /// the invoice it credits (an amount taken off it) once that invoice is seen
    /// (here, by its brief, or [`resolve_credits`](Self::resolve_credits)).
    pub fn add_invoices(&mut self, invoices: &[Invoice], keep_briefs: bool) {
        if keep_briefs {
            self.left_out.extend(
                invoices
                    .iter()
                    .filter(|i| !i.counts())
                    .map(|i| (i.company_id, i.kind, i.id)),
            );
        }
        for i in invoices.iter().filter(|i| i.counts()) {
            if keep_briefs {
                self.invoices.push(
                    (i.company_id, i.kind, i.id),
                    InvoiceBrief {
                        third_party_id: i.third_party_id,
                        date: i.date,
                        due: i.due(),
                    },
                );
            }
            if i.credits().is_none() {
                self.open.add(
                    open_group(i.company_id, i.kind, i.third_party_id),
                    i.date,
                    i.due(),
                    i.amount_ttc,
                );
                self.resolve((i.company_id, i.kind, i.id), i.due());
            }
        }
        self.invoices.seal();
        // Then the credit notes, on the due date of the invoice they credit.
        let mut here: Option<HashMap<InvoiceKey, NaiveDate>> = None;
        for i in invoices.iter().filter(|i| i.counts()) {
            let Some(credited) = i.credits() else {
                continue;
            };
            let key = (i.company_id, i.kind, credited);
            let here = here.get_or_insert_with(|| {
                invoices
                    .iter()
                    .filter(|i| i.counts() && i.credits().is_none())
                    .map(|i| ((i.company_id, i.kind, i.id), i.due()))
                    .collect()
            });
            let due = here
                .get(&key)
                .copied()
                .or_else(|| self.invoices.get(&key).map(|b| b.due));
            let group = open_group(i.company_id, i.kind, i.third_party_id);
            match due {
                Some(due) => {
                    self.open.add(group, i.date, due, i.amount_ttc);
                }
                None => self.pending.entry(key).or_default().push(PendingCredit {
                    group,
                    from: i.date,
                    own_due: i.due(),
                    amount: i.amount_ttc,
                }),
            }
        }
    }

    /// Adds the invoice lines and payments of `books`, joined to their invoices, also
    /// in `books` (whose amounts owed were added by [`add_invoices`](Self::add_invoices)
    /// and are not added again): a full rebuild that reads each batch's invoices back by
    /// key needs no brief per invoice. Lines and payments of an invoice not in `books`
    /// are left out, as [`add`](Self::add) leaves out those of an unknown invoice, and
    /// so are those of an invoice that is not an accounting document.
    pub fn add_details(&mut self, books: &Books) {
        let touched = self.touched.take();
        // Adding never fails; no invoice is in `changed`, so none is added again.
        let _ = self.apply(books, &std::collections::BTreeSet::new(), 1);
        self.touched = touched;
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) an invoice line of an invoice dated
    /// `date`.
    fn add_line(&mut self, l: &InvoiceLine, date: NaiveDate, sign: i64) -> Result<(), StaleSums> {
        let rate = l.vat_rate.as_deref().unwrap_or("unknown");
        let key = (
            l.company_id,
            l.kind,
            penny_transform::reports::month_start(date),
            rate.to_owned(),
        );
        let sums = self.vat.entry(key).or_default();
        let d = Decimal::from(sign);
        sums.amount_ht += d * l.amount_ht;
        sums.vat += d * l.vat;
        sums.amount_ttc += d * l.amount_ttc;
        sums.lines += sign;
        if sums.lines < 0 {
            return Err(StaleSums(format!(
                "invoice line {} taken from VAT sums that do not hold it",
                l.id
            )));
        }
        if sums.lines == 0 {
            let key = (
                l.company_id,
                l.kind,
                penny_transform::reports::month_start(date),
                rate.to_owned(),
            );
            self.vat.remove(&key);
        }
        Ok(())
    }

    /// Changes the digest by the records a run changed: `old` (their versions before
    /// the run, as read back by [`read_back`]) taken away, `new` (after it) added. Each
    /// holds the invoices whose keys are in `changed` (those that changed; an invoice
    /// gone is not in `new`), the lines and payments that changed or belong to a
    /// changed invoice, and the invoices of those lines and payments (unchanged ones
    /// alike in both), which their amounts are dated and grouped by.
    ///
    /// Only accounting documents count, in either version: a draft that became an
    /// invoice is added with its lines and payments, an invoice that went back to draft
    /// taken away with them.
    ///
    /// Errs when the saved sums do not hold what is taken away: they must then be made
    /// afresh.
    pub fn change(
        &mut self,
        old: &Books,
        new: &Books,
        changed: &std::collections::BTreeSet<InvoiceKey>,
    ) -> Result<(), StaleSums> {
        self.touched.get_or_insert_default();
        self.apply(old, changed, -1)?;
        self.apply(new, changed, 1)
    }

    fn apply(
        &mut self,
        books: &Books,
        changed: &std::collections::BTreeSet<InvoiceKey>,
        sign: i64,
    ) -> Result<(), StaleSums> {
        let d = Decimal::from(sign);
        let invoices: HashMap<InvoiceKey, &Invoice> = books
            .invoices
            .iter()
            .filter(|i| i.counts())
            .map(|i| ((i.company_id, i.kind, i.id), i))
            .collect();
        for (key, i) in &invoices {
            if changed.contains(key) {
                // A credit note on the due date of the invoice it credits, which the
                // caller gives with it (else on its own, as a full digest would).
                let due = i
                    .credits()
                    .and_then(|c| invoices.get(&(i.company_id, i.kind, c)))
                    .filter(|c| c.credits().is_none())
                    .map_or(i.due(), |c| c.due());
                let touched = self.open.add(
                    open_group(i.company_id, i.kind, i.third_party_id),
                    i.date,
                    due,
                    d * i.amount_ttc,
                );
                self.touched.get_or_insert_default().extend(touched);
            }
        }
        for l in &books.invoice_lines {
            if let Some(i) = invoices.get(&(l.company_id, l.kind, l.invoice_id)) {
                self.add_line(l, i.date, sign)?;
            }
        }
        for p in &books.payments {
            if let Some(i) = invoices.get(&(p.company_id, p.kind, p.invoice_id)) {
                let touched = self.open.add(
                    open_group(p.company_id, p.kind, i.third_party_id),
                    p.date.max(i.date),
                    i.due_date.unwrap_or(i.date),
                    -d * p.amount,
                );
                self.touched.get_or_insert_default().extend(touched);
            }
        }
        Ok(())
    }

    /// The schema of [`OPEN_AMOUNTS_TABLE`] (`third_party_id` 0 for invoices without
    /// one, as in the aged balances; `as_of`, the day the amounts were kept as of, the
    /// same on every row).
    pub fn open_amounts_schema() -> Arc<Schema> {
        schema(
            OPEN_AMOUNTS_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("kind", LogicalType::Text),
                Column::required("third_party_id", LogicalType::Int64),
                Column::required("due_date", LogicalType::Date),
                Column::required("counts_from", LogicalType::Date),
                Column::required("amount", MONEY),
                Column::required("as_of", LogicalType::Date),
            ],
            &[
                "company_id",
                "kind",
                "third_party_id",
                "due_date",
                "counts_from",
            ],
        )
    }

    /// The schema of [`INVOICE_VAT_TABLE`].
    pub fn vat_sums_schema() -> Arc<Schema> {
        schema(
            INVOICE_VAT_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("kind", LogicalType::Text),
                Column::required("month", LogicalType::Date),
                Column::required("vat_rate", LogicalType::Text),
                Column::required("amount_ht", MONEY),
                Column::required("vat", MONEY),
                Column::required("amount_ttc", MONEY),
                Column::required("lines", LogicalType::Int64),
            ],
            &["company_id", "kind", "month", "vat_rate"],
        )
    }

    /// The open amounts and the VAT sums as the rows of [`OPEN_AMOUNTS_TABLE`] and
    /// [`INVOICE_VAT_TABLE`] (both grow with third parties, dates and rates, not with
    /// the invoices): whole, but the open amounts a same-day [`change`](Self::change)
    /// touched, merged.
    pub fn saved_batches(&self, batch_rows: usize) -> Result<Vec<TableWrite>, SyncError> {
        let as_of = Value::Date(self.as_of());
        let s = Self::open_amounts_schema();
        let key_values = |&(company, kind, third_party, due, from): &aged_balance::OpenKey| {
            vec![
                Value::Int64(company),
                Value::Text(kind.as_str().to_owned()),
                Value::Int64(third_party.unwrap_or(0)),
                Value::Date(due),
                Value::Date(from),
            ]
        };
        let row = |key: &aged_balance::OpenKey, amount: Decimal| {
            let mut row = key_values(key);
            row.push(Value::Decimal(amount));
            row.push(as_of.clone());
            row
        };
        let open = match self.same_day_changes() {
            Some(touched) => {
                let mut rows = Vec::new();
                let mut gone = Vec::new();
                for key in touched {
                    match self.open.get(key) {
                        Some(amount) => rows.push(row(key, amount)),
                        None => gone.push(key_values(key)),
                    }
                }
                (s.clone(), batches(&s, rows, batch_rows)?, Some(gone))
            }
            None => {
                let open = self.settled();
                let rows = open.iter().map(|(key, amount)| row(key, *amount));
                (s.clone(), batches(&s, rows, batch_rows)?, None)
            }
        };
        let s = Self::vat_sums_schema();
        let rows = self.vat.iter().map(|((company, kind, month, rate), sums)| {
            vec![
                Value::Int64(*company),
                Value::Text(kind.as_str().to_owned()),
                Value::Date(*month),
                Value::Text(rate.clone()),
                Value::Decimal(sums.amount_ht),
                Value::Decimal(sums.vat),
                Value::Decimal(sums.amount_ttc),
                Value::Int64(sums.lines),
            ]
        });
        let vat = (s.clone(), batches(&s, rows, batch_rows)?, None);
        Ok(vec![open, vat])
    }

    /// Adds rows of [`OPEN_AMOUNTS_TABLE`] or [`INVOICE_VAT_TABLE`] read back. Open
    /// amounts kept as of a later day than this digest's cannot be aged on it: they
    /// are refused, as are rows of another shape.
    pub fn add_saved(&mut self, batch: &Batch) -> Result<(), StaleSums> {
        let table = batch.table();
        let bad = |row: &[Value]| {
            StaleSums(format!(
                "a row of `{table}` does not have the columns of {:?}: {row:?}",
                match table {
                    OPEN_AMOUNTS_TABLE => Self::open_amounts_schema(),
                    _ => Self::vat_sums_schema(),
                }
                .columns()
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
            ))
        };
        let kind = |v: Option<&Value>| match v {
            Some(Value::Text(k)) => ThirdPartyKind::parse(k),
            _ => None,
        };
        for row in batch.rows() {
            match table {
                OPEN_AMOUNTS_TABLE => {
                    let (
                        Some(Value::Int64(company)),
                        Some(kind),
                        Some(Value::Int64(third_party)),
                        Some(Value::Date(due)),
                        Some(Value::Date(from)),
                        Some(Value::Decimal(amount)),
                        Some(Value::Date(as_of)),
                    ) = (
                        row.first(),
                        kind(row.get(1)),
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        row.get(5),
                        row.get(6),
                    )
                    else {
                        return Err(bad(row));
                    };
                    if *as_of > self.as_of() {
                        return Err(StaleSums(format!(
                            "the open amounts were kept as of {as_of}, after {}",
                            self.as_of()
                        )));
                    }
                    let third_party = (*third_party != 0).then_some(*third_party);
                    self.open
                        .add((*company, kind, third_party), *from, *due, *amount);
                    self.saved_on = Some(*as_of);
                }
                INVOICE_VAT_TABLE => {
                    let (
                        Some(Value::Int64(company)),
                        Some(kind),
                        Some(Value::Date(month)),
                        Some(Value::Text(rate)),
                        Some(Value::Decimal(amount_ht)),
                        Some(Value::Decimal(vat)),
                        Some(Value::Decimal(amount_ttc)),
                        Some(Value::Int64(lines)),
                    ) = (
                        row.first(),
                        kind(row.get(1)),
                        row.get(2),
                        row.get(3),
                        row.get(4),
                        row.get(5),
                        row.get(6),
                        row.get(7),
                    )
                    else {
                        return Err(bad(row));
                    };
                    self.vat.insert(
                        (*company, kind, *month, rate.clone()),
                        VatSums {
                            amount_ht: *amount_ht,
                            vat: *vat,
                            amount_ttc: *amount_ttc,
                            lines: *lines,
                        },
                    );
                }
                other => {
                    return Err(StaleSums(format!(
                        "`{other}` is not a table of the invoices' digest"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The aged balances.
    fn aged(&self) -> aged_balance::AgedBalance {
        self.settled().age()
    }

    /// The VAT per rate ([`vat_by_rate`] over one invoice per company, kind and month
    /// carrying that month's sums per rate).
    fn vat_rows(&self) -> Vec<penny_transform::reports::vat::VatRateRow> {
        let mut invoices: BTreeMap<(i64, ThirdPartyKind, NaiveDate), i64> = BTreeMap::new();
        let mut lines = Vec::with_capacity(self.vat.len());
        for ((company_id, kind, month, rate), sums) in &self.vat {
            let next = invoices.len() as i64;
            let invoice_id = *invoices.entry((*company_id, *kind, *month)).or_insert(next);
            lines.push(InvoiceLine {
                company_id: *company_id,
                kind: *kind,
                invoice_id,
                id: lines.len() as i64,
                label: None,
                quantity: None,
                amount_ht: sums.amount_ht,
                vat: sums.vat,
                amount_ttc: sums.amount_ttc,
                vat_rate: Some(rate.clone()),
                account_number: None,
            });
        }
        let invoices: Vec<Invoice> = invoices
            .into_iter()
            .map(|((company_id, kind, date), id)| Invoice {
                company_id,
                kind,
                id,
                date,
                ..synthetic_invoice()
            })
            .collect();
        vat_by_rate(&invoices, &lines, NaiveDate::MIN, NaiveDate::MAX)
    }
}

/// Invoices, invoice lines and payments read back from their canonical tables (rows
/// of [`digest_canonical_columns`] and the keys; the fields not read are empty), as
/// [`InvoiceDigest::change`] takes them.
pub fn read_back(batches: &[Batch]) -> Result<Books, StaleSums> {
    let mut books = Books::default();
    for batch in batches {
        let s = batch.schema();
        let col = |name: &str| {
            s.column_index(name)
                .ok_or_else(|| StaleSums(format!("`{}` has no column `{name}`", s.name())))
        };
        let bad = |row: &[Value]| {
            StaleSums(format!(
                "a row of `{}` read back is incomplete: {row:?}",
                s.name()
            ))
        };
        let (company, kind, id) = (col("company_id")?, col("kind")?, col("id")?);
        let key = |row: &[Value]| match (row.get(company), row.get(kind), row.get(id)) {
            (Some(Value::Int64(c)), Some(Value::Text(k)), Some(Value::Int64(id))) => {
                ThirdPartyKind::parse(k).map(|k| (*c, k, *id))
            }
            _ => None,
        };
        let money = |row: &[Value], i: usize| match row.get(i) {
            Some(Value::Decimal(d)) => Some(*d),
            _ => None,
        };
        let date = |row: &[Value], i: usize| match row.get(i) {
            Some(Value::Date(d)) => Some(Some(*d)),
            Some(Value::Null) => Some(None),
            _ => None,
        };
        let int = |row: &[Value], i: usize| match row.get(i) {
            Some(Value::Int64(v)) => Some(Some(*v)),
            Some(Value::Null) => Some(None),
            _ => None,
        };
        match s.name() {
            "canonical_invoices" => {
                let (tp, d, due, ttc, doc, credited) = (
                    col("third_party_id")?,
                    col("date")?,
                    col("due_date")?,
                    col("amount_ttc")?,
                    col("document_kind")?,
                    col("credited_invoice_id")?,
                );
                for row in batch.rows() {
                    let (
                        Some((company_id, kind, id)),
                        Some(third_party_id),
                        Some(Some(date)),
                        Some(due_date),
                        Some(amount_ttc),
                        Some(document),
                        Some(credited_invoice_id),
                    ) = (
                        key(row),
                        int(row, tp),
                        date(row, d),
                        date(row, due),
                        money(row, ttc),
                        match row.get(doc) {
                            Some(Value::Text(t)) => {
                                penny_transform::canonical::InvoiceDocument::parse(t)
                            }
                            _ => None,
                        },
                        int(row, credited),
                    )
                    else {
                        return Err(bad(row));
                    };
                    books.invoices.push(Invoice {
                        company_id,
                        kind,
                        id,
                        third_party_id,
                        date,
                        due_date,
                        amount_ttc,
                        document,
                        credited_invoice_id,
                        ..synthetic_invoice()
                    });
                }
            }
            "canonical_invoice_lines" => {
                let (inv, ht, vat, ttc, rate) = (
                    col("invoice_id")?,
                    col("amount_ht")?,
                    col("vat")?,
                    col("amount_ttc")?,
                    col("vat_rate")?,
                );
                for row in batch.rows() {
                    let (
                        Some((company_id, kind, id)),
                        Some(Some(invoice_id)),
                        Some(amount_ht),
                        Some(vat),
                        Some(amount_ttc),
                    ) = (
                        key(row),
                        int(row, inv),
                        money(row, ht),
                        money(row, vat),
                        money(row, ttc),
                    )
                    else {
                        return Err(bad(row));
                    };
                    let vat_rate = match row.get(rate) {
                        Some(Value::Text(r)) => Some(r.clone()),
                        Some(Value::Null) => None,
                        _ => return Err(bad(row)),
                    };
                    books.invoice_lines.push(InvoiceLine {
                        company_id,
                        kind,
                        invoice_id,
                        id,
                        label: None,
                        quantity: None,
                        amount_ht,
                        vat,
                        amount_ttc,
                        vat_rate,
                        account_number: None,
                    });
                }
            }
            "canonical_invoice_payments" => {
                let (inv, d, amount) = (col("invoice_id")?, col("date")?, col("amount")?);
                for row in batch.rows() {
                    let (
                        Some((company_id, kind, id)),
                        Some(Some(invoice_id)),
                        Some(Some(date)),
                        Some(amount),
                    ) = (key(row), int(row, inv), date(row, d), money(row, amount))
                    else {
                        return Err(bad(row));
                    };
                    books
                        .payments
                        .push(penny_transform::canonical::InvoicePayment {
                            company_id,
                            kind,
                            invoice_id,
                            id,
                            date,
                            amount,
                        });
                }
            }
            other => {
                return Err(StaleSums(format!(
                    "`{other}` is not an invoice table of the canonical model"
                )));
            }
        }
    }
    Ok(books)
}

/// An invoice with every field empty (the digest fills what a report reads).
fn synthetic_invoice() -> Invoice {
    Invoice {
        company_id: 0,
        kind: ThirdPartyKind::Customer,
        id: 0,
        number: None,
        label: None,
        third_party_id: None,
        date: NaiveDate::MIN,
        due_date: None,
        currency: None,
        amount_ht: Decimal::ZERO,
        vat: Decimal::ZERO,
        amount_ttc: Decimal::ZERO,
        paid: None,
        remaining: Decimal::ZERO,
        status: None,
        entry_id: None,
        document: penny_transform::canonical::InvoiceDocument::Invoice,
        credited_invoice_id: None,
    }
}

fn schema(name: &str, columns: Vec<Column>, key: &[&str]) -> Arc<Schema> {
    Arc::new(Schema::new(name, columns, key).expect("the report schemas are valid"))
}

/// The schema of `report_trial_balance`.
pub fn trial_balance_schema() -> Arc<Schema> {
    schema(
        "report_trial_balance",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("period_start", LogicalType::Date),
            Column::required("period_end", LogicalType::Date),
            Column::required("account_number", LogicalType::Text),
            Column::required("opening", MONEY),
            Column::required("debit", MONEY),
            Column::required("credit", MONEY),
            Column::required("closing", MONEY),
        ],
        &["company_id", "period_start", "account_number"],
    )
}

/// The schema of `report_fiscal_results`: per company and fiscal year, the revenue
/// (class 7), the expenses (class 6), the result (revenue minus expenses), the account
/// the result goes to when carried into the next year (120 for a profit, 129 for a
/// loss), and where the year's opening comes from (`opening_entries`: its own opening
/// entries; `carried`: the previous year's closing).
pub fn fiscal_results_schema() -> Arc<Schema> {
    schema(
        "report_fiscal_results",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("period_start", LogicalType::Date),
            Column::required("period_end", LogicalType::Date),
            Column::nullable("status", LogicalType::Text),
            Column::required("revenue", MONEY),
            Column::required("expenses", MONEY),
            Column::required("result", MONEY),
            Column::required("result_account", LogicalType::Text),
            Column::required("opening", LogicalType::Text),
        ],
        &["company_id", "period_start"],
    )
}

/// The schema of `report_aged_receivables` or `report_aged_payables`.
pub fn aged_schema(kind: ThirdPartyKind) -> Arc<Schema> {
    let name = match kind {
        ThirdPartyKind::Customer => "report_aged_receivables",
        ThirdPartyKind::Supplier => "report_aged_payables",
    };
    let mut columns = vec![
        Column::required("company_id", LogicalType::Int64),
        Column::required("third_party_id", LogicalType::Int64),
        Column::required("as_of", LogicalType::Date),
    ];
    for label in bucket_columns() {
        columns.push(Column::required(label, MONEY));
    }
    columns.push(Column::required("total", MONEY));
    schema(name, columns, &["company_id", "third_party_id"])
}

/// The bucket columns, from the default buckets' labels (`not_due`, `due_0_30`, ...).
fn bucket_columns() -> Vec<String> {
    Buckets::default()
        .labels()
        .into_iter()
        .map(|l| match l.as_str() {
            "not_due" => l,
            _ => format!(
                "due_{}",
                l.replace('-', "_")
                    .replace(">=", "from_")
                    .replace('>', "over_")
            ),
        })
        .collect()
}

/// The schema of `report_sig`.
pub fn sig_schema() -> Arc<Schema> {
    let mut columns = vec![
        Column::required("company_id", LogicalType::Int64),
        Column::required("month", LogicalType::Date),
    ];
    for name in SIG_COLUMNS {
        columns.push(Column::required(name, MONEY));
    }
    schema("report_sig", columns, &["company_id", "month"])
}

const SIG_COLUMNS: [&str; 26] = [
    "ventes_marchandises",
    "cout_achat_marchandises",
    "marge_commerciale",
    "production_vendue",
    "production_stockee",
    "production_immobilisee",
    "production_exercice",
    "consommations_tiers",
    "valeur_ajoutee",
    "subventions_exploitation",
    "impots_taxes",
    "charges_personnel",
    "ebe",
    "reprises_transferts",
    "autres_produits_exploitation",
    "dotations_exploitation",
    "autres_charges_exploitation",
    "resultat_exploitation",
    "produits_financiers",
    "charges_financieres",
    "resultat_courant_avant_impots",
    "produits_exceptionnels",
    "charges_exceptionnelles",
    "resultat_exceptionnel",
    "participation_impots",
    "resultat_exercice",
];

/// The schema of `report_vat`.
pub fn vat_schema() -> Arc<Schema> {
    schema(
        "report_vat",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("month", LogicalType::Date),
            Column::required("source", LogicalType::Text),
            Column::required("direction", LogicalType::Text),
            Column::required("account_or_rate", LogicalType::Text),
            Column::nullable("base", MONEY),
            Column::required("vat", MONEY),
            Column::nullable("amount_ttc", MONEY),
        ],
        &[
            "company_id",
            "month",
            "source",
            "direction",
            "account_or_rate",
        ],
    )
}

fn money(d: Decimal) -> Value {
    Value::Decimal(d.round_dp(penny_transform::canonical::MONEY_SCALE))
}

fn batches(
    schema: &Arc<Schema>,
    rows: impl IntoIterator<Item = Vec<Value>>,
    batch_rows: usize,
) -> Result<Vec<Batch>, SyncError> {
    let mut b = BatchBuilder::upsert(schema.clone(), batch_rows.max(1));
    let mut out = Vec::new();
    for row in rows {
        if let Some(batch) = b.push(row).map_err(batch_error)? {
            out.push(batch);
        }
    }
    out.extend(b.finish().map_err(batch_error)?);
    Ok(out)
}

/// A report table: its schema and its rows.
pub type ReportTable = (Arc<Schema>, Vec<Batch>);

/// A table's rows to write: with `None`, they replace the table; with the keys of rows
/// to delete, they are merged into it.
pub type TableWrite = (Arc<Schema>, Vec<Batch>, Option<Vec<Vec<Value>>>);

/// The fiscal years the reports and `dim_date` go by: the source's (`source`), and for
/// each company of `companies` that has none there, twelve-month years starting in
/// `year_start_month` that cover `range` ([`FiscalYear::assumed`]; the lines' sums of
/// such a company are kept per month, so any whole-month year is exact).
pub fn fiscal_years_used(
    source: &[FiscalYear],
    companies: impl IntoIterator<Item = i64>,
    year_start_month: u32,
    (from, to): (NaiveDate, NaiveDate),
) -> Vec<FiscalYear> {
    let with_years: std::collections::BTreeSet<i64> =
        source.iter().map(|fy| fy.company_id).collect();
    let without: std::collections::BTreeSet<i64> = companies
        .into_iter()
        .filter(|c| !with_years.contains(c))
        .collect();
    let mut years = source.to_vec();
    for company in without {
        years.extend(FiscalYear::assumed(company, year_start_month, from, to));
    }
    years
}

/// The result accounts (120, 129) of each company of `chart` that has accounts
/// ([`ResultAccounts::from_chart`]: the company's own, else 120000 and 129000).
pub fn result_accounts(chart: &[Account]) -> BTreeMap<i64, ResultAccounts> {
    let mut numbers: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for a in chart {
        numbers.entry(a.company_id).or_default().push(&a.number);
    }
    numbers
        .into_iter()
        .map(|(company, numbers)| (company, ResultAccounts::from_chart(numbers)))
        .collect()
}

/// The report tables' rows, computed from the fiscal years, the lines' daily sums, the
/// invoices' digest (whose date is the aged balances' `as_of`) and the companies'
/// result accounts (120000 and 129000 for a company not in `result_accounts`).
pub fn report_batches(
    fiscal_years: &[FiscalYear],
    days: &LineDays,
    invoices: &InvoiceDigest,
    result_accounts: &BTreeMap<i64, ResultAccounts>,
    batch_rows: usize,
) -> Result<Vec<ReportTable>, SyncError> {
    let as_of = invoices.as_of();
    // The sums are dated on their periods' first days: the last month runs to its end.
    let extent: BTreeMap<i64, (NaiveDate, NaiveDate)> = days
        .extent()
        .into_iter()
        .map(|(c, (a, b))| (c, (a, penny_transform::reports::month_end(b))))
        .collect();
    let (first, last) = extent
        .values()
        .copied()
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .unwrap_or((as_of, as_of));
    let mut out = Vec::new();

    // One pass over the sums feeds the trial balance per fiscal year (for a company
    // `fiscal_years` have none of, one period over its lines' months), the SIG, and the
    // VAT accounts' sums (few) for the VAT from the ledger; the opening entries are
    // openings of the trial balance, not movements of their month.
    let mut years = fiscal_years.to_vec();
    for (company, (start, end)) in &extent {
        if !fiscal_years.iter().any(|fy| fy.company_id == *company) {
            years.push(FiscalYear {
                company_id: *company,
                start: *start,
                end: *end,
                status: None,
            });
        }
    }
    // The sums of opening journals' lines come in journal `AN` (`for_each_line`).
    let calendar = FiscalCalendar::new(&years, OpeningJournals::default());
    let mut trial_balance = FiscalTrialBalanceBuilder::new(calendar.clone());
    for (company, accounts) in result_accounts {
        trial_balance = trial_balance.with_result_accounts(*company, accounts.clone());
    }
    let mut sig = SigBuilder::new(first, last);
    let mut vat_lines = Vec::new();
    days.for_each_line(|l| {
        trial_balance.add(l);
        if calendar.is_opening_line(l) {
            return;
        }
        sig.add(l);
        if VatDirection::of_account(&l.account_number).is_some() {
            vat_lines.push(l.clone());
        }
    });
    let fiscal = trial_balance.finish();
    let tb_rows = fiscal.rows.into_iter().map(|r| {
        vec![
            Value::Int64(r.company_id),
            Value::Date(r.period_start),
            Value::Date(r.period_end),
            Value::Text(r.account_number),
            money(r.opening),
            money(r.debit),
            money(r.credit),
            money(r.closing),
        ]
    });
    let s = trial_balance_schema();
    out.push((s.clone(), batches(&s, tb_rows, batch_rows)?));
    let results = fiscal.results.into_iter().map(|r| {
        vec![
            Value::Int64(r.company_id),
            Value::Date(r.period_start),
            Value::Date(r.period_end),
            r.status.map(Value::Text).unwrap_or(Value::Null),
            money(r.revenue),
            money(r.expenses),
            money(r.result),
            Value::Text(r.result_account),
            Value::Text(r.opening.as_str().to_owned()),
        ]
    });
    let s = fiscal_results_schema();
    out.push((s.clone(), batches(&s, results, batch_rows)?));

    // Aged balances, from the invoices and their payments.
    let aged = invoices.aged();
    for kind in [ThirdPartyKind::Customer, ThirdPartyKind::Supplier] {
        let s = aged_schema(kind);
        let rows = aged.rows.iter().filter(|r| r.kind == kind).map(|r| {
            let mut row = vec![
                Value::Int64(r.company_id),
                Value::Int64(r.third_party_id.unwrap_or(0)),
                Value::Date(as_of),
            ];
            row.extend(r.buckets.iter().map(|b| money(*b)));
            row.push(money(r.total));
            row
        });
        out.push((s.clone(), batches(&s, rows, batch_rows)?));
    }

    // SIG by month.
    let s = sig_schema();
    let rows = sig.finish().into_iter().map(|r| {
        let g = &r.sig;
        let mut row = vec![Value::Int64(r.company_id), Value::Date(r.month)];
        row.extend(
            [
                g.ventes_marchandises,
                g.cout_achat_marchandises,
                g.marge_commerciale,
                g.production_vendue,
                g.production_stockee,
                g.production_immobilisee,
                g.production_exercice,
                g.consommations_tiers,
                g.valeur_ajoutee,
                g.subventions_exploitation,
                g.impots_taxes,
                g.charges_personnel,
                g.ebe,
                g.reprises_transferts,
                g.autres_produits_exploitation,
                g.dotations_exploitation,
                g.autres_charges_exploitation,
                g.resultat_exploitation,
                g.produits_financiers,
                g.charges_financieres,
                g.resultat_courant_avant_impots,
                g.produits_exceptionnels,
                g.charges_exceptionnelles,
                g.resultat_exceptionnel,
                g.participation_impots,
                g.resultat_exercice,
            ]
            .into_iter()
            .map(money),
        );
        row
    });
    out.push((s.clone(), batches(&s, rows, batch_rows)?));

    // VAT from the ledger (by account) and from the invoices (by rate).
    let s = vat_schema();
    let ledger = vat_from_ledger(&vat_lines, first, last)
        .into_iter()
        .map(|r| {
            vec![
                Value::Int64(r.company_id),
                Value::Date(r.month),
                Value::Text("ledger".into()),
                Value::Text(r.direction.as_str().into()),
                Value::Text(r.account_number),
                Value::Null,
                money(r.vat),
                Value::Null,
            ]
        });
    let by_rate = invoices.vat_rows().into_iter().map(|r| {
        vec![
            Value::Int64(r.company_id),
            Value::Date(r.month),
            Value::Text("invoices".into()),
            Value::Text(r.direction.as_str().into()),
            Value::Text(r.vat_rate),
            money(r.base),
            money(r.vat),
            money(r.amount_ttc),
        ]
    });
    out.push((s.clone(), batches(&s, ledger.chain(by_rate), batch_rows)?));
    Ok(out)
}

/// The accounts whose sums `touched` (keys of the sums a change touched) names, for
/// [`write_reports`] to merge the trial balance by; `None` when a sum of opening
/// journals' lines is among them: which years open with their own entries may have
/// changed, and every row with it, so the trial balance is written whole.
pub fn changed_accounts(
    touched: &std::collections::BTreeSet<SumKey>,
) -> Option<std::collections::BTreeSet<(i64, Arc<str>)>> {
    if touched.iter().any(|(_, _, _, opening)| *opening) {
        return None;
    }
    Some(touched.iter().map(|(c, a, _, _)| (*c, a.clone())).collect())
}

/// The accounts of the trial balance's rows a change of the sums of `changed` accounts
/// (none of them sums of opening journals' lines: those may change which years open
/// with their own entries, and every row with them) can change: those accounts, whose
/// later openings carry them, and every account a company's result may be carried to
/// (numbers starting with 120 or 129 in `chart` or in `days`, and 120000 and 129000),
/// whose openings carry the results of classes 6 and 7 and whose choice follows the
/// chart.
pub fn trial_balance_accounts(
    changed: &std::collections::BTreeSet<(i64, Arc<str>)>,
    chart: &[Account],
    days: &LineDays,
) -> std::collections::BTreeSet<(i64, Arc<str>)> {
    let is_result = |n: &str| n.starts_with("120") || n.starts_with("129");
    let mut out = changed.clone();
    let companies: std::collections::BTreeSet<i64> = days
        .extent()
        .into_keys()
        .chain(chart.iter().map(|a| a.company_id))
        // A company whose last lines went away still has result rows to remove.
        .chain(changed.iter().map(|(company, _)| *company))
        .collect();
    for company in companies {
        let defaults = ResultAccounts::default();
        out.insert((company, Arc::from(defaults.profit.as_str())));
        out.insert((company, Arc::from(defaults.loss.as_str())));
    }
    for a in chart.iter().filter(|a| is_result(&a.number)) {
        out.insert((a.company_id, Arc::from(a.number.as_str())));
    }
    for (company, account, _, _) in days.sums.keys() {
        if is_result(account) {
            out.insert((*company, account.clone()));
        }
    }
    out
}

/// Computes the reports and replaces their tables through `out`, each in one commit;
/// the companies' results are carried to the result accounts of `chart`
/// ([`result_accounts`]).
///
/// With `changed_accounts` (the accounts whose sums changed since the last run, which
/// wrote the reports from the same fiscal years, none of them sums of opening journals'
/// lines), the trial balance is merged instead: only the rows of the accounts
/// [`trial_balance_accounts`] names are upserted, and their keys no longer there
/// deleted.
#[allow(clippy::too_many_arguments)]
pub async fn write_reports(
    out: &mut dyn Sink,
    fiscal_years: &[FiscalYear],
    days: &LineDays,
    invoices: &InvoiceDigest,
    chart: &[Account],
    changed_accounts: Option<&std::collections::BTreeSet<(i64, Arc<str>)>>,
    batch_rows: usize,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    let tb = trial_balance_schema();
    let changed_accounts = changed_accounts.map(|c| trial_balance_accounts(c, chart, days));
    let changed_accounts = changed_accounts.as_ref();
    // The aged balances' rows of the third parties whose open amounts changed, when
    // they were kept as of the same day (the others' rows stand).
    let third_parties = invoices.same_day_changes().map(|keys| {
        keys.iter()
            .map(|(c, k, tp, _, _)| (*c, *k, tp.unwrap_or(0)))
            .collect::<std::collections::BTreeSet<_>>()
    });
    let results = result_accounts(chart);
    for (schema, batches) in report_batches(fiscal_years, days, invoices, &results, batch_rows)? {
        let aged_kind = [ThirdPartyKind::Customer, ThirdPartyKind::Supplier]
            .into_iter()
            .find(|k| aged_schema(*k).name() == schema.name());
        let write = match (changed_accounts, &third_parties, aged_kind) {
            (Some(accounts), _, _) if schema.name() == tb.name() => {
                let (upserts, gone) =
                    changed_trial_balance(&schema, batches, fiscal_years, accounts, batch_rows)?;
                (schema, upserts, Some(gone))
            }
            (_, Some(groups), Some(kind)) => {
                let groups: std::collections::BTreeSet<(i64, i64)> = groups
                    .iter()
                    .filter(|(_, k, _)| *k == kind)
                    .map(|(c, _, tp)| (*c, *tp))
                    .collect();
                let (upserts, gone) = changed_aged(&schema, batches, &groups, batch_rows)?;
                (schema, upserts, Some(gone))
            }
            _ => (schema, batches, None),
        };
        crate::transform::write::write_changes(out, write, report).await?;
    }
    Ok(())
}

/// The rows of the aged balance `aged` of `groups` (company, third party), and the
/// keys of those that have no row (to delete, if the last run wrote one).
fn changed_aged(
    schema: &Arc<Schema>,
    aged: Vec<Batch>,
    groups: &std::collections::BTreeSet<(i64, i64)>,
    batch_rows: usize,
) -> Result<(Vec<Batch>, Vec<Vec<Value>>), SyncError> {
    let mut kept = Vec::new();
    let mut present = std::collections::BTreeSet::new();
    for batch in aged {
        for row in batch.rows() {
            if let (Some(Value::Int64(company)), Some(Value::Int64(tp))) = (row.first(), row.get(1))
                && groups.contains(&(*company, *tp))
            {
                present.insert((*company, *tp));
                kept.push(row.clone());
            }
        }
    }
    let gone = groups
        .difference(&present)
        .map(|(c, tp)| vec![Value::Int64(*c), Value::Int64(*tp)])
        .collect();
    Ok((batches(schema, kept, batch_rows)?, gone))
}

/// The rows of the trial balance `batches` of `accounts`, and the keys of those
/// accounts in `fiscal_years` that have no row (to delete, if the last run wrote one).
fn changed_trial_balance(
    schema: &Arc<Schema>,
    tb: Vec<Batch>,
    fiscal_years: &[FiscalYear],
    accounts: &std::collections::BTreeSet<(i64, Arc<str>)>,
    batch_rows: usize,
) -> Result<(Vec<Batch>, Vec<Vec<Value>>), SyncError> {
    let mut kept = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    for batch in tb {
        for row in batch.rows() {
            let (Some(Value::Int64(company)), Some(Value::Date(start)), Some(Value::Text(a))) =
                (row.first(), row.get(1), row.get(3))
            else {
                continue;
            };
            if accounts.contains(&(*company, Arc::from(a.as_str()))) {
                keys.insert((*company, *start, a.clone()));
                kept.push(row.clone());
            }
        }
    }
    let mut gone = Vec::new();
    for (company, account) in accounts {
        for fy in fiscal_years.iter().filter(|fy| fy.company_id == *company) {
            if !keys.contains(&(*company, fy.start, account.to_string())) {
                gone.push(vec![
                    Value::Int64(*company),
                    Value::Date(fy.start),
                    Value::Text(account.to_string()),
                ]);
            }
        }
    }
    Ok((batches(schema, kept, batch_rows)?, gone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::reports::trial_balance::fiscal_trial_balance;

    fn no_journals() -> OpeningJournals {
        OpeningJournals::default()
    }

    fn line(id: i64, account: &str, day: u32, debit: i64, credit: i64) -> LedgerLine {
        LedgerLine {
            company_id: 1,
            entry_id: id / 2,
            line_id: id,
            date: NaiveDate::from_ymd_opt(2026, 1 + (day % 12), 1 + day % 28).unwrap(),
            journal_code: Arc::from("VT"),
            account_number: Arc::from(account),
            label: format!("line {id}"),
            debit: Decimal::new(debit, 2),
            credit: Decimal::new(credit, 2),
            third_party: None,
            document_ref: None,
            due_date: None,
            lettering: None,
            categories: None,
        }
    }

    /// Balanced pairs on a few accounts, several lines per account and day, and lines
    /// before the fiscal year (the opening balance).
    fn sample_lines() -> Vec<LedgerLine> {
        let mut lines = Vec::new();
        for i in 0..200 {
            let amount = 1000 + i * 7;
            let account = ["411001", "706000", "401002", "607000"][(i % 4) as usize];
            let other = ["512000", "445710", "445660", "512000"][(i % 4) as usize];
            let day = (i % 30) as u32;
            lines.push(line(2 * i, account, day, amount, 0));
            lines.push(line(2 * i + 1, other, day, 0, amount));
        }
        let mut before = line(10_000, "411001", 0, 5000, 0);
        before.date = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let mut before_other = line(10_001, "706000", 0, 0, 5000);
        before_other.date = before.date;
        lines.extend([before, before_other]);
        lines
    }

    #[test]
    fn sig_and_vat_from_the_sums_equal_those_from_the_lines() {
        let lines = sample_lines();
        let fy = [FiscalYear {
            company_id: 1,
            start: NaiveDate::from_ymd_opt(2026, 3, 15).unwrap(),
            end: NaiveDate::from_ymd_opt(2027, 3, 14).unwrap(),
            status: None,
        }];
        let mut days = LineDays::new(&fy, no_journals());
        days.add(&lines);
        // Accounts no monthly report reads are summed per fiscal year (per month before
        // the first).
        let mut customer: Vec<NaiveDate> = days
            .sums
            .keys()
            .filter(|k| &*k.1 == "411001")
            .map(|k| k.2)
            .collect();
        customer.sort();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(
            customer,
            [d(2025, 6, 1), d(2026, 1, 1), d(2026, 3, 1), d(2026, 3, 15)]
        );
        let months = lines
            .iter()
            .filter(|l| &*l.account_number == "706000")
            .map(|l| days.period(1, "706000", l.date))
            .collect::<std::collections::BTreeSet<_>>();
        assert!(months.len() > customer.len());
        assert_eq!(
            days.sums.keys().filter(|k| &*k.1 == "706000").count(),
            months.len()
        );
        assert!(
            months
                .iter()
                .all(|m| chrono::Datelike::day(m) == 1 || *m == d(2026, 3, 15))
        );

        let first = lines.iter().map(|l| l.date).min().unwrap();
        let last = lines.iter().map(|l| l.date).max().unwrap();
        let mut expected = SigBuilder::new(first, last);
        lines.iter().for_each(|l| expected.add(l));
        let mut got = SigBuilder::new(first, last);
        let mut vat_lines = Vec::new();
        days.for_each_line(|l| {
            got.add(l);
            vat_lines.push(l.clone());
        });
        let (expected, got) = (expected.finish(), got.finish());
        assert!(expected.len() > 3, "{expected:?}");
        assert_eq!(format!("{got:?}"), format!("{expected:?}"));
        let key = |r: &penny_transform::reports::vat::VatLedgerRow| {
            (r.month, r.account_number.clone(), r.vat)
        };
        let mut expected: Vec<_> = vat_from_ledger(&lines, first, last)
            .iter()
            .map(key)
            .collect();
        let mut got: Vec<_> = vat_from_ledger(&vat_lines, first, last)
            .iter()
            .map(key)
            .collect();
        expected.sort();
        got.sort();
        assert!(expected.len() > 3, "{expected:?}");
        assert_eq!(got, expected);
    }

    #[test]
    fn the_trial_balance_from_period_sums_equals_the_one_from_the_lines() {
        trial_balance_from_sums_equals_the_one_from_the_lines(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        );
    }

    #[test]
    fn a_company_without_fiscal_years_has_its_trial_balance_per_assumed_year() {
        let lines = sample_lines();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        // Company 2 has its own fiscal year; company 1 none.
        let source = [FiscalYear {
            company_id: 2,
            start: d(2026, 1, 1),
            end: d(2026, 12, 31),
            status: Some("open".into()),
        }];
        let mut days = LineDays::new(&source, no_journals());
        days.add(&lines);
        let (from, to) = days.extent()[&1];
        let years = fiscal_years_used(&source, [1, 2], 7, (from, to));
        assert_eq!(years[0], source[0]);
        let assumed: Vec<(NaiveDate, NaiveDate)> = years[1..]
            .iter()
            .map(|f| {
                assert_eq!(f.company_id, 1);
                (f.start, f.end)
            })
            .collect();
        // The lines run from June 2025 to December 2026.
        assert_eq!(
            assumed,
            [
                (d(2024, 7, 1), d(2025, 6, 30)),
                (d(2025, 7, 1), d(2026, 6, 30)),
                (d(2026, 7, 1), d(2027, 6, 30)),
            ]
        );

        let tables =
            report_batches(&years, &days, &InvoiceDigest::new(to), &BTreeMap::new(), 50).unwrap();
        let rows: Vec<Vec<Value>> = tables[0].1.iter().flat_map(|b| b.rows().to_vec()).collect();
        let all = fiscal_trial_balance(&lines, FiscalCalendar::new(&years, no_journals()));
        for (start, end) in assumed {
            let expected: Vec<_> = all
                .rows
                .iter()
                .filter(|r| r.company_id == 1 && r.period_start == start)
                .collect();
            let got: Vec<&Vec<Value>> = rows
                .iter()
                .filter(|r| r[1] == Value::Date(start) && r[2] == Value::Date(end))
                .collect();
            assert_eq!(got.len(), expected.len(), "{start}");
            assert!(!got.is_empty());
            for (row, e) in got.iter().zip(&expected) {
                assert_eq!(row[3], Value::Text(e.account_number.clone()));
                assert_eq!(row[4], Value::Decimal(e.opening));
                assert_eq!(row[7], Value::Decimal(e.closing));
            }
        }
    }

    #[test]
    fn months_are_split_at_a_fiscal_year_starting_mid_month() {
        trial_balance_from_sums_equals_the_one_from_the_lines(
            NaiveDate::from_ymd_opt(2026, 3, 15).unwrap(),
            NaiveDate::from_ymd_opt(2026, 9, 14).unwrap(),
        );
    }

    #[test]
    fn saved_sums_changed_by_old_and_new_lines_equal_sums_made_afresh() {
        use penny_transform::canonical::tables::to_batches;
        let fy = [FiscalYear {
            company_id: 1,
            start: NaiveDate::from_ymd_opt(2026, 3, 15).unwrap(),
            end: NaiveDate::from_ymd_opt(2027, 3, 14).unwrap(),
            status: None,
        }];
        let mut before: Vec<LedgerLine> = (0..300)
            .map(|i| {
                line(
                    i,
                    ["411001", "706000", "445710"][(i % 3) as usize],
                    i as u32,
                    1000 + i,
                    i % 7,
                )
            })
            .collect();
        // The only line of its account: moving it away removes the account's sums.
        before.push(line(999, "622600", 3, 4200, 0));
        let mut saved = LineDays::new(&fy, no_journals());
        saved.add(&before);
        // Saved and read back.
        let mut days = LineDays::new(&fy, no_journals());
        let (rows, gone) = saved.batches(None, 64).unwrap();
        assert!(gone.is_empty());
        for b in &rows {
            days.add_saved(b).unwrap();
        }
        assert_eq!(days.sums, saved.sums);

        // Changes: amounts, a date across the fiscal year's start, an account, deletions
        // and a new line.
        let mut after = before.clone();
        after[10].debit = Decimal::new(77_777, 2);
        after[11].date = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        after[300].account_number = Arc::from("411001");
        let removed: Vec<LedgerLine> = after.drain(20..25).collect();
        after.push(line(5000, "512000", 5, 0, 123_456));
        let changed_ids = [10, 11, 999, 20, 21, 22, 23, 24, 5000];
        let old: Vec<&LedgerLine> = before
            .iter()
            .filter(|l| changed_ids.contains(&l.line_id))
            .collect();
        let new: Vec<&LedgerLine> = after
            .iter()
            .filter(|l| changed_ids.contains(&l.line_id))
            .collect();
        assert_eq!(old.len(), 8);
        assert_eq!(new.len(), 4);
        assert_eq!(removed.len(), 5);
        let mut touched = std::collections::BTreeSet::new();
        for batch in to_batches(old, 3).unwrap() {
            touched.extend(days.take_away(&batch).unwrap());
        }
        touched.extend(days.put(new));

        let mut afresh = LineDays::new(&fy, no_journals());
        afresh.add(&after);
        assert_eq!(days.sums, afresh.sums);
        let moved_away = (
            1,
            Arc::from("622600"),
            NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            false,
        );
        assert!(touched.contains(&moved_away), "{touched:?}");
        let (rows, gone) = days.batches(Some(&touched), 64).unwrap();
        assert_eq!(
            gone,
            vec![vec![
                Value::Int64(1),
                Value::Text("622600".into()),
                Value::Date(moved_away.2),
                Value::Bool(false),
            ]]
        );
        assert_eq!(
            rows.iter().map(|b| b.rows().len()).sum::<usize>(),
            touched.len() - 1
        );

        // Old versions the sums never held: stale.
        let mut stranger = line(7, "999999", 1, 1, 0);
        stranger.company_id = 2;
        assert!(
            days.take_away(&to_batches([&stranger], 3).unwrap()[0])
                .is_err()
        );
        assert!(!days.same_periods(&[]));
        assert!(days.same_periods(&fy));
    }

    fn trial_balance_from_sums_equals_the_one_from_the_lines(start: NaiveDate, end: NaiveDate) {
        let lines = sample_lines();

        let books = Books {
            fiscal_years: vec![FiscalYear {
                company_id: 1,
                start,
                end,
                status: None,
            }],
            ..Books::default()
        };
        let mut days = LineDays::new(&books.fiscal_years, no_journals());
        days.add(&lines);
        assert!(
            days.sums.len() < lines.len(),
            "lines were summed per period"
        );
        let tables = report_batches(
            &books.fiscal_years,
            &days,
            &InvoiceDigest::new(end),
            &BTreeMap::new(),
            50,
        )
        .unwrap();
        let (schema, batches) = &tables[0];
        assert_eq!(schema.name(), "report_trial_balance");
        let rows: Vec<Vec<Value>> = batches.iter().flat_map(|b| b.rows().to_vec()).collect();

        let expected = fiscal_trial_balance(
            &lines,
            FiscalCalendar::new(&books.fiscal_years, no_journals()),
        );
        assert_eq!(rows.len(), expected.rows.len());
        let mut closing = Decimal::ZERO;
        for (row, e) in rows.iter().zip(&expected.rows) {
            assert_eq!(row[3], Value::Text(e.account_number.clone()));
            assert_eq!(row[4], Value::Decimal(e.opening));
            assert_eq!(row[5], Value::Decimal(e.debit));
            assert_eq!(row[6], Value::Decimal(e.credit));
            assert_eq!(row[7], Value::Decimal(e.closing));
            closing += e.closing;
        }
        assert_eq!(closing, Decimal::ZERO);
        assert!(rows.iter().any(|r| r[4] != Value::Decimal(Decimal::ZERO)));
    }
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)]
mod fiscal_year_tests {
    use super::*;
    use penny_transform::canonical::tables::to_batches;
    use penny_transform::reports::trial_balance::fiscal_trial_balance;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn years() -> Vec<FiscalYear> {
        [2024, 2025, 2026]
            .into_iter()
            .map(|y| FiscalYear {
                company_id: 1,
                start: d(y, 1, 1),
                end: d(y, 12, 31),
                status: Some("closed".into()),
            })
            .collect()
    }

    fn line(
        id: i64,
        date: NaiveDate,
        journal: &str,
        account: &str,
        debit: i64,
        credit: i64,
    ) -> LedgerLine {
        penny_transform::testing::ledger_line(id / 2, id, date, journal, account, debit, credit)
    }

    /// Sales with VAT, purchases and payments over 2024-2026, and 2025's opening
    /// entries (journal `RAN`, of type `new_year`), with a VAT balance carried.
    fn books() -> Vec<LedgerLine> {
        let mut lines = Vec::new();
        let mut id = 0;
        let mut entry = |date, journal, pairs: &[(&str, i64, i64)]| {
            for (account, debit, credit) in pairs {
                id += 1;
                lines.push(line(id, date, journal, account, *debit, *credit));
            }
        };
        for y in [2024, 2025, 2026] {
            for m in 1..=12 {
                let amount = 1000_00 + i64::from(m) * 10_00 + i64::from(y - 2024) * 100_00;
                entry(
                    d(y, m, 5),
                    "VT",
                    &[
                        ("411001", amount * 12 / 10, 0),
                        ("706000", 0, amount),
                        ("445710", 0, amount * 2 / 10),
                    ],
                );
                entry(
                    d(y, m, 9),
                    "HA",
                    &[("607000", amount / 2, 0), ("401002", 0, amount / 2)],
                );
                entry(
                    d(y, m, 20),
                    "BQ",
                    &[
                        ("512000", amount * 12 / 10, 0),
                        ("411001", 0, amount * 12 / 10),
                    ],
                );
            }
        }
        // 2025's opening entries: what 2024 closed with, the result allocated to 110000.
        let closing = fiscal_trial_balance(
            lines.iter().filter(|l| l.date.year() == 2024),
            FiscalCalendar::new(&years(), OpeningJournals::default()),
        );
        let mut an = Vec::new();
        let mut result = Decimal::ZERO;
        for r in closing
            .rows
            .iter()
            .filter(|r| r.period_start == d(2024, 1, 1))
        {
            if penny_transform::pcg::nature(&r.account_number)
                == penny_transform::pcg::Nature::ProfitAndLoss
            {
                result += r.closing;
                continue;
            }
            an.push((r.account_number.clone(), r.closing));
        }
        an.push(("110000".into(), result));
        for (account, balance) in an {
            id += 1;
            let (debit, credit) = if balance.is_sign_negative() {
                (0, -balance.mantissa() as i64)
            } else {
                (balance.mantissa() as i64, 0)
            };
            lines.push(line(id, d(2025, 1, 1), "RAN", &account, debit, credit));
        }
        lines
    }

    fn journals() -> OpeningJournals {
        OpeningJournals::of(&[penny_transform::canonical::Journal {
            company_id: 1,
            code: "RAN".into(),
            label: "À nouveaux".into(),
            opening: true,
        }])
    }

    fn rows(tables: &[ReportTable], name: &str) -> Vec<Vec<Value>> {
        let (_, batches) = tables.iter().find(|(s, _)| s.name() == name).unwrap();
        batches.iter().flat_map(|b| b.rows().to_vec()).collect()
    }

    use chrono::Datelike;

    #[test]
    fn opening_entries_are_openings_not_movements_of_their_month() {
        let lines = books();
        let mut days = LineDays::new(&years(), journals());
        days.add(&lines);
        let tables = report_batches(
            &years(),
            &days,
            &InvoiceDigest::new(d(2026, 12, 31)),
            &BTreeMap::new(),
            100,
        )
        .unwrap();
        let expected = fiscal_trial_balance(&lines, FiscalCalendar::new(&years(), journals()));
        let tb = rows(&tables, "report_trial_balance");
        assert_eq!(tb.len(), expected.rows.len());
        for (row, e) in tb.iter().zip(&expected.rows) {
            assert_eq!(row[1], Value::Date(e.period_start));
            assert_eq!(row[3], Value::Text(e.account_number.clone()));
            assert_eq!(
                row[4..8],
                [
                    money(e.opening),
                    money(e.debit),
                    money(e.credit),
                    money(e.closing)
                ]
            );
        }
        let bank_2025 = expected.row(1, "512000", d(2025, 1, 1)).unwrap();
        let bank_2024 = expected.row(1, "512000", d(2024, 1, 1)).unwrap();
        assert_eq!(
            bank_2025.opening, bank_2024.closing,
            "opened by its entries, once"
        );
        let bank_debits_2025: Decimal = lines
            .iter()
            .filter(|l| {
                l.date.year() == 2025 && &*l.account_number == "512000" && &*l.journal_code == "BQ"
            })
            .map(|l| l.debit)
            .sum();
        assert_eq!(
            bank_2025.debit, bank_debits_2025,
            "the opening entry is no movement"
        );
        // 2025 opens with its entries (the 2024 result on 110000, not 120000); 2026
        // has none: carried, 2025's profit on 120000.
        assert!(expected.row(1, "120000", d(2025, 1, 1)).is_none());
        assert!(
            expected
                .row(1, "120000", d(2026, 1, 1))
                .unwrap()
                .opening
                .is_sign_negative()
        );
        let results = rows(&tables, "report_fiscal_results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[1][8], Value::Text("opening_entries".into()));
        assert_eq!(results[2][8], Value::Text("carried".into()));
        assert_eq!(results[1][7], Value::Text("120000".into()));

        // The VAT of January 2025 is January's sales', not the VAT balance carried.
        let vat = rows(&tables, "report_vat");
        let january: Decimal = vat
            .iter()
            .filter(|r| r[1] == Value::Date(d(2025, 1, 1)) && r[2] == Value::Text("ledger".into()))
            .map(|r| match &r[6] {
                Value::Decimal(v) => *v,
                _ => Decimal::ZERO,
            })
            .sum();
        let sold: Decimal = lines
            .iter()
            .filter(|l| {
                l.date.year() == 2025
                    && l.date.month() == 1
                    && &*l.account_number == "445710"
                    && &*l.journal_code == "VT"
            })
            .map(|l| l.credit - l.debit)
            .sum();
        assert!(!sold.is_zero());
        assert_eq!(january.abs(), sold);
        // The SIG's months are the movements' (no opening entry on classes 6-7 here,
        // and none counted).
        let sig = rows(&tables, "report_sig");
        assert_eq!(sig.len(), 36);
    }

    /// The trial balance rows (by key) after a merge of `upserts` and `gone` into `old`.
    fn merged(
        old: &[Vec<Value>],
        upserts: &[Batch],
        gone: &[Vec<Value>],
    ) -> BTreeMap<String, Vec<Value>> {
        let key = |r: &[Value]| format!("{:?}{:?}{:?}", r[0], r[1], r[3]);
        let mut out: BTreeMap<String, Vec<Value>> =
            old.iter().map(|r| (key(r), r.clone())).collect();
        for r in upserts.iter().flat_map(|b| b.rows()) {
            out.insert(key(r), r.clone());
        }
        for g in gone {
            out.remove(&format!("{:?}{:?}{:?}", g[0], g[1], g[2]));
        }
        out
    }

    #[test]
    fn merging_the_rows_of_the_accounts_a_change_reaches_equals_the_rows_made_afresh() {
        // Without 2025's opening entries: every year carried from the previous one.
        let before: Vec<LedgerLine> = books()
            .into_iter()
            .filter(|l| &*l.journal_code != "RAN")
            .collect();
        let mut after = before.clone();
        // A 2024 sale of more (a P&L and a balance-sheet account: 120000 and the
        // customer's later openings change) and a 2024 purchase gone.
        after[0].debit += Decimal::new(500_00, 2);
        after[1].credit += Decimal::new(500_00, 2);
        let gone_ids = [after[3].line_id, after[4].line_id];
        after.retain(|l| !gone_ids.contains(&l.line_id));
        let changed_ids = [
            before[0].line_id,
            before[1].line_id,
            gone_ids[0],
            gone_ids[1],
        ];

        let fy = years();
        let report = |lines: &[LedgerLine]| {
            let mut days = LineDays::new(&fy, journals());
            days.add(lines);
            let tables = report_batches(
                &fy,
                &days,
                &InvoiceDigest::new(d(2026, 12, 31)),
                &BTreeMap::new(),
                1000,
            )
            .unwrap();
            (days, rows(&tables, "report_trial_balance"))
        };
        let (mut days, old_rows) = report(&before);
        let (_, new_rows) = report(&after);
        let old: Vec<&LedgerLine> = before
            .iter()
            .filter(|l| changed_ids.contains(&l.line_id))
            .collect();
        let new: Vec<&LedgerLine> = after
            .iter()
            .filter(|l| changed_ids.contains(&l.line_id))
            .collect();
        let mut touched = std::collections::BTreeSet::new();
        for batch in to_batches(old, 100).unwrap() {
            touched.extend(days.take_away(&batch).unwrap());
        }
        touched.extend(days.put(new));
        let accounts: std::collections::BTreeSet<(i64, Arc<str>)> =
            touched.iter().map(|(c, a, _, _)| (*c, a.clone())).collect();
        let tables = report_batches(
            &fy,
            &days,
            &InvoiceDigest::new(d(2026, 12, 31)),
            &BTreeMap::new(),
            1000,
        )
        .unwrap();
        let (schema, batches) = tables.into_iter().next().unwrap();
        let expected: BTreeMap<String, Vec<Value>> = merged(&new_rows, &[], &[]);

        let reached = trial_balance_accounts(&accounts, &[], &days);
        assert!(reached.contains(&(1, Arc::from("120000"))));
        let (upserts, gone) =
            changed_trial_balance(&schema, batches.clone(), &fy, &reached, 1000).unwrap();
        assert_eq!(merged(&old_rows, &upserts, &gone), expected);
        assert!(upserts.iter().map(Batch::len).sum::<usize>() < new_rows.len());
        // The changed accounts alone leave 120000's later openings stale.
        let (upserts, gone) =
            changed_trial_balance(&schema, batches, &fy, &accounts, 1000).unwrap();
        assert_ne!(merged(&old_rows, &upserts, &gone), expected);
        assert_eq!(changed_accounts(&touched), Some(accounts));

        // Opening entries added to 2025: they replace what 2024 carried, so 2025's
        // opening of 120000, which no opening entry names, changes too: no merge by
        // account.
        let with_an = books();
        let an: Vec<&LedgerLine> = with_an
            .iter()
            .filter(|l| &*l.journal_code == "RAN")
            .collect();
        assert!(an.iter().all(|l| &*l.account_number != "120000"));
        let touched = days.put(an.iter().copied());
        assert_eq!(changed_accounts(&touched), None);
        let (_, rows_an) = report(&with_an);
        let (_, rows_before) = report(&before);
        let result_2025 = |rows: &[Vec<Value>]| {
            rows.iter()
                .find(|r| {
                    r[1] == Value::Date(d(2025, 1, 1)) && r[3] == Value::Text("120000".into())
                })
                .cloned()
        };
        assert!(result_2025(&rows_before).is_some());
        assert_eq!(result_2025(&rows_an), None);
    }
}

#[cfg(test)]
mod fiscal_year_properties {
    use super::*;
    use penny_transform::canonical::tables::to_batches;
    use penny_transform::reports::trial_balance::fiscal_trial_balance;
    use proptest::prelude::*;

    const ACCOUNTS: [&str; 8] = [
        "411001", "706000", "607000", "512000", "401002", "445710", "120000", "106800",
    ];

    fn years() -> Vec<FiscalYear> {
        [2024, 2025, 2026]
            .into_iter()
            .map(|y| FiscalYear {
                company_id: 1,
                start: NaiveDate::from_ymd_opt(y, 1, 1).unwrap(),
                end: NaiveDate::from_ymd_opt(y, 12, 31).unwrap(),
                status: None,
            })
            .collect()
    }

    fn journals() -> OpeningJournals {
        OpeningJournals::of(&[penny_transform::canonical::Journal {
            company_id: 1,
            code: "RAN".into(),
            label: String::new(),
            opening: true,
        }])
    }

    fn day(offset: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 12, 1).unwrap() + chrono::Days::new(u64::from(offset))
    }

    /// Entries of two lines; an opening one is dated on its year's first day.
    fn lines(entries: &[(u32, usize, usize, i64, bool)]) -> Vec<LedgerLine> {
        let mut out = Vec::new();
        for (n, (offset, a, b, cents, opening)) in entries.iter().enumerate() {
            let mut date = day(*offset);
            let journal = if *opening {
                date = NaiveDate::from_ymd_opt(chrono::Datelike::year(&date), 1, 1).unwrap();
                "RAN"
            } else {
                "OD"
            };
            for (k, (account, debit, credit)) in
                [(ACCOUNTS[*a], *cents, 0), (ACCOUNTS[*b], 0, *cents)]
                    .into_iter()
                    .enumerate()
            {
                out.push(LedgerLine {
                    company_id: 1,
                    entry_id: n as i64,
                    line_id: (2 * n + k) as i64,
                    date,
                    journal_code: Arc::from(journal),
                    account_number: Arc::from(account),
                    label: String::new(),
                    debit: Decimal::new(debit, 2),
                    credit: Decimal::new(credit, 2),
                    third_party: None,
                    document_ref: None,
                    due_date: None,
                    lettering: None,
                    categories: None,
                });
            }
        }
        out
    }

    fn report(days: &LineDays) -> (Arc<Schema>, Vec<Batch>) {
        let tables = report_batches(
            &years(),
            days,
            &InvoiceDigest::new(day(0)),
            &BTreeMap::new(),
            1000,
        )
        .unwrap();
        tables.into_iter().next().unwrap()
    }

    fn keyed(rows: impl IntoIterator<Item = Vec<Value>>) -> BTreeMap<String, Vec<Value>> {
        rows.into_iter()
            .map(|r| (format!("{:?}{:?}{:?}", r[0], r[1], r[3]), r))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// The trial balance from the saved sums equals the one from the lines; the
        /// sums changed by a run's changed lines equal the sums made afresh; and when
        /// the trial balance may be merged, the merged rows equal the rows made afresh.
        #[test]
        fn sums_changes_and_merges_give_the_trial_balance_of_the_lines(
            entries in prop::collection::vec((0u32..1250, 0usize..8, 0usize..8, 1i64..100_000, prop::bool::weighted(0.3)), 1..40),
            changes in prop::collection::vec((0usize..80, 1i64..100_000, 0u32..1250, 0u8..3), 0..6),
        ) {
            let before = lines(&entries);
            let mut after = before.clone();
            let mut changed_ids = std::collections::BTreeSet::new();
            for (i, cents, offset, kind) in changes {
                let i = i % after.len();
                changed_ids.insert(after[i].line_id);
                match kind {
                    0 => after[i].debit = Decimal::new(cents, 2),
                    1 => after[i].date = day(offset),
                    _ => {
                        after.remove(i);
                        if after.is_empty() {
                            break;
                        }
                    }
                }
            }
            let mut days = LineDays::new(&years(), journals());
            days.add(&before);
            let (schema, old_batches) = report(&days);
            let old_rows = keyed(old_batches.iter().flat_map(|b| b.rows().to_vec()));
            // From the sums as from the lines.
            let expected = fiscal_trial_balance(&before, FiscalCalendar::new(&years(), journals()));
            let from_lines = keyed(expected.rows.iter().map(|e| {
                vec![
                    Value::Int64(e.company_id),
                    Value::Date(e.period_start),
                    Value::Date(e.period_end),
                    Value::Text(e.account_number.clone()),
                    money(e.opening),
                    money(e.debit),
                    money(e.credit),
                    money(e.closing),
                ]
            }));
            prop_assert_eq!(&old_rows, &from_lines);

            let old: Vec<&LedgerLine> = before.iter().filter(|l| changed_ids.contains(&l.line_id)).collect();
            let new: Vec<&LedgerLine> = after.iter().filter(|l| changed_ids.contains(&l.line_id)).collect();
            let mut touched = std::collections::BTreeSet::new();
            for batch in to_batches(old, 100).unwrap() {
                touched.extend(days.take_away(&batch).unwrap());
            }
            touched.extend(days.put(new));
            let mut afresh = LineDays::new(&years(), journals());
            afresh.add(&after);
            prop_assert_eq!(&days.sums, &afresh.sums);
            let (_, new_batches) = report(&days);
            let new_rows = keyed(new_batches.iter().flat_map(|b| b.rows().to_vec()));
            if let Some(accounts) = changed_accounts(&touched) {
                let reached = trial_balance_accounts(&accounts, &[], &days);
                let (upserts, gone) =
                    changed_trial_balance(&schema, new_batches, &years(), &reached, 1000).unwrap();
                let mut merged = old_rows.clone();
                merged.extend(keyed(upserts.iter().flat_map(|b| b.rows().to_vec())));
                for g in gone {
                    merged.remove(&format!("{:?}{:?}{:?}", g[0], g[1], g[2]));
                }
                prop_assert_eq!(merged, new_rows);
            }
        }
    }
}

#[cfg(test)]
mod digest_tests {
    use super::*;
    use penny_transform::canonical::InvoicePayment;
    use penny_transform::canonical::tables::to_batches;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Invoices of both kinds over several months, some paid in full, some in part,
    /// some by a payment after `as_of`, lines at several rates (one without a rate, one
    /// of an unknown invoice).
    fn books() -> Books {
        let mut b = Books::default();
        for i in 0..60i64 {
            let kind = if i % 3 == 0 {
                ThirdPartyKind::Supplier
            } else {
                ThirdPartyKind::Customer
            };
            let date = d(2026, 1 + (i % 7) as u32, 1 + (i % 27) as u32);
            let ttc = Decimal::new(12_000 + i * 137, 2);
            b.invoices.push(Invoice {
                company_id: 1 + i % 2,
                kind,
                id: i,
                number: Some(format!("F{i}")),
                third_party_id: (i % 5 != 0).then_some(i % 4),
                date,
                due_date: (i % 4 != 0).then(|| date + chrono::Days::new(30)),
                amount_ttc: ttc,
                ..synthetic_invoice()
            });
            for (n, rate) in [Some("FR_200"), Some("FR_55"), None].iter().enumerate() {
                b.invoice_lines.push(InvoiceLine {
                    company_id: 1 + i % 2,
                    kind,
                    invoice_id: i,
                    id: i * 10 + n as i64,
                    label: None,
                    quantity: None,
                    amount_ht: Decimal::new(1000 + i + n as i64, 2),
                    vat: Decimal::new(200 + i, 2),
                    amount_ttc: Decimal::new(1200 + 2 * i + n as i64, 2),
                    vat_rate: rate.map(str::to_owned),
                    account_number: None,
                });
            }
            let paid = match i % 4 {
                0 => Some(ttc),
                1 => Some(Decimal::new(5_000, 2)),
                _ => None,
            };
            if let Some(amount) = paid {
                b.payments.push(InvoicePayment {
                    company_id: 1 + i % 2,
                    kind,
                    invoice_id: i,
                    id: 1000 + i,
                    date: if i % 8 == 1 { d(2027, 1, 1) } else { date },
                    amount,
                });
            }
        }
        b.invoice_lines.push(InvoiceLine {
            invoice_id: 999,
            ..b.invoice_lines[0].clone()
        });
        b
    }

    #[test]
    fn the_digest_gives_the_aged_balances_and_vat_of_the_whole_invoices() {
        let books = books();
        let as_of = d(2026, 9, 30);
        let mut digest = InvoiceDigest::new(as_of);
        // In parts, as batches stream by: invoices first (out of key order), then lines
        // and payments.
        let (first, second) = books.invoices.split_at(25);
        for part in [second, first] {
            digest.add(&Books {
                invoices: part.to_vec(),
                ..Books::default()
            });
        }
        digest.add(&Books {
            invoice_lines: books.invoice_lines.clone(),
            payments: books.payments.clone(),
            ..Books::default()
        });

        let expected = aged_balance::from_invoices(
            &books.invoices,
            Some(&books.payments),
            as_of,
            &Buckets::default(),
        );
        let got = digest.aged();
        assert!(expected.rows.len() > 5);
        assert_eq!(got.rows, expected.rows);

        let from = books.invoices.iter().map(|i| i.date).min().unwrap();
        let to = books.invoices.iter().map(|i| i.date).max().unwrap();
        let expected = vat_by_rate(&books.invoices, &books.invoice_lines, from, to);
        assert!(expected.len() > 10);
        assert_eq!(digest.vat_rows(), expected);
    }

    #[test]
    fn details_joined_to_their_invoices_read_back_equal_details_joined_by_briefs() {
        let books = books();
        let as_of = d(2026, 9, 30);
        let mut briefs = InvoiceDigest::new(as_of);
        briefs.add(&books);

        let mut joined = InvoiceDigest::new(as_of);
        joined.add_invoices(&books.invoices, false);
        assert!(joined.invoices.0.is_empty(), "no brief kept");
        // Lines, then payments, in batches, each with the invoices it names (as read
        // back by key: an unknown invoice is not found).
        let of = |keys: Vec<InvoiceKey>| -> Vec<Invoice> {
            books
                .invoices
                .iter()
                .filter(|i| keys.contains(&(i.company_id, i.kind, i.id)))
                .cloned()
                .collect()
        };
        for part in books.invoice_lines.chunks(7) {
            let keys = part.iter().map(|l| (l.company_id, l.kind, l.invoice_id));
            joined.add_details(&Books {
                invoices: of(keys.collect()),
                invoice_lines: part.to_vec(),
                ..Books::default()
            });
        }
        for part in books.payments.chunks(5) {
            let keys = part.iter().map(|p| (p.company_id, p.kind, p.invoice_id));
            joined.add_details(&Books {
                invoices: of(keys.collect()),
                payments: part.to_vec(),
                ..Books::default()
            });
        }
        assert!(joined.touched.is_none());
        assert_eq!(joined.aged().rows, briefs.aged().rows);
        assert_eq!(joined.vat_rows(), briefs.vat_rows());
        let rows = |digest: &InvoiceDigest| -> Vec<Vec<Value>> {
            let writes = digest.saved_batches(100).unwrap();
            writes
                .iter()
                .flat_map(|(_, batches, _)| batches.iter().flat_map(|b| b.rows().to_vec()))
                .collect()
        };
        assert!(rows(&joined).len() > 10);
        assert_eq!(rows(&joined), rows(&briefs));
    }

    /// The records of `books` a run that changed `invoices`, `lines` and `payments`
    /// affects, as [`InvoiceDigest::change`] takes them: the changed invoices, the lines
    /// and payments changed or of a changed invoice, and the invoices of those.
    fn affected(
        books: &Books,
        invoices: &std::collections::BTreeSet<InvoiceKey>,
        lines: &[i64],
        payments: &[i64],
    ) -> Books {
        let of_changed = |c, k, invoice| invoices.contains(&(c, k, invoice));
        let mut out = Books {
            invoice_lines: books
                .invoice_lines
                .iter()
                .filter(|l| lines.contains(&l.id) || of_changed(l.company_id, l.kind, l.invoice_id))
                .cloned()
                .collect(),
            payments: books
                .payments
                .iter()
                .filter(|p| {
                    payments.contains(&p.id) || of_changed(p.company_id, p.kind, p.invoice_id)
                })
                .cloned()
                .collect(),
            ..Books::default()
        };
        let mut needed = invoices.clone();
        needed.extend(
            out.invoice_lines
                .iter()
                .map(|l| (l.company_id, l.kind, l.invoice_id)),
        );
        needed.extend(
            out.payments
                .iter()
                .map(|p| (p.company_id, p.kind, p.invoice_id)),
        );
        out.invoices = books
            .invoices
            .iter()
            .filter(|i| needed.contains(&(i.company_id, i.kind, i.id)))
            .cloned()
            .collect();
        out
    }

    #[test]
    fn a_saved_digest_changed_by_old_and_new_versions_equals_one_made_afresh() {
        let before = books();
        let saved_on = d(2026, 9, 30);
        let mut first = InvoiceDigest::new(saved_on);
        first.add(&before);

        // Invoice 4 moves to another third party, due later, for more; invoice 7 is
        // deleted (its lines stay, orphaned, as the API leaves them); invoice 100 is
        // new, with a line and a payment; line 12 changes rate, payment 1005 its date,
        // payment 1001 is deleted, and invoice 9 (unchanged) gets a payment.
        let mut after = before.clone();
        let i4 = after.invoices.iter_mut().find(|i| i.id == 4).unwrap();
        i4.third_party_id = Some(3);
        i4.due_date = Some(d(2026, 11, 2));
        i4.amount_ttc += Decimal::new(5_000, 2);
        let kind4 = i4.kind;
        let (kind7, kind9) = (after.invoices[7].kind, after.invoices[9].kind);
        after.invoices.retain(|i| i.id != 7);
        after.invoices.push(Invoice {
            company_id: 1,
            kind: ThirdPartyKind::Customer,
            id: 100,
            third_party_id: Some(1),
            date: d(2026, 9, 1),
            due_date: Some(d(2026, 9, 15)),
            amount_ttc: Decimal::new(60_000, 2),
            ..synthetic_invoice()
        });
        after.invoice_lines.push(InvoiceLine {
            company_id: 1,
            kind: ThirdPartyKind::Customer,
            invoice_id: 100,
            id: 5000,
            amount_ht: Decimal::new(50_000, 2),
            vat: Decimal::new(10_000, 2),
            amount_ttc: Decimal::new(60_000, 2),
            vat_rate: Some("FR_200".into()),
            ..before.invoice_lines[0].clone()
        });
        let l12 = after.invoice_lines.iter_mut().find(|l| l.id == 12).unwrap();
        l12.vat_rate = Some("FR_100".into());
        after.payments.retain(|p| p.id != 1001);
        let p5 = after.payments.iter_mut().find(|p| p.id == 1005).unwrap();
        p5.date = d(2026, 8, 1);
        after.payments.push(InvoicePayment {
            company_id: 2,
            kind: kind9,
            invoice_id: 9,
            id: 5001,
            date: d(2026, 9, 2),
            amount: Decimal::new(3_000, 2),
        });
        after.payments.push(InvoicePayment {
            company_id: 1,
            kind: ThirdPartyKind::Customer,
            invoice_id: 100,
            id: 5002,
            date: d(2026, 9, 20),
            amount: Decimal::new(10_000, 2),
        });
        let changed: std::collections::BTreeSet<InvoiceKey> = [
            (1, kind4, 4),
            (2, kind7, 7),
            (1, ThirdPartyKind::Customer, 100),
        ]
        .into();
        let (lines, payments) = ([12, 5000], [1001, 1005, 5001, 5002]);

        // The old versions as the canonical tables give them back.
        let old = affected(&before, &changed, &lines, &payments);
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&old.invoices, 7).unwrap());
        canonical.extend(to_batches(&old.invoice_lines, 7).unwrap());
        canonical.extend(to_batches(&old.payments, 7).unwrap());
        let read = read_back(&canonical).unwrap();
        assert_eq!(read.invoices.len(), old.invoices.len());
        assert_eq!(read.payments, old.payments);
        let new = affected(&after, &changed, &lines, &payments);

        // Read back on a later day, as the saved tables are, then changed.
        let as_of = d(2026, 10, 15);
        let mut digest = InvoiceDigest::new(as_of);
        for (_, batches, _) in first.saved_batches(13).unwrap() {
            for b in batches {
                digest.add_saved(&b).unwrap();
            }
        }
        digest.change(&read, &new, &changed).unwrap();
        let mut afresh = InvoiceDigest::new(as_of);
        afresh.add(&after);
        let aged = afresh.aged();
        assert!(aged.rows.len() > 5);
        assert_eq!(digest.aged(), aged);
        assert_eq!(digest.vat_rows(), afresh.vat_rows());
        assert_eq!(digest.vat, afresh.vat);
        assert_ne!(first.vat, afresh.vat, "the changes change the VAT sums");
        let mut unchanged = InvoiceDigest::new(as_of);
        for (_, batches, _) in first.saved_batches(13).unwrap() {
            for b in batches {
                unchanged.add_saved(&b).unwrap();
            }
        }
        assert_ne!(
            unchanged.aged(),
            aged,
            "the changes change the aged balances"
        );

        // Read back on the same day, only the open amounts the changes touched are
        // written (merged): applied to the saved rows, they give the rows made afresh.
        let mut same_day = InvoiceDigest::new(saved_on);
        let saved = first.saved_batches(13).unwrap();
        for (_, batches, gone) in &saved {
            assert!(gone.is_none(), "a digest made afresh is written whole");
            for b in batches {
                same_day.add_saved(b).unwrap();
            }
        }
        same_day.change(&read, &new, &changed).unwrap();
        let key_of = |row: &[Value]| format!("{:?}", &row[..5]);
        let mut rows: BTreeMap<String, Vec<Value>> = saved[0]
            .1
            .iter()
            .flat_map(|b| b.rows().iter().map(|r| (key_of(r), r.clone())))
            .collect();
        let (_, upserts, gone) = same_day.saved_batches(13).unwrap().remove(0);
        let gone = gone.expect("merged on the same day");
        let written: usize = upserts.iter().map(Batch::len).sum();
        assert!(
            written + gone.len() < rows.len() / 2,
            "{written} rows written"
        );
        for row in upserts.iter().flat_map(|b| b.rows()) {
            rows.insert(key_of(row), row.clone());
        }
        for key in &gone {
            rows.remove(&key_of(key));
        }
        let mut fresh = InvoiceDigest::new(saved_on);
        fresh.add(&after);
        let expected: BTreeMap<String, Vec<Value>> = fresh.saved_batches(13).unwrap()[0]
            .1
            .iter()
            .flat_map(|b| b.rows().iter().map(|r| (key_of(r), r.clone())))
            .collect();
        assert_eq!(rows, expected);

        // Sums saved as of a later day cannot be aged on an earlier one; sums that do
        // not hold what is taken away must be made afresh.
        let mut earlier = InvoiceDigest::new(d(2026, 9, 1));
        let open = first.saved_batches(1_000).unwrap().remove(0).1;
        assert!(earlier.add_saved(&open[0]).is_err());
        let mut empty = InvoiceDigest::new(as_of);
        assert!(empty.change(&read, &new, &changed).is_err());
    }

    /// Customer 1's and supplier 2's open totals in `digest`.
    fn owed(digest: &InvoiceDigest) -> Vec<(ThirdPartyKind, Option<i64>, Decimal)> {
        digest
            .aged()
            .rows
            .iter()
            .map(|r| (r.kind, r.third_party_id, r.total))
            .collect()
    }

    fn units(n: i64) -> Decimal {
        Decimal::new(n * 100, 2)
    }

    #[test]
    fn the_digest_counts_invoices_and_credit_notes_only() {
        let books = penny_transform::testing::books_with_every_document();
        let as_of = d(2026, 7, 31);
        let mut briefs = InvoiceDigest::new(as_of);
        briefs.add(&books);
        // 1,200 - 100 paid - 600 credited; not the draft's 12,000 less its 500 paid.
        assert_eq!(
            owed(&briefs),
            [
                (ThirdPartyKind::Customer, Some(1), units(500)),
                (ThirdPartyKind::Supplier, Some(2), units(360)),
            ]
        );
        let expected = aged_balance::from_invoices(
            &books.invoices,
            Some(&books.payments),
            as_of,
            &Buckets::default(),
        );
        assert_eq!(briefs.aged(), expected);
        let vat = vat_by_rate(&books.invoices, &books.invoice_lines, d(2026, 7, 1), as_of);
        assert_eq!(briefs.vat_rows(), vat);
        let collected: Vec<_> = vat.iter().map(|r| (r.base, r.vat)).collect();
        assert_eq!(
            collected,
            [(units(500), units(100)), (units(300), units(60))]
        );
        // The lines of the others are told apart (for the facts that stream them).
        let left_out: Vec<i64> = books
            .invoices
            .iter()
            .filter(|i| !briefs.counts(&(i.company_id, i.kind, i.id)))
            .map(|i| i.id)
            .collect();
        assert_eq!(left_out, [12, 13, 14, 15, 16, 21]);
        assert!(
            briefs.counts(&(1, ThirdPartyKind::Customer, 999)),
            "unknown"
        );
        // Joined to the invoices read back by key, without briefs: alike.
        let mut joined = InvoiceDigest::new(as_of);
        joined.add_invoices(&books.invoices, false);
        joined.add_details(&books);
        assert_eq!(joined.aged(), expected);
        assert_eq!(joined.vat_rows(), vat);
    }

    #[test]
    fn credit_notes_are_aged_on_the_invoice_they_credit_whatever_the_order() {
        let books = penny_transform::testing::books_with_every_document();
        let key = |id| (1, ThirdPartyKind::Customer, id);
        let only = |ids: &[i64]| -> Vec<Invoice> {
            books
                .invoices
                .iter()
                .filter(|i| ids.contains(&i.id))
                .cloned()
                .collect()
        };
        // Invoice 10 is due on 31 July, its credit note 11 (-600) on 9 August.
        for as_of in [d(2026, 7, 31), d(2026, 10, 1)] {
            let expected =
                aged_balance::from_invoices(&books.invoices, None, as_of, &Buckets::default());
            // Nothing is left in the credit note's own bucket.
            let own = aged_balance::Buckets::default().index(d(2026, 8, 9), as_of);
            let invoice = aged_balance::Buckets::default().index(d(2026, 7, 31), as_of);
            assert_ne!(own, invoice);
            assert_eq!(
                expected.rows[0].buckets[own],
                Decimal::ZERO,
                "as of {as_of}"
            );
            assert_eq!(
                expected.rows[0].buckets[invoice],
                units(600),
                "as of {as_of}"
            );
            // The credit note before its invoice, without briefs: it waits for it.
            let mut later = InvoiceDigest::new(as_of);
            later.add_invoices(&only(&[11]), false);
            assert_eq!(later.pending_credits().collect::<Vec<_>>(), [&key(10)]);
            later.add_invoices(&only(&[10, 12, 13, 14, 15, 16, 20, 21]), false);
            assert_eq!(later.pending_credits().count(), 0);
            assert_eq!(later.aged(), expected, "credit note first, as of {as_of}");
            // After it, with briefs: found by its brief.
            let mut briefs = InvoiceDigest::new(as_of);
            briefs.add_invoices(&only(&[10, 12, 20]), true);
            briefs.add_invoices(&only(&[11, 13, 14, 15, 16, 21]), true);
            assert_eq!(briefs.aged(), expected, "briefs, as of {as_of}");
            // After it, without briefs: read back by key and resolved.
            let mut keyed = InvoiceDigest::new(as_of);
            keyed.add_invoices(&only(&[10, 12, 20]), false);
            keyed.add_invoices(&only(&[11, 13, 14, 15, 16, 21]), false);
            assert_eq!(keyed.pending_credits().collect::<Vec<_>>(), [&key(10)]);
            let waiting = keyed.aged();
            keyed.resolve_credits(&only(&[10]));
            assert_eq!(keyed.aged(), expected, "read back, as of {as_of}");
            // Never resolved: on its own due date, the total alike.
            assert_eq!(waiting.rows[0].buckets[own], units(-600), "as of {as_of}");
            assert_eq!(waiting.rows[0].total, expected.rows[0].total);
        }
        // The credited invoice's due date moves: the credit note moves with it when the
        // update counts it as changed and gives both.
        let saved_on = d(2026, 9, 15);
        let mut first = InvoiceDigest::new(saved_on);
        first.add(&books);
        let mut after = books.clone();
        for i in &mut after.invoices {
            if i.id == 10 {
                i.due_date = Some(d(2026, 6, 1));
            }
        }
        let changed: std::collections::BTreeSet<InvoiceKey> = [key(10), key(11)].into();
        let old = affected(&books, &changed, &[], &[]);
        let new = affected(&after, &changed, &[], &[]);
        let mut digest = InvoiceDigest::new(saved_on);
        for (_, batches, _) in first.saved_batches(5).unwrap() {
            for b in batches {
                digest.add_saved(&b).unwrap();
            }
        }
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&old.invoices, 3).unwrap());
        canonical.extend(to_batches(&old.payments, 3).unwrap());
        canonical.extend(to_batches(&old.invoice_lines, 3).unwrap());
        let read = read_back(&canonical).unwrap();
        assert_eq!(
            read.invoices
                .iter()
                .find(|i| i.id == 11)
                .and_then(|i| i.credits()),
            Some(10),
            "the credited invoice is read back"
        );
        digest.change(&read, &new, &changed).unwrap();
        let mut afresh = InvoiceDigest::new(saved_on);
        afresh.add(&after);
        assert_eq!(digest.aged(), afresh.aged());
        let moved = aged_balance::Buckets::default().index(d(2026, 6, 1), saved_on);
        assert_eq!(afresh.aged().rows[0].buckets[moved], units(500));
    }

    #[test]
    fn a_draft_made_an_invoice_and_an_invoice_made_a_draft_move_between_cycles() {
        use penny_transform::canonical::InvoiceDocument;
        let before = penny_transform::testing::books_with_every_document();
        let saved_on = d(2026, 7, 31);
        let mut first = InvoiceDigest::new(saved_on);
        first.add(&before);
        // The draft 12 is finalized; invoice 20 (supplier) goes back to draft.
        let mut after = before.clone();
        for i in &mut after.invoices {
            match i.id {
                12 => i.document = InvoiceDocument::Invoice,
                20 => i.document = InvoiceDocument::Draft,
                _ => {}
            }
        }
        let changed: std::collections::BTreeSet<InvoiceKey> = [
            (1, ThirdPartyKind::Customer, 12),
            (1, ThirdPartyKind::Supplier, 20),
        ]
        .into();
        let old = affected(&before, &changed, &[], &[]);
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&old.invoices, 3).unwrap());
        canonical.extend(to_batches(&old.invoice_lines, 3).unwrap());
        canonical.extend(to_batches(&old.payments, 3).unwrap());
        let read = read_back(&canonical).unwrap();
        let new = affected(&after, &changed, &[], &[]);
        for as_of in [saved_on, d(2026, 8, 10)] {
            let mut digest = InvoiceDigest::new(as_of);
            for (_, batches, _) in first.saved_batches(5).unwrap() {
                for b in batches {
                    digest.add_saved(&b).unwrap();
                }
            }
            digest.change(&read, &new, &changed).unwrap();
            let mut afresh = InvoiceDigest::new(as_of);
            afresh.add(&after);
            assert_eq!(digest.aged(), afresh.aged(), "as of {as_of}");
            assert_eq!(digest.vat, afresh.vat, "as of {as_of}");
            // 1,200 - 100 - 600 + 12,000 - 500; the supplier owed nothing.
            assert_eq!(
                owed(&digest),
                [(ThirdPartyKind::Customer, Some(1), units(12_000))]
            );
            let collected: Vec<_> = digest.vat_rows().iter().map(|r| r.vat).collect();
            assert_eq!(collected, [units(2_100)]);
        }
        // A canonical row whose document kind is none of the known ones cannot be
        // read back.
        let schema = <Invoice as penny_transform::canonical::tables::CanonicalTable>::schema();
        let kind = schema.column_index("document_kind").unwrap();
        let mut rows = canonical[0].rows().to_vec();
        rows[0][kind] = Value::Text("estimate".into());
        let stale = Batch::upsert(schema, rows).unwrap();
        assert!(read_back(&[stale]).is_err());
    }
}
