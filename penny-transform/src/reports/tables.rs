//! The reports of [`reports`](super) as tables of the star schema, for Power BI (their
//! columns: `docs/src/data-model.md`):
//!
//! - `report_trial_balance`: per company, fiscal year and account: opening balance,
//!   debits, credits, closing balance, under the French chart's rules
//!   ([`FiscalTrialBalanceBuilder`]: a year's own opening entries are its opening, else
//!   the balance-sheet accounts carry their closing and classes 6 and 7 open at zero,
//!   their result carried onto the company's 120 or 129 account, see
//!   [`result_accounts`]); for a company whose source gives no fiscal year,
//!   twelve-month years starting in a given month, see [`fiscal_years_used`];
//! - `report_fiscal_results`: per company and fiscal year, revenue (class 7), expenses
//!   (class 6), result, the account it is carried onto, and where the year's opening
//!   comes from ([`fiscal_results_schema`]);
//! - `report_aged_receivables` / `report_aged_payables`: per company and customer or
//!   supplier, the open amount of its invoices by bucket of days past due (default
//!   buckets: not due, 0-30, 31-60, 61-90, >90; `third_party_id` 0 for invoices
//!   without one), as of the day of the sync ([`aged_balance::from_invoices`]);
//! - `report_sig`: the soldes intermédiaires de gestion per company and month
//!   ([`sig`](super::sig)), without the opening entries (they are no month's
//!   movements; nor are they in the VAT from the ledger);
//! - `report_vat`: VAT per company, month, direction and VAT account from the ledger
//!   ([`vat_from_ledger`]), and per rate from the invoice lines ([`vat_by_rate`]), one
//!   table told apart by `source` (`ledger` or `invoices`).
//!
//! Memory: the lines are not held. They are summed, as they stream by, per company,
//! account and month, months split at the fiscal years' bounds ([`LineSums`]); the
//! reports are then computed from those sums ([`report_batches`]), which is exact since
//! every report groups by month, by fiscal year or coarser. Their size grows with the
//! accounts and months used, not with the lines. The invoices are digested alike
//! ([`InvoiceDigest`]). The reports are computed in one pass over the sums, without
//! holding them as lines.
//!
//! Each table is replaced whole on every run, but for an incremental update that may
//! merge the rows a change reaches: the trial balance's accounts
//! ([`changed_accounts`], [`trial_balance_accounts`], [`changed_trial_balance`]) and
//! the aged balances' third parties ([`changed_aged`]).
//!
//! [`aged_balance::from_invoices`]: super::aged_balance::from_invoices
//! [`vat_by_rate`]: super::vat::vat_by_rate

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::FiscalCalendar;
use super::aged_balance::{AgedRow, Buckets};
use super::invoice_digest::InvoiceDigest;
use super::line_sums::{LineSums, SumKey};
use super::sig::{SigBuilder, SigRow};
use super::trial_balance::{FiscalResult, FiscalTrialBalanceBuilder, TrialBalanceRow};
use super::vat::{VatDirection, VatLedgerRow, VatRateRow, vat_from_ledger};
use crate::batch::{Batch, BatchError, Row};
use crate::canonical::read::Reader;
use crate::canonical::tables::{MONEY, build, fixed_schema, fixed_table, opt, req};
use crate::canonical::{
    Account, FiscalYear, MONEY_SCALE, MappingError, OpeningJournals, ThirdPartyKind,
};
use crate::pcg::ResultAccounts;
use crate::schema::{LogicalType, Schema};
use crate::value::Value;

use LogicalType::{Date, Int64, Text};

/// The names of the report tables.
pub const REPORT_TABLES: [&str; 6] = [
    "report_trial_balance",
    "report_fiscal_results",
    "report_aged_receivables",
    "report_aged_payables",
    "report_sig",
    "report_vat",
];

/// A report table: its schema and its rows.
pub type ReportTable = (Arc<Schema>, Vec<Batch>);

/// An amount as the report tables hold it: rounded to cents.
fn money(d: Decimal) -> Decimal {
    d.round_dp(MONEY_SCALE)
}

fixed_table! {
    /// The schema of `report_trial_balance`: per company, fiscal year (`period_start`,
    /// `period_end`) and account, the `opening` balance, the year's `debit`s and
    /// `credit`s, and the `closing` balance (opening + debit − credit), signed debit
    /// minus credit; keyed by `company_id`, `period_start`, `account_number`.
    pub fn trial_balance_schema, fn trial_balance_row(r: &TrialBalanceRow) =
        "report_trial_balance", ["company_id", "period_start", "account_number"];
    req("company_id", Int64) => r.company_id,
    req("period_start", Date) => r.period_start,
    req("period_end", Date) => r.period_end,
    req("account_number", Text) => r.account_number.clone(),
    req("opening", MONEY) => money(r.opening),
    req("debit", MONEY) => money(r.debit),
    req("credit", MONEY) => money(r.credit),
    req("closing", MONEY) => money(r.closing),
}

fixed_table! {
    /// The schema of `report_fiscal_results`: per company and fiscal year, the revenue
    /// (class 7), the expenses (class 6), the result (revenue minus expenses), the
    /// account the result goes to when carried into the next year (120 for a profit,
    /// 129 for a loss), and where the year's opening comes from (`opening_entries`: its
    /// own opening entries; `carried`: the previous year's closing).
    pub fn fiscal_results_schema, fn fiscal_result_row(r: &FiscalResult) =
        "report_fiscal_results", ["company_id", "period_start"];
    req("company_id", Int64) => r.company_id,
    req("period_start", Date) => r.period_start,
    req("period_end", Date) => r.period_end,
    opt("status", Text) => r.status.clone(),
    req("revenue", MONEY) => money(r.revenue),
    req("expenses", MONEY) => money(r.expenses),
    req("result", MONEY) => money(r.result),
    req("result_account", Text) => r.result_account.clone(),
    req("opening", Text) => r.opening.as_str(),
}

/// The schema of `report_aged_receivables` (customers) or `report_aged_payables`
/// (suppliers): per company and third party (`third_party_id`, 0 for invoices without
/// one), the day the ages are computed at (`as_of`), the open amount per bucket of days
/// past due (`not_due`, `due_0_30`, `due_31_60`, `due_61_90`, `due_over_90`) and their
/// `total`.
pub fn aged_schema(kind: ThirdPartyKind) -> Arc<Schema> {
    static RECEIVABLES: OnceLock<Arc<Schema>> = OnceLock::new();
    static PAYABLES: OnceLock<Arc<Schema>> = OnceLock::new();
    let (cell, name) = match kind {
        ThirdPartyKind::Customer => (&RECEIVABLES, "report_aged_receivables"),
        ThirdPartyKind::Supplier => (&PAYABLES, "report_aged_payables"),
    };
    let columns = || {
        let mut columns = vec![
            req("company_id", Int64),
            req("third_party_id", Int64),
            req("as_of", Date),
        ];
        columns.extend(bucket_columns().iter().map(|label| req(label, MONEY)));
        columns.push(req("total", MONEY));
        columns
    };
    fixed_schema(cell, name, columns, &["company_id", "third_party_id"])
}

/// One row of an aged balance's table, as of `as_of`.
fn aged_row(r: &AgedRow, as_of: NaiveDate) -> Row {
    let mut row = vec![
        Value::Int64(r.company_id),
        Value::Int64(r.third_party_id.unwrap_or(0)),
        Value::Date(as_of),
    ];
    row.extend(r.buckets.iter().map(|b| Value::Decimal(money(*b))));
    row.push(Value::Decimal(money(r.total)));
    row
}

/// The bucket columns, from the default buckets' labels (`not_due`, `due_0_30`, ...).
fn bucket_columns() -> Vec<String> {
    Buckets::default()
        .labels()
        .into_iter()
        .map(|l| match l.as_str() {
            "not_due" => l,
            _ => format!(
                "due_{}",
                l.replace('-', "_")
                    .replace(">=", "from_")
                    .replace('>', "over_")
            ),
        })
        .collect()
}

fixed_table! {
    /// The schema of `report_sig`: per company and month, the soldes intermédiaires de
    /// gestion ([`Sig`](super::sig::Sig)), one column per aggregate and balance.
    pub fn sig_schema, fn sig_row(r: &SigRow) = "report_sig", ["company_id", "month"];
    let g = &r.sig;
    req("company_id", Int64) => r.company_id,
    req("month", Date) => r.month,
    req("ventes_marchandises", MONEY) => money(g.ventes_marchandises),
    req("cout_achat_marchandises", MONEY) => money(g.cout_achat_marchandises),
    req("marge_commerciale", MONEY) => money(g.marge_commerciale),
    req("production_vendue", MONEY) => money(g.production_vendue),
    req("production_stockee", MONEY) => money(g.production_stockee),
    req("production_immobilisee", MONEY) => money(g.production_immobilisee),
    req("production_exercice", MONEY) => money(g.production_exercice),
    req("consommations_tiers", MONEY) => money(g.consommations_tiers),
    req("valeur_ajoutee", MONEY) => money(g.valeur_ajoutee),
    req("subventions_exploitation", MONEY) => money(g.subventions_exploitation),
    req("impots_taxes", MONEY) => money(g.impots_taxes),
    req("charges_personnel", MONEY) => money(g.charges_personnel),
    req("ebe", MONEY) => money(g.ebe),
    req("reprises_transferts", MONEY) => money(g.reprises_transferts),
    req("autres_produits_exploitation", MONEY) => money(g.autres_produits_exploitation),
    req("dotations_exploitation", MONEY) => money(g.dotations_exploitation),
    req("autres_charges_exploitation", MONEY) => money(g.autres_charges_exploitation),
    req("resultat_exploitation", MONEY) => money(g.resultat_exploitation),
    req("produits_financiers", MONEY) => money(g.produits_financiers),
    req("charges_financieres", MONEY) => money(g.charges_financieres),
    req("resultat_courant_avant_impots", MONEY) => money(g.resultat_courant_avant_impots),
    req("produits_exceptionnels", MONEY) => money(g.produits_exceptionnels),
    req("charges_exceptionnelles", MONEY) => money(g.charges_exceptionnelles),
    req("resultat_exceptionnel", MONEY) => money(g.resultat_exceptionnel),
    req("participation_impots", MONEY) => money(g.participation_impots),
    req("resultat_exercice", MONEY) => money(g.resultat_exercice),
}

/// One row of `report_vat`: the VAT of a VAT account from the ledger, or of a rate from
/// the invoice lines.
struct VatReportRow {
    company_id: i64,
    month: NaiveDate,
    /// `ledger` or `invoices`.
    source: &'static str,
    direction: VatDirection,
    /// The VAT account (`ledger`) or the rate (`invoices`).
    account_or_rate: String,
    /// The base (HT), from the invoices only.
    base: Option<Decimal>,
    vat: Decimal,
    /// The amount with tax (TTC), from the invoices only.
    amount_ttc: Option<Decimal>,
}

impl From<VatLedgerRow> for VatReportRow {
    fn from(r: VatLedgerRow) -> Self {
        VatReportRow {
            company_id: r.company_id,
            month: r.month,
            source: "ledger",
            direction: r.direction,
            account_or_rate: r.account_number,
            base: None,
            vat: r.vat,
            amount_ttc: None,
        }
    }
}

impl From<VatRateRow> for VatReportRow {
    fn from(r: VatRateRow) -> Self {
        VatReportRow {
            company_id: r.company_id,
            month: r.month,
            source: "invoices",
            direction: r.direction,
            account_or_rate: r.vat_rate,
            base: Some(r.base),
            vat: r.vat,
            amount_ttc: Some(r.amount_ttc),
        }
    }
}

fixed_table! {
    /// The schema of `report_vat`: per company, month, `source` (`ledger`: per VAT
    /// account; `invoices`: per rate of the invoice lines), `direction` (`collected` or
    /// `deductible`) and `account_or_rate`, the VAT, and from the invoices the `base`
    /// (HT) and the `amount_ttc`.
    pub fn vat_schema, fn vat_row(r: VatReportRow) =
        "report_vat", ["company_id", "month", "source", "direction", "account_or_rate"];
    req("company_id", Int64) => r.company_id,
    req("month", Date) => r.month,
    req("source", Text) => r.source,
    req("direction", Text) => r.direction.as_str(),
    req("account_or_rate", Text) => r.account_or_rate,
    opt("base", MONEY) => r.base.map(money),
    req("vat", MONEY) => money(r.vat),
    opt("amount_ttc", MONEY) => r.amount_ttc.map(money),
}

/// The report table of `schema` with `rows`, in batches of at most `batch_rows` rows.
fn report_table(
    schema: Arc<Schema>,
    rows: impl Iterator<Item = Row>,
    batch_rows: usize,
) -> Result<ReportTable, BatchError> {
    let batches = build(schema.clone(), rows, batch_rows.max(1))?;
    Ok((schema, batches))
}

/// The fiscal years the reports and `dim_date` go by: the source's (`source`), and for
/// each company of `companies` that has none there, twelve-month years starting in
/// `year_start_month` that cover `range` ([`FiscalYear::assumed`]; the lines' sums of
/// such a company are kept per month, so any whole-month year is exact).
pub fn fiscal_years_used(
    source: &[FiscalYear],
    companies: impl IntoIterator<Item = i64>,
    year_start_month: u32,
    (from, to): (NaiveDate, NaiveDate),
) -> Vec<FiscalYear> {
    let with_years: BTreeSet<i64> = source.iter().map(|fy| fy.company_id).collect();
    let without: BTreeSet<i64> = companies
        .into_iter()
        .filter(|c| !with_years.contains(c))
        .collect();
    let mut years = source.to_vec();
    for company in without {
        years.extend(FiscalYear::assumed(company, year_start_month, from, to));
    }
    years
}

/// The result accounts (120, 129) of each company of `chart` that has accounts
/// ([`ResultAccounts::from_chart`]: the company's own, else 120000 and 129000).
pub fn result_accounts(chart: &[Account]) -> BTreeMap<i64, ResultAccounts> {
    let mut numbers: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for a in chart {
        numbers.entry(a.company_id).or_default().push(&a.number);
    }
    numbers
        .into_iter()
        .map(|(company, numbers)| (company, ResultAccounts::from_chart(numbers)))
        .collect()
}

/// The report tables' rows, in the order of [`REPORT_TABLES`], computed from the fiscal
/// years, the line sums, the invoices' digest (whose date is the aged balances'
/// `as_of`) and the companies' result accounts (120000 and 129000 for a company not in
/// `result_accounts`).
pub fn report_batches(
    fiscal_years: &[FiscalYear],
    sums: &LineSums,
    invoices: &InvoiceDigest,
    result_accounts: &BTreeMap<i64, ResultAccounts>,
    batch_rows: usize,
) -> Result<Vec<ReportTable>, BatchError> {
    let as_of = invoices.as_of();
    // The sums are dated on their periods' first days: the last month runs to its end.
    let extent: BTreeMap<i64, (NaiveDate, NaiveDate)> = sums
        .extent()
        .into_iter()
        .map(|(c, (a, b))| (c, (a, super::month_end(b))))
        .collect();
    let (first, last) = extent
        .values()
        .copied()
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .unwrap_or((as_of, as_of));
    let mut out = Vec::new();

    // One pass over the sums feeds the trial balance per fiscal year (for a company
    // `fiscal_years` have none of, one period over its lines' months), the SIG, and the
    // VAT accounts' sums (few) for the VAT from the ledger; the opening entries are
    // openings of the trial balance, not movements of their month.
    let mut years = fiscal_years.to_vec();
    for (company, (start, end)) in &extent {
        if !fiscal_years.iter().any(|fy| fy.company_id == *company) {
            years.push(FiscalYear {
                company_id: *company,
                start: *start,
                end: *end,
                status: None,
            });
        }
    }
    // The sums of opening journals' lines come in journal `AN` (`for_each_line`).
    let calendar = FiscalCalendar::new(&years, OpeningJournals::default());
    let mut trial_balance = FiscalTrialBalanceBuilder::new(calendar.clone());
    for (company, accounts) in result_accounts {
        trial_balance = trial_balance.with_result_accounts(*company, accounts.clone());
    }
    let mut sig = SigBuilder::new(first, last);
    let mut vat_lines = Vec::new();
    sums.for_each_line(|l| {
        trial_balance.add(l);
        if calendar.is_opening_line(l) {
            return;
        }
        sig.add(l);
        if VatDirection::of_account(&l.account_number).is_some() {
            vat_lines.push(l.clone());
        }
    });
    let fiscal = trial_balance.finish();
    out.push(report_table(
        trial_balance_schema(),
        fiscal.rows.iter().map(trial_balance_row),
        batch_rows,
    )?);
    out.push(report_table(
        fiscal_results_schema(),
        fiscal.results.iter().map(fiscal_result_row),
        batch_rows,
    )?);

    // Aged balances, from the invoices and their payments.
    let aged = invoices.aged();
    for kind in [ThirdPartyKind::Customer, ThirdPartyKind::Supplier] {
        let rows = aged.rows.iter().filter(|r| r.kind == kind);
        out.push(report_table(
            aged_schema(kind),
            rows.map(|r| aged_row(r, as_of)),
            batch_rows,
        )?);
    }

    // SIG by month.
    out.push(report_table(
        sig_schema(),
        sig.finish().iter().map(sig_row),
        batch_rows,
    )?);

    // VAT from the ledger (by account) and from the invoices (by rate).
    let ledger = vat_from_ledger(&vat_lines, first, last)
        .into_iter()
        .map(VatReportRow::from);
    let by_rate = invoices.vat_rows().into_iter().map(VatReportRow::from);
    out.push(report_table(
        vat_schema(),
        ledger.chain(by_rate).map(vat_row),
        batch_rows,
    )?);
    Ok(out)
}

/// The accounts whose sums `touched` (keys of the sums a change touched) names, for an
/// incremental update to merge the trial balance by ([`trial_balance_accounts`]);
/// `None` when a sum of opening journals' lines is among them: which years open with
/// their own entries may have changed, and every row with it, so the trial balance is
/// written whole.
pub fn changed_accounts(touched: &BTreeSet<SumKey>) -> Option<BTreeSet<(i64, Arc<str>)>> {
    if touched.iter().any(|(_, _, _, opening)| *opening) {
        return None;
    }
    Some(touched.iter().map(|(c, a, _, _)| (*c, a.clone())).collect())
}

/// The accounts of the trial balance's rows a change of the sums of `changed` accounts
/// (none of them sums of opening journals' lines: those may change which years open
/// with their own entries, and every row with them) can change: those accounts, whose
/// later openings carry them, and every account a company's result may be carried to
/// (numbers starting with 120 or 129 in `chart` or in `sums`, and 120000 and 129000),
/// whose openings carry the results of classes 6 and 7 and whose choice follows the
/// chart.
pub fn trial_balance_accounts(
    changed: &BTreeSet<(i64, Arc<str>)>,
    chart: &[Account],
    sums: &LineSums,
) -> BTreeSet<(i64, Arc<str>)> {
    let is_result = |n: &str| n.starts_with("120") || n.starts_with("129");
    let mut out = changed.clone();
    let companies: BTreeSet<i64> = sums
        .extent()
        .into_keys()
        .chain(chart.iter().map(|a| a.company_id))
        // A company whose last lines went away still has result rows to remove.
        .chain(changed.iter().map(|(company, _)| *company))
        .collect();
    for company in companies {
        let defaults = ResultAccounts::default();
        out.insert((company, Arc::from(defaults.profit.as_str())));
        out.insert((company, Arc::from(defaults.loss.as_str())));
    }
    for a in chart.iter().filter(|a| is_result(&a.number)) {
        out.insert((a.company_id, Arc::from(a.number.as_str())));
    }
    for (company, account, _, _) in sums.keys() {
        if is_result(account) {
            out.insert((*company, account.clone()));
        }
    }
    out
}

/// The rows of the aged balance `aged` (batches of `schema`, read by column name) of
/// `groups` (company, third party), and the keys of those that have no row (to delete,
/// if the last run wrote one).
pub fn changed_aged(
    schema: &Arc<Schema>,
    aged: Vec<Batch>,
    groups: &BTreeSet<(i64, i64)>,
    batch_rows: usize,
) -> Result<(Vec<Batch>, Vec<Vec<Value>>), MappingError> {
    let mut kept = Vec::new();
    let mut present = BTreeSet::new();
    for batch in &aged {
        let r = Reader::new(batch)?;
        let (company, third_party) = (r.col("company_id")?, r.col("third_party_id")?);
        for row in 0..r.len() {
            let group = (r.cell(row, company).i64()?, r.cell(row, third_party).i64()?);
            if groups.contains(&group) {
                present.insert(group);
                kept.push(batch.rows()[row].clone());
            }
        }
    }
    let gone = groups
        .difference(&present)
        .map(|(c, tp)| vec![Value::Int64(*c), Value::Int64(*tp)])
        .collect();
    Ok((
        build(schema.clone(), kept.into_iter(), batch_rows.max(1))?,
        gone,
    ))
}

/// The rows of the trial balance `tb` (batches of `schema`, read by column name) of
/// `accounts`, and the keys of those accounts in `fiscal_years` that have no row (to
/// delete, if the last run wrote one).
pub fn changed_trial_balance(
    schema: &Arc<Schema>,
    tb: Vec<Batch>,
    fiscal_years: &[FiscalYear],
    accounts: &BTreeSet<(i64, Arc<str>)>,
    batch_rows: usize,
) -> Result<(Vec<Batch>, Vec<Vec<Value>>), MappingError> {
    let mut kept = Vec::new();
    let mut keys = BTreeSet::new();
    for batch in &tb {
        let r = Reader::new(batch)?;
        let (company, start, account) = (
            r.col("company_id")?,
            r.col("period_start")?,
            r.col("account_number")?,
        );
        for row in 0..r.len() {
            let (c, a) = (r.cell(row, company).i64()?, r.cell(row, account).str()?);
            if accounts.contains(&(c, Arc::from(a.as_ref()))) {
                keys.insert((c, r.cell(row, start).date()?, a.into_owned()));
                kept.push(batch.rows()[row].clone());
            }
        }
    }
    let mut gone = Vec::new();
    for (company, account) in accounts {
        for fy in fiscal_years.iter().filter(|fy| fy.company_id == *company) {
            if !keys.contains(&(*company, fy.start, account.to_string())) {
                gone.push(vec![
                    Value::Int64(*company),
                    Value::Date(fy.start),
                    Value::Text(account.to_string()),
                ]);
            }
        }
    }
    Ok((
        build(schema.clone(), kept.into_iter(), batch_rows.max(1))?,
        gone,
    ))
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::canonical::{Books, LedgerLine};
    use crate::reports::line_sums::tests::{change_lines, sample_lines};
    use crate::reports::trial_balance::fiscal_trial_balance;
    use chrono::Datelike;
    use proptest::prelude::*;

    fn no_journals() -> OpeningJournals {
        OpeningJournals::default()
    }

    #[test]
    fn the_report_tables_are_written_in_the_order_of_their_names() {
        let tables = report_batches(
            &[],
            &LineSums::default(),
            &InvoiceDigest::new(d(2026, 1, 1)),
            &BTreeMap::new(),
            10,
        )
        .expect("valid");
        let names: Vec<&str> = tables.iter().map(|(s, _)| s.name()).collect();
        assert_eq!(names, REPORT_TABLES);
        let columns = |s: Arc<Schema>| -> Vec<String> {
            s.columns().iter().map(|c| c.name.clone()).collect()
        };
        assert_eq!(
            columns(aged_schema(ThirdPartyKind::Supplier)),
            [
                "company_id",
                "third_party_id",
                "as_of",
                "not_due",
                "due_0_30",
                "due_31_60",
                "due_61_90",
                "due_over_90",
                "total"
            ]
        );
        assert_eq!(columns(sig_schema()).len(), 2 + 26);
    }

    #[test]
    fn the_aged_rows_of_the_changed_third_parties_and_the_keys_of_those_gone() {
        let books = crate::testing::books_with_every_document();
        let mut digest = InvoiceDigest::new(d(2026, 7, 31));
        digest.add(&books);
        let tables = report_batches(&[], &LineSums::default(), &digest, &BTreeMap::new(), 10)
            .expect("valid");
        let (schema, batches) = tables
            .into_iter()
            .find(|(s, _)| s.name() == "report_aged_receivables")
            .expect("a table");
        let groups: BTreeSet<(i64, i64)> = [(1, 1), (1, 5)].into();
        let (upserts, gone) = changed_aged(&schema, batches, &groups, 10).expect("readable");
        let kept: Vec<&Vec<Value>> = upserts.iter().flat_map(|b| b.rows()).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0][..2], [Value::Int64(1), Value::Int64(1)]);
        assert_eq!(gone, [vec![Value::Int64(1), Value::Int64(5)]]);
    }

    #[test]
    fn the_trial_balance_from_period_sums_equals_the_one_from_the_lines() {
        trial_balance_from_sums_equals_the_one_from_the_lines(d(2026, 1, 1), d(2026, 12, 31));
    }

    #[test]
    fn a_company_without_fiscal_years_has_its_trial_balance_per_assumed_year() {
        let lines = sample_lines();
        // Company 2 has its own fiscal year; company 1 none.
        let source = [FiscalYear {
            company_id: 2,
            start: d(2026, 1, 1),
            end: d(2026, 12, 31),
            status: Some("open".into()),
        }];
        let mut sums = LineSums::new(&source, no_journals());
        sums.add(&lines);
        let (from, to) = sums.extent()[&1];
        let years = fiscal_years_used(&source, [1, 2], 7, (from, to));
        assert_eq!(years[0], source[0]);
        let assumed: Vec<(NaiveDate, NaiveDate)> = years[1..]
            .iter()
            .map(|f| {
                assert_eq!(f.company_id, 1);
                (f.start, f.end)
            })
            .collect();
        // The lines run from June 2025 to December 2026.
        assert_eq!(
            assumed,
            [
                (d(2024, 7, 1), d(2025, 6, 30)),
                (d(2025, 7, 1), d(2026, 6, 30)),
                (d(2026, 7, 1), d(2027, 6, 30)),
            ]
        );

        let tables = report_batches(&years, &sums, &InvoiceDigest::new(to), &BTreeMap::new(), 50)
            .expect("valid");
        let rows: Vec<Vec<Value>> = tables[0].1.iter().flat_map(|b| b.rows().to_vec()).collect();
        let all = fiscal_trial_balance(&lines, FiscalCalendar::new(&years, no_journals()));
        for (start, end) in assumed {
            let expected: Vec<_> = all
                .rows
                .iter()
                .filter(|r| r.company_id == 1 && r.period_start == start)
                .collect();
            let got: Vec<&Vec<Value>> = rows
                .iter()
                .filter(|r| r[1] == Value::Date(start) && r[2] == Value::Date(end))
                .collect();
            assert_eq!(got.len(), expected.len(), "{start}");
            assert!(!got.is_empty());
            for (row, e) in got.iter().zip(&expected) {
                assert_eq!(row[3], Value::Text(e.account_number.clone()));
                assert_eq!(row[4], Value::Decimal(e.opening));
                assert_eq!(row[7], Value::Decimal(e.closing));
            }
        }
    }

    #[test]
    fn months_are_split_at_a_fiscal_year_starting_mid_month() {
        trial_balance_from_sums_equals_the_one_from_the_lines(d(2026, 3, 15), d(2026, 9, 14));
    }

    fn trial_balance_from_sums_equals_the_one_from_the_lines(start: NaiveDate, end: NaiveDate) {
        let lines = sample_lines();

        let books = Books {
            fiscal_years: vec![FiscalYear {
                company_id: 1,
                start,
                end,
                status: None,
            }],
            ..Books::default()
        };
        let mut sums = LineSums::new(&books.fiscal_years, no_journals());
        sums.add(&lines);
        assert!(sums.len() < lines.len(), "lines were summed per period");
        let tables = report_batches(
            &books.fiscal_years,
            &sums,
            &InvoiceDigest::new(end),
            &BTreeMap::new(),
            50,
        )
        .expect("valid");
        let (schema, batches) = &tables[0];
        assert_eq!(schema.name(), "report_trial_balance");
        let rows: Vec<Vec<Value>> = batches.iter().flat_map(|b| b.rows().to_vec()).collect();

        let expected = fiscal_trial_balance(
            &lines,
            FiscalCalendar::new(&books.fiscal_years, no_journals()),
        );
        assert_eq!(rows.len(), expected.rows.len());
        let mut closing = Decimal::ZERO;
        for (row, e) in rows.iter().zip(&expected.rows) {
            assert_eq!(row[3], Value::Text(e.account_number.clone()));
            assert_eq!(row[4], Value::Decimal(e.opening));
            assert_eq!(row[5], Value::Decimal(e.debit));
            assert_eq!(row[6], Value::Decimal(e.credit));
            assert_eq!(row[7], Value::Decimal(e.closing));
            closing += e.closing;
        }
        assert_eq!(closing, Decimal::ZERO);
        assert!(rows.iter().any(|r| r[4] != Value::Decimal(Decimal::ZERO)));
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid date")
    }

    /// Company 1's calendar years 2024 to 2026.
    fn years() -> Vec<FiscalYear> {
        FiscalYear::assumed(1, 1, d(2024, 1, 1), d(2026, 12, 31))
    }

    fn line(
        id: i64,
        date: NaiveDate,
        journal: &str,
        account: &str,
        debit: i64,
        credit: i64,
    ) -> LedgerLine {
        crate::testing::ledger_line(id / 2, id, date, journal, account, debit, credit)
    }

    /// Sales with VAT, purchases and payments over 2024-2026, and 2025's opening
    /// entries (journal `RAN`, of type `new_year`), with a VAT balance carried.
    fn books() -> Vec<LedgerLine> {
        let mut lines = Vec::new();
        let mut id = 0;
        let mut entry = |date, journal, pairs: &[(&str, i64, i64)]| {
            for (account, debit, credit) in pairs {
                id += 1;
                lines.push(line(id, date, journal, account, *debit, *credit));
            }
        };
        for y in [2024, 2025, 2026] {
            for m in 1..=12 {
                let amount = 1000_00 + i64::from(m) * 10_00 + i64::from(y - 2024) * 100_00;
                entry(
                    d(y, m, 5),
                    "VT",
                    &[
                        ("411001", amount * 12 / 10, 0),
                        ("706000", 0, amount),
                        ("445710", 0, amount * 2 / 10),
                    ],
                );
                entry(
                    d(y, m, 9),
                    "HA",
                    &[("607000", amount / 2, 0), ("401002", 0, amount / 2)],
                );
                entry(
                    d(y, m, 20),
                    "BQ",
                    &[
                        ("512000", amount * 12 / 10, 0),
                        ("411001", 0, amount * 12 / 10),
                    ],
                );
            }
        }
        // 2025's opening entries: what 2024 closed with, the result allocated to 110000.
        let closing = fiscal_trial_balance(
            lines.iter().filter(|l| l.date.year() == 2024),
            FiscalCalendar::new(&years(), OpeningJournals::default()),
        );
        let mut an = Vec::new();
        let mut result = Decimal::ZERO;
        for r in closing
            .rows
            .iter()
            .filter(|r| r.period_start == d(2024, 1, 1))
        {
            if crate::pcg::nature(&r.account_number) == crate::pcg::Nature::ProfitAndLoss {
                result += r.closing;
                continue;
            }
            an.push((r.account_number.clone(), r.closing));
        }
        an.push(("110000".into(), result));
        for (account, balance) in an {
            id += 1;
            let (debit, credit) = if balance.is_sign_negative() {
                (0, -balance.mantissa() as i64)
            } else {
                (balance.mantissa() as i64, 0)
            };
            lines.push(line(id, d(2025, 1, 1), "RAN", &account, debit, credit));
        }
        lines
    }

    fn journals() -> OpeningJournals {
        OpeningJournals::of(&[crate::canonical::Journal {
            company_id: 1,
            code: "RAN".into(),
            label: "À nouveaux".into(),
            opening: true,
        }])
    }

    fn rows(tables: &[ReportTable], name: &str) -> Vec<Vec<Value>> {
        let (_, batches) = tables
            .iter()
            .find(|(s, _)| s.name() == name)
            .expect("valid");
        batches.iter().flat_map(|b| b.rows().to_vec()).collect()
    }

    #[test]
    fn opening_entries_are_openings_not_movements_of_their_month() {
        let lines = books();
        let mut sums = LineSums::new(&years(), journals());
        sums.add(&lines);
        let tables = report_batches(
            &years(),
            &sums,
            &InvoiceDigest::new(d(2026, 12, 31)),
            &BTreeMap::new(),
            100,
        )
        .expect("valid");
        let expected = fiscal_trial_balance(&lines, FiscalCalendar::new(&years(), journals()));
        let tb = rows(&tables, "report_trial_balance");
        assert_eq!(tb.len(), expected.rows.len());
        for (row, e) in tb.iter().zip(&expected.rows) {
            assert_eq!(*row, trial_balance_row(e));
        }
        let bank_2025 = expected.row(1, "512000", d(2025, 1, 1)).expect("valid");
        let bank_2024 = expected.row(1, "512000", d(2024, 1, 1)).expect("valid");
        assert_eq!(
            bank_2025.opening, bank_2024.closing,
            "opened by its entries, once"
        );
        let bank_debits_2025: Decimal = lines
            .iter()
            .filter(|l| {
                l.date.year() == 2025 && &*l.account_number == "512000" && &*l.journal_code == "BQ"
            })
            .map(|l| l.debit)
            .sum();
        assert_eq!(
            bank_2025.debit, bank_debits_2025,
            "the opening entry is no movement"
        );
        // 2025 opens with its entries (the 2024 result on 110000, not 120000); 2026
        // has none: carried, 2025's profit on 120000.
        assert!(expected.row(1, "120000", d(2025, 1, 1)).is_none());
        assert!(
            expected
                .row(1, "120000", d(2026, 1, 1))
                .expect("valid")
                .opening
                .is_sign_negative()
        );
        let results = rows(&tables, "report_fiscal_results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[1][8], Value::Text("opening_entries".into()));
        assert_eq!(results[2][8], Value::Text("carried".into()));
        assert_eq!(results[1][7], Value::Text("120000".into()));

        // The VAT of January 2025 is January's sales', not the VAT balance carried.
        let vat = rows(&tables, "report_vat");
        let january: Decimal = vat
            .iter()
            .filter(|r| r[1] == Value::Date(d(2025, 1, 1)) && r[2] == Value::Text("ledger".into()))
            .map(|r| match &r[6] {
                Value::Decimal(v) => *v,
                _ => Decimal::ZERO,
            })
            .sum();
        let sold: Decimal = lines
            .iter()
            .filter(|l| {
                l.date.year() == 2025
                    && l.date.month() == 1
                    && &*l.account_number == "445710"
                    && &*l.journal_code == "VT"
            })
            .map(|l| l.credit - l.debit)
            .sum();
        assert!(!sold.is_zero());
        assert_eq!(january.abs(), sold);
        // The SIG's months are the movements' (no opening entry on classes 6-7 here,
        // and none counted).
        let sig = rows(&tables, "report_sig");
        assert_eq!(sig.len(), 36);
    }

    /// The trial balance rows (by key) after a merge of `upserts` and `gone` into `old`.
    fn merged(
        old: &[Vec<Value>],
        upserts: &[Batch],
        gone: &[Vec<Value>],
    ) -> BTreeMap<String, Vec<Value>> {
        let mut out = keyed(old.iter().cloned());
        out.extend(keyed(upserts.iter().flat_map(|b| b.rows().to_vec())));
        for g in gone {
            out.remove(&format!("{:?}{:?}{:?}", g[0], g[1], g[2]));
        }
        out
    }

    /// Trial balance rows by their key (company, fiscal year, account).
    fn keyed(rows: impl IntoIterator<Item = Vec<Value>>) -> BTreeMap<String, Vec<Value>> {
        rows.into_iter()
            .map(|r| (format!("{:?}{:?}{:?}", r[0], r[1], r[3]), r))
            .collect()
    }

    #[test]
    fn merging_the_rows_of_the_accounts_a_change_reaches_equals_the_rows_made_afresh() {
        // Without 2025's opening entries: every year carried from the previous one.
        let before: Vec<LedgerLine> = books()
            .into_iter()
            .filter(|l| &*l.journal_code != "RAN")
            .collect();
        let mut after = before.clone();
        // A 2024 sale of more (a P&L and a balance-sheet account: 120000 and the
        // customer's later openings change) and a 2024 purchase gone.
        after[0].debit += Decimal::new(500_00, 2);
        after[1].credit += Decimal::new(500_00, 2);
        let gone_ids = [after[3].line_id, after[4].line_id];
        after.retain(|l| !gone_ids.contains(&l.line_id));
        let changed_ids = [
            before[0].line_id,
            before[1].line_id,
            gone_ids[0],
            gone_ids[1],
        ];

        let fy = years();
        let report = |lines: &[LedgerLine]| {
            let mut sums = LineSums::new(&fy, journals());
            sums.add(lines);
            let (_, batches) = trial_balance_table(&fy, &sums);
            let rows: Vec<Vec<Value>> = batches.iter().flat_map(|b| b.rows().to_vec()).collect();
            (sums, rows)
        };
        let (mut sums, old_rows) = report(&before);
        let (_, new_rows) = report(&after);
        let touched = change_lines(&mut sums, &before, &after, &changed_ids, 100);
        let accounts: BTreeSet<(i64, Arc<str>)> =
            touched.iter().map(|(c, a, _, _)| (*c, a.clone())).collect();
        let (schema, batches) = trial_balance_table(&fy, &sums);
        let expected: BTreeMap<String, Vec<Value>> = merged(&new_rows, &[], &[]);

        let reached = trial_balance_accounts(&accounts, &[], &sums);
        assert!(reached.contains(&(1, Arc::from("120000"))));
        let (upserts, gone) =
            changed_trial_balance(&schema, batches.clone(), &fy, &reached, 1000).expect("valid");
        assert_eq!(merged(&old_rows, &upserts, &gone), expected);
        assert!(upserts.iter().map(Batch::len).sum::<usize>() < new_rows.len());
        // The changed accounts alone leave 120000's later openings stale.
        let (upserts, gone) =
            changed_trial_balance(&schema, batches, &fy, &accounts, 1000).expect("valid");
        assert_ne!(merged(&old_rows, &upserts, &gone), expected);
        assert_eq!(changed_accounts(&touched), Some(accounts));

        // Opening entries added to 2025: they replace what 2024 carried, so 2025's
        // opening of 120000, which no opening entry names, changes too: no merge by
        // account.
        let with_an = books();
        let an: Vec<&LedgerLine> = with_an
            .iter()
            .filter(|l| &*l.journal_code == "RAN")
            .collect();
        assert!(an.iter().all(|l| &*l.account_number != "120000"));
        let touched = sums.put(an.iter().copied());
        assert_eq!(changed_accounts(&touched), None);
        let (_, rows_an) = report(&with_an);
        let (_, rows_before) = report(&before);
        let result_2025 = |rows: &[Vec<Value>]| {
            rows.iter()
                .find(|r| {
                    r[1] == Value::Date(d(2025, 1, 1)) && r[3] == Value::Text("120000".into())
                })
                .cloned()
        };
        assert!(result_2025(&rows_before).is_some());
        assert_eq!(result_2025(&rows_an), None);
    }

    const ACCOUNTS: [&str; 8] = [
        "411001", "706000", "607000", "512000", "401002", "445710", "120000", "106800",
    ];

    fn day(offset: u32) -> NaiveDate {
        d(2023, 12, 1) + chrono::Days::new(u64::from(offset))
    }

    /// Entries of two lines; an opening one is dated on its year's first day.
    fn lines(entries: &[(u32, usize, usize, i64, bool)]) -> Vec<LedgerLine> {
        let mut out = Vec::new();
        for (n, (offset, a, b, cents, opening)) in entries.iter().enumerate() {
            let mut date = day(*offset);
            let journal = if *opening {
                date = d(date.year(), 1, 1);
                "RAN"
            } else {
                "OD"
            };
            for (k, (account, debit, credit)) in
                [(ACCOUNTS[*a], *cents, 0), (ACCOUNTS[*b], 0, *cents)]
                    .into_iter()
                    .enumerate()
            {
                out.push(line(
                    (2 * n + k) as i64,
                    date,
                    journal,
                    account,
                    debit,
                    credit,
                ));
            }
        }
        out
    }

    /// `report_trial_balance` of `sums` over `years`.
    fn trial_balance_table(years: &[FiscalYear], sums: &LineSums) -> ReportTable {
        let as_of = years
            .iter()
            .map(|fy| fy.end)
            .max()
            .unwrap_or(NaiveDate::MIN);
        let tables = report_batches(
            years,
            sums,
            &InvoiceDigest::new(as_of),
            &BTreeMap::new(),
            1000,
        )
        .expect("valid rows");
        tables.into_iter().next().expect("the trial balance first")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// The trial balance from the saved sums equals the one from the lines; the
        /// sums changed by a run's changed lines equal the sums made afresh; and when
        /// the trial balance may be merged, the merged rows equal the rows made afresh.
        #[test]
        fn sums_changes_and_merges_give_the_trial_balance_of_the_lines(
            entries in prop::collection::vec((0u32..1250, 0usize..8, 0usize..8, 1i64..100_000, prop::bool::weighted(0.3)), 1..40),
            changes in prop::collection::vec((0usize..80, 1i64..100_000, 0u32..1250, 0u8..3), 0..6),
        ) {
            let before = lines(&entries);
            let mut after = before.clone();
            let mut changed_ids = BTreeSet::new();
            for (i, cents, offset, kind) in changes {
                let i = i % after.len();
                changed_ids.insert(after[i].line_id);
                match kind {
                    0 => after[i].debit = Decimal::new(cents, 2),
                    1 => after[i].date = day(offset),
                    _ => {
                        after.remove(i);
                        if after.is_empty() {
                            break;
                        }
                    }
                }
            }
            let mut sums = LineSums::new(&years(), journals());
            sums.add(&before);
            let (schema, old_batches) = trial_balance_table(&years(), &sums);
            let old_rows: Vec<Vec<Value>> = old_batches.iter().flat_map(|b| b.rows().to_vec()).collect();
            // From the sums as from the lines.
            let expected = fiscal_trial_balance(&before, FiscalCalendar::new(&years(), journals()));
            let from_lines = keyed(expected.rows.iter().map(trial_balance_row));
            prop_assert_eq!(&keyed(old_rows.clone()), &from_lines);

            let changed_ids: Vec<i64> = changed_ids.into_iter().collect();
            let touched = change_lines(&mut sums, &before, &after, &changed_ids, 100);
            let mut afresh = LineSums::new(&years(), journals());
            afresh.add(&after);
            prop_assert_eq!(&sums, &afresh);
            let (_, new_batches) = trial_balance_table(&years(), &sums);
            let new_rows = keyed(new_batches.iter().flat_map(|b| b.rows().to_vec()));
            if let Some(accounts) = changed_accounts(&touched) {
                let reached = trial_balance_accounts(&accounts, &[], &sums);
                let (upserts, gone) =
                    changed_trial_balance(&schema, new_batches, &years(), &reached, 1000).expect("valid");
                prop_assert_eq!(merged(&old_rows, &upserts, &gone), new_rows);
            }
        }
    }
}
