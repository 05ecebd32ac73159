//! Mutations at the sandbox clock: records created, updated and deleted on top of the
//! generated world, each recorded in its resource's changelog, with the ledger kept
//! balanced (paying an invoice books its payment entry; deleting an invoice deletes its
//! entry and lines).

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::access;
use crate::chart;
use crate::error::SandboxError;
use crate::query::parse_instant;
use crate::records::{self, amount, timestamp};
use crate::resource::Resource;
use crate::sandbox::Sandbox;
use crate::server::State;
use crate::store::Overlaid;
use crate::world::World;

/// The records created by [`Sandbox::pay_customer_invoice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecords {
    /// The invoice payment (`/customer_invoices/{id}/payments`).
    pub payment_id: i64,
    /// The bank transaction.
    pub transaction_id: i64,
    /// The BQ ledger entry.
    pub ledger_entry_id: i64,
    /// Its two lines (bank debit, customer credit).
    pub ledger_entry_line_ids: [i64; 2],
}

fn created_at_of(
    record: &Value,
    fallback: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    record
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(parse_instant)
        .unwrap_or(fallback)
}

impl Sandbox {
    /// The current JSON of record `id` (after mutations), `None` if unknown or deleted.
    /// Sub-collection records (invoice lines, payments) are read through their parent.
    pub fn record(&self, company_id: i64, resource: Resource, id: i64) -> Option<Value> {
        let w = self.company(company_id).ok()?;
        let state = self.shared.lock();
        access::record(w, &state.stores[(company_id - 1) as usize], resource, id)
    }

    /// Creates a record of a top-level `resource` from `fields` (a JSON object); the
    /// sandbox sets `id`, `created_at` and `updated_at`. Returns the new id.
    pub fn create(
        &self,
        company_id: i64,
        resource: Resource,
        fields: Value,
    ) -> Result<i64, SandboxError> {
        let w = self.company(company_id)?;
        let mut state = self.shared.lock();
        create_in(w, &mut state, company_id, resource, fields, None)
    }

    /// Updates record `id` with the top-level fields of `patch` (a JSON object) and sets
    /// its `updated_at` to the clock.
    pub fn update(
        &self,
        company_id: i64,
        resource: Resource,
        id: i64,
        patch: Value,
    ) -> Result<(), SandboxError> {
        let w = self.company(company_id)?;
        let mut state = self.shared.lock();
        update_in(w, &mut state, company_id, resource, id, patch)
    }

    /// Deletes record `id`. Deleting an invoice deletes its ledger entry; deleting a
    /// ledger entry deletes its lines (each recorded in its changelog).
    pub fn delete(&self, company_id: i64, resource: Resource, id: i64) -> Result<(), SandboxError> {
        let w = self.company(company_id)?;
        let mut state = self.shared.lock();
        delete_in(w, &mut state, company_id, resource, id)
    }

    /// Creates a company customer named `name` (with its auxiliary account left null,
    /// its SIREN, VAT number, phone and addresses empty).
    pub fn create_customer(&self, company_id: i64, name: &str) -> Result<i64, SandboxError> {
        let empty_address =
            json!({ "address": "", "postal_code": "", "city": "", "country_alpha2": "FR" });
        self.create(
            company_id,
            Resource::Customers,
            json!({
                "customer_type": "company", "name": name,
                "reg_no": "", "vat_number": "", "billing_iban": null,
                "payment_conditions": "30_days", "recipient": name, "phone": "",
                "reference": null, "notes": "", "ledger_account": null, "emails": [],
                "billing_address": empty_address, "delivery_address": empty_address,
                "external_reference": "", "billing_language": "fr_FR",
            }),
        )
    }

    /// Changes a ledger entry's label, and its lines' (one update event per line).
    pub fn relabel_ledger_entry(
        &self,
        company_id: i64,
        entry_id: i64,
        label: &str,
    ) -> Result<(), SandboxError> {
        let w = self.company(company_id)?;
        let mut state = self.shared.lock();
        update_in(
            w,
            &mut state,
            company_id,
            Resource::LedgerEntries,
            entry_id,
            json!({ "label": label }),
        )?;
        for line_id in entry_line_ids(w, &state, company_id, entry_id) {
            update_in(
                w,
                &mut state,
                company_id,
                Resource::LedgerEntryLines,
                line_id,
                json!({ "label": label }),
            )?;
        }
        Ok(())
    }

    /// Pays an unpaid customer invoice in full at the clock: books the payment, a bank
    /// transaction on the current account, and a BQ entry (512001 debit, the customer's
    /// account credit), and marks the invoice paid.
    pub fn pay_customer_invoice(
        &self,
        company_id: i64,
        invoice_id: i64,
    ) -> Result<PaymentRecords, SandboxError> {
        let w = self.company(company_id)?;
        let mut state = self.shared.lock();
        let store = &state.stores[(company_id - 1) as usize];
        let unknown = SandboxError::UnknownRecord {
            company_id,
            resource: "customer_invoices",
            id: invoice_id,
        };
        let invoice =
            access::record(w, store, Resource::CustomerInvoices, invoice_id).ok_or(unknown)?;
        let invalid = |reason: String| SandboxError::InvalidMutation {
            resource: "customer_invoices",
            id: invoice_id,
            reason,
        };
        if invoice.get("paid") == Some(&Value::Bool(true)) {
            return Err(invalid("it is already paid".into()));
        }
        if let Some(status @ ("draft" | "proforma")) = invoice.get("status").and_then(Value::as_str)
        {
            return Err(invalid(format!(
                "it is a {status}, outside the books: there is nothing to pay"
            )));
        }
        let total: Decimal = invoice
            .get("amount")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("its amount is not a decimal string".into()))?;
        if total <= Decimal::ZERO {
            return Err(invalid(format!("its amount {total} is not positive")));
        }
        let customer_id = invoice.pointer("/customer/id").and_then(Value::as_i64);
        let customer = customer_id.and_then(|id| access::record(w, store, Resource::Customers, id));
        let customer_account = customer
            .as_ref()
            .and_then(|c| c.pointer("/ledger_account/id"))
            .and_then(Value::as_i64)
            .and_then(|id| access::record(w, store, Resource::LedgerAccounts, id))
            .ok_or_else(|| invalid("its customer has no ledger account".into()))?;
        let bank_account = records::id_of(Resource::LedgerAccounts, chart::account("512001"));
        let bank = access::record(w, store, Resource::LedgerAccounts, bank_account)
            .ok_or_else(|| invalid("the bank ledger account 512001 was deleted".into()))?;
        let number = invoice
            .get("invoice_number")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let label = format!("Règlement {number}");
        let today = state.clock.date_naive().to_string();
        let url = |r: Resource, id: i64| format!("{}/{}/{}", w.base_url, r.name(), id);
        let reference = |r: Resource, id: i64| json!({ "id": id, "url": url(r, id) });
        let journal = records::id_of(Resource::Journals, chart::BQ);

        let entry_id = create_in(
            w,
            &mut state,
            company_id,
            Resource::LedgerEntries,
            json!({
                "label": label, "piece_number": format!("P{invoice_id}"), "date": today, "due_date": null,
                "invoice_number": null, "journal": reference(Resource::Journals, journal),
                "status": "complete", "categories": [], "attachment": null,
            }),
            None,
        )?;
        let line = |account: &Value, debit: Decimal, credit: Decimal| {
            json!({
                "debit": amount(debit), "credit": amount(credit), "label": label, "date": today,
                "journal": reference(Resource::Journals, journal),
                "ledger_entry": reference(Resource::LedgerEntries, entry_id),
                "ledger_account": {
                    "id": account.get("id"), "number": account.get("number"),
                    "url": account.get("id").and_then(Value::as_i64).map(|id| url(Resource::LedgerAccounts, id)),
                },
                "categories": [], "imputation_dates": [],
            })
        };
        let bank_line = create_in(
            w,
            &mut state,
            company_id,
            Resource::LedgerEntryLines,
            line(&bank, total, Decimal::ZERO),
            None,
        )?;
        let customer_line = create_in(
            w,
            &mut state,
            company_id,
            Resource::LedgerEntryLines,
            line(&customer_account, Decimal::ZERO, total),
            None,
        )?;
        // The payment letters the invoice's receivable line (the first of its entry).
        let receivable = invoice
            .pointer("/ledger_entry/id")
            .and_then(Value::as_i64)
            .and_then(|entry| records::index_of(w, Resource::LedgerEntries, entry))
            .map(|e| records::id_of(Resource::LedgerEntryLines, w.entry_lines(e).0));
        if let Some(receivable) = receivable {
            let ids = vec![receivable, customer_line];
            for line in [receivable, customer_line] {
                update_in(
                    w,
                    &mut state,
                    company_id,
                    Resource::LedgerEntryLines,
                    line,
                    json!({ "lettered_ledger_entry_lines": records::lettering(&w.base_url, line, ids.clone()) }),
                )?;
            }
        }
        let bank_account_id = records::id_of(Resource::BankAccounts, 0);
        let transaction_id = create_in(
            w,
            &mut state,
            company_id,
            Resource::Transactions,
            json!({
                "label": format!("VIR SEPA {}", customer.as_ref().and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or("")),
                "date": today, "amount": amount(total), "currency": "EUR", "currency_amount": amount(total),
                "fee": null, "currency_fee": null, "outstanding_balance": null, "attachment_required": false,
                "pro_account_expense": null,
                "journal": reference(Resource::Journals, journal),
                "bank_account": reference(Resource::BankAccounts, bank_account_id),
                "customer": customer_id.map(|id| reference(Resource::Customers, id)), "supplier": null,
                "categories": [], "archived_at": null,
            }),
            None,
        )?;
        let payment_id = create_in(
            w,
            &mut state,
            company_id,
            Resource::CustomerInvoicePayments,
            json!({
                "label": format!("Paiement {number}"), "currency": "EUR",
                "currency_amount": amount(total), "status": "paid",
            }),
            Some(invoice_id),
        )?;
        update_in(
            w,
            &mut state,
            company_id,
            Resource::CustomerInvoices,
            invoice_id,
            json!({
                "paid": true, "status": "paid", "remaining_amount_with_tax": "0.00",
                "remaining_amount_without_tax": "0.00",
            }),
        )?;
        Ok(PaymentRecords {
            payment_id,
            transaction_id,
            ledger_entry_id: entry_id,
            ledger_entry_line_ids: [bank_line, customer_line],
        })
    }
}

fn create_in(
    w: &World,
    state: &mut State,
    company_id: i64,
    resource: Resource,
    fields: Value,
    parent: Option<i64>,
) -> Result<i64, SandboxError> {
    let invalid = |reason: &str| SandboxError::InvalidMutation {
        resource: resource.name(),
        id: 0,
        reason: reason.into(),
    };
    let Value::Object(fields) = fields else {
        return Err(invalid("the fields must be a JSON object"));
    };
    if resource.parent().is_some() != parent.is_some() {
        return Err(invalid(
            "sub-collection records need their parent id, others none",
        ));
    }
    let now = state.clock;
    let store = &mut state.stores[(company_id - 1) as usize];
    let id = store.new_id(resource, records::len(w, resource));
    let mut record = Map::new();
    record.insert("id".into(), json!(id));
    record.extend(fields);
    record.insert("id".into(), json!(id));
    if resource.has_timestamps() {
        record.insert("created_at".into(), json!(timestamp(now)));
        record.insert("updated_at".into(), json!(timestamp(now)));
    }
    if resource == Resource::LedgerEntryLines && !record.contains_key("lettered_ledger_entry_lines")
    {
        record.insert(
            "lettered_ledger_entry_lines".into(),
            records::lettering(&w.base_url, id, Vec::new()),
        );
    }
    store.change(
        resource,
        id,
        Overlaid::present(record, parent),
        "insert",
        now,
        now,
    );
    Ok(id)
}

fn update_in(
    w: &World,
    state: &mut State,
    company_id: i64,
    resource: Resource,
    id: i64,
    patch: Value,
) -> Result<(), SandboxError> {
    let Value::Object(patch) = patch else {
        return Err(SandboxError::InvalidMutation {
            resource: resource.name(),
            id,
            reason: "the patch must be a JSON object".into(),
        });
    };
    let now = state.clock;
    let store = &mut state.stores[(company_id - 1) as usize];
    let unknown = SandboxError::UnknownRecord {
        company_id,
        resource: resource.name(),
        id,
    };
    let (current, parent) = match store.get(resource, id) {
        Some(Overlaid::Present { record, parent }) => (record.clone(), *parent),
        Some(Overlaid::Deleted) => return Err(unknown),
        None if resource.parent().is_none() => {
            (access::record(w, store, resource, id).ok_or(unknown)?, None)
        }
        None => {
            return Err(SandboxError::InvalidMutation {
                resource: resource.name(),
                id,
                reason: "generated invoice lines and payments cannot be updated".into(),
            });
        }
    };
    let Value::Object(mut record) = current else {
        return Err(SandboxError::InvalidMutation {
            resource: resource.name(),
            id,
            reason: "not an object".into(),
        });
    };
    record.extend(patch);
    record.insert("id".into(), json!(id));
    let created = created_at_of(&Value::Object(record.clone()), now);
    if resource.has_timestamps() {
        record.insert("updated_at".into(), json!(timestamp(now)));
    }
    store.change(
        resource,
        id,
        Overlaid::present(record, parent),
        "update",
        created,
        now,
    );
    Ok(())
}

/// The ids of entry `entry_id`'s lines (generated and created).
fn entry_line_ids(w: &World, state: &State, company_id: i64, entry_id: i64) -> Vec<i64> {
    let store = &state.stores[(company_id - 1) as usize];
    let mut ids = Vec::new();
    if let Some(e) = records::index_of(w, Resource::LedgerEntries, entry_id) {
        let (first, count) = w.entry_lines(e);
        ids.extend(
            (first..first + count)
                .map(|l| records::id_of(Resource::LedgerEntryLines, l))
                .filter(|id| {
                    !matches!(
                        store.get(Resource::LedgerEntryLines, *id),
                        Some(Overlaid::Deleted)
                    )
                }),
        );
    }
    for (id, state) in store
        .overlay(Resource::LedgerEntryLines)
        .into_iter()
        .flatten()
    {
        if let Overlaid::Present { record, .. } = state
            && record.pointer("/ledger_entry/id").and_then(Value::as_i64) == Some(entry_id)
            && !ids.contains(id)
        {
            ids.push(*id);
        }
    }
    ids
}

fn delete_in(
    w: &World,
    state: &mut State,
    company_id: i64,
    resource: Resource,
    id: i64,
) -> Result<(), SandboxError> {
    let now = state.clock;
    let current = {
        let store = &state.stores[(company_id - 1) as usize];
        match store.get(resource, id) {
            Some(Overlaid::Present { record, .. }) => Some(record.clone()),
            Some(Overlaid::Deleted) => None,
            None => access::record(w, store, resource, id),
        }
    }
    .ok_or(SandboxError::UnknownRecord {
        company_id,
        resource: resource.name(),
        id,
    })?;
    let created = created_at_of(&current, now);
    let store = &mut state.stores[(company_id - 1) as usize];
    store.change(resource, id, Overlaid::Deleted, "delete", created, now);
    match resource {
        Resource::CustomerInvoices | Resource::SupplierInvoices => {
            let store = &state.stores[(company_id - 1) as usize];
            if let Some(entry) = current.pointer("/ledger_entry/id").and_then(Value::as_i64)
                && access::record(w, store, Resource::LedgerEntries, entry).is_some()
            {
                delete_in(w, state, company_id, Resource::LedgerEntries, entry)?;
            }
        }
        Resource::LedgerEntries => {
            for line in entry_line_ids(w, state, company_id, id) {
                delete_in(w, state, company_id, Resource::LedgerEntryLines, line)?;
            }
        }
        _ => {}
    }
    Ok(())
}
