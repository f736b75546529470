-- Coverage (DESIGN §4) needs, per site, the earliest start of a counting window still open (an active device that
-- connected and applied a manifest, not decommissioned) and the latest last_seen among those devices. Grouping
-- 35 000–50 000 device index entries on every request dominated the coverage API at province scale, so the two
-- figures are kept per site, in the same transaction as the device change that moves them (triggers): exact and
-- never stale, and the request reads one row per equipped site.
CREATE TABLE coverage_open_sites (
  site_id TEXT PRIMARY KEY,
  start INTEGER NOT NULL,
  last_seen INTEGER
) WITHOUT ROWID;

INSERT INTO coverage_open_sites (site_id, start, last_seen)
  SELECT site_id, min(max(first_seen, equipped_at)), max(last_seen) FROM devices
  WHERE site_id IS NOT NULL AND status = 'active' AND decommissioned_at IS NULL
    AND first_seen IS NOT NULL AND equipped_at IS NOT NULL
  GROUP BY site_id;

-- A site's row recomputed from its devices (a handful of index entries of devices_coverage).
CREATE TRIGGER coverage_open_sites_insert AFTER INSERT ON devices WHEN NEW.site_id IS NOT NULL BEGIN
  DELETE FROM coverage_open_sites WHERE site_id = NEW.site_id;
  INSERT INTO coverage_open_sites (site_id, start, last_seen)
    SELECT site_id, min(max(first_seen, equipped_at)), max(last_seen) FROM devices
    WHERE site_id = NEW.site_id AND status = 'active' AND decommissioned_at IS NULL
      AND first_seen IS NOT NULL AND equipped_at IS NOT NULL
    GROUP BY site_id;
END;

CREATE TRIGGER coverage_open_sites_delete AFTER DELETE ON devices WHEN OLD.site_id IS NOT NULL BEGIN
  DELETE FROM coverage_open_sites WHERE site_id = OLD.site_id;
  INSERT INTO coverage_open_sites (site_id, start, last_seen)
    SELECT site_id, min(max(first_seen, equipped_at)), max(last_seen) FROM devices
    WHERE site_id = OLD.site_id AND status = 'active' AND decommissioned_at IS NULL
      AND first_seen IS NOT NULL AND equipped_at IS NOT NULL
    GROUP BY site_id;
END;

-- Anything but a later last_seen (a move, a status, first connection, first manifest, decommissioning, or a
-- last_seen going back or cleared): recompute the old and the new site.
CREATE TRIGGER coverage_open_sites_change AFTER UPDATE ON devices
WHEN OLD.site_id IS NOT NEW.site_id OR OLD.status IS NOT NEW.status OR OLD.first_seen IS NOT NEW.first_seen
  OR OLD.equipped_at IS NOT NEW.equipped_at OR OLD.decommissioned_at IS NOT NEW.decommissioned_at
  OR (OLD.last_seen IS NOT NEW.last_seen AND (NEW.last_seen IS NULL OR NEW.last_seen < OLD.last_seen))
BEGIN
  DELETE FROM coverage_open_sites WHERE site_id IN (OLD.site_id, NEW.site_id);
  INSERT INTO coverage_open_sites (site_id, start, last_seen)
    SELECT site_id, min(max(first_seen, equipped_at)), max(last_seen) FROM devices
    WHERE site_id IN (OLD.site_id, NEW.site_id) AND status = 'active' AND decommissioned_at IS NULL
      AND first_seen IS NOT NULL AND equipped_at IS NOT NULL
    GROUP BY site_id;
END;

-- The frequent case (every heartbeat): only last_seen moved forward. One primary-key update, when the device
-- holds an open window (otherwise the site's figures do not depend on it).
CREATE TRIGGER coverage_open_sites_seen AFTER UPDATE OF last_seen ON devices
WHEN NEW.site_id IS NOT NULL AND NEW.last_seen IS NOT NULL AND (OLD.last_seen IS NULL OR NEW.last_seen > OLD.last_seen)
  AND OLD.site_id IS NEW.site_id AND OLD.status IS NEW.status AND OLD.first_seen IS NEW.first_seen
  AND OLD.equipped_at IS NEW.equipped_at AND OLD.decommissioned_at IS NEW.decommissioned_at
  AND NEW.status = 'active' AND NEW.decommissioned_at IS NULL AND NEW.first_seen IS NOT NULL
  AND NEW.equipped_at IS NOT NULL
BEGIN
  UPDATE coverage_open_sites SET last_seen = NEW.last_seen
    WHERE site_id = NEW.site_id AND (last_seen IS NULL OR last_seen < NEW.last_seen);
END;
