//! After the raw load: the canonical model and the star schema, rebuilt from the raw
//! tables.
//!
//! The raw tables are read back from the target ([`RawTables`]), mapped by the door
//! they came through (`penny_transform::canonical::from_api` or `from_data_sharing`,
//! chosen by the tables present: `ledger_entry_lines` means the API, else
//! `general_ledger` means Data Sharing), and written
//! as the `canonical_*` tables through the same [`Sink`] trait, each replaced whole
//! in one commit (readers see the old table or the new one, never a mix).
//!
//! The reports ([`crate::reports`]) are written with the star schema.
//!
//! After an incremental raw load into PostgreSQL, only what the load changed is
//! updated instead ([`crate::incremental`]); a full sync, the Data Sharing door and
//! the CSV target keep the atomic full rebuild.
//!
//! Memory: the small reference tables are held (they are small); ledger lines are
//! streamed, mapped and written one batch at a time from PostgreSQL, and summed per
//! account and day for the reports. The CSV target reads a whole file before
//! streaming it (its files are demo-sized).

use penny_transform::canonical::from_api::ApiMapper;
use penny_transform::canonical::from_data_sharing::DataSharingMapper;
use penny_transform::canonical::tables::{CanonicalTable, to_batches};
use penny_transform::canonical::{Books, LedgerLine, MappingError};
use penny_transform::{Batch, CommitStats, ReadKind, Sink, SinkError, star};

use crate::exit::{CliError, ExitCode};

/// The batches of a table read back, in primary-key order.
pub type BatchStream<'a> =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Batch, SinkError>> + Send + 'a>>;

/// Raw tables read back from a target.
#[async_trait::async_trait]
pub trait RawTables: Send + Sync {
    /// Whether `table` is there.
    async fn has(&self, table: &str) -> Result<bool, SinkError>;
    /// The whole of `table` as a stream of batches of at most `batch_rows` rows
    /// (`None` if absent).
    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<BatchStream<'_>>, SinkError>;
    /// The incremental side of these tables (what changed, filtered reads), when the
    /// target has one; `None`: the transformation is always rebuilt whole.
    fn incremental(&self) -> Option<&dyn crate::incremental::IncrementalRaw> {
        None
    }
}

/// Calls `f` on every batch of `table` (nothing if it is absent).
pub(crate) async fn each_batch(
    raw: &dyn RawTables,
    table: &str,
    batch_rows: usize,
    mut f: impl FnMut(Batch) -> Result<(), CliError>,
) -> Result<(), CliError> {
    use futures_util::TryStreamExt;
    if let Some(mut batches) = raw.read(table, batch_rows).await.map_err(sink)? {
        while let Some(b) = batches.try_next().await.map_err(sink)? {
            f(b)?;
        }
    }
    Ok(())
}

/// What the rebuild wrote: each canonical table and its commit.
#[derive(Debug, Default)]
pub struct TransformReport {
    /// Which door's mapping was used.
    pub door: &'static str,
    /// Table name, rows written, and the commit's counts.
    pub tables: Vec<(String, u64, CommitStats)>,
    /// Wall time of the transformation.
    pub duration: std::time::Duration,
}

impl TransformReport {
    /// Rows written over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n, _)| *n).sum()
    }
}

/// The API door's small tables, in the order the mapper needs them.
pub(crate) const API_TABLES: &[&str] = &[
    "companies",
    "ledger_accounts",
    "journals",
    "ledger_entries",
    "fiscal_years",
    "customers",
    "suppliers",
    "customer_invoices",
    "supplier_invoices",
    "customer_invoice_lines",
    "supplier_invoice_lines",
    "customer_invoice_payments",
    "supplier_invoice_payments",
    "transactions",
];

/// The Data Sharing door's small tables.
const DATA_SHARING_TABLES: &[&str] = &[
    "companies",
    "fiscal_years",
    "customers",
    "suppliers",
    "customer_invoices",
    "supplier_invoices",
    "bank_transactions",
];

pub(crate) fn mapping(e: MappingError) -> CliError {
    CliError::new(ExitCode::Data, &e)
}

pub(crate) fn sink(e: SinkError) -> CliError {
    CliError::classed(e.class(), &e)
}

/// The mapping of one door, fed with the small tables, ready for the ledger lines.
pub enum Door {
    /// The API door.
    Api(Box<ApiMapper>),
    /// The Data Sharing door.
    DataSharing(Box<DataSharingMapper>),
}

impl Door {
    /// `api` or `data sharing`.
    pub fn name(&self) -> &'static str {
        match self {
            Door::Api(_) => "api",
            Door::DataSharing(_) => "data sharing",
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
    pub fn lines(&mut self, batch: &Batch) -> Result<Vec<LedgerLine>, CliError> {
        match self {
            Door::Api(m) => m.ledger_lines(batch),
            Door::DataSharing(m) => m.ledger_lines(batch),
        }
        .map_err(mapping)
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
/// were synced) and maps its small tables.
pub async fn map_small_tables(raw: &dyn RawTables, batch_rows: usize) -> Result<Door, CliError> {
    let api_lines = raw.has("ledger_entry_lines").await.map_err(sink)?;
    let data_sharing = !api_lines && raw.has("general_ledger").await.map_err(sink)?;
    if data_sharing {
        let mut mapper = DataSharingMapper::default();
        for table in DATA_SHARING_TABLES {
            each_batch(raw, table, batch_rows, |batch| {
                mapper.add(&batch).map(|_| ()).map_err(mapping)
            })
            .await?;
        }
        Ok(Door::DataSharing(Box::new(mapper)))
    } else {
        let mut mapper = ApiMapper::default();
        for table in API_TABLES {
            each_batch(raw, table, batch_rows, |batch| {
                mapper.add(&batch).map(|_| ()).map_err(mapping)
            })
            .await?;
        }
        // Resolves third parties' accounts before the lines need them.
        let _ = mapper.books();
        Ok(Door::Api(Box::new(mapper)))
    }
}

/// The books and every ledger line (held in memory: for exports that list them all).
pub async fn map_everything(
    raw: &dyn RawTables,
    batch_rows: usize,
) -> Result<(Books, Vec<LedgerLine>), CliError> {
    let mut door = map_small_tables(raw, batch_rows).await?;
    let mut lines = Vec::new();
    let table = door.lines_table();
    each_batch(raw, table, batch_rows, |batch| {
        lines.extend(door.lines(&batch)?);
        Ok(())
    })
    .await?;
    Ok((door.into_books(), lines))
}

/// Rebuilds the canonical tables and the star schema (`penny_transform::star`) from
/// `raw`: the ledger lines stream through `out` (canonical) and `facts`
/// (`fact_ledger_lines`) at once, one batch at a time; every other table follows.
///
/// When `raw` tracks its changes ([`RawTables::incremental`]) and the last raw loads
/// were incremental, only what they affected is updated
/// ([`crate::incremental::update`]); otherwise everything is rebuilt, each table
/// replaced whole in one commit.
pub async fn rebuild_canonical(
    raw: &dyn RawTables,
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    batch_rows: usize,
) -> Result<TransformReport, CliError> {
    let started = std::time::Instant::now();
    let mut report = match raw.incremental() {
        Some(inc) => match crate::incremental::update(raw, inc, out, facts, batch_rows).await? {
            Some(report) => {
                inc.changes().clear();
                report
            }
            None => {
                let report = rebuild_whole(raw, out, facts, batch_rows).await?;
                let refs = crate::incremental::Refs::read(raw, batch_rows).await?;
                inc.save_refs(&refs).await.map_err(sink)?;
                inc.changes().clear();
                report
            }
        },
        None => rebuild_whole(raw, out, facts, batch_rows).await?,
    };
    report.duration = started.elapsed();
    Ok(report)
}

/// Rebuilds everything from `raw`, each table replaced whole.
async fn rebuild_whole(
    raw: &dyn RawTables,
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    batch_rows: usize,
) -> Result<TransformReport, CliError> {
    let mut door = map_small_tables(raw, batch_rows).await?;
    let mut report = TransformReport {
        door: door.name(),
        ..TransformReport::default()
    };
    let lines_schema = LedgerLine::schema();
    out.prepare(&lines_schema, ReadKind::Full)
        .await
        .map_err(sink)?;
    let fact_schema = star::fact_ledger_lines_schema();
    facts
        .prepare(&fact_schema, ReadKind::Full)
        .await
        .map_err(sink)?;
    let mut dates: Option<(chrono::NaiveDate, chrono::NaiveDate)> = None;
    let mut days = crate::reports::LineDays::default();
    let mut line_count = 0u64;
    let mut batches = raw
        .read(door.lines_table(), batch_rows)
        .await
        .map_err(sink)?;
    while let Some(batch) = match batches.as_mut() {
        Some(b) => futures_util::TryStreamExt::try_next(b)
            .await
            .map_err(sink)?,
        None => None,
    } {
        let lines = door.lines(&batch)?;
        line_count += lines.len() as u64;
        days.add(&lines);
        for l in &lines {
            dates = Some(match dates {
                None => (l.date, l.date),
                Some((a, b)) => (a.min(l.date), b.max(l.date)),
            });
        }
        for b in to_batches(&lines, batch_rows).map_err(mapping)? {
            if let Err(e) = out.write(b).await {
                let _ = out.abort(lines_schema.name()).await;
                let _ = facts.abort(fact_schema.name()).await;
                return Err(sink(e));
            }
        }
        for b in star::fact_ledger_lines(&lines, batch_rows).map_err(batch_error)? {
            if let Err(e) = facts.write(b).await {
                let _ = out.abort(lines_schema.name()).await;
                let _ = facts.abort(fact_schema.name()).await;
                return Err(sink(e));
            }
        }
    }
    drop(batches);
    let books = door.into_books();
    let stats = out.commit(lines_schema.name(), None).await.map_err(sink)?;
    report
        .tables
        .push((lines_schema.name().to_owned(), line_count, stats));
    let stats = facts.commit(fact_schema.name(), None).await.map_err(sink)?;
    report
        .tables
        .push((fact_schema.name().to_owned(), line_count, stats));
    write_books(
        out,
        facts,
        &books,
        dates,
        &days,
        batch_rows,
        WholeTables::ALL,
        &mut report,
    )
    .await?;
    Ok(report)
}

/// Writes every table but the ledger lines, whole, from `books`; `dim_date` covers the
/// fiscal years and `dates` (the ledger lines' first and last dates).
///
/// The invoice, invoice line, payment and bank transaction tables (canonical and star)
/// are written only where `whole` says so (the incremental update merges the others).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_books(
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    books: &Books,
    dates: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    days: &crate::reports::LineDays,
    batch_rows: usize,
    whole: WholeTables,
    report: &mut TransformReport,
) -> Result<(), CliError> {
    write_table(out, &books.companies, batch_rows, report).await?;
    write_table(out, &books.accounts, batch_rows, report).await?;
    write_table(out, &books.journals, batch_rows, report).await?;
    write_table(out, &books.third_parties, batch_rows, report).await?;
    write_table(out, &books.fiscal_years, batch_rows, report).await?;
    if whole.invoices {
        write_table(out, &books.invoices, batch_rows, report).await?;
        let b = star::fact_invoices(books, batch_rows).map_err(batch_error)?;
        write_batches(
            facts,
            &star::fact_invoices_schema(),
            ReadKind::Full,
            b,
            report,
        )
        .await?;
    }
    if whole.invoice_lines {
        write_table(out, &books.invoice_lines, batch_rows, report).await?;
        let b = star::fact_invoice_lines(books, batch_rows).map_err(batch_error)?;
        write_batches(
            facts,
            &star::fact_invoice_lines_schema(),
            ReadKind::Full,
            b,
            report,
        )
        .await?;
    }
    if whole.payments {
        write_table(out, &books.payments, batch_rows, report).await?;
    }
    if whole.bank_transactions {
        write_table(out, &books.bank_transactions, batch_rows, report).await?;
        let b = star::fact_bank_transactions(books, batch_rows).map_err(batch_error)?;
        write_batches(
            facts,
            &star::fact_bank_transactions_schema(),
            ReadKind::Full,
            b,
            report,
        )
        .await?;
    }

    // The star schema's other tables, from the books. `dim_date` covers the fiscal
    // years and the lines' dates.
    let b = books;
    let (mut from, mut to) = dates.unwrap_or_else(|| {
        let today = chrono::Utc::now().date_naive();
        (today, today)
    });
    for fy in &b.fiscal_years {
        from = from.min(fy.start);
        to = to.max(fy.end);
    }
    let star_tables = [
        (star::dim_company_schema(), star::dim_company(b, batch_rows)),
        (star::dim_account_schema(), star::dim_account(b, batch_rows)),
        (star::dim_journal_schema(), star::dim_journal(b, batch_rows)),
        (
            star::dim_third_party_schema(),
            star::dim_third_party(b, batch_rows),
        ),
        (
            star::dim_date_schema(),
            star::dim_date(b, from, to, batch_rows),
        ),
    ];
    for (schema, batches) in star_tables {
        let batches = batches.map_err(batch_error)?;
        write_batches(facts, &schema, ReadKind::Full, batches, report).await?;
    }
    crate::reports::write_reports(facts, books, days, batch_rows, report).await
}

/// Which of the transactional tables [`write_books`] writes whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WholeTables {
    pub invoices: bool,
    pub invoice_lines: bool,
    pub payments: bool,
    pub bank_transactions: bool,
}

impl WholeTables {
    /// Every table whole.
    pub(crate) const ALL: WholeTables = WholeTables {
        invoices: true,
        invoice_lines: true,
        payments: true,
        bank_transactions: true,
    };
}

pub(crate) fn batch_error(e: penny_transform::BatchError) -> CliError {
    CliError::new(ExitCode::Data, &e)
}

/// Writes `batches` into `schema`'s table in one commit: a `Full` read replaces the
/// table, an `Incremental` one merges into it. On a write error the table's pending
/// writes are aborted, so it stays as last committed.
pub(crate) async fn write_batches(
    out: &mut dyn Sink,
    schema: &std::sync::Arc<penny_transform::Schema>,
    kind: ReadKind,
    batches: Vec<Batch>,
    report: &mut TransformReport,
) -> Result<(), CliError> {
    out.prepare(schema, kind).await.map_err(sink)?;
    let mut rows = 0u64;
    for b in batches {
        rows += b.len() as u64;
        if let Err(e) = out.write(b).await {
            let _ = out.abort(schema.name()).await;
            return Err(sink(e));
        }
    }
    let stats = out.commit(schema.name(), None).await.map_err(sink)?;
    report.tables.push((schema.name().to_owned(), rows, stats));
    Ok(())
}

pub(crate) async fn write_table<T: CanonicalTable>(
    out: &mut dyn Sink,
    records: &[T],
    batch_rows: usize,
    report: &mut TransformReport,
) -> Result<(), CliError> {
    let schema = T::schema();
    out.prepare(&schema, ReadKind::Full).await.map_err(sink)?;
    for b in to_batches(records, batch_rows).map_err(mapping)? {
        if let Err(e) = out.write(b).await {
            let _ = out.abort(schema.name()).await;
            return Err(sink(e));
        }
    }
    let stats = out.commit(schema.name(), None).await.map_err(sink)?;
    report
        .tables
        .push((schema.name().to_owned(), records.len() as u64, stats));
    Ok(())
}
