//! The generic round trip: `driver::sync_stream` from a `MemorySource` into a `PgSink`,
//! next to the reference `MemorySink`.

mod common;

use common::*;
use penny_load::PgSink;
use penny_testdb::TestDb;
use penny_transform::driver::{StreamReport, SyncOptions, sync_stream};
use penny_transform::testing::{MemorySink, MemorySource};
use penny_transform::{ReadKind, StreamInfo, SyncMode, Value};

/// Syncs the ledger stream into PostgreSQL, then into the reference sink.
async fn sync_both(
    source: &MemorySource,
    pg: &mut PgSink,
    mem: &mut MemorySink,
) -> (StreamReport, StreamReport) {
    let report = sync_stream(source, pg, "ledger_lines", SyncOptions::default())
        .await
        .expect("sync into PostgreSQL");
    let reference = sync_stream(source, mem, "ledger_lines", SyncOptions::default())
        .await
        .expect("sync into the reference sink");
    (report, reference)
}

#[tokio::test]
async fn full_then_incremental_with_deletions_equals_a_fresh_full_sync() {
    let db = TestDb::new().await;
    let source = MemorySource::new(64);
    source.add_table(StreamInfo::new(ledger_schema(), SyncMode::Changelog));
    for id in 0..300 {
        source
            .upsert("ledger_lines", ledger_row(id, 1))
            .expect("row");
    }
    let schema = ledger_schema();
    let mut pg = sink(&db, "penny").await;
    let mut mem = MemorySink::default();
    let client = db.connect().await;

    let (first, reference) = sync_both(&source, &mut pg, &mut mem).await;
    assert_eq!(first.kind, ReadKind::Full);
    assert_eq!(first.stats, reference.stats);
    assert_eq!(
        read_rows(&client, "penny", &schema).await,
        mem.rows("ledger_lines")
    );

    // Updates, inserts, deletions (one of an updated row, one of an absent key).
    for id in (0..300).step_by(15) {
        source
            .upsert("ledger_lines", ledger_row(id, 2))
            .expect("update");
    }
    for id in 300..330 {
        source
            .upsert("ledger_lines", ledger_row(id, 1))
            .expect("insert");
    }
    for id in [15, 16, 17, 301, 5000] {
        source
            .delete("ledger_lines", vec![Value::Int64(7), Value::Int64(id)])
            .expect("delete");
    }
    let (second, reference) = sync_both(&source, &mut pg, &mut mem).await;
    assert_eq!(second.kind, ReadKind::Incremental);
    assert!(second.rows_deleted > 0 && second.commits > 1, "{second:?}");
    assert_eq!(second.stats, reference.stats);
    // 15, 16, 17; 301 was inserted and deleted between the two syncs, so it never
    // reached the table; 5000 never existed.
    assert_eq!(second.stats.deleted, 3);
    assert_eq!(
        read_rows(&client, "penny", &schema).await,
        mem.rows("ledger_lines")
    );
    assert_eq!(
        penny_transform::Sink::saved_position(&mut pg, "ledger_lines")
            .await
            .expect("pos"),
        mem.position("ledger_lines")
    );

    // A fresh full sync of the changed source, into another schema, is identical.
    let mut fresh = sink(&db, "fresh").await;
    sync_stream(
        &source,
        &mut fresh,
        "ledger_lines",
        SyncOptions { full: true },
    )
    .await
    .expect("fresh");
    assert_eq!(
        dump(&client, "penny", "ledger_lines").await,
        dump(&client, "fresh", "ledger_lines").await
    );

    // A third run with nothing new changes nothing.
    let third = sync_stream(&source, &mut pg, "ledger_lines", SyncOptions::default())
        .await
        .expect("idle");
    assert_eq!(third.stats, Default::default());
    let runs = pg.recent_runs("ledger_lines", 10).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        ["incremental", "incremental", "full"]
    );
    assert!(runs.iter().all(|r| r.status == "succeeded"), "{runs:?}");
}

/// Records delivered again as they were (the at-least-once re-read of a cursor) are
/// not rewritten, nor counted: only the rows whose values differ are updates.
#[tokio::test]
async fn an_incremental_write_counts_only_the_rows_it_changes() {
    use penny_transform::{Batch, CommitStats, Sink};
    let db = TestDb::new().await;
    let mut pg = sink(&db, "penny").await;
    let schema = std::sync::Arc::new(ledger_schema());
    pg.prepare(&schema, ReadKind::Full).await.expect("prepare");
    let rows = (0..10).map(|id| ledger_row(id, 1)).collect();
    pg.write(Batch::upsert(schema.clone(), rows).expect("batch"))
        .await
        .expect("write");
    pg.commit("ledger_lines", None).await.expect("commit");

    pg.prepare(&schema, ReadKind::Incremental)
        .await
        .expect("prepare");
    let rows = (0..10)
        .map(|id| ledger_row(id, if id == 3 { 2 } else { 1 }))
        .chain([ledger_row(10, 1)])
        .collect();
    pg.write(Batch::upsert(schema.clone(), rows).expect("batch"))
        .await
        .expect("write");
    let stats = pg.commit("ledger_lines", None).await.expect("commit");
    assert_eq!(
        stats,
        CommitStats {
            inserted: 1,
            updated: 1,
            deleted: 0
        }
    );
    let client = db.connect().await;
    let rows = read_rows(&client, "penny", &schema).await;
    assert_eq!(rows.len(), 11);
}
