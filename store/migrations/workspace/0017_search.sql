-- Search (issues 18, 19, 23): custom field values become searchable.
-- The contacts' and companies' full-text indexes gain the `custom` column
-- (the record's JSON object of custom field values: its values, and its
-- keys too, are words of the index), and are rebuilt from their tables.
--
-- Measured on a generated 1,000,000-contact workspace (BENCHMARKS.md), the
-- layout stays: external content (the text lives once, in its table),
-- detail=full (the column filters the search tiers use; "mariko okafor"
-- newest first took 5x longer with detail=column, "okafor"* 4x longer
-- with detail=none, 0.3 the size), prefix='2 3' (prefix='2 3 4 5 6' made
-- "okafor"* a list walk, 0.2 ms against 3-15 ms, but tripled the time to
-- build the index, 36 s to 111 s, which every import pays).
-- The bulk CSV import drops and recreates these triggers by name and
-- reads the index's columns from the table (store/importcsv_bulk.go).

DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TABLE contacts_fts;
CREATE VIRTUAL TABLE contacts_fts USING fts5 (
	first_name, last_name, email, phone, title, custom,
	content = 'contacts', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
	INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone, title, custom)
	VALUES (new.seq, new.first_name, new.last_name, new.email, new.phone, new.title, new.custom);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
	INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone, title, custom)
	VALUES ('delete', old.seq, old.first_name, old.last_name, old.email, old.phone, old.title, old.custom);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF first_name, last_name, email, phone, title, custom ON contacts BEGIN
	INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone, title, custom)
	VALUES ('delete', old.seq, old.first_name, old.last_name, old.email, old.phone, old.title, old.custom);
	INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone, title, custom)
	VALUES (new.seq, new.first_name, new.last_name, new.email, new.phone, new.title, new.custom);
END;
INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');

DROP TRIGGER companies_fts_insert;
DROP TRIGGER companies_fts_delete;
DROP TRIGGER companies_fts_update;
DROP TABLE companies_fts;
CREATE VIRTUAL TABLE companies_fts USING fts5 (
	name, domain, industry, custom,
	content = 'companies', content_rowid = 'seq',
	prefix = '2 3', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER companies_fts_insert AFTER INSERT ON companies BEGIN
	INSERT INTO companies_fts (rowid, name, domain, industry, custom) VALUES (new.seq, new.name, new.domain, new.industry, new.custom);
END;
CREATE TRIGGER companies_fts_delete AFTER DELETE ON companies BEGIN
	INSERT INTO companies_fts (companies_fts, rowid, name, domain, industry, custom)
	VALUES ('delete', old.seq, old.name, old.domain, old.industry, old.custom);
END;
CREATE TRIGGER companies_fts_update AFTER UPDATE OF name, domain, industry, custom ON companies BEGIN
	INSERT INTO companies_fts (companies_fts, rowid, name, domain, industry, custom)
	VALUES ('delete', old.seq, old.name, old.domain, old.industry, old.custom);
	INSERT INTO companies_fts (rowid, name, domain, industry, custom) VALUES (new.seq, new.name, new.domain, new.industry, new.custom);
END;
INSERT INTO companies_fts (companies_fts) VALUES ('rebuild');
