-- replica_checks: the last verification of each workspace's replica (a
-- restore into a temporary file, integrity_check, and a comparison with the
-- live file at the same replicated position). verified_* record the last
-- one that passed; failed_* the last one that did not (after which a new
-- replica generation was started). checked_at orders the rolling sample.
CREATE TABLE replica_checks (
	workspace_id  TEXT PRIMARY KEY,
	checked_at    DATETIME NOT NULL,
	verified_at   DATETIME,
	verified_txid INTEGER NOT NULL DEFAULT 0,
	verified_gen  INTEGER NOT NULL DEFAULT 0,
	failed_at     DATETIME,
	failure       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX replica_checks_checked ON replica_checks (checked_at);
