//! The API scope each stream needs, as Pennylane's Company API v2 spec names it per
//! endpoint (`<resource>:readonly`; the family's `:all` scope also does).

/// Whether a sync can go on without a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    /// The general ledger: without it there is nothing to transform. A token without
    /// its scope fails the stream.
    Required,
    /// Everything else: a token without its scope skips the stream, with a warning.
    Optional,
}

/// One stream's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamScope {
    /// The stream (and raw table).
    pub stream: &'static str,
    /// The read scope its endpoints need (`None`: `GET /me`, which needs none).
    pub scope: Option<&'static str>,
    /// Whether the sync can go on without it.
    pub need: Need,
}

const fn required(stream: &'static str, scope: &'static str) -> StreamScope {
    StreamScope {
        stream,
        scope: Some(scope),
        need: Need::Required,
    }
}

const fn optional(stream: &'static str, scope: &'static str) -> StreamScope {
    StreamScope {
        stream,
        scope: Some(scope),
        need: Need::Optional,
    }
}

/// Every stream and the scope it needs (from `company-v2-get.md`'s scopes per endpoint):
/// the one table `penny doctor` and the source's scope checks read.
pub const STREAM_SCOPES: &[StreamScope] = &[
    StreamScope {
        stream: "companies",
        scope: None,
        need: Need::Required,
    },
    required("journals", "journals:readonly"),
    required("ledger_accounts", "ledger_accounts:readonly"),
    required("ledger_entries", "ledger_entries:readonly"),
    required("ledger_entry_lines", "ledger_entries:readonly"),
    optional("fiscal_years", "fiscal_years:readonly"),
    optional("trial_balance", "trial_balance:readonly"),
    optional("customers", "customers:readonly"),
    optional("suppliers", "suppliers:readonly"),
    optional("products", "products:readonly"),
    optional("customer_invoices", "customer_invoices:readonly"),
    optional("customer_invoice_lines", "customer_invoices:readonly"),
    optional("customer_invoice_payments", "customer_invoices:readonly"),
    optional("supplier_invoices", "supplier_invoices:readonly"),
    optional("supplier_invoice_lines", "supplier_invoices:readonly"),
    optional("supplier_invoice_payments", "supplier_invoices:readonly"),
    optional("transactions", "transactions:readonly"),
    optional("bank_accounts", "bank_accounts:readonly"),
    optional("categories", "categories:readonly"),
    optional("category_groups", "categories:readonly"),
];

/// The scope entry of `stream`.
pub fn scope_of(stream: &str) -> Option<&'static StreamScope> {
    STREAM_SCOPES.iter().find(|s| s.stream == stream)
}

/// Whether `granted` (the scopes `GET /me` lists) carries `scope`, or its family's
/// `:all` scope.
pub fn grants(granted: &[String], scope: &str) -> bool {
    let family = scope.split(':').next().unwrap_or(scope);
    granted
        .iter()
        .any(|s| s == scope || *s == format!("{family}:all"))
}

/// A stream the token may not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "stream `{stream}` needs the API scope `{scope}`, which the token lacks{}: generate a token with it (Pennylane > Settings > Connectivity > Developers){}",
    if .message.is_empty() { String::new() } else { format!(" (the API answered 403: {})", .message) },
    match .need { Need::Required => "", Need::Optional => ", or leave the stream out of source.streams" }
)]
pub struct ScopeError {
    /// The stream.
    pub stream: String,
    /// The scope it needs.
    pub scope: String,
    /// Whether the stream is optional.
    pub need: Need,
    /// The API's 403 message (empty when `GET /me`'s scopes told).
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_its_scope_and_no_ledger_scope_is_left() {
        for name in super::super::stream_names() {
            let entry = scope_of(name).unwrap_or_else(|| panic!("{name} has no scope entry"));
            assert_ne!(entry.scope, Some("ledger:readonly"), "{name}");
        }
        assert_eq!(
            scope_of("ledger_entry_lines").and_then(|s| s.scope),
            Some("ledger_entries:readonly")
        );
        assert_eq!(
            scope_of("trial_balance").map(|s| (s.scope, s.need)),
            Some((Some("trial_balance:readonly"), Need::Optional))
        );
        assert_eq!(
            STREAM_SCOPES.len(),
            super::super::stream_names().count(),
            "one entry per stream"
        );
    }

    #[test]
    fn the_all_scope_grants_the_readonly_one() {
        let granted = vec!["journals:all".to_owned(), "customers:readonly".to_owned()];
        assert!(grants(&granted, "journals:readonly"));
        assert!(grants(&granted, "customers:readonly"));
        assert!(!grants(&granted, "suppliers:readonly"));
    }
}
