//! The reports accountants build by hand today, as pure functions over canonical records.
//!
//! Memory: functions over ledger lines take any `IntoIterator<Item = &LedgerLine>` (a
//! slice, or `batches.iter().flatten()` over chunks decoded one at a time), and the
//! aggregating ones also expose a builder with `add(&LedgerLine)` / `finish()`. They hold
//! one accumulator per group (per account, per account and month, per entry), never the
//! input. The exceptions say so: the general ledger and the FEC export hold the lines
//! they output (they list every line), sorted.
//!
//! - [`trial_balance`]: balance générale per account and period.
//! - [`general_ledger`]: grand livre with running balance.
//! - [`aged_balance`]: balance âgée of receivables and payables.
//! - [`sig`]: income statement and soldes intermédiaires de gestion by month.
//! - [`vat`]: VAT summary by account, by rate and by period.
//! - [`fec`]: the Fichier des Écritures Comptables, written and parsed back.
//! - [`reconcile`]: Penny's sums compared with Pennylane's own trial balance.
//! - [`review`]: the checks of a closing review (révision), per company and fiscal year.
//!
//! The report tables of the star schema, and what they are computed from without
//! holding the ledger lines:
//!
//! - [`tables`]: the five report tables' schemas and rows (`report_trial_balance`,
//!   `report_fiscal_results`, `report_aged_receivables` / `report_aged_payables`,
//!   `report_sig`, `report_vat`), and which rows a change reaches;
//! - [`line_sums`]: the ledger lines summed per company, account and period;
//! - [`invoice_digest`]: the invoices, their lines and payments digested into open
//!   amounts and VAT sums;
//! - [`invoice_read_back`]: the invoices, lines and payments read back from their
//!   canonical tables, for the digest to take their old versions away;
//! - [`incremental`]: a table's rows written whole or merged, and why saved sums
//!   cannot be changed by difference.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

pub mod aged_balance;
pub mod fec;
pub mod general_ledger;
pub mod incremental;
pub mod invoice_digest;
pub mod invoice_read_back;
pub mod line_sums;
pub mod reconcile;
pub mod review;
pub mod sig;
pub mod tables;
pub mod trial_balance;
pub mod vat;

/// A small, fast, non-cryptographic hasher (the Fx hash of rustc) for aggregation maps
/// keyed by ids and account numbers: the inputs are not attacker-chosen.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// An exact running sum of amounts, fast for the common case of two decimals: those
/// are added as integer cents (`i64`, while they fit), others as [`Decimal`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sum {
    cents: i64,
    other: Decimal,
}

impl Sum {
    /// Adds `d`.
    #[inline]
    pub(crate) fn add(&mut self, d: Decimal) {
        if d.scale() == 2
            && let Ok(m) = i64::try_from(d.mantissa())
            && let Some(total) = self.cents.checked_add(m)
        {
            self.cents = total;
            return;
        }
        self.other += d;
    }

    /// Subtracts `d`.
    #[inline]
    pub(crate) fn sub(&mut self, d: Decimal) {
        if d.scale() == 2
            && let Ok(m) = i64::try_from(d.mantissa())
            && let Some(total) = self.cents.checked_sub(m)
        {
            self.cents = total;
            return;
        }
        self.other -= d;
    }

    /// The total (saturating at the limits of [`Decimal`], some 7.9e26 euros).
    pub(crate) fn value(&self) -> Decimal {
        let cents = Decimal::new(self.cents, 2);
        if self.other.is_zero() {
            return cents;
        }
        cents
            .checked_add(self.other)
            .unwrap_or(if self.other.is_sign_negative() {
                Decimal::MIN
            } else {
                Decimal::MAX
            })
    }
}

/// An account number of up to 24 bytes held inline, with its company: a hash key that
/// needs no pointer chasing to hash or compare.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey {
    company: i64,
    words: [u64; 3],
    len: u8,
}

impl std::hash::Hash for ShortKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_i64(self.company);
        state.write_u64(self.words[0]);
        if self.len > 8 {
            state.write_u64(self.words[1]);
            state.write_u64(self.words[2]);
        }
        state.write_u8(self.len);
    }
}

/// Dense indices for (company, account number) pairs, so that aggregations keep their
/// accumulators in flat vectors.
#[derive(Debug, Default)]
pub(crate) struct AccountIndex {
    short: FastMap<ShortKey, u32>,
    long: FastMap<(i64, String), u32>,
    keys: Vec<(i64, String)>,
}

impl std::fmt::Debug for ShortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShortKey({}, {} bytes)", self.company, self.len)
    }
}

impl AccountIndex {
    /// The index of the pair, and whether it is new (then it equals the previous `len()`).
    #[inline]
    pub(crate) fn index(&mut self, company: i64, account: &str) -> (usize, bool) {
        let bytes = account.as_bytes();
        if bytes.len() <= 24 {
            let mut words = [0u64; 3];
            for (i, &b) in bytes.iter().enumerate() {
                words[i / 8] |= u64::from(b) << ((i % 8) * 8);
            }
            let key = ShortKey {
                company,
                words,
                len: bytes.len() as u8,
            };
            if let Some(&i) = self.short.get(&key) {
                return (i as usize, false);
            }
            let i = self.keys.len();
            self.short.insert(key, i as u32);
            self.keys.push((company, account.to_owned()));
            return (i, true);
        }
        let owned = (company, account.to_owned());
        if let Some(&i) = self.long.get(&owned) {
            return (i as usize, false);
        }
        let i = self.keys.len();
        self.long.insert(owned.clone(), i as u32);
        self.keys.push(owned);
        (i, true)
    }

    /// The pairs, by index.
    pub(crate) fn keys(&self) -> &[(i64, String)] {
        &self.keys
    }

    /// Number of pairs.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Where a day falls among a company's fiscal years (see [`FiscalCalendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearPlace {
    /// In the `k`-th fiscal year (sorted by first day).
    In(usize),
    /// Before the `k`-th fiscal year and after the one before it, if any: a line there
    /// is carried into year `k` as if it belonged to the year before.
    Before(usize),
    /// After the last fiscal year (the fiscal-year reports leave such lines out), or
    /// the company has no fiscal year.
    After,
}

/// The companies' fiscal years and opening journals: which fiscal year a day falls in,
/// and which ledger lines are opening entries (à-nouveaux): a line of an opening journal
/// ([`OpeningJournals`](crate::canonical::OpeningJournals)) dated on the first day of one of its company's fiscal years.
///
/// ```
/// use chrono::NaiveDate;
/// use penny_transform::canonical::{FiscalYear, OpeningJournals};
/// use penny_transform::reports::{FiscalCalendar, YearPlace};
///
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let years = FiscalYear::assumed(1, 1, d(2025, 1, 1), d(2026, 12, 31));
/// let calendar = FiscalCalendar::new(&years, OpeningJournals::default());
/// assert_eq!(calendar.place(1, d(2026, 3, 1)), YearPlace::In(1));
/// assert_eq!(calendar.place(1, d(2024, 3, 1)), YearPlace::Before(0));
/// assert!(calendar.is_opening(1, "AN", d(2026, 1, 1)));
/// assert!(!calendar.is_opening(1, "AN", d(2026, 1, 2)));
/// assert!(!calendar.is_opening(1, "OD", d(2026, 1, 1)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FiscalCalendar {
    years: FastMap<i64, Vec<crate::canonical::FiscalYear>>,
    journals: crate::canonical::OpeningJournals,
}

impl FiscalCalendar {
    /// The calendar of `fiscal_years` (any companies, any order) and `journals`.
    pub fn new(
        fiscal_years: &[crate::canonical::FiscalYear],
        journals: crate::canonical::OpeningJournals,
    ) -> Self {
        let mut years: FastMap<i64, Vec<crate::canonical::FiscalYear>> = FastMap::default();
        for fy in fiscal_years {
            years.entry(fy.company_id).or_default().push(fy.clone());
        }
        for list in years.values_mut() {
            list.sort_by_key(|fy| fy.start);
            list.dedup_by_key(|fy| fy.start);
        }
        FiscalCalendar { years, journals }
    }

    /// The fiscal years of a company, sorted by first day.
    pub fn years(&self, company_id: i64) -> &[crate::canonical::FiscalYear] {
        self.years.get(&company_id).map_or(&[], Vec::as_slice)
    }

    /// The opening journals.
    pub fn journals(&self) -> &crate::canonical::OpeningJournals {
        &self.journals
    }

    /// Where `date` falls among the company's fiscal years.
    pub fn place(&self, company_id: i64, date: NaiveDate) -> YearPlace {
        let years = self.years(company_id);
        let k = years.partition_point(|fy| fy.start <= date);
        if k == 0 {
            return if years.is_empty() {
                YearPlace::After
            } else {
                YearPlace::Before(0)
            };
        }
        if date <= years[k - 1].end {
            YearPlace::In(k - 1)
        } else if k < years.len() {
            YearPlace::Before(k)
        } else {
            YearPlace::After
        }
    }

    /// Whether a line of journal `journal_code` dated `date` is an opening entry: an
    /// opening journal's, on the first day of one of the company's fiscal years.
    pub fn is_opening(&self, company_id: i64, journal_code: &str, date: NaiveDate) -> bool {
        self.journals.contains(company_id, journal_code)
            && self
                .years(company_id)
                .binary_search_by_key(&date, |fy| fy.start)
                .is_ok()
    }

    /// [`is_opening`](Self::is_opening) of a ledger line.
    pub fn is_opening_line(&self, line: &crate::canonical::LedgerLine) -> bool {
        self.is_opening(line.company_id, &line.journal_code, line.date)
    }
}

/// The first day of `date`'s month.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).expect("day 1 exists in every month")
}

/// The last day of `date`'s month.
pub fn month_end(date: NaiveDate) -> NaiveDate {
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .expect("the month after a valid date exists")
}

/// Months between the months of `from` and `date` (0 for the same month; negative before).
pub(crate) fn month_index(from: NaiveDate, date: NaiveDate) -> i64 {
    (i64::from(date.year()) - i64::from(from.year())) * 12 + i64::from(date.month())
        - i64::from(from.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_exact_at_any_scale() {
        let mut s = Sum::default();
        s.add(Decimal::new(1050, 2));
        s.add(Decimal::new(3, 0));
        s.add(Decimal::new(5, 1));
        s.sub(Decimal::new(1, 3));
        assert_eq!(s.value(), Decimal::new(13_999, 3));
        assert_eq!(s.value().to_string(), "13.999");
        let mut big = Sum::default();
        let near_max = Decimal::new(i64::MAX, 2);
        big.add(near_max);
        big.add(near_max);
        big.sub(Decimal::new(1, 2));
        assert_eq!(big.value(), near_max + near_max - Decimal::new(1, 2));
        assert_eq!(Sum::default().value().to_string(), "0.00");
    }

    #[test]
    fn account_index_is_dense_and_exact() {
        let mut idx = AccountIndex::default();
        let long = "4".repeat(30);
        assert_eq!(idx.index(1, "411DUPONT"), (0, true));
        assert_eq!(idx.index(2, "411DUPONT"), (1, true));
        assert_eq!(idx.index(1, "411DUPONT"), (0, false));
        assert_eq!(idx.index(1, "411DUPONT0"), (2, true));
        assert_eq!(idx.index(1, &long), (3, true));
        assert_eq!(idx.index(1, &long), (3, false));
        assert_eq!(idx.index(1, ""), (4, true));
        assert_eq!(idx.len(), 5);
        assert_eq!(idx.keys()[2], (1, "411DUPONT0".to_owned()));
    }

    #[test]
    fn month_helpers() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(month_start(d(2026, 2, 17)), d(2026, 2, 1));
        assert_eq!(month_end(d(2024, 2, 3)), d(2024, 2, 29));
        assert_eq!(month_end(d(2026, 12, 3)), d(2026, 12, 31));
        assert_eq!(month_index(d(2025, 11, 5), d(2026, 2, 1)), 3);
        assert_eq!(month_index(d(2026, 1, 5), d(2025, 12, 1)), -1);
    }
}
