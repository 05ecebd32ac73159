//! How to build a sandbox: seed, companies, size, rate limit, clock, retention.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::rate_limit::RateLimit;

/// How to build the sandbox. The default: seed 42, one company of about 2,000 ledger
/// lines, Pennylane's rate limit, the clock at 2026-11-16 09:00 UTC, 4 weeks of
/// changelogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The world's seed: same seed, same world, byte for byte.
    pub seed: u64,
    /// Number of companies; their ids are `1..=companies`.
    pub companies: usize,
    /// Target number of ledger entry lines per company (the world ends on a whole entry,
    /// so there are a few more).
    pub ledger_lines: usize,
    /// The per-token rate limit; `None` turns it (and its headers) off.
    pub rate_limit: Option<RateLimit>,
    /// The sandbox clock at start.
    pub start: DateTime<Utc>,
    /// How far back changelogs go.
    pub changelog_retention: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 42,
            companies: 1,
            ledger_lines: 2_000,
            rate_limit: Some(RateLimit::default()),
            start: Utc
                .with_ymd_and_hms(2026, 11, 16, 9, 0, 0)
                .single()
                .expect("a valid fixed instant"),
            changelog_retention: Duration::from_secs(28 * 86_400),
        }
    }
}

impl SandboxConfig {
    /// The default configuration with about `ledger_lines` ledger lines and no rate
    /// limit: what a test or a benchmark that is not about the limit wants.
    pub fn unthrottled(ledger_lines: usize) -> SandboxConfig {
        SandboxConfig {
            ledger_lines,
            rate_limit: None,
            ..SandboxConfig::default()
        }
    }
}
