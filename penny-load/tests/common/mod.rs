//! Shared helpers of the integration tests (a real PostgreSQL per test, no mocks).
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use penny_load::{PgConfig, PgSink};
use penny_testdb::TestDb;
use penny_transform::{
    Batch, Column, CommitStats, ErrorClass, LogicalType, Position, ReadKind, Row, Schema, Sink,
    Value,
};
use rust_decimal::Decimal;
use tokio_postgres::Client;

/// A configuration for the test database, writing into `schema`.
pub fn config(db: &TestDb, schema: &str) -> PgConfig {
    PgConfig::from_url(db.url())
        .expect("test URL")
        .with_schema(schema)
}

/// A sink on the test database.
pub async fn sink(db: &TestDb, schema: &str) -> PgSink {
    PgSink::connect(config(db, schema))
        .await
        .expect("connect the sink")
        .with_source("test")
}

/// A ledger-line-shaped schema using every logical type.
pub fn ledger_schema() -> Schema {
    Schema::new(
        "ledger_lines",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("id", LogicalType::Int64),
            Column::required("date", LogicalType::Date),
            Column::nullable("label", LogicalType::Text),
            Column::required("debit", LogicalType::Decimal { scale: 2 }),
            Column::required("credit", LogicalType::Decimal { scale: 2 }),
            Column::nullable("journal_id", LogicalType::Int64),
            Column::nullable("lettered", LogicalType::Bool),
            Column::nullable("weight", LogicalType::Float64),
            Column::nullable("posted_at", LogicalType::Time),
            Column::nullable("written_at", LogicalType::Timestamp),
            Column::nullable("updated_at", LogicalType::TimestampTz),
            Column::nullable("categories", LogicalType::Json),
        ],
        ["company_id", "id"],
    )
    .expect("ledger schema")
}

/// A ledger row; `version` changes the non-key values.
pub fn ledger_row(id: i64, version: i64) -> Row {
    let date =
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + chrono::Days::new((id % 365) as u64);
    let updated: DateTime<Utc> =
        DateTime::from_timestamp(1_760_000_000 + id * 7 + version, 123_456_000).expect("instant");
    vec![
        Value::Int64(7),
        Value::Int64(id),
        Value::Date(date),
        if id % 5 == 0 {
            Value::Null
        } else {
            Value::Text(format!("Facture n°{id} v{version} « été »"))
        },
        Value::Decimal(Decimal::new(id * 100 + version, 2)),
        Value::Decimal(Decimal::new(version * 3, 2)),
        if id % 3 == 0 {
            Value::Null
        } else {
            Value::Int64(id % 17)
        },
        Value::Bool(id % 2 == 0),
        Value::Float64(id as f64 / 8.0),
        Value::Time(NaiveTime::from_hms_micro_opt(10, (id % 60) as u32, 5, 250).expect("time")),
        Value::Timestamp(updated.naive_utc()),
        Value::TimestampTz(updated),
        Value::Json(serde_json::json!({"id": id, "v": version, "tags": ["a", "b"]})),
    ]
}

/// An upsert batch of ledger rows.
pub fn ledger_batch(
    schema: &Arc<Schema>,
    ids: impl IntoIterator<Item = i64>,
    version: i64,
) -> Batch {
    Batch::upsert(
        schema.clone(),
        ids.into_iter().map(|id| ledger_row(id, version)).collect(),
    )
    .expect("batch")
}

/// Every row of a table as JSON text, sorted: two tables are equal when their dumps are.
pub async fn dump(client: &Client, schema: &str, table: &str) -> Vec<String> {
    client
        .query(
            &format!("SELECT to_jsonb(t)::text FROM \"{schema}\".\"{table}\" t ORDER BY 1"),
            &[],
        )
        .await
        .expect("dump")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Reads a table back into values, ordered by its (integer) primary key.
pub async fn read_rows(client: &Client, schema_name: &str, schema: &Schema) -> Vec<Row> {
    let cols = schema
        .columns()
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let keys = schema
        .primary_key_names()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = client
        .query(
            &format!(
                "SELECT {cols} FROM \"{schema_name}\".\"{}\" ORDER BY {keys}",
                schema.name()
            ),
            &[],
        )
        .await
        .expect("read rows");
    rows.iter()
        .map(|r| {
            schema
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| match c.logical_type {
                    LogicalType::Bool => r.get::<_, Option<bool>>(i).into(),
                    LogicalType::Int64 => r.get::<_, Option<i64>>(i).into(),
                    LogicalType::Float64 => r.get::<_, Option<f64>>(i).into(),
                    LogicalType::Decimal { .. } => r.get::<_, Option<Decimal>>(i).into(),
                    LogicalType::Text => r.get::<_, Option<String>>(i).into(),
                    LogicalType::Date => r.get::<_, Option<NaiveDate>>(i).into(),
                    LogicalType::Time => r.get::<_, Option<NaiveTime>>(i).into(),
                    LogicalType::Timestamp => r.get::<_, Option<chrono::NaiveDateTime>>(i).into(),
                    LogicalType::TimestampTz => r.get::<_, Option<DateTime<Utc>>>(i).into(),
                    LogicalType::Json => r.get::<_, Option<serde_json::Value>>(i).into(),
                })
                .collect()
        })
        .collect()
}

/// The number of rows of a table.
pub async fn count(client: &Client, schema: &str, table: &str) -> i64 {
    client
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".\"{table}\""),
            &[],
        )
        .await
        .expect("count")
        .get(0)
}

/// A schema named `name`, shared as batches and `prepare` want it.
pub fn shared_schema(name: &str, columns: Vec<Column>, key: &[&str]) -> Arc<Schema> {
    Arc::new(Schema::new(name, columns, key.iter().copied()).expect("schema"))
}

/// The counts a commit reports.
pub fn stats(inserted: u64, updated: u64, deleted: u64) -> CommitStats {
    CommitStats {
        inserted,
        updated,
        deleted,
    }
}

/// Writes one batch and commits its stream at `position`.
pub async fn write_and_commit(
    sink: &mut PgSink,
    batch: Batch,
    position: Option<Position>,
) -> CommitStats {
    let stream = batch.schema().name().to_owned();
    sink.write(batch).await.expect("write");
    sink.commit(&stream, position).await.expect("commit")
}

/// The first column of every row `sql` returns, in order.
pub async fn first_column<T: tokio_postgres::types::FromSqlOwned>(
    client: &Client,
    sql: &str,
) -> Vec<T> {
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The first column of the single row `sql` returns.
pub async fn scalar<T: tokio_postgres::types::FromSqlOwned>(client: &Client, sql: &str) -> T {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// The ledger schema with each of `columns` in place of the ledger column of its name.
pub fn ledger_schema_with(columns: impl IntoIterator<Item = Column>) -> Arc<Schema> {
    let mut cols = ledger_schema().columns().to_vec();
    for column in columns {
        let slot = cols
            .iter_mut()
            .find(|c| c.name == column.name)
            .expect("a ledger column of that name");
        *slot = column;
    }
    shared_schema("ledger_lines", cols, &["company_id", "id"])
}

/// Prepares `schema`, which must be refused as a data error; the text of the cause.
pub async fn refused_prepare(sink: &mut PgSink, schema: &Arc<Schema>, kind: ReadKind) -> String {
    let err = sink
        .prepare(schema, kind)
        .await
        .expect_err("the change is refused");
    assert_eq!(err.class(), ErrorClass::Data);
    std::error::Error::source(&err).expect("cause").to_string()
}
