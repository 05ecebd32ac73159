//! # penny-api
//!
//! A typed, rate-limited client for the [Pennylane](https://www.pennylane.com) Company
//! API v2, and (feature `source`, on by default) a `penny_transform::Source` over it.
//!
//! - [`Client`] / [`ClientBuilder`]: bearer token kept secret, one connection pool and
//!   one rate limiter shared by every clone, `ratelimit-*` hints and `retry-after`
//!   honoured, jittered exponential retries of 5xx and network failures.
//! - [`ListRequest`]: every list endpoint, paginated by cursor as a
//!   [`Stream`](futures_core::Stream) of pages or of records, with its `limit`
//!   checked before sending and its [`Filter`]s and sort replayed on every page.
//! - [`models`]: typed records (exact decimals, dates, open enums); any list also
//!   yields raw JSON through [`ListRequest::raw`].
//! - [`ChangelogRequest`]: what changed since a date, with the 4-week retention as a
//!   typed [`Error::ResyncNeeded`].
//! - `source::PennylaneSource`: the raw tables of `docs/src/raw-tables.md`, incremental
//!   through changelogs (ledger entries through their lines'), reference tables re-read
//!   on a cadence.
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use penny_api::{Client, Filter};
//!
//! # async fn run() -> penny_api::Result<()> {
//! let client = Client::from_env()?; // PENNYLANE_API_TOKEN
//! let me = client.me().await?;
//! println!("company {}", me.company.id);
//! let mut lines = client
//!     .ledger_entry_lines()
//!     .filter(Filter::gteq("date", chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()))
//!     .items();
//! while let Some(line) = lines.try_next().await? {
//!     println!("{} {} {}", line.id, line.debit, line.credit);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Assumptions
//!
//! What Pennylane's documentation leaves open, and what this crate assumes:
//! - `ratelimit-reset` is a Unix timestamp (values below 10^9 are read as a delay in
//!   seconds); a hinted pause is capped at 6 s, one documented window plus a second.
//! - A 429's `retry-after` is in seconds; when absent, the plain-text body's "retry in
//!   N seconds" is read, and failing both the client backs off exponentially.
//! - Error bodies are JSON with a `message` (or `error`) field; otherwise the text is kept.
//! - Fields not attested by Pennylane's schema (journal `type`, several statuses)
//!   are open enumerations or text.
//! - A `changelogs` `start_date` is inclusive and events come in ascending
//!   `processed_at` order; a change reaches its log within 5 minutes
//!   (`source::RESYNC_MARGIN_MINUTES`).
//! - No list accepts `updated_at` (the spec lists each endpoint's filters; ledger
//!   entries filter on `id`, `date`, `journal_id`); every list with a change log, ledger
//!   entries and lines accept `id` `in` filters of up to 100 ids.
//! - `include=invoice_lines` (experimental at Pennylane) answers an `included` section
//!   `{"invoice_lines": [...]}` whose lines name their invoice; otherwise the lines are
//!   read per invoice.
//! - A sub-collection of an invoice deleted meanwhile answers 404 (skipped).
//! - The default sort (`-id`) is never relied on: positions come from timestamps,
//!   not from the order of records.
//!
//! To test against a server that plays Pennylane, see the `penny-sandbox` crate.

pub mod api;
pub mod client;
pub mod error;
pub mod filter;
pub mod models;
pub mod page;
pub mod rate_limit;
pub mod retry;
#[cfg(feature = "source")]
pub mod source;

pub use api::{ChangelogRequest, ChangelogResource, ChangelogStart};
pub use client::{Client, ClientBuilder, ClientStats, DEFAULT_BASE_URL};
pub use error::{Error, Result};
pub use filter::{Filter, FilterValue, Operator};
pub use page::{DEFAULT_MAX_LIMIT, ListRequest, MAX_LIMIT, Page, max_limit};
pub use rate_limit::RateLimit;
pub use retry::RetryPolicy;
pub use secrecy::SecretString;

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
