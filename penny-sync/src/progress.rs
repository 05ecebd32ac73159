//! Progress of a run, reported to whoever runs it: the engine calls a [`Progress`]
//! the caller supplies (the `penny` command draws bars with it; a library user may
//! log, count, or pass [`NoProgress`]).

use std::sync::Arc;

use penny_transform::driver::{StreamError, StreamReport};
use penny_transform::{Batch, CommitStats, Position, ReadKind, Schema, Sink, SinkError};

/// Hands out an observer per stream when the stream starts.
pub trait Progress: Send + Sync {
    /// Stream `stream` starts.
    fn stream(&self, stream: &str) -> Arc<dyn StreamObserver>;
}

/// What one stream does, as it does it. Every method does nothing by default.
pub trait StreamObserver: Send + Sync {
    /// `n` more rows were written (not yet committed).
    fn rows(&self, n: u64) {
        let _ = n;
    }
    /// A commit landed.
    fn committed(&self, stats: CommitStats) {
        let _ = stats;
    }
    /// The stream ended, with its report or its error.
    fn finished(&self, outcome: Result<&StreamReport, &StreamError>) {
        let _ = outcome;
    }
}

/// No progress shown.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl StreamObserver for NoProgress {}

impl Progress for NoProgress {
    fn stream(&self, _stream: &str) -> Arc<dyn StreamObserver> {
        Arc::new(NoProgress)
    }
}

/// A [`Sink`] that tells a [`StreamObserver`] what passes through it.
pub struct ObservedSink {
    inner: Box<dyn Sink>,
    observer: Arc<dyn StreamObserver>,
}

impl ObservedSink {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Sink>, observer: Arc<dyn StreamObserver>) -> Self {
        ObservedSink { inner, observer }
    }
}

#[async_trait::async_trait]
impl Sink for ObservedSink {
    async fn saved_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        self.inner.saved_position(table).await
    }
    async fn prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), SinkError> {
        self.inner.prepare(schema, kind).await
    }
    async fn write(&mut self, batch: Batch) -> Result<(), SinkError> {
        let n = batch.len() as u64;
        self.inner.write(batch).await?;
        self.observer.rows(n);
        Ok(())
    }
    async fn commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, SinkError> {
        let stats = self.inner.commit(table, position).await?;
        self.observer.committed(stats);
        Ok(stats)
    }
    async fn abort(&mut self, table: &str) -> Result<(), SinkError> {
        self.inner.abort(table).await
    }
    async fn staged_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        self.inner.staged_position(table).await
    }
    async fn stage(&mut self, table: &str, position: Position) -> Result<(), SinkError> {
        self.inner.stage(table, position).await
    }
    async fn resume(&mut self, schema: &Arc<Schema>) -> Result<bool, SinkError> {
        self.inner.resume(schema).await
    }
}

/// The process's resident memory now and at its peak, in MiB (Linux `VmRSS`, `VmHWM`;
/// `None` elsewhere), for the debug log lines of long steps.
pub fn memory_mib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
