-- mailboxes: the workspace's own sending accounts. The SMTP password is
-- sealed with the workspace's data key (see tenant/keys.go), never stored
-- as is, and left out of exports. Times of day are "HH:MM" in the
-- mailbox's time zone; days are ISO weekdays (1 = Monday). ramp_per_day > 0
-- raises the daily limit slowly: ramp_per_day on the first day, twice that
-- on the second, and so on up to daily_limit, counted from ramp_start.
-- last_error and failures are the health of the last conversations with
-- the server (a check, a test, a send).
CREATE TABLE mailboxes (
	seq            INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	name           TEXT NOT NULL,
	from_name      TEXT NOT NULL DEFAULT '',
	from_email     TEXT NOT NULL,
	reply_to       TEXT NOT NULL DEFAULT '',
	smtp_host      TEXT NOT NULL,
	smtp_port      INTEGER NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535),
	tls_mode       TEXT NOT NULL CHECK (tls_mode IN ('tls', 'starttls', 'none')),
	username       TEXT NOT NULL DEFAULT '',
	password       TEXT NOT NULL DEFAULT '', -- sealed
	daily_limit    INTEGER NOT NULL DEFAULT 30 CHECK (daily_limit >= 1),
	gap_min        INTEGER NOT NULL DEFAULT 90 CHECK (gap_min >= 0),  -- seconds
	gap_max        INTEGER NOT NULL DEFAULT 180 CHECK (gap_max >= gap_min),
	window_start   TEXT NOT NULL DEFAULT '09:00',
	window_end     TEXT NOT NULL DEFAULT '17:00',
	window_days    TEXT NOT NULL DEFAULT '1,2,3,4,5',
	time_zone      TEXT NOT NULL DEFAULT 'UTC',
	ramp_per_day   INTEGER NOT NULL DEFAULT 0 CHECK (ramp_per_day >= 0),
	ramp_start     DATETIME NOT NULL,
	state          TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused')),
	last_error     TEXT NOT NULL DEFAULT '',
	failures       INTEGER NOT NULL DEFAULT 0,
	last_checked_at DATETIME,
	created_at     DATETIME NOT NULL,
	updated_at     DATETIME NOT NULL
);
