//! The command line: `penny <command>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::LogFormat;

/// Penny: Pennylane accounting data into PostgreSQL, transformed for Power BI.
///
/// Start with `penny demo`: it needs no account, no configuration and no database.
#[derive(Debug, Parser)]
#[command(name = "penny", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file (default: ./penny.toml when it exists).
    #[arg(long, global = true, env = "PENNY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only warnings and errors; no progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Debug logs.
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync the configured source(s) into the target once: raw tables, then the canonical model.
    Sync(SyncArgs),
    /// Run `sync` on a fixed cadence until stopped (Ctrl-C or SIGTERM).
    Schedule(ScheduleArgs),
    /// Read a Pennylane API resource and print it.
    Api(ApiArgs),
    /// Explore the Data Sharing warehouse (Redshift).
    Redshift(RedshiftArgs),
    /// Export legal files from the loaded data.
    Export(ExportArgs),
    /// Check the configuration, the credentials and the connections, one line per check.
    Doctor,
    /// A complete demonstration on a generated company: no account, configuration or database needed.
    Demo(DemoArgs),
    /// Serve the sandbox (a generated Pennylane company) on 127.0.0.1 until Ctrl-C.
    Sandbox(crate::commands::sandbox::SandboxArgs),
}

/// `penny sync`.
#[derive(Debug, Args, Clone, Default)]
pub struct SyncArgs {
    /// Ignore saved positions: read every stream in full.
    #[arg(long)]
    pub full: bool,
    /// Only these streams (comma-separated), instead of `source.streams`.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub streams: Vec<String>,
    /// Print what a full read through the API will cost (records and requests per
    /// stream, time at the rate limit), estimated from two requests per list, and
    /// stop without reading.
    #[arg(long)]
    pub plan: bool,
}

/// `penny schedule`.
#[derive(Debug, Args, Clone)]
pub struct ScheduleArgs {
    /// The cadence (default: `schedule.every`, 10m).
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// A random delay up to this much added before each run (default: `schedule.jitter`).
    #[arg(long, value_name = "DURATION")]
    pub jitter: Option<String>,
    /// Stop after this many runs (default: run until stopped).
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
    /// What each run syncs.
    #[command(flatten)]
    pub sync: SyncArgs,
}

/// `penny api`.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// The resource (`customers`, `ledger_entry_lines`...).
    pub resource: String,
    /// A filter `FIELD:OP:VALUE` (ops: eq, not_eq, lt, lteq, gt, gteq, in, not_in); repeatable.
    #[arg(long = "filter", value_name = "FIELD:OP:VALUE")]
    pub filters: Vec<String>,
    /// At most this many records (default: all).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Output format (default: table on a terminal, csv otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// A tabular output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table.
    Table,
    /// One JSON object per line.
    Json,
    /// CSV with a header.
    Csv,
}

/// `penny redshift`.
#[derive(Debug, Args, Clone)]
pub struct RedshiftArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RedshiftCommand,
}

/// `penny redshift <command>`.
#[derive(Debug, Subcommand, Clone)]
pub enum RedshiftCommand {
    /// List the shared tables.
    Tables,
    /// Show a table's columns and types.
    Describe {
        /// The table.
        table: String,
    },
    /// Show the first rows of a table.
    Preview {
        /// The table.
        table: String,
        /// How many rows.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Count a table's rows.
    Count {
        /// The table.
        table: String,
    },
    /// Run one read-only SQL query (SELECT, WITH, VALUES), streamed through a cursor.
    Query {
        /// The SQL: one statement that reads (a trailing `;` is fine).
        sql: String,
        /// At most this many rows (default: all; 1000 for the table format).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Output format (default: table on a terminal, csv otherwise). NULL is an
        /// empty cell in table and csv, `null` in json.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Export a table to a CSV or JSON-lines file, streaming.
    Export {
        /// The table.
        table: String,
        /// The file (`.csv` or `.jsonl`).
        #[arg(long)]
        to: PathBuf,
    },
}

/// `penny export`.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// What to export.
    #[command(subcommand)]
    pub command: ExportCommand,
}

/// `penny export <what>`.
#[derive(Debug, Subcommand, Clone)]
pub enum ExportCommand {
    /// The FEC (Fichier des Ecritures Comptables) of a fiscal year.
    Fec {
        /// The fiscal year (the calendar year it ends in).
        #[arg(long)]
        fiscal_year: i32,
        /// The folder to write into.
        #[arg(long)]
        to: PathBuf,
        /// The company's SIREN (9 digits), for the file name, when the data does not carry it.
        #[arg(long)]
        siren: Option<String>,
        /// Separate fields with `|` instead of a tab.
        #[arg(long)]
        pipe: bool,
    },
}

/// `penny demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// The folder of CSV files written when no database is reachable.
    #[arg(long, default_value = "penny-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Write CSV files even when DATABASE_URL is set.
    #[arg(long)]
    pub csv: bool,
    /// Ledger lines of the generated company.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub ledger_lines: usize,
    /// The seed of the generated company (same seed, same company).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Start each CSV file with a UTF-8 byte order mark (Excel on Windows).
    #[arg(long)]
    pub bom: bool,
}
