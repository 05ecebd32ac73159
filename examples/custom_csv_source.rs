//! A complete custom [`Source`]: a folder of CSV exports from another accounting tool,
//! wired into the PostgreSQL loader.
//!
//! The tool exports its general ledger as `ecritures.csv`: `;`-separated, a header
//! line, one line per ledger line, dates `dd/mm/yyyy`, amounts with a decimal comma
//! and optional spaces between thousands (`1 234,56`):
//!
//! ```text
//! piece;ligne;date;journal;compte;libelle;debit;credit
//! VT0001;1;03/01/2026;VT;411DUPONT;Facture Dupont;1 200,00;0,00
//! ```
//!
//! The source offers one stream, `other_tool_ledger_lines`, keyed by `(piece, ligne)`.
//! It cannot tell what changed inside a file, so its position is the file's size and
//! modification time: an unchanged file is an empty incremental read, a changed one a
//! full read (the sink then swaps the whole table).
//!
//! Run it (a sample folder is written to the temp directory when none is given):
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo run -p penny-examples --example custom_csv_source -- [FOLDER]
//! ```
//! Without `DATABASE_URL` the rows go to an in-memory sink and are printed.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use chrono::NaiveDate;
use futures_util::stream;
use penny_transform::{
    BatchBuilder, Column, LogicalType, Position, ReadKind, Schema, Sink, Source, SourceError,
    SourceEvent, StreamInfo, StreamRead, SyncMode, Value, driver, testing::MemorySink,
};
use rust_decimal::Decimal;

const STREAM: &str = "other_tool_ledger_lines";
const FILE: &str = "ecritures.csv";

/// Why a line of the export could not be read.
#[derive(Debug)]
struct ParseError {
    file: PathBuf,
    line: u64,
    column: &'static str,
    value: String,
    expected: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, line {}, column `{}`: expected {}, found `{}`",
            self.file.display(),
            self.line,
            self.column,
            self.expected,
            self.value
        )
    }
}

impl std::error::Error for ParseError {}

/// Where a previous read stopped: the file as it was then.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct FileStamp {
    len: u64,
    modified_ms: u64,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        let modified_ms = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ok(FileStamp {
            len: meta.len(),
            modified_ms,
        })
    }
}

/// The folder source.
struct CsvFolderSource {
    dir: PathBuf,
    info: StreamInfo,
    batch_rows: usize,
}

impl CsvFolderSource {
    fn new(dir: impl Into<PathBuf>) -> Result<Self, penny_transform::SchemaError> {
        let schema = Schema::new(
            STREAM,
            vec![
                Column::required("piece", LogicalType::Text),
                Column::required("ligne", LogicalType::Int64),
                Column::required("date", LogicalType::Date),
                Column::required("journal", LogicalType::Text),
                Column::required("compte", LogicalType::Text),
                Column::nullable("libelle", LogicalType::Text),
                Column::required("debit", LogicalType::Decimal { scale: 2 }),
                Column::required("credit", LogicalType::Decimal { scale: 2 }),
            ],
            ["piece", "ligne"],
        )?;
        Ok(CsvFolderSource {
            dir: dir.into(),
            info: StreamInfo::new(schema, SyncMode::FullOnly),
            batch_rows: 5_000,
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    fn data_error(&self, error: impl std::error::Error + Send + Sync + 'static) -> SourceError {
        SourceError::Data {
            stream: STREAM.to_owned(),
            source: Box::new(error),
        }
    }
}

#[async_trait]
impl Source for CsvFolderSource {
    fn name(&self) -> &str {
        "other-tool-csv"
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>, SourceError> {
        Ok(vec![self.info.clone()])
    }

    async fn read(
        &self,
        stream: &str,
        from: Option<Position>,
    ) -> Result<StreamRead<'_>, SourceError> {
        if stream != STREAM {
            return Err(SourceError::UnknownStream {
                stream: stream.to_owned(),
                available: STREAM.to_owned(),
            });
        }
        let path = self.path();
        let stamp = FileStamp::of(&path).map_err(|e| SourceError::Unavailable {
            stream: STREAM.to_owned(),
            source: format!("{}: {e}", path.display()).into(),
        })?;
        let position = Position::encode(&stamp).map_err(|e| self.data_error(e))?;
        let saved = from.and_then(|p| p.decode::<FileStamp>().ok());
        if saved.as_ref() == Some(&stamp) {
            // Nothing changed since the last commit: an empty incremental read.
            let events = vec![Ok(SourceEvent::Checkpoint(position))];
            return Ok(StreamRead::new(
                ReadKind::Incremental,
                Box::pin(stream::iter(events)),
            ));
        }
        // The file changed: read it whole, one batch at a time, on a blocking thread.
        let reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_path(&path)
            .map_err(|e| self.data_error(e))?;
        let state = Some(ReadState {
            reader,
            builder: BatchBuilder::upsert(self.info.schema.clone(), self.batch_rows),
            schema: self.info.schema.clone(),
            path,
            checkpoint: Some(position),
        });
        let events = stream::unfold(state, |state| async move {
            let mut state = state?;
            let (event, state) = tokio::task::spawn_blocking(move || {
                let event = state.next_event();
                (event, state)
            })
            .await
            .ok()?;
            let done = matches!(event, None | Some(Err(_)));
            let next = if done { None } else { Some(state) };
            event.map(|e| (e, next))
        });
        Ok(StreamRead::new(ReadKind::Full, Box::pin(events)))
    }
}

/// What a full read carries from one batch to the next.
struct ReadState {
    reader: csv::Reader<std::fs::File>,
    builder: BatchBuilder,
    schema: Arc<Schema>,
    path: PathBuf,
    checkpoint: Option<Position>,
}

impl ReadState {
    /// The next batch, then the final checkpoint, then `None`.
    fn next_event(&mut self) -> Option<Result<SourceEvent, SourceError>> {
        let mut record = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Some(Err(data(e))),
            }
            let line = record.position().map_or(0, |p| p.line());
            let row = match parse_row(&record, &self.path, line) {
                Ok(row) => row,
                Err(e) => return Some(Err(data(e))),
            };
            match self.builder.push(row) {
                Ok(Some(batch)) => return Some(Ok(SourceEvent::Batch(batch))),
                Ok(None) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
        let last = std::mem::replace(
            &mut self.builder,
            BatchBuilder::upsert(self.schema.clone(), 1),
        );
        match last.finish() {
            Ok(Some(batch)) => Some(Ok(SourceEvent::Batch(batch))),
            Ok(None) => self
                .checkpoint
                .take()
                .map(|p| Ok(SourceEvent::Checkpoint(p))),
            Err(e) => Some(Err(e.into())),
        }
    }
}

fn data(error: impl std::error::Error + Send + Sync + 'static) -> SourceError {
    SourceError::Data {
        stream: STREAM.to_owned(),
        source: Box::new(error),
    }
}

fn parse_row(record: &csv::StringRecord, path: &Path, line: u64) -> Result<Vec<Value>, ParseError> {
    let field = |index: usize| record.get(index).unwrap_or("").trim();
    let fail = |column: &'static str, value: &str, expected: &'static str| ParseError {
        file: path.to_owned(),
        line,
        column,
        value: value.to_owned(),
        expected,
    };
    let piece = field(0);
    if piece.is_empty() {
        return Err(fail("piece", piece, "a piece reference"));
    }
    let ligne = field(1);
    let ligne: i64 = ligne
        .parse()
        .map_err(|_| fail("ligne", ligne, "a line number"))?;
    let date = field(2);
    let date = NaiveDate::parse_from_str(date, "%d/%m/%Y")
        .map_err(|_| fail("date", date, "a date dd/mm/yyyy"))?;
    let amount = |index: usize, column: &'static str| -> Result<Decimal, ParseError> {
        let text = field(index);
        let normal: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
            .map(|c| if c == ',' { '.' } else { c })
            .collect();
        let value = Decimal::from_str(&normal)
            .map_err(|_| fail(column, text, "an amount like 1 234,56"))?;
        if value.scale() > 2 {
            return Err(fail(column, text, "an amount with at most 2 decimals"));
        }
        Ok(value)
    };
    let libelle = field(5);
    Ok(vec![
        Value::Text(piece.to_owned()),
        Value::Int64(ligne),
        Value::Date(date),
        Value::Text(field(3).to_owned()),
        Value::Text(field(4).to_owned()),
        if libelle.is_empty() {
            Value::Null
        } else {
            Value::Text(libelle.to_owned())
        },
        Value::Decimal(amount(6, "debit")?),
        Value::Decimal(amount(7, "credit")?),
    ])
}

/// Writes a small sample export into `dir`.
fn write_sample(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = "piece;ligne;date;journal;compte;libelle;debit;credit\n\
VT0001;1;03/01/2026;VT;411DUPONT;Facture Dupont;1 200,00;0,00\n\
VT0001;2;03/01/2026;VT;706000;Facture Dupont;0,00;1 000,00\n\
VT0001;3;03/01/2026;VT;445710;Facture Dupont;0,00;200,00\n\
BQ0001;1;20/01/2026;BQ;512000;Règlement Dupont;1 200,00;0,00\n\
BQ0001;2;20/01/2026;BQ;411DUPONT;Règlement Dupont;0,00;1 200,00\n";
    std::fs::write(dir.join(FILE), text)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = std::env::temp_dir().join("penny-example-csv");
            write_sample(&dir)?;
            dir
        }
    };
    let source = CsvFolderSource::new(&dir)?;
    let mut sink: Box<dyn Sink> = match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let config = penny_load::PgConfig::from_url(&url)?.with_schema("other_tool");
            Box::new(
                penny_load::PgSink::connect(config)
                    .await?
                    .with_source(source.name()),
            )
        }
        Err(_) => Box::new(MemorySink::default()),
    };
    // The first run reads the file; the second finds it unchanged and reads nothing.
    for run in 1..=2 {
        let report =
            driver::sync_stream(&source, sink.as_mut(), STREAM, Default::default()).await?;
        println!(
            "run {run}: {:?} read of {}: {} rows, {} inserted, {} updated, {} deleted",
            report.kind,
            report.stream,
            report.rows_upserted,
            report.stats.inserted,
            report.stats.updated,
            report.stats.deleted
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("penny-csv-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn full_read_then_unchanged_file_reads_nothing() {
        let dir = folder("ok");
        write_sample(&dir).expect("sample");
        let source = CsvFolderSource::new(&dir).expect("schema");
        let mut sink = MemorySink::default();
        let first = driver::sync_stream(&source, &mut sink, STREAM, Default::default())
            .await
            .expect("first run");
        assert_eq!((first.kind, first.stats.inserted), (ReadKind::Full, 5));
        let rows = sink.rows(STREAM);
        assert_eq!(rows[0][0], Value::Text("BQ0001".into()));
        assert_eq!(
            rows[2][6],
            Value::Decimal(Decimal::new(120000, 2)),
            "1 200,00 is 1200.00"
        );
        let second = driver::sync_stream(&source, &mut sink, STREAM, Default::default())
            .await
            .expect("second run");
        assert_eq!(
            (second.kind, second.rows_upserted),
            (ReadKind::Incremental, 0)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_bad_amount_names_file_line_and_column() {
        let dir = folder("bad");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join(FILE),
            "piece;ligne;date;journal;compte;libelle;debit;credit\nX;1;01/02/2026;OD;601;;12,345;0\n",
        )
        .expect("write");
        let source = CsvFolderSource::new(&dir).expect("schema");
        let mut sink = MemorySink::default();
        let err = driver::sync_stream(&source, &mut sink, STREAM, Default::default())
            .await
            .expect_err("3 decimals are refused");
        let text = std::error::Error::source(&err)
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            text.ends_with(
                "line 2, column `debit`: expected an amount with at most 2 decimals, found `12,345`"
            ),
            "{text}"
        );
        assert!(sink.rows(STREAM).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
