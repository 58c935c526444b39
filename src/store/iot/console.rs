//! The IoT platform's tables of the operators' console: devices, vendors, the agent tree,
//! members, orders, tickets, commissions and withdrawals.
//!
//! Every listing names the columns that place its rows in the IoT ranges (vendor, agent,
//! dealer, owner), so that the domain's `Records` shows a vendor, agent or dealer only the
//! rows in its range (`Scope::range_of`). A party's name lives in its JSON profile, which no
//! portable SQL reads: the tables carry the profile text (searched, so a name is found) and
//! the console shows (and exports) the name read from it ([`Kind::Profile`]).

use crate::store::records::{Column, Kind, Listing, RangeColumns};

/// Devices, with their online state.
pub const DEVICES: Listing = Listing {
    from: "iot_devices d",
    filter: "d.deleted_at IS NULL",
    columns: &[
        Column::text("id", "d.did").searched(),
        Column::of("iot_online", "d.online", Kind::Flag),
        Column::of("type", "d.type", Kind::Int),
        Column::of("state", "d.state", Kind::Int),
        Column::text("member", "d.uid").searched(),
        Column::text("vendor", "d.vid").searched(),
        Column::text("agent", "d.agent"),
        Column::text("dealer", "d.dealer"),
        Column::text("iot_lock", "d.lock_reason").unsorted(),
        Column::of("iot_seen_at", "d.seen_at", Kind::Time),
        Column::of("iot_registered", "d.reg_at", Kind::Time),
    ],
    order: "d.did",
    key: "d.did",
    range: RangeColumns {
        vendor: Some("d.vid"),
        agent: Some("d.agent"),
        dealer: Some("d.dealer"),
        owner: Some("d.uid"),
    },
};

/// Vendors (AX-01): the platform's only.
pub const VENDORS: Listing = Listing {
    from: "iot_users u",
    filter: "u.kind = 'vendor' AND u.deleted_at IS NULL",
    columns: &[
        Column::text("id", "u.uid").searched(),
        Column::text("iot_code", "u.code").searched(),
        Column::text("username", "u.login").searched(),
        Column::of("name", "u.profile", Kind::Profile)
            .searched()
            .unsorted(),
        Column::text("mobile", "u.mobile").searched(),
        Column::of("state", "u.state", Kind::Int),
        Column::of("iot_registered", "u.reg_at", Kind::Time),
    ],
    order: "u.uid",
    key: "u.uid",
    range: RangeColumns {
        vendor: Some("u.uid"),
        agent: None,
        dealer: None,
        owner: None,
    },
};

/// The agent tree: each agent, then its dealers (`iot_tree` is the agent a row comes under).
pub const AGENTS: Listing = Listing {
    from: "iot_users u",
    filter: "u.kind IN ('agent', 'dealer') AND u.deleted_at IS NULL",
    columns: &[
        Column::text(
            "iot_tree",
            "CASE WHEN u.kind = 'agent' THEN u.uid ELSE u.agent END",
        ),
        Column::text("type", "u.kind"),
        Column::text("id", "u.uid").searched(),
        Column::text("username", "u.login").searched(),
        Column::of("name", "u.profile", Kind::Profile)
            .searched()
            .unsorted(),
        Column::text("mobile", "u.mobile").searched(),
        Column::text("vendor", "u.vid").searched(),
        Column::of("state", "u.state", Kind::Int),
        Column::of("iot_registered", "u.reg_at", Kind::Time),
    ],
    order: "CASE WHEN u.kind = 'agent' THEN u.uid ELSE u.agent END, u.kind, u.uid",
    // Unique (the id is); ties after a sort by the tree follow the tree's index.
    key: "u.kind, u.uid",
    range: RangeColumns {
        vendor: Some("u.vid"),
        agent: Some("CASE WHEN u.kind = 'agent' THEN u.uid ELSE u.agent END"),
        dealer: Some("CASE WHEN u.kind = 'dealer' THEN u.uid ELSE u.dealer END"),
        owner: None,
    },
};

/// Members (AA-01).
pub const MEMBERS: Listing = Listing {
    from: "iot_users u",
    filter: "u.kind = 'member' AND u.deleted_at IS NULL",
    columns: &[
        Column::text("id", "u.uid").searched(),
        Column::text("mobile", "u.mobile").searched(),
        Column::of("name", "u.profile", Kind::Profile)
            .searched()
            .unsorted(),
        Column::of("state", "u.state", Kind::Int),
        Column::text("iot_referrer", "u.rid"),
        Column::text("vendor", "u.vid").searched(),
        Column::text("agent", "u.agent"),
        Column::text("dealer", "u.dealer"),
        Column::of("iot_registered", "u.reg_at", Kind::Time),
    ],
    order: "u.uid",
    key: "u.uid",
    range: RangeColumns {
        vendor: Some("u.vid"),
        agent: Some("u.agent"),
        dealer: Some("u.dealer"),
        owner: Some("u.uid"),
    },
};

/// Orders (AD-01), newest first.
pub const ORDERS: Listing = Listing {
    from: "iot_orders o",
    filter: "o.deleted_at IS NULL",
    columns: &[
        Column::text("id", "o.oid").searched(),
        Column::text("state", "o.state"),
        Column::of("amount", "o.amount", Kind::Fen),
        Column::text("member", "o.uid").searched(),
        Column::text("vendor", "o.vid").searched(),
        Column::text("agent", "o.agent"),
        Column::text("dealer", "o.dealer"),
        Column::of("created_at", "o.created_at", Kind::Time),
        Column::of("paid_at", "o.paid_at", Kind::Time),
    ],
    order: "o.created_at DESC, o.oid DESC",
    key: "o.oid",
    range: RangeColumns {
        vendor: Some("o.vid"),
        agent: Some("o.agent"),
        dealer: Some("o.dealer"),
        owner: Some("o.uid"),
    },
};

/// Tickets (AE-01), newest first.
pub const TICKETS: Listing = Listing {
    from: "iot_tickets t",
    filter: "",
    columns: &[
        Column::text("id", "t.tid").searched(),
        Column::of("type", "t.type", Kind::Int),
        Column::of("status", "t.status", Kind::Int),
        Column::text("iot_detail", "t.detail").searched().unsorted(),
        Column::text("iot_device", "t.device_id").searched(),
        Column::text("iot_order", "t.order_id").searched(),
        Column::text("member", "t.uid"),
        Column::text("vendor", "t.vid"),
        Column::text("iot_handler", "t.handler"),
        Column::of("created_at", "t.created_at", Kind::Time),
    ],
    order: "t.tid DESC",
    key: "t.tid",
    range: RangeColumns {
        vendor: Some("t.vid"),
        agent: Some("t.agent"),
        dealer: Some("t.dealer"),
        owner: Some("t.uid"),
    },
};

/// Commissions (AF-01). A commission has no agent or dealer of its own: an agent's or a
/// dealer's range in it is what it earns itself (AF-02's "the caller's own").
pub const COMMISSIONS: Listing = Listing {
    from: "iot_commissions c",
    filter: "",
    columns: &[
        Column::text("iot_order", "c.oid").searched(),
        Column::of("iot_level", "c.level", Kind::Int),
        Column::text("iot_earner", "c.uid").searched(),
        Column::text("vendor", "c.vid"),
        Column::of("amount", "c.amount", Kind::Fen),
        Column::text("iot_rate", "c.rate").unsorted(),
        Column::text("state", "c.state"),
        Column::of("created_at", "c.created_at", Kind::Time),
        Column::of("iot_available_at", "c.available_at", Kind::Time),
    ],
    order: "c.oid DESC, c.level DESC",
    key: "c.oid, c.level",
    range: RangeColumns {
        vendor: Some("c.vid"),
        agent: Some("c.uid"),
        dealer: Some("c.uid"),
        owner: Some("c.uid"),
    },
};

/// Withdrawals (AF-03), newest first; an agent's or dealer's are its own.
pub const WITHDRAWALS: Listing = Listing {
    from: "iot_withdrawals w",
    filter: "",
    columns: &[
        Column::text("id", "w.wid").searched(),
        Column::text("iot_earner", "w.uid").searched(),
        Column::text("vendor", "w.vid"),
        Column::of("amount", "w.amount", Kind::Fen),
        Column::of("created_at", "w.created_at", Kind::Time),
    ],
    order: "w.wid DESC",
    key: "w.wid",
    range: RangeColumns {
        vendor: Some("w.vid"),
        agent: Some("w.uid"),
        dealer: Some("w.uid"),
        owner: Some("w.uid"),
    },
};
