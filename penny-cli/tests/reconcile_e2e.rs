//! End to end into PostgreSQL: the whole rebuild compares Penny's lines with a raw
//! `trial_balance` (Pennylane's own figures) and names the line that explains a
//! difference, read back from `canonical_ledger_lines`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{pg_targets, sandbox_and_client};

use std::sync::Arc;

use penny_cli::commands::sync::run_with;
use penny_cli::transform::{BatchStream, RawTables, TransformSettings, rebuild_canonical};
use penny_transform::driver::SyncOptions;
use penny_transform::reports::reconcile::TRIAL_BALANCE_TABLE;
use penny_transform::{Batch, Column, LogicalType, Schema, SinkError, Value};
use rust_decimal::Decimal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rebuild_reconciles_with_pennylanes_trial_balance() {
    let db = penny_testdb::TestDb::new().await;
    let (_sandbox, client) = sandbox_and_client(300).await;
    let source = penny_api::source::PennylaneSource::new(client);
    let targets = pg_targets(&db, "rec_raw", "rec_star", &source).await;
    let full = || {
        run_with(
            &source,
            &targets,
            &[],
            SyncOptions { full: true },
            4,
            Some(TransformSettings::new(250)),
        )
    };
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
        inner: targets.raw.raw_tables().unwrap(),
        trial_balance,
    };
    let star = targets.star();
    let (mut out, mut facts) = (star.open().await.unwrap(), star.open().await.unwrap());
    let transform = rebuild_canonical(
        &raw,
        star.saved_tables(),
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

/// The raw tables of a target, and a `trial_balance` beside them.
struct WithTrialBalance<'a> {
    inner: &'a dyn RawTables,
    trial_balance: Batch,
}

#[async_trait::async_trait]
impl RawTables for WithTrialBalance<'_> {
    async fn has(&self, table: &str) -> Result<bool, SinkError> {
        if table == TRIAL_BALANCE_TABLE {
            return Ok(true);
        }
        self.inner.has(table).await
    }

    async fn read(
        &self,
        table: &str,
        batch_rows: usize,
    ) -> Result<Option<BatchStream<'_>>, SinkError> {
        if table == TRIAL_BALANCE_TABLE {
            let batch = self.trial_balance.clone();
            return Ok(Some(Box::pin(futures_util::stream::iter([Ok(batch)]))));
        }
        self.inner.read(table, batch_rows).await
    }
}
