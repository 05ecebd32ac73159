//! Change-log events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::open_enum;

open_enum! {
    /// What happened to a record.
    pub enum ChangeOperation {
        /// Created.
        Insert => "insert",
        /// Changed.
        Update => "update",
        /// Deleted.
        Delete => "delete",
    }
}

/// One event of a change log (`GET /changelogs/<resource>`): which record changed and
/// how, never its state (fetch the record by id for that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangelogEvent {
    /// The changed record's id.
    pub id: i64,
    /// What happened.
    pub operation: ChangeOperation,
    /// When Pennylane recorded the change; events come in ascending order of it.
    pub processed_at: DateTime<Utc>,
    /// The record's creation time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The record's last change.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
