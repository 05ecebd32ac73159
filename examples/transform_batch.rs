//! Transform a batch with `penny-transform` alone: no I/O, no runtime.
//!
//! ```sh
//! cargo run -p penny-examples --example transform_batch
//! ```
//!
//! A batch of Data Sharing `general_ledger` rows (built by hand here; in real use it comes
//! from `penny-redshift`'s source) is mapped into the canonical accounting model, then
//! into a trial balance and the legal FEC file, exactly as `penny sync` does it.

use std::sync::Arc;

use chrono::NaiveDate;
use penny_transform::canonical::from_data_sharing::DataSharingMapper;
use penny_transform::reports::fec::{Separator, fec_records, validate, write_fec};
use penny_transform::reports::trial_balance::{TrialBalanceOptions, trial_balance};
use penny_transform::{Batch, Column, LogicalType, Schema, Value};
use rust_decimal::Decimal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The documented columns of Data Sharing's general_ledger (see docs/src/raw-tables.md).
    let money = LogicalType::Decimal { scale: 2 };
    let schema = Arc::new(Schema::new(
        "general_ledger",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::nullable("company_name", LogicalType::Text),
            Column::required("id", LogicalType::Int64),
            Column::required("date", LogicalType::Date),
            Column::nullable("lettering", LogicalType::Int64),
            Column::nullable("label", LogicalType::Text),
            Column::required("debit", money),
            Column::required("credit", money),
            Column::required("plan_item_number", LogicalType::Text),
            Column::nullable("plan_item_label", LogicalType::Text),
            Column::required("journal_code", LogicalType::Text),
            Column::nullable("journal_label", LogicalType::Text),
            Column::nullable("document_id", LogicalType::Int64),
        ],
        ["company_id", "id"],
    )?);
    let day = NaiveDate::from_ymd_opt(2026, 1, 15).ok_or("a valid date")?;
    let line = |id: i64, account: &str, label: &str, debit: i64, credit: i64| -> Vec<Value> {
        vec![
            Value::Int64(7),
            "Boulangerie Martin".into(),
            Value::Int64(id),
            Value::Date(day),
            Value::Null,
            "Facture F-2026-001".into(),
            Value::Decimal(Decimal::new(debit, 2)),
            Value::Decimal(Decimal::new(credit, 2)),
            account.into(),
            label.into(),
            "VT".into(),
            "Ventes".into(),
            Value::Int64(501),
        ]
    };
    let batch = Batch::upsert(
        schema,
        vec![
            line(1, "411DUPONT", "Client Dupont", 120_000, 0),
            line(2, "706000", "Prestations de services", 0, 100_000),
            line(3, "445710", "TVA collectée", 0, 20_000),
        ],
    )?;

    // Map: the canonical ledger lines and the books (accounts, journals, companies).
    let mut mapper = DataSharingMapper::default();
    let lines = mapper.ledger_lines(&batch)?;
    let books = mapper.into_books();

    // Report: the trial balance, auxiliary accounts rolled into their root.
    let mut options = TrialBalanceOptions::new(day, day);
    options.aggregate_auxiliaries = true;
    let tb = trial_balance(&lines, &options);
    println!("Trial balance of {day}:");
    for row in &tb.rows {
        println!(
            "  {:<8} debit {:>10} credit {:>10} closing {:>10}",
            row.account_number, row.debit, row.credit, row.closing
        );
    }
    assert!(tb.total_closing().is_zero(), "balanced books close at zero");

    // Export: the FEC, checked.
    let records = fec_records(&lines, &books, 7);
    let issues = validate(&records);
    let mut fec = Vec::new();
    write_fec(&mut fec, &records, Separator::Tab)?;
    println!(
        "\nFEC ({} records, {} issues):\n{}",
        records.len(),
        issues.len(),
        String::from_utf8(fec)?
    );
    Ok(())
}
