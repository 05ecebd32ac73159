//! The errors of this crate: each says which host, which stage, which table,
//! column or row failed. None of them ever holds the Data Sharing key.

use std::fmt;
use std::time::Duration;

use penny_transform::{BoxError, SchemaError, SourceError};

/// Which step of talking to the warehouse failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Opening the TCP connection (DNS, refused, unreachable).
    Tcp,
    /// Negotiating TLS (server refused TLS, untrusted or mismatched certificate).
    Tls,
    /// Logging in (unknown user, wrong key, user not allowed, unknown database).
    Auth,
    /// Running a query or fetching from a cursor.
    Query,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Tcp => "TCP connection",
            Stage::Tls => "TLS negotiation",
            Stage::Auth => "authentication",
            Stage::Query => "query",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or invalid.
    #[error("Data Sharing configuration: {what}")]
    Config {
        /// What is wrong, and with which setting.
        what: String,
    },
    /// Connecting or logging in failed.
    #[error("Data Sharing {address}: {stage} failed: {reason}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The step that failed.
        stage: Stage,
        /// The cause, with its chain, as text.
        reason: String,
        /// The SQLSTATE the server sent, if any (`28P01` wrong password...).
        code: Option<String>,
    },
    /// A step took longer than its configured limit.
    #[error("Data Sharing {address}: {stage} timed out after {after:?} ({what})")]
    Timeout {
        /// `host:port`.
        address: String,
        /// The step that timed out.
        stage: Stage,
        /// What was being done.
        what: String,
        /// The limit.
        after: Duration,
    },
    /// A query failed.
    #[error("Data Sharing {address}: query failed while {what}: {reason}")]
    Query {
        /// `host:port`.
        address: String,
        /// What was being done (`fetching from "etl"."general_ledger"`).
        what: String,
        /// The server's message or the client's cause, as text.
        reason: String,
        /// The SQLSTATE the server sent, if any.
        code: Option<String>,
    },
    /// A table is not visible in `information_schema`.
    #[error(
        "table {schema}.{table} does not exist or is not visible to this user (information_schema.columns lists no column for it){hint}"
    )]
    TableNotFound {
        /// The schema.
        schema: String,
        /// The table.
        table: String,
        /// Close names, when any, as `; did you mean ...`.
        hint: String,
    },
    /// A column has a type that cannot become a Penny logical type.
    #[error("table {table}, column `{column}`: type `{data_type}` cannot be mapped: {reason}")]
    UnmappableType {
        /// `schema.table`.
        table: String,
        /// The column.
        column: String,
        /// The warehouse's type name (`information_schema.columns.data_type`).
        data_type: String,
        /// Why.
        reason: String,
    },
    /// A value could not be read as its column's type.
    #[error(
        "table {table}, row {row}, column `{column}`: cannot read `{value}` as {expected}: {reason}"
    )]
    Value {
        /// `schema.table`.
        table: String,
        /// The row's number in the read (1-based).
        row: u64,
        /// The column.
        column: String,
        /// The text the server sent (cut to 100 characters).
        value: String,
        /// The expected logical type.
        expected: penny_transform::LogicalType,
        /// Why it failed.
        reason: String,
    },
    /// A row came back with another number of columns than the table was described with
    /// (the table changed during the read).
    #[error("table {table}, row {row}: the server sent {sent} columns, {described} were described")]
    ColumnCount {
        /// `schema.table`.
        table: String,
        /// The row's number in the read (1-based).
        row: u64,
        /// Columns in the row.
        sent: usize,
        /// Columns described.
        described: usize,
    },
    /// The table's schema could not be built (for example a key column missing).
    #[error("table {table}: {source}")]
    Schema {
        /// `schema.table`.
        table: String,
        /// The cause.
        #[source]
        source: SchemaError,
    },
}

impl Error {
    /// The step that failed, for connection, timeout and query errors.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Error::Connect { stage, .. } | Error::Timeout { stage, .. } => Some(*stage),
            Error::Query { .. } => Some(Stage::Query),
            _ => None,
        }
    }

    /// The SQLSTATE the server sent, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Connect { code, .. } | Error::Query { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Wraps this error for the [`Source`](penny_transform::Source) boundary,
    /// choosing the variant (and so the exit code) from what failed.
    pub fn into_source_error(self, stream: &str) -> SourceError {
        let stream = stream.to_owned();
        let auth_code = self
            .code()
            .is_some_and(|c| c.starts_with("28") || c == "42501");
        match &self {
            Error::Config { .. } => SourceError::Config {
                source: Box::new(self),
            },
            Error::Connect { stage, .. } => match stage {
                Stage::Auth => SourceError::Auth {
                    stream,
                    source: Box::new(self),
                },
                // An untrusted certificate or a server without TLS is fixed in the settings.
                Stage::Tls => SourceError::Config {
                    source: Box::new(self),
                },
                Stage::Tcp | Stage::Query => SourceError::Unavailable {
                    stream,
                    source: Box::new(self),
                },
            },
            Error::Query { .. } if auth_code => SourceError::Auth {
                stream,
                source: Box::new(self),
            },
            Error::Timeout { .. } | Error::Query { .. } => SourceError::Unavailable {
                stream,
                source: Box::new(self),
            },
            Error::TableNotFound { .. } => SourceError::Config {
                source: Box::new(self),
            },
            Error::UnmappableType { .. }
            | Error::Value { .. }
            | Error::ColumnCount { .. }
            | Error::Schema { .. } => SourceError::Data {
                stream,
                source: Box::new(self) as BoxError,
            },
        }
    }
}

/// A tokio-postgres error as one line: its kind, then each cause
/// (tokio-postgres' own `Display` shows only the kind, "db error").
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(db) = error
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(|e| e.as_db_error())
    {
        let mut text = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; detail: {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// The SQLSTATE of a tokio-postgres error, when the server sent one.
pub(crate) fn sqlstate(error: &tokio_postgres::Error) -> Option<String> {
    error.as_db_error().map(|db| db.code().code().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::ErrorClass;

    #[test]
    fn classes_follow_the_failed_stage() {
        let connect = |stage, code: Option<&str>| Error::Connect {
            address: "h:5439".into(),
            stage,
            reason: "r".into(),
            code: code.map(str::to_owned),
        };
        let class = |e: Error| e.into_source_error("general_ledger").class();
        assert_eq!(class(connect(Stage::Auth, Some("28P01"))), ErrorClass::Auth);
        assert_eq!(class(connect(Stage::Tcp, None)), ErrorClass::Unavailable);
        assert_eq!(class(connect(Stage::Tls, None)), ErrorClass::Config);
        let denied = Error::Query {
            address: "h:5439".into(),
            what: "counting".into(),
            reason: "permission denied".into(),
            code: Some("42501".into()),
        };
        assert_eq!(class(denied), ErrorClass::Auth);
        let missing = Error::TableNotFound {
            schema: "etl".into(),
            table: "nope".into(),
            hint: String::new(),
        };
        assert_eq!(class(missing), ErrorClass::Config);
    }

    #[test]
    fn messages_name_host_and_stage() {
        let e = Error::Connect {
            address: "dw.example.com:5439".into(),
            stage: Stage::Tls,
            reason: "server does not support TLS".into(),
            code: None,
        };
        assert_eq!(
            e.to_string(),
            "Data Sharing dw.example.com:5439: TLS negotiation failed: server does not support TLS"
        );
        assert_eq!(e.stage(), Some(Stage::Tls));
    }
}
