//! [`PennylaneSource`]: a [`penny_transform::Source`] over the [`Client`] (feature `source`).
//!
//! Its streams are the raw tables of the API door (`docs/src/raw-tables.md`), one per
//! resource, every row keyed by `(company_id, id)` with `company_id` from `GET /me`.
//!
//! | streams | how they are read incrementally |
//! |---|---|
//! | `customers`, `suppliers`, `products`, `transactions`, `customer_invoices`, `supplier_invoices`, `ledger_entry_lines` | their change log: inserted and updated ids are fetched in batches of 100 with an `id in [...]` filter, deleted ids become deletions |
//! | `customer_invoice_lines`, `customer_invoice_payments`, `supplier_invoice_lines`, `supplier_invoice_payments` | the invoices' change log: the sub-collection of every inserted or updated invoice is fetched again (one request per invoice and stream) |
//! | `ledger_entries` | an `updated_at >= position` filter (no change log exists); deletions are not seen until a full read |
//! | `journals`, `ledger_accounts`, `fiscal_years`, `bank_accounts`, `categories`, `category_groups` | full read every time: small reference tables, a few requests each, and a full read is the only way to see their deletions |
//!
//! Positions are [`ApiPosition`]s: the last change-log `processed_at` processed, the
//! largest `updated_at` seen, or a full read's time. A change-log position older than
//! the retention (refused by the client, or by the API with a 422) falls back to a full
//! read ([`ReadKind::Full`]), with a warning in the logs.
//!
//! A full read of a change-log stream ends on a position taken from the server's
//! clock (the `Date` header of its first answer, or
//! [`PennylaneSource::with_server_clock`]) minus [`RESYNC_MARGIN_MINUTES`], so
//! changes made during the read are replayed by the next incremental read (replays
//! are idempotent upserts). An incremental read that reaches the end of the log also
//! moves its position up to that time, so a quiet log does not age out of the
//! retention. The margin assumes Pennylane records a change in its log within
//! 5 minutes (not documented).
//!
//! An `updated_at` position is the largest `updated_at` seen, capped by the server's
//! time when the read started: a record changed during the read is read again next
//! time rather than skipped. The filter is `updated_at >= position` (boundary records
//! are read twice, harmlessly).
//!
//! Costs and limits, honestly:
//! - Invoice lines and payments have no list of their own: a full read costs one
//!   request per invoice and stream (10,000 invoices are 10,000 requests, about 37
//!   minutes at the default 4.5 requests per second), plus the invoice list itself.
//!   Four such requests are kept in flight so that the rate limit, not the API's
//!   latency, sets the pace.
//! - A line removed from an invoice that is updated, and the lines and payments of a
//!   deleted invoice, stay in the raw table until the next full read of that stream:
//!   their ids are not known any more (the API has no change log of lines).
//! - `trial_balance` is not a stream: it is computed for a period and has no id.

mod mapping;
mod read;
mod tables;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use penny_transform::{Position, ReadKind, Source, SourceError, StreamInfo, StreamRead};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::api::ChangelogStart;
use crate::client::Client;
use crate::error::Error;

pub use mapping::MappingError;

/// How far before the server's time a full read of a change-log stream positions
/// the next incremental read, in minutes.
pub const RESYNC_MARGIN_MINUTES: i64 = 5;

/// The names of every stream the source offers.
pub fn stream_names() -> impl Iterator<Item = &'static str> {
    tables::TABLES.iter().map(|t| t.name)
}

/// Where a stream's read stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApiPosition {
    /// Change-log streams: every event processed up to this instant is applied.
    Changelog {
        /// The `processed_at` to start the next read from (inclusive).
        processed_at: DateTime<Utc>,
    },
    /// `updated_at` streams: the largest `updated_at` seen, capped by the server's time
    /// at the start of the read.
    UpdatedAt {
        /// None when the table was empty.
        updated_at: Option<DateTime<Utc>>,
    },
    /// Full-only streams: when the last full read was made.
    Full {
        /// The server's time at the read, when it said.
        read_at: Option<DateTime<Utc>>,
    },
}

/// A [`Source`] over the Pennylane API: the raw tables of one company (the token's).
///
/// ```no_run
/// use penny_api::{Client, source::PennylaneSource};
/// use penny_transform::{driver, testing::MemorySink};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let source = PennylaneSource::new(Client::from_env()?);
/// let mut sink = MemorySink::default();
/// let report = driver::sync_stream(&source, &mut sink, "customer_invoices", Default::default()).await?;
/// println!("{} rows", report.rows_upserted);
/// # Ok(()) }
/// ```
pub struct PennylaneSource {
    client: Client,
    company_id: OnceCell<i64>,
    batch_rows: usize,
    clock: Option<Clock>,
}

/// A source of "now" for the server's side (see [`PennylaneSource::with_server_clock`]).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

impl std::fmt::Debug for PennylaneSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PennylaneSource")
            .field("client", &self.client)
            .field("company_id", &self.company_id.get())
            .field("batch_rows", &self.batch_rows)
            .field("server_clock", &self.clock.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl PennylaneSource {
    /// A source reading through `client`; the company comes from `GET /me` on first use.
    pub fn new(client: Client) -> Self {
        PennylaneSource {
            client,
            company_id: OnceCell::new(),
            batch_rows: penny_transform::DEFAULT_BATCH_ROWS,
            clock: None,
        }
    }

    /// Where a full read of a change-log stream takes "now" from, to position the
    /// next incremental read. By default it is the server's `Date` header (the local
    /// clock when absent); give the server's clock here when its `Date` header does
    /// not follow the clock its change logs use (a sandbox with a simulated clock).
    pub fn with_server_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `company_id` instead of asking `GET /me`.
    pub fn with_company_id(self, company_id: i64) -> Self {
        PennylaneSource {
            company_id: OnceCell::new_with(Some(company_id)),
            ..self
        }
    }

    /// Rows per batch (default [`penny_transform::DEFAULT_BATCH_ROWS`]).
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The company of the token (`GET /me`, asked once).
    pub async fn company_id(&self) -> Result<i64, Error> {
        self.company_id
            .get_or_try_init(|| async { Ok(self.client.me().await?.company.id) })
            .await
            .copied()
    }
}

/// Wraps a client error in the [`SourceError`] variant of its class.
pub fn source_error(stream: &str, error: Error) -> SourceError {
    let stream = stream.to_owned();
    if error.is_auth() {
        return SourceError::Auth {
            stream,
            source: Box::new(error),
        };
    }
    if error.is_unavailable() {
        return SourceError::Unavailable {
            stream,
            source: Box::new(error),
        };
    }
    match error {
        Error::Decode { .. } | Error::ResyncNeeded { .. } => SourceError::Data {
            stream,
            source: Box::new(error),
        },
        Error::Http { status: 422, .. } => SourceError::Data {
            stream,
            source: Box::new(error),
        },
        other => SourceError::Config {
            source: Box::new(other),
        },
    }
}

#[async_trait]
impl Source for PennylaneSource {
    fn name(&self) -> &str {
        "pennylane-api"
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
        Ok(tables::TABLES
            .iter()
            .map(|t| StreamInfo::new(t.schema(), t.sync_mode()))
            .collect())
    }

    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError> {
        let spec = tables::table(stream).ok_or_else(|| SourceError::UnknownStream {
            stream: stream.to_owned(),
            available: stream_names().collect::<Vec<_>>().join(", "),
        })?;
        let position = match &from {
            None => None,
            Some(p) => {
                Some(
                    p.decode::<ApiPosition>()
                        .map_err(|e| SourceError::InvalidPosition {
                            stream: stream.to_owned(),
                            position: p.to_string(),
                            reason: e.to_string(),
                        })?,
                )
            }
        };
        let company_id = self
            .company_id()
            .await
            .map_err(|e| source_error(stream, e))?;
        let context = read::Context {
            client: self.client.clone(),
            spec,
            schema: Arc::new(spec.schema()),
            company_id,
            batch_rows: self.batch_rows,
            clock: self.clock.clone(),
        };
        use tables::Mode;
        let (kind, plan) = match (spec.mode, position) {
            (Mode::Full | Mode::Me, _) | (_, None) => (ReadKind::Full, read::Plan::full(&context)),
            (
                Mode::UpdatedAt,
                Some(ApiPosition::UpdatedAt {
                    updated_at: Some(since),
                }),
            ) => (
                ReadKind::Incremental,
                read::Plan::updated_since(&context, since),
            ),
            (Mode::UpdatedAt, Some(ApiPosition::UpdatedAt { updated_at: None })) => {
                (ReadKind::Full, read::Plan::full(&context))
            }
            (
                Mode::Changelog(resource) | Mode::SubCollection(resource, _),
                Some(ApiPosition::Changelog { processed_at }),
            ) => {
                let request = self
                    .client
                    .changelog(resource, ChangelogStart::Since(processed_at));
                match request.page(None).await {
                    Ok(first) => (
                        ReadKind::Incremental,
                        read::Plan::changelog(&context, resource, first, processed_at),
                    ),
                    Err(error @ Error::ResyncNeeded { .. }) => {
                        tracing::warn!(
                            stream,
                            %processed_at,
                            error = %error,
                            "saved position is older than the changelog retention: reading the stream in full"
                        );
                        (ReadKind::Full, read::Plan::full(&context))
                    }
                    Err(error) => return Err(source_error(stream, error)),
                }
            }
            (_, Some(other)) => {
                return Err(SourceError::InvalidPosition {
                    stream: stream.to_owned(),
                    position: from.map(|p| p.to_string()).unwrap_or_default(),
                    reason: format!("a {other:?} position does not fit this stream's sync mode"),
                });
            }
        };
        tracing::info!(stream, ?kind, company_id, "reading");
        Ok(StreamRead {
            kind,
            events: read::events(context, plan),
        })
    }
}
