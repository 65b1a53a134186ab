package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jmoiron/sqlx"
)

// importBatchRows is how many rows of a large import one transaction
// writes. The workspace's other writers wait at most one batch (about a
// tenth of a second), instead of the whole import.
const importBatchRows = 5000

// undoTables are the tables an import adds rows to, in the order an undo
// deletes them: what refers to a row before the row.
var undoTables = [...]string{"activities", "audit_log", "contacts", "companies", "tags", "custom_fields"}

// setAsideTriggers are the triggers a batch drops while it loads, and
// replaces with one pass at its end: indexing each row for search and
// counting it one by one made a bulk load four times slower (see
// ARCHITECTURE.md). Each batch restores them before it commits, so the
// schema other connections see never lacks them.
const setAsideTriggers = `SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND
	(name LIKE 'contacts_fts_%' OR name LIKE 'companies_fts_%' OR name LIKE 'contacts_count_%' OR name LIKE 'companies_count_%')`

// importBatch is one transaction of a large import.
type importBatch struct {
	n        int // its number in the import, from 1
	rows     int // rows applied in it
	tx       *sqlx.Tx
	triggers []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	bypass *searchBypass
	marks  [len(undoTables)]int64 // each table's largest rowid when the batch began
}

// inBatches runs a large import as a series of transactions of
// importBatchRows rows each. Each committed batch leaves an undo log in
// import_undo; the last one drops it in the transaction that ends the
// import. Should a batch fail, the batches before it are undone
// (UndoImports), so that the import is kept whole or not at all, as if it
// were one transaction; after a crash, tenant undoes what the log holds.
func (im *contactImport) inBatches(load func() error) error {
	im.importID = NewToken()
	im.imaged = map[string]bool{}
	cols, err := contactImageColumns(im.ctx, im.db.W)
	if err != nil {
		return err
	}
	im.imageSQL = imageSQL(cols)
	// Random emails land all over the email index: 8 MB of page cache
	// holds it for 100,000 contacts (with 2 MB, such an import is 10%
	// slower). Not more: each cached page is its own allocation outside
	// the Go heap, and freeing 64 MB of them (an madvise per 64 KB region)
	// cost more than the re-reads it saved. Set for the whole import, not
	// per batch: shrinking the cache at each commit freed it each time.
	// The writer's connection is the pool's only one, which other writes
	// share between batches, with no harm from a larger cache.
	if _, err := im.db.W.ExecContext(im.ctx, `PRAGMA cache_size = -8192`); err != nil {
		return err
	}
	defer im.db.W.ExecContext(context.WithoutCancel(im.ctx), `PRAGMA cache_size = -2000`)
	err = im.beginBatch()
	if err == nil {
		err = load()
	}
	if err == nil {
		err = im.commitBatch(true)
	}
	if err == nil {
		return nil
	}
	if im.batch != nil {
		im.batch.tx.Rollback()
	}
	undoCtx := context.WithoutCancel(im.ctx)
	if uerr := UndoImports(undoCtx, im.db, im.importID); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// nextBatch commits the batch once it holds importBatchRows rows, and
// begins the next one.
func (im *contactImport) nextBatch() error {
	if im.batch == nil || im.batch.rows < importBatchRows {
		return nil
	}
	if err := im.commitBatch(false); err != nil {
		return err
	}
	return im.beginBatch()
}

func (im *contactImport) beginBatch() error {
	n := 1
	if im.batch != nil {
		n = im.batch.n + 1
	}
	tx, err := im.db.W.BeginTxx(im.ctx, nil)
	if err != nil {
		return err
	}
	b := &importBatch{n: n, tx: tx}
	im.batch, im.tx = b, tx
	for i, t := range undoTables {
		if b.marks[i], err = maxRowid(im.ctx, tx, t); err != nil {
			return err
		}
	}
	if err := tx.SelectContext(im.ctx, &b.triggers, setAsideTriggers); err != nil {
		return err
	}
	for _, t := range b.triggers {
		if _, err := tx.ExecContext(im.ctx, `DROP TRIGGER `+t.Name); err != nil {
			return err
		}
	}
	if b.bypass, err = newSearchBypass(im.ctx, tx); err != nil {
		return err
	}
	im.bypass = b.bypass
	return nil
}

// commitBatch writes the batch's rows still gathered, indexes its rows for
// search, counts them, restores the triggers and keeps its undo log, or,
// in the last batch, checks the quota, audits the import and drops the
// log.
func (im *contactImport) commitBatch(last bool) error {
	b, ctx, tx := im.batch, im.ctx, im.tx
	if err := im.flush(); err != nil {
		return err
	}
	if err := im.timeline(b.marks[2]); err != nil { // undoTables[2] is contacts
		return err
	}
	if err := b.bypass.finish(ctx, tx); err != nil {
		return err
	}
	for _, t := range [...]string{"contacts", "companies"} {
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET n = n + (SELECT count(*) FROM `+t+` WHERE seq > ?) WHERE name = ?`,
			b.bypass.last(t), t); err != nil {
			return err
		}
	}
	for _, t := range b.triggers {
		if _, err := tx.ExecContext(ctx, t.SQL); err != nil {
			return err
		}
	}
	if last {
		if err := im.finish(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_undo WHERE import_id = ?`, im.importID); err != nil {
			return err
		}
	} else if err := im.keepUndo(); err != nil {
		return err
	}
	im.contacts.release()
	im.links.release()
	if err := tx.Commit(); err != nil {
		return err
	}
	im.batch, im.tx, im.bypass = nil, nil, nil
	return nil
}

// keepUndo records the rows the batch added to each table.
func (im *contactImport) keepUndo() error {
	b := im.batch
	for i, t := range undoTables {
		last, err := maxRowid(im.ctx, im.tx, t)
		if err != nil {
			return err
		}
		if last == b.marks[i] {
			continue // the batch added none
		}
		if _, err := im.tx.ExecContext(im.ctx, `INSERT INTO import_undo (import_id, batch, tbl, from_rowid, to_rowid) VALUES (?, ?, ?, ?, ?)`,
			im.importID, b.n, t, b.marks[i], last); err != nil {
			return err
		}
	}
	return nil
}

// maxRowid is the largest rowid of table, 0 when empty, which SQLite reads
// from the b-tree's last entry. Asked with a HAVING (to insert an undo row
// only when the batch added some), it scanned the whole table instead: 2.9
// s of an import's CPU in a workspace of a million contacts.
func maxRowid(ctx context.Context, tx *sqlx.Tx, table string) (int64, error) {
	var n sql.NullInt64
	err := tx.GetContext(ctx, &n, `SELECT max(rowid) FROM `+table)
	return n.Int64, err
}

// keepImage records, before the first update of an existing contact in a
// batched import, the contact as it was and its tags.
func (im *contactImport) keepImage(id string) error {
	if im.batch == nil || im.imaged[id] {
		return nil
	}
	im.imaged[id] = true
	_, err := im.tx.ExecContext(im.ctx, im.imageSQL, im.importID, im.batch.n, id)
	return err
}

// imageSQL is the statement that keeps a contact's before-image: its
// columns (cols) and its tags' seqs as one JSON object.
func imageSQL(cols []string) string {
	pairs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		pairs = append(pairs, "'"+c+"', "+c)
	}
	// json(): a subquery's result loses its JSON subtype, and would nest as a string.
	pairs = append(pairs, `'~tags', json((SELECT json_group_array(tag_seq) FROM contact_tags WHERE contact_id = c.id))`)
	return `INSERT INTO import_undo (import_id, batch, contact_id, image)
		SELECT ?, ?, id, json_object(` + strings.Join(pairs, ", ") + `) FROM contacts c WHERE id = ?`
}

// contactImageColumns are the contacts' columns a before-image keeps: all
// but the row's identity.
func contactImageColumns(ctx context.Context, q sqlx.QueryerContext) ([]string, error) {
	var cols []string
	err := sqlx.SelectContext(ctx, q, &cols, `SELECT name FROM pragma_table_info('contacts') WHERE name NOT IN ('seq', 'id') ORDER BY cid`)
	return cols, err
}

// UndoImports takes back, batch by batch from the last, the committed
// batches of the import with importID ("" for every import the file holds
// a log of: after a crash, when none is running). Each batch is undone in
// a transaction of its own that also drops its log, so an undo cut short
// is taken up where it stopped.
func UndoImports(ctx context.Context, db *DB, importID string) error {
	for {
		done := false
		err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			var last struct {
				ImportID string `db:"import_id"`
				Batch    int    `db:"batch"`
			}
			err := tx.GetContext(ctx, &last, `SELECT import_id, batch FROM import_undo WHERE ?1 = '' OR import_id = ?1
				ORDER BY seq DESC LIMIT 1`, importID)
			if errors.Is(err, sql.ErrNoRows) {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			return undoBatch(ctx, tx, last.ImportID, last.Batch)
		})
		if err != nil || done {
			return err
		}
	}
}

// undoBatch puts back the contacts one batch updated, deletes the rows it
// added, and drops its log.
func undoBatch(ctx context.Context, tx *sqlx.Tx, importID string, batch int) error {
	var entries []struct {
		Table     sql.NullString `db:"tbl"`
		From      sql.NullInt64  `db:"from_rowid"`
		To        sql.NullInt64  `db:"to_rowid"`
		ContactID sql.NullString `db:"contact_id"`
		Image     sql.NullString `db:"image"`
	}
	if err := tx.SelectContext(ctx, &entries, `SELECT tbl, from_rowid, to_rowid, contact_id, image FROM import_undo
		WHERE import_id = ? AND batch = ? ORDER BY seq DESC`, importID, batch); err != nil {
		return err
	}
	cols, err := contactImageColumns(ctx, tx)
	if err != nil {
		return err
	}
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = c + ` = json_extract(?1, '$.` + c + `')`
	}
	restore := `UPDATE contacts SET ` + strings.Join(sets, ", ") + ` WHERE id = ?2`
	for _, e := range entries {
		if !e.ContactID.Valid {
			continue
		}
		for _, stmt := range []string{restore,
			`DELETE FROM contact_tags WHERE contact_id = ?2`,
			`INSERT INTO contact_tags (contact_id, tag_seq) SELECT ?2, value FROM json_each(?1, '$."~tags"') WHERE value IN (SELECT seq FROM tags)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt, e.Image.String, e.ContactID.String); err != nil {
				return err
			}
		}
	}
	for _, t := range undoTables {
		for _, e := range entries {
			if e.Table.String == t {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE rowid > ? AND rowid <= ?`, e.From.Int64, e.To.Int64); err != nil {
					return err
				}
			}
		}
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM import_undo WHERE import_id = ? AND batch = ?`, importID, batch)
	return err
}

// HasImportUndo reports whether the file holds the undo log of an import
// that did not end: one a crash cut short. Asked on the writer's
// connection, which opening a file has made already: on a reader's, every
// open made one more connection (its descriptors and parsed schema, ~200
// KB), 55 MB over 256 open files.
func HasImportUndo(ctx context.Context, db *DB) (bool, error) {
	var n int
	err := db.W.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM import_undo LIMIT 1)`)
	return n > 0, err
}
