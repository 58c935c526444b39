-- Buildings and addresses are listed in the order they were registered (the document's
-- getBuildCode example is in registration order, not sorted).
ALTER TABLE meter_buildings ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE meter_addresses ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
