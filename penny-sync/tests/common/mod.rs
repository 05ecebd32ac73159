//! Helpers shared by the end-to-end tests (compiled into each test binary: not every
//! binary uses every item).

#![allow(clippy::unwrap_used, dead_code, unused_imports)]

use penny_api::Client;
pub use penny_sandbox::CheckedSandbox;

/// [`sandbox_with`] and an API client of its company 1, without rate limit.
pub async fn sandbox_and_client(ledger_lines: usize) -> (CheckedSandbox, Client) {
    let sandbox = CheckedSandbox::with_lines(ledger_lines).await;
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(1))
        .no_rate_limit()
        .build()
        .unwrap();
    (sandbox, client)
}

/// The PostgreSQL targets of `db`, raw tables in `raw`, star schema in `star`.
///
/// Targets just dropped release their lock when the server sees their connection
/// close, which a busy machine may not have done yet: a busy lock is retried for up to
/// 10 s before failing.
pub async fn pg_targets(
    db: &penny_testdb::TestDb,
    raw: &str,
    star: &str,
    source: &penny_api::source::PennylaneSource,
) -> penny_sync::run::Targets {
    let mut tries = 0;
    loop {
        match penny_sync::run::Targets::postgres(db.url(), raw, star, source).await {
            Ok(targets) => return targets,
            Err(penny_transform::SinkError::Busy { .. }) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("opening the targets {raw}, {star}: {e}"),
        }
    }
}

pub use penny_testdb::compare::{assert_converged, assert_same_schemas, only_in_each, pg_tables};
