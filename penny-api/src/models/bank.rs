//! Bank accounts and bank transactions.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Reference;

/// A bank account (`GET /bank_accounts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankAccount {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Balance.
    #[serde(default)]
    pub balance: Option<Decimal>,
    /// Its journal.
    #[serde(default)]
    pub journal: Option<Reference>,
    /// Its account (512...).
    #[serde(default)]
    pub ledger_account: Option<Reference>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A bank transaction (`GET /transactions`); the amount is signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Value date.
    pub date: NaiveDate,
    /// Signed amount (negative: money out).
    pub amount: Decimal,
    /// Currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Amount in that currency.
    #[serde(default)]
    pub currency_amount: Option<Decimal>,
    /// Fee.
    #[serde(default)]
    pub fee: Option<Decimal>,
    /// What is not reconciled yet (none when fully reconciled).
    #[serde(default)]
    pub outstanding_balance: Option<Decimal>,
    /// Its journal.
    #[serde(default)]
    pub journal: Option<Reference>,
    /// Its bank account.
    #[serde(default)]
    pub bank_account: Option<Reference>,
    /// The customer, if matched.
    #[serde(default)]
    pub customer: Option<Reference>,
    /// The supplier, if matched.
    #[serde(default)]
    pub supplier: Option<Reference>,
    /// Analytical allocations, as delivered.
    #[serde(default)]
    pub categories: Vec<serde_json::Value>,
    /// When it was archived.
    #[serde(default)]
    pub archived_at: Option<DateTime<Utc>>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
