//! `penny sync` and `penny schedule`.

use std::path::Path;

use penny_sync::duration::parse_duration;
use penny_sync::pipeline::RunSummary;
use penny_sync::run::{RunOptions, Targets, first_api_read};
use penny_sync::schedule::{self, Cadence};
use penny_sync::transform::TransformSettings;
use penny_transform::Source;

use crate::cli::{ScheduleArgs, SyncArgs};
use crate::config::{Config, ConfigError, SourceKind, TargetKind};
use crate::exit::{CliError, ExitCode};

/// The Data Sharing connection settings of a configuration.
pub fn data_sharing_config(config: &Config) -> Result<penny_redshift::DataSharingConfig, CliError> {
    let r = &config.redshift;
    let host = config.redshift_required(&r.host, "host")?;
    let database = config.redshift_required(&r.database, "database")?;
    let user = config.redshift_required(&r.user, "user")?;
    let key = r.password.as_ref().ok_or_else(|| {
        CliError::from(ConfigError::Missing {
            what: format!(
                "the Data Sharing key ({})",
                crate::config::ENV_DATA_SHARING_KEY
            ),
            needed_for: "source.kind is \"redshift\" or \"both\"".into(),
            looked: "the environment and ./.env".into(),
        })
    })?;
    let mut c = penny_redshift::DataSharingConfig::new(
        host,
        database,
        user,
        secrecy::ExposeSecret::expose_secret(key),
    );
    c.port = r.port;
    if let Some(path) = &r.ca_file {
        c.tls
            .add_ca_file(path)
            .map_err(|e| CliError::new(ExitCode::Config, &e))?;
    }
    Ok(c)
}

/// The Data Sharing source of a configuration.
pub fn redshift_source(config: &Config) -> Result<penny_redshift::DataSharingSource, CliError> {
    let mut options = penny_redshift::SourceOptions::for_schema(config.redshift.schema.clone());
    options.cursor.fetch_rows = config.redshift.fetch_rows as usize;
    options.cursor.batch_rows = config.sync.batch_rows;
    Ok(penny_redshift::DataSharingSource::new(
        data_sharing_config(config)?,
        options,
    ))
}

/// The API source of a configuration.
pub fn api_source(config: &Config) -> Result<penny_api::source::PennylaneSource, CliError> {
    Ok(api_source_with(
        config,
        crate::commands::api::client(config)?,
    ))
}

/// The API source of a configuration over `client` (whose clones share its rate limit).
fn api_source_with(
    config: &Config,
    client: penny_api::Client,
) -> penny_api::source::PennylaneSource {
    penny_api::source::PennylaneSource::new(client)
        .with_batch_rows(config.sync.batch_rows)
        .with_reference_refresh(config.api.reference_refresh)
}

/// The source of a configuration.
pub fn build_source(config: &Config) -> Result<Box<dyn Source>, CliError> {
    let client = match config.source.kind {
        SourceKind::Redshift => None,
        SourceKind::Api | SourceKind::Both => Some(crate::commands::api::client(config)?),
    };
    build_source_with(config, client)
}

/// The source of a configuration, its API door over `client`.
fn build_source_with(
    config: &Config,
    client: Option<penny_api::Client>,
) -> Result<Box<dyn Source>, CliError> {
    let api = |client: Option<penny_api::Client>| -> Result<_, CliError> {
        Ok(match client {
            Some(client) => api_source_with(config, client),
            None => api_source(config)?,
        })
    };
    match config.source.kind {
        SourceKind::Redshift => Ok(Box::new(redshift_source(config)?)),
        SourceKind::Api => Ok(Box::new(api(client)?)),
        SourceKind::Both => Ok(Box::new(penny_sync::combined::Combined::new(
            Box::new(api(client)?),
            Box::new(redshift_source(config)?),
        ))),
    }
}

/// The plan of a full read of `streams` (every API stream when empty) through the API
/// door, as `penny sync --plan` prints it: one line per stream, then the total.
pub async fn api_plan(
    config: &Config,
    client: penny_api::Client,
    streams: &[String],
) -> Result<penny_api::source::SyncPlan, CliError> {
    let source = api_source_with(config, client);
    let known: Vec<&str> = penny_api::source::stream_names().collect();
    // Streams of the Data Sharing door (`source.kind = "both"`) are not the API's.
    let streams: Vec<&str> = streams
        .iter()
        .map(String::as_str)
        .filter(|s| config.source.kind == SourceKind::Api || known.contains(s))
        .collect();
    source
        .plan(&streams)
        .await
        .map_err(|e| CliError::classed(e.class(), &e))
}

/// The plan as a table: stream, records, requests, time at the rate limit.
pub fn plan_table(plan: &penny_api::source::SyncPlan) -> String {
    use penny_sync::duration::format_duration;
    let time = |requests: u64| {
        plan.time_for(requests)
            .map_or_else(|| "-".to_owned(), format_duration)
    };
    let mut out = format!(
        "{:<28} {:>12} {:>10} {:>10}\n",
        "stream", "records", "requests", "time"
    );
    for s in &plan.streams {
        out.push_str(&format!(
            "{:<28} {:>12} {:>10} {:>10}\n",
            s.stream,
            s.records.to_string(),
            s.requests,
            time(s.requests)
        ));
    }
    let total = plan.requests();
    out.push_str(&format!(
        "{:<28} {:>12} {:>10} {:>10}\n",
        "total",
        "",
        total,
        time(total)
    ));
    out.push_str(&match plan.per_second {
        Some(rate) => format!(
            "at {rate:.1} requests/s (api.rate_limit); ~ marks estimates from each list's first and last pages ({} requests)",
            plan.probe_requests
        ),
        None => format!(
            "no rate limit set; ~ marks estimates from each list's first and last pages ({} requests)",
            plan.probe_requests
        ),
    });
    out
}

/// The targets of a configuration, opened (and locked) for one run.
pub async fn open_targets(config: &Config, source: &dyn Source) -> Result<Targets, CliError> {
    match config.target.kind {
        TargetKind::Csv => Ok(Targets::csv(&config.target.csv_dir, config.target.csv_bom)?),
        TargetKind::Postgres => {
            let url = config.database_url()?;
            Targets::postgres(
                secrecy::ExposeSecret::expose_secret(url),
                &config.target.raw_schema,
                &config.target.star_schema,
                source,
            )
            .await
            .map_err(|e| CliError::classed(e.class(), &e))
        }
    }
}

/// The streams a run reads: `--streams`, else `source.streams`.
fn requested_streams<'a>(config: &'a Config, args: &'a SyncArgs) -> &'a [String] {
    if args.streams.is_empty() {
        &config.source.streams
    } else {
        &args.streams
    }
}

/// What a run of `config` with `args` does.
pub fn run_options(config: &Config, args: &SyncArgs) -> RunOptions {
    RunOptions {
        streams: requested_streams(config, args).to_vec(),
        full: args.full,
        concurrency: config.sync.concurrency,
        transform: config.sync.transform.then(|| transform_settings(config)),
    }
}

/// The transformation's settings of `config` (`sync.batch_rows`, `fiscal.year_start`).
pub fn transform_settings(config: &Config) -> TransformSettings {
    TransformSettings {
        year_start_month: config.fiscal.year_start_month,
        ..TransformSettings::new(config.sync.batch_rows)
    }
}

/// One run: the configured streams of `source` into freshly opened targets.
pub async fn run_once(
    config: &Config,
    source: &dyn Source,
    args: &SyncArgs,
) -> Result<RunSummary, CliError> {
    let targets = open_targets(config, source).await?;
    Ok(penny_sync::run::run(
        source,
        &targets,
        run_options(config, args),
        &crate::output::Bars,
    )
    .await?)
}

/// `penny sync`: one run; with `--plan`, the estimate of a full read only. Before a
/// first read of the ledger lines through the API (or with `--full`), the estimate is
/// printed on standard error.
pub async fn sync(config_path: Option<&Path>, args: &SyncArgs) -> Result<(), CliError> {
    let config = Config::load(config_path)?;
    let client = match config.source.kind {
        SourceKind::Redshift => None,
        SourceKind::Api | SourceKind::Both => Some(crate::commands::api::client(&config)?),
    };
    let requested = requested_streams(&config, args);
    if args.plan {
        let Some(client) = client else {
            return Err(CliError::msg(
                ExitCode::Config,
                "--plan estimates a read through the API (source.kind \"api\" or \"both\"); the Data Sharing door has no request budget to plan",
            ));
        };
        let plan = api_plan(&config, client, requested).await?;
        println!("{}", plan_table(&plan));
        return Ok(());
    }
    let source = build_source_with(&config, client.clone())?;
    let targets = open_targets(&config, source.as_ref()).await?;
    if let Some(client) = client
        && (args.full || first_api_read(&targets).await)
    {
        match api_plan(&config, client, requested).await {
            Ok(plan) => {
                eprintln!("a full read through the API:\n{}", plan_table(&plan));
                for s in plan.streams.iter().filter(|s| s.records_are_rows) {
                    crate::output::expect_rows(s.stream, s.records.value());
                }
            }
            Err(e) => tracing::warn!(error = %e, "the full read's cost could not be estimated"),
        }
    }
    let summary = penny_sync::run::run(
        source.as_ref(),
        &targets,
        run_options(&config, args),
        &crate::output::Bars,
    )
    .await?;
    if let Some(e) = summary.error() {
        return Err(e.into());
    }
    println!("{}", summary.line());
    Ok(())
}

fn duration_arg(
    value: &Option<String>,
    flag: &str,
    default: std::time::Duration,
) -> Result<std::time::Duration, CliError> {
    match value {
        None => Ok(default),
        Some(text) => parse_duration(text).map_err(|e| {
            CliError::from(ConfigError::Invalid {
                key: flag.to_owned(),
                value: text.clone(),
                expected: e.to_string(),
                origin: crate::config::Origin::Default,
            })
        }),
    }
}

/// The cadence of `penny schedule`: the flags, else the configuration.
pub fn cadence(config: &Config, args: &ScheduleArgs) -> Result<Cadence, CliError> {
    let every = duration_arg(&args.every, "--every", config.schedule.every)?;
    if every.is_zero() {
        return Err(CliError::msg(
            ExitCode::Config,
            "--every must be longer than zero",
        ));
    }
    Ok(Cadence {
        every,
        jitter: duration_arg(&args.jitter, "--jitter", config.schedule.jitter)?,
        backoff_max: config.schedule.backoff_max,
        stop_grace: config.schedule.stop_grace,
    })
}

/// `penny schedule`.
pub async fn schedule(config_path: Option<&Path>, args: &ScheduleArgs) -> Result<(), CliError> {
    let config = Config::load(config_path)?;
    let cadence = cadence(&config, args)?;
    let source = build_source(&config)?;
    let report = schedule::run(cadence, args.runs, crate::signals::stop_requested(), |_| {
        run_once(&config, source.as_ref(), &args.sync)
    })
    .await;
    tracing::info!(
        runs = report.runs,
        failed = report.failed,
        "scheduler stopped"
    );
    Ok(())
}
