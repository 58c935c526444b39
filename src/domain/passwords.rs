//! Password hashing with argon2id, on the blocking pool behind a semaphore.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::{Error, Result};

/// Hashes and verifies passwords without stalling the async threads.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    /// `memory_kib`, `iterations`: argon2id cost; `concurrency`: hashes running at once.
    pub fn new(memory_kib: u32, iterations: u32, concurrency: usize) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow::anyhow!("bad argon2 parameters: {e}"))?;
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(Params) -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!("hasher closed: {e}")))?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || f(params))
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!("hashing task failed: {e}")))
    }

    /// A PHC string (`$argon2id$v=19$...`) for the password.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move |params| {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Self::argon2(params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::internal(anyhow::anyhow!("argon2: {e}")))
        })
        .await?
    }

    /// Whether `password` matches the stored hash (constant-time inside argon2).
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool> {
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move |params| {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            Self::argon2(params)
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .await
    }

    /// A well-formed hash of no one's password, verified when an account does not exist.
    const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

    /// Spends the time of one verification, so "no such account" looks like "wrong password".
    pub async fn waste_one_verification(&self) {
        let _ = self.verify("not the password", Self::DUMMY_HASH).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_is_well_formed() {
        assert!(PasswordHash::new(PasswordHasher::DUMMY_HASH).is_ok());
        let hasher = PasswordHasher::new(8192, 1, 2).expect("params");
        let hash = hasher.hash("secret123").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("secret123", &hash).await.expect("verify"));
        assert!(!hasher.verify("secret124", &hash).await.expect("verify"));
        assert!(
            !hasher
                .verify("secret123", "not a hash")
                .await
                .expect("verify")
        );
    }
}
