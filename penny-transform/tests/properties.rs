//! Invariants that hold for any books: balanced books give a zero trial balance, aged
//! buckets partition the open amount, the FEC round-trips, the SIG result is class 7
//! minus class 6.
#![allow(clippy::inconsistent_digit_grouping)] // amounts in cents, grouped as euros_cents

use chrono::NaiveDate;
use penny_transform::canonical::{
    Invoice, InvoiceDocument, InvoicePayment, LedgerLine, ThirdPartyKind,
};
use penny_transform::reports::aged_balance::{Buckets, from_invoices};
use penny_transform::reports::fec::{FecRecord, Separator, parse_fec, write_fec};
use penny_transform::reports::sig::sig_by_month;
use penny_transform::reports::trial_balance::{Granularity, TrialBalanceOptions, trial_balance};
use proptest::prelude::*;
use rust_decimal::Decimal;

const ACCOUNTS: &[&str] = &[
    "101000",
    "401ACME",
    "411DUPONT",
    "411008",
    "445660",
    "445710",
    "512000",
    "607000",
    "613200",
    "641000",
    "681100",
    "706000",
    "707000",
    "761000",
    "771000",
    "695000",
];

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Days::new(u64::from(n))
}

/// Balanced entries: each has some lines, and a last line balancing them.
fn balanced_lines() -> impl Strategy<Value = Vec<LedgerLine>> {
    let entry = (
        0u32..730,
        1i64..3,
        prop::collection::vec((0..ACCOUNTS.len(), -500_000i64..500_000), 1..5),
        0..ACCOUNTS.len(),
    );
    prop::collection::vec(entry, 1..40).prop_map(|entries| {
        let mut out = Vec::new();
        let mut id = 0;
        for (e, (date, company, lines, balancing)) in entries.into_iter().enumerate() {
            let mut sum = Decimal::ZERO;
            let mut push = |account: usize, amount: Decimal, out: &mut Vec<LedgerLine>| {
                id += 1;
                let (debit, credit) = if amount.is_sign_negative() {
                    (Decimal::new(0, 2), -amount)
                } else {
                    (amount, Decimal::new(0, 2))
                };
                out.push(LedgerLine {
                    company_id: company,
                    entry_id: e as i64,
                    line_id: id,
                    date: day(date),
                    journal_code: "OD".into(),
                    account_number: ACCOUNTS[account].into(),
                    label: String::new(),
                    debit,
                    credit,
                    third_party: None,
                    document_ref: None,
                    due_date: None,
                    lettering: None,
                    categories: None,
                });
            };
            for (account, cents) in lines {
                let amount = Decimal::new(cents, 2);
                sum += amount;
                push(account, amount, &mut out);
            }
            push(balancing, -sum, &mut out);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn trial_balance_of_balanced_books_sums_to_zero(
        lines in balanced_lines(),
        from in 0u32..700,
        len in 0u32..400,
        aggregate in any::<bool>(),
        monthly in any::<bool>(),
    ) {
        let mut options = TrialBalanceOptions::new(day(from), day(from + len));
        options.aggregate_auxiliaries = aggregate;
        options.granularity = if monthly { Granularity::Monthly } else { Granularity::Whole };
        let tb = trial_balance(&lines, &options);
        prop_assert!(tb.total_closing().is_zero());
        for (company, debit, credit) in tb.totals_by_company() {
            prop_assert_eq!(debit, credit, "company {}", company);
        }
        for r in &tb.rows {
            prop_assert_eq!(r.closing, r.opening + r.debit - r.credit);
        }
        // Every period's openings sum to zero too.
        let mut openings = std::collections::BTreeMap::new();
        for r in &tb.rows {
            *openings.entry(r.period_start).or_insert(Decimal::ZERO) += r.opening;
        }
        prop_assert!(openings.values().all(|o| o.is_zero()));
    }

    #[test]
    fn sig_result_is_class_7_minus_class_6(lines in balanced_lines()) {
        let rows = sig_by_month(&lines, day(0), day(800));
        let result: Decimal = rows.iter().map(|r| r.sig.resultat_exercice).sum();
        let expected: Decimal = lines
            .iter()
            .map(|l| match l.account_number.as_bytes()[0] {
                b'7' => l.credit - l.debit,
                b'6' => l.credit - l.debit,
                _ => Decimal::ZERO,
            })
            .sum();
        prop_assert_eq!(result, expected);
    }

    #[test]
    fn aged_buckets_partition_the_open_amount(
        invoices in prop::collection::vec((0u32..200, 0u32..120, -50_000i64..500_000, 0i64..100, any::<bool>()), 0..40),
        as_of in 0u32..300,
        bounds in prop::collection::btree_set(1u32..200, 0..5),
        with_payments in any::<bool>(),
    ) {
        let as_of = day(as_of);
        let mut invs = Vec::new();
        let mut pays = Vec::new();
        for (i, (date, term, ttc, paid_pct, supplier)) in invoices.into_iter().enumerate() {
            let ttc = Decimal::new(ttc, 2);
            let paid = (ttc * Decimal::new(paid_pct, 2)).round_dp(2);
            let kind = if supplier { ThirdPartyKind::Supplier } else { ThirdPartyKind::Customer };
            invs.push(Invoice {
                company_id: 1, kind, id: i as i64, number: None, label: None,
                third_party_id: Some(i as i64 % 3), date: day(date), due_date: Some(day(date + term)),
                currency: None, amount_ht: ttc, vat: Decimal::ZERO, amount_ttc: ttc, paid: None,
                remaining: ttc - paid, status: None, entry_id: None,
                document: InvoiceDocument::Invoice, credited_invoice_id: None,
            });
            pays.push(InvoicePayment { company_id: 1, kind, invoice_id: i as i64, id: i as i64, date: day(date + 10), amount: paid });
        }
        let buckets = Buckets { bounds: bounds.into_iter().collect() };
        let payments = with_payments.then_some(pays.as_slice());
        let aged = from_invoices(&invs, payments, as_of, &buckets);
        let expected: Decimal = invs
            .iter()
            .filter(|i| i.date <= as_of)
            .map(|i| match payments {
                Some(p) => i.amount_ttc - p.iter().filter(|p| p.invoice_id == i.id && p.date <= as_of).map(|p| p.amount).sum::<Decimal>(),
                None => i.remaining,
            })
            .sum();
        let mut bucket_sum = Decimal::ZERO;
        for r in &aged.rows {
            prop_assert_eq!(r.buckets.len(), buckets.len());
            prop_assert_eq!(r.total, r.buckets.iter().copied().sum::<Decimal>());
            bucket_sum += r.total;
        }
        prop_assert_eq!(bucket_sum, expected);
    }

    #[test]
    fn fec_round_trips(
        records in prop::collection::vec(
            (
                (
                    "[A-Z]{2}", "[A-Za-zéèà' -]{1,20}", "[0-9]{1,6}", 0u32..1000,
                    "[0-9]{3}[0-9A-Z]{0,6}", "[A-Za-z ]{1,20}", proptest::option::of("[0-9A-Z]{1,9}"),
                ),
                (
                    "[A-Za-z0-9/-]{1,10}", "[A-Za-z0-9 ,.]{1,30}",
                    0i64..100_000_000, 0i64..100_000_000,
                    proptest::option::of("[A-Z]{1,3}"), proptest::option::of(0u32..1000),
                    proptest::option::of(0i64..1_000_000),
                ),
            ),
            0..20,
        ),
        pipe in any::<bool>(),
    ) {
        let records: Vec<FecRecord> = records
            .into_iter()
            .map(|((jc, jl, num, date, compte, lib, aux), (piece, elib, debit, credit, lettering, date_let, devise))| FecRecord {
                journal_code: jc,
                journal_lib: jl,
                ecriture_num: num,
                ecriture_date: day(date),
                compte_num: compte,
                compte_lib: lib,
                comp_aux_lib: aux.as_ref().map(|a| format!("Tiers {a}")),
                comp_aux_num: aux,
                piece_ref: piece,
                piece_date: day(date),
                ecriture_lib: elib,
                debit: Decimal::new(debit, 2),
                credit: Decimal::new(credit, 2),
                ecriture_let: lettering,
                date_let: date_let.map(day),
                valid_date: day(date),
                montant_devise: devise.map(|d| Decimal::new(d, 2)),
                idevise: devise.map(|_| "USD".to_owned()),
            })
            .collect();
        let mut out = Vec::new();
        let sep = if pipe { Separator::Pipe } else { Separator::Tab };
        write_fec(&mut out, &records, sep).expect("write to a Vec");
        let text = String::from_utf8(out).expect("utf-8");
        prop_assert_eq!(parse_fec(&text).expect("parse"), records);
    }
}

/// Fiscal years of three companies, twelve months from `start_month`, over 2024-2027:
/// company 1 on calendar years, companies 2 and 3 on the generated month.
fn multi_year_calendar(start_month: u32) -> Vec<penny_transform::canonical::FiscalYear> {
    let from = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
    let mut years = penny_transform::canonical::FiscalYear::assumed(1, 1, from, to);
    for company in [2, 3] {
        years.extend(penny_transform::canonical::FiscalYear::assumed(
            company,
            start_month,
            from,
            to,
        ));
    }
    years
}

/// Balanced entries of companies 1 to 3 over 2023-2027 (some before the first fiscal
/// year, some after the last).
fn multi_year_lines() -> impl Strategy<Value = Vec<LedgerLine>> {
    (balanced_lines(), prop::collection::vec(0u32..1826, 40)).prop_map(|(mut lines, days)| {
        let first = NaiveDate::from_ymd_opt(2023, 1, 1).expect("date");
        for l in &mut lines {
            let n = days[(l.entry_id as usize) % days.len()];
            l.date = first + chrono::Days::new(u64::from(n));
            l.company_id = 1 + l.entry_id % 3;
        }
        lines
    })
}

/// The opening entries that carry `tb`'s closing of each fiscal year but the last into
/// the next (balance-sheet accounts as they closed, the result of classes 6 and 7 on
/// 120000 or 129000), for the years `with` picks, as journal `AN` lines on the year's
/// first day.
fn opening_entries(
    tb: &penny_transform::reports::trial_balance::FiscalTrialBalance,
    years: &[penny_transform::canonical::FiscalYear],
    with: &[bool],
) -> Vec<LedgerLine> {
    use penny_transform::pcg::{Nature, nature};
    let mut out = Vec::new();
    for (k, fy) in years.iter().enumerate() {
        let Some(next) = years
            .iter()
            .find(|n| n.company_id == fy.company_id && n.start == fy.end.succ_opt().expect("day"))
        else {
            continue;
        };
        if !with[k % with.len()] {
            continue;
        }
        let mut balances: std::collections::BTreeMap<String, Decimal> = Default::default();
        for r in tb
            .rows
            .iter()
            .filter(|r| r.company_id == fy.company_id && r.period_start == fy.start)
        {
            let account = if nature(&r.account_number) == Nature::ProfitAndLoss {
                "RESULT".to_owned()
            } else {
                r.account_number.clone()
            };
            *balances.entry(account).or_default() += r.closing;
        }
        if let Some(result) = balances.remove("RESULT") {
            let account = if result.is_sign_negative() {
                "120000"
            } else {
                "129000"
            };
            *balances.entry(account.to_owned()).or_default() += result;
        }
        for (account, balance) in balances.into_iter().filter(|(_, b)| !b.is_zero()) {
            let (debit, credit) = if balance.is_sign_negative() {
                (Decimal::new(0, 2), -balance)
            } else {
                (balance, Decimal::new(0, 2))
            };
            out.push(LedgerLine {
                company_id: fy.company_id,
                entry_id: -1,
                line_id: -(out.len() as i64) - 1,
                date: next.start,
                journal_code: "AN".into(),
                account_number: account.as_str().into(),
                label: "À nouveau".into(),
                debit,
                credit,
                third_party: None,
                document_ref: None,
                due_date: None,
                lettering: None,
                categories: None,
            });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fiscal_years_balance_carry_and_open_the_same_with_or_without_opening_entries(
        lines in multi_year_lines(),
        start_month in 1u32..13,
        with in prop::collection::vec(any::<bool>(), 1..5),
    ) {
        use penny_transform::canonical::OpeningJournals;
        use penny_transform::pcg::{Nature, nature};
        use penny_transform::reports::FiscalCalendar;
        use penny_transform::reports::trial_balance::{OpeningSource, fiscal_trial_balance};
        let years = multi_year_calendar(start_month);
        let calendar = || FiscalCalendar::new(&years, OpeningJournals::default());
        let tb = fiscal_trial_balance(&lines, calendar());
        // Every year of every company sums to zero, opening and closing.
        let mut totals: std::collections::BTreeMap<(i64, NaiveDate), (Decimal, Decimal)> =
            Default::default();
        for r in &tb.rows {
            prop_assert_eq!(r.closing, r.opening + r.debit - r.credit);
            let t = totals.entry((r.company_id, r.period_start)).or_default();
            t.0 += r.opening;
            t.1 += r.closing;
        }
        prop_assume!(!totals.is_empty());
        for (key, (opening, closing)) in &totals {
            prop_assert!(opening.is_zero() && closing.is_zero(), "{:?}: {} {}", key, opening, closing);
        }
        let balance = |tb: &penny_transform::reports::trial_balance::FiscalTrialBalance,
                       company: i64, account: &str, start: NaiveDate, closing: bool| {
            tb.row(company, account, start)
                .map(|r| if closing { r.closing } else { r.opening })
                .unwrap_or(Decimal::ZERO)
        };
        for fy in &years {
            let next = fy.end.succ_opt().expect("day");
            let has_next = years.iter().any(|n| n.company_id == fy.company_id && n.start == next);
            for r in tb.rows.iter().filter(|r| r.company_id == fy.company_id && r.period_start == fy.start) {
                match nature(&r.account_number) {
                    // Each P&L account opens at zero.
                    Nature::ProfitAndLoss => prop_assert!(r.opening.is_zero(), "{:?}", r),
                    // Each balance-sheet account's closing is the next year's opening
                    // (the result accounts also get the result).
                    _ if has_next && !["120000", "129000"].contains(&r.account_number.as_str()) => {
                        prop_assert_eq!(
                            balance(&tb, fy.company_id, &r.account_number, next, false),
                            r.closing,
                            "{:?}", r
                        );
                    }
                    _ => {}
                }
            }
        }
        // The results are classes 7 minus 6 of the year's lines.
        for res in &tb.results {
            let expected: Decimal = lines
                .iter()
                .filter(|l| l.company_id == res.company_id
                    && res.period_start <= l.date && l.date <= res.period_end
                    && nature(&l.account_number) == Nature::ProfitAndLoss)
                .map(|l| l.credit - l.debit)
                .sum();
            prop_assert_eq!(res.result, expected);
            prop_assert_eq!(res.opening, OpeningSource::Carried);
        }
        // With opening entries that carry the closing as the rule does, the same
        // balances (the opening entries are openings, not movements).
        let mut with_an = lines.clone();
        let an = opening_entries(&tb, &years, &with);
        with_an.extend(an.iter().cloned());
        let again = fiscal_trial_balance(&with_an, calendar());
        prop_assert_eq!(&again.rows, &tb.rows);
        for (a, b) in again.results.iter().zip(&tb.results) {
            prop_assert_eq!((a.revenue, a.expenses, a.result), (b.revenue, b.expenses, b.result));
        }
        prop_assert!(an.is_empty() || again.results.iter().any(|r| r.opening == OpeningSource::OpeningEntries));
    }
}
