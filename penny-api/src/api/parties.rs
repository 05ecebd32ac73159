//! Customers and suppliers.

use crate::client::Client;
use crate::models::{Customer, Supplier};
use crate::page::ListRequest;

impl Client {
    /// `GET /customers` (companies and individuals).
    pub fn customers(&self) -> ListRequest<Customer> {
        ListRequest::new(self.clone(), "/customers", "customers")
    }

    /// `GET /suppliers`.
    pub fn suppliers(&self) -> ListRequest<Supplier> {
        ListRequest::new(self.clone(), "/suppliers", "suppliers")
    }
}
