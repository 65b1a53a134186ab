package handlers

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// usagePage is a printable monthly statement.
type usagePage struct {
	Statement *tenant.Statement
	// One is set for one workspace's statement, empty for the unified one.
	One    string
	Months []string // the last twelve, for the month picker
	Agency bool
	Base   string // the page's path, for the format links
}

// meterLabels are how statements name the meters.
var meterLabels = map[string]string{
	store.MeterSeats: "Seats (most members on a day)", store.MeterContacts: "Contacts (most on a day)",
	store.MeterStorage: "Storage (most on a day)", store.MeterEmailsSent: "Emails sent",
	store.MeterAPICalls: "API calls", store.MeterImports: "Imports",
}

// consoleUsage is the unified statement of the console's workspaces for
// ?month= (the current one by default), as HTML, CSV or JSON (?format=).
func (s *Server) consoleUsage(w http.ResponseWriter, r *http.Request, ownerID string) {
	var ids []string // nil: every workspace, deleted ones included
	if ownerID != "" {
		var err error
		if ids, err = store.OwnedWorkspaceIDs(r.Context(), s.catalog.R, ownerID); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.renderStatement(w, r, ids, "", ownerID != "")
}

// consoleWorkspaceUsage is one workspace's statement; a workspace out of
// the caller's console is 404, as if it did not exist.
func (s *Server) consoleWorkspaceUsage(w http.ResponseWriter, r *http.Request, ownerID string) {
	id, err := tenant.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.notFound(w, r)
		return
	}
	if ownerID != "" {
		owns, err := store.OwnsWorkspace(r.Context(), s.catalog.R, ownerID, id)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if !owns {
			s.notFound(w, r)
			return
		}
	} else if _, err := store.GetWorkspace(r.Context(), s.catalog.R, id); err != nil {
		s.fail(w, r, err) // not_found: 404
		return
	}
	s.renderStatement(w, r, []string{id}, id, ownerID != "")
}

// renderStatement writes the statement of ids (nil: all) in the format
// asked for.
func (s *Server) renderStatement(w http.ResponseWriter, r *http.Request, ids []string, one string, agency bool) {
	now := time.Now()
	month, err := tenant.ParseMonth(r.URL.Query().Get("month"), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.tenants.UsageStatement(r.Context(), month, ids)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "json":
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, st)
	case "csv":
		writeStatementCSV(w, st)
	default:
		page := usagePage{Statement: st, One: one, Agency: agency, Base: r.URL.Path}
		first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		for i := range 12 {
			page.Months = append(page.Months, first.AddDate(0, -i, 0).Format("2006-01"))
		}
		v := s.newView(r, "Usage "+month)
		v.Page = page
		s.render(w, r, http.StatusOK, "usage", v)
	}
}

// writeStatementCSV writes a statement's lines and totals; amounts are in
// minor units (exact) and as written for people.
func writeStatementCSV(w http.ResponseWriter, st *tenant.Statement) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="usage-`+st.Month+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"month", "workspace_id", "workspace", "meter", "quantity", "unit_price_minor", "per", "amount_minor", "amount", "currency"})
	for _, ws := range st.Workspaces {
		for _, l := range ws.Lines {
			cw.Write([]string{l.Month, l.WorkspaceID, csvSafe(l.WorkspaceName), l.Meter, i64(l.Quantity), i64(l.UnitMinor), i64(l.Per),
				i64(l.AmountMinor), store.FormatMoney(l.AmountMinor, l.Currency), l.Currency})
		}
		cw.Write([]string{st.Month, ws.WorkspaceID, csvSafe(ws.Name), "total", "", "", "", i64(ws.TotalMinor), store.FormatMoney(ws.TotalMinor, st.Currency), st.Currency})
	}
	cw.Write([]string{st.Month, "", "all workspaces", "total", "", "", "", i64(st.TotalMinor), store.FormatMoney(st.TotalMinor, st.Currency), st.Currency})
	cw.Flush()
}

// apiUsage is the key's workspace's statement for ?month= (JSON, or CSV
// with ?format=csv): never another workspace's.
func (s *Server) apiUsage(w http.ResponseWriter, r *http.Request) {
	month, err := tenant.ParseMonth(r.URL.Query().Get("month"), time.Now())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	st, err := s.tenants.UsageStatement(r.Context(), month, []string{callerFrom(r).lease.ID})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		writeStatementCSV(w, st)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// unitPrice writes a line's price for people: "5.00 EUR each".
func unitPrice(l store.StatementLine) string {
	p := store.FormatMoney(l.UnitMinor, l.Currency) + " " + l.Currency
	switch l.Per {
	case 1:
		return p + " each"
	case 1000:
		return p + " per 1,000"
	case 1_000_000_000:
		return p + " per GB"
	}
	return p + " per " + strconv.FormatInt(l.Per, 10)
}
