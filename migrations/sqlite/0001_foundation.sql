-- Foundation: secrets, operators, heating users, sessions, verification codes, content.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE operators (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE operator_tokens (
    token_hash TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    nickname TEXT NOT NULL,
    avatar TEXT NOT NULL DEFAULT '',
    real_name TEXT,
    id_card TEXT,
    address TEXT,
    login_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE verification_codes (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_mac TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    consumed_at BIGINT,
    superseded BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX verification_codes_lookup ON verification_codes(recipient, purpose, sent_at);

CREATE TABLE send_throttle (
    recipient TEXT PRIMARY KEY,
    last_sent_at BIGINT NOT NULL,
    day BIGINT NOT NULL,
    day_count BIGINT NOT NULL
);

CREATE TABLE heating_agreements (
    kind TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    version TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

INSERT INTO heating_agreements (kind, title, content, version, updated_at) VALUES
('user_agreement', '用户协议', '欢迎使用精准暖费速办小程序。本协议是您与乌鲁木齐热力集团有限公司之间关于您使用本小程序的法律协议...', '1.0', '2024-01-01'),
('privacy_policy', '隐私政策', '乌鲁木齐热力集团有限公司（以下简称"我们"）深知个人信息对您的重要性，并会尽全力保护您的个人信息安全可靠...', '1.0', '2024-01-01');

CREATE TABLE heating_system_config (
    id BIGINT PRIMARY KEY,
    customer_service_phone TEXT NOT NULL,
    business_hours TEXT NOT NULL,
    company_name TEXT NOT NULL,
    company_address TEXT NOT NULL,
    app_version TEXT NOT NULL,
    announcement TEXT,
    maintenance_notice TEXT
);

INSERT INTO heating_system_config VALUES
(1, '0991-1234567', '周一至周五 9:00-18:00', '乌鲁木齐热力集团有限公司', '乌鲁木齐市天山区...', '1.0.0',
 '系统将于12月1日进行维护升级，维护期间服务可能暂时中断，敬请谅解。', NULL);
