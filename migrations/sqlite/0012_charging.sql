-- The EV charging station (seed 004): drivers, their tokens, the station's state and its
-- detail records (详单).
CREATE TABLE charging_users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE charging_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES charging_users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX charging_tokens_user ON charging_tokens (user_id, expires_at);

-- One row: the whole station (waiting area, piles, queues) as JSON, as of operation `version`;
-- the operations after it are in charging_ops (the scheduler is deterministic: replaying them
-- over the snapshot rebuilds the station). A snapshot is written every 1000 operations.
CREATE TABLE charging_station (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL,
    snapshot TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The last operation's number: a job locks this row, reads what other processes logged, and
-- moves it on in the same transaction as its own operations, so processes sharing the
-- database take turns. (A row of its own: the snapshot's row is megabytes.)
CREATE TABLE charging_head (
    id INTEGER PRIMARY KEY,
    head BIGINT NOT NULL
);

INSERT INTO charging_head (id, head) VALUES (1, 0);

CREATE TABLE charging_ops (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    op TEXT NOT NULL
);

CREATE TABLE charging_records (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL,
    number TEXT NOT NULL,
    pile TEXT NOT NULL,
    pile_no BIGINT NOT NULL,
    requested_at BIGINT NOT NULL,
    wh BIGINT NOT NULL,
    start_at BIGINT NOT NULL,
    stop_at BIGINT NOT NULL,
    charge_fee BIGINT NOT NULL,
    service_fee BIGINT NOT NULL,
    reason TEXT NOT NULL
);

CREATE INDEX charging_records_user ON charging_records (username, id);
CREATE INDEX charging_records_stop ON charging_records (stop_at);
