//! Prepaid smart meters (seed 003): API accounts that third-party platforms log in with, and
//! what each account may see: its buildings, addresses, households and their meters.
//!
//! One service, [`Meter`], owns the area: the API accounts and their tokens (this file),
//! readings (`readings.rs`), recharges and their group-commit queue (`recharges.rs`), the CSV
//! registry import ([`import`]) and the demo data (`demo.rs`).
//!
//! Tokens are random and opaque (stored hashed), valid two hours; a token only works for the
//! account that obtained it.

use std::sync::Arc;

use super::guard::SignInGuard;
use super::identity::Password;
use super::money::Fen;
use super::passwords::PasswordHasher;
use super::{AuthFailure, Clock, Entity, Error, Forbidden, Result, Settings, Timestamp, ids};
use crate::store::Store;
use crate::store::meter as store_meter;

mod demo;
pub mod import;
mod readings;
mod recharges;

pub use readings::{ReadingInput, ReadingReport};
use recharges::RechargeQueue;
pub(crate) use recharges::recharge_entry;
pub use recharges::{DEFAULT_MAX_RECHARGE, Recharge, ledger_account};

/// The prepaid-meter service: API accounts and tokens, the registry the accounts see,
/// readings, recharges (it owns their group-commit queue) and the registry import.
pub struct Meter {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    passwords: PasswordHasher,
    guard: Arc<SignInGuard>,
    /// Recharges waiting for their group commit.
    recharges: RechargeQueue,
}

/// How long a meter API token lives.
pub const TOKEN_TTL_SECS: i64 = 7200;

/// A household with what the API shows of it.
#[derive(Debug, Clone)]
pub struct Household {
    pub user_code: String,
    pub build_code: String,
    pub address: String,
    pub user_name: String,
    pub house_number: Option<String>,
    pub balance: Fen,
}

impl From<store_meter::HouseholdRow> for Household {
    fn from(r: store_meter::HouseholdRow) -> Self {
        Household {
            user_code: r.user_code,
            build_code: r.build_code,
            address: r.address,
            user_name: r.user_name,
            house_number: r.house_number,
            balance: Fen(r.balance),
        }
    }
}

/// A meter as the API shows it: odd `table_type` is electricity, even is water.
#[derive(Debug, Clone)]
pub struct MeterView {
    pub table_no: String,
    pub table_type: i64,
    /// Hundredths of a unit (kWh or m³).
    pub reading: i64,
    pub read_time: Option<Timestamp>,
}

impl Meter {
    /// The service over the store; the recharge committer starts with the first recharge.
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        guard: Arc<SignInGuard>,
    ) -> Meter {
        Meter {
            recharges: RechargeQueue::new(store.clone(), recharges::Recharges),
            store,
            clock,
            settings,
            passwords,
            guard,
        }
    }

    /// Logs an API account in; the token is random and opaque.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<String> {
        let password = Password::presented(password, "api_password")?;
        let Some((hash, enabled)) = store_meter::account(self.store.pool(), name.trim()).await?
        else {
            self.passwords.waste_one_verification().await;
            return Err(Error::NotFound(Entity::MeterAccount));
        };
        if enabled == 0 {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        self.guard
            .verify(&format!("meter:{}", name.trim()), from, &password, &hash)
            .await?;
        let now = self.clock.now();
        let token = ids::random_token();
        store_meter::insert_token(
            self.store.pool(),
            &ids::token_hash(&token),
            name.trim(),
            now.millis(),
            now.plus_secs(TOKEN_TTL_SECS).millis(),
        )
        .await?;
        Ok(token)
    }

    /// Checks that `token` is live and belongs to the account `name`.
    pub async fn authenticate(&self, token: &str, name: &str) -> Result<()> {
        let Some((owner, expires_at, enabled)) =
            store_meter::token(&self.store, &ids::token_hash(token.trim())).await?
        else {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        };
        if self.clock.now().millis() >= expires_at {
            return Err(Error::Unauthorized(AuthFailure::ExpiredToken));
        }
        if owner != name.trim() {
            return Err(Error::Forbidden(Forbidden::NotAllowed));
        }
        if enabled == 0 {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        Ok(())
    }

    /// Gives an account its API rights back, or takes them away (its tokens stop working).
    pub async fn set_account_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        if !store_meter::set_api_enabled(self.store.pool(), name.trim(), enabled).await? {
            return Err(Error::NotFound(Entity::MeterAccount));
        }
        Ok(())
    }

    /// `(name, build_code)` of the account's buildings.
    pub async fn buildings(&self, account: &str) -> Result<Vec<(String, String)>> {
        Ok(store_meter::buildings(self.store.pool(), account).await?)
    }

    /// `(address, build_code)` of the account, optionally of one building.
    pub async fn addresses(
        &self,
        account: &str,
        build_code: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        Ok(store_meter::addresses(self.store.pool(), account, build_code).await?)
    }

    /// The account's households, optionally of one building and address.
    pub async fn households(
        &self,
        account: &str,
        build_code: Option<&str>,
        address: Option<&str>,
    ) -> Result<Vec<Household>> {
        Ok(
            store_meter::households(self.store.pool(), account, build_code, address)
                .await?
                .into_iter()
                .map(Household::from)
                .collect(),
        )
    }

    /// One household of the account, with its meters; another account's household is answered
    /// as one that does not exist (the caller learns nothing of other accounts' numbers).
    pub async fn household(
        &self,
        account: &str,
        user_code: &str,
    ) -> Result<(Household, Vec<MeterView>)> {
        let row = store_meter::household(self.store.pool(), user_code.trim())
            .await?
            .ok_or(Error::NotFound(Entity::Household))?;
        if row.admin_user_name != account {
            return Err(Error::NotFound(Entity::Household));
        }
        let meters = store_meter::meters_of(self.store.pool(), &row.user_code)
            .await?
            .into_iter()
            .map(|m| MeterView {
                table_no: m.table_no,
                table_type: m.table_type,
                reading: m.reading,
                read_time: m.read_time.map(Timestamp::from_millis),
            })
            .collect();
        Ok((row.into(), meters))
    }

    /// Creates an API account (operators); an existing name is a conflict.
    pub async fn create_account(&self, name: &str, password: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::invalid(
                "admin_user_name",
                "1-64 letters, digits, _ or -",
            ));
        }
        let password = Password::parse_new(password, "api_password", 6, 64)?;
        let hash = self.passwords.hash(password.expose()).await?;
        if store_meter::insert_account(self.store.pool(), name, &hash, self.clock.now().millis())
            .await?
        {
            Ok(())
        } else {
            Err(Error::Conflict(Entity::MeterAccount))
        }
    }

    /// Any household with its meters, for operators.
    pub async fn household_any(
        &self,
        user_code: &str,
    ) -> Result<(String, Household, Vec<MeterView>)> {
        let row = store_meter::household(self.store.pool(), user_code.trim())
            .await?
            .ok_or(Error::NotFound(Entity::Household))?;
        let account = row.admin_user_name.clone();
        let (household, meters) = self.household(&account, user_code).await?;
        Ok((account, household, meters))
    }

    /// Creates an API account if the name is free (demo data, operator tools).
    pub async fn ensure_account(&self, name: &str, password: &str) -> Result<()> {
        let hash = self.passwords.hash(password).await?;
        store_meter::insert_account(self.store.pool(), name, &hash, self.clock.now().millis())
            .await?;
        Ok(())
    }
}
