//! A sandbox (penny-sandbox) and a client for it.

use penny_api::{Client, ClientBuilder};
use penny_sandbox::{Contract, Sandbox, SandboxConfig};

/// A started sandbox with `config`.
pub async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox")
}

/// A started sandbox with `config` that checks every request it receives and every
/// response it serves against Pennylane's spec files (`PENNY_OPENAPI_DIR`; never
/// skipped: without the files the test fails).
pub async fn checked(config: SandboxConfig) -> Sandbox {
    let contract = Contract::from_env().unwrap_or_else(|e| panic!("{e}"));
    Sandbox::builder(config)
        .contract(contract)
        .start()
        .await
        .expect("sandbox")
}

/// A client builder for the sandbox's first company: its base URL, its token, no
/// client-side rate limit.
pub fn client_builder(sandbox: &Sandbox) -> ClientBuilder {
    Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token(sandbox.company_ids()[0]))
        .no_rate_limit()
}
