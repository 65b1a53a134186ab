package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// PasswordResetLifetime is how long a password reset link works.
const PasswordResetLifetime = time.Hour

// ErrResetLinkInvalid is the answer to a reset link that is unknown,
// expired or used: the page says the same for all three.
var ErrResetLinkInvalid = Errorf(ENotFound, "This password reset link is not valid: it has expired (links work for an hour), it was used already, or a newer link was sent. Ask for a new one.")

// CreatePasswordReset makes a reset link's token for a user and returns it;
// the catalog keeps only its hash. Earlier links of the user stop working:
// only the newest one sent can be used.
func CreatePasswordReset(ctx context.Context, db *Catalog, userID, ip string, now time.Time) (string, error) {
	token := NewToken()
	now = now.UTC()
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`, now, userID); err != nil {
			return err
		}
		// Links long dead are of no use to anyone: each new one sweeps them.
		if _, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE expires_at < ?`, now.Add(-24*time.Hour)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, ip) VALUES (?, ?, ?, ?, ?)`,
			HashToken(token), userID, now, now.Add(PasswordResetLifetime), truncateString(ip, 64))
		return err
	})
	return token, err
}

// PasswordResetUser returns the user a live reset token is for, or
// ErrResetLinkInvalid.
func PasswordResetUser(ctx context.Context, q sqlx.QueryerContext, token string, now time.Time) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `SELECT users.* FROM password_resets JOIN users ON users.id = password_resets.user_id
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, HashToken(token), now.UTC())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrResetLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// UsePasswordReset sets the password of a live reset token's user, ends
// every session of theirs and marks the token used, in one transaction: a
// token sets a password once. Opening the emailed link proves the address,
// so the account's address counts as verified from then on. It returns the
// user.
func UsePasswordReset(ctx context.Context, db *Catalog, token, password string, now time.Time) (*User, error) {
	// The token first: a made-up one must not cost a bcrypt hash.
	if _, err := PasswordResetUser(ctx, db.R, token, now); err != nil {
		return nil, err
	}
	hash, err := passwordHash(password)
	if err != nil {
		return nil, err
	}
	var u *User
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if u, err = PasswordResetUser(ctx, tx, token, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET email_verified = 1 WHERE id = ?`, u.ID); err != nil {
			return err
		}
		_, err = replacePasswordTx(ctx, tx, u.ID, hash)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
