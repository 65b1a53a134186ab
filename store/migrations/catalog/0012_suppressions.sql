-- suppressions: the instance-wide list, kept by superadmins, of addresses
-- no workspace emails (a spam trap, a complaint to the instance's operator,
-- an address that asked every client to stop). Each workspace's own list
-- is in its file; senders ask both (tenant.Service.Suppressed).
CREATE TABLE suppressions (
	seq        INTEGER PRIMARY KEY,
	email      TEXT NOT NULL UNIQUE,    -- lower-cased
	reason     TEXT NOT NULL CHECK (reason IN ('manual', 'unsubscribed', 'bounced', 'complaint')),
	detail     TEXT NOT NULL DEFAULT '',
	created_at DATETIME NOT NULL,
	created_by TEXT NOT NULL DEFAULT ''
);
