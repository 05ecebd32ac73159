//! The generated world of one company: its size, its calendar and the layout of its
//! business documents, from which every record is rebuilt on demand by index.
//!
//! The books are a sequence of ledger entries `0..entries`. Entry 0 is the opening entry
//! of the first fiscal year (journal AN). Each later fiscal year (one per calendar year)
//! opens, on its first day, with an AN entry carrying the balance-sheet balances
//! (classes 1 to 5) of the year before and booking that year's result (classes 7 minus
//! 6) on 120000 (profit) or 129000 (loss). The other entries repeat a cycle of ten
//! documents:
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

use crate::names;
use crate::posting::Line;
use crate::rng::{Dice, mix};

/// Draft customer invoices (not booked: no entry, no number), after the booked ones.
pub(crate) const DRAFTS: usize = 3;
/// Proforma invoices (not booked either), after the drafts.
pub(crate) const PROFORMAS: usize = 1;

/// A customer invoice outside the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unbooked {
    /// `draft: true`, status `draft`, no invoice number.
    Draft,
    /// Status `proforma`.
    Proforma,
}

/// First `i` in `0..n` for which `below(i)` is false (`below` must be monotone).
fn partition_point(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Documents per cycle (see the module docs).
pub(crate) const CYCLE: usize = 10;

/// What ledger entry `e` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// The opening entry of the first fiscal year (AN).
    Opening,
    /// The opening entry of fiscal year `n + 1` (AN): the carried balances of year `n`.
    YearOpening(usize),
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
    /// Number of cycle entries (all but the opening entries).
    regular: usize,
    /// The opening entries of the fiscal years after the first, in date order.
    openings: Vec<YearOpening>,
}

/// The opening entry of a fiscal year after the first.
#[derive(Debug)]
pub(crate) struct YearOpening {
    /// Its entry index.
    pub entry: usize,
    /// The fiscal year's first day.
    pub date: NaiveDate,
    /// The carried balances and the result of the year before.
    pub lines: Vec<Line>,
}

impl World {
    /// The world of company `company_id` before its books: its key, name, parties and
    /// calendar, no entry yet. `ledger_lines` sizes the parties; [`World::lay_out`]
    /// then places the entries (see `generate.rs`).
    pub(crate) fn blank(
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
            dice.pick(names::TRADES),
            dice.pick(names::LAST_NAMES),
            dice.pick(names::LEGAL_FORMS)
        );
        World {
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
            regular: 0,
            openings: Vec::new(),
        }
    }

    /// Lays out the books: the first year's opening entry, `regular` cycle entries, and
    /// one opening entry per January 1st after the first, before the clock, at the
    /// first entry at or after it in time (their lines still empty, see
    /// [`World::set_opening_lines`]).
    pub(crate) fn lay_out(&mut self, regular: usize) {
        let boundaries: Vec<NaiveDate> = (self.start.year() + 1..=self.end.year())
            .filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1))
            .filter(|d| {
                d.and_hms_opt(0, 0, 0)
                    .is_some_and(|t| t.and_utc() < self.end)
            })
            .collect();
        self.entries = 1 + regular + boundaries.len();
        self.regular = regular + boundaries.len();
        let mut positions: Vec<(usize, NaiveDate)> = Vec::new();
        for date in boundaries {
            let Some(midnight) = date.and_hms_opt(0, 0, 0) else {
                continue;
            };
            let at = partition_point(self.entries, |e| self.entry_time(e) < midnight.and_utc());
            let at = at.max(positions.last().map_or(1, |(p, _)| p + 1));
            if at < self.entries {
                positions.push((at, date));
            }
        }
        // Boundaries that found no room become cycle entries.
        self.regular = self.entries - 1 - positions.len();
        self.openings = positions
            .into_iter()
            .map(|(entry, date)| YearOpening {
                entry,
                date,
                lines: Vec::new(),
            })
            .collect();
    }

    /// Gives the opening entry of fiscal year `n + 1` its lines.
    pub(crate) fn set_opening_lines(&mut self, n: usize, lines: Vec<Line>) {
        self.openings[n].lines = lines;
    }

    /// Indexes the lines: `line_start[e]` is the first line of entry `e`, and one more
    /// value, the number of lines, ends the list (so `entries + 1` values, from 0).
    pub(crate) fn set_line_starts(&mut self, line_start: Vec<u64>) {
        debug_assert_eq!(line_start.len(), self.entries + 1);
        self.line_start = line_start;
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
        match self.opening(e) {
            Some(o) => o.date,
            None => self.entry_time(e).date_naive(),
        }
    }

    /// The opening entries of the fiscal years after the first.
    pub(crate) fn openings(&self) -> &[YearOpening] {
        &self.openings
    }

    /// The lines of the opening entry of fiscal year `n + 1` (counting from 0).
    pub(crate) fn opening_lines(&self, n: usize) -> &[Line] {
        self.openings()
            .get(n)
            .map(|o| o.lines.as_slice())
            .unwrap_or(&[])
    }

    /// The opening entry at index `e`, if it is one (after the first year's).
    pub(crate) fn opening(&self, e: usize) -> Option<&YearOpening> {
        self.openings.iter().find(|o| o.entry == e)
    }

    /// The entry index of cycle entry `r`.
    fn entry_of_regular(&self, r: usize) -> usize {
        let mut e = 1 + r;
        for o in &self.openings {
            if o.entry <= e {
                e += 1;
            }
        }
        e
    }

    /// The creation time of the `i`-th of `n` reference records (customers, products...),
    /// spread over the first year, strictly increasing with `i`.
    pub(crate) fn reference_time(&self, i: usize, n: usize) -> DateTime<Utc> {
        let span = 365 * 86_400i64;
        self.start + chrono::Duration::seconds(span * i as i64 / n.max(1) as i64 + 3_600)
    }

    /// What entry `e` records.
    pub(crate) fn document(&self, e: usize) -> Document {
        if e == 0 {
            return Document::Opening;
        }
        if let Some(n) = self.openings.iter().position(|o| o.entry == e) {
            return Document::YearOpening(n);
        }
        let before = self.openings.iter().filter(|o| o.entry < e).count();
        World::regular_document(e - 1 - before)
    }

    /// What cycle entry `r` records.
    pub(crate) fn regular_document(r: usize) -> Document {
        let cycle = r / CYCLE;
        match r % CYCLE {
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

    /// How many cycle entries fall on cycle slots `slots`.
    fn count_slots(&self, slots: std::ops::Range<usize>) -> usize {
        let full = self.regular / CYCLE;
        let rem = self.regular % CYCLE;
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
    pub(crate) fn sale_entry(&self, k: usize) -> usize {
        self.entry_of_regular((k / 3) * CYCLE + k % 3)
    }

    /// The entry of supplier invoice `k`.
    pub(crate) fn purchase_entry(&self, k: usize) -> usize {
        self.entry_of_regular((k / 2) * CYCLE + 3 + k % 2)
    }

    /// The entry of bank transaction `k`.
    pub(crate) fn transaction_entry(&self, k: usize) -> usize {
        self.entry_of_regular((k / 4) * CYCLE + 5 + k % 4)
    }

    /// The payment entry of customer invoice `k`, if it is paid.
    pub(crate) fn sale_payment_entry(&self, k: usize) -> Option<usize> {
        if k % 3 == 2 || self.is_credit_note(k) || k >= self.sales() {
            return None;
        }
        let r = (k / 3) * CYCLE + 5 + k % 3;
        (r < self.regular).then(|| self.entry_of_regular(r))
    }

    /// The payment entry of supplier invoice `k`, if it is paid.
    pub(crate) fn purchase_payment_entry(&self, k: usize) -> Option<usize> {
        if k % 2 == 1 {
            return None;
        }
        let r = (k / 2) * CYCLE + 7;
        (r < self.regular).then(|| self.entry_of_regular(r))
    }

    /// Whether customer invoice `k` is a credit note (of invoice `k - 2`).
    pub(crate) fn is_credit_note(&self, k: usize) -> bool {
        k % 3 == 2 && (k / 3) % 8 == 7 && self.unbooked(k).is_none()
    }

    /// For a customer invoice `k` past the booked ones: which of the unbooked documents
    /// it is (drafts, then a proforma), by its rank among them.
    pub(crate) fn unbooked(&self, k: usize) -> Option<(usize, Unbooked)> {
        let j = k.checked_sub(self.sales())?;
        match j {
            _ if j < DRAFTS => Some((j, Unbooked::Draft)),
            _ if j < DRAFTS + PROFORMAS => Some((j, Unbooked::Proforma)),
            _ => None,
        }
    }

    /// When unbooked document `j` was made: after every entry, before the clock.
    pub(crate) fn unbooked_time(&self, j: usize) -> DateTime<Utc> {
        let last = self.entry_time(self.entries.saturating_sub(1));
        last + chrono::Duration::seconds(j as i64 + 1)
    }
}
