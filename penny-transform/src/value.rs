//! Cell values: one variant per [`LogicalType`], plus `Null`.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::schema::LogicalType;

/// One cell of a row.
///
/// Money is [`Decimal`], never a float; dates are [`NaiveDate`]; instants are
/// UTC [`DateTime`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum Value {
    /// No value (only allowed in nullable columns).
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int64(i64),
    /// A 64-bit float (never money).
    Float64(f64),
    /// An exact decimal.
    Decimal(Decimal),
    /// Text.
    Text(String),
    /// A date.
    Date(NaiveDate),
    /// A time of day.
    Time(NaiveTime),
    /// A date and time without zone.
    Timestamp(NaiveDateTime),
    /// An instant in UTC.
    TimestampTz(DateTime<Utc>),
    /// A JSON document.
    Json(serde_json::Value),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int64(_) => "int64",
            Value::Float64(_) => "float64",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Json(_) => "json",
        }
    }

    /// Whether a non-null value fits a column of type `ty` (a decimal must not
    /// carry more fractional digits than the column's scale). `Null` fits every type;
    /// nullability is the batch's business.
    pub fn fits(&self, ty: LogicalType) -> bool {
        match (self, ty) {
            (Value::Null, _) => true,
            (Value::Bool(_), LogicalType::Bool)
            | (Value::Int64(_), LogicalType::Int64)
            | (Value::Float64(_), LogicalType::Float64)
            | (Value::Text(_), LogicalType::Text)
            | (Value::Date(_), LogicalType::Date)
            | (Value::Time(_), LogicalType::Time)
            | (Value::Timestamp(_), LogicalType::Timestamp)
            | (Value::TimestampTz(_), LogicalType::TimestampTz)
            | (Value::Json(_), LogicalType::Json) => true,
            (Value::Decimal(d), LogicalType::Decimal { scale }) => d.scale() <= scale,
            _ => false,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int64(v) => Some(*v),
            _ => None,
        }
    }

    /// The decimal, if this is one.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Decimal(v) => Some(*v),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The date, if this is one.
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(v) => Some(*v),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The instant, if this is one.
    pub fn as_timestamptz(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::TimestampTz(v) => Some(*v),
            _ => None,
        }
    }

    /// A total order over values, used to compare primary keys.
    ///
    /// Values of one kind compare naturally (floats by `total_cmp`, JSON by its
    /// text); values of different kinds compare by kind, `Null` first.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int64(a), Value::Int64(b)) => a.cmp(b),
            (Value::Float64(a), Value::Float64(b)) => a.total_cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::TimestampTz(a), Value::TimestampTz(b)) => a.cmp(b),
            (Value::Json(a), Value::Json(b)) => a.to_string().cmp(&b.to_string()),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int64(_) => 2,
            Value::Float64(_) => 3,
            Value::Decimal(_) => 4,
            Value::Text(_) => 5,
            Value::Date(_) => 6,
            Value::Time(_) => 7,
            Value::Timestamp(_) => 8,
            Value::TimestampTz(_) => 9,
            Value::Json(_) => 10,
        }
    }
}

/// Plain text rendering, as a CSV cell or an error message would show it
/// (`Null` is empty, dates ISO 8601, decimals with a dot).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float64(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
            Value::Date(v) => write!(f, "{}", v.format("%Y-%m-%d")),
            Value::Time(v) => write!(f, "{}", v.format("%H:%M:%S%.f")),
            Value::Timestamp(v) => write!(f, "{}", v.format("%Y-%m-%dT%H:%M:%S%.f")),
            Value::TimestampTz(v) => write!(f, "{}", v.to_rfc3339()),
            Value::Json(v) => write!(f, "{v}"),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        })*
    };
}

value_from! {
    bool => Bool,
    i64 => Int64,
    i32 => Int64,
    f64 => Float64,
    Decimal => Decimal,
    String => Text,
    &str => Text,
    NaiveDate => Date,
    NaiveTime => Time,
    NaiveDateTime => Timestamp,
    DateTime<Utc> => TimestampTz,
    serde_json::Value => Json,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A primary key: the key columns' values of one row, in key order, totally ordered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Key(pub Vec<Value>);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.0.iter().zip(&other.0) {
            match a.total_cmp(b) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_fit_up_to_their_scale() {
        let d = Decimal::from_str("230.32").expect("decimal");
        assert!(Value::Decimal(d).fits(LogicalType::Decimal { scale: 2 }));
        assert!(Value::Decimal(d).fits(LogicalType::Decimal { scale: 4 }));
        assert!(!Value::Decimal(d).fits(LogicalType::Decimal { scale: 1 }));
        assert!(!Value::Decimal(d).fits(LogicalType::Float64));
        assert!(Value::Null.fits(LogicalType::Date));
        assert!(!Value::Int64(1).fits(LogicalType::Text));
    }

    #[test]
    fn keys_order_totally() {
        let a = Key(vec![Value::Int64(1), Value::Text("b".into())]);
        let b = Key(vec![Value::Int64(1), Value::Text("c".into())]);
        assert!(a < b);
        assert_eq!(a, a.clone());
        assert_eq!(a.to_string(), "(1, b)");
    }

    #[test]
    fn display_is_plain() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        assert_eq!(Value::Date(date).to_string(), "2026-03-01");
        assert_eq!(Value::Null.to_string(), "");
        assert_eq!(Value::from(Some("x")).to_string(), "x");
        assert_eq!(Value::from(None::<i64>), Value::Null);
    }
}
