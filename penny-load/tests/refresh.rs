//! Full refreshes: atomic for readers, views survive, swaps when nobody holds the table.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use penny_load::{PgConfig, PgSink};
use penny_testdb::TestDb;
use penny_transform::{Column, CommitStats, LogicalType, Position, ReadKind, Schema, Sink};

fn position(n: u64) -> Position {
    Position::encode(&n).expect("position")
}

async fn full_load(
    sink: &mut PgSink,
    schema: &Arc<Schema>,
    ids: std::ops::Range<i64>,
    version: i64,
) -> CommitStats {
    sink.prepare(schema, ReadKind::Full).await.expect("prepare");
    let ids: Vec<i64> = ids.collect();
    for chunk in ids.chunks(100) {
        sink.write(ledger_batch(schema, chunk.iter().copied(), version))
            .await
            .expect("write");
    }
    sink.commit(schema.name(), Some(position(version as u64)))
        .await
        .expect("commit")
}

/// A sink on `config` whose ledger table was fully loaded with rows `0..100`.
async fn loaded_ledger(config: PgConfig) -> (PgSink, Arc<Schema>) {
    let mut sink = PgSink::connect(config).await.expect("sink");
    let schema = Arc::new(ledger_schema());
    full_load(&mut sink, &schema, 0..100, 1).await;
    (sink, schema)
}

async fn oid(client: &tokio_postgres::Client) -> u32 {
    scalar(client, "SELECT 'penny.ledger_lines'::regclass::oid").await
}

#[tokio::test]
async fn readers_keep_the_old_table_until_the_refresh_commits() {
    let db = TestDb::new().await;
    let config = config(&db, "penny").with_swap_lock_timeout(Duration::from_millis(300));
    let (mut sink, schema) = loaded_ledger(config).await;

    // A REPEATABLE READ reader and a cursor, both in the middle of reading the old table.
    let reader = db.connect().await;
    reader
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .expect("begin");
    assert_eq!(count(&reader, "penny", "ledger_lines").await, 100);
    let cursor = db.connect().await;
    cursor
        .batch_execute(
            "BEGIN; DECLARE old_rows CURSOR FOR SELECT id FROM penny.ledger_lines ORDER BY id",
        )
        .await
        .expect("cursor");
    let first: Vec<i64> = first_column(&cursor, "FETCH 10 FROM old_rows").await;
    assert_eq!(first, (0..10).collect::<Vec<_>>());

    // The refresh replaces every row; it does not wait for the readers.
    let started = std::time::Instant::now();
    let committed = full_load(&mut sink, &schema, 1000..1050, 2).await;
    assert_eq!(committed, stats(50, 0, 100));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the refresh was not held up by the readers"
    );

    // Both readers still see the old table, completely.
    assert_eq!(count(&reader, "penny", "ledger_lines").await, 100);
    let rest: Vec<i64> = first_column(&cursor, "FETCH ALL FROM old_rows").await;
    assert_eq!(rest, (10..100).collect::<Vec<_>>());
    // A new reader sees the new table.
    let fresh = db.connect().await;
    assert_eq!(count(&fresh, "penny", "ledger_lines").await, 50);
    reader.batch_execute("COMMIT").await.expect("commit");
    cursor.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(count(&reader, "penny", "ledger_lines").await, 50);
}

#[tokio::test]
async fn a_refresh_swaps_the_table_and_concurrent_readers_never_see_it_half_done() {
    let db = TestDb::new().await;
    let mut sink = PgSink::connect(config(&db, "penny")).await.expect("sink");
    let schema = Arc::new(ledger_schema());
    full_load(&mut sink, &schema, 0..3000, 1).await;
    let client = db.connect().await;
    let old_oid = oid(&client).await;

    // A reader counting in a loop while the refresh runs.
    let watcher = db.connect().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let watch = tokio::spawn(async move {
        let mut seen = std::collections::BTreeSet::new();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            seen.insert(count(&watcher, "penny", "ledger_lines").await);
        }
        seen
    });
    let committed = full_load(&mut sink, &schema, 1000..2000, 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watch.await.expect("watcher");
    assert!(
        seen.iter().all(|c| *c == 3000 || *c == 1000),
        "readers saw {seen:?}"
    );
    assert!(seen.contains(&1000), "the watcher saw the new table");
    assert_eq!(committed, stats(0, 1000, 2000));

    // Nobody held the table: it was swapped, with its key and indexes under their names.
    assert_ne!(
        oid(&client).await,
        old_oid,
        "a new table took the old one's place"
    );
    let names: Vec<String> = first_column(
        &client,
        "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'penny' AND relname LIKE 'ledger_lines%' ORDER BY 1",
    )
    .await;
    assert_eq!(
        names,
        [
            "ledger_lines",
            "ledger_lines_date_idx",
            "ledger_lines_journal_id_idx",
            "ledger_lines_pkey",
            "ledger_lines_updated_at_idx",
            "ledger_lines_written_at_idx",
        ]
    );
    let expected: Vec<_> = (1000..2000).map(|id| ledger_row(id, 2)).collect();
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);
}

#[tokio::test]
async fn views_survive_a_refresh_and_block_only_impossible_changes() {
    let db = TestDb::new().await;
    let (mut sink, schema) = loaded_ledger(config(&db, "penny")).await;
    let client = db.connect().await;
    client
        .batch_execute("CREATE VIEW public.debits AS SELECT id, debit FROM penny.ledger_lines")
        .await
        .expect("view");
    let old_oid = oid(&client).await;

    // Duplicate keys in a full read: the last row wins.
    sink.prepare(&schema, ReadKind::Full)
        .await
        .expect("prepare");
    sink.write(ledger_batch(&schema, 50..150, 2))
        .await
        .expect("write");
    sink.write(ledger_batch(&schema, 140..145, 3))
        .await
        .expect("write");
    let committed = sink
        .commit("ledger_lines", Some(position(2)))
        .await
        .expect("commit");
    assert_eq!(committed, stats(50, 50, 50));
    assert_eq!(
        oid(&client).await,
        old_oid,
        "rewritten in place: the view still points at it"
    );
    let in_view: i64 = scalar(&client, "SELECT count(*) FROM public.debits").await;
    assert_eq!(in_view, 100);
    let mut expected: Vec<_> = (50..150)
        .map(|id| ledger_row(id, if (140..145).contains(&id) { 3 } else { 2 }))
        .collect();
    expected.sort_by_key(|r| r[1].as_i64());
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);

    // A change the table cannot take in place is refused at prepare, naming the view.
    let changed = ledger_schema_with([
        Column::required("debit", LogicalType::Text),
        Column::nullable("journal_id", LogicalType::Bool),
    ]);
    let cause = refused_prepare(&mut sink, &changed, ReadKind::Full).await;
    assert!(
        cause.contains("public.debits") && cause.contains("journal_id"),
        "{cause}"
    );
}
