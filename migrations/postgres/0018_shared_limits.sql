-- Limits shared by every instance on this database (request windows per client address or
-- account, and short-lived values such as the captcha a client address fetched). UNLOGGED:
-- nothing here is worth a disk flush per request, and a crash only resets the windows.
CREATE UNLOGGED TABLE shared_windows (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    window_end BIGINT NOT NULL
);

CREATE UNLOGGED TABLE shared_values (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
