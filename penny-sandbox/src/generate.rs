//! Generating one company's world: as many cycle entries as the line target asks for,
//! the fiscal years' opening entries placed between them, the balances of each year
//! carried into the next one's opening entry, and the index of every entry's lines.
//!
//! Only the opening entries' lines and one integer per entry are kept: every other
//! record is rebuilt from its index when a page needs it (`ledger.rs`, `records.rs`).

use rust_decimal::Decimal;

use crate::chart;
use crate::config::SandboxConfig;
use crate::ledger;
use crate::posting::{AccountRef, Line, general, posting};
use crate::world::{Document, World};

/// Generates company `company_id` of a sandbox of `config`: about `config.ledger_lines`
/// lines (at least that many, ending on a whole entry), its records' `url`s under
/// `base_url`.
pub(crate) fn world(config: &SandboxConfig, company_id: i64, base_url: String) -> World {
    let (seed, lines, clock) = (config.seed, config.ledger_lines, config.start);
    let mut world = World::blank(seed, company_id, lines, clock, base_url);
    // The cycle entries the line target needs (the opening entries come on top).
    let target = lines.max(1) as u64;
    let mut total = world.line_count(0) as u64;
    let mut regular = 0;
    while total < target {
        total += world.regular_line_count(regular) as u64;
        regular += 1;
    }
    world.lay_out(regular);
    // The books in order: balances carried into each opening entry.
    let mut balances = Balances::default();
    let last_opening = world.openings().last().map_or(0, |o| o.entry);
    let mut line_start = vec![0u64];
    let mut total = 0u64;
    for e in 0..world.entries {
        let count = if let Document::YearOpening(n) = world.document(e) {
            let lines = balances.open_next_year();
            balances.add(&lines);
            let count = lines.len();
            world.set_opening_lines(n, lines);
            count
        } else if e < last_opening {
            let lines = ledger::postings(&world, e);
            balances.add(&lines);
            lines.len()
        } else {
            world.line_count(e)
        };
        total += count as u64;
        line_start.push(total);
    }
    world.set_line_starts(line_start);
    world
}

/// The balances a fiscal year carries into the next: balance-sheet accounts (classes
/// 1 to 5) one by one, and the year's result (classes 7 minus 6).
#[derive(Debug, Default)]
struct Balances {
    sheet: std::collections::BTreeMap<AccountKey, Decimal>,
    result: Decimal,
}

/// An account, ordered as the chart lists them (general, then customers, suppliers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AccountKey {
    General(usize),
    Customer(usize),
    Supplier(usize),
}

impl Balances {
    /// Adds the lines of an entry of the year.
    fn add(&mut self, lines: &[Line]) {
        for line in lines {
            let net = line.debit - line.credit;
            let key = match line.account {
                AccountRef::General(i) => {
                    let class = chart::GENERAL_ACCOUNTS[i].0.as_bytes()[0];
                    if matches!(class, b'6' | b'7') {
                        self.result -= net;
                        continue;
                    }
                    AccountKey::General(i)
                }
                AccountRef::Customer(c) => AccountKey::Customer(c),
                AccountRef::Supplier(s) => AccountKey::Supplier(s),
            };
            *self.sheet.entry(key).or_insert(Decimal::ZERO) += net;
        }
    }

    /// The opening entry's lines of the next year (balances carried, the result on
    /// 120000 or 129000), and a fresh year.
    fn open_next_year(&mut self) -> Vec<Line> {
        let mut lines: Vec<Line> = std::mem::take(&mut self.sheet)
            .into_iter()
            .filter(|(_, net)| !net.is_zero())
            .map(|(key, net)| {
                let account = match key {
                    AccountKey::General(i) => AccountRef::General(i),
                    AccountKey::Customer(c) => AccountRef::Customer(c),
                    AccountKey::Supplier(s) => AccountRef::Supplier(s),
                };
                posting(account, net, true)
            })
            .collect();
        let result = std::mem::take(&mut self.result);
        if result > Decimal::ZERO {
            lines.push(posting(general("120000"), result, false));
        } else if result < Decimal::ZERO {
            lines.push(posting(general("129000"), -result, true));
        }
        lines
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{Datelike, NaiveDate};

    use super::*;
    use crate::world::Document;

    /// Company 1 of the default sandbox (seed 42, clock 2026-11-16 09:00 UTC), with
    /// about `lines` ledger lines.
    fn world(lines: usize) -> World {
        let config = SandboxConfig {
            ledger_lines: lines,
            ..SandboxConfig::default()
        };
        super::world(&config, 1, "http://x".into())
    }

    #[test]
    fn documents_and_their_entries_agree() {
        let w = world(5_000);
        let opening_lines: usize = (0..w.openings().len())
            .map(|n| w.opening_lines(n).len())
            .sum();
        assert!(w.lines() >= 5_000 && w.lines() < 5_020 + opening_lines);
        let mut sales = 0;
        let mut purchases = 0;
        let mut transactions = 0;
        for e in 0..w.entries {
            match w.document(e) {
                Document::Sale(k) => {
                    assert_eq!(w.sale_entry(k), e);
                    sales += 1;
                }
                Document::Purchase(k) => {
                    assert_eq!(w.purchase_entry(k), e);
                    purchases += 1;
                }
                Document::CustomerPayment { sale, transaction } => {
                    assert_eq!(w.sale_payment_entry(sale), Some(e));
                    assert_eq!(w.transaction_entry(transaction), e);
                    transactions += 1;
                }
                Document::SupplierPayment {
                    purchase,
                    transaction,
                } => {
                    assert_eq!(w.purchase_payment_entry(purchase), Some(e));
                    assert_eq!(w.transaction_entry(transaction), e);
                    transactions += 1;
                }
                Document::BankFee { transaction, .. } => {
                    assert_eq!(w.transaction_entry(transaction), e);
                    transactions += 1;
                }
                _ => {}
            }
        }
        assert_eq!(
            (sales, purchases, transactions),
            (w.sales(), w.purchases(), w.transactions())
        );
    }

    /// Each fiscal year after the first opens on January 1st with the balance-sheet
    /// balances of the year before and its result on 120000 or 129000.
    #[test]
    fn each_year_opens_with_the_balances_and_the_result_of_the_year_before() {
        use crate::chart::GENERAL_ACCOUNTS;
        use crate::posting::AccountRef;
        use rust_decimal::Decimal;
        use std::collections::BTreeMap;
        let w = world(4_000);
        assert_eq!(w.openings().len(), 2, "2025 and 2026 open after 2024");
        let class = |a: AccountRef| match a {
            AccountRef::General(i) => GENERAL_ACCOUNTS[i].0.as_bytes()[0] - b'0',
            _ => 4,
        };
        for (n, opening) in w.openings().iter().enumerate() {
            assert_eq!(opening.date.format("%m-%d").to_string(), "01-01");
            let year_start = NaiveDate::from_ymd_opt(opening.date.year() - 1, 1, 1).unwrap();
            // The year before, recomputed from its entries.
            let mut sheet: BTreeMap<String, Decimal> = BTreeMap::new();
            let mut result = Decimal::ZERO;
            for e in (0..opening.entry).filter(|e| w.entry_date(*e) >= year_start) {
                for line in ledger::entry(&w, e).lines {
                    let net = line.debit - line.credit;
                    if class(line.account) >= 6 {
                        result -= net;
                    } else {
                        *sheet.entry(format!("{:?}", line.account)).or_default() += net;
                    }
                }
            }
            sheet.retain(|_, v| !v.is_zero());
            let entry = ledger::entry(&w, opening.entry);
            assert_eq!(w.document(opening.entry), Document::YearOpening(n));
            assert_eq!(entry.journal, crate::chart::AN);
            // Every account carried as is, the result added on 120000 or 129000 (beside
            // the result of the year before, carried there).
            let mut carried: BTreeMap<String, Decimal> = BTreeMap::new();
            for line in &entry.lines {
                *carried.entry(format!("{:?}", line.account)).or_default() +=
                    line.debit - line.credit;
            }
            let result_accounts = [
                format!("{:?}", AccountRef::General(crate::chart::account("120000"))),
                format!("{:?}", AccountRef::General(crate::chart::account("129000"))),
            ];
            let on_result = |m: &mut BTreeMap<String, Decimal>| -> Decimal {
                result_accounts.iter().filter_map(|a| m.remove(a)).sum()
            };
            let booked = on_result(&mut sheet.clone()) - on_result(&mut carried.clone());
            on_result(&mut sheet);
            on_result(&mut carried);
            carried.retain(|_, v| !v.is_zero());
            assert_eq!(carried, sheet, "opening {n}: carried balances");
            assert_eq!(booked, result, "opening {n}: the year's result");
            assert!(!result.is_zero());
            let debit: Decimal = entry.lines.iter().map(|l| l.debit).sum();
            let credit: Decimal = entry.lines.iter().map(|l| l.credit).sum();
            assert_eq!(debit, credit);
            // Dates stay in index order around it.
            assert!(w.entry_date(opening.entry - 1) < opening.date);
            assert!(w.entry_date(opening.entry + 1) >= opening.date);
        }
    }

    /// The index agrees with the entries: each entry's lines, opening entries included,
    /// are where the index says, and balance.
    #[test]
    fn the_line_index_counts_every_entry() {
        let w = world(3_000);
        for e in 0..w.entries {
            let entry = ledger::entry(&w, e);
            assert_eq!(entry.lines.len(), w.entry_lines(e).1, "entry {e}");
            let debit: Decimal = entry.lines.iter().map(|l| l.debit).sum();
            let credit: Decimal = entry.lines.iter().map(|l| l.credit).sum();
            assert_eq!(debit, credit, "entry {e} {:?}", entry.document);
        }
    }

    #[test]
    fn time_grows_with_the_index_and_stays_before_the_clock() {
        let w = world(2_000);
        for e in 1..w.entries {
            assert!(w.entry_time(e) > w.entry_time(e - 1));
        }
        assert!(w.entry_time(w.entries - 1) < w.end);
        assert!(w.entry_time(0) >= w.start);
        let (first, count) = w.entry_lines(3);
        assert_eq!(w.line_entry(first), (3, 0));
        assert_eq!(w.line_entry(first + count - 1), (3, count - 1));
    }
}
