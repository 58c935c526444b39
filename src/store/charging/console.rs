//! The charging station's tables in the operators' console: the detail records, the drivers,
//! the OCPP charge boxes and the drivers' cards.
//! Each is one constant query (see [`crate::store::records`]); the station itself (piles,
//! queues, waiting area) is live in memory and read through the domain, not here.

use crate::store::records::{Column, Kind, Listing, RangeColumns};

/// The detail records (详单), newest first (by their id, the primary key).
pub const RECORDS: Listing = Listing {
    from: "charging_records",
    filter: "",
    columns: &[
        Column::of("id", "id", Kind::Int),
        Column::text("chg_driver", "username").searched(),
        Column::text("chg_number", "number").searched(),
        Column::text("chg_pile", "pile").searched(),
        Column::of("chg_wh", "wh", Kind::Int),
        Column::of("chg_requested_at", "requested_at", Kind::Time),
        Column::of("chg_start", "start_at", Kind::Time),
        Column::of("chg_stop", "stop_at", Kind::Time),
        Column::of("chg_charge_fee", "charge_fee", Kind::Fen),
        Column::of("chg_service_fee", "service_fee", Kind::Fen),
        Column::of("chg_total_fee", "charge_fee + service_fee", Kind::Fen),
        Column::text("chg_reason", "reason"),
    ],
    order: "id DESC",
    key: "id",
    range: RangeColumns::NONE,
};

/// The drivers' accounts, by user name (unique, indexed), with their counts of detail records
/// and of cards, each read through its table's index on the user name, named (`INDEXED BY`,
/// SQLite's; [`crate::store::records`] drops it on PostgreSQL): with 100,000 cards of one
/// driver, SQLite 3.46's statistics had it read the whole index for every driver shown (54 ms).
pub const DRIVERS: Listing = Listing {
    from: "charging_users u",
    filter: "",
    columns: &[
        Column::text("chg_username", "u.username").searched(),
        Column::of("created_at", "u.created_at", Kind::Time),
        Column::of(
            "chg_sessions",
            "(SELECT COUNT(*) FROM charging_records r INDEXED BY charging_records_user \
             WHERE r.username = u.username)",
            Kind::Int,
        )
        .unsorted(),
        Column::of(
            "chg_cards",
            "(SELECT COUNT(*) FROM charging_tags t INDEXED BY charging_tags_username \
             WHERE t.username = u.username)",
            Kind::Int,
        )
        .unsorted(),
    ],
    order: "u.username",
    key: "u.username",
    range: RangeColumns::NONE,
};

/// The OCPP charge boxes, by id (the primary key): what each said of itself at its last boot and
/// when it was last heard. Which pile each drives, and whether it is linked now, are the
/// station's (in memory): the console adds them to the page's rows.
pub const BOXES: Listing = Listing {
    from: "charging_boxes",
    filter: "",
    columns: &[
        Column::text("chg_box", "id").searched(),
        Column::text("chg_box_vendor", "vendor").searched(),
        Column::text("chg_box_model", "model").searched(),
        Column::text("chg_box_serial", "serial").searched(),
        Column::text("chg_box_firmware", "firmware"),
        Column::of("chg_box_booted", "booted_at", Kind::Time),
        Column::of("chg_box_seen", "last_seen_at", Kind::Time),
        Column::of("created_at", "created_at", Kind::Time),
    ],
    order: "id",
    key: "id",
    range: RangeColumns::NONE,
};

/// The drivers' cards (OCPP id tags), by tag (the primary key), with the driver each names.
pub const TAGS: Listing = Listing {
    from: "charging_tags",
    filter: "",
    columns: &[
        Column::text("chg_id_tag", "id_tag").searched(),
        Column::text("chg_driver", "username").searched(),
        Column::of("created_at", "created_at", Kind::Time),
    ],
    order: "id_tag",
    key: "id_tag",
    range: RangeColumns::NONE,
};
