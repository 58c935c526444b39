-- The electricity retail business hall (seed 000): retail companies and the services they offer,
-- enterprises (registered by operators, with a contact phone), the hall's users and their
-- binding to an enterprise and a company, content (articles, guide), contracts, monthly use,
-- electricity plans, settlement bills and feedback. Quantities are in ten-thousandths (kWh x
-- 10^4), money in fen, times in UTC milliseconds, calendar dates as YYYY-MM-DD text.
CREATE TABLE retail_companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    services TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE retail_enterprises (
    credit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE retail_users (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    enterprise_code TEXT REFERENCES retail_enterprises(credit_code),
    company_id TEXT REFERENCES retail_companies(id),
    services TEXT,
    bound_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE retail_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES retail_users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX retail_tokens_user ON retail_tokens (user_id);

CREATE TABLE retail_articles (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    author TEXT NOT NULL,
    imgsrc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX retail_articles_channel ON retail_articles (channel, created_at);

CREATE TABLE retail_guide (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE retail_contracts (
    contract_id TEXT PRIMARY KEY,
    enterprise_code TEXT NOT NULL REFERENCES retail_enterprises(credit_code),
    company_id TEXT NOT NULL REFERENCES retail_companies(id),
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    files TEXT NOT NULL,
    state TEXT NOT NULL,
    elec_number BIGINT NOT NULL,
    sign_date TEXT NOT NULL,
    expire_date TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX retail_contracts_enterprise ON retail_contracts (enterprise_code);

CREATE TABLE retail_monthly_use (
    enterprise_code TEXT NOT NULL REFERENCES retail_enterprises(credit_code),
    year BIGINT NOT NULL,
    month BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (enterprise_code, year, month)
);

CREATE TABLE retail_plans (
    id TEXT PRIMARY KEY,
    enterprise_code TEXT NOT NULL REFERENCES retail_enterprises(credit_code),
    plan_type TEXT NOT NULL,
    year BIGINT NOT NULL,
    month BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (enterprise_code, plan_type, year, month)
);

CREATE TABLE retail_bills (
    id TEXT PRIMARY KEY,
    enterprise_code TEXT NOT NULL REFERENCES retail_enterprises(credit_code),
    bill_date TEXT NOT NULL,
    elec_use_date TEXT NOT NULL,
    user_benefits BIGINT NOT NULL,
    settle_number BIGINT NOT NULL,
    actual_elec_use BIGINT NOT NULL,
    declare_elec_number BIGINT NOT NULL,
    decompose_elec_number BIGINT NOT NULL,
    consultation_earn BIGINT NOT NULL,
    assign_elec_number BIGINT NOT NULL,
    bid_income BIGINT NOT NULL,
    check_elec_number BIGINT NOT NULL,
    check_bill BIGINT NOT NULL,
    confirmer TEXT,
    confirm_date TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX retail_bills_enterprise ON retail_bills (enterprise_code, bill_date);

CREATE TABLE retail_feedback (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES retail_users(id),
    content TEXT NOT NULL,
    contact TEXT,
    picture TEXT,
    picture_type TEXT,
    created_at BIGINT NOT NULL
);
