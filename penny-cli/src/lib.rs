//! # penny-cli
//!
//! The `penny` command of [Penny](https://github.com/penny-rs/penny): the command line
//! over the engine (`penny-sync`), the Pennylane sources (`penny-api`,
//! `penny-redshift`) and the targets (`penny-load`'s PostgreSQL sink, or a folder of
//! CSV files).
//!
//! The library half exists for the binary and its tests:
//! - [`config`]: `penny.toml` with environment overrides, secrets from the environment only;
//! - [`commands`]: one module per command;
//! - [`exit`]: exit codes and hints; [`output`]: logs and progress bars; signals.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod output;
pub mod signals;

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
