//! The errors that cross the [`Source`](crate::Source) and [`Sink`](crate::Sink) traits.
//!
//! Each implementation has its own rich error enum (`penny_api::Error`,
//! `penny_load::LoadError`...). At the trait boundary it is wrapped, unchanged, in a
//! [`SourceError`] or [`SinkError`] whose variant says what kind of failure it was, so a
//! caller that knows nothing of the implementation (the CLI, the driver) can still choose
//! an exit code, a retry or a hint. The original error stays reachable through
//! [`std::error::Error::source`].

use crate::batch::BatchError;

/// Any error, boxed, kept as the cause of a trait-level error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an error is, for exit codes and retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// A setting is missing or wrong; fix the configuration.
    Config,
    /// Credentials refused or a permission missing; fix the token or the grants.
    Auth,
    /// The other side could not be reached or failed; try again later.
    Unavailable,
    /// The data itself is wrong or does not fit; look at the named record.
    Data,
    /// Someone else holds the target (another sync is running).
    Busy,
}

/// An error raised by a [`Source`](crate::Source).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The caller asked for a stream the source does not offer.
    #[error("unknown stream `{stream}`; this source offers: {available}")]
    UnknownStream {
        /// The requested stream.
        stream: String,
        /// The streams it offers, comma-separated.
        available: String,
    },
    /// A saved position could not be understood by this source.
    #[error("stream `{stream}`: saved position {position} is not one this source made: {reason}")]
    InvalidPosition {
        /// The stream.
        stream: String,
        /// The position, as JSON.
        position: String,
        /// Why it was refused.
        reason: String,
    },
    /// The source's configuration is missing or wrong.
    #[error("source configuration: {source}")]
    Config {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Credentials were refused or a permission is missing.
    #[error("stream `{stream}`: access refused: {source}")]
    Auth {
        /// The stream.
        stream: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The source could not be reached or failed after retries.
    #[error("stream `{stream}`: source unavailable: {source}")]
    Unavailable {
        /// The stream.
        stream: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A record could not be decoded or mapped.
    #[error("stream `{stream}`: bad data: {source}")]
    Data {
        /// The stream.
        stream: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A batch did not match its schema.
    #[error(transparent)]
    Batch(#[from] BatchError),
}

impl SourceError {
    /// The kind of failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            SourceError::UnknownStream { .. } | SourceError::Config { .. } => ErrorClass::Config,
            SourceError::Auth { .. } => ErrorClass::Auth,
            SourceError::Unavailable { .. } => ErrorClass::Unavailable,
            SourceError::InvalidPosition { .. }
            | SourceError::Data { .. }
            | SourceError::Batch(_) => ErrorClass::Data,
        }
    }
}

/// An error raised by a [`Sink`](crate::Sink).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink's configuration is missing or wrong.
    #[error("sink configuration: {source}")]
    Config {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Credentials were refused or a permission is missing.
    #[error("access to the destination refused: {source}")]
    Auth {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The destination could not be reached or failed.
    #[error("destination unavailable: {source}")]
    Unavailable {
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Another writer holds the destination.
    #[error("destination busy: {what}")]
    Busy {
        /// What is held, and by whom if known.
        what: String,
    },
    /// The table's schema cannot become the requested one, or rows do not fit.
    #[error("table `{table}`: {source}")]
    Data {
        /// The table.
        table: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A write or commit named a table that was not prepared.
    #[error("table `{table}` was not prepared: call `Sink::prepare` before writing or committing")]
    NotPrepared {
        /// The table.
        table: String,
    },
    /// A batch did not match its schema.
    #[error(transparent)]
    Batch(#[from] BatchError),
}

impl SinkError {
    /// The kind of failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Config { .. } | SinkError::NotPrepared { .. } => ErrorClass::Config,
            SinkError::Auth { .. } => ErrorClass::Auth,
            SinkError::Unavailable { .. } => ErrorClass::Unavailable,
            SinkError::Busy { .. } => ErrorClass::Busy,
            SinkError::Data { .. } | SinkError::Batch(_) => ErrorClass::Data,
        }
    }
}
