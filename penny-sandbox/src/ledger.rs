//! The business documents and their ledger entries, rebuilt from the world's key.
//!
//! Every entry balances by construction: an invoice's total including tax is the sum of
//! its lines' amounts before tax plus the VAT per rate, each rounded to the cent once;
//! payments, fees, payroll and depreciation post the same amount on both sides.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::chart::{AC, AN, BQ, OD, VAT_RATES, VE, VatRate};
use crate::names::{PRODUCTS, PURCHASES};
use crate::posting::{AccountRef, Line, general, posting};
use crate::rng::Dice;
use crate::world::{Document, World};

const TAG_SALE: u64 = 1;
const TAG_PURCHASE: u64 = 2;
const TAG_PRODUCT: u64 = 3;
const TAG_SUPPLIER: u64 = 4;
const TAG_FEE: u64 = 5;
const TAG_MISC: u64 = 6;
const TAG_OPENING: u64 = 7;
pub(crate) const TAG_CUSTOMER: u64 = 8;

/// Number of products in the catalogue.
pub(crate) const PRODUCT_COUNT: usize = 40;

/// Rounds to the cent, half away from zero.
pub(crate) fn cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A product of the catalogue.
#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub label: &'static str,
    pub unit: &'static str,
    pub vat: usize,
    pub account: &'static str,
    pub price: Decimal,
}

/// Product `p` (`p < PRODUCT_COUNT`).
pub(crate) fn product(w: &World, p: usize) -> Product {
    let (label, unit, vat, service, typical) = PRODUCTS[p % PRODUCTS.len()];
    let mut dice = Dice::new(w.key, TAG_PRODUCT, p as u64);
    let cents_price = typical * dice.range(80, 120) / 100;
    Product {
        label,
        unit,
        vat,
        account: if label == "Frais de port" {
            "708500"
        } else if service {
            "706000"
        } else {
            "707000"
        },
        price: Decimal::new(cents_price as i64, 2),
    }
}

/// A supplier's trade: what it sells and on which expense account.
pub(crate) fn supplier_trade(w: &World, s: usize) -> usize {
    Dice::new(w.key, TAG_SUPPLIER, s as u64).below(PURCHASES.len() as u64) as usize
}

/// A line of an invoice.
#[derive(Debug, Clone)]
pub(crate) struct InvoiceLine {
    pub label: &'static str,
    pub product: Option<usize>,
    pub unit: &'static str,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount_before_tax: Decimal,
    pub tax: Decimal,
    pub vat: usize,
    pub account: &'static str,
}

/// A customer or supplier invoice.
#[derive(Debug, Clone)]
pub(crate) struct Invoice {
    /// Customer or supplier index.
    pub third: usize,
    pub lines: Vec<InvoiceLine>,
    pub amount_before_tax: Decimal,
    pub tax: Decimal,
    pub amount: Decimal,
    /// VAT per rate index, in rate order, only rates present.
    pub tax_by_rate: Vec<(usize, Decimal)>,
    /// For a credit note, the invoice it credits.
    pub credits: Option<usize>,
}

fn totals(third: usize, lines: Vec<InvoiceLine>, credits: Option<usize>) -> Invoice {
    let mut tax_by_rate: Vec<(usize, Decimal)> = Vec::new();
    for rate in 0..VAT_RATES.len() {
        let sum: Decimal = lines.iter().filter(|l| l.vat == rate).map(|l| l.tax).sum();
        if lines.iter().any(|l| l.vat == rate) {
            tax_by_rate.push((rate, sum));
        }
    }
    let amount_before_tax: Decimal = lines.iter().map(|l| l.amount_before_tax).sum();
    let tax: Decimal = lines.iter().map(|l| l.tax).sum();
    Invoice {
        third,
        lines,
        amount_before_tax,
        tax,
        amount: amount_before_tax + tax,
        tax_by_rate,
        credits,
    }
}

fn invoice_line(
    label: &'static str,
    product: Option<usize>,
    unit: &'static str,
    quantity: Decimal,
    unit_price: Decimal,
    vat: usize,
    account: &'static str,
) -> InvoiceLine {
    let amount_before_tax = cents(quantity * unit_price);
    InvoiceLine {
        label,
        product,
        unit,
        quantity,
        unit_price,
        amount_before_tax,
        tax: cents(amount_before_tax * VAT_RATES[vat].rate()),
        vat,
        account,
    }
}

/// Customer invoice `k`. A credit note repeats the invoice it credits with negative
/// quantities (so negative amounts).
pub(crate) fn sale(w: &World, k: usize) -> Invoice {
    if w.is_credit_note(k) {
        let credited = sale(w, k - 2);
        let lines = credited
            .lines
            .iter()
            .map(|l| {
                invoice_line(
                    l.label,
                    l.product,
                    l.unit,
                    -l.quantity,
                    l.unit_price,
                    l.vat,
                    l.account,
                )
            })
            .collect();
        return totals(credited.third, lines, Some(k - 2));
    }
    let mut dice = Dice::new(w.key, TAG_SALE, k as u64);
    let customer = dice.below(w.customers as u64) as usize;
    let n = dice.range(1, 4) as usize;
    let lines = (0..n)
        .map(|_| {
            let p = dice.below(PRODUCT_COUNT as u64) as usize;
            let prod = product(w, p);
            let quantity = if prod.unit == "hour" {
                Decimal::new(dice.range(1, 40) as i64 * 5, 1)
            } else {
                Decimal::from(dice.range(1, 12))
            };
            invoice_line(
                prod.label,
                Some(p),
                prod.unit,
                quantity,
                prod.price,
                prod.vat,
                prod.account,
            )
        })
        .collect();
    totals(customer, lines, None)
}

/// Supplier invoice `k`.
pub(crate) fn purchase(w: &World, k: usize) -> Invoice {
    let mut dice = Dice::new(w.key, TAG_PURCHASE, k as u64);
    let supplier = dice.below(w.suppliers as u64) as usize;
    let (label, account, vat) = PURCHASES[supplier_trade(w, supplier)];
    let n = dice.range(1, 3) as usize;
    let lines = (0..n)
        .map(|_| {
            // Mostly the supplier's rate; sometimes a line at 20 % (delivery, fees).
            let rate = if dice.chance(80) { vat } else { 0 };
            let price = Decimal::new(dice.range(1_500, 250_000) as i64, 2);
            invoice_line(label, None, "piece", Decimal::ONE, price, rate, account)
        })
        .collect();
    totals(supplier, lines, None)
}

/// A ledger entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub document: Document,
    pub journal: usize,
    pub label: String,
    pub piece_number: String,
    pub invoice_number: Option<String>,
    pub lines: Vec<Line>,
}

/// The lines of an invoice's entry: its total on the `third` party's account, on the
/// debit side when `third_debit` (a sale), and on the other side each line's amount
/// before tax on its account and each rate's VAT on `vat_account` of that rate.
fn invoice_postings(
    inv: &Invoice,
    third: AccountRef,
    vat_account: fn(&VatRate) -> &'static str,
    third_debit: bool,
) -> Vec<Line> {
    let mut lines = vec![posting(third, inv.amount, third_debit)];
    lines.extend(
        inv.lines
            .iter()
            .map(|l| posting(general(l.account), l.amount_before_tax, !third_debit)),
    );
    lines.extend(
        inv.tax_by_rate
            .iter()
            .map(|(r, t)| posting(general(vat_account(&VAT_RATES[*r])), *t, !third_debit)),
    );
    lines
}

/// The bank ledger account of transaction `t` (two bank accounts, alternating).
pub(crate) fn bank_of_transaction(t: usize) -> usize {
    usize::from(t % 5 == 4)
}

fn bank_account_ref(t: usize) -> AccountRef {
    general(if bank_of_transaction(t) == 0 {
        "512001"
    } else {
        "512002"
    })
}

/// The invoice number of customer invoice `k`.
pub(crate) fn sale_number(w: &World, k: usize) -> String {
    let year = w.entry_date(w.sale_entry(k)).format("%Y");
    if w.is_credit_note(k) {
        format!("AV-{year}-{:06}", k + 1)
    } else {
        format!("F-{year}-{:06}", k + 1)
    }
}

/// The supplier's invoice number of supplier invoice `k`.
pub(crate) fn purchase_number(w: &World, k: usize) -> String {
    format!(
        "FA{:08}",
        Dice::new(w.key, TAG_PURCHASE, k as u64 ^ 0xFFFF).below(100_000_000)
    )
}

/// The amount of bank fees of cycle `c`.
pub(crate) fn bank_fee(w: &World, c: usize) -> Decimal {
    Decimal::new(
        Dice::new(w.key, TAG_FEE, c as u64).range(300, 4_500) as i64,
        2,
    )
}

impl World {
    /// The number of lines of entry `e`, without building it.
    pub(crate) fn line_count(&self, e: usize) -> usize {
        match self.document(e) {
            Document::YearOpening(n) => self.opening_lines(n).len(),
            document => self.document_line_count(document),
        }
    }

    /// The number of lines of cycle entry `r`.
    pub(crate) fn regular_line_count(&self, r: usize) -> usize {
        self.document_line_count(World::regular_document(r))
    }

    fn document_line_count(&self, document: Document) -> usize {
        match document {
            Document::Opening => 6,
            Document::YearOpening(_) => 0,
            Document::Sale(k) => {
                let inv = sale(self, k);
                1 + inv.lines.len() + inv.tax_by_rate.len()
            }
            Document::Purchase(k) => {
                let inv = purchase(self, k);
                1 + inv.lines.len() + inv.tax_by_rate.len()
            }
            Document::Miscellaneous { cycle } if cycle % 3 != 2 => 4,
            _ => 2,
        }
    }
}

/// Ledger entry `e`.
pub(crate) fn entry(w: &World, e: usize) -> Entry {
    let document = w.document(e);
    let piece_number = format!("{:06}", e + 1);
    let (journal, label, invoice_number) = match document {
        Document::YearOpening(_) => (
            AN,
            format!("À nouveaux {}", w.entry_date(e).format("%Y")),
            None,
        ),
        Document::Opening => (AN, "Reprise des soldes à nouveau".to_owned(), None),
        Document::Sale(k) => {
            let number = sale_number(w, k);
            (VE, format!("Facture {number}"), Some(number))
        }
        Document::Purchase(k) => {
            let number = purchase_number(w, k);
            (AC, format!("Facture fournisseur {number}"), Some(number))
        }
        Document::CustomerPayment { sale: k, .. } => {
            (BQ, format!("Règlement {}", sale_number(w, k)), None)
        }
        Document::SupplierPayment { purchase: k, .. } => {
            (BQ, format!("Paiement {}", purchase_number(w, k)), None)
        }
        Document::BankFee { .. } => (BQ, "Frais bancaires".to_owned(), None),
        Document::Miscellaneous { cycle } if cycle % 3 != 2 => (OD, "Salaires".to_owned(), None),
        Document::Miscellaneous { .. } => (OD, "Dotation aux amortissements".to_owned(), None),
    };
    Entry {
        document,
        journal,
        label,
        piece_number,
        invoice_number,
        lines: postings(w, e),
    }
}

/// The lines of ledger entry `e` (without building its labels).
pub(crate) fn postings(w: &World, e: usize) -> Vec<Line> {
    match w.document(e) {
        Document::YearOpening(n) => w.opening_lines(n).to_vec(),
        Document::Opening => {
            let mut dice = Dice::new(w.key, TAG_OPENING, 0);
            let bank1 = Decimal::new(dice.range(2_000_000, 9_000_000) as i64, 2);
            let bank2 = Decimal::new(dice.range(500_000, 3_000_000) as i64, 2);
            let equipment = Decimal::new(dice.range(1_000_000, 4_000_000) as i64, 2);
            let capital = Decimal::new(1_000_000, 2);
            let loan = Decimal::new(dice.range(500_000, 1_500_000) as i64, 2);
            let reserves = bank1 + bank2 + equipment - capital - loan;
            vec![
                posting(general("512001"), bank1, true),
                posting(general("512002"), bank2, true),
                posting(general("218300"), equipment, true),
                posting(general("101000"), capital, false),
                posting(general("164000"), loan, false),
                posting(general("106000"), reserves, false),
            ]
        }
        Document::Sale(k) => {
            let inv = sale(w, k);
            invoice_postings(
                &inv,
                AccountRef::Customer(inv.third),
                |rate| rate.collected,
                true,
            )
        }
        Document::Purchase(k) => {
            let inv = purchase(w, k);
            invoice_postings(
                &inv,
                AccountRef::Supplier(inv.third),
                |rate| rate.deductible,
                false,
            )
        }
        Document::CustomerPayment {
            sale: k,
            transaction,
        } => {
            let inv = sale(w, k);
            vec![
                posting(bank_account_ref(transaction), inv.amount, true),
                posting(AccountRef::Customer(inv.third), inv.amount, false),
            ]
        }
        Document::SupplierPayment {
            purchase: k,
            transaction,
        } => {
            let inv = purchase(w, k);
            vec![
                posting(AccountRef::Supplier(inv.third), inv.amount, true),
                posting(bank_account_ref(transaction), inv.amount, false),
            ]
        }
        Document::BankFee { cycle, transaction } => {
            let fee = bank_fee(w, cycle);
            vec![
                posting(general("627000"), fee, true),
                posting(bank_account_ref(transaction), fee, false),
            ]
        }
        Document::Miscellaneous { cycle } if cycle % 3 != 2 => {
            let mut dice = Dice::new(w.key, TAG_MISC, cycle as u64);
            let gross = Decimal::new(dice.range(180_000, 900_000) as i64, 2);
            let employer = cents(gross * Decimal::new(42, 2));
            let employee = cents(gross * Decimal::new(22, 2));
            vec![
                posting(general("641000"), gross, true),
                posting(general("645000"), employer, true),
                posting(general("421000"), gross - employee, false),
                posting(general("431000"), employee + employer, false),
            ]
        }
        Document::Miscellaneous { cycle } => {
            let amount = Decimal::new(
                Dice::new(w.key, TAG_MISC, cycle as u64).range(5_000, 60_000) as i64,
                2,
            );
            vec![
                posting(general("681100"), amount, true),
                posting(general("281830"), amount, false),
            ]
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    /// A world laid out with `regular` cycle entries (its opening entries without lines).
    fn laid_out(regular: usize) -> World {
        let clock = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
        let mut w = World::blank(7, 1, 3_000, clock, "http://x".into());
        w.lay_out(regular);
        w
    }

    #[test]
    fn every_entry_balances_and_line_counts_match() {
        let w = laid_out(1_000);
        for e in 0..w.entries {
            let entry = entry(&w, e);
            let debit: Decimal = entry.lines.iter().map(|l| l.debit).sum();
            let credit: Decimal = entry.lines.iter().map(|l| l.credit).sum();
            assert_eq!(debit, credit, "entry {e} {:?}", entry.document);
            assert_eq!(entry.lines.len(), w.line_count(e));
            assert!(
                entry
                    .lines
                    .iter()
                    .all(|l| l.debit >= Decimal::ZERO && l.credit >= Decimal::ZERO)
            );
        }
    }

    #[test]
    fn a_credit_note_negates_the_invoice_it_credits() {
        let w = laid_out(1_000);
        let k = 7 * 3 + 2;
        assert!(w.is_credit_note(k));
        let (note, original) = (sale(&w, k), sale(&w, k - 2));
        assert_eq!(note.amount, -original.amount);
        assert_eq!(note.credits, Some(k - 2));
    }
}
