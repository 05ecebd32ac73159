//! # penny-transform
//!
//! The hub of [Penny](https://github.com/penny-rs/penny): the tabular model every
//! Penny crate shares, the [`Source`], [`Sink`] and [`ReadBack`] traits that connect
//! them, and the
//! [`driver`] that runs one into the other. No I/O, no async runtime, no network:
//! depend on this crate to write a new source or destination without pulling in the rest.
//!
//! - [`Schema`], [`Column`], [`LogicalType`]: the shape of a table.
//! - [`Value`], [`Batch`], [`BatchBuilder`]: bounded, validated chunks of rows
//!   (row-wise; see [`batch`] for why).
//! - [`Source`], [`Sink`], [`Position`]: read streams of batches with resumable
//!   positions, write them with the position committed atomically with the data.
//! - [`ReadBack`], [`TableRead`], [`KeyFilter`]: tables read back from where a sink
//!   wrote them (whole, some columns, some keys), for the transformation.
//! - [`driver::sync_stream`]: a complete, resumable sync of one stream.
//! - [`testing`]: in-memory reference implementations of the three traits.
//!
//! The accounting transformations, pure and exact (decimals), run once here so that
//! Power BI only reads finished tables:
//!
//! - [`canonical`]: the multi-company accounting model (ledger lines, accounts,
//!   journals, third parties, invoices, bank transactions, fiscal years) and the
//!   mappings into it from each door (`from_api`, `from_data_sharing`).
//! - [`star`]: the star schema for Power BI (`fact_*` and `dim_*` tables, natural keys).
//! - [`reports`]: trial balance, general ledger, aged balance, income statement and
//!   SIG, VAT summary, FEC export.
//! - [`quality`]: data-quality checks returning typed findings.
//! - [`pcg`]: the French chart of accounts (classes, nature, normal side, roots).
//!
//! Functions over ledger lines (the large table) take any iterator of `&LedgerLine`
//! (a slice, or chunks decoded one batch at a time) and keep one accumulator per group.
//!
//! ```
//! use penny_transform::{driver, testing::{MemorySink, MemorySource}, Value};
//!
//! let source = MemorySource::example();
//! let mut sink = MemorySink::default();
//! futures_executor::block_on(driver::sync_stream(&source, &mut sink, "journals", Default::default()))?;
//!
//! // Later, the source changes; the next sync only carries the change.
//! source.delete("journals", vec![Value::Int64(2)])?;
//! let report = futures_executor::block_on(
//!     driver::sync_stream(&source, &mut sink, "journals", Default::default()),
//! )?;
//! assert_eq!((report.rows_upserted, report.rows_deleted), (0, 1));
//! assert_eq!(sink.rows("journals").len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod batch;
pub mod canonical;
pub mod driver;
pub mod error;
pub mod ident;
pub mod pcg;
pub mod position;
pub mod quality;
pub mod read_back;
pub mod reports;
pub mod schema;
pub mod sink;
pub mod source;
pub mod star;
pub mod testing;
pub mod value;

pub use batch::{
    Batch, BatchBuilder, BatchError, DEFAULT_BATCH_ROWS, MAX_BATCH_ROWS, Operation, Row,
};
pub use error::{BoxError, ErrorClass, SinkError, SourceError};
pub use position::Position;
pub use read_back::{BatchStream, KeyFilter, ReadBack, TableRead};
pub use schema::{Column, LogicalType, MAX_DECIMAL_SCALE, Schema, SchemaError};
pub use sink::{CommitStats, Sink};
pub use source::{EventStream, ReadKind, Source, SourceEvent, StreamInfo, StreamRead, SyncMode};
pub use value::{Key, Value};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
