-- The operators' console (issue 19): what its overview counts and sums without reading whole
-- tables (money received by day from the journal, open tickets, unpaid bills, devices online);
-- each index covers its query.
CREATE INDEX ledger_entries_created ON ledger_entries (created_at, kind, amount);
CREATE INDEX iot_tickets_status ON iot_tickets (status);
CREATE INDEX heating_bills_status ON heating_bills (status, amount);
CREATE INDEX iot_devices_live ON iot_devices (online, deleted_at);
CREATE INDEX charging_records_fees ON charging_records (stop_at, charge_fee, service_fee);
