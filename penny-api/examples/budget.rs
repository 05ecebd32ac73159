//! The request budget: how close does the client get to the rate limit it is allowed?
//!
//! Run: `cargo run -p penny-api --release --example budget` (penny-sandbox plays Pennylane)
//!
//! 1. Scale of the sandbox: generates a 1,000,000-line world and times its start and
//!    100-record pages served over HTTP (rate limit off).
//! 2. The budget: reads a 20,000-record resource (`ledger_entry_lines`) from a sandbox
//!    that enforces the real limit (25 requests per 5 s, per token) through
//!    `penny_api::Client` with its default rate limit, and prints the requests made,
//!    the minimum possible, the 429s received and the achieved rate.
//!
//! Environment: `BUDGET_RECORDS` (default 20000) to read fewer or more records.

use std::time::Instant;

use futures_util::TryStreamExt;
use penny_api::{Client, DEFAULT_MAX_LIMIT as MAX_LIMIT};
use penny_sandbox::{RateLimit, Resource, Sandbox, SandboxConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    scale().await?;
    budget().await
}

async fn scale() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(1_000_000)).await?;
    let start_time = started.elapsed();
    let lines = sandbox.generated_count(1, Resource::LedgerEntryLines)?;
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(1))
        .no_rate_limit()
        .build()?;
    // 100 pages from the middle and the ends of the ledger, raw JSON.
    let pages = 100u32;
    let served_before = sandbox.serving_time();
    let started = Instant::now();
    let mut read = 0usize;
    let mut page = client.ledger_entry_lines().raw().limit(MAX_LIMIT).pages();
    for _ in 0..pages {
        match page.try_next().await? {
            Some(p) => read += p.items.len(),
            None => break,
        }
    }
    let per_page = started.elapsed() / pages;
    let served = (sandbox.serving_time() - served_before) / pages;
    println!("sandbox scale (release build, 1 company)");
    println!("  ledger entry lines generated:  {lines}");
    println!(
        "  world generation + bind:       {:.0} ms",
        start_time.as_secs_f64() * 1e3
    );
    println!(
        "  100-line page over HTTP:       {:.3} ms per page ({read} lines in {pages} pages, client decode included)",
        per_page.as_secs_f64() * 1e3
    );
    // The books balance at this size too: the trial balance over every date.
    let started = Instant::now();
    let rows: Vec<serde_json::Value> = client
        .get_json::<serde_json::Value>(
            "/trial_balance",
            "trial_balance",
            &[
                ("period_start".into(), "2000-01-01".into()),
                ("period_end".into(), "2100-12-31".into()),
                ("is_auxiliary".into(), "false".into()),
                ("limit".into(), "1000".into()),
            ],
        )
        .await?["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let trial_balance_time = started.elapsed();
    let sum = |field: &str| -> rust_decimal::Decimal {
        rows.iter()
            .filter_map(|r| r[field].as_str()?.parse::<rust_decimal::Decimal>().ok())
            .sum()
    };
    let (debits, credits) = (sum("debits"), sum("credits"));
    println!(
        "  trial balance (all {lines} lines, {} general accounts): debits {debits} = credits {credits}: {} ({:.0} ms)",
        rows.len(),
        if debits == credits {
            "balanced"
        } else {
            "NOT BALANCED"
        },
        trial_balance_time.as_secs_f64() * 1e3
    );
    println!(
        "  server time per page:          {:.3} ms (records built + JSON serialised)",
        served.as_secs_f64() * 1e3
    );
    Ok(())
}

async fn budget() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = std::env::var("BUDGET_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let sandbox = Sandbox::start(SandboxConfig {
        ledger_lines: records,
        rate_limit: Some(RateLimit::default()),
        ..Default::default()
    })
    .await?;
    let available = sandbox.generated_count(1, Resource::LedgerEntryLines)?;
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(1))
        .build()?;
    let configured = client
        .rate_limit()
        .map(|r| r.per_second())
        .unwrap_or(f64::INFINITY);
    println!(
        "\nrequest budget: {available} ledger entry lines, server limit 25 requests / 5 s per token"
    );
    println!(
        "  client rate limit: {:?} = {configured:.2} req/s",
        client.rate_limit()
    );
    let started = Instant::now();
    let mut count = 0usize;
    let mut items = client.ledger_entry_lines().limit(MAX_LIMIT).items();
    while let Some(_line) = items.try_next().await? {
        count += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = sandbox.total_requests();
    let minimum = available.div_ceil(MAX_LIMIT as usize);
    let achieved = requests as f64 / elapsed;
    println!("  records read:        {count} (of {available})");
    println!(
        "  requests made:       {requests} (client counted {})",
        client.stats().requests
    );
    println!("  minimum possible:    {minimum} (ceil({available} / {MAX_LIMIT}))");
    println!(
        "  429s received:       {} (server served {})",
        client.stats().rate_limited,
        sandbox.rate_limited_count()
    );
    println!("  elapsed:             {elapsed:.2} s");
    println!("  achieved rate:       {achieved:.3} req/s");
    println!(
        "  ratio to configured: {:.3} (target >= 0.95)",
        achieved / configured
    );
    let ok = count == available
        && requests as usize == minimum
        && sandbox.rate_limited_count() == 0
        && achieved / configured >= 0.95;
    println!(
        "  verdict:             {}",
        if ok { "on target" } else { "OFF TARGET" }
    );
    Ok(())
}
