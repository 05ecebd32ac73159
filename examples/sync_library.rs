//! A full sync, then an incremental one, of the Pennylane sandbox into PostgreSQL (raw
//! tables, canonical model, star schema and reports), with the engine (`penny-sync`)
//! and the loader (`penny-load`) as libraries: no command line, no configuration file.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p penny-examples --example sync_library
//! ```

use penny_api::{Client, source::PennylaneSource};
use penny_load::{PgConfig, TableReader};
use penny_sandbox::{Sandbox, SandboxConfig};
use penny_sync::NoProgress;
use penny_sync::run::{RunOptions, Targets, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| {
        "set DATABASE_URL to a PostgreSQL database you may create schemas in \
         (for example postgres://postgres@127.0.0.1:5432/test)"
    })?;
    // Pennylane's stand-in, in this process: a generated company, no rate limit.
    let config = SandboxConfig::unthrottled(2_000);
    let sandbox = Sandbox::start(SandboxConfig {
        start: chrono::Utc::now(),
        ..config
    })
    .await?;
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(1))
        .no_rate_limit()
        .build()?;
    let source = PennylaneSource::new(client);

    // Raw tables in `example_raw`; the canonical model, star schema and reports in
    // `example_star`. Both schemas stay locked while `targets` lives.
    let targets = Targets::postgres(&url, "example_raw", "example_star", &source).await?;
    let full = RunOptions {
        full: true,
        ..RunOptions::default()
    };
    let summary = run(&source, &targets, full, &NoProgress).await?;
    summary.error().map_or(Ok(()), Err)?;
    println!("full sync: {}", summary.line());

    // Some everyday changes, then the 10-minute cycle: only what changed is read,
    // and the star schema is updated by it.
    sandbox.make_demo_changes(1)?;
    let summary = run(&source, &targets, RunOptions::default(), &NoProgress).await?;
    summary.error().map_or(Ok(()), Err)?;
    println!("incremental sync: {}", summary.line());

    let star = TableReader::new(PgConfig::from_url(&url)?.with_schema("example_star"));
    for (table, rows) in star.row_counts(&[]).await? {
        println!("  example_star.{table}: {rows} rows");
    }
    Ok(())
}
