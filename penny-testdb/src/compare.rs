//! Comparing what tests wrote: every table of a schema as sorted rows, and assertions
//! that two sets of tables are equal (or converged), naming the rows that differ.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use crate::TestDb;

/// The rows only in `a` and the rows only in `b`, each sorted.
pub fn only_in_each<'a, T: Ord + ?Sized>(
    a: impl IntoIterator<Item = &'a T>,
    b: impl IntoIterator<Item = &'a T>,
) -> (Vec<&'a T>, Vec<&'a T>) {
    let (la, lb): (BTreeSet<&T>, BTreeSet<&T>) = (a.into_iter().collect(), b.into_iter().collect());
    (
        la.difference(&lb).copied().collect(),
        lb.difference(&la).copied().collect(),
    )
}

/// Asserts that the `incremental` tables equal the `fresh` ones (same table names, same
/// rows), except that a table of `may_keep_extra` may keep up to 5 extra rows (what an
/// incremental read cannot see: the lines and payments of a deleted invoice, ...).
pub fn assert_converged<T: PartialEq>(
    incremental: &BTreeMap<String, T>,
    fresh: &BTreeMap<String, T>,
    rows: impl Fn(&T) -> Vec<&str>,
    may_keep_extra: &[&str],
) {
    assert_eq!(
        incremental.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    let mut differ = Vec::new();
    for (name, table) in incremental {
        if fresh[name] == *table {
            continue;
        }
        let (only_inc, only_full) = only_in_each(rows(table), rows(&fresh[name]));
        if only_full.is_empty() && may_keep_extra.contains(&name.as_str()) && only_inc.len() <= 5 {
            continue;
        }
        differ.push(format!(
            "{name}: only incremental {only_inc:?}; only full {only_full:?}"
        ));
    }
    assert!(differ.is_empty(), "tables differ:\n{}", differ.join("\n"));
}

/// Every row of every table of `schema` (penny-load's state tables left out), as
/// sorted JSON texts per table.
pub async fn pg_tables(db: &TestDb, schema: &str) -> BTreeMap<String, Vec<String>> {
    let client = db.connect().await;
    let names: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
             AND table_name NOT IN ('penny_sync_state', 'penny_sync_runs', 'penny_sync_staged') ORDER BY 1",
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

/// The tables of schemas `a` and `b` are equal, table by table, and not trivially
/// (the ledger lines and the reports are there).
pub async fn assert_same_schemas(db: &TestDb, a: &str, b: &str, must_have: &[&str]) {
    let (ta, tb) = (pg_tables(db, a).await, pg_tables(db, b).await);
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for table in must_have {
        assert!(
            ta.get(*table).is_some_and(|rows| !rows.is_empty()),
            "{a}.{table} missing or empty"
        );
    }
    let mut differ = Vec::new();
    for (name, rows) in &ta {
        if tb[name] == *rows {
            continue;
        }
        let (only_a, only_b) = only_in_each(rows, &tb[name]);
        let (only_a, only_b) = (
            &only_a[..only_a.len().min(3)],
            &only_b[..only_b.len().min(3)],
        );
        differ.push(format!(
            "{name}: {} rows in {a}, {} in {b}; only in {a} {only_a:?}; only in {b} {only_b:?}",
            rows.len(),
            tb[name].len()
        ));
    }
    assert!(differ.is_empty(), "tables differ:\n{}", differ.join("\n"));
}
