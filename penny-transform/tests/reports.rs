//! Every report on the fixture's first quarter, with the expected figures worked out by
//! hand from the entries listed in `common/mod.rs`.
#![allow(clippy::inconsistent_digit_grouping)] // amounts in cents, grouped as euros_cents

mod common;

use common::*;
use penny_transform::canonical::ThirdPartyKind;
use penny_transform::quality::{self, Finding};
use penny_transform::reports::trial_balance::{Granularity, TrialBalanceOptions, trial_balance};
use penny_transform::reports::{aged_balance, fec, general_ledger, sig, vat};

#[test]
fn trial_balance_february_to_march() {
    let (_, lines) = via_api();
    let tb = trial_balance(&lines, &TrialBalanceOptions::new(d(2, 1), d(3, 31)));
    let row = |a: &str| {
        let r = tb
            .row(COMPANY, a, d(2, 1))
            .unwrap_or_else(|| panic!("row {a}"));
        (r.opening, r.debit, r.credit, r.closing)
    };
    // Bank: January 10000 - 800; February +1200 -2100; March -600 -50.
    assert_eq!(
        row("512000"),
        (eur(9_200_00), eur(1_200_00), eur(2_750_00), eur(7_650_00))
    );
    assert_eq!(
        row("411DUPONT"),
        (eur(1_200_00), eur(360_00), eur(1_200_00), eur(360_00))
    );
    assert_eq!(
        row("411MARTIN"),
        (eur(0), eur(2_400_00), eur(0), eur(2_400_00))
    );
    assert_eq!(
        row("401ACME"),
        (eur(-600_00), eur(600_00), eur(300_00), eur(-300_00))
    );
    assert_eq!(
        row("445710"),
        (eur(-200_00), eur(0), eur(460_00), eur(-660_00))
    );
    assert_eq!(
        row("707000"),
        (eur(-1_000_00), eur(0), eur(300_00), eur(-1_300_00))
    );
    assert_eq!(
        row("101000"),
        (eur(-10_000_00), eur(0), eur(0), eur(-10_000_00))
    );
    assert_eq!(tb.rows.len(), 14);
    assert!(tb.total_closing().is_zero());
    assert!(quality::check_trial_balance(&tb).is_empty());

    // Auxiliaries aggregated into 411 and 401.
    let mut options = TrialBalanceOptions::new(d(2, 1), d(3, 31));
    options.aggregate_auxiliaries = true;
    let agg = trial_balance(&lines, &options);
    let r411 = agg.row(COMPANY, "411", d(2, 1)).expect("411");
    assert_eq!(
        (r411.opening, r411.debit, r411.credit, r411.closing),
        (eur(1_200_00), eur(2_760_00), eur(1_200_00), eur(2_760_00))
    );
    assert!(agg.row(COMPANY, "411DUPONT", d(2, 1)).is_none());
    assert_eq!(agg.rows.len(), 13);

    // Monthly: the bank's March opens on February's closing.
    options.granularity = Granularity::Monthly;
    let monthly = trial_balance(&lines, &options);
    let feb = monthly.row(COMPANY, "512000", d(2, 1)).expect("february");
    let mar = monthly.row(COMPANY, "512000", d(3, 1)).expect("march");
    assert_eq!(
        (feb.closing, mar.opening, mar.closing),
        (eur(8_300_00), eur(8_300_00), eur(7_650_00))
    );
    assert_eq!((feb.period_end, mar.period_end), (d(2, 28), d(3, 31)));
}

#[test]
fn general_ledger_running_balances() {
    let (_, lines) = via_api();
    let gl = general_ledger::general_ledger(
        &lines,
        &general_ledger::GeneralLedgerOptions {
            from: d(2, 1),
            to: d(3, 31),
            account_prefix: Some("512".into()),
        },
    );
    assert_eq!(gl.len(), 1);
    let bank = &gl[0];
    assert_eq!(bank.opening, eur(9_200_00));
    let running: Vec<_> = bank
        .lines
        .iter()
        .map(|l| (l.date, l.running_balance))
        .collect();
    assert_eq!(
        running,
        [
            (d(2, 5), eur(10_400_00)),
            (d(2, 28), eur(8_300_00)),
            (d(3, 10), eur(7_700_00)),
            (d(3, 31), eur(7_650_00)),
        ]
    );
    assert_eq!(
        (bank.total_debit, bank.total_credit, bank.closing),
        (eur(1_200_00), eur(2_750_00), eur(7_650_00))
    );
    assert_eq!(bank.lines[0].document_ref.as_deref(), Some("VIR-DUPONT"));
}

#[test]
fn aged_balance_from_lettering_and_from_invoices() {
    let (books, lines) = via_api();
    let buckets = aged_balance::Buckets::default();
    // 31 May: Martin due 14 March (78 days), Dupont's F2026-003 due 19 April (42 days),
    // Acme's FA-812 due 24 April (37 days). F2026-001 and FA-778 are lettered/paid.
    let aged = aged_balance::from_lettering(&lines, d(5, 31), &buckets);
    let rows: Vec<_> = aged
        .rows
        .iter()
        .map(|r| {
            (
                r.kind,
                r.account_number.clone().unwrap_or_default(),
                r.buckets.clone(),
            )
        })
        .collect();
    let z = eur(0);
    assert_eq!(
        rows,
        [
            (
                ThirdPartyKind::Customer,
                "411DUPONT".to_owned(),
                vec![z, z, eur(360_00), z, z]
            ),
            (
                ThirdPartyKind::Customer,
                "411MARTIN".to_owned(),
                vec![z, z, z, eur(2_400_00), z]
            ),
            (
                ThirdPartyKind::Supplier,
                "401ACME".to_owned(),
                vec![z, z, eur(300_00), z, z]
            ),
        ]
    );
    let by_invoice =
        aged_balance::from_invoices(&books.invoices, Some(&books.payments), d(5, 31), &buckets);
    assert_eq!(
        by_invoice.bucket_totals(ThirdPartyKind::Customer),
        aged.bucket_totals(ThirdPartyKind::Customer)
    );
    assert_eq!(
        by_invoice.bucket_totals(ThirdPartyKind::Supplier),
        vec![z, z, eur(300_00), z, z]
    );
    assert_eq!(by_invoice.rows[0].third_party_id, Some(7));

    // 1 February, with payments: F2026-001 (due 9 February) was not yet paid.
    let early =
        aged_balance::from_invoices(&books.invoices, Some(&books.payments), d(2, 1), &buckets);
    assert_eq!(
        early.bucket_totals(ThirdPartyKind::Customer),
        vec![eur(1_200_00), z, z, z, z]
    );
    assert_eq!(
        early.bucket_totals(ThirdPartyKind::Supplier),
        vec![eur(600_00), z, z, z, z]
    );
    // Without payments the remaining amount as of the sync is used: F2026-001 is settled.
    let remaining = aged_balance::from_invoices(&books.invoices, None, d(2, 1), &buckets);
    assert!(remaining.rows.is_empty());

    // Custom buckets: 0-15, 16-45, > 45.
    let custom = aged_balance::Buckets {
        bounds: vec![15, 45],
    };
    let aged = aged_balance::from_lettering(&lines, d(5, 31), &custom);
    assert_eq!(aged.labels, ["not_due", "0-15", "16-45", ">45"]);
    assert_eq!(
        aged.bucket_totals(ThirdPartyKind::Customer),
        vec![z, z, eur(360_00), eur(2_400_00)]
    );
}

#[test]
fn sig_and_income_statement_by_month() {
    let (_, lines) = via_api();
    let rows = sig::sig_by_month(&lines, d(1, 1), d(3, 31));
    assert_eq!(
        rows.iter().map(|r| r.month).collect::<Vec<_>>(),
        [d(1, 1), d(2, 1), d(3, 1)]
    );
    let (jan, feb, mar) = (&rows[0].sig, &rows[1].sig, &rows[2].sig);
    // January: goods sold 1000, bought 500, rent 800.
    assert_eq!(
        (jan.marge_commerciale, jan.valeur_ajoutee, jan.ebe),
        (eur(500_00), eur(-300_00), eur(-300_00))
    );
    assert_eq!(jan.resultat_exercice, eur(-300_00));
    // February: services 2000, salaries 1500 + social charges 600.
    assert_eq!(
        (
            feb.production_exercice,
            feb.valeur_ajoutee,
            feb.charges_personnel,
            feb.ebe
        ),
        (eur(2_000_00), eur(2_000_00), eur(2_100_00), eur(-100_00))
    );
    assert_eq!(feb.resultat_exploitation, eur(-100_00));
    // March: goods 300 bought 250, interest 50.
    assert_eq!(
        (
            mar.marge_commerciale,
            mar.resultat_exploitation,
            mar.charges_financieres,
            mar.resultat_courant_avant_impots
        ),
        (eur(50_00), eur(50_00), eur(50_00), eur(0))
    );
    assert_eq!(mar.resultat_exercice, eur(0));
    assert_eq!(mar.balances()[7], ("Résultat de l'exercice", eur(0)));

    let is = sig::income_statement(&lines, d(1, 1), d(3, 31));
    let jan_rows: Vec<_> = is
        .iter()
        .filter(|r| r.month == d(1, 1))
        .map(|r| (r.group.as_str(), r.is_charge, r.amount))
        .collect();
    assert_eq!(
        jan_rows,
        [
            ("60", true, eur(500_00)),
            ("61", true, eur(800_00)),
            ("70", false, eur(1_000_00))
        ]
    );
}

#[test]
fn vat_summaries() {
    let (books, lines) = via_api();
    let rows = vat::vat_from_ledger(&lines, d(1, 1), d(3, 31));
    let flat: Vec<_> = rows
        .iter()
        .map(|r| (r.month, r.direction, r.account_number.as_str(), r.vat))
        .collect();
    use vat::VatDirection::{Collected, Deductible};
    assert_eq!(
        flat,
        [
            (d(1, 1), Collected, "445710", eur(200_00)),
            (d(1, 1), Deductible, "445660", eur(100_00)),
            (d(2, 1), Collected, "445710", eur(400_00)),
            (d(3, 1), Collected, "445710", eur(60_00)),
            (d(3, 1), Deductible, "445660", eur(50_00)),
        ]
    );
    assert_eq!(
        vat::net_vat(&rows),
        [
            (COMPANY, d(1, 1), eur(100_00)),
            (COMPANY, d(2, 1), eur(400_00)),
            (COMPANY, d(3, 1), eur(10_00))
        ]
    );
    let by_rate = vat::vat_by_rate(&books.invoices, &books.invoice_lines, d(1, 1), d(3, 31));
    let flat: Vec<_> = by_rate
        .iter()
        .map(|r| {
            (
                r.month,
                r.direction,
                r.vat_rate.as_str(),
                r.base,
                r.vat,
                r.amount_ttc,
            )
        })
        .collect();
    assert_eq!(
        flat,
        [
            (
                d(1, 1),
                Collected,
                "FR_200",
                eur(1_000_00),
                eur(200_00),
                eur(1_200_00)
            ),
            (
                d(1, 1),
                Deductible,
                "FR_200",
                eur(500_00),
                eur(100_00),
                eur(600_00)
            ),
            (
                d(2, 1),
                Collected,
                "FR_200",
                eur(2_000_00),
                eur(400_00),
                eur(2_400_00)
            ),
            (
                d(3, 1),
                Collected,
                "FR_200",
                eur(300_00),
                eur(60_00),
                eur(360_00)
            ),
            (
                d(3, 1),
                Deductible,
                "FR_200",
                eur(250_00),
                eur(50_00),
                eur(300_00)
            ),
        ]
    );
}

#[test]
fn fec_export_is_valid_and_round_trips() {
    let (books, lines) = via_api();
    let records = fec::fec_records(&lines, &books, COMPANY);
    assert!(
        fec::validate(&records).is_empty(),
        "{:?}",
        fec::validate(&records)
    );
    let mut out = Vec::new();
    fec::write_fec(&mut out, &records, fec::Separator::Pipe).expect("write");
    let text = String::from_utf8(out).expect("utf-8");
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some(
            "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|CompAuxLib|PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|Montantdevise|Idevise"
        )
    );
    assert_eq!(
        rows.nth(2),
        Some(
            "VT|Ventes|2|20260110|411|Clients|411DUPONT|Dupont SARL|F2026-001|20260110|Facture Dupont|1200,00|0,00|9001|20260205|20260110||"
        )
    );
    assert_eq!(fec::parse_fec(&text).expect("parse"), records);
    let name = fec::fec_file_name(
        books.companies[0].siren.as_deref().expect("siren"),
        d(12, 31),
    )
    .expect("name");
    assert_eq!(name, "123456789FEC20261231.txt");

    // A broken entry is caught.
    let mut broken = records.clone();
    broken[1].credit = eur(9_999_00);
    broken[3].compte_num = "X1".into();
    let issues = fec::validate(&broken);
    assert!(issues.contains(&fec::FecIssue::BadAccountNumber {
        record: 3,
        value: "X1".into()
    }));
    assert!(issues.iter().any(
        |i| matches!(i, fec::FecIssue::UnbalancedEntry { ecriture_num, .. } if ecriture_num == "1")
    ));
}

#[test]
fn quality_checks_find_planted_problems() {
    let (mut books, mut lines) = via_api();
    assert!(quality::check_ledger(&lines, &books).is_empty());
    assert!(quality::check_invoices(&books).is_empty());

    lines[0].debit = eur(10_000_01);
    lines[5].account_number = "999999".into();
    lines[6].journal_code = "ZZ".into();
    lines[7].date = d(1, 1).pred_opt().expect("date");
    let findings = quality::check_ledger(&lines, &books);
    assert!(findings.contains(&Finding::UnbalancedEntry {
        company_id: COMPANY,
        entry_id: 1,
        debit: eur(10_000_01),
        credit: eur(10_000_00),
    }));
    assert!(findings.contains(&Finding::UnknownAccount {
        company_id: COMPANY,
        account_number: "999999".into(),
        lines: 1,
        first_line_id: lines[5].line_id,
    }));
    assert!(findings.iter().any(
        |f| matches!(f, Finding::UnknownJournal { journal_code, .. } if journal_code == "ZZ")
    ));
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::DateOutsideFiscalYears { lines: 1, .. }))
    );
    let tb = trial_balance(&lines, &TrialBalanceOptions::new(d(1, 1), d(3, 31)));
    assert_eq!(
        quality::check_trial_balance(&tb),
        [Finding::TrialBalanceNotZero {
            company_id: COMPANY,
            debit: eur(19_610_01),
            credit: eur(19_610_00)
        }]
    );

    books.invoice_lines[0].vat = eur(199_00);
    let findings = quality::check_invoices(&books);
    assert_eq!(
        findings,
        [Finding::InvoiceTotalsMismatch {
            company_id: COMPANY,
            kind: ThirdPartyKind::Customer,
            invoice_id: 1001,
            field: "vat",
            invoice_total: eur(200_00),
            computed: eur(199_00),
        }]
    );
}
