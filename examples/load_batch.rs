//! Build a batch by hand and load it into PostgreSQL with `penny-load` alone.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p penny-examples --example load_batch
//! ```
//!
//! The table `examples.journals` is created from the schema, the batch is copied in
//! with binary `COPY` and merged by primary key, and the position is committed with it.
//! Run it twice: the second run updates the same rows instead of duplicating them.

use std::sync::Arc;

use penny_load::{PgConfig, PgSink};
use penny_transform::{Batch, Column, LogicalType, Position, ReadKind, Schema, Sink, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test")?;
    let schema = Arc::new(Schema::new(
        "journals",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("id", LogicalType::Int64),
            Column::required("code", LogicalType::Text),
            Column::nullable("label", LogicalType::Text),
        ],
        ["company_id", "id"],
    )?);
    let batch = Batch::upsert(
        schema.clone(),
        vec![
            vec![
                Value::Int64(1),
                Value::Int64(1),
                "VE".into(),
                "Ventes".into(),
            ],
            vec![
                Value::Int64(1),
                Value::Int64(2),
                "AC".into(),
                "Achats".into(),
            ],
            vec![Value::Int64(1), Value::Int64(3), "BQ".into(), Value::Null],
        ],
    )?;

    let mut sink = PgSink::connect(PgConfig::from_url(&url)?.with_schema("examples"))
        .await?
        .with_source("load_batch example");
    sink.prepare(&schema, ReadKind::Incremental).await?;
    sink.write(batch).await?;
    let stats = sink
        .commit("journals", Some(Position::encode(&"example")?))
        .await?;
    println!(
        "examples.journals: {} inserted, {} updated, {} deleted",
        stats.inserted, stats.updated, stats.deleted
    );
    Ok(())
}
