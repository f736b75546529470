-- The site registry changes rarely (imports, edits) but coverage reads all of it on every request. A version
-- bumped by every change lets the coverage routes keep the registry in memory and re-read it as soon as it
-- changes: never a stale site, and no 10 000-row read per request. Device facts are always read fresh.
CREATE TABLE coverage_sites_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO coverage_sites_version (id, version) VALUES (1, 0);
CREATE TRIGGER coverage_sites_inserted AFTER INSERT ON sites BEGIN
  UPDATE coverage_sites_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER coverage_sites_updated AFTER UPDATE ON sites BEGIN
  UPDATE coverage_sites_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER coverage_sites_deleted AFTER DELETE ON sites BEGIN
  UPDATE coverage_sites_version SET version = version + 1 WHERE id = 1;
END;
