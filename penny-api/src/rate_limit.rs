//! Client-side rate limiting: a `governor` quota shared by every clone of a client,
//! and the server's `ratelimit-*` hints.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The client's request rate: at most `requests` every `per`, with bursts of at most
/// `burst` requests sent back to back. This paces what the client sends; the limit a
/// server enforces is the server's (penny-sandbox's `RateLimit` plays Pennylane's).
///
/// The limiter is a GCRA (`governor`): one request is allowed every
/// `per / requests`, and up to `burst` may go at once after a quiet period. In any
/// window of length `per`, at most `requests + burst - 1` requests leave (roughly:
/// the burst, then one per interval).
///
/// Pennylane documents 25 requests per 5-second window, per token. The default,
/// [`RateLimit::pennylane_default`], is 4.5 requests per second with a burst of 1:
/// at most 23 requests in any 5 seconds, so the limit holds whether the server counts
/// fixed or sliding windows, with 2 requests of slack for network jitter (requests
/// spaced 222 ms apart may reach the server closer together) and a stray request by
/// another tool sharing the token. [`RateLimit::pennylane_ceiling`] is the documented
/// ceiling (5 per second, burst 1, at most 25 in any window) for when the token is
/// yours alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
    /// Requests that may leave back to back (1 = evenly spaced).
    pub burst: u32,
}

impl RateLimit {
    /// `requests` every `per`, evenly spaced (burst 1).
    pub fn new(requests: u32, per: Duration) -> Self {
        RateLimit {
            requests,
            per,
            burst: 1,
        }
    }

    /// The same rate with bursts of up to `burst` requests.
    pub fn with_burst(self, burst: u32) -> Self {
        RateLimit { burst, ..self }
    }

    /// The default: 4.5 requests per second, burst 1 (see the type's documentation).
    pub fn pennylane_default() -> Self {
        RateLimit::new(9, Duration::from_secs(2))
    }

    /// The documented ceiling: 25 requests per 5 seconds, evenly spaced (burst 1).
    pub fn pennylane_ceiling() -> Self {
        RateLimit::new(25, Duration::from_secs(5))
    }

    /// The sustained rate, in requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.requests) / self.per.as_secs_f64()
    }

    pub(crate) fn quota(&self) -> Result<Quota, String> {
        let requests = NonZeroU32::new(self.requests)
            .ok_or_else(|| "a rate limit needs at least 1 request per period".to_owned())?;
        let burst = NonZeroU32::new(self.burst)
            .ok_or_else(|| "a rate limit needs a burst of at least 1".to_owned())?;
        if self.per.is_zero() {
            return Err("a rate limit needs a period longer than zero".to_owned());
        }
        let interval = self.per / requests.get();
        let quota = Quota::with_period(interval)
            .ok_or_else(|| format!("the rate limit {self:?} is too fast to represent"))?;
        Ok(quota.allow_burst(burst))
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::pennylane_default()
    }
}

/// The longest pause a `ratelimit-reset` hint may impose: the documented window is
/// 5 seconds, so a reset further away is a clock disagreement, not a real wait.
const MAX_HINT_PAUSE: Duration = Duration::from_secs(6);

/// What every clone of a client shares to pace its requests.
#[derive(Debug)]
pub(crate) struct Pacer {
    limiter: Option<DefaultDirectRateLimiter>,
    /// No request leaves before this instant (set by a 429 or an exhausted budget).
    pause_until: Mutex<Option<Instant>>,
}

impl Pacer {
    pub(crate) fn new(rate: Option<RateLimit>) -> Result<Self, String> {
        let limiter = match rate {
            Some(rate) => Some(RateLimiter::direct(rate.quota()?)),
            None => None,
        };
        Ok(Pacer {
            limiter,
            pause_until: Mutex::new(None),
        })
    }

    /// Waits until a request may leave: after any pause, then for the limiter.
    pub(crate) async fn wait_turn(&self) {
        loop {
            let until = *self.lock();
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => break,
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    /// Holds every request back for `wait` (keeps the later of two pauses).
    pub(crate) fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut current = self.lock();
        if current.is_none_or(|c| c < until) {
            *current = Some(until);
        }
    }

    /// Reads the `ratelimit-remaining` / `ratelimit-reset` headers: when the server
    /// says the budget is spent, pause until its reset, before it has to answer 429.
    /// Returns the pause taken, if any.
    pub(crate) fn observe(&self, headers: &HeaderMap) -> Option<Duration> {
        let remaining: u64 = header(headers, "ratelimit-remaining")?.parse().ok()?;
        if remaining > 0 {
            return None;
        }
        let reset: f64 = header(headers, "ratelimit-reset")?.parse().ok()?;
        let wait = reset_delay(reset, SystemTime::now())?.min(MAX_HINT_PAUSE);
        self.pause_for(wait);
        Some(wait)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.pause_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// `ratelimit-reset` is documented as a Unix timestamp; the IETF draft uses a delay
/// in seconds. Values below 10^9 are read as a delay.
fn reset_delay(reset: f64, now: SystemTime) -> Option<Duration> {
    if !reset.is_finite() || reset < 0.0 {
        return None;
    }
    if reset < 1e9 {
        return Some(Duration::from_secs_f64(reset));
    }
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let delay = reset - now;
    (delay > 0.0).then(|| Duration::from_secs_f64(delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_stays_under_the_documented_window() {
        let rate = RateLimit::pennylane_default();
        // Burst + what the interval lets through in 5 s.
        let worst = f64::from(rate.burst) + rate.per_second() * 5.0;
        assert!(worst <= 24.0, "{worst}");
        assert!(rate.quota().is_ok());
        assert!(RateLimit::new(0, Duration::from_secs(1)).quota().is_err());
        assert!(RateLimit::new(1, Duration::ZERO).quota().is_err());
    }

    #[test]
    fn reset_is_a_timestamp_or_a_delay() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            reset_delay(1_800_000_002.0, now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(reset_delay(1_799_999_000.0, now), None);
        assert_eq!(reset_delay(3.0, now), Some(Duration::from_secs(3)));
    }

    #[tokio::test]
    async fn an_exhausted_budget_pauses_until_the_reset() {
        let pacer = Pacer::new(None).expect("no limiter");
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-remaining", "3".parse().expect("header"));
        headers.insert("ratelimit-reset", "1".parse().expect("header"));
        assert_eq!(pacer.observe(&headers), None);
        headers.insert("ratelimit-remaining", "0".parse().expect("header"));
        headers.insert("ratelimit-reset", "0.2".parse().expect("header"));
        assert_eq!(pacer.observe(&headers), Some(Duration::from_millis(200)));
        let started = Instant::now();
        pacer.wait_turn().await;
        assert!(started.elapsed() >= Duration::from_millis(150));
    }
}
