-- Notes and tasks on deals (issue 18): each note and task is on exactly
-- one of a contact, a company or a deal. SQLite cannot change a CHECK, so
-- both tables are rebuilt with a deal_id column, their rows (seq kept,
-- which notes_fts's rowids are) copied over. DROP TABLE fires no DELETE
-- trigger, so notes_fts keeps its entries; its triggers, dropped with the
-- table, are made again. A deal's notes and tasks go with it.

CREATE TABLE notes_new (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	contact_id TEXT REFERENCES contacts (id) ON DELETE CASCADE,
	company_id TEXT REFERENCES companies (id) ON DELETE CASCADE,
	author_id  TEXT NOT NULL DEFAULT '',
	body       TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	version    INTEGER NOT NULL DEFAULT 1,
	deal_id    TEXT REFERENCES deals (id) ON DELETE CASCADE,
	CHECK ((contact_id IS NOT NULL) + (company_id IS NOT NULL) + (deal_id IS NOT NULL) = 1)
);
INSERT INTO notes_new (seq, id, contact_id, company_id, author_id, body, created_at, updated_at, version)
	SELECT seq, id, contact_id, company_id, author_id, body, created_at, updated_at, version FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
CREATE INDEX notes_contact ON notes (contact_id, seq);
CREATE INDEX notes_company ON notes (company_id, seq);
CREATE INDEX notes_deal ON notes (deal_id, seq);
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

CREATE TABLE tasks_new (
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
	version     INTEGER NOT NULL DEFAULT 1,
	deal_id     TEXT REFERENCES deals (id) ON DELETE CASCADE,
	CHECK ((contact_id IS NOT NULL) + (company_id IS NOT NULL) + (deal_id IS NOT NULL) = 1)
);
INSERT INTO tasks_new (seq, id, contact_id, company_id, title, due_date, assignee_id, done, done_at, created_by, created_at, updated_at, version)
	SELECT seq, id, contact_id, company_id, title, due_date, assignee_id, done, done_at, created_by, created_at, updated_at, version FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_contact ON tasks (contact_id, seq);
CREATE INDEX tasks_company ON tasks (company_id, seq);
CREATE INDEX tasks_deal ON tasks (deal_id, seq);
CREATE INDEX tasks_open ON tasks (done, due_date);
CREATE INDEX tasks_assignee ON tasks (assignee_id, done, due_date);
CREATE INDEX tasks_creator ON tasks (created_by, assignee_id, done, due_date);
