-- pristine: the workspace's file is still the empty template it was
-- created from and has never been opened. Such a file is not replicated
-- (there is nothing in it to back up); its first open clears the flag and
-- registers it with Litestream before anything can write to it. Restoring a
-- pristine workspace that has no replica recreates it from the template.
ALTER TABLE workspaces ADD COLUMN pristine INTEGER NOT NULL DEFAULT 0 CHECK (pristine IN (0, 1));
