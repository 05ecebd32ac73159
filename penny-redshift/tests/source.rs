//! The Data Sharing source through Penny's driver: streams, full reads, the `etl`
//! incremental reads with deletions, idempotent re-reads and a rebuilt table.
#![allow(clippy::unwrap_used)]

mod common;

use futures_util::StreamExt;
use penny_redshift::{DataSharingSource, SourceOptions, TableMode};
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;
use penny_transform::{
    ErrorClass, Operation, Position, ReadKind, Source, SourceError, SourceEvent, SyncMode, Value,
};

use common::Warehouse;

fn ids(sink: &MemorySink, table: &str) -> Vec<(i64, i64)> {
    let mut ids: Vec<_> = sink
        .rows(table)
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[2].as_i64().unwrap()))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn pennylane_tables_are_streams_read_in_full() {
    let warehouse = Warehouse::new().await;
    // A table that cannot be offered (30 decimals are more than exact decimals hold).
    warehouse
        .db
        .connect()
        .await
        .batch_execute(&format!(
            "CREATE TABLE pennylane.odd_numbers (id bigint, ratio numeric(38,30));
             GRANT SELECT ON pennylane.odd_numbers TO {};",
            warehouse.role
        ))
        .await
        .unwrap();
    let source = DataSharingSource::new(warehouse.config(), SourceOptions::default());
    // Left out of the list of all tables...
    let streams = source.streams().await.expect("streams");
    let names: Vec<_> = streams.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "all_types",
            "companies",
            "events_log",
            "general_ledger",
            "ledger_view"
        ]
    );
    let key = |name: &str| {
        let s = streams.iter().find(|s| s.name() == name).unwrap();
        (
            s.schema
                .primary_key_names()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
            s.sync_mode.clone(),
        )
    };
    assert_eq!(key("general_ledger").0, ["company_id", "id"]);
    assert_eq!(key("companies").0, ["id"]);
    assert_eq!(
        key("events_log"),
        (vec!["_penny_row_number".to_owned()], SyncMode::FullOnly)
    );

    let mut sink = MemorySink::default();
    let report = sync_stream(&source, &mut sink, "general_ledger", SyncOptions::default())
        .await
        .expect("sync");
    assert_eq!((report.kind, report.rows_upserted), (ReadKind::Full, 3));
    assert_eq!(ids(&sink, "general_ledger"), [(1, 101), (1, 102), (2, 101)]);

    // A keyless table: every row, duplicates included, numbered.
    let report = sync_stream(&source, &mut sink, "events_log", SyncOptions::default())
        .await
        .expect("sync keyless");
    assert_eq!(report.rows_upserted, 3);
    let numbers: Vec<_> = sink
        .rows("events_log")
        .iter()
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(numbers, [Value::Int64(1), Value::Int64(2), Value::Int64(3)]);
    // Read again: replaced, not appended.
    sync_stream(&source, &mut sink, "events_log", SyncOptions::default())
        .await
        .expect("again");
    assert_eq!(sink.rows("events_log").len(), 3);

    // A chosen list, and a missing table named.
    let mut options = SourceOptions {
        tables: Some(vec!["companies".into()]),
        ..SourceOptions::default()
    };
    let chosen = DataSharingSource::new(warehouse.config(), options.clone());
    assert_eq!(chosen.streams().await.unwrap().len(), 1);
    options.tables = Some(vec!["companies".into(), "invoices".into()]);
    let err = DataSharingSource::new(warehouse.config(), options.clone())
        .streams()
        .await
        .expect_err("missing");
    assert_eq!(err.class(), ErrorClass::Config);
    assert!(err.to_string().contains("pennylane.invoices"), "{err}");
    // ...and named when chosen.
    options.tables = Some(vec!["odd_numbers".into()]);
    let err = DataSharingSource::new(warehouse.config(), options)
        .streams()
        .await
        .expect_err("unmappable");
    assert_eq!(err.class(), ErrorClass::Data);
    assert!(err.to_string().contains("column `ratio`"), "{err}");
    let err = source.read("nope", None).await.expect_err("missing");
    assert!(err.to_string().contains("pennylane.nope"), "{err}");
}

#[tokio::test]
async fn etl_reads_incrementally_with_deletions_and_survives_a_rebuild() {
    let warehouse = Warehouse::new().await;
    let admin = warehouse.db.connect().await;
    let source = DataSharingSource::new(warehouse.config(), SourceOptions::for_schema("etl"));

    // The old `_etl` spelling is offered under the model's name.
    let streams = source.streams().await.expect("streams");
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].name(), "general_ledger");
    assert_eq!(
        streams[0].sync_mode,
        SyncMode::Cursor {
            field: "synchronised_at".into()
        }
    );

    // 1. First run: a full read without the deleted row.
    let mut sink = MemorySink::default();
    let report = sync_stream(&source, &mut sink, "general_ledger", SyncOptions::default())
        .await
        .expect("first");
    assert_eq!(report.kind, ReadKind::Full);
    assert_eq!(ids(&sink, "general_ledger"), [(1, 1), (1, 2), (1, 3)]);
    let position = sink.position("general_ledger").expect("position");
    assert_eq!(
        position.as_json()["value"]["value"],
        serde_json::json!("2026-01-02T09:00:00Z"),
        "the position is the newest synchronised_at, deleted rows included: {position}"
    );

    // 2. Changes: one update, one insert, one deletion, later synchronised_at.
    admin
        .batch_execute(
            "UPDATE etl.general_ledger_etl SET label = 'c2', synchronised_at = '2026-01-03 08:00:00+00' WHERE id = 3;
             INSERT INTO etl.general_ledger_etl VALUES (2, 'Cabinet', 7, '2026-01-03', 'new', 1.25, NULL, '512001', 'x', NULL, '2026-01-03 08:00:00+00');
             UPDATE etl.general_ledger_etl SET deleted_at = '2026-01-03 09:00:00+00', synchronised_at = '2026-01-03 09:00:00+00' WHERE company_id = 1 AND id = 1;",
        )
        .await
        .unwrap();
    let report = sync_stream(&source, &mut sink, "general_ledger", SyncOptions::default())
        .await
        .expect("incremental");
    assert_eq!(report.kind, ReadKind::Incremental);
    // The row at the saved position (the deletion of (2, 1)) is read again
    // (inclusive), plus the 3 changes.
    assert_eq!((report.rows_upserted, report.rows_deleted), (2, 2));
    assert_eq!(ids(&sink, "general_ledger"), [(1, 2), (1, 3), (2, 7)]);
    let label = |sink: &MemorySink, id: i64| {
        sink.rows("general_ledger")
            .into_iter()
            .find(|r| r[2] == Value::Int64(id) && r[0] == Value::Int64(1))
            .map(|r| r[4].clone())
    };
    assert_eq!(label(&sink, 3), Some(Value::Text("c2".into())));
    let before = sink.rows("general_ledger");

    // 3. Nothing changed: an idempotent re-read of the newest rows only.
    let report = sync_stream(&source, &mut sink, "general_ledger", SyncOptions::default())
        .await
        .expect("idle");
    assert_eq!(report.kind, ReadKind::Incremental);
    assert_eq!((report.rows_upserted, report.rows_deleted), (0, 1));
    assert_eq!(sink.rows("general_ledger"), before);

    // 4. The weekly rebuild: recreated from an older snapshot with a new column, the
    //    deleted rows purged. The saved position is now ahead of the table.
    admin
        .batch_execute(&format!(
            "DROP TABLE etl.general_ledger_etl;
             CREATE TABLE etl.general_ledger_etl (
                 company_id bigint, company_name varchar(255), id bigint, date date, label varchar(2000),
                 debit numeric(14,2), credit numeric(14,2), plan_item_number varchar(32), \"table\" varchar(16),
                 document_id bigint, deleted_at timestamptz, synchronised_at timestamptz);
             INSERT INTO etl.general_ledger_etl VALUES
               (1, 'Noël', 2, '2026-01-01', 'b', NULL, 10.00, '706000', 't2', 42, NULL, '2026-01-01 00:00:00+00'),
               (2, 'Cabinet', 7, '2026-01-03', 'new', 1.25, NULL, '512001', 'x', NULL, NULL, '2026-01-01 00:00:00+00');
             GRANT SELECT ON etl.general_ledger_etl TO {};",
            warehouse.role
        ))
        .await
        .unwrap();
    let report = sync_stream(&source, &mut sink, "general_ledger", SyncOptions::default())
        .await
        .expect("after rebuild");
    assert_eq!(
        report.kind,
        ReadKind::Full,
        "a position ahead of the table means a full read"
    );
    assert_eq!(ids(&sink, "general_ledger"), [(1, 2), (2, 7)]);
    let row = &sink.rows("general_ledger")[0];
    assert_eq!(row.len(), 12, "the new column arrived");
    assert_eq!(row[9], Value::Int64(42), "document_id");
    let position = sink.position("general_ledger").unwrap();
    assert_eq!(
        position.as_json()["value"]["value"],
        serde_json::json!("2026-01-01T00:00:00Z")
    );

    // 5. And incremental again from the rebuilt table's position.
    let report = sync_stream(&source, &mut sink, "general_ledger", SyncOptions::default())
        .await
        .expect("after rebuild, incremental");
    assert_eq!(report.kind, ReadKind::Incremental);
    assert_eq!(ids(&sink, "general_ledger"), [(1, 2), (2, 7)]);
}

#[tokio::test]
async fn batches_are_bounded_and_checkpointed_in_order() {
    let warehouse = Warehouse::new().await;
    let admin = warehouse.db.connect().await;
    admin
        .batch_execute(
            "INSERT INTO etl.general_ledger_etl
             SELECT 3, 'Big', g, '2026-03-01', 'line ' || g, g / 100.0, NULL, '601000', NULL,
                    CASE WHEN g % 10 = 0 THEN timestamptz '2026-03-02' END,
                    timestamptz '2026-03-01' + (g / 7) * interval '1 second'
             FROM generate_series(1, 2500) g",
        )
        .await
        .unwrap();
    let mut options = SourceOptions::for_schema("etl");
    options.cursor.batch_rows = 300;
    options.cursor.fetch_rows = 128;
    let source = DataSharingSource::new(warehouse.config(), options);
    let from = Position::encode(&serde_json::json!({
        "kind": "cursor", "table": "general_ledger_etl", "column": "synchronised_at",
        "value": {"type": "timestamp_tz", "value": "2026-03-01T00:00:00Z"}
    }))
    .unwrap();
    let read = source
        .read("general_ledger_etl", Some(from))
        .await
        .expect("read");
    assert_eq!(read.kind, ReadKind::Incremental);
    let events: Vec<_> = read.events.collect().await;
    let (mut upserts, mut deletes, mut last) = (0, 0, None::<String>);
    let mut previous_checkpoint = String::new();
    for event in events {
        match event.expect("event") {
            SourceEvent::Batch(batch) => {
                assert!(batch.len() <= 300);
                match batch.operation() {
                    Operation::Upsert => upserts += batch.len(),
                    Operation::Delete => {
                        assert_eq!(batch.rows()[0].len(), 2, "deletions carry (company_id, id)");
                        deletes += batch.len()
                    }
                }
            }
            SourceEvent::Checkpoint(p) => {
                let value = p.as_json()["value"]["value"].as_str().unwrap().to_owned();
                assert!(value >= previous_checkpoint, "checkpoints never go back");
                previous_checkpoint = value.clone();
                last = Some(value);
            }
            SourceEvent::Resume(p) => panic!("an incremental read sends no resume point: {p}"),
        }
    }
    assert_eq!((upserts, deletes), (2250, 250));
    assert_eq!(last.as_deref(), Some("2026-03-01T00:05:57Z"));

    // A position this source did not make is refused as such.
    let bogus = Position::encode(&serde_json::json!({"page": 3})).unwrap();
    let err = source
        .read("general_ledger", Some(bogus))
        .await
        .expect_err("bogus");
    assert!(matches!(err, SourceError::InvalidPosition { .. }), "{err}");

    // A monotone column of another table, chosen explicitly.
    let options = SourceOptions {
        modes: [(
            "companies".into(),
            TableMode::Cursor {
                column: "id".into(),
            },
        )]
        .into(),
        ..SourceOptions::default()
    };
    let source = DataSharingSource::new(warehouse.config(), options);
    let mut sink = MemorySink::default();
    sync_stream(&source, &mut sink, "companies", SyncOptions::default())
        .await
        .unwrap();
    admin
        .batch_execute("INSERT INTO pennylane.companies VALUES (3, 'Nouvelle', NULL, NULL)")
        .await
        .unwrap();
    let report = sync_stream(&source, &mut sink, "companies", SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (report.kind, report.rows_upserted),
        (ReadKind::Incremental, 2)
    );
    assert_eq!(sink.rows("companies").len(), 3);
}
