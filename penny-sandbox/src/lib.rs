//! A local HTTP server that plays the Pennylane API v2, for testing and benchmarking
//! anything that talks to Pennylane (Penny's client, `penny demo`, or yours) without a
//! Pennylane account, its rate limit or its data.
//!
//! [`Sandbox::start`] binds `127.0.0.1:0` and serves, under
//! `/api/external/v2`, a generated French company per company id: its chart of accounts
//! (PCG classes 1 to 7, auxiliary accounts `411…` per customer and `401…` per supplier),
//! journals VE, AC, BQ, OD and AN, customers (companies and individuals), suppliers,
//! products, customer and supplier invoices with their lines (VAT 20 %, 10 %, 5.5 %) and
//! payments, bank accounts and transactions, fiscal years, categories, and the ledger
//! entries of all of that, whose lines balance per entry and in total.
//!
//! # The generator
//! Everything derives from `(seed, company id)`: same seed, same bytes. Nothing is
//! materialised up front except one integer per ledger entry (where its lines start) and
//! the lines of the fiscal years' opening entries (summed from the years before at
//! start): each record is rebuilt from its index when a page needs it, so a world of
//! millions of ledger lines starts in a fraction of a second and a page costs what its
//! 100 records cost. The books repeat a cycle of ten documents (sales, purchases, their
//! payments, bank fees, payroll or depreciation, see `world.rs`), each fiscal year after the first
//! opening on January 1st with an AN entry (balance-sheet balances carried, the year
//! before's result on 120000 or 129000); three draft invoices and a proforma, outside
//! the books, follow the booked invoices; ids, dates and `created_at` grow
//! with the index, which makes `id`/`date` sorts and `id`/`date` filters binary
//! searches. Mutations ([`Sandbox::create`], [`Sandbox::update`],
//! [`Sandbox::delete`], [`Sandbox::pay_customer_invoice`]...) live in an overlay on top
//! of the generated world, at the sandbox clock, and are recorded in the changelogs.
//!
//! # What of the real API is reproduced
//! - Bearer tokens per company ([`Sandbox::token`]); 401 with a JSON body for a missing
//!   or unknown token; 403 naming the missing `<family>:readonly` scope
//!   ([`Sandbox::token_with_scopes`]); 404 for an unknown path or id. Error bodies are
//!   the spec's `{"error": message, "status": code}`.
//! - The request rules of Pennylane's Company API v2 reference, endpoint by endpoint
//!   ([`spec::ENDPOINTS`], checked against the reference by the contract test): the
//!   `limit` maximum (100, 1000 on ledger accounts, changelogs and the trial balance),
//!   the `sort` fields, and the `filter` fields with their operators (a JSON array of
//!   `{field, operator, value}`, each operator spelled as the reference spells it,
//!   [`spec::Operator`]). Anything else is a 400: no list filters on
//!   `updated_at`. Default sort `-id`; an opaque cursor that carries neither filter nor
//!   sort, so pages 2+ come back **unfiltered** if `filter` is not sent again; an
//!   unreadable cursor is a 400.
//! - Responses in the Firm API's response schemas (the Company API's resource shapes),
//!   for example a line's lettering as `{"ids": [...], "url": ...}`; the envelope
//!   `{"items", "has_more", "next_cursor"}`. With a [`Contract`]
//!   ([`SandboxBuilder::contract`]) every request and response is checked against the
//!   spec files and the departures kept ([`Sandbox::violations`]).
//! - `GET /customer_invoices?include=invoice_lines` (experimental in the spec): the
//!   page's invoice lines in an `included` section.
//! - Changelogs for customer_invoices, supplier_invoices, customers, suppliers,
//!   products, transactions and ledger_entry_lines: `start_date` xor `cursor` (both: 400),
//!   a `start_date` older than the retention: 422; events in ascending `processed_at`.
//!   Generated records created within the retention window appear as inserts.
//! - `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset` on every response when
//!   the rate limit is on; over it, 429 with `retry-after` and a plain-text body.
//! - Amounts as strings with two decimals, references as `{id, url}`, sub-collections as
//!   links (`/customer_invoices/{id}/invoice_lines` and `/payments` are served; the other
//!   links answer empty lists), `GET /<resource>/{id}` for one record, `/me`, and
//!   `/trial_balance` (`period_start`, `period_end`, `is_auxiliary`).
//! - The `Date` header tells the sandbox clock (the clock changelogs use), as a real
//!   server's `Date` agrees with its change logs; [`Sandbox::advance_clock`] moves it.
//!
//! Figures (release build, the Penny repository's `cargo run -p penny-api --release
//! --example budget`, 2 shared cores): a 1,000,000-line world starts in about 0.3 s
//! (most of it summing the closed years' entries into their opening entries); a
//! 100-line page of `ledger_entry_lines` costs the server about 0.3 ms (records
//! built and serialised, see [`Sandbox::serving_time`]).
//!
//! Assumptions (not documented by Pennylane, made plausible): the rate-limit window opens
//! with a token's first request and lasts `per` (the real one may be aligned on the
//! clock); scope family names follow the resource names (`ledger_entries` for entries
//! and lines); the `included` section is `{"invoice_lines": [...]}`, each line with its
//! `customer_invoice: {id}`; `start_date` includes events
//! processed at that instant; generated records have `updated_at == created_at`.
//! Requests are served one at a time (wiremock serialises them), which is plenty for a
//! client limited to 5 requests per second.
//!
//! ```no_run
//! # async fn demo() -> Result<(), penny_sandbox::SandboxError> {
//! use penny_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig { ledger_lines: 10_000, ..Default::default() }).await?;
//! println!("{} {:?}", sandbox.base_url(), sandbox.token(1));
//! # Ok(()) }
//! ```

mod access;
mod changelog;
mod chart;
mod checked;
mod config;
pub mod contract;
mod demo;
mod error;
mod faults;
mod generate;
mod ledger;
mod listing;
mod mutations;
mod names;
mod posting;
mod query;
mod rate_limit;
mod records;
mod resource;
mod rng;
mod sandbox;
mod server;
pub mod spec;
mod store;
mod trial_balance;
mod world;

pub use checked::CheckedSandbox;
pub use config::SandboxConfig;
pub use contract::{Contract, ContractError, Side, Violation};
pub use error::SandboxError;
pub use faults::Fault;
pub use mutations::PaymentRecords;
pub use rate_limit::RateLimit;
pub use resource::Resource;
pub use sandbox::{Sandbox, SandboxBuilder};

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
