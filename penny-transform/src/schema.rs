//! Table schemas: named, ordered, typed columns and a primary key.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest decimal scale a column may declare.
///
/// `rust_decimal` holds 28 fractional digits at most; a wider scale could not be
/// represented exactly, so it is refused when the schema is built.
pub const MAX_DECIMAL_SCALE: u32 = 28;

/// The logical type of a column: what the values mean, independent of any database.
///
/// Sources map their native types into these, sinks map these into theirs
/// (for example `Decimal { scale: 2 }` becomes `numeric(38, 2)` in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum LogicalType {
    /// `true` or `false`.
    Bool,
    /// A signed 64-bit integer (identifiers, counts).
    Int64,
    /// A 64-bit float. Never used for money: only for measures a source
    /// itself stores as floating point (Redshift `real`/`double precision`).
    Float64,
    /// An exact decimal with a fixed number of fractional digits (money, rates).
    Decimal {
        /// Digits after the decimal point; values may carry fewer, never more.
        scale: u32,
    },
    /// UTF-8 text.
    Text,
    /// A calendar date without time zone.
    Date,
    /// A time of day without date or zone.
    Time,
    /// A date and time without time zone (as the source wrote it).
    Timestamp,
    /// An instant: date and time with time zone, held in UTC.
    TimestampTz,
    /// Any JSON document (objects, arrays, semi-structured columns).
    Json,
}

impl LogicalType {
    /// Whether values of this type may form part of a primary key.
    ///
    /// Floats and JSON have no stable equality, so they cannot identify a row.
    pub fn is_key_type(self) -> bool {
        !matches!(self, LogicalType::Float64 | LogicalType::Json)
    }

    /// Whether a column of type `self` can hold every value of `other`
    /// without loss (used by sinks to decide if a schema change is a widening).
    ///
    /// ```
    /// use penny_transform::LogicalType;
    /// assert!(LogicalType::Decimal { scale: 4 }.widens(LogicalType::Decimal { scale: 2 }));
    /// assert!(LogicalType::Decimal { scale: 2 }.widens(LogicalType::Int64));
    /// assert!(!LogicalType::Int64.widens(LogicalType::Text));
    /// ```
    pub fn widens(self, other: LogicalType) -> bool {
        use LogicalType::*;
        match (self, other) {
            (a, b) if a == b => true,
            (Decimal { scale: a }, Decimal { scale: b }) => a >= b,
            (Decimal { .. }, Int64) => true,
            (Text, Bool | Int64 | Decimal { .. } | Date | Time | Timestamp | TimestampTz) => true,
            (TimestampTz, Date) | (Timestamp, Date) => true,
            (Json, _) => true,
            _ => false,
        }
    }
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogicalType::Bool => f.write_str("bool"),
            LogicalType::Int64 => f.write_str("int64"),
            LogicalType::Float64 => f.write_str("float64"),
            LogicalType::Decimal { scale } => write!(f, "decimal(scale {scale})"),
            LogicalType::Text => f.write_str("text"),
            LogicalType::Date => f.write_str("date"),
            LogicalType::Time => f.write_str("time"),
            LogicalType::Timestamp => f.write_str("timestamp"),
            LogicalType::TimestampTz => f.write_str("timestamptz"),
            LogicalType::Json => f.write_str("json"),
        }
    }
}

/// One column of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Column {
    /// The column's name, exactly as the destination should call it.
    pub name: String,
    /// What the values are.
    pub logical_type: LogicalType,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

impl Column {
    /// A column that may hold nulls.
    pub fn nullable(name: impl Into<String>, logical_type: LogicalType) -> Self {
        Column {
            name: name.into(),
            logical_type,
            nullable: true,
        }
    }

    /// A column that never holds nulls.
    pub fn required(name: impl Into<String>, logical_type: LogicalType) -> Self {
        Column {
            name: name.into(),
            logical_type,
            nullable: false,
        }
    }
}

/// Why a [`Schema`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The table name is empty.
    #[error("a table name cannot be empty")]
    EmptyTableName,
    /// The table has no columns.
    #[error("table `{table}` has no columns")]
    NoColumns {
        /// The table.
        table: String,
    },
    /// A column name is empty.
    #[error("table `{table}`: column {index} has an empty name")]
    EmptyColumnName {
        /// The table.
        table: String,
        /// The position of the column (0-based).
        index: usize,
    },
    /// Two columns have the same name.
    #[error("table `{table}`: column `{column}` is declared twice")]
    DuplicateColumn {
        /// The table.
        table: String,
        /// The repeated name.
        column: String,
    },
    /// The primary key is empty.
    #[error("table `{table}` has no primary key: name at least one column")]
    NoPrimaryKey {
        /// The table.
        table: String,
    },
    /// A primary key column is not a column of the table.
    #[error("table `{table}`: primary key column `{column}` is not a column of the table")]
    UnknownKeyColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: String,
    },
    /// A primary key column is nullable.
    #[error("table `{table}`: primary key column `{column}` must not be nullable")]
    NullableKeyColumn {
        /// The table.
        table: String,
        /// The nullable key column.
        column: String,
    },
    /// A primary key column has a type without stable equality.
    #[error(
        "table `{table}`: primary key column `{column}` has type {logical_type}, which cannot identify a row"
    )]
    UnsupportedKeyType {
        /// The table.
        table: String,
        /// The key column.
        column: String,
        /// Its type.
        logical_type: LogicalType,
    },
    /// A decimal column's scale is larger than exact decimals allow.
    #[error(
        "table `{table}`: column `{column}` has decimal scale {scale}, more than the maximum {MAX_DECIMAL_SCALE}"
    )]
    ScaleTooLarge {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The requested scale.
        scale: u32,
    },
}

/// The shape of a table: its name, ordered typed columns and primary key.
///
/// A `Schema` is always valid: names are unique and non-empty, and the primary key
/// names existing, non-nullable columns of key-able types.
///
/// ```
/// use penny_transform::{Column, LogicalType, Schema};
///
/// let schema = Schema::new(
///     "journals",
///     vec![
///         Column::required("company_id", LogicalType::Int64),
///         Column::required("id", LogicalType::Int64),
///         Column::required("code", LogicalType::Text),
///         Column::nullable("label", LogicalType::Text),
///     ],
///     ["company_id", "id"],
/// )?;
/// assert_eq!(schema.column_index("code"), Some(2));
/// assert_eq!(schema.primary_key_names().collect::<Vec<_>>(), ["company_id", "id"]);
/// # Ok::<(), penny_transform::SchemaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Schema {
    name: String,
    columns: Vec<Column>,
    primary_key: Vec<usize>,
}

impl Schema {
    /// Builds and validates a schema.
    pub fn new<K, S>(
        name: impl Into<String>,
        columns: Vec<Column>,
        primary_key: K,
    ) -> Result<Self, SchemaError>
    where
        K: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let name = name.into();
        if name.is_empty() {
            return Err(SchemaError::EmptyTableName);
        }
        if columns.is_empty() {
            return Err(SchemaError::NoColumns { table: name });
        }
        for (index, column) in columns.iter().enumerate() {
            if column.name.is_empty() {
                return Err(SchemaError::EmptyColumnName { table: name, index });
            }
            if columns[..index].iter().any(|c| c.name == column.name) {
                return Err(SchemaError::DuplicateColumn {
                    table: name,
                    column: column.name.clone(),
                });
            }
            if let LogicalType::Decimal { scale } = column.logical_type
                && scale > MAX_DECIMAL_SCALE
            {
                return Err(SchemaError::ScaleTooLarge {
                    table: name,
                    column: column.name.clone(),
                    scale,
                });
            }
        }
        let mut key = Vec::new();
        for key_name in primary_key {
            let key_name = key_name.as_ref();
            let Some(index) = columns.iter().position(|c| c.name == key_name) else {
                return Err(SchemaError::UnknownKeyColumn {
                    table: name,
                    column: key_name.to_owned(),
                });
            };
            let column = &columns[index];
            if column.nullable {
                return Err(SchemaError::NullableKeyColumn {
                    table: name,
                    column: column.name.clone(),
                });
            }
            if !column.logical_type.is_key_type() {
                return Err(SchemaError::UnsupportedKeyType {
                    table: name,
                    column: column.name.clone(),
                    logical_type: column.logical_type,
                });
            }
            if !key.contains(&index) {
                key.push(index);
            }
        }
        if key.is_empty() {
            return Err(SchemaError::NoPrimaryKey { table: name });
        }
        Ok(Schema {
            name,
            columns,
            primary_key: key,
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The position of the column called `name`, if any.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Positions of the primary key columns, in key order.
    pub fn primary_key(&self) -> &[usize] {
        &self.primary_key
    }

    /// The primary key columns, in key order.
    pub fn primary_key_columns(&self) -> impl Iterator<Item = &Column> {
        self.primary_key.iter().map(|&i| &self.columns[i])
    }

    /// Names of the primary key columns, in key order.
    pub fn primary_key_names(&self) -> impl Iterator<Item = &str> {
        self.primary_key_columns().map(|c| c.name.as_str())
    }

    /// The same schema under another table name (for example a staging table).
    pub fn renamed(&self, name: impl Into<String>) -> Result<Schema, SchemaError> {
        let name = name.into();
        if name.is_empty() {
            return Err(SchemaError::EmptyTableName);
        }
        Ok(Schema {
            name,
            ..self.clone()
        })
    }
}

/// Deserialising re-validates, so a stored schema cannot smuggle in an invalid one.
impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            name: String,
            columns: Vec<Column>,
            primary_key: Vec<usize>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let mut key_names = Vec::with_capacity(raw.primary_key.len());
        for index in raw.primary_key {
            let column = raw.columns.get(index).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "table `{}`: primary key index {index} is out of range",
                    raw.name
                ))
            })?;
            key_names.push(column.name.clone());
        }
        Schema::new(raw.name, raw.columns, key_names).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column::required("id", LogicalType::Int64),
            Column::nullable("amount", LogicalType::Decimal { scale: 2 }),
        ]
    }

    #[test]
    fn builds_a_valid_schema() {
        let s = Schema::new("t", cols(), ["id"]).expect("valid");
        assert_eq!(s.name(), "t");
        assert_eq!(s.primary_key(), &[0]);
        assert_eq!(
            s.column("amount").map(|c| c.logical_type),
            Some(LogicalType::Decimal { scale: 2 })
        );
    }

    #[test]
    fn refuses_bad_schemas() {
        assert_eq!(
            Schema::new("", cols(), ["id"]),
            Err(SchemaError::EmptyTableName)
        );
        assert_eq!(
            Schema::new("t", vec![], ["id"]),
            Err(SchemaError::NoColumns { table: "t".into() })
        );
        assert_eq!(
            Schema::new("t", cols(), Vec::<String>::new()),
            Err(SchemaError::NoPrimaryKey { table: "t".into() })
        );
        assert_eq!(
            Schema::new("t", cols(), ["nope"]),
            Err(SchemaError::UnknownKeyColumn {
                table: "t".into(),
                column: "nope".into()
            })
        );
        assert_eq!(
            Schema::new("t", cols(), ["amount"]),
            Err(SchemaError::NullableKeyColumn {
                table: "t".into(),
                column: "amount".into()
            })
        );
        let mut dup = cols();
        dup.push(Column::required("id", LogicalType::Text));
        assert!(matches!(
            Schema::new("t", dup, ["id"]),
            Err(SchemaError::DuplicateColumn { .. })
        ));
        let json = vec![Column::required("doc", LogicalType::Json)];
        assert!(matches!(
            Schema::new("t", json, ["doc"]),
            Err(SchemaError::UnsupportedKeyType { .. })
        ));
        let wide = vec![Column::required("x", LogicalType::Decimal { scale: 29 })];
        assert!(matches!(
            Schema::new("t", wide, ["x"]),
            Err(SchemaError::ScaleTooLarge { scale: 29, .. })
        ));
    }

    #[test]
    fn serde_round_trip_revalidates() {
        let s = Schema::new("t", cols(), ["id"]).expect("valid");
        let json = serde_json::to_string(&s).expect("serialise");
        let back: Schema = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, s);
        let broken = json.replace("\"primary_key\":[0]", "\"primary_key\":[1]");
        let err = serde_json::from_str::<Schema>(&broken).expect_err("nullable key refused");
        assert!(err.to_string().contains("must not be nullable"), "{err}");
    }

    #[test]
    fn widening_rules() {
        use LogicalType::*;
        assert!(Decimal { scale: 4 }.widens(Decimal { scale: 2 }));
        assert!(!Decimal { scale: 2 }.widens(Decimal { scale: 4 }));
        assert!(Text.widens(Int64));
        assert!(!Int64.widens(Decimal { scale: 0 }));
        assert!(!Bool.widens(Text));
    }
}
