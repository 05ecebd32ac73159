//! `PennylaneSource::plan` against the sandbox: the estimate of a full read, compared
//! with the requests and records of that full read.
#![cfg(feature = "source")]

use penny_api::source::{PennylaneSource, RecordCount};
use penny_sandbox::SandboxConfig;
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;

mod common;

use common::sandbox;

#[tokio::test]
async fn the_plan_of_a_full_read_is_close_to_the_read_it_plans() {
    let sandbox = sandbox::start(SandboxConfig::unthrottled(5_000)).await;
    let client = sandbox::client_builder(&sandbox)
        .changelog_retention(None)
        .build()
        .expect("client");
    let source = PennylaneSource::new(client.clone());
    let before = client.stats().requests;
    let plan = source.plan(&[]).await.expect("plan");
    let probes = client.stats().requests - before;
    assert_eq!(
        plan.probe_requests, probes,
        "the plan counts its own requests"
    );
    // Two per list at most, every list probed once.
    assert!(probes <= 2 * plan.streams.len() as u64, "{probes} probes");
    assert!(plan.per_second.is_none(), "the client has no rate limit");

    let mut total_planned = 0;
    let mut total_made = 0;
    let mut report = Vec::new();
    for stream in &plan.streams {
        let before = client.stats().requests;
        let mut sink = MemorySink::default();
        sync_stream(&source, &mut sink, stream.stream, SyncOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", stream.stream));
        let made = client.stats().requests - before;
        total_planned += stream.requests;
        total_made += made;
        report.push(format!(
            "{}: planned {} requests for {} records, made {made} for {} rows",
            stream.stream,
            stream.requests,
            stream.records,
            sink.rows(stream.stream).len()
        ));
        // A count is exact when the probed pages saw every record: the requests are
        // then those of the read (one more may end an exactly full last page).
        if let RecordCount::Exact(_) = stream.records {
            assert!(made.abs_diff(stream.requests) <= 1, "{}", report.join("\n"));
        }
        if stream.records_are_rows {
            let rows = sink.rows(stream.stream).len() as u64;
            assert!(
                rows.abs_diff(stream.records.value()) * 3 <= rows.max(3),
                "{}",
                report.join("\n")
            );
        }
        // Estimates stay within a third of the read, per stream.
        assert!(
            made.abs_diff(stream.requests) * 3 <= made.max(3),
            "{}",
            report.join("\n")
        );
    }
    println!("{}", report.join("\n"));
    // And the whole within a tenth.
    assert!(
        total_made.abs_diff(total_planned) * 10 <= total_made,
        "planned {total_planned}, made {total_made}\n{}",
        report.join("\n")
    );
    // Unknown streams are refused, naming the known ones.
    let e = source.plan(&["ledger"]).await.expect_err("unknown stream");
    assert!(e.to_string().contains("ledger_entry_lines"), "{e}");
}
