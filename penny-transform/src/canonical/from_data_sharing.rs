//! The Data Sharing door: Pennylane's warehouse tables (as `penny-redshift` reads them)
//! into the canonical model.
//!
//! Columns are looked up by name; the columns marked *assumed* in
//! `docs/src/raw-tables.md` may be absent and then read as nulls. Warehouse numerics
//! arrive with their own scale and are rescaled exactly to cents (an amount that would
//! need rounding is a [`MappingError::InexactAmount`]). Table names may carry the
//! older `_etl` suffix or a schema prefix (`etl.general_ledger`).
//!
//! `general_ledger` is the only ledger table: accounts (`plan_item_number`,
//! `plan_item_label`), journals (`journal_code`, `journal_label`) and, when the
//! `companies` table is absent, companies (`company_id`, `company_name`) are collected
//! from its rows. Lines are grouped into entries by `entry_id` when the column exists,
//! else by `document_id`, else each line is its own entry. The third party's kind is
//! taken from the account: class 40 is a supplier, anything else a customer.

use std::collections::HashSet;
use std::sync::Arc;

use super::decode::{
    self, CommonTables, FiscalYearColumns, InvoiceColumns,
    Raw::{AnyOf, Optional, Required},
    ThirdPartyColumns,
};
use super::read::{MappingError, Reader};
use super::{
    Account, Books, Company, Interner, Journal, LedgerLine, ThirdPartyKind, ThirdPartyRef,
};
use crate::batch::Batch;
use ThirdPartyKind::{Customer, Supplier};

/// The tables both doors map alike, under this door's names.
const TABLES: CommonTables = CommonTables {
    // The first and last days are `start_date` and `end_date`.
    fiscal_years: FiscalYearColumns {
        start: Required("start_date"),
        end: Required("end_date"),
        ..FiscalYearColumns::COMMON
    },
    // `customer_invoices` and `supplier_invoices`: the third party is `customer_id` or
    // `supplier_id`, else `thirdparty_id`.
    invoices: InvoiceColumns {
        customer_id: AnyOf(&["customer_id", "thirdparty_id"]),
        supplier_id: AnyOf(&["supplier_id", "thirdparty_id"]),
        amount_ht: Optional("amount_before_tax"),
        remaining: Optional("remaining_amount"),
        entry_id: Optional("entry_id"),
        // Assumed: the draft flag and the credited invoice as the API names them.
        draft: AnyOf(&["draft", "is_draft"]),
        ..InvoiceColumns::COMMON
    },
    bank_transactions_table: "bank_transactions",
};

/// `customers` and `suppliers`: one name, and the auxiliary account's number itself.
const THIRD_PARTIES: ThirdPartyColumns = ThirdPartyColumns {
    registration_number: Optional("registration_number"),
    account_number: Optional("plan_item_number"),
    ..ThirdPartyColumns::COMMON
};

/// Maps the Data Sharing door's tables.
#[derive(Debug, Default)]
pub struct DataSharingMapper {
    books: Books,
    accounts: HashSet<(i64, Arc<str>)>,
    journals: HashSet<(i64, Arc<str>)>,
    strings: Interner,
    ledger_companies: Vec<Company>,
    seen_companies: HashSet<i64>,
}

/// The warehouse table name without schema prefix or `_etl` suffix.
pub fn base_table_name(name: &str) -> &str {
    let name = name.rsplit('.').next().unwrap_or(name);
    name.strip_suffix("_etl").unwrap_or(name)
}

impl DataSharingMapper {
    /// Maps one batch of a small table into the books, by its table name.
    ///
    /// Returns `false` for tables not mapped here, including `general_ledger`
    /// (use [`ledger_lines`](Self::ledger_lines)).
    pub fn add(&mut self, batch: &Batch) -> Result<bool, MappingError> {
        match base_table_name(batch.table()) {
            "customers" => self.add_third_parties(batch, Customer)?,
            "suppliers" => self.add_third_parties(batch, Supplier)?,
            table => return TABLES.add(table, batch, &mut self.books),
        }
        Ok(true)
    }

    /// Takes the books out, normalized. Companies seen only in `general_ledger` are
    /// added (without SIREN) when the `companies` table did not list them.
    pub fn into_books(mut self) -> Books {
        for c in self.ledger_companies {
            if !self
                .books
                .companies
                .iter()
                .any(|k| k.company_id == c.company_id)
            {
                self.books.companies.push(c);
            }
        }
        self.books.normalize();
        self.books
    }

    /// The books mapped so far (not normalized).
    pub fn books(&self) -> &Books {
        &self.books
    }

    /// Takes out the invoices and bank transactions mapped since the last call (see
    /// [`Books::take_transactions`]).
    pub fn take_transactions(&mut self) -> Books {
        self.books.take_transactions()
    }

    fn add_third_parties(
        &mut self,
        batch: &Batch,
        kind: ThirdPartyKind,
    ) -> Result<(), MappingError> {
        let third_parties = &mut self.books.third_parties;
        decode::third_parties(batch, kind, &THIRD_PARTIES, |third, _| {
            third_parties.push(third)
        })
    }

    /// Maps one batch of `general_ledger`, and records the accounts, journals and
    /// companies its rows name.
    pub fn ledger_lines(&mut self, batch: &Batch) -> Result<Vec<LedgerLine>, MappingError> {
        let r = Reader::new(batch)?;
        let c = [
            r.col("company_id")?,
            r.opt("company_name"),
            r.col("id")?,
            r.opt("entry_id"),
            r.opt("document_id"),
            r.col("date")?,
            r.col("journal_code")?,
            r.opt("journal_label"),
            r.col("plan_item_number")?,
            r.opt("plan_item_label"),
            r.opt("label"),
            r.col("debit")?,
            r.col("credit")?,
            r.opt("thirdparty_id"),
            r.opt("document_number"),
            r.opt("due_date"),
            r.opt("lettering"),
        ];
        let mut out = Vec::with_capacity(r.len());
        for row in 0..r.len() {
            let cell = |i: usize| r.cell(row, c[i]);
            let company_id = cell(0).i64()?;
            let line_id = cell(2).i64()?;
            let entry_id = match cell(3).opt_i64()? {
                Some(e) => e,
                None => cell(4).opt_i64()?.unwrap_or(line_id),
            };
            let journal_code = self.strings.intern(&cell(6).str()?);
            let account_number = self.strings.intern(&cell(8).str()?);
            if self.seen_companies.insert(company_id) {
                self.ledger_companies.push(Company {
                    company_id,
                    name: cell(1).opt_text()?.unwrap_or_default(),
                    siren: None,
                    vat_number: None,
                });
            }
            if self.journals.insert((company_id, journal_code.clone())) {
                self.books.journals.push(Journal {
                    company_id,
                    code: journal_code.to_string(),
                    label: cell(7).opt_text()?.unwrap_or_default(),
                    // This door gives no journal type: the code tells.
                    opening: Journal::is_opening_journal(&journal_code, None),
                });
            }
            if self.accounts.insert((company_id, account_number.clone())) {
                self.books.accounts.push(Account {
                    company_id,
                    number: account_number.to_string(),
                    label: cell(9).opt_text()?.unwrap_or_default(),
                });
            }
            let third_party = cell(13).opt_i64()?.map(|id| ThirdPartyRef {
                kind: ThirdPartyKind::for_account(&account_number),
                id,
            });
            out.push(LedgerLine {
                company_id,
                entry_id,
                line_id,
                date: cell(5).date()?,
                journal_code,
                account_number,
                label: cell(10).opt_text()?.unwrap_or_default(),
                debit: cell(11).money_or_zero()?,
                credit: cell(12).money_or_zero()?,
                third_party,
                document_ref: cell(14).opt_text()?,
                due_date: cell(15).opt_date()?,
                lettering: cell(16).opt_text()?,
                categories: None,
            });
        }
        Ok(out)
    }
}
