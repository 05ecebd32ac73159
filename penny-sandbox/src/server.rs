//! The HTTP side: a wiremock [`Respond`] that authenticates, rate-limits, injects faults,
//! counts, routes and answers in the API's dialect.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use crate::access;
use crate::changelog;
use crate::config::SandboxConfig;
use crate::contract::{Contract, Violation};
use crate::faults::{Fault, Faults};
use crate::listing;
use crate::query::{self, ApiError, parse_list};
use crate::rate_limit::{Limiter, Verdict};
use crate::resource::{Resource, SCOPE_FAMILIES};
use crate::spec;
use crate::store::CompanyStore;
use crate::trial_balance::{self, Period, Row};
use crate::world::World;

/// The path prefix of every endpoint.
pub(crate) const API_PREFIX: &str = "/api/external/v2";

/// What a bearer token may do.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub company_id: i64,
    pub scopes: Vec<String>,
}

/// Everything that changes while the sandbox runs.
#[derive(Debug)]
pub(crate) struct State {
    pub clock: DateTime<Utc>,
    pub stores: Vec<CompanyStore>,
    pub tokens: HashMap<String, TokenInfo>,
    pub limiter: Limiter,
    pub faults: Faults,
    pub requests: HashMap<String, u64>,
    pub last_query: HashMap<String, Vec<(String, String)>>,
    pub served_429: u64,
    pub limit_exceeded: u64,
    pub serving_time: Duration,
    pub violations: Vec<Violation>,
    pub unchecked: BTreeSet<String>,
    trial_balance: Option<(i64, Period, u64, Arc<Vec<Row>>)>,
}

/// What the server and the [`Sandbox`](crate::Sandbox) handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub worlds: Vec<World>,
    pub state: Mutex<State>,
    pub contract: Option<Contract>,
}

impl Shared {
    pub(crate) fn new(
        config: SandboxConfig,
        worlds: Vec<World>,
        tokens: HashMap<String, TokenInfo>,
        contract: Option<Contract>,
    ) -> Shared {
        let stores = worlds.iter().map(|_| CompanyStore::default()).collect();
        Shared {
            state: Mutex::new(State {
                clock: config.start,
                stores,
                tokens,
                limiter: Limiter::default(),
                faults: Faults::default(),
                requests: HashMap::new(),
                last_query: HashMap::new(),
                served_429: 0,
                limit_exceeded: 0,
                serving_time: Duration::ZERO,
                violations: Vec::new(),
                unchecked: BTreeSet::new(),
                trial_balance: None,
            }),
            contract,
            config,
            worlds,
        }
    }

    /// Locks the state (a panic in another holder does not poison the sandbox).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Full read access: every scope family, read-only.
pub(crate) fn full_scopes() -> Vec<String> {
    SCOPE_FAMILIES
        .iter()
        .map(|f| format!("{f}:readonly"))
        .collect()
}

/// The wiremock responder.
pub(crate) struct Responder(pub Arc<Shared>);

/// The API's error body: `{"error": message, "status": code}`.
fn error_body(error: &ApiError) -> Value {
    json!({ "error": error.message, "status": error.status })
}

fn with_rate_headers(template: ResponseTemplate, verdict: Option<&Verdict>) -> ResponseTemplate {
    match verdict {
        None => template,
        Some(v) => template
            .insert_header("ratelimit-limit", v.limit.to_string().as_str())
            .insert_header("ratelimit-remaining", v.remaining.to_string().as_str())
            .insert_header("ratelimit-reset", v.reset.to_string().as_str()),
    }
}

fn json_response(status: u16, body: &Value, truncate: bool) -> ResponseTemplate {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    if truncate {
        bytes.truncate(bytes.len() / 2);
    }
    ResponseTemplate::new(status).set_body_raw(bytes, "application/json; charset=utf-8")
}

fn too_many(retry_after: u64) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", retry_after.to_string().as_str())
        .set_body_raw(
            format!("Rate limit exceeded. Please retry in {retry_after} seconds."),
            "text/plain; charset=utf-8",
        )
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let started = Instant::now();
        let mut state = self.0.lock();
        let template = answer(&self.0, &mut state, request);
        state.serving_time += started.elapsed();
        // The server's clock is the sandbox clock, the one changelogs use.
        let date = state.clock.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        template.insert_header("date", date.as_str())
    }
}

fn answer(shared: &Shared, state: &mut State, request: &Request) -> ResponseTemplate {
    {
        let path = request.url.path();
        let Some(rest) = path.strip_prefix(API_PREFIX) else {
            let error = ApiError::not_found(format!("no route for {path}"));
            return json_response(404, &error_body(&error), false);
        };
        let rest = rest.trim_end_matches('/').to_owned();
        let pairs: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        *state.requests.entry(rest.clone()).or_insert(0) += 1;
        state.last_query.insert(rest.clone(), pairs.clone());
        if let Some(contract) = &shared.contract
            && request.method.as_str() == "GET"
        {
            let found = contract.check_request(&rest, &pairs);
            state.violations.extend(found);
        }

        let token = request
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_owned();
        let verdict = shared
            .config
            .rate_limit
            .map(|limit| state.limiter.check(&token, limit, Instant::now()));
        if let Some(v) = verdict.as_ref().filter(|v| !v.allowed) {
            state.served_429 += 1;
            state.limit_exceeded += 1;
            return with_rate_headers(too_many(v.retry_after), Some(v));
        }
        let mut delay: Option<Duration> = None;
        let mut truncate = false;
        match state.faults.next() {
            Some(Fault::TooManyRequests {
                retry_after_secs, ..
            }) => {
                state.served_429 += 1;
                return with_rate_headers(too_many(retry_after_secs), verdict.as_ref());
            }
            Some(Fault::ServerError { status, .. }) => {
                let body = json!({ "error": format!("injected HTTP {status}"), "status": status });
                return with_rate_headers(json_response(status, &body, false), verdict.as_ref());
            }
            Some(Fault::Latency { delay: d, .. }) => delay = Some(d),
            Some(Fault::MalformedJson { .. }) => truncate = true,
            None => {}
        }
        let result = if request.method.as_str() != "GET" {
            Err(ApiError {
                status: 405,
                code: "method_not_allowed",
                message: format!("{} is not served by the sandbox", request.method),
            })
        } else {
            match state.tokens.get(&token).cloned() {
                None => Err(ApiError {
                    status: 401,
                    code: "unauthorized",
                    message: "Invalid, expired or missing access token".into(),
                }),
                Some(info) => route(shared, state, &info, &rest, &pairs),
            }
        };
        if let Some(contract) = &shared.contract {
            check_response(contract, state, &rest, &pairs, &result);
        }
        let template = match result {
            Ok(Body::Json(body)) => json_response(200, &body, truncate),
            Ok(Body::Text(mut text)) => {
                if truncate {
                    text.truncate(text.len() / 2);
                }
                ResponseTemplate::new(200)
                    .set_body_raw(text.into_bytes(), "application/json; charset=utf-8")
            }
            Err(error) => json_response(error.status, &error_body(&error), truncate),
        };
        let template = with_rate_headers(template, verdict.as_ref());
        match delay {
            Some(d) => template.set_delay(d),
            None => template,
        }
    }
}

/// Records what the contract finds in the answer to `rest`.
fn check_response(
    contract: &Contract,
    state: &mut State,
    rest: &str,
    pairs: &[(String, String)],
    result: &Result<Body, ApiError>,
) {
    let (status, body) = match result {
        Ok(Body::Json(body)) => (200, body.clone()),
        Ok(Body::Text(text)) => (
            200,
            serde_json::from_str(text).unwrap_or_else(|e| json!(format!("invalid JSON: {e}"))),
        ),
        Err(error) => (error.status, error_body(error)),
    };
    match contract.check_response(rest, pairs, status, &body) {
        Some(found) => state.violations.extend(found),
        None => {
            let template = contract.endpoint(rest).map_or(rest, |e| e.path.as_str());
            state.unchecked.insert(format!("GET {template}"));
        }
    }
}

fn require_scope(info: &TokenInfo, family: &str) -> Result<(), ApiError> {
    let read = format!("{family}:readonly");
    let all = format!("{family}:all");
    if info.scopes.iter().any(|s| *s == read || *s == all) {
        Ok(())
    } else {
        Err(ApiError {
            status: 403,
            code: "forbidden",
            message: format!("Missing scope: this endpoint requires the `{read}` scope"),
        })
    }
}

/// The list envelope, written around the items' JSON text.
fn envelope(page: listing::Page) -> Body {
    let mut body =
        String::with_capacity(page.items.iter().map(|i| i.len() + 1).sum::<usize>() + 160);
    body.push_str("{\"items\":[");
    body.push_str(&page.items.join(","));
    body.push_str("],\"has_more\":");
    body.push_str(if page.next_cursor.is_some() {
        "true"
    } else {
        "false"
    });
    body.push_str(",\"next_cursor\":");
    body.push_str(&serde_json::to_string(&page.next_cursor).unwrap_or_else(|_| "null".into()));
    body.push('}');
    Body::Text(body)
}

/// `GET /customer_invoices?include=invoice_lines`: the page, and the lines of its
/// invoices in an `included` section, `{"invoice_lines": [...]}`, each line carrying
/// its invoice as `customer_invoice: {id}` (the section's exact shape is not in the
/// spec, which marks `include` experimental).
fn with_included_lines(w: &World, store: &CompanyStore, page: listing::Page) -> Value {
    let items: Vec<Value> = page
        .items
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect();
    let mut lines = Vec::new();
    for invoice in &items {
        let Some(id) = invoice.get("id").and_then(Value::as_i64) else {
            continue;
        };
        for mut line in
            access::children(w, store, Resource::CustomerInvoiceLines, id).unwrap_or_default()
        {
            if let Some(map) = line.as_object_mut() {
                map.insert("customer_invoice".into(), json!({ "id": id }));
            }
            lines.push(line);
        }
    }
    json!({
        "items": items,
        "has_more": page.next_cursor.is_some(),
        "next_cursor": page.next_cursor,
        "included": { "invoice_lines": lines },
    })
}

/// A successful answer's body.
pub(crate) enum Body {
    Json(Value),
    Text(String),
}

impl From<Value> for Body {
    fn from(value: Value) -> Self {
        Body::Json(value)
    }
}

fn route(
    shared: &Shared,
    state: &mut State,
    info: &TokenInfo,
    rest: &str,
    pairs: &[(String, String)],
) -> Result<Body, ApiError> {
    let company = info.company_id;
    let w = &shared.worlds[(company - 1) as usize];
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let unknown = || ApiError::not_found(format!("no route for {API_PREFIX}{rest}"));
    let rules = spec::rules_for(rest).ok_or_else(unknown)?;
    match segments.as_slice() {
        ["me"] => Ok(Body::Json(json!({
            "user": { "id": 1, "first_name": "Camille", "last_name": "Martin", "email": "camille.martin@exemple.fr", "locale": "fr" },
            "company": { "id": w.company_id, "name": w.company_name, "reg_no": format!("{:09}", 512_000_000 + w.company_id) },
            "scopes": info.scopes,
        }))),
        ["trial_balance"] => {
            require_scope(info, "trial_balance")?;
            let period = trial_balance::parse_period(pairs)?;
            let store = &state.stores[(company - 1) as usize];
            let rows = match &state.trial_balance {
                Some((c, p, v, rows)) if *c == company && *p == period && *v == store.version => {
                    rows.clone()
                }
                _ => {
                    let rows = Arc::new(trial_balance::compute(w, store, period));
                    state.trial_balance = Some((company, period, store.version, rows.clone()));
                    rows
                }
            };
            trial_balance::page(&rows, pairs).map(Body::from)
        }
        ["changelogs", name] => {
            let resource = Resource::from_segment(name)
                .filter(|r| r.has_changelog())
                .ok_or_else(unknown)?;
            require_scope(info, resource.scope_family())?;
            let retention = chrono::Duration::from_std(shared.config.changelog_retention)
                .unwrap_or(chrono::Duration::days(28));
            changelog::page(
                w,
                &state.stores[(company - 1) as usize],
                resource,
                pairs,
                state.clock,
                retention,
            )
            .map(Body::from)
        }
        [name] => {
            let resource = Resource::from_segment(name).ok_or_else(unknown)?;
            require_scope(info, resource.scope_family())?;
            let query = parse_list(pairs, rules)?;
            let include = query::param(pairs, "include");
            if let Some(include) = include
                && !include.split(',').all(|i| rules.includes.contains(&i))
            {
                return Err(ApiError::bad_request(format!(
                    "include `{include}` is not available on {rest} (available: {})",
                    rules.includes.join(", ")
                )));
            }
            let store = &state.stores[(company - 1) as usize];
            let page = listing::list(w, store, resource, &query);
            match include {
                Some(_) => Ok(Body::Json(with_included_lines(w, store, page))),
                None => Ok(envelope(page)),
            }
        }
        [name, id] => {
            let resource = Resource::from_segment(name).ok_or_else(unknown)?;
            require_scope(info, resource.scope_family())?;
            let id: i64 = id.parse().map_err(|_| unknown())?;
            access::record(w, &state.stores[(company - 1) as usize], resource, id)
                .map(Body::from)
                .ok_or_else(|| ApiError::not_found(format!("{} {id} not found", resource.name())))
        }
        [name, id, sub] => {
            let resource = Resource::from_segment(name).ok_or_else(unknown)?;
            require_scope(info, resource.scope_family())?;
            let parent_id: i64 = id.parse().map_err(|_| unknown())?;
            let store = &state.stores[(company - 1) as usize];
            let values = match resource.child(sub) {
                Some(child) => {
                    let query = parse_list(pairs, rules)?;
                    let values = access::children(w, store, child, parent_id).ok_or_else(|| {
                        ApiError::not_found(format!("{} {parent_id} not found", resource.name()))
                    })?;
                    return Ok(envelope(listing::list_values(values, &query)));
                }
                None if resource == Resource::LedgerEntries && *sub == "ledger_entry_lines" => {
                    access::entry_lines(w, store, parent_id).ok_or_else(|| {
                        ApiError::not_found(format!("ledger entry {parent_id} not found"))
                    })?
                }
                None if resource == Resource::LedgerEntryLines && *sub == "categories" => {
                    let line = access::record(w, store, resource, parent_id).ok_or_else(|| {
                        ApiError::not_found(format!("ledger entry line {parent_id} not found"))
                    })?;
                    line.get("categories")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                }
                None if resource == Resource::LedgerEntryLines
                    && *sub == "lettered_ledger_entry_lines" =>
                {
                    let line = access::record(w, store, resource, parent_id).ok_or_else(|| {
                        ApiError::not_found(format!("ledger entry line {parent_id} not found"))
                    })?;
                    line.pointer("/lettered_ledger_entry_lines/ids")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_i64)
                        .filter_map(|id| access::record(w, store, resource, id))
                        .map(access::lettered_view)
                        .collect()
                }
                None if resource == Resource::CategoryGroups && *sub == "categories" => {
                    access::record(w, store, resource, parent_id).ok_or_else(|| {
                        ApiError::not_found(format!("category group {parent_id} not found"))
                    })?;
                    let n = crate::records::categories_len();
                    (0..n)
                        .filter_map(|i| {
                            access::record(
                                w,
                                store,
                                Resource::Categories,
                                crate::records::id_of(Resource::Categories, i),
                            )
                        })
                        .filter(|c| {
                            c.pointer("/category_group/id").and_then(Value::as_i64)
                                == Some(parent_id)
                        })
                        // Listed under their group, categories do not repeat it.
                        .map(|mut c| {
                            if let Some(map) = c.as_object_mut() {
                                map.remove("category_group");
                            }
                            c
                        })
                        .collect()
                }
                // Links the sandbox emits but does not populate: empty lists.
                None if matches!(
                    *sub,
                    "matched_transactions"
                        | "categories"
                        | "appendices"
                        | "invoice_line_sections"
                        | "custom_header_fields"
                        | "contacts"
                        | "matched_invoices"
                ) =>
                {
                    access::record(w, store, resource, parent_id).ok_or_else(|| {
                        ApiError::not_found(format!("{} {parent_id} not found", resource.name()))
                    })?;
                    Vec::new()
                }
                None => return Err(unknown()),
            };
            let query = parse_list(pairs, rules)?;
            Ok(envelope(listing::list_values(values, &query)))
        }
        _ => Err(unknown()),
    }
}
