-- Each order's version: every write of an order adds one to it in the same statement, so
-- `(oid, version)` names one committed state of the order on every instance sharing the
-- database. Reads reuse what they made of a state they have seen before (src/domain/recent.rs).
ALTER TABLE iot_orders ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
