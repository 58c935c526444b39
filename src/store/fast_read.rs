//! The SQLite hot-read path: one read-only connection per thread, queried on the calling thread.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and hands the result back,
//! two context switches per query; on a small machine that hand-off costs more than the query.
//! The few reads on every authenticated request go through here instead: an indexed lookup that
//! takes microseconds, so running it in place does not stall the async threads. WAL readers
//! never wait for writers; if SQLite is busy anyway (recovery, a checkpoint), the short busy
//! timeout expires and the caller falls back to the pooled path.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
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
