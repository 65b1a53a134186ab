-- plan: the name of the workspace's plan in the config (plans:), '' for
-- the config's default_plan. A plan removed from the config falls back to
-- the default too, so the column never blocks a config change.
ALTER TABLE workspaces ADD COLUMN plan TEXT NOT NULL DEFAULT '';

-- usage_daily: what a workspace used per UTC day of the metered things
-- that are not in its file (API calls, emails sent, imports started), for
-- the daily quotas and the usage statements. The counts are kept in memory
-- and added here every few seconds (tenant/usage.go).
CREATE TABLE usage_daily (
	workspace_id TEXT NOT NULL,
	day          TEXT NOT NULL,  -- YYYY-MM-DD, UTC
	meter        TEXT NOT NULL,
	quantity     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (workspace_id, day, meter)
) WITHOUT ROWID;
