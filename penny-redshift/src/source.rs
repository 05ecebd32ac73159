//! The Data Sharing warehouse as a [`penny_transform::Source`]: one stream per table.
//!
//! # Streams
//! Every table and view of one schema ([`SourceOptions::schema`], `pennylane` by
//! default), or the chosen [`SourceOptions::tables`]. When no list is chosen, a
//! table that cannot be offered (a `numeric` with more than 28 decimals, a
//! configured key that does not exist) is left out with a warning in the log; a
//! chosen table that cannot be offered is an error naming it. A stream keeps the warehouse's
//! column names and types. In the `etl` schema, a table spelled with the old `_etl`
//! suffix (`general_ledger_etl`) is offered as `general_ledger` (both spellings are
//! accepted when choosing tables), so positions and downstream mappings survive a
//! change of spelling; if both spellings exist, the one without the suffix is used.
//!
//! # Primary keys
//! [`SourceOptions::primary_keys`] when given; otherwise `(company_id, id)` when both
//! columns exist (Pennylane ids are per company and a firm sees many companies), or
//! `(id)`. Key columns are declared non-nullable; a null key in the data is an error
//! naming the row. A table with neither and no configured key is read **in full
//! only**, with a synthetic key column [`ROW_NUMBER_COLUMN`] (the row's number in
//! that read) appended: a full read replaces the raw table, so the number only has
//! to be unique within the read.
//!
//! # Incremental reads
//! [`TableMode::Auto`] (the default) reads a table with a `synchronised_at` column
//! (the `etl` schema) incrementally by that column, and any other table in full.
//! [`TableMode::Cursor`] names another monotone column; [`TableMode::Full`] forces
//! full reads. An incremental read:
//! 1. opens a read-only transaction (one snapshot) and reads `MAX(column)`;
//! 2. with no saved position, or a position for another column, reads in full;
//! 3. if the maximum is *before* the saved position (or the table is empty), the
//!    table was rebuilt behind our back (the weekly rebuild of `etl`): it reads in
//!    full ([`ReadKind::Full`]), which replaces the raw table and so also drops rows
//!    purged by the rebuild;
//! 4. otherwise reads rows with `column >= position` (inclusive: rows sharing the
//!    last value are read again, and upserting them again changes nothing), ordered
//!    by the column, checkpointing after each batch at the batch's last value and at
//!    the end at the maximum read in step 1.
//!
//! Rows whose `deleted_at` is set become deletions ([`Batch::delete`] of their keys)
//! in incremental reads, and are left out of full reads. Rows whose cursor column
//! is null are only seen by full reads.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use penny_transform::{
    Batch, Column, LogicalType, Position, ReadKind, Row, Schema, Source, SourceError, SourceEvent,
    StreamInfo, StreamRead, SyncMode, Value,
};
use serde::{Deserialize, Serialize};
use tokio_postgres::SimpleQueryMessage;

use crate::catalog::{TableDescription, describe_columns};
use crate::config::DataSharingConfig;
use crate::connect::{Connection, connect};
use crate::cursor::{CursorOptions, TableCursor, begin_read_only};
use crate::error::Error;
use crate::types::{
    ColumnInfo, UnknownTypes, cast_type, parse_text, qualified, quote_ident, to_sql_text,
};

/// The source's name in logs and sync state.
pub const SOURCE_NAME: &str = "pennylane-redshift";
/// The column `etl` tables are read incrementally by.
pub const SYNCHRONISED_AT: &str = "synchronised_at";
/// The column whose value turns a row into a deletion.
pub const DELETED_AT: &str = "deleted_at";
/// The synthetic key column of tables without a usable key.
pub const ROW_NUMBER_COLUMN: &str = "_penny_row_number";
/// The default schema.
pub const DEFAULT_SCHEMA: &str = "pennylane";

/// How a table is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TableMode {
    /// Incremental by `synchronised_at` when the table has it, full otherwise.
    #[default]
    Auto,
    /// Always the whole table.
    Full,
    /// Incremental by this monotone column (a timestamp, a date, an increasing id).
    Cursor {
        /// The column.
        column: String,
    },
}

/// What the source offers and how it reads it.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// The warehouse schema (`pennylane`, `etl`...).
    pub schema: String,
    /// The tables to offer (either spelling for `_etl` tables); `None` for all.
    pub tables: Option<Vec<String>>,
    /// Per-table read mode, by stream name; [`TableMode::Auto`] when absent.
    pub modes: BTreeMap<String, TableMode>,
    /// Per-table primary key columns, by stream name (see the module docs for the default).
    pub primary_keys: BTreeMap<String, Vec<String>>,
    /// Cursor fetch and batch sizes.
    pub cursor: CursorOptions,
    /// What to do with columns of types without an exact logical type.
    pub unknown_types: UnknownTypes,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            schema: DEFAULT_SCHEMA.to_owned(),
            tables: None,
            modes: BTreeMap::new(),
            primary_keys: BTreeMap::new(),
            cursor: CursorOptions::default(),
            unknown_types: UnknownTypes::default(),
        }
    }
}

impl SourceOptions {
    /// Options for `schema`, everything else by default.
    pub fn for_schema(schema: impl Into<String>) -> Self {
        SourceOptions {
            schema: schema.into(),
            ..SourceOptions::default()
        }
    }
}

/// The Data Sharing warehouse as a Penny [`Source`]. Each call opens its own connection.
#[derive(Debug, Clone)]
pub struct DataSharingSource {
    config: DataSharingConfig,
    options: SourceOptions,
}

/// A position this source hands out (serialised into [`Position`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SavedPosition {
    /// A full read of a table read in full only.
    Full {
        /// The warehouse table.
        table: String,
        /// Rows read.
        rows: u64,
    },
    /// Rows up to `value` of `column` were read (`Null`: the table was empty).
    Cursor {
        /// The warehouse table.
        table: String,
        /// The cursor column.
        column: String,
        /// The last value read.
        value: Value,
    },
}

/// How one table is read: its schema, key and mode.
#[derive(Debug, Clone)]
struct TablePlan {
    stream: String,
    description: TableDescription,
    schema: Arc<Schema>,
    /// Positions of the key columns in a row, in key order (after any synthetic column).
    key: Vec<usize>,
    synthetic_key: bool,
    cursor: Option<(usize, String)>,
    deleted_at: Option<usize>,
}

impl TablePlan {
    fn sync_mode(&self) -> SyncMode {
        match &self.cursor {
            Some((_, column)) => SyncMode::Cursor {
                field: column.clone(),
            },
            None => SyncMode::FullOnly,
        }
    }
}

impl DataSharingSource {
    /// A source over `config`'s warehouse.
    pub fn new(config: DataSharingConfig, options: SourceOptions) -> Self {
        DataSharingSource { config, options }
    }

    /// The options.
    pub fn options(&self) -> &SourceOptions {
        &self.options
    }

    fn stream_name(&self, table: &str) -> String {
        if self.options.schema == "etl"
            && let Some(base) = table.strip_suffix("_etl").filter(|b| !b.is_empty())
        {
            return base.to_owned();
        }
        table.to_owned()
    }

    /// Stream name -> warehouse table, for every table of the schema.
    fn resolve_names(&self, tables: impl IntoIterator<Item = String>) -> BTreeMap<String, String> {
        let mut streams = BTreeMap::new();
        for table in tables {
            let stream = self.stream_name(&table);
            let unsuffixed = stream == table;
            match streams.get(&stream) {
                // The spelling without the suffix wins.
                Some(existing) if *existing == stream => {}
                Some(_) if !unsuffixed => {}
                _ => {
                    streams.insert(stream, table);
                }
            }
        }
        streams
    }

    fn wanted(&self, stream: &str) -> bool {
        match &self.options.tables {
            None => true,
            Some(list) => list
                .iter()
                .any(|t| t == stream || self.stream_name(t) == stream),
        }
    }

    fn plan(
        &self,
        stream: &str,
        table: &str,
        columns: Vec<ColumnInfo>,
    ) -> Result<TablePlan, Error> {
        let description = describe_columns(
            &self.options.schema,
            table,
            columns,
            self.options.unknown_types,
        )?;
        let label = description.label();
        let has = |name: &str| description.column(name).is_some();
        let key_names: Vec<String> = match self.options.primary_keys.get(stream) {
            Some(names) => names.clone(),
            None if has("id") && has("company_id") => vec!["company_id".into(), "id".into()],
            None if has("id") => vec!["id".into()],
            None => Vec::new(),
        };
        let synthetic_key = key_names.is_empty();
        let mode = self.options.modes.get(stream).cloned().unwrap_or_default();
        let cursor_column = match mode {
            TableMode::Full => None,
            TableMode::Auto => has(SYNCHRONISED_AT).then(|| SYNCHRONISED_AT.to_owned()),
            TableMode::Cursor { column } => Some(column),
        };
        if synthetic_key && cursor_column.is_some() {
            return Err(Error::Config {
                what: format!(
                    "table {label} has no `id` column and no configured primary key: it can only \
                     be read in full (configure a key to read it incrementally)"
                ),
            });
        }
        let mut columns: Vec<Column> = description
            .columns
            .iter()
            .map(|c| Column {
                name: c.info.name.clone(),
                logical_type: c.logical_type,
                nullable: c.info.nullable && !key_names.contains(&c.info.name),
            })
            .collect();
        let mut schema_key = key_names.clone();
        if synthetic_key {
            columns.push(Column::required(ROW_NUMBER_COLUMN, LogicalType::Int64));
            schema_key = vec![ROW_NUMBER_COLUMN.to_owned()];
        }
        let schema = Schema::new(stream, columns, &schema_key).map_err(|source| Error::Schema {
            table: label.clone(),
            source,
        })?;
        let key = schema.primary_key().to_vec();
        let cursor = match cursor_column {
            None => None,
            Some(column) => {
                let index = description
                    .columns
                    .iter()
                    .position(|c| c.info.name == column)
                    .ok_or_else(|| Error::Config {
                        what: format!(
                            "table {label} has no column `{column}` to read incrementally by"
                        ),
                    })?;
                let ty = description.columns[index].logical_type;
                if cast_type(ty).is_none() {
                    return Err(Error::Config {
                        what: format!(
                            "table {label}: column `{column}` has type {ty}, which cannot order an incremental read"
                        ),
                    });
                }
                Some((index, column))
            }
        };
        let deleted_at = description
            .columns
            .iter()
            .position(|c| c.info.name == DELETED_AT);
        Ok(TablePlan {
            stream: stream.to_owned(),
            description,
            schema: Arc::new(schema),
            key,
            synthetic_key,
            cursor,
            deleted_at,
        })
    }

    async fn plans(&self, connection: &Connection) -> Result<Vec<TablePlan>, Error> {
        let schema = &self.options.schema;
        let mut all = connection.all_columns(schema).await?;
        let names = self.resolve_names(all.keys().cloned().collect::<Vec<_>>());
        if let Some(list) = &self.options.tables {
            for wanted in list {
                let stream = self.stream_name(wanted);
                if !names.contains_key(&stream) {
                    return Err(Error::TableNotFound {
                        schema: schema.clone(),
                        table: wanted.clone(),
                        hint: String::new(),
                    });
                }
            }
        }
        let mut plans = Vec::new();
        for (stream, table) in names {
            if !self.wanted(&stream) {
                continue;
            }
            let columns = all.remove(&table).unwrap_or_default();
            match self.plan(&stream, &table, columns) {
                Ok(plan) => plans.push(plan),
                // One odd table must not hide all the others when no list was
                // chosen; a chosen table that cannot be read is an error.
                Err(error) if self.options.tables.is_none() => {
                    tracing::warn!(table = %table, %error, "Data Sharing table left out of the streams");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(plans)
    }

    async fn plan_one(&self, connection: &Connection, stream: &str) -> Result<TablePlan, Error> {
        if !self.wanted(stream) && !self.wanted(&self.stream_name(stream)) {
            return Err(Error::Config {
                what: format!("stream `{stream}` is not among the chosen tables"),
            });
        }
        let schema = &self.options.schema;
        let stream = self.stream_name(stream);
        let mut candidates = vec![stream.clone()];
        if schema == "etl" {
            candidates.push(format!("{stream}_etl"));
        }
        let mut last = None;
        for table in candidates {
            match connection.columns(schema, &table).await {
                Ok(columns) => return self.plan(&stream, &table, columns),
                Err(e @ Error::TableNotFound { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::TableNotFound {
            schema: schema.clone(),
            table: stream,
            hint: String::new(),
        }))
    }

    async fn open(&self, stream: &str, from: Option<Position>) -> Result<Reading, SourceError> {
        let connection = connect(&self.config)
            .await
            .map_err(|e| e.into_source_error(stream))?;
        let plan = self
            .plan_one(&connection, stream)
            .await
            .map_err(|e| e.into_source_error(stream))?;
        let saved = match &from {
            None => None,
            Some(position) => Some(position.decode::<SavedPosition>().map_err(|e| {
                SourceError::InvalidPosition {
                    stream: stream.to_owned(),
                    position: position.to_string(),
                    reason: e.to_string(),
                }
            })?),
        };
        begin_read_only(&connection)
            .await
            .map_err(|e| e.into_source_error(stream))?;
        let label = plan.description.label();
        let table_sql = qualified(&plan.description.schema, &plan.description.name);
        let select_list = plan.description.select_list();

        let Some((cursor_index, cursor_column)) = plan.cursor.clone() else {
            // Full only.
            let mut sql = format!("SELECT {select_list} FROM {table_sql}");
            if let Some(d) = plan.deleted_at {
                sql.push_str(&format!(
                    " WHERE {} IS NULL",
                    quote_ident(&plan.description.columns[d].info.name)
                ));
            }
            let cursor = TableCursor::declare(
                connection,
                label,
                &sql,
                &[],
                plan.description.columns.clone(),
                self.options.cursor,
            )
            .await
            .map_err(|e| e.into_source_error(stream))?;
            return Ok(Reading {
                kind: ReadKind::Full,
                plan,
                cursor,
                final_position: None,
                incremental: false,
            });
        };

        let cursor_ty = plan.description.columns[cursor_index].logical_type;
        let quoted_cursor = quote_ident(&cursor_column);
        let max_sql = format!("SELECT MAX({quoted_cursor}) FROM {table_sql}");
        let messages = connection
            .simple_query(
                &max_sql,
                &format!("reading MAX({cursor_column}) of {label}"),
            )
            .await
            .map_err(|e| e.into_source_error(stream))?;
        let max_text = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
            _ => None,
        });
        let max = parse_text(max_text.flatten().as_deref(), cursor_ty).map_err(|reason| {
            Error::Value {
                table: label.clone(),
                row: 0,
                column: cursor_column.clone(),
                value: String::from("MAX"),
                expected: cursor_ty,
                reason,
            }
            .into_source_error(stream)
        })?;

        let resume_from = match saved {
            Some(SavedPosition::Cursor {
                table,
                column,
                value,
            }) if column == cursor_column && table == plan.description.name && !value.is_null() => {
                if !value.fits(cursor_ty) {
                    return Err(SourceError::InvalidPosition {
                        stream: stream.to_owned(),
                        position: from.map(|p| p.to_string()).unwrap_or_default(),
                        reason: format!(
                            "its value is a {}, column `{cursor_column}` is {cursor_ty}",
                            value.kind()
                        ),
                    });
                }
                if max.is_null() || max.total_cmp(&value).is_lt() {
                    tracing::warn!(
                        table = %label, saved = %value, max = %max,
                        "the table's newest row is older than the saved position: it was rebuilt; reading it in full"
                    );
                    None
                } else {
                    Some(value)
                }
            }
            _ => None,
        };

        let deleted = plan
            .deleted_at
            .map(|d| quote_ident(&plan.description.columns[d].info.name));
        let (kind, sql, params) = match &resume_from {
            None => {
                let mut sql = format!("SELECT {select_list} FROM {table_sql}");
                if let Some(d) = &deleted {
                    sql.push_str(&format!(" WHERE {d} IS NULL"));
                }
                (ReadKind::Full, sql, Vec::new())
            }
            Some(value) => {
                let cast = cast_type(cursor_ty).unwrap_or_else(|| "VARCHAR".into());
                let text = to_sql_text(value).ok_or_else(|| SourceError::InvalidPosition {
                    stream: stream.to_owned(),
                    position: value.to_string(),
                    reason: "a null, float or JSON value cannot be a position".into(),
                })?;
                let sql = format!(
                    "SELECT {select_list} FROM {table_sql} WHERE {quoted_cursor} >= CAST(CAST($1 AS VARCHAR) AS {cast}) ORDER BY {quoted_cursor}"
                );
                (ReadKind::Incremental, sql, vec![text])
            }
        };
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        let cursor = TableCursor::declare(
            connection,
            label,
            &sql,
            &params,
            plan.description.columns.clone(),
            self.options.cursor,
        )
        .await
        .map_err(|e| e.into_source_error(stream))?;
        let final_value = match (&resume_from, &max) {
            (Some(saved), Value::Null) => saved.clone(),
            _ => max,
        };
        let final_position = SavedPosition::Cursor {
            table: plan.description.name.clone(),
            column: cursor_column,
            value: final_value,
        };
        Ok(Reading {
            kind,
            incremental: kind == ReadKind::Incremental,
            plan,
            cursor,
            final_position: Some(final_position),
        })
    }
}

/// A read in progress.
struct Reading {
    kind: ReadKind,
    plan: TablePlan,
    cursor: TableCursor,
    /// The checkpoint at the end (`None`: a full-only table, counted at the end).
    final_position: Option<SavedPosition>,
    /// Whether batches split deletions off and checkpoint as they go.
    incremental: bool,
}

struct ReadState {
    reading: Option<Reading>,
    pending: VecDeque<SourceEvent>,
    stream: String,
}

impl Reading {
    /// The events for one chunk of rows.
    fn events(
        &self,
        mut rows: Vec<Row>,
        first_number: u64,
    ) -> Result<Vec<SourceEvent>, SourceError> {
        let plan = &self.plan;
        let mut events = Vec::new();
        if plan.synthetic_key {
            for (offset, row) in rows.iter_mut().enumerate() {
                row.push(Value::Int64((first_number + offset as u64) as i64));
            }
        }
        let last_cursor_value = match (&plan.cursor, rows.last()) {
            (Some((index, _)), Some(last)) if self.incremental => Some(last[*index].clone()),
            _ => None,
        };
        let (upserts, deletions): (Vec<Row>, Vec<Row>) = match plan.deleted_at {
            Some(d) if self.incremental => rows.into_iter().partition(|row| row[d].is_null()),
            _ => (rows, Vec::new()),
        };
        if !upserts.is_empty() {
            events.push(SourceEvent::Batch(Batch::upsert(
                plan.schema.clone(),
                upserts,
            )?));
        }
        if !deletions.is_empty() {
            let keys = deletions
                .into_iter()
                .map(|row| plan.key.iter().map(|&i| row[i].clone()).collect())
                .collect();
            events.push(SourceEvent::Batch(Batch::delete(
                plan.schema.clone(),
                keys,
            )?));
        }
        if let (Some(value), Some((_, column))) = (last_cursor_value, &plan.cursor)
            && !value.is_null()
        {
            events.push(SourceEvent::Checkpoint(encode(
                &plan.stream,
                &SavedPosition::Cursor {
                    table: plan.description.name.clone(),
                    column: column.clone(),
                    value,
                },
            )?));
        }
        Ok(events)
    }
}

fn encode(stream: &str, position: &SavedPosition) -> Result<Position, SourceError> {
    Position::encode(position).map_err(|e| SourceError::Data {
        stream: stream.to_owned(),
        source: Box::new(e),
    })
}

async fn next_event(mut state: ReadState) -> Result<Option<(SourceEvent, ReadState)>, SourceError> {
    loop {
        if let Some(event) = state.pending.pop_front() {
            return Ok(Some((event, state)));
        }
        let Some(mut reading) = state.reading.take() else {
            return Ok(None);
        };
        let first_number = reading.cursor.rows_read() + 1;
        match reading
            .cursor
            .next_chunk()
            .await
            .map_err(|e| e.into_source_error(&state.stream))?
        {
            Some(rows) => {
                let events = reading.events(rows, first_number)?;
                state.pending.extend(events);
                state.reading = Some(reading);
            }
            None => {
                let rows = reading.cursor.rows_read();
                let position = reading
                    .final_position
                    .take()
                    .unwrap_or(SavedPosition::Full {
                        table: reading.plan.description.name.clone(),
                        rows,
                    });
                let stream = reading.plan.stream.clone();
                reading
                    .cursor
                    .close()
                    .await
                    .map_err(|e| e.into_source_error(&stream))?;
                tracing::debug!(stream = %stream, rows, "Data Sharing read finished");
                state
                    .pending
                    .push_back(SourceEvent::Checkpoint(encode(&stream, &position)?));
            }
        }
    }
}

#[async_trait]
impl Source for DataSharingSource {
    fn name(&self) -> &str {
        SOURCE_NAME
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
        let stream = self.options.schema.clone();
        let connection = connect(&self.config)
            .await
            .map_err(|e| e.into_source_error(&stream))?;
        let plans = self
            .plans(&connection)
            .await
            .map_err(|e| e.into_source_error(&stream))?;
        Ok(plans
            .into_iter()
            .map(|plan| StreamInfo {
                sync_mode: plan.sync_mode(),
                schema: plan.schema,
            })
            .collect())
    }

    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError> {
        let reading = self.open(stream, from).await?;
        let kind = reading.kind;
        let state = ReadState {
            stream: reading.plan.stream.clone(),
            reading: Some(reading),
            pending: VecDeque::new(),
        };
        let events = futures_util::stream::try_unfold(state, next_event);
        Ok(StreamRead::new(kind, Box::pin(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(schema: &str) -> DataSharingSource {
        DataSharingSource::new(
            DataSharingConfig::new("localhost", "db", "u", "k"),
            SourceOptions::for_schema(schema),
        )
    }

    fn columns(names: &[(&str, &str)]) -> Vec<ColumnInfo> {
        names.iter().map(|(n, t)| ColumnInfo::new(*n, *t)).collect()
    }

    #[test]
    fn accepts_both_etl_spellings_preferring_the_short_one() {
        let s = source("etl");
        let names = s.resolve_names(["general_ledger_etl".into(), "companies".into()]);
        assert_eq!(
            names.get("general_ledger").map(String::as_str),
            Some("general_ledger_etl")
        );
        let names = s.resolve_names(["general_ledger".into(), "general_ledger_etl".into()]);
        assert_eq!(
            names.get("general_ledger").map(String::as_str),
            Some("general_ledger")
        );
        assert_eq!(names.len(), 1);
        // Outside `etl` the suffix is part of the name.
        let names = source("pennylane").resolve_names(["x_etl".into()]);
        assert!(names.contains_key("x_etl"));
    }

    #[test]
    fn keys_default_to_company_and_id_and_etl_reads_by_synchronised_at() {
        let s = source("etl");
        let plan = s
            .plan(
                "general_ledger",
                "general_ledger",
                columns(&[
                    ("company_id", "bigint"),
                    ("id", "bigint"),
                    ("deleted_at", "timestamp with time zone"),
                    ("synchronised_at", "timestamp with time zone"),
                ]),
            )
            .expect("plan");
        assert_eq!(
            plan.schema.primary_key_names().collect::<Vec<_>>(),
            ["company_id", "id"]
        );
        assert!(!plan.schema.columns()[0].nullable);
        assert_eq!(
            plan.sync_mode(),
            SyncMode::Cursor {
                field: "synchronised_at".into()
            }
        );
        assert_eq!(plan.deleted_at, Some(2));
    }

    #[test]
    fn keyless_tables_are_full_only_with_a_row_number() {
        let mut s = source("pennylane");
        let plan = s
            .plan("log", "log", columns(&[("message", "text")]))
            .expect("plan");
        assert!(plan.synthetic_key);
        assert_eq!(plan.sync_mode(), SyncMode::FullOnly);
        assert_eq!(
            plan.schema.primary_key_names().collect::<Vec<_>>(),
            [ROW_NUMBER_COLUMN]
        );
        s.options.modes.insert(
            "log".into(),
            TableMode::Cursor {
                column: "message".into(),
            },
        );
        let err = s
            .plan("log", "log", columns(&[("message", "text")]))
            .expect_err("no key");
        assert!(err.to_string().contains("only be read in full"), "{err}");
    }

    #[test]
    fn a_configured_key_or_cursor_must_exist() {
        let mut s = source("pennylane");
        s.options
            .primary_keys
            .insert("t".into(), vec!["nope".into()]);
        let err = s
            .plan("t", "t", columns(&[("id", "bigint")]))
            .expect_err("bad key");
        assert!(err.to_string().contains("nope"), "{err}");
        let mut s = source("pennylane");
        s.options.modes.insert(
            "t".into(),
            TableMode::Cursor {
                column: "updated".into(),
            },
        );
        let err = s
            .plan("t", "t", columns(&[("id", "bigint")]))
            .expect_err("bad cursor");
        assert!(err.to_string().contains("`updated`"), "{err}");
    }

    #[test]
    fn positions_round_trip() {
        let p = SavedPosition::Cursor {
            table: "general_ledger".into(),
            column: "synchronised_at".into(),
            value: Value::Int64(3),
        };
        let encoded = encode("s", &p).expect("encode");
        assert_eq!(encoded.decode::<SavedPosition>().expect("decode"), p);
    }
}
