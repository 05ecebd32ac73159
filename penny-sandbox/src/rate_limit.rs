//! The per-token rate limit: `requests` per window of `per`, the window opening with the
//! token's first request (so a test's burst is deterministic). Every answer carries
//! `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (Unix time of the
//! window's end); over the limit the answer is a 429 with `retry-after` and a plain-text
//! body, as the real API's.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The rate limit the sandbox enforces, per token, as Pennylane's server does:
/// `requests` per window of `per`, the window opening with the token's first request;
/// the request after the last allowed one is answered 429 until the window ends.
///
/// This is the server's side: what it counts and refuses. How a client paces itself to
/// stay under it is the client's own business (`penny_api::RateLimit`, for Penny's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window's length.
    pub per: Duration,
}

impl Default for RateLimit {
    /// The real API's: 25 requests per 5 seconds.
    fn default() -> Self {
        RateLimit {
            requests: 25,
            per: Duration::from_secs(5),
        }
    }
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    count: u32,
}

/// The verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset: u64,
    /// Whole seconds until then (at least 1).
    pub retry_after: u64,
}

/// Windows per token.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    windows: HashMap<String, Window>,
}

impl Limiter {
    /// Counts a request of `token` under `limit` at `now`.
    pub(crate) fn check(&mut self, token: &str, limit: RateLimit, now: Instant) -> Verdict {
        let window = self.windows.entry(token.to_owned()).or_insert(Window {
            opened: now,
            count: 0,
        });
        if now.duration_since(window.opened) >= limit.per {
            *window = Window {
                opened: now,
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
        let left = (window.opened + limit.per).saturating_duration_since(now);
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let reset = (unix_now + left).as_secs_f64().ceil() as u64;
        Verdict {
            allowed: window.count <= limit.requests,
            limit: limit.requests,
            remaining: limit.requests.saturating_sub(window.count),
            reset,
            retry_after: left.as_secs_f64().ceil().max(1.0) as u64,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_request_after_the_limit_is_refused_until_the_window_ends() {
        let limit = RateLimit {
            requests: 3,
            per: Duration::from_secs(5),
        };
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        let verdicts: Vec<_> = (0..4).map(|_| limiter.check("a", limit, t0)).collect();
        assert_eq!(
            verdicts.iter().map(|v| v.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert!(verdicts[2].allowed && !verdicts[3].allowed);
        assert_eq!(verdicts[3].retry_after, 5);
        assert!(
            limiter.check("b", limit, t0).allowed,
            "limits are per token"
        );
        assert!(
            limiter
                .check("a", limit, t0 + Duration::from_secs(5))
                .allowed
        );
    }
}
