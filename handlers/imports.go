package handlers

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// importUpload is an uploaded CSV waiting for its mapping. Once the import
// starts it is a job of the workspace (tenant.StartContactImport), which
// outlives the upload: uploads live in memory, and a restart forgets those
// never started (their file is a temporary one).
type importUpload struct {
	ID          string // the job's id once started
	WorkspaceID string
	Entity      string // "" for contacts, "companies" or "deals"
	Path        string
	FileName    string
	Header      []string   // as read: UTF-8, or not
	Preview     [][]string // as read
	Total       int        // data rows
	Scan        store.CSVScan
	// Encoding is the conversion proposed for a file that is not UTF-8
	// (store.LegacyEncoding); "" for a UTF-8 file.
	Encoding string
	Created  time.Time

	mu      sync.Mutex
	started bool
}

// start marks the upload as started; false when it already was.
func (u *importUpload) start() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	already := u.started
	u.started = true
	return !already
}

func (u *importUpload) unstart() {
	u.mu.Lock()
	u.started = false
	u.mu.Unlock()
}

func (u *importUpload) isStarted() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.started
}

// importUploads holds the uploads of the instance.
type importUploads struct {
	mu      sync.Mutex
	uploads map[string]*importUpload
}

// importUploadTTL is how long an upload is kept: one never started loses
// its file then.
const importUploadTTL = 6 * time.Hour

func (us *importUploads) add(u *importUpload) {
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.uploads == nil {
		us.uploads = map[string]*importUpload{}
	}
	us.sweep(u.Created)
	us.uploads[u.ID] = u
}

// sweep forgets uploads older than importUploadTTL and removes the files of
// those never started (a started one's job removes its file); us.mu is held.
func (us *importUploads) sweep(now time.Time) {
	for id, old := range us.uploads {
		if now.Sub(old.Created) < importUploadTTL {
			continue
		}
		if !old.isStarted() {
			os.Remove(old.Path)
		}
		delete(us.uploads, id)
	}
}

// get returns an upload of contacts of the workspace; one of another is
// not found.
func (us *importUploads) get(workspaceID, id string) *importUpload {
	return us.getFor(workspaceID, id, "")
}

// getFor returns an upload of the workspace and entity ("" for contacts).
func (us *importUploads) getFor(workspaceID, id, entity string) *importUpload {
	us.mu.Lock()
	defer us.mu.Unlock()
	if u := us.uploads[id]; u != nil && u.WorkspaceID == workspaceID && u.Entity == entity {
		return u
	}
	return nil
}

// importProgress is a started import as its page shows it.
type importProgress struct {
	Started, Done bool
	Interrupted   bool
	Rows, Total   int64
	Percent       int64
	Result        *store.ImportResult
	Err           string
}

// importPage is the upload form, the mapping step, or the progress of one import.
type importPage struct {
	Upload    *importUpload // the mapping step
	View      importView    // the mapping step: the upload read in one encoding
	Encodings []encodingChoice
	JobID     string // once started
	FileName  string // when the upload is still known
	Progress  importProgress
	Poll      jobProgress // the started import's progress panel
	Fields    []string
}

// NewField is the mapping choice that makes a custom field of a column.
func (importPage) NewField() string { return store.MappingNewField }

// importView is an upload read in one encoding: what the mapping step
// shows, and what the import will read.
type importView struct {
	Encoding  string // "" for a UTF-8 file
	Header    []string
	Preview   [][]string
	Suggested []string // the field each column is mapped to
	// Guessed is the type of the custom field each column would make
	// (store.MappingNewField), "" for a column empty in the whole file.
	Guessed []string
	Source  string     // the CRM the file was exported from, if known
	Sample  [][]string // the first rows, as new fields are typed from them
}

// NewFieldLabel is the mapping choice that makes a custom field of column i.
func (v importView) NewFieldLabel(i int) string {
	if i < len(v.Guessed) && v.Guessed[i] != "" {
		return "Create a custom field (" + v.Guessed[i] + ")"
	}
	return "Create a custom field"
}

// ConvertedFrom names the encoding the import converts from, if any.
func (v importView) ConvertedFrom() string {
	if v.Encoding == "" || v.Encoding == store.EncodingUTF8 {
		return ""
	}
	return store.EncodingName(v.Encoding)
}

// encodingChoice is an option of the mapping step's encoding select.
type encodingChoice struct {
	Value, Label string
	Selected     bool
}

// encodingChoices are what a file that is not UTF-8 can be read as.
func encodingChoices(selected string) []encodingChoice {
	labels := map[string]string{
		store.EncodingUTF8:        "UTF-8, as it is (its rows that are not UTF-8 are refused)",
		store.EncodingWindows1252: "Windows-1252 (Excel on Windows)",
		store.EncodingLatin1:      "ISO-8859-1 (Latin-1)",
	}
	var out []encodingChoice
	for _, enc := range store.CSVEncodings {
		out = append(out, encodingChoice{Value: enc, Label: labels[enc], Selected: enc == selected})
	}
	return out
}

func (s *Server) importForm(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Import contacts")
	v.Section = "contacts"
	v.Page = importPage{}
	s.render(w, r, http.StatusOK, "import", v)
}

func (s *Server) importFormError(w http.ResponseWriter, r *http.Request, msg string) {
	v := s.newView(r, "Import contacts")
	v.Section = "contacts"
	v.Form.Fail("file", msg)
	v.Page = importPage{}
	s.render(w, r, http.StatusUnprocessableEntity, "import", v)
}

// uploadImport keeps the uploaded CSV, reads its header and first rows, and
// shows the mapping step.
func (s *Server) uploadImport(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	file, fh, err := r.FormFile("file")
	if err != nil {
		s.importFormError(w, r, "Choose a CSV file to import.")
		return
	}
	defer file.Close()
	up := &importUpload{ID: store.NewToken()[:22], WorkspaceID: wc.ws.ID, FileName: fh.Filename, Created: time.Now()}
	up.Path = filepath.Join(s.tenants.DataDir(), ".import-"+up.ID+".csv")
	if err := saveUpload(file, up.Path); err != nil {
		s.fail(w, r, err) // a full disk says so; anything else is internal
		return
	}
	if err := readImportHead(up); err != nil {
		os.Remove(up.Path)
		s.importFormError(w, r, store.ErrorMessage(err))
		return
	}
	s.imports.add(up)
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "contacts", "import", up.ID), http.StatusSeeOther)
}

func saveUpload(src io.Reader, path string) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		os.Remove(path)
		return err
	}
	return out.Close()
}

// readImportHead reads the header, five preview rows and the row count, and
// proposes a conversion for a file that is not UTF-8.
func readImportHead(up *importUpload) error {
	f, err := os.Open(up.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr, err := store.NewCSVReader(f)
	if err != nil {
		return err
	}
	if up.Header, err = store.ReadCSVHeader(cr); err != nil {
		return err
	}
	// The whole file is read now, so the row count is the real one and
	// structural problems show, with their lines, before anything is
	// imported.
	scan, err := store.ScanCSV(cr, up.Header, 5)
	if err != nil {
		return err
	}
	up.Total, up.Preview, up.Scan = scan.Rows, scan.Preview, scan
	if scan.NotUTF8 > 0 {
		up.Encoding = store.LegacyEncoding
	}
	return nil
}

// uploadView reads an upload in the encoding enc: a UTF-8 file as it is,
// one that is not in the encoding chosen (its proposed one when enc is
// empty or unknown). Only the first rows are read again: a conversion
// keeps every row where it is, so the scan's counts and lines hold.
func uploadView(ctx context.Context, db *store.DB, up *importUpload, enc string) (importView, error) {
	v := importView{Header: up.Header, Preview: up.Preview}
	if up.Encoding != "" {
		v.Encoding = up.Encoding
		if e, err := store.ParseEncoding(enc); err == nil && e != store.EncodingUTF8Strict {
			v.Encoding = e
		}
		f, err := os.Open(up.Path)
		if err != nil {
			return v, err
		}
		defer f.Close()
		if v.Header, v.Preview, err = store.PreviewCSV(f, v.Encoding, len(up.Preview)); err != nil {
			return v, err
		}
	}
	switch up.Entity {
	case "deals":
		fields, err := store.CustomFields(ctx, db, store.KindDeal)
		if err != nil {
			return v, err
		}
		v.Suggested = store.SuggestDealMapping(v.Header, fields)
	case "companies":
		fields, err := store.CustomFields(ctx, db, "company")
		if err != nil {
			return v, err
		}
		v.Suggested = store.SuggestCompanyMapping(v.Header, fields)
	default:
		fields, err := store.CustomFields(ctx, db, "contact")
		if err != nil {
			return v, err
		}
		v.Suggested = store.SuggestMapping(v.Header, fields)
	}
	v.Source = store.DetectSource(v.Header)
	// New fields are typed from the rows the import will type them from.
	f, err := os.Open(up.Path)
	if err != nil {
		return v, err
	}
	defer f.Close()
	enc = v.Encoding
	if enc == "" {
		enc = store.EncodingUTF8
	}
	_, sample, err := store.PreviewCSV(f, enc, store.ImportSampleRows)
	if err != nil {
		return v, err
	}
	v.Sample = sample
	if up.Entity == "deals" {
		return v, nil // a deal import makes no custom fields
	}
	v.Guessed = store.ColumnGuesses(v.Header, sample, up.Total <= store.ImportSampleRows)
	// A column no field takes becomes a custom field unless it is empty:
	// nothing is left out unless the user says so.
	for i, f := range v.Suggested {
		if f == "" && v.Guessed[i] != "" {
			v.Suggested[i] = store.MappingNewField
		}
	}
	return v, nil
}

// importJobPage shows the mapping step before the import starts, then its
// progress (polled by htmx every second), then its report. A started
// import is a job of the workspace, so its page survives a restart.
func (s *Server) importJobPage(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["job"]
	up := s.imports.get(wc.ws.ID, id)
	page := importPage{Upload: up, JobID: id}
	if up != nil {
		page.FileName = up.FileName
	}
	job, err := s.tenants.Job(r.Context(), wc.ws.ID, id)
	switch {
	case err == nil && job.Kind == tenant.JobImportContacts:
		page.Upload = nil
		if page.Progress, err = importProgressOf(r.Context(), wc.lease.DB, job); err != nil {
			s.fail(w, r, err)
			return
		}
		rows, _ := countOf(page.Progress.Total, "row", "rows")
		page.Poll = jobProgress{ID: "import-progress", URL: workspaceURL(wc.ws.ID, "contacts", "import", id), Done: page.Progress.Done,
			Title: "Importing " + cmp.Or(page.FileName, "contacts") + "…", Label: strconv.FormatInt(page.Progress.Rows, 10) + " of " + rows + " read",
			Percent: page.Progress.Percent}
	case err == nil || store.ErrorCode(err) == store.ENotFound:
		if up == nil {
			s.notFound(w, r)
			return
		}
		page.Fields = s.importFields(r.Context(), wc.lease.DB)
		q := r.URL.Query()
		if page.View, err = uploadView(r.Context(), wc.lease.DB, up, q.Get("encoding")); err != nil {
			s.fail(w, r, err)
			return
		}
		page.Encodings = encodingChoices(page.View.Encoding)
		// Choices made before the encoding changed are kept.
		for i := range page.View.Suggested {
			if m, ok := q["map_"+strconv.Itoa(i)]; ok {
				page.View.Suggested[i] = m[0]
			}
		}
	default:
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Import contacts")
	v.Section = "contacts"
	v.Page = page
	s.render(w, r, http.StatusOK, "import", v)
}

// importFields are the mapping step's choices.
func (s *Server) importFields(ctx context.Context, db *store.DB) []string {
	fields := append([]string{}, store.ImportFields...)
	if cf, err := store.CustomFields(ctx, db, "contact"); err == nil {
		for _, f := range cf {
			fields = append(fields, "custom."+f.Key)
		}
	}
	return fields
}

// importProgressOf reads a started import: its progress from the catalog,
// and once done its report from the workspace's file.
func importProgressOf(ctx context.Context, db *store.DB, job *store.Job) (importProgress, error) {
	p := importProgress{Started: true, Done: job.Finished(), Rows: job.Progress, Total: job.Total,
		Interrupted: job.State == store.JobInterrupted, Err: job.Error}
	if job.Total > 0 {
		p.Percent = min(100, job.Progress*100/job.Total)
	}
	if job.State != store.JobDone {
		return p, nil
	}
	p.Percent = 100
	var rep tenant.ContactImportReport
	err := store.JobReport(ctx, db, job.ID, &rep)
	switch {
	case err == nil:
		p.Result = rep.Result
	case store.ErrorCode(err) == store.ENotFound:
		// The report is gone (kept 30 days, or it could not be saved):
		// the counts remain.
		var c tenant.ImportCounts
		if err := json.Unmarshal([]byte(job.Result), &c); err != nil {
			return p, err
		}
		p.Result = &store.ImportResult{Read: c.Read, Created: c.Created, Updated: c.Updated, Skipped: c.Skipped, Failed: c.Failed}
	default:
		return p, err
	}
	return p, nil
}

// startImport takes the mapping and starts the import as a job of the
// workspace.
func (s *Server) startImport(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	up := s.imports.get(wc.ws.ID, mux.Vars(r)["job"])
	if up == nil {
		s.notFound(w, r)
		return
	}
	mapping := make([]string, len(up.Header))
	for i := range mapping {
		mapping[i] = r.PostForm.Get("map_" + strconv.Itoa(i))
	}
	// The file is read as its preview was: a UTF-8 one as it is, one that
	// is not in the encoding its mapping step showed.
	view, err := uploadView(r.Context(), wc.lease.DB, up, r.PostForm.Get("encoding"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	enc := view.Encoding
	if enc == "" {
		enc = store.EncodingUTF8
	}
	if up.start() {
		// Counted against the day's imports once this request has claimed
		// the upload: a second click does not count it twice.
		err := wc.svc.StartingImport(r.Context(), int64(up.Total))
		if err == nil {
			_, err = s.tenants.StartContactImport(r.Context(), tenant.ContactImport{
				JobID: up.ID, WorkspaceID: wc.ws.ID, Actor: s.actor(r), Path: up.Path, Header: view.Header, Rows: up.Total,
				// Every column's choice was made on the mapping step: one left
				// out is skipped, and listed in the result.
				Opts: store.ImportOptions{Mapping: mapping, Update: r.PostForm.Get("mode") == "update", Encoding: enc,
					ImportSuppressed: r.PostForm.Get("suppressed") == "import", Unmapped: store.UnmappedSkip, FileName: up.FileName},
			})
		}
		if err != nil {
			// Not started after all: the form can be sent again, and the
			// sweep still removes an upload left alone.
			up.unstart()
			s.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "contacts", "import", up.ID), http.StatusSeeOther)
}

// importErrors downloads the rows an import refused, as CSV.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["job"]
	job, err := s.tenants.Job(r.Context(), wc.ws.ID, id)
	if err != nil || job.Kind != tenant.JobImportContacts {
		s.notFound(w, r)
		return
	}
	var rep tenant.ContactImportReport
	if err := store.JobReport(r.Context(), wc.lease.DB, id, &rep); err != nil {
		s.fail(w, r, err)
		return
	}
	download(w, "text/csv; charset=utf-8", "import-errors.csv")
	// The report is the refused rows as they were, after their row number
	// and what is wrong: fixed, they can be imported again as they are.
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"row", "message"}, rep.Header...))
	if rep.Result != nil {
		for _, e := range rep.Result.Errors {
			line := []string{strconv.Itoa(e.Row), store.CSVSafe(e.Message)}
			for _, v := range e.Values {
				line = append(line, store.CSVSafe(v))
			}
			cw.Write(line)
		}
	}
	cw.Flush()
}

// apiImportContacts is POST /api/v1/contacts/import: a CSV body with a
// header row, imported at once; ?mode=update updates contacts whose email
// exists instead of skipping them; ?encoding=windows-1252 or iso-8859-1
// converts a file that is not UTF-8 (without it, such a file is refused,
// naming its first line that is not UTF-8); a row adding a suppressed
// address is skipped with a note, unless ?suppressed=import; columns that
// match no field are refused (422, naming them) unless ?unmapped=create
// makes a custom field of each or ?unmapped=skip leaves them out.
func (s *Server) apiImportContacts(w http.ResponseWriter, r *http.Request) {
	opt, err := apiImportOptions(r.URL.Query())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	opt.ImportSuppressed = r.URL.Query().Get("suppressed") == "import"
	s.apiImport(w, r, tenant.JobImportContacts, func(c *apiCaller, body io.Reader) (*store.ImportResult, error) {
		return c.svc.ImportContacts(r.Context(), c.actor, body, opt)
	})
}

// importSummary downloads the migration summary of an import as CSV: one
// line for its file, with what became of its rows, columns and owners.
func (s *Server) importSummary(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["job"]
	job, err := s.tenants.Job(r.Context(), wc.ws.ID, id)
	if err != nil || job.Kind != tenant.JobImportContacts || job.State != store.JobDone {
		s.notFound(w, r)
		return
	}
	var rep tenant.ContactImportReport
	if err := store.JobReport(r.Context(), wc.lease.DB, id, &rep); err != nil {
		s.fail(w, r, err)
		return
	}
	file := "contacts.csv"
	if up := s.imports.get(wc.ws.ID, id); up != nil {
		file = up.FileName
	}
	download(w, "text/csv; charset=utf-8", "import-summary.csv")
	writeMigrationSummary(w, []migrationFile{{Name: file, Entity: "contacts", Result: rep.Result}})
}

// migrationFile is one imported file of a migration summary.
type migrationFile struct {
	Name, Entity string
	Result       *store.ImportResult
}

// writeMigrationSummary writes one CSV line per file: its rows created,
// updated, skipped and failed, the fields created, the columns skipped,
// and the owners matched and not.
func writeMigrationSummary(w io.Writer, files []migrationFile) {
	cw := csv.NewWriter(w)
	cw.Write([]string{"file", "records", "source", "read", "created", "updated", "skipped", "failed", "fields_created", "columns_skipped",
		"owners_matched", "owners_not_members"})
	for _, f := range files {
		res := f.Result
		if res == nil {
			res = &store.ImportResult{}
		}
		var unmatched []string
		for _, o := range res.UnmatchedOwners {
			unmatched = append(unmatched, o.Owner+" ("+strconv.Itoa(o.Rows)+" rows)")
		}
		line := []string{f.Name, f.Entity, res.Source, strconv.Itoa(res.Read), strconv.Itoa(res.Created), strconv.Itoa(res.Updated),
			strconv.Itoa(res.Skipped), strconv.Itoa(res.Failed), strings.Join(res.FieldsCreated, "; "), strings.Join(res.SkippedColumns, "; "),
			strconv.Itoa(res.OwnersMatched), strings.Join(unmatched, "; ")}
		for i := range line {
			line[i] = store.CSVSafe(line[i])
		}
		cw.Write(line)
	}
	cw.Flush()
}
