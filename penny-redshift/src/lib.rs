//! # penny-redshift
//!
//! The client for **Pennylane Data Sharing**, Pennylane's SQL access to an Amazon
//! Redshift copy of your accounting data (refreshed about every 2 hours):
//!
//! - [`DataSharingConfig`]: host, port (5439), database, user and the Data Sharing
//!   key (a [`secrecy::SecretString`], never printed), from code, the
//!   `PENNYLANE_DATA_SHARING_*` environment variables or a URL;
//! - [`connect()`]: TLS always (rustls, aws-lc-rs), certificate verified by default;
//!   errors name the host and the [`Stage`] that failed (TCP, TLS, auth, query);
//! - [`Connection`]'s catalog methods ([`catalog`]): schemas, tables, columns, row
//!   counts and previews, through `information_schema` only;
//! - [`TableCursor`] ([`cursor`]): `DECLARE ... CURSOR` / `FETCH FORWARD n` in a
//!   read-only transaction, flat memory whatever the table size; text results
//!   typed by [`types`];
//! - [`QueryCursor`] ([`query`]): one read-only `SELECT` of the user's, checked
//!   before it is sent, streamed through a cursor as text rows;
//! - [`DataSharingSource`] ([`source`]): a [`penny_transform::Source`] with one
//!   stream per table, incremental by `synchronised_at` in the `etl` schema with
//!   deletions, surviving the weekly rebuild.
//!
//! The local tests run against PostgreSQL as a wire-compatible stand-in; what is
//! assumed about Redshift itself (not verifiable here) is listed in the README.

pub mod catalog;
pub mod config;
pub mod connect;
pub mod cursor;
pub mod error;
pub mod query;
pub mod source;
pub mod types;

pub use catalog::{DescribedColumn, Preview, TableDescription, TableInfo, TableKind};
pub use config::{DataSharingConfig, TlsOptions, TlsVerification};
pub use connect::{Connection, connect};
pub use cursor::{CursorOptions, TableCursor, begin_read_only};
pub use error::{Error, Stage};
pub use query::{QueryCursor, QueryError, QueryOptions, TextRow, check_single_select};
pub use source::{DataSharingSource, SourceOptions, TableMode};
pub use types::{ColumnInfo, UnknownTypes, logical_type, parse_text, quote_ident};

pub use secrecy;

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
