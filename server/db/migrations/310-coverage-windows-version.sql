-- The coverage trend (server/coverage/trend.ts) asks only when each device counted for its site: the spans
-- [max(first_seen, equipped_at), decommissioned_at) per site (engine.ts `countingWindow`), read from
-- coverage_open_sites (migration 303) and the decommissioned devices. Those spans change only when a device is
-- added or removed, or its site, status, first_seen, equipped_at or decommissioned_at changes — never on a
-- heartbeat (`touch` writes last_seen alone). A version bumped by exactly those writes, in the writing transaction
-- (whichever connection writes), lets the coverage routes keep the spans in memory (coverage-repo.ts
-- `createSpansReader`) and re-read them as soon as one changed: 15 000 rows per trend request otherwise.
CREATE TABLE coverage_windows_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO coverage_windows_version (id, version) VALUES (1, 0);

CREATE TRIGGER coverage_windows_device_inserted AFTER INSERT ON devices BEGIN
  UPDATE coverage_windows_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER coverage_windows_device_deleted AFTER DELETE ON devices BEGIN
  UPDATE coverage_windows_version SET version = version + 1 WHERE id = 1;
END;

-- `connected` and `sync` name first_seen, status and equipped_at on every connection and sync report (coalesce
-- keeps them): the WHEN bumps only on a real change.
CREATE TRIGGER coverage_windows_device_changed
AFTER UPDATE OF site_id, status, first_seen, equipped_at, decommissioned_at ON devices
WHEN OLD.site_id IS NOT NEW.site_id OR OLD.status IS NOT NEW.status OR OLD.first_seen IS NOT NEW.first_seen
  OR OLD.equipped_at IS NOT NEW.equipped_at OR OLD.decommissioned_at IS NOT NEW.decommissioned_at
BEGIN
  UPDATE coverage_windows_version SET version = version + 1 WHERE id = 1;
END;
