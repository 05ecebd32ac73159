//! The JSON of generated records, built on demand by index in the shapes of the real API
//! (amounts as strings, references as `{id, url}`, links to sub-collections).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::chart::{self, GENERAL_ACCOUNTS, JOURNALS, VAT_RATES};
use crate::ledger::{self, Entry, PRODUCT_COUNT, TAG_CUSTOMER};
use crate::names::{self, CATEGORY_GROUPS};
use crate::posting::{AccountRef, Line};
use crate::resource::Resource;
use crate::rng::Dice;
use crate::world::{Document, Unbooked, World};

/// An ISO 8601 timestamp with offset, as the API writes them.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An amount as the API writes it: a string with two decimals.
pub(crate) fn amount(d: Decimal) -> String {
    let mut d = d;
    d.rescale(2);
    d.to_string()
}

fn rescaled(d: Decimal, scale: u32) -> String {
    let mut d = d;
    d.rescale(scale);
    d.to_string()
}

/// The id of generated record `index` of `resource`.
pub(crate) fn id_of(resource: Resource, index: usize) -> i64 {
    resource.id_base() + index as i64 + 1
}

/// The index of generated record `id`, if `id` is in the generated range.
pub(crate) fn index_of(w: &World, resource: Resource, id: i64) -> Option<usize> {
    let index = id - resource.id_base() - 1;
    (index >= 0 && (index as usize) < len(w, resource)).then_some(index as usize)
}

fn reference(w: &World, resource: Resource, index: usize) -> Value {
    let id = id_of(resource, index);
    json!({ "id": id, "url": format!("{}/{}/{}", w.base_url, resource.name(), id) })
}

fn link(w: &World, resource: Resource, index: usize, sub: &str) -> Value {
    json!({ "url": format!("{}/{}/{}/{}", w.base_url, resource.name(), id_of(resource, index), sub) })
}

/// Number of generated records of a top-level resource (sub-collections: 0).
pub(crate) fn len(w: &World, resource: Resource) -> usize {
    match resource {
        Resource::Journals => JOURNALS.len(),
        Resource::LedgerAccounts => GENERAL_ACCOUNTS.len() + w.customers + w.suppliers,
        Resource::FiscalYears => 3,
        Resource::CategoryGroups => CATEGORY_GROUPS.len(),
        Resource::Categories => CATEGORY_GROUPS.iter().map(|(_, c)| c.len()).sum(),
        Resource::BankAccounts => 2,
        Resource::Customers => w.customers,
        Resource::Suppliers => w.suppliers,
        Resource::Products => PRODUCT_COUNT,
        Resource::CustomerInvoices => w.sales() + crate::world::DRAFTS + crate::world::PROFORMAS,
        Resource::SupplierInvoices => w.purchases(),
        Resource::Transactions => w.transactions(),
        Resource::LedgerEntries => w.entries,
        Resource::LedgerEntryLines => w.lines(),
        _ => 0,
    }
}

/// The entry a record of `resource` at `index` belongs to, for dated resources.
fn entry_index(w: &World, resource: Resource, index: usize) -> Option<usize> {
    match resource {
        Resource::CustomerInvoices => Some(w.sale_entry(index)),
        Resource::SupplierInvoices => Some(w.purchase_entry(index)),
        Resource::Transactions => Some(w.transaction_entry(index)),
        Resource::LedgerEntries => Some(index),
        Resource::LedgerEntryLines => Some(w.line_entry(index).0),
        _ => None,
    }
}

/// The `date` of a generated record (non-decreasing with the index).
pub(crate) fn date(w: &World, resource: Resource, index: usize) -> Option<NaiveDate> {
    if let Some(t) = unbooked_time(w, resource, index) {
        return Some(t.date_naive());
    }
    entry_index(w, resource, index).map(|e| w.entry_date(e))
}

/// The time of a customer invoice outside the books (drafts, proformas).
fn unbooked_time(w: &World, resource: Resource, index: usize) -> Option<DateTime<Utc>> {
    if resource != Resource::CustomerInvoices {
        return None;
    }
    w.unbooked(index).map(|(j, _)| w.unbooked_time(j))
}

/// The `created_at` (= `updated_at`) of a generated record (non-decreasing with the index).
pub(crate) fn created_at(w: &World, resource: Resource, index: usize) -> DateTime<Utc> {
    if let Some(t) = unbooked_time(w, resource, index) {
        return t;
    }
    if let Some(e) = entry_index(w, resource, index) {
        return w.entry_time(e);
    }
    w.reference_time(index, len(w, resource))
}

fn times(w: &World, resource: Resource, index: usize) -> (String, String) {
    let t = timestamp(created_at(w, resource, index));
    (t.clone(), t)
}

fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'é' | 'è' | 'ê' | 'É' => Some('E'),
            'ô' => Some('O'),
            'à' => Some('A'),
            'ç' => Some('C'),
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_uppercase()),
            _ => None,
        })
        .take(6)
        .collect()
}

/// A customer's generated identity.
pub(crate) struct Party {
    pub individual: bool,
    pub name: String,
    pub first_name: Option<&'static str>,
    pub last_name: Option<&'static str>,
    pub reg_no: Option<String>,
    pub city: (&'static str, &'static str),
    pub street: String,
}

fn siren(dice: &mut Dice) -> String {
    format!("{:09}", dice.range(300_000_000, 999_999_999))
}

fn vat_number(siren: &str) -> String {
    let n: u64 = siren.parse().unwrap_or(0);
    format!("FR{:02}{siren}", (12 + 3 * (n % 97)) % 97)
}

/// Customer `c`'s identity.
pub(crate) fn customer_party(w: &World, c: usize) -> Party {
    let mut dice = Dice::new(w.key, TAG_CUSTOMER, c as u64);
    let individual = dice.chance(30);
    let first = *dice.pick(names::FIRST_NAMES);
    let last = *dice.pick(names::LAST_NAMES);
    let city = *dice.pick(names::CITIES);
    let street = format!("{} {}", dice.range(1, 120), dice.pick(names::STREETS));
    if individual {
        Party {
            individual,
            name: format!("{first} {last}"),
            first_name: Some(first),
            last_name: Some(last),
            reg_no: None,
            city,
            street,
        }
    } else {
        let trade = dice.pick(names::TRADES);
        let form = dice.pick(names::LEGAL_FORMS);
        Party {
            individual,
            name: format!("{trade} {last} {form}"),
            first_name: None,
            last_name: None,
            reg_no: Some(siren(&mut dice)),
            city,
            street,
        }
    }
}

/// Supplier `s`'s name and SIREN.
pub(crate) fn supplier_party(
    w: &World,
    s: usize,
) -> (String, String, (&'static str, &'static str)) {
    let mut dice = Dice::new(w.key, 0x5009, s as u64);
    let (trade, _, _) = names::PURCHASES[ledger::supplier_trade(w, s)];
    let last = dice.pick(names::LAST_NAMES);
    let city = *dice.pick(names::CITIES);
    (format!("{last} {trade}"), siren(&mut dice), city)
}

/// The ledger accounts table index of an account reference.
pub(crate) fn account_index(w: &World, account: AccountRef) -> usize {
    match account {
        AccountRef::General(i) => i,
        AccountRef::Customer(c) => GENERAL_ACCOUNTS.len() + c,
        AccountRef::Supplier(s) => GENERAL_ACCOUNTS.len() + w.customers + s,
    }
}

/// Number and label of ledger account `i`.
pub(crate) fn account_number_label(w: &World, i: usize) -> (String, String) {
    let g = GENERAL_ACCOUNTS.len();
    if i < g {
        (
            GENERAL_ACCOUNTS[i].0.to_owned(),
            GENERAL_ACCOUNTS[i].1.to_owned(),
        )
    } else if i < g + w.customers {
        let c = i - g;
        let party = customer_party(w, c);
        let key = party
            .last_name
            .map(str::to_owned)
            .unwrap_or_else(|| party.name.clone());
        (
            format!("411{}{}", slug(&key), c + 1),
            format!("Client - {}", party.name),
        )
    } else {
        let s = i - g - w.customers;
        let (name, _, _) = supplier_party(w, s);
        (
            format!("401{}{}", slug(&name), s + 1),
            format!("Fournisseur - {name}"),
        )
    }
}

fn address(street: &str, city: (&str, &str)) -> Value {
    json!({ "address": street, "postal_code": city.1, "city": city.0, "country_alpha2": "FR" })
}

fn category_count() -> usize {
    CATEGORY_GROUPS.iter().map(|(_, c)| c.len()).sum()
}

/// Group index and label of category `i`.
fn category(i: usize) -> (usize, &'static str) {
    let mut rest = i;
    for (g, (_, labels)) in CATEGORY_GROUPS.iter().enumerate() {
        if rest < labels.len() {
            return (g, labels[rest]);
        }
        rest -= labels.len();
    }
    (0, "?")
}

fn allocated(w: &World, i: usize, weight: &str) -> Value {
    let (g, label) = category(i);
    let t = timestamp(created_at(w, Resource::Categories, i));
    json!({
        "id": id_of(Resource::Categories, i),
        "label": label,
        "weight": weight,
        "category_group": { "id": id_of(Resource::CategoryGroups, g) },
        "analytical_code": format!("AN{:02}", i + 1),
        "created_at": t,
        "updated_at": t,
    })
}

/// Analytical allocation of an income/expense line: one category, or a 60/40 split.
fn line_categories(w: &World, line_index: usize) -> Value {
    let mut dice = Dice::new(w.key, 0xCA7, line_index as u64);
    let first = dice.below(CATEGORY_GROUPS[0].1.len() as u64) as usize;
    if dice.chance(25) {
        let second = (first + 1) % CATEGORY_GROUPS[0].1.len();
        json!([allocated(w, first, "0.60"), allocated(w, second, "0.40")])
    } else {
        json!([allocated(w, first, "1.00")])
    }
}

/// Builds records, keeping the last ledger entry built (the lines of a page share it).
#[derive(Default)]
pub(crate) struct RecordMaker {
    last_entry: Option<(usize, Entry)>,
}

impl RecordMaker {
    fn entry(&mut self, w: &World, e: usize) -> &Entry {
        if self.last_entry.as_ref().map(|(i, _)| *i) != Some(e) {
            self.last_entry = Some((e, ledger::entry(w, e)));
        }
        &self.last_entry.as_ref().expect("just set").1
    }

    fn ledger_line(&mut self, w: &World, index: usize) -> LineJson {
        let (e, pos) = w.line_entry(index);
        let view = self.entry(w, e).clone_line_view(pos);
        let (created_at, updated_at) = times(w, Resource::LedgerEntryLines, index);
        ledger_line(w, index, e, pos, &view, created_at, updated_at)
    }

    /// The JSON text of generated record `index` (the same bytes as
    /// `record(...).to_string()`, faster for ledger lines).
    pub(crate) fn record_text(&mut self, w: &World, resource: Resource, index: usize) -> String {
        match resource {
            Resource::LedgerEntryLines => {
                serde_json::to_string(&self.ledger_line(w, index)).unwrap_or_default()
            }
            _ => self.record(w, resource, index).to_string(),
        }
    }

    /// The JSON of generated record `index` of a top-level `resource`.
    pub(crate) fn record(&mut self, w: &World, resource: Resource, index: usize) -> Value {
        let id = id_of(resource, index);
        let (created_at, updated_at) = times(w, resource, index);
        match resource {
            Resource::Journals => {
                let (code, label, kind) = JOURNALS[index];
                json!({ "id": id, "code": code, "label": label, "type": kind })
            }
            Resource::LedgerAccounts => {
                let (number, label) = account_number_label(w, index);
                let letterable = number.starts_with("401") || number.starts_with("411");
                let vat_rate = if index < GENERAL_ACCOUNTS.len() {
                    chart::account_vat_code(&number)
                } else {
                    "any"
                };
                json!({
                    "id": id, "number": number, "label": label, "vat_rate": vat_rate,
                    "country_alpha2": "FR", "enabled": true, "letterable": letterable,
                    "archived_at": null,
                })
            }
            Resource::FiscalYears => {
                let year = w.start.date_naive().format("%Y").to_string();
                let year: i32 = year.parse().unwrap_or(2024) + index as i32;
                json!({
                    "id": id,
                    "start": format!("{year}-01-01"),
                    "finish": format!("{year}-12-31"),
                    "status": if index < 2 { "closed" } else { "open" },
                })
            }
            Resource::CategoryGroups => json!({
                "id": id, "label": CATEGORY_GROUPS[index].0,
                "categories": link(w, resource, index, "categories"),
                "created_at": created_at, "updated_at": updated_at,
            }),
            Resource::Categories => {
                let (g, label) = category(index);
                json!({
                    "id": id, "label": label, "direction": null,
                    "category_group": { "id": id_of(Resource::CategoryGroups, g) },
                    "analytical_code": format!("AN{:02}", index + 1),
                    "created_at": created_at, "updated_at": updated_at, "archived_at": null,
                })
            }
            Resource::BankAccounts => {
                let number = if index == 0 { "512001" } else { "512002" };
                json!({
                    "id": id,
                    "name": if index == 0 { "Compte courant" } else { "Compte épargne" },
                    "currency": "EUR",
                    "bank_establishment": { "id": 1 + index as i64 },
                    "journal": reference(w, Resource::Journals, chart::BQ),
                    "ledger_account": reference(w, Resource::LedgerAccounts, chart::account(number)),
                    "created_at": created_at, "updated_at": updated_at,
                })
            }
            Resource::Customers => customer(w, index, created_at, updated_at),
            Resource::Suppliers => {
                let (name, reg_no, city) = supplier_party(w, index);
                let account = account_index(w, AccountRef::Supplier(index));
                json!({
                    "id": id, "name": name, "establishment_no": format!("{reg_no}00012"),
                    "reg_no": reg_no, "vat_number": vat_number(&reg_no),
                    "ledger_account": reference(w, Resource::LedgerAccounts, account),
                    "emails": [format!("compta@fournisseur{}.fr", index + 1)],
                    "iban": format!("FR76300040000{:014}", id % 100_000_000_000_000),
                    "postal_address": address("1 rue du Commerce", city),
                    "supplier_payment_method": "manual_transfer", "supplier_due_date_delay": 30,
                    "supplier_due_date_rule": "days", "external_reference": format!("SUP-{}", index + 1),
                    "created_at": created_at, "updated_at": updated_at,
                })
            }
            Resource::Products => {
                let p = ledger::product(w, index);
                let rate = &VAT_RATES[p.vat];
                json!({
                    "id": id, "label": p.label, "description": format!("{} ({})", p.label, p.unit),
                    "external_reference": format!("PRD-{}", index + 1),
                    "price_before_tax": amount(p.price),
                    "vat_rate": rate.code,
                    "price": amount(ledger::cents(p.price * (Decimal::ONE + rate.rate()))),
                    "unit": p.unit, "currency": "EUR", "reference": format!("REF{:04}", index + 1),
                    "ledger_account": reference(w, Resource::LedgerAccounts, chart::account(p.account)),
                    "archived_at": null, "created_at": created_at, "updated_at": updated_at,
                })
            }
            Resource::CustomerInvoices => customer_invoice(w, index, created_at, updated_at),
            Resource::SupplierInvoices => supplier_invoice(w, index, created_at, updated_at),
            Resource::Transactions => transaction(w, index, created_at, updated_at),
            Resource::LedgerEntries => {
                let entry = self.entry(w, index).clone();
                ledger_entry(w, index, &entry, created_at, updated_at)
            }
            Resource::LedgerEntryLines => {
                serde_json::to_value(self.ledger_line(w, index)).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        }
    }
}

/// What a ledger line's JSON needs of its entry.
pub(crate) struct LineView {
    journal: usize,
    label: String,
    line: Line,
}

impl Entry {
    fn clone_line_view(&self, pos: usize) -> LineView {
        LineView {
            journal: self.journal,
            label: self.label.clone(),
            line: self.lines[pos].clone(),
        }
    }
}

fn customer(w: &World, c: usize, created_at: String, updated_at: String) -> Value {
    let party = customer_party(w, c);
    let id = id_of(Resource::Customers, c);
    let account = account_index(w, AccountRef::Customer(c));
    let email = format!("{}@exemple.fr", slug(&party.name).to_lowercase());
    let mut record = json!({
        "id": id,
        "customer_type": if party.individual { "individual" } else { "company" },
        "name": party.name,
        "billing_iban": null,
        "payment_conditions": "30_days",
        "recipient": party.name,
        "phone": format!("+33 1 {:02} {:02} {:02} {:02}", c % 97, c % 89, c % 83, c % 79),
        "reference": format!("CLI-{}", c + 1),
        "notes": "",
        "ledger_account": reference(w, Resource::LedgerAccounts, account),
        "emails": [email],
        "billing_address": address(&party.street, party.city),
        "delivery_address": address(&party.street, party.city),
        "external_reference": format!("CUS-{}", c + 1),
        "billing_language": "fr_FR",
        "created_at": created_at,
        "updated_at": updated_at,
    });
    // A company carries its SIREN and VAT number, an individual a first and last name.
    let identity = match (&party.reg_no, party.first_name, party.last_name) {
        (Some(reg_no), _, _) => json!({ "reg_no": reg_no, "vat_number": vat_number(reg_no) }),
        (None, first, last) => json!({ "first_name": first, "last_name": last }),
    };
    if let (Some(record), Value::Object(identity)) = (record.as_object_mut(), identity) {
        record.extend(identity);
    }
    record
}

fn deadline(date: NaiveDate) -> NaiveDate {
    date + chrono::Duration::days(30)
}

/// `record` with the fields customer and supplier invoices share: currency, amounts (in
/// euros, so at rate 1), date and deadline.
fn with_totals(mut record: Value, inv: &ledger::Invoice, date: NaiveDate) -> Value {
    let totals = json!({
        "currency": "EUR",
        "amount": amount(inv.amount),
        "currency_amount": amount(inv.amount),
        "currency_amount_before_tax": amount(inv.amount_before_tax),
        "exchange_rate": "1.0",
        "currency_tax": amount(inv.tax),
        "tax": amount(inv.tax),
        "date": date.to_string(),
        "deadline": deadline(date).to_string(),
    });
    if let (Some(record), Value::Object(totals)) = (record.as_object_mut(), totals) {
        record.extend(totals);
    }
    record
}

fn customer_invoice(w: &World, k: usize, created_at: String, updated_at: String) -> Value {
    let inv = ledger::sale(w, k);
    let unbooked = w.unbooked(k);
    let e = w.sale_entry(k);
    let date = match unbooked {
        Some((j, _)) => w.unbooked_time(j).date_naive(),
        None => w.entry_date(e),
    };
    let paid = w.sale_payment_entry(k).is_some();
    let credit_note = inv.credits.is_some();
    let remaining = if paid { Decimal::ZERO } else { inv.amount };
    let status = match unbooked {
        Some((_, Unbooked::Draft)) => "draft",
        Some((_, Unbooked::Proforma)) => "proforma",
        None if paid => "paid",
        None if credit_note => "credit_note",
        None if deadline(date) < w.end.date_naive() => "late",
        None => "upcoming",
    };
    // Outside the books: no number. The spec requires a `ledger_entry` reference; it
    // names an id no ledger entry has (a GET of it is a 404).
    let (number, ledger_entry) = match unbooked {
        Some((j, _)) => (
            String::new(),
            Resource::LedgerEntries.id_base() + 90_000_000 + j as i64,
        ),
        None => (ledger::sale_number(w, k), id_of(Resource::LedgerEntries, e)),
    };
    let remaining_before_tax = if paid {
        Decimal::ZERO
    } else {
        inv.amount_before_tax
    };
    let record = json!({
        "id": id_of(Resource::CustomerInvoices, k),
        "label": format!("{} - {}", match (unbooked, credit_note) {
            (Some((_, Unbooked::Draft)), _) => "Brouillon",
            (Some((_, Unbooked::Proforma)), _) => "Proforma",
            (None, true) => "Avoir",
            (None, false) => "Facture",
        }, customer_party(w, inv.third).name),
        "invoice_number": number,
        "language": "fr_FR",
        "paid": paid,
        "status": status,
        "draft": status == "draft",
        "discount": { "type": "relative", "value": "0" },
        "ledger_entry": { "id": ledger_entry },
        "public_file_url": null,
        "filename": null,
        "special_mention": null,
        "pdf_invoice_free_text": "",
        "pdf_invoice_subject": "",
        "pdf_description": null,
        "transaction_reference": null,
        "remaining_amount_with_tax": amount(remaining),
        "remaining_amount_without_tax": amount(remaining_before_tax),
        "customer": reference(w, Resource::Customers, inv.third),
        "credited_invoice": inv.credits.map(|c| reference(w, Resource::CustomerInvoices, c)),
        "invoice_lines": link(w, Resource::CustomerInvoices, k, "invoice_lines"),
        "invoice_line_sections": link(w, Resource::CustomerInvoices, k, "invoice_line_sections"),
        "payments": link(w, Resource::CustomerInvoices, k, "payments"),
        "matched_transactions": link(w, Resource::CustomerInvoices, k, "matched_transactions"),
        "categories": link(w, Resource::CustomerInvoices, k, "categories"),
        "appendices": link(w, Resource::CustomerInvoices, k, "appendices"),
        "custom_header_fields": link(w, Resource::CustomerInvoices, k, "custom_header_fields"),
        "billing_subscription": null,
        "quote": null,
        "customer_invoice_template": null,
        "external_reference": format!("INV-{}", k + 1),
        "archived_at": null,
        "created_at": created_at,
        "updated_at": updated_at,
    });
    with_totals(record, &inv, date)
}

fn supplier_invoice(w: &World, k: usize, created_at: String, updated_at: String) -> Value {
    let inv = ledger::purchase(w, k);
    let e = w.purchase_entry(k);
    let date = w.entry_date(e);
    let paid = w.purchase_payment_entry(k).is_some();
    let remaining = if paid { Decimal::ZERO } else { inv.amount };
    let remaining_before_tax = if paid {
        Decimal::ZERO
    } else {
        inv.amount_before_tax
    };
    let (supplier_name, _, _) = supplier_party(w, inv.third);
    let record = json!({
        "id": id_of(Resource::SupplierInvoices, k),
        "label": format!("Facture {supplier_name}"),
        "invoice_number": ledger::purchase_number(w, k),
        "reconciled": paid,
        "accounting_status": "complete",
        "payment_status": if paid { "fully_paid" } else { "to_be_paid" },
        "filename": null,
        "public_file_url": null,
        "transaction_reference": null,
        "remaining_amount_with_tax": amount(remaining),
        "remaining_amount_without_tax": amount(remaining_before_tax),
        "ledger_entry": { "id": id_of(Resource::LedgerEntries, e) },
        "supplier": reference(w, Resource::Suppliers, inv.third),
        "invoice_lines": link(w, Resource::SupplierInvoices, k, "invoice_lines"),
        "categories": link(w, Resource::SupplierInvoices, k, "categories"),
        "payments": link(w, Resource::SupplierInvoices, k, "payments"),
        "matched_transactions": link(w, Resource::SupplierInvoices, k, "matched_transactions"),
        "external_reference": format!("PUR-{}", k + 1),
        "archived_at": null,
        "created_at": created_at,
        "updated_at": updated_at,
    });
    with_totals(record, &inv, date)
}

/// Signed amount, label and third party of transaction `k`.
fn transaction_facts(w: &World, k: usize) -> (Decimal, String, Option<(Resource, usize)>) {
    match w.document(w.transaction_entry(k)) {
        Document::CustomerPayment { sale, .. } => {
            let inv = ledger::sale(w, sale);
            let name = customer_party(w, inv.third).name;
            (
                inv.amount,
                format!("VIR SEPA {name}"),
                Some((Resource::Customers, inv.third)),
            )
        }
        Document::SupplierPayment { purchase, .. } => {
            let inv = ledger::purchase(w, purchase);
            let (name, _, _) = supplier_party(w, inv.third);
            (
                -inv.amount,
                format!("PRLV SEPA {name}"),
                Some((Resource::Suppliers, inv.third)),
            )
        }
        Document::BankFee { cycle, .. } => {
            (-ledger::bank_fee(w, cycle), "FRAIS BANCAIRES".into(), None)
        }
        _ => (Decimal::ZERO, String::new(), None),
    }
}

fn transaction(w: &World, k: usize, created_at: String, updated_at: String) -> Value {
    let (signed, label, third) = transaction_facts(w, k);
    let e = w.transaction_entry(k);
    let customer = third.filter(|(r, _)| *r == Resource::Customers);
    let supplier = third.filter(|(r, _)| *r == Resource::Suppliers);
    json!({
        "id": id_of(Resource::Transactions, k),
        "label": label,
        "date": w.entry_date(e).to_string(),
        "amount": amount(signed),
        "currency": "EUR",
        "currency_amount": amount(signed),
        "fee": null,
        "currency_fee": null,
        "outstanding_balance": null,
        "attachment_required": signed.is_sign_negative(),
        "journal": reference(w, Resource::Journals, chart::BQ),
        "bank_account": reference(w, Resource::BankAccounts, ledger::bank_of_transaction(k)),
        "customer": customer.map(|(r, i)| reference(w, r, i)),
        "supplier": supplier.map(|(r, i)| reference(w, r, i)),
        "categories": [],
        "pro_account_expense": null,
        "archived_at": null,
        "created_at": created_at,
        "updated_at": updated_at,
    })
}

fn ledger_entry(
    w: &World,
    e: usize,
    entry: &Entry,
    created_at: String,
    updated_at: String,
) -> Value {
    let date = w.entry_date(e);
    let due = matches!(entry.document, Document::Sale(_) | Document::Purchase(_))
        .then(|| deadline(date).to_string());
    json!({
        "id": id_of(Resource::LedgerEntries, e),
        "label": entry.label,
        "piece_number": entry.piece_number,
        "date": date.to_string(),
        "due_date": due,
        "invoice_number": entry.invoice_number,
        "journal": reference(w, Resource::Journals, entry.journal),
        "status": "complete",
        "categories": [],
        "attachment": null,
        "created_at": created_at,
        "updated_at": updated_at,
    })
}

/// The line lettered with line `pos` of entry `e` (invoice <-> its payment), if any.
fn lettered_with(w: &World, e: usize, pos: usize) -> Option<usize> {
    let other = match (w.document(e), pos) {
        (Document::Sale(k), 0) => (w.sale_payment_entry(k)?, 1),
        (Document::CustomerPayment { sale, .. }, 1) => (w.sale_entry(sale), 0),
        (Document::Purchase(k), 0) => (w.purchase_payment_entry(k)?, 0),
        (Document::SupplierPayment { purchase, .. }, 0) => (w.purchase_entry(purchase), 0),
        _ => return None,
    };
    Some(w.entry_lines(other.0).0 + other.1)
}

/// A reference `{id, url}`, typed (fields in alphabetical order, like a `Value`'s).
#[derive(serde::Serialize)]
struct Ref {
    id: i64,
    url: String,
}

fn typed_ref(w: &World, resource: Resource, index: usize) -> Ref {
    let id = id_of(resource, index);
    Ref {
        id,
        url: format!("{}/{}/{}", w.base_url, resource.name(), id),
    }
}

/// The account object of a ledger line.
#[derive(serde::Serialize)]
struct LineAccount {
    id: i64,
    number: String,
    url: String,
}

/// A line's lettering: the ids of every line sharing it (this one included; empty when
/// the line is not lettered) and the sub-collection listing them.
#[derive(serde::Serialize)]
pub(crate) struct Lettering {
    ids: Vec<i64>,
    url: String,
}

/// The lettering object of line `line_id` lettered with `ids` (this line included).
pub(crate) fn lettering(base_url: &str, line_id: i64, mut ids: Vec<i64>) -> Value {
    ids.sort_unstable();
    json!({
        "ids": ids,
        "url": format!("{base_url}/ledger_entry_lines/{line_id}/lettered_ledger_entry_lines"),
    })
}

/// A ledger entry line, typed so that the hot path (a million lines) serialises
/// without building a `Value`; fields in alphabetical order, so its JSON is the same
/// bytes as the `Value` made from it.
#[derive(serde::Serialize)]
pub(crate) struct LineJson {
    categories: Value,
    created_at: String,
    credit: String,
    date: String,
    debit: String,
    id: i64,
    imputation_dates: Vec<Value>,
    journal: Ref,
    label: String,
    ledger_account: LineAccount,
    ledger_entry: Ref,
    lettered_ledger_entry_lines: Lettering,
    updated_at: String,
}

fn ledger_line(
    w: &World,
    l: usize,
    e: usize,
    pos: usize,
    view: &LineView,
    created_at: String,
    updated_at: String,
) -> LineJson {
    let account = account_index(w, view.line.account);
    let (number, _) = account_number_label(w, account);
    let categories = if number.starts_with('6') || number.starts_with('7') {
        line_categories(w, l)
    } else {
        Value::Array(Vec::new())
    };
    let account_id = id_of(Resource::LedgerAccounts, account);
    let id = id_of(Resource::LedgerEntryLines, l);
    let mut lettered: Vec<i64> = lettered_with(w, e, pos)
        .map(|other| vec![id, id_of(Resource::LedgerEntryLines, other)])
        .unwrap_or_default();
    lettered.sort_unstable();
    LineJson {
        categories,
        created_at,
        credit: amount(view.line.credit),
        date: w.entry_date(e).to_string(),
        debit: amount(view.line.debit),
        id,
        imputation_dates: Vec::new(),
        journal: typed_ref(w, Resource::Journals, view.journal),
        label: view.label.clone(),
        ledger_account: LineAccount {
            id: account_id,
            number,
            url: format!("{}/ledger_accounts/{account_id}", w.base_url),
        },
        ledger_entry: typed_ref(w, Resource::LedgerEntries, e),
        lettered_ledger_entry_lines: Lettering {
            ids: lettered,
            url: format!(
                "{}/ledger_entry_lines/{id}/lettered_ledger_entry_lines",
                w.base_url
            ),
        },
        updated_at,
    }
}

/// The generated lines (sub-resource `Resource::*InvoiceLines`) of invoice `k`.
pub(crate) fn invoice_lines(w: &World, resource: Resource, k: usize) -> Vec<Value> {
    let (inv, parent) = if resource == Resource::CustomerInvoiceLines {
        (ledger::sale(w, k), Resource::CustomerInvoices)
    } else {
        (ledger::purchase(w, k), Resource::SupplierInvoices)
    };
    let t = timestamp(created_at(w, parent, k));
    inv.lines
        .iter()
        .enumerate()
        .map(|(j, line)| {
            json!({
                "id": id_of(resource, k * 4 + j),
                "label": line.label,
                "unit": line.unit,
                "quantity": rescaled(line.quantity, 2),
                "amount": amount(line.amount_before_tax + line.tax),
                "currency_amount": amount(line.amount_before_tax + line.tax),
                "currency_amount_before_tax": amount(line.amount_before_tax),
                "currency_tax": amount(line.tax),
                "tax": amount(line.tax),
                "raw_currency_unit_price": rescaled(line.unit_price, 2),
                "vat_rate": VAT_RATES[line.vat].code,
                "description": "",
                "product": line.product.map(|p| reference(w, Resource::Products, p)),
                "discount": { "type": "relative", "value": "0" },
                "section_rank": null,
                "imputation_dates": null,
                "ledger_account": reference(w, Resource::LedgerAccounts, chart::account(line.account)),
                "created_at": t,
                "updated_at": t,
            })
        })
        .collect()
}

/// The generated payments of invoice `k` (one when it is paid).
pub(crate) fn invoice_payments(w: &World, resource: Resource, k: usize) -> Vec<Value> {
    let (payment_entry, inv, number) = if resource == Resource::CustomerInvoicePayments {
        (
            w.sale_payment_entry(k),
            ledger::sale(w, k),
            ledger::sale_number(w, k),
        )
    } else {
        (
            w.purchase_payment_entry(k),
            ledger::purchase(w, k),
            ledger::purchase_number(w, k),
        )
    };
    payment_entry
        .map(|e| {
            let t = timestamp(w.entry_time(e));
            json!({
                "id": id_of(resource, k),
                "label": format!("Paiement {number}"),
                "currency": "EUR",
                "currency_amount": amount(inv.amount),
                "status": "paid",
                "created_at": t,
                "updated_at": t,
            })
        })
        .into_iter()
        .collect()
}

/// Number of generated categories.
pub(crate) fn categories_len() -> usize {
    category_count()
}
