-- A lost token can be revoked before it is used (DELETE /api/v1/enrollment-tokens/{id}).
ALTER TABLE enrollment_tokens ADD COLUMN revoked_at INTEGER;
