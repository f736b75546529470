-- The communes table aggregates every placed device per site (counts, last seen, content seq, problems, the
-- counting window of the devices in service) in one GROUP BY: a covering index in site order lets SQLite walk it
-- without touching the table or sorting.
CREATE INDEX devices_progress ON devices(site_id, status, first_seen, equipped_at, decommissioned_at, last_seen, content_seq);
-- Closed counting windows (decommissioned devices) are read one by one: only those rows.
CREATE INDEX devices_closed ON devices(site_id, status, first_seen, equipped_at, decommissioned_at, last_seen)
  WHERE decommissioned_at IS NOT NULL;
-- Sync failures per site: only the failed rows, found without scanning every device's sync state.
CREATE INDEX device_sync_failed ON device_sync(device_id) WHERE state = 'failed';
