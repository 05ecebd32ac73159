//! `penny export fec`: the legal FEC file of a fiscal year, from the loaded raw tables,
//! checked against the norm's controls ([`check_fec`]) before it is written: a year
//! whose file breaks one (an entry or the year not balanced) is refused, naming what
//! breaks it.

use std::path::Path;

use penny_transform::reports::fec::{
    FecIssue, Separator, check_fec, fec_file_name, fec_records_of_year, write_fec,
};
use secrecy::ExposeSecret;

use crate::cli::ExportCommand;
use crate::config::{Config, TargetKind};
use crate::exit::{CliError, ExitCode};
use penny_sync::transform::books::map_everything;
use penny_transform::ReadBack;

/// `penny export`.
pub async fn export(config_path: Option<&Path>, command: &ExportCommand) -> Result<(), CliError> {
    let ExportCommand::Fec {
        fiscal_year,
        to,
        siren,
        pipe,
    } = command;
    let config = Config::load(config_path)?;
    let raw: Box<dyn ReadBack> = match config.target.kind {
        TargetKind::Csv => Box::new(penny_sync::target::CsvTarget::open(
            &config.target.csv_dir,
            Default::default(),
        )?),
        TargetKind::Postgres => Box::new(penny_sync::target::PgTarget::reader(
            config.database_url()?.expose_secret(),
            &config.target.raw_schema,
        )?),
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
        let records = fec_records_of_year(&lines, &books, company, year.start, year.end);
        let name =
            fec_file_name(&siren, year.end).map_err(|e| CliError::new(ExitCode::Config, &e))?;
        let separator = if *pipe {
            Separator::Pipe
        } else {
            Separator::Tab
        };
        let mut text = Vec::new();
        write_fec(&mut text, &records, separator).map_err(|e| CliError::new(ExitCode::Data, &e))?;
        let issues = check_fec(&name, &String::from_utf8_lossy(&text), year.start, year.end);
        if !issues.is_empty() {
            return Err(refused(company, &name, &issues));
        }
        let path = to.join(&name);
        std::fs::write(&path, &text).map_err(|e| CliError::new(ExitCode::Config, &e))?;
        println!(
            "{}: {} records, fiscal year {} to {}, all checks passed",
            path.display(),
            records.len(),
            year.start,
            year.end,
        );
        written += 1;
    }
    tracing::info!(files = written, "FEC written");
    Ok(())
}

/// The error of a year whose FEC breaks the norm's controls: the entries that do not
/// balance first (the trial balance is not zero), then the other issues, at most 20.
fn refused(company: i64, name: &str, issues: &[FecIssue]) -> CliError {
    let unbalanced = |i: &&FecIssue| {
        matches!(
            i,
            FecIssue::UnbalancedEntry { .. } | FecIssue::UnbalancedFile { .. }
        )
    };
    let mut listed: Vec<&FecIssue> = issues.iter().filter(unbalanced).collect();
    let entries = listed
        .iter()
        .filter(|i| matches!(i, FecIssue::UnbalancedEntry { .. }))
        .count();
    let first = if listed.is_empty() {
        format!("{name} (company {company}) breaks the FEC controls")
    } else {
        format!(
            "{name} (company {company}) is refused: its trial balance is not zero ({entries} entr{} unbalanced)",
            if entries == 1 { "y" } else { "ies" },
        )
    };
    listed.extend(issues.iter().filter(|i| !unbalanced(i)));
    let mut message = first;
    for issue in listed.iter().take(20) {
        message.push_str(&format!("\n  - {issue}"));
    }
    if listed.len() > 20 {
        message.push_str(&format!("\n  ... and {} more", listed.len() - 20));
    }
    message.push_str("\nno file written: fix the entries in Pennylane, sync, and export again");
    CliError::msg(ExitCode::Data, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn a_refused_year_names_the_entries_that_break_its_trial_balance() {
        let issues = [
            FecIssue::MissingField {
                record: 3,
                column: "PieceRef",
            },
            FecIssue::UnbalancedEntry {
                journal_code: "VT".into(),
                ecriture_num: "1300000203".into(),
                debit: Decimal::new(98_009, 2),
                credit: Decimal::new(98_000, 2),
            },
            FecIssue::UnbalancedFile {
                debit: Decimal::new(98_009, 2),
                credit: Decimal::new(98_000, 2),
            },
        ];
        let message = refused(1, "123456789FEC20251231.txt", &issues).to_string();
        assert!(
            message.contains("trial balance is not zero (1 entry unbalanced)"),
            "{message}"
        );
        let entry = message
            .find("entry 1300000203 (journal VT)")
            .expect(&message);
        let missing = message.find("PieceRef is empty").expect(&message);
        assert!(entry < missing, "{message}");
    }
}
