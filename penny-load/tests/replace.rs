//! Full reads applied in place, as a difference (`PgConfig::with_replace_in_place_below`):
//! the table ends equal to what was read, and the commit counts what really changed.

mod common;

use std::sync::Arc;

use common::*;
use penny_load::PgSink;
use penny_testdb::TestDb;
use penny_transform::{Batch, ReadKind, Sink};

/// A full read of `batches` into `sink`, committed.
async fn full_read(
    sink: &mut PgSink,
    schema: &Arc<penny_transform::Schema>,
    batches: Vec<Batch>,
) -> penny_transform::CommitStats {
    sink.prepare(schema, ReadKind::Full).await.expect("prepare");
    for b in batches {
        sink.write(b).await.expect("write");
    }
    sink.commit(schema.name(), None).await.expect("commit")
}

#[tokio::test]
async fn a_small_table_read_whole_is_changed_in_place_by_its_difference() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let schema = Arc::new(ledger_schema());
    let mut sink = PgSink::connect(config(&db, "penny").with_replace_in_place_below(1000))
        .await
        .expect("connect")
        .with_source("test");

    // The first read creates the table (through a new table: there is none to change).
    let first = full_read(&mut sink, &schema, vec![ledger_batch(&schema, 0..40, 1)]).await;
    assert_eq!(first, stats(40, 0, 0));
    let oid: u32 = scalar(&client, "SELECT 'penny.ledger_lines'::regclass::oid").await;

    // Rows 0..30 unchanged, 30..35 changed, 35..40 gone, 40..45 new, in two batches.
    let second = full_read(
        &mut sink,
        &schema,
        vec![
            ledger_batch(&schema, 0..30, 1),
            ledger_batch(&schema, (30..35).chain(40..45), 2),
        ],
    )
    .await;
    assert_eq!(second, stats(5, 5, 5), "only what changed is counted");
    let expected: Vec<_> = (0..30)
        .map(|id| ledger_row(id, 1))
        .chain((30..35).chain(40..45).map(|id| ledger_row(id, 2)))
        .collect();
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);
    // Changed in place: the same table, not a new one swapped in.
    let still: u32 = scalar(&client, "SELECT 'penny.ledger_lines'::regclass::oid").await;
    assert_eq!(still, oid);

    // The same read again changes nothing.
    let third = full_read(
        &mut sink,
        &schema,
        vec![
            ledger_batch(&schema, 0..30, 1),
            ledger_batch(&schema, (30..35).chain(40..45), 2),
        ],
    )
    .await;
    assert_eq!(third, stats(0, 0, 0));
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);

    // A read of nothing empties the table.
    let emptied = full_read(&mut sink, &schema, vec![]).await;
    assert_eq!(emptied, stats(0, 0, 40));
    assert_eq!(count(&client, "penny", "ledger_lines").await, 0);
}

#[tokio::test]
async fn without_the_option_or_above_the_bound_a_full_read_builds_a_new_table() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    let schema = Arc::new(ledger_schema());
    for (bound, schema_name) in [(0, "never"), (10, "above")] {
        let mut sink = PgSink::connect(config(&db, schema_name).with_replace_in_place_below(bound))
            .await
            .expect("connect")
            .with_source("test");
        full_read(&mut sink, &schema, vec![ledger_batch(&schema, 0..40, 1)]).await;
        let before: u32 = scalar(
            &client,
            &format!("SELECT '{schema_name}.ledger_lines'::regclass::oid"),
        )
        .await;
        let again = full_read(&mut sink, &schema, vec![ledger_batch(&schema, 0..40, 1)]).await;
        // The swap counts every row read again as updated.
        assert_eq!(again, stats(0, 40, 0), "{schema_name}");
        let after: u32 = scalar(
            &client,
            &format!("SELECT '{schema_name}.ledger_lines'::regclass::oid"),
        )
        .await;
        assert_ne!(before, after, "{schema_name}: a new table was swapped in");
    }
}
