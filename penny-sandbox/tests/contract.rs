//! The sandbox against Pennylane's published specs (`PENNY_OPENAPI_DIR`): its table of
//! request rules equals the Company API reference, every endpoint it serves answers in
//! the Firm API's response schemas, and the contract reports a bad request and a bad
//! response precisely.
//!
//! These tests need `PENNY_OPENAPI_DIR` (from the repository root:
//! `PENNY_OPENAPI_DIR="$(cd .. && pwd)/shared/pennylane/openapi"`); without it they fail.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use penny_sandbox::spec::{ENDPOINTS, Operator};
use penny_sandbox::{Contract, Resource, Sandbox, SandboxConfig, Side, Violation};
use serde_json::json;

mod common;

use common::get;

fn contract() -> Contract {
    Contract::from_env().unwrap_or_else(|e| {
        panic!("{e}\n(the contract tests need the spec files; they are never skipped)")
    })
}

async fn checked_sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::builder(config)
        .contract(contract())
        .start()
        .await
        .expect("sandbox")
}

fn report(violations: &[Violation]) -> String {
    penny_sandbox::contract::summary(violations)
}

#[test]
fn the_sandbox_request_rules_are_the_company_spec() {
    let contract = contract();
    let mut differences = Vec::new();
    for rules in ENDPOINTS {
        let Some(spec) = contract.endpoints().iter().find(|e| e.path == rules.path) else {
            differences.push(format!("{}: not a GET endpoint of the spec", rules.path));
            continue;
        };
        if spec.max_limit != rules.max_limit {
            differences.push(format!(
                "{}: limit max {:?} in the spec, {:?} in the sandbox",
                rules.path, spec.max_limit, rules.max_limit
            ));
        }
        let spec_filters: BTreeSet<(String, BTreeSet<String>)> = spec
            .filters
            .iter()
            .map(|(f, ops)| (f.clone(), ops.iter().cloned().collect()))
            .collect();
        let sandbox_filters: BTreeSet<(String, BTreeSet<String>)> = rules
            .filters
            .iter()
            .map(|(f, ops)| {
                (
                    (*f).to_owned(),
                    ops.iter().map(|o| o.name().to_owned()).collect(),
                )
            })
            .collect();
        for extra in sandbox_filters.difference(&spec_filters) {
            differences.push(format!(
                "{}: the sandbox filters {extra:?}, the spec does not",
                rules.path
            ));
        }
        for missing in spec_filters.difference(&sandbox_filters) {
            differences.push(format!(
                "{}: the spec filters {missing:?}, the sandbox does not",
                rules.path
            ));
        }
        let spec_sorts: BTreeSet<&str> = spec.sorts.iter().map(String::as_str).collect();
        let sandbox_sorts: BTreeSet<&str> = rules.sorts.iter().copied().collect();
        if spec_sorts != sandbox_sorts {
            differences.push(format!(
                "{}: sorts {spec_sorts:?} in the spec, {sandbox_sorts:?} in the sandbox",
                rules.path
            ));
        }
        let spec_includes: BTreeSet<&str> = spec.includes.iter().map(String::as_str).collect();
        let sandbox_includes: BTreeSet<&str> = rules.includes.iter().copied().collect();
        if spec_includes != sandbox_includes {
            differences.push(format!(
                "{}: includes {spec_includes:?} in the spec, {sandbox_includes:?} in the sandbox",
                rules.path
            ));
        }
        let generic = ["cursor", "limit", "filter", "sort"];
        let spec_params: BTreeSet<(&str, bool)> = spec
            .query
            .iter()
            .filter(|p| !generic.contains(&p.name.as_str()))
            .map(|p| (p.name.as_str(), p.required))
            .collect();
        let sandbox_params: BTreeSet<(&str, bool)> = rules.params.iter().copied().collect();
        if spec_params != sandbox_params {
            differences.push(format!(
                "{}: other parameters {spec_params:?} in the spec, {sandbox_params:?} in the sandbox",
                rules.path
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the sandbox's table (penny-sandbox/src/spec.rs) differs from company-v2-endpoints.json:\n  {}",
        differences.join("\n  ")
    );
}

/// The operators the sandbox reads are the ones the reference uses, no more, no fewer.
#[test]
fn the_sandbox_operators_are_the_spec_operators() {
    let contract = contract();
    let in_spec: BTreeSet<&str> = contract
        .endpoints()
        .iter()
        .flat_map(|e| e.filters.iter())
        .flat_map(|(_, ops)| ops.iter().map(String::as_str))
        .collect();
    let in_sandbox: BTreeSet<&str> = Operator::all().map(Operator::name).collect();
    assert_eq!(in_sandbox, in_spec);
    for name in in_spec {
        assert_eq!(Operator::parse(name).map(Operator::name), Some(name));
    }
}

#[tokio::test]
async fn a_request_outside_the_spec_is_reported_and_refused() {
    let sandbox = checked_sandbox(SandboxConfig::unthrottled(300)).await;
    let filter =
        json!([{"field": "updated_at", "operator": "gt", "value": "2025-01-01T00:00:00Z"}]);
    let answer = get(
        &sandbox,
        "/ledger_entries",
        &[("filter", filter.to_string()), ("limit", "500".into())],
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    let body = answer.json();
    assert!(
        body["error"].is_string() && body["status"] == json!(400),
        "{body}"
    );
    let violations = sandbox.violations();
    let request: Vec<&Violation> = violations
        .iter()
        .filter(|v| v.side == Side::Request)
        .collect();
    assert!(
        request.iter().any(|v| v.endpoint == "GET /ledger_entries"
            && v.field == "filter[0].field"
            && v.rule.contains("`updated_at` is not filterable")),
        "{}",
        report(&violations)
    );
    assert!(
        request
            .iter()
            .any(|v| v.field == "limit" && v.rule.contains("between 1 and 100")),
        "{}",
        report(&violations)
    );
    // The 400 itself is in the spec's error shape.
    assert!(
        violations.iter().all(|v| v.side == Side::Request),
        "{}",
        report(&violations)
    );
    // An operator the field does not take, on journals.
    let filter = json!([{"field": "type", "operator": "start_with", "value": "s"}]);
    let answer = get(&sandbox, "/journals", &[("filter", filter.to_string())]).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        sandbox
            .violations()
            .iter()
            .any(|v| v.endpoint == "GET /journals"
                && v.field == "filter[0].operator"
                && v.rule.contains("`start_with` is not an operator of `type`")),
        "{}",
        report(&sandbox.violations())
    );
}

#[test]
fn a_response_outside_the_schema_is_reported() {
    let contract = contract();
    let line = json!({
        "id": 1, "debit": "10.00", "credit": 0, "label": "x", "categories": [],
        "ledger_account": {"id": 2, "number": "411000", "url": "u"},
        "journal": {"id": 3, "url": "u"}, "date": "2025-13-01",
        "ledger_entry": {"id": 4, "url": "u"},
        "lettered_ledger_entry_lines": [{"id": 5, "url": "u"}],
        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
        "color": "blue",
    });
    let body = json!({"items": [line], "has_more": false, "next_cursor": null});
    let found = contract
        .check_response("/ledger_entry_lines", &[], 200, &body)
        .expect("ledger entry lines have a response schema");
    let has = |field: &str, rule: &str| {
        found.iter().any(|v| {
            v.side == Side::Response
                && v.endpoint == "GET /ledger_entry_lines"
                && v.field == field
                && v.rule.contains(rule)
        })
    };
    assert!(
        has(
            "items[0].lettered_ledger_entry_lines",
            "must be of type object, got array"
        ),
        "{}",
        report(&found)
    );
    assert!(has("items[0].date", "must be a date"), "{}", report(&found));
    assert!(
        has("items[0].credit", "must be of type string, got integer 0"),
        "{}",
        report(&found)
    );
    assert!(
        has("items[0].imputation_dates", "required field missing"),
        "{}",
        report(&found)
    );
    assert!(
        has("items[0].color", "not a field of the schema"),
        "{}",
        report(&found)
    );
    let empty = json!({"items": [], "has_more": false});
    let found = contract
        .check_response("/journals", &[], 200, &empty)
        .unwrap();
    assert!(
        found
            .iter()
            .any(|v| v.field == "next_cursor" && v.rule == "required field missing"),
        "{}",
        report(&found)
    );
}

/// A concrete path for a template: its parameter replaced by a generated id.
fn concrete(sandbox: &Sandbox, template: &str) -> String {
    let parent = match template.split('/').nth(1).unwrap_or("") {
        "journals" => Resource::Journals,
        "ledger_accounts" => Resource::LedgerAccounts,
        "category_groups" => Resource::CategoryGroups,
        "categories" => Resource::Categories,
        "bank_accounts" => Resource::BankAccounts,
        "customers" => Resource::Customers,
        "suppliers" => Resource::Suppliers,
        "products" => Resource::Products,
        "customer_invoices" => Resource::CustomerInvoices,
        "supplier_invoices" => Resource::SupplierInvoices,
        "transactions" => Resource::Transactions,
        "ledger_entries" => Resource::LedgerEntries,
        _ => Resource::LedgerEntryLines,
    };
    let id = sandbox.generated_ids(1, parent).unwrap().start;
    template
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                id.to_string()
            } else {
                s.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_endpoint_the_sandbox_serves_answers_in_the_spec() {
    let sandbox = checked_sandbox(SandboxConfig::unthrottled(3_000)).await;
    for rules in ENDPOINTS {
        let path = concrete(&sandbox, rules.path);
        let mut query: Vec<(&str, String)> = Vec::new();
        if rules.max_limit.is_some() {
            query.push(("limit", "100".into()));
        }
        if rules.path == "/trial_balance" {
            query.push(("period_start", "2025-01-01".into()));
            query.push(("period_end", "2025-12-31".into()));
        }
        if rules.path == "/customer_invoices" {
            query.push(("include", "invoice_lines".into()));
        }
        let answer = get(&sandbox, &path, &query).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    }
    let violations = sandbox.violations();
    assert!(violations.is_empty(), "{}", report(&violations));
    // What the Firm file does not describe is listed, not judged.
    let unchecked = sandbox.unchecked_endpoints();
    assert!(
        unchecked.iter().any(|e| e == "GET /products"),
        "{unchecked:?}"
    );
    assert!(
        !unchecked.iter().any(|e| e == "GET /ledger_entry_lines"),
        "{unchecked:?}"
    );
    assert!(
        unchecked
            .iter()
            .any(|e| e == "GET /customer_invoices/{customer_invoice_id}/invoice_lines"),
        "{unchecked:?}"
    );
}

#[tokio::test]
async fn error_answers_are_in_the_spec_shape() {
    let sandbox = checked_sandbox(SandboxConfig {
        changelog_retention: std::time::Duration::from_secs(86_400),
        ..SandboxConfig::unthrottled(300)
    })
    .await;
    let unknown = common::get_with(&sandbox, "nope", "/customers", &[]).await;
    assert_eq!(unknown.status, 401);
    let narrow = sandbox
        .token_with_scopes(1, &["customers:readonly"])
        .unwrap();
    use secrecy::ExposeSecret;
    let denied = common::get_with(&sandbox, narrow.expose_secret(), "/transactions", &[]).await;
    assert_eq!(denied.status, 403);
    assert_eq!(get(&sandbox, "/ledger_entries/1", &[]).await.status, 404);
    let old = [("start_date", "2020-01-01T00:00:00Z".to_owned())];
    assert_eq!(
        get(&sandbox, "/changelogs/customers", &old).await.status,
        422
    );
    assert_eq!(
        get(&sandbox, "/customers", &[("limit", "0".into())])
            .await
            .status,
        400
    );
    let responses: Vec<Violation> = sandbox
        .violations()
        .into_iter()
        .filter(|v| v.side == Side::Response)
        .collect();
    assert!(responses.is_empty(), "{}", report(&responses));
}

#[tokio::test]
async fn included_invoice_lines_are_the_lines_of_the_page_invoices() {
    let sandbox = checked_sandbox(SandboxConfig::unthrottled(600)).await;
    let page = get(
        &sandbox,
        "/customer_invoices",
        &[("include", "invoice_lines".into()), ("limit", "10".into())],
    )
    .await
    .json();
    let included = page["included"]["invoice_lines"].as_array().unwrap();
    let mut expected = Vec::new();
    for invoice in page["items"].as_array().unwrap() {
        let id = invoice["id"].as_i64().unwrap();
        let lines = get(
            &sandbox,
            &format!("/customer_invoices/{id}/invoice_lines"),
            &[],
        )
        .await
        .json();
        for line in lines["items"].as_array().unwrap() {
            let mut line = line.clone();
            line["customer_invoice"] = json!({ "id": id });
            expected.push(line);
        }
    }
    let key = |l: &serde_json::Value| l["id"].as_i64().unwrap();
    let mut got: Vec<serde_json::Value> = included.clone();
    got.sort_by_key(key);
    expected.sort_by_key(key);
    assert!(!got.is_empty());
    assert_eq!(got, expected);
    assert_eq!(
        get(
            &sandbox,
            "/customer_invoices",
            &[("include", "payments".into())]
        )
        .await
        .status,
        400
    );
    // Supplier invoices have no include: a 400, and the contract says why.
    assert_eq!(
        get(
            &sandbox,
            "/supplier_invoices",
            &[("include", "invoice_lines".into())]
        )
        .await
        .status,
        400
    );
    assert!(
        sandbox
            .violations()
            .iter()
            .any(|v| v.endpoint == "GET /supplier_invoices" && v.field == "include"),
        "{}",
        report(&sandbox.violations())
    );
}
