package store

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Importing companies (accounts, organizations) from a CRM's export, with
// the same mapping step as contacts. Files of companies are small next to
// those of people: rows go in one by one, through the same checks as a
// company made by hand, in one transaction.

// CompanyImportFields are the company fields a CSV column can map to,
// besides "custom.<key>" and MappingNewField.
var CompanyImportFields = []string{"name", "domain", "industry", "size", "owner", "tags", "created_at"}

// companyAliases map normalised headers of the exports to company fields.
var companyAliases = map[string]string{
	"name": "name", "company": "name", "companyname": "name", "accountname": "name", "organization": "name", "organizationname": "name",
	"organisation": "name", "leadname": "name", "displayname": "name", "account": "name",
	"domain": "domain", "companydomainname": "domain", "website": "domain", "websiteurl": "domain", "url": "domain", "webdomain": "domain",
	"web":      "domain",
	"industry": "industry", "sector": "industry",
	"size": "size", "employees": "size", "numberofemployees": "size", "companysize": "size", "headcount": "size",
	"owner": "owner", "companyowner": "owner", "accountowner": "owner", "organizationowner": "owner", "leadowner": "owner", "assignedto": "owner",
	"tags": "tags", "label": "tags", "labels": "tags",
	"createdat": "created_at", "createdate": "created_at", "created": "created_at", "createddate": "created_at", "createdtime": "created_at",
	"datecreated": "created_at", "organizationcreated": "created_at",
}

// SuggestCompanyMapping proposes a company field for each header.
func SuggestCompanyMapping(header []string, custom []CustomField) []string {
	return suggest(header, companyAliases, custom, nil)
}

// importFile is a CSV file opened for an import: its header, and its
// first rows read ahead (all of them when complete).
type importFile struct {
	cr       *csv.Reader
	header   []string
	head     []csvRecord
	complete bool
}

func openImportFile(r io.Reader, enc string) (*importFile, error) {
	enc, err := ParseEncoding(enc)
	if err != nil {
		return nil, err
	}
	if r, err = DecodeCSV(r, enc); err != nil {
		return nil, err
	}
	f := &importFile{}
	if f.cr, err = NewCSVReader(r); err != nil {
		return nil, err
	}
	if f.header, err = ReadCSVHeader(f.cr); err != nil {
		return nil, err
	}
	if enc == EncodingUTF8Strict && slices.ContainsFunc(f.header, notUTF8) {
		return nil, errNotUTF8(1)
	}
	f.head, f.complete, err = readAhead(f.cr, ImportSampleRows)
	return f, err
}

// each calls fn with every data row, numbered from 1; a row the CSV
// cannot be parsed at is given with its parse error.
func (f *importFile) each(ctx context.Context, fn func(row int, rec []string, bad error) error) error {
	for row := 1; ; row++ {
		var rec []string
		var err error
		switch {
		case row <= len(f.head):
			rec, err = f.head[row-1].fields, f.head[row-1].err
		case f.complete:
			return nil
		default:
			rec, err = f.cr.Read()
		}
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &pe):
			if err := fn(row, nil, fmt.Errorf("The CSV is malformed here: %v.", pe.Err)); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if row%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(row, rec, nil); err != nil {
			return err
		}
	}
}

// rowCells is a row read through a mapping: each field's cell, and the
// custom fields' values.
type rowCells struct {
	field  map[string]string
	custom map[string]any
	col    map[string]int // the column of each field
}

func readCells(mapping []string, rec []string, src *importState) rowCells {
	c := rowCells{field: map[string]string{}, col: map[string]int{}}
	for i, f := range mapping[:min(len(rec), len(mapping))] {
		v := strings.TrimSpace(undefuse(rec[i]))
		switch key, custom := strings.CutPrefix(f, "custom."); {
		case f == "" || v == "":
		case custom:
			if c.custom == nil {
				c.custom = map[string]any{}
			}
			c.custom[key] = src.customCell(i, key, v)
		case c.field[f] == "":
			c.field[f], c.col[f] = v, i
		}
	}
	return c
}

// set returns a pointer to a field's cell, nil when it is empty.
func (c rowCells) set(f string) *string {
	if v := c.field[f]; v != "" {
		return &v
	}
	return nil
}

// date reads a date cell as the column writes its dates.
func (c rowCells) date(f string, src *importState) (time.Time, bool, error) {
	v := c.field[f]
	if v == "" {
		return time.Time{}, false, nil
	}
	t, ok := ParseImportDate(v, src.dayFirst[c.col[f]])
	if !ok {
		return t, false, fmt.Errorf("%q is not a date this import can read (such as 2024-03-31, 03/31/2024 or 31.03.2024).", v)
	}
	return t, true, nil
}

// checkMapping refuses a mapping with another number of columns than the
// header or naming a field that is not in fields.
func checkMapping(mapping, header, fields []string, what string) error {
	if len(mapping) != len(header) {
		return Errorf(EInvalid, "The mapping has %d columns; the CSV has %d.", len(mapping), len(header))
	}
	for _, f := range mapping {
		if f != "" && f != MappingNewField && !strings.HasPrefix(f, "custom.") && !slices.Contains(fields, f) {
			return Errorf(EInvalid, "%q is not a %s field to import into.", f, what)
		}
	}
	return nil
}

// companySize reads a company's size: one of CompanySizes, or a number of
// employees put in its band.
func companySize(v string) (string, bool) {
	if slices.Contains(CompanySizes, v) {
		return v, true
	}
	n, err := strconv.Atoi(strings.NewReplacer(",", "", " ", "", ".", "").Replace(v))
	if err != nil || n < 0 {
		return "", false
	}
	for _, band := range []struct {
		max  int
		size string
	}{{10, "1-10"}, {50, "11-50"}, {200, "51-200"}, {1000, "201-1000"}, {5000, "1001-5000"}} {
		if n <= band.max {
			return band.size, true
		}
	}
	return "5001+", true
}

// companyIndex finds the companies of a workspace by domain and by name
// (in any letter case), as imports deduplicate them.
type companyIndex struct {
	byDomain map[string]string // domain → id
	byName   map[string]string // name, lower-cased → id
	domainOf map[string]string // id → domain
}

func loadCompanyIndex(ctx context.Context, tx *sqlx.Tx) (*companyIndex, error) {
	ix := &companyIndex{byDomain: map[string]string{}, byName: map[string]string{}, domainOf: map[string]string{}}
	rows, err := tx.QueryContext(ctx, `SELECT id, name, domain FROM companies ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, domain string
		if err := rows.Scan(&id, &name, &domain); err != nil {
			return nil, err
		}
		ix.add(id, name, domain)
	}
	return ix, rows.Err()
}

// add indexes a company; the first of a name or domain wins.
func (ix *companyIndex) add(id, name, domain string) {
	if _, ok := ix.byName[strings.ToLower(name)]; !ok {
		ix.byName[strings.ToLower(name)] = id
	}
	if _, ok := ix.byDomain[domain]; !ok && domain != "" {
		ix.byDomain[domain] = id
	}
	ix.domainOf[id] = domain
}

// find returns the company with the domain or else the name, unless the
// one of that name has another domain: two companies may share a name.
func (ix *companyIndex) find(name, domain string) (string, bool) {
	if id, ok := ix.byDomain[domain]; ok && domain != "" {
		return id, true
	}
	id, ok := ix.byName[strings.ToLower(name)]
	if ok && domain != "" && ix.domainOf[id] != "" && ix.domainOf[id] != domain {
		return "", false
	}
	return id, ok
}

// ImportCompaniesCSV imports companies from CSV with a header row in one
// transaction. A company already there, by domain or else by name, is
// updated with the row's non-empty cells (opt.Update) or skipped, as is a
// row repeating one of the file. opt.Mapping (SuggestCompanyMapping when
// nil), opt.Unmapped, opt.Owners and opt.Encoding are as for contacts.
func ImportCompaniesCSV(ctx context.Context, db *DB, a Actor, r io.Reader, opt ImportOptions) (*ImportResult, error) {
	f, err := openImportFile(r, opt.Encoding)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Errors: []RowError{}}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		custom, err := customFields(ctx, tx, KindCompany)
		if err != nil {
			return err
		}
		mapping := opt.Mapping
		if mapping == nil {
			mapping = SuggestCompanyMapping(f.header, custom)
		}
		if err := checkMapping(mapping, f.header, CompanyImportFields, "company"); err != nil {
			return err
		}
		src := newImportState(f.header)
		p := &columnPlan{ctx: ctx, tx: tx, kind: KindCompany, custom: custom, now: time.Now().UTC(), src: &src, rows: sampleRows(f.head), complete: f.complete}
		if mapping, err = p.plan(f.header, mapping, opt.Unmapped, "company"); err != nil {
			return err
		}
		ix, err := loadCompanyIndex(ctx, tx)
		if err != nil {
			return err
		}
		err = f.each(ctx, func(row int, rec []string, bad error) error {
			res.Read++
			if bad != nil {
				res.fail(row, bad.Error(), nil)
				return nil
			}
			msg, err := importCompanyRow(ctx, tx, a, ix, &src, opt, mapping, rec, res)
			if msg != "" {
				res.fail(row, msg, rec)
			}
			return err
		})
		if err != nil {
			return err
		}
		res.Migration = src.report()
		return audit(ctx, tx, a, "company.import", KindCompany, "", map[string]Change{
			"created": {After: res.Created}, "updated": {After: res.Updated}, "skipped": {After: res.Skipped}, "failed": {After: res.Failed}})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// fail counts a refused row and keeps why, with its cells.
func (res *ImportResult) fail(row int, msg string, rec []string) {
	res.Failed++
	if len(res.Errors) < MaxImportErrors {
		res.Errors = append(res.Errors, RowError{Row: row, Message: msg, Values: slices.Clone(rec)})
	}
}

// importCompanyRow imports one row; a refusal is returned as a message,
// an error stops the import.
func importCompanyRow(ctx context.Context, tx *sqlx.Tx, a Actor, ix *companyIndex, src *importState, opt ImportOptions,
	mapping, rec []string, res *ImportResult) (string, error) {
	cells := readCells(mapping, rec, src)
	in := CompanyInput{Name: cells.set("name"), Industry: cells.set("industry"), Custom: cells.custom}
	if in.Name == nil {
		return "A company needs a name.", nil
	}
	domain := ""
	if d := cells.set("domain"); d != nil {
		var err error
		if domain, err = cleanDomain(*d); err != nil {
			return ErrorMessage(err), nil
		}
		in.Domain = &domain
	}
	if v := cells.set("size"); v != nil {
		size, ok := companySize(*v)
		if !ok {
			return fmt.Sprintf("The size %q is neither a number of employees nor one of %s.", *v, strings.Join(CompanySizes, ", ")), nil
		}
		in.Size = &size
	}
	if v := cells.set("owner"); v != nil {
		if id, ok := src.owner(opt.Owners, *v); ok {
			in.OwnerID = &id
		}
	}
	if v := cells.set("tags"); v != nil {
		tags := strings.FieldsFunc(*v, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
		in.Tags = &tags
	}
	created, hasCreated, err := cells.date("created_at", src)
	if err != nil {
		return "The creation date " + err.Error(), nil
	}
	refuse := func(err error) (string, error) {
		if ErrorCode(err) == EInternal {
			return "", err
		}
		return ErrorMessage(err), nil
	}
	if id, ok := ix.find(*in.Name, domain); ok {
		if !opt.Update {
			res.Skipped++
			return "", nil
		}
		if err := updateCompany(ctx, tx, a, id, in); err != nil {
			return refuse(err)
		}
		ix.add(id, *in.Name, domain)
		res.Updated++
		return "", nil
	}
	now := time.Now().UTC()
	c := &Company{ID: newID(), Custom: Custom{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	if hasCreated {
		c.CreatedAt = created
	}
	if err := createCompany(ctx, tx, a, c, in); err != nil {
		return refuse(err)
	}
	if hasCreated {
		if err := logImported(ctx, tx, KindCompany, c.ID, src.migration.Source, created); err != nil {
			return "", err
		}
	}
	ix.add(c.ID, c.Name, c.Domain)
	res.Created++
	return "", nil
}

// logImported puts a record's creation in the CRM it comes from on its
// timeline, at that date.
func logImported(ctx context.Context, tx *sqlx.Tx, k Kind, id, source string, at time.Time) error {
	col, err := k.recordColumn()
	if err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]Change{"source": {After: source}})
	_, err = tx.ExecContext(ctx, `INSERT INTO activities (`+col+`, kind, actor, detail, created_at) VALUES (?, 'imported', ?, ?, ?)`,
		id, importActor.String(), string(detail), at)
	return err
}
