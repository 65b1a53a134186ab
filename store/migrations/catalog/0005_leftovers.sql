-- Copies of a workspace left in a region it moved away from, because
-- removing them failed: the background job retries until they are gone, so
-- no copy outlives the move (data residency) or a later deletion.
CREATE TABLE leftovers (
	workspace_id TEXT NOT NULL,
	region       TEXT NOT NULL,
	created_at   DATETIME NOT NULL,
	PRIMARY KEY (workspace_id, region)
);
