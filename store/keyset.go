package store

import (
	"context"
	"strconv"
	"strings"
)

// keyedRow is a list row that carries its sort key values (k0, k1…), so the
// last row of a page can become the next page's cursor.
type keyedRow interface {
	key(n int) cursor
}

// keysetPage is one page of a keyset-paginated list: the query without its
// WHERE, the filter's conditions, the order and where the page starts.
type keysetPage struct {
	selectSQL string // "SELECT … FROM …"; the sort key columns are added to it
	where     string
	args      []any
	sort      sortKey
	asc       bool
	cursor    string
	limit     int
}

// listKeyset runs a keyset-paginated query and returns the rows of one page
// and the cursor of the next ("" on the last page). Pages stay stable under
// inserts and cost the same deep in the list as on the first page.
func listKeyset[R keyedRow](ctx context.Context, db *DB, p keysetPage) ([]R, string, error) {
	where, args := p.where, p.args
	dir, cmp := "DESC", "<"
	if p.asc {
		dir, cmp = "ASC", ">"
	}
	n := len(p.sort.exprs)
	if p.cursor != "" {
		c, err := decodeCursor(p.cursor, n)
		if err != nil {
			return nil, "", err
		}
		where += " AND (" + strings.Join(p.sort.exprs, ", ") + ") " + cmp + " (" + placeholders(n) + ")"
		args = append(args, c...)
	}
	var order, keys []string
	for i, e := range p.sort.exprs {
		order = append(order, e+" "+dir)
		keys = append(keys, p.sort.values[i]+" AS k"+strconv.Itoa(i))
	}
	limit := clampLimit(p.limit)
	query := strings.Replace(p.selectSQL, "SELECT ", "SELECT "+strings.Join(keys, ", ")+", ", 1) +
		" WHERE " + where + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	var rows []R
	if err := db.R.SelectContext(ctx, &rows, query, append(args, limit+1)...); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].key(n).encode()
	}
	return rows, next, nil
}
