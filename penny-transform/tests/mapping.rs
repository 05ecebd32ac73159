//! Mapping errors name table, row and column; optional columns may be absent.
#![allow(clippy::inconsistent_digit_grouping)] // amounts in cents, grouped as euros_cents

mod common;

use std::sync::Arc;

use common::*;
use penny_transform::canonical::from_api::ApiMapper;
use penny_transform::canonical::from_data_sharing::DataSharingMapper;
use penny_transform::canonical::tables::{CanonicalTable, to_batches};
use penny_transform::canonical::{LedgerLine, MappingError};
use penny_transform::{Batch, Column, LogicalType, Schema, Value};
use rust_decimal::Decimal;

fn documented_general_ledger(debit: Decimal) -> Batch {
    let m = LogicalType::Decimal { scale: 3 };
    let schema = Schema::new(
        "etl.general_ledger_etl",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::nullable("company_name", LogicalType::Text),
            Column::required("id", LogicalType::Int64),
            Column::nullable("date", LogicalType::Date),
            Column::nullable("lettering", LogicalType::Int64),
            Column::nullable("label", LogicalType::Text),
            Column::nullable("debit", m),
            Column::nullable("credit", m),
            Column::nullable("plan_item_number", LogicalType::Text),
            Column::nullable("plan_item_label", LogicalType::Text),
            Column::nullable("journal_code", LogicalType::Text),
            Column::nullable("journal_label", LogicalType::Text),
            Column::nullable("document_id", LogicalType::Int64),
        ],
        ["company_id", "id"],
    )
    .expect("schema");
    let row = |id: i64, account: &str, debit: Decimal, credit: Decimal| {
        vec![
            Value::Int64(7),
            "Boulangerie".into(),
            Value::Int64(id),
            d(1, 5).into(),
            Value::Null,
            "Vente comptoir".into(),
            debit.into(),
            credit.into(),
            account.into(),
            Value::Null,
            "VT".into(),
            "Ventes".into(),
            Value::Int64(555),
        ]
    };
    Batch::upsert(
        Arc::new(schema),
        vec![
            row(1, "530000", debit, Decimal::ZERO),
            row(2, "706000", Decimal::ZERO, debit),
        ],
    )
    .expect("batch")
}

#[test]
fn data_sharing_maps_the_documented_columns_alone() {
    let mut mapper = DataSharingMapper::default();
    let lines = mapper
        .ledger_lines(&documented_general_ledger(Decimal::new(12_500, 3)))
        .expect("maps");
    assert_eq!(lines.len(), 2);
    // No entry_id column: lines are grouped by document.
    assert_eq!((lines[0].entry_id, lines[1].entry_id), (555, 555));
    assert_eq!(lines[0].debit.to_string(), "12.50");
    assert_eq!(lines[0].third_party, None);
    // Journal codes are interned: both lines share one string.
    assert!(Arc::ptr_eq(&lines[0].journal_code, &lines[1].journal_code));
    let books = mapper.into_books();
    assert_eq!(books.companies[0].name, "Boulangerie");
    assert_eq!(books.accounts.len(), 2);
    assert_eq!(books.accounts[0].label, "");
    assert_eq!(books.journals[0].label, "Ventes");
}

#[test]
fn an_amount_that_would_round_is_refused() {
    let mut mapper = DataSharingMapper::default();
    let err = mapper
        .ledger_lines(&documented_general_ledger(Decimal::new(12_345, 3)))
        .expect_err("12.345 has three decimals");
    assert_eq!(
        err.to_string(),
        "table `etl.general_ledger_etl`, row 0, column `debit`: 12.345 has more than 2 decimals; it cannot be rescaled without rounding"
    );
}

#[test]
fn missing_columns_and_unknown_references_are_named() {
    let schema = Arc::new(
        Schema::new(
            "general_ledger",
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("id", LogicalType::Int64),
            ],
            ["company_id", "id"],
        )
        .expect("schema"),
    );
    let batch =
        Batch::upsert(schema.clone(), vec![vec![Value::Int64(1), Value::Int64(2)]]).expect("batch");
    let err = DataSharingMapper::default()
        .ledger_lines(&batch)
        .expect_err("no date");
    assert_eq!(
        err,
        MappingError::MissingColumn {
            table: "general_ledger".into(),
            column: "date"
        }
    );
    let deletion =
        Batch::delete(schema, vec![vec![Value::Int64(1), Value::Int64(2)]]).expect("batch");
    assert!(matches!(
        DataSharingMapper::default().ledger_lines(&deletion),
        Err(MappingError::NotUpserts { .. })
    ));

    // API lines whose journal was never synced.
    let tables = api_tables();
    let lines = tables.last().expect("lines last");
    let err = ApiMapper::default()
        .ledger_lines(lines)
        .expect_err("no journals");
    assert_eq!(
        err.to_string(),
        "table `ledger_entry_lines`, row 0, column `journal_id`: journals 1 is unknown (sync `journals` first)"
    );
}

#[test]
fn canonical_lines_convert_to_batches() {
    let (_, lines) = via_api();
    let batches = to_batches(&lines, 10).expect("canonical lines fit their schema");
    assert_eq!(
        batches.iter().map(Batch::len).collect::<Vec<_>>(),
        [10, 10, 8]
    );
    assert_eq!(batches[0].schema(), &LedgerLine::schema());
    let categories = LedgerLine::schema()
        .column_index("categories")
        .expect("column");
    assert!(
        batches
            .iter()
            .flat_map(|b| b.rows())
            .any(|r| !r[categories].is_null())
    );
}

#[test]
fn api_tables_map_in_any_order_before_the_lines() {
    let mut tables = api_tables();
    let lines = tables.pop().expect("lines last");
    tables.reverse(); // customers and suppliers before ledger_accounts
    let mut mapper = ApiMapper::default();
    for t in &tables {
        assert!(mapper.add(t).expect("maps"), "{}", t.table());
    }
    let mapped = mapper.ledger_lines(&lines).expect("lines map");
    // 411DUPONT: 3 lines, 411MARTIN: 1, 401ACME: 3.
    assert_eq!(mapped.iter().filter(|l| l.third_party.is_some()).count(), 7);
    let books = mapper.into_books();
    let dupont = books
        .third_parties
        .iter()
        .find(|t| t.third_party.id == 7)
        .expect("Dupont");
    assert_eq!(dupont.account_number.as_deref(), Some("411DUPONT"));
}
