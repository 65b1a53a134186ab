package handlers

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// consolePerPage is how many workspaces one page of the console shows.
const consolePerPage = 100

// consoleScope is whose workspaces the console shows: every one for a
// superadmin (OwnerID ""), the ones they own for an agency owner. Anyone
// else has no console: ok is false and the caller answers 404.
func (s *Server) consoleScope(r *http.Request) (ownerID string, ok bool, err error) {
	u := authFrom(r).user
	if u.Superadmin {
		return "", true, nil
	}
	owns, err := store.OwnsAnyWorkspace(r.Context(), s.catalog.R, u.ID)
	return u.ID, owns, err
}

// requireConsole serves h to those with a console, with the scope
// consoleScope gives; anyone else gets 404, as if it did not exist.
func (s *Server) requireConsole(h func(w http.ResponseWriter, r *http.Request, ownerID string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ownerID, ok, err := s.consoleScope(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if !ok {
			s.notFound(w, r)
			return
		}
		h(w, r, ownerID)
	})
}

// consoleFilter reads the table's filter from the query string; bad
// values fall back to the defaults (a stale link still shows a table).
func (s *Server) consoleFilter(q url.Values, ownerID string, now time.Time) store.ConsoleFilter {
	f := store.ConsoleFilter{OwnerID: ownerID, Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Desc: q.Get("dir") == "desc",
		Currency: s.tenants.Config().Prices.Currency, Day: now.UTC().Format(time.DateOnly), Month: now.UTC().Format("2006-01")}
	if !store.ConsoleSorted(f.Sort) {
		f.Sort = "name"
	}
	if _, ok := s.tenants.Config().Regions[q.Get("region")]; ok {
		f.Region = q.Get("region")
	}
	if st := q.Get("state"); st == store.StateActive || st == store.StateTrashed {
		f.State = st
	}
	return f
}

// consolePage is the console's workspace table.
type consolePage struct {
	Rows           []consoleRow
	Filter         store.ConsoleFilter
	Params         url.Values
	Regions        []string
	Total          int
	From, To, Page int
	Prev, Next     int
	// Agency is true for an agency owner's console (their workspaces only).
	Agency bool
	Sorts  map[string]consoleSortLink
	// Totals add up the workspaces the filter keeps; Trend is the last
	// twelve months of the usage ledger over the console's workspaces.
	Totals                   *store.Portfolio
	TotalOpen, TotalWon      string
	Trend                    []store.MonthTotal
	EmailChart, ContactChart template.HTML
}

type consoleSortLink struct{ Href, Mark string }

// consoleRow is a table row with its money and backup written for people.
type consoleRow struct {
	store.ConsoleRow
	Pipeline, Won string
	BackupLag     string
	Backup        tenant.BackupStatus
}

// consoleColumns are the sortable columns in the table's order.
var consoleColumns = []string{"name", "owner", "region", "members", "contacts", "pipeline", "won", "sent", "replied", "activity", "storage", "state"}

// console shows the workspace table: every workspace to a superadmin, the
// ones they own to an agency owner, 404 to anyone else. It reads the
// catalog only (the counters the rollup job pushed), and the replication
// state of the page's hundred rows.
func (s *Server) console(w http.ResponseWriter, r *http.Request, ownerID string) {
	q := r.URL.Query()
	f := s.consoleFilter(q, ownerID, time.Now())
	n, _ := strconv.Atoi(q.Get("page"))
	n = max(n, 1)
	f.Limit, f.Offset = consolePerPage, (n-1)*consolePerPage
	rows, total, err := store.ConsoleWorkspaces(r.Context(), s.catalog.R, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := consolePage{Filter: f, Params: q, Total: total, Page: n, Agency: ownerID != "", Regions: s.tenants.Config().RegionNames(),
		From: f.Offset + 1, To: f.Offset + len(rows), Sorts: map[string]consoleSortLink{}}
	if n > 1 {
		page.Prev = n - 1
	}
	if page.To < total {
		page.Next = n + 1
	}
	for _, c := range consoleColumns {
		dir, mark := "asc", ""
		if c == f.Sort {
			if dir, mark = "desc", " ↑"; f.Desc {
				dir, mark = "asc", " ↓"
			}
		}
		page.Sorts[c] = consoleSortLink{Href: withParams(q, "sort", c, "dir", dir, "page", ""), Mark: mark}
	}
	if page.Rows, err = s.consoleRows(r, rows); err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Console")
	v.Page = page
	s.render(w, r, http.StatusOK, "console", v)
}

// consolePortfolio is the portfolio view: the totals of the workspaces
// the console's filter keeps, and the trend per month of all of the
// console's. Its own page: adding up 10,000 workspaces costs more than a
// page of the table.
func (s *Server) consolePortfolioPage(w http.ResponseWriter, r *http.Request, ownerID string) {
	q := r.URL.Query()
	page := consolePage{Filter: s.consoleFilter(q, ownerID, time.Now()), Params: q, Agency: ownerID != "", Regions: s.tenants.Config().RegionNames()}
	if err := s.consolePortfolio(r, &page, page.Filter); err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Portfolio")
	v.Page = page
	s.render(w, r, http.StatusOK, "portfolio", v)
}

// consolePortfolio adds the totals of the filtered workspaces and the
// trend per month of the console's.
func (s *Server) consolePortfolio(r *http.Request, page *consolePage, f store.ConsoleFilter) error {
	var err error
	if page.Totals, err = store.PortfolioTotals(r.Context(), s.catalog.R, f); err != nil {
		return err
	}
	page.TotalOpen, page.TotalWon = moneyList(page.Totals.Open), moneyList(page.Totals.WonMonth)
	first := time.Now().UTC().AddDate(0, -11, 0).Format("2006-01")
	if page.Trend, err = store.PortfolioTrend(r.Context(), s.catalog.R, f.OwnerID, first); err != nil {
		return err
	}
	labels, emails, contacts := make([]string, len(page.Trend)), make([]int64, len(page.Trend)), make([]int64, len(page.Trend))
	for i, m := range page.Trend {
		labels[i], emails[i], contacts[i] = m.Month, m.EmailsSent, m.Contacts
	}
	page.EmailChart, page.ContactChart = barChart(labels, emails, "emails sent"), barChart(labels, contacts, "contacts")
	return nil
}

// barChart draws one value per label as bars, in the geometry and style
// of dayChart; the numbers are in a table beside it.
func barChart(labels []string, values []int64, what string) template.HTML {
	peak := int64(1)
	for _, v := range values {
		peak = max(peak, v)
	}
	n := max(len(values), 1)
	slot := float64(chartW-2*chartPad) / float64(n)
	bar := max(1, slot*0.7)
	scale := float64(chartH-2*chartPad) / float64(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-hidden="true" focusable="false" preserveAspectRatio="none">`, chartW, chartH)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, chartPad, chartH-chartPad, chartW-chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">%d</text>`, 2, chartPad, peak)
	for i, v := range values {
		x := float64(chartPad) + float64(i)*slot + (slot-bar)/2
		h := float64(v) * scale
		fmt.Fprintf(&b, `<rect class="replied" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`,
			x, float64(chartH-chartPad)-h, bar, h, template.HTMLEscapeString(labels[i]), v, what)
	}
	if len(labels) > 0 {
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">%s</text>`, chartPad, chartH-8, template.HTMLEscapeString(labels[0]))
		fmt.Fprintf(&b, `<text class="tick end" x="%d" y="%d">%s</text>`, chartW-chartPad, chartH-8, template.HTMLEscapeString(labels[len(labels)-1]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers, and labels escaped
}

// consoleRows adds money written for people and the backup state.
func (s *Server) consoleRows(r *http.Request, rows []store.ConsoleRow) ([]consoleRow, error) {
	ws := make([]store.Workspace, len(rows))
	for i := range rows {
		ws[i] = rows[i].Workspace
	}
	statuses, err := s.tenants.WorkspacesBackupStatus(r.Context(), ws)
	if err != nil {
		return nil, err
	}
	out := make([]consoleRow, len(rows))
	for i, row := range rows {
		out[i] = consoleRow{ConsoleRow: row, Pipeline: moneyList(row.Open), Won: moneyList(row.WonMonth), Backup: statuses[i],
			BackupLag: backupLag(statuses[i])}
	}
	return out, nil
}

// moneyList writes amounts in several currencies: "1200.00 EUR · 30.00 USD".
func moneyList(ms []store.Money) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, store.FormatMoney(m.Minor, m.Currency)+" "+m.Currency)
	}
	return strings.Join(parts, " · ")
}

// backupLag is how far a workspace's replica is behind, for the table and
// its CSV: "in sync", "3 transactions, 12s", "not replicated yet".
func backupLag(st tenant.BackupStatus) string {
	switch {
	case st.Pristine:
		return "empty, nothing to back up"
	case st.LastError != "":
		return "error: " + st.LastError
	case st.LagTXIDs == 0 && st.ReplicatedTXID > 0:
		return "in sync"
	case st.ReplicatedTXID == 0:
		return "not replicated yet"
	}
	return fmt.Sprintf("%d transactions, %s", st.LagTXIDs, st.Lag.Round(time.Second))
}

// consoleCSV downloads the table as CSV: every matching row (not a page),
// in the table's order, with the same columns. Money is in minor units
// per currency, exact.
func (s *Server) consoleCSV(w http.ResponseWriter, r *http.Request, ownerID string) {
	f := s.consoleFilter(r.URL.Query(), ownerID, time.Now())
	rows, _, err := store.ConsoleWorkspaces(r.Context(), s.catalog.R, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out, err := s.consoleRows(r, rows)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="workspaces-`+f.Day+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "name", "owner", "region", "members", "contacts", "open_deals", "open_pipeline", "won_this_month",
		"sent_this_month", "replied_this_month", "last_activity", "storage_bytes", "backup_lag", "state"})
	for _, row := range out {
		last := ""
		if row.LastActivity != nil {
			last = row.LastActivity.UTC().Format(time.RFC3339)
		}
		cw.Write([]string{row.ID, csvSafe(row.Name), row.OwnerEmail, row.Region, i64(row.Members), i64(row.Contacts), i64(row.OpenDeals),
			moneyMinor(row.Open), moneyMinor(row.WonMonth), i64(row.SentMonth), i64(row.RepliedMonth), last, i64(row.StorageBytes),
			row.BackupLag, row.State})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.log.Error("console CSV", "err", err)
	}
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// moneyMinor writes amounts as "EUR 120000; USD 3000" (minor units).
func moneyMinor(ms []store.Money) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, m.Currency+" "+i64(m.Minor))
	}
	return strings.Join(parts, "; ")
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
