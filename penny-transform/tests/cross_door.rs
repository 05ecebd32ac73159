//! The same books fed through both doors give the same canonical model and the same
//! reports.
#![allow(clippy::inconsistent_digit_grouping)] // amounts in cents, grouped as euros_cents

mod common;

use common::*;
use penny_transform::canonical::LedgerLine;
use penny_transform::reports::{aged_balance, fec, general_ledger, sig, trial_balance, vat};

fn without_categories(lines: &[LedgerLine]) -> Vec<LedgerLine> {
    lines
        .iter()
        .cloned()
        .map(|mut l| {
            l.categories = None;
            l
        })
        .collect()
}

#[test]
fn both_doors_map_to_the_same_model() {
    let (api_books, api_lines) = via_api();
    let (ds_books, ds_lines) = via_data_sharing();
    assert_eq!(api_lines.len(), 28);
    // Analytical categories only come through the API door.
    assert!(api_lines.iter().any(|l| l.categories.is_some()));
    assert_eq!(without_categories(&api_lines), ds_lines);
    assert_eq!(api_books.companies, ds_books.companies);
    assert_eq!(api_books.accounts, ds_books.accounts);
    assert_eq!(api_books.journals, ds_books.journals);
    assert_eq!(api_books.third_parties, ds_books.third_parties);
    assert_eq!(api_books.fiscal_years, ds_books.fiscal_years);
    assert_eq!(api_books.invoices, ds_books.invoices);
    assert_eq!(api_books.bank_transactions, ds_books.bank_transactions);
    // Invoice lines and payments only exist in the API.
    assert_eq!(
        (api_books.invoice_lines.len(), api_books.payments.len()),
        (6, 2)
    );
    assert!(ds_books.invoice_lines.is_empty());
}

#[test]
fn both_doors_give_the_same_reports() {
    let (api_books, api) = via_api();
    let (ds_books, ds) = via_data_sharing();
    let mut tb = trial_balance::TrialBalanceOptions::new(d(2, 1), d(3, 31));
    tb.aggregate_auxiliaries = true;
    tb.granularity = trial_balance::Granularity::Monthly;
    assert_eq!(
        trial_balance::trial_balance(&api, &tb),
        trial_balance::trial_balance(&ds, &tb)
    );
    let gl = general_ledger::GeneralLedgerOptions {
        from: d(1, 1),
        to: d(3, 31),
        account_prefix: None,
    };
    assert_eq!(
        general_ledger::general_ledger(&api, &gl),
        general_ledger::general_ledger(&ds, &gl)
    );
    assert_eq!(
        sig::sig_by_month(&api, d(1, 1), d(3, 31)),
        sig::sig_by_month(&ds, d(1, 1), d(3, 31))
    );
    assert_eq!(
        sig::income_statement(&api, d(1, 1), d(3, 31)),
        sig::income_statement(&ds, d(1, 1), d(3, 31))
    );
    assert_eq!(
        vat::vat_from_ledger(&api, d(1, 1), d(3, 31)),
        vat::vat_from_ledger(&ds, d(1, 1), d(3, 31))
    );
    let buckets = aged_balance::Buckets::default();
    assert_eq!(
        aged_balance::from_lettering(&api, d(5, 31), &buckets),
        aged_balance::from_lettering(&ds, d(5, 31), &buckets)
    );
    assert_eq!(
        aged_balance::from_invoices(&api_books.invoices, None, d(5, 31), &buckets),
        aged_balance::from_invoices(&ds_books.invoices, None, d(5, 31), &buckets)
    );
    let write = |books, lines: &[LedgerLine]| {
        let records = fec::fec_records(lines, books, COMPANY);
        let mut out = Vec::new();
        fec::write_fec(&mut out, &records, fec::Separator::Tab).expect("write to a Vec");
        String::from_utf8(out).expect("utf-8")
    };
    let api_fec = write(&api_books, &api);
    assert_eq!(api_fec, write(&ds_books, &ds));
    assert_eq!(api_fec.lines().count(), 29);
}
