//! The client's one error type.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Everything that can go wrong talking to the Pennylane API.
///
/// Every variant names the endpoint (the path below the base URL, for example
/// `/customer_invoices`) so a log line says where it failed; HTTP failures carry the
/// API's own message (on a 403 it names the missing scope).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status that is not retried, or kept answering
    /// one after every retry.
    #[error("GET {endpoint}: HTTP {status}: {message}")]
    Http {
        /// The HTTP status code (400, 401, 403, 404, 422, 5xx...).
        status: u16,
        /// The path requested, below the base URL.
        endpoint: String,
        /// The API's own message (its JSON `message`/`error`, or the body's text).
        message: String,
    },
    /// The API kept answering 429 after every retry the policy allows.
    #[error("GET {endpoint}: still rate limited (HTTP 429) after {attempts} attempts: {message}")]
    RateLimited {
        /// The path requested.
        endpoint: String,
        /// Attempts made, the first included.
        attempts: u32,
        /// The last 429 body (plain text).
        message: String,
    },
    /// The request could not be sent or its answer not received (connection refused or
    /// reset, timeout, TLS), after every retry.
    #[error("GET {endpoint}: {kind} after {attempts} attempts: {source}")]
    Transport {
        /// The path requested.
        endpoint: String,
        /// `timeout`, `connection` or `request`.
        kind: &'static str,
        /// Attempts made, the first included.
        attempts: u32,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A response body could not be decoded into the expected type.
    #[error(
        "{resource}{}: cannot decode field `{path}`: {source}",
        match .id { Some(id) => format!(" record {id}"), None => String::new() }
    )]
    Decode {
        /// The resource (`customer_invoices`, `changelogs/customers`, `me`...).
        resource: String,
        /// The record's `id` when it could be read.
        id: Option<i64>,
        /// Where in the record the decoding failed (`amount`, `customer.id`,
        /// `items[3]` when the record itself could not be isolated); `.` for the root.
        path: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A `limit` outside the endpoint's bounds; refused before sending (the API would
    /// answer 400 rather than cap it).
    #[error("GET {endpoint}: limit {limit} is out of bounds: it must be between 1 and {max}")]
    InvalidLimit {
        /// The path.
        endpoint: String,
        /// The limit asked for.
        limit: u32,
        /// The endpoint's maximum (100, or 1000 for changelogs and the trial balance).
        max: u32,
    },
    /// A request that the API would refuse, caught before sending.
    #[error("GET {endpoint}: invalid request: {reason}")]
    InvalidRequest {
        /// The path.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// A changelog cannot be read from the asked start: it is older than the API's
    /// retention (4 weeks). The caller must read the resource in full, then follow the
    /// changelog from the time of that full read.
    #[error(
        "changelog of `{resource}` cannot start at {start}: older than the API's retention; a full resync is needed{}",
        if .message.is_empty() { String::new() } else { format!(" (API: {})", .message) }
    )]
    ResyncNeeded {
        /// The resource whose changelog was asked for.
        resource: String,
        /// The start asked for.
        start: DateTime<Utc>,
        /// The API's message when it refused (empty when refused locally).
        message: String,
    },
    /// The client could not be built.
    #[error("invalid client configuration: {reason}")]
    Config {
        /// What is wrong (a bad base URL, a token that cannot be a header...).
        reason: String,
    },
}

impl Error {
    /// The HTTP status, for [`Error::Http`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the token was refused (401) or lacks a scope (403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// Whether the failure is on the server's or network's side and may pass by
    /// itself (5xx, 429 after retries, transport errors).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Http { status, .. } => *status >= 500,
            Error::RateLimited { .. } | Error::Transport { .. } => true,
            _ => false,
        }
    }
}

/// A convenient alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message to show for an error body: the API's JSON `message` (or `error`), or
/// the body's text, shortened.
pub(crate) fn api_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "errors", "detail"] {
            match value.get(key) {
                Some(serde_json::Value::String(text)) => return shorten(text),
                Some(other) if !other.is_null() => return shorten(&other.to_string()),
                _ => {}
            }
        }
        return shorten(&value.to_string());
    }
    shorten(String::from_utf8_lossy(body).trim())
}

fn shorten(text: &str) -> String {
    const MAX: usize = 500;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    text.chars().take(MAX).collect::<String>() + "..."
}

/// Parses a `retry-after` header (delay in seconds, possibly fractional) or, failing
/// that, a "retry in N seconds" plain-text body.
pub(crate) fn retry_after(header: Option<&str>, body: &[u8]) -> Option<Duration> {
    if let Some(seconds) = header.and_then(|h| h.trim().parse::<f64>().ok())
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let after = text.split("retry in").nth(1)?;
    let number: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let seconds = number.parse::<f64>().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_message_prefers_the_json_message() {
        assert_eq!(
            api_message(br#"{"message":"Missing scope: customer_invoices:readonly"}"#),
            "Missing scope: customer_invoices:readonly"
        );
        assert_eq!(
            api_message(b"Rate limit exceeded. Please retry in 2 seconds."),
            "Rate limit exceeded. Please retry in 2 seconds."
        );
        assert_eq!(api_message(br#"{"error":"Unauthorized"}"#), "Unauthorized");
    }

    #[test]
    fn retry_after_reads_the_header_then_the_body() {
        assert_eq!(retry_after(Some("3"), b""), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(None, b"Rate limit exceeded. Please retry in 2 seconds."),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after(Some("soon"), b"nothing"), None);
    }

    #[test]
    fn decode_error_names_resource_id_and_field() {
        let source = serde_json::from_str::<u8>("x").expect_err("not a number");
        let err = Error::Decode {
            resource: "customer_invoices".into(),
            id: Some(42),
            path: "amount".into(),
            source,
        };
        let text = err.to_string();
        assert!(
            text.starts_with("customer_invoices record 42: cannot decode field `amount`"),
            "{text}"
        );
    }
}
