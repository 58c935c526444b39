-- The console's charge boxes and drivers' cards (issue 19): searched as every other list is
-- (migration 0023), by a pg_trgm GIN index on each searched column, where pg_trgm is installed
-- (migration 0023 created it when it could; without it, searches read the table).
DO $$
DECLARE
    home text;
BEGIN
    SELECT n.nspname INTO home FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF home IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE INDEX charging_boxes_trgm_id ON charging_boxes USING gin (id %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_boxes_trgm_vendor ON charging_boxes USING gin (vendor %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_boxes_trgm_model ON charging_boxes USING gin (model %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_boxes_trgm_serial ON charging_boxes USING gin (serial %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_tags_trgm_id_tag ON charging_tags USING gin (id_tag %I.gin_trgm_ops)', home);
    EXECUTE format('CREATE INDEX charging_tags_trgm_username ON charging_tags USING gin (username %I.gin_trgm_ops)', home);
END
$$;
