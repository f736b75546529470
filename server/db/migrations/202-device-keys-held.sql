-- The version of the keys document each kiosk says it holds (its `status` message, `keysVersion`): how many
-- kiosks already trust a CA added to the keys document before the server certificate moves to it
-- (docs/deployment.md, moving kiosks to a new CA). NULL = never said (an agent from before, or not connected yet).
ALTER TABLE devices ADD COLUMN keys_version INTEGER;
