//! A wiremock server playing Pennylane's lists.

use penny_api::{Client, ClientBuilder};
use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

/// A client builder for `server` (under `/api/external/v2`) with `token` and no rate limit.
pub fn client_builder(server: &MockServer, token: &str) -> ClientBuilder {
    Client::builder()
        .base_url(format!("{}/api/external/v2", server.uri()))
        .token(token)
        .no_rate_limit()
}

/// A page of a list: `items`, and `next` as the cursor of the next page (none: the last).
pub fn page(items: serde_json::Value, next: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "items": items,
        "has_more": next.is_some(),
        "next_cursor": next,
    }))
}
