-- Commissions are recorded when the order is paid (pending at once), before anyone knows when
-- the order will be received: `available_at` is unknown (NULL) until receipt, when it becomes
-- the end of the return window.
ALTER TABLE iot_commissions ALTER COLUMN available_at DROP NOT NULL;
