//! Bulk-load benchmark: 1,000,000 ledger-line-shaped rows through `PgSink` (binary
//! COPY, full refresh) next to the same rows loaded by `psql \copy ... CSV`, then an
//! incremental merge of 10,000 changed rows into the loaded table.
//!
//! ```sh
//! cargo run --release -p penny-load --example load_bench
//! ```
//!
//! It creates a scratch database on `PENNY_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), and drops it at the end.
//! `PENNY_BENCH_ROWS` changes the row count. Peak memory: `VmHWM` of this process
//! (measured right after the PgSink load, before the CSV file is written), and
//! `/usr/bin/time -v` for psql when available.

use std::io::{BufWriter, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use penny_load::{PgConfig, PgSink};
use penny_transform::{Batch, Column, LogicalType, ReadKind, Row, Schema, Sink, Value};
use rust_decimal::Decimal;
use tokio_postgres::NoTls;

const BATCH: usize = 10_000;
const CHANGED: i64 = 10_000;

fn schema() -> Schema {
    Schema::new(
        "ledger_lines",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("id", LogicalType::Int64),
            Column::required("ledger_entry_id", LogicalType::Int64),
            Column::nullable("journal_id", LogicalType::Int64),
            Column::nullable("ledger_account_id", LogicalType::Int64),
            Column::required("date", LogicalType::Date),
            Column::nullable("label", LogicalType::Text),
            Column::required("debit", LogicalType::Decimal { scale: 2 }),
            Column::required("credit", LogicalType::Decimal { scale: 2 }),
            Column::nullable("lettering", LogicalType::Text),
            Column::required("updated_at", LogicalType::TimestampTz),
            Column::nullable("categories", LogicalType::Json),
        ],
        ["company_id", "id"],
    )
    .expect("the benchmark schema is valid")
}

fn row(id: i64, version: i64) -> Row {
    let date =
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + chrono::Days::new((id % 730) as u64);
    let updated: DateTime<Utc> =
        DateTime::from_timestamp(1_700_000_000 + id + version * 86_400, 0).expect("instant");
    let amount = Decimal::new((id * 7919 + version) % 10_000_000, 2);
    let (debit, credit) = if id % 2 == 0 {
        (amount, Decimal::ZERO)
    } else {
        (Decimal::ZERO, amount)
    };
    vec![
        Value::Int64(1 + id % 3),
        Value::Int64(id),
        Value::Int64(id / 3),
        Value::Int64(id % 12),
        Value::Int64(4000 + id % 900),
        Value::Date(date),
        Value::Text(format!(
            "Facture F-{id:08} client n°{} v{version}",
            id % 5000
        )),
        Value::Decimal(debit),
        Value::Decimal(credit),
        if id % 4 == 0 {
            Value::Null
        } else {
            Value::Text(format!("L{}", id / 4))
        },
        Value::TimestampTz(updated),
        Value::Json(
            serde_json::json!([{ "label": "Analytique", "weight": "1.00", "id": id % 40 }]),
        ),
    ]
}

fn csv_cell(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::Text(_) | Value::Json(_) => {
            out.push('"');
            out.push_str(&v.to_string().replace('"', "\"\""));
            out.push('"');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").map_or(0, |i| i + 3);
    let end = base[start..].find('/').map_or(base.len(), |i| start + i);
    format!(
        "{}/{db}{}",
        &base[..end],
        query.map(|q| format!("?{q}")).unwrap_or_default()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admin_url = std::env::var("PENNY_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rows: i64 = std::env::var("PENNY_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let db_name = format!("penny_bench_{}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(&admin_url, NoTls).await?;
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE DATABASE \"{db_name}\""))
        .await?;
    let url = with_database(&admin_url, &db_name);
    let result = run(&url, rows).await;
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
        ))
        .await?;
    result
}

async fn run(url: &str, rows: i64) -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(schema());
    println!(
        "penny-load benchmark: {rows} rows of {} columns, batches of {BATCH}",
        schema.columns().len()
    );

    // 1. PgSink: a full refresh (binary COPY into a new table, key, indexes, swap).
    // The rows are made by a producer thread, as a source would, at most 4 batches ahead.
    let mut sink = PgSink::connect(PgConfig::from_url(url)?)
        .await?
        .with_source("bench");
    let hwm_before = vm_hwm_kib();
    let (tx, mut batches) = tokio::sync::mpsc::channel::<Batch>(4);
    let producer_schema = schema.clone();
    let producer = std::thread::spawn(move || {
        let started = Instant::now();
        let mut next = 0;
        while next < rows {
            let end = (next + BATCH as i64).min(rows);
            let batch = Batch::upsert(
                producer_schema.clone(),
                (next..end).map(|id| row(id, 1)).collect(),
            )
            .expect("generated rows are valid");
            if tx.blocking_send(batch).is_err() {
                break;
            }
            next = end;
        }
        started.elapsed()
    });
    let started = Instant::now();
    sink.prepare(&schema, ReadKind::Full).await?;
    let mut waited = std::time::Duration::ZERO;
    loop {
        let wait = Instant::now();
        let Some(batch) = batches.recv().await else {
            break;
        };
        waited += wait.elapsed();
        sink.write(batch).await?;
    }
    let copied = started.elapsed();
    let produced = producer
        .join()
        .map_err(|_| "the producer thread panicked")?;
    println!(
        "  (producer thread made the rows in {:.2} s; the sink waited {:.2} s for them)",
        produced.as_secs_f64(),
        waited.as_secs_f64()
    );
    let stats = sink.commit("ledger_lines", None).await?;
    let ours = started.elapsed();
    let our_hwm = vm_hwm_kib();
    println!(
        "PgSink full load:      {:>8.2} s  {:>9.0} rows/s  (COPY {:.2} s; key, 5 indexes, swap, state {:.2} s)  inserted {}  peak RSS {} MiB (before load {} MiB)",
        ours.as_secs_f64(),
        rows as f64 / ours.as_secs_f64(),
        copied.as_secs_f64(),
        (ours - copied).as_secs_f64(),
        stats.inserted,
        our_hwm / 1024,
        hwm_before / 1024
    );

    // 2. psql \copy of the same rows from CSV into the same table shape with its key.
    let csv = std::env::temp_dir().join(format!("penny_bench_{}.csv", std::process::id()));
    {
        let mut out = BufWriter::new(std::fs::File::create(&csv)?);
        let mut line = String::new();
        for id in 0..rows {
            line.clear();
            for (i, v) in row(id, 1).iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                csv_cell(v, &mut line);
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
        out.flush()?;
    }
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE SCHEMA psql_copy; CREATE TABLE psql_copy.ledger_lines (company_id bigint NOT NULL, \
             id bigint NOT NULL, ledger_entry_id bigint NOT NULL, journal_id bigint, ledger_account_id bigint, \
             date date NOT NULL, label text, debit numeric(38, 2) NOT NULL, credit numeric(38, 2) NOT NULL, \
             lettering text, updated_at timestamptz NOT NULL, categories jsonb, PRIMARY KEY (company_id, id))",
        )
        .await?;
    let time_available = std::path::Path::new("/usr/bin/time").exists();
    let copy_cmd = format!("\\copy psql_copy.ledger_lines FROM '{}' CSV", csv.display());
    let started = Instant::now();
    let output = if time_available {
        Command::new("/usr/bin/time")
            .args(["-v", "psql", "-X", "-q", url, "-c", &copy_cmd])
            .output()?
    } else {
        Command::new("psql")
            .args(["-X", "-q", url, "-c", &copy_cmd])
            .output()?
    };
    let psql = started.elapsed();
    if !output.status.success() {
        return Err(format!("psql failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let psql_rss = String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
        .and_then(|l| l.rsplit(':').next())
        .map(|kib| format!("{} MiB", kib.trim().parse::<u64>().unwrap_or(0) / 1024))
        .unwrap_or_else(|| "n/a (no /usr/bin/time)".into());
    let started = Instant::now();
    client
        .batch_execute(
            "CREATE INDEX ON psql_copy.ledger_lines (ledger_entry_id); CREATE INDEX ON psql_copy.ledger_lines (journal_id); \
             CREATE INDEX ON psql_copy.ledger_lines (ledger_account_id); CREATE INDEX ON psql_copy.ledger_lines (date); \
             CREATE INDEX ON psql_copy.ledger_lines (updated_at)",
        )
        .await?;
    let psql_indexes = started.elapsed();
    let loaded: i64 = client
        .query_one("SELECT count(*) FROM psql_copy.ledger_lines", &[])
        .await?
        .get(0);
    println!(
        "psql \\copy CSV:        {:>8.2} s  {:>9.0} rows/s  (table with its key; {loaded} rows)  peak RSS {psql_rss}",
        psql.as_secs_f64(),
        rows as f64 / psql.as_secs_f64(),
    );
    println!(
        "psql \\copy + same 5 indexes: {:.2} s  {:.0} rows/s",
        (psql + psql_indexes).as_secs_f64(),
        rows as f64 / (psql + psql_indexes).as_secs_f64()
    );
    println!(
        "PgSink / psql \\copy speed: {:.2}x (key only for psql), {:.2}x (same indexes)",
        psql.as_secs_f64() / ours.as_secs_f64(),
        (psql + psql_indexes).as_secs_f64() / ours.as_secs_f64()
    );
    std::fs::remove_file(&csv)?;

    // 3. Incremental merges of 10,000 changed rows (9,000 updates spread over the
    //    table, 1,000 inserts), twice: right after the bulk load, then on other rows.
    for round in 0..2 {
        merge_round(&mut sink, &schema, rows, round).await?;
    }
    println!(
        "peak RSS of the benchmark process overall: {} MiB",
        vm_hwm_kib() / 1024
    );
    Ok(())
}

async fn merge_round(
    sink: &mut PgSink,
    schema: &Arc<Schema>,
    rows: i64,
    round: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let changed: Vec<i64> = (0..CHANGED - 1000)
        .map(|i| (i * 97 + round * 13) % rows)
        .chain(rows + round * 1000..rows + (round + 1) * 1000)
        .collect();
    let started = Instant::now();
    sink.prepare(schema, ReadKind::Incremental).await?;
    let prepared = started.elapsed();
    let batch = Batch::upsert(
        schema.clone(),
        changed.iter().map(|&id| row(id, 2 + round)).collect(),
    )?;
    let started = Instant::now();
    sink.write(batch).await?;
    let staged = started.elapsed();
    let stats = sink.commit("ledger_lines", None).await?;
    let merge = started.elapsed();
    println!(
        "incremental merge {} of {CHANGED} rows into {rows}: {:.3} s (COPY to staging {:.3} s; merge + state + commit {:.3} s; prepare {:.3} s)  inserted {} updated {}",
        round + 1,
        merge.as_secs_f64(),
        staged.as_secs_f64(),
        (merge - staged).as_secs_f64(),
        prepared.as_secs_f64(),
        stats.inserted,
        stats.updated
    );
    Ok(())
}
