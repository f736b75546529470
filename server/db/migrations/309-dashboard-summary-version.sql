-- The dashboard's per-site summary (map states and problems, the site table's figure sorts and state filters;
-- server/dashboard/dashboard-repo.ts) kept in memory between requests instead of one pass over every device per
-- request. It stays exact because:
-- - `version` is bumped, in the writing transaction (whichever connection writes), by every write of a device
--   that can change a site's figures at some instant: insert, delete, a change of site, status, first_seen,
--   equipped_at or decommissioned_at, and a change of last_seen that is not an ONLINE device moving forward; the
--   sites such a write concerns (the device's site before and after) are marked in dashboard_summary_dirty with
--   that version, so the reader recounts only them (a few index seeks) instead of every site;
-- - "online" here is relative to `seen_cutoff`, a past instant the reader raises (never lowers) to at least the
--   OFFLINE_AFTER cutoff of the summary it keeps, before reading it: a device seen at or after seen_cutoff was
--   online for that summary, and moving its last_seen forward keeps it online at least as long. Such writes
--   (the heartbeats of healthy kiosks, every `touch`) leave `version` alone, and the reader finds the devices that
--   went silent since its summary in the dashboard_offline index (migration 308), by last seen;
-- - the other time dependence (a device starting or stopping to count, fleet-rules.ts) is known in advance: the
--   reader keeps its summary only until the first such instant.
-- tests/dashboard-incremental.test.ts holds the summary equal to a full recompute, and drops each trigger.
CREATE TABLE dashboard_summary_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  seen_cutoff INTEGER NOT NULL
);
INSERT INTO dashboard_summary_state (id, version, seen_cutoff) VALUES (1, 0, 0);

-- One row per site ever concerned, with the version of the last write that concerned it (at most one per site).
CREATE TABLE dashboard_summary_dirty (
  site_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dashboard_summary_dirty_version ON dashboard_summary_dirty(version);

CREATE TRIGGER dashboard_summary_device_inserted AFTER INSERT ON devices
BEGIN
  UPDATE dashboard_summary_state SET version = version + 1 WHERE id = 1;
  INSERT INTO dashboard_summary_dirty (site_id, version)
    SELECT NEW.site_id, version FROM dashboard_summary_state WHERE id = 1 AND NEW.site_id IS NOT NULL
    ON CONFLICT (site_id) DO UPDATE SET version = excluded.version;
END;

CREATE TRIGGER dashboard_summary_device_deleted AFTER DELETE ON devices
BEGIN
  UPDATE dashboard_summary_state SET version = version + 1 WHERE id = 1;
  INSERT INTO dashboard_summary_dirty (site_id, version)
    SELECT OLD.site_id, version FROM dashboard_summary_state WHERE id = 1 AND OLD.site_id IS NOT NULL
    ON CONFLICT (site_id) DO UPDATE SET version = excluded.version;
END;

-- Runs on every `touch` (UPDATE OF last_seen): for a healthy kiosk the WHEN is a few comparisons and one seek
-- in the one-row table, and nothing is written.
CREATE TRIGGER dashboard_summary_device_changed
AFTER UPDATE OF site_id, status, first_seen, equipped_at, decommissioned_at, last_seen ON devices
WHEN OLD.site_id IS NOT NEW.site_id OR OLD.status IS NOT NEW.status OR OLD.first_seen IS NOT NEW.first_seen
  OR OLD.equipped_at IS NOT NEW.equipped_at OR OLD.decommissioned_at IS NOT NEW.decommissioned_at
  OR (OLD.last_seen IS NOT NEW.last_seen AND (OLD.last_seen IS NULL OR NEW.last_seen IS NULL
      OR NEW.last_seen < OLD.last_seen
      OR OLD.last_seen < (SELECT seen_cutoff FROM dashboard_summary_state WHERE id = 1)))
BEGIN
  UPDATE dashboard_summary_state SET version = version + 1 WHERE id = 1;
  INSERT INTO dashboard_summary_dirty (site_id, version)
    SELECT x.site_id, st.version FROM dashboard_summary_state st,
      (SELECT OLD.site_id AS site_id UNION SELECT NEW.site_id) x
    WHERE st.id = 1 AND x.site_id IS NOT NULL
    ON CONFLICT (site_id) DO UPDATE SET version = excluded.version;
END;
