//! One sync run: the selected streams of a source into a target, concurrently.
//!
//! Each stream runs through [`penny_transform::driver::sync_stream`] with its own sink
//! handle (a PostgreSQL connection, a CSV folder handle) opened by a [`SinkFactory`];
//! the streams share the one source (and so its client and rate limiter). A failing
//! stream does not stop the others: what they committed stays committed, and the run
//! reports every failure.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use penny_transform::driver::{StreamError, StreamReport, SyncOptions, sync_stream};
use penny_transform::{CommitStats, Sink, SinkError, Source, SourceError};

use crate::error::{SyncError, chain};
use crate::progress::{ObservedSink, Progress};

/// Opens sink handles on the run's target, one per concurrent stream.
#[async_trait::async_trait]
pub trait SinkFactory: Send + Sync {
    /// A handle on the target.
    async fn open(&self) -> Result<Box<dyn Sink>, SinkError>;
    /// The target, for messages (`PostgreSQL schema pennylane_raw`, `folder ./penny-out`).
    fn describe(&self) -> String;
    /// The tables read back, when this target can (the raw tables for the
    /// transformation; the transformed ones for its incremental update).
    fn read_back(&self) -> Option<&dyn penny_transform::ReadBack> {
        None
    }
    /// What the raw loads changed, when this target tracks it (for the incremental
    /// transformation; without it, the transformation is rebuilt whole).
    fn change_tracking(&self) -> Option<&dyn crate::transform::update::ChangeTracking> {
        None
    }
    /// Deletes the raw ledger entries no raw ledger line names any more, but those of
    /// `keep` (`(company_id, id)`): an entry deleted with all its lines, which the API
    /// door sees only as its lines' deletions. Returns how many were deleted; `None`
    /// when this target cannot (the CSV folder: such entries stay until a full read).
    async fn delete_entries_without_lines(
        &self,
        keep: &std::collections::BTreeSet<(i64, i64)>,
    ) -> Result<Option<u64>, SinkError> {
        let _ = keep;
        Ok(None)
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// The streams that completed, in the order they were asked for.
    pub reports: Vec<StreamReport>,
    /// The streams that failed, with why.
    pub failures: Vec<(String, StreamError)>,
    /// The canonical rebuild after the raw load, when it ran (the last one of a
    /// ledger-first run).
    pub transform: Option<crate::transform::TransformReport>,
    /// A ledger-first run's transformation made after the ledger's streams, before
    /// the others were read.
    pub ledger: Option<crate::transform::TransformReport>,
    /// Wall time.
    pub duration: Duration,
}

impl RunSummary {
    /// The commits' counts over every stream.
    pub fn totals(&self) -> CommitStats {
        let mut t = CommitStats::default();
        for r in &self.reports {
            t.add(r.stats);
        }
        t
    }

    /// The failed streams as one error (`None` when all succeeded); its
    /// [`class`](SyncError::class) is the most serious of theirs.
    pub fn error(&self) -> Option<SyncError> {
        if self.failures.is_empty() {
            return None;
        }
        Some(SyncError::Streams {
            failures: self
                .failures
                .iter()
                .map(|(s, e)| crate::error::StreamFailure::new(s, e))
                .collect(),
            committed: self.reports.len(),
        })
    }

    /// The one-line summary of the run.
    pub fn line(&self) -> String {
        let t = self.totals();
        let transform = match &self.transform {
            Some(t) => {
                let door = t.door;
                let verb = match t.mode {
                    crate::transform::TransformMode::Updated => "updated incrementally",
                    crate::transform::TransformMode::Rebuilt => "rebuilt",
                };
                let mut line = format!(
                    "; canonical model, star schema and reports {verb} ({door} door): {} rows in {} tables",
                    t.rows(),
                    t.tables.len()
                );
                if let Some(n) = t.review {
                    line.push_str(&format!("; closing review: {n} findings"));
                }
                if t.closed_year_changes > 0 {
                    line.push_str(&format!(
                        "; {} lines changed in closed fiscal years",
                        t.closed_year_changes
                    ));
                }
                if let Some(n) = t.reconciliation {
                    line.push_str(&format!(
                        "; {n} accounts differ from Pennylane's trial balance"
                    ));
                }
                line
            }
            None => String::new(),
        };
        format!(
            "{} streams synced{}, {} inserted, {} updated, {} deleted, in {}{transform}",
            self.reports.len(),
            if self.failures.is_empty() {
                String::new()
            } else {
                format!(" ({} failed)", self.failures.len())
            },
            t.inserted,
            t.updated,
            t.deleted,
            crate::duration::format_duration(self.duration),
        )
    }
}

/// The streams to run: `requested` (or every stream of the source when empty),
/// checked against what the source offers.
pub async fn select_streams(
    source: &dyn Source,
    requested: &[String],
) -> Result<Vec<String>, SyncError> {
    let offered = source.streams().await.map_err(SyncError::from)?;
    let names: Vec<String> = offered.iter().map(|s| s.name().to_owned()).collect();
    if requested.is_empty() {
        return Ok(names);
    }
    let unknown: Vec<&String> = requested.iter().filter(|r| !names.contains(r)).collect();
    if !unknown.is_empty() {
        let e = SourceError::UnknownStream {
            stream: unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            available: names.join(", "),
        };
        return Err(SyncError::from(e));
    }
    Ok(requested.to_vec())
}

/// Runs `streams` of `source` into handles from `sinks`, `concurrency` at a time.
pub async fn sync_streams(
    source: &dyn Source,
    sinks: &dyn SinkFactory,
    streams: &[String],
    options: SyncOptions,
    concurrency: usize,
    progress: &dyn Progress,
) -> RunSummary {
    let started = Instant::now();
    let runs = futures_util::stream::iter(streams.iter().enumerate().map(|(i, stream)| {
        let stream = stream.clone();
        async move {
            let observer = progress.stream(&stream);
            let result = async {
                let inner = sinks.open().await.map_err(StreamError::Sink)?;
                let mut sink = ObservedSink::new(inner, observer.clone());
                sync_stream(source, &mut sink, &stream, options).await
            }
            .await;
            observer.finished(result.as_ref());
            match &result {
                Ok(r) => {
                    tracing::info!(
                        stream = %stream,
                        kind = ?r.kind,
                        resumed = r.resumed,
                        inserted = r.stats.inserted,
                        updated = r.stats.updated,
                        deleted = r.stats.deleted,
                        seconds = r.duration.as_secs_f64(),
                        "stream synced"
                    );
                }
                Err(e) => {
                    tracing::error!(stream = %stream, error = %chain(e), "stream failed");
                }
            }
            (i, stream, result)
        }
    }))
    .buffer_unordered(concurrency.max(1));
    let mut done: Vec<_> = runs.collect().await;
    done.sort_by_key(|(i, _, _)| *i);
    let mut summary = RunSummary::default();
    for (_, stream, result) in done {
        match result {
            Ok(r) => summary.reports.push(r),
            Err(e) => summary.failures.push((stream, e)),
        }
    }
    summary.duration = started.elapsed();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::csv_sink::{CsvOptions, CsvSink};
    use std::sync::Mutex;

    /// Hands out handles on one CSV folder.
    struct CsvFolder(Mutex<CsvSink>);

    #[async_trait::async_trait]
    impl SinkFactory for CsvFolder {
        async fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
            Ok(Box::new(self.0.lock().unwrap().handle()))
        }
        fn describe(&self) -> String {
            "a test folder".into()
        }
    }

    #[tokio::test]
    async fn every_stream_lands_and_a_failure_is_reported_with_its_class() {
        let dir = tempfile::tempdir().unwrap();
        let source = penny_transform::testing::MemorySource::example();
        let schema = penny_transform::Schema::new(
            "accounts",
            vec![
                penny_transform::Column::required("id", penny_transform::LogicalType::Int64),
                penny_transform::Column::nullable("label", penny_transform::LogicalType::Text),
            ],
            ["id"],
        )
        .unwrap();
        source.add_table(penny_transform::StreamInfo::new(
            schema,
            penny_transform::SyncMode::FullOnly,
        ));
        for id in 0..5 {
            source
                .upsert(
                    "accounts",
                    vec![
                        penny_transform::Value::Int64(id),
                        penny_transform::Value::Text(format!("account {id}")),
                    ],
                )
                .unwrap();
        }
        let sinks = CsvFolder(Mutex::new(
            CsvSink::open(dir.path(), CsvOptions::default()).unwrap(),
        ));
        let streams = select_streams(&source, &[]).await.unwrap();
        assert!(streams.len() >= 2, "{streams:?}");
        let run = sync_streams(
            &source,
            &sinks,
            &streams,
            SyncOptions::default(),
            4,
            &crate::progress::NoProgress,
        )
        .await;
        assert!(run.failures.is_empty());
        assert_eq!(run.reports.len(), streams.len());
        for s in &streams {
            assert!(dir.path().join(format!("{s}.csv")).exists(), "{s}");
        }
        assert!(
            run.line()
                .contains(&format!("{} streams synced", streams.len()))
        );

        let err = select_streams(&source, &["nope".to_owned()])
            .await
            .unwrap_err();
        assert_eq!(err.class(), penny_transform::ErrorClass::Config);
        assert!(err.to_string().contains("nope"), "{err}");

        source.fail_next_read_after(0);
        let run = sync_streams(
            &source,
            &sinks,
            &streams,
            SyncOptions { full: true },
            1,
            &crate::progress::NoProgress,
        )
        .await;
        assert_eq!(run.failures.len(), 1);
        let err = run.error().unwrap();
        assert!(err.to_string().contains("1 of"), "{err}");
    }
}
