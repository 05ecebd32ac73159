//! When and how long to wait before trying a request again.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How failed requests are retried.
///
/// Retried: 429 (after the server's `retry-after`), 5xx, timeouts, connection
/// failures and resets. Never retried: 400, 401, 403, 404, 422 and every other 4xx,
/// which would fail the same way again.
///
/// Between attempts the client waits an exponential backoff with "equal jitter": the
/// `n`-th retry waits a random delay between half and all of
/// `min(initial_backoff * 2^(n-1), max_backoff)`, so clients that failed together do
/// not retry together. A 429 waits the server's `retry-after` instead (capped at
/// `max_retry_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retries).
    pub max_retries: u32,
    /// The backoff before the first retry.
    pub initial_backoff: Duration,
    /// The largest backoff.
    pub max_backoff: Duration,
    /// The longest `retry-after` honoured; longer asks are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries, 500 ms doubling up to 30 s; `retry-after` honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The jittered delay before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let full = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let half = full / 2;
        half + half.mul_f64(random_unit())
    }
}

/// A uniform-ish number in [0, 1) from the standard library's random hasher seeds
/// (good enough for jitter; no extra dependency).
fn random_unit() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_caps() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(1),
        };
        for (retry, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (30, 1000),
        ] {
            let d = policy.backoff(retry);
            assert!(
                d >= Duration::from_millis(full / 2) && d <= Duration::from_millis(full),
                "retry {retry}: {d:?}"
            );
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(3)).collect();
        assert!(samples.len() > 1, "jitter varies");
    }
}
