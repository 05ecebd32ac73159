//! Streaming a large table through the cursor keeps memory flat.
//!
//! Alone in its test binary so that the process's peak memory (VmHWM) measures
//! this read only. 1,000,000 rows in release builds; 300,000 in debug builds to
//! keep `cargo test` fast (the 1M-row figures come from `examples/stream_bench.rs`).
#![allow(clippy::unwrap_used)]

mod common;

use futures_util::StreamExt;
use penny_redshift::{DataSharingSource, SourceOptions};
use penny_transform::{ReadKind, Source, SourceEvent};

const ROWS: i64 = if cfg!(debug_assertions) {
    300_000
} else {
    1_000_000
};

fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_large_table_streams_in_bounded_batches_with_flat_memory() {
    let warehouse = common::Warehouse::new().await;
    let admin = warehouse.db.connect().await;
    admin
        .batch_execute(&format!(
            "CREATE TABLE pennylane.big_ledger AS
             SELECT 1 + g % 3 AS company_id, 'Société ' || (g % 3) AS company_name, g AS id,
                    date '2026-01-01' + (g % 365) AS date, 'Écriture n°' || g AS label,
                    CAST(g % 100000 AS numeric(14,2)) / 100 AS debit, CAST(NULL AS numeric(14,2)) AS credit,
                    '6' || lpad(CAST(g % 1000 AS text), 5, '0') AS plan_item_number,
                    timestamptz '2026-01-01' + g * interval '1 second' AS updated_at
             FROM generate_series(1, {ROWS}) g;
             GRANT SELECT ON pennylane.big_ledger TO {};",
            warehouse.role
        ))
        .await
        .unwrap();
    let options = SourceOptions {
        tables: Some(vec!["big_ledger".into()]),
        cursor: penny_redshift::CursorOptions {
            batch_rows: 5_000,
            ..Default::default()
        },
        ..SourceOptions::default()
    };
    let source = DataSharingSource::new(warehouse.config(), options);

    let before = vm_kib("VmHWM:");
    let read = source.read("big_ledger", None).await.expect("read");
    assert_eq!(read.kind, ReadKind::Full);
    let mut events = read.events;
    let (mut rows, mut batches, mut id_sum, mut checkpoints) = (0i64, 0, 0i64, 0);
    while let Some(event) = events.next().await {
        match event.expect("event") {
            SourceEvent::Batch(batch) => {
                assert!(batch.len() <= 5_000, "batch of {}", batch.len());
                batches += 1;
                rows += batch.len() as i64;
                id_sum += batch
                    .rows()
                    .iter()
                    .map(|r| r[2].as_i64().unwrap())
                    .sum::<i64>();
            }
            SourceEvent::Checkpoint(_) => checkpoints += 1,
            SourceEvent::Resume(p) => panic!("the warehouse source sends no resume point: {p}"),
        }
    }
    let growth_mib = (vm_kib("VmHWM:").saturating_sub(before)) / 1024;
    assert_eq!(rows, ROWS);
    assert_eq!(id_sum, ROWS * (ROWS + 1) / 2, "every row exactly once");
    assert_eq!(batches, (ROWS + 4_999) / 5_000);
    assert_eq!(checkpoints, 1, "a full read commits once, at its end");
    // Holding the whole table would take well over 100 MiB (300k rows of 9 values);
    // a few batches in flight take a few MiB.
    assert!(
        growth_mib < 48,
        "peak memory grew by {growth_mib} MiB while streaming"
    );
    eprintln!("streamed {rows} rows in {batches} batches; peak memory grew by {growth_mib} MiB");
}
