package handlers

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
)

// importJob is one CSV import of contacts: uploaded, mapped, then run in
// the background while its page shows progress. Jobs live in memory; a
// restart forgets them (the upload is a temporary file).
type importJob struct {
	ID          string
	WorkspaceID string
	Path        string
	FileName    string
	Header      []string
	Preview     [][]string
	Suggested   []string
	Total       int // data rows
	Scan        store.CSVScan
	Created     time.Time

	mu      sync.Mutex
	started bool
	done    bool
	rows    int
	result  *store.ImportResult
	err     string
}

// snapshot is the job's progress, read under its lock.
type importProgress struct {
	Started, Done bool
	Rows, Total   int
	Percent       int
	Result        *store.ImportResult
	Err           string
}

func (j *importJob) progress() importProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := importProgress{Started: j.started, Done: j.done, Rows: j.rows, Total: j.Total, Result: j.result, Err: j.err}
	if j.Total > 0 {
		p.Percent = min(100, j.rows*100/j.Total)
	}
	if j.done {
		p.Percent = 100
	}
	return p
}

// importJobs holds the jobs of the instance.
type importJobs struct {
	mu   sync.Mutex
	jobs map[string]*importJob
}

// importJobTTL is how long a job is kept: an upload never started loses
// its file then, and a finished report is forgotten.
const importJobTTL = 6 * time.Hour

func (js *importJobs) add(j *importJob) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.jobs == nil {
		js.jobs = map[string]*importJob{}
	}
	js.sweep(j.Created)
	js.jobs[j.ID] = j
}

// sweep forgets jobs older than importJobTTL that are not running, and
// removes the uploads of those never started; js.mu is held.
func (js *importJobs) sweep(now time.Time) {
	for id, old := range js.jobs {
		p := old.progress()
		if now.Sub(old.Created) < importJobTTL || (p.Started && !p.Done) {
			continue
		}
		if !p.Started {
			os.Remove(old.Path)
		}
		delete(js.jobs, id)
	}
}

// get returns a job of the workspace; a job of another is not found.
func (js *importJobs) get(workspaceID, id string) *importJob {
	js.mu.Lock()
	defer js.mu.Unlock()
	if j := js.jobs[id]; j != nil && j.WorkspaceID == workspaceID {
		return j
	}
	return nil
}

// importPage is the upload form, the mapping step, or the progress of one import.
type importPage struct {
	Job      *importJob
	Progress importProgress
	Fields   []string
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
	job := &importJob{ID: store.NewToken()[:22], WorkspaceID: wc.ws.ID, FileName: fh.Filename, Created: time.Now()}
	job.Path = filepath.Join(s.tenants.DataDir(), ".import-"+job.ID+".csv")
	if err := saveUpload(file, job.Path); err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := readImportHead(r.Context(), wc.lease.DB, job); err != nil {
		os.Remove(job.Path)
		s.importFormError(w, r, store.ErrorMessage(err))
		return
	}
	s.imports.add(job)
	http.Redirect(w, r, "/w/"+wc.ws.ID+"/contacts/import/"+job.ID, http.StatusSeeOther)
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

// readImportHead reads the header, five preview rows and the row count.
func readImportHead(ctx context.Context, db *store.DB, job *importJob) error {
	f, err := os.Open(job.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr, err := store.NewCSVReader(f)
	if err != nil {
		return err
	}
	if job.Header, err = store.ReadCSVHeader(cr); err != nil {
		return err
	}
	// The whole file is read now, so the row count is the real one and
	// structural problems show, with their lines, before anything is
	// imported.
	scan, err := store.ScanCSV(cr, len(job.Header), 5)
	if err != nil {
		return err
	}
	job.Total, job.Preview, job.Scan = scan.Rows, scan.Preview, scan
	fields, err := store.CustomFields(ctx, db, "contact")
	if err != nil {
		return err
	}
	job.Suggested = store.SuggestMapping(job.Header, fields)
	return nil
}

// importJobPage shows the mapping step before the import starts, then its
// progress (polled by htmx every second), then its report.
func (s *Server) importJobPage(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	job := s.imports.get(wc.ws.ID, mux.Vars(r)["job"])
	if job == nil {
		s.notFound(w, r)
		return
	}
	page := importPage{Job: job, Progress: job.progress()}
	if !page.Progress.Started {
		// The mapping step's choices; the progress polls need none.
		page.Fields = append([]string{}, store.ImportFields...)
		if cf, err := store.CustomFields(r.Context(), wc.lease.DB, "contact"); err == nil {
			for _, f := range cf {
				page.Fields = append(page.Fields, "custom."+f.Key)
			}
		}
	}
	v := s.newView(r, "Import contacts")
	v.Section = "contacts"
	v.Page = page
	s.render(w, r, http.StatusOK, "import", v)
}

// startImport takes the mapping and runs the import in the background,
// holding a lease on the workspace until it ends.
func (s *Server) startImport(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	job := s.imports.get(wc.ws.ID, mux.Vars(r)["job"])
	if job == nil {
		s.notFound(w, r)
		return
	}
	mapping := make([]string, len(job.Header))
	for i := range mapping {
		mapping[i] = r.PostForm.Get("map_" + strconv.Itoa(i))
	}
	job.mu.Lock()
	already := job.started
	job.started = true
	job.mu.Unlock()
	if !already {
		lease, err := s.tenants.Acquire(context.WithoutCancel(r.Context()), wc.ws.ID)
		if err != nil {
			// Not started after all: the form can be sent again, and the
			// sweep still removes a job left alone.
			job.mu.Lock()
			job.started = false
			job.mu.Unlock()
			s.fail(w, r, err)
			return
		}
		opt := store.ImportOptions{Mapping: mapping, Update: r.PostForm.Get("mode") == "update"}
		go s.runImport(job, lease.DB, lease.Release, s.actor(r), opt)
	}
	http.Redirect(w, r, "/w/"+wc.ws.ID+"/contacts/import/"+job.ID, http.StatusSeeOther)
}

func (s *Server) runImport(job *importJob, db *store.DB, release func(), a store.Actor, opt store.ImportOptions) {
	defer release()
	defer os.Remove(job.Path)
	opt.Progress = func(rows int) {
		job.mu.Lock()
		job.rows = rows
		job.mu.Unlock()
	}
	f, err := os.Open(job.Path)
	var res *store.ImportResult
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		res, err = store.ImportContactsCSV(ctx, db, a, f, opt)
		cancel()
		f.Close()
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	job.done, job.result, job.rows = true, res, job.Total
	if err != nil {
		s.log.Error("import contacts", "workspace", job.WorkspaceID, "err", err)
		job.err = store.ErrorMessage(err)
	}
}

// importErrors downloads the rows an import refused, as CSV.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	job := s.imports.get(wc.ws.ID, mux.Vars(r)["job"])
	if job == nil {
		s.notFound(w, r)
		return
	}
	download(w, "text/csv; charset=utf-8", "import-errors.csv")
	// The report is the refused rows as they were, after their row number
	// and what is wrong: fixed, they can be imported again as they are.
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"row", "message"}, job.Header...))
	if res := job.progress().Result; res != nil {
		for _, e := range res.Errors {
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
// exists instead of skipping them.
func (s *Server) apiImportContacts(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	body := http.MaxBytesReader(w, r.Body, maxUploadBytes)
	res, err := store.ImportContactsCSV(r.Context(), c.db(), c.actor, body, store.ImportOptions{Update: r.URL.Query().Get("mode") == "update"})
	if err != nil {
		if tooLarge(err) {
			err = store.Errorf(store.ETooLarge, "The CSV is larger than %d MiB.", maxUploadBytes>>20)
		}
		if isTimeout(err) {
			err = errBodyTimeout
		}
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
