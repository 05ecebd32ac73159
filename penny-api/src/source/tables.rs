//! The raw tables of the API door: one per stream, columns as in `docs/src/raw-tables.md`.

use penny_transform::{Column, LogicalType, Schema, SyncMode};

use crate::api::ChangelogResource;

/// How a column's value is read from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// The company of the token (from `GET /me`).
    CompanyId,
    /// The parent invoice's id (sub-collections).
    ParentId,
    /// The field of the column's name, as `LogicalType`.
    Scalar(LogicalType),
    /// `{"id": ...}` in this field (or a plain id, or `<field>_id`): its id.
    RefId(&'static str),
    /// A scalar inside an embedded object: `object.field`.
    Nested(&'static str, &'static str, LogicalType),
    /// The lettering code, or the smallest id among this line and the lines lettered
    /// with it; null when not lettered.
    Lettering,
}

/// One column: its name and where its value comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnSpec {
    pub name: &'static str,
    pub field: Field,
}

impl ColumnSpec {
    pub fn logical_type(&self) -> LogicalType {
        match self.field {
            Field::CompanyId | Field::ParentId | Field::RefId(_) => LogicalType::Int64,
            Field::Scalar(t) | Field::Nested(_, _, t) => t,
            Field::Lettering => LogicalType::Text,
        }
    }
}

/// How a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A reference table without a change log: read in full at most every
    /// `reference_refresh`, and at once when a changed ledger line names one of its
    /// records not known yet (`Some(line field)`: the line's field naming it).
    Reference(Option<&'static str>),
    /// The token's company, from `GET /me`: one row, read in full every time.
    Me,
    /// Ledger entries: incremental through the change log of their lines (the entries of
    /// the inserted and updated lines are read again by id).
    Entries,
    /// Pennylane's trial balance per fiscal year, read on the reference cadence.
    TrialBalance,
    /// Incremental through the resource's own change log.
    Changelog(ChangelogResource),
    /// A sub-collection of invoices, incremental through the invoices' change log.
    SubCollection(ChangelogResource, SubKind),
}

/// Which sub-collection of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubKind {
    /// `/invoice_lines`.
    Lines,
    /// `/payments`.
    Payments,
}

/// A stream: its name (= table = resource), list endpoint, columns and mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableSpec {
    pub name: &'static str,
    /// The list endpoint (for sub-collections: the parent's).
    pub endpoint: &'static str,
    pub columns: &'static [ColumnSpec],
    pub mode: Mode,
}

impl TableSpec {
    /// The primary key: `(company_id, id)`, but for the trial balance (no id).
    pub fn key(&self) -> &'static [&'static str] {
        match self.mode {
            Mode::TrialBalance => &["company_id", "period_start", "period_end", "number"],
            _ => &["company_id", "id"],
        }
    }

    pub fn schema(&self) -> Schema {
        let key = self.key();
        let columns = self
            .columns
            .iter()
            .map(|c| match c.field {
                Field::CompanyId => Column::required(c.name, LogicalType::Int64),
                _ if key.contains(&c.name) => Column::required(c.name, c.logical_type()),
                _ => Column::nullable(c.name, c.logical_type()),
            })
            .collect();
        Schema::new(self.name, columns, key.iter().copied())
            .expect("the raw table specs are valid schemas (checked by a test)")
    }

    /// Whether a full read of the stream can resume after its last page: its list (for
    /// sub-collections, the parent invoices' list) accepts `sort=id` and a `filter` on
    /// `id` with `gt` in Pennylane's spec ([`RESUMABLE_LISTS`]).
    pub fn resumable(&self) -> bool {
        !matches!(self.mode, Mode::Me | Mode::TrialBalance)
            && RESUMABLE_LISTS.contains(&self.endpoint)
    }

    pub fn sync_mode(&self) -> SyncMode {
        match self.mode {
            Mode::Reference(_) | Mode::Me | Mode::TrialBalance => SyncMode::FullOnly,
            Mode::Entries | Mode::Changelog(_) | Mode::SubCollection(..) => SyncMode::Changelog,
        }
    }
}

const fn col(name: &'static str, field: Field) -> ColumnSpec {
    ColumnSpec { name, field }
}
const fn text(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Text))
}
const fn int(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Int64))
}
const fn boolean(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Bool))
}
const fn date(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Date))
}
const fn ts(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::TimestampTz))
}
const fn json(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Json))
}
/// Amounts: `decimal(2)`.
const fn amount(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Decimal { scale: 2 }))
}
/// Quantities, unit prices, exchange rates, weights: `decimal(6)`.
const fn fine(name: &'static str) -> ColumnSpec {
    col(name, Field::Scalar(LogicalType::Decimal { scale: 6 }))
}
const fn reference(name: &'static str, field: &'static str) -> ColumnSpec {
    col(name, Field::RefId(field))
}

const COMPANY: ColumnSpec = col("company_id", Field::CompanyId);
const ID: ColumnSpec = int("id");
const CREATED: ColumnSpec = ts("created_at");
const UPDATED: ColumnSpec = ts("updated_at");

/// The columns of an invoice table: those customer and supplier invoices share, in
/// their order, around `$own`, the columns of the invoice's kind.
macro_rules! invoice_columns {
    ($($own:expr),* $(,)?) => {
        &[
            COMPANY,
            ID,
            text("label"),
            text("invoice_number"),
            text("currency"),
            amount("amount"),
            amount("currency_amount"),
            amount("currency_amount_before_tax"),
            fine("exchange_rate"),
            amount("currency_tax"),
            amount("tax"),
            date("date"),
            date("deadline"),
            $($own,)*
            ts("archived_at"),
            CREATED,
            UPDATED,
        ]
    };
}

const INVOICE_LINE_COLUMNS: &[ColumnSpec] = &[
    COMPANY,
    ID,
    col("invoice_id", Field::ParentId),
    text("label"),
    text("unit"),
    fine("quantity"),
    amount("amount"),
    amount("currency_amount"),
    amount("currency_amount_before_tax"),
    amount("currency_tax"),
    amount("tax"),
    fine("raw_currency_unit_price"),
    text("vat_rate"),
    text("description"),
    reference("product_id", "product"),
    reference("ledger_account_id", "ledger_account"),
    json("discount"),
    int("section_rank"),
    json("imputation_dates"),
    CREATED,
    UPDATED,
];

const PAYMENT_COLUMNS: &[ColumnSpec] = &[
    COMPANY,
    ID,
    col("invoice_id", Field::ParentId),
    text("label"),
    text("currency"),
    amount("currency_amount"),
    text("status"),
    CREATED,
    UPDATED,
];

/// The list endpoints that accept `sort=id` and a `filter` `id gt` in
/// `company-v2-endpoints.json`: their full reads resume after the last id of a page.
/// Not `/transactions` (its `id` filter has no `gt`), `/journals` (no `id` filter),
/// `/fiscal_years`, `/bank_accounts`, `/category_groups` (no filter), `/trial_balance`.
pub(crate) const RESUMABLE_LISTS: &[&str] = &[
    "/customer_invoices",
    "/supplier_invoices",
    "/customers",
    "/suppliers",
    "/products",
    "/ledger_entries",
    "/ledger_entry_lines",
    "/ledger_accounts",
    "/categories",
];

/// Every stream the source offers.
pub(crate) const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "companies",
        endpoint: "/me",
        mode: Mode::Me,
        columns: &[COMPANY, ID, text("name"), text("reg_no")],
    },
    TableSpec {
        name: "journals",
        endpoint: "/journals",
        mode: Mode::Reference(Some("journal_id")),
        columns: &[COMPANY, ID, text("code"), text("label"), text("type")],
    },
    TableSpec {
        name: "ledger_accounts",
        endpoint: "/ledger_accounts",
        mode: Mode::Reference(Some("ledger_account_id")),
        columns: &[
            COMPANY,
            ID,
            text("number"),
            text("label"),
            text("vat_rate"),
            text("country_alpha2"),
            boolean("enabled"),
            text("type"),
            boolean("letterable"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "fiscal_years",
        endpoint: "/fiscal_years",
        mode: Mode::Reference(None),
        columns: &[
            COMPANY,
            ID,
            date("start"),
            date("finish"),
            text("status"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "ledger_entries",
        endpoint: "/ledger_entries",
        mode: Mode::Entries,
        columns: &[
            COMPANY,
            ID,
            text("label"),
            text("piece_number"),
            date("date"),
            date("due_date"),
            text("invoice_number"),
            reference("journal_id", "journal"),
            text("status"),
            json("categories"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "ledger_entry_lines",
        endpoint: "/ledger_entry_lines",
        mode: Mode::Changelog(ChangelogResource::LedgerEntryLines),
        columns: &[
            COMPANY,
            ID,
            reference("ledger_entry_id", "ledger_entry"),
            date("date"),
            text("label"),
            amount("debit"),
            amount("credit"),
            reference("journal_id", "journal"),
            reference("ledger_account_id", "ledger_account"),
            col(
                "ledger_account_number",
                Field::Nested("ledger_account", "number", LogicalType::Text),
            ),
            col(
                "ledger_account_label",
                Field::Nested("ledger_account", "label", LogicalType::Text),
            ),
            col("lettering", Field::Lettering),
            json("lettered_ledger_entry_lines"),
            json("categories"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "customers",
        endpoint: "/customers",
        mode: Mode::Changelog(ChangelogResource::Customers),
        columns: &[
            COMPANY,
            ID,
            text("customer_type"),
            text("name"),
            text("first_name"),
            text("last_name"),
            text("reg_no"),
            text("vat_number"),
            reference("ledger_account_id", "ledger_account"),
            json("emails"),
            json("billing_address"),
            json("delivery_address"),
            text("billing_iban"),
            text("payment_conditions"),
            text("reference"),
            text("external_reference"),
            text("billing_language"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "suppliers",
        endpoint: "/suppliers",
        mode: Mode::Changelog(ChangelogResource::Suppliers),
        columns: &[
            COMPANY,
            ID,
            text("name"),
            text("establishment_no"),
            text("reg_no"),
            text("vat_number"),
            reference("ledger_account_id", "ledger_account"),
            json("emails"),
            text("iban"),
            json("postal_address"),
            text("supplier_payment_method"),
            int("supplier_due_date_delay"),
            text("supplier_due_date_rule"),
            text("external_reference"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "products",
        endpoint: "/products",
        mode: Mode::Changelog(ChangelogResource::Products),
        columns: &[
            COMPANY,
            ID,
            text("label"),
            text("description"),
            text("external_reference"),
            fine("price_before_tax"),
            text("vat_rate"),
            fine("price"),
            text("unit"),
            text("currency"),
            text("reference"),
            reference("ledger_account_id", "ledger_account"),
            ts("archived_at"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "customer_invoices",
        endpoint: "/customer_invoices",
        mode: Mode::Changelog(ChangelogResource::CustomerInvoices),
        columns: invoice_columns![
            text("language"),
            boolean("paid"),
            text("status"),
            boolean("draft"),
            json("discount"),
            amount("remaining_amount_with_tax"),
            amount("remaining_amount_without_tax"),
            reference("customer_id", "customer"),
            reference("ledger_entry_id", "ledger_entry"),
            reference("credited_invoice_id", "credited_invoice"),
            text("external_reference"),
            boolean("factur_x"),
            json("e_invoicing"),
        ],
    },
    TableSpec {
        name: "customer_invoice_lines",
        endpoint: "/customer_invoices",
        mode: Mode::SubCollection(ChangelogResource::CustomerInvoices, SubKind::Lines),
        columns: INVOICE_LINE_COLUMNS,
    },
    TableSpec {
        name: "customer_invoice_payments",
        endpoint: "/customer_invoices",
        mode: Mode::SubCollection(ChangelogResource::CustomerInvoices, SubKind::Payments),
        columns: PAYMENT_COLUMNS,
    },
    TableSpec {
        name: "supplier_invoices",
        endpoint: "/supplier_invoices",
        mode: Mode::Changelog(ChangelogResource::SupplierInvoices),
        columns: invoice_columns![
            boolean("paid"),
            text("payment_status"),
            text("accounting_status"),
            boolean("reconciled"),
            amount("remaining_amount_with_tax"),
            amount("remaining_amount_without_tax"),
            reference("supplier_id", "supplier"),
            reference("ledger_entry_id", "ledger_entry"),
            text("external_reference"),
        ],
    },
    TableSpec {
        name: "supplier_invoice_lines",
        endpoint: "/supplier_invoices",
        mode: Mode::SubCollection(ChangelogResource::SupplierInvoices, SubKind::Lines),
        columns: INVOICE_LINE_COLUMNS,
    },
    TableSpec {
        name: "supplier_invoice_payments",
        endpoint: "/supplier_invoices",
        mode: Mode::SubCollection(ChangelogResource::SupplierInvoices, SubKind::Payments),
        columns: PAYMENT_COLUMNS,
    },
    TableSpec {
        name: "transactions",
        endpoint: "/transactions",
        mode: Mode::Changelog(ChangelogResource::Transactions),
        columns: &[
            COMPANY,
            ID,
            text("label"),
            date("date"),
            amount("amount"),
            text("currency"),
            amount("currency_amount"),
            amount("fee"),
            amount("currency_fee"),
            amount("outstanding_balance"),
            boolean("attachment_required"),
            reference("bank_account_id", "bank_account"),
            reference("journal_id", "journal"),
            reference("customer_id", "customer"),
            reference("supplier_id", "supplier"),
            json("categories"),
            ts("archived_at"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "bank_accounts",
        endpoint: "/bank_accounts",
        mode: Mode::Reference(None),
        columns: &[
            COMPANY,
            ID,
            text("name"),
            text("currency"),
            amount("balance"),
            reference("bank_establishment_id", "bank_establishment"),
            reference("journal_id", "journal"),
            reference("ledger_account_id", "ledger_account"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "categories",
        endpoint: "/categories",
        mode: Mode::Reference(None),
        columns: &[
            COMPANY,
            ID,
            text("label"),
            text("direction"),
            reference("category_group_id", "category_group"),
            text("analytical_code"),
            CREATED,
            UPDATED,
        ],
    },
    TableSpec {
        name: "category_groups",
        endpoint: "/category_groups",
        mode: Mode::Reference(None),
        columns: &[COMPANY, ID, text("label"), CREATED, UPDATED],
    },
    TableSpec {
        name: "trial_balance",
        endpoint: "/trial_balance",
        mode: Mode::TrialBalance,
        columns: &[
            COMPANY,
            date("period_start"),
            date("period_end"),
            text("number"),
            text("formatted_number"),
            text("label"),
            amount("debits"),
            amount("credits"),
        ],
    },
];

/// The spec of stream `name`.
pub(crate) fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trial_balance_is_keyed_by_company_period_and_account() {
        use LogicalType::*;
        let schema = table("trial_balance").expect("table").schema();
        let columns: Vec<(&str, LogicalType)> = schema
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.logical_type))
            .collect();
        assert_eq!(
            columns,
            [
                ("company_id", Int64),
                ("period_start", Date),
                ("period_end", Date),
                ("number", Text),
                ("formatted_number", Text),
                ("label", Text),
                ("debits", Decimal { scale: 2 }),
                ("credits", Decimal { scale: 2 }),
            ]
        );
        assert_eq!(
            schema.primary_key_names().collect::<Vec<_>>(),
            ["company_id", "period_start", "period_end", "number"]
        );
    }

    #[test]
    fn every_spec_is_a_valid_schema_keyed_by_company_and_id() {
        for spec in TABLES.iter().filter(|t| t.mode != Mode::TrialBalance) {
            let schema = spec.schema();
            assert_eq!(
                schema.primary_key_names().collect::<Vec<_>>(),
                ["company_id", "id"],
                "{}",
                spec.name
            );
        }
    }

    /// The columns and types `docs/src/raw-tables.md` promises the mappings.
    #[test]
    fn the_contracted_columns_exist_with_their_types() {
        use LogicalType::*;
        let d2 = Decimal { scale: 2 };
        let d6 = Decimal { scale: 6 };
        let contract: &[(&str, &[(&str, LogicalType)])] = &[
            (
                "journals",
                &[("code", Text), ("label", Text), ("type", Text)],
            ),
            (
                "ledger_accounts",
                &[
                    ("number", Text),
                    ("label", Text),
                    ("vat_rate", Text),
                    ("letterable", Bool),
                ],
            ),
            (
                "fiscal_years",
                &[("start", Date), ("finish", Date), ("status", Text)],
            ),
            (
                "ledger_entries",
                &[
                    ("label", Text),
                    ("piece_number", Text),
                    ("date", Date),
                    ("due_date", Date),
                    ("invoice_number", Text),
                    ("journal_id", Int64),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "ledger_entry_lines",
                &[
                    ("ledger_entry_id", Int64),
                    ("date", Date),
                    ("label", Text),
                    ("debit", d2),
                    ("credit", d2),
                    ("journal_id", Int64),
                    ("ledger_account_id", Int64),
                    ("ledger_account_number", Text),
                    ("ledger_account_label", Text),
                    ("lettering", Text),
                    ("categories", Json),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "customers",
                &[
                    ("customer_type", Text),
                    ("name", Text),
                    ("first_name", Text),
                    ("last_name", Text),
                    ("reg_no", Text),
                    ("vat_number", Text),
                    ("ledger_account_id", Int64),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "suppliers",
                &[
                    ("name", Text),
                    ("reg_no", Text),
                    ("vat_number", Text),
                    ("ledger_account_id", Int64),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "customer_invoices",
                &[
                    ("label", Text),
                    ("invoice_number", Text),
                    ("currency", Text),
                    ("amount", d2),
                    ("currency_amount_before_tax", d2),
                    ("tax", d2),
                    ("date", Date),
                    ("deadline", Date),
                    ("paid", Bool),
                    ("status", Text),
                    ("remaining_amount_with_tax", d2),
                    ("customer_id", Int64),
                    ("ledger_entry_id", Int64),
                    ("credited_invoice_id", Int64),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "supplier_invoices",
                &[
                    ("label", Text),
                    ("invoice_number", Text),
                    ("currency", Text),
                    ("amount", d2),
                    ("currency_amount_before_tax", d2),
                    ("tax", d2),
                    ("date", Date),
                    ("deadline", Date),
                    ("paid", Bool),
                    ("payment_status", Text),
                    ("remaining_amount_with_tax", d2),
                    ("supplier_id", Int64),
                    ("ledger_entry_id", Int64),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "transactions",
                &[
                    ("label", Text),
                    ("date", Date),
                    ("amount", d2),
                    ("currency", Text),
                    ("bank_account_id", Int64),
                    ("journal_id", Int64),
                    ("customer_id", Int64),
                    ("supplier_id", Int64),
                    ("outstanding_balance", d2),
                    ("updated_at", TimestampTz),
                ],
            ),
            (
                "bank_accounts",
                &[
                    ("name", Text),
                    ("currency", Text),
                    ("balance", d2),
                    ("journal_id", Int64),
                    ("ledger_account_id", Int64),
                ],
            ),
        ];
        let lines: &[(&str, LogicalType)] = &[
            ("invoice_id", Int64),
            ("label", Text),
            ("quantity", d6),
            ("amount", d2),
            ("currency_amount_before_tax", d2),
            ("tax", d2),
            ("vat_rate", Text),
            ("ledger_account_id", Int64),
            ("product_id", Int64),
        ];
        let payments: &[(&str, LogicalType)] = &[
            ("invoice_id", Int64),
            ("label", Text),
            ("currency_amount", d2),
            ("status", Text),
            ("created_at", TimestampTz),
        ];
        let mut all: Vec<(&str, &[(&str, LogicalType)])> = contract.to_vec();
        all.push(("customer_invoice_lines", lines));
        all.push(("supplier_invoice_lines", lines));
        all.push(("customer_invoice_payments", payments));
        all.push(("supplier_invoice_payments", payments));
        for (name, columns) in all {
            let schema = table(name).expect(name).schema();
            for (column, ty) in columns
                .iter()
                .chain(&[("company_id", Int64), ("id", Int64)])
            {
                assert_eq!(
                    schema.column(column).map(|c| c.logical_type),
                    Some(*ty),
                    "{name}.{column}"
                );
            }
        }
    }
}
