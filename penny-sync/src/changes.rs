//! What a raw load changed: a [`Sink`] wrapper that records, per table, the keys its
//! committed incremental writes touched, so the transformation can update only what
//! they affect.
//!
//! Only `(company_id, id)` keys are recorded (the API door's raw tables); a full read,
//! or a table keyed otherwise, is recorded as "changed whole". Keys are kept only once
//! their table commits (an aborted write leaves no trace), and memory grows with the
//! changes, never with the table (a full read records no key). A commit the sink
//! reports as changing no row records no key and no changed row: the reference tables
//! read whole at each cycle, unchanged, leave their canonical tables and dimensions
//! alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use penny_transform::{
    Batch, CommitStats, Operation, Position, ReadKind, Schema, Sink, SinkError, Value,
};

/// The changes of one raw table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableChanges {
    /// Replaced whole (a full read), or written with keys not recorded.
    pub whole: bool,
    /// `(company_id, id)` of the rows inserted or updated.
    pub upserted: BTreeSet<(i64, i64)>,
    /// `(company_id, id)` of the rows deleted.
    pub deleted: BTreeSet<(i64, i64)>,
    /// Whether a commit changed a row (as the sink counts them): false for a table
    /// replaced whole by the rows it held.
    pub rows_changed: bool,
}

impl TableChanges {
    fn merge(&mut self, other: TableChanges) {
        self.whole |= other.whole;
        self.rows_changed |= other.rows_changed;
        self.upserted.extend(other.upserted);
        self.deleted.extend(other.deleted);
    }

    /// Whether a commit changed a row: a table replaced whole by the rows it held did
    /// not (though it counts as read whole, which makes the transformation rebuild what
    /// it feeds: `--full` still rebuilds).
    pub fn changed(&self) -> bool {
        self.rows_changed
    }

    /// Every key touched (upserted or deleted).
    pub fn keys(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.upserted.iter().chain(self.deleted.iter()).copied()
    }
}

/// The committed changes of a run, by table (shared by the run's sinks).
#[derive(Debug, Clone, Default)]
pub struct ChangeLog(Arc<Mutex<BTreeMap<String, TableChanges>>>);

impl ChangeLog {
    fn add(&self, table: &str, changes: TableChanges) {
        self.0
            .lock()
            .expect("change log lock poisoned")
            .entry(table.to_owned())
            .or_default()
            .merge(changes);
    }

    /// The changes recorded so far, by table.
    pub fn snapshot(&self) -> BTreeMap<String, TableChanges> {
        self.0.lock().expect("change log lock poisoned").clone()
    }

    /// Forgets what was recorded (once the transformation has used it).
    pub fn clear(&self) {
        self.0.lock().expect("change log lock poisoned").clear();
    }
}

/// A [`Sink`] recording into a [`ChangeLog`] what its commits changed.
pub struct RecordingSink {
    inner: Box<dyn Sink>,
    log: ChangeLog,
    pending: BTreeMap<String, TableChanges>,
}

impl RecordingSink {
    /// Wraps `inner`, recording into `log`.
    pub fn new(inner: Box<dyn Sink>, log: ChangeLog) -> Self {
        RecordingSink {
            inner,
            log,
            pending: BTreeMap::new(),
        }
    }
}

/// The `(company_id, id)` of each row of `batch`, or `None` when the table is keyed
/// otherwise.
fn keys_of(batch: &Batch) -> Option<Vec<(i64, i64)>> {
    let schema = batch.schema();
    let key: Vec<&str> = schema.primary_key_names().collect();
    if key != ["company_id", "id"] {
        return None;
    }
    let (c, i) = match batch.operation() {
        // Delete rows hold the key columns only, in key order.
        Operation::Delete => (0, 1),
        Operation::Upsert => (
            schema.column_index("company_id")?,
            schema.column_index("id")?,
        ),
    };
    batch
        .rows()
        .iter()
        .map(|row| match (row.get(c), row.get(i)) {
            (Some(Value::Int64(c)), Some(Value::Int64(i))) => Some((*c, *i)),
            _ => None,
        })
        .collect()
}

#[async_trait::async_trait]
impl Sink for RecordingSink {
    async fn saved_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        self.inner.saved_position(table).await
    }

    async fn prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), SinkError> {
        self.inner.prepare(schema, kind).await?;
        self.pending.insert(
            schema.name().to_owned(),
            TableChanges {
                whole: kind == ReadKind::Full,
                ..TableChanges::default()
            },
        );
        Ok(())
    }

    async fn write(&mut self, batch: Batch) -> Result<(), SinkError> {
        let table = batch.table().to_owned();
        let keys = match self.pending.get(&table) {
            Some(p) if !p.whole => keys_of(&batch),
            _ => None,
        };
        let operation = batch.operation();
        self.inner.write(batch).await?;
        let pending = self.pending.entry(table).or_default();
        match keys {
            Some(keys) if operation == Operation::Delete => pending.deleted.extend(keys),
            Some(keys) => pending.upserted.extend(keys),
            None => {
                pending.whole = true;
                pending.upserted.clear();
                pending.deleted.clear();
            }
        }
        Ok(())
    }

    async fn commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, SinkError> {
        let stats = self.inner.commit(table, position).await?;
        // A long read commits several times (checkpoints) and goes on writing without
        // preparing again: the table stays pending, as the same kind of read.
        if let Some(pending) = self.pending.get_mut(table) {
            let whole = pending.whole;
            let mut changes = std::mem::replace(
                pending,
                TableChanges {
                    whole,
                    ..TableChanges::default()
                },
            );
            // A commit that changed no row (a table replaced whole by the rows it held,
            // records delivered again as they were) changed nothing: the sinks count
            // at least the rows that changed (a replaced table's kept rows, or only
            // those that differ). Its keys are dropped; a whole read stays whole.
            if stats.inserted + stats.updated + stats.deleted == 0 {
                changes.upserted.clear();
                changes.deleted.clear();
            } else {
                changes.rows_changed = true;
            }
            self.log.add(table, changes);
        }
        Ok(stats)
    }

    async fn abort(&mut self, table: &str) -> Result<(), SinkError> {
        self.pending.remove(table);
        self.inner.abort(table).await
    }

    async fn staged_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        self.inner.staged_position(table).await
    }

    async fn stage(&mut self, table: &str, position: Position) -> Result<(), SinkError> {
        self.inner.stage(table, position).await
    }

    async fn resume(&mut self, schema: &Arc<Schema>) -> Result<bool, SinkError> {
        // A staged full read goes on: the table is replaced whole at its commit.
        let resumed = self.inner.resume(schema).await?;
        if resumed {
            self.pending.insert(
                schema.name().to_owned(),
                TableChanges {
                    whole: true,
                    ..TableChanges::default()
                },
            );
        }
        Ok(resumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::testing::MemorySink;
    use penny_transform::{Column, LogicalType};

    fn schema(key: &[&str]) -> Arc<Schema> {
        Arc::new(
            Schema::new(
                "t",
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("id", LogicalType::Int64),
                    Column::nullable("label", LogicalType::Text),
                ],
                key,
            )
            .unwrap(),
        )
    }

    fn row(id: i64) -> Vec<Value> {
        vec![Value::Int64(1), Value::Int64(id), Value::Text("x".into())]
    }

    #[tokio::test]
    async fn records_committed_keys_only() {
        let log = ChangeLog::default();
        let mut sink = RecordingSink::new(Box::new(MemorySink::default()), log.clone());
        let s = schema(&["company_id", "id"]);
        sink.prepare(&s, ReadKind::Incremental).await.unwrap();
        sink.write(Batch::upsert(s.clone(), vec![row(1), row(2)]).unwrap())
            .await
            .unwrap();
        sink.write(Batch::delete(s.clone(), vec![vec![Value::Int64(1), Value::Int64(9)]]).unwrap())
            .await
            .unwrap();
        assert!(log.snapshot().is_empty(), "nothing before the commit");
        sink.commit("t", None).await.unwrap();
        let t = &log.snapshot()["t"];
        assert!(!t.whole);
        assert_eq!(t.upserted, BTreeSet::from([(1, 1), (1, 2)]));
        assert_eq!(t.deleted, BTreeSet::from([(1, 9)]));

        // Writes after a checkpoint commit are recorded too.
        sink.write(Batch::upsert(s.clone(), vec![row(3)]).unwrap())
            .await
            .unwrap();
        sink.commit("t", None).await.unwrap();
        let t = &log.snapshot()["t"];
        assert!(!t.whole);
        assert_eq!(t.upserted, BTreeSet::from([(1, 1), (1, 2), (1, 3)]));

        // An aborted write is forgotten; a full read is recorded as whole.
        sink.prepare(&s, ReadKind::Incremental).await.unwrap();
        sink.write(Batch::upsert(s.clone(), vec![row(5)]).unwrap())
            .await
            .unwrap();
        sink.abort("t").await.unwrap();
        assert_eq!(log.snapshot()["t"].upserted.len(), 3);
        sink.prepare(&s, ReadKind::Full).await.unwrap();
        sink.write(Batch::upsert(s.clone(), vec![row(5)]).unwrap())
            .await
            .unwrap();
        sink.commit("t", None).await.unwrap();
        assert!(log.snapshot()["t"].whole);
        log.clear();
        assert!(log.snapshot().is_empty());
    }

    /// A sink that keeps nothing and reports every commit as changing no row, as the
    /// PostgreSQL loader does for rows equal to those a table holds.
    struct NoChange;

    #[async_trait::async_trait]
    impl Sink for NoChange {
        async fn saved_position(&mut self, _: &str) -> Result<Option<Position>, SinkError> {
            Ok(None)
        }
        async fn prepare(&mut self, _: &Arc<Schema>, _: ReadKind) -> Result<(), SinkError> {
            Ok(())
        }
        async fn write(&mut self, _: Batch) -> Result<(), SinkError> {
            Ok(())
        }
        async fn commit(&mut self, _: &str, _: Option<Position>) -> Result<CommitStats, SinkError> {
            Ok(CommitStats::default())
        }
        async fn abort(&mut self, _: &str) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_commit_that_changed_no_row_records_no_key_and_no_change() {
        let log = ChangeLog::default();
        let mut sink = RecordingSink::new(Box::new(NoChange), log.clone());
        let s = schema(&["company_id", "id"]);
        for kind in [ReadKind::Full, ReadKind::Incremental] {
            sink.prepare(&s, kind).await.unwrap();
            sink.write(Batch::upsert(s.clone(), vec![row(1)]).unwrap())
                .await
                .unwrap();
            sink.commit("t", None).await.unwrap();
            let changes = log.snapshot().get("t").cloned().unwrap_or_default();
            assert!(!changes.changed(), "{kind:?}: {changes:?}");
            assert!(changes.upserted.is_empty(), "{kind:?}: {changes:?}");
            // A full read stays whole (the transformation of a `--full` sync rebuilds).
            assert_eq!(changes.whole, kind == ReadKind::Full, "{kind:?}");
            log.clear();
        }
        // The same writes into a sink that counts them are changes.
        let mut sink = RecordingSink::new(Box::new(MemorySink::default()), log.clone());
        sink.prepare(&s, ReadKind::Full).await.unwrap();
        sink.write(Batch::upsert(s.clone(), vec![row(1)]).unwrap())
            .await
            .unwrap();
        sink.commit("t", None).await.unwrap();
        assert!(log.snapshot()["t"].changed());
    }

    #[tokio::test]
    async fn a_table_keyed_otherwise_is_changed_whole() {
        let log = ChangeLog::default();
        let mut sink = RecordingSink::new(Box::new(MemorySink::default()), log.clone());
        let s = schema(&["id"]);
        sink.prepare(&s, ReadKind::Incremental).await.unwrap();
        sink.write(Batch::upsert(s.clone(), vec![row(1)]).unwrap())
            .await
            .unwrap();
        sink.commit("t", None).await.unwrap();
        assert!(log.snapshot()["t"].whole);
    }
}
