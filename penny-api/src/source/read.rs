//! The reads: full lists, change logs (their own, or the ledger lines' for the entries),
//! invoice sub-collections, the trial balance per fiscal year.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
use crate::page::{ListRequest, Page};

/// What every read needs.
pub(crate) struct Context {
    pub client: Client,
    pub spec: &'static TableSpec,
    pub schema: Arc<Schema>,
    pub company_id: i64,
    pub batch_rows: usize,
    pub clock: Option<super::Clock>,
    /// When the read started, by the source's clock (a reference read's `read_at`).
    pub started: DateTime<Utc>,
    /// Set once `include=invoice_lines` was refused (see [`super::PennylaneSource`]).
    pub include_refused: Arc<AtomicBool>,
    /// Records per page of a full read's list (`None`: the endpoint's maximum).
    pub page_size: Option<u32>,
}

type Pages<T> = BoxStream<'static, Result<Page<T>, Error>>;

/// What a read walks through.
pub(crate) enum Plan {
    /// The table's own list, read whole.
    List {
        pages: Pages<Json>,
        position: PositionTracker,
    },
    /// The parent invoices' list; each invoice's sub-collection is fetched.
    SubFull {
        parents: Pages<Json>,
        kind: SubKind,
        position: PositionTracker,
        /// The parent id the list starts after (a resumed read).
        after: Option<i64>,
        /// Whether no parent page was received yet (the `include` fallback's window).
        first: bool,
        /// The invoices of the current parent page whose records are still to fetch
        /// one request each, in id order, and whether more parent pages follow.
        pending: std::collections::VecDeque<i64>,
        more_pages: bool,
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
    /// A change-log stream read in full: the server's time at the first page, minus
    /// the margin.
    ChangelogFrom(Option<DateTime<Utc>>),
    /// A reference stream read in full: when the read started, the server's time at the
    /// first page minus the margin (where the ledger lines' change log is followed
    /// from), and the largest id seen (when `track_ids`).
    Reference {
        read_at: DateTime<Utc>,
        server: Option<DateTime<Utc>>,
        track_ids: bool,
        max_id: Option<i64>,
    },
    /// `companies`: the server's time at the first page.
    Full(Option<DateTime<Utc>>),
}

impl PositionTracker {
    fn observe_page<T>(&mut self, page: &Page<T>, clock: Option<&super::Clock>) {
        match self {
            PositionTracker::ChangelogFrom(at @ None)
            | PositionTracker::Full(at @ None)
            | PositionTracker::Reference {
                server: at @ None, ..
            } => {
                *at = Some(server_now(page, clock));
            }
            _ => {}
        }
    }

    /// The tracker of a full read of `mode` resumed from a resume point whose read
    /// would end, as known then, on `then`: the original read's server time,
    /// reference time and largest id, so the resumed read ends on the checkpoint the
    /// uninterrupted read would have. `Err` says why `then` does not fit `mode`.
    fn resumed(mode: Mode, then: &ApiPosition) -> Result<PositionTracker, String> {
        let margin = chrono::Duration::minutes(RESYNC_MARGIN_MINUTES);
        // `position()` subtracts the margin: add it back once.
        let unmargined = |at: DateTime<Utc>| {
            at.checked_add_signed(margin)
                .ok_or_else(|| format!("{at} is out of range"))
        };
        match (mode, then) {
            (
                Mode::Entries | Mode::Changelog(_) | Mode::SubCollection(..),
                ApiPosition::Changelog { processed_at },
            ) => Ok(PositionTracker::ChangelogFrom(Some(unmargined(
                *processed_at,
            )?))),
            (
                Mode::Reference(link),
                ApiPosition::Reference {
                    read_at,
                    lines_from,
                    max_id,
                },
            ) => {
                let server = match (link, lines_from) {
                    (Some(_), Some(from)) => unmargined(*from)?,
                    (Some(_), None) => {
                        return Err("the resume point does not say where the ledger lines' change log is followed from".to_owned());
                    }
                    // Not followed: the server's time is never used.
                    (None, _) => *read_at,
                };
                Ok(PositionTracker::Reference {
                    read_at: *read_at,
                    server: Some(server),
                    track_ids: link.is_some(),
                    max_id: *max_id,
                })
            }
            (_, other) => Err(format!(
                "a resume point ending on a {other:?} position does not fit this stream"
            )),
        }
    }

    fn observe_record(&mut self, record: &Json) {
        if let PositionTracker::Reference {
            track_ids: true,
            max_id,
            ..
        } = self
            && let Some(id) = record.get("id").and_then(as_i64)
            && max_id.is_none_or(|m| m < id)
        {
            *max_id = Some(id);
        }
    }

    fn position(&self) -> ApiPosition {
        let margin = chrono::Duration::minutes(RESYNC_MARGIN_MINUTES);
        match self {
            PositionTracker::ChangelogFrom(at) => ApiPosition::Changelog {
                processed_at: at.unwrap_or_else(Utc::now) - margin,
            },
            PositionTracker::Reference {
                read_at,
                server,
                track_ids,
                max_id,
            } => ApiPosition::Reference {
                read_at: *read_at,
                lines_from: track_ids.then(|| server.unwrap_or_else(Utc::now) - margin),
                max_id: *max_id,
            },
            PositionTracker::Full(at) => ApiPosition::Full { read_at: *at },
        }
    }
}

/// "Now" on the server's side: the given clock, else the page's `Date`, else ours.
pub(crate) fn server_now<T>(page: &Page<T>, clock: Option<&super::Clock>) -> DateTime<Utc> {
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
            included: None,
        })
    })
    .boxed()
}

fn raw_list(client: &Client, endpoint: &str, resource: &str) -> ListRequest<Json> {
    ListRequest::new(client.clone(), endpoint, resource)
}

/// Whether the lines of `kind` come with their invoices' page (`include=invoice_lines`,
/// customer invoices only) rather than from one request per invoice.
fn lines_included(cx: &Context, kind: SubKind) -> bool {
    kind == SubKind::Lines
        && cx.spec.endpoint == "/customer_invoices"
        && !cx.include_refused.load(Ordering::Relaxed)
}

/// The list of the invoices whose sub-collection `kind` is read: with
/// `include=invoice_lines` when their lines come with them.
fn parent_list(cx: &Context, kind: SubKind) -> ListRequest<Json> {
    let list = raw_list(&cx.client, cx.spec.endpoint, cx.spec.name);
    if lines_included(cx, kind) {
        list.param("include", "invoice_lines")
    } else {
        list
    }
}

/// Remembers, for the rest of the source's life, that `include=invoice_lines` cannot be
/// used, and says why in the log.
fn refuse_include(cx: &Context, why: &str) {
    if !cx.include_refused.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            stream = cx.spec.name,
            reason = why,
            "include=invoice_lines is not usable: invoice lines are read per invoice from now on"
        );
    }
}

/// The invoice a line of an `included` section belongs to.
fn included_parent(line: &Json) -> Option<i64> {
    for field in ["invoice_id", "customer_invoice_id"] {
        if let Some(id) = line.get(field).and_then(as_i64) {
            return Some(id);
        }
    }
    for field in ["invoice", "customer_invoice"] {
        if let Some(id) = line.get(field).and_then(|r| r.get("id")).and_then(as_i64) {
            return Some(id);
        }
    }
    None
}

/// The invoice lines of a page's `included` section, by invoice: `None` when there is
/// no usable section (absent, or lines that do not say their invoice). The section is
/// read as an array of lines, or as an object whose `invoice_lines` is one.
fn included_lines(page: &Page<Json>) -> Option<BTreeMap<i64, Vec<Json>>> {
    let included = page.included.as_ref()?;
    let lines = match included {
        Json::Array(lines) => lines,
        Json::Object(object) => match object.get("invoice_lines") {
            Some(Json::Array(lines)) => lines,
            _ => return None,
        },
        _ => return None,
    };
    let mut by_invoice: BTreeMap<i64, Vec<Json>> = BTreeMap::new();
    for line in lines {
        by_invoice
            .entry(included_parent(line)?)
            .or_default()
            .push(line.clone());
    }
    Some(by_invoice)
}

/// The lines or payments of the invoices of one parent `page` into `out`: from the
/// page's `included` section when it came with one, else one request per invoice.
async fn subs_of_page(
    cx: &Context,
    kind: SubKind,
    page: &Page<Json>,
    out: &mut Rows,
) -> Result<(), SourceError> {
    let ids: Vec<i64> = page
        .items
        .iter()
        .filter_map(|p| p.get("id").and_then(as_i64))
        .collect();
    if lines_included(cx, kind) {
        match included_lines(page) {
            Some(mut by_invoice) => {
                for id in ids {
                    for line in by_invoice.remove(&id).unwrap_or_default() {
                        out.push(cx, &line, Some(id))?;
                    }
                }
                return Ok(());
            }
            None => refuse_include(cx, "the answer has no usable `included` section"),
        }
    }
    fetch_subs(cx, kind, ids, out).await
}

/// The trial balance of every fiscal year (`GET /fiscal_years`, then
/// `GET /trial_balance?period_start&period_end&is_auxiliary=true` per year, every page),
/// each record with its year's `period_start` and `period_end`.
fn trial_balance_pages(client: Client) -> Pages<Json> {
    struct State {
        client: Client,
        years: Option<std::vec::IntoIter<(chrono::NaiveDate, chrono::NaiveDate)>>,
        current: Option<(String, String, Pages<Json>)>,
    }
    let state = State {
        client,
        years: None,
        current: None,
    };
    Box::pin(stream::try_unfold(state, |mut state| async move {
        if state.years.is_none() {
            let years = state.client.fiscal_years().all().await?;
            let mut periods: Vec<_> = years.into_iter().map(|y| (y.start, y.finish)).collect();
            periods.sort();
            periods.dedup();
            state.years = Some(periods.into_iter());
        }
        loop {
            if let Some((start, end, pages)) = state.current.as_mut() {
                if let Some(page) = pages.next().await {
                    let mut page = page?;
                    for item in &mut page.items {
                        if let Json::Object(object) = item {
                            object.insert("period_start".to_owned(), Json::String(start.clone()));
                            object.insert("period_end".to_owned(), Json::String(end.clone()));
                        }
                    }
                    return Ok(Some((page, state)));
                }
                state.current = None;
            }
            let Some((start, end)) = state.years.as_mut().and_then(Iterator::next) else {
                return Ok(None);
            };
            let pages = state.client.trial_balance(start, end, true).raw().pages();
            state.current = Some((
                start.format("%Y-%m-%d").to_string(),
                end.format("%Y-%m-%d").to_string(),
                pages,
            ));
        }
    }))
}

/// The list of a full read: `page_size` records a page when set; sorted by id when the
/// stream is resumable, and then past `after` when given (a resumed read).
fn full_list(cx: &Context, list: ListRequest<Json>, after: Option<i64>) -> ListRequest<Json> {
    let mut list = list;
    if let Some(size) = cx.page_size {
        let max = list.max_limit();
        list = list.limit(size.clamp(1, max));
    }
    if cx.spec.resumable() {
        list = list.sort("id");
        if let Some(after) = after {
            list = list.filter(Filter::gt("id", after));
        }
    }
    list
}

/// The parent invoices' pages of a full read of their sub-collection `kind`.
fn parent_pages(cx: &Context, kind: SubKind, after: Option<i64>) -> Pages<Json> {
    full_list(cx, parent_list(cx, kind), after).pages()
}

/// The resume point after `page`, when the read resumes and more pages follow: the
/// largest id of the page (its last, the list being sorted by id).
fn resume_after(cx: &Context, page: &Page<Json>) -> Option<i64> {
    if !cx.spec.resumable() || !page.has_more {
        return None;
    }
    page.items
        .iter()
        .filter_map(|r| r.get("id").and_then(as_i64))
        .max()
}

/// The events of one page of a full read: its full batches, or, at a resume point,
/// every row so far (the partial batch flushed) and the [`SourceEvent::Resume`].
fn page_events(
    cx: &Context,
    page: &Page<Json>,
    position: &PositionTracker,
    out: &mut Rows,
) -> Result<Vec<SourceEvent>, SourceError> {
    match resume_after(cx, page) {
        Some(after_id) => {
            let mut events = out.flush()?;
            let point = ApiPosition::Resume {
                after_id,
                then: Box::new(position.position()),
            };
            events.push(resume_point(cx.spec.name, &point)?);
            Ok(events)
        }
        None => Ok(out.drain()),
    }
}

impl Plan {
    /// A full read.
    pub fn full(cx: &Context) -> Plan {
        Plan::full_after(cx, Self::fresh_tracker(cx), None)
    }

    /// The rest of a full read after its resume point `after_id`, whose read would end
    /// on `then` as known at that point. `Err` says why the point does not fit the
    /// stream.
    pub fn resume(cx: &Context, after_id: i64, then: &ApiPosition) -> Result<Plan, String> {
        if !cx.spec.resumable() {
            return Err(format!("{} full reads do not resume", cx.spec.name));
        }
        let position = PositionTracker::resumed(cx.spec.mode, then)?;
        Ok(Plan::full_after(cx, position, Some(after_id)))
    }

    fn fresh_tracker(cx: &Context) -> PositionTracker {
        match cx.spec.mode {
            Mode::Me => PositionTracker::Full(None),
            Mode::Reference(link) => PositionTracker::Reference {
                read_at: cx.started,
                server: None,
                track_ids: link.is_some(),
                max_id: None,
            },
            Mode::TrialBalance => PositionTracker::Reference {
                read_at: cx.started,
                server: None,
                track_ids: false,
                max_id: None,
            },
            Mode::Entries | Mode::Changelog(_) | Mode::SubCollection(..) => {
                PositionTracker::ChangelogFrom(None)
            }
        }
    }

    fn full_after(cx: &Context, position: PositionTracker, after: Option<i64>) -> Plan {
        match cx.spec.mode {
            Mode::Me => Plan::List {
                pages: me_company_page(cx.client.clone()),
                position,
            },
            Mode::TrialBalance => Plan::List {
                pages: trial_balance_pages(cx.client.clone()),
                position,
            },
            Mode::SubCollection(_, kind) => Plan::SubFull {
                parents: parent_pages(cx, kind, after),
                kind,
                position,
                after,
                first: true,
                pending: Default::default(),
                more_pages: true,
            },
            _ => Plan::List {
                pages: full_list(
                    cx,
                    raw_list(&cx.client, cx.spec.endpoint, cx.spec.name),
                    after,
                )
                .pages(),
                position,
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
                Ok(Step::More(page_events(cx, &page, position, out)?))
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
            after,
            first,
            pending,
            more_pages,
        } => {
            if !pending.is_empty() {
                // A few invoices of the page, one request each, then a resume point
                // after them: a killed read repeats at most those requests.
                let take = pending.len().min(SUB_RESUME_EVERY);
                let chunk: Vec<i64> = pending.drain(..take).collect();
                fetch_subs(cx, *kind, chunk.clone(), out).await?;
                let after_id = chunk.iter().copied().max();
                return match after_id {
                    Some(after_id)
                        if cx.spec.resumable() && (*more_pages || !pending.is_empty()) =>
                    {
                        let mut events = out.flush()?;
                        let point = ApiPosition::Resume {
                            after_id,
                            then: Box::new(position.position()),
                        };
                        events.push(resume_point(stream, &point)?);
                        Ok(Step::More(events))
                    }
                    _ => Ok(Step::More(out.drain())),
                };
            }
            match parents.next().await {
                Some(Err(Error::Http { status: 400, .. }))
                    if lines_included(cx, *kind) && *first =>
                {
                    // The API refused `include` on the first page: the list again, without.
                    refuse_include(cx, "the API answered 400 to include=invoice_lines");
                    *parents = parent_pages(cx, *kind, *after);
                    Ok(Step::More(Vec::new()))
                }
                Some(page) => {
                    let page = page.map_err(|e| source_error(stream, e))?;
                    *first = false;
                    position.observe_page(&page, cx.clock.as_ref());
                    if lines_included(cx, *kind) {
                        subs_of_page(cx, *kind, &page, out).await?;
                        return Ok(Step::More(page_events(cx, &page, position, out)?));
                    }
                    *more_pages = page.has_more;
                    let mut ids: Vec<i64> = page
                        .items
                        .iter()
                        .filter_map(|p| p.get("id").and_then(as_i64))
                        .collect();
                    ids.sort_unstable();
                    pending.extend(ids);
                    Ok(Step::More(out.drain()))
                }
                None => {
                    let mut events = out.flush()?;
                    events.push(checkpoint(stream, &position.position())?);
                    Ok(Step::Last(events))
                }
            }
        }
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
            changed_subs(cx, kind, changed, out).await?;
        }
        Mode::Entries => {
            // The entries of the inserted and updated lines, read again by id. A deleted
            // line's entry is not known any more (see the module documentation).
            changed_entries(cx, changed, out).await?;
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

/// The entries of the ledger lines `line_ids` into `out`: the lines are read by id
/// (`GET /ledger_entry_lines`, `id in`, 100 at a time) for their entry, then the
/// entries by id (`GET /ledger_entries`, `id in`, 100 at a time). An entry named by a
/// line but not returned was deleted since: it is deleted.
async fn changed_entries(
    cx: &Context,
    line_ids: Vec<i64>,
    out: &mut Rows,
) -> Result<(), SourceError> {
    let stream = cx.spec.name;
    if line_ids.is_empty() {
        return Ok(());
    }
    let mut entry_ids: BTreeSet<i64> = BTreeSet::new();
    let mut lines =
        raw_list(&cx.client, "/ledger_entry_lines", "ledger_entry_lines").by_ids(line_ids);
    while let Some(line) = lines.next().await {
        let line = line.map_err(|e| source_error(stream, e))?;
        let entry = match line.get("ledger_entry") {
            Some(Json::Object(reference)) => reference.get("id").and_then(as_i64),
            _ => line.get("ledger_entry_id").and_then(as_i64),
        };
        match entry {
            Some(id) => {
                entry_ids.insert(id);
            }
            None => tracing::warn!(
                stream,
                line = ?line.get("id"),
                "a ledger line names no entry: skipped"
            ),
        }
    }
    let mut missing = entry_ids.clone();
    let mut entries = raw_list(&cx.client, cx.spec.endpoint, stream).by_ids(entry_ids);
    while let Some(entry) = entries.next().await {
        let entry = entry.map_err(|e| source_error(stream, e))?;
        if let Some(id) = entry.get("id").and_then(as_i64) {
            missing.remove(&id);
        }
        out.push(cx, &entry, None)?;
    }
    if !missing.is_empty() {
        let keys = missing
            .into_iter()
            .map(|id| vec![Value::Int64(cx.company_id), Value::Int64(id)])
            .collect();
        out.delete(Batch::delete(cx.schema.clone(), keys)?);
    }
    Ok(())
}

/// The lines or payments of the changed invoices `invoice_ids`: with their invoices
/// (`id in`, `include=invoice_lines`) when the lines come with them, else one request
/// per invoice.
async fn changed_subs(
    cx: &Context,
    kind: SubKind,
    invoice_ids: Vec<i64>,
    out: &mut Rows,
) -> Result<(), SourceError> {
    if !lines_included(cx, kind) || invoice_ids.is_empty() {
        return fetch_subs(cx, kind, invoice_ids, out).await;
    }
    let mut pending: Vec<i64> = Vec::new();
    for chunk in invoice_ids.chunks(crate::page::MAX_IDS_PER_REQUEST) {
        if !lines_included(cx, kind) {
            pending.extend_from_slice(chunk);
            continue;
        }
        let request = parent_list(cx, kind)
            .limit(chunk.len() as u32)
            .filter(Filter::is_in("id", chunk.to_vec()));
        let mut pages = request.pages();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(Error::Http { status: 400, .. }) => {
                    refuse_include(cx, "the API answered 400 to include=invoice_lines");
                    pending.extend_from_slice(chunk);
                    break;
                }
                Err(e) => return Err(source_error(cx.spec.name, e)),
            };
            subs_of_page(cx, kind, &page, out).await?;
        }
    }
    fetch_subs(cx, kind, pending, out).await
}

/// Sub-collection requests kept in flight at once (the shared rate limiter still
/// paces them): with one at a time, the API's latency rather than its rate limit
/// would set the pace of the one-request-per-invoice reads.
pub(crate) const SUB_COLLECTION_CONCURRENCY: usize = 4;

/// Invoices whose records are read (one request each) between two resume points of a
/// full read of their sub-collection: at Pennylane's rate, two seconds of requests.
const SUB_RESUME_EVERY: usize = 10;

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

pub(crate) fn checkpoint(stream: &str, position: &ApiPosition) -> Result<SourceEvent, SourceError> {
    Position::encode(position)
        .map(SourceEvent::Checkpoint)
        .map_err(|e| SourceError::Data {
            stream: stream.to_owned(),
            source: Box::new(e),
        })
}

/// A [`SourceEvent::Resume`] at `point`.
fn resume_point(stream: &str, point: &ApiPosition) -> Result<SourceEvent, SourceError> {
    Position::encode(point)
        .map(SourceEvent::Resume)
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
