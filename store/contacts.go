package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Stages are the lifecycle stages of a contact, in order.
var Stages = []string{"lead", "qualified", "opportunity", "customer", "churned"}

// Contact is a person in a workspace.
type Contact struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	FirstName string    `db:"first_name" json:"first_name"`
	LastName  string    `db:"last_name" json:"last_name"`
	Email     string    `db:"email" json:"email"`
	Phone     string    `db:"phone" json:"phone"`
	Title     string    `db:"title" json:"title"`
	CompanyID string    `db:"company_id" json:"company_id"`
	Company   string    `db:"company_name" json:"company"`
	OwnerID   string    `db:"owner_id" json:"owner_id"`
	Stage     string    `db:"stage" json:"stage"`
	Custom    Custom    `db:"custom" json:"custom"`
	Tags      []string  `db:"-" json:"tags"`
	Version   int64     `db:"version" json:"version"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// Name is how the contact is shown: full name, else email.
func (c *Contact) Name() string {
	if n := strings.TrimSpace(c.FirstName + " " + c.LastName); n != "" {
		return n
	}
	if c.Email != "" {
		return c.Email
	}
	return "(no name)"
}

// ContactInput is a create or a partial update: nil fields are left alone.
// An update with an expected version is refused if the contact is at another.
type ContactInput struct {
	Expect
	FirstName *string        `json:"first_name"`
	LastName  *string        `json:"last_name"`
	Email     *string        `json:"email"`
	Phone     *string        `json:"phone"`
	Title     *string        `json:"title"`
	Company   *string        `json:"company"`    // a name: linked to that company, created if new
	CompanyID *string        `json:"company_id"` // or an id of this workspace's companies
	OwnerID   *string        `json:"owner_id"`
	Stage     *string        `json:"stage"`
	Tags      *[]string      `json:"tags"`
	Custom    map[string]any `json:"custom"`
}

const contactSelect = `SELECT c.seq, c.id, c.first_name, c.last_name, c.email, c.phone, c.title,
	coalesce(c.company_id, '') AS company_id, coalesce(co.name, '') AS company_name,
	c.owner_id, c.stage, c.custom, c.version, c.created_at, c.updated_at
	FROM contacts c LEFT JOIN companies co ON co.id = c.company_id`

// GetContact returns one contact with its tags.
func GetContact(ctx context.Context, db *DB, id string) (*Contact, error) {
	return getContact(ctx, db.R, id)
}

func getContact(ctx context.Context, q sqlx.QueryerContext, id string) (*Contact, error) {
	var c Contact
	err := sqlx.GetContext(ctx, q, &c, contactSelect+` WHERE c.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That contact does not exist.")
	}
	if err != nil {
		return nil, err
	}
	tags, err := tagsOf(ctx, q, KindContact, []string{id})
	if err != nil {
		return nil, err
	}
	c.Tags = nonNil(tags[id])
	return &c, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CreateContact validates and inserts a contact, its tags, a timeline entry
// and an audit event, in one transaction.
func CreateContact(ctx context.Context, db *DB, a Actor, in ContactInput) (*Contact, error) {
	now := time.Now().UTC()
	c := &Contact{ID: newID(), Stage: Stages[0], Custom: Custom{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	var id string
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := applyContactInput(ctx, tx, c, in); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, `INSERT INTO contacts (id, first_name, last_name, email, phone, title, company_id, owner_id, stage, custom, created_at, updated_at)
			VALUES (:id, :first_name, :last_name, :email, :phone, :title, nullif(:company_id, ''), :owner_id, :stage, :custom, :created_at, :updated_at)`, c)
		if err != nil {
			return contactWriteError(ctx, tx, err, c.Email)
		}
		if err := setTags(ctx, tx, KindContact, c.ID, c.Tags); err != nil {
			return err
		}
		changes := contactChanges(&Contact{}, c)
		if err := logActivity(ctx, tx, KindContact, c.ID, "created", a, nil); err != nil {
			return err
		}
		id = c.ID
		return audit(ctx, tx, a, "contact.create", KindContact, c.ID, changes)
	})
	if err != nil {
		return nil, err
	}
	return GetContactW(ctx, db, id)
}

// GetContactW reads a contact through the writer, so it sees the write just made.
func GetContactW(ctx context.Context, db *DB, id string) (*Contact, error) {
	return getContact(ctx, db.W, id)
}

// UpdateContact applies a partial update; the changed fields go to the
// timeline and the audit log.
func UpdateContact(ctx context.Context, db *DB, a Actor, id string, in ContactInput) (*Contact, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := updateContact(ctx, tx, a, id, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return GetContactW(ctx, db, id)
}

// updateContact applies in to a contact in tx and reports whether anything
// changed.
func updateContact(ctx context.Context, tx *sqlx.Tx, a Actor, id string, in ContactInput) (bool, error) {
	return editContact(ctx, tx, a, id, func(*Contact) (ContactInput, error) { return in, nil })
}

// editContact reads a contact once, asks edit for the input to apply to
// it (bulk tagging needs the current tags), applies it, and reports
// whether anything changed.
func editContact(ctx context.Context, tx *sqlx.Tx, a Actor, id string, edit func(before *Contact) (ContactInput, error)) (bool, error) {
	before, err := getContact(ctx, tx, id)
	if err != nil {
		return false, err
	}
	in, err := edit(before)
	if err != nil {
		return false, err
	}
	c := *before
	c.Tags = append([]string{}, before.Tags...)
	if err := applyContactInput(ctx, tx, &c, in); err != nil {
		return false, err
	}
	changes := contactChanges(before, &c)
	if len(changes) == 0 {
		return false, in.Check("contact", before.Version)
	}
	c.UpdatedAt = time.Now().UTC()
	err = updateRow(ctx, tx, "contacts", "contact", id, in.Expect, `first_name = :first_name, last_name = :last_name, email = :email,
		phone = :phone, title = :title, company_id = nullif(:company_id, ''), owner_id = :owner_id, stage = :stage,
		custom = :custom, updated_at = :updated_at`, &c)
	if err != nil {
		return false, contactWriteError(ctx, tx, err, c.Email)
	}
	if _, ok := changes["tags"]; ok {
		if err := setTags(ctx, tx, KindContact, id, c.Tags); err != nil {
			return false, err
		}
	}
	if err := logActivity(ctx, tx, KindContact, id, "changed", a, changes); err != nil {
		return false, err
	}
	return true, audit(ctx, tx, a, "contact.update", KindContact, id, changes)
}

// DeleteContact removes a contact with its notes, tasks and timeline.
func DeleteContact(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		return deleteContact(ctx, tx, a, id)
	})
}

func deleteContact(ctx context.Context, tx *sqlx.Tx, a Actor, id string) error {
	before, err := getContact(ctx, tx, id)
	if err != nil {
		return err
	}
	// Its deals stay, without it (ON DELETE SET NULL): a write of theirs.
	if _, err := tx.ExecContext(ctx, `UPDATE deals SET version = version + 1 WHERE contact_id = ?`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE id = ?`, id); err != nil {
		return err
	}
	return audit(ctx, tx, a, "contact.delete", KindContact, id, contactChanges(before, &Contact{}))
}

// contactWriteError turns a duplicate email into a conflict that names the
// contact who has it.
func contactWriteError(ctx context.Context, tx *sqlx.Tx, err error, email string) error {
	if !isUniqueViolation(err) {
		return err
	}
	var other Contact
	if getErr := tx.GetContext(ctx, &other, `SELECT id, first_name, last_name, email FROM contacts WHERE lower(email) = lower(?)`, email); getErr == nil {
		return &Error{Code: EConflict, Field: "email", Message: "This email is already used by " + other.Name() + " in this workspace."}
	}
	return &Error{Code: EConflict, Field: "email", Message: "This email is already used in this workspace."}
}

// applyContactInput validates in and copies it onto c.
func applyContactInput(ctx context.Context, tx *sqlx.Tx, c *Contact, in ContactInput) error {
	if err := applyContactFields(c, in); err != nil {
		return err
	}
	if in.Custom != nil {
		defs, err := customFields(ctx, tx, KindContact)
		if err != nil {
			return err
		}
		if c.Custom, err = applyCustom(defs, c.Custom, in.Custom); err != nil {
			return err
		}
	}
	return resolveCompany(ctx, tx, c, in)
}

// applyContactFields validates and copies the fields that need no lookup.
func applyContactFields(c *Contact, in ContactInput) error {
	var err error
	for _, f := range []struct {
		in         *string
		out        *string
		name, text string
		max        int
	}{
		{in.FirstName, &c.FirstName, "first_name", "The first name", maxPersonName},
		{in.LastName, &c.LastName, "last_name", "The last name", maxPersonName},
		{in.Phone, &c.Phone, "phone", "The phone number", maxPhone},
		{in.Title, &c.Title, "title", "The title", maxPersonName},
	} {
		if f.in != nil {
			if *f.out, err = cleanText(f.name, f.text, *f.in, f.max); err != nil {
				return err
			}
		}
	}
	if in.Email != nil {
		c.Email = strings.TrimSpace(*in.Email)
		if c.Email != "" {
			if c.Email, err = NormalizeEmail(c.Email); err != nil {
				return FieldError("email", "%s", ErrorMessage(err))
			}
		}
	}
	if c.FirstName == "" && c.LastName == "" && c.Email == "" {
		return FieldError("first_name", "A contact needs a name or an email.")
	}
	if in.Stage != nil {
		if !contains(Stages, *in.Stage) {
			return FieldError("stage", "The stage must be one of: %s.", strings.Join(Stages, ", "))
		}
		c.Stage = *in.Stage
	}
	if in.OwnerID != nil {
		c.OwnerID = strings.TrimSpace(*in.OwnerID)
	}
	if in.Tags != nil {
		if c.Tags, err = cleanTags(*in.Tags); err != nil {
			return err
		}
	}
	return nil
}

// resolveCompany links the contact to a company given by id (which must be
// of this workspace) or by name (found in any letter case, or created).
func resolveCompany(ctx context.Context, tx *sqlx.Tx, c *Contact, in ContactInput) error {
	switch {
	case in.CompanyID != nil && *in.CompanyID != "":
		var name string
		err := tx.GetContext(ctx, &name, `SELECT name FROM companies WHERE id = ?`, *in.CompanyID)
		if errors.Is(err, sql.ErrNoRows) {
			return FieldError("company_id", "No company with this id exists in this workspace.")
		}
		if err != nil {
			return err
		}
		c.CompanyID, c.Company = *in.CompanyID, name
	case in.CompanyID != nil || (in.Company != nil && strings.TrimSpace(*in.Company) == ""):
		c.CompanyID, c.Company = "", ""
	case in.Company != nil:
		name, err := cleanText("company", "The company name", *in.Company, maxRecordTitle)
		if err != nil {
			return err
		}
		id, err := findOrCreateCompany(ctx, tx, name)
		if err != nil {
			return err
		}
		c.CompanyID, c.Company = id, name
	}
	return nil
}

func findOrCreateCompany(ctx context.Context, tx *sqlx.Tx, name string) (string, error) {
	var id string
	err := tx.GetContext(ctx, &id, `SELECT id FROM companies WHERE name = ? COLLATE NOCASE ORDER BY seq LIMIT 1`, name)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	now := time.Now().UTC()
	id = newID()
	_, err = tx.ExecContext(ctx, `INSERT INTO companies (id, name, name_key, created_at, updated_at) VALUES (?1, ?2, company_name_key(?2), ?3, ?4)`, id, name, now, now)
	return id, err
}

// contactChanges lists the fields that differ between two versions.
func contactChanges(before, after *Contact) map[string]Change {
	ch := map[string]Change{}
	diff(ch, "first_name", before.FirstName, after.FirstName)
	diff(ch, "last_name", before.LastName, after.LastName)
	diff(ch, "email", before.Email, after.Email)
	diff(ch, "phone", before.Phone, after.Phone)
	diff(ch, "title", before.Title, after.Title)
	diff(ch, "company", before.Company, after.Company)
	diff(ch, "owner_id", before.OwnerID, after.OwnerID)
	diff(ch, "stage", before.Stage, after.Stage)
	diff(ch, "tags", strings.Join(before.Tags, ", "), strings.Join(after.Tags, ", "))
	b1, _ := json.Marshal(before.Custom)
	b2, _ := json.Marshal(after.Custom)
	if string(b1) != string(b2) && !(len(before.Custom) == 0 && len(after.Custom) == 0) {
		ch["custom"] = Change{Before: before.Custom, After: after.Custom}
	}
	return ch
}

// logActivity adds an entry to a contact's or company's timeline.
func logActivity(ctx context.Context, tx *sqlx.Tx, k Kind, id, kind string, a Actor, changes map[string]Change) error {
	col, err := k.recordColumn()
	if err != nil {
		return err
	}
	detail, err := json.Marshal(changes)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO activities (`+col+`, kind, actor, detail, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, kind, a.String(), string(detail), time.Now().UTC())
	return err
}

// ContactIDByEmail finds the contact with this email, in any letter case.
func ContactIDByEmail(ctx context.Context, db *DB, email string) (string, error) {
	var id string
	err := getOne(ctx, db.R, &id, "contact", `SELECT id FROM contacts WHERE lower(email) = lower(?) AND email <> ''`, strings.TrimSpace(email))
	return id, err
}
