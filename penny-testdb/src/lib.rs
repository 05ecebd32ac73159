//! # penny-testdb
//!
//! A fresh, uniquely named PostgreSQL database for each test that needs one, so
//! tests run in parallel without seeing each other's tables.
//!
//! Where the server comes from, in order:
//! 1. `PENNY_TEST_DATABASE_URL` (for example `postgres://postgres@127.0.0.1:5432/test`):
//!    each [`TestDb`] creates its own database on that server and drops it when dropped;
//! 2. otherwise a PostgreSQL container started through testcontainers (needs Docker);
//! 3. with neither, [`TestDb::new`] panics with a message saying how to provide one.
//!    A test that needs a database never silently skips.
//!
//! ```no_run
//! # async fn demo() {
//! let db = penny_testdb::TestDb::new().await;
//! let client = db.connect().await;
//! client.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)").await.expect("create");
//! # }
//! ```
//!
//! This crate is test support only (`publish = false`): use it as a dev-dependency.

pub mod compare;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::ContainerAsync;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use tokio_postgres::NoTls;

/// The environment variable naming the test server.
pub const ENV_VAR: &str = "PENNY_TEST_DATABASE_URL";

/// A database created for one test, dropped (with its connections) when this value is dropped.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
    _container: Option<ContainerAsync<Postgres>>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// Creates a fresh database, or panics saying how to provide a server.
    pub async fn new() -> TestDb {
        let (admin_url, container) = match std::env::var(ENV_VAR) {
            Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
            _ => match start_container().await {
                Ok((url, container)) => (url, Some(container)),
                Err(reason) => panic!(
                    "this test needs PostgreSQL. Set {ENV_VAR} to a server where the user may \
                     CREATE DATABASE (for example {ENV_VAR}=postgres://postgres@127.0.0.1:5432/test), \
                     or start Docker so that a container can be started through testcontainers \
                     ({reason})"
                ),
            },
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "penny_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = connect_url(&admin_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot create test database {name} on {}: {e}",
                    redact(&admin_url)
                )
            });
        let url = with_database(&admin_url, &name);
        TestDb {
            name,
            url,
            admin_url,
            _container: container,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL to this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to this test's database (its driver task runs on the current runtime).
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect_url(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self._container.is_some() {
            // The container and everything in it go away with it.
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&admin_url, NoTls).await.ok()?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("penny-testdb: could not drop test database {}", self.name);
        }
    }
}

async fn connect_url(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server {}: {e}", redact(url)));
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors show in the queries.
        let _ = connection.await;
    });
    client
}

async fn start_container() -> Result<(String, ContainerAsync<Postgres>), String> {
    let container = Postgres::default()
        .start()
        .await
        .map_err(|e| format!("testcontainers could not start PostgreSQL: {e}"))?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(|e| format!("testcontainers gave no port: {e}"))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| format!("testcontainers gave no host: {e}"))?;
    Ok((
        format!("postgres://postgres:postgres@{host}:{port}/postgres"),
        container,
    ))
}

/// `url` with its database path replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end], &rest[at..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_and_keeps_parameters() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:1/db"),
            "postgres://u:***@h:1/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[tokio::test]
    async fn each_test_gets_its_own_database_and_it_is_dropped() {
        let a = TestDb::new().await;
        let b = TestDb::new().await;
        assert_ne!(a.name(), b.name());
        let client = a.connect().await;
        client
            .batch_execute("CREATE TABLE only_in_a (id bigint)")
            .await
            .expect("create");
        let other = b.connect().await;
        let seen = other
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'",
                &[],
            )
            .await
            .expect("query");
        assert_eq!(seen.get::<_, i64>(0), 0);
        let name = a.name().to_owned();
        drop(client);
        drop(a);
        let left = other
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .await
            .expect("query");
        assert_eq!(
            left.get::<_, i64>(0),
            0,
            "the database is dropped with its TestDb"
        );
    }
}
