//! Storage: one set of portable SQL for SQLite and PostgreSQL, through sqlx's `Any` driver.
//!
//! Queries use `$1` placeholders (both backends accept them), integers are `BIGINT`, times are
//! UTC milliseconds, money is fen. Write transactions on SQLite begin `IMMEDIATE` so that
//! concurrent writers queue on the busy timeout instead of failing on lock upgrade.
//!
//! Durability on SQLite: the pool runs in WAL mode with `synchronous = NORMAL`, so a commit
//! survives a crash of the process but the last ones may be lost on a power cut. That is safe
//! for what can be recovered (a heating payment lost that way is pending again, and the
//! reconciler asks WeChat Pay and settles it). What cannot be recovered, a meter recharge the
//! platform was told succeeded, goes through [`Store::durable_connection`] and
//! [`Store::begin_durable`]: `synchronous = FULL`, on disk before it is acknowledged,
//! affordable because its committer batches.

pub mod attempts;
pub mod charging;
pub mod codes;
pub mod fast_read;
pub mod heating;
pub mod iot;
pub mod leader;
pub mod ledger;
pub mod limits;
pub mod meter;
pub mod operators;
pub mod records;
pub mod retail;
pub mod secrets;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor};

/// What a store call fails with. The domain names this, never the driver behind it.
pub type Error = sqlx::Error;

/// A connection inside a transaction, as the domain passes it down to the store.
pub type Conn = sqlx::AnyConnection;

/// A write transaction.
///
/// On SQLite it also holds this process's writer turn: writers queue in order on an async mutex
/// instead of polling SQLite's lock in its sleeping busy handler (which costs tens of
/// milliseconds under contention). The busy timeout still covers other processes.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    /// Commits, then gives the writer turn to the next in line.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

/// A durable write transaction on a connection of its own (see [`Store::begin_durable`]).
///
/// Like [`Tx`], it holds this process's writer turn on SQLite until it commits or is dropped.
pub struct DurableTx<'c> {
    inner: sqlx::Transaction<'c, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl DurableTx<'_> {
    /// Commits (on disk before it returns), then gives the writer turn to the next in line.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }
}

impl std::ops::Deref for DurableTx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for DurableTx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

/// Which database server is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a connection.
    pub fn of(conn: &Conn) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The storage handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: one writer at a time in this process, in arrival order.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// SQLite only: the in-place read path for hot lookups.
    reader: Option<std::sync::Arc<fast_read::SqliteReader>>,
    /// How to open a connection of its own (see [`Store::durable_connection`]).
    options: AnyConnectOptions,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`), creating a SQLite file and its folder if needed.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let mut sqlite_file = None;
        let (backend, url) = if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                anyhow::bail!("the SQLite URL names no file: {url}");
            }
            if path != ":memory:" {
                sqlite_file = Some(std::path::PathBuf::from(path));
                if let Some(parent) = Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent).with_context(|| {
                            format!("cannot create the database folder {}", parent.display())
                        })?;
                    }
                }
            }
            let query = if query.contains("mode=") {
                query.to_owned()
            } else if query.is_empty() {
                "mode=rwc".to_owned()
            } else {
                format!("{query}&mode=rwc")
            };
            (Backend::Sqlite, format!("sqlite://{path}?{query}"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            anyhow::bail!(
                "unsupported database URL {}: use sqlite://PATH or postgres://...",
                redact_url(url)
            );
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("bad database URL {}", redact_url(&url)))?;
        // One direct connection first: a refused or unknown database fails at once with its own
        // message, instead of the pool retrying until its acquire timeout.
        let probe = tokio::time::timeout(
            Duration::from_secs(10),
            AnyConnection::connect_with(&options),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out after 10 s"))
        .and_then(|r| r.map_err(|e| anyhow::anyhow!("{e}")))
        .with_context(|| format!("cannot reach the database {}", redact_url(&url)))?;
        probe.close().await.ok();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(if backend == Backend::Sqlite { 1 } else { 0 })
            .acquire_timeout(Duration::from_secs(10))
            // An embedded SQLite connection cannot go stale. A PostgreSQL server may restart, but
            // pinging before every use would double the round trips of each query: ping only a
            // connection that has been idle a while (a busy one has just proved itself).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for > Duration::from_secs(10) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        tune_reads(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot reach the database {}", redact_url(&url)))?;
        let reader = sqlite_file.map(|p| std::sync::Arc::new(fast_read::SqliteReader::new(p)));
        Ok(Store {
            pool,
            backend,
            reader,
            writer: std::sync::Arc::default(),
            options,
        })
    }

    /// Brings the schema up to date.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.pool)
            .await
            .context("cannot migrate the database")?;
        if self.backend == Backend::Sqlite {
            self.refresh_statistics()
                .await
                .context("cannot refresh the query planner's statistics")?;
        }
        Ok(())
    }

    /// Keeps SQLite's query planner statistics (`sqlite_stat1`) true to the data: an index
    /// created by a migration after the last `ANALYZE` has none, and SQLite then takes it for a
    /// very selective one (the overview's count of devices online walked 100,000 rows of the
    /// wrong index); it is analyzed in full now, once (a third of a second for three indexes
    /// over 100,000 rows). Then `PRAGMA optimize` re-analyzes, from a sample, any table that
    /// has grown or shrunk a lot, as SQLite advises at start-up. A database never analyzed is
    /// left as it is (no index has statistics, so none is favoured).
    async fn refresh_statistics(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let analyzed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
        )
        .fetch_one(&mut *conn)
        .await?;
        if analyzed > 0 {
            let missing: Vec<String> = sqlx::query_scalar(
                "SELECT m.name FROM sqlite_master m WHERE m.type = 'index' \
                 AND m.tbl_name IN (SELECT tbl FROM sqlite_stat1) \
                 AND m.name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)",
            )
            .fetch_all(&mut *conn)
            .await?;
            for index in missing {
                let quoted = index.replace('"', "\"\"");
                conn.execute(format!("ANALYZE \"{quoted}\"").as_str())
                    .await?;
            }
        }
        conn.execute("PRAGMA optimize = 0x10002").await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The in-place SQLite reader, when the backend is a SQLite file.
    pub fn sqlite_reader(&self) -> Option<&fast_read::SqliteReader> {
        self.reader.as_deref()
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = self.writer.clone().lock_owned().await;
                let inner = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx {
                    inner,
                    _turn: Some(turn),
                })
            }
            Backend::Postgres => Ok(Tx {
                inner: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    /// A connection outside the pool for a long-lived writer whose commits must be on disk
    /// before they are acknowledged: on SQLite it runs with `synchronous = FULL` (PostgreSQL
    /// commits durably by default). Its writers begin with [`Store::begin_durable`].
    pub async fn durable_connection(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut conn = AnyConnection::connect_with(&self.options).await?;
        if self.backend == Backend::Sqlite {
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.execute("PRAGMA busy_timeout = 10000").await?;
            conn.execute("PRAGMA synchronous = FULL").await?;
            conn.execute("PRAGMA foreign_keys = ON").await?;
            tune_reads(&mut conn).await?;
        }
        Ok(conn)
    }

    /// This process's writer turn on SQLite (none needed on PostgreSQL), for writers with a
    /// connection of their own.
    async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Begins a write transaction on `conn`, a [`Store::durable_connection`]: takes this
    /// process's writer turn first, then `BEGIN IMMEDIATE` on SQLite (a plain `BEGIN` on
    /// PostgreSQL), like [`Store::begin_write`] on the pool.
    pub async fn begin_durable<'c>(
        &self,
        conn: &'c mut Conn,
    ) -> Result<DurableTx<'c>, sqlx::Error> {
        let turn = self.writer_turn().await;
        let inner = match self.backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        };
        Ok(DurableTx { inner, _turn: turn })
    }

    /// A read-only transaction that sees one consistent snapshot (for checks across tables).
    pub async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A listing of rows filtered by the prefix of one column: the caller's constants, never input.
pub struct PrefixListing {
    pub table: &'static str,
    pub column: &'static str,
    pub select: &'static str,
    pub order: &'static str,
}

impl PrefixListing {
    /// A page of rows whose column starts with `prefix`, with the count of all of them.
    pub async fn page<'e, E, T>(
        &self,
        ex: E,
        prefix: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<T>), sqlx::Error>
    where
        E: Executor<'e, Database = Any> + Copy,
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let PrefixListing {
            table,
            column,
            select,
            order,
        } = self;
        // The prefix is text, not a pattern: its `%`, `_` and `\` match only themselves.
        let escaped = prefix
            .unwrap_or("")
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("{escaped}%");
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1 ESCAPE '\\'"
        ))
        .bind(&pattern)
        .fetch_one(ex)
        .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT {select} FROM {table} WHERE {column} LIKE $1 ESCAPE '\\' ORDER BY {order} LIMIT $2 OFFSET $3"
        ))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(ex)
        .await?;
        Ok((total, rows))
    }
}

/// The VALUES list of a multi-row insert on `conn`: `($1, $2), ($3, $4), ...` on PostgreSQL,
/// `(?, ?), (?, ?), ...` on SQLite. SQLite looks a numbered parameter up by scanning the
/// statement's list of names, so binding thousands of them (a batch of 64 orders has 1,664)
/// took time quadratic in their number; plain `?` are bound by position.
pub(crate) fn placeholders(conn: &Conn, rows: usize, columns: usize) -> String {
    values_list(Backend::of(conn), rows, columns)
}

fn values_list(backend: Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(row * columns + column + 1).to_string());
                }
            }
        }
        out.push(')');
    }
    out
}

/// True when the error is a unique-constraint violation (on either backend).
pub fn is_unique_violation(err: &Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A SQLite connection's read caches: 16 MiB of pages of its own (SQLite's default is 2 MiB,
/// which a list over 100,000 rows outgrows at once) and the file mapped into memory (reads
/// without a copy through the kernel; writes still go through the WAL).
async fn tune_reads(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA cache_size = -16384").await?;
    conn.execute("PRAGMA mmap_size = 268435456").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Backend, redact_url, values_list};

    #[test]
    fn numbers_placeholders_row_by_row() {
        assert_eq!(
            values_list(Backend::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_list(Backend::Postgres, 1, 1), "($1)");
        assert_eq!(values_list(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }
}
