//! Reads a few typed resources with the library alone.
//!
//! ```sh
//! PENNYLANE_API_TOKEN=... cargo run -p penny-api --example typed_read
//! # against another server (a sandbox, Pennylane's test environment):
//! PENNYLANE_API_BASE_URL=http://127.0.0.1:8080/api/external/v2 PENNYLANE_API_TOKEN=... \
//!     cargo run -p penny-api --example typed_read
//! ```

use futures_util::TryStreamExt;
use penny_api::{Client, Filter};
use rust_decimal::Decimal;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;
    let me = client.me().await?;
    println!(
        "company {} ({}), scopes: {}",
        me.company.id,
        me.company.name.as_deref().unwrap_or("?"),
        me.scopes.join(", ")
    );

    let journals = client.journals().all().await?;
    println!("{} journals", journals.len());
    for journal in &journals {
        println!(
            "  {:<4} {}",
            journal.code,
            journal.label.as_deref().unwrap_or("")
        );
    }

    // The first 500 ledger lines of the year, streamed page by page.
    let year_start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).ok_or("bad date")?;
    let mut lines = client
        .ledger_entry_lines()
        .filter(Filter::gteq("date", year_start))
        .items();
    let (mut count, mut debit, mut credit) = (0usize, Decimal::ZERO, Decimal::ZERO);
    while let Some(line) = lines.try_next().await? {
        count += 1;
        debit += line.debit;
        credit += line.credit;
        if count == 500 {
            break;
        }
    }
    println!("{count} ledger lines: debit {debit}, credit {credit}");

    let stats = client.stats();
    println!(
        "{} requests, {} rate-limited (429), {} retries",
        stats.requests, stats.rate_limited, stats.retries
    );
    Ok(())
}
