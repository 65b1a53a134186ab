-- jobs: every piece of background work (a CSV import, a retention pass, a
-- purge, later sends and polls) with its progress and final result, so a
-- page can follow it and a restart can tell what it cut short. A job in
-- queued or running when the process starts again was interrupted by a
-- crash or a kill: the start marks it so. workspace_id is empty for work on
-- the instance. Finished jobs are pruned after a while.
CREATE TABLE jobs (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	workspace_id TEXT NOT NULL DEFAULT '',
	state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'interrupted')),
	progress     INTEGER NOT NULL DEFAULT 0,
	total        INTEGER NOT NULL DEFAULT 0,
	result       TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   DATETIME NOT NULL,
	started_at   DATETIME,
	finished_at  DATETIME
);
CREATE INDEX jobs_workspace ON jobs (workspace_id, created_at);
CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');

-- due_work: which workspace has background work of which kind due when
-- (unix milliseconds), so the scheduler finds it without opening idle
-- files. It is written in the same step as the workspace write that
-- creates the work (saving a retention policy, later scheduling a send),
-- and rebuilt from the files when the catalog was restored. It replaces
-- the retention_policy flag of 0004.
CREATE TABLE due_work (
	workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	kind         TEXT NOT NULL,
	due_at       INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, kind)
) WITHOUT ROWID;
CREATE INDEX due_work_due ON due_work (due_at);

INSERT INTO due_work (workspace_id, kind, due_at)
	SELECT id, 'retention', 0 FROM workspaces WHERE retention_policy = 1 AND state IN ('active', 'trashed', 'creating');
DROP INDEX workspaces_retention;
ALTER TABLE workspaces DROP COLUMN retention_policy;
