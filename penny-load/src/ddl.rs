//! Creating and evolving tables from a [`Schema`], and the indexes Power BI needs.
//!
//! # Evolution rules
//! - A column the schema adds is added (nullable: existing rows have no value for it).
//! - A column whose new type holds every existing value (`LogicalType::widens`, for
//!   example `numeric(38, 2)` to `numeric(38, 4)`, or `bigint` to `text`) is altered.
//! - A column that already holds every value of the new type is kept as it is; writes
//!   convert into it.
//! - Anything else is refused with [`LoadError::IncompatibleColumn`], naming the column,
//!   both types, and how to resolve it. A changed primary key is refused likewise.
//! - A column the schema no longer has is kept, and made nullable.
//!
//! # Index heuristic
//! The schema has no foreign keys, so penny-load indexes, besides the primary key,
//! every `date`/`timestamp`/`timestamptz` column and every column whose name ends in
//! `_id`, when it is not part of the primary key. These are what Power BI filters
//! (dates) and joins (identifiers) on. They are built after a bulk load, never before.

use penny_transform::{LogicalType, Schema};
use tokio_postgres::Client;

use crate::error::LoadError;
use crate::ident::{self, quote};
use crate::types::{ColumnChange, PgType, compare};

/// A column of an existing table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExistingColumn {
    pub name: String,
    pub pg_type: PgType,
    pub not_null: bool,
}

/// An existing table, as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExistingTable {
    pub columns: Vec<ExistingColumn>,
    pub primary_key: Vec<String>,
}

impl ExistingTable {
    pub(crate) fn column(&self, name: &str) -> Option<&ExistingColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Checks every name of `schema` is a usable identifier.
pub(crate) fn check_names(schema: &Schema) -> Result<(), LoadError> {
    ident::check("table", schema.name())?;
    for column in schema.columns() {
        ident::check("column", &column.name)?;
    }
    Ok(())
}

/// Reads a table's columns and primary key, or `None` when it does not exist.
pub(crate) async fn existing_table(
    client: &Client,
    schema: &str,
    table: &str,
) -> Result<Option<ExistingTable>, LoadError> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    coalesce(a.attnum = ANY (i.indkey), false) AS in_key, \
                    coalesce(array_position(i.indkey::int2[], a.attnum), 0) AS key_pos \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') \
             ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .map_err(|e| LoadError::pg(format!("reading the columns of table `{table}`"), e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(rows.len());
    let mut key: Vec<(i32, String)> = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let formatted: String = row.get(1);
        if row.get::<_, bool>(3) {
            key.push((row.get(4), name.clone()));
        }
        columns.push(ExistingColumn {
            name,
            pg_type: PgType::parse(&formatted),
            not_null: row.get(2),
        });
    }
    key.sort();
    Ok(Some(ExistingTable {
        columns,
        primary_key: key.into_iter().map(|(_, n)| n).collect(),
    }))
}

/// `CREATE TABLE` for `schema` under `qualified_name`, with the primary key constraint
/// named `pk_name` when given.
pub(crate) fn create_table_sql(
    qualified_name: &str,
    schema: &Schema,
    pk_name: Option<&str>,
) -> String {
    let mut parts: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                quote(&c.name),
                PgType::for_logical(c.logical_type).sql(),
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    if let Some(pk) = pk_name {
        parts.push(format!(
            "CONSTRAINT {} PRIMARY KEY ({})",
            quote(pk),
            key_list(schema)
        ));
    }
    format!("CREATE TABLE {qualified_name} ({})", parts.join(", "))
}

/// The primary key columns, quoted and comma-separated.
pub(crate) fn key_list(schema: &Schema) -> String {
    schema
        .primary_key_names()
        .map(quote)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The canonical name of a table's primary key constraint.
pub(crate) fn pk_name(table: &str) -> String {
    ident::derived(table, "_pkey")
}

/// The statements that evolve `existing` into a table that can receive `wanted`'s rows.
///
/// Pure: it decides, the caller executes (in one transaction).
pub(crate) fn plan_evolution(
    qualified_name: &str,
    existing: &ExistingTable,
    wanted: &Schema,
) -> Result<Vec<String>, LoadError> {
    let table = wanted.name();
    let wanted_key: Vec<&str> = wanted.primary_key_names().collect();
    if existing.primary_key != wanted_key {
        return Err(LoadError::PrimaryKeyChanged {
            table: table.to_owned(),
            from: if existing.primary_key.is_empty() {
                "none".to_owned()
            } else {
                existing.primary_key.join(", ")
            },
            to: wanted_key.join(", "),
        });
    }
    let mut statements = Vec::new();
    for column in wanted.columns() {
        let target = PgType::for_logical(column.logical_type);
        match existing.column(&column.name) {
            None => statements.push(format!(
                "ALTER TABLE {qualified_name} ADD COLUMN {} {}",
                quote(&column.name),
                target.sql()
            )),
            Some(have) => match compare(&have.pg_type, column.logical_type) {
                ColumnChange::Same | ColumnChange::Keep => {}
                ColumnChange::Widen => {
                    let name = quote(&column.name);
                    let using = match target {
                        PgType::Jsonb => format!("to_jsonb({name})"),
                        ref t => format!("{name}::{}", t.sql()),
                    };
                    statements.push(format!(
                        "ALTER TABLE {qualified_name} ALTER COLUMN {name} TYPE {} USING {using}",
                        target.sql()
                    ));
                }
                ColumnChange::Incompatible => {
                    return Err(LoadError::IncompatibleColumn {
                        table: table.to_owned(),
                        column: column.name.clone(),
                        from: have.pg_type.sql(),
                        to: column.logical_type.to_string(),
                    });
                }
            },
        }
    }
    for have in &existing.columns {
        let gone = wanted.column(&have.name).is_none();
        let now_nullable = wanted.column(&have.name).is_some_and(|c| c.nullable);
        if have.not_null && (gone || now_nullable) {
            statements.push(format!(
                "ALTER TABLE {qualified_name} ALTER COLUMN {} DROP NOT NULL",
                quote(&have.name)
            ));
        }
    }
    Ok(statements)
}

/// The type each schema column has in `existing` after evolution (for conversions on
/// write and range checks): the existing type when kept, the schema's otherwise.
pub(crate) fn target_types(existing: Option<&ExistingTable>, wanted: &Schema) -> Vec<PgType> {
    wanted
        .columns()
        .iter()
        .map(|c| {
            let own = PgType::for_logical(c.logical_type);
            match existing.and_then(|e| e.column(&c.name)) {
                Some(have) if compare(&have.pg_type, c.logical_type) == ColumnChange::Keep => {
                    have.pg_type.clone()
                }
                _ => own,
            }
        })
        .collect()
}

/// The columns penny-load indexes for Power BI (see the module docs), with their
/// index names derived from `table`.
pub(crate) fn power_bi_indexes(schema: &Schema) -> Vec<(String, String)> {
    schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(i, _)| !schema.primary_key().contains(i))
        .filter(|(_, c)| {
            matches!(
                c.logical_type,
                LogicalType::Date | LogicalType::Timestamp | LogicalType::TimestampTz
            ) || c.name.ends_with("_id")
        })
        .map(|(_, c)| {
            (
                ident::derived(schema.name(), &format!("_{}_idx", c.name)),
                c.name.clone(),
            )
        })
        .collect()
}

/// Creates the Power BI indexes `table` lacks (by name). Run after bulk loads.
pub(crate) async fn create_missing_indexes(
    client: &Client,
    schema_name: &str,
    table: &Schema,
) -> Result<(), LoadError> {
    let wanted = power_bi_indexes(table);
    if wanted.is_empty() {
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
            &[&schema_name, &table.name()],
        )
        .await
        .map_err(|e| LoadError::pg(format!("listing the indexes of `{}`", table.name()), e))?;
    let have: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let qualified_name = ident::qualified(schema_name, table.name());
    for (index, column) in wanted {
        if have.contains(&index) {
            continue;
        }
        client
            .batch_execute(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {qualified_name} ({})",
                quote(&index),
                quote(&column)
            ))
            .await
            .map_err(|e| {
                LoadError::pg(format!("creating index `{index}` on `{}`", table.name()), e)
            })?;
    }
    Ok(())
}

/// The views (and materialized views) that depend on a table, qualified.
pub(crate) async fn dependent_views(
    client: &Client,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, LoadError> {
    let rows = client
        .query(
            "SELECT DISTINCT vn.nspname || '.' || v.relname \
             FROM pg_class t \
             JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_rewrite'::regclass \
             JOIN pg_rewrite r ON r.oid = d.objid \
             JOIN pg_class v ON v.oid = r.ev_class AND v.oid <> t.oid \
             JOIN pg_namespace vn ON vn.oid = v.relnamespace \
             WHERE tn.nspname = $1 AND t.relname = $2 \
             ORDER BY 1",
            &[&schema, &table],
        )
        .await
        .map_err(|e| LoadError::pg(format!("listing the views that use `{table}`"), e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::Column;

    fn schema(extra: Vec<Column>) -> Schema {
        let mut cols = vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("id", LogicalType::Int64),
            Column::required("debit", LogicalType::Decimal { scale: 2 }),
            Column::nullable("date", LogicalType::Date),
            Column::nullable("journal_id", LogicalType::Int64),
        ];
        cols.extend(extra);
        Schema::new("ledger_lines", cols, ["company_id", "id"]).expect("schema")
    }

    fn existing(s: &Schema) -> ExistingTable {
        ExistingTable {
            columns: s
                .columns()
                .iter()
                .map(|c| ExistingColumn {
                    name: c.name.clone(),
                    pg_type: PgType::for_logical(c.logical_type),
                    not_null: !c.nullable,
                })
                .collect(),
            primary_key: s.primary_key_names().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn creates_typed_tables_with_their_key() {
        let sql = create_table_sql(
            "\"penny\".\"ledger_lines\"",
            &schema(vec![]),
            Some("ledger_lines_pkey"),
        );
        assert_eq!(
            sql,
            "CREATE TABLE \"penny\".\"ledger_lines\" (\"company_id\" bigint NOT NULL, \"id\" bigint NOT NULL, \
             \"debit\" numeric(38, 2) NOT NULL, \"date\" date, \"journal_id\" bigint, \
             CONSTRAINT \"ledger_lines_pkey\" PRIMARY KEY (\"company_id\", \"id\"))"
        );
    }

    #[test]
    fn plans_additions_and_widenings_and_refuses_the_rest() {
        let old = existing(&schema(vec![]));
        assert!(
            plan_evolution("t", &old, &schema(vec![]))
                .expect("same")
                .is_empty()
        );

        let added = schema(vec![Column::nullable("label", LogicalType::Text)]);
        assert_eq!(
            plan_evolution("t", &old, &added).expect("add"),
            ["ALTER TABLE t ADD COLUMN \"label\" text"]
        );

        let mut cols = schema(vec![]).columns().to_vec();
        cols[2] = Column::required("debit", LogicalType::Decimal { scale: 4 });
        let widened = Schema::new("ledger_lines", cols.clone(), ["company_id", "id"]).expect("s");
        assert_eq!(
            plan_evolution("t", &old, &widened).expect("widen"),
            [
                "ALTER TABLE t ALTER COLUMN \"debit\" TYPE numeric(38, 4) USING \"debit\"::numeric(38, 4)"
            ]
        );

        cols[2] = Column::required("debit", LogicalType::Bool);
        let broken = Schema::new("ledger_lines", cols, ["company_id", "id"]).expect("s");
        let err = plan_evolution("t", &old, &broken).expect_err("incompatible");
        assert!(
            matches!(err, LoadError::IncompatibleColumn { ref column, .. } if column == "debit"),
            "{err}"
        );

        let rekeyed =
            Schema::new("ledger_lines", schema(vec![]).columns().to_vec(), ["id"]).expect("s");
        assert!(matches!(
            plan_evolution("t", &old, &rekeyed),
            Err(LoadError::PrimaryKeyChanged { .. })
        ));
    }

    #[test]
    fn dropped_columns_become_nullable() {
        let mut old = existing(&schema(vec![]));
        old.columns.push(ExistingColumn {
            name: "legacy".into(),
            pg_type: PgType::Text,
            not_null: true,
        });
        assert_eq!(
            plan_evolution("t", &old, &schema(vec![])).expect("plan"),
            ["ALTER TABLE t ALTER COLUMN \"legacy\" DROP NOT NULL"]
        );
    }

    #[test]
    fn indexes_dates_and_ids_outside_the_key() {
        let idx = power_bi_indexes(&schema(vec![Column::nullable(
            "updated_at",
            LogicalType::TimestampTz,
        )]));
        let cols: Vec<_> = idx.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(cols, ["date", "journal_id", "updated_at"]);
        assert_eq!(idx[0].0, "ledger_lines_date_idx");
    }
}
