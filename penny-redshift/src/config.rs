//! Connection settings for Pennylane Data Sharing: host, port, database, user and
//! the Data Sharing key, from code, from the environment or from a URL.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// The port Redshift listens on unless Pennylane says otherwise.
pub const DEFAULT_PORT: u16 = 5439;
/// How long establishing a connection (TCP, TLS and login together) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one query or one `FETCH` may take by default.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// The environment variable holding the warehouse's host name.
pub const ENV_HOST: &str = "PENNYLANE_DATA_SHARING_HOST";
/// The environment variable holding the port (optional, [`DEFAULT_PORT`] when absent).
pub const ENV_PORT: &str = "PENNYLANE_DATA_SHARING_PORT";
/// The environment variable holding the database name.
pub const ENV_DATABASE: &str = "PENNYLANE_DATA_SHARING_DATABASE";
/// The environment variable holding the user name.
pub const ENV_USER: &str = "PENNYLANE_DATA_SHARING_USER";
/// The environment variable holding the Data Sharing key (the password).
pub const ENV_KEY: &str = "PENNYLANE_DATA_SHARING_KEY";

/// How the server's TLS certificate is checked. TLS itself is always required.
#[derive(Clone, Default)]
pub enum TlsVerification {
    /// Verify the certificate chain and the host name against the platform's
    /// trusted roots plus [`TlsOptions::extra_roots`] (the default; Redshift's
    /// certificates chain to public CAs).
    #[default]
    Verify,
    /// Encrypt, but accept any certificate. Only for tests against a server with a
    /// self-signed certificate: anyone on the path could impersonate the server.
    DangerAcceptAnyCertificate,
}

impl fmt::Debug for TlsVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsVerification::Verify => f.write_str("Verify"),
            TlsVerification::DangerAcceptAnyCertificate => {
                f.write_str("DangerAcceptAnyCertificate")
            }
        }
    }
}

/// TLS settings.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Whether and how the server certificate is verified.
    pub verification: TlsVerification,
    /// CA certificates trusted in addition to the platform's roots (a private CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Trust only [`extra_roots`](Self::extra_roots), not the platform's roots.
    pub only_extra_roots: bool,
}

impl TlsOptions {
    /// Adds every certificate of a PEM document (`-----BEGIN CERTIFICATE-----` blocks)
    /// as a trusted CA.
    pub fn add_ca_pem(&mut self, pem: &[u8]) -> Result<usize, Error> {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Config {
                what: format!("cannot read a CA certificate from PEM: {e}"),
            })?;
            self.extra_roots.push(cert);
            added += 1;
        }
        if added == 0 {
            return Err(Error::Config {
                what: "the PEM document holds no CERTIFICATE block".into(),
            });
        }
        Ok(added)
    }

    /// Adds every certificate of a PEM file as a trusted CA.
    pub fn add_ca_file(&mut self, path: &std::path::Path) -> Result<usize, Error> {
        let pem = std::fs::read(path).map_err(|e| Error::Config {
            what: format!("cannot read CA file {}: {e}", path.display()),
        })?;
        self.add_ca_pem(&pem)
    }
}

/// Everything needed to reach the Data Sharing warehouse.
///
/// `Debug` never shows the key:
///
/// ```
/// use penny_redshift::DataSharingConfig;
/// let config = DataSharingConfig::new("example.redshift.amazonaws.com", "pennylane", "u_123", "s3cr3t");
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// assert_eq!(config.port, 5439);
/// ```
#[derive(Debug, Clone)]
pub struct DataSharingConfig {
    /// The host name Pennylane gave (for example `xxx.redshift.amazonaws.com`).
    pub host: String,
    /// The port, [`DEFAULT_PORT`] unless told otherwise.
    pub port: u16,
    /// The database name.
    pub database: String,
    /// The user name.
    pub user: String,
    /// The Data Sharing key (the password). Never printed.
    pub key: SecretString,
    /// Limit for establishing a connection (TCP, TLS and login).
    pub connect_timeout: Duration,
    /// Limit for each query and each `FETCH` of a cursor.
    pub query_timeout: Duration,
    /// TLS settings (TLS is always on; verification can be relaxed for tests).
    pub tls: TlsOptions,
}

impl DataSharingConfig {
    /// A configuration with the default port, timeouts and TLS verification.
    pub fn new(
        host: impl Into<String>,
        database: impl Into<String>,
        user: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        DataSharingConfig {
            host: host.into(),
            port: DEFAULT_PORT,
            database: database.into(),
            user: user.into(),
            key: SecretString::from(key.into()),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            tls: TlsOptions::default(),
        }
    }

    /// Reads `PENNYLANE_DATA_SHARING_HOST`, `_PORT` (optional), `_DATABASE`, `_USER`
    /// and `PENNYLANE_DATA_SHARING_KEY` from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), with variables looked up by `lookup`
    /// (a map in tests, a config file layer in an application).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let required = |name: &str| -> Result<String, Error> {
            match lookup(name) {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                _ => Err(Error::Config {
                    what: format!("environment variable {name} is not set"),
                }),
            }
        };
        let host = required(ENV_HOST)?;
        let database = required(ENV_DATABASE)?;
        let user = required(ENV_USER)?;
        // The key is taken as is: spaces may be part of it.
        let key = match lookup(ENV_KEY) {
            Some(k) if !k.is_empty() => k,
            _ => {
                return Err(Error::Config {
                    what: format!("environment variable {ENV_KEY} is not set"),
                });
            }
        };
        let mut config = DataSharingConfig::new(host, database, user, key);
        if let Some(port) = lookup(ENV_PORT).filter(|p| !p.trim().is_empty()) {
            config.port = parse_port(port.trim(), ENV_PORT)?;
        }
        Ok(config)
    }

    /// Reads a `postgres://user:key@host:port/database` URL (`postgresql://` and
    /// `redshift://` are accepted too). The port defaults to [`DEFAULT_PORT`].
    /// Error messages never repeat the URL, which holds the key.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let url = url.trim();
        let normalised = match url.strip_prefix("redshift://") {
            Some(rest) => format!("postgres://{rest}"),
            None => url.to_owned(),
        };
        if !normalised.starts_with("postgres://") && !normalised.starts_with("postgresql://") {
            return Err(Error::Config {
                what: "a Data Sharing URL starts with postgres://, postgresql:// or redshift://"
                    .into(),
            });
        }
        let parsed = tokio_postgres::Config::from_str(&normalised).map_err(|e| Error::Config {
            what: format!(
                "cannot read the Data Sharing URL: {}",
                crate::error::chain(&e)
            ),
        })?;
        let host = match parsed.get_hosts() {
            [tokio_postgres::config::Host::Tcp(host)] => host.clone(),
            [] => {
                return Err(Error::Config {
                    what: "the Data Sharing URL names no host".into(),
                });
            }
            _ => {
                return Err(Error::Config {
                    what: "the Data Sharing URL must name exactly one TCP host".into(),
                });
            }
        };
        // tokio-postgres fills in PostgreSQL's 5432 when the URL has no port: look.
        let port = match parsed.get_ports() {
            _ if !url_has_port(&normalised) => DEFAULT_PORT,
            [] => DEFAULT_PORT,
            [port] => *port,
            _ => {
                return Err(Error::Config {
                    what: "the Data Sharing URL must name at most one port".into(),
                });
            }
        };
        let database = parsed.get_dbname().ok_or_else(|| Error::Config {
            what: "the Data Sharing URL names no database (postgres://user:key@host:5439/DATABASE)"
                .into(),
        })?;
        let user = parsed.get_user().ok_or_else(|| Error::Config {
            what: "the Data Sharing URL names no user".into(),
        })?;
        let key = parsed
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        let mut config = DataSharingConfig::new(host, database, user, key);
        config.port = port;
        Ok(config)
    }

    /// Accept any server certificate (tests against self-signed servers only).
    pub fn danger_accept_any_certificate(mut self) -> Self {
        self.tls.verification = TlsVerification::DangerAcceptAnyCertificate;
        self
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The tokio-postgres settings for this configuration (TLS required).
    pub(crate) fn pg_config(&self) -> tokio_postgres::Config {
        let mut pg = tokio_postgres::Config::new();
        pg.host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.user)
            .password(self.key.expose_secret())
            .ssl_mode(tokio_postgres::config::SslMode::Require)
            .connect_timeout(self.connect_timeout);
        pg
    }
}

/// Whether the URL's authority (`user:key@host:port`) names a port.
fn url_has_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => host_port.contains(':'),
    }
}

fn parse_port(text: &str, from: &str) -> Result<u16, Error> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::Config {
            what: format!("{from}: `{text}` is not a port number (1-65535)"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_the_environment_with_a_default_port() {
        let vars: HashMap<&str, &str> = [
            (ENV_HOST, "dw.example.com"),
            (ENV_DATABASE, "pennylane"),
            (ENV_USER, "u_42"),
            (ENV_KEY, "k e y"),
        ]
        .into();
        let config =
            DataSharingConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).expect("ok");
        assert_eq!(config.host, "dw.example.com");
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.key.expose_secret(), "k e y");
        assert!(matches!(config.tls.verification, TlsVerification::Verify));
    }

    #[test]
    fn names_the_missing_variable_and_bad_port() {
        let err = DataSharingConfig::from_lookup(|n| (n == ENV_HOST).then(|| "h".into()))
            .expect_err("missing");
        assert!(err.to_string().contains(ENV_DATABASE), "{err}");
        let vars: HashMap<&str, &str> = [
            (ENV_HOST, "h"),
            (ENV_DATABASE, "d"),
            (ENV_USER, "u"),
            (ENV_KEY, "k"),
            (ENV_PORT, "99999"),
        ]
        .into();
        let err = DataSharingConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string()))
            .expect_err("bad port");
        assert!(err.to_string().contains("99999"), "{err}");
    }

    #[test]
    fn reads_a_url_without_leaking_the_key() {
        let c = DataSharingConfig::from_url("redshift://u_1:t0p%20secret@dw.example.com/pl")
            .expect("url");
        assert_eq!(
            (
                c.host.as_str(),
                c.port,
                c.database.as_str(),
                c.user.as_str()
            ),
            ("dw.example.com", 5439, "pl", "u_1")
        );
        assert_eq!(c.key.expose_secret(), "t0p secret");
        let c = DataSharingConfig::from_url("postgres://u@[::1]:6000/pl").expect("v6");
        assert_eq!((c.host.as_str(), c.port), ("::1", 6000));
        let shown = format!("{c:?}");
        assert!(!shown.contains("t0p"), "{shown}");

        let err = DataSharingConfig::from_url("postgres://u:hunter2@h:notaport/db")
            .expect_err("bad port");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = DataSharingConfig::from_url("postgres://u:hunter2@h:5439").expect_err("no db");
        assert!(err.to_string().contains("no database"), "{err}");
        assert!(DataSharingConfig::from_url("mysql://u@h/db").is_err());
    }

    #[test]
    fn reads_ca_pem_and_refuses_garbage() {
        let mut tls = TlsOptions::default();
        assert!(tls.add_ca_pem(b"not a pem").is_err());
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        let pem = generated.cert.pem();
        assert_eq!(tls.add_ca_pem(pem.as_bytes()).expect("pem"), 1);
        assert_eq!(tls.extra_roots.len(), 1);
    }
}
