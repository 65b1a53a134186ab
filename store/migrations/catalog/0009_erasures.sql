-- erasures: the GDPR erasures done in each workspace. A workspace's data
-- lives in its file, and a restore (or an import of its own archive) would
-- bring an erased person back; every such file has these erasures applied
-- again before it is used. It holds the contact's id and a keyed hash of
-- their email (HMAC with an instance key), never personal data.
CREATE TABLE erasures (
	workspace_id TEXT NOT NULL,
	contact_id   TEXT NOT NULL,
	email_hash   TEXT NOT NULL DEFAULT '',
	erased_at    DATETIME NOT NULL,
	PRIMARY KEY (workspace_id, contact_id)
);
