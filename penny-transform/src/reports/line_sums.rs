//! The ledger lines summed per company, account and period ([`LineSums`]): what the
//! report tables are computed from without holding the lines, saved between runs in
//! [`LINE_SUMS_TABLE`] for the next incremental update to change by the lines it
//! changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::incremental::StaleSums;
use super::month_start;
use super::sig::Aggregate;
use super::vat::VatDirection;
use crate::batch::{Batch, BatchError};
use crate::canonical::read::{Col, MappingError, Reader};
use crate::canonical::tables::{MONEY, build, fixed_table, req};
use crate::canonical::{FiscalYear, LedgerLine, OPENING_JOURNAL_CODE, OpeningJournals};
use crate::schema::{LogicalType, Schema};
use crate::value::Value;

use LogicalType::{Bool, Date, Int64, Text};

/// The table of the star schema the line sums are saved in ([`LineSums::batches`]), so
/// that the next incremental update changes them by the lines it changed instead of
/// summing every line again.
///
/// Its name carries the rule that makes periods ([`LineSums`]): a change of that rule
/// must change the name, so that sums saved under the old rule are not found (and are
/// made afresh) rather than changed under the new one. This rule keeps the lines of
/// the opening journals apart, per day.
pub const LINE_SUMS_TABLE: &str = "_penny_line_sums_openings_apart";

/// A key of the line sums: company, account number, first day of the period (the day,
/// for lines of an opening journal), and whether they are lines of an opening journal.
pub type SumKey = (i64, Arc<str>, NaiveDate, bool);

/// The sums of one account and period.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct AccountSums {
    debit: Decimal,
    credit: Decimal,
    /// How many lines are summed: the sums go when their last line does, as if they
    /// had been summed afresh.
    lines: i64,
}

fixed_table! {
    /// The schema of [`LINE_SUMS_TABLE`].
    fn line_sums_schema, fn line_sums_row(entry: (&SumKey, &AccountSums)) =
        "_penny_line_sums_openings_apart",
        ["company_id", "account_number", "period", "opening_journal"];
    let ((company_id, account_number, period, opening_journal), sums) = entry;
    req("company_id", Int64) => *company_id,
    req("account_number", Text) => account_number.to_string(),
    req("period", Date) => *period,
    req("opening_journal", Bool) => *opening_journal,
    req("debit", MONEY) => sums.debit,
    req("credit", MONEY) => sums.credit,
    req("lines", Int64) => sums.lines,
}

/// The key columns of a row of [`LINE_SUMS_TABLE`] (a row to delete).
fn key_row((company_id, account_number, period, opening_journal): &SumKey) -> Vec<Value> {
    vec![
        Value::Int64(*company_id),
        Value::Text(account_number.to_string()),
        Value::Date(*period),
        Value::Bool(*opening_journal),
    ]
}

/// A key, spelled out for an error.
fn describe((company_id, account_number, period, opening_journal): &SumKey) -> String {
    let journal = if *opening_journal {
        ", lines of an opening journal"
    } else {
        ""
    };
    format!("company {company_id}, account {account_number}, period from {period}{journal}")
}

/// Ledger lines summed per company, account and period (debits, credits, number of
/// lines).
///
/// A period is a calendar month, split at the fiscal years' first days and at the days
/// after their last: every report groups by month, by fiscal year, or by "before the
/// fiscal year" (the trial balance's opening), so the sums are exact for all of them,
/// and their number grows with the accounts and months used, not with the lines.
///
/// The lines of the opening journals ([`OpeningJournals`]) are summed apart, per day:
/// those dated on a fiscal year's first day are its opening entries (à-nouveaux), which
/// the reports tell from the movements ([`FiscalCalendar`](super::FiscalCalendar))
/// whether the fiscal years come from the source or are assumed later.
///
/// Only the accounts a monthly report reads (classes 6 and 7 for the SIG, VAT accounts
/// for the VAT) need months: in a company with fiscal years, the other accounts
/// (customers', suppliers', bank accounts: most of them) are summed per fiscal year,
/// their period running from the last fiscal-year bound on or before the line's day
/// (a month for lines before the first fiscal year).
///
/// The sums are saved in [`LINE_SUMS_TABLE`] and read back ([`add_saved`](Self::add_saved));
/// [`take_away`](Self::take_away) and [`put`](Self::put) then change them by the old and
/// new versions of the lines a run changed, which costs what the changes cost, not what
/// the books hold.
///
/// ```
/// use chrono::NaiveDate;
/// use penny_transform::canonical::{FiscalYear, OpeningJournals};
/// use penny_transform::reports::line_sums::LineSums;
/// use penny_transform::testing::ledger_line;
///
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let years = FiscalYear::assumed(1, 1, d(2026, 1, 1), d(2026, 12, 31));
/// let mut sums = LineSums::new(&years, OpeningJournals::default());
/// sums.add(&[
///     ledger_line(1, 1, d(2026, 3, 2), "VT", "706000", 0, 100_00),
///     ledger_line(1, 2, d(2026, 3, 2), "VT", "411001", 100_00, 0),
///     ledger_line(2, 3, d(2026, 3, 9), "VT", "706000", 0, 50_00),
/// ]);
/// // 706000 in March; 411001 over the fiscal year.
/// assert_eq!(sums.len(), 2);
/// let (rows, gone) = sums.batches(None, 100)?;
/// assert_eq!((rows[0].len(), gone.len()), (2, 0));
/// # Ok::<(), penny_transform::BatchError>(())
/// ```
#[derive(Debug, Default, PartialEq)]
pub struct LineSums {
    sums: HashMap<SumKey, AccountSums>,
    /// Per company, the days a fiscal year starts on or resumes after.
    boundaries: HashMap<i64, BTreeSet<NaiveDate>>,
    /// The journals whose lines are summed apart.
    journals: OpeningJournals,
}

impl LineSums {
    /// Empty sums, with periods split at `fiscal_years`' bounds, the lines of
    /// `journals` summed apart.
    pub fn new(fiscal_years: &[FiscalYear], journals: OpeningJournals) -> Self {
        let mut boundaries: HashMap<i64, BTreeSet<NaiveDate>> = HashMap::new();
        for fy in fiscal_years {
            let b = boundaries.entry(fy.company_id).or_default();
            b.insert(fy.start);
            if let Some(next) = fy.end.succ_opt() {
                b.insert(next);
            }
        }
        LineSums {
            sums: HashMap::new(),
            boundaries,
            journals,
        }
    }

    /// Whether `fiscal_years` split the periods as these sums' fiscal years do (if not,
    /// saved sums cannot be changed by difference).
    pub fn same_periods(&self, fiscal_years: &[FiscalYear]) -> bool {
        LineSums::new(fiscal_years, OpeningJournals::default()).boundaries == self.boundaries
    }

    /// The journals whose lines are summed apart (saved sums made with other opening
    /// journals cannot be changed by difference).
    pub fn opening_journals(&self) -> &OpeningJournals {
        &self.journals
    }

    /// How many sums (accounts and periods) there are.
    pub fn len(&self) -> usize {
        self.sums.len()
    }

    /// Whether there are no sums.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// The keys of the sums, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &SumKey> + '_ {
        self.sums.keys()
    }

    /// The first day of the period of a line of `account` on `date`.
    fn period(&self, company_id: i64, account: &str, date: NaiveDate) -> NaiveDate {
        let month = month_start(date);
        let Some(bounds) = self.boundaries.get(&company_id) else {
            return month;
        };
        let from = if monthly(account) {
            bounds.range(month..=date).next_back()
        } else {
            bounds.range(..=date).next_back()
        };
        from.copied().unwrap_or(month)
    }

    /// The key of a line's sums.
    fn key(
        &self,
        company_id: i64,
        account_number: &Arc<str>,
        journal_code: &str,
        date: NaiveDate,
    ) -> SumKey {
        if self.journals.contains(company_id, journal_code) {
            return (company_id, account_number.clone(), date, true);
        }
        (
            company_id,
            account_number.clone(),
            self.period(company_id, account_number, date),
            false,
        )
    }

    /// Adds lines.
    pub fn add<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for l in lines {
            let key = self.key(l.company_id, &l.account_number, &l.journal_code, l.date);
            let s = self.sums.entry(key).or_default();
            s.debit += l.debit;
            s.credit += l.credit;
            s.lines += 1;
        }
    }

    /// Takes away the old versions of lines (`canonical_ledger_lines` read back:
    /// `company_id`, `journal_code`, `account_number`, `date`, `debit`, `credit`, read
    /// by column name) and returns the keys whose sums changed; an old version the sums
    /// do not hold is refused.
    pub fn take_away(&mut self, old: &Batch) -> Result<BTreeSet<SumKey>, StaleSums> {
        let mut touched = BTreeSet::new();
        let r = Reader::new(old)?;
        let (company, journal, account, date, debit, credit) = (
            r.col("company_id")?,
            r.col("journal_code")?,
            r.col("account_number")?,
            r.col("date")?,
            r.col("debit")?,
            r.col("credit")?,
        );
        for row in 0..r.len() {
            let key = self.key(
                r.cell(row, company).i64()?,
                &Arc::from(r.cell(row, account).str()?.as_ref()),
                &r.cell(row, journal).str()?,
                r.cell(row, date).date()?,
            );
            let Some(sums) = self.sums.get_mut(&key) else {
                return Err(StaleSums::NotHeld {
                    table: LINE_SUMS_TABLE,
                    key: describe(&key),
                });
            };
            sums.debit -= r.cell(row, debit).money()?;
            sums.credit -= r.cell(row, credit).money()?;
            sums.lines -= 1;
            if sums.lines < 0 {
                return Err(StaleSums::TakenBeyondSummed {
                    table: LINE_SUMS_TABLE,
                    key: describe(&key),
                });
            }
            if sums.lines == 0 {
                self.sums.remove(&key);
            }
            touched.insert(key);
        }
        Ok(touched)
    }

    /// Adds the new versions of lines and returns the keys whose sums changed.
    pub fn put<'a>(&mut self, new: impl IntoIterator<Item = &'a LedgerLine>) -> BTreeSet<SumKey> {
        let mut touched = BTreeSet::new();
        for l in new {
            touched.insert(self.key(l.company_id, &l.account_number, &l.journal_code, l.date));
            self.add([l]);
        }
        touched
    }

    /// The schema of [`LINE_SUMS_TABLE`]: `company_id`, `account_number`, `period` (its
    /// first day), `opening_journal` (the key), `debit`, `credit`, `lines`.
    pub fn schema() -> Arc<Schema> {
        line_sums_schema()
    }

    /// The sums as rows of [`LINE_SUMS_TABLE`]: all of them (`keys` `None`), or those of
    /// `keys`, with the keys whose sums are gone (to delete).
    pub fn batches(
        &self,
        keys: Option<&BTreeSet<SumKey>>,
        batch_rows: usize,
    ) -> Result<(Vec<Batch>, Vec<Vec<Value>>), BatchError> {
        let schema = Self::schema();
        let batch_rows = batch_rows.max(1);
        match keys {
            None => Ok((
                build(schema, self.sums.iter().map(line_sums_row), batch_rows)?,
                Vec::new(),
            )),
            Some(keys) => {
                let mut gone = Vec::new();
                let mut rows = Vec::new();
                for key in keys {
                    match self.sums.get(key) {
                        Some(s) => rows.push(line_sums_row((key, s))),
                        None => gone.push(key_row(key)),
                    }
                }
                Ok((build(schema, rows.into_iter(), batch_rows)?, gone))
            }
        }
    }

    /// Adds rows of [`LINE_SUMS_TABLE`] read back (by column name).
    pub fn add_saved(&mut self, batch: &Batch) -> Result<(), StaleSums> {
        let r = Reader::new(batch)?;
        let (company, account, period, opening, debit, credit, lines) = (
            r.col("company_id")?,
            r.col("account_number")?,
            r.col("period")?,
            r.col("opening_journal")?,
            r.col("debit")?,
            r.col("credit")?,
            r.col("lines")?,
        );
        for row in 0..r.len() {
            self.sums.insert(
                (
                    r.cell(row, company).i64()?,
                    Arc::from(r.cell(row, account).str()?.as_ref()),
                    r.cell(row, period).date()?,
                    required_bool(&r, row, opening)?,
                ),
                AccountSums {
                    debit: r.cell(row, debit).money()?,
                    credit: r.cell(row, credit).money()?,
                    lines: r.cell(row, lines).i64()?,
                },
            );
        }
        Ok(())
    }

    /// Calls `f` with one synthetic line per company, account and period, dated on the
    /// period's first day, carrying its sums (one line reused: nothing grows with the
    /// sums but the sums); the sums of opening journals' lines come in journal
    /// [`OPENING_JOURNAL_CODE`], the others in a journal of no code.
    pub fn for_each_line(&self, mut f: impl FnMut(&LedgerLine)) {
        let (opening_journal, other_journal): (Arc<str>, Arc<str>) =
            (Arc::from(OPENING_JOURNAL_CODE), Arc::from(""));
        let mut line = LedgerLine {
            company_id: 0,
            entry_id: 0,
            line_id: 0,
            date: NaiveDate::MIN,
            journal_code: Arc::from(""),
            account_number: Arc::from(""),
            label: String::new(),
            debit: Decimal::ZERO,
            credit: Decimal::ZERO,
            third_party: None,
            document_ref: None,
            due_date: None,
            lettering: None,
            categories: None,
        };
        for ((company_id, account, period, opening), s) in &self.sums {
            line.company_id = *company_id;
            line.journal_code = if *opening {
                opening_journal.clone()
            } else {
                other_journal.clone()
            };
            line.account_number = account.clone();
            line.date = *period;
            line.debit = s.debit;
            line.credit = s.credit;
            f(&line);
        }
    }

    /// Per company, the first and last periods of its sums.
    pub fn extent(&self) -> BTreeMap<i64, (NaiveDate, NaiveDate)> {
        let mut out: BTreeMap<i64, (NaiveDate, NaiveDate)> = BTreeMap::new();
        for (company_id, _, period, _) in self.sums.keys() {
            out.entry(*company_id)
                .and_modify(|(a, b)| {
                    *a = (*a).min(*period);
                    *b = (*b).max(*period);
                })
                .or_insert((*period, *period));
        }
        out
    }
}

/// A required boolean of `r`'s column `col` at `row`.
fn required_bool(r: &Reader<'_>, row: usize, col: Col) -> Result<bool, MappingError> {
    r.cell(row, col)
        .opt_bool()?
        .ok_or_else(|| MappingError::Null {
            table: r.table.to_owned(),
            row,
            column: col.name,
        })
}

/// Whether a monthly report reads `account` (the SIG: classes 6 and 7; the VAT: VAT
/// accounts).
fn monthly(account: &str) -> bool {
    Aggregate::of_account(account).is_some() || VatDirection::of_account(account).is_some()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::canonical::tables::to_batches;
    use crate::reports::sig::SigBuilder;
    use crate::reports::vat::{VatLedgerRow, vat_from_ledger};

    fn date(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid date")
    }

    /// A line of company 1, journal `VT`, on a day of 2026 `day` picks.
    pub(crate) fn line(id: i64, account: &str, day: u32, debit: i64, credit: i64) -> LedgerLine {
        LedgerLine {
            company_id: 1,
            entry_id: id / 2,
            line_id: id,
            date: date(2026, 1 + (day % 12), 1 + day % 28),
            journal_code: Arc::from("VT"),
            account_number: Arc::from(account),
            label: format!("line {id}"),
            debit: Decimal::new(debit, 2),
            credit: Decimal::new(credit, 2),
            third_party: None,
            document_ref: None,
            due_date: None,
            lettering: None,
            categories: None,
        }
    }

    /// Balanced pairs on a few accounts, several lines per account and day, and lines
    /// before the fiscal year (the opening balance).
    pub(crate) fn sample_lines() -> Vec<LedgerLine> {
        let mut lines = Vec::new();
        for i in 0..200 {
            let amount = 1000 + i * 7;
            let account = ["411001", "706000", "401002", "607000"][(i % 4) as usize];
            let other = ["512000", "445710", "445660", "512000"][(i % 4) as usize];
            let day = (i % 30) as u32;
            lines.push(line(2 * i, account, day, amount, 0));
            lines.push(line(2 * i + 1, other, day, 0, amount));
        }
        let mut before = line(10_000, "411001", 0, 5000, 0);
        before.date = date(2025, 6, 1);
        let mut before_other = line(10_001, "706000", 0, 0, 5000);
        before_other.date = before.date;
        lines.extend([before, before_other]);
        lines
    }

    /// Changes `sums` by the lines `changed_ids` name: their versions in `before` taken
    /// away (as `canonical_ledger_lines` gives them back, in batches of `batch_rows`),
    /// those in `after` put; the keys whose sums changed.
    pub(crate) fn change_lines(
        sums: &mut LineSums,
        before: &[LedgerLine],
        after: &[LedgerLine],
        changed_ids: &[i64],
        batch_rows: usize,
    ) -> BTreeSet<SumKey> {
        let changed = |lines: &[LedgerLine]| -> Vec<LedgerLine> {
            lines
                .iter()
                .filter(|l| changed_ids.contains(&l.line_id))
                .cloned()
                .collect()
        };
        let mut touched = BTreeSet::new();
        for batch in to_batches(&changed(before), batch_rows).expect("valid lines") {
            touched.extend(sums.take_away(&batch).expect("lines the sums hold"));
        }
        touched.extend(sums.put(&changed(after)));
        touched
    }

    #[test]
    fn sig_and_vat_from_the_sums_equal_those_from_the_lines() {
        let lines = sample_lines();
        let fy = [FiscalYear {
            company_id: 1,
            start: date(2026, 3, 15),
            end: date(2027, 3, 14),
            status: None,
        }];
        let mut sums = LineSums::new(&fy, OpeningJournals::default());
        sums.add(&lines);
        // Accounts no monthly report reads are summed per fiscal year (per month before
        // the first).
        let mut customer: Vec<NaiveDate> = sums
            .keys()
            .filter(|k| &*k.1 == "411001")
            .map(|k| k.2)
            .collect();
        customer.sort();
        assert_eq!(
            customer,
            [
                date(2025, 6, 1),
                date(2026, 1, 1),
                date(2026, 3, 1),
                date(2026, 3, 15)
            ]
        );
        let months = lines
            .iter()
            .filter(|l| &*l.account_number == "706000")
            .map(|l| sums.period(1, "706000", l.date))
            .collect::<BTreeSet<_>>();
        assert!(months.len() > customer.len());
        assert_eq!(
            sums.keys().filter(|k| &*k.1 == "706000").count(),
            months.len()
        );
        assert!(
            months
                .iter()
                .all(|m| chrono::Datelike::day(m) == 1 || *m == date(2026, 3, 15))
        );

        let first = lines.iter().map(|l| l.date).min().expect("lines");
        let last = lines.iter().map(|l| l.date).max().expect("lines");
        let mut expected = SigBuilder::new(first, last);
        lines.iter().for_each(|l| expected.add(l));
        let mut got = SigBuilder::new(first, last);
        let mut vat_lines = Vec::new();
        sums.for_each_line(|l| {
            got.add(l);
            vat_lines.push(l.clone());
        });
        let (expected, got) = (expected.finish(), got.finish());
        assert!(expected.len() > 3, "{expected:?}");
        assert_eq!(format!("{got:?}"), format!("{expected:?}"));
        let key = |r: &VatLedgerRow| (r.month, r.account_number.clone(), r.vat);
        let mut expected: Vec<_> = vat_from_ledger(&lines, first, last)
            .iter()
            .map(key)
            .collect();
        let mut got: Vec<_> = vat_from_ledger(&vat_lines, first, last)
            .iter()
            .map(key)
            .collect();
        expected.sort();
        got.sort();
        assert!(expected.len() > 3, "{expected:?}");
        assert_eq!(got, expected);
    }

    #[test]
    fn saved_sums_changed_by_old_and_new_lines_equal_sums_made_afresh() {
        let fy = [FiscalYear {
            company_id: 1,
            start: date(2026, 3, 15),
            end: date(2027, 3, 14),
            status: None,
        }];
        let mut before: Vec<LedgerLine> = (0..300)
            .map(|i| {
                line(
                    i,
                    ["411001", "706000", "445710"][(i % 3) as usize],
                    i as u32,
                    1000 + i,
                    i % 7,
                )
            })
            .collect();
        // The only line of its account: moving it away removes the account's sums.
        before.push(line(999, "622600", 3, 4200, 0));
        let mut saved = LineSums::new(&fy, OpeningJournals::default());
        saved.add(&before);
        // Saved and read back.
        let mut sums = LineSums::new(&fy, OpeningJournals::default());
        let (rows, gone) = saved.batches(None, 64).expect("valid rows");
        assert!(gone.is_empty());
        for b in &rows {
            sums.add_saved(b).expect("readable rows");
        }
        assert_eq!(sums, saved);

        // Changes: amounts, a date across the fiscal year's start, an account, deletions
        // and a new line.
        let mut after = before.clone();
        after[10].debit = Decimal::new(77_777, 2);
        after[11].date = date(2026, 3, 2);
        after[300].account_number = Arc::from("411001");
        let removed: Vec<LedgerLine> = after.drain(20..25).collect();
        after.push(line(5000, "512000", 5, 0, 123_456));
        let changed_ids = [10, 11, 999, 20, 21, 22, 23, 24, 5000];
        let count = |lines: &[LedgerLine]| {
            lines
                .iter()
                .filter(|l| changed_ids.contains(&l.line_id))
                .count()
        };
        assert_eq!((count(&before), count(&after)), (8, 4));
        assert_eq!(removed.len(), 5);
        let touched = change_lines(&mut sums, &before, &after, &changed_ids, 3);

        let mut afresh = LineSums::new(&fy, OpeningJournals::default());
        afresh.add(&after);
        assert_eq!(sums, afresh);
        let moved_away = (1, Arc::from("622600"), date(2026, 4, 1), false);
        assert!(touched.contains(&moved_away), "{touched:?}");
        let (rows, gone) = sums.batches(Some(&touched), 64).expect("valid rows");
        assert_eq!(
            gone,
            vec![vec![
                Value::Int64(1),
                Value::Text("622600".into()),
                Value::Date(moved_away.2),
                Value::Bool(false),
            ]]
        );
        assert_eq!(
            rows.iter().map(|b| b.rows().len()).sum::<usize>(),
            touched.len() - 1
        );

        // Old versions the sums never held: stale, and the error says which.
        let mut stranger = line(7, "999999", 1, 1, 0);
        stranger.company_id = 2;
        let stale = sums
            .take_away(&to_batches([&stranger], 3).expect("valid line")[0])
            .expect_err("not held");
        assert!(
            matches!(&stale, StaleSums::NotHeld { key, .. } if key.contains("company 2, account 999999")),
            "{stale}"
        );
        assert!(!sums.same_periods(&[]));
        assert!(sums.same_periods(&fy));
    }

    #[test]
    fn saved_rows_are_read_by_column_name() {
        let fy = FiscalYear::assumed(1, 1, date(2026, 1, 1), date(2026, 12, 31));
        let mut saved = LineSums::new(&fy, OpeningJournals::default());
        saved.add(&sample_lines());
        let (rows, _) = saved.batches(None, 1000).expect("valid rows");
        // The same rows, columns in another order.
        let schema = rows[0].schema();
        let order: Vec<usize> = (0..schema.columns().len()).rev().collect();
        let reordered = Arc::new(
            Schema::new(
                LINE_SUMS_TABLE,
                order.iter().map(|&i| schema.columns()[i].clone()).collect(),
                schema.primary_key_names().collect::<Vec<_>>(),
            )
            .expect("a valid schema"),
        );
        let reversed = rows[0]
            .rows()
            .iter()
            .map(|r| order.iter().map(|&i| r[i].clone()).collect())
            .collect();
        assert_eq!(schema.name(), LINE_SUMS_TABLE);
        let batch = Batch::upsert(reordered, reversed).expect("valid rows");
        let mut sums = LineSums::new(&fy, OpeningJournals::default());
        sums.add_saved(&batch).expect("readable rows");
        assert_eq!(sums, saved);
        // Old versions of lines read back without a column the sums need: named.
        let without_debit = Arc::new(
            Schema::new(
                "canonical_ledger_lines",
                vec![
                    req("company_id", Int64),
                    req("line_id", Int64),
                    req("journal_code", Text),
                    req("account_number", Text),
                    req("date", Date),
                    req("credit", MONEY),
                ],
                ["company_id", "line_id"],
            )
            .expect("a valid schema"),
        );
        let old = Batch::upsert(without_debit, Vec::new()).expect("no rows");
        let stale = sums.take_away(&old).expect_err("no debit");
        assert!(
            stale.to_string().contains("`canonical_ledger_lines`")
                && stale.to_string().contains("`debit`"),
            "{stale}"
        );
    }
}
