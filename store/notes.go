package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// MaxNoteLength bounds a note's body, in characters.
const MaxNoteLength = 20000

// Note is free text on a contact, a company or a deal.
type Note struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	ContactID string    `db:"contact_id" json:"contact_id"`
	CompanyID string    `db:"company_id" json:"company_id"`
	DealID    string    `db:"deal_id" json:"deal_id"`
	AuthorID  string    `db:"author_id" json:"author_id"`
	Body      string    `db:"body" json:"body"`
	Version   int64     `db:"version" json:"version"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// NoteInput creates a note on exactly one of a contact, a company or a
// deal.
type NoteInput struct {
	ContactID string `json:"contact_id"`
	CompanyID string `json:"company_id"`
	DealID    string `json:"deal_id"`
	Body      string `json:"body"`
}

const noteSelect = `SELECT seq, id, coalesce(contact_id, '') AS contact_id, coalesce(company_id, '') AS company_id,
	coalesce(deal_id, '') AS deal_id, author_id, body, version, created_at, updated_at FROM notes`

// CreateNote adds a note to a contact, company or deal of this workspace.
func CreateNote(ctx context.Context, db *DB, a Actor, in NoteInput) (*Note, error) {
	body, err := cleanNoteBody(in.Body)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	in.ContactID, in.CompanyID, in.DealID = strings.TrimSpace(in.ContactID), strings.TrimSpace(in.CompanyID), strings.TrimSpace(in.DealID)
	n := &Note{ID: newID(), ContactID: in.ContactID, CompanyID: in.CompanyID, DealID: in.DealID, AuthorID: a.ID, Body: body, Version: 1, CreatedAt: now, UpdatedAt: now}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkParent(ctx, tx, in.ContactID, in.CompanyID, in.DealID); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, `INSERT INTO notes (id, contact_id, company_id, deal_id, author_id, body, created_at, updated_at)
			VALUES (:id, nullif(:contact_id, ''), nullif(:company_id, ''), nullif(:deal_id, ''), :author_id, :body, :created_at, :updated_at)`, n)
		if err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, n.ContactID, "note.create", KindNote, n.ID, map[string]Change{"body": {After: body}})
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func cleanNoteBody(body string) (string, error) {
	body, err := cleanText("body", "The note", body, MaxNoteLength)
	if err == nil && body == "" {
		err = FieldError("body", "The note is empty.")
	}
	return body, err
}

// checkParent makes sure exactly one of a contact, a company or a deal is
// given and that it exists in this workspace.
func checkParent(ctx context.Context, tx *sqlx.Tx, contactID, companyID, dealID string) error {
	var table, id, field string
	given := 0
	for _, p := range []struct{ table, id, field string }{
		{"contacts", contactID, "contact_id"}, {"companies", companyID, "company_id"}, {"deals", dealID, "deal_id"},
	} {
		if p.id != "" {
			table, id, field = p.table, p.id, p.field
			given++
		}
	}
	if given != 1 {
		return FieldError("contact_id", "Give one of a contact_id, a company_id or a deal_id.")
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+table+` WHERE id = ?`, id); err != nil {
		return err
	}
	if n == 0 {
		return FieldError(field, "No such record exists in this workspace.")
	}
	return nil
}

// GetNote returns one note.
func GetNote(ctx context.Context, db *DB, id string) (*Note, error) {
	var n Note
	err := db.R.GetContext(ctx, &n, noteSelect+` WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That note does not exist.")
	}
	return &n, err
}

// UpdateNote replaces a note's body; with an expected version, only if the
// note is at that version.
func UpdateNote(ctx context.Context, db *DB, a Actor, id, body string, expect Expect) (*Note, error) {
	body, err := cleanNoteBody(body)
	if err != nil {
		return nil, err
	}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		var before struct {
			Body      string `db:"body"`
			ContactID string `db:"contact_id"`
			Version   int64  `db:"version"`
		}
		err := tx.GetContext(ctx, &before, `SELECT body, coalesce(contact_id, '') AS contact_id, version FROM notes WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That note does not exist.")
		}
		if err != nil {
			return err
		}
		if before.Body == body {
			return expect.Check("note", before.Version)
		}
		row := map[string]any{"body": body, "updated_at": time.Now().UTC()}
		if err := updateRow(ctx, tx, "notes", "note", id, expect, `body = :body, updated_at = :updated_at`, row); err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, before.ContactID, "note.update", KindNote, id, map[string]Change{"body": {Before: before.Body, After: body}})
	})
	if err != nil {
		return nil, err
	}
	return GetNoteW(ctx, db, id)
}

// GetNoteW reads a note through the writer, seeing the write just made.
func GetNoteW(ctx context.Context, db *DB, id string) (*Note, error) {
	var n Note
	err := db.W.GetContext(ctx, &n, noteSelect+` WHERE id = ?`, id)
	return &n, err
}

// DeleteNote removes a note.
func DeleteNote(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var contactID string
		err := tx.GetContext(ctx, &contactID, `DELETE FROM notes WHERE id = ? RETURNING coalesce(contact_id, '')`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return Errorf(ENotFound, "That note does not exist.")
		}
		if err != nil {
			return err
		}
		return auditAbout(ctx, tx, a, contactID, "note.delete", KindNote, id, nil)
	})
}

// ListNotes returns notes newest first, optionally of one contact, company
// or deal, keyset-paginated by seq.
func ListNotes(ctx context.Context, db *DB, contactID, companyID, dealID, cursorText string, limit int) ([]Note, string, error) {
	var w clause
	w.eq("contact_id", contactID)
	w.eq("company_id", companyID)
	w.eq("deal_id", dealID)
	return listKeyset(ctx, db, keysetPage[Note]{
		selectSQL: noteSelect, where: w, sort: bySeq("seq"), cursor: cursorText, limit: limit,
		key: func(n Note) cursor { return cursor{n.Seq} },
	})
}

// MayEditNote reports whether a member of role, acting as a, may change
// note n: its author may, and admins may change anyone's.
func MayEditNote(n *Note, a Actor, role string) bool {
	return RoleRank(role) >= RoleRank("admin") || (a.Kind == "user" && a.ID != "" && a.ID == n.AuthorID)
}
