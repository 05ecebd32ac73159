//! Reading tables back: a table's [`Schema`] from the catalog, and its rows as a
//! stream of [`Batch`]es.
//!
//! The column types map back through the same table as writing
//! ([`types`](crate#types)): `bigint` is `Int64`, `numeric(38, s)` is `Decimal { scale: s }`
//! (an unconstrained `numeric` is read with the largest scale), and so on; a column of
//! a type penny-load does not create is read as `Text` (cast with `::text`). A
//! `NOT NULL` column is [`Column::required`], any other [`Column::nullable`].
//!
//! Memory: rows are streamed from the server (tokio-postgres reads the socket as the
//! stream is polled) and converted one batch at a time, so reading a table of any size
//! holds one batch. Each read uses a connection of its own, which lives as long as
//! its stream. Reading takes no lock: it sees the last committed state.

use std::pin::Pin;
use std::sync::Arc;

use chrono::NaiveDate;
use futures_util::{Stream, StreamExt};
use penny_transform::{Batch, Column, LogicalType, Schema, SinkError, TableRead, Value};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::config::PgConfig;
use crate::ddl::{self, ExistingTable};
use crate::error::LoadError;
use crate::ident::{qualified, quote};
use crate::state::{RUNS_TABLE, STAGED_TABLE, STATE_TABLE};
use crate::types::PgType;

/// The batches of a table read back, in primary-key order.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<Batch, LoadError>> + Send + 'static>>;

pub use penny_transform::read_back::KeyFilter;

/// Reads the tables of one schema of a database (`config`'s); as a
/// [`ReadBack`](penny_transform::ReadBack), the tables are typed as the catalog says,
/// or, [`with_schemas`](Self::with_schemas), as declared (only those tables are then
/// read).
#[derive(Debug, Clone)]
pub struct TableReader {
    config: PgConfig,
    declared: Option<Vec<Arc<Schema>>>,
}

impl TableReader {
    /// A reader of `config`'s schema.
    pub fn new(config: PgConfig) -> Self {
        TableReader {
            config,
            declared: None,
        }
    }

    /// The same reader, reading only the tables of `schemas`, typed as they say (the
    /// schemas of the source's streams, for the raw tables).
    pub fn with_schemas(mut self, schemas: Vec<Arc<Schema>>) -> Self {
        self.declared = Some(schemas);
        self
    }

    /// The configuration read from.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The schemas of the schema's tables that have a primary key (penny-load's sync
    /// state tables excluded), by name.
    pub async fn tables(&self) -> Result<Vec<Arc<Schema>>, LoadError> {
        let client = self.config.connect().await?;
        let names = client
            .query(
                "SELECT c.relname::text FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> ALL($2) \
                 AND c.relname NOT LIKE '%\\_\\_penny\\_new' ORDER BY 1",
                &[
                    &self.config.schema(),
                    &vec![
                        STATE_TABLE.to_owned(),
                        RUNS_TABLE.to_owned(),
                        STAGED_TABLE.to_owned(),
                    ],
                ],
            )
            .await
            .map_err(|e| {
                LoadError::pg(
                    format!("listing the tables of schema `{}`", self.config.schema()),
                    e,
                )
            })?;
        let mut out = Vec::with_capacity(names.len());
        for row in names {
            let name: String = row.get(0);
            if let Some(existing) =
                ddl::existing_table(&client, self.config.schema(), &name).await?
                && let Some(schema) = schema_of(&name, &existing)?
            {
                out.push(Arc::new(schema));
            }
        }
        Ok(out)
    }

    /// The schema of `table`, or `None` when it does not exist or has no primary key.
    pub async fn table(&self, table: &str) -> Result<Option<Arc<Schema>>, LoadError> {
        let client = self.config.connect().await?;
        match ddl::existing_table(&client, self.config.schema(), table).await? {
            Some(existing) => Ok(schema_of(table, &existing)?.map(Arc::new)),
            None => Ok(None),
        }
    }

    /// Whether `table` exists.
    pub async fn exists(&self, table: &str) -> Result<bool, LoadError> {
        let client = self.config.connect().await?;
        Ok(ddl::existing_table(&client, self.config.schema(), table)
            .await?
            .is_some())
    }

    /// The rows of `schema`'s table (its columns, as `schema` types them), ordered by
    /// primary key, in batches of at most `batch_rows` rows; only those `filter` keeps
    /// when given.
    pub async fn read(
        &self,
        schema: &Arc<Schema>,
        batch_rows: usize,
        filter: Option<&KeyFilter>,
    ) -> Result<BatchStream, LoadError> {
        let table = schema.name().to_owned();
        let client = self.config.connect().await?;
        let columns: Vec<String> = schema
            .columns()
            .iter()
            .map(|c| select_expr(&c.name, c.logical_type))
            .collect();
        let keys: Vec<String> = schema.primary_key_names().map(quote).collect();
        let mut sql = format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            qualified(self.config.schema(), &table)
        );
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        if let Some(f) = filter {
            let ints: Option<Vec<i64>> = f
                .values
                .iter()
                .map(|v| match v {
                    Value::Int64(i) => Some(*i),
                    _ => None,
                })
                .collect();
            let texts: Option<Vec<String>> = f
                .values
                .iter()
                .map(|v| match v {
                    Value::Text(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            match (ints, texts) {
                (Some(i), _) => params.push(Box::new(i)),
                (None, Some(t)) => params.push(Box::new(t)),
                (None, None) => {
                    return Err(LoadError::SchemaMismatch {
                        table,
                        detail: format!(
                            "the filter on column `{}` mixes kinds of values: only integers or only texts can be filtered on",
                            f.column
                        ),
                    });
                }
            }
            sql.push_str(&format!(" WHERE {} = ANY($1)", quote(&f.column)));
            if let Some((column, value)) = &f.within {
                params.push(Box::new(*value));
                sql.push_str(&format!(" AND {} = $2", quote(column)));
            }
        }
        if !keys.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
        }
        let rows = client
            .query_raw(
                sql.as_str(),
                params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)),
            )
            .await
            .map_err(|e| LoadError::pg(format!("reading table `{table}`"), e))?;
        let schema = schema.clone();
        let batches = rows.chunks(batch_rows.max(1)).map(move |chunk| {
            // The client lives as long as the stream: its connection carries the rows.
            let _connection = &client;
            let mut out = Vec::with_capacity(chunk.len());
            for row in chunk {
                let row = row.map_err(|e| LoadError::pg(format!("reading table `{table}`"), e))?;
                out.push(row_values(&row, &schema)?);
            }
            Batch::upsert(schema.clone(), out).map_err(|e| LoadError::SchemaMismatch {
                table: table.clone(),
                detail: format!("the rows read back do not fit the schema: {e}"),
            })
        });
        Ok(Box::pin(batches))
    }
}

impl TableReader {
    /// The tables of the schema (penny-load's state tables and `hidden` left out) and
    /// their row counts.
    pub async fn row_counts(&self, hidden: &[&str]) -> Result<Vec<(String, u64)>, LoadError> {
        let client = self.config.connect().await?;
        let mut hide: Vec<&str> = vec![STATE_TABLE, RUNS_TABLE, STAGED_TABLE];
        hide.extend_from_slice(hidden);
        let context = || format!("counting the rows of schema `{}`", self.config.schema());
        let rows = client
            .query(
                "SELECT c.relname::text FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> ALL($2) \
                 AND c.relname NOT LIKE '%\\_\\_penny\\_new' ORDER BY 1",
                &[&self.config.schema(), &hide],
            )
            .await
            .map_err(|e| LoadError::pg(context(), e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.get(0);
            let count: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {}",
                        qualified(self.config.schema(), &name)
                    ),
                    &[],
                )
                .await
                .map_err(|e| LoadError::pg(context(), e))?
                .get(0);
            out.push((name, count.max(0) as u64));
        }
        Ok(out)
    }

    /// The first and last values of `table`'s date column `column` (`None`: empty).
    pub async fn date_range(
        &self,
        table: &str,
        column: &str,
    ) -> Result<Option<(NaiveDate, NaiveDate)>, LoadError> {
        let client = self.config.connect().await?;
        let row = client
            .query_one(
                &format!(
                    "SELECT min({c}), max({c}) FROM {}",
                    qualified(self.config.schema(), table),
                    c = quote(column)
                ),
                &[],
            )
            .await
            .map_err(|e| LoadError::pg(format!("reading the dates of `{table}`.`{column}`"), e))?;
        let (a, b): (Option<NaiveDate>, Option<NaiveDate>) = (row.get(0), row.get(1));
        Ok(a.zip(b))
    }

    /// Deletes the rows of `orphans.parent` that no row of `orphans.child` refers to,
    /// but those whose key is in `keep`; returns how many.
    pub async fn delete_orphans(
        &self,
        orphans: &Orphans<'_>,
        keep: &[(i64, i64)],
    ) -> Result<u64, LoadError> {
        let client = self.config.connect().await?;
        let (companies, ids): (Vec<i64>, Vec<i64>) = keep.iter().copied().unzip();
        let [pk0, pk1] = orphans.parent_key.map(quote);
        let [fk0, fk1] = orphans.child_refs.map(quote);
        client
            .execute(
                &format!(
                    "DELETE FROM {p} AS p WHERE NOT EXISTS (SELECT 1 FROM {c} AS c \
                     WHERE c.{fk0} = p.{pk0} AND c.{fk1} = p.{pk1}) \
                     AND NOT EXISTS (SELECT 1 FROM unnest($1::bigint[], $2::bigint[]) AS k(a, b) \
                     WHERE k.a = p.{pk0} AND k.b = p.{pk1})",
                    p = qualified(self.config.schema(), orphans.parent),
                    c = qualified(self.config.schema(), orphans.child),
                ),
                &[&companies, &ids],
            )
            .await
            .map_err(|e| {
                LoadError::pg(
                    format!(
                        "deleting the rows of `{}` no `{}` refers to",
                        orphans.parent, orphans.child
                    ),
                    e,
                )
            })
    }

    /// Drops `table` if it exists.
    pub async fn drop_table(&self, table: &str) -> Result<(), LoadError> {
        let client = self.config.connect().await?;
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {}",
                qualified(self.config.schema(), table)
            ))
            .await
            .map_err(|e| LoadError::pg(format!("dropping table `{table}`"), e))
    }

    /// The schema `table` is read as: the declared one, else the catalog's.
    async fn stored(&self, table: &str) -> Result<Option<Arc<Schema>>, LoadError> {
        match &self.declared {
            Some(declared) => match declared.iter().find(|s| s.name() == table) {
                Some(schema) if self.exists(table).await? => Ok(Some(schema.clone())),
                _ => Ok(None),
            },
            None => self.table(table).await,
        }
    }
}

/// A parent table and a child table whose rows refer to the parent's by a two-column
/// key (`(company_id, id)` referred to by `(company_id, ledger_entry_id)`).
#[derive(Debug, Clone, Copy)]
pub struct Orphans<'a> {
    /// The parent table.
    pub parent: &'a str,
    /// Its two key columns.
    pub parent_key: [&'a str; 2],
    /// The child table.
    pub child: &'a str,
    /// Its two columns that refer to the parent's key, in the same order.
    pub child_refs: [&'a str; 2],
}

#[async_trait::async_trait]
impl penny_transform::ReadBack for TableReader {
    async fn schema(&self, table: &str) -> Result<Option<Arc<Schema>>, SinkError> {
        self.stored(table)
            .await
            .map_err(|e| e.into_sink_error(Some(table)))
    }

    async fn read(
        &self,
        read: &TableRead,
    ) -> Result<Option<penny_transform::BatchStream<'_>>, SinkError> {
        let table = read.table.as_str();
        let Some(stored) = self
            .stored(table)
            .await
            .map_err(|e| e.into_sink_error(Some(table)))?
        else {
            return Ok(None);
        };
        let schema = read.project(&stored)?;
        let owned = table.to_owned();
        let stream = TableReader::read(self, &schema, read.batch_rows, read.filter.as_ref())
            .await
            .map_err(|e| e.into_sink_error(Some(table)))?;
        Ok(Some(Box::pin(stream.map(move |b| {
            b.map_err(|e| e.into_sink_error(Some(&owned)))
        }))))
    }

    async fn date_range(
        &self,
        table: &str,
        column: &str,
    ) -> Result<Option<(NaiveDate, NaiveDate)>, SinkError> {
        if self
            .stored(table)
            .await
            .map_err(|e| e.into_sink_error(Some(table)))?
            .is_none()
        {
            return Ok(None);
        }
        TableReader::date_range(self, table, column)
            .await
            .map_err(|e| e.into_sink_error(Some(table)))
    }
}

/// The schema of an existing table (`None` without a primary key).
fn schema_of(table: &str, existing: &ExistingTable) -> Result<Option<Schema>, LoadError> {
    if existing.primary_key.is_empty() {
        return Ok(None);
    }
    let columns = existing
        .columns
        .iter()
        .map(|c| {
            let logical = logical_of(&c.pg_type);
            if c.not_null {
                Column::required(c.name.clone(), logical)
            } else {
                Column::nullable(c.name.clone(), logical)
            }
        })
        .collect();
    Schema::new(table, columns, &existing.primary_key)
        .map(Some)
        .map_err(|e| LoadError::SchemaMismatch {
            table: table.to_owned(),
            detail: format!("its catalog entry is not a usable schema: {e}"),
        })
}

/// The logical type a column of `pg_type` is read as.
pub(crate) fn logical_of(pg_type: &PgType) -> LogicalType {
    pg_type.logical().unwrap_or(LogicalType::Text)
}

/// The column as selected: text cast for types read as text (any type converts).
fn select_expr(column: &str, logical: LogicalType) -> String {
    match logical {
        LogicalType::Text => format!("{}::text", quote(column)),
        _ => quote(column),
    }
}

fn row_values(row: &Row, schema: &Schema) -> Result<Vec<Value>, LoadError> {
    let mut values = Vec::with_capacity(schema.columns().len());
    for (i, column) in schema.columns().iter().enumerate() {
        values.push(value(row, i, column.logical_type).map_err(|e| {
            LoadError::pg(
                format!(
                    "reading column `{}` of table `{}` as {:?}",
                    column.name,
                    schema.name(),
                    column.logical_type
                ),
                e,
            )
        })?);
    }
    Ok(values)
}

fn value(row: &Row, i: usize, ty: LogicalType) -> Result<Value, tokio_postgres::Error> {
    use LogicalType as T;
    use Value as V;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_types_map_back_to_the_logical_types_written() {
        for t in crate::types::ALL_LOGICAL_TYPES {
            assert_eq!(logical_of(&PgType::for_logical(t)), t);
        }
        assert_eq!(logical_of(&PgType::Other("uuid".into())), LogicalType::Text);
    }

    #[test]
    fn a_table_without_primary_key_has_no_schema() {
        let existing = ExistingTable {
            columns: vec![ddl::ExistingColumn {
                name: "a".into(),
                pg_type: PgType::BigInt,
                not_null: true,
            }],
            primary_key: vec![],
        };
        assert!(schema_of("t", &existing).expect("schema").is_none());
        let keyed = ExistingTable {
            primary_key: vec!["a".into()],
            ..existing
        };
        let s = schema_of("t", &keyed).expect("schema").expect("keyed");
        assert_eq!(s.primary_key_names().collect::<Vec<_>>(), ["a"]);
        assert!(!s.columns()[0].nullable);
    }
}
