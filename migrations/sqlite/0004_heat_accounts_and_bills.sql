-- Heat accounts (the registry the heating company keeps) and their bills.
-- An account is bound to at most one user, and a user to at most one account (UNIQUE allows
-- many NULLs on both backends).
CREATE TABLE heat_accounts (
    heat_account TEXT PRIMARY KEY,
    real_name TEXT NOT NULL,
    id_card TEXT NOT NULL,
    address TEXT NOT NULL,
    heating_area_centi BIGINT NOT NULL,
    bound_user_id TEXT UNIQUE REFERENCES users(id),
    bound_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Money in fen; bill_date is an instant (UTC ms), due_date a calendar date (YYYY-MM-DD).
CREATE TABLE heating_bills (
    bill_id TEXT PRIMARY KEY,
    heat_account TEXT NOT NULL REFERENCES heat_accounts(heat_account),
    heating_season TEXT NOT NULL,
    amount BIGINT NOT NULL,
    bill_date BIGINT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unpaid',
    paid_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX heating_bills_account ON heating_bills(heat_account, status);
