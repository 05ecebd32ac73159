//! End to end, in the process: the sandbox, the API source, the CSV target.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use penny_api::Client;
use penny_api::sandbox::{Sandbox, SandboxConfig};
use penny_cli::commands::demo::mutate;
use penny_cli::commands::sync::{Targets, run_with};
use penny_transform::driver::SyncOptions;

async fn sandbox() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(SandboxConfig {
        ledger_lines: 600,
        rate_limit: None,
        start: chrono::Utc::now(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(1))
        .no_rate_limit()
        .build()
        .unwrap();
    (sandbox, client)
}

fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

async fn sync(
    source: &penny_api::source::PennylaneSource,
    dir: &Path,
    full: bool,
) -> penny_cli::pipeline::RunSummary {
    let targets = Targets::csv(dir, false).unwrap();
    let summary = run_with(source, &targets, &[], SyncOptions { full }, 4, true, 1000)
        .await
        .unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.error());
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_sync_equals_a_fresh_full_sync_of_the_mutated_world() {
    let (sandbox, client) = sandbox().await;
    let source = penny_api::source::PennylaneSource::new(client.clone());
    let incremental = tempfile::tempdir().unwrap();
    let fresh = tempfile::tempdir().unwrap();

    let first = sync(&source, incremental.path(), true).await;
    assert!(first.totals().inserted > 1000, "{}", first.line());
    let changes = mutate(&sandbox, &client).await.unwrap();
    assert!(changes.0.len() >= 4, "{:?}", changes.0);
    let second = sync(&source, incremental.path(), false).await;
    assert!(second.totals().inserted >= 3, "{}", second.line());
    assert!(second.totals().deleted >= 1, "{}", second.line());

    sync(&source, fresh.path(), true).await;
    assert_same_tables(incremental.path(), fresh.path());
}

/// The tables of `incremental` equal those of `fresh`, except the rows penny-api's source
/// documents it cannot see incrementally: the lines and payments of a deleted invoice,
/// and deleted ledger entries, stay until the next full read (extra rows only).
fn assert_same_tables(incremental: &Path, fresh: &Path) {
    let a = files(incremental);
    let b = files(fresh);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let may_keep_extra = [
        "customer_invoice_lines.csv",
        "supplier_invoice_lines.csv",
        "customer_invoice_payments.csv",
        "supplier_invoice_payments.csv",
        "canonical_invoice_lines.csv",
        "canonical_invoice_payments.csv",
        "fact_invoice_lines.csv",
        "ledger_entries.csv",
    ];
    let mut differ = Vec::new();
    for (name, text) in &a {
        if b[name] == *text {
            continue;
        }
        let la: std::collections::BTreeSet<&str> = text.lines().collect();
        let lb: std::collections::BTreeSet<&str> = b[name].lines().collect();
        let only_inc: Vec<_> = la.difference(&lb).collect();
        let only_full: Vec<_> = lb.difference(&la).collect();
        if only_full.is_empty() && may_keep_extra.contains(&name.as_str()) && only_inc.len() <= 5 {
            continue;
        }
        differ.push(format!(
            "{name}: only incremental {only_inc:?}; only full {only_full:?}"
        ));
    }
    assert!(differ.is_empty(), "tables differ:\n{}", differ.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_broken_by_faults_converge_on_the_next_run() {
    use penny_api::sandbox::Fault;
    let (sandbox, client) = sandbox().await;
    let source = penny_api::source::PennylaneSource::new(client.clone());
    let incremental = tempfile::tempdir().unwrap();
    let fresh = tempfile::tempdir().unwrap();
    sync(&source, incremental.path(), true).await;
    mutate(&sandbox, &client).await.unwrap();

    // A 503 burst and a 429 storm are absorbed by the client's retries.
    sandbox.inject(Fault::ServerError {
        count: 3,
        status: 503,
    });
    sandbox.inject(Fault::TooManyRequests {
        count: 3,
        retry_after_secs: 0,
    });
    // Cut JSON bodies make some streams fail; their sinks roll back.
    sandbox.inject(Fault::MalformedJson { count: 6 });
    let targets = Targets::csv(incremental.path(), false).unwrap();
    let broken = run_with(
        &source,
        &targets,
        &[],
        SyncOptions::default(),
        4,
        true,
        1000,
    )
    .await
    .unwrap();
    drop(targets);
    assert!(
        !broken.failures.is_empty(),
        "the malformed answers broke a stream: {}",
        broken.line()
    );
    assert!(
        broken.transform.is_none(),
        "no canonical rebuild after a failed raw load"
    );

    // The next run, faults gone, converges to the same tables as a fresh full sync.
    sync(&source, incremental.path(), false).await;
    sync(&source, fresh.path(), true).await;
    assert_same_tables(incremental.path(), fresh.path());
}
