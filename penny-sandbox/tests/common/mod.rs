//! Plain HTTP requests to the sandbox (reqwest, no client logic in the way).

// Each test crate uses its own subset of the helpers.
#![allow(dead_code)]

use penny_sandbox::Sandbox;
use secrecy::ExposeSecret;
use serde_json::Value;

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
