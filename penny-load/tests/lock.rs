//! The advisory lock: a second sync of one target is refused at once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use penny_load::{LoadError, PgSink, TargetLock};
use penny_testdb::TestDb;
use penny_transform::{ErrorClass, ReadKind, Schema, Sink};

#[tokio::test]
async fn a_second_sync_of_the_same_target_is_refused_at_once() {
    let db = TestDb::new().await;
    let first = PgSink::connect(config(&db, "penny").with_application_name("first-sync"))
        .await
        .expect("first");

    let started = Instant::now();
    let err = PgSink::connect(config(&db, "penny"))
        .await
        .expect_err("busy");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused without waiting"
    );
    assert!(matches!(err, LoadError::Busy { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("another sync") && text.contains("`penny`") && text.contains("first-sync"),
        "{text}"
    );
    assert_eq!(err.into_sink_error(None).class(), ErrorClass::Busy);

    // Another schema of the same database is another target.
    PgSink::connect(config(&db, "elsewhere"))
        .await
        .expect("other schema");

    // Once the first sync ends, the next one runs.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match PgSink::connect(config(&db, "penny")).await {
            Ok(_) => break,
            Err(LoadError::Busy { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("the lock was not released: {e}"),
        }
    }
}

#[tokio::test]
async fn one_lock_serves_several_sinks_of_one_run() {
    let db = TestDb::new().await;
    let lock = TargetLock::acquire(&config(&db, "penny"))
        .await
        .expect("lock");
    let mut a = PgSink::connect_with_lock(config(&db, "penny"), lock.clone())
        .await
        .expect("a");
    let mut b = PgSink::connect_with_lock(config(&db, "penny"), lock.clone())
        .await
        .expect("b");
    assert!(matches!(
        PgSink::connect(config(&db, "penny")).await,
        Err(LoadError::Busy { .. })
    ));
    let err = PgSink::connect_with_lock(config(&db, "other"), lock.clone())
        .await
        .expect_err("wrong lock");
    assert!(matches!(err, LoadError::WrongLock { .. }), "{err}");

    let base = ledger_schema();
    let sa = Arc::new(base.clone());
    let sb = Arc::new(
        Schema::new(
            "ledger_lines_b",
            base.columns().to_vec(),
            ["company_id", "id"],
        )
        .expect("s"),
    );
    async fn load(sink: &mut PgSink, schema: Arc<Schema>) -> penny_transform::CommitStats {
        let rows = (0..500).map(|id| ledger_row(id, 1)).collect();
        let batch = penny_transform::Batch::upsert(schema.clone(), rows).expect("batch");
        sink.prepare(&schema, ReadKind::Full)
            .await
            .expect("prepare");
        sink.write(batch).await.expect("write");
        sink.commit(schema.name(), None).await.expect("commit")
    }
    let (ra, rb) = tokio::join!(load(&mut a, sa), load(&mut b, sb));
    assert_eq!((ra.inserted, rb.inserted), (500, 500));
    drop((a, b));
    let client = db.connect().await;
    assert_eq!(count(&client, "penny", "ledger_lines").await, 500);
    assert_eq!(count(&client, "penny", "ledger_lines_b").await, 500);
}
