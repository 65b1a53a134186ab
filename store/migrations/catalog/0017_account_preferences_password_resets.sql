-- How a user has dates shown (handlers/clock.go): a date format key (see
-- store.DateFormats), an IANA time zone, and a 24h or 12h clock.
ALTER TABLE users ADD COLUMN date_format TEXT NOT NULL DEFAULT 'iso';
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE users ADD COLUMN clock TEXT NOT NULL DEFAULT '24h';

-- Password reset links (store/passwordreset.go): only the SHA-256 of each
-- link's random token is kept. A link works once, within an hour; used_at
-- is set when it sets a password (or when a newer link of the user does).
CREATE TABLE password_resets (
	token_hash TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	used_at    DATETIME,
	ip         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX password_resets_user ON password_resets (user_id);
