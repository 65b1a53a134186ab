-- Two-factor sign-in (store/twofactor.go). user_totp holds a user's TOTP
-- secret (RFC 6238); enabled_at is NULL while the user is setting it up
-- and has not yet confirmed a code. last_step is the time step of the last
-- code accepted: a code of that step or an earlier one is refused, so a
-- code seen once cannot be replayed within its window.
CREATE TABLE user_totp (
	user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret     TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	enabled_at DATETIME,
	last_step  INTEGER NOT NULL DEFAULT 0
);

-- One-time recovery codes, as the SHA-256 of each code (the codes are
-- random and long: no slow hash is needed). A used code is deleted.
CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    TEXT NOT NULL,
	PRIMARY KEY (user_id, hash)
);
