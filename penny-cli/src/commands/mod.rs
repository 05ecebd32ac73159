//! One module per command.

pub mod api;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod redshift;
pub mod sandbox;
pub mod sync;

use crate::cli::{Cli, Command};
use crate::exit::CliError;

/// Runs the command of `cli`.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Sync(args) => sync::sync(cli.config.as_deref(), &args).await,
        Command::Schedule(args) => sync::schedule(cli.config.as_deref(), &args).await,
        Command::Api(args) => api::api(cli.config.as_deref(), &args).await,
        Command::Redshift(args) => redshift::redshift(cli.config.as_deref(), &args.command).await,
        Command::Export(args) => export::export(cli.config.as_deref(), &args.command).await,
        Command::Doctor => doctor::doctor(cli.config.as_deref()).await,
        Command::Demo(args) => demo::demo(cli.config.as_deref(), &args).await,
        Command::Sandbox(args) => sandbox::sandbox(&args).await,
    }
}
