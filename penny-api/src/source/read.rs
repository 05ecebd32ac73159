//! The reads: full lists, `updated_at`-filtered lists, change logs, invoice sub-collections.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use penny_transform::{
    Batch, BatchBuilder, EventStream, Position, Schema, SourceError, SourceEvent, Value,
};
use serde_json::Value as Json;

use super::mapping::{self, as_i64};
use super::tables::{Mode, SubKind, TableSpec};
use super::{ApiPosition, RESYNC_MARGIN_MINUTES, source_error};
use crate::api::{ChangelogResource, ChangelogStart};
use crate::client::Client;
use crate::error::Error;
use crate::filter::Filter;
use crate::models::{ChangeOperation, ChangelogEvent};
use crate::page::{ListRequest, MAX_LIMIT, Page};

/// What every read needs.
pub(crate) struct Context {
    pub client: Client,
    pub spec: &'static TableSpec,
    pub schema: Arc<Schema>,
    pub company_id: i64,
    pub batch_rows: usize,
    pub clock: Option<super::Clock>,
}

type Pages<T> = BoxStream<'static, Result<Page<T>, Error>>;

/// What a read walks through.
pub(crate) enum Plan {
    /// The table's own list (full, or filtered on `updated_at`).
    List {
        pages: Pages<Json>,
        position: PositionTracker,
    },
    /// The parent invoices' list; each invoice's sub-collection is fetched.
    SubFull {
        parents: Pages<Json>,
        kind: SubKind,
        position: PositionTracker,
    },
    /// Change-log pages (the first one already fetched).
    Changelog {
        first: Option<Page<ChangelogEvent>>,
        rest: Option<Pages<ChangelogEvent>>,
        last: DateTime<Utc>,
        /// The server's time at the first page minus the margin: once the log is read
        /// to its end, nothing older is missing, so a quiet log's position moves on.
        floor: DateTime<Utc>,
    },
}

/// How the position of a list read is computed.
pub(crate) enum PositionTracker {
    /// The largest `updated_at` seen (starting from the previous one), capped by the
    /// server's time when the read started: a record changed during the read, before a
    /// later-read record's change, is then read again next time rather than missed.
    UpdatedAt {
        max: Option<DateTime<Utc>>,
        started: Option<DateTime<Utc>>,
    },
    /// A change-log stream read in full: the server's time at the first page, minus
    /// the margin.
    ChangelogFrom(Option<DateTime<Utc>>),
    /// A full-only stream: the server's time at the first page.
    Full(Option<DateTime<Utc>>),
}

impl PositionTracker {
    fn observe_page<T>(&mut self, page: &Page<T>, clock: Option<&super::Clock>) {
        match self {
            PositionTracker::ChangelogFrom(at @ None) | PositionTracker::Full(at @ None) => {
                *at = Some(server_now(page, clock));
            }
            PositionTracker::UpdatedAt {
                started: started @ None,
                ..
            } => *started = Some(server_now(page, clock)),
            _ => {}
        }
    }

    fn observe_record(&mut self, record: &Json) {
        if let PositionTracker::UpdatedAt { max, .. } = self
            && let Some(at) = mapping::updated_at(record)
            && max.is_none_or(|m| m < at)
        {
            *max = Some(at);
        }
    }

    fn position(&self) -> ApiPosition {
        match self {
            PositionTracker::UpdatedAt { max, started } => ApiPosition::UpdatedAt {
                updated_at: match (max, started) {
                    (Some(max), Some(started)) => Some((*max).min(*started)),
                    (max, _) => *max,
                },
            },
            PositionTracker::ChangelogFrom(at) => ApiPosition::Changelog {
                processed_at: at.unwrap_or_else(Utc::now)
                    - chrono::Duration::minutes(RESYNC_MARGIN_MINUTES),
            },
            PositionTracker::Full(at) => ApiPosition::Full { read_at: *at },
        }
    }
}

/// "Now" on the server's side: the given clock, else the page's `Date`, else ours.
fn server_now<T>(page: &Page<T>, clock: Option<&super::Clock>) -> DateTime<Utc> {
    match clock {
        Some(clock) => clock(),
        None => page.server_time.unwrap_or_else(Utc::now),
    }
}

/// `GET /me`'s `company` object as a one-record page (the `companies` stream).
fn me_company_page(client: Client) -> Pages<Json> {
    futures_util::stream::once(async move {
        let me = client.me_raw().await?;
        let company = me.get("company").cloned().unwrap_or(Json::Null);
        Ok(Page {
            items: vec![company],
            has_more: false,
            next_cursor: None,
            server_time: None,
        })
    })
    .boxed()
}

fn raw_list(client: &Client, endpoint: &str, resource: &str) -> ListRequest<Json> {
    ListRequest::new(client.clone(), endpoint, resource, MAX_LIMIT)
}

impl Plan {
    /// A full read.
    pub fn full(cx: &Context) -> Plan {
        let position = match cx.spec.mode {
            Mode::Full | Mode::Me => PositionTracker::Full(None),
            Mode::UpdatedAt => PositionTracker::UpdatedAt {
                max: None,
                started: None,
            },
            Mode::Changelog(_) | Mode::SubCollection(..) => PositionTracker::ChangelogFrom(None),
        };
        if cx.spec.mode == Mode::Me {
            return Plan::List {
                pages: me_company_page(cx.client.clone()),
                position,
            };
        }
        let list = raw_list(&cx.client, cx.spec.endpoint, cx.spec.name);
        match cx.spec.mode {
            Mode::SubCollection(_, kind) => Plan::SubFull {
                parents: list.pages(),
                kind,
                position,
            },
            _ => Plan::List {
                pages: list.pages(),
                position,
            },
        }
    }

    /// Records updated at or after `since`.
    pub fn updated_since(cx: &Context, since: DateTime<Utc>) -> Plan {
        let list = raw_list(&cx.client, cx.spec.endpoint, cx.spec.name)
            .filter(Filter::gteq("updated_at", since));
        Plan::List {
            pages: list.pages(),
            position: PositionTracker::UpdatedAt {
                max: Some(since),
                started: None,
            },
        }
    }

    /// The change log from its first page.
    pub fn changelog(
        cx: &Context,
        resource: ChangelogResource,
        first: Page<ChangelogEvent>,
        from: DateTime<Utc>,
    ) -> Plan {
        let rest = match (&first.next_cursor, first.has_more) {
            (Some(cursor), true) => Some(
                cx.client
                    .changelog(resource, ChangelogStart::Cursor(cursor.clone()))
                    .pages(),
            ),
            _ => None,
        };
        let floor = server_now(&first, cx.clock.as_ref())
            - chrono::Duration::minutes(RESYNC_MARGIN_MINUTES);
        Plan::Changelog {
            first: Some(first),
            rest,
            last: from,
            floor,
        }
    }
}

/// The events of a read: each step yields the batches of one page and, at the end
/// of a change-log page or of the read, a checkpoint.
pub(crate) fn events(cx: Context, plan: Plan) -> EventStream<'static> {
    let rows = Rows::new(&cx);
    let state = Some((cx, plan, rows));
    Box::pin(
        stream::try_unfold(state, |state| async move {
            let Some((cx, mut plan, mut rows)) = state else {
                return Ok::<_, SourceError>(None);
            };
            match step(&cx, &mut plan, &mut rows).await? {
                Step::More(events) => Ok(Some((events, Some((cx, plan, rows))))),
                Step::Last(events) => Ok(Some((events, None))),
            }
        })
        .map_ok(|events| stream::iter(events.into_iter().map(Ok)))
        .try_flatten(),
    )
}

enum Step {
    More(Vec<SourceEvent>),
    Last(Vec<SourceEvent>),
}

/// One page's worth of work. Full and `updated_at` reads hand out full batches as
/// they fill (batches span pages) and flush at the end; change-log reads flush at
/// every page, before its checkpoint.
async fn step(cx: &Context, plan: &mut Plan, out: &mut Rows) -> Result<Step, SourceError> {
    let stream = cx.spec.name;
    match plan {
        Plan::List { pages, position } => match pages.next().await {
            Some(page) => {
                let page = page.map_err(|e| source_error(stream, e))?;
                position.observe_page(&page, cx.clock.as_ref());
                for record in &page.items {
                    position.observe_record(record);
                    out.push(cx, record, None)?;
                }
                Ok(Step::More(out.drain()))
            }
            None => {
                let mut events = out.flush()?;
                events.push(checkpoint(stream, &position.position())?);
                Ok(Step::Last(events))
            }
        },
        Plan::SubFull {
            parents,
            kind,
            position,
        } => match parents.next().await {
            Some(page) => {
                let page = page.map_err(|e| source_error(stream, e))?;
                position.observe_page(&page, cx.clock.as_ref());
                let ids = page
                    .items
                    .iter()
                    .filter_map(|p| p.get("id").and_then(as_i64));
                fetch_subs(cx, *kind, ids.collect(), out).await?;
                Ok(Step::More(out.drain()))
            }
            None => {
                let mut events = out.flush()?;
                events.push(checkpoint(stream, &position.position())?);
                Ok(Step::Last(events))
            }
        },
        Plan::Changelog {
            first,
            rest,
            last,
            floor,
        } => {
            let page = match first.take() {
                Some(page) => page,
                None => match rest.as_mut() {
                    Some(pages) => match pages.next().await {
                        Some(page) => page.map_err(|e| source_error(stream, e))?,
                        None => return Ok(Step::Last(Vec::new())),
                    },
                    None => return Ok(Step::Last(Vec::new())),
                },
            };
            let more = page.has_more && page.next_cursor.is_some() && rest.is_some();
            apply_changes(cx, &page.items, out).await?;
            if let Some(event) = page.items.last() {
                *last = (*last).max(event.processed_at);
            }
            if !more {
                *last = (*last).max(*floor);
            }
            let mut events = out.flush()?;
            events.push(checkpoint(
                stream,
                &ApiPosition::Changelog {
                    processed_at: *last,
                },
            )?);
            Ok(if more {
                Step::More(events)
            } else {
                Step::Last(events)
            })
        }
    }
}

/// Applies one page of change-log events: the last operation on an id wins.
async fn apply_changes(
    cx: &Context,
    events: &[ChangelogEvent],
    out: &mut Rows,
) -> Result<(), SourceError> {
    let mut last_op: BTreeMap<i64, bool> = BTreeMap::new(); // id -> deleted?
    for event in events {
        let deleted = match &event.operation {
            ChangeOperation::Delete => true,
            ChangeOperation::Insert | ChangeOperation::Update => false,
            ChangeOperation::Other(op) => {
                tracing::warn!(stream = cx.spec.name, id = event.id, operation = %op, "unknown changelog operation: re-reading the record");
                false
            }
        };
        last_op.insert(event.id, deleted);
    }
    let changed: Vec<i64> = last_op
        .iter()
        .filter(|(_, deleted)| !**deleted)
        .map(|(id, _)| *id)
        .collect();
    let deleted: Vec<i64> = last_op
        .iter()
        .filter(|(_, deleted)| **deleted)
        .map(|(id, _)| *id)
        .collect();
    match cx.spec.mode {
        Mode::SubCollection(_, kind) => {
            // Lines and payments of deleted invoices are not known any more: they stay
            // until the next full read (see the module documentation).
            fetch_subs(cx, kind, changed, out).await?;
        }
        _ => {
            let mut records = raw_list(&cx.client, cx.spec.endpoint, cx.spec.name).by_ids(changed);
            while let Some(record) = records.next().await {
                let record = record.map_err(|e| source_error(cx.spec.name, e))?;
                out.push(cx, &record, None)?;
            }
            if !deleted.is_empty() {
                let keys = deleted
                    .into_iter()
                    .map(|id| vec![Value::Int64(cx.company_id), Value::Int64(id)])
                    .collect();
                out.delete(Batch::delete(cx.schema.clone(), keys)?);
            }
        }
    }
    Ok(())
}

/// Sub-collection requests kept in flight at once (the shared rate limiter still
/// paces them): with one at a time, the API's latency rather than its rate limit
/// would set the pace of the one-request-per-invoice reads.
pub(crate) const SUB_COLLECTION_CONCURRENCY: usize = 4;

/// Fetches the lines or payments of `invoice_ids` into `out`, in the invoices' order,
/// a few invoices at a time.
async fn fetch_subs(
    cx: &Context,
    kind: SubKind,
    invoice_ids: Vec<i64>,
    out: &mut Rows,
) -> Result<(), SourceError> {
    let mut fetched = stream::iter(invoice_ids)
        .map(|invoice_id| fetch_sub(cx, kind, invoice_id))
        .buffered(SUB_COLLECTION_CONCURRENCY);
    while let Some(result) = fetched.next().await {
        let (invoice_id, records) = result?;
        for record in &records {
            out.push(cx, record, Some(invoice_id))?;
        }
    }
    Ok(())
}

/// One invoice's lines or payments; an invoice gone since (404) has none.
async fn fetch_sub(
    cx: &Context,
    kind: SubKind,
    invoice_id: i64,
) -> Result<(i64, Vec<Json>), SourceError> {
    let leaf = match kind {
        SubKind::Lines => "invoice_lines",
        SubKind::Payments => "payments",
    };
    let endpoint = format!("{}/{invoice_id}/{leaf}", cx.spec.endpoint);
    match raw_list(&cx.client, &endpoint, cx.spec.name).all().await {
        Ok(records) => Ok((invoice_id, records)),
        Err(Error::Http { status: 404, .. }) => {
            tracing::debug!(stream = cx.spec.name, invoice_id, "invoice gone: skipped");
            Ok((invoice_id, Vec::new()))
        }
        Err(e) => Err(source_error(cx.spec.name, e)),
    }
}

fn checkpoint(stream: &str, position: &ApiPosition) -> Result<SourceEvent, SourceError> {
    Position::encode(position)
        .map(SourceEvent::Checkpoint)
        .map_err(|e| SourceError::Data {
            stream: stream.to_owned(),
            source: Box::new(e),
        })
}

/// Rows cut into batches, handed out as events.
struct Rows {
    schema: Arc<Schema>,
    capacity: usize,
    builder: BatchBuilder,
    events: Vec<SourceEvent>,
}

impl Rows {
    fn new(cx: &Context) -> Self {
        Rows {
            schema: cx.schema.clone(),
            capacity: cx.batch_rows,
            builder: BatchBuilder::upsert(cx.schema.clone(), cx.batch_rows),
            events: Vec::new(),
        }
    }

    fn push(
        &mut self,
        cx: &Context,
        record: &Json,
        parent_id: Option<i64>,
    ) -> Result<(), SourceError> {
        let row = mapping::row(cx.spec, cx.company_id, parent_id, record).map_err(|e| {
            SourceError::Data {
                stream: cx.spec.name.to_owned(),
                source: Box::new(e),
            }
        })?;
        if let Some(batch) = self.builder.push(row)? {
            self.events.push(SourceEvent::Batch(batch));
        }
        Ok(())
    }

    fn delete(&mut self, batch: Batch) {
        self.events.push(SourceEvent::Batch(batch));
    }

    /// The full batches so far; pending rows stay.
    fn drain(&mut self) -> Vec<SourceEvent> {
        std::mem::take(&mut self.events)
    }

    /// Everything, the partial batch included.
    fn flush(&mut self) -> Result<Vec<SourceEvent>, SourceError> {
        let builder = std::mem::replace(
            &mut self.builder,
            BatchBuilder::upsert(self.schema.clone(), self.capacity),
        );
        let mut events = self.drain();
        if let Some(batch) = builder.finish()? {
            events.push(SourceEvent::Batch(batch));
        }
        Ok(events)
    }
}
