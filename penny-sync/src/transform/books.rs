//! The doors' mappings: which raw tables a door maps from (the reference tables, the
//! ledger lines, the transactional families), the reads by key that join lines to
//! their entries and invoices, and the books' dimensions and reports written once the
//! ledger is mapped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use penny_transform::canonical::from_api::ApiMapper;
use penny_transform::canonical::from_data_sharing::DataSharingMapper;
use penny_transform::canonical::tables::{CanonicalTable, to_batches};
use penny_transform::canonical::{
    BankTransaction, Books, Invoice, InvoiceLine, InvoicePayment, LedgerLine, ThirdPartyKind,
};
use penny_transform::{Batch, KeyFilter, ReadBack, ReadKind, Schema, Sink, TableRead, Value, star};

use crate::error::SyncError;
use crate::transform::write::*;

/// The API door's reference tables, in the order the mapper needs them (the accounts
/// before the third parties and invoice lines that name them).
pub(crate) const API_REFERENCE_TABLES: &[&str] = &[
    "companies",
    "ledger_accounts",
    "journals",
    "fiscal_years",
    "customers",
    "suppliers",
];

/// The API door's ledger entries (the ledger lines' document references).
pub(crate) const API_ENTRIES: &str = "ledger_entries";

/// The Data Sharing door's reference tables.
pub(crate) const DATA_SHARING_REFERENCE_TABLES: &[&str] =
    &["companies", "fiscal_years", "customers", "suppliers"];

/// The transactional tables of the canonical model (and their facts), each mapped from
/// one or two raw tables batch by batch, never held whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Invoices,
    InvoiceLines,
    Payments,
    BankTransactions,
}

impl Family {
    /// In the order the digest needs them (invoices before their lines and payments).
    pub(crate) const ALL: [Family; 4] = [
        Family::Invoices,
        Family::InvoiceLines,
        Family::Payments,
        Family::BankTransactions,
    ];

    /// The raw tables the family is mapped from, through `door`.
    pub(crate) fn raw_tables(self, door: DoorKind) -> &'static [&'static str] {
        let api = door == DoorKind::Api;
        match self {
            Family::Invoices => &["customer_invoices", "supplier_invoices"],
            Family::InvoiceLines if api => &["customer_invoice_lines", "supplier_invoice_lines"],
            Family::Payments if api => &["customer_invoice_payments", "supplier_invoice_payments"],
            Family::InvoiceLines | Family::Payments => &[],
            Family::BankTransactions if api => &["transactions"],
            Family::BankTransactions => &["bank_transactions"],
        }
    }

    /// The canonical table's schema.
    pub(crate) fn canonical(self) -> Arc<Schema> {
        match self {
            Family::Invoices => Invoice::schema(),
            Family::InvoiceLines => InvoiceLine::schema(),
            Family::Payments => InvoicePayment::schema(),
            Family::BankTransactions => BankTransaction::schema(),
        }
    }

    /// The fact table's schema (payments have none).
    pub(crate) fn fact(self) -> Option<Arc<Schema>> {
        match self {
            Family::Invoices => Some(star::fact_invoices_schema()),
            Family::InvoiceLines => Some(star::fact_invoice_lines_schema()),
            Family::Payments => None,
            Family::BankTransactions => Some(star::fact_bank_transactions_schema()),
        }
    }

    /// Whether `whole` says to write this family whole.
    pub(crate) fn whole_in(self, whole: WholeTables) -> bool {
        match self {
            Family::Invoices => whole.invoices,
            Family::InvoiceLines => whole.invoice_lines,
            Family::Payments => whole.payments,
            Family::BankTransactions => whole.bank_transactions,
        }
    }

    /// The family's records in `books` as canonical batches and fact batches.
    pub(crate) fn batches(
        self,
        books: &Books,
        batch_rows: usize,
    ) -> Result<(Vec<Batch>, Vec<Batch>), SyncError> {
        Ok(match self {
            Family::Invoices => (
                to_batches(&books.invoices, batch_rows).map_err(mapping)?,
                star::fact_invoices(books, batch_rows).map_err(batch_error)?,
            ),
            Family::InvoiceLines => (
                to_batches(&books.invoice_lines, batch_rows).map_err(mapping)?,
                star::fact_invoice_lines(books, batch_rows).map_err(batch_error)?,
            ),
            Family::Payments => (
                to_batches(&books.payments, batch_rows).map_err(mapping)?,
                Vec::new(),
            ),
            Family::BankTransactions => (
                to_batches(&books.bank_transactions, batch_rows).map_err(mapping)?,
                star::fact_bank_transactions(books, batch_rows).map_err(batch_error)?,
            ),
        })
    }
}

/// The mapping of one door, fed with the small tables, ready for the ledger lines.
pub enum Door {
    /// The API door.
    Api(Box<ApiMapper>),
    /// The Data Sharing door.
    DataSharing(Box<DataSharingMapper>),
}

impl Door {
    /// Which door this is.
    pub fn kind(&self) -> DoorKind {
        match self {
            Door::Api(_) => DoorKind::Api,
            Door::DataSharing(_) => DoorKind::DataSharing,
        }
    }

    /// The raw table of the door's ledger lines.
    pub fn lines_table(&self) -> &'static str {
        match self {
            Door::Api(_) => "ledger_entry_lines",
            Door::DataSharing(_) => "general_ledger",
        }
    }

    /// Maps one batch of raw ledger lines.
    pub fn lines(&mut self, batch: &Batch) -> Result<Vec<LedgerLine>, SyncError> {
        match self {
            Door::Api(m) => m.ledger_lines(batch),
            Door::DataSharing(m) => m.ledger_lines(batch),
        }
        .map_err(mapping)
    }

    /// Maps one batch of a small or transactional raw table.
    pub fn add(&mut self, batch: &Batch) -> Result<(), SyncError> {
        match self {
            Door::Api(m) => m.add(batch),
            Door::DataSharing(m) => m.add(batch),
        }
        .map(|_| ())
        .map_err(mapping)
    }

    /// The fiscal years mapped so far.
    pub fn fiscal_years(&mut self) -> Vec<penny_transform::canonical::FiscalYear> {
        match self {
            Door::Api(m) => m.books().fiscal_years.clone(),
            Door::DataSharing(m) => m.books().fiscal_years.clone(),
        }
    }

    /// The opening journals mapped so far (the Data Sharing door's journals come with
    /// the lines: `AN`, the only opening journal it can tell, is one by its code).
    pub fn opening_journals(&mut self) -> penny_transform::canonical::OpeningJournals {
        match self {
            Door::Api(m) => penny_transform::canonical::OpeningJournals::of(&m.books().journals),
            Door::DataSharing(m) => {
                penny_transform::canonical::OpeningJournals::of(&m.books().journals)
            }
        }
    }

    /// Takes out the transactional records mapped since the last call.
    pub fn take_transactions(&mut self) -> Books {
        match self {
            Door::Api(m) => m.take_transactions(),
            Door::DataSharing(m) => m.take_transactions(),
        }
    }

    /// The small tables, mapped.
    pub fn into_books(self) -> Books {
        match self {
            Door::Api(m) => m.into_books(),
            Door::DataSharing(m) => m.into_books(),
        }
    }
}

/// Chooses the door by the raw tables present (the API's lines win when both doors
/// were synced) and maps its reference tables, and the API's ledger entries when
/// `with_entries` (otherwise the entries are looked up per batch of lines, see
/// `fetch_entries`).
pub async fn map_small_tables(
    raw: &dyn ReadBack,
    batch_rows: usize,
    with_entries: bool,
) -> Result<Door, SyncError> {
    let api_lines = raw.has("ledger_entry_lines").await.map_err(sink)?;
    let data_sharing = !api_lines && raw.has("general_ledger").await.map_err(sink)?;
    let (mut door, tables) = if data_sharing {
        (
            Door::DataSharing(Box::default()),
            DATA_SHARING_REFERENCE_TABLES,
        )
    } else {
        (Door::Api(Box::default()), API_REFERENCE_TABLES)
    };
    let entries: &[&str] = if with_entries && !data_sharing {
        &[API_ENTRIES]
    } else {
        &[]
    };
    for table in tables.iter().chain(entries) {
        each_batch(raw, table, batch_rows, |batch| door.add(&batch)).await?;
    }
    if let Door::Api(m) = &mut door {
        // Resolves third parties' accounts before the lines need them.
        let _ = m.books();
    }
    Ok(door)
}

/// Maps the ledger entries of the lines of `lines` into `mapper`, read from `inc` by
/// key (one query per company, on the entries' primary key).
pub(crate) async fn fetch_entries(
    inc: &dyn ReadBack,
    mapper: &mut ApiMapper,
    lines: &Batch,
    batch_rows: usize,
) -> Result<(), SyncError> {
    let s = lines.schema();
    let (Some(c), Some(e)) = (
        s.column_index("company_id"),
        s.column_index("ledger_entry_id"),
    ) else {
        return Ok(());
    };
    let mut wanted: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for row in lines.rows() {
        if let (Some(Value::Int64(company)), Some(Value::Int64(entry))) = (row.get(c), row.get(e)) {
            wanted.entry(*company).or_default().insert(*entry);
        }
    }
    for (company, ids) in wanted {
        let filter = KeyFilter::ints("id", ids).within("company_id", company);
        map_where(inc, mapper, API_ENTRIES, &filter, batch_rows).await?;
    }
    Ok(())
}

/// Maps the rows of raw `table` that `filter` keeps into `mapper`.
pub(crate) async fn map_where(
    inc: &dyn ReadBack,
    mapper: &mut ApiMapper,
    table: &str,
    filter: &KeyFilter,
    batch_rows: usize,
) -> Result<(), SyncError> {
    if let Some(mut rows) = inc
        .read(&TableRead::new(table, batch_rows).filter(filter.clone()))
        .await
        .map_err(sink)?
    {
        while let Some(batch) = futures_util::TryStreamExt::try_next(&mut rows)
            .await
            .map_err(sink)?
        {
            mapper.add(&batch).map_err(mapping)?;
        }
    }
    Ok(())
}

/// The invoices of the invoice lines and payments of `books`, read from `inc` by key
/// (one query per company and kind, on the raw invoices' primary key) and mapped
/// through `mapper` (which must hold no other transactional record).
pub(crate) async fn fetch_invoices(
    inc: &dyn ReadBack,
    mapper: &mut ApiMapper,
    books: &Books,
    batch_rows: usize,
) -> Result<Vec<Invoice>, SyncError> {
    let lines = books
        .invoice_lines
        .iter()
        .map(|l| (l.company_id, l.kind, l.invoice_id));
    let payments = books
        .payments
        .iter()
        .map(|p| (p.company_id, p.kind, p.invoice_id));
    fetch_invoices_by_key(inc, mapper, lines.chain(payments), batch_rows).await
}

/// The invoices of `keys` read back from the raw tables by key and mapped.
pub(crate) async fn fetch_invoices_by_key(
    inc: &dyn ReadBack,
    mapper: &mut ApiMapper,
    keys: impl IntoIterator<Item = penny_transform::reports::invoice_digest::InvoiceKey>,
    batch_rows: usize,
) -> Result<Vec<Invoice>, SyncError> {
    let mut wanted: BTreeMap<(ThirdPartyKind, i64), BTreeSet<i64>> = BTreeMap::new();
    for (company, kind, invoice) in keys {
        wanted.entry((kind, company)).or_default().insert(invoice);
    }
    for ((kind, company), ids) in wanted {
        let table = match kind {
            ThirdPartyKind::Customer => "customer_invoices",
            ThirdPartyKind::Supplier => "supplier_invoices",
        };
        let filter = KeyFilter::ints("id", ids).within("company_id", company);
        map_where(inc, mapper, table, &filter, batch_rows).await?;
    }
    Ok(mapper.take_transactions().invoices)
}

/// The books and every ledger line (held in memory: for exports that list them all).
pub async fn map_everything(
    raw: &dyn ReadBack,
    batch_rows: usize,
) -> Result<(Books, Vec<LedgerLine>), SyncError> {
    let mut door = map_small_tables(raw, batch_rows, true).await?;
    let mut lines = Vec::new();
    let table = door.lines_table();
    each_batch(raw, table, batch_rows, |batch| {
        lines.extend(door.lines(&batch)?);
        Ok(())
    })
    .await?;
    let name = door.kind();
    let mut transactions = Vec::new();
    for family in Family::ALL {
        for table in family.raw_tables(name) {
            each_batch(raw, table, batch_rows, |batch| door.add(&batch)).await?;
        }
        transactions.push(door.take_transactions());
    }
    let mut books = door.into_books();
    for t in transactions {
        books.invoices.extend(t.invoices);
        books.invoice_lines.extend(t.invoice_lines);
        books.payments.extend(t.payments);
        books.bank_transactions.extend(t.bank_transactions);
    }
    books.normalize();
    Ok((books, lines))
}

/// The fiscal years the reports go by (the source's, and twelve-month years assumed
/// for the companies it gives none for) and the range `dim_date` covers: the fiscal
/// years and `dates` (the ledger lines' first and last dates).
pub(crate) fn years_used(
    books: &Books,
    dates: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    days: &penny_transform::reports::line_sums::LineSums,
    settings: TransformSettings,
) -> (
    Vec<penny_transform::canonical::FiscalYear>,
    chrono::NaiveDate,
    chrono::NaiveDate,
) {
    let (mut from, mut to) = dates.unwrap_or_else(|| {
        let today = chrono::Utc::now().date_naive();
        (today, today)
    });
    for fy in &books.fiscal_years {
        from = from.min(fy.start);
        to = to.max(fy.end);
    }
    let companies = books
        .companies
        .iter()
        .map(|c| c.company_id)
        .chain(days.extent().into_keys());
    let fiscal_years = penny_transform::reports::tables::fiscal_years_used(
        &books.fiscal_years,
        companies,
        settings.year_start_month,
        (from, to),
    );
    for fy in &fiscal_years {
        from = from.min(fy.start);
        to = to.max(fy.end);
    }
    (fiscal_years, from, to)
}

/// Writes every table but the ledger lines, whole, from `books`; `dim_date` covers the
/// fiscal years and `dates` (the ledger lines' first and last dates).
///
/// The invoice, invoice line, payment and bank transaction tables (canonical and star)
/// are written from `books` only where `whole` says so (the full rebuild streams them,
/// the incremental update merges the others).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_books(
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    books: &Books,
    dates: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    days: &penny_transform::reports::line_sums::LineSums,
    invoices: &penny_transform::reports::invoice_digest::InvoiceDigest,
    changed_accounts: Option<&std::collections::BTreeSet<(i64, std::sync::Arc<str>)>>,
    settings: TransformSettings,
    whole: WholeTables,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    let batch_rows = settings.batch_rows;
    if whole.references {
        write_table(out, &books.companies, batch_rows, report).await?;
        write_table(out, &books.accounts, batch_rows, report).await?;
        write_table(out, &books.journals, batch_rows, report).await?;
        write_table(out, &books.third_parties, batch_rows, report).await?;
        write_table(out, &books.fiscal_years, batch_rows, report).await?;
    }
    for family in Family::ALL.into_iter().filter(|f| f.whole_in(whole)) {
        let (canonical, fact) = family.batches(books, batch_rows)?;
        write_batches(out, &family.canonical(), ReadKind::Full, canonical, report).await?;
        if let Some(schema) = family.fact() {
            write_batches(facts, &schema, ReadKind::Full, fact, report).await?;
        }
    }

    // The star schema's other tables, from the books. `dim_date` covers the fiscal
    // years and the lines' dates; a company without fiscal years has them assumed over
    // that range (for `dim_date` and the trial balance only: not canonical).
    let b = books;
    let with_lines: Vec<i64> = days.extent().into_keys().collect();
    let companies = || {
        b.companies
            .iter()
            .map(|c| c.company_id)
            .chain(with_lines.iter().copied())
    };
    let (fiscal_years, from, to) = years_used(b, dates, days, settings);
    let mut star_tables = Vec::new();
    if whole.references {
        star_tables.extend([
            (star::dim_company_schema(), star::dim_company(b, batch_rows)),
            (star::dim_account_schema(), star::dim_account(b, batch_rows)),
            (star::dim_journal_schema(), star::dim_journal(b, batch_rows)),
            (
                star::dim_third_party_schema(),
                star::dim_third_party(b, batch_rows),
            ),
        ]);
    }
    star_tables.push((
        star::dim_date_schema(),
        star::dim_date_of(companies(), &fiscal_years, from, to, batch_rows),
    ));
    for (schema, batches) in star_tables {
        let batches = batches.map_err(batch_error)?;
        write_batches(facts, &schema, ReadKind::Full, batches, report).await?;
    }
    crate::transform::reports::write_reports(
        facts,
        &fiscal_years,
        days,
        invoices,
        &b.accounts,
        changed_accounts,
        batch_rows,
        report,
    )
    .await
}
