//! A local HTTP server that plays the Pennylane API v2, for tests, benchmarks and
//! `penny demo`.
//!
//! [`Sandbox::start`] binds `127.0.0.1:0` and serves, under
//! `/api/external/v2`, a generated French company per company id: its chart of accounts
//! (PCG classes 1 to 7, auxiliary accounts `411…` per customer and `401…` per supplier),
//! journals VE, AC, BQ, OD and AN, customers (companies and individuals), suppliers,
//! products, customer and supplier invoices with their lines (VAT 20 %, 10 %, 5.5 %) and
//! payments, bank accounts and transactions, fiscal years, categories, and the ledger
//! entries of all of that, whose lines balance per entry and in total.
//!
//! # The generator
//! Everything derives from `(seed, company id)`: same seed, same bytes. Nothing is
//! materialised up front except one integer per ledger entry (where its lines start) and
//! the lines of the fiscal years' opening entries (summed from the years before at
//! start): each record is rebuilt from its index when a page needs it, so a world of millions of
//! ledger lines starts in a fraction of a second and a page costs what its 100 records
//! cost. The books repeat a cycle of ten documents (sales, purchases, their payments,
//! bank fees, payroll or depreciation, see `world.rs`), each fiscal year after the first
//! opening on January 1st with an AN entry (balance-sheet balances carried, the year
//! before's result on 120000 or 129000); three draft invoices and a proforma, outside
//! the books, follow the booked invoices; ids, dates and `created_at` grow
//! with the index, which makes `id`/`date` sorts and `id`/`date` filters binary
//! searches. Mutations ([`Sandbox::create`], [`Sandbox::update`],
//! [`Sandbox::delete`], [`Sandbox::pay_customer_invoice`]...) live in an overlay on top
//! of the generated world, at the sandbox clock, and are recorded in the changelogs.
//!
//! # What of the real API is reproduced
//! - Bearer tokens per company ([`Sandbox::token`]); 401 with a JSON body for a missing
//!   or unknown token; 403 naming the missing `<family>:readonly` scope
//!   ([`Sandbox::token_with_scopes`]); 404 for an unknown path or id. Error bodies are
//!   the spec's `{"error": message, "status": code}`.
//! - The request rules of Pennylane's Company API v2 reference, endpoint by endpoint
//!   ([`spec::ENDPOINTS`], checked against the reference by the contract test): the
//!   `limit` maximum (100, 1000 on ledger accounts, changelogs and the trial balance),
//!   the `sort` fields, and the `filter` fields with their operators (a JSON array of
//!   `{field, operator, value}`). Anything else is a 400: no list filters on
//!   `updated_at`. Default sort `-id`; an opaque cursor that carries neither filter nor
//!   sort, so pages 2+ come back **unfiltered** if `filter` is not sent again; an
//!   unreadable cursor is a 400.
//! - Responses in the Firm API's response schemas (the Company API's resource shapes),
//!   for example a line's lettering as `{"ids": [...], "url": ...}`; the envelope
//!   `{"items", "has_more", "next_cursor"}`. With a [`Contract`]
//!   ([`SandboxBuilder::contract`]) every request and response is checked against the
//!   spec files and the departures kept ([`Sandbox::violations`]).
//! - `GET /customer_invoices?include=invoice_lines` (experimental in the spec): the
//!   page's invoice lines in an `included` section.
//! - Changelogs for customer_invoices, supplier_invoices, customers, suppliers,
//!   products, transactions and ledger_entry_lines: `start_date` xor `cursor` (both: 400),
//!   a `start_date` older than the retention: 422; events in ascending `processed_at`.
//!   Generated records created within the retention window appear as inserts.
//! - `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` on every response when
//!   the rate limit is on; over it, 429 with `retry-after` and a plain-text body.
//! - Amounts as strings with two decimals, references as `{id, url}`, sub-collections as
//!   links (`/customer_invoices/{id}/invoice_lines` and `/payments` are served; the other
//!   links answer empty lists), `GET /<resource>/{id}` for one record, `/me`, and
//!   `/trial_balance` (`period_start`, `period_end`, `is_auxiliary`).
//! - The `Date` header tells the sandbox clock (the clock changelogs use), as a real
//!   server's `Date` agrees with its change logs; [`Sandbox::advance_clock`] moves it.
//!
//! Figures (release build, `cargo run -p penny-api --release --features sandbox
//! --example budget`, 2 shared cores): a 1,000,000-line world starts in about 0.3 s
//! (most of it summing the closed years' entries into their opening entries); a
//! 100-line page of `ledger_entry_lines` costs the server about 0.3 ms (records
//! built and serialised, see [`Sandbox::serving_time`]).
//!
//! Assumptions (not documented by Pennylane, made plausible): the rate-limit window opens
//! with a token's first request and lasts `per` (the real one may be aligned on the
//! clock); scope family names follow the resource names (`ledger_entries` for entries
//! and lines); the `included` section is `{"invoice_lines": [...]}`, each line with its
//! `customer_invoice: {id}`; `start_date` includes events
//! processed at that instant; generated records have `updated_at == created_at`.
//! Requests are served one at a time (wiremock serialises them), which is plenty for a
//! client limited to 5 requests per second.
//!
//! ```no_run
//! # async fn demo() -> Result<(), penny_api::sandbox::SandboxError> {
//! use penny_api::sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig { ledger_lines: 10_000, ..Default::default() }).await?;
//! println!("{} {:?}", sandbox.base_url(), sandbox.token(1));
//! # Ok(()) }
//! ```

mod access;
mod changelog;
mod chart;
pub mod contract;
mod faults;
mod ledger;
mod listing;
mod mutations;
mod names;
mod query;
mod rate_limit;
mod records;
mod resource;
mod rng;
mod server;
pub mod spec;
mod store;
mod trial_balance;
mod world;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use wiremock::{Mock, MockServer, matchers::any};

pub use contract::{Contract, ContractError, Side, Violation};
pub use faults::Fault;
pub use mutations::PaymentRecords;
pub use rate_limit::RateLimit;
pub use resource::Resource;

use server::{Responder, Shared, TokenInfo};

/// How to build the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The world's seed: same seed, same world, byte for byte.
    pub seed: u64,
    /// Number of companies; their ids are `1..=companies`.
    pub companies: usize,
    /// Target number of ledger entry lines per company (the world ends on a whole entry,
    /// so there are a few more).
    pub ledger_lines: usize,
    /// The per-token rate limit; `None` turns it (and its headers) off.
    pub rate_limit: Option<RateLimit>,
    /// The sandbox clock at start.
    pub start: DateTime<Utc>,
    /// How far back changelogs go.
    pub changelog_retention: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 42,
            companies: 1,
            ledger_lines: 2_000,
            rate_limit: Some(RateLimit::default()),
            start: Utc
                .with_ymd_and_hms(2026, 11, 16, 9, 0, 0)
                .single()
                .expect("a valid fixed instant"),
            changelog_retention: Duration::from_secs(28 * 86_400),
        }
    }
}

/// What can go wrong starting or driving the sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The configuration cannot be served.
    #[error("invalid sandbox configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot bind the sandbox on 127.0.0.1 (is the port free?): {source}")]
    Bind {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No such company.
    #[error("company {company_id} does not exist in this sandbox (companies are 1..={companies})")]
    UnknownCompany {
        /// The company asked for.
        company_id: i64,
        /// How many companies there are.
        companies: usize,
    },
    /// No such record (never existed, or deleted).
    #[error("{resource} {id} does not exist in company {company_id}")]
    UnknownRecord {
        /// The company.
        company_id: i64,
        /// The resource's name.
        resource: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The mutation does not make sense for this record.
    #[error("cannot change {resource} {id}: {reason}")]
    InvalidMutation {
        /// The resource's name.
        resource: &'static str,
        /// The record's id (0 for a creation).
        id: i64,
        /// Why.
        reason: String,
    },
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    server: MockServer,
    shared: Arc<Shared>,
    base_url: String,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url)
            .field("companies", &self.shared.worlds.len())
            .finish_non_exhaustive()
    }
}

fn token_string(seed: u64, company_id: i64) -> String {
    format!(
        "sandbox-{company_id}-{:016x}",
        rng::mix(seed ^ rng::mix(company_id as u64 ^ 0x70CE))
    )
}

/// Builds a [`Sandbox`] with options beyond its [`SandboxConfig`].
#[derive(Debug)]
pub struct SandboxBuilder {
    config: SandboxConfig,
    contract: Option<Contract>,
    port: u16,
}

impl SandboxBuilder {
    /// Listens on this port of 127.0.0.1 (default 0: a free port).
    pub fn port(mut self, port: u16) -> SandboxBuilder {
        self.port = port;
        self
    }

    /// Checks every request received and every response served against the specs,
    /// recording the departures (see [`Sandbox::violations`]).
    pub fn contract(mut self, contract: Contract) -> SandboxBuilder {
        self.contract = Some(contract);
        self
    }

    /// Generates the world and starts serving it on `127.0.0.1` (a free port).
    pub async fn start(self) -> Result<Sandbox, SandboxError> {
        Sandbox::start_with(self.config, self.contract, self.port).await
    }
}

impl Sandbox {
    /// A builder for a sandbox of `config`.
    pub fn builder(config: SandboxConfig) -> SandboxBuilder {
        SandboxBuilder {
            config,
            contract: None,
            port: 0,
        }
    }

    /// Generates the world and starts serving it on `127.0.0.1` (a free port).
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Sandbox::start_with(config, None, 0).await
    }

    async fn start_with(
        config: SandboxConfig,
        contract: Option<Contract>,
        port: u16,
    ) -> Result<Sandbox, SandboxError> {
        if config.companies == 0 || config.ledger_lines == 0 {
            return Err(SandboxError::InvalidConfig {
                reason: format!(
                    "companies ({}) and ledger_lines ({}) must be at least 1",
                    config.companies, config.ledger_lines
                ),
            });
        }
        if let Some(limit) = config.rate_limit
            && (limit.requests == 0 || limit.per.is_zero())
        {
            return Err(SandboxError::InvalidConfig {
                reason: format!(
                    "rate limit {limit:?} must allow at least one request per non-zero window"
                ),
            });
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|source| SandboxError::Bind { source })?;
        let server = MockServer::builder()
            .listener(listener)
            .disable_request_recording()
            .start()
            .await;
        let base_url = format!("{}{}", server.uri(), server::API_PREFIX);
        let worlds: Vec<_> = (1..=config.companies as i64)
            .map(|c| {
                world::World::new(
                    config.seed,
                    c,
                    config.ledger_lines,
                    config.start,
                    base_url.clone(),
                )
            })
            .collect();
        let tokens: HashMap<String, TokenInfo> = (1..=config.companies as i64)
            .map(|c| {
                (
                    token_string(config.seed, c),
                    TokenInfo {
                        company_id: c,
                        scopes: server::full_scopes(),
                    },
                )
            })
            .collect();
        let shared = Arc::new(Shared::new(config, worlds, tokens, contract));
        Mock::given(any())
            .respond_with(Responder(shared.clone()))
            .mount(&server)
            .await;
        Ok(Sandbox {
            server,
            shared,
            base_url,
        })
    }

    /// `http://127.0.0.1:<port>/api/external/v2`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The address the server listens on.
    pub fn address(&self) -> std::net::SocketAddr {
        *self.server.address()
    }

    /// The bearer token of company `company_id`, with every read scope. Unknown companies
    /// get a token the server refuses (401).
    pub fn token(&self, company_id: i64) -> SecretString {
        SecretString::from(token_string(self.shared.config.seed, company_id))
    }

    /// A new token of company `company_id` carrying only `scopes` (for example
    /// `["customers:readonly"]`), to exercise 403s.
    pub fn token_with_scopes(
        &self,
        company_id: i64,
        scopes: &[&str],
    ) -> Result<SecretString, SandboxError> {
        self.company(company_id)?;
        let mut state = self.shared.lock();
        let token = format!(
            "{}-s{}",
            token_string(self.shared.config.seed, company_id),
            state.tokens.len()
        );
        state.tokens.insert(
            token.clone(),
            TokenInfo {
                company_id,
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            },
        );
        Ok(SecretString::from(token))
    }

    /// The company ids, `1..=companies`.
    pub fn company_ids(&self) -> Vec<i64> {
        (1..=self.shared.worlds.len() as i64).collect()
    }

    /// The configuration the sandbox runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// The sandbox clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().clock
    }

    /// Moves the sandbox clock forward (a negative duration is ignored: time does not go
    /// back, so changelogs stay in order).
    pub fn advance_clock(&self, by: chrono::Duration) {
        if by > chrono::Duration::zero() {
            self.shared.lock().clock += by;
        }
    }

    /// Number of generated records of a top-level resource in company `company_id`
    /// (before mutations).
    pub fn generated_count(
        &self,
        company_id: i64,
        resource: Resource,
    ) -> Result<usize, SandboxError> {
        let w = self.company(company_id)?;
        Ok(records::len(w, resource))
    }

    /// The ids of the generated records of a top-level resource (before mutations;
    /// empty if there are none).
    pub fn generated_ids(
        &self,
        company_id: i64,
        resource: Resource,
    ) -> Result<std::ops::Range<i64>, SandboxError> {
        let n = self.generated_count(company_id, resource)?;
        let first = records::id_of(resource, 0);
        Ok(first..first + n as i64)
    }

    /// Queues a fault for the next requests.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Requests received on `path` (below the base URL, e.g. `/customers`), whatever
    /// their answer.
    pub fn request_count(&self, path: &str) -> u64 {
        self.shared.lock().requests.get(path).copied().unwrap_or(0)
    }

    /// Requests received so far, per path (below the base URL, e.g. `/customers` or
    /// `/customer_invoices/7/payments`).
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared
            .lock()
            .requests
            .iter()
            .map(|(path, n)| (path.clone(), *n))
            .collect()
    }

    /// Requests received on every path.
    pub fn total_requests(&self) -> u64 {
        self.shared.lock().requests.values().sum()
    }

    /// The decoded query parameters of the last request on `path`.
    pub fn last_query(&self, path: &str) -> Option<Vec<(String, String)>> {
        self.shared.lock().last_query.get(path).cloned()
    }

    /// 429s served, whether the rate limit or an injected storm caused them.
    pub fn rate_limited_count(&self) -> u64 {
        self.shared.lock().served_429
    }

    /// Time the server spent computing answers (generating records, serialising JSON),
    /// network and injected latency excluded.
    pub fn serving_time(&self) -> Duration {
        self.shared.lock().serving_time
    }

    /// 429s served because a token exceeded the rate limit (injected storms excluded).
    pub fn limit_exceeded_count(&self) -> u64 {
        self.shared.lock().limit_exceeded
    }

    /// The departures from the specs met so far, in the order met (empty without a
    /// [`SandboxBuilder::contract`]).
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// The endpoints (method and path template of the Company API reference, e.g.
    /// `GET /products`) whose responses no schema of the specs describes, so the
    /// contract could not check them.
    pub fn unchecked_endpoints(&self) -> Vec<String> {
        self.shared.lock().unchecked.iter().cloned().collect()
    }

    fn company(&self, company_id: i64) -> Result<&world::World, SandboxError> {
        usize::try_from(company_id - 1)
            .ok()
            .and_then(|i| self.shared.worlds.get(i))
            .ok_or(SandboxError::UnknownCompany {
                company_id,
                companies: self.shared.worlds.len(),
            })
    }
}
