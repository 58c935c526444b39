-- The purifiers' MQTT link (issue 17). A device's secret is derived from the server's
-- `iot_device_key` and its generation (`key_gen`); nothing else of it is stored.
ALTER TABLE iot_devices ADD COLUMN key_gen BIGINT NOT NULL DEFAULT 0;
-- The last accepted `seq` of the device's frames on `up` and on `status` (its will is signed
-- at connect, so it is checked against `online` only), and the last the server sent it.
ALTER TABLE iot_devices ADD COLUMN up_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN status_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN down_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN online BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN seen_at BIGINT;
ALTER TABLE iot_devices ADD COLUMN online_at BIGINT;
ALTER TABLE iot_devices ADD COLUMN offline_at BIGINT;
-- The fault codes of its last report, space-separated.
ALTER TABLE iot_devices ADD COLUMN errors TEXT NOT NULL DEFAULT '';
-- The cumulative counters of its last report (seconds and millilitres).
ALTER TABLE iot_devices ADD COLUMN powered_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN working_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN normal_ml BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN cold_ml BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN warm_ml BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN hot_ml BIGINT NOT NULL DEFAULT 0;
-- Why the platform holds it locked ('' for unlocked): operator, rent, balance.
ALTER TABLE iot_devices ADD COLUMN lock_reason TEXT NOT NULL DEFAULT '';
-- Rentals: the timed rental's end, the expiry a removal ticket was opened for; the metered
-- rental's prepaid balance (fen), the water already billed (-1: not yet heard as a metered
-- rental, whose water from before is not billed), and its minimum's period.
ALTER TABLE iot_devices ADD COLUMN rent_until BIGINT;
ALTER TABLE iot_devices ADD COLUMN removal_for BIGINT;
ALTER TABLE iot_devices ADD COLUMN balance BIGINT NOT NULL DEFAULT 0;
ALTER TABLE iot_devices ADD COLUMN billed_ml BIGINT NOT NULL DEFAULT -1;
ALTER TABLE iot_devices ADD COLUMN period_start BIGINT;
ALTER TABLE iot_devices ADD COLUMN period_used BIGINT NOT NULL DEFAULT 0;

CREATE INDEX iot_devices_online ON iot_devices (online, seen_at);
CREATE INDEX iot_devices_type ON iot_devices (type, deleted_at);

-- Every accepted report: the device's history.
CREATE TABLE iot_reports (
    did TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    powered_s BIGINT NOT NULL,
    working_s BIGINT NOT NULL,
    normal_ml BIGINT NOT NULL,
    cold_ml BIGINT NOT NULL,
    warm_ml BIGINT NOT NULL,
    hot_ml BIGINT NOT NULL,
    tds_in BIGINT NOT NULL,
    tds_out BIGINT NOT NULL,
    errors TEXT NOT NULL,
    PRIMARY KEY (did, seq)
);

CREATE INDEX iot_reports_at ON iot_reports (did, at);

-- Each filter of a device: its cycle (replacements) and the counters its cycle started at;
-- the maintenance ticket opened for its current cycle.
CREATE TABLE iot_filters (
    did TEXT NOT NULL,
    ord BIGINT NOT NULL,
    cycle BIGINT NOT NULL,
    base_powered_s BIGINT NOT NULL,
    base_working_s BIGINT NOT NULL,
    reset_at BIGINT NOT NULL,
    ticket TEXT,
    PRIMARY KEY (did, ord)
);

CREATE INDEX iot_filters_ticket ON iot_filters (ticket);

-- The fault codes a device reports while they are open, with the ticket each opened.
CREATE TABLE iot_faults (
    did TEXT NOT NULL,
    code TEXT NOT NULL,
    ticket TEXT,
    opened_at BIGINT NOT NULL,
    PRIMARY KEY (did, code)
);

-- Commands sent to devices: sent -> acked -> done | failed, or timeout.
CREATE TABLE iot_commands (
    cid TEXT PRIMARY KEY,
    did TEXT NOT NULL,
    op TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,
    result TEXT,
    by_uid TEXT,
    created_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    acked_at BIGINT,
    done_at BIGINT
);

CREATE INDEX iot_commands_did ON iot_commands (did, created_at);
CREATE INDEX iot_commands_open ON iot_commands (state, deadline);

-- Members' prepaid water balances (fen) for vending machines.
CREATE TABLE iot_wallets (
    uid TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
);

-- Every credit and charge of a device's or a member's prepaid balance, under its journal key.
CREATE TABLE iot_charges (
    entry_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    vid TEXT NOT NULL,
    did TEXT,
    uid TEXT,
    amount BIGINT NOT NULL,
    ml BIGINT NOT NULL,
    reference TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX iot_charges_account ON iot_charges (account, created_at);
