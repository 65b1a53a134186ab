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

// CompanySizes are the head-count ranges a company's size may take ("" for
// unknown), smallest first.
var CompanySizes = []string{"1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+"}

// Company is an organisation in a workspace; contacts may work at one.
type Company struct {
	Seq       int64     `db:"seq" json:"-"`
	ID        string    `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	Domain    string    `db:"domain" json:"domain"`
	Industry  string    `db:"industry" json:"industry"`
	Size      string    `db:"size" json:"size"`
	OwnerID   string    `db:"owner_id" json:"owner_id"`
	Custom    Custom    `db:"custom" json:"custom"`
	Tags      []string  `db:"-" json:"tags"`
	Version   int64     `db:"version" json:"version"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// CompanyInput is a create or a partial update: nil fields are left alone.
// An update with an expected version is refused if the company is at another.
type CompanyInput struct {
	Expect
	Name     *string        `json:"name"`
	Domain   *string        `json:"domain"`
	Industry *string        `json:"industry"`
	Size     *string        `json:"size"`
	OwnerID  *string        `json:"owner_id"`
	Tags     *[]string      `json:"tags"`
	Custom   map[string]any `json:"custom"`
	// CheckDuplicate refuses a new company whose name matches an existing
	// one's in all but case, spacing and legal form, unless ConfirmDuplicate
	// is that company's id (the form's "Create anyway"). The API leaves it off.
	CheckDuplicate   bool   `json:"-"`
	ConfirmDuplicate string `json:"-"`
}

const companySelect = `SELECT co.seq, co.id, co.name, co.domain, co.industry, co.size, co.owner_id, co.custom,
	co.version, co.created_at, co.updated_at FROM companies co`

// GetCompany returns one company with its tags.
func GetCompany(ctx context.Context, db *DB, id string) (*Company, error) {
	return getCompany(ctx, db.R, id)
}

// GetCompanyW reads a company through the writer, so it sees the write just made.
func GetCompanyW(ctx context.Context, db *DB, id string) (*Company, error) {
	return getCompany(ctx, db.W, id)
}

func getCompany(ctx context.Context, q sqlx.QueryerContext, id string) (*Company, error) {
	var c Company
	err := sqlx.GetContext(ctx, q, &c, companySelect+` WHERE co.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Errorf(ENotFound, "That company does not exist.")
	}
	if err != nil {
		return nil, err
	}
	tags, err := tagsOf(ctx, q, KindCompany, []string{id})
	if err != nil {
		return nil, err
	}
	c.Tags = nonNil(tags[id])
	return &c, nil
}

// CreateCompany validates and inserts a company, its tags, a timeline entry
// and an audit event, in one transaction.
func CreateCompany(ctx context.Context, db *DB, a Actor, in CompanyInput) (*Company, error) {
	now := time.Now().UTC()
	c := &Company{ID: newID(), Custom: Custom{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		return createCompany(ctx, tx, a, c, in)
	})
	if err != nil {
		return nil, err
	}
	return GetCompanyW(ctx, db, c.ID)
}

// createCompany applies in to c and inserts it in tx (an import creates
// companies too).
func createCompany(ctx context.Context, tx *sqlx.Tx, a Actor, c *Company, in CompanyInput) error {
	if err := applyCompanyInput(ctx, tx, c, in); err != nil {
		return err
	}
	if err := checkDuplicate(ctx, tx, c, in); err != nil {
		return err
	}
	_, err := tx.NamedExecContext(ctx, `INSERT INTO companies (id, name, name_key, domain, industry, size, owner_id, custom, created_at, updated_at)
		VALUES (:id, :name, company_name_key(:name), :domain, :industry, :size, :owner_id, :custom, :created_at, :updated_at)`, c)
	if err != nil {
		return err
	}
	if err := setTags(ctx, tx, KindCompany, c.ID, c.Tags); err != nil {
		return err
	}
	if err := logActivity(ctx, tx, KindCompany, c.ID, "created", a, nil); err != nil {
		return err
	}
	return audit(ctx, tx, a, "company.create", KindCompany, c.ID, companyChanges(&Company{}, c))
}

// UpdateCompany applies a partial update; the changed fields go to the
// timeline and the audit log.
func UpdateCompany(ctx context.Context, db *DB, a Actor, id string, in CompanyInput) (*Company, error) {
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		return updateCompany(ctx, tx, a, id, in)
	})
	if err != nil {
		return nil, err
	}
	return GetCompanyW(ctx, db, id)
}

// updateCompany applies in to a company in tx.
func updateCompany(ctx context.Context, tx *sqlx.Tx, a Actor, id string, in CompanyInput) error {
	before, err := getCompany(ctx, tx, id)
	if err != nil {
		return err
	}
	c := *before
	c.Tags = append([]string{}, before.Tags...)
	if err := applyCompanyInput(ctx, tx, &c, in); err != nil {
		return err
	}
	changes := companyChanges(before, &c)
	if len(changes) == 0 {
		return in.Check("company", before.Version)
	}
	c.UpdatedAt = time.Now().UTC()
	err = updateRow(ctx, tx, "companies", "company", id, in.Expect, `name = :name, name_key = company_name_key(:name), domain = :domain, industry = :industry,
		size = :size, owner_id = :owner_id, custom = :custom, updated_at = :updated_at`, &c)
	if err != nil {
		return err
	}
	if _, ok := changes["tags"]; ok {
		if err := setTags(ctx, tx, KindCompany, id, c.Tags); err != nil {
			return err
		}
	}
	if err := logActivity(ctx, tx, KindCompany, id, "changed", a, changes); err != nil {
		return err
	}
	return audit(ctx, tx, a, "company.update", KindCompany, id, changes)
}

// DeleteCompany removes a company with its notes, tasks and timeline. Its
// contacts stay, no longer linked to it (the foreign key sets NULL); each
// of their timelines says so.
func DeleteCompany(ctx context.Context, db *DB, a Actor, id string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		before, err := getCompany(ctx, tx, id)
		if err != nil {
			return err
		}
		detail, err := json.Marshal(map[string]Change{"company": {Before: before.Name, After: ""}})
		if err != nil {
			return err
		}
		// Written before the delete, while the contacts still point at it.
		if _, err := tx.ExecContext(ctx, `INSERT INTO activities (contact_id, kind, actor, detail, created_at)
			SELECT id, 'changed', ?, ?, ? FROM contacts WHERE company_id = ?`, a.String(), string(detail), time.Now().UTC(), id); err != nil {
			return err
		}
		// Its contacts and deals stay, without it (ON DELETE SET NULL):
		// a write of theirs.
		for _, table := range []string{"contacts", "deals"} {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET version = version + 1 WHERE company_id = ?`, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM companies WHERE id = ?`, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, "company.delete", KindCompany, id, companyChanges(before, &Company{}))
	})
}

// applyCompanyInput validates in and copies it onto c.
func applyCompanyInput(ctx context.Context, tx *sqlx.Tx, c *Company, in CompanyInput) error {
	var err error
	for _, f := range []struct {
		in         *string
		out        *string
		name, text string
		max        int
	}{
		{in.Name, &c.Name, "name", "The name", maxRecordTitle},
		{in.Industry, &c.Industry, "industry", "The industry", maxShortName},
		{in.OwnerID, &c.OwnerID, "owner_id", "The owner", maxMemberRef},
	} {
		if f.in != nil {
			if *f.out, err = cleanText(f.name, f.text, *f.in, f.max); err != nil {
				return err
			}
		}
	}
	if c.Name == "" {
		return FieldError("name", "A company needs a name.")
	}
	if in.Domain != nil {
		if c.Domain, err = cleanDomain(*in.Domain); err != nil {
			return err
		}
	}
	if in.Size != nil {
		if *in.Size != "" && !contains(CompanySizes, *in.Size) {
			return FieldError("size", "The size must be one of: %s.", strings.Join(CompanySizes, ", "))
		}
		c.Size = *in.Size
	}
	if in.Tags != nil {
		if c.Tags, err = cleanTags(*in.Tags); err != nil {
			return err
		}
	}
	if in.Custom != nil {
		defs, err := customFields(ctx, tx, KindCompany)
		if err != nil {
			return err
		}
		if c.Custom, err = applyCustom(defs, c.Custom, in.Custom); err != nil {
			return err
		}
	}
	return nil
}

// cleanDomain lower-cases a web domain and checks it is a hostname. A
// pasted URL is forgiven its scheme, path and "www.".
func cleanDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(s))
	for _, prefix := range []string{"https://", "http://", "www."} {
		d = strings.TrimPrefix(d, prefix)
	}
	if i := strings.IndexByte(d, '/'); i >= 0 {
		d = d[:i]
	}
	d = strings.TrimSuffix(d, ".")
	if d != "" && !isHostname(d) {
		return "", FieldError("domain", "%q is not a domain such as example.com; write international names in their xn-- form.", truncateText(s, 80))
	}
	return d, nil
}

// isHostname reports whether s is a DNS name of at least two labels, each
// of ASCII letters, digits and inner hyphens.
func isHostname(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// companyChanges lists the fields that differ between two versions.
func companyChanges(before, after *Company) map[string]Change {
	ch := map[string]Change{}
	diff(ch, "name", before.Name, after.Name)
	diff(ch, "domain", before.Domain, after.Domain)
	diff(ch, "industry", before.Industry, after.Industry)
	diff(ch, "size", before.Size, after.Size)
	diff(ch, "owner_id", before.OwnerID, after.OwnerID)
	diff(ch, "tags", strings.Join(before.Tags, ", "), strings.Join(after.Tags, ", "))
	customChange(ch, before.Custom, after.Custom)
	return ch
}

// customChange records a change of custom values; no values and an empty
// object are the same.
func customChange(ch map[string]Change, before, after Custom) {
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) && !(len(before) == 0 && len(after) == 0) {
		ch["custom"] = Change{Before: before, After: after}
	}
}

// CompanyFilter selects and orders companies; zero values mean any.
type CompanyFilter struct {
	Query  string // words, matched as prefixes by full-text search
	Tag    string // has this tag
	Sort   string // "created" (default) or "name"
	Asc    bool   // oldest or A first; newest or Z first otherwise
	Cursor string // from the previous page's next cursor
	Limit  int
}

var companySorts = map[string]sortKey{
	"created": {[]string{"co.seq"}, []string{"co.seq"}},
	"name":    {[]string{"co.name COLLATE NOCASE", "co.seq"}, []string{"co.name", "co.seq"}},
}

// companyRow is a company with the sort key values of its row.
type companyRow struct {
	Company
	sortValues
}

// where builds the filter's conditions, the cursor's excepted.
func (f CompanyFilter) where() clause {
	var w clause
	w.match("co.seq", "companies_fts", f.Query)
	if f.Tag != "" {
		w.and("co.id IN (SELECT l.company_id FROM company_tags l JOIN tags t ON t.seq = l.tag_seq WHERE t.name = ?)", f.Tag)
	}
	return w
}

// ListCompanies returns one page of companies and the cursor of the next
// page ("" on the last), keyset-paginated like contacts.
func ListCompanies(ctx context.Context, db *DB, f CompanyFilter) ([]Company, string, error) {
	if f.Sort == "" {
		f.Sort = "created"
	}
	sort, ok := companySorts[f.Sort]
	if !ok {
		return nil, "", Errorf(EInvalid, "Companies can be sorted by created or name.")
	}
	rows, next, err := listKeyset(ctx, db, keysetPage[companyRow]{
		selectSQL: companySelect, where: f.where(),
		sort: sort, asc: f.Asc, cursor: f.Cursor, limit: f.Limit,
		key: func(r companyRow) cursor { return r.cursor() },
	})
	if err != nil {
		return nil, "", err
	}
	list := make([]Company, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		list[i], ids[i] = r.Company, r.ID
	}
	tags, err := tagsOf(ctx, db.R, KindCompany, ids)
	if err != nil {
		return nil, "", err
	}
	for i := range list {
		list[i].Tags = nonNil(tags[list[i].ID])
	}
	return list, next, nil
}

// CountCompanies returns how many companies match the filter (its cursor
// and sort ignored).
func CountCompanies(ctx context.Context, db *DB, f CompanyFilter) (int, error) {
	where := f.where()
	var n int
	err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM companies co WHERE `+where.sql(), where.args...)
	return n, err
}
