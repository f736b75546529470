-- Core schema (DESIGN §3). Timestamps are integer ms since the epoch; calendar dates are TEXT YYYY-MM-DD.
CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('district', 'commune', 'station', 'gate', 'office')),
  name TEXT NOT NULL,
  parent_id TEXT REFERENCES sites(id),
  border INTEGER NOT NULL DEFAULT 0 CHECK (border IN (0, 1)),
  admin_code TEXT,
  lat REAL,
  lon REAL,
  valid_from TEXT,
  valid_to TEXT,
  note TEXT
);
CREATE INDEX sites_parent ON sites(parent_id);

CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  loaded_at INTEGER NOT NULL
);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  site_id TEXT REFERENCES sites(id),
  kind TEXT NOT NULL DEFAULT 'kiosk' CHECK (kind IN ('kiosk', 'display', 'pc', 'speaker', 'other')),
  model TEXT,
  serial TEXT,
  status TEXT NOT NULL DEFAULT 'registered' CHECK (status IN ('registered', 'provisioned', 'active', 'decommissioned')),
  secret_hash TEXT,
  first_seen INTEGER,
  last_seen INTEGER,
  online INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
  agent_version TEXT,
  boot_id TEXT,
  content_seq INTEGER,
  equipped_at INTEGER,
  decommissioned_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX devices_site ON devices(site_id);
CREATE INDEX devices_status ON devices(status);

-- Raw samples. The key (device_id, seq) appends per device and is the dedupe of retransmissions;
-- no foreign key, so an insert costs no lookup in devices (the broker only lets known devices publish).
CREATE TABLE health (
  device_id TEXT NOT NULL,
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
  PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
-- received_ts only grows, so this index appends too; retention and roll-ups walk it.
CREATE INDEX health_received ON health(received_ts);

CREATE TABLE health_hourly (
  device_id TEXT NOT NULL,
  hour INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  cpu_avg REAL,
  cpu_max REAL,
  mem_avg REAL,
  mem_max REAL,
  disk_used_max REAL,
  disk_free_min INTEGER,
  temp_max REAL,
  PRIMARY KEY (device_id, hour)
) WITHOUT ROWID;

CREATE TABLE device_events (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  ts INTEGER,
  received_ts INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('device', 'server')),
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX device_events_device ON device_events(device_id, id);

-- Outbox: a command lives here until it ends, so one for an offline device is delivered when it reconnects.
CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices(id),
  type TEXT NOT NULL,
  params TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'acked', 'succeeded', 'failed', 'expired')),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  sent_at INTEGER,
  send_count INTEGER NOT NULL DEFAULT 0,
  acked_at INTEGER,
  finished_at INTEGER,
  detail TEXT
);
CREATE INDEX commands_device ON commands(device_id, created_at);
CREATE INDEX commands_open ON commands(status, expires_at);

CREATE TABLE device_sync (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  manifest_seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  missing INTEGER NOT NULL,
  error TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);

CREATE TABLE play_stats (
  device_id TEXT NOT NULL,
  day TEXT NOT NULL,
  item_id TEXT NOT NULL,
  lang TEXT NOT NULL,
  views INTEGER NOT NULL,
  seconds REAL NOT NULL,
  PRIMARY KEY (device_id, day, item_id, lang)
) WITHOUT ROWID;

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'department', 'editor', 'approver', 'technician')),
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT
);
CREATE INDEX audit_ts ON audit(ts);

-- Small key/value state of periodic jobs (roll-up watermark, …).
CREATE TABLE server_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
