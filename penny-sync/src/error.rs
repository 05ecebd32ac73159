//! [`SyncError`]: what failed in a run, and of which [`ErrorClass`].

use penny_transform::canonical::MappingError;
use penny_transform::driver::StreamError;
use penny_transform::reports::reconcile::ReconcileError;
use penny_transform::{BatchError, ErrorClass, SinkError, SourceError};

/// A failure of the engine: a stream, the target, the mapping into the canonical
/// model, a report's check. Each variant keeps the error it wraps (its whole chain of
/// causes) and [`class`](SyncError::class) tells what kind of failure it is, so that a
/// caller can decide what to do (the `penny` command maps it to its exit codes).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The source could not list or read its streams.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The target could not be opened, read back or written.
    #[error(transparent)]
    Target(#[from] SinkError),
    /// A raw record does not map into the canonical model (which record, which field).
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// A batch of the canonical model or of a report could not be built.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The books could not be checked against Pennylane's own trial balance.
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    /// Some streams of a run failed (the others committed what they read).
    #[error("{} of {} streams failed ({committed} committed):\n  {}", failures.len(), failures.len() + committed, lines(failures))]
    Streams {
        /// Each failed stream and why.
        failures: Vec<StreamFailure>,
        /// How many streams succeeded.
        committed: usize,
    },
}

/// One failed stream of a run, as [`SyncError::Streams`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    /// The stream.
    pub stream: String,
    /// The kind of failure.
    pub class: ErrorClass,
    /// What failed, with its causes.
    pub message: String,
}

impl StreamFailure {
    /// The failure of `stream` with `error`.
    pub fn new(stream: &str, error: &StreamError) -> Self {
        StreamFailure {
            stream: stream.to_owned(),
            class: error.class(),
            message: chain(error),
        }
    }
}

fn lines(failures: &[StreamFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("stream `{}`: {}", f.stream, f.message))
        .collect::<Vec<_>>()
        .join("\n  ")
}

impl SyncError {
    /// What kind of failure this is; for [`SyncError::Streams`], the most serious of
    /// its streams' (configuration first, then authentication, busy, data,
    /// unavailable).
    pub fn class(&self) -> ErrorClass {
        match self {
            SyncError::Source(e) => e.class(),
            SyncError::Target(e) => e.class(),
            SyncError::Mapping(_) | SyncError::Batch(_) | SyncError::Reconcile(_) => {
                ErrorClass::Data
            }
            SyncError::Streams { failures, .. } => failures
                .iter()
                .map(|f| f.class)
                .min_by_key(|c| rank(*c))
                .unwrap_or(ErrorClass::Unavailable),
        }
    }
}

/// The order in which classes are reported when several streams fail: what the user
/// must fix first.
fn rank(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Config => 0,
        ErrorClass::Auth => 1,
        ErrorClass::Busy => 2,
        ErrorClass::Data => 3,
        ErrorClass::Unavailable => 4,
    }
}

/// An error and its causes, `: `-separated, without repeating a cause already
/// included in its parent's message.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stream: &str, e: SinkError) -> StreamFailure {
        StreamFailure::new(stream, &StreamError::Sink(e))
    }

    #[test]
    fn several_failed_streams_report_the_most_serious_class_and_every_stream() {
        let e = SyncError::Streams {
            failures: vec![
                failed(
                    "invoices",
                    SinkError::Unavailable {
                        source: "connection reset".into(),
                    },
                ),
                failed(
                    "journals",
                    SinkError::Config {
                        source: "no such schema".into(),
                    },
                ),
            ],
            committed: 3,
        };
        assert_eq!(e.class(), ErrorClass::Config);
        let text = e.to_string();
        assert!(
            text.starts_with("2 of 5 streams failed (3 committed)"),
            "{text}"
        );
        assert!(
            text.contains("stream `invoices`: ") && text.contains("connection reset"),
            "{text}"
        );
        assert!(text.contains("no such schema"), "{text}");
    }

    #[test]
    fn a_target_error_keeps_its_class() {
        let e = SyncError::from(SinkError::Unavailable {
            source: "refused".into(),
        });
        assert_eq!(e.class(), ErrorClass::Unavailable);
        assert_eq!(chain(&e), e.to_string());
    }
}
