//! Rows per second and peak memory of streaming a 1,000,000-row table through
//! `DataSharingSource` (TLS, `DECLARE`/`FETCH`, text results parsed into typed
//! batches), next to `psql -c "\copy (SELECT ...) TO '/dev/null'"` on the same
//! table in the same run.
//!
//! ```text
//! PENNY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run --release -p penny-redshift --example stream_bench [ROWS]
//! ```
//!
//! It creates a throw-away database (penny-testdb) holding a ledger-shaped table
//! and drops it at the end. Peak memory: this process's VmHWM from
//! `/proc/self/status` before and after the stream; psql's maximum resident set
//! size from `/usr/bin/time -v` (or, without it, VmHWM polled from `/proc/<pid>`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Instant;

use futures_util::StreamExt;
use penny_redshift::{DataSharingConfig, DataSharingSource, SourceOptions};
use penny_transform::{Source, SourceEvent};

fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rows: i64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROWS is a number"))
        .unwrap_or(1_000_000);
    let db = penny_testdb::TestDb::new().await;
    let admin = db.connect().await;
    let started = Instant::now();
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA pennylane;
             CREATE TABLE pennylane.general_ledger AS
             SELECT 1 + g % 3 AS company_id, 'Société ' || (g % 3) AS company_name, g AS id,
                    date '2026-01-01' + (g % 365) AS date, 'Écriture n°' || g AS label,
                    CAST(CAST(g % 100000 AS numeric) / 100 AS numeric(14,2)) AS debit,
                    CAST(NULL AS numeric(14,2)) AS credit,
                    '6' || lpad(CAST(g % 1000 AS text), 5, '0') AS plan_item_number,
                    'VT' AS journal_code,
                    timestamptz '2026-01-01' + g * interval '1 second' AS synchronised_at
             FROM generate_series(1, {rows}) g;
             ANALYZE pennylane.general_ledger;"
        ))
        .await
        .expect("seed");
    println!("seeded {rows} rows in {:.1?}", started.elapsed());

    let config = DataSharingConfig::from_url(db.url())
        .expect("url")
        .danger_accept_any_certificate();
    let options = SourceOptions {
        tables: Some(vec!["general_ledger".into()]),
        ..SourceOptions::default()
    };
    let source = DataSharingSource::new(config, options);

    // Penny: TLS, cursor, text parsed into typed batches.
    let hwm_before = vm_kib("VmHWM:");
    let started = Instant::now();
    let read = source.read("general_ledger", None).await.expect("read");
    let mut events = read.events;
    let (mut streamed, mut batches) = (0usize, 0usize);
    while let Some(event) = events.next().await {
        if let SourceEvent::Batch(batch) = event.expect("event") {
            streamed += batch.len();
            batches += 1;
        }
    }
    let penny_secs = started.elapsed().as_secs_f64();
    let hwm_after = vm_kib("VmHWM:");
    assert_eq!(streamed as i64, rows);

    // psql: the same rows, same TLS, text COPY to /dev/null.
    let conninfo = format!("{}?sslmode=require", db.url());
    let copy = "\\copy (SELECT company_id, company_name, id, date, label, debit, credit, plan_item_number, journal_code, synchronised_at FROM pennylane.general_ledger) TO '/dev/null'";
    let time_v = std::path::Path::new("/usr/bin/time").exists();
    let started = Instant::now();
    let (psql_ok, psql_peak_kib) = if time_v {
        let out = std::process::Command::new("/usr/bin/time")
            .args(["-v", "psql", "-X", "-q", &conninfo, "-c", copy])
            .stdout(Stdio::null())
            .output()
            .expect("run psql");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let peak = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        (out.status.success(), peak)
    } else {
        let mut child = std::process::Command::new("psql")
            .args(["-X", "-q", &conninfo, "-c", copy])
            .stdout(Stdio::null())
            .spawn()
            .expect("run psql");
        let status_file = format!("/proc/{}/status", child.id());
        let mut peak = 0;
        loop {
            if let Ok(s) = std::fs::read_to_string(&status_file)
                && let Some(v) = s
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak = v;
            }
            if let Ok(Some(status)) = child.try_wait() {
                break (status.success(), peak);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    let psql_secs = started.elapsed().as_secs_f64();
    assert!(psql_ok, "psql failed");

    println!("rows: {rows} (10 columns: 3 bigint, 3 varchar, date, 2 numeric(14,2), timestamptz)");
    println!(
        "penny-redshift (TLS, DECLARE/FETCH FORWARD 1000, text -> typed batches of 10000): {penny_secs:.2} s, {:.0} rows/s, {batches} batches",
        rows as f64 / penny_secs
    );
    println!(
        "  peak memory (VmHWM) before the stream {:.1} MiB, after {:.1} MiB (+{:.1} MiB)",
        hwm_before as f64 / 1024.0,
        hwm_after as f64 / 1024.0,
        hwm_after.saturating_sub(hwm_before) as f64 / 1024.0
    );
    println!(
        "psql \\copy (TLS, COPY TO /dev/null): {psql_secs:.2} s, {:.0} rows/s, peak memory {:.1} MiB ({})",
        rows as f64 / psql_secs,
        psql_peak_kib as f64 / 1024.0,
        if time_v {
            "/usr/bin/time -v"
        } else {
            "/proc VmHWM polled"
        }
    );
}
