-- The dashboard's alerts (server/dashboard/alerts.ts) at province scale: each alert kind read from an index or a
-- small table that holds exactly the devices it may concern, instead of looking at every device per request.
-- The two tables are kept by triggers in the same transaction as the write that moves them (whichever connection
-- writes), so they are never stale; tests/dashboard-incremental.test.ts holds them equal to a full recompute.

-- `disk`: the devices whose NEWEST health sample (greatest (series, seq), not the last received) has
-- disk_used > 90 (ALERT_LIMITS.diskPercent in alerts.ts, the same number), with that sample's key. A sample that is
-- not the newest (a backlog arriving late) changes nothing; a newest one at or under the limit removes the device.
CREATE TABLE dashboard_disk_full (
  device_id TEXT PRIMARY KEY,
  series INTEGER NOT NULL,
  seq INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO dashboard_disk_full (device_id, series, seq)
  SELECT h.device_id, h.series, h.seq FROM health h
  WHERE h.disk_used > 90
    AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = h.device_id AND n.series = h.series AND n.seq > h.seq)
    AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = h.device_id AND n.series > h.series);

-- Over the limit and the newest: two seeks in the (device_id, series, seq) key, only for samples over the limit.
CREATE TRIGGER dashboard_disk_full_over AFTER INSERT ON health
WHEN NEW.disk_used > 90
  AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = NEW.device_id AND n.series = NEW.series AND n.seq > NEW.seq)
  AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = NEW.device_id AND n.series > NEW.series)
BEGIN
  INSERT INTO dashboard_disk_full (device_id, series, seq) VALUES (NEW.device_id, NEW.series, NEW.seq)
    ON CONFLICT (device_id) DO UPDATE SET series = excluded.series, seq = excluded.seq;
END;

-- At or under the limit: the stored row (always the newest sample's key) goes if this sample is newer. The usual
-- case (no row for the device) is one seek in this small table.
CREATE TRIGGER dashboard_disk_full_under AFTER INSERT ON health
WHEN NEW.disk_used <= 90
BEGIN
  DELETE FROM dashboard_disk_full
  WHERE device_id = NEW.device_id AND (series < NEW.series OR (series = NEW.series AND seq < NEW.seq));
END;

-- Retention deletes old samples; when the deleted one was the device's newest (its whole history expired, or a
-- newest sample removed by hand), the device's row is recomputed from what is left.
CREATE TRIGGER dashboard_disk_full_deleted AFTER DELETE ON health
WHEN NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = OLD.device_id AND n.series = OLD.series AND n.seq > OLD.seq)
  AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = OLD.device_id AND n.series > OLD.series)
BEGIN
  DELETE FROM dashboard_disk_full WHERE device_id = OLD.device_id;
  INSERT INTO dashboard_disk_full (device_id, series, seq)
    SELECT device_id, series, seq FROM
      (SELECT device_id, series, seq, disk_used FROM health WHERE device_id = OLD.device_id
       ORDER BY series DESC, seq DESC LIMIT 1)
    WHERE disk_used > 90;
END;

-- Samples are never updated; should one be, both devices' rows are recomputed.
CREATE TRIGGER dashboard_disk_full_updated AFTER UPDATE ON health
BEGIN
  DELETE FROM dashboard_disk_full WHERE device_id IN (OLD.device_id, NEW.device_id);
  INSERT INTO dashboard_disk_full (device_id, series, seq)
    SELECT h.device_id, h.series, h.seq FROM health h
    WHERE h.device_id IN (OLD.device_id, NEW.device_id) AND h.disk_used > 90
      AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = h.device_id AND n.series = h.series AND n.seq > h.seq)
      AND NOT EXISTS (SELECT 1 FROM health n WHERE n.device_id = h.device_id AND n.series > h.series);
END;

-- `not_synced`, its first half: devices that connected (first_seen set) and never sent a sync report (no
-- device_sync row). Found otherwise only by looking every device's sync row up.
CREATE TABLE dashboard_never_synced (
  device_id TEXT PRIMARY KEY
) WITHOUT ROWID;

INSERT INTO dashboard_never_synced (device_id)
  SELECT id FROM devices dv
  WHERE dv.first_seen IS NOT NULL AND NOT EXISTS (SELECT 1 FROM device_sync ds WHERE ds.device_id = dv.id);

CREATE TRIGGER dashboard_never_synced_device_inserted AFTER INSERT ON devices
WHEN NEW.first_seen IS NOT NULL AND NOT EXISTS (SELECT 1 FROM device_sync ds WHERE ds.device_id = NEW.id)
BEGIN
  INSERT OR IGNORE INTO dashboard_never_synced (device_id) VALUES (NEW.id);
END;

-- Fires on `connected` (first_seen = coalesce(first_seen, …)) but does something only when first_seen changed.
CREATE TRIGGER dashboard_never_synced_device_changed AFTER UPDATE OF id, first_seen ON devices
WHEN OLD.id IS NOT NEW.id OR OLD.first_seen IS NOT NEW.first_seen
BEGIN
  DELETE FROM dashboard_never_synced WHERE device_id IN (OLD.id, NEW.id);
  INSERT OR IGNORE INTO dashboard_never_synced (device_id)
    SELECT NEW.id WHERE NEW.first_seen IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM device_sync ds WHERE ds.device_id = NEW.id);
END;

CREATE TRIGGER dashboard_never_synced_device_deleted AFTER DELETE ON devices
BEGIN
  DELETE FROM dashboard_never_synced WHERE device_id = OLD.id;
END;

CREATE TRIGGER dashboard_never_synced_sync_inserted AFTER INSERT ON device_sync
BEGIN
  DELETE FROM dashboard_never_synced WHERE device_id = NEW.device_id;
END;

CREATE TRIGGER dashboard_never_synced_sync_deleted AFTER DELETE ON device_sync
BEGIN
  INSERT OR IGNORE INTO dashboard_never_synced (device_id)
    SELECT id FROM devices WHERE id = OLD.device_id AND first_seen IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM device_sync ds WHERE ds.device_id = OLD.device_id);
END;

CREATE TRIGGER dashboard_never_synced_sync_moved AFTER UPDATE OF device_id ON device_sync
WHEN OLD.device_id IS NOT NEW.device_id
BEGIN
  DELETE FROM dashboard_never_synced WHERE device_id = NEW.device_id;
  INSERT OR IGNORE INTO dashboard_never_synced (device_id)
    SELECT id FROM devices WHERE id = OLD.device_id AND first_seen IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM device_sync ds WHERE ds.device_id = OLD.device_id);
END;

-- `not_synced`, its second half: a last report other than `applied`, by its age (only those rows).
CREATE INDEX dashboard_sync_pending ON device_sync(updated_at, device_id) WHERE state <> 'applied';

-- `clock_skew`: the events of that type by receipt, for the 7-day window (only those rows).
CREATE INDEX dashboard_clock_skew ON device_events(received_ts, device_id) WHERE type = 'clock_skew';

-- `offline`: active devices by last seen, with what the alert shows (count and the oldest page without touching
-- the table). One more index entry moved per heartbeat, beside devices_coverage and devices_progress.
CREATE INDEX dashboard_offline ON devices(last_seen, id, site_id) WHERE status = 'active';
