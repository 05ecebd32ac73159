//! End to end into PostgreSQL: a first sync killed half-way through its reads, then
//! run again, continues each interrupted full read from its last staged resume point
//! and ends with the same raw tables, star schema and reports as an uninterrupted one.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{pg_tables, pg_targets, sandbox_and_client};

use penny_sync::run::RunOptions;
use penny_sync::transform::TransformSettings;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_killed_half_way_resumes_and_ends_as_an_uninterrupted_one() {
    let db = penny_testdb::TestDb::new().await;
    let (sandbox, client) = sandbox_and_client(2000).await;
    // Small pages: many resume points, and a read long enough to be killed half-way.
    let source = penny_api::source::PennylaneSource::new(client).with_page_size(10);
    let settings = Some(TransformSettings::new(500));

    let before = sandbox.total_requests();
    let fresh = pg_targets(&db, "fresh_raw", "fresh_star", &source).await;
    let uninterrupted = penny_sync::run::run(
        &source,
        &fresh,
        RunOptions::default().transform(settings),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    assert!(
        uninterrupted.failures.is_empty(),
        "{:?}",
        uninterrupted.error()
    );
    drop(fresh);
    let whole = sandbox.total_requests() - before;

    // The same sync, killed (its future dropped: connections closed mid-transaction)
    // once half of the requests were made.
    let targets = pg_targets(&db, "raw", "star", &source).await;
    let start = sandbox.total_requests();
    let half = async {
        while sandbox.total_requests() - start < whole / 2 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::select! {
        run = penny_sync::run::run(&source, &targets, RunOptions::default().transform(settings), &penny_sync::NoProgress) => {
            panic!("the sync ended before half-way: {}", run.unwrap().line())
        }
        () = half => {}
    }
    drop(targets);
    let killed = sandbox.total_requests() - start;

    let targets = pg_targets(&db, "raw", "star", &source).await;
    let start = sandbox.total_requests();
    let resumed = penny_sync::run::run(
        &source,
        &targets,
        RunOptions::default().transform(settings),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    assert!(resumed.failures.is_empty(), "{:?}", resumed.error());
    drop(targets);
    let after = sandbox.total_requests() - start;
    let continued: Vec<&str> = resumed
        .reports
        .iter()
        .filter(|r| r.resumed)
        .map(|r| r.stream.as_str())
        .collect();
    assert!(
        !continued.is_empty(),
        "no read was continued ({killed} requests before the kill)"
    );
    // Continuing repeats a little (the pages after the last durable resume point, the
    // lists that cannot be continued), far less than starting again.
    assert!(
        killed + after < whole + whole / 2,
        "{killed} + {after} requests against {whole} uninterrupted"
    );
    println!(
        "uninterrupted {whole} requests; killed after {killed}, resumed with {after} \
         ({} repeated); continued: {}",
        (killed + after).saturating_sub(whole),
        continued.join(", ")
    );

    for (a, b) in [("raw", "fresh_raw"), ("star", "fresh_star")] {
        let (a, b) = (pg_tables(&db, a).await, pg_tables(&db, b).await);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "the same tables"
        );
        for (table, rows) in &a {
            assert!(
                rows == &b[table],
                "{table} differs from an uninterrupted sync's"
            );
        }
    }
}
