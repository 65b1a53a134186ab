-- Sequences: outreach as ordered steps (an email from a template, with an
-- optional B variant; a wait; a task for the contact's owner), sent from
-- the sequence's mailboxes. An enrollment is one contact going through one
-- sequence: it keeps the mailbox it was given (a thread stays in one
-- inbox), the variant it drew, the position of the last step it finished
-- and when the next one is due (unix milliseconds). A step keeps its id and
-- its position for good (a step inserted between two gets a position
-- between theirs, hence REAL): editing a live sequence changes only the
-- steps an enrollment has not reached, and the ledger's (enrollment, step)
-- key keeps protecting the steps it has.
CREATE TABLE sequences (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	name         TEXT NOT NULL,
	state        TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'active', 'paused', 'archived')),
	stop_on_reply   INTEGER NOT NULL DEFAULT 1 CHECK (stop_on_reply IN (0, 1)),
	stop_by_domain  INTEGER NOT NULL DEFAULT 0 CHECK (stop_by_domain IN (0, 1)),
	created_at   DATETIME NOT NULL,
	updated_at   DATETIME NOT NULL
);
CREATE UNIQUE INDEX sequences_name ON sequences (name COLLATE NOCASE);

-- The mailboxes a sequence sends from; a mailbox in use cannot be deleted.
CREATE TABLE sequence_mailboxes (
	sequence_id TEXT NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
	mailbox_id  TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE RESTRICT,
	PRIMARY KEY (sequence_id, mailbox_id)
);
CREATE INDEX sequence_mailboxes_mailbox ON sequence_mailboxes (mailbox_id);

CREATE TABLE sequence_steps (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	sequence_id  TEXT NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
	position     REAL NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('email', 'wait', 'task')),
	template_id  TEXT REFERENCES templates (id) ON DELETE RESTRICT,
	variant_id   TEXT REFERENCES templates (id) ON DELETE RESTRICT,
	wait_minutes INTEGER NOT NULL DEFAULT 0 CHECK (wait_minutes >= 0),
	business_days INTEGER NOT NULL DEFAULT 0 CHECK (business_days IN (0, 1)),
	task_title   TEXT NOT NULL DEFAULT '',
	created_at   DATETIME NOT NULL,
	updated_at   DATETIME NOT NULL
);
CREATE INDEX sequence_steps_order ON sequence_steps (sequence_id, position, seq);
CREATE INDEX sequence_steps_template ON sequence_steps (template_id);
CREATE INDEX sequence_steps_variant ON sequence_steps (variant_id);

CREATE TABLE enrollments (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	sequence_id  TEXT NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
	contact_id   TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
	mailbox_id   TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE RESTRICT,
	variant      TEXT NOT NULL DEFAULT 'a' CHECK (variant IN ('a', 'b')),
	state        TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'finished', 'stopped')),
	stop_reason  TEXT NOT NULL DEFAULT '',
	done_position REAL NOT NULL DEFAULT -1,
	next_at      INTEGER NOT NULL,
	created_at   DATETIME NOT NULL,
	updated_at   DATETIME NOT NULL,
	UNIQUE (sequence_id, contact_id)
);
CREATE INDEX enrollments_due ON enrollments (next_at) WHERE state = 'active';
CREATE INDEX enrollments_contact ON enrollments (contact_id);
CREATE INDEX enrollments_mailbox ON enrollments (mailbox_id, state);

-- messages: the sender's ledger, one row per (enrollment, step). A row
-- moves to 'sending' in a committed transaction before the SMTP DATA, to
-- 'sent' on the server's 250; a crash leaves it 'sending', which the next
-- start turns into 'unknown' for a person to settle (SMTP cannot tell
-- whether a dropped conversation delivered): never two copies of a step.
-- message_id is fixed before the conversation starts.
CREATE TABLE messages (
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
	state         TEXT NOT NULL CHECK (state IN ('scheduled', 'sending', 'sent', 'failed', 'unknown', 'skipped')),
	error         TEXT NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	created_at    DATETIME NOT NULL,
	updated_at    DATETIME NOT NULL,
	sent_at       DATETIME,
	UNIQUE (enrollment_id, step_id)
);
CREATE INDEX messages_sequence ON messages (sequence_id, state, seq);
CREATE INDEX messages_contact ON messages (contact_id, seq);
CREATE INDEX messages_state ON messages (state) WHERE state IN ('scheduled', 'sending', 'unknown');
