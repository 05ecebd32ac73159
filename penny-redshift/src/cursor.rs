//! Streaming a query with a server-side cursor, in bounded chunks.
//!
//! Redshift has no `COPY ... TO STDOUT`, so a large table is read the way
//! Redshift's own drivers (and connectorx) do: inside a read-only transaction,
//! `DECLARE penny_cursor CURSOR FOR SELECT ...`, then `FETCH FORWARD n FROM penny_cursor`
//! until it returns fewer than `n` rows. Only one fetch is in memory at a time,
//! so memory stays flat whatever the table's size.
//!
//! # Text results, not binary
//!
//! Results are fetched with the **simple query protocol**, which always returns
//! text, and each value is parsed by the column's [`LogicalType`],
//! itself taken from `information_schema.columns` ([`crate::types`]). Why not the
//! binary format of the extended protocol:
//! - `FETCH` through the extended protocol makes tokio-postgres prepare the statement
//!   and resolve every result type OID it does not know by querying `pg_type` (and
//!   `pg_range`, `pg_enum`), which Redshift lacks or denies to Data Sharing users;
//!   Redshift types such as `super`, `varbyte` or `geometry` are such OIDs;
//! - Redshift's binary encodings of its own types are not documented, while its text
//!   output is (and is what every Redshift client reads);
//! - the cost of parsing text is small next to the network: see the benchmark in
//!   `examples/stream_bench.rs`.
//!
//! Parameters (the position of an incremental read) do use the extended protocol,
//! for `DECLARE` only: each is sent as `varchar` and cast in SQL
//! (`CAST(CAST($1 AS VARCHAR) AS TIMESTAMPTZ)`), so the only type involved is a
//! builtin one and no catalog lookup happens. (PostgreSQL accepts parameters in
//! `DECLARE`; that Redshift does too is assumed, not verified here.)
//!
//! Redshift limits `FETCH FORWARD n` to `n <= 1000` on single-node clusters, hence
//! the separate [`CursorOptions::fetch_rows`] (per round trip) and
//! [`CursorOptions::batch_rows`] (per chunk handed to the caller).

use penny_transform::{DEFAULT_BATCH_ROWS, LogicalType, Row};
use tokio_postgres::SimpleQueryMessage;

use crate::catalog::{DescribedColumn, parse_row};
use crate::connect::Connection;
use crate::error::Error;

/// The name of the one cursor a connection holds at a time.
const CURSOR_NAME: &str = "penny_cursor";

/// The default rows per `FETCH` (Redshift's limit on single-node clusters).
pub const DEFAULT_FETCH_ROWS: usize = 1000;

/// How a cursor is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorOptions {
    /// Rows asked for by one `FETCH FORWARD` (at most 1000 on single-node Redshift).
    pub fetch_rows: usize,
    /// Rows per chunk handed to the caller (several fetches); bounds memory.
    pub batch_rows: usize,
}

impl Default for CursorOptions {
    fn default() -> Self {
        CursorOptions {
            fetch_rows: DEFAULT_FETCH_ROWS,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

impl CursorOptions {
    fn checked(self) -> Result<Self, Error> {
        if self.fetch_rows == 0 || self.batch_rows == 0 {
            return Err(Error::Config {
                what: format!(
                    "cursor sizes must be positive (fetch_rows {}, batch_rows {})",
                    self.fetch_rows, self.batch_rows
                ),
            });
        }
        if self.batch_rows > penny_transform::MAX_BATCH_ROWS {
            return Err(Error::Config {
                what: format!(
                    "batch_rows {} is more than a batch may hold ({})",
                    self.batch_rows,
                    penny_transform::MAX_BATCH_ROWS
                ),
            });
        }
        Ok(self)
    }
}

/// Starts a read-only transaction with one snapshot for every statement in it
/// (`REPEATABLE READ` on PostgreSQL; Redshift runs every transaction serializable).
pub async fn begin_read_only(connection: &Connection) -> Result<(), Error> {
    connection
        .simple_query(
            "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
            "starting a read-only transaction",
        )
        .await
        .map(|_| ())
}

/// A declared cursor over a query, read in chunks of typed rows.
#[derive(Debug)]
pub struct TableCursor {
    connection: Connection,
    label: String,
    columns: Vec<DescribedColumn>,
    types: Vec<LogicalType>,
    options: CursorOptions,
    rows_read: u64,
    exhausted: bool,
    closed: bool,
}

impl TableCursor {
    /// Declares a cursor for `select` (whose columns are `columns`, in order) on a
    /// connection inside a transaction started by [`begin_read_only`].
    /// `params` are text values bound to `$1, $2...`; the SQL must cast each one
    /// from `VARCHAR`. `label` (`schema.table`) names the table in errors.
    pub async fn declare(
        connection: Connection,
        label: impl Into<String>,
        select: &str,
        params: &[&str],
        columns: Vec<DescribedColumn>,
        options: CursorOptions,
    ) -> Result<TableCursor, Error> {
        let options = options.checked()?;
        let label = label.into();
        let sql = format!("DECLARE {CURSOR_NAME} CURSOR FOR {select}");
        let what = format!("declaring a cursor over {label}");
        if params.is_empty() {
            connection.simple_query(&sql, &what).await?;
        } else {
            connection.execute_text_params(&sql, params, &what).await?;
        }
        let types = columns.iter().map(|c| c.logical_type).collect();
        Ok(TableCursor {
            connection,
            label,
            columns,
            types,
            options,
            rows_read: 0,
            exhausted: false,
            closed: false,
        })
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next chunk of at most `batch_rows` rows, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<Row>>, Error> {
        if self.exhausted {
            return Ok(None);
        }
        let mut chunk = Vec::with_capacity(self.options.batch_rows.min(64 * 1024));
        while chunk.len() < self.options.batch_rows && !self.exhausted {
            let want = self
                .options
                .fetch_rows
                .min(self.options.batch_rows - chunk.len());
            let sql = format!("FETCH FORWARD {want} FROM {CURSOR_NAME}");
            let messages = self
                .connection
                .simple_query(&sql, &format!("fetching from {}", self.label))
                .await?;
            let mut got = 0;
            for message in &messages {
                if let SimpleQueryMessage::Row(row) = message {
                    got += 1;
                    let number = self.rows_read + 1;
                    chunk.push(parse_row(
                        &self.label,
                        number,
                        row,
                        &self.columns,
                        &self.types,
                    )?);
                    self.rows_read += 1;
                }
            }
            if got < want {
                self.exhausted = true;
            }
        }
        if chunk.is_empty() {
            return Ok(None);
        }
        Ok(Some(chunk))
    }

    /// Closes the cursor and ends the transaction, giving the connection back.
    pub async fn close(mut self) -> Result<Connection, Error> {
        self.connection
            .simple_query(
                &format!("CLOSE {CURSOR_NAME}; COMMIT"),
                &format!("closing the cursor over {}", self.label),
            )
            .await?;
        self.closed = true;
        Ok(self.connection)
    }

    /// The connection, for queries inside the same transaction.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Whether [`close`](Self::close) ran.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}
