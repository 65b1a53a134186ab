package store

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Importing deals (opportunities) from a CRM's export: to pipelines and
// stages by name, values as exact decimals in their currency, linked to
// the companies and contacts already imported by name or email.

// DealImportFields are the deal fields a CSV column can map to, besides
// "custom.<key>" of a deal custom field the workspace has. An import does
// not make deals' custom fields (Settings → Custom fields does): a column
// none of these takes can only be skipped.
// "note" is a note about the deal (Close's opportunities have one, and no
// title): it goes on the deal's company, else its contact, and its first
// line titles a deal that has no title.
var DealImportFields = []string{"title", "value", "currency", "pipeline", "stage", "status", "company", "contact", "owner",
	"expected_close", "created_at", "lost_reason", "note"}

// dealAliases map normalised headers of the exports to deal fields.
var dealAliases = map[string]string{
	"title": "title", "name": "title", "dealname": "title", "dealtitle": "title", "opportunityname": "title", "deal": "title",
	"opportunity": "title",
	"value":       "value", "amount": "value", "dealvalue": "value", "opportunityvalue": "value", "dealamount": "value",
	"currency": "currency", "dealcurrencycode": "currency", "opportunitycurrency": "currency", "currencycode": "currency",
	"valuecurrency": "currency", "opportunityvaluecurrency": "currency",
	"pipeline": "pipeline", "dealpipeline": "pipeline", "pipelinename": "pipeline",
	"stage": "stage", "dealstage": "stage", "stagename": "stage", "opportunitystage": "stage",
	"status": "status", "dealstatus": "status", "opportunitystatus": "status", "statustype": "status",
	"company": "company", "associatedcompany": "company", "accountname": "company", "organization": "company", "organizationname": "company",
	"companyname": "company", "leadname": "company", "account": "company",
	"contact": "contact", "associatedcontact": "contact", "contactperson": "contact", "contactname": "contact", "primarycontact": "contact",
	"contactemail": "contact", "person": "contact", "personname": "contact",
	"owner": "owner", "dealowner": "owner", "opportunityowner": "owner", "assignedto": "owner",
	"closedate": "expected_close", "closingdate": "expected_close", "expectedclosedate": "expected_close", "expectedclose": "expected_close",
	"datewon":   "expected_close",
	"createdat": "created_at", "createdate": "created_at", "created": "created_at", "createddate": "created_at", "createdtime": "created_at",
	"datecreated": "created_at", "dealcreated": "created_at",
	"lostreason": "lost_reason", "closedlostreason": "lost_reason", "reasonforloss": "lost_reason",
	"statuslabel": "stage", "username": "owner", "note": "note", "notes": "note", "description": "note", "dealnote": "note",
}

// SuggestDealMapping proposes a deal field for each header, the deals'
// custom fields by key or label.
func SuggestDealMapping(header []string, custom []CustomField) []string {
	return suggest(header, dealAliases, custom, nil)
}

// What DealImportOptions.Stages takes.
const (
	StagesRefuse = ""       // stages not in their pipeline refuse the import, naming them
	StagesCreate = "create" // they are added at the end of their pipeline (a pipeline too)
)

// DealImportOptions steer an import of deals.
type DealImportOptions struct {
	ImportOptions // Mapping (SuggestDealMapping when nil), Unmapped (create is refused), Owners, Encoding
	// Stages says what becomes of stages (and pipelines) the workspace
	// does not have: StagesRefuse or StagesCreate.
	Stages string
	// Pipeline is the pipeline (name or id) of rows that name none; the
	// first one when empty.
	Pipeline string
	// Currency is the currency of values that name none; EUR when empty.
	Currency string
}

// dealImport is one import of deals running in one transaction.
type dealImport struct {
	ctx       context.Context
	tx        *sqlx.Tx
	a         Actor
	opt       DealImportOptions
	src       importState
	mapping   []string
	res       *ImportResult
	companies *companyIndex
	emails    map[string]string // contact email, lower-cased → id
	names     map[string]string // contact full name, lower-cased → id; "" when two share it
	pipelines map[string]string // pipeline name, lower-cased, and id → id
	stages    map[string]string // pipeline id + "\x00" + stage name, lower-cased → stage id
	last      map[string]string // pipeline id → its last stage
	unknown   []string          // "Pipeline › Stage" not found, refused
	deals     map[string]string // dealKey → id of the deal already there
	// minorUnits says the value column counts minor units (cents), as
	// Close writes its opportunities' values.
	minorUnits bool
}

// ImportDealsCSV imports deals from CSV with a header row, in one
// transaction. Each row goes to the pipeline and stage it names (closed
// won or lost stages set the status); its value is read as an exact
// decimal in its currency; its company (by name or domain, created if
// new) and contact (by email, or by a name only one contact has) are
// linked. A contact not found is left out of the deal, with a note.
func ImportDealsCSV(ctx context.Context, db *DB, a Actor, r io.Reader, opt DealImportOptions) (*ImportResult, error) {
	if opt.Unmapped == UnmappedCreate {
		return nil, Errorf(EInvalid, "A deal import does not make custom fields: its unmapped columns can only be skipped (unmapped=skip).")
	}
	if opt.Stages != StagesRefuse && opt.Stages != StagesCreate {
		return nil, Errorf(EInvalid, "stages must be create or refuse.")
	}
	if opt.Currency == "" {
		opt.Currency = "EUR"
	}
	currency, err := cleanCurrency(opt.Currency)
	if err != nil {
		return nil, err
	}
	opt.Currency = currency
	if _, err := Pipelines(ctx, db); err != nil { // makes the first pipeline if none
		return nil, err
	}
	f, err := openImportFile(r, opt.Encoding)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Errors: []RowError{}}
	err = db.InTx(ctx, func(tx *sqlx.Tx) error {
		im := &dealImport{ctx: ctx, tx: tx, a: a, opt: opt, res: res, src: newImportState(f.header)}
		if err := im.prepare(f); err != nil {
			return err
		}
		err := f.each(ctx, func(row int, rec []string, bad error) error {
			res.Read++
			if bad != nil {
				res.fail(row, bad.Error(), nil)
				return nil
			}
			msg, err := im.row(row, rec)
			if msg != "" {
				res.fail(row, msg, rec)
			}
			return err
		})
		if err != nil {
			return err
		}
		if len(im.unknown) > 0 {
			return Errorf(EValidation, "These stages are not in their pipeline: %s. Create them first, or import with stages=create to add them.",
				strings.Join(im.unknown, ", "))
		}
		res.Migration = im.src.report()
		return audit(ctx, tx, a, "deal.import", KindDeal, "", map[string]Change{
			"created": {After: res.Created}, "updated": {After: res.Updated}, "skipped": {After: res.Skipped}, "failed": {After: res.Failed}})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// prepare checks the mapping and loads the pipelines, stages, companies
// and contacts rows are resolved against.
func (im *dealImport) prepare(f *importFile) error {
	custom, err := customFields(im.ctx, im.tx, KindDeal)
	if err != nil {
		return err
	}
	im.mapping = im.opt.Mapping
	if im.mapping == nil {
		im.mapping = SuggestDealMapping(f.header, custom)
	}
	if err := checkMapping(im.mapping, f.header, DealImportFields, "deal"); err != nil {
		return err
	}
	if slices.Contains(im.mapping, MappingNewField) {
		return Errorf(EInvalid, "A deal import does not make custom fields of its columns; skip the column.")
	}
	for _, m := range im.mapping {
		if key, ok := strings.CutPrefix(m, "custom."); ok && !slices.ContainsFunc(custom, func(f CustomField) bool { return f.Key == key }) {
			return Errorf(EInvalid, "%q is not a custom field of deals here: add it in Settings → Custom fields, or skip the column.", key)
		}
	}
	p := &columnPlan{ctx: im.ctx, tx: im.tx, kind: KindDeal, custom: custom, now: time.Now().UTC(), src: &im.src, rows: sampleRows(f.head), complete: f.complete}
	if im.mapping, err = p.plan(f.header, im.mapping, im.opt.Unmapped, "deal"); err != nil {
		return err
	}
	if im.companies, err = loadCompanyIndex(im.ctx, im.tx); err != nil {
		return err
	}
	if col := slices.Index(im.mapping, "value"); col >= 0 && im.src.migration.Source == SourceClose {
		im.minorUnits = slices.Contains([]string{"value", "opportunityvalue"}, normaliseHeader(f.header[col]))
	}
	if err := im.loadDeals(); err != nil {
		return err
	}
	if im.emails, err = lowerMap[string](im.ctx, im.tx, `SELECT email, id FROM contacts WHERE email <> '' ORDER BY seq`); err != nil {
		return err
	}
	var people []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := im.tx.SelectContext(im.ctx, &people, `SELECT id, trim(first_name || ' ' || last_name) AS name FROM contacts ORDER BY seq`); err != nil {
		return err
	}
	im.names = map[string]string{}
	for _, c := range people {
		key := strings.ToLower(c.Name)
		if _, taken := im.names[key]; taken {
			im.names[key] = "" // two contacts of that name: neither is guessed
		} else if key != "" {
			im.names[key] = c.ID
		}
	}
	return im.loadPipelines()
}

func (im *dealImport) loadPipelines() error {
	var ps []Pipeline
	if err := im.tx.SelectContext(im.ctx, &ps, `SELECT * FROM pipelines ORDER BY position, seq`); err != nil {
		return err
	}
	var ss []Stage
	if err := im.tx.SelectContext(im.ctx, &ss, `SELECT * FROM stages ORDER BY position, seq`); err != nil {
		return err
	}
	im.pipelines, im.stages, im.last = map[string]string{}, map[string]string{}, map[string]string{}
	for i := len(ps) - 1; i >= 0; i-- { // the first of a name wins
		im.pipelines[strings.ToLower(ps[i].Name)] = ps[i].ID
		im.pipelines[ps[i].ID] = ps[i].ID
	}
	if len(ps) > 0 {
		im.pipelines[""] = ps[0].ID
	}
	for i := len(ss) - 1; i >= 0; i-- {
		im.stages[ss[i].PipelineID+"\x00"+strings.ToLower(ss[i].Name)] = ss[i].ID
	}
	for _, s := range ss {
		im.last[s.PipelineID] = s.ID
	}
	if im.opt.Pipeline != "" {
		id, ok := im.pipelines[strings.ToLower(im.opt.Pipeline)]
		if !ok {
			id, ok = im.pipelines[im.opt.Pipeline]
		}
		if !ok {
			return Errorf(EInvalid, "There is no pipeline %q in this workspace.", im.opt.Pipeline)
		}
		im.pipelines[""] = id
	}
	return nil
}

// closedStages are stage names that close a deal rather than place it.
var closedStages = map[string]string{"closedwon": "won", "won": "won", "closedlost": "lost", "lost": "lost"}

// row imports one row; a refusal is returned as a message, an error stops
// the import.
func (im *dealImport) row(row int, rec []string) (string, error) {
	cells := readCells(im.mapping, rec, &im.src)
	in := DealInput{Title: cells.set("title"), LostReason: cells.set("lost_reason"), Custom: cells.custom}
	created, hasCreated, err := cells.date("created_at", &im.src)
	if err != nil {
		return "The creation date " + err.Error(), nil
	}
	if in.Title == nil {
		in.Title = untitled(cells.field["note"], cells.field["company"], created, hasCreated)
	}
	if in.Title == nil {
		return "A deal needs a title.", nil
	}
	value, currency, err := im.amount(cells.field["value"], cells.field["currency"])
	if err != nil {
		return ErrorMessage(err), nil
	}
	in.Value, in.Currency = &value, &currency
	status := ""
	if v := cells.field["status"]; v != "" {
		status = strings.ToLower(v)
		if s, ok := closedStages[normaliseHeader(v)]; ok {
			status = s
		}
		if status == "active" { // Close's open opportunities
			status = "open"
		}
		if status == "deleted" {
			im.res.Skipped++
			return "", nil
		}
	}
	pipeline, stage, closed, msg, err := im.stage(cells.field["pipeline"], cells.field["stage"])
	if msg != "" || err != nil {
		return msg, err
	}
	if status == "" {
		status = closed
	}
	if status != "" {
		in.Status = &status
	}
	in.PipelineID, in.StageID = &pipeline, &stage
	if v := cells.field["company"]; v != "" {
		id, err := im.company(v)
		if err != nil {
			return refusal(err)
		}
		in.CompanyID = &id
	}
	if v := cells.field["contact"]; v != "" {
		if id := im.contact(v); id != "" {
			in.ContactID = &id
		} else {
			im.note(row, fmt.Sprintf("No contact %q in this workspace: the deal has none.", v))
		}
	}
	if v := cells.set("owner"); v != nil {
		if id, ok := im.src.owner(im.opt.Owners, *v); ok {
			in.OwnerID = &id
		}
	}
	if t, ok, err := cells.date("expected_close", &im.src); err != nil {
		return "The close date " + err.Error(), nil
	} else if ok {
		d := t.Format("2006-01-02")
		in.ExpectedClose = &d
	}
	key := dealKey(pipeline, *in.Title, in.CompanyID, in.ContactID)
	if id, ok := im.deals[key]; ok {
		if !im.opt.Update {
			im.res.Skipped++
			im.note(row, fmt.Sprintf("The deal %q is already in this pipeline with this company or contact: skipped.", *in.Title))
			return "", nil
		}
		if err := im.update(id, in); err != nil {
			return refusal(err)
		}
		im.res.Updated++
		return "", im.addNote(cells.field["note"], in)
	}
	now := time.Now().UTC()
	d := &Deal{ID: newID(), Currency: currency, Status: "open", Custom: Custom{}, CreatedAt: now, UpdatedAt: now}
	if hasCreated {
		d.CreatedAt = created
	}
	if err := createDeal(im.ctx, im.tx, im.a, d, in); err != nil {
		return refusal(err)
	}
	im.deals[key] = d.ID
	im.res.Created++
	return "", im.addNote(cells.field["note"], in)
}

// note keeps a note about a row, the first MaxImportErrors of them.
func (im *dealImport) note(row int, msg string) {
	if len(im.res.Notes) < MaxImportErrors {
		im.res.Notes = append(im.res.Notes, RowError{Row: row, Message: msg})
	}
}

// dealKey is what makes two deals the same for an import: their pipeline,
// title (in any letter case) and company, or contact when they have no
// company.
func dealKey(pipeline, title string, companyID, contactID *string) string {
	other := ""
	switch {
	case companyID != nil && *companyID != "":
		other = "company:" + *companyID
	case contactID != nil && *contactID != "":
		other = "contact:" + *contactID
	}
	return pipeline + "\x00" + strings.ToLower(strings.TrimSpace(title)) + "\x00" + other
}

// loadDeals indexes the workspace's deals by dealKey; the first of a key
// is the one a row updates.
func (im *dealImport) loadDeals() error {
	var ds []struct {
		ID        string `db:"id"`
		Pipeline  string `db:"pipeline_id"`
		Title     string `db:"title"`
		CompanyID string `db:"company_id"`
		ContactID string `db:"contact_id"`
	}
	if err := im.tx.SelectContext(im.ctx, &ds, `SELECT id, pipeline_id, title, coalesce(company_id, '') AS company_id,
		coalesce(contact_id, '') AS contact_id FROM deals ORDER BY seq DESC`); err != nil {
		return err
	}
	im.deals = make(map[string]string, len(ds))
	for _, d := range ds {
		im.deals[dealKey(d.Pipeline, d.Title, &d.CompanyID, &d.ContactID)] = d.ID
	}
	return nil
}

// update applies a row to the deal it repeats, as UpdateDeal does, in the
// import's transaction; the deal keeps its creation date.
func (im *dealImport) update(id string, in DealInput) error {
	before, err := getDeal(im.ctx, im.tx, id)
	if err != nil {
		return err
	}
	d := *before
	if err := applyDealInput(im.ctx, im.tx, &d, in); err != nil {
		return err
	}
	changes := dealChanges(before, &d)
	if len(changes) == 0 {
		return nil
	}
	d.UpdatedAt = time.Now().UTC()
	err = updateRow(im.ctx, im.tx, "deals", "deal", id, Expect{}, `title = :title, value_minor = :value_minor, currency = :currency,
		pipeline_id = :pipeline_id, stage_id = :stage_id, contact_id = nullif(:contact_id, ''), company_id = nullif(:company_id, ''),
		owner_id = :owner_id, expected_close = :expected_close, status = :status, lost_reason = :lost_reason,
		closed_at = :closed_at, updated_at = :updated_at`, &d)
	if err != nil {
		return err
	}
	return auditRelink(im.ctx, im.tx, im.a, KindDeal, id, before.ContactID, d.ContactID, changes)
}

// addNote puts a deal's note on its company, else its contact, unless
// that record has it already (a file imported again); a deal with neither
// keeps its note's first line as its title only.
func (im *dealImport) addNote(body string, in DealInput) error {
	if body == "" {
		return nil
	}
	n := &Note{ID: newID(), AuthorID: im.a.ID, Body: "Deal “" + *in.Title + "”:\n" + body, Version: 1}
	if r := []rune(n.Body); len(r) > MaxNoteLength {
		n.Body = string(r[:MaxNoteLength])
	}
	// Only that record's notes are read, by its index.
	col, id := "company_id", ""
	switch {
	case in.CompanyID != nil:
		n.CompanyID, id = *in.CompanyID, *in.CompanyID
	case in.ContactID != nil:
		n.ContactID, col, id = *in.ContactID, "contact_id", *in.ContactID
	default:
		return nil
	}
	var have int
	if err := im.tx.GetContext(im.ctx, &have, `SELECT count(*) FROM notes WHERE `+col+` = ? AND body = ?`, id, n.Body); err != nil || have > 0 {
		return err
	}
	n.CreatedAt = time.Now().UTC()
	n.UpdatedAt = n.CreatedAt
	if _, err := im.tx.NamedExecContext(im.ctx, `INSERT INTO notes (id, contact_id, company_id, author_id, body, created_at, updated_at)
		VALUES (:id, nullif(:contact_id, ''), nullif(:company_id, ''), :author_id, :body, :created_at, :updated_at)`, n); err != nil {
		return err
	}
	return auditAbout(im.ctx, im.tx, im.a, n.ContactID, "note.create", KindNote, n.ID, map[string]Change{"body": {After: n.Body}})
}

// untitled is the title of a deal whose row has none, as Close's
// opportunities: its note's first line, else its company's name with its
// creation date (so that two deals of a company without notes are not
// taken for one); nil when the row has neither.
func untitled(note, company string, created time.Time, hasCreated bool) *string {
	line, _, _ := strings.Cut(note, "\n")
	title := strings.TrimSpace(line)
	if r := []rune(title); len(r) > maxRecordTitle {
		title = strings.TrimSpace(string(r[:maxRecordTitle-1])) + "…"
	}
	if title == "" && strings.TrimSpace(company) != "" {
		title = strings.TrimSpace(company)
		if hasCreated {
			title += " (" + created.Format("2006-01-02") + ")"
		}
	}
	if title == "" {
		return nil
	}
	return &title
}

// amount reads a row's value and currency; Close's values are counted in
// minor units of their currency.
func (im *dealImport) amount(v, currencyCell string) (value, currency string, err error) {
	if im.minorUnits {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
			currency = im.opt.Currency
			if c := strings.TrimSpace(currencyCell); c != "" {
				if currency, err = cleanCurrency(c); err != nil {
					return "", "", err
				}
			}
			return FormatMoney(n, currency), currency, nil
		}
	}
	return parseImportAmount(v, currencyCell, im.opt.Currency)
}

func refusal(err error) (string, error) {
	if ErrorCode(err) == EInternal {
		return "", err
	}
	return ErrorMessage(err), nil
}

// stage finds a row's pipeline and stage by name, created if new and
// opt.Stages says so. A closed won or lost stage that the pipeline does
// not have is its last stage, and closes the deal.
func (im *dealImport) stage(pipelineName, stageName string) (pipeline, stage, closed, msg string, err error) {
	pipeline, ok := im.pipelines[strings.ToLower(pipelineName)]
	if !ok {
		if im.opt.Stages != StagesCreate {
			im.noteUnknown(pipelineName, stageName)
			return "", "", "", fmt.Sprintf("There is no pipeline %q.", pipelineName), nil
		}
		if pipeline, err = createPipeline(im.ctx, im.tx, im.a, pipelineName); err != nil {
			msg, err = refusal(err)
			return "", "", "", msg, err
		}
		im.src.migration.StagesCreated = append(im.src.migration.StagesCreated, pipelineName+" (pipeline)")
		if err := im.loadPipelines(); err != nil {
			return "", "", "", "", err
		}
	}
	if stageName == "" {
		return pipeline, "", "", "", nil
	}
	if id, ok := im.stages[pipeline+"\x00"+strings.ToLower(stageName)]; ok {
		return pipeline, id, closedStages[normaliseHeader(stageName)], "", nil
	}
	if s, ok := closedStages[normaliseHeader(stageName)]; ok {
		return pipeline, im.last[pipeline], s, "", nil
	}
	if im.opt.Stages != StagesCreate {
		im.noteUnknown(pipelineName, stageName)
		return "", "", "", fmt.Sprintf("There is no stage %q in this pipeline.", stageName), nil
	}
	in, err := cleanStage(StageInput{Name: stageName})
	if err != nil {
		msg, err = refusal(err)
		return "", "", "", msg, err
	}
	s := &Stage{ID: newID(), PipelineID: pipeline, Name: in.Name, CreatedAt: time.Now().UTC()}
	if err := im.tx.GetContext(im.ctx, &s.Position, `SELECT coalesce(max(position), 0) + 1 FROM stages WHERE pipeline_id = ?`, pipeline); err != nil {
		return "", "", "", "", err
	}
	if _, err := im.tx.NamedExecContext(im.ctx, `INSERT INTO stages (id, pipeline_id, name, probability, position, created_at)
		VALUES (:id, :pipeline_id, :name, :probability, :position, :created_at)`, s); err != nil {
		return "", "", "", "", err
	}
	if err := audit(im.ctx, im.tx, im.a, "stage.create", KindStage, s.ID, map[string]Change{"name": {After: s.Name}}); err != nil {
		return "", "", "", "", err
	}
	im.stages[pipeline+"\x00"+strings.ToLower(s.Name)] = s.ID
	im.last[pipeline] = s.ID
	im.src.migration.StagesCreated = append(im.src.migration.StagesCreated, s.Name)
	return pipeline, s.ID, "", "", nil
}

func (im *dealImport) noteUnknown(pipeline, stage string) {
	if pipeline == "" {
		pipeline = "(default pipeline)"
	}
	name := fmt.Sprintf("%q › %q", pipeline, stage)
	if !slices.Contains(im.unknown, name) {
		im.unknown = append(im.unknown, name)
	}
}

// company returns the company a deal names, by domain or name ("Acme
// (acme.com)" as HubSpot writes associations), created if new.
func (im *dealImport) company(v string) (string, error) {
	name, domain := v, ""
	if m := parenthesised.FindStringSubmatch(v); m != nil {
		if d, err := cleanDomain(m[2]); err == nil && d != "" {
			name, domain = strings.TrimSpace(m[1]), d
		}
	}
	if id, ok := im.companies.find(name, domain); ok {
		return id, nil
	}
	now := time.Now().UTC()
	c := &Company{ID: newID(), Custom: Custom{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	in := CompanyInput{Name: &name}
	if domain != "" {
		in.Domain = &domain
	}
	if err := createCompany(im.ctx, im.tx, im.a, c, in); err != nil {
		return "", err
	}
	im.companies.add(c.ID, c.Name, c.Domain)
	return c.ID, nil
}

// parenthesised is "Name (detail)".
var parenthesised = regexp.MustCompile(`^(.*?)\s*[(<]([^()<>]+)[)>]\s*$`)

// anEmail is an address inside a cell ("Ana Silva (ana@example.com)").
var anEmail = regexp.MustCompile(`[^\s<>(),;]+@[^\s<>(),;]+\.[^\s<>(),;]+`)

// contact finds the contact a deal names: by an email in the cell, else
// by a full name only one contact has. "" when none is found.
func (im *dealImport) contact(v string) string {
	if e := anEmail.FindString(v); e != "" {
		if id, ok := im.emails[strings.ToLower(e)]; ok {
			return id
		}
	}
	name := v
	if m := parenthesised.FindStringSubmatch(v); m != nil {
		name = m[1]
	}
	return im.names[strings.ToLower(strings.Join(strings.Fields(name), " "))]
}

// currencySymbols are the symbols exports put before or after values.
var currencySymbols = map[string]string{"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF", "zł": "PLN"}

var amountCode = regexp.MustCompile(`^([A-Za-z]{3})\s*(.+)$|^(.+?)\s*([A-Za-z]{3})$`)

// parseImportAmount reads a value as exports write it, exactly: "1200.5",
// "$1,200.50", "1.200,50 €", "EUR 1200". Its currency is the one written
// with it, else the currency cell, else the default. An empty value is 0.
func parseImportAmount(v, currencyCell, fallback string) (value, currency string, err error) {
	currency = fallback
	if c := strings.TrimSpace(currencyCell); c != "" {
		if currency, err = cleanCurrency(c); err != nil {
			return "", "", err
		}
	}
	v = strings.TrimSpace(v)
	for sym, code := range currencySymbols {
		if strings.HasPrefix(v, sym) || strings.HasSuffix(v, sym) {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, sym), sym))
			if strings.TrimSpace(currencyCell) == "" {
				currency = code
			}
		}
	}
	if m := amountCode.FindStringSubmatch(v); m != nil {
		code, rest := m[1], m[2]
		if code == "" {
			code, rest = m[4], m[3]
		}
		if c, err := cleanCurrency(code); err == nil {
			v = strings.TrimSpace(rest)
			if strings.TrimSpace(currencyCell) == "" {
				currency = c
			}
		}
	}
	v = strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), "\u00a0", "")
	dot, comma := strings.LastIndex(v, "."), strings.LastIndex(v, ",")
	switch {
	case dot >= 0 && comma >= 0 && comma > dot: // 1.200,50
		v = strings.ReplaceAll(v, ".", "")
		v = strings.Replace(v, ",", ".", 1)
	case dot >= 0 && comma >= 0: // 1,200.50
		v = strings.ReplaceAll(v, ",", "")
	case comma >= 0 && len(v)-comma-1 == 3 && strings.Count(v, ",") >= 1 && CurrencyExponent(currency) != 3:
		v = strings.ReplaceAll(v, ",", "") // 1,200
	case comma >= 0:
		v = strings.Replace(v, ",", ".", 1) // 1200,5
	}
	if v == "" {
		v = "0"
	}
	if _, err := ParseMoney(v, currency); err != nil {
		return "", "", err
	}
	return v, currency, nil
}

// MissingDealStages lists the pipelines and stages the rows of a deals
// file name that the workspace does not have, as "Pipeline › Stage", for
// the mapping step to offer creating them. rows are the first rows of the
// file; pipeline is the default of rows that name none.
func MissingDealStages(ctx context.Context, db *DB, mapping []string, rows [][]string, pipeline string) ([]string, error) {
	if _, err := Pipelines(ctx, db); err != nil { // makes the first pipeline if none, as the import does
		return nil, err
	}
	tx, err := db.R.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	im := &dealImport{ctx: ctx, tx: tx, opt: DealImportOptions{Pipeline: pipeline}}
	if err := im.loadPipelines(); err != nil {
		return nil, err
	}
	pcol, scol := slices.Index(mapping, "pipeline"), slices.Index(mapping, "stage")
	cell := func(rec []string, col int) string {
		if col < 0 || col >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[col])
	}
	for _, rec := range rows {
		p, s := cell(rec, pcol), cell(rec, scol)
		id, ok := im.pipelines[strings.ToLower(p)]
		if !ok {
			im.noteUnknown(p, s)
			continue
		}
		if _, closed := closedStages[normaliseHeader(s)]; s == "" || closed {
			continue
		}
		if _, ok := im.stages[id+"\x00"+strings.ToLower(s)]; !ok {
			im.noteUnknown(p, s)
		}
	}
	return im.unknown, nil
}
