-- Order lists. How many live (not deleted) orders each range holds, kept by triggers in the transaction that
-- changes the orders: a vendor's, an agent's, a dealer's or a member's first page of orders
-- reads its total here instead of counting every order of the range. `kind` is the range
-- (`vendor`, `agent`, `dealer`, `owner`), `who` its agent, dealer or member ('' for a vendor).
CREATE TABLE iot_order_counts (
    kind TEXT NOT NULL,
    vid TEXT NOT NULL,
    who TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, vid, who)
);

INSERT INTO iot_order_counts (kind, vid, who, n)
SELECT kind, vid, who, COUNT(*) FROM (
    SELECT 'vendor' AS kind, vid, '' AS who FROM iot_orders WHERE deleted_at IS NULL
    UNION ALL SELECT 'agent', vid, agent FROM iot_orders WHERE deleted_at IS NULL AND agent IS NOT NULL
    UNION ALL SELECT 'dealer', vid, dealer FROM iot_orders WHERE deleted_at IS NULL AND dealer IS NOT NULL
    UNION ALL SELECT 'owner', vid, uid FROM iot_orders WHERE deleted_at IS NULL
) AS ranges GROUP BY kind, vid, who;

CREATE TRIGGER iot_orders_counted AFTER INSERT ON iot_orders WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO iot_order_counts (kind, vid, who, n)
    SELECT 'vendor', NEW.vid, '', 1
    UNION ALL SELECT 'agent', NEW.vid, NEW.agent, 1 WHERE NEW.agent IS NOT NULL
    UNION ALL SELECT 'dealer', NEW.vid, NEW.dealer, 1 WHERE NEW.dealer IS NOT NULL
    UNION ALL SELECT 'owner', NEW.vid, NEW.uid, 1 WHERE 1
    ON CONFLICT (kind, vid, who) DO UPDATE SET n = iot_order_counts.n + excluded.n;
END;

CREATE TRIGGER iot_orders_uncounted AFTER DELETE ON iot_orders WHEN OLD.deleted_at IS NULL
BEGIN
    INSERT INTO iot_order_counts (kind, vid, who, n)
    SELECT 'vendor', OLD.vid, '', -1
    UNION ALL SELECT 'agent', OLD.vid, OLD.agent, -1 WHERE OLD.agent IS NOT NULL
    UNION ALL SELECT 'dealer', OLD.vid, OLD.dealer, -1 WHERE OLD.dealer IS NOT NULL
    UNION ALL SELECT 'owner', OLD.vid, OLD.uid, -1 WHERE 1
    ON CONFLICT (kind, vid, who) DO UPDATE SET n = iot_order_counts.n + excluded.n;
END;

-- An update that moves an order out of a range (deleted, or another agent or dealer) takes it
-- from the old range's count and puts it into the new one's.
CREATE TRIGGER iot_orders_recounted AFTER UPDATE ON iot_orders
WHEN OLD.deleted_at IS NOT NEW.deleted_at OR OLD.vid IS NOT NEW.vid OR OLD.agent IS NOT NEW.agent
    OR OLD.dealer IS NOT NEW.dealer OR OLD.uid IS NOT NEW.uid
BEGIN
    INSERT INTO iot_order_counts (kind, vid, who, n)
    SELECT 'vendor', OLD.vid, '', -1 WHERE OLD.deleted_at IS NULL
    UNION ALL SELECT 'agent', OLD.vid, OLD.agent, -1 WHERE OLD.deleted_at IS NULL AND OLD.agent IS NOT NULL
    UNION ALL SELECT 'dealer', OLD.vid, OLD.dealer, -1 WHERE OLD.deleted_at IS NULL AND OLD.dealer IS NOT NULL
    UNION ALL SELECT 'owner', OLD.vid, OLD.uid, -1 WHERE OLD.deleted_at IS NULL
    ON CONFLICT (kind, vid, who) DO UPDATE SET n = iot_order_counts.n + excluded.n;
    INSERT INTO iot_order_counts (kind, vid, who, n)
    SELECT 'vendor', NEW.vid, '', 1 WHERE NEW.deleted_at IS NULL
    UNION ALL SELECT 'agent', NEW.vid, NEW.agent, 1 WHERE NEW.deleted_at IS NULL AND NEW.agent IS NOT NULL
    UNION ALL SELECT 'dealer', NEW.vid, NEW.dealer, 1 WHERE NEW.deleted_at IS NULL AND NEW.dealer IS NOT NULL
    UNION ALL SELECT 'owner', NEW.vid, NEW.uid, 1 WHERE NEW.deleted_at IS NULL
    ON CONFLICT (kind, vid, who) DO UPDATE SET n = iot_order_counts.n + excluded.n;
END;
