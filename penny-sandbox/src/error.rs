//! What can go wrong starting or driving a sandbox.

/// What can go wrong starting or driving the sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The configuration cannot be served.
    #[error("invalid sandbox configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot bind the sandbox on 127.0.0.1 (is the port free?): {source}")]
    Bind {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No such company.
    #[error("company {company_id} does not exist in this sandbox (companies are 1..={companies})")]
    UnknownCompany {
        /// The company asked for.
        company_id: i64,
        /// How many companies there are.
        companies: usize,
    },
    /// No such record (never existed, or deleted).
    #[error("{resource} {id} does not exist in company {company_id}")]
    UnknownRecord {
        /// The company.
        company_id: i64,
        /// The resource's name.
        resource: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The mutation does not make sense for this record.
    #[error("cannot change {resource} {id}: {reason}")]
    InvalidMutation {
        /// The resource's name.
        resource: &'static str,
        /// The record's id (0 for a creation).
        id: i64,
        /// Why.
        reason: String,
    },
}
