-- workspace_key_versions: the data keys a workspace got after its first
-- one (atrium keys rotate-workspace), wrapped by the master key like it.
-- The first key stays in workspace_keys as key 1; the newest version is
-- the one new writes use (sealed secrets, encrypted replica objects),
-- and every version is kept to read what it wrote. Deleting the
-- workspace's first key (hard deletion) deletes all of them: whatever any
-- of them encrypted, in any copy, can no longer be read.
CREATE TABLE workspace_key_versions (
	workspace_id TEXT NOT NULL,
	key_id       INTEGER NOT NULL CHECK (key_id >= 2),
	wrapped      BLOB NOT NULL,
	created_at   DATETIME NOT NULL,
	PRIMARY KEY (workspace_id, key_id)
) WITHOUT ROWID;

CREATE TRIGGER workspace_key_versions_shred AFTER DELETE ON workspace_keys
BEGIN
	DELETE FROM workspace_key_versions WHERE workspace_id = OLD.workspace_id;
END;
