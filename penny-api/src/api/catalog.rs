//! Products and analytical categories.

use crate::client::Client;
use crate::models::{Category, CategoryGroup, Product};
use crate::page::{ListRequest, MAX_LIMIT};

impl Client {
    /// `GET /products`.
    pub fn products(&self) -> ListRequest<Product> {
        ListRequest::new(self.clone(), "/products", "products", MAX_LIMIT)
    }

    /// `GET /categories`.
    pub fn categories(&self) -> ListRequest<Category> {
        ListRequest::new(self.clone(), "/categories", "categories", MAX_LIMIT)
    }

    /// `GET /category_groups`.
    pub fn category_groups(&self) -> ListRequest<CategoryGroup> {
        ListRequest::new(
            self.clone(),
            "/category_groups",
            "category_groups",
            MAX_LIMIT,
        )
    }
}
