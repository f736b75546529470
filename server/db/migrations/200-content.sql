-- Content library (DESIGN §3, §7): items, their versions under review, translations per BCP 47 tag, files,
-- targeting, and the per-device manifest state. Text is stored exactly as given (UTF-8, no normalisation:
-- Jrai's Ư̆ is U+01AF U+0306 and must stay so). Timestamps are integer ms since the epoch.
CREATE TABLE content_topics (
  slug TEXT PRIMARY KEY,
  label_vi TEXT NOT NULL,
  label_en TEXT NOT NULL
);
INSERT INTO content_topics (slug, label_vi, label_en) VALUES
  ('border-sovereignty-law', 'Chủ quyền biên giới và pháp luật', 'Border sovereignty and law'),
  ('socio-economic-development', 'Phát triển kinh tế - xã hội', 'Socio-economic development'),
  ('culture-tourism', 'Văn hóa và du lịch', 'Culture and tourism'),
  ('human-rights', 'Nhân quyền', 'Human rights'),
  ('correcting-false-information', 'Đấu tranh, phản bác thông tin sai trái', 'Correcting false information');

-- Content-addressed: the same bytes uploaded twice are one row and one file on disk.
CREATE TABLE content_files (
  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  size INTEGER NOT NULL,
  mime TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);

CREATE TABLE content_items (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('document', 'video', 'image', 'audio', 'bulletin', 'leaflet', 'webpage')),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  latest_version INTEGER NOT NULL,
  -- The version devices receive; NULL when nothing is published (never published, or retired).
  published_version INTEGER
);

-- Editing a published item makes a new version, which goes through review again; devices keep the
-- published one meanwhile.
CREATE TABLE content_versions (
  item_id TEXT NOT NULL REFERENCES content_items(id),
  version INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'in_review', 'published', 'retired')),
  author TEXT NOT NULL,
  topics TEXT NOT NULL,
  featured INTEGER NOT NULL DEFAULT 0 CHECK (featured IN (0, 1)),
  valid_from INTEGER,
  valid_to INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  submitted_at INTEGER,
  approved_by TEXT,
  approved_at INTEGER,
  published_by TEXT,
  published_at INTEGER,
  retired_by TEXT,
  retired_at INTEGER,
  PRIMARY KEY (item_id, version),
  -- Publishing requires an approval; the approver is never the author.
  CHECK (state <> 'published' OR approved_by IS NOT NULL),
  CHECK (approved_by IS NULL OR approved_by <> author)
);
CREATE INDEX content_versions_state ON content_versions(state);

-- Everyone who changed a version: none of them may approve it.
CREATE TABLE content_version_editors (
  item_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  username TEXT NOT NULL,
  PRIMARY KEY (item_id, version, username),
  FOREIGN KEY (item_id, version) REFERENCES content_versions(item_id, version)
);

CREATE TABLE content_translations (
  item_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  lang TEXT NOT NULL,
  title TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  body TEXT,
  file_sha256 TEXT REFERENCES content_files(sha256),
  updated_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (item_id, version, lang),
  FOREIGN KEY (item_id, version) REFERENCES content_versions(item_id, version)
);

-- scope 'all' (value ''), 'site_kind' (value = a site kind), 'site' (value = a site id: that site and
-- everything under it, so a district or province unit targets its communes, stations and gates).
CREATE TABLE content_targets (
  item_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('all', 'site_kind', 'site')),
  value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (item_id, version, scope, value),
  FOREIGN KEY (item_id, version) REFERENCES content_versions(item_id, version)
);

-- The last manifest each device was issued: seq grows whenever the item set or a version changes.
CREATE TABLE device_manifests (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  seq INTEGER NOT NULL,
  items_hash TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- The files of that manifest: what the device may download.
CREATE TABLE device_manifest_files (
  device_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (device_id, sha256)
) WITHOUT ROWID;
