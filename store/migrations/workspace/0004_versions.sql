-- version: a record's revision, 1 when made and one more on every write of
-- its row (in the same UPDATE). An edit form or an API client sends the
-- version it read; a write that finds the row at another version changes
-- nothing and is refused as a conflict (issue 13), so two people editing
-- the same record no longer overwrite each other blindly.
ALTER TABLE contacts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE companies ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deals ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE notes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
