-- Saved views (issue "first hour"): a user's named lists of contacts, each
-- the list's filters, sort and columns as its query string, and the
-- columns a user chose for a list. They are the user's own preferences, in
-- the workspace's file like the rest of its data: user ids are the
-- catalog's, as owners' are.
CREATE TABLE saved_views (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	user_id    TEXT NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('contacts')),
	name       TEXT NOT NULL COLLATE NOCASE,
	query      TEXT NOT NULL DEFAULT '',
	is_default INTEGER NOT NULL DEFAULT 0,
	created_at DATETIME NOT NULL,
	UNIQUE (user_id, kind, name)
);
-- At most one default view per user and list.
CREATE UNIQUE INDEX saved_views_default ON saved_views (user_id, kind) WHERE is_default;

CREATE TABLE list_columns (
	user_id TEXT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind IN ('contacts')),
	cols    TEXT NOT NULL,
	PRIMARY KEY (user_id, kind)
) WITHOUT ROWID;
