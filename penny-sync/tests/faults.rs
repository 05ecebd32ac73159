//! Faults during a sync into PostgreSQL, end to end against the sandbox: the database
//! connection dropped in the middle of a run (while loading, while transforming). The
//! next run converges: the raw tables, the star schema and the reports equal those of a
//! fresh full sync into other schemas, table by table.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use penny_sandbox::Fault;
use penny_sync::run::RunOptions;

use common::{assert_same_schemas, pg_targets, sandbox_and_client};

/// Rows of `schema`'s state table (streams whose position a committed batch saved), or
/// 0 while it does not exist yet.
async fn committed_positions(client: &tokio_postgres::Client, schema: &str) -> i64 {
    client
        .query_one(
            &format!(
                "SELECT count(*) FROM \"{schema}\".penny_sync_state WHERE last_success IS NOT NULL"
            ),
            &[],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(0)
}

/// A fresh full sync of `source` into the schemas `fresh_raw` and `fresh_star`.
async fn fresh_full_sync(db: &penny_testdb::TestDb, source: &penny_api::source::PennylaneSource) {
    let fresh = pg_targets(db, "fresh_raw", "fresh_star", source).await;
    let full = penny_sync::run::run(
        source,
        &fresh,
        RunOptions::default().full(true).batch_rows(5000),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    assert!(full.failures.is_empty(), "{:?}", full.error());
}

/// The run after a broken one, in a new process's shoes (targets opened again), by
/// default (incremental): it succeeds and transforms.
async fn next_run(
    db: &penny_testdb::TestDb,
    raw: &str,
    star: &str,
    source: &penny_api::source::PennylaneSource,
) {
    let targets = pg_targets(db, raw, star, source).await;
    let next = penny_sync::run::run(
        source,
        &targets,
        RunOptions::default().batch_rows(100),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    assert!(next.failures.is_empty(), "{:?}", next.error());
    assert!(next.transform.is_some(), "{}", next.line());
}

/// Terminates every other backend of the test database (the sink's connections);
/// returns how many.
async fn terminate_other_backends(killer: &tokio_postgres::Client) -> i64 {
    killer
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

const STAR_TABLES: &[&str] = &[
    "fact_ledger_lines",
    "dim_account",
    "report_trial_balance",
    "report_sig",
];

/// The sink's connections are terminated (`pg_terminate_backend`) while a full sync is
/// loading; the run fails, nothing is half-written, and the next (default) run
/// converges to the tables of a fresh full sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_database_connection_mid_sync_converges_on_the_next_run() {
    let db = penny_testdb::TestDb::new().await;
    let (sandbox, client) = sandbox_and_client(3000).await;
    let source = penny_api::source::PennylaneSource::new(client.clone());
    // Slow answers widen the window in which the load is in progress.
    sandbox.inject(Fault::Latency {
        count: 400,
        delay: Duration::from_millis(15),
    });

    let killer = db.connect().await;
    let targets = pg_targets(&db, "drop_raw", "drop_star", &source).await;
    let mut run = Box::pin(penny_sync::run::run(
        &source,
        &targets,
        RunOptions::default().full(true).batch_rows(100),
        &penny_sync::NoProgress,
    ));
    // Once a batch has committed, every other backend of the test database (the
    // sink's) is terminated.
    let started = Instant::now();
    let mut terminated = 0i64;
    let broken = loop {
        tokio::select! {
            out = &mut run => break out,
            () = tokio::time::sleep(Duration::from_millis(20)), if terminated == 0 => {
                if committed_positions(&killer, "drop_raw").await > 0 {
                    terminated = terminate_other_backends(&killer).await;
                    assert!(terminated > 0, "no sink connection to terminate");
                }
                assert!(started.elapsed() < Duration::from_secs(60), "no batch committed");
            }
        }
    };
    assert!(terminated > 0, "the sync ended before any batch committed");
    let failed = match &broken {
        Err(e) => format!("{e}"),
        Ok(summary) => {
            assert!(
                !summary.failures.is_empty() || summary.transform.is_none(),
                "a run whose connections were terminated reported success: {}",
                summary.line()
            );
            summary.line()
        }
    };
    drop(run);
    drop(targets);
    eprintln!("broken run: {failed}");

    // The next run, in a new process's shoes (targets opened again), by default.
    next_run(&db, "drop_raw", "drop_star", &source).await;

    fresh_full_sync(&db, &source).await;

    assert_same_schemas(&db, "drop_raw", "fresh_raw", &["ledger_entries"]).await;
    assert_same_schemas(&db, "drop_star", "fresh_star", STAR_TABLES).await;
}

/// The star schema's connections are terminated while an incremental transformation
/// writes it (after the raw load committed); the run fails, and the next (default) run
/// converges to the tables of a fresh full sync: the changes it loaded are not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_during_the_transformation_converges_on_the_next_run() {
    let db = penny_testdb::TestDb::new().await;
    let (sandbox, client) = sandbox_and_client(3000).await;
    let source = penny_api::source::PennylaneSource::new(client.clone());
    let targets = pg_targets(&db, "tx_raw", "tx_star", &source).await;
    let first = penny_sync::run::run(
        &source,
        &targets,
        RunOptions::default().full(true).batch_rows(100),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    assert!(first.failures.is_empty(), "{:?}", first.error());
    drop(targets);

    // Changes for the incremental run: relabelled entries (and so their lines).
    let killer = db.connect().await;
    sandbox.advance_clock(chrono::Duration::minutes(10));
    let entries: Vec<(i64, i64)> = killer
        .query(
            "SELECT company_id, id FROM tx_raw.ledger_entries ORDER BY id LIMIT 60",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!entries.is_empty());
    for (company, id) in &entries {
        sandbox
            .relabel_ledger_entry(*company, *id, "Ecriture corrigee")
            .unwrap();
    }
    sandbox.advance_clock(chrono::Duration::minutes(1));

    let targets = pg_targets(&db, "tx_raw", "tx_star", &source).await;
    let mut run = Box::pin(penny_sync::run::run(
        &source,
        &targets,
        RunOptions::default().batch_rows(100),
        &penny_sync::NoProgress,
    ));
    // As soon as a connection merges rows into a star table after the canonical ledger
    // lines (the transformation has committed some of its tables, not all; the raw load
    // writes `tx_raw`), every other backend of the test database is terminated.
    let started = Instant::now();
    let mut terminated = 0i64;
    let broken = loop {
        tokio::select! {
            out = &mut run => break out,
            () = tokio::time::sleep(Duration::from_millis(2)), if terminated == 0 => {
                let transforming: i64 = killer
                    .query_one(
                        r#"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                           AND pid <> pg_backend_pid() AND state <> 'idle'
                           AND query LIKE 'WITH last AS%"tx_star"%'
                           AND query NOT LIKE '%canonical_ledger_lines%'"#,
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if transforming > 0 {
                    terminated = terminate_other_backends(&killer).await;
                }
                assert!(started.elapsed() < Duration::from_secs(60), "no transformation seen");
            }
        }
    };
    assert!(
        terminated > 0,
        "the run ended before its transformation was seen"
    );
    match &broken {
        Err(e) => eprintln!("broken run: {e}"),
        Ok(summary) => panic!(
            "a run whose transformation lost its connections reported success: {}",
            summary.line()
        ),
    }
    drop(run);
    drop(targets);

    next_run(&db, "tx_raw", "tx_star", &source).await;

    fresh_full_sync(&db, &source).await;
    assert_same_schemas(&db, "tx_raw", "fresh_raw", &["ledger_entries"]).await;
    assert_same_schemas(&db, "tx_star", "fresh_star", STAR_TABLES).await;
}
