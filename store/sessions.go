package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// SessionLifetime is how long a sign-in lasts without activity.
const SessionLifetime = 30 * 24 * time.Hour

// Session is a server-side sign-in; the cookie holds only its token.
type Session struct {
	ID          string    `db:"id"`
	UserID      string    `db:"user_id"`
	WorkspaceID string    `db:"workspace_id"`
	CreatedAt   time.Time `db:"created_at"`
	LastSeenAt  time.Time `db:"last_seen_at"`
	ExpiresAt   time.Time `db:"expires_at"`
	IP          string    `db:"ip"`
	UserAgent   string    `db:"user_agent"`
}

// NewToken returns 32 random bytes, URL-safe base64 encoded.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of a token: what the catalog stores.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateSession starts a session for a user and returns its token.
func CreateSession(ctx context.Context, db *Catalog, userID, ip, userAgent string) (string, error) {
	token := NewToken()
	now := time.Now().UTC()
	_, err := db.W.ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, HashToken(token), userID, now, now, now.Add(SessionLifetime), ip, truncateString(userAgent, 255))
	return token, err
}

// SessionByToken returns the live session of a token, or ENotFound.
func SessionByToken(ctx context.Context, q sqlx.QueryerContext, token string) (*Session, error) {
	var s Session
	err := sqlx.GetContext(ctx, q, &s, `SELECT * FROM sessions WHERE id = ? AND expires_at > ?`, HashToken(token), time.Now().UTC())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "Your session has ended; please sign in again.")
	}
	return &s, err
}

// TouchSession extends a session's life; called at most once a minute per session.
func TouchSession(ctx context.Context, db *Catalog, id string) error {
	now := time.Now().UTC()
	_, err := db.W.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`, now, now.Add(SessionLifetime), id)
	return err
}

// SetSessionWorkspace records the workspace a session is working in.
func SetSessionWorkspace(ctx context.Context, db *Catalog, id, workspaceID string) error {
	_, err := db.W.ExecContext(ctx, `UPDATE sessions SET workspace_id = ? WHERE id = ?`, workspaceID, id)
	return err
}

// RotateSession replaces a session's token and returns the new one; the old
// token stops working at once.
func RotateSession(ctx context.Context, db *Catalog, id string) (string, error) {
	token := NewToken()
	res, err := db.W.ExecContext(ctx, `UPDATE sessions SET id = ? WHERE id = ?`, HashToken(token), id)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", Errorf(ENotFound, "Your session has ended; please sign in again.")
	}
	return token, nil
}

// DeleteSession ends one session.
func DeleteSession(ctx context.Context, db *Catalog, id string) error {
	_, err := db.W.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteUserSessions ends every session of a user except keepID ("" ends all)
// and returns how many ended.
func DeleteUserSessions(ctx context.Context, db *Catalog, userID, keepID string) (int64, error) {
	res, err := db.W.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Setting returns an instance setting, creating it with create() the first time.
func Setting(ctx context.Context, db *Catalog, key string, create func() []byte) ([]byte, error) {
	if _, err := db.W.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, create()); err != nil {
		return nil, err
	}
	var v []byte
	err := db.W.GetContext(ctx, &v, `SELECT value FROM settings WHERE key = ?`, key)
	return v, err
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
