//! Accounting: journals, accounts, entries and their lines, fiscal years, trial balance.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Reference, open_enum};

open_enum! {
    /// What a journal records (the list is not attested by Pennylane's schema: open).
    pub enum JournalType {
        /// Sales (VE).
        Sale => "sale",
        /// Purchases (AC).
        Purchase => "purchase",
        /// Bank (BQ).
        Bank => "bank",
        /// Miscellaneous operations (OD).
        Miscellaneous => "miscellaneous",
        /// Opening entries (AN).
        NewYear => "new_year",
        /// Payroll.
        Payroll => "payroll",
    }
}

open_enum! {
    /// The state of a fiscal year.
    pub enum FiscalYearStatus {
        /// Open.
        Open => "open",
        /// Reopened after closing.
        Reopen => "reopen",
        /// Closed.
        Closed => "closed",
        /// Frozen.
        Frozen => "frozen",
    }
}

/// A journal (`GET /journals`). Journals have no timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// Id.
    pub id: i64,
    /// Code: VE, AC, BQ, OD, AN...
    pub code: String,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Kind.
    #[serde(default, rename = "type")]
    pub journal_type: Option<JournalType>,
}

/// An account of the chart (`GET /ledger_accounts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerAccount {
    /// Id.
    pub id: i64,
    /// Number; auxiliary accounts may hold letters (`411DUPONT`).
    pub number: String,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// A VAT rate code (`FR_200`, `exempt`...), not a number.
    #[serde(default)]
    pub vat_rate: Option<String>,
    /// Country code.
    #[serde(default)]
    pub country_alpha2: Option<String>,
    /// Whether the account is enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Whether its lines can be lettered.
    #[serde(default)]
    pub letterable: Option<bool>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A fiscal year (`GET /fiscal_years`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiscalYear {
    /// Id.
    pub id: i64,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub finish: NaiveDate,
    /// State.
    #[serde(default)]
    pub status: Option<FiscalYearStatus>,
}

/// A journal entry (`GET /ledger_entries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Piece number.
    #[serde(default)]
    pub piece_number: Option<String>,
    /// Accounting date.
    pub date: NaiveDate,
    /// Due date.
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// Invoice number (not every entry has an invoice).
    #[serde(default)]
    pub invoice_number: Option<String>,
    /// The journal's id.
    #[serde(default)]
    pub journal_id: Option<i64>,
    /// The journal.
    #[serde(default)]
    pub journal: Option<Reference>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The account of a ledger line, as embedded in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerAccountSummary {
    /// Id.
    pub id: i64,
    /// Number.
    #[serde(default)]
    pub number: Option<String>,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
}

/// A line of a journal entry (`GET /ledger_entry_lines`). Debit and credit are both
/// present, one of them zero; there is no signed amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntryLine {
    /// Id.
    pub id: i64,
    /// Debit.
    pub debit: Decimal,
    /// Credit.
    pub credit: Decimal,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Accounting date.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// The journal.
    #[serde(default)]
    pub journal: Option<Reference>,
    /// The entry the line belongs to.
    #[serde(default)]
    pub ledger_entry: Option<Reference>,
    /// The account.
    #[serde(default)]
    pub ledger_account: Option<LedgerAccountSummary>,
    /// Lines lettered with this one.
    #[serde(default)]
    pub lettered_ledger_entry_lines: Vec<Reference>,
    /// Analytical allocations, as delivered.
    #[serde(default)]
    pub categories: Vec<serde_json::Value>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl LedgerEntryLine {
    /// Debit minus credit.
    pub fn balance(&self) -> Decimal {
        self.debit - self.credit
    }
}

/// One account of the trial balance (`GET /trial_balance`): computed, no id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialBalanceAccount {
    /// Account number.
    pub number: String,
    /// Number as displayed.
    #[serde(default)]
    pub formatted_number: Option<String>,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Total debits of the period.
    pub debits: Decimal,
    /// Total credits of the period.
    pub credits: Decimal,
}
