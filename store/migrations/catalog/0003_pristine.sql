-- pristine: the workspace's file is still the empty template it was
-- created from and has never been opened. Such a file is not replicated
-- (there is nothing in it to back up); its first open registers it with
-- Litestream and clears the flag before the app can write to it (atrium
-- migrate may bring it to the current schema where it lies: it is then the
-- current template). Restoring a pristine workspace that has no replica
-- recreates it from the template.
ALTER TABLE workspaces ADD COLUMN pristine INTEGER NOT NULL DEFAULT 0 CHECK (pristine IN (0, 1));
