//! Bank accounts and transactions.

use crate::client::Client;
use crate::models::{BankAccount, Transaction};
use crate::page::ListRequest;

impl Client {
    /// `GET /bank_accounts`.
    pub fn bank_accounts(&self) -> ListRequest<BankAccount> {
        ListRequest::new(self.clone(), "/bank_accounts", "bank_accounts")
    }

    /// `GET /transactions` (bank transactions, signed amounts).
    pub fn transactions(&self) -> ListRequest<Transaction> {
        ListRequest::new(self.clone(), "/transactions", "transactions")
    }
}
