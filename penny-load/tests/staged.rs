//! Staged full reads: a long full read interrupted (its source failing, its process
//! killed) keeps what it had staged, unseen by readers, and the next run continues it
//! from its last resume point; the finished table equals an uninterrupted read's.

mod common;

use std::time::Duration;

use common::*;
use penny_load::PgSink;
use penny_testdb::TestDb;
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::{MemoryResume, MemorySource};
use penny_transform::{Sink, StreamInfo, SyncMode};

const TABLE: &str = "ledger_lines";

fn source(rows: i64, version: i64) -> MemorySource {
    let source = MemorySource::new(100);
    source.add_table(StreamInfo::new(ledger_schema(), SyncMode::Changelog));
    for id in 0..rows {
        source.upsert(TABLE, ledger_row(id, version)).expect("row");
    }
    source
}

/// A sink making every resume point durable.
async fn staging_sink(db: &TestDb, schema: &str) -> PgSink {
    PgSink::connect(config(db, schema).with_stage_interval(Duration::ZERO))
        .await
        .expect("connect")
        .with_source("test")
}

#[tokio::test]
async fn an_interrupted_full_read_resumes_unseen_and_ends_as_an_uninterrupted_one() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    // An old version of the table, which readers keep seeing until the new one is whole.
    let old = source(300, 1);
    let mut sink = staging_sink(&db, "penny").await;
    sync_stream(&old, &mut sink, TABLE, SyncOptions::default())
        .await
        .expect("first sync");
    let before = dump(&client, "penny", TABLE).await;

    // A full read of 1,050 rows (batches of 100) failing after its 6th batch.
    let source = source(1050, 2);
    source.fail_next_read_after(6);
    assert!(
        sync_stream(&source, &mut sink, TABLE, SyncOptions { full: true })
            .await
            .is_err()
    );
    drop(sink);
    assert_eq!(
        dump(&client, "penny", TABLE).await,
        before,
        "readers see the old table"
    );

    // A new process finds the staged read and continues it after its 5th batch.
    let mut sink = staging_sink(&db, "penny").await;
    let staged = sink
        .staged_position(TABLE)
        .await
        .expect("reads")
        .expect("staged");
    let staged: MemoryResume = staged.decode().expect("a memory resume point");
    assert_eq!(
        staged.after.0[1],
        penny_transform::Value::Int64(499),
        "five batches staged"
    );
    let report = sync_stream(&source, &mut sink, TABLE, SyncOptions::default())
        .await
        .expect("resumed sync");
    assert!(report.resumed);
    assert_eq!(
        report.rows_upserted, 550,
        "only what follows the resume point"
    );
    assert_eq!(sink.staged_position(TABLE).await.expect("reads"), None);

    // The same rows as an uninterrupted full read into another schema.
    let mut fresh = staging_sink(&db, "fresh").await;
    sync_stream(&source, &mut fresh, TABLE, SyncOptions::default())
        .await
        .expect("fresh sync");
    assert_eq!(
        dump(&client, "penny", TABLE).await,
        dump(&client, "fresh", TABLE).await
    );
    assert_eq!(count(&client, "penny", TABLE).await, 1050);
    let leftovers: i64 = scalar(
        &client,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'penny' AND tablename LIKE '%penny_new'",
    )
    .await;
    assert_eq!(leftovers, 0, "the staged table was swapped in");
}

#[tokio::test]
async fn a_killed_connection_keeps_only_what_was_staged_and_a_new_full_read_drops_it() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let source = source(800, 1);
    source.fail_next_read_after(3);
    // A stage interval longer than the test: nothing is made durable after the first
    // resume point, so the kill loses the batches after it.
    let mut sink =
        PgSink::connect(config(&db, "penny").with_stage_interval(Duration::from_secs(3600)))
            .await
            .expect("connect")
            .with_source("test");
    assert!(
        sync_stream(&source, &mut sink, TABLE, SyncOptions::default())
            .await
            .is_err()
    );
    drop(sink);
    let mut sink = staging_sink(&db, "penny").await;
    let staged: MemoryResume = sink
        .staged_position(TABLE)
        .await
        .expect("reads")
        .expect("staged")
        .decode()
        .expect("ours");
    assert_eq!(
        staged.after.0[1],
        penny_transform::Value::Int64(99),
        "the first resume point only"
    );
    let report = sync_stream(&source, &mut sink, TABLE, SyncOptions::default())
        .await
        .expect("resumed");
    assert_eq!(report.rows_upserted, 700);
    assert_eq!(count(&client, "penny", TABLE).await, 800);

    // Staged again, then a full read asked for: it starts from the beginning.
    source.fail_next_read_after(4);
    assert!(
        sync_stream(&source, &mut sink, TABLE, SyncOptions { full: true })
            .await
            .is_err()
    );
    assert!(sink.staged_position(TABLE).await.expect("reads").is_some());
    let report = sync_stream(&source, &mut sink, TABLE, SyncOptions { full: true })
        .await
        .expect("full");
    assert!(!report.resumed);
    assert_eq!(report.rows_upserted, 800);
    assert_eq!(sink.staged_position(TABLE).await.expect("reads"), None);
    assert_eq!(count(&client, "penny", TABLE).await, 800);
}

#[tokio::test]
async fn a_staged_read_of_another_schema_is_read_again_from_the_start() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let source = source(500, 1);
    source.fail_next_read_after(3);
    let mut sink = staging_sink(&db, "penny").await;
    assert!(
        sync_stream(&source, &mut sink, TABLE, SyncOptions::default())
            .await
            .is_err()
    );
    // The staged new table no longer matches the schema (a column added meanwhile).
    client
        .batch_execute("ALTER TABLE penny.ledger_lines__penny_new ADD COLUMN extra text")
        .await
        .expect("alter");
    let report = sync_stream(&source, &mut sink, TABLE, SyncOptions::default())
        .await
        .expect("read again");
    assert!(!report.resumed);
    assert_eq!(report.rows_upserted, 500);
    assert_eq!(count(&client, "penny", TABLE).await, 500);
}
