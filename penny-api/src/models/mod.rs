//! Typed records of the API's read resources.
//!
//! Conventions: amounts (JSON strings of decimals) are [`Decimal`](rust_decimal::Decimal),
//! dates [`NaiveDate`](chrono::NaiveDate), timestamps `DateTime<Utc>`; references to other
//! records are [`Reference`]s; enumerations are open (an unknown value is kept as
//! `Other(String)`); unknown fields are ignored (use a list's
//! [`raw`](crate::ListRequest::raw) for every field as delivered). Fields that the API may
//! omit or send as `null` are `Option`s; fields marked "(u)" in the crate's assumptions are
//! not attested by Pennylane's schema.

mod bank;
mod catalog;
mod changelog;
mod invoices;
mod ledger;
mod me;
mod parties;

pub use bank::{BankAccount, Transaction};
pub use catalog::{Category, CategoryGroup, Product};
pub use changelog::{ChangeOperation, ChangelogEvent};
pub use invoices::{
    CustomerInvoice, CustomerInvoiceStatus, InvoiceLine, InvoicePayment, SupplierInvoice,
};
pub use ledger::{
    FiscalYear, FiscalYearStatus, Journal, JournalType, LedgerAccount, LedgerAccountSummary,
    LedgerEntry, LedgerEntryLine, Lettering, TrialBalanceAccount,
};
pub use me::{Me, MeCompany, MeUser};
pub use parties::{CompanyCustomer, Customer, IndividualCustomer, Supplier, UnknownCustomer};

use serde::{Deserialize, Serialize};

/// A link to another record: its `id` and, often, its API `url`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    /// The record's id.
    pub id: i64,
    /// Its URL in the API, when given.
    #[serde(default)]
    pub url: Option<String>,
}

/// A typed record together with its raw JSON, for fields this crate does not type.
///
/// ```
/// use penny_api::models::{Journal, Raw};
///
/// let raw: Raw<Journal> = serde_json::from_str(r#"{"id": 1, "code": "VE", "color": "blue"}"#)?;
/// assert_eq!(raw.record.code, "VE");
/// assert_eq!(raw.json["color"], "blue");
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// Lists yield it with [`ListRequest::with_raw`](crate::ListRequest::with_raw).
#[derive(Debug, Clone, PartialEq)]
pub struct Raw<T> {
    /// The typed record.
    pub record: T,
    /// The record as delivered.
    pub json: serde_json::Value,
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Raw<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = serde_json::Value::deserialize(deserializer)?;
        let record = serde_path_to_error::deserialize(&json).map_err(|e| {
            serde::de::Error::custom(format!("field `{}`: {}", e.path(), e.inner()))
        })?;
        Ok(Raw { record, json })
    }
}

/// A link to a sub-collection (`{"url": ...}`), fetched with its own paginated call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    /// The sub-collection's URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// Declares an open enumeration: known values as variants, anything else kept in
/// `Other(String)`, (de)serialised as the API's string.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know (kept as sent).
            Other(String),
        }

        impl $name {
            /// The value as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::from(text.as_ref()))
            }
        }
    };
}
pub(crate) use open_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        let known: JournalType = serde_json::from_str(r#""sale""#).expect("known");
        assert_eq!(known, JournalType::Sale);
        let unknown: JournalType = serde_json::from_str(r#""crypto""#).expect("unknown");
        assert_eq!(unknown, JournalType::Other("crypto".into()));
        assert_eq!(
            serde_json::to_string(&unknown).expect("serialise"),
            r#""crypto""#
        );
    }

    #[test]
    fn a_line_s_lettering_is_an_object_of_ids_and_url() {
        let line: LedgerEntryLine = serde_json::from_str(
            r#"{"id": 10, "debit": "1.00", "credit": "0.00",
                "lettered_ledger_entry_lines": {"ids": [12, 8], "url": "https://x/ledger_entry_lines/10/lettered_ledger_entry_lines"}}"#,
        )
        .expect("the spec's shape decodes");
        let lettering = line.lettered_ledger_entry_lines.clone().expect("lettered");
        assert_eq!(lettering.ids, vec![12, 8]);
        assert_eq!(line.lettering_group(), Some(8));
        let alone: LedgerEntryLine = serde_json::from_str(
            r#"{"id": 10, "debit": "1.00", "credit": "0.00",
                "lettered_ledger_entry_lines": {"ids": [], "url": "u"}}"#,
        )
        .expect("decodes");
        assert_eq!(alone.lettering_group(), None);
        let first: LedgerEntryLine = serde_json::from_str(
            r#"{"id": 3, "debit": "1.00", "credit": "0.00",
                "lettered_ledger_entry_lines": {"ids": [12], "url": "u"}}"#,
        )
        .expect("decodes");
        assert_eq!(first.lettering_group(), Some(3));
    }
}
