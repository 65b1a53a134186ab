-- workspace_keys: each workspace's data key, wrapped (AES-256-GCM) by the
-- instance's master key, which is not in the catalog. Secrets inside a
-- workspace file (SMTP passwords) are sealed with the data key. Deleting a
-- workspace deletes its key: whatever was sealed with it, in any copy of
-- the file, can no longer be read.
CREATE TABLE workspace_keys (
	workspace_id TEXT PRIMARY KEY,
	wrapped      BLOB NOT NULL,
	created_at   DATETIME NOT NULL
);
