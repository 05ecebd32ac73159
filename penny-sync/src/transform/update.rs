//! The incremental transformation: after an incremental raw load (API door), the ledger
//! lines of the canonical model and the star schema are updated for what changed,
//! instead of rebuilt from every raw line.
//!
//! # What is updated, what is rebuilt
//! - `canonical_ledger_lines` and `fact_ledger_lines` (the large tables): the lines
//!   the load affected are read back from the raw tables (filtered reads, see
//!   [`ReadBack::read`]), mapped, and upserted; the lines it deleted are
//!   deleted. A line is affected when its row in `ledger_entry_lines` changed (its
//!   `id`), its entry in `ledger_entries` changed (`ledger_entry_id`: the entry gives
//!   the line's document reference and due date), its journal's code changed
//!   (`journal_id`), its account's number changed, or a customer or supplier moved to
//!   or from its account (`ledger_account_id`: the line's third party). The last two
//!   are found by comparing the `(id, code)` references of journals, accounts,
//!   customers and suppliers with those saved by the previous run ([`Refs`], in the
//!   raw schema's table [`REFS_TABLE`]).
//! - Invoices, invoice lines, payments and bank transactions (`canonical_*`,
//!   `fact_invoices`, `fact_invoice_lines`, `fact_bank_transactions`): the rows whose
//!   raw keys the load changed are upserted, or deleted when their raw row is gone;
//!   the lines and payments of a changed invoice are rewritten with it. A table whose
//!   raw table was read whole is rewritten whole; so are the invoice lines when
//!   journals or accounts changed (their account numbers come from the accounts). The
//!   changed records are read by key. What the reports need of the invoices (the open
//!   amounts per third party and due date, the lines' sums per month and VAT rate:
//!   [`InvoiceDigest`]) was saved by the last transformation ([`OPEN_AMOUNTS_TABLE`],
//!   [`INVOICE_VAT_TABLE`]); it is read back and changed by the old versions of the
//!   changed invoices, lines and payments (read back from their canonical tables before
//!   the merge, with the invoices the lines and payments belong to) and their new ones.
//!   When it cannot be (not saved, a table read whole, saved as of a later day, sums
//!   that do not match), every invoice, line and payment is digested afresh in one
//!   streaming pass over the columns the digest reads.
//! - The small tables are rebuilt whole, each in one commit: companies, accounts,
//!   journals, third parties, fiscal years (canonical), `dim_company`, `dim_account`,
//!   `dim_journal`, `dim_third_party`, `dim_date` (over the fiscal years and the raw
//!   lines' first and last dates), and the reports ([`reports`](crate::transform::reports)). The reports
//!   come from the lines summed per account and period: the sums saved by the last
//!   transformation ([`LINE_SUMS_TABLE`], in the star schema) are read back and changed
//!   by the old versions of the affected lines (read back from `canonical_ledger_lines`
//!   before they are merged) and their new versions, which costs what the changes cost,
//!   not what the books hold ([`ReadBack`]). When the sums cannot be changed so (none
//!   saved, fiscal years that split the periods otherwise, a journal whose type changed:
//!   the opening journals' lines are summed apart, sums that do not match), they are
//!   summed afresh in one streaming pass over the raw lines, and saved whole. The trial
//!   balance is then merged for the accounts whose sums changed and the result accounts
//!   (120, 129: a change of a profit and loss line of a year changes their later
//!   openings), or written whole when an opening journal's line changed (which years
//!   open with their own entries may have changed).
//!
//! # When the whole transformation is rebuilt instead
//! A full read of `ledger_entry_lines` or `ledger_entries` (`--full`, a first sync),
//! the Data Sharing door, no saved references (first transformation, or a previous run
//! stopped between its raw load and the end of its transformation: the raw target
//! drops the references before its first write of a run), or a target that cannot
//! filter its reads (the CSV folder).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::TryStreamExt;
use penny_transform::canonical::from_api::ApiMapper;
use penny_transform::canonical::tables::{CanonicalTable, to_batches};
use penny_transform::canonical::{
    Books, Invoice, InvoiceLine, InvoicePayment, LedgerLine, OpeningJournals, ThirdPartyKind,
};
use penny_transform::{
    Batch, BatchBuilder, Column, KeyFilter, LogicalType, ReadBack, ReadKind, Schema, Sink,
    SinkError, TableRead, Value, star,
};

use penny_transform::reports::invoice_digest::{
    INVOICE_VAT_TABLE, InvoiceDigest, InvoiceKey, OPEN_AMOUNTS_TABLE,
};
use penny_transform::reports::line_sums::{LINE_SUMS_TABLE, LineSums, SumKey};

use crate::changes::{ChangeLog, TableChanges};
use crate::error::SyncError;
use crate::transform::books::{API_REFERENCE_TABLES, Family};
use crate::transform::write::{
    DoorKind, TransformMode, TransformReport, WholeTables, batch_error, each_batch, mapping, sink,
    write_batches,
};

/// The raw table of the saved references (journal codes and types, account numbers,
/// third parties' accounts by id) the ledger lines were mapped and summed with.
pub const REFS_TABLE: &str = "_penny_line_refs";

/// The kind of the saved references that hold the journals' types.
const JOURNAL_TYPE: &str = "journal_type";

/// The columns of the raw lines the reports' pass reads (what the mapping needs to
/// give each line its company, account, date and amounts).
const REPORT_LINE_COLUMNS: &[&str] = &[
    "company_id",
    "id",
    "ledger_entry_id",
    "date",
    "journal_id",
    "ledger_account_number",
    "ledger_account_id",
    "debit",
    "credit",
];

const LINES: &str = "ledger_entry_lines";
const ENTRIES: &str = "ledger_entries";

/// The schema of [`REFS_TABLE`].
pub fn refs_schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(
            REFS_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("kind", LogicalType::Text),
                Column::required("id", LogicalType::Int64),
                Column::nullable("value", LogicalType::Text),
            ],
            ["company_id", "kind", "id"],
        )
        .expect("the references schema is valid"),
    )
}

/// What the raw tables' ids of journals, accounts, customers and suppliers stand for
/// (journal code, account number, the third party's account id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refs(BTreeMap<(i64, String, i64), Option<String>>);

/// The kind and value column of the raw tables whose references are kept.
fn ref_columns(table: &str) -> Option<(&'static str, &'static str)> {
    Some(match table {
        "journals" => ("journal", "code"),
        "ledger_accounts" => ("account", "number"),
        "customers" => ("customer", "ledger_account_id"),
        "suppliers" => ("supplier", "ledger_account_id"),
        _ => return None,
    })
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        Value::Int64(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Int64(i) => Some(*i),
        _ => None,
    }
}

impl Refs {
    /// Adds the references of a batch of a raw table (other tables are ignored).
    pub fn add_raw(&mut self, batch: &Batch) {
        let Some((kind, column)) = ref_columns(batch.table()) else {
            return;
        };
        let s = batch.schema();
        let (Some(c), Some(i)) = (s.column_index("company_id"), s.column_index("id")) else {
            return;
        };
        let v = s.column_index(column);
        // The journals' types: which journals are opening journals, whose lines the
        // saved line sums keep apart.
        let types = (kind == "journal")
            .then(|| s.column_index("type"))
            .flatten();
        for row in batch.rows() {
            if let (Some(company), Some(id)) = (int(row.get(c)), int(row.get(i))) {
                let value = v.and_then(|v| text(row.get(v)));
                self.0.insert((company, kind.to_owned(), id), value);
                if let Some(t) = types {
                    self.0
                        .insert((company, JOURNAL_TYPE.to_owned(), id), text(row.get(t)));
                }
            }
        }
    }

    /// Whether a journal's type changed from `self` to `now` (the opening journals'
    /// lines are summed apart: the saved sums must then be made afresh).
    pub fn journal_types_changed(&self, now: &Refs) -> bool {
        let types = |refs: &Refs| -> Vec<((i64, i64), Option<String>)> {
            refs.0
                .iter()
                .filter(|(k, _)| k.1 == JOURNAL_TYPE)
                .map(|(k, v)| ((k.0, k.2), v.clone()))
                .collect()
        };
        types(self) != types(now)
    }

    /// Adds rows of [`REFS_TABLE`] read back.
    pub fn add_saved(&mut self, batch: &Batch) -> Result<(), SinkError> {
        for row in batch.rows() {
            match (row.first(), row.get(1), row.get(2)) {
                (Some(Value::Int64(c)), Some(Value::Text(k)), Some(Value::Int64(i))) => {
                    self.0.insert((*c, k.clone(), *i), text(row.get(3)));
                }
                _ => {
                    return Err(SinkError::Data {
                        table: REFS_TABLE.to_owned(),
                        source: format!(
                            "a row is not (company_id bigint, kind text, id bigint, value text): {row:?}"
                        )
                        .into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The references as batches of [`REFS_TABLE`].
    pub fn to_batches(&self, batch_rows: usize) -> Result<Vec<Batch>, SinkError> {
        let mut b = BatchBuilder::upsert(refs_schema(), batch_rows.max(1));
        let mut out = Vec::new();
        let bad = |e: penny_transform::BatchError| SinkError::Data {
            table: REFS_TABLE.to_owned(),
            source: e.into(),
        };
        for ((c, k, i), v) in &self.0 {
            let row = vec![
                Value::Int64(*c),
                Value::Text(k.clone()),
                Value::Int64(*i),
                v.clone().map(Value::Text).unwrap_or(Value::Null),
            ];
            if let Some(batch) = b.push(row).map_err(bad)? {
                out.push(batch);
            }
        }
        out.extend(b.finish().map_err(bad)?);
        Ok(out)
    }

    /// The references of the raw tables now.
    pub async fn read(raw: &dyn ReadBack, batch_rows: usize) -> Result<Refs, SyncError> {
        let mut refs = Refs::default();
        for table in ["journals", "ledger_accounts", "customers", "suppliers"] {
            each_batch(raw, table, batch_rows, |batch| {
                refs.add_raw(&batch);
                Ok(())
            })
            .await?;
        }
        Ok(refs)
    }

    /// What changed from `self` to `now`: the journals whose code changed, and the
    /// accounts whose number changed or that a customer or supplier left or joined.
    pub fn diff(&self, now: &Refs) -> (BTreeSet<i64>, BTreeSet<i64>) {
        let mut journals = BTreeSet::new();
        let mut accounts = BTreeSet::new();
        let keys: BTreeSet<&(i64, String, i64)> = self.0.keys().chain(now.0.keys()).collect();
        for key in keys {
            let (old, new) = (self.0.get(key), now.0.get(key));
            if old == new {
                continue;
            }
            match key.1.as_str() {
                // A type does not change how the lines map.
                JOURNAL_TYPE => {}
                "journal" => {
                    journals.insert(key.2);
                }
                "account" => {
                    accounts.insert(key.2);
                }
                _ => {
                    for v in [old, new].into_iter().flatten().flatten() {
                        if let Ok(id) = v.parse() {
                            accounts.insert(id);
                        }
                    }
                }
            }
        }
        (journals, accounts)
    }

    /// The account numbers, before and after, of the accounts whose number changed or
    /// that appeared or went from `self` to `now`.
    pub fn changed_account_numbers(&self, now: &Refs) -> BTreeSet<(i64, Arc<str>)> {
        let mut out = BTreeSet::new();
        let keys: BTreeSet<&(i64, String, i64)> = self.0.keys().chain(now.0.keys()).collect();
        for key in keys.into_iter().filter(|k| k.1 == "account") {
            let (old, new) = (self.0.get(key), now.0.get(key));
            if old != new {
                for number in [old, new].into_iter().flatten().flatten() {
                    out.insert((key.0, Arc::from(number.as_str())));
                }
            }
        }
        out
    }
}

/// What a raw target keeps for the incremental transformation, beside its tables
/// (read through [`ReadBack`]): what its loads changed, and the references the last
/// transformation used.
#[async_trait::async_trait]
pub trait ChangeTracking: Send + Sync {
    /// What the raw loads changed since the transformation last completed.
    fn changes(&self) -> &ChangeLog;
    /// The references saved by the last completed transformation (`None`: there are
    /// none, or they are stale).
    async fn saved_refs(&self) -> Result<Option<Refs>, SinkError>;
    /// Saves the references the transformation just used.
    async fn save_refs(&self, refs: &Refs) -> Result<(), SinkError>;
}

/// The batches of a saved table, or `None` when it is not there.
async fn saved_batches(
    saved: &dyn ReadBack,
    table: &str,
    columns: &[&str],
    batch_rows: usize,
    filter: Option<&KeyFilter>,
) -> Result<Option<Vec<Batch>>, SyncError> {
    let Some(mut stream) = saved
        .read(&{
            let mut r = TableRead::new(table, batch_rows);
            if !columns.is_empty() {
                r = r.columns(columns);
            }
            match filter {
                Some(f) => r.filter(f.clone()),
                None => r,
            }
        })
        .await
        .map_err(sink)?
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    while let Some(batch) = stream.try_next().await.map_err(sink)? {
        out.push(batch);
    }
    Ok(Some(out))
}

/// The saved line sums changed by the lines this run changed: `lines` (their new
/// versions, by key) and `deleted` (keys of lines gone), whose old versions are read
/// back from `canonical_ledger_lines`. `None` when they must be summed afresh: no saved
/// sums, fiscal years that split the periods otherwise, or sums that do not match (the
/// caller sums afresh when the journals' types changed: the sums keep the opening
/// journals' lines apart).
async fn changed_sums(
    saved: &dyn ReadBack,
    books: &Books,
    lines: &BTreeMap<(i64, i64), LedgerLine>,
    deleted: &[(i64, i64)],
    batch_rows: usize,
) -> Result<Option<(LineSums, BTreeSet<SumKey>)>, SyncError> {
    let fiscal_years = &books.fiscal_years;
    let mut days = LineSums::new(fiscal_years, OpeningJournals::of(&books.journals));
    let old_years = saved_batches(
        saved,
        penny_transform::canonical::FiscalYear::schema().name(),
        &["end"],
        batch_rows,
        None,
    )
    .await?
    .unwrap_or_default();
    let mut years = Vec::new();
    for row in old_years.iter().flat_map(|b| b.rows()) {
        match (row.first(), row.get(1), row.get(2)) {
            (Some(Value::Int64(company_id)), Some(Value::Date(start)), Some(Value::Date(end))) => {
                years.push(penny_transform::canonical::FiscalYear {
                    company_id: *company_id,
                    start: *start,
                    end: *end,
                    status: None,
                })
            }
            _ => return Ok(None),
        }
    }
    if !days.same_periods(&years) {
        tracing::debug!("the fiscal years changed: the line sums are summed afresh");
        return Ok(None);
    }
    // Streamed into the sums, a batch at a time.
    let Some(mut sums) = saved
        .read(&TableRead::new(LINE_SUMS_TABLE, 10_000))
        .await
        .map_err(sink)?
    else {
        return Ok(None);
    };
    while let Some(batch) = sums.try_next().await.map_err(sink)? {
        if let Err(e) = days.add_saved(&batch) {
            tracing::warn!(error = %e, "saved line sums unreadable");
            return Ok(None);
        }
    }
    drop(sums);
    let mut by_company: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (company, id) in lines.keys().chain(deleted) {
        by_company.entry(*company).or_default().insert(*id);
    }
    // The old versions, taken away a batch at a time; then the new versions added.
    let mut touched = BTreeSet::new();
    for (company, ids) in by_company {
        let filter = KeyFilter::ints("line_id", ids).within("company_id", company);
        let Some(mut old) = saved
            .read(
                &TableRead::new(LedgerLine::schema().name(), batch_rows)
                    .columns(&["journal_code", "account_number", "date", "debit", "credit"])
                    .filter(filter),
            )
            .await
            .map_err(sink)?
        else {
            return Ok(None);
        };
        while let Some(batch) = old.try_next().await.map_err(sink)? {
            match days.take_away(&batch) {
                Ok(keys) => touched.extend(keys),
                Err(e) => {
                    tracing::warn!(error = %e);
                    return Ok(None);
                }
            }
        }
    }
    touched.extend(days.put(lines.values()));
    Ok(Some((days, touched)))
}

/// Updates the canonical model, the star schema and the reports for the changes
/// recorded in `inc` (see the module's documentation). `None` when it cannot, before
/// writing anything: the caller then rebuilds everything.
pub async fn update(
    raw: &dyn ReadBack,
    inc: &dyn ChangeTracking,
    star: Option<&dyn ReadBack>,
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    settings: crate::transform::write::TransformSettings,
) -> Result<Option<TransformReport>, SyncError> {
    let batch_rows = settings.batch_rows;
    let changes = inc.changes().snapshot();
    let whole = |why: &str| {
        tracing::info!(reason = why, "the transformation is rebuilt whole");
        Ok(None)
    };
    if !raw.has(LINES).await.map_err(sink)? {
        return whole("not the API door");
    }
    if let Some(t) = [LINES, ENTRIES]
        .iter()
        .find(|t| changes.get(**t).is_some_and(|c| c.whole))
    {
        return whole(&format!("`{t}` was read whole"));
    }
    let changed_lines: usize = [LINES, ENTRIES]
        .iter()
        .filter_map(|t| changes.get(*t))
        .map(|c| c.upserted.len() + c.deleted.len())
        .sum();
    if changed_lines > settings.incremental_limit {
        return whole(&format!(
            "{changed_lines} changed ledger lines and entries, more than the incremental limit ({}): streamed whole instead of held",
            settings.incremental_limit
        ));
    }
    let Some(saved) = inc.saved_refs().await.map_err(sink)? else {
        return whole("no saved references: first or interrupted transformation");
    };

    let started = std::time::Instant::now();
    // The small tables (but the entries: only those of the affected lines are needed).
    let mut mapper = ApiMapper::default();
    let mut refs = Refs::default();
    for table in API_REFERENCE_TABLES {
        each_batch(raw, table, batch_rows, |batch| {
            refs.add_raw(&batch);
            mapper.add(&batch).map(|_| ()).map_err(mapping)
        })
        .await?;
    }
    let _ = mapper.books();
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        memory_mib = ?crate::progress::memory_mib(),
        "small tables mapped"
    );
    let (journals, accounts) = saved.diff(&refs);
    let renumbered = saved.changed_account_numbers(&refs);
    // Which journals are opening journals may have changed: the line sums, which keep
    // their lines apart, are made afresh, and the journals rewritten.
    let types_changed = saved.journal_types_changed(&refs);
    let refs_changed = !journals.is_empty() || !accounts.is_empty();
    // Changed keys per company: filtered with the company, on the primary key.
    let by_company = |t: &str| -> BTreeMap<i64, BTreeSet<i64>> {
        let mut out: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for (company, id) in changes.get(t).into_iter().flat_map(|c| c.keys()) {
            out.entry(company).or_default().insert(id);
        }
        out
    };
    let mut filters: Vec<KeyFilter> = Vec::new();
    for (column, table) in [("id", LINES), ("ledger_entry_id", ENTRIES)] {
        for (company, ids) in by_company(table) {
            filters.push(KeyFilter::ints(column, ids).within("company_id", company));
        }
    }
    for (column, ids) in [("journal_id", journals), ("ledger_account_id", accounts)] {
        if !ids.is_empty() {
            filters.push(KeyFilter::ints(column, ids));
        }
    }

    // The affected raw lines, mapped a batch at a time with their entries (read by key,
    // forgotten once the batch is mapped).
    let mut lines: BTreeMap<(i64, i64), LedgerLine> = BTreeMap::new();
    for filter in &filters {
        if let Some(mut stream) = raw
            .read(&TableRead::new(LINES, batch_rows).filter(filter.clone()))
            .await
            .map_err(sink)?
        {
            while let Some(batch) = stream.try_next().await.map_err(sink)? {
                crate::transform::books::fetch_entries(raw, &mut mapper, &batch, batch_rows)
                    .await?;
                for l in mapper.ledger_lines(&batch).map_err(mapping)? {
                    lines.insert((l.company_id, l.line_id), l);
                }
                mapper.forget_entries();
            }
        }
    }
    let deleted_keys: Vec<(i64, i64)> = changes
        .get(LINES)
        .map(|c| c.keys().filter(|k| !lines.contains_key(k)).collect())
        .unwrap_or_default();
    let deleted: Vec<Vec<Value>> = deleted_keys
        .iter()
        .map(|(c, id)| vec![Value::Int64(*c), Value::Int64(*id)])
        .collect();
    // The saved line sums, changed by the old and new versions of these lines (read
    // before the lines are merged).
    let changed = match star {
        Some(_) if types_changed => None,
        Some(star) => changed_sums(star, mapper.books(), &lines, &deleted_keys, batch_rows).await?,
        None => None,
    };
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        memory_mib = ?crate::progress::memory_mib(),
        by_difference = changed.is_some(),
        "line sums"
    );

    let mut report = TransformReport {
        door: DoorKind::Api,
        mode: TransformMode::Updated,
        ..TransformReport::default()
    };
    if changed.is_none() {
        report.afresh.push("line sums");
    }
    // Merged a batch at a time (memory: the changed lines, not their rows twice over).
    let changed_lines: Vec<&LedgerLine> = lines.values().collect();
    merge_chunks(
        out,
        &LedgerLine::schema(),
        &changed_lines,
        deleted.clone(),
        batch_rows,
        |chunk| to_batches(chunk.iter().copied(), batch_rows).map_err(mapping),
        &mut report,
    )
    .await?;
    merge_chunks(
        facts,
        &star::fact_ledger_lines_schema(),
        &changed_lines,
        deleted,
        batch_rows,
        |chunk| star::fact_ledger_lines(chunk.iter().copied(), batch_rows).map_err(batch_error),
        &mut report,
    )
    .await?;
    drop(changed_lines);
    drop(lines);

    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        memory_mib = ?crate::progress::memory_mib(),
        "ledger lines merged"
    );

    // The reports' passes over every line and every invoice, invoice line and payment,
    // side by side, each reading only the columns the reports use; then the changed
    // transactional records, read by key (every record of a table rewritten whole).
    let mut whole = whole_tables(&changes, refs_changed);
    whole.references |= types_changed;
    tracing::debug!(
        references_changed = whole.references,
        "reference tables {}",
        if whole.references {
            "changed: rewritten"
        } else {
            "unchanged: left as they are"
        }
    );
    let as_of = chrono::Utc::now().date_naive();
    let (days, touched) = match changed {
        Some((days, touched)) => (Some(days), Some(touched)),
        None => (None, None),
    };
    // The invoices' digest saved by the last run, to change by the changed records; or
    // made afresh from every invoice, beside the pass over the lines when that is needed.
    let invoice_changes = InvoiceChanges::of(&changes);
    let saved_digest = match (star, &invoice_changes) {
        (Some(star), Some(_)) => saved_digest(star, as_of, batch_rows).await?,
        _ => None,
    };
    let days_pass = async {
        match days {
            Some(days) => Ok(days),
            None => lines_pass(raw, mapper.clone(), batch_rows).await,
        }
    };
    let fresh_digest = async {
        match saved_digest {
            Some(_) => Ok(None),
            None => digest_pass(raw, mapper.clone(), as_of, batch_rows)
                .await
                .map(Some),
        }
    };
    let (days, fresh_digest) = tokio::try_join!(days_pass, fresh_digest)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        memory_mib = ?crate::progress::memory_mib(),
        digest_saved = saved_digest.is_some(),
        "reports' passes over the lines and invoices done"
    );
    let selected = select_changed(raw, &mut mapper, &changes, whole, batch_rows).await?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        memory_mib = ?crate::progress::memory_mib(),
        "changed transactional records read"
    );
    // Changed by the old versions (read back before the merge) and the new ones.
    let by_difference = match (saved_digest, star, &invoice_changes) {
        (Some(mut digest), Some(star), Some(keys)) => {
            changed_digest(star, &mut digest, &selected, keys, batch_rows)
                .await?
                .then_some(digest)
        }
        _ => None,
    };
    let digest = match (by_difference, fresh_digest) {
        (Some(digest), _) => digest,
        (None, fresh) => {
            report.afresh.push("invoices' digest");
            match fresh {
                Some(digest) => digest,
                None => digest_pass(raw, mapper.clone(), as_of, batch_rows).await?,
            }
        }
    };
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        memory_mib = ?crate::progress::memory_mib(),
        "invoices' digest changed"
    );
    let mut books = mapper.into_books();
    books.invoices = selected.invoices;
    books.invoice_lines = selected.invoice_lines;
    books.payments = selected.payments;
    books.bank_transactions = selected.bank_transactions;
    merge_transactions(out, facts, &books, &changes, whole, batch_rows, &mut report).await?;
    let dates = raw.date_range(LINES, "date").await.map_err(sink)?;
    // The trial balance by difference, for the accounts whose sums changed (and those
    // they carry into, see `reports::trial_balance_accounts`; with the accounts whose
    // number changed, which may have been a result account): when every company has
    // fiscal years from the source (without, its years are assumed over its lines'
    // dates, which the changes may move), and no opening journal's line changed (it may
    // change which years open with their own entries, and every row with them).
    let with_years: BTreeSet<i64> = books.fiscal_years.iter().map(|fy| fy.company_id).collect();
    let changed_accounts: Option<BTreeSet<(i64, Arc<str>)>> = touched
        .as_ref()
        .filter(|_| days.extent().keys().all(|c| with_years.contains(c)))
        .and_then(penny_transform::reports::tables::changed_accounts)
        .map(|accounts| accounts.into_iter().chain(renumbered).collect());
    crate::transform::books::write_books(
        out,
        facts,
        &books,
        dates,
        &days,
        &digest,
        changed_accounts.as_ref(),
        settings,
        whole,
        &mut report,
    )
    .await?;
    if star.is_some() {
        let schema = LineSums::schema();
        let (upserts, gone) = days.batches(touched.as_ref(), batch_rows)?;
        match touched {
            Some(_) => merge(facts, &schema, upserts, gone, &mut report).await?,
            None => write_batches(facts, &schema, ReadKind::Full, upserts, &mut report).await?,
        }
        for write in digest.saved_batches(batch_rows)? {
            crate::transform::write::write_changes(facts, write, &mut report).await?;
        }
    }
    inc.save_refs(&refs).await.map_err(sink)?;
    Ok(Some(report))
}

/// The ledger lines summed per account and day for the reports: one streaming pass
/// over the raw lines, reading only what the mapping needs to give each line its
/// company, account, date and amounts.
async fn lines_pass(
    inc: &dyn ReadBack,
    mut mapper: ApiMapper,
    batch_rows: usize,
) -> Result<penny_transform::reports::line_sums::LineSums, SyncError> {
    let books = mapper.books();
    let mut days = penny_transform::reports::line_sums::LineSums::new(
        &books.fiscal_years,
        OpeningJournals::of(&books.journals),
    );
    if let Some(mut stream) = inc
        .read(&TableRead::new(LINES, batch_rows.max(10_000)).columns(REPORT_LINE_COLUMNS))
        .await
        .map_err(sink)?
    {
        while let Some(batch) = stream.try_next().await.map_err(sink)? {
            days.add(&mapper.ledger_lines(&batch).map_err(mapping)?);
        }
    }
    Ok(days)
}

/// The columns of the invoices, invoice lines and payments the reports' digest reads
/// (with the keys).
fn digest_columns(table: &str) -> &'static [&'static str] {
    match table {
        // With what says whether the record is an accounting document.
        "customer_invoices" | "supplier_invoices" => &[
            "customer_id",
            "supplier_id",
            "date",
            "deadline",
            "amount",
            "draft",
            "status",
            "accounting_status",
            "credited_invoice_id",
        ],
        "customer_invoice_lines" | "supplier_invoice_lines" => &[
            "invoice_id",
            "currency_amount_before_tax",
            "tax",
            "amount",
            "vat_rate",
        ],
        "customer_invoice_payments" | "supplier_invoice_payments" => {
            &["invoice_id", "currency_amount", "created_at"]
        }
        _ => &[],
    }
}

/// The invoices, invoice lines and payments digested afresh for the reports: one
/// streaming pass over each raw table, reading only the columns the digest uses.
async fn digest_pass(
    inc: &dyn ReadBack,
    mut mapper: ApiMapper,
    as_of: chrono::NaiveDate,
    batch_rows: usize,
) -> Result<penny_transform::reports::invoice_digest::InvoiceDigest, SyncError> {
    let mut digest = penny_transform::reports::invoice_digest::InvoiceDigest::new(as_of);
    for family in [Family::Invoices, Family::InvoiceLines, Family::Payments] {
        for table in family.raw_tables(DoorKind::Api) {
            let Some(mut stream) = inc
                .read(&TableRead::new(table, batch_rows.max(10_000)).columns(digest_columns(table)))
                .await
                .map_err(sink)?
            else {
                continue;
            };
            while let Some(batch) = stream.try_next().await.map_err(sink)? {
                mapper.add(&batch).map_err(mapping)?;
                digest.add(&mapper.take_transactions());
            }
        }
    }
    Ok(digest)
}

/// The keys of the invoices, invoice lines and payments a run changed (`None` from
/// [`of`](Self::of) when one of their tables was read whole).
struct InvoiceChanges {
    invoices: BTreeSet<InvoiceKey>,
    lines: BTreeSet<InvoiceKey>,
    payments: BTreeSet<InvoiceKey>,
}

impl InvoiceChanges {
    fn of(changes: &BTreeMap<String, TableChanges>) -> Option<Self> {
        Some(InvoiceChanges {
            invoices: kind_keys(changes, Family::Invoices)?,
            lines: kind_keys(changes, Family::InvoiceLines)?,
            payments: kind_keys(changes, Family::Payments)?,
        })
    }

    /// Whether a line or payment (`key`, of invoice `invoice_id`) is affected: it
    /// changed (its key is in `own`), or its invoice did.
    fn affects(&self, own: &BTreeSet<InvoiceKey>, key: InvoiceKey, invoice_id: i64) -> bool {
        own.contains(&key) || self.invoices.contains(&(key.0, key.1, invoice_id))
    }
}

/// Per company, the ids of `keys` (of both kinds: the reads filter by company and id,
/// the kind is checked on what they return).
fn ids_by_company<'a>(
    keys: impl IntoIterator<Item = &'a InvoiceKey>,
) -> BTreeMap<i64, BTreeSet<i64>> {
    let mut out: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (company, _, id) in keys {
        out.entry(*company).or_default().insert(*id);
    }
    out
}

/// The invoices' digest the last transformation saved ([`OPEN_AMOUNTS_TABLE`],
/// [`INVOICE_VAT_TABLE`]), to age as of `as_of`; `None` when it must be made afresh
/// (not saved, unreadable, or kept as of a later day).
async fn saved_digest(
    saved: &dyn ReadBack,
    as_of: chrono::NaiveDate,
    batch_rows: usize,
) -> Result<Option<InvoiceDigest>, SyncError> {
    let mut digest = InvoiceDigest::new(as_of);
    for table in [OPEN_AMOUNTS_TABLE, INVOICE_VAT_TABLE] {
        let Some(mut stream) = saved
            .read(&TableRead::new(table, batch_rows.max(10_000)))
            .await
            .map_err(sink)?
        else {
            tracing::debug!(table, "no saved digest: the invoices are digested afresh");
            return Ok(None);
        };
        while let Some(batch) = stream.try_next().await.map_err(sink)? {
            if let Err(e) = digest.add_saved(&batch) {
                tracing::warn!(error = %e, "saved invoices' digest unreadable");
                return Ok(None);
            }
        }
    }
    Ok(Some(digest))
}

/// Changes `digest` by the invoices, invoice lines and payments this run changed:
/// their old versions read back from the canonical tables (before the merge), with the
/// invoices the old and new lines and payments belong to, and their new versions from
/// `selected`. False when the old versions cannot be read back or do not match the
/// digest: it must then be made afresh.
async fn changed_digest(
    saved: &dyn ReadBack,
    digest: &mut InvoiceDigest,
    selected: &Books,
    keys: &InvoiceChanges,
    batch_rows: usize,
) -> Result<bool, SyncError> {
    // Reads `table`'s rows whose `column` is one of the ids, per company.
    async fn read(
        saved: &dyn ReadBack,
        table: &str,
        column: &str,
        ids: BTreeMap<i64, BTreeSet<i64>>,
        batch_rows: usize,
        out: &mut Vec<Batch>,
    ) -> Result<bool, SyncError> {
        for (company, ids) in ids {
            let filter = KeyFilter::ints(column, ids).within("company_id", company);
            let columns =
                penny_transform::reports::invoice_read_back::digest_canonical_columns(table);
            let Some(batches) =
                saved_batches(saved, table, columns, batch_rows, Some(&filter)).await?
            else {
                return Ok(false);
            };
            out.extend(batches);
        }
        Ok(true)
    }
    let mut old = Vec::new();
    for (table, own) in [
        (InvoiceLine::schema().name().to_owned(), &keys.lines),
        (InvoicePayment::schema().name().to_owned(), &keys.payments),
    ] {
        if !read(
            saved,
            &table,
            "id",
            ids_by_company(own),
            batch_rows,
            &mut old,
        )
        .await?
            || !read(
                saved,
                &table,
                "invoice_id",
                ids_by_company(&keys.invoices),
                batch_rows,
                &mut old,
            )
            .await?
        {
            return Ok(false);
        }
    }
    let mut old = match penny_transform::reports::invoice_read_back::read_back(&old) {
        Ok(books) => books,
        Err(e) => {
            tracing::warn!(error = %e);
            return Ok(false);
        }
    };
    // What both filters (own key, invoice's) read counts once; what a filter read of
    // the other kind does not count.
    old.invoice_lines
        .retain(|l| keys.affects(&keys.lines, (l.company_id, l.kind, l.id), l.invoice_id));
    old.invoice_lines
        .sort_by_key(|l| (l.company_id, l.kind, l.id));
    old.invoice_lines
        .dedup_by_key(|l| (l.company_id, l.kind, l.id));
    old.payments
        .retain(|p| keys.affects(&keys.payments, (p.company_id, p.kind, p.id), p.invoice_id));
    old.payments.sort_by_key(|p| (p.company_id, p.kind, p.id));
    old.payments.dedup_by_key(|p| (p.company_id, p.kind, p.id));
    let mut new = Books {
        invoice_lines: selected
            .invoice_lines
            .iter()
            .filter(|l| keys.affects(&keys.lines, (l.company_id, l.kind, l.id), l.invoice_id))
            .cloned()
            .collect(),
        payments: selected
            .payments
            .iter()
            .filter(|p| keys.affects(&keys.payments, (p.company_id, p.kind, p.id), p.invoice_id))
            .cloned()
            .collect(),
        ..Books::default()
    };
    // The credit notes against a changed invoice, aged again on its due date: counted
    // as changed (alike in both versions unless they changed themselves).
    let mut crediting = Vec::new();
    if !read(
        saved,
        Invoice::schema().name(),
        "credited_invoice_id",
        ids_by_company(&keys.invoices),
        batch_rows,
        &mut crediting,
    )
    .await?
    {
        return Ok(false);
    }
    let mut changed = keys.invoices.clone();
    match penny_transform::reports::invoice_read_back::read_back(&crediting) {
        Ok(books) => changed.extend(
            books
                .invoices
                .iter()
                .filter(|i| {
                    i.credits()
                        .is_some_and(|c| keys.invoices.contains(&(i.company_id, i.kind, c)))
                })
                .map(|i| (i.company_id, i.kind, i.id)),
        ),
        Err(e) => {
            tracing::warn!(error = %e);
            return Ok(false);
        }
    }
    // The invoices: the changed ones, and those of the old and new lines and payments.
    let mut needed: BTreeSet<InvoiceKey> = changed.clone();
    for books in [&old, &new] {
        needed.extend(
            books
                .invoice_lines
                .iter()
                .map(|l| (l.company_id, l.kind, l.invoice_id)),
        );
        needed.extend(
            books
                .payments
                .iter()
                .map(|p| (p.company_id, p.kind, p.invoice_id)),
        );
    }
    let mut invoices = Vec::new();
    let table = Invoice::schema().name().to_owned();
    if !read(
        saved,
        &table,
        "id",
        ids_by_company(&needed),
        batch_rows,
        &mut invoices,
    )
    .await?
    {
        return Ok(false);
    }
    match penny_transform::reports::invoice_read_back::read_back(&invoices) {
        Ok(books) => old.invoices = books.invoices,
        Err(e) => {
            tracing::warn!(error = %e);
            return Ok(false);
        }
    }
    old.invoices
        .retain(|i| needed.contains(&(i.company_id, i.kind, i.id)));
    // And the invoices the changed credit notes credit (old and new versions), for
    // their due date.
    let credited: BTreeSet<InvoiceKey> = old
        .invoices
        .iter()
        .chain(&selected.invoices)
        .filter(|i| changed.contains(&(i.company_id, i.kind, i.id)))
        .filter_map(|i| i.credits().map(|c| (i.company_id, i.kind, c)))
        .filter(|k| !needed.contains(k))
        .collect();
    if !credited.is_empty() {
        let mut more = Vec::new();
        if !read(
            saved,
            &table,
            "id",
            ids_by_company(&credited),
            batch_rows,
            &mut more,
        )
        .await?
        {
            return Ok(false);
        }
        match penny_transform::reports::invoice_read_back::read_back(&more) {
            Ok(books) => old.invoices.extend(
                books
                    .invoices
                    .into_iter()
                    .filter(|i| credited.contains(&(i.company_id, i.kind, i.id))),
            ),
            Err(e) => {
                tracing::warn!(error = %e);
                return Ok(false);
            }
        }
    }
    // New versions: the changed invoices as the load left them (those gone are not
    // there), the others as they were.
    new.invoices = selected
        .invoices
        .iter()
        .filter(|i| keys.invoices.contains(&(i.company_id, i.kind, i.id)))
        .cloned()
        .chain(
            old.invoices
                .iter()
                .filter(|i| !keys.invoices.contains(&(i.company_id, i.kind, i.id)))
                .cloned(),
        )
        .collect();
    if let Err(e) = digest.change(&old, &new, &changed) {
        tracing::warn!(error = %e);
        return Ok(false);
    }
    Ok(true)
}

/// The transactional records the update merges: for a table rewritten whole, all of
/// them; otherwise those whose key changed and the lines and payments of the changed
/// invoices, read by key.
async fn select_changed(
    raw: &dyn ReadBack,
    mapper: &mut ApiMapper,
    changes: &BTreeMap<String, TableChanges>,
    whole: WholeTables,
    batch_rows: usize,
) -> Result<Books, SyncError> {
    let mut selected = Books::default();
    let mut keep = |mapper: &mut ApiMapper, batch: &Batch| -> Result<(), SyncError> {
        mapper.add(batch).map_err(mapping)?;
        let b = mapper.take_transactions();
        selected.invoices.extend(b.invoices);
        selected.invoice_lines.extend(b.invoice_lines);
        selected.payments.extend(b.payments);
        selected.bank_transactions.extend(b.bank_transactions);
        Ok(())
    };
    // The changed invoices per raw table and company (their lines and payments follow).
    let mut changed_invoices: BTreeMap<&str, BTreeMap<i64, BTreeSet<i64>>> = BTreeMap::new();
    for table in Family::Invoices.raw_tables(DoorKind::Api) {
        for (company, id) in changes.get(*table).into_iter().flat_map(|c| c.keys()) {
            changed_invoices
                .entry(*table)
                .or_default()
                .entry(company)
                .or_default()
                .insert(id);
        }
    }
    for family in Family::ALL {
        for table in family.raw_tables(DoorKind::Api) {
            if family.whole_in(whole) {
                each_batch(raw, table, batch_rows, |batch| keep(mapper, &batch)).await?;
                continue;
            }
            let mut filters = Vec::new();
            let mut own: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
            for (company, id) in changes.get(*table).into_iter().flat_map(|c| c.keys()) {
                own.entry(company).or_default().insert(id);
            }
            for (company, ids) in own {
                filters.push(KeyFilter::ints("id", ids).within("company_id", company));
            }
            // `customer_invoice_lines` follow `customer_invoices`, and so on.
            let invoices_table = if table.starts_with("customer_") {
                "customer_invoices"
            } else {
                "supplier_invoices"
            };
            if matches!(family, Family::InvoiceLines | Family::Payments) {
                for (company, ids) in changed_invoices.get(invoices_table).into_iter().flatten() {
                    filters.push(
                        KeyFilter::ints("invoice_id", ids.iter().copied())
                            .within("company_id", *company),
                    );
                }
            }
            for filter in &filters {
                if let Some(mut stream) = raw
                    .read(&TableRead::new(table, batch_rows).filter(filter.clone()))
                    .await
                    .map_err(sink)?
                {
                    while let Some(batch) = stream.try_next().await.map_err(sink)? {
                        keep(mapper, &batch)?;
                    }
                }
            }
        }
    }
    // Lines rewritten whole beside invoices merged: the invoice line facts leave out
    // the lines of the invoices that are not accounting documents, so those are read
    // too, by the columns that say so (and kept beside the changed ones, which the
    // merges pick by key).
    if whole.invoice_lines && !whole.invoices {
        let mut documents = mapper.clone();
        for table in Family::Invoices.raw_tables(DoorKind::Api) {
            let Some(mut stream) = raw
                .read(&TableRead::new(table, batch_rows.max(10_000)).columns(digest_columns(table)))
                .await
                .map_err(sink)?
            else {
                continue;
            };
            let changed = changed_invoices.get(*table);
            while let Some(batch) = stream.try_next().await.map_err(sink)? {
                documents.add(&batch).map_err(mapping)?;
                let others = documents.take_transactions().invoices.into_iter();
                selected.invoices.extend(others.filter(|i| {
                    !i.counts()
                        && !changed
                            .and_then(|c| c.get(&i.company_id))
                            .is_some_and(|ids| ids.contains(&i.id))
                }));
            }
        }
    }
    // A record read by two filters (its own key and its invoice's) counts once.
    selected.normalize();
    selected
        .invoice_lines
        .dedup_by_key(|l| (l.company_id, l.kind, l.id));
    selected
        .payments
        .dedup_by_key(|p| (p.company_id, p.kind, p.id));
    Ok(selected)
}

/// A key of the invoice tables: company, kind, id.
type KindKey = InvoiceKey;

/// The keys the raw tables of `family` (through the API: a customer and a supplier
/// table, or the bank transactions' one) changed, with their kind; `None` when one of
/// them changed whole.
fn family_keys(
    changes: &BTreeMap<String, TableChanges>,
    family: Family,
) -> Option<BTreeSet<RecordKey>> {
    const KINDS: [Option<ThirdPartyKind>; 2] = [
        Some(ThirdPartyKind::Customer),
        Some(ThirdPartyKind::Supplier),
    ];
    let tables = family.raw_tables(DoorKind::Api);
    let kinds: &[Option<ThirdPartyKind>] = if tables.len() == 2 { &KINDS } else { &[None] };
    let mut out = BTreeSet::new();
    for (table, kind) in tables.iter().zip(kinds) {
        if let Some(c) = changes.get(*table) {
            if c.whole {
                return None;
            }
            out.extend(c.keys().map(|(company, id)| (company, *kind, id)));
        }
    }
    Some(out)
}

/// The keys the raw tables of an invoice family changed ([`family_keys`]).
fn kind_keys(
    changes: &BTreeMap<String, TableChanges>,
    family: Family,
) -> Option<BTreeSet<KindKey>> {
    Some(
        family_keys(changes, family)?
            .into_iter()
            .filter_map(|(c, k, id)| Some((c, k?, id)))
            .collect(),
    )
}

/// A transactional record's key: company, kind (the invoices' families), id.
type RecordKey = (i64, Option<ThirdPartyKind>, i64);

/// The canonical key rows of `keys`.
fn key_rows(keys: impl IntoIterator<Item = RecordKey>) -> Vec<Vec<Value>> {
    keys.into_iter()
        .map(|(c, k, id)| match k {
            Some(k) => vec![
                Value::Int64(c),
                Value::Text(k.as_str().to_owned()),
                Value::Int64(id),
            ],
            None => vec![Value::Int64(c), Value::Int64(id)],
        })
        .collect()
}

/// Which transactional tables are rewritten whole rather than merged: those whose raw
/// table was read whole, and the invoice lines when journals or accounts changed (their
/// account numbers come from the accounts); and whether the reference tables are
/// written (not when none of their raw tables changed: the last run wrote them alike).
fn whole_tables(changes: &BTreeMap<String, TableChanges>, refs_changed: bool) -> WholeTables {
    let read_whole = |family| family_keys(changes, family).is_none();
    WholeTables {
        invoices: read_whole(Family::Invoices),
        invoice_lines: refs_changed || read_whole(Family::InvoiceLines),
        payments: read_whole(Family::Payments),
        bank_transactions: read_whole(Family::BankTransactions),
        references: API_REFERENCE_TABLES
            .iter()
            .any(|t| changes.get(*t).is_some_and(TableChanges::changed)),
    }
}

/// Merges the invoices, invoice lines, payments and bank transactions (canonical and
/// star) the raw load changed, but those `whole` says to rewrite whole (the caller
/// does).
///
/// An invoice's key changed: its row is upserted, or deleted when it is gone. Lines
/// and payments: theirs, and those of the changed invoices.
async fn merge_transactions(
    out: &mut dyn Sink,
    facts: &mut dyn Sink,
    books: &Books,
    changes: &BTreeMap<String, TableChanges>,
    whole: WholeTables,
    batch_rows: usize,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    let changed_invoices = kind_keys(changes, Family::Invoices).unwrap_or_default();
    let of_changed =
        |c: i64, k: ThirdPartyKind, invoice: i64| changed_invoices.contains(&(c, k, invoice));
    // Invoices that are not (or no longer) accounting documents: they and their lines
    // leave the facts.
    let left_out: BTreeSet<KindKey> = books
        .invoices
        .iter()
        .filter(|i| !i.counts())
        .map(|i| (i.company_id, i.kind, i.id))
        .collect();
    for family in Family::ALL {
        if family.whole_in(whole) {
            continue;
        }
        let Some(keys) = family_keys(changes, family) else {
            continue;
        };
        // The family's records to merge, each key with whether it leaves the facts.
        let mut sub = Books::default();
        let selected: Vec<(RecordKey, bool)> = match family {
            Family::Invoices => {
                sub.invoices = books
                    .invoices
                    .iter()
                    .filter(|i| keys.contains(&(i.company_id, Some(i.kind), i.id)))
                    .cloned()
                    .collect();
                sub.invoices
                    .iter()
                    .map(|i| ((i.company_id, Some(i.kind), i.id), !i.counts()))
                    .collect()
            }
            Family::InvoiceLines => {
                sub.invoice_lines = books
                    .invoice_lines
                    .iter()
                    .filter(|l| {
                        keys.contains(&(l.company_id, Some(l.kind), l.id))
                            || of_changed(l.company_id, l.kind, l.invoice_id)
                    })
                    .cloned()
                    .collect();
                // The facts of lines tell accounting documents by their invoices.
                sub.invoices = books.invoices.clone();
                sub.invoice_lines
                    .iter()
                    .map(|l| {
                        let gone = left_out.contains(&(l.company_id, l.kind, l.invoice_id));
                        ((l.company_id, Some(l.kind), l.id), gone)
                    })
                    .collect()
            }
            Family::Payments => {
                sub.payments = books
                    .payments
                    .iter()
                    .filter(|p| {
                        keys.contains(&(p.company_id, Some(p.kind), p.id))
                            || of_changed(p.company_id, p.kind, p.invoice_id)
                    })
                    .cloned()
                    .collect();
                sub.payments
                    .iter()
                    .map(|p| ((p.company_id, Some(p.kind), p.id), false))
                    .collect()
            }
            Family::BankTransactions => {
                sub.bank_transactions = books
                    .bank_transactions
                    .iter()
                    .filter(|t| keys.contains(&(t.company_id, None, t.id)))
                    .cloned()
                    .collect();
                sub.bank_transactions
                    .iter()
                    .map(|t| ((t.company_id, None, t.id), false))
                    .collect()
            }
        };
        let present: BTreeSet<RecordKey> = selected.iter().map(|(k, _)| *k).collect();
        let deleted = key_rows(keys.difference(&present).copied());
        let (upserts, fact_upserts) = family.batches(&sub, batch_rows)?;
        merge(out, &family.canonical(), upserts, deleted.clone(), report).await?;
        if let Some(fact) = family.fact() {
            let mut fact_deleted = deleted;
            fact_deleted.extend(key_rows(
                selected.iter().filter(|(_, gone)| *gone).map(|(k, _)| *k),
            ));
            merge(facts, &fact, fact_upserts, fact_deleted, report).await?;
        }
    }
    Ok(())
}

/// Upserts `records`, turned into batches a chunk of `batch_rows` at a time by `make`,
/// and deletes the keys `deleted`, in one commit of `schema`'s table.
async fn merge_chunks<T: Sync>(
    out: &mut dyn Sink,
    schema: &Arc<Schema>,
    records: &[T],
    deleted: Vec<Vec<Value>>,
    batch_rows: usize,
    make: impl Fn(&[T]) -> Result<Vec<Batch>, SyncError> + Send,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    out.prepare(schema, ReadKind::Incremental)
        .await
        .map_err(sink)?;
    let mut rows = 0u64;
    let written: Result<(), SyncError> = async {
        for chunk in records.chunks(batch_rows.max(1)) {
            for b in make(chunk)? {
                rows += b.len() as u64;
                out.write(b).await.map_err(sink)?;
            }
        }
        if !deleted.is_empty() {
            let b = Batch::delete(schema.clone(), deleted).map_err(batch_error)?;
            rows += b.len() as u64;
            out.write(b).await.map_err(sink)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = out.abort(schema.name()).await;
        return Err(e);
    }
    let stats = out.commit(schema.name(), None).await.map_err(sink)?;
    report.tables.push((schema.name().to_owned(), rows, stats));
    Ok(())
}

/// Upserts `upserts` and deletes the keys `deleted` (rows of key values, in key order)
/// in one commit of `schema`'s table.
async fn merge(
    out: &mut dyn Sink,
    schema: &Arc<Schema>,
    upserts: Vec<Batch>,
    deleted: Vec<Vec<Value>>,
    report: &mut TransformReport,
) -> Result<(), SyncError> {
    crate::transform::write::write_changes(out, (schema.clone(), upserts, Some(deleted)), report)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(table: &str, value: &str, rows: Vec<(i64, Value)>) -> Batch {
        let schema = Arc::new(
            Schema::new(
                table,
                vec![
                    Column::required("company_id", LogicalType::Int64),
                    Column::required("id", LogicalType::Int64),
                    Column::nullable(
                        value,
                        if value == "ledger_account_id" {
                            LogicalType::Int64
                        } else {
                            LogicalType::Text
                        },
                    ),
                ],
                ["company_id", "id"],
            )
            .unwrap(),
        );
        Batch::upsert(
            schema,
            rows.into_iter()
                .map(|(id, v)| vec![Value::Int64(1), Value::Int64(id), v])
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn the_diff_names_changed_journals_and_the_accounts_third_parties_moved_between() {
        let t = |s: &str| Value::Text(s.into());
        let mut old = Refs::default();
        old.add_raw(&batch("journals", "code", vec![(1, t("VT")), (2, t("HA"))]));
        old.add_raw(&batch("ledger_accounts", "number", vec![(10, t("411"))]));
        old.add_raw(&batch(
            "customers",
            "ledger_account_id",
            vec![(100, Value::Int64(10))],
        ));
        // The saved form reads back equal.
        let mut saved = Refs::default();
        for b in old.to_batches(2).unwrap() {
            saved.add_saved(&b).unwrap();
        }
        assert_eq!(saved, old);
        assert_eq!(old.diff(&saved), (BTreeSet::new(), BTreeSet::new()));

        let mut now = Refs::default();
        now.add_raw(&batch("journals", "code", vec![(1, t("VE")), (2, t("HA"))]));
        now.add_raw(&batch(
            "ledger_accounts",
            "number",
            vec![(10, t("411")), (11, t("401"))],
        ));
        now.add_raw(&batch(
            "customers",
            "ledger_account_id",
            vec![(100, Value::Int64(11)), (101, Value::Int64(12))],
        ));
        let (journals, accounts) = old.diff(&now);
        assert_eq!(journals, BTreeSet::from([1]));
        assert_eq!(accounts, BTreeSet::from([10, 11, 12]));
        assert!(!old.journal_types_changed(&now));
        // Account 11 appeared; account 10 kept its number.
        assert_eq!(
            old.changed_account_numbers(&now),
            BTreeSet::from([(1, Arc::from("401"))])
        );
    }

    #[test]
    fn a_journal_that_becomes_an_opening_journal_is_a_change_of_type_not_of_lines() {
        let journals = |kind: &str| {
            let schema = Arc::new(
                Schema::new(
                    "journals",
                    vec![
                        Column::required("company_id", LogicalType::Int64),
                        Column::required("id", LogicalType::Int64),
                        Column::required("code", LogicalType::Text),
                        Column::nullable("type", LogicalType::Text),
                    ],
                    ["company_id", "id"],
                )
                .unwrap(),
            );
            Batch::upsert(
                schema,
                vec![vec![
                    Value::Int64(1),
                    Value::Int64(5),
                    Value::Text("RAN".into()),
                    Value::Text(kind.into()),
                ]],
            )
            .unwrap()
        };
        let (mut old, mut now, mut same) = (Refs::default(), Refs::default(), Refs::default());
        old.add_raw(&journals("miscellaneous"));
        now.add_raw(&journals("new_year"));
        same.add_raw(&journals("miscellaneous"));
        assert!(old.journal_types_changed(&now));
        assert!(!old.journal_types_changed(&same));
        // The lines map alike: no journal's lines to read again.
        assert_eq!(old.diff(&now), (BTreeSet::new(), BTreeSet::new()));
    }
}
