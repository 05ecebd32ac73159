//! Helpers shared by the end-to-end tests (compiled into each test binary: not every
//! binary uses every item).

#![allow(clippy::unwrap_used, dead_code, unused_imports)]

use std::path::Path;
use std::process::{Command, Stdio};

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

/// `penny` with a clean environment (no settings inherited from the developer's shell),
/// run in `dir`, standard input closed.
pub fn penny(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_penny"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("PENNY_")
            || k.starts_with("PENNYLANE_")
            || k == "DATABASE_URL"
            || k == "RUST_LOG"
        {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

pub use penny_testdb::compare::{assert_same_schemas, pg_tables};
