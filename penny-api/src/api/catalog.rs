//! Products and analytical categories.

use crate::client::Client;
use crate::models::{Category, CategoryGroup, Product};
use crate::page::ListRequest;

impl Client {
    /// `GET /products`.
    pub fn products(&self) -> ListRequest<Product> {
        ListRequest::new(self.clone(), "/products", "products")
    }

    /// `GET /categories`.
    pub fn categories(&self) -> ListRequest<Category> {
        ListRequest::new(self.clone(), "/categories", "categories")
    }

    /// `GET /category_groups`.
    pub fn category_groups(&self) -> ListRequest<CategoryGroup> {
        ListRequest::new(self.clone(), "/category_groups", "category_groups")
    }
}
