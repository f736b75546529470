-- Provisioning (issue 3/8): enrollment tokens and pairing codes. Secrets are stored only as sha256 hashes
-- (they are 192-bit random values, so a fast hash is enough; see server/provisioning/secrets.ts).
CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  site_id TEXT NOT NULL REFERENCES sites(id),
  kind TEXT NOT NULL CHECK (kind IN ('kiosk', 'display', 'pc', 'speaker', 'other')),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  device_id TEXT REFERENCES devices(id)
);
CREATE INDEX enrollment_tokens_site ON enrollment_tokens(site_id);

-- A pairing is claimed by a person (site, kind, device id chosen) and the device row is created only when
-- the agent collects it, so the plain secret never has to be kept anywhere.
CREATE TABLE pairings (
  id TEXT PRIMARY KEY,
  code_hash TEXT NOT NULL,
  poll_hash TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('kiosk', 'display', 'pc', 'speaker', 'other')),
  facts TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  claimed_at INTEGER,
  claimed_by TEXT,
  site_id TEXT REFERENCES sites(id),
  device_id TEXT,
  delivered_at INTEGER
);
CREATE INDEX pairings_code ON pairings(code_hash, expires_at);
