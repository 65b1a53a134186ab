-- job_reports: what a background job of this workspace leaves for people
-- to read when it is done, when that holds the workspace's data (the rows a
-- CSV import refused, with their values). The job's state and counts are in
-- the catalog; its data stays in the workspace's own file. Reports older
-- than 30 days are removed when a new one is saved.
CREATE TABLE job_reports (
	job_id     TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	report     TEXT NOT NULL, -- JSON
	created_at INTEGER NOT NULL
);
