//! The `penny` command. See `penny --help`, and the crate's README.

use clap::Parser;
use penny_cli::output::{self, OutputOptions};
use penny_cli::{Cli, CliError, ExitCode};

fn main() -> std::process::ExitCode {
    // A .env next to penny.toml supplies secrets; real environment variables win.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    output::init(OutputOptions {
        format: cli.log_format,
        quiet: cli.quiet,
        verbose: cli.verbose,
        terse: matches!(cli.command, penny_cli::cli::Command::Demo(_)),
    });
    if let Err(e) = &dotenv
        && !e.not_found()
    {
        tracing::warn!(error = %e, "the .env file could not be read; ignoring it");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let err = CliError::new(ExitCode::Internal, &e);
            eprintln!("{}", err.report());
            return std::process::ExitCode::from(err.code as u8);
        }
    };
    match runtime.block_on(penny_cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", err.report());
            std::process::ExitCode::from(err.code as u8)
        }
    }
}
