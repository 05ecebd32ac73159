//! Helpers shared by the end-to-end tests (compiled into each test binary: not every
//! binary uses every item).

#![allow(clippy::unwrap_used, dead_code, unused_imports)]

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

/// Makes the demo's changes in company 1 of the sandbox (after moving its clock past
/// the last read): a customer created, an unpaid invoice paid, another deleted with its
/// entry, a supplier renamed, an entry relabelled. Returns what it changed.
pub fn mutate(sandbox: &Sandbox) -> Vec<String> {
    use penny_sandbox::Resource;
    use serde_json::Value;
    const COMPANY: i64 = 1;
    let mut changes = Vec::new();
    sandbox.advance_clock(chrono::Duration::minutes(10));
    let id = sandbox
        .create_customer(COMPANY, "Nouvelle Boulangerie SARL")
        .unwrap();
    changes.push(format!("customer {id} created"));
    // The first records a list returns: Pennylane's default order is `-id`.
    let first = |resource: Resource, n: usize| -> Vec<(i64, Value)> {
        sandbox
            .generated_ids(COMPANY, resource)
            .unwrap()
            .rev()
            .filter_map(|id| sandbox.record(COMPANY, resource, id).map(|r| (id, r)))
            .take(n)
            .collect()
    };
    // Booked invoices only: drafts and proformas are outside the books, credit notes
    // are not paid.
    let unpaid: Vec<i64> = first(Resource::CustomerInvoices, 100)
        .into_iter()
        .filter(|(_, i)| i.get("paid") == Some(&Value::Bool(false)))
        .filter(|(_, i)| {
            !matches!(
                i.get("status").and_then(Value::as_str),
                Some("draft" | "proforma" | "credit_note")
            )
        })
        .map(|(id, _)| id)
        .collect();
    let mut payment_entry = None;
    if let Some(&invoice) = unpaid.first() {
        payment_entry = Some(
            sandbox
                .pay_customer_invoice(COMPANY, invoice)
                .unwrap()
                .ledger_entry_id,
        );
        changes.push(format!("customer invoice {invoice} paid"));
    }
    if let Some(&invoice) = unpaid.get(1) {
        sandbox
            .delete(COMPANY, Resource::CustomerInvoices, invoice)
            .unwrap();
        changes.push(format!(
            "customer invoice {invoice} deleted (with its entry)"
        ));
    }
    if let Some((supplier, _)) = first(Resource::Suppliers, 1).first() {
        sandbox
            .update(
                COMPANY,
                Resource::Suppliers,
                *supplier,
                serde_json::json!({ "name": "Fournitures Durand et Fils" }),
            )
            .unwrap();
        changes.push(format!("supplier {supplier} renamed"));
    }
    // The newest entry: the payment's, else the last generated one.
    let newest = payment_entry.or_else(|| first(Resource::LedgerEntries, 1).first().map(|e| e.0));
    if let Some(entry) = newest {
        sandbox
            .relabel_ledger_entry(COMPANY, entry, "Ecriture corrigee")
            .unwrap();
        changes.push(format!("ledger entry {entry} relabelled"));
    }
    sandbox.advance_clock(chrono::Duration::minutes(1));
    changes
}
