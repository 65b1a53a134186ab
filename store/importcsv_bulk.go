package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Loading many rows fast: multi-row INSERTs, and the search triggers
// and scattered indexes set aside during a large import.

// contactBatch is how many contacts (and tag links) one INSERT statement
// takes: a statement per row cost more in database/sql and the driver
// than in SQLite.
const contactBatch = 100

// batchInsert gathers rows for a multi-row INSERT.
type batchInsert struct {
	prefix string    // INSERT INTO t (a, b) VALUES
	row    string    // one row: "?" for each of its values, "?1"… for shared ones
	shared []any     // values the same in every row, bound once per statement
	width  int       // values per row
	full   *sql.Stmt // the statement for contactBatch rows, prepared on first use
	args   []any     // shared, then each row's values
}

func newBatchInsert(prefix, row string, shared ...any) batchInsert {
	b := batchInsert{prefix: prefix, row: row, shared: shared}
	for i := range row {
		if b.own(i) {
			b.width++
		}
	}
	return b
}

// own reports whether row[i] is the placeholder of a row's own value.
func (b *batchInsert) own(i int) bool {
	return b.row[i] == '?' && (i+1 == len(b.row) || b.row[i+1] < '0' || b.row[i+1] > '9')
}

// add appends one row's values and reports whether the batch is full.
func (b *batchInsert) add(values ...any) bool {
	if len(values) != b.width {
		panic(fmt.Sprintf("batchInsert: %d values for %d placeholders", len(values), b.width))
	}
	if len(b.args) == 0 {
		b.args = append(b.args, b.shared...)
	}
	b.args = append(b.args, values...)
	return b.rows() >= contactBatch
}

func (b *batchInsert) rows() int {
	return (len(b.args) - len(b.shared)) / b.width
}

// flush inserts the rows gathered so far.
func (b *batchInsert) flush(ctx context.Context, tx *sqlx.Tx) error {
	if len(b.args) == 0 {
		return nil
	}
	n := b.rows()
	var err error
	if n == contactBatch {
		if b.full == nil {
			if b.full, err = tx.PrepareContext(ctx, b.sql(n)); err != nil {
				return err
			}
		}
		_, err = b.full.ExecContext(ctx, b.args...)
	} else {
		_, err = tx.ExecContext(ctx, b.sql(n), b.args...)
	}
	clear(b.args) // let the values go
	b.args = b.args[:0]
	return err
}

// release closes the prepared statement, which is its transaction's: the
// next batch prepares its own.
func (b *batchInsert) release() {
	if b.full != nil {
		b.full.Close()
		b.full = nil
	}
}

// sql is the statement for n rows. The rows' own values follow the shared
// ones: the first is numbered, the others take the next numbers. Numbering
// them all would make binding quadratic: SQLite looks each numbered
// parameter's name up in a list of all of them.
func (b *batchInsert) sql(n int) string {
	var s strings.Builder
	s.WriteString(b.prefix)
	first := len(b.shared) > 0
	for r := range n {
		if r > 0 {
			s.WriteString(", ")
		}
		for i := range len(b.row) {
			s.WriteByte(b.row[i])
			if first && b.own(i) {
				s.WriteString(strconv.Itoa(len(b.shared) + 1))
				first = false
			}
		}
	}
	return s.String()
}

// searchBypass keeps the contacts' and companies' search indexes right
// while their triggers are dropped. Rows added are indexed at the end, not
// everything again (a 'rebuild' of a 500,000-contact workspace took most
// of a 100,000-row import's time). A contact updated is taken out of the
// index at the end too, with the values it was indexed with, and indexed
// again: FTS5 writes between the load's statements would each be flushed
// as a tiny segment.
type searchBypass struct {
	contacts, companies ftsContent
	unindexed           map[string]bool // contacts (by id) to take out of the index
	stale               [][]any         // their seqs and indexed values
}

// ftsContent is a content table with its external-content FTS5 index,
// whose columns are the table's columns of the same names.
type ftsContent struct {
	table string
	cols  []string
	last  int64 // the largest seq before the load; rows above it are not indexed
}

func newSearchBypass(ctx context.Context, tx *sqlx.Tx) (*searchBypass, error) {
	b := &searchBypass{contacts: ftsContent{table: "contacts"}, companies: ftsContent{table: "companies"}, unindexed: map[string]bool{}}
	for _, t := range []*ftsContent{&b.contacts, &b.companies} {
		if err := tx.SelectContext(ctx, &t.cols, `SELECT name FROM pragma_table_info(?)`, t.table+"_fts"); err != nil {
			return nil, err
		}
		if err := tx.GetContext(ctx, &t.last, `SELECT coalesce(max(seq), 0) FROM `+t.table); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// last is the largest seq of table ("contacts" or "companies") before the
// load: the rows above it are the load's.
func (b *searchBypass) last(table string) int64 {
	if table == "contacts" {
		return b.contacts.last
	}
	return b.companies.last
}

// unindex notes, before a contact's first update in the load, the values
// it is indexed with; contacts the load added are not in the index yet.
func (b *searchBypass) unindex(ctx context.Context, tx *sqlx.Tx, id string) error {
	if b.unindexed[id] {
		return nil
	}
	b.unindexed[id] = true
	rows, err := tx.QueryxContext(ctx, `SELECT seq, `+strings.Join(b.contacts.cols, ", ")+` FROM contacts WHERE id = ? AND seq <= ?`, id, b.contacts.last)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		values, err := rows.SliceScan()
		if err != nil {
			return err
		}
		b.stale = append(b.stale, values)
	}
	return rows.Err()
}

// finish takes the updated contacts out of the index, then indexes them
// and the rows added.
func (b *searchBypass) finish(ctx context.Context, tx *sqlx.Tx) error {
	c := &b.contacts
	list := strings.Join(c.cols, ", ")
	deletes := newBatchInsert(`INSERT INTO contacts_fts (contacts_fts, rowid, `+list+`) VALUES `,
		`('delete', ?`+strings.Repeat(", ?", len(c.cols))+`)`)
	seqs := make([]any, 0, len(b.stale))
	for _, values := range b.stale {
		seqs = append(seqs, values[0])
		if deletes.add(values...) {
			if err := deletes.flush(ctx, tx); err != nil {
				return err
			}
		}
	}
	if err := deletes.flush(ctx, tx); err != nil {
		return err
	}
	if len(seqs) > 0 {
		reindex, _ := json.Marshal(seqs)
		if _, err := tx.ExecContext(ctx, `INSERT INTO contacts_fts (rowid, `+list+`) SELECT seq, `+list+
			` FROM contacts WHERE seq IN (SELECT value FROM json_each(?))`, string(reindex)); err != nil {
			return err
		}
	}
	for _, t := range []*ftsContent{c, &b.companies} {
		var err error
		if t.last == 0 {
			// The table was empty: 'rebuild' indexes the same rows, and as
			// a one-row INSERT it needs no statement journal, which an
			// INSERT ... SELECT fills with a copy of each page it changes.
			_, err = tx.ExecContext(ctx, `INSERT INTO `+t.table+`_fts (`+t.table+`_fts) VALUES ('rebuild')`)
		} else {
			list := strings.Join(t.cols, ", ")
			_, err = tx.ExecContext(ctx, `INSERT INTO `+t.table+`_fts (rowid, `+list+`) SELECT seq, `+list+
				` FROM `+t.table+` WHERE seq > ?`, t.last)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
