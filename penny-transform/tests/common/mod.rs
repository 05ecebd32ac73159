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
    clippy::type_complexity
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
    /// (line id, account number, debit cents, credit cents, lettering)
    pub lines: Vec<(i64, &'static str, i64, i64, Option<i64>)>,
}

pub fn entries() -> Vec<Entry> {
    let e = |id, date, journal, piece, label, due, lines| Entry {
        id,
        date,
        journal,
        piece,
        label,
        due,
        lines,
    };
    vec![
        e(
            1,
            d(1, 1),
            "AN",
            "AN2026",
            "A-nouveaux",
            None,
            vec![
                (101, "512000", 10_000_00, 0, None),
                (102, "101000", 0, 10_000_00, None),
            ],
        ),
        e(
            2,
            d(1, 10),
            "VT",
            "F2026-001",
            "Facture Dupont",
            Some(d(2, 9)),
            vec![
                (201, "411DUPONT", 1_200_00, 0, Some(9001)),
                (202, "707000", 0, 1_000_00, None),
                (203, "445710", 0, 200_00, None),
            ],
        ),
        e(
            3,
            d(1, 15),
            "HA",
            "FA-778",
            "Facture Acme",
            Some(d(2, 14)),
            vec![
                (301, "607000", 500_00, 0, None),
                (302, "445660", 100_00, 0, None),
                (303, "401ACME", 0, 600_00, Some(9002)),
            ],
        ),
        e(
            4,
            d(1, 31),
            "BQ",
            "LOY-01",
            "Loyer janvier",
            None,
            vec![
                (401, "613200", 800_00, 0, None),
                (402, "512000", 0, 800_00, None),
            ],
        ),
        e(
            5,
            d(2, 5),
            "BQ",
            "VIR-DUPONT",
            "Règlement F2026-001",
            None,
            vec![
                (501, "512000", 1_200_00, 0, None),
                (502, "411DUPONT", 0, 1_200_00, Some(9001)),
            ],
        ),
        e(
            6,
            d(2, 12),
            "VT",
            "F2026-002",
            "Facture Martin",
            Some(d(3, 14)),
            vec![
                (601, "411MARTIN", 2_400_00, 0, None),
                (602, "706000", 0, 2_000_00, None),
                (603, "445710", 0, 400_00, None),
            ],
        ),
        e(
            7,
            d(2, 28),
            "OD",
            "SAL-02",
            "Salaires février",
            None,
            vec![
                (701, "641000", 1_500_00, 0, None),
                (702, "645000", 600_00, 0, None),
                (703, "512000", 0, 2_100_00, None),
            ],
        ),
        e(
            8,
            d(3, 10),
            "BQ",
            "VIR-ACME",
            "Paiement FA-778",
            None,
            vec![
                (801, "401ACME", 600_00, 0, Some(9002)),
                (802, "512000", 0, 600_00, None),
            ],
        ),
        e(
            9,
            d(3, 20),
            "VT",
            "F2026-003",
            "Facture Dupont",
            Some(d(4, 19)),
            vec![
                (901, "411DUPONT", 360_00, 0, None),
                (902, "707000", 0, 300_00, None),
                (903, "445710", 0, 60_00, None),
            ],
        ),
        e(
            10,
            d(3, 31),
            "BQ",
            "INT-03",
            "Intérêts emprunt",
            None,
            vec![
                (1001, "661100", 50_00, 0, None),
                (1002, "512000", 0, 50_00, None),
            ],
        ),
        e(
            11,
            d(3, 25),
            "HA",
            "FA-812",
            "Facture Acme",
            Some(d(4, 24)),
            vec![
                (1101, "607000", 250_00, 0, None),
                (1102, "445660", 50_00, 0, None),
                (1103, "401ACME", 0, 300_00, None),
            ],
        ),
    ]
}

/// (kind, id, number, third party id, date, due, ht, vat, ttc, remaining, entry id)
#[allow(clippy::type_complexity)]
pub fn invoices() -> Vec<(
    &'static str,
    i64,
    &'static str,
    i64,
    NaiveDate,
    NaiveDate,
    i64,
    i64,
    i64,
    i64,
    i64,
)> {
    vec![
        (
            "customer",
            1001,
            "F2026-001",
            7,
            d(1, 10),
            d(2, 9),
            1_000_00,
            200_00,
            1_200_00,
            0,
            2,
        ),
        (
            "customer",
            1002,
            "F2026-002",
            8,
            d(2, 12),
            d(3, 14),
            2_000_00,
            400_00,
            2_400_00,
            2_400_00,
            6,
        ),
        (
            "customer",
            1003,
            "F2026-003",
            7,
            d(3, 20),
            d(4, 19),
            300_00,
            60_00,
            360_00,
            360_00,
            9,
        ),
        (
            "supplier",
            2001,
            "FA-778",
            5,
            d(1, 15),
            d(2, 14),
            500_00,
            100_00,
            600_00,
            0,
            3,
        ),
        (
            "supplier",
            2002,
            "FA-812",
            5,
            d(3, 25),
            d(4, 24),
            250_00,
            50_00,
            300_00,
            300_00,
            11,
        ),
    ]
}

/// (kind, line id, invoice id, ht, vat, ttc, rate, account id)
pub fn invoice_lines() -> Vec<(&'static str, i64, i64, i64, i64, i64, &'static str, i64)> {
    vec![
        (
            "customer", 1, 1001, 1_000_00, 200_00, 1_200_00, "FR_200", 14,
        ),
        (
            "customer", 2, 1002, 1_500_00, 300_00, 1_800_00, "FR_200", 13,
        ),
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

fn table(name: &str, cols: Vec<Column>, rows: Vec<Vec<Value>>) -> Batch {
    let key = if cols.iter().any(|c| c.name == "company_id") {
        vec!["company_id", "id"]
    } else {
        vec!["id"]
    };
    let schema = Arc::new(Schema::new(name, cols, key).expect("valid test schema"));
    Batch::upsert(schema, rows).expect("valid test batch")
}

fn c(name: &str, t: LogicalType) -> Column {
    Column::nullable(name, t)
}

fn k(name: &str, t: LogicalType) -> Column {
    Column::required(name, t)
}

use LogicalType::{Bool, Date, Int64, Json, Text};
const M2: LogicalType = LogicalType::Decimal { scale: 2 };

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

/// The API door's raw tables, small tables first, `ledger_entry_lines` last.
pub fn api_tables() -> Vec<Batch> {
    let co = || Value::Int64(COMPANY);
    let mut out = vec![
        table(
            "journals",
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("code", Text),
                c("label", Text),
                c("type", Text),
            ],
            JOURNALS
                .iter()
                .map(|(id, code, label)| {
                    vec![
                        co(),
                        (*id).into(),
                        (*code).into(),
                        (*label).into(),
                        "other".into(),
                    ]
                })
                .collect(),
        ),
        table(
            "ledger_accounts",
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("number", Text),
                c("label", Text),
                c("vat_rate", Text),
                c("letterable", Bool),
            ],
            ACCOUNTS
                .iter()
                .map(|(id, n, l)| {
                    vec![
                        co(),
                        (*id).into(),
                        (*n).into(),
                        (*l).into(),
                        Value::Null,
                        n.starts_with('4').into(),
                    ]
                })
                .collect(),
        ),
        table(
            "fiscal_years",
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("start", Date),
                c("finish", Date),
                c("status", Text),
            ],
            vec![vec![
                co(),
                1.into(),
                d(1, 1).into(),
                d(12, 31).into(),
                "open".into(),
            ]],
        ),
        table(
            "ledger_entries",
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("label", Text),
                c("piece_number", Text),
                c("date", Date),
                c("due_date", Date),
                c("invoice_number", Text),
                c("journal_id", Int64),
            ],
            entries()
                .iter()
                .map(|e| {
                    vec![
                        co(),
                        e.id.into(),
                        e.label.into(),
                        e.piece.into(),
                        e.date.into(),
                        e.due.into(),
                        Value::Null,
                        journal_id(e.journal).into(),
                    ]
                })
                .collect(),
        ),
    ];
    for kind in ["customer", "supplier"] {
        let mut cols = vec![k("company_id", Int64), k("id", Int64)];
        if kind == "customer" {
            cols.push(c("customer_type", Text));
        }
        cols.extend([
            c("name", Text),
            c("reg_no", Text),
            c("vat_number", Text),
            c("ledger_account_id", Int64),
        ]);
        let rows = THIRD_PARTIES
            .iter()
            .filter(|t| t.0 == kind)
            .map(|(_, id, name, account)| {
                let mut r = vec![co(), (*id).into()];
                if kind == "customer" {
                    r.push("company".into());
                }
                r.extend([(*name).into(), Value::Null, Value::Null, (*account).into()]);
                r
            })
            .collect();
        out.push(table(&format!("{kind}s"), cols, rows));
        let party = format!("{kind}_id");
        out.push(table(
            &format!("{kind}_invoices"),
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("invoice_number", Text),
                c("currency", Text),
                c("amount", M2),
                c("currency_amount_before_tax", M2),
                c("tax", M2),
                c("date", Date),
                c("deadline", Date),
                c("paid", Bool),
                c("remaining_amount_with_tax", M2),
                c(&party, Int64),
                c("ledger_entry_id", Int64),
            ],
            invoices()
                .into_iter()
                .filter(|i| i.0 == kind)
                .map(|(_, id, num, tp, date, due, ht, vat, ttc, rem, entry)| {
                    vec![
                        co(),
                        id.into(),
                        num.into(),
                        "EUR".into(),
                        eur(ttc).into(),
                        eur(ht).into(),
                        eur(vat).into(),
                        date.into(),
                        due.into(),
                        (rem == 0).into(),
                        eur(rem).into(),
                        tp.into(),
                        entry.into(),
                    ]
                })
                .collect(),
        ));
        out.push(table(
            &format!("{kind}_invoice_lines"),
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("invoice_id", Int64),
                c("label", Text),
                c("quantity", LogicalType::Decimal { scale: 6 }),
                c("amount", M2),
                c("currency_amount_before_tax", M2),
                c("tax", M2),
                c("vat_rate", Text),
                c("ledger_account_id", Int64),
            ],
            invoice_lines()
                .into_iter()
                .filter(|l| l.0 == kind)
                .map(|(_, id, inv, ht, vat, ttc, rate, acc)| {
                    vec![
                        co(),
                        id.into(),
                        inv.into(),
                        "Ligne".into(),
                        Decimal::new(1, 0).into(),
                        eur(ttc).into(),
                        eur(ht).into(),
                        eur(vat).into(),
                        rate.into(),
                        acc.into(),
                    ]
                })
                .collect(),
        ));
        out.push(table(
            &format!("{kind}_invoice_payments"),
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("invoice_id", Int64),
                c("label", Text),
                c("currency_amount", M2),
                c("status", Text),
                c("created_at", LogicalType::TimestampTz),
            ],
            payments()
                .into_iter()
                .filter(|p| p.0 == kind)
                .map(|(_, id, inv, date, amount)| {
                    let at = date.and_hms_opt(10, 0, 0).expect("time").and_utc();
                    vec![
                        co(),
                        id.into(),
                        inv.into(),
                        "Paiement".into(),
                        eur(amount).into(),
                        "paid".into(),
                        at.into(),
                    ]
                })
                .collect(),
        ));
    }
    out.push(table(
        "transactions",
        vec![
            k("company_id", Int64),
            k("id", Int64),
            c("label", Text),
            c("date", Date),
            c("amount", M2),
            c("currency", Text),
            c("bank_account_id", Int64),
        ],
        transactions()
            .into_iter()
            .map(|(id, date, label, amount)| {
                vec![
                    co(),
                    id.into(),
                    label.into(),
                    date.into(),
                    eur(amount).into(),
                    "EUR".into(),
                    1.into(),
                ]
            })
            .collect(),
    ));
    let mut lines = Vec::new();
    for e in entries() {
        for (id, number, debit, credit, lettering) in &e.lines {
            let categories = if *number == "613200" {
                serde_json::json!([{"label": "Magasin", "weight": "1.0"}]).into()
            } else {
                Value::Null
            };
            lines.push(vec![
                co(),
                (*id).into(),
                e.id.into(),
                e.date.into(),
                e.label.into(),
                eur(*debit).into(),
                eur(*credit).into(),
                journal_id(e.journal).into(),
                account_id(number).into(),
                (*number).into(),
                lettering.map(|l| l.to_string()).into(),
                categories,
            ]);
        }
    }
    out.push(table(
        "ledger_entry_lines",
        vec![
            k("company_id", Int64),
            k("id", Int64),
            c("ledger_entry_id", Int64),
            c("date", Date),
            c("label", Text),
            c("debit", M2),
            c("credit", M2),
            c("journal_id", Int64),
            c("ledger_account_id", Int64),
            c("ledger_account_number", Text),
            c("lettering", Text),
            c("categories", Json),
        ],
        lines,
    ));
    out
}

/// The Data Sharing door's tables (`etl` schema names), `general_ledger` last. Amounts
/// come as `numeric(p, 4)`, as a warehouse may deliver them.
pub fn data_sharing_tables() -> Vec<Batch> {
    let co = || Value::Int64(COMPANY);
    let m4 = LogicalType::Decimal { scale: 4 };
    let eur4 = |cents: i64| Value::Decimal(Decimal::new(cents * 100, 4));
    let mut out = vec![
        table(
            "companies",
            vec![
                k("id", Int64),
                c("name", Text),
                c("registration_number", Text),
                c("vat_number", Text),
            ],
            vec![vec![
                co(),
                "Négoce Martin SAS".into(),
                "123456789".into(),
                "FR12123456789".into(),
            ]],
        ),
        table(
            "fiscal_years",
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("start_date", Date),
                c("end_date", Date),
                c("status", Text),
            ],
            vec![vec![
                co(),
                1.into(),
                d(1, 1).into(),
                d(12, 31).into(),
                "open".into(),
            ]],
        ),
    ];
    for kind in ["customer", "supplier"] {
        out.push(table(
            &format!("{kind}s"),
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("name", Text),
                c("registration_number", Text),
                c("vat_number", Text),
                c("plan_item_number", Text),
            ],
            THIRD_PARTIES
                .iter()
                .filter(|t| t.0 == kind)
                .map(|(_, id, name, account)| {
                    let number = ACCOUNTS.iter().find(|a| a.0 == *account).map(|a| a.1);
                    vec![
                        co(),
                        (*id).into(),
                        (*name).into(),
                        Value::Null,
                        Value::Null,
                        number.into(),
                    ]
                })
                .collect(),
        ));
        out.push(table(
            &format!("{kind}_invoices"),
            vec![
                k("company_id", Int64),
                k("id", Int64),
                c("invoice_number", Text),
                c("currency", Text),
                c("date", Date),
                c("deadline", Date),
                c("amount", m4),
                c("amount_before_tax", m4),
                c("tax", m4),
                c("remaining_amount", m4),
                c("paid", Bool),
                c(&format!("{kind}_id"), Int64),
                c("entry_id", Int64),
            ],
            invoices()
                .into_iter()
                .filter(|i| i.0 == kind)
                .map(|(_, id, num, tp, date, due, ht, vat, ttc, rem, entry)| {
                    vec![
                        co(),
                        id.into(),
                        num.into(),
                        "EUR".into(),
                        date.into(),
                        due.into(),
                        eur4(ttc),
                        eur4(ht),
                        eur4(vat),
                        eur4(rem),
                        (rem == 0).into(),
                        tp.into(),
                        entry.into(),
                    ]
                })
                .collect(),
        ));
    }
    out.push(table(
        "bank_transactions",
        vec![
            k("company_id", Int64),
            k("id", Int64),
            c("label", Text),
            c("date", Date),
            c("amount", m4),
            c("currency", Text),
            c("bank_account_id", Int64),
        ],
        transactions()
            .into_iter()
            .map(|(id, date, label, amount)| {
                vec![
                    co(),
                    id.into(),
                    label.into(),
                    date.into(),
                    eur4(amount),
                    "EUR".into(),
                    1.into(),
                ]
            })
            .collect(),
    ));
    let mut lines = Vec::new();
    for e in entries() {
        for (id, number, debit, credit, lettering) in &e.lines {
            let label = ACCOUNTS.iter().find(|a| a.1 == *number).map(|a| a.2);
            let journal = JOURNALS.iter().find(|j| j.1 == e.journal).map(|j| j.2);
            lines.push(vec![
                co(),
                "Négoce Martin SAS".into(),
                (*id).into(),
                e.date.into(),
                (*lettering).into(),
                e.label.into(),
                eur4(*debit),
                eur4(*credit),
                (*number).into(),
                label.into(),
                e.journal.into(),
                journal.into(),
                Value::Null,
                e.id.into(),
                third_party_of_account(number).into(),
                e.piece.into(),
                e.due.into(),
            ]);
        }
    }
    out.push(table(
        "general_ledger",
        vec![
            k("company_id", Int64),
            c("company_name", Text),
            k("id", Int64),
            c("date", Date),
            c("lettering", Int64),
            c("label", Text),
            c("debit", m4),
            c("credit", m4),
            c("plan_item_number", Text),
            c("plan_item_label", Text),
            c("journal_code", Text),
            c("journal_label", Text),
            c("document_id", Int64),
            c("entry_id", Int64),
            c("thirdparty_id", Int64),
            c("document_number", Text),
            c("due_date", Date),
        ],
        lines,
    ));
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
