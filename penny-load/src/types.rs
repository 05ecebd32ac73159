//! How logical types become PostgreSQL types, how existing column types are read
//! back, and how values are encoded for binary `COPY`.

use std::error::Error;

use bytes::BytesMut;
use chrono::NaiveDate;
use penny_transform::{LogicalType, Value};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// The precision of every decimal column penny-load creates: `numeric(38, scale)`.
pub const DECIMAL_PRECISION: u32 = 38;

/// A column type as PostgreSQL names it (what `format_type` returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PgType {
    Bool,
    BigInt,
    Double,
    /// `numeric(p, s)`, or `numeric` without a type modifier (`None`).
    Numeric(Option<(u32, u32)>),
    Text,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Jsonb,
    /// A type penny-load does not create (kept as PostgreSQL names it).
    Other(String),
}

impl PgType {
    /// The type penny-load creates for a logical type.
    pub(crate) fn for_logical(t: LogicalType) -> PgType {
        match t {
            LogicalType::Bool => PgType::Bool,
            LogicalType::Int64 => PgType::BigInt,
            LogicalType::Float64 => PgType::Double,
            LogicalType::Decimal { scale } => PgType::Numeric(Some((DECIMAL_PRECISION, scale))),
            LogicalType::Text => PgType::Text,
            LogicalType::Date => PgType::Date,
            LogicalType::Time => PgType::Time,
            LogicalType::Timestamp => PgType::Timestamp,
            LogicalType::TimestampTz => PgType::TimestampTz,
            LogicalType::Json => PgType::Jsonb,
        }
    }

    /// Parses `format_type(atttypid, atttypmod)`.
    pub(crate) fn parse(formatted: &str) -> PgType {
        match formatted {
            "boolean" => PgType::Bool,
            "bigint" => PgType::BigInt,
            "double precision" => PgType::Double,
            "numeric" => PgType::Numeric(None),
            "text" => PgType::Text,
            "date" => PgType::Date,
            "time without time zone" => PgType::Time,
            "timestamp without time zone" => PgType::Timestamp,
            "timestamp with time zone" => PgType::TimestampTz,
            "jsonb" => PgType::Jsonb,
            other => {
                if let Some(args) = other
                    .strip_prefix("numeric(")
                    .and_then(|r| r.strip_suffix(')'))
                    && let Some((p, s)) = args.split_once(',')
                    && let (Ok(p), Ok(s)) = (p.trim().parse(), s.trim().parse())
                {
                    return PgType::Numeric(Some((p, s)));
                }
                PgType::Other(other.to_owned())
            }
        }
    }

    /// The SQL spelling, for `CREATE TABLE` and casts.
    pub(crate) fn sql(&self) -> String {
        match self {
            PgType::Bool => "boolean".into(),
            PgType::BigInt => "bigint".into(),
            PgType::Double => "double precision".into(),
            PgType::Numeric(None) => "numeric".into(),
            PgType::Numeric(Some((p, s))) => format!("numeric({p}, {s})"),
            PgType::Text => "text".into(),
            PgType::Date => "date".into(),
            PgType::Time => "time".into(),
            PgType::Timestamp => "timestamp".into(),
            PgType::TimestampTz => "timestamptz".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Other(name) => name.clone(),
        }
    }

    /// The logical type whose values this column holds, for comparing with a schema
    /// (`numeric(p, s)` holds decimals of scale `s`; unconstrained `numeric` any scale).
    pub(crate) fn logical(&self) -> Option<LogicalType> {
        Some(match self {
            PgType::Bool => LogicalType::Bool,
            PgType::BigInt => LogicalType::Int64,
            PgType::Double => LogicalType::Float64,
            PgType::Numeric(Some((_, s))) => LogicalType::Decimal { scale: *s },
            PgType::Numeric(None) => LogicalType::Decimal {
                scale: penny_transform::MAX_DECIMAL_SCALE,
            },
            PgType::Text => LogicalType::Text,
            PgType::Date => LogicalType::Date,
            PgType::Time => LogicalType::Time,
            PgType::Timestamp => LogicalType::Timestamp,
            PgType::TimestampTz => LogicalType::TimestampTz,
            PgType::Jsonb => LogicalType::Json,
            PgType::Other(_) => return None,
        })
    }

    /// The expression converting `expr` (of logical type `from`) into this type.
    pub(crate) fn convert(&self, expr: &str, from: LogicalType) -> String {
        if *self == PgType::for_logical(from) {
            return expr.to_owned();
        }
        match self {
            PgType::Jsonb => format!("to_jsonb({expr})"),
            other => format!("({expr})::{}", other.sql()),
        }
    }
}

/// What to do with an existing column for a schema's column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnChange {
    /// Same type.
    Same,
    /// The column already holds every value of the new type: keep it, convert on write.
    Keep,
    /// The new type holds every existing value: alter the column to it.
    Widen,
    /// Neither holds the other.
    Incompatible,
}

/// Compares an existing column type with the type a schema now wants.
pub(crate) fn compare(existing: &PgType, wanted: LogicalType) -> ColumnChange {
    if *existing == PgType::for_logical(wanted) {
        return ColumnChange::Same;
    }
    let Some(have) = existing.logical() else {
        return ColumnChange::Incompatible;
    };
    if have.widens(wanted) {
        ColumnChange::Keep
    } else if wanted.widens(have) {
        ColumnChange::Widen
    } else {
        ColumnChange::Incompatible
    }
}

/// The binary wire type for a logical type.
pub(crate) fn wire_type(t: LogicalType) -> Type {
    match t {
        LogicalType::Bool => Type::BOOL,
        LogicalType::Int64 => Type::INT8,
        LogicalType::Float64 => Type::FLOAT8,
        LogicalType::Decimal { .. } => Type::NUMERIC,
        LogicalType::Text => Type::TEXT,
        LogicalType::Date => Type::DATE,
        LogicalType::Time => Type::TIME,
        LogicalType::Timestamp => Type::TIMESTAMP,
        LogicalType::TimestampTz => Type::TIMESTAMPTZ,
        LogicalType::Json => Type::JSONB,
    }
}

/// One cell written by `COPY`: a value of a batch, or a column penny-load adds.
#[derive(Debug)]
pub(crate) enum Cell<'a> {
    Value(&'a Value),
    Int(i64),
    Flag(bool),
    Null,
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Int(v) => v.to_sql(ty, out),
            Cell::Flag(v) => v.to_sql(ty, out),
            Cell::Value(value) => match value {
                Value::Null => Ok(IsNull::Yes),
                Value::Bool(v) => v.to_sql(ty, out),
                Value::Int64(v) => v.to_sql(ty, out),
                Value::Float64(v) => v.to_sql(ty, out),
                Value::Decimal(v) => v.to_sql(ty, out),
                Value::Text(v) => v.as_str().to_sql(ty, out),
                Value::Date(v) => v.to_sql(ty, out),
                Value::Time(v) => v.to_sql(ty, out),
                Value::Timestamp(v) => v.to_sql(ty, out),
                Value::TimestampTz(v) => v.to_sql(ty, out),
                Value::Json(v) => v.to_sql(ty, out),
            },
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // The COPY's column types are derived from the same schema the batch was
        // validated against (see `wire_type`), so every cell matches its column.
        true
    }

    to_sql_checked!();
}

/// The earliest date PostgreSQL's `date`, `timestamp` and `timestamptz` accept (4714-11-24 BC).
fn earliest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(-4713, 11, 24).expect("a valid proleptic Gregorian date")
}

/// Why `value` cannot be stored in a column of `target` type, if it cannot.
///
/// The batch already guarantees the value's kind matches the column; this catches what
/// only PostgreSQL would refuse: too many integer digits for `numeric(p, s)`, NUL
/// characters in text or JSON, dates before 4714 BC.
pub(crate) fn value_problem(value: &Value, target: &PgType) -> Option<String> {
    match value {
        Value::Decimal(d) => {
            if let PgType::Numeric(Some((p, s))) = target {
                let allowed = p.saturating_sub(*s);
                let digits = integer_digits(d);
                if digits > allowed {
                    return Some(format!(
                        "{d} has {digits} digits before the decimal point, \
                         more than the {allowed} that numeric({p}, {s}) allows"
                    ));
                }
            }
            None
        }
        Value::Text(t) if t.contains('\0') => {
            Some("the text contains a NUL character, which PostgreSQL text cannot hold".into())
        }
        Value::Json(j) if json_has_nul(j) => Some(
            "the JSON document contains a NUL character (\\u0000), which jsonb cannot hold".into(),
        ),
        Value::Date(d) if *d < earliest_date() => Some(format!(
            "{d} is before 4714-11-24 BC, the earliest PostgreSQL date"
        )),
        Value::Timestamp(t) if t.date() < earliest_date() => Some(format!(
            "{t} is before 4714-11-24 BC, the earliest PostgreSQL timestamp"
        )),
        Value::TimestampTz(t) if t.date_naive() < earliest_date() => Some(format!(
            "{t} is before 4714-11-24 BC, the earliest PostgreSQL timestamp"
        )),
        _ => None,
    }
}

fn integer_digits(d: &rust_decimal::Decimal) -> u32 {
    let int_part = d.trunc().abs();
    let mut int = int_part.mantissa() / 10i128.pow(int_part.scale());
    let mut digits = 0;
    while int > 0 {
        digits += 1;
        int /= 10;
    }
    digits
}

fn json_has_nul(j: &serde_json::Value) -> bool {
    match j {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v))
        }
        _ => false,
    }
}

/// Every logical type (decimal with one sample scale), for tests that must cover them all.
#[cfg(test)]
pub(crate) const ALL_LOGICAL_TYPES: [LogicalType; 10] = [
    LogicalType::Bool,
    LogicalType::Int64,
    LogicalType::Float64,
    LogicalType::Decimal { scale: 2 },
    LogicalType::Text,
    LogicalType::Date,
    LogicalType::Time,
    LogicalType::Timestamp,
    LogicalType::TimestampTz,
    LogicalType::Json,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn parses_what_format_type_returns() {
        for t in ALL_LOGICAL_TYPES {
            let created = PgType::for_logical(t);
            let formatted = match &created {
                PgType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
                PgType::Time => "time without time zone".into(),
                PgType::Timestamp => "timestamp without time zone".into(),
                PgType::TimestampTz => "timestamp with time zone".into(),
                other => other.sql(),
            };
            assert_eq!(PgType::parse(&formatted), created, "{t}");
        }
        assert_eq!(
            PgType::parse("character varying(20)"),
            PgType::Other("character varying(20)".into())
        );
    }

    #[test]
    fn compares_columns_with_widening_rules() {
        use LogicalType::*;
        let money2 = PgType::for_logical(Decimal { scale: 2 });
        assert_eq!(compare(&money2, Decimal { scale: 2 }), ColumnChange::Same);
        assert_eq!(compare(&money2, Decimal { scale: 4 }), ColumnChange::Widen);
        assert_eq!(compare(&money2, Int64), ColumnChange::Keep);
        assert_eq!(compare(&PgType::BigInt, Text), ColumnChange::Widen);
        assert_eq!(compare(&PgType::Text, Int64), ColumnChange::Keep);
        assert_eq!(compare(&PgType::BigInt, Bool), ColumnChange::Incompatible);
        assert_eq!(
            compare(&PgType::Other("uuid".into()), Text),
            ColumnChange::Incompatible
        );
        assert_eq!(PgType::Jsonb.convert("x", Int64), "to_jsonb(x)");
        assert_eq!(money2.convert("x", Int64), "(x)::numeric(38, 2)");
    }

    #[test]
    fn finds_values_postgres_would_refuse() {
        let col = PgType::Numeric(Some((38, 12)));
        let big = Decimal::from_str("123456789012345678901234567.5").expect("decimal");
        let problem = value_problem(&Value::Decimal(big), &col).expect("overflow");
        assert!(
            problem.contains("27 digits") && problem.contains("numeric(38, 12)"),
            "{problem}"
        );
        let fine = Decimal::from_str("-99999999999999999999999999.5").expect("decimal");
        assert!(value_problem(&Value::Decimal(fine), &PgType::Numeric(Some((38, 2)))).is_none());
        assert!(value_problem(&Value::Text("a\0b".into()), &PgType::Text).is_some());
        let json = serde_json::json!({"a": ["x\u{0}"]});
        assert!(value_problem(&Value::Json(json), &PgType::Jsonb).is_some());
        let ancient = NaiveDate::from_ymd_opt(-5000, 1, 1).expect("date");
        assert!(value_problem(&Value::Date(ancient), &PgType::Date).is_some());
        assert_eq!(integer_digits(&Decimal::from_str("0.5").expect("d")), 0);
        assert_eq!(integer_digits(&Decimal::from_str("-120.5").expect("d")), 3);
    }
}
