//! The targets a run writes to, as [`SinkFactory`]s built from the configuration.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use penny_transform::{Sink, SinkError};

use crate::csv_sink::{CsvOptions, CsvSink};
use crate::pipeline::SinkFactory;

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
    pub fn tables_in(dir: &Path) -> Result<Vec<(String, u64)>, crate::exit::CliError> {
        crate::csv_sink::committed_tables(dir)
            .map_err(|e| crate::exit::CliError::classed(e.class(), &e))
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

    fn raw_tables(&self) -> Option<&dyn crate::transform::RawTables> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl crate::transform::RawTables for CsvTarget {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.tables().iter().any(|(t, _)| t == table))
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<crate::transform::BatchStream<'_>>, SinkError> {
        let batches = self
            .root
            .lock()
            .expect("csv root lock poisoned")
            .read_table(table, batch_rows)?;
        Ok(batches.map(|b| {
            Box::pin(futures_util::stream::iter(b.into_iter().map(Ok)))
                as crate::transform::BatchStream<'_>
        }))
    }
}

/// A PostgreSQL schema (`penny-load`'s [`PgSink`](penny_load::PgSink)): the target's
/// advisory lock is taken once for the run and shared by one connection per stream.
pub struct PgTarget {
    config: penny_load::PgConfig,
    lock: std::sync::Arc<penny_load::TargetLock>,
    source: String,
    schemas: Vec<std::sync::Arc<penny_transform::Schema>>,
}

/// A `penny-load` error at the trait boundary.
pub fn load_error(e: penny_load::LoadError) -> SinkError {
    e.into_sink_error(None)
}

impl PgTarget {
    /// Connects to `url`'s database, schema `schema`, and takes its lock (failing at
    /// once, as busy, when another sync holds it).
    pub async fn open(url: &str, schema: &str, source: &str) -> Result<PgTarget, SinkError> {
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema)
            .with_application_name("penny");
        let lock = penny_load::TargetLock::acquire(&config)
            .await
            .map_err(load_error)?;
        // One connection first creates the schema and the state tables: concurrent
        // first connections would race on `CREATE SCHEMA IF NOT EXISTS`.
        drop(
            penny_load::PgSink::connect_with_lock(config.clone(), lock.clone())
                .await
                .map_err(load_error)?,
        );
        Ok(PgTarget {
            config,
            lock,
            source: source.to_owned(),
            schemas: Vec::new(),
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
                 ORDER BY 1",
                &[
                    &config.schema(),
                    &vec![penny_load::STATE_TABLE, penny_load::RUNS_TABLE],
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
}

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[async_trait::async_trait]
impl SinkFactory for PgTarget {
    async fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        let sink = penny_load::PgSink::connect_with_lock(self.config.clone(), self.lock.clone())
            .await
            .map_err(load_error)?
            .with_source(self.source.clone());
        Ok(Box::new(sink))
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.config.target())
    }

    fn raw_tables(&self) -> Option<&dyn crate::transform::RawTables> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl crate::transform::RawTables for PgTarget {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.schemas.iter().any(|s| s.name() == table)
            && table_exists(&self.config, table).await?)
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<crate::transform::BatchStream<'_>>, SinkError> {
        let Some(schema) = self.schemas.iter().find(|s| s.name() == table) else {
            return Ok(None);
        };
        if !table_exists(&self.config, table).await? {
            return Ok(None);
        }
        read_pg_table(&self.config, schema, batch_rows)
            .await
            .map(Some)
    }
}

fn pg_value(
    row: &tokio_postgres::Row,
    i: usize,
    ty: penny_transform::LogicalType,
) -> Result<penny_transform::Value, tokio_postgres::Error> {
    use penny_transform::{LogicalType as T, Value as V};
    fn opt<X>(v: Option<X>, f: impl FnOnce(X) -> V) -> V {
        v.map(f).unwrap_or(V::Null)
    }
    Ok(match ty {
        T::Bool => opt(row.try_get(i)?, V::Bool),
        T::Int64 => opt(row.try_get(i)?, V::Int64),
        T::Float64 => opt(row.try_get(i)?, V::Float64),
        T::Decimal { .. } => opt(row.try_get(i)?, V::Decimal),
        T::Text => opt(row.try_get(i)?, V::Text),
        T::Date => opt(row.try_get(i)?, V::Date),
        T::Time => opt(row.try_get(i)?, V::Time),
        T::Timestamp => opt(row.try_get(i)?, V::Timestamp),
        T::TimestampTz => opt(row.try_get(i)?, V::TimestampTz),
        T::Json => opt(row.try_get(i)?, V::Json),
    })
}

impl PgTarget {
    /// The schemas of the tables already in `schema` at `url` (columns and primary
    /// keys from `information_schema`), to read them back without their source.
    pub async fn discover(
        url: &str,
        schema: &str,
    ) -> Result<Vec<std::sync::Arc<penny_transform::Schema>>, SinkError> {
        use penny_transform::{Column, LogicalType, Schema};
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema);
        let client = config.connect().await.map_err(load_error)?;
        let unavailable = |e: tokio_postgres::Error| SinkError::Unavailable { source: e.into() };
        let columns = client
            .query(
                "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
                 numeric_scale::int FROM information_schema.columns WHERE table_schema = $1 \
                 ORDER BY table_name, ordinal_position",
                &[&schema],
            )
            .await
            .map_err(unavailable)?;
        let keys = client
            .query(
                "SELECT k.table_name::text, k.column_name::text FROM information_schema.table_constraints c \
                 JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name \
                 AND k.table_schema = c.table_schema AND k.table_name = c.table_name \
                 WHERE c.table_schema = $1 AND c.constraint_type = 'PRIMARY KEY' \
                 ORDER BY k.table_name, k.ordinal_position",
                &[&schema],
            )
            .await
            .map_err(unavailable)?;
        let mut tables: std::collections::BTreeMap<String, Vec<Column>> = Default::default();
        for row in columns {
            let (table, name, ty, nullable, scale): (String, String, String, String, Option<i32>) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            let logical = match ty.as_str() {
                "bigint" | "integer" | "smallint" => LogicalType::Int64,
                "numeric" => LogicalType::Decimal {
                    scale: scale.unwrap_or(0).max(0) as u32,
                },
                "boolean" => LogicalType::Bool,
                "double precision" | "real" => LogicalType::Float64,
                "date" => LogicalType::Date,
                "time without time zone" => LogicalType::Time,
                "timestamp without time zone" => LogicalType::Timestamp,
                "timestamp with time zone" => LogicalType::TimestampTz,
                "json" | "jsonb" => LogicalType::Json,
                _ => LogicalType::Text,
            };
            let column = if nullable == "YES" {
                Column::nullable(name, logical)
            } else {
                Column::required(name, logical)
            };
            tables.entry(table).or_default().push(column);
        }
        let mut key_of: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for row in keys {
            key_of.entry(row.get(0)).or_default().push(row.get(1));
        }
        let mut out = Vec::new();
        for (table, columns) in tables {
            let Some(key) = key_of.remove(&table) else {
                continue; // the sync state tables and anything without a key
            };
            if let Ok(s) = Schema::new(table, columns, key) {
                out.push(std::sync::Arc::new(s));
            }
        }
        Ok(out)
    }

    /// Reads back the tables of `schema` at `url` (no lock: reading only).
    pub async fn reader(url: &str, schema: &str) -> Result<PgReader, SinkError> {
        let schemas = PgTarget::discover(url, schema).await?;
        let config = penny_load::PgConfig::from_url(url)
            .map_err(load_error)?
            .with_schema(schema);
        Ok(PgReader { config, schemas })
    }
}

/// The tables of a PostgreSQL schema, read back (no lock taken).
pub struct PgReader {
    config: penny_load::PgConfig,
    schemas: Vec<std::sync::Arc<penny_transform::Schema>>,
}

#[async_trait::async_trait]
impl crate::transform::RawTables for PgReader {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.schemas.iter().any(|s| s.name() == table))
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<crate::transform::BatchStream<'_>>, SinkError> {
        let Some(schema) = self.schemas.iter().find(|s| s.name() == table) else {
            return Ok(None);
        };
        read_pg_table(&self.config, schema, batch_rows)
            .await
            .map(Some)
    }
}

async fn table_exists(config: &penny_load::PgConfig, table: &str) -> Result<bool, SinkError> {
    let client = config.connect().await.map_err(load_error)?;
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)",
            &[&config.schema(), &table],
        )
        .await
        .map_err(|e| SinkError::Unavailable { source: e.into() })?
        .get(0);
    Ok(exists)
}

/// A whole table as a stream of batches, ordered by primary key: rows are converted
/// as they arrive, so memory holds one batch.
async fn read_pg_table(
    config: &penny_load::PgConfig,
    schema: &std::sync::Arc<penny_transform::Schema>,
    batch_rows: usize,
) -> Result<crate::transform::BatchStream<'static>, SinkError> {
    use futures_util::StreamExt;
    let table = schema.name().to_owned();
    let client = config.connect().await.map_err(load_error)?;
    let columns: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let keys: Vec<String> = schema.primary_key_names().map(quote_ident).collect();
    let sql = format!(
        "SELECT {} FROM {}.{} ORDER BY {}",
        columns.join(", "),
        quote_ident(config.schema()),
        quote_ident(&table),
        keys.join(", ")
    );
    let rows = client
        .query_raw(sql.as_str(), Vec::<String>::new())
        .await
        .map_err(|e| SinkError::Data {
            table: table.clone(),
            source: e.into(),
        })?;
    let schema = schema.clone();
    let batches = rows.chunks(batch_rows.max(1)).map(move |chunk| {
        // The client lives as long as the stream: its connection carries the rows.
        let _connection = &client;
        let mut out = Vec::with_capacity(chunk.len());
        for row in chunk {
            let row = row.map_err(|e| SinkError::Unavailable { source: e.into() })?;
            let mut values = Vec::with_capacity(schema.columns().len());
            for (i, column) in schema.columns().iter().enumerate() {
                values.push(pg_value(&row, i, column.logical_type).map_err(|e| {
                    SinkError::Data {
                        table: table.clone(),
                        source: format!("column `{}`: {e}", column.name).into(),
                    }
                })?);
            }
            out.push(values);
        }
        Ok(penny_transform::Batch::upsert(schema.clone(), out)?)
    });
    Ok(Box::pin(batches))
}
