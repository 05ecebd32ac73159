//! Trial balance (balance générale): per company, account and period, the opening
//! balance, the debits, the credits and the closing balance.
//!
//! Two builders:
//! - per fiscal year, under the French chart's rules ([`FiscalTrialBalanceBuilder`],
//!   [`fiscal_trial_balance`]): classes 6 and 7 open every year at zero, their result
//!   carried onto 120 or 129, a year's own opening entries (à-nouveaux) as its opening,
//!   and each year's result ([`FiscalResult`]);
//! - over any range, whole or monthly ([`TrialBalanceBuilder`], [`trial_balance`]),
//!   below.
//!
//! Balances are signed debit minus credit. Over a range, the opening balance of the
//! first period is every line dated before `from`, whatever its class (for a fiscal
//! year's balance with P&L accounts at zero, use the fiscal builder); lines after `to`
//! are ignored. With [`Granularity::Monthly`] there is one row per
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

use super::{AccountIndex, FiscalCalendar, Sum, YearPlace, month_end, month_index, month_start};
use crate::canonical::LedgerLine;
use crate::pcg;

/// The row of `rows` for an account and the period starting on `period_start`.
fn find_row<'a>(
    rows: &'a [TrialBalanceRow],
    company_id: i64,
    account: &str,
    period_start: NaiveDate,
) -> Option<&'a TrialBalanceRow> {
    rows.iter().find(|r| {
        r.company_id == company_id && r.account_number == account && r.period_start == period_start
    })
}

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
        find_row(&self.rows, company_id, account, period_start)
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

/// Where a fiscal year's opening balances come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpeningSource {
    /// The year's own opening entries (à-nouveaux) are in the books: they are its
    /// opening, and the lines before the year are not added to it.
    OpeningEntries,
    /// The year has no opening entry: the previous year's closing is carried, the
    /// balance-sheet accounts as they closed, the result of classes 6 and 7 onto the
    /// profit (120) or loss (129) account.
    Carried,
}

impl OpeningSource {
    /// `opening_entries` or `carried`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpeningSource::OpeningEntries => "opening_entries",
            OpeningSource::Carried => "carried",
        }
    }
}

/// The result of one fiscal year of a company (classes 7 minus 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiscalResult {
    /// The company.
    pub company_id: i64,
    /// First day of the fiscal year.
    pub period_start: NaiveDate,
    /// Last day of the fiscal year.
    pub period_end: NaiveDate,
    /// The fiscal year's status as the source gives it (`assumed` for the years
    /// [`FiscalYear::assumed`](crate::canonical::FiscalYear::assumed) makes).
    pub status: Option<String>,
    /// Revenue: the closing balances of class 7, credit minus debit.
    pub revenue: Decimal,
    /// Expenses: the closing balances of class 6, debit minus credit.
    pub expenses: Decimal,
    /// `revenue - expenses`: a profit when positive, a loss when negative.
    pub result: Decimal,
    /// The account the result goes to when it is carried into the next year: the
    /// profit account (120) for a profit, the loss account (129) otherwise.
    pub result_account: String,
    /// Where the year's opening balances come from.
    pub opening: OpeningSource,
}

/// A trial balance per fiscal year under the PCG's rules, and each year's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FiscalTrialBalance {
    /// One row per company, account and fiscal year (sorted so), for the accounts with
    /// an opening balance, an opening entry or a movement in the year.
    pub rows: Vec<TrialBalanceRow>,
    /// One row per company and fiscal year, sorted so.
    pub results: Vec<FiscalResult>,
}

impl FiscalTrialBalance {
    /// The row of an account for the fiscal year starting on `period_start`.
    pub fn row(
        &self,
        company_id: i64,
        account: &str,
        period_start: NaiveDate,
    ) -> Option<&TrialBalanceRow> {
        find_row(&self.rows, company_id, account, period_start)
    }
}

/// One account's sums in one fiscal year.
#[derive(Debug, Clone, Copy, Default)]
struct YearSums {
    /// Lines after the previous year (or before the first), before this one.
    before: Sum,
    /// The year's opening entries.
    opening: Sum,
    debit: Sum,
    credit: Sum,
    /// Whether the account has an opening entry, or a movement, in the year.
    lines: bool,
}

/// Accumulates ledger lines into a trial balance per fiscal year under the PCG's
/// rules, one line at a time:
///
/// - a year whose own opening entries are in the books (lines of an opening journal
///   dated on its first day, see [`FiscalCalendar`]) opens with them, shown as opening
///   and not as movements; the lines before the year are not added on top;
/// - a year without opens with the previous year's closing: balance-sheet accounts
///   (classes 1 to 5, and accounts outside the plan) as they closed, classes 6 and 7 at
///   zero, their balance (the previous year's result) on the profit account (120) if a
///   credit, on the loss account (129) if a debit ([`ResultAccounts`](pcg::ResultAccounts),
///   per company; the defaults otherwise);
/// - lines between two fiscal years (or before the first) count as the previous
///   year's; lines after the last fiscal year, and of companies without fiscal years,
///   are left out.
///
/// Every year of balanced books (balanced opening entries) sums to zero, and books
/// whose opening entries carry the previous closing as above give the same balances
/// without them.
///
/// Memory: per (company, account), five sums per fiscal year of its company.
///
/// ```
/// use chrono::NaiveDate;
/// use rust_decimal::Decimal;
/// use penny_transform::canonical::{FiscalYear, LedgerLine, OpeningJournals};
/// use penny_transform::reports::FiscalCalendar;
/// use penny_transform::reports::trial_balance::FiscalTrialBalanceBuilder;
///
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let line = |date, account: &str, debit: i64, credit: i64| LedgerLine {
///     company_id: 1, entry_id: 1, line_id: 1, date,
///     journal_code: "VT".into(), account_number: account.into(), label: String::new(),
///     debit: Decimal::new(debit, 2), credit: Decimal::new(credit, 2),
///     third_party: None, document_ref: None, due_date: None, lettering: None, categories: None,
/// };
/// let years = FiscalYear::assumed(1, 1, d(2025, 1, 1), d(2026, 12, 31));
/// let mut b = FiscalTrialBalanceBuilder::new(FiscalCalendar::new(&years, OpeningJournals::default()));
/// b.extend(&[line(d(2025, 5, 2), "411000", 10000, 0), line(d(2025, 5, 2), "706000", 0, 10000)]);
/// let tb = b.finish();
/// // 2026: the customer carried, the revenue at zero, the profit on 120000.
/// assert_eq!(tb.row(1, "411000", d(2026, 1, 1)).unwrap().opening, Decimal::new(10000, 2));
/// assert!(tb.row(1, "706000", d(2026, 1, 1)).is_none());
/// assert_eq!(tb.row(1, "120000", d(2026, 1, 1)).unwrap().opening, Decimal::new(-10000, 2));
/// assert_eq!(tb.results[0].result, Decimal::new(10000, 2));
/// ```
#[derive(Debug)]
pub struct FiscalTrialBalanceBuilder {
    calendar: FiscalCalendar,
    result_accounts: std::collections::BTreeMap<i64, pcg::ResultAccounts>,
    accounts: AccountIndex,
    sums: Vec<Vec<YearSums>>,
    /// Per company, which fiscal years have opening entries.
    with_openings: std::collections::BTreeMap<i64, Vec<bool>>,
}

impl FiscalTrialBalanceBuilder {
    /// An empty trial balance over the calendar's fiscal years, results carried to the
    /// default accounts (120000, 129000).
    pub fn new(calendar: FiscalCalendar) -> Self {
        FiscalTrialBalanceBuilder {
            calendar,
            result_accounts: std::collections::BTreeMap::new(),
            accounts: AccountIndex::default(),
            sums: Vec::new(),
            with_openings: std::collections::BTreeMap::new(),
        }
    }

    /// Carries `company_id`'s results to `accounts` instead of the defaults.
    pub fn with_result_accounts(mut self, company_id: i64, accounts: pcg::ResultAccounts) -> Self {
        self.result_accounts.insert(company_id, accounts);
        self
    }

    fn slot(&mut self, company_id: i64, account: &str, years: usize) -> usize {
        let (index, new) = self.accounts.index(company_id, account);
        if new {
            self.sums.push(vec![YearSums::default(); years]);
        }
        index
    }

    /// Adds one line.
    pub fn add(&mut self, line: &LedgerLine) {
        let years = self.calendar.years(line.company_id).len();
        let place = self.calendar.place(line.company_id, line.date);
        let (k, before) = match place {
            YearPlace::After => return,
            YearPlace::Before(k) => (k, true),
            YearPlace::In(k) => (k, false),
        };
        let opening = !before && self.calendar.is_opening_line(line);
        let index = self.slot(line.company_id, &line.account_number, years);
        let s = &mut self.sums[index][k];
        if before {
            s.before.add(line.debit);
            s.before.sub(line.credit);
        } else if opening {
            s.opening.add(line.debit);
            s.opening.sub(line.credit);
            s.lines = true;
            self.with_openings
                .entry(line.company_id)
                .or_insert_with(|| vec![false; years])[k] = true;
        } else {
            s.debit.add(line.debit);
            s.credit.add(line.credit);
            s.lines = true;
        }
    }

    /// Adds lines.
    pub fn extend<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for line in lines {
            self.add(line);
        }
    }

    /// The trial balance and the results, per company and fiscal year.
    pub fn finish(mut self) -> FiscalTrialBalance {
        // The companies with lines, and their result accounts (which may have none).
        let companies: std::collections::BTreeSet<i64> =
            self.accounts.keys().iter().map(|(c, _)| *c).collect();
        let mut result_accounts = std::collections::BTreeMap::new();
        for &company in &companies {
            let accounts = self
                .result_accounts
                .get(&company)
                .cloned()
                .unwrap_or_default();
            let years = self.calendar.years(company).len();
            let profit = self.slot(company, &accounts.profit, years);
            let loss = self.slot(company, &accounts.loss, years);
            result_accounts.insert(company, (accounts, profit, loss));
        }
        let mut by_company: std::collections::BTreeMap<i64, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (i, (company, _)) in self.accounts.keys().iter().enumerate() {
            by_company.entry(*company).or_default().push(i);
        }
        let keys = self.accounts.keys();
        let mut out = FiscalTrialBalance::default();
        // In cents, as the sums are.
        let zero = Decimal::new(0, 2);
        for (company, mut indices) in by_company {
            indices.sort_by(|&a, &b| keys[a].1.cmp(&keys[b].1));
            let (accounts, profit, loss) = &result_accounts[&company];
            let natures: Vec<pcg::Nature> =
                indices.iter().map(|&i| pcg::nature(&keys[i].1)).collect();
            let years = self.calendar.years(company);
            let with_openings = self.with_openings.get(&company);
            let mut closing = vec![zero; indices.len()];
            let mut opening = vec![zero; indices.len()];
            let mut rows: Vec<Vec<TrialBalanceRow>> = vec![Vec::new(); indices.len()];
            for (k, fy) in years.iter().enumerate() {
                let source = if with_openings.is_some_and(|w| w[k]) {
                    OpeningSource::OpeningEntries
                } else {
                    OpeningSource::Carried
                };
                let mut carried_result = zero;
                for (j, &i) in indices.iter().enumerate() {
                    let s = &self.sums[i][k];
                    opening[j] = match source {
                        OpeningSource::OpeningEntries => s.opening.value(),
                        OpeningSource::Carried => {
                            let before = closing[j] + s.before.value();
                            if natures[j] == pcg::Nature::ProfitAndLoss {
                                carried_result += before;
                                zero
                            } else {
                                before
                            }
                        }
                    };
                }
                if !carried_result.is_zero() {
                    let target = if accounts.for_balance(carried_result) == accounts.profit {
                        *profit
                    } else {
                        *loss
                    };
                    if let Some(j) = indices.iter().position(|&i| i == target) {
                        opening[j] += carried_result;
                    }
                }
                let (mut revenue, mut expenses) = (zero, zero);
                for (j, &i) in indices.iter().enumerate() {
                    let s = &self.sums[i][k];
                    let (debit, credit) = (s.debit.value(), s.credit.value());
                    closing[j] = opening[j] + debit - credit;
                    match pcg::class(&keys[i].1) {
                        Some(6) => expenses += closing[j],
                        Some(7) => revenue -= closing[j],
                        _ => {}
                    }
                    if s.lines || !opening[j].is_zero() {
                        rows[j].push(TrialBalanceRow {
                            company_id: company,
                            account_number: keys[i].1.clone(),
                            period_start: fy.start,
                            period_end: fy.end,
                            opening: opening[j],
                            debit,
                            credit,
                            closing: closing[j],
                        });
                    }
                }
                let result = revenue - expenses;
                out.results.push(FiscalResult {
                    company_id: company,
                    period_start: fy.start,
                    period_end: fy.end,
                    status: fy.status.clone(),
                    revenue,
                    expenses,
                    result,
                    result_account: accounts.for_balance(-result).to_owned(),
                    opening: source,
                });
            }
            out.rows.extend(rows.into_iter().flatten());
        }
        out
    }
}

/// The trial balance per fiscal year of `lines` (see [`FiscalTrialBalanceBuilder`]).
pub fn fiscal_trial_balance<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    calendar: FiscalCalendar,
) -> FiscalTrialBalance {
    let mut builder = FiscalTrialBalanceBuilder::new(calendar);
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
        crate::testing::ledger_line(1, 1, date, "OD", account, debit, credit)
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

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // cents grouped as euros_cents
mod fiscal_tests {
    use super::*;
    use crate::canonical::{FiscalYear, Journal, OpeningJournals};
    use chrono::Datelike;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn line(date: NaiveDate, journal: &str, account: &str, debit: i64, credit: i64) -> LedgerLine {
        crate::testing::ledger_line(1, 1, date, journal, account, debit, credit)
    }

    fn years() -> Vec<FiscalYear> {
        [2024, 2025, 2026]
            .into_iter()
            .map(|y| FiscalYear {
                company_id: 1,
                start: d(y, 1, 1),
                end: d(y, 12, 31),
                status: Some(if y < 2026 { "closed" } else { "open" }.into()),
            })
            .collect()
    }

    fn calendar() -> FiscalCalendar {
        FiscalCalendar::new(&years(), OpeningJournals::default())
    }

    fn money(cents: i64) -> Decimal {
        Decimal::new(cents, 2)
    }

    /// 2024: a sale of 1,000 paid to the bank, a purchase of 300; 2025: a purchase of
    /// 800 (a loss of 800).
    fn movements() -> Vec<LedgerLine> {
        vec![
            line(d(2024, 3, 1), "VT", "411000", 1000_00, 0),
            line(d(2024, 3, 1), "VT", "706000", 0, 1000_00),
            line(d(2024, 4, 1), "BQ", "512000", 1000_00, 0),
            line(d(2024, 4, 1), "BQ", "411000", 0, 1000_00),
            line(d(2024, 5, 1), "HA", "607000", 300_00, 0),
            line(d(2024, 5, 1), "HA", "401000", 0, 300_00),
            line(d(2025, 6, 1), "HA", "607000", 800_00, 0),
            line(d(2025, 6, 1), "HA", "401000", 0, 800_00),
        ]
    }

    #[test]
    fn a_profit_is_carried_on_120_and_a_loss_on_129() {
        let tb = fiscal_trial_balance(&movements(), calendar());
        // 2025 opens with the balance sheet of 2024 and its profit of 700 on 120000;
        // the P&L accounts at zero.
        let opening = |account, year| tb.row(1, account, d(year, 1, 1)).map(|r| r.opening);
        assert_eq!(opening("512000", 2025), Some(money(1000_00)));
        assert_eq!(opening("401000", 2025), Some(money(-300_00)));
        assert_eq!(opening("120000", 2025), Some(money(-700_00)));
        assert_eq!(opening("129000", 2025), None);
        assert_eq!(opening("607000", 2025), Some(Decimal::ZERO));
        assert_eq!(
            opening("706000", 2025),
            None,
            "no row: no balance, no movement"
        );
        // 2026: 120000 keeps the 2024 profit (no allocation entry), 129000 gets the
        // 2025 loss of 800.
        assert_eq!(opening("120000", 2026), Some(money(-700_00)));
        assert_eq!(opening("129000", 2026), Some(money(800_00)));
        assert_eq!(opening("607000", 2026), None);
        for year in [2024, 2025, 2026] {
            let total: Decimal = tb
                .rows
                .iter()
                .filter(|r| r.period_start == d(year, 1, 1))
                .map(|r| r.closing)
                .sum();
            assert!(total.is_zero(), "{year}: {total}");
        }
        let results: Vec<(Decimal, Decimal, Decimal, &str, OpeningSource)> = tb
            .results
            .iter()
            .map(|r| {
                (
                    r.revenue,
                    r.expenses,
                    r.result,
                    r.result_account.as_str(),
                    r.opening,
                )
            })
            .collect();
        assert_eq!(
            results,
            [
                (
                    money(1000_00),
                    money(300_00),
                    money(700_00),
                    "120000",
                    OpeningSource::Carried
                ),
                (
                    Decimal::ZERO,
                    money(800_00),
                    money(-800_00),
                    "129000",
                    OpeningSource::Carried
                ),
                (
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    "129000",
                    OpeningSource::Carried
                ),
            ]
        );
        assert_eq!(tb.results[0].status.as_deref(), Some("closed"));

        // The chart's own result accounts are used.
        let chart = pcg::ResultAccounts::from_chart(["120100", "129100", "512000"]);
        let mut b = FiscalTrialBalanceBuilder::new(calendar()).with_result_accounts(1, chart);
        b.extend(&movements());
        let tb = b.finish();
        assert_eq!(
            tb.row(1, "120100", d(2025, 1, 1)).map(|r| r.opening),
            Some(money(-700_00))
        );
        assert_eq!(
            tb.row(1, "129100", d(2026, 1, 1)).map(|r| r.opening),
            Some(money(800_00))
        );
        assert!(tb.row(1, "120000", d(2025, 1, 1)).is_none());
    }

    #[test]
    fn a_year_with_its_opening_entries_opens_with_them_and_nothing_is_counted_twice() {
        let mut lines = movements();
        // 2025's opening entries, as Pennylane writes them when 2024 is closed (the
        // profit already allocated to the reserves, 106800).
        lines.extend([
            line(d(2025, 1, 1), "AN", "512000", 1000_00, 0),
            line(d(2025, 1, 1), "AN", "401000", 0, 300_00),
            line(d(2025, 1, 1), "AN", "106800", 0, 700_00),
            // Not an opening entry: an AN line of another day is a movement.
            line(d(2025, 2, 1), "AN", "512000", 5_00, 0),
            line(d(2025, 2, 1), "AN", "106800", 0, 5_00),
        ]);
        let tb = fiscal_trial_balance(&lines, calendar());
        let row = |account, year| tb.row(1, account, d(year, 1, 1)).cloned();
        let bank = row("512000", 2025).expect("bank");
        assert_eq!(
            (bank.opening, bank.debit, bank.credit, bank.closing),
            (money(1000_00), money(5_00), Decimal::ZERO, money(1005_00)),
            "opening entries shown as opening, not movements, and not added to 2024's closing"
        );
        assert_eq!(row("106800", 2025).map(|r| r.opening), Some(money(-700_00)));
        // 2025 has opening entries: 2024's result is not carried onto 120 too.
        assert!(row("120000", 2025).is_none());
        assert_eq!(tb.results[1].opening, OpeningSource::OpeningEntries);
        // 2026 has none: carried from 2025's closing, whose loss goes to 129.
        assert_eq!(row("512000", 2026).map(|r| r.opening), Some(money(1005_00)));
        assert_eq!(row("129000", 2026).map(|r| r.opening), Some(money(800_00)));
        assert_eq!(tb.results[2].opening, OpeningSource::Carried);

        // A journal of type `new_year` with another code opens the year alike.
        let renamed: Vec<LedgerLine> = lines
            .iter()
            .map(|l| {
                let mut l = l.clone();
                if &*l.journal_code == "AN" {
                    l.journal_code = "RAN".into();
                }
                l
            })
            .collect();
        let journals = [Journal {
            company_id: 1,
            code: "RAN".into(),
            label: "Reports à nouveau".into(),
            opening: true,
        }];
        let by_type = fiscal_trial_balance(
            &renamed,
            FiscalCalendar::new(&years(), OpeningJournals::of(&journals)),
        );
        assert_eq!(by_type, tb);
        // Without it, RAN's lines are movements of 2025 added to the carried balances.
        let plain = fiscal_trial_balance(&renamed, calendar());
        assert_eq!(
            plain.row(1, "512000", d(2025, 1, 1)).map(|r| r.closing),
            Some(money(2005_00))
        );
    }

    #[test]
    fn lines_between_and_after_fiscal_years() {
        // A gap in 2025 (no fiscal year), a line after the last year.
        let years: Vec<FiscalYear> = years()
            .into_iter()
            .filter(|fy| fy.start.year() != 2025)
            .collect();
        let lines = [
            line(d(2023, 6, 1), "OD", "512000", 10_00, 0),
            line(d(2023, 6, 1), "OD", "706000", 0, 10_00),
            line(d(2025, 6, 1), "OD", "512000", 20_00, 0),
            line(d(2025, 6, 1), "OD", "706000", 0, 20_00),
            line(d(2027, 6, 1), "OD", "512000", 40_00, 0),
            line(d(2027, 6, 1), "OD", "706000", 0, 40_00),
        ];
        let tb = fiscal_trial_balance(
            &lines,
            FiscalCalendar::new(&years, OpeningJournals::default()),
        );
        let opening = |account, year| tb.row(1, account, d(year, 1, 1)).map(|r| r.opening);
        assert_eq!(opening("512000", 2024), Some(money(10_00)));
        assert_eq!(opening("120000", 2024), Some(money(-10_00)));
        assert_eq!(opening("512000", 2026), Some(money(30_00)));
        assert_eq!(opening("120000", 2026), Some(money(-30_00)));
        assert_eq!(tb.results.len(), 2);
        assert!(
            tb.rows
                .iter()
                .all(|r| r.debit.is_zero() && r.credit.is_zero())
        );
    }
}
