-- Keys documents (DESIGN §7): every version the root signed, exactly as served to kiosks in the manifest
-- envelope; the newest is the one in force. Private keys are never here: they are files under DATA_DIR
-- (0600), and the root's may be kept offline altogether.
CREATE TABLE content_keys_documents (
  version INTEGER PRIMARY KEY CHECK (version >= 1),
  root_key_id TEXT NOT NULL,
  -- SPKI PEM of the root that signed it: what enrollment hands out as the kiosk's root of trust.
  root_public_key TEXT NOT NULL,
  signed TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
