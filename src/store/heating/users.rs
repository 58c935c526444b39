//! Heating mini-program users.

use sqlx::{Any, Executor};

/// A user row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub phone: String,
    pub password_hash: String,
    pub nickname: String,
    pub avatar: String,
    pub real_name: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
    pub login_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
}

const COLUMNS: &str = "id, phone, password_hash, nickname, avatar, real_name, id_card, address, login_count, created_at, updated_at, disabled_at";

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    u: &UserRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, phone, password_hash, nickname, avatar, real_name, id_card, address, login_count, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&u.id)
    .bind(&u.phone)
    .bind(&u.password_hash)
    .bind(&u.nickname)
    .bind(&u.avatar)
    .bind(&u.real_name)
    .bind(&u.id_card)
    .bind(&u.address)
    .bind(u.login_count)
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn find_by_phone<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    phone: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE phone = $1"))
        .bind(phone)
        .fetch_optional(ex)
        .await
}

pub async fn find_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The user of a live session: the hot path of every authenticated read. The placeholders
/// appear in order, as the SQLite reader binds by position.
const LIVE_SESSION_USER: &str = "SELECT u.id, u.phone, u.password_hash, u.nickname, u.avatar, u.real_name, \
     u.id_card, u.address, u.login_count, u.created_at, u.updated_at, u.disabled_at, ha.heat_account, \
     CAST(COALESCE((SELECT SUM(b.amount) FROM heating_bills b WHERE b.heat_account = ha.heat_account \
       AND b.status = 'unpaid'), 0) AS BIGINT) AS owed \
     FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN heat_accounts ha ON ha.bound_user_id = u.id \
     WHERE s.id = $1 AND s.revoked_at IS NULL AND u.id = $2 AND s.audience = $3";

/// A live session's user, with the heat account they hold and what it owes (fen).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUserRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub heat_account: Option<String>,
    pub owed: i64,
}

impl crate::store::fast_read::InPlaceRow for SessionUserRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(SessionUserRow {
            user: UserRow {
                id: r.get(0)?,
                phone: r.get(1)?,
                password_hash: r.get(2)?,
                nickname: r.get(3)?,
                avatar: r.get(4)?,
                real_name: r.get(5)?,
                id_card: r.get(6)?,
                address: r.get(7)?,
                login_count: r.get(8)?,
                created_at: r.get(9)?,
                updated_at: r.get(10)?,
                disabled_at: r.get(11)?,
            },
            heat_account: r.get(12)?,
            owed: r.get(13)?,
        })
    }
}

/// The user of a live session, in one query (in place on SQLite, see [`crate::store::fast_read`]).
pub async fn find_by_live_session(
    store: &crate::store::Store,
    session_id: &str,
    user_id: &str,
    audience: &str,
) -> Result<Option<SessionUserRow>, sqlx::Error> {
    store
        .fast_fetch_optional(
            LIVE_SESSION_USER,
            &[session_id.into(), user_id.into(), audience.into()],
        )
        .await
}

/// A page of users, newest first, optionally only phones starting with `phone_prefix`.
pub async fn list<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    phone_prefix: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<UserRow>), sqlx::Error> {
    crate::store::PrefixListing {
        table: "users",
        column: "phone",
        select: COLUMNS,
        order: "created_at DESC, id",
    }
    .page(ex, phone_prefix, limit, offset)
    .await
}

/// Disables (`Some(now)`) or enables (`None`) a user; false if there is no such user.
pub async fn set_disabled<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    disabled_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
        .bind(disabled_at)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Remembers the user's WeChat openid (the payer of JSAPI payments).
pub async fn set_openid<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    openid: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET wechat_openid = $1 WHERE id = $2")
        .bind(openid)
        .bind(id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// The user's WeChat openid, if known.
pub async fn openid<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT wechat_openid FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(ex)
            .await?;
    Ok(found.flatten())
}

/// Counts a login; returns how many logins there were before this one.
pub async fn record_login<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<i64, sqlx::Error> {
    let previous: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET login_count = login_count + 1 WHERE id = $1 RETURNING login_count - 1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(previous.unwrap_or(0))
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange<'a> {
    pub nickname: Option<&'a str>,
    pub real_name: Option<&'a str>,
    pub id_card: Option<&'a str>,
    pub address: Option<&'a str>,
}

pub async fn update_profile<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    change: &ProfileChange<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE users SET nickname = COALESCE($1, nickname), real_name = COALESCE($2, real_name), \
         id_card = COALESCE($3, id_card), address = COALESCE($4, address), updated_at = $5 WHERE id = $6",
    )
    .bind(change.nickname)
    .bind(change.real_name)
    .bind(change.id_card)
    .bind(change.address)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_password<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    password_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now)
        .bind(id)
        .execute(ex)
        .await
        .map(|_| ())
}
