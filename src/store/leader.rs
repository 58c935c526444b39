//! Which instance runs the background jobs: on PostgreSQL, the one holding a session advisory
//! lock on a connection of its own. The lock lives as long as that connection: an instance that
//! dies (its connection closes, even under SIGKILL) frees it at once for another to take, and
//! one whose connection breaks stops leading at its next check. On SQLite there is one
//! instance, and it leads.
//!
//! The lock's key is the schema's (`hashtext(current_schema())`), so installations (and tests)
//! sharing one PostgreSQL database in separate schemas each have their own leader.

use sqlx::AnyConnection;

use super::{Backend, Store};

/// The second half of the advisory lock's key: utilhall's background jobs.
const JOBS: &str = "utilhall jobs";

/// This instance's claim on the leadership.
pub struct LeaderLock {
    store: Store,
    /// The connection that holds (or tries for) the lock.
    conn: Option<AnyConnection>,
    held: bool,
}

impl LeaderLock {
    pub fn new(store: Store) -> LeaderLock {
        LeaderLock {
            store,
            conn: None,
            held: false,
        }
    }

    /// Whether this instance leads now: checks that the lock is still held, or takes it if it
    /// is free. An error means "not now" (the connection is dropped, and the lock with it).
    pub async fn hold(&mut self) -> Result<bool, sqlx::Error> {
        if self.store.backend() == Backend::Sqlite {
            return Ok(true);
        }
        let outcome = self.try_hold().await;
        if outcome.is_err() {
            self.conn = None;
            self.held = false;
        }
        outcome
    }

    async fn try_hold(&mut self) -> Result<bool, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.store.durable_connection().await?);
            self.held = false;
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        if self.held {
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            return Ok(true);
        }
        self.held = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtext(current_schema()), hashtext($1))",
        )
        .bind(JOBS)
        .fetch_one(&mut *conn)
        .await?;
        Ok(self.held)
    }

    /// Gives the lock up (at shutdown): another instance may take it at once.
    pub async fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
        self.held = false;
    }
}
