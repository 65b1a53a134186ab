package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Reasons an address is suppressed.
const (
	SuppressManual       = "manual"       // a member or a key added it
	SuppressUnsubscribed = "unsubscribed" // the person used an unsubscribe link
	SuppressBounced      = "bounced"      // a hard bounce (5xx)
	SuppressComplaint    = "complaint"    // a spam complaint
)

// SuppressionReasons are the reasons, in the order they are offered.
var SuppressionReasons = []string{SuppressManual, SuppressUnsubscribed, SuppressBounced, SuppressComplaint}

// maxSuppressionDetail bounds a suppression's detail (a bounce's answer).
const maxSuppressionDetail = 1000

// Suppression is an address the workspace (or, in the catalog, the whole
// instance) never emails. Email is "" once the person was erased: the row
// then keeps only the address's hash, enough to keep refusing it.
type Suppression struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	Email     string    `db:"email" json:"email"`
	Erased    bool      `db:"erased" json:"erased,omitempty"`
	Reason    string    `db:"reason" json:"reason"`
	Detail    string    `db:"detail" json:"detail"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	CreatedBy string    `db:"created_by" json:"created_by"`
}

// SuppressionInput is an address to suppress, why, and the evidence.
type SuppressionInput struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// SuppressionFilter selects suppressions: Query matches part of the
// address, Reason one reason.
type SuppressionFilter struct {
	Query  string
	Reason string
	Cursor string
	Limit  int
}

// SuppressionEmail returns an address as suppression lists keep it:
// lower-cased (mailbox providers treat local parts without regard to
// case; suppressing too much is the safe side), after checking it is one
// plain address.
func SuppressionEmail(s string) (string, error) {
	return NormalizeEmail(strings.ToLower(s))
}

// SuppressionHash is the hash a suppression is found by: SHA-256 of the
// lower-cased address, with a prefix of its own. Unkeyed on purpose: it
// must work the same in every copy of the file (restores, exports), and a
// suppression list has to answer "is this address on it?" to whoever holds
// it, which is all the hash allows; what it takes away is reading the
// addresses off the list. "" for no address.
func SuppressionHash(email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("atrium suppression\x00" + email))
	return hex.EncodeToString(sum[:])
}

const suppressionSelect = `SELECT seq, id, coalesce(email, '') AS email, email IS NULL AS erased, reason, detail,
	created_at, created_by FROM suppressions`

func checkSuppressionInput(in *SuppressionInput) error {
	email, err := SuppressionEmail(in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Reason == "" {
		in.Reason = SuppressManual
	}
	if !slices.Contains(SuppressionReasons, in.Reason) {
		return FieldError("reason", "The reason must be one of %s.", strings.Join(SuppressionReasons, ", "))
	}
	in.Detail = strings.TrimSpace(in.Detail)
	if len([]rune(in.Detail)) > maxSuppressionDetail {
		in.Detail = string([]rune(in.Detail)[:maxSuppressionDetail])
	}
	return nil
}

// AddSuppression suppresses an address in the workspace and stops its
// enrolments, in one transaction. It is idempotent: an address already on
// the list keeps its first reason, time and detail (the first event is
// the one that matters: an unsubscribe stays an unsubscribe when it later
// bounces), and added reports whether this call put it there. Only an
// addition is audited.
func AddSuppression(ctx context.Context, db *DB, a Actor, in SuppressionInput) (s *Suppression, added bool, err error) {
	if err := checkSuppressionInput(&in); err != nil {
		return nil, false, err
	}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if s, added, err = addSuppression(ctx, tx, a, "", in); err != nil {
			return err
		}
		return StopEnrollmentsOf(ctx, tx, in.Email, in.Reason)
	})
	return s, added, err
}

// Unsubscribe is what an unsubscribe link does, in one transaction: the
// address is suppressed as unsubscribed, its enrolments stop, and the
// audit log records it against the contact the link was made for (so an
// erasure of that contact clears it). Idempotent: a second use changes
// nothing and records nothing; added says whether this one did.
func Unsubscribe(ctx context.Context, db *DB, a Actor, contactID, email string) (added bool, err error) {
	in := SuppressionInput{Email: email, Reason: SuppressUnsubscribed}
	if err := checkSuppressionInput(&in); err != nil {
		return false, err
	}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, added, err = addSuppression(ctx, tx, a, contactID, in); err != nil {
			return err
		}
		return StopEnrollmentsOf(ctx, tx, in.Email, SuppressUnsubscribed)
	})
	return added, err
}

// addSuppression inserts the row unless the address is there already,
// and audits an insertion, about contactID when given.
func addSuppression(ctx context.Context, tx *sqlx.Tx, a Actor, contactID string, in SuppressionInput) (*Suppression, bool, error) {
	id := newID()
	res, err := tx.ExecContext(ctx, `INSERT INTO suppressions (id, email, email_hash, reason, detail, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, in.Email, SuppressionHash(in.Email), in.Reason, in.Detail, time.Now().UTC(), a.String())
	if err != nil {
		return nil, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, false, err
	}
	var s Suppression
	if err := tx.GetContext(ctx, &s, suppressionSelect+` WHERE email_hash = ?`, SuppressionHash(in.Email)); err != nil {
		return nil, false, err
	}
	if n == 0 {
		return &s, false, nil
	}
	changes := map[string]Change{"email": {After: in.Email}, "reason": {After: in.Reason}}
	if in.Detail != "" {
		changes["detail"] = Change{After: in.Detail}
	}
	return &s, true, auditAbout(ctx, tx, a, contactID, "suppression.add", KindSuppression, s.ID, changes)
}

// RemoveSuppression takes an address off the workspace's list; ref is the
// suppression's id or the address.
func RemoveSuppression(ctx context.Context, db *DB, a Actor, ref string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		s, err := findSuppression(ctx, tx, ref)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE id = ?`, s.ID); err != nil {
			return err
		}
		return audit(ctx, tx, a, "suppression.remove", KindSuppression, s.ID,
			map[string]Change{"email": {Before: s.Email}, "reason": {Before: s.Reason}})
	})
}

// GetSuppression returns one suppression by its id or its address.
func GetSuppression(ctx context.Context, db *DB, ref string) (*Suppression, error) {
	return findSuppression(ctx, db.R, ref)
}

func findSuppression(ctx context.Context, q sqlx.QueryerContext, ref string) (*Suppression, error) {
	var s Suppression
	var err error
	switch {
	case ValidID(ref):
		err = sqlx.GetContext(ctx, q, &s, suppressionSelect+` WHERE id = ?`, ref)
	case strings.Contains(ref, "@"):
		err = sqlx.GetContext(ctx, q, &s, suppressionSelect+` WHERE email_hash = ?`, SuppressionHash(ref))
	default:
		err = sql.ErrNoRows
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That address is not on the suppression list.")
	}
	return &s, err
}

// ListSuppressions returns a page of the workspace's suppressions, newest
// first.
func ListSuppressions(ctx context.Context, db *DB, f SuppressionFilter) ([]Suppression, string, error) {
	return listSuppressions(ctx, db, suppressionSelect, f)
}

func listSuppressions(ctx context.Context, db *DB, sel string, f SuppressionFilter) ([]Suppression, string, error) {
	var where clause
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		where.and(`instr(email, ?) > 0`, q)
	}
	if f.Reason != "" {
		if !slices.Contains(SuppressionReasons, f.Reason) {
			return nil, "", Errorf(EInvalid, "The reason must be one of %s.", strings.Join(SuppressionReasons, ", "))
		}
		where.eq("reason", f.Reason)
	}
	return listKeyset(ctx, db, keysetPage[Suppression]{
		selectSQL: sel, where: where, sort: bySeq("seq"), cursor: f.Cursor, limit: f.Limit,
		key: func(s Suppression) cursor { return cursor{s.Seq} },
	})
}

// IsSuppressed reports whether the workspace's list holds email. The
// instance-wide list is the catalog's (see InstanceSuppressedAmong);
// callers that send ask both through tenant.Service.Suppressed.
func IsSuppressed(ctx context.Context, db *DB, email string) (bool, error) {
	m, err := SuppressedAmong(ctx, db.R, []string{email})
	return len(m) > 0, err
}

// SuppressedAmong returns, of emails, those on the workspace's list, each
// (lower-cased) with its reason: one query for a batch, as enrolment and
// imports need.
func SuppressedAmong(ctx context.Context, q sqlx.QueryerContext, emails []string) (map[string]string, error) {
	byHash := map[string]string{}
	for _, e := range emails {
		if h := SuppressionHash(e); h != "" {
			byHash[h] = strings.ToLower(strings.TrimSpace(e))
		}
	}
	found := map[string]string{}
	if len(byHash) == 0 {
		return found, nil
	}
	hashes := make([]string, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, h)
	}
	b, _ := json.Marshal(hashes)
	var rows []struct {
		Hash   string `db:"email_hash"`
		Reason string `db:"reason"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT email_hash, reason FROM suppressions
		WHERE email_hash IN (SELECT value FROM json_each(?))`, string(b)); err != nil {
		return nil, err
	}
	for _, r := range rows {
		found[byHash[r.Hash]] = r.Reason
	}
	return found, nil
}

// rehashSuppressions makes every kept address's hash its own again, for a
// file from outside: a row whose hash disagrees with its address would be
// shown as suppressed and not be honoured.
func rehashSuppressions(ctx context.Context, tx *sqlx.Tx) error {
	var rows []struct {
		ID    string `db:"id"`
		Email string `db:"email"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT id, email FROM suppressions WHERE email IS NOT NULL`); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, `UPDATE suppressions SET email_hash = ? WHERE id = ?`, SuppressionHash(r.Email), r.ID); err != nil {
			return err
		}
	}
	return nil
}

// The instance-wide list, in the catalog.

const instanceSuppressionSelect = `SELECT seq, '' AS id, email, 0 AS erased, reason, detail, created_at, created_by FROM suppressions`

// AddInstanceSuppression suppresses an address in every workspace; as
// AddSuppression, idempotent, keeping the first reason.
func AddInstanceSuppression(ctx context.Context, c *Catalog, by string, in SuppressionInput) (added bool, err error) {
	if err := checkSuppressionInput(&in); err != nil {
		return false, err
	}
	res, err := c.W.ExecContext(ctx, `INSERT INTO suppressions (email, reason, detail, created_at, created_by) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, in.Email, in.Reason, in.Detail, time.Now().UTC(), by)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RemoveInstanceSuppression takes an address off the instance-wide list.
func RemoveInstanceSuppression(ctx context.Context, c *Catalog, email string) error {
	res, err := c.W.ExecContext(ctx, `DELETE FROM suppressions WHERE email = ?`, strings.ToLower(strings.TrimSpace(email)))
	return expectOne(res, err, Errorf(ENotFound, "That address is not on the instance's suppression list."))
}

// ListInstanceSuppressions returns a page of the instance-wide list,
// newest first.
func ListInstanceSuppressions(ctx context.Context, c *Catalog, f SuppressionFilter) ([]Suppression, string, error) {
	return listSuppressions(ctx, c.DB, instanceSuppressionSelect, f)
}

// InstanceSuppressionMap returns the whole instance-wide list, address to
// reason, for an import to check every row against.
func InstanceSuppressionMap(ctx context.Context, q sqlx.QueryerContext) (map[string]string, error) {
	var rows []struct {
		Email  string `db:"email"`
		Reason string `db:"reason"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT email, reason FROM suppressions`); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(rows))
	for _, r := range rows {
		m[r.Email] = r.Reason
	}
	return m, nil
}

// InstanceSuppressedAmong returns, of emails, those on the instance-wide
// list, each (lower-cased) with its reason.
func InstanceSuppressedAmong(ctx context.Context, q sqlx.QueryerContext, emails []string) (map[string]string, error) {
	lower := make([]string, 0, len(emails))
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			lower = append(lower, e)
		}
	}
	found := map[string]string{}
	if len(lower) == 0 {
		return found, nil
	}
	b, _ := json.Marshal(lower)
	var rows []struct {
		Email  string `db:"email"`
		Reason string `db:"reason"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT email, reason FROM suppressions
		WHERE email IN (SELECT value FROM json_each(?))`, string(b)); err != nil {
		return nil, err
	}
	for _, r := range rows {
		found[r.Email] = r.Reason
	}
	return found, nil
}
