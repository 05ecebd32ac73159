//! Canonical records as tables: one [`Schema`] per record type and conversions into
//! [`Batch`]es, so any [`Sink`](crate::Sink) can write the canonical model.
//!
//! Table names are `canonical_<records>`; every primary key starts with `company_id`.
//!
//! ```
//! use penny_transform::canonical::{Journal, tables::{CanonicalTable, to_batches}};
//!
//! let journals = vec![Journal { company_id: 1, code: "VT".into(), label: "Ventes".into(), opening: false }];
//! let batches = to_batches(&journals, 10_000)?;
//! assert_eq!(batches[0].table(), "canonical_journals");
//! assert_eq!(Journal::schema().primary_key_names().collect::<Vec<_>>(), ["company_id", "code"]);
//! # Ok::<(), penny_transform::canonical::MappingError>(())
//! ```

use std::sync::{Arc, OnceLock};

use crate::batch::{Batch, BatchBuilder, BatchError, Row};
use crate::schema::{Column, LogicalType, Schema};
use crate::value::Value;

use super::{
    Account, BankTransaction, Company, FiscalYear, Invoice, InvoiceLine, InvoicePayment, Journal,
    LedgerLine, MappingError, ThirdParty,
};

/// A canonical record type with a table shape.
pub trait CanonicalTable {
    /// The table's schema (name, columns, primary key).
    fn schema() -> Arc<Schema>;
    /// The record as a row of [`schema`](Self::schema).
    fn to_row(&self) -> Row;
}

/// The records as validated batches of at most `batch_rows` rows.
pub fn to_batches<'a, T: CanonicalTable + 'a>(
    records: impl IntoIterator<Item = &'a T>,
    batch_rows: usize,
) -> Result<Vec<Batch>, MappingError> {
    let rows = records.into_iter().map(T::to_row);
    Ok(build(T::schema(), rows, batch_rows)?)
}

/// The rows as validated upsert batches of `schema`, of at most `batch_rows` rows.
pub(crate) fn build(
    schema: Arc<Schema>,
    rows: impl Iterator<Item = Row>,
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let mut builder = BatchBuilder::upsert(schema, batch_rows);
    let mut out = Vec::new();
    for row in rows {
        if let Some(batch) = builder.push(row)? {
            out.push(batch);
        }
    }
    out.extend(builder.finish()?);
    Ok(out)
}

pub(crate) const MONEY: LogicalType = LogicalType::Decimal { scale: 2 };

pub(crate) fn req(name: &str, t: LogicalType) -> Column {
    Column::required(name, t)
}

pub(crate) fn opt(name: &str, t: LogicalType) -> Column {
    Column::nullable(name, t)
}

/// Builds a schema known to be valid (a fixed table of this crate).
pub(crate) fn fixed_schema(
    cell: &'static OnceLock<Arc<Schema>>,
    name: &str,
    columns: impl FnOnce() -> Vec<Column>,
    key: &[&str],
) -> Arc<Schema> {
    cell.get_or_init(|| {
        Arc::new(Schema::new(name, columns(), key).expect("the crate's fixed schemas are valid"))
    })
    .clone()
}

/// Declares a fixed table from one list of columns, each with the value it takes from a
/// record: `fn <schema>() -> Arc<Schema>` (built once) and `fn <row>(&T) -> Row`, so a
/// column and its value cannot drift apart. Optional `let`s before the list are evaluated
/// once per row (a shared key part, a lookup).
///
/// ```text
/// fixed_table! {
///     /// The schema of `dim_journal`.
///     pub fn dim_journal_schema, fn journal_row(j: &Journal) = "dim_journal", ["company_id", "journal_code"];
///     let c = j.company_id;
///     req("company_id", Int64) => c,
///     req("journal_code", Text) => j.code.clone(),
/// }
/// ```
macro_rules! fixed_table {
    (
        $(#[$meta:meta])*
        $vis:vis fn $schema:ident, fn $row:ident($r:ident: $T:ty) = $name:literal, [$($key:literal),* $(,)?];
        $(let $p:pat = $e:expr;)*
        $($column:expr => $value:expr),* $(,)?
    ) => {
        $(#[$meta])*
        $vis fn $schema() -> ::std::sync::Arc<$crate::schema::Schema> {
            static S: ::std::sync::OnceLock<::std::sync::Arc<$crate::schema::Schema>> =
                ::std::sync::OnceLock::new();
            $crate::canonical::tables::fixed_schema(&S, $name, || vec![$($column),*], &[$($key),*])
        }

        #[doc = concat!("One row of `", $name, "`.")]
        fn $row($r: $T) -> $crate::batch::Row {
            $(let $p = $e;)*
            vec![$($crate::value::Value::from($value)),*]
        }
    };
}
pub(crate) use fixed_table;

/// Implements [`CanonicalTable`] for a record type from one list of columns, each with
/// the value it takes from the record (`|r|` names the record), as [`fixed_table!`] does.
macro_rules! canonical_table {
    ($T:ident = $name:literal, [$($key:literal),* $(,)?]; |$r:ident| $($column:expr => $value:expr),* $(,)?) => {
        impl CanonicalTable for $T {
            fn schema() -> Arc<Schema> {
                static S: OnceLock<Arc<Schema>> = OnceLock::new();
                fixed_schema(&S, $name, || vec![$($column),*], &[$($key),*])
            }
            fn to_row(&self) -> Row {
                let $r = self;
                vec![$(Value::from($value)),*]
            }
        }
    };
}

use LogicalType::{Bool, Date, Int64, Json, Text};

/// Quantities: scale 6.
pub(crate) const QUANTITY: LogicalType = LogicalType::Decimal { scale: 6 };

canonical_table!(Company = "canonical_companies", ["company_id"]; |c|
    req("company_id", Int64) => c.company_id,
    req("name", Text) => c.name.clone(),
    opt("siren", Text) => c.siren.clone(),
    opt("vat_number", Text) => c.vat_number.clone(),
);

canonical_table!(Account = "canonical_accounts", ["company_id", "number"]; |a|
    req("company_id", Int64) => a.company_id,
    req("number", Text) => a.number.clone(),
    req("label", Text) => a.label.clone(),
);

canonical_table!(Journal = "canonical_journals", ["company_id", "code"]; |j|
    req("company_id", Int64) => j.company_id,
    req("code", Text) => j.code.clone(),
    req("label", Text) => j.label.clone(),
    req("opening", Bool) => j.opening,
);

canonical_table!(ThirdParty = "canonical_third_parties", ["company_id", "kind", "id"]; |t|
    req("company_id", Int64) => t.company_id,
    req("kind", Text) => t.third_party.kind.as_str(),
    req("id", Int64) => t.third_party.id,
    req("name", Text) => t.name.clone(),
    opt("registration_number", Text) => t.registration_number.clone(),
    opt("vat_number", Text) => t.vat_number.clone(),
    opt("account_number", Text) => t.account_number.clone(),
);

canonical_table!(FiscalYear = "canonical_fiscal_years", ["company_id", "start"]; |f|
    req("company_id", Int64) => f.company_id,
    req("start", Date) => f.start,
    req("end", Date) => f.end,
    opt("status", Text) => f.status.clone(),
);

canonical_table!(LedgerLine = "canonical_ledger_lines", ["company_id", "line_id"]; |l|
    req("company_id", Int64) => l.company_id,
    req("entry_id", Int64) => l.entry_id,
    req("line_id", Int64) => l.line_id,
    req("date", Date) => l.date,
    req("journal_code", Text) => &*l.journal_code,
    req("account_number", Text) => &*l.account_number,
    req("label", Text) => l.label.clone(),
    req("debit", MONEY) => l.debit,
    req("credit", MONEY) => l.credit,
    opt("third_party_kind", Text) => l.third_party.map(|t| t.kind.as_str()),
    opt("third_party_id", Int64) => l.third_party.map(|t| t.id),
    opt("document_ref", Text) => l.document_ref.clone(),
    opt("due_date", Date) => l.due_date,
    opt("lettering", Text) => l.lettering.clone(),
    opt("categories", Json) => l.categories.clone(),
);

canonical_table!(Invoice = "canonical_invoices", ["company_id", "kind", "id"]; |i|
    req("company_id", Int64) => i.company_id,
    req("kind", Text) => i.kind.as_str(),
    req("id", Int64) => i.id,
    opt("number", Text) => i.number.clone(),
    opt("label", Text) => i.label.clone(),
    opt("third_party_id", Int64) => i.third_party_id,
    req("date", Date) => i.date,
    opt("due_date", Date) => i.due_date,
    opt("currency", Text) => i.currency.clone(),
    req("amount_ht", MONEY) => i.amount_ht,
    req("vat", MONEY) => i.vat,
    req("amount_ttc", MONEY) => i.amount_ttc,
    opt("paid", Bool) => i.paid,
    req("remaining", MONEY) => i.remaining,
    opt("status", Text) => i.status.clone(),
    opt("entry_id", Int64) => i.entry_id,
    req("document_kind", Text) => i.document.as_str(),
    opt("credited_invoice_id", Int64) => i.credited_invoice_id,
);

canonical_table!(InvoiceLine = "canonical_invoice_lines", ["company_id", "kind", "id"]; |l|
    req("company_id", Int64) => l.company_id,
    req("kind", Text) => l.kind.as_str(),
    req("invoice_id", Int64) => l.invoice_id,
    req("id", Int64) => l.id,
    opt("label", Text) => l.label.clone(),
    opt("quantity", QUANTITY) => l.quantity,
    req("amount_ht", MONEY) => l.amount_ht,
    req("vat", MONEY) => l.vat,
    req("amount_ttc", MONEY) => l.amount_ttc,
    opt("vat_rate", Text) => l.vat_rate.clone(),
    opt("account_number", Text) => l.account_number.clone(),
);

canonical_table!(InvoicePayment = "canonical_invoice_payments", ["company_id", "kind", "id"]; |p|
    req("company_id", Int64) => p.company_id,
    req("kind", Text) => p.kind.as_str(),
    req("invoice_id", Int64) => p.invoice_id,
    req("id", Int64) => p.id,
    req("date", Date) => p.date,
    req("amount", MONEY) => p.amount,
);

canonical_table!(BankTransaction = "canonical_bank_transactions", ["company_id", "id"]; |t|
    req("company_id", Int64) => t.company_id,
    req("id", Int64) => t.id,
    req("date", Date) => t.date,
    opt("label", Text) => t.label.clone(),
    req("amount", MONEY) => t.amount,
    opt("currency", Text) => t.currency.clone(),
    opt("bank_account_id", Int64) => t.bank_account_id,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{ThirdPartyKind, ThirdPartyRef};
    use crate::value::Value;
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    #[test]
    fn every_table_builds_and_validates() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
        let line = LedgerLine {
            company_id: 1,
            entry_id: 2,
            line_id: 3,
            date,
            journal_code: "VT".into(),
            account_number: "411DUPONT".into(),
            label: "Facture".into(),
            debit: Decimal::new(12000, 2),
            credit: Decimal::new(0, 2),
            third_party: Some(ThirdPartyRef {
                kind: ThirdPartyKind::Customer,
                id: 9,
            }),
            document_ref: Some("F-1".into()),
            due_date: None,
            lettering: Some("AA".into()),
            categories: None,
        };
        let batches = to_batches(std::slice::from_ref(&line), 10).expect("valid");
        assert_eq!(batches[0].rows()[0][9], Value::Text("customer".into()));
        for schema in [
            Company::schema(),
            Account::schema(),
            Journal::schema(),
            ThirdParty::schema(),
            FiscalYear::schema(),
            Invoice::schema(),
            InvoiceLine::schema(),
            InvoicePayment::schema(),
            BankTransaction::schema(),
        ] {
            assert_eq!(schema.primary_key_names().next(), Some("company_id"));
        }
    }
}
