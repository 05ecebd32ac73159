//! The reports of `penny_transform::reports` as tables of the star schema, for Power BI:
//!
//! - `report_trial_balance`: per company, fiscal year and account: opening balance
//!   (debit − credit before the year), debits, credits, closing balance
//!   ([`trial_balance`](penny_transform::reports::trial_balance), one builder per fiscal
//!   year; without fiscal years, one period over the months of the lines);
//! - `report_aged_receivables` / `report_aged_payables`: per company and customer or
//!   supplier, the open amount of its invoices by bucket of days past due (default
//!   buckets: not due, 0-30, 31-60, 61-90, >90; `third_party_id` 0 for invoices
//!   without one), as of the day of the sync
//!   ([`aged_balance::from_invoices`]);
//! - `report_sig`: the soldes intermédiaires de gestion per company and month
//!   ([`sig`](penny_transform::reports::sig));
//! - `report_vat`: VAT per company, month, direction and VAT account from the ledger
//!   ([`vat_from_ledger`]), and per rate
//!   from the invoice lines ([`vat_by_rate`]),
//!   one table told apart by `source` (`ledger` or `invoices`).
//!
//! Memory: the lines are not held. They are summed, as they stream by, per company,
//! account and month, months split at the fiscal years' bounds ([`LineDays`]); the
//! reports are then computed from those sums, which is exact since every report groups
//! by month, by fiscal year or coarser. Their size grows with the accounts and months
//! used, not with the lines. The invoices are digested alike ([`InvoiceDigest`]).
//!
//! Each table is replaced whole in one commit, on every run (see
//! [`crate::incremental`] for what incremental runs do).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use penny_transform::canonical::{
    Books, FiscalYear, Invoice, InvoiceLine, LedgerLine, ThirdPartyKind,
};
use penny_transform::reports::aged_balance::{self, Buckets};
use penny_transform::reports::sig::SigBuilder;
use penny_transform::reports::trial_balance::{TrialBalanceBuilder, TrialBalanceOptions};
use penny_transform::reports::vat::{vat_by_rate, vat_from_ledger};
use penny_transform::{Batch, BatchBuilder, Column, LogicalType, ReadKind, Schema, Sink, Value};
use rust_decimal::Decimal;

use crate::exit::CliError;
use crate::transform::{TransformReport, batch_error, write_batches};

const MONEY: LogicalType = LogicalType::Decimal { scale: 2 };

/// The names of the report tables.
pub const REPORT_TABLES: [&str; 5] = [
    "report_trial_balance",
    "report_aged_receivables",
    "report_aged_payables",
    "report_sig",
    "report_vat",
];

/// Ledger lines summed per company, account and period (debits, credits).
///
/// A period is a calendar month, split at the fiscal years' first days and at the days
/// after their last: every report groups by month, by fiscal year, or by "before the
/// fiscal year" (the trial balance's opening), so the sums are exact for all of them,
/// and their number grows with the accounts and months used, not with the lines.
#[derive(Debug, Default)]
pub struct LineDays {
    sums: HashMap<(i64, Arc<str>, NaiveDate), (Decimal, Decimal)>,
    /// Per company, the days a fiscal year starts on or resumes after.
    boundaries: HashMap<i64, std::collections::BTreeSet<NaiveDate>>,
}

impl LineDays {
    /// Empty sums, with periods split at `fiscal_years`' bounds.
    pub fn new(fiscal_years: &[FiscalYear]) -> Self {
        let mut boundaries: HashMap<i64, std::collections::BTreeSet<NaiveDate>> = HashMap::new();
        for fy in fiscal_years {
            let b = boundaries.entry(fy.company_id).or_default();
            b.insert(fy.start);
            if let Some(next) = fy.end.succ_opt() {
                b.insert(next);
            }
        }
        LineDays {
            sums: HashMap::new(),
            boundaries,
        }
    }

    /// The first day of the period of `date`.
    fn period(&self, company_id: i64, date: NaiveDate) -> NaiveDate {
        let month = penny_transform::reports::month_start(date);
        self.boundaries
            .get(&company_id)
            .and_then(|b| b.range(month..=date).next_back().copied())
            .unwrap_or(month)
    }

    /// Adds lines.
    pub fn add<'a>(&mut self, lines: impl IntoIterator<Item = &'a LedgerLine>) {
        for l in lines {
            let period = self.period(l.company_id, l.date);
            let s = self
                .sums
                .entry((l.company_id, l.account_number.clone(), period))
                .or_default();
            s.0 += l.debit;
            s.1 += l.credit;
        }
    }

    /// One synthetic line per company, account and period, dated on the period's first
    /// day, carrying its sums.
    fn lines(&self) -> Vec<LedgerLine> {
        let journal: Arc<str> = Arc::from("");
        let mut out: Vec<LedgerLine> = self
            .sums
            .iter()
            .map(
                |((company_id, account, date), (debit, credit))| LedgerLine {
                    company_id: *company_id,
                    entry_id: 0,
                    line_id: 0,
                    date: *date,
                    journal_code: journal.clone(),
                    account_number: account.clone(),
                    label: String::new(),
                    debit: *debit,
                    credit: *credit,
                    third_party: None,
                    document_ref: None,
                    due_date: None,
                    lettering: None,
                    categories: None,
                },
            )
            .collect();
        out.sort_by(|a, b| {
            (a.company_id, &a.account_number, a.date).cmp(&(
                b.company_id,
                &b.account_number,
                b.date,
            ))
        });
        out
    }
}

/// An invoice's key: company, kind, id.
type InvoiceKey = (i64, ThirdPartyKind, i64);

/// What the aged balance needs of an invoice.
#[derive(Debug, Clone, Copy)]
struct InvoiceBrief {
    third_party_id: Option<i64>,
    date: NaiveDate,
    due_date: Option<NaiveDate>,
    amount_ttc: Decimal,
}

/// What the reports need of the invoices, their lines and their payments, gathered as
/// they stream by: per invoice its third party, dates and total (a few dozen bytes); the
/// payments summed per invoice; the lines summed per company, kind, month and VAT rate.
/// Invoices must be added before their lines (a line of an unknown invoice is left out,
/// as [`vat_by_rate`] does).
#[derive(Debug)]
pub struct InvoiceDigest {
    as_of: NaiveDate,
    invoices: HashMap<InvoiceKey, InvoiceBrief>,
    paid: HashMap<InvoiceKey, Decimal>,
    vat: BTreeMap<(i64, ThirdPartyKind, NaiveDate, Option<String>), [Decimal; 3]>,
}

impl InvoiceDigest {
    /// An empty digest for the aged balances as of `as_of` (payments after it are left
    /// out).
    pub fn new(as_of: NaiveDate) -> Self {
        InvoiceDigest {
            as_of,
            invoices: HashMap::new(),
            paid: HashMap::new(),
            vat: BTreeMap::new(),
        }
    }

    /// Adds the invoices, then the invoice lines, then the payments of `books`.
    pub fn add(&mut self, books: &Books) {
        for i in &books.invoices {
            self.invoices.insert(
                (i.company_id, i.kind, i.id),
                InvoiceBrief {
                    third_party_id: i.third_party_id,
                    date: i.date,
                    due_date: i.due_date,
                    amount_ttc: i.amount_ttc,
                },
            );
        }
        for l in &books.invoice_lines {
            let Some(invoice) = self.invoices.get(&(l.company_id, l.kind, l.invoice_id)) else {
                continue;
            };
            let month = penny_transform::reports::month_start(invoice.date);
            let sums = self
                .vat
                .entry((l.company_id, l.kind, month, l.vat_rate.clone()))
                .or_default();
            sums[0] += l.amount_ht;
            sums[1] += l.vat;
            sums[2] += l.amount_ttc;
        }
        for p in books.payments.iter().filter(|p| p.date <= self.as_of) {
            *self
                .paid
                .entry((p.company_id, p.kind, p.invoice_id))
                .or_default() += p.amount;
        }
    }

    /// The first and last invoice dates.
    fn dates(&self) -> Option<(NaiveDate, NaiveDate)> {
        let mut dates = self.invoices.values().map(|i| i.date);
        let first = dates.next()?;
        Some(dates.fold((first, first), |(a, b), d| (a.min(d), b.max(d))))
    }

    /// The aged balances ([`aged_balance::from_invoices`] over the open invoices, each
    /// carrying its open amount).
    fn aged(&self) -> aged_balance::AgedBalance {
        let open: Vec<Invoice> = self
            .invoices
            .iter()
            .filter_map(|(&(company_id, kind, id), i)| {
                let paid = self.paid.get(&(company_id, kind, id)).copied();
                let open = i.amount_ttc - paid.unwrap_or_default();
                (!open.is_zero()).then(|| Invoice {
                    company_id,
                    kind,
                    id,
                    third_party_id: i.third_party_id,
                    date: i.date,
                    due_date: i.due_date,
                    amount_ttc: open,
                    remaining: open,
                    ..synthetic_invoice()
                })
            })
            .collect();
        aged_balance::from_invoices(&open, Some(&[]), self.as_of, &Buckets::default())
    }

    /// The VAT per rate ([`vat_by_rate`] over one invoice per company, kind and month
    /// carrying that month's sums per rate).
    fn vat_rows(&self) -> Vec<penny_transform::reports::vat::VatRateRow> {
        let Some((first, last)) = self.dates() else {
            return Vec::new();
        };
        let mut invoices: BTreeMap<(i64, ThirdPartyKind, NaiveDate), i64> = BTreeMap::new();
        let mut lines = Vec::with_capacity(self.vat.len());
        for ((company_id, kind, month, rate), sums) in &self.vat {
            let next = invoices.len() as i64;
            let invoice_id = *invoices.entry((*company_id, *kind, *month)).or_insert(next);
            lines.push(InvoiceLine {
                company_id: *company_id,
                kind: *kind,
                invoice_id,
                id: lines.len() as i64,
                label: None,
                quantity: None,
                amount_ht: sums[0],
                vat: sums[1],
                amount_ttc: sums[2],
                vat_rate: rate.clone(),
                account_number: None,
            });
        }
        let invoices: Vec<Invoice> = invoices
            .into_iter()
            .map(|((company_id, kind, date), id)| Invoice {
                company_id,
                kind,
                id,
                date,
                ..synthetic_invoice()
            })
            .collect();
        vat_by_rate(
            &invoices,
            &lines,
            penny_transform::reports::month_start(first),
            last,
        )
    }
}

/// An invoice with every field empty (the digest fills what a report reads).
fn synthetic_invoice() -> Invoice {
    Invoice {
        company_id: 0,
        kind: ThirdPartyKind::Customer,
        id: 0,
        number: None,
        label: None,
        third_party_id: None,
        date: NaiveDate::MIN,
        due_date: None,
        currency: None,
        amount_ht: Decimal::ZERO,
        vat: Decimal::ZERO,
        amount_ttc: Decimal::ZERO,
        paid: None,
        remaining: Decimal::ZERO,
        status: None,
        entry_id: None,
    }
}

fn schema(name: &str, columns: Vec<Column>, key: &[&str]) -> Arc<Schema> {
    Arc::new(Schema::new(name, columns, key).expect("the report schemas are valid"))
}

/// The schema of `report_trial_balance`.
pub fn trial_balance_schema() -> Arc<Schema> {
    schema(
        "report_trial_balance",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("period_start", LogicalType::Date),
            Column::required("period_end", LogicalType::Date),
            Column::required("account_number", LogicalType::Text),
            Column::required("opening", MONEY),
            Column::required("debit", MONEY),
            Column::required("credit", MONEY),
            Column::required("closing", MONEY),
        ],
        &["company_id", "period_start", "account_number"],
    )
}

/// The schema of `report_aged_receivables` or `report_aged_payables`.
pub fn aged_schema(kind: ThirdPartyKind) -> Arc<Schema> {
    let name = match kind {
        ThirdPartyKind::Customer => "report_aged_receivables",
        ThirdPartyKind::Supplier => "report_aged_payables",
    };
    let mut columns = vec![
        Column::required("company_id", LogicalType::Int64),
        Column::required("third_party_id", LogicalType::Int64),
        Column::required("as_of", LogicalType::Date),
    ];
    for label in bucket_columns() {
        columns.push(Column::required(label, MONEY));
    }
    columns.push(Column::required("total", MONEY));
    schema(name, columns, &["company_id", "third_party_id"])
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

/// The schema of `report_sig`.
pub fn sig_schema() -> Arc<Schema> {
    let mut columns = vec![
        Column::required("company_id", LogicalType::Int64),
        Column::required("month", LogicalType::Date),
    ];
    for name in SIG_COLUMNS {
        columns.push(Column::required(name, MONEY));
    }
    schema("report_sig", columns, &["company_id", "month"])
}

const SIG_COLUMNS: [&str; 26] = [
    "ventes_marchandises",
    "cout_achat_marchandises",
    "marge_commerciale",
    "production_vendue",
    "production_stockee",
    "production_immobilisee",
    "production_exercice",
    "consommations_tiers",
    "valeur_ajoutee",
    "subventions_exploitation",
    "impots_taxes",
    "charges_personnel",
    "ebe",
    "reprises_transferts",
    "autres_produits_exploitation",
    "dotations_exploitation",
    "autres_charges_exploitation",
    "resultat_exploitation",
    "produits_financiers",
    "charges_financieres",
    "resultat_courant_avant_impots",
    "produits_exceptionnels",
    "charges_exceptionnelles",
    "resultat_exceptionnel",
    "participation_impots",
    "resultat_exercice",
];

/// The schema of `report_vat`.
pub fn vat_schema() -> Arc<Schema> {
    schema(
        "report_vat",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("month", LogicalType::Date),
            Column::required("source", LogicalType::Text),
            Column::required("direction", LogicalType::Text),
            Column::required("account_or_rate", LogicalType::Text),
            Column::nullable("base", MONEY),
            Column::required("vat", MONEY),
            Column::nullable("amount_ttc", MONEY),
        ],
        &[
            "company_id",
            "month",
            "source",
            "direction",
            "account_or_rate",
        ],
    )
}

fn money(d: Decimal) -> Value {
    Value::Decimal(d.round_dp(penny_transform::canonical::MONEY_SCALE))
}

fn batches(
    schema: &Arc<Schema>,
    rows: impl IntoIterator<Item = Vec<Value>>,
    batch_rows: usize,
) -> Result<Vec<Batch>, CliError> {
    let mut b = BatchBuilder::upsert(schema.clone(), batch_rows.max(1));
    let mut out = Vec::new();
    for row in rows {
        if let Some(batch) = b.push(row).map_err(batch_error)? {
            out.push(batch);
        }
    }
    out.extend(b.finish().map_err(batch_error)?);
    Ok(out)
}

/// A report table: its schema and its rows.
pub type ReportTable = (Arc<Schema>, Vec<Batch>);

/// The report tables' rows, computed from the fiscal years, the lines' daily sums and
/// the invoices' digest (whose date is the aged balances' `as_of`).
pub fn report_batches(
    fiscal_years: &[FiscalYear],
    days: &LineDays,
    invoices: &InvoiceDigest,
    batch_rows: usize,
) -> Result<Vec<ReportTable>, CliError> {
    let as_of = invoices.as_of;
    let lines = days.lines();
    let (first, last) = match (
        lines.iter().map(|l| l.date).min(),
        lines.iter().map(|l| l.date).max(),
    ) {
        // The sums are dated on their periods' first days: the last month runs to its end.
        (Some(a), Some(b)) => (a, penny_transform::reports::month_end(b)),
        _ => (as_of, as_of),
    };
    let mut out = Vec::new();

    // Trial balance: one builder per company and fiscal year (or one period over the
    // lines' months for a company without fiscal years).
    let mut periods: BTreeMap<i64, Vec<(NaiveDate, NaiveDate)>> = BTreeMap::new();
    for fy in fiscal_years {
        periods
            .entry(fy.company_id)
            .or_default()
            .push((fy.start, fy.end));
    }
    let mut tb_rows = Vec::new();
    let companies: std::collections::BTreeSet<i64> = lines.iter().map(|l| l.company_id).collect();
    for company in companies {
        let own = periods
            .get(&company)
            .cloned()
            .unwrap_or_else(|| vec![(first, last)]);
        for (start, end) in own {
            let mut b = TrialBalanceBuilder::new(TrialBalanceOptions::new(start, end));
            b.extend(lines.iter().filter(|l| l.company_id == company));
            for r in b.finish().rows {
                tb_rows.push(vec![
                    Value::Int64(r.company_id),
                    Value::Date(r.period_start),
                    Value::Date(r.period_end),
                    Value::Text(r.account_number),
                    money(r.opening),
                    money(r.debit),
                    money(r.credit),
                    money(r.closing),
                ]);
            }
        }
    }
    let s = trial_balance_schema();
    out.push((s.clone(), batches(&s, tb_rows, batch_rows)?));

    // Aged balances, from the invoices and their payments.
    let aged = invoices.aged();
    for kind in [ThirdPartyKind::Customer, ThirdPartyKind::Supplier] {
        let s = aged_schema(kind);
        let rows = aged.rows.iter().filter(|r| r.kind == kind).map(|r| {
            let mut row = vec![
                Value::Int64(r.company_id),
                Value::Int64(r.third_party_id.unwrap_or(0)),
                Value::Date(as_of),
            ];
            row.extend(r.buckets.iter().map(|b| money(*b)));
            row.push(money(r.total));
            row
        });
        out.push((s.clone(), batches(&s, rows, batch_rows)?));
    }

    // SIG by month.
    let mut sig = SigBuilder::new(first, last);
    for l in &lines {
        sig.add(l);
    }
    let s = sig_schema();
    let rows = sig.finish().into_iter().map(|r| {
        let g = &r.sig;
        let mut row = vec![Value::Int64(r.company_id), Value::Date(r.month)];
        row.extend(
            [
                g.ventes_marchandises,
                g.cout_achat_marchandises,
                g.marge_commerciale,
                g.production_vendue,
                g.production_stockee,
                g.production_immobilisee,
                g.production_exercice,
                g.consommations_tiers,
                g.valeur_ajoutee,
                g.subventions_exploitation,
                g.impots_taxes,
                g.charges_personnel,
                g.ebe,
                g.reprises_transferts,
                g.autres_produits_exploitation,
                g.dotations_exploitation,
                g.autres_charges_exploitation,
                g.resultat_exploitation,
                g.produits_financiers,
                g.charges_financieres,
                g.resultat_courant_avant_impots,
                g.produits_exceptionnels,
                g.charges_exceptionnelles,
                g.resultat_exceptionnel,
                g.participation_impots,
                g.resultat_exercice,
            ]
            .into_iter()
            .map(money),
        );
        row
    });
    out.push((s.clone(), batches(&s, rows, batch_rows)?));

    // VAT from the ledger (by account) and from the invoices (by rate).
    let s = vat_schema();
    let ledger = vat_from_ledger(&lines, first, last).into_iter().map(|r| {
        vec![
            Value::Int64(r.company_id),
            Value::Date(r.month),
            Value::Text("ledger".into()),
            Value::Text(r.direction.as_str().into()),
            Value::Text(r.account_number),
            Value::Null,
            money(r.vat),
            Value::Null,
        ]
    });
    let by_rate = invoices.vat_rows().into_iter().map(|r| {
        vec![
            Value::Int64(r.company_id),
            Value::Date(r.month),
            Value::Text("invoices".into()),
            Value::Text(r.direction.as_str().into()),
            Value::Text(r.vat_rate),
            money(r.base),
            money(r.vat),
            money(r.amount_ttc),
        ]
    });
    out.push((s.clone(), batches(&s, ledger.chain(by_rate), batch_rows)?));
    Ok(out)
}

/// Computes the reports and replaces their tables through `out`, each in one commit.
pub async fn write_reports(
    out: &mut dyn Sink,
    fiscal_years: &[FiscalYear],
    days: &LineDays,
    invoices: &InvoiceDigest,
    batch_rows: usize,
    report: &mut TransformReport,
) -> Result<(), CliError> {
    for (schema, batches) in report_batches(fiscal_years, days, invoices, batch_rows)? {
        write_batches(out, &schema, ReadKind::Full, batches, report).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::reports::trial_balance::trial_balance;

    fn line(id: i64, account: &str, day: u32, debit: i64, credit: i64) -> LedgerLine {
        LedgerLine {
            company_id: 1,
            entry_id: id / 2,
            line_id: id,
            date: NaiveDate::from_ymd_opt(2026, 1 + (day % 12), 1 + day % 28).unwrap(),
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

    #[test]
    fn the_trial_balance_from_period_sums_equals_the_one_from_the_lines() {
        trial_balance_from_sums_equals_the_one_from_the_lines(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        );
    }

    #[test]
    fn months_are_split_at_a_fiscal_year_starting_mid_month() {
        trial_balance_from_sums_equals_the_one_from_the_lines(
            NaiveDate::from_ymd_opt(2026, 3, 15).unwrap(),
            NaiveDate::from_ymd_opt(2026, 9, 14).unwrap(),
        );
    }

    fn trial_balance_from_sums_equals_the_one_from_the_lines(start: NaiveDate, end: NaiveDate) {
        // Balanced pairs on a few accounts, several lines per account and day, and
        // lines before the fiscal year (the opening balance).
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
        before.date = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let mut before_other = line(10_001, "706000", 0, 0, 5000);
        before_other.date = before.date;
        lines.extend([before, before_other]);

        let books = Books {
            fiscal_years: vec![FiscalYear {
                company_id: 1,
                start,
                end,
                status: None,
            }],
            ..Books::default()
        };
        let mut days = LineDays::new(&books.fiscal_years);
        days.add(&lines);
        assert!(
            days.sums.len() < lines.len(),
            "lines were summed per period"
        );
        let tables =
            report_batches(&books.fiscal_years, &days, &InvoiceDigest::new(end), 50).unwrap();
        let (schema, batches) = &tables[0];
        assert_eq!(schema.name(), "report_trial_balance");
        let rows: Vec<Vec<Value>> = batches.iter().flat_map(|b| b.rows().to_vec()).collect();

        let expected = trial_balance(&lines, &TrialBalanceOptions::new(start, end));
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
}

#[cfg(test)]
mod digest_tests {
    use super::*;
    use penny_transform::canonical::InvoicePayment;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Invoices of both kinds over several months, some paid in full, some in part,
    /// some by a payment after `as_of`, lines at several rates (one without a rate, one
    /// of an unknown invoice).
    fn books() -> Books {
        let mut b = Books::default();
        for i in 0..60i64 {
            let kind = if i % 3 == 0 {
                ThirdPartyKind::Supplier
            } else {
                ThirdPartyKind::Customer
            };
            let date = d(2026, 1 + (i % 7) as u32, 1 + (i % 27) as u32);
            let ttc = Decimal::new(12_000 + i * 137, 2);
            b.invoices.push(Invoice {
                company_id: 1 + i % 2,
                kind,
                id: i,
                number: Some(format!("F{i}")),
                third_party_id: (i % 5 != 0).then_some(i % 4),
                date,
                due_date: (i % 4 != 0).then(|| date + chrono::Days::new(30)),
                amount_ttc: ttc,
                ..synthetic_invoice()
            });
            for (n, rate) in [Some("FR_200"), Some("FR_55"), None].iter().enumerate() {
                b.invoice_lines.push(InvoiceLine {
                    company_id: 1 + i % 2,
                    kind,
                    invoice_id: i,
                    id: i * 10 + n as i64,
                    label: None,
                    quantity: None,
                    amount_ht: Decimal::new(1000 + i + n as i64, 2),
                    vat: Decimal::new(200 + i, 2),
                    amount_ttc: Decimal::new(1200 + 2 * i + n as i64, 2),
                    vat_rate: rate.map(str::to_owned),
                    account_number: None,
                });
            }
            let paid = match i % 4 {
                0 => Some(ttc),
                1 => Some(Decimal::new(5_000, 2)),
                _ => None,
            };
            if let Some(amount) = paid {
                b.payments.push(InvoicePayment {
                    company_id: 1 + i % 2,
                    kind,
                    invoice_id: i,
                    id: 1000 + i,
                    date: if i % 8 == 1 { d(2027, 1, 1) } else { date },
                    amount,
                });
            }
        }
        b.invoice_lines.push(InvoiceLine {
            invoice_id: 999,
            ..b.invoice_lines[0].clone()
        });
        b
    }

    #[test]
    fn the_digest_gives_the_aged_balances_and_vat_of_the_whole_invoices() {
        let books = books();
        let as_of = d(2026, 9, 30);
        let mut digest = InvoiceDigest::new(as_of);
        // In two parts, as batches stream by: invoices first, then lines and payments.
        let (first, second) = books.invoices.split_at(25);
        for part in [first, second] {
            digest.add(&Books {
                invoices: part.to_vec(),
                ..Books::default()
            });
        }
        digest.add(&Books {
            invoice_lines: books.invoice_lines.clone(),
            payments: books.payments.clone(),
            ..Books::default()
        });

        let expected = aged_balance::from_invoices(
            &books.invoices,
            Some(&books.payments),
            as_of,
            &Buckets::default(),
        );
        let got = digest.aged();
        assert!(expected.rows.len() > 5);
        assert_eq!(got.rows, expected.rows);

        let from = books.invoices.iter().map(|i| i.date).min().unwrap();
        let to = books.invoices.iter().map(|i| i.date).max().unwrap();
        let expected = vat_by_rate(&books.invoices, &books.invoice_lines, from, to);
        assert!(expected.len() > 10);
        assert_eq!(digest.vat_rows(), expected);
    }
}
