//! A real TLS connection (rustls, aws-lc-rs provider). Needs a server with TLS and the
//! CA (or self-signed certificate) that signed its certificate for `localhost`, so it is
//! ignored by default:
//!
//! (`PENNY_TEST_TLS_OTHER_CA_FILE`, default `/etc/ssl/certs/ISRG_Root_X1.pem`, names a CA
//! that did not sign it.)
//!
//! ```sh
//! PENNY_TEST_TLS_CA_FILE=/etc/ssl/certs/ssl-cert-snakeoil.pem \
//!   cargo test -p penny-load --test tls -- --ignored
//! ```

use penny_load::{LoadError, PgConfig, PgSink, TlsMode};
use penny_testdb::TestDb;

/// The test database's URL, reached through `localhost` (the name in the certificate).
fn localhost_url(db: &TestDb) -> String {
    db.url().replace("@127.0.0.1:", "@localhost:")
}

#[tokio::test]
#[ignore = "needs a TLS-enabled server: set PENNY_TEST_TLS_CA_FILE and run with --ignored"]
async fn connects_over_tls_and_refuses_an_unknown_certificate() {
    let ca = std::env::var("PENNY_TEST_TLS_CA_FILE")
        .expect("set PENNY_TEST_TLS_CA_FILE to the server's CA file");
    let db = TestDb::new().await;
    let url = localhost_url(&db);

    let config = PgConfig::from_url(&url)
        .expect("url")
        .with_tls(TlsMode::Require {
            ca_file: Some(ca.into()),
        });
    let sink = PgSink::connect(config.clone())
        .await
        .expect("TLS connection");
    drop(sink);
    let client = config.connect().await.expect("TLS connection");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "the session is encrypted");

    // A CA that did not sign the server's certificate: refused, not downgraded to plain TCP.
    let other_ca = std::env::var("PENNY_TEST_TLS_OTHER_CA_FILE")
        .unwrap_or_else(|_| "/etc/ssl/certs/ISRG_Root_X1.pem".to_owned());
    let wrong = PgConfig::from_url(&url)
        .expect("url")
        .with_tls(TlsMode::Require {
            ca_file: Some(other_ca.into()),
        });
    match wrong.connect().await {
        Err(e @ LoadError::Connect { .. }) => {
            assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
            println!("refused as expected: {e}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a certificate from an untrusted CA was accepted"),
    }
}
