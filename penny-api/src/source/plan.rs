//! What a full read of the streams will cost, estimated before reading
//! ([`PennylaneSource::plan`](super::PennylaneSource::plan)).
//!
//! The Company API gives no record counts, so each list is probed: its first page by
//! ascending id and its first page by descending id (two requests, one when everything
//! fits on one page). When the two pages meet, the count is exact; otherwise it is the
//! ids' span between them times the density of ids the two pages show. Pennylane's ids
//! are shared by every company, so the density of one company's ids drifts over the
//! years: the figure is an estimate, usually within tens of percent, and the requests
//! follow from it and from the way each stream is read (the list's pages; one request
//! per invoice for the sub-collections that have no list of their own; the trial
//! balance's pages per fiscal year).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use super::tables::{Mode, SubKind, TABLES, TableSpec};
use crate::client::Client;
use crate::error::Error;
use crate::page::{ListRequest, max_limit};

/// How many records a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCount {
    /// Counted: the list fits in the probed pages.
    Exact(u64),
    /// Estimated from the ids' span and density (see the module's documentation).
    About(u64),
}

impl RecordCount {
    /// The count or estimate.
    pub fn value(self) -> u64 {
        match self {
            RecordCount::Exact(n) | RecordCount::About(n) => n,
        }
    }

    fn times(self, factor: u64) -> RecordCount {
        match self {
            RecordCount::Exact(n) => RecordCount::Exact(n * factor),
            RecordCount::About(n) => RecordCount::About(n * factor),
        }
    }
}

impl std::fmt::Display for RecordCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordCount::Exact(n) => write!(f, "{n}"),
            RecordCount::About(n) => write!(f, "~{n}"),
        }
    }
}

/// One stream's share of a full read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    /// The stream.
    pub stream: &'static str,
    /// Records it reads: for the invoices' sub-collections, the invoices they are read
    /// through.
    pub records: RecordCount,
    /// Requests a full read makes.
    pub requests: u64,
    /// Whether `records` counts the stream's own rows (false for the invoices'
    /// sub-collections, counted by their invoices, and the trial balance's accounts
    /// times years).
    pub records_are_rows: bool,
}

/// What a full read of some streams costs.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    /// Per stream, in the source's order.
    pub streams: Vec<StreamPlan>,
    /// The requests the estimate itself made.
    pub probe_requests: u64,
    /// The client's sustained rate, requests per second (`None`: no limit).
    pub per_second: Option<f64>,
}

impl SyncPlan {
    /// Requests of the whole read.
    pub fn requests(&self) -> u64 {
        self.streams.iter().map(|s| s.requests).sum()
    }

    /// How long `requests` take at the client's rate (`None` without a limit).
    pub fn time_for(&self, requests: u64) -> Option<Duration> {
        let rate = self.per_second.filter(|r| *r > 0.0)?;
        Some(Duration::from_secs_f64(requests as f64 / rate))
    }

    /// How long the whole read takes at the client's rate.
    pub fn duration(&self) -> Option<Duration> {
        self.time_for(self.requests())
    }
}

/// The first page by ascending id and by descending id of `spec`'s list, counted;
/// with the requests it took.
async fn count(client: &Client, spec: &TableSpec) -> Result<(RecordCount, u64), Error> {
    let ids = |page: &crate::page::Page<Json>| -> Vec<i64> {
        page.items
            .iter()
            .filter_map(|r| r.get("id").and_then(Json::as_i64))
            .collect()
    };
    let list = || ListRequest::<Json>::new(client.clone(), spec.endpoint, spec.name);
    let sortable = sortable(spec);
    let first = match sortable {
        true => list().sort("id").page(None).await?,
        false => list().page(None).await?,
    };
    if !first.has_more || first.next_cursor.is_none() {
        return Ok((RecordCount::Exact(first.items.len() as u64), 1));
    }
    if !sortable {
        // No way to see the other end: at least the first page, twice as a guess.
        return Ok((RecordCount::About(2 * first.items.len() as u64), 1));
    }
    let last = list().sort("-id").page(None).await?;
    let (a, b) = (ids(&first), ids(&last));
    let (Some(&min_a), Some(&max_a), Some(&min_b), Some(&max_b)) = (
        a.iter().min(),
        a.iter().max(),
        b.iter().min(),
        b.iter().max(),
    ) else {
        // Pages without ids: at least what they hold.
        return Ok((
            RecordCount::About((first.items.len() + last.items.len()) as u64),
            2,
        ));
    };
    if min_b <= max_a {
        // The pages meet: every record was seen.
        let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        all.dedup();
        return Ok((RecordCount::Exact(all.len() as u64), 2));
    }
    let seen = (a.len() + b.len()) as f64;
    let spans = ((max_a - min_a + 1) + (max_b - min_b + 1)) as f64;
    let span = (max_b - min_a + 1) as f64;
    let estimate = (seen / spans * span).round().max(seen) as u64;
    Ok((RecordCount::About(estimate), 2))
}

/// Whether the endpoint takes `sort=id` (every list the source reads but
/// `/category_groups` and `/trial_balance`, per the spec).
fn sortable(spec: &TableSpec) -> bool {
    !matches!(spec.endpoint, "/category_groups" | "/trial_balance" | "/me")
}

/// `records` read `limit` at a time: at least one request.
fn pages(records: u64, limit: u32) -> u64 {
    records.div_ceil(u64::from(limit.max(1))).max(1)
}

/// The plan of a full read of `streams` (all when empty) through `client`.
/// `lines_included`: whether customer invoice lines come with their invoices' pages.
pub(crate) async fn plan(
    client: &Client,
    streams: &[&str],
    lines_included: bool,
) -> Result<SyncPlan, (&'static str, Error)> {
    let wanted: Vec<&'static TableSpec> = TABLES
        .iter()
        .filter(|t| streams.is_empty() || streams.contains(&t.name))
        .collect();
    let mut counts: BTreeMap<&'static str, RecordCount> = BTreeMap::new();
    let mut probe_requests = 0;
    // The endpoints to count: the streams' lists, and what the trial balance's cost
    // depends on (fiscal years, ledger accounts).
    let mut endpoints: Vec<&'static TableSpec> = Vec::new();
    for spec in &wanted {
        match spec.mode {
            Mode::Me => {}
            Mode::TrialBalance => {
                for name in ["fiscal_years", "ledger_accounts"] {
                    if let Some(t) = TABLES.iter().find(|t| t.name == name) {
                        endpoints.push(t);
                    }
                }
            }
            _ => endpoints.push(spec),
        }
    }
    for spec in endpoints {
        if counts.contains_key(spec.endpoint) {
            continue;
        }
        let (n, cost) = count(client, spec).await.map_err(|e| (spec.name, e))?;
        probe_requests += cost;
        counts.insert(spec.endpoint, n);
    }
    let of = |endpoint: &str| {
        counts
            .get(endpoint)
            .copied()
            .unwrap_or(RecordCount::Exact(0))
    };
    let streams = wanted
        .iter()
        .map(|spec| {
            let list_limit = max_limit(spec.endpoint);
            let (records, requests) = match spec.mode {
                Mode::Me => (RecordCount::Exact(1), 1),
                Mode::TrialBalance => {
                    let years = of("/fiscal_years").value();
                    let accounts = of("/ledger_accounts");
                    (
                        accounts.times(years),
                        1 + years * pages(accounts.value(), max_limit("/trial_balance")),
                    )
                }
                Mode::SubCollection(_, kind) => {
                    let parents = of(spec.endpoint);
                    let list = pages(parents.value(), list_limit);
                    let included = lines_included
                        && kind == SubKind::Lines
                        && spec.endpoint == "/customer_invoices";
                    let per_parent = if included { 0 } else { parents.value() };
                    (parents, list + per_parent)
                }
                Mode::Reference(_) | Mode::Entries | Mode::Changelog(_) => {
                    let n = of(spec.endpoint);
                    (n, pages(n.value(), list_limit))
                }
            };
            StreamPlan {
                stream: spec.name,
                records,
                requests,
                records_are_rows: !matches!(
                    spec.mode,
                    Mode::SubCollection(..) | Mode::TrialBalance
                ),
            }
        })
        .collect();
    Ok(SyncPlan {
        streams,
        probe_requests,
        per_second: client.rate_limit().map(|r| r.per_second()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_never_fall_to_zero() {
        assert_eq!(pages(0, 100), 1);
        assert_eq!(pages(100, 100), 1);
        assert_eq!(pages(101, 100), 2);
        assert_eq!(pages(7_000, 1_000), 7);
    }

    #[test]
    fn time_follows_the_rate() {
        let plan = SyncPlan {
            streams: vec![StreamPlan {
                stream: "ledger_entry_lines",
                records: RecordCount::About(100_000),
                requests: 1_000,
                records_are_rows: true,
            }],
            probe_requests: 2,
            per_second: Some(5.0),
        };
        assert_eq!(plan.requests(), 1_000);
        assert_eq!(plan.duration(), Some(Duration::from_secs(200)));
        let unlimited = SyncPlan {
            per_second: None,
            ..plan
        };
        assert_eq!(unlimited.duration(), None);
        assert_eq!(RecordCount::About(3).to_string(), "~3");
        assert_eq!(RecordCount::Exact(3).to_string(), "3");
    }
}
