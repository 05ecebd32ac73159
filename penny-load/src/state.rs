//! The sync state kept in the target schema: one row per stream in
//! [`STATE_TABLE`], one row per run in [`RUNS_TABLE`].
//!
//! The state row's position is written in the same transaction as the rows it covers,
//! so it never claims data that is not there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use penny_transform::{CommitStats, Position, ReadKind};
use tokio_postgres::Client;
use tokio_postgres::types::Json;

use crate::error::LoadError;
use crate::ident::qualified;

/// The table holding each stream's state.
pub const STATE_TABLE: &str = "penny_sync_state";
/// The table holding the history of runs.
pub const RUNS_TABLE: &str = "penny_sync_runs";
/// The table holding the resume point of each full read staged and not finished.
pub const STAGED_TABLE: &str = "penny_sync_staged";

/// What the target knows of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamState {
    /// The stream (and table) name.
    pub stream: String,
    /// The source that last wrote it (`pennylane-api`, `memory`...).
    pub source: String,
    /// The last committed position.
    pub position: Option<Position>,
    /// When the last commit succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// Rows inserted by the last run.
    pub rows_inserted: u64,
    /// Rows updated by the last run.
    pub rows_updated: u64,
    /// Rows deleted by the last run.
    pub rows_deleted: u64,
    /// Wall time of the last run, from `prepare` to its last commit.
    pub duration: Option<Duration>,
    /// The last error recorded, if the last run failed (cleared by a success).
    pub last_error: Option<String>,
    /// When that error was recorded.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// One run of one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run's number.
    pub id: i64,
    /// The stream.
    pub stream: String,
    /// The source.
    pub source: String,
    /// `full` or `incremental`.
    pub kind: String,
    /// `running`, `succeeded` (as of its last commit) or `failed`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it last committed or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Rows inserted so far.
    pub rows_inserted: u64,
    /// Rows updated so far.
    pub rows_updated: u64,
    /// Rows deleted so far.
    pub rows_deleted: u64,
    /// The last position committed by this run.
    pub position: Option<Position>,
    /// The error, if it failed.
    pub error: Option<String>,
}

/// The run a commit belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunRef<'a> {
    pub schema: &'a str,
    pub stream: &'a str,
    pub source: &'a str,
    pub run_id: i64,
}

/// Creates the state tables if they are missing.
pub(crate) async fn ensure_tables(client: &Client, schema: &str) -> Result<(), LoadError> {
    let state = qualified(schema, STATE_TABLE);
    let runs = qualified(schema, RUNS_TABLE);
    let staged = qualified(schema, STAGED_TABLE);
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {state} (
                stream text PRIMARY KEY,
                source text NOT NULL,
                position jsonb,
                last_success timestamptz,
                rows_inserted bigint NOT NULL DEFAULT 0,
                rows_updated bigint NOT NULL DEFAULT 0,
                rows_deleted bigint NOT NULL DEFAULT 0,
                duration_ms bigint,
                last_error text,
                last_error_at timestamptz
            );
            CREATE TABLE IF NOT EXISTS {runs} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                stream text NOT NULL,
                source text NOT NULL,
                kind text NOT NULL,
                status text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz,
                rows_inserted bigint NOT NULL DEFAULT 0,
                rows_updated bigint NOT NULL DEFAULT 0,
                rows_deleted bigint NOT NULL DEFAULT 0,
                position jsonb,
                error text
            );
            CREATE TABLE IF NOT EXISTS {staged} (
                stream text PRIMARY KEY,
                position jsonb NOT NULL,
                staged_at timestamptz NOT NULL DEFAULT now()
            );"
        ))
        .await
        .map_err(|e| {
            LoadError::pg(
                format!("creating the sync state tables in schema `{schema}`"),
                e,
            )
        })
}

/// The last committed position of `stream`.
pub(crate) async fn saved_position(
    client: &Client,
    schema: &str,
    stream: &str,
) -> Result<Option<Position>, LoadError> {
    position_in(client, schema, STATE_TABLE, stream, "the saved position").await
}

/// The resume point of `stream`'s staged full read, if one is staged.
pub(crate) async fn staged_position(
    client: &Client,
    schema: &str,
    stream: &str,
) -> Result<Option<Position>, LoadError> {
    position_in(client, schema, STAGED_TABLE, stream, "the staged read").await
}

/// The `position` of `stream`'s row in `table` (`what` it is, for the error).
async fn position_in(
    client: &Client,
    schema: &str,
    table: &str,
    stream: &str,
    what: &str,
) -> Result<Option<Position>, LoadError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT position FROM {} WHERE stream = $1",
                qualified(schema, table)
            ),
            &[&stream],
        )
        .await
        .map_err(|e| LoadError::pg(format!("reading {what} of `{stream}`"), e))?;
    Ok(row
        .and_then(|r| r.get::<_, Option<Json<serde_json::Value>>>(0))
        .map(|Json(v)| Position::from_json(v)))
}

/// Saves `position` as `stream`'s staged resume point (in the caller's transaction).
pub(crate) async fn save_staged(
    client: &Client,
    schema: &str,
    stream: &str,
    position: &Position,
) -> Result<(), LoadError> {
    client
        .execute(
            &format!(
                "INSERT INTO {} (stream, position, staged_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, staged_at = now()",
                qualified(schema, STAGED_TABLE)
            ),
            &[&stream, &Json(position.as_json())],
        )
        .await
        .map_err(|e| LoadError::pg(format!("saving the resume point of `{stream}`"), e))?;
    Ok(())
}

/// Forgets `stream`'s staged read (in the caller's transaction, if any).
pub(crate) async fn clear_staged(
    client: &Client,
    schema: &str,
    stream: &str,
) -> Result<(), LoadError> {
    client
        .execute(
            &format!(
                "DELETE FROM {} WHERE stream = $1",
                qualified(schema, STAGED_TABLE)
            ),
            &[&stream],
        )
        .await
        .map_err(|e| LoadError::pg(format!("forgetting the staged read of `{stream}`"), e))?;
    Ok(())
}

/// Records the start of a run; returns its id. Autocommitted: the log shows it at once.
pub(crate) async fn start_run(
    client: &Client,
    schema: &str,
    stream: &str,
    source: &str,
    kind: ReadKind,
) -> Result<i64, LoadError> {
    let kind = match kind {
        ReadKind::Full => "full",
        ReadKind::Incremental => "incremental",
    };
    let row = client
        .query_one(
            &format!(
                "INSERT INTO {} (stream, source, kind, status) VALUES ($1, $2, $3, 'running') RETURNING id",
                qualified(schema, RUNS_TABLE)
            ),
            &[&stream, &source, &kind],
        )
        .await
        .map_err(|e| LoadError::pg(format!("recording the start of a run of `{stream}`"), e))?;
    Ok(row.get(0))
}

/// Inside the commit's transaction: the stream's position and counts, and the run's.
///
/// `run_stats` are the run's totals including this commit.
pub(crate) async fn record_commit(
    client: &Client,
    run: &RunRef<'_>,
    position: Option<&Position>,
    run_stats: CommitStats,
    elapsed: Duration,
) -> Result<(), LoadError> {
    let RunRef {
        schema,
        stream,
        source,
        run_id,
    } = *run;
    let position = position.map(|p| Json(p.as_json()));
    let (ins, upd, del) = (
        run_stats.inserted as i64,
        run_stats.updated as i64,
        run_stats.deleted as i64,
    );
    let ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
    client
        .execute(
            &format!(
                "INSERT INTO {} AS s (stream, source, position, last_success, rows_inserted, rows_updated, \
                 rows_deleted, duration_ms, last_error, last_error_at) \
                 VALUES ($1, $2, $3, now(), $4, $5, $6, $7, NULL, NULL) \
                 ON CONFLICT (stream) DO UPDATE SET source = EXCLUDED.source, position = EXCLUDED.position, \
                 last_success = EXCLUDED.last_success, rows_inserted = EXCLUDED.rows_inserted, \
                 rows_updated = EXCLUDED.rows_updated, rows_deleted = EXCLUDED.rows_deleted, \
                 duration_ms = EXCLUDED.duration_ms, last_error = NULL, last_error_at = NULL",
                qualified(schema, STATE_TABLE)
            ),
            &[&stream, &source, &position, &ins, &upd, &del, &ms],
        )
        .await
        .map_err(|e| LoadError::pg(format!("saving the position of `{stream}`"), e))?;
    client
        .execute(
            &format!(
                "UPDATE {} SET status = 'succeeded', finished_at = now(), rows_inserted = $2, \
                 rows_updated = $3, rows_deleted = $4, position = $5, error = NULL WHERE id = $1",
                qualified(schema, RUNS_TABLE)
            ),
            &[&run_id, &ins, &upd, &del, &position],
        )
        .await
        .map_err(|e| {
            LoadError::pg(
                format!("recording a commit of `{stream}` in the run log"),
                e,
            )
        })?;
    Ok(())
}

/// Records a failure (autocommitted, outside any transaction): the stream's
/// `last_error`, and the run's status when a run is given.
pub(crate) async fn record_error(
    client: &Client,
    schema: &str,
    stream: &str,
    source: &str,
    run_id: Option<i64>,
    error: &str,
) -> Result<(), LoadError> {
    client
        .execute(
            &format!(
                "INSERT INTO {} (stream, source, last_error, last_error_at) VALUES ($1, $2, $3, now()) \
                 ON CONFLICT (stream) DO UPDATE SET last_error = EXCLUDED.last_error, \
                 last_error_at = EXCLUDED.last_error_at",
                qualified(schema, STATE_TABLE)
            ),
            &[&stream, &source, &error],
        )
        .await
        .map_err(|e| LoadError::pg(format!("recording an error of `{stream}`"), e))?;
    if let Some(id) = run_id {
        client
            .execute(
                &format!(
                    "UPDATE {} SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1",
                    qualified(schema, RUNS_TABLE)
                ),
                &[&id, &error],
            )
            .await
            .map_err(|e| LoadError::pg(format!("recording a failed run of `{stream}`"), e))?;
    }
    Ok(())
}

/// Every stream's state, by stream name.
pub async fn stream_states(client: &Client, schema: &str) -> Result<Vec<StreamState>, LoadError> {
    let rows = client
        .query(
            &format!(
                "SELECT stream, source, position, last_success, rows_inserted, rows_updated, rows_deleted, \
                 duration_ms, last_error, last_error_at FROM {} ORDER BY stream",
                qualified(schema, STATE_TABLE)
            ),
            &[],
        )
        .await
        .map_err(|e| LoadError::pg(format!("reading the sync state of schema `{schema}`"), e))?;
    Ok(rows
        .iter()
        .map(|r| StreamState {
            stream: r.get(0),
            source: r.get(1),
            position: r
                .get::<_, Option<Json<serde_json::Value>>>(2)
                .map(|Json(v)| Position::from_json(v)),
            last_success: r.get(3),
            rows_inserted: r.get::<_, i64>(4) as u64,
            rows_updated: r.get::<_, i64>(5) as u64,
            rows_deleted: r.get::<_, i64>(6) as u64,
            duration: r
                .get::<_, Option<i64>>(7)
                .map(|ms| Duration::from_millis(ms.max(0) as u64)),
            last_error: r.get(8),
            last_error_at: r.get(9),
        })
        .collect())
}

/// The last `limit` runs of `stream`, newest first.
pub async fn recent_runs(
    client: &Client,
    schema: &str,
    stream: &str,
    limit: i64,
) -> Result<Vec<RunRecord>, LoadError> {
    let rows = client
        .query(
            &format!(
                "SELECT id, stream, source, kind, status, started_at, finished_at, rows_inserted, \
                 rows_updated, rows_deleted, position, error FROM {} WHERE stream = $1 \
                 ORDER BY id DESC LIMIT $2",
                qualified(schema, RUNS_TABLE)
            ),
            &[&stream, &limit],
        )
        .await
        .map_err(|e| LoadError::pg(format!("reading the run log of `{stream}`"), e))?;
    Ok(rows
        .iter()
        .map(|r| RunRecord {
            id: r.get(0),
            stream: r.get(1),
            source: r.get(2),
            kind: r.get(3),
            status: r.get(4),
            started_at: r.get(5),
            finished_at: r.get(6),
            rows_inserted: r.get::<_, i64>(7) as u64,
            rows_updated: r.get::<_, i64>(8) as u64,
            rows_deleted: r.get::<_, i64>(9) as u64,
            position: r
                .get::<_, Option<Json<serde_json::Value>>>(10)
                .map(|Json(v)| Position::from_json(v)),
            error: r.get(11),
        })
        .collect())
}
