//! Resume points of `PennylaneSource` full reads against the sandbox, the sandbox
//! checking every request against Pennylane's published spec (`PENNY_OPENAPI_DIR`, as
//! in `client_contract.rs`): a full read cut after its second resume point and resumed
//! from it delivers the rows, makes the requests and ends on the checkpoint of an
//! uninterrupted full read.
#![cfg(feature = "source")]

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use penny_api::source::{ApiPosition, PennylaneSource};
use penny_sandbox::{Resource, Sandbox, SandboxConfig};
use penny_transform::driver::{SyncOptions, sync_stream};
use penny_transform::testing::MemorySink;
use penny_transform::{
    Key, Operation, Position, ReadKind, Row, Source, SourceError, SourceEvent, StreamInfo,
    StreamRead,
};

mod common;

use common::sandbox::{checked, client_builder};

/// The streams whose full reads resume, with the list they page through (the parent
/// invoices' for lines and payments) and its resource.
const RESUMABLE: &[(&str, &str, Resource)] = &[
    (
        "customer_invoices",
        "/customer_invoices",
        Resource::CustomerInvoices,
    ),
    (
        "customer_invoice_lines",
        "/customer_invoices",
        Resource::CustomerInvoices,
    ),
    (
        "customer_invoice_payments",
        "/customer_invoices",
        Resource::CustomerInvoices,
    ),
    (
        "supplier_invoices",
        "/supplier_invoices",
        Resource::SupplierInvoices,
    ),
    (
        "supplier_invoice_lines",
        "/supplier_invoices",
        Resource::SupplierInvoices,
    ),
    (
        "supplier_invoice_payments",
        "/supplier_invoices",
        Resource::SupplierInvoices,
    ),
    ("customers", "/customers", Resource::Customers),
    ("suppliers", "/suppliers", Resource::Suppliers),
    ("products", "/products", Resource::Products),
    ("ledger_entries", "/ledger_entries", Resource::LedgerEntries),
    (
        "ledger_entry_lines",
        "/ledger_entry_lines",
        Resource::LedgerEntryLines,
    ),
    (
        "ledger_accounts",
        "/ledger_accounts",
        Resource::LedgerAccounts,
    ),
    ("categories", "/categories", Resource::Categories),
];

/// The streams whose lists take no `id gt` filter or no `id` sort.
const NOT_RESUMABLE: &[&str] = &[
    "transactions",
    "journals",
    "fiscal_years",
    "bank_accounts",
    "category_groups",
    "trial_balance",
    "companies",
];

async fn checked_sandbox() -> Arc<Sandbox> {
    Arc::new(checked(SandboxConfig::unthrottled(1_500)).await)
}

/// A source over `sandbox` with `page_size` records a page, on the sandbox's clock.
async fn source(sandbox: &Arc<Sandbox>, page_size: u32) -> PennylaneSource {
    let client = client_builder(sandbox)
        .changelog_retention(None)
        .build()
        .expect("client");
    let clock = sandbox.clone();
    let source = PennylaneSource::new(client)
        .with_server_clock(Arc::new(move || clock.now()))
        .with_page_size(page_size);
    // `GET /me` once, before any request is counted.
    source.company_id().await.expect("GET /me");
    source
}

/// The events of a read of `stream` from `from`, all of them or up to the
/// `stop_at`-th resume point; whether the read said it resumed; and the requests made.
async fn read(
    sandbox: &Sandbox,
    source: &PennylaneSource,
    stream: &str,
    from: Option<Position>,
    stop_at: Option<usize>,
) -> (bool, Vec<SourceEvent>, u64) {
    let before = sandbox.total_requests();
    let read = source
        .read(stream, from)
        .await
        .unwrap_or_else(|e| panic!("{stream}: {e}"));
    assert_eq!(read.kind, ReadKind::Full, "{stream}");
    let resumed = read.resumed;
    let mut events = Vec::new();
    let mut resumes = 0;
    let mut stream_events = read.events;
    while let Some(event) = stream_events.next().await {
        let event = event.unwrap_or_else(|e| panic!("{stream}: {e}"));
        let is_resume = matches!(event, SourceEvent::Resume(_));
        events.push(event);
        if is_resume {
            resumes += 1;
            if Some(resumes) == stop_at {
                break;
            }
        }
    }
    drop(stream_events);
    (resumed, events, sandbox.total_requests() - before)
}

/// The rows of `events` by key, the last one of a key winning.
fn rows(stream: &str, events: &[SourceEvent], into: &mut BTreeMap<Key, Row>) {
    for event in events {
        if let SourceEvent::Batch(batch) = event {
            assert_eq!(batch.operation(), Operation::Upsert, "{stream}");
            for (i, row) in batch.rows().iter().enumerate() {
                into.insert(batch.key(i), row.clone());
            }
        }
    }
}

fn resume_points(events: &[SourceEvent]) -> Vec<&Position> {
    events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Resume(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn final_checkpoint(stream: &str, events: &[SourceEvent]) -> ApiPosition {
    match events.last() {
        Some(SourceEvent::Checkpoint(p)) => p
            .decode::<ApiPosition>()
            .unwrap_or_else(|e| panic!("{stream}: {e}")),
        other => panic!("{stream}: the read ends on {other:?}, not a checkpoint"),
    }
}

#[tokio::test]
async fn every_resumable_full_read_resumes_after_its_second_resume_point() {
    let sandbox = checked_sandbox().await;
    for (stream, list, resource) in RESUMABLE {
        let count = sandbox
            .generated_count(1, *resource)
            .expect("a generated resource");
        // At least five pages, so the second resume point is not the last page's.
        let page_size = u32::try_from(count / 5).unwrap_or(100).clamp(1, 100);
        let source = source(&sandbox, page_size).await;

        let (resumed, full, full_requests) = read(&sandbox, &source, stream, None, None).await;
        assert!(!resumed, "{stream}");
        let points = resume_points(&full);
        assert!(
            points.len() >= 2,
            "{stream}: {} resume points in {count} records at {page_size} a page",
            points.len()
        );
        let expected_end = final_checkpoint(stream, &full);
        assert!(
            !matches!(expected_end, ApiPosition::Resume { .. }),
            "{stream}: the last checkpoint is never a resume point"
        );
        let mut expected = BTreeMap::new();
        rows(stream, &full, &mut expected);
        assert!(!expected.is_empty(), "{stream}: the sandbox has rows");

        let (_, first, first_requests) = read(&sandbox, &source, stream, None, Some(2)).await;
        let Some(SourceEvent::Resume(point)) = first.last().cloned() else {
            panic!("{stream}: the cut read ends on its second resume point");
        };
        match point.decode::<ApiPosition>() {
            Ok(ApiPosition::Resume { .. }) => {}
            other => panic!("{stream}: a resume point decodes as {other:?}"),
        }
        let (resumed, rest, rest_requests) =
            read(&sandbox, &source, stream, Some(point), None).await;
        assert!(resumed, "{stream}: a read from a resume point resumes");
        let query = sandbox.last_query(list).unwrap_or_default();
        let param = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(param("sort"), "id", "{stream}: {query:?}");
        let filter: serde_json::Value =
            serde_json::from_str(&param("filter")).unwrap_or_else(|e| panic!("{stream}: {e}"));
        assert_eq!(filter[0]["field"], "id", "{stream}: {filter}");
        assert_eq!(filter[0]["operator"], "gt", "{stream}: {filter}");
        if *stream == "customer_invoice_lines" {
            assert_eq!(param("include"), "invoice_lines", "{query:?}");
        }
        println!(
            "{stream}: {} resume points; {full_requests} requests uninterrupted, \
             {first_requests} to the second resume point, {rest_requests} resumed",
            points.len()
        );

        let mut got = BTreeMap::new();
        rows(stream, &first, &mut got);
        rows(stream, &rest, &mut got);
        assert_eq!(got.len(), expected.len(), "{stream}: rows");
        assert!(got == expected, "{stream}: the rows differ");
        // The resumed read skips the pages before the point (one may be asked again).
        assert!(
            rest_requests + first_requests >= full_requests
                && rest_requests + first_requests <= full_requests + 1,
            "{stream}: {full_requests} requests uninterrupted, {first_requests} before the \
             resume point, {rest_requests} after"
        );
        assert_eq!(
            final_checkpoint(stream, &rest),
            expected_end,
            "{stream}: the resumed read ends where the uninterrupted one does"
        );
    }
    let violations = sandbox.violations();
    assert!(
        violations.is_empty(),
        "requests or answers outside the spec:\n{}",
        penny_sandbox::contract::summary(&violations)
    );
}

#[tokio::test]
async fn streams_that_cannot_resume_send_no_resume_point() {
    let sandbox = checked_sandbox().await;
    let source = source(&sandbox, 2).await;
    for stream in NOT_RESUMABLE {
        let (resumed, events, _) = read(&sandbox, &source, stream, None, None).await;
        assert!(!resumed, "{stream}");
        assert!(resume_points(&events).is_empty(), "{stream}");
        final_checkpoint(stream, &events);
    }
    // A resume point given to one of them is a full read from the start.
    let point = Position::encode(&ApiPosition::Resume {
        after_id: 1,
        then: Box::new(ApiPosition::Reference {
            read_at: sandbox.now(),
            lines_from: None,
            max_id: None,
        }),
    })
    .expect("a position");
    let (resumed, events, _) = read(&sandbox, &source, "journals", Some(point), None).await;
    assert!(!resumed);
    assert!(events.iter().any(|e| matches!(e, SourceEvent::Batch(_))));
    let violations = sandbox.violations();
    assert!(
        violations.is_empty(),
        "requests or answers outside the spec:\n{}",
        penny_sandbox::contract::summary(&violations)
    );
}

#[test]
fn positions_of_earlier_versions_still_decode_and_resume_points_round_trip() {
    let old: ApiPosition =
        serde_json::from_str(r#"{"kind":"changelog","processed_at":"2026-11-16T09:00:00Z"}"#)
            .expect("an old position");
    assert!(matches!(old, ApiPosition::Changelog { .. }));
    let point = ApiPosition::Resume {
        after_id: 42,
        then: Box::new(old),
    };
    let json = serde_json::to_value(&point).expect("serialises");
    assert_eq!(json["kind"], "resume");
    assert_eq!(json["then"]["kind"], "changelog");
    let back: ApiPosition = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, point);
}

/// The source, but its next read fails after its second resume point (a run
/// interrupted hours into a full read).
struct Interrupted<'a> {
    inner: &'a PennylaneSource,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Source for Interrupted<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
        self.inner.streams().await
    }

    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError> {
        let read = self.inner.read(stream, from).await?;
        if !self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Ok(read);
        }
        let name = stream.to_owned();
        let mut resumes = 0;
        let events = read
            .events
            .scan(false, move |failed, event| {
                if *failed {
                    return std::future::ready(None);
                }
                if resumes == 2 {
                    *failed = true;
                    return std::future::ready(Some(Err(SourceError::Unavailable {
                        stream: name.clone(),
                        source: "interrupted".into(),
                    })));
                }
                if matches!(event, Ok(SourceEvent::Resume(_))) {
                    resumes += 1;
                }
                std::future::ready(Some(event))
            })
            .boxed();
        Ok(StreamRead { events, ..read })
    }
}

#[tokio::test]
async fn an_interrupted_full_sync_resumes_where_it_stopped() {
    let sandbox = checked_sandbox().await;
    for stream in ["customers", "customer_invoice_lines", "ledger_accounts"] {
        let source = source(&sandbox, 3).await;
        let mut whole = MemorySink::default();
        sync_stream(&source, &mut whole, stream, SyncOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{stream}: {e}"));

        let interrupted = Interrupted {
            inner: &source,
            armed: std::sync::atomic::AtomicBool::new(true),
        };
        let mut sink = MemorySink::default();
        let failed = sync_stream(&interrupted, &mut sink, stream, SyncOptions::default()).await;
        assert!(failed.is_err(), "{stream}: the first run is interrupted");
        let before = sandbox.total_requests();
        let report = sync_stream(&interrupted, &mut sink, stream, SyncOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{stream}: {e}"));
        assert!(report.resumed, "{stream}: the second run resumes");
        assert!(sandbox.total_requests() > before);
        assert_eq!(sink.rows(stream), whole.rows(stream), "{stream}");
        let position = |sink: &MemorySink| {
            sink.position(stream)
                .map(|p| p.decode::<ApiPosition>().expect("ours"))
        };
        assert_eq!(position(&sink), position(&whole), "{stream}");
    }
}
