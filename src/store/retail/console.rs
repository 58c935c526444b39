//! The retail hall's tables as the operators' console lists them (see [`crate::store::records`]):
//! companies, enterprises, users with their bindings, contracts, settlement bills, feedback,
//! articles, the business guide and monthly use. Every listing is a constant query, paged,
//! searched and sorted in SQL on both backends.

use crate::store::records::{Column, Kind, Listing, RangeColumns};

/// Retail companies and the services they offer (a JSON list, shown as written).
pub const COMPANIES: Listing = Listing {
    from: "retail_companies",
    filter: "",
    columns: &[
        Column::text("id", "id").unsorted(),
        Column::text("name", "name").searched(),
        Column::text("retail_services", "services")
            .searched()
            .unsorted(),
        Column::of("created_at", "created_at", Kind::Time),
    ],
    // Names are unique.
    order: "name",
    key: "name",
    range: RangeColumns::NONE,
};

/// Enterprise customers.
pub const ENTERPRISES: Listing = Listing {
    from: "retail_enterprises",
    filter: "",
    columns: &[
        Column::text("retail_credit_code", "credit_code").searched(),
        Column::text("name", "name").searched(),
        Column::text("retail_contact_phone", "contact_phone").searched(),
        Column::of("retail_max_users", "max_users", Kind::Int),
        Column::of("created_at", "created_at", Kind::Time),
    ],
    order: "credit_code",
    key: "credit_code",
    range: RangeColumns::NONE,
};

/// Hall users with the enterprise and company they are bound to (if any).
pub const USERS: Listing = Listing {
    from: "retail_users u LEFT JOIN retail_enterprises e ON e.credit_code = u.enterprise_code \
           LEFT JOIN retail_companies c ON c.id = u.company_id",
    filter: "",
    columns: &[
        Column::text("id", "u.id").unsorted(),
        Column::text("phone", "u.phone").searched(),
        Column::text("retail_enterprise", "COALESCE(e.name, '')").searched_in(
            "u.enterprise_code",
            "retail_enterprises",
            "credit_code",
            "name",
        ),
        Column::text("retail_credit_code", "u.enterprise_code").searched(),
        Column::text("retail_company", "c.name"),
        Column::of("retail_bound_at", "u.bound_at", Kind::Time),
        Column::of("created_at", "u.created_at", Kind::Time),
    ],
    // Phone numbers are unique.
    order: "u.phone",
    key: "u.phone",
    range: RangeColumns::NONE,
};

/// Contracts, with the names of both parties.
pub const CONTRACTS: Listing = Listing {
    from: "retail_contracts k JOIN retail_enterprises e ON e.credit_code = k.enterprise_code \
           JOIN retail_companies c ON c.id = k.company_id",
    filter: "",
    columns: &[
        Column::text("retail_contract_id", "k.contract_id").searched(),
        Column::text("title", "k.title").searched(),
        Column::text("retail_enterprise", "e.name").searched_in(
            "k.enterprise_code",
            "retail_enterprises",
            "credit_code",
            "name",
        ),
        Column::text("retail_company", "c.name").searched_in(
            "k.company_id",
            "retail_companies",
            "id",
            "name",
        ),
        Column::text("state", "k.state"),
        Column::of("retail_elec_number", "k.elec_number", Kind::Int),
        Column::text("retail_sign_date", "k.sign_date"),
        Column::text("retail_expire_date", "k.expire_date"),
    ],
    order: "k.contract_id",
    key: "k.contract_id",
    range: RangeColumns::NONE,
};

/// Settlement bills (default order: bill number, descending): `state` is `confirmed` or `unconfirmed`; the figures are ten-thousandths.
pub const BILLS: Listing = Listing {
    // LEFT JOIN (the enterprise always exists): SQLite counts without the join.
    from: "retail_bills b LEFT JOIN retail_enterprises e ON e.credit_code = b.enterprise_code",
    filter: "",
    columns: &[
        Column::text("id", "b.id").searched(),
        Column::text("retail_enterprise", "COALESCE(e.name, '')").searched_in(
            "b.enterprise_code",
            "retail_enterprises",
            "credit_code",
            "name",
        ),
        Column::text("retail_credit_code", "b.enterprise_code").searched(),
        Column::text("retail_bill_date", "b.bill_date"),
        Column::text("retail_elec_use_date", "b.elec_use_date"),
        Column::of("retail_user_benefits", "b.user_benefits", Kind::Fen),
        Column::of("retail_settle_number", "b.settle_number", Kind::Int),
        Column::of("retail_check_bill", "b.check_bill", Kind::Int),
        Column::text(
            "state",
            "CASE WHEN b.confirmer IS NULL THEN 'unconfirmed' ELSE 'confirmed' END",
        ),
        Column::text("retail_confirmer", "b.confirmer"),
        Column::text("retail_confirm_date", "b.confirm_date"),
    ],
    // The primary key, newest bill numbers first: no sort of the whole table by default.
    order: "b.id DESC",
    key: "b.id",
    range: RangeColumns::NONE,
};

/// Users' feedback, newest first; `retail_picture` says whether it carries a picture.
pub const FEEDBACK: Listing = Listing {
    from: "retail_feedback f LEFT JOIN retail_users u ON u.id = f.user_id",
    filter: "",
    columns: &[
        Column::text("id", "f.id").unsorted(),
        // Searched by a semi-join: the users whose phone matches, read once, not joined for
        // each row (a search then counts the feedback table alone).
        Column::text("phone", "COALESCE(u.phone, '')")
            .searched_in("f.user_id", "retail_users", "id", "phone")
            .unsorted(),
        Column::text("content", "f.content").searched().unsorted(),
        Column::text("retail_contact", "COALESCE(f.contact, '')").searched(),
        Column::of(
            "retail_picture",
            "CASE WHEN f.picture IS NULL THEN 0 ELSE 1 END",
            Kind::Flag,
        )
        .unsorted(),
        Column::of("created_at", "f.created_at", Kind::Time),
    ],
    order: "f.created_at DESC, f.id DESC",
    key: "f.id",
    range: RangeColumns::NONE,
};

/// Articles of every channel, newest first.
pub const ARTICLES: Listing = Listing {
    from: "retail_articles",
    filter: "",
    columns: &[
        Column::text("id", "id").unsorted(),
        Column::text("retail_channel", "channel"),
        Column::text("title", "title").searched(),
        Column::text("retail_author", "author").searched(),
        Column::of("created_at", "created_at", Kind::Time),
    ],
    order: "created_at DESC, id DESC",
    key: "id",
    range: RangeColumns::NONE,
};

/// The business guide in its order (answers cut to their first 60 characters).
pub const GUIDE: Listing = Listing {
    from: "retail_guide",
    filter: "",
    columns: &[
        Column::text("id", "id").unsorted(),
        Column::of("retail_position", "position", Kind::Int),
        Column::text("retail_question", "question").searched(),
        Column::text("retail_answer", "SUBSTR(answer, 1, 60)").unsorted(),
    ],
    order: "position, id",
    key: "id",
    range: RangeColumns::NONE,
};

/// Each enterprise's use per month (kWh in ten-thousandths).
pub const MONTHLY_USE: Listing = Listing {
    from: "retail_monthly_use m JOIN retail_enterprises e ON e.credit_code = m.enterprise_code",
    filter: "",
    columns: &[
        Column::text("retail_enterprise", "e.name").searched_in(
            "m.enterprise_code",
            "retail_enterprises",
            "credit_code",
            "name",
        ),
        Column::text("retail_credit_code", "m.enterprise_code").searched(),
        Column::of("retail_year", "m.year", Kind::Int),
        Column::of("retail_month", "m.month", Kind::Int),
        Column::of("retail_quantity", "m.quantity", Kind::Int),
    ],
    order: "m.enterprise_code, m.year, m.month",
    key: "m.enterprise_code, m.year, m.month",
    range: RangeColumns::NONE,
};
