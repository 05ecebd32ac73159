//! The changes `penny demo` makes between its two syncs, also used by tests that check
//! an incremental sync against a fresh full one.

use serde_json::Value;

use crate::error::SandboxError;
use crate::resource::Resource;
use crate::sandbox::Sandbox;

impl Sandbox {
    /// Makes a few everyday changes in company `company_id`, after moving the clock 10
    /// minutes on (past the last read): a customer created, the newest unpaid invoice
    /// paid (with its payment, bank transaction and BQ entry), the next one deleted with
    /// its entry, the newest supplier renamed, the newest ledger entry relabelled; then
    /// the clock moves one more minute. Returns what was changed, in words.
    ///
    /// "Newest" is the first record a list returns in Pennylane's default order
    /// (`-id`), as a client would pick it.
    pub fn make_demo_changes(&self, company_id: i64) -> Result<Vec<String>, SandboxError> {
        let mut changes = Vec::new();
        self.advance_clock(chrono::Duration::minutes(10));
        let id = self.create_customer(company_id, "Nouvelle Boulangerie SARL")?;
        changes.push(format!("customer {id} created"));
        let newest = |resource: Resource, n: usize| -> Result<Vec<(i64, Value)>, SandboxError> {
            Ok(self
                .generated_ids(company_id, resource)?
                .rev()
                .filter_map(|id| self.record(company_id, resource, id).map(|r| (id, r)))
                .take(n)
                .collect())
        };
        // Booked invoices only: drafts and proformas are outside the books, credit notes
        // are not paid.
        let unpaid: Vec<i64> = newest(Resource::CustomerInvoices, 100)?
            .into_iter()
            .filter(|(_, i)| i.get("paid") == Some(&Value::Bool(false)))
            .filter(|(_, i)| {
                !matches!(
                    i.get("status").and_then(Value::as_str),
                    Some("draft" | "proforma" | "credit_note")
                )
            })
            .map(|(id, _)| id)
            .collect();
        let mut payment_entry = None;
        if let Some(&invoice) = unpaid.first() {
            payment_entry = Some(
                self.pay_customer_invoice(company_id, invoice)?
                    .ledger_entry_id,
            );
            changes.push(format!("customer invoice {invoice} paid"));
        }
        if let Some(&invoice) = unpaid.get(1) {
            self.delete(company_id, Resource::CustomerInvoices, invoice)?;
            changes.push(format!(
                "customer invoice {invoice} deleted (with its entry)"
            ));
        }
        if let Some((supplier, _)) = newest(Resource::Suppliers, 1)?.first() {
            self.update(
                company_id,
                Resource::Suppliers,
                *supplier,
                serde_json::json!({ "name": "Fournitures Durand et Fils" }),
            )?;
            changes.push(format!("supplier {supplier} renamed"));
        }
        // The newest entry: the payment's, else the last generated one.
        let entry = match payment_entry {
            Some(entry) => Some(entry),
            None => newest(Resource::LedgerEntries, 1)?.first().map(|e| e.0),
        };
        if let Some(entry) = entry {
            self.relabel_ledger_entry(company_id, entry, "Ecriture corrigee")?;
            changes.push(format!("ledger entry {entry} relabelled"));
        }
        self.advance_clock(chrono::Duration::minutes(1));
        Ok(changes)
    }
}
