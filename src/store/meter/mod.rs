//! The prepaid smart-meter registry: API accounts and their tokens, buildings, addresses,
//! households and meters.

pub mod console;

use sqlx::{Any, Executor};

pub async fn insert_account<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    name: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO meter_api_accounts (admin_user_name, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(password_hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `(password_hash, api_enabled)` of an API account.
pub async fn account<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    name: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT password_hash, api_enabled FROM meter_api_accounts WHERE admin_user_name = $1",
    )
    .bind(name)
    .fetch_optional(ex)
    .await
}

pub async fn insert_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    name: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO meter_tokens (token_hash, admin_user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(name)
        .bind(now)
        .bind(expires_at)
        .execute(ex)
        .await
        .map(|_| ())
}

/// `(admin_user_name, expires_at, api_enabled)` of a token (in place on SQLite).
pub async fn token(
    store: &super::Store,
    token_hash: &str,
) -> Result<Option<(String, i64, i64)>, sqlx::Error> {
    const SQL: &str = "SELECT t.admin_user_name, t.expires_at, a.api_enabled FROM meter_tokens t \
         JOIN meter_api_accounts a ON a.admin_user_name = t.admin_user_name WHERE t.token_hash = $1";
    store.fast_fetch_optional(SQL, &[token_hash.into()]).await
}

/// Turns an account's API rights on or off; false when there is no such account.
pub async fn set_api_enabled<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    name: &str,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE meter_api_accounts SET api_enabled = $1 WHERE admin_user_name = $2")
            .bind(i64::from(enabled))
            .bind(name)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// `(user_code, admin_user_name)` of a household: who may recharge it (in place on SQLite).
pub async fn household_owner(
    store: &super::Store,
    user_code: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    const SQL: &str =
        "SELECT user_code, admin_user_name FROM meter_households WHERE user_code = $1";
    store.fast_fetch_optional(SQL, &[user_code.into()]).await
}

pub async fn upsert_building<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    code: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO meter_buildings (admin_user_name, build_code, name, position) VALUES ($1, $2, $3, \
         (SELECT COALESCE(MAX(position), 0) + 1 FROM meter_buildings WHERE admin_user_name = $1)) \
         ON CONFLICT (admin_user_name, build_code) DO UPDATE SET name = excluded.name",
    )
    .bind(account)
    .bind(code)
    .bind(name)
    .execute(ex)
    .await
    .map(|_| ())
}

/// `(name, build_code)` of an account's buildings.
pub async fn buildings<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT name, build_code FROM meter_buildings WHERE admin_user_name = $1 ORDER BY position, build_code")
        .bind(account)
        .fetch_all(ex)
        .await
}

pub async fn upsert_address<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    code: &str,
    address: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO meter_addresses (admin_user_name, build_code, address, position) VALUES ($1, $2, $3, \
         (SELECT COALESCE(MAX(position), 0) + 1 FROM meter_addresses WHERE admin_user_name = $1)) ON CONFLICT DO NOTHING",
    )
    .bind(account)
    .bind(code)
    .bind(address)
    .execute(ex)
    .await
    .map(|_| ())
}

/// `(address, build_code)` of an account, optionally of one building.
pub async fn addresses<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    build_code: Option<&str>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT address, build_code FROM meter_addresses WHERE admin_user_name = $1 \
         AND ($2 IS NULL OR build_code = $2) ORDER BY position, build_code, address",
    )
    .bind(account)
    .bind(build_code)
    .fetch_all(ex)
    .await
}

/// A household as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HouseholdRow {
    pub user_code: String,
    pub admin_user_name: String,
    pub build_code: String,
    pub address: String,
    pub user_name: String,
    pub house_number: Option<String>,
    pub balance: i64,
}

const HOUSEHOLD_COLUMNS: &str =
    "user_code, admin_user_name, build_code, address, user_name, house_number, balance";

/// Creates a household or updates its registry fields (never its balance).
pub async fn upsert_household<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    h: &HouseholdRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO meter_households (user_code, admin_user_name, build_code, address, user_name, house_number, balance, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_code) DO UPDATE SET build_code = excluded.build_code, \
         address = excluded.address, user_name = excluded.user_name, house_number = excluded.house_number",
    )
    .bind(&h.user_code)
    .bind(&h.admin_user_name)
    .bind(&h.build_code)
    .bind(&h.address)
    .bind(&h.user_name)
    .bind(&h.house_number)
    .bind(h.balance)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn household<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_code: &str,
) -> Result<Option<HouseholdRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM meter_households WHERE user_code = $1"
    ))
    .bind(user_code)
    .fetch_optional(ex)
    .await
}

/// An account's households, optionally of one building and one address.
pub async fn households<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    build_code: Option<&str>,
    address: Option<&str>,
) -> Result<Vec<HouseholdRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM meter_households WHERE admin_user_name = $1 \
         AND ($2 IS NULL OR build_code = $2) AND ($3 IS NULL OR address = $3) ORDER BY user_code"
    ))
    .bind(account)
    .bind(build_code)
    .bind(address)
    .fetch_all(ex)
    .await
}

/// A meter as stored (reading in hundredths of a unit, price in fen per unit).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeterRow {
    pub table_no: String,
    pub user_code: String,
    pub table_type: i64,
    pub unit_price: i64,
    pub reading: i64,
    pub read_time: Option<i64>,
}

pub async fn upsert_meter<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    m: &MeterRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO meters (table_no, user_code, table_type, unit_price, reading, read_time, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (table_no) DO UPDATE SET user_code = excluded.user_code, \
         table_type = excluded.table_type, unit_price = excluded.unit_price",
    )
    .bind(&m.table_no)
    .bind(&m.user_code)
    .bind(m.table_type)
    .bind(m.unit_price)
    .bind(m.reading)
    .bind(m.read_time)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A household's meters, by number.
pub async fn meters_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_code: &str,
) -> Result<Vec<MeterRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT table_no, user_code, table_type, unit_price, reading, read_time FROM meters WHERE user_code = $1 ORDER BY table_no",
    )
    .bind(user_code)
    .fetch_all(ex)
    .await
}

/// A recharge to record.
pub struct NewRecharge<'a> {
    pub account: &'a str,
    pub out_trade_no: &'a str,
    pub user_code: &'a str,
    pub amount: i64,
    pub created_at: i64,
}

/// Records recharges in one statement (distinct keys, at most a few thousand); returns the
/// `(account, out_trade_no)` of those that were new, the others being known already.
pub async fn insert_recharges(
    conn: &mut super::Conn,
    rows: &[NewRecharge<'_>],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO meter_recharges (admin_user_name, out_trade_no, user_code, amount, created_at) \
         VALUES {} ON CONFLICT DO NOTHING RETURNING admin_user_name, out_trade_no",
        super::placeholders(conn, rows.len(), 5)
    );
    let mut query = sqlx::query_as(&sql);
    for r in rows {
        query = query
            .bind(r.account)
            .bind(r.out_trade_no)
            .bind(r.user_code)
            .bind(r.amount)
            .bind(r.created_at);
    }
    query.fetch_all(conn).await
}

/// `(user_code, amount)` of a known recharge.
pub async fn recharge<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
    out_trade_no: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT user_code, amount FROM meter_recharges WHERE admin_user_name = $1 AND out_trade_no = $2")
        .bind(account)
        .bind(out_trade_no)
        .fetch_optional(ex)
        .await
}

/// Adds `delta` fen to a household's balance.
pub async fn add_to_balance(
    conn: &mut super::Conn,
    user_code: &str,
    delta: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE meter_households SET balance = balance + $1 WHERE user_code = $2")
        .bind(delta)
        .bind(user_code)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A household's recharges within `[from, to)`: `(out_trade_no, amount, created_at)`, oldest first (as the document's example).
pub async fn recharges<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    user_code: &str,
    from: i64,
    to: i64,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<(String, i64, i64)>), sqlx::Error> {
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM meter_recharges WHERE user_code = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(user_code)
    .bind(from)
    .bind(to)
    .fetch_one(ex)
    .await?;
    let rows = sqlx::query_as(
        "SELECT out_trade_no, amount, created_at FROM meter_recharges WHERE user_code = $1 AND created_at >= $2 \
         AND created_at < $3 ORDER BY created_at, out_trade_no LIMIT $4 OFFSET $5",
    )
    .bind(user_code)
    .bind(from)
    .bind(to)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await?;
    Ok((total, rows))
}

/// Every household's balance: `(user_code, balance)`.
pub async fn balances<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT user_code, balance FROM meter_households ORDER BY user_code")
        .fetch_all(ex)
        .await
}

/// A meter by number, with its household's account: `(meter, admin_user_name)`.
pub async fn meter<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    table_no: &str,
) -> Result<Option<MeterRow>, sqlx::Error> {
    sqlx::query_as("SELECT table_no, user_code, table_type, unit_price, reading, read_time FROM meters WHERE table_no = $1")
        .bind(table_no)
        .fetch_optional(ex)
        .await
}

/// The reading applied for a meter at an instant, if any.
pub async fn consumption_reading<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    table_no: &str,
    read_time: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT reading FROM meter_consumptions WHERE table_no = $1 AND read_time = $2",
    )
    .bind(table_no)
    .bind(read_time)
    .fetch_optional(ex)
    .await
}

/// One applied reading.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsumptionRow {
    pub table_no: String,
    pub read_time: i64,
    pub reading: i64,
    pub last_reading: i64,
    pub last_read_time: Option<i64>,
    pub amount: i64,
}

/// Applies a reading: the consumption row, the meter's new reading.
pub async fn apply_reading(
    conn: &mut super::Conn,
    c: &ConsumptionRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO meter_consumptions (table_no, read_time, reading, last_reading, last_read_time, amount, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&c.table_no)
    .bind(c.read_time)
    .bind(c.reading)
    .bind(c.last_reading)
    .bind(c.last_read_time)
    .bind(c.amount)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE meters SET reading = $1, read_time = $2 WHERE table_no = $3")
        .bind(c.reading)
        .bind(c.read_time)
        .bind(&c.table_no)
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// A household's applied readings within `[from, to)`, oldest first (as the document's example).
pub async fn consumptions<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    user_code: &str,
    from: i64,
    to: i64,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<ConsumptionRow>), sqlx::Error> {
    let filter = "FROM meter_consumptions c JOIN meters m ON m.table_no = c.table_no \
                  WHERE m.user_code = $1 AND c.read_time >= $2 AND c.read_time < $3";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
        .bind(user_code)
        .bind(from)
        .bind(to)
        .fetch_one(ex)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT c.table_no, c.read_time, c.reading, c.last_reading, c.last_read_time, c.amount {filter} \
         ORDER BY c.read_time, c.table_no LIMIT $4 OFFSET $5"
    ))
    .bind(user_code)
    .bind(from)
    .bind(to)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await?;
    Ok((total, rows))
}
