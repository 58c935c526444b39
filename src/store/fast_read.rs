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

use rusqlite::{Connection, OpenFlags};
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

in_place_tuple!(A 0);
in_place_tuple!(A 0, B 1);
in_place_tuple!(A 0, B 1, C 2);

/// A value bound to a `$n` placeholder of an in-place read.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param<'_> {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(n) => n.to_sql(),
        }
    }
}

/// `$1, $2...` bound to `params` for the pooled path.
fn bind_params<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    params: &[Param<'q>],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for p in params {
        query = match *p {
            Param::Text(s) => query.bind(s),
            Param::Int(n) => query.bind(n),
        };
    }
    query
}

/// Implements [`InPlaceRow`] for a struct whose fields are the query's columns, in order.
macro_rules! in_place_row {
    ($ty:ty { $($field:ident),+ $(,)? }) => {
        impl $crate::store::fast_read::InPlaceRow for $ty {
            fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                let mut column = 0usize;
                let mut next = || {
                    column += 1;
                    column - 1
                };
                Ok(Self { $($field: r.get(next())?),+ })
            }
        }
    };
}
pub(crate) use in_place_row;

/// Binds `params` to `statement`: `$n` is `params[n - 1]` wherever it stands in the text.
fn bind_in_place(
    statement: &mut rusqlite::Statement<'_>,
    params: &[Param<'_>],
) -> rusqlite::Result<()> {
    for i in 1..=statement.parameter_count() {
        let n = statement
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(i);
        let value = params
            .get(n.wrapping_sub(1))
            .ok_or(rusqlite::Error::InvalidParameterCount(n, params.len()))?;
        statement.raw_bind_parameter(i, value)?;
    }
    Ok(())
}

/// The rows of `sql` read in place, at most `limit`.
fn read_rows<T: InPlaceRow>(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
    limit: usize,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    bind_in_place(&mut statement, params)?;
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while out.len() < limit {
        match rows.next()? {
            Some(row) => out.push(T::from_sqlite(row)?),
            None => break,
        }
    }
    Ok(out)
}

impl super::Store {
    /// At most one row of `sql`, whose `$1`, `$2`... are `params`: in place on a SQLite file
    /// (no hop to sqlx's worker thread), through the pool otherwise or when that read failed.
    pub async fn fast_fetch_optional<T: InPlaceRow>(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<T>, sqlx::Error> {
        if let Some(mut found) = self.read_in_place(|c| read_rows::<T>(c, sql, params, 1)) {
            return Ok(found.pop());
        }
        bind_params(sqlx::query_as(sql), params)
            .fetch_optional(self.pool())
            .await
    }

    /// Every row of `sql`, as [`Store::fast_fetch_optional`] reads one.
    pub async fn fast_fetch_all<T: InPlaceRow>(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<T>, sqlx::Error> {
        if let Some(found) = self.read_in_place(|c| read_rows::<T>(c, sql, params, usize::MAX)) {
            return Ok(found);
        }
        bind_params(sqlx::query_as(sql), params)
            .fetch_all(self.pool())
            .await
    }
}
