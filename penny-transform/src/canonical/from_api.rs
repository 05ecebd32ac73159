//! The API door: raw resources as `penny-api` emits them (stream name = resource name,
//! columns as in `docs/src/raw-tables.md`) into the canonical model.
//!
//! Ledger entry lines need lookups (journal codes, entry references, third parties) from
//! small tables. Feed the small tables first with [`ApiMapper::add`], then stream the
//! large `ledger_entry_lines` table through [`ApiMapper::ledger_lines`] batch by batch:
//! memory holds the small tables and one batch of lines.
//!
//! ```
//! use std::sync::Arc;
//! use penny_transform::{Batch, Column, LogicalType, Schema, Value};
//! use penny_transform::canonical::from_api::ApiMapper;
//!
//! let journals = Arc::new(Schema::new("journals", vec![
//!     Column::required("company_id", LogicalType::Int64),
//!     Column::required("id", LogicalType::Int64),
//!     Column::required("code", LogicalType::Text),
//!     Column::nullable("label", LogicalType::Text),
//! ], ["company_id", "id"])?);
//! let mut mapper = ApiMapper::default();
//! mapper.add(&Batch::upsert(journals, vec![vec![
//!     Value::Int64(1), Value::Int64(10), "VT".into(), "Ventes".into(),
//! ]])?)?;
//! assert_eq!(mapper.books().journals[0].code, "VT");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::decode::{
    self, CommonTables, FiscalYearColumns, InvoiceColumns,
    Raw::{Optional, Required},
    ThirdPartyColumns,
};
use super::read::{MappingError, Reader};
use super::{
    Account, Books, Interner, InvoiceLine, InvoicePayment, Journal, LedgerLine, ThirdPartyKind,
    ThirdPartyRef,
};
use crate::batch::Batch;
use ThirdPartyKind::{Customer, Supplier};

/// The tables both doors map alike, under this door's names.
const TABLES: CommonTables = CommonTables {
    // The first and last days are `start` and `finish`.
    fiscal_years: FiscalYearColumns {
        start: Required("start"),
        end: Required("finish"),
        ..FiscalYearColumns::COMMON
    },
    // `customer_invoices` and `supplier_invoices`.
    invoices: InvoiceColumns {
        customer_id: Optional("customer_id"),
        supplier_id: Optional("supplier_id"),
        amount_ht: Optional("currency_amount_before_tax"),
        remaining: Optional("remaining_amount_with_tax"),
        entry_id: Optional("ledger_entry_id"),
        ..InvoiceColumns::COMMON
    },
    bank_transactions_table: "transactions",
};

/// `customers` and `suppliers`: individuals have a first and last name, and the
/// auxiliary account is named by id (resolved once `ledger_accounts` is mapped).
const THIRD_PARTIES: ThirdPartyColumns = ThirdPartyColumns {
    first_name: Optional("first_name"),
    last_name: Optional("last_name"),
    registration_number: Optional("reg_no"),
    account_id: Optional("ledger_account_id"),
    ..ThirdPartyColumns::COMMON
};

#[derive(Debug, Clone, Default)]
struct EntryInfo {
    document_ref: Option<String>,
    due_date: Option<NaiveDate>,
}

/// Maps the API door's raw tables; holds the lookups ledger lines need.
#[derive(Debug, Default, Clone)]
pub struct ApiMapper {
    books: Books,
    /// (company, ledger_account id) -> account number.
    accounts: HashMap<(i64, i64), Arc<str>>,
    /// (company, journal id) -> journal code.
    journals: HashMap<(i64, i64), Arc<str>>,
    /// Shared account numbers and journal codes.
    strings: Interner,
    /// (company, ledger_entry id) -> references.
    entries: HashMap<(i64, i64), EntryInfo>,
    /// (company, ledger_account id) -> the customer or supplier owning that account.
    third_party_accounts: HashMap<(i64, i64), ThirdPartyRef>,
    /// Customers/suppliers whose account id is known but not yet resolved to a number.
    pending_third_party_accounts: Vec<(usize, i64)>,
}

impl ApiMapper {
    /// Maps one batch of a small raw table into the books, by its table name.
    ///
    /// Returns `false` (and does nothing) for tables this door does not map here,
    /// including `ledger_entry_lines` (use [`ledger_lines`](Self::ledger_lines)).
    pub fn add(&mut self, batch: &Batch) -> Result<bool, MappingError> {
        match batch.table() {
            "ledger_accounts" => self.add_ledger_accounts(batch)?,
            "journals" => self.add_journals(batch)?,
            "ledger_entries" => self.add_ledger_entries(batch)?,
            "customers" => self.add_third_parties(batch, Customer)?,
            "suppliers" => self.add_third_parties(batch, Supplier)?,
            "customer_invoice_lines" => self.add_invoice_lines(batch, Customer)?,
            "supplier_invoice_lines" => self.add_invoice_lines(batch, Supplier)?,
            "customer_invoice_payments" => self.add_payments(batch, Customer)?,
            "supplier_invoice_payments" => self.add_payments(batch, Supplier)?,
            table => return TABLES.add(table, batch, &mut self.books),
        }
        Ok(true)
    }

    /// The books mapped so far (third parties' account numbers resolved).
    pub fn books(&mut self) -> &Books {
        self.resolve_third_party_accounts();
        &self.books
    }

    /// Takes the books out, normalized (sorted, deduplicated).
    pub fn into_books(mut self) -> Books {
        self.resolve_third_party_accounts();
        self.books.normalize();
        self.books
    }

    /// Takes out the invoices, invoice lines, payments and bank transactions mapped
    /// since the last call (see [`Books::take_transactions`]).
    pub fn take_transactions(&mut self) -> Books {
        self.books.take_transactions()
    }

    /// Forgets the ledger entries added so far: after the lines that needed them are
    /// mapped, so that mapping the lines batch by batch holds one batch's entries.
    pub fn forget_entries(&mut self) {
        self.entries.clear();
    }

    fn resolve_third_party_accounts(&mut self) {
        let pending = std::mem::take(&mut self.pending_third_party_accounts);
        for (index, account_id) in pending {
            let t = &mut self.books.third_parties[index];
            match self.accounts.get(&(t.company_id, account_id)) {
                Some(number) => t.account_number = Some(number.to_string()),
                None => self.pending_third_party_accounts.push((index, account_id)),
            }
        }
    }

    fn add_ledger_accounts(&mut self, batch: &Batch) -> Result<(), MappingError> {
        let (ids, accounts) = (&mut self.accounts, &mut self.books.accounts);
        add_coded(
            batch,
            "number",
            &mut self.strings,
            ids,
            |company_id, number, label| {
                accounts.push(Account {
                    company_id,
                    number,
                    label,
                })
            },
        )
    }

    fn add_journals(&mut self, batch: &Batch) -> Result<(), MappingError> {
        // The journal type (`new_year` for the opening entries), when the raw table has it.
        let r = Reader::new(batch)?;
        let kind = r.opt("type");
        let mut types = Vec::with_capacity(r.len());
        for row in 0..r.len() {
            types.push(r.cell(row, kind).opt_text()?);
        }
        let mut types = types.into_iter();
        let (ids, journals) = (&mut self.journals, &mut self.books.journals);
        add_coded(
            batch,
            "code",
            &mut self.strings,
            ids,
            |company_id, code, label| {
                let journal_type = types.next().flatten();
                journals.push(Journal {
                    company_id,
                    opening: Journal::is_opening_journal(&code, journal_type.as_deref()),
                    code,
                    label,
                })
            },
        )
    }

    fn add_ledger_entries(&mut self, batch: &Batch) -> Result<(), MappingError> {
        let r = Reader::new(batch)?;
        let (company, id, piece, invoice, due) = (
            r.col("company_id")?,
            r.col("id")?,
            r.opt("piece_number"),
            r.opt("invoice_number"),
            r.opt("due_date"),
        );
        for row in 0..r.len() {
            let key = (r.cell(row, company).i64()?, r.cell(row, id).i64()?);
            let document_ref = match r.cell(row, piece).opt_text()? {
                Some(p) if !p.is_empty() => Some(p),
                _ => r.cell(row, invoice).opt_text()?,
            };
            self.entries.insert(
                key,
                EntryInfo {
                    document_ref,
                    due_date: r.cell(row, due).opt_date()?,
                },
            );
        }
        Ok(())
    }

    /// Customers and suppliers name their ledger account by id; the number is resolved
    /// once `ledger_accounts` is mapped (see [`books`](Self::books)).
    fn add_third_parties(
        &mut self,
        batch: &Batch,
        kind: ThirdPartyKind,
    ) -> Result<(), MappingError> {
        decode::third_parties(batch, kind, &THIRD_PARTIES, |third, account_id| {
            if let Some(account_id) = account_id {
                self.third_party_accounts
                    .insert((third.company_id, account_id), third.third_party);
                self.pending_third_party_accounts
                    .push((self.books.third_parties.len(), account_id));
            }
            self.books.third_parties.push(third);
        })
    }

    fn add_invoice_lines(
        &mut self,
        batch: &Batch,
        kind: ThirdPartyKind,
    ) -> Result<(), MappingError> {
        let r = Reader::new(batch)?;
        let c = [
            r.col("company_id")?,
            r.col("id")?,
            r.col("invoice_id")?,
            r.opt("label"),
            r.opt("quantity"),
            r.opt("currency_amount_before_tax"),
            r.opt("tax"),
            r.col("amount")?,
            r.opt("vat_rate"),
            r.opt("ledger_account_id"),
        ];
        for row in 0..r.len() {
            let cell = |i: usize| r.cell(row, c[i]);
            let company_id = cell(0).i64()?;
            let (amount_ht, vat, amount_ttc) = decode::amounts(cell(5), cell(6), cell(7))?;
            let account_number = match cell(9).opt_i64()? {
                Some(id) => self.accounts.get(&(company_id, id)).map(|n| n.to_string()),
                None => None,
            };
            self.books.invoice_lines.push(InvoiceLine {
                company_id,
                kind,
                invoice_id: cell(2).i64()?,
                id: cell(1).i64()?,
                label: cell(3).opt_text()?,
                quantity: cell(4).opt_decimal(6)?,
                amount_ht,
                vat,
                amount_ttc,
                vat_rate: cell(8).opt_text()?,
                account_number,
            });
        }
        Ok(())
    }

    fn add_payments(&mut self, batch: &Batch, kind: ThirdPartyKind) -> Result<(), MappingError> {
        let r = Reader::new(batch)?;
        let (company, id, invoice, amount, created) = (
            r.col("company_id")?,
            r.col("id")?,
            r.col("invoice_id")?,
            r.col("currency_amount")?,
            r.col("created_at")?,
        );
        for row in 0..r.len() {
            self.books.payments.push(InvoicePayment {
                company_id: r.cell(row, company).i64()?,
                kind,
                invoice_id: r.cell(row, invoice).i64()?,
                id: r.cell(row, id).i64()?,
                date: r.cell(row, created).date()?,
                amount: r.cell(row, amount).money()?,
            });
        }
        Ok(())
    }

    /// Maps one batch of `ledger_entry_lines` (the large table) using the lookups built
    /// from `journals`, `ledger_accounts`, `ledger_entries`, `customers`, `suppliers`.
    ///
    /// The account number is the line's `ledger_account_number`, or looked up from
    /// `ledger_account_id`; the journal code is looked up from `journal_id`; the document
    /// reference is the entry's piece number (or its invoice number); the third party is
    /// the customer or supplier whose `ledger_account_id` is the line's account.
    pub fn ledger_lines(&mut self, batch: &Batch) -> Result<Vec<LedgerLine>, MappingError> {
        let r = Reader::new(batch)?;
        let c = [
            r.col("company_id")?,
            r.col("id")?,
            r.col("ledger_entry_id")?,
            r.col("date")?,
            r.col("journal_id")?,
            r.opt("ledger_account_number"),
            r.opt("ledger_account_id"),
            r.opt("label"),
            r.col("debit")?,
            r.col("credit")?,
            r.opt("lettering"),
            r.opt("categories"),
        ];
        let mut out = Vec::with_capacity(r.len());
        for row in 0..r.len() {
            let cell = |i: usize| r.cell(row, c[i]);
            let company_id = cell(0).i64()?;
            let entry_id = cell(2).i64()?;
            let journal_id = cell(4).i64()?;
            let journal_code = self
                .journals
                .get(&(company_id, journal_id))
                .cloned()
                .ok_or_else(|| MappingError::UnknownReference {
                    table: r.table.to_owned(),
                    row,
                    column: "journal_id",
                    target: "journals",
                    id: journal_id,
                })?;
            let account_id = cell(6).opt_i64()?;
            let account_number = match (cell(5).opt_str()?, account_id) {
                (Some(n), _) => self.strings.intern(&n),
                (None, Some(id)) => self.accounts.get(&(company_id, id)).cloned().ok_or(
                    MappingError::UnknownReference {
                        table: r.table.to_owned(),
                        row,
                        column: "ledger_account_id",
                        target: "ledger_accounts",
                        id,
                    },
                )?,
                (None, None) => {
                    return Err(MappingError::Null {
                        table: r.table.to_owned(),
                        row,
                        column: "ledger_account_number",
                    });
                }
            };
            let entry = self.entries.get(&(company_id, entry_id));
            out.push(LedgerLine {
                company_id,
                entry_id,
                line_id: cell(1).i64()?,
                date: cell(3).date()?,
                journal_code,
                account_number,
                label: cell(7).opt_text()?.unwrap_or_default(),
                debit: cell(8).money_or_zero()?,
                credit: cell(9).money_or_zero()?,
                third_party: account_id
                    .and_then(|id| self.third_party_accounts.get(&(company_id, id)).copied()),
                document_ref: entry.and_then(|e| e.document_ref.clone()),
                due_date: entry.and_then(|e| e.due_date),
                lettering: cell(10).opt_text()?,
                categories: cell(11).opt_json()?,
            });
        }
        Ok(out)
    }
}

/// Reads a table of codes (`ledger_accounts` by `number`, `journals` by `code`): records
/// each (company, id) -> shared code in `ids`, and hands each row's company, code and
/// label to `push`.
fn add_coded(
    batch: &Batch,
    code_column: &'static str,
    strings: &mut Interner,
    ids: &mut HashMap<(i64, i64), Arc<str>>,
    mut push: impl FnMut(i64, String, String),
) -> Result<(), MappingError> {
    let r = Reader::new(batch)?;
    let (company, id, code, label) = (
        r.col("company_id")?,
        r.col("id")?,
        r.col(code_column)?,
        r.opt("label"),
    );
    for row in 0..r.len() {
        let company_id = r.cell(row, company).i64()?;
        let code = r.cell(row, code).text()?;
        let shared = strings.intern(&code);
        ids.insert((company_id, r.cell(row, id).i64()?), shared);
        push(
            company_id,
            code,
            r.cell(row, label).opt_text()?.unwrap_or_default(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, LogicalType, Schema};
    use crate::value::Value;

    #[test]
    fn a_journal_of_type_new_year_or_coded_an_is_an_opening_journal() {
        let schema = Arc::new(
            Schema::new(
                "journals",
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("id", LogicalType::Int64),
                    Column::required("code", LogicalType::Text),
                    Column::nullable("label", LogicalType::Text),
                    Column::nullable("type", LogicalType::Text),
                ],
                ["company_id", "id"],
            )
            .expect("schema"),
        );
        let row = |id: i64, code: &str, kind: Option<&str>| {
            vec![
                Value::Int64(1),
                Value::Int64(id),
                Value::Text(code.into()),
                Value::Null,
                kind.map_or(Value::Null, |k| Value::Text(k.into())),
            ]
        };
        let mut mapper = ApiMapper::default();
        mapper
            .add(
                &Batch::upsert(
                    schema,
                    vec![
                        row(1, "RAN", Some("new_year")),
                        row(2, "AN", None),
                        row(3, "OD", Some("miscellaneous")),
                    ],
                )
                .expect("batch"),
            )
            .expect("mapped");
        let opening: Vec<(&str, bool)> = mapper
            .books()
            .journals
            .iter()
            .map(|j| (j.code.as_str(), j.opening))
            .collect();
        assert_eq!(opening, [("RAN", true), ("AN", true), ("OD", false)]);
    }
}
