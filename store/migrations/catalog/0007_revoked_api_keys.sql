-- revoked_api_keys: API keys revoked in a workspace. A key lives in its
-- workspace's file, so a restore to a moment before the revocation would
-- bring it back to life; every restore revokes these again.
CREATE TABLE revoked_api_keys (
	workspace_id TEXT NOT NULL,
	key_id       TEXT NOT NULL,
	revoked_at   DATETIME NOT NULL,
	PRIMARY KEY (workspace_id, key_id)
);
