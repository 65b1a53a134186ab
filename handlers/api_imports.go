package handlers

import (
	"io"
	"net/http"
	"net/url"

	"atrium/store"
)

// The API's imports of companies and deals: a CSV body with a header row,
// imported at once, with the contacts import's conventions.

// apiImportOptions reads what every import takes: ?mode=update,
// ?encoding=, and ?unmapped=create|skip (without it, a column that matches
// no field refuses the import, naming it).
func apiImportOptions(q url.Values) (store.ImportOptions, error) {
	opt := store.ImportOptions{Update: q.Get("mode") == "update", Encoding: q.Get("encoding"), Unmapped: store.UnmappedRefuse}
	switch u := q.Get("unmapped"); u {
	case "":
	case store.UnmappedCreate, store.UnmappedSkip:
		opt.Unmapped = u
	default:
		return opt, store.Errorf(store.EInvalid, "unmapped must be create or skip.")
	}
	return opt, nil
}

// apiImport runs one import of a CSV body, counted against the day's
// imports, and writes its result. It waits for the workspace's job slot
// and runs on a job's thread, like an upload's import job.
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request, kind string, run func(c *apiCaller, body io.Reader) (*store.ImportResult, error)) {
	c := callerFrom(r)
	body := http.MaxBytesReader(w, r.Body, maxUploadBytes)
	err := c.svc.StartingImport(r.Context(), -1)
	var res *store.ImportResult
	if err == nil {
		err = s.tenants.RunHeavy(r.Context(), c.lease.ID, kind, func() (err error) {
			res, err = run(c, body)
			return err
		})
	}
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

// apiImportCompanies is POST /api/v1/companies/import: companies are
// deduplicated by domain and else by name; ?mode=update updates those
// already there instead of skipping them.
func (s *Server) apiImportCompanies(w http.ResponseWriter, r *http.Request) {
	opt, err := apiImportOptions(r.URL.Query())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiImport(w, r, "import.companies", func(c *apiCaller, body io.Reader) (*store.ImportResult, error) {
		return c.svc.ImportCompanies(r.Context(), c.actor, body, opt)
	})
}

// apiImportDeals is POST /api/v1/deals/import: deals go to pipelines and
// stages by name (?stages=create adds those missing; without it they
// refuse the import, naming them), ?pipeline= and ?currency= are the
// defaults of rows that name none; unmapped columns can only be skipped.
func (s *Server) apiImportDeals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt, err := apiImportOptions(q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	dopt := store.DealImportOptions{ImportOptions: opt, Pipeline: q.Get("pipeline"), Currency: q.Get("currency")}
	switch st := q.Get("stages"); st {
	case "", "refuse":
	case store.StagesCreate:
		dopt.Stages = st
	default:
		s.apiFail(w, r, store.Errorf(store.EInvalid, "stages must be create or refuse."))
		return
	}
	s.apiImport(w, r, "import.deals", func(c *apiCaller, body io.Reader) (*store.ImportResult, error) {
		return c.svc.ImportDeals(r.Context(), c.actor, body, dopt)
	})
}
