//! The real `penny` binary, run as users run it: exit codes, output, files.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{CheckedSandbox, penny};
use penny_cli::output::is_console_safe;
use penny_sandbox::Sandbox;
use secrecy::ExposeSecret;

/// `penny` in `dir`, reading the sandbox's API with `token` through the documented
/// variables (`PENNYLANE_API_BASE_URL`, `PENNYLANE_API_TOKEN`).
fn penny_api(dir: &Path, sandbox: &Sandbox, token: &str) -> Command {
    let mut cmd = penny(dir);
    cmd.env("PENNYLANE_API_BASE_URL", sandbox.base_url())
        .env("PENNYLANE_API_TOKEN", token);
    cmd
}

/// `penny ARGS` in `dir`, reading the sandbox's API with company 1's token, with the
/// variables `env`, run on a blocking thread: its output.
async fn run_api(dir: &Path, sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = penny_api(dir, sandbox, sandbox.token(1).expose_secret());
    cmd.args(args).envs(env.iter().copied());
    spawn(cmd).await.unwrap()
}

/// Runs a prepared `penny` on a blocking thread (the test's runtime keeps serving the
/// sandbox meanwhile); await the handle for its output.
fn spawn(mut cmd: Command) -> tokio::task::JoinHandle<Output> {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
}

/// Standard error of a run, after checking its exit code (the message shows standard
/// error when the code differs).
fn exits_with(out: &Output, code: i32) -> String {
    let (_, stderr) = text(out);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn sandbox() -> CheckedSandbox {
    CheckedSandbox::with_lines(300).await
}

/// Standard output of a run, after checking it succeeded (the message shows both
/// outputs otherwise).
fn succeeds(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    stdout
}

/// Standard error of `penny sync` in `dir` with the variables `env`, after checking it
/// exits with a configuration error (3).
fn sync_config_error(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = penny(dir)
        .arg("sync")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    exits_with(&out, 3)
}

#[test]
fn demo_without_a_database_writes_csv_files_and_says_what_next() {
    let dir = tempfile::tempdir().unwrap();
    let out = penny(dir.path())
        .args(["demo", "--ledger-lines", "400"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("1. Full sync: 20 streams synced"),
        "{stdout}"
    );
    assert!(stdout.contains("3. Incremental sync:"), "{stdout}");
    assert!(stdout.contains("canonical_ledger_lines.csv"), "{stdout}");
    assert!(
        stdout.contains("fact_ledger_lines.csv") && stdout.contains("dim_date.csv"),
        "{stdout}"
    );
    assert!(stdout.contains("Next:"), "{stdout}");
    assert!(
        is_console_safe(&stdout) && is_console_safe(&stderr),
        "no emoji"
    );
    let folder = dir.path().join("penny-out");
    let lines = std::fs::read_to_string(folder.join("canonical_ledger_lines.csv")).unwrap();
    assert!(
        lines.lines().count() > 350,
        "{} lines",
        lines.lines().count()
    );
    let customers = std::fs::read_to_string(folder.join("customers.csv")).unwrap();
    assert!(
        customers.contains("Nouvelle Boulangerie SARL"),
        "the incremental sync brought the new customer"
    );
    assert!(folder.join("_penny_state.json").exists());
    assert!(!folder.join("_penny.lock").exists(), "the lock is released");
}

#[test]
fn demo_with_an_unreachable_database_falls_back_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = penny(dir.path())
        .args(["demo", "--ledger-lines", "200", "--out", "here"])
        .env("DATABASE_URL", "postgres://penny@127.0.0.1:1/nothing")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains("writing CSV files instead"), "{stderr}");
    assert!(dir.path().join("here/journals.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_a_database_writes_the_raw_tables_and_the_canonical_model() {
    let db = penny_testdb::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = penny(dir.path());
    cmd.args(["demo", "--ledger-lines", "300"])
        .env("DATABASE_URL", db.url());
    let out = spawn(cmd).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("into PostgreSQL"), "{stdout}");
    assert!(
        !stdout.contains("penny_sync_state"),
        "state tables are not listed: {stdout}"
    );
    let client = db.connect().await;
    let raw: i64 = client
        .query_one("SELECT count(*) FROM pennylane_raw.ledger_entry_lines", &[])
        .await
        .unwrap()
        .get(0);
    let canonical: i64 = client
        .query_one("SELECT count(*) FROM pennylane.canonical_ledger_lines", &[])
        .await
        .unwrap()
        .get(0);
    assert!(raw > 250, "{raw} raw lines");
    assert_eq!(raw, canonical);
    let fact: i64 = client
        .query_one("SELECT count(*) FROM pennylane.fact_ledger_lines", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(raw, fact);
    let balance: rust_decimal::Decimal = client
        .query_one("SELECT sum(amount) FROM pennylane.fact_ledger_lines", &[])
        .await
        .unwrap()
        .get(0);
    assert!(balance.is_zero(), "the ledger balances: {balance}");
    let new: i64 = client
        .query_one(
            "SELECT count(*) FROM pennylane_raw.customers WHERE name = 'Nouvelle Boulangerie SARL'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(new, 1);

    // The FEC export reads the raw tables back from PostgreSQL.
    let mut cmd = penny(dir.path());
    cmd.args([
        "export",
        "fec",
        "--fiscal-year",
        &chrono::Datelike::year(&chrono::Utc::now()).to_string(),
        "--to",
        "fec",
        "--siren",
        "123456789",
    ])
    .env("DATABASE_URL", db.url());
    let out = spawn(cmd).await.unwrap();
    let stdout = succeeds(&out);
    assert!(
        stdout.contains("records") && stdout.contains("all checks passed"),
        "{stdout}"
    );
}

#[test]
fn a_secret_in_the_config_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("penny.toml"), "[api]\ntoken = \"abc\"\n").unwrap();
    let stderr = sync_config_error(dir.path(), &[]);
    assert!(
        stderr.contains("api.token") && stderr.contains("PENNYLANE_API_TOKEN"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn a_missing_token_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = sync_config_error(dir.path(), &[("PENNY_TARGET_KIND", "csv")]);
    assert!(stderr.contains("PENNYLANE_API_TOKEN"), "{stderr}");
}

#[test]
fn a_wrong_environment_override_names_the_key_and_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = sync_config_error(dir.path(), &[("PENNY_SYNC_BATCH_ROWS", "lots")]);
    assert!(
        stderr.contains("sync.batch_rows") && stderr.contains("PENNY_SYNC_BATCH_ROWS"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_against_the_sandbox_then_busy_while_another_holds_the_folder() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let run = async |args: &[&str]| {
        run_api(dir.path(), &sandbox, args, &[("PENNY_TARGET_KIND", "csv")]).await
    };
    let out = run(&["sync", "--streams", "journals,customers"]).await;
    let stdout = succeeds(&out);
    assert!(stdout.contains("2 streams synced"), "{stdout}");
    assert!(dir.path().join("penny-out/customers.csv").exists());

    // An unknown stream names itself and the available ones.
    let out = run(&["sync", "--streams", "customerz"]).await;
    let stderr = exits_with(&out, 3);
    assert!(
        stderr.contains("customerz") && stderr.contains("ledger_entry_lines"),
        "{stderr}"
    );

    // Another live process holds the folder: busy (7), and the message says who.
    std::fs::write(
        dir.path().join("penny-out/_penny.lock"),
        std::process::id().to_string(),
    )
    .unwrap();
    let out = run(&["sync", "--streams", "journals"]).await;
    let stderr = exits_with(&out, 7);
    assert!(stderr.contains(&std::process::id().to_string()), "{stderr}");
}

#[tokio::test]
async fn sync_plan_prints_the_cost_of_a_full_read_and_reads_nothing() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("PENNY_TARGET_KIND", "csv")];
    let out = run_api(dir.path(), &sandbox, &["sync", "--plan"], &env).await;
    let stdout = succeeds(&out);
    // A line per stream (name, records, requests, time), then the total.
    let total: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("total"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total: {stdout}"));
    let per_stream: u64 = stdout
        .lines()
        .filter(|l| l.starts_with("ledger_") || l.starts_with("customer"))
        .map(|l| l.split_whitespace().nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(total > per_stream && per_stream > 0, "{stdout}");
    assert!(stdout.contains("requests/s"), "{stdout}");
    assert!(
        !dir.path().join("penny-out").exists(),
        "nothing is read into a table"
    );
    // A first sync says the same on standard error before reading.
    let out = run_api(
        dir.path(),
        &sandbox,
        &["sync", "--streams", "journals"],
        &env,
    )
    .await;
    succeeds(&out);
    let (_, stderr) = text(&out);
    assert!(stderr.contains("a full read through the API"), "{stderr}");
    assert!(stderr.contains("journals"), "{stderr}");
    // The Data Sharing door has no request budget to plan.
    let out = run_api(
        dir.path(),
        &sandbox,
        &["sync", "--plan"],
        &[("PENNY_SOURCE_KIND", "redshift")],
    )
    .await;
    let stderr = exits_with(&out, 3);
    assert!(stderr.contains("--plan"), "{stderr}");
}

/// The rows of a CSV file the CSV target wrote (no quoted commas in the tables read
/// here), by column name.
fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fiscal_years_from_the_source_the_configured_year_start_is_used() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    // No `fiscal_years` stream: the source gives the company no fiscal year.
    let streams = "companies,journals,ledger_accounts,ledger_entries,ledger_entry_lines";
    let env = [
        ("PENNY_TARGET_KIND", "csv"),
        ("PENNY_FISCAL_YEAR_START", "07-01"),
    ];
    let out = run_api(dir.path(), &sandbox, &["sync", "--streams", streams], &env).await;
    succeeds(&out);
    let folder = dir.path().join("penny-out");
    assert!(!folder.join("fiscal_years.csv").exists());

    let balance = csv_rows(&folder.join("report_trial_balance.csv"));
    assert!(!balance.is_empty());
    let mut years = std::collections::BTreeSet::new();
    for row in &balance {
        let (start, end) = (&row["period_start"], &row["period_end"]);
        assert!(
            start.ends_with("-07-01") && end.ends_with("-06-30"),
            "{row:?}"
        );
        let (a, b): (i32, i32) = (start[..4].parse().unwrap(), end[..4].parse().unwrap());
        assert_eq!(b, a + 1, "{row:?}");
        years.insert(start.clone());
    }
    // The books (two years of lines) span several assumed years; each balance-sheet
    // account's closing balance is the next year's opening (the result accounts also
    // get the year's result), classes 6 and 7 open at zero.
    assert!(years.len() >= 2, "{years:?}");
    let closing: std::collections::BTreeMap<(String, String), String> = balance
        .iter()
        .map(|r| {
            let next = format!("{}-07-01", r["period_end"][..4].to_owned());
            ((r["account_number"].clone(), next), r["closing"].clone())
        })
        .collect();
    let mut carried = 0;
    for row in &balance {
        let account = &row["account_number"];
        if account.starts_with('6') || account.starts_with('7') {
            let opening: rust_decimal::Decimal = row["opening"].parse().unwrap();
            assert!(opening.is_zero(), "{row:?}");
            continue;
        }
        if account.starts_with("120") || account.starts_with("129") {
            continue;
        }
        if let Some(c) = closing.get(&(account.clone(), row["period_start"].clone())) {
            assert_eq!(c, &row["opening"], "{row:?}");
            carried += 1;
        }
    }
    assert!(carried > 0);
    // One result per assumed year, carried onto 120/129.
    let results = csv_rows(&folder.join("report_fiscal_results.csv"));
    assert_eq!(results.len(), years.len(), "{results:?}");
    assert!(
        results.iter().all(|r| r["status"] == "assumed"),
        "{results:?}"
    );

    // dim_date's fiscal columns follow the same years; canonical fiscal years stay the
    // source's (none).
    let days = csv_rows(&folder.join("dim_date.csv"));
    let day = days
        .iter()
        .find(|r| r["date"].ends_with("-08-15"))
        .expect("a mid-August day");
    assert!(day["fiscal_year_start"].ends_with("-07-01"), "{day:?}");
    assert_eq!(day["fiscal_period"], "2", "{day:?}");
    let canonical = folder.join("canonical_fiscal_years.csv");
    assert!(!canonical.exists() || csv_rows(&canonical).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_an_authentication_error_with_a_hint() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = penny_api(dir.path(), &sandbox, "not-a-token");
    cmd.args(["api", "customers", "--limit", "2"]);
    let out = spawn(cmd).await.unwrap();
    let stderr = exits_with(&out, 4);
    assert!(
        stderr.contains("401") && stderr.contains("hint:"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_prints_records_as_json_csv_or_a_table() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let run = async |args: &[&str]| run_api(dir.path(), &sandbox, args, &[]).await;
    let out = run(&["api", "customers", "--limit", "3", "--format", "json"]).await;
    let stdout = succeeds(&out);
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["id"].is_i64()));

    let out = run(&["api", "journals", "--format", "csv"]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("id,") || stdout.contains(",code,") || stdout.contains("code"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().count(),
        6,
        "a header and 5 journals: {stdout}"
    );

    let out = run(&[
        "api",
        "ledger_accounts",
        "--filter",
        "id:in:1,2",
        "--format",
        "table",
    ])
    .await;
    let stdout = succeeds(&out);
    assert!(stdout.contains("rows)"), "{stdout}");

    let out = run(&["api", "customerz"]).await;
    let stderr = exits_with(&out, 2);
    assert!(stderr.contains("customerz"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_runs_cycles_one_at_a_time_and_stops_cleanly_on_sigterm() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let child = penny_api(dir.path(), &sandbox, sandbox.token(1).expose_secret())
        .args(["schedule", "--every", "1s", "--log-format", "json"])
        .env("PENNY_TARGET_KIND", "csv")
        .env("PENNY_SOURCE_STREAMS", "journals,ledger_accounts,customers")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = exits_with(&out, 0);
    let runs: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("next run:"))
        })
        .collect();
    assert!(
        runs.len() >= 3,
        "at least 3 cycles in 3.5 s at 1 s: {stderr}"
    );
    // Numbered one after another, each finished before the next started.
    let numbers: Vec<i64> = runs.iter().map(|r| r["run"].as_i64().unwrap()).collect();
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
    let summary = runs[0]["message"].as_str().unwrap();
    assert!(
        summary.contains("3 streams synced") && summary.contains("inserted"),
        "{summary}"
    );
    assert!(stderr.contains("stop requested"), "{stderr}");
    assert!(stderr.contains("scheduler stopped"), "{stderr}");
    assert!(!dir.path().join("penny-out/_penny.lock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_with_a_good_token_and_a_database() {
    let sandbox = sandbox().await;
    let db = penny_testdb::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run_api(
        dir.path(),
        &sandbox,
        &["doctor"],
        &[("DATABASE_URL", db.url())],
    )
    .await;
    let stdout = succeeds(&out);
    for line in [
        "[ ok ] configuration",
        "[ ok ] api token: company 1",
        "[ ok ] api scopes",
        "[skip] data sharing",
        "[ ok ] postgres: connected",
        "[ ok ] postgres rights",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // The rights check left nothing behind.
    let client = db.connect().await;
    let schemas: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('pennylane_raw', 'pennylane')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_what_fails_and_how_to_fix_it() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let limited = sandbox
        .token_with_scopes(1, &["customers:readonly", "journals:readonly"])
        .unwrap();
    let run = |token: &str| {
        let mut cmd = penny_api(dir.path(), &sandbox, token);
        cmd.arg("doctor")
            .env("DATABASE_URL", "postgres://penny@127.0.0.1:1/nothing");
        spawn(cmd)
    };
    let out = run(limited.expose_secret()).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(8), "{stdout}\n{stderr}");
    assert!(stdout.contains("[ ok ] api token"), "{stdout}");
    assert!(stdout.contains("[FAIL] api scopes"), "{stdout}");
    let scopes = stdout
        .lines()
        .find(|l| l.contains("[FAIL] api scopes"))
        .unwrap();
    let (granted, missing) = scopes.split_once("missing:").unwrap();
    assert!(granted.contains("customers:readonly"), "{scopes}");
    assert!(
        !missing.contains("customers:readonly") && !missing.contains(" journals:readonly"),
        "{scopes}"
    );
    // The required scopes the token lacks are listed; optional ones are skipped.
    let (required, optional) = missing.split_once(';').unwrap();
    let listed: Vec<&str> = required.split(',').map(str::trim).collect();
    assert_eq!(
        listed,
        ["ledger_accounts:readonly", "ledger_entries:readonly"],
        "{scopes}"
    );
    assert!(optional.contains("trial_balance:readonly"), "{scopes}");
    assert!(
        stdout.contains("[ ok ] stream journals: journals:readonly granted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[FAIL] stream ledger_entry_lines"),
        "{stdout}"
    );
    assert!(stdout.contains("[skip] stream suppliers"), "{stdout}");
    assert!(stdout.contains("[FAIL] postgres"), "{stdout}");
    assert!(
        stdout.contains("fix: check that PostgreSQL runs"),
        "{stdout}"
    );
    // The required streams' lines (ledger accounts, entries and lines), the scopes'
    // summary, PostgreSQL.
    assert!(stderr.contains("5 check(s) failed"), "{stderr}");

    let out = run("wrong").await.unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(8));
    assert!(
        stdout.contains("[FAIL] api token") && stdout.contains("refused"),
        "{stdout}"
    );
}

#[test]
fn export_fec_from_the_csv_folder_of_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let out = penny(dir.path())
        .args(["-q", "demo", "--ledger-lines", "300"])
        .output()
        .unwrap();
    succeeds(&out);
    let export = |year: &str| {
        penny(dir.path())
            .args([
                "export",
                "fec",
                "--fiscal-year",
                year,
                "--to",
                "fec",
                "--siren",
                "123456789",
            ])
            .env("PENNY_TARGET_KIND", "csv")
            .output()
            .unwrap()
    };
    let year = chrono::Datelike::year(&chrono::Utc::now()).to_string();
    let out = export(&year);
    let stdout = succeeds(&out);
    assert!(stdout.contains("all checks passed"), "{stdout}");
    let file = dir.path().join(format!("fec/123456789FEC{year}1231.txt"));
    let fec = std::fs::read_to_string(&file).unwrap();
    let records = penny_transform::reports::fec::parse_fec(&fec).unwrap();
    assert!(records.len() > 50, "{} records", records.len());
    assert!(penny_transform::reports::fec::validate(&records).is_empty());
    // Every control of the norm, the file's name included.
    let y: i32 = year.parse().unwrap();
    let issues = penny_transform::reports::fec::check_fec(
        &format!("123456789FEC{year}1231.txt"),
        &fec,
        chrono::NaiveDate::from_ymd_opt(y, 1, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(y, 12, 31).unwrap(),
    );
    assert_eq!(issues, []);
    assert!(
        records.iter().any(|r| r.date_let.is_some()),
        "lettered lines carry their date"
    );

    // A year that is not loaded names the years that are.
    let out = export("1999");
    let stderr = exits_with(&out, 6);
    assert!(
        stderr.contains("no fiscal year ending in 1999") && stderr.contains(&year),
        "{stderr}"
    );

    // Nothing loaded at all.
    let empty = tempfile::tempdir().unwrap();
    let out = penny(empty.path())
        .args(["export", "fec", "--fiscal-year", &year, "--to", "fec"])
        .env("PENNY_TARGET_KIND", "csv")
        .output()
        .unwrap();
    let stderr = exits_with(&out, 6);
    assert!(stderr.contains("penny sync"), "{stderr}");
}

/// The local PostgreSQL standing in for the Data Sharing warehouse: TLS verified
/// against the server's own certificate (issued to `localhost`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_commands_against_a_local_stand_in() {
    let db = penny_testdb::TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "CREATE SCHEMA etl; CREATE TABLE etl.general_ledger (id bigint PRIMARY KEY, label text, debit numeric(12,2)); \
             INSERT INTO etl.general_ledger VALUES (1, 'Vente, client \"A\"', 120.50), (2, 'Achat', 0.00), (3, NULL, 9.99);",
        )
        .await
        .unwrap();
    let stand_in = StandIn::of(&db, &client).await;
    let dir = tempfile::tempdir().unwrap();
    let run = async |args: &[&str]| {
        let mut cmd = stand_in.penny(dir.path());
        cmd.args(args);
        spawn(cmd).await.unwrap()
    };
    let out = run(&["redshift", "tables"]).await;
    let stdout = succeeds(&out);
    assert!(stdout.contains("general_ledger"), "{stdout}");

    let out = run(&["redshift", "describe", "general_ledger"]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("debit") && stdout.contains("decimal"),
        "{stdout}"
    );

    let out = run(&["redshift", "count", "general_ledger"]).await;
    assert_eq!(text(&out).0.trim(), "3");

    let out = run(&["redshift", "preview", "general_ledger", "--limit", "2"]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("(2 rows)") && stdout.contains("120.50"),
        "{stdout}"
    );

    let out = run(&["redshift", "export", "general_ledger", "--to", "gl.csv"]).await;
    let stdout = succeeds(&out);
    assert!(stdout.contains("3 rows written"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("gl.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("id,label,debit"));
    assert!(csv.contains("\"Vente, client \"\"A\"\"\",120.50"), "{csv}");

    let out = run(&["redshift", "export", "general_ledger", "--to", "gl.jsonl"]).await;
    succeeds(&out);
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("gl.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["id"], 1);

    let out = run(&["redshift", "count", "missing_table"]).await;
    let stderr = exits_with(&out, 6);
    assert!(stderr.contains("missing_table"), "{stderr}");

    // query: one read, streamed as CSV by default when not on a terminal.
    let out = run(&[
        "redshift",
        "query",
        "SELECT id, label, debit AS \"Débit\" FROM etl.general_ledger ORDER BY id; -- all",
    ])
    .await;
    let stdout = succeeds(&out);
    assert_eq!(
        stdout,
        "id,label,Débit\n1,\"Vente, client \"\"A\"\"\",120.50\n2,Achat,0.00\n3,,9.99\n"
    );
    // JSON keeps NULL apart from text; --limit stops the read.
    let out = run(&[
        "redshift",
        "query",
        "SELECT id, label FROM etl.general_ledger ORDER BY id DESC",
        "--format",
        "json",
        "--limit",
        "2",
    ])
    .await;
    let stdout = succeeds(&out);
    assert!(
        stdout.starts_with("{\"id\":\"3\",\"label\":null}"),
        "{stdout}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"id": "3", "label": null}),
            serde_json::json!({"id": "2", "label": "Achat"}),
        ]
    );
    let out = run(&[
        "redshift",
        "query",
        "SELECT count(*) AS n FROM etl.general_ledger",
        "--format",
        "table",
    ])
    .await;
    let (stdout, _) = text(&out);
    assert_eq!(stdout, "n\n-\n3\n(1 rows)\n");
    // The table format holds its rows, so without --limit it shows 1000 and says so.
    let out = run(&[
        "redshift",
        "query",
        "SELECT g FROM generate_series(1, 1500) g",
        "--format",
        "table",
    ])
    .await;
    let (stdout, stderr) = text(&out);
    assert!(stdout.ends_with("1000\n(1000 rows)\n"), "{stdout}");
    assert!(stderr.contains("showing the first 1000 rows"), "{stderr}");
    // Not one read: refused before connecting (a usage error), nothing dropped.
    let out = run(&[
        "redshift",
        "query",
        "SELECT 1; DROP TABLE etl.general_ledger",
    ])
    .await;
    let stderr = exits_with(&out, 2);
    assert!(stderr.contains("more than one statement"), "{stderr}");
    let out = run(&["redshift", "count", "general_ledger"]).await;
    assert_eq!(text(&out).0.trim(), "3");
    // The server's refusal names what is wrong.
    let out = run(&["redshift", "query", "SELECT nope FROM etl.general_ledger"]).await;
    let stderr = exits_with(&out, 6);
    assert!(stderr.contains("nope"), "{stderr}");
}

/// The local PostgreSQL as the Data Sharing warehouse: its address and the CA file
/// that verifies its certificate (issued to `localhost`).
struct StandIn {
    user: String,
    port: String,
    database: String,
    cert: String,
}

impl StandIn {
    async fn of(db: &penny_testdb::TestDb, client: &tokio_postgres::Client) -> StandIn {
        let cert: String = client
            .query_one("SHOW ssl_cert_file", &[])
            .await
            .unwrap()
            .get(0);
        let cert = if cert.starts_with('/') {
            cert
        } else {
            let data: String = client
                .query_one("SHOW data_directory", &[])
                .await
                .unwrap()
                .get(0);
            format!("{data}/{cert}")
        };
        // postgres://user[:password]@host:port/database
        let rest = db.url().split("://").nth(1).unwrap();
        let (user_host, database) = rest.split_once('/').unwrap();
        let (user, host) = user_host.split_once('@').unwrap();
        StandIn {
            user: user.split(':').next().unwrap().to_owned(),
            port: host.split(':').nth(1).unwrap_or("5432").to_owned(),
            database: database.split('?').next().unwrap().to_owned(),
            cert,
        }
    }

    /// `penny` in `dir`, reading the stand-in through the documented
    /// `PENNYLANE_DATA_SHARING_*` variables.
    fn penny(&self, dir: &Path) -> Command {
        let mut cmd = penny(dir);
        cmd.env("PENNY_SOURCE_KIND", "redshift")
            .env("PENNYLANE_DATA_SHARING_HOST", "localhost")
            .env("PENNYLANE_DATA_SHARING_PORT", &self.port)
            .env("PENNYLANE_DATA_SHARING_DATABASE", &self.database)
            .env("PENNYLANE_DATA_SHARING_USER", &self.user)
            .env("PENNYLANE_DATA_SHARING_KEY", "unused-with-trust-auth")
            .env("PENNY_REDSHIFT_CA_FILE", &self.cert);
        cmd
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_from_a_data_sharing_stand_in_builds_the_canonical_ledger() {
    let db = penny_testdb::TestDb::new().await;
    let client = db.connect().await;
    client
        .batch_execute(
            "CREATE SCHEMA etl;
             CREATE TABLE etl.general_ledger (company_id bigint, company_name varchar, id bigint, date date,
               lettering bigint, label varchar, debit numeric(14,2), credit numeric(14,2),
               plan_item_number varchar, plan_item_label varchar, journal_code varchar, journal_label varchar,
               document_id bigint, deleted_at timestamptz, synchronised_at timestamptz, PRIMARY KEY (company_id, id));
             INSERT INTO etl.general_ledger VALUES
               (7, 'Boulangerie', 1, '2026-03-01', NULL, 'Vente', 120.00, 0, '411DUPONT', 'Dupont', 'VT', 'Ventes', 10, NULL, now()),
               (7, 'Boulangerie', 2, '2026-03-01', NULL, 'Vente', 0, 100.00, '706000', 'Ventes', 'VT', 'Ventes', 10, NULL, now()),
               (7, 'Boulangerie', 3, '2026-03-01', NULL, 'Vente', 0, 20.00, '445710', 'TVA', 'VT', 'Ventes', 10, NULL, now());",
        )
        .await
        .unwrap();
    let stand_in = StandIn::of(&db, &client).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = stand_in.penny(dir.path());
    cmd.args(["sync"]).env("PENNY_TARGET_KIND", "csv");
    let out = spawn(cmd).await.unwrap();
    let stdout = succeeds(&out);
    assert!(stdout.contains("data sharing door"), "{stdout}");
    let lines =
        std::fs::read_to_string(dir.path().join("penny-out/canonical_ledger_lines.csv")).unwrap();
    assert_eq!(lines.lines().count(), 4, "{lines}");
    assert!(lines.contains("706000"), "{lines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_into_postgres_and_busy_while_another_sync_holds_the_lock() {
    let sandbox = sandbox().await;
    let db = penny_testdb::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let run = async || {
        let args = ["sync", "--streams", "journals,ledger_accounts,customers"];
        run_api(dir.path(), &sandbox, &args, &[("DATABASE_URL", db.url())]).await
    };
    let out = run().await;
    let stdout = succeeds(&out);
    assert!(stdout.contains("3 streams synced"), "{stdout}");
    let client = db.connect().await;
    let n: i64 = client
        .query_one("SELECT count(*) FROM pennylane_raw.customers", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n > 0);

    // Another sync holds the loader's advisory lock on the raw schema.
    let config = penny_load::PgConfig::from_url(db.url())
        .unwrap()
        .with_schema("pennylane_raw");
    let lock = penny_load::TargetLock::acquire(&config).await.unwrap();
    let out = run().await;
    let stderr = exits_with(&out, 7);
    assert!(
        stderr.contains("busy") && stderr.contains("another penny sync"),
        "{stderr}"
    );
    drop(lock);
}
