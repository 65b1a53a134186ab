package store

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// What an import makes of the columns no contact field takes, of several
// addresses, of owners and of original creation dates: planned before the
// first row, reported once the last is read.

// What ImportOptions.Unmapped takes.
const (
	UnmappedIgnore = ""       // columns mapped to no field are left out
	UnmappedCreate = "create" // each becomes a custom field
	UnmappedSkip   = "skip"   // each is left out, and listed
	UnmappedRefuse = "refuse" // the import is refused, naming them
)

// Migration is what an import made of a file from another CRM: the tool
// it came from, the custom fields it created, the columns it left out,
// and the owners it matched to members or not.
type Migration struct {
	Source          string           `json:"source,omitempty"`
	FieldsCreated   []string         `json:"fields_created,omitempty"` // "Label (type)"
	SkippedColumns  []string         `json:"skipped_columns,omitempty"`
	StagesCreated   []string         `json:"stages_created,omitempty"` // by a deals import
	OwnersMatched   int              `json:"owners_matched"`
	UnmatchedOwners []UnmatchedOwner `json:"unmatched_owners,omitempty"`
}

// UnmatchedOwner is an owner named in the file who is no member of the
// workspace: its rows were imported without an owner.
type UnmatchedOwner struct {
	Owner string `json:"owner"`
	Rows  int    `json:"rows"`
}

// importState is what an import keeps for these columns. The writing side
// sets it up in prepare; then reading owns it until it ends.
type importState struct {
	migration   Migration
	dayFirst    []bool            // per column: its slashed dates are day first
	types       map[string]string // custom field key → type
	createdCol  int               // the created_at column, or -1
	otherEmails string            // the custom field of the addresses after the first, or ""
	otherPhones string
	matched     map[string]bool // owners matched, by user id
	unmatched   map[string]int  // owners as written → rows
	unmatchedAt []string        // in order of first appearance
}

// planColumns applies opt.Unmapped, creates the custom fields the mapping
// asks for (MappingNewField), typed from the first rows, and the fields
// that keep other addresses; then im.opt.Mapping names only fields that
// exist.
func (im *contactImport) planColumns(header []string, head []csvRecord, complete bool) error {
	im.src = newImportState(header)
	p := &columnPlan{ctx: im.ctx, tx: im.tx, kind: KindContact, custom: im.custom, now: im.now, src: &im.src, rows: sampleRows(head), complete: complete}
	mapping, err := p.plan(header, im.opt.Mapping, im.opt.Unmapped, "contact")
	if err != nil {
		return err
	}
	var emailCols, phoneCols int
	var severalEmails, severalPhones bool
	for i, f := range mapping {
		switch f {
		case "email":
			emailCols++
			severalEmails = severalEmails || slices.ContainsFunc(p.values(i), func(v string) bool { return len(splitEmails(v)) > 1 })
		case "phone":
			phoneCols++
			severalPhones = severalPhones || slices.ContainsFunc(p.values(i), func(v string) bool { return len(splitPhones(v)) > 1 })
		}
	}
	if emailCols > 1 || severalEmails {
		if im.src.otherEmails, err = p.textField("other_emails", "Other emails"); err != nil {
			return err
		}
	}
	if phoneCols > 1 || severalPhones {
		if im.src.otherPhones, err = p.textField("other_phones", "Other phones"); err != nil {
			return err
		}
	}
	im.custom = p.custom
	im.opt.Mapping = mapping
	return nil
}

func newImportState(header []string) importState {
	s := importState{dayFirst: make([]bool, len(header)), types: map[string]string{}, createdCol: -1,
		matched: map[string]bool{}, unmatched: map[string]int{}}
	s.migration.Source = DetectSource(header)
	if s.migration.Source == "" && isAtriumExport(header) {
		s.migration.Source = "Atrium"
	}
	return s
}

// atriumBookkeeping are the columns of Atrium's own list exports that an
// import leaves out on purpose: a record imported gets its own id and
// update time, and its company is found by name.
var atriumBookkeeping = []string{"id", "company_id", "updated_at"}

// isAtriumExport reports whether a header is that of an Atrium list
// export: it has all of atriumBookkeeping.
func isAtriumExport(header []string) bool {
	for _, b := range atriumBookkeeping {
		if !slices.ContainsFunc(header, func(h string) bool { return strings.TrimSpace(h) == b }) {
			return false
		}
	}
	return true
}

// sampleRows are the records read ahead that could be parsed.
func sampleRows(head []csvRecord) [][]string {
	rows := make([][]string, 0, len(head))
	for _, r := range head {
		if r.err == nil {
			rows = append(rows, r.fields)
		}
	}
	return rows
}

// columnPlan makes, before an import's first row, the custom fields its
// mapping asks for, in the import's transaction.
type columnPlan struct {
	ctx      context.Context
	tx       *sqlx.Tx
	kind     Kind
	custom   []CustomField // the kind's fields, with those made here
	now      time.Time
	src      *importState
	rows     [][]string // the first rows
	complete bool       // they are the whole file
}

func (p *columnPlan) values(col int) []string {
	var out []string
	for _, r := range p.rows {
		if col < len(r) {
			out = append(out, r[col])
		}
	}
	return out
}

// plan applies the policy for unmapped columns ("" in mapping), makes a
// custom field of each column mapped to MappingNewField, and notes how
// the date columns write their dates. It returns the mapping with the new
// fields' keys in place.
func (p *columnPlan) plan(header, mapping []string, unmapped, what string) ([]string, error) {
	mapping = slices.Clone(mapping)
	// Atrium's own bookkeeping columns are left out whatever the policy,
	// and listed.
	own := make([]bool, len(mapping))
	if isAtriumExport(header) {
		for i, f := range mapping {
			if own[i] = f == "" && slices.Contains(atriumBookkeeping, strings.TrimSpace(header[i])); own[i] {
				p.src.migration.SkippedColumns = append(p.src.migration.SkippedColumns, columnName(header, i)+" (Atrium's own)")
			}
		}
	}
	var names []string
	for i, f := range mapping {
		if f == "" && !own[i] {
			names = append(names, fmt.Sprintf("%q", columnName(header, i)))
		}
	}
	switch unmapped {
	case UnmappedIgnore:
	case UnmappedSkip:
		for i, f := range mapping {
			if f == "" && !own[i] {
				p.src.migration.SkippedColumns = append(p.src.migration.SkippedColumns, columnName(header, i))
			}
		}
	case UnmappedRefuse:
		if len(names) > 0 {
			return nil, Errorf(EValidation, "These columns match no %s field: %s. Create a custom field of each (unmapped=create) or leave them out (unmapped=skip).",
				what, strings.Join(names, ", "))
		}
	case UnmappedCreate:
		for i, f := range mapping {
			if f == "" && !own[i] {
				mapping[i] = MappingNewField
			}
		}
	default:
		return nil, Errorf(EInvalid, "unmapped must be create, skip or refuse.")
	}
	for i, f := range mapping {
		if f != MappingNewField {
			continue
		}
		vals := p.values(i)
		if p.complete && !slices.ContainsFunc(vals, func(v string) bool { return strings.TrimSpace(v) != "" }) {
			// A column empty in the whole file: no field for nothing.
			p.src.migration.SkippedColumns = append(p.src.migration.SkippedColumns, columnName(header, i)+" (empty)")
			mapping[i] = ""
			continue
		}
		typ, opts := GuessFieldType(vals, p.complete)
		f, err := p.newField(columnName(header, i), "", typ, opts)
		if err != nil {
			return nil, err
		}
		mapping[i] = "custom." + f.Key
	}
	for _, f := range p.custom {
		p.src.types[f.Key] = f.Type
	}
	for i, f := range mapping {
		key, custom := strings.CutPrefix(f, "custom.")
		if f == "created_at" {
			p.src.createdCol = i
		}
		if f == "created_at" || f == "expected_close" || custom && p.src.types[key] == "date" {
			p.src.dayFirst[i] = dayFirstColumn(p.values(i))
		}
	}
	return mapping, nil
}

// columnName is how a column is named to the user: its header, or its
// number when the header is empty.
func columnName(header []string, i int) string {
	if h := strings.TrimSpace(header[i]); h != "" {
		return h
	}
	return fmt.Sprintf("Column %d", i+1)
}

// textField returns the key of the text field key, created if missing.
func (p *columnPlan) textField(key, label string) (string, error) {
	for _, f := range p.custom {
		if f.Key == key {
			return key, nil
		}
	}
	f, err := p.newField(label, key, "text", nil)
	if err != nil {
		return "", err
	}
	return f.Key, nil
}

// newField creates a custom field in the import's transaction; its key is
// made from the label (or is key), numbered if taken.
func (p *columnPlan) newField(label, key, typ string, options []string) (*CustomField, error) {
	if r := []rune(label); len(r) > maxFieldLabel {
		label = string(r[:maxFieldLabel])
	}
	if key == "" {
		key = keyFromLabel(label)
	}
	base := key
	for n := 2; slices.ContainsFunc(p.custom, func(f CustomField) bool { return f.Key == key }); n++ {
		suffix := fmt.Sprintf("_%d", n)
		key = base[:min(len(base), maxCustomKey-len(suffix))] + suffix
	}
	opts, err := cleanOptions(typ, options)
	if err != nil {
		return nil, err
	}
	optJSON, _ := json.Marshal(opts)
	f := CustomField{ID: newID(), Entity: p.kind, Key: key, Label: label, Type: typ, Options: string(optJSON), CreatedAt: p.now}
	if err := p.tx.GetContext(p.ctx, &f.Position, `SELECT coalesce(max(position), 0) + 1 FROM custom_fields WHERE entity = ?`, f.Entity); err != nil {
		return nil, err
	}
	if _, err := p.tx.NamedExecContext(p.ctx, `INSERT INTO custom_fields (id, entity, key, label, type, options, position, created_at)
		VALUES (:id, :entity, :key, :label, :type, :options, :position, :created_at)`, &f); err != nil {
		return nil, err
	}
	if err := audit(p.ctx, p.tx, importActor, "custom_field.create", KindCustomField, f.ID,
		map[string]Change{"key": {After: key}, "type": {After: typ}}); err != nil {
		return nil, err
	}
	p.custom = append(p.custom, f)
	p.src.types[key] = typ
	p.src.migration.FieldsCreated = append(p.src.migration.FieldsCreated, fmt.Sprintf("%s (%s)", label, typ))
	return &f, nil
}

// importActor is who an import's own writes are by, in the timeline.
var importActor = Actor{Kind: "system", ID: "import"}

// customCell is a custom field's value as the field takes it: dates as
// YYYY-MM-DD, whatever way the export wrote them.
func (im *contactImport) customCell(col int, key, v string) string {
	return im.src.customCell(col, key, v)
}

func (s *importState) customCell(col int, key, v string) string {
	if s.types[key] == "date" {
		if t, ok := ParseImportDate(v, s.dayFirst[col]); ok {
			return t.Format("2006-01-02")
		}
	}
	return v
}

// createdAt is a new contact's creation time: the one its row gives
// (checked when the row was read), or now.
func (im *contactImport) createdAt(cell string) time.Time {
	if im.src.createdCol >= 0 {
		if t, ok := ParseImportDate(cell, im.src.dayFirst[im.src.createdCol]); ok {
			return t
		}
	}
	return im.now
}

// primary returns the first of a row's addresses, and keeps the others in
// the custom field key; with no such field, a row with several is refused.
func (s *importState) primary(list []string, key, what string, custom *map[string]any) (string, string) {
	if len(list) == 0 {
		return "", ""
	}
	var rest []string
	for _, v := range list[1:] {
		if !strings.EqualFold(v, list[0]) && !slices.ContainsFunc(rest, func(r string) bool { return strings.EqualFold(r, v) }) {
			rest = append(rest, v)
		}
	}
	if len(rest) == 0 {
		return list[0], ""
	}
	if key == "" {
		return "", fmt.Sprintf("This row has several %s (%s): map a second column to them, or keep one.", what, strings.Join(list, ", "))
	}
	if *custom == nil {
		*custom = map[string]any{}
	}
	(*custom)[key] = strings.Join(rest, "; ")
	return list[0], ""
}

// ownerEmail finds an address in an owner as exports write them:
// "Ana Silva (ana@example.com)" or "Ana Silva <ana@example.com>".
var ownerEmail = regexp.MustCompile(`[<(]\s*([^<>()\s]+@[^<>()\s]+)\s*[>)]`)

// owner finds the member an owner cell names, by email, name or user id
// (owners maps each of them, lower-cased, to the user id). One it cannot
// find is counted, never guessed.
func (s *importState) owner(owners map[string]string, raw string) (string, bool) {
	candidates := []string{strings.ToLower(raw), raw}
	if m := ownerEmail.FindStringSubmatch(raw); m != nil {
		name := strings.TrimSpace(raw[:strings.IndexAny(raw, "<(")])
		candidates = append(candidates, strings.ToLower(m[1]), strings.ToLower(name))
	}
	for _, c := range candidates {
		if id, ok := owners[c]; ok && c != "" {
			s.matched[id] = true
			return id, true
		}
	}
	if s.unmatched[raw] == 0 {
		s.unmatchedAt = append(s.unmatchedAt, raw)
	}
	s.unmatched[raw]++
	return "", false
}

// timeline puts on the timelines of the contacts the transaction created
// (those above seq since) where they came from: their original creation
// ("created in HubSpot on …"), or the file.
func (im *contactImport) timeline(since int64) error {
	if im.src.createdCol >= 0 {
		// Shaped as changes, as the timeline reads every detail.
		detail, _ := json.Marshal(map[string]Change{"source": {After: im.src.migration.Source}})
		// A contact whose row gave no date was created now, as it was updated.
		if _, err := im.tx.ExecContext(im.ctx, `INSERT INTO activities (contact_id, kind, actor, detail, created_at)
			SELECT id, 'imported', ?, ?, created_at FROM contacts WHERE seq > ? AND created_at <> updated_at ORDER BY seq`,
			importActor.String(), string(detail), since); err != nil {
			return err
		}
	}
	if name := strings.TrimSpace(im.opt.FileName); name != "" && im.src.createdCol < 0 {
		detail, _ := json.Marshal(map[string]Change{"file": {After: truncateText(name, 200)}})
		if _, err := im.tx.ExecContext(im.ctx, `INSERT INTO activities (contact_id, kind, actor, detail, created_at)
			SELECT id, 'imported', ?, ?, created_at FROM contacts WHERE seq > ? ORDER BY seq`,
			importActor.String(), string(detail), since); err != nil {
			return err
		}
	}
	return nil
}

// report is the migration as the result shows it.
func (s *importState) report() Migration {
	m := s.migration
	m.OwnersMatched = len(s.matched)
	for _, o := range s.unmatchedAt {
		m.UnmatchedOwners = append(m.UnmatchedOwners, UnmatchedOwner{Owner: o, Rows: s.unmatched[o]})
	}
	return m
}

// ImportSampleRows is how many first rows of a file new custom fields are
// typed from: those an import reads ahead.
const ImportSampleRows = bulkThreshold

// ColumnGuesses gives, for each column of a file, the type a custom field
// made of it would have, from its first rows (complete when they are all
// of them): "" for a column empty in the whole file, which is skipped.
func ColumnGuesses(header []string, rows [][]string, complete bool) []string {
	out := make([]string, len(header))
	for i := range header {
		var vals []string
		for _, r := range rows {
			if i < len(r) && strings.TrimSpace(r[i]) != "" {
				vals = append(vals, r[i])
			}
		}
		if len(vals) > 0 || !complete {
			out[i], _ = GuessFieldType(vals, complete)
		}
	}
	return out
}
