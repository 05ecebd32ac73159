//! Benchmark: 1,000,000 generated ledger lines through the star schema, the trial
//! balance, the aged balance and the SIG, and the same trial balance with polars.
//!
//! ```text
//! cargo run -p penny-transform --release --example bench_reports [-- LINES]
//! ```
//!
//! The lines come from a seeded generator (two companies, 2,300 auxiliary accounts,
//! sales, purchases, payments with lettering, salaries over 2025-2026), kept in chunks
//! of 10,000 as a source would decode them. Each measure is the best of ten runs (polars' too).
//! The lines are then written to a CSV file in the temporary directory and
//! `benches/trial_balance_polars.py` computes the same trial balance with polars
//! (`pip install polars` if missing); both times and both totals are printed.

use std::io::{BufWriter, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use penny_transform::canonical::from_data_sharing::DataSharingMapper;
use penny_transform::canonical::{
    Account, Books, FiscalYear, Interner, Journal, LedgerLine, ThirdPartyKind, ThirdPartyRef,
};
use penny_transform::reports::aged_balance::{Buckets, LetteringAgeing};
use penny_transform::reports::sig::SigBuilder;
use penny_transform::reports::trial_balance::{
    Granularity, TrialBalanceBuilder, TrialBalanceOptions, trial_balance_parallel,
};
use penny_transform::{Batch, Column, LogicalType, Schema, Value, star};
use rust_decimal::Decimal;

const CHUNK: usize = 10_000;
/// Runs per measure (the best is kept), for Rust and for polars alike.
const RUNS: usize = 10;

/// SplitMix64: small, seeded, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn date(offset: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Days::new(offset)
}

/// (journal, account, debit, credit, third party, lettering, due date)
type GeneratedLine = (
    &'static str,
    String,
    Decimal,
    Decimal,
    Option<ThirdPartyRef>,
    Option<String>,
    Option<NaiveDate>,
);

fn generate(total: usize) -> Vec<Vec<LedgerLine>> {
    let mut rng = Rng(0x5EED_2026);
    // Account numbers and journal codes are shared, as the mappings do.
    let mut strings = Interner::default();
    let mut chunks: Vec<Vec<LedgerLine>> = Vec::new();
    let mut current = Vec::with_capacity(CHUNK);
    let (mut entry_id, mut line_id, mut lettering) = (0i64, 0i64, 0i64);
    let revenue = ["701000", "706000", "707000"];
    let expenses = [
        "601000", "606100", "607000", "613200", "622600", "625100", "626000",
    ];
    let mut produced = 0;
    while produced < total {
        entry_id += 1;
        let company_id = 1 + (rng.below(2) as i64);
        let day = rng.below(730);
        let d = date(day);
        let ht = Decimal::new(1_000 + rng.below(500_000) as i64, 2);
        let vat = (ht * Decimal::new(20, 2)).round_dp(2);
        let ttc = ht + vat;
        let zero = Decimal::new(0, 2);
        let kind = rng.below(10);
        let mut lines: Vec<GeneratedLine> = Vec::new();
        match kind {
            0..=3 => {
                let c = rng.below(2000) as i64;
                let tp = Some(ThirdPartyRef {
                    kind: ThirdPartyKind::Customer,
                    id: c,
                });
                let lettered = (rng.below(3) > 0).then(|| {
                    lettering += 1;
                    lettering.to_string()
                });
                let due = Some(date(day + 30));
                lines.push((
                    "VT",
                    format!("411C{c:05}"),
                    ttc,
                    zero,
                    tp,
                    lettered.clone(),
                    due,
                ));
                lines.push((
                    "VT",
                    revenue[rng.below(3) as usize].to_owned(),
                    zero,
                    ht,
                    None,
                    None,
                    None,
                ));
                lines.push(("VT", "445710".to_owned(), zero, vat, None, None, None));
                if let Some(code) = lettered {
                    lines.push(("BQ", "512000".to_owned(), ttc, zero, None, None, None));
                    lines.push(("BQ", format!("411C{c:05}"), zero, ttc, tp, Some(code), None));
                }
            }
            4..=7 => {
                let s = rng.below(300) as i64;
                let tp = Some(ThirdPartyRef {
                    kind: ThirdPartyKind::Supplier,
                    id: s,
                });
                let due = Some(date(day + 45));
                lines.push((
                    "HA",
                    expenses[rng.below(7) as usize].to_owned(),
                    ht,
                    zero,
                    None,
                    None,
                    None,
                ));
                lines.push(("HA", "445660".to_owned(), vat, zero, None, None, None));
                lines.push(("HA", format!("401F{s:04}"), zero, ttc, tp, None, due));
            }
            8 => {
                let social = (ht * Decimal::new(42, 2)).round_dp(2);
                lines.push(("OD", "641000".to_owned(), ht, zero, None, None, None));
                lines.push(("OD", "645000".to_owned(), social, zero, None, None, None));
                lines.push((
                    "OD",
                    "512000".to_owned(),
                    zero,
                    ht + social,
                    None,
                    None,
                    None,
                ));
            }
            _ => {
                let interest = Decimal::new(100 + rng.below(20_000) as i64, 2);
                lines.push(("BQ", "661100".to_owned(), interest, zero, None, None, None));
                lines.push(("BQ", "512000".to_owned(), zero, interest, None, None, None));
            }
        }
        for (journal, account, debit, credit, third_party, lettering, due_date) in lines {
            line_id += 1;
            produced += 1;
            current.push(LedgerLine {
                company_id,
                entry_id,
                line_id,
                date: d,
                journal_code: strings.intern(journal),
                account_number: strings.intern(&account),
                label: "Ecriture generee".to_owned(),
                debit,
                credit,
                third_party,
                document_ref: None,
                due_date,
                lettering,
                categories: None,
            });
            if current.len() == CHUNK {
                chunks.push(std::mem::replace(&mut current, Vec::with_capacity(CHUNK)));
            }
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn books(chunks: &[Vec<LedgerLine>]) -> Books {
    let mut books = Books::default();
    for c in 1..=2 {
        books.fiscal_years.push(FiscalYear {
            company_id: c,
            start: date(0),
            end: date(364),
            status: None,
        });
        books.fiscal_years.push(FiscalYear {
            company_id: c,
            start: date(365),
            end: date(729),
            status: None,
        });
        for (code, label) in [
            ("VT", "Ventes"),
            ("HA", "Achats"),
            ("BQ", "Banque"),
            ("OD", "Operations diverses"),
        ] {
            books.journals.push(Journal {
                company_id: c,
                code: code.into(),
                label: label.into(),
                opening: false,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for l in chunks.iter().flatten() {
        if seen.insert((l.company_id, l.account_number.clone())) {
            books.accounts.push(Account {
                company_id: l.company_id,
                number: l.account_number.to_string(),
                label: l.account_number.to_string(),
            });
        }
    }
    books.normalize();
    books
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.expect("at least one run"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn general_ledger_batch(schema: &Arc<Schema>, lines: &[LedgerLine]) -> Batch {
    let rows = lines
        .iter()
        .map(|l| {
            vec![
                Value::Int64(l.company_id),
                Value::Int64(l.line_id),
                Value::Int64(l.entry_id),
                Value::Date(l.date),
                Value::Text(l.journal_code.to_string()),
                Value::Text(l.account_number.to_string()),
                Value::Text(l.label.clone()),
                Value::Decimal(l.debit),
                Value::Decimal(l.credit),
                l.lettering
                    .as_ref()
                    .map(|s| s.parse::<i64>().unwrap_or_default())
                    .into(),
                l.due_date.into(),
                l.third_party.map(|t| t.id).into(),
            ]
        })
        .collect();
    Batch::upsert(schema.clone(), rows).expect("generated rows fit the schema")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let chunks = generate(total);
    let n: usize = chunks.iter().map(Vec::len).sum();
    println!(
        "generated {n} ledger lines in {} chunks of {CHUNK} ({})",
        chunks.len(),
        ms(t.elapsed())
    );
    let books = books(&chunks);
    let (from, to) = (date(365), date(729));

    // Mapping from Data Sharing raw batches (the raw batch is built outside the timing).
    let m4 = LogicalType::Decimal { scale: 4 };
    let gl_schema = Arc::new(Schema::new(
        "general_ledger",
        vec![
            Column::required("company_id", LogicalType::Int64),
            Column::required("id", LogicalType::Int64),
            Column::nullable("entry_id", LogicalType::Int64),
            Column::nullable("date", LogicalType::Date),
            Column::nullable("journal_code", LogicalType::Text),
            Column::nullable("plan_item_number", LogicalType::Text),
            Column::nullable("label", LogicalType::Text),
            Column::nullable("debit", m4),
            Column::nullable("credit", m4),
            Column::nullable("lettering", LogicalType::Int64),
            Column::nullable("due_date", LogicalType::Date),
            Column::nullable("thirdparty_id", LogicalType::Int64),
        ],
        ["company_id", "id"],
    )?);
    let mut mapping = Duration::ZERO;
    let mut mapped = 0;
    let mut mapper = DataSharingMapper::default();
    for chunk in &chunks {
        let raw = general_ledger_batch(&gl_schema, chunk);
        let t = Instant::now();
        mapped += mapper.ledger_lines(&raw)?.len();
        mapping += t.elapsed();
    }
    println!(
        "map general_ledger -> canonical ({mapped} lines): {}",
        ms(mapping)
    );

    let (star_time, star_rows) = best_of(RUNS, || {
        let mut rows = 0;
        for chunk in &chunks {
            for b in star::fact_ledger_lines(chunk, CHUNK).expect("valid facts") {
                rows += b.len();
            }
        }
        rows += star::dim_account(&books, CHUNK)
            .expect("dim")
            .iter()
            .map(Batch::len)
            .sum::<usize>();
        rows += star::dim_journal(&books, CHUNK)
            .expect("dim")
            .iter()
            .map(Batch::len)
            .sum::<usize>();
        rows += star::dim_date(&books, date(0), date(729), CHUNK)
            .expect("dim")
            .iter()
            .map(Batch::len)
            .sum::<usize>();
        rows
    });
    println!(
        "star schema (fact_ledger_lines + dim_account/journal/date, {star_rows} rows): {}",
        ms(star_time)
    );

    let options = TrialBalanceOptions::new(from, to);
    if std::env::args().nth(2).as_deref() == Some("profile-trial-balance") {
        // For `perf record`: the trial balance alone, many times.
        let (t, _) = best_of(50, || {
            let mut b = TrialBalanceBuilder::new(options.clone());
            for chunk in &chunks {
                b.extend(chunk);
            }
            b.finish()
        });
        println!("trial balance, best of 50: {}", ms(t));
        return Ok(());
    }
    let (tb_time, tb) = best_of(RUNS, || {
        let mut b = TrialBalanceBuilder::new(options.clone());
        for chunk in &chunks {
            b.extend(chunk);
        }
        b.finish()
    });
    println!(
        "trial balance (2026, opening from 2025, {} accounts): {}",
        tb.rows.len(),
        ms(tb_time)
    );
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let (tbp_time, tbp) = best_of(RUNS, || trial_balance_parallel(&chunks, &options, threads));
    assert_eq!(
        tbp, tb,
        "the parallel trial balance equals the sequential one"
    );
    println!("trial balance, {threads} threads: {}", ms(tbp_time));
    let mut monthly = options.clone();
    monthly.granularity = Granularity::Monthly;
    monthly.aggregate_auxiliaries = true;
    let (tbm_time, tbm) = best_of(RUNS, || {
        let mut b = TrialBalanceBuilder::new(monthly.clone());
        for chunk in &chunks {
            b.extend(chunk);
        }
        b.finish()
    });
    println!(
        "trial balance monthly, auxiliaries aggregated ({} rows): {}",
        tbm.rows.len(),
        ms(tbm_time)
    );

    let (aged_time, aged) = best_of(RUNS, || {
        let mut a = LetteringAgeing::new(to, Buckets::default());
        for chunk in &chunks {
            for l in chunk {
                a.add(l);
            }
        }
        a.finish()
    });
    println!(
        "aged balance from lettering ({} accounts): {}",
        aged.rows.len(),
        ms(aged_time)
    );

    let (sig_time, sig) = best_of(RUNS, || {
        let mut s = SigBuilder::new(from, to);
        for chunk in &chunks {
            for l in chunk {
                s.add(l);
            }
        }
        s.finish()
    });
    println!(
        "SIG by month ({} company-months): {}",
        sig.len(),
        ms(sig_time)
    );

    // CSV for polars.
    let path = std::env::temp_dir().join("penny_bench_ledger_lines.csv");
    let t = Instant::now();
    {
        let mut w = BufWriter::new(std::fs::File::create(&path)?);
        writeln!(
            w,
            "company_id,entry_id,line_id,date,journal_code,account_number,debit,credit"
        )?;
        for l in chunks.iter().flatten() {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{}",
                l.company_id,
                l.entry_id,
                l.line_id,
                l.date,
                l.journal_code,
                l.account_number,
                l.debit,
                l.credit
            )?;
        }
        w.flush()?;
    }
    println!("wrote {} ({})", path.display(), ms(t.elapsed()));

    let debit: Decimal = tb.rows.iter().map(|r| r.debit).sum();
    let credit: Decimal = tb.rows.iter().map(|r| r.credit).sum();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/trial_balance_polars.py"
    );
    let output = Command::new("python3")
        .arg(script)
        .arg(&path)
        .arg(from.to_string())
        .arg(to.to_string())
        .arg(RUNS.to_string())
        .output()?;
    if !output.status.success() {
        eprintln!(
            "polars run failed (is polars installed? pip install polars):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::process::exit(1);
    }
    let out = String::from_utf8(output.stdout)?;
    let get = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or("?")
            .to_owned()
    };
    let polars_ms: f64 = get("tb_ms").parse().unwrap_or(f64::NAN);
    let version = get("version");
    println!();
    println!("trial balance, same data, same definition, best of {RUNS}:");
    println!(
        "  penny-transform, 1 thread:  {} ({} rows, debit {debit}, credit {credit})",
        ms(tb_time),
        tb.rows.len()
    );
    println!("  penny-transform, {threads} threads: {}", ms(tbp_time));
    println!(
        "  polars {version}, {} threads: {polars_ms:.1} ms ({} rows, debit {}, credit {}; its CSV read: {} ms)",
        get("threads"),
        get("rows"),
        get("debit"),
        get("credit"),
        get("read_ms"),
    );
    let best = tb_time.min(tbp_time).as_secs_f64() * 1000.0;
    println!(
        "  polars time / best penny-transform time: {:.2}",
        polars_ms / best
    );
    let same = get("rows") == tb.rows.len().to_string()
        && get("debit") == debit.round_dp(2).to_string()
        && get("credit") == credit.round_dp(2).to_string();
    println!("  results agree: {same}");
    let _ = std::fs::remove_file(&path);
    Ok(())
}
