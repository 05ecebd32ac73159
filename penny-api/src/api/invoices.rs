//! Customer and supplier invoices, their lines and payments.

use crate::client::Client;
use crate::models::{CustomerInvoice, InvoiceLine, InvoicePayment, SupplierInvoice};
use crate::page::ListRequest;

impl Client {
    /// `GET /customer_invoices` (invoices and credit notes).
    pub fn customer_invoices(&self) -> ListRequest<CustomerInvoice> {
        ListRequest::new(self.clone(), "/customer_invoices", "customer_invoices")
    }

    /// `GET /customer_invoices/{id}/invoice_lines`.
    pub fn customer_invoice_lines(&self, invoice_id: i64) -> ListRequest<InvoiceLine> {
        ListRequest::new(
            self.clone(),
            format!("/customer_invoices/{invoice_id}/invoice_lines"),
            "customer_invoice_lines",
        )
    }

    /// `GET /customer_invoices/{id}/payments`.
    pub fn customer_invoice_payments(&self, invoice_id: i64) -> ListRequest<InvoicePayment> {
        ListRequest::new(
            self.clone(),
            format!("/customer_invoices/{invoice_id}/payments"),
            "customer_invoice_payments",
        )
    }

    /// `GET /supplier_invoices`.
    pub fn supplier_invoices(&self) -> ListRequest<SupplierInvoice> {
        ListRequest::new(self.clone(), "/supplier_invoices", "supplier_invoices")
    }

    /// `GET /supplier_invoices/{id}/invoice_lines`.
    pub fn supplier_invoice_lines(&self, invoice_id: i64) -> ListRequest<InvoiceLine> {
        ListRequest::new(
            self.clone(),
            format!("/supplier_invoices/{invoice_id}/invoice_lines"),
            "supplier_invoice_lines",
        )
    }

    /// `GET /supplier_invoices/{id}/payments`.
    pub fn supplier_invoice_payments(&self, invoice_id: i64) -> ListRequest<InvoicePayment> {
        ListRequest::new(
            self.clone(),
            format!("/supplier_invoices/{invoice_id}/payments"),
            "supplier_invoice_payments",
        )
    }
}
