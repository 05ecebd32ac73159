//! [`PgSink`]: the PostgreSQL [`Sink`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use penny_transform::{Batch, CommitStats, Operation, Position, ReadKind, Schema, Sink, SinkError};
use tokio_postgres::Client;

use crate::config::PgConfig;
use crate::copy::{self, DELETED_COLUMN, Destination, SEQ_COLUMN};
use crate::ddl::{self, ExistingTable};
use crate::error::LoadError;
use crate::ident::{self, qualified, quote};
use crate::lock::TargetLock;
use crate::merge::{self, Staged};
use crate::refresh::{self, Refresh};
use crate::state::{self, RunRecord, RunRef, StreamState};
use crate::types::PgType;

/// The source name recorded in the state table until [`PgSink::with_source`] sets one.
pub const UNKNOWN_SOURCE: &str = "unknown";

/// A [`Sink`] writing into one schema of a PostgreSQL database.
///
/// - [`prepare`](Sink::prepare) creates the table from its [`Schema`] or evolves it
///   (see [`ddl`](crate#schema-evolution)); for a full read, the new table is built
///   beside the old one.
/// - [`write`](Sink::write) copies each batch with binary `COPY` into a session-private
///   staging table (incremental reads) or into the new table (full reads), inside a
///   transaction.
/// - [`commit`](Sink::commit) merges the staged rows into the table by primary key (or
///   swaps the new table in), and saves the position and counts in the state table, all
///   in that one transaction.
/// - [`abort`](Sink::abort) rolls it back.
///
/// One `PgSink` holds one connection and one open transaction, so it carries one
/// table's pending writes at a time (the driver syncs streams one after another); open
/// several sinks sharing one [`TargetLock`] to load streams concurrently.
pub struct PgSink {
    client: Client,
    config: PgConfig,
    source: String,
    _lock: Arc<TargetLock>,
    tables: HashMap<String, TableState>,
    /// The table whose transaction is open.
    open: Option<String>,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("config", &self.config)
            .field("source", &self.source)
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// What the sink knows of a prepared table.
struct TableState {
    schema: Arc<Schema>,
    kind: ReadKind,
    existing: Option<ExistingTable>,
    /// The final table's type of each schema column (for checks and conversions).
    target_types: Vec<PgType>,
    /// The staging table (temporary, session-private).
    staging: String,
    seq: i64,
    staged: Staged,
    /// A full read applied as a difference to the existing table, in place
    /// ([`PgConfig::with_replace_in_place_below`]).
    replace: bool,
    build_started: bool,
    /// Rows copied into a full refresh's new table, while that is its exact count (no
    /// deletion applied to it yet).
    build_rows: Option<u64>,
    run_id: i64,
    run_stats: CommitStats,
    started: Instant,
    error_recorded: bool,
    /// When a resume point of this full read was last made durable.
    last_stage: Option<Instant>,
}

/// Creates the schema and the state tables if needed, in one transaction under a
/// transaction-scoped advisory lock of the target: concurrent first connections would
/// otherwise race on `CREATE SCHEMA IF NOT EXISTS` / `CREATE TABLE IF NOT EXISTS`
/// (both check, then insert into the catalog, and the loser fails on a unique index).
/// The lock is released at the commit, or at the rollback when the connection drops.
async fn setup_schema(client: &Client, schema: &str, database: &str) -> Result<(), LoadError> {
    let creating = || format!("creating schema `{schema}` and its sync state tables");
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| LoadError::pg(creating(), e))?;
    let (class, key) = crate::lock::setup_lock_keys(database, schema);
    client
        .execute("SELECT pg_advisory_xact_lock($1, $2)", &[&class, &key])
        .await
        .map_err(|e| LoadError::pg(creating(), e))?;
    let created = async {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", quote(schema)))
            .await
            .map_err(|e| LoadError::pg(format!("creating schema `{schema}`"), e))?;
        state::ensure_tables(client, schema).await
    }
    .await;
    match created {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| LoadError::pg(creating(), e)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

impl PgSink {
    /// Connects, takes the target's [`TargetLock`] (failing at once with
    /// [`LoadError::Busy`] if another sync holds it), and creates the schema and state
    /// tables if needed.
    pub async fn connect(config: PgConfig) -> Result<PgSink, LoadError> {
        let lock = TargetLock::acquire(&config).await?;
        Self::connect_with_lock(config, lock).await
    }

    /// Like [`connect`](Self::connect), under a lock the caller already holds (so
    /// several sinks of one run can load streams concurrently).
    pub async fn connect_with_lock(
        config: PgConfig,
        lock: Arc<TargetLock>,
    ) -> Result<PgSink, LoadError> {
        let client = config.connect().await?;
        let database: String = client
            .query_one("SELECT current_database()::text", &[])
            .await
            .map_err(|e| LoadError::pg("reading the database name", e))?
            .get(0);
        if database != lock.database() || config.schema() != lock.schema() {
            return Err(LoadError::WrongLock {
                lock_database: lock.database().to_owned(),
                lock_schema: lock.schema().to_owned(),
                database,
                schema: config.schema().to_owned(),
            });
        }
        setup_schema(&client, config.schema(), &database).await?;
        Ok(PgSink {
            client,
            config,
            source: UNKNOWN_SOURCE.to_owned(),
            _lock: lock,
            tables: HashMap::new(),
            open: None,
        })
    }

    /// Names the source in the state table and run log (`pennylane-api`...).
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The configuration.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The state of every stream of the target schema.
    pub async fn stream_states(&self) -> Result<Vec<StreamState>, LoadError> {
        state::stream_states(&self.client, self.config.schema()).await
    }

    /// The state of one stream, if it was ever written.
    pub async fn stream_state(&self, stream: &str) -> Result<Option<StreamState>, LoadError> {
        Ok(self
            .stream_states()
            .await?
            .into_iter()
            .find(|s| s.stream == stream))
    }

    /// The last `limit` runs of `stream`, newest first.
    pub async fn recent_runs(&self, stream: &str, limit: i64) -> Result<Vec<RunRecord>, LoadError> {
        state::recent_runs(&self.client, self.config.schema(), stream, limit).await
    }

    /// Records `error` as `stream`'s last error (and fails its current run), for
    /// failures the sink cannot see itself, such as the source's.
    pub async fn record_error(&mut self, stream: &str, error: &str) -> Result<(), LoadError> {
        self.rollback_if_open(stream).await;
        let run = self.tables.get_mut(stream).map(|t| {
            t.error_recorded = true;
            t.run_id
        });
        state::record_error(
            &self.client,
            self.config.schema(),
            stream,
            &self.source,
            run,
            error,
        )
        .await
    }

    fn q(&self, table: &str) -> String {
        qualified(self.config.schema(), table)
    }

    async fn exec(&self, sql: &str, doing: String) -> Result<(), LoadError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| LoadError::pg(doing, e))
    }

    /// Rolls back `table`'s open transaction, if it has one (best effort: a dead
    /// connection has rolled back already).
    async fn rollback_if_open(&mut self, table: &str) {
        if self.open.as_deref() == Some(table) {
            let _ = self.client.batch_execute("ROLLBACK").await;
            self.open = None;
        }
        if let Some(t) = self.tables.get_mut(table) {
            t.staged = Staged::default();
            t.build_started = false;
            t.build_rows = Some(0);
        }
    }

    /// After a failure: roll back, record the error, and hand it back.
    async fn fail(&mut self, table: &str, error: LoadError) -> SinkError {
        self.rollback_if_open(table).await;
        let text = error.to_string();
        let run = self.tables.get_mut(table).map(|t| {
            t.error_recorded = true;
            t.run_id
        });
        if let Err(e) = state::record_error(
            &self.client,
            self.config.schema(),
            table,
            &self.source,
            run,
            &text,
        )
        .await
        {
            tracing::warn!(table, error = %e, "could not record the failure in the state table");
        }
        error.into_sink_error(Some(table))
    }

    async fn do_prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), LoadError> {
        self.prepare_table(schema, kind, false).await?;
        if kind == ReadKind::Full {
            // A new full read: what an earlier one staged is dropped.
            let name = schema.name();
            let build_q = self.q(&refresh::build_name(name));
            self.exec(
                &format!("DROP TABLE IF EXISTS {build_q}"),
                format!("dropping the staged full read of `{name}`"),
            )
            .await?;
            state::clear_staged(&self.client, self.config.schema(), name).await?;
        }
        Ok(())
    }

    /// Prepares the continuation of `schema`'s staged full read; `false` (and the staged
    /// read dropped) when there is none to continue or its table does not match.
    async fn do_resume(&mut self, schema: &Arc<Schema>) -> Result<bool, LoadError> {
        let name = schema.name();
        let target_schema = self.config.schema().to_owned();
        if state::staged_position(&self.client, &target_schema, name)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let build = refresh::build_name(name);
        let wanted = ddl::target_types(None, schema);
        let matches = match ddl::existing_table(&self.client, &target_schema, &build).await? {
            Some(have) => {
                have.columns.len() == wanted.len()
                    && have
                        .columns
                        .iter()
                        .zip(schema.columns().iter().zip(&wanted))
                        .all(|(h, (c, t))| h.name == c.name && h.pg_type == *t)
            }
            None => false,
        };
        if !matches {
            tracing::info!(table = %name, "the staged full read does not match the table's schema: read again");
            self.do_prepare(schema, ReadKind::Full).await?;
            return Ok(false);
        }
        self.prepare_table(schema, ReadKind::Full, true).await?;
        Ok(true)
    }

    /// Prepares `schema`'s table for a read of `kind`; `resume`: a full read continuing
    /// the new table an earlier run staged.
    async fn prepare_table(
        &mut self,
        schema: &Arc<Schema>,
        kind: ReadKind,
        resume: bool,
    ) -> Result<(), LoadError> {
        let name = schema.name().to_owned();
        if let Some(open) = self.open.clone() {
            if open != name {
                return Err(LoadError::OtherTablePending {
                    pending: open,
                    requested: name,
                });
            }
            self.rollback_if_open(&name).await;
        }
        // A new run: the previous one's state is gone, so a failure from here on is
        // not recorded against that run.
        self.tables.remove(&name);
        ddl::check_names(schema)?;
        let target_schema = self.config.schema().to_owned();
        let target_q = self.q(&name);
        let mut existing = ddl::existing_table(&self.client, &target_schema, &name).await?;
        match (kind, &existing) {
            (ReadKind::Incremental, None) => {
                let sql = ddl::create_table_sql(&target_q, schema, Some(&ddl::pk_name(&name)));
                self.exec(&sql, format!("creating table `{name}`")).await?;
                ddl::create_missing_indexes(&self.client, &target_schema, schema).await?;
                existing = ddl::existing_table(&self.client, &target_schema, &name).await?;
            }
            (ReadKind::Incremental, Some(have)) => {
                let steps = ddl::plan_evolution(&target_q, have, schema)?;
                if !steps.is_empty() {
                    let sql = format!("BEGIN; {}; COMMIT", steps.join("; "));
                    if let Err(e) = self.client.batch_execute(&sql).await {
                        let _ = self.client.batch_execute("ROLLBACK").await;
                        return Err(LoadError::pg(format!("evolving table `{name}`"), e));
                    }
                    tracing::info!(table = %name, changes = ?steps, "table evolved");
                    ddl::create_missing_indexes(&self.client, &target_schema, schema).await?;
                    existing = ddl::existing_table(&self.client, &target_schema, &name).await?;
                }
            }
            (ReadKind::Full, Some(have)) => {
                // A rewrite in place (views depend on the table) needs a compatible schema:
                // say so now rather than after the whole read.
                let views = ddl::dependent_views(&self.client, &target_schema, &name).await?;
                if !views.is_empty()
                    && let Err(e) = ddl::plan_evolution(&target_q, have, schema)
                {
                    return Err(LoadError::BlockedByViews {
                        table: name,
                        views: views.join(", "),
                        reason: format!("its new schema cannot be applied in place: {e}"),
                    });
                }
            }
            (ReadKind::Full, None) => {}
        }
        let replace = kind == ReadKind::Full
            && !resume
            && match &existing {
                Some(have) => self.replaceable(&target_q, have, schema).await?,
                None => false,
            };
        let target_types = match kind {
            ReadKind::Incremental => ddl::target_types(existing.as_ref(), schema),
            ReadKind::Full if replace => ddl::target_types(existing.as_ref(), schema),
            ReadKind::Full => ddl::target_types(None, schema),
        };
        // The staging table: the schema's columns without constraints, plus the
        // arrival order and the deletion mark. Temporary: private to this session,
        // gone with it.
        let staging = ident::derived(&name, "__penny_stage");
        let columns: Vec<String> = schema
            .columns()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    quote(&c.name),
                    PgType::for_logical(c.logical_type).sql()
                )
            })
            .collect();
        self.exec(
            &format!(
                "DROP TABLE IF EXISTS pg_temp.{0}; CREATE TEMP TABLE {0} ({1}, {2} bigint NOT NULL, {3} boolean NOT NULL)",
                quote(&staging),
                columns.join(", "),
                quote(SEQ_COLUMN),
                quote(DELETED_COLUMN)
            ),
            format!("creating the staging table of `{name}`"),
        )
        .await?;
        let run_id =
            state::start_run(&self.client, &target_schema, &name, &self.source, kind).await?;
        self.tables.insert(
            name,
            TableState {
                schema: schema.clone(),
                kind,
                existing,
                target_types,
                staging,
                seq: 0,
                staged: Staged::default(),
                replace,
                // A resumed read adds to the staged new table, whose count is not known.
                build_started: resume,
                build_rows: (!resume).then_some(0),
                run_id,
                run_stats: CommitStats::default(),
                started: Instant::now(),
                error_recorded: false,
                last_stage: resume.then(Instant::now),
            },
        );
        Ok(())
    }

    /// Whether a full read of the existing table `have` is applied in place: it holds
    /// fewer rows than the configured bound, and its columns and key already match.
    async fn replaceable(
        &self,
        target_q: &str,
        have: &ExistingTable,
        schema: &Schema,
    ) -> Result<bool, LoadError> {
        let bound = self.config.replace_in_place_below();
        if bound == 0
            || !matches!(ddl::plan_evolution(target_q, have, schema), Ok(steps) if steps.is_empty())
        {
            return Ok(false);
        }
        let rows: i64 = self
            .client
            .query_one(
                &format!("SELECT count(*) FROM (SELECT 1 FROM {target_q} LIMIT $1) s"),
                &[&(bound as i64)],
            )
            .await
            .map_err(|e| LoadError::pg(format!("counting the rows of {target_q}"), e))?
            .get(0);
        Ok((rows as u64) < bound)
    }

    /// Opens the table's transaction if needed (and, for a full read, its new table).
    async fn ensure_transaction(&mut self, table: &str) -> Result<(), LoadError> {
        if let Some(open) = &self.open {
            if open != table {
                return Err(LoadError::OtherTablePending {
                    pending: open.clone(),
                    requested: table.to_owned(),
                });
            }
        } else {
            self.exec("BEGIN", format!("starting a transaction for `{table}`"))
                .await?;
            self.open = Some(table.to_owned());
        }
        let build_q = self.q(&refresh::build_name(table));
        let t = self
            .tables
            .get_mut(table)
            .ok_or_else(|| LoadError::NotPrepared {
                table: table.to_owned(),
            })?;
        if t.kind == ReadKind::Full && !t.replace && !t.build_started {
            let sql = format!(
                "DROP TABLE IF EXISTS {build_q}; {}",
                ddl::create_table_sql(&build_q, &t.schema, None)
            );
            t.build_started = true;
            self.client.batch_execute(&sql).await.map_err(|e| {
                LoadError::pg(
                    format!("creating the new table for the full refresh of `{table}`"),
                    e,
                )
            })?;
        }
        Ok(())
    }

    async fn do_write(&mut self, batch: Batch) -> Result<(), LoadError> {
        let table = batch.table().to_owned();
        let t = self
            .tables
            .get(&table)
            .ok_or_else(|| LoadError::NotPrepared {
                table: table.clone(),
            })?;
        if **batch.schema() != *t.schema {
            return Err(LoadError::SchemaMismatch {
                table: table.clone(),
                detail: schema_difference(&t.schema, batch.schema()),
            });
        }
        copy::validate(&batch, &t.target_types)?;
        if batch.is_empty() {
            return Ok(());
        }
        self.ensure_transaction(&table).await?;
        let staging = quote(&self.tables[&table].staging);
        let build_q = self.q(&refresh::build_name(&table));
        let t = self
            .tables
            .get_mut(&table)
            .ok_or_else(|| LoadError::NotPrepared {
                table: table.clone(),
            })?;
        // Incremental reads and in-place full reads are staged; other full reads are
        // copied into the new table (`Some`: how).
        let staged = t.kind == ReadKind::Incremental || t.replace;
        match (!staged).then(|| batch.operation()) {
            None => {
                t.staged.rows += copy::copy_batch(
                    &self.client,
                    &staging,
                    &batch,
                    Destination::Staging(&mut t.seq),
                )
                .await?;
                t.staged.deletions |= batch.operation() == Operation::Delete;
            }
            Some(Operation::Upsert) => {
                let copied =
                    copy::copy_batch(&self.client, &build_q, &batch, Destination::Plain).await?;
                t.build_rows = t.build_rows.map(|n| n + copied);
            }
            Some(Operation::Delete) => {
                // Deletions during a full read apply at once to the rows read so far.
                t.build_rows = None;
                self.client
                    .batch_execute(&format!("TRUNCATE {staging}"))
                    .await
                    .map_err(|e| {
                        LoadError::pg(format!("clearing the staging table of `{table}`"), e)
                    })?;
                copy::copy_batch(
                    &self.client,
                    &staging,
                    &batch,
                    Destination::Staging(&mut t.seq),
                )
                .await?;
                let join = t
                    .schema
                    .primary_key_names()
                    .map(|k| format!("b.{0} = s.{0}", quote(k)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                self.client
                    .batch_execute(&format!(
                        "DELETE FROM {build_q} b USING {staging} s WHERE {join}; TRUNCATE {staging}"
                    ))
                    .await
                    .map_err(|e| {
                        LoadError::pg(format!("applying deletions to the new `{table}`"), e)
                    })?;
            }
        }
        Ok(())
    }

    /// Makes the full read's rows so far durable with `position`, unless a resume point
    /// was made durable less than the stage interval ago or the read is applied in place
    /// (its rows wait in a session-private table).
    async fn do_stage(&mut self, table: &str, position: Position) -> Result<(), LoadError> {
        let interval = self.config.stage_interval();
        let t = self
            .tables
            .get(table)
            .ok_or_else(|| LoadError::NotPrepared {
                table: table.to_owned(),
            })?;
        if t.kind != ReadKind::Full
            || t.replace
            || t.last_stage.is_some_and(|at| at.elapsed() < interval)
        {
            return Ok(());
        }
        self.ensure_transaction(table).await?;
        state::save_staged(&self.client, self.config.schema(), table, &position).await?;
        self.exec(
            "COMMIT",
            format!("committing the resume point of the full read of `{table}`"),
        )
        .await?;
        self.open = None;
        if let Some(t) = self.tables.get_mut(table) {
            t.last_stage = Some(Instant::now());
            // Rows copied before a crash may come again: their count is no longer exact.
            t.build_rows = None;
        }
        Ok(())
    }

    async fn do_commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, LoadError> {
        if !self.tables.contains_key(table) {
            return Err(LoadError::NotPrepared {
                table: table.to_owned(),
            });
        }
        self.ensure_transaction(table).await?;
        let schema_name = self.config.schema().to_owned();
        let target_q = self.q(table);
        let t = &self.tables[table];
        // Staged reads are merged into the target (a full read applied in place also
        // deletes what it did not deliver), then the staging table is cleared.
        let staged = match t.kind {
            ReadKind::Incremental => Some(merge::Mode::Merge),
            ReadKind::Full if t.replace => Some(merge::Mode::Replace),
            ReadKind::Full => None,
        };
        let stats = match (t.kind, staged) {
            (ReadKind::Incremental, _) if t.staged.rows == 0 => CommitStats::default(),
            (_, Some(mode)) => {
                let staging = quote(&t.staging);
                let stats = merge::merge(
                    &self.client,
                    &target_q,
                    &staging,
                    &t.schema,
                    &t.target_types,
                    t.staged,
                    mode,
                )
                .await?;
                self.exec(
                    &format!("TRUNCATE {staging}"),
                    format!("clearing the staging table of `{table}`"),
                )
                .await?;
                stats
            }
            (_, None) => {
                Refresh {
                    client: &self.client,
                    schema_name: &schema_name,
                    table: &t.schema,
                    existing: t.existing.as_ref(),
                    copied_rows: t.build_rows,
                    swap_lock_timeout: self.config.swap_lock_timeout(),
                }
                .finish()
                .await?
            }
        };
        let mut run_stats = t.run_stats;
        run_stats.add(stats);
        let run = RunRef {
            schema: &schema_name,
            stream: table,
            source: &self.source,
            run_id: t.run_id,
        };
        state::record_commit(
            &self.client,
            &run,
            position.as_ref(),
            run_stats,
            t.started.elapsed(),
        )
        .await?;
        if t.kind == ReadKind::Full {
            state::clear_staged(&self.client, &schema_name, table).await?;
        }
        self.exec("COMMIT", format!("committing `{table}`")).await?;
        self.open = None;
        let existing = if t.kind == ReadKind::Full {
            Some(ddl::existing_table(&self.client, &schema_name, table).await?)
        } else {
            None
        };
        let t = self
            .tables
            .get_mut(table)
            .ok_or_else(|| LoadError::NotPrepared {
                table: table.to_owned(),
            })?;
        t.run_stats = run_stats;
        t.staged = Staged::default();
        t.replace = false;
        t.build_started = false;
        t.build_rows = Some(0);
        if let Some(existing) = existing {
            // Later writes of this run merge into the table just swapped in.
            t.kind = ReadKind::Incremental;
            t.target_types = ddl::target_types(existing.as_ref(), &t.schema);
            t.existing = existing;
        }
        Ok(stats)
    }
}

/// Says how two schemas of one table differ, naming the first differing column.
fn schema_difference(prepared: &Schema, batch: &Schema) -> String {
    for (i, (a, b)) in prepared.columns().iter().zip(batch.columns()).enumerate() {
        if a != b {
            return format!(
                "column {i} is `{}` {}{} in the table but `{}` {}{} in the batch",
                a.name,
                a.logical_type,
                if a.nullable { " (nullable)" } else { "" },
                b.name,
                b.logical_type,
                if b.nullable { " (nullable)" } else { "" },
            );
        }
    }
    let (p, b) = (prepared.columns().len(), batch.columns().len());
    if p != b {
        let extra = if p > b {
            &prepared.columns()[b]
        } else {
            &batch.columns()[p]
        };
        return format!(
            "the table has {p} columns and the batch {b}; column `{}` is only in the {}",
            extra.name,
            if p > b { "table" } else { "batch" }
        );
    }
    format!(
        "the primary key is ({}) in the table but ({}) in the batch",
        prepared.primary_key_names().collect::<Vec<_>>().join(", "),
        batch.primary_key_names().collect::<Vec<_>>().join(", ")
    )
}

#[async_trait::async_trait]
impl Sink for PgSink {
    async fn saved_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        state::saved_position(&self.client, self.config.schema(), table)
            .await
            .map_err(|e| e.into_sink_error(Some(table)))
    }

    async fn prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), SinkError> {
        match self.do_prepare(schema, kind).await {
            Ok(()) => Ok(()),
            Err(e @ LoadError::OtherTablePending { .. }) => {
                Err(e.into_sink_error(Some(schema.name())))
            }
            Err(e) => Err(self.fail(schema.name(), e).await),
        }
    }

    async fn write(&mut self, batch: Batch) -> Result<(), SinkError> {
        let table = batch.table().to_owned();
        match self.do_write(batch).await {
            Ok(()) => Ok(()),
            Err(e @ (LoadError::NotPrepared { .. } | LoadError::OtherTablePending { .. })) => {
                Err(e.into_sink_error(Some(&table)))
            }
            Err(e) => Err(self.fail(&table, e).await),
        }
    }

    async fn commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, SinkError> {
        match self.do_commit(table, position).await {
            Ok(stats) => Ok(stats),
            Err(e @ (LoadError::NotPrepared { .. } | LoadError::OtherTablePending { .. })) => {
                Err(e.into_sink_error(Some(table)))
            }
            Err(e) => Err(self.fail(table, e).await),
        }
    }

    async fn staged_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        state::staged_position(&self.client, self.config.schema(), table)
            .await
            .map_err(|e| e.into_sink_error(Some(table)))
    }

    async fn stage(&mut self, table: &str, position: Position) -> Result<(), SinkError> {
        match self.do_stage(table, position).await {
            Ok(()) => Ok(()),
            Err(e @ (LoadError::NotPrepared { .. } | LoadError::OtherTablePending { .. })) => {
                Err(e.into_sink_error(Some(table)))
            }
            Err(e) => Err(self.fail(table, e).await),
        }
    }

    async fn resume(&mut self, schema: &Arc<Schema>) -> Result<bool, SinkError> {
        match self.do_resume(schema).await {
            Ok(resumed) => Ok(resumed),
            Err(e @ LoadError::OtherTablePending { .. }) => {
                Err(e.into_sink_error(Some(schema.name())))
            }
            Err(e) => Err(self.fail(schema.name(), e).await),
        }
    }

    async fn abort(&mut self, table: &str) -> Result<(), SinkError> {
        self.rollback_if_open(table).await;
        let Some(t) = self.tables.get(table) else {
            return Ok(());
        };
        if !t.error_recorded {
            let run = t.run_id;
            state::record_error(
                &self.client,
                self.config.schema(),
                table,
                &self.source,
                Some(run),
                "the run was aborted; its uncommitted writes were dropped",
            )
            .await
            .map_err(|e| e.into_sink_error(Some(table)))?;
        }
        Ok(())
    }
}
