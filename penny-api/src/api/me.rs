//! `GET /me`.

use crate::client::Client;
use crate::error::Result;
use crate::models::Me;

impl Client {
    /// Who the token belongs to and which scopes it carries (needs no scope: call it
    /// first to fail fast on a bad token).
    pub async fn me(&self) -> Result<Me> {
        self.get_json("/me", "me", &[]).await
    }

    /// `GET /me` as raw JSON.
    pub async fn me_raw(&self) -> Result<serde_json::Value> {
        self.get_json("/me", "me", &[]).await
    }
}
