-- Device data counted exactly once across QoS 1 resends, and a health seq that restarts kept (DESIGN §5).

-- Health: `series` numbers the runs of one device's seq. A re-imaged kiosk starts its seq again at 1; the
-- server then opens the next series instead of taking the new samples for resends of old ones. The key
-- (device_id, series, seq) still appends per device; existing rows are series 0. A WITHOUT ROWID key
-- cannot be altered, so the table is rebuilt (rows copied in key order).
CREATE TABLE health_v2 (
  device_id TEXT NOT NULL,
  series INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL,
  device_ts INTEGER NOT NULL,
  received_ts INTEGER NOT NULL,
  cpu_load REAL NOT NULL,
  mem_used REAL NOT NULL,
  disk_used REAL NOT NULL,
  disk_free INTEGER NOT NULL,
  temp_c REAL,
  uptime_s REAL NOT NULL,
  content_seq INTEGER NOT NULL,
  queue_depth INTEGER NOT NULL,
  queue_dropped INTEGER,
  PRIMARY KEY (device_id, series, seq)
) WITHOUT ROWID;
INSERT INTO health_v2 (device_id, series, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c,
    uptime_s, content_seq, queue_depth, queue_dropped)
  SELECT device_id, 0, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c,
    uptime_s, content_seq, queue_depth, queue_dropped
  FROM health ORDER BY device_id, seq;
DROP TABLE health;
ALTER TABLE health_v2 RENAME TO health;
CREATE INDEX health_received ON health(received_ts);

-- Events: a resend after a lost PUBACK is the same (device, source, ts, type, message) and is stored once.
-- Duplicates stored before this rule are removed, the first one kept. (Rows without ts are server events;
-- NULLs never collide in a unique index, so they are left alone.)
DELETE FROM device_events
WHERE ts IS NOT NULL
  AND id NOT IN (SELECT min(id) FROM device_events WHERE ts IS NOT NULL GROUP BY device_id, source, ts, type, message);
CREATE UNIQUE INDEX device_events_once ON device_events(device_id, source, ts, type, message);

-- Sync: the device clock of the stored report (optional in the protocol; NULL from agents that do not send
-- it). A report equal to the stored one in every field, this included, is a resend and changes nothing.
ALTER TABLE device_sync ADD COLUMN report_ts INTEGER;
