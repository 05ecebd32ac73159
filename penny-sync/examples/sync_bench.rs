//! Benchmark of a sync (penny-sync) into PostgreSQL against the sandbox (rate limit off):
//! a full sync, then an incremental cycle after changes, with peak memory.
//!
//! ```sh
//! export PENNY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo run --release -p penny-sync --example sync_bench -- 1000000 1000
//! ```
//! Arguments: ledger lines of the generated company (default 100000), ledger entries
//! relabelled between the two runs (default 1000; each relabels the entry and its lines).
//! The sandbox runs in a child process (this binary re-executed with
//! `--serve-sandbox <lines>`), so the peak memory printed (`VmHWM`, Linux) is the
//! syncing process's alone; the sandbox's is printed apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt};
use penny_api::{Client, ListRequest};
use penny_sandbox::{Sandbox, SandboxConfig};
use penny_sync::run::{LEDGER_FIRST, RunOptions, Targets};

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The child side: serves the sandbox, prints `<base url> <token>`, then answers one
/// command per stdin line (`advance <seconds>`, `relabel <entry id>`, `requests`,
/// `memory`) with one stdout line, until stdin closes.
async fn serve_sandbox(lines: usize) {
    use secrecy::ExposeSecret;
    let sandbox = Sandbox::start(SandboxConfig {
        ledger_lines: lines,
        rate_limit: None,
        start: chrono::Utc::now(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    println!(
        "{} {}",
        sandbox.base_url(),
        sandbox.token(1).expose_secret()
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("advance"), Some(secs)) => {
                sandbox.advance_clock(chrono::Duration::seconds(secs.parse().unwrap()));
                "ok".to_owned()
            }
            (Some("relabel"), Some(id)) => {
                sandbox
                    .relabel_ledger_entry(1, id.parse().unwrap(), "Ecriture corrigee")
                    .unwrap();
                "ok".to_owned()
            }
            (Some("requests"), _) => sandbox.total_requests().to_string(),
            // Requests per resource family (ids folded): `family=count ...`.
            (Some("families"), _) => {
                let mut families: std::collections::BTreeMap<String, u64> = Default::default();
                for (path, n) in sandbox.request_counts() {
                    let family: Vec<&str> = path
                        .trim_start_matches('/')
                        .split('/')
                        .map(|part| {
                            if part.parse::<i64>().is_ok() {
                                "*"
                            } else {
                                part
                            }
                        })
                        .collect();
                    *families.entry(family.join("/")).or_default() += n;
                }
                families
                    .iter()
                    .map(|(f, n)| format!("{f}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            (Some("memory"), _) => format!("{:.0}", peak_memory_mib().unwrap_or(f64::NAN)),
            _ => format!("unknown command {line:?}"),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{answer}").unwrap();
        out.flush().unwrap();
    }
}

/// The parent's handle on the sandbox child.
struct RemoteSandbox {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    base_url: String,
    token: String,
}

impl RemoteSandbox {
    fn start(lines: usize) -> RemoteSandbox {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve-sandbox", &lines.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let (base_url, token) = first.trim().split_once(' ').expect("<base url> <token>");
        RemoteSandbox {
            base_url: base_url.to_owned(),
            token: token.to_owned(),
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        answer.trim().to_owned()
    }

    fn total_requests(&mut self) -> u64 {
        self.ask("requests").parse().unwrap()
    }

    /// Requests per resource family since the start.
    fn families(&mut self) -> std::collections::BTreeMap<String, u64> {
        self.ask("families")
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(f, n)| (f.to_owned(), n.parse().unwrap()))
            .collect()
    }
}

/// What `requests` cost at Pennylane's real limit, 25 requests per 5 s per token.
fn at_real_limit(requests: u64) -> String {
    let secs = requests as f64 / 5.0;
    if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else if secs >= 60.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{secs:.0} s")
    }
}

/// Whether requests of `family` belong to the ledger and its reports: the streams a
/// first sync reads before the others ([`LEDGER_FIRST`]; `companies` is `GET /me`).
fn is_ledger_family(family: &str) -> bool {
    family == "me" || (family != "companies" && LEDGER_FIRST.contains(&family))
}

/// Prints the requests of `now - before` per family, the ledger's apart.
fn print_requests(
    what: &str,
    before: &std::collections::BTreeMap<String, u64>,
    now: &std::collections::BTreeMap<String, u64>,
) {
    let spent: std::collections::BTreeMap<&str, u64> = now
        .iter()
        .map(|(f, n)| (f.as_str(), n - before.get(f).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let ledger: u64 = spent
        .iter()
        .filter(|(f, _)| is_ledger_family(f))
        .map(|(_, n)| n)
        .sum();
    let all: u64 = spent.values().sum();
    println!(
        "{what}: {all} API requests ({} at 25 requests / 5 s), of which the ledger and its reports {ledger} ({})",
        at_real_limit(all),
        at_real_limit(ledger),
    );
    let list: Vec<String> = spent.iter().map(|(f, n)| format!("{f} {n}")).collect();
    println!("  by family: {}", list.join(", "));
}

impl Drop for RemoteSandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--serve-sandbox") {
        args.next();
        let lines = args
            .next()
            .map(|a| a.parse().expect("ledger lines"))
            .unwrap();
        serve_sandbox(lines).await;
        return;
    }
    let lines: usize = args
        .next()
        .map(|a| a.parse().expect("ledger lines"))
        .unwrap_or(100_000);
    let changes: usize = args
        .next()
        .map(|a| a.parse().expect("changes"))
        .unwrap_or(1000);

    // `RUST_LOG=info` shows the pipeline's log lines (why a transformation is rebuilt).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let db = penny_testdb::TestDb::new().await;
    let mut sandbox = RemoteSandbox::start(lines);
    let client = Client::builder()
        .base_url(sandbox.base_url.clone())
        .token(secrecy::SecretString::from(sandbox.token.clone()))
        .no_rate_limit()
        .build()
        .unwrap();
    // One request first, so the sandbox has built its world before the clock starts.
    let _ =
        ListRequest::<serde_json::Value>::new(client.clone(), "/ledger_entries", "ledger_entries")
            .limit(1)
            .items()
            .take(1)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    let baseline = peak_memory_mib().unwrap_or(f64::NAN);
    let at_start = sandbox.families();
    println!(
        "sandbox with {lines} ledger lines started in a child process ({} MiB peak); sync process peak memory {baseline:.0} MiB before syncing",
        sandbox.ask("memory")
    );
    let source = penny_api::source::PennylaneSource::new(client.clone()).with_batch_rows(5000);
    let targets = Targets::postgres(db.url(), "pennylane_raw", "pennylane", &source)
        .await
        .unwrap();

    let started = Instant::now();
    let full = penny_sync::run::run(
        &source,
        &targets,
        RunOptions::default().full(true).batch_rows(5000),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    let full_time = started.elapsed();
    assert!(full.failures.is_empty(), "{:?}", full.error());
    let rows = full.totals().inserted;
    println!(
        "full sync, {lines} ledger lines: {rows} raw rows in {:.1} s ({:.0} rows/s), {} API requests; sync process peak memory {:.0} MiB",
        full_time.as_secs_f64(),
        rows as f64 / full_time.as_secs_f64(),
        sandbox.total_requests(),
        peak_memory_mib().unwrap_or(f64::NAN),
    );

    println!("  {}", full.line());
    let after_full = sandbox.families();
    print_requests("full sync", &at_start, &after_full);
    println!(
        "  reference: ceil(lines / 100) = {} requests for the ledger lines",
        lines.div_ceil(100)
    );

    sandbox.ask("advance 600");
    let entries: Vec<serde_json::Value> =
        ListRequest::<serde_json::Value>::new(client.clone(), "/ledger_entries", "ledger_entries")
            .items()
            .try_take_while(|_| std::future::ready(Ok(true)))
            .take(changes)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    for e in &entries {
        let id = e["id"].as_i64().unwrap();
        let answer = sandbox.ask(&format!("relabel {id}"));
        assert_eq!(answer, "ok", "relabel {id}");
    }
    sandbox.ask("advance 60");
    let before = sandbox.total_requests();
    let before_cycle = sandbox.families();
    let started = Instant::now();
    let inc = penny_sync::run::run(
        &source,
        &targets,
        RunOptions::default().batch_rows(5000),
        &penny_sync::NoProgress,
    )
    .await
    .unwrap();
    let inc_time = started.elapsed();
    assert!(inc.failures.is_empty(), "{:?}", inc.error());
    let t = inc.totals();
    print_requests("incremental cycle", &before_cycle, &sandbox.families());
    println!(
        "incremental cycle, {} entries relabelled: {} inserted, {} updated, {} deleted in {:.2} s (raw load and transformation), {} API requests; sync process peak memory {:.0} MiB",
        entries.len(),
        t.inserted,
        t.updated,
        t.deleted,
        inc_time.as_secs_f64(),
        sandbox.total_requests() - before,
        peak_memory_mib().unwrap_or(f64::NAN),
    );
    println!(
        "sandbox process peak memory {} MiB (not counted above)",
        sandbox.ask("memory")
    );
    if let Some(tr) = &inc.transform {
        println!(
            "transformation ({} door, {:?}): {:.2} s, {} rows written in {} tables",
            tr.door,
            tr.mode,
            tr.duration.as_secs_f64(),
            tr.rows(),
            tr.tables.len()
        );
        for (table, rows, stats) in &tr.tables {
            println!(
                "  {table}: {rows} rows (+{} ~{} -{})",
                stats.inserted, stats.updated, stats.deleted
            );
        }
    }
}
