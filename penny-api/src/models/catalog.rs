//! Products and analytical categories.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Reference;

/// A product (`GET /products`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Price before tax.
    #[serde(default)]
    pub price_before_tax: Option<Decimal>,
    /// Price with tax.
    #[serde(default)]
    pub price: Option<Decimal>,
    /// VAT rate code.
    #[serde(default)]
    pub vat_rate: Option<String>,
    /// Unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// The sales account.
    #[serde(default)]
    pub ledger_account: Option<Reference>,
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

/// An analytical category group (`GET /category_groups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryGroup {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// An analytical category (`GET /categories`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Direction (`cash_in`, `cash_out`, or none).
    #[serde(default)]
    pub direction: Option<String>,
    /// Its group.
    #[serde(default)]
    pub category_group: Option<Reference>,
    /// Analytical code.
    #[serde(default)]
    pub analytical_code: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
