//! A folder of CSV files as a target: [`CsvTarget`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use penny_transform::{ReadBack, Schema, Sink, SinkError, TableRead};

use crate::pipeline::SinkFactory;
use crate::target::csv_sink::{CsvOptions, CsvSink};

/// A folder of CSV files: one lock for the run, one handle per stream.
pub struct CsvTarget {
    root: Mutex<CsvSink>,
    dir: PathBuf,
}

impl CsvTarget {
    /// Opens (and locks) `dir` for a run.
    pub fn open(dir: &Path, options: CsvOptions) -> Result<CsvTarget, SinkError> {
        Ok(CsvTarget {
            root: Mutex::new(CsvSink::open(dir, options)?),
            dir: dir.to_owned(),
        })
    }

    /// The committed tables of the folder `dir` and their rows (no lock needed).
    pub fn tables_in(dir: &Path) -> Result<Vec<(String, u64)>, SinkError> {
        crate::target::csv_sink::committed_tables(dir)
    }

    /// The committed tables and their rows.
    pub fn tables(&self) -> Vec<(String, u64)> {
        self.root.lock().expect("csv root lock poisoned").tables()
    }
}

#[async_trait::async_trait]
impl SinkFactory for CsvTarget {
    async fn open(&self) -> Result<Box<dyn Sink>, SinkError> {
        Ok(Box::new(
            self.root.lock().expect("csv root lock poisoned").handle(),
        ))
    }

    fn describe(&self) -> String {
        format!("the folder {}", self.dir.display())
    }

    fn read_back(&self) -> Option<&dyn ReadBack> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl ReadBack for CsvTarget {
    async fn schema(&self, table: &str) -> Result<Option<std::sync::Arc<Schema>>, SinkError> {
        self.root
            .lock()
            .expect("csv root lock poisoned")
            .schema_of(table)
    }

    async fn read(
        &self,
        read: &TableRead,
    ) -> Result<Option<penny_transform::BatchStream<'_>>, SinkError> {
        let batches = self
            .root
            .lock()
            .expect("csv root lock poisoned")
            .read_table(read)?;
        Ok(batches.map(penny_transform::read_back::stream_of))
    }
}
