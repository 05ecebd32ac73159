//! `GET /me`: who the token belongs to and what it may read.

use serde::{Deserialize, Serialize};

/// The token's identity and scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// The user, for user-bound tokens.
    #[serde(default)]
    pub user: Option<MeUser>,
    /// The company the token reads.
    pub company: MeCompany,
    /// Granted scopes (`customer_invoices:readonly`...).
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl Me {
    /// Whether the token carries `scope`, or the `:all` scope of the same family.
    pub fn has_scope(&self, scope: &str) -> bool {
        let family = scope.split(':').next().unwrap_or(scope);
        self.scopes
            .iter()
            .any(|s| s == scope || *s == format!("{family}:all"))
    }
}

/// The user behind a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeUser {
    /// Id.
    pub id: i64,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
}

/// The company a token reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeCompany {
    /// Id: every raw table's `company_id`.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Registration number (SIREN).
    #[serde(default)]
    pub reg_no: Option<String>,
}
