//! Cursor pagination over the generated records merged with the mutations' overlay,
//! in `id` or `date` order, with filters. Generated records are rebuilt only for the
//! candidates a page looks at: `id` and `date` filters and the cursor
//! narrow the index range by binary search (those keys grow with the index).

use std::cmp::Ordering;

use chrono::NaiveDate;
use serde_json::Value;

use crate::query::{Cursor, Filter, ListQuery, SortField};
use crate::records::{self, RecordMaker};
use crate::resource::Resource;
use crate::spec::Operator;
use crate::store::{CompanyStore, Overlaid};
use crate::world::World;

/// A page of records, each as JSON text.
#[derive(Debug)]
pub(crate) struct Page {
    pub items: Vec<String>,
    pub next_cursor: Option<String>,
}

type Key = (Option<NaiveDate>, i64);

fn key_of_value(record: &Value, field: SortField) -> Key {
    let id = record.get("id").and_then(Value::as_i64).unwrap_or(0);
    match field {
        SortField::Id => (None, id),
        SortField::Date => (
            record
                .get("date")
                .and_then(Value::as_str)
                .and_then(|d| d.parse().ok()),
            id,
        ),
    }
}

fn cursor_key(cursor: &Cursor, field: SortField) -> Key {
    match field {
        SortField::Id => (None, cursor.id),
        SortField::Date => (cursor.date, cursor.id),
    }
}

fn generated_key(w: &World, resource: Resource, i: usize, field: SortField) -> Key {
    let id = records::id_of(resource, i);
    match field {
        SortField::Id => (None, id),
        SortField::Date => (records::date(w, resource, i), id),
    }
}

/// Narrows the generated index range with the filters on keys that grow with the index.
/// Returns the range, or an explicit sorted list for `id in [...]`.
fn candidates(
    w: &World,
    resource: Resource,
    filters: &[Filter],
) -> Result<Vec<usize>, (usize, usize)> {
    let n = records::len(w, resource);
    let (mut lo, mut hi) = (0usize, n);
    let mut list: Option<Vec<usize>> = None;
    for f in filters {
        let bound = |pred: &dyn Fn(usize) -> Ordering| -> (usize, usize) {
            // pred(i) compares the record's key with the filter value.
            let first_ge = partition(n, |i| pred(i) == Ordering::Less);
            let first_gt = partition(n, |i| pred(i) != Ordering::Greater);
            match f.op {
                Operator::Eq => (first_ge, first_gt),
                Operator::Gt => (first_gt, n),
                Operator::Gteq => (first_ge, n),
                Operator::Lt => (0, first_ge),
                Operator::Lteq => (0, first_gt),
                _ => (0, n),
            }
        };
        let (a, b) = match f.field.as_str() {
            "id" => {
                if f.op == Operator::In {
                    // Ids in ascending order map to indexes in ascending order.
                    let ids: Vec<usize> = in_ids(f)
                        .into_iter()
                        .filter_map(|id| records::index_of(w, resource, id))
                        .collect();
                    list = Some(ids);
                    (0, n)
                } else {
                    let Some(wanted) = f.value.as_i64().or_else(|| f.value.as_str()?.parse().ok())
                    else {
                        continue;
                    };
                    bound(&|i| records::id_of(resource, i).cmp(&wanted))
                }
            }
            "date" if resource.has_date() => {
                let Some(wanted) = f
                    .value
                    .as_str()
                    .and_then(|s| s.get(..10)?.parse::<NaiveDate>().ok())
                else {
                    continue;
                };
                bound(&|i| records::date(w, resource, i).cmp(&Some(wanted)))
            }
            _ => (0, n),
        };
        lo = lo.max(a);
        hi = hi.min(b);
    }
    match list {
        Some(ids) => Ok(ids.into_iter().filter(|i| (lo..hi).contains(i)).collect()),
        None => Err((lo, hi.max(lo))),
    }
}

/// The ids of an `id in [...]` filter (numbers or numeric strings), sorted, once each.
fn in_ids(f: &Filter) -> Vec<i64> {
    let mut ids: Vec<i64> = f
        .value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// First `i` in `0..n` for which `below(i)` is false (`below` must be monotone).
pub(crate) fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// One page of `resource` for `query`, generated records merged with `store`'s overlay.
pub(crate) fn list(w: &World, store: &CompanyStore, resource: Resource, query: &ListQuery) -> Page {
    let field = query.sort.field;
    let desc = query.sort.descending;
    let after = query.cursor.as_ref().map(|c| cursor_key(c, field));
    // Past the cursor, in the sort direction.
    let past = |k: &Key| match &after {
        None => true,
        Some(a) => {
            if desc {
                k < a
            } else {
                k > a
            }
        }
    };
    // Generated candidates, in ascending index order (= ascending key).
    let mut generated: Vec<usize> = Vec::new();
    let range = match candidates(w, resource, &query.filters) {
        Ok(list) => {
            generated = list;
            None
        }
        Err((lo, hi)) => {
            // Clip the range at the cursor.
            let (mut lo, mut hi) = (lo, hi);
            if let Some(a) = &after {
                let n = records::len(w, resource);
                let cut = if desc {
                    partition(n, |i| generated_key(w, resource, i, field) < *a)
                } else {
                    partition(n, |i| generated_key(w, resource, i, field) <= *a)
                };
                if desc {
                    hi = hi.min(cut);
                } else {
                    lo = lo.max(cut);
                }
            }
            Some((lo, hi.max(lo)))
        }
    };
    let mut next_generated = {
        let mut forward = 0usize;
        let mut backward = 0usize;
        move || -> Option<usize> {
            match range {
                Some((lo, hi)) => {
                    if desc {
                        let i = hi.checked_sub(1 + backward).filter(|i| *i >= lo)?;
                        backward += 1;
                        Some(i)
                    } else {
                        let i = lo + forward;
                        forward += 1;
                        (i < hi).then_some(i)
                    }
                }
                None => {
                    let len = generated.len();
                    let pos = if desc {
                        len.checked_sub(1 + backward)?
                    } else {
                        forward
                    };
                    if desc {
                        backward += 1;
                    } else {
                        forward += 1;
                    }
                    generated.get(pos).copied()
                }
            }
        }
    };
    // Overlay records present, past the cursor, sorted in the page's direction. An
    // `id in [...]` filter picks them by id (a mutated world can overlay many records).
    let overlay = store.overlay(resource);
    let id_in: Option<Vec<i64>> = query
        .filters
        .iter()
        .find(|f| f.field == "id" && f.op == Operator::In)
        .map(in_ids);
    let overlaid_states: Vec<&Overlaid> = match (overlay, &id_in) {
        (Some(o), Some(ids)) => ids.iter().filter_map(|id| o.get(id)).collect(),
        (Some(o), None) => o.values().collect(),
        (None, _) => Vec::new(),
    };
    let mut extra: Vec<(Key, &Value)> = overlaid_states
        .into_iter()
        .filter_map(|state| match state {
            Overlaid::Present { record, .. } => Some((key_of_value(record, field), record)),
            Overlaid::Deleted => None,
        })
        .filter(|(k, _)| past(k))
        .collect();
    extra.sort_by(|a, b| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) });
    let mut extra = extra.into_iter().peekable();

    let overlaid = |id: i64| overlay.is_some_and(|o| o.contains_key(&id));
    let mut maker = RecordMaker::default();
    let mut items: Vec<(Key, String)> = Vec::with_capacity(query.limit + 1);
    // Filters other than on `id` need the record as a `Value`.
    let needs_value = query.filters.iter().any(|f| f.field != "id");
    let mut pending: Option<(Key, usize)> = None;
    let passes = |record: &Value| query.filters.iter().all(|f| f.matches(record));
    while items.len() <= query.limit {
        if pending.is_none() {
            while let Some(i) = next_generated() {
                let id = records::id_of(resource, i);
                if overlaid(id) {
                    continue;
                }
                // Cheap id filters before building the record.
                let id_value = Value::from(id);
                let id_ok = query
                    .filters
                    .iter()
                    .filter(|f| f.field == "id")
                    .all(|f| f.matches(&serde_json::json!({ "id": id_value })));
                if !id_ok {
                    continue;
                }
                let key = generated_key(w, resource, i, field);
                if !past(&key) {
                    continue;
                }
                pending = Some((key, i));
                break;
            }
        }
        let take_extra = match (&pending, extra.peek()) {
            (None, None) => break,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some((gk, _)), Some((ek, _))) => {
                if desc {
                    ek > gk
                } else {
                    ek < gk
                }
            }
        };
        if take_extra {
            if let Some((_, record)) = extra.next().filter(|(_, r)| passes(r)) {
                items.push((key_of_value(record, SortField::Date), record.to_string()));
            }
        } else if let Some((_, i)) = pending.take() {
            let key = (records::date(w, resource, i), records::id_of(resource, i));
            if needs_value {
                let record = maker.record(w, resource, i);
                if passes(&record) {
                    items.push((key, record.to_string()));
                }
            } else {
                items.push((key, maker.record_text(w, resource, i)));
            }
        }
    }
    let has_more = items.len() > query.limit;
    items.truncate(query.limit);
    let next_cursor = has_more.then(|| {
        let ((date, id), _) = items.last().expect("has_more implies a non-empty page");
        Cursor {
            id: *id,
            date: *date,
        }
        .encode()
    });
    Page {
        items: items.into_iter().map(|(_, text)| text).collect(),
        next_cursor,
    }
}

/// One page of an in-memory list (sub-collections), in `id` order, with filters.
pub(crate) fn list_values(mut values: Vec<Value>, query: &ListQuery) -> Page {
    let desc = query.sort.descending;
    values.retain(|v| query.filters.iter().all(|f| f.matches(v)));
    values.sort_by_key(|v| key_of_value(v, query.sort.field));
    if desc {
        values.reverse();
    }
    if let Some(c) = &query.cursor {
        let a = cursor_key(c, query.sort.field);
        values.retain(|v| {
            let k = key_of_value(v, query.sort.field);
            if desc { k < a } else { k > a }
        });
    }
    let has_more = values.len() > query.limit;
    values.truncate(query.limit);
    let next_cursor = has_more.then(|| {
        let (date, id) = key_of_value(values.last().expect("non-empty"), SortField::Date);
        Cursor { id, date }.encode()
    });
    Page {
        items: values.iter().map(Value::to_string).collect(),
        next_cursor,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::query::{Sort, SortField};

    #[test]
    #[ignore = "timing probe: cargo test -p penny-sandbox --release -- --ignored probe --nocapture"]
    fn probe_page_cost_at_one_million_lines() {
        let config = crate::config::SandboxConfig::unthrottled(1_000_000);
        let w = crate::generate::world(&config, 1, "http://127.0.0.1:1/api/external/v2".into());
        let store = CompanyStore::default();
        let mut query = ListQuery {
            limit: 100,
            cursor: None,
            sort: Sort {
                field: SortField::Id,
                descending: true,
            },
            filters: vec![],
        };
        // The next page, moving the cursor past it.
        let next_page = |query: &mut ListQuery| {
            let page = list(&w, &store, Resource::LedgerEntryLines, query);
            query.cursor = page
                .next_cursor
                .as_deref()
                .map(|c| Cursor::decode(c).unwrap());
            page
        };
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..200 {
            let page = next_page(&mut query);
            bytes += page.items.iter().map(String::len).sum::<usize>();
        }
        println!(
            "{:?} per page (built + serialised), {bytes} bytes",
            started.elapsed() / 200
        );
        let started = std::time::Instant::now();
        for _ in 0..200 {
            next_page(&mut query);
        }
        println!("{:?} per page (built only)", started.elapsed() / 200);
        // The typed and the Value paths give the same bytes.
        let mut maker = RecordMaker::default();
        for i in [0, 1, 500_000, w.lines() - 1] {
            assert_eq!(
                maker.record_text(&w, Resource::LedgerEntryLines, i),
                maker.record(&w, Resource::LedgerEntryLines, i).to_string()
            );
        }
    }
}
