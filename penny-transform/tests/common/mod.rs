//! One hand-written set of books (first quarter 2026 of a small trading company, SIREN
//! 123456789, company id 42), rendered as the raw tables of both doors.
//!
//! Entries (amounts in euros):
//! - E1 01-01 AN: 512000 D 10000 / 101000 C 10000 (capital paid in)
//! - E2 01-10 VT F2026-001 Dupont: 411DUPONT D 1200 / 707000 C 1000 / 445710 C 200, due 02-09
//! - E3 01-15 HA FA-778 Acme: 607000 D 500 / 445660 D 100 / 401ACME C 600, due 02-14
//! - E4 01-31 BQ rent: 613200 D 800 / 512000 C 800
//! - E5 02-05 BQ Dupont pays F2026-001: 512000 D 1200 / 411DUPONT C 1200 (lettered with E2: 9001)
//! - E6 02-12 VT F2026-002 Martin: 411MARTIN D 2400 / 706000 C 2000 / 445710 C 400, due 03-14
//! - E7 02-28 OD salaries: 641000 D 1500 / 645000 D 600 / 512000 C 2100
//! - E8 03-10 BQ pay Acme FA-778: 401ACME D 600 / 512000 C 600 (lettered with E3: 9002)
//! - E9 03-20 VT F2026-003 Dupont: 411DUPONT D 360 / 707000 C 300 / 445710 C 60, due 04-19
//! - E10 03-31 BQ loan interest: 661100 D 50 / 512000 C 50
//! - E11 03-25 HA FA-812 Acme: 607000 D 250 / 445660 D 50 / 401ACME C 300, due 04-24
#![allow(
    dead_code,
    clippy::inconsistent_digit_grouping,
    clippy::type_complexity,
    clippy::too_many_arguments
)]

use std::sync::Arc;

use chrono::NaiveDate;
use penny_transform::canonical::from_api::ApiMapper;
use penny_transform::canonical::from_data_sharing::DataSharingMapper;
use penny_transform::canonical::{Books, Company, LedgerLine};
use penny_transform::{Batch, Column, LogicalType, Schema, Value};
use rust_decimal::Decimal;

pub const COMPANY: i64 = 42;

pub fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, day).expect("valid date")
}

pub fn eur(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// (id, number, label)
pub const ACCOUNTS: &[(i64, &str, &str)] = &[
    (1, "101000", "Capital"),
    (2, "401ACME", "Acme Distribution"),
    (3, "411DUPONT", "Dupont SARL"),
    (4, "411MARTIN", "Martin Jeanne"),
    (5, "445660", "TVA déductible sur ABS"),
    (6, "445710", "TVA collectée 20 %"),
    (7, "512000", "Banque"),
    (8, "607000", "Achats de marchandises"),
    (9, "613200", "Locations immobilières"),
    (10, "641000", "Rémunérations du personnel"),
    (11, "645000", "Charges de sécurité sociale"),
    (12, "661100", "Intérêts des emprunts"),
    (13, "706000", "Prestations de services"),
    (14, "707000", "Ventes de marchandises"),
];

/// (id, code, label)
pub const JOURNALS: &[(i64, &str, &str)] = &[
    (1, "AN", "A-nouveaux"),
    (2, "VT", "Ventes"),
    (3, "HA", "Achats"),
    (4, "BQ", "Banque"),
    (5, "OD", "Opérations diverses"),
];

/// (kind, id, name, account id)
pub const THIRD_PARTIES: &[(&str, i64, &str, i64)] = &[
    ("customer", 7, "Dupont SARL", 3),
    ("customer", 8, "Martin Jeanne", 4),
    ("supplier", 5, "Acme Distribution", 2),
];

pub struct Entry {
    pub id: i64,
    pub date: NaiveDate,
    pub journal: &'static str,
    pub piece: &'static str,
    pub label: &'static str,
    pub due: Option<NaiveDate>,
    pub lines: Vec<EntryLine>,
}

/// (line id, account number, debit cents, credit cents, lettering)
pub type EntryLine = (i64, &'static str, i64, i64, Option<i64>);

#[rustfmt::skip]
pub fn entries() -> Vec<Entry> {
    let e = |id, date, journal, piece, label, due, lines| Entry {
        id, date, journal, piece, label, due, lines,
    };
    vec![
        e(1, d(1, 1), "AN", "AN2026", "A-nouveaux", None, vec![
            (101, "512000", 10_000_00, 0, None),
            (102, "101000", 0, 10_000_00, None),
        ]),
        e(2, d(1, 10), "VT", "F2026-001", "Facture Dupont", Some(d(2, 9)), vec![
            (201, "411DUPONT", 1_200_00, 0, Some(9001)),
            (202, "707000", 0, 1_000_00, None),
            (203, "445710", 0, 200_00, None),
        ]),
        e(3, d(1, 15), "HA", "FA-778", "Facture Acme", Some(d(2, 14)), vec![
            (301, "607000", 500_00, 0, None),
            (302, "445660", 100_00, 0, None),
            (303, "401ACME", 0, 600_00, Some(9002)),
        ]),
        e(4, d(1, 31), "BQ", "LOY-01", "Loyer janvier", None, vec![
            (401, "613200", 800_00, 0, None),
            (402, "512000", 0, 800_00, None),
        ]),
        e(5, d(2, 5), "BQ", "VIR-DUPONT", "Règlement F2026-001", None, vec![
            (501, "512000", 1_200_00, 0, None),
            (502, "411DUPONT", 0, 1_200_00, Some(9001)),
        ]),
        e(6, d(2, 12), "VT", "F2026-002", "Facture Martin", Some(d(3, 14)), vec![
            (601, "411MARTIN", 2_400_00, 0, None),
            (602, "706000", 0, 2_000_00, None),
            (603, "445710", 0, 400_00, None),
        ]),
        e(7, d(2, 28), "OD", "SAL-02", "Salaires février", None, vec![
            (701, "641000", 1_500_00, 0, None),
            (702, "645000", 600_00, 0, None),
            (703, "512000", 0, 2_100_00, None),
        ]),
        e(8, d(3, 10), "BQ", "VIR-ACME", "Paiement FA-778", None, vec![
            (801, "401ACME", 600_00, 0, Some(9002)),
            (802, "512000", 0, 600_00, None),
        ]),
        e(9, d(3, 20), "VT", "F2026-003", "Facture Dupont", Some(d(4, 19)), vec![
            (901, "411DUPONT", 360_00, 0, None),
            (902, "707000", 0, 300_00, None),
            (903, "445710", 0, 60_00, None),
        ]),
        e(10, d(3, 31), "BQ", "INT-03", "Intérêts emprunt", None, vec![
            (1001, "661100", 50_00, 0, None),
            (1002, "512000", 0, 50_00, None),
        ]),
        e(11, d(3, 25), "HA", "FA-812", "Facture Acme", Some(d(4, 24)), vec![
            (1101, "607000", 250_00, 0, None),
            (1102, "445660", 50_00, 0, None),
            (1103, "401ACME", 0, 300_00, None),
        ]),
    ]
}

/// An invoice of the fixture (amounts in cents).
pub struct InvoiceFixture {
    pub kind: &'static str,
    pub id: i64,
    pub number: &'static str,
    pub third_party: i64,
    pub date: NaiveDate,
    pub due: NaiveDate,
    pub ht: i64,
    pub vat: i64,
    pub ttc: i64,
    pub remaining: i64,
    pub entry: i64,
}

#[rustfmt::skip]
pub fn invoices() -> Vec<InvoiceFixture> {
    let i = |kind, id, number, third_party, date, due, ht, vat, ttc, remaining, entry| InvoiceFixture {
        kind, id, number, third_party, date, due, ht, vat, ttc, remaining, entry,
    };
    vec![
        i("customer", 1001, "F2026-001", 7, d(1, 10), d(2, 9), 1_000_00, 200_00, 1_200_00, 0, 2),
        i("customer", 1002, "F2026-002", 8, d(2, 12), d(3, 14), 2_000_00, 400_00, 2_400_00, 2_400_00, 6),
        i("customer", 1003, "F2026-003", 7, d(3, 20), d(4, 19), 300_00, 60_00, 360_00, 360_00, 9),
        i("supplier", 2001, "FA-778", 5, d(1, 15), d(2, 14), 500_00, 100_00, 600_00, 0, 3),
        i("supplier", 2002, "FA-812", 5, d(3, 25), d(4, 24), 250_00, 50_00, 300_00, 300_00, 11),
    ]
}

/// (kind, line id, invoice id, ht, vat, ttc, rate, account id)
#[rustfmt::skip]
pub fn invoice_lines() -> Vec<(&'static str, i64, i64, i64, i64, i64, &'static str, i64)> {
    vec![
        ("customer", 1, 1001, 1_000_00, 200_00, 1_200_00, "FR_200", 14),
        ("customer", 2, 1002, 1_500_00, 300_00, 1_800_00, "FR_200", 13),
        ("customer", 3, 1002, 500_00, 100_00, 600_00, "FR_200", 13),
        ("customer", 4, 1003, 300_00, 60_00, 360_00, "FR_200", 14),
        ("supplier", 5, 2001, 500_00, 100_00, 600_00, "FR_200", 8),
        ("supplier", 6, 2002, 250_00, 50_00, 300_00, "FR_200", 8),
    ]
}

/// (kind, payment id, invoice id, date, amount)
pub fn payments() -> Vec<(&'static str, i64, i64, NaiveDate, i64)> {
    vec![
        ("customer", 1, 1001, d(2, 5), 1_200_00),
        ("supplier", 2, 2001, d(3, 10), 600_00),
    ]
}

/// (id, date, label, signed amount)
pub fn transactions() -> Vec<(i64, NaiveDate, &'static str, i64)> {
    vec![
        (1, d(1, 31), "PRLV LOYER", -800_00),
        (2, d(2, 5), "VIR DUPONT SARL", 1_200_00),
        (3, d(3, 10), "VIR ACME", -600_00),
    ]
}

pub fn company() -> Company {
    Company {
        company_id: COMPANY,
        name: "Négoce Martin SAS".into(),
        siren: Some("123456789".into()),
        vat_number: Some("FR12123456789".into()),
    }
}

use LogicalType::{Bool, Date, Int64, Json, Text};

/// A raw table built column by column, each column with the value it takes from a record.
/// Its key is (`company_id`, `id`), or `id` alone when it has no `company_id`.
struct RawTable<'a, T> {
    name: String,
    records: &'a [T],
    columns: Vec<(Column, Box<dyn Fn(&T) -> Value + 'a>)>,
}

fn raw<'a, T>(name: impl Into<String>, records: &'a [T]) -> RawTable<'a, T> {
    RawTable {
        name: name.into(),
        records,
        columns: Vec::new(),
    }
}

impl<'a, T> RawTable<'a, T> {
    /// A required column.
    fn key(mut self, name: &str, t: LogicalType, value: impl Fn(&T) -> Value + 'a) -> Self {
        self.columns
            .push((Column::required(name, t), Box::new(value)));
        self
    }

    /// A nullable column.
    fn col(mut self, name: &str, t: LogicalType, value: impl Fn(&T) -> Value + 'a) -> Self {
        self.columns
            .push((Column::nullable(name, t), Box::new(value)));
        self
    }

    /// The fixture's company as the required `company_id`.
    fn company(self) -> Self {
        self.key("company_id", Int64, |_| COMPANY.into())
    }

    fn batch(self) -> Batch {
        let rows = self
            .records
            .iter()
            .map(|r| self.columns.iter().map(|(_, value)| value(r)).collect())
            .collect();
        let cols: Vec<Column> = self.columns.into_iter().map(|(c, _)| c).collect();
        let key = if cols.iter().any(|c| c.name == "company_id") {
            vec!["company_id", "id"]
        } else {
            vec!["id"]
        };
        let schema = Arc::new(Schema::new(self.name, cols, key).expect("valid test schema"));
        Batch::upsert(schema, rows).expect("valid test batch")
    }
}

/// How a door types amounts: the API in cents (`numeric(p, 2)`), the warehouse as
/// `numeric(p, 4)`.
#[derive(Clone, Copy)]
struct Money {
    logical_type: LogicalType,
    cents: fn(i64) -> Value,
}

const API_MONEY: Money = Money {
    logical_type: LogicalType::Decimal { scale: 2 },
    cents: |cents| eur(cents).into(),
};

const WAREHOUSE_MONEY: Money = Money {
    logical_type: LogicalType::Decimal { scale: 4 },
    cents: |cents| Value::Decimal(Decimal::new(cents * 100, 4)),
};

fn account_id(number: &str) -> i64 {
    ACCOUNTS
        .iter()
        .find(|a| a.1 == number)
        .map(|a| a.0)
        .expect("fixture account")
}

fn journal_id(code: &str) -> i64 {
    JOURNALS
        .iter()
        .find(|j| j.1 == code)
        .map(|j| j.0)
        .expect("fixture journal")
}

fn third_party_of_account(number: &str) -> Option<i64> {
    let id = account_id(number);
    THIRD_PARTIES.iter().find(|t| t.3 == id).map(|t| t.1)
}

/// Every line of the entries, with its entry.
fn entry_lines(entries: &[Entry]) -> Vec<(&Entry, &EntryLine)> {
    entries
        .iter()
        .flat_map(|e| e.lines.iter().map(move |l| (e, l)))
        .collect()
}

/// The one open fiscal year 2026, its dates under the door's names.
fn fiscal_years(start: &str, end: &str) -> Batch {
    raw("fiscal_years", &[()])
        .company()
        .key("id", Int64, |_| 1.into())
        .col(start, Date, |_| d(1, 1).into())
        .col(end, Date, |_| d(12, 31).into())
        .col("status", Text, |_| "open".into())
        .batch()
}

/// The raw invoice columns whose names differ between the doors.
struct InvoiceNames {
    before_tax: &'static str,
    remaining: &'static str,
    entry: &'static str,
}

/// The invoices of `kind` (`customer` or `supplier`).
fn invoice_table(kind: &str, names: InvoiceNames, money: Money) -> Batch {
    let m = money.logical_type;
    let invoices: Vec<_> = invoices().into_iter().filter(|i| i.kind == kind).collect();
    raw(format!("{kind}_invoices"), &invoices)
        .company()
        .key("id", Int64, |i| i.id.into())
        .col("invoice_number", Text, |i| i.number.into())
        .col("currency", Text, |_| "EUR".into())
        .col("amount", m, move |i| (money.cents)(i.ttc))
        .col(names.before_tax, m, move |i| (money.cents)(i.ht))
        .col("tax", m, move |i| (money.cents)(i.vat))
        .col("date", Date, |i| i.date.into())
        .col("deadline", Date, |i| i.due.into())
        .col("paid", Bool, |i| (i.remaining == 0).into())
        .col(names.remaining, m, move |i| (money.cents)(i.remaining))
        .col(&format!("{kind}_id"), Int64, |i| i.third_party.into())
        .col(names.entry, Int64, |i| i.entry.into())
        .batch()
}

/// The bank transactions, under the door's table name.
fn transaction_table(name: &str, money: Money) -> Batch {
    raw(name, &transactions())
        .company()
        .key("id", Int64, |t| t.0.into())
        .col("label", Text, |t| t.2.into())
        .col("date", Date, |t| t.1.into())
        .col("amount", money.logical_type, move |t| (money.cents)(t.3))
        .col("currency", Text, |_| "EUR".into())
        .col("bank_account_id", Int64, |_| 1.into())
        .batch()
}

/// The API door's raw tables, small tables first, `ledger_entry_lines` last.
pub fn api_tables() -> Vec<Batch> {
    let m2 = API_MONEY.logical_type;
    let entries = entries();
    let mut out = vec![
        raw("journals", JOURNALS)
            .company()
            .key("id", Int64, |j| j.0.into())
            .col("code", Text, |j| j.1.into())
            .col("label", Text, |j| j.2.into())
            .col("type", Text, |_| "other".into())
            .batch(),
        raw("ledger_accounts", ACCOUNTS)
            .company()
            .key("id", Int64, |a| a.0.into())
            .col("number", Text, |a| a.1.into())
            .col("label", Text, |a| a.2.into())
            .col("vat_rate", Text, |_| Value::Null)
            .col("letterable", Bool, |a| a.1.starts_with('4').into())
            .batch(),
        fiscal_years("start", "finish"),
        raw("ledger_entries", &entries)
            .company()
            .key("id", Int64, |e| e.id.into())
            .col("label", Text, |e| e.label.into())
            .col("piece_number", Text, |e| e.piece.into())
            .col("date", Date, |e| e.date.into())
            .col("due_date", Date, |e| e.due.into())
            .col("invoice_number", Text, |_| Value::Null)
            .col("journal_id", Int64, |e| journal_id(e.journal).into())
            .batch(),
    ];
    for kind in ["customer", "supplier"] {
        let parties: Vec<_> = THIRD_PARTIES.iter().filter(|t| t.0 == kind).collect();
        let mut parties = raw(format!("{kind}s"), &parties)
            .company()
            .key("id", Int64, |t| t.1.into());
        if kind == "customer" {
            parties = parties.col("customer_type", Text, |_| "company".into());
        }
        out.push(
            parties
                .col("name", Text, |t| t.2.into())
                .col("reg_no", Text, |_| Value::Null)
                .col("vat_number", Text, |_| Value::Null)
                .col("ledger_account_id", Int64, |t| t.3.into())
                .batch(),
        );
        let names = InvoiceNames {
            before_tax: "currency_amount_before_tax",
            remaining: "remaining_amount_with_tax",
            entry: "ledger_entry_id",
        };
        out.push(invoice_table(kind, names, API_MONEY));
        let lines: Vec<_> = invoice_lines()
            .into_iter()
            .filter(|l| l.0 == kind)
            .collect();
        out.push(
            raw(format!("{kind}_invoice_lines"), &lines)
                .company()
                .key("id", Int64, |l| l.1.into())
                .col("invoice_id", Int64, |l| l.2.into())
                .col("label", Text, |_| "Ligne".into())
                .col("quantity", LogicalType::Decimal { scale: 6 }, |_| {
                    Decimal::new(1, 0).into()
                })
                .col("amount", m2, |l| eur(l.5).into())
                .col("currency_amount_before_tax", m2, |l| eur(l.3).into())
                .col("tax", m2, |l| eur(l.4).into())
                .col("vat_rate", Text, |l| l.6.into())
                .col("ledger_account_id", Int64, |l| l.7.into())
                .batch(),
        );
        let paid: Vec<_> = payments().into_iter().filter(|p| p.0 == kind).collect();
        out.push(
            raw(format!("{kind}_invoice_payments"), &paid)
                .company()
                .key("id", Int64, |p| p.1.into())
                .col("invoice_id", Int64, |p| p.2.into())
                .col("label", Text, |_| "Paiement".into())
                .col("currency_amount", m2, |p| eur(p.4).into())
                .col("status", Text, |_| "paid".into())
                .col("created_at", LogicalType::TimestampTz, |p| {
                    p.3.and_hms_opt(10, 0, 0).expect("time").and_utc().into()
                })
                .batch(),
        );
    }
    out.push(transaction_table("transactions", API_MONEY));
    let lines = entry_lines(&entries);
    out.push(
        raw("ledger_entry_lines", &lines)
            .company()
            .key("id", Int64, |(_, l)| l.0.into())
            .col("ledger_entry_id", Int64, |(e, _)| e.id.into())
            .col("date", Date, |(e, _)| e.date.into())
            .col("label", Text, |(e, _)| e.label.into())
            .col("debit", m2, |(_, l)| eur(l.2).into())
            .col("credit", m2, |(_, l)| eur(l.3).into())
            .col("journal_id", Int64, |(e, _)| journal_id(e.journal).into())
            .col("ledger_account_id", Int64, |(_, l)| account_id(l.1).into())
            .col("ledger_account_number", Text, |(_, l)| l.1.into())
            .col("lettering", Text, |(_, l)| {
                l.4.map(|l| l.to_string()).into()
            })
            .col("categories", Json, |(_, l)| {
                if l.1 == "613200" {
                    serde_json::json!([{"label": "Magasin", "weight": "1.0"}]).into()
                } else {
                    Value::Null
                }
            })
            .batch(),
    );
    out
}

/// The Data Sharing door's tables (`etl` schema names), `general_ledger` last. Amounts
/// come as `numeric(p, 4)`, as a warehouse may deliver them.
pub fn data_sharing_tables() -> Vec<Batch> {
    let m4 = WAREHOUSE_MONEY.logical_type;
    let eur4 = WAREHOUSE_MONEY.cents;
    let mut out = vec![
        raw("companies", &[company()])
            .key("id", Int64, |c| c.company_id.into())
            .col("name", Text, |c| c.name.clone().into())
            .col("registration_number", Text, |c| c.siren.clone().into())
            .col("vat_number", Text, |c| c.vat_number.clone().into())
            .batch(),
        fiscal_years("start_date", "end_date"),
    ];
    for kind in ["customer", "supplier"] {
        let parties: Vec<_> = THIRD_PARTIES.iter().filter(|t| t.0 == kind).collect();
        out.push(
            raw(format!("{kind}s"), &parties)
                .company()
                .key("id", Int64, |t| t.1.into())
                .col("name", Text, |t| t.2.into())
                .col("registration_number", Text, |_| Value::Null)
                .col("vat_number", Text, |_| Value::Null)
                .col("plan_item_number", Text, |t| {
                    ACCOUNTS.iter().find(|a| a.0 == t.3).map(|a| a.1).into()
                })
                .batch(),
        );
        let names = InvoiceNames {
            before_tax: "amount_before_tax",
            remaining: "remaining_amount",
            entry: "entry_id",
        };
        out.push(invoice_table(kind, names, WAREHOUSE_MONEY));
    }
    out.push(transaction_table("bank_transactions", WAREHOUSE_MONEY));
    let entries = entries();
    let lines = entry_lines(&entries);
    out.push(
        raw("general_ledger", &lines)
            .company()
            .col("company_name", Text, |_| "Négoce Martin SAS".into())
            .key("id", Int64, |(_, l)| l.0.into())
            .col("date", Date, |(e, _)| e.date.into())
            .col("lettering", Int64, |(_, l)| l.4.into())
            .col("label", Text, |(e, _)| e.label.into())
            .col("debit", m4, move |(_, l)| eur4(l.2))
            .col("credit", m4, move |(_, l)| eur4(l.3))
            .col("plan_item_number", Text, |(_, l)| l.1.into())
            .col("plan_item_label", Text, |(_, l)| {
                ACCOUNTS.iter().find(|a| a.1 == l.1).map(|a| a.2).into()
            })
            .col("journal_code", Text, |(e, _)| e.journal.into())
            .col("journal_label", Text, |(e, _)| {
                JOURNALS
                    .iter()
                    .find(|j| j.1 == e.journal)
                    .map(|j| j.2)
                    .into()
            })
            .col("document_id", Int64, |_| Value::Null)
            .col("entry_id", Int64, |(e, _)| e.id.into())
            .col("thirdparty_id", Int64, |(_, l)| {
                third_party_of_account(l.1).into()
            })
            .col("document_number", Text, |(e, _)| e.piece.into())
            .col("due_date", Date, |(e, _)| e.due.into())
            .batch(),
    );
    out
}

/// The books and lines through the API door (the company record added by hand: the API
/// has no companies resource).
pub fn via_api() -> (Books, Vec<LedgerLine>) {
    let mut mapper = ApiMapper::default();
    let mut lines = Vec::new();
    for batch in api_tables() {
        if batch.table() == "ledger_entry_lines" {
            lines.extend(mapper.ledger_lines(&batch).expect("API lines map"));
        } else {
            assert!(
                mapper.add(&batch).expect("API table maps"),
                "{}",
                batch.table()
            );
        }
    }
    let mut books = mapper.into_books();
    books.companies.push(company());
    lines.sort_by_key(|l| (l.company_id, l.line_id));
    (books, lines)
}

/// The books and lines through the Data Sharing door.
pub fn via_data_sharing() -> (Books, Vec<LedgerLine>) {
    let mut mapper = DataSharingMapper::default();
    let mut lines = Vec::new();
    for batch in data_sharing_tables() {
        if batch.table() == "general_ledger" {
            lines.extend(mapper.ledger_lines(&batch).expect("Data Sharing lines map"));
        } else {
            assert!(
                mapper.add(&batch).expect("Data Sharing table maps"),
                "{}",
                batch.table()
            );
        }
    }
    lines.sort_by_key(|l| (l.company_id, l.line_id));
    (mapper.into_books(), lines)
}
