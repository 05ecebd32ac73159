//! `penny redshift`: the Data Sharing warehouse from the shell.

use std::io::Write;

use penny_redshift::{
    CursorOptions, TableCursor, UnknownTypes, begin_read_only, connect, quote_ident,
};

use crate::cli::RedshiftCommand;
use crate::commands::api::write_table;
use crate::config::Config;
use crate::csv_sink::render;
use crate::exit::{CliError, ExitCode};
use crate::output::StreamProgress;

/// A Data Sharing error as a command error, with its class.
pub fn redshift_error(e: &penny_redshift::Error) -> CliError {
    let code = match e {
        penny_redshift::Error::TableNotFound { .. } => ExitCode::Data,
        penny_redshift::Error::Config { .. } => ExitCode::Config,
        _ => match e.stage() {
            Some(penny_redshift::Stage::Auth) => ExitCode::Auth,
            Some(penny_redshift::Stage::Tcp | penny_redshift::Stage::Tls) => ExitCode::Unavailable,
            _ => ExitCode::Data,
        },
    };
    CliError::new(code, e)
}

/// `penny redshift`.
pub async fn redshift(
    config_path: Option<&std::path::Path>,
    command: &RedshiftCommand,
) -> Result<(), CliError> {
    if let RedshiftCommand::Query { .. } = command {
        return Err(CliError::msg(
            ExitCode::Internal,
            "`penny redshift query` is not available yet: penny-redshift offers no free-form query API; use preview, count or export",
        ));
    }
    let config = Config::load(config_path)?;
    let ds = crate::commands::sync::data_sharing_config(&config)?;
    let schema = config.redshift.schema.clone();
    let conn = connect(&ds).await.map_err(|e| redshift_error(&e))?;
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| CliError::new(ExitCode::Unavailable, &e);
    match command {
        RedshiftCommand::Tables => {
            let tables = conn.tables(&schema).await.map_err(|e| redshift_error(&e))?;
            let rows: Vec<Vec<String>> = tables
                .iter()
                .map(|t| vec![t.name.clone(), format!("{:?}", t.kind).to_lowercase()])
                .collect();
            write_table(&mut out, &["table".into(), "kind".into()], &rows).map_err(io)?;
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
            .map_err(io)?;
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
            write_table(&mut out, &header, &rows).map_err(io)?;
        }
        RedshiftCommand::Count { table } => {
            let n = conn
                .count_rows(&schema, table)
                .await
                .map_err(|e| redshift_error(&e))?;
            writeln!(out, "{n}").map_err(io)?;
        }
        RedshiftCommand::Export { table, to } => {
            let d = conn
                .describe(&schema, table, UnknownTypes::default())
                .await
                .map_err(|e| redshift_error(&e))?;
            let jsonl = to.extension().is_some_and(|e| e == "jsonl" || e == "json");
            let columns = d.columns.clone();
            let select = format!(
                "SELECT {} FROM {}.{}",
                columns
                    .iter()
                    .map(|c| quote_ident(&c.info.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(&schema),
                quote_ident(table)
            );
            begin_read_only(&conn)
                .await
                .map_err(|e| redshift_error(&e))?;
            let options = CursorOptions {
                fetch_rows: config.redshift.fetch_rows as usize,
                ..CursorOptions::default()
            };
            let mut cursor =
                TableCursor::declare(conn, d.label(), &select, &[], columns.clone(), options)
                    .await
                    .map_err(|e| redshift_error(&e))?;
            let tmp = to.with_extension("partial");
            let file =
                std::fs::File::create(&tmp).map_err(|e| CliError::new(ExitCode::Config, &e))?;
            let mut w = std::io::BufWriter::new(file);
            let names: Vec<String> = columns.iter().map(|c| c.info.name.clone()).collect();
            let progress = StreamProgress::start(table);
            let mut csv = (!jsonl).then(|| csv::Writer::from_writer(Vec::new()));
            if let Some(c) = csv.as_mut() {
                c.write_record(&names)
                    .map_err(|e| CliError::msg(ExitCode::Unavailable, e.to_string()))?;
            }
            while let Some(chunk) = cursor.next_chunk().await.map_err(|e| redshift_error(&e))? {
                for row in &chunk {
                    match csv.as_mut() {
                        Some(c) => {
                            c.write_record(row.iter().map(render))
                                .map_err(|e| CliError::msg(ExitCode::Unavailable, e.to_string()))?;
                        }
                        None => {
                            let object: serde_json::Map<String, serde_json::Value> = names
                                .iter()
                                .cloned()
                                .zip(row.iter().map(json_value))
                                .collect();
                            writeln!(w, "{}", serde_json::Value::Object(object)).map_err(io)?;
                        }
                    }
                }
                // Flushes the CSV buffer chunk by chunk: memory stays flat.
                if let Some(c) = csv.take() {
                    let bytes = c
                        .into_inner()
                        .map_err(|e| CliError::msg(ExitCode::Unavailable, e.to_string()))?;
                    w.write_all(&bytes).map_err(io)?;
                    csv = Some(
                        csv::WriterBuilder::new()
                            .has_headers(false)
                            .from_writer(Vec::new()),
                    );
                }
                progress.rows(chunk.len() as u64);
            }
            if let Some(c) = csv.take() {
                let bytes = c
                    .into_inner()
                    .map_err(|e| CliError::msg(ExitCode::Unavailable, e.to_string()))?;
                w.write_all(&bytes).map_err(io)?;
            }
            w.flush().map_err(io)?;
            drop(w);
            std::fs::rename(&tmp, to).map_err(|e| CliError::new(ExitCode::Config, &e))?;
            let rows = cursor.rows_read();
            progress.finish("done");
            let _ = cursor.close().await;
            writeln!(out, "{rows} rows written to {}", to.display()).map_err(io)?;
        }
        RedshiftCommand::Query { .. } => unreachable!("handled above"),
    }
    Ok(())
}

fn json_value(v: &penny_transform::Value) -> serde_json::Value {
    use penny_transform::Value as V;
    match v {
        V::Null => serde_json::Value::Null,
        V::Bool(b) => (*b).into(),
        V::Int64(i) => (*i).into(),
        V::Json(j) => j.clone(),
        other => render(other).into(),
    }
}
