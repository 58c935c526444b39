-- The console's searches at 100,000 rows (issue 19): a substring search (`LIKE '%q%'`) reads
-- every row, so each column the console searches gets a trigram index (pg_trgm's GIN operator
-- class), which serves `LIKE '%q%'` for three characters or more with no change to the query. The
-- list is `store::records::SEARCH_INDEX`, the same as SQLite's FTS5 tables.
--
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension since PostgreSQL 13. Where it
-- cannot be created, the indexes are left out and searches read whole tables, as before: slower,
-- never wrong. It goes to the `public` schema when it can, so that one copy serves every schema
-- (and dropping a schema never takes it away from the others).
DO $$
DECLARE
    home text;
BEGIN
    SELECT n.nspname INTO home FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF home IS NULL THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        EXCEPTION WHEN OTHERS THEN
            BEGIN
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
            EXCEPTION WHEN OTHERS THEN
                RAISE NOTICE 'pg_trgm is not available (%): console searches read whole tables', SQLERRM;
            END;
        END;
        SELECT n.nspname INTO home FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_trgm';
    END IF;
    IF home IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE INDEX users_trgm_phone ON users USING gin (phone %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX users_trgm_nickname ON users USING gin (nickname %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX users_trgm_real_name ON users USING gin (real_name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heat_accounts_trgm_heat_account ON heat_accounts USING gin (heat_account %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heat_accounts_trgm_real_name ON heat_accounts USING gin (real_name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heat_accounts_trgm_address ON heat_accounts USING gin (address %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heating_bills_trgm_bill_id ON heating_bills USING gin (bill_id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heating_bills_trgm_heat_account ON heating_bills USING gin (heat_account %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heating_bills_trgm_heating_season ON heating_bills USING gin (heating_season %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heating_orders_trgm_order_id ON heating_orders USING gin (order_id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heating_orders_trgm_heat_account ON heating_orders USING gin (heat_account %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX heating_orders_trgm_transaction_id ON heating_orders USING gin (transaction_id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_api_accounts_trgm_admin_user_name ON meter_api_accounts USING gin (admin_user_name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_households_trgm_user_code ON meter_households USING gin (user_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_households_trgm_user_name ON meter_households USING gin (user_name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_households_trgm_admin_user_name ON meter_households USING gin (admin_user_name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_households_trgm_address ON meter_households USING gin (address %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meters_trgm_user_code ON meters USING gin (user_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_recharges_trgm_out_trade_no ON meter_recharges USING gin (out_trade_no %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_recharges_trgm_admin_user_name ON meter_recharges USING gin (admin_user_name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_recharges_trgm_user_code ON meter_recharges USING gin (user_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX meter_consumptions_trgm_table_no ON meter_consumptions USING gin (table_no %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_companies_trgm_name ON retail_companies USING gin (name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_companies_trgm_services ON retail_companies USING gin (services %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_enterprises_trgm_credit_code ON retail_enterprises USING gin (credit_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_enterprises_trgm_name ON retail_enterprises USING gin (name %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_enterprises_trgm_contact_phone ON retail_enterprises USING gin (contact_phone %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_users_trgm_phone ON retail_users USING gin (phone %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_users_trgm_enterprise_code ON retail_users USING gin (enterprise_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_contracts_trgm_contract_id ON retail_contracts USING gin (contract_id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_contracts_trgm_title ON retail_contracts USING gin (title %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_bills_trgm_id ON retail_bills USING gin (id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_bills_trgm_enterprise_code ON retail_bills USING gin (enterprise_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_feedback_trgm_content ON retail_feedback USING gin (content %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_feedback_trgm_contact ON retail_feedback USING gin (contact %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_articles_trgm_title ON retail_articles USING gin (title %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_articles_trgm_author ON retail_articles USING gin (author %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_guide_trgm_question ON retail_guide USING gin (question %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX retail_monthly_use_trgm_enterprise_code ON retail_monthly_use USING gin (enterprise_code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_users_trgm_username ON charging_users USING gin (username %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_records_trgm_username ON charging_records USING gin (username %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_records_trgm_number ON charging_records USING gin (number %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_records_trgm_pile ON charging_records USING gin (pile %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_users_trgm_uid ON iot_users USING gin (uid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_users_trgm_code ON iot_users USING gin (code %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_users_trgm_login ON iot_users USING gin (login %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_users_trgm_profile ON iot_users USING gin (profile %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_users_trgm_mobile ON iot_users USING gin (mobile %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_users_trgm_vid ON iot_users USING gin (vid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_devices_trgm_did ON iot_devices USING gin (did %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_devices_trgm_uid ON iot_devices USING gin (uid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_devices_trgm_vid ON iot_devices USING gin (vid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_orders_trgm_oid ON iot_orders USING gin (oid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_orders_trgm_uid ON iot_orders USING gin (uid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_orders_trgm_vid ON iot_orders USING gin (vid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_tickets_trgm_tid ON iot_tickets USING gin (tid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_tickets_trgm_detail ON iot_tickets USING gin (detail %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_tickets_trgm_device_id ON iot_tickets USING gin (device_id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_tickets_trgm_order_id ON iot_tickets USING gin (order_id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_commissions_trgm_oid ON iot_commissions USING gin (oid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_commissions_trgm_uid ON iot_commissions USING gin (uid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_withdrawals_trgm_wid ON iot_withdrawals USING gin (wid %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX iot_withdrawals_trgm_uid ON iot_withdrawals USING gin (uid %I.gin_trgm_ops)', home);
END
$$;

-- A search in another table's column finds the rows by their key: the keys not yet indexed.
CREATE INDEX retail_contracts_company ON retail_contracts (company_id);
CREATE INDEX retail_feedback_user ON retail_feedback (user_id);
