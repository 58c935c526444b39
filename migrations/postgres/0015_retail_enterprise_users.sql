-- How many hall users may be bound to one enterprise at once (the operator's choice; one by
-- default, so a second user cannot bind an enterprise another user holds).
ALTER TABLE retail_enterprises ADD COLUMN max_users BIGINT NOT NULL DEFAULT 1;
