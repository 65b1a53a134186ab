package store

import (
	"context"
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
	// Before reads the page that ends before Cursor (a page's Prev cursor);
	// with an empty Cursor, the last page.
	Before bool
	Limit  int
}

// MaxCustomFilters bounds the custom-field filters of one list query: each
// is a condition of its own, and thousands of them overflow SQLite's
// expression depth.
const MaxCustomFilters = 20

var contactSorts = map[string]sortKey{
	"created": {[]string{"c.seq"}, []string{"c.seq"}},
	"updated": {[]string{"c.updated_at", "c.seq"}, []string{"CAST(c.updated_at AS TEXT)", "c.seq"}},
	"name": {[]string{"c.last_name COLLATE NOCASE", "c.first_name COLLATE NOCASE", "c.seq"},
		[]string{"c.last_name", "c.first_name", "c.seq"}},
}

// fewMatches is how many matches of a list's query are sorted rather than
// found by walking the order's index.
const fewMatches = 5000

// contactRow is a contact with the sort key values of its row.
type contactRow struct {
	Contact
	sortValues
}

// where builds the filter's conditions, the cursor's and the query's
// excepted (see search).
func (f ContactFilter) where() (clause, error) {
	var w clause
	if f.Tag != "" {
		w.and("c.id IN (SELECT l.contact_id FROM contact_tags l JOIN tags t ON t.seq = l.tag_seq WHERE t.name = ?)", f.Tag)
	}
	w.eq("c.stage", f.Stage)
	w.eq("c.owner_id", f.OwnerID)
	w.eq("c.company_id", f.CompanyID)
	if len(f.Custom) > MaxCustomFilters {
		return clause{}, Errorf(EInvalid, "A list can be filtered by at most %d custom fields at once.", MaxCustomFilters)
	}
	for k, v := range f.Custom {
		if !customKey.MatchString(k) {
			return clause{}, FieldError("custom."+k, "%s is not a custom field here.", k)
		}
		w.and("json_extract(c.custom, '$."+k+"') = ?", v)
	}
	return w, nil
}

// ListContacts returns one page of contacts and the cursor of the next page
// ("" on the last). Pages are keyset-paginated: stable under inserts, and
// as fast deep in the list as on the first page.
func ListContacts(ctx context.Context, db *DB, f ContactFilter) ([]Contact, string, error) {
	list, c, err := ListContactsPage(ctx, db, f)
	return list, c.Next, err
}

// ListContactsPage returns one page of contacts, read forward from the
// filter's cursor or backward (f.Before), and the cursors of the pages
// beside it.
func ListContactsPage(ctx context.Context, db *DB, f ContactFilter) ([]Contact, Cursors, error) {
	if f.Sort == "" {
		f.Sort = "created"
	}
	sort, ok := contactSorts[f.Sort]
	if !ok {
		return nil, Cursors{}, Errorf(EInvalid, "Contacts can be sorted by created, updated or name.")
	}
	where, err := f.where()
	if err != nil {
		return nil, Cursors{}, err
	}
	sel := contactSelect
	if f.Query != "" {
		match := ftsQuery(f.Query)
		switch {
		case match == "":
			where.and("0")
		case f.Sort == "created":
			// The index drives the page: FTS5 walks its matches in rowid
			// (= seq) order and stops at the page's end, so a name on
			// 66,000 contacts costs what a rare one does. As an IN
			// (subquery) filter, every match was read and sorted first.
			sel += " JOIN contacts_fts f ON f.rowid = c.seq"
			where.and("contacts_fts MATCH ?", match)
			sort = sortKey{exprs: []string{"f.rowid"}, values: []string{"f.rowid"}}
		default:
			// In another order, a few matches are read from the index and
			// sorted; many are found walking the order's index, each row
			// checked against the matches (which reads all of them once).
			var n int
			if err := db.R.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM contacts_fts WHERE contacts_fts MATCH ? LIMIT ?)`,
				match, fewMatches+1); err != nil {
				return nil, Cursors{}, err
			}
			if n <= fewMatches {
				sel = strings.Replace(sel, "FROM contacts c", "FROM contacts_fts f CROSS JOIN contacts c ON c.seq = f.rowid", 1)
				where.and("contacts_fts MATCH ?", match)
			} else {
				where.and("c.seq IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)", match)
			}
		}
	}
	rows, cur, err := listKeysetPage(ctx, db, keysetPage[contactRow]{
		selectSQL: sel, where: where,
		sort: sort, asc: f.Asc, cursor: f.Cursor, before: f.Before, limit: f.Limit,
		key: func(r contactRow) cursor { return r.cursor() },
	})
	if err != nil {
		return nil, Cursors{}, err
	}
	list := make([]Contact, len(rows))
	for i, r := range rows {
		list[i] = r.Contact
	}
	if err := attachContactTags(ctx, db.R, list); err != nil {
		return nil, Cursors{}, err
	}
	return list, cur, nil
}

// CountContacts returns how many contacts match the filter (its cursor and
// sort ignored). Without a filter it reads the trigger-kept counter.
func CountContacts(ctx context.Context, db *DB, f ContactFilter) (int, error) {
	where, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	match := ftsQuery(f.Query)
	switch {
	case f.Query != "" && match == "":
		return 0, nil
	case match != "" && where.empty():
		// The index alone counts its matches, without reading a contact.
		err = db.R.GetContext(ctx, &n, `SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH ?`, match)
	case match != "":
		err = db.R.GetContext(ctx, &n, `SELECT count(*) FROM contacts_fts f JOIN contacts c ON c.seq = f.rowid
			WHERE contacts_fts MATCH ? AND `+where.sql(), append([]any{match}, where.args...)...)
	case where.empty():
		err = db.R.GetContext(ctx, &n, `SELECT n FROM counters WHERE name = 'contacts'`)
	default:
		err = db.R.GetContext(ctx, &n, `SELECT count(*) FROM contacts c WHERE `+where.sql(), where.args...)
	}
	return n, err
}

func attachContactTags(ctx context.Context, q sqlx.QueryerContext, list []Contact) error {
	ids := make([]string, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	tags, err := tagsOf(ctx, q, KindContact, ids)
	if err != nil {
		return err
	}
	for i := range list {
		list[i].Tags = nonNil(tags[list[i].ID])
	}
	return nil
}
