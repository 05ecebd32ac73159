//! Reading raw batches by column name, with errors that name table, row and column.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::batch::{Batch, Operation};
use crate::value::Value;

/// Why a raw table could not be mapped into the canonical model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    /// A column the mapping needs is not in the table.
    #[error("table `{table}`: required column `{column}` is missing")]
    MissingColumn {
        /// The raw table.
        table: String,
        /// The missing column.
        column: &'static str,
    },
    /// A value has a type the mapping cannot read.
    #[error(
        "table `{table}`, row {row}, column `{column}`: expected {expected}, found {found} `{value}`"
    )]
    WrongType {
        /// The raw table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The column.
        column: &'static str,
        /// What the mapping reads.
        expected: &'static str,
        /// The kind of value found.
        found: &'static str,
        /// The value as text.
        value: String,
    },
    /// A null where the canonical model needs a value.
    #[error("table `{table}`, row {row}, column `{column}`: null, but a value is required")]
    Null {
        /// The raw table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The column.
        column: &'static str,
    },
    /// An amount with more digits after the point than the canonical scale.
    #[error(
        "table `{table}`, row {row}, column `{column}`: {value} has more than {scale} decimals; it cannot be rescaled without rounding"
    )]
    InexactAmount {
        /// The raw table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The column.
        column: &'static str,
        /// The value.
        value: Decimal,
        /// The canonical scale.
        scale: u32,
    },
    /// A reference to a record that is not in the lookup tables.
    #[error(
        "table `{table}`, row {row}, column `{column}`: {target} {id} is unknown (sync `{target}` first)"
    )]
    UnknownReference {
        /// The raw table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The referencing column.
        column: &'static str,
        /// The referenced table.
        target: &'static str,
        /// The unknown id.
        id: i64,
    },
    /// The batch is a deletion batch; mappings take upserts only.
    #[error("table `{table}`: the mapping takes upsert batches; apply deletions to the raw table")]
    NotUpserts {
        /// The raw table.
        table: String,
    },
    /// A canonical table's batch could not be built (a bug: canonical records fit their schema).
    #[error("building canonical table: {0}")]
    Batch(#[from] crate::batch::BatchError),
}

/// A column resolved by name: its position, or `None` when the table lacks it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    pub(crate) name: &'static str,
    pub(crate) index: Option<usize>,
}

/// A raw batch read by column name.
pub(crate) struct Reader<'a> {
    pub(crate) batch: &'a Batch,
    pub(crate) table: &'a str,
}

impl<'a> Reader<'a> {
    /// A reader over an upsert batch.
    pub(crate) fn new(batch: &'a Batch) -> Result<Self, MappingError> {
        if batch.operation() != Operation::Upsert {
            return Err(MappingError::NotUpserts {
                table: batch.table().to_owned(),
            });
        }
        Ok(Reader {
            batch,
            table: batch.table(),
        })
    }

    /// A column the mapping needs.
    pub(crate) fn col(&self, name: &'static str) -> Result<Col, MappingError> {
        match self.batch.schema().column_index(name) {
            Some(index) => Ok(Col {
                name,
                index: Some(index),
            }),
            None => Err(MappingError::MissingColumn {
                table: self.table.to_owned(),
                column: name,
            }),
        }
    }

    /// A column that may be absent (its values read as nulls).
    pub(crate) fn opt(&self, name: &'static str) -> Col {
        Col {
            name,
            index: self.batch.schema().column_index(name),
        }
    }

    /// The first of several names the table has (for renamed columns), or an absent column.
    pub(crate) fn opt_any(&self, names: &[&'static str]) -> Col {
        for &name in names {
            if let Some(index) = self.batch.schema().column_index(name) {
                return Col {
                    name,
                    index: Some(index),
                };
            }
        }
        Col {
            name: names.first().copied().unwrap_or(""),
            index: None,
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.batch.len()
    }

    /// The cell at `row`, `col`.
    pub(crate) fn cell(&self, row: usize, col: Col) -> Cell<'a> {
        static NULL: Value = Value::Null;
        let value = match col.index {
            Some(i) => &self.batch.rows()[row][i],
            None => &NULL,
        };
        Cell {
            table: self.table,
            row,
            column: col.name,
            value,
        }
    }
}

/// One value with enough context to name it in an error.
pub(crate) struct Cell<'a> {
    table: &'a str,
    row: usize,
    column: &'static str,
    value: &'a Value,
}

impl<'a> Cell<'a> {
    fn wrong(&self, expected: &'static str) -> MappingError {
        MappingError::WrongType {
            table: self.table.to_owned(),
            row: self.row,
            column: self.column,
            expected,
            found: self.value.kind(),
            value: self.value.to_string(),
        }
    }

    fn null(&self) -> MappingError {
        MappingError::Null {
            table: self.table.to_owned(),
            row: self.row,
            column: self.column,
        }
    }

    fn required<T>(&self, v: Option<T>) -> Result<T, MappingError> {
        v.ok_or_else(|| self.null())
    }

    /// An integer (an `int64`, or an integral decimal as warehouses give `numeric(p, 0)`).
    pub(crate) fn opt_i64(&self) -> Result<Option<i64>, MappingError> {
        match self.value {
            Value::Null => Ok(None),
            Value::Int64(v) => Ok(Some(*v)),
            Value::Decimal(d) if d.fract().is_zero() => {
                i64::try_from(*d).map(Some).map_err(|_| self.wrong("int64"))
            }
            _ => Err(self.wrong("int64")),
        }
    }

    pub(crate) fn i64(&self) -> Result<i64, MappingError> {
        let v = self.opt_i64()?;
        self.required(v)
    }

    /// Text; integers are rendered (a lettering id given as a number).
    pub(crate) fn opt_text(&self) -> Result<Option<String>, MappingError> {
        match self.value {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            Value::Int64(v) => Ok(Some(v.to_string())),
            _ => Err(self.wrong("text")),
        }
    }

    /// Text without copying it when it is text already.
    pub(crate) fn opt_str(&self) -> Result<Option<std::borrow::Cow<'a, str>>, MappingError> {
        match self.value {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(std::borrow::Cow::Borrowed(v.as_str()))),
            Value::Int64(v) => Ok(Some(std::borrow::Cow::Owned(v.to_string()))),
            _ => Err(self.wrong("text")),
        }
    }

    pub(crate) fn str(&self) -> Result<std::borrow::Cow<'a, str>, MappingError> {
        let v = self.opt_str()?;
        self.required(v)
    }

    pub(crate) fn text(&self) -> Result<String, MappingError> {
        let v = self.opt_text()?;
        self.required(v)
    }

    /// A date (timestamps are cut to their date).
    pub(crate) fn opt_date(&self) -> Result<Option<NaiveDate>, MappingError> {
        match self.value {
            Value::Null => Ok(None),
            Value::Date(d) => Ok(Some(*d)),
            Value::Timestamp(t) => Ok(Some(t.date())),
            Value::TimestampTz(t) => Ok(Some(t.date_naive())),
            Value::Text(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| self.wrong("date")),
            _ => Err(self.wrong("date")),
        }
    }

    pub(crate) fn date(&self) -> Result<NaiveDate, MappingError> {
        let v = self.opt_date()?;
        self.required(v)
    }

    /// A decimal rescaled exactly to `scale` (refused if that would round).
    pub(crate) fn opt_decimal(&self, scale: u32) -> Result<Option<Decimal>, MappingError> {
        let d = match self.value {
            Value::Null => return Ok(None),
            Value::Decimal(d) => *d,
            Value::Int64(v) => Decimal::from(*v),
            _ => return Err(self.wrong("decimal")),
        };
        rescale_exact(d, scale)
            .map(Some)
            .ok_or(MappingError::InexactAmount {
                table: self.table.to_owned(),
                row: self.row,
                column: self.column,
                value: d,
                scale,
            })
    }

    /// An amount in cents, null read as zero.
    pub(crate) fn money_or_zero(&self) -> Result<Decimal, MappingError> {
        Ok(self
            .opt_decimal(super::MONEY_SCALE)?
            .unwrap_or_else(|| Decimal::new(0, super::MONEY_SCALE)))
    }

    /// A required amount in cents.
    pub(crate) fn money(&self) -> Result<Decimal, MappingError> {
        let v = self.opt_decimal(super::MONEY_SCALE)?;
        self.required(v)
    }

    pub(crate) fn opt_bool(&self) -> Result<Option<bool>, MappingError> {
        match self.value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            _ => Err(self.wrong("bool")),
        }
    }

    pub(crate) fn opt_json(&self) -> Result<Option<serde_json::Value>, MappingError> {
        match self.value {
            Value::Null => Ok(None),
            Value::Json(j) => Ok(Some(j.clone())),
            Value::Text(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| self.wrong("json")),
            _ => Err(self.wrong("json")),
        }
    }
}

/// `d` with exactly `scale` decimals, or `None` if that needs rounding.
pub(crate) fn rescale_exact(d: Decimal, scale: u32) -> Option<Decimal> {
    let mut r = d;
    r.rescale(scale);
    (r == d).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn rescales_exactly_or_refuses() {
        let d = Decimal::from_str("12.3400").expect("decimal");
        assert_eq!(
            rescale_exact(d, 2).map(|r| r.to_string()),
            Some("12.34".into())
        );
        let d = Decimal::from_str("12.345").expect("decimal");
        assert_eq!(rescale_exact(d, 2), None);
        assert_eq!(
            rescale_exact(Decimal::from(5), 2).map(|r| r.to_string()),
            Some("5.00".into())
        );
    }
}
