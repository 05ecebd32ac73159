//! What `penny` shows: structured logs on standard error (text or JSON), and a
//! progress bar per stream when standard error is a terminal.
//!
//! Without a terminal (a service, a pipe, CI) there are no bars: each stream logs
//! plain lines instead. Nothing Penny prints contains emoji or box-drawing
//! characters, so the Windows console shows it as it is.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use penny_sync::{Progress, StreamObserver};
use penny_transform::CommitStats;
use penny_transform::driver::{StreamError, StreamReport};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for services and log collectors).
    Json,
}

/// How the command talks.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputOptions {
    /// The log format.
    pub format: LogFormat,
    /// Only warnings and errors; no progress bars.
    pub quiet: bool,
    /// Debug logs.
    pub verbose: bool,
    /// Only warnings by default, keeping the progress bars (for `penny demo`, whose
    /// results are its standard output).
    pub terse: bool,
}

static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Whether progress bars are drawn (set once by [`init`]).
fn bars() -> Option<&'static MultiProgress> {
    BARS.get()
}

/// Writes log lines to standard error, above the progress bars when there are some.
#[derive(Clone, Copy)]
struct LogWriter;

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> Self::Writer {
        LogLine(Vec::new())
    }
}

/// One log line, buffered and written at once (so bars can step aside for it).
struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().lock().write_all(&bytes);
        };
        match bars() {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }
}

/// Sets up logging (and progress bars when standard error is a terminal).
///
/// The level is `info` (`warn` with `quiet`, `debug` with `verbose`) unless
/// `PENNY_LOG` or `RUST_LOG` says otherwise (`PENNY_LOG=penny_api=debug`).
pub fn init(options: OutputOptions) {
    let default = if options.quiet || (options.terse && !options.verbose) {
        "warn"
    } else if options.verbose {
        "debug"
    } else {
        "info"
    };
    let filter = std::env::var("PENNY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let terminal = std::io::stderr().is_terminal();
    if terminal && !options.quiet && options.format == LogFormat::Text {
        let _ = BARS.set(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_target(false);
    let _ = match options.format {
        LogFormat::Text => builder.with_ansi(terminal).compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The rows each stream is expected to read ([`expect_rows`]).
static EXPECTED: std::sync::Mutex<BTreeMap<String, u64>> = std::sync::Mutex::new(BTreeMap::new());

/// Says how many rows `stream` is expected to read (an estimate, such as
/// `penny sync`'s plan of a first read): its progress then shows how far it is and
/// when it should end.
pub fn expect_rows(stream: &str, rows: u64) {
    if let Ok(mut expected) = EXPECTED.lock() {
        expected.insert(stream.to_owned(), rows);
    }
}

fn expected_rows(stream: &str) -> Option<u64> {
    EXPECTED.lock().ok()?.get(stream).copied()
}

/// The progress of one stream: a bar on a terminal, log lines otherwise.
#[derive(Clone)]
pub struct StreamProgress {
    stream: String,
    bar: Option<ProgressBar>,
}

impl StreamProgress {
    /// Starts showing the progress of `stream`.
    pub fn start(stream: &str) -> Self {
        let expected = expected_rows(stream);
        let bar = bars().map(|multi| {
            let (bar, template) = match expected {
                Some(rows) => (
                    ProgressBar::new(rows.max(1)),
                    "{spinner} {prefix:<28} {human_pos:>10} of ~{human_len} rows  {percent:>3}%  eta {eta}  {msg}",
                ),
                None => (
                    ProgressBar::new_spinner(),
                    "{spinner} {prefix:<28} {human_pos:>10} rows  {msg}",
                ),
            };
            let bar = multi.add(bar);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("the template is valid")
                    .tick_chars("-\\|/ "),
            );
            bar.set_prefix(stream.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            tracing::info!(stream, expected_rows = expected, "reading");
        }
        StreamProgress {
            stream: stream.to_owned(),
            bar,
        }
    }

    /// Counts rows written.
    pub fn rows(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Shows a commit.
    pub fn committed(&self, stats: CommitStats) {
        match &self.bar {
            Some(bar) => bar.set_message(format!(
                "committed: +{} ~{} -{}",
                stats.inserted, stats.updated, stats.deleted
            )),
            None => tracing::debug!(
                stream = %self.stream,
                inserted = stats.inserted,
                updated = stats.updated,
                deleted = stats.deleted,
                "committed"
            ),
        }
    }

    /// Ends the bar with a final message.
    pub fn finish(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(message.to_owned());
        }
    }
}

/// The bars (or log lines) of a run's streams, as the engine's [`Progress`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Bars;

impl Progress for Bars {
    fn stream(&self, stream: &str) -> Arc<dyn StreamObserver> {
        Arc::new(StreamProgress::start(stream))
    }
}

impl StreamObserver for StreamProgress {
    fn rows(&self, n: u64) {
        StreamProgress::rows(self, n);
    }
    fn committed(&self, stats: CommitStats) {
        StreamProgress::committed(self, stats);
    }
    fn finished(&self, outcome: Result<&StreamReport, &StreamError>) {
        match outcome {
            Ok(r) => self.finish(&format!(
                "done{}: +{} ~{} -{}",
                if r.resumed { " (continued)" } else { "" },
                r.stats.inserted,
                r.stats.updated,
                r.stats.deleted
            )),
            Err(_) => self.finish("failed"),
        }
    }
}

/// Whether a text contains only characters every console prints (no emoji).
pub fn is_console_safe(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii() || ('\u{a0}'..='\u{24f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_safety_refuses_emoji() {
        assert!(is_console_safe("12 rows written to customers.csv (é)"));
        assert!(!is_console_safe("done \u{2705}"));
        assert!(!is_console_safe("\u{280b} spinning"));
    }
}
