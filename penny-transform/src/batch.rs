//! Batches: bounded, validated chunks of rows for one schema.
//!
//! # Why rows, not columns
//!
//! A batch is row-wise (`Vec<Row>`). Everything that produces batches in Penny
//! produces records one at a time (an API page of JSON objects, a `FETCH` from a
//! cursor), and everything that consumes them writes records one at a time (the
//! binary `COPY` protocol is a sequence of tuples, a CSV file a sequence of lines).
//! Aggregations over ledger lines hold one accumulator per group and visit
//! each row once, so they gain little from a columnar layout, while a row-wise batch
//! keeps producers, consumers and validation simple and allocation-light. Batches are
//! bounded (see [`MAX_BATCH_ROWS`]) so memory stays flat however large a table is.

use std::sync::Arc;

use crate::schema::Schema;
use crate::value::{Key, Value};

/// One row: one value per column of the schema, in column order.
pub type Row = Vec<Value>;

/// The default number of rows a producer should put in a batch.
pub const DEFAULT_BATCH_ROWS: usize = 10_000;

/// The most rows a batch may hold; larger chunks must be split.
pub const MAX_BATCH_ROWS: usize = 1_000_000;

/// What a batch asks the sink to do with its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Insert rows, or replace the rows with the same primary key.
    /// Rows have one value per column of the schema.
    Upsert,
    /// Delete the rows with these primary keys (absent keys are not an error).
    /// Rows hold only the key columns, in key order.
    Delete,
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// A row has the wrong number of values.
    #[error("table `{table}`, row {row}: expected {expected} values ({what}), found {found}")]
    Arity {
        /// The table.
        table: String,
        /// The row's position in the batch (0-based).
        row: usize,
        /// How many values the row should have.
        expected: usize,
        /// How many it has.
        found: usize,
        /// `"one per column"` or `"the primary key"`.
        what: &'static str,
    },
    /// A value does not fit its column's type.
    #[error(
        "table `{table}`, row {row}, column `{column}`: expected {expected}, found {found} `{value}`"
    )]
    Type {
        /// The table.
        table: String,
        /// The row's position in the batch (0-based).
        row: usize,
        /// The column.
        column: String,
        /// The column's type.
        expected: String,
        /// The kind of value found.
        found: &'static str,
        /// The value, rendered as text.
        value: String,
    },
    /// A null in a column that does not accept nulls.
    #[error("table `{table}`, row {row}, column `{column}`: null in a non-nullable column")]
    Null {
        /// The table.
        table: String,
        /// The row's position in the batch (0-based).
        row: usize,
        /// The column.
        column: String,
    },
    /// More rows than a batch may hold.
    #[error("table `{table}`: a batch holds at most {max} rows, got {found}; split it")]
    TooLarge {
        /// The table.
        table: String,
        /// The number of rows given.
        found: usize,
        /// [`MAX_BATCH_ROWS`].
        max: usize,
    },
}

/// A validated chunk of rows for one [`Schema`], with the [`Operation`] to apply.
///
/// ```
/// use std::sync::Arc;
/// use penny_transform::{Batch, Column, LogicalType, Schema, Value};
///
/// let schema = Arc::new(Schema::new(
///     "journals",
///     vec![
///         Column::required("id", LogicalType::Int64),
///         Column::required("code", LogicalType::Text),
///     ],
///     ["id"],
/// )?);
/// let batch = Batch::upsert(schema.clone(), vec![vec![Value::Int64(1), "VE".into()]])?;
/// assert_eq!(batch.len(), 1);
///
/// let err = Batch::upsert(schema, vec![vec![Value::Text("1".into()), "VE".into()]]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "table `journals`, row 0, column `id`: expected int64, found text `1`"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    schema: Arc<Schema>,
    operation: Operation,
    rows: Vec<Row>,
}

impl Batch {
    /// A batch of rows to insert or replace, validated against `schema`.
    pub fn upsert(schema: Arc<Schema>, rows: Vec<Row>) -> Result<Self, BatchError> {
        Self::new(schema, Operation::Upsert, rows)
    }

    /// A batch of primary keys to delete, validated against `schema`'s key columns.
    pub fn delete(schema: Arc<Schema>, keys: Vec<Row>) -> Result<Self, BatchError> {
        Self::new(schema, Operation::Delete, keys)
    }

    /// A validated batch.
    pub fn new(
        schema: Arc<Schema>,
        operation: Operation,
        rows: Vec<Row>,
    ) -> Result<Self, BatchError> {
        if rows.len() > MAX_BATCH_ROWS {
            return Err(BatchError::TooLarge {
                table: schema.name().to_owned(),
                found: rows.len(),
                max: MAX_BATCH_ROWS,
            });
        }
        for (index, row) in rows.iter().enumerate() {
            validate_row(&schema, operation, index, row)?;
        }
        Ok(Batch {
            schema,
            operation,
            rows,
        })
    }

    /// The schema the rows follow.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The table's name (the schema's).
    pub fn table(&self) -> &str {
        self.schema.name()
    }

    /// Upsert or delete.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The rows (full rows for upserts, key tuples for deletions).
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Takes the rows out of the batch.
    pub fn into_rows(self) -> Vec<Row> {
        self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The primary key of the row at `index`.
    ///
    /// # Panics
    /// If `index` is out of bounds.
    pub fn key(&self, index: usize) -> Key {
        let row = &self.rows[index];
        match self.operation {
            Operation::Upsert => Key(self
                .schema
                .primary_key()
                .iter()
                .map(|&i| row[i].clone())
                .collect()),
            Operation::Delete => Key(row.clone()),
        }
    }

    /// The primary keys of all rows, in row order.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        (0..self.rows.len()).map(|i| self.key(i))
    }
}

fn validate_row(
    schema: &Schema,
    operation: Operation,
    index: usize,
    row: &Row,
) -> Result<(), BatchError> {
    let (expected, what): (usize, &'static str) = match operation {
        Operation::Upsert => (schema.columns().len(), "one per column"),
        Operation::Delete => (schema.primary_key().len(), "the primary key"),
    };
    if row.len() != expected {
        return Err(BatchError::Arity {
            table: schema.name().to_owned(),
            row: index,
            expected,
            found: row.len(),
            what,
        });
    }
    let check = |value: &Value, column: &crate::schema::Column| -> Result<(), BatchError> {
        if value.is_null() {
            if column.nullable {
                return Ok(());
            }
            return Err(BatchError::Null {
                table: schema.name().to_owned(),
                row: index,
                column: column.name.clone(),
            });
        }
        if value.fits(column.logical_type) {
            return Ok(());
        }
        Err(BatchError::Type {
            table: schema.name().to_owned(),
            row: index,
            column: column.name.clone(),
            expected: column.logical_type.to_string(),
            found: value.kind(),
            value: truncate(value.to_string(), 80),
        })
    };
    match operation {
        Operation::Upsert => {
            for (value, column) in row.iter().zip(schema.columns()) {
                check(value, column)?;
            }
        }
        Operation::Delete => {
            for (value, column) in row.iter().zip(schema.primary_key_columns()) {
                check(value, column)?;
            }
        }
    }
    Ok(())
}

fn truncate(mut text: String, max: usize) -> String {
    if text.chars().count() > max {
        text = text.chars().take(max).collect::<String>() + "...";
    }
    text
}

/// Accumulates rows and hands out full batches of a chosen size.
///
/// Producers push rows as they decode them; each full batch is validated and
/// returned, so memory holds at most one batch.
///
/// ```
/// use std::sync::Arc;
/// use penny_transform::{BatchBuilder, Column, LogicalType, Schema, Value};
///
/// let schema = Arc::new(Schema::new("t", vec![Column::required("id", LogicalType::Int64)], ["id"])?);
/// let mut builder = BatchBuilder::upsert(schema, 2);
/// assert!(builder.push(vec![Value::Int64(1)])?.is_none());
/// let full = builder.push(vec![Value::Int64(2)])?.expect("two rows make a batch");
/// assert_eq!(full.len(), 2);
/// builder.push(vec![Value::Int64(3)])?;
/// assert_eq!(builder.finish()?.map(|b| b.len()), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    schema: Arc<Schema>,
    operation: Operation,
    capacity: usize,
    rows: Vec<Row>,
    pushed: usize,
}

impl BatchBuilder {
    /// A builder of upsert batches of at most `capacity` rows (clamped to 1..=[`MAX_BATCH_ROWS`]).
    pub fn upsert(schema: Arc<Schema>, capacity: usize) -> Self {
        Self::new(schema, Operation::Upsert, capacity)
    }

    /// A builder of deletion batches of at most `capacity` keys.
    pub fn delete(schema: Arc<Schema>, capacity: usize) -> Self {
        Self::new(schema, Operation::Delete, capacity)
    }

    /// A builder for `operation` batches of at most `capacity` rows.
    pub fn new(schema: Arc<Schema>, operation: Operation, capacity: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_BATCH_ROWS);
        BatchBuilder {
            schema,
            operation,
            capacity,
            rows: Vec::with_capacity(capacity.min(DEFAULT_BATCH_ROWS)),
            pushed: 0,
        }
    }

    /// Adds a row; returns a full batch when the capacity is reached.
    ///
    /// A row that does not match the schema is refused at once; the error's row
    /// number counts every row pushed into this builder, not only the current batch.
    pub fn push(&mut self, row: Row) -> Result<Option<Batch>, BatchError> {
        validate_row(&self.schema, self.operation, self.pushed, &row)?;
        self.pushed += 1;
        self.rows.push(row);
        if self.rows.len() >= self.capacity {
            return Ok(Some(self.take()));
        }
        Ok(None)
    }

    /// The rows pushed and not yet handed out.
    pub fn pending(&self) -> usize {
        self.rows.len()
    }

    /// Hands out the last, partial batch (`None` when nothing is pending).
    pub fn finish(mut self) -> Result<Option<Batch>, BatchError> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.take()))
    }

    fn take(&mut self) -> Batch {
        let rows = std::mem::replace(
            &mut self.rows,
            Vec::with_capacity(self.capacity.min(DEFAULT_BATCH_ROWS)),
        );
        // Every row was validated on push.
        Batch {
            schema: self.schema.clone(),
            operation: self.operation,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, LogicalType};
    use rust_decimal::Decimal;

    fn schema() -> Arc<Schema> {
        Arc::new(
            Schema::new(
                "ledger_lines",
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("id", LogicalType::Int64),
                    Column::required("debit", LogicalType::Decimal { scale: 2 }),
                    Column::nullable("label", LogicalType::Text),
                ],
                ["company_id", "id"],
            )
            .expect("schema"),
        )
    }

    fn row(id: i64) -> Row {
        vec![
            Value::Int64(7),
            Value::Int64(id),
            Value::Decimal(Decimal::new(1050, 2)),
            Value::Null,
        ]
    }

    #[test]
    fn accepts_valid_rows_and_extracts_keys() {
        let b = Batch::upsert(schema(), vec![row(1), row(2)]).expect("valid");
        assert_eq!(b.len(), 2);
        assert_eq!(b.key(1), Key(vec![Value::Int64(7), Value::Int64(2)]));
        let d =
            Batch::delete(schema(), vec![vec![Value::Int64(7), Value::Int64(2)]]).expect("valid");
        assert_eq!(d.keys().collect::<Vec<_>>(), vec![b.key(1)]);
    }

    #[test]
    fn wrong_arity_names_table_and_row() {
        let mut bad = row(2);
        bad.pop();
        let err = Batch::upsert(schema(), vec![row(1), bad]).expect_err("arity");
        assert_eq!(
            err.to_string(),
            "table `ledger_lines`, row 1: expected 4 values (one per column), found 3"
        );
        let err = Batch::delete(schema(), vec![row(1)]).expect_err("a deletion holds the key only");
        assert!(matches!(
            err,
            BatchError::Arity {
                expected: 2,
                found: 4,
                ..
            }
        ));
    }

    #[test]
    fn wrong_type_names_table_column_and_row() {
        let mut bad = row(3);
        bad[2] = Value::Float64(10.5);
        let err = Batch::upsert(schema(), vec![row(1), row(2), bad]).expect_err("type");
        assert_eq!(
            err,
            BatchError::Type {
                table: "ledger_lines".into(),
                row: 2,
                column: "debit".into(),
                expected: "decimal(scale 2)".into(),
                found: "float64",
                value: "10.5".into(),
            }
        );
        let mut too_precise = row(4);
        too_precise[2] = Value::Decimal(Decimal::new(10501, 3));
        assert!(matches!(
            Batch::upsert(schema(), vec![too_precise]),
            Err(BatchError::Type { column, .. }) if column == "debit"
        ));
    }

    #[test]
    fn null_in_required_column_is_refused() {
        let mut bad = row(1);
        bad[1] = Value::Null;
        assert_eq!(
            Batch::upsert(schema(), vec![bad]),
            Err(BatchError::Null {
                table: "ledger_lines".into(),
                row: 0,
                column: "id".into()
            })
        );
    }

    #[test]
    fn builder_splits_and_counts_rows_across_batches() {
        let mut builder = BatchBuilder::upsert(schema(), 2);
        let mut sizes = Vec::new();
        for id in 0..5 {
            if let Some(b) = builder.push(row(id)).expect("valid") {
                sizes.push(b.len());
            }
        }
        let mut bad = row(5);
        bad[0] = Value::Text("x".into());
        let err = builder.push(bad).expect_err("type");
        assert!(matches!(err, BatchError::Type { row: 5, .. }), "{err}");
        sizes.extend(builder.finish().expect("finish").map(|b| b.len()));
        assert_eq!(sizes, vec![2, 2, 1]);
    }
}
