//! Trial balance (balance générale): per company, account and period, the opening
//! balance, the debits, the credits and the closing balance.
//!
//! Balances are signed debit minus credit. The opening balance of the first period is
//! every line dated before `from` (include the opening entries, journal `AN`, in the
//! input; pass only the current fiscal year's lines if P&L accounts must start at zero);
//! lines after `to` are ignored. With [`Granularity::Monthly`] there is one row per
//! account and month, each month opening on the previous one's closing.
//!
//! Memory: one accumulator per (company, account), holding one debit and one credit
//! total per period. Lines are added one at a time ([`TrialBalanceBuilder::add`]);
//! [`trial_balance_parallel`] shares chunks of lines between threads and merges.
//!
//! ```
//! use chrono::NaiveDate;
//! use rust_decimal::Decimal;
//! use penny_transform::canonical::LedgerLine;
//! use penny_transform::reports::trial_balance::{trial_balance, TrialBalanceOptions};
//!
//! let d = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
//! let line = |account: &str, debit: i64, credit: i64| LedgerLine {
//!     company_id: 1, entry_id: 1, line_id: debit + credit, date: d,
//!     journal_code: "VT".into(), account_number: account.into(), label: "Facture".into(),
//!     debit: Decimal::new(debit, 2), credit: Decimal::new(credit, 2),
//!     third_party: None, document_ref: None, due_date: None, lettering: None, categories: None,
//! };
//! let lines = [line("411DUPONT", 12000, 0), line("706000", 0, 10000), line("445710", 0, 2000)];
//! let mut options = TrialBalanceOptions::new(d, d);
//! options.aggregate_auxiliaries = true;
//! let tb = trial_balance(&lines, &options);
//! assert_eq!(tb.rows[0].account_number, "411");
//! assert_eq!(tb.rows[0].closing, Decimal::new(12000, 2));
//! assert!(tb.total_closing().is_zero());
//! ```

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{AccountIndex, Sum, month_end, month_index, month_start};
use crate::canonical::LedgerLine;
use crate::pcg;

/// One row for the whole range, or one per month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    /// One period: `from` to `to`.
    #[default]
    Whole,
    /// One period per calendar month (the first starts at `from`, the last ends at `to`).
    Monthly,
}

/// What the trial balance covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalanceOptions {
    /// First day of the range (lines before it make the opening balance).
    pub from: NaiveDate,
    /// Last day of the range (inclusive; later lines are ignored).
    pub to: NaiveDate,
    /// Aggregate auxiliary accounts into their root (`411DUPONT` into `411`), see
    /// [`pcg::auxiliary_root`].
    pub aggregate_auxiliaries: bool,
    /// Whole range or monthly.
    pub granularity: Granularity,
}

impl TrialBalanceOptions {
    /// The whole range, auxiliaries kept apart.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        TrialBalanceOptions {
            from,
            to,
            aggregate_auxiliaries: false,
            granularity: Granularity::Whole,
        }
    }

    fn periods(&self) -> usize {
        match self.granularity {
            Granularity::Whole => 1,
            Granularity::Monthly => {
                usize::try_from(month_index(self.from, self.to) + 1).unwrap_or(0)
            }
        }
    }

    fn period_bounds(&self, index: usize) -> (NaiveDate, NaiveDate) {
        match self.granularity {
            Granularity::Whole => (self.from, self.to),
            Granularity::Monthly => {
                let start = month_start(self.from)
                    .checked_add_months(chrono::Months::new(index as u32))
                    .unwrap_or(self.to);
                (start.max(self.from), month_end(start).min(self.to))
            }
        }
    }
}

/// One account over one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialBalanceRow {
    /// The company.
    pub company_id: i64,
    /// The account (or the root, when auxiliaries are aggregated).
    pub account_number: String,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period.
    pub period_end: NaiveDate,
    /// Balance (debit minus credit) before the period.
    pub opening: Decimal,
    /// Debits in the period.
    pub debit: Decimal,
    /// Credits in the period.
    pub credit: Decimal,
    /// `opening + debit - credit`.
    pub closing: Decimal,
}

/// A trial balance: rows sorted by company, account, period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrialBalance {
    /// The rows.
    pub rows: Vec<TrialBalanceRow>,
}

impl TrialBalance {
    /// Sum of the closing balances of the last period (zero for balanced books).
    pub fn total_closing(&self) -> Decimal {
        let last = self.rows.iter().map(|r| r.period_end).max();
        self.rows
            .iter()
            .filter(|r| Some(r.period_end) == last)
            .map(|r| r.closing)
            .sum()
    }

    /// Per company: total debits and total credits over all periods.
    pub fn totals_by_company(&self) -> Vec<(i64, Decimal, Decimal)> {
        let mut out: Vec<(i64, Decimal, Decimal)> = Vec::new();
        for r in &self.rows {
            match out.last_mut() {
                Some(last) if last.0 == r.company_id => {
                    last.1 += r.debit;
                    last.2 += r.credit;
                }
                _ => out.push((r.company_id, r.debit, r.credit)),
            }
        }
        out
    }

    /// The row of an account for the period starting on `period_start`.
    pub fn row(
        &self,
        company_id: i64,
        account: &str,
        period_start: NaiveDate,
    ) -> Option<&TrialBalanceRow> {
        self.rows.iter().find(|r| {
            r.company_id == company_id
                && r.account_number == account
                && r.period_start == period_start
        })
    }
}

/// Accumulates ledger lines into a trial balance, one line at a time.
///
/// Accumulators live in one flat vector: per account, the opening balance then a debit
/// and a credit total per period.
#[derive(Debug)]
pub struct TrialBalanceBuilder {
    options: TrialBalanceOptions,
    periods: usize,
    accounts: AccountIndex,
    sums: Vec<Sum>,
}

impl TrialBalanceBuilder {
    /// An empty trial balance.
    pub fn new(options: TrialBalanceOptions) -> Self {
        TrialBalanceBuilder {
            periods: options.periods(),
            options,
            accounts: AccountIndex::default(),
            sums: Vec::new(),
        }
    }

    fn stride(&self) -> usize {
        1 + 2 * self.periods
    }

    fn slot(&mut self, company_id: i64, account: &str) -> usize {
        let (index, new) = self.accounts.index(company_id, account);
        if new {
            let stride = self.stride();
            self.sums.resize(self.sums.len() + stride, Sum::default());
        }
        index * self.stride()
    }

    /// Adds one line.
    #[inline]
    pub fn add(&mut self, line: &LedgerLine) {
        if line.date > self.options.to {
            return;
        }
        let account = if self.options.aggregate_auxiliaries {
            pcg::auxiliary_root(&line.account_number)
        } else {
            &*line.account_number
        };
        let base = self.slot(line.company_id, account);
        if line.date < self.options.from {
            let opening = &mut self.sums[base];
            opening.add(line.debit);
            opening.sub(line.credit);
            return;
        }
        let period = match self.options.granularity {
            Granularity::Whole => 0,
            Granularity::Monthly => month_index(self.options.from, line.date) as usize,
        };
        let at = base + 1 + 2 * period;
        self.sums[at].add(line.debit);
        self.sums[at + 1].add(line.credit);
    }

    /// Adds lines.
    pub fn extend<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for line in lines {
            self.add(line);
        }
    }

    /// Adds another builder's totals (built with the same options), for example one
    /// filled by another thread.
    pub fn merge(&mut self, other: TrialBalanceBuilder) {
        let stride = other.stride();
        for (i, (company_id, account)) in other.accounts.keys().iter().enumerate() {
            let base = self.slot(*company_id, account);
            for k in 0..stride.min(self.stride()) {
                self.sums[base + k].add(other.sums[i * stride + k].value());
            }
        }
    }

    /// The trial balance, sorted by company, account and period.
    pub fn finish(self) -> TrialBalance {
        let stride = self.stride();
        let mut order: Vec<usize> = (0..self.accounts.len()).collect();
        let keys = self.accounts.keys();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut rows = Vec::with_capacity(order.len() * self.periods);
        for i in order {
            let (company_id, account) = &keys[i];
            let sums = &self.sums[i * stride..(i + 1) * stride];
            let mut opening = sums[0].value();
            for p in 0..self.periods {
                let (period_start, period_end) = self.options.period_bounds(p);
                let (debit, credit) = (sums[1 + 2 * p].value(), sums[2 + 2 * p].value());
                let closing = opening + debit - credit;
                rows.push(TrialBalanceRow {
                    company_id: *company_id,
                    account_number: account.clone(),
                    period_start,
                    period_end,
                    opening,
                    debit,
                    credit,
                    closing,
                });
                opening = closing;
            }
        }
        TrialBalance { rows }
    }
}

/// The trial balance of chunks of lines, computed by `threads` threads (each takes a
/// contiguous share of the chunks, then the accumulators are merged). Pure computation
/// on scoped standard threads; `threads` of 0 or 1 runs on the caller's thread.
pub fn trial_balance_parallel<C: AsRef<[LedgerLine]> + Sync>(
    chunks: &[C],
    options: &TrialBalanceOptions,
    threads: usize,
) -> TrialBalance {
    let threads = threads.clamp(1, chunks.len().max(1));
    if threads == 1 {
        return trial_balance(chunks.iter().flat_map(|c| c.as_ref()), options);
    }
    let share = chunks.len().div_ceil(threads);
    let mut parts: Vec<TrialBalanceBuilder> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    let mut b = TrialBalanceBuilder::new(options.clone());
                    for chunk in part {
                        b.extend(chunk.as_ref());
                    }
                    b
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(b) => b,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut first = parts.remove(0);
    for p in parts {
        first.merge(p);
    }
    first.finish()
}

/// The trial balance of `lines` (see the module docs).
pub fn trial_balance<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    options: &TrialBalanceOptions,
) -> TrialBalance {
    let mut builder = TrialBalanceBuilder::new(options.clone());
    builder.extend(lines);
    builder.finish()
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // cents grouped as euros_cents
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).expect("date")
    }

    fn line(date: NaiveDate, account: &str, debit: i64, credit: i64) -> LedgerLine {
        LedgerLine {
            company_id: 1,
            entry_id: 1,
            line_id: 1,
            date,
            journal_code: "OD".into(),
            account_number: account.into(),
            label: String::new(),
            debit: Decimal::new(debit, 2),
            credit: Decimal::new(credit, 2),
            third_party: None,
            document_ref: None,
            due_date: None,
            lettering: None,
            categories: None,
        }
    }

    #[test]
    fn monthly_periods_chain_openings() {
        let lines = [
            line(d(1, 10), "512000", 100_00, 0),
            line(d(1, 10), "101000", 0, 100_00),
            line(d(2, 5), "512000", 0, 30_00),
            line(d(2, 5), "606100", 30_00, 0),
            line(d(3, 31), "606100", 5_00, 0),
            line(d(3, 31), "512000", 0, 5_00),
            line(d(4, 1), "512000", 999_00, 0),
        ];
        let mut options = TrialBalanceOptions::new(d(2, 1), d(3, 31));
        options.granularity = Granularity::Monthly;
        let tb = trial_balance(&lines, &options);
        let bank_feb = tb.row(1, "512000", d(2, 1)).expect("february");
        assert_eq!(
            (bank_feb.opening, bank_feb.credit, bank_feb.closing),
            (
                Decimal::new(100_00, 2),
                Decimal::new(30_00, 2),
                Decimal::new(70_00, 2)
            )
        );
        let bank_mar = tb.row(1, "512000", d(3, 1)).expect("march");
        assert_eq!(bank_mar.period_end, d(3, 31));
        assert_eq!(
            (bank_mar.opening, bank_mar.closing),
            (Decimal::new(70_00, 2), Decimal::new(65_00, 2))
        );
        assert_eq!(tb.rows.len(), 6);
        assert!(tb.total_closing().is_zero());
        let chunks: Vec<Vec<LedgerLine>> = lines.chunks(2).map(<[_]>::to_vec).collect();
        assert_eq!(trial_balance_parallel(&chunks, &options, 2), tb);
        assert_eq!(trial_balance_parallel(&chunks, &options, 8), tb);
    }
}
