-- The catalog: who the users are, which workspaces exist, who belongs where,
-- and the instance event log (tombstones of deleted workspaces included).
-- Workspace data never lives here.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name          TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	superadmin    INTEGER NOT NULL DEFAULT 0 CHECK (superadmin IN (0, 1)),
	created_at    DATETIME NOT NULL
);

-- state: creating (file being made; removed on restart if still so),
-- active, trashed (soft-deleted: inaccessible, restorable until purge_at),
-- deleting (files being removed; finished on restart), deleted.
-- replica_gen numbers the workspace's replica history: the file replicates
-- under <region replica>/<id>/g<replica_gen>/. An in-place restore or a move
-- starts a new generation, so the history before it stays restorable.
CREATE TABLE workspaces (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	region     TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('creating', 'active', 'trashed', 'deleting', 'deleted')),
	created_at DATETIME NOT NULL,
	deleted_at DATETIME,
	purge_at   DATETIME,
	deleted_by TEXT NOT NULL DEFAULT '',
	replica_gen INTEGER NOT NULL DEFAULT 1 CHECK (replica_gen >= 1)
);
CREATE INDEX workspaces_state ON workspaces (state);
CREATE INDEX workspaces_purge ON workspaces (purge_at) WHERE state = 'trashed';

CREATE TABLE memberships (
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
	created_at   DATETIME NOT NULL,
	PRIMARY KEY (user_id, workspace_id)
);
CREATE INDEX memberships_workspace ON memberships (workspace_id);

-- The instance event log. detail is JSON; for a deleted workspace it lists
-- what was removed, never the workspace's data.
CREATE TABLE events (
	seq          INTEGER PRIMARY KEY,
	at           DATETIME NOT NULL,
	actor        TEXT NOT NULL,
	action       TEXT NOT NULL,
	workspace_id TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_workspace ON events (workspace_id, seq);
