//! Full refreshes: a new table built beside the old one, swapped in at commit.
//!
//! During a full read the rows are copied straight into a new table in the target
//! schema, created inside the sink's open transaction, so no other session sees it.
//! At commit, in that same transaction:
//! 1. the primary key is added (one bulk index build); if the read held the same key
//!    twice, the earlier copies are removed first (the last row written wins: rows are
//!    compared by physical position, which follows arrival order in a table that was
//!    only appended to in this transaction) and the key is added again;
//! 2. the Power BI indexes are built;
//! 3. the new table replaces the old one:
//!    - **rename swap** (the default): `ACCESS EXCLUSIVE` lock on the old table, taken
//!      with a `lock_timeout`; old renamed away and dropped, new renamed in. Readers
//!      running before the commit keep the old table; later ones see the new.
//!    - **rewrite in place** when views depend on the old table (a rename would leave
//!      them on the old table, and dropping it would fail), or when readers hold the old
//!      table past the lock timeout: `DELETE` every row and `INSERT` the new ones, in the
//!      same transaction. Readers see the old rows until the commit (MVCC), views
//!      survive. The table must then be able to take the new schema (additions and
//!      widenings only); otherwise [`LoadError::BlockedByViews`] says which views.
//!
//! Grants on the old table are not copied by a rename swap: give readers their rights
//! with `ALTER DEFAULT PRIVILEGES IN SCHEMA ... GRANT SELECT ON TABLES TO ...`.

use std::time::Duration;

use penny_transform::{CommitStats, Schema};
use tokio_postgres::Client;

use crate::ddl::{self, ExistingTable, key_list, pk_name, power_bi_indexes};
use crate::error::LoadError;
use crate::ident::{self, qualified, quote};
use crate::types::PgType;

/// The `maintenance_work_mem` of a full refresh's index builds (the server default,
/// 64MB, makes a sort of a million rows spill to disk).
const MAINTENANCE_WORK_MEM: &str = "256MB";

/// The name of the table a full refresh of `table` builds.
pub(crate) fn build_name(table: &str) -> String {
    ident::derived(table, "__penny_new")
}

/// The name the old table takes during a swap.
fn old_name(table: &str) -> String {
    ident::derived(table, "__penny_old")
}

/// What the refresh needs to know.
pub(crate) struct Refresh<'a> {
    pub client: &'a Client,
    pub schema_name: &'a str,
    pub table: &'a Schema,
    /// The old table, if there is one.
    pub existing: Option<&'a ExistingTable>,
    /// The rows copied into the new table, when that is its exact count.
    pub copied_rows: Option<u64>,
    pub swap_lock_timeout: Duration,
}

impl Refresh<'_> {
    fn q(&self, name: &str) -> String {
        qualified(self.schema_name, name)
    }

    async fn exec(&self, sql: &str, doing: &str) -> Result<(), LoadError> {
        self.client.batch_execute(sql).await.map_err(|e| {
            LoadError::pg(
                format!("{doing} (full refresh of `{}`)", self.table.name()),
                e,
            )
        })
    }

    async fn count(&self, sql: &str, doing: &str) -> Result<u64, LoadError> {
        let row = self.client.query_one(sql, &[]).await.map_err(|e| {
            LoadError::pg(
                format!("{doing} (full refresh of `{}`)", self.table.name()),
                e,
            )
        })?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// Finishes the refresh inside the caller's transaction; returns what changed
    /// compared with the old table (surviving keys count as updates).
    pub(crate) async fn finish(&self) -> Result<CommitStats, LoadError> {
        let name = self.table.name();
        let build = build_name(name);
        let build_q = self.q(&build);
        let target_q = self.q(name);
        let keys = key_list(self.table);
        let temp_pk = ident::derived(&build, "_pkey");

        // Index builds sort the whole table: give them room (this transaction only).
        self.exec(
            &format!("SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"),
            "sizing the index builds",
        )
        .await?;

        // 1. The primary key, removing earlier duplicates if there are any.
        let add_pk = format!(
            "ALTER TABLE {build_q} ADD CONSTRAINT {} PRIMARY KEY ({keys})",
            quote(&temp_pk)
        );
        self.exec("SAVEPOINT penny_pk", "starting the key build")
            .await?;
        let mut exact_rows = self.copied_rows;
        if let Err(e) = self.client.batch_execute(&add_pk).await {
            exact_rows = None;
            if e.code().map(|c| c.code()) != Some("23505") {
                return Err(LoadError::pg(
                    format!("adding the primary key to the new `{name}`"),
                    e,
                ));
            }
            self.exec(
                "ROLLBACK TO SAVEPOINT penny_pk",
                "undoing the failed key build",
            )
            .await?;
            self.exec(
                &format!(
                    "DELETE FROM {build_q} b USING (SELECT ctid AS c, row_number() OVER \
                     (PARTITION BY {keys} ORDER BY ctid DESC) AS n FROM {build_q}) d \
                     WHERE b.ctid = d.c AND d.n > 1"
                ),
                "removing repeated keys (the last row wins)",
            )
            .await?;
            self.exec(&add_pk, "adding the primary key").await?;
        }
        self.exec("RELEASE SAVEPOINT penny_pk", "finishing the key build")
            .await?;
        let rows = match exact_rows {
            Some(rows) => rows,
            None => {
                self.count(
                    &format!("SELECT count(*) FROM {build_q}"),
                    "counting the new rows",
                )
                .await?
            }
        };

        // 2. The Power BI indexes, under temporary names.
        let indexes = power_bi_indexes(self.table);
        for (_, column) in &indexes {
            self.exec(
                &format!(
                    "CREATE INDEX {} ON {build_q} ({})",
                    quote(&ident::derived(&build, &format!("_{column}_idx"))),
                    quote(column)
                ),
                &format!("indexing `{column}`"),
            )
            .await?;
        }

        // Statistics for the new table now: the planner would otherwise plan the first
        // queries on it (filtered reads, merges, Power BI) without any until autovacuum
        // gets to it, and may scan the whole table where an index would do.
        self.exec(&format!("ANALYZE {build_q}"), "analyzing the new table")
            .await?;

        // 3. Replace the old table.
        let Some(existing) = self.existing else {
            self.exec(
                &format!("ALTER TABLE {build_q} RENAME TO {}", quote(name)),
                "putting the new table in place",
            )
            .await?;
            self.rename_indexes(&build, &temp_pk).await?;
            return Ok(CommitStats {
                inserted: rows,
                ..CommitStats::default()
            });
        };
        let old_rows = self
            .count(
                &format!("SELECT count(*) FROM {target_q}"),
                "counting the old rows",
            )
            .await?;
        let same_keys = if existing
            .primary_key
            .iter()
            .map(String::as_str)
            .eq(self.table.primary_key_names())
        {
            let join = self
                .table
                .primary_key_names()
                .map(|k| format!("b.{0} = t.{0}", quote(k)))
                .collect::<Vec<_>>()
                .join(" AND ");
            self.count(
                &format!("SELECT count(*) FROM {build_q} b JOIN {target_q} t ON {join}"),
                "counting the rows kept",
            )
            .await?
        } else {
            0
        };
        let stats = CommitStats {
            inserted: rows - same_keys,
            updated: same_keys,
            deleted: old_rows - same_keys,
        };

        let views = ddl::dependent_views(self.client, self.schema_name, name).await?;
        if views.is_empty() {
            if self.lock_old_table(true).await? {
                self.swap(&build, &temp_pk).await?;
                return Ok(stats);
            }
            // Readers hold the old table: rewrite it in place if its shape allows,
            // otherwise wait for them.
            if ddl::plan_evolution(&target_q, existing, self.table).is_err() {
                self.lock_old_table(false).await?;
                self.swap(&build, &temp_pk).await?;
                return Ok(stats);
            }
        }
        self.rewrite_in_place(existing, &views).await?;
        Ok(stats)
    }

    /// Locks the old table for the swap; with `bounded`, gives up (returns `false`)
    /// after the swap lock timeout.
    async fn lock_old_table(&self, bounded: bool) -> Result<bool, LoadError> {
        let target_q = self.q(self.table.name());
        if !bounded {
            self.exec(
                &format!(
                    "SET LOCAL lock_timeout = 0; LOCK TABLE {target_q} IN ACCESS EXCLUSIVE MODE"
                ),
                "locking the old table",
            )
            .await?;
            return Ok(true);
        }
        let ms = self.swap_lock_timeout.as_millis().max(1);
        self.exec(
            &format!("SAVEPOINT penny_swap; SET LOCAL lock_timeout = {ms}"),
            "preparing the swap",
        )
        .await?;
        match self
            .client
            .batch_execute(&format!("LOCK TABLE {target_q} IN ACCESS EXCLUSIVE MODE"))
            .await
        {
            Ok(()) => {
                self.exec(
                    "SET LOCAL lock_timeout = 0; RELEASE SAVEPOINT penny_swap",
                    "taking the swap lock",
                )
                .await?;
                Ok(true)
            }
            Err(e) if e.code().map(|c| c.code()) == Some("55P03") => {
                tracing::info!(
                    table = self.table.name(),
                    "readers hold the old table; rewriting it in place instead of swapping"
                );
                self.exec(
                    "ROLLBACK TO SAVEPOINT penny_swap; RELEASE SAVEPOINT penny_swap",
                    "giving up the swap",
                )
                .await?;
                Ok(false)
            }
            Err(e) => Err(LoadError::pg(
                format!("locking the old `{}`", self.table.name()),
                e,
            )),
        }
    }

    async fn swap(&self, build: &str, temp_pk: &str) -> Result<(), LoadError> {
        let name = self.table.name();
        let old = old_name(name);
        self.exec(
            &format!(
                "ALTER TABLE {} RENAME TO {}; ALTER TABLE {} RENAME TO {}; DROP TABLE {}",
                self.q(name),
                quote(&old),
                self.q(build),
                quote(name),
                self.q(&old)
            ),
            "swapping the new table in",
        )
        .await?;
        self.rename_indexes(build, temp_pk).await
    }

    /// Gives the swapped-in table's key and indexes their canonical names.
    async fn rename_indexes(&self, build: &str, temp_pk: &str) -> Result<(), LoadError> {
        let name = self.table.name();
        let mut sql = format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
            self.q(name),
            quote(temp_pk),
            quote(&pk_name(name))
        );
        for (index, column) in power_bi_indexes(self.table) {
            sql.push_str(&format!(
                "ALTER INDEX {} RENAME TO {};",
                self.q(&ident::derived(build, &format!("_{column}_idx"))),
                quote(&index)
            ));
        }
        self.exec(&sql, "naming the new table's indexes").await
    }

    async fn rewrite_in_place(
        &self,
        existing: &ExistingTable,
        views: &[String],
    ) -> Result<(), LoadError> {
        let name = self.table.name();
        let target_q = self.q(name);
        let blocked = |reason: String| LoadError::BlockedByViews {
            table: name.to_owned(),
            views: if views.is_empty() {
                "none; readers held the table".to_owned()
            } else {
                views.join(", ")
            },
            reason,
        };
        let steps = ddl::plan_evolution(&target_q, existing, self.table)
            .map_err(|e| blocked(format!("its new schema cannot be applied in place: {e}")))?;
        for step in &steps {
            self.client
                .batch_execute(step)
                .await
                .map_err(|e| blocked(format!("`{step}` failed: {e}")))?;
        }
        let types = ddl::target_types(Some(existing), self.table);
        let columns = self
            .table
            .columns()
            .iter()
            .map(|c| quote(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let values = self
            .table
            .columns()
            .iter()
            .zip(&types)
            .map(|(c, t): (_, &PgType)| t.convert(&quote(&c.name), c.logical_type))
            .collect::<Vec<_>>()
            .join(", ");
        self.exec(
            &format!(
                "DELETE FROM {target_q}; INSERT INTO {target_q} ({columns}) SELECT {values} FROM {}; DROP TABLE {}",
                self.q(&build_name(name)),
                self.q(&build_name(name))
            ),
            "rewriting the table in place",
        )
        .await?;
        ddl::create_missing_indexes(self.client, self.schema_name, self.table).await
    }
}
