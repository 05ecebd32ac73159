//! The canonical accounting model: the records every source maps into, whichever door
//! (API or Data Sharing) the raw tables came through.
//!
//! Every record carries its `company_id`: a firm's token or Data Sharing access covers
//! several companies, and one database holds them all.
//!
//! - [`from_api`] maps the raw API resources (see `docs/src/raw-tables.md`);
//! - [`from_data_sharing`] maps the Data Sharing (Redshift) tables;
//! - [`tables`] turns canonical records back into [`Batch`](crate::Batch)es with a
//!   [`Schema`](crate::Schema) per table, so any sink can write them.
//!
//! Mappings read columns by name, tolerate absent optional columns, and refuse (with a
//! [`MappingError`] naming table, row and column) what they cannot map exactly: a missing
//! required column, a value of the wrong type, an amount with more than two decimals.
//! They map upsert batches; deletion batches are refused ([`MappingError::NotUpserts`]):
//! deletions are applied to the raw tables, and canonical tables are rebuilt from them.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

mod decode;
pub mod from_api;
pub mod from_data_sharing;
pub(crate) mod read;
pub mod tables;

pub use read::MappingError;

/// The scale of every canonical amount (cents).
pub const MONEY_SCALE: u32 = 2;

/// A company (one Pennylane company; a firm syncs several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Pennylane's company id.
    pub company_id: i64,
    /// Display name.
    pub name: String,
    /// SIREN (9 digits), used to name the FEC file.
    pub siren: Option<String>,
    /// Intra-community VAT number.
    pub vat_number: Option<String>,
}

/// A general-ledger account of the company's chart (PCG number and label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The company.
    pub company_id: i64,
    /// The account number (`"411DUPONT"`, `"706000"`), the business key.
    pub number: String,
    /// The account's label.
    pub label: String,
}

/// An accounting journal (`VT` sales, `HA` purchases, `BQ` bank, `OD` miscellaneous).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// The company.
    pub company_id: i64,
    /// The journal code, the business key.
    pub code: String,
    /// The journal's label.
    pub label: String,
    /// Whether it is a journal of opening entries (à-nouveaux), see
    /// [`Journal::is_opening_journal`].
    pub opening: bool,
}

/// The code Pennylane gives the journal of opening entries (à-nouveaux).
pub const OPENING_JOURNAL_CODE: &str = "AN";

/// The journal type (API door) of the journal of opening entries.
pub const OPENING_JOURNAL_TYPE: &str = "new_year";

impl Journal {
    /// Whether a journal holds opening entries (à-nouveaux, the balances a fiscal year
    /// opens with): its type is `new_year` (the API door gives the type), or its code is
    /// `AN` (the Data Sharing door gives only the code).
    ///
    /// ```
    /// use penny_transform::canonical::Journal;
    /// assert!(Journal::is_opening_journal("AN", None));
    /// assert!(Journal::is_opening_journal("RAN", Some("new_year")));
    /// assert!(!Journal::is_opening_journal("OD", Some("miscellaneous")));
    /// ```
    pub fn is_opening_journal(code: &str, journal_type: Option<&str>) -> bool {
        journal_type == Some(OPENING_JOURNAL_TYPE) || code.trim() == OPENING_JOURNAL_CODE
    }
}

/// The opening journals (à-nouveaux) per company: those of [`Journal::opening`], and
/// any journal coded `AN` (for lines whose journal is not known yet, as the Data
/// Sharing door's, which collects the journals from the lines).
///
/// A ledger line is an *opening entry* of a fiscal year when its journal is an opening
/// journal and it is dated on the year's first day; the reports show it as the year's
/// opening balance, not as a movement.
///
/// ```
/// use penny_transform::canonical::{Journal, OpeningJournals};
/// let journals = [Journal { company_id: 1, code: "RAN".into(), label: "Reports".into(), opening: true }];
/// let opening = OpeningJournals::of(&journals);
/// assert!(opening.contains(1, "RAN"));
/// assert!(opening.contains(2, "AN"));
/// assert!(!opening.contains(2, "RAN"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningJournals(std::collections::BTreeMap<i64, std::collections::BTreeSet<String>>);

impl OpeningJournals {
    /// The opening journals among `journals`.
    pub fn of<'a>(journals: impl IntoIterator<Item = &'a Journal>) -> Self {
        let mut out = OpeningJournals::default();
        for j in journals.into_iter().filter(|j| j.opening) {
            out.0
                .entry(j.company_id)
                .or_default()
                .insert(j.code.clone());
        }
        out
    }

    /// Whether the journal `code` of `company_id` is an opening journal.
    #[inline]
    pub fn contains(&self, company_id: i64, code: &str) -> bool {
        code.trim() == OPENING_JOURNAL_CODE
            || self
                .0
                .get(&company_id)
                .is_some_and(|codes| codes.contains(code))
    }
}

/// Customer or supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThirdPartyKind {
    /// A customer (receivables, class 41).
    Customer,
    /// A supplier (payables, class 40).
    Supplier,
}

impl ThirdPartyKind {
    /// `customer` or `supplier`.
    pub fn as_str(self) -> &'static str {
        match self {
            ThirdPartyKind::Customer => "customer",
            ThirdPartyKind::Supplier => "supplier",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "customer" => Some(ThirdPartyKind::Customer),
            "supplier" => Some(ThirdPartyKind::Supplier),
            _ => None,
        }
    }

    /// The kind an account number implies: class 40 is suppliers, anything else customers.
    pub fn for_account(number: &str) -> Self {
        if number.starts_with("40") {
            ThirdPartyKind::Supplier
        } else {
            ThirdPartyKind::Customer
        }
    }
}

/// A reference to a customer or supplier (their ids are separate number spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThirdPartyRef {
    /// Customer or supplier.
    pub kind: ThirdPartyKind,
    /// The customer's or supplier's id.
    pub id: i64,
}

/// A customer or supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThirdParty {
    /// The company.
    pub company_id: i64,
    /// Customer or supplier, and id.
    pub third_party: ThirdPartyRef,
    /// Name (for individuals, first and last name).
    pub name: String,
    /// SIREN/SIRET.
    pub registration_number: Option<String>,
    /// VAT number.
    pub vat_number: Option<String>,
    /// Their auxiliary account number, when known.
    pub account_number: Option<String>,
}

/// A fiscal year of a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiscalYear {
    /// The company.
    pub company_id: i64,
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
    /// Status as the source gives it (`open`, `closed`, ...).
    pub status: Option<String>,
}

impl FiscalYear {
    /// Whether `date` falls in the fiscal year.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }

    /// Twelve-month fiscal years of `company_id` starting on the first day of
    /// `start_month` (1 to 12), the fewest that cover `from..=to`: for a company whose
    /// source gives no fiscal year. Their status is `assumed`. Empty when `to` is before
    /// `from` or `start_month` is not a month.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use penny_transform::canonical::FiscalYear;
    ///
    /// let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    /// let years = FiscalYear::assumed(7, 7, d(2025, 3, 14), d(2026, 8, 2));
    /// let bounds: Vec<_> = years.iter().map(|f| (f.start, f.end)).collect();
    /// assert_eq!(
    ///     bounds,
    ///     [
    ///         (d(2024, 7, 1), d(2025, 6, 30)),
    ///         (d(2025, 7, 1), d(2026, 6, 30)),
    ///         (d(2026, 7, 1), d(2027, 6, 30)),
    ///     ]
    /// );
    /// ```
    pub fn assumed(company_id: i64, start_month: u32, from: NaiveDate, to: NaiveDate) -> Vec<Self> {
        let Some(mut start) =
            NaiveDate::from_ymd_opt(from.year(), start_month, 1).filter(|_| from <= to)
        else {
            return Vec::new();
        };
        if start > from {
            start = start
                .with_year(start.year() - 1)
                .expect("the first of a month exists every year");
        }
        let mut years = Vec::new();
        while start <= to {
            let next = start
                .with_year(start.year() + 1)
                .expect("the first of a month exists every year");
            years.push(FiscalYear {
                company_id,
                start,
                end: next.pred_opt().expect("a day follows another"),
                status: Some(ASSUMED_STATUS.to_owned()),
            });
            start = next;
        }
        years
    }
}

/// The status of the fiscal years [`FiscalYear::assumed`] makes.
pub const ASSUMED_STATUS: &str = "assumed";

/// One line of a ledger entry: the large table (millions of rows).
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerLine {
    /// The company.
    pub company_id: i64,
    /// The entry the line belongs to (debits equal credits per entry).
    pub entry_id: i64,
    /// The line's id.
    pub line_id: i64,
    /// Accounting date.
    pub date: NaiveDate,
    /// Journal code (interned: lines share one string per code).
    pub journal_code: Arc<str>,
    /// Account number (interned: a million lines share a few thousand strings, which
    /// keeps them in cache when aggregating).
    pub account_number: Arc<str>,
    /// The line's label.
    pub label: String,
    /// Debit amount (scale 2, non-negative in normal books).
    pub debit: Decimal,
    /// Credit amount.
    pub credit: Decimal,
    /// The customer or supplier of the line, when known.
    pub third_party: Option<ThirdPartyRef>,
    /// The document reference (piece number or invoice number).
    pub document_ref: Option<String>,
    /// Due date of the entry (for ageing open items).
    pub due_date: Option<NaiveDate>,
    /// Lettering code: lines with the same code (per company and account) match each other.
    pub lettering: Option<String>,
    /// Analytical categories, as the source gives them (JSON).
    pub categories: Option<serde_json::Value>,
}

impl LedgerLine {
    /// Debit minus credit.
    pub fn balance(&self) -> Decimal {
        self.debit - self.credit
    }
}

/// Shares one `Arc<str>` per distinct text (account numbers, journal codes), so that
/// ledger lines repeat pointers instead of strings. The mappings use one per mapper.
///
/// ```
/// let mut strings = penny_transform::canonical::Interner::default();
/// let a = strings.intern("411DUPONT");
/// let b = strings.intern("411DUPONT");
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
}

impl Interner {
    /// The shared copy of `text`.
    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(s) = self.strings.get(text) {
            return s.clone();
        }
        let s: Arc<str> = Arc::from(text);
        self.strings.insert(s.clone());
        s
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether no string was interned.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// An invoice (customer or supplier).
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// The company.
    pub company_id: i64,
    /// Customer invoice or supplier invoice.
    pub kind: ThirdPartyKind,
    /// The invoice's id (unique per company and kind).
    pub id: i64,
    /// Invoice number.
    pub number: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// The customer or supplier id.
    pub third_party_id: Option<i64>,
    /// Invoice date.
    pub date: NaiveDate,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// Currency code.
    pub currency: Option<String>,
    /// Amount before tax (HT).
    pub amount_ht: Decimal,
    /// VAT.
    pub vat: Decimal,
    /// Amount with tax (TTC).
    pub amount_ttc: Decimal,
    /// Whether fully paid.
    pub paid: Option<bool>,
    /// Remaining amount with tax, as of the sync.
    pub remaining: Decimal,
    /// Status as the source gives it.
    pub status: Option<String>,
    /// The ledger entry that records the invoice.
    pub entry_id: Option<i64>,
    /// What the document is: an invoice or credit note (accounting documents), or a
    /// draft, proforma, quote or order (kept, but counted in no report).
    pub document: InvoiceDocument,
    /// For a credit note, the invoice it credits.
    pub credited_invoice_id: Option<i64>,
}

impl Invoice {
    /// Whether the invoice is an accounting document: an invoice or a credit note
    /// (see [`InvoiceDocument::counts`]).
    pub fn counts(&self) -> bool {
        self.document.counts()
    }

    /// The due date, else the invoice's date: what an invoice is aged on.
    pub fn due(&self) -> NaiveDate {
        self.due_date.unwrap_or(self.date)
    }

    /// For a credit note that names the invoice it credits, that invoice's id: the
    /// credit note is aged on that invoice's due date, as an amount taken off it
    /// ([`reports::aged_balance`](crate::reports::aged_balance)).
    pub fn credits(&self) -> Option<i64> {
        match self.document {
            InvoiceDocument::CreditNote => self.credited_invoice_id,
            _ => None,
        }
    }
}

/// What an invoice record is. Since 15 May 2025 Pennylane's `GET /customer_invoices`
/// returns drafts, proformas, quotes, orders and credit notes along with the invoices;
/// only invoices and credit notes are accounting documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InvoiceDocument {
    /// A finalized invoice.
    Invoice,
    /// A credit note (avoir): a customer invoice crediting another (`credited_invoice`
    /// set, or status `credit_note`), with negative amounts; counted as such.
    CreditNote,
    /// A draft: not finalized (`draft: true` or status `draft`; a supplier invoice whose
    /// `accounting_status` is `draft`, not yet sent to the accountant).
    Draft,
    /// A proforma invoice (status `proforma`).
    Proforma,
    /// A quote (statuses `estimate_pending`, `estimate_accepted`, `estimate_invoiced`,
    /// `estimate_denied`).
    Quote,
    /// A shipping order (status `shipping_order`).
    ShippingOrder,
    /// A purchasing order (status `purchasing_order`).
    PurchasingOrder,
}

impl InvoiceDocument {
    /// Every kind of document.
    pub const ALL: [InvoiceDocument; 7] = [
        InvoiceDocument::Invoice,
        InvoiceDocument::CreditNote,
        InvoiceDocument::Draft,
        InvoiceDocument::Proforma,
        InvoiceDocument::Quote,
        InvoiceDocument::ShippingOrder,
        InvoiceDocument::PurchasingOrder,
    ];

    /// The name written in the `document_kind` columns: `invoice`, `credit_note`,
    /// `draft`, `proforma`, `quote`, `shipping_order`, `purchasing_order`.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceDocument::Invoice => "invoice",
            InvoiceDocument::CreditNote => "credit_note",
            InvoiceDocument::Draft => "draft",
            InvoiceDocument::Proforma => "proforma",
            InvoiceDocument::Quote => "quote",
            InvoiceDocument::ShippingOrder => "shipping_order",
            InvoiceDocument::PurchasingOrder => "purchasing_order",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s output.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Whether the document is an accounting one (an invoice or a credit note): only
    /// those enter the aged balances, the open amounts, the VAT by rate and the invoice
    /// facts.
    pub fn counts(self) -> bool {
        matches!(self, InvoiceDocument::Invoice | InvoiceDocument::CreditNote)
    }

    /// What a record is, from its source fields: `draft` (customer invoices), `status`
    /// (customer invoices; suppliers' payment status never names a document),
    /// `accounting_status` (supplier invoices) and `credited_invoice_id`.
    ///
    /// ```
    /// use penny_transform::canonical::InvoiceDocument;
    ///
    /// assert_eq!(InvoiceDocument::classify(Some(true), Some("upcoming"), None, None), InvoiceDocument::Draft);
    /// assert_eq!(InvoiceDocument::classify(Some(false), Some("paid"), None, Some(40)), InvoiceDocument::CreditNote);
    /// assert_eq!(InvoiceDocument::classify(None, Some("estimate_pending"), None, None), InvoiceDocument::Quote);
    /// assert_eq!(InvoiceDocument::classify(None, Some("to_be_paid"), Some("draft"), None), InvoiceDocument::Draft);
    /// assert_eq!(InvoiceDocument::classify(None, None, Some("complete"), None), InvoiceDocument::Invoice);
    /// ```
    pub fn classify(
        draft: Option<bool>,
        status: Option<&str>,
        accounting_status: Option<&str>,
        credited_invoice_id: Option<i64>,
    ) -> Self {
        let by_status = match status {
            Some("draft") => Some(InvoiceDocument::Draft),
            Some("proforma") => Some(InvoiceDocument::Proforma),
            Some("shipping_order") => Some(InvoiceDocument::ShippingOrder),
            Some("purchasing_order") => Some(InvoiceDocument::PurchasingOrder),
            Some(s) if s.starts_with("estimate_") => Some(InvoiceDocument::Quote),
            _ => None,
        };
        if draft == Some(true) || accounting_status == Some("draft") {
            InvoiceDocument::Draft
        } else if let Some(d) = by_status {
            d
        } else if credited_invoice_id.is_some() || status == Some("credit_note") {
            InvoiceDocument::CreditNote
        } else {
            InvoiceDocument::Invoice
        }
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceLine {
    /// The company.
    pub company_id: i64,
    /// Customer or supplier invoice.
    pub kind: ThirdPartyKind,
    /// The invoice.
    pub invoice_id: i64,
    /// The line's id.
    pub id: i64,
    /// Label.
    pub label: Option<String>,
    /// Quantity (scale 6).
    pub quantity: Option<Decimal>,
    /// Amount before tax (HT).
    pub amount_ht: Decimal,
    /// VAT.
    pub vat: Decimal,
    /// Amount with tax (TTC).
    pub amount_ttc: Decimal,
    /// VAT rate as the source names it (for example `FR_200`).
    pub vat_rate: Option<String>,
    /// The revenue or expense account, when known.
    pub account_number: Option<String>,
}

/// A payment of an invoice (API door only).
#[derive(Debug, Clone, PartialEq)]
pub struct InvoicePayment {
    /// The company.
    pub company_id: i64,
    /// Customer or supplier invoice.
    pub kind: ThirdPartyKind,
    /// The invoice paid.
    pub invoice_id: i64,
    /// The payment's id.
    pub id: i64,
    /// The date of the payment.
    pub date: NaiveDate,
    /// The amount paid (with tax).
    pub amount: Decimal,
}

/// A bank transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct BankTransaction {
    /// The company.
    pub company_id: i64,
    /// The transaction's id.
    pub id: i64,
    /// Value date.
    pub date: NaiveDate,
    /// Label.
    pub label: Option<String>,
    /// Signed amount (positive: money in).
    pub amount: Decimal,
    /// Currency code.
    pub currency: Option<String>,
    /// The bank account.
    pub bank_account_id: Option<i64>,
}

/// The small reference tables of one or several companies (everything but ledger lines),
/// as produced by either door's mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Books {
    /// Companies.
    pub companies: Vec<Company>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Journals.
    pub journals: Vec<Journal>,
    /// Customers and suppliers.
    pub third_parties: Vec<ThirdParty>,
    /// Fiscal years.
    pub fiscal_years: Vec<FiscalYear>,
    /// Customer and supplier invoices.
    pub invoices: Vec<Invoice>,
    /// Invoice lines (API door only).
    pub invoice_lines: Vec<InvoiceLine>,
    /// Invoice payments (API door only).
    pub payments: Vec<InvoicePayment>,
    /// Bank transactions.
    pub bank_transactions: Vec<BankTransaction>,
}

impl Books {
    /// Sorts every table by its key, and removes duplicate accounts and journals
    /// (same company and number/code: the first label wins), so that two mappings of the
    /// same books compare equal.
    pub fn normalize(&mut self) {
        self.companies.sort_by_key(|c| c.company_id);
        self.accounts
            .sort_by(|a, b| (a.company_id, &a.number).cmp(&(b.company_id, &b.number)));
        self.accounts
            .dedup_by(|a, b| a.company_id == b.company_id && a.number == b.number);
        self.journals
            .sort_by(|a, b| (a.company_id, &a.code).cmp(&(b.company_id, &b.code)));
        self.journals
            .dedup_by(|a, b| a.company_id == b.company_id && a.code == b.code);
        self.third_parties
            .sort_by_key(|t| (t.company_id, t.third_party));
        self.fiscal_years.sort_by_key(|f| (f.company_id, f.start));
        self.invoices.sort_by_key(|i| (i.company_id, i.kind, i.id));
        self.invoice_lines
            .sort_by_key(|l| (l.company_id, l.kind, l.invoice_id, l.id));
        self.payments
            .sort_by_key(|p| (p.company_id, p.kind, p.invoice_id, p.id));
        self.bank_transactions.sort_by_key(|t| (t.company_id, t.id));
    }

    /// Takes the transactional tables out (invoices, invoice lines, payments, bank
    /// transactions), each sorted by key, leaving the reference tables: for mapping a
    /// large raw table batch by batch without holding it.
    pub fn take_transactions(&mut self) -> Books {
        let mut out = Books {
            invoices: std::mem::take(&mut self.invoices),
            invoice_lines: std::mem::take(&mut self.invoice_lines),
            payments: std::mem::take(&mut self.payments),
            bank_transactions: std::mem::take(&mut self.bank_transactions),
            ..Books::default()
        };
        out.normalize();
        out
    }

    /// The label of an account, if known.
    pub fn account_label(&self, company_id: i64, number: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|a| a.company_id == company_id && a.number == number)
            .map(|a| a.label.as_str())
    }

    /// The label of a journal, if known.
    pub fn journal_label(&self, company_id: i64, code: &str) -> Option<&str> {
        self.journals
            .iter()
            .find(|j| j.company_id == company_id && j.code == code)
            .map(|j| j.label.as_str())
    }

    /// A customer or supplier, if known.
    pub fn third_party(&self, company_id: i64, r: ThirdPartyRef) -> Option<&ThirdParty> {
        self.third_parties
            .iter()
            .find(|t| t.company_id == company_id && t.third_party == r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid date")
    }

    #[test]
    fn assumed_fiscal_years_are_the_fewest_whole_years_covering_the_range() {
        let bounds = |m, from, to| -> Vec<(NaiveDate, NaiveDate)> {
            FiscalYear::assumed(3, m, from, to)
                .iter()
                .map(|f| {
                    assert_eq!(f.company_id, 3);
                    assert_eq!(f.status.as_deref(), Some(ASSUMED_STATUS));
                    (f.start, f.end)
                })
                .collect()
        };
        // Calendar years: the range's first and last days on the years' bounds.
        assert_eq!(
            bounds(1, d(2025, 1, 1), d(2025, 12, 31)),
            [(d(2025, 1, 1), d(2025, 12, 31))]
        );
        assert_eq!(
            bounds(1, d(2024, 12, 31), d(2025, 1, 1)),
            [
                (d(2024, 1, 1), d(2024, 12, 31)),
                (d(2025, 1, 1), d(2025, 12, 31))
            ]
        );
        // A year starting in March holds February 29th.
        assert_eq!(
            bounds(3, d(2024, 2, 29), d(2024, 3, 1)),
            [
                (d(2023, 3, 1), d(2024, 2, 29)),
                (d(2024, 3, 1), d(2025, 2, 28))
            ]
        );
        // December: the year before's.
        assert_eq!(
            bounds(12, d(2026, 6, 1), d(2026, 6, 30)),
            [(d(2025, 12, 1), d(2026, 11, 30))]
        );
        // Nothing to cover, or no such month.
        assert!(bounds(1, d(2026, 6, 2), d(2026, 6, 1)).is_empty());
        assert!(bounds(0, d(2026, 1, 1), d(2026, 6, 1)).is_empty());
        assert!(bounds(13, d(2026, 1, 1), d(2026, 6, 1)).is_empty());
    }
}
