//! Every typed model decodes what the sandbox serves, and the client stays under the
//! sandbox's real rate limit.

use futures_util::TryStreamExt;
use penny_api::{ChangelogResource, ChangelogStart, Client, RateLimit};
use penny_sandbox::{Sandbox, SandboxConfig};
use rust_decimal::Decimal;

mod common;

use common::sandbox;

async fn sandbox_client(config: SandboxConfig, rate: Option<RateLimit>) -> (Sandbox, Client) {
    let sandbox = sandbox::start(config).await;
    let builder = sandbox::client_builder(&sandbox).changelog_retention(None);
    let builder = match rate {
        Some(rate) => builder.rate_limit(rate),
        None => builder,
    };
    (sandbox, builder.build().expect("client"))
}

#[tokio::test]
async fn every_typed_resource_decodes() {
    let (sandbox, client) = sandbox_client(
        SandboxConfig {
            rate_limit: None,
            ledger_lines: 300,
            ..SandboxConfig::default()
        },
        None,
    )
    .await;
    let me = client.me().await.expect("me");
    assert_eq!(me.company.id, sandbox.company_ids()[0]);
    assert!(!client.journals().all().await.expect("journals").is_empty());
    client
        .ledger_accounts()
        .all()
        .await
        .expect("ledger_accounts");
    client.ledger_entries().all().await.expect("ledger_entries");
    let lines = client
        .ledger_entry_lines()
        .all()
        .await
        .expect("ledger_entry_lines");
    let debit: Decimal = lines.iter().map(|l| l.debit).sum();
    let credit: Decimal = lines.iter().map(|l| l.credit).sum();
    assert_eq!(debit, credit, "the generated ledger balances");
    let years = client.fiscal_years().all().await.expect("fiscal_years");
    if let Some(year) = years.first() {
        client
            .trial_balance(year.start, year.finish, false)
            .all()
            .await
            .expect("trial_balance");
    }
    let invoices = client
        .customer_invoices()
        .all()
        .await
        .expect("customer_invoices");
    if let Some(invoice) = invoices.first() {
        client
            .customer_invoice_lines(invoice.id)
            .all()
            .await
            .expect("lines");
        client
            .customer_invoice_payments(invoice.id)
            .all()
            .await
            .expect("payments");
    }
    let invoices = client
        .supplier_invoices()
        .all()
        .await
        .expect("supplier_invoices");
    if let Some(invoice) = invoices.first() {
        client
            .supplier_invoice_lines(invoice.id)
            .all()
            .await
            .expect("lines");
        client
            .supplier_invoice_payments(invoice.id)
            .all()
            .await
            .expect("payments");
    }
    client.customers().all().await.expect("customers");
    client.suppliers().all().await.expect("suppliers");
    client.products().all().await.expect("products");
    client.transactions().all().await.expect("transactions");
    client.bank_accounts().all().await.expect("bank_accounts");
    client.categories().all().await.expect("categories");
    client
        .category_groups()
        .all()
        .await
        .expect("category_groups");
    let since = sandbox.now() - chrono::Duration::days(7);
    for resource in ChangelogResource::ALL {
        client
            .changelog(resource, ChangelogStart::Since(since))
            .events()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", resource.name()));
    }
}

#[tokio::test]
async fn the_default_rate_never_meets_the_sandbox_429() {
    let (sandbox, client) = sandbox_client(
        SandboxConfig {
            ledger_lines: 2_000,
            ..SandboxConfig::default() // the real limit: 25 requests per 5 s
        },
        Some(RateLimit::pennylane_default()),
    )
    .await;
    // 2,000 lines, 100 per page: ~20 requests over ~4.5 s against 25 per 5 s.
    let started = std::time::Instant::now();
    let lines = client.ledger_entry_lines().all().await.expect("lines");
    let elapsed = started.elapsed().as_secs_f64();
    let stats = client.stats();
    eprintln!(
        "{} lines, {} requests in {elapsed:.2} s: {:.2} requests/s (configured 4.5), {} x 429",
        lines.len(),
        stats.requests,
        (stats.requests - 1) as f64 / elapsed,
        stats.rate_limited
    );
    assert!(lines.len() >= 1_900, "{}", lines.len());
    assert_eq!(client.stats().rate_limited, 0);
    assert_eq!(sandbox.rate_limited_count(), 0);
}

#[tokio::test]
async fn the_client_rides_out_the_sandbox_faults() {
    use penny_api::{Error, RetryPolicy};
    use penny_sandbox::Fault;
    use std::time::Duration;

    let sandbox = sandbox::start(SandboxConfig::unthrottled(200)).await;
    let client = sandbox::client_builder(&sandbox)
        .timeout(Duration::from_millis(400))
        .retry(RetryPolicy {
            max_retries: 5,
            ..common::fast_retries()
        })
        .build()
        .expect("client");
    sandbox.inject(Fault::TooManyRequests {
        count: 1,
        retry_after_secs: 1,
    });
    sandbox.inject(Fault::ServerError {
        count: 2,
        status: 503,
    });
    sandbox.inject(Fault::Latency {
        count: 1,
        delay: Duration::from_secs(2),
    });
    let journals = client.journals().all().await.expect("after the faults");
    assert!(!journals.is_empty());
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.retries, 4, "{stats:?}");
    assert_eq!(stats.requests, 5);

    sandbox.inject(Fault::MalformedJson { count: 1 });
    let err = client.journals().all().await.expect_err("cut body");
    assert!(
        matches!(&err, Error::Decode { resource, .. } if resource == "journals"),
        "{err}"
    );
}
