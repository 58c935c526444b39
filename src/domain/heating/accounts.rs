//! The heat-account registry and binding a user to an account.

use std::sync::Arc;

use super::{Area, LateFeeRule};
use crate::domain::identity::text_field;
use crate::domain::money::Fen;
use crate::domain::{Clock, Settings};
use crate::domain::{Entity, Error, Result, Timestamp};
use crate::store::Store;
use crate::store::heating::accounts as store_heat;
use crate::store::{self};

/// A heat account in the registry.
#[derive(Debug, Clone)]
pub struct HeatAccount {
    pub heat_account: String,
    pub real_name: String,
    pub id_card: String,
    pub address: String,
    pub heating_area: Area,
    pub bound_user_id: Option<String>,
    pub bound_at: Option<Timestamp>,
}

impl From<store_heat::HeatAccountRow> for HeatAccount {
    fn from(r: store_heat::HeatAccountRow) -> Self {
        HeatAccount {
            heat_account: r.heat_account,
            real_name: r.real_name,
            id_card: r.id_card,
            address: r.address,
            heating_area: Area(r.heating_area_centi),
            bound_user_id: r.bound_user_id,
            bound_at: r.bound_at.map(Timestamp::from_millis),
        }
    }
}

/// An account as an operator enters it (validated by [`AccountInput::validate`]).
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub heat_account: String,
    pub real_name: String,
    pub id_card: String,
    pub address: String,
    pub heating_area: String,
}

/// A heat account number: 1-32 letters, digits, `-` or `_`.
pub fn parse_account_number(s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty()
        || s.len() > 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid("heat_account", "供热账号格式不正确"));
    }
    Ok(s.to_owned())
}

/// An ID number as the registry holds it: 15 digits, or 17 digits and a digit or X. (The
/// registry is the company's data; the check digit is not enforced here.)
fn registry_id_card(s: &str) -> Result<String> {
    let s = s.trim().to_ascii_uppercase();
    let b = s.as_bytes();
    let ok = match b.len() {
        15 => b.iter().all(u8::is_ascii_digit),
        18 => b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X'),
        _ => false,
    };
    if ok {
        Ok(s)
    } else {
        Err(Error::invalid("id_card", "身份证号格式不正确"))
    }
}

impl AccountInput {
    /// Checks every field; the row to store.
    pub fn validate(&self, now: Timestamp) -> Result<store_heat::HeatAccountRow> {
        Ok(store_heat::HeatAccountRow {
            heat_account: parse_account_number(&self.heat_account)?,
            real_name: text_field(&self.real_name, "real_name", "户主姓名", 50)?,
            id_card: registry_id_card(&self.id_card)?,
            address: text_field(&self.address, "address", "供热地址", 200)?,
            heating_area_centi: Area::parse(&self.heating_area)
                .ok_or_else(|| Error::invalid("heating_area", "供热面积须为正数，最多两位小数"))?
                .0,
            bound_user_id: None,
            bound_at: None,
            created_at: now.millis(),
            updated_at: now.millis(),
        })
    }
}

/// What a user presents to bind an account (section 4.1).
#[derive(Debug)]
pub struct BindRequest<'a> {
    pub heat_account: &'a str,
    pub real_name: &'a str,
    pub id_card: &'a str,
    pub address: &'a str,
}

/// Why a bind was refused, beyond "no such account".
pub const ALREADY_BOUND: &str = "供热账号已被绑定";
pub const OWNER_MISMATCH: &str = "户主姓名或身份证号与登记信息不符";
pub const USER_HAS_ACCOUNT: &str = "您已绑定其他供热账号，请先解绑";

/// The registry of heat accounts and their bills: binding, figures, late fees, imports.
pub struct Accounts {
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) settings: Arc<Settings>,
}

impl Accounts {
    pub fn new(store: Store, clock: Clock, settings: Arc<Settings>) -> Accounts {
        Accounts {
            store,
            clock,
            settings,
        }
    }
}

impl Accounts {
    /// The late fee rule in force.
    pub fn late_fee_rule(&self) -> LateFeeRule {
        self.settings.late_fee
    }

    /// Creates or updates one account in the registry (its binding is kept).
    pub async fn save(&self, input: &AccountInput) -> Result<HeatAccount> {
        let row = input.validate(self.clock.now())?;
        store_heat::upsert_account(self.store.pool(), &row).await?;
        self.account(&row.heat_account).await
    }

    /// One account by number.
    pub async fn account(&self, heat_account: &str) -> Result<HeatAccount> {
        store_heat::find_account(self.store.pool(), heat_account.trim())
            .await?
            .map(HeatAccount::from)
            .ok_or(Error::NotFound(Entity::HeatAccount))
    }

    /// A page of accounts for operators.
    pub async fn list(
        &self,
        prefix: Option<&str>,
        page: i64,
        size: i64,
    ) -> Result<(i64, Vec<HeatAccount>)> {
        crate::domain::check_page(
            page,
            size,
            100,
            "page",
            "1 <= page <= 1000000 and 1 <= size <= 100",
        )?;
        let (total, rows) =
            store_heat::list_accounts(self.store.pool(), prefix, size, (page - 1) * size).await?;
        Ok((total, rows.into_iter().map(HeatAccount::from).collect()))
    }

    /// The account bound to a user.
    pub async fn bound(&self, user_id: &str) -> Result<HeatAccount> {
        store_heat::bound_account(self.store.pool(), user_id)
            .await?
            .map(HeatAccount::from)
            .ok_or(Error::NotFound(Entity::HeatAccount))
    }

    /// Binds an account to a user: the owner's name and ID number must match the registry, the
    /// account must be free, and the user must not hold another one (unbind first). Binding the
    /// account one already holds again is a no-op.
    pub async fn bind(&self, user_id: &str, req: BindRequest<'_>) -> Result<HeatAccount> {
        let number = parse_account_number(req.heat_account)?;
        text_field(req.address, "address", "供热地址", 200)?;
        let account = self.account(&number).await?;
        let name_ok = account.real_name == req.real_name.trim();
        let id_ok = account.id_card.eq_ignore_ascii_case(req.id_card.trim());
        if !(name_ok && id_ok) {
            return Err(Error::State(OWNER_MISMATCH.into()));
        }
        match account.bound_user_id.as_deref() {
            Some(holder) if holder == user_id => return Ok(account),
            Some(_) => return Err(Error::State(ALREADY_BOUND.into())),
            None => {}
        }
        match store_heat::bind(
            self.store.pool(),
            &number,
            user_id,
            self.clock.now().millis(),
        )
        .await
        {
            Ok(true) => self.account(&number).await,
            Ok(false) => {
                // Someone was faster: say who holds it now.
                let now_bound = self.account(&number).await?;
                if now_bound.bound_user_id.as_deref() == Some(user_id) {
                    Ok(now_bound)
                } else {
                    Err(Error::State(ALREADY_BOUND.into()))
                }
            }
            Err(e) if store::is_unique_violation(&e) => Err(Error::State(USER_HAS_ACCOUNT.into())),
            Err(e) => Err(e.into()),
        }
    }

    /// Unbinds the user's account; returns its number.
    pub async fn unbind(&self, user_id: &str) -> Result<String> {
        store_heat::unbind_user(self.store.pool(), user_id)
            .await?
            .ok_or(Error::NotFound(Entity::HeatAccount))
    }

    /// An operator unbinds an account from whoever holds it.
    pub async fn release(&self, heat_account: &str) -> Result<()> {
        if store_heat::unbind_account(self.store.pool(), heat_account.trim()).await? {
            Ok(())
        } else {
            Err(Error::NotFound(Entity::HeatAccount))
        }
    }

    /// What is still due for the account's current season (the bind reply's `heating_fee`).
    pub async fn season_due(&self, heat_account: &str) -> Result<Fen> {
        Ok(self.summary_of(heat_account).await?.unpaid)
    }
}
