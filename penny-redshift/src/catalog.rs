//! Exploring the warehouse through `information_schema` only: schemas, tables and
//! views, columns with their types, row counts and previews.
//!
//! Data Sharing users may be denied system catalogs such as `pg_tables`
//! (`permission denied for relation pg_tables` was seen), so nothing here reads
//! `pg_catalog`. Every name from outside is passed as a parameter (in filters) or
//! quoted with [`quote_ident`] (in `FROM`).

use penny_transform::{LogicalType, Row};
use tokio_postgres::{SimpleQueryMessage, SimpleQueryRow};

use crate::connect::Connection;
use crate::error::Error;
use crate::types::{ColumnInfo, UnknownTypes, logical_type, parse_text, qualified, quote_ident};

/// What kind of relation a table entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableKind {
    /// A base table.
    Table,
    /// A view (late-binding views included).
    View,
    /// Anything else `information_schema.tables` reports (`FOREIGN`, `LOCAL TEMPORARY`...).
    Other(String),
}

/// One table or view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Table or view.
    pub kind: TableKind,
}

/// A column with the logical type it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedColumn {
    /// The column as the warehouse describes it.
    pub info: ColumnInfo,
    /// Its Penny type.
    pub logical_type: LogicalType,
}

/// Parses one text row by the columns' logical types. `number` is the row's
/// 1-based position in the read, for errors.
pub(crate) fn parse_row(
    label: &str,
    number: u64,
    row: &SimpleQueryRow,
    columns: &[DescribedColumn],
    types: &[LogicalType],
) -> Result<Row, Error> {
    if row.len() != types.len() {
        return Err(Error::ColumnCount {
            table: label.to_owned(),
            row: number,
            sent: row.len(),
            described: types.len(),
        });
    }
    let mut values = Vec::with_capacity(types.len());
    for (index, ty) in types.iter().enumerate() {
        let text = row.get(index);
        let value = parse_text(text, *ty).map_err(|reason| Error::Value {
            table: label.to_owned(),
            row: number,
            column: columns[index].info.name.clone(),
            value: text.unwrap_or_default().chars().take(100).collect(),
            expected: *ty,
            reason,
        })?;
        values.push(value);
    }
    Ok(values)
}

/// A table's columns, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDescription {
    /// The schema.
    pub schema: String,
    /// The table.
    pub name: String,
    /// The columns, in their ordinal order.
    pub columns: Vec<DescribedColumn>,
}

impl TableDescription {
    /// `schema.table`, for messages.
    pub fn label(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&DescribedColumn> {
        self.columns.iter().find(|c| c.info.name == name)
    }

    /// The logical types, in column order.
    pub fn logical_types(&self) -> Vec<LogicalType> {
        self.columns.iter().map(|c| c.logical_type).collect()
    }

    /// The column list for a `SELECT`, every name quoted.
    pub(crate) fn select_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quote_ident(&c.info.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The first rows of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The table's description.
    pub table: TableDescription,
    /// Up to the requested number of rows, typed.
    pub rows: Vec<Row>,
}

const COLUMNS_SQL: &str = "SELECT CAST(column_name AS VARCHAR), CAST(data_type AS VARCHAR), \
     CAST(is_nullable AS VARCHAR), CAST(numeric_precision AS INTEGER), \
     CAST(numeric_scale AS INTEGER), CAST(character_maximum_length AS INTEGER), \
     CAST(table_name AS VARCHAR) \
     FROM information_schema.columns WHERE table_schema = CAST($1 AS VARCHAR)";

impl Connection {
    /// The schemas holding at least one table or view this user can see
    /// (system schemas left out).
    pub async fn schemas(&self) -> Result<Vec<String>, Error> {
        let rows = self
            .query_text_params(
                "SELECT DISTINCT CAST(table_schema AS VARCHAR) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('information_schema', 'pg_catalog') \
                 AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1",
                &[],
                "listing schemas from information_schema.tables",
            )
            .await?;
        rows.iter()
            .map(|r| text(r, 0, "information_schema.tables.table_schema"))
            .collect()
    }

    /// The tables and views of `schema`, by name.
    pub async fn tables(&self, schema: &str) -> Result<Vec<TableInfo>, Error> {
        let rows = self
            .query_text_params(
                "SELECT CAST(table_name AS VARCHAR), CAST(table_type AS VARCHAR) \
                 FROM information_schema.tables WHERE table_schema = CAST($1 AS VARCHAR) \
                 ORDER BY 1",
                &[schema],
                &format!("listing the tables of schema {schema} from information_schema.tables"),
            )
            .await?;
        rows.iter()
            .map(|r| {
                let name = text(r, 0, "information_schema.tables.table_name")?;
                let kind = match text(r, 1, "information_schema.tables.table_type")?.as_str() {
                    "BASE TABLE" => TableKind::Table,
                    "VIEW" => TableKind::View,
                    other => TableKind::Other(other.to_owned()),
                };
                Ok(TableInfo {
                    schema: schema.to_owned(),
                    name,
                    kind,
                })
            })
            .collect()
    }

    /// The columns of `schema.table` as the warehouse describes them, in order.
    /// An unknown table is [`Error::TableNotFound`], with close names as a hint.
    pub async fn columns(&self, schema: &str, table: &str) -> Result<Vec<ColumnInfo>, Error> {
        let sql =
            format!("{COLUMNS_SQL} AND table_name = CAST($2 AS VARCHAR) ORDER BY ordinal_position");
        let rows = self
            .query_text_params(
                &sql,
                &[schema, table],
                &format!("describing {schema}.{table} from information_schema.columns"),
            )
            .await?;
        let columns = rows
            .iter()
            .map(column_info)
            .map(|r| r.map(|(_, c)| c))
            .collect::<Result<Vec<_>, _>>()?;
        if columns.is_empty() {
            return Err(self.not_found(schema, table).await);
        }
        Ok(columns)
    }

    /// The columns of every table of `schema`, by table name, in one query.
    pub async fn all_columns(
        &self,
        schema: &str,
    ) -> Result<std::collections::BTreeMap<String, Vec<ColumnInfo>>, Error> {
        let sql = format!("{COLUMNS_SQL} ORDER BY table_name, ordinal_position");
        let rows = self
            .query_text_params(
                &sql,
                &[schema],
                &format!(
                    "describing the tables of schema {schema} from information_schema.columns"
                ),
            )
            .await?;
        let mut tables = std::collections::BTreeMap::<String, Vec<ColumnInfo>>::new();
        for row in &rows {
            let (table, column) = column_info(row)?;
            tables.entry(table).or_default().push(column);
        }
        Ok(tables)
    }

    /// The columns of `schema.table` with their logical types. A column whose type
    /// cannot be mapped is an [`Error::UnmappableType`] naming it.
    pub async fn describe(
        &self,
        schema: &str,
        table: &str,
        unknown: UnknownTypes,
    ) -> Result<TableDescription, Error> {
        let columns = self.columns(schema, table).await?;
        describe_columns(schema, table, columns, unknown)
    }

    /// `SELECT COUNT(*)` of `schema.table`.
    pub async fn count_rows(&self, schema: &str, table: &str) -> Result<u64, Error> {
        let sql = format!("SELECT COUNT(*) FROM {}", qualified(schema, table));
        let messages = self
            .simple_query(&sql, &format!("counting the rows of {schema}.{table}"))
            .await
            .map_err(|e| missing_table(e, schema, table))?;
        let count = messages
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .ok_or_else(|| Error::Query {
                address: self.address().to_owned(),
                what: format!("counting the rows of {schema}.{table}"),
                reason: "the server returned no row for COUNT(*)".into(),
                code: None,
            })?;
        count.parse::<u64>().map_err(|e| Error::Query {
            address: self.address().to_owned(),
            what: format!("counting the rows of {schema}.{table}"),
            reason: format!("COUNT(*) returned `{count}`: {e}"),
            code: None,
        })
    }

    /// The first `limit` rows of `schema.table` (in the order the warehouse
    /// returns them), typed.
    pub async fn preview(
        &self,
        schema: &str,
        table: &str,
        limit: u32,
        unknown: UnknownTypes,
    ) -> Result<Preview, Error> {
        let description = self.describe(schema, table, unknown).await?;
        let sql = format!(
            "SELECT {} FROM {} LIMIT {limit}",
            description.select_list(),
            qualified(schema, table)
        );
        let messages = self
            .simple_query(&sql, &format!("previewing {schema}.{table}"))
            .await
            .map_err(|e| missing_table(e, schema, table))?;
        let types = description.logical_types();
        let label = description.label();
        let mut rows = Vec::new();
        for message in &messages {
            if let SimpleQueryMessage::Row(row) = message {
                let number = rows.len() as u64 + 1;
                rows.push(parse_row(
                    &label,
                    number,
                    row,
                    &description.columns,
                    &types,
                )?);
            }
        }
        Ok(Preview {
            table: description,
            rows,
        })
    }

    async fn not_found(&self, schema: &str, table: &str) -> Error {
        let mut hint = String::new();
        if let Ok(tables) = self.tables(schema).await {
            let wanted = table.to_ascii_lowercase();
            let close: Vec<String> = tables
                .into_iter()
                .map(|t| t.name)
                .filter(|n| {
                    let n = n.to_ascii_lowercase();
                    !n.is_empty() && (n.contains(&wanted) || wanted.contains(&n))
                })
                .take(5)
                .collect();
            if !close.is_empty() {
                hint = format!("; did you mean: {}", close.join(", "));
            }
        }
        Error::TableNotFound {
            schema: schema.to_owned(),
            table: table.to_owned(),
            hint,
        }
    }
}

/// Maps described columns to logical types.
pub(crate) fn describe_columns(
    schema: &str,
    table: &str,
    columns: Vec<ColumnInfo>,
    unknown: UnknownTypes,
) -> Result<TableDescription, Error> {
    let label = format!("{schema}.{table}");
    let columns = columns
        .into_iter()
        .map(|info| {
            let logical_type = logical_type(&label, &info, unknown)?;
            Ok(DescribedColumn { info, logical_type })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(TableDescription {
        schema: schema.to_owned(),
        name: table.to_owned(),
        columns,
    })
}

/// A "relation does not exist" (42P01) becomes [`Error::TableNotFound`].
pub(crate) fn missing_table(error: Error, schema: &str, table: &str) -> Error {
    if error.code() == Some("42P01") {
        Error::TableNotFound {
            schema: schema.to_owned(),
            table: table.to_owned(),
            hint: String::new(),
        }
    } else {
        error
    }
}

fn text(row: &tokio_postgres::Row, index: usize, what: &str) -> Result<String, Error> {
    opt_text(row, index, what)?.ok_or_else(|| Error::Config {
        what: format!("{what} is unexpectedly null"),
    })
}

fn opt_text(row: &tokio_postgres::Row, index: usize, what: &str) -> Result<Option<String>, Error> {
    row.try_get::<_, Option<String>>(index)
        .map_err(|e| Error::Config {
            what: format!("cannot read {what}: {}", crate::error::chain(&e)),
        })
}

fn opt_int(row: &tokio_postgres::Row, index: usize, what: &str) -> Result<Option<i32>, Error> {
    row.try_get::<_, Option<i32>>(index)
        .map_err(|e| Error::Config {
            what: format!("cannot read {what}: {}", crate::error::chain(&e)),
        })
}

fn column_info(row: &tokio_postgres::Row) -> Result<(String, ColumnInfo), Error> {
    let name = text(row, 0, "information_schema.columns.column_name")?;
    let data_type = text(row, 1, "information_schema.columns.data_type")?;
    let nullable = opt_text(row, 2, "information_schema.columns.is_nullable")?
        .is_none_or(|v| v.eq_ignore_ascii_case("YES"));
    let table = text(row, 6, "information_schema.columns.table_name")?;
    Ok((
        table,
        ColumnInfo {
            name,
            data_type: data_type.to_ascii_lowercase(),
            nullable,
            numeric_precision: opt_int(row, 3, "information_schema.columns.numeric_precision")?,
            numeric_scale: opt_int(row, 4, "information_schema.columns.numeric_scale")?,
            max_length: opt_int(
                row,
                5,
                "information_schema.columns.character_maximum_length",
            )?,
        },
    ))
}
