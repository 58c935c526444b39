-- Payments the gateway reported that could not be applied (e.g. an amount that does not match its
-- order): the money may have been taken, so they are kept for the ledger check and for a refund.
CREATE TABLE payment_anomalies (
    transaction_id TEXT PRIMARY KEY,
    out_trade_no TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
