//! The [`Source`] trait: something that offers tables as streams of batches.

use std::pin::Pin;
use std::sync::Arc;

use futures_core::Stream;

use crate::batch::Batch;
use crate::error::SourceError;
use crate::position::Position;
use crate::schema::Schema;

/// How a stream can be read after the first time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum SyncMode {
    /// Rows whose monotone `field` (an `updated_at`, a `synchronised_at`) is past the
    /// saved position are read again.
    Cursor {
        /// The column the position follows.
        field: String,
    },
    /// A change log reports inserts, updates and deletions since the saved position.
    Changelog,
    /// No way to know what changed: every run reads the whole table.
    FullOnly,
}

/// A stream a source offers: its table's schema and how it can be read incrementally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The table every batch of the stream follows; its name is the stream's name.
    pub schema: Arc<Schema>,
    /// How the stream resumes from a saved position.
    pub sync_mode: SyncMode,
}

impl StreamInfo {
    /// A stream of `schema` read with `sync_mode`.
    pub fn new(schema: Schema, sync_mode: SyncMode) -> Self {
        StreamInfo {
            schema: Arc::new(schema),
            sync_mode,
        }
    }

    /// The stream's (and its table's) name.
    pub fn name(&self) -> &str {
        self.schema.name()
    }
}

/// Whether a read delivers the whole table or only what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    /// The whole table: the sink replaces its contents when the read commits.
    Full,
    /// Changes since the saved position: the sink merges them by primary key.
    Incremental,
}

/// One item of a read.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// Rows to upsert or keys to delete.
    Batch(Batch),
    /// Every batch before this point can be committed with this position: a later
    /// read from it will not miss anything those batches did not already cover.
    Checkpoint(Position),
    /// A resume point of a full read: every batch before it may be kept, and a read
    /// from this position continues the same full read after them (the source answers
    /// it with [`StreamRead::resumed`]). A sink that can stage a full read durably
    /// ([`Sink::stage`](crate::Sink::stage)) keeps the rows so far with it, so a full
    /// read interrupted after hours resumes there instead of starting again. The
    /// position is never committed as the table's position: the read's last
    /// [`Checkpoint`](SourceEvent::Checkpoint) is. Incremental reads do not send it
    /// (their checkpoints commit already).
    Resume(Position),
}

/// The events of one read, in order.
pub type EventStream<'a> =
    Pin<Box<dyn Stream<Item = Result<SourceEvent, SourceError>> + Send + 'a>>;

/// A read in progress: what kind it is, and its events.
pub struct StreamRead<'a> {
    /// Full or incremental. A source may answer `Full` to a request from a saved
    /// position when that position can no longer be resumed (an expired changelog).
    pub kind: ReadKind,
    /// A full read continuing the one a [`SourceEvent::Resume`] position came from:
    /// its events follow that point, and the rows before it are the sink's.
    pub resumed: bool,
    /// Batches and checkpoints. The last event of a read that reached its end
    /// should be a checkpoint, so the next run resumes from there.
    pub events: EventStream<'a>,
}

impl<'a> StreamRead<'a> {
    /// A read of `kind` from its start (full) or from a saved position (incremental).
    pub fn new(kind: ReadKind, events: EventStream<'a>) -> Self {
        StreamRead {
            kind,
            resumed: false,
            events,
        }
    }

    /// A full read continued from one of its [`SourceEvent::Resume`] points.
    pub fn resumed(events: EventStream<'a>) -> Self {
        StreamRead {
            kind: ReadKind::Full,
            resumed: true,
            events,
        }
    }
}

impl std::fmt::Debug for StreamRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRead")
            .field("kind", &self.kind)
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

/// A source of tables: the Pennylane API, the Data Sharing warehouse, a folder of CSV files...
///
/// A source lists the [streams](StreamInfo) it offers and reads one of them as a
/// stream of [`SourceEvent`]s, from an optional saved [`Position`]. Deletions are
/// batches with [`Operation::Delete`](crate::Operation::Delete). A source performs no
/// writes and keeps no state between runs: the position it hands out is all it needs.
///
/// The reference implementation is [`testing::MemorySource`](crate::testing::MemorySource).
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use futures_util::stream;
/// use penny_transform::*;
///
/// /// A source with one table of constant rows, read in full every time.
/// struct Constant(StreamInfo);
///
/// #[async_trait]
/// impl Source for Constant {
///     fn name(&self) -> &str { "constant" }
///
///     async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
///         Ok(vec![self.0.clone()])
///     }
///
///     async fn read(&self, stream: &str, _from: Option<Position>)
///         -> Result<StreamRead<'_>, SourceError>
///     {
///         if stream != self.0.name() {
///             return Err(SourceError::UnknownStream { stream: stream.into(), available: self.0.name().into() });
///         }
///         let batch = Batch::upsert(self.0.schema.clone(), vec![vec![Value::Int64(1)]])?;
///         let done = Position::encode(&"done").expect("a string serialises");
///         let events = vec![Ok(SourceEvent::Batch(batch)), Ok(SourceEvent::Checkpoint(done))];
///         Ok(StreamRead::new(ReadKind::Full, Box::pin(stream::iter(events))))
///     }
/// }
///
/// let schema = Schema::new("t", vec![Column::required("id", LogicalType::Int64)], ["id"])?;
/// let source = Constant(StreamInfo::new(schema, SyncMode::FullOnly));
/// let streams = futures_executor::block_on(source.streams())?;
/// assert_eq!(streams[0].name(), "t");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// A short name for logs and the sync state (`pennylane-api`, `pennylane-redshift`).
    fn name(&self) -> &str;

    /// The streams this source offers.
    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError>;

    /// Reads `stream`, from `from` when given (incrementally) or from the start.
    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError>;
}
