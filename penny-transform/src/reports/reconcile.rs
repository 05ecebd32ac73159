//! Reconciliation with Pennylane's own trial balance: Penny's sums of the ledger lines
//! compared, account by account and period by period, with the debits and credits
//! Pennylane computes (`GET /trial_balance`, read into the raw table
//! [`TRIAL_BALANCE_TABLE`]).
//!
//! Pennylane's debits and credits are the sums of the ledger lines dated within the
//! period, the year's opening entries (journal `AN`, dated its first day) included when
//! the year has them. So is what Penny is compared on: every line dated in the period,
//! whatever its journal (not the trial balance's movements, which set the opening
//! entries apart).
//!
//! Three steps, none holding the lines:
//!
//! 1. [`PennylaneBalance::decode`] reads the raw table by column name.
//! 2. [`Reconciliation`] takes Penny's sums per company, account and period
//!    ([`Reconciliation::add_sum`]; a period must not straddle a bound of Pennylane's
//!    periods, as the line sums split at the fiscal years' bounds do not) and
//!    [`finish`](Reconciliation::finish)es into [`Discrepancy`]s.
//! 3. Optionally, [`Explainer`] takes the lines of the few accounts that differ (at most
//!    [`ExplainLimits::accounts`], read again however the caller can) and keeps at
//!    most [`ExplainLimits::lines`] lines per discrepancy that explain it: a line whose
//!    amount is the difference, a line of the account dated outside the period whose
//!    amount is what Penny lacks, the lines of an account Pennylane does not have.
//!
//! ```
//! use chrono::NaiveDate;
//! use rust_decimal::Decimal;
//! use penny_transform::reports::reconcile::{DiscrepancyKind, PennylaneBalance, Reconciliation};
//!
//! let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
//! let pennylane = vec![PennylaneBalance {
//!     company_id: 1, period_start: d(1, 1), period_end: d(12, 31),
//!     number: "411DUPONT".into(), formatted_number: None, label: None,
//!     debits: Decimal::new(120000, 2), credits: Decimal::ZERO,
//! }];
//! let mut r = Reconciliation::new(pennylane);
//! r.add_sum(1, "411DUPONT", d(3, 1), Decimal::new(156000, 2), Decimal::ZERO, 2);
//! let found = r.finish();
//! assert_eq!(found[0].kind, DiscrepancyKind::AmountsDiffer);
//! assert_eq!(found[0].difference(), Decimal::new(36000, 2));
//! ```

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use std::sync::Arc;

use super::{FastMap, Sum};
use crate::batch::{Batch, BatchBuilder, BatchError};
use crate::canonical::LedgerLine;
use crate::schema::{Column, LogicalType, Schema};
use crate::value::Value;

/// The raw table Pennylane's trial balance is read into, one row per company, period
/// (fiscal year) and account: `company_id`, `period_start`, `period_end`, `number`,
/// `formatted_number`, `label`, `debits`, `credits`.
pub const TRIAL_BALANCE_TABLE: &str = "trial_balance";

/// Why a table could not be read for the reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// A column the reconciliation needs is not in the table.
    #[error(
        "table `{table}`: column `{column}` is missing (its columns: {columns}); the reconciliation needs it"
    )]
    MissingColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: &'static str,
        /// The columns the table has.
        columns: String,
    },
    /// A value of the wrong kind (or a null where a value is required).
    #[error("table `{table}`, row {row}, column `{column}`: expected {expected}, found `{found}`")]
    WrongValue {
        /// The table.
        table: String,
        /// The row's position in its batch (0-based).
        row: usize,
        /// The column.
        column: &'static str,
        /// What is read there.
        expected: &'static str,
        /// The value found.
        found: String,
    },
}

/// Reads a batch by column name.
pub(crate) struct Columns<'a> {
    batch: &'a Batch,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(batch: &'a Batch) -> Self {
        Columns { batch }
    }

    pub(crate) fn index(&self, column: &'static str) -> Result<usize, ReconcileError> {
        let s = self.batch.schema();
        s.column_index(column)
            .ok_or_else(|| ReconcileError::MissingColumn {
                table: s.name().to_owned(),
                column,
                columns: s
                    .columns()
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn wrong(&self, row: usize, column: &'static str, expected: &'static str) -> ReconcileError {
        let i = self.batch.schema().column_index(column);
        ReconcileError::WrongValue {
            table: self.batch.table().to_owned(),
            row,
            column,
            expected,
            found: i
                .and_then(|i| self.batch.rows().get(row).and_then(|r| r.get(i)))
                .map_or_else(String::new, |v| format!("{v:?}")),
        }
    }

    fn value(&self, row: usize, i: usize) -> &'a Value {
        static NULL: Value = Value::Null;
        self.batch
            .rows()
            .get(row)
            .and_then(|r| r.get(i))
            .unwrap_or(&NULL)
    }

    pub(crate) fn int(
        &self,
        row: usize,
        i: usize,
        column: &'static str,
    ) -> Result<i64, ReconcileError> {
        match self.value(row, i) {
            Value::Int64(v) => Ok(*v),
            Value::Decimal(d) if d.fract().is_zero() => {
                i64::try_from(*d).map_err(|_| self.wrong(row, column, "an integer"))
            }
            _ => Err(self.wrong(row, column, "an integer")),
        }
    }

    pub(crate) fn date(
        &self,
        row: usize,
        i: usize,
        column: &'static str,
    ) -> Result<NaiveDate, ReconcileError> {
        match self.value(row, i) {
            Value::Date(d) => Ok(*d),
            Value::Timestamp(t) => Ok(t.date()),
            _ => Err(self.wrong(row, column, "a date")),
        }
    }

    pub(crate) fn text(
        &self,
        row: usize,
        i: usize,
        column: &'static str,
    ) -> Result<String, ReconcileError> {
        self.opt_text(row, Some(i), column)?
            .ok_or_else(|| self.wrong(row, column, "text"))
    }

    pub(crate) fn opt_text(
        &self,
        row: usize,
        i: Option<usize>,
        column: &'static str,
    ) -> Result<Option<String>, ReconcileError> {
        match i.map(|i| self.value(row, i)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t.clone())),
            Some(Value::Int64(v)) => Ok(Some(v.to_string())),
            Some(_) => Err(self.wrong(row, column, "text")),
        }
    }

    pub(crate) fn money(
        &self,
        row: usize,
        i: usize,
        column: &'static str,
    ) -> Result<Decimal, ReconcileError> {
        match self.value(row, i) {
            Value::Decimal(d) => Ok(*d),
            Value::Int64(v) => Ok(Decimal::from(*v)),
            Value::Null => Ok(Decimal::ZERO),
            _ => Err(self.wrong(row, column, "a decimal amount")),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.batch.len()
    }
}

/// One account of Pennylane's trial balance over one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PennylaneBalance {
    /// The company.
    pub company_id: i64,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period (inclusive).
    pub period_end: NaiveDate,
    /// The account number, as the ledger lines carry it.
    pub number: String,
    /// The number as Pennylane displays it.
    pub formatted_number: Option<String>,
    /// The account's label.
    pub label: Option<String>,
    /// Debits of the lines dated in the period.
    pub debits: Decimal,
    /// Credits of the lines dated in the period.
    pub credits: Decimal,
}

impl PennylaneBalance {
    /// The rows of a batch of [`TRIAL_BALANCE_TABLE`], read by column name
    /// (`formatted_number` and `label` may be absent; a null amount reads as zero).
    pub fn decode(batch: &Batch) -> Result<Vec<PennylaneBalance>, ReconcileError> {
        let c = Columns::new(batch);
        let (company, start, end, number, debits, credits) = (
            c.index("company_id")?,
            c.index("period_start")?,
            c.index("period_end")?,
            c.index("number")?,
            c.index("debits")?,
            c.index("credits")?,
        );
        let formatted = c.index("formatted_number").ok();
        let label = c.index("label").ok();
        (0..c.len())
            .map(|row| {
                Ok(PennylaneBalance {
                    company_id: c.int(row, company, "company_id")?,
                    period_start: c.date(row, start, "period_start")?,
                    period_end: c.date(row, end, "period_end")?,
                    number: c.text(row, number, "number")?,
                    formatted_number: c.opt_text(row, formatted, "formatted_number")?,
                    label: c.opt_text(row, label, "label")?,
                    debits: c.money(row, debits, "debits")?,
                    credits: c.money(row, credits, "credits")?,
                })
            })
            .collect()
    }
}

/// What kind of difference a [`Discrepancy`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiscrepancyKind {
    /// Both have the account; their debits or credits differ.
    AmountsDiffer,
    /// Pennylane has debits or credits on the account in the period, Penny no line.
    NotInPenny,
    /// Penny has lines on the account in the period, Pennylane's trial balance no row.
    NotInPennylane,
}

impl DiscrepancyKind {
    /// `trial_balance_amounts_differ`, `trial_balance_not_in_penny`,
    /// `trial_balance_not_in_pennylane`: the `check` of [`FINDINGS_TABLE`].
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::AmountsDiffer => "trial_balance_amounts_differ",
            DiscrepancyKind::NotInPenny => "trial_balance_not_in_penny",
            DiscrepancyKind::NotInPennylane => "trial_balance_not_in_pennylane",
        }
    }

    /// The kind named `name` ([`as_str`](Self::as_str)).
    pub fn parse(name: &str) -> Option<Self> {
        [
            DiscrepancyKind::AmountsDiffer,
            DiscrepancyKind::NotInPenny,
            DiscrepancyKind::NotInPennylane,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// Why a line is shown with a [`Discrepancy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExplainReason {
    /// Its amount (debit − credit) is the difference: Penny has it, Pennylane not.
    AmountIsTheDifference,
    /// Dated outside the period, its amount is what Penny lacks in it: dated
    /// differently on each side?
    DatedOutsideThePeriod,
    /// Its debit (or credit) is the difference of the debits (or credits).
    SideIsTheDifference,
    /// A line of an account Pennylane's trial balance does not have.
    AccountNotInPennylane,
}

impl ExplainReason {
    fn text(self) -> &'static str {
        match self {
            ExplainReason::AmountIsTheDifference => "its amount is the difference",
            ExplainReason::DatedOutsideThePeriod => {
                "dated outside the period, its amount is what Penny lacks"
            }
            ExplainReason::SideIsTheDifference => "its debit or credit is the difference",
            ExplainReason::AccountNotInPennylane => "Pennylane has no row for its account",
        }
    }
}

/// One of Penny's ledger lines that explains a [`Discrepancy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainingLine {
    /// The line.
    pub line_id: i64,
    /// Its entry.
    pub entry_id: i64,
    /// Its date.
    pub date: NaiveDate,
    /// Its journal.
    pub journal_code: String,
    /// Its label.
    pub label: String,
    /// Debit.
    pub debit: Decimal,
    /// Credit.
    pub credit: Decimal,
    /// Why it is shown.
    pub reason: ExplainReason,
}

/// An account whose figures differ between Penny and Pennylane over one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    /// The company.
    pub company_id: i64,
    /// First day of Pennylane's period.
    pub period_start: NaiveDate,
    /// Last day of Pennylane's period.
    pub period_end: NaiveDate,
    /// The account.
    pub account_number: String,
    /// What differs.
    pub kind: DiscrepancyKind,
    /// Pennylane's debits (`None`: no row).
    pub pennylane_debit: Option<Decimal>,
    /// Pennylane's credits (`None`: no row).
    pub pennylane_credit: Option<Decimal>,
    /// Penny's debits of the lines dated in the period.
    pub penny_debit: Decimal,
    /// Penny's credits of the lines dated in the period.
    pub penny_credit: Decimal,
    /// How many of Penny's lines are summed.
    pub penny_lines: u64,
    /// Lines that explain the difference ([`Explainer`]; empty until explained).
    pub explaining: Vec<ExplainingLine>,
}

impl Discrepancy {
    /// Penny's balance minus Pennylane's (each debit − credit): positive when Penny
    /// has more on the debit side.
    pub fn difference(&self) -> Decimal {
        (self.penny_debit - self.penny_credit)
            - (self.pennylane_debit.unwrap_or_default() - self.pennylane_credit.unwrap_or_default())
    }

    /// Penny's debits minus Pennylane's.
    pub fn debit_difference(&self) -> Decimal {
        self.penny_debit - self.pennylane_debit.unwrap_or_default()
    }

    /// Penny's credits minus Pennylane's.
    pub fn credit_difference(&self) -> Decimal {
        self.penny_credit - self.pennylane_credit.unwrap_or_default()
    }

    /// A sentence for people: both sides, the difference, the explaining lines.
    pub fn detail(&self) -> String {
        let pennylane = match (self.pennylane_debit, self.pennylane_credit) {
            (Some(d), Some(c)) => format!("Pennylane: debits {d}, credits {c}"),
            _ => "Pennylane's trial balance has no row for the account".to_owned(),
        };
        let penny = if self.penny_lines == 0 {
            "Penny has no line on the account in the period".to_owned()
        } else {
            format!(
                "Penny: debits {}, credits {} ({} lines)",
                self.penny_debit, self.penny_credit, self.penny_lines
            )
        };
        let mut out = format!(
            "{pennylane}; {penny}; difference (Penny − Pennylane, debit − credit) {}",
            self.difference()
        );
        if self.explaining.is_empty() && self.kind == DiscrepancyKind::AmountsDiffer {
            out.push_str("; no single line of Penny's is the difference");
        }
        for l in &self.explaining {
            out.push_str(&format!(
                "; line {} (entry {}, {}, {}, \"{}\", debit {}, credit {}): {}",
                l.line_id,
                l.entry_id,
                l.date,
                l.journal_code,
                l.label,
                l.debit,
                l.credit,
                l.reason.text()
            ));
        }
        out
    }
}

/// Pennylane's figures and Penny's sums, compared at [`finish`](Self::finish).
///
/// Memory: Pennylane's rows (one per company, period and account) and one accumulator
/// per company, account and Pennylane period Penny has lines in; nothing per line.
#[derive(Debug, Default)]
pub struct Reconciliation {
    /// Per company, Pennylane's periods (start, end), sorted.
    periods: BTreeMap<i64, Vec<(NaiveDate, NaiveDate)>>,
    /// Pennylane's debits and credits per (company, period start, account).
    pennylane: BTreeMap<(i64, NaiveDate, String), (Decimal, Decimal)>,
    /// Penny's sums per (company, period start, account).
    penny: FastMap<(i64, NaiveDate, String), (Sum, Sum, u64)>,
}

impl Reconciliation {
    /// A comparison with Pennylane's rows (rows of the same company, period and account
    /// are added up: several accounts may share a number).
    pub fn new(pennylane: impl IntoIterator<Item = PennylaneBalance>) -> Self {
        let mut r = Reconciliation::default();
        for row in pennylane {
            let periods = r.periods.entry(row.company_id).or_default();
            if !periods.contains(&(row.period_start, row.period_end)) {
                periods.push((row.period_start, row.period_end));
                periods.sort();
            }
            let sums = r
                .pennylane
                .entry((row.company_id, row.period_start, row.number))
                .or_default();
            sums.0 += row.debits;
            sums.1 += row.credits;
        }
        r
    }

    /// Whether Pennylane gave any figure (nothing to compare otherwise).
    pub fn is_empty(&self) -> bool {
        self.periods.is_empty()
    }

    /// Pennylane's period of `company_id` containing `date`.
    fn period(&self, company_id: i64, date: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let periods = self.periods.get(&company_id)?;
        let i = periods.partition_point(|(start, _)| *start <= date);
        let (start, end) = *periods.get(i.checked_sub(1)?)?;
        (date <= end).then_some((start, end))
    }

    /// Adds Penny's sums of `lines` lines of `account` in a period starting on `date`
    /// (which must lie within one of Pennylane's periods or wholly outside them). Sums
    /// outside Pennylane's periods, or of a company Pennylane gave nothing for, are not
    /// compared.
    pub fn add_sum(
        &mut self,
        company_id: i64,
        account: &str,
        date: NaiveDate,
        debit: Decimal,
        credit: Decimal,
        lines: u64,
    ) {
        let Some((start, _)) = self.period(company_id, date) else {
            return;
        };
        let s = self
            .penny
            .entry((company_id, start, account.to_owned()))
            .or_default();
        s.0.add(debit);
        s.1.add(credit);
        s.2 += lines;
    }

    /// Adds one ledger line.
    pub fn add_line(&mut self, line: &LedgerLine) {
        self.add_sum(
            line.company_id,
            &line.account_number,
            line.date,
            line.debit,
            line.credit,
            1,
        );
    }

    /// Adds the rows of a batch of line sums (columns `company_id`, `account_number`,
    /// `period` (the first day of the sum's period), `debit`, `credit` and optionally
    /// `lines`, as penny-cli's `_penny_line_sums` holds them), read by column name.
    pub fn add_sums(&mut self, batch: &Batch) -> Result<(), ReconcileError> {
        let c = Columns::new(batch);
        let (company, account, period, debit, credit) = (
            c.index("company_id")?,
            c.index("account_number")?,
            c.index("period")?,
            c.index("debit")?,
            c.index("credit")?,
        );
        let lines = c.index("lines").ok();
        for row in 0..c.len() {
            let n = match lines {
                Some(i) => u64::try_from(c.int(row, i, "lines")?).unwrap_or(0),
                None => 1,
            };
            let account = c.text(row, account, "account_number")?;
            self.add_sum(
                c.int(row, company, "company_id")?,
                &account,
                c.date(row, period, "period")?,
                c.money(row, debit, "debit")?,
                c.money(row, credit, "credit")?,
                n,
            );
        }
        Ok(())
    }

    /// The accounts whose figures differ, sorted by company, period and account.
    pub fn finish(self) -> Vec<Discrepancy> {
        let Reconciliation {
            periods,
            pennylane,
            mut penny,
        } = self;
        let end_of = |company: i64, start: NaiveDate| {
            periods
                .get(&company)
                .and_then(|p| p.iter().find(|(s, _)| *s == start))
                .map_or(start, |(_, e)| *e)
        };
        let mut out = Vec::new();
        for ((company_id, start, account), (pl_debit, pl_credit)) in pennylane {
            let key = (company_id, start, account);
            let (debit, credit, lines) = penny
                .remove(&key)
                .map_or((Decimal::ZERO, Decimal::ZERO, 0), |(d, c, n)| {
                    (d.value(), c.value(), n)
                });
            let (company_id, start, account_number) = key;
            let kind = if lines == 0 {
                if pl_debit.is_zero() && pl_credit.is_zero() {
                    continue;
                }
                DiscrepancyKind::NotInPenny
            } else if debit == pl_debit && credit == pl_credit {
                continue;
            } else {
                DiscrepancyKind::AmountsDiffer
            };
            out.push(Discrepancy {
                company_id,
                period_start: start,
                period_end: end_of(company_id, start),
                account_number,
                kind,
                pennylane_debit: Some(pl_debit),
                pennylane_credit: Some(pl_credit),
                penny_debit: debit,
                penny_credit: credit,
                penny_lines: lines,
                explaining: Vec::new(),
            });
        }
        for ((company_id, start, account_number), (debit, credit, lines)) in penny {
            let (debit, credit) = (debit.value(), credit.value());
            if debit.is_zero() && credit.is_zero() {
                continue;
            }
            out.push(Discrepancy {
                company_id,
                period_start: start,
                period_end: end_of(company_id, start),
                account_number,
                kind: DiscrepancyKind::NotInPennylane,
                pennylane_debit: None,
                pennylane_credit: None,
                penny_debit: debit,
                penny_credit: credit,
                penny_lines: lines,
                explaining: Vec::new(),
            });
        }
        out.sort_by(|a, b| {
            (a.company_id, a.period_start, &a.account_number).cmp(&(
                b.company_id,
                b.period_start,
                &b.account_number,
            ))
        });
        out
    }
}

/// How much an [`Explainer`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExplainLimits {
    /// How many discrepancies are explained (the first ones, in their order).
    pub accounts: usize,
    /// How many lines each keeps at most.
    pub lines: usize,
}

impl Default for ExplainLimits {
    /// 200 discrepancies, 5 lines each.
    fn default() -> Self {
        ExplainLimits {
            accounts: 200,
            lines: 5,
        }
    }
}

/// What a discrepancy looks for among the lines of its account.
#[derive(Debug, Clone)]
struct Target {
    index: usize,
    start: NaiveDate,
    end: NaiveDate,
    difference: Decimal,
    debit_difference: Decimal,
    credit_difference: Decimal,
    not_in_pennylane: bool,
}

/// Finds the lines that explain discrepancies, among the lines of their accounts fed
/// to it ([`add`](Self::add); lines of other accounts are ignored, so the caller may
/// feed every line or only those of [`accounts`](Self::accounts)).
///
/// Memory: at most [`ExplainLimits::lines`] lines per discrepancy explained.
#[derive(Debug)]
pub struct Explainer {
    limits: ExplainLimits,
    targets: FastMap<(i64, String), Vec<Target>>,
    found: Vec<Vec<ExplainingLine>>,
}

impl Explainer {
    /// Looks for the lines explaining the first [`ExplainLimits::accounts`] of
    /// `discrepancies` (those Pennylane has but Penny has no line for are not looked
    /// for in the period, only outside it).
    pub fn new(discrepancies: &[Discrepancy], limits: ExplainLimits) -> Self {
        let mut targets: FastMap<(i64, String), Vec<Target>> = FastMap::default();
        for (index, d) in discrepancies.iter().enumerate().take(limits.accounts) {
            targets
                .entry((d.company_id, d.account_number.clone()))
                .or_default()
                .push(Target {
                    index,
                    start: d.period_start,
                    end: d.period_end,
                    difference: d.difference(),
                    debit_difference: d.debit_difference(),
                    credit_difference: d.credit_difference(),
                    not_in_pennylane: d.kind == DiscrepancyKind::NotInPennylane,
                });
        }
        Explainer {
            limits,
            targets,
            found: vec![Vec::new(); discrepancies.len().min(limits.accounts)],
        }
    }

    /// Per company, the accounts whose lines are looked for.
    pub fn accounts(&self) -> BTreeMap<i64, BTreeSet<String>> {
        let mut out: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for (company, account) in self.targets.keys() {
            out.entry(*company).or_default().insert(account.clone());
        }
        out
    }

    /// Whether no discrepancy is looked for.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Looks at one line.
    pub fn add(&mut self, line: &LedgerLine) {
        let Some(targets) = self
            .targets
            .get(&(line.company_id, line.account_number.to_string()))
        else {
            return;
        };
        let amount = line.debit - line.credit;
        for t in targets {
            let inside = t.start <= line.date && line.date <= t.end;
            let reason = if !inside {
                (!t.difference.is_zero() && amount == -t.difference)
                    .then_some(ExplainReason::DatedOutsideThePeriod)
            } else if t.not_in_pennylane {
                Some(ExplainReason::AccountNotInPennylane)
            } else if !t.difference.is_zero() && amount == t.difference {
                Some(ExplainReason::AmountIsTheDifference)
            } else if (t.debit_difference.is_sign_positive()
                && !t.debit_difference.is_zero()
                && line.debit == t.debit_difference)
                || (t.credit_difference.is_sign_positive()
                    && !t.credit_difference.is_zero()
                    && line.credit == t.credit_difference)
            {
                Some(ExplainReason::SideIsTheDifference)
            } else {
                None
            };
            let Some(reason) = reason else { continue };
            let kept = &mut self.found[t.index];
            let rank = |l: &ExplainingLine| {
                (
                    l.reason,
                    std::cmp::Reverse((l.debit - l.credit).abs()),
                    l.line_id,
                )
            };
            let candidate = ExplainingLine {
                line_id: line.line_id,
                entry_id: line.entry_id,
                date: line.date,
                journal_code: line.journal_code.to_string(),
                label: line.label.clone(),
                debit: line.debit,
                credit: line.credit,
                reason,
            };
            if kept.len() >= self.limits.lines
                && kept
                    .last()
                    .is_some_and(|worst| rank(worst) <= rank(&candidate))
            {
                continue;
            }
            let at = kept.partition_point(|l| rank(l) <= rank(&candidate));
            kept.insert(at, candidate);
            kept.truncate(self.limits.lines);
        }
    }

    /// Looks at the lines of a batch of `canonical_ledger_lines` ([`canonical_lines`]).
    pub fn add_canonical(&mut self, batch: &Batch) -> Result<(), ReconcileError> {
        for l in canonical_lines(batch)? {
            self.add(&l);
        }
        Ok(())
    }

    /// Attaches the lines found to `discrepancies` (the same slice, in the same order,
    /// as given to [`new`](Self::new)).
    pub fn finish(self, discrepancies: &mut [Discrepancy]) {
        for (d, lines) in discrepancies.iter_mut().zip(self.found) {
            d.explaining = lines;
        }
    }
}

/// The columns of `canonical_ledger_lines` [`canonical_lines`] reads.
pub const CANONICAL_LINE_COLUMNS: [&str; 9] = [
    "company_id",
    "line_id",
    "entry_id",
    "date",
    "journal_code",
    "account_number",
    "label",
    "debit",
    "credit",
];

/// The lines of a batch of `canonical_ledger_lines` (or any table with its
/// [`CANONICAL_LINE_COLUMNS`]; `label` may be absent), read by column name, without
/// their third party, document, due date, lettering and categories.
pub fn canonical_lines(batch: &Batch) -> Result<Vec<LedgerLine>, ReconcileError> {
    let c = Columns::new(batch);
    let (company, line, entry, date, journal, account, label, debit, credit) = (
        c.index("company_id")?,
        c.index("line_id")?,
        c.index("entry_id")?,
        c.index("date")?,
        c.index("journal_code")?,
        c.index("account_number")?,
        c.index("label").ok(),
        c.index("debit")?,
        c.index("credit")?,
    );
    (0..c.len())
        .map(|row| {
            Ok(LedgerLine {
                company_id: c.int(row, company, "company_id")?,
                entry_id: c.int(row, entry, "entry_id")?,
                line_id: c.int(row, line, "line_id")?,
                date: c.date(row, date, "date")?,
                journal_code: c.text(row, journal, "journal_code")?.into(),
                account_number: c.text(row, account, "account_number")?.into(),
                label: c.opt_text(row, label, "label")?.unwrap_or_default(),
                debit: c.money(row, debit, "debit")?,
                credit: c.money(row, credit, "credit")?,
                third_party: None,
                document_ref: None,
                due_date: None,
                lettering: None,
                categories: None,
            })
        })
        .collect()
}

/// The table of the star schema the discrepancies are written in.
pub const FINDINGS_TABLE: &str = "report_quality_findings";

/// The schema of [`FINDINGS_TABLE`]: one row per company, check, period and account.
pub fn findings_schema() -> Arc<Schema> {
    let money = LogicalType::Decimal { scale: 2 };
    Arc::new(
        Schema::new(
            FINDINGS_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("check", LogicalType::Text),
                Column::required("period_start", LogicalType::Date),
                Column::required("period_end", LogicalType::Date),
                Column::required("account_number", LogicalType::Text),
                Column::required("account_key", LogicalType::Text),
                Column::nullable("pennylane_debit", money),
                Column::nullable("pennylane_credit", money),
                Column::required("penny_debit", money),
                Column::required("penny_credit", money),
                Column::required("penny_lines", LogicalType::Int64),
                Column::required("difference", money),
                Column::required("explaining_lines", LogicalType::Text),
                Column::required("detail", LogicalType::Text),
            ],
            ["company_id", "check", "period_start", "account_number"],
        )
        .expect("the findings schema is valid"),
    )
}

/// The discrepancies as batches of [`FINDINGS_TABLE`] (`account_key`: the star
/// schema's `<company_id>|<account>`, to relate to `dim_account`; `explaining_lines`:
/// the ids of the explaining lines, comma-separated).
pub fn findings_batches(
    discrepancies: &[Discrepancy],
    batch_rows: usize,
) -> Result<Vec<Batch>, BatchError> {
    let money = |d: Decimal| Value::Decimal(d.round_dp(2));
    let mut b = BatchBuilder::upsert(findings_schema(), batch_rows.max(1));
    let mut out = Vec::new();
    for d in discrepancies {
        let row = vec![
            Value::Int64(d.company_id),
            Value::Text(d.kind.as_str().to_owned()),
            Value::Date(d.period_start),
            Value::Date(d.period_end),
            Value::Text(d.account_number.clone()),
            Value::Text(crate::star::key(d.company_id, &d.account_number)),
            d.pennylane_debit.map_or(Value::Null, money),
            d.pennylane_credit.map_or(Value::Null, money),
            money(d.penny_debit),
            money(d.penny_credit),
            Value::Int64(i64::try_from(d.penny_lines).unwrap_or(i64::MAX)),
            money(d.difference()),
            Value::Text(
                d.explaining
                    .iter()
                    .map(|l| l.line_id.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Value::Text(d.detail()),
        ];
        out.extend(b.push(row)?);
    }
    out.extend(b.finish()?);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn eur(cents: i64) -> Decimal {
        Decimal::new(cents, 2)
    }

    fn line(id: i64, account: &str, date: NaiveDate, debit: i64, credit: i64) -> LedgerLine {
        LedgerLine {
            company_id: 1,
            entry_id: id / 10,
            line_id: id,
            date,
            journal_code: if date == d(2025, 1, 1) { "AN" } else { "VT" }.into(),
            account_number: account.into(),
            label: format!("ligne {id}"),
            debit: eur(debit),
            credit: eur(credit),
            third_party: None,
            document_ref: None,
            due_date: None,
            lettering: None,
            categories: None,
        }
    }

    /// Two fiscal years of balanced books, opening entries on 2025-01-01.
    fn books() -> Vec<LedgerLine> {
        vec![
            line(11, "512000", d(2025, 1, 1), 5_000_00, 0),
            line(12, "101000", d(2025, 1, 1), 0, 5_000_00),
            line(21, "411DUPONT", d(2025, 2, 10), 1_200_00, 0),
            line(22, "706000", d(2025, 2, 10), 0, 1_000_00),
            line(23, "445710", d(2025, 2, 10), 0, 200_00),
            line(31, "512000", d(2025, 3, 5), 1_200_00, 0),
            line(32, "411DUPONT", d(2025, 3, 5), 0, 1_200_00),
            line(41, "411MARTIN", d(2025, 12, 20), 360_00, 0),
            line(42, "706000", d(2025, 12, 20), 0, 300_00),
            line(43, "445710", d(2025, 12, 20), 0, 60_00),
            line(51, "606100", d(2026, 1, 15), 100_00, 0),
            line(52, "512000", d(2026, 1, 15), 0, 100_00),
        ]
    }

    /// Pennylane's trial balance of `lines` per calendar year, as the API computes it.
    fn pennylane_of(lines: &[LedgerLine]) -> Vec<PennylaneBalance> {
        let mut sums: BTreeMap<(i32, String), (Decimal, Decimal)> = BTreeMap::new();
        for l in lines {
            let s = sums
                .entry((l.date.year_ce().1 as i32, l.account_number.to_string()))
                .or_default();
            s.0 += l.debit;
            s.1 += l.credit;
        }
        sums.into_iter()
            .map(|((year, number), (debits, credits))| PennylaneBalance {
                company_id: 1,
                period_start: d(year, 1, 1),
                period_end: d(year, 12, 31),
                number,
                formatted_number: None,
                label: None,
                debits,
                credits,
            })
            .collect()
    }

    use chrono::Datelike;

    fn reconcile(pennylane: Vec<PennylaneBalance>, penny: &[LedgerLine]) -> Vec<Discrepancy> {
        let mut r = Reconciliation::new(pennylane);
        for l in penny {
            r.add_line(l);
        }
        let mut found = r.finish();
        let mut e = Explainer::new(&found, ExplainLimits::default());
        for l in penny {
            e.add(l);
        }
        e.finish(&mut found);
        found
    }

    #[test]
    fn the_same_books_reconcile_opening_entries_included() {
        let lines = books();
        assert!(reconcile(pennylane_of(&lines), &lines).is_empty());
        // Per-period sums (a month each) give the same answer as the lines.
        let mut r = Reconciliation::new(pennylane_of(&lines));
        let mut sums: BTreeMap<(String, NaiveDate), (Decimal, Decimal, u64)> = BTreeMap::new();
        for l in &lines {
            let s = sums
                .entry((
                    l.account_number.to_string(),
                    super::super::month_start(l.date),
                ))
                .or_default();
            s.0 += l.debit;
            s.1 += l.credit;
            s.2 += 1;
        }
        for ((account, month), (debit, credit, n)) in sums {
            r.add_sum(1, &account, month, debit, credit, n);
        }
        assert!(r.finish().is_empty());
    }

    #[test]
    fn a_line_penny_has_more_is_named() {
        let lines = books();
        let pennylane = pennylane_of(&lines);
        let mut penny = lines.clone();
        // A line deleted in Pennylane that Penny still has (with its entry).
        penny.push(line(61, "411MARTIN", d(2025, 6, 1), 240_00, 0));
        penny.push(line(62, "706000", d(2025, 6, 1), 0, 240_00));
        let found = reconcile(pennylane, &penny);
        assert_eq!(found.len(), 2, "{found:#?}");
        let martin = &found[0];
        assert_eq!(
            (martin.account_number.as_str(), martin.kind),
            ("411MARTIN", DiscrepancyKind::AmountsDiffer)
        );
        assert_eq!(martin.difference(), eur(240_00));
        assert_eq!(
            (
                martin.pennylane_debit,
                martin.penny_debit,
                martin.penny_lines
            ),
            (Some(eur(360_00)), eur(600_00), 2)
        );
        assert_eq!(martin.explaining.len(), 1, "{martin:#?}");
        assert_eq!(martin.explaining[0].line_id, 61);
        assert_eq!(
            martin.explaining[0].reason,
            ExplainReason::AmountIsTheDifference
        );
        assert!(
            martin.detail().contains("line 61 (entry 6"),
            "{}",
            martin.detail()
        );
        assert_eq!(found[1].account_number, "706000");
        assert_eq!(found[1].difference(), eur(-240_00));
        // As rows of the findings table.
        let batches = findings_batches(&found, 1).expect("rows fit the schema");
        assert_eq!(batches.len(), 2);
        let row = &batches[0].rows()[0];
        let col = |name| findings_schema().column_index(name).expect("column");
        assert_eq!(
            row[col("check")],
            Value::Text("trial_balance_amounts_differ".into())
        );
        assert_eq!(row[col("account_key")], Value::Text("1|411MARTIN".into()));
        assert_eq!(row[col("difference")], Value::Decimal(eur(240_00)));
        assert_eq!(row[col("explaining_lines")], Value::Text("61".into()));
    }

    #[test]
    fn line_sums_are_read_by_column_name() {
        let lines = books();
        let schema = Arc::new(
            Schema::new(
                "_penny_line_sums",
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("account_number", LogicalType::Text),
                    Column::required("period", LogicalType::Date),
                    Column::required("debit", LogicalType::Decimal { scale: 2 }),
                    Column::required("credit", LogicalType::Decimal { scale: 2 }),
                    Column::required("lines", LogicalType::Int64),
                ],
                ["company_id", "account_number", "period"],
            )
            .expect("schema"),
        );
        let rows = lines
            .iter()
            .map(|l| {
                vec![
                    Value::Int64(1),
                    Value::Text(l.account_number.to_string()),
                    Value::Date(l.date),
                    Value::Decimal(l.debit),
                    Value::Decimal(l.credit),
                    Value::Int64(1),
                ]
            })
            .collect();
        // Pennylane has one line fewer on 512000 in 2026.
        let mut pennylane = pennylane_of(&lines);
        let bank = pennylane
            .iter_mut()
            .find(|p| p.number == "512000" && p.period_start == d(2026, 1, 1))
            .expect("bank 2026");
        bank.credits = Decimal::ZERO;
        let mut r = Reconciliation::new(pennylane);
        r.add_sums(&Batch::upsert(schema, rows).expect("batch"))
            .expect("read");
        let found = r.finish();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].account_number.as_str(), found[0].difference()),
            ("512000", eur(-100_00))
        );
    }

    #[test]
    fn a_line_dated_in_another_year_and_missing_accounts_are_named() {
        let lines = books();
        let mut pennylane = pennylane_of(&lines);
        // Pennylane has an account Penny has no line on.
        pennylane.push(PennylaneBalance {
            company_id: 1,
            period_start: d(2026, 1, 1),
            period_end: d(2026, 12, 31),
            number: "467000".into(),
            formatted_number: Some("467000".into()),
            label: Some("Autres comptes débiteurs".into()),
            debits: eur(10_00),
            credits: Decimal::ZERO,
        });
        let mut penny = lines.clone();
        // Penny dates the December invoice's customer line in January.
        penny[7].date = d(2026, 1, 2);
        // And has an account Pennylane's trial balance does not.
        penny.push(line(71, "471000", d(2026, 2, 1), 0, 50_00));
        let found = reconcile(pennylane, &penny);
        let kinds: Vec<_> = found
            .iter()
            .map(|f| (f.period_start.year(), f.account_number.as_str(), f.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (2025, "411MARTIN", DiscrepancyKind::NotInPenny),
                (2026, "411MARTIN", DiscrepancyKind::NotInPennylane),
                (2026, "467000", DiscrepancyKind::NotInPenny),
                (2026, "471000", DiscrepancyKind::NotInPennylane),
            ]
        );
        // 2025: Penny lacks 360.00 on 411MARTIN; its line dated 2026-01-02 is it.
        assert_eq!(found[0].difference(), eur(-360_00));
        assert_eq!(found[0].explaining[0].line_id, 41);
        assert_eq!(
            found[0].explaining[0].reason,
            ExplainReason::DatedOutsideThePeriod
        );
        assert_eq!(
            found[3].explaining[0].reason,
            ExplainReason::AccountNotInPennylane
        );
        assert_eq!(found[2].penny_lines, 0);
        assert!(found[2].explaining.is_empty());
    }

    #[test]
    fn explaining_lines_are_bounded() {
        let mut penny = Vec::new();
        for i in 0..50 {
            penny.push(line(100 + i, "471000", d(2025, 5, 1), 1_00 + i, 0));
        }
        let pennylane = vec![PennylaneBalance {
            company_id: 1,
            period_start: d(2025, 1, 1),
            period_end: d(2025, 12, 31),
            number: "512000".into(),
            formatted_number: None,
            label: None,
            debits: Decimal::ZERO,
            credits: Decimal::ZERO,
        }];
        let found = reconcile(pennylane, &penny);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].explaining.len(), ExplainLimits::default().lines);
        // The largest lines first.
        assert_eq!(found[0].explaining[0].line_id, 149);
        let none = Explainer::new(
            &found,
            ExplainLimits {
                accounts: 0,
                lines: 5,
            },
        );
        assert!(none.is_empty());
    }

    #[test]
    fn the_raw_table_is_decoded_by_column_name() {
        let schema = Arc::new(
            Schema::new(
                TRIAL_BALANCE_TABLE,
                vec![
                    Column::required("credits", LogicalType::Decimal { scale: 2 }),
                    Column::required("number", LogicalType::Text),
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("period_start", LogicalType::Date),
                    Column::required("period_end", LogicalType::Date),
                    Column::nullable("label", LogicalType::Text),
                    Column::required("debits", LogicalType::Decimal { scale: 2 }),
                ],
                ["company_id", "period_start", "number"],
            )
            .expect("schema"),
        );
        let batch = Batch::upsert(
            schema.clone(),
            vec![vec![
                Value::Decimal(eur(5_00)),
                Value::Text("512000".into()),
                Value::Int64(7),
                Value::Date(d(2025, 1, 1)),
                Value::Date(d(2025, 12, 31)),
                Value::Null,
                Value::Decimal(eur(12_00)),
            ]],
        )
        .expect("batch");
        let rows = PennylaneBalance::decode(&batch).expect("decoded");
        assert_eq!(
            rows,
            [PennylaneBalance {
                company_id: 7,
                period_start: d(2025, 1, 1),
                period_end: d(2025, 12, 31),
                number: "512000".into(),
                formatted_number: None,
                label: None,
                debits: eur(12_00),
                credits: eur(5_00),
            }]
        );
        let partial = Arc::new(
            Schema::new(
                TRIAL_BALANCE_TABLE,
                vec![Column::required("company_id", LogicalType::Int64)],
                ["company_id"],
            )
            .expect("schema"),
        );
        let err = PennylaneBalance::decode(&Batch::upsert(partial, vec![]).expect("batch"))
            .expect_err("no period");
        assert!(
            err.to_string().contains("column `period_start` is missing"),
            "{err}"
        );
    }
}
