package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"
)

// ImportFields are the contact fields a CSV column can map to, besides
// "custom.<key>" for custom fields; "" means the column is ignored.
var ImportFields = []string{"first_name", "last_name", "name", "email", "phone", "title", "company", "stage", "tags"}

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

// NewCSVReader reads CSV as people export it: UTF-8 with or without a BOM,
// separated by "," or ";" (whichever the header line has more of), with
// quoted fields that may hold newlines.
func NewCSVReader(r io.Reader) (*csv.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
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
	cr := csv.NewReader(br)
	if bytes.Count(line, []byte{';'}) > bytes.Count(line, []byte{','}) {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1 // short rows are reported per row, not fatal
	cr.ReuseRecord = true
	return cr, nil
}

// ImportOptions steer a CSV import.
type ImportOptions struct {
	Mapping  []string       // field of each column, as SuggestMapping gives
	Update   bool           // a row whose email exists updates that contact; otherwise it is skipped
	Progress func(rows int) // called now and then with the rows read so far
}

// RowError is one refused row; Row counts from 1 for the first data row.
type RowError struct {
	Row     int    `json:"row"`
	Message string `json:"message"`
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int        `json:"created"`
	Updated int        `json:"updated"`
	Skipped int        `json:"skipped"`
	Errors  []RowError `json:"errors"`
}

// MaxImportErrors bounds the errors kept in a report.
const MaxImportErrors = 10000

// contactImport is one import running in one transaction.
type contactImport struct {
	ctx       context.Context
	tx        *sqlx.Tx
	opt       ImportOptions
	custom    []CustomField
	emails    map[string]string // lower(email) → contact id
	companies map[string]string // lower(name) → company id
	tags      map[string]int64  // lower(tag) → seq
	insert    *sqlx.Stmt
	res       *ImportResult
	now       time.Time
}

// ImportContactsCSV imports contacts from CSV with a header row, in one
// transaction: all rows that pass go in together, each refused row is
// reported with its number and why. The search index is rebuilt once at
// the end instead of row by row.
func ImportContactsCSV(ctx context.Context, db *DB, a Actor, r io.Reader, opt ImportOptions) (*ImportResult, error) {
	cr, err := NewCSVReader(r)
	if err != nil {
		return nil, err
	}
	header, err := cr.Read()
	if err != nil {
		return nil, Errorf(EInvalid, "The CSV has no header row.")
	}
	res := &ImportResult{Errors: []RowError{}}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		im := &contactImport{ctx: ctx, tx: tx, opt: opt, res: res, now: time.Now().UTC()}
		if err := im.prepare(header); err != nil {
			return err
		}
		// No larger page cache for the import: each cached page is its own
		// allocation outside the Go heap, and freeing 64 MB of them at
		// commit (an madvise per 64 KB region) cost more than the re-reads
		// it saved; 2 MB and 8 MB measured the same.
		head, complete, err := readAhead(cr, bulkThreshold)
		if err != nil {
			return err
		}
		load := func() error {
			if err := im.rows(head, cr, complete); err != nil {
				return err
			}
			return audit(ctx, tx, a, "contact.import", "contact", "", map[string]Change{
				"created": {After: res.Created}, "updated": {After: res.Updated}, "skipped": {After: res.Skipped}, "errors": {After: len(res.Errors)},
			})
		}
		if complete {
			return load() // a small file: the triggers index row by row
		}
		return withoutSearchTriggers(ctx, tx, load)
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
	if im.custom, err = customFieldsTx(im.ctx, im.tx, "contact"); err != nil {
		return err
	}
	if im.opt.Mapping == nil {
		im.opt.Mapping = SuggestMapping(header, im.custom)
	}
	if len(im.opt.Mapping) != len(header) {
		return Errorf(EInvalid, "The mapping has %d columns; the CSV has %d.", len(im.opt.Mapping), len(header))
	}
	for _, f := range im.opt.Mapping {
		if f != "" && !contains(ImportFields, f) && !strings.HasPrefix(f, "custom.") {
			return Errorf(EInvalid, "%q is not a contact field to import into.", f)
		}
	}
	im.emails, err = lowerMap(im.ctx, im.tx, `SELECT lower(email), id FROM contacts WHERE email <> ''`)
	if err != nil {
		return err
	}
	if im.companies, err = lowerMap(im.ctx, im.tx, `SELECT lower(name), id FROM companies ORDER BY seq DESC`); err != nil {
		return err
	}
	im.tags = map[string]int64{}
	rows, err := im.tx.QueryContext(im.ctx, `SELECT lower(name), seq FROM tags`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq int64
		rows.Scan(&name, &seq)
		im.tags[name] = seq
	}
	im.insert, err = im.tx.PreparexContext(im.ctx, `INSERT INTO contacts (id, first_name, last_name, email, phone, title, company_id, stage, custom, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, nullif(?, ''), ?, ?, ?, ?)`)
	return err
}

func lowerMap(ctx context.Context, tx *sqlx.Tx, query string) (map[string]string, error) {
	m := map[string]string{}
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, rows.Err()
}

// bulkThreshold is the row count from which an import rebuilds the search
// index once instead of updating it row by row.
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
// the read-ahead was the whole file.
func (im *contactImport) rows(head []csvRecord, cr *csv.Reader, complete bool) error {
	for row := 1; ; row++ {
		var rec []string
		var err error
		switch {
		case row <= len(head):
			rec, err = head[row-1].fields, head[row-1].err
		case complete:
			return nil
		default:
			rec, err = cr.Read()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				im.fail(row, fmt.Sprintf("The CSV is malformed here: %v.", pe.Err))
				continue
			}
			return err
		}
		if row%5000 == 0 {
			if err := im.ctx.Err(); err != nil {
				return err
			}
			if im.opt.Progress != nil {
				im.opt.Progress(row)
			}
		}
		if err := im.row(rec); err != nil {
			if ErrorCode(err) == EInternal {
				return err
			}
			im.fail(row, ErrorMessage(err))
		}
	}
}

func (im *contactImport) fail(row int, msg string) {
	im.res.Skipped++
	if len(im.res.Errors) < MaxImportErrors {
		im.res.Errors = append(im.res.Errors, RowError{Row: row, Message: msg})
	}
}

// row imports one record: a new contact, an update of the one with its
// email, or a skip.
func (im *contactImport) row(rec []string) error {
	values := map[string]string{}
	custom := map[string]any{}
	for i, field := range im.opt.Mapping {
		if field == "" || i >= len(rec) {
			continue
		}
		if key, ok := strings.CutPrefix(field, "custom."); ok {
			if v := strings.TrimSpace(rec[i]); v != "" {
				custom[key] = v
			}
			continue
		}
		values[field] = rec[i]
	}
	in := importInput(values, custom)
	email := strings.ToLower(strings.TrimSpace(values["email"]))
	if id, ok := im.emails[email]; ok && email != "" {
		if !im.opt.Update {
			im.res.Skipped++
			return nil
		}
		if _, err := updateContact(im.ctx, im.tx, Actor{Kind: "system", ID: "import"}, id, in); err != nil {
			return err
		}
		im.res.Updated++
		return nil
	}
	return im.create(in)
}

// importInput turns a row's cells into a contact input; empty cells are
// left out, so an update never blanks a field.
func importInput(values map[string]string, custom map[string]any) ContactInput {
	set := func(field string) *string {
		v := strings.TrimSpace(values[field])
		if v == "" {
			return nil
		}
		return &v
	}
	in := ContactInput{FirstName: set("first_name"), LastName: set("last_name"), Email: set("email"), Phone: set("phone"),
		Title: set("title"), Company: set("company"), Stage: set("stage")}
	if full := set("name"); full != nil && in.FirstName == nil && in.LastName == nil {
		first, last, _ := strings.Cut(*full, " ")
		in.FirstName, in.LastName = &first, &last
	}
	if in.Stage != nil {
		lower := strings.ToLower(*in.Stage)
		in.Stage = &lower
	}
	if t := set("tags"); t != nil {
		tags := strings.FieldsFunc(*t, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
		in.Tags = &tags
	}
	if len(custom) > 0 {
		in.Custom = custom
	}
	return in
}

// create validates a new contact like CreateContact does, then inserts it
// with the prepared statement; companies and tags come from the caches.
func (im *contactImport) create(in ContactInput) error {
	c := &Contact{ID: newID(), Stage: Stages[0], Custom: Custom{}}
	company := in.Company
	in.Company = nil // resolved from the cache below, not one query per row
	if err := applyContactFields(c, in); err != nil {
		return err
	}
	if in.Custom != nil {
		var err error
		if c.Custom, err = applyCustom(im.custom, c.Custom, in.Custom); err != nil {
			return err
		}
	}
	if company != nil {
		id, err := im.company(*company)
		if err != nil {
			return err
		}
		c.CompanyID = id
	}
	customJSON, _ := c.Custom.Value()
	_, err := im.insert.ExecContext(im.ctx, c.ID, c.FirstName, c.LastName, c.Email, c.Phone, c.Title, c.CompanyID, c.Stage, customJSON, im.now, im.now)
	if err != nil {
		return err
	}
	if c.Email != "" {
		im.emails[strings.ToLower(c.Email)] = c.ID
	}
	if len(c.Tags) > 0 {
		if err := im.tagContact(c.ID, c.Tags); err != nil {
			return err
		}
	}
	im.res.Created++
	return nil
}

func (im *contactImport) company(name string) (string, error) {
	name, err := cleanText("company", "The company name", name, 200)
	if err != nil {
		return "", err
	}
	if id, ok := im.companies[strings.ToLower(name)]; ok {
		return id, nil
	}
	id := newID()
	if _, err := im.tx.ExecContext(im.ctx, `INSERT INTO companies (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`, id, name, im.now, im.now); err != nil {
		return "", err
	}
	im.companies[strings.ToLower(name)] = id
	return id, nil
}

func (im *contactImport) tagContact(id string, tags []string) error {
	for _, t := range tags {
		seq, ok := im.tags[strings.ToLower(t)]
		if !ok {
			res, err := im.tx.ExecContext(im.ctx, `INSERT INTO tags (name) VALUES (?)`, t)
			if err != nil {
				return err
			}
			seq, _ = res.LastInsertId()
			im.tags[strings.ToLower(t)] = seq
		}
		if _, err := im.tx.ExecContext(im.ctx, `INSERT OR IGNORE INTO contact_tags (contact_id, tag_seq) VALUES (?, ?)`, id, seq); err != nil {
			return err
		}
	}
	return nil
}

// withoutSearchTriggers runs fn with the contacts' and companies' FTS and
// counting triggers and the contacts' non-unique indexes dropped, then
// rebuilds the search indexes and the counts once, recreates the indexes (a sort, far cheaper than
// inserting into five b-trees row by row) and restores the triggers, each
// from its own SQL, all in tx: the schema is unchanged after commit, and a
// rollback undoes it all. A per-row trigger makes a bulk load four times
// slower (see ARCHITECTURE.md).
func withoutSearchTriggers(ctx context.Context, tx *sqlx.Tx, fn func() error) error {
	var objects []struct {
		Type string `db:"type"`
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	if err := tx.SelectContext(ctx, &objects, `SELECT type, name, sql FROM sqlite_schema WHERE
		(type = 'trigger' AND (name LIKE 'contacts_fts_%' OR name LIKE 'companies_fts_%' OR name LIKE '%_count_%'))
		OR (type = 'index' AND tbl_name = 'contacts' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%')`); err != nil {
		return err
	}
	for _, o := range objects {
		if _, err := tx.ExecContext(ctx, `DROP `+strings.ToUpper(o.Type)+` `+o.Name); err != nil {
			return err
		}
	}
	if err := fn(); err != nil {
		return err
	}
	for _, stmt := range []string{
		`INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild')`,
		`INSERT INTO companies_fts (companies_fts) VALUES ('rebuild')`,
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
	return nil
}
