//! Helpers shared by the end-to-end tests (compiled into each test binary: not every
//! binary uses every item).

#![allow(clippy::unwrap_used, dead_code, unused_imports)]

use std::path::Path;
use std::process::{Command, Stdio};

use penny_api::Client;
use penny_sandbox::{Sandbox, SandboxConfig};

/// A sandbox under Pennylane's contract: every request it receives and every response
/// it serves is checked against the official specs (`PENNY_OPENAPI_DIR`), and the test
/// fails when the sandbox is dropped if any departed from them.
pub struct CheckedSandbox(Sandbox);

impl std::ops::Deref for CheckedSandbox {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

impl std::ops::DerefMut for CheckedSandbox {
    fn deref_mut(&mut self) -> &mut Sandbox {
        &mut self.0
    }
}

impl Drop for CheckedSandbox {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let violations = self.0.violations();
        assert!(
            violations.is_empty(),
            "the end-to-end test sent or was served what Pennylane's spec does not allow:\n{}",
            penny_sandbox::contract::summary(&violations)
        );
    }
}

/// A sandbox with `ledger_lines` ledger lines, no rate limit, its clock at now, under
/// the contract ([`CheckedSandbox`]).
pub async fn sandbox_with(ledger_lines: usize) -> CheckedSandbox {
    let contract = penny_sandbox::contract::Contract::from_env().unwrap_or_else(|e| {
        panic!(
            "{e}\n(the end-to-end tests check the sandbox against the spec files; never skipped)"
        )
    });
    let sandbox = Sandbox::builder(SandboxConfig {
        ledger_lines,
        rate_limit: None,
        start: chrono::Utc::now(),
        ..SandboxConfig::default()
    })
    .contract(contract)
    .start()
    .await
    .unwrap();
    CheckedSandbox(sandbox)
}

/// [`sandbox_with`] and an API client of its company 1, without rate limit.
pub async fn sandbox_and_client(ledger_lines: usize) -> (CheckedSandbox, Client) {
    let sandbox = sandbox_with(ledger_lines).await;
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
