package store

import (
	"slices"
	"strings"
)

// clause is a WHERE clause being built: conditions joined with AND, and
// the arguments of their placeholders in order. The zero value matches
// every row.
type clause struct {
	conds []string
	args  []any
}

// and adds a condition and the arguments of its placeholders.
func (c *clause) and(cond string, args ...any) {
	c.conds = append(c.conds, cond)
	c.args = append(c.args, args...)
}

// eq adds col = v when v is set: in a filter, the zero value means any.
func (c *clause) eq(col, v string) {
	if v != "" {
		c.and(col+" = ?", v)
	}
}

// match adds, when q is set, that col is the rowid of an entry of the FTS
// table fts matching every word of q as a prefix. A q without words
// matches nothing; it never reaches FTS5 syntax (see ftsQuery).
func (c *clause) match(col, fts, q string) {
	if q == "" {
		return
	}
	if m := ftsQuery(q); m == "" {
		c.and("0")
	} else {
		c.and(col+" IN (SELECT rowid FROM "+fts+" WHERE "+fts+" MATCH ?)", m)
	}
}

// empty reports whether the clause has no condition.
func (c clause) empty() bool { return len(c.conds) == 0 }

// sql is the clause's text, for after WHERE: "1=1" when it has no
// condition.
func (c clause) sql() string {
	if c.empty() {
		return "1=1"
	}
	return strings.Join(c.conds, " AND ")
}

// clip returns c with its slices clipped, so that adding to the copy never
// writes into the arrays of the clause it came from.
func (c clause) clip() clause {
	return clause{conds: slices.Clip(c.conds), args: slices.Clip(c.args)}
}
