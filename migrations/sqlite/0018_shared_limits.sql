-- Limits shared by every process on this database file (request windows per client address or
-- account, and short-lived values such as the captcha a client address fetched). One process
-- keeps them in memory by default (`limits.store = "auto"`); `"database"` puts them here.
CREATE TABLE shared_windows (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    window_end BIGINT NOT NULL
);

CREATE TABLE shared_values (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
