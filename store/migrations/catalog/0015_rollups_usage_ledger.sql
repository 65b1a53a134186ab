-- workspace_rollups: each workspace's counters (store/rollups.go), pushed
-- from its file by the rollup job (due-work kind 'rollup', at most once a
-- minute per workspace), so console pages over thousands of workspaces
-- read the catalog only. day and month say which UTC day and month the
-- *_today and *_month counts are of. No foreign key: the row of a deleted
-- workspace goes with the workspace's purge or stays harmlessly.
CREATE TABLE workspace_rollups (
	workspace_id  TEXT PRIMARY KEY,
	version       INTEGER NOT NULL DEFAULT 0,
	contacts      INTEGER NOT NULL DEFAULT 0,
	companies     INTEGER NOT NULL DEFAULT 0,
	open_deals    INTEGER NOT NULL DEFAULT 0,
	won_deals     INTEGER NOT NULL DEFAULT 0,
	sent_today    INTEGER NOT NULL DEFAULT 0,
	replied_today INTEGER NOT NULL DEFAULT 0,
	bounced_today INTEGER NOT NULL DEFAULT 0,
	sent_month    INTEGER NOT NULL DEFAULT 0,
	replied_month INTEGER NOT NULL DEFAULT 0,
	bounced_month INTEGER NOT NULL DEFAULT 0,
	day           TEXT NOT NULL DEFAULT '',
	month         TEXT NOT NULL DEFAULT '',
	storage_bytes INTEGER NOT NULL DEFAULT 0,
	last_activity DATETIME,
	pushed_at     DATETIME NOT NULL
) WITHOUT ROWID;

-- The console's default order walks this index instead of sorting every
-- workspace by name.
CREATE INDEX workspaces_name ON workspaces (name COLLATE NOCASE, id);

-- workspace_rollup_money: open pipeline ('open') and deals won this month
-- ('won') per currency, in minor units.
CREATE TABLE workspace_rollup_money (
	workspace_id TEXT NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('open', 'won')),
	currency     TEXT NOT NULL,
	n            INTEGER NOT NULL,
	value_minor  INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, kind, currency)
) WITHOUT ROWID;

-- usage_highwater: the day's highest seen of the metered levels (seats,
-- contacts, storage_bytes) per workspace, raised at each rollup push.
CREATE TABLE usage_highwater (
	workspace_id TEXT NOT NULL,
	day          TEXT NOT NULL,  -- YYYY-MM-DD, UTC
	meter        TEXT NOT NULL,
	quantity     INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, day, meter)
) WITHOUT ROWID;

-- usage_ledger: append-only, one row per workspace, closed UTC day and
-- meter, written once the day is over from usage_highwater and
-- usage_daily (0013) and never changed; statements are computed from it.
CREATE TABLE usage_ledger (
	workspace_id TEXT NOT NULL,
	day          TEXT NOT NULL,
	meter        TEXT NOT NULL,
	quantity     INTEGER NOT NULL,
	recorded_at  DATETIME NOT NULL,
	PRIMARY KEY (workspace_id, day, meter)
) WITHOUT ROWID;
CREATE INDEX usage_ledger_day ON usage_ledger (day);

-- usage_monthly: the ledger summed per month as days close (levels by
-- their highest day, counts by their total), so a statement over 10,000
-- workspaces reads one row per workspace and meter, not one per day.
CREATE TABLE usage_monthly (
	month        TEXT NOT NULL,  -- YYYY-MM
	workspace_id TEXT NOT NULL,
	meter        TEXT NOT NULL,
	quantity     INTEGER NOT NULL,
	PRIMARY KEY (month, workspace_id, meter)
) WITHOUT ROWID;

-- usage_ledger_days: the days the ledger has closed (a day may close with
-- no row: nothing was used).
CREATE TABLE usage_ledger_days (
	day       TEXT PRIMARY KEY,
	closed_at DATETIME NOT NULL
) WITHOUT ROWID;

-- usage_statements: the lines of each closed month's statement, frozen
-- when the month closed (prices and names as they were then), so a
-- statement rendered later gives the same numbers after deletions and
-- price changes.
CREATE TABLE usage_statements (
	month          TEXT NOT NULL,  -- YYYY-MM
	workspace_id   TEXT NOT NULL,
	workspace_name TEXT NOT NULL,
	meter          TEXT NOT NULL,
	quantity       INTEGER NOT NULL,
	unit_minor     INTEGER NOT NULL,
	per            INTEGER NOT NULL,
	amount_minor   INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	PRIMARY KEY (month, workspace_id, meter)
) WITHOUT ROWID;

-- usage_statement_months: the months frozen in usage_statements, and when
-- (a month may freeze with no line: nothing was used).
CREATE TABLE usage_statement_months (
	month     TEXT PRIMARY KEY,
	currency  TEXT NOT NULL,
	frozen_at DATETIME NOT NULL
) WITHOUT ROWID;

-- Every active workspace pushes its counters once, soon.
INSERT INTO due_work (workspace_id, kind, due_at)
	SELECT id, 'rollup', 0 FROM workspaces WHERE state = 'active';
