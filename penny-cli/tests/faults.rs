//! Faults during a sync into PostgreSQL, end to end against the sandbox: the database
//! connection dropped in the middle of a run, and the `penny` process killed with
//! SIGKILL. In both cases the next run converges: the raw tables, the star schema and
//! the reports equal those of a fresh full sync into other schemas, table by table.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use penny_api::sandbox::Fault;
use penny_cli::commands::sync::run_with;
use penny_cli::transform::TransformSettings;
use penny_transform::driver::SyncOptions;
use secrecy::ExposeSecret;

use common::{only_in_each, pg_tables, pg_targets, sandbox_and_client};

/// The tables of schemas `a` and `b` are equal, table by table, and not trivially
/// (the ledger lines and the reports are there).
async fn assert_same_schemas(db: &penny_testdb::TestDb, a: &str, b: &str, must_have: &[&str]) {
    let (ta, tb) = (pg_tables(db, a).await, pg_tables(db, b).await);
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for table in must_have {
        assert!(
            ta.get(*table).is_some_and(|rows| !rows.is_empty()),
            "{a}.{table} missing or empty"
        );
    }
    let mut differ = Vec::new();
    for (name, rows) in &ta {
        if tb[name] == *rows {
            continue;
        }
        let (only_a, only_b) = only_in_each(rows, &tb[name]);
        let (only_a, only_b) = (
            &only_a[..only_a.len().min(3)],
            &only_b[..only_b.len().min(3)],
        );
        differ.push(format!(
            "{name}: {} rows in {a}, {} in {b}; only in {a} {only_a:?}; only in {b} {only_b:?}",
            rows.len(),
            tb[name].len()
        ));
    }
    assert!(differ.is_empty(), "tables differ:\n{}", differ.join("\n"));
}

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
    let full = run_with(
        source,
        &fresh,
        &[],
        SyncOptions { full: true },
        4,
        Some(TransformSettings::new(5000)),
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
    let next = run_with(
        source,
        &targets,
        &[],
        SyncOptions::default(),
        4,
        Some(TransformSettings::new(100)),
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
    let mut run = Box::pin(run_with(
        &source,
        &targets,
        &[],
        SyncOptions { full: true },
        4,
        Some(TransformSettings::new(100)),
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
    let first = run_with(
        &source,
        &targets,
        &[],
        SyncOptions { full: true },
        4,
        Some(TransformSettings::new(100)),
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
    let mut run = Box::pin(run_with(
        &source,
        &targets,
        &[],
        SyncOptions::default(),
        4,
        Some(TransformSettings::new(100)),
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

/// The real `penny sync` binary is killed (SIGKILL) after several streams committed; run
/// again, it completes, and its tables equal those of a fresh full sync: nothing lost,
/// nothing duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_process_converges_on_the_next_run() {
    let db = penny_testdb::TestDb::new().await;
    let (sandbox, client) = sandbox_and_client(3000).await;
    let dir = tempfile::tempdir().unwrap();
    let penny = || {
        let mut cmd = common::penny(dir.path());
        cmd.arg("sync")
            .env("PENNYLANE_API_BASE_URL", sandbox.base_url())
            .env("PENNYLANE_API_TOKEN", sandbox.token(1).expose_secret())
            .env("PENNY_API_RATE_LIMIT_REQUESTS", "100000")
            .env("PENNY_API_RATE_LIMIT_PER", "1s")
            .env("PENNY_SYNC_BATCH_ROWS", "100")
            .env("PENNY_TARGET_RAW_SCHEMA", "kill_raw")
            .env("PENNY_TARGET_STAR_SCHEMA", "kill_star")
            .env("DATABASE_URL", db.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    sandbox.inject(Fault::Latency {
        count: 400,
        delay: Duration::from_millis(15),
    });

    let watcher = db.connect().await;
    let mut child = penny().spawn().unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("penny sync ended ({status}) before it could be killed mid-run");
        }
        // Several streams committed, others still loading.
        if committed_positions(&watcher, "kill_raw").await >= 6 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no batch committed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
    // Some raw rows had landed, and not all: the kill was in the middle of the run.
    let landed = pg_tables(&db, "kill_raw").await;
    let landed_rows: usize = landed.values().map(Vec::len).sum();
    assert!(landed_rows > 0, "no raw row landed before the kill");
    eprintln!(
        "killed after {:?}, {landed_rows} raw rows in {} tables",
        started.elapsed(),
        landed.len()
    );

    // Run again, to completion.
    let mut again = penny();
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    let source = penny_api::source::PennylaneSource::new(client.clone());
    fresh_full_sync(&db, &source).await;

    let fresh_rows: usize = pg_tables(&db, "fresh_raw")
        .await
        .values()
        .map(Vec::len)
        .sum();
    assert!(
        landed_rows < fresh_rows,
        "the killed run had already loaded everything ({landed_rows} rows)"
    );
    assert_same_schemas(&db, "kill_raw", "fresh_raw", &["ledger_entries"]).await;
    assert_same_schemas(&db, "kill_star", "fresh_star", STAR_TABLES).await;
}
