//! The resources the sandbox serves: their paths, id ranges, limits, sorts, filters and
//! scopes.

/// A collection of records the sandbox serves (and can mutate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Resource {
    /// `/journals`
    Journals,
    /// `/ledger_accounts`
    LedgerAccounts,
    /// `/fiscal_years`
    FiscalYears,
    /// `/category_groups`
    CategoryGroups,
    /// `/categories`
    Categories,
    /// `/bank_accounts`
    BankAccounts,
    /// `/customers`
    Customers,
    /// `/suppliers`
    Suppliers,
    /// `/products`
    Products,
    /// `/customer_invoices`
    CustomerInvoices,
    /// `/supplier_invoices`
    SupplierInvoices,
    /// `/transactions`
    Transactions,
    /// `/ledger_entries`
    LedgerEntries,
    /// `/ledger_entry_lines`
    LedgerEntryLines,
    /// `/customer_invoices/{id}/invoice_lines`
    CustomerInvoiceLines,
    /// `/supplier_invoices/{id}/invoice_lines`
    SupplierInvoiceLines,
    /// `/customer_invoices/{id}/payments`
    CustomerInvoicePayments,
    /// `/supplier_invoices/{id}/payments`
    SupplierInvoicePayments,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Resource; 18] = [
        Resource::Journals,
        Resource::LedgerAccounts,
        Resource::FiscalYears,
        Resource::CategoryGroups,
        Resource::Categories,
        Resource::BankAccounts,
        Resource::Customers,
        Resource::Suppliers,
        Resource::Products,
        Resource::CustomerInvoices,
        Resource::SupplierInvoices,
        Resource::Transactions,
        Resource::LedgerEntries,
        Resource::LedgerEntryLines,
        Resource::CustomerInvoiceLines,
        Resource::SupplierInvoiceLines,
        Resource::CustomerInvoicePayments,
        Resource::SupplierInvoicePayments,
    ];

    /// The collection's name (its path segment; for sub-collections, the parent's name
    /// and the sub-collection's, joined by `/`).
    pub fn name(self) -> &'static str {
        match self {
            Resource::Journals => "journals",
            Resource::LedgerAccounts => "ledger_accounts",
            Resource::FiscalYears => "fiscal_years",
            Resource::CategoryGroups => "category_groups",
            Resource::Categories => "categories",
            Resource::BankAccounts => "bank_accounts",
            Resource::Customers => "customers",
            Resource::Suppliers => "suppliers",
            Resource::Products => "products",
            Resource::CustomerInvoices => "customer_invoices",
            Resource::SupplierInvoices => "supplier_invoices",
            Resource::Transactions => "transactions",
            Resource::LedgerEntries => "ledger_entries",
            Resource::LedgerEntryLines => "ledger_entry_lines",
            Resource::CustomerInvoiceLines => "customer_invoices/invoice_lines",
            Resource::SupplierInvoiceLines => "supplier_invoices/invoice_lines",
            Resource::CustomerInvoicePayments => "customer_invoices/payments",
            Resource::SupplierInvoicePayments => "supplier_invoices/payments",
        }
    }

    /// The top-level resource of a path segment.
    pub(crate) fn from_segment(segment: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.parent().is_none() && r.name() == segment)
    }

    /// For a sub-collection, its parent collection.
    pub fn parent(self) -> Option<Resource> {
        match self {
            Resource::CustomerInvoiceLines | Resource::CustomerInvoicePayments => {
                Some(Resource::CustomerInvoices)
            }
            Resource::SupplierInvoiceLines | Resource::SupplierInvoicePayments => {
                Some(Resource::SupplierInvoices)
            }
            _ => None,
        }
    }

    /// The sub-collection `segment` of this resource.
    pub(crate) fn child(self, segment: &str) -> Option<Resource> {
        match (self, segment) {
            (Resource::CustomerInvoices, "invoice_lines") => Some(Resource::CustomerInvoiceLines),
            (Resource::CustomerInvoices, "payments") => Some(Resource::CustomerInvoicePayments),
            (Resource::SupplierInvoices, "invoice_lines") => Some(Resource::SupplierInvoiceLines),
            (Resource::SupplierInvoices, "payments") => Some(Resource::SupplierInvoicePayments),
            _ => None,
        }
    }

    /// Generated ids of this resource are `id_base() + index + 1`; ids created by
    /// mutations follow the generated ones.
    pub(crate) fn id_base(self) -> i64 {
        let position = Resource::ALL.iter().position(|r| *r == self).unwrap_or(0) as i64;
        (position + 1) * 100_000_000
    }

    /// Whether `GET /changelogs/<name>` exists for this resource.
    pub fn has_changelog(self) -> bool {
        matches!(
            self,
            Resource::CustomerInvoices
                | Resource::SupplierInvoices
                | Resource::Customers
                | Resource::Suppliers
                | Resource::Products
                | Resource::Transactions
                | Resource::LedgerEntryLines
        )
    }

    /// Whether records carry a `date` (and `sort=date` is accepted).
    pub(crate) fn has_date(self) -> bool {
        matches!(
            self,
            Resource::CustomerInvoices
                | Resource::SupplierInvoices
                | Resource::Transactions
                | Resource::LedgerEntries
                | Resource::LedgerEntryLines
        )
    }

    /// Whether records carry `created_at`/`updated_at` (journals and ledger accounts do
    /// not: the spec's schemas have no such fields).
    pub(crate) fn has_timestamps(self) -> bool {
        !matches!(self, Resource::Journals | Resource::LedgerAccounts)
    }

    /// The scope a token needs (`<family>:readonly`, or `<family>:all`).
    pub(crate) fn scope_family(self) -> &'static str {
        match self {
            Resource::Journals => "journals",
            Resource::LedgerAccounts => "ledger_accounts",
            Resource::FiscalYears => "fiscal_years",
            Resource::CategoryGroups | Resource::Categories => "categories",
            Resource::BankAccounts => "bank_accounts",
            Resource::Customers => "customers",
            Resource::Suppliers => "suppliers",
            Resource::Products => "products",
            Resource::CustomerInvoices
            | Resource::CustomerInvoiceLines
            | Resource::CustomerInvoicePayments => "customer_invoices",
            Resource::SupplierInvoices
            | Resource::SupplierInvoiceLines
            | Resource::SupplierInvoicePayments => "supplier_invoices",
            Resource::Transactions => "transactions",
            Resource::LedgerEntries | Resource::LedgerEntryLines => "ledger_entries",
        }
    }
}

/// Every scope family, for full-access tokens.
pub(crate) const SCOPE_FAMILIES: &[&str] = &[
    "journals",
    "ledger_accounts",
    "fiscal_years",
    "categories",
    "bank_accounts",
    "customers",
    "suppliers",
    "products",
    "customer_invoices",
    "supplier_invoices",
    "transactions",
    "ledger_entries",
    "trial_balance",
];
