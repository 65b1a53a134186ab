package handlers

import (
	"net/http"

	"github.com/gorilla/mux"
	"net/url"
	"strconv"
	"strings"

	"atrium/store"
	"atrium/tenant"
)

// adminPerPage is how many workspaces one page of the console shows; only
// those get their backup status read.
const adminPerPage = 100

// adminPage is the instance console.
type adminPage struct {
	Workspaces []adminWorkspace
	Trashed    []store.Workspace
	Catalog    tenant.BackupStatus
	// Total and TotalBytes count every workspace, Matching those the
	// search keeps; From and To number the ones on this page (1-based).
	Total, Matching, From, To int
	TotalBytes                int64
	Query                     string
	Params                    url.Values
	Prev, Next                int // page numbers; 0 when there is none
	// Suppressions is the instance-wide suppression list.
	Suppressions instanceSuppressions
	// Plans are the config's plan names, for the plan pickers.
	Plans []string
	// Disks are the free space of each region's disk.
	Disks []tenant.DiskSpace
}

type adminWorkspace struct {
	tenant.Info
	Members int
	Backup  tenant.BackupStatus
	Use     tenant.ConsoleUse
}

// admin lists the instance's workspaces, a page at a time, with their
// region, size, members, state and backup, and the trashed ones. Sizes
// are the ones the rollup job pushed to the catalog: no workspace file is
// looked at (it stat'ed every file and WAL of the instance per view).
func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	total, totalBytes, err := store.ConsoleTotals(ctx, s.catalog.R)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := adminPage{Total: total, TotalBytes: totalBytes, Query: strings.TrimSpace(r.URL.Query().Get("q")), Params: r.URL.Query()}
	f := store.ConsoleFilter{Query: page.Query, State: store.StateActive, Sort: "created", Limit: adminPerPage}
	if page.Matching, err = store.ConsoleWorkspaceCount(ctx, s.catalog.R, f); err != nil {
		s.serverError(w, r, err)
		return
	}
	n := pageNumber(r.URL.Query().Get("page"), page.Matching)
	f.Offset = (n - 1) * adminPerPage
	rows, _, err := store.ConsoleWorkspaces(ctx, s.catalog.R, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page.From, page.To = f.Offset+1, f.Offset+len(rows)
	if n > 1 {
		page.Prev = n - 1
	}
	if page.To < page.Matching {
		page.Next = n + 1
	}
	infos := make([]tenant.Info, len(rows))
	members := make(map[string]int, len(rows))
	for i, row := range rows {
		infos[i] = tenant.Info{Workspace: row.Workspace, SizeBytes: row.StorageBytes}
		members[row.ID] = int(row.Members)
	}
	if page.Workspaces, err = s.adminRows(r, infos, members); err != nil {
		s.serverError(w, r, err)
		return
	}
	page.Plans = s.tenants.Config().PlanNames()
	page.Disks = s.tenants.DiskSpaces()
	page.Catalog = s.tenants.CatalogBackupStatus(ctx)
	if page.Trashed, err = s.tenants.ListTrashed(ctx); err != nil {
		s.serverError(w, r, err)
		return
	}
	if page.Suppressions, err = s.loadInstanceSuppressions(r); err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Console")
	v.Page = page
	s.render(w, r, http.StatusOK, "admin", v)
}

// adminRows adds backup status and plan use to one page of workspaces.
func (s *Server) adminRows(r *http.Request, infos []tenant.Info, counts map[string]int) ([]adminWorkspace, error) {
	ws := make([]store.Workspace, len(infos))
	for i := range infos {
		ws[i] = infos[i].Workspace
	}
	statuses, err := s.tenants.WorkspacesBackupStatus(r.Context(), ws)
	if err != nil {
		return nil, err
	}
	uses, err := s.tenants.ConsoleUses(r.Context(), infos, counts)
	if err != nil {
		return nil, err
	}
	rows := make([]adminWorkspace, len(infos))
	for i, info := range infos {
		rows[i] = adminWorkspace{Info: info, Members: counts[info.ID], Backup: statuses[i], Use: uses[i]}
	}
	return rows, nil
}

// setWorkspacePlan gives a workspace one of the config's plans.
func (s *Server) setWorkspacePlan(w http.ResponseWriter, r *http.Request) {
	id, err := tenant.ParseID(mux.Vars(r)["id"])
	if err != nil {
		s.notFound(w, r)
		return
	}
	p, err := s.tenants.SetPlan(r.Context(), id, r.PostForm.Get("plan"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The workspace is now on the "+p.Name+" plan: "+p.Summary()+".")
	http.Redirect(w, r, "/admin?"+r.PostForm.Get("back"), http.StatusSeeOther)
}

// pageNumber reads a 1-based page number, clamped to the pages there are.
func pageNumber(raw string, items int) int {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		n = 1
	}
	return min(n, max(1, (items+adminPerPage-1)/adminPerPage))
}
