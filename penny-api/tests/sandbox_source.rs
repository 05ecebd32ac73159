//! The client's `PennylaneSource` against the sandbox: a full sync, mutations, then an
//! incremental sync gives the same raw tables as a fresh full sync of the mutated world.
#![cfg(feature = "source")]
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use penny_api::source::PennylaneSource;
use penny_sandbox::{Resource, Sandbox, SandboxConfig};
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;
use penny_transform::{Row, Value};
use serde_json::json;

mod common;

use common::sandbox;

const STREAMS: &[&str] = &[
    "customers",
    "customer_invoices",
    "customer_invoice_payments",
    "transactions",
    "ledger_entry_lines",
    "ledger_entries",
];

fn source(sandbox: &Sandbox) -> PennylaneSource {
    let client = sandbox::client_builder(sandbox).build().unwrap();
    PennylaneSource::new(client)
}

async fn sync_all(source: &PennylaneSource, sink: &mut MemorySink, full: bool) {
    for stream in STREAMS {
        sync_stream(source, sink, stream, SyncOptions { full })
            .await
            .unwrap_or_else(|e| panic!("{stream}: {e}"));
    }
}

fn id_of(row: &Row) -> Option<i64> {
    match row.get(1) {
        Some(Value::Int64(id)) => Some(*id),
        _ => None,
    }
}

#[tokio::test]
async fn incremental_sync_after_mutations_equals_a_fresh_full_sync() {
    let sandbox = sandbox::start(SandboxConfig::unthrottled(800)).await;
    let source = source(&sandbox);
    let mut synced = MemorySink::default();
    sync_all(&source, &mut synced, true).await;
    assert_eq!(
        synced.rows("ledger_entry_lines").len(),
        sandbox
            .generated_count(1, Resource::LedgerEntryLines)
            .unwrap()
    );

    // Time passes, the books change.
    sandbox.advance_clock(Duration::minutes(30));
    let new_customer = sandbox.create_customer(1, "Atelier Nouveau SAS").unwrap();
    let customer_ids = sandbox.generated_ids(1, Resource::Customers).unwrap();
    let renamed = customer_ids.start;
    let gone = customer_ids.end - 1;
    sandbox
        .update(
            1,
            Resource::Customers,
            renamed,
            json!({ "name": "Renommé SARL" }),
        )
        .unwrap();
    sandbox.delete(1, Resource::Customers, gone).unwrap();
    let unpaid: Vec<i64> = sandbox
        .generated_ids(1, Resource::CustomerInvoices)
        .unwrap()
        .filter(|id| {
            let inv = sandbox.record(1, Resource::CustomerInvoices, *id).unwrap();
            inv["paid"] == json!(false)
                && inv["status"] != json!("credit_note")
                && inv["customer"]["id"] != json!(gone)
        })
        .collect();
    let paid = sandbox.pay_customer_invoice(1, unpaid[0]).unwrap();
    let deleted_invoice = sandbox
        .record(1, Resource::CustomerInvoices, unpaid[1])
        .unwrap();
    let deleted_entry = deleted_invoice["ledger_entry"]["id"].as_i64().unwrap();
    sandbox
        .delete(1, Resource::CustomerInvoices, unpaid[1])
        .unwrap();
    sandbox.advance_clock(Duration::minutes(1));

    let before = sandbox.request_count("/changelogs/customers");
    sync_all(&source, &mut synced, false).await;
    assert!(
        sandbox.request_count("/changelogs/customers") > before,
        "the incremental sync reads the change log"
    );
    let mut fresh = MemorySink::default();
    sync_all(&source, &mut fresh, true).await;

    for stream in STREAMS {
        let mut incremental = synced.rows(stream);
        let full = fresh.rows(stream);
        if *stream == "ledger_entries" {
            // Documented limit of the source: `updated_at` streams do not see deletions
            // until a full read.
            incremental.retain(|row| id_of(row) != Some(deleted_entry));
        }
        assert_eq!(incremental.len(), full.len(), "{stream}");
        assert!(
            incremental == full,
            "{stream}: incremental and full syncs differ"
        );
    }
    let ids = |stream: &str| -> Vec<i64> { fresh.rows(stream).iter().filter_map(id_of).collect() };
    assert!(ids("customers").contains(&new_customer));
    assert!(!ids("customers").contains(&gone));
    assert!(ids("transactions").contains(&paid.transaction_id));
    assert!(ids("customer_invoice_payments").contains(&paid.payment_id));
    assert!(!ids("customer_invoices").contains(&unpaid[1]));
    assert!(ids("ledger_entry_lines").contains(&paid.ledger_entry_line_ids[0]));
}
