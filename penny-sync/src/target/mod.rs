//! The targets a run writes to and reads back, as [`SinkFactory`](crate::pipeline::SinkFactory)s:
//! a PostgreSQL schema (feature `postgres`), a folder of CSV files (feature `csv`).

#[cfg(feature = "csv")]
mod csv;
#[cfg(feature = "csv")]
pub mod csv_sink;
#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "csv")]
pub use csv::CsvTarget;
#[cfg(feature = "postgres")]
pub use postgres::{PgTarget, REPLACE_IN_PLACE_BELOW};
