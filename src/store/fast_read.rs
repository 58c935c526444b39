//! The SQLite hot-read path: one read-only connection per thread, queried on the calling thread.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and hands the result back,
//! two context switches per query; on a small machine that hand-off costs more than the query.
//! The few reads on every authenticated request go through here instead: an indexed lookup that
//! takes microseconds, so running it in place does not stall the async threads. WAL readers
//! never wait for writers; if SQLite is busy anyway (recovery, a checkpoint), the short busy
//! timeout expires and the caller falls back to the pooled path.
//!
//! [`Store::fast_fetch_optional`](super::Store::fast_fetch_optional) writes such a read once:
//! one SQL text and one row type ([`InPlaceRow`]) serve both the in-place path and the pooled
//! one.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sqlx::any::AnyRow;
use thread_local::ThreadLocal;

/// Per-thread read-only connections to one SQLite file.
pub struct SqliteReader {
    path: PathBuf,
    connections: ThreadLocal<RefCell<Option<Connection>>>,
}

impl SqliteReader {
    pub fn new(path: PathBuf) -> Self {
        SqliteReader {
            path,
            connections: ThreadLocal::new(),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(20))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `read` on this thread's connection, opening it on first use.
    pub fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let cell = self.connections.get_or(|| RefCell::new(None));
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| rusqlite::Error::InvalidQuery)?;
        if slot.is_none() {
            *slot = Some(self.open()?);
        }
        match slot.as_ref() {
            Some(conn) => read(conn),
            None => Err(rusqlite::Error::InvalidQuery),
        }
    }
}

impl super::Store {
    /// Runs `read` in place when the backend is a SQLite file; `None` when it is not, or when the
    /// in-place read failed (the caller then uses the pool).
    pub fn read_in_place<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        match self.sqlite_reader()?.with(read) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::debug!(error = %e, "in-place SQLite read failed; using the pool");
                None
            }
        }
    }
}

/// A row that both paths read: taken from rusqlite's row in place, from sqlx's through the pool.
pub trait InPlaceRow: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin {
    /// The row as rusqlite returns it, its columns in the order of the query.
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Tuples of plain columns, read in order by both paths.
macro_rules! in_place_tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> InPlaceRow for ($($t,)+)
        where
            ($($t,)+): for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
            $($t: rusqlite::types::FromSql,)+
        {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $t>($i)?,)+))
            }
        }
    };
}

in_place_tuple!(A 0, B 1);
in_place_tuple!(A 0, B 1, C 2);

impl super::Store {
    /// At most one row of `sql`, whose `$1`, `$2`... are `params`: in place on a SQLite file
    /// (no hop to sqlx's worker thread), through the pool otherwise or when that read failed.
    pub async fn fast_fetch_optional<T: InPlaceRow>(
        &self,
        sql: &'static str,
        params: &[&str],
    ) -> Result<Option<T>, sqlx::Error> {
        if let Some(found) = self.read_in_place(|c| {
            c.prepare_cached(sql)?
                .query_row(rusqlite::params_from_iter(params), T::from_sqlite)
                .optional()
        }) {
            return Ok(found);
        }
        let mut query = sqlx::query_as(sql);
        for p in params {
            query = query.bind(*p);
        }
        query.fetch_optional(self.pool()).await
    }
}
