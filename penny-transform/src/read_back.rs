//! [`ReadBack`]: tables read back from where a [`Sink`](crate::Sink) wrote them, the
//! third trait beside [`Source`](crate::Source) and [`Sink`](crate::Sink).
//!
//! The transformation (stage 2) reads the raw tables stage 1 wrote, and the tables it
//! wrote itself the last time, through this trait only: a whole table, some of its
//! columns ([`TableRead::columns`]), the rows of some keys ([`TableRead::filter`]), in
//! batches. `penny-load` implements it for PostgreSQL (SQL, streamed from the server),
//! the CSV target of `penny-sync` for its folder, [`MemorySink`](crate::testing::MemorySink)
//! in memory; [`read_rows`] does the projecting and filtering for implementations
//! that hold the rows.

use std::pin::Pin;
use std::sync::Arc;

use chrono::NaiveDate;
use futures_core::Stream;

use crate::batch::{Batch, BatchBuilder, Row};
use crate::error::SinkError;
use crate::schema::{Column, Schema};
use crate::value::Value;

/// The batches of a table read back, in primary-key order.
pub type BatchStream<'a> = Pin<Box<dyn Stream<Item = Result<Batch, SinkError>> + Send + 'a>>;

/// Rows whose `column` equals one of `values` (`column = ANY($1)` in SQL), and, when
/// [`within`](Self::within) is set, whose integer column equals one value.
///
/// `within` lets a filter on the last column of a composite primary key use that key's
/// index: `company_id = 7 AND id = ANY(...)` probes the `(company_id, id)` index where
/// `id = ANY(...)` alone scans the table.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyFilter {
    /// The column compared.
    pub column: String,
    /// The values kept: all `Int64` or all `Text` (other kinds are refused).
    pub values: Vec<Value>,
    /// An integer column that must also equal a value.
    pub within: Option<(String, i64)>,
}

impl KeyFilter {
    /// Rows whose `column` is one of the integers `values`.
    pub fn ints(column: impl Into<String>, values: impl IntoIterator<Item = i64>) -> Self {
        KeyFilter {
            column: column.into(),
            values: values.into_iter().map(Value::Int64).collect(),
            within: None,
        }
    }

    /// The same filter, only among the rows whose `column` is `value`.
    pub fn within(mut self, column: impl Into<String>, value: i64) -> Self {
        self.within = Some((column.into(), value));
        self
    }

    /// Whether `row` (of `schema`) is kept; a filter naming a column `schema` lacks
    /// keeps nothing.
    pub fn keeps(&self, schema: &Schema, row: &[Value]) -> bool {
        let Some(i) = schema.column_index(&self.column) else {
            return false;
        };
        if !self.values.contains(&row[i]) {
            return false;
        }
        match &self.within {
            None => true,
            Some((column, value)) => schema
                .column_index(column)
                .is_some_and(|j| row[j] == Value::Int64(*value)),
        }
    }
}

/// What to read of a table: all of it, or some columns, or the rows of some keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRead {
    /// The table.
    pub table: String,
    /// Only these columns (the primary key's are always read); `None`: all.
    pub columns: Option<Vec<String>>,
    /// Only the rows this filter keeps; `None`: all.
    pub filter: Option<KeyFilter>,
    /// Rows per batch, at most.
    pub batch_rows: usize,
}

impl TableRead {
    /// The whole of `table`, in batches of at most `batch_rows` rows.
    pub fn new(table: &str, batch_rows: usize) -> Self {
        TableRead {
            table: table.to_owned(),
            columns: None,
            filter: None,
            batch_rows,
        }
    }

    /// Only `columns` (and the key).
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.columns = Some(columns.iter().map(|c| (*c).to_owned()).collect());
        self
    }

    /// Only the rows `filter` keeps.
    pub fn filter(mut self, filter: KeyFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// The schema this read returns, from the table's `stored` one: `stored` itself,
    /// or its key and the asked columns, in its order.
    pub fn project(&self, stored: &Arc<Schema>) -> Result<Arc<Schema>, SinkError> {
        let Some(columns) = &self.columns else {
            return Ok(stored.clone());
        };
        let keys: Vec<&str> = stored.primary_key_names().collect();
        let kept: Vec<Column> = stored
            .columns()
            .iter()
            .filter(|c| columns.contains(&c.name) || keys.contains(&c.name.as_str()))
            .cloned()
            .collect();
        Schema::new(stored.name(), kept, &keys)
            .map(Arc::new)
            .map_err(|e| SinkError::Config {
                source: format!(
                    "reading table `{}` back with columns {columns:?}: {e}",
                    stored.name()
                )
                .into(),
            })
    }
}

/// Tables read back.
#[async_trait::async_trait]
pub trait ReadBack: Send + Sync {
    /// The schema of `table` as it is stored; `None` when there is no such table.
    async fn schema(&self, table: &str) -> Result<Option<Arc<Schema>>, SinkError>;

    /// The rows `read` asks for, in primary-key order; `None` when there is no such
    /// table.
    async fn read(&self, read: &TableRead) -> Result<Option<BatchStream<'_>>, SinkError>;

    /// Whether `table` is there.
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        Ok(self.schema(table).await?.is_some())
    }

    /// The first and last dates of `table`'s date column `column`; `None` when the
    /// table is absent or empty. The default reads the column through
    /// [`read`](Self::read); a database answers it with `min` and `max`.
    async fn date_range(
        &self,
        table: &str,
        column: &str,
    ) -> Result<Option<(NaiveDate, NaiveDate)>, SinkError> {
        use futures_util::TryStreamExt;
        let read = TableRead::new(table, crate::DEFAULT_BATCH_ROWS).columns(&[column]);
        let Some(mut batches) = self.read(&read).await? else {
            return Ok(None);
        };
        let mut range: Option<(NaiveDate, NaiveDate)> = None;
        while let Some(batch) = batches.try_next().await? {
            let Some(i) = batch.schema().column_index(column) else {
                return Ok(None);
            };
            for row in batch.rows() {
                if let Value::Date(d) = row[i] {
                    range = Some(match range {
                        None => (d, d),
                        Some((a, b)) => (a.min(d), b.max(d)),
                    });
                }
            }
        }
        Ok(range)
    }
}

/// The batches `read` asks for out of `rows` of the table `stored` (in key order), for
/// implementations that hold the rows.
pub fn read_rows<'r>(
    stored: &Arc<Schema>,
    rows: impl IntoIterator<Item = &'r Row>,
    read: &TableRead,
) -> Result<Vec<Batch>, SinkError> {
    let schema = read.project(stored)?;
    let picks: Vec<usize> = schema
        .columns()
        .iter()
        .filter_map(|c| stored.column_index(&c.name))
        .collect();
    let mut builder = BatchBuilder::upsert(schema.clone(), read.batch_rows);
    let mut out = Vec::new();
    let invalid = |e: crate::batch::BatchError| SinkError::Data {
        table: stored.name().to_owned(),
        source: e.into(),
    };
    for row in rows {
        if read.filter.as_ref().is_some_and(|f| !f.keeps(stored, row)) {
            continue;
        }
        let picked: Row = picks.iter().map(|&i| row[i].clone()).collect();
        if let Some(batch) = builder.push(picked).map_err(invalid)? {
            out.push(batch);
        }
    }
    if let Some(batch) = builder.finish().map_err(invalid)? {
        out.push(batch);
    }
    Ok(out)
}

/// `batches` as a [`BatchStream`].
pub fn stream_of(batches: Vec<Batch>) -> BatchStream<'static> {
    Box::pin(futures_util::stream::iter(batches.into_iter().map(Ok)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schema::LogicalType;

    fn lines() -> (Arc<Schema>, Vec<Row>) {
        let schema = Arc::new(
            Schema::new(
                "lines",
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("id", LogicalType::Int64),
                    Column::nullable("label", LogicalType::Text),
                    Column::nullable("date", LogicalType::Date),
                ],
                ["company_id", "id"],
            )
            .unwrap(),
        );
        let day = |d| Value::Date(NaiveDate::from_ymd_opt(2025, 1, d).unwrap());
        let rows = (1..=5)
            .map(|i| {
                vec![
                    Value::Int64(1 + i % 2),
                    Value::Int64(i),
                    Value::Text(format!("line {i}")),
                    day(i as u32),
                ]
            })
            .collect();
        (schema, rows)
    }

    #[test]
    fn a_read_projects_on_its_columns_and_key_and_filters_by_key() {
        let (schema, rows) = lines();
        let read = TableRead::new("lines", 2)
            .columns(&["date"])
            .filter(KeyFilter::ints("id", [1, 3, 4]).within("company_id", 2));
        let batches = read_rows(&schema, &rows, &read).unwrap();
        let names: Vec<&str> = batches[0]
            .schema()
            .columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["company_id", "id", "date"]);
        let ids: Vec<&Value> = batches
            .iter()
            .flat_map(|b| b.rows())
            .map(|r| &r[1])
            .collect();
        // Ids 1 and 3 are in company 2 (1 + i % 2), 4 is in company 1.
        assert_eq!(ids, [&Value::Int64(1), &Value::Int64(3)]);
        let all = read_rows(&schema, &rows, &TableRead::new("lines", 2)).unwrap();
        assert_eq!(all.iter().map(Batch::len).collect::<Vec<_>>(), [2, 2, 1]);
    }

    #[test]
    fn unknown_columns_are_left_out_and_filter_out_every_row() {
        let (schema, rows) = lines();
        let read = TableRead::new("lines", 10).columns(&["nope"]);
        // Only the key is left: a valid projection.
        assert_eq!(
            read_rows(&schema, &rows, &read).unwrap()[0]
                .schema()
                .columns()
                .len(),
            2
        );
        let filter = KeyFilter::ints("nope", [1]);
        assert!(!filter.keeps(&schema, &rows[0]));
    }
}
