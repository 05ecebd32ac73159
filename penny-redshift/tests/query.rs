//! Free-form read-only queries against the local PostgreSQL standing in for Redshift:
//! column names, text values with NULL apart, chunked streaming, the limit, and
//! the guards (one statement, a read, inside a read-only transaction).
#![allow(clippy::unwrap_used)]

mod common;

use penny_redshift::{DataSharingConfig, Error, QueryCursor, QueryError, QueryOptions, connect};

use common::Warehouse;

async fn open(config: &DataSharingConfig, sql: &str, options: QueryOptions) -> QueryCursor {
    let conn = connect(config).await.expect("connect");
    QueryCursor::open(conn, sql, options)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn all_rows(cursor: &mut QueryCursor) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    while let Some(chunk) = cursor.next_chunk().await.unwrap() {
        rows.extend(chunk);
    }
    rows
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[tokio::test]
async fn columns_are_named_and_values_are_text_with_null_apart() {
    let warehouse = Warehouse::new().await;
    let mut cursor = open(
        &warehouse.config(),
        "-- the first company's lines\n\
         SELECT id, label, debit, credit, '' AS empty, date, debit IS NULL AS flag \
         FROM pennylane.general_ledger WHERE company_id = 1 ORDER BY id;",
        QueryOptions::default(),
    )
    .await;
    assert_eq!(
        cursor.columns(),
        ["id", "label", "debit", "credit", "empty", "date", "flag"]
    );
    let rows = all_rows(&mut cursor).await;
    assert_eq!(
        rows,
        vec![
            vec![
                some("101"),
                some("Facture café — Noël ✓"),
                some("120.50"),
                None,
                some(""),
                some("2026-01-31"),
                some("f"),
            ],
            vec![
                some("102"),
                some("TVA collectée"),
                None,
                some("20.08"),
                some(""),
                some("2026-01-31"),
                some("t"),
            ],
        ]
    );
    assert_eq!(cursor.rows_read(), 2);
    // The connection comes back usable once the transaction ends.
    let conn = cursor.close().await.unwrap();
    assert_eq!(conn.count_rows("pennylane", "companies").await.unwrap(), 2);
}

#[tokio::test]
async fn an_empty_result_still_names_its_columns() {
    let warehouse = Warehouse::new().await;
    let mut cursor = open(
        &warehouse.config(),
        "SELECT id AS \"Pièce\", label FROM pennylane.general_ledger WHERE false",
        QueryOptions::default(),
    )
    .await;
    assert_eq!(cursor.columns(), ["Pièce", "label"]);
    assert!(cursor.next_chunk().await.unwrap().is_none());
}

#[tokio::test]
async fn large_results_stream_in_bounded_chunks() {
    let warehouse = Warehouse::new().await;
    let options = QueryOptions {
        fetch_rows: 100,
        chunk_rows: 1000,
        limit: None,
    };
    let mut cursor = open(
        &warehouse.config(),
        "SELECT g AS n FROM generate_series(1, 2500) g ORDER BY g",
        options,
    )
    .await;
    let mut sizes = Vec::new();
    let mut next = 1;
    while let Some(chunk) = cursor.next_chunk().await.unwrap() {
        sizes.push(chunk.len());
        for row in chunk {
            assert_eq!(row, vec![Some(next.to_string())]);
            next += 1;
        }
    }
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(cursor.rows_read(), 2500);
}

#[tokio::test]
async fn the_limit_stops_reading_without_rewriting_the_query() {
    let warehouse = Warehouse::new().await;
    let config = warehouse.config();
    let limited = |limit| QueryOptions {
        fetch_rows: 100,
        chunk_rows: 1000,
        limit: Some(limit),
    };
    let sql = "SELECT g FROM generate_series(1, 5000) g ORDER BY g";
    let mut cursor = open(&config, sql, limited(150)).await;
    let rows = all_rows(&mut cursor).await;
    assert_eq!(rows.len(), 150);
    assert_eq!(rows[149], vec![some("150")]);
    cursor.close().await.unwrap();

    let mut cursor = open(&config, sql, limited(0)).await;
    assert_eq!(cursor.columns(), ["g"]);
    assert!(cursor.next_chunk().await.unwrap().is_none());
}

#[tokio::test]
async fn several_statements_and_writes_are_refused_before_reaching_the_server() {
    let warehouse = Warehouse::new().await;
    let config = warehouse.config();
    for sql in [
        "SELECT 1; DELETE FROM pennylane.companies",
        "DELETE FROM pennylane.companies",
        "   ",
    ] {
        let conn = connect(&config).await.unwrap();
        let err = QueryCursor::open(conn, sql, QueryOptions::default())
            .await
            .expect_err(sql);
        assert!(
            matches!(
                err,
                QueryError::SeveralStatements { .. }
                    | QueryError::NotASelect { .. }
                    | QueryError::Empty
            ),
            "{sql}: {err}"
        );
    }
}

/// As the database owner (who could write), a write hidden in a read is refused
/// by the server: the query runs in a read-only transaction.
#[tokio::test]
async fn the_transaction_is_read_only_even_for_a_user_who_may_write() {
    let warehouse = Warehouse::new().await;
    let mut owner = DataSharingConfig::from_url(warehouse.db.url())
        .unwrap()
        .danger_accept_any_certificate();
    owner.key = common::KEY.to_owned().into();
    for sql in [
        "WITH gone AS (DELETE FROM pennylane.companies RETURNING id) SELECT * FROM gone",
        "SELECT * FROM pennylane.companies FOR UPDATE",
    ] {
        let conn = connect(&owner).await.unwrap();
        let result = match QueryCursor::open(conn, sql, QueryOptions::default()).await {
            Ok(mut cursor) => cursor.next_chunk().await.map(|_| ()),
            Err(e) => Err(e),
        };
        let err = result.expect_err(sql);
        assert!(
            matches!(&err, QueryError::Server(Error::Query { .. })),
            "{sql}: {err}"
        );
        assert!(
            err.to_string().contains("read-only")
                || err.to_string().contains("data-modifying")
                || err.to_string().contains("FOR UPDATE"),
            "{sql}: {err}"
        );
    }
    let admin = warehouse.db.connect().await;
    let n: i64 = admin
        .query_one("SELECT count(*) FROM pennylane.companies", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "nothing was deleted");
}

#[tokio::test]
async fn a_wrong_query_names_what_the_server_said() {
    let warehouse = Warehouse::new().await;
    let conn = connect(&warehouse.config()).await.unwrap();
    let err = QueryCursor::open(
        conn,
        "SELECT no_such_column FROM pennylane.general_ledger",
        QueryOptions::default(),
    )
    .await
    .expect_err("unknown column");
    let msg = err.to_string();
    assert!(
        msg.contains("no_such_column") && msg.contains("42703"),
        "{msg}"
    );
    // pg_tables is denied to Data Sharing users: the server's refusal comes through.
    let conn = connect(&warehouse.config()).await.unwrap();
    let err = QueryCursor::open(conn, "SELECT * FROM pg_tables", QueryOptions::default())
        .await
        .expect_err("denied");
    assert!(
        matches!(&err, QueryError::Server(e) if e.code() == Some("42501")),
        "{err}"
    );
}
