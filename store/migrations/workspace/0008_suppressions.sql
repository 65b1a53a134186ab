-- suppressions: addresses the workspace never emails again. One row per
-- address, found by email_hash, the SHA-256 of the lower-cased address
-- (see store.SuppressionHash): a GDPR erasure of the person empties email
-- and detail but keeps the hash, so the address stays suppressed without
-- being readable. reason is why, detail the evidence (a bounce's answer),
-- created_by the actor (a member, a key, or "system:unsubscribe").
CREATE TABLE suppressions (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	email      TEXT UNIQUE,             -- lower-cased; NULL once the person is erased
	email_hash TEXT NOT NULL UNIQUE,
	reason     TEXT NOT NULL CHECK (reason IN ('manual', 'unsubscribed', 'bounced', 'complaint')),
	detail     TEXT NOT NULL DEFAULT '',
	created_at DATETIME NOT NULL,
	created_by TEXT NOT NULL DEFAULT ''
);
