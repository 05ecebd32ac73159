//! Canonical records as tables: one [`Schema`] per record type and conversions into
//! [`Batch`]es, so any [`Sink`](crate::Sink) can write the canonical model.
//!
//! Table names are `canonical_<records>`; every primary key starts with `company_id`.
//!
//! ```
//! use penny_transform::canonical::{Journal, tables::{CanonicalTable, to_batches}};
//!
//! let journals = vec![Journal { company_id: 1, code: "VT".into(), label: "Ventes".into() }];
//! let batches = to_batches(&journals, 10_000)?;
//! assert_eq!(batches[0].table(), "canonical_journals");
//! assert_eq!(Journal::schema().primary_key_names().collect::<Vec<_>>(), ["company_id", "code"]);
//! # Ok::<(), penny_transform::canonical::MappingError>(())
//! ```

use std::sync::{Arc, OnceLock};

use crate::batch::{Batch, BatchBuilder, Row};
use crate::schema::{Column, LogicalType, Schema};

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
    let mut builder = BatchBuilder::upsert(T::schema(), batch_rows);
    let mut out = Vec::new();
    for record in records {
        if let Some(b) = builder.push(record.to_row())? {
            out.push(b);
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

use LogicalType::{Bool, Date, Int64, Json, Text};

impl CanonicalTable for Company {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_companies",
            || {
                vec![
                    req("company_id", Int64),
                    req("name", Text),
                    opt("siren", Text),
                    opt("vat_number", Text),
                ]
            },
            &["company_id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.name.clone().into(),
            self.siren.clone().into(),
            self.vat_number.clone().into(),
        ]
    }
}

impl CanonicalTable for Account {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_accounts",
            || {
                vec![
                    req("company_id", Int64),
                    req("number", Text),
                    req("label", Text),
                ]
            },
            &["company_id", "number"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.number.clone().into(),
            self.label.clone().into(),
        ]
    }
}

impl CanonicalTable for Journal {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_journals",
            || {
                vec![
                    req("company_id", Int64),
                    req("code", Text),
                    req("label", Text),
                ]
            },
            &["company_id", "code"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.code.clone().into(),
            self.label.clone().into(),
        ]
    }
}

impl CanonicalTable for ThirdParty {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_third_parties",
            || {
                vec![
                    req("company_id", Int64),
                    req("kind", Text),
                    req("id", Int64),
                    req("name", Text),
                    opt("registration_number", Text),
                    opt("vat_number", Text),
                    opt("account_number", Text),
                ]
            },
            &["company_id", "kind", "id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.third_party.kind.as_str().into(),
            self.third_party.id.into(),
            self.name.clone().into(),
            self.registration_number.clone().into(),
            self.vat_number.clone().into(),
            self.account_number.clone().into(),
        ]
    }
}

impl CanonicalTable for FiscalYear {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_fiscal_years",
            || {
                vec![
                    req("company_id", Int64),
                    req("start", Date),
                    req("end", Date),
                    opt("status", Text),
                ]
            },
            &["company_id", "start"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.start.into(),
            self.end.into(),
            self.status.clone().into(),
        ]
    }
}

impl CanonicalTable for LedgerLine {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_ledger_lines",
            || {
                vec![
                    req("company_id", Int64),
                    req("entry_id", Int64),
                    req("line_id", Int64),
                    req("date", Date),
                    req("journal_code", Text),
                    req("account_number", Text),
                    req("label", Text),
                    req("debit", MONEY),
                    req("credit", MONEY),
                    opt("third_party_kind", Text),
                    opt("third_party_id", Int64),
                    opt("document_ref", Text),
                    opt("due_date", Date),
                    opt("lettering", Text),
                    opt("categories", Json),
                ]
            },
            &["company_id", "line_id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.entry_id.into(),
            self.line_id.into(),
            self.date.into(),
            (&*self.journal_code).into(),
            (&*self.account_number).into(),
            self.label.clone().into(),
            self.debit.into(),
            self.credit.into(),
            self.third_party.map(|t| t.kind.as_str()).into(),
            self.third_party.map(|t| t.id).into(),
            self.document_ref.clone().into(),
            self.due_date.into(),
            self.lettering.clone().into(),
            self.categories.clone().into(),
        ]
    }
}

impl CanonicalTable for Invoice {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_invoices",
            || {
                vec![
                    req("company_id", Int64),
                    req("kind", Text),
                    req("id", Int64),
                    opt("number", Text),
                    opt("label", Text),
                    opt("third_party_id", Int64),
                    req("date", Date),
                    opt("due_date", Date),
                    opt("currency", Text),
                    req("amount_ht", MONEY),
                    req("vat", MONEY),
                    req("amount_ttc", MONEY),
                    opt("paid", Bool),
                    req("remaining", MONEY),
                    opt("status", Text),
                    opt("entry_id", Int64),
                ]
            },
            &["company_id", "kind", "id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.kind.as_str().into(),
            self.id.into(),
            self.number.clone().into(),
            self.label.clone().into(),
            self.third_party_id.into(),
            self.date.into(),
            self.due_date.into(),
            self.currency.clone().into(),
            self.amount_ht.into(),
            self.vat.into(),
            self.amount_ttc.into(),
            self.paid.into(),
            self.remaining.into(),
            self.status.clone().into(),
            self.entry_id.into(),
        ]
    }
}

impl CanonicalTable for InvoiceLine {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_invoice_lines",
            || {
                vec![
                    req("company_id", Int64),
                    req("kind", Text),
                    req("invoice_id", Int64),
                    req("id", Int64),
                    opt("label", Text),
                    opt("quantity", LogicalType::Decimal { scale: 6 }),
                    req("amount_ht", MONEY),
                    req("vat", MONEY),
                    req("amount_ttc", MONEY),
                    opt("vat_rate", Text),
                    opt("account_number", Text),
                ]
            },
            &["company_id", "kind", "id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.kind.as_str().into(),
            self.invoice_id.into(),
            self.id.into(),
            self.label.clone().into(),
            self.quantity.into(),
            self.amount_ht.into(),
            self.vat.into(),
            self.amount_ttc.into(),
            self.vat_rate.clone().into(),
            self.account_number.clone().into(),
        ]
    }
}

impl CanonicalTable for InvoicePayment {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_invoice_payments",
            || {
                vec![
                    req("company_id", Int64),
                    req("kind", Text),
                    req("invoice_id", Int64),
                    req("id", Int64),
                    req("date", Date),
                    req("amount", MONEY),
                ]
            },
            &["company_id", "kind", "id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.kind.as_str().into(),
            self.invoice_id.into(),
            self.id.into(),
            self.date.into(),
            self.amount.into(),
        ]
    }
}

impl CanonicalTable for BankTransaction {
    fn schema() -> Arc<Schema> {
        static S: OnceLock<Arc<Schema>> = OnceLock::new();
        fixed_schema(
            &S,
            "canonical_bank_transactions",
            || {
                vec![
                    req("company_id", Int64),
                    req("id", Int64),
                    req("date", Date),
                    opt("label", Text),
                    req("amount", MONEY),
                    opt("currency", Text),
                    opt("bank_account_id", Int64),
                ]
            },
            &["company_id", "id"],
        )
    }
    fn to_row(&self) -> Row {
        vec![
            self.company_id.into(),
            self.id.into(),
            self.date.into(),
            self.label.clone().into(),
            self.amount.into(),
            self.currency.clone().into(),
            self.bank_account_id.into(),
        ]
    }
}

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
