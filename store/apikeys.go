package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// APIKeyRoles are what a key may do: read only, or read and write.
var APIKeyRoles = []string{"read", "write"}

// An API key reads atr_<workspace>_<key id>_<secret>: the workspace id as 32
// hex digits, so the server opens that one file without scanning the others;
// the key id as 16 hex digits, the row in that file; 32 random bytes of
// secret in base64url, of which only the SHA-256 is stored.
const (
	apiKeyPrefix    = "atr_"
	apiKeyWSLen     = 32
	apiKeyIDLen     = 16
	apiKeySecretLen = 43
	apiKeyLen       = len(apiKeyPrefix) + apiKeyWSLen + 1 + apiKeyIDLen + 1 + apiKeySecretLen
)

// apiKeyTouchEvery is how stale last_used_at may get: a busy key writes it
// once a minute, not on every request.
const apiKeyTouchEvery = time.Minute

// APIKey is a workspace's API key, without its secret.
type APIKey struct {
	Seq        int64      `db:"seq" json:"-"`
	ID         string     `db:"id" json:"id"`
	Name       string     `db:"name" json:"name"`
	SecretHash string     `db:"secret_hash" json:"-"`
	Role       string     `db:"role" json:"role"`
	CreatedBy  string     `db:"created_by" json:"created_by"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at"`
}

// CanWrite reports whether the key may change data.
func (k *APIKey) CanWrite() bool { return k.Role == "write" }

// CreateAPIKey makes a key of the workspace whose file db is and returns it
// whole: this is the only time the secret exists outside the caller's hands.
func CreateAPIKey(ctx context.Context, db *DB, a Actor, workspaceID, name, role string) (string, *APIKey, error) {
	ws, err := uuid.Parse(workspaceID)
	if err != nil || ws.String() != workspaceID {
		return "", nil, Errorf(EInvalid, "%q is not a workspace id.", truncateText(workspaceID, 80))
	}
	if name, err = cleanText("name", "The name", name, maxAPIKeyName); err != nil {
		return "", nil, err
	}
	if name == "" {
		return "", nil, FieldError("name", "An API key needs a name.")
	}
	if !contains(APIKeyRoles, role) {
		return "", nil, FieldError("role", "The role must be read or write.")
	}
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	k := &APIKey{ID: hex.EncodeToString(randomBytes(apiKeyIDLen / 2)), Name: name, SecretHash: hashSecret(secret),
		Role: role, CreatedBy: a.String(), CreatedAt: time.Now().UTC()}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.NamedExecContext(ctx, `INSERT INTO api_keys (id, name, secret_hash, role, created_by, created_at)
			VALUES (:id, :name, :secret_hash, :role, :created_by, :created_at)`, k)
		if err != nil {
			return err
		}
		return audit(ctx, tx, a, "apikey.create", KindAPIKey, k.ID, map[string]Change{"name": {After: name}, "role": {After: role}})
	})
	if err != nil {
		return "", nil, err
	}
	key := apiKeyPrefix + strings.ReplaceAll(workspaceID, "-", "") + "_" + k.ID + "_" + secret
	return key, k, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	return b
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ErrBadAPIKey is the one answer to any key that does not authenticate, so
// a caller learns nothing about which part was wrong.
func ErrBadAPIKey() error {
	return Errorf(EUnauthorized, "The API key is missing, malformed, unknown or revoked.")
}

// ParseAPIKey splits a key into the canonical workspace id, the key id and
// the secret. It checks only the form; AuthenticateAPIKey checks the rest.
func ParseAPIKey(key string) (workspaceID, keyID, secret string, err error) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	if !ok || len(key) != apiKeyLen {
		return "", "", "", ErrBadAPIKey()
	}
	ws, rest := rest[:apiKeyWSLen], rest[apiKeyWSLen:]
	keyID, secret = rest[1:1+apiKeyIDLen], rest[2+apiKeyIDLen:]
	if rest[0] != '_' || rest[1+apiKeyIDLen] != '_' || !isLowerHex(ws) || !isLowerHex(keyID) || !isBase64URL(secret) {
		return "", "", "", ErrBadAPIKey()
	}
	u, err := uuid.Parse(ws)
	if err != nil {
		return "", "", "", ErrBadAPIKey()
	}
	return u.String(), keyID, secret, nil
}

func isLowerHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func isBase64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// AuthenticateAPIKey returns the live key keyID of this workspace if secret
// is its secret. The hashes are compared in constant time, and an unknown
// key costs the same as a wrong secret.
func AuthenticateAPIKey(ctx context.Context, db *DB, keyID, secret string) (*APIKey, error) {
	var k APIKey
	err := db.R.GetContext(ctx, &k, `SELECT * FROM api_keys WHERE id = ?`, keyID)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if !found {
		k.SecretHash = strings.Repeat("0", sha256.Size*2)
	}
	match := subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(k.SecretHash)) == 1
	if !found || !match || k.RevokedAt != nil {
		return nil, ErrBadAPIKey()
	}
	if now := time.Now().UTC(); k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= apiKeyTouchEvery {
		if _, err := db.W.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, now, k.ID); err != nil {
			return nil, err
		}
		k.LastUsedAt = &now
	}
	return &k, nil
}

// ListAPIKeys returns the workspace's keys, revoked ones included, newest first.
func ListAPIKeys(ctx context.Context, db *DB) ([]APIKey, error) {
	keys := []APIKey{}
	err := db.R.SelectContext(ctx, &keys, `SELECT * FROM api_keys ORDER BY seq DESC`)
	return keys, err
}

// RevokeAPIKey stops a key from working; revoking a revoked key does nothing.
func RevokeAPIKey(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var revoked sql.NullTime
		err := tx.GetContext(ctx, &revoked, `SELECT revoked_at FROM api_keys WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That API key does not exist.")
		}
		if err != nil || revoked.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, time.Now().UTC(), id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "apikey.revoke", KindAPIKey, id, nil)
	})
}

// RecordKeyRevocation remembers in the catalog that a workspace's key was
// revoked, so that a restore of the workspace's file cannot undo it.
func RecordKeyRevocation(ctx context.Context, x sqlx.ExecerContext, workspaceID, keyID string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO revoked_api_keys (workspace_id, key_id, revoked_at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, workspaceID, keyID, time.Now().UTC())
	return err
}

// RevokedKeyIDs returns the ids of a workspace's revoked keys, from the
// catalog.
func RevokedKeyIDs(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]string, error) {
	var ids []string
	err := sqlx.SelectContext(ctx, q, &ids, `SELECT key_id FROM revoked_api_keys WHERE workspace_id = ? ORDER BY key_id`, workspaceID)
	return ids, err
}

// RevokeKeysAgain revokes, in a workspace file brought back by a restore,
// the keys that had been revoked since; with all, every key is removed (a
// restore as a new workspace starts with none, as an import does).
func RevokeKeysAgain(ctx context.Context, db *DB, ids []string, all bool) error {
	if all {
		_, err := db.W.ExecContext(ctx, `DELETE FROM api_keys`)
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	query, args, err := sqlx.In(`UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL AND id IN (?)`, time.Now().UTC(), ids)
	if err != nil {
		return err
	}
	_, err = db.W.ExecContext(ctx, query, args...)
	return err
}
