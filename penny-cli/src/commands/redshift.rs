//! `penny redshift`: the Data Sharing warehouse from the shell.

use std::io::{IsTerminal, Write};

use penny_redshift::{
    Connection, CursorOptions, QueryCursor, QueryError, QueryOptions, TableCursor, UnknownTypes,
    begin_read_only, connect,
};
use penny_transform::ident::{qualified, quote_ident};
use serde_json::Value as Json;

use crate::cli::{Format, RedshiftCommand};
use crate::commands::api::write_table;
use crate::config::Config;
use crate::exit::{CliError, ExitCode};
use crate::output::StreamProgress;
use penny_sync::target::csv_sink::render;

/// Rows the table format of `penny redshift query` shows when no `--limit` is given
/// (it aligns columns, so it holds its rows; csv and json stream).
pub const TABLE_ROWS: u64 = 1000;

/// A Data Sharing error as a command error, with its class.
pub fn redshift_error(e: &penny_redshift::Error) -> CliError {
    let code = match e {
        penny_redshift::Error::TableNotFound { .. } => ExitCode::Data,
        penny_redshift::Error::Config { .. } => ExitCode::Config,
        _ if e
            .code()
            .is_some_and(|c| c.starts_with("28") || c == "42501") =>
        {
            ExitCode::Auth
        }
        _ => match e.stage() {
            Some(penny_redshift::Stage::Auth) => ExitCode::Auth,
            Some(penny_redshift::Stage::Tcp | penny_redshift::Stage::Tls) => ExitCode::Unavailable,
            _ => ExitCode::Data,
        },
    };
    CliError::new(code, e)
}

/// A query error as a command error: a refused text is a usage error.
fn query_error(e: &QueryError) -> CliError {
    match e {
        QueryError::Server(inner) => redshift_error(inner),
        _ => CliError::new(ExitCode::Usage, e),
    }
}

fn io_error(e: std::io::Error) -> CliError {
    CliError::new(ExitCode::Unavailable, &e)
}

/// `penny redshift`.
pub async fn redshift(
    config_path: Option<&std::path::Path>,
    command: &RedshiftCommand,
) -> Result<(), CliError> {
    if let RedshiftCommand::Query { sql, .. } = command {
        // A text that is not one read is refused before any connection.
        penny_redshift::check_single_select(sql).map_err(|e| query_error(&e))?;
    }
    let config = Config::load(config_path)?;
    let ds = crate::commands::sync::data_sharing_config(&config)?;
    let schema = config.redshift.schema.clone();
    let conn = connect(&ds).await.map_err(|e| redshift_error(&e))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match command {
        RedshiftCommand::Tables => {
            let tables = conn.tables(&schema).await.map_err(|e| redshift_error(&e))?;
            let rows: Vec<Vec<String>> = tables
                .iter()
                .map(|t| vec![t.name.clone(), format!("{:?}", t.kind).to_lowercase()])
                .collect();
            write_table(&mut out, &["table".into(), "kind".into()], &rows).map_err(io_error)?;
        }
        RedshiftCommand::Describe { table } => {
            let d = conn
                .describe(&schema, table, UnknownTypes::default())
                .await
                .map_err(|e| redshift_error(&e))?;
            let rows: Vec<Vec<String>> = d
                .columns
                .iter()
                .map(|c| {
                    vec![
                        c.info.name.clone(),
                        c.info.data_type.clone(),
                        if c.info.nullable { "yes" } else { "no" }.into(),
                        c.logical_type.to_string(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &[
                    "column".into(),
                    "type".into(),
                    "nullable".into(),
                    "penny type".into(),
                ],
                &rows,
            )
            .map_err(io_error)?;
        }
        RedshiftCommand::Preview { table, limit } => {
            let limit = u32::try_from(*limit).unwrap_or(u32::MAX);
            let p = conn
                .preview(&schema, table, limit, UnknownTypes::default())
                .await
                .map_err(|e| redshift_error(&e))?;
            let header: Vec<String> = p
                .table
                .columns
                .iter()
                .map(|c| c.info.name.clone())
                .collect();
            let rows: Vec<Vec<String>> = p
                .rows
                .iter()
                .map(|r| r.iter().map(render).collect())
                .collect();
            write_table(&mut out, &header, &rows).map_err(io_error)?;
        }
        RedshiftCommand::Count { table } => {
            let n = conn
                .count_rows(&schema, table)
                .await
                .map_err(|e| redshift_error(&e))?;
            writeln!(out, "{n}").map_err(io_error)?;
        }
        RedshiftCommand::Query { sql, limit, format } => {
            let format = format.unwrap_or(if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Csv
            });
            let options = QueryOptions {
                fetch_rows: config.redshift.fetch_rows as usize,
                chunk_rows: config.sync.batch_rows,
                limit: *limit,
            };
            query(conn, sql, format, options, &mut out).await?;
        }
        RedshiftCommand::Export { table, to } => {
            let rows = export(conn, &schema, table, to, config.redshift.fetch_rows).await?;
            writeln!(out, "{rows} rows written to {}", to.display()).map_err(io_error)?;
        }
    }
    out.flush().map_err(io_error)?;
    Ok(())
}

/// `penny redshift query`: the rows of one read-only query, streamed to `out`
/// (csv, json) or aligned (table, at most `--limit` or [`TABLE_ROWS`] rows).
async fn query(
    conn: Connection,
    sql: &str,
    format: Format,
    mut options: QueryOptions,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // The table format reads one row more than it shows, to say when it cut.
    let table_cap = (format == Format::Table && options.limit.is_none()).then_some(TABLE_ROWS);
    if let Some(cap) = table_cap {
        options.limit = Some(cap + 1);
    }
    let mut cursor = QueryCursor::open(conn, sql, options)
        .await
        .map_err(|e| query_error(&e))?;
    let names = cursor.columns().to_vec();
    let cells = |row: Vec<Option<String>>| -> Vec<Json> {
        row.into_iter()
            .map(|v| v.map_or(Json::Null, Json::String))
            .collect()
    };
    if format == Format::Table {
        let mut rows: Vec<Vec<String>> = Vec::new();
        while let Some(chunk) = cursor.next_chunk().await.map_err(|e| query_error(&e))? {
            rows.extend(
                chunk
                    .into_iter()
                    .map(|r| r.into_iter().map(Option::unwrap_or_default).collect()),
            );
        }
        let cut = table_cap.is_some_and(|cap| rows.len() as u64 > cap);
        if cut {
            rows.truncate(TABLE_ROWS as usize);
        }
        write_table(out, &names, &rows).map_err(io_error)?;
        if cut {
            tracing::warn!(
                "showing the first {TABLE_ROWS} rows; use --limit N, or --format csv|json to stream them all"
            );
        }
    } else {
        let mut writer = RowWriter::new(out, names, format == Format::Json).map_err(io_error)?;
        while let Some(chunk) = cursor.next_chunk().await.map_err(|e| query_error(&e))? {
            for row in chunk {
                writer.write(cells(row)).map_err(io_error)?;
            }
        }
        writer.finish().map_err(io_error)?;
    }
    tracing::info!(rows = cursor.rows_read(), "query done");
    cursor.close().await.map_err(|e| query_error(&e))?;
    Ok(())
}

/// `penny redshift export`: a whole table into a CSV or JSON-lines file, streamed
/// through a cursor (written to `<file>.partial`, renamed at the end). Returns the rows.
async fn export(
    conn: Connection,
    schema: &str,
    table: &str,
    to: &std::path::Path,
    fetch_rows: u32,
) -> Result<u64, CliError> {
    let d = conn
        .describe(schema, table, UnknownTypes::default())
        .await
        .map_err(|e| redshift_error(&e))?;
    let jsonl = to.extension().is_some_and(|e| e == "jsonl" || e == "json");
    let columns = d.columns.clone();
    let select = format!(
        "SELECT {} FROM {}",
        columns
            .iter()
            .map(|c| quote_ident(&c.info.name))
            .collect::<Vec<_>>()
            .join(", "),
        qualified(schema, table)
    );
    begin_read_only(&conn)
        .await
        .map_err(|e| redshift_error(&e))?;
    let options = CursorOptions {
        fetch_rows: fetch_rows as usize,
        ..CursorOptions::default()
    };
    let mut cursor = TableCursor::declare(conn, d.label(), &select, &[], columns.clone(), options)
        .await
        .map_err(|e| redshift_error(&e))?;
    let tmp = to.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(|e| CliError::new(ExitCode::Config, &e))?;
    let names: Vec<String> = columns.iter().map(|c| c.info.name.clone()).collect();
    let mut writer =
        RowWriter::new(std::io::BufWriter::new(file), names, jsonl).map_err(io_error)?;
    let progress = StreamProgress::start(table);
    while let Some(chunk) = cursor.next_chunk().await.map_err(|e| redshift_error(&e))? {
        for row in &chunk {
            writer
                .write(row.iter().map(json_value).collect())
                .map_err(io_error)?;
        }
        progress.rows(chunk.len() as u64);
    }
    writer.finish().map_err(io_error)?;
    std::fs::rename(&tmp, to).map_err(|e| CliError::new(ExitCode::Config, &e))?;
    let rows = cursor.rows_read();
    progress.finish("done");
    let _ = cursor.close().await;
    Ok(rows)
}

/// Rows written one at a time as CSV (with a header; `null` is an empty field) or as
/// JSON lines (one object per row, keyed by column name). Nothing is held but the
/// writer's buffer.
enum RowWriter<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl { out: W, names: Vec<String> },
}

impl<W: Write> RowWriter<W> {
    fn new(out: W, names: Vec<String>, jsonl: bool) -> std::io::Result<Self> {
        if jsonl {
            return Ok(RowWriter::Jsonl { out, names });
        }
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&names)?;
        Ok(RowWriter::Csv(Box::new(w)))
    }

    fn write(&mut self, cells: Vec<Json>) -> std::io::Result<()> {
        match self {
            RowWriter::Csv(w) => Ok(w.write_record(cells.iter().map(|c| match c {
                Json::Null => String::new(),
                Json::String(s) => s.clone(),
                other => other.to_string(),
            }))?),
            RowWriter::Jsonl { out, names } => {
                // Written by hand to keep the columns' order (serde_json's map sorts keys).
                let mut line = String::from("{");
                for (i, (name, cell)) in names.iter().zip(cells).enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(&Json::String(name.clone()).to_string());
                    line.push(':');
                    line.push_str(&cell.to_string());
                }
                line.push('}');
                writeln!(out, "{line}")
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            RowWriter::Csv(mut w) => w.flush(),
            RowWriter::Jsonl { mut out, .. } => out.flush(),
        }
    }
}

fn json_value(v: &penny_transform::Value) -> Json {
    use penny_transform::Value as V;
    match v {
        V::Null => Json::Null,
        V::Bool(b) => (*b).into(),
        V::Int64(i) => (*i).into(),
        V::Json(j) => j.clone(),
        other => render(other).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_as_csv_or_json_lines_with_null_apart() {
        let names = vec!["label".to_owned(), "id".to_owned()];
        let rows = [
            vec![Json::String("a, \"b\"".into()), Json::from(1)],
            vec![Json::Null, Json::from(2)],
            vec![Json::String(String::new()), Json::from(3)],
        ];
        let mut csv = Vec::new();
        let mut w = RowWriter::new(&mut csv, names.clone(), false).unwrap();
        for r in &rows {
            w.write(r.clone()).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            // CSV has no NULL: NULL and empty text are both an empty field.
            "label,id\n\"a, \"\"b\"\"\",1\n,2\n,3\n"
        );
        let mut json = Vec::new();
        let mut w = RowWriter::new(&mut json, names, true).unwrap();
        for r in &rows {
            w.write(r.clone()).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            // Columns keep their order; NULL is null, empty text is "".
            "{\"label\":\"a, \\\"b\\\"\",\"id\":1}\n{\"label\":null,\"id\":2}\n{\"label\":\"\",\"id\":3}\n"
        );
    }

    #[test]
    fn refused_queries_are_usage_errors_and_server_refusals_keep_their_class() {
        let e = query_error(&penny_redshift::check_single_select("DROP TABLE t").unwrap_err());
        assert_eq!(e.code, ExitCode::Usage);
        let denied = penny_redshift::Error::Query {
            address: "h:5439".into(),
            what: "declaring".into(),
            reason: "permission denied for relation pg_tables".into(),
            code: Some("42501".into()),
        };
        assert_eq!(
            query_error(&QueryError::Server(denied)).code,
            ExitCode::Auth
        );
    }
}
