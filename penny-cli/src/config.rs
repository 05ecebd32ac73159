//! `penny.toml` and its environment overrides.
//!
//! Every setting has a default, may be set in the file (`[section] key = value`), and
//! may be overridden by the environment variable `PENNY_<SECTION>_<KEY>` (for example
//! `PENNY_SYNC_BATCH_ROWS=2000`). The Pennylane variables documented for every Penny
//! tool ([`PENNYLANE_ENV_KEYS`]: `PENNYLANE_API_BASE_URL`, `PENNYLANE_DATA_SHARING_HOST`,
//! `_PORT`, `_DATABASE`, `_USER`) set their key too. Precedence, strongest first:
//! `PENNY_<SECTION>_<KEY>`, the `PENNYLANE_*` variable, the file, the default.
//!
//! Secrets are read **only** from the environment (or a `.env` file loaded into it):
//! `PENNYLANE_API_TOKEN`, `PENNYLANE_DATA_SHARING_KEY` and `DATABASE_URL`. A token,
//! password or database URL in the file is an error that says which variable to use
//! instead.
//!
//! A setting that is wrong or missing is an error naming the key, the value, what was
//! expected and where it was looked for. Unknown sections and keys are errors too, so
//! a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use penny_sync::duration::{format_duration, parse_duration};

/// The environment variable holding the Pennylane API token (`PENNYLANE_API_TOKEN`,
/// the name `penny-api` reads too).
pub const ENV_API_TOKEN: &str = penny_api::client::TOKEN_ENV;
/// The environment variable holding the Data Sharing key, the Redshift password
/// (`PENNYLANE_DATA_SHARING_KEY`, the name `penny-redshift` reads too).
pub const ENV_DATA_SHARING_KEY: &str = penny_redshift::config::ENV_KEY;
/// The documented Pennylane variables that also set a (non-secret) key, as
/// `(section, key, variable)`. A `PENNY_<SECTION>_<KEY>` variable still wins over them;
/// they win over the file.
pub const PENNYLANE_ENV_KEYS: &[(&str, &str, &str)] = &[
    ("api", "base_url", penny_api::client::BASE_URL_ENV),
    ("redshift", "host", penny_redshift::config::ENV_HOST),
    ("redshift", "port", penny_redshift::config::ENV_PORT),
    ("redshift", "database", penny_redshift::config::ENV_DATABASE),
    ("redshift", "user", penny_redshift::config::ENV_USER),
];
/// The environment variable holding the PostgreSQL URL of the target.
pub const ENV_DATABASE_URL: &str = "DATABASE_URL";
/// The environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "PENNY_CONFIG";
/// The configuration file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "penny.toml";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Penny's built-in default.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// An environment variable (possibly loaded from `.env`).
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the default"),
            Origin::File(path) => write!(f, "the file {}", path.display()),
            Origin::Env(var) => write!(f, "the environment variable {var}"),
        }
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("the configuration file {} is not valid TOML: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A section Penny does not know.
    #[error("unknown section [{section}] in {}; the known sections are: {known}", path.display())]
    UnknownSection {
        /// The section.
        section: String,
        /// The file.
        path: PathBuf,
        /// The known sections, comma-separated.
        known: String,
    },
    /// A key Penny does not know (a typo would otherwise fall back to a default).
    #[error("unknown key `{key}` in {}; the keys of [{section}] are: {known}", path.display())]
    UnknownKey {
        /// The full key (`section.key`).
        key: String,
        /// Its section.
        section: String,
        /// The file.
        path: PathBuf,
        /// The section's known keys, comma-separated.
        known: String,
    },
    /// A secret written in the file.
    #[error(
        "`{key}` in {} looks like a secret; secrets are never read from the configuration file: \
         remove it and set the environment variable {env} (or put it in a .env file next to penny.toml)",
        path.display()
    )]
    SecretInFile {
        /// The full key.
        key: String,
        /// The file.
        path: PathBuf,
        /// The variable to use instead.
        env: &'static str,
    },
    /// A value of the wrong type or out of range.
    #[error("`{key}` = {value:?} (from {origin}): expected {expected}")]
    Invalid {
        /// The full key.
        key: String,
        /// The value found, as text.
        value: String,
        /// What was expected.
        expected: String,
        /// Where the value came from.
        origin: Origin,
    },
    /// A setting the requested command needs is not set anywhere.
    #[error("{what} is not set: {needed_for}; looked in {looked}")]
    Missing {
        /// The setting (key and/or variable).
        what: String,
        /// Why it is needed.
        needed_for: String,
        /// Where it was looked for.
        looked: String,
    },
}

/// Which Pennylane door(s) `penny sync` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The REST API (`penny-api`).
    Api,
    /// The Data Sharing warehouse (`penny-redshift`).
    Redshift,
    /// Both: each stream comes from the door that offers it, the API first.
    Both,
}

/// Where `penny sync` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// PostgreSQL (`penny-load`), at `DATABASE_URL`.
    Postgres,
    /// A folder of CSV files ([`CsvSink`](penny_sync::target::csv_sink::CsvSink)).
    Csv,
}

/// `[source]`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// `source.kind`: `api`, `redshift` or `both`.
    pub kind: SourceKind,
    /// `source.streams`: the streams to sync (empty: every stream the source offers).
    pub streams: Vec<String>,
}

/// `[api]`.
#[derive(Clone)]
pub struct ApiConfig {
    /// `api.base_url`.
    pub base_url: String,
    /// `api.page_size`: records per page (1 to 100).
    pub page_size: u32,
    /// `api.rate_limit_requests`: requests allowed per `rate_limit_per`.
    pub rate_limit_requests: u32,
    /// `api.rate_limit_per`: the rate-limit window.
    pub rate_limit_per: Duration,
    /// `api.reference_refresh`: how often the reference tables without a change log
    /// (journals, ledger accounts, fiscal years, bank accounts, categories, category
    /// groups) and the trial balance are read again (default 1 h). Journals and ledger
    /// accounts are also read at once when a changed ledger line names one not known yet.
    pub reference_refresh: Duration,
    /// `PENNYLANE_API_TOKEN` (environment only).
    pub token: Option<SecretString>,
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("rate_limit_requests", &self.rate_limit_requests)
            .field("rate_limit_per", &self.rate_limit_per)
            .field("reference_refresh", &self.reference_refresh)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `[redshift]`.
#[derive(Clone)]
pub struct RedshiftConfig {
    /// `redshift.host`.
    pub host: Option<String>,
    /// `redshift.port`.
    pub port: u16,
    /// `redshift.database`.
    pub database: Option<String>,
    /// `redshift.user`.
    pub user: Option<String>,
    /// `redshift.schema`: the shared schema (`etl` carries deletions).
    pub schema: String,
    /// `redshift.fetch_rows`: rows per cursor fetch.
    pub fetch_rows: u32,
    /// `redshift.ca_file`: a PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// `PENNYLANE_DATA_SHARING_KEY` (environment only).
    pub password: Option<SecretString>,
}

impl fmt::Debug for RedshiftConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedshiftConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("schema", &self.schema)
            .field("fetch_rows", &self.fetch_rows)
            .field("ca_file", &self.ca_file)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `[target]`.
#[derive(Clone)]
pub struct TargetConfig {
    /// `target.kind`: `postgres` or `csv`.
    pub kind: TargetKind,
    /// `target.raw_schema`: the PostgreSQL schema of the raw tables.
    pub raw_schema: String,
    /// `target.star_schema`: the PostgreSQL schema of the star schema and reports.
    pub star_schema: String,
    /// `target.csv_dir`: the folder of the CSV target.
    pub csv_dir: PathBuf,
    /// `target.csv_bom`: start each CSV file with a UTF-8 byte order mark (Excel on Windows).
    pub csv_bom: bool,
    /// `DATABASE_URL` (environment only: it usually carries a password).
    pub database_url: Option<SecretString>,
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("kind", &self.kind)
            .field("raw_schema", &self.raw_schema)
            .field("star_schema", &self.star_schema)
            .field("csv_dir", &self.csv_dir)
            .field("csv_bom", &self.csv_bom)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// `[sync]`.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// `sync.batch_rows`: rows per batch written to the target.
    pub batch_rows: usize,
    /// `sync.concurrency`: streams read at the same time.
    pub concurrency: usize,
    /// `sync.transform`: rebuild the star schema and reports after the raw load.
    pub transform: bool,
}

/// `[schedule]`.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// `schedule.every`: the cadence.
    pub every: Duration,
    /// `schedule.jitter`: a random delay up to this much added to each wait.
    pub jitter: Duration,
    /// `schedule.backoff_max`: the longest wait after repeated failures.
    pub backoff_max: Duration,
    /// `schedule.stop_grace`: how long a stop request waits for the current run.
    pub stop_grace: Duration,
}

/// `[fiscal]`.
#[derive(Debug, Clone)]
pub struct FiscalConfig {
    /// `fiscal.year_start` (`"MM-01"`): the month fiscal years start in, 1 to 12, for
    /// the companies whose source gives none (their trial balance and `dim_date`'s
    /// fiscal columns use twelve-month years starting on its first day).
    pub year_start_month: u32,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file read, if one was.
    pub file: Option<PathBuf>,
    /// `[source]`.
    pub source: SourceConfig,
    /// `[api]`.
    pub api: ApiConfig,
    /// `[redshift]`.
    pub redshift: RedshiftConfig,
    /// `[target]`.
    pub target: TargetConfig,
    /// `[sync]`.
    pub sync: SyncConfig,
    /// `[schedule]`.
    pub schedule: ScheduleConfig,
    /// `[fiscal]`.
    pub fiscal: FiscalConfig,
}

/// A known setting: its section, key and default (as TOML text).
struct Key {
    section: &'static str,
    key: &'static str,
    default: Option<&'static str>,
}

const fn key(section: &'static str, key: &'static str, default: Option<&'static str>) -> Key {
    Key {
        section,
        key,
        default,
    }
}

/// Every setting, in file order. Defaults are written as TOML values.
const KEYS: &[Key] = &[
    key("source", "kind", Some("\"api\"")),
    key("source", "streams", Some("[]")),
    key(
        "api",
        "base_url",
        Some("\"https://app.pennylane.com/api/external/v2\""),
    ),
    key("api", "page_size", Some("100")),
    key("api", "rate_limit_requests", Some("25")),
    key("api", "rate_limit_per", Some("\"5s\"")),
    key("api", "reference_refresh", Some("\"1h\"")),
    key("redshift", "host", None),
    key("redshift", "port", Some("5439")),
    key("redshift", "database", None),
    key("redshift", "user", None),
    key("redshift", "schema", Some("\"etl\"")),
    key("redshift", "fetch_rows", Some("1000")),
    key("redshift", "ca_file", None),
    key("target", "kind", Some("\"postgres\"")),
    key("target", "raw_schema", Some("\"pennylane_raw\"")),
    key("target", "star_schema", Some("\"pennylane\"")),
    key("target", "csv_dir", Some("\"penny-out\"")),
    key("target", "csv_bom", Some("false")),
    key("sync", "batch_rows", Some("5000")),
    key("sync", "concurrency", Some("4")),
    key("sync", "transform", Some("true")),
    key("schedule", "every", Some("\"10m\"")),
    key("schedule", "jitter", Some("\"0s\"")),
    key("schedule", "backoff_max", Some("\"30m\"")),
    key("schedule", "stop_grace", Some("\"60s\"")),
    key("fiscal", "year_start", Some("\"01-01\"")),
];

/// Keys that must never appear in the file, and the variable to use instead.
fn secret_env_for(section: &str, key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase();
    if k.contains("token") || k.contains("secret") || k.contains("api_key") {
        return Some(ENV_API_TOKEN);
    }
    if k.contains("password") || k == "pass" || k == "pwd" || (section == "redshift" && k == "key")
    {
        return Some(if section == "redshift" {
            ENV_DATA_SHARING_KEY
        } else {
            ENV_DATABASE_URL
        });
    }
    if k == "database_url" || k == "url" || k == "dsn" || k == "connection_string" {
        return Some(ENV_DATABASE_URL);
    }
    None
}

/// The environment variable that overrides `section.key`.
pub fn env_var_for(section: &str, key: &str) -> String {
    format!(
        "PENNY_{}_{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

/// The variables that set `section.key`, strongest first, as text for messages:
/// `PENNY_REDSHIFT_HOST or PENNYLANE_DATA_SHARING_HOST`.
pub fn env_vars_for(section: &str, key: &str) -> String {
    let own = env_var_for(section, key);
    match PENNYLANE_ENV_KEYS
        .iter()
        .find(|(s, k, _)| *s == section && *k == key)
    {
        Some((_, _, documented)) => format!("{own} or {documented}"),
        None => own,
    }
}

/// A value as found: TOML from the file or a default, or text from the environment.
#[derive(Debug, Clone)]
enum Raw {
    Toml(toml::Value),
    Text(String),
}

struct Found {
    raw: Raw,
    origin: Origin,
}

/// The settings after layering defaults, file and environment, before typing.
struct Layers {
    values: BTreeMap<(&'static str, &'static str), Found>,
    file: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration: `path` (or `PENNY_CONFIG`, or `./penny.toml` when it
    /// exists), then the process environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with(path, &|name| std::env::var(name).ok())
    }

    /// Loads the configuration with `env` as the environment (tests pass a map).
    pub fn load_with(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| env(ENV_CONFIG).map(PathBuf::from));
        let file = match explicit {
            Some(p) => Some(p),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                default.exists().then_some(default)
            }
        };
        let text = match &file {
            Some(p) => Some(
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        Config::from_parts(file, text.as_deref(), env)
    }

    /// Builds the configuration from a file's text (if any) and an environment.
    pub fn from_parts(
        file: Option<PathBuf>,
        text: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let layers = Layers::build(file, text, env)?;
        layers.into_config(env)
    }
}

impl Layers {
    fn build(
        file: Option<PathBuf>,
        text: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Layers, ConfigError> {
        let mut values = BTreeMap::new();
        for k in KEYS {
            if let Some(default) = k.default {
                let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {default}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .expect("the built-in defaults are valid TOML");
                values.insert(
                    (k.section, k.key),
                    Found {
                        raw: Raw::Toml(value),
                        origin: Origin::Default,
                    },
                );
            }
        }
        if let (Some(path), Some(text)) = (&file, text) {
            let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.clone(),
                message: e.to_string().trim_end().to_owned(),
            })?;
            let sections: Vec<&str> = dedup(KEYS.iter().map(|k| k.section));
            for (section, body) in table {
                let Some(&section_name) = sections.iter().find(|s| **s == section) else {
                    if let Some(env) = secret_env_for("", &section) {
                        return Err(ConfigError::SecretInFile {
                            key: section,
                            path: path.clone(),
                            env,
                        });
                    }
                    return Err(ConfigError::UnknownSection {
                        section,
                        path: path.clone(),
                        known: sections.join(", "),
                    });
                };
                let toml::Value::Table(body) = body else {
                    return Err(ConfigError::Invalid {
                        key: section.clone(),
                        value: body.to_string(),
                        expected: format!("a section: [{section}] followed by its keys"),
                        origin: Origin::File(path.clone()),
                    });
                };
                for (key, value) in body {
                    if let Some(env) = secret_env_for(section_name, &key) {
                        return Err(ConfigError::SecretInFile {
                            key: format!("{section_name}.{key}"),
                            path: path.clone(),
                            env,
                        });
                    }
                    let Some(k) = KEYS
                        .iter()
                        .find(|k| k.section == section_name && k.key == key)
                    else {
                        return Err(ConfigError::UnknownKey {
                            key: format!("{section_name}.{key}"),
                            section: section_name.to_owned(),
                            path: path.clone(),
                            known: KEYS
                                .iter()
                                .filter(|k| k.section == section_name)
                                .map(|k| k.key)
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    };
                    values.insert(
                        (k.section, k.key),
                        Found {
                            raw: Raw::Toml(value),
                            origin: Origin::File(path.clone()),
                        },
                    );
                }
            }
        }
        for &(section, key, var) in PENNYLANE_ENV_KEYS {
            if let Some(text) = env(var).filter(|v| !v.trim().is_empty()) {
                let k = KEYS
                    .iter()
                    .find(|k| k.section == section && k.key == key)
                    .expect("PENNYLANE_ENV_KEYS names known keys");
                values.insert(
                    (k.section, k.key),
                    Found {
                        raw: Raw::Text(text),
                        origin: Origin::Env(var.to_owned()),
                    },
                );
            }
        }
        for k in KEYS {
            let var = env_var_for(k.section, k.key);
            if let Some(text) = env(&var) {
                values.insert(
                    (k.section, k.key),
                    Found {
                        raw: Raw::Text(text),
                        origin: Origin::Env(var),
                    },
                );
            }
        }
        Ok(Layers { values, file })
    }

    fn looked(&self, section: &str, key: &str) -> String {
        let var = env_vars_for(section, key);
        match &self.file {
            Some(p) => format!(
                "{} ([{section}] {key}) and the environment ({var})",
                p.display()
            ),
            None => format!(
                "the environment ({var}); no configuration file was found (looked for ./{DEFAULT_CONFIG_FILE} and {ENV_CONFIG})"
            ),
        }
    }

    fn found(&self, section: &'static str, key: &'static str) -> Option<&Found> {
        self.values.get(&(section, key))
    }

    fn invalid(section: &str, key: &str, found: &Found, expected: &str) -> ConfigError {
        let value = match &found.raw {
            Raw::Toml(toml::Value::String(s)) => s.clone(),
            Raw::Toml(v) => v.to_string(),
            Raw::Text(t) => t.clone(),
        };
        ConfigError::Invalid {
            key: format!("{section}.{key}"),
            value,
            expected: expected.to_owned(),
            origin: found.origin.clone(),
        }
    }

    fn opt_string(
        &self,
        section: &'static str,
        key: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        match self.found(section, key) {
            None => Ok(None),
            Some(f) => match &f.raw {
                Raw::Toml(toml::Value::String(s)) | Raw::Text(s) => {
                    if s.trim().is_empty() {
                        Err(Layers::invalid(section, key, f, "a non-empty text"))
                    } else {
                        Ok(Some(s.clone()))
                    }
                }
                Raw::Toml(_) => Err(Layers::invalid(section, key, f, "a text in quotes")),
            },
        }
    }

    fn string(&self, section: &'static str, key: &'static str) -> Result<String, ConfigError> {
        self.opt_string(section, key)?
            .ok_or_else(|| ConfigError::Missing {
                what: format!("`{section}.{key}`"),
                needed_for: "it has no default".into(),
                looked: self.looked(section, key),
            })
    }

    fn int(
        &self,
        section: &'static str,
        key: &'static str,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let f = self
            .found(section, key)
            .ok_or_else(|| ConfigError::Missing {
                what: format!("`{section}.{key}`"),
                needed_for: "it has no default".into(),
                looked: self.looked(section, key),
            })?;
        let expected = format!("a whole number from {min} to {max}");
        let n = match &f.raw {
            Raw::Toml(toml::Value::Integer(n)) => *n,
            Raw::Text(t) => t
                .trim()
                .parse::<i64>()
                .map_err(|_| Layers::invalid(section, key, f, &expected))?,
            Raw::Toml(_) => return Err(Layers::invalid(section, key, f, &expected)),
        };
        if n < min || n > max {
            return Err(Layers::invalid(section, key, f, &expected));
        }
        Ok(n)
    }

    fn boolean(&self, section: &'static str, key: &'static str) -> Result<bool, ConfigError> {
        let f = self
            .found(section, key)
            .expect("every boolean setting has a default");
        match &f.raw {
            Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
            Raw::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(Layers::invalid(section, key, f, "true or false")),
            },
            Raw::Toml(_) => Err(Layers::invalid(section, key, f, "true or false")),
        }
    }

    fn duration(&self, section: &'static str, key: &'static str) -> Result<Duration, ConfigError> {
        let f = self
            .found(section, key)
            .expect("every duration setting has a default");
        let expected = "a duration such as \"30s\", \"10m\", \"1h30m\"";
        match &f.raw {
            Raw::Toml(toml::Value::String(s)) | Raw::Text(s) => {
                parse_duration(s).map_err(|_| Layers::invalid(section, key, f, expected))
            }
            Raw::Toml(_) => Err(Layers::invalid(section, key, f, expected)),
        }
    }

    fn list(&self, section: &'static str, key: &'static str) -> Result<Vec<String>, ConfigError> {
        let f = self
            .found(section, key)
            .expect("every list setting has a default");
        let expected = "a list of names: [\"a\", \"b\"] in the file, a,b in the environment";
        let items: Vec<String> = match &f.raw {
            Raw::Text(t) => t
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Raw::Toml(toml::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Layers::invalid(section, key, f, expected))?,
            Raw::Toml(_) => return Err(Layers::invalid(section, key, f, expected)),
        };
        Ok(items)
    }

    fn choice<T: Copy>(
        &self,
        section: &'static str,
        key: &'static str,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let s = self.string(section, key)?;
        let lower = s.trim().to_ascii_lowercase();
        choices
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let f = self.found(section, key).expect("string() found it");
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                Layers::invalid(section, key, f, &format!("one of {}", names.join(", ")))
            })
    }

    fn identifier(&self, section: &'static str, key: &'static str) -> Result<String, ConfigError> {
        let s = self.string(section, key)?;
        if s.len() > 63 || s.contains('\0') {
            let f = self.found(section, key).expect("string() found it");
            return Err(Layers::invalid(
                section,
                key,
                f,
                "a PostgreSQL schema name of at most 63 bytes",
            ));
        }
        Ok(s)
    }

    fn into_config(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let secret = |var: &str| {
            env(var)
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from)
        };
        let year_start_month = {
            let s = self.string("fiscal", "year_start")?;
            parse_month_start(&s).ok_or_else(|| {
                let f = self
                    .found("fiscal", "year_start")
                    .expect("string() found it");
                Layers::invalid(
                    "fiscal",
                    "year_start",
                    f,
                    "the first day of a month, \"MM-01\", such as \"01-01\" or \"07-01\"",
                )
            })?
        };
        let config = Config {
            file: self.file.clone(),
            source: SourceConfig {
                kind: self.choice(
                    "source",
                    "kind",
                    &[
                        ("api", SourceKind::Api),
                        ("redshift", SourceKind::Redshift),
                        ("both", SourceKind::Both),
                    ],
                )?,
                streams: self.list("source", "streams")?,
            },
            api: ApiConfig {
                base_url: self.string("api", "base_url")?,
                page_size: self.int("api", "page_size", 1, 100)? as u32,
                rate_limit_requests: self.int("api", "rate_limit_requests", 1, 100_000)? as u32,
                rate_limit_per: self.duration("api", "rate_limit_per")?,
                reference_refresh: self.duration("api", "reference_refresh")?,
                token: secret(ENV_API_TOKEN),
            },
            redshift: RedshiftConfig {
                host: self.opt_string("redshift", "host")?,
                port: self.int("redshift", "port", 1, 65_535)? as u16,
                database: self.opt_string("redshift", "database")?,
                user: self.opt_string("redshift", "user")?,
                schema: self.identifier("redshift", "schema")?,
                fetch_rows: self.int("redshift", "fetch_rows", 1, 1_000_000)? as u32,
                ca_file: self.opt_string("redshift", "ca_file")?.map(PathBuf::from),
                password: secret(ENV_DATA_SHARING_KEY),
            },
            target: TargetConfig {
                kind: self.choice(
                    "target",
                    "kind",
                    &[("postgres", TargetKind::Postgres), ("csv", TargetKind::Csv)],
                )?,
                raw_schema: self.identifier("target", "raw_schema")?,
                star_schema: self.identifier("target", "star_schema")?,
                csv_dir: PathBuf::from(self.string("target", "csv_dir")?),
                csv_bom: self.boolean("target", "csv_bom")?,
                database_url: secret(ENV_DATABASE_URL),
            },
            sync: SyncConfig {
                batch_rows: self.int(
                    "sync",
                    "batch_rows",
                    1,
                    penny_transform::MAX_BATCH_ROWS as i64,
                )? as usize,
                concurrency: self.int("sync", "concurrency", 1, 64)? as usize,
                transform: self.boolean("sync", "transform")?,
            },
            schedule: ScheduleConfig {
                every: self.duration("schedule", "every")?,
                jitter: self.duration("schedule", "jitter")?,
                backoff_max: self.duration("schedule", "backoff_max")?,
                stop_grace: self.duration("schedule", "stop_grace")?,
            },
            fiscal: FiscalConfig { year_start_month },
        };
        if config.schedule.every.is_zero() {
            let f = self.found("schedule", "every").expect("has a default");
            return Err(Layers::invalid(
                "schedule",
                "every",
                f,
                "a duration longer than zero",
            ));
        }
        Ok(config)
    }
}

impl Config {
    /// The API token, or an error saying how to provide it.
    pub fn api_token(&self) -> Result<&SecretString, ConfigError> {
        self.api.token.as_ref().ok_or_else(|| ConfigError::Missing {
            what: format!("the Pennylane API token ({ENV_API_TOKEN})"),
            needed_for: "the API source needs it (Pennylane > Settings > Connectivity > Developers: generate a token)".into(),
            looked: "the environment and ./.env".into(),
        })
    }

    /// The target database URL, or an error saying how to provide it.
    pub fn database_url(&self) -> Result<&SecretString, ConfigError> {
        self.target
            .database_url
            .as_ref()
            .ok_or_else(|| ConfigError::Missing {
                what: format!("the PostgreSQL URL ({ENV_DATABASE_URL})"),
                needed_for: "target.kind = \"postgres\" writes there (for example postgres://user:password@localhost:5433/penny); or set target.kind = \"csv\"".into(),
                looked: "the environment and ./.env".into(),
            })
    }

    /// A Data Sharing setting that has no default, or an error naming it.
    pub fn redshift_required<'a>(
        &self,
        value: &'a Option<String>,
        key: &str,
    ) -> Result<&'a str, ConfigError> {
        value.as_deref().ok_or_else(|| ConfigError::Missing {
            what: format!("`redshift.{key}`"),
            needed_for: "source.kind is \"redshift\" or \"both\"".into(),
            looked: match &self.file {
                Some(p) => format!(
                    "{} ([redshift] {key}) and the environment ({})",
                    p.display(),
                    env_vars_for("redshift", key)
                ),
                None => format!(
                    "the environment ({}); no configuration file was found",
                    env_vars_for("redshift", key)
                ),
            },
        })
    }

    /// The effective settings as `penny.toml` text, secrets shown only as set or not.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let kind = match self.source.kind {
            SourceKind::Api => "api",
            SourceKind::Redshift => "redshift",
            SourceKind::Both => "both",
        };
        let target = match self.target.kind {
            TargetKind::Postgres => "postgres",
            TargetKind::Csv => "csv",
        };
        let set = |s: &Option<SecretString>| if s.is_some() { "set" } else { "not set" };
        out.push_str(&format!(
            "[source] kind = \"{kind}\", streams = {:?}\n",
            self.source.streams
        ));
        out.push_str(&format!(
            "[api] base_url = \"{}\", page_size = {}, reference_refresh = \"{}\", {ENV_API_TOKEN} {}\n",
            self.api.base_url,
            self.api.page_size,
            format_duration(self.api.reference_refresh),
            set(&self.api.token)
        ));
        out.push_str(&format!(
            "[target] kind = \"{target}\", raw_schema = \"{}\", star_schema = \"{}\", csv_dir = \"{}\", {ENV_DATABASE_URL} {}\n",
            self.target.raw_schema,
            self.target.star_schema,
            self.target.csv_dir.display(),
            set(&self.target.database_url)
        ));
        out.push_str(&format!(
            "[schedule] every = \"{}\", jitter = \"{}\"\n",
            format_duration(self.schedule.every),
            format_duration(self.schedule.jitter)
        ));
        out
    }
}

fn dedup(items: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The month of `"MM-01"` (fiscal years assumed by Penny start on a month's first day,
/// so that they are made of whole months, as the saved sums are).
fn parse_month_start(s: &str) -> Option<u32> {
    let (m, d) = s.trim().split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && d == 1).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_parts(Some("penny.toml".into()), Some(text), &env_of(env))
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let c = Config::from_parts(None, None, &env_of(&[])).unwrap();
        assert_eq!(c.source.kind, SourceKind::Api);
        assert_eq!(c.schedule.every, Duration::from_secs(600));
        assert_eq!(c.target.raw_schema, "pennylane_raw");
        assert_eq!(c.sync.batch_rows, 5000);
        assert!(c.api.token.is_none());
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let text = include_str!("../../penny.example.toml");
        let c = load(text, &[]).unwrap();
        assert_eq!(c.source.kind, SourceKind::Api);
        // Every known key is documented in the example.
        for k in KEYS {
            assert!(
                text.contains(&format!("{} =", k.key)) || text.contains(&format!("# {} =", k.key)),
                "penny.example.toml does not document {}.{}",
                k.section,
                k.key
            );
        }
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load(
            "[sync]\nbatch_rows = 100\n[schedule]\nevery = \"5m\"\n",
            &[
                ("PENNY_SYNC_BATCH_ROWS", "2000"),
                ("PENNY_SOURCE_STREAMS", "customers, journals"),
            ],
        )
        .unwrap();
        assert_eq!(c.sync.batch_rows, 2000);
        assert_eq!(c.schedule.every, Duration::from_secs(300));
        assert_eq!(c.source.streams, vec!["customers", "journals"]);
    }

    #[test]
    fn secrets_come_from_the_environment_only() {
        let err = load("[api]\ntoken = \"abc\"\n", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("api.token") && msg.contains(ENV_API_TOKEN),
            "{msg}"
        );
        let err = load("[redshift]\npassword = \"x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains(ENV_DATA_SHARING_KEY));
        let err = load("[redshift]\nkey = \"x\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("PENNYLANE_DATA_SHARING_KEY"),
            "{err}"
        );
        let err = load("[target]\ndatabase_url = \"postgres://u:p@h/db\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains(ENV_DATABASE_URL));

        let c = load("", &[(ENV_API_TOKEN, "s3cr3t-value")]).unwrap();
        assert_eq!(c.api_token().unwrap().expose_secret(), "s3cr3t-value");
        assert!(
            !format!("{c:?}").contains("s3cr3t"),
            "Debug must redact the token"
        );
    }

    #[test]
    fn wrong_values_name_the_key_the_value_and_the_origin() {
        let err = load("[sync]\nbatch_rows = \"many\"\n", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("sync.batch_rows") && msg.contains("many") && msg.contains("penny.toml"),
            "{msg}"
        );

        let err = load("", &[("PENNY_SCHEDULE_EVERY", "often")]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("schedule.every") && msg.contains("PENNY_SCHEDULE_EVERY"),
            "{msg}"
        );

        let err = load("[source]\nkind = \"ftp\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("\"api\", \"redshift\", \"both\""),
            "{err}"
        );

        let err = load("[api]\npage_size = 500\n", &[]).unwrap_err();
        assert!(err.to_string().contains("from 1 to 100"), "{err}");
    }

    #[test]
    fn reference_refresh_defaults_to_an_hour_and_follows_the_file_then_the_environment() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.api.reference_refresh, Duration::from_secs(3600));
        let c = load("[api]\nreference_refresh = \"15m\"\n", &[]).unwrap();
        assert_eq!(c.api.reference_refresh, Duration::from_secs(900));
        let c = load(
            "[api]\nreference_refresh = \"15m\"\n",
            &[("PENNY_API_REFERENCE_REFRESH", "6h")],
        )
        .unwrap();
        assert_eq!(c.api.reference_refresh, Duration::from_secs(6 * 3600));
        let err = load("[api]\nreference_refresh = \"soon\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("api.reference_refresh"), "{err}");
    }

    #[test]
    fn unknown_keys_and_sections_are_errors() {
        let err = load("[sync]\nbatchrows = 1\n", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("sync.batchrows") && msg.contains("batch_rows"),
            "{msg}"
        );
        let err = load("[synk]\n", &[]).unwrap_err();
        assert!(err.to_string().contains("[synk]"), "{err}");
        let err = load("[sync\n", &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn missing_required_settings_say_where_they_were_looked_for() {
        let c = load("[source]\nkind = \"redshift\"\n", &[]).unwrap();
        let err = c.redshift_required(&c.redshift.host, "host").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("redshift.host")
                && msg.contains("PENNY_REDSHIFT_HOST")
                && msg.contains("penny.toml"),
            "{msg}"
        );
        assert!(msg.contains("PENNYLANE_DATA_SHARING_HOST"), "{msg}");
        let err = c.api_token().unwrap_err();
        assert!(err.to_string().contains("PENNYLANE_API_TOKEN"), "{err}");
    }

    #[test]
    fn the_documented_pennylane_variables_set_their_keys_below_penny_overrides() {
        let env = [
            ("PENNYLANE_DATA_SHARING_HOST", "dw.example.com"),
            ("PENNYLANE_DATA_SHARING_PORT", "5440"),
            ("PENNYLANE_DATA_SHARING_DATABASE", "pennylane"),
            ("PENNYLANE_DATA_SHARING_USER", "u_42"),
            ("PENNYLANE_DATA_SHARING_KEY", "k3y"),
            (
                "PENNYLANE_API_BASE_URL",
                "http://127.0.0.1:9/api/external/v2",
            ),
        ];
        // They win over the file...
        let c = load(
            "[redshift]\nhost = \"file.example.com\"\nport = 5439\n",
            &env,
        )
        .unwrap();
        assert_eq!(c.redshift.host.as_deref(), Some("dw.example.com"));
        assert_eq!(c.redshift.port, 5440);
        assert_eq!(c.redshift.database.as_deref(), Some("pennylane"));
        assert_eq!(c.redshift.user.as_deref(), Some("u_42"));
        assert_eq!(c.api.base_url, "http://127.0.0.1:9/api/external/v2");
        assert_eq!(c.redshift.password.as_ref().unwrap().expose_secret(), "k3y");
        // ...and PENNY_<SECTION>_<KEY> wins over them.
        let mut env = env.to_vec();
        env.push(("PENNY_REDSHIFT_HOST", "override.example.com"));
        let c = load("", &env).unwrap();
        assert_eq!(c.redshift.host.as_deref(), Some("override.example.com"));
        // A wrong value names the documented variable it came from.
        let err = load("", &[("PENNYLANE_DATA_SHARING_PORT", "fivefour")]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("redshift.port") && msg.contains("PENNYLANE_DATA_SHARING_PORT"),
            "{msg}"
        );
    }

    #[test]
    fn fiscal_settings_are_checked() {
        let c = load("[fiscal]\nyear_start = \"07-01\"\n", &[]).unwrap();
        assert_eq!(c.fiscal.year_start_month, 7);
        assert_eq!(load("", &[]).unwrap().fiscal.year_start_month, 1);
        assert!(load("[fiscal]\nyear_start = \"13-01\"\n", &[]).is_err());
        let mid_month = load("[fiscal]\nyear_start = \"07-15\"\n", &[]).unwrap_err();
        assert!(
            mid_month.to_string().contains("fiscal.year_start"),
            "{mid_month}"
        );
        assert!(mid_month.to_string().contains("MM-01"), "{mid_month}");
        // The accounting currency was never used: the key is refused as unknown.
        assert!(load("[fiscal]\ncurrency = \"EUR\"\n", &[]).is_err());
    }
}
