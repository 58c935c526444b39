-- The prepaid smart-meter system (seed 003): API accounts, their buildings, addresses,
-- households (with a prepaid balance in fen) and meters (readings in hundredths of a unit).
CREATE TABLE meter_api_accounts (
    admin_user_name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    api_enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE meter_tokens (
    token_hash TEXT PRIMARY KEY,
    admin_user_name TEXT NOT NULL REFERENCES meter_api_accounts(admin_user_name),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE meter_buildings (
    admin_user_name TEXT NOT NULL REFERENCES meter_api_accounts(admin_user_name),
    build_code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (admin_user_name, build_code)
);

CREATE TABLE meter_addresses (
    admin_user_name TEXT NOT NULL REFERENCES meter_api_accounts(admin_user_name),
    build_code TEXT NOT NULL,
    address TEXT NOT NULL,
    PRIMARY KEY (admin_user_name, build_code, address)
);

CREATE TABLE meter_households (
    user_code TEXT PRIMARY KEY,
    admin_user_name TEXT NOT NULL REFERENCES meter_api_accounts(admin_user_name),
    build_code TEXT NOT NULL,
    address TEXT NOT NULL,
    user_name TEXT NOT NULL,
    house_number TEXT,
    balance BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX meter_households_account ON meter_households(admin_user_name, build_code);

CREATE TABLE meters (
    table_no TEXT PRIMARY KEY,
    user_code TEXT NOT NULL REFERENCES meter_households(user_code),
    table_type BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    reading BIGINT NOT NULL DEFAULT 0,
    read_time BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX meters_household ON meters(user_code);
