//! One run: the requested streams of a source into [`Targets`], then the
//! transformation.

use std::path::Path;

use penny_transform::driver::SyncOptions;
use penny_transform::{DEFAULT_BATCH_ROWS, Source};

use crate::error::SyncError;
use crate::pipeline::{self, RunSummary, SinkFactory};
use crate::progress::Progress;
use crate::target::csv_sink::CsvOptions;
use crate::target::{CsvTarget, PgTarget};
use crate::transform::TransformSettings;

/// What a run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// The streams to read (every stream of the source when empty).
    pub streams: Vec<String>,
    /// Read every stream whole, whatever was saved.
    pub full: bool,
    /// How many streams are read at once.
    pub concurrency: usize,
    /// The transformation after the raw load (`None`: raw tables only).
    pub transform: Option<TransformSettings>,
}

impl Default for RunOptions {
    /// Every stream, incremental where the source can, 4 at once, then the
    /// transformation with the default settings.
    fn default() -> Self {
        RunOptions {
            streams: Vec::new(),
            full: false,
            concurrency: 4,
            transform: Some(TransformSettings::new(DEFAULT_BATCH_ROWS)),
        }
    }
}

impl RunOptions {
    /// Only `streams` (every stream of the source when empty).
    pub fn streams(mut self, streams: &[&str]) -> Self {
        self.streams = streams.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Every stream read whole when `full`, whatever was saved.
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// `n` streams read at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// The transformation after the raw load with `settings` (`None`: raw tables only).
    pub fn transform(mut self, settings: Option<TransformSettings>) -> Self {
        self.transform = settings;
        self
    }

    /// The transformation with the default settings but `batch_rows` rows per batch.
    pub fn batch_rows(self, batch_rows: usize) -> Self {
        self.transform(Some(TransformSettings::new(batch_rows)))
    }
}

/// Where a run writes: the raw tables, and the canonical model (`None`: the same place).
pub struct Targets {
    /// The raw tables.
    pub raw: Box<dyn SinkFactory>,
    /// The canonical model and reports, when elsewhere (the star schema).
    pub star: Option<Box<dyn SinkFactory>>,
}

impl Targets {
    /// The CSV folder `dir`, for both.
    pub fn csv(dir: &Path, bom: bool) -> Result<Targets, penny_transform::SinkError> {
        let target = CsvTarget::open(dir, CsvOptions { bom })?;
        Ok(Targets {
            raw: Box::new(target),
            star: None,
        })
    }

    /// PostgreSQL at `url`: schemas `raw_schema` and `star_schema`, both locked for the run.
    pub async fn postgres(
        url: &str,
        raw_schema: &str,
        star_schema: &str,
        source: &dyn Source,
    ) -> Result<Targets, penny_transform::SinkError> {
        let schemas = source
            .streams()
            .await
            .map_err(|e| penny_transform::SinkError::Config { source: e.into() })?
            .into_iter()
            .map(|s| s.schema)
            .collect();
        let raw = PgTarget::open(url, raw_schema, source.name())
            .await?
            .with_schemas(schemas);
        let star = PgTarget::open(url, star_schema, "penny-transform").await?;
        Ok(Targets {
            raw: Box::new(raw),
            star: Some(Box::new(star)),
        })
    }

    /// Where the canonical model goes.
    pub fn star(&self) -> &dyn SinkFactory {
        self.star.as_deref().unwrap_or(self.raw.as_ref())
    }
}

/// One run of `run.streams` (all when empty) of `source` into `targets`, then the
/// transformation with the `run.transform` settings when given and every stream
/// succeeded; `progress` is told what each stream does.
pub async fn run(
    source: &dyn Source,
    targets: &Targets,
    run: RunOptions,
    progress: &dyn Progress,
) -> Result<RunSummary, SyncError> {
    let started = std::time::Instant::now();
    let (requested, transform, concurrency) = (&run.streams, run.transform, run.concurrency);
    let options = SyncOptions { full: run.full };
    let streams = pipeline::select_streams(source, requested).await?;
    tracing::info!(
        source = source.name(),
        target = %targets.raw.describe(),
        streams = streams.len(),
        full = options.full,
        "sync starting"
    );
    // A first (or full) read puts the ledger first: its star tables and accounting
    // reports are built and committed before the invoices, which cost most requests.
    let (first, then): (Vec<String>, Vec<String>) = streams
        .iter()
        .cloned()
        .partition(|s| LEDGER_FIRST.contains(&s.as_str()));
    let phased = transform.is_some()
        && !first.is_empty()
        && !then.is_empty()
        && (options.full || first_api_read(targets).await);
    let phases = if phased {
        vec![first, then]
    } else {
        vec![streams.clone()]
    };
    let mut summary = RunSummary::default();
    for (i, phase) in phases.iter().enumerate() {
        if i > 0 {
            tracing::info!(
                streams = phase.len(),
                "ledger tables and accounting reports committed: the invoices follow"
            );
        }
        let run = pipeline::sync_streams(
            source,
            targets.raw.as_ref(),
            phase,
            options,
            concurrency,
            progress,
        )
        .await;
        summary.reports.extend(run.reports);
        summary.failures.extend(run.failures);
        if !summary.failures.is_empty() {
            break;
        }
        delete_entries_without_lines(targets, phase).await?;
        if let Some(settings) = transform {
            let report = rebuild(targets.raw.as_ref(), targets.star(), settings).await?;
            if i == 0 && phased {
                summary.ledger = report;
                continue;
            }
            summary.transform = report;
            // The ledger's checks (made with the ledger) stand when the invoices' update
            // did not make them again.
            if let (Some(now), Some(ledger)) = (summary.transform.as_mut(), &summary.ledger) {
                now.review = now.review.or(ledger.review);
                now.reconciliation = now.reconciliation.or(ledger.reconciliation);
            }
        }
    }
    summary.duration = started.elapsed();
    Ok(summary)
}

/// The streams a first sync reads, transforms and commits before the others: the
/// ledger and what its reports need (the accounts, journals and fiscal years, the
/// entries and their lines, Pennylane's own trial balance).
pub const LEDGER_FIRST: &[&str] = &[
    "companies",
    "journals",
    "ledger_accounts",
    "fiscal_years",
    "ledger_entry_lines",
    "ledger_entries",
    "trial_balance",
];

/// After a raw load that deleted ledger lines, deletes the raw entries no line names any
/// more: the API door sees an entry deleted with its lines only as its lines' deletions
/// (Pennylane has no entry change log, and a deleted line's entry cannot be asked for),
/// so the entry is deleted here, where the raw tables are known. Only when both streams
/// ran (and succeeded); the entries this run upserted are kept (their lines may come
/// with the next run, when the lines' read ended before they were inserted).
async fn delete_entries_without_lines(
    targets: &Targets,
    streams: &[String],
) -> Result<(), SyncError> {
    let ran = |s: &str| streams.iter().any(|n| n == s);
    if !ran("ledger_entries") || !ran("ledger_entry_lines") {
        return Ok(());
    }
    let Some(changes) = targets
        .raw
        .change_tracking()
        .map(|t| t.changes().snapshot())
    else {
        return Ok(());
    };
    if changes
        .get("ledger_entry_lines")
        .is_none_or(|c| c.deleted.is_empty())
    {
        return Ok(());
    }
    let keep = changes
        .get("ledger_entries")
        .map(|c| c.upserted.clone())
        .unwrap_or_default();
    match targets.raw.delete_entries_without_lines(&keep).await {
        Ok(Some(n)) if n > 0 => {
            tracing::info!(
                entries = n,
                "raw ledger entries whose lines were all deleted: deleted"
            );
        }
        Ok(_) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Whether the target holds no position of the API's ledger lines yet (a first read).
/// False when that cannot be told: the sync itself then says what is wrong.
pub async fn first_api_read(targets: &Targets) -> bool {
    let Ok(mut sink) = targets.raw.open().await else {
        return false;
    };
    matches!(sink.saved_position("ledger_entry_lines").await, Ok(None))
}

/// Rebuilds the canonical model from the target's raw tables, when it can read them.
pub async fn rebuild(
    target: &dyn SinkFactory,
    star: &dyn SinkFactory,
    settings: TransformSettings,
) -> Result<Option<crate::transform::TransformReport>, SyncError> {
    let Some(raw) = target.read_back() else {
        tracing::warn!(target = %target.describe(), "this target cannot read its raw tables back: the canonical model was not rebuilt");
        return Ok(None);
    };
    tracing::debug!(
        memory_mib = ?crate::progress::memory_mib(),
        "transformation starting"
    );
    let mut out = star.open().await.map_err(SyncError::from)?;
    let mut facts = star.open().await.map_err(SyncError::from)?;
    let report = crate::transform::rebuild_canonical(
        raw,
        target.change_tracking(),
        star.read_back(),
        out.as_mut(),
        facts.as_mut(),
        settings,
    )
    .await?;
    tracing::info!(
        door = %report.door,
        mode = ?report.mode,
        tables = report.tables.len(),
        rows = report.rows(),
        "canonical model rebuilt"
    );
    Ok(Some(report))
}
