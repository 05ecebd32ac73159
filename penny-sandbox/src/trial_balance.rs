//! `/trial_balance`: debits and credits per account over a period, computed from the
//! ledger (generated lines and mutations). `is_auxiliary=true` details the auxiliary
//! accounts (411..., 401...); otherwise they are summed into their general account
//! (411000, 401000).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::chart::GENERAL_ACCOUNTS;
use crate::ledger;
use crate::listing::partition;
use crate::query::{ApiError, decode_opaque, encode_opaque, param, parse_limit};
use crate::records::{self, amount};
use crate::resource::Resource;
use crate::store::{CompanyStore, Overlaid};
use crate::world::World;

/// Largest `limit` on the trial balance.
pub(crate) const MAX_LIMIT: usize = 1000;

/// One account's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub number: String,
    pub label: String,
    pub debits: Decimal,
    pub credits: Decimal,
}

/// The period and the view asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub auxiliary: bool,
}

fn root(number: &str) -> Option<&'static (&'static str, &'static str)> {
    let root = match number.get(..3)? {
        "411" => "411000",
        "401" => "401000",
        _ => return None,
    };
    GENERAL_ACCOUNTS.iter().find(|(n, _)| *n == root)
}

/// Computes the rows of `period` (sorted by number).
pub(crate) fn compute(w: &World, store: &CompanyStore, period: Period) -> Vec<Row> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    // The label is looked up once per row, when the row is made.
    let mut add = |number: String, label: &dyn Fn() -> String, debit: Decimal, credit: Decimal| {
        let (number, root_label) = match (period.auxiliary, root(&number)) {
            (false, Some((n, l))) if number != *n => ((*n).to_owned(), Some(*l)),
            _ => (number, None),
        };
        let row = rows.entry(number.clone()).or_insert_with(|| Row {
            label: root_label.map_or_else(label, str::to_owned),
            number,
            debits: Decimal::ZERO,
            credits: Decimal::ZERO,
        });
        row.debits += debit;
        row.credits += credit;
    };
    let overlay = store.overlay(Resource::LedgerEntryLines);
    let first = partition(w.entries, |e| w.entry_date(e) < period.start);
    let last = partition(w.entries, |e| w.entry_date(e) <= period.end);
    for e in first..last {
        let entry = ledger::entry(w, e);
        let (first_line, _) = w.entry_lines(e);
        for (pos, line) in entry.lines.iter().enumerate() {
            let id = records::id_of(Resource::LedgerEntryLines, first_line + pos);
            if overlay.is_some_and(|o| o.contains_key(&id)) {
                continue;
            }
            let index = records::account_index(w, line.account);
            let (number, _) = records::account_number_label(w, index);
            let id = records::id_of(Resource::LedgerAccounts, index);
            add(
                number,
                &|| account_label(w, store, id),
                line.debit,
                line.credit,
            );
        }
    }
    for state in overlay.into_iter().flat_map(|o| o.values()) {
        let Overlaid::Present { record, .. } = state else {
            continue;
        };
        let date = record
            .get("date")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<NaiveDate>().ok());
        if !date.is_some_and(|d| d >= period.start && d <= period.end) {
            continue;
        }
        let dec = |f: &str| {
            record
                .get(f)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Decimal>().ok())
                .unwrap_or_default()
        };
        let account = record.get("ledger_account");
        let number = account
            .and_then(|a| a.get("number"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // A line's `ledger_account` carries no label (the spec's shape): the account's
        // own record has it, as it is now.
        let id = account.and_then(|a| a.get("id")).and_then(Value::as_i64);
        let label = || id.map(|id| account_label(w, store, id)).unwrap_or_default();
        add(number, &label, dec("debit"), dec("credit"));
    }
    rows.into_values().collect()
}

/// The label of ledger account `id` as it is now (overlaid, else generated).
fn account_label(w: &World, store: &CompanyStore, id: i64) -> String {
    match store.get(Resource::LedgerAccounts, id) {
        Some(Overlaid::Present { record, .. }) => record
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        Some(Overlaid::Deleted) => String::new(),
        None => records::index_of(w, Resource::LedgerAccounts, id)
            .map(|i| records::account_number_label(w, i).1)
            .unwrap_or_default(),
    }
}

/// Parses the request's period.
pub(crate) fn parse_period(pairs: &[(String, String)]) -> Result<Period, ApiError> {
    let date = |name: &str| -> Result<NaiveDate, ApiError> {
        let raw = param(pairs, name)
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required (YYYY-MM-DD)")))?;
        raw.parse().map_err(|_| {
            ApiError::bad_request(format!("{name} `{raw}` is not a date (YYYY-MM-DD)"))
        })
    };
    let start = date("period_start")?;
    let end = date("period_end")?;
    if end < start {
        return Err(ApiError::bad_request("period_end is before period_start"));
    }
    let auxiliary = match param(pairs, "is_auxiliary") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "is_auxiliary must be true or false, got `{other}`"
            )));
        }
    };
    Ok(Period {
        start,
        end,
        auxiliary,
    })
}

/// One page of rows.
pub(crate) fn page(rows: &[Row], pairs: &[(String, String)]) -> Result<Value, ApiError> {
    let limit = parse_limit(pairs, MAX_LIMIT)?;
    let start = match param(pairs, "cursor") {
        None => 0,
        Some(raw) => decode_opaque(raw)
            .and_then(|s| s.strip_prefix("t1|")?.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!("cursor `{raw}` is invalid or expired"))
            })?,
    };
    let stop = (start + limit).min(rows.len());
    let items: Vec<Value> = rows
        .get(start..stop)
        .unwrap_or(&[])
        .iter()
        .map(|r| {
            json!({
                "number": r.number,
                "formatted_number": r.number,
                "label": r.label,
                "debits": amount(r.debits),
                "credits": amount(r.credits),
            })
        })
        .collect();
    let has_more = stop < rows.len();
    Ok(json!({
        "items": items,
        "has_more": has_more,
        "next_cursor": has_more.then(|| encode_opaque(&format!("t1|{stop}"))),
    }))
}
