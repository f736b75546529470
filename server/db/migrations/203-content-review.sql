-- Review (issue 16): the reason an approver gave when sending a version back to draft, shown to its editor
-- until the version is submitted again (the audit log keeps every rejection; these columns hold the last one).
ALTER TABLE content_versions ADD COLUMN rejected_reason TEXT;
ALTER TABLE content_versions ADD COLUMN rejected_by TEXT;
ALTER TABLE content_versions ADD COLUMN rejected_at INTEGER;

-- The items of each device's last issued manifest, at the version it lists, with the seq of the first manifest
-- that listed that version (kept while the item stays in): a device whose applied seq (devices.content_seq) is at
-- least since_seq holds that version. Written with device_manifest_files when the manifest changes.
CREATE TABLE device_manifest_items (
  device_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  since_seq INTEGER NOT NULL,
  PRIMARY KEY (device_id, item_id)
) WITHOUT ROWID;
CREATE INDEX device_manifest_items_item ON device_manifest_items(item_id);
