-- The console's charge boxes and drivers' cards (issue 19): searched as every other list is
-- (migration 0023), by an FTS5 trigram table over each table's own rows, kept by triggers. A
-- box's `last_seen_at`, written as it is heard, touches no searched column.

CREATE VIRTUAL TABLE charging_boxes_fts USING fts5(id, vendor, model, serial, content='charging_boxes', tokenize='trigram');
INSERT INTO charging_boxes_fts (charging_boxes_fts) VALUES ('rebuild');
CREATE TRIGGER charging_boxes_fts_insert AFTER INSERT ON charging_boxes BEGIN
    INSERT INTO charging_boxes_fts (rowid, id, vendor, model, serial) VALUES (new.rowid, new.id, new.vendor, new.model, new.serial);
END;
CREATE TRIGGER charging_boxes_fts_delete AFTER DELETE ON charging_boxes BEGIN
    INSERT INTO charging_boxes_fts (charging_boxes_fts, rowid, id, vendor, model, serial) VALUES ('delete', old.rowid, old.id, old.vendor, old.model, old.serial);
END;
CREATE TRIGGER charging_boxes_fts_update AFTER UPDATE OF id, vendor, model, serial ON charging_boxes BEGIN
    INSERT INTO charging_boxes_fts (charging_boxes_fts, rowid, id, vendor, model, serial) VALUES ('delete', old.rowid, old.id, old.vendor, old.model, old.serial);
    INSERT INTO charging_boxes_fts (rowid, id, vendor, model, serial) VALUES (new.rowid, new.id, new.vendor, new.model, new.serial);
END;
CREATE VIRTUAL TABLE charging_tags_fts USING fts5(id_tag, username, content='charging_tags', tokenize='trigram');
INSERT INTO charging_tags_fts (charging_tags_fts) VALUES ('rebuild');
CREATE TRIGGER charging_tags_fts_insert AFTER INSERT ON charging_tags BEGIN
    INSERT INTO charging_tags_fts (rowid, id_tag, username) VALUES (new.rowid, new.id_tag, new.username);
END;
CREATE TRIGGER charging_tags_fts_delete AFTER DELETE ON charging_tags BEGIN
    INSERT INTO charging_tags_fts (charging_tags_fts, rowid, id_tag, username) VALUES ('delete', old.rowid, old.id_tag, old.username);
END;
CREATE TRIGGER charging_tags_fts_update AFTER UPDATE OF id_tag, username ON charging_tags BEGIN
    INSERT INTO charging_tags_fts (charging_tags_fts, rowid, id_tag, username) VALUES ('delete', old.rowid, old.id_tag, old.username);
    INSERT INTO charging_tags_fts (rowid, id_tag, username) VALUES (new.rowid, new.id_tag, new.username);
END;
