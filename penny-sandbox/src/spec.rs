//! The request rules of every endpoint the sandbox serves, written to match Pennylane's
//! Company API v2 reference (`company-v2-endpoints.json`): the query parameters each
//! accepts, its `limit` maximum, its filters (fields and operators) and its sorts.
//! Anything outside these rules is a 400, as on the real API.
//!
//! The table is compared with the spec file by the contract test
//! (`penny-sandbox/tests/contract.rs`), so the two cannot drift apart.

/// A `filter` operator, as the Company API v2 reference defines them, in the order it
/// lists them (`lt`, `lteq`, `gt`, `gteq`, `eq`, `not_eq`, `in`, `not_in`, and
/// `start_with` on some text fields). The sandbox reads only these spellings
/// ([`Operator::parse`]): whatever a client sends outside them is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `lt`: less than.
    Lt,
    /// `lteq`: less than or equal.
    Lteq,
    /// `gt`: greater than.
    Gt,
    /// `gteq`: greater than or equal.
    Gteq,
    /// `eq`: equal.
    Eq,
    /// `not_eq`: not equal.
    NotEq,
    /// `in`: one of an array.
    In,
    /// `not_in`: none of an array.
    NotIn,
    /// `start_with`: text starting with.
    StartWith,
}

/// Every operator with its spelling in the reference, in declaration order (so
/// `SPELLINGS[op as usize]` is `op`'s): the one table read both ways.
const SPELLINGS: [(Operator, &str); 9] = [
    (Operator::Lt, "lt"),
    (Operator::Lteq, "lteq"),
    (Operator::Gt, "gt"),
    (Operator::Gteq, "gteq"),
    (Operator::Eq, "eq"),
    (Operator::NotEq, "not_eq"),
    (Operator::In, "in"),
    (Operator::NotIn, "not_in"),
    (Operator::StartWith, "start_with"),
];

impl Operator {
    /// Every operator of the reference.
    pub fn all() -> impl Iterator<Item = Operator> {
        SPELLINGS.iter().map(|(op, _)| *op)
    }

    /// How the reference spells the operator (`not_eq`).
    pub fn name(self) -> &'static str {
        SPELLINGS[self as usize].1
    }

    /// The operator the reference spells `name`, if it is one (`gte`, `EQ` are not).
    pub fn parse(name: &str) -> Option<Operator> {
        SPELLINGS
            .iter()
            .find(|(_, spelled)| *spelled == name)
            .map(|(op, _)| *op)
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The request rules of one GET endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointRules {
    /// The path below `/api/external/v2`, with `{id}` for a path parameter (as
    /// the spec spells it: `/customer_invoices/{customer_invoice_id}/invoice_lines`).
    pub path: &'static str,
    /// The largest `limit` (lists), `None` for an endpoint that is not a list.
    pub max_limit: Option<usize>,
    /// The fields `filter` accepts, each with its operators (empty: no `filter`).
    pub filters: &'static [(&'static str, &'static [Operator])],
    /// The fields `sort` accepts (empty: no `sort`).
    pub sorts: &'static [&'static str],
    /// The other query parameters (besides `cursor`, `limit`, `filter`, `sort`), each
    /// with whether it is required.
    pub params: &'static [(&'static str, bool)],
    /// The values `include` accepts (empty: no `include`).
    pub includes: &'static [&'static str],
}

// Short, for the tables below.
use Operator as Op;

const ALL: &[Op] = &[
    Op::Lt,
    Op::Lteq,
    Op::Gt,
    Op::Gteq,
    Op::Eq,
    Op::NotEq,
    Op::In,
    Op::NotIn,
];
const COMPARE: &[Op] = &[Op::Lt, Op::Lteq, Op::Gt, Op::Gteq, Op::Eq, Op::NotEq];
const EQ_IN: &[Op] = &[Op::Eq, Op::NotEq, Op::In, Op::NotIn];
const EQ_NE: &[Op] = &[Op::Eq, Op::NotEq];
const EQ: &[Op] = &[Op::Eq];
const IN: &[Op] = &[Op::In];

const fn list(path: &'static str, sorts: &'static [&'static str]) -> EndpointRules {
    EndpointRules {
        path,
        max_limit: Some(100),
        filters: &[],
        sorts,
        params: &[],
        includes: &[],
    }
}

const fn one(path: &'static str) -> EndpointRules {
    EndpointRules {
        path,
        max_limit: None,
        filters: &[],
        sorts: &[],
        params: &[],
        includes: &[],
    }
}

const fn changelog(path: &'static str) -> EndpointRules {
    EndpointRules {
        path,
        max_limit: Some(1000),
        filters: &[],
        sorts: &[],
        params: &[("start_date", false)],
        includes: &[],
    }
}

/// Every GET endpoint the sandbox serves, with its request rules.
pub const ENDPOINTS: &[EndpointRules] = &[
    one("/me"),
    EndpointRules {
        filters: &[("type", EQ_IN)],
        ..list("/journals", &["id"])
    },
    one("/journals/{id}"),
    EndpointRules {
        max_limit: Some(1000),
        filters: &[
            ("id", ALL),
            ("number", &[Op::StartWith, Op::Eq, Op::In]),
            ("enabled", EQ),
        ],
        ..list("/ledger_accounts", &["id"])
    },
    one("/ledger_accounts/{id}"),
    list("/fiscal_years", &["id", "start"]),
    list("/category_groups", &[]),
    one("/category_groups/{id}"),
    list("/category_groups/{category_group_id}/categories", &[]),
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("label", &[Op::StartWith, Op::Eq, Op::In]),
            ("category_group_id", ALL),
            ("analytical_code", EQ_IN),
        ],
        ..list("/categories", &["id"])
    },
    one("/categories/{id}"),
    list("/bank_accounts", &["id"]),
    one("/bank_accounts/{id}"),
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("customer_type", EQ_NE),
            ("ledger_account_id", EQ_NE),
            ("name", &[Op::StartWith, Op::Eq]),
            (
                "external_reference",
                &[Op::StartWith, Op::Eq, Op::NotEq, Op::In, Op::NotIn],
            ),
            ("reg_no", EQ_IN),
            ("emails", IN),
        ],
        ..list("/customers", &["id"])
    },
    one("/customers/{id}"),
    list("/customers/{customer_id}/categories", &[]),
    list("/customers/{customer_id}/contacts", &["id"]),
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("ledger_account_id", EQ_NE),
            ("name", &[Op::StartWith]),
            ("external_reference", EQ_IN),
            ("emails", IN),
        ],
        ..list("/suppliers", &["id"])
    },
    one("/suppliers/{id}"),
    list("/suppliers/{supplier_id}/categories", &[]),
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("label", &[Op::Eq, Op::In]),
            ("reference", &[Op::Eq, Op::In]),
            ("external_reference", EQ_IN),
        ],
        ..list("/products", &["id"])
    },
    one("/products/{id}"),
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("date", ALL),
            ("customer_id", ALL),
            ("billing_subscription_id", ALL),
            ("quote_id", ALL),
            ("invoice_number", EQ_IN),
            ("draft", EQ),
            ("credit_note", EQ),
            ("external_reference", EQ),
            ("flow_id", EQ_IN),
            ("category_id", IN),
        ],
        includes: &["invoice_lines"],
        params: &[("include", false)],
        ..list("/customer_invoices", &["id", "date"])
    },
    one("/customer_invoices/{id}"),
    list(
        "/customer_invoices/{customer_invoice_id}/invoice_lines",
        &["id", "rank"],
    ),
    list("/customer_invoices/{customer_invoice_id}/payments", &["id"]),
    list(
        "/customer_invoices/{customer_invoice_id}/matched_transactions",
        &["id"],
    ),
    list("/customer_invoices/{customer_invoice_id}/categories", &[]),
    list("/customer_invoices/{customer_invoice_id}/appendices", &[]),
    list(
        "/customer_invoices/{customer_invoice_id}/invoice_line_sections",
        &["id"],
    ),
    list(
        "/customer_invoices/{customer_invoice_id}/custom_header_fields",
        &["id"],
    ),
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("supplier_id", ALL),
            ("invoice_number", EQ_IN),
            ("date", ALL),
            ("category_id", IN),
            ("external_reference", EQ_IN),
            ("payment_status", EQ_IN),
            ("flow_id", EQ_IN),
        ],
        ..list("/supplier_invoices", &["id", "date"])
    },
    one("/supplier_invoices/{id}"),
    list(
        "/supplier_invoices/{supplier_invoice_id}/invoice_lines",
        &["id"],
    ),
    list("/supplier_invoices/{supplier_invoice_id}/payments", &["id"]),
    list(
        "/supplier_invoices/{supplier_invoice_id}/matched_transactions",
        &["id"],
    ),
    list("/supplier_invoices/{supplier_invoice_id}/categories", &[]),
    EndpointRules {
        filters: &[
            ("id", EQ_IN),
            ("bank_account_id", EQ_IN),
            ("journal_id", EQ_IN),
            ("date", COMPARE),
        ],
        ..list("/transactions", &["id"])
    },
    one("/transactions/{id}"),
    list("/transactions/{transaction_id}/categories", &[]),
    list("/transactions/{transaction_id}/matched_invoices", &[]),
    EndpointRules {
        filters: &[("id", ALL), ("date", COMPARE), ("journal_id", ALL)],
        ..list("/ledger_entries", &["id", "date"])
    },
    one("/ledger_entries/{id}"),
    EndpointRules {
        filters: &[("ledger_account_id", ALL)],
        ..list(
            "/ledger_entries/{ledger_entry_id}/ledger_entry_lines",
            &["id"],
        )
    },
    EndpointRules {
        filters: &[
            ("id", ALL),
            ("journal_id", ALL),
            ("ledger_account_id", ALL),
            ("date", ALL),
        ],
        ..list("/ledger_entry_lines", &["id", "date"])
    },
    one("/ledger_entry_lines/{id}"),
    list(
        "/ledger_entry_lines/{ledger_entry_line_id}/categories",
        &["id"],
    ),
    list(
        "/ledger_entry_lines/{ledger_entry_line_id}/lettered_ledger_entry_lines",
        &["id", "date"],
    ),
    EndpointRules {
        max_limit: Some(1000),
        params: &[
            ("period_start", true),
            ("period_end", true),
            ("is_auxiliary", false),
        ],
        ..list("/trial_balance", &[])
    },
    changelog("/changelogs/customer_invoices"),
    changelog("/changelogs/supplier_invoices"),
    changelog("/changelogs/customers"),
    changelog("/changelogs/suppliers"),
    changelog("/changelogs/products"),
    changelog("/changelogs/transactions"),
    changelog("/changelogs/ledger_entry_lines"),
];

/// Whether `path` (concrete, e.g. `/customer_invoices/12/payments`) matches `template`.
pub(crate) fn path_matches(template: &str, path: &str) -> bool {
    let mut t = template.trim_matches('/').split('/');
    let mut p = path.trim_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.starts_with('{') || a == b => {}
            _ => return false,
        }
    }
}

/// The rules of the endpoint serving `path` (concrete), if the sandbox serves it.
pub(crate) fn rules_for(path: &str) -> Option<&'static EndpointRules> {
    // Literal segments win over parameters (`/changelogs/x` before `/{a}/{b}`-like).
    ENDPOINTS.iter().find(|r| path_matches(r.path, path))
}

/// The operators of `field` on `rules`, if it is filterable.
pub(crate) fn operators(rules: &EndpointRules, field: &str) -> Option<&'static [Operator]> {
    rules
        .filters
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, ops)| *ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates_only() {
        assert!(path_matches(
            "/customer_invoices/{customer_invoice_id}/payments",
            "/customer_invoices/12/payments"
        ));
        assert!(!path_matches(
            "/customer_invoices/{id}",
            "/customer_invoices"
        ));
        assert_eq!(
            rules_for("/ledger_entry_lines").map(|r| r.sorts),
            Some(&["id", "date"][..])
        );
        assert!(rules_for("/ledger_entries/3/ledger_entry_lines").is_some());
        assert!(rules_for("/nowhere").is_none());
    }

    /// Each operator has its own spelling, read back as itself; nothing else is read.
    /// (That the spellings are the reference's is the contract test's to prove.)
    #[test]
    fn operators_read_exactly_their_spellings() {
        for (i, (op, name)) in SPELLINGS.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?} out of order in SPELLINGS");
            assert_eq!(op.name(), *name);
            assert_eq!(Operator::parse(name), Some(*op));
        }
        let names: std::collections::BTreeSet<&str> = Operator::all().map(Operator::name).collect();
        assert_eq!(names.len(), SPELLINGS.len());
        for other in ["gte", "EQ", "ne", "startWith", "", "between"] {
            assert_eq!(Operator::parse(other), None, "{other}");
        }
    }

    #[test]
    fn each_template_is_listed_once() {
        for (i, a) in ENDPOINTS.iter().enumerate() {
            for b in &ENDPOINTS[i + 1..] {
                assert_ne!(a.path, b.path);
            }
        }
    }
}
