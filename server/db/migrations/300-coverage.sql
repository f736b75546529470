-- Coverage (DESIGN §4) reads, on every request, the devices that can count: those that connected and applied a
-- manifest. A partial covering index holds exactly those rows and the columns the engine needs, so the read is one
-- compact index scan however many unequipped devices the registry holds.
CREATE INDEX devices_coverage ON devices(site_id, status, first_seen, equipped_at, decommissioned_at, last_seen)
  WHERE first_seen IS NOT NULL AND equipped_at IS NOT NULL;
-- Targets select sites by kind and border.
CREATE INDEX sites_kind_border ON sites(kind, border);
