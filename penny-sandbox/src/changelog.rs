//! `/changelogs/<resource>`: insert events of the generated records created within the
//! retention window, then the events recorded by mutations, in ascending `processed_at`.
//! `start_date` opens a window, `cursor` continues it, never both; a `start_date` older
//! than the retention is a 422.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::query::{ApiError, decode_opaque, encode_opaque, param, parse_instant, parse_limit};
use crate::records::{self, timestamp};
use crate::resource::Resource;
use crate::store::{CompanyStore, Event};
use crate::world::World;

/// Largest `limit` on changelogs.
pub(crate) const MAX_LIMIT: usize = 1000;

/// The events of a changelog are numbered: generated records' inserts `0..n` (by index),
/// then the mutation events `n..`.
fn event_at(w: &World, store: &CompanyStore, resource: Resource, pos: usize) -> Option<Event> {
    let n = records::len(w, resource);
    if pos < n {
        let t = records::created_at(w, resource, pos);
        Some(Event {
            id: records::id_of(resource, pos),
            operation: "insert",
            processed_at: t,
            created_at: t,
            updated_at: t,
        })
    } else {
        store.events(resource).get(pos - n).cloned()
    }
}

fn total(w: &World, store: &CompanyStore, resource: Resource) -> usize {
    records::len(w, resource) + store.events(resource).len()
}

/// First position whose `processed_at` is at or after `t`.
fn first_at_or_after(
    w: &World,
    store: &CompanyStore,
    resource: Resource,
    t: DateTime<Utc>,
) -> usize {
    let (mut lo, mut hi) = (0, total(w, store, resource));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let before = event_at(w, store, resource, mid).is_some_and(|e| e.processed_at < t);
        if before {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Serves one changelog page.
pub(crate) fn page(
    w: &World,
    store: &CompanyStore,
    resource: Resource,
    pairs: &[(String, String)],
    now: DateTime<Utc>,
    retention: chrono::Duration,
) -> Result<Value, ApiError> {
    let limit = parse_limit(pairs, MAX_LIMIT)?;
    let oldest = now - retention;
    let start = match (param(pairs, "start_date"), param(pairs, "cursor")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "start_date and cursor cannot be used together",
            ));
        }
        (Some(raw), None) => {
            let t = parse_instant(raw).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "start_date `{raw}` is not an ISO 8601 date or timestamp"
                ))
            })?;
            if t < oldest {
                return Err(ApiError::unprocessable(format!(
                    "start_date {raw} is older than the changelog retention (oldest available: {})",
                    timestamp(oldest)
                )));
            }
            first_at_or_after(w, store, resource, t)
        }
        (None, Some(raw)) => decode_opaque(raw)
            .and_then(|s| s.strip_prefix("c1|")?.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!("cursor `{raw}` is invalid or expired"))
            })?,
        (None, None) => first_at_or_after(w, store, resource, oldest),
    };
    let end = total(w, store, resource);
    let stop = (start + limit).min(end);
    let items: Vec<Value> = (start..stop)
        .filter_map(|pos| event_at(w, store, resource, pos))
        .map(|e| {
            json!({
                "id": e.id,
                "operation": e.operation,
                "processed_at": timestamp(e.processed_at),
                "created_at": timestamp(e.created_at),
                "updated_at": timestamp(e.updated_at),
            })
        })
        .collect();
    let has_more = stop < end;
    Ok(json!({
        "items": items,
        "has_more": has_more,
        "next_cursor": has_more.then(|| encode_opaque(&format!("c1|{stop}"))),
    }))
}
