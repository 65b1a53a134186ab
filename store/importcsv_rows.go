package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What each CSV row becomes: a new contact, an update, a skip or a
// refusal, decided on the reading side of an import.

// rowOp is what reading decided about a row, for writing to carry out in
// row order. Reading owns the email and company caches, writing the
// transaction, the tag cache and the result.
type rowOp struct {
	row       int
	values    []string     // the row's cells as read, kept for the error report
	malformed bool         // the CSV could not be parsed here
	fail      string       // the row is refused with this message
	skip      bool         // its email exists, and rows do not update; or it is suppressed
	note      string       // why a suppressed row is skipped
	update    string       // the id of the contact that in updates
	in        ContactInput // the update
	company   []any        // a new company to insert first: id, name
	contact   []any        // a new contact's values, as im.contacts takes them
	tags      []string     // its tags
	err       error        // reading failed: the import stops
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

// readRow is a record read and checked, its email not looked up yet:
// reading looks up the emails of a chunk of rows in one query (see
// lookUpEmails), then decides each (decide).
type readRow struct {
	op     rowOp // the row, decided already when refused
	rec    []string
	values [fieldCount]string
	in     ContactInput
	email  string // its primary email as written, trimmed; "" for none
}

// decided reports whether the row was decided while read: refused,
// malformed, or reading failed there.
func (r *readRow) decided() bool { return r.op.fail != "" || r.op.malformed || r.op.err != nil }

// decide makes of a row read a new contact, an update of the one with its
// email, a skip, or a refusal. A refused row, or one that updates (and may
// yet be refused), keeps a copy of its cells for the error report. The
// row's email, if any, was looked up (lookUpEmails).
func (im *contactImport) decide(r *readRow) rowOp {
	op := r.op
	if !r.decided() {
		op = im.decideRead(r)
	}
	if op.fail != "" || op.update != "" {
		op.values = r.rec
	}
	return op
}

// readCells reads a record's cells into a row to decide. The reader reuses
// the record's slice: the row keeps a copy.
func (im *contactImport) readCells(row int, rec []string) readRow {
	r := readRow{rec: slices.Clone(rec)}
	r.op = im.readInto(&r, row)
	return r
}

// readInto fills r with rec's cells; a refused row's op says why.
func (im *contactImport) readInto(r *readRow, row int) rowOp {
	rec, values := r.rec, &r.values
	var custom map[string]any
	var emails, phones []string
	for i, col := range im.columns[:min(len(rec), len(im.columns))] {
		cell := undefuse(rec[i])
		switch col.field {
		case columnIgnored:
		case columnCustom:
			if v := strings.TrimSpace(cell); v != "" {
				if custom == nil {
					custom = map[string]any{}
				}
				custom[col.custom] = im.customCell(i, col.custom, v)
			}
		case fieldEmail:
			emails = append(emails, splitEmails(cell)...)
		case fieldPhone:
			phones = append(phones, splitPhones(cell)...)
		case fieldCreatedAt:
			values[col.field] = cell
			if v := strings.TrimSpace(cell); v != "" {
				if _, ok := ParseImportDate(v, im.src.dayFirst[i]); !ok {
					return rowOp{row: row, fail: fmt.Sprintf("The creation date %q is not a date this import can read (such as 2024-03-31, 03/31/2024 or 31.03.2024).", v)}
				}
			}
		default:
			values[col.field] = cell
		}
	}
	var fail string
	if values[fieldEmail], fail = im.src.primary(emails, im.src.otherEmails, "emails", &custom); fail != "" {
		return rowOp{row: row, fail: fail}
	}
	if values[fieldPhone], fail = im.src.primary(phones, im.src.otherPhones, "phone numbers", &custom); fail != "" {
		return rowOp{row: row, fail: fail}
	}
	r.in = importInput(values, custom)
	if owner := strings.TrimSpace(values[fieldOwner]); owner != "" {
		if id, ok := im.src.owner(im.opt.Owners, owner); ok {
			r.in.OwnerID = &id
		}
	}
	r.email = strings.TrimSpace(values[fieldEmail])
	return rowOp{row: row}
}

// decideRead decides a row read whose email was looked up.
func (im *contactImport) decideRead(r *readRow) rowOp {
	row, in, values := r.op.row, r.in, &r.values
	email := strings.ToLower(r.email)
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
	if reason, ok := im.suppressedReason(email); ok {
		return rowOp{row: row, skip: true, note: fmt.Sprintf("Skipped: %s is on the suppression list (%s).", email, reason)}
	}
	op, err := im.create(in, values[fieldCreatedAt])
	if err != nil {
		return rowOp{row: row, fail: ErrorMessage(err)}
	}
	op.row = row
	return op
}

// suppressedReason says why email is suppressed, if it is; a workspace
// with nothing suppressed hashes nothing.
func (im *contactImport) suppressedReason(email string) (string, bool) {
	if len(im.suppressed) == 0 || email == "" {
		return "", false
	}
	reason, ok := im.suppressed[SuppressionHash(email)]
	return reason, ok
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
		first, last := SplitFullName(*full)
		in.FirstName, in.LastName = &first, &last
	}
	if in.Stage != nil {
		stage := importStage(*in.Stage)
		in.Stage = &stage
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
func (im *contactImport) create(in ContactInput, created string) (rowOp, error) {
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
	op.contact = []any{c.ID, c.FirstName, c.LastName, c.Email, c.Phone, c.Title, companyID, c.OwnerID, c.Stage, customJSON, im.createdAt(created)}
	op.tags = c.Tags
	if c.Email != "" {
		im.emails[strings.ToLower(c.Email)] = c.ID
	}
	return op, nil
}

// lookUpEmails finds, through the email index, the existing contacts with
// the emails of rows the import has not seen yet, and adds them to
// im.emails, with the import's own new contacts: an import reads the
// emails its rows name, not every email of the workspace (a million of
// them took 4 s into a map, before the first row). One query a chunk of
// rows, on a reader's connection: it runs while the writer writes. Letter
// case is Go's (strings.ToLower), as the map's keys are; the index is on
// SQLite's lower(), which folds only ASCII. So each email is asked with
// its ASCII letters lower-cased, and, when it has other letters, with
// those lower-cased and upper-cased too; a contact found is kept when its
// email's Go lower case is the row's. Of two contacts with the same lower
// case, the first made wins.
func (im *contactImport) lookUpEmails(rows []readRow) error {
	want := map[string]bool{}
	var keys []string
	for i := range rows {
		r := &rows[i]
		if r.decided() || r.email == "" {
			continue
		}
		k := strings.ToLower(r.email)
		if _, ok := im.emails[k]; ok || want[k] {
			continue
		}
		want[k] = true
		keys = append(keys, emailIndexKeys(r.email)...)
	}
	if len(keys) == 0 {
		return nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	found, err := im.db.R.QueryContext(im.ctx, `SELECT email, id FROM contacts
		WHERE email <> '' AND lower(email) IN (SELECT value FROM json_each(?)) ORDER BY seq`, string(list))
	if err != nil {
		return err
	}
	defer found.Close()
	for found.Next() {
		var email, id string
		if err := found.Scan(&email, &id); err != nil {
			return err
		}
		k := strings.ToLower(email)
		if _, ok := im.emails[k]; want[k] && !ok {
			im.emails[k] = id
		}
	}
	return found.Err()
}

// emailIndexKeys are the values of SQLite's lower(email) under which the
// contacts_email index holds the emails whose Go lower case is email's:
// its ASCII letters lower-cased, and the others as written, all
// lower-cased, or all upper-cased. (Mixed-case non-ASCII letters, and
// look-alikes that Go folds to ASCII, such as the Kelvin sign, are not
// found: such a contact stays apart, as the index lets it.)
func emailIndexKeys(email string) []string {
	ascii := true
	for i := 0; i < len(email); i++ {
		if email[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	asciiLower := func(f func(rune) rune) string {
		return strings.Map(func(r rune) rune {
			if r < utf8.RuneSelf {
				return unicode.ToLower(r)
			}
			return f(r)
		}, email)
	}
	keys := []string{asciiLower(func(r rune) rune { return r })}
	if ascii {
		return keys
	}
	for _, k := range []string{asciiLower(unicode.ToLower), asciiLower(unicode.ToUpper)} {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}
