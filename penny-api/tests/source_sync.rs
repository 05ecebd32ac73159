//! `PennylaneSource` against wiremock, through penny-transform's driver and memory sink.
#![cfg(feature = "source")]

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use penny_api::source::{ApiPosition, PennylaneSource};
use penny_api::{Client, RetryPolicy};
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;
use penny_transform::{ErrorClass, Position, ReadKind, Source, SyncMode, Value};
use serde_json::json;
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

use common::fast_retries;
use common::mock::{client_builder, page};

fn client(server: &MockServer) -> Client {
    client_builder(server, "test-token")
        .retry(RetryPolicy {
            max_retries: 2,
            max_backoff: Duration::from_millis(10),
            max_retry_after: Duration::from_millis(100),
            ..fast_retries()
        })
        .build()
        .expect("client")
}

async fn mount_me(server: &MockServer) {
    let scopes: Vec<&str> = penny_api::source::STREAM_SCOPES
        .iter()
        .filter_map(|s| s.scope)
        .collect();
    Mock::given(path("/api/external/v2/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": null, "company": {"id": 7, "name": "ACME SAS"}, "scopes": scopes
        })))
        .mount(server)
        .await;
}

fn customer(id: i64, name: &str) -> serde_json::Value {
    json!({"id": id, "customer_type": "company", "name": name, "reg_no": "123456789",
           "ledger_account": {"id": 400 + id}, "emails": ["a@b.fr"],
           "updated_at": "2026-11-20T10:00:00Z"})
}

fn names(sink: &MemorySink, table: &str, column: usize) -> Vec<(i64, String)> {
    let mut rows: Vec<(i64, String)> = sink
        .rows(table)
        .into_iter()
        .map(|r| {
            assert_eq!(r[0], Value::Int64(7), "company_id from /me");
            (
                r[1].as_i64().expect("id"),
                r[column].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn full_then_incremental_through_the_changelog_with_a_deletion() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    // The full read: two pages, no filter.
    Mock::given(path("/api/external/v2/customers"))
        .and(query_param_is_missing("filter"))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(
            json!([customer(3, "C"), customer(2, "B")]),
            Some("p2"),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/customers"))
        .and(query_param_is_missing("filter"))
        .and(query_param("cursor", "p2"))
        .respond_with(page(json!([customer(1, "A")]), None))
        .mount(&server)
        .await;
    // The changelog since the full read's position: update 2, insert 4, delete 3,
    // processed after that position (now minus the margin).
    let at = |seconds: i64| {
        (Utc::now() - chrono::Duration::minutes(3) + chrono::Duration::seconds(seconds))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let last_processed = at(3);
    Mock::given(path("/api/external/v2/changelogs/customers"))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(
            json!([
                {"id": 2, "operation": "update", "processed_at": at(0)},
                {"id": 4, "operation": "insert", "processed_at": at(1)},
                {"id": 3, "operation": "update", "processed_at": at(2)},
            ]),
            Some("cl2"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/changelogs/customers"))
        .and(query_param("cursor", "cl2"))
        .and(query_param_is_missing("start_date"))
        .respond_with(page(
            json!([{"id": 3, "operation": "delete", "processed_at": last_processed}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // Changed records fetched by id.
    Mock::given(path("/api/external/v2/customers"))
        .and(query_param(
            "filter",
            r#"[{"field":"id","operator":"in","value":[2,3,4]}]"#,
        ))
        .respond_with(page(json!([customer(4, "D"), customer(2, "B2")]), None))
        .expect(1)
        .mount(&server)
        .await;

    let source = PennylaneSource::new(client(&server));
    let info = source.streams().await.expect("streams");
    let customers = info
        .iter()
        .find(|s| s.name() == "customers")
        .expect("customers");
    assert_eq!(customers.sync_mode, SyncMode::Changelog);
    let name_col = customers.schema.column_index("name").expect("name");

    let mut sink = MemorySink::default();
    let full = sync_stream(&source, &mut sink, "customers", SyncOptions::default())
        .await
        .expect("full");
    assert_eq!(full.kind, ReadKind::Full);
    // Customers resume: the first page's rows are flushed at its resume point.
    assert_eq!(full.batches, 2, "one batch per page");
    assert_eq!(full.stages, 1, "a resume point after the first page");
    assert_eq!(
        names(&sink, "customers", name_col),
        [(1, "A".into()), (2, "B".into()), (3, "C".into())]
    );
    let position: ApiPosition = full.position.expect("position").decode().expect("ours");
    let ApiPosition::Changelog { processed_at } = position else {
        panic!("unexpected {position:?}");
    };
    // The server's clock (its Date header) minus the margin: a few minutes ago.
    let age = Utc::now() - processed_at;
    assert!(
        age >= chrono::Duration::minutes(4) && age <= chrono::Duration::minutes(10),
        "{age}"
    );

    let incremental = sync_stream(&source, &mut sink, "customers", SyncOptions::default())
        .await
        .expect("incremental");
    assert_eq!(incremental.kind, ReadKind::Incremental);
    assert_eq!(incremental.rows_deleted, 1);
    assert_eq!(
        names(&sink, "customers", name_col),
        [(1, "A".into()), (2, "B2".into()), (4, "D".into())]
    );
    let last: ApiPosition = incremental
        .position
        .expect("position")
        .decode()
        .expect("ours");
    assert_eq!(
        last,
        ApiPosition::Changelog {
            processed_at: last_processed.parse().expect("instant")
        }
    );
    // The second changelog page went with the cursor alone.
    let requests = server.received_requests().await.expect("recorded");
    let changelog_queries: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/changelogs/customers"))
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect();
    assert_eq!(changelog_queries.len(), 2);
    assert!(
        changelog_queries[0].contains("start_date="),
        "{changelog_queries:?}"
    );
    assert!(
        !changelog_queries[1].contains("start_date="),
        "{changelog_queries:?}"
    );
}

#[tokio::test]
async fn a_position_older_than_the_retention_reads_in_full() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    Mock::given(path("/api/external/v2/suppliers"))
        .respond_with(page(json!([{"id": 1, "name": "S"}]), None))
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/changelogs/suppliers"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(json!({"message": "start_date too old"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let old = Position::encode(&ApiPosition::Changelog {
        processed_at: Utc::now() - chrono::Duration::days(30),
    })
    .expect("position");
    // Refused by the client's own retention check.
    let source = PennylaneSource::new(client(&server));
    let read = source
        .read("suppliers", Some(old.clone()))
        .await
        .expect("read");
    assert_eq!(read.kind, ReadKind::Full);
    // Refused by the server (a client that leaves retention to it).
    let lenient = client_builder(&server, "t")
        .changelog_retention(None)
        .build()
        .expect("client");
    let source = PennylaneSource::new(lenient).with_company_id(7);
    let read = source.read("suppliers", Some(old)).await.expect("read");
    assert_eq!(read.kind, ReadKind::Full);
}

#[tokio::test]
async fn invoice_lines_are_read_per_invoice_with_the_invoice_id() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .respond_with(page(
            json!([{"id": 10, "amount": "120.00", "date": "2026-01-01"},
                   {"id": 11, "amount": "60.00", "date": "2026-01-02"}]),
            None,
        ))
        .mount(&server)
        .await;
    for (invoice, lines) in [
        (
            10,
            json!([{"id": 100, "label": "Conseil", "quantity": "1.5", "amount": "90.00",
                     "currency_amount_before_tax": "75.00", "tax": "15.00", "vat_rate": "FR_200",
                     "product": {"id": 3}, "ledger_account": {"id": 706}},
                    {"id": 101, "label": "Frais", "quantity": "1", "amount": "30.00"}]),
        ),
        (
            11,
            json!([{"id": 102, "label": "Licence", "quantity": "2.125", "amount": "60.00"}]),
        ),
    ] {
        Mock::given(path(format!(
            "/api/external/v2/customer_invoices/{invoice}/invoice_lines"
        )))
        .respond_with(page(lines, None))
        .expect(1)
        .mount(&server)
        .await;
    }
    let source = PennylaneSource::new(client(&server));
    let mut sink = MemorySink::default();
    let report = sync_stream(
        &source,
        &mut sink,
        "customer_invoice_lines",
        SyncOptions::default(),
    )
    .await
    .expect("lines");
    assert_eq!(report.rows_upserted, 3);
    let info = source.streams().await.expect("streams");
    let schema = &info
        .iter()
        .find(|s| s.name() == "customer_invoice_lines")
        .expect("stream")
        .schema;
    let invoice_col = schema.column_index("invoice_id").expect("invoice_id");
    let quantity_col = schema.column_index("quantity").expect("quantity");
    let mut rows = sink.rows("customer_invoice_lines");
    rows.sort_by_key(|r| r[1].as_i64());
    let by_line: Vec<(i64, i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r[1].as_i64().expect("id"),
                r[invoice_col].as_i64().expect("invoice"),
                r[quantity_col].as_decimal().expect("quantity").to_string(),
            )
        })
        .collect();
    assert_eq!(
        by_line,
        [
            (100, 10, "1.5".into()),
            (101, 10, "1".into()),
            (102, 11, "2.125".into())
        ]
    );
}

#[tokio::test]
async fn ledger_entries_follow_the_lines_changelog_without_updated_at() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    let from: DateTime<Utc> = Utc::now() - chrono::Duration::days(1);
    Mock::given(path("/api/external/v2/changelogs/ledger_entry_lines"))
        .respond_with(page(
            json!([
                {"id": 50, "operation": "update", "processed_at": "2026-11-02T08:00:00Z"},
                {"id": 51, "operation": "insert", "processed_at": "2026-11-02T09:00:00Z"},
                {"id": 52, "operation": "insert", "processed_at": "2026-11-02T09:00:00Z"},
                {"id": 60, "operation": "delete", "processed_at": "2026-11-02T10:00:00Z"}
            ]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The changed lines, by id (the deleted one is not asked for).
    Mock::given(path("/api/external/v2/ledger_entry_lines"))
        .and(query_param(
            "filter",
            r#"[{"field":"id","operator":"in","value":[50,51,52]}]"#,
        ))
        .respond_with(page(
            json!([{"id": 50, "debit": "1.00", "credit": "0.00", "ledger_entry": {"id": 5}},
                   {"id": 51, "debit": "0.00", "credit": "1.00", "ledger_entry": {"id": 6}},
                   {"id": 52, "debit": "0.00", "credit": "1.00", "ledger_entry": {"id": 8}}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // Their entries, by id; entry 8 is gone since.
    Mock::given(path("/api/external/v2/ledger_entries"))
        .and(query_param(
            "filter",
            r#"[{"field":"id","operator":"in","value":[5,6,8]}]"#,
        ))
        .respond_with(page(
            json!([{"id": 5, "label": "Facture", "date": "2026-11-02", "journal": {"id": 2}},
                   {"id": 6, "label": "Banque", "date": "2026-11-03", "journal": {"id": 3}}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let position =
        Position::encode(&ApiPosition::Changelog { processed_at: from }).expect("position");
    let read = source
        .read("ledger_entries", Some(position))
        .await
        .expect("read");
    assert_eq!(read.kind, ReadKind::Incremental);
    let events: Vec<_> = read.events.try_collect().await.expect("events");
    let mut upserted = Vec::new();
    let mut deleted = Vec::new();
    for event in &events {
        if let penny_transform::SourceEvent::Batch(b) = event {
            for row in b.rows() {
                let id = row[1].as_i64().expect("id");
                match b.operation() {
                    penny_transform::Operation::Upsert => upserted.push(id),
                    penny_transform::Operation::Delete => deleted.push(id),
                }
            }
        }
    }
    assert_eq!(upserted, [5, 6]);
    assert_eq!(
        deleted,
        [8],
        "an entry named by a changed line but gone is deleted"
    );
    match events.last() {
        Some(penny_transform::SourceEvent::Checkpoint(p)) => {
            let at = p.decode::<ApiPosition>().expect("ours");
            assert!(
                matches!(at, ApiPosition::Changelog { processed_at } if processed_at > from),
                "{at:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // No request carried an updated_at filter.
    for request in server.received_requests().await.expect("recorded") {
        assert!(
            !request.url.query().unwrap_or("").contains("updated_at"),
            "{}",
            request.url
        );
    }
    // A position of the `updated_at` era is read in full.
    let legacy = Position::encode(&ApiPosition::UpdatedAt {
        updated_at: Some(from),
    })
    .expect("position");
    let read = source
        .read("ledger_entries", Some(legacy))
        .await
        .expect("read");
    assert_eq!(read.kind, ReadKind::Full);
}

#[tokio::test]
async fn errors_map_to_source_error_classes() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "bad token"})))
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let err = source.read("journals", None).await.expect_err("401");
    assert_eq!(err.class(), ErrorClass::Auth);

    let server = MockServer::start().await;
    mount_me(&server).await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/transactions"))
        .respond_with(page(
            json!([{"id": 9, "date": "2026-01-01", "amount": "-10.005"}]),
            None,
        ))
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let mut sink = MemorySink::default();
    let err = sync_stream(&source, &mut sink, "journals", SyncOptions::default())
        .await
        .expect_err("500");
    assert_eq!(err.class(), ErrorClass::Unavailable);
    let err = sync_stream(&source, &mut sink, "transactions", SyncOptions::default())
        .await
        .expect_err("3 digits");
    assert_eq!(err.class(), ErrorClass::Data);
    let text = err.to_string();
    assert!(text.contains("transactions"), "{text}");
    let source_text = std::error::Error::source(&err)
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(
        source_text.contains("record 9") && source_text.contains("amount"),
        "{source_text}"
    );
    let err = source.read("nope", None).await.expect_err("unknown");
    assert_eq!(err.class(), ErrorClass::Config);
}

#[tokio::test]
async fn invoice_payments_follow_the_invoices_changelog_and_skip_vanished_invoices() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    let since: DateTime<Utc> = Utc::now() - chrono::Duration::hours(1);
    let later =
        (since + chrono::Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Mock::given(path("/api/external/v2/changelogs/supplier_invoices"))
        .respond_with(page(
            json!([
                {"id": 20, "operation": "update", "processed_at": later},
                {"id": 21, "operation": "insert", "processed_at": later},
                {"id": 22, "operation": "delete", "processed_at": later},
            ]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/supplier_invoices/20/payments"))
        .respond_with(page(
            json!([{"id": 200, "label": "Virement", "currency_amount": "50.00", "status": "paid",
                    "created_at": "2026-11-20T10:00:00Z"}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // Invoice 21 was deleted between the changelog and the fetch.
    Mock::given(path("/api/external/v2/supplier_invoices/21/payments"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not found"})))
        .expect(1)
        .mount(&server)
        .await;
    let source = PennylaneSource::new(client(&server));
    let from = Position::encode(&ApiPosition::Changelog {
        processed_at: since,
    })
    .expect("position");
    let read = source
        .read("supplier_invoice_payments", Some(from))
        .await
        .expect("read");
    assert_eq!(read.kind, ReadKind::Incremental);
    let events: Vec<_> = read.events.try_collect().await.expect("events");
    let batches: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            penny_transform::SourceEvent::Batch(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(
        batches.len(),
        1,
        "one upsert batch, no deletion of unknown lines"
    );
    assert_eq!(batches[0].rows()[0][1], Value::Int64(200));
    let invoice_col = batches[0].schema().column_index("invoice_id").expect("col");
    assert_eq!(batches[0].rows()[0][invoice_col], Value::Int64(20));
    assert!(matches!(
        events.last(),
        Some(penny_transform::SourceEvent::Checkpoint(_))
    ));
}

#[tokio::test]
async fn a_server_clock_positions_full_reads_of_changelog_streams() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    Mock::given(path("/api/external/v2/products"))
        .respond_with(page(
            json!([{"id": 1, "label": "Conseil", "price": "100.000000"}]),
            None,
        ))
        .mount(&server)
        .await;
    let simulated: DateTime<Utc> = "2026-01-15T09:00:00Z".parse().expect("instant");
    let source = PennylaneSource::new(client(&server))
        .with_server_clock(std::sync::Arc::new(move || simulated));
    let mut sink = MemorySink::default();
    let report = sync_stream(&source, &mut sink, "products", SyncOptions::default())
        .await
        .expect("full");
    let position: ApiPosition = report.position.expect("position").decode().expect("ours");
    assert_eq!(
        position,
        ApiPosition::Changelog {
            processed_at: simulated - chrono::Duration::minutes(5)
        }
    );
}

#[tokio::test]
async fn a_quiet_changelog_moves_its_position_to_the_server_time() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    Mock::given(path("/api/external/v2/changelogs/transactions"))
        .respond_with(page(json!([]), None))
        .expect(1)
        .mount(&server)
        .await;
    let now: DateTime<Utc> = Utc::now();
    let source =
        PennylaneSource::new(client(&server)).with_server_clock(std::sync::Arc::new(move || now));
    let from = Position::encode(&ApiPosition::Changelog {
        processed_at: now - chrono::Duration::days(20),
    })
    .expect("position");
    let read = source.read("transactions", Some(from)).await.expect("read");
    assert_eq!(read.kind, ReadKind::Incremental);
    let events: Vec<_> = read.events.try_collect().await.expect("events");
    assert_eq!(events.len(), 1, "a checkpoint only");
    let Some(penny_transform::SourceEvent::Checkpoint(position)) = events.last() else {
        panic!("unexpected {events:?}");
    };
    // Without this, a quiet log's position would age out of the 4-week retention and
    // force a full read.
    assert_eq!(
        position.decode::<ApiPosition>().expect("ours"),
        ApiPosition::Changelog {
            processed_at: now - chrono::Duration::minutes(5)
        }
    );
}
