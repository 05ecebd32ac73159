//! `PennylaneSource` end to end against the sandbox: a full sync, mutations at the
//! sandbox's clock, then an incremental sync through the changelogs.
#![cfg(feature = "source")]

use std::sync::Arc;

use penny_api::Filter;
use penny_api::source::PennylaneSource;
use penny_sandbox::{Resource, SandboxConfig};
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;
use penny_transform::{ReadKind, Value};
use serde_json::json;

mod common;

use common::sandbox;

#[tokio::test]
async fn full_then_incremental_sync_of_customers_against_the_sandbox() {
    let sandbox = Arc::new(
        sandbox::start(SandboxConfig {
            rate_limit: None,
            ..SandboxConfig::default()
        })
        .await,
    );
    let company = sandbox.company_ids()[0];
    let client = sandbox::client_builder(&sandbox)
        // The sandbox's clock is simulated: let it judge the retention.
        .changelog_retention(None)
        .build()
        .expect("client");
    let clock = sandbox.clone();
    let source =
        PennylaneSource::new(client.clone()).with_server_clock(Arc::new(move || clock.now()));

    let mut sink = MemorySink::default();
    let full = sync_stream(&source, &mut sink, "customers", SyncOptions::default())
        .await
        .expect("full sync");
    assert_eq!(full.kind, ReadKind::Full);
    let before = sink.rows("customers").len();
    assert!(before > 0, "the sandbox generates customers");
    assert!(
        sink.rows("customers")
            .iter()
            .all(|r| r[0] == Value::Int64(company))
    );

    // Changes an hour later on the sandbox's clock.
    sandbox.advance_clock(chrono::Duration::hours(1));
    let ids: Vec<i64> = sink
        .rows("customers")
        .iter()
        .filter_map(|r| r[1].as_i64())
        .collect();
    let (renamed, deleted) = (ids[0], ids[1]);
    sandbox
        .update(
            company,
            Resource::Customers,
            renamed,
            json!({"name": "Renommé SARL"}),
        )
        .expect("update");
    sandbox
        .delete(company, Resource::Customers, deleted)
        .expect("delete");
    let created = sandbox
        .create_customer(company, "Nouvelle SAS")
        .expect("create");

    let requests_before = client.stats().requests;
    let incremental = sync_stream(&source, &mut sink, "customers", SyncOptions::default())
        .await
        .expect("incremental sync");
    assert_eq!(incremental.kind, ReadKind::Incremental);
    assert_eq!(incremental.rows_deleted, 1);
    assert_eq!(incremental.rows_upserted, 2);
    // One changelog page and one `id in [...]` fetch.
    assert_eq!(client.stats().requests - requests_before, 2);

    let rows = sink.rows("customers");
    assert_eq!(rows.len(), before);
    let name_of = |id: i64| {
        rows.iter()
            .find(|r| r[1] == Value::Int64(id))
            .map(|r| r[3].clone())
    };
    assert_eq!(name_of(renamed), Some(Value::Text("Renommé SARL".into())));
    assert_eq!(name_of(created), Some(Value::Text("Nouvelle SAS".into())));
    assert_eq!(name_of(deleted), None);

    // The typed client reads the same record back by id.
    let again = client
        .customers()
        .filter(Filter::eq("id", renamed))
        .all()
        .await
        .expect("typed");
    assert_eq!(again[0].display_name(), "Renommé SARL");
}

#[tokio::test]
async fn every_stream_reads_in_full_from_the_sandbox() {
    use penny_transform::Source;
    let sandbox = sandbox::start(SandboxConfig::unthrottled(300)).await;
    let client = sandbox::client_builder(&sandbox)
        .changelog_retention(None)
        .build()
        .expect("client");
    let source = PennylaneSource::new(client);
    let mut empty = Vec::new();
    for info in source.streams().await.expect("streams") {
        let mut sink = MemorySink::default();
        let report = sync_stream(&source, &mut sink, info.name(), SyncOptions::default())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}: {:?}",
                    info.name(),
                    std::error::Error::source(&e).map(|s| s.to_string())
                )
            });
        if report.rows_upserted == 0 {
            empty.push(info.name().to_owned());
        }
    }
    // Every stream the sandbox generates data for delivers rows.
    for stream in [
        "journals",
        "ledger_accounts",
        "ledger_entry_lines",
        "customer_invoices",
        "customer_invoice_lines",
    ] {
        assert!(
            !empty.contains(&stream.to_owned()),
            "{stream} is empty; empty: {empty:?}"
        );
    }
}

#[tokio::test]
async fn the_companies_stream_is_the_tokens_company_from_me() {
    let sandbox = sandbox::start(SandboxConfig {
        rate_limit: None,
        ..SandboxConfig::default()
    })
    .await;
    let company = sandbox.company_ids()[0];
    let client = sandbox::client_builder(&sandbox).build().expect("client");
    let source = PennylaneSource::new(client);
    let mut sink = MemorySink::default();
    let report = sync_stream(&source, &mut sink, "companies", SyncOptions::default())
        .await
        .expect("sync");
    assert_eq!(report.kind, ReadKind::Full);
    let rows = sink.rows("companies");
    assert_eq!(rows.len(), 1, "one row: the token's company");
    assert_eq!(rows[0][0], Value::Int64(company));
    assert_eq!(rows[0][1], Value::Int64(company));
    assert!(matches!(&rows[0][2], Value::Text(name) if !name.is_empty()));
    assert_eq!(
        rows[0][3],
        Value::Text(format!("{:09}", 512_000_000 + company))
    );
}
