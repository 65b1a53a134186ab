-- Custom fields on deals (store/customfields.go): deals hold their values
-- in a `custom` JSON object as contacts and companies do, and a custom
-- field may belong to a deal. SQLite cannot change a CHECK in place: the
-- table is copied, keeping its seqs and ids.
ALTER TABLE deals ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
CREATE TABLE custom_fields_new (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	entity     TEXT NOT NULL CHECK (entity IN ('contact', 'company', 'deal')),
	key        TEXT NOT NULL,
	label      TEXT NOT NULL,
	type       TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'select', 'multiselect', 'checkbox', 'url', 'email', 'phone')),
	options    TEXT NOT NULL DEFAULT '[]',
	position   INTEGER NOT NULL DEFAULT 0,
	created_at DATETIME NOT NULL,
	UNIQUE (entity, key)
);
INSERT INTO custom_fields_new (seq, id, entity, key, label, type, options, position, created_at)
	SELECT seq, id, entity, key, label, type, options, position, created_at FROM custom_fields;
DROP TABLE custom_fields;
ALTER TABLE custom_fields_new RENAME TO custom_fields;

-- Deals' custom values are searchable as contacts' are (0017): the
-- deals' full-text index gains the `custom` column and is rebuilt.
DROP TRIGGER deals_fts_insert;
DROP TRIGGER deals_fts_delete;
DROP TRIGGER deals_fts_update;
DROP TABLE deals_fts;
CREATE VIRTUAL TABLE deals_fts USING fts5 (
	title, custom,
	content = 'deals', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER deals_fts_insert AFTER INSERT ON deals BEGIN
	INSERT INTO deals_fts (rowid, title, custom) VALUES (new.seq, new.title, new.custom);
END;
CREATE TRIGGER deals_fts_delete AFTER DELETE ON deals BEGIN
	INSERT INTO deals_fts (deals_fts, rowid, title, custom) VALUES ('delete', old.seq, old.title, old.custom);
END;
CREATE TRIGGER deals_fts_update AFTER UPDATE OF title, custom ON deals BEGIN
	INSERT INTO deals_fts (deals_fts, rowid, title, custom) VALUES ('delete', old.seq, old.title, old.custom);
	INSERT INTO deals_fts (rowid, title, custom) VALUES (new.seq, new.title, new.custom);
END;
INSERT INTO deals_fts (deals_fts) VALUES ('rebuild');

-- A company's name key (store.CompanyNameKey: words case-folded in Go, so
-- "Müller & Söhne GmbH" and "müller & söhne" share one; NOCASE folds only
-- ASCII) kept beside its name, so the duplicate check is one lookup of
-- this index. company_name_key is the same Go function, registered with
-- the driver (store/companies_lookup.go).
ALTER TABLE companies ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE companies SET name_key = company_name_key(name);
CREATE INDEX companies_name_key ON companies (name_key, seq);
