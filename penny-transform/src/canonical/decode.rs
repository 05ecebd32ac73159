//! The decoders both doors share: one per canonical record type, reading the raw columns
//! a door names in that record's column map.
//!
//! A door declares, for each canonical field, where its raw table holds it ([`Raw`]);
//! the decoder resolves the columns in field order (so the first missing required column
//! is the one reported) and reads every row the same way whichever door it came through.

use rust_decimal::Decimal;

use super::read::{Cell, Col, MappingError, Reader};
use super::{
    BankTransaction, Books, Company, FiscalYear, Invoice, InvoiceDocument, ThirdParty,
    ThirdPartyKind, ThirdPartyRef,
};
use crate::batch::Batch;

/// Where a raw table holds one canonical field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw {
    /// A column the table must have.
    Required(&'static str),
    /// A column that may be absent (its values read as nulls).
    Optional(&'static str),
    /// The first of several names the table has (renamed columns), or absent.
    AnyOf(&'static [&'static str]),
    /// A field this door does not read from the table: always null.
    Absent,
}

impl Raw {
    /// The column in `r`'s table.
    pub(crate) fn resolve(self, r: &Reader<'_>) -> Result<Col, MappingError> {
        Ok(match self {
            Raw::Required(name) => r.col(name)?,
            Raw::Optional(name) => r.opt(name),
            Raw::AnyOf(names) => r.opt_any(names),
            Raw::Absent => r.opt_any(&[]),
        })
    }
}

/// The tables both doors map alike: their column maps, and the door's name for the bank
/// transactions table.
pub(crate) struct CommonTables {
    pub(crate) fiscal_years: FiscalYearColumns,
    /// `customer_invoices` and `supplier_invoices`.
    pub(crate) invoices: InvoiceColumns,
    pub(crate) bank_transactions_table: &'static str,
}

impl CommonTables {
    /// Maps `batch` into `books` when `table` (its name, as the door normalizes it) is one
    /// of these tables; `Ok(false)` when it is not.
    pub(crate) fn add(
        &self,
        table: &str,
        batch: &Batch,
        books: &mut Books,
    ) -> Result<bool, MappingError> {
        use ThirdPartyKind::{Customer, Supplier};
        match table {
            "companies" => companies(batch, &mut books.companies)?,
            "fiscal_years" => fiscal_years(batch, &self.fiscal_years, &mut books.fiscal_years)?,
            "customer_invoices" => invoices(batch, Customer, &self.invoices, &mut books.invoices)?,
            "supplier_invoices" => invoices(batch, Supplier, &self.invoices, &mut books.invoices)?,
            t if t == self.bank_transactions_table => {
                bank_transactions(batch, &mut books.bank_transactions)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The companies table: `id`, `name`, the SIREN (`registration_number` or `siren` in
/// Data Sharing, `reg_no` from the API's `GET /me`) and `vat_number`, all but `id` optional.
fn companies(batch: &Batch, out: &mut Vec<Company>) -> Result<(), MappingError> {
    let r = Reader::new(batch)?;
    let id = Raw::Required("id").resolve(&r)?;
    let name = Raw::Optional("name").resolve(&r)?;
    let siren = Raw::AnyOf(&["registration_number", "siren", "reg_no"]).resolve(&r)?;
    let vat = Raw::Optional("vat_number").resolve(&r)?;
    for row in 0..r.len() {
        out.push(Company {
            company_id: r.cell(row, id).i64()?,
            name: r.cell(row, name).opt_text()?.unwrap_or_default(),
            siren: r.cell(row, siren).opt_text()?,
            vat_number: r.cell(row, vat).opt_text()?,
        });
    }
    Ok(())
}

/// Amounts before tax, VAT and with tax: with tax is required, VAT null is zero, and a
/// null amount before tax is the amount with tax less VAT.
pub(crate) fn amounts(
    before_tax: Cell<'_>,
    vat: Cell<'_>,
    with_tax: Cell<'_>,
) -> Result<(Decimal, Decimal, Decimal), MappingError> {
    let amount_ttc = with_tax.money()?;
    let vat = vat.money_or_zero()?;
    let amount_ht = match before_tax.opt_decimal(super::MONEY_SCALE)? {
        Some(ht) => ht,
        None => amount_ttc - vat,
    };
    Ok((amount_ht, vat, amount_ttc))
}

/// The raw columns of [`FiscalYear`]'s fields.
pub(crate) struct FiscalYearColumns {
    pub(crate) company_id: Raw,
    pub(crate) start: Raw,
    pub(crate) end: Raw,
    pub(crate) status: Raw,
}

impl FiscalYearColumns {
    /// The names both doors use; a door fills in the others with struct update syntax.
    pub(crate) const COMMON: Self = FiscalYearColumns {
        company_id: Raw::Required("company_id"),
        start: Raw::Absent,
        end: Raw::Absent,
        status: Raw::Optional("status"),
    };
}

/// Appends the batch's fiscal years to `out`.
fn fiscal_years(
    batch: &Batch,
    cols: &FiscalYearColumns,
    out: &mut Vec<FiscalYear>,
) -> Result<(), MappingError> {
    let r = Reader::new(batch)?;
    let (company, start, end, status) = (
        cols.company_id.resolve(&r)?,
        cols.start.resolve(&r)?,
        cols.end.resolve(&r)?,
        cols.status.resolve(&r)?,
    );
    for row in 0..r.len() {
        out.push(FiscalYear {
            company_id: r.cell(row, company).i64()?,
            start: r.cell(row, start).date()?,
            end: r.cell(row, end).date()?,
            status: r.cell(row, status).opt_text()?,
        });
    }
    Ok(())
}

/// The raw columns of [`ThirdParty`]'s fields.
pub(crate) struct ThirdPartyColumns {
    pub(crate) company_id: Raw,
    pub(crate) id: Raw,
    /// The name; when null or empty, `first_name` and `last_name` joined.
    pub(crate) name: Raw,
    pub(crate) first_name: Raw,
    pub(crate) last_name: Raw,
    pub(crate) registration_number: Raw,
    pub(crate) vat_number: Raw,
    /// The auxiliary account number, as text.
    pub(crate) account_number: Raw,
    /// The auxiliary account's id, handed to the door to resolve.
    pub(crate) account_id: Raw,
}

impl ThirdPartyColumns {
    /// The names both doors use; a door fills in the others with struct update syntax.
    pub(crate) const COMMON: Self = ThirdPartyColumns {
        company_id: Raw::Required("company_id"),
        id: Raw::Required("id"),
        name: Raw::Optional("name"),
        first_name: Raw::Absent,
        last_name: Raw::Absent,
        registration_number: Raw::Absent,
        vat_number: Raw::Optional("vat_number"),
        account_number: Raw::Absent,
        account_id: Raw::Absent,
    };
}

/// Decodes the batch's customers or suppliers, handing each (with its account id, when
/// the door reads one) to `push`.
pub(crate) fn third_parties(
    batch: &Batch,
    kind: ThirdPartyKind,
    cols: &ThirdPartyColumns,
    mut push: impl FnMut(ThirdParty, Option<i64>),
) -> Result<(), MappingError> {
    let r = Reader::new(batch)?;
    let (company, id, name, first, last, reg, vat, account_number, account_id) = (
        cols.company_id.resolve(&r)?,
        cols.id.resolve(&r)?,
        cols.name.resolve(&r)?,
        cols.first_name.resolve(&r)?,
        cols.last_name.resolve(&r)?,
        cols.registration_number.resolve(&r)?,
        cols.vat_number.resolve(&r)?,
        cols.account_number.resolve(&r)?,
        cols.account_id.resolve(&r)?,
    );
    for row in 0..r.len() {
        let company_id = r.cell(row, company).i64()?;
        let third_party = ThirdPartyRef {
            kind,
            id: r.cell(row, id).i64()?,
        };
        let name = match r.cell(row, name).opt_text()? {
            Some(n) if !n.is_empty() => n,
            _ => {
                let parts = [
                    r.cell(row, first).opt_text()?,
                    r.cell(row, last).opt_text()?,
                ];
                parts.into_iter().flatten().collect::<Vec<_>>().join(" ")
            }
        };
        let account_id = r.cell(row, account_id).opt_i64()?;
        let third = ThirdParty {
            company_id,
            third_party,
            name,
            registration_number: r.cell(row, reg).opt_text()?,
            vat_number: r.cell(row, vat).opt_text()?,
            account_number: r.cell(row, account_number).opt_text()?,
        };
        push(third, account_id);
    }
    Ok(())
}

/// The raw columns of [`Invoice`]'s fields.
pub(crate) struct InvoiceColumns {
    pub(crate) company_id: Raw,
    pub(crate) id: Raw,
    pub(crate) number: Raw,
    pub(crate) label: Raw,
    /// The customer's id, in customer invoices.
    pub(crate) customer_id: Raw,
    /// The supplier's id, in supplier invoices.
    pub(crate) supplier_id: Raw,
    pub(crate) date: Raw,
    pub(crate) due_date: Raw,
    pub(crate) currency: Raw,
    pub(crate) amount_ht: Raw,
    pub(crate) vat: Raw,
    pub(crate) amount_ttc: Raw,
    pub(crate) paid: Raw,
    pub(crate) remaining: Raw,
    pub(crate) status: Raw,
    pub(crate) entry_id: Raw,
    /// Whether the record is a draft (customer invoices).
    pub(crate) draft: Raw,
    /// The accounting status (supplier invoices: `draft` until sent to the accountant).
    pub(crate) accounting_status: Raw,
    /// The invoice a credit note credits.
    pub(crate) credited_invoice_id: Raw,
}

impl InvoiceColumns {
    /// The names both doors use; a door fills in the others with struct update syntax.
    pub(crate) const COMMON: Self = InvoiceColumns {
        company_id: Raw::Required("company_id"),
        id: Raw::Required("id"),
        number: Raw::Optional("invoice_number"),
        label: Raw::Optional("label"),
        customer_id: Raw::Absent,
        supplier_id: Raw::Absent,
        date: Raw::Required("date"),
        due_date: Raw::Optional("deadline"),
        currency: Raw::Optional("currency"),
        amount_ht: Raw::Absent,
        vat: Raw::Optional("tax"),
        amount_ttc: Raw::Required("amount"),
        paid: Raw::Optional("paid"),
        remaining: Raw::Absent,
        status: Raw::AnyOf(&["status", "payment_status"]),
        entry_id: Raw::Absent,
        draft: Raw::Optional("draft"),
        accounting_status: Raw::Optional("accounting_status"),
        credited_invoice_id: Raw::Optional("credited_invoice_id"),
    };
}

/// Appends the batch's customer or supplier invoices to `out`.
fn invoices(
    batch: &Batch,
    kind: ThirdPartyKind,
    cols: &InvoiceColumns,
    out: &mut Vec<Invoice>,
) -> Result<(), MappingError> {
    let r = Reader::new(batch)?;
    let c = [
        cols.company_id,
        cols.id,
        cols.number,
        cols.label,
        match kind {
            ThirdPartyKind::Customer => cols.customer_id,
            ThirdPartyKind::Supplier => cols.supplier_id,
        },
        cols.date,
        cols.due_date,
        cols.currency,
        cols.amount_ht,
        cols.vat,
        cols.amount_ttc,
        cols.paid,
        cols.remaining,
        cols.status,
        cols.entry_id,
        cols.draft,
        cols.accounting_status,
        cols.credited_invoice_id,
    ]
    .map(|raw| raw.resolve(&r));
    let c = c.into_iter().collect::<Result<Vec<_>, _>>()?;
    for row in 0..r.len() {
        let cell = |i: usize| r.cell(row, c[i]);
        let (amount_ht, vat, amount_ttc) = amounts(cell(8), cell(9), cell(10))?;
        let status = cell(13).opt_text()?;
        let credited_invoice_id = cell(17).opt_i64()?;
        let document = InvoiceDocument::classify(
            cell(15).opt_bool()?,
            status.as_deref(),
            cell(16).opt_str()?.as_deref(),
            credited_invoice_id,
        );
        out.push(Invoice {
            company_id: cell(0).i64()?,
            kind,
            id: cell(1).i64()?,
            number: cell(2).opt_text()?,
            label: cell(3).opt_text()?,
            third_party_id: cell(4).opt_i64()?,
            date: cell(5).date()?,
            due_date: cell(6).opt_date()?,
            currency: cell(7).opt_text()?,
            amount_ht,
            vat,
            amount_ttc,
            paid: cell(11).opt_bool()?,
            remaining: cell(12).money_or_zero()?,
            status,
            entry_id: cell(14).opt_i64()?,
            document,
            credited_invoice_id,
        });
    }
    Ok(())
}

/// Appends the batch's bank transactions to `out` (both doors name their columns alike).
fn bank_transactions(batch: &Batch, out: &mut Vec<BankTransaction>) -> Result<(), MappingError> {
    let r = Reader::new(batch)?;
    let (company, id, date, label, amount, currency, account) = (
        r.col("company_id")?,
        r.col("id")?,
        r.col("date")?,
        r.opt("label"),
        r.col("amount")?,
        r.opt("currency"),
        r.opt("bank_account_id"),
    );
    for row in 0..r.len() {
        out.push(BankTransaction {
            company_id: r.cell(row, company).i64()?,
            id: r.cell(row, id).i64()?,
            date: r.cell(row, date).date()?,
            label: r.cell(row, label).opt_text()?,
            amount: r.cell(row, amount).money()?,
            currency: r.cell(row, currency).opt_text()?,
            bank_account_id: r.cell(row, account).opt_i64()?,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::NaiveDate;

    use super::*;
    use crate::schema::{Column, LogicalType, Schema};
    use crate::value::Value;

    /// A one-row batch, each column with its value (`company_id` and `id` are the key).
    fn one_row(table: &str, cells: Vec<(&str, LogicalType, Value)>) -> Batch {
        let columns = cells
            .iter()
            .map(|(name, t, _)| match *name {
                "company_id" | "id" => Column::required(*name, *t),
                _ => Column::nullable(*name, *t),
            })
            .collect();
        let schema = Schema::new(table, columns, ["company_id", "id"]).expect("schema");
        let row = cells.into_iter().map(|(_, _, v)| v).collect();
        Batch::upsert(Arc::new(schema), vec![row]).expect("batch")
    }

    const TABLES: CommonTables = CommonTables {
        fiscal_years: FiscalYearColumns {
            start: Raw::Required("start"),
            end: Raw::Required("end"),
            ..FiscalYearColumns::COMMON
        },
        invoices: InvoiceColumns {
            customer_id: Raw::AnyOf(&["customer_id", "thirdparty_id"]),
            ..InvoiceColumns::COMMON
        },
        bank_transactions_table: "bank",
    };

    #[test]
    fn absent_fields_read_as_null_and_amounts_are_derived() {
        use LogicalType::{Date, Int64};
        let money = LogicalType::Decimal { scale: 2 };
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
        let b = one_row(
            "customer_invoices",
            vec![
                ("company_id", Int64, Value::Int64(1)),
                ("id", Int64, Value::Int64(2)),
                ("date", Date, Value::Date(date)),
                ("amount", money, Value::Decimal(Decimal::new(12_000, 2))),
                ("tax", money, Value::Decimal(Decimal::new(2_000, 2))),
                ("thirdparty_id", Int64, Value::Int64(9)),
                // Not read: the map leaves `entry_id` absent.
                ("entry_id", Int64, Value::Int64(77)),
            ],
        );
        let mut books = Books::default();
        assert!(
            TABLES
                .add("customer_invoices", &b, &mut books)
                .expect("maps")
        );
        let invoice = &books.invoices[0];
        assert_eq!(invoice.amount_ht, Decimal::new(10_000, 2));
        assert_eq!(invoice.third_party_id, Some(9));
        assert_eq!(invoice.entry_id, None);
        assert_eq!(invoice.remaining.to_string(), "0.00");
        assert!(
            !TABLES
                .add("analytical_ledger", &b, &mut books)
                .expect("not mapped")
        );
    }

    #[test]
    fn both_doors_flag_drafts_quotes_orders_and_credit_notes() {
        use LogicalType::{Bool, Date, Int64, Text};
        let money = LogicalType::Decimal { scale: 2 };
        let date = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        // (table, id, draft, status, accounting_status, credited invoice) -> document
        type Case = (
            &'static str,
            i64,
            Option<bool>,
            Option<&'static str>,
            Option<&'static str>,
            Option<i64>,
            InvoiceDocument,
        );
        let cases: [Case; 9] = [
            (
                "customer_invoices",
                1,
                Some(false),
                Some("upcoming"),
                None,
                None,
                InvoiceDocument::Invoice,
            ),
            (
                "customer_invoices",
                2,
                Some(true),
                Some("upcoming"),
                None,
                None,
                InvoiceDocument::Draft,
            ),
            (
                "customer_invoices",
                3,
                Some(false),
                Some("draft"),
                None,
                None,
                InvoiceDocument::Draft,
            ),
            (
                "customer_invoices",
                4,
                Some(false),
                Some("proforma"),
                None,
                None,
                InvoiceDocument::Proforma,
            ),
            (
                "customer_invoices",
                5,
                Some(false),
                Some("estimate_accepted"),
                None,
                None,
                InvoiceDocument::Quote,
            ),
            (
                "customer_invoices",
                6,
                Some(false),
                Some("shipping_order"),
                None,
                None,
                InvoiceDocument::ShippingOrder,
            ),
            (
                "customer_invoices",
                7,
                Some(false),
                Some("paid"),
                None,
                Some(1),
                InvoiceDocument::CreditNote,
            ),
            (
                "supplier_invoices",
                8,
                None,
                None,
                Some("draft"),
                None,
                InvoiceDocument::Draft,
            ),
            (
                "supplier_invoices",
                9,
                None,
                None,
                Some("complete"),
                None,
                InvoiceDocument::Invoice,
            ),
        ];
        let text = |t: Option<&str>| t.map_or(Value::Null, |t| Value::Text(t.to_owned()));
        let mut api = crate::canonical::from_api::ApiMapper::default();
        let mut warehouse = crate::canonical::from_data_sharing::DataSharingMapper::default();
        for (table, id, draft, status, accounting, credited, _) in cases {
            let mut cells = vec![
                ("company_id", Int64, Value::Int64(1)),
                ("id", Int64, Value::Int64(id)),
                ("date", Date, Value::Date(date)),
                ("amount", money, Value::Decimal(Decimal::new(12_000, 2))),
            ];
            if table == "customer_invoices" {
                cells.push(("draft", Bool, draft.map_or(Value::Null, Value::Bool)));
                cells.push(("status", Text, text(status)));
                cells.push((
                    "credited_invoice_id",
                    Int64,
                    credited.map_or(Value::Null, Value::Int64),
                ));
            } else {
                cells.push(("payment_status", Text, Value::Text("to_be_paid".into())));
                cells.push(("accounting_status", Text, text(accounting)));
            }
            let batch = one_row(table, cells);
            assert!(api.add(&batch).expect("maps"));
            assert!(warehouse.add(&batch).expect("maps"));
        }
        let expected: Vec<(i64, InvoiceDocument, Option<i64>)> =
            cases.iter().map(|c| (c.1, c.6, c.5)).collect();
        let api = api.into_books();
        let warehouse = warehouse.into_books();
        for books in [&api, &warehouse] {
            let got: Vec<_> = books
                .invoices
                .iter()
                .map(|i| (i.id, i.document, i.credited_invoice_id))
                .collect();
            assert_eq!(got, expected);
        }
        // The canonical table says which, typed.
        use crate::canonical::tables::CanonicalTable;
        let row = api.invoices[1].to_row();
        let kind = Invoice::schema()
            .column_index("document_kind")
            .expect("column");
        assert_eq!(row[kind], Value::Text("draft".into()));
        assert_eq!(
            InvoiceDocument::parse("draft"),
            Some(InvoiceDocument::Draft)
        );
        for d in InvoiceDocument::ALL {
            assert_eq!(InvoiceDocument::parse(d.as_str()), Some(d));
        }
    }

    #[test]
    fn companies_take_the_siren_from_either_door() {
        use LogicalType::{Int64, Text};
        let mut books = Books::default();
        let api = one_row(
            "companies",
            vec![
                ("company_id", Int64, Value::Int64(7)),
                ("id", Int64, Value::Int64(7)),
                ("name", Text, Value::Text("Boulangerie Martin".into())),
                ("reg_no", Text, Value::Text("552100554".into())),
            ],
        );
        let warehouse = one_row(
            "companies",
            vec![
                ("company_id", Int64, Value::Int64(8)),
                ("id", Int64, Value::Int64(8)),
                ("name", Text, Value::Text("Menuiserie Roux".into())),
                ("registration_number", Text, Value::Text("732829320".into())),
            ],
        );
        assert!(TABLES.add("companies", &api, &mut books).expect("maps"));
        assert!(
            TABLES
                .add("companies", &warehouse, &mut books)
                .expect("maps")
        );
        let sirens: Vec<_> = books
            .companies
            .iter()
            .map(|c| (c.company_id, c.name.as_str(), c.siren.as_deref()))
            .collect();
        assert_eq!(
            sirens,
            [
                (7, "Boulangerie Martin", Some("552100554")),
                (8, "Menuiserie Roux", Some("732829320"))
            ]
        );
    }

    #[test]
    fn the_first_missing_required_column_is_named() {
        let int = LogicalType::Int64;
        let b = one_row(
            "fiscal_years",
            vec![("company_id", int, 1.into()), ("id", int, 2.into())],
        );
        let err = TABLES
            .add("fiscal_years", &b, &mut Books::default())
            .expect_err("no dates");
        assert_eq!(
            err,
            MappingError::MissingColumn {
                table: "fiscal_years".into(),
                column: "start"
            }
        );
    }
}
