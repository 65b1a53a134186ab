package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"atrium/outreach/mailmerge"
)

// Template is an outreach email of a workspace: a subject and a body
// (HTML or plain text) with merge fields. Version counts its saves.
type Template struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	Subject   string    `db:"subject" json:"subject"`
	Body      string    `db:"body" json:"body"`
	Version   int       `db:"version" json:"version"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// TemplateInput is a create or a partial update: nil fields are left
// alone. Version, when given, must be the template's current version: an
// edit of an older one is refused (someone saved in between).
type TemplateInput struct {
	Name    *string `json:"name"`
	Subject *string `json:"subject"`
	Body    *string `json:"body"`
	Version *int    `json:"version"`
}

const templateSelect = `SELECT seq, id, name, subject, body, version, created_at, updated_at FROM templates`

// GetTemplate returns one template.
func GetTemplate(ctx context.Context, db *DB, id string) (*Template, error) {
	return getTemplate(ctx, db.R, id)
}

func getTemplate(ctx context.Context, q sqlx.QueryerContext, id string) (*Template, error) {
	var t Template
	if err := getOne(ctx, q, &t, "template", templateSelect+` WHERE id = ?`, id); err != nil {
		return nil, err
	}
	return &t, nil
}

// TemplateFilter narrows the list of templates; the list is by name.
type TemplateFilter struct {
	Cursor string
	Limit  int
}

type templateRow struct {
	Template
	sortValues
}

// ListTemplates returns one page of templates by name and the cursor of
// the next page ("" on the last).
func ListTemplates(ctx context.Context, db *DB, f TemplateFilter) ([]Template, string, error) {
	rows, next, err := listKeyset(ctx, db, keysetPage[templateRow]{
		selectSQL: templateSelect, where: clause{},
		sort:   sortKey{[]string{"name COLLATE NOCASE", "seq"}, []string{"name", "seq"}},
		asc:    true,
		cursor: f.Cursor, limit: f.Limit,
		key: func(r templateRow) cursor { return r.cursor() },
	})
	if err != nil {
		return nil, "", err
	}
	list := make([]Template, len(rows))
	for i, r := range rows {
		list[i] = r.Template
	}
	return list, next, nil
}

// CountTemplates returns how many templates the workspace has.
func CountTemplates(ctx context.Context, db *DB) (int, error) {
	var n int
	err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM templates`)
	return n, err
}

// CreateTemplate checks and saves a new template, with its audit event,
// in one transaction. Name, subject and body are required; a merge field
// that is not a contact field of this workspace, or bad syntax, is a
// validation error on the subject or body naming the line and column.
func CreateTemplate(ctx context.Context, db *DB, a Actor, in TemplateInput) (*Template, error) {
	now := time.Now().UTC()
	t := &Template{ID: newID(), Version: 1, CreatedAt: now, UpdatedAt: now}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := applyTemplateInput(ctx, tx, t, in); err != nil {
			return err
		}
		_, err := tx.NamedExecContext(ctx, `INSERT INTO templates (id, name, subject, body, version, created_at, updated_at)
			VALUES (:id, :name, :subject, :body, :version, :created_at, :updated_at)`, t)
		if err != nil {
			return templateWriteError(err, t.Name)
		}
		return audit(ctx, tx, a, "template.create", KindTemplate, t.ID, templateChanges(&Template{}, t))
	})
	if err != nil {
		return nil, err
	}
	return getTemplate(ctx, db.W, t.ID)
}

// UpdateTemplate applies a partial update; a change that changes nothing
// is not saved (the version stays).
func UpdateTemplate(ctx context.Context, db *DB, a Actor, id string, in TemplateInput) (*Template, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		if in.Version != nil && *in.Version != before.Version {
			return Errorf(EConflict, "Someone saved this template after you opened it (it is at version %d, you edited version %d). "+
				"Copy your changes, open it again and make them there.", before.Version, *in.Version)
		}
		t := *before
		if err := applyTemplateInput(ctx, tx, &t, in); err != nil {
			return err
		}
		changes := templateChanges(before, &t)
		if len(changes) == 0 {
			return nil
		}
		t.Version, t.UpdatedAt = before.Version+1, time.Now().UTC()
		_, err = tx.NamedExecContext(ctx, `UPDATE templates SET name = :name, subject = :subject, body = :body,
			version = :version, updated_at = :updated_at WHERE id = :id`, &t)
		if err != nil {
			return templateWriteError(err, t.Name)
		}
		return audit(ctx, tx, a, "template.update", KindTemplate, id, changes)
	})
	if err != nil {
		return nil, err
	}
	return getTemplate(ctx, db.W, id)
}

// DeleteTemplate removes a template.
func DeleteTemplate(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM templates WHERE id = ?`, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "template.delete", KindTemplate, id, templateChanges(before, &Template{}))
	})
}

// applyTemplateInput checks in and copies it onto t. The subject and body
// are parsed against the fields known in this transaction, so a template
// cannot be saved naming a custom field deleted a moment before.
func applyTemplateInput(ctx context.Context, tx *sqlx.Tx, t *Template, in TemplateInput) error {
	if in.Name != nil {
		name, err := cleanText("name", "The name", *in.Name, maxShortName)
		if err != nil {
			return err
		}
		if name == "" {
			return FieldError("name", "A template needs a name.")
		}
		t.Name = name
	}
	if in.Subject != nil {
		t.Subject = strings.TrimSpace(*in.Subject)
	}
	if in.Body != nil {
		t.Body = *in.Body
	}
	switch {
	case t.Name == "":
		return FieldError("name", "A template needs a name.")
	case t.Subject == "":
		return FieldError("subject", "The subject is empty.")
	case strings.TrimSpace(t.Body) == "":
		return FieldError("body", "The body is empty.")
	}
	if in.Subject == nil && in.Body == nil {
		return nil // what was saved was checked then
	}
	known, err := knownMergeFields(ctx, tx)
	if err != nil {
		return err
	}
	_, err = mailmerge.Parse(t.Subject, t.Body, known)
	return templateError(err)
}

// knownMergeFields are the merge fields a template of this workspace may
// use: the fixed ones and the contact custom fields.
func knownMergeFields(ctx context.Context, q sqlx.QueryerContext) (mailmerge.Known, error) {
	defs, err := customFields(ctx, q, KindContact)
	if err != nil {
		return mailmerge.Known{}, err
	}
	k := mailmerge.Known{Custom: make([]string, len(defs))}
	for i, d := range defs {
		k.Custom[i] = d.Key
	}
	return k, nil
}

// templateError turns a template mistake into a validation error on the
// subject or the body; its message says where.
func templateError(err error) error {
	if pe, ok := err.(*mailmerge.Error); ok {
		return FieldError(pe.Part, "%s", pe.Error())
	}
	return err
}

// templateWriteError turns a second template of the same name into a
// conflict on the name.
func templateWriteError(err error, name string) error {
	if isUniqueViolation(err) {
		return &Error{Code: EConflict, Field: "name", Message: fmt.Sprintf("There is already a template named %q in this workspace.", name)}
	}
	return err
}

// templateChanges lists the fields that differ. A body can be 100 KB, so
// the audit log records its size, not its text.
func templateChanges(before, after *Template) map[string]Change {
	ch := map[string]Change{}
	diff(ch, "name", before.Name, after.Name)
	diff(ch, "subject", before.Subject, after.Subject)
	if before.Body != after.Body {
		ch["body"] = Change{Before: bodySize(before.Body), After: bodySize(after.Body)}
	}
	return ch
}

func bodySize(s string) string {
	if s == "" {
		return ""
	}
	return strconv.Itoa(utf8.RuneCountInString(s)) + " characters"
}

// RenderTemplate renders a template of this workspace for one of its
// contacts: what the contact would receive. Either id unknown here is
// not found. A custom field deleted since the template was saved renders
// empty (or as its fallback).
func RenderTemplate(ctx context.Context, db *DB, templateID, contactID string) (*mailmerge.Message, error) {
	return NewRenderer(db).Render(ctx, templateID, contactID)
}

// Renderer renders a workspace's templates for many contacts, reading and
// parsing each template, and the merge fields, once: the sender's pass
// renders one template for every contact it sends to.
type Renderer struct {
	db     *DB
	known  *mailmerge.Known
	parsed map[string]*mailmerge.Email
}

// NewRenderer returns a Renderer of the workspace in db.
func NewRenderer(db *DB) *Renderer { return &Renderer{db: db, parsed: map[string]*mailmerge.Email{}} }

// Render renders a template for a contact, as RenderTemplate does.
func (r *Renderer) Render(ctx context.Context, templateID, contactID string) (*mailmerge.Message, error) {
	e, err := r.template(ctx, templateID)
	if err != nil {
		return nil, err
	}
	c, err := getContact(ctx, r.db.R, contactID)
	if err != nil {
		return nil, err
	}
	if r.known == nil {
		known, err := knownMergeFields(ctx, r.db.R)
		if err != nil {
			return nil, err
		}
		r.known = &known
	}
	m := e.Render(MergeData(c, *r.known))
	return &m, nil
}

func (r *Renderer) template(ctx context.Context, id string) (*mailmerge.Email, error) {
	if e := r.parsed[id]; e != nil {
		return e, nil
	}
	t, err := getTemplate(ctx, r.db.R, id)
	if err != nil {
		return nil, err
	}
	e, err := mailmerge.Parse(t.Subject, t.Body, mailmerge.Known{AnyCustom: true})
	if err != nil {
		return nil, templateError(err)
	}
	r.parsed[id] = e
	return e, nil
}

// RenderDraft renders a subject and body not saved yet for a contact of
// this workspace, checking them as a save would: the preview of a form.
func RenderDraft(ctx context.Context, db *DB, subject, body, contactID string) (*mailmerge.Message, error) {
	known, err := knownMergeFields(ctx, db.R)
	if err != nil {
		return nil, err
	}
	e, err := mailmerge.Parse(strings.TrimSpace(subject), body, known)
	if err != nil {
		return nil, templateError(err)
	}
	c, err := getContact(ctx, db.R, contactID)
	if err != nil {
		return nil, err
	}
	m := e.Render(MergeData(c, known))
	return &m, nil
}

// MergeFields are the merge fields templates of this workspace may use:
// the fixed ones and the keys of the contact custom fields.
func MergeFields(ctx context.Context, db *DB) (mailmerge.Known, error) {
	return knownMergeFields(ctx, db.R)
}

// MergeData are a contact's values for the merge fields of a template:
// the custom values of the fields known (a deleted field's value stays in
// the record but is no longer shown, so not sent either), as they are
// shown (a number without trailing zeros).
func MergeData(c *Contact, known mailmerge.Known) mailmerge.Data {
	d := mailmerge.Data{FirstName: c.FirstName, LastName: c.LastName, Company: c.Company, Title: c.Title, Email: c.Email,
		Custom: make(map[string]string, len(known.Custom))}
	for _, k := range known.Custom {
		if v, ok := c.Custom[k]; ok && v != nil {
			d.Custom[k] = CustomText(v)
		}
	}
	return d
}
