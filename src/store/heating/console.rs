//! The console's tables of district heating: users, heat accounts, bills, payment orders, and
//! the figures its statistics draw (bills by season and status, money received by hour).

use sqlx::Row;

use crate::store::records::{Column, Kind, Listing, RangeColumns};
use crate::store::{Error, Store};

/// Heating rows belong to no IoT range (IoT accounts see none of them).
const NO_RANGE: RangeColumns = RangeColumns::NONE;

/// Users of the mini-program, by phone number (unique, indexed).
pub const USERS: Listing = Listing {
    from: "users",
    filter: "",
    columns: &[
        Column::text("phone", "phone").searched(),
        Column::text("heat_nickname", "nickname").searched(),
        Column::text("heat_real_name", "COALESCE(real_name, '')").searched(),
        Column::of("heat_login_count", "login_count", Kind::Int),
        Column::of("created_at", "created_at", Kind::Time),
        Column::of(
            "disabled",
            "CASE WHEN disabled_at IS NULL THEN 0 ELSE 1 END",
            Kind::Flag,
        ),
        Column::text("id", "id").unsorted(),
    ],
    // Phone numbers are unique.
    order: "phone",
    key: "phone",
    range: NO_RANGE,
};

/// Heat accounts with the phone of the user bound to each.
pub const ACCOUNTS: Listing = Listing {
    from: "heat_accounts a LEFT JOIN users u ON u.id = a.bound_user_id",
    filter: "",
    columns: &[
        Column::text("heat_account", "a.heat_account").searched(),
        Column::text("heat_real_name", "a.real_name").searched(),
        Column::text("address", "a.address").searched(),
        Column::of("heat_area", "a.heating_area_centi", Kind::Fen),
        Column::text("heat_bound_phone", "COALESCE(u.phone, '')").searched_in(
            "a.bound_user_id",
            "users",
            "id",
            "phone",
        ),
        Column::of("heat_bound_at", "a.bound_at", Kind::Time),
    ],
    order: "a.heat_account",
    key: "a.heat_account",
    range: NO_RANGE,
};

/// Every bill, newest number first.
pub const BILLS: Listing = Listing {
    from: "heating_bills",
    filter: "",
    columns: &[
        Column::text("heat_bill_id", "bill_id").searched(),
        Column::text("heat_account", "heat_account").searched(),
        Column::text("heat_season", "heating_season").searched(),
        Column::of("amount", "amount", Kind::Fen),
        Column::of("heat_bill_date", "bill_date", Kind::Time),
        Column::text("heat_due_date", "due_date"),
        Column::text("status", "status"),
        Column::of("paid_at", "paid_at", Kind::Time),
    ],
    order: "bill_id DESC",
    key: "bill_id",
    range: NO_RANGE,
};

/// Payment orders with the payer's phone, newest first.
pub const ORDERS: Listing = Listing {
    from: "heating_orders o LEFT JOIN users u ON u.id = o.user_id",
    filter: "",
    columns: &[
        Column::text("heat_order_id", "o.order_id").searched(),
        Column::text("heat_account", "o.heat_account").searched(),
        Column::text("phone", "COALESCE(u.phone, '')").searched_in(
            "o.user_id",
            "users",
            "id",
            "phone",
        ),
        Column::of("amount", "o.amount", Kind::Fen),
        Column::text("status", "o.status"),
        Column::text("heat_gateway", "o.gateway"),
        Column::text("heat_transaction_id", "COALESCE(o.transaction_id, '')").searched(),
        Column::of("created_at", "o.created_at", Kind::Time),
        Column::of("paid_at", "o.paid_at", Kind::Time),
    ],
    order: "o.created_at DESC, o.order_id DESC",
    key: "o.order_id",
    range: NO_RANGE,
};

/// Bills counted and summed by season and status.
pub const SEASONS: Listing = Listing {
    from: "(SELECT heating_season, status, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS fen \
           FROM heating_bills GROUP BY heating_season, status) s",
    filter: "",
    columns: &[
        Column::text("heat_season", "s.heating_season"),
        Column::text("status", "s.status"),
        Column::of("heat_bill_count", "s.n", Kind::Int),
        Column::of("amount", "s.fen", Kind::Fen),
    ],
    order: "s.heating_season, s.status",
    key: "s.heating_season, s.status",
    range: NO_RANGE,
};

/// Heating money received (the journal's payments and imported payments) by UTC hour (hours
/// since the epoch) in `[from, to)` (UTC milliseconds), so that the page can sum local days in
/// any whole-hour zone: (hour, fen). Reads only the window, by the journal's time index.
pub async fn received_by_hour(store: &Store, from: i64, to: i64) -> Result<Vec<[i64; 2]>, Error> {
    let rows = sqlx::query(
        "SELECT CAST(created_at / 3600000 AS BIGINT), CAST(SUM(amount) AS BIGINT) \
         FROM ledger_entries WHERE created_at >= $1 AND created_at < $2 \
         AND kind IN ('heating_payment', 'imported_payment') \
         GROUP BY CAST(created_at / 3600000 AS BIGINT)",
    )
    .bind(from)
    .bind(to)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| Ok([r.try_get(0)?, r.try_get(1)?]))
        .collect()
}
