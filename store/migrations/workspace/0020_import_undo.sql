-- Undo log of CSV imports (issue 16). A large import commits in batches so
-- that the workspace's other writers get in between them; what each
-- committed batch did is kept here until the import ends, so that a
-- failure, a cancel or a restart after a crash can take the import back
-- out as a whole. A row is either a range of rowids a batch added to a
-- table (tbl, from_rowid < rowid <= to_rowid), or the before-image of a
-- contact the batch updated (contact_id, image as JSON).
CREATE TABLE import_undo (
	seq        INTEGER PRIMARY KEY,
	import_id  TEXT NOT NULL,
	batch      INTEGER NOT NULL,
	tbl        TEXT,
	from_rowid INTEGER,
	to_rowid   INTEGER,
	contact_id TEXT,
	image      TEXT
);
CREATE INDEX import_undo_batch ON import_undo (import_id, batch);
