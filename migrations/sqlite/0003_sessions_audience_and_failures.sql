-- Sessions remember the surface they were opened for; refresh issues tokens for that surface only.
ALTER TABLE sessions ADD COLUMN audience TEXT NOT NULL DEFAULT 'heating';

-- Failed sign-in attempts per account, in fixed windows (password guessing is bounded per account,
-- not only per client IP).
CREATE TABLE failed_attempts (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
);
