//! The console's tables of prepaid meters: households with their balance and meters, API
//! accounts, recharges, and consumption (each applied reading, and the sums the chart draws).

use sqlx::Row;

use crate::store::records::{Column, Kind, Listing, RangeColumns};
use crate::store::{Error, Store};

/// Households with their balance, how many meters they have and the first meter's number.
pub const HOUSEHOLDS: Listing = Listing {
    from: "meter_households h",
    filter: "",
    columns: &[
        Column::text("meter_user_code", "h.user_code").searched(),
        Column::text("meter_user_name", "h.user_name").searched(),
        Column::text("meter_account", "h.admin_user_name").searched(),
        Column::text("meter_build_code", "h.build_code"),
        Column::text("address", "h.address").searched(),
        Column::text("meter_house_number", "COALESCE(h.house_number, '')"),
        Column::of("balance", "h.balance", Kind::Fen),
        Column::of(
            "meter_count",
            "(SELECT COUNT(*) FROM meters m INDEXED BY meters_household WHERE m.user_code = h.user_code)",
            Kind::Int,
        )
        .unsorted(),
        Column::text(
            "meter_table_no",
            "(SELECT MIN(m.table_no) FROM meters m INDEXED BY meters_household \
             WHERE m.user_code = h.user_code)",
        )
        .unsorted(),
    ],
    order: "h.user_code",
    key: "h.user_code",
    range: RangeColumns::NONE,
};

/// The API accounts third-party platforms sign in with.
pub const ACCOUNTS: Listing = Listing {
    from: "meter_api_accounts a",
    filter: "",
    columns: &[
        Column::text("meter_account", "a.admin_user_name").searched(),
        Column::of("meter_api_enabled", "a.api_enabled", Kind::Flag),
        Column::of(
            "meter_households",
            "(SELECT COUNT(*) FROM meter_households h INDEXED BY meter_households_account \
             WHERE h.admin_user_name = a.admin_user_name)",
            Kind::Int,
        )
        .unsorted(),
        Column::of("created_at", "a.created_at", Kind::Time),
    ],
    order: "a.admin_user_name",
    key: "a.admin_user_name",
    range: RangeColumns::NONE,
};

/// Recharges, newest first.
pub const RECHARGES: Listing = Listing {
    from: "meter_recharges r LEFT JOIN meter_households h ON h.user_code = r.user_code",
    filter: "",
    columns: &[
        Column::text("meter_out_trade_no", "r.out_trade_no").searched(),
        Column::text("meter_account", "r.admin_user_name").searched(),
        Column::text("meter_user_code", "r.user_code").searched(),
        Column::text("meter_user_name", "COALESCE(h.user_name, '')").searched_in(
            "r.user_code",
            "meter_households",
            "user_code",
            "user_name",
        ),
        Column::of("amount", "r.amount", Kind::Fen),
        Column::of("created_at", "r.created_at", Kind::Time),
    ],
    order: "r.created_at DESC, r.admin_user_name DESC, r.out_trade_no DESC",
    key: "r.admin_user_name, r.out_trade_no",
    range: RangeColumns::NONE,
};

/// Applied readings with what each cost, newest first.
pub const CONSUMPTION: Listing = Listing {
    from: "meter_consumptions c JOIN meters m ON m.table_no = c.table_no",
    filter: "",
    columns: &[
        Column::text("meter_table_no", "c.table_no").searched(),
        Column::text("meter_user_code", "m.user_code").searched_in(
            "c.table_no",
            "meters",
            "table_no",
            "user_code",
        ),
        Column::of("meter_read_time", "c.read_time", Kind::Time),
        Column::of("meter_last_reading", "c.last_reading", Kind::Fen),
        Column::of("meter_reading", "c.reading", Kind::Fen),
        Column::of("meter_used", "c.reading - c.last_reading", Kind::Fen),
        Column::of("amount", "c.amount", Kind::Fen),
    ],
    order: "c.read_time DESC, c.table_no DESC",
    key: "c.table_no, c.read_time",
    range: RangeColumns::NONE,
};

/// Consumption by UTC hour (hours since the epoch) of the readings taken in `[from, to)` (UTC
/// milliseconds), for the per-day chart (summed into local days by the page): (hour, units
/// used in hundredths, fen). Reads only the window, by the index on the reading time.
pub async fn use_by_hour(store: &Store, from: i64, to: i64) -> Result<Vec<[i64; 3]>, Error> {
    let rows = sqlx::query(
        "SELECT CAST(read_time / 3600000 AS BIGINT), CAST(SUM(reading - last_reading) AS BIGINT), \
         CAST(SUM(amount) AS BIGINT) FROM meter_consumptions \
         WHERE read_time >= $1 AND read_time < $2 GROUP BY CAST(read_time / 3600000 AS BIGINT)",
    )
    .bind(from)
    .bind(to)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| Ok([r.try_get(0)?, r.try_get(1)?, r.try_get(2)?]))
        .collect()
}

/// When the first and the last applied readings were taken (UTC milliseconds), if any.
pub async fn reading_span(store: &Store) -> Result<Option<(i64, i64)>, Error> {
    let row = sqlx::query("SELECT MIN(read_time), MAX(read_time) FROM meter_consumptions")
        .fetch_one(store.pool())
        .await?;
    Ok(row
        .try_get::<Option<i64>, _>(0)?
        .zip(row.try_get::<Option<i64>, _>(1)?))
}
