//! What mutations changed: records replaced, created or deleted on top of the generated
//! world, and the change events they recorded.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::resource::Resource;

/// A record's state in the overlay.
#[derive(Debug, Clone)]
pub(crate) enum Overlaid {
    /// The record as it is now (created or updated); `parent` is the invoice id of an
    /// invoice line or payment.
    Present { record: Value, parent: Option<i64> },
    /// Deleted.
    Deleted,
}

impl Overlaid {
    /// `record` as it is now, a child of invoice `parent` for lines and payments.
    pub(crate) fn present(record: Map<String, Value>, parent: Option<i64>) -> Overlaid {
        Overlaid::Present {
            record: Value::Object(record),
            parent,
        }
    }
}

/// A change event, as `/changelogs/<resource>` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub id: i64,
    pub operation: &'static str,
    pub processed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One company's mutations.
#[derive(Debug, Default)]
pub(crate) struct CompanyStore {
    overlay: HashMap<Resource, BTreeMap<i64, Overlaid>>,
    events: HashMap<Resource, Vec<Event>>,
    created: HashMap<Resource, i64>,
    /// Bumped on every mutation (cache invalidation).
    pub version: u64,
}

impl CompanyStore {
    /// The overlay of `resource` (empty if none).
    pub(crate) fn overlay(&self, resource: Resource) -> Option<&BTreeMap<i64, Overlaid>> {
        self.overlay.get(&resource)
    }

    /// The overlaid state of record `id`.
    pub(crate) fn get(&self, resource: Resource, id: i64) -> Option<&Overlaid> {
        self.overlay.get(&resource)?.get(&id)
    }

    /// Sets record `id`'s state.
    pub(crate) fn put(&mut self, resource: Resource, id: i64, state: Overlaid) {
        self.version += 1;
        self.overlay.entry(resource).or_default().insert(id, state);
    }

    /// A new id for `resource`, after the `generated` ones.
    pub(crate) fn new_id(&mut self, resource: Resource, generated: usize) -> i64 {
        let n = self.created.entry(resource).or_insert(0);
        *n += 1;
        resource.id_base() + generated as i64 + *n
    }

    /// Stores `state` for record `id` of `resource` and logs `operation` on it at `now`,
    /// for a record created at `created_at`: every mutation's two steps.
    pub(crate) fn change(
        &mut self,
        resource: Resource,
        id: i64,
        state: Overlaid,
        operation: &'static str,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        self.put(resource, id, state);
        self.record_event(
            resource,
            Event {
                id,
                operation,
                processed_at: now,
                created_at,
                updated_at: now,
            },
        );
    }

    /// Records a change event (only for resources with a changelog).
    pub(crate) fn record_event(&mut self, resource: Resource, event: Event) {
        if resource.has_changelog() {
            self.events.entry(resource).or_default().push(event);
        }
    }

    /// The change events of `resource`, oldest first.
    pub(crate) fn events(&self, resource: Resource) -> &[Event] {
        self.events.get(&resource).map(Vec::as_slice).unwrap_or(&[])
    }
}
