//! [`PennylaneSource`]: a [`penny_transform::Source`] over the [`Client`] (feature `source`).
//!
//! Its streams are the raw tables of the API door (`docs/src/raw-tables.md`), one per
//! resource, every row keyed by `(company_id, id)` with `company_id` from `GET /me`
//! (but `trial_balance`, keyed by company, period and account number). No request uses
//! a filter the published spec does not list for its endpoint; in particular none
//! filters on `updated_at`, which no list accepts.
//!
//! | streams | how they are read incrementally |
//! |---|---|
//! | `customers`, `suppliers`, `products`, `transactions`, `customer_invoices`, `supplier_invoices`, `ledger_entry_lines` | their change log: inserted and updated ids are fetched in batches of 100 with an `id in [...]` filter, deleted ids become deletions |
//! | `customer_invoice_lines`, `customer_invoice_payments`, `supplier_invoice_lines`, `supplier_invoice_payments` | the invoices' change log: the sub-collection of every inserted or updated invoice is fetched again (customer invoice lines with `include=invoice_lines`, in the invoices' own pages; otherwise one request per invoice and stream) |
//! | `ledger_entries` | the ledger lines' change log (there is no entry change log): the inserted and updated lines are fetched by id for their `ledger_entry`, then those entries by id; an entry named by a changed line but absent is deleted |
//! | `journals`, `ledger_accounts` | read whole at most every [`reference refresh`](PennylaneSource::with_reference_refresh); in between they follow the ledger lines' change log, and when lines were inserted or updated one request asks for a line naming a journal (account) beyond the largest id the last full read saw: if there is one, the stream is read whole at once |
//! | `fiscal_years`, `bank_accounts`, `categories`, `category_groups`, `trial_balance` | read whole at most every reference refresh; nothing is asked in between |
//! | `companies` | `GET /me`, every read |
//!
//! A quiet cycle therefore costs one change-log request per stream that follows one
//! (14 with every stream: customers, suppliers, products, transactions, three for each
//! invoice kind, and four for the ledger lines' log: lines, entries, journals,
//! accounts), plus `companies`' `GET /me`: 15, whatever the size of the books.
//!
//! Positions are [`ApiPosition`]s: the last change-log `processed_at` processed, or a
//! reference read's time (with how far the lines' log was followed and the largest id
//! seen). A change-log position older than the retention (refused by the client, or by
//! the API with a 422) falls back to a full read ([`ReadKind::Full`]), with a warning in
//! the logs; so does a position of an older version of this source (`updated_at`).
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
//! Full reads of the streams whose list accepts `sort=id` and an `id gt` filter
//! (customers, suppliers, products, customer and supplier invoices with their lines and
//! payments, ledger entries and lines, ledger accounts, categories) ask their list (the
//! parent invoices' for lines and payments) sorted by id and send a resume point
//! ([`ApiPosition::Resume`]) after each page but the last, every row so far handed out
//! before it. A read from one asks the same list with `id gt` the page's last id and
//! ends on the checkpoint the uninterrupted read would have: its server time is the
//! first page's of the original read. Transactions (no `gt` on `id`), journals, fiscal
//! years, bank accounts, category groups, the trial balance and `companies` send none.
//!
//! Scopes ([`scopes::STREAM_SCOPES`], one table): the general ledger's streams are
//! required, the others optional. When `GET /me` lists the token's scopes, an optional
//! stream whose scope is missing is skipped (an empty incremental read, a warning) and
//! a required one fails before any request; a 403 fails the stream with a
//! [`ScopeError`] naming the scope and the stream.
//!
//! `include=invoice_lines` is experimental at Pennylane: the answer's `included`
//! section is read as `{"invoice_lines": [...]}` (or a plain array), each line naming its
//! invoice (`customer_invoice`, `invoice` `{id}`, or `customer_invoice_id`,
//! `invoice_id`). A 400 to the parameter, or an answer without a usable `included`,
//! switches the source to one request per invoice for the rest of its life (logged once).
//!
//! Costs and limits, honestly:
//! - Supplier invoice lines, and payments of both kinds, have no list of their own: a
//!   full read costs one request per invoice and stream (10,000 invoices are 10,000
//!   requests, about 37 minutes at the default 4.5 requests per second), plus the
//!   invoice list itself. Four such requests are kept in flight so that the rate limit,
//!   not the API's latency, sets the pace.
//! - A line removed from an invoice that is updated, and the lines and payments of a
//!   deleted invoice, stay in the raw table until the next full read of that stream:
//!   their ids are not known any more (the API has no change log of lines).
//! - An entry deleted with all its lines: the change log reports the lines' deletions
//!   (the lines' table loses them at once), but a deleted line's entry cannot be asked
//!   for any more, so this source cannot delete the entry. Whoever knows the raw tables
//!   can: `penny sync` deletes, after a run that deleted lines, the raw entries no line
//!   names any more (PostgreSQL target). Otherwise the entry stays in `ledger_entries`
//!   until the next full read of that stream; no line names it.
//! - New journals and accounts are found by their id being larger than the largest
//!   known (Pennylane's ids grow); a renamed journal or account shows at the next
//!   reference refresh.

mod mapping;
pub mod plan;
mod read;
pub mod scopes;
mod tables;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use penny_transform::{Position, ReadKind, Source, SourceError, StreamInfo, StreamRead};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::api::{ChangelogResource, ChangelogStart};
use crate::client::Client;
use crate::error::Error;
use crate::filter::Filter;
use crate::models::ChangeOperation;
use crate::page::ListRequest;

pub use mapping::MappingError;
pub use plan::{RecordCount, StreamPlan, SyncPlan};
pub use scopes::{Need, STREAM_SCOPES, ScopeError, StreamScope};

/// How far before the server's time a full read of a change-log stream positions
/// the next incremental read, in minutes.
pub const RESYNC_MARGIN_MINUTES: i64 = 5;

/// How often the reference tables without a change log (journals, ledger accounts,
/// fiscal years, bank accounts, categories, category groups) and the trial balance are
/// read again by default: one hour.
pub const DEFAULT_REFERENCE_REFRESH: std::time::Duration = std::time::Duration::from_secs(3600);

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
    /// Reference streams and the trial balance: when they were last read in full, and
    /// (journals, ledger accounts) how far the ledger lines' change log was followed
    /// since, and the largest id the full read saw.
    Reference {
        /// When the last full read started (the source's clock).
        read_at: DateTime<Utc>,
        /// Every ledger line change processed up to this instant was checked for names
        /// of records not known yet (journals and ledger accounts only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lines_from: Option<DateTime<Utc>>,
        /// The largest id the last full read saw (`None`: none, or not followed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_id: Option<i64>,
    },
    /// `companies` (read in full every time): when the last read was made.
    Full {
        /// The server's time at the read, when it said.
        read_at: Option<DateTime<Utc>>,
    },
    /// An `updated_at` position of an earlier version of this source (`ledger_entries`
    /// was read with an `updated_at` filter the API no longer accepts): read in full.
    UpdatedAt {
        /// The largest `updated_at` seen.
        updated_at: Option<DateTime<Utc>>,
    },
    /// A resume point of a full read ([`SourceEvent::Resume`](penny_transform::SourceEvent::Resume)):
    /// the read continues with the records (for sub-collections, the parent invoices)
    /// whose id is greater than `after_id`, and ends on the checkpoint the
    /// uninterrupted read would have ended on.
    Resume {
        /// The largest id read so far (the list is sorted by id).
        after_id: i64,
        /// The position the read would end on, as known at this point (the server's
        /// time of its first page, the largest id so far...).
        then: Box<ApiPosition>,
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
    identity: OnceCell<Identity>,
    batch_rows: usize,
    clock: Option<Clock>,
    reference_refresh: chrono::Duration,
    /// Set once `GET /customer_invoices?include=invoice_lines` was refused (400) or
    /// answered without `included`: the lines are then read per invoice for the rest of
    /// the source's life.
    include_refused: Arc<AtomicBool>,
    page_size: Option<u32>,
}

/// The token's company and, when `GET /me` listed them, its scopes.
#[derive(Debug, Clone)]
struct Identity {
    company_id: i64,
    scopes: Option<Vec<String>>,
}

/// A source of "now" for the server's side (see [`PennylaneSource::with_server_clock`]).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

impl std::fmt::Debug for PennylaneSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PennylaneSource")
            .field("client", &self.client)
            .field("company_id", &self.identity.get().map(|i| i.company_id))
            .field("batch_rows", &self.batch_rows)
            .field("server_clock", &self.clock.as_ref().map(|_| "custom"))
            .field("reference_refresh", &self.reference_refresh)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl PennylaneSource {
    /// A source reading through `client`; the company comes from `GET /me` on first use.
    pub fn new(client: Client) -> Self {
        PennylaneSource {
            client,
            identity: OnceCell::new(),
            batch_rows: penny_transform::DEFAULT_BATCH_ROWS,
            clock: None,
            reference_refresh: chrono::Duration::from_std(DEFAULT_REFERENCE_REFRESH)
                .unwrap_or(chrono::Duration::hours(1)),
            include_refused: Arc::new(AtomicBool::new(false)),
            page_size: None,
        }
    }

    /// Records per page of the full reads' lists (default: each endpoint's maximum, for
    /// the fewest requests; clamped to `1..=` that maximum). A resumable full read
    /// sends a resume point after every page but its last, so smaller pages lose less
    /// of an interrupted read, at the cost of more requests ([`PennylaneSource::plan`]
    /// assumes the maximum).
    pub fn with_page_size(mut self, records: u32) -> Self {
        self.page_size = Some(records.max(1));
        self
    }

    /// How often the reference streams (journals, ledger accounts, fiscal years, bank
    /// accounts, categories, category groups) and the trial balance are read again
    /// (default [`DEFAULT_REFERENCE_REFRESH`]). In between, their incremental read costs
    /// nothing, but journals and ledger accounts follow the ledger lines' change log
    /// and are read at once when a changed line names one they do not know yet.
    pub fn with_reference_refresh(mut self, every: std::time::Duration) -> Self {
        self.reference_refresh = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        self
    }

    /// "Now" by the source's clock: the one given with
    /// [`PennylaneSource::with_server_clock`], else the local clock.
    fn now(&self) -> DateTime<Utc> {
        self.clock.as_ref().map_or_else(Utc::now, |clock| clock())
    }

    /// Where a full read of a change-log stream takes "now" from, to position the
    /// next incremental read. By default it is the server's `Date` header (the local
    /// clock when absent); give the server's clock here when its `Date` header does
    /// not follow the clock its change logs use (a sandbox with a simulated clock).
    pub fn with_server_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `company_id` instead of asking `GET /me` (the token's scopes are then not
    /// known: a stream the token may not read fails on the API's 403).
    pub fn with_company_id(self, company_id: i64) -> Self {
        PennylaneSource {
            identity: OnceCell::new_with(Some(Identity {
                company_id,
                scopes: None,
            })),
            ..self
        }
    }

    /// Rows per batch (default [`penny_transform::DEFAULT_BATCH_ROWS`]).
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// What a full read of `streams` (every stream when empty) will cost: records and
    /// requests per stream, and the time at the client's rate limit, estimated from two
    /// probing requests per list ([`plan`] says how, and how rough it is). Reads nothing
    /// into any table.
    pub async fn plan(&self, streams: &[&str]) -> Result<SyncPlan, SourceError> {
        for s in streams {
            if tables::table(s).is_none() {
                return Err(SourceError::UnknownStream {
                    stream: (*s).to_owned(),
                    available: stream_names().collect::<Vec<_>>().join(", "),
                });
            }
        }
        let included = !self
            .include_refused
            .load(std::sync::atomic::Ordering::Relaxed);
        plan::plan(&self.client, streams, included)
            .await
            .map_err(|(stream, e)| source_error(stream, e))
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The company of the token (`GET /me`, asked once).
    pub async fn company_id(&self) -> Result<i64, Error> {
        Ok(self.identity().await?.company_id)
    }

    async fn identity(&self) -> Result<&Identity, Error> {
        self.identity
            .get_or_try_init(|| async {
                let me = self.client.me().await?;
                Ok(Identity {
                    company_id: me.company.id,
                    scopes: (!me.scopes.is_empty()).then_some(me.scopes),
                })
            })
            .await
    }

    /// Whether the reference stream read at `read_at` is due for a full read.
    fn due(&self, read_at: DateTime<Utc>) -> bool {
        self.now() - read_at >= self.reference_refresh
    }

    /// Follows the ledger lines' change log from `from` for a reference stream whose
    /// records lines name through `field`: `Ok(None)` when a changed line names a
    /// record beyond `max_id` (the stream must be read in full now), else where the
    /// log was followed to. Costs the change-log pages, plus one request when lines
    /// were inserted or updated.
    async fn follow_lines(
        &self,
        stream: &str,
        field: &'static str,
        from: DateTime<Utc>,
        max_id: Option<i64>,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let resource = ChangelogResource::LedgerEntryLines;
        let first = self
            .client
            .changelog(resource, ChangelogStart::Since(from))
            .page(None)
            .await?;
        let floor = read::server_now(&first, self.clock.as_ref())
            - chrono::Duration::minutes(RESYNC_MARGIN_MINUTES);
        let mut last = from;
        let mut changed = false;
        let mut next = first.next_cursor.clone().filter(|_| first.has_more);
        let mut page = Some(first);
        while let Some(current) = page.take() {
            for event in &current.items {
                changed |= !matches!(event.operation, ChangeOperation::Delete);
                last = last.max(event.processed_at);
            }
            if let Some(cursor) = next.take() {
                let following = self
                    .client
                    .changelog(resource, ChangelogStart::Cursor(cursor))
                    .page(None)
                    .await?;
                next = following.next_cursor.clone().filter(|_| following.has_more);
                page = Some(following);
            }
        }
        if changed {
            let mut probe = ListRequest::<serde_json::Value>::new(
                self.client.clone(),
                "/ledger_entry_lines",
                "ledger_entry_lines",
            )
            .limit(1);
            if let Some(max) = max_id {
                probe = probe.filter(Filter::gt(field, max));
            }
            if !probe.page(None).await?.items.is_empty() {
                tracing::info!(
                    stream,
                    field,
                    ?max_id,
                    "a changed ledger line names a record not known yet: reading the stream in full"
                );
                return Ok(None);
            }
        }
        Ok(Some(last.max(floor)))
    }
}

/// Wraps a client error in the [`SourceError`] variant of its class.
pub fn source_error(stream: &str, error: Error) -> SourceError {
    let stream = stream.to_owned();
    if let Error::Http {
        status: 403,
        message,
        ..
    } = &error
        && let Some(entry) = scopes::scope_of(&stream)
        && let Some(scope) = entry.scope
    {
        return SourceError::Auth {
            source: Box::new(ScopeError {
                stream: stream.clone(),
                scope: scope.to_owned(),
                need: entry.need,
                message: message.clone(),
            }),
            stream,
        };
    }
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
        let identity = self.identity().await.map_err(|e| source_error(stream, e))?;
        let company_id = identity.company_id;
        if let Some(entry) = scopes::scope_of(stream)
            && let (Some(scope), Some(granted)) = (entry.scope, &identity.scopes)
            && !scopes::grants(granted, scope)
        {
            let error = ScopeError {
                stream: stream.to_owned(),
                scope: scope.to_owned(),
                need: entry.need,
                message: String::new(),
            };
            match entry.need {
                Need::Optional => {
                    tracing::warn!(
                        stream,
                        scope,
                        "the token lacks this optional stream's scope (GET /me): stream skipped"
                    );
                    return Ok(StreamRead::new(
                        ReadKind::Incremental,
                        Box::pin(futures_util::stream::empty()),
                    ));
                }
                Need::Required => {
                    return Err(SourceError::Auth {
                        stream: stream.to_owned(),
                        source: Box::new(error),
                    });
                }
            }
        }
        let context = read::Context {
            client: self.client.clone(),
            spec,
            schema: Arc::new(spec.schema()),
            company_id,
            batch_rows: self.batch_rows,
            clock: self.clock.clone(),
            started: self.now(),
            include_refused: self.include_refused.clone(),
            page_size: self.page_size,
        };
        if let Some(ApiPosition::Resume { after_id, then }) = &position {
            if !spec.resumable() {
                tracing::warn!(
                    stream,
                    "a resume point for a stream whose full reads do not resume: reading it in full"
                );
                let plan = read::Plan::full(&context);
                return Ok(StreamRead::new(ReadKind::Full, read::events(context, plan)));
            }
            let plan = read::Plan::resume(&context, *after_id, then).map_err(|reason| {
                SourceError::InvalidPosition {
                    stream: stream.to_owned(),
                    position: from.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                    reason,
                }
            })?;
            tracing::info!(stream, after_id, company_id, "resuming a full read");
            return Ok(StreamRead::resumed(read::events(context, plan)));
        }
        use tables::Mode;
        let nothing = || {
            StreamRead::new(
                ReadKind::Incremental,
                Box::pin(futures_util::stream::empty()),
            )
        };
        let (kind, plan) = match (spec.mode, position) {
            (Mode::Me, _) | (_, None) => (ReadKind::Full, read::Plan::full(&context)),
            (
                Mode::Reference(link),
                Some(ApiPosition::Reference {
                    read_at,
                    lines_from,
                    max_id,
                }),
            ) if !self.due(read_at) => match (link, lines_from) {
                (None, _) => {
                    tracing::debug!(stream, %read_at, "reference stream read recently: not read");
                    return Ok(nothing());
                }
                (Some(field), Some(from)) => {
                    match self.follow_lines(stream, field, from, max_id).await {
                        Ok(Some(followed)) => {
                            let position = ApiPosition::Reference {
                                read_at,
                                lines_from: Some(followed),
                                max_id,
                            };
                            let checkpoint = read::checkpoint(stream, &position)?;
                            return Ok(StreamRead::new(
                                ReadKind::Incremental,
                                Box::pin(futures_util::stream::iter([Ok(checkpoint)])),
                            ));
                        }
                        Ok(None) => (ReadKind::Full, read::Plan::full(&context)),
                        Err(error @ Error::ResyncNeeded { .. }) => {
                            tracing::warn!(stream, error = %error, "the ledger lines' change log cannot be followed from the saved position: reading the stream in full");
                            (ReadKind::Full, read::Plan::full(&context))
                        }
                        Err(error) => return Err(source_error(stream, error)),
                    }
                }
                (Some(_), None) => (ReadKind::Full, read::Plan::full(&context)),
            },
            (Mode::TrialBalance, Some(ApiPosition::Reference { read_at, .. }))
                if !self.due(read_at) =>
            {
                tracing::debug!(stream, %read_at, "trial balance read recently: not read");
                return Ok(nothing());
            }
            (
                Mode::Reference(_) | Mode::TrialBalance,
                Some(ApiPosition::Reference { .. } | ApiPosition::Full { .. }),
            ) => (ReadKind::Full, read::Plan::full(&context)),
            (Mode::Entries, Some(ApiPosition::UpdatedAt { .. })) => {
                tracing::warn!(
                    stream,
                    "saved position follows `updated_at`, which the API no longer filters on: reading the stream in full"
                );
                (ReadKind::Full, read::Plan::full(&context))
            }
            (
                Mode::Entries | Mode::Changelog(_) | Mode::SubCollection(..),
                Some(ApiPosition::Changelog { processed_at }),
            ) => {
                let resource = match spec.mode {
                    Mode::Changelog(resource) | Mode::SubCollection(resource, _) => resource,
                    _ => ChangelogResource::LedgerEntryLines,
                };
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
        Ok(StreamRead::new(kind, read::events(context, plan)))
    }
}
