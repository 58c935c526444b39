//! The hall's accounts: retail companies, enterprise customers, hall users with their
//! login tokens, and the binding of a user to an enterprise.

use sqlx::{Any, Executor};

/// A retail company and the services it offers (a JSON array of names).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompanyRow {
    pub id: String,
    pub name: String,
    pub services: String,
    pub created_at: i64,
}

/// An enterprise customer, as an operator registered it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnterpriseRow {
    pub credit_code: String,
    pub name: String,
    pub contact_phone: String,
    pub created_at: i64,
    /// How many users may be bound to it at once.
    pub max_users: i64,
}

/// A user of the hall, with the enterprise and company it is bound to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub phone: String,
    pub password_hash: String,
    pub enterprise_code: Option<String>,
    pub company_id: Option<String>,
    pub services: Option<String>,
    pub bound_at: Option<i64>,
    pub created_at: i64,
}

const USER_COLUMNS: &str =
    "id, phone, password_hash, enterprise_code, company_id, services, bound_at, created_at";

// --- companies and enterprises ---------------------------------------------------------------

pub async fn insert_company<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    c: &CompanyRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO retail_companies (id, name, services, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.services)
    .bind(c.created_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn companies<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<CompanyRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, services, created_at FROM retail_companies ORDER BY name")
        .fetch_all(ex)
        .await
}

/// The first `limit` companies by name (indexed: no sort of the table).
pub async fn first_companies<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    limit: i64,
) -> Result<Vec<CompanyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, services, created_at FROM retail_companies ORDER BY name, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await
}

pub async fn company<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<CompanyRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, services, created_at FROM retail_companies WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn company_by_name<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    name: &str,
) -> Result<Option<CompanyRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, services, created_at FROM retail_companies WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await
}

pub async fn insert_enterprise<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    e: &EnterpriseRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO retail_enterprises (credit_code, name, contact_phone, created_at, max_users) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&e.credit_code)
    .bind(&e.name)
    .bind(&e.contact_phone)
    .bind(e.created_at)
    .bind(e.max_users)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn enterprises<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT credit_code, name, contact_phone, created_at, max_users FROM retail_enterprises ORDER BY name",
    )
    .fetch_all(ex)
    .await
}

/// The first `limit` enterprises by name (indexed: no sort of the table).
pub async fn first_enterprises<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    limit: i64,
) -> Result<Vec<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT credit_code, name, contact_phone, created_at, max_users FROM retail_enterprises \
         ORDER BY name, credit_code LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await
}

pub async fn enterprise<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    credit_code: &str,
) -> Result<Option<EnterpriseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT credit_code, name, contact_phone, created_at, max_users FROM retail_enterprises WHERE credit_code = $1",
    )
    .bind(credit_code)
    .fetch_optional(ex)
    .await
}

/// Changes an enterprise's name, contact phone and/or how many users it may have; false when
/// there is no such enterprise.
pub async fn update_enterprise<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    credit_code: &str,
    name: Option<&str>,
    contact_phone: Option<&str>,
    max_users: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retail_enterprises SET name = COALESCE($1, name), contact_phone = COALESCE($2, contact_phone), \
         max_users = COALESCE($4, max_users) WHERE credit_code = $3",
    )
    .bind(name)
    .bind(contact_phone)
    .bind(credit_code)
    .bind(max_users)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes a company's name and/or services; false when there is no such company.
pub async fn update_company<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    name: Option<&str>,
    services: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retail_companies SET name = COALESCE($1, name), services = COALESCE($2, services) WHERE id = $3",
    )
    .bind(name)
    .bind(services)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- users and tokens ------------------------------------------------------------------------

pub async fn insert_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    phone: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO retail_users (id, phone, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(phone)
    .bind(password_hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn user_by_phone<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    phone: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM retail_users WHERE phone = $1"
    ))
    .bind(phone)
    .fetch_optional(ex)
    .await
}

/// The user of a live token.
pub async fn user_by_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM retail_users u JOIN retail_tokens t ON t.user_id = u.id \
         WHERE t.token_hash = $1 AND t.expires_at > $2",
        USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await
}

pub async fn users<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM retail_users ORDER BY created_at DESC, id"
    ))
    .fetch_all(ex)
    .await
}

pub async fn insert_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn delete_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM retail_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Ends every login of a user but the one whose token hash is `keep`.
pub async fn delete_other_tokens<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    keep: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM retail_tokens WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn set_password<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    password_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE retail_users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now)
        .bind(user_id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Changes the phone if `old` is still the user's; false otherwise.
pub async fn set_phone<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    old: &str,
    new: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retail_users SET phone = $1, updated_at = $2 WHERE id = $3 AND phone = $4",
    )
    .bind(new)
    .bind(now)
    .bind(user_id)
    .bind(old)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Binds (or re-binds) a user to an enterprise and a company with the services it opened;
/// `None` unbinds.
pub async fn set_binding<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    binding: Option<(&str, &str, &str)>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let (enterprise, company, services) = match binding {
        Some((e, c, s)) => (Some(e), Some(c), Some(s)),
        None => (None, None, None),
    };
    let done = sqlx::query(
        "UPDATE retail_users SET enterprise_code = $1, company_id = $2, services = $3, \
         bound_at = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(enterprise)
    .bind(company)
    .bind(services)
    .bind(binding.map(|_| now))
    .bind(now)
    .bind(user_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Binds a user to an enterprise when the enterprise has room for one more user. The count is
/// taken under the enterprise row's lock (an update of it, on PostgreSQL; SQLite's write
/// transaction holds the database), so two users binding at once cannot both take the last
/// place. `None` when there is no such enterprise; `Some(false)` when it is full.
pub async fn bind_if_room(
    conn: &mut crate::store::Conn,
    user_id: &str,
    binding: (&str, &str, &str),
    now: i64,
) -> Result<Option<bool>, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar(
        "UPDATE retail_enterprises SET max_users = max_users WHERE credit_code = $1 RETURNING max_users",
    )
    .bind(binding.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(max) = max else {
        return Ok(None);
    };
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM retail_users WHERE enterprise_code = $1 AND id <> $2",
    )
    .bind(binding.0)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    if others >= max {
        return Ok(Some(false));
    }
    Ok(Some(
        set_binding(&mut *conn, user_id, Some(binding), now).await?,
    ))
}

/// The users bound to an enterprise: `(phone, bound_at)`, first bound first.
pub async fn bound_users<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    credit_code: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT phone, COALESCE(bound_at, 0) FROM retail_users WHERE enterprise_code = $1 \
         ORDER BY bound_at, phone",
    )
    .bind(credit_code)
    .fetch_all(ex)
    .await
}
