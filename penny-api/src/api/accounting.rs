//! Journals, ledger accounts, entries and lines, fiscal years, trial balance.

use chrono::NaiveDate;

use crate::client::Client;
use crate::models::{
    FiscalYear, Journal, LedgerAccount, LedgerEntry, LedgerEntryLine, TrialBalanceAccount,
};
use crate::page::ListRequest;

impl Client {
    /// `GET /journals` (scope `journals:readonly`).
    pub fn journals(&self) -> ListRequest<Journal> {
        ListRequest::new(self.clone(), "/journals", "journals")
    }

    /// `GET /ledger_accounts` (scope `ledger_accounts:readonly`).
    pub fn ledger_accounts(&self) -> ListRequest<LedgerAccount> {
        ListRequest::new(self.clone(), "/ledger_accounts", "ledger_accounts")
    }

    /// `GET /ledger_entries`.
    pub fn ledger_entries(&self) -> ListRequest<LedgerEntry> {
        ListRequest::new(self.clone(), "/ledger_entries", "ledger_entries")
    }

    /// `GET /ledger_entry_lines`: the general ledger, line by line.
    pub fn ledger_entry_lines(&self) -> ListRequest<LedgerEntryLine> {
        ListRequest::new(self.clone(), "/ledger_entry_lines", "ledger_entry_lines")
    }

    /// `GET /fiscal_years`.
    pub fn fiscal_years(&self) -> ListRequest<FiscalYear> {
        ListRequest::new(self.clone(), "/fiscal_years", "fiscal_years")
    }

    /// `GET /trial_balance` for a period (limit up to 1000). With `is_auxiliary`
    /// true, auxiliary accounts are detailed; false aggregates them into their root
    /// account. Never add the two views together.
    pub fn trial_balance(
        &self,
        period_start: NaiveDate,
        period_end: NaiveDate,
        is_auxiliary: bool,
    ) -> ListRequest<TrialBalanceAccount> {
        ListRequest::new(self.clone(), "/trial_balance", "trial_balance")
            .param("period_start", period_start.format("%Y-%m-%d").to_string())
            .param("period_end", period_end.format("%Y-%m-%d").to_string())
            .param("is_auxiliary", is_auxiliary.to_string())
    }
}
