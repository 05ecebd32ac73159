//! Reading the current state of a record: the overlay first, the generated world else.

use serde_json::Value;

use crate::records::{self, RecordMaker};
use crate::resource::Resource;
use crate::store::{CompanyStore, Overlaid};
use crate::world::World;

/// The current JSON of record `id` of a top-level resource (`None`: unknown or deleted).
pub(crate) fn record(
    w: &World,
    store: &CompanyStore,
    resource: Resource,
    id: i64,
) -> Option<Value> {
    match store.get(resource, id) {
        Some(Overlaid::Present { record, .. }) => Some(record.clone()),
        Some(Overlaid::Deleted) => None,
        None if resource.parent().is_none() => {
            let index = records::index_of(w, resource, id)?;
            Some(RecordMaker::default().record(w, resource, index))
        }
        None => None,
    }
}

/// The current records of sub-collection `child` of parent record `parent_id`
/// (`None`: the parent is unknown or deleted).
pub(crate) fn children(
    w: &World,
    store: &CompanyStore,
    child: Resource,
    parent_id: i64,
) -> Option<Vec<Value>> {
    let parent = child.parent()?;
    record_exists(w, store, parent, parent_id)?;
    let mut out = Vec::new();
    if let Some(k) = records::index_of(w, parent, parent_id) {
        let generated = match child {
            Resource::CustomerInvoiceLines | Resource::SupplierInvoiceLines => {
                records::invoice_lines(w, child, k)
            }
            _ => records::invoice_payments(w, child, k),
        };
        out.extend(generated.into_iter().filter(|v| {
            let id = v.get("id").and_then(Value::as_i64).unwrap_or(0);
            store.get(child, id).is_none()
        }));
    }
    for state in store.overlay(child).into_iter().flat_map(|o| o.values()) {
        if let Overlaid::Present {
            record,
            parent: Some(p),
        } = state
            && *p == parent_id
        {
            out.push(record.clone());
        }
    }
    Some(out)
}

fn record_exists(w: &World, store: &CompanyStore, resource: Resource, id: i64) -> Option<()> {
    match store.get(resource, id) {
        Some(Overlaid::Present { .. }) => Some(()),
        Some(Overlaid::Deleted) => None,
        None => records::index_of(w, resource, id).map(|_| ()),
    }
}

/// The current lines of ledger entry `entry_id` (`None`: the entry is unknown or
/// deleted).
pub(crate) fn entry_lines(w: &World, store: &CompanyStore, entry_id: i64) -> Option<Vec<Value>> {
    record_exists(w, store, Resource::LedgerEntries, entry_id)?;
    let mut out = Vec::new();
    if let Some(e) = records::index_of(w, Resource::LedgerEntries, entry_id) {
        let (first, count) = w.entry_lines(e);
        out.extend((first..first + count).filter_map(|l| {
            record(
                w,
                store,
                Resource::LedgerEntryLines,
                records::id_of(Resource::LedgerEntryLines, l),
            )
        }));
    }
    for (id, state) in store
        .overlay(Resource::LedgerEntryLines)
        .into_iter()
        .flatten()
    {
        if let Overlaid::Present { record, .. } = state
            && record.pointer("/ledger_entry/id").and_then(Value::as_i64) == Some(entry_id)
            && records::index_of(w, Resource::LedgerEntryLines, *id).is_none()
        {
            out.push(record.clone());
        }
    }
    Some(out)
}

/// A line as `/ledger_entry_lines/{id}/lettered_ledger_entry_lines` lists it: without
/// its categories and imputation dates, its entry by id only.
pub(crate) fn lettered_view(mut line: Value) -> Value {
    if let Some(map) = line.as_object_mut() {
        map.remove("categories");
        map.remove("imputation_dates");
        if let Some(entry) = map.get_mut("ledger_entry").and_then(Value::as_object_mut) {
            entry.remove("url");
        }
    }
    line
}
