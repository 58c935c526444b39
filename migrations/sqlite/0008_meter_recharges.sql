-- Recharges through the meter interface: one per (account, out_trade_no), ever.
CREATE TABLE meter_recharges (
    admin_user_name TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    user_code TEXT NOT NULL REFERENCES meter_households(user_code),
    amount BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (admin_user_name, out_trade_no)
);
CREATE INDEX meter_recharges_household ON meter_recharges(user_code, created_at);
