//! In-memory reference implementations of [`Source`] and [`Sink`].
//!
//! They are small on purpose: copy them when writing a new source or sink, and use
//! them in tests of code that is generic over the traits. They are not meant for
//! production data volumes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::stream;

use crate::batch::{Batch, BatchBuilder, Operation, Row};
use crate::canonical::{
    Books, Invoice, InvoiceDocument, InvoiceLine, InvoicePayment, ThirdPartyKind,
};
use crate::error::{SinkError, SourceError};
use crate::position::Position;
use crate::schema::{Column, LogicalType, Schema};
use crate::sink::{CommitStats, Sink};
use crate::source::{ReadKind, Source, SourceEvent, StreamInfo, StreamRead, SyncMode};
use crate::value::{Key, Value};

/// One recorded change of a [`MemorySource`] table.
#[derive(Debug, Clone)]
enum Change {
    Upsert(Key),
    Delete(Key),
}

#[derive(Debug)]
struct MemoryTable {
    info: StreamInfo,
    rows: BTreeMap<Key, Row>,
    /// Changes in order, each with its sequence number.
    log: Vec<(u64, Change)>,
}

#[derive(Debug, Default)]
struct SourceState {
    tables: BTreeMap<String, MemoryTable>,
    sequence: u64,
    fail_after_batches: Option<usize>,
}

/// A source whose tables live in memory and record a change log.
///
/// Positions are change sequence numbers: a read from position `n` replays the
/// changes after `n` (upserts of the rows' current state, deletions of removed keys).
/// Reads without a position deliver every row, in key order, with a resume point
/// ([`MemoryResume`]) after each batch: a read from one continues the full read after
/// that batch's last key.
#[derive(Debug, Default)]
pub struct MemorySource {
    state: Mutex<SourceState>,
    batch_rows: usize,
}

/// The position a [`MemorySource`] hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoryPosition {
    /// The last change included.
    pub sequence: u64,
}

/// A resume point of a [`MemorySource`] full read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemoryResume {
    /// The last key delivered.
    pub after: Key,
    /// The change sequence the full read started at (its final checkpoint).
    pub sequence: u64,
}

impl MemorySource {
    /// An empty source that emits batches of at most `batch_rows` rows.
    pub fn new(batch_rows: usize) -> Self {
        MemorySource {
            state: Mutex::default(),
            batch_rows: batch_rows.max(1),
        }
    }

    /// A source with a `journals` table of three rows, for examples.
    pub fn example() -> Self {
        let source = MemorySource::new(2);
        let schema = Schema::new(
            "journals",
            vec![
                Column::required("id", LogicalType::Int64),
                Column::required("code", LogicalType::Text),
                Column::nullable("label", LogicalType::Text),
            ],
            ["id"],
        )
        .expect("the example schema is valid");
        source.add_table(StreamInfo::new(schema, SyncMode::Changelog));
        for (id, code, label) in [
            (1, "VE", "Ventes"),
            (2, "AC", "Achats"),
            (3, "BQ", "Banque"),
        ] {
            source
                .upsert(
                    "journals",
                    vec![Value::Int64(id), code.into(), label.into()],
                )
                .expect("the example rows are valid");
        }
        source
    }

    /// Adds an empty table.
    pub fn add_table(&self, info: StreamInfo) {
        let name = info.name().to_owned();
        self.lock().tables.insert(
            name,
            MemoryTable {
                info,
                rows: BTreeMap::new(),
                log: Vec::new(),
            },
        );
    }

    /// Inserts or replaces a row, recording the change.
    pub fn upsert(&self, table: &str, row: Row) -> Result<(), SourceError> {
        let mut state = self.lock();
        state.sequence += 1;
        let sequence = state.sequence;
        let t = table_mut(&mut state, table)?;
        let batch = Batch::upsert(t.info.schema.clone(), vec![row])?;
        let key = batch.key(0);
        let row = batch
            .into_rows()
            .into_iter()
            .next()
            .expect("one row was given");
        t.rows.insert(key.clone(), row);
        t.log.push((sequence, Change::Upsert(key)));
        Ok(())
    }

    /// Deletes a row by key, recording the change (even if the key is absent).
    pub fn delete(&self, table: &str, key: Vec<Value>) -> Result<(), SourceError> {
        let mut state = self.lock();
        state.sequence += 1;
        let sequence = state.sequence;
        let t = table_mut(&mut state, table)?;
        let batch = Batch::delete(t.info.schema.clone(), vec![key])?;
        let key = batch.key(0);
        t.rows.remove(&key);
        t.log.push((sequence, Change::Delete(key)));
        Ok(())
    }

    /// Makes the next read fail right after its `batches`-th batch, before the
    /// checkpoint that would cover it.
    pub fn fail_next_read_after(&self, batches: usize) {
        self.lock().fail_after_batches = Some(batches);
    }

    fn lock(&self) -> MutexGuard<'_, SourceState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn table_mut<'a>(
    state: &'a mut SourceState,
    table: &str,
) -> Result<&'a mut MemoryTable, SourceError> {
    let available = state.tables.keys().cloned().collect::<Vec<_>>().join(", ");
    state
        .tables
        .get_mut(table)
        .ok_or(SourceError::UnknownStream {
            stream: table.to_owned(),
            available,
        })
}

#[async_trait::async_trait]
impl Source for MemorySource {
    fn name(&self) -> &str {
        "memory"
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
        Ok(self
            .lock()
            .tables
            .values()
            .map(|t| t.info.clone())
            .collect())
    }

    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError> {
        let mut state = self.lock();
        let fail_after = state.fail_after_batches.take();
        let t = table_mut(&mut state, stream)?;
        let schema = t.info.schema.clone();
        let invalid = |p: &Position, e: serde_json::Error| SourceError::InvalidPosition {
            stream: stream.to_owned(),
            position: p.to_string(),
            reason: e.to_string(),
        };
        let (since, resume) = match &from {
            None => (None, None),
            Some(p) => match p.decode::<MemoryResume>() {
                Ok(resume) => (None, Some(resume)),
                Err(_) => (
                    Some(p.decode::<MemoryPosition>().map_err(|e| invalid(p, e))?),
                    None,
                ),
            },
        };
        let mut events = Vec::new();
        let end = t.log.last().map_or(0, |(s, _)| *s);
        let (kind, end) = match since {
            None => {
                // A full read, or the rest of one after a resume point.
                let (after, end) = match &resume {
                    Some(r) => (Some(&r.after), r.sequence),
                    None => (None, end),
                };
                let mut builder = BatchBuilder::upsert(schema, self.batch_rows);
                let rows = t.rows.iter().filter(|(k, _)| after.is_none_or(|a| *k > a));
                for (key, row) in rows {
                    if let Some(b) = builder.push(row.clone())? {
                        events.push(SourceEvent::Batch(b));
                        events.push(SourceEvent::Resume(resume_point(key, end)));
                    }
                }
                events.extend(builder.finish()?.map(SourceEvent::Batch));
                (ReadKind::Full, end)
            }
            Some(MemoryPosition { sequence }) => {
                // Replay the changes after `sequence`, a checkpoint after each chunk.
                let changes: Vec<_> = t.log.iter().filter(|(s, _)| *s > sequence).collect();
                for chunk in changes.chunks(self.batch_rows) {
                    let mut upserts = Vec::new();
                    let mut deletes = Vec::new();
                    let mut seen = BTreeSet::new();
                    for (_, change) in chunk.iter().rev() {
                        // The latest change of a key within the chunk wins.
                        let key = match change {
                            Change::Upsert(k) | Change::Delete(k) => k,
                        };
                        if !seen.insert(key.clone()) {
                            continue;
                        }
                        match t.rows.get(key) {
                            Some(row) => upserts.push(row.clone()),
                            None => deletes.push(key.0.clone()),
                        }
                    }
                    if !upserts.is_empty() {
                        events.push(SourceEvent::Batch(Batch::upsert(schema.clone(), upserts)?));
                    }
                    if !deletes.is_empty() {
                        events.push(SourceEvent::Batch(Batch::delete(schema.clone(), deletes)?));
                    }
                    let last = chunk.last().map_or(sequence, |(s, _)| *s);
                    events.push(SourceEvent::Checkpoint(encode(last)));
                }
                (ReadKind::Incremental, end)
            }
        };
        events.push(SourceEvent::Checkpoint(encode(end)));
        let mut items: Vec<Result<SourceEvent, SourceError>> = events.into_iter().map(Ok).collect();
        if let Some(after) = fail_after {
            let cut = position_after_batches(&items, after);
            items.truncate(cut);
            items.push(Err(SourceError::Unavailable {
                stream: stream.to_owned(),
                source: "injected failure".into(),
            }));
        }
        let events = Box::pin(stream::iter(items));
        Ok(match resume {
            Some(_) => StreamRead::resumed(events),
            None => StreamRead::new(kind, events),
        })
    }
}

fn encode(sequence: u64) -> Position {
    Position::encode(&MemoryPosition { sequence }).expect("a struct of one integer serialises")
}

fn resume_point(after: &Key, sequence: u64) -> Position {
    Position::encode(&MemoryResume {
        after: after.clone(),
        sequence,
    })
    .expect("a key of values serialises")
}

/// The index just past the `batches`-th batch (0 for none): the failure comes after
/// that batch and before its checkpoint, so the batch is written but never committed.
fn position_after_batches(items: &[Result<SourceEvent, SourceError>], batches: usize) -> usize {
    if batches == 0 {
        return 0;
    }
    let mut seen = 0;
    for (i, item) in items.iter().enumerate() {
        if matches!(item, Ok(SourceEvent::Batch(_))) {
            seen += 1;
            if seen == batches {
                return i + 1;
            }
        }
    }
    items.len()
}

#[derive(Debug)]
struct SinkTable {
    schema: Arc<Schema>,
    rows: BTreeMap<Key, Row>,
    position: Option<Position>,
    pending: Vec<Batch>,
    pending_kind: Option<ReadKind>,
    /// A full read staged: its resume point and the batches written before it.
    staged: Option<(Position, Vec<Batch>)>,
}

/// A sink that keeps tables in memory, committing writes and positions together.
#[derive(Debug, Default)]
pub struct MemorySink {
    tables: HashMap<String, SinkTable>,
}

impl MemorySink {
    /// The committed rows of `table`, ordered by primary key (empty if unknown).
    pub fn rows(&self, table: &str) -> Vec<Row> {
        self.tables
            .get(table)
            .map(|t| t.rows.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The committed position of `table`.
    pub fn position(&self, table: &str) -> Option<Position> {
        self.tables.get(table).and_then(|t| t.position.clone())
    }

    fn table(&mut self, table: &str) -> Result<&mut SinkTable, SinkError> {
        self.tables
            .get_mut(table)
            .ok_or_else(|| SinkError::NotPrepared {
                table: table.to_owned(),
            })
    }
}

#[async_trait::async_trait]
impl crate::ReadBack for MemorySink {
    async fn schema(&self, table: &str) -> Result<Option<Arc<Schema>>, SinkError> {
        Ok(self.tables.get(table).map(|t| t.schema.clone()))
    }

    async fn read(
        &self,
        read: &crate::TableRead,
    ) -> Result<Option<crate::BatchStream<'_>>, SinkError> {
        let Some(t) = self.tables.get(&read.table) else {
            return Ok(None);
        };
        let batches = crate::read_back::read_rows(&t.schema, t.rows.values(), read)?;
        Ok(Some(crate::read_back::stream_of(batches)))
    }
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn saved_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        Ok(self.position(table))
    }

    async fn prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), SinkError> {
        let table = self
            .tables
            .entry(schema.name().to_owned())
            .or_insert_with(|| SinkTable {
                schema: schema.clone(),
                rows: BTreeMap::new(),
                position: None,
                pending: Vec::new(),
                pending_kind: None,
                staged: None,
            });
        table.schema = schema.clone();
        table.pending.clear();
        table.pending_kind = Some(kind);
        if kind == ReadKind::Full {
            table.staged = None;
        }
        Ok(())
    }

    async fn write(&mut self, batch: Batch) -> Result<(), SinkError> {
        let table = self.table(batch.table())?;
        if **batch.schema() != *table.schema {
            return Err(SinkError::Data {
                table: batch.table().to_owned(),
                source: "the batch's schema differs from the prepared one".into(),
            });
        }
        table.pending.push(batch);
        Ok(())
    }

    async fn commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, SinkError> {
        let t = self.table(table)?;
        let mut stats = CommitStats::default();
        let mut rows = match t.pending_kind {
            Some(ReadKind::Full) => {
                stats.deleted = t.rows.len() as u64;
                BTreeMap::new()
            }
            _ => std::mem::take(&mut t.rows),
        };
        let staged = match t.pending_kind {
            Some(ReadKind::Full) => t.staged.take().map(|(_, b)| b).unwrap_or_default(),
            _ => Vec::new(),
        };
        for batch in staged.into_iter().chain(t.pending.drain(..)) {
            let keys: Vec<Key> = batch.keys().collect();
            match batch.operation() {
                Operation::Upsert => {
                    for (key, row) in keys.into_iter().zip(batch.into_rows()) {
                        match rows.insert(key, row) {
                            Some(_) => stats.updated += 1,
                            None => stats.inserted += 1,
                        }
                    }
                }
                Operation::Delete => {
                    for key in keys {
                        if rows.remove(&key).is_some() {
                            stats.deleted += 1;
                        }
                    }
                }
            }
        }
        if t.pending_kind == Some(ReadKind::Full) {
            // Count a replaced table as updates where keys survived, like a merge would.
            let kept = t.rows.keys().filter(|k| rows.contains_key(k)).count() as u64;
            stats.deleted -= kept;
            stats.inserted -= kept;
            stats.updated += kept;
        }
        t.rows = rows;
        t.position = position;
        t.pending_kind = Some(ReadKind::Incremental);
        Ok(stats)
    }

    async fn abort(&mut self, table: &str) -> Result<(), SinkError> {
        if let Some(t) = self.tables.get_mut(table) {
            t.pending.clear();
        }
        Ok(())
    }

    async fn staged_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        Ok(self
            .tables
            .get(table)
            .and_then(|t| t.staged.as_ref().map(|(p, _)| p.clone())))
    }

    async fn stage(&mut self, table: &str, position: Position) -> Result<(), SinkError> {
        let t = self.table(table)?;
        if t.pending_kind != Some(ReadKind::Full) {
            return Err(SinkError::Data {
                table: table.to_owned(),
                source: "a resume point outside a full read".into(),
            });
        }
        let mut batches = t.staged.take().map(|(_, b)| b).unwrap_or_default();
        batches.append(&mut t.pending);
        t.staged = Some((position, batches));
        Ok(())
    }

    async fn resume(&mut self, schema: &Arc<Schema>) -> Result<bool, SinkError> {
        let Some(t) = self.tables.get_mut(schema.name()) else {
            return Ok(false);
        };
        if t.staged.is_none() || t.schema != *schema {
            return Ok(false);
        }
        t.pending.clear();
        t.pending_kind = Some(ReadKind::Full);
        Ok(true)
    }
}

/// Books of company 1 holding one record of every [`InvoiceDocument`] kind, with lines
/// and payments, for tests of what counts in the reports. As of 2026-07-31:
///
/// | invoice | kind | document | date | due | TTC (HT + VAT) | paid |
/// |---|---|---|---|---|---|---|
/// | 10 | customer 1 | invoice | 07-01 | 07-31 | 1,200 (1,000 + 200) | 100 on 07-15 |
/// | 11 | customer 1 | credit note of 10 | 07-10 | 08-09 | −600 (−500 − 100) | |
/// | 12 | customer 1 | draft | 07-05 | 08-04 | 12,000 (10,000 + 2,000) | 500 on 07-20 |
/// | 13 | customer 1 | proforma | 07-06 | | 1,200 (1,000 + 200) | |
/// | 14 | customer 1 | quote | 07-07 | | 1,200 (1,000 + 200) | |
/// | 15 | customer 1 | shipping order | 07-08 | | 1,200 (1,000 + 200) | |
/// | 16 | customer 1 | purchasing order | 07-09 | | 1,200 (1,000 + 200) | |
/// | 20 | supplier 2 | invoice | 07-03 | 08-02 | 360 (300 + 60) | |
/// | 21 | supplier 2 | draft (accounting) | 07-04 | 08-03 | 720 (600 + 120) | |
///
/// Every record has one line at `FR_200` carrying its amounts. What counts: customer 1
/// owes 1,200 − 100 − 600 = 500, supplier 2 is owed 360; July's collected VAT at
/// `FR_200` is 200 − 100 = 100 on a base of 500, the deductible VAT 60 on 300.
pub fn books_with_every_document() -> Books {
    use ThirdPartyKind::{Customer, Supplier};
    use rust_decimal::Decimal;
    let d = |day: u32| chrono::NaiveDate::from_ymd_opt(2026, 7, day).expect("a July day");
    let money = |units: i64| Decimal::new(units * 100, 2);
    // (kind, id, document, day, due day, HT, VAT)
    let records = [
        (
            Customer,
            10,
            InvoiceDocument::Invoice,
            1,
            Some(31),
            1_000,
            200,
        ),
        (
            Customer,
            11,
            InvoiceDocument::CreditNote,
            10,
            Some(40),
            -500,
            -100,
        ),
        (
            Customer,
            12,
            InvoiceDocument::Draft,
            5,
            Some(35),
            10_000,
            2_000,
        ),
        (Customer, 13, InvoiceDocument::Proforma, 6, None, 1_000, 200),
        (Customer, 14, InvoiceDocument::Quote, 7, None, 1_000, 200),
        (
            Customer,
            15,
            InvoiceDocument::ShippingOrder,
            8,
            None,
            1_000,
            200,
        ),
        (
            Customer,
            16,
            InvoiceDocument::PurchasingOrder,
            9,
            None,
            1_000,
            200,
        ),
        (Supplier, 20, InvoiceDocument::Invoice, 3, Some(33), 300, 60),
        (Supplier, 21, InvoiceDocument::Draft, 4, Some(34), 600, 120),
    ];
    let mut books = Books::default();
    for (kind, id, document, day, due, ht, vat) in records {
        let date = d(day);
        let due_date = due.map(|days| date + chrono::Duration::days(i64::from(days - day)));
        let (amount_ht, vat, amount_ttc) = (money(ht), money(vat), money(ht + vat));
        books.invoices.push(Invoice {
            company_id: 1,
            kind,
            id,
            number: (document.counts()).then(|| format!("F{id}")),
            label: Some(document.as_str().to_owned()),
            third_party_id: Some(match kind {
                Customer => 1,
                Supplier => 2,
            }),
            date,
            due_date,
            currency: Some("EUR".to_owned()),
            amount_ht,
            vat,
            amount_ttc,
            paid: Some(false),
            remaining: amount_ttc,
            status: None,
            entry_id: document.counts().then_some(100 + id),
            document,
            credited_invoice_id: (document == InvoiceDocument::CreditNote).then_some(10),
        });
        books.invoice_lines.push(InvoiceLine {
            company_id: 1,
            kind,
            invoice_id: id,
            id: 1_000 + id,
            label: None,
            quantity: Some(Decimal::new(1_000_000, 6)),
            amount_ht,
            vat,
            amount_ttc,
            vat_rate: Some("FR_200".to_owned()),
            account_number: None,
        });
    }
    for (invoice_id, id, day, units) in [(10, 1, 15, 100), (12, 2, 20, 500)] {
        books.payments.push(InvoicePayment {
            company_id: 1,
            kind: Customer,
            invoice_id,
            id,
            date: d(day),
            amount: money(units),
        });
    }
    books
}

/// A ledger line of company 1 for tests and examples: entry `entry_id`, line `line_id`,
/// on `date` in journal `journal`, `debit_cents` / `credit_cents` on `account`, with no
/// label, third party, document, due date, lettering or categories.
///
/// ```
/// use chrono::NaiveDate;
/// use penny_transform::testing::ledger_line;
///
/// let day = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
/// let l = ledger_line(1, 2, day, "VT", "706000", 0, 10000);
/// assert_eq!(l.credit, rust_decimal::Decimal::new(10000, 2));
/// ```
pub fn ledger_line(
    entry_id: i64,
    line_id: i64,
    date: chrono::NaiveDate,
    journal: &str,
    account: &str,
    debit_cents: i64,
    credit_cents: i64,
) -> crate::canonical::LedgerLine {
    crate::canonical::LedgerLine {
        company_id: 1,
        entry_id,
        line_id,
        date,
        journal_code: journal.into(),
        account_number: account.into(),
        label: String::new(),
        debit: rust_decimal::Decimal::new(debit_cents, 2),
        credit: rust_decimal::Decimal::new(credit_cents, 2),
        third_party: None,
        document_ref: None,
        due_date: None,
        lettering: None,
        categories: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{SyncOptions, sync_stream};
    use futures_executor::block_on;

    fn journal(id: i64, code: &str) -> Row {
        vec![Value::Int64(id), code.into(), Value::Null]
    }

    #[test]
    fn full_then_incremental_round_trip_carries_positions_and_deletions() {
        let source = MemorySource::example();
        let mut sink = MemorySink::default();
        let first = block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions::default(),
        ))
        .expect("full");
        assert_eq!(first.kind, ReadKind::Full);
        assert_eq!(first.stats.inserted, 3);
        assert_eq!(
            sink.position("journals")
                .map(|p| p.decode::<MemoryPosition>().expect("ours")),
            Some(MemoryPosition { sequence: 3 })
        );

        source.upsert("journals", journal(4, "OD")).expect("insert");
        source.upsert("journals", journal(1, "VT")).expect("update");
        source
            .delete("journals", vec![Value::Int64(2)])
            .expect("delete");

        let second = block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions::default(),
        ))
        .expect("incremental");
        assert_eq!(second.kind, ReadKind::Incremental);
        assert_eq!(second.rows_deleted, 1);
        assert_eq!(
            second.stats,
            CommitStats {
                inserted: 1,
                updated: 1,
                deleted: 1
            }
        );
        let codes: Vec<_> = sink
            .rows("journals")
            .into_iter()
            .map(|r| r[1].to_string())
            .collect();
        assert_eq!(codes, ["VT", "BQ", "OD"]);
        assert_eq!(
            sink.position("journals")
                .map(|p| p.decode::<MemoryPosition>().expect("ours")),
            Some(MemoryPosition { sequence: 6 })
        );

        // A fresh full sync of the changed world gives the same table.
        let mut fresh = MemorySink::default();
        block_on(sync_stream(
            &source,
            &mut fresh,
            "journals",
            SyncOptions { full: true },
        ))
        .expect("fresh");
        assert_eq!(fresh.rows("journals"), sink.rows("journals"));
    }

    #[test]
    fn a_failed_read_keeps_the_last_commit() {
        let source = MemorySource::example();
        let mut sink = MemorySink::default();
        block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions::default(),
        ))
        .expect("full");
        let before = sink.rows("journals");
        let position = sink.position("journals");

        for id in 10..16 {
            source.upsert("journals", journal(id, "X")).expect("insert");
        }
        // Batches of two with a checkpoint after each: fail right after the second
        // batch, so the first is committed and the second is written but aborted.
        source.fail_next_read_after(2);
        let err = block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions::default(),
        ))
        .expect_err("the injected failure surfaces");
        assert_eq!(err.class(), crate::ErrorClass::Unavailable);
        assert_eq!(sink.rows("journals").len(), before.len() + 2);
        assert_ne!(sink.position("journals"), position);

        // The next run converges.
        block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions::default(),
        ))
        .expect("resume");
        let mut fresh = MemorySink::default();
        block_on(sync_stream(
            &source,
            &mut fresh,
            "journals",
            SyncOptions { full: true },
        ))
        .expect("fresh");
        assert_eq!(fresh.rows("journals"), sink.rows("journals"));
    }

    #[test]
    fn a_failed_full_read_leaves_the_old_table() {
        let source = MemorySource::example();
        let mut sink = MemorySink::default();
        block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions::default(),
        ))
        .expect("full");
        let before = sink.rows("journals");
        let position = sink.position("journals");
        source
            .delete("journals", vec![Value::Int64(3)])
            .expect("delete");
        source.fail_next_read_after(1);
        block_on(sync_stream(
            &source,
            &mut sink,
            "journals",
            SyncOptions { full: true },
        ))
        .expect_err("fails");
        assert_eq!(sink.rows("journals"), before);
        assert_eq!(sink.position("journals"), position);
    }

    #[test]
    fn unknown_streams_and_foreign_positions_are_named() {
        let source = MemorySource::example();
        let mut sink = MemorySink::default();
        let err = block_on(sync_stream(
            &source,
            &mut sink,
            "nope",
            SyncOptions::default(),
        ))
        .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown stream `nope`; this source offers: journals"
        );
        let foreign = Position::encode(&"yesterday").expect("string");
        let err = block_on(source.read("journals", Some(foreign))).expect_err("foreign position");
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
    }

    #[test]
    fn writes_to_unprepared_tables_are_refused() {
        let source = MemorySource::example();
        let info = block_on(source.streams()).expect("streams").remove(0);
        let batch = Batch::upsert(info.schema.clone(), vec![journal(9, "Z")]).expect("batch");
        let mut sink = MemorySink::default();
        let err = block_on(sink.write(batch)).expect_err("not prepared");
        assert!(matches!(err, SinkError::NotPrepared { .. }));
    }
}
