-- The one "sync problem" rule (server/coverage/fleet-rules.ts: last report failed, or 3 download failures in a
-- row), used by coverage, the site table and alerts; this partial index is written with the same condition.
CREATE INDEX device_sync_problem ON device_sync(device_id) WHERE (state = 'failed' OR failures >= 3);
