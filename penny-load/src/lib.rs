//! # penny-load
//!
//! The PostgreSQL [`Sink`](penny_transform::Sink) of Penny: tables created and evolved
//! from a [`Schema`](penny_transform::Schema), binary `COPY` into staging tables,
//! merges by primary key, atomic full refreshes, positions committed with the data,
//! sync state and run log, and an advisory lock per target.
//!
//! ```no_run
//! use penny_load::{PgConfig, PgSink};
//! use penny_transform::{driver, testing::MemorySource};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = PgConfig::from_url("postgres://penny@127.0.0.1:5432/reporting")?;
//! let mut sink = PgSink::connect(config).await?.with_source("memory");
//! let source = MemorySource::example();
//! let report = driver::sync_stream(&source, &mut sink, "journals", Default::default()).await?;
//! println!("{} rows inserted", report.stats.inserted);
//! # Ok(()) }
//! ```
//!
//! # How a load stays invisible until it commits
//! Every table's pending writes live in one transaction on the sink's connection:
//! incremental batches are copied into a temporary staging table (private to the
//! session), a full read into a new table created inside the transaction. `commit`
//! merges or swaps and saves the position in that transaction, then commits. A
//! dropped connection, an aborted task or a failed `COPY` rolls everything back: the
//! table and its saved position stay exactly as they were.
//!
//! # Schema evolution
//! On a later run with a changed schema: new columns are added (nullable, since the
//! existing rows have no value); a column whose new type holds every existing value
//! ([`LogicalType::widens`](penny_transform::LogicalType::widens), for example a larger
//! decimal scale, or `bigint` to `text`) is altered; a column that already holds every
//! value of the new type is kept and written through a conversion; anything else stops
//! with [`LoadError::IncompatibleColumn`], naming the column, both types and the fix (a
//! full refresh, or dropping the table). A changed primary key stops with
//! [`LoadError::PrimaryKeyChanged`]. Columns the source no longer sends are kept and made
//! nullable. A full refresh rebuilds the table with the new schema, so it resolves any
//! change, except when views depend on the table (it is then rewritten in place, which
//! needs a compatible change: [`LoadError::BlockedByViews`] names the views).
//!
//! # Full refreshes and views
//! A full refresh builds a new table and, by default, swaps it in by renaming, under a
//! short `ACCESS EXCLUSIVE` lock taken with a timeout. When views depend on the table,
//! or readers hold it past [`PgConfig::with_swap_lock_timeout`], it instead deletes and
//! re-inserts every row in the same transaction, so the views survive and readers keep
//! seeing the old rows until the commit. A rename swap does not carry over grants: use
//! `ALTER DEFAULT PRIVILEGES`.
//!
//! # Indexes
//! Besides the primary key, every date/timestamp column and every `*_id` column outside
//! the key is indexed (the schema has no foreign keys: this is a heuristic for what
//! Power BI filters and joins on). Full refreshes build them after the bulk copy.
//!
//! # Reading tables back
//! [`TableReader`] gives a table's [`Schema`](penny_transform::Schema) from the catalog
//! (the type mapping below, read backwards) and its rows as a stream of batches, one
//! batch in memory at a time, optionally only the rows whose key is in a [`KeyFilter`].
//!
//! # Types
//! `Decimal { scale }` is `numeric(38, scale)`, `Int64` `bigint`, `Float64` `double
//! precision`, `Text` `text`, `Bool` `boolean`, `Date` `date`, `Time` `time`,
//! `Timestamp` `timestamp`, `TimestampTz` `timestamptz`, `Json` `jsonb`.

mod config;
mod copy;
mod ddl;
mod error;
mod ident;
mod lock;
mod merge;
pub mod read;
mod refresh;
mod sink;
pub mod state;
mod types;

pub use config::{
    DEFAULT_SCHEMA, DEFAULT_STAGE_INTERVAL, DEFAULT_SWAP_LOCK_TIMEOUT, PgConfig, TlsMode,
};
pub use error::LoadError;
pub use ident::MAX_IDENTIFIER_BYTES;
pub use lock::TargetLock;
pub use read::{BatchStream, KeyFilter, Orphans, TableReader};
pub use sink::{PgSink, UNKNOWN_SOURCE};
pub use state::{RUNS_TABLE, RunRecord, STAGED_TABLE, STATE_TABLE, StreamState};
pub use types::DECIMAL_PRECISION;

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
