package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Every list of the workspace pages the one way written here: keyset
// pagination. A page is the rows after the cursor in a fixed order whose
// last key is unique, fetched with one row more than the limit to know
// whether a next page exists. Pages stay stable under inserts and cost the
// same deep in a list as on its first page (OFFSET would re-read every row
// before the page).

// DefaultLimit and MaxLimit bound list pages.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// sortKey orders rows by key expressions, the last one unique.
type sortKey struct {
	exprs []string // ORDER BY and cursor comparison
	// values are selected as k0, k1… so the next page's cursor can carry
	// the key as compared (a time as its stored text, a name without its
	// collation); nil when the row's own fields are its key.
	values []string
}

// bySeq orders by a seq column alone: newest first, the lists that offer
// no other order.
func bySeq(col string) sortKey { return sortKey{exprs: []string{col}} }

// keysetPage is one page of a list: the query without its WHERE, the
// filter's conditions, the order and where the page starts.
type keysetPage[R any] struct {
	selectSQL string // "SELECT … FROM …"; the sort key values are added to it
	where     clause // the filter's conditions, the cursor's excepted
	sort      sortKey
	asc       bool
	cursor    string // "" for the first page
	// before reads the page that ends just before cursor: the rows are read
	// in the reverse order from the cursor, then put back in the list's
	// order. With an empty cursor it is the list's last page.
	before bool
	limit  int
	key    func(R) cursor // a row's sort key values, in the order of sort.exprs
}

// listKeyset returns the rows of one page and the cursor of the next (""
// on the last page). A cursor that is not one of ours is an invalid
// request.
func listKeyset[R any](ctx context.Context, db *DB, p keysetPage[R]) ([]R, string, error) {
	rows, c, err := listKeysetPage(ctx, db, p)
	return rows, c.Next, err
}

// Cursors are where a page's neighbours start: Next reads forward from the
// page's last row, Prev backward from its first; "" when there is none.
type Cursors struct{ Next, Prev string }

// listKeysetPage returns the rows of one page, read forward from its cursor
// or backward (p.before), and the cursors of its neighbours.
func listKeysetPage[R any](ctx context.Context, db *DB, p keysetPage[R]) ([]R, Cursors, error) {
	n := len(p.sort.exprs)
	where := p.where.clip()
	dir, cmp := "DESC", "<"
	if p.asc != p.before { // backward, the order is read the other way
		dir, cmp = "ASC", ">"
	}
	if p.cursor != "" {
		c, err := decodeCursor(p.cursor, n)
		if err != nil {
			return nil, Cursors{}, err
		}
		where.and("("+strings.Join(p.sort.exprs, ", ")+") "+cmp+" ("+placeholders(n)+")", c...)
	}
	limit := clampLimit(p.limit)
	rows := []R{}
	if err := db.R.SelectContext(ctx, &rows, p.query(where, dir), append(where.args, limit+1)...); err != nil {
		return nil, Cursors{}, err
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if p.before {
		slices.Reverse(rows)
	}
	// The side the page was read towards has more rows when one more came;
	// the side it was read from has some when it started at a cursor.
	var c Cursors
	if len(rows) > 0 {
		head, tail := p.key(rows[0])[:n].encode(), p.key(rows[len(rows)-1])[:n].encode()
		switch {
		case p.before:
			c.Prev, c.Next = ifSet(more, head), ifSet(p.cursor != "", tail)
		default:
			c.Next, c.Prev = ifSet(more, tail), ifSet(p.cursor != "", head)
		}
	}
	return rows, c, nil
}

// query is the page's SELECT with its sort key values, WHERE, ORDER BY
// and a LIMIT placeholder.
func (p keysetPage[R]) query(where clause, dir string) string {
	var order, keys []string
	for i, e := range p.sort.exprs {
		order = append(order, e+" "+dir)
		if p.sort.values != nil {
			keys = append(keys, p.sort.values[i]+" AS k"+strconv.Itoa(i))
		}
	}
	sel := p.selectSQL
	if len(keys) > 0 {
		sel = strings.Replace(sel, "SELECT ", "SELECT "+strings.Join(keys, ", ")+", ", 1)
	}
	return sel + " WHERE " + where.sql() + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
}

// sortValues are the k0, k1, k2 columns a sortKey with values selects,
// for row types to embed.
type sortValues struct {
	K0 any `db:"k0"`
	K1 any `db:"k1"`
	K2 any `db:"k2"`
}

func (v sortValues) cursor() cursor { return cursor{v.K0, v.K1, v.K2} }

// cursor is the position after the last row of a page: its sort key
// values, the last one unique. It travels as opaque URL-safe text.
type cursor []any

func (c cursor) encode() string {
	b, _ := json.Marshal([]any(c))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of n sort key values. The text comes from the
// client, so a well-formed cursor of the wrong shape (an array or object
// where a key value goes) is refused here: the driver cannot bind one.
func decodeCursor(s string, n int) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || len(c) != n || !c.scalars() {
		return nil, Errorf(EInvalid, "The cursor is not valid; start again from the first page.")
	}
	return c, nil
}

// scalars reports whether every value is one a sort key can hold: text, a
// number or NULL.
func (c cursor) scalars() bool {
	for _, v := range c {
		switch v.(type) {
		case string, float64, nil:
		default:
			return false
		}
	}
	return true
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ifSet is s when ok, else "".
func ifSet(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}
