-- Site coordinates (lat, lon: WGS 84 degrees, in the table since 001) get a mark for an estimate: 1 when the point
-- is the commune's centre or read off a map rather than surveyed at the site (docs/dashboard.md, "Map").
ALTER TABLE sites ADD COLUMN coord_approx INTEGER NOT NULL DEFAULT 0 CHECK (coord_approx IN (0, 1));
