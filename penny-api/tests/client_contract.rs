//! Penny's client and Source against a sandbox that checks every request and response
//! against Pennylane's published specs (`PENNY_OPENAPI_DIR`): they drive it without a
//! violation, and every filter operator the client writes is one the reference spells.
//!
//! These tests need `PENNY_OPENAPI_DIR` (from the repository root:
//! `PENNY_OPENAPI_DIR="$(cd .. && pwd)/shared/pennylane/openapi"`); without it they fail.
#![cfg(feature = "source")]
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use penny_api::source::PennylaneSource;
use penny_api::{Filter, Operator};
use penny_sandbox::{Resource, SandboxConfig, Side, Violation};
use penny_transform::Source;
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;
use serde_json::json;

mod common;

use common::sandbox::{checked, client_builder};

fn report(violations: &[Violation]) -> String {
    penny_sandbox::contract::summary(violations)
}

/// The client spells every operator it has the way the reference does: the sandbox,
/// which reads the reference's spellings only, names the same operator.
#[test]
fn the_client_writes_every_operator_as_the_reference_spells_it() {
    let every = [
        Operator::Eq,
        Operator::NotEq,
        Operator::Lt,
        Operator::Lteq,
        Operator::Gt,
        Operator::Gteq,
        Operator::In,
        Operator::NotIn,
        Operator::StartWith,
    ];
    // A new operator breaks this match: add it to `every`.
    for op in every {
        match op {
            Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::Lteq
            | Operator::Gt
            | Operator::Gteq
            | Operator::In
            | Operator::NotIn
            | Operator::StartWith => {}
        }
        let query = Filter::to_query(&[Filter::new("id", op, 1i64)]);
        let sent: serde_json::Value = serde_json::from_str(&query).unwrap();
        let spelled = sent[0]["operator"].as_str().unwrap();
        let read = penny_sandbox::spec::Operator::parse(spelled);
        assert_eq!(read.map(|o| o.name()), Some(spelled), "{op:?}");
        assert_eq!(format!("{op:?}"), format!("{:?}", read.unwrap()));
    }
}

#[tokio::test]
async fn the_client_and_source_stay_within_the_contract() {
    let sandbox = checked(SandboxConfig::unthrottled(1_500)).await;
    let client = client_builder(&sandbox).build().unwrap();
    let source = PennylaneSource::new(client);
    let streams: Vec<String> = source
        .streams()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.schema.name().to_owned())
        .collect();
    let mut failures: Vec<String> = Vec::new();
    let mut sink = MemorySink::default();
    let sync = async |sink: &mut MemorySink, full: bool, failures: &mut Vec<String>| {
        for stream in &streams {
            if let Err(e) = sync_stream(&source, sink, stream, SyncOptions { full }).await {
                failures.push(format!(
                    "{} read of {stream}: {e}",
                    if full { "full" } else { "incremental" }
                ));
            }
        }
    };
    sync(&mut sink, true, &mut failures).await;

    // The books change, then an incremental read.
    sandbox.advance_clock(Duration::minutes(30));
    sandbox.create_customer(1, "Atelier Nouveau SAS").unwrap();
    let customers = sandbox.generated_ids(1, Resource::Customers).unwrap();
    sandbox
        .update(
            1,
            Resource::Customers,
            customers.start,
            json!({"name": "Renommé SARL"}),
        )
        .unwrap();
    let unpaid = sandbox
        .generated_ids(1, Resource::CustomerInvoices)
        .unwrap()
        .find(|id| {
            let inv = sandbox.record(1, Resource::CustomerInvoices, *id).unwrap();
            inv["paid"] == json!(false)
                && inv["draft"] == json!(false)
                && inv["credited_invoice"].is_null()
        })
        .unwrap();
    sandbox.pay_customer_invoice(1, unpaid).unwrap();
    let entry = sandbox
        .generated_ids(1, Resource::LedgerEntries)
        .unwrap()
        .start
        + 5;
    sandbox
        .relabel_ledger_entry(1, entry, "Libellé corrigé")
        .unwrap();
    sandbox.advance_clock(Duration::minutes(1));
    sync(&mut sink, false, &mut failures).await;

    let violations = sandbox.violations();
    let requests: Vec<Violation> = violations
        .iter()
        .filter(|v| v.side == Side::Request)
        .cloned()
        .collect();
    let responses: Vec<Violation> = violations
        .iter()
        .filter(|v| v.side == Side::Response)
        .cloned()
        .collect();
    assert!(
        violations.is_empty() && failures.is_empty(),
        "Penny's client and Source against the sandbox under the contract:\n\
         requests the client sent outside company-v2-endpoints.json: {}\
         responses the sandbox served outside firm-v1.json: {}\
         reads that failed: {}\n  {}",
        report(&requests),
        report(&responses),
        failures.len(),
        failures.join("\n  ")
    );
}
