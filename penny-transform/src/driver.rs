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
    /// Ignore the saved position and any staged full read: read the whole table from
    /// its start.
    pub full: bool,
}

/// What one stream's sync did.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    /// The stream (and table).
    pub stream: String,
    /// Whether the source read it in full or incrementally.
    pub kind: ReadKind,
    /// Whether this run continued a full read an earlier run had staged.
    pub resumed: bool,
    /// Resume points handed to the sink ([`Sink::stage`]).
    pub stages: u64,
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
pub enum StreamError {
    /// The source failed; the sink was rolled back to its last commit.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The sink failed; its last commit stands.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl StreamError {
    /// The kind of failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            StreamError::Source(e) => e.class(),
            StreamError::Sink(e) => e.class(),
        }
    }
}

/// Reads `stream` from `source` and writes it into `sink`, resuming from the sink's
/// saved position unless `options.full`.
///
/// Incremental reads are committed at every checkpoint the source yields, so an
/// interrupted run keeps what it committed. A full read is committed once, at its
/// end, so readers never see a half-replaced table; its resume points are staged
/// ([`Sink::stage`]) on the way, and a full read the sink holds staged from an earlier
/// run is continued from there ([`Sink::resume`]) rather than started again, unless
/// `options.full`. On any error the sink's pending writes are aborted and the error
/// returned.
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
/// # Ok::<(), penny_transform::driver::StreamError>(())
/// ```
pub async fn sync_stream(
    source: &dyn Source,
    sink: &mut dyn Sink,
    stream: &str,
    options: SyncOptions,
) -> Result<StreamReport, StreamError> {
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
    let staged = if options.full {
        None
    } else {
        sink.staged_position(stream).await?
    };
    let mut read = source
        .read(stream, staged.clone().or_else(|| saved.clone()))
        .await?;
    let resumed = match (&staged, read.resumed) {
        (Some(_), true) if sink.resume(&info.schema).await? => true,
        (_, true) => {
            // The sink holds nothing to continue: the read starts again from the start.
            drop(read);
            read = source.read(stream, None).await?;
            sink.prepare(&info.schema, read.kind).await?;
            false
        }
        (_, false) => {
            sink.prepare(&info.schema, read.kind).await?;
            false
        }
    };

    let mut report = StreamReport {
        stream: stream.to_owned(),
        kind: read.kind,
        resumed,
        stages: 0,
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
) -> Result<(), StreamError> {
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
            SourceEvent::Resume(position) => {
                if kind == ReadKind::Full {
                    sink.stage(stream, position).await?;
                    report.stages += 1;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemorySink, MemorySource};
    use crate::{Column, LogicalType, Schema, StreamInfo, SyncMode, Value};

    fn source(rows: i64) -> MemorySource {
        let source = MemorySource::new(10);
        let schema = Schema::new(
            "lines",
            vec![
                Column::required("id", LogicalType::Int64),
                Column::nullable("label", LogicalType::Text),
            ],
            ["id"],
        )
        .expect("a valid schema");
        source.add_table(StreamInfo::new(schema, SyncMode::Changelog));
        for id in 0..rows {
            source
                .upsert("lines", vec![Value::Int64(id), format!("line {id}").into()])
                .expect("a valid row");
        }
        source
    }

    fn run(source: &MemorySource, sink: &mut MemorySink, options: SyncOptions) -> StreamReport {
        futures_executor::block_on(sync_stream(source, sink, "lines", options)).expect("a sync")
    }

    #[test]
    fn an_interrupted_full_read_resumes_from_its_last_resume_point() {
        let source = source(95);
        let mut sink = MemorySink::default();
        source.fail_next_read_after(6);
        let failed = futures_executor::block_on(sync_stream(
            &source,
            &mut sink,
            "lines",
            SyncOptions::default(),
        ));
        assert!(failed.is_err());
        assert!(
            sink.rows("lines").is_empty(),
            "nothing visible before the end"
        );
        let staged = futures_executor::block_on(sink.staged_position("lines"))
            .expect("a memory sink answers")
            .expect("the read was staged");
        let staged: crate::testing::MemoryResume = staged.decode().expect("a memory resume");
        assert_eq!(
            staged.after.0,
            vec![Value::Int64(49)],
            "five batches staged"
        );

        // Changes while the read is interrupted: one before the resume point, one after.
        source
            .upsert("lines", vec![Value::Int64(3), "changed".into()])
            .expect("a valid row");
        source
            .upsert("lines", vec![Value::Int64(80), "changed too".into()])
            .expect("a valid row");
        let report = run(&source, &mut sink, SyncOptions::default());
        assert!(report.resumed);
        assert_eq!(report.kind, ReadKind::Full);
        assert_eq!(report.rows_upserted, 45, "only the rest is read again");
        assert_eq!(sink.rows("lines").len(), 95);
        // The next incremental read brings the change made before the resume point.
        let report = run(&source, &mut sink, SyncOptions::default());
        assert_eq!(report.kind, ReadKind::Incremental);
        let mut fresh = MemorySink::default();
        run(&source, &mut fresh, SyncOptions::default());
        assert_eq!(sink.rows("lines"), fresh.rows("lines"));
        assert_eq!(
            futures_executor::block_on(sink.staged_position("lines")).expect("answers"),
            None,
            "the commit ends the staged read"
        );
    }

    #[test]
    fn a_full_option_drops_a_staged_read_and_starts_again() {
        let source = source(40);
        let mut sink = MemorySink::default();
        source.fail_next_read_after(2);
        assert!(
            futures_executor::block_on(sync_stream(
                &source,
                &mut sink,
                "lines",
                SyncOptions::default()
            ))
            .is_err()
        );
        let report = run(&source, &mut sink, SyncOptions { full: true });
        assert!(!report.resumed);
        assert_eq!(report.rows_upserted, 40);
        assert_eq!(report.stages, 4, "a resume point after each full batch");
        assert_eq!(sink.rows("lines").len(), 40);
    }
}
