//! SQL of the electricity retail business hall (seed 000).

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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: String,
    pub channel: String,
    pub title: String,
    pub content: String,
    pub author: String,
    pub imgsrc: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GuideRow {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub position: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContractRow {
    pub contract_id: String,
    pub enterprise_code: String,
    pub company_id: String,
    pub title: String,
    pub content: String,
    pub files: String,
    pub state: String,
    pub elec_number: i64,
    pub sign_date: String,
    pub expire_date: String,
    /// The enterprise's name (party A).
    pub party_a: String,
    /// The company's name (party B).
    pub party_b: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: String,
    pub enterprise_code: String,
    pub plan_type: String,
    pub year: i64,
    pub month: i64,
    pub quantity: i64,
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillRow {
    pub id: String,
    pub enterprise_code: String,
    pub bill_date: String,
    pub elec_use_date: String,
    pub user_benefits: i64,
    pub settle_number: i64,
    pub actual_elec_use: i64,
    pub declare_elec_number: i64,
    pub decompose_elec_number: i64,
    pub consultation_earn: i64,
    pub assign_elec_number: i64,
    pub bid_income: i64,
    pub check_elec_number: i64,
    pub check_bill: i64,
    pub confirmer: Option<String>,
    pub confirm_date: Option<String>,
    /// The enterprise's name.
    pub username: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedbackRow {
    pub id: String,
    pub user_id: String,
    pub phone: String,
    pub content: String,
    pub contact: Option<String>,
    pub picture: Option<String>,
    pub picture_type: Option<String>,
    pub created_at: i64,
}

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
    conn: &mut super::Conn,
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

// --- content ---------------------------------------------------------------------------------

pub async fn insert_article<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    a: &ArticleRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_articles (id, channel, title, content, author, imgsrc, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(&a.channel)
    .bind(&a.title)
    .bind(&a.content)
    .bind(&a.author)
    .bind(&a.imgsrc)
    .bind(a.created_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A channel's articles, newest first (every channel when `channel` is `None`).
pub async fn articles<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    channel: Option<&str>,
) -> Result<Vec<ArticleRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, channel, title, content, author, imgsrc, created_at FROM retail_articles \
         WHERE ($1 IS NULL OR channel = $1) ORDER BY created_at DESC, id",
    )
    .bind(channel)
    .fetch_all(ex)
    .await
}

pub async fn delete_article<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM retail_articles WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_guide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    g: &GuideRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_guide (id, question, answer, position, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&g.id)
    .bind(&g.question)
    .bind(&g.answer)
    .bind(g.position)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn guide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<GuideRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, question, answer, position FROM retail_guide ORDER BY position, created_at, id",
    )
    .fetch_all(ex)
    .await
}

pub async fn delete_guide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM retail_guide WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

// --- contracts, use, plans, bills ------------------------------------------------------------

pub async fn insert_contract<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    c: &ContractRow,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO retail_contracts (contract_id, enterprise_code, company_id, title, content, files, \
         state, elec_number, sign_date, expire_date, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
    )
    .bind(&c.contract_id)
    .bind(&c.enterprise_code)
    .bind(&c.company_id)
    .bind(&c.title)
    .bind(&c.content)
    .bind(&c.files)
    .bind(&c.state)
    .bind(c.elec_number)
    .bind(&c.sign_date)
    .bind(&c.expire_date)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Contracts, newest signature first: one enterprise's, or all.
pub async fn contracts<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enterprise_code: Option<&str>,
) -> Result<Vec<ContractRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.contract_id, c.enterprise_code, c.company_id, c.title, c.content, c.files, c.state, \
         c.elec_number, c.sign_date, c.expire_date, e.name AS party_a, m.name AS party_b \
         FROM retail_contracts c JOIN retail_enterprises e ON e.credit_code = c.enterprise_code \
         JOIN retail_companies m ON m.id = c.company_id \
         WHERE ($1 IS NULL OR c.enterprise_code = $1) ORDER BY c.sign_date DESC, c.contract_id",
    )
    .bind(enterprise_code)
    .fetch_all(ex)
    .await
}

/// Changes a contract's state, files and/or expiry date; false when there is no such contract.
pub async fn update_contract<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    contract_id: &str,
    state: Option<&str>,
    files: Option<&str>,
    expire_date: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retail_contracts SET state = COALESCE($1, state), files = COALESCE($2, files), \
         expire_date = COALESCE($3, expire_date) WHERE contract_id = $4",
    )
    .bind(state)
    .bind(files)
    .bind(expire_date)
    .bind(contract_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn put_monthly_use<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enterprise_code: &str,
    year: i64,
    month: i64,
    quantity: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_monthly_use (enterprise_code, year, month, quantity) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (enterprise_code, year, month) DO UPDATE SET quantity = excluded.quantity",
    )
    .bind(enterprise_code)
    .bind(year)
    .bind(month)
    .bind(quantity)
    .execute(ex)
    .await
    .map(|_| ())
}

/// `(month, quantity)` of one enterprise's year, by month.
pub async fn monthly_use<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enterprise_code: &str,
    year: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT month, quantity FROM retail_monthly_use WHERE enterprise_code = $1 AND year = $2 ORDER BY month",
    )
    .bind(enterprise_code)
    .bind(year)
    .fetch_all(ex)
    .await
}

const PLAN_COLUMNS: &str =
    "id, enterprise_code, plan_type, year, month, quantity, state, created_at, updated_at";

pub async fn plans<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enterprise_code: &str,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PLAN_COLUMNS} FROM retail_plans WHERE enterprise_code = $1 \
         ORDER BY year DESC, plan_type DESC, month DESC"
    ))
    .bind(enterprise_code)
    .fetch_all(ex)
    .await
}

/// The plan of one period (`month` 0 for a year plan).
pub async fn plan<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enterprise_code: &str,
    plan_type: &str,
    year: i64,
    month: i64,
) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PLAN_COLUMNS} FROM retail_plans WHERE enterprise_code = $1 AND plan_type = $2 \
         AND year = $3 AND month = $4"
    ))
    .bind(enterprise_code)
    .bind(plan_type)
    .bind(year)
    .bind(month)
    .fetch_optional(ex)
    .await
}

pub async fn insert_plan(conn: &mut super::Conn, p: &PlanRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO retail_plans (id, enterprise_code, plan_type, year, month, quantity, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(&p.id)
    .bind(&p.enterprise_code)
    .bind(&p.plan_type)
    .bind(p.year)
    .bind(p.month)
    .bind(p.quantity)
    .bind(&p.state)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes a draft plan; false when it is no longer a draft.
pub async fn update_draft_plan(
    conn: &mut super::Conn,
    id: &str,
    quantity: i64,
    state: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retail_plans SET quantity = $1, state = $2, updated_at = $3 WHERE id = $4 AND state = 'draft'",
    )
    .bind(quantity)
    .bind(state)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_bill<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    b: &BillRow,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO retail_bills (id, enterprise_code, bill_date, elec_use_date, user_benefits, settle_number, \
         actual_elec_use, declare_elec_number, decompose_elec_number, consultation_earn, assign_elec_number, \
         bid_income, check_elec_number, check_bill, confirmer, confirm_date, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING",
    )
    .bind(&b.id)
    .bind(&b.enterprise_code)
    .bind(&b.bill_date)
    .bind(&b.elec_use_date)
    .bind(b.user_benefits)
    .bind(b.settle_number)
    .bind(b.actual_elec_use)
    .bind(b.declare_elec_number)
    .bind(b.decompose_elec_number)
    .bind(b.consultation_earn)
    .bind(b.assign_elec_number)
    .bind(b.bid_income)
    .bind(b.check_elec_number)
    .bind(b.check_bill)
    .bind(&b.confirmer)
    .bind(&b.confirm_date)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

const BILL_SELECT: &str = "SELECT b.id, b.enterprise_code, b.bill_date, b.elec_use_date, b.user_benefits, \
     b.settle_number, b.actual_elec_use, b.declare_elec_number, b.decompose_elec_number, b.consultation_earn, \
     b.assign_elec_number, b.bid_income, b.check_elec_number, b.check_bill, b.confirmer, b.confirm_date, \
     e.name AS username FROM retail_bills b JOIN retail_enterprises e ON e.credit_code = b.enterprise_code";

/// Settlement bills, newest first: one enterprise's, or all.
pub async fn bills<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    enterprise_code: Option<&str>,
) -> Result<Vec<BillRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{BILL_SELECT} WHERE ($1 IS NULL OR b.enterprise_code = $1) ORDER BY b.bill_date DESC, b.id"
    ))
    .bind(enterprise_code)
    .fetch_all(ex)
    .await
}

pub async fn bill<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<BillRow>, sqlx::Error> {
    sqlx::query_as(&format!("{BILL_SELECT} WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Confirms an unconfirmed bill; false when it is confirmed already (or unknown).
pub async fn confirm_bill<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    confirmer: &str,
    date: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retail_bills SET confirmer = $1, confirm_date = $2 WHERE id = $3 AND confirmer IS NULL",
    )
    .bind(confirmer)
    .bind(date)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- feedback --------------------------------------------------------------------------------

pub async fn insert_feedback<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &FeedbackRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_feedback (id, user_id, content, contact, picture, picture_type, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&f.id)
    .bind(&f.user_id)
    .bind(&f.content)
    .bind(&f.contact)
    .bind(&f.picture)
    .bind(&f.picture_type)
    .bind(f.created_at)
    .execute(ex)
    .await
    .map(|_| ())
}

const FEEDBACK_SELECT: &str = "SELECT f.id, f.user_id, u.phone, f.content, f.contact, f.picture, \
     f.picture_type, f.created_at FROM retail_feedback f JOIN retail_users u ON u.id = f.user_id";

pub async fn feedback<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<FeedbackRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{FEEDBACK_SELECT} ORDER BY f.created_at DESC, f.id"
    ))
    .fetch_all(ex)
    .await
}

pub async fn feedback_one<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<FeedbackRow>, sqlx::Error> {
    sqlx::query_as(&format!("{FEEDBACK_SELECT} WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}
