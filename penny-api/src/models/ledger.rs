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
    /// The lines lettered with this one (`{"ids": [...], "url": ...}`); `None` when the
    /// API sends none.
    #[serde(default)]
    pub lettered_ledger_entry_lines: Option<Lettering>,
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

    /// The lettering group's key: the smallest id among this line and the lines lettered
    /// with it; `None` when the line is not lettered.
    pub fn lettering_group(&self) -> Option<i64> {
        let lettering = self.lettered_ledger_entry_lines.as_ref()?;
        lettering.group_of(self.id)
    }
}

/// The lettering of a ledger line: the ids of the lines lettered with it, and the URL of
/// their list (`/ledger_entry_lines/{id}/lettered_ledger_entry_lines`).
///
/// The spec's shape is `{"ids": [integer], "url": string}`; an array of references or
/// ids (an older shape) is read too.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Lettering {
    /// The ids of the lines lettered with this one (empty: not lettered).
    #[serde(default)]
    pub ids: Vec<i64>,
    /// The URL of the lettered lines' list.
    #[serde(default)]
    pub url: Option<String>,
}

impl<'de> Deserialize<'de> for Lettering {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Id {
            Plain(i64),
            Reference { id: i64 },
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Object {
                #[serde(default)]
                ids: Vec<i64>,
                #[serde(default)]
                url: Option<String>,
            },
            List(Vec<Id>),
        }
        Ok(match Shape::deserialize(deserializer)? {
            Shape::Object { ids, url } => Lettering { ids, url },
            Shape::List(ids) => Lettering {
                ids: ids
                    .into_iter()
                    .map(|id| match id {
                        Id::Plain(id) | Id::Reference { id } => id,
                    })
                    .collect(),
                url: None,
            },
        })
    }
}

impl Lettering {
    /// The group's key for line `own_id`: the smallest of `own_id` and [`Lettering::ids`];
    /// `None` when no line is lettered with it.
    pub fn group_of(&self, own_id: i64) -> Option<i64> {
        let smallest = self.ids.iter().copied().min()?;
        Some(smallest.min(own_id))
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
