//! Helpers shared by the end-to-end tests.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

/// Every row of every table of `schema` (penny-load's state tables left out), as
/// sorted JSON texts per table.
pub async fn pg_tables(db: &penny_testdb::TestDb, schema: &str) -> BTreeMap<String, Vec<String>> {
    let client = db.connect().await;
    let names: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
             AND table_name NOT IN ('penny_sync_state', 'penny_sync_runs') ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = BTreeMap::new();
    for name in names {
        let rows = client
            .query(
                &format!("SELECT to_jsonb(t)::text FROM \"{schema}\".\"{name}\" t ORDER BY 1"),
                &[],
            )
            .await
            .unwrap();
        out.insert(name, rows.iter().map(|r| r.get(0)).collect());
    }
    out
}
