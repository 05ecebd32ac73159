//! The report tables written through a [`Sink`]: computed by
//! [`penny_transform::reports::tables`] (which lists them and their columns) from the
//! line sums ([`LineSums`]) and the invoices' digest ([`InvoiceDigest`]), each table
//! replaced whole in one commit on every run, or merged where an incremental update
//! ([`crate::transform::update`]) changed only some of its rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use penny_transform::Sink;
use penny_transform::canonical::{Account, FiscalYear, ThirdPartyKind};
use penny_transform::reports::invoice_digest::InvoiceDigest;
use penny_transform::reports::line_sums::LineSums;
use penny_transform::reports::tables::{
    aged_schema, changed_aged, changed_trial_balance, report_batches, result_accounts,
    trial_balance_accounts, trial_balance_schema,
};

use crate::error::SyncError;
use crate::transform::write::{TransformReport, write_changes};

/// Computes the reports and replaces their tables through `out`, each in one commit;
/// the companies' results are carried to the result accounts of `chart`
/// ([`result_accounts`]).
///
/// With `changed_accounts` (the accounts whose sums changed since the last run, which
/// wrote the reports from the same fiscal years, none of them sums of opening journals'
/// lines), the trial balance is merged instead: only the rows of the accounts
/// [`trial_balance_accounts`] names are upserted, and their keys no longer there
/// deleted. Likewise, when the invoices' digest was read back from the same day, the
/// aged balances are merged: only the rows of the third parties whose open amounts
/// changed.
#[allow(clippy::too_many_arguments)]
pub async fn write_reports(
    out: &mut dyn Sink,
    fiscal_years: &[FiscalYear],
    sums: &LineSums,
    invoices: &InvoiceDigest,
    chart: &[Account],
    changed_accounts: Option<&BTreeSet<(i64, Arc<str>)>>,
    batch_rows: usize,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    let tb = trial_balance_schema();
    let changed_accounts = changed_accounts.map(|c| trial_balance_accounts(c, chart, sums));
    let changed_accounts = changed_accounts.as_ref();
    // The aged balances' rows of the third parties whose open amounts changed, when
    // they were kept as of the same day (the others' rows stand).
    let third_parties = invoices.same_day_changes().map(|keys| {
        keys.iter()
            .map(|(c, k, tp, _, _)| (*c, *k, tp.unwrap_or(0)))
            .collect::<BTreeSet<_>>()
    });
    let results = result_accounts(chart);
    for (schema, batches) in report_batches(fiscal_years, sums, invoices, &results, batch_rows)? {
        let aged_kind = [ThirdPartyKind::Customer, ThirdPartyKind::Supplier]
            .into_iter()
            .find(|k| aged_schema(*k).name() == schema.name());
        let write = match (changed_accounts, &third_parties, aged_kind) {
            (Some(accounts), _, _) if schema.name() == tb.name() => {
                let (upserts, gone) =
                    changed_trial_balance(&schema, batches, fiscal_years, accounts, batch_rows)?;
                (schema, upserts, Some(gone))
            }
            (_, Some(groups), Some(kind)) => {
                let groups: BTreeSet<(i64, i64)> = groups
                    .iter()
                    .filter(|(_, k, _)| *k == kind)
                    .map(|(c, _, tp)| (*c, *tp))
                    .collect();
                let (upserts, gone) = changed_aged(&schema, batches, &groups, batch_rows)?;
                (schema, upserts, Some(gone))
            }
            _ => (schema, batches, None),
        };
        write_changes(out, write, report).await?;
    }
    Ok(())
}
