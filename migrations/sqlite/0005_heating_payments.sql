-- Payment orders for heating bills, and the money journal.
CREATE TABLE heating_orders (
    order_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    heat_account TEXT NOT NULL REFERENCES heat_accounts(heat_account),
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    gateway TEXT NOT NULL,
    openid TEXT,
    prepay_id TEXT,
    transaction_id TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT,
    closed_at BIGINT,
    checked_at BIGINT
);
CREATE INDEX heating_orders_user ON heating_orders(user_id, created_at);

CREATE TABLE heating_order_bills (
    order_id TEXT NOT NULL REFERENCES heating_orders(order_id),
    bill_id TEXT NOT NULL REFERENCES heating_bills(bill_id),
    amount BIGINT NOT NULL,
    late_fee BIGINT NOT NULL,
    PRIMARY KEY (order_id, bill_id)
);

-- A bill is held by at most one pending order, and remembers the order that paid it.
ALTER TABLE heating_bills ADD COLUMN pending_order_id TEXT;
ALTER TABLE heating_bills ADD COLUMN paid_order_id TEXT;

-- Append-only: one row per movement of money, keyed so that it can never be applied twice.
CREATE TABLE ledger_entries (
    entry_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reference TEXT NOT NULL,
    external_id TEXT UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries(account);

ALTER TABLE users ADD COLUMN wechat_openid TEXT;
