package store

import (
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/jmoiron/sqlx"
)

// Actor is who made a change: a user or an API key, and from where.
type Actor struct {
	Kind string // "user", "apikey" or "system"
	ID   string
	IP   string
}

// String is the actor as the audit log records it, "user:<id>".
func (a Actor) String() string {
	if a.Kind == "" {
		return "system"
	}
	return a.Kind + ":" + a.ID
}

// Change is one field's value before and after.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// AuditEvent is one entry of a workspace's audit log.
type AuditEvent struct {
	Seq        int64     `db:"seq" json:"seq"`
	At         time.Time `db:"at" json:"at"`
	Actor      string    `db:"actor" json:"actor"`
	Action     string    `db:"action" json:"action"`
	EntityType string    `db:"entity_type" json:"entity_type"`
	EntityID   string    `db:"entity_id" json:"entity_id"`
	IP         string    `db:"ip" json:"ip"`
	// ContactID is the person the event is about, if any; see the migration
	// that added it.
	ContactID string `db:"contact_id" json:"contact_id,omitempty"`
	Changes   string `db:"changes" json:"-"`
}

// ChangesMap decodes the event's changes.
func (e AuditEvent) ChangesMap() map[string]Change {
	m := map[string]Change{}
	json.Unmarshal([]byte(e.Changes), &m)
	return m
}

// MarshalJSON includes the changes as an object.
func (e AuditEvent) MarshalJSON() ([]byte, error) {
	type plain AuditEvent
	return json.Marshal(struct {
		plain
		Changes json.RawMessage `json:"changes"`
	}{plain(e), json.RawMessage(orEmptyObject(e.Changes))})
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// audit writes an event in the caller's transaction, so the log and the
// change commit together or not at all.
func audit(ctx context.Context, tx sqlx.ExecerContext, a Actor, action string, k Kind, entityID string, changes map[string]Change) error {
	contactID := ""
	if k == KindContact {
		contactID = entityID
	}
	return auditAbout(ctx, tx, a, contactID, action, k, entityID, changes)
}

// auditRelink records the update of a task or deal whose contact went from
// before to after (either may be ""). When it gets its first contact, its
// earlier events go to that contact: they are about that person too, and an
// erasure must find them after the record is gone.
func auditRelink(ctx context.Context, tx sqlx.ExecerContext, a Actor, k Kind, entityID, before, after string, changes map[string]Change) error {
	if before == "" && after != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET contact_id = ? WHERE entity_type = ? AND entity_id = ? AND contact_id = ''`,
			after, k, entityID); err != nil {
			return err
		}
	}
	return auditAbout(ctx, tx, a, cmp.Or(before, after), string(k)+".update", k, entityID, changes)
}

// auditAbout records an event about a contact's note, task or deal, linked
// to that contact so an erasure finds it after the record itself is gone.
func auditAbout(ctx context.Context, tx sqlx.ExecerContext, a Actor, contactID, action string, k Kind, entityID string, changes map[string]Change) error {
	if changes == nil {
		changes = map[string]Change{}
	}
	b, err := json.Marshal(changes)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, ip, contact_id, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		time.Now().UTC(), a.String(), action, k, entityID, a.IP, contactID, string(b))
	return err
}

// Audit records an event on its own, such as a sign-in.
func Audit(ctx context.Context, db *DB, a Actor, action string, k Kind, entityID string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return audit(ctx, tx, a, action, k, entityID, nil)
	})
}

// AuditChanges records one event with the changes (or facts) it carries,
// in its own transaction.
func AuditChanges(ctx context.Context, db *DB, a Actor, action string, k Kind, entityID string, changes map[string]Change) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return audit(ctx, tx, a, action, k, entityID, changes)
	})
}

// AuditFilter narrows the audit log; zero values mean any.
type AuditFilter struct {
	Action     string
	EntityType string // a Kind's name; any other is an invalid request
	EntityID   string
	Actor      string
	Cursor     string // from the previous page's next cursor
	Limit      int
}

// ListAudit returns one page of audit events, newest first, and the cursor
// of the next page ("" on the last).
func ListAudit(ctx context.Context, db *DB, f AuditFilter) ([]AuditEvent, string, error) {
	var w clause
	if f.EntityType != "" {
		k, err := ParseKind(f.EntityType)
		if err != nil {
			return nil, "", err
		}
		w.and("entity_type = ?", k)
	}
	w.eq("action", f.Action)
	w.eq("entity_id", f.EntityID)
	w.eq("actor", f.Actor)
	return listKeyset(ctx, db, keysetPage[AuditEvent]{
		selectSQL: `SELECT * FROM audit_log`, where: w, sort: bySeq("seq"), cursor: f.Cursor, limit: f.Limit,
		key: func(e AuditEvent) cursor { return cursor{e.Seq} },
	})
}
