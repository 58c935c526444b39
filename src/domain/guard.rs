//! Password guessing is bounded per account: after `max_failed_sign_ins` wrong passwords in a
//! window, that account's password sign-in is refused until the window ends (a correct SMS code
//! still works for end users).

use super::identity::Password;
use super::{AuthFailure, Core, Error, Result};
use crate::store::attempts;

impl Core {
    /// Refuses when `key` has failed too often in the current window.
    pub(crate) async fn ensure_not_locked(&self, key: &str) -> Result<()> {
        let s = &self.settings;
        let now = self.now().millis();
        let window_ms = s.sign_in_window_secs * 1000;
        let (start, count) = attempts::failures(self.store.pool(), key, now, window_ms).await?;
        if count >= s.max_failed_sign_ins {
            let wait = ((start + window_ms - now).max(0) + 999) / 1000;
            return Err(Error::RateLimited {
                message: format!("密码错误次数过多，请{}分钟后再试", (wait + 59) / 60),
                retry_after_secs: wait.max(1) as u64,
            });
        }
        Ok(())
    }

    /// Counts one wrong password for `key`.
    pub(crate) async fn record_failed_sign_in(&self, key: &str) -> Result<()> {
        let window_ms = self.settings.sign_in_window_secs * 1000;
        attempts::record_failure(self.store.pool(), key, self.now().millis(), window_ms).await?;
        Ok(())
    }

    /// Checks a password against an account's hash under the account's guard `key`: refused
    /// while locked, a wrong one counted, a right one clears the count.
    pub(crate) async fn verify_guarded(
        &self,
        key: &str,
        password: &Password,
        hash: &str,
    ) -> Result<()> {
        self.ensure_not_locked(key).await?;
        if !self.passwords.verify(password.expose(), hash).await? {
            self.record_failed_sign_in(key).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        }
        self.clear_failed_sign_ins(key).await
    }

    /// Forgets the wrong passwords of `key` after a successful sign-in.
    pub(crate) async fn clear_failed_sign_ins(&self, key: &str) -> Result<()> {
        attempts::clear(self.store.pool(), key).await?;
        Ok(())
    }
}
