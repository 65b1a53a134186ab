-- templates: the emails of outreach, a subject and a body with merge fields
-- (see outreach/mailmerge). They are checked when saved; the sender parses
-- them again, since a custom field they use may have been deleted since.
-- version counts the saves, from 1: an edit made on an older version is
-- refused instead of silently undoing someone else's.
CREATE TABLE templates (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,
	version    INTEGER NOT NULL DEFAULT 1,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX templates_name ON templates (name COLLATE NOCASE);
