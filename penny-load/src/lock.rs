//! The advisory lock that keeps two syncs of one target (database and schema) apart.

use std::sync::Arc;

use tokio_postgres::Client;

use crate::config::PgConfig;
use crate::error::LoadError;
use crate::ident::stable_hash;

/// The first key of penny-load's advisory locks (`'PENN'` as an integer), so they do
/// not collide with other applications' single-key locks.
const LOCK_CLASS: i32 = 0x5045_4E4E;

/// A held advisory lock on one target: while it lives, no other sync of the same
/// database and schema can start.
///
/// It is taken with `pg_try_advisory_lock` on a connection of its own, so a second sync
/// is refused at once with [`LoadError::Busy`] instead of waiting. It is released when
/// dropped (its connection closes) or by [`TargetLock::release`], and by the server if
/// the process dies. Share it (`Arc`) between the [`PgSink`](crate::PgSink)s of one run
/// to load several streams concurrently.
pub struct TargetLock {
    client: Client,
    database: String,
    schema: String,
}

impl std::fmt::Debug for TargetLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetLock")
            .field("database", &self.database)
            .field("schema", &self.schema)
            .finish()
    }
}

impl TargetLock {
    /// Takes the lock of `config`'s target, or fails at once with [`LoadError::Busy`].
    pub async fn acquire(config: &PgConfig) -> Result<Arc<TargetLock>, LoadError> {
        let client = config.connect().await?;
        let database: String = client
            .query_one("SELECT current_database()::text", &[])
            .await
            .map_err(|e| LoadError::pg("reading the database name", e))?
            .get(0);
        let schema = config.schema().to_owned();
        let key = lock_key(&database, &schema);
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &key])
            .await
            .map_err(|e| LoadError::pg("taking the sync lock", e))?
            .get(0);
        if !got {
            let holder = client
                .query_opt(
                    "SELECT l.pid, coalesce(a.application_name, '') FROM pg_locks l \
                     LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 \
                     AND l.objid::bigint = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     LIMIT 1",
                    &[&(LOCK_CLASS as i64), &(key as u32 as i64)],
                )
                .await
                .ok()
                .flatten()
                .map(|r| format!(" by pid {} ({})", r.get::<_, i32>(0), r.get::<_, String>(1)))
                .unwrap_or_default();
            return Err(LoadError::Busy {
                database,
                schema,
                holder,
            });
        }
        Ok(Arc::new(TargetLock {
            client,
            database,
            schema,
        }))
    }

    /// The locked database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The locked schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Releases the lock now (dropping it releases it too, when its connection closes).
    pub async fn release(self) -> Result<(), LoadError> {
        let key = lock_key(&self.database, &self.schema);
        self.client
            .query_one("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &key])
            .await
            .map_err(|e| LoadError::pg("releasing the sync lock", e))?;
        Ok(())
    }
}

/// The first key of the short, transaction-scoped lock that serialises creating a
/// target's schema and state tables (`'PENS'`), apart from the sync lock.
const SETUP_LOCK_CLASS: i32 = 0x5045_4E53;

/// The keys of the setup lock of `database`'s `schema` (see `PgSink::connect_with_lock`).
pub(crate) fn setup_lock_keys(database: &str, schema: &str) -> (i32, i32) {
    (SETUP_LOCK_CLASS, lock_key(database, schema))
}

/// The second lock key: a hash of the database and schema names.
fn lock_key(database: &str, schema: &str) -> i32 {
    stable_hash(&[database, schema]) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_target() {
        assert_eq!(lock_key("d", "penny"), lock_key("d", "penny"));
        assert_ne!(lock_key("d", "penny"), lock_key("d", "other"));
        assert_ne!(lock_key("d", "penny"), lock_key("e", "penny"));
    }
}
