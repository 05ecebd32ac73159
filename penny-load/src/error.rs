//! [`LoadError`]: everything that can go wrong while loading, and how it maps onto
//! [`penny_transform::SinkError`] at the trait boundary.

use penny_transform::SinkError;

/// An error of the PostgreSQL loader.
///
/// Each variant names what failed and with which input; [`LoadError::into_sink_error`]
/// wraps it, unchanged, in the [`SinkError`] variant whose class fits (connection
/// problems are `Unavailable`, refused credentials `Auth`, a held lock `Busy`, bad rows
/// and impossible schema changes `Data`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A setting is missing or malformed.
    #[error("invalid PostgreSQL sink configuration: {0}")]
    Config(String),
    /// The TLS configuration could not be built (bad CA file, no root certificates).
    #[error("TLS setup for PostgreSQL failed: {0}")]
    Tls(String),
    /// The server could not be reached, or refused the connection.
    #[error("cannot connect to PostgreSQL {target}: {detail}")]
    Connect {
        /// Host, port and database (never the password).
        target: String,
        /// The cause with its own causes (a TLS handshake failure says why).
        detail: String,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed.
    #[error("{context}: {source}")]
    Postgres {
        /// What was being done (which table, which step).
        context: String,
        /// The cause, with the server's SQLSTATE when there is one.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Another sync holds the target's advisory lock.
    #[error(
        "another sync of database `{database}`, schema `{schema}` is running (advisory lock held{holder}); \
         this one stops instead of waiting: run it again when the other has finished"
    )]
    Busy {
        /// The target database.
        database: String,
        /// The target schema.
        schema: String,
        /// Who holds it, as `by pid N (application)`, when known.
        holder: String,
    },
    /// A sink was given a lock taken for another target.
    #[error(
        "the lock given is for database `{lock_database}`, schema `{lock_schema}`, \
         but this sink writes to database `{database}`, schema `{schema}`"
    )]
    WrongLock {
        /// The lock's database.
        lock_database: String,
        /// The lock's schema.
        lock_schema: String,
        /// The sink's database.
        database: String,
        /// The sink's schema.
        schema: String,
    },
    /// A table or column name PostgreSQL cannot hold unchanged.
    #[error("{what} `{name}` cannot be used as a PostgreSQL identifier: {reason}")]
    BadIdentifier {
        /// `table`, `column` or `schema`.
        what: &'static str,
        /// The name.
        name: String,
        /// Why (too long, contains a NUL byte).
        reason: &'static str,
    },
    /// A column's type cannot become the one the source now sends.
    #[error(
        "table `{table}`: column `{column}` is `{from}` in the database but the source now sends {to}, \
         which `{from}` cannot hold and which cannot hold the existing values; \
         to resolve it, run a full refresh (`--full`) so the table is rebuilt with the new type, \
         or drop the table `{table}` (and the views that use it) and sync again"
    )]
    IncompatibleColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type in the database.
        from: String,
        /// The type the schema now gives it.
        to: String,
    },
    /// The primary key of an existing table differs from the schema's.
    #[error(
        "table `{table}`: the primary key is ({from}) in the database but ({to}) in the source; \
         to resolve it, run a full refresh (`--full`) or drop the table and sync again"
    )]
    PrimaryKeyChanged {
        /// The table.
        table: String,
        /// The key in the database, comma-separated.
        from: String,
        /// The key the schema declares, comma-separated.
        to: String,
    },
    /// A full refresh must rewrite a table in place (views depend on it) and the new
    /// schema cannot be applied to it.
    #[error(
        "table `{table}`: views depend on it ({views}), so a full refresh rewrites it in place, \
         but {reason}; drop or adjust those views, then run again"
    )]
    BlockedByViews {
        /// The table.
        table: String,
        /// The dependent views, comma-separated.
        views: String,
        /// What could not be done.
        reason: String,
    },
    /// A batch's schema differs from the table prepared under the same name.
    #[error("table `{table}`: the batch does not match the prepared table: {detail}")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// Which column differs, and how.
        detail: String,
    },
    /// A value cannot be stored in its column (out of range, forbidden character).
    #[error("table `{table}`, row {row} of the batch, key {key}, column `{column}`: {problem}")]
    BadValue {
        /// The table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The row's primary key.
        key: String,
        /// The column.
        column: String,
        /// What is wrong with the value.
        problem: String,
    },
    /// The server rejected a row while copying it.
    #[error(
        "table `{table}`, row {row} of the batch, key {key}: PostgreSQL rejected the row: {source}"
    )]
    RowRejected {
        /// The table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The row's primary key.
        key: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A write or commit named a table this sink was not prepared for.
    #[error("table `{table}` was not prepared: call `Sink::prepare` before writing or committing")]
    NotPrepared {
        /// The table.
        table: String,
    },
    /// Another table of this sink has uncommitted writes (one open transaction per sink).
    #[error(
        "table `{requested}`: table `{pending}` has uncommitted writes on this sink; \
         commit or abort it first, or open another `PgSink` for concurrent streams"
    )]
    OtherTablePending {
        /// The table with pending writes.
        pending: String,
        /// The table asked for.
        requested: String,
    },
}

impl LoadError {
    pub(crate) fn connect(target: String, source: tokio_postgres::Error) -> Self {
        let mut detail = source.to_string();
        let mut cause = std::error::Error::source(&source);
        while let Some(c) = cause {
            detail.push_str(": ");
            detail.push_str(&c.to_string());
            cause = c.source();
        }
        LoadError::Connect {
            target,
            detail,
            source,
        }
    }

    pub(crate) fn pg(context: impl Into<String>, source: tokio_postgres::Error) -> Self {
        LoadError::Postgres {
            context: context.into(),
            source,
        }
    }

    /// The SQLSTATE of the server error behind this one, if any.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            LoadError::Connect { source, .. }
            | LoadError::Postgres { source, .. }
            | LoadError::RowRejected { source, .. } => source.code().map(|c| c.code()),
            _ => None,
        }
    }

    /// Wraps this error in the [`SinkError`] variant of its class; `table` is the table
    /// being worked on, if any.
    pub fn into_sink_error(self, table: Option<&str>) -> SinkError {
        let data = |e: LoadError| SinkError::Data {
            table: table.unwrap_or("(none)").to_owned(),
            source: Box::new(e),
        };
        match &self {
            LoadError::Config(_) | LoadError::Tls(_) | LoadError::WrongLock { .. } => {
                SinkError::Config {
                    source: Box::new(self),
                }
            }
            LoadError::Busy { .. } => SinkError::Busy {
                what: self.to_string(),
            },
            LoadError::NotPrepared { table } => SinkError::NotPrepared {
                table: table.clone(),
            },
            LoadError::OtherTablePending { .. } => SinkError::Config {
                source: Box::new(self),
            },
            LoadError::BadIdentifier { .. }
            | LoadError::IncompatibleColumn { .. }
            | LoadError::PrimaryKeyChanged { .. }
            | LoadError::BlockedByViews { .. }
            | LoadError::SchemaMismatch { .. }
            | LoadError::BadValue { .. }
            | LoadError::RowRejected { .. } => data(self),
            LoadError::Connect { .. } | LoadError::Postgres { .. } => {
                match self.sqlstate().map(|s| s.to_owned()) {
                    Some(code) if code.starts_with("28") || code == "42501" => SinkError::Auth {
                        source: Box::new(self),
                    },
                    Some(code) if code == "55P03" => SinkError::Busy {
                        what: self.to_string(),
                    },
                    Some(code)
                        if table.is_some()
                            && (code.starts_with("22")
                                || code.starts_with("23")
                                || code.starts_with("42")) =>
                    {
                        data(self)
                    }
                    _ => SinkError::Unavailable {
                        source: Box::new(self),
                    },
                }
            }
        }
    }
}

impl From<LoadError> for SinkError {
    fn from(error: LoadError) -> Self {
        error.into_sink_error(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::ErrorClass;

    #[test]
    fn classes_follow_the_kind_of_failure() {
        let busy = LoadError::Busy {
            database: "d".into(),
            schema: "penny".into(),
            holder: String::new(),
        };
        assert_eq!(busy.into_sink_error(None).class(), ErrorClass::Busy);
        let bad = LoadError::BadValue {
            table: "t".into(),
            row: 3,
            key: "(1)".into(),
            column: "amount".into(),
            problem: "too many digits".into(),
        };
        let err = bad.into_sink_error(Some("t"));
        assert_eq!(err.class(), ErrorClass::Data);
        assert!(err.to_string().contains("row 3"), "{err}");
        assert_eq!(
            LoadError::Config("x".into()).into_sink_error(None).class(),
            ErrorClass::Config
        );
    }

    #[test]
    fn incompatible_change_says_how_to_resolve_it() {
        let e = LoadError::IncompatibleColumn {
            table: "journals".into(),
            column: "code".into(),
            from: "bigint".into(),
            to: "bool".into(),
        };
        let text = e.to_string();
        assert!(text.contains("`code`") && text.contains("bigint") && text.contains("bool"));
        assert!(text.contains("--full") && text.contains("drop the table"));
    }
}
