//! The client against the local PostgreSQL standing in for Redshift: TLS, the
//! catalog through information_schema as a restricted role, previews, counts,
//! every type mapping, and errors naming the failed stage.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use penny_redshift::{
    DataSharingConfig, Error, Stage, TableKind, TlsVerification, UnknownTypes, connect,
};
use penny_transform::{LogicalType, Value};
use rust_decimal::Decimal;
use std::str::FromStr;

use common::{KEY, Warehouse};

fn dec(text: &str) -> Value {
    Value::Decimal(Decimal::from_str(text).unwrap())
}

#[tokio::test]
async fn the_restricted_role_lists_describes_previews_and_counts() {
    let warehouse = Warehouse::new().await;
    let conn = connect(&warehouse.config()).await.expect("connect");

    // The fixture is what it claims: pg_tables is denied to this role.
    let denied = conn
        .count_rows("pg_catalog", "pg_tables")
        .await
        .expect_err("denied");
    assert_eq!(denied.code(), Some("42501"), "{denied}");

    let schemas = conn.schemas().await.expect("schemas");
    assert_eq!(schemas, ["etl", "pennylane"]);

    let tables = conn.tables("pennylane").await.expect("tables");
    let names: Vec<_> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "all_types",
            "companies",
            "events_log",
            "general_ledger",
            "ledger_view"
        ]
    );
    assert_eq!(tables[3].kind, TableKind::Table);
    assert_eq!(tables[4].kind, TableKind::View);

    let ledger = conn
        .describe("pennylane", "general_ledger", UnknownTypes::AsText)
        .await
        .expect("describe");
    let debit = ledger.column("debit").expect("debit");
    assert_eq!(debit.logical_type, LogicalType::Decimal { scale: 2 });
    assert_eq!(debit.info.sql_type(), "numeric(14,2)");
    assert_eq!(ledger.columns.len(), 21);

    assert_eq!(
        conn.count_rows("pennylane", "general_ledger")
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        conn.count_rows("pennylane", "ledger_view").await.unwrap(),
        3
    );

    let preview = conn
        .preview("pennylane", "general_ledger", 2, UnknownTypes::AsText)
        .await
        .expect("preview");
    assert_eq!(preview.rows.len(), 2);
    let first = &preview.rows[0];
    let at = |name: &str| {
        &first[ledger
            .columns
            .iter()
            .position(|c| c.info.name == name)
            .unwrap()]
    };
    assert_eq!(at("label"), &Value::Text("Facture café — Noël ✓".into()));
    assert_eq!(
        at("thirdparty_name"),
        &Value::Text("Café Ünïcode 日本".into())
    );
    assert_eq!(at("debit"), &dec("120.50"));
    assert_eq!(at("credit"), &Value::Null);
    assert_eq!(
        at("date"),
        &Value::Date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
    );
    assert_eq!(
        at("created_at"),
        &Value::Timestamp(
            NaiveDate::from_ymd_opt(2026, 1, 31)
                .unwrap()
                .and_hms_micro_opt(10, 11, 12, 123_456)
                .unwrap()
        )
    );
    assert_eq!(
        at("updated_at"),
        &Value::TimestampTz(
            Utc.with_ymd_and_hms(2026, 1, 31, 9, 11, 12).unwrap()
                + chrono::Duration::milliseconds(500)
        )
    );

    let missing = conn
        .describe("pennylane", "general_ledgr", UnknownTypes::AsText)
        .await
        .expect_err("missing");
    assert!(matches!(missing, Error::TableNotFound { .. }), "{missing}");
    assert_eq!(
        missing.to_string(),
        "table pennylane.general_ledgr does not exist or is not visible to this user \
         (information_schema.columns lists no column for it)"
    );
    let missing = conn
        .count_rows("etl", "general_ledger")
        .await
        .expect_err("missing");
    assert!(
        missing.to_string().contains("etl.general_ledger"),
        "{missing}"
    );
    let hinted = conn
        .columns("etl", "general_ledger")
        .await
        .expect_err("missing");
    assert!(
        hinted
            .to_string()
            .contains("did you mean: general_ledger_etl"),
        "{hinted}"
    );
}

#[tokio::test]
async fn every_type_maps_and_reads_back_exactly() {
    let warehouse = Warehouse::new().await;
    let conn = connect(&warehouse.config()).await.expect("connect");
    let preview = conn
        .preview("pennylane", "all_types", 10, UnknownTypes::AsText)
        .await
        .expect("preview");
    use LogicalType::*;
    let expected_types = [
        ("company_id", Int64),
        ("company_name", Text),
        ("id", Int64),
        ("s", Int64),
        ("i", Int64),
        ("b", Int64),
        ("n", Decimal { scale: 4 }),
        ("d", Decimal { scale: 2 }),
        ("r", Float64),
        ("dp", Float64),
        ("flag", Bool),
        ("c", Text),
        ("v", Text),
        ("t", Text),
        ("day", Date),
        ("ts", Timestamp),
        ("tstz", TimestampTz),
        ("tm", Time),
        ("doc", Json),
        ("table", Text),
        ("order", Int64),
        ("tmtz", Text),
    ];
    let got: Vec<_> = preview
        .table
        .columns
        .iter()
        .map(|c| (c.info.name.as_str(), c.logical_type))
        .collect();
    assert_eq!(got, expected_types);
    assert!(!preview.table.columns[0].info.nullable);
    assert!(preview.table.columns[3].info.nullable);

    let mut rows = preview.rows;
    rows.sort_by_key(|r| r[2].as_i64());
    let full = &rows[0];
    let expected = vec![
        Value::Int64(1),
        Value::Text("Noël".into()),
        Value::Int64(1),
        Value::Int64(-32768),
        Value::Int64(2_147_483_647),
        Value::Int64(i64::MIN),
        dec("12345678901234.5678"),
        dec("-0.05"),
        Value::Float64(1.5),
        Value::Float64(-2.25e-10),
        Value::Bool(true),
        Value::Text("ab ".into()),
        Value::Text("é✓".into()),
        Value::Text("multi\nline".into()),
        Value::Date(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()),
        Value::Timestamp(
            NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_micro_opt(3, 4, 5, 123_456)
                .unwrap(),
        ),
        Value::TimestampTz(
            NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_micro_opt(3, 4, 5, 123_456)
                .unwrap()
                .and_utc(),
        ),
        Value::Time(chrono::NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap()),
        Value::Json(serde_json::json!({"k": [1, "é"], "n": null})),
        Value::Text("reserved".into()),
        Value::Int64(3),
        Value::Text("10:00:00+02".into()),
    ];
    assert_eq!(full, &expected);
    let nulls = &rows[1];
    assert!(nulls[3..].iter().all(Value::is_null), "{nulls:?}");

    // Refusing unknown types names the column.
    let err = conn
        .describe("pennylane", "all_types", UnknownTypes::Refuse)
        .await
        .expect_err("timetz refused");
    assert!(
        matches!(err, Error::UnmappableType { ref column, .. } if column == "tmtz"),
        "{err}"
    );
}

#[tokio::test]
async fn tls_is_negotiated_and_verified_by_default() {
    let warehouse = Warehouse::new().await;
    let conn = connect(&warehouse.config()).await.expect("connect");
    // The session really is encrypted.
    let admin = warehouse.db.connect().await;
    let role = warehouse.role.clone();
    let ssl: bool = admin
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
    drop(conn);

    // Verification is on by default: the local self-signed certificate is refused...
    let mut verified = warehouse.config();
    verified.tls.verification = TlsVerification::Verify;
    let err = connect(&verified).await.expect_err("untrusted");
    assert_eq!(err.stage(), Some(Stage::Tls), "{err}");
    // ...trusting the server's own certificate as the CA makes it verifiable for
    // the name it was issued to (`localhost`), and for no other.
    let cert_file: String = admin
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .unwrap()
        .get(0);
    let pem = std::fs::read(&cert_file)
        .unwrap_or_else(|e| panic!("the server's certificate {cert_file} is unreadable: {e}"));
    verified.tls.add_ca_pem(&pem).unwrap();
    verified.tls.only_extra_roots = true;
    let err = connect(&verified)
        .await
        .expect_err("issued to localhost only");
    eprintln!("{err}");
    assert_eq!(err.stage(), Some(Stage::Tls), "{err}");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    verified.host = "localhost".into();
    let conn = connect(&verified)
        .await
        .expect("verified against the server's certificate");
    assert_eq!(conn.count_rows("pennylane", "companies").await.unwrap(), 2);
}

#[tokio::test]
async fn verified_tls_with_a_private_ca() {
    let warehouse = Warehouse::new().await;
    let pki = common::test_pki();
    let base = warehouse.config();
    let port = common::tls_proxy(base.address(), &pki).await;

    let mut config = base.clone();
    config.port = port;
    config.tls.verification = TlsVerification::Verify;
    config.tls.only_extra_roots = true;
    config.tls.add_ca_pem(pki.ca_pem.as_bytes()).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        config.host = host.into();
        let conn = connect(&config)
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(conn.count_rows("pennylane", "companies").await.unwrap(), 2);
    }

    // Another CA: refused at the TLS stage.
    let other = common::test_pki();
    let mut wrong_ca = config.clone();
    wrong_ca.tls.extra_roots.clear();
    wrong_ca.tls.add_ca_pem(other.ca_pem.as_bytes()).unwrap();
    let err = connect(&wrong_ca).await.expect_err("wrong CA");
    eprintln!("{err}");
    assert_eq!(err.stage(), Some(Stage::Tls), "{err}");
    assert!(
        err.to_string().contains(&format!("localhost:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn errors_name_the_host_and_the_stage_and_never_the_key() {
    let mut warehouse = Warehouse::new().await;
    let base = warehouse.config();

    // Local auth is `trust`, so a wrong key is accepted here: the auth stage is
    // shown with an unknown role and with a role that may not log in.
    let mut unknown = base.clone();
    unknown.user = format!("{}_nobody", warehouse.role);
    let err = connect(&unknown).await.expect_err("unknown role");
    eprintln!("{err}");
    assert_eq!(err.stage(), Some(Stage::Auth), "{err}");
    assert_eq!(err.code(), Some("28000"));
    assert!(err.to_string().contains("127.0.0.1:5432"), "{err}");
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY));
    let class = err.into_source_error("general_ledger").class();
    assert_eq!(class, penny_transform::ErrorClass::Auth);

    let mut nologin = base.clone();
    nologin.user = warehouse.extra_role("nologin", false).await;
    let err = connect(&nologin).await.expect_err("nologin");
    assert_eq!(err.stage(), Some(Stage::Auth), "{err}");
    assert!(err.to_string().contains("not permitted to log in"), "{err}");

    let mut refused = base.clone();
    refused.port = common::tls_refusing_server().await;
    let err = connect(&refused).await.expect_err("no TLS");
    eprintln!("{err}");
    assert_eq!(err.stage(), Some(Stage::Tls), "{err}");
    assert!(err.to_string().contains("does not support TLS"), "{err}");

    let mut closed = base.clone();
    closed.port = common::closed_port().await;
    let err = connect(&closed).await.expect_err("closed");
    eprintln!("{err}");
    assert_eq!(err.stage(), Some(Stage::Tcp), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", closed.port)),
        "{err}"
    );

    // A query past the query timeout is cut, at the query stage.
    let mut slow = base.clone();
    slow.query_timeout = std::time::Duration::from_millis(300);
    let conn = connect(&slow).await.expect("connect");
    penny_redshift::begin_read_only(&conn).await.unwrap();
    let sleep = penny_redshift::DescribedColumn {
        info: penny_redshift::ColumnInfo::new("pg_sleep", "text"),
        logical_type: LogicalType::Text,
    };
    let mut cursor = penny_redshift::TableCursor::declare(
        conn,
        "sleep",
        "SELECT pg_sleep(3)",
        &[],
        vec![sleep],
        Default::default(),
    )
    .await
    .unwrap();
    let err = cursor.next_chunk().await.expect_err("timeout");
    assert!(
        matches!(
            err,
            Error::Timeout {
                stage: Stage::Query,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("fetching from sleep"), "{err}");

    let mut no_db = base;
    no_db.database = "penny_no_such_database".into();
    let err = connect(&no_db).await.expect_err("no database");
    assert_eq!(err.stage(), Some(Stage::Auth), "{err}");
    assert!(err.to_string().contains("penny_no_such_database"), "{err}");
}

#[tokio::test]
async fn the_config_reads_the_documented_environment_names() {
    let vars = [
        ("PENNYLANE_DATA_SHARING_HOST", "127.0.0.1"),
        ("PENNYLANE_DATA_SHARING_DATABASE", "d"),
        ("PENNYLANE_DATA_SHARING_USER", "u"),
        ("PENNYLANE_DATA_SHARING_KEY", KEY),
    ];
    let config = DataSharingConfig::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    assert_eq!(config.port, 5439);
    assert!(!format!("{config:?}").contains(KEY));
}
