package handlers

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
)

// Imports of companies and of deals from a CRM's export, with the mapping
// step of contacts. Their files are small next to people's: the import
// runs in the request that starts it, and its report is kept in the
// workspace's file under the upload's id.

// recordImport is what differs between the imports of companies and deals.
type recordImport struct {
	Entity  string // "companies" or "deals", as in URLs
	Title   string
	Section string
	Fields  []string
}

var recordImports = map[string]recordImport{
	"companies": {Entity: "companies", Title: "Import companies", Section: "companies", Fields: store.CompanyImportFields},
	"deals":     {Entity: "deals", Title: "Import deals", Section: "deals", Fields: store.DealImportFields},
}

// recordImportReport is what the workspace's file keeps of such an import.
type recordImportReport struct {
	Entity string              `json:"entity"`
	File   string              `json:"file"`
	Header []string            `json:"header"`
	Result *store.ImportResult `json:"result"`
}

// recordImportPage is the upload form, the mapping step or the report.
type recordImportPage struct {
	Import   recordImport
	Upload   *importUpload
	View     importView
	Fields   []string
	Missing  []string // deals: stages and pipelines the workspace lacks
	Report   *recordImportReport
	ReportID string
}

// NewField is the mapping choice that makes a custom field of a column.
func (recordImportPage) NewField() string { return store.MappingNewField }

func (s *Server) recordImportView(r *http.Request, kind recordImport, page recordImportPage, status int, w http.ResponseWriter) {
	v := s.newView(r, kind.Title)
	v.Section = kind.Section
	page.Import = kind
	v.Page = page
	s.render(w, r, status, "import_records", v)
}

// recordImportForm is GET /companies/import or /deals/import.
func (s *Server) recordImportForm(kind recordImport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.recordImportView(r, kind, recordImportPage{}, http.StatusOK, w)
	}
}

// uploadRecordImport keeps the uploaded CSV and shows the mapping step.
func (s *Server) uploadRecordImport(kind recordImport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wc := workspaceFrom(r)
		fail := func(msg string) {
			v := s.newView(r, kind.Title)
			v.Section = kind.Section
			v.Form.Fail("file", msg)
			v.Page = recordImportPage{Import: kind}
			s.render(w, r, http.StatusUnprocessableEntity, "import_records", v)
		}
		file, fh, err := r.FormFile("file")
		if err != nil {
			fail("Choose a CSV file to import.")
			return
		}
		defer file.Close()
		up := &importUpload{ID: store.NewToken()[:22], WorkspaceID: wc.ws.ID, Entity: kind.Entity, FileName: fh.Filename, Created: time.Now()}
		up.Path = filepath.Join(s.tenants.DataDir(), ".import-"+up.ID+".csv")
		if err := saveUpload(file, up.Path); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := readImportHead(up); err != nil {
			os.Remove(up.Path)
			fail(store.ErrorMessage(err))
			return
		}
		s.imports.add(up)
		http.Redirect(w, r, workspaceURL(wc.ws.ID, kind.Entity, "import", up.ID), http.StatusSeeOther)
	}
}

// recordImportJob is GET /{companies,deals}/import/{job}: the report of
// an import done, else the mapping step of its upload.
func (s *Server) recordImportJob(kind recordImport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wc := workspaceFrom(r)
		id := mux.Vars(r)["job"]
		rep, err := s.recordReport(r, kind, id)
		switch {
		case err == nil:
			s.recordImportView(r, kind, recordImportPage{Report: rep, ReportID: id}, http.StatusOK, w)
			return
		case store.ErrorCode(err) != store.ENotFound:
			s.fail(w, r, err)
			return
		}
		up := s.imports.getFor(wc.ws.ID, id, kind.Entity)
		if up == nil {
			s.notFound(w, r)
			return
		}
		page, err := s.recordMappingPage(r, kind, up, r.URL.Query())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.recordImportView(r, kind, page, http.StatusOK, w)
	}
}

// recordReport reads the report of an import of kind; one of anything
// else (a contacts import's, another entity's) is not found.
func (s *Server) recordReport(r *http.Request, kind recordImport, id string) (*recordImportReport, error) {
	var rep recordImportReport
	if err := store.JobReport(r.Context(), workspaceFrom(r).lease.DB, id, &rep); err != nil {
		return nil, err
	}
	if rep.Entity != kind.Entity {
		return nil, store.Errorf(store.ENotFound, "That import does not exist.")
	}
	return &rep, nil
}

// recordMappingPage reads an upload for its mapping step; choices in q
// (map_N) are kept.
func (s *Server) recordMappingPage(r *http.Request, kind recordImport, up *importUpload, q map[string][]string) (recordImportPage, error) {
	wc := workspaceFrom(r)
	page := recordImportPage{Upload: up, Fields: slices.Clone(kind.Fields)}
	var err error
	if page.View, err = uploadView(r.Context(), wc.lease.DB, up, ""); err != nil {
		return page, err
	}
	for i := range page.View.Suggested {
		if m, ok := q["map_"+strconv.Itoa(i)]; ok && len(m) > 0 {
			page.View.Suggested[i] = m[0]
		}
	}
	if kind.Entity == "companies" || kind.Entity == "deals" {
		if cf, err := store.CustomFields(r.Context(), wc.lease.DB, map[string]store.Kind{"companies": store.KindCompany, "deals": store.KindDeal}[kind.Entity]); err == nil {
			for _, f := range cf {
				page.Fields = append(page.Fields, "custom."+f.Key)
			}
		}
	}
	if kind.Entity == "deals" {
		if page.Missing, err = store.MissingDealStages(r.Context(), wc.lease.DB, page.View.Suggested, page.View.Sample, ""); err != nil {
			return page, err
		}
	}
	return page, nil
}

// runRecordImport is POST /{companies,deals}/import/{job}: it imports the
// upload with the mapping chosen, keeps the report and shows it.
func (s *Server) runRecordImport(kind recordImport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wc := workspaceFrom(r)
		up := s.imports.getFor(wc.ws.ID, mux.Vars(r)["job"], kind.Entity)
		if up == nil {
			s.notFound(w, r)
			return
		}
		mapping := make([]string, len(up.Header))
		for i := range mapping {
			mapping[i] = r.PostForm.Get("map_" + strconv.Itoa(i))
		}
		if !up.start() {
			http.Redirect(w, r, workspaceURL(wc.ws.ID, kind.Entity, "import", up.ID), http.StatusSeeOther)
			return
		}
		res, err := s.runRecordFile(r, kind, up, mapping)
		if err != nil {
			up.unstart()
			if code := store.ErrorCode(err); code == store.EValidation || code == store.EInvalid {
				// Refused whole (stages missing, a bad mapping): the mapping
				// step again, saying why.
				page, perr := s.recordMappingPage(r, kind, up, r.PostForm)
				if perr != nil {
					s.fail(w, r, perr)
					return
				}
				v := s.newView(r, kind.Title)
				v.Section = kind.Section
				v.Form.Fail("mapping", store.ErrorMessage(err))
				page.Import = kind
				v.Page = page
				s.render(w, r, http.StatusUnprocessableEntity, "import_records", v)
				return
			}
			s.fail(w, r, err)
			return
		}
		rep := recordImportReport{Entity: kind.Entity, File: up.FileName, Header: up.Header, Result: res}
		if err := store.SaveJobReport(r.Context(), wc.lease.DB, up.ID, "import_"+kind.Entity, rep); err != nil {
			s.fail(w, r, err)
			return
		}
		os.Remove(up.Path)
		http.Redirect(w, r, workspaceURL(wc.ws.ID, kind.Entity, "import", up.ID), http.StatusSeeOther)
	}
}

// runRecordFile imports an upload's file as its mapping step showed it.
func (s *Server) runRecordFile(r *http.Request, kind recordImport, up *importUpload, mapping []string) (*store.ImportResult, error) {
	wc := workspaceFrom(r)
	if err := wc.svc.StartingImport(r.Context(), -1); err != nil {
		return nil, err
	}
	f, err := os.Open(up.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	enc := up.Encoding
	if enc == "" {
		enc = store.EncodingUTF8
	}
	// Every column's choice was made on the mapping step: one left out
	// is skipped, and listed in the result.
	opt := store.ImportOptions{Mapping: mapping, Update: r.PostForm.Get("mode") == "update", Encoding: enc, Unmapped: store.UnmappedSkip}
	var body io.Reader = f
	var res *store.ImportResult
	// A job's slot and thread, as the contacts' import job has.
	err = s.tenants.RunHeavy(r.Context(), wc.ws.ID, "import."+kind.Entity, func() (err error) {
		if kind.Entity == "deals" {
			dopt := store.DealImportOptions{ImportOptions: opt}
			if r.PostForm.Get("stages") == store.StagesCreate {
				dopt.Stages = store.StagesCreate
			}
			res, err = wc.svc.ImportDeals(r.Context(), s.actor(r), body, dopt)
			return err
		}
		res, err = wc.svc.ImportCompanies(r.Context(), s.actor(r), body, opt)
		return err
	})
	return res, err
}

// recordImportSummary downloads the migration summary of such an import.
func (s *Server) recordImportSummary(kind recordImport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.recordReport(r, kind, mux.Vars(r)["job"])
		if store.ErrorCode(err) == store.ENotFound {
			s.notFound(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		download(w, "text/csv; charset=utf-8", "import-summary.csv")
		writeMigrationSummary(w, []migrationFile{{Name: rep.File, Entity: kind.Entity, Result: rep.Result}})
	}
}
