-- Replies and bounces, read over IMAP from each mailbox's inbox.
--
-- A mailbox's IMAP settings mirror its SMTP ones; imap_password is sealed
-- with the workspace's data key like password, and emptied by every export
-- and import. imap_uidvalidity and imap_last_uid are the high-water mark of
-- the folder: a poll fetches only messages above it, and moves it in the
-- transaction that records each one, so a message is processed once.
-- imap_next_poll (unix milliseconds) is when the next poll is due; the
-- imap_* health is the last poll's. paused_reason says why the system
-- paused a mailbox or a sequence (bounce protection), '' when a person did.
ALTER TABLE mailboxes ADD COLUMN imap_host TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN imap_port INTEGER NOT NULL DEFAULT 993 CHECK (imap_port BETWEEN 1 AND 65535);
ALTER TABLE mailboxes ADD COLUMN imap_tls TEXT NOT NULL DEFAULT 'tls' CHECK (imap_tls IN ('tls', 'starttls', 'none'));
ALTER TABLE mailboxes ADD COLUMN imap_username TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN imap_password TEXT NOT NULL DEFAULT ''; -- sealed
ALTER TABLE mailboxes ADD COLUMN imap_folder TEXT NOT NULL DEFAULT 'INBOX';
ALTER TABLE mailboxes ADD COLUMN imap_uidvalidity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN imap_last_uid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN imap_next_poll INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN imap_last_poll_at DATETIME;
ALTER TABLE mailboxes ADD COLUMN imap_last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN imap_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN paused_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sequences ADD COLUMN paused_reason TEXT NOT NULL DEFAULT '';

-- The ledger learns the state 'bounced' (a delivery status notification
-- came back for the message). SQLite cannot change a CHECK in place: the
-- table is rebuilt, its rows and indexes kept. Nothing references it.
CREATE TABLE messages_rebuilt (
	seq           INTEGER PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	enrollment_id TEXT NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
	step_id       TEXT NOT NULL,
	sequence_id   TEXT NOT NULL,
	contact_id    TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
	mailbox_id    TEXT NOT NULL,
	to_email      TEXT NOT NULL,
	subject       TEXT NOT NULL DEFAULT '',
	variant       TEXT NOT NULL DEFAULT 'a',
	message_id    TEXT NOT NULL UNIQUE,
	state         TEXT NOT NULL CHECK (state IN ('scheduled', 'sending', 'sent', 'failed', 'unknown', 'skipped', 'bounced')),
	error         TEXT NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	created_at    DATETIME NOT NULL,
	updated_at    DATETIME NOT NULL,
	sent_at       DATETIME,
	UNIQUE (enrollment_id, step_id)
);
INSERT INTO messages_rebuilt (seq, id, enrollment_id, step_id, sequence_id, contact_id, mailbox_id, to_email, subject, variant,
	message_id, state, error, attempts, created_at, updated_at, sent_at)
	SELECT seq, id, enrollment_id, step_id, sequence_id, contact_id, mailbox_id, to_email, subject, variant,
	message_id, state, error, attempts, created_at, updated_at, sent_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE INDEX messages_sequence ON messages (sequence_id, state, seq);
CREATE INDEX messages_contact ON messages (contact_id, seq);
CREATE INDEX messages_state ON messages (state) WHERE state IN ('scheduled', 'sending', 'unknown');
-- Bounce protection reads a mailbox's last sends.
CREATE INDEX messages_mailbox ON messages (mailbox_id, seq);

-- replies: what came back to a message of the ledger, a person's answer
-- ('reply') or an automatic one ('auto_reply': out of office and the
-- like). body is the text part, sanitised. A person sorts them in the
-- inbox: handled, and a category.
CREATE TABLE replies (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	mailbox_id   TEXT NOT NULL,
	message_id   TEXT NOT NULL,  -- the ledger row answered (messages.id)
	contact_id   TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
	sequence_id  TEXT NOT NULL,
	step_id      TEXT NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('reply', 'auto_reply')),
	inbound_id   TEXT NOT NULL DEFAULT '', -- the answer's own Message-ID
	from_email   TEXT NOT NULL,
	from_name    TEXT NOT NULL DEFAULT '',
	subject      TEXT NOT NULL DEFAULT '',
	body         TEXT NOT NULL DEFAULT '',
	category     TEXT NOT NULL DEFAULT '' CHECK (category IN ('', 'interested', 'not_now', 'not_interested', 'out_of_office', 'other')),
	handled      INTEGER NOT NULL DEFAULT 0 CHECK (handled IN (0, 1)),
	handled_by   TEXT NOT NULL DEFAULT '',
	received_at  DATETIME NOT NULL,
	created_at   DATETIME NOT NULL,
	updated_at   DATETIME NOT NULL
);
CREATE INDEX replies_unhandled ON replies (seq) WHERE handled = 0;
CREATE INDEX replies_contact ON replies (contact_id, seq);
-- A folder read again (its UIDVALIDITY changed) does not store an answer
-- twice.
CREATE UNIQUE INDEX replies_inbound ON replies (mailbox_id, inbound_id) WHERE inbound_id <> '';

-- bounce_counts: soft bounces (4.x.x) in a row per address, by the hash of
-- the address as suppressions keep it (an erasure leaves no address
-- behind); three in a row count as a hard bounce. A reply resets it.
CREATE TABLE bounce_counts (
	email_hash TEXT PRIMARY KEY,
	soft       INTEGER NOT NULL DEFAULT 0,
	last_status TEXT NOT NULL DEFAULT '',
	updated_at DATETIME NOT NULL
);
