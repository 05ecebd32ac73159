//! The endpoints, one module per resource family: each adds methods to [`Client`](crate::Client)
//! that return a [`ListRequest`](crate::ListRequest) (or a single record).

mod accounting;
mod bank;
mod catalog;
mod changelogs;
mod invoices;
mod me;
mod parties;

pub use changelogs::{ChangelogRequest, ChangelogResource, ChangelogStart};
