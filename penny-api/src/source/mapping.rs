//! Records (raw JSON) to rows of a raw table.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use penny_transform::{LogicalType, Row, Value};
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::tables::{ColumnSpec, Field, TableSpec};

/// A record that does not fit its raw table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{table} record {id}: field `{field}`: expected {expected}, found {found}")]
pub struct MappingError {
    /// The stream (and table).
    pub table: String,
    /// The record's id (`?` when it has none).
    pub id: String,
    /// The field of the record.
    pub field: String,
    /// What the column needs.
    pub expected: String,
    /// What the record holds (shortened).
    pub found: String,
}

/// Maps one record into a row of `table`.
pub(crate) fn row(
    table: &TableSpec,
    company_id: i64,
    parent_id: Option<i64>,
    record: &Json,
) -> Result<Row, MappingError> {
    let id = record.get("id").and_then(as_i64);
    let fail = |field: &str, expected: String, found: &Json| MappingError {
        table: table.name.to_owned(),
        id: id.map_or_else(|| "?".to_owned(), |id| id.to_string()),
        field: field.to_owned(),
        expected,
        found: shorten(found),
    };
    if id.is_none() && table.columns.iter().any(|c| c.name == "id") {
        return Err(fail(
            "id",
            "an integer id".to_owned(),
            record.get("id").unwrap_or(&Json::Null),
        ));
    }
    table
        .columns
        .iter()
        .map(|spec| cell(spec, company_id, parent_id, record).map_err(|(f, e, v)| fail(&f, e, &v)))
        .collect()
}

type CellError = (String, String, Json);

fn cell(
    spec: &ColumnSpec,
    company_id: i64,
    parent_id: Option<i64>,
    record: &Json,
) -> Result<Value, CellError> {
    match spec.field {
        Field::CompanyId => Ok(Value::Int64(company_id)),
        Field::ParentId => Ok(parent_id.map_or(Value::Null, Value::Int64)),
        Field::Scalar(ty) => scalar(spec.name, ty, record.get(spec.name)),
        Field::RefId(field) => {
            let value = match record.get(field) {
                Some(Json::Object(object)) => object.get("id").cloned().unwrap_or(Json::Null),
                Some(Json::Null) | None => record.get(spec.name).cloned().unwrap_or(Json::Null),
                Some(other) => other.clone(),
            };
            scalar(&format!("{field}.id"), LogicalType::Int64, Some(&value))
        }
        Field::Nested(object, field, ty) => {
            let value = record.get(object).and_then(|o| o.get(field));
            scalar(&format!("{object}.{field}"), ty, value)
        }
        Field::Lettering => lettering(record),
    }
}

fn lettering(record: &Json) -> Result<Value, CellError> {
    if let Some(Json::String(code)) = record.get("lettering")
        && !code.is_empty()
    {
        return Ok(Value::Text(code.clone()));
    }
    // The spec's shape is `{"ids": [integer], "url": string}`; an array of references
    // (an older shape) is read too.
    let lines = match record.get("lettered_ledger_entry_lines") {
        Some(Json::Array(lines)) => lines,
        Some(Json::Object(object)) => match object.get("ids") {
            Some(Json::Array(ids)) => ids,
            None | Some(Json::Null) => return Ok(Value::Null),
            Some(other) => {
                return Err((
                    "lettered_ledger_entry_lines.ids".to_owned(),
                    "an array of integer ids".to_owned(),
                    other.clone(),
                ));
            }
        },
        None | Some(Json::Null) => return Ok(Value::Null),
        Some(other) => {
            return Err((
                "lettered_ledger_entry_lines".to_owned(),
                "an object {\"ids\": [integer], \"url\": string}".to_owned(),
                other.clone(),
            ));
        }
    };
    let mut smallest = record.get("id").and_then(as_i64);
    for line in lines {
        let id = match line {
            Json::Object(o) => o.get("id").and_then(as_i64),
            other => as_i64(other),
        };
        let Some(id) = id else {
            return Err((
                "lettered_ledger_entry_lines.ids".to_owned(),
                "integer ids".to_owned(),
                line.clone(),
            ));
        };
        smallest = Some(smallest.map_or(id, |s| s.min(id)));
    }
    Ok(if lines.is_empty() {
        Value::Null
    } else {
        smallest.map_or(Value::Null, |id| Value::Text(id.to_string()))
    })
}

fn scalar(field: &str, ty: LogicalType, value: Option<&Json>) -> Result<Value, CellError> {
    let value = match value {
        None | Some(Json::Null) => return Ok(Value::Null),
        Some(value) => value,
    };
    let fail = |expected: &str| Err((field.to_owned(), expected.to_owned(), value.clone()));
    match ty {
        LogicalType::Json => Ok(Value::Json(value.clone())),
        LogicalType::Text => match value {
            Json::String(s) => Ok(Value::Text(s.clone())),
            Json::Number(n) => Ok(Value::Text(n.to_string())),
            Json::Bool(b) => Ok(Value::Text(b.to_string())),
            _ => fail("text"),
        },
        LogicalType::Int64 => as_i64(value)
            .map(Value::Int64)
            .map_or_else(|| fail("an integer"), Ok),
        LogicalType::Bool => match value {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => fail("a boolean"),
        },
        LogicalType::Decimal { scale } => {
            let text = match value {
                Json::String(s) => s.trim().to_owned(),
                Json::Number(n) => n.to_string(),
                _ => return fail("a decimal amount"),
            };
            let Ok(mut decimal) =
                Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text))
            else {
                return fail("a decimal amount");
            };
            if decimal.scale() > scale {
                decimal = decimal.normalize();
            }
            if decimal.scale() > scale {
                return fail(&format!("at most {scale} digits after the point"));
            }
            Ok(Value::Decimal(decimal))
        }
        LogicalType::Date => match value {
            Json::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Value::Date)
                .or_else(|_| fail("a date (YYYY-MM-DD)")),
            _ => fail("a date (YYYY-MM-DD)"),
        },
        LogicalType::TimestampTz => match value {
            Json::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Value::TimestampTz(t.with_timezone(&Utc)))
                .or_else(|_| fail("an ISO 8601 timestamp")),
            _ => fail("an ISO 8601 timestamp"),
        },
        other => fail(&other.to_string()),
    }
}

pub(crate) fn as_i64(value: &Json) -> Option<i64> {
    match value {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn shorten(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        return text.chars().take(80).collect::<String>() + "...";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::tables::table;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_ledger_line_maps_to_the_contracted_columns() {
        let spec = table("ledger_entry_lines").expect("table");
        let schema = spec.schema();
        let record = json!({
            "id": 10, "debit": "120.50", "credit": "0.00", "label": "Facture 1",
            "date": "2026-03-01", "journal": {"id": 3, "url": "x"},
            "ledger_entry": {"id": 7}, "ledger_account": {"id": 5, "number": "411DUPONT", "label": "Dupont"},
            "lettered_ledger_entry_lines": {"ids": [12, 8], "url": "https://x/ledger_entry_lines/10/lettered_ledger_entry_lines"},
            "categories": [], "updated_at": "2026-03-01T10:00:00+01:00", "unknown": 1
        });
        let row = row(spec, 99, None, &record).expect("maps");
        let get = |name: &str| row[schema.column_index(name).expect(name)].clone();
        assert_eq!(get("company_id"), Value::Int64(99));
        assert_eq!(get("debit"), Value::Decimal(Decimal::new(12050, 2)));
        assert_eq!(get("journal_id"), Value::Int64(3));
        assert_eq!(get("ledger_entry_id"), Value::Int64(7));
        assert_eq!(
            get("ledger_account_number"),
            Value::Text("411DUPONT".into())
        );
        assert_eq!(get("lettering"), Value::Text("8".into()));
        assert_eq!(
            get("date"),
            Value::Date(NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"))
        );
        assert!(
            matches!(get("updated_at"), Value::TimestampTz(t) if t.to_rfc3339() == "2026-03-01T09:00:00+00:00")
        );
        penny_transform::Batch::upsert(std::sync::Arc::new(schema), vec![row]).expect("fits");
    }

    #[test]
    fn lettering_is_the_smallest_id_of_the_group_from_the_ids_object() {
        let spec = table("ledger_entry_lines").expect("table");
        let schema = spec.schema();
        let lettering = |record: Json| {
            let row = row(spec, 1, None, &record).expect("maps");
            row[schema.column_index("lettering").expect("column")].clone()
        };
        // The line's own id is the smallest of its group.
        assert_eq!(
            lettering(json!({"id": 5, "lettered_ledger_entry_lines": {"ids": [9, 7], "url": "u"}})),
            Value::Text("5".into())
        );
        assert_eq!(
            lettering(json!({"id": 9, "lettered_ledger_entry_lines": {"ids": [5, 7], "url": "u"}})),
            Value::Text("5".into())
        );
        // Not lettered.
        assert_eq!(
            lettering(json!({"id": 9, "lettered_ledger_entry_lines": {"ids": [], "url": "u"}})),
            Value::Null
        );
        assert_eq!(lettering(json!({"id": 9})), Value::Null);
        // Anything else is an error naming the field.
        let err = row(
            spec,
            1,
            None,
            &json!({"id": 9, "lettered_ledger_entry_lines": "5"}),
        )
        .expect_err("not the spec's shape");
        assert_eq!(err.field, "lettered_ledger_entry_lines");
        let err = row(
            spec,
            1,
            None,
            &json!({"id": 9, "lettered_ledger_entry_lines": {"ids": ["x"], "url": "u"}}),
        )
        .expect_err("ids are integers");
        assert_eq!(err.field, "lettered_ledger_entry_lines.ids");
    }

    #[test]
    fn too_many_digits_is_an_error_naming_the_record() {
        let spec = table("customer_invoices").expect("table");
        let record = json!({"id": 42, "amount": "10.125", "date": "2026-01-01"});
        let err = row(spec, 1, None, &record).expect_err("3 digits in decimal(2)");
        assert_eq!(err.id, "42");
        assert_eq!(err.field, "amount");
        assert!(err.to_string().contains("at most 2 digits"), "{err}");
        // Trailing zeros are not precision.
        let record = json!({"id": 43, "amount": "10.100", "date": "2026-01-01"});
        assert!(row(spec, 1, None, &record).is_ok());
        let record = json!({"id": 44, "amount": "12,50"});
        let err = row(spec, 1, None, &record).expect_err("not a decimal");
        assert_eq!((err.id.as_str(), err.field.as_str()), ("44", "amount"));
    }
}
