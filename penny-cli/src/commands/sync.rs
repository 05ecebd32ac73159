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
    let client = crate::commands::api::client(config)?;
    Ok(penny_api::source::PennylaneSource::new(client)
        .with_batch_rows(config.sync.batch_rows)
        .with_reference_refresh(config.api.reference_refresh))
}

/// The source of a configuration.
pub fn build_source(config: &Config) -> Result<Box<dyn Source>, CliError> {
    match config.source.kind {
        SourceKind::Redshift => Ok(Box::new(redshift_source(config)?)),
        SourceKind::Api => Ok(Box::new(api_source(config)?)),
        SourceKind::Both => Ok(Box::new(crate::sources::Combined::new(
            Box::new(api_source(config)?),
            Box::new(redshift_source(config)?),
        ))),
    }
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
    let mut summary =
        pipeline::sync_streams(source, targets.raw.as_ref(), &streams, options, concurrency).await;
    if summary.failures.is_empty() {
        delete_entries_without_lines(targets, &streams).await?;
    }
    if let Some(settings) = transform.filter(|_| summary.failures.is_empty()) {
        summary.transform = rebuild(targets.raw.as_ref(), targets.star(), settings).await?;
    }
    summary.duration = started.elapsed();
    Ok(summary)
}

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

/// One run: the configured streams of `source` into freshly opened targets.
pub async fn run_once(
    config: &Config,
    source: &dyn Source,
    args: &SyncArgs,
) -> Result<RunSummary, CliError> {
    let requested = if args.streams.is_empty() {
        &config.source.streams
    } else {
        &args.streams
    };
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

/// `penny sync`.
pub async fn sync(config_path: Option<&Path>, args: &SyncArgs) -> Result<(), CliError> {
    let config = Config::load(config_path)?;
    let source = build_source(&config)?;
    let summary = run_once(&config, source.as_ref(), args).await?;
    if let Some(e) = summary.error() {
        return Err(e);
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
