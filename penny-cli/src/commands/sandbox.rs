//! `penny sandbox`: the sandbox of `penny-sandbox` on its own, on 127.0.0.1, until Ctrl-C:
//! a generated French company served in the Pennylane API v2's dialect, to explore with
//! `curl`, a notebook or another tool. The first line of standard output is
//! `<base url> <token>`; logs go to standard error.

use std::io::Write;

use clap::{Args, ValueEnum};
use penny_sandbox::{RateLimit, Sandbox, SandboxConfig};
use secrecy::ExposeSecret;

use crate::exit::{CliError, ExitCode};

/// The rate limit the sandbox applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RateLimitMode {
    /// No limit (and no rate-limit headers).
    Off,
    /// Pennylane's: 25 requests per 5 seconds per token, 429 beyond.
    Real,
}

/// `penny sandbox`.
#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Ledger lines of the generated company.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub lines: usize,
    /// The port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0, value_name = "P")]
    pub port: u16,
    /// `off`, or `real` for Pennylane's 25 requests per 5 seconds.
    #[arg(long, value_enum, default_value_t = RateLimitMode::Off, value_name = "MODE")]
    pub rate_limit: RateLimitMode,
    /// The seed of the generated company (same seed, same company).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Serves the sandbox until Ctrl-C (or SIGTERM).
pub async fn sandbox(args: &SandboxArgs) -> Result<(), CliError> {
    let config = SandboxConfig {
        seed: args.seed,
        ledger_lines: args.lines,
        rate_limit: match args.rate_limit {
            RateLimitMode::Off => None,
            RateLimitMode::Real => Some(RateLimit::default()),
        },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::builder(config)
        .port(args.port)
        .start()
        .await
        .map_err(|e| CliError::new(ExitCode::Internal, &e))?;
    let token = sandbox.token(1);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} {}", sandbox.base_url(), token.expose_secret())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(ExitCode::Internal, &e))?;
    drop(out);
    eprintln!(
        "sandbox: a generated company of {} ledger lines; try\n  curl -H 'Authorization: Bearer {}' {}/ledger_entry_lines\nCtrl-C stops it.",
        args.lines,
        token.expose_secret(),
        sandbox.base_url()
    );
    crate::signals::stop_requested().await;
    eprintln!(
        "sandbox: stopped ({} requests served)",
        sandbox.total_requests()
    );
    Ok(())
}
