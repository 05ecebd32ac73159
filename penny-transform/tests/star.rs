//! The star schema of the fixture: every fact key finds its dimension row.
#![allow(clippy::inconsistent_digit_grouping)] // amounts in cents, grouped as euros_cents

mod common;

use std::collections::HashSet;

use common::*;
use penny_transform::star;
use penny_transform::{Batch, Value};

fn column(batches: &[Batch], name: &str) -> Vec<Value> {
    batches
        .iter()
        .flat_map(|b| {
            let i = b.schema().column_index(name).expect("column exists");
            b.rows().iter().map(move |r| r[i].clone())
        })
        .collect()
}

fn keys(batches: &[Batch], name: &str) -> HashSet<String> {
    column(batches, name)
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn facts_relate_to_dimensions() {
    let (books, lines) = via_api();
    let facts = star::fact_ledger_lines(&lines, 10).expect("facts");
    assert_eq!(facts.iter().map(Batch::len).sum::<usize>(), 28);
    let accounts = star::dim_account(&books, 100).expect("dim_account");
    let journals = star::dim_journal(&books, 100).expect("dim_journal");
    let parties = star::dim_third_party(&books, 100).expect("dim_third_party");
    let dates = star::dim_date(&books, d(1, 1), d(12, 31), 100).expect("dim_date");
    let companies = star::dim_company(&books, 100).expect("dim_company");
    assert_eq!(dates.iter().map(Batch::len).sum::<usize>(), 365);
    assert_eq!(column(&companies, "company_id"), [Value::Int64(COMPANY)]);

    let account_keys = keys(&accounts, "account_key");
    assert!(keys(&facts, "account_key").is_subset(&account_keys));
    assert!(keys(&facts, "journal_key").is_subset(&keys(&journals, "journal_key")));
    let party_keys = keys(&parties, "third_party_key");
    let fact_parties = keys(&facts, "third_party_key");
    assert_eq!(
        fact_parties,
        HashSet::from([
            "42|customer|7".to_owned(),
            "42|customer|8".into(),
            "42|supplier|5".into()
        ])
    );
    assert!(fact_parties.is_subset(&party_keys));
    let date_keys = keys(&dates, "date_key");
    assert!(keys(&facts, "date_key").is_subset(&date_keys));

    let invoices = star::fact_invoices(&books, 100).expect("fact_invoices");
    let invoice_lines = star::fact_invoice_lines(&books, 100).expect("fact_invoice_lines");
    assert!(keys(&invoice_lines, "invoice_key").is_subset(&keys(&invoices, "invoice_key")));
    assert!(keys(&invoice_lines, "account_key").is_subset(&account_keys));
    assert!(keys(&invoices, "third_party_key").is_subset(&party_keys));
    let bank = star::fact_bank_transactions(&books, 100).expect("fact_bank_transactions");
    assert!(keys(&bank, "date_key").is_subset(&date_keys));

    // Amount is debit minus credit; its sum over balanced books is zero.
    let total: rust_decimal::Decimal = column(&facts, "amount")
        .iter()
        .filter_map(Value::as_decimal)
        .sum();
    assert!(total.is_zero());
    // dim_date: 31 March 2026 is a month end, fiscal period 3, ISO week 14.
    let row = dates
        .iter()
        .flat_map(|b| b.rows())
        .find(|r| r[1] == Value::Date(d(3, 31)))
        .expect("31 March");
    let schema = star::dim_date_schema();
    let get = |name: &str| row[schema.column_index(name).expect("column")].clone();
    assert_eq!(
        (
            get("is_month_end"),
            get("fiscal_period"),
            get("iso_week"),
            get("quarter")
        ),
        (
            Value::Bool(true),
            Value::Int64(3),
            Value::Int64(14),
            Value::Int64(1)
        )
    );
}
