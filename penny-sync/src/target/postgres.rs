//! A PostgreSQL schema as a target: [`PgTarget`], over `penny-load` (which owns every
//! SQL statement).

use std::collections::BTreeSet;
use std::sync::Arc;

use penny_load::{LoadError, Orphans, PgConfig, PgSink, TableReader, TargetLock};
use penny_transform::{ReadBack, ReadKind, Schema, Sink, SinkError};

use crate::changes::{ChangeLog, RecordingSink};
use crate::pipeline::SinkFactory;
use crate::transform::update::{ChangeTracking, REFS_TABLE, Refs, refs_schema};

/// A PostgreSQL schema (`penny-load`'s [`PgSink`]): the target's advisory lock is
/// taken once for the run and shared by one connection per stream.
///
/// A raw target (one given its streams' schemas by [`with_schemas`](Self::with_schemas))
/// records what each run's commits changed ([`ChangeLog`]), for the incremental
/// transformation, and marks the transformed tables stale before its first write (see
/// [`crate::transform::update`]).
pub struct PgTarget {
    config: PgConfig,
    lock: Arc<TargetLock>,
    source: String,
    reader: TableReader,
    raw: bool,
    changes: ChangeLog,
    /// `Some(refs)` once this run's first write marked the transformation stale: the
    /// references saved until then (`None` inside: there were none).
    refs_at_start: tokio::sync::Mutex<Option<Option<Refs>>>,
}

/// Tables read whole that hold fewer rows than this are changed in place by their
/// difference (`penny_load::PgConfig::with_replace_in_place_below`): the reference
/// tables, dimensions and reports rewritten at every run touch only the rows that
/// changed, and the run's summary counts only those.
pub const REPLACE_IN_PLACE_BELOW: u64 = 100_000;

fn load_error(e: LoadError) -> SinkError {
    e.into_sink_error(None)
}

fn config_of(url: &str, schema: &str) -> Result<PgConfig, SinkError> {
    Ok(PgConfig::from_url(url)
        .map_err(load_error)?
        .with_schema(schema))
}

impl PgTarget {
    /// Connects to `url`'s database, schema `schema`, and takes its lock (failing at
    /// once, as busy, when another sync holds it).
    pub async fn open(url: &str, schema: &str, source: &str) -> Result<PgTarget, SinkError> {
        let config = config_of(url, schema)?
            .with_application_name("penny")
            .with_replace_in_place_below(REPLACE_IN_PLACE_BELOW);
        let lock = TargetLock::acquire(&config).await.map_err(load_error)?;
        Ok(PgTarget {
            reader: TableReader::new(config.clone()),
            config,
            lock,
            source: source.to_owned(),
            raw: false,
            changes: ChangeLog::default(),
            refs_at_start: tokio::sync::Mutex::new(None),
        })
    }

    /// The raw tables' schemas (from the source's streams): this target then holds raw
    /// tables, reads them back as these schemas say, and tracks their changes.
    pub fn with_schemas(mut self, schemas: Vec<Arc<Schema>>) -> Self {
        self.raw = !schemas.is_empty();
        self.reader = TableReader::new(self.config.clone()).with_schemas(schemas);
        self
    }

    /// The tables of schema `schema` at `url` and their row counts.
    pub async fn list(url: &str, schema: &str) -> Result<Vec<(String, u64)>, SinkError> {
        TableReader::new(config_of(url, schema)?)
            .row_counts(&[REFS_TABLE])
            .await
            .map_err(load_error)
    }

    /// Reads back the tables of `schema` at `url`, typed as the catalog says (no lock:
    /// reading only).
    pub fn reader(url: &str, schema: &str) -> Result<TableReader, SinkError> {
        Ok(TableReader::new(config_of(url, schema)?))
    }

    /// Before the first write of a run into a raw target: the saved references are
    /// kept in memory for this run's transformation, and dropped from the database, so
    /// that a run that dies between its raw commits and the end of its transformation
    /// is followed by a full rebuild (the next run finds no references).
    async fn mark_stale(&self) -> Result<(), SinkError> {
        if !self.raw {
            return Ok(());
        }
        let mut at_start = self.refs_at_start.lock().await;
        if at_start.is_some() {
            return Ok(());
        }
        let saved = self.read_saved_refs().await?;
        self.reader
            .drop_table(REFS_TABLE)
            .await
            .map_err(load_error)?;
        *at_start = Some(saved);
        Ok(())
    }

    /// The references saved in the database.
    async fn read_saved_refs(&self) -> Result<Option<Refs>, SinkError> {
        use futures_util::TryStreamExt;
        let catalog = TableReader::new(self.config.clone());
        let Some(schema) = catalog.table(REFS_TABLE).await.map_err(load_error)? else {
            return Ok(None);
        };
        if *schema != *refs_schema() {
            return Ok(None);
        }
        let mut stream = catalog
            .read(&schema, 10_000, None)
            .await
            .map_err(load_error)?;
        let mut refs = Refs::default();
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
        let sink = PgSink::connect_with_lock(self.config.clone(), self.lock.clone())
            .await
            .map_err(load_error)?
            .with_source(self.source.clone());
        if !self.raw {
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

    fn read_back(&self) -> Option<&dyn ReadBack> {
        Some(&self.reader)
    }

    fn change_tracking(&self) -> Option<&dyn ChangeTracking> {
        self.raw.then_some(self as _)
    }

    async fn delete_entries_without_lines(
        &self,
        keep: &BTreeSet<(i64, i64)>,
    ) -> Result<Option<u64>, SinkError> {
        let orphans = Orphans {
            parent: "ledger_entries",
            parent_key: ["company_id", "id"],
            child: "ledger_entry_lines",
            child_refs: ["company_id", "ledger_entry_id"],
        };
        let keep: Vec<(i64, i64)> = keep.iter().copied().collect();
        self.reader
            .delete_orphans(&orphans, &keep)
            .await
            .map(Some)
            .map_err(|e| e.into_sink_error(Some(orphans.parent)))
    }
}

#[async_trait::async_trait]
impl ChangeTracking for PgTarget {
    fn changes(&self) -> &ChangeLog {
        &self.changes
    }

    async fn saved_refs(&self) -> Result<Option<Refs>, SinkError> {
        match self.refs_at_start.lock().await.as_ref() {
            Some(at_start) => Ok(at_start.clone()),
            // Nothing written this run: the database's are current.
            None => self.read_saved_refs().await,
        }
    }

    async fn save_refs(&self, refs: &Refs) -> Result<(), SinkError> {
        let mut sink = PgSink::connect_with_lock(self.config.clone(), self.lock.clone())
            .await
            .map_err(load_error)?
            .with_source("penny-transform");
        let schema = refs_schema();
        sink.prepare(&schema, ReadKind::Full).await?;
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
