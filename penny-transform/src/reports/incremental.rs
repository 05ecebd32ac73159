//! What the incremental updates of the report tables share: a table's rows to write,
//! whole or merged ([`TableWrite`]), and why the sums saved by the last run cannot be
//! changed by difference ([`StaleSums`]).
//!
//! The sums saved between runs are the line sums
//! ([`LINE_SUMS_TABLE`](super::line_sums::LINE_SUMS_TABLE)) and the invoices' digest
//! ([`OPEN_AMOUNTS_TABLE`](super::invoice_digest::OPEN_AMOUNTS_TABLE),
//! [`INVOICE_VAT_TABLE`](super::invoice_digest::INVOICE_VAT_TABLE)); the next update
//! reads them back with the old versions of the records it changed, and when those do
//! not match, the sums are made afresh.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::batch::Batch;
use crate::canonical::MappingError;
use crate::canonical::read::{Col, Reader};
use crate::schema::Schema;
use crate::value::Value;

/// A table's rows to write: its schema, the rows, and `None` when they replace the
/// table, or the keys of the rows to delete (`Some`) when they are merged into it.
pub type TableWrite = (Arc<Schema>, Vec<Batch>, Option<Vec<Vec<Value>>>);

/// Saved sums, or rows read back, that do not match what they are changed by: which
/// table, column and key. The sums must then be made afresh.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaleSums {
    /// A row read back cannot be read: a column is missing, a value has another type,
    /// a value is null (the error names the table, row and column).
    #[error("saved rows unreadable, they are made afresh: {0}")]
    Unreadable(#[from] MappingError),
    /// A value read back that Penny does not write there (a kind of third party, a
    /// kind of document).
    #[error(
        "table `{table}`, row {row}, column `{column}`: `{value}` is not {expected}; the saved rows are made afresh"
    )]
    UnknownValue {
        /// The table read back.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
        /// What the column holds.
        expected: &'static str,
    },
    /// A record to take away that the saved sums do not hold.
    #[error(
        "table `{table}`: no saved sums hold {key}, which a change takes away; the sums are made afresh"
    )]
    NotHeld {
        /// The table of the saved sums.
        table: &'static str,
        /// The key of the sums, spelled out.
        key: String,
    },
    /// More records taken away from a key than its saved sums count.
    #[error(
        "table `{table}`: more taken away from {key} than its saved sums count; the sums are made afresh"
    )]
    TakenBeyondSummed {
        /// The table of the saved sums.
        table: &'static str,
        /// The key of the sums, spelled out.
        key: String,
    },
    /// Open amounts kept as of a later day than the day they would be aged on.
    #[error(
        "table `{table}`: kept as of {saved_on}, after {as_of}, the day they would be aged on; the sums are made afresh"
    )]
    SavedLater {
        /// The table of the saved sums.
        table: &'static str,
        /// The day the sums were kept as of (column `as_of`).
        saved_on: NaiveDate,
        /// The day they would be aged on.
        as_of: NaiveDate,
    },
    /// A batch of a table that is not the one expected.
    #[error("`{table}` is not {expected}")]
    UnexpectedTable {
        /// The table of the batch.
        table: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// The error for a value of `r`'s column `col` at `row` that Penny does not write there.
pub(crate) fn unknown_value(
    r: &Reader<'_>,
    row: usize,
    col: Col,
    value: &str,
    expected: &'static str,
) -> StaleSums {
    StaleSums::UnknownValue {
        table: r.table.to_owned(),
        row,
        column: col.name,
        value: value.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_sums_say_which_table_column_and_key() {
        let unreadable = StaleSums::from(MappingError::MissingColumn {
            table: "_penny_open_amounts".into(),
            column: "as_of",
        });
        assert!(
            unreadable.to_string().contains("`_penny_open_amounts`")
                && unreadable.to_string().contains("`as_of`"),
            "{unreadable}"
        );
        let not_held = StaleSums::NotHeld {
            table: "_penny_line_sums_openings_apart",
            key: "company 2, account 999999, period from 2026-01-01".into(),
        };
        assert_eq!(
            not_held.to_string(),
            "table `_penny_line_sums_openings_apart`: no saved sums hold company 2, account 999999, period from 2026-01-01, which a change takes away; the sums are made afresh"
        );
    }
}
