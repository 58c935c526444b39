-- The operators' console (issue 19): what its overview counts and sums without reading whole
-- tables (money received by day from the journal, open tickets, unpaid bills, devices online);
-- each index covers its query.
CREATE INDEX ledger_entries_created ON ledger_entries (created_at, kind, amount);
CREATE INDEX iot_tickets_status ON iot_tickets (status);
CREATE INDEX heating_bills_status ON heating_bills (status, amount);
CREATE INDEX iot_devices_live ON iot_devices (online, deleted_at);
CREATE INDEX charging_records_fees ON charging_records (stop_at, charge_fee, service_fee);
-- The console's lists in their default order (newest first), without sorting whole tables.
CREATE INDEX retail_feedback_created ON retail_feedback (created_at);
CREATE INDEX heating_orders_created ON heating_orders (created_at);
CREATE INDEX meter_recharges_created ON meter_recharges (created_at);
CREATE INDEX meter_consumptions_read ON meter_consumptions (read_time);
CREATE INDEX iot_devices_reg ON iot_devices (reg_at);
