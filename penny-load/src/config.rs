//! Where and how to connect: a URL or its parts, optional TLS, the target schema.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

use crate::error::LoadError;
use crate::ident;

/// The schema tables are written to unless another is chosen.
pub const DEFAULT_SCHEMA: &str = "penny";

/// How long a full refresh waits for readers of the old table before it gives up the
/// rename swap and rewrites the table in place instead (see the crate docs).
pub const DEFAULT_SWAP_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// How often, at most, a full read's resume point is made durable by default: one
/// second (at Pennylane's 5 requests a second, a killed read repeats at most a few
/// pages; a faster source commits no more than once a second).
pub const DEFAULT_STAGE_INTERVAL: Duration = Duration::from_secs(1);

/// Whether and how to encrypt the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP (or a Unix socket). Fine on a loopback or private network.
    #[default]
    Disable,
    /// TLS required, the server's certificate verified against `ca_file` (PEM) when
    /// given, otherwise against the system's root certificates.
    Require {
        /// A PEM file of CA certificates to trust instead of the system's.
        ca_file: Option<PathBuf>,
    },
}

/// How to reach a PostgreSQL target, and which schema to write into.
///
/// Built from a URL ([`PgConfig::from_url`]) or from parts ([`PgConfig::from_parts`]).
/// The password never appears in `Debug` output or error messages.
///
/// ```
/// use penny_load::{PgConfig, TlsMode};
///
/// let config = PgConfig::from_url("postgres://penny:s3cret@db.example:5432/reporting?sslmode=require")?
///     .with_schema("pennylane");
/// assert_eq!(config.schema(), "pennylane");
/// assert_eq!(config.tls(), &TlsMode::Require { ca_file: None });
/// assert!(!format!("{config:?}").contains("s3cret"));
/// # Ok::<(), penny_load::LoadError>(())
/// ```
#[derive(Clone)]
pub struct PgConfig {
    pg: tokio_postgres::Config,
    schema: String,
    tls: TlsMode,
    swap_lock_timeout: Duration,
    replace_in_place_below: u64,
    stage_interval: Duration,
}

impl PgConfig {
    /// A configuration from a `postgres://user:password@host:port/database?...` URL (or a
    /// `key=value` connection string). `sslmode=require` turns TLS on.
    pub fn from_url(url: &str) -> Result<Self, LoadError> {
        let url = SecretString::from(url.to_owned());
        let pg = tokio_postgres::Config::from_str(url.expose_secret()).map_err(|e| {
            LoadError::Config(format!("the PostgreSQL URL could not be parsed: {e}"))
        })?;
        let tls = match pg.get_ssl_mode() {
            SslMode::Require => TlsMode::Require { ca_file: None },
            _ => TlsMode::Disable,
        };
        Self::from_pg(pg, tls)
    }

    /// A configuration from its parts.
    pub fn from_parts(
        host: &str,
        port: u16,
        user: &str,
        password: Option<SecretString>,
        database: &str,
    ) -> Result<Self, LoadError> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(host).port(port).user(user).dbname(database);
        if let Some(password) = password {
            pg.password(password.expose_secret());
        }
        Self::from_pg(pg, TlsMode::Disable)
    }

    fn from_pg(mut pg: tokio_postgres::Config, tls: TlsMode) -> Result<Self, LoadError> {
        if pg.get_hosts().is_empty() {
            return Err(LoadError::Config("no host given".into()));
        }
        if pg.get_user().is_none() {
            return Err(LoadError::Config("no user given".into()));
        }
        if pg.get_application_name().is_none() {
            pg.application_name("penny-load");
        }
        Ok(PgConfig {
            pg,
            schema: DEFAULT_SCHEMA.to_owned(),
            tls,
            swap_lock_timeout: DEFAULT_SWAP_LOCK_TIMEOUT,
            replace_in_place_below: 0,
            stage_interval: DEFAULT_STAGE_INTERVAL,
        })
    }

    /// Writes into `schema` instead of [`DEFAULT_SCHEMA`].
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets the TLS mode.
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Names the connections in `pg_stat_activity` (default `penny-load`).
    pub fn with_application_name(mut self, name: &str) -> Self {
        self.pg.application_name(name);
        self
    }

    /// How long a full refresh waits for the old table's readers before rewriting it
    /// in place instead of swapping (default [`DEFAULT_SWAP_LOCK_TIMEOUT`]).
    pub fn with_swap_lock_timeout(mut self, timeout: Duration) -> Self {
        self.swap_lock_timeout = timeout;
        self
    }

    /// Applies a full read of an existing table holding fewer than `rows` rows as a
    /// difference, in place, instead of building a new table and swapping it in
    /// (default 0: never).
    ///
    /// The rows read are staged, then one statement deletes the rows whose key was not
    /// read, inserts the new keys and updates only the rows whose values changed, in the
    /// commit's transaction: readers see the old rows or the new ones, no lock is taken
    /// on the table beyond the changed rows, and the commit counts what really changed
    /// (a full read of unchanged data counts 0 updated). It applies when the table's
    /// columns and key already match the schema (otherwise the full refresh rebuilds
    /// it). Meant for small tables read whole at every run (reference tables,
    /// dimensions, reports); large ones load faster through a new table.
    pub fn with_replace_in_place_below(mut self, rows: u64) -> Self {
        self.replace_in_place_below = rows;
        self
    }

    /// The row count below which a full read is applied in place (0: never).
    pub fn replace_in_place_below(&self) -> u64 {
        self.replace_in_place_below
    }

    /// Makes a full read's resume points durable at most every `interval` (default
    /// [`DEFAULT_STAGE_INTERVAL`]; zero: at every one). Each time, the rows copied so
    /// far into the new table are committed (still unseen: the table being replaced
    /// stays in place until the read's end) with the resume point.
    pub fn with_stage_interval(mut self, interval: Duration) -> Self {
        self.stage_interval = interval;
        self
    }

    /// How often, at most, a full read's resume point is made durable.
    pub fn stage_interval(&self) -> Duration {
        self.stage_interval
    }

    /// The target schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The TLS mode.
    pub fn tls(&self) -> &TlsMode {
        &self.tls
    }

    /// The database name, if the configuration names one (otherwise the server uses
    /// the user's name).
    pub fn database(&self) -> Option<&str> {
        self.pg.get_dbname()
    }

    /// The swap lock timeout.
    pub fn swap_lock_timeout(&self) -> Duration {
        self.swap_lock_timeout
    }

    /// `host:port/database`, for messages (never the password).
    pub fn target(&self) -> String {
        let host = match self.pg.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        };
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        let db = self
            .pg
            .get_dbname()
            .or(self.pg.get_user())
            .unwrap_or_default();
        format!("{host}:{port}/{db}")
    }

    /// Opens a connection (its driver runs on a spawned Tokio task), with the session
    /// time zone set to UTC.
    pub async fn connect(&self) -> Result<Client, LoadError> {
        ident::check("schema", &self.schema)?;
        let connect_error = |source| LoadError::connect(self.target(), source);
        let client = match &self.tls {
            TlsMode::Disable => {
                let (client, connection) = self.pg.connect(NoTls).await.map_err(connect_error)?;
                spawn_connection(connection);
                client
            }
            TlsMode::Require { ca_file } => {
                let mut pg = self.pg.clone();
                pg.ssl_mode(SslMode::Require);
                let tls =
                    tokio_postgres_rustls::MakeRustlsConnect::new(rustls_config(ca_file.as_ref())?);
                let (client, connection) = pg.connect(tls).await.map_err(connect_error)?;
                spawn_connection(connection);
                client
            }
        };
        client
            .batch_execute("SET TIME ZONE 'UTC'")
            .await
            .map_err(connect_error)?;
        Ok(client)
    }
}

fn spawn_connection<F>(connection: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            // The client sees the same failure on its next statement.
            tracing::debug!(%error, "PostgreSQL connection ended");
        }
    });
}

/// A rustls client configuration on the aws-lc-rs provider, built with
/// `builder_with_provider` so it does not depend on a process-wide default provider.
fn rustls_config(ca_file: Option<&PathBuf>) -> Result<rustls::ClientConfig, LoadError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                LoadError::Tls(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    LoadError::Tls(format!("bad certificate in {}: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    LoadError::Tls(format!("unusable certificate in {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(LoadError::Tls(format!(
                    "no system root certificates found ({} errors); give a CA file",
                    found.errors.len()
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LoadError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("target", &self.target())
            .field("user", &self.pg.get_user())
            .field("password", &self.pg.get_password().map(|_| "<redacted>"))
            .field("schema", &self.schema)
            .field("tls", &self.tls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_parts_without_showing_secrets() {
        let c = PgConfig::from_url("postgres://u:hunter2@127.0.0.1:5433/books").expect("url");
        assert_eq!(c.target(), "127.0.0.1:5433/books");
        assert_eq!(c.schema(), DEFAULT_SCHEMA);
        assert_eq!(c.tls(), &TlsMode::Disable);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );

        let p = PgConfig::from_parts("localhost", 5432, "u", Some("pw".to_owned().into()), "db")
            .expect("parts")
            .with_schema("reporting");
        assert_eq!((p.schema(), p.database()), ("reporting", Some("db")));
        assert!(!format!("{p:?}").contains("pw\""));
    }

    #[test]
    fn refuses_unusable_urls() {
        let err = PgConfig::from_url("postgres://u@h/db?sslmode=bogus").expect_err("bad");
        assert!(err.to_string().contains("could not be parsed"), "{err}");
        assert!(PgConfig::from_url("postgres:///db").is_err());
    }

    #[test]
    fn builds_a_tls_config_from_a_ca_file_and_names_a_bad_one() {
        let err = rustls_config(Some(&PathBuf::from("/nonexistent/ca.pem"))).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
