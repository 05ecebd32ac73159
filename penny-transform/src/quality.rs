//! Data-quality checks no BI tool does for you, returned as typed [`Finding`]s (they
//! never panic, whatever the data).
//!
//! - [`LedgerChecks`]: over the ledger lines, streamed one at a time with the small
//!   [`Books`] as reference: unbalanced entries, lines on unknown accounts or journals,
//!   dates outside every fiscal year. Memory: one accumulator per entry (debit and credit
//!   totals) and per unknown account/journal/out-of-range date group, not per line.
//! - [`check_invoices`]: invoices whose lines do not add up to their totals (HT, VAT,
//!   TTC), and invoices whose HT + VAT differs from their TTC.
//! - [`check_trial_balance`]: a trial balance whose debits and credits differ.
//!
//! ```
//! use penny_transform::canonical::Books;
//! use penny_transform::quality::{LedgerChecks, Finding};
//!
//! let books = Books::default();
//! let checks = LedgerChecks::new(&books);
//! assert!(checks.finish().is_empty());
//! ```

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::canonical::{Books, LedgerLine, ThirdPartyKind};
use crate::reports::FastMap;
use crate::reports::trial_balance::TrialBalance;

/// One problem found in the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// An entry whose debits and credits differ.
    UnbalancedEntry {
        /// The company.
        company_id: i64,
        /// The entry.
        entry_id: i64,
        /// Total debit.
        debit: Decimal,
        /// Total credit.
        credit: Decimal,
    },
    /// Lines on an account missing from the chart of accounts.
    UnknownAccount {
        /// The company.
        company_id: i64,
        /// The account number.
        account_number: String,
        /// How many lines use it.
        lines: u64,
        /// The smallest line id using it.
        first_line_id: i64,
    },
    /// Lines in a journal missing from the journals.
    UnknownJournal {
        /// The company.
        company_id: i64,
        /// The journal code.
        journal_code: String,
        /// How many lines use it.
        lines: u64,
        /// The smallest line id using it.
        first_line_id: i64,
    },
    /// Lines dated outside every fiscal year of their company.
    DateOutsideFiscalYears {
        /// The company.
        company_id: i64,
        /// The date.
        date: NaiveDate,
        /// How many lines carry that date.
        lines: u64,
        /// The smallest line id with that date.
        first_line_id: i64,
    },
    /// An invoice whose lines (or whose own HT + VAT) do not add up to its total.
    InvoiceTotalsMismatch {
        /// The company.
        company_id: i64,
        /// Customer or supplier invoice.
        kind: ThirdPartyKind,
        /// The invoice.
        invoice_id: i64,
        /// `amount_ht`, `vat`, `amount_ttc` (lines vs invoice) or `ht_plus_vat` (invoice).
        field: &'static str,
        /// The invoice's figure.
        invoice_total: Decimal,
        /// The lines' sum (or HT + VAT).
        computed: Decimal,
    },
    /// A trial balance whose debits and credits differ.
    TrialBalanceNotZero {
        /// The company.
        company_id: i64,
        /// Total debits.
        debit: Decimal,
        /// Total credits.
        credit: Decimal,
    },
}

#[derive(Debug, Clone, Copy)]
struct Count {
    lines: u64,
    first: i64,
}

impl Count {
    fn add(&mut self, line_id: i64) {
        self.lines += 1;
        self.first = self.first.min(line_id);
    }
}

/// Streaming checks over ledger lines.
#[derive(Debug)]
pub struct LedgerChecks<'b> {
    books: &'b Books,
    accounts: HashSet<(i64, &'b str)>,
    journals: HashSet<(i64, &'b str)>,
    companies_with_years: HashSet<i64>,
    entries: FastMap<(i64, i64), (Decimal, Decimal)>,
    unknown_accounts: BTreeMap<(i64, String), Count>,
    unknown_journals: BTreeMap<(i64, String), Count>,
    outside: BTreeMap<(i64, NaiveDate), Count>,
}

impl<'b> LedgerChecks<'b> {
    /// Checks against these books' accounts, journals and fiscal years. A company with
    /// no fiscal year at all is not checked for dates.
    pub fn new(books: &'b Books) -> Self {
        LedgerChecks {
            books,
            accounts: books
                .accounts
                .iter()
                .map(|a| (a.company_id, a.number.as_str()))
                .collect(),
            journals: books
                .journals
                .iter()
                .map(|j| (j.company_id, j.code.as_str()))
                .collect(),
            companies_with_years: books.fiscal_years.iter().map(|f| f.company_id).collect(),
            entries: FastMap::default(),
            unknown_accounts: BTreeMap::new(),
            unknown_journals: BTreeMap::new(),
            outside: BTreeMap::new(),
        }
    }

    /// Checks one line.
    pub fn add(&mut self, line: &LedgerLine) {
        let c = line.company_id;
        let e = self.entries.entry((c, line.entry_id)).or_default();
        e.0 += line.debit;
        e.1 += line.credit;
        let new = Count {
            lines: 0,
            first: line.line_id,
        };
        if !self.accounts.contains(&(c, &*line.account_number)) {
            self.unknown_accounts
                .entry((c, line.account_number.to_string()))
                .or_insert(new)
                .add(line.line_id);
        }
        if !self.journals.contains(&(c, &*line.journal_code)) {
            self.unknown_journals
                .entry((c, line.journal_code.to_string()))
                .or_insert(new)
                .add(line.line_id);
        }
        if self.companies_with_years.contains(&c)
            && !self
                .books
                .fiscal_years
                .iter()
                .any(|f| f.company_id == c && f.contains(line.date))
        {
            self.outside
                .entry((c, line.date))
                .or_insert(new)
                .add(line.line_id);
        }
    }

    /// Checks lines.
    pub fn extend<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for line in lines {
            self.add(line);
        }
    }

    /// The findings, grouped by kind and sorted.
    pub fn finish(self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut unbalanced: Vec<_> = self
            .entries
            .into_iter()
            .filter(|(_, (d, c))| d != c)
            .collect();
        unbalanced.sort_by_key(|(k, _)| *k);
        out.extend(
            unbalanced
                .into_iter()
                .map(
                    |((company_id, entry_id), (debit, credit))| Finding::UnbalancedEntry {
                        company_id,
                        entry_id,
                        debit,
                        credit,
                    },
                ),
        );
        out.extend(
            self.unknown_accounts
                .into_iter()
                .map(
                    |((company_id, account_number), n)| Finding::UnknownAccount {
                        company_id,
                        account_number,
                        lines: n.lines,
                        first_line_id: n.first,
                    },
                ),
        );
        out.extend(
            self.unknown_journals
                .into_iter()
                .map(|((company_id, journal_code), n)| Finding::UnknownJournal {
                    company_id,
                    journal_code,
                    lines: n.lines,
                    first_line_id: n.first,
                }),
        );
        out.extend(self.outside.into_iter().map(|((company_id, date), n)| {
            Finding::DateOutsideFiscalYears {
                company_id,
                date,
                lines: n.lines,
                first_line_id: n.first,
            }
        }));
        out
    }
}

/// All ledger checks over `lines`.
pub fn check_ledger<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    books: &Books,
) -> Vec<Finding> {
    let mut checks = LedgerChecks::new(books);
    checks.extend(lines);
    checks.finish()
}

/// Invoices whose lines do not add up (only invoices that have lines are compared with
/// them), and invoices whose HT + VAT is not their TTC.
pub fn check_invoices(books: &Books) -> Vec<Finding> {
    let mut sums: FastMap<(i64, ThirdPartyKind, i64), [Decimal; 3]> = FastMap::default();
    for l in &books.invoice_lines {
        let s = sums
            .entry((l.company_id, l.kind, l.invoice_id))
            .or_default();
        s[0] += l.amount_ht;
        s[1] += l.vat;
        s[2] += l.amount_ttc;
    }
    let mut out = Vec::new();
    for inv in &books.invoices {
        let mismatch = |field, invoice_total, computed| Finding::InvoiceTotalsMismatch {
            company_id: inv.company_id,
            kind: inv.kind,
            invoice_id: inv.id,
            field,
            invoice_total,
            computed,
        };
        if inv.amount_ht + inv.vat != inv.amount_ttc {
            out.push(mismatch(
                "ht_plus_vat",
                inv.amount_ttc,
                inv.amount_ht + inv.vat,
            ));
        }
        if let Some(s) = sums.get(&(inv.company_id, inv.kind, inv.id)) {
            for (field, total, sum) in [
                ("amount_ht", inv.amount_ht, s[0]),
                ("vat", inv.vat, s[1]),
                ("amount_ttc", inv.amount_ttc, s[2]),
            ] {
                if total != sum {
                    out.push(mismatch(field, total, sum));
                }
            }
        }
    }
    out
}

/// Companies whose trial balance debits and credits differ.
pub fn check_trial_balance(tb: &TrialBalance) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut opening: FastMap<i64, Decimal> = FastMap::default();
    let first = tb.rows.iter().map(|r| r.period_start).min();
    for r in tb.rows.iter().filter(|r| Some(r.period_start) == first) {
        *opening.entry(r.company_id).or_default() += r.opening;
    }
    for (company_id, debit, credit) in tb.totals_by_company() {
        let open = opening.get(&company_id).copied().unwrap_or_default();
        // An unbalanced opening counts as a difference too.
        let (debit, credit) = if open.is_sign_negative() {
            (debit, credit - open)
        } else {
            (debit + open, credit)
        };
        if debit != credit {
            out.push(Finding::TrialBalanceNotZero {
                company_id,
                debit,
                credit,
            });
        }
    }
    out
}
