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

use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate};

use crate::batch::{Batch, BatchBuilder, BatchError, Row};
use crate::canonical::tables::{MONEY, fixed_schema, opt, req};
use crate::canonical::{Books, LedgerLine, ThirdPartyKind, ThirdPartyRef};
use crate::pcg;
use crate::reports::{month_end, month_index, month_start};
use crate::schema::{LogicalType, Schema};
use crate::value::Value;

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

fn build(
    schema: Arc<Schema>,
    rows: impl Iterator<Item = Row>,
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let mut b = BatchBuilder::upsert(schema, batch_rows);
    let mut out = Vec::new();
    for row in rows {
        if let Some(batch) = b.push(row)? {
            out.push(batch);
        }
    }
    out.extend(b.finish()?);
    Ok(out)
}

macro_rules! star_schema {
    ($fn:ident, $name:literal, [$($col:expr),* $(,)?], [$($key:literal),*]) => {
        #[doc = concat!("The schema of `", $name, "`.")]
        pub fn $fn() -> Arc<Schema> {
            static S: OnceLock<Arc<Schema>> = OnceLock::new();
            fixed_schema(&S, $name, || vec![$($col),*], &[$($key),*])
        }
    };
}

star_schema!(
    fact_ledger_lines_schema,
    "fact_ledger_lines",
    [
        req("company_id", Int64),
        req("line_id", Int64),
        req("entry_id", Int64),
        req("date", Date),
        req("date_key", Text),
        req("journal_code", Text),
        req("journal_key", Text),
        req("account_number", Text),
        req("account_key", Text),
        req("label", Text),
        req("debit", MONEY),
        req("credit", MONEY),
        req("amount", MONEY),
        opt("third_party_kind", Text),
        opt("third_party_id", Int64),
        opt("third_party_key", Text),
        opt("document_ref", Text),
        opt("due_date", Date),
        opt("lettering", Text),
        req("is_lettered", Bool),
    ],
    ["company_id", "line_id"]
);

star_schema!(
    fact_invoices_schema,
    "fact_invoices",
    [
        req("company_id", Int64),
        req("kind", Text),
        req("invoice_id", Int64),
        req("invoice_key", Text),
        opt("number", Text),
        opt("label", Text),
        opt("third_party_id", Int64),
        opt("third_party_key", Text),
        req("date", Date),
        req("date_key", Text),
        opt("due_date", Date),
        opt("currency", Text),
        req("amount_ht", MONEY),
        req("vat", MONEY),
        req("amount_ttc", MONEY),
        opt("paid", Bool),
        req("remaining", MONEY),
        opt("status", Text),
        opt("entry_id", Int64),
    ],
    ["company_id", "kind", "invoice_id"]
);

star_schema!(
    fact_invoice_lines_schema,
    "fact_invoice_lines",
    [
        req("company_id", Int64),
        req("kind", Text),
        req("line_id", Int64),
        req("invoice_id", Int64),
        req("invoice_key", Text),
        opt("label", Text),
        opt("quantity", LogicalType::Decimal { scale: 6 }),
        req("amount_ht", MONEY),
        req("vat", MONEY),
        req("amount_ttc", MONEY),
        opt("vat_rate", Text),
        opt("account_number", Text),
        opt("account_key", Text),
    ],
    ["company_id", "kind", "line_id"]
);

star_schema!(
    fact_bank_transactions_schema,
    "fact_bank_transactions",
    [
        req("company_id", Int64),
        req("transaction_id", Int64),
        req("date", Date),
        req("date_key", Text),
        opt("label", Text),
        req("amount", MONEY),
        opt("currency", Text),
        opt("bank_account_id", Int64),
    ],
    ["company_id", "transaction_id"]
);

star_schema!(
    dim_company_schema,
    "dim_company",
    [
        req("company_id", Int64),
        req("name", Text),
        opt("siren", Text),
        opt("vat_number", Text),
    ],
    ["company_id"]
);

star_schema!(
    dim_account_schema,
    "dim_account",
    [
        req("company_id", Int64),
        req("account_number", Text),
        req("account_key", Text),
        req("label", Text),
        opt("class", Int64),
        req("class_name", Text),
        req("group2", Text),
        req("group3", Text),
        req("nature", Text),
        req("normal_side", Text),
        req("is_auxiliary", Bool),
        req("root_account", Text),
    ],
    ["company_id", "account_number"]
);

star_schema!(
    dim_journal_schema,
    "dim_journal",
    [
        req("company_id", Int64),
        req("journal_code", Text),
        req("journal_key", Text),
        req("label", Text),
    ],
    ["company_id", "journal_code"]
);

star_schema!(
    dim_third_party_schema,
    "dim_third_party",
    [
        req("company_id", Int64),
        req("kind", Text),
        req("third_party_id", Int64),
        req("third_party_key", Text),
        req("name", Text),
        opt("registration_number", Text),
        opt("vat_number", Text),
        opt("account_number", Text),
    ],
    ["company_id", "kind", "third_party_id"]
);

star_schema!(
    dim_date_schema,
    "dim_date",
    [
        req("company_id", Int64),
        req("date", Date),
        req("date_key", Text),
        req("year", Int64),
        req("quarter", Int64),
        req("month", Int64),
        req("day", Int64),
        req("iso_year", Int64),
        req("iso_week", Int64),
        req("day_of_week", Int64),
        req("month_start", Date),
        req("is_month_end", Bool),
        opt("fiscal_year_start", Date),
        opt("fiscal_year_end", Date),
        opt("fiscal_year", Int64),
        opt("fiscal_period", Int64),
    ],
    ["company_id", "date"]
);

/// `fact_ledger_lines` rows for the given lines (`amount` = debit − credit).
pub fn fact_ledger_lines<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let rows = lines.into_iter().map(|l| {
        let c = l.company_id;
        vec![
            Value::Int64(c),
            Value::Int64(l.line_id),
            Value::Int64(l.entry_id),
            Value::Date(l.date),
            Value::Text(date_key(c, l.date)),
            Value::Text(l.journal_code.to_string()),
            Value::Text(key(c, &l.journal_code)),
            Value::Text(l.account_number.to_string()),
            Value::Text(key(c, &l.account_number)),
            Value::Text(l.label.clone()),
            Value::Decimal(l.debit),
            Value::Decimal(l.credit),
            Value::Decimal(l.debit - l.credit),
            l.third_party.map(|t| t.kind.as_str()).into(),
            l.third_party.map(|t| t.id).into(),
            l.third_party.map(|t| third_party_key(c, t)).into(),
            l.document_ref.clone().into(),
            l.due_date.into(),
            l.lettering.clone().into(),
            Value::Bool(l.lettering.is_some()),
        ]
    });
    build(fact_ledger_lines_schema(), rows, batch_rows)
}

/// `fact_invoices` from the books' invoices.
pub fn fact_invoices(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.invoices.iter().map(|i| {
        let c = i.company_id;
        vec![
            c.into(),
            i.kind.as_str().into(),
            i.id.into(),
            invoice_key(c, i.kind, i.id).into(),
            i.number.clone().into(),
            i.label.clone().into(),
            i.third_party_id.into(),
            i.third_party_id
                .map(|id| third_party_key(c, ThirdPartyRef { kind: i.kind, id }))
                .into(),
            i.date.into(),
            date_key(c, i.date).into(),
            i.due_date.into(),
            i.currency.clone().into(),
            i.amount_ht.into(),
            i.vat.into(),
            i.amount_ttc.into(),
            i.paid.into(),
            i.remaining.into(),
            i.status.clone().into(),
            i.entry_id.into(),
        ]
    });
    build(fact_invoices_schema(), rows, batch_rows)
}

/// `fact_invoice_lines` from the books' invoice lines.
pub fn fact_invoice_lines(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.invoice_lines.iter().map(|l| {
        let c = l.company_id;
        vec![
            c.into(),
            l.kind.as_str().into(),
            l.id.into(),
            l.invoice_id.into(),
            invoice_key(c, l.kind, l.invoice_id).into(),
            l.label.clone().into(),
            l.quantity.into(),
            l.amount_ht.into(),
            l.vat.into(),
            l.amount_ttc.into(),
            l.vat_rate.clone().into(),
            l.account_number.clone().into(),
            l.account_number.as_deref().map(|a| key(c, a)).into(),
        ]
    });
    build(fact_invoice_lines_schema(), rows, batch_rows)
}

/// `fact_bank_transactions` from the books' bank transactions.
pub fn fact_bank_transactions(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.bank_transactions.iter().map(|t| {
        vec![
            t.company_id.into(),
            t.id.into(),
            t.date.into(),
            date_key(t.company_id, t.date).into(),
            t.label.clone().into(),
            t.amount.into(),
            t.currency.clone().into(),
            t.bank_account_id.into(),
        ]
    });
    build(fact_bank_transactions_schema(), rows, batch_rows)
}

/// `dim_company`.
pub fn dim_company(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.companies.iter().map(|c| {
        vec![
            c.company_id.into(),
            c.name.clone().into(),
            c.siren.clone().into(),
            c.vat_number.clone().into(),
        ]
    });
    build(dim_company_schema(), rows, batch_rows)
}

/// `dim_account`: the chart's accounts with their PCG class, groups, nature and side.
pub fn dim_account(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.accounts.iter().map(|a| {
        let n = a.number.as_str();
        let class = pcg::class(n);
        vec![
            a.company_id.into(),
            n.into(),
            key(a.company_id, n).into(),
            a.label.clone().into(),
            class.map(i64::from).into(),
            pcg::class_name(class.unwrap_or(0)).into(),
            pcg::group(n, 2).into(),
            pcg::group(n, 3).into(),
            pcg::nature(n).as_str().into(),
            pcg::normal_side(n).as_str().into(),
            pcg::is_auxiliary(n).into(),
            pcg::auxiliary_root(n).into(),
        ]
    });
    build(dim_account_schema(), rows, batch_rows)
}

/// `dim_journal`.
pub fn dim_journal(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.journals.iter().map(|j| {
        vec![
            j.company_id.into(),
            j.code.clone().into(),
            key(j.company_id, &j.code).into(),
            j.label.clone().into(),
        ]
    });
    build(dim_journal_schema(), rows, batch_rows)
}

/// `dim_third_party`: customers and suppliers.
pub fn dim_third_party(books: &Books, batch_rows: usize) -> Result<Vec<Batch>, BatchError> {
    let rows = books.third_parties.iter().map(|t| {
        vec![
            t.company_id.into(),
            t.third_party.kind.as_str().into(),
            t.third_party.id.into(),
            third_party_key(t.company_id, t.third_party).into(),
            t.name.clone().into(),
            t.registration_number.clone().into(),
            t.vat_number.clone().into(),
            t.account_number.clone().into(),
        ]
    });
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
    let mut companies: Vec<i64> = books
        .companies
        .iter()
        .map(|c| c.company_id)
        .chain(books.fiscal_years.iter().map(|f| f.company_id))
        .collect();
    companies.sort_unstable();
    companies.dedup();
    let rows = companies.into_iter().flat_map(move |c| {
        let years: Vec<_> = books
            .fiscal_years
            .iter()
            .filter(|f| f.company_id == c)
            .collect();
        from.iter_days()
            .take_while(move |d| *d <= to)
            .map(move |d| {
                let fy = years.iter().find(|f| f.contains(d));
                let iso = d.iso_week();
                vec![
                    c.into(),
                    d.into(),
                    date_key(c, d).into(),
                    i64::from(d.year()).into(),
                    i64::from((d.month() - 1) / 3 + 1).into(),
                    i64::from(d.month()).into(),
                    i64::from(d.day()).into(),
                    i64::from(iso.year()).into(),
                    i64::from(iso.week()).into(),
                    i64::from(d.weekday().number_from_monday()).into(),
                    month_start(d).into(),
                    (d == month_end(d)).into(),
                    fy.map(|f| f.start).into(),
                    fy.map(|f| f.end).into(),
                    fy.map(|f| i64::from(f.end.year())).into(),
                    fy.map(|f| month_index(f.start, d) + 1).into(),
                ]
            })
    });
    build(dim_date_schema(), rows, batch_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Account, FiscalYear};

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
