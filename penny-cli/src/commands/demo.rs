//! `penny demo`: the whole pipeline on a generated company, with nothing to set up.
//!
//! 1. starts Pennylane's stand-in, the sandbox of `penny-sandbox`, in the process, on
//!    127.0.0.1, serving a generated French company (rate limit off);
//! 2. syncs every stream in full into PostgreSQL (`DATABASE_URL`, when set and
//!    reachable) or else into a folder of CSV files, then rebuilds the canonical model;
//! 3. makes a few changes in the sandbox (a new customer, an invoice paid, a supplier
//!    renamed, an entry relabelled, an invoice deleted) and syncs again, incrementally;
//! 4. prints what it wrote and what to do next.

use std::io::Write;

use penny_api::Client;
use penny_sandbox::{Sandbox, SandboxConfig};
use penny_sync::pipeline::RunSummary;
use penny_sync::run::{RunOptions, Targets};
use penny_transform::Source;
use secrecy::ExposeSecret;

use crate::cli::DemoArgs;
use crate::config::Config;
use crate::exit::{CliError, ExitCode, chain};

const COMPANY: i64 = 1;

fn sandbox_error(e: penny_sandbox::SandboxError) -> CliError {
    CliError::new(ExitCode::Internal, &e)
}

/// Where the demo writes.
enum Place {
    Postgres { url: String },
    Csv,
}

async fn choose_targets(
    args: &DemoArgs,
    config: &Config,
    source: &dyn Source,
) -> Result<(Targets, Place), CliError> {
    if let (false, Some(url)) = (args.csv, &config.target.database_url) {
        let url = url.expose_secret();
        match Targets::postgres(
            url,
            &config.target.raw_schema,
            &config.target.star_schema,
            source,
        )
        .await
        {
            Ok(t) => {
                return Ok((t, Place::Postgres { url: redact(url) }));
            }
            Err(e) if e.class() == penny_transform::ErrorClass::Busy => {
                return Err(CliError::classed(e.class(), &e));
            }
            Err(e) => {
                tracing::warn!(
                    "DATABASE_URL is set but PostgreSQL cannot be used ({}); writing CSV files instead",
                    chain(&e)
                );
            }
        }
    }
    Ok((Targets::csv(&args.out, args.bom)?, Place::Csv))
}

/// A URL without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn check_run(summary: &RunSummary, what: &str) -> Result<(), CliError> {
    match summary.error() {
        Some(e) => {
            let mut e = CliError::from(e);
            e.message = format!("the demo's {what} failed: {}", e.message);
            Err(e)
        }
        None => Ok(()),
    }
}

/// `penny demo`.
pub async fn demo(config_path: Option<&std::path::Path>, args: &DemoArgs) -> Result<(), CliError> {
    let config = Config::load(config_path)?;
    let sandbox = Sandbox::start(SandboxConfig {
        seed: args.seed,
        ledger_lines: args.ledger_lines,
        rate_limit: None,
        // The sandbox clock starts at the real time: the API source positions its
        // change logs by the server's `Date` header, which is the real clock.
        start: chrono::Utc::now(),
        ..SandboxConfig::default()
    })
    .await
    .map_err(sandbox_error)?;
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(COMPANY))
        .no_rate_limit()
        .build()
        .map_err(|e| CliError::new(ExitCode::Internal, &e))?;
    // The demo's cycle follows its changes at once: the reference tables and
    // Pennylane's trial balance are read again with it (instead of every
    // `api.reference_refresh`), so that the reconciliation compares like with like.
    let source = penny_api::source::PennylaneSource::new(client.clone())
        .with_batch_rows(config.sync.batch_rows)
        .with_reference_refresh(std::time::Duration::ZERO);
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, text: String| {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    };
    say(
        &mut out,
        format!(
            "penny demo: a generated company (seed {}, about {} ledger lines) served by a local Pennylane sandbox at {}",
            args.seed,
            args.ledger_lines,
            sandbox.base_url()
        ),
    );
    let (targets, place) = choose_targets(args, &config, &source).await?;
    say(&mut out, format!("Writing to {}", targets.raw.describe()));

    let options = RunOptions {
        streams: Vec::new(),
        full: true,
        concurrency: config.sync.concurrency,
        transform: Some(crate::commands::sync::transform_settings(&config)),
    };
    let full = penny_sync::run::run(
        &source,
        &targets,
        RunOptions {
            full: true,
            ..options.clone()
        },
        &crate::output::Bars,
    )
    .await?;
    check_run(&full, "full sync")?;
    say(&mut out, format!("1. Full sync: {}", full.line()));

    let changes = sandbox.make_demo_changes(COMPANY).map_err(sandbox_error)?;
    say(
        &mut out,
        format!("2. Changes made in the sandbox: {}", changes.join(", ")),
    );

    let incremental = penny_sync::run::run(
        &source,
        &targets,
        RunOptions {
            full: false,
            ..options.clone()
        },
        &crate::output::Bars,
    )
    .await?;
    check_run(&incremental, "incremental sync")?;
    say(
        &mut out,
        format!("3. Incremental sync: {}", incremental.line()),
    );
    let requests = sandbox.total_requests();
    say(&mut out, format!("   ({requests} API requests in all)"));

    let tables: Vec<(String, u64)> = match &place {
        Place::Csv => {
            let csv = penny_sync::target::CsvTarget::tables_in(&args.out)?;
            csv.into_iter()
                .map(|(t, n)| (format!("{t}.csv"), n))
                .collect()
        }
        Place::Postgres { .. } => {
            let mut all = Vec::new();
            for schema in [&config.target.raw_schema, &config.target.star_schema] {
                let listed = penny_sync::target::PgTarget::list(
                    config
                        .target
                        .database_url
                        .as_ref()
                        .map(|u| u.expose_secret().to_owned())
                        .unwrap_or_default()
                        .as_str(),
                    schema,
                )
                .await
                .map_err(|e| CliError::classed(e.class(), &e))?;
                all.extend(
                    listed
                        .into_iter()
                        .map(|(t, n)| (format!("{schema}.{t}"), n)),
                );
            }
            all
        }
    };
    say(&mut out, String::new());
    match &place {
        Place::Csv => say(
            &mut out,
            format!(
                "Wrote {} tables as CSV files (UTF-8{}, comma-separated, decimal point) into {}:",
                tables.len(),
                if args.bom { " with BOM" } else { "" },
                args.out.display()
            ),
        ),
        Place::Postgres { url } => say(
            &mut out,
            format!("Wrote {} tables into PostgreSQL {url}:", tables.len()),
        ),
    }
    let width = tables
        .iter()
        .map(|(t, _)| t.len())
        .max()
        .unwrap_or(5)
        .max(5);
    say(&mut out, format!("  {:<width$}  {:>8}", "table", "rows"));
    for (t, n) in &tables {
        say(&mut out, format!("  {t:<width$}  {n:>8}"));
    }
    say(&mut out, String::new());
    say(&mut out, "Next:".into());
    match &place {
        Place::Csv => {
            say(
                &mut out,
                format!(
                    "  - Power BI: Get Data > Text/CSV on the star schema files of {}: fact_ledger_lines.csv (the general ledger), fact_invoices.csv, ... and dim_*.csv, related on their *_key columns.",
                    args.out.display()
                ),
            );
            say(&mut out, "  - For a database instead: set DATABASE_URL=postgres://user:password@localhost:5433/penny (docker compose up -d gives one) and run penny demo again.".into());
        }
        Place::Postgres { .. } => {
            say(
                &mut out,
                format!(
                    "  - Power BI: Get Data > PostgreSQL database, schema {}: the star schema (fact_* and dim_* tables, related on their *_key columns); {} holds the raw tables.",
                    config.target.star_schema, config.target.raw_schema
                ),
            );
        }
    }
    say(&mut out, "  - Your own data: copy penny.example.toml to penny.toml, set PENNYLANE_API_TOKEN (Pennylane > Settings > Developers), run penny doctor, then penny sync.".into());
    say(
        &mut out,
        "  - Keep it fresh: penny schedule --every 10m".into(),
    );
    drop(sandbox);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact("postgres://penny:s3cret@localhost:5433/penny"),
            "postgres://penny:***@localhost:5433/penny"
        );
        assert_eq!(redact("postgres://localhost/db"), "postgres://localhost/db");
    }
}
