//! Test support: a database seeded like the Data Sharing warehouse, a restricted
//! role to read it, and small TLS endpoints (a verifying proxy, a refusing server).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use penny_redshift::DataSharingConfig;
use penny_testdb::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The key of the test roles (local auth is `trust`, so it is not checked).
pub const KEY: &str = "s3cret-Data-Sharing-key";

/// The mirror of the Data Sharing schemas (see docs/src/raw-tables.md).
pub const SEED: &str = r#"
CREATE SCHEMA pennylane;
CREATE SCHEMA etl;

CREATE TABLE pennylane.general_ledger (
    company_id bigint, company_name varchar(255), id bigint, date date, lettering bigint,
    label varchar(2000), debit numeric(14,2), credit numeric(14,2),
    plan_item_number varchar(32), plan_item_label varchar(255),
    journal_code varchar(16), journal_label varchar(255), document_id bigint,
    entry_id bigint, thirdparty_id bigint, thirdparty_name varchar(255),
    document_type varchar(64), document_number varchar(64), due_date date,
    created_at timestamp, updated_at timestamptz
);
INSERT INTO pennylane.general_ledger VALUES
 (1, 'Boulangerie Noël', 101, '2026-01-31', 7, 'Facture café — Noël ✓', 120.50, NULL,
  '411008', 'Clients — ventes', 'VT', 'Ventes', 9001, 55, 3, 'Café Ünïcode 日本', 'invoice', 'F-001',
  '2026-02-28', '2026-01-31 10:11:12.123456', '2026-01-31 10:11:12.5+01'),
 (1, 'Boulangerie Noël', 102, '2026-01-31', 7, 'TVA collectée', NULL, 20.08,
  '445710', 'TVA', 'VT', 'Ventes', 9001, 55, NULL, NULL, 'invoice', 'F-001',
  NULL, '2026-01-31 10:11:12', '2026-01-31 09:11:12+00'),
 (2, 'Cabinet SAS', 101, '2026-02-01', NULL, NULL, 0.00, 0.00,
  '512001', 'Banque', 'BQ', 'Banque', NULL, 56, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL);

CREATE TABLE pennylane.companies (id bigint, name varchar(255), registration_number varchar(9), vat_number varchar(32));
INSERT INTO pennylane.companies VALUES (1, 'Boulangerie Noël', '123456789', 'FR12123456789'), (2, 'Cabinet SAS', NULL, NULL);

CREATE TABLE pennylane.all_types (
    company_id bigint NOT NULL, company_name varchar(255), id bigint NOT NULL,
    s smallint, i integer, b bigint, n numeric(18,4), d decimal(10,2), r real, dp double precision,
    flag boolean, c char(3), v varchar(20), t text, day date, ts timestamp, tstz timestamptz,
    tm time, doc jsonb, "table" varchar(20), "order" integer, tmtz timetz
);
INSERT INTO pennylane.all_types VALUES
 (1, 'Noël', 1, -32768, 2147483647, -9223372036854775808, 12345678901234.5678, -0.05, 1.5, -2.25e-10,
  true, 'ab', 'é✓', 'multi
line', '2026-02-28', '2026-01-02 03:04:05.123456', '2026-01-02 04:04:05.123456+01', '23:59:59.999999',
  '{"k": [1, "é"], "n": null}', 'reserved', 3, '10:00:00+02'),
 (1, 'Noël', 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE pennylane.events_log (message text, at timestamptz);
INSERT INTO pennylane.events_log VALUES ('one', now()), ('two', NULL), ('two', NULL);

CREATE VIEW pennylane.ledger_view AS SELECT company_id, id, debit FROM pennylane.general_ledger;

CREATE TABLE etl.general_ledger_etl (
    company_id bigint, company_name varchar(255), id bigint, date date, label varchar(2000),
    debit numeric(14,2), credit numeric(14,2), plan_item_number varchar(32), "table" varchar(16),
    deleted_at timestamptz, synchronised_at timestamptz
);
INSERT INTO etl.general_ledger_etl VALUES
 (1, 'Noël', 1, '2026-01-01', 'a', 10.00, NULL, '411008', 't1', NULL, '2026-01-01 08:00:00+00'),
 (1, 'Noël', 2, '2026-01-01', 'b', NULL, 10.00, '706000', 't2', NULL, '2026-01-01 08:00:00+00'),
 (1, 'Noël', 3, '2026-01-02', 'c', 5.50, NULL, '411008', NULL, NULL, '2026-01-02 08:00:00+00'),
 (2, 'Cabinet', 1, '2026-01-02', 'gone', 1.00, NULL, '512001', NULL, '2026-01-02 09:00:00+00', '2026-01-02 09:00:00+00');
"#;

/// A seeded database and a role that reads it like a Data Sharing user.
pub struct Warehouse {
    pub role: String,
    pub db: TestDb,
    extra_roles: Vec<String>,
}

impl Warehouse {
    /// A fresh database with [`SEED`], and a uniquely named role with USAGE and
    /// SELECT on both schemas, denied `pg_catalog.pg_tables`.
    pub async fn new() -> Warehouse {
        let db = TestDb::new().await;
        let admin = db.connect().await;
        admin.batch_execute(SEED).await.expect("seed");
        let role = format!("penny_ds_{}", db.name().trim_start_matches("penny_test_"));
        admin
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD '{KEY}';
                 GRANT USAGE ON SCHEMA pennylane, etl TO {role};
                 GRANT SELECT ON ALL TABLES IN SCHEMA pennylane, etl TO {role};
                 REVOKE SELECT ON pg_catalog.pg_tables FROM PUBLIC;"
            ))
            .await
            .expect("role");
        Warehouse {
            role,
            db,
            extra_roles: Vec::new(),
        }
    }

    /// A login role without any grant (dropped with the warehouse).
    pub async fn extra_role(&mut self, suffix: &str, login: bool) -> String {
        let name = format!("{}_{suffix}", self.role);
        let login = if login { "LOGIN" } else { "NOLOGIN" };
        self.db
            .connect()
            .await
            .batch_execute(&format!("CREATE ROLE {name} {login}"))
            .await
            .expect("extra role");
        self.extra_roles.push(name.clone());
        name
    }

    /// The role's configuration for the local server, over TLS without verification
    /// (the local certificate is self-signed).
    pub fn config(&self) -> DataSharingConfig {
        let mut config = DataSharingConfig::from_url(self.db.url()).expect("test url");
        config.user = self.role.clone();
        config.key = KEY.to_owned().into();
        config.danger_accept_any_certificate()
    }
}

impl Drop for Warehouse {
    fn drop(&mut self) {
        let url = self.db.url().to_owned();
        let mut roles = vec![self.role.clone()];
        roles.append(&mut self.extra_roles);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                for role in roles {
                    // Privileges in this database first, then the role itself.
                    client
                        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
                        .await
                        .ok()?;
                }
                Some(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test roles of {}", self.db.name());
        }
    }
}

/// A private CA and a server certificate for `localhost` and `127.0.0.1`.
pub struct TestPki {
    pub ca_pem: String,
    pub server_cert: rustls::pki_types::CertificateDer<'static>,
    pub server_key: Vec<u8>,
}

pub fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Penny test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server_cert: server_cert.der().clone(),
        server_key: server_key.serialize_der(),
    }
}

async fn read_ssl_request(stream: &mut TcpStream) -> bool {
    let mut request = [0u8; 8];
    if stream.read_exact(&mut request).await.is_err() {
        return false;
    }
    // Length 8, then the SSLRequest code 80877103.
    request == [0, 0, 0, 8, 4, 210, 22, 47]
}

/// A TLS-terminating proxy in front of `upstream` (plain PostgreSQL): it answers
/// the client's SSLRequest with `S`, completes TLS with `pki`'s server
/// certificate, then relays bytes. Returns its port.
pub async fn tls_proxy(upstream: String, pki: &TestPki) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.server_cert.clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server_key.clone().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if !read_ssl_request(&mut client).await || client.write_all(b"S").await.is_err() {
                    return;
                }
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    port
}

/// A server that answers every SSLRequest with `N` (TLS not supported). Returns its port.
pub async fn tls_refusing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if read_ssl_request(&mut client).await {
                    let _ = client.write_all(b"N").await;
                    let mut rest = Vec::new();
                    let _ = client.read_to_end(&mut rest).await;
                }
            });
        }
    });
    port
}

/// A port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
