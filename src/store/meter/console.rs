//! The console's tables of prepaid meters: households with their balance and meters, API
//! accounts, recharges, and consumption (each applied reading, and the sums the chart draws).

use crate::store::records::{Column, Kind, Listing, RangeColumns};

/// Meter rows belong to no IoT range (IoT accounts see none of them).
const NO_RANGE: RangeColumns = RangeColumns {
    vendor: None,
    agent: None,
    dealer: None,
    owner: None,
};

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
            "(SELECT COUNT(*) FROM meters m WHERE m.user_code = h.user_code)",
            Kind::Int,
        )
        .unsorted(),
        Column::text(
            "meter_table_no",
            "(SELECT MIN(m.table_no) FROM meters m WHERE m.user_code = h.user_code)",
        )
        .unsorted(),
    ],
    order: "h.user_code",
    key: "h.user_code",
    range: NO_RANGE,
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
            "(SELECT COUNT(*) FROM meter_households h WHERE h.admin_user_name = a.admin_user_name)",
            Kind::Int,
        )
        .unsorted(),
        Column::of("created_at", "a.created_at", Kind::Time),
    ],
    order: "a.admin_user_name",
    key: "a.admin_user_name",
    range: NO_RANGE,
};

/// Recharges, newest first.
pub const RECHARGES: Listing = Listing {
    from: "meter_recharges r LEFT JOIN meter_households h ON h.user_code = r.user_code",
    filter: "",
    columns: &[
        Column::text("meter_out_trade_no", "r.out_trade_no").searched(),
        Column::text("meter_account", "r.admin_user_name").searched(),
        Column::text("meter_user_code", "r.user_code").searched(),
        Column::text("meter_user_name", "COALESCE(h.user_name, '')").searched(),
        Column::of("amount", "r.amount", Kind::Fen),
        Column::of("created_at", "r.created_at", Kind::Time),
    ],
    order: "r.created_at DESC, r.admin_user_name, r.out_trade_no",
    key: "r.admin_user_name, r.out_trade_no",
    range: NO_RANGE,
};

/// Applied readings with what each cost, newest first.
pub const CONSUMPTION: Listing = Listing {
    from: "meter_consumptions c JOIN meters m ON m.table_no = c.table_no",
    filter: "",
    columns: &[
        Column::text("meter_table_no", "c.table_no").searched(),
        Column::text("meter_user_code", "m.user_code").searched(),
        Column::of("meter_read_time", "c.read_time", Kind::Time),
        Column::of("meter_last_reading", "c.last_reading", Kind::Fen),
        Column::of("meter_reading", "c.reading", Kind::Fen),
        Column::of("meter_used", "c.reading - c.last_reading", Kind::Fen),
        Column::of("amount", "c.amount", Kind::Fen),
    ],
    order: "c.read_time DESC, c.table_no",
    key: "c.table_no, c.read_time",
    range: NO_RANGE,
};

/// Consumption (units used, in hundredths, and money) by UTC hour of the reading, for the
/// per-day chart (summed into local days by the page).
pub const CONSUMPTION_HOURS: Listing = Listing {
    from: "(SELECT CAST(read_time / 3600000 AS BIGINT) AS hour, \
           CAST(SUM(reading - last_reading) AS BIGINT) AS used, CAST(SUM(amount) AS BIGINT) AS fen \
           FROM meter_consumptions GROUP BY CAST(read_time / 3600000 AS BIGINT)) h",
    filter: "",
    columns: &[
        Column::of("meter_hour", "h.hour", Kind::Int),
        Column::of("meter_used", "h.used", Kind::Fen),
        Column::of("amount", "h.fen", Kind::Fen),
    ],
    order: "h.hour",
    key: "h.hour",
    range: NO_RANGE,
};
