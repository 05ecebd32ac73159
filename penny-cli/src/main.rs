//! The `penny` command.
//!
//! Its commands arrive with the crates they compose (`sync`, `schedule`, `api`,
//! `redshift`, `export`, `doctor`, `demo`); today it only reports its version.

use clap::Parser;

/// Penny: Pennylane accounting data into PostgreSQL, transformed for Power BI.
#[derive(Debug, Parser)]
#[command(name = "penny", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!(
        "penny {}: no commands yet; see the README for the project's status",
        env!("CARGO_PKG_VERSION")
    );
}
