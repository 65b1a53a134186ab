package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"
)

// ImportFields are the contact fields a CSV column can map to, besides
// "custom.<key>" for custom fields; "" means the column is ignored.
var ImportFields = []string{"first_name", "last_name", "name", "email", "phone", "title", "company", "stage", "tags"}

// Indexes into ImportFields, and into a row's values.
const (
	fieldFirstName = iota
	fieldLastName
	fieldName
	fieldEmail
	fieldPhone
	fieldTitle
	fieldCompany
	fieldStage
	fieldTags
	fieldCount
)

// Where a column goes when it is no contact field.
const (
	columnIgnored = -1
	columnCustom  = -2
)

// importAliases maps normalised header words to fields, for suggestions.
var importAliases = map[string]string{
	"firstname": "first_name", "first": "first_name", "givenname": "first_name", "forename": "first_name", "vorname": "first_name", "prenom": "first_name",
	"lastname": "last_name", "last": "last_name", "surname": "last_name", "familyname": "last_name", "nachname": "last_name", "nom": "last_name",
	"name": "name", "fullname": "name", "contact": "name", "contactname": "name",
	"email": "email", "emailaddress": "email", "mail": "email", "e-mail": "email", "emailadresse": "email",
	"phone": "phone", "phonenumber": "phone", "telephone": "phone", "tel": "phone", "mobile": "phone", "telefon": "phone",
	"title": "title", "jobtitle": "title", "position": "title", "role": "title",
	"company": "company", "companyname": "company", "organization": "company", "organisation": "company", "account": "company", "firma": "company",
	"stage": "stage", "lifecyclestage": "stage", "status": "stage",
	"tags": "tags", "tag": "tags", "labels": "tags",
}

func normaliseHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SuggestMapping proposes a field for each header: known names and their
// usual variants, and custom fields by key or label. Each field is
// suggested once, for its first column.
func SuggestMapping(header []string, custom []CustomField) []string {
	out := make([]string, len(header))
	used := map[string]bool{}
	for i, h := range header {
		n := normaliseHeader(h)
		field := importAliases[n]
		for _, f := range custom {
			if n == normaliseHeader(f.Key) || n == normaliseHeader(f.Label) {
				field = "custom." + f.Key
			}
		}
		if field != "" && !used[field] {
			out[i], used[field] = field, true
		}
	}
	return out
}

// Limits on a CSV's header row, checked before an import is set up: the
// mapping step shows a row per column, so an unbounded header (a 1 MB file
// of 500,000 columns) made an unbounded page.
const (
	MaxCSVColumns     = 200      // columns in the header
	MaxCSVHeaderBytes = 64 << 10 // the header line
	MaxCSVColumnName  = 256      // bytes of one column name
)

// NewCSVReader reads CSV as people export it: UTF-8 with or without a BOM,
// separated by "," or ";" (whichever the header line has more of), with
// quoted fields that may hold newlines. A header line longer than
// MaxCSVHeaderBytes is refused before it is parsed.
func NewCSVReader(r io.Reader) (*csv.Reader, error) {
	// Room for the longest header line allowed and its "\r\n".
	br := bufio.NewReaderSize(r, MaxCSVHeaderBytes+2)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	}
	if len(bytes.TrimSuffix(line, []byte{'\r'})) > MaxCSVHeaderBytes {
		return nil, errHeaderTooLong()
	}
	cr := csv.NewReader(br)
	if bytes.Count(line, []byte{';'}) > bytes.Count(line, []byte{','}) {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1 // short rows are reported per row, not fatal
	cr.ReuseRecord = true
	return cr, nil
}

// ReadCSVHeader reads the header row of cr and checks it against the
// limits above, so an import refuses a header nobody could map before any
// job or transaction exists.
func ReadCSVHeader(cr *csv.Reader) ([]string, error) {
	header, err := cr.Read()
	if err != nil || len(header) == 0 {
		return nil, Errorf(EInvalid, "The file has no header row; the first line must name the columns.")
	}
	// A quoted name may hold newlines, so the line check of NewCSVReader
	// alone does not bound the row.
	if cr.InputOffset() > MaxCSVHeaderBytes+2 {
		return nil, errHeaderTooLong()
	}
	if len(header) > MaxCSVColumns {
		return nil, Errorf(EInvalid, "The file has %d columns; an import takes at most %d columns.", len(header), MaxCSVColumns)
	}
	for i, name := range header {
		if len(name) > MaxCSVColumnName {
			return nil, Errorf(EInvalid, "The name of column %d is longer than %d bytes; shorten it.", i+1, MaxCSVColumnName)
		}
	}
	return append([]string(nil), header...), nil
}

func errHeaderTooLong() error {
	return Errorf(EInvalid, "The header line is longer than %d KiB; an import takes at most %d columns.", MaxCSVHeaderBytes>>10, MaxCSVColumns)
}

// ImportOptions steer a CSV import.
type ImportOptions struct {
	Mapping  []string       // field of each column, as SuggestMapping gives
	Update   bool           // a row whose email exists updates that contact; otherwise it is skipped
	Progress func(rows int) // called now and then with the rows read so far
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
// duplicates left alone; Failed ones are refused, and Errors says why (the
// first MaxImportErrors of them).
type ImportResult struct {
	Read    int        `json:"read"`
	Created int        `json:"created"`
	Updated int        `json:"updated"`
	Skipped int        `json:"skipped"`
	Failed  int        `json:"failed"`
	Errors  []RowError `json:"errors"`
}

// progressEvery is how many rows an import reads between two progress
// reports (and checks of its context): often enough that a file of a few
// thousand rows shows it moving.
const progressEvery = 100

// MaxImportErrors bounds the errors kept in a report.
const MaxImportErrors = 10000

// contactImport is one import running in one transaction.
type contactImport struct {
	ctx       context.Context
	tx        *sqlx.Tx
	opt       ImportOptions
	custom    []CustomField
	columns   []importColumn    // where each CSV column goes
	emails    map[string]string // email, lower-cased by strings.ToLower → contact id
	companies map[string]string // name, lower-cased → company id
	tags      map[string]int64  // name, lower-cased → seq
	contacts  batchInsert       // new contacts not inserted yet
	links     batchInsert       // their tags, inserted after them
	bypass    *searchBypass     // set while the search triggers are dropped
	res       *ImportResult
	now       time.Time
}

// importColumn is where a CSV column goes: a contact field (an index into
// ImportFields), a custom field, or columnIgnored.
type importColumn struct {
	field  int
	custom string // the custom field's key, when field is columnCustom
}

// ImportContactsCSV imports contacts from CSV with a header row, in one
// transaction: all rows that pass go in together, each refused row is
// reported with its number and why. From bulkThreshold rows, the search
// index takes the new rows once at the end instead of row by row.
func ImportContactsCSV(ctx context.Context, db *DB, a Actor, r io.Reader, opt ImportOptions) (*ImportResult, error) {
	cr, err := NewCSVReader(r)
	if err != nil {
		return nil, err
	}
	header, err := ReadCSVHeader(cr)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Errors: []RowError{}}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		im := &contactImport{ctx: ctx, tx: tx, opt: opt, res: res, now: time.Now().UTC()}
		if err := im.prepare(header); err != nil {
			return err
		}
		// Random emails land all over the email index: 8 MB of page cache
		// holds it for 100,000 contacts (with 2 MB, such an import is 10%
		// slower). Not more: each cached page is its own allocation outside
		// the Go heap, and freeing 64 MB of them at commit (an madvise per
		// 64 KB region) cost more than the re-reads it saved.
		if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -8192`); err != nil {
			return err
		}
		defer tx.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = -2000`)
		head, complete, err := readAhead(cr, bulkThreshold)
		if err != nil {
			return err
		}
		load := func() error {
			if err := im.rows(head, cr, complete); err != nil {
				return err
			}
			return audit(ctx, tx, a, "contact.import", KindContact, "", map[string]Change{
				"created": {After: res.Created}, "updated": {After: res.Updated}, "skipped": {After: res.Skipped}, "failed": {After: res.Failed},
			})
		}
		if complete {
			return load() // a small file: the triggers index row by row
		}
		return withoutSearchTriggers(ctx, tx, func(b *searchBypass) error {
			im.bypass = b
			return load()
		})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// prepare checks the mapping (suggesting one if none was given) and loads
// what rows are checked against.
func (im *contactImport) prepare(header []string) error {
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
	if im.emails, err = lowerMap[string](im.ctx, im.tx, `SELECT email, id FROM contacts WHERE email <> '' ORDER BY seq`); err != nil {
		return err
	}
	if im.companies, err = lowerMap[string](im.ctx, im.tx, `SELECT name, id FROM companies ORDER BY seq`); err != nil {
		return err
	}
	if im.tags, err = lowerMap[int64](im.ctx, im.tx, `SELECT name, seq FROM tags ORDER BY seq`); err != nil {
		return err
	}
	im.contacts = newBatchInsert(`INSERT INTO contacts (id, first_name, last_name, email, phone, title, company_id, stage, custom, created_at, updated_at) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?1, ?1)`, im.now)
	im.links = newBatchInsert(`INSERT OR IGNORE INTO contact_tags (contact_id, tag_seq) VALUES `, `(?, ?)`)
	return nil
}

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

// readAhead reads up to n records (copies: the reader reuses its slice)
// and reports whether that was the whole file.
func readAhead(cr *csv.Reader, n int) ([]csvRecord, bool, error) {
	var head []csvRecord
	for len(head) < n {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return head, true, nil
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return nil, false, err
		}
		head = append(head, csvRecord{fields: append([]string(nil), rec...), err: err})
	}
	return head, false, nil
}

// csvRecord is a record read ahead, or the parse error in its place.
type csvRecord struct {
	fields []string
	err    error
}

// rows imports the records read ahead, then the rest of the reader unless
// the read-ahead was the whole file. Reading, checking and preparing rows
// runs in a goroutine of its own, on the other core, while this one writes
// them: that took a quarter of the time of a bulk load's rows.
func (im *contactImport) rows(head []csvRecord, cr *csv.Reader, complete bool) error {
	ops := make(chan []rowOp, 4)
	stop := make(chan struct{})
	go func() {
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
	}()
	err := im.write(ops)
	close(stop)
	for range ops { // wait for reading to end
	}
	return err
}

// rowOp is what reading decided about a row, for writing to carry out in
// row order. Reading owns the email and company caches, writing the
// transaction, the tag cache and the result.
type rowOp struct {
	row       int
	values    []string     // the row's cells as read, kept for the error report
	malformed bool         // the CSV could not be parsed here
	fail      string       // the row is refused with this message
	skip      bool         // its email exists, and rows do not update
	update    string       // the id of the contact that in updates
	in        ContactInput // the update
	company   []any        // a new company to insert first: id, name
	contact   []any        // a new contact's values, as im.contacts takes them
	tags      []string     // its tags
	err       error        // reading failed: the import stops
}

// read turns records into rowOps, sent in batches, until the end or stop.
func (im *contactImport) read(head []csvRecord, cr *csv.Reader, complete bool, out chan<- []rowOp, stop <-chan struct{}) {
	batch := make([]rowOp, 0, contactBatch)
	send := func() bool {
		select {
		case out <- batch:
			batch = make([]rowOp, 0, contactBatch)
			return true
		case <-stop:
			return false
		}
	}
	for row := 1; ; row++ {
		var rec []string
		var err error
		switch {
		case row <= len(head):
			rec, err = head[row-1].fields, head[row-1].err
		case complete:
			err = io.EOF
		default:
			rec, err = cr.Read()
		}
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			if len(batch) > 0 {
				send()
			}
			return
		case errors.As(err, &pe):
			batch = append(batch, rowOp{row: row, malformed: true, fail: fmt.Sprintf("The CSV is malformed here: %v.", pe.Err)})
		case err != nil:
			batch = append(batch, rowOp{row: row, err: err})
			send()
			return
		default:
			batch = append(batch, im.decide(row, rec))
		}
		if len(batch) == cap(batch) && !send() {
			return
		}
	}
}

// undefuse takes back the quote CSVSafe puts before a cell that a
// spreadsheet would read as a formula, so that an export imports as it
// was ('+33 1 …' is the phone +33 1 …). The value is stored as text and
// defused again by every export.
func undefuse(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(cell[1])) {
		return cell[1:]
	}
	return cell
}

// decide reads one record: a new contact, an update of the one with its
// email, a skip, or a refusal. A refused row, or one that updates (and may
// yet be refused), keeps a copy of its cells for the error report.
func (im *contactImport) decide(row int, rec []string) rowOp {
	op := im.decideCells(row, rec)
	if op.fail != "" || op.update != "" {
		op.values = slices.Clone(rec)
	}
	return op
}

func (im *contactImport) decideCells(row int, rec []string) rowOp {
	var values [fieldCount]string
	var custom map[string]any
	for i, col := range im.columns[:min(len(rec), len(im.columns))] {
		cell := undefuse(rec[i])
		switch col.field {
		case columnIgnored:
		case columnCustom:
			if v := strings.TrimSpace(cell); v != "" {
				if custom == nil {
					custom = map[string]any{}
				}
				custom[col.custom] = v
			}
		default:
			values[col.field] = cell
		}
	}
	in := importInput(&values, custom)
	email := strings.ToLower(strings.TrimSpace(values[fieldEmail]))
	if id, ok := im.emails[email]; ok && email != "" {
		if !im.opt.Update {
			return rowOp{row: row, skip: true}
		}
		op := rowOp{row: row, update: id, in: in}
		if in.Company != nil {
			// Through the cache like a new row's, so that a later row naming
			// the same new company does not make a second one.
			cid, create, err := im.companyFor(*in.Company)
			if err != nil {
				return rowOp{row: row, fail: ErrorMessage(err)}
			}
			op.company, op.in.Company, op.in.CompanyID = create, nil, &cid
		}
		return op
	}
	op, err := im.create(in)
	if err != nil {
		return rowOp{row: row, fail: ErrorMessage(err)}
	}
	op.row = row
	return op
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

// importInput turns a row's cells into a contact input; empty cells are
// left out, so an update never blanks a field.
func importInput(values *[fieldCount]string, custom map[string]any) ContactInput {
	set := func(field int) *string {
		v := strings.TrimSpace(values[field])
		if v == "" {
			return nil
		}
		return &v
	}
	in := ContactInput{FirstName: set(fieldFirstName), LastName: set(fieldLastName), Email: set(fieldEmail), Phone: set(fieldPhone),
		Title: set(fieldTitle), Company: set(fieldCompany), Stage: set(fieldStage)}
	if full := set(fieldName); full != nil && in.FirstName == nil && in.LastName == nil {
		first, last, _ := strings.Cut(*full, " ")
		in.FirstName, in.LastName = &first, &last
	}
	if in.Stage != nil {
		lower := strings.ToLower(*in.Stage)
		in.Stage = &lower
	}
	if t := set(fieldTags); t != nil {
		tags := strings.FieldsFunc(*t, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
		in.Tags = &tags
	}
	if len(custom) > 0 {
		in.Custom = custom
	}
	return in
}

// companyFor returns the id of the company named raw: from the cache, or a
// new one, returned as create too, to insert before the row that names it.
func (im *contactImport) companyFor(raw string) (id string, create []any, err error) {
	name, err := cleanText("company", "The company name", raw, 200)
	if err != nil {
		return "", nil, err
	}
	key := strings.ToLower(name)
	if id, ok := im.companies[key]; ok {
		return id, nil, nil
	}
	id = newID()
	im.companies[key] = id
	return id, []any{id, name}, nil
}

// create validates a new contact like CreateContact does; its company
// comes from the cache, or is new.
func (im *contactImport) create(in ContactInput) (rowOp, error) {
	var op rowOp
	c := &Contact{ID: newID(), Stage: Stages[0]}
	company := in.Company
	in.Company = nil // resolved from the cache below, not one query per row
	if err := applyContactFields(c, in); err != nil {
		return op, err
	}
	if in.Custom != nil {
		var err error
		if c.Custom, err = applyCustom(im.custom, c.Custom, in.Custom); err != nil {
			return op, err
		}
	}
	var companyID any // NULL for none
	if company != nil {
		id, create, err := im.companyFor(*company)
		if err != nil {
			return op, err
		}
		companyID, op.company = id, create
	}
	customJSON, _ := c.Custom.Value()
	op.contact = []any{c.ID, c.FirstName, c.LastName, c.Email, c.Phone, c.Title, companyID, c.Stage, customJSON}
	op.tags = c.Tags
	if c.Email != "" {
		im.emails[strings.ToLower(c.Email)] = c.ID
	}
	return op, nil
}

// write carries out the rows' ops in order.
func (im *contactImport) write(ops <-chan []rowOp) error {
	for batch := range ops {
		for i := range batch {
			if err := im.apply(&batch[i]); err != nil {
				return err
			}
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
	_, err := im.tx.ExecContext(im.ctx, `INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, ?3, ?3)`,
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

// appendedIndexes are the contacts' indexes an import extends at one end:
// imported contacts have no owner, one of a few stages and all the same
// updated_at, and their seqs grow. Keeping them costs less than a table
// scan and a sort each (37,000 contacts/s against 35,000); the others
// (company, name, unique ones) are dropped or kept as before.
var appendedIndexes = [...]string{"contacts_owner", "contacts_stage", "contacts_updated"}

// withoutSearchTriggers runs fn with the contacts' and companies' FTS and
// counting triggers and the contacts' scattered indexes dropped, then
// indexes the new and updated rows for search and recounts once,
// recreates the indexes (a sort, far cheaper than inserting all over two
// b-trees row by row) and restores the triggers, each from its own SQL, all
// in tx: the schema is unchanged after commit, and a rollback undoes it
// all. A per-row trigger makes a bulk load four times slower (see
// ARCHITECTURE.md).
//
// fn may add contacts and companies, and update contacts after telling
// searchBypass.unindex.
func withoutSearchTriggers(ctx context.Context, tx *sqlx.Tx, fn func(*searchBypass) error) error {
	var objects []struct {
		Type string `db:"type"`
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	if err := tx.SelectContext(ctx, &objects, `SELECT type, name, sql FROM sqlite_schema WHERE
		(type = 'trigger' AND (name LIKE 'contacts_fts_%' OR name LIKE 'companies_fts_%' OR name LIKE '%_count_%'))
		OR (type = 'index' AND tbl_name = 'contacts' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
			AND name NOT IN (?, ?, ?))`, appendedIndexes[0], appendedIndexes[1], appendedIndexes[2]); err != nil {
		return err
	}
	b, err := newSearchBypass(ctx, tx)
	if err != nil {
		return err
	}
	for _, o := range objects {
		if _, err := tx.ExecContext(ctx, `DROP `+strings.ToUpper(o.Type)+` `+o.Name); err != nil {
			return err
		}
	}
	if err := fn(b); err != nil {
		return err
	}
	for _, stmt := range []string{
		`UPDATE counters SET n = (SELECT count(*) FROM contacts) WHERE name = 'contacts'`,
		`UPDATE counters SET n = (SELECT count(*) FROM companies) WHERE name = 'companies'`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	for _, o := range objects {
		if _, err := tx.ExecContext(ctx, o.SQL); err != nil {
			return err
		}
	}
	// The search index last: its merges free pages, and a CREATE INDEX
	// after it would take them from the free list, copying each to its
	// statement journal first.
	return b.finish(ctx, tx)
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
