//! `PennylaneSource` speaks the published API: the filters and limits each endpoint
//! accepts (Pennylane's `company-v2-get.md`), the scopes per stream, the reference
//! cadence, `include=invoice_lines` with its fallback, the trial balance per fiscal year.
#![cfg(feature = "source")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use penny_api::source::{ApiPosition, PennylaneSource, STREAM_SCOPES};
use penny_api::{Client, RetryPolicy};
use penny_transform::{ErrorClass, Position, ReadKind, Source, SourceEvent, Value};
use serde_json::{Value as Json, json};
use wiremock::matchers::{any, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

mod common;

use common::fast_retries;
use common::mock::{client_builder, page};

fn client(server: &MockServer) -> Client {
    client_builder(server, "test-token")
        .retry(RetryPolicy {
            max_retries: 1,
            ..fast_retries()
        })
        .build()
        .expect("client")
}

fn all_scopes() -> Vec<&'static str> {
    STREAM_SCOPES.iter().filter_map(|s| s.scope).collect()
}

async fn mount_me(server: &MockServer, scopes: &[&str]) {
    Mock::given(path("/api/external/v2/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": null, "company": {"id": 7, "name": "ACME SAS"}, "scopes": scopes
        })))
        .mount(server)
        .await;
}

async fn collect(read: penny_transform::StreamRead<'_>) -> (ReadKind, Vec<SourceEvent>) {
    let kind = read.kind;
    (kind, read.events.try_collect().await.expect("events"))
}

fn rows(events: &[SourceEvent]) -> Vec<Vec<Value>> {
    events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Batch(b) => Some(b.rows().to_vec()),
            SourceEvent::Checkpoint(_) | SourceEvent::Resume(_) => None,
        })
        .flatten()
        .collect()
}

fn last_position(events: &[SourceEvent]) -> Option<ApiPosition> {
    events.iter().rev().find_map(|e| match e {
        SourceEvent::Checkpoint(p) => Some(p.decode().expect("ours")),
        SourceEvent::Batch(_) | SourceEvent::Resume(_) => None,
    })
}

async fn paths(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| {
            r.url
                .path()
                .trim_start_matches("/api/external/v2")
                .to_owned()
        })
        .collect()
}

/// The filters (field -> operators) each list endpoint accepts, as Pennylane's Company
/// API v2 reference (`company-v2-get.md`) lists them; an endpoint absent here accepts
/// no `filter` at all.
fn spec_filters() -> BTreeMap<&'static str, Vec<(&'static str, &'static [&'static str])>> {
    const ALL: &[&str] = &["lt", "lteq", "gt", "gteq", "eq", "not_eq", "in", "not_in"];
    BTreeMap::from([
        (
            "/ledger_entries",
            vec![
                ("id", ALL),
                ("date", &["lt", "lteq", "gt", "gteq", "eq", "not_eq"][..]),
                ("journal_id", ALL),
            ],
        ),
        (
            "/ledger_entry_lines",
            vec![
                ("id", ALL),
                ("journal_id", ALL),
                ("ledger_account_id", ALL),
                ("date", ALL),
            ],
        ),
        (
            "/ledger_accounts",
            vec![
                ("id", ALL),
                ("number", &["start_with", "eq", "in"][..]),
                ("enabled", &["eq"][..]),
            ],
        ),
        (
            "/journals",
            vec![("type", &["eq", "not_eq", "in", "not_in"][..])],
        ),
        (
            "/customers",
            vec![("id", ALL), ("customer_type", &["eq", "not_eq"][..])],
        ),
        ("/suppliers", vec![("id", ALL)]),
        ("/products", vec![("id", ALL)]),
        (
            "/customer_invoices",
            vec![("id", ALL), ("date", ALL), ("customer_id", ALL)],
        ),
        (
            "/supplier_invoices",
            vec![("id", ALL), ("date", ALL), ("supplier_id", ALL)],
        ),
        (
            "/transactions",
            vec![("id", &["eq", "not_eq", "in", "not_in"][..])],
        ),
        ("/categories", vec![("id", ALL)]),
    ])
}

/// The query parameters each endpoint accepts besides `limit`, `cursor`, `filter`.
fn spec_params(path: &str) -> &'static [&'static str] {
    match path {
        "/trial_balance" => &["period_start", "period_end", "is_auxiliary"],
        "/customer_invoices" => &["sort", "include"],
        p if p.starts_with("/changelogs/") => &["start_date"],
        _ => &["sort"],
    }
}

/// An endpoint's path with its ids replaced by `*` (`/customer_invoices/*/payments`).
fn pattern(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A fake Pennylane answering every list with one generic record (every reference
/// field set), every change log with an update, an insert and a deletion.
fn generic(request: &Request) -> ResponseTemplate {
    let path = request.url.path().trim_start_matches("/api/external/v2");
    if path.starts_with("/changelogs/") {
        let cursor = request.url.query_pairs().any(|(k, _)| k == "cursor");
        let events = if cursor {
            json!([])
        } else {
            json!([
                {"id": 1, "operation": "update", "processed_at": Utc::now().to_rfc3339()},
                {"id": 2, "operation": "insert", "processed_at": Utc::now().to_rfc3339()},
                {"id": 3, "operation": "delete", "processed_at": Utc::now().to_rfc3339()}
            ])
        };
        return ResponseTemplate::new(200).set_body_json(json!({
            "items": events, "has_more": !cursor, "next_cursor": if cursor { Json::Null } else { json!("c2") }
        }));
    }
    let record = json!({
        "id": 1, "start": "2026-01-01", "finish": "2026-12-31", "date": "2026-03-01",
        "number": "411000", "debits": "1.00", "credits": "0.00", "debit": "1.00", "credit": "0.00",
        "ledger_entry": {"id": 1}, "journal": {"id": 1}, "ledger_account": {"id": 1},
        "lettered_ledger_entry_lines": {"ids": [], "url": "u"},
    });
    ResponseTemplate::new(200).set_body_json(json!({
        "items": [record], "has_more": false, "next_cursor": null
    }))
}

#[tokio::test]
async fn no_request_uses_a_filter_limit_or_parameter_the_spec_does_not_list() {
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    Mock::given(any())
        .respond_with(generic)
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let names: Vec<String> = source
        .streams()
        .await
        .expect("streams")
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    let recent = Utc::now() - chrono::Duration::hours(1);
    let long_ago = Utc::now() - chrono::Duration::days(2);
    for name in &names {
        // A full read, then an incremental one from a recent position (a reference
        // stream's refresh due, so that it is read too).
        collect(source.read(name, None).await.expect("full")).await;
        let position = match name.as_str() {
            "journals" | "ledger_accounts" => ApiPosition::Reference {
                read_at: recent,
                lines_from: Some(recent),
                max_id: Some(0),
            },
            "fiscal_years" | "bank_accounts" | "categories" | "category_groups"
            | "trial_balance" => ApiPosition::Reference {
                read_at: long_ago,
                lines_from: None,
                max_id: None,
            },
            "companies" => ApiPosition::Full { read_at: None },
            _ => ApiPosition::Changelog {
                processed_at: recent,
            },
        };
        let position = Position::encode(&position).expect("position");
        collect(
            source
                .read(name, Some(position))
                .await
                .expect("incremental"),
        )
        .await;
    }
    let filters = spec_filters();
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests.len() > 40, "{} requests", requests.len());
    let mut seen_filters = 0;
    for request in &requests {
        let path = request.url.path().trim_start_matches("/api/external/v2");
        let endpoint = pattern(path);
        for (key, value) in request.url.query_pairs() {
            match key.as_ref() {
                "limit" => {
                    let limit: u32 = value.parse().expect("a number");
                    assert!(
                        limit >= 1 && limit <= penny_api::max_limit(&endpoint),
                        "{}",
                        request.url
                    );
                    let spec_max = match endpoint.as_str() {
                        "/ledger_accounts" | "/trial_balance" => 1000,
                        e if e.starts_with("/changelogs/") => 1000,
                        _ => 100,
                    };
                    assert!(limit <= spec_max, "{}", request.url);
                }
                "cursor" => {}
                "filter" => {
                    seen_filters += 1;
                    let allowed = filters
                        .get(endpoint.as_str())
                        .unwrap_or_else(|| panic!("{endpoint} takes no filter: {}", request.url));
                    let conditions: Vec<Json> = serde_json::from_str(&value).expect("JSON");
                    for c in conditions {
                        let field = c["field"].as_str().expect("field");
                        let operator = c["operator"].as_str().expect("operator");
                        let ops = allowed
                            .iter()
                            .find(|(f, _)| *f == field)
                            .map(|(_, ops)| *ops)
                            .unwrap_or_else(|| {
                                panic!("{endpoint} does not filter on `{field}`: {}", request.url)
                            });
                        assert!(
                            ops.contains(&operator),
                            "{endpoint}: `{field}` has no `{operator}`: {}",
                            request.url
                        );
                        if operator == "in" {
                            let n = c["value"].as_array().expect("an array").len();
                            assert!(n <= penny_api::page::MAX_IDS_PER_REQUEST, "{n} ids");
                        }
                    }
                }
                other => assert!(
                    spec_params(&endpoint).contains(&other),
                    "{endpoint} has no parameter `{other}`: {}",
                    request.url
                ),
            }
        }
    }
    assert!(
        seen_filters >= 8,
        "the incremental reads filtered by id: {seen_filters}"
    );
}

#[tokio::test]
async fn reference_streams_cost_nothing_between_refreshes_but_follow_new_accounts() {
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    let now = Utc::now();
    // A quiet change log of the lines: nothing to check.
    Mock::given(path("/api/external/v2/changelogs/ledger_entry_lines"))
        .respond_with(page(json!([]), None))
        .mount(&server)
        .await;
    let source =
        PennylaneSource::new(client(&server)).with_reference_refresh(Duration::from_secs(3600));
    let recent = |lines_from: Option<DateTime<Utc>>| {
        Position::encode(&ApiPosition::Reference {
            read_at: now - chrono::Duration::minutes(10),
            lines_from,
            max_id: Some(40),
        })
        .expect("position")
    };
    for stream in [
        "fiscal_years",
        "bank_accounts",
        "categories",
        "category_groups",
        "trial_balance",
    ] {
        let (kind, events) =
            collect(source.read(stream, Some(recent(None))).await.expect("read")).await;
        assert_eq!((kind, events.len()), (ReadKind::Incremental, 0), "{stream}");
    }
    assert_eq!(paths(&server).await, ["/me"], "no request but /me");
    let (kind, events) = collect(
        source
            .read(
                "ledger_accounts",
                Some(recent(Some(now - chrono::Duration::minutes(10)))),
            )
            .await
            .expect("read"),
    )
    .await;
    assert_eq!(kind, ReadKind::Incremental);
    assert!(rows(&events).is_empty());
    assert!(matches!(
        last_position(&events),
        Some(ApiPosition::Reference {
            max_id: Some(40),
            lines_from: Some(_),
            ..
        })
    ));
    assert_eq!(
        paths(&server).await,
        ["/me", "/changelogs/ledger_entry_lines"],
        "a quiet cycle costs the change log only"
    );

    // Lines changed, and one names an account beyond the largest known: read in full.
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    Mock::given(path("/api/external/v2/changelogs/ledger_entry_lines"))
        .respond_with(page(
            json!([{"id": 9, "operation": "insert", "processed_at": now.to_rfc3339()}]),
            None,
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/ledger_entry_lines"))
        .and(query_param(
            "filter",
            r#"[{"field":"ledger_account_id","operator":"gt","value":40}]"#,
        ))
        .and(query_param("limit", "1"))
        .respond_with(page(json!([{"id": 9, "ledger_account": {"id": 41}}]), None))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/ledger_accounts"))
        .and(query_param("limit", "1000"))
        .respond_with(page(
            json!([{"id": 41, "number": "411NEW"}, {"id": 40, "number": "401"}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let (kind, events) = collect(
        source
            .read(
                "ledger_accounts",
                Some(recent(Some(now - chrono::Duration::minutes(10)))),
            )
            .await
            .expect("read"),
    )
    .await;
    assert_eq!(kind, ReadKind::Full);
    assert_eq!(rows(&events).len(), 2);
    assert!(matches!(
        last_position(&events),
        Some(ApiPosition::Reference {
            max_id: Some(41),
            ..
        })
    ));

    // Due: read in full whatever the log says.
    let old = Position::encode(&ApiPosition::Reference {
        read_at: now - chrono::Duration::hours(2),
        lines_from: None,
        max_id: None,
    })
    .expect("position");
    Mock::given(path("/api/external/v2/categories"))
        .respond_with(page(json!([{"id": 1, "label": "Marketing"}]), None))
        .mount(&server)
        .await;
    let (kind, events) = collect(source.read("categories", Some(old)).await.expect("read")).await;
    assert_eq!((kind, rows(&events).len()), (ReadKind::Full, 1));
}

#[tokio::test]
async fn an_optional_stream_without_its_scope_is_skipped_and_a_required_one_fails() {
    let server = MockServer::start().await;
    let granted: Vec<&str> = all_scopes()
        .into_iter()
        .filter(|s| !["customer_invoices:readonly", "ledger_entries:readonly"].contains(s))
        .collect();
    mount_me(&server, &granted).await;
    let source = PennylaneSource::new(client(&server));
    let (kind, events) = collect(
        source
            .read("customer_invoice_lines", None)
            .await
            .expect("skipped"),
    )
    .await;
    assert_eq!((kind, events.len()), (ReadKind::Incremental, 0));
    let err = source
        .read("ledger_entry_lines", None)
        .await
        .expect_err("required");
    assert_eq!(err.class(), ErrorClass::Auth);
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(
        text.contains("ledger_entries:readonly") && text.contains("ledger_entry_lines"),
        "{text}"
    );
    assert_eq!(paths(&server).await, ["/me"], "nothing asked of the API");

    // A 403 (no scope list from /me) names the scope and the stream.
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/transactions"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Missing scope transactions:readonly"})),
        )
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server)).with_company_id(7);
    let read = source
        .read("transactions", None)
        .await
        .expect("read starts");
    let err = read.events.try_collect::<Vec<_>>().await.expect_err("403");
    assert_eq!(err.class(), ErrorClass::Auth);
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(
        text.contains("transactions:readonly") && text.contains("stream `transactions`"),
        "{text}"
    );
}

fn invoice(id: i64) -> Json {
    json!({"id": id, "invoice_number": format!("F{id}"), "date": "2026-03-01"})
}

fn line(id: i64, invoice: i64) -> Json {
    json!({"id": id, "label": "Conseil", "amount": "120.00", "customer_invoice": {"id": invoice}})
}

#[tokio::test]
async fn customer_invoice_lines_come_with_their_invoices_page() {
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .and(query_param("include", "invoice_lines"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [invoice(1), invoice(2)], "has_more": false, "next_cursor": null,
            "included": {"invoice_lines": [line(10, 1), line(11, 1), line(20, 2)]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let (kind, events) = collect(
        source
            .read("customer_invoice_lines", None)
            .await
            .expect("read"),
    )
    .await;
    assert_eq!(kind, ReadKind::Full);
    let got: Vec<(i64, i64)> = rows(&events)
        .iter()
        .map(|r| {
            (
                r[1].as_i64().expect("id"),
                r[2].as_i64().expect("invoice_id"),
            )
        })
        .collect();
    assert_eq!(got, [(10, 1), (11, 1), (20, 2)]);
    assert!(
        !paths(&server)
            .await
            .iter()
            .any(|p| p.ends_with("/invoice_lines")),
        "no per-invoice request"
    );
}

async fn per_invoice_lines(server: &MockServer, calls: Arc<AtomicBool>) {
    for (id, lines) in [(1, json!([line(10, 1)])), (2, json!([line(20, 2)]))] {
        let calls = calls.clone();
        Mock::given(path(format!(
            "/api/external/v2/customer_invoices/{id}/invoice_lines"
        )))
        .respond_with(move |_: &Request| {
            calls.store(true, Ordering::Relaxed);
            ResponseTemplate::new(200).set_body_json(json!({
                "items": lines.clone(), "has_more": false, "next_cursor": null
            }))
        })
        .mount(server)
        .await;
    }
}

#[tokio::test]
async fn a_refused_include_falls_back_to_one_request_per_invoice_for_the_run() {
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .and(query_param("include", "invoice_lines"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"message": "unknown include"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .and(query_param_is_missing("include"))
        .respond_with(page(json!([invoice(1), invoice(2)]), None))
        .expect(2)
        .mount(&server)
        .await;
    let called = Arc::new(AtomicBool::new(false));
    per_invoice_lines(&server, called.clone()).await;
    let source = PennylaneSource::new(client(&server));
    for _ in 0..2 {
        let (kind, events) = collect(
            source
                .read("customer_invoice_lines", None)
                .await
                .expect("read"),
        )
        .await;
        assert_eq!(kind, ReadKind::Full);
        let ids: Vec<i64> = rows(&events)
            .iter()
            .map(|r| r[1].as_i64().expect("id"))
            .collect();
        assert_eq!(ids, [10, 20]);
    }
    assert!(called.load(Ordering::Relaxed));
    // The second read did not try the include again (`expect(1)` above).
}

#[tokio::test]
async fn an_answer_without_included_falls_back_to_one_request_per_invoice() {
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .respond_with(page(json!([invoice(1), invoice(2)]), None))
        .mount(&server)
        .await;
    let called = Arc::new(AtomicBool::new(false));
    per_invoice_lines(&server, called.clone()).await;
    let source = PennylaneSource::new(client(&server));
    let (_, events) = collect(
        source
            .read("customer_invoice_lines", None)
            .await
            .expect("read"),
    )
    .await;
    let ids: Vec<i64> = rows(&events)
        .iter()
        .map(|r| r[1].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [10, 20]);
    assert!(called.load(Ordering::Relaxed));
}

#[tokio::test]
async fn the_trial_balance_is_read_per_fiscal_year_with_auxiliary_accounts() {
    let server = MockServer::start().await;
    mount_me(&server, &all_scopes()).await;
    Mock::given(path("/api/external/v2/fiscal_years"))
        .respond_with(page(
            json!([{"id": 2, "start": "2026-01-01", "finish": "2026-12-31"},
                   {"id": 1, "start": "2025-01-01", "finish": "2025-12-31"}]),
            None,
        ))
        .mount(&server)
        .await;
    for (start, end, number) in [
        ("2025-01-01", "2025-12-31", "411DUPONT"),
        ("2026-01-01", "2026-12-31", "512000"),
    ] {
        Mock::given(path("/api/external/v2/trial_balance"))
            .and(query_param("period_start", start))
            .and(query_param("period_end", end))
            .and(query_param("is_auxiliary", "true"))
            .and(query_param("limit", "1000"))
            .respond_with(page(
                json!([{"number": number, "formatted_number": number, "label": "Compte",
                        "debits": "100.50", "credits": "20.00"}]),
                None,
            ))
            .expect(1)
            .mount(&server)
            .await;
    }
    let source = PennylaneSource::new(client(&server));
    let (kind, events) = collect(source.read("trial_balance", None).await.expect("read")).await;
    assert_eq!(kind, ReadKind::Full);
    let date = |s: &str| Value::Date(s.parse().expect("date"));
    assert_eq!(
        rows(&events),
        [
            vec![
                Value::Int64(7),
                date("2025-01-01"),
                date("2025-12-31"),
                Value::Text("411DUPONT".into()),
                Value::Text("411DUPONT".into()),
                Value::Text("Compte".into()),
                Value::Decimal("100.50".parse().expect("decimal")),
                Value::Decimal("20.00".parse().expect("decimal")),
            ],
            vec![
                Value::Int64(7),
                date("2026-01-01"),
                date("2026-12-31"),
                Value::Text("512000".into()),
                Value::Text("512000".into()),
                Value::Text("Compte".into()),
                Value::Decimal("100.50".parse().expect("decimal")),
                Value::Decimal("20.00".parse().expect("decimal")),
            ],
        ]
    );
    assert!(matches!(
        last_position(&events),
        Some(ApiPosition::Reference { .. })
    ));
}
