//! The sandbox and a client for it.

use penny_api::sandbox::{Sandbox, SandboxConfig};
use penny_api::{Client, ClientBuilder};
use secrecy::ExposeSecret;
use serde_json::Value;

/// The sandbox's default configuration without its rate limit, with `ledger_lines`
/// ledger lines.
pub fn quiet_config(ledger_lines: usize) -> SandboxConfig {
    SandboxConfig {
        ledger_lines,
        rate_limit: None,
        ..SandboxConfig::default()
    }
}

/// A started sandbox with `config`.
pub async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox")
}

/// A client builder for the sandbox's first company: its base URL, its token, no
/// client-side rate limit.
pub fn client_builder(sandbox: &Sandbox) -> ClientBuilder {
    Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(sandbox.company_ids()[0]))
        .no_rate_limit()
}

/// An answer of the sandbox to a plain HTTP request.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub text: String,
}

impl Answer {
    /// The body as JSON (panics, showing the body, if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// `GET path?query` with `token`, with plain reqwest (no client logic in the way).
pub async fn get_with(
    sandbox: &Sandbox,
    token: &str,
    path: &str,
    query: &[(&str, String)],
) -> Answer {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sandbox.base_url()))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .expect("the sandbox answers");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

/// `GET path?query` with company 1's token.
pub async fn get(sandbox: &Sandbox, path: &str, query: &[(&str, String)]) -> Answer {
    get_with(sandbox, sandbox.token(1).expose_secret(), path, query).await
}
