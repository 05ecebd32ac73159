//! The driver that runs one stream of a [`Source`] into a [`Sink`].
//!
//! It needs nothing but the traits, so a library user gets a complete, resumable
//! sync without the command line.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::batch::Operation;
use crate::error::{ErrorClass, SinkError, SourceError};
use crate::position::Position;
use crate::sink::{CommitStats, Sink};
use crate::source::{ReadKind, Source, SourceEvent};

/// How to run a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Ignore the saved position and read the whole table.
    pub full: bool,
}

/// What one stream's sync did.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    /// The stream (and table).
    pub stream: String,
    /// Whether the source read it in full or incrementally.
    pub kind: ReadKind,
    /// Batches received from the source.
    pub batches: u64,
    /// Rows received for upsert.
    pub rows_upserted: u64,
    /// Keys received for deletion.
    pub rows_deleted: u64,
    /// What the sink's commits changed.
    pub stats: CommitStats,
    /// Commits made.
    pub commits: u64,
    /// The last position committed (unchanged when nothing was committed).
    pub position: Option<Position>,
    /// Wall time of the run.
    pub duration: Duration,
}

/// A failed sync: which side failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The source failed; the sink was rolled back to its last commit.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The sink failed; its last commit stands.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl SyncError {
    /// The kind of failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            SyncError::Source(e) => e.class(),
            SyncError::Sink(e) => e.class(),
        }
    }
}

/// Reads `stream` from `source` and writes it into `sink`, resuming from the sink's
/// saved position unless `options.full`.
///
/// Incremental reads are committed at every checkpoint the source yields, so an
/// interrupted run keeps what it committed. A full read is committed once, at its
/// end, so readers never see a half-replaced table. On any error the sink's pending
/// writes are aborted and the error returned.
///
/// ```
/// use penny_transform::{driver, testing::{MemorySink, MemorySource}, ReadKind};
///
/// let source = MemorySource::example();
/// let mut sink = MemorySink::default();
/// let report = futures_executor::block_on(
///     driver::sync_stream(&source, &mut sink, "journals", Default::default()),
/// )?;
/// assert_eq!(report.kind, ReadKind::Full);
/// assert_eq!(sink.rows("journals").len(), report.rows_upserted as usize);
/// # Ok::<(), penny_transform::driver::SyncError>(())
/// ```
pub async fn sync_stream(
    source: &dyn Source,
    sink: &mut dyn Sink,
    stream: &str,
    options: SyncOptions,
) -> Result<StreamReport, SyncError> {
    let started = Instant::now();
    let saved = if options.full {
        None
    } else {
        sink.saved_position(stream).await?
    };
    let streams = source.streams().await?;
    let info =
        streams
            .iter()
            .find(|s| s.name() == stream)
            .ok_or_else(|| SourceError::UnknownStream {
                stream: stream.to_owned(),
                available: streams
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    let read = source.read(stream, saved.clone()).await?;
    sink.prepare(&info.schema, read.kind).await?;

    let mut report = StreamReport {
        stream: stream.to_owned(),
        kind: read.kind,
        batches: 0,
        rows_upserted: 0,
        rows_deleted: 0,
        stats: CommitStats::default(),
        commits: 0,
        position: saved,
        duration: Duration::ZERO,
    };
    let outcome = pump(read.events, sink, info.name(), read.kind, &mut report).await;
    if let Err(error) = outcome {
        // The sink keeps its last commit; the abort's own failure is secondary.
        let _ = sink.abort(stream).await;
        return Err(error);
    }
    report.duration = started.elapsed();
    Ok(report)
}

async fn pump(
    mut events: crate::source::EventStream<'_>,
    sink: &mut dyn Sink,
    stream: &str,
    kind: ReadKind,
    report: &mut StreamReport,
) -> Result<(), SyncError> {
    let mut uncommitted = false;
    let mut last_checkpoint: Option<Position> = None;
    while let Some(event) = events.next().await {
        match event? {
            SourceEvent::Batch(batch) => {
                if batch.table() != stream {
                    return Err(SourceError::Data {
                        stream: stream.to_owned(),
                        source: format!("the source sent a batch for table `{}`", batch.table())
                            .into(),
                    }
                    .into());
                }
                report.batches += 1;
                match batch.operation() {
                    Operation::Upsert => report.rows_upserted += batch.len() as u64,
                    Operation::Delete => report.rows_deleted += batch.len() as u64,
                }
                sink.write(batch).await?;
                uncommitted = true;
            }
            SourceEvent::Checkpoint(position) => match kind {
                ReadKind::Incremental => {
                    let stats = sink.commit(stream, Some(position.clone())).await?;
                    report.stats.add(stats);
                    report.commits += 1;
                    report.position = Some(position);
                    uncommitted = false;
                }
                ReadKind::Full => {
                    last_checkpoint = Some(position);
                    uncommitted = true;
                }
            },
        }
    }
    if uncommitted || kind == ReadKind::Full {
        // An incremental read that ended without a final checkpoint keeps the previous
        // position: its rows are committed, and the next run re-reads from there. A full
        // read commits the position it ended on, or none (the next run reads in full).
        let position = match kind {
            ReadKind::Full => last_checkpoint,
            ReadKind::Incremental => report.position.clone(),
        };
        let stats = sink.commit(stream, position.clone()).await?;
        report.stats.add(stats);
        report.commits += 1;
        report.position = position;
    }
    Ok(())
}
