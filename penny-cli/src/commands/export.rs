//! `penny export fec`: the legal FEC file of a fiscal year, from the loaded raw tables.

use std::path::Path;

use penny_transform::reports::fec::{Separator, fec_file_name, fec_records, validate, write_fec};
use secrecy::ExposeSecret;

use crate::cli::ExportCommand;
use crate::config::{Config, TargetKind};
use crate::exit::{CliError, ExitCode};
use crate::transform::{RawTables, map_everything};

/// `penny export`.
pub async fn export(config_path: Option<&Path>, command: &ExportCommand) -> Result<(), CliError> {
    let ExportCommand::Fec {
        fiscal_year,
        to,
        siren,
        pipe,
    } = command;
    let config = Config::load(config_path)?;
    let raw: Box<dyn RawTables> = match config.target.kind {
        TargetKind::Csv => Box::new(
            crate::targets::CsvTarget::open(&config.target.csv_dir, Default::default())
                .map_err(|e| CliError::classed(e.class(), &e))?,
        ),
        TargetKind::Postgres => Box::new(
            crate::targets::PgTarget::reader(
                config.database_url()?.expose_secret(),
                &config.target.raw_schema,
            )
            .await
            .map_err(|e| CliError::classed(e.class(), &e))?,
        ),
    };
    let (books, lines) = map_everything(raw.as_ref(), config.sync.batch_rows).await?;
    drop(raw);
    if lines.is_empty() {
        return Err(CliError::msg(
            ExitCode::Data,
            "no ledger lines are loaded (table ledger_entry_lines or general_ledger): run `penny sync` first",
        ));
    }
    let mut companies: Vec<i64> = lines.iter().map(|l| l.company_id).collect();
    companies.sort_unstable();
    companies.dedup();
    std::fs::create_dir_all(to).map_err(|e| CliError::new(ExitCode::Config, &e))?;
    let mut written = 0;
    for company in companies {
        let Some(year) = books
            .fiscal_years
            .iter()
            .find(|f| f.company_id == company && chrono::Datelike::year(&f.end) == *fiscal_year)
        else {
            let known: Vec<String> = books
                .fiscal_years
                .iter()
                .filter(|f| f.company_id == company)
                .map(|f| format!("{} to {}", f.start, f.end))
                .collect();
            return Err(CliError::msg(
                ExitCode::Data,
                format!(
                    "company {company} has no fiscal year ending in {fiscal_year}; its fiscal years: {}",
                    if known.is_empty() {
                        "none loaded".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let siren = siren
            .clone()
            .or_else(|| {
                books
                    .companies
                    .iter()
                    .find(|c| c.company_id == company)
                    .and_then(|c| c.siren.clone())
            })
            .ok_or_else(|| {
                CliError::msg(
                    ExitCode::Config,
                    format!("the SIREN of company {company} is not in the loaded data: give it with --siren 123456789"),
                )
            })?;
        let in_year = lines
            .iter()
            .filter(|l| l.company_id == company && year.contains(l.date));
        let records = fec_records(in_year, &books, company);
        let issues = validate(&records);
        for issue in &issues {
            tracing::warn!(company, "FEC check: {issue:?}");
        }
        let name =
            fec_file_name(&siren, year.end).map_err(|e| CliError::new(ExitCode::Config, &e))?;
        let path = to.join(&name);
        let file = std::fs::File::create(&path).map_err(|e| CliError::new(ExitCode::Config, &e))?;
        let mut out = std::io::BufWriter::new(file);
        let separator = if *pipe {
            Separator::Pipe
        } else {
            Separator::Tab
        };
        write_fec(&mut out, &records, separator).map_err(|e| CliError::new(ExitCode::Data, &e))?;
        std::io::Write::flush(&mut out).map_err(|e| CliError::new(ExitCode::Unavailable, &e))?;
        println!(
            "{}: {} records, fiscal year {} to {}{}",
            path.display(),
            records.len(),
            year.start,
            year.end,
            if issues.is_empty() {
                ", all checks passed".to_owned()
            } else {
                format!(", {} check(s) failed (see the log)", issues.len())
            }
        );
        written += 1;
    }
    tracing::info!(files = written, "FEC written");
    Ok(())
}
