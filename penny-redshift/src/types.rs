//! Redshift types to Penny logical types, and the text the server sends to values.
//!
//! Columns are typed from `information_schema.columns` (its `data_type`,
//! `numeric_precision` and `numeric_scale`), never from `pg_type`, which Redshift may
//! deny. Values arrive as text (see [`crate::cursor`] for why) in the session's
//! `DateStyle` ISO and time zone UTC, which [`connect`](crate::connect()) sets.
//!
//! | warehouse type | logical type |
//! |---|---|
//! | `smallint`, `integer`, `bigint` (`int2/4/8`) | `Int64` |
//! | `numeric(p, s)`, `decimal(p, s)` | `Decimal { scale: s }` (exact) |
//! | `numeric` without a declared scale (PostgreSQL only) | `Decimal { scale: 28 }` |
//! | `real`, `double precision` | `Float64` |
//! | `boolean` | `Bool` |
//! | `character`, `character varying`, `text`, `bpchar`, `name`, `"char"` | `Text` |
//! | `date` | `Date` |
//! | `timestamp without time zone` | `Timestamp` |
//! | `timestamp with time zone` | `TimestampTz` |
//! | `time without time zone` | `Time` |
//! | `super`, `json`, `jsonb` | `Json` |
//! | `time with time zone`, `varbyte`, `geometry`, `geography`, `hllsketch`, `interval`, `uuid`, `bytea`, arrays, anything else | `Text` (the server's text form), or an [`Error::UnmappableType`] under [`UnknownTypes::Refuse`] |
//!
//! A `numeric` whose scale exceeds 28 cannot be held exactly and is always
//! refused by name.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use penny_transform::{LogicalType, MAX_DECIMAL_SCALE, Value};
use rust_decimal::Decimal;

use crate::error::Error;

/// What to do with a column whose type has no exact logical type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownTypes {
    /// Carry it as text, as the server prints it (the default).
    #[default]
    AsText,
    /// Refuse the table, naming the column.
    Refuse,
}

/// A column as `information_schema.columns` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column's name, exactly as in the warehouse.
    pub name: String,
    /// `data_type`, lower-case (`character varying`, `numeric`, `super`...).
    pub data_type: String,
    /// Whether `is_nullable` said `YES`.
    pub nullable: bool,
    /// `numeric_precision`, for numbers.
    pub numeric_precision: Option<i32>,
    /// `numeric_scale`, for numbers.
    pub numeric_scale: Option<i32>,
    /// `character_maximum_length`, for text.
    pub max_length: Option<i32>,
}

impl ColumnInfo {
    /// A nullable column of `data_type` (helper for tests and callers building plans).
    pub fn new(name: impl Into<String>, data_type: impl Into<String>) -> Self {
        ColumnInfo {
            name: name.into(),
            data_type: data_type.into(),
            nullable: true,
            numeric_precision: None,
            numeric_scale: None,
            max_length: None,
        }
    }

    /// The type as SQL would write it (`numeric(14,2)`, `character varying(255)`).
    pub fn sql_type(&self) -> String {
        match (self.numeric_precision, self.numeric_scale, self.max_length) {
            (Some(p), Some(s), _) if is_numeric(&self.data_type) => {
                format!("{}({p},{s})", self.data_type)
            }
            (_, _, Some(n)) => format!("{}({n})", self.data_type),
            _ => self.data_type.clone(),
        }
    }
}

fn is_numeric(data_type: &str) -> bool {
    matches!(data_type, "numeric" | "decimal")
}

/// The logical type of a column, or why it has none.
///
/// `table` (`schema.table`) is only used to name the column in errors.
pub fn logical_type(
    table: &str,
    column: &ColumnInfo,
    unknown: UnknownTypes,
) -> Result<LogicalType, Error> {
    let data_type = column.data_type.trim().to_ascii_lowercase();
    let unmappable = |reason: String| Error::UnmappableType {
        table: table.to_owned(),
        column: column.name.clone(),
        data_type: column.sql_type(),
        reason,
    };
    let ty = match data_type.as_str() {
        "smallint" | "integer" | "bigint" | "int2" | "int4" | "int8" | "int" => LogicalType::Int64,
        "numeric" | "decimal" => match column.numeric_scale {
            Some(scale) if scale < 0 => {
                return Err(unmappable(format!("negative scale {scale}")));
            }
            Some(scale) if scale as u32 > MAX_DECIMAL_SCALE => {
                return Err(unmappable(format!(
                    "scale {scale} is more than the {MAX_DECIMAL_SCALE} digits an exact decimal holds"
                )));
            }
            Some(scale) => LogicalType::Decimal {
                scale: scale as u32,
            },
            None => LogicalType::Decimal {
                scale: MAX_DECIMAL_SCALE,
            },
        },
        "real" | "double precision" | "float4" | "float8" | "float" => LogicalType::Float64,
        "boolean" | "bool" => LogicalType::Bool,
        "character" | "character varying" | "text" | "bpchar" | "varchar" | "char" | "name"
        | "\"char\"" | "nchar" | "nvarchar" => LogicalType::Text,
        "date" => LogicalType::Date,
        "timestamp without time zone" | "timestamp" => LogicalType::Timestamp,
        "timestamp with time zone" | "timestamptz" => LogicalType::TimestampTz,
        "time without time zone" | "time" => LogicalType::Time,
        "super" | "json" | "jsonb" => LogicalType::Json,
        other => match unknown {
            UnknownTypes::AsText => LogicalType::Text,
            UnknownTypes::Refuse => {
                return Err(unmappable(format!(
                    "`{other}` has no exact Penny type (it would be carried as text under UnknownTypes::AsText)"
                )));
            }
        },
    };
    Ok(ty)
}

/// Reads one value the server sent as text (`None` is SQL `NULL`).
pub fn parse_text(text: Option<&str>, ty: LogicalType) -> Result<Value, String> {
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    let value = match ty {
        LogicalType::Bool => match text {
            "t" | "true" | "TRUE" | "1" | "y" | "yes" | "on" => Value::Bool(true),
            "f" | "false" | "FALSE" | "0" | "n" | "no" | "off" => Value::Bool(false),
            _ => return Err("not a boolean".into()),
        },
        LogicalType::Int64 => Value::Int64(text.parse::<i64>().map_err(|e| e.to_string())?),
        LogicalType::Float64 => Value::Float64(parse_float(text)?),
        LogicalType::Decimal { scale } => {
            let d = Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .map_err(|e| format!("{e} (exact decimals hold at most 28 significant digits)"))?;
            if d.scale() > scale {
                // The server may pad with zeros beyond the scale only if the column
                // has none declared; trailing zeros are dropped, real digits refused.
                let n = d.normalize();
                if n.scale() > scale {
                    return Err(format!("more than {scale} digits after the point"));
                }
                Value::Decimal(n)
            } else {
                Value::Decimal(d)
            }
        }
        LogicalType::Text => Value::Text(text.to_owned()),
        LogicalType::Date => Value::Date(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|e| format!("{e} (expected YYYY-MM-DD)"))?,
        ),
        LogicalType::Time => Value::Time(
            NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
                .map_err(|e| format!("{e} (expected HH:MM:SS[.ffffff])"))?,
        ),
        LogicalType::Timestamp => Value::Timestamp(
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
                .map_err(|e| format!("{e} (expected YYYY-MM-DD HH:MM:SS[.ffffff])"))?,
        ),
        LogicalType::TimestampTz => Value::TimestampTz(parse_timestamptz(text)?),
        LogicalType::Json => Value::Json(
            serde_json::from_str(text).map_err(|e| format!("not a JSON document: {e}"))?,
        ),
    };
    Ok(value)
}

fn parse_float(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => text.parse::<f64>().map_err(|e| e.to_string()),
    }
}

/// Instants as the server prints them with `DateStyle` ISO: `2026-01-02 03:04:05.5+00`,
/// offsets with or without minutes (`+05:30`), or without offset (Redshift's
/// `timestamptz` output in a UTC session omits it in some versions: read as UTC).
fn parse_timestamptz(text: &str) -> Result<DateTime<Utc>, String> {
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|e| format!("{e} (expected YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM])"))
}

/// The SQL type a text parameter is cast to before it is compared with a column of
/// type `ty` (a fixed list: nothing from outside is spliced into SQL).
pub(crate) fn cast_type(ty: LogicalType) -> Option<String> {
    Some(match ty {
        LogicalType::Int64 => "BIGINT".into(),
        LogicalType::Decimal { scale } => format!("DECIMAL(38, {})", scale.min(37)),
        LogicalType::Text => "VARCHAR".into(),
        LogicalType::Date => "DATE".into(),
        LogicalType::Timestamp => "TIMESTAMP".into(),
        LogicalType::TimestampTz => "TIMESTAMPTZ".into(),
        LogicalType::Time => "TIME".into(),
        LogicalType::Bool => "BOOLEAN".into(),
        LogicalType::Float64 | LogicalType::Json => return None,
    })
}

/// A value as the text the server reads back with [`cast_type`].
pub(crate) fn to_sql_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null | Value::Json(_) | Value::Float64(_) => return None,
        Value::Bool(b) => b.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(t) => t.clone(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Time(t) => t.format("%H:%M:%S%.6f").to_string(),
        Value::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Value::TimestampTz(t) => t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
    })
}

pub use penny_transform::ident::{qualified, quote_ident};

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, precision: Option<i32>, scale: Option<i32>) -> ColumnInfo {
        ColumnInfo {
            numeric_precision: precision,
            numeric_scale: scale,
            ..ColumnInfo::new("c", data_type)
        }
    }

    fn map(data_type: &str) -> LogicalType {
        logical_type("s.t", &col(data_type, None, None), UnknownTypes::AsText).expect("maps")
    }

    #[test]
    fn maps_every_documented_type() {
        use LogicalType::*;
        for (sql, ty) in [
            ("smallint", Int64),
            ("integer", Int64),
            ("bigint", Int64),
            ("real", Float64),
            ("double precision", Float64),
            ("boolean", Bool),
            ("character", Text),
            ("character varying", Text),
            ("text", Text),
            ("date", Date),
            ("timestamp without time zone", Timestamp),
            ("timestamp with time zone", TimestampTz),
            ("time without time zone", Time),
            ("super", Json),
            ("jsonb", Json),
            ("time with time zone", Text),
            ("varbyte", Text),
            ("geometry", Text),
            ("hllsketch", Text),
            ("ARRAY", Text),
        ] {
            assert_eq!(map(sql), ty, "{sql}");
        }
        let numeric = col("numeric", Some(14), Some(2));
        assert_eq!(
            logical_type("s.t", &numeric, UnknownTypes::Refuse).expect("numeric"),
            Decimal { scale: 2 }
        );
        assert_eq!(map("numeric"), Decimal { scale: 28 });
    }

    #[test]
    fn refuses_by_name() {
        let wide = ColumnInfo {
            name: "ratio".into(),
            ..col("numeric", Some(38), Some(30))
        };
        let err = logical_type("etl.t", &wide, UnknownTypes::AsText).expect_err("scale 30");
        assert_eq!(
            err.to_string(),
            "table etl.t, column `ratio`: type `numeric(38,30)` cannot be mapped: scale 30 is more than the 28 digits an exact decimal holds"
        );
        let geo = ColumnInfo::new("shape", "geometry");
        let err = logical_type("etl.t", &geo, UnknownTypes::Refuse).expect_err("refused");
        assert!(err.to_string().contains("`shape`"), "{err}");
    }

    #[test]
    fn parses_server_text() {
        use LogicalType::*;
        let p = |t: &str, ty| parse_text(Some(t), ty).expect(t);
        assert_eq!(p("t", Bool), Value::Bool(true));
        assert_eq!(p("-9223372036854775808", Int64), Value::Int64(i64::MIN));
        assert_eq!(
            p("-1234.50", Decimal { scale: 2 }),
            Value::Decimal(rust_decimal::Decimal::new(-123450, 2))
        );
        assert!(parse_text(Some("1.234"), Decimal { scale: 2 }).is_err());
        assert!(matches!(p("NaN", Float64), Value::Float64(f) if f.is_nan()));
        assert_eq!(p("-Infinity", Float64), Value::Float64(f64::NEG_INFINITY));
        assert_eq!(p("été ✓", Text), Value::Text("été ✓".into()));
        assert_eq!(
            p("2026-02-28", Date),
            Value::Date(NaiveDate::from_ymd_opt(2026, 2, 28).expect("date"))
        );
        assert_eq!(
            p("13:14:15.25", Time),
            Value::Time(NaiveTime::from_hms_milli_opt(13, 14, 15, 250).expect("time"))
        );
        let naive = NaiveDate::from_ymd_opt(2026, 1, 2)
            .and_then(|d| d.and_hms_micro_opt(3, 4, 5, 123_456))
            .expect("ts");
        assert_eq!(
            p("2026-01-02 03:04:05.123456", Timestamp),
            Value::Timestamp(naive)
        );
        assert_eq!(
            p("2026-01-02 05:34:05.123456+02:30", TimestampTz),
            Value::TimestampTz(naive.and_utc())
        );
        assert_eq!(
            p("2026-01-02 03:04:05.123456+00", TimestampTz),
            Value::TimestampTz(naive.and_utc())
        );
        assert_eq!(
            p(r#"{"a":[1,"é"]}"#, Json),
            Value::Json(serde_json::json!({"a": [1, "é"]}))
        );
        assert_eq!(parse_text(None, Date), Ok(Value::Null));
        assert!(parse_text(Some("infinity"), Date).is_err());
        assert!(
            parse_text(
                Some("12345678901234567890123456789012"),
                Decimal { scale: 0 }
            )
            .is_err()
        );
    }

    #[test]
    fn sql_text_round_trips_through_the_parser() {
        use LogicalType::*;
        for (text, ty) in [
            ("2026-01-02 03:04:05.123456+00", TimestampTz),
            ("2026-01-02 03:04:05.000001", Timestamp),
            ("2026-01-02", Date),
            ("42", Int64),
            ("12.50", Decimal { scale: 2 }),
        ] {
            let v = parse_text(Some(text), ty).expect("parse");
            let back = to_sql_text(&v).expect("text");
            assert_eq!(parse_text(Some(&back), ty).expect("reparse"), v, "{text}");
            assert!(cast_type(ty).is_some());
        }
        assert_eq!(cast_type(Json), None);
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("table"), "\"table\"");
        assert_eq!(qualified("etl", "x\"y"), "\"etl\".\"x\"\"y\"");
        assert_eq!(quote_ident("a\0b"), "\"ab\"");
    }
}
