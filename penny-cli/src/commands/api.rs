//! `penny api <resource>`: read any Pennylane API resource and print it.

use std::io::{IsTerminal, Write};

use futures_util::StreamExt;
use penny_api::{Client, Filter, FilterValue, ListRequest, Operator, RateLimit};
use serde_json::Value as Json;

use crate::cli::{ApiArgs, Format};
use crate::config::Config;
use crate::exit::{CliError, ExitCode};

/// The list resources of the API (sub-collections are written
/// `customer_invoices/<id>/invoice_lines`).
pub const RESOURCES: &[&str] = &[
    "journals",
    "ledger_accounts",
    "ledger_entries",
    "ledger_entry_lines",
    "fiscal_years",
    "customer_invoices",
    "supplier_invoices",
    "customers",
    "suppliers",
    "products",
    "transactions",
    "bank_accounts",
    "categories",
    "category_groups",
];

/// The API client of a configuration.
pub fn client(config: &Config) -> Result<Client, CliError> {
    let token = config.api_token()?.clone();
    Client::builder()
        .base_url(config.api.base_url.clone())
        .token(token)
        .rate_limit(RateLimit::new(
            config.api.rate_limit_requests,
            config.api.rate_limit_per,
        ))
        .build()
        .map_err(|e| CliError::new(ExitCode::Config, &e))
}

/// An API error as a command error, with its class.
pub fn api_error(e: &penny_api::Error) -> CliError {
    let code = if e.is_auth() {
        ExitCode::Auth
    } else if e.is_unavailable() {
        ExitCode::Unavailable
    } else if matches!(
        e,
        penny_api::Error::Config { .. }
            | penny_api::Error::InvalidLimit { .. }
            | penny_api::Error::InvalidRequest { .. }
    ) || e.status().is_some_and(|s| (400..500).contains(&s))
    {
        ExitCode::Config
    } else {
        ExitCode::Data
    };
    CliError::new(code, e)
}

/// `FIELD:OP:VALUE` as a filter.
pub fn parse_filter(text: &str) -> Result<Filter, CliError> {
    let bad = |why: &str| {
        CliError::msg(
            ExitCode::Usage,
            format!(
                "--filter {text:?}: {why}; expected FIELD:OP:VALUE, for example date:gteq:2026-01-01 or id:in:1,2,3 (ops: eq, not_eq, lt, lteq, gt, gteq, in, not_in, start_with)"
            ),
        )
    };
    let mut parts = text.splitn(3, ':');
    let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("three parts are needed"));
    };
    if field.is_empty() {
        return Err(bad("the field is empty"));
    }
    let operator = match op {
        "eq" => Operator::Eq,
        "not_eq" => Operator::NotEq,
        "lt" => Operator::Lt,
        "lteq" => Operator::Lteq,
        "gt" => Operator::Gt,
        "gteq" => Operator::Gteq,
        "in" => Operator::In,
        "not_in" => Operator::NotIn,
        "start_with" => Operator::StartWith,
        _ => return Err(bad(&format!("unknown operator `{op}`"))),
    };
    let scalar = |v: &str| -> FilterValue {
        match v.parse::<i64>() {
            Ok(n) => n.into(),
            Err(_) => v.into(),
        }
    };
    let value: FilterValue = match operator {
        Operator::In | Operator::NotIn => {
            let items: Vec<&str> = value.split(',').map(str::trim).collect();
            match items
                .iter()
                .map(|v| v.parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(ids) => ids.into(),
                Err(_) => items
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .into(),
            }
        }
        _ => scalar(value),
    };
    Ok(Filter::new(field, operator, value))
}

fn check_resource(resource: &str) -> Result<String, CliError> {
    let path = resource.trim_matches('/');
    let parts: Vec<&str> = path.split('/').collect();
    let ok = match parts.as_slice() {
        [r] => RESOURCES.contains(r),
        [r, id, sub] => {
            matches!(*r, "customer_invoices" | "supplier_invoices")
                && id.parse::<i64>().is_ok()
                && matches!(*sub, "invoice_lines" | "payments")
        }
        _ => false,
    };
    if ok {
        Ok(format!("/{path}"))
    } else {
        Err(CliError::msg(
            ExitCode::Usage,
            format!(
                "unknown API resource `{resource}`; the resources are: {}, and customer_invoices/<id>/invoice_lines, .../payments (same for supplier_invoices)",
                RESOURCES.join(", ")
            ),
        ))
    }
}

/// A cell for the table and CSV formats: text as is, other values as JSON.
fn cell(value: Option<&Json>) -> String {
    match value {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// `penny api`.
pub async fn api(config_path: Option<&std::path::Path>, args: &ApiArgs) -> Result<(), CliError> {
    let endpoint = check_resource(&args.resource)?;
    let filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config::load(config_path)?;
    let client = client(&config)?;
    let page = args
        .limit
        .map(|l| l.clamp(1, 100) as u32)
        .unwrap_or(config.api.page_size);
    let request: ListRequest<Json> =
        ListRequest::new(client, endpoint.clone(), args.resource.clone())
            .limit(page)
            .filters(filters);
    let limit = args.limit.unwrap_or(u64::MAX) as usize;
    let mut items = request.items().take(limit);
    let stdout = std::io::stdout();
    let format = args.format.unwrap_or(if stdout.is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_err = |e: std::io::Error| CliError::new(ExitCode::Unavailable, &e);
    let mut count = 0u64;
    match format {
        Format::Json => {
            while let Some(item) = items.next().await {
                let item = item.map_err(|e| api_error(&e))?;
                writeln!(out, "{item}").map_err(write_err)?;
                count += 1;
            }
        }
        Format::Csv => {
            let mut header: Option<Vec<String>> = None;
            let mut w = csv::Writer::from_writer(&mut out);
            while let Some(item) = items.next().await {
                let item = item.map_err(|e| api_error(&e))?;
                let cols = header.get_or_insert_with(|| match &item {
                    Json::Object(m) => m.keys().cloned().collect(),
                    _ => vec!["value".into()],
                });
                if count == 0 {
                    w.write_record(cols.iter())
                        .map_err(|e| CliError::msg(ExitCode::Unavailable, e.to_string()))?;
                }
                let row: Vec<String> = cols.iter().map(|c| cell(item.get(c))).collect();
                w.write_record(&row)
                    .map_err(|e| CliError::msg(ExitCode::Unavailable, e.to_string()))?;
                count += 1;
            }
            w.flush().map_err(write_err)?;
        }
        Format::Table => {
            let mut rows: Vec<Json> = Vec::new();
            while let Some(item) = items.next().await {
                rows.push(item.map_err(|e| api_error(&e))?);
            }
            count = rows.len() as u64;
            let mut cols: Vec<String> = Vec::new();
            for r in &rows {
                if let Json::Object(m) = r {
                    for k in m.keys() {
                        if !cols.contains(k) {
                            cols.push(k.clone());
                        }
                    }
                }
            }
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| cols.iter().map(|c| shorten(&cell(r.get(c)), 40)).collect())
                .collect();
            write_table(&mut out, &cols, &cells).map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;
    drop(out);
    tracing::info!(resource = %args.resource, records = count, "done");
    Ok(())
}

fn shorten(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max - 3).collect();
        format!("{cut}...")
    }
}

/// Writes an aligned table (two spaces between columns, a dashed rule under the header).
pub fn write_table(
    out: &mut dyn Write,
    header: &[String],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(header))?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", line(&rule))?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out, "({} rows)", rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f = parse_filter("date:gteq:2026-01-01").unwrap();
        assert_eq!(f.field, "date");
        assert_eq!(f.operator, Operator::Gteq);
        assert_eq!(f.value.as_json(), &serde_json::json!("2026-01-01"));
        let f = parse_filter("id:in:1,2,3").unwrap();
        assert_eq!(f.value.as_json(), &serde_json::json!([1, 2, 3]));
        let f = parse_filter("label:eq:a:b").unwrap();
        assert_eq!(f.value.as_json(), &serde_json::json!("a:b"));
        assert!(parse_filter("date:after:2026").is_err());
        assert!(parse_filter("date").is_err());
    }

    #[test]
    fn resources_are_checked() {
        assert_eq!(check_resource("customers").unwrap(), "/customers");
        assert_eq!(
            check_resource("customer_invoices/12/invoice_lines").unwrap(),
            "/customer_invoices/12/invoice_lines"
        );
        let err = check_resource("customerz").unwrap_err();
        assert!(err.message.contains("customerz") && err.message.contains("customers"));
    }

    #[test]
    fn tables_align() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &["id".into(), "name".into()],
            &[
                vec!["1".into(), "Dupont".into()],
                vec!["22".into(), "A".into()],
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "id  name\n--  ------\n1   Dupont\n22  A\n(2 rows)\n");
    }
}
