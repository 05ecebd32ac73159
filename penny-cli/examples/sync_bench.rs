//! Benchmark of `penny sync` into PostgreSQL against the sandbox (rate limit off):
//! a full sync, then an incremental cycle after changes, with peak memory.
//!
//! ```sh
//! export PENNY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo run --release -p penny-cli --example sync_bench -- 1000000 1000
//! ```
//! Arguments: ledger lines of the generated company (default 100000), ledger entries
//! relabelled between the two runs (default 1000; each relabels the entry and its lines).
//! Peak memory is the process's high-water mark (`VmHWM`, Linux), sandbox included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt};
use penny_api::sandbox::{Sandbox, SandboxConfig};
use penny_api::{Client, ListRequest};
use penny_cli::commands::sync::{Targets, run_with};
use penny_transform::driver::SyncOptions;

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let lines: usize = args
        .next()
        .map(|a| a.parse().expect("ledger lines"))
        .unwrap_or(100_000);
    let changes: usize = args
        .next()
        .map(|a| a.parse().expect("changes"))
        .unwrap_or(1000);

    // `RUST_LOG=info` shows the pipeline's log lines (why a transformation is rebuilt).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let db = penny_testdb::TestDb::new().await;
    let sandbox = Sandbox::start(SandboxConfig {
        ledger_lines: lines,
        rate_limit: None,
        start: chrono::Utc::now(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(1))
        .no_rate_limit()
        .build()
        .unwrap();
    // One request first, so the sandbox has built its world: the baseline is the
    // sandbox's own memory, and the growth over it the sync's.
    let _ = ListRequest::<serde_json::Value>::new(
        client.clone(),
        "/ledger_entries",
        "ledger_entries",
        1,
    )
    .items()
    .take(1)
    .try_collect::<Vec<_>>()
    .await
    .unwrap();
    let baseline = peak_memory_mib().unwrap_or(f64::NAN);
    println!(
        "sandbox with {lines} ledger lines started: peak memory {baseline:.0} MiB before syncing (the in-process sandbox holds its world)"
    );
    let source = penny_api::source::PennylaneSource::new(client.clone()).with_batch_rows(5000);
    let targets = Targets::postgres(db.url(), "pennylane_raw", "pennylane", &source)
        .await
        .unwrap();

    let started = Instant::now();
    let full = run_with(
        &source,
        &targets,
        &[],
        SyncOptions { full: true },
        4,
        true,
        5000,
    )
    .await
    .unwrap();
    let full_time = started.elapsed();
    assert!(full.failures.is_empty(), "{:?}", full.error());
    let rows = full.totals().inserted;
    println!(
        "full sync, {lines} ledger lines: {rows} raw rows in {:.1} s ({:.0} rows/s), {} API requests; peak memory {:.0} MiB (+{:.0} MiB over the sandbox)",
        full_time.as_secs_f64(),
        rows as f64 / full_time.as_secs_f64(),
        sandbox.total_requests(),
        peak_memory_mib().unwrap_or(f64::NAN),
        peak_memory_mib().unwrap_or(f64::NAN) - baseline
    );

    sandbox.advance_clock(chrono::Duration::minutes(10));
    let entries: Vec<serde_json::Value> = ListRequest::<serde_json::Value>::new(
        client.clone(),
        "/ledger_entries",
        "ledger_entries",
        100,
    )
    .items()
    .try_take_while(|_| std::future::ready(Ok(true)))
    .take(changes)
    .try_collect::<Vec<_>>()
    .await
    .unwrap();
    for e in &entries {
        let id = e["id"].as_i64().unwrap();
        sandbox
            .relabel_ledger_entry(1, id, "Ecriture corrigee")
            .unwrap();
    }
    sandbox.advance_clock(chrono::Duration::minutes(1));
    let before = sandbox.total_requests();
    let started = Instant::now();
    let inc = run_with(
        &source,
        &targets,
        &[],
        SyncOptions { full: false },
        4,
        true,
        5000,
    )
    .await
    .unwrap();
    let inc_time = started.elapsed();
    assert!(inc.failures.is_empty(), "{:?}", inc.error());
    let t = inc.totals();
    println!(
        "incremental cycle, {} entries relabelled: {} inserted, {} updated, {} deleted in {:.2} s (raw load and transformation), {} API requests; peak memory {:.0} MiB (+{:.0} MiB over the sandbox)",
        entries.len(),
        t.inserted,
        t.updated,
        t.deleted,
        inc_time.as_secs_f64(),
        sandbox.total_requests() - before,
        peak_memory_mib().unwrap_or(f64::NAN),
        peak_memory_mib().unwrap_or(f64::NAN) - baseline
    );
    if let Some(tr) = &inc.transform {
        println!(
            "transformation ({} door): {:.2} s, {} rows written in {} tables",
            tr.door,
            tr.duration.as_secs_f64(),
            tr.rows(),
            tr.tables.len()
        );
        for (table, rows, stats) in &tr.tables {
            println!(
                "  {table}: {rows} rows (+{} ~{} -{})",
                stats.inserted, stats.updated, stats.deleted
            );
        }
    }
}
