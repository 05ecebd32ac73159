//! The handle on a running sandbox: start it, reach it, read its counters, drive its clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use wiremock::{Mock, MockServer, matchers::any};

use crate::config::SandboxConfig;
use crate::contract::{Contract, Violation};
use crate::error::SandboxError;
use crate::faults::Fault;
use crate::generate;
use crate::records;
use crate::resource::Resource;
use crate::rng;
use crate::server::{self, Responder, Shared, TokenInfo};
use crate::world::World;

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    server: MockServer,
    /// What the server answers from (the mutations of `mutations.rs` change it too).
    pub(crate) shared: Arc<Shared>,
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
            .map(|c| generate::world(&config, c, base_url.clone()))
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

    /// The world of company `company_id`.
    pub(crate) fn company(&self, company_id: i64) -> Result<&World, SandboxError> {
        usize::try_from(company_id - 1)
            .ok()
            .and_then(|i| self.shared.worlds.get(i))
            .ok_or(SandboxError::UnknownCompany {
                company_id,
                companies: self.shared.worlds.len(),
            })
    }
}
