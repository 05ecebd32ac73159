//! The bottom of stage 2, shared by the whole rebuild and the incremental update: the
//! settings, the report of what was written, the door and mode it ran by, and the
//! writers (a table replaced whole, or merged by its changes).

use penny_transform::canonical::MappingError;
use penny_transform::canonical::tables::{CanonicalTable, to_batches};
use penny_transform::{Batch, CommitStats, ReadBack, ReadKind, Sink, SinkError, TableRead};

use crate::error::SyncError;

/// How the transformation runs: `sync.batch_rows` and the `[fiscal]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformSettings {
    /// Rows per batch read and written.
    pub batch_rows: usize,
    /// The month (1 to 12) fiscal years start in for the companies whose source gives
    /// none ([`FiscalYear::assumed`](penny_transform::canonical::FiscalYear::assumed)).
    pub year_start_month: u32,
    /// How many changed ledger lines and entries an incremental update takes on; above,
    /// the transformation is rebuilt whole instead. An update holds its changed lines
    /// in memory (about 2 KB each, their analytical categories included), the whole
    /// rebuild streams them: the limit bounds a cycle's memory after a bulk change (an
    /// import, a year re-opened) at the price of a longer cycle.
    pub incremental_limit: usize,
}

/// The default [`TransformSettings::incremental_limit`]: 50,000 changed lines and
/// entries (about 100 MiB of changed lines held).
pub const DEFAULT_INCREMENTAL_LIMIT: usize = 50_000;

impl TransformSettings {
    /// Batches of `batch_rows` rows, fiscal years assumed to start in January, the
    /// default incremental limit.
    pub fn new(batch_rows: usize) -> Self {
        TransformSettings {
            batch_rows,
            year_start_month: 1,
            incremental_limit: DEFAULT_INCREMENTAL_LIMIT,
        }
    }
}

/// Calls `f` on every batch of `table` (nothing if it is absent).
pub(crate) async fn each_batch(
    raw: &dyn ReadBack,
    table: &str,
    batch_rows: usize,
    mut f: impl FnMut(Batch) -> Result<(), SyncError>,
) -> Result<(), SyncError> {
    use futures_util::TryStreamExt;
    if let Some(mut batches) = raw
        .read(&TableRead::new(table, batch_rows))
        .await
        .map_err(sink)?
    {
        while let Some(b) = batches.try_next().await.map_err(sink)? {
            f(b)?;
        }
    }
    Ok(())
}

/// The door the raw tables came through, whose mapping the transformation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoorKind {
    /// The Company or Firm API (`penny-api`).
    #[default]
    Api,
    /// Data Sharing (`penny-redshift`).
    DataSharing,
}

impl DoorKind {
    /// `api` or `data sharing`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            DoorKind::Api => "api",
            DoorKind::DataSharing => "data sharing",
        }
    }
}

impl std::fmt::Display for DoorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a transformation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransformMode {
    /// Every table rebuilt whole from the raw tables (each replaced in one commit).
    #[default]
    Rebuilt,
    /// Only what the raw load changed merged into the saved tables.
    Updated,
}

/// What the rebuild wrote: each canonical table and its commit.
#[derive(Debug, Default)]
pub struct TransformReport {
    /// Which door's mapping was used.
    pub door: DoorKind,
    /// Rebuilt whole or updated by what changed.
    pub mode: TransformMode,
    /// Table name, rows written, and the commit's counts.
    pub tables: Vec<(String, u64, CommitStats)>,
    /// Wall time of the transformation.
    pub duration: std::time::Duration,
    /// What an incremental update made afresh from every record because the sums saved
    /// by the last run could not be changed by the changes (`line sums`, `invoices'
    /// digest`; see [`update`](crate::transform::update)); empty for a whole rebuild.
    pub afresh: Vec<&'static str>,
    /// The accounts whose figures differ from Pennylane's own trial balance
    /// (`report_quality_findings`); `None` when there was none to compare with, or the
    /// run did not compare (an incremental update).
    pub reconciliation: Option<u64>,
    /// The findings of the closing review (`report_review`); `None` when the run did
    /// not review (an incremental update).
    pub review: Option<u64>,
    /// Ledger lines this run saw inserted, changed or deleted in a closed or frozen
    /// fiscal year (added to `report_review`).
    pub closed_year_changes: u64,
}

impl TransformReport {
    /// Rows written over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n, _)| *n).sum()
    }
}

pub(crate) fn mapping(e: MappingError) -> SyncError {
    SyncError::from(e)
}

pub(crate) fn sink(e: SinkError) -> SyncError {
    SyncError::from(e)
}

/// Which of the transactional tables [`write_books`] writes whole, and whether it
/// writes the reference tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WholeTables {
    pub invoices: bool,
    pub invoice_lines: bool,
    pub payments: bool,
    pub bank_transactions: bool,
    /// The reference tables (companies, accounts, journals, third parties, fiscal
    /// years: canonical, and their dimensions but `dim_date`) are written; false when
    /// their raw tables did not change since the run that wrote them.
    pub references: bool,
}

impl WholeTables {
    /// No transactional table whole; the reference tables written.
    pub(crate) const NONE: WholeTables = WholeTables {
        invoices: false,
        invoice_lines: false,
        payments: false,
        bank_transactions: false,
        references: true,
    };
}

pub(crate) fn batch_error(e: penny_transform::BatchError) -> SyncError {
    SyncError::from(e)
}

/// Writes `schema`'s rows in one commit: with `gone` `None` they replace the table,
/// otherwise they are merged into it and the keys `gone` deleted.
pub(crate) async fn write_changes(
    out: &mut dyn Sink,
    (schema, batches, gone): penny_transform::reports::incremental::TableWrite,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    match gone {
        None => write_batches(out, &schema, ReadKind::Full, batches, report).await,
        Some(gone) => {
            let mut batches = batches;
            if !gone.is_empty() {
                batches.push(Batch::delete(schema.clone(), gone).map_err(batch_error)?);
            }
            write_batches(out, &schema, ReadKind::Incremental, batches, report).await
        }
    }
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
) -> Result<(), SyncError> {
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
) -> Result<(), SyncError> {
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
