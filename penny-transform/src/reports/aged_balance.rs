//! Aged receivables and payables (balance âgée) as of a date.
//!
//! Open amounts are spread into buckets by days past due (`as_of - due date`): "not due"
//! when the due date is after `as_of`, then one bucket per bound (default 0-30, 31-60,
//! 61-90) and a last one beyond the largest bound (> 90). The buckets of a row always add
//! up to its total open amount.
//!
//! Two ways to find the open amounts:
//! - [`from_invoices`]: invoices (accounting documents only: drafts, proformas, quotes
//!   and orders are left out, credit notes count with their negative amounts, see
//!   [`InvoiceDocument`](crate::canonical::InvoiceDocument)) dated on or before `as_of`; the open amount is the
//!   amount with tax minus the payments dated on or before `as_of` when payments are
//!   given (API door), else the invoice's `remaining` amount as of the sync (Data
//!   Sharing has no payments table). Due date: the invoice's, else its date; a credit
//!   note's is that of the invoice it credits (an amount taken off that invoice), else
//!   its own.
//!   Rows per (company, kind, third party). [`InvoiceAgeing`] does the same from a
//!   stream of amounts (invoice totals, payments), holding one row per third party.
//! - [`from_lettering`]: the ledger lines on customer (41) and supplier (40) accounts
//!   dated on or before `as_of` that are not lettered. Lettering is as of the sync (the
//!   doors give no lettering date), so this is exact for `as_of` = today. Customers'
//!   open amount is debit minus credit, suppliers' credit minus debit. Due date: the
//!   line's, else its date. Rows per (company, kind, account). Memory: one accumulator
//!   per account.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{AccountIndex, FastMap, Sum};
use crate::canonical::{Invoice, InvoicePayment, LedgerLine, ThirdPartyKind};

/// Bucket bounds in days past due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    /// Increasing upper bounds (inclusive) of the overdue buckets; default `[30, 60, 90]`.
    pub bounds: Vec<u32>,
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets {
            bounds: vec![30, 60, 90],
        }
    }
}

impl Buckets {
    /// Number of buckets: not due, one per bound, and beyond the last bound.
    pub fn len(&self) -> usize {
        self.bounds.len() + 2
    }

    /// Always false: there is at least "not due" and "overdue".
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Labels: `not_due`, `0-30`, `31-60`, `61-90`, `>90`.
    pub fn labels(&self) -> Vec<String> {
        let mut out = vec!["not_due".to_owned()];
        let mut low = 0;
        for &b in &self.bounds {
            out.push(format!("{low}-{b}"));
            low = b + 1;
        }
        out.push(match self.bounds.last() {
            Some(last) => format!(">{last}"),
            None => ">=0".to_owned(),
        });
        out
    }

    /// The bucket of an amount due on `due` seen on `as_of`.
    pub fn index(&self, due: NaiveDate, as_of: NaiveDate) -> usize {
        let days = (as_of - due).num_days();
        if days < 0 {
            return 0;
        }
        for (i, &b) in self.bounds.iter().enumerate() {
            if days <= i64::from(b) {
                return i + 1;
            }
        }
        self.bounds.len() + 1
    }
}

/// One third party (or account) of an aged balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgedRow {
    /// The company.
    pub company_id: i64,
    /// Receivable (customer) or payable (supplier).
    pub kind: ThirdPartyKind,
    /// The customer or supplier ([`from_invoices`]).
    pub third_party_id: Option<i64>,
    /// The account ([`from_lettering`]).
    pub account_number: Option<String>,
    /// Open amount per bucket, in [`Buckets::labels`] order.
    pub buckets: Vec<Decimal>,
    /// Total open amount (the sum of the buckets).
    pub total: Decimal,
}

/// An aged balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgedBalance {
    /// The date the ages are computed at.
    pub as_of: NaiveDate,
    /// Bucket labels.
    pub labels: Vec<String>,
    /// Rows sorted by company, kind, third party or account.
    pub rows: Vec<AgedRow>,
}

impl AgedBalance {
    /// Totals per bucket over all rows of `kind`.
    pub fn bucket_totals(&self, kind: ThirdPartyKind) -> Vec<Decimal> {
        let mut out = vec![Decimal::ZERO; self.labels.len()];
        for r in self.rows.iter().filter(|r| r.kind == kind) {
            for (o, b) in out.iter_mut().zip(&r.buckets) {
                *o += *b;
            }
        }
        out
    }
}

type Group = (i64, ThirdPartyKind, Option<i64>, Option<String>);

fn finish(
    as_of: NaiveDate,
    buckets: &Buckets,
    groups: FastMap<Group, Vec<Decimal>>,
) -> AgedBalance {
    let mut rows: Vec<AgedRow> = groups
        .into_iter()
        .filter(|(_, b)| b.iter().any(|x| !x.is_zero()))
        .map(
            |((company_id, kind, third_party_id, account_number), b)| AgedRow {
                company_id,
                kind,
                third_party_id,
                account_number,
                total: b.iter().copied().sum(),
                buckets: b,
            },
        )
        .collect();
    rows.sort_by(|a, b| {
        (a.company_id, a.kind, a.third_party_id, &a.account_number).cmp(&(
            b.company_id,
            b.kind,
            b.third_party_id,
            &b.account_number,
        ))
    });
    AgedBalance {
        as_of,
        labels: buckets.labels(),
        rows,
    }
}

/// Aged balance from invoices (and their payments, when `payments` is given). Only
/// accounting documents count ([`Invoice::counts`]): a draft or a quote owes nothing,
/// and neither do its payments.
pub fn from_invoices(
    invoices: &[Invoice],
    payments: Option<&[InvoicePayment]>,
    as_of: NaiveDate,
    buckets: &Buckets,
) -> AgedBalance {
    let mut paid: FastMap<(i64, ThirdPartyKind, i64), Decimal> = FastMap::default();
    if let Some(payments) = payments {
        for p in payments.iter().filter(|p| p.date <= as_of) {
            *paid
                .entry((p.company_id, p.kind, p.invoice_id))
                .or_default() += p.amount;
        }
    }
    // A credit note is aged on the due date of the invoice it credits.
    let dues: FastMap<(i64, ThirdPartyKind, i64), NaiveDate> = invoices
        .iter()
        .filter(|i| i.counts())
        .map(|i| ((i.company_id, i.kind, i.id), i.due()))
        .collect();
    let mut ageing = InvoiceAgeing::new(as_of, buckets.clone());
    for inv in invoices.iter().filter(|i| i.counts()) {
        let due = inv
            .credits()
            .and_then(|c| dues.get(&(inv.company_id, inv.kind, c)).copied())
            .unwrap_or(inv.due());
        let open = match payments {
            Some(_) => {
                inv.amount_ttc
                    - paid
                        .get(&(inv.company_id, inv.kind, inv.id))
                        .copied()
                        .unwrap_or_default()
            }
            None => inv.remaining,
        };
        ageing.add(
            (inv.company_id, inv.kind, inv.third_party_id),
            inv.date,
            Some(due),
            open,
        );
    }
    ageing.finish()
}

/// Accumulates what invoices owe into an aged balance, one amount at a time: an
/// invoice's total, a payment's amount taken away (negative), or an open amount.
///
/// The aged balance is linear in those amounts (each lands in its third party's bucket
/// of the invoice's due date), so a stream of invoices and payments can be aged without
/// holding the invoices: memory is one row of buckets per third party.
#[derive(Debug, Clone)]
pub struct InvoiceAgeing {
    as_of: NaiveDate,
    buckets: Buckets,
    groups: FastMap<Group, Vec<Decimal>>,
}

impl InvoiceAgeing {
    /// An empty aged balance as of `as_of`.
    pub fn new(as_of: NaiveDate, buckets: Buckets) -> Self {
        InvoiceAgeing {
            as_of,
            buckets,
            groups: FastMap::default(),
        }
    }

    /// Adds `amount` owed on an invoice of `(company, kind, third party)` dated `date`
    /// and due `due_date` (else its date). Invoices dated after `as_of` are left out;
    /// leaving out payments dated after it is the caller's part.
    pub fn add(
        &mut self,
        (company_id, kind, third_party_id): (i64, ThirdPartyKind, Option<i64>),
        date: NaiveDate,
        due_date: Option<NaiveDate>,
        amount: Decimal,
    ) {
        if date > self.as_of || amount.is_zero() {
            return;
        }
        let due = due_date.unwrap_or(date);
        let row = self
            .groups
            .entry((company_id, kind, third_party_id, None))
            .or_insert_with(|| vec![Decimal::ZERO; self.buckets.len()]);
        row[self.buckets.index(due, self.as_of)] += amount;
    }

    /// The aged balance (rows whose buckets are all zero left out).
    pub fn finish(self) -> AgedBalance {
        finish(self.as_of, &self.buckets, self.groups)
    }
}

/// A third party's group in an aged balance from invoices: company, kind, third party.
pub type OpenGroup = (i64, ThirdPartyKind, Option<i64>);

/// A key of [`OpenAmounts`]: the group, the due date, the first day the amount counts.
pub type OpenKey = (i64, ThirdPartyKind, Option<i64>, NaiveDate, NaiveDate);

/// Amounts owed on invoices (totals, payments taken away), kept per third party, due
/// date and first day they count, so that they can be aged on their day or on any
/// later one, and changed by the amounts of records that changed (subtract an old
/// version, add its new one).
///
/// [`InvoiceAgeing`] buckets each amount as it comes; this keeps the dates a bucket
/// depends on, made coarse where later days cannot tell them apart, as of its day
/// `as_of`: an amount that counts on or before `as_of` counts on every later day (its
/// first day is kept as `as_of`), and a due date past the last bucket bound at `as_of`
/// stays past it (kept as the bound's day). What it holds therefore grows with the
/// third parties and the due dates of the last bucket span and the future, not with
/// the invoices; amounts that net to zero are dropped.
///
/// Read back on a later day, the amounts are added to an `OpenAmounts` of that day;
/// on an earlier day they cannot be (see [`OpenAmounts::add`]).
#[derive(Debug, Clone)]
pub struct OpenAmounts {
    as_of: NaiveDate,
    buckets: Buckets,
    /// The latest due date that lands in the last bucket at `as_of`.
    past_due: NaiveDate,
    amounts: FastMap<OpenKey, Decimal>,
}

impl OpenAmounts {
    /// No amounts, aged as of `as_of`.
    pub fn new(as_of: NaiveDate, buckets: Buckets) -> Self {
        // The last bucket holds the amounts due more than the last bound days ago
        // (without bounds: due on or before `as_of`).
        let past_due = match buckets.bounds.last() {
            Some(&last) => as_of - chrono::Duration::days(i64::from(last) + 1),
            None => as_of,
        };
        OpenAmounts {
            as_of,
            buckets,
            past_due,
            amounts: FastMap::default(),
        }
    }

    /// The day the amounts are aged on.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    /// Adds `amount` owed to or by `group`, due on `due` and counting from `from`: an
    /// invoice's total counts from its date, a payment (a negative amount) from the
    /// later of its date and its invoice's. `from` and `due` are kept as coarse as
    /// `as_of` allows, which is why amounts kept as of a day must not be added to an
    /// `OpenAmounts` of an earlier day. Returns the key the amount was added to (none
    /// for a zero amount).
    pub fn add(
        &mut self,
        group: OpenGroup,
        from: NaiveDate,
        due: NaiveDate,
        amount: Decimal,
    ) -> Option<OpenKey> {
        if amount.is_zero() {
            return None;
        }
        let key = (
            group.0,
            group.1,
            group.2,
            due.max(self.past_due),
            from.max(self.as_of),
        );
        let sum = self.amounts.entry(key).or_default();
        *sum += amount;
        if sum.is_zero() {
            self.amounts.remove(&key);
        }
        Some(key)
    }

    /// The amount kept at `key`, if any.
    pub fn get(&self, key: &OpenKey) -> Option<Decimal> {
        self.amounts.get(key).copied()
    }

    /// How many amounts are kept.
    pub fn len(&self) -> usize {
        self.amounts.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.amounts.is_empty()
    }

    /// The amounts kept, by key (in no order).
    pub fn iter(&self) -> impl Iterator<Item = (&OpenKey, &Decimal)> + '_ {
        self.amounts.iter()
    }

    /// The aged balance as of [`as_of`](Self::as_of): the amounts that count by then,
    /// per group, in the bucket of their due date.
    pub fn age(&self) -> AgedBalance {
        let mut ageing = InvoiceAgeing::new(self.as_of, self.buckets.clone());
        for (&(company, kind, third_party, due, from), amount) in &self.amounts {
            ageing.add((company, kind, third_party), from, Some(due), *amount);
        }
        ageing.finish()
    }
}

/// Accumulates unlettered lines on third-party accounts into an aged balance.
///
/// Memory: per (company, account), its kind and one sum per bucket.
#[derive(Debug)]
pub struct LetteringAgeing {
    as_of: NaiveDate,
    buckets: Buckets,
    accounts: AccountIndex,
    kinds: Vec<Option<ThirdPartyKind>>,
    sums: Vec<Sum>,
}

impl LetteringAgeing {
    /// An empty aged balance.
    pub fn new(as_of: NaiveDate, buckets: Buckets) -> Self {
        LetteringAgeing {
            as_of,
            buckets,
            accounts: AccountIndex::default(),
            kinds: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// Adds one line (ignored unless it is an open item on a 40 or 41 account).
    #[inline]
    pub fn add(&mut self, line: &LedgerLine) {
        if line.date > self.as_of || line.lettering.is_some() {
            return;
        }
        let n = self.buckets.len();
        let (i, new) = self.accounts.index(line.company_id, &line.account_number);
        if new {
            let a = &*line.account_number;
            self.kinds.push(if a.starts_with("41") {
                Some(ThirdPartyKind::Customer)
            } else if a.starts_with("40") {
                Some(ThirdPartyKind::Supplier)
            } else {
                None
            });
            self.sums.resize(self.sums.len() + n, Sum::default());
        }
        let Some(kind) = self.kinds[i] else {
            return;
        };
        let bucket = self
            .buckets
            .index(line.due_date.unwrap_or(line.date), self.as_of);
        let sum = &mut self.sums[i * n + bucket];
        match kind {
            ThirdPartyKind::Customer => {
                sum.add(line.debit);
                sum.sub(line.credit);
            }
            ThirdPartyKind::Supplier => {
                sum.add(line.credit);
                sum.sub(line.debit);
            }
        }
    }

    /// The aged balance.
    pub fn finish(self) -> AgedBalance {
        let n = self.buckets.len();
        let mut groups: FastMap<Group, Vec<Decimal>> = FastMap::default();
        for (i, (company_id, account)) in self.accounts.keys().iter().enumerate() {
            if let Some(kind) = self.kinds[i] {
                let values = self.sums[i * n..(i + 1) * n]
                    .iter()
                    .map(Sum::value)
                    .collect();
                groups.insert((*company_id, kind, None, Some(account.clone())), values);
            }
        }
        finish(self.as_of, &self.buckets, groups)
    }
}

/// Aged balance from unlettered ledger lines (see the module docs).
pub fn from_lettering<'a>(
    lines: impl IntoIterator<Item = &'a LedgerLine>,
    as_of: NaiveDate,
    buckets: &Buckets,
) -> AgedBalance {
    let mut ageing = LetteringAgeing::new(as_of, buckets.clone());
    for line in lines {
        ageing.add(line);
    }
    ageing.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ageing_a_stream_of_totals_and_payments_equals_ageing_open_amounts() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("date");
        let as_of = d(6, 30);
        let customer = |tp| (1, ThirdPartyKind::Customer, tp);
        // (third party, date, due, total, payments up to as_of)
        let invoices = [
            (Some(7), d(1, 10), Some(d(2, 10)), 1200, 1200), // paid: gone
            (Some(7), d(5, 2), Some(d(6, 1)), 500, 200),     // 29 days past due
            (Some(8), d(6, 20), None, 300, 0),               // due on its date: 10 days
            (None, d(3, 1), Some(d(8, 1)), 100, 0),          // not due
            (Some(8), d(7, 5), Some(d(8, 5)), 999, 0),       // dated after as_of
        ];
        let mut streamed = InvoiceAgeing::new(as_of, Buckets::default());
        let mut netted = InvoiceAgeing::new(as_of, Buckets::default());
        for (tp, date, due, total, paid) in invoices {
            streamed.add(customer(tp), date, due, Decimal::new(total, 2));
            streamed.add(customer(tp), date, due, -Decimal::new(paid, 2));
            netted.add(customer(tp), date, due, Decimal::new(total - paid, 2));
        }
        let (streamed, netted) = (streamed.finish(), netted.finish());
        assert_eq!(streamed, netted);
        let rows: Vec<(Option<i64>, Vec<Decimal>)> = streamed
            .rows
            .iter()
            .map(|r| (r.third_party_id, r.buckets.clone()))
            .collect();
        let m = |cents| Decimal::new(cents, 2);
        let z = Decimal::ZERO;
        assert_eq!(
            rows,
            vec![
                (None, vec![m(100), z, z, z, z]),
                (Some(7), vec![z, m(300), z, z, z]),
                (Some(8), vec![z, m(300), z, z, z]),
            ]
        );
    }

    /// A small deterministic generator (xorshift) for the tests' data.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % u64::from(n)) as u32
        }
    }

    #[test]
    fn open_amounts_aged_on_their_day_or_read_back_later_equal_ageing_afresh() {
        // Invoices and payments over 2025-2026, some dated in the future; each amount
        // counts from its own date (a payment from the later of its and its invoice's).
        let mut rng = Rng(7);
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
        let day =
            |rng: &mut Rng, span: u32| start + chrono::Duration::days(i64::from(rng.below(span)));
        let mut amounts = Vec::new();
        for id in 0..400 {
            let group = (
                1 + i64::from(rng.below(2)),
                if rng.below(2) == 0 {
                    ThirdPartyKind::Customer
                } else {
                    ThirdPartyKind::Supplier
                },
                Some(i64::from(rng.below(12))).filter(|_| id % 17 != 0),
            );
            let date = day(&mut rng, 700);
            let due = date + chrono::Duration::days(i64::from(rng.below(90)));
            let total = Decimal::new(i64::from(rng.below(100_000)), 2);
            amounts.push((group, date, due, total));
            if rng.below(3) > 0 {
                let paid = day(&mut rng, 700).max(date);
                amounts.push((group, paid, due, -total));
            }
        }
        let afresh = |as_of: NaiveDate| {
            let mut ageing = InvoiceAgeing::new(as_of, Buckets::default());
            for &(group, from, due, amount) in &amounts {
                ageing.add(group, from, Some(due), amount);
            }
            ageing.finish()
        };
        let first = start + chrono::Duration::days(400);
        let mut open = OpenAmounts::new(first, Buckets::default());
        for &(group, from, due, amount) in &amounts {
            open.add(group, from, due, amount);
        }
        assert_eq!(open.age(), afresh(first));
        assert!(
            open.len() < amounts.len() / 2,
            "{} amounts kept of {}",
            open.len(),
            amounts.len()
        );
        // Read back on later days, as a saved table would be.
        for later in [1, 30, 200] {
            let as_of = first + chrono::Duration::days(later);
            let mut again = OpenAmounts::new(as_of, Buckets::default());
            for (&(c, k, tp, due, from), amount) in open.iter() {
                again.add((c, k, tp), from, due, *amount);
            }
            assert_eq!(again.age(), afresh(as_of), "{later} days later");
        }
        // Taking an amount away leaves what adding the others gives.
        let (group, from, due, amount) = amounts[3];
        open.add(group, from, due, -amount);
        let mut without = OpenAmounts::new(first, Buckets::default());
        for (i, &(group, from, due, amount)) in amounts.iter().enumerate() {
            if i != 3 {
                without.add(group, from, due, amount);
            }
        }
        assert_eq!(open.age(), without.age());
        assert_eq!(open.len(), without.len());
    }

    #[test]
    fn only_invoices_and_credit_notes_are_owed() {
        let books = crate::testing::books_with_every_document();
        let as_of = NaiveDate::from_ymd_opt(2026, 7, 31).expect("date");
        let totals = |aged: &AgedBalance| -> Vec<(ThirdPartyKind, Option<i64>, Decimal)> {
            aged.rows
                .iter()
                .map(|r| (r.kind, r.third_party_id, r.total))
                .collect()
        };
        let m = |units: i64| Decimal::new(units * 100, 2);
        // With payments: 1,200 - 100 paid - 600 credited; the draft's 12,000 and its
        // payment, the proforma, quote and orders owe nothing.
        let paid = from_invoices(
            &books.invoices,
            Some(&books.payments),
            as_of,
            &Buckets::default(),
        );
        assert_eq!(
            totals(&paid),
            [
                (ThirdPartyKind::Customer, Some(1), m(500)),
                (ThirdPartyKind::Supplier, Some(2), m(360)),
            ]
        );
        // The credit note is not yet due on its own, but it is taken off the invoice it
        // credits, in that invoice's bucket: nothing negative in `not_due`.
        let customer = &paid.rows[0];
        assert_eq!(customer.buckets[0], Decimal::ZERO);
        assert_eq!(customer.buckets[1], m(500));
        // From the remaining amounts: 1,200 - 600.
        let remaining = from_invoices(&books.invoices, None, as_of, &Buckets::default());
        assert_eq!(
            totals(&remaining),
            [
                (ThirdPartyKind::Customer, Some(1), m(600)),
                (ThirdPartyKind::Supplier, Some(2), m(360)),
            ]
        );
    }

    #[test]
    fn buckets_by_days_past_due() {
        let b = Buckets::default();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("date");
        let as_of = d(3, 31);
        assert_eq!(b.labels(), ["not_due", "0-30", "31-60", "61-90", ">90"]);
        assert_eq!(b.index(d(4, 1), as_of), 0);
        assert_eq!(b.index(d(3, 31), as_of), 1);
        assert_eq!(b.index(d(3, 1), as_of), 1);
        assert_eq!(b.index(d(2, 28), as_of), 2);
        let days_ago = |n: i64| as_of - chrono::Duration::days(n);
        assert_eq!(b.index(days_ago(60), as_of), 2);
        assert_eq!(b.index(days_ago(61), as_of), 3);
        assert_eq!(b.index(days_ago(90), as_of), 3);
        assert_eq!(b.index(days_ago(91), as_of), 4);
    }
}
