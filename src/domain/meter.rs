//! Prepaid smart meters (seed 003): API accounts that third-party platforms log in with, and
//! what each account may see: its buildings, addresses, households and their meters.
//!
//! Tokens are random and opaque (stored hashed), valid two hours; a token only works for the
//! account that obtained it.

use super::identity::Password;
use super::money::Fen;
use super::{AuthFailure, Core, Entity, Error, Forbidden, Result, Timestamp, ids};
use crate::store::meter as store_meter;

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

/// A meter: odd `table_type` is electricity, even is water.
#[derive(Debug, Clone)]
pub struct Meter {
    pub table_no: String,
    pub table_type: i64,
    /// Hundredths of a unit (kWh or m³).
    pub reading: i64,
    pub read_time: Option<Timestamp>,
}

impl Core {
    /// Logs an API account in; the token is random and opaque.
    pub async fn meter_login(&self, name: &str, password: &str) -> Result<String> {
        let password = Password::presented(password, "api_password")?;
        let Some((hash, enabled)) = store_meter::account(self.store.pool(), name.trim()).await?
        else {
            self.passwords.waste_one_verification().await;
            return Err(Error::NotFound(Entity::MeterAccount));
        };
        if enabled == 0 {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        let guard_key = format!("meter:{}", name.trim());
        self.ensure_not_locked(&guard_key).await?;
        if !self.passwords.verify(password.expose(), &hash).await? {
            self.record_failed_sign_in(&guard_key).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        }
        self.clear_failed_sign_ins(&guard_key).await?;
        let now = self.now();
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
    pub async fn meter_authenticate(&self, token: &str, name: &str) -> Result<()> {
        let Some((owner, expires_at)) =
            store_meter::token(self.store.pool(), &ids::token_hash(token.trim())).await?
        else {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        };
        if self.now().millis() >= expires_at {
            return Err(Error::Unauthorized(AuthFailure::ExpiredToken));
        }
        if owner != name.trim() {
            return Err(Error::Forbidden(Forbidden::NotAllowed));
        }
        Ok(())
    }

    /// `(name, build_code)` of the account's buildings.
    pub async fn meter_buildings(&self, account: &str) -> Result<Vec<(String, String)>> {
        Ok(store_meter::buildings(self.store.pool(), account).await?)
    }

    /// `(address, build_code)` of the account, optionally of one building.
    pub async fn meter_addresses(
        &self,
        account: &str,
        build_code: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        Ok(store_meter::addresses(self.store.pool(), account, build_code).await?)
    }

    /// The account's households, optionally of one building and address.
    pub async fn meter_households(
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

    /// One household of the account, with its meters; another account's household is refused.
    pub async fn meter_household(
        &self,
        account: &str,
        user_code: &str,
    ) -> Result<(Household, Vec<Meter>)> {
        let row = store_meter::household(self.store.pool(), user_code.trim())
            .await?
            .ok_or(Error::NotFound(Entity::Household))?;
        if row.admin_user_name != account {
            return Err(Error::Forbidden(Forbidden::NotAllowed));
        }
        let meters = store_meter::meters_of(self.store.pool(), &row.user_code)
            .await?
            .into_iter()
            .map(|m| Meter {
                table_no: m.table_no,
                table_type: m.table_type,
                reading: m.reading,
                read_time: m.read_time.map(Timestamp::from_millis),
            })
            .collect();
        Ok((row.into(), meters))
    }

    /// Creates an API account (operators); an existing name is a conflict.
    pub async fn create_meter_account(&self, name: &str, password: &str) -> Result<()> {
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
        if store_meter::insert_account(self.store.pool(), name, &hash, self.now().millis()).await? {
            Ok(())
        } else {
            Err(Error::Conflict(Entity::MeterAccount))
        }
    }

    /// Any household with its meters, for operators.
    pub async fn meter_household_any(
        &self,
        user_code: &str,
    ) -> Result<(String, Household, Vec<Meter>)> {
        let row = store_meter::household(self.store.pool(), user_code.trim())
            .await?
            .ok_or(Error::NotFound(Entity::Household))?;
        let account = row.admin_user_name.clone();
        let (household, meters) = self.meter_household(&account, user_code).await?;
        Ok((account, household, meters))
    }

    /// Creates an API account if the name is free (demo data, operator tools).
    pub async fn ensure_meter_account(&self, name: &str, password: &str) -> Result<()> {
        let hash = self.passwords.hash(password).await?;
        store_meter::insert_account(self.store.pool(), name, &hash, self.now().millis()).await?;
        Ok(())
    }
}

/// What a recharge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recharge {
    Credited,
    /// The same request came before: nothing changed.
    AlreadyCredited,
}

/// The journal account of a household.
pub fn ledger_account(user_code: &str) -> String {
    format!("meter:{user_code}")
}

/// The most one recharge may credit (fen): 10,000 yuan.
pub const MAX_RECHARGE: Fen = Fen(1_000_000);

fn parse_out_trade_no(s: &str) -> Result<&str> {
    let s = s.trim();
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid(
            "out_trade_no",
            "订单号须为1-64位字母、数字、-或_",
        ));
    }
    Ok(s)
}

impl Core {
    /// Credits a household once per (account, `out_trade_no`): the same request again answers
    /// success and changes nothing; the same `out_trade_no` with another household or amount is
    /// refused. The journal entry, the recharge and the balance change commit together.
    pub async fn meter_recharge(
        &self,
        account: &str,
        user_code: &str,
        out_trade_no: &str,
        fee: Fen,
    ) -> Result<Recharge> {
        let out_trade_no = parse_out_trade_no(out_trade_no)?;
        if fee.0 <= 0 || fee > MAX_RECHARGE {
            return Err(Error::invalid(
                "total_fee",
                "充值金额须大于0且不超过10000元",
            ));
        }
        let (household, _) = self.meter_household(account, user_code).await?;
        let now = self.now().millis();
        let mut tx = self.store.begin_write().await?;
        if store_meter::insert_recharge(
            &mut tx,
            account,
            out_trade_no,
            &household.user_code,
            fee.0,
            now,
        )
        .await?
        {
            let entry = crate::store::ledger::EntryRow {
                entry_key: format!("meter-recharge:{account}:{out_trade_no}"),
                kind: "meter_recharge".into(),
                account: ledger_account(&household.user_code),
                amount: fee.0,
                reference: out_trade_no.to_owned(),
                external_id: None,
                created_at: now,
            };
            crate::store::ledger::append(&mut *tx, &entry).await?;
            store_meter::add_to_balance(&mut tx, &household.user_code, fee.0).await?;
            tx.commit().await?;
            return Ok(Recharge::Credited);
        }
        drop(tx);
        match store_meter::recharge(self.store.pool(), account, out_trade_no).await? {
            Some((code, amount)) if code == household.user_code && amount == fee.0 => {
                Ok(Recharge::AlreadyCredited)
            }
            _ => Err(Error::State("该订单号已使用，且用户或金额不同".into())),
        }
    }

    /// A household's recharges within `[from, to)`: `(out_trade_no, amount, time)`, newest first.
    pub async fn meter_recharges(
        &self,
        account: &str,
        user_code: &str,
        from: Timestamp,
        to: Timestamp,
        page: i64,
        size: i64,
    ) -> Result<(i64, Vec<(String, Fen, Timestamp)>)> {
        crate::domain::check_page(
            page,
            size,
            1000,
            "pageSize",
            "pageNo须为正整数，pageSize须在1-1000之间",
        )?;
        let (household, _) = self.meter_household(account, user_code).await?;
        let (total, rows) = store_meter::recharges(
            self.store.pool(),
            &household.user_code,
            from.millis(),
            to.millis(),
            size,
            (page - 1) * size,
        )
        .await?;
        Ok((
            total,
            rows.into_iter()
                .map(|(no, a, t)| (no, Fen(a), Timestamp::from_millis(t)))
                .collect(),
        ))
    }

    /// Puts a household's starting balance into the journal (once), so the ledger explains it.
    pub(crate) async fn journal_opening_balance<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
        &self,
        ex: E,
        user_code: &str,
        balance: Fen,
    ) -> Result<()> {
        if balance.0 == 0 {
            return Ok(());
        }
        let entry = crate::store::ledger::EntryRow {
            entry_key: format!("meter-opening:{user_code}"),
            kind: "meter_opening_balance".into(),
            account: ledger_account(user_code),
            amount: balance.0,
            reference: user_code.to_owned(),
            external_id: None,
            created_at: self.now().millis(),
        };
        crate::store::ledger::append(ex, &entry).await?;
        Ok(())
    }
}

/// One reading as it comes in: meter number, reading (units, at most two decimals), local time.
#[derive(Debug, Clone)]
pub struct ReadingInput {
    pub table_no: String,
    pub reading: String,
    pub read_time: String,
}

/// What a batch of readings did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadingReport {
    pub applied: usize,
    pub unchanged: usize,
}

impl Core {
    /// Applies a batch of readings in one transaction, all or nothing. Each new reading records a
    /// consumption entry and deducts consumption x unit price from the household's balance (a
    /// journal entry too). A reading lower than the meter's last one, or not newer, refuses the
    /// whole batch; the same reading sent again is applied once.
    pub async fn record_readings(&self, batch: &[ReadingInput]) -> Result<ReadingReport> {
        if batch.is_empty() || batch.len() > 10_000 {
            return Err(Error::invalid("readings", "a batch holds 1-10000 readings"));
        }
        let zone = self.settings.zone;
        let now = self.now().millis();
        let mut report = ReadingReport::default();
        let mut tx = self.store.begin_write().await?;
        for (i, r) in batch.iter().enumerate() {
            let at = |msg: String| {
                Error::invalid("readings", format!("#{} ({}): {msg}", i + 1, r.table_no))
            };
            let reading = Fen::parse_yuan(&r.reading)
                .filter(|v| v.0 >= 0)
                .ok_or_else(
                    || at("reading must be a number >= 0 with at most two decimals".into()),
                )?
                .0;
            let read_time = Timestamp::parse_local_datetime(&r.read_time, zone)
                .ok_or_else(|| at("readTime must be YYYY-MM-DD HH:MM:SS".into()))?
                .millis();
            let meter = store_meter::meter(&mut *tx, r.table_no.trim())
                .await?
                .ok_or_else(|| at("no such meter".into()))?;
            if let Some(applied) =
                store_meter::consumption_reading(&mut *tx, &meter.table_no, read_time).await?
            {
                if applied == reading {
                    report.unchanged += 1;
                    continue;
                }
                return Err(at("another reading was applied for that time".into()));
            }
            if meter.read_time.is_some_and(|last| read_time <= last) {
                return Err(at("older than the meter's last reading".into()));
            }
            if reading < meter.reading {
                return Err(at("lower than the meter's last reading".into()));
            }
            let amount = ((reading - meter.reading) * meter.unit_price + 50) / 100;
            let row = store_meter::ConsumptionRow {
                table_no: meter.table_no.clone(),
                read_time,
                reading,
                last_reading: meter.reading,
                last_read_time: meter.read_time,
                amount,
            };
            store_meter::apply_reading(&mut tx, &row, now).await?;
            if amount > 0 {
                store_meter::add_to_balance(&mut tx, &meter.user_code, -amount).await?;
                let entry = crate::store::ledger::EntryRow {
                    entry_key: format!("meter-consumption:{}:{read_time}", meter.table_no),
                    kind: "meter_consumption".into(),
                    account: ledger_account(&meter.user_code),
                    amount: -amount,
                    reference: meter.table_no.clone(),
                    external_id: None,
                    created_at: now,
                };
                crate::store::ledger::append(&mut *tx, &entry).await?;
            }
            report.applied += 1;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// A household's applied readings within `[from, to)`, newest first.
    pub async fn meter_consumptions(
        &self,
        account: &str,
        user_code: &str,
        from: Timestamp,
        to: Timestamp,
        page: i64,
        size: i64,
    ) -> Result<(i64, Vec<store_meter::ConsumptionRow>)> {
        crate::domain::check_page(
            page,
            size,
            1000,
            "pageSize",
            "pageNo须为正整数，pageSize须在1-1000之间",
        )?;
        let (household, _) = self.meter_household(account, user_code).await?;
        Ok(store_meter::consumptions(
            self.store.pool(),
            &household.user_code,
            from.millis(),
            to.millis(),
            size,
            (page - 1) * size,
        )
        .await?)
    }
}
