-- Over-the-air releases (docs/releases.md): uploaded releases and their files (bytes in DATA_DIR/releases/content,
-- content-addressed like content files), rollouts in phases, and each kiosk's progress. Timestamps are ms.
CREATE TABLE releases (
  version TEXT PRIMARY KEY,
  arch TEXT NOT NULL,
  runtime TEXT NOT NULL,
  -- The signed release manifest exactly as uploaded (the signature covers its canonical bytes).
  signed TEXT NOT NULL,
  file_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);

CREATE TABLE release_files (
  version TEXT NOT NULL REFERENCES releases(version),
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  size INTEGER NOT NULL,
  PRIMARY KEY (version, path)
) WITHOUT ROWID;
CREATE INDEX release_files_sha ON release_files(sha256);

CREATE TABLE rollouts (
  id TEXT PRIMARY KEY,
  version TEXT NOT NULL REFERENCES releases(version),
  -- JSON: {scope: all} | {scope: site_kind, kind} | {scope: site, siteId} | {scope: devices, deviceIds}
  target TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'completed', 'stopped', 'aborted')),
  -- Index of the newest opened phase.
  phase INTEGER NOT NULL DEFAULT 0,
  reason TEXT,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE rollout_phases (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  soak_ms INTEGER NOT NULL,
  -- The phase stops the rollout when (failed + rolled back) / its devices exceeds this.
  abort_share REAL NOT NULL,
  opened_at INTEGER,
  PRIMARY KEY (rollout_id, idx)
) WITHOUT ROWID;

-- The devices of a rollout (fixed when it is created), their phase, and their last reported step.
CREATE TABLE rollout_devices (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  phase INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'downloading', 'installed', 'switched', 'committed', 'rolled_back', 'failed')),
  reason TEXT,
  -- Device clock of the report that set the state (older reports never overwrite a newer one).
  report_ts INTEGER,
  settled_at INTEGER,
  updated_at INTEGER,
  PRIMARY KEY (rollout_id, device_id)
) WITHOUT ROWID;
CREATE INDEX rollout_devices_device ON rollout_devices(device_id);

-- Every report as received, stored once: a resend (lost PUBACK) is the same (device, version, state, ts).
CREATE TABLE release_reports (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  rollout_id TEXT,
  version TEXT NOT NULL,
  state TEXT NOT NULL,
  running TEXT NOT NULL,
  reason TEXT,
  -- Bytes downloaded for the release so far (what moved over the link).
  bytes INTEGER,
  ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  UNIQUE (device_id, version, state, ts)
);
