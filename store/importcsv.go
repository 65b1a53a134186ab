package store

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ImportOptions steer a CSV import.
type ImportOptions struct {
	Mapping  []string       // field of each column, as SuggestMapping gives
	Update   bool           // a row whose email exists updates that contact; otherwise it is skipped
	Progress func(rows int) // called now and then with the rows read so far
	// Encoding is the file's, converted to UTF-8 (see DecodeCSV); with
	// none, a file that is not UTF-8 is refused whole.
	Encoding string
	// Owners are the workspace's members who can own a contact, by user id
	// and by email lower-cased, to their user id: an "owner" cell names one
	// of them, or its row is refused. The catalog knows the members, not
	// the workspace file, so the caller gives them (tenant.Service does).
	Owners map[string]string
	// ImportSuppressed imports rows that would add a contact whose address
	// is suppressed; by default (false) they are skipped, each with a note.
	// Rows of existing contacts are not concerned: the contact is there,
	// and stays suppressed.
	ImportSuppressed bool
	// InstanceSuppressed is the instance-wide suppression list, lower-cased
	// address to reason, which the catalog holds (tenant.Service gives it);
	// the workspace's own list is read from its file.
	InstanceSuppressed map[string]string
	// FileName is the uploaded file's name: each contact the import creates
	// has "Imported from <name>" on its timeline. "" writes nothing.
	FileName string
	// CheckCreated, when set, is asked before the import commits with the
	// number of contacts it creates; an error undoes the whole import (a
	// quota that concurrent writes made too small for it).
	CheckCreated func(created int) error
	// Go starts the goroutine that reads and checks rows while the
	// caller's writes them (go fn() if nil): tenant runs it on a
	// background thread, as it runs the import.
	Go func(fn func())
	// Pace, when set, is called by the writing goroutine after each chunk
	// of rows (contactBatch): the caller's chance to give way to other
	// work (tenant paces heavy work while requests are in flight).
	Pace func()
	// Unmapped says what becomes of the columns mapped to no field (""):
	// UnmappedIgnore leaves them out, as a mapping the user chose does;
	// UnmappedCreate makes a custom field of each, UnmappedSkip leaves
	// them out and lists them, UnmappedRefuse refuses the import naming
	// them, so that a script cannot lose data by accident.
	Unmapped string
}

// RowError is one refused row; Row counts from 1 for the first data row.
// Values are its cells as read (none when the CSV could not be parsed
// there), so the report can be fixed and imported again.
type RowError struct {
	Row     int      `json:"row"`
	Message string   `json:"message"`
	Values  []string `json:"values,omitempty"`
}

// ImportResult counts what an import did. Every data row read is counted
// once: Read = Created + Updated + Skipped + Failed. Skipped rows are
// duplicates left alone, or new addresses that are suppressed (Suppressed
// of them, each with a note in Notes); Failed ones are refused, and Errors
// says why (the first MaxImportErrors of each).
type ImportResult struct {
	Read    int        `json:"read"`
	Created int        `json:"created"`
	Updated int        `json:"updated"`
	Skipped int        `json:"skipped"`
	Failed  int        `json:"failed"`
	Errors  []RowError `json:"errors"`
	// Suppressed counts the skipped rows whose address is suppressed.
	Suppressed int        `json:"suppressed"`
	Notes      []RowError `json:"notes,omitempty"`
	// Migration is what the import made of the file's columns and owners.
	Migration
}

// progressEvery is how many rows an import reads between two progress
// reports (and checks of its context): often enough that a file of a few
// thousand rows shows it moving.
const progressEvery = 100

// MaxImportErrors bounds the errors kept in a report.
const MaxImportErrors = 10000

// contactImport is one import: in one transaction, or in batches (see
// inBatches).
type contactImport struct {
	ctx       context.Context
	db        *DB
	tx        *sqlx.Tx // the transaction writing now
	actor     Actor
	opt       ImportOptions
	custom    []CustomField
	columns   []importColumn    // where each CSV column goes
	emails    map[string]string // email, lower-cased by strings.ToLower → contact id: the file's, looked up or new
	companies map[string]string // name, lower-cased → company id
	tags      map[string]int64  // name, lower-cased → seq
	contacts  batchInsert       // new contacts not inserted yet
	links     batchInsert       // their tags, inserted after them
	bypass    *searchBypass     // set while the search triggers are dropped
	batch     *importBatch      // the batch writing now, in a large import
	importID  string            // a large import's key in import_undo
	imaged    map[string]bool   // contacts whose before-image is kept
	imageSQL  string            // the statement that keeps one (see imageSQL)
	res       *ImportResult
	now       time.Time

	// suppressed maps the SuppressionHash of each suppressed address, the
	// workspace's and the instance's, to why; nil when they are imported.
	suppressed map[string]string

	src importState // what a CRM's export needs (importcsv_plan.go)
}

// ImportContactsCSV imports contacts from CSV with a header row: all rows
// that pass go in, or none, and each refused row is reported with its
// number and why. A file of fewer than bulkThreshold rows is one
// transaction; a larger one commits in batches that the search index takes
// once each (see inBatches), and is undone whole should it fail.
func ImportContactsCSV(ctx context.Context, db *DB, a Actor, r io.Reader, opt ImportOptions) (*ImportResult, error) {
	var err error
	if opt.Encoding, err = ParseEncoding(opt.Encoding); err != nil {
		return nil, err
	}
	if r, err = DecodeCSV(r, opt.Encoding); err != nil {
		return nil, err
	}
	cr, err := NewCSVReader(r)
	if err != nil {
		return nil, err
	}
	header, err := ReadCSVHeader(cr)
	if err != nil {
		return nil, err
	}
	if opt.Encoding == EncodingUTF8Strict && slices.ContainsFunc(header, notUTF8) {
		return nil, errNotUTF8(1)
	}
	// The first rows are read before the mapping is checked: new custom
	// fields take their type from them.
	head, complete, err := readAhead(cr, bulkThreshold)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Errors: []RowError{}}
	im := &contactImport{ctx: ctx, db: db, actor: a, opt: opt, res: res, now: time.Now().UTC()}
	load := func() error {
		if err := im.prepare(header, head, complete); err != nil {
			return err
		}
		return im.rows(head, cr, complete)
	}
	if complete {
		// A small file: one transaction, the triggers index row by row.
		err = db.InTx(ctx, func(tx *sqlx.Tx) error {
			im.tx = tx
			since, err := maxRowid(ctx, tx, "contacts")
			if err != nil {
				return err
			}
			if err := load(); err != nil {
				return err
			}
			if err := im.timeline(since); err != nil {
				return err
			}
			return im.finish()
		})
	} else {
		err = im.inBatches(load)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// prepare checks the mapping (suggesting one if none was given) and loads
// what rows are checked against.
func (im *contactImport) prepare(header []string, head []csvRecord, complete bool) error {
	var err error
	if im.custom, err = customFields(im.ctx, im.tx, KindContact); err != nil {
		return err
	}
	if im.opt.Mapping == nil {
		im.opt.Mapping = SuggestMapping(header, im.custom)
	}
	if len(im.opt.Mapping) != len(header) {
		return Errorf(EInvalid, "The mapping has %d columns; the CSV has %d.", len(im.opt.Mapping), len(header))
	}
	if err := im.planColumns(header, head, complete); err != nil {
		return err
	}
	im.columns = make([]importColumn, len(im.opt.Mapping))
	for i, f := range im.opt.Mapping {
		key, custom := strings.CutPrefix(f, "custom.")
		switch {
		case f == "":
			im.columns[i].field = columnIgnored
		case custom:
			im.columns[i] = importColumn{field: columnCustom, custom: key}
		case slices.Contains(ImportFields, f):
			im.columns[i].field = slices.Index(ImportFields, f)
		default:
			return Errorf(EInvalid, "%q is not a contact field to import into.", f)
		}
	}
	im.emails = map[string]string{} // filled as rows name them (lookUpEmails)
	if im.companies, err = lowerMap[string](im.ctx, im.tx, `SELECT name, id FROM companies ORDER BY seq`); err != nil {
		return err
	}
	if im.tags, err = lowerMap[int64](im.ctx, im.tx, `SELECT name, seq FROM tags ORDER BY seq`); err != nil {
		return err
	}
	if !im.opt.ImportSuppressed {
		if im.suppressed, err = lowerMap[string](im.ctx, im.tx, `SELECT email_hash, reason FROM suppressions`); err != nil {
			return err
		}
		for email, reason := range im.opt.InstanceSuppressed {
			if h := SuppressionHash(email); im.suppressed[h] == "" {
				im.suppressed[h] = reason
			}
		}
	}
	im.contacts = newBatchInsert(`INSERT INTO contacts (id, first_name, last_name, email, phone, title, company_id, owner_id, stage, custom, created_at, updated_at) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?1)`, im.now)
	im.links = newBatchInsert(`INSERT OR IGNORE INTO contact_tags (contact_id, tag_seq) VALUES `, `(?, ?)`)
	return nil
}

// lowerMap maps the first column, lower-cased as rows are looked up, to the
// second; the first row of a key wins. SQLite's lower() folds only ASCII:
// with its keys, an existing "Ä@x.com" or tag "Übung" was not found, and
// inserting it again failed the whole import on a unique index.
func lowerMap[V any](ctx context.Context, tx *sqlx.Tx, query string) (map[string]V, error) {
	m := map[string]V{}
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v V
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		if _, ok := m[strings.ToLower(k)]; !ok {
			m[strings.ToLower(k)] = v
		}
	}
	return m, rows.Err()
}

// bulkThreshold is the row count from which an import indexes its rows for
// search once at the end instead of row by row.
const bulkThreshold = 2000

// rows imports the records read ahead, then the rest of the reader unless
// the read-ahead was the whole file. Reading, checking and preparing rows
// runs in a goroutine of its own, on the other core, while this one writes
// them: that took a quarter of the time of a bulk load's rows.
func (im *contactImport) rows(head []csvRecord, cr *csv.Reader, complete bool) error {
	ops := make(chan []rowOp, 4)
	stop := make(chan struct{})
	spawn := im.opt.Go
	if spawn == nil {
		spawn = func(fn func()) { go fn() }
	}
	spawn(func() {
		defer close(ops)
		defer func() {
			// A panic here would take the process down, not the request.
			if r := recover(); r != nil {
				select {
				case ops <- []rowOp{{err: fmt.Errorf("import: reading rows: %v\n%s", r, debug.Stack())}}:
				case <-stop:
				}
			}
		}()
		im.read(head, cr, complete, ops, stop)
	})
	err := im.write(ops)
	close(stop)
	for range ops { // wait for reading to end
	}
	return err
}

// read turns records into rowOps, sent in batches, until the end or stop.
func (im *contactImport) read(head []csvRecord, cr *csv.Reader, complete bool, out chan<- []rowOp, stop <-chan struct{}) {
	batch := make([]readRow, 0, contactBatch)
	send := func() bool {
		ops := make([]rowOp, 0, len(batch))
		err := im.lookUpEmails(batch)
		if err != nil {
			ops = append(ops, rowOp{row: batch[0].op.row, err: err})
		} else {
			for i := range batch {
				ops = append(ops, im.decide(&batch[i]))
			}
		}
		clear(batch) // let the rows go
		batch = batch[:0]
		select {
		case out <- ops:
			return err == nil
		case <-stop:
			return false
		}
	}
	for row := 1; ; row++ {
		var rec []string
		var line int
		var err error
		switch {
		case row <= len(head):
			rec, line, err = head[row-1].fields, head[row-1].line, head[row-1].err
		case complete:
			err = io.EOF
		default:
			if rec, err = cr.Read(); err == nil {
				line, _ = cr.FieldPos(0)
			}
		}
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			if len(batch) > 0 {
				send()
			}
			return
		case errors.As(err, &pe):
			batch = append(batch, readRow{op: rowOp{row: row, malformed: true, fail: fmt.Sprintf("The CSV is malformed here: %v.", pe.Err)}})
		case err != nil:
			batch = append(batch, readRow{op: rowOp{row: row, err: err}})
			send()
			return
		case im.opt.Encoding == EncodingUTF8Strict && slices.ContainsFunc(rec, notUTF8):
			// Refused whole: converting it, or not, is the caller's choice.
			batch = append(batch, readRow{op: rowOp{row: row, err: errNotUTF8(line)}})
			send()
			return
		default:
			batch = append(batch, im.readCells(row, rec))
		}
		if len(batch) == cap(batch) && !send() {
			return
		}
	}
}

// finish ends the import in its last transaction: the quota is checked
// against what it created, and the import audited.
func (im *contactImport) finish() error {
	res := im.res
	res.Migration = im.src.report()
	if im.opt.CheckCreated != nil {
		if err := im.opt.CheckCreated(res.Created); err != nil {
			return err
		}
	}
	return audit(im.ctx, im.tx, im.actor, "contact.import", KindContact, "", map[string]Change{
		"created": {After: res.Created}, "updated": {After: res.Updated}, "skipped": {After: res.Skipped}, "failed": {After: res.Failed},
	})
}

func (im *contactImport) fail(op *rowOp, msg string) {
	im.res.Failed++
	if len(im.res.Errors) < MaxImportErrors {
		im.res.Errors = append(im.res.Errors, RowError{Row: op.row, Message: msg, Values: op.values})
	}
}

// update applies a row to the contact with its email; with the search
// triggers dropped, the contact's search entry is redone at the end.
func (im *contactImport) update(id string, in ContactInput) error {
	if err := im.keepImage(id); err != nil {
		return err
	}
	if im.bypass != nil {
		if err := im.bypass.unindex(im.ctx, im.tx, id); err != nil {
			return err
		}
	}
	if _, err := updateContact(im.ctx, im.tx, Actor{Kind: "system", ID: "import"}, id, in); err != nil {
		return err
	}
	im.res.Updated++
	return nil
}

// write carries out the rows' ops in order.
func (im *contactImport) write(ops <-chan []rowOp) error {
	for batch := range ops {
		for i := range batch {
			if err := im.apply(&batch[i]); err != nil {
				return err
			}
		}
		if im.batch != nil {
			im.batch.rows += len(batch)
			if err := im.nextBatch(); err != nil {
				return err
			}
		}
		if im.opt.Pace != nil {
			im.opt.Pace()
		}
	}
	return im.flush()
}

func (im *contactImport) apply(op *rowOp) error {
	if op.err != nil {
		return op.err
	}
	im.res.Read++
	if op.malformed {
		im.fail(op, op.fail)
		return nil
	}
	if op.row%progressEvery == 0 {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		if im.opt.Progress != nil {
			im.opt.Progress(op.row)
		}
	}
	switch {
	case op.fail != "":
		im.fail(op, op.fail)
	case op.skip:
		im.res.Skipped++
		if op.note != "" {
			im.res.Suppressed++
			if len(im.res.Notes) < MaxImportErrors {
				im.res.Notes = append(im.res.Notes, RowError{Row: op.row, Message: op.note})
			}
		}
	case op.update != "":
		// The contact may be one of this import's, still in the batch.
		if err := im.flush(); err != nil {
			return err
		}
		if err := im.insertCompany(op); err != nil {
			return err
		}
		if err := im.update(op.update, op.in); err != nil {
			if ErrorCode(err) == EInternal {
				return err
			}
			im.fail(op, ErrorMessage(err))
		}
	default:
		return im.insert(op)
	}
	return nil
}

// insert adds a new contact to the batch to insert, after its company if
// new; its tags come from the cache.
func (im *contactImport) insert(op *rowOp) error {
	if err := im.insertCompany(op); err != nil {
		return err
	}
	full := im.contacts.add(op.contact...)
	for _, t := range op.tags {
		seq, err := im.tag(t)
		if err != nil {
			return err
		}
		full = im.links.add(op.contact[0], seq) || full
	}
	im.res.Created++
	if full {
		return im.flush()
	}
	return nil
}

// insertCompany inserts the new company a row names, if any. A row that
// then fails leaves it: later rows may name it too.
func (im *contactImport) insertCompany(op *rowOp) error {
	if op.company == nil {
		return nil
	}
	_, err := im.tx.ExecContext(im.ctx, `INSERT INTO companies (id, name, name_key, created_at, updated_at) VALUES (?1, ?2, company_name_key(?2), ?3, ?3)`,
		op.company[0], op.company[1], im.now)
	return err
}

// flush inserts the contacts gathered so far, then their tags.
func (im *contactImport) flush() error {
	if err := im.contacts.flush(im.ctx, im.tx); err != nil {
		return err
	}
	return im.links.flush(im.ctx, im.tx)
}

// tag returns the seq of a tag, created if new.
func (im *contactImport) tag(name string) (int64, error) {
	if seq, ok := im.tags[strings.ToLower(name)]; ok {
		return seq, nil
	}
	res, err := im.tx.ExecContext(im.ctx, `INSERT INTO tags (name) VALUES (?)`, name)
	if err != nil {
		return 0, err
	}
	seq, err := res.LastInsertId()
	im.tags[strings.ToLower(name)] = seq
	return seq, err
}
