//! Table management and merges against a real PostgreSQL: create, evolve, refuse
//! incompatible changes, upsert, delete, and clear errors for bad rows.

mod common;

use std::sync::Arc;

use common::*;
use penny_load::{LoadError, PgSink};
use penny_testdb::TestDb;
use penny_transform::{
    Batch, Column, CommitStats, ErrorClass, LogicalType, Position, ReadKind, Schema, Sink,
    SinkError, Value,
};
use rust_decimal::Decimal;

fn position(n: u64) -> Position {
    Position::encode(&serde_json::json!({ "sequence": n })).expect("position")
}

async fn column_types(client: &tokio_postgres::Client, table: &str) -> Vec<(String, String, bool)> {
    client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a \
             WHERE a.attrelid = ('penny.' || quote_ident($1))::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&table],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// A sink whose ledger table was fully loaded with rows `1..=last` (version 1) and
/// committed at `position(last)`, with the counts of that commit.
async fn loaded_ledger(db: &TestDb, last: i64) -> (PgSink, Arc<Schema>, CommitStats) {
    let mut sink = sink(db, "penny").await;
    let schema = Arc::new(ledger_schema());
    sink.prepare(&schema, ReadKind::Full)
        .await
        .expect("prepare");
    let batch = ledger_batch(&schema, 1..=last, 1);
    let committed = write_and_commit(&mut sink, batch, Some(position(last as u64))).await;
    (sink, schema, committed)
}

#[tokio::test]
async fn creates_typed_tables_with_key_indexes_and_state() {
    let db = TestDb::new().await;
    let (mut sink, schema, committed) = loaded_ledger(&db, 3).await;
    assert_eq!(committed, stats(3, 0, 0));

    let client = db.connect().await;
    let types = column_types(&client, "ledger_lines").await;
    let spelled: Vec<(&str, &str)> = types
        .iter()
        .map(|(n, t, _)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        spelled,
        [
            ("company_id", "bigint"),
            ("id", "bigint"),
            ("date", "date"),
            ("label", "text"),
            ("debit", "numeric(38,2)"),
            ("credit", "numeric(38,2)"),
            ("journal_id", "bigint"),
            ("lettered", "boolean"),
            ("weight", "double precision"),
            ("posted_at", "time without time zone"),
            ("written_at", "timestamp without time zone"),
            ("updated_at", "timestamp with time zone"),
            ("categories", "jsonb"),
        ]
    );
    assert!(
        types.iter().find(|(n, _, _)| n == "date").expect("date").2,
        "required columns are NOT NULL"
    );
    let indexes: Vec<String> = first_column(&client, "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'penny' AND tablename = 'ledger_lines' ORDER BY 1").await;
    assert_eq!(
        indexes,
        [
            "ledger_lines_date_idx",
            "ledger_lines_journal_id_idx",
            "ledger_lines_pkey",
            "ledger_lines_posted_at_idx",
            "ledger_lines_updated_at_idx",
            "ledger_lines_written_at_idx",
        ]
        .map(str::to_owned)
        .into_iter()
        .filter(|i| i != "ledger_lines_posted_at_idx")
        .collect::<Vec<_>>(),
        "dates and *_id columns outside the key are indexed; a time of day is not"
    );
    let pk: Vec<String> = first_column(&client, "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
             AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'penny.ledger_lines'::regclass AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)").await;
    assert_eq!(pk, ["company_id", "id"]);

    // Every value comes back exactly.
    let expected: Vec<_> = (1..=3).map(|id| ledger_row(id, 1)).collect();
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);

    // The position and the counts are in the state table, the run in the log.
    assert_eq!(
        sink.saved_position("ledger_lines").await.expect("pos"),
        Some(position(3))
    );
    let state = sink
        .stream_state("ledger_lines")
        .await
        .expect("state")
        .expect("a state row");
    assert_eq!((state.source.as_str(), state.rows_inserted), ("test", 3));
    assert!(state.last_success.is_some() && state.last_error.is_none() && state.duration.is_some());
    let runs = sink.recent_runs("ledger_lines", 5).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].kind.as_str(), runs[0].status.as_str()),
        ("full", "succeeded")
    );
}

#[tokio::test]
async fn evolves_with_new_columns_and_widenings() {
    let db = TestDb::new().await;
    let mut sink = sink(&db, "penny").await;
    let v1 = shared_schema(
        "journals",
        vec![
            Column::required("id", LogicalType::Int64),
            Column::required("code", LogicalType::Text),
            Column::nullable("rate", LogicalType::Decimal { scale: 2 }),
            Column::required("number", LogicalType::Int64),
        ],
        &["id"],
    );
    sink.prepare(&v1, ReadKind::Incremental)
        .await
        .expect("create");
    let row1 = vec![
        Value::Int64(1),
        "VE".into(),
        Value::Decimal(Decimal::new(2050, 2)),
        Value::Int64(411),
    ];
    let batch = Batch::upsert(v1.clone(), vec![row1]).expect("b");
    write_and_commit(&mut sink, batch, Some(position(1))).await;

    // v2: a new column, a wider scale, an integer that becomes text.
    let v2 = shared_schema(
        "journals",
        vec![
            Column::required("id", LogicalType::Int64),
            Column::required("code", LogicalType::Text),
            Column::nullable("rate", LogicalType::Decimal { scale: 4 }),
            Column::required("number", LogicalType::Text),
            Column::nullable("label", LogicalType::Text),
        ],
        &["id"],
    );
    sink.prepare(&v2, ReadKind::Incremental)
        .await
        .expect("evolve");
    let row2 = vec![
        Value::Int64(2),
        "AC".into(),
        Value::Decimal(Decimal::new(12_3456, 4)),
        "401A".into(),
        "Achats".into(),
    ];
    let batch = Batch::upsert(v2.clone(), vec![row2]).expect("b");
    write_and_commit(&mut sink, batch, Some(position(2))).await;

    let client = db.connect().await;
    let types: Vec<(String, String)> = column_types(&client, "journals")
        .await
        .into_iter()
        .map(|(n, t, _)| (n, t))
        .collect();
    assert_eq!(
        types,
        [
            ("id", "bigint"),
            ("code", "text"),
            ("rate", "numeric(38,4)"),
            ("number", "text"),
            ("label", "text")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let rows: Vec<(i64, String, Option<String>, String)> = client
        .query(
            "SELECT id, rate::text, label, number FROM penny.journals ORDER BY id",
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "20.5000".to_owned(), None, "411".to_owned()),
            (
                2,
                "12.3456".to_owned(),
                Some("Achats".to_owned()),
                "401A".to_owned()
            )
        ]
    );

    // Back to the narrower v1: the table already holds it, so nothing is altered and
    // values are converted on the way in.
    sink.prepare(&v1, ReadKind::Incremental)
        .await
        .expect("narrower schema is kept");
    let row3 = vec![Value::Int64(3), "BQ".into(), Value::Null, Value::Int64(512)];
    let batch = Batch::upsert(v1.clone(), vec![row3]).expect("b");
    write_and_commit(&mut sink, batch, Some(position(3))).await;
    let number: String = scalar(&client, "SELECT number FROM penny.journals WHERE id = 3").await;
    assert_eq!(number, "512");
}

#[tokio::test]
async fn refuses_incompatible_changes_and_says_how_to_resolve_them() {
    let db = TestDb::new().await;
    let (mut sink, _, _) = loaded_ledger(&db, 5).await;
    let client = db.connect().await;
    let before = dump(&client, "penny", "ledger_lines").await;

    let changed = ledger_schema_with([Column::nullable("journal_id", LogicalType::Bool)]);
    // bigint to bool is refused.
    let text = refused_prepare(&mut sink, &changed, ReadKind::Incremental).await;
    assert!(
        text.contains("`journal_id`") && text.contains("`bigint`") && text.contains("bool"),
        "{text}"
    );
    assert!(
        text.contains("--full") && text.contains("drop the table"),
        "{text}"
    );
    assert_eq!(
        dump(&client, "penny", "ledger_lines").await,
        before,
        "nothing was changed"
    );
    let state = sink
        .stream_state("ledger_lines")
        .await
        .expect("state")
        .expect("row");
    assert!(state.last_error.expect("recorded").contains("journal_id"));
    assert_eq!(state.position, Some(position(5)), "the position is kept");

    // A changed key is refused too.
    let rekeyed = Arc::new(
        Schema::new("ledger_lines", ledger_schema().columns().to_vec(), ["id"]).expect("s"),
    );
    let err = sink
        .prepare(&rekeyed, ReadKind::Incremental)
        .await
        .expect_err("key change");
    assert!(
        err.to_string().contains("primary key is (company_id, id)"),
        "{err}"
    );

    // The fix the message gives works: a full refresh rebuilds the table.
    sink.prepare(&changed, ReadKind::Full)
        .await
        .expect("full refresh accepts it");
    let rows = (1..=2)
        .map(|id| {
            let mut r = ledger_row(id, 2);
            r[6] = Value::Bool(true);
            r
        })
        .collect();
    let batch = Batch::upsert(changed.clone(), rows).expect("b");
    let committed = write_and_commit(&mut sink, batch, Some(position(9))).await;
    assert_eq!(committed, stats(0, 2, 3));
    let t: String = scalar(&client, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'penny.ledger_lines'::regclass AND attname = 'journal_id'").await;
    assert_eq!(t, "boolean");
}

#[tokio::test]
async fn upserts_and_deletes_by_key_in_order() {
    let db = TestDb::new().await;
    let (mut sink, schema, _) = loaded_ledger(&db, 10).await;

    sink.prepare(&schema, ReadKind::Incremental)
        .await
        .expect("incremental");
    // Updates of 1..=3 (2 is written twice: the later row wins), inserts of 11 and 12.
    sink.write(ledger_batch(&schema, [1, 2, 3, 11], 2))
        .await
        .expect("write");
    sink.write(ledger_batch(&schema, [2, 12], 3))
        .await
        .expect("write");
    // Delete 4, 5, an absent key, and 12 (inserted above, so the deletion comes later).
    let keys = [4, 5, 999, 12]
        .map(|id| vec![Value::Int64(7), Value::Int64(id)])
        .to_vec();
    sink.write(Batch::delete(schema.clone(), keys).expect("keys"))
        .await
        .expect("delete");
    // Deleted then re-inserted: present at the end.
    let again = vec![vec![Value::Int64(7), Value::Int64(6)]];
    sink.write(Batch::delete(schema.clone(), again).expect("key"))
        .await
        .expect("delete");
    let committed =
        write_and_commit(&mut sink, ledger_batch(&schema, [6], 4), Some(position(20))).await;
    // Inserted: 11. Updated: 1, 2, 3, 6. Deleted: 4, 5 (12 never reached the table).
    assert_eq!(committed, stats(1, 4, 2));

    let client = db.connect().await;
    let mut expected: Vec<_> = [
        (1, 2),
        (2, 3),
        (3, 2),
        (6, 4),
        (7, 1),
        (8, 1),
        (9, 1),
        (10, 1),
        (11, 2),
    ]
    .into_iter()
    .map(|(id, v)| ledger_row(id, v))
    .collect();
    expected.sort_by_key(|r| r[1].as_i64());
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);
    assert_eq!(
        sink.saved_position("ledger_lines").await.expect("pos"),
        Some(position(20))
    );

    // An abort drops what was written since the last commit.
    sink.write(ledger_batch(&schema, [50], 1))
        .await
        .expect("write");
    sink.abort("ledger_lines").await.expect("abort");
    assert_eq!(read_rows(&client, "penny", &schema).await, expected);
    let runs = sink.recent_runs("ledger_lines", 1).await.expect("runs");
    assert_eq!(runs[0].status, "failed");
    assert_eq!(
        (
            runs[0].rows_inserted,
            runs[0].rows_updated,
            runs[0].rows_deleted
        ),
        (1, 4, 2)
    );
}

#[tokio::test]
async fn bad_rows_are_named_with_their_key_and_column() {
    let db = TestDb::new().await;
    let mut sink = sink(&db, "penny").await;
    let rates = |note| {
        shared_schema(
            "rates",
            vec![
                Column::required("id", LogicalType::Int64),
                Column::required("rate", LogicalType::Decimal { scale: 12 }),
                Column::nullable("note", note),
            ],
            &["id"],
        )
    };
    let schema = rates(LogicalType::Text);
    sink.prepare(&schema, ReadKind::Incremental)
        .await
        .expect("prepare");
    let huge = Decimal::from_i128_with_scale(10i128.pow(27), 0);
    let rows = vec![
        vec![Value::Int64(1), Value::Decimal(Decimal::ONE), Value::Null],
        vec![Value::Int64(77), Value::Decimal(huge), Value::Null],
    ];
    let err = sink
        .write(Batch::upsert(schema.clone(), rows).expect("batch"))
        .await
        .expect_err("numeric(38, 12) cannot hold 28 integer digits");
    assert_eq!(err.class(), ErrorClass::Data);
    let cause = std::error::Error::source(&err).expect("cause");
    let load = cause.downcast_ref::<LoadError>().expect("a LoadError");
    assert!(
        matches!(load, LoadError::BadValue { row: 1, key, column, .. } if key == "(77)" && column == "rate"),
        "{load}"
    );

    let nul = vec![vec![
        Value::Int64(5),
        Value::Decimal(Decimal::ONE),
        "a\0b".into(),
    ]];
    let err = sink
        .write(Batch::upsert(schema.clone(), nul).expect("b"))
        .await
        .expect_err("NUL");
    assert!(
        err.to_string().contains("(5)") && err.to_string().contains("`note`"),
        "{err}"
    );

    // A batch built for another shape of the table names the differing column.
    let other = rates(LogicalType::Int64);
    let err = sink
        .write(
            Batch::upsert(
                other,
                vec![vec![
                    Value::Int64(1),
                    Value::Decimal(Decimal::ONE),
                    Value::Int64(3),
                ]],
            )
            .expect("b"),
        )
        .await
        .expect_err("mismatch");
    assert!(matches!(err, SinkError::Data { .. }));
    assert!(err.to_string().contains("rates"), "{err}");
    let cause = std::error::Error::source(&err).expect("cause").to_string();
    assert!(
        cause.contains("`note` int64 (nullable) in the batch") && cause.contains("column 2"),
        "{cause}"
    );

    // The sink still works after the errors.
    sink.prepare(&schema, ReadKind::Incremental)
        .await
        .expect("prepare again");
    let ok = vec![vec![
        Value::Int64(1),
        Value::Decimal(Decimal::new(15, 1)),
        Value::Null,
    ]];
    write_and_commit(
        &mut sink,
        Batch::upsert(schema.clone(), ok).expect("b"),
        None,
    )
    .await;
    let client = db.connect().await;
    assert_eq!(count(&client, "penny", "rates").await, 1);
}

#[tokio::test]
async fn writes_need_a_prepared_table_and_names_postgres_can_hold() {
    let db = TestDb::new().await;
    let mut sink = sink(&db, "penny").await;
    let schema = Arc::new(ledger_schema());
    let err = sink
        .write(ledger_batch(&schema, [1], 1))
        .await
        .expect_err("not prepared");
    assert!(matches!(err, SinkError::NotPrepared { .. }));
    let long = shared_schema(
        &"t".repeat(64),
        vec![Column::required("id", LogicalType::Int64)],
        &["id"],
    );
    let err = sink
        .prepare(&long, ReadKind::Full)
        .await
        .expect_err("too long");
    assert!(
        err.to_string().contains("longer than 63 bytes")
            || std::error::Error::source(&err)
                .expect("c")
                .to_string()
                .contains("longer than 63 bytes")
    );
}
