-- OCPP charge boxes (issue 18): each box's password (argon2, as an account's), what its last
-- BootNotification said, and when it was last heard; and the drivers' cards (id tags).
-- Which pile a box drives is part of the station's configuration (its `ocpp_piles`).
CREATE TABLE charging_boxes (
    id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    vendor TEXT,
    model TEXT,
    serial TEXT,
    firmware TEXT,
    -- Its last accepted BootNotification: a box that booted once may reconnect without booting.
    booted_at BIGINT,
    -- When an instance last heard it (written at most twice a heartbeat interval): the other
    -- instances do not take a box linked elsewhere for a silent one.
    last_seen_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE charging_tags (
    id_tag TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX charging_tags_username ON charging_tags (username);
