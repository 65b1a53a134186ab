-- retention_policy: the workspace's file may hold a retention policy, so
-- the retention job opens it. Saving a policy sets it, the job clears it
-- when it finds none; files whose content comes from elsewhere (an import,
-- a restore) start with it set. Without it the job opened every workspace
-- every few hours to read its policy. Existing workspaces start set, so the
-- first run looks at each once.
ALTER TABLE workspaces ADD COLUMN retention_policy INTEGER NOT NULL DEFAULT 1 CHECK (retention_policy IN (0, 1));
CREATE INDEX workspaces_retention ON workspaces (id) WHERE retention_policy = 1 AND state = 'active';
