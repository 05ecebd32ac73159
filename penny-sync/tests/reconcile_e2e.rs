//! End to end into PostgreSQL: the whole rebuild compares Penny's lines with a raw
//! `trial_balance` (Pennylane's own figures) and names the line that explains a
//! difference, read back from `canonical_ledger_lines`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{pg_targets, sandbox_and_client};

use std::sync::Arc;

use penny_sync::run::RunOptions;
use penny_sync::transform::{TransformSettings, rebuild_canonical};
use penny_transform::reports::reconcile::TRIAL_BALANCE_TABLE;
use penny_transform::{
    Batch, BatchStream, Column, LogicalType, ReadBack, Schema, SinkError, TableRead, Value,
};
use rust_decimal::Decimal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rebuild_reconciles_with_pennylanes_trial_balance() {
    let db = penny_testdb::TestDb::new().await;
    let (_sandbox, client) = sandbox_and_client(300).await;
    let source = penny_api::source::PennylaneSource::new(client);
    let targets = pg_targets(&db, "rec_raw", "rec_star", &source).await;
    let full = || full_sync(&source, &targets);
    let first = full().await.unwrap();
    let transform = first.transform.as_ref().unwrap();
    // The sandbox's own `/trial_balance`, synced for every fiscal year, agrees with
    // Penny's books account by account.
    assert_eq!(transform.reconciliation, Some(0), "{}", first.line());
    assert!(transform.review.is_some(), "{}", first.line());
    let pg = db.connect().await;
    let years: i64 = pg
        .query_one("SELECT count(*) FROM rec_star.canonical_fiscal_years", &[])
        .await
        .unwrap()
        .get(0);
    let compared: i64 = pg
        .query_one(
            "SELECT count(DISTINCT (company_id, period_start, period_end)) FROM rec_raw.trial_balance",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(years >= 3, "{years} fiscal years");
    assert_eq!(
        compared, years,
        "Pennylane's trial balance read for every fiscal year"
    );

    // A trial balance of Pennylane's that misses one line (handed to the
    // transformation in place of the raw table): Penny's lines summed per fiscal year,
    // but for the last line.
    let sums = pg
        .query(
            "SELECT l.company_id, f.start, f.\"end\", l.account_number, sum(l.debit), sum(l.credit) \
             FROM rec_star.canonical_ledger_lines l JOIN rec_star.canonical_fiscal_years f \
               ON f.company_id = l.company_id AND l.date BETWEEN f.start AND f.\"end\" \
             WHERE l.line_id <> (SELECT max(line_id) FROM rec_star.canonical_ledger_lines) \
             GROUP BY 1, 2, 3, 4",
            &[],
        )
        .await
        .unwrap();
    let money = LogicalType::Decimal { scale: 2 };
    let schema = Arc::new(
        Schema::new(
            TRIAL_BALANCE_TABLE,
            vec![
                Column::required("company_id", LogicalType::Int64),
                Column::required("period_start", LogicalType::Date),
                Column::required("period_end", LogicalType::Date),
                Column::required("number", LogicalType::Text),
                Column::nullable("formatted_number", LogicalType::Text),
                Column::nullable("label", LogicalType::Text),
                Column::required("debits", money),
                Column::required("credits", money),
            ],
            ["company_id", "period_start", "number"],
        )
        .unwrap(),
    );
    let rows = sums
        .iter()
        .map(|r| {
            vec![
                Value::Int64(r.get(0)),
                Value::Date(r.get(1)),
                Value::Date(r.get(2)),
                Value::Text(r.get(3)),
                Value::Null,
                Value::Null,
                Value::Decimal(r.get(4)),
                Value::Decimal(r.get(5)),
            ]
        })
        .collect();
    let trial_balance = Batch::upsert(schema, rows).unwrap();
    let last = pg
        .query_one(
            "SELECT line_id, account_number, debit - credit FROM rec_star.canonical_ledger_lines \
             ORDER BY line_id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (line_id, account, amount): (i64, String, Decimal) =
        (last.get(0), last.get(1), last.get(2));

    let raw = WithTrialBalance {
        inner: targets.raw.read_back().unwrap(),
        trial_balance,
    };
    let star = targets.star();
    let (mut out, mut facts) = (star.open().await.unwrap(), star.open().await.unwrap());
    let transform = rebuild_canonical(
        &raw,
        None,
        star.read_back(),
        out.as_mut(),
        facts.as_mut(),
        TransformSettings::new(250),
    )
    .await
    .unwrap();
    assert_eq!(transform.reconciliation, Some(1));
    let rows = pg
        .query(
            "SELECT account_number, difference, explaining_lines, detail \
             FROM rec_star.report_quality_findings",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (found, difference, explaining, detail): (String, Decimal, String, String) = (
        rows[0].get(0),
        rows[0].get(1),
        rows[0].get(2),
        rows[0].get(3),
    );
    assert_eq!(found, account);
    assert_eq!(difference, amount);
    assert_eq!(explaining, line_id.to_string(), "{detail}");
    assert!(detail.contains(&format!("line {line_id} ")), "{detail}");
}

/// A whole sync of `source` into `targets`, transformed.
fn full_sync<'a>(
    source: &'a penny_api::source::PennylaneSource,
    targets: &'a penny_sync::run::Targets,
) -> impl std::future::Future<Output = Result<penny_sync::pipeline::RunSummary, penny_sync::SyncError>>
+ 'a {
    penny_sync::run::run(
        source,
        targets,
        RunOptions::default().full(true).batch_rows(250),
        &penny_sync::NoProgress,
    )
}

/// The raw tables of a target, and a `trial_balance` beside them.
struct WithTrialBalance<'a> {
    inner: &'a dyn ReadBack,
    trial_balance: Batch,
}

#[async_trait::async_trait]
impl ReadBack for WithTrialBalance<'_> {
    async fn schema(&self, table: &str) -> Result<Option<Arc<Schema>>, SinkError> {
        if table == TRIAL_BALANCE_TABLE {
            return Ok(Some(self.trial_balance.schema().clone()));
        }
        self.inner.schema(table).await
    }

    async fn read(&self, read: &TableRead) -> Result<Option<BatchStream<'_>>, SinkError> {
        if read.table == TRIAL_BALANCE_TABLE {
            let batch = self.trial_balance.clone();
            return Ok(Some(Box::pin(futures_util::stream::iter([Ok(batch)]))));
        }
        self.inner.read(read).await
    }
}

/// The closing review of a whole rebuild finds each anomaly planted in the sandbox's
/// books (entries created through its mutations, dated 120 days before its clock), with
/// its amount, on the planted fiscal year.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_finds_each_anomaly_planted_in_the_sandbox_books() {
    use penny_sandbox::Resource;
    use serde_json::{Value as Json, json};

    let db = penny_testdb::TestDb::new().await;
    let (sandbox, client) = sandbox_and_client(300).await;
    let source = penny_api::source::PennylaneSource::new(client);
    let targets = pg_targets(&db, "rev_raw", "rev_star", &source).await;
    let full = || full_sync(&source, &targets);
    let pg = db.connect().await;
    let findings =
        || async {
            pg.query(
            "SELECT period_start, \"check\", account_number, amount FROM rev_star.report_review \
             WHERE company_id = 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let start: chrono::NaiveDate = r.get(0);
            (start, r.get::<_, String>(1), r.get::<_, String>(2), r.get::<_, Decimal>(3))
        })
        .collect::<Vec<_>>()
        };
    full().await.unwrap();
    let before = findings().await;

    // Templates: generated records, so that the planted ones have the spec's shapes.
    let first = |r: Resource| sandbox.generated_ids(1, r).unwrap().start;
    let template = |r: Resource| {
        let mut t = sandbox.record(1, r, first(r)).unwrap();
        let o = t.as_object_mut().unwrap();
        for k in ["id", "created_at", "updated_at"] {
            o.remove(k);
        }
        t
    };
    let date = (sandbox.now() - chrono::Duration::days(120)).date_naive();
    let base = sandbox.base_url();
    let mut accounts = std::collections::BTreeMap::new();
    for number in ["411999", "401999", "512999", "471999"] {
        let mut a = template(Resource::LedgerAccounts);
        a["number"] = json!(number);
        a["label"] = json!(format!("Compte {number}"));
        let id = sandbox.create(1, Resource::LedgerAccounts, a).unwrap();
        accounts.insert(number, id);
    }
    // The VAT declared to pay: the sandbox chart's "TVA à décaisser".
    let declared = "445510";
    let account_ref = |number: &str| -> Json {
        let id = accounts.get(number).copied().unwrap_or(9_999_999);
        json!({ "id": id, "number": number, "url": format!("{base}/ledger_accounts/{id}") })
    };
    let entry = |label: &str, lines: &[(&str, &str, &str)]| {
        let mut e = template(Resource::LedgerEntries);
        e["label"] = json!(label);
        e["date"] = json!(date.to_string());
        e["due_date"] = Json::Null;
        let entry_id = sandbox
            .create(1, Resource::LedgerEntries, e.clone())
            .unwrap();
        for (account, debit, credit) in lines {
            let mut l = template(Resource::LedgerEntryLines);
            l.as_object_mut()
                .unwrap()
                .remove("lettered_ledger_entry_lines");
            l["debit"] = json!(debit);
            l["credit"] = json!(credit);
            l["label"] = json!(label);
            l["date"] = json!(date.to_string());
            l["journal"] = e["journal"].clone();
            l["ledger_entry"] =
                json!({ "id": entry_id, "url": format!("{base}/ledger_entries/{entry_id}") });
            l["ledger_account"] = account_ref(account);
            sandbox.create(1, Resource::LedgerEntryLines, l).unwrap();
        }
    };
    entry(
        "Avoir client",
        &[("471999", "1234.56", "0.00"), ("411999", "0.00", "1234.56")],
    );
    entry(
        "Acompte fournisseur",
        &[("401999", "654.32", "0.00"), ("512999", "0.00", "654.32")],
    );
    entry(
        "Saisie déséquilibrée",
        &[("471999", "100.00", "0.00"), ("471999", "0.00", "90.00")],
    );
    entry(
        "Compte inconnu",
        &[("999999", "50.00", "0.00"), ("471999", "0.00", "50.00")],
    );
    entry(
        "TVA déclarée",
        &[("471999", "300.00", "0.00"), (declared, "0.00", "300.00")],
    );

    full().await.unwrap();
    let after = findings().await;
    let year: chrono::NaiveDate = pg
        .query_one(
            "SELECT start FROM rev_star.canonical_fiscal_years \
             WHERE company_id = 1 AND $1 BETWEEN start AND \"end\"",
            &[&date],
        )
        .await
        .unwrap()
        .get(0);
    let sum = |rows: &[(chrono::NaiveDate, String, String, Decimal)],
               check: &str,
               account: Option<&str>| {
        rows.iter()
            .filter(|(s, c, a, _)| *s == year && c == check && account.is_none_or(|x| x == a))
            .map(|r| r.3)
            .sum::<Decimal>()
    };
    let eur = |s: &str| s.parse::<Decimal>().unwrap();
    // The declaration planted is the year's first: the check compares it with the whole
    // year's collected minus deductible VAT.
    let vat: Decimal = pg
        .query_one(
            "SELECT coalesce(sum(CASE WHEN account_number LIKE '4457%' THEN credit \
                                      WHEN account_number LIKE '4456%' THEN -debit END), 0) \
             FROM rev_star.report_trial_balance WHERE company_id = 1 AND period_start = $1",
            &[&year],
        )
        .await
        .unwrap()
        .get(0);
    let declared_before = before
        .iter()
        .any(|(s, c, _, _)| *s == year && c == "vat_to_pay_mismatch");
    let vat_change = if declared_before {
        eur("300.00")
    } else {
        eur("300.00") - vat
    };
    for (check, account, amount) in [
        ("customer_credit_balance", Some("411999"), "-1234.56"),
        ("old_unlettered_items", Some("411999"), "-1234.56"),
        ("supplier_debit_balance", Some("401999"), "654.32"),
        ("bank_in_credit", Some("512999"), "-654.32"),
        ("suspense_not_zero", Some("471999"), "1494.56"),
        ("account_not_in_chart", Some("999999"), "50.00"),
        // Findings that existed already on the year change by the planted amount.
        ("unbalanced_entry", None, "10.00"),
        ("trial_balance_unbalanced", None, "10.00"),
    ] {
        assert_eq!(
            sum(&after, check, account) - sum(&before, check, account),
            eur(amount),
            "{check} {account:?} on {year}: {after:#?}"
        );
    }
    assert_eq!(
        sum(&after, "vat_to_pay_mismatch", None) - sum(&before, "vat_to_pay_mismatch", None),
        vat_change,
        "{after:#?}"
    );
}
