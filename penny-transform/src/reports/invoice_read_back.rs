//! The invoices, invoice lines and payments of the previous run read back from their
//! canonical tables ([`read_back`], of the columns [`digest_canonical_columns`] names),
//! as the invoices' digest takes its old versions
//! ([`InvoiceDigest::change`](super::invoice_digest::InvoiceDigest::change)).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::incremental::{StaleSums, unknown_value};
use crate::batch::Batch;
use crate::canonical::read::{Col, Reader};
use crate::canonical::{
    Books, Invoice, InvoiceDocument, InvoiceLine, InvoicePayment, ThirdPartyKind,
};

/// The columns of `canonical_invoices`, `canonical_invoice_lines` and
/// `canonical_invoice_payments` (with their keys) the invoices' digest reads back from
/// the previous run ([`read_back`]); none for another table.
pub fn digest_canonical_columns(table: &str) -> &'static [&'static str] {
    match table {
        "canonical_invoices" => &[
            "third_party_id",
            "date",
            "due_date",
            "amount_ttc",
            "document_kind",
            "credited_invoice_id",
        ],
        "canonical_invoice_lines" => &["invoice_id", "amount_ht", "vat", "amount_ttc", "vat_rate"],
        "canonical_invoice_payments" => &["invoice_id", "date", "amount"],
        _ => &[],
    }
}

/// Invoices, invoice lines and payments read back from their canonical tables (the
/// columns of [`digest_canonical_columns`] and the keys, read by column name; the
/// fields not read are empty), as
/// [`InvoiceDigest::change`](super::invoice_digest::InvoiceDigest::change) takes them.
pub fn read_back(batches: &[Batch]) -> Result<Books, StaleSums> {
    let mut books = Books::default();
    for batch in batches {
        let r = Reader::new(batch)?;
        let keys = Keys {
            company: r.col("company_id")?,
            kind: r.col("kind")?,
            id: r.col("id")?,
        };
        match r.table {
            "canonical_invoices" => {
                let (third_party, date, due, ttc, document, credited) = (
                    r.col("third_party_id")?,
                    r.col("date")?,
                    r.col("due_date")?,
                    r.col("amount_ttc")?,
                    r.col("document_kind")?,
                    r.col("credited_invoice_id")?,
                );
                for row in 0..r.len() {
                    let (company_id, kind, id) = keys.read(&r, row)?;
                    let text = r.cell(row, document).str()?;
                    let Some(document) = InvoiceDocument::parse(&text) else {
                        return Err(unknown_value(
                            &r,
                            row,
                            document,
                            &text,
                            "a kind of document",
                        ));
                    };
                    books.invoices.push(Invoice {
                        company_id,
                        kind,
                        id,
                        third_party_id: r.cell(row, third_party).opt_i64()?,
                        date: r.cell(row, date).date()?,
                        due_date: r.cell(row, due).opt_date()?,
                        amount_ttc: r.cell(row, ttc).money()?,
                        document,
                        credited_invoice_id: r.cell(row, credited).opt_i64()?,
                        ..empty_invoice()
                    });
                }
            }
            "canonical_invoice_lines" => {
                let (invoice, ht, vat, ttc, rate) = (
                    r.col("invoice_id")?,
                    r.col("amount_ht")?,
                    r.col("vat")?,
                    r.col("amount_ttc")?,
                    r.col("vat_rate")?,
                );
                for row in 0..r.len() {
                    let (company_id, kind, id) = keys.read(&r, row)?;
                    books.invoice_lines.push(InvoiceLine {
                        company_id,
                        kind,
                        invoice_id: r.cell(row, invoice).i64()?,
                        id,
                        label: None,
                        quantity: None,
                        amount_ht: r.cell(row, ht).money()?,
                        vat: r.cell(row, vat).money()?,
                        amount_ttc: r.cell(row, ttc).money()?,
                        vat_rate: r.cell(row, rate).opt_text()?,
                        account_number: None,
                    });
                }
            }
            "canonical_invoice_payments" => {
                let (invoice, date, amount) =
                    (r.col("invoice_id")?, r.col("date")?, r.col("amount")?);
                for row in 0..r.len() {
                    let (company_id, kind, id) = keys.read(&r, row)?;
                    books.payments.push(InvoicePayment {
                        company_id,
                        kind,
                        invoice_id: r.cell(row, invoice).i64()?,
                        id,
                        date: r.cell(row, date).date()?,
                        amount: r.cell(row, amount).money()?,
                    });
                }
            }
            other => {
                return Err(StaleSums::UnexpectedTable {
                    table: other.to_owned(),
                    expected: "an invoice table of the canonical model",
                });
            }
        }
    }
    Ok(books)
}

/// The key columns of the canonical invoice tables.
struct Keys {
    company: Col,
    kind: Col,
    id: Col,
}

impl Keys {
    /// The company, kind and id of `row`.
    fn read(&self, r: &Reader<'_>, row: usize) -> Result<(i64, ThirdPartyKind, i64), StaleSums> {
        Ok((
            r.cell(row, self.company).i64()?,
            third_party_kind(r, row, self.kind)?,
            r.cell(row, self.id).i64()?,
        ))
    }
}

/// The kind of third party (`customer`, `supplier`) in `r`'s column `col` at `row`.
pub(crate) fn third_party_kind(
    r: &Reader<'_>,
    row: usize,
    col: Col,
) -> Result<ThirdPartyKind, StaleSums> {
    let kind = r.cell(row, col).str()?;
    ThirdPartyKind::parse(&kind)
        .ok_or_else(|| unknown_value(r, row, col, &kind, "a kind of third party"))
}

/// An invoice with every field empty (what is read back, or what a report reads, is
/// filled in).
pub(crate) fn empty_invoice() -> Invoice {
    Invoice {
        company_id: 0,
        kind: ThirdPartyKind::Customer,
        id: 0,
        number: None,
        label: None,
        third_party_id: None,
        date: NaiveDate::MIN,
        due_date: None,
        currency: None,
        amount_ht: Decimal::ZERO,
        vat: Decimal::ZERO,
        amount_ttc: Decimal::ZERO,
        paid: None,
        remaining: Decimal::ZERO,
        status: None,
        entry_id: None,
        document: InvoiceDocument::Invoice,
        credited_invoice_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::tables::{CanonicalTable, to_batches};
    use crate::canonical::{MappingError, ThirdParty, ThirdPartyRef};
    use crate::value::Value;

    #[test]
    fn the_columns_the_digest_reads_come_back_as_they_were_written() {
        let books = crate::testing::books_with_every_document();
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&books.invoices, 4).expect("valid invoices"));
        canonical.extend(to_batches(&books.invoice_lines, 4).expect("valid lines"));
        canonical.extend(to_batches(&books.payments, 4).expect("valid payments"));
        let read = read_back(&canonical).expect("readable rows");
        assert_eq!(read.payments, books.payments);
        let read_fields = |i: &Invoice| Invoice {
            company_id: i.company_id,
            kind: i.kind,
            id: i.id,
            third_party_id: i.third_party_id,
            date: i.date,
            due_date: i.due_date,
            amount_ttc: i.amount_ttc,
            document: i.document,
            credited_invoice_id: i.credited_invoice_id,
            ..empty_invoice()
        };
        assert_eq!(
            read.invoices,
            books.invoices.iter().map(read_fields).collect::<Vec<_>>()
        );
        assert_eq!(
            read.invoice_lines,
            books
                .invoice_lines
                .iter()
                .map(|l| InvoiceLine {
                    label: None,
                    quantity: None,
                    account_number: None,
                    ..l.clone()
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn rows_penny_does_not_write_are_refused_with_their_column() {
        let books = crate::testing::books_with_every_document();
        let invoices = to_batches(&books.invoices, 100).expect("valid invoices");
        // A document kind none of the known ones.
        let schema = Invoice::schema();
        let document = schema.column_index("document_kind").expect("a column");
        let mut rows = invoices[0].rows().to_vec();
        rows[0][document] = Value::Text("estimate".into());
        let stale = read_back(&[Batch::upsert(schema, rows).expect("valid rows")])
            .expect_err("unknown document kind");
        assert!(
            matches!(
                &stale,
                StaleSums::UnknownValue {
                    column: "document_kind",
                    row: 0,
                    ..
                }
            ),
            "{stale}"
        );
        // A column the digest reads, not read back.
        let lines = to_batches(&books.invoice_lines, 100).expect("valid lines");
        let schema = lines[0].schema();
        let kept: Vec<usize> = (0..schema.columns().len())
            .filter(|&i| schema.columns()[i].name != "vat")
            .collect();
        let narrow = std::sync::Arc::new(
            crate::Schema::new(
                schema.name(),
                kept.iter().map(|&i| schema.columns()[i].clone()).collect(),
                schema.primary_key_names().collect::<Vec<_>>(),
            )
            .expect("a valid schema"),
        );
        let rows = lines[0]
            .rows()
            .iter()
            .map(|r| kept.iter().map(|&i| r[i].clone()).collect())
            .collect();
        let stale =
            read_back(&[Batch::upsert(narrow, rows).expect("valid rows")]).expect_err("no vat");
        assert!(
            matches!(
                &stale,
                StaleSums::Unreadable(MappingError::MissingColumn { column: "vat", .. })
            ),
            "{stale}"
        );
        // Another table keyed alike.
        let third_parties = to_batches(
            &[ThirdParty {
                company_id: 1,
                third_party: ThirdPartyRef {
                    kind: ThirdPartyKind::Customer,
                    id: 1,
                },
                name: "Dupont".into(),
                registration_number: None,
                vat_number: None,
                account_number: None,
            }],
            10,
        )
        .expect("a valid third party");
        let stale = read_back(&third_parties).expect_err("not an invoice table");
        assert!(
            matches!(&stale, StaleSums::UnexpectedTable { table, .. } if table == "canonical_third_parties"),
            "{stale}"
        );
    }
}
