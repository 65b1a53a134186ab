-- Custom fields of more types (store/customfields.go): multiselect (a JSON
-- list of its options), checkbox (true or false), email and phone. SQLite
-- cannot change a CHECK in place: the table is copied, keeping its seqs and
-- ids.
CREATE TABLE custom_fields_new (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	entity     TEXT NOT NULL CHECK (entity IN ('contact', 'company')),
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
