//! The incremental merge: staging rows into the target by primary key.
//!
//! One statement, inside the commit's transaction: the staging rows are deduplicated
//! by key (the last one written wins, by arrival order), keys whose last change is a
//! deletion are deleted from the **target**, the others are inserted into the
//! **target** or update it (`INSERT ... ON CONFLICT (key) DO UPDATE`). Inserted and
//! updated rows are told apart by `xmax = 0` on the returned rows.

use penny_transform::{CommitStats, Schema};
use tokio_postgres::Client;

use crate::copy::{DELETED_COLUMN, SEQ_COLUMN};
use crate::ddl::key_list;
use crate::error::LoadError;
use crate::ident::quote;
use crate::types::PgType;

/// Staged rows at or above which the staging table is analyzed before the merge.
const ANALYZE_FROM_ROWS: u64 = 1000;

/// What a staging table holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Staged {
    /// Rows staged (upserts and deletions).
    pub rows: u64,
    /// Whether any of them is a deletion.
    pub deletions: bool,
}

/// How staged rows apply to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Upserts (rows whose values differ are updated), and the staged deletions.
    Merge,
    /// The staged rows are the whole new table: keys not staged (or staged as deleted)
    /// are deleted, and only rows whose values differ are updated.
    Replace,
}

/// The merge statement for `schema` from `staging` into `target`, whose column types
/// are `target_types` (values are converted where a target column is wider).
///
/// In [`Mode::Merge`] without `deletions` (none were staged) the `DELETE` is left out.
pub(crate) fn merge_sql(
    target: &str,
    staging: &str,
    schema: &Schema,
    target_types: &[PgType],
    deletions: bool,
    mode: Mode,
) -> String {
    let keys = key_list(schema);
    let conv = |i: usize, prefix: &str| {
        let c = &schema.columns()[i];
        target_types[i].convert(&format!("{prefix}{}", quote(&c.name)), c.logical_type)
    };
    let key_join = schema
        .primary_key()
        .iter()
        .map(|&i| format!("t.{} = {}", quote(&schema.columns()[i].name), conv(i, "l.")))
        .collect::<Vec<_>>()
        .join(" AND ");
    let columns = schema
        .columns()
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let values = (0..schema.columns().len())
        .map(|i| conv(i, "l."))
        .collect::<Vec<_>>()
        .join(", ");
    let non_key: Vec<String> = schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(i, _)| !schema.primary_key().contains(i))
        .map(|(_, c)| format!("{0} = EXCLUDED.{0}", quote(&c.name)))
        .collect();
    // A table of key columns only still reports updates: set a key to itself.
    let set = if non_key.is_empty() {
        let first = quote(&schema.columns()[schema.primary_key()[0]].name);
        format!("{first} = EXCLUDED.{first}")
    } else {
        non_key.join(", ")
    };
    let seq = quote(SEQ_COLUMN);
    let deleted = quote(DELETED_COLUMN);
    let non_key_names: Vec<String> = schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(i, _)| !schema.primary_key().contains(i))
        .map(|(_, c)| quote(&c.name))
        .collect();
    // Only rows whose values differ are updated (and counted), in both modes: a record
    // delivered again as it was changes nothing.
    let on_conflict = match mode {
        // Nothing to compare: the row is already there as it should be.
        _ if non_key_names.is_empty() => "DO NOTHING".to_owned(),
        Mode::Merge | Mode::Replace => format!(
            "DO UPDATE SET {set} WHERE ({}) IS DISTINCT FROM ({})",
            non_key_names
                .iter()
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            non_key_names
                .iter()
                .map(|c| format!("EXCLUDED.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let removed = if mode == Mode::Replace {
        format!(
            "DELETE FROM {target} t WHERE NOT EXISTS \
             (SELECT 1 FROM last l WHERE NOT l.{deleted} AND {key_join}) RETURNING 1"
        )
    } else if deletions {
        format!("DELETE FROM {target} t USING last l WHERE l.{deleted} AND {key_join} RETURNING 1")
    } else {
        "SELECT 1 WHERE false".to_owned()
    };
    format!(
        "WITH last AS (\
            SELECT DISTINCT ON ({keys}) * FROM {staging} ORDER BY {keys}, {seq} DESC\
         ), removed AS ({removed}), upserted AS (\
            INSERT INTO {target} AS t ({columns}) SELECT {values} FROM last l WHERE NOT l.{deleted} \
            ON CONFLICT ({keys}) {on_conflict} RETURNING (t.xmax = 0) AS inserted\
         ) \
         SELECT (SELECT count(*) FROM removed), \
                count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) \
         FROM upserted"
    )
}

/// Runs the merge; the caller holds the transaction.
///
/// When deletions were staged among many rows, the staging table is analyzed first:
/// temporary tables are never analyzed automatically, and without statistics the
/// planner may join the deletions by scanning the whole target instead of probing its
/// primary key. (Upserts need no plan choice: `ON CONFLICT` always probes the key.)
pub(crate) async fn merge(
    client: &Client,
    target: &str,
    staging: &str,
    schema: &Schema,
    target_types: &[PgType],
    staged: Staged,
    mode: Mode,
) -> Result<CommitStats, LoadError> {
    if (staged.deletions || mode == Mode::Replace) && staged.rows >= ANALYZE_FROM_ROWS {
        client
            .batch_execute(&format!("ANALYZE {staging}"))
            .await
            .map_err(|e| {
                LoadError::pg(
                    format!("analyzing the staged rows of `{}`", schema.name()),
                    e,
                )
            })?;
    }
    let row = client
        .query_one(
            &merge_sql(
                target,
                staging,
                schema,
                target_types,
                staged.deletions,
                mode,
            ),
            &[],
        )
        .await
        .map_err(|e| {
            LoadError::pg(
                format!("merging the staged rows into `{}`", schema.name()),
                e,
            )
        })?;
    Ok(CommitStats {
        deleted: row.get::<_, i64>(0) as u64,
        inserted: row.get::<_, i64>(1) as u64,
        updated: row.get::<_, i64>(2) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::{Column, LogicalType};

    #[test]
    fn merges_into_the_target_not_the_staging_table() {
        let schema = Schema::new(
            "t",
            vec![
                Column::required("id", LogicalType::Int64),
                Column::nullable("amount", LogicalType::Decimal { scale: 2 }),
            ],
            ["id"],
        )
        .expect("schema");
        let types = vec![PgType::BigInt, PgType::Numeric(Some((38, 4)))];
        let sql = merge_sql(
            "\"p\".\"t\"",
            "\"stage\"",
            &schema,
            &types,
            true,
            Mode::Merge,
        );
        assert!(
            sql.contains("DELETE FROM \"p\".\"t\" t USING last l"),
            "{sql}"
        );
        assert!(sql.contains("INSERT INTO \"p\".\"t\" AS t"), "{sql}");
        assert!(sql.contains("(l.\"amount\")::numeric(38, 4)"), "{sql}");
        assert!(
            sql.contains("ON CONFLICT (\"id\") DO UPDATE SET \"amount\" = EXCLUDED.\"amount\""),
            "{sql}"
        );
        assert!(
            sql.contains("ORDER BY \"id\", \"_penny_seq\" DESC"),
            "{sql}"
        );
        assert!(!sql.contains("UPDATE \"stage\""), "{sql}");
        let upserts_only = merge_sql(
            "\"p\".\"t\"",
            "\"stage\"",
            &schema,
            &types,
            false,
            Mode::Merge,
        );
        assert!(!upserts_only.contains("DELETE"), "{upserts_only}");
        let replace = merge_sql(
            "\"p\".\"t\"",
            "\"stage\"",
            &schema,
            &types,
            false,
            Mode::Replace,
        );
        assert!(
            replace.contains("DELETE FROM \"p\".\"t\" t WHERE NOT EXISTS"),
            "{replace}"
        );
        assert!(
            replace.contains("WHERE (t.\"amount\") IS DISTINCT FROM (EXCLUDED.\"amount\")"),
            "{replace}"
        );
    }
}
