-- One workspace: everything of one tenant. Content tables carry an INTEGER
-- PRIMARY KEY (stable rowids for the FTS tables, which VACUUM may otherwise
-- renumber) and the public UUIDv7 id as a unique column. Times are UTC.

-- Custom fields defined per workspace for contacts or companies; values live
-- in the record's `custom` JSON object under the field's key.
CREATE TABLE custom_fields (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	entity     TEXT NOT NULL CHECK (entity IN ('contact', 'company')),
	key        TEXT NOT NULL,
	label      TEXT NOT NULL,
	type       TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'select')),
	options    TEXT NOT NULL DEFAULT '[]',
	position   INTEGER NOT NULL DEFAULT 0,
	created_at DATETIME NOT NULL,
	UNIQUE (entity, key)
);

CREATE TABLE companies (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	domain     TEXT NOT NULL DEFAULT '',
	industry   TEXT NOT NULL DEFAULT '',
	size       TEXT NOT NULL DEFAULT '',
	owner_id   TEXT NOT NULL DEFAULT '',
	custom     TEXT NOT NULL DEFAULT '{}',
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);
CREATE INDEX companies_name ON companies (name COLLATE NOCASE, seq);

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
	custom     TEXT NOT NULL DEFAULT '{}',
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);
-- Email is unique per workspace in any letter case; empty means none.
CREATE UNIQUE INDEX contacts_email ON contacts (lower(email)) WHERE email <> '';
CREATE INDEX contacts_company ON contacts (company_id);
CREATE INDEX contacts_owner ON contacts (owner_id, seq);
CREATE INDEX contacts_stage ON contacts (stage, seq);
CREATE INDEX contacts_name ON contacts (last_name COLLATE NOCASE, first_name COLLATE NOCASE, seq);
CREATE INDEX contacts_updated ON contacts (updated_at, seq);

CREATE TABLE notes (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	contact_id TEXT REFERENCES contacts (id) ON DELETE CASCADE,
	company_id TEXT REFERENCES companies (id) ON DELETE CASCADE,
	author_id  TEXT NOT NULL DEFAULT '',
	body       TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	CHECK ((contact_id IS NULL) <> (company_id IS NULL))
);
CREATE INDEX notes_contact ON notes (contact_id, seq);
CREATE INDEX notes_company ON notes (company_id, seq);

CREATE TABLE tasks (
	seq         INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	contact_id  TEXT REFERENCES contacts (id) ON DELETE CASCADE,
	company_id  TEXT REFERENCES companies (id) ON DELETE CASCADE,
	title       TEXT NOT NULL,
	due_date    TEXT NOT NULL DEFAULT '',
	assignee_id TEXT NOT NULL DEFAULT '',
	done        INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
	done_at     DATETIME,
	created_by  TEXT NOT NULL DEFAULT '',
	created_at  DATETIME NOT NULL,
	updated_at  DATETIME NOT NULL,
	CHECK ((contact_id IS NULL) <> (company_id IS NULL))
);
CREATE INDEX tasks_contact ON tasks (contact_id, seq);
CREATE INDEX tasks_company ON tasks (company_id, seq);
CREATE INDEX tasks_open ON tasks (done, due_date);

CREATE TABLE tags (
	seq  INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE contact_tags (
	contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
	tag_seq    INTEGER NOT NULL REFERENCES tags (seq) ON DELETE CASCADE,
	PRIMARY KEY (contact_id, tag_seq)
);
CREATE INDEX contact_tags_tag ON contact_tags (tag_seq, contact_id);
CREATE TABLE company_tags (
	company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
	tag_seq    INTEGER NOT NULL REFERENCES tags (seq) ON DELETE CASCADE,
	PRIMARY KEY (company_id, tag_seq)
);
CREATE INDEX company_tags_tag ON company_tags (tag_seq, company_id);

-- Sales pipelines, their ordered stages, and the deals moving through them.
-- A workspace's first pipeline is made on first use (ids must be unique to
-- the workspace, and this schema is copied from one template file).
CREATE TABLE pipelines (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	position   INTEGER NOT NULL DEFAULT 0,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);
CREATE TABLE stages (
	seq         INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	probability INTEGER NOT NULL DEFAULT 0 CHECK (probability BETWEEN 0 AND 100),
	position    INTEGER NOT NULL DEFAULT 0,
	created_at  DATETIME NOT NULL
);
CREATE INDEX stages_pipeline ON stages (pipeline_id, position);

-- value_minor is the exact value in the currency's minor unit (cents):
-- never a float.
CREATE TABLE deals (
	seq            INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	title          TEXT NOT NULL,
	value_minor    INTEGER NOT NULL DEFAULT 0 CHECK (value_minor >= 0),
	currency       TEXT NOT NULL DEFAULT 'EUR',
	pipeline_id    TEXT NOT NULL REFERENCES pipelines (id),
	stage_id       TEXT NOT NULL REFERENCES stages (id),
	contact_id     TEXT REFERENCES contacts (id) ON DELETE SET NULL,
	company_id     TEXT REFERENCES companies (id) ON DELETE SET NULL,
	owner_id       TEXT NOT NULL DEFAULT '',
	expected_close TEXT NOT NULL DEFAULT '',
	status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
	lost_reason    TEXT NOT NULL DEFAULT '',
	closed_at      DATETIME,
	created_at     DATETIME NOT NULL,
	updated_at     DATETIME NOT NULL
);
CREATE INDEX deals_stage ON deals (stage_id, status, seq);
CREATE INDEX deals_pipeline ON deals (pipeline_id, status, seq);
CREATE INDEX deals_contact ON deals (contact_id);
CREATE INDEX deals_company ON deals (company_id);

-- The activity timeline of contacts and companies: creation and field
-- changes (detail is JSON of before/after). Notes and tasks are read from
-- their own tables into the timeline.
CREATE TABLE activities (
	seq        INTEGER PRIMARY KEY,
	contact_id TEXT REFERENCES contacts (id) ON DELETE CASCADE,
	company_id TEXT REFERENCES companies (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	detail     TEXT NOT NULL DEFAULT '{}',
	created_at DATETIME NOT NULL
);
CREATE INDEX activities_contact ON activities (contact_id, seq);
CREATE INDEX activities_company ON activities (company_id, seq);

-- Settings of this workspace, such as its retention policy.
CREATE TABLE workspace_settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- API keys of this workspace: the key's secret is stored as its SHA-256.
CREATE TABLE api_keys (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	name         TEXT NOT NULL,
	secret_hash  TEXT NOT NULL,
	role         TEXT NOT NULL CHECK (role IN ('read', 'write')),
	created_by   TEXT NOT NULL,
	created_at   DATETIME NOT NULL,
	last_used_at DATETIME,
	revoked_at   DATETIME
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
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- Row counts kept by triggers, so "12,408 contacts" costs one lookup, not
-- a scan of 100,000 index entries. Bulk loads that bypass triggers must set
-- these too.
CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	n    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, n) VALUES ('contacts', 0), ('companies', 0);
CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts BEGIN
	UPDATE counters SET n = n + 1 WHERE name = 'contacts';
END;
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts BEGIN
	UPDATE counters SET n = n - 1 WHERE name = 'contacts';
END;
CREATE TRIGGER companies_count_insert AFTER INSERT ON companies BEGIN
	UPDATE counters SET n = n + 1 WHERE name = 'companies';
END;
CREATE TRIGGER companies_count_delete AFTER DELETE ON companies BEGIN
	UPDATE counters SET n = n - 1 WHERE name = 'companies';
END;

-- Full-text search, kept in step with the data by triggers in the same
-- transaction. External content: the text lives once, in its table.
-- prefix='2 3' makes short prefix queries (jo*) index lookups.
CREATE VIRTUAL TABLE contacts_fts USING fts5 (
	first_name, last_name, email, phone, title,
	content = 'contacts', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
	INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone, title)
	VALUES (new.seq, new.first_name, new.last_name, new.email, new.phone, new.title);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
	INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone, title)
	VALUES ('delete', old.seq, old.first_name, old.last_name, old.email, old.phone, old.title);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF first_name, last_name, email, phone, title ON contacts BEGIN
	INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone, title)
	VALUES ('delete', old.seq, old.first_name, old.last_name, old.email, old.phone, old.title);
	INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone, title)
	VALUES (new.seq, new.first_name, new.last_name, new.email, new.phone, new.title);
END;

CREATE VIRTUAL TABLE companies_fts USING fts5 (
	name, domain, industry,
	content = 'companies', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER companies_fts_insert AFTER INSERT ON companies BEGIN
	INSERT INTO companies_fts (rowid, name, domain, industry) VALUES (new.seq, new.name, new.domain, new.industry);
END;
CREATE TRIGGER companies_fts_delete AFTER DELETE ON companies BEGIN
	INSERT INTO companies_fts (companies_fts, rowid, name, domain, industry) VALUES ('delete', old.seq, old.name, old.domain, old.industry);
END;
CREATE TRIGGER companies_fts_update AFTER UPDATE OF name, domain, industry ON companies BEGIN
	INSERT INTO companies_fts (companies_fts, rowid, name, domain, industry) VALUES ('delete', old.seq, old.name, old.domain, old.industry);
	INSERT INTO companies_fts (rowid, name, domain, industry) VALUES (new.seq, new.name, new.domain, new.industry);
END;

CREATE VIRTUAL TABLE deals_fts USING fts5 (
	title,
	content = 'deals', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER deals_fts_insert AFTER INSERT ON deals BEGIN
	INSERT INTO deals_fts (rowid, title) VALUES (new.seq, new.title);
END;
CREATE TRIGGER deals_fts_delete AFTER DELETE ON deals BEGIN
	INSERT INTO deals_fts (deals_fts, rowid, title) VALUES ('delete', old.seq, old.title);
END;
CREATE TRIGGER deals_fts_update AFTER UPDATE OF title ON deals BEGIN
	INSERT INTO deals_fts (deals_fts, rowid, title) VALUES ('delete', old.seq, old.title);
	INSERT INTO deals_fts (rowid, title) VALUES (new.seq, new.title);
END;

CREATE VIRTUAL TABLE notes_fts USING fts5 (
	body,
	content = 'notes', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
	INSERT INTO notes_fts (rowid, body) VALUES (new.seq, new.body);
END;
CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
	INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
CREATE TRIGGER notes_fts_update AFTER UPDATE OF body ON notes BEGIN
	INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.seq, old.body);
	INSERT INTO notes_fts (rowid, body) VALUES (new.seq, new.body);
END;
