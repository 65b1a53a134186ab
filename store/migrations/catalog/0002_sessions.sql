-- Sign-in sessions, kept server-side so they can be revoked: the cookie
-- holds a random token whose SHA-256 is the id here.
CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	workspace_id TEXT NOT NULL DEFAULT '',
	created_at   DATETIME NOT NULL,
	last_seen_at DATETIME NOT NULL,
	expires_at   DATETIME NOT NULL,
	ip           TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Invitations by link: the link carries a random token whose SHA-256 is the
-- id here, so the catalog never holds a usable link.
CREATE TABLE invitations (
	id           TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	role         TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
	email        TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL,
	created_at   DATETIME NOT NULL,
	expires_at   DATETIME NOT NULL,
	accepted_by  TEXT NOT NULL DEFAULT '',
	accepted_at  DATETIME
);
CREATE INDEX invitations_workspace ON invitations (workspace_id);

-- Instance settings, such as the keys that sign session cookies.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
