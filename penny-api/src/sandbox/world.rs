//! The generated world of one company: its size, its calendar and the layout of its
//! business documents, from which every record is rebuilt on demand by index.
//!
//! The books are a sequence of ledger entries `0..entries`. Entry 0 is the opening entry
//! (journal AN); the others repeat a cycle of ten documents:
//!
//! | slot | document | journal | lines |
//! |---|---|---|---|
//! | 0, 1, 2 | customer invoice (every 24th is a credit note) | VE | 411x / 70x per line / 4457x per rate |
//! | 3, 4 | supplier invoice | AC | 401x / 6xx per line / 4456x per rate |
//! | 5, 6 | customer payment of invoices 0 and 1 of the cycle | BQ | 512 / 411x |
//! | 7 | supplier payment of invoice 3 of the cycle | BQ | 401x / 512 |
//! | 8 | bank fees | BQ | 627 / 512 |
//! | 9 | payroll (two cycles out of three) or depreciation | OD | 641, 645 / 421, 431 or 681 / 2818 |
//!
//! So invoice 2 of each cycle and supplier invoice 4 stay open (receivables and payables),
//! and every payment, bank fee and transfer has its bank transaction. Entries are spread
//! evenly in time from January 1st two years before the clock to one hour before it, so
//! `date`, `created_at` and `id` all grow with the index: a sort on any of them is the
//! index order, and a filter on them is a binary search.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::rng::{Dice, mix};

/// Documents per cycle (see the module docs).
pub(crate) const CYCLE: usize = 10;

/// What ledger entry `e` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// The opening entry (AN).
    Opening,
    /// Customer invoice number `k` (index among customer invoices).
    Sale(usize),
    /// Supplier invoice `k`.
    Purchase(usize),
    /// The payment of customer invoice `sale`, bank transaction `transaction`.
    CustomerPayment { sale: usize, transaction: usize },
    /// The payment of supplier invoice `purchase`.
    SupplierPayment { purchase: usize, transaction: usize },
    /// Bank fees of cycle `cycle`.
    BankFee { cycle: usize, transaction: usize },
    /// Payroll or depreciation of cycle `cycle` (OD).
    Miscellaneous { cycle: usize },
}

/// One company's generated world: sizes and the index of its ledger.
#[derive(Debug)]
pub(crate) struct World {
    /// The company id (1-based).
    pub company_id: i64,
    /// The company's name.
    pub company_name: String,
    /// The per-company key every dice derives from.
    pub key: u64,
    /// When the books begin (January 1st, two years before the clock).
    pub start: DateTime<Utc>,
    /// The sandbox clock when the world was generated.
    pub end: DateTime<Utc>,
    /// Number of ledger entries.
    pub entries: usize,
    /// `line_start[e]` is the index of the first line of entry `e`; `line_start[entries]`
    /// is the number of lines.
    line_start: Vec<u64>,
    /// Number of customers.
    pub customers: usize,
    /// Number of suppliers.
    pub suppliers: usize,
    /// The API base URL records' `url`s point at.
    pub base_url: String,
}

impl World {
    /// Generates the layout of company `company_id` with about `ledger_lines` lines (at
    /// least that many, ending on a whole entry).
    pub(crate) fn new(
        seed: u64,
        company_id: i64,
        ledger_lines: usize,
        clock: DateTime<Utc>,
        base_url: String,
    ) -> World {
        let key = mix(seed ^ mix(company_id as u64));
        let customers = (ledger_lines / 150).clamp(8, 5_000);
        let suppliers = (ledger_lines / 400).clamp(5, 2_000);
        let start = Utc
            .with_ymd_and_hms(clock.year() - 2, 1, 1, 0, 0, 0)
            .single()
            .expect("January 1st at midnight UTC exists");
        let end = clock - chrono::Duration::hours(1);
        let mut dice = Dice::new(key, 0xC0, 0);
        let company_name = format!(
            "{} {} {}",
            dice.pick(super::names::TRADES),
            dice.pick(super::names::LAST_NAMES),
            dice.pick(super::names::LEGAL_FORMS)
        );
        let mut world = World {
            company_id,
            company_name,
            key,
            start,
            end,
            entries: 0,
            line_start: vec![0],
            customers,
            suppliers,
            base_url,
        };
        let target = ledger_lines.max(1) as u64;
        let mut total = 0u64;
        let mut e = 0;
        while total < target {
            total += world.line_count(e) as u64;
            world.line_start.push(total);
            e += 1;
        }
        world.entries = e;
        world
    }

    /// Number of ledger entry lines.
    pub(crate) fn lines(&self) -> usize {
        self.line_start[self.entries] as usize
    }

    /// The first line index of entry `e` and its number of lines.
    pub(crate) fn entry_lines(&self, e: usize) -> (usize, usize) {
        let first = self.line_start[e];
        (first as usize, (self.line_start[e + 1] - first) as usize)
    }

    /// The entry that holds line `l`, and the line's position in it.
    pub(crate) fn line_entry(&self, l: usize) -> (usize, usize) {
        let e = self.line_start.partition_point(|&s| s <= l as u64) - 1;
        (e, l - self.line_start[e] as usize)
    }

    /// The moment entry `e` was recorded (evenly spread, strictly increasing).
    pub(crate) fn entry_time(&self, e: usize) -> DateTime<Utc> {
        let span = (self.end - self.start).num_seconds().max(1) as i128;
        let n = self.entries.max(1) as i128;
        let offset = span * (2 * e as i128 + 1) / (2 * n);
        self.start + chrono::Duration::seconds(offset as i64)
    }

    /// The accounting date of entry `e`.
    pub(crate) fn entry_date(&self, e: usize) -> NaiveDate {
        self.entry_time(e).date_naive()
    }

    /// The creation time of the `i`-th of `n` reference records (customers, products...),
    /// spread over the first year, strictly increasing with `i`.
    pub(crate) fn reference_time(&self, i: usize, n: usize) -> DateTime<Utc> {
        let span = 365 * 86_400i64;
        self.start + chrono::Duration::seconds(span * i as i64 / n.max(1) as i64 + 3_600)
    }

    /// What entry `e` records.
    pub(crate) fn document(e: usize) -> Document {
        if e == 0 {
            return Document::Opening;
        }
        let cycle = (e - 1) / CYCLE;
        match (e - 1) % CYCLE {
            s @ 0..=2 => Document::Sale(cycle * 3 + s),
            s @ 3..=4 => Document::Purchase(cycle * 2 + s - 3),
            s @ 5..=6 => Document::CustomerPayment {
                sale: cycle * 3 + s - 5,
                transaction: cycle * 4 + s - 5,
            },
            7 => Document::SupplierPayment {
                purchase: cycle * 2,
                transaction: cycle * 4 + 2,
            },
            8 => Document::BankFee {
                cycle,
                transaction: cycle * 4 + 3,
            },
            _ => Document::Miscellaneous { cycle },
        }
    }

    /// How many entries `< self.entries` fall on cycle slots `slots`.
    fn count_slots(&self, slots: std::ops::Range<usize>) -> usize {
        if self.entries <= 1 {
            return 0;
        }
        let full = (self.entries - 1) / CYCLE;
        let rem = (self.entries - 1) % CYCLE;
        let width = slots.end - slots.start;
        full * width + rem.saturating_sub(slots.start).min(width)
    }

    /// Number of customer invoices.
    pub(crate) fn sales(&self) -> usize {
        self.count_slots(0..3)
    }

    /// Number of supplier invoices.
    pub(crate) fn purchases(&self) -> usize {
        self.count_slots(3..5)
    }

    /// Number of bank transactions.
    pub(crate) fn transactions(&self) -> usize {
        self.count_slots(5..9)
    }

    /// The entry of customer invoice `k`.
    pub(crate) fn sale_entry(k: usize) -> usize {
        1 + (k / 3) * CYCLE + k % 3
    }

    /// The entry of supplier invoice `k`.
    pub(crate) fn purchase_entry(k: usize) -> usize {
        1 + (k / 2) * CYCLE + 3 + k % 2
    }

    /// The entry of bank transaction `k`.
    pub(crate) fn transaction_entry(k: usize) -> usize {
        1 + (k / 4) * CYCLE + 5 + k % 4
    }

    /// The payment entry of customer invoice `k`, if it is paid.
    pub(crate) fn sale_payment_entry(&self, k: usize) -> Option<usize> {
        if k % 3 == 2 || self.is_credit_note(k) {
            return None;
        }
        Some(1 + (k / 3) * CYCLE + 5 + k % 3).filter(|&e| e < self.entries)
    }

    /// The payment entry of supplier invoice `k`, if it is paid.
    pub(crate) fn purchase_payment_entry(&self, k: usize) -> Option<usize> {
        if k % 2 == 1 {
            return None;
        }
        Some(1 + (k / 2) * CYCLE + 7).filter(|&e| e < self.entries)
    }

    /// Whether customer invoice `k` is a credit note (of invoice `k - 2`).
    pub(crate) fn is_credit_note(&self, k: usize) -> bool {
        k % 3 == 2 && (k / 3) % 8 == 7
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn world(lines: usize) -> World {
        let clock = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
        World::new(42, 1, lines, clock, "http://x".into())
    }

    #[test]
    fn documents_and_their_entries_agree() {
        let w = world(5_000);
        assert!(w.lines() >= 5_000 && w.lines() < 5_020);
        let mut sales = 0;
        let mut purchases = 0;
        let mut transactions = 0;
        for e in 0..w.entries {
            match World::document(e) {
                Document::Sale(k) => {
                    assert_eq!(World::sale_entry(k), e);
                    sales += 1;
                }
                Document::Purchase(k) => {
                    assert_eq!(World::purchase_entry(k), e);
                    purchases += 1;
                }
                Document::CustomerPayment { sale, transaction } => {
                    assert_eq!(w.sale_payment_entry(sale), Some(e));
                    assert_eq!(World::transaction_entry(transaction), e);
                    transactions += 1;
                }
                Document::SupplierPayment {
                    purchase,
                    transaction,
                } => {
                    assert_eq!(w.purchase_payment_entry(purchase), Some(e));
                    assert_eq!(World::transaction_entry(transaction), e);
                    transactions += 1;
                }
                Document::BankFee { transaction, .. } => {
                    assert_eq!(World::transaction_entry(transaction), e);
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
