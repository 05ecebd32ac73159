//! A folder of CSV files as a [`Sink`]: one `<table>.csv` per table, which Power BI
//! (Get Data > Folder, or Text/CSV) and Excel open directly.
//!
//! - A header row, then one line per row, UTF-8 (optionally with a byte order mark,
//!   which Excel and Power BI on Windows need to recognise UTF-8), RFC 4180 quoting,
//!   decimals with a dot and their exact digits, dates `YYYY-MM-DD`, instants
//!   RFC 3339 in UTC, booleans `true`/`false`, JSON compact, null as an empty field.
//! - Rows are ordered by primary key.
//! - Writes are held until [`commit`](Sink::commit); the commit merges them by
//!   primary key into the table's rows (a full read replaces them), writes the new
//!   file and the state next to their final names, then renames both into place.
//!   A reader never sees a half-written file.
//! - Positions live in `_penny_state.json` in the folder, with each table's schema.
//!   The data file is renamed before the state file: a crash between the two leaves
//!   data newer than its position, so the next run re-reads a little and merges the
//!   same rows again by key (idempotent), never losing any.
//! - One writer at a time: a `_penny.lock` file holds the folder (a lock left by a
//!   process that no longer runs is taken over on Linux).
//!
//! The limit: a commit rewrites the whole file of its table from the merged rows, and
//! holds them in memory. That suits demo and small-company volumes (a few hundred
//! thousand rows); for more, use the PostgreSQL target.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use penny_transform::{
    Batch, CommitStats, Key, LogicalType, Operation, Position, ReadKind, Row, Schema, Sink,
    SinkError, TableRead, Value,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The file holding each table's position and schema.
pub const STATE_FILE: &str = "_penny_state.json";
/// The file that marks the folder as being written.
pub const LOCK_FILE: &str = "_penny.lock";
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Options of a [`CsvSink`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvOptions {
    /// Start each file with a UTF-8 byte order mark.
    pub bom: bool,
}

/// Failures of the CSV folder, wrapped into [`SinkError`] at the trait boundary.
#[derive(Debug, thiserror::Error)]
pub enum CsvSinkError {
    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be read back.
    #[error("cannot read {} back (line {line}): {message}; delete the file and run a full sync (--full)", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// The state file could not be read.
    #[error("cannot read the state file {}: {message}; delete it to start over with a full sync", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A table name that cannot be a file name.
    #[error(
        "table `{0}` cannot be a file name (only letters, digits, `_`, `-` and `.`, not starting with `_` or `.`)"
    )]
    TableName(String),
    /// Another writer holds the folder.
    #[error("the folder {} is being written by process {pid} (lock file {})", dir.display(), lock.display())]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The holder.
        pid: String,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    tables: BTreeMap<String, TableState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TableState {
    schema: Schema,
    position: Option<Position>,
    rows: u64,
    committed_at: DateTime<Utc>,
}

struct Folder {
    dir: PathBuf,
    options: CsvOptions,
    state: Mutex<State>,
    lock: PathBuf,
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.lock);
    }
}

struct Pending {
    schema: Arc<Schema>,
    kind: ReadKind,
    /// Upserted rows (`Some`) and deleted keys (`None`), last one wins.
    changes: BTreeMap<Key, Option<Row>>,
}

/// A folder of CSV files, written atomically with positions.
///
/// Several handles ([`CsvSink::handle`]) share one folder, so streams can be written
/// concurrently; commits are serialised.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use penny_sync::target::csv_sink::{CsvOptions, CsvSink};
/// use penny_transform::{driver, testing::MemorySource};
///
/// let mut sink = CsvSink::open("penny-out", CsvOptions { bom: true })?;
/// let source = MemorySource::example();
/// driver::sync_stream(&source, &mut sink, "journals", Default::default()).await?;
/// // penny-out/journals.csv now holds the table, penny-out/_penny_state.json its position.
/// # Ok(()) }
/// ```
pub struct CsvSink {
    folder: Arc<Folder>,
    pending: HashMap<String, Pending>,
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> CsvSinkError + 'a {
    move |source| CsvSinkError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn sink_err(table: &str, e: CsvSinkError) -> SinkError {
    match e {
        CsvSinkError::Locked { .. } => SinkError::Busy {
            what: e.to_string(),
        },
        CsvSinkError::Io { ref source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            SinkError::Auth { source: e.into() }
        }
        CsvSinkError::Io { .. } => SinkError::Unavailable { source: e.into() },
        CsvSinkError::TableName(_) => SinkError::Config { source: e.into() },
        CsvSinkError::Corrupt { .. } | CsvSinkError::State { .. } => SinkError::Data {
            table: table.to_owned(),
            source: e.into(),
        },
    }
}

impl CsvSink {
    /// Opens (creating it if needed) the folder `dir`, and takes its lock.
    pub fn open(dir: impl AsRef<Path>, options: CsvOptions) -> Result<CsvSink, SinkError> {
        CsvSink::open_folder(dir.as_ref(), options).map_err(|e| sink_err("", e))
    }

    fn open_folder(dir: &Path, options: CsvOptions) -> Result<CsvSink, CsvSinkError> {
        fs::create_dir_all(dir).map_err(io("cannot create the folder", dir))?;
        let lock = take_lock(dir)?;
        let state_path = dir.join(STATE_FILE);
        let state = match fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CsvSinkError::State {
                path: state_path.clone(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(io("cannot read", &state_path)(e)),
        };
        let state = match state {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&lock);
                return Err(e);
            }
        };
        Ok(CsvSink {
            folder: Arc::new(Folder {
                dir: dir.to_owned(),
                options,
                state: Mutex::new(state),
                lock,
            }),
            pending: HashMap::new(),
        })
    }

    /// Another handle on the same folder (for a concurrent stream).
    pub fn handle(&self) -> CsvSink {
        CsvSink {
            folder: self.folder.clone(),
            pending: HashMap::new(),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.folder.dir
    }

    /// The file of `table`.
    pub fn file_of(&self, table: &str) -> PathBuf {
        self.folder.dir.join(format!("{table}.csv"))
    }

    /// The committed tables and their row counts, by name.
    pub fn tables(&self) -> Vec<(String, u64)> {
        let state = self.folder.state.lock().expect("state lock poisoned");
        state
            .tables
            .iter()
            .map(|(name, t)| (name.clone(), t.rows))
            .collect()
    }

    /// The schema of committed table `table` (`None` when the folder has none).
    pub fn schema_of(&self, table: &str) -> Result<Option<Arc<Schema>>, SinkError> {
        let state = self.folder.state.lock().expect("state lock poisoned");
        Ok(state.tables.get(table).map(|t| Arc::new(t.schema.clone())))
    }

    /// Reads what `read` asks of a committed table back as upsert batches (`None` when
    /// the folder has no such table). A nullable column's empty field reads back as
    /// null: a CSV file cannot tell an empty text from a missing one. The whole file is
    /// read, then projected and filtered ([`read_rows`](penny_transform::read_back::read_rows)).
    pub fn read_table(&self, read: &TableRead) -> Result<Option<Vec<Batch>>, SinkError> {
        let table = read.table.as_str();
        let Some(schema) = self.schema_of(table)? else {
            return Ok(None);
        };
        let path = self.file_of(table);
        let texts = read_rows(&path, &schema).map_err(|e| sink_err(table, e))?;
        let mut rows = Vec::with_capacity(texts.len());
        for (n, text) in texts.into_values().enumerate() {
            let mut row = Vec::with_capacity(text.len());
            for (cell, column) in text.iter().zip(schema.columns()) {
                let value = if cell.is_empty() && column.nullable {
                    Value::Null
                } else {
                    parse_cell(cell, column.logical_type).ok_or_else(|| {
                        sink_err(
                            table,
                            CsvSinkError::Corrupt {
                                path: path.clone(),
                                line: n as u64 + 2,
                                message: format!(
                                    "column `{}` holds {cell:?}, not a {}",
                                    column.name, column.logical_type
                                ),
                            },
                        )
                    })?
                };
                row.push(value);
            }
            rows.push(row);
        }
        penny_transform::read_back::read_rows(&schema, &rows, read).map(Some)
    }

    fn commit_table(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, CsvSinkError> {
        check_table_name(table)?;
        let pending = self
            .pending
            .get_mut(table)
            .expect("commit checks that the table is prepared");
        let schema = pending.schema.clone();
        let kind = pending.kind;
        let changes = std::mem::take(&mut pending.changes);
        pending.kind = ReadKind::Incremental;

        let folder = self.folder.clone();
        let mut state = folder.state.lock().expect("state lock poisoned");
        let path = folder.dir.join(format!("{table}.csv"));
        let old = read_rows(&path, &schema)?;
        let mut stats = CommitStats::default();
        let mut rows: BTreeMap<Key, Vec<String>> = match kind {
            ReadKind::Full => BTreeMap::new(),
            ReadKind::Incremental => old.clone(),
        };
        for (key, change) in changes {
            match change {
                Some(row) => {
                    let text: Vec<String> = row.iter().map(render).collect();
                    if rows.insert(key, text).is_some() {
                        stats.updated += 1;
                    } else if kind == ReadKind::Incremental {
                        stats.inserted += 1;
                    }
                }
                None => {
                    if rows.remove(&key).is_some() {
                        stats.deleted += 1;
                    }
                }
            }
        }
        if kind == ReadKind::Full {
            // Count a replaced table as a merge would: kept keys are updates.
            stats.updated = rows.keys().filter(|k| old.contains_key(*k)).count() as u64;
            stats.inserted = rows.len() as u64 - stats.updated;
            stats.deleted = old.keys().filter(|k| !rows.contains_key(*k)).count() as u64;
        }

        let tmp_data = folder.dir.join(format!(".{table}.csv.tmp"));
        write_rows(&tmp_data, &schema, &rows, folder.options.bom)?;

        let mut next = State {
            tables: state.tables.clone(),
        };
        next.tables.insert(
            table.to_owned(),
            TableState {
                schema: (*schema).clone(),
                position,
                rows: rows.len() as u64,
                committed_at: Utc::now(),
            },
        );
        let state_path = folder.dir.join(STATE_FILE);
        let tmp_state = folder.dir.join(format!(".{STATE_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(&next).expect("the state serialises");
        write_synced(&tmp_state, &json)?;
        fs::rename(&tmp_data, &path).map_err(io("cannot rename into", &path))?;
        fs::rename(&tmp_state, &state_path).map_err(io("cannot rename into", &state_path))?;
        *state = next;
        Ok(stats)
    }
}

#[async_trait::async_trait]
impl Sink for CsvSink {
    async fn saved_position(&mut self, table: &str) -> Result<Option<Position>, SinkError> {
        let state = self.folder.state.lock().expect("state lock poisoned");
        let Some(t) = state.tables.get(table) else {
            return Ok(None);
        };
        // A position whose file disappeared would skip rows: read in full instead.
        if !self.folder.dir.join(format!("{table}.csv")).exists() {
            return Ok(None);
        }
        Ok(t.position.clone())
    }

    async fn prepare(&mut self, schema: &Arc<Schema>, kind: ReadKind) -> Result<(), SinkError> {
        check_table_name(schema.name()).map_err(|e| sink_err(schema.name(), e))?;
        self.pending.insert(
            schema.name().to_owned(),
            Pending {
                schema: schema.clone(),
                kind,
                changes: BTreeMap::new(),
            },
        );
        Ok(())
    }

    async fn write(&mut self, batch: Batch) -> Result<(), SinkError> {
        let pending =
            self.pending
                .get_mut(batch.table())
                .ok_or_else(|| SinkError::NotPrepared {
                    table: batch.table().to_owned(),
                })?;
        if **batch.schema() != *pending.schema {
            return Err(SinkError::Data {
                table: batch.table().to_owned(),
                source: "the batch's schema differs from the prepared one".into(),
            });
        }
        let keys: Vec<Key> = batch.keys().collect();
        match batch.operation() {
            Operation::Upsert => {
                for (key, row) in keys.into_iter().zip(batch.into_rows()) {
                    pending.changes.insert(key, Some(row));
                }
            }
            Operation::Delete => {
                for key in keys {
                    pending.changes.insert(key, None);
                }
            }
        }
        Ok(())
    }

    async fn commit(
        &mut self,
        table: &str,
        position: Option<Position>,
    ) -> Result<CommitStats, SinkError> {
        if !self.pending.contains_key(table) {
            return Err(SinkError::NotPrepared {
                table: table.to_owned(),
            });
        }
        self.commit_table(table, position)
            .map_err(|e| sink_err(table, e))
    }

    async fn abort(&mut self, table: &str) -> Result<(), SinkError> {
        if let Some(p) = self.pending.get_mut(table) {
            p.changes.clear();
        }
        Ok(())
    }
}

/// The committed tables of the folder `dir` and their row counts, from its state file.
pub fn committed_tables(dir: &Path) -> Result<Vec<(String, u64)>, SinkError> {
    let path = dir.join(STATE_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(sink_err("", io("cannot read", &path)(e))),
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| {
        sink_err(
            "",
            CsvSinkError::State {
                path: path.clone(),
                message: e.to_string(),
            },
        )
    })?;
    Ok(state
        .tables
        .into_iter()
        .map(|(name, t)| (name, t.rows))
        .collect())
}

fn check_table_name(name: &str) -> Result<(), CsvSinkError> {
    let ok = !name.is_empty()
        && !name.starts_with('_')
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CsvSinkError::TableName(name.to_owned()))
    }
}

fn take_lock(dir: &Path) -> Result<PathBuf, CsvSinkError> {
    let lock = dir.join(LOCK_FILE);
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                let _ = write!(f, "{}", std::process::id());
                return Ok(lock);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pid = fs::read_to_string(&lock).unwrap_or_default();
                let pid = pid.trim().to_owned();
                if holder_is_gone(&pid) {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
                return Err(CsvSinkError::Locked {
                    dir: dir.to_owned(),
                    lock,
                    pid,
                });
            }
            Err(e) => return Err(io("cannot create the lock file", &lock)(e)),
        }
    }
    Err(CsvSinkError::Locked {
        dir: dir.to_owned(),
        lock,
        pid: "unknown".into(),
    })
}

/// Whether the process named in a lock file has ended (known on Linux only).
fn holder_is_gone(pid: &str) -> bool {
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    cfg!(target_os = "linux") && !Path::new("/proc").join(pid.to_string()).exists()
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CsvSinkError> {
    let mut f = File::create(path).map_err(io("cannot create", path))?;
    f.write_all(bytes).map_err(io("cannot write", path))?;
    f.sync_all().map_err(io("cannot sync", path))
}

fn write_rows(
    path: &Path,
    schema: &Schema,
    rows: &BTreeMap<Key, Vec<String>>,
    bom: bool,
) -> Result<(), CsvSinkError> {
    let file = File::create(path).map_err(io("cannot create", path))?;
    let mut out = BufWriter::new(file);
    if bom {
        out.write_all(BOM).map_err(io("cannot write", path))?;
    }
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let header = schema.columns().iter().map(|c| c.name.as_str());
        w.write_record(header).map_err(|e| csv_io(path, e))?;
        for row in rows.values() {
            w.write_record(row).map_err(|e| csv_io(path, e))?;
        }
        w.flush().map_err(io("cannot write", path))?;
    }
    let file = out
        .into_inner()
        .map_err(|e| io("cannot write", path)(e.into_error()))?;
    file.sync_all().map_err(io("cannot sync", path))
}

fn csv_io(path: &Path, e: csv::Error) -> CsvSinkError {
    CsvSinkError::Io {
        action: "cannot write",
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Reads a table's committed rows, keyed, with its columns arranged as `schema`'s
/// (columns the file lacks are empty; columns the schema dropped are left out).
fn read_rows(path: &Path, schema: &Schema) -> Result<BTreeMap<Key, Vec<String>>, CsvSinkError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io("cannot open", path)(e)),
    };
    let mut reader = BufReader::new(file);
    let starts_with_bom = reader
        .fill_buf()
        .map_err(io("cannot read", path))?
        .starts_with(BOM);
    if starts_with_bom {
        reader.consume(BOM.len());
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let corrupt = |line: u64, message: String| CsvSinkError::Corrupt {
        path: path.to_owned(),
        line,
        message,
    };
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| corrupt(1, e.to_string()))?
        .iter()
        .map(str::to_owned)
        .collect();
    let source_of: Vec<Option<usize>> = schema
        .columns()
        .iter()
        .map(|c| header.iter().position(|h| *h == c.name))
        .collect();
    let mut key_sources = Vec::new();
    for &i in schema.primary_key() {
        let column = &schema.columns()[i];
        let at = source_of[i].ok_or_else(|| {
            corrupt(
                1,
                format!(
                    "the key column `{}` is missing from the header",
                    column.name
                ),
            )
        })?;
        key_sources.push((at, column.logical_type, column.name.as_str()));
    }
    let mut rows = BTreeMap::new();
    for (n, record) in csv.records().enumerate() {
        let line = n as u64 + 2;
        let record = record.map_err(|e| corrupt(line, e.to_string()))?;
        let mut key = Vec::with_capacity(key_sources.len());
        for (at, ty, name) in &key_sources {
            let text = record.get(*at).unwrap_or("");
            let value = parse_cell(text, *ty).ok_or_else(|| {
                corrupt(
                    line,
                    format!("key column `{name}` holds {text:?}, not a {ty}"),
                )
            })?;
            key.push(value);
        }
        let row: Vec<String> = source_of
            .iter()
            .map(|at| at.and_then(|i| record.get(i)).unwrap_or("").to_owned())
            .collect();
        rows.insert(Key(key), row);
    }
    Ok(rows)
}

/// A cell as written in the files.
pub fn render(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float64(f) => f.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(s) => s.clone(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Time(t) => t.format("%H:%M:%S%.f").to_string(),
        Value::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        Value::TimestampTz(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        Value::Json(j) => j.to_string(),
    }
}

/// A cell read back as a value of `ty` (`None` when it is not one). An empty field
/// is `Null`.
pub fn parse_cell(text: &str, ty: LogicalType) -> Option<Value> {
    if text.is_empty() {
        return Some(match ty {
            LogicalType::Text => Value::Text(String::new()),
            _ => Value::Null,
        });
    }
    Some(match ty {
        LogicalType::Bool => Value::Bool(text.parse().ok()?),
        LogicalType::Int64 => Value::Int64(text.parse().ok()?),
        LogicalType::Float64 => Value::Float64(text.parse().ok()?),
        LogicalType::Decimal { .. } => Value::Decimal(Decimal::from_str(text).ok()?),
        LogicalType::Text => Value::Text(text.to_owned()),
        LogicalType::Date => Value::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?),
        LogicalType::Time => Value::Time(NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok()?),
        LogicalType::Timestamp => {
            Value::Timestamp(NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?)
        }
        LogicalType::TimestampTz => {
            Value::TimestampTz(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
        }
        LogicalType::Json => Value::Json(serde_json::from_str(text).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::driver::{SyncOptions, sync_stream};
    use penny_transform::testing::{MemorySink, MemorySource};
    use penny_transform::{Column, StreamInfo, SyncMode};

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    /// The CSV text a MemorySink's rows would give, for comparing whole tables.
    fn expected_csv(schema: &Schema, rows: &[Row]) -> String {
        let mut out = schema
            .columns()
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .join(",");
        out.push_str("\r\n");
        for row in rows {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new());
            w.write_record(row.iter().map(render)).unwrap();
            out.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
        }
        out
    }

    fn tricky_source() -> (MemorySource, Arc<Schema>) {
        let schema = Schema::new(
            "entries",
            vec![
                Column::required("id", LogicalType::Int64),
                Column::nullable("label", LogicalType::Text),
                Column::nullable("amount", LogicalType::Decimal { scale: 2 }),
                Column::nullable("date", LogicalType::Date),
                Column::nullable("at", LogicalType::TimestampTz),
                Column::nullable("paid", LogicalType::Bool),
                Column::nullable("extra", LogicalType::Json),
            ],
            ["id"],
        )
        .unwrap();
        let source = MemorySource::new(2);
        source.add_table(StreamInfo::new(schema.clone(), SyncMode::Changelog));
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let rows: Vec<Row> = vec![
            vec![
                Value::Int64(1),
                Value::Text("Facture \"Dupont\", 3 lignes\nsuite".into()),
                Value::Decimal(Decimal::from_str("1234.50").unwrap()),
                Value::Date(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()),
                Value::TimestampTz(at),
                Value::Bool(true),
                Value::Json(serde_json::json!({"a": [1, "x,y"]})),
            ],
            vec![
                Value::Int64(2),
                Value::Text("Café".into()),
                Value::Decimal(Decimal::from_str("-0.01").unwrap()),
                Value::Null,
                Value::Null,
                Value::Bool(false),
                Value::Null,
            ],
            vec![
                Value::Int64(10),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        ];
        for row in rows {
            source.upsert("entries", row).unwrap();
        }
        (source, Arc::new(schema))
    }

    #[tokio::test]
    async fn full_then_incremental_matches_a_memory_sink() {
        let dir = tempfile::tempdir().unwrap();
        let (source, schema) = tricky_source();
        let mut csv = CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        let mut mem = MemorySink::default();
        let opts = SyncOptions::default();
        let r = sync_stream(&source, &mut csv, "entries", opts)
            .await
            .unwrap();
        sync_stream(&source, &mut mem, "entries", opts)
            .await
            .unwrap();
        assert_eq!(r.stats.inserted, 3);
        let file = dir.path().join("entries.csv");
        assert_eq!(read(&file), expected_csv(&schema, &mem.rows("entries")));
        assert!(read(&file).contains("1234.50,2026-03-31,2026-11-25T10:00:00Z,true"));
        assert!(read(&file).contains("\"Facture \"\"Dupont\"\", 3 lignes\nsuite\""));

        // Changes: an update, a delete, an insert.
        source
            .upsert(
                "entries",
                vec![
                    Value::Int64(2),
                    Value::Text("Café modifié".into()),
                    Value::Decimal(Decimal::from_str("5.00").unwrap()),
                    Value::Null,
                    Value::Null,
                    Value::Bool(true),
                    Value::Null,
                ],
            )
            .unwrap();
        source.delete("entries", vec![Value::Int64(10)]).unwrap();
        source
            .upsert(
                "entries",
                vec![
                    Value::Int64(3),
                    Value::Text("new".into()),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ],
            )
            .unwrap();
        // A new sink on the same folder: the state comes from the file.
        drop(csv);
        let mut csv = CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        let r = sync_stream(&source, &mut csv, "entries", opts)
            .await
            .unwrap();
        sync_stream(&source, &mut mem, "entries", opts)
            .await
            .unwrap();
        assert_eq!(r.kind, ReadKind::Incremental);
        assert_eq!(
            (r.stats.inserted, r.stats.updated, r.stats.deleted),
            (1, 1, 1)
        );
        assert_eq!(read(&file), expected_csv(&schema, &mem.rows("entries")));
        assert_eq!(
            csv.tables(),
            vec![("entries".to_owned(), mem.rows("entries").len() as u64)]
        );

        // A full refresh gives the same file, counted as updates.
        let r = sync_stream(&source, &mut csv, "entries", SyncOptions { full: true })
            .await
            .unwrap();
        assert_eq!(
            (r.stats.inserted, r.stats.updated, r.stats.deleted),
            (0, 3, 0)
        );
        assert_eq!(read(&file), expected_csv(&schema, &mem.rows("entries")));
    }

    #[tokio::test]
    async fn a_failed_read_leaves_the_last_commit_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let source = MemorySource::example();
        let mut csv = CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        sync_stream(&source, &mut csv, "journals", SyncOptions::default())
            .await
            .unwrap();
        let file = dir.path().join("journals.csv");
        let before = read(&file);
        let state_before = read(&dir.path().join(STATE_FILE));

        source.fail_next_read_after(0);
        let err = sync_stream(&source, &mut csv, "journals", SyncOptions { full: true })
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            penny_transform::driver::StreamError::Source(_)
        ));
        assert_eq!(read(&file), before);
        assert_eq!(read(&dir.path().join(STATE_FILE)), state_before);
        // No temporary file is left behind as a table.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".csv"))
            .collect();
        assert_eq!(names, vec!["journals.csv"]);
    }

    #[tokio::test]
    async fn bom_option_and_positions_in_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = MemorySource::example();
        let mut csv = CsvSink::open(dir.path(), CsvOptions { bom: true }).unwrap();
        let r = sync_stream(&source, &mut csv, "journals", SyncOptions::default())
            .await
            .unwrap();
        let bytes = fs::read(dir.path().join("journals.csv")).unwrap();
        assert!(bytes.starts_with(BOM));
        let state: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(STATE_FILE)).unwrap()).unwrap();
        assert_eq!(
            state["tables"]["journals"]["position"],
            *r.position.unwrap().as_json()
        );
        // Reading a BOM file back works (the incremental merge reads it).
        source.delete("journals", vec![Value::Int64(1)]).unwrap();
        let r = sync_stream(&source, &mut csv, "journals", SyncOptions::default())
            .await
            .unwrap();
        assert_eq!(r.stats.deleted, 1);
    }

    #[tokio::test]
    async fn tables_read_back_equal_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let (source, _) = tricky_source();
        let mut csv = CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        let mut mem = MemorySink::default();
        sync_stream(&source, &mut csv, "entries", SyncOptions::default())
            .await
            .unwrap();
        sync_stream(&source, &mut mem, "entries", SyncOptions::default())
            .await
            .unwrap();
        let batches = csv
            .read_table(&TableRead::new("entries", 2))
            .unwrap()
            .unwrap();
        assert_eq!(batches.len(), 2);
        let rows: Vec<Row> = batches.into_iter().flat_map(|b| b.into_rows()).collect();
        assert_eq!(rows, mem.rows("entries"));
        assert!(
            csv.read_table(&TableRead::new("nothing", 2))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn one_writer_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        // Another process's lock: our own pid is never "gone".
        let err = match CsvSink::open(dir.path(), CsvOptions::default()) {
            Err(e) => e,
            Ok(_) => panic!("a second writer got the folder"),
        };
        assert!(matches!(err, SinkError::Busy { .. }), "{err}");
        drop(first);
        assert!(!dir.path().join(LOCK_FILE).exists());
        CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        // A stale lock of a process that no longer exists is taken over (Linux).
        if cfg!(target_os = "linux") {
            fs::write(dir.path().join(LOCK_FILE), "999999999").unwrap();
            CsvSink::open(dir.path(), CsvOptions::default()).unwrap();
        }
    }

    #[test]
    fn cells_round_trip() {
        let cases = [
            (
                Value::Decimal(Decimal::from_str("-12.30").unwrap()),
                LogicalType::Decimal { scale: 2 },
            ),
            (
                Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
                LogicalType::Date,
            ),
            (Value::Int64(-7), LogicalType::Int64),
            (Value::Bool(true), LogicalType::Bool),
            (Value::Text("a,b".into()), LogicalType::Text),
        ];
        for (v, ty) in cases {
            assert_eq!(parse_cell(&render(&v), ty), Some(v));
        }
        assert_eq!(parse_cell("abc", LogicalType::Int64), None);
        assert!(check_table_name("../etc").is_err());
        assert!(check_table_name("_penny_state").is_err());
        assert!(check_table_name("customer_invoices").is_ok());
    }
}
