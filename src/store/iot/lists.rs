//! Lists: a page of rows in SQL, or every row in range.

/// A value a listing compares a column with.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// A page of a listing done in SQL: `column = value` conditions (columns are the caller's
/// constants, never input), an order and a window.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub conditions: Vec<(&'static str, Bind)>,
    pub order: String,
    pub limit: i64,
    pub offset: i64,
}

/// The rows of `table` matching `base` (a constant) and the page's conditions, in its order and
/// window, with the count of all matches.
pub async fn page<T>(
    pool: &sqlx::AnyPool,
    table: &'static str,
    columns: &'static str,
    base: &'static str,
    p: &Page,
) -> Result<(i64, Vec<T>), sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut clause = String::from(base);
    for (i, (column, _)) in p.conditions.iter().enumerate() {
        clause.push_str(&format!(" AND {column} = ${}", i + 1));
    }
    let n = p.conditions.len();
    // The cast keeps the count a BIGINT on both backends.
    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE {clause}");
    let rows_sql = format!(
        "SELECT {columns} FROM {table} WHERE {clause} ORDER BY {} LIMIT ${} OFFSET ${}",
        p.order,
        n + 1,
        n + 2
    );
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    let mut rows = sqlx::query_as::<_, T>(&rows_sql);
    for (_, value) in &p.conditions {
        match value {
            Bind::Text(s) => {
                count = count.bind(s.clone());
                rows = rows.bind(s.clone());
            }
            Bind::Int(i) => {
                count = count.bind(*i);
                rows = rows.bind(*i);
            }
        }
    }
    let total = count.fetch_one(pool).await?;
    let rows = rows.bind(p.limit).bind(p.offset).fetch_all(pool).await?;
    Ok((total, rows))
}

/// Every live row of a listing's table (one vendor's, or every vendor's), in `order` (the
/// caller's constant): what a list filters in memory when SQL cannot.
pub async fn all_of<T>(
    pool: &sqlx::AnyPool,
    (table, base): (&'static str, &'static str),
    columns: &'static str,
    order: &'static str,
    vid: Option<&str>,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = format!("SELECT {columns} FROM {table} WHERE {base}");
    match vid {
        Some(vid) => {
            sqlx::query_as(&format!("{sql} AND vid = $1 ORDER BY {order}"))
                .bind(vid)
                .fetch_all(pool)
                .await
        }
        None => {
            sqlx::query_as(&format!("{sql} ORDER BY {order}"))
                .fetch_all(pool)
                .await
        }
    }
}

pub const LIST_USERS: (&str, &str) = ("iot_users", "kind = 'member' AND deleted_at IS NULL");
pub const LIST_DEVICES: (&str, &str) = ("iot_devices", "deleted_at IS NULL");
pub const LIST_PRODUCTS: (&str, &str) = ("iot_products", "deleted_at IS NULL");
pub const LIST_ORDERS: (&str, &str) = ("iot_orders", "deleted_at IS NULL");
pub const LIST_TICKETS: (&str, &str) = ("iot_tickets", "1 = 1");
