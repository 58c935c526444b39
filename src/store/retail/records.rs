//! An enterprise's records: contracts, monthly use, electricity plans and settlement bills.

use sqlx::{Any, Executor};

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

/// One contract, with the names of both parties.
pub async fn contract<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    contract_id: &str,
) -> Result<Option<ContractRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.contract_id, c.enterprise_code, c.company_id, c.title, c.content, c.files, c.state, \
         c.elec_number, c.sign_date, c.expire_date, e.name AS party_a, m.name AS party_b \
         FROM retail_contracts c JOIN retail_enterprises e ON e.credit_code = c.enterprise_code \
         JOIN retail_companies m ON m.id = c.company_id WHERE c.contract_id = $1",
    )
    .bind(contract_id)
    .fetch_optional(ex)
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

pub async fn insert_plan(conn: &mut crate::store::Conn, p: &PlanRow) -> Result<bool, sqlx::Error> {
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
    conn: &mut crate::store::Conn,
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
