//! The client against wiremock: pagination, limits, retries, rate limits, errors, secrets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use penny_api::models::{CustomerInvoiceStatus, JournalType};
use penny_api::{ChangelogResource, ChangelogStart, Client, Error, Filter, RateLimit};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

use common::fast_retries;
use common::mock::{client_builder, page};

const TOKEN: &str = "tok_9f8e7d6c5b4a-very-secret";

fn client(server: &MockServer) -> Client {
    client_builder(server, TOKEN)
        .retry(fast_retries())
        .build()
        .expect("client")
}

fn query_of(request: &wiremock::Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn filters_and_sort_are_replayed_on_every_page() {
    let server = MockServer::start().await;
    let filter = r#"[{"field":"customer_type","operator":"eq","value":"company"}]"#;
    Mock::given(method("GET"))
        .and(path("/api/external/v2/customers"))
        .and(query_param_is_missing("cursor"))
        .and(query_param("filter", filter))
        .and(query_param("sort", "id"))
        .and(query_param("limit", "2"))
        .respond_with(page(
            json!([{"id": 1, "customer_type": "company", "name": "A"},
                   {"id": 2, "customer_type": "company", "name": "B"}]),
            Some("c2"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/external/v2/customers"))
        .and(query_param("cursor", "c2"))
        .and(query_param("filter", filter))
        .and(query_param("sort", "id"))
        .and(query_param("limit", "2"))
        .respond_with(page(
            json!([{"id": 3, "customer_type": "company", "name": "C"}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;

    let customers = client(&server)
        .customers()
        .limit(2)
        .filter(Filter::eq("customer_type", "company"))
        .sort("id")
        .all()
        .await
        .expect("three customers over two pages");
    assert_eq!(
        customers.iter().map(|c| c.id()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn a_limit_out_of_bounds_is_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(page(json!([]), None))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client
        .ledger_entry_lines()
        .limit(101)
        .items()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("101 > 100");
    assert!(
        matches!(err, Error::InvalidLimit { limit: 101, max: 100, ref endpoint } if endpoint == "/ledger_entry_lines"),
        "{err}"
    );
    // The changelog and trial balance maximum is 1000.
    let since = chrono::Utc::now() - chrono::Duration::days(1);
    let err = client
        .changelog(ChangelogResource::Customers, ChangelogStart::Since(since))
        .limit(1001)
        .events()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("1001 > 1000");
    assert!(
        matches!(err, Error::InvalidLimit { max: 1000, .. }),
        "{err}"
    );
    assert!(
        server
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
    assert_eq!(client.stats().requests, 0);
}

#[tokio::test]
async fn a_429_waits_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string("Rate limit exceeded. Please retry in 1 seconds."),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(page(json!([{"id": 1, "code": "VE"}]), None))
        .mount(&server)
        .await;
    let client = client(&server);
    let started = Instant::now();
    let journals = client.journals().all().await.expect("after the 429");
    let elapsed = started.elapsed();
    assert_eq!(journals.len(), 1);
    assert!(elapsed >= Duration::from_millis(950), "waited {elapsed:?}");
    let stats = client.stats();
    assert_eq!(
        (stats.requests, stats.rate_limited, stats.retries),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn a_503_twice_then_success() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/fiscal_years"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/fiscal_years"))
        .respond_with(page(
            json!([{"id": 1, "start": "2026-01-01", "finish": "2026-12-31", "status": "open"}]),
            None,
        ))
        .mount(&server)
        .await;
    let client = client(&server);
    let years = client.fiscal_years().all().await.expect("third attempt");
    assert_eq!(years[0].finish.to_string(), "2026-12-31");
    assert_eq!(client.stats().requests, 3);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_the_policy() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .expect(4)
        .mount(&server)
        .await;
    let err = client(&server).journals().all().await.expect_err("502");
    assert!(matches!(err, Error::Http { status: 502, .. }), "{err}");
    assert!(err.is_unavailable());
}

#[tokio::test]
async fn a_401_is_not_retried_and_a_403_names_the_scope() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/me"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "Unauthorized", "message": "Token invalid"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"message": "Missing required scope: customer_invoices:readonly"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client.me().await.expect_err("401");
    assert!(matches!(err, Error::Http { status: 401, .. }), "{err}");
    assert!(err.is_auth());
    let err = client.customer_invoices().all().await.expect_err("403");
    assert_eq!(
        err.to_string(),
        "GET /customer_invoices: HTTP 403: Missing required scope: customer_invoices:readonly"
    );
    assert_eq!(client.stats().requests, 2);
}

/// A `MakeWriter` that keeps everything logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_token_is_sent_but_never_printed_nor_logged() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/journals"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/journals"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(page(json!([{"id": 1, "code": "VE"}]), None))
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/me"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&server)
        .await;

    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = client(&server);
    let journals = client.journals().all().await.expect("retried once");
    assert_eq!(journals.len(), 1, "the token was sent as a bearer token");
    let err = client.me().await.expect_err("401");

    let logged = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(
        logged.contains("retrying"),
        "the retry was logged: {logged}"
    );
    for text in [
        format!("{client:?}"),
        format!("{err}"),
        format!("{err:?}"),
        logged,
    ] {
        assert!(!text.contains(TOKEN), "secret leaked in: {text}");
    }
}

#[tokio::test]
async fn unknown_enum_values_and_fields_decode() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(page(
            json!([{"id": 1, "code": "CR", "label": "Crypto", "type": "crypto", "brand_new_field": {"x": 1}}]),
            None,
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .respond_with(page(
            json!([{"id": 5, "amount": "120.00", "date": "2026-02-01", "status": "disputed",
                    "customer": {"id": 9, "url": "https://x"}, "credited_invoice": null}]),
            None,
        ))
        .mount(&server)
        .await;
    let client = client(&server);
    let journals = client.journals().all().await.expect("decodes");
    assert_eq!(
        journals[0].journal_type,
        Some(JournalType::Other("crypto".into()))
    );
    let invoices = client.customer_invoices().all().await.expect("decodes");
    assert_eq!(
        invoices[0].status,
        Some(CustomerInvoiceStatus::Other("disputed".into()))
    );
    assert_eq!(invoices[0].amount.to_string(), "120.00");
    // The same list, raw: every field as delivered.
    let raw = client.journals().raw().all().await.expect("raw");
    assert_eq!(raw[0]["brand_new_field"]["x"], 1);
    // Or both at once.
    let both = client
        .journals()
        .with_raw()
        .all()
        .await
        .expect("typed and raw");
    assert_eq!(both[0].record.code, "CR");
    assert_eq!(both[0].json["brand_new_field"]["x"], 1);
}

#[tokio::test]
async fn a_malformed_amount_names_resource_id_and_field() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/customer_invoices"))
        .respond_with(page(
            json!([
                {"id": 76, "amount": "10.00", "date": "2026-02-01"},
                {"id": 77, "amount": "12,50", "date": "2026-02-01"}
            ]),
            None,
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .customer_invoices()
        .all()
        .await
        .expect_err("12,50 is not a decimal");
    match &err {
        Error::Decode {
            resource, id, path, ..
        } => assert_eq!(
            (resource.as_str(), *id, path.as_str()),
            ("customer_invoices", Some(77), "amount")
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("customer_invoices record 77: cannot decode field `amount`"),
        "{err}"
    );
}

#[tokio::test]
async fn changelogs_send_start_date_then_cursors_never_both() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/changelogs/customer_invoices"))
        .and(query_param("start_date", "2026-11-20T00:00:00Z"))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(
            json!([{"id": 1, "operation": "insert", "processed_at": "2026-11-20T01:00:00Z"},
                   {"id": 2, "operation": "refund", "processed_at": "2026-11-20T02:00:00+01:00"}]),
            Some("next-1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/external/v2/changelogs/customer_invoices"))
        .and(query_param("cursor", "next-1"))
        .and(query_param_is_missing("start_date"))
        .respond_with(page(
            json!([{"id": 1, "operation": "delete", "processed_at": "2026-11-21T00:00:00Z"}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_builder(&server, TOKEN)
        .changelog_retention(None)
        .build()
        .expect("client");
    let since = "2026-11-20T00:00:00Z".parse().expect("instant");
    let events: Vec<_> = client
        .changelog(
            ChangelogResource::CustomerInvoices,
            ChangelogStart::Since(since),
        )
        .events()
        .try_collect()
        .await
        .expect("two pages");
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].operation.as_str(), "refund");
    assert_eq!(
        events[1].processed_at.to_rfc3339(),
        "2026-11-20T01:00:00+00:00"
    );
    for request in server.received_requests().await.expect("recorded") {
        let both =
            query_of(&request, "start_date").is_some() && query_of(&request, "cursor").is_some();
        assert!(!both, "{}", request.url);
    }
}

#[tokio::test]
async fn a_changelog_start_out_of_retention_needs_a_full_resync() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/changelogs/customers"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"message": "start_date must be within the last 4 weeks"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    // Refused locally by default: nothing sent.
    let err = client(&server)
        .changelog(ChangelogResource::Customers, ChangelogStart::Since(old))
        .events()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("too old");
    assert!(
        matches!(err, Error::ResyncNeeded { ref message, .. } if message.is_empty()),
        "{err}"
    );
    // Left to the server: its 422 means the same.
    let lenient = client_builder(&server, TOKEN)
        .changelog_retention(None)
        .build()
        .expect("client");
    let err = lenient
        .changelog(ChangelogResource::Customers, ChangelogStart::Since(old))
        .events()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("422");
    assert!(
        matches!(err, Error::ResyncNeeded { ref message, .. } if message.contains("4 weeks")),
        "{err}"
    );
}

#[tokio::test]
async fn by_ids_fetches_in_chunks_of_100_with_in_filters() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/suppliers"))
        .respond_with(page(json!([{"id": 1, "name": "S"}]), None))
        .expect(3)
        .mount(&server)
        .await;
    let ids: Vec<i64> = (1..=250).collect();
    let found: Vec<_> = client(&server)
        .suppliers()
        .by_ids(ids)
        .try_collect()
        .await
        .expect("three chunks");
    assert_eq!(found.len(), 3);
    let requests = server.received_requests().await.expect("recorded");
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| {
            let filter: serde_json::Value =
                serde_json::from_str(&query_of(r, "filter").expect("filter")).expect("json");
            assert_eq!(filter[0]["operator"], "in");
            filter[0]["value"].as_array().expect("array").len()
        })
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}

#[tokio::test]
async fn clones_share_one_rate_limiter() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(page(json!([]), None))
        .mount(&server)
        .await;
    let client = client_builder(&server, TOKEN)
        .rate_limit(RateLimit::new(20, Duration::from_secs(1))) // one per 50 ms
        .build()
        .expect("client");
    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                for _ in 0..4 {
                    c.journals().all().await.expect("ok");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    // 12 requests, burst 1: the last leaves 11 intervals after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(540),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().requests, 12);
}

#[tokio::test]
async fn an_exhausted_ratelimit_budget_pauses_before_the_server_says_no() {
    let server = MockServer::start().await;
    Mock::given(path("/api/external/v2/journals"))
        .respond_with(
            page(json!([]), None)
                .insert_header("ratelimit-limit", "25")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", "1"),
        )
        .mount(&server)
        .await;
    let client = client(&server);
    client.journals().all().await.expect("first");
    let started = Instant::now();
    client.journals().all().await.expect("second");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().server_pauses, 2);
    assert_eq!(client.stats().rate_limited, 0);
}
