//! Typed filters, serialised to the API's JSON array.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equal.
    Eq,
    /// Not equal.
    NotEq,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lteq,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gteq,
    /// One of a list.
    In,
    /// None of a list.
    NotIn,
    /// Text starting with.
    StartWith,
}

/// A value a filter compares with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FilterValue(serde_json::Value);

impl FilterValue {
    /// The value as JSON.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }
}

macro_rules! filter_value_from {
    ($($t:ty),*) => {$(
        impl From<$t> for FilterValue {
            fn from(v: $t) -> Self { FilterValue(serde_json::Value::from(v)) }
        }
    )*};
}
filter_value_from!(i64, i32, u32, u64, bool, String, &str);

impl From<NaiveDate> for FilterValue {
    fn from(v: NaiveDate) -> Self {
        FilterValue(serde_json::Value::String(v.format("%Y-%m-%d").to_string()))
    }
}

impl From<DateTime<Utc>> for FilterValue {
    fn from(v: DateTime<Utc>) -> Self {
        FilterValue(serde_json::Value::String(
            v.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ))
    }
}

impl From<Decimal> for FilterValue {
    fn from(v: Decimal) -> Self {
        FilterValue(serde_json::Value::String(v.to_string()))
    }
}

impl<T: Into<FilterValue>> From<Vec<T>> for FilterValue {
    fn from(values: Vec<T>) -> Self {
        FilterValue(serde_json::Value::Array(
            values.into_iter().map(|v| v.into().0).collect(),
        ))
    }
}

impl From<&[i64]> for FilterValue {
    fn from(values: &[i64]) -> Self {
        values.to_vec().into()
    }
}

/// One condition: `field operator value`. Conditions of a request are combined with AND.
///
/// ```
/// use penny_api::Filter;
/// use chrono::NaiveDate;
///
/// let filters = vec![
///     Filter::gteq("date", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
///     Filter::is_in("id", vec![1i64, 2, 3]),
/// ];
/// assert_eq!(
///     Filter::to_query(&filters),
///     r#"[{"field":"date","operator":"gteq","value":"2026-01-01"},{"field":"id","operator":"in","value":[1,2,3]}]"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    /// The field (`id`, `date`, `updated_at`, `customer_id`...; each endpoint accepts its own).
    pub field: String,
    /// The comparison.
    pub operator: Operator,
    /// The operand (an array for `in` and `not_in`).
    pub value: FilterValue,
}

impl Filter {
    /// `field operator value`.
    pub fn new(
        field: impl Into<String>,
        operator: Operator,
        value: impl Into<FilterValue>,
    ) -> Self {
        Filter {
            field: field.into(),
            operator,
            value: value.into(),
        }
    }

    /// `field = value`.
    pub fn eq(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::Eq, value)
    }

    /// `field != value`.
    pub fn not_eq(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::NotEq, value)
    }

    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::Lt, value)
    }

    /// `field <= value`.
    pub fn lteq(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::Lteq, value)
    }

    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::Gt, value)
    }

    /// `field >= value`.
    pub fn gteq(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::Gteq, value)
    }

    /// `field` is one of `values` (the API's `in`).
    pub fn is_in(field: impl Into<String>, values: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::In, values)
    }

    /// `field` is none of `values`.
    pub fn not_in(field: impl Into<String>, values: impl Into<FilterValue>) -> Self {
        Filter::new(field, Operator::NotIn, values)
    }

    /// `field` starts with `prefix`.
    pub fn start_with(field: impl Into<String>, prefix: impl Into<String>) -> Self {
        Filter::new(field, Operator::StartWith, prefix.into())
    }

    /// The `filter` query parameter for `filters` (a JSON array).
    pub fn to_query(filters: &[Filter]) -> String {
        // A Vec of plain structs of strings and JSON values always serialises.
        serde_json::to_string(filters).expect("filters serialise to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_serialises_as_the_api_spells_it() {
        let all = [
            (Filter::eq("a", 1i64), "eq"),
            (Filter::not_eq("a", 1i64), "not_eq"),
            (Filter::lt("a", 1i64), "lt"),
            (Filter::lteq("a", 1i64), "lteq"),
            (Filter::gt("a", 1i64), "gt"),
            (Filter::gteq("a", 1i64), "gteq"),
            (Filter::is_in("a", vec![1i64]), "in"),
            (Filter::not_in("a", vec![1i64]), "not_in"),
            (Filter::start_with("a", "41"), "start_with"),
        ];
        for (filter, name) in all {
            let json: serde_json::Value =
                serde_json::from_str(&Filter::to_query(&[filter])).expect("json");
            assert_eq!(json[0]["operator"], name);
        }
    }

    #[test]
    fn timestamps_and_decimals_are_strings() {
        let at = DateTime::parse_from_rfc3339("2026-11-01T10:00:00+01:00")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(
            Filter::to_query(&[Filter::gt("updated_at", at)]),
            r#"[{"field":"updated_at","operator":"gt","value":"2026-11-01T09:00:00Z"}]"#
        );
        assert_eq!(
            Filter::eq("amount", Decimal::new(1050, 2)).value.as_json(),
            &serde_json::json!("10.50")
        );
    }
}
