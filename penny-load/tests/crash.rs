//! Crash safety: a load killed mid-COPY or mid-merge (task aborted, connection
//! dropped) leaves the table and its saved position exactly as before, and the next
//! run converges to the same rows as an uninterrupted one.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use penny_load::{LoadError, PgSink};
use penny_testdb::TestDb;
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySource;
use penny_transform::{
    ErrorClass, Position, ReadKind, Schema, Sink, SourceEvent, StreamInfo, SyncMode, Value,
};

const TABLE: &str = "ledger_lines";

/// A source of 2,000 rows, fully synced into `penny`; then changed.
async fn setup(db: &TestDb) -> MemorySource {
    let source = MemorySource::new(500);
    source.add_table(StreamInfo::new(ledger_schema(), SyncMode::Changelog));
    for id in 0..2000 {
        source.upsert(TABLE, ledger_row(id, 1)).expect("row");
    }
    let mut sink = sink(db, "penny").await;
    sync_stream(&source, &mut sink, TABLE, SyncOptions::default())
        .await
        .expect("first sync");
    drop(sink);
    for id in (0..2000).step_by(3) {
        source.upsert(TABLE, ledger_row(id, 2)).expect("update");
    }
    for id in 2000..2600 {
        source.upsert(TABLE, ledger_row(id, 1)).expect("insert");
    }
    for id in (1..2000).step_by(50) {
        source
            .delete(TABLE, vec![Value::Int64(7), Value::Int64(id)])
            .expect("delete");
    }
    source
}

/// A sink named `app`, once the previous holder of the lock is gone.
async fn sink_named(db: &TestDb, schema: &str, app: &str) -> PgSink {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match PgSink::connect(config(db, schema).with_application_name(app)).await {
            Ok(s) => return s,
            Err(LoadError::Busy { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
}

async fn saved(client: &tokio_postgres::Client) -> Option<serde_json::Value> {
    client
        .query_opt(
            "SELECT position FROM penny.penny_sync_state WHERE stream = $1",
            &[&TABLE],
        )
        .await
        .expect("state")
        .and_then(|r| r.get(0))
}

/// Waits until a backend of `app` does something matching `condition` (SQL over
/// pg_stat_activity), or panics if `done` says the work finished first.
async fn wait_for(
    client: &tokio_postgres::Client,
    app: &str,
    condition: &str,
    done: impl Fn() -> bool,
) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = client
            .query_opt(
                &format!("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND {condition} LIMIT 1"),
                &[&app],
            )
            .await
            .expect("activity");
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(
            !done(),
            "the work finished before it could be interrupted ({condition})"
        );
        assert!(Instant::now() < deadline, "never saw {condition}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until every backend of `app` is gone (its transaction rolled back).
async fn wait_gone(client: &tokio_postgres::Client, app: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .expect("activity")
            .get(0);
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "backend of {app} still there");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The source's changes since `from`, as the batches a driver would write, and the end position.
async fn changes(source: &MemorySource, from: Position) -> (Vec<penny_transform::Batch>, Position) {
    use futures_util::StreamExt;
    let read = penny_transform::Source::read(source, TABLE, Some(from))
        .await
        .expect("read");
    let mut batches = Vec::new();
    let mut last = None;
    let mut events = read.events;
    while let Some(event) = events.next().await {
        match event.expect("event") {
            SourceEvent::Batch(b) => batches.push(b),
            SourceEvent::Checkpoint(p) => last = Some(p),
            SourceEvent::Resume(p) => panic!("an incremental read sends no resume point: {p}"),
        }
    }
    (batches, last.expect("a final checkpoint"))
}

/// After the interruptions, a normal run converges to a fresh full sync's rows.
/// Runs [`setup`]; the source, a client, and the table's rows ([`dump`]) and saved
/// position before the crash.
async fn synced(
    db: &TestDb,
) -> (
    MemorySource,
    tokio_postgres::Client,
    Vec<String>,
    Option<serde_json::Value>,
) {
    let source = setup(db).await;
    let client = db.connect().await;
    let before = dump(&client, "penny", TABLE).await;
    let position = saved(&client).await;
    (source, client, before, position)
}

async fn assert_converges(db: &TestDb, source: &MemorySource) {
    let mut sink = sink_named(db, "penny", "converge").await;
    let report = sync_stream(source, &mut sink, TABLE, SyncOptions::default())
        .await
        .expect("rerun");
    assert_eq!(report.kind, ReadKind::Incremental);
    drop(sink);
    let mut fresh = sink_named(db, "fresh", "fresh").await;
    sync_stream(source, &mut fresh, TABLE, SyncOptions { full: true })
        .await
        .expect("fresh");
    let client = db.connect().await;
    let got = dump(&client, "penny", TABLE).await;
    assert_eq!(got.len(), 2600 - 40);
    assert_eq!(got, dump(&client, "fresh", TABLE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_copy_leaves_the_table_and_position_as_before() {
    let db = TestDb::new().await;
    let (source, client, before, position) = synced(&db).await;
    assert!(position.is_some());
    let schema = Arc::new(ledger_schema());

    for kind in [ReadKind::Incremental, ReadKind::Full] {
        let app = format!("crash-copy-{kind:?}");
        let mut sink = sink_named(&db, "penny", &app).await;
        sink.prepare(&schema, kind).await.expect("prepare");
        // Something already written in this transaction, then a long COPY.
        sink.write(ledger_batch(&schema, 5000..5100, 9))
            .await
            .expect("write");
        let big = ledger_batch(&schema, 0..150_000, 9);
        let task = tokio::spawn(async move {
            sink.write(big).await.expect("write");
            sink.commit(TABLE, Some(Position::encode(&"never").expect("p")))
                .await
                .expect("commit");
        });
        wait_for(
            &client,
            &app,
            "state = 'active' AND query LIKE 'COPY%'",
            || task.is_finished(),
        )
        .await;
        task.abort();
        assert!(task.await.expect_err("aborted").is_cancelled());
        wait_gone(&client, &app).await;
        assert_eq!(
            dump(&client, "penny", TABLE).await,
            before,
            "{kind:?}: table unchanged"
        );
        assert_eq!(
            saved(&client).await,
            position,
            "{kind:?}: position unchanged"
        );
    }
    assert_converges(&db, &source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_merge_leaves_the_table_and_position_as_before() {
    let db = TestDb::new().await;
    let (source, client, before, position) = synced(&db).await;
    let from = Position::from_json(position.clone().expect("saved"));
    let schema: Arc<Schema> = Arc::new(ledger_schema());

    for how in ["terminate", "abort"] {
        let app = format!("crash-merge-{how}");
        let (batches, end) = changes(&source, from.clone()).await;
        let mut sink = sink_named(&db, "penny", &app).await;
        sink.prepare(&schema, ReadKind::Incremental)
            .await
            .expect("prepare");
        for b in batches {
            sink.write(b).await.expect("write");
        }
        // Hold the merge: another session locks the target against writers.
        let blocker = db.connect().await;
        blocker
            .batch_execute("BEGIN; LOCK TABLE penny.ledger_lines IN EXCLUSIVE MODE")
            .await
            .expect("lock");
        let task = tokio::spawn(async move { sink.commit(TABLE, Some(end)).await });
        let pid = wait_for(
            &client,
            &app,
            "wait_event_type = 'Lock' AND query LIKE 'WITH last%'",
            || task.is_finished(),
        )
        .await;
        if how == "terminate" {
            client
                .query_one("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .expect("terminate");
            let err = task.await.expect("joined").expect_err("the merge fails");
            assert_eq!(err.class(), ErrorClass::Unavailable, "{err}");
        } else {
            task.abort();
            assert!(task.await.expect_err("aborted").is_cancelled());
        }
        blocker.batch_execute("ROLLBACK").await.expect("unlock");
        wait_gone(&client, &app).await;
        assert_eq!(
            dump(&client, "penny", TABLE).await,
            before,
            "{how}: table unchanged"
        );
        assert_eq!(saved(&client).await, position, "{how}: position unchanged");
    }
    assert_converges(&db, &source).await;
}
