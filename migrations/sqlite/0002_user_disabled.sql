-- Operators can disable a heating user: login, refresh and every authenticated call answer 403.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
