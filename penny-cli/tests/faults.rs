//! The `penny` process killed with SIGKILL in the middle of a sync into PostgreSQL,
//! end to end against the sandbox: the next run converges, its raw tables, star schema
//! and reports equal to those of a fresh full sync into other schemas, table by table.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use penny_sandbox::Fault;
use secrecy::ExposeSecret;

use common::{CheckedSandbox, assert_same_schemas, pg_tables};

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

const STAR_TABLES: &[&str] = &[
    "fact_ledger_lines",
    "dim_account",
    "report_trial_balance",
    "report_sig",
];

/// The real `penny sync` binary is killed (SIGKILL) after several streams committed; run
/// again, it completes, and its tables equal those of a fresh full sync: nothing lost,
/// nothing duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_process_converges_on_the_next_run() {
    let db = penny_testdb::TestDb::new().await;
    let sandbox = CheckedSandbox::with_lines(3000).await;
    let dir = tempfile::tempdir().unwrap();
    let penny = |raw: &str, star: &str| {
        let mut cmd = common::penny(dir.path());
        cmd.arg("sync")
            .env("PENNYLANE_API_BASE_URL", sandbox.base_url())
            .env("PENNYLANE_API_TOKEN", sandbox.token(1).expose_secret())
            .env("PENNY_API_RATE_LIMIT_REQUESTS", "100000")
            .env("PENNY_API_RATE_LIMIT_PER", "1s")
            .env("PENNY_SYNC_BATCH_ROWS", "100")
            .env("PENNY_TARGET_RAW_SCHEMA", raw)
            .env("PENNY_TARGET_STAR_SCHEMA", star)
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
    let mut child = penny("kill_raw", "kill_star").spawn().unwrap();
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
    let mut again = penny("kill_raw", "kill_star");
    let out = tokio::task::spawn_blocking(move || again.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    // The reference: a fresh full sync of the same books into other schemas.
    let mut fresh = penny("fresh_raw", "fresh_star");
    fresh.arg("--full");
    let out = tokio::task::spawn_blocking(move || fresh.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

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
