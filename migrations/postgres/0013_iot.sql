-- The IoT platform of connected water purifiers (seed 002): every party (platform operators,
-- vendors, agents, dealers, members), their tokens, devices, products, orders, tickets,
-- commissions and withdrawals. Descriptive fields the rules never read are kept as JSON text;
-- what scoping, state machines and money depend on has columns of its own.
CREATE TABLE iot_users (
    uid TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    vid TEXT,
    code TEXT,
    agent TEXT,
    dealer TEXT,
    login TEXT,
    mobile TEXT,
    pwd_hash TEXT,
    state BIGINT NOT NULL,
    type BIGINT NOT NULL,
    rid TEXT,
    openid TEXT,
    weixin TEXT,
    profile TEXT NOT NULL,
    secrets TEXT,
    withdrawn_at BIGINT,
    reg_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE UNIQUE INDEX iot_users_login ON iot_users (login) WHERE login IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX iot_users_mobile ON iot_users (vid, mobile) WHERE kind = 'member' AND mobile IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX iot_users_openid ON iot_users (vid, openid) WHERE openid IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX iot_users_code ON iot_users (code) WHERE code IS NOT NULL;
-- Lists read a page in order straight from these (section 3.3's limit/offset).
CREATE INDEX iot_users_vid ON iot_users (vid, kind, deleted_at, reg_at, uid);

CREATE TABLE iot_tokens (
    token_hash TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX iot_tokens_uid ON iot_tokens (uid);

-- Serial numbers, never reused: one counter per (vendor code, kind of id).
CREATE TABLE iot_serials (
    scope TEXT PRIMARY KEY,
    next BIGINT NOT NULL
);

CREATE TABLE iot_devices (
    did TEXT PRIMARY KEY,
    vid TEXT NOT NULL,
    agent TEXT,
    dealer TEXT,
    uid TEXT,
    product_id TEXT,
    type BIGINT NOT NULL,
    state BIGINT NOT NULL,
    profile TEXT NOT NULL,
    prof TEXT NOT NULL,
    service TEXT NOT NULL,
    running TEXT NOT NULL,
    statistics TEXT NOT NULL,
    reg_at BIGINT NOT NULL,
    atv_at BIGINT,
    deleted_at BIGINT
);

CREATE INDEX iot_devices_vid ON iot_devices (vid, deleted_at, reg_at, did);

CREATE TABLE iot_shares (
    did TEXT NOT NULL,
    uid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (did, uid)
);

CREATE TABLE iot_products (
    pid TEXT PRIMARY KEY,
    vid TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE INDEX iot_products_vid ON iot_products (vid, deleted_at, created_at, pid);

CREATE TABLE iot_orders (
    oid TEXT PRIMARY KEY,
    vid TEXT NOT NULL,
    agent TEXT,
    dealer TEXT,
    uid TEXT NOT NULL,
    state TEXT NOT NULL,
    amount BIGINT NOT NULL,
    needs_install BIGINT NOT NULL,
    content TEXT NOT NULL,
    receiver TEXT NOT NULL,
    memo TEXT NOT NULL,
    delivery TEXT,
    return_info TEXT,
    pay_ch TEXT,
    prepay_id TEXT,
    transaction_no TEXT,
    refund_amount BIGINT,
    created_at BIGINT NOT NULL,
    paid_at BIGINT,
    delivered_at BIGINT,
    received_at BIGINT,
    done_at BIGINT,
    closed_at BIGINT,
    returned_at BIGINT,
    refunded_at BIGINT,
    deleted_at BIGINT
);

CREATE INDEX iot_orders_vid ON iot_orders (vid, deleted_at, created_at, oid);
CREATE INDEX iot_orders_time ON iot_orders (created_at, oid);
CREATE INDEX iot_orders_uid ON iot_orders (uid, deleted_at, created_at, oid);
CREATE INDEX iot_orders_state ON iot_orders (state, created_at);

CREATE TABLE iot_tickets (
    tid TEXT PRIMARY KEY,
    vid TEXT NOT NULL,
    agent TEXT,
    dealer TEXT,
    uid TEXT,
    device_id TEXT,
    order_id TEXT,
    type BIGINT NOT NULL,
    status BIGINT NOT NULL,
    detail TEXT NOT NULL,
    appoint_at BIGINT,
    handler TEXT,
    approval TEXT,
    ratings TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX iot_tickets_vid ON iot_tickets (vid, created_at, tid);
CREATE UNIQUE INDEX iot_tickets_install ON iot_tickets (order_id) WHERE type = 1;

-- One referrer's share of one finished order: pending until the order can no longer be
-- returned, then available (and in the journal), or void when the order was returned.
CREATE TABLE iot_commissions (
    oid TEXT NOT NULL,
    level BIGINT NOT NULL,
    uid TEXT NOT NULL,
    vid TEXT NOT NULL,
    amount BIGINT NOT NULL,
    rate TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    PRIMARY KEY (oid, level)
);

CREATE INDEX iot_commissions_uid ON iot_commissions (uid);
CREATE INDEX iot_commissions_due ON iot_commissions (state, available_at);

CREATE TABLE iot_withdrawals (
    wid TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    vid TEXT,
    amount BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX iot_withdrawals_uid ON iot_withdrawals (uid);

CREATE TABLE iot_signings (
    sid TEXT PRIMARY KEY,
    vid TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
