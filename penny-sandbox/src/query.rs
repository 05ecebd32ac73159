//! The list dialect: `limit`, `cursor`, `sort` and `filter` parsed as the real API does,
//! and filters evaluated on records.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::spec::{self, EndpointRules, Operator};

/// An error answer: HTTP status, error code and message (the API's JSON error body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "bad_request",
            message: message.into(),
        }
    }
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            code: "not_found",
            message: message.into(),
        }
    }
    pub(crate) fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 422,
            code: "unprocessable_entity",
            message: message.into(),
        }
    }
}

/// The key a list is sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortField {
    Id,
    Date,
}

/// `sort`: field and direction (default `-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sort {
    pub field: SortField,
    pub descending: bool,
}

/// Where a page stops: the sort key of its last record (id, and date when known).
/// The cursor carries no filter and no sort, as the real API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub id: i64,
    pub date: Option<NaiveDate>,
}

/// One `{field, operator, value}` of `filter`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub field: String,
    pub op: Operator,
    pub value: Value,
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListQuery {
    pub limit: usize,
    pub cursor: Option<Cursor>,
    pub sort: Sort,
    pub filters: Vec<Filter>,
}

/// The default `limit`.
pub(crate) const DEFAULT_LIMIT: usize = 20;

const MASK: u8 = 0xA5;

/// Makes a cursor string opaque (and URL-safe).
pub(crate) fn encode_opaque(plain: &str) -> String {
    plain.bytes().map(|b| format!("{:02x}", b ^ MASK)).collect()
}

/// Reverses [`encode_opaque`]; `None` for a string it did not make.
pub(crate) fn decode_opaque(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&token[i..i + 2], 16)
                .ok()
                .map(|b| b ^ MASK)
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        let date = self.date.map(|d| d.to_string()).unwrap_or_default();
        encode_opaque(&format!("p1|{}|{date}", self.id))
    }

    pub(crate) fn decode(token: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::bad_request(format!("cursor `{token}` is invalid or expired"));
        let plain = decode_opaque(token).ok_or_else(bad)?;
        let mut parts = plain.split('|');
        if parts.next() != Some("p1") {
            return Err(bad());
        }
        let id = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let date = match parts.next() {
            Some("") | None => None,
            Some(d) => Some(d.parse().map_err(|_| bad())?),
        };
        Ok(Cursor { id, date })
    }
}

/// The value of query parameter `name`, last occurrence.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses `limit` (1..=max, default 20).
pub(crate) fn parse_limit(pairs: &[(String, String)], max: usize) -> Result<usize, ApiError> {
    match param(pairs, "limit") {
        None => Ok(DEFAULT_LIMIT.min(max)),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit must be an integer between 1 and {max}, got `{raw}`"
            ))),
        },
    }
}

/// Parses `filter` (a JSON array of `{field, operator, value}`) under `rules`: a field
/// or an operator the endpoint does not list is a 400.
pub(crate) fn parse_filters(
    raw: Option<&str>,
    rules: &EndpointRules,
) -> Result<Vec<Filter>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    if rules.filters.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{} does not accept `filter`",
            rules.path
        )));
    }
    let parsed: Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("filter is not valid JSON: {e}")))?;
    let Value::Array(items) = parsed else {
        return Err(ApiError::bad_request(
            "filter must be a JSON array of {field, operator, value}",
        ));
    };
    let allowed = || {
        rules
            .filters
            .iter()
            .map(|(f, _)| *f)
            .collect::<Vec<_>>()
            .join(", ")
    };
    items
        .into_iter()
        .map(|item| {
            let field = item.get("field").and_then(Value::as_str).ok_or_else(|| {
                ApiError::bad_request(format!("filter item {item} has no string `field`"))
            })?;
            let op_raw = item
                .get("operator")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("filter item {item} has no string `operator`"))
                })?;
            let op = Operator::parse(op_raw).ok_or_else(|| {
                ApiError::bad_request(format!("unknown filter operator `{op_raw}`"))
            })?;
            let ops = spec::operators(rules, field).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "filtering {} on `{field}` is not supported (allowed: {})",
                    rules.path,
                    allowed()
                ))
            })?;
            if !ops.contains(&op) {
                return Err(ApiError::bad_request(format!(
                    "operator `{op_raw}` is not supported on `{field}` of {} (allowed: {})",
                    rules.path,
                    ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
                )));
            }
            let value = item.get("value").cloned().ok_or_else(|| {
                ApiError::bad_request(format!("filter on `{field}` has no `value`"))
            })?;
            if matches!(op, Operator::In | Operator::NotIn) && !value.is_array() {
                return Err(ApiError::bad_request(format!(
                    "filter `{field} {op_raw}` needs an array value"
                )));
            }
            Ok(Filter {
                field: field.to_owned(),
                op,
                value,
            })
        })
        .collect()
}

/// Parses `sort` under `rules` (default `-id`). `date` sorts by date; the other
/// fields the spec lists (`id`, a fiscal year's `start`, an invoice line's `rank`)
/// grow with the id in the sandbox, so they sort by id.
pub(crate) fn parse_sort(raw: Option<&str>, rules: &EndpointRules) -> Result<Sort, ApiError> {
    let Some(raw) = raw else {
        return Ok(Sort {
            field: SortField::Id,
            descending: true,
        });
    };
    let (descending, name) = match raw.strip_prefix('-') {
        Some(name) => (true, name),
        None => (false, raw),
    };
    if !rules.sorts.contains(&name) {
        return Err(ApiError::bad_request(if rules.sorts.is_empty() {
            format!("{} does not accept `sort`", rules.path)
        } else {
            format!(
                "sort `{raw}` is not supported on {} (available fields: {})",
                rules.path,
                rules.sorts.join(", ")
            )
        }));
    }
    let field = if name == "date" {
        SortField::Date
    } else {
        SortField::Id
    };
    Ok(Sort { field, descending })
}

/// Parses a whole list request under `rules`.
pub(crate) fn parse_list(
    pairs: &[(String, String)],
    rules: &EndpointRules,
) -> Result<ListQuery, ApiError> {
    Ok(ListQuery {
        limit: parse_limit(pairs, rules.max_limit.unwrap_or(DEFAULT_LIMIT))?,
        cursor: param(pairs, "cursor").map(Cursor::decode).transpose()?,
        sort: parse_sort(param(pairs, "sort"), rules)?,
        filters: parse_filters(param(pairs, "filter"), rules)?,
    })
}

/// The value of `field` in a record: the field itself, or `x.id` for a field `x_id`.
pub(crate) fn field_value<'a>(record: &'a Value, field: &str) -> Option<&'a Value> {
    if let Some(v) = record.get(field) {
        return Some(v);
    }
    let stem = field.strip_suffix("_id")?;
    record.get(stem)?.get("id")
}

/// Parses a timestamp or a date (midnight UTC) given in a filter or a record.
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let date: NaiveDate = s.get(..10)?.parse().ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

fn looks_like_date(s: &str) -> bool {
    s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-'
}

fn compare(record: &Value, wanted: &Value) -> Option<Ordering> {
    match record {
        Value::Number(n) => {
            let a = n.as_i64()?;
            let b = match wanted {
                Value::Number(m) => m.as_i64()?,
                Value::String(s) => s.parse().ok()?,
                _ => return None,
            };
            Some(a.cmp(&b))
        }
        Value::Bool(a) => {
            let b = match wanted {
                Value::Bool(b) => *b,
                Value::String(s) => s.parse().ok()?,
                _ => return None,
            };
            Some(a.cmp(&b))
        }
        Value::String(a) => {
            let b = match wanted {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            if a.len() > 10 && a.as_bytes().get(10) == Some(&b'T') {
                return Some(parse_instant(a)?.cmp(&parse_instant(&b)?));
            }
            if looks_like_date(a) {
                let a: NaiveDate = a.parse().ok()?;
                let b: NaiveDate = b.get(..10)?.parse().ok()?;
                return Some(a.cmp(&b));
            }
            Some(a.as_str().cmp(b.as_str()))
        }
        _ => None,
    }
}

impl Filter {
    /// Whether `record` passes this filter.
    pub(crate) fn matches(&self, record: &Value) -> bool {
        // `credit_note` is not a field of the record: a credit note credits an invoice.
        let derived;
        let actual = if self.field == "credit_note" {
            derived = Value::Bool(record.get("credited_invoice").is_some_and(|c| !c.is_null()));
            &derived
        } else {
            field_value(record, &self.field).unwrap_or(&Value::Null)
        };
        // An array field (`emails`) matches `in` when one of its elements is listed.
        if let (Value::Array(elements), Operator::In) = (actual, self.op) {
            return elements.iter().any(|element| {
                self.value.as_array().is_some_and(|v| {
                    v.iter()
                        .any(|w| compare(element, w) == Some(Ordering::Equal))
                })
            });
        }
        let eq = |wanted: &Value| {
            if actual.is_null() || wanted.is_null() {
                actual.is_null() && wanted.is_null()
            } else {
                compare(actual, wanted) == Some(Ordering::Equal)
            }
        };
        let ord = || compare(actual, &self.value);
        match self.op {
            Operator::Eq => eq(&self.value),
            Operator::NotEq => !eq(&self.value),
            Operator::Lt => ord() == Some(Ordering::Less),
            Operator::Lteq => matches!(ord(), Some(Ordering::Less | Ordering::Equal)),
            Operator::Gt => ord() == Some(Ordering::Greater),
            Operator::Gteq => matches!(ord(), Some(Ordering::Greater | Ordering::Equal)),
            Operator::In => self.value.as_array().is_some_and(|v| v.iter().any(eq)),
            Operator::NotIn => self.value.as_array().is_some_and(|v| !v.iter().any(eq)),
            Operator::StartWith => match (actual, &self.value) {
                (Value::String(a), Value::String(p)) => a.starts_with(p.as_str()),
                _ => false,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limits_out_of_bounds_are_refused() {
        assert_eq!(parse_limit(&pairs(&[]), 100), Ok(20));
        assert_eq!(parse_limit(&pairs(&[("limit", "100")]), 100), Ok(100));
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(
                parse_limit(&pairs(&[("limit", bad)]), 100)
                    .unwrap_err()
                    .status,
                400
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            id: 42,
            date: NaiveDate::from_ymd_opt(2025, 3, 1),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert!(Cursor::decode("zz").is_err());
        assert!(Cursor::decode(&encode_opaque("p2|1|")).is_err());
    }

    #[test]
    fn filters_compare_numbers_dates_timestamps_and_references() {
        let record = json!({
            "id": 10, "date": "2025-03-01", "updated_at": "2025-03-01T10:00:00+00:00",
            "customer": {"id": 7}, "paid": false, "number": "411DUPONT"
        });
        let f = |field: &str, op, value| Filter {
            field: field.into(),
            op,
            value,
        };
        assert!(f("id", Operator::In, json!([1, 10])).matches(&record));
        assert!(f("id", Operator::Gt, json!("9")).matches(&record));
        assert!(!f("id", Operator::Lt, json!(10)).matches(&record));
        assert!(f("date", Operator::Gteq, json!("2025-03-01")).matches(&record));
        assert!(
            f(
                "updated_at",
                Operator::Gt,
                json!("2025-03-01T11:00:00+02:00")
            )
            .matches(&record)
        );
        assert!(f("customer_id", Operator::Eq, json!(7)).matches(&record));
        assert!(f("paid", Operator::Eq, json!(false)).matches(&record));
        assert!(f("number", Operator::StartWith, json!("411")).matches(&record));
        assert!(f("id", Operator::NotIn, json!([1])).matches(&record));
    }

    #[test]
    fn unknown_fields_operators_and_sorts_are_400() {
        let r = spec::rules_for("/customers").unwrap();
        let bad = |raw: &str| parse_filters(Some(raw), r).unwrap_err().status;
        assert_eq!(bad(r#"[{"field":"color","operator":"eq","value":1}]"#), 400);
        assert_eq!(bad(r#"[{"field":"id","operator":"near","value":1}]"#), 400);
        assert_eq!(bad(r#"[{"field":"id","operator":"in","value":1}]"#), 400);
        assert_eq!(
            bad(r#"[{"field":"updated_at","operator":"gt","value":"2025-01-01"}]"#),
            400
        );
        // A listed field with an operator the spec does not give it.
        assert_eq!(
            bad(r#"[{"field":"customer_type","operator":"in","value":["company"]}]"#),
            400
        );
        assert_eq!(bad("{}"), 400);
        assert!(parse_sort(Some("date"), r).is_err());
        let lines = spec::rules_for("/ledger_entry_lines").unwrap();
        assert_eq!(
            parse_sort(Some("date"), lines).map(|s| s.field),
            Ok(SortField::Date)
        );
        let groups = spec::rules_for("/category_groups").unwrap();
        assert!(parse_sort(Some("id"), groups).is_err());
        assert!(parse_filters(Some("[]"), groups).is_err());
    }

    #[test]
    fn credit_notes_and_email_lists_are_filterable() {
        let note = json!({"credited_invoice": {"id": 1}, "emails": ["a@x.fr", "b@x.fr"]});
        let f = |field: &str, op, value| Filter {
            field: field.into(),
            op,
            value,
        };
        assert!(f("credit_note", Operator::Eq, json!(true)).matches(&note));
        assert!(
            !f("credit_note", Operator::Eq, json!(true))
                .matches(&json!({"credited_invoice": null}))
        );
        assert!(f("emails", Operator::In, json!(["b@x.fr"])).matches(&note));
        assert!(!f("emails", Operator::In, json!(["c@x.fr"])).matches(&note));
    }
}
