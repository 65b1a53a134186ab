package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// ContactFilter selects and orders contacts; zero values mean any.
type ContactFilter struct {
	Query     string            // words, matched as prefixes by full-text search
	Tag       string            // has this tag
	Stage     string            // in this stage
	OwnerID   string            // owned by this member
	CompanyID string            // works at this company
	Custom    map[string]string // custom field key → value
	Sort      string            // "created" (default), "updated" or "name"
	Asc       bool              // oldest or A first; newest or Z first otherwise
	Cursor    string            // from the previous page's NextCursor
	Limit     int
}

// MaxCustomFilters bounds the custom-field filters of one list query: each
// is a condition of its own, and thousands of them overflow SQLite's
// expression depth.
const MaxCustomFilters = 20

// sortKey orders rows by key expressions (the last one unique), each also
// selected as k0, k1… so the next page's cursor can carry their values.
type sortKey struct {
	exprs  []string // ORDER BY and cursor comparison
	values []string // what is selected for the cursor
}

var contactSorts = map[string]sortKey{
	"created": {[]string{"c.seq"}, []string{"c.seq"}},
	"updated": {[]string{"c.updated_at", "c.seq"}, []string{"CAST(c.updated_at AS TEXT)", "c.seq"}},
	"name": {[]string{"c.last_name COLLATE NOCASE", "c.first_name COLLATE NOCASE", "c.seq"},
		[]string{"c.last_name", "c.first_name", "c.seq"}},
}

// contactRow is a contact with the sort key values of its row.
type contactRow struct {
	Contact
	K0 any `db:"k0"`
	K1 any `db:"k1"`
	K2 any `db:"k2"`
}

func (r contactRow) key(n int) cursor {
	return cursor{r.K0, r.K1, r.K2}[:n]
}

// where builds the filter's conditions, the cursor's excepted.
func (f ContactFilter) where() (string, []any, error) {
	conds, args := []string{"1=1"}, []any{}
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.Query != "" {
		if match := ftsQuery(f.Query); match == "" {
			add("0")
		} else {
			add("c.seq IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)", match)
		}
	}
	if f.Tag != "" {
		add("c.id IN (SELECT l.contact_id FROM contact_tags l JOIN tags t ON t.seq = l.tag_seq WHERE t.name = ?)", f.Tag)
	}
	if f.Stage != "" {
		add("c.stage = ?", f.Stage)
	}
	if f.OwnerID != "" {
		add("c.owner_id = ?", f.OwnerID)
	}
	if f.CompanyID != "" {
		add("c.company_id = ?", f.CompanyID)
	}
	if len(f.Custom) > MaxCustomFilters {
		return "", nil, Errorf(EInvalid, "A list can be filtered by at most %d custom fields at once.", MaxCustomFilters)
	}
	for k, v := range f.Custom {
		if !customKey.MatchString(k) {
			return "", nil, FieldError("custom."+k, "%s is not a custom field here.", k)
		}
		add("json_extract(c.custom, '$."+k+"') = ?", v)
	}
	return strings.Join(conds, " AND "), args, nil
}

// ListContacts returns one page of contacts and the cursor of the next page
// ("" on the last). Pages are keyset-paginated: stable under inserts, and
// as fast deep in the list as on the first page.
func ListContacts(ctx context.Context, db *DB, f ContactFilter) ([]Contact, string, error) {
	if f.Sort == "" {
		f.Sort = "created"
	}
	sort, ok := contactSorts[f.Sort]
	if !ok {
		return nil, "", Errorf(EInvalid, "Contacts can be sorted by created, updated or name.")
	}
	where, args, err := f.where()
	if err != nil {
		return nil, "", err
	}
	dir, cmp := "DESC", "<"
	if f.Asc {
		dir, cmp = "ASC", ">"
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, len(sort.exprs))
		if err != nil {
			return nil, "", err
		}
		where += " AND (" + strings.Join(sort.exprs, ", ") + ") " + cmp + " (" + placeholders(len(c)) + ")"
		args = append(args, c...)
	}
	var order, keys []string
	for i, e := range sort.exprs {
		order = append(order, e+" "+dir)
		keys = append(keys, sort.values[i]+" AS k"+strconv.Itoa(i))
	}
	limit := clampLimit(f.Limit)
	query := strings.Replace(contactSelect, "SELECT ", "SELECT "+strings.Join(keys, ", ")+", ", 1) +
		" WHERE " + where + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	var rows []contactRow
	if err := db.R.SelectContext(ctx, &rows, query, append(args, limit+1)...); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].key(len(sort.exprs)).encode()
	}
	list := make([]Contact, len(rows))
	for i, r := range rows {
		list[i] = r.Contact
	}
	if err := attachContactTags(ctx, db.R, list); err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// CountContacts returns how many contacts match the filter (its cursor and
// sort ignored). Without a filter it reads the trigger-kept counter.
func CountContacts(ctx context.Context, db *DB, f ContactFilter) (int, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	if len(args) == 0 && where == "1=1" {
		err = db.R.GetContext(ctx, &n, `SELECT n FROM counters WHERE name = 'contacts'`)
		return n, err
	}
	err = db.R.GetContext(ctx, &n, `SELECT count(*) FROM contacts c WHERE `+where, args...)
	return n, err
}

func attachContactTags(ctx context.Context, q sqlx.QueryerContext, list []Contact) error {
	ids := make([]string, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	tags, err := tagsOf(ctx, q, "contact", ids)
	if err != nil {
		return err
	}
	for i := range list {
		list[i].Tags = nonNil(tags[list[i].ID])
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
