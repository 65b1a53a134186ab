-- One workspace: everything of one tenant. Content tables carry an INTEGER
-- PRIMARY KEY (stable rowids for FTS content tables) and the public UUIDv7 id
-- as a unique column.

CREATE TABLE companies (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	domain     TEXT NOT NULL DEFAULT '',
	industry   TEXT NOT NULL DEFAULT '',
	size       TEXT NOT NULL DEFAULT '',
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);

CREATE TABLE contacts (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	first_name TEXT NOT NULL DEFAULT '',
	last_name  TEXT NOT NULL DEFAULT '',
	email      TEXT NOT NULL DEFAULT '',
	phone      TEXT NOT NULL DEFAULT '',
	title      TEXT NOT NULL DEFAULT '',
	company_id TEXT REFERENCES companies (id) ON DELETE SET NULL,
	owner_id   TEXT NOT NULL DEFAULT '',
	stage      TEXT NOT NULL DEFAULT 'lead',
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);
-- Email is unique per workspace in any letter case; empty means none.
CREATE UNIQUE INDEX contacts_email ON contacts (lower(email)) WHERE email <> '';
CREATE INDEX contacts_company ON contacts (company_id);
CREATE INDEX contacts_created ON contacts (created_at, seq);

CREATE TABLE notes (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	contact_id TEXT REFERENCES contacts (id) ON DELETE CASCADE,
	company_id TEXT REFERENCES companies (id) ON DELETE CASCADE,
	author     TEXT NOT NULL DEFAULT '',
	body       TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	CHECK ((contact_id IS NULL) <> (company_id IS NULL))
);
CREATE INDEX notes_contact ON notes (contact_id, created_at);
CREATE INDEX notes_company ON notes (company_id, created_at);

CREATE TABLE tags (
	seq  INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE contact_tags (
	contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
	tag_seq    INTEGER NOT NULL REFERENCES tags (seq) ON DELETE CASCADE,
	PRIMARY KEY (contact_id, tag_seq)
);
CREATE TABLE company_tags (
	company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
	tag_seq    INTEGER NOT NULL REFERENCES tags (seq) ON DELETE CASCADE,
	PRIMARY KEY (company_id, tag_seq)
);

-- The workspace audit log: actor is "user:<id>" or "apikey:<id>"; changes is
-- JSON of the changed fields, before and after.
CREATE TABLE audit_log (
	seq         INTEGER PRIMARY KEY,
	at          DATETIME NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	entity_type TEXT NOT NULL DEFAULT '',
	entity_id   TEXT NOT NULL DEFAULT '',
	ip          TEXT NOT NULL DEFAULT '',
	changes     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
