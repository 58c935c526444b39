-- Commissions are recorded when the order is paid (pending at once), before anyone knows when
-- the order will be received: `available_at` is unknown (NULL) until receipt, when it becomes
-- the end of the return window.
CREATE TABLE iot_commissions_new (
    oid TEXT NOT NULL,
    level BIGINT NOT NULL,
    uid TEXT NOT NULL,
    vid TEXT NOT NULL,
    amount BIGINT NOT NULL,
    rate TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    available_at BIGINT,
    PRIMARY KEY (oid, level)
);
INSERT INTO iot_commissions_new SELECT oid, level, uid, vid, amount, rate, state, created_at, available_at FROM iot_commissions;
DROP TABLE iot_commissions;
ALTER TABLE iot_commissions_new RENAME TO iot_commissions;
CREATE INDEX iot_commissions_uid ON iot_commissions (uid);
CREATE INDEX iot_commissions_due ON iot_commissions (state, available_at);
