//! The whole rebuild: every canonical, star and report table made afresh from the raw
//! tables, each replaced in one commit, with the closing review and the
//! reconciliation with Pennylane's trial balance.

use std::collections::{BTreeMap, BTreeSet};

use penny_transform::canonical::tables::{CanonicalTable, to_batches};
use penny_transform::canonical::{Books, LedgerLine};
use penny_transform::reports::{reconcile, review};
use penny_transform::{Batch, KeyFilter, ReadBack, ReadKind, Sink, TableRead, Value, star};

use crate::error::SyncError;
use crate::transform::books::*;
use crate::transform::write::*;

/// Rebuilds everything from `raw`, each table replaced whole.
///
/// Memory: the reference tables are held; the ledger lines and the transactional
/// tables stream through, one batch at a time, summed for the reports on the way
/// ([`LineSums`](penny_transform::reports::line_sums::LineSums), [`InvoiceDigest`]). When `raw` can filter its
/// reads (PostgreSQL), the ledger entries are read per batch of lines, by key, instead
/// of held.
///
/// With `saved` (the target can read its tables back), the reconciliation's explaining
/// lines are read back from it; with `save_sums`, the lines' sums and the invoices'
/// digest are saved for the next incremental update ([`LINE_SUMS_TABLE`](penny_transform::reports::line_sums::LINE_SUMS_TABLE),
/// [`OPEN_AMOUNTS_TABLE`](penny_transform::reports::invoice_digest::OPEN_AMOUNTS_TABLE),
/// [`INVOICE_VAT_TABLE`](penny_transform::reports::invoice_digest::INVOICE_VAT_TABLE)).
pub(crate) async fn rebuild_whole(
    raw: &dyn ReadBack,
    by_key: bool,
    saved: Option<&dyn ReadBack>,
    save_sums: bool,
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    settings: TransformSettings,
) -> Result<TransformReport, SyncError> {
    let batch_rows = settings.batch_rows;
    let by_key = by_key.then_some(raw);
    let mut door = map_small_tables(raw, batch_rows, by_key.is_none()).await?;
    let mut report = TransformReport {
        door: door.kind(),
        ..TransformReport::default()
    };
    let lines_schema = LedgerLine::schema();
    out.prepare(&lines_schema, ReadKind::Full)
        .await
        .map_err(sink)?;
    let fact_schema = star::fact_ledger_lines_schema();
    facts
        .prepare(&fact_schema, ReadKind::Full)
        .await
        .map_err(sink)?;
    let mut dates: Option<(chrono::NaiveDate, chrono::NaiveDate)> = None;
    let mut days = penny_transform::reports::line_sums::LineSums::new(
        &door.fiscal_years(),
        door.opening_journals(),
    );
    let mut review_lines = review::ReviewLines::new();
    let mut line_count = 0u64;
    let mut batches = raw
        .read(&TableRead::new(door.lines_table(), batch_rows))
        .await
        .map_err(sink)?;
    let written: Result<(), SyncError> = async {
        while let Some(batch) = match batches.as_mut() {
            Some(b) => futures_util::TryStreamExt::try_next(b)
                .await
                .map_err(sink)?,
            None => None,
        } {
            let lines = match (&mut door, by_key) {
                (Door::Api(m), Some(inc)) => {
                    fetch_entries(inc, m, &batch, batch_rows).await?;
                    let lines = m.ledger_lines(&batch).map_err(mapping)?;
                    m.forget_entries();
                    lines
                }
                _ => door.lines(&batch)?,
            };
            line_count += lines.len() as u64;
            days.add(&lines);
            review_lines.extend(&lines);
            for l in &lines {
                dates = Some(match dates {
                    None => (l.date, l.date),
                    Some((a, b)) => (a.min(l.date), b.max(l.date)),
                });
            }
            for b in to_batches(&lines, batch_rows).map_err(mapping)? {
                out.write(b).await.map_err(sink)?;
            }
            for b in star::fact_ledger_lines(&lines, batch_rows).map_err(batch_error)? {
                facts.write(b).await.map_err(sink)?;
            }
        }
        Ok(())
    }
    .await;
    drop(batches);
    if let Err(e) = written {
        let _ = out.abort(lines_schema.name()).await;
        let _ = facts.abort(fact_schema.name()).await;
        return Err(e);
    }
    let stats = out.commit(lines_schema.name(), None).await.map_err(sink)?;
    report
        .tables
        .push((lines_schema.name().to_owned(), line_count, stats));
    tracing::debug!(
        lines = line_count,
        sums = days.len(),
        memory_mib = ?crate::progress::memory_mib(),
        "ledger lines rebuilt"
    );
    let stats = facts.commit(fact_schema.name(), None).await.map_err(sink)?;
    report
        .tables
        .push((fact_schema.name().to_owned(), line_count, stats));

    let mut digest = penny_transform::reports::invoice_digest::InvoiceDigest::new(
        chrono::Utc::now().date_naive(),
    );
    for family in Family::ALL {
        stream_family(
            raw,
            by_key,
            &mut door,
            family,
            out,
            facts,
            batch_rows,
            &mut digest,
            &mut report,
        )
        .await?;
    }
    tracing::debug!(
        memory_mib = ?crate::progress::memory_mib(),
        "transactional tables rebuilt"
    );
    let books = door.into_books();
    write_books(
        out,
        facts,
        &books,
        dates,
        &days,
        &digest,
        None,
        settings,
        WholeTables::NONE,
        &mut report,
    )
    .await?;
    tracing::debug!(
        memory_mib = ?crate::progress::memory_mib(),
        "dimensions and reports written"
    );
    let years = years_used(&books, dates, &days, settings).0;
    let checks = Checks {
        books: &books,
        fiscal_years: &years,
        days: &days,
        digest: &digest,
        lines: &review_lines,
    };
    write_checks(raw, saved, facts, checks, batch_rows, &mut report).await?;
    tracing::debug!(
        held = review_lines.len(),
        memory_mib = ?crate::progress::memory_mib(),
        "review and reconciliation written"
    );
    if save_sums {
        let schema = penny_transform::reports::line_sums::LineSums::schema();
        let (sums, _) = days.batches(None, batch_rows)?;
        write_batches(facts, &schema, ReadKind::Full, sums, &mut report).await?;
        for write in digest.saved_batches(batch_rows)? {
            write_changes(facts, write, &mut report).await?;
        }
    }
    Ok(report)
}

/// Replaces `family`'s canonical and fact tables, each in one commit, mapping its raw
/// tables batch by batch through `door` and adding them to `digest`.
#[allow(clippy::too_many_arguments)]
async fn stream_family(
    raw: &dyn ReadBack,
    by_key: Option<&dyn ReadBack>,
    door: &mut Door,
    family: Family,
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    batch_rows: usize,
    digest: &mut penny_transform::reports::invoice_digest::InvoiceDigest,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    let canonical = family.canonical();
    let fact = family.fact();
    out.prepare(&canonical, ReadKind::Full)
        .await
        .map_err(sink)?;
    if let Some(f) = &fact {
        facts.prepare(f, ReadKind::Full).await.map_err(sink)?;
    }
    let mut rows = 0u64;
    let written: Result<(), SyncError> = async {
        for table in family.raw_tables(door.kind()) {
            let Some(mut batches) = raw
                .read(&TableRead::new(table, batch_rows))
                .await
                .map_err(sink)?
            else {
                continue;
            };
            while let Some(batch) = futures_util::TryStreamExt::try_next(&mut batches)
                .await
                .map_err(sink)?
            {
                door.add(&batch)?;
                let mut books = door.take_transactions();
                match (&mut *door, by_key) {
                    // Lines and payments joined to their invoices read back by key:
                    // nothing is held per invoice.
                    (Door::Api(m), Some(inc)) => match family {
                        Family::Invoices => digest.add_invoices(&books.invoices, false),
                        Family::InvoiceLines | Family::Payments => {
                            books.invoices = fetch_invoices(inc, m, &books, batch_rows).await?;
                            digest.add_details(&books);
                        }
                        Family::BankTransactions => {}
                    },
                    (Door::Api(_), None) => digest.add(&books),
                    // No invoice lines or payments come through this door; the briefs
                    // (24 bytes an invoice) give the credit notes the due date of the
                    // invoice they credit.
                    (Door::DataSharing(_), _) => digest.add_invoices(&books.invoices, true),
                }
                // After the lines' invoices are read back: the facts leave out the lines
                // of those that are not accounting documents.
                let (canonical_batches, mut fact_batches) = family.batches(&books, batch_rows)?;
                if family == Family::InvoiceLines && by_key.is_none() {
                    // Not read back: the digest's briefs tell which.
                    let counts = |l: &penny_transform::canonical::InvoiceLine| {
                        digest.counts(&(l.company_id, l.kind, l.invoice_id))
                    };
                    if !books.invoice_lines.iter().all(counts) {
                        books.invoice_lines.retain(counts);
                        fact_batches =
                            star::fact_invoice_lines(&books, batch_rows).map_err(batch_error)?;
                    }
                }
                for b in canonical_batches {
                    rows += b.len() as u64;
                    out.write(b).await.map_err(sink)?;
                }
                for b in fact_batches {
                    facts.write(b).await.map_err(sink)?;
                }
            }
        }
        // The credit notes whose credited invoice the stream had passed before them:
        // that invoice read back by key, for its due date.
        if let (Family::Invoices, Door::Api(m), Some(inc)) = (family, &mut *door, by_key) {
            let keys: Vec<_> = digest.pending_credits().copied().collect();
            if !keys.is_empty() {
                let credited = fetch_invoices_by_key(inc, m, keys, batch_rows).await?;
                digest.resolve_credits(&credited);
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = out.abort(canonical.name()).await;
        if let Some(f) = &fact {
            let _ = facts.abort(f.name()).await;
        }
        return Err(e);
    }
    let stats = out.commit(canonical.name(), None).await.map_err(sink)?;
    report
        .tables
        .push((canonical.name().to_owned(), rows, stats));
    if let Some(f) = &fact {
        let stats = facts.commit(f.name(), None).await.map_err(sink)?;
        report.tables.push((f.name().to_owned(), rows, stats));
    }
    Ok(())
}

/// What the checks of a whole rebuild read.
#[derive(Clone, Copy)]
struct Checks<'a> {
    books: &'a Books,
    fiscal_years: &'a [penny_transform::canonical::FiscalYear],
    days: &'a penny_transform::reports::line_sums::LineSums,
    digest: &'a penny_transform::reports::invoice_digest::InvoiceDigest,
    lines: &'a review::ReviewLines,
}

/// Writes the closing review (`report_review`) and the reconciliation with
/// Pennylane's trial balance (`report_quality_findings`, when the raw table
/// `trial_balance` is there), each replaced whole, and counts them in `report`.
///
/// A trial balance that cannot be read or compared is a warning, never a failure: the
/// findings table is then written empty. The lines that explain a discrepancy are read
/// back from `canonical_ledger_lines` (only those of the accounts that differ) when
/// the target can (`saved`).
async fn write_checks(
    raw: &dyn ReadBack,
    saved: Option<&dyn ReadBack>,
    facts: &mut dyn Sink,
    checks: Checks<'_>,
    batch_rows: usize,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    // The review, from the trial balance as `report_trial_balance` holds it.
    let mut trial_balance = Vec::new();
    for (schema, batches) in penny_transform::reports::tables::report_batches(
        checks.fiscal_years,
        checks.days,
        checks.digest,
        &penny_transform::reports::tables::result_accounts(&checks.books.accounts),
        batch_rows,
    )? {
        if schema.name() == penny_transform::reports::tables::trial_balance_schema().name() {
            for b in &batches {
                trial_balance.extend(review::trial_balance_rows(b).map_err(check_error)?);
            }
        }
    }
    let mut rows = review::review(&review::ReviewInput {
        fiscal_years: checks.fiscal_years,
        chart: &checks.books.accounts,
        trial_balance: &trial_balance,
        lines: checks.lines,
        changes: &[],
        as_of: checks.digest.as_of(),
    });
    drop(trial_balance);
    // The changes in closed years earlier cycles saw are kept while their year is.
    if let Some(saved) = saved {
        match closed_year_changes(saved, checks.fiscal_years, batch_rows).await {
            Ok(kept) => rows.extend(kept),
            Err(e) => {
                tracing::warn!(error = %e, "the changes in closed fiscal years seen earlier are not kept")
            }
        }
    }
    report.review = Some(rows.len() as u64);
    let batches = review::review_batches(&rows, batch_rows).map_err(batch_error)?;
    write_batches(
        facts,
        &review::review_schema(),
        ReadKind::Full,
        batches,
        report,
    )
    .await?;

    // The reconciliation: never stops the sync.
    let found = match reconcile_with_pennylane(raw, saved, checks.days, batch_rows).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "the reconciliation with Pennylane's trial balance was not made");
            None
        }
    };
    report.reconciliation = found.as_ref().map(|f| f.len() as u64);
    let batches = reconcile::findings_batches(found.as_deref().unwrap_or_default(), batch_rows)
        .map_err(batch_error)?;
    write_batches(
        facts,
        &reconcile::findings_schema(),
        ReadKind::Full,
        batches,
        report,
    )
    .await
}

/// Penny's line sums compared with the raw `trial_balance` (`None`: there is none),
/// with the lines that explain the differences when `saved` can read them back.
async fn reconcile_with_pennylane(
    raw: &dyn ReadBack,
    saved: Option<&dyn ReadBack>,
    days: &penny_transform::reports::line_sums::LineSums,
    batch_rows: usize,
) -> Result<Option<Vec<reconcile::Discrepancy>>, SyncError> {
    if !raw
        .has(reconcile::TRIAL_BALANCE_TABLE)
        .await
        .map_err(sink)?
    {
        return Ok(None);
    }
    let mut pennylane = Vec::new();
    each_batch(raw, reconcile::TRIAL_BALANCE_TABLE, batch_rows, |b| {
        pennylane.extend(reconcile::PennylaneBalance::decode(&b).map_err(check_error)?);
        Ok(())
    })
    .await?;
    let mut comparison = reconcile::Reconciliation::new(pennylane);
    if comparison.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let (sums, _) = days.batches(None, batch_rows)?;
    for b in &sums {
        comparison.add_sums(b).map_err(check_error)?;
    }
    drop(sums);
    let mut found = comparison.finish();
    let mut explainer = reconcile::Explainer::new(&found, reconcile::ExplainLimits::default());
    if let Some(saved) = saved.filter(|_| !explainer.is_empty()) {
        for (company, accounts) in explainer.accounts() {
            let filter = KeyFilter {
                column: "account_number".to_owned(),
                values: accounts.into_iter().map(Value::Text).collect(),
                within: Some(("company_id".to_owned(), company)),
            };
            let read = each_saved_line_batch(saved, &filter, batch_rows, |b| {
                explainer.add_canonical(b).map_err(check_error)
            })
            .await?;
            if !read {
                break;
            }
        }
    }
    explainer.finish(&mut found);
    Ok(Some(found))
}

/// The `change_in_closed_year` rows of `report_review` as last written whose fiscal
/// year (in `years`) is still closed or frozen.
async fn closed_year_changes(
    saved: &dyn ReadBack,
    years: &[penny_transform::canonical::FiscalYear],
    batch_rows: usize,
) -> Result<Vec<review::ReviewRow>, SyncError> {
    let mut kept = Vec::new();
    let Some(mut rows) = saved
        .read(&TableRead::new(review::REVIEW_TABLE, batch_rows))
        .await
        .map_err(sink)?
    else {
        return Ok(kept);
    };
    while let Some(b) = futures_util::TryStreamExt::try_next(&mut rows)
        .await
        .map_err(sink)?
    {
        for r in review::review_rows(&b).map_err(check_error)? {
            let closed = years.iter().any(|fy| {
                fy.company_id == r.company_id && fy.start == r.period_start && review::is_closed(fy)
            });
            if r.check == review::ReviewCheck::ChangeInClosedYear && closed {
                kept.push(r);
            }
        }
    }
    Ok(kept)
}

/// The ledger lines of `keys` (line ids per company) in `canonical_ledger_lines`.
async fn saved_lines(
    saved: &dyn ReadBack,
    keys: &BTreeMap<i64, BTreeSet<i64>>,
    batch_rows: usize,
) -> Result<BTreeMap<(i64, i64), LedgerLine>, SyncError> {
    let mut out = BTreeMap::new();
    for (company, ids) in keys {
        let filter = KeyFilter::ints("line_id", ids.iter().copied()).within("company_id", *company);
        let read = each_saved_line_batch(saved, &filter, batch_rows, |b| {
            for l in reconcile::canonical_lines(b).map_err(check_error)? {
                out.insert((l.company_id, l.line_id), l);
            }
            Ok(())
        })
        .await?;
        if !read {
            break;
        }
    }
    Ok(out)
}

/// Calls `f` with each batch of the `canonical_ledger_lines` rows `filter` selects
/// (the columns the review and the reconciliation read); false when the target has no
/// such table yet.
async fn each_saved_line_batch(
    saved: &dyn ReadBack,
    filter: &KeyFilter,
    batch_rows: usize,
    mut f: impl FnMut(&Batch) -> Result<(), SyncError>,
) -> Result<bool, SyncError> {
    let Some(mut lines) = saved
        .read(
            &TableRead::new(LedgerLine::schema().name(), batch_rows)
                .columns(&reconcile::CANONICAL_LINE_COLUMNS)
                .filter(filter.clone()),
        )
        .await
        .map_err(sink)?
    else {
        return Ok(false);
    };
    while let Some(b) = futures_util::TryStreamExt::try_next(&mut lines)
        .await
        .map_err(sink)?
    {
        f(&b)?;
    }
    Ok(true)
}

/// The versions of the ledger lines a cycle's raw load changed, read from
/// `canonical_ledger_lines` before the transformation ([`before`](Self::before)) and
/// after it ([`after`](Self::after)): the lines dated in a closed or frozen fiscal year
/// that changed are added to `report_review` (`change_in_closed_year`).
///
/// Memory: the old versions of the changed lines, up to the incremental limit (above
/// it, or after a full read of the lines, nothing is watched).
pub(crate) struct ClosedYearWatch {
    keys: BTreeMap<i64, BTreeSet<i64>>,
    old: BTreeMap<(i64, i64), LedgerLine>,
}

impl ClosedYearWatch {
    /// Reads the old versions of the lines `inc`'s raw load changed (`None`: none did,
    /// or too many, or the lines were read whole).
    pub(crate) async fn before(
        inc: &dyn crate::transform::update::ChangeTracking,
        saved: &dyn ReadBack,
        settings: TransformSettings,
    ) -> Result<Option<Self>, SyncError> {
        let changes = inc.changes().snapshot();
        let Some(lines) = changes.get("ledger_entry_lines") else {
            return Ok(None);
        };
        let count = lines.upserted.len() + lines.deleted.len();
        if lines.whole || count == 0 || count > settings.incremental_limit {
            return Ok(None);
        }
        let mut keys: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for (company, id) in lines.keys() {
            keys.entry(company).or_default().insert(id);
        }
        let old = saved_lines(saved, &keys, settings.batch_rows).await?;
        Ok(Some(ClosedYearWatch { keys, old }))
    }

    /// Reads the new versions and merges the changes dated in closed years into
    /// `report_review`.
    pub(crate) async fn after(
        self,
        saved: &dyn ReadBack,
        facts: &mut dyn Sink,
        batch_rows: usize,
        report: &mut TransformReport,
    ) -> Result<(), SyncError> {
        let new = saved_lines(saved, &self.keys, batch_rows).await?;
        let changes = review::line_changes(&self.old, &new);
        if changes.is_empty() {
            return Ok(());
        }
        let mut years = Vec::new();
        if let Some(mut batches) = saved
            .read(&TableRead::new(
                penny_transform::canonical::FiscalYear::schema().name(),
                batch_rows,
            ))
            .await
            .map_err(sink)?
        {
            while let Some(b) = futures_util::TryStreamExt::try_next(&mut batches)
                .await
                .map_err(sink)?
            {
                years.extend(review::fiscal_year_rows(&b).map_err(check_error)?);
            }
        }
        let rows = review::review(&review::ReviewInput {
            fiscal_years: &years,
            chart: &[],
            trial_balance: &[],
            lines: &review::ReviewLines::new(),
            changes: &changes,
            as_of: chrono::Utc::now().date_naive(),
        });
        if rows.is_empty() {
            return Ok(());
        }
        report.closed_year_changes = rows.len() as u64;
        let batches = review::review_batches(&rows, batch_rows).map_err(batch_error)?;
        write_batches(
            facts,
            &review::review_schema(),
            ReadKind::Incremental,
            batches,
            report,
        )
        .await
    }
}

fn check_error(e: reconcile::ReconcileError) -> SyncError {
    SyncError::from(e)
}
