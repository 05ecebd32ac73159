//! `penny doctor`: one line per check, with a fix when it fails.

use std::io::Write;

use futures_util::SinkExt;
use penny_transform::ident::{qualified, quote_ident};
use secrecy::ExposeSecret;

use crate::config::{Config, SourceKind, TargetKind};
use crate::exit::{CliError, ExitCode, chain};

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed, with what was found.
    Ok(String),
    /// Failed: what, and how to fix it.
    Fail(String, String),
    /// Not relevant to this configuration.
    Skip(String),
}

struct Report<'a> {
    out: std::io::StdoutLock<'a>,
    failed: usize,
}

impl Report<'_> {
    fn line(&mut self, check: &str, outcome: Outcome) {
        let text = match outcome {
            Outcome::Ok(what) => format!("[ ok ] {check}: {what}"),
            Outcome::Skip(why) => format!("[skip] {check}: {why}"),
            Outcome::Fail(what, fix) => {
                self.failed += 1;
                format!("[FAIL] {check}: {what}\n       fix: {fix}")
            }
        };
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }
}

/// `penny doctor`.
pub async fn doctor(config_path: Option<&std::path::Path>) -> Result<(), CliError> {
    let mut report = Report {
        out: std::io::stdout().lock(),
        failed: 0,
    };
    let config = match Config::load(config_path) {
        Ok(c) => {
            let from = match &c.file {
                Some(p) => format!("read {}", p.display()),
                None => "no penny.toml: defaults and environment".into(),
            };
            report.line("configuration", Outcome::Ok(from));
            c
        }
        Err(e) => {
            report.line(
                "configuration",
                Outcome::Fail(
                    e.to_string(),
                    "fix the setting in penny.toml or the environment (see penny.example.toml)"
                        .into(),
                ),
            );
            return finish(report);
        }
    };

    let uses_api = matches!(config.source.kind, SourceKind::Api | SourceKind::Both);
    if uses_api || config.api.token.is_some() {
        check_api(&config, &mut report).await;
    } else {
        report.line(
            "api token",
            Outcome::Skip("source.kind is \"redshift\"".into()),
        );
    }
    if matches!(config.source.kind, SourceKind::Redshift | SourceKind::Both) {
        check_data_sharing(&config, &mut report).await;
    } else {
        report.line(
            "data sharing",
            Outcome::Skip("source.kind is \"api\"".into()),
        );
    }
    match config.target.kind {
        TargetKind::Postgres => check_postgres(&config, &mut report).await,
        TargetKind::Csv => check_csv(&config, &mut report),
    }
    finish(report)
}

fn finish(report: Report<'_>) -> Result<(), CliError> {
    match report.failed {
        0 => Ok(()),
        n => Err(CliError::msg(
            ExitCode::CheckFailed,
            format!("{n} check(s) failed"),
        )),
    }
}

async fn check_api(config: &Config, report: &mut Report<'_>) {
    let client = match crate::commands::api::client(config) {
        Ok(c) => c,
        Err(e) => {
            report.line(
                "api token",
                Outcome::Fail(
                    e.message,
                    format!(
                        "set {} in the environment or .env (Pennylane > Settings > Connectivity > Developers)",
                        crate::config::ENV_API_TOKEN
                    ),
                ),
            );
            return;
        }
    };
    let me = match client.me().await {
        Ok(me) => me,
        Err(e) => {
            let fix = if e.is_auth() {
                format!(
                    "the token was refused: generate a new one in Pennylane and set {}",
                    crate::config::ENV_API_TOKEN
                )
            } else {
                format!(
                    "check the network and api.base_url ({})",
                    config.api.base_url
                )
            };
            report.line("api token", Outcome::Fail(chain(&e), fix));
            return;
        }
    };
    report.line(
        "api token",
        Outcome::Ok(format!(
            "company {}{}",
            me.company.id,
            me.company
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        )),
    );
    for line in scope_lines(&me, &config.source.streams) {
        report.line(&line.0, line.1);
    }
}

/// One line per stream (the configured ones, or all) with the scope it needs and
/// whether the token has it (`GET /me`'s scopes), then a summary line that fails when
/// a required stream's scope is missing.
pub fn scope_lines(me: &penny_api::models::Me, streams: &[String]) -> Vec<(String, Outcome)> {
    use penny_api::source::{Need, STREAM_SCOPES};
    let mut lines = Vec::new();
    let mut missing_required: Vec<&str> = Vec::new();
    let mut missing_optional: Vec<&str> = Vec::new();
    for entry in STREAM_SCOPES
        .iter()
        .filter(|e| streams.is_empty() || streams.iter().any(|s| s == e.stream))
    {
        let check = format!("stream {}", entry.stream);
        let Some(scope) = entry.scope else {
            lines.push((check, Outcome::Ok("needs no scope".into())));
            continue;
        };
        if me.has_scope(scope) {
            lines.push((check, Outcome::Ok(format!("{scope} granted"))));
            continue;
        }
        match entry.need {
            Need::Required => {
                if !missing_required.contains(&scope) {
                    missing_required.push(scope);
                }
                lines.push((
                    check,
                    Outcome::Fail(
                        format!("needs {scope}, not granted (required: the sync fails without it)"),
                        format!("generate a token with {scope}"),
                    ),
                ));
            }
            Need::Optional => {
                if !missing_optional.contains(&scope) {
                    missing_optional.push(scope);
                }
                lines.push((
                    check,
                    Outcome::Skip(format!(
                        "needs {scope}, not granted: the sync skips this optional stream with a warning"
                    )),
                ));
            }
        }
    }
    let granted = if me.scopes.is_empty() {
        "none".to_owned()
    } else {
        me.scopes.join(", ")
    };
    let optional = if missing_optional.is_empty() {
        String::new()
    } else {
        format!(
            "; optional streams skipped for lack of: {}",
            missing_optional.join(", ")
        )
    };
    let summary = if missing_required.is_empty() {
        Outcome::Ok(format!("every required scope granted{optional}"))
    } else {
        Outcome::Fail(
            format!(
                "granted: {granted}; missing: {}{optional}",
                missing_required.join(", ")
            ),
            "generate a token with these read scopes (Pennylane > Settings > Connectivity > Developers)".into(),
        )
    };
    lines.push(("api scopes".into(), summary));
    lines
}

async fn check_data_sharing(config: &Config, report: &mut Report<'_>) {
    let ds = match crate::commands::sync::data_sharing_config(config) {
        Ok(c) => c,
        Err(e) => {
            report.line(
                "data sharing",
                Outcome::Fail(
                    e.message,
                    format!(
                        "set {}, {}, {} and {} (in the environment or .env; or [redshift] host, database, user in penny.toml)",
                        penny_redshift::config::ENV_HOST,
                        penny_redshift::config::ENV_DATABASE,
                        penny_redshift::config::ENV_USER,
                        crate::config::ENV_DATA_SHARING_KEY
                    ),
                ),
            );
            return;
        }
    };
    let connection = match penny_redshift::connect(&ds).await {
        Ok(c) => c,
        Err(e) => {
            let fix = match e.stage() {
                Some(penny_redshift::Stage::Tcp) => {
                    "the host or port cannot be reached: check redshift.host/port (PENNYLANE_DATA_SHARING_HOST/_PORT) and the firewall".to_owned()
                }
                Some(penny_redshift::Stage::Tls) => {
                    "TLS failed: check the host name Pennylane gave (the certificate must match it)".to_owned()
                }
                Some(penny_redshift::Stage::Auth) => format!(
                    "login refused: check redshift.user, redshift.database and {}",
                    crate::config::ENV_DATA_SHARING_KEY
                ),
                _ => "see the message".to_owned(),
            };
            report.line("data sharing", Outcome::Fail(chain(&e), fix));
            return;
        }
    };
    report.line(
        "data sharing",
        Outcome::Ok(format!("connected to {} (TCP, TLS, login)", ds.address())),
    );
    match connection.tables(&config.redshift.schema).await {
        Ok(tables) if tables.is_empty() => report.line(
            "data sharing tables",
            Outcome::Fail(
                format!("schema `{}` shows no table", config.redshift.schema),
                "check redshift.schema (\"etl\" or \"pennylane\") and that the share is active"
                    .into(),
            ),
        ),
        Ok(tables) => report.line(
            "data sharing tables",
            Outcome::Ok(format!(
                "{} tables in schema `{}` (information_schema readable)",
                tables.len(),
                config.redshift.schema
            )),
        ),
        Err(e) => report.line(
            "data sharing tables",
            Outcome::Fail(
                chain(&e),
                "the user cannot read information_schema: ask Pennylane support".into(),
            ),
        ),
    }
}

async fn check_postgres(config: &Config, report: &mut Report<'_>) {
    let Some(url) = &config.target.database_url else {
        report.line(
            "postgres",
            Outcome::Fail(
                format!("{} is not set", crate::config::ENV_DATABASE_URL),
                "set DATABASE_URL=postgres://user:password@host:5432/database (docker compose up -d gives one on 5433), or target.kind = \"csv\"".into(),
            ),
        );
        return;
    };
    let pg = match penny_load::PgConfig::from_url(url.expose_secret()) {
        Ok(c) => c,
        Err(e) => {
            report.line(
                "postgres",
                Outcome::Fail(
                    chain(&e),
                    "DATABASE_URL must look like postgres://user:password@host:port/database"
                        .into(),
                ),
            );
            return;
        }
    };
    let client = match pg.connect().await {
        Ok(c) => c,
        Err(e) => {
            report.line(
                "postgres",
                Outcome::Fail(
                    chain(&e),
                    "check that PostgreSQL runs and DATABASE_URL's host, port (5432, or 5433 with docker compose), user and password".into(),
                ),
            );
            return;
        }
    };
    report.line(
        "postgres",
        Outcome::Ok(format!("connected to {}", pg.target())),
    );
    // Rights, checked inside a transaction rolled back at the end: nothing is left behind.
    let outcome = async {
        client.batch_execute("BEGIN").await?;
        for schema in [&config.target.raw_schema, &config.target.star_schema] {
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    quote_ident(schema)
                ))
                .await?;
        }
        client
            .batch_execute(&format!(
                "CREATE TABLE {} (id bigint PRIMARY KEY, label text)",
                qualified(&config.target.raw_schema, "penny_doctor")
            ))
            .await?;
        let sink = client
            .copy_in(&format!(
                "COPY {} (id, label) FROM STDIN",
                qualified(&config.target.raw_schema, "penny_doctor")
            ))
            .await?;
        futures_util::pin_mut!(sink);
        sink.send(bytes::Bytes::from_static(b"1\tcheck\n")).await?;
        let copied = sink.finish().await?;
        Ok::<u64, tokio_postgres::Error>(copied)
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    match outcome {
        Ok(1) => report.line(
            "postgres rights",
            Outcome::Ok(format!(
                "may create schemas `{}` and `{}`, tables, and COPY (checked in a rolled-back transaction)",
                config.target.raw_schema, config.target.star_schema
            )),
        ),
        Ok(n) => report.line(
            "postgres rights",
            Outcome::Fail(format!("COPY wrote {n} rows instead of 1"), "see the server's log".into()),
        ),
        Err(e) => report.line(
            "postgres rights",
            Outcome::Fail(
                chain(&e),
                format!(
                    "grant the user CREATE on the database (or create the schemas `{}` and `{}` for it)",
                    config.target.raw_schema, config.target.star_schema
                ),
            ),
        ),
    }
}

fn check_csv(config: &Config, report: &mut Report<'_>) {
    let dir = &config.target.csv_dir;
    match penny_sync::target::csv_sink::CsvSink::open(dir, Default::default()) {
        Ok(_) => report.line(
            "csv folder",
            Outcome::Ok(format!("{} is writable and free", dir.display())),
        ),
        Err(e) => report.line(
            "csv folder",
            Outcome::Fail(
                chain(&e),
                "choose a writable target.csv_dir, or wait for the other penny to finish".into(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(scopes: &[&str]) -> penny_api::models::Me {
        serde_json::from_value(serde_json::json!({
            "company": {"id": 1},
            "scopes": scopes,
        }))
        .expect("a /me answer")
    }

    #[test]
    fn each_stream_shows_its_scope_and_a_missing_required_one_fails() {
        let lines = scope_lines(&me(&["journals:readonly", "customers:all"]), &[]);
        let find = |name: &str| {
            lines
                .iter()
                .find(|(check, _)| check == name)
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| panic!("no line {name}"))
        };
        assert_eq!(
            find("stream journals"),
            Outcome::Ok("journals:readonly granted".into())
        );
        assert_eq!(
            find("stream customers"),
            Outcome::Ok("customers:readonly granted".into())
        );
        assert!(
            matches!(find("stream ledger_entries"), Outcome::Fail(what, _) if what.contains("ledger_entries:readonly"))
        );
        assert!(
            matches!(find("stream trial_balance"), Outcome::Skip(why) if why.contains("trial_balance:readonly"))
        );
        match find("api scopes") {
            Outcome::Fail(what, _) => {
                let (_, missing) = what.split_once("missing: ").expect("missing");
                let (required, _) = missing.split_once(';').expect("optional part");
                assert_eq!(
                    required,
                    "ledger_accounts:readonly, ledger_entries:readonly"
                );
            }
            other => panic!("{other:?}"),
        }
        // Only the configured streams are listed.
        let only = scope_lines(&me(&[]), &["customers".to_owned()]);
        assert_eq!(only.len(), 2, "{only:?}");
        assert!(
            matches!(&only[1].1, Outcome::Ok(_)),
            "an optional stream only: {only:?}"
        );
    }
}
