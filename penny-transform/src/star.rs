//! The star schema Power BI reads: four fact tables and five dimensions, finished tables
//! so that Power Query has nothing left to join, type or pivot.
//!
//! Keys are natural, never surrogate: every table's primary key is `company_id` plus
//! the business key (account number, journal code, third-party kind and id, date). Power
//! BI relates tables on one column, so each table also carries the key as one text
//! column, `<company_id>|<business key>`:
//!
//! | key column | format | relates |
//! |---|---|---|
//! | `account_key` | `42\|411DUPONT` | facts → `dim_account` |
//! | `journal_key` | `42\|VT` | `fact_ledger_lines` → `dim_journal` |
//! | `third_party_key` | `42\|customer\|7` | facts → `dim_third_party` |
//! | `date_key` | `42\|2026-01-31` | facts → `dim_date` |
//! | `invoice_key` | `42\|customer\|1001` | `fact_invoice_lines` → `fact_invoices` |
//! | `company_id` | `42` | every table → `dim_company` |
//!
//! `dim_date` is per company because fiscal years are. Each builder returns validated
//! [`Batch`]es of at most `batch_rows` rows; [`fact_ledger_lines`] maps whatever lines it
//! is given, so call it once per chunk of lines to keep memory flat. Columns are listed
//! in `docs/src/data-model.md`.

use chrono::{Datelike, NaiveDate};

use crate::batch::{Batch, BatchError};
use crate::canonical::tables::{MONEY, QUANTITY, build, fixed_table, opt, req};
use crate::canonical::{
    Account, BankTransaction, Books, Company, FiscalYear, Invoice, InvoiceLine, Journal,
    LedgerLine, ThirdParty, ThirdPartyKind, ThirdPartyRef,
};
use crate::pcg;
use crate::reports::{month_end, month_index, month_start};
use crate::schema::LogicalType;

use LogicalType::{Bool, Date, Int64, Text};

/// `<company>|<key>`.
pub fn key(company_id: i64, business_key: &str) -> String {
    format!("{company_id}|{business_key}")
}

/// `<company>|<kind>|<id>`.
pub fn third_party_key(company_id: i64, r: ThirdPartyRef) -> String {
    format!("{company_id}|{}|{}", r.kind.as_str(), r.id)
}

/// `<company>|<YYYY-MM-DD>`.
pub fn date_key(company_id: i64, date: NaiveDate) -> String {
    format!(
        "{company_id}|{:04}-{:02}-{:02}",
        date.year(),
        date.month(),
        date.day()
    )
}

fn invoice_key(company_id: i64, kind: ThirdPartyKind, id: i64) -> String {
    format!("{company_id}|{}|{id}", kind.as_str())
}

fixed_table! {
    /// The schema of `fact_ledger_lines`.
    pub fn fact_ledger_lines_schema, fn ledger_line_fact(l: &LedgerLine) =
        "fact_ledger_lines", ["company_id", "line_id"];
    let c = l.company_id;
    req("company_id", Int64) => c,
    req("line_id", Int64) => l.line_id,
    req("entry_id", Int64) => l.entry_id,
    req("date", Date) => l.date,
    req("date_key", Text) => date_key(c, l.date),
    req("journal_code", Text) => l.journal_code.to_string(),
    req("journal_key", Text) => key(c, &l.journal_code),
    req("account_number", Text) => l.account_number.to_string(),
    req("account_key", Text) => key(c, &l.account_number),
    req("label", Text) => l.label.clone(),
    req("debit", MONEY) => l.debit,
    req("credit", MONEY) => l.credit,
    req("amount", MONEY) => l.debit - l.credit,
    opt("third_party_kind", Text) => l.third_party.map(|t| t.kind.as_str()),
    opt("third_party_id", Int64) => l.third_party.map(|t| t.id),
    opt("third_party_key", Text) => l.third_party.map(|t| third_party_key(c, t)),
    opt("document_ref", Text) => l.document_ref.clone(),
    opt("due_date", Date) => l.due_date,
    opt("lettering", Text) => l.lettering.clone(),
    req("is_lettered", Bool) => l.lettering.is_some(),
}

fixed_table! {
    /// The schema of `fact_invoices`.
    pub fn fact_invoices_schema, fn invoice_fact(i: &Invoice) =
        "fact_invoices", ["company_id", "kind", "invoice_id"];
    let c = i.company_id;
    req("company_id", Int64) => c,
    req("kind", Text) => i.kind.as_str(),
    req("invoice_id", Int64) => i.id,
    req("invoice_key", Text) => invoice_key(c, i.kind, i.id),
    opt("number", Text) => i.number.clone(),
    opt("label", Text) => i.label.clone(),
    opt("third_party_id", Int64) => i.third_party_id,
    opt("third_party_key", Text) => i
        .third_party_id
        .map(|id| third_party_key(c, ThirdPartyRef { kind: i.kind, id })),
    req("date", Date) => i.date,
    req("date_key", Text) => date_key(c, i.date),
    opt("due_date", Date) => i.due_date,
    opt("currency", Text) => i.currency.clone(),
    req("amount_ht", MONEY) => i.amount_ht,
    req("vat", MONEY) => i.vat,
    req("amount_ttc", MONEY) => i.amount_ttc,
    opt("paid", Bool) => i.paid,
    req("remaining", MONEY) => i.remaining,
    opt("status", Text) => i.status.clone(),
    opt("entry_id", Int64) => i.entry_id,
    req("document_kind", Text) => i.document.as_str(),
    opt("credited_invoice_id", Int64) => i.credited_invoice_id,
}

fixed_table! {
    /// The schema of `fact_invoice_lines`.
    pub fn fact_invoice_lines_schema, fn invoice_line_fact(l: &InvoiceLine) =
        "fact_invoice_lines", ["company_id", "kind", "line_id"];
    let c = l.company_id;
    req("company_id", Int64) => c,
    req("kind", Text) => l.kind.as_str(),
    req("line_id", Int64) => l.id,
    req("invoice_id", Int64) => l.invoice_id,
    req("invoice_key", Text) => invoice_key(c, l.kind, l.invoice_id),
    opt("label", Text) => l.label.clone(),
    opt("quantity", QUANTITY) => l.quantity,
    req("amount_ht", MONEY) => l.amount_ht,
    req("vat", MONEY) => l.vat,
    req("amount_ttc", MONEY) => l.amount_ttc,
    opt("vat_rate", Text) => l.vat_rate.clone(),
    opt("account_number", Text) => l.account_number.clone(),
    opt("account_key", Text) => l.account_number.as_deref().map(|a| key(c, a)),
}

fixed_table! {
    /// The schema of `fact_bank_transactions`.
    pub fn fact_bank_transactions_schema, fn bank_transaction_fact(t: &BankTransaction) =
        "fact_bank_transactions", ["company_id", "transaction_id"];
    req("company_id", Int64) => t.company_id,
    req("transaction_id", Int64) => t.id,
    req("date", Date) => t.date,
    req("date_key", Text) => date_key(t.company_id, t.date),
    opt("label", Text) => t.label.clone(),
    req("amount", MONEY) => t.amount,
    opt("currency", Text) => t.currency.clone(),
    opt("bank_account_id", Int64) => t.bank_account_id,
}

fixed_table! {
    /// The schema of `dim_company`.
    pub fn dim_company_schema, fn company_dim(c: &Company) = "dim_company", ["company_id"];
    req("company_id", Int64) => c.company_id,
    req("name", Text) => c.name.clone(),
    opt("siren", Text) => c.siren.clone(),
    opt("vat_number", Text) => c.vat_number.clone(),
}

fixed_table! {
    /// The schema of `dim_account`.
    pub fn dim_account_schema, fn account_dim(a: &Account) =
        "dim_account", ["company_id", "account_number"];
    let n = a.number.as_str();
    let class = pcg::class(n);
    req("company_id", Int64) => a.company_id,
    req("account_number", Text) => n,
    req("account_key", Text) => key(a.company_id, n),
    req("label", Text) => a.label.clone(),
    opt("class", Int64) => class.map(i64::from),
    req("class_name", Text) => pcg::class_name(class.unwrap_or(0)),
    req("group2", Text) => pcg::group(n, 2),
    req("group3", Text) => pcg::group(n, 3),
    req("nature", Text) => pcg::nature(n).as_str(),
    req("normal_side", Text) => pcg::normal_side(n).as_str(),
    req("is_auxiliary", Bool) => pcg::is_auxiliary(n),
    req("root_account", Text) => pcg::auxiliary_root(n),
}

fixed_table! {
    /// The schema of `dim_journal`.
    pub fn dim_journal_schema, fn journal_dim(j: &Journal) =
        "dim_journal", ["company_id", "journal_code"];
    req("company_id", Int64) => j.company_id,
    req("journal_code", Text) => j.code.clone(),
    req("journal_key", Text) => key(j.company_id, &j.code),
    req("label", Text) => j.label.clone(),
    req("opening", Bool) => j.opening,
}

fixed_table! {
    /// The schema of `dim_third_party`.
    pub fn dim_third_party_schema, fn third_party_dim(t: &ThirdParty) =
        "dim_third_party", ["company_id", "kind", "third_party_id"];
    req("company_id", Int64) => t.company_id,
    req("kind", Text) => t.third_party.kind.as_str(),
    req("third_party_id", Int64) => t.third_party.id,
    req("third_party_key", Text) => third_party_key(t.company_id, t.third_party),
    req("name", Text) => t.name.clone(),
    opt("registration_number", Text) => t.registration_number.clone(),
    opt("vat_number", Text) => t.vat_number.clone(),
    opt("account_number", Text) => t.account_number.clone(),
}

fixed_table! {
    /// The schema of `dim_date`.
    pub fn dim_date_schema, fn date_dim(day: (i64, NaiveDate, Option<&FiscalYear>)) =
        "dim_date", ["company_id", "date"];
    let (c, d, fy) = day;
    let iso = d.iso_week();
    req("company_id", Int64) => c,
    req("date", Date) => d,
    req("date_key", Text) => date_key(c, d),
    req("year", Int64) => i64::from(d.year()),
    req("quarter", Int64) => i64::from((d.month() - 1) / 3 + 1),
    req("month", Int64) => i64::from(d.month()),
    req("day", Int64) => i64::from(d.day()),
    req("iso_year", Int64) => i64::from(iso.year()),
    req("iso_week", Int64) => i64::from(iso.week()),
    req("day_of_week", Int64) => i64::from(d.weekday().number_from_monday()),
    req("month_start", Date) => month_start(d),
    req("is_month_end", Bool) => d == month_end(d),
    opt("fiscal_year_start", Date) => fy.map(|f| f.start),
    opt("fiscal_year_end", Date) => fy.map(|f| f.end),
    opt("fiscal_year", Int64) => fy.map(|f| i64::from(f.end.year())),
    opt("fiscal_period", Int64) => fy.map(|f| month_index(f.start, d) + 1),
}

/// `fact_ledger_lines` rows for the given lines (`amount` = debit − credit).
pub fn fact_ledger_lines<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let rows = lines.into_iter().map(ledger_line_fact);
    build(fact_ledger_lines_schema(), rows, batch_rows)
}

/// `fact_invoices` from the books' accounting documents ([`Invoice::counts`]: invoices
/// and credit notes, whose amounts are negative): drafts, proformas, quotes and orders
/// stay in `canonical_invoices` only, so that no total of the facts counts them.
pub fn fact_invoices(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books
        .invoices
        .iter()
        .filter(|i| i.counts())
        .map(invoice_fact);
    build(fact_invoices_schema(), rows, batch_rows)
}

/// `fact_invoice_lines` from the books' invoice lines, but those of an invoice of
/// `books.invoices` that is not an accounting document ([`Invoice::counts`]): pass the
/// lines' invoices along for their drafts' lines to be left out.
pub fn fact_invoice_lines(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let left_out: std::collections::HashSet<(i64, ThirdPartyKind, i64)> = books
        .invoices
        .iter()
        .filter(|i| !i.counts())
        .map(|i| (i.company_id, i.kind, i.id))
        .collect();
    let rows = books
        .invoice_lines
        .iter()
        .filter(|l| !left_out.contains(&(l.company_id, l.kind, l.invoice_id)))
        .map(invoice_line_fact);
    build(fact_invoice_lines_schema(), rows, batch_rows)
}

/// `fact_bank_transactions` from the books' bank transactions.
pub fn fact_bank_transactions(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.bank_transactions.iter().map(bank_transaction_fact);
    build(fact_bank_transactions_schema(), rows, batch_rows)
}

/// `dim_company`.
pub fn dim_company(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    build(
        dim_company_schema(),
        books.companies.iter().map(company_dim),
        batch_rows,
    )
}

/// `dim_account`: the chart's accounts with their PCG class, groups, nature and side.
pub fn dim_account(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    build(
        dim_account_schema(),
        books.accounts.iter().map(account_dim),
        batch_rows,
    )
}

/// `dim_journal`.
pub fn dim_journal(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    build(
        dim_journal_schema(),
        books.journals.iter().map(journal_dim),
        batch_rows,
    )
}

/// `dim_third_party`: customers and suppliers.
pub fn dim_third_party(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.third_parties.iter().map(third_party_dim);
    build(dim_third_party_schema(), rows, batch_rows)
}

/// `dim_date`: one row per company (of `books.companies` and of its fiscal years) and
/// day from `from` to `to`. Fiscal columns come from the fiscal year containing the day
/// (null when none does): `fiscal_year` is the calendar year of its last day,
/// `fiscal_period` the month number within it (1 for its first month).
pub fn dim_date(
    books: &Books,
    from: NaiveDate,
    to: NaiveDate,
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let companies = books.companies.iter().map(|c| c.company_id);
    dim_date_of(companies, &books.fiscal_years, from, to, batch_rows)
}

/// [`dim_date`] for the given companies and fiscal years (those of the books and others,
/// such as [`FiscalYear::assumed`] ones): one row per company (of `companies` and of
/// `fiscal_years`) and day from `from` to `to`.
pub fn dim_date_of(
    companies: impl IntoIterator<Item = i64>,
    fiscal_years: &[FiscalYear],
    from: NaiveDate,
    to: NaiveDate,
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let mut companies: Vec<i64> = companies
        .into_iter()
        .chain(fiscal_years.iter().map(|f| f.company_id))
        .collect();
    companies.sort_unstable();
    companies.dedup();
    let rows = companies.into_iter().flat_map(move |c| {
        let years: Vec<_> = fiscal_years.iter().filter(|f| f.company_id == c).collect();
        from.iter_days()
            .take_while(move |d| *d <= to)
            .map(move |d| date_dim((c, d, years.iter().copied().find(|f| f.contains(d)))))
    });
    build(dim_date_schema(), rows, batch_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn dim_account_classifies() {
        let books = Books {
            accounts: vec![Account {
                company_id: 3,
                number: "411DUPONT".into(),
                label: "Dupont".into(),
            }],
            ..Books::default()
        };
        let b = dim_account(&books, 100).expect("valid");
        let row = &b[0].rows()[0];
        assert_eq!(row[2], Value::Text("3|411DUPONT".into()));
        assert_eq!(row[4], Value::Int64(4));
        assert_eq!(row[5], Value::Text("Comptes de tiers".into()));
        assert_eq!(
            (row[6].clone(), row[7].clone()),
            ("41".into(), "411".into())
        );
        assert_eq!(row[8], Value::Text("balance_sheet".into()));
        assert_eq!(row[9], Value::Text("debit".into()));
        assert_eq!(row[11], Value::Text("411".into()));
    }

    #[test]
    fn invoice_facts_hold_accounting_documents_only() {
        let books = crate::testing::books_with_every_document();
        let invoices = fact_invoices(&books, 100).expect("valid");
        let schema = fact_invoices_schema();
        let col = |name| schema.column_index(name).expect("column");
        let rows: Vec<(Value, Value, Value)> = invoices[0]
            .rows()
            .iter()
            .map(|r| {
                (
                    r[col("invoice_id")].clone(),
                    r[col("document_kind")].clone(),
                    r[col("amount_ttc")].clone(),
                )
            })
            .collect();
        let m = |units: i64| Value::Decimal(rust_decimal::Decimal::new(units * 100, 2));
        assert_eq!(
            rows,
            [
                (Value::Int64(10), "invoice".into(), m(1_200)),
                (Value::Int64(11), "credit_note".into(), m(-600)),
                (Value::Int64(20), "invoice".into(), m(360)),
            ]
        );
        let lines = fact_invoice_lines(&books, 100).expect("valid");
        let invoice_of = fact_invoice_lines_schema()
            .column_index("invoice_id")
            .expect("column");
        let ids: Vec<Value> = lines[0]
            .rows()
            .iter()
            .map(|r| r[invoice_of].clone())
            .collect();
        assert_eq!(ids, [Value::Int64(10), Value::Int64(11), Value::Int64(20)]);
    }

    #[test]
    fn dim_date_fiscal_columns() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        let books = Books {
            fiscal_years: vec![FiscalYear {
                company_id: 1,
                start: d(2025, 7, 1),
                end: d(2026, 6, 30),
                status: None,
            }],
            ..Books::default()
        };
        let b = dim_date(&books, d(2026, 1, 30), d(2026, 7, 1), 10_000).expect("valid");
        let rows = b[0].rows();
        assert_eq!(rows.len(), 153);
        let jan31 = &rows[1];
        assert_eq!(jan31[11], Value::Bool(true));
        assert_eq!(jan31[4], Value::Int64(1));
        assert_eq!(jan31[8], Value::Int64(5));
        assert_eq!(jan31[14], Value::Int64(2026));
        assert_eq!(jan31[15], Value::Int64(7));
        let jul1 = rows.last().expect("rows");
        assert_eq!(jul1[14], Value::Null);
    }
}
