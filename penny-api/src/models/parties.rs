//! Customers (companies or individuals) and suppliers.

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};

use super::Reference;

/// A customer: a company or an individual, told apart by `customer_type`.
///
/// A `customer_type` this version does not know decodes as [`Customer::Other`] with
/// the fields every customer has.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "customer_type", rename_all = "snake_case")]
pub enum Customer {
    /// A company (SIREN, VAT number).
    Company(CompanyCustomer),
    /// A person.
    Individual(IndividualCustomer),
    /// A kind of customer this version does not know.
    #[serde(untagged)]
    Other(UnknownCustomer),
}

impl Customer {
    /// The id.
    pub fn id(&self) -> i64 {
        match self {
            Customer::Company(c) => c.id,
            Customer::Individual(c) => c.id,
            Customer::Other(c) => c.id,
        }
    }

    /// The display name: the company's name, or the person's first and last names.
    pub fn display_name(&self) -> String {
        match self {
            Customer::Company(c) => c.name.clone().unwrap_or_default(),
            Customer::Individual(c) => match (&c.name, &c.first_name, &c.last_name) {
                (Some(name), _, _) if !name.is_empty() => name.clone(),
                (_, first, last) => [first.as_deref(), last.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            },
            Customer::Other(c) => c.name.clone().unwrap_or_default(),
        }
    }

    /// The customer's account.
    pub fn ledger_account(&self) -> Option<&Reference> {
        match self {
            Customer::Company(c) => c.ledger_account.as_ref(),
            Customer::Individual(c) => c.ledger_account.as_ref(),
            Customer::Other(c) => c.ledger_account.as_ref(),
        }
    }
}

impl<'de> Deserialize<'de> for Customer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        fn variant<T: DeserializeOwned, E: serde::de::Error>(
            value: serde_json::Value,
        ) -> Result<T, E> {
            serde_path_to_error::deserialize(value)
                .map_err(|e| E::custom(format!("field `{}`: {}", e.path(), e.inner())))
        }
        let kind = value
            .get("customer_type")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        match kind.as_deref() {
            Some("company") => variant(value).map(Customer::Company),
            Some("individual") => variant(value).map(Customer::Individual),
            Some(_) => variant(value).map(Customer::Other),
            None => Err(D::Error::missing_field("customer_type")),
        }
    }
}

/// Declares a kind of customer: `id` and `name` (with `$name` as its doc), the kind's
/// own fields, then the fields every known kind has (`ledger_account` to `updated_at`).
/// The fields stay plain public fields in this order, so decoding, errors and field
/// access are those of a struct written out.
macro_rules! customer_kind {
    (
        $(#[$meta:meta])*
        pub struct $kind:ident {
            name: $name:literal,
            $($own:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $kind {
            /// Id.
            pub id: i64,
            #[doc = $name]
            #[serde(default)]
            pub name: Option<String>,
            $($own)*
            /// The customer's account.
            #[serde(default)]
            pub ledger_account: Option<Reference>,
            /// Emails.
            #[serde(default)]
            pub emails: Vec<String>,
            /// External reference.
            #[serde(default)]
            pub external_reference: Option<String>,
            /// Creation time.
            #[serde(default)]
            pub created_at: Option<DateTime<Utc>>,
            /// Last change.
            #[serde(default)]
            pub updated_at: Option<DateTime<Utc>>,
        }
    };
}

customer_kind! {
    /// A customer that is a company.
    pub struct CompanyCustomer {
        name: "Company name.",
        /// Registration number (SIREN).
        #[serde(default)]
        pub reg_no: Option<String>,
        /// Intra-community VAT number.
        #[serde(default)]
        pub vat_number: Option<String>,
    }
}

customer_kind! {
    /// A customer that is a person.
    pub struct IndividualCustomer {
        name: "Display name, when the API sends one.",
        /// First name.
        #[serde(default)]
        pub first_name: Option<String>,
        /// Last name.
        #[serde(default)]
        pub last_name: Option<String>,
    }
}

/// A customer of a kind this version does not know: the fields every customer has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownCustomer {
    /// The unknown `customer_type`.
    pub customer_type: String,
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// The customer's account.
    #[serde(default)]
    pub ledger_account: Option<Reference>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A supplier (`GET /suppliers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supplier {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Establishment number (SIRET suffix).
    #[serde(default)]
    pub establishment_no: Option<String>,
    /// Registration number (SIREN).
    #[serde(default)]
    pub reg_no: Option<String>,
    /// VAT number.
    #[serde(default)]
    pub vat_number: Option<String>,
    /// The supplier's account.
    #[serde(default)]
    pub ledger_account: Option<Reference>,
    /// Emails.
    #[serde(default)]
    pub emails: Vec<String>,
    /// IBAN.
    #[serde(default)]
    pub iban: Option<String>,
    /// Days until due.
    #[serde(default)]
    pub supplier_due_date_delay: Option<i64>,
    /// External reference.
    #[serde(default)]
    pub external_reference: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_are_a_tagged_union() {
        let company: Customer = serde_json::from_str(
            r#"{"id":1,"customer_type":"company","name":"ACME","reg_no":"123456789","extra":1}"#,
        )
        .expect("company");
        assert!(
            matches!(&company, Customer::Company(c) if c.reg_no.as_deref() == Some("123456789"))
        );
        let person: Customer = serde_json::from_str(
            r#"{"id":2,"customer_type":"individual","first_name":"Ada","last_name":"Lovelace"}"#,
        )
        .expect("individual");
        assert_eq!(person.display_name(), "Ada Lovelace");
        let other: Customer =
            serde_json::from_str(r#"{"id":3,"customer_type":"association","name":"Club"}"#)
                .expect("unknown kind");
        assert!(matches!(&other, Customer::Other(c) if c.customer_type == "association"));
        assert_eq!(other.id(), 3);
        let bad = serde_json::from_str::<Customer>(
            r#"{"id":4,"customer_type":"company","ledger_account":{"id":"x"}}"#,
        )
        .expect_err("bad id");
        assert!(bad.to_string().contains("ledger_account.id"), "{bad}");
    }
}
