//! # penny-cli
//!
//! The `penny` command of [Penny](https://github.com/penny-rs/penny): it composes the
//! Pennylane sources (`penny-api`, `penny-redshift`), the transformations
//! (`penny-transform`) and the targets (`penny-load`'s PostgreSQL sink, or a folder of
//! CSV files) through the `Source` and `Sink` traits only.
//!
//! The library half exists for the binary and its tests; its parts are reusable:
//! - [`config`]: `penny.toml` with environment overrides, secrets from the environment only;
//! - [`csv_sink`]: a folder of CSV files as a `Sink`;
//! - [`pipeline`]: one run of many streams, concurrently;
//! - [`schedule`]: runs on a cadence with backoff and a graceful stop;
//! - [`exit`]: exit codes and hints; [`output`]: logs and progress bars.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod changes;
pub mod cli;
pub mod commands;
pub mod config;
pub mod csv_sink;
pub mod duration;
pub mod exit;
pub mod incremental;
pub mod output;
pub mod pipeline;
pub mod reports;
pub mod schedule;
pub mod sources;
pub mod targets;
pub mod transform;

pub use cli::Cli;
pub use exit::{CliError, ExitCode};

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    commands::run(cli).await
}

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
