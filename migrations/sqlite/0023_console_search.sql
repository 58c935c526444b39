-- The console's searches at 100,000 rows (issue 19): a substring search (`LIKE '%q%'`) reads
-- every row, so each searched table gets a trigram index of the columns the console searches. Here
-- an FTS5 table with the trigram tokenizer over the table's own rows (external content, by
-- rowid), kept current by triggers; a search of three characters or more looks its rows up in it
-- (`store::records`). Shorter searches read the table as before. The list of tables and columns
-- is `store::records::SEARCH_INDEX`; a test checks every searched column is in it.

CREATE VIRTUAL TABLE users_fts USING fts5(phone, nickname, real_name, content='users', tokenize='trigram');
INSERT INTO users_fts (users_fts) VALUES ('rebuild');
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, phone, nickname, real_name) VALUES (new.rowid, new.phone, new.nickname, new.real_name);
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, phone, nickname, real_name) VALUES ('delete', old.rowid, old.phone, old.nickname, old.real_name);
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF phone, nickname, real_name ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, phone, nickname, real_name) VALUES ('delete', old.rowid, old.phone, old.nickname, old.real_name);
    INSERT INTO users_fts (rowid, phone, nickname, real_name) VALUES (new.rowid, new.phone, new.nickname, new.real_name);
END;
CREATE VIRTUAL TABLE heat_accounts_fts USING fts5(heat_account, real_name, address, content='heat_accounts', tokenize='trigram');
INSERT INTO heat_accounts_fts (heat_accounts_fts) VALUES ('rebuild');
CREATE TRIGGER heat_accounts_fts_insert AFTER INSERT ON heat_accounts BEGIN
    INSERT INTO heat_accounts_fts (rowid, heat_account, real_name, address) VALUES (new.rowid, new.heat_account, new.real_name, new.address);
END;
CREATE TRIGGER heat_accounts_fts_delete AFTER DELETE ON heat_accounts BEGIN
    INSERT INTO heat_accounts_fts (heat_accounts_fts, rowid, heat_account, real_name, address) VALUES ('delete', old.rowid, old.heat_account, old.real_name, old.address);
END;
CREATE TRIGGER heat_accounts_fts_update AFTER UPDATE OF heat_account, real_name, address ON heat_accounts BEGIN
    INSERT INTO heat_accounts_fts (heat_accounts_fts, rowid, heat_account, real_name, address) VALUES ('delete', old.rowid, old.heat_account, old.real_name, old.address);
    INSERT INTO heat_accounts_fts (rowid, heat_account, real_name, address) VALUES (new.rowid, new.heat_account, new.real_name, new.address);
END;
CREATE VIRTUAL TABLE heating_bills_fts USING fts5(bill_id, heat_account, heating_season, content='heating_bills', tokenize='trigram');
INSERT INTO heating_bills_fts (heating_bills_fts) VALUES ('rebuild');
CREATE TRIGGER heating_bills_fts_insert AFTER INSERT ON heating_bills BEGIN
    INSERT INTO heating_bills_fts (rowid, bill_id, heat_account, heating_season) VALUES (new.rowid, new.bill_id, new.heat_account, new.heating_season);
END;
CREATE TRIGGER heating_bills_fts_delete AFTER DELETE ON heating_bills BEGIN
    INSERT INTO heating_bills_fts (heating_bills_fts, rowid, bill_id, heat_account, heating_season) VALUES ('delete', old.rowid, old.bill_id, old.heat_account, old.heating_season);
END;
CREATE TRIGGER heating_bills_fts_update AFTER UPDATE OF bill_id, heat_account, heating_season ON heating_bills BEGIN
    INSERT INTO heating_bills_fts (heating_bills_fts, rowid, bill_id, heat_account, heating_season) VALUES ('delete', old.rowid, old.bill_id, old.heat_account, old.heating_season);
    INSERT INTO heating_bills_fts (rowid, bill_id, heat_account, heating_season) VALUES (new.rowid, new.bill_id, new.heat_account, new.heating_season);
END;
CREATE VIRTUAL TABLE heating_orders_fts USING fts5(order_id, heat_account, transaction_id, content='heating_orders', tokenize='trigram');
INSERT INTO heating_orders_fts (heating_orders_fts) VALUES ('rebuild');
CREATE TRIGGER heating_orders_fts_insert AFTER INSERT ON heating_orders BEGIN
    INSERT INTO heating_orders_fts (rowid, order_id, heat_account, transaction_id) VALUES (new.rowid, new.order_id, new.heat_account, new.transaction_id);
END;
CREATE TRIGGER heating_orders_fts_delete AFTER DELETE ON heating_orders BEGIN
    INSERT INTO heating_orders_fts (heating_orders_fts, rowid, order_id, heat_account, transaction_id) VALUES ('delete', old.rowid, old.order_id, old.heat_account, old.transaction_id);
END;
CREATE TRIGGER heating_orders_fts_update AFTER UPDATE OF order_id, heat_account, transaction_id ON heating_orders BEGIN
    INSERT INTO heating_orders_fts (heating_orders_fts, rowid, order_id, heat_account, transaction_id) VALUES ('delete', old.rowid, old.order_id, old.heat_account, old.transaction_id);
    INSERT INTO heating_orders_fts (rowid, order_id, heat_account, transaction_id) VALUES (new.rowid, new.order_id, new.heat_account, new.transaction_id);
END;
CREATE VIRTUAL TABLE meter_api_accounts_fts USING fts5(admin_user_name, content='meter_api_accounts', tokenize='trigram');
INSERT INTO meter_api_accounts_fts (meter_api_accounts_fts) VALUES ('rebuild');
CREATE TRIGGER meter_api_accounts_fts_insert AFTER INSERT ON meter_api_accounts BEGIN
    INSERT INTO meter_api_accounts_fts (rowid, admin_user_name) VALUES (new.rowid, new.admin_user_name);
END;
CREATE TRIGGER meter_api_accounts_fts_delete AFTER DELETE ON meter_api_accounts BEGIN
    INSERT INTO meter_api_accounts_fts (meter_api_accounts_fts, rowid, admin_user_name) VALUES ('delete', old.rowid, old.admin_user_name);
END;
CREATE TRIGGER meter_api_accounts_fts_update AFTER UPDATE OF admin_user_name ON meter_api_accounts BEGIN
    INSERT INTO meter_api_accounts_fts (meter_api_accounts_fts, rowid, admin_user_name) VALUES ('delete', old.rowid, old.admin_user_name);
    INSERT INTO meter_api_accounts_fts (rowid, admin_user_name) VALUES (new.rowid, new.admin_user_name);
END;
CREATE VIRTUAL TABLE meter_households_fts USING fts5(user_code, user_name, admin_user_name, address, content='meter_households', tokenize='trigram');
INSERT INTO meter_households_fts (meter_households_fts) VALUES ('rebuild');
CREATE TRIGGER meter_households_fts_insert AFTER INSERT ON meter_households BEGIN
    INSERT INTO meter_households_fts (rowid, user_code, user_name, admin_user_name, address) VALUES (new.rowid, new.user_code, new.user_name, new.admin_user_name, new.address);
END;
CREATE TRIGGER meter_households_fts_delete AFTER DELETE ON meter_households BEGIN
    INSERT INTO meter_households_fts (meter_households_fts, rowid, user_code, user_name, admin_user_name, address) VALUES ('delete', old.rowid, old.user_code, old.user_name, old.admin_user_name, old.address);
END;
CREATE TRIGGER meter_households_fts_update AFTER UPDATE OF user_code, user_name, admin_user_name, address ON meter_households BEGIN
    INSERT INTO meter_households_fts (meter_households_fts, rowid, user_code, user_name, admin_user_name, address) VALUES ('delete', old.rowid, old.user_code, old.user_name, old.admin_user_name, old.address);
    INSERT INTO meter_households_fts (rowid, user_code, user_name, admin_user_name, address) VALUES (new.rowid, new.user_code, new.user_name, new.admin_user_name, new.address);
END;
CREATE VIRTUAL TABLE meters_fts USING fts5(user_code, content='meters', tokenize='trigram');
INSERT INTO meters_fts (meters_fts) VALUES ('rebuild');
CREATE TRIGGER meters_fts_insert AFTER INSERT ON meters BEGIN
    INSERT INTO meters_fts (rowid, user_code) VALUES (new.rowid, new.user_code);
END;
CREATE TRIGGER meters_fts_delete AFTER DELETE ON meters BEGIN
    INSERT INTO meters_fts (meters_fts, rowid, user_code) VALUES ('delete', old.rowid, old.user_code);
END;
CREATE TRIGGER meters_fts_update AFTER UPDATE OF user_code ON meters BEGIN
    INSERT INTO meters_fts (meters_fts, rowid, user_code) VALUES ('delete', old.rowid, old.user_code);
    INSERT INTO meters_fts (rowid, user_code) VALUES (new.rowid, new.user_code);
END;
CREATE VIRTUAL TABLE meter_recharges_fts USING fts5(out_trade_no, admin_user_name, user_code, content='meter_recharges', tokenize='trigram');
INSERT INTO meter_recharges_fts (meter_recharges_fts) VALUES ('rebuild');
CREATE TRIGGER meter_recharges_fts_insert AFTER INSERT ON meter_recharges BEGIN
    INSERT INTO meter_recharges_fts (rowid, out_trade_no, admin_user_name, user_code) VALUES (new.rowid, new.out_trade_no, new.admin_user_name, new.user_code);
END;
CREATE TRIGGER meter_recharges_fts_delete AFTER DELETE ON meter_recharges BEGIN
    INSERT INTO meter_recharges_fts (meter_recharges_fts, rowid, out_trade_no, admin_user_name, user_code) VALUES ('delete', old.rowid, old.out_trade_no, old.admin_user_name, old.user_code);
END;
CREATE TRIGGER meter_recharges_fts_update AFTER UPDATE OF out_trade_no, admin_user_name, user_code ON meter_recharges BEGIN
    INSERT INTO meter_recharges_fts (meter_recharges_fts, rowid, out_trade_no, admin_user_name, user_code) VALUES ('delete', old.rowid, old.out_trade_no, old.admin_user_name, old.user_code);
    INSERT INTO meter_recharges_fts (rowid, out_trade_no, admin_user_name, user_code) VALUES (new.rowid, new.out_trade_no, new.admin_user_name, new.user_code);
END;
CREATE VIRTUAL TABLE meter_consumptions_fts USING fts5(table_no, content='meter_consumptions', tokenize='trigram');
INSERT INTO meter_consumptions_fts (meter_consumptions_fts) VALUES ('rebuild');
CREATE TRIGGER meter_consumptions_fts_insert AFTER INSERT ON meter_consumptions BEGIN
    INSERT INTO meter_consumptions_fts (rowid, table_no) VALUES (new.rowid, new.table_no);
END;
CREATE TRIGGER meter_consumptions_fts_delete AFTER DELETE ON meter_consumptions BEGIN
    INSERT INTO meter_consumptions_fts (meter_consumptions_fts, rowid, table_no) VALUES ('delete', old.rowid, old.table_no);
END;
CREATE TRIGGER meter_consumptions_fts_update AFTER UPDATE OF table_no ON meter_consumptions BEGIN
    INSERT INTO meter_consumptions_fts (meter_consumptions_fts, rowid, table_no) VALUES ('delete', old.rowid, old.table_no);
    INSERT INTO meter_consumptions_fts (rowid, table_no) VALUES (new.rowid, new.table_no);
END;
CREATE VIRTUAL TABLE retail_companies_fts USING fts5(name, services, content='retail_companies', tokenize='trigram');
INSERT INTO retail_companies_fts (retail_companies_fts) VALUES ('rebuild');
CREATE TRIGGER retail_companies_fts_insert AFTER INSERT ON retail_companies BEGIN
    INSERT INTO retail_companies_fts (rowid, name, services) VALUES (new.rowid, new.name, new.services);
END;
CREATE TRIGGER retail_companies_fts_delete AFTER DELETE ON retail_companies BEGIN
    INSERT INTO retail_companies_fts (retail_companies_fts, rowid, name, services) VALUES ('delete', old.rowid, old.name, old.services);
END;
CREATE TRIGGER retail_companies_fts_update AFTER UPDATE OF name, services ON retail_companies BEGIN
    INSERT INTO retail_companies_fts (retail_companies_fts, rowid, name, services) VALUES ('delete', old.rowid, old.name, old.services);
    INSERT INTO retail_companies_fts (rowid, name, services) VALUES (new.rowid, new.name, new.services);
END;
CREATE VIRTUAL TABLE retail_enterprises_fts USING fts5(credit_code, name, contact_phone, content='retail_enterprises', tokenize='trigram');
INSERT INTO retail_enterprises_fts (retail_enterprises_fts) VALUES ('rebuild');
CREATE TRIGGER retail_enterprises_fts_insert AFTER INSERT ON retail_enterprises BEGIN
    INSERT INTO retail_enterprises_fts (rowid, credit_code, name, contact_phone) VALUES (new.rowid, new.credit_code, new.name, new.contact_phone);
END;
CREATE TRIGGER retail_enterprises_fts_delete AFTER DELETE ON retail_enterprises BEGIN
    INSERT INTO retail_enterprises_fts (retail_enterprises_fts, rowid, credit_code, name, contact_phone) VALUES ('delete', old.rowid, old.credit_code, old.name, old.contact_phone);
END;
CREATE TRIGGER retail_enterprises_fts_update AFTER UPDATE OF credit_code, name, contact_phone ON retail_enterprises BEGIN
    INSERT INTO retail_enterprises_fts (retail_enterprises_fts, rowid, credit_code, name, contact_phone) VALUES ('delete', old.rowid, old.credit_code, old.name, old.contact_phone);
    INSERT INTO retail_enterprises_fts (rowid, credit_code, name, contact_phone) VALUES (new.rowid, new.credit_code, new.name, new.contact_phone);
END;
CREATE VIRTUAL TABLE retail_users_fts USING fts5(phone, enterprise_code, content='retail_users', tokenize='trigram');
INSERT INTO retail_users_fts (retail_users_fts) VALUES ('rebuild');
CREATE TRIGGER retail_users_fts_insert AFTER INSERT ON retail_users BEGIN
    INSERT INTO retail_users_fts (rowid, phone, enterprise_code) VALUES (new.rowid, new.phone, new.enterprise_code);
END;
CREATE TRIGGER retail_users_fts_delete AFTER DELETE ON retail_users BEGIN
    INSERT INTO retail_users_fts (retail_users_fts, rowid, phone, enterprise_code) VALUES ('delete', old.rowid, old.phone, old.enterprise_code);
END;
CREATE TRIGGER retail_users_fts_update AFTER UPDATE OF phone, enterprise_code ON retail_users BEGIN
    INSERT INTO retail_users_fts (retail_users_fts, rowid, phone, enterprise_code) VALUES ('delete', old.rowid, old.phone, old.enterprise_code);
    INSERT INTO retail_users_fts (rowid, phone, enterprise_code) VALUES (new.rowid, new.phone, new.enterprise_code);
END;
CREATE VIRTUAL TABLE retail_contracts_fts USING fts5(contract_id, title, content='retail_contracts', tokenize='trigram');
INSERT INTO retail_contracts_fts (retail_contracts_fts) VALUES ('rebuild');
CREATE TRIGGER retail_contracts_fts_insert AFTER INSERT ON retail_contracts BEGIN
    INSERT INTO retail_contracts_fts (rowid, contract_id, title) VALUES (new.rowid, new.contract_id, new.title);
END;
CREATE TRIGGER retail_contracts_fts_delete AFTER DELETE ON retail_contracts BEGIN
    INSERT INTO retail_contracts_fts (retail_contracts_fts, rowid, contract_id, title) VALUES ('delete', old.rowid, old.contract_id, old.title);
END;
CREATE TRIGGER retail_contracts_fts_update AFTER UPDATE OF contract_id, title ON retail_contracts BEGIN
    INSERT INTO retail_contracts_fts (retail_contracts_fts, rowid, contract_id, title) VALUES ('delete', old.rowid, old.contract_id, old.title);
    INSERT INTO retail_contracts_fts (rowid, contract_id, title) VALUES (new.rowid, new.contract_id, new.title);
END;
CREATE VIRTUAL TABLE retail_bills_fts USING fts5(id, enterprise_code, content='retail_bills', tokenize='trigram');
INSERT INTO retail_bills_fts (retail_bills_fts) VALUES ('rebuild');
CREATE TRIGGER retail_bills_fts_insert AFTER INSERT ON retail_bills BEGIN
    INSERT INTO retail_bills_fts (rowid, id, enterprise_code) VALUES (new.rowid, new.id, new.enterprise_code);
END;
CREATE TRIGGER retail_bills_fts_delete AFTER DELETE ON retail_bills BEGIN
    INSERT INTO retail_bills_fts (retail_bills_fts, rowid, id, enterprise_code) VALUES ('delete', old.rowid, old.id, old.enterprise_code);
END;
CREATE TRIGGER retail_bills_fts_update AFTER UPDATE OF id, enterprise_code ON retail_bills BEGIN
    INSERT INTO retail_bills_fts (retail_bills_fts, rowid, id, enterprise_code) VALUES ('delete', old.rowid, old.id, old.enterprise_code);
    INSERT INTO retail_bills_fts (rowid, id, enterprise_code) VALUES (new.rowid, new.id, new.enterprise_code);
END;
CREATE VIRTUAL TABLE retail_feedback_fts USING fts5(content, contact, content='retail_feedback', tokenize='trigram');
INSERT INTO retail_feedback_fts (retail_feedback_fts) VALUES ('rebuild');
CREATE TRIGGER retail_feedback_fts_insert AFTER INSERT ON retail_feedback BEGIN
    INSERT INTO retail_feedback_fts (rowid, content, contact) VALUES (new.rowid, new.content, new.contact);
END;
CREATE TRIGGER retail_feedback_fts_delete AFTER DELETE ON retail_feedback BEGIN
    INSERT INTO retail_feedback_fts (retail_feedback_fts, rowid, content, contact) VALUES ('delete', old.rowid, old.content, old.contact);
END;
CREATE TRIGGER retail_feedback_fts_update AFTER UPDATE OF content, contact ON retail_feedback BEGIN
    INSERT INTO retail_feedback_fts (retail_feedback_fts, rowid, content, contact) VALUES ('delete', old.rowid, old.content, old.contact);
    INSERT INTO retail_feedback_fts (rowid, content, contact) VALUES (new.rowid, new.content, new.contact);
END;
CREATE VIRTUAL TABLE retail_articles_fts USING fts5(title, author, content='retail_articles', tokenize='trigram');
INSERT INTO retail_articles_fts (retail_articles_fts) VALUES ('rebuild');
CREATE TRIGGER retail_articles_fts_insert AFTER INSERT ON retail_articles BEGIN
    INSERT INTO retail_articles_fts (rowid, title, author) VALUES (new.rowid, new.title, new.author);
END;
CREATE TRIGGER retail_articles_fts_delete AFTER DELETE ON retail_articles BEGIN
    INSERT INTO retail_articles_fts (retail_articles_fts, rowid, title, author) VALUES ('delete', old.rowid, old.title, old.author);
END;
CREATE TRIGGER retail_articles_fts_update AFTER UPDATE OF title, author ON retail_articles BEGIN
    INSERT INTO retail_articles_fts (retail_articles_fts, rowid, title, author) VALUES ('delete', old.rowid, old.title, old.author);
    INSERT INTO retail_articles_fts (rowid, title, author) VALUES (new.rowid, new.title, new.author);
END;
CREATE VIRTUAL TABLE retail_guide_fts USING fts5(question, content='retail_guide', tokenize='trigram');
INSERT INTO retail_guide_fts (retail_guide_fts) VALUES ('rebuild');
CREATE TRIGGER retail_guide_fts_insert AFTER INSERT ON retail_guide BEGIN
    INSERT INTO retail_guide_fts (rowid, question) VALUES (new.rowid, new.question);
END;
CREATE TRIGGER retail_guide_fts_delete AFTER DELETE ON retail_guide BEGIN
    INSERT INTO retail_guide_fts (retail_guide_fts, rowid, question) VALUES ('delete', old.rowid, old.question);
END;
CREATE TRIGGER retail_guide_fts_update AFTER UPDATE OF question ON retail_guide BEGIN
    INSERT INTO retail_guide_fts (retail_guide_fts, rowid, question) VALUES ('delete', old.rowid, old.question);
    INSERT INTO retail_guide_fts (rowid, question) VALUES (new.rowid, new.question);
END;
CREATE VIRTUAL TABLE retail_monthly_use_fts USING fts5(enterprise_code, content='retail_monthly_use', tokenize='trigram');
INSERT INTO retail_monthly_use_fts (retail_monthly_use_fts) VALUES ('rebuild');
CREATE TRIGGER retail_monthly_use_fts_insert AFTER INSERT ON retail_monthly_use BEGIN
    INSERT INTO retail_monthly_use_fts (rowid, enterprise_code) VALUES (new.rowid, new.enterprise_code);
END;
CREATE TRIGGER retail_monthly_use_fts_delete AFTER DELETE ON retail_monthly_use BEGIN
    INSERT INTO retail_monthly_use_fts (retail_monthly_use_fts, rowid, enterprise_code) VALUES ('delete', old.rowid, old.enterprise_code);
END;
CREATE TRIGGER retail_monthly_use_fts_update AFTER UPDATE OF enterprise_code ON retail_monthly_use BEGIN
    INSERT INTO retail_monthly_use_fts (retail_monthly_use_fts, rowid, enterprise_code) VALUES ('delete', old.rowid, old.enterprise_code);
    INSERT INTO retail_monthly_use_fts (rowid, enterprise_code) VALUES (new.rowid, new.enterprise_code);
END;
CREATE VIRTUAL TABLE charging_users_fts USING fts5(username, content='charging_users', tokenize='trigram');
INSERT INTO charging_users_fts (charging_users_fts) VALUES ('rebuild');
CREATE TRIGGER charging_users_fts_insert AFTER INSERT ON charging_users BEGIN
    INSERT INTO charging_users_fts (rowid, username) VALUES (new.rowid, new.username);
END;
CREATE TRIGGER charging_users_fts_delete AFTER DELETE ON charging_users BEGIN
    INSERT INTO charging_users_fts (charging_users_fts, rowid, username) VALUES ('delete', old.rowid, old.username);
END;
CREATE TRIGGER charging_users_fts_update AFTER UPDATE OF username ON charging_users BEGIN
    INSERT INTO charging_users_fts (charging_users_fts, rowid, username) VALUES ('delete', old.rowid, old.username);
    INSERT INTO charging_users_fts (rowid, username) VALUES (new.rowid, new.username);
END;
CREATE VIRTUAL TABLE charging_records_fts USING fts5(username, number, pile, content='charging_records', tokenize='trigram');
INSERT INTO charging_records_fts (charging_records_fts) VALUES ('rebuild');
CREATE TRIGGER charging_records_fts_insert AFTER INSERT ON charging_records BEGIN
    INSERT INTO charging_records_fts (rowid, username, number, pile) VALUES (new.rowid, new.username, new.number, new.pile);
END;
CREATE TRIGGER charging_records_fts_delete AFTER DELETE ON charging_records BEGIN
    INSERT INTO charging_records_fts (charging_records_fts, rowid, username, number, pile) VALUES ('delete', old.rowid, old.username, old.number, old.pile);
END;
CREATE TRIGGER charging_records_fts_update AFTER UPDATE OF username, number, pile ON charging_records BEGIN
    INSERT INTO charging_records_fts (charging_records_fts, rowid, username, number, pile) VALUES ('delete', old.rowid, old.username, old.number, old.pile);
    INSERT INTO charging_records_fts (rowid, username, number, pile) VALUES (new.rowid, new.username, new.number, new.pile);
END;
CREATE VIRTUAL TABLE iot_users_fts USING fts5(uid, code, login, profile, mobile, vid, content='iot_users', tokenize='trigram');
INSERT INTO iot_users_fts (iot_users_fts) VALUES ('rebuild');
CREATE TRIGGER iot_users_fts_insert AFTER INSERT ON iot_users BEGIN
    INSERT INTO iot_users_fts (rowid, uid, code, login, profile, mobile, vid) VALUES (new.rowid, new.uid, new.code, new.login, new.profile, new.mobile, new.vid);
END;
CREATE TRIGGER iot_users_fts_delete AFTER DELETE ON iot_users BEGIN
    INSERT INTO iot_users_fts (iot_users_fts, rowid, uid, code, login, profile, mobile, vid) VALUES ('delete', old.rowid, old.uid, old.code, old.login, old.profile, old.mobile, old.vid);
END;
CREATE TRIGGER iot_users_fts_update AFTER UPDATE OF uid, code, login, profile, mobile, vid ON iot_users BEGIN
    INSERT INTO iot_users_fts (iot_users_fts, rowid, uid, code, login, profile, mobile, vid) VALUES ('delete', old.rowid, old.uid, old.code, old.login, old.profile, old.mobile, old.vid);
    INSERT INTO iot_users_fts (rowid, uid, code, login, profile, mobile, vid) VALUES (new.rowid, new.uid, new.code, new.login, new.profile, new.mobile, new.vid);
END;
CREATE VIRTUAL TABLE iot_devices_fts USING fts5(did, uid, vid, content='iot_devices', tokenize='trigram');
INSERT INTO iot_devices_fts (iot_devices_fts) VALUES ('rebuild');
CREATE TRIGGER iot_devices_fts_insert AFTER INSERT ON iot_devices BEGIN
    INSERT INTO iot_devices_fts (rowid, did, uid, vid) VALUES (new.rowid, new.did, new.uid, new.vid);
END;
CREATE TRIGGER iot_devices_fts_delete AFTER DELETE ON iot_devices BEGIN
    INSERT INTO iot_devices_fts (iot_devices_fts, rowid, did, uid, vid) VALUES ('delete', old.rowid, old.did, old.uid, old.vid);
END;
CREATE TRIGGER iot_devices_fts_update AFTER UPDATE OF did, uid, vid ON iot_devices BEGIN
    INSERT INTO iot_devices_fts (iot_devices_fts, rowid, did, uid, vid) VALUES ('delete', old.rowid, old.did, old.uid, old.vid);
    INSERT INTO iot_devices_fts (rowid, did, uid, vid) VALUES (new.rowid, new.did, new.uid, new.vid);
END;
CREATE VIRTUAL TABLE iot_orders_fts USING fts5(oid, uid, vid, content='iot_orders', tokenize='trigram');
INSERT INTO iot_orders_fts (iot_orders_fts) VALUES ('rebuild');
CREATE TRIGGER iot_orders_fts_insert AFTER INSERT ON iot_orders BEGIN
    INSERT INTO iot_orders_fts (rowid, oid, uid, vid) VALUES (new.rowid, new.oid, new.uid, new.vid);
END;
CREATE TRIGGER iot_orders_fts_delete AFTER DELETE ON iot_orders BEGIN
    INSERT INTO iot_orders_fts (iot_orders_fts, rowid, oid, uid, vid) VALUES ('delete', old.rowid, old.oid, old.uid, old.vid);
END;
CREATE TRIGGER iot_orders_fts_update AFTER UPDATE OF oid, uid, vid ON iot_orders BEGIN
    INSERT INTO iot_orders_fts (iot_orders_fts, rowid, oid, uid, vid) VALUES ('delete', old.rowid, old.oid, old.uid, old.vid);
    INSERT INTO iot_orders_fts (rowid, oid, uid, vid) VALUES (new.rowid, new.oid, new.uid, new.vid);
END;
CREATE VIRTUAL TABLE iot_tickets_fts USING fts5(tid, detail, device_id, order_id, content='iot_tickets', tokenize='trigram');
INSERT INTO iot_tickets_fts (iot_tickets_fts) VALUES ('rebuild');
CREATE TRIGGER iot_tickets_fts_insert AFTER INSERT ON iot_tickets BEGIN
    INSERT INTO iot_tickets_fts (rowid, tid, detail, device_id, order_id) VALUES (new.rowid, new.tid, new.detail, new.device_id, new.order_id);
END;
CREATE TRIGGER iot_tickets_fts_delete AFTER DELETE ON iot_tickets BEGIN
    INSERT INTO iot_tickets_fts (iot_tickets_fts, rowid, tid, detail, device_id, order_id) VALUES ('delete', old.rowid, old.tid, old.detail, old.device_id, old.order_id);
END;
CREATE TRIGGER iot_tickets_fts_update AFTER UPDATE OF tid, detail, device_id, order_id ON iot_tickets BEGIN
    INSERT INTO iot_tickets_fts (iot_tickets_fts, rowid, tid, detail, device_id, order_id) VALUES ('delete', old.rowid, old.tid, old.detail, old.device_id, old.order_id);
    INSERT INTO iot_tickets_fts (rowid, tid, detail, device_id, order_id) VALUES (new.rowid, new.tid, new.detail, new.device_id, new.order_id);
END;
CREATE VIRTUAL TABLE iot_commissions_fts USING fts5(oid, uid, content='iot_commissions', tokenize='trigram');
INSERT INTO iot_commissions_fts (iot_commissions_fts) VALUES ('rebuild');
CREATE TRIGGER iot_commissions_fts_insert AFTER INSERT ON iot_commissions BEGIN
    INSERT INTO iot_commissions_fts (rowid, oid, uid) VALUES (new.rowid, new.oid, new.uid);
END;
CREATE TRIGGER iot_commissions_fts_delete AFTER DELETE ON iot_commissions BEGIN
    INSERT INTO iot_commissions_fts (iot_commissions_fts, rowid, oid, uid) VALUES ('delete', old.rowid, old.oid, old.uid);
END;
CREATE TRIGGER iot_commissions_fts_update AFTER UPDATE OF oid, uid ON iot_commissions BEGIN
    INSERT INTO iot_commissions_fts (iot_commissions_fts, rowid, oid, uid) VALUES ('delete', old.rowid, old.oid, old.uid);
    INSERT INTO iot_commissions_fts (rowid, oid, uid) VALUES (new.rowid, new.oid, new.uid);
END;
CREATE VIRTUAL TABLE iot_withdrawals_fts USING fts5(wid, uid, content='iot_withdrawals', tokenize='trigram');
INSERT INTO iot_withdrawals_fts (iot_withdrawals_fts) VALUES ('rebuild');
CREATE TRIGGER iot_withdrawals_fts_insert AFTER INSERT ON iot_withdrawals BEGIN
    INSERT INTO iot_withdrawals_fts (rowid, wid, uid) VALUES (new.rowid, new.wid, new.uid);
END;
CREATE TRIGGER iot_withdrawals_fts_delete AFTER DELETE ON iot_withdrawals BEGIN
    INSERT INTO iot_withdrawals_fts (iot_withdrawals_fts, rowid, wid, uid) VALUES ('delete', old.rowid, old.wid, old.uid);
END;
CREATE TRIGGER iot_withdrawals_fts_update AFTER UPDATE OF wid, uid ON iot_withdrawals BEGIN
    INSERT INTO iot_withdrawals_fts (iot_withdrawals_fts, rowid, wid, uid) VALUES ('delete', old.rowid, old.wid, old.uid);
    INSERT INTO iot_withdrawals_fts (rowid, wid, uid) VALUES (new.rowid, new.wid, new.uid);
END;

-- A search in another table's column finds the rows by their key: the keys not yet indexed.
CREATE INDEX retail_contracts_company ON retail_contracts (company_id);
CREATE INDEX retail_feedback_user ON retail_feedback (user_id);
