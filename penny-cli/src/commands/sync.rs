//! `penny sync` and `penny schedule`.

use std::path::Path;

use penny_transform::Source;
use penny_transform::driver::SyncOptions;

use crate::cli::{ScheduleArgs, SyncArgs};
use crate::config::{Config, ConfigError, SourceKind, TargetKind};
use crate::csv_sink::CsvOptions;
use crate::duration::parse_duration;
use crate::exit::{CliError, ExitCode};
use crate::pipeline::{self, RunSummary, SinkFactory};
use crate::schedule::{self, Cadence, Stop};
use crate::targets::{CsvTarget, PgTarget};
use crate::transform::TransformSettings;

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
        SourceKind::Both => Ok(Box::new(crate::sources::Combined::new(
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
    use crate::duration::format_duration;
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

/// Where a run writes: the raw tables, and the canonical model (`None`: the same place).
pub struct Targets {
    /// The raw tables.
    pub raw: Box<dyn SinkFactory>,
    /// The canonical model and reports, when elsewhere (the star schema).
    pub star: Option<Box<dyn SinkFactory>>,
}

impl Targets {
    /// The CSV folder `dir`, for both.
    pub fn csv(dir: &Path, bom: bool) -> Result<Targets, CliError> {
        let target = CsvTarget::open(dir, CsvOptions { bom })
            .map_err(|e| CliError::classed(e.class(), &e))?;
        Ok(Targets {
            raw: Box::new(target),
            star: None,
        })
    }

    /// PostgreSQL at `url`: schemas `raw_schema` and `star_schema`, both locked for the run.
    pub async fn postgres(
        url: &str,
        raw_schema: &str,
        star_schema: &str,
        source: &dyn Source,
    ) -> Result<Targets, penny_transform::SinkError> {
        let schemas = source
            .streams()
            .await
            .map_err(|e| penny_transform::SinkError::Config { source: e.into() })?
            .into_iter()
            .map(|s| s.schema)
            .collect();
        let raw = PgTarget::open(url, raw_schema, source.name())
            .await?
            .with_schemas(schemas);
        let star = PgTarget::open(url, star_schema, "penny-transform").await?;
        Ok(Targets {
            raw: Box::new(raw),
            star: Some(Box::new(star)),
        })
    }

    /// Where the canonical model goes.
    pub fn star(&self) -> &dyn SinkFactory {
        self.star.as_deref().unwrap_or(self.raw.as_ref())
    }
}

/// The targets of a configuration, opened (and locked) for one run.
pub async fn open_targets(config: &Config, source: &dyn Source) -> Result<Targets, CliError> {
    match config.target.kind {
        TargetKind::Csv => Targets::csv(&config.target.csv_dir, config.target.csv_bom),
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

/// One run of `streams` (all when empty) of `source` into `targets`, then the
/// canonical rebuild with the `transform` settings when given and every stream
/// succeeded.
pub async fn run_with(
    source: &dyn Source,
    targets: &Targets,
    requested: &[String],
    options: SyncOptions,
    concurrency: usize,
    transform: Option<TransformSettings>,
) -> Result<RunSummary, CliError> {
    let started = std::time::Instant::now();
    let streams = pipeline::select_streams(source, requested).await?;
    tracing::info!(
        source = source.name(),
        target = %targets.raw.describe(),
        streams = streams.len(),
        full = options.full,
        "sync starting"
    );
    // A first (or full) read puts the ledger first: its star tables and accounting
    // reports are built and committed before the invoices, which cost most requests.
    let (first, then): (Vec<String>, Vec<String>) = streams
        .iter()
        .cloned()
        .partition(|s| LEDGER_FIRST.contains(&s.as_str()));
    let phased = transform.is_some()
        && !first.is_empty()
        && !then.is_empty()
        && (options.full || first_api_read(targets).await);
    let phases = if phased {
        vec![first, then]
    } else {
        vec![streams.clone()]
    };
    let mut summary = RunSummary::default();
    for (i, phase) in phases.iter().enumerate() {
        if i > 0 {
            tracing::info!(
                streams = phase.len(),
                "ledger tables and accounting reports committed: the invoices follow"
            );
        }
        let run =
            pipeline::sync_streams(source, targets.raw.as_ref(), phase, options, concurrency).await;
        summary.reports.extend(run.reports);
        summary.failures.extend(run.failures);
        if !summary.failures.is_empty() {
            break;
        }
        delete_entries_without_lines(targets, phase).await?;
        if let Some(settings) = transform {
            let report = rebuild(targets.raw.as_ref(), targets.star(), settings).await?;
            if i == 0 && phased {
                summary.ledger = report;
                continue;
            }
            summary.transform = report;
            // The ledger's checks (made with the ledger) stand when the invoices' update
            // did not make them again.
            if let (Some(now), Some(ledger)) = (summary.transform.as_mut(), &summary.ledger) {
                now.review = now.review.or(ledger.review);
                now.reconciliation = now.reconciliation.or(ledger.reconciliation);
            }
        }
    }
    summary.duration = started.elapsed();
    Ok(summary)
}

/// The streams a first sync reads, transforms and commits before the others: the
/// ledger and what its reports need (the accounts, journals and fiscal years, the
/// entries and their lines, Pennylane's own trial balance).
pub const LEDGER_FIRST: &[&str] = &[
    "companies",
    "journals",
    "ledger_accounts",
    "fiscal_years",
    "ledger_entry_lines",
    "ledger_entries",
    "trial_balance",
];

/// After a raw load that deleted ledger lines, deletes the raw entries no line names any
/// more: the API door sees an entry deleted with its lines only as its lines' deletions
/// (Pennylane has no entry change log, and a deleted line's entry cannot be asked for),
/// so the entry is deleted here, where the raw tables are known. Only when both streams
/// ran (and succeeded); the entries this run upserted are kept (their lines may come
/// with the next run, when the lines' read ended before they were inserted).
async fn delete_entries_without_lines(
    targets: &Targets,
    streams: &[String],
) -> Result<(), CliError> {
    let ran = |s: &str| streams.iter().any(|n| n == s);
    if !ran("ledger_entries") || !ran("ledger_entry_lines") {
        return Ok(());
    }
    let Some(changes) = targets
        .raw
        .raw_tables()
        .and_then(|r| r.incremental())
        .map(|i| i.changes().snapshot())
    else {
        return Ok(());
    };
    if changes
        .get("ledger_entry_lines")
        .is_none_or(|c| c.deleted.is_empty())
    {
        return Ok(());
    }
    let keep = changes
        .get("ledger_entries")
        .map(|c| c.upserted.clone())
        .unwrap_or_default();
    match targets.raw.delete_entries_without_lines(&keep).await {
        Ok(Some(n)) if n > 0 => {
            tracing::info!(
                entries = n,
                "raw ledger entries whose lines were all deleted: deleted"
            );
        }
        Ok(_) => {}
        Err(e) => return Err(CliError::classed(e.class(), &e)),
    }
    Ok(())
}

/// The streams a run reads: `--streams`, else `source.streams`.
fn requested_streams<'a>(config: &'a Config, args: &'a SyncArgs) -> &'a [String] {
    if args.streams.is_empty() {
        &config.source.streams
    } else {
        &args.streams
    }
}

/// One run: the configured streams of `source` into freshly opened targets.
pub async fn run_once(
    config: &Config,
    source: &dyn Source,
    args: &SyncArgs,
) -> Result<RunSummary, CliError> {
    let requested = requested_streams(config, args);
    let targets = open_targets(config, source).await?;
    run_with(
        source,
        &targets,
        requested,
        SyncOptions { full: args.full },
        config.sync.concurrency,
        config.sync.transform.then(|| TransformSettings::of(config)),
    )
    .await
}

/// Rebuilds the canonical model from the target's raw tables, when it can read them.
pub async fn rebuild(
    target: &dyn SinkFactory,
    star: &dyn SinkFactory,
    settings: TransformSettings,
) -> Result<Option<crate::transform::TransformReport>, CliError> {
    let Some(raw) = target.raw_tables() else {
        tracing::warn!(target = %target.describe(), "this target cannot read its raw tables back: the canonical model was not rebuilt");
        return Ok(None);
    };
    tracing::debug!(
        memory_mib = ?crate::output::memory_mib(),
        "transformation starting"
    );
    let mut out = star
        .open()
        .await
        .map_err(|e| CliError::classed(e.class(), &e))?;
    let mut facts = star
        .open()
        .await
        .map_err(|e| CliError::classed(e.class(), &e))?;
    let report = crate::transform::rebuild_canonical(
        raw,
        star.saved_tables(),
        out.as_mut(),
        facts.as_mut(),
        settings,
    )
    .await?;
    tracing::info!(
        door = report.door,
        tables = report.tables.len(),
        rows = report.rows(),
        "canonical model rebuilt"
    );
    Ok(Some(report))
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
    let summary = run_with(
        source.as_ref(),
        &targets,
        requested,
        SyncOptions { full: args.full },
        config.sync.concurrency,
        config
            .sync
            .transform
            .then(|| TransformSettings::of(&config)),
    )
    .await?;
    if let Some(e) = summary.error() {
        return Err(e);
    }
    println!("{}", summary.line());
    Ok(())
}

/// Whether the target holds no position of the API's ledger lines yet (a first read).
/// False when that cannot be told: the sync itself then says what is wrong.
async fn first_api_read(targets: &Targets) -> bool {
    let Ok(mut sink) = targets.raw.open().await else {
        return false;
    };
    matches!(sink.saved_position("ledger_entry_lines").await, Ok(None))
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
    let stop = Stop::on_signals();
    let report = schedule::run(cadence, args.runs, stop, |_| {
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
