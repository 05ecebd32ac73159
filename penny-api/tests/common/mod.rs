//! Helpers shared by the integration tests: a client for a wiremock server playing
//! Pennylane, and a sandbox (penny-sandbox) with a client for it.

// Each test crate uses its own subset of the helpers.
#![allow(dead_code)]

pub mod mock;
pub mod sandbox;

use std::time::Duration;

use penny_api::RetryPolicy;

/// Retries fast enough for tests: 3 retries, 5 to 20 ms apart, a `retry-after` of at
/// most 2 s honoured. Tune a field with `RetryPolicy { max_retries: 5, ..fast_retries() }`.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    }
}
