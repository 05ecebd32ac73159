//! The invoices, their lines and their payments digested for the reports as they
//! stream by ([`InvoiceDigest`]): the open amounts of the aged balances and the invoice
//! lines' VAT sums, saved between runs in [`OPEN_AMOUNTS_TABLE`] and
//! [`INVOICE_VAT_TABLE`] for the next incremental update to change by the records it
//! changed.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::aged_balance::{AgedBalance, Buckets, OpenAmounts, OpenGroup, OpenKey};
use super::incremental::{StaleSums, TableWrite};
use super::invoice_read_back::{empty_invoice, third_party_kind};
use super::month_start;
use super::vat::{VatRateRow, vat_by_rate};
use crate::batch::{Batch, BatchError};
use crate::canonical::read::Reader;
use crate::canonical::tables::{MONEY, build, fixed_table, req};
use crate::canonical::{Books, Invoice, InvoiceLine, ThirdPartyKind};
use crate::schema::{LogicalType, Schema};
use crate::value::Value;

use LogicalType::{Date, Int64, Text};

/// An invoice's key: company, kind, id.
pub type InvoiceKey = (i64, ThirdPartyKind, i64);

/// What the payments and invoice lines need of their invoice.
#[derive(Debug, Clone, Copy)]
struct InvoiceBrief {
    third_party_id: Option<i64>,
    date: NaiveDate,
    /// The due date, else the invoice's date.
    due: NaiveDate,
}

/// One invoice's brief as kept: 24 bytes (a third party id of 0 for none, as the
/// open amounts count it).
#[derive(Debug, Clone, Copy)]
struct PackedBrief {
    id: i64,
    third_party_id: i64,
    date: NaiveDate,
    due: NaiveDate,
}

/// The invoices' briefs per company and kind, sorted by id once sealed (at the end of
/// every [`InvoiceDigest::add`]: nearly sorted input, the raw tables' key order, sorts
/// in linear time).
#[derive(Debug, Default)]
struct Briefs(BTreeMap<(i64, ThirdPartyKind), (Vec<PackedBrief>, bool)>);

impl Briefs {
    /// Adds an invoice (unsealed until [`seal`](Self::seal)).
    fn push(&mut self, (company, kind, id): InvoiceKey, brief: InvoiceBrief) {
        let (briefs, unsorted) = self.0.entry((company, kind)).or_default();
        if briefs.last().is_some_and(|last| last.id >= id) {
            *unsorted = true;
        }
        briefs.push(PackedBrief {
            id,
            third_party_id: brief.third_party_id.unwrap_or(0),
            date: brief.date,
            due: brief.due,
        });
    }

    /// Sorts the briefs by id where they came out of order.
    fn seal(&mut self) {
        for (briefs, unsorted) in self.0.values_mut() {
            if std::mem::take(unsorted) {
                briefs.sort_by_key(|b| b.id);
            }
        }
    }

    fn get(&self, (company, kind, id): &InvoiceKey) -> Option<InvoiceBrief> {
        let (briefs, unsorted) = self.0.get(&(*company, *kind))?;
        debug_assert!(!unsorted, "looked up before sealing");
        let i = briefs.binary_search_by_key(id, |b| b.id).ok()?;
        let b = briefs[i];
        Some(InvoiceBrief {
            third_party_id: (b.third_party_id != 0).then_some(b.third_party_id),
            date: b.date,
            due: b.due,
        })
    }
}

/// The table of the star schema the invoices' open amounts are saved in
/// ([`InvoiceDigest::saved_batches`]), for the next incremental update to change by the
/// invoices and payments it changed ([`OpenAmounts`]).
pub const OPEN_AMOUNTS_TABLE: &str = "_penny_open_amounts";

/// The table of the star schema the invoice lines' sums per company, kind, month and
/// VAT rate are saved in ([`InvoiceDigest::saved_batches`]).
pub const INVOICE_VAT_TABLE: &str = "_penny_invoice_vat_sums";

/// The group of an invoice's open amounts: company, kind, third party (none for an id
/// of 0, as the aged balances and the saved open amounts write a missing one).
fn open_group(company: i64, kind: ThirdPartyKind, third_party: Option<i64>) -> OpenGroup {
    (company, kind, third_party.filter(|t| *t != 0))
}

/// A key of the invoice lines' VAT sums: company, kind, month (of the invoice's date),
/// VAT rate (`unknown` for a line without one, as [`vat_by_rate`] names it).
type VatKey = (i64, ThirdPartyKind, NaiveDate, String);

/// The sums of the invoice lines of one [`VatKey`].
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct VatSums {
    amount_ht: Decimal,
    vat: Decimal,
    amount_ttc: Decimal,
    /// How many lines are summed (the sums go with their last line).
    lines: i64,
}

fixed_table! {
    /// The schema of [`OPEN_AMOUNTS_TABLE`].
    fn open_amounts_schema, fn open_amounts_row(entry: (&OpenKey, Decimal, NaiveDate)) =
        "_penny_open_amounts",
        ["company_id", "kind", "third_party_id", "due_date", "counts_from"];
    let ((company_id, kind, third_party_id, due_date, counts_from), amount, as_of) = entry;
    req("company_id", Int64) => *company_id,
    req("kind", Text) => kind.as_str(),
    req("third_party_id", Int64) => third_party_id.unwrap_or(0),
    req("due_date", Date) => *due_date,
    req("counts_from", Date) => *counts_from,
    req("amount", MONEY) => amount,
    req("as_of", Date) => as_of,
}

/// The key columns of a row of [`OPEN_AMOUNTS_TABLE`] (a row to delete).
fn open_key_row(
    &(company_id, kind, third_party_id, due_date, counts_from): &OpenKey,
) -> Vec<Value> {
    vec![
        Value::Int64(company_id),
        Value::Text(kind.as_str().to_owned()),
        Value::Int64(third_party_id.unwrap_or(0)),
        Value::Date(due_date),
        Value::Date(counts_from),
    ]
}

fixed_table! {
    /// The schema of [`INVOICE_VAT_TABLE`].
    fn vat_sums_schema, fn vat_sums_row(entry: (&VatKey, &VatSums)) =
        "_penny_invoice_vat_sums", ["company_id", "kind", "month", "vat_rate"];
    let ((company_id, kind, month, vat_rate), sums) = entry;
    req("company_id", Int64) => *company_id,
    req("kind", Text) => kind.as_str(),
    req("month", Date) => *month,
    req("vat_rate", Text) => vat_rate.clone(),
    req("amount_ht", MONEY) => sums.amount_ht,
    req("vat", MONEY) => sums.vat,
    req("amount_ttc", MONEY) => sums.amount_ttc,
    req("lines", Int64) => sums.lines,
}

/// What the reports need of the invoices, their lines and their payments, gathered as
/// they stream by: the open amounts of the aged balances, summed as totals and payments
/// arrive ([`OpenAmounts`]); per invoice its third party and dates (the
/// payments' and lines' way to their invoice); the lines summed per company, kind, month
/// and VAT rate. Invoices must be added before their lines and payments (a line of an
/// unknown invoice is left out, as [`vat_by_rate`] does; so is a payment, which the aged
/// balance would not count), and each invoice once (as the raw tables' keys make them).
///
/// The open amounts and the VAT sums are saved ([`OPEN_AMOUNTS_TABLE`],
/// [`INVOICE_VAT_TABLE`]) and read back by the next incremental update
/// ([`add_saved`](Self::add_saved)), which changes them by the old and new versions of
/// the records it changed ([`change`](Self::change)) instead of reading every invoice.
///
/// Memory: with [`add`](Self::add), the briefs are kept in a vector per company and
/// kind sorted by id (looked up by binary search), 24 bytes an invoice; with
/// [`add_invoices`](Self::add_invoices) without briefs and
/// [`add_details`](Self::add_details), nothing per invoice. The open amounts grow with
/// the third parties and recent or future due dates, the VAT sums with the months and
/// rates.
#[derive(Debug)]
pub struct InvoiceDigest {
    open: OpenAmounts,
    invoices: Briefs,
    vat: BTreeMap<VatKey, VatSums>,
    /// The day the open amounts read back were kept as of.
    saved_on: Option<NaiveDate>,
    /// The open amounts [`change`](Self::change) touched.
    touched: Option<BTreeSet<OpenKey>>,
    /// The invoices added with briefs that are not accounting documents (drafts,
    /// quotes...), for their lines to be told apart ([`counts`](Self::counts)).
    left_out: BTreeSet<InvoiceKey>,
    /// Credit notes whose credited invoice was not seen yet, by that invoice's key
    /// ([`pending_credits`](Self::pending_credits)).
    pending: BTreeMap<InvoiceKey, Vec<PendingCredit>>,
}

/// A credit note waiting for the invoice it credits, whose due date it is aged on.
#[derive(Debug, Clone, Copy)]
struct PendingCredit {
    group: OpenGroup,
    /// The credit note's date (it counts from it).
    from: NaiveDate,
    /// Its own due date, used if the credited invoice never comes.
    own_due: NaiveDate,
    amount: Decimal,
}

impl InvoiceDigest {
    /// An empty digest for the aged balances as of `as_of` (payments after it are left
    /// out).
    pub fn new(as_of: NaiveDate) -> Self {
        InvoiceDigest {
            open: OpenAmounts::new(as_of, Buckets::default()),
            invoices: Briefs::default(),
            vat: BTreeMap::new(),
            saved_on: None,
            touched: None,
            left_out: BTreeSet::new(),
            pending: BTreeMap::new(),
        }
    }

    /// The invoices credit notes added so far credit that the digest has not seen
    /// (the keyed full rebuild reads them back and gives them to
    /// [`resolve_credits`](Self::resolve_credits)). Credit notes still waiting when
    /// the digest is read are aged on their own due date.
    pub fn pending_credits(&self) -> impl Iterator<Item = &InvoiceKey> + '_ {
        self.pending.keys()
    }

    /// Ages the credit notes waiting for one of `invoices` on its due date (invoices
    /// that are not accounting documents credit nothing: those wait on).
    pub fn resolve_credits(&mut self, invoices: &[Invoice]) {
        for i in invoices
            .iter()
            .filter(|i| i.counts() && i.credits().is_none())
        {
            self.resolve((i.company_id, i.kind, i.id), i.due());
        }
    }

    /// Ages the credit notes waiting for invoice `key` on its due date `due`.
    fn resolve(&mut self, key: InvoiceKey, due: NaiveDate) {
        if self.pending.is_empty() {
            return;
        }
        for c in self.pending.remove(&key).unwrap_or_default() {
            self.open.add(c.group, c.from, due, c.amount);
        }
    }

    /// The open amounts, with the credit notes still waiting aged on their own due
    /// date.
    fn settled(&self) -> Cow<'_, OpenAmounts> {
        if self.pending.is_empty() {
            return Cow::Borrowed(&self.open);
        }
        let mut open = self.open.clone();
        for c in self.pending.values().flatten() {
            open.add(c.group, c.from, c.own_due, c.amount);
        }
        Cow::Owned(open)
    }

    /// Whether the invoice `key` counts: false for one added with briefs
    /// ([`add`](Self::add), [`add_invoices`](Self::add_invoices) with `keep_briefs`)
    /// that is not an accounting document, true otherwise (unknown invoices included).
    pub fn counts(&self, key: &InvoiceKey) -> bool {
        !self.left_out.contains(key)
    }

    /// The open amounts a [`change`](Self::change) touched, when the amounts were read
    /// back from the same day (kept alike, so the other saved rows and aged balances
    /// stand); `None` otherwise.
    pub fn same_day_changes(&self) -> Option<&BTreeSet<OpenKey>> {
        self.touched
            .as_ref()
            .filter(|_| self.saved_on == Some(self.as_of()))
    }

    /// The day the aged balances are computed at.
    pub fn as_of(&self) -> NaiveDate {
        self.open.as_of()
    }

    /// Adds the invoices, then the invoice lines, then the payments of `books`.
    pub fn add(&mut self, books: &Books) {
        self.add_invoices(&books.invoices, true);
        for l in &books.invoice_lines {
            if let Some(invoice) = self.invoices.get(&(l.company_id, l.kind, l.invoice_id)) {
                let date = invoice.date;
                // Adding never fails.
                let _ = self.add_line(l, date, 1);
            }
        }
        for p in &books.payments {
            if let Some(i) = self.invoices.get(&(p.company_id, p.kind, p.invoice_id)) {
                self.open.add(
                    open_group(p.company_id, p.kind, i.third_party_id),
                    p.date.max(i.date),
                    i.due,
                    -p.amount,
                );
            }
        }
    }

    /// Adds invoices (their amounts owed). With `keep_briefs`, keeps what their lines
    /// and payments need of them (24 bytes each) for [`add`](Self::add) to join them;
    /// without, their lines and payments must come with them through
    /// [`add_details`](Self::add_details).
    ///
    /// Only accounting documents count ([`Invoice::counts`]): a draft, proforma,
    /// quote or order is left out, and so are its lines and payments, which find no
    /// brief; a credit note counts with its negative amounts, aged on the due date of
    /// the invoice it credits (an amount taken off it) once that invoice is seen
    /// (here, by its brief, or [`resolve_credits`](Self::resolve_credits)).
    pub fn add_invoices(&mut self, invoices: &[Invoice], keep_briefs: bool) {
        if keep_briefs {
            self.left_out.extend(
                invoices
                    .iter()
                    .filter(|i| !i.counts())
                    .map(|i| (i.company_id, i.kind, i.id)),
            );
        }
        for i in invoices.iter().filter(|i| i.counts()) {
            if keep_briefs {
                self.invoices.push(
                    (i.company_id, i.kind, i.id),
                    InvoiceBrief {
                        third_party_id: i.third_party_id,
                        date: i.date,
                        due: i.due(),
                    },
                );
            }
            if i.credits().is_none() {
                self.open.add(
                    open_group(i.company_id, i.kind, i.third_party_id),
                    i.date,
                    i.due(),
                    i.amount_ttc,
                );
                self.resolve((i.company_id, i.kind, i.id), i.due());
            }
        }
        self.invoices.seal();
        // Then the credit notes, on the due date of the invoice they credit.
        let mut here: Option<HashMap<InvoiceKey, NaiveDate>> = None;
        for i in invoices.iter().filter(|i| i.counts()) {
            let Some(credited) = i.credits() else {
                continue;
            };
            let key = (i.company_id, i.kind, credited);
            let here = here.get_or_insert_with(|| {
                invoices
                    .iter()
                    .filter(|i| i.counts() && i.credits().is_none())
                    .map(|i| ((i.company_id, i.kind, i.id), i.due()))
                    .collect()
            });
            let due = here
                .get(&key)
                .copied()
                .or_else(|| self.invoices.get(&key).map(|b| b.due));
            let group = open_group(i.company_id, i.kind, i.third_party_id);
            match due {
                Some(due) => {
                    self.open.add(group, i.date, due, i.amount_ttc);
                }
                None => self.pending.entry(key).or_default().push(PendingCredit {
                    group,
                    from: i.date,
                    own_due: i.due(),
                    amount: i.amount_ttc,
                }),
            }
        }
    }

    /// Adds the invoice lines and payments of `books`, joined to their invoices, also
    /// in `books` (whose amounts owed were added by [`add_invoices`](Self::add_invoices)
    /// and are not added again): a full rebuild that reads each batch's invoices back by
    /// key needs no brief per invoice. Lines and payments of an invoice not in `books`
    /// are left out, as [`add`](Self::add) leaves out those of an unknown invoice, and
    /// so are those of an invoice that is not an accounting document.
    pub fn add_details(&mut self, books: &Books) {
        let touched = self.touched.take();
        // Adding never fails; no invoice is in `changed`, so none is added again.
        let _ = self.apply(books, &BTreeSet::new(), 1);
        self.touched = touched;
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) an invoice line of an invoice dated
    /// `date`.
    fn add_line(&mut self, l: &InvoiceLine, date: NaiveDate, sign: i64) -> Result<(), StaleSums> {
        let rate = l.vat_rate.as_deref().unwrap_or("unknown");
        let key = (l.company_id, l.kind, month_start(date), rate.to_owned());
        let sums = self.vat.entry(key).or_default();
        let d = Decimal::from(sign);
        sums.amount_ht += d * l.amount_ht;
        sums.vat += d * l.vat;
        sums.amount_ttc += d * l.amount_ttc;
        sums.lines += sign;
        if sums.lines < 0 {
            return Err(StaleSums::TakenBeyondSummed {
                table: INVOICE_VAT_TABLE,
                key: format!(
                    "company {}, {} invoices, month {}, rate {rate} (invoice line {})",
                    l.company_id,
                    l.kind.as_str(),
                    month_start(date),
                    l.id
                ),
            });
        }
        if sums.lines == 0 {
            let key = (l.company_id, l.kind, month_start(date), rate.to_owned());
            self.vat.remove(&key);
        }
        Ok(())
    }

    /// Changes the digest by the records a run changed: `old` (their versions before
    /// the run, as read back by
    /// [`read_back`](super::invoice_read_back::read_back)) taken away, `new` (after it) added. Each
    /// holds the invoices whose keys are in `changed` (those that changed; an invoice
    /// gone is not in `new`), the lines and payments that changed or belong to a
    /// changed invoice, and the invoices of those lines and payments (unchanged ones
    /// alike in both), which their amounts are dated and grouped by.
    ///
    /// Only accounting documents count, in either version: a draft that became an
    /// invoice is added with its lines and payments, an invoice that went back to draft
    /// taken away with them.
    ///
    /// Errs when the saved sums do not hold what is taken away: they must then be made
    /// afresh.
    pub fn change(
        &mut self,
        old: &Books,
        new: &Books,
        changed: &BTreeSet<InvoiceKey>,
    ) -> Result<(), StaleSums> {
        self.touched.get_or_insert_default();
        self.apply(old, changed, -1)?;
        self.apply(new, changed, 1)
    }

    fn apply(
        &mut self,
        books: &Books,
        changed: &BTreeSet<InvoiceKey>,
        sign: i64,
    ) -> Result<(), StaleSums> {
        let d = Decimal::from(sign);
        let invoices: HashMap<InvoiceKey, &Invoice> = books
            .invoices
            .iter()
            .filter(|i| i.counts())
            .map(|i| ((i.company_id, i.kind, i.id), i))
            .collect();
        for (key, i) in &invoices {
            if changed.contains(key) {
                // A credit note on the due date of the invoice it credits, which the
                // caller gives with it (else on its own, as a full digest would).
                let due = i
                    .credits()
                    .and_then(|c| invoices.get(&(i.company_id, i.kind, c)))
                    .filter(|c| c.credits().is_none())
                    .map_or(i.due(), |c| c.due());
                let touched = self.open.add(
                    open_group(i.company_id, i.kind, i.third_party_id),
                    i.date,
                    due,
                    d * i.amount_ttc,
                );
                self.touched.get_or_insert_default().extend(touched);
            }
        }
        for l in &books.invoice_lines {
            if let Some(i) = invoices.get(&(l.company_id, l.kind, l.invoice_id)) {
                self.add_line(l, i.date, sign)?;
            }
        }
        for p in &books.payments {
            if let Some(i) = invoices.get(&(p.company_id, p.kind, p.invoice_id)) {
                let touched = self.open.add(
                    open_group(p.company_id, p.kind, i.third_party_id),
                    p.date.max(i.date),
                    i.due_date.unwrap_or(i.date),
                    -d * p.amount,
                );
                self.touched.get_or_insert_default().extend(touched);
            }
        }
        Ok(())
    }

    /// The schema of [`OPEN_AMOUNTS_TABLE`]: `company_id`, `kind`, `third_party_id` (0
    /// for invoices without one, as in the aged balances), `due_date`, `counts_from`
    /// (the key), `amount`, and `as_of`, the day the amounts were kept as of, the same
    /// on every row.
    pub fn open_amounts_schema() -> Arc<Schema> {
        open_amounts_schema()
    }

    /// The schema of [`INVOICE_VAT_TABLE`]: `company_id`, `kind`, `month`, `vat_rate`
    /// (the key), `amount_ht`, `vat`, `amount_ttc`, `lines`.
    pub fn vat_sums_schema() -> Arc<Schema> {
        vat_sums_schema()
    }

    /// The open amounts and the VAT sums as the rows of [`OPEN_AMOUNTS_TABLE`] and
    /// [`INVOICE_VAT_TABLE`] (both grow with third parties, dates and rates, not with
    /// the invoices): whole, but the open amounts a same-day [`change`](Self::change)
    /// touched, merged.
    pub fn saved_batches(&self, batch_rows: usize) -> Result<Vec<TableWrite>, BatchError> {
        let (as_of, batch_rows) = (self.as_of(), batch_rows.max(1));
        let schema = open_amounts_schema();
        let open = match self.same_day_changes() {
            Some(touched) => {
                let mut rows = Vec::new();
                let mut gone = Vec::new();
                for key in touched {
                    match self.open.get(key) {
                        Some(amount) => rows.push(open_amounts_row((key, amount, as_of))),
                        None => gone.push(open_key_row(key)),
                    }
                }
                let batches = build(schema.clone(), rows.into_iter(), batch_rows)?;
                (schema, batches, Some(gone))
            }
            None => {
                let open = self.settled();
                let rows = open
                    .iter()
                    .map(|(key, amount)| open_amounts_row((key, *amount, as_of)));
                let batches = build(schema.clone(), rows, batch_rows)?;
                (schema, batches, None)
            }
        };
        let schema = vat_sums_schema();
        let batches = build(
            schema.clone(),
            self.vat.iter().map(vat_sums_row),
            batch_rows,
        )?;
        Ok(vec![open, (schema, batches, None)])
    }

    /// Adds rows of [`OPEN_AMOUNTS_TABLE`] or [`INVOICE_VAT_TABLE`] read back (by column
    /// name). Open amounts kept as of a later day than this digest's cannot be aged on
    /// it: they are refused, as are rows that cannot be read and batches of another
    /// table.
    pub fn add_saved(&mut self, batch: &Batch) -> Result<(), StaleSums> {
        let r = Reader::new(batch)?;
        match r.table {
            OPEN_AMOUNTS_TABLE => {
                let (company, kind, third_party, due, from, amount, as_of) = (
                    r.col("company_id")?,
                    r.col("kind")?,
                    r.col("third_party_id")?,
                    r.col("due_date")?,
                    r.col("counts_from")?,
                    r.col("amount")?,
                    r.col("as_of")?,
                );
                for row in 0..r.len() {
                    let saved_on = r.cell(row, as_of).date()?;
                    if saved_on > self.as_of() {
                        return Err(StaleSums::SavedLater {
                            table: OPEN_AMOUNTS_TABLE,
                            saved_on,
                            as_of: self.as_of(),
                        });
                    }
                    let group = open_group(
                        r.cell(row, company).i64()?,
                        third_party_kind(&r, row, kind)?,
                        Some(r.cell(row, third_party).i64()?),
                    );
                    self.open.add(
                        group,
                        r.cell(row, from).date()?,
                        r.cell(row, due).date()?,
                        r.cell(row, amount).money()?,
                    );
                    self.saved_on = Some(saved_on);
                }
            }
            INVOICE_VAT_TABLE => {
                let (company, kind, month, rate, ht, vat, ttc, lines) = (
                    r.col("company_id")?,
                    r.col("kind")?,
                    r.col("month")?,
                    r.col("vat_rate")?,
                    r.col("amount_ht")?,
                    r.col("vat")?,
                    r.col("amount_ttc")?,
                    r.col("lines")?,
                );
                for row in 0..r.len() {
                    self.vat.insert(
                        (
                            r.cell(row, company).i64()?,
                            third_party_kind(&r, row, kind)?,
                            r.cell(row, month).date()?,
                            r.cell(row, rate).text()?,
                        ),
                        VatSums {
                            amount_ht: r.cell(row, ht).money()?,
                            vat: r.cell(row, vat).money()?,
                            amount_ttc: r.cell(row, ttc).money()?,
                            lines: r.cell(row, lines).i64()?,
                        },
                    );
                }
            }
            other => {
                return Err(StaleSums::UnexpectedTable {
                    table: other.to_owned(),
                    expected: "a table of the invoices' digest",
                });
            }
        }
        Ok(())
    }

    /// The aged balances, as of [`as_of`](Self::as_of), in the default buckets.
    pub fn aged(&self) -> AgedBalance {
        self.settled().age()
    }

    /// The VAT per rate ([`vat_by_rate`] over one invoice per company, kind and month
    /// carrying that month's sums per rate).
    pub fn vat_rows(&self) -> Vec<VatRateRow> {
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
                amount_ht: sums.amount_ht,
                vat: sums.vat,
                amount_ttc: sums.amount_ttc,
                vat_rate: Some(rate.clone()),
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
                ..empty_invoice()
            })
            .collect();
        vat_by_rate(&invoices, &lines, NaiveDate::MIN, NaiveDate::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::InvoicePayment;
    use crate::canonical::tables::to_batches;
    use crate::reports::aged_balance;
    use crate::reports::invoice_read_back::read_back;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid")
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
                ..empty_invoice()
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
    fn the_saved_tables_are_named_by_their_constants() {
        assert_eq!(
            InvoiceDigest::open_amounts_schema().name(),
            OPEN_AMOUNTS_TABLE
        );
        assert_eq!(InvoiceDigest::vat_sums_schema().name(), INVOICE_VAT_TABLE);
        let writes = InvoiceDigest::new(d(2026, 1, 1))
            .saved_batches(10)
            .expect("valid");
        let names: Vec<&str> = writes.iter().map(|(s, _, _)| s.name()).collect();
        assert_eq!(names, [OPEN_AMOUNTS_TABLE, INVOICE_VAT_TABLE]);
    }

    #[test]
    fn the_digest_gives_the_aged_balances_and_vat_of_the_whole_invoices() {
        let books = books();
        let as_of = d(2026, 9, 30);
        let mut digest = InvoiceDigest::new(as_of);
        // In parts, as batches stream by: invoices first (out of key order), then lines
        // and payments.
        let (first, second) = books.invoices.split_at(25);
        for part in [second, first] {
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

        let from = books.invoices.iter().map(|i| i.date).min().expect("valid");
        let to = books.invoices.iter().map(|i| i.date).max().expect("valid");
        let expected = vat_by_rate(&books.invoices, &books.invoice_lines, from, to);
        assert!(expected.len() > 10);
        assert_eq!(digest.vat_rows(), expected);
    }

    #[test]
    fn details_joined_to_their_invoices_read_back_equal_details_joined_by_briefs() {
        let books = books();
        let as_of = d(2026, 9, 30);
        let mut briefs = InvoiceDigest::new(as_of);
        briefs.add(&books);

        let mut joined = InvoiceDigest::new(as_of);
        joined.add_invoices(&books.invoices, false);
        assert!(joined.invoices.0.is_empty(), "no brief kept");
        // Lines, then payments, in batches, each with the invoices it names (as read
        // back by key: an unknown invoice is not found).
        let of = |keys: Vec<InvoiceKey>| -> Vec<Invoice> {
            books
                .invoices
                .iter()
                .filter(|i| keys.contains(&(i.company_id, i.kind, i.id)))
                .cloned()
                .collect()
        };
        for part in books.invoice_lines.chunks(7) {
            let keys = part.iter().map(|l| (l.company_id, l.kind, l.invoice_id));
            joined.add_details(&Books {
                invoices: of(keys.collect()),
                invoice_lines: part.to_vec(),
                ..Books::default()
            });
        }
        for part in books.payments.chunks(5) {
            let keys = part.iter().map(|p| (p.company_id, p.kind, p.invoice_id));
            joined.add_details(&Books {
                invoices: of(keys.collect()),
                payments: part.to_vec(),
                ..Books::default()
            });
        }
        assert!(joined.touched.is_none());
        assert_eq!(joined.aged().rows, briefs.aged().rows);
        assert_eq!(joined.vat_rows(), briefs.vat_rows());
        let rows = |digest: &InvoiceDigest| -> Vec<Vec<Value>> {
            let writes = digest.saved_batches(100).expect("valid");
            writes
                .iter()
                .flat_map(|(_, batches, _)| batches.iter().flat_map(|b| b.rows().to_vec()))
                .collect()
        };
        assert!(rows(&joined).len() > 10);
        assert_eq!(rows(&joined), rows(&briefs));
    }

    /// The records of `books` a run that changed `invoices`, `lines` and `payments`
    /// affects, as [`InvoiceDigest::change`] takes them: the changed invoices, the lines
    /// and payments changed or of a changed invoice, and the invoices of those.
    fn affected(
        books: &Books,
        invoices: &std::collections::BTreeSet<InvoiceKey>,
        lines: &[i64],
        payments: &[i64],
    ) -> Books {
        let of_changed = |c, k, invoice| invoices.contains(&(c, k, invoice));
        let mut out = Books {
            invoice_lines: books
                .invoice_lines
                .iter()
                .filter(|l| lines.contains(&l.id) || of_changed(l.company_id, l.kind, l.invoice_id))
                .cloned()
                .collect(),
            payments: books
                .payments
                .iter()
                .filter(|p| {
                    payments.contains(&p.id) || of_changed(p.company_id, p.kind, p.invoice_id)
                })
                .cloned()
                .collect(),
            ..Books::default()
        };
        let mut needed = invoices.clone();
        needed.extend(
            out.invoice_lines
                .iter()
                .map(|l| (l.company_id, l.kind, l.invoice_id)),
        );
        needed.extend(
            out.payments
                .iter()
                .map(|p| (p.company_id, p.kind, p.invoice_id)),
        );
        out.invoices = books
            .invoices
            .iter()
            .filter(|i| needed.contains(&(i.company_id, i.kind, i.id)))
            .cloned()
            .collect();
        out
    }

    #[test]
    fn a_saved_digest_changed_by_old_and_new_versions_equals_one_made_afresh() {
        let before = books();
        let saved_on = d(2026, 9, 30);
        let mut first = InvoiceDigest::new(saved_on);
        first.add(&before);

        // Invoice 4 moves to another third party, due later, for more; invoice 7 is
        // deleted (its lines stay, orphaned, as the API leaves them); invoice 100 is
        // new, with a line and a payment; line 12 changes rate, payment 1005 its date,
        // payment 1001 is deleted, and invoice 9 (unchanged) gets a payment.
        let mut after = before.clone();
        let i4 = after
            .invoices
            .iter_mut()
            .find(|i| i.id == 4)
            .expect("valid");
        i4.third_party_id = Some(3);
        i4.due_date = Some(d(2026, 11, 2));
        i4.amount_ttc += Decimal::new(5_000, 2);
        let kind4 = i4.kind;
        let (kind7, kind9) = (after.invoices[7].kind, after.invoices[9].kind);
        after.invoices.retain(|i| i.id != 7);
        after.invoices.push(Invoice {
            company_id: 1,
            kind: ThirdPartyKind::Customer,
            id: 100,
            third_party_id: Some(1),
            date: d(2026, 9, 1),
            due_date: Some(d(2026, 9, 15)),
            amount_ttc: Decimal::new(60_000, 2),
            ..empty_invoice()
        });
        after.invoice_lines.push(InvoiceLine {
            company_id: 1,
            kind: ThirdPartyKind::Customer,
            invoice_id: 100,
            id: 5000,
            amount_ht: Decimal::new(50_000, 2),
            vat: Decimal::new(10_000, 2),
            amount_ttc: Decimal::new(60_000, 2),
            vat_rate: Some("FR_200".into()),
            ..before.invoice_lines[0].clone()
        });
        let l12 = after
            .invoice_lines
            .iter_mut()
            .find(|l| l.id == 12)
            .expect("valid");
        l12.vat_rate = Some("FR_100".into());
        after.payments.retain(|p| p.id != 1001);
        let p5 = after
            .payments
            .iter_mut()
            .find(|p| p.id == 1005)
            .expect("valid");
        p5.date = d(2026, 8, 1);
        after.payments.push(InvoicePayment {
            company_id: 2,
            kind: kind9,
            invoice_id: 9,
            id: 5001,
            date: d(2026, 9, 2),
            amount: Decimal::new(3_000, 2),
        });
        after.payments.push(InvoicePayment {
            company_id: 1,
            kind: ThirdPartyKind::Customer,
            invoice_id: 100,
            id: 5002,
            date: d(2026, 9, 20),
            amount: Decimal::new(10_000, 2),
        });
        let changed: std::collections::BTreeSet<InvoiceKey> = [
            (1, kind4, 4),
            (2, kind7, 7),
            (1, ThirdPartyKind::Customer, 100),
        ]
        .into();
        let (lines, payments) = ([12, 5000], [1001, 1005, 5001, 5002]);

        // The old versions as the canonical tables give them back.
        let old = affected(&before, &changed, &lines, &payments);
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&old.invoices, 7).expect("valid"));
        canonical.extend(to_batches(&old.invoice_lines, 7).expect("valid"));
        canonical.extend(to_batches(&old.payments, 7).expect("valid"));
        let read = read_back(&canonical).expect("valid");
        assert_eq!(read.invoices.len(), old.invoices.len());
        assert_eq!(read.payments, old.payments);
        let new = affected(&after, &changed, &lines, &payments);

        // Read back on a later day, as the saved tables are, then changed.
        let as_of = d(2026, 10, 15);
        let mut digest = InvoiceDigest::new(as_of);
        for (_, batches, _) in first.saved_batches(13).expect("valid") {
            for b in batches {
                digest.add_saved(&b).expect("valid");
            }
        }
        digest.change(&read, &new, &changed).expect("valid");
        let mut afresh = InvoiceDigest::new(as_of);
        afresh.add(&after);
        let aged = afresh.aged();
        assert!(aged.rows.len() > 5);
        assert_eq!(digest.aged(), aged);
        assert_eq!(digest.vat_rows(), afresh.vat_rows());
        assert_eq!(digest.vat, afresh.vat);
        assert_ne!(first.vat, afresh.vat, "the changes change the VAT sums");
        let mut unchanged = InvoiceDigest::new(as_of);
        for (_, batches, _) in first.saved_batches(13).expect("valid") {
            for b in batches {
                unchanged.add_saved(&b).expect("valid");
            }
        }
        assert_ne!(
            unchanged.aged(),
            aged,
            "the changes change the aged balances"
        );

        // Read back on the same day, only the open amounts the changes touched are
        // written (merged): applied to the saved rows, they give the rows made afresh.
        let mut same_day = InvoiceDigest::new(saved_on);
        let saved = first.saved_batches(13).expect("valid");
        for (_, batches, gone) in &saved {
            assert!(gone.is_none(), "a digest made afresh is written whole");
            for b in batches {
                same_day.add_saved(b).expect("valid");
            }
        }
        same_day.change(&read, &new, &changed).expect("valid");
        let key_of = |row: &[Value]| format!("{:?}", &row[..5]);
        let mut rows: BTreeMap<String, Vec<Value>> = saved[0]
            .1
            .iter()
            .flat_map(|b| b.rows().iter().map(|r| (key_of(r), r.clone())))
            .collect();
        let (_, upserts, gone) = same_day.saved_batches(13).expect("valid").remove(0);
        let gone = gone.expect("merged on the same day");
        let written: usize = upserts.iter().map(Batch::len).sum();
        assert!(
            written + gone.len() < rows.len() / 2,
            "{written} rows written"
        );
        for row in upserts.iter().flat_map(|b| b.rows()) {
            rows.insert(key_of(row), row.clone());
        }
        for key in &gone {
            rows.remove(&key_of(key));
        }
        let mut fresh = InvoiceDigest::new(saved_on);
        fresh.add(&after);
        let expected: BTreeMap<String, Vec<Value>> = fresh.saved_batches(13).expect("valid")[0]
            .1
            .iter()
            .flat_map(|b| b.rows().iter().map(|r| (key_of(r), r.clone())))
            .collect();
        assert_eq!(rows, expected);

        // Sums saved as of a later day cannot be aged on an earlier one; sums that do
        // not hold what is taken away must be made afresh.
        let mut earlier = InvoiceDigest::new(d(2026, 9, 1));
        let open = first.saved_batches(1_000).expect("valid").remove(0).1;
        assert!(earlier.add_saved(&open[0]).is_err());
        let mut empty = InvoiceDigest::new(as_of);
        assert!(empty.change(&read, &new, &changed).is_err());
    }

    /// Customer 1's and supplier 2's open totals in `digest`.
    fn owed(digest: &InvoiceDigest) -> Vec<(ThirdPartyKind, Option<i64>, Decimal)> {
        digest
            .aged()
            .rows
            .iter()
            .map(|r| (r.kind, r.third_party_id, r.total))
            .collect()
    }

    fn units(n: i64) -> Decimal {
        Decimal::new(n * 100, 2)
    }

    #[test]
    fn the_digest_counts_invoices_and_credit_notes_only() {
        let books = crate::testing::books_with_every_document();
        let as_of = d(2026, 7, 31);
        let mut briefs = InvoiceDigest::new(as_of);
        briefs.add(&books);
        // 1,200 - 100 paid - 600 credited; not the draft's 12,000 less its 500 paid.
        assert_eq!(
            owed(&briefs),
            [
                (ThirdPartyKind::Customer, Some(1), units(500)),
                (ThirdPartyKind::Supplier, Some(2), units(360)),
            ]
        );
        let expected = aged_balance::from_invoices(
            &books.invoices,
            Some(&books.payments),
            as_of,
            &Buckets::default(),
        );
        assert_eq!(briefs.aged(), expected);
        let vat = vat_by_rate(&books.invoices, &books.invoice_lines, d(2026, 7, 1), as_of);
        assert_eq!(briefs.vat_rows(), vat);
        let collected: Vec<_> = vat.iter().map(|r| (r.base, r.vat)).collect();
        assert_eq!(
            collected,
            [(units(500), units(100)), (units(300), units(60))]
        );
        // The lines of the others are told apart (for the facts that stream them).
        let left_out: Vec<i64> = books
            .invoices
            .iter()
            .filter(|i| !briefs.counts(&(i.company_id, i.kind, i.id)))
            .map(|i| i.id)
            .collect();
        assert_eq!(left_out, [12, 13, 14, 15, 16, 21]);
        assert!(
            briefs.counts(&(1, ThirdPartyKind::Customer, 999)),
            "unknown"
        );
        // Joined to the invoices read back by key, without briefs: alike.
        let mut joined = InvoiceDigest::new(as_of);
        joined.add_invoices(&books.invoices, false);
        joined.add_details(&books);
        assert_eq!(joined.aged(), expected);
        assert_eq!(joined.vat_rows(), vat);
    }

    #[test]
    fn credit_notes_are_aged_on_the_invoice_they_credit_whatever_the_order() {
        let books = crate::testing::books_with_every_document();
        let key = |id| (1, ThirdPartyKind::Customer, id);
        let only = |ids: &[i64]| -> Vec<Invoice> {
            books
                .invoices
                .iter()
                .filter(|i| ids.contains(&i.id))
                .cloned()
                .collect()
        };
        // Invoice 10 is due on 31 July, its credit note 11 (-600) on 9 August.
        for as_of in [d(2026, 7, 31), d(2026, 10, 1)] {
            let expected =
                aged_balance::from_invoices(&books.invoices, None, as_of, &Buckets::default());
            // Nothing is left in the credit note's own bucket.
            let own = aged_balance::Buckets::default().index(d(2026, 8, 9), as_of);
            let invoice = aged_balance::Buckets::default().index(d(2026, 7, 31), as_of);
            assert_ne!(own, invoice);
            assert_eq!(
                expected.rows[0].buckets[own],
                Decimal::ZERO,
                "as of {as_of}"
            );
            assert_eq!(
                expected.rows[0].buckets[invoice],
                units(600),
                "as of {as_of}"
            );
            // The credit note before its invoice, without briefs: it waits for it.
            let mut later = InvoiceDigest::new(as_of);
            later.add_invoices(&only(&[11]), false);
            assert_eq!(later.pending_credits().collect::<Vec<_>>(), [&key(10)]);
            later.add_invoices(&only(&[10, 12, 13, 14, 15, 16, 20, 21]), false);
            assert_eq!(later.pending_credits().count(), 0);
            assert_eq!(later.aged(), expected, "credit note first, as of {as_of}");
            // After it, with briefs: found by its brief.
            let mut briefs = InvoiceDigest::new(as_of);
            briefs.add_invoices(&only(&[10, 12, 20]), true);
            briefs.add_invoices(&only(&[11, 13, 14, 15, 16, 21]), true);
            assert_eq!(briefs.aged(), expected, "briefs, as of {as_of}");
            // After it, without briefs: read back by key and resolved.
            let mut keyed = InvoiceDigest::new(as_of);
            keyed.add_invoices(&only(&[10, 12, 20]), false);
            keyed.add_invoices(&only(&[11, 13, 14, 15, 16, 21]), false);
            assert_eq!(keyed.pending_credits().collect::<Vec<_>>(), [&key(10)]);
            let waiting = keyed.aged();
            keyed.resolve_credits(&only(&[10]));
            assert_eq!(keyed.aged(), expected, "read back, as of {as_of}");
            // Never resolved: on its own due date, the total alike.
            assert_eq!(waiting.rows[0].buckets[own], units(-600), "as of {as_of}");
            assert_eq!(waiting.rows[0].total, expected.rows[0].total);
        }
        // The credited invoice's due date moves: the credit note moves with it when the
        // update counts it as changed and gives both.
        let saved_on = d(2026, 9, 15);
        let mut first = InvoiceDigest::new(saved_on);
        first.add(&books);
        let mut after = books.clone();
        for i in &mut after.invoices {
            if i.id == 10 {
                i.due_date = Some(d(2026, 6, 1));
            }
        }
        let changed: std::collections::BTreeSet<InvoiceKey> = [key(10), key(11)].into();
        let old = affected(&books, &changed, &[], &[]);
        let new = affected(&after, &changed, &[], &[]);
        let mut digest = InvoiceDigest::new(saved_on);
        for (_, batches, _) in first.saved_batches(5).expect("valid") {
            for b in batches {
                digest.add_saved(&b).expect("valid");
            }
        }
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&old.invoices, 3).expect("valid"));
        canonical.extend(to_batches(&old.payments, 3).expect("valid"));
        canonical.extend(to_batches(&old.invoice_lines, 3).expect("valid"));
        let read = read_back(&canonical).expect("valid");
        assert_eq!(
            read.invoices
                .iter()
                .find(|i| i.id == 11)
                .and_then(|i| i.credits()),
            Some(10),
            "the credited invoice is read back"
        );
        digest.change(&read, &new, &changed).expect("valid");
        let mut afresh = InvoiceDigest::new(saved_on);
        afresh.add(&after);
        assert_eq!(digest.aged(), afresh.aged());
        let moved = aged_balance::Buckets::default().index(d(2026, 6, 1), saved_on);
        assert_eq!(afresh.aged().rows[0].buckets[moved], units(500));
    }

    #[test]
    fn a_draft_made_an_invoice_and_an_invoice_made_a_draft_move_between_cycles() {
        use crate::canonical::InvoiceDocument;
        let before = crate::testing::books_with_every_document();
        let saved_on = d(2026, 7, 31);
        let mut first = InvoiceDigest::new(saved_on);
        first.add(&before);
        // The draft 12 is finalized; invoice 20 (supplier) goes back to draft.
        let mut after = before.clone();
        for i in &mut after.invoices {
            match i.id {
                12 => i.document = InvoiceDocument::Invoice,
                20 => i.document = InvoiceDocument::Draft,
                _ => {}
            }
        }
        let changed: std::collections::BTreeSet<InvoiceKey> = [
            (1, ThirdPartyKind::Customer, 12),
            (1, ThirdPartyKind::Supplier, 20),
        ]
        .into();
        let old = affected(&before, &changed, &[], &[]);
        let mut canonical = Vec::new();
        canonical.extend(to_batches(&old.invoices, 3).expect("valid"));
        canonical.extend(to_batches(&old.invoice_lines, 3).expect("valid"));
        canonical.extend(to_batches(&old.payments, 3).expect("valid"));
        let read = read_back(&canonical).expect("valid");
        let new = affected(&after, &changed, &[], &[]);
        for as_of in [saved_on, d(2026, 8, 10)] {
            let mut digest = InvoiceDigest::new(as_of);
            for (_, batches, _) in first.saved_batches(5).expect("valid") {
                for b in batches {
                    digest.add_saved(&b).expect("valid");
                }
            }
            digest.change(&read, &new, &changed).expect("valid");
            let mut afresh = InvoiceDigest::new(as_of);
            afresh.add(&after);
            assert_eq!(digest.aged(), afresh.aged(), "as of {as_of}");
            assert_eq!(digest.vat, afresh.vat, "as of {as_of}");
            // 1,200 - 100 - 600 + 12,000 - 500; the supplier owed nothing.
            assert_eq!(
                owed(&digest),
                [(ThirdPartyKind::Customer, Some(1), units(12_000))]
            );
            let collected: Vec<_> = digest.vat_rows().iter().map(|r| r.vat).collect();
            assert_eq!(collected, [units(2_100)]);
        }
    }
}
