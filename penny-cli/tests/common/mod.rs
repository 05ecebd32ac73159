//! Helpers shared by the end-to-end tests (compiled into each test binary: not every
//! binary uses every item).

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use penny_api::Client;
use penny_api::sandbox::{Sandbox, SandboxConfig};

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
            penny_api::sandbox::contract::summary(&violations)
        );
    }
}

/// A sandbox with `ledger_lines` ledger lines, no rate limit, its clock at now, under
/// the contract ([`CheckedSandbox`]).
pub async fn sandbox_with(ledger_lines: usize) -> CheckedSandbox {
    let contract = penny_api::sandbox::contract::Contract::from_env().unwrap_or_else(|e| {
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

/// The rows only in `a` and the rows only in `b`, each sorted.
pub fn only_in_each<'a, T: Ord + ?Sized>(
    a: impl IntoIterator<Item = &'a T>,
    b: impl IntoIterator<Item = &'a T>,
) -> (Vec<&'a T>, Vec<&'a T>) {
    let (la, lb): (BTreeSet<&T>, BTreeSet<&T>) = (a.into_iter().collect(), b.into_iter().collect());
    (
        la.difference(&lb).copied().collect(),
        lb.difference(&la).copied().collect(),
    )
}

/// Asserts that the `incremental` tables equal the `fresh` ones (same table names, same
/// rows), except that a table of `may_keep_extra` may keep up to 5 extra rows (what an
/// incremental read cannot see: the lines and payments of a deleted invoice, ...).
pub fn assert_converged<T: PartialEq>(
    incremental: &BTreeMap<String, T>,
    fresh: &BTreeMap<String, T>,
    rows: impl Fn(&T) -> Vec<&str>,
    may_keep_extra: &[&str],
) {
    assert_eq!(
        incremental.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    let mut differ = Vec::new();
    for (name, table) in incremental {
        if fresh[name] == *table {
            continue;
        }
        let (only_inc, only_full) = only_in_each(rows(table), rows(&fresh[name]));
        if only_full.is_empty() && may_keep_extra.contains(&name.as_str()) && only_inc.len() <= 5 {
            continue;
        }
        differ.push(format!(
            "{name}: only incremental {only_inc:?}; only full {only_full:?}"
        ));
    }
    assert!(differ.is_empty(), "tables differ:\n{}", differ.join("\n"));
}

/// Every row of every table of `schema` (penny-load's state tables left out), as
/// sorted JSON texts per table.
pub async fn pg_tables(db: &penny_testdb::TestDb, schema: &str) -> BTreeMap<String, Vec<String>> {
    let client = db.connect().await;
    let names: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
             AND table_name NOT IN ('penny_sync_state', 'penny_sync_runs', 'penny_sync_staged') ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = BTreeMap::new();
    for name in names {
        let rows = client
            .query(
                &format!("SELECT to_jsonb(t)::text FROM \"{schema}\".\"{name}\" t ORDER BY 1"),
                &[],
            )
            .await
            .unwrap();
        out.insert(name, rows.iter().map(|r| r.get(0)).collect());
    }
    out
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
) -> penny_cli::commands::sync::Targets {
    let mut tries = 0;
    loop {
        match penny_cli::commands::sync::Targets::postgres(db.url(), raw, star, source).await {
            Ok(targets) => return targets,
            Err(penny_transform::SinkError::Busy { .. }) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("opening the targets {raw}, {star}: {e}"),
        }
    }
}
