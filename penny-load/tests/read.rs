//! Reading tables back ([`TableReader`]), and concurrent first connections on a
//! fresh schema.

mod common;

use std::sync::Arc;

use common::*;
use futures_util::TryStreamExt;
use penny_load::{KeyFilter, PgSink, TableReader, TargetLock};
use penny_testdb::TestDb;
use penny_transform::{Batch, ReadKind, Row, Sink, Value};

async fn load(db: &TestDb, ids: std::ops::Range<i64>) -> Arc<penny_transform::Schema> {
    let schema = Arc::new(ledger_schema());
    let mut sink = sink(db, "penny").await;
    sink.prepare(&schema, ReadKind::Full)
        .await
        .expect("prepare");
    sink.write(ledger_batch(&schema, ids, 1))
        .await
        .expect("write");
    sink.commit(schema.name(), None).await.expect("commit");
    schema
}

async fn collect(stream: penny_load::BatchStream) -> Vec<Batch> {
    stream.try_collect().await.expect("read")
}

#[tokio::test]
async fn a_table_reads_back_as_written_in_batches_with_its_schema() {
    let db = TestDb::new().await;
    let written = load(&db, 0..25).await;
    let reader = TableReader::new(config(&db, "penny"));

    // The catalog gives back the schema written (state tables left out).
    let tables = reader.tables().await.expect("tables");
    assert_eq!(
        tables.iter().map(|t| t.name()).collect::<Vec<_>>(),
        ["ledger_lines"]
    );
    let schema = reader
        .table("ledger_lines")
        .await
        .expect("table")
        .expect("exists");
    assert_eq!(schema.as_ref(), written.as_ref());
    assert!(reader.table("missing").await.expect("table").is_none());
    assert!(!reader.exists("missing").await.expect("exists"));

    let batches = collect(reader.read(&schema, 10, None).await.expect("read")).await;
    assert_eq!(
        batches.iter().map(Batch::len).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    let rows: Vec<Row> = batches.into_iter().flat_map(Batch::into_rows).collect();
    let expected: Vec<Row> = (0..25).map(|id| ledger_row(id, 1)).collect();
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn a_filter_keeps_the_rows_whose_key_is_listed() {
    let db = TestDb::new().await;
    let schema = load(&db, 0..40).await;
    let reader = TableReader::new(config(&db, "penny"));
    let filter = KeyFilter::ints("id", [3, 17, 39, 1000]);
    let rows: Vec<Row> = collect(reader.read(&schema, 2, Some(&filter)).await.expect("read"))
        .await
        .into_iter()
        .flat_map(Batch::into_rows)
        .collect();
    assert_eq!(
        rows,
        vec![ledger_row(3, 1), ledger_row(17, 1), ledger_row(39, 1)]
    );
    // Scoped to a company: the rows of company 7 only (every row here), none of 8.
    let scoped = |company| KeyFilter::ints("id", [3, 17]).within("company_id", company);
    let rows: Vec<Row> = collect(
        reader
            .read(&schema, 2, Some(&scoped(7)))
            .await
            .expect("read"),
    )
    .await
    .into_iter()
    .flat_map(Batch::into_rows)
    .collect();
    assert_eq!(rows, vec![ledger_row(3, 1), ledger_row(17, 1)]);
    assert!(
        collect(
            reader
                .read(&schema, 2, Some(&scoped(8)))
                .await
                .expect("read")
        )
        .await
        .is_empty()
    );
    let empty = KeyFilter::ints("id", []);
    assert!(
        collect(reader.read(&schema, 2, Some(&empty)).await.expect("read"))
            .await
            .is_empty()
    );
    // Mixed kinds of values are refused, naming the column.
    let mixed = KeyFilter {
        column: "id".into(),
        values: vec![Value::Int64(1), Value::Text("x".into())],
        within: None,
    };
    let err = match reader.read(&schema, 2, Some(&mixed)).await {
        Err(e) => e,
        Ok(_) => panic!("a mixed filter was accepted"),
    };
    assert!(err.to_string().contains("`id`"), "{err}");
}

#[tokio::test]
async fn concurrent_first_sinks_on_a_fresh_schema_all_connect() {
    // Several rounds, each on a schema that does not exist yet: the sinks' first
    // connections create it and its state tables at the same moment.
    let db = TestDb::new().await;
    for round in 0..4 {
        let config = config(&db, &format!("fresh_{round}"));
        let lock = TargetLock::acquire(&config).await.expect("lock");
        let connects = (0..6).map(|_| PgSink::connect_with_lock(config.clone(), lock.clone()));
        let results = futures_util::future::join_all(connects).await;
        for r in results {
            r.expect("every concurrent first connection succeeds");
        }
    }
}
