//! Binary `COPY ... FROM STDIN` of a batch into a staging or build table.
//!
//! Values are checked against the target column types first (numeric overflow, NUL
//! characters, dates PostgreSQL cannot hold), so a bad row is reported with its key
//! before anything is sent; a row the server still rejects is found again from the
//! `line N` of its error.

use std::pin::pin;

use penny_transform::{Batch, Operation, Schema};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::error::LoadError;
use crate::ident::quote;
use crate::types::{Cell, PgType, value_problem, wire_type};

/// The column of a staging table giving each row's arrival order.
pub(crate) const SEQ_COLUMN: &str = "_penny_seq";
/// The column of a staging table marking deletions.
pub(crate) const DELETED_COLUMN: &str = "_penny_deleted";

/// Where the rows go.
pub(crate) enum Destination<'a> {
    /// A staging table: every schema column plus [`SEQ_COLUMN`] and [`DELETED_COLUMN`];
    /// deletions are rows holding only their key. The counter numbers the rows.
    Staging(&'a mut i64),
    /// A table of exactly the schema's columns (a full refresh's new table), upserts only.
    Plain,
}

/// Checks every value of `batch` fits the final table's column types.
pub(crate) fn validate(batch: &Batch, target_types: &[PgType]) -> Result<(), LoadError> {
    let schema = batch.schema();
    let columns: Vec<usize> = match batch.operation() {
        Operation::Upsert => (0..schema.columns().len()).collect(),
        Operation::Delete => schema.primary_key().to_vec(),
    };
    for (r, row) in batch.rows().iter().enumerate() {
        for (value, &c) in row.iter().zip(&columns) {
            if let Some(problem) = value_problem(value, &target_types[c]) {
                return Err(LoadError::BadValue {
                    table: batch.table().to_owned(),
                    row: r,
                    key: batch.key(r).to_string(),
                    column: schema.columns()[c].name.clone(),
                    problem,
                });
            }
        }
    }
    Ok(())
}

/// The `COPY` statement and column types for `schema` into `qualified_name`.
fn statement(qualified_name: &str, schema: &Schema, staging: bool) -> (String, Vec<Type>) {
    let mut names: Vec<String> = schema.columns().iter().map(|c| quote(&c.name)).collect();
    let mut types: Vec<Type> = schema
        .columns()
        .iter()
        .map(|c| wire_type(c.logical_type))
        .collect();
    if staging {
        names.push(quote(SEQ_COLUMN));
        names.push(quote(DELETED_COLUMN));
        types.push(Type::INT8);
        types.push(Type::BOOL);
    }
    (
        format!(
            "COPY {qualified_name} ({}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        ),
        types,
    )
}

/// Copies `batch` into `qualified_name`; returns the rows copied. The caller has
/// validated it (see [`validate`]).
pub(crate) async fn copy_batch(
    client: &Client,
    qualified_name: &str,
    batch: &Batch,
    destination: Destination<'_>,
) -> Result<u64, LoadError> {
    let schema = batch.schema();
    let table = batch.table();
    let (sql, types) = statement(
        qualified_name,
        schema,
        matches!(destination, Destination::Staging(_)),
    );
    let sink = client
        .copy_in(&sql)
        .await
        .map_err(|e| LoadError::pg(format!("starting the COPY into `{table}`"), e))?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    let width = types.len();
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(width);
    let mut seq = match &destination {
        Destination::Staging(counter) => Some(**counter),
        Destination::Plain => None,
    };
    let is_delete = batch.operation() == Operation::Delete;
    if is_delete && seq.is_none() {
        return Err(LoadError::Config(format!(
            "internal: deletions for `{table}` must go through a staging table"
        )));
    }
    for (r, row) in batch.rows().iter().enumerate() {
        if is_delete {
            // A deletion: the key in its columns, nulls elsewhere.
            cells.extend((0..schema.columns().len()).map(|_| Cell::Null));
            for (value, &k) in row.iter().zip(schema.primary_key()) {
                cells[k] = Cell::Value(value);
            }
        } else {
            cells.extend(row.iter().map(Cell::Value));
        }
        if let Some(next) = seq.as_mut() {
            *next += 1;
            cells.push(Cell::Int(*next));
            cells.push(Cell::Flag(is_delete));
        }
        if let Err(e) = writer.as_mut().write_raw(cells.drain(..)).await {
            return Err(row_error(batch, r, e, "encoding"));
        }
    }
    let copied = writer
        .as_mut()
        .finish()
        .await
        .map_err(|e| server_error(batch, e))?;
    if let (Destination::Staging(counter), Some(next)) = (destination, seq) {
        *counter = next;
    }
    Ok(copied)
}

fn row_error(batch: &Batch, row: usize, e: tokio_postgres::Error, doing: &str) -> LoadError {
    if e.as_db_error().is_some() {
        return server_error(batch, e);
    }
    LoadError::pg(
        format!(
            "{doing} row {row} (key {}) of the COPY into `{}`",
            batch.key(row),
            batch.table()
        ),
        e,
    )
}

/// Maps a server error during `COPY` to the row it names (`..., line N, column c`).
fn server_error(batch: &Batch, e: tokio_postgres::Error) -> LoadError {
    let line = e
        .as_db_error()
        .filter(|db| {
            let class = &db.code().code()[..2];
            class == "22" || class == "23"
        })
        .and_then(|db| db.where_())
        .and_then(copy_line);
    match line {
        Some(line) if line >= 1 && line <= batch.len() => LoadError::RowRejected {
            table: batch.table().to_owned(),
            row: line - 1,
            key: batch.key(line - 1).to_string(),
            source: e,
        },
        _ => LoadError::pg(format!("copying a batch into `{}`", batch.table()), e),
    }
}

/// The line number in a `COPY` error context such as `COPY t, line 3, column amount`.
fn copy_line(context: &str) -> Option<usize> {
    let rest = &context[context.find(", line ")? + ", line ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::{Column, LogicalType, Value};
    use rust_decimal::Decimal;
    use std::sync::Arc;

    #[test]
    fn finds_the_line_of_a_copy_error() {
        assert_eq!(
            copy_line("COPY stage, line 3, column amount: \"x\""),
            Some(3)
        );
        assert_eq!(copy_line("COPY stage, line 12"), Some(12));
        assert_eq!(copy_line("SQL statement"), None);
    }

    #[test]
    fn builds_staging_statements_with_order_and_deletion_columns() {
        let schema = Schema::new(
            "t",
            vec![Column::required("id", LogicalType::Int64)],
            ["id"],
        )
        .expect("s");
        let (sql, types) = statement("\"s\".\"t\"", &schema, true);
        assert_eq!(
            sql,
            "COPY \"s\".\"t\" (\"id\", \"_penny_seq\", \"_penny_deleted\") FROM STDIN (FORMAT binary)"
        );
        assert_eq!(types, [Type::INT8, Type::INT8, Type::BOOL]);
    }

    #[test]
    fn an_overflowing_amount_is_reported_with_its_key() {
        let schema = Arc::new(
            Schema::new(
                "rates",
                vec![
                    Column::required("id", LogicalType::Int64),
                    Column::required("rate", LogicalType::Decimal { scale: 20 }),
                ],
                ["id"],
            )
            .expect("s"),
        );
        let big = Decimal::from_i128_with_scale(10i128.pow(27), 0);
        let batch = Batch::upsert(
            schema.clone(),
            vec![
                vec![Value::Int64(1), Value::Decimal(Decimal::ONE)],
                vec![Value::Int64(42), Value::Decimal(big)],
            ],
        )
        .expect("batch");
        let types: Vec<PgType> = schema
            .columns()
            .iter()
            .map(|c| PgType::for_logical(c.logical_type))
            .collect();
        let err = validate(&batch, &types).expect_err("overflow");
        assert!(
            matches!(err, LoadError::BadValue { row: 1, ref key, ref column, .. } if key == "(42)" && column == "rate"),
            "{err}"
        );
    }
}
