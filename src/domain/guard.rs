//! Password (and other secret) guessing is bounded where it happens, not where it aims: the
//! failures of one client address against one account lock that pair for the window; the
//! failures against an account from everywhere together only slow every attempt on it down.
//! So a stranger's wrong guesses never refuse the right answer from somewhere else, and a guesser
//! spread over many addresses still gets at most one try every few seconds.

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;

use super::identity::Password;
use super::passwords::PasswordHasher;
use super::{AuthFailure, Clock, Error, Result, Settings};
use crate::store::{Store, attempts};

/// The longest an attempt on a much-guessed account is held back.
pub const MAX_SLOWDOWN: Duration = Duration::from_secs(5);

/// The pair's counter key: the account's key and where the attempts come from.
fn pair_key(key: &str, from: Option<IpAddr>) -> String {
    match from {
        Some(ip) => format!("{key}@{ip}"),
        None => format!("{key}@local"),
    }
}

/// The sign-in guard every area's password (and secret) checks go through.
pub struct SignInGuard {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    passwords: PasswordHasher,
}

impl SignInGuard {
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
    ) -> SignInGuard {
        SignInGuard {
            store,
            clock,
            settings,
            passwords,
        }
    }

    /// Refuses when this address has failed too often against `key` in the current window;
    /// holds the attempt back a while when the account is being guessed from everywhere.
    pub(crate) async fn ensure_not_locked(&self, key: &str, from: Option<IpAddr>) -> Result<()> {
        let s = &self.settings;
        let now = self.clock.now().millis();
        let window_ms = s.sign_in_window_secs * 1000;
        let pool = self.store.pool();
        let (start, count) = attempts::failures(pool, &pair_key(key, from), now, window_ms).await?;
        if count >= s.max_failed_sign_ins {
            let wait = ((start + window_ms - now).max(0) + 999) / 1000;
            return Err(Error::RateLimited {
                message: format!("密码错误次数过多，请{}分钟后再试", (wait + 59) / 60),
                retry_after_secs: wait.max(1) as u64,
            });
        }
        let (_, everywhere) = attempts::failures(pool, key, now, window_ms).await?;
        let over = everywhere - s.max_failed_sign_ins;
        if over >= 0 {
            // Half a second more for each failure over the limit, up to the cap: whoever
            // tries, right or wrong, waits the same, so the delay tells nothing.
            let delay = Duration::from_millis(500 * (over as u64 + 1)).min(MAX_SLOWDOWN);
            tracing::info!(
                key,
                failures = everywhere,
                ?delay,
                "attempt on a much-guessed account held back"
            );
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    /// Counts one failure of this address against `key` (and against `key` from everywhere).
    pub(crate) async fn record_failure(&self, key: &str, from: Option<IpAddr>) -> Result<()> {
        let window_ms = self.settings.sign_in_window_secs * 1000;
        let now = self.clock.now().millis();
        let pool = self.store.pool();
        attempts::record_failure(pool, &pair_key(key, from), now, window_ms).await?;
        attempts::record_failure(pool, key, now, window_ms).await?;
        Ok(())
    }

    /// Checks a password against an account's hash under the account's guard `key`: refused
    /// while this address is locked out of it, a wrong one counted, a right one clears the count.
    pub(crate) async fn verify(
        &self,
        key: &str,
        from: Option<IpAddr>,
        password: &Password,
        hash: &str,
    ) -> Result<()> {
        self.ensure_not_locked(key, from).await?;
        if !self.passwords.verify(password.expose(), hash).await? {
            self.record_failure(key, from).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        }
        self.clear_failures(key, from).await
    }

    /// Forgets this address's failures against `key` after a success. The count from
    /// everywhere stays: a right answer from one place does not lift the slow-down the others
    /// earned.
    pub(crate) async fn clear_failures(&self, key: &str, from: Option<IpAddr>) -> Result<()> {
        attempts::clear(self.store.pool(), &pair_key(key, from)).await?;
        Ok(())
    }

    /// Forgets the failures against `key` from everywhere: its owner proved who they are
    /// another way (a code sent to their phone). The guessers' own locks stay.
    pub(crate) async fn forgive_account(&self, key: &str) -> Result<()> {
        attempts::clear(self.store.pool(), key).await?;
        Ok(())
    }
}
