//! Running a sync on a fixed cadence until stopped.
//!
//! - Runs start every `every` (measured from one start to the next); a run longer
//!   than the cadence is followed at once by the next, never overlapped: runs are
//!   sequential in the process, and the target's lock (the loader's advisory lock in
//!   PostgreSQL, the lock file of a CSV folder) keeps other processes out.
//! - `jitter` adds a random delay up to that much before each run, so many
//!   schedulers do not hit Pennylane at the same second.
//! - After a failure the wait doubles (every, 2x, 4x...) up to `backoff_max`, and the
//!   scheduler goes on: it never gives up by itself.
//! - A stop request (a future the caller passes, which completes when the run should
//!   stop: the `penny` command completes it on Ctrl-C or SIGTERM) lets the current run
//!   finish within `stop_grace`; past that the run is dropped, which rolls back its
//!   uncommitted batch (committed work stays). Then the scheduler returns normally.
//! - Each run logs one summary line: streams, rows inserted/updated/deleted,
//!   duration and the next run's time.

use std::future::Future;
use std::time::{Duration, SystemTime};

use chrono::{Local, SecondsFormat};
use tokio::time::Instant;

use crate::duration::format_duration;
use crate::pipeline::RunSummary;

/// When to run.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// From one start to the next.
    pub every: Duration,
    /// Random delay up to this much before each run.
    pub jitter: Duration,
    /// Longest wait after repeated failures.
    pub backoff_max: Duration,
    /// How long a stop request waits for the current run.
    pub stop_grace: Duration,
}

/// What a scheduler did before it stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScheduleReport {
    /// Runs started.
    pub runs: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Whether the last run was cut short by a stop request after its grace period.
    pub interrupted: bool,
}

/// The wait after `failures` consecutive failures (0: the plain cadence).
pub fn wait_after(cadence: &Cadence, failures: u32) -> Duration {
    if failures == 0 {
        return cadence.every;
    }
    let factor = 1u32 << (failures - 1).min(16);
    let backoff = cadence.every.saturating_mul(factor);
    backoff.min(cadence.backoff_max.max(cadence.every))
}

fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    // No need for a cryptographic generator: spread from the clock's nanoseconds.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs().wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .unwrap_or(0);
    let mixed = nanos.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
    Duration::from_nanos(mixed % (max.as_nanos().min(u64::MAX as u128) as u64).max(1))
}

/// Calls `cycle` on `cadence` until `stop` completes (or `max_runs` runs). A cycle is
/// usually one [`run`](crate::run::run) of freshly opened targets; its error type is
/// the caller's (any error is logged with its causes, counted, and backed off from).
pub async fn run<F, Fut, S, E>(
    cadence: Cadence,
    max_runs: Option<u64>,
    stop: S,
    mut cycle: F,
) -> ScheduleReport
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<RunSummary, E>>,
    S: Future<Output = ()>,
    E: std::error::Error + 'static,
{
    use futures_util::FutureExt;
    let stop = stop.fuse();
    tokio::pin!(stop);
    let mut stopped = false;
    let mut report = ScheduleReport::default();
    let mut failures: u32 = 0;
    loop {
        if stopped || (&mut stop).now_or_never().is_some() {
            break;
        }
        let started = Instant::now();
        report.runs += 1;
        let n = report.runs;
        let run = cycle(n);
        tokio::pin!(run);
        let outcome = tokio::select! {
            outcome = &mut run => Some(outcome),
            _ = &mut stop => {
                stopped = true;
                tokio::time::timeout(cadence.stop_grace, &mut run).await.ok()
            }
        };
        let took = started.elapsed();
        let Some(outcome) = outcome else {
            tracing::warn!(
                run = n,
                grace = %format_duration(cadence.stop_grace),
                "stop: the run did not finish within the grace period; its uncommitted batch was rolled back"
            );
            report.interrupted = true;
            report.failed += 1;
            break;
        };
        let summary_error = match &outcome {
            Ok(summary) => summary.error(),
            Err(_) => None,
        };
        let ok = outcome.is_ok() && summary_error.is_none();
        if ok {
            failures = 0;
        } else {
            failures = failures.saturating_add(1);
            report.failed += 1;
        }
        if !stopped && (&mut stop).now_or_never().is_some() {
            stopped = true;
        }
        let last = max_runs.is_some_and(|m| n >= m) || stopped;
        let wait = wait_after(&cadence, failures).saturating_sub(took) + jitter(cadence.jitter);
        let next = if last {
            "none (stopping)".to_owned()
        } else {
            let at = Local::now()
                + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::zero());
            format!(
                "{} (in {})",
                at.to_rfc3339_opts(SecondsFormat::Secs, false),
                format_duration(wait)
            )
        };
        match (&outcome, summary_error) {
            (Ok(summary), None) => tracing::info!(run = n, "{}; next run: {next}", summary.line()),
            (Ok(summary), Some(e)) => tracing::error!(
                run = n,
                consecutive_failures = failures,
                "{}; {}; next run: {next}",
                summary.line(),
                e
            ),
            (Err(e), _) => tracing::error!(
                run = n,
                consecutive_failures = failures,
                "run failed in {}: {}; next run: {next}",
                format_duration(took),
                crate::error::chain(e)
            ),
        }
        if last {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut stop => break,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn cadence(every_ms: u64) -> Cadence {
        Cadence {
            every: Duration::from_millis(every_ms),
            jitter: Duration::ZERO,
            backoff_max: Duration::from_millis(every_ms * 4),
            stop_grace: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = Cadence {
            every: Duration::from_secs(600),
            jitter: Duration::ZERO,
            backoff_max: Duration::from_secs(1800),
            stop_grace: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (0..6).map(|f| wait_after(&c, f).as_secs()).collect();
        assert_eq!(waits, vec![600, 600, 1200, 1800, 1800, 1800]);
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(30)) < Duration::from_secs(30));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn runs_on_cadence_never_overlapping_and_going_on_after_failures() {
        let running = Arc::new(AtomicU32::new(0));
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let report = run(cadence(1000), Some(5), std::future::pending(), |n| {
            let running = running.clone();
            let starts = starts.clone();
            async move {
                assert_eq!(
                    running.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two runs at once"
                );
                starts.lock().unwrap().push(t0.elapsed().as_millis() as u64);
                tokio::time::sleep(Duration::from_millis(300)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                if n == 2 || n == 3 {
                    Err(crate::SyncError::from(
                        penny_transform::SinkError::Unavailable {
                            source: "down".into(),
                        },
                    ))
                } else {
                    Ok(RunSummary::default())
                }
            }
        })
        .await;
        assert_eq!(report.runs, 5);
        assert_eq!(report.failed, 2);
        let starts = starts.lock().unwrap().clone();
        // Run 1 at 0, run 2 at 1s, run 3 (after 1 failure) at 2s, run 4 (after 2) at 4s,
        // run 5 back on cadence at 5s.
        assert_eq!(starts, vec![0, 1000, 2000, 4000, 5000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_lets_the_current_run_finish() {
        let (tx, stop) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let _ = stop.await;
        };
        let finished = Arc::new(AtomicU32::new(0));
        let f = finished.clone();
        let handle = tokio::spawn(run(cadence(1000), None, stop, move |_| {
            let f = f.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok::<_, crate::SyncError>(RunSummary::default())
            }
        }));
        tokio::time::sleep(Duration::from_millis(2200)).await;
        tx.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!(report.runs, 3);
        assert_eq!(finished.load(Ordering::SeqCst), 3, "the third run finished");
        assert!(!report.interrupted);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_cuts_a_run_past_its_grace() {
        let (tx, stop) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let _ = stop.await;
        };
        let mut c = cadence(1000);
        c.stop_grace = Duration::from_millis(100);
        let handle = tokio::spawn(run(c, None, stop, |_| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, crate::SyncError>(RunSummary::default())
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!(report.runs, 1);
        assert!(report.interrupted);
    }
}
