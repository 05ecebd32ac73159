//! The targets a run writes to, as [`SinkFactory`]s built from the configuration.

pub mod csv_sink;

use penny_transform::ident::quote_ident;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use penny_transform::{Sink, SinkError};

use crate::changes::{ChangeLog, RecordingSink};
use crate::pipeline::SinkFactory;
use crate::target::csv_sink::{CsvOptions, CsvSink};

/// A folder of CSV files: one lock for the run, one handle per stream.
pub struct CsvTarget {
    root: Mutex<CsvSink>,
    dir: PathBuf,
}

impl CsvTarget {
    /// Opens (and locks) `dir` for a run.
    pub fn open(dir: &Path, options: CsvOptions) -> Result<CsvTarget, SinkError> {
        Ok(CsvTarget {
            root: Mutex::new(CsvSink::open(dir, options)?),
            dir: dir.to_owned(),
        })
    }

    /// The committed tables of the folder `dir` and their rows (no lock needed).
    pub fn tables_in(dir: &Path) -> Result<Vec<(String, u64)>, SinkError> {
        crate::target::csv_sink::committed_tables(dir)
    }

    /// The committed tables and their rows.
    pub fn tables(&self) -> Vec<(String, u64)> {
        self.root.lock().expect("csv root lock poisoned").tables()
    }
}

#[async_trait::async_trait]
impl SinkFactory for CsvTarget {
    async fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        Ok(Box::new(
            self.root.lock().expect("csv root lock poisoned").handle(),
        ))
    }

    fn describe(&self) -> String {
        format!("the folder {}", self.dir.display())
    }

    fn raw_tables(&self) -> Option<&dyn crate::transform::rebuild::RawTables> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl crate::transform::rebuild::RawTables for CsvTarget {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.tables().iter().any(|(t, _)| t == table))
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        let batches = self
            .root
            .lock()
            .expect("csv root lock poisoned")
            .read_table(table, batch_rows)?;
        Ok(batches.map(|b| {
            Box::pin(futures_util::stream::iter(b.into_iter().map(Ok)))
                as crate::transform::rebuild::BatchStream<'_>
        }))
    }
}

/// A PostgreSQL schema (`penny-load`'s [`PgSink`](penny_load::PgSink)): the target's
/// advisory lock is taken once for the run and shared by one connection per stream.
///
/// A raw target (one given its streams' schemas by [`with_schemas`](Self::with_schemas))
/// records what each run's commits changed ([`ChangeLog`]), for the incremental
/// transformation, and marks the transformed tables stale before its first write (see
/// [`crate::incremental`]).
pub struct PgTarget {
    config: penny_load::PgConfig,
    lock: std::sync::Arc<penny_load::TargetLock>,
    source: String,
    schemas: Vec<std::sync::Arc<penny_transform::Schema>>,
    changes: ChangeLog,
    /// `Some(refs)` once this run's first write marked the transformation stale: the
    /// references saved until then (`None` inside: there were none).
    refs_at_start: tokio::sync::Mutex<Option<Option<crate::transform::update::Refs>>>,
}

/// Tables read whole that hold fewer rows than this are changed in place by their
/// difference (`penny_load::PgConfig::with_replace_in_place_below`): the reference
/// tables, dimensions and reports rewritten at every run touch only the rows that
/// changed, and the run's summary counts only those.
pub const REPLACE_IN_PLACE_BELOW: u64 = 100_000;

/// A `penny-load` error at the trait boundary.
pub fn load_error(e: penny_load::LoadError) -> SinkError {
    e.into_sink_error(None)
}

#[async_trait::async_trait]
impl crate::transform::update::SavedTables for PgTarget {
    async fn read_saved(
        &self,
        table: &str,
        columns: &[&str],
        batch_rows: usize,
        filter: Option<&penny_load::KeyFilter>,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        let reader = self.table_reader();
        let Some(stored) = reader.table(table).await.map_err(load_error)? else {
            return Ok(None);
        };
        let schema = if columns.is_empty() {
            stored
        } else {
            std::sync::Arc::new(project(&stored, columns)?)
        };
        let stream = reader
            .read(&schema, batch_rows, filter)
            .await
            .map_err(load_error)?;
        Ok(Some(batches(stream)))
    }
}

impl PgTarget {
    /// Connects to `url`'s database, schema `schema`, and takes its lock (failing at
    /// once, as busy, when another sync holds it).
    pub async fn open(url: &str, schema: &str, source: &str) -> Result<PgTarget, SinkError> {
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema)
            .with_application_name("penny")
            .with_replace_in_place_below(REPLACE_IN_PLACE_BELOW);
        let lock = penny_load::TargetLock::acquire(&config)
            .await
            .map_err(load_error)?;
        Ok(PgTarget {
            config,
            lock,
            source: source.to_owned(),
            schemas: Vec::new(),
            changes: ChangeLog::default(),
            refs_at_start: tokio::sync::Mutex::new(None),
        })
    }

    /// The raw tables' schemas (from the source's streams), so they can be read back.
    pub fn with_schemas(mut self, schemas: Vec<std::sync::Arc<penny_transform::Schema>>) -> Self {
        self.schemas = schemas;
        self
    }

    /// The tables of schema `schema` at `url` and their row counts.
    pub async fn list(url: &str, schema: &str) -> Result<Vec<(String, u64)>, SinkError> {
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema);
        PgTarget::list_with(&config).await
    }

    async fn list_with(config: &penny_load::PgConfig) -> Result<Vec<(String, u64)>, SinkError> {
        let client = config.connect().await.map_err(load_error)?;
        let rows = client
            .query(
                "SELECT c.relname::text, greatest(c.reltuples, 0)::bigint FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> ALL($2) \
                 AND c.relname NOT LIKE '%\\_\\_penny\\_new' ORDER BY 1",
                &[
                    &config.schema(),
                    &vec![
                        penny_load::STATE_TABLE,
                        penny_load::RUNS_TABLE,
                        penny_load::STAGED_TABLE,
                        crate::transform::update::REFS_TABLE,
                    ],
                ],
            )
            .await
            .map_err(|e| SinkError::Unavailable { source: e.into() })?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            let count: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {}.{}",
                        quote_ident(config.schema()),
                        quote_ident(&name)
                    ),
                    &[],
                )
                .await
                .map_err(|e| SinkError::Unavailable { source: e.into() })?
                .get(0);
            out.push((name, count as u64));
        }
        Ok(out)
    }

    fn table_reader(&self) -> penny_load::TableReader {
        penny_load::TableReader::new(self.config.clone())
    }

    /// Streams `table` read as `schema` (its stored schema, or a projection of it),
    /// optionally only the rows `filter` keeps; `None` when this target does not hold
    /// the table or it is not in the database (yet).
    async fn stream(
        &self,
        table: &str,
        project: impl FnOnce(&penny_transform::Schema) -> Result<penny_transform::Schema, SinkError>,
        batch_rows: usize,
        filter: Option<&penny_load::KeyFilter>,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        let Some(schema) = self.schemas.iter().find(|s| s.name() == table) else {
            return Ok(None);
        };
        let reader = self.table_reader();
        if !reader.exists(table).await.map_err(load_error)? {
            return Ok(None);
        }
        let schema = std::sync::Arc::new(project(schema)?);
        let stream = reader
            .read(&schema, batch_rows, filter)
            .await
            .map_err(load_error)?;
        Ok(Some(batches(stream)))
    }

    /// Before the first write of a run into a raw target: the saved references are
    /// kept in memory for this run's transformation, and dropped from the database, so
    /// that a run that dies between its raw commits and the end of its transformation
    /// is followed by a full rebuild (the next run finds no references).
    async fn mark_stale(&self) -> Result<(), SinkError> {
        if self.schemas.is_empty() {
            return Ok(());
        }
        let mut at_start = self.refs_at_start.lock().await;
        if at_start.is_some() {
            return Ok(());
        }
        let saved = self.read_saved_refs().await?;
        let client = self.config.connect().await.map_err(load_error)?;
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {}.{}",
                quote_ident(self.config.schema()),
                quote_ident(crate::transform::update::REFS_TABLE)
            ))
            .await
            .map_err(|e| SinkError::Unavailable { source: e.into() })?;
        *at_start = Some(saved);
        Ok(())
    }

    /// The references saved in the database.
    async fn read_saved_refs(&self) -> Result<Option<crate::transform::update::Refs>, SinkError> {
        use futures_util::TryStreamExt;
        let reader = self.table_reader();
        let Some(schema) = reader
            .table(crate::transform::update::REFS_TABLE)
            .await
            .map_err(load_error)?
        else {
            return Ok(None);
        };
        if *schema != *crate::transform::update::refs_schema() {
            return Ok(None);
        }
        let mut stream = reader
            .read(&schema, 10_000, None)
            .await
            .map_err(load_error)?;
        let mut refs = crate::transform::update::Refs::default();
        while let Some(batch) = stream.try_next().await.map_err(load_error)? {
            refs.add_saved(&batch)?;
        }
        Ok(Some(refs))
    }
}

#[async_trait::async_trait]
impl SinkFactory for PgTarget {
    async fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        self.mark_stale().await?;
        let sink = penny_load::PgSink::connect_with_lock(self.config.clone(), self.lock.clone())
            .await
            .map_err(load_error)?
            .with_source(self.source.clone());
        if self.schemas.is_empty() {
            return Ok(Box::new(sink));
        }
        Ok(Box::new(RecordingSink::new(
            Box::new(sink),
            self.changes.clone(),
        )))
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.config.target())
    }

    fn raw_tables(&self) -> Option<&dyn crate::transform::rebuild::RawTables> {
        Some(self)
    }

    fn saved_tables(&self) -> Option<&dyn crate::transform::update::SavedTables> {
        Some(self)
    }

    async fn delete_entries_without_lines(
        &self,
        keep: &std::collections::BTreeSet<(i64, i64)>,
    ) -> Result<Option<u64>, SinkError> {
        let (entries, lines) = ("ledger_entries", "ledger_entry_lines");
        let client = self.config.connect().await.map_err(load_error)?;
        let (companies, ids): (Vec<i64>, Vec<i64>) = keep.iter().copied().unzip();
        let deleted = client
            .execute(
                &format!(
                    "DELETE FROM {s}.{e} AS e WHERE NOT EXISTS (SELECT 1 FROM {s}.{l} AS l \
                     WHERE l.company_id = e.company_id AND l.ledger_entry_id = e.id) \
                     AND NOT EXISTS (SELECT 1 FROM unnest($1::bigint[], $2::bigint[]) AS k(c, i) \
                     WHERE k.c = e.company_id AND k.i = e.id)",
                    s = quote_ident(self.config.schema()),
                    e = quote_ident(entries),
                    l = quote_ident(lines),
                ),
                &[&companies, &ids],
            )
            .await
            .map_err(|e| SinkError::Data {
                table: entries.to_owned(),
                source: e.into(),
            })?;
        Ok(Some(deleted))
    }
}

/// `schema` with only `columns` and its key, in its order.
fn project(
    schema: &penny_transform::Schema,
    columns: &[&str],
) -> Result<penny_transform::Schema, SinkError> {
    let keys: Vec<&str> = schema.primary_key_names().collect();
    let kept: Vec<penny_transform::Column> = schema
        .columns()
        .iter()
        .filter(|c| columns.contains(&c.name.as_str()) || keys.contains(&c.name.as_str()))
        .cloned()
        .collect();
    penny_transform::Schema::new(schema.name(), kept, &keys).map_err(|e| SinkError::Config {
        source: format!("projecting table `{}` on {columns:?}: {e}", schema.name()).into(),
    })
}

/// A read of `penny-load` as the transformation's batch stream.
fn batches(stream: penny_load::BatchStream) -> crate::transform::rebuild::BatchStream<'static> {
    use futures_util::StreamExt;
    Box::pin(stream.map(|b| b.map_err(load_error)))
}

#[async_trait::async_trait]
impl crate::transform::rebuild::RawTables for PgTarget {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.schemas.iter().any(|s| s.name() == table)
            && self
                .table_reader()
                .exists(table)
                .await
                .map_err(load_error)?)
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        self.stream(table, |s| Ok(s.clone()), batch_rows, None)
            .await
    }

    fn incremental(&self) -> Option<&dyn crate::transform::update::IncrementalRaw> {
        (!self.schemas.is_empty()).then_some(self as _)
    }
}

#[async_trait::async_trait]
impl crate::transform::update::IncrementalRaw for PgTarget {
    fn changes(&self) -> &ChangeLog {
        &self.changes
    }

    async fn read_where(
        &self,
        table: &str,
        batch_rows: usize,
        filter: &penny_load::KeyFilter,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        self.stream(table, |s| Ok(s.clone()), batch_rows, Some(filter))
            .await
    }

    async fn read_columns(
        &self,
        table: &str,
        columns: &[&str],
        batch_rows: usize,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        self.stream(table, |s| project(s, columns), batch_rows, None)
            .await
    }

    async fn date_range(
        &self,
        table: &str,
        column: &str,
    ) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>, SinkError> {
        let client = self.config.connect().await.map_err(load_error)?;
        let row = client
            .query_one(
                &format!(
                    "SELECT min({c}), max({c}) FROM {}.{}",
                    quote_ident(self.config.schema()),
                    quote_ident(table),
                    c = quote_ident(column)
                ),
                &[],
            )
            .await
            .map_err(|e| SinkError::Data {
                table: table.to_owned(),
                source: e.into(),
            })?;
        let (a, b): (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>) =
            (row.get(0), row.get(1));
        Ok(a.zip(b))
    }

    async fn saved_refs(&self) -> Result<Option<crate::transform::update::Refs>, SinkError> {
        match self.refs_at_start.lock().await.as_ref() {
            Some(at_start) => Ok(at_start.clone()),
            // Nothing written this run: the database's are current.
            None => self.read_saved_refs().await,
        }
    }

    async fn save_refs(&self, refs: &crate::transform::update::Refs) -> Result<(), SinkError> {
        let mut sink =
            penny_load::PgSink::connect_with_lock(self.config.clone(), self.lock.clone())
                .await
                .map_err(load_error)?
                .with_source("penny-transform");
        let schema = crate::transform::update::refs_schema();
        sink.prepare(&schema, penny_transform::ReadKind::Full)
            .await?;
        for batch in refs.to_batches(10_000)? {
            if let Err(e) = sink.write(batch).await {
                let _ = sink.abort(schema.name()).await;
                return Err(e);
            }
        }
        sink.commit(schema.name(), None).await?;
        // The next run's first write captures these (and marks them stale again).
        *self.refs_at_start.lock().await = None;
        Ok(())
    }
}

impl PgTarget {
    /// The schemas of the tables already in `schema` at `url` (columns and primary
    /// keys from the catalog), to read them back without their source.
    pub async fn discover(
        url: &str,
        schema: &str,
    ) -> Result<Vec<std::sync::Arc<penny_transform::Schema>>, SinkError> {
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema);
        penny_load::TableReader::new(config)
            .tables()
            .await
            .map_err(load_error)
    }

    /// Reads back the tables of `schema` at `url` (no lock: reading only).
    pub async fn reader(url: &str, schema: &str) -> Result<PgReader, SinkError> {
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema);
        let reader = penny_load::TableReader::new(config);
        let schemas = reader.tables().await.map_err(load_error)?;
        Ok(PgReader { reader, schemas })
    }
}

/// The tables of a PostgreSQL schema, read back (no lock taken).
pub struct PgReader {
    reader: penny_load::TableReader,
    schemas: Vec<std::sync::Arc<penny_transform::Schema>>,
}

#[async_trait::async_trait]
impl crate::transform::rebuild::RawTables for PgReader {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.schemas.iter().any(|s| s.name() == table))
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<crate::transform::rebuild::BatchStream<'_>>, SinkError> {
        let Some(schema) = self.schemas.iter().find(|s| s.name() == table) else {
            return Ok(None);
        };
        let stream = self
            .reader
            .read(schema, batch_rows, None)
            .await
            .map_err(load_error)?;
        Ok(Some(batches(stream)))
    }
}
