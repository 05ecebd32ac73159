//! Customer and supplier invoices, their lines and payments.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Reference, open_enum};

open_enum! {
    /// The state of a customer invoice (an open set).
    pub enum CustomerInvoiceStatus {
        /// Not finalised.
        Draft => "draft",
        /// Due later.
        Upcoming => "upcoming",
        /// Past its deadline.
        Late => "late",
        /// Paid.
        Paid => "paid",
        /// Partially paid.
        PartiallyPaid => "partially_paid",
        /// Cancelled.
        Cancelled => "cancelled",
        /// A credit note.
        CreditNote => "credit_note",
        /// Partially cancelled.
        PartiallyCancelled => "partially_cancelled",
        /// Archived.
        Archived => "archived",
        /// Incomplete.
        Incomplete => "incomplete",
        /// Proforma.
        Proforma => "proforma",
        /// Shipped.
        Shipped => "shipped",
    }
}

/// Declares an invoice struct: the fields customer and supplier invoices share (`id`
/// to `paid`, with `$number` as the doc of `invoice_number`), then the kind's own fields,
/// then `created_at` and `updated_at`. The fields stay plain public fields in this order,
/// so decoding, errors and field access are those of a struct written out.
macro_rules! invoice {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            number: $number:literal,
            $($own:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// Id.
            pub id: i64,
            /// Label.
            #[serde(default)]
            pub label: Option<String>,
            #[doc = $number]
            #[serde(default)]
            pub invoice_number: Option<String>,
            /// Currency code.
            #[serde(default)]
            pub currency: Option<String>,
            /// Total with tax, in euros.
            pub amount: Decimal,
            /// Total with tax, in the invoice's currency.
            #[serde(default)]
            pub currency_amount: Option<Decimal>,
            /// Total before tax, in the invoice's currency.
            #[serde(default)]
            pub currency_amount_before_tax: Option<Decimal>,
            /// Exchange rate.
            #[serde(default)]
            pub exchange_rate: Option<Decimal>,
            /// Tax in the invoice's currency.
            #[serde(default)]
            pub currency_tax: Option<Decimal>,
            /// Tax in euros.
            #[serde(default)]
            pub tax: Option<Decimal>,
            /// Invoice date.
            pub date: NaiveDate,
            /// Due date.
            #[serde(default)]
            pub deadline: Option<NaiveDate>,
            /// Whether it is paid.
            #[serde(default)]
            pub paid: Option<bool>,
            $($own)*
            /// Creation time.
            #[serde(default)]
            pub created_at: Option<DateTime<Utc>>,
            /// Last change.
            #[serde(default)]
            pub updated_at: Option<DateTime<Utc>>,
        }
    };
}

invoice! {
    /// A customer invoice or credit note (`GET /customer_invoices`). Credit notes have
    /// negative amounts and a `credited_invoice`.
    pub struct CustomerInvoice {
        number: "Number (empty on drafts).",
        /// State.
        #[serde(default)]
        pub status: Option<CustomerInvoiceStatus>,
        /// Whether it is a draft.
        #[serde(default)]
        pub draft: Option<bool>,
        /// Remaining amount with tax.
        #[serde(default)]
        pub remaining_amount_with_tax: Option<Decimal>,
        /// Remaining amount without tax.
        #[serde(default)]
        pub remaining_amount_without_tax: Option<Decimal>,
        /// The customer.
        #[serde(default)]
        pub customer: Option<Reference>,
        /// Its journal entry (none on drafts).
        #[serde(default)]
        pub ledger_entry: Option<Reference>,
        /// The invoice a credit note cancels.
        #[serde(default)]
        pub credited_invoice: Option<Reference>,
    }
}

invoice! {
    /// A supplier invoice (`GET /supplier_invoices`).
    pub struct SupplierInvoice {
        number: "Number.",
        /// Payment state (open set, kept as text).
        #[serde(default)]
        pub payment_status: Option<String>,
        /// Accounting state (draft, archived, entry, validation_needed, complete...).
        #[serde(default)]
        pub accounting_status: Option<String>,
        /// Remaining amount with tax.
        #[serde(default)]
        pub remaining_amount_with_tax: Option<Decimal>,
        /// The supplier.
        #[serde(default)]
        pub supplier: Option<Reference>,
        /// Its journal entry.
        #[serde(default)]
        pub ledger_entry: Option<Reference>,
    }
}

/// A line of a customer or supplier invoice (`GET /customer_invoices/{id}/invoice_lines`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<Decimal>,
    /// Total with tax, in euros.
    #[serde(default)]
    pub amount: Option<Decimal>,
    /// Total with tax, in the invoice's currency.
    #[serde(default)]
    pub currency_amount: Option<Decimal>,
    /// Total before tax, in the invoice's currency.
    #[serde(default)]
    pub currency_amount_before_tax: Option<Decimal>,
    /// Tax in the invoice's currency.
    #[serde(default)]
    pub currency_tax: Option<Decimal>,
    /// Tax in euros.
    #[serde(default)]
    pub tax: Option<Decimal>,
    /// Unit price before tax, in the invoice's currency.
    #[serde(default)]
    pub raw_currency_unit_price: Option<Decimal>,
    /// VAT rate code.
    #[serde(default)]
    pub vat_rate: Option<String>,
    /// The product.
    #[serde(default)]
    pub product: Option<Reference>,
    /// The account the line is booked to.
    #[serde(default)]
    pub ledger_account: Option<Reference>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A payment recorded on an invoice (not a matched bank transaction: never add both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoicePayment {
    /// Id.
    pub id: i64,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Amount in that currency.
    #[serde(default)]
    pub currency_amount: Option<Decimal>,
    /// State (open set, kept as text).
    #[serde(default)]
    pub status: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
