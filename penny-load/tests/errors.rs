//! Connection failures map onto the right `SinkError` classes.

use penny_load::{LoadError, PgConfig, PgSink};
use penny_transform::ErrorClass;

#[tokio::test]
async fn an_unknown_role_is_an_auth_error() {
    let db = penny_testdb::TestDb::new().await;
    let config = PgConfig::from_url(db.url()).expect("url");
    let host_part = config.target();
    let bad =
        PgConfig::from_url(&format!("postgres://penny_no_such_role@{host_part}")).expect("url");
    let err = PgSink::connect(bad).await.expect_err("refused");
    assert!(matches!(err, LoadError::Connect { .. }), "{err}");
    assert!(err.sqlstate().is_some_and(|s| s.starts_with("28")), "{err}");
    assert_eq!(err.into_sink_error(None).class(), ErrorClass::Auth);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_names_the_target() {
    let config = PgConfig::from_url("postgres://penny@127.0.0.1:1/nowhere").expect("url");
    let err = PgSink::connect(config).await.expect_err("unreachable");
    assert!(err.to_string().contains("127.0.0.1:1/nowhere"), "{err}");
    assert_eq!(err.into_sink_error(None).class(), ErrorClass::Unavailable);
}
