//! The [`Client`]: builder, shared rate limiter, retries, and the one GET every call uses.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, api_message, retry_after};
use crate::rate_limit::{Pacer, RateLimit};
use crate::retry::RetryPolicy;

/// The production base URL of the Pennylane Company API v2.
pub const DEFAULT_BASE_URL: &str = "https://app.pennylane.com/api/external/v2";

/// The environment variable [`Client::from_env`] reads the token from.
pub const TOKEN_ENV: &str = "PENNYLANE_API_TOKEN";

/// The environment variable [`Client::from_env`] reads an optional base URL from.
pub const BASE_URL_ENV: &str = "PENNYLANE_API_BASE_URL";

/// The changelogs' documented retention.
pub const CHANGELOG_RETENTION_DAYS: i64 = 28;

/// A Pennylane API v2 client.
///
/// Cheap to clone: every clone shares one connection pool, one rate limiter and one
/// set of counters, because Pennylane's limit (25 requests per 5 s) is per token,
/// not per task. Build one with [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use penny_api::{Client, RateLimit, RetryPolicy};
///
/// let client = Client::builder()
///     .token("my-secret-token")
///     .rate_limit(RateLimit::pennylane_default())
///     .retry(RetryPolicy::default())
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// assert!(!format!("{client:?}").contains("my-secret-token"));
/// # Ok::<(), penny_api::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
    rate_limit: Option<RateLimit>,
    retry: RetryPolicy,
    changelog_retention: Option<chrono::Duration>,
    pacer: Pacer,
    counters: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    server_pauses: AtomicU64,
}

/// What a client (and all its clones) has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Requests sent again after a failure.
    pub retries: u64,
    /// Times the `ratelimit-*` headers made the client pause before the server said no.
    pub server_pauses: u64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("token", &"[REDACTED]")
            .field("rate_limit", &self.inner.rate_limit)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with the defaults (production URL, [`RateLimit::pennylane_default`],
    /// [`RetryPolicy::default`]); a token is required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from `PENNYLANE_API_TOKEN` and, when set, `PENNYLANE_API_BASE_URL`.
    pub fn from_env() -> Result<Client> {
        let token = std::env::var(TOKEN_ENV).map_err(|_| Error::Config {
            reason: format!("{TOKEN_ENV} is not set (a Pennylane API token is required)"),
        })?;
        let mut builder = Client::builder().token(token);
        if let Ok(url) = std::env::var(BASE_URL_ENV)
            && !url.trim().is_empty()
        {
            builder = builder.base_url(url);
        }
        builder.build()
    }

    /// The base URL requests go to (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The rate limit this client keeps, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.rate_limit
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// How old a changelog start may be before it is refused locally
    /// (`None`: never refused locally; the server's 422 still is).
    pub fn changelog_retention(&self) -> Option<chrono::Duration> {
        self.inner.changelog_retention
    }

    /// Counters shared by every clone of this client.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            server_pauses: c.server_pauses.load(Ordering::Relaxed),
        }
    }

    /// GETs `endpoint` (a path below the base URL, such as `/customers`) with `query`,
    /// and decodes the JSON body as `T`; `resource` names it in decode errors.
    ///
    /// Every typed call goes through here; use it for endpoints this crate does not
    /// wrap yet (with `T = serde_json::Value` for an untyped answer).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        resource: &str,
        query: &[(String, String)],
    ) -> Result<T> {
        let body = self.get(endpoint, query).await?;
        decode_document(resource, &body)
    }

    /// GETs `endpoint` with `query` and returns the raw body, pacing and retrying
    /// per the client's settings.
    pub async fn get(&self, endpoint: &str, query: &[(String, String)]) -> Result<Vec<u8>> {
        self.get_timed(endpoint, query).await.map(|(body, _)| body)
    }

    /// Like [`Client::get`], also returning the server's clock (its `Date` header).
    pub(crate) async fn get_timed(
        &self,
        endpoint: &str,
        query: &[(String, String)],
    ) -> Result<(Vec<u8>, Option<DateTime<Utc>>)> {
        let inner = &*self.inner;
        let url = format!("{}{}", inner.base_url, endpoint);
        let mut attempts = 0u32;
        loop {
            // After attempt `n` fails, the next one is retry number `n`.
            attempts += 1;
            inner.pacer.wait_turn().await;
            inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            let sent = inner
                .http
                .get(&url)
                .bearer_auth(inner.token.expose_secret())
                .query(query)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    let kind = transport_kind(&error);
                    if attempts <= inner.retry.max_retries {
                        let wait = inner.retry.backoff(attempts);
                        tracing::warn!(endpoint, kind, attempt = attempts, wait_ms = wait.as_millis() as u64, error = %error, "request failed; retrying");
                        inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        endpoint: endpoint.to_owned(),
                        kind,
                        attempts,
                        source: error,
                    });
                }
            };
            if inner.pacer.observe(response.headers()).is_some() {
                inner.counters.server_pauses.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    endpoint,
                    "ratelimit-remaining is 0: pausing until the window resets"
                );
            }
            let status = response.status().as_u16();
            let server_time = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .map(|t| t.with_timezone(&Utc));
            let retry_after_header = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = match response.bytes().await {
                Ok(body) => body.to_vec(),
                Err(error) => {
                    if attempts <= inner.retry.max_retries {
                        let wait = inner.retry.backoff(attempts);
                        tracing::warn!(endpoint, attempt = attempts, error = %error, "reading the response failed; retrying");
                        inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        endpoint: endpoint.to_owned(),
                        kind: transport_kind(&error),
                        attempts,
                        source: error,
                    });
                }
            };
            if (200..300).contains(&status) {
                return Ok((body, server_time));
            }
            if status == 429 {
                inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let wait = retry_after(retry_after_header.as_deref(), &body)
                    .unwrap_or_else(|| inner.retry.backoff(attempts))
                    .min(inner.retry.max_retry_after);
                // Every clone waits: the budget is the token's, not this task's.
                inner.pacer.pause_for(wait);
                if attempts <= inner.retry.max_retries {
                    tracing::warn!(
                        endpoint,
                        attempt = attempts,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited (429); waiting retry-after"
                    );
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                return Err(Error::RateLimited {
                    endpoint: endpoint.to_owned(),
                    attempts,
                    message: api_message(&body),
                });
            }
            if status >= 500 && attempts <= inner.retry.max_retries {
                let wait = inner.retry.backoff(attempts);
                tracing::warn!(
                    endpoint,
                    status,
                    attempt = attempts,
                    wait_ms = wait.as_millis() as u64,
                    "server error; retrying"
                );
                inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(Error::Http {
                status,
                endpoint: endpoint.to_owned(),
                message: api_message(&body),
            });
        }
    }
}

fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection"
    } else {
        "request"
    }
}

/// Decodes a whole JSON document, with the failing field's path.
pub(crate) fn decode_document<T: DeserializeOwned>(resource: &str, body: &[u8]) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|error| {
        let path = error.path().to_string();
        Error::Decode {
            resource: resource.to_owned(),
            id: None,
            path,
            source: error.into_inner(),
        }
    })
}

/// Builds a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    token: Option<SecretString>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    retry: RetryPolicy,
    rate_limit: Option<RateLimit>,
    changelog_retention: Option<chrono::Duration>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!(
                "penny-api/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/penny-rs/penny)"
            )
            .to_owned(),
            retry: RetryPolicy::default(),
            rate_limit: Some(RateLimit::pennylane_default()),
            changelog_retention: Some(chrono::Duration::days(CHANGELOG_RETENTION_DAYS)),
        }
    }
}

impl ClientBuilder {
    /// The API's base URL (default [`DEFAULT_BASE_URL`]); a trailing `/` is removed.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The bearer token (required). Kept as a [`SecretString`]: never printed.
    pub fn token(mut self, token: impl Into<SecretString>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The whole-request timeout (default 60 s); a timeout is retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connection timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `penny-api/<version> (+repository)`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The client-side rate limit (default [`RateLimit::pennylane_default`]).
    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// No client-side rate limit (the server's `ratelimit-*` hints and 429s are
    /// still honoured). For servers without a limit, such as a local sandbox.
    pub fn no_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// How old a changelog `start_date` may be before the client refuses it itself
    /// with [`Error::ResyncNeeded`] (default 28 days, the documented retention).
    /// `None` leaves the decision to the server (its 422 maps to the same error):
    /// use it against a server whose clock is not yours, such as a sandbox with a
    /// simulated clock.
    pub fn changelog_retention(mut self, retention: Option<chrono::Duration>) -> Self {
        self.changelog_retention = retention;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let token = self.token.ok_or_else(|| Error::Config {
            reason: "no API token given (ClientBuilder::token)".to_owned(),
        })?;
        if token.expose_secret().trim().is_empty() {
            return Err(Error::Config {
                reason: "the API token is empty".to_owned(),
            });
        }
        let parsed = reqwest::Url::parse(&self.base_url).map_err(|e| Error::Config {
            reason: format!("base URL `{}` is not a URL: {e}", self.base_url),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config {
                reason: format!("base URL `{}` is not http(s)", self.base_url),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| Error::Config {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        let pacer = Pacer::new(self.rate_limit).map_err(|reason| Error::Config { reason })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url: self.base_url,
                token,
                rate_limit: self.rate_limit,
                retry: self.retry,
                changelog_retention: self.changelog_retention,
                pacer,
                counters: Counters::default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_requires_a_token_and_a_valid_url() {
        assert!(matches!(
            Client::builder().build(),
            Err(Error::Config { .. })
        ));
        assert!(matches!(
            Client::builder().token("t").base_url("not a url").build(),
            Err(Error::Config { .. })
        ));
        let client = Client::builder()
            .token("t")
            .base_url("http://127.0.0.1:1/api/")
            .build()
            .expect("valid");
        assert_eq!(client.base_url(), "http://127.0.0.1:1/api");
    }

    #[test]
    fn clones_share_counters() {
        let client = Client::builder().token("t").build().expect("valid");
        let clone = client.clone();
        client
            .inner
            .counters
            .requests
            .fetch_add(2, Ordering::Relaxed);
        assert_eq!(clone.stats().requests, 2);
    }

    #[test]
    fn debug_redacts_the_token() {
        let builder = Client::builder().token("super-secret-value");
        assert!(!format!("{builder:?}").contains("super-secret-value"));
        let client = builder.build().expect("valid");
        let text = format!("{client:?}");
        assert!(!text.contains("super-secret-value"), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}
