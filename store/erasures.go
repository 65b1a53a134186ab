package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Erasure is one GDPR erasure as the catalog remembers it: who it was by
// id and by a keyed hash of their email, never their data.
type Erasure struct {
	WorkspaceID string    `db:"workspace_id"`
	ContactID   string    `db:"contact_id"`
	EmailHash   string    `db:"email_hash"`
	ErasedAt    time.Time `db:"erased_at"`
}

// erasureKey is the instance's key for hashing erased emails, made once.
func erasureKey(ctx context.Context, catalog *Catalog) ([]byte, error) {
	return Setting(ctx, catalog, "erasure_key", func() []byte { return randomBytes(32) })
}

// emailHash is the keyed hash an erasure keeps of an email ("" for none).
func emailHash(key []byte, email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return ""
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(email))
	return hex.EncodeToString(mac.Sum(nil))
}

// RecordErasure remembers, in the catalog, that a workspace's contact
// with this email was erased.
func RecordErasure(ctx context.Context, catalog *Catalog, workspaceID, contactID, email string) error {
	key, err := erasureKey(ctx, catalog)
	if err != nil {
		return err
	}
	_, err = catalog.W.ExecContext(ctx, `INSERT INTO erasures (workspace_id, contact_id, email_hash, erased_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, workspaceID, contactID, emailHash(key, email), time.Now().UTC())
	return err
}

// Erasures returns the erasures done in a workspace.
func Erasures(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]Erasure, error) {
	var es []Erasure
	err := sqlx.SelectContext(ctx, q, &es, `SELECT * FROM erasures WHERE workspace_id = ? ORDER BY erased_at`, workspaceID)
	return es, err
}

// EraseAgain erases, in a workspace file brought back by a restore or an
// import, the contacts erased since: by id, and with byEmail by email too
// (a contact made again with the same address). It returns how many it
// erased.
//
// An import passes byEmail false: the archive names its workspace itself,
// so anyone could send one naming another workspace, full of addresses,
// and learn from what vanished who was erased there. An id matches only
// the data of that workspace.
func EraseAgain(ctx context.Context, catalog *Catalog, db *DB, es []Erasure, byEmail bool) (int, error) {
	if len(es) == 0 {
		return 0, nil
	}
	key, err := erasureKey(ctx, catalog)
	if err != nil {
		return 0, err
	}
	ids, hashes := map[string]bool{}, map[string]bool{}
	for _, e := range es {
		ids[e.ContactID] = true
		if byEmail && e.EmailHash != "" {
			hashes[e.EmailHash] = true
		}
	}
	var contacts []struct {
		ID    string `db:"id"`
		Email string `db:"email"`
	}
	if err := db.R.SelectContext(ctx, &contacts, `SELECT id, email FROM contacts`); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range contacts {
		if !ids[c.ID] && (len(hashes) == 0 || !hashes[emailHash(key, c.Email)]) {
			continue
		}
		if err := EraseContact(ctx, db, Actor{Kind: "system", ID: "erasure"}, c.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
