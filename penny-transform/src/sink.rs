//! The [`Sink`] trait: somewhere tables are written, with their positions.

use std::sync::Arc;

use crate::batch::Batch;
use crate::error::SinkError;
use crate::position::Position;
use crate::schema::Schema;
use crate::source::ReadKind;

/// What a commit changed in a table.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct CommitStats {
    /// Rows that did not exist before.
    pub inserted: u64,
    /// Rows that existed and were replaced.
    pub updated: u64,
    /// Rows removed.
    pub deleted: u64,
}

impl CommitStats {
    /// Adds another commit's counts to these.
    pub fn add(&mut self, other: CommitStats) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.deleted += other.deleted;
    }
}

/// A destination of tables: PostgreSQL, a folder of CSV files...
///
/// The life of a table in a sink:
/// 1. [`prepare`](Sink::prepare) it for a schema and a [`ReadKind`]: create or evolve
///    the table; for a full read, start a replacement that readers do not see yet;
/// 2. [`write`](Sink::write) batches: upserts and deletions by primary key, in order;
/// 3. [`commit`](Sink::commit) with the source's position: everything written since
///    the last commit becomes visible **together with** the position, or neither does;
///    a full read's replacement takes the old table's place at its commit;
/// 4. or [`abort`](Sink::abort): everything written since the last commit is dropped.
///
/// A sink may also stage a long full read durably: at each of the read's resume points
/// ([`SourceEvent::Resume`](crate::SourceEvent::Resume)) [`stage`](Sink::stage) keeps
/// the rows so far, still unseen by readers; after a crash,
/// [`staged_position`](Sink::staged_position) names where to resume and
/// [`resume`](Sink::resume) reopens the staged read in place of `prepare`. A sink that
/// does not (the default) keeps a full read pending until its commit, and an
/// interrupted one starts again.
///
/// [`saved_position`](Sink::saved_position) gives back the last committed position,
/// so a run that stopped anywhere resumes from data that is really there.
///
/// The reference implementation is [`testing::MemorySink`](crate::testing::MemorySink).
#[async_trait::async_trait]
pub trait Sink: Send {
    /// The position last committed for `table`, if any.
    async fn saved_position(&mut self, table: &str) -> Result<Option<Position>, SinkError>;

    /// Makes `schema`'s table ready to receive a read of `kind`.
    async fn prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), SinkError>;

    /// Writes a batch to its table (named by its schema), not yet visible.
    async fn write(&mut self, batch: Batch) -> Result<(), SinkError>;

    /// Makes the table's pending writes visible together with `position`, atomically.
    async fn commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, SinkError>;

    /// Drops the table's pending writes; the table and its position stay as last
    /// committed, and a full read staged with [`stage`](Sink::stage) stays staged.
    async fn abort(&mut self, table: &str) -> Result<(), SinkError>;

    /// The resume point of a full read of `table` staged and not finished (a run that
    /// stopped in the middle of a full read), if any. The default stages nothing.
    async fn staged_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        let _ = table;
        Ok(None)
    }

    /// Keeps the rows a full read wrote so far with its resume point `position`, so a
    /// later run can [`resume`](Sink::resume) from it; readers still do not see them.
    /// A sink may make them durable less often than it is called: the last resume
    /// point it kept is the one [`staged_position`](Sink::staged_position) returns. A
    /// later [`prepare`](Sink::prepare) of a full read drops what was staged. The
    /// default does nothing: the rows stay pending until the commit.
    async fn stage(&mut self, table: &str, position: Position) -> Result<(), SinkError> {
        let _ = (table, position);
        Ok(())
    }

    /// Makes `schema`'s table ready to continue its staged full read, in place of
    /// [`prepare`](Sink::prepare): the staged rows stay, later writes add to them (a
    /// key written again replaces the staged row), and the commit replaces the table
    /// with all of them. `Ok(false)` when it cannot (nothing staged, a different
    /// schema): the read then starts again from the beginning. The default cannot.
    async fn resume(&mut self, schema: &Arc<Schema>) -> Result<bool, SinkError> {
        let _ = schema;
        Ok(false)
    }
}
