//! Connecting over TLS: the TCP connection, the TLS handshake (rustls with the
//! aws-lc-rs provider) and the login, each failure named by its [`Stage`].

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DataSharingConfig, TlsVerification};
use crate::error::{Error, Stage, chain, sqlstate};

/// The session settings every connection starts with, so that text results have
/// one format whatever the server's defaults: ISO dates and instants in UTC.
/// Both statements exist on Redshift.
const SESSION_SETUP: &str = "SET DateStyle TO 'ISO, MDY'; SET TIME ZONE 'UTC'";

/// An open, logged-in connection to the warehouse.
///
/// Dropping it closes the connection.
pub struct Connection {
    pub(crate) client: tokio_postgres::Client,
    address: String,
    query_timeout: Duration,
    driver: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Opens a TLS connection and logs in, within `config.connect_timeout`.
///
/// Each failure says which step failed ([`Stage::Tcp`], [`Stage::Tls`] or
/// [`Stage::Auth`]) and on which `host:port`; the key is never part of a message.
pub async fn connect(config: &DataSharingConfig) -> Result<Connection, Error> {
    let address = config.address();
    let tls = tls_config(config)?;
    let limit = config.connect_timeout;
    let timeout = |stage, what: &str| Error::Timeout {
        address: address.clone(),
        stage,
        what: what.to_owned(),
        after: limit,
    };

    let tcp = tokio::time::timeout(
        limit,
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await
    .map_err(|_| timeout(Stage::Tcp, "opening the TCP connection"))?
    .map_err(|e| Error::Connect {
        address: address.clone(),
        stage: Stage::Tcp,
        reason: e.to_string(),
        code: None,
    })?;
    // Cursor fetches are request/response: don't wait for Nagle.
    let _ = tcp.set_nodelay(true);

    let mut maker = MakeRustlsConnect::new(tls);
    let tls_connect = <MakeRustlsConnect as MakeTlsConnect<TcpStream>>::make_tls_connect(
        &mut maker,
        &config.host,
    )
    .map_err(|never| match never {})?;
    let (client, connection) =
        tokio::time::timeout(limit, config.pg_config().connect_raw(tcp, tls_connect))
            .await
            .map_err(|_| timeout(Stage::Auth, "negotiating TLS and logging in"))?
            .map_err(|e| classify_connect_error(&address, &e))?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %chain(&e), "Data Sharing connection ended with an error");
        }
    });
    let connection = Connection {
        client,
        address,
        query_timeout: config.query_timeout,
        driver,
    };
    connection
        .simple_query(
            SESSION_SETUP,
            "setting the session's date style and time zone",
        )
        .await?;
    Ok(connection)
}

/// Which step a failed `connect_raw` was at: tokio-postgres reports a refused or
/// failed handshake as its `Tls` kind ("error performing TLS handshake"), and the
/// server's refusals during login as SQLSTATE class 28 (and 3D000, unknown database).
fn classify_connect_error(address: &str, error: &tokio_postgres::Error) -> Error {
    let text = chain(error);
    let stage = if error.as_db_error().is_some() {
        Stage::Auth
    } else if error
        .to_string()
        .starts_with("error performing TLS handshake")
    {
        Stage::Tls
    } else if text.contains("authentication") || text.contains("password") {
        Stage::Auth
    } else {
        // The server closed or garbled the session during the handshake: a TLS
        // endpoint that is not PostgreSQL, or a dropped connection.
        Stage::Tls
    };
    Error::Connect {
        address: address.to_owned(),
        stage,
        reason: text,
        code: sqlstate(error),
    }
}

impl Connection {
    /// `host:port` of the server, for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Runs `sql` with the simple (text) protocol within the query timeout.
    /// `what` names the step in errors.
    pub(crate) async fn simple_query(
        &self,
        sql: &str,
        what: &str,
    ) -> Result<Vec<SimpleQueryMessage>, Error> {
        self.bounded(what, self.client.simple_query(sql)).await
    }

    /// Runs `sql` with text parameters (the extended protocol; every parameter is
    /// cast from `varchar` in the SQL, so no type lookup is needed) and returns rows.
    pub(crate) async fn query_text_params(
        &self,
        sql: &str,
        params: &[&str],
        what: &str,
    ) -> Result<Vec<tokio_postgres::Row>, Error> {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p as _).collect();
        self.bounded(what, self.client.query(sql, &params)).await
    }

    /// Executes `sql` with text parameters, returning the affected row count.
    pub(crate) async fn execute_text_params(
        &self,
        sql: &str,
        params: &[&str],
        what: &str,
    ) -> Result<u64, Error> {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p as _).collect();
        self.bounded(what, self.client.execute(sql, &params)).await
    }

    async fn bounded<T>(
        &self,
        what: &str,
        future: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.query_timeout, future).await {
            Err(_) => Err(Error::Timeout {
                address: self.address.clone(),
                stage: Stage::Query,
                what: what.to_owned(),
                after: self.query_timeout,
            }),
            Ok(Err(e)) => Err(Error::Query {
                address: self.address.clone(),
                what: what.to_owned(),
                reason: chain(&e),
                code: sqlstate(&e),
            }),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

/// The rustls configuration for `config`, built on the aws-lc-rs provider
/// explicitly (`builder_with_provider`), so it works whatever other provider
/// another crate of the program enabled.
pub fn tls_config(config: &DataSharingConfig) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            what: format!("TLS protocol versions: {e}"),
        })?;
    let tls = match config.tls.verification {
        TlsVerification::DangerAcceptAnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth(),
        TlsVerification::Verify => {
            let mut roots = RootCertStore::empty();
            if !config.tls.only_extra_roots {
                // Unreadable entries of the platform store are skipped; an empty
                // store only matters if no extra root is given either.
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
            for (index, cert) in config.tls.extra_roots.iter().enumerate() {
                roots.add(cert.clone()).map_err(|e| Error::Config {
                    what: format!("CA certificate {} cannot be trusted: {e}", index + 1),
                })?;
            }
            if roots.is_empty() {
                return Err(Error::Config {
                    what: "no trusted CA certificate: the platform's store is empty and none was \
                           added (install ca-certificates or add a CA certificate)"
                        .into(),
                });
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(tls)
}

/// A verifier that accepts any certificate but still checks the handshake's
/// signatures (so the session is encrypted to whoever holds the key).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_both_tls_configurations_without_a_default_provider() {
        let config = DataSharingConfig::new("localhost", "db", "u", "k");
        let mut with_ca = config.clone();
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        with_ca
            .tls
            .add_ca_pem(generated.cert.pem().as_bytes())
            .expect("pem");
        with_ca.tls.only_extra_roots = true;
        assert!(tls_config(&with_ca).is_ok());
        assert!(tls_config(&config.danger_accept_any_certificate()).is_ok());
    }

    #[test]
    fn refuses_an_empty_trust_store() {
        let mut config = DataSharingConfig::new("localhost", "db", "u", "k");
        config.tls.only_extra_roots = true;
        let err = tls_config(&config).expect_err("no roots");
        assert!(err.to_string().contains("no trusted CA"), "{err}");
    }
}
