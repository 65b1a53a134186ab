package handlers

import (
	"net/http"

	"atrium/store"
	"atrium/tenant"
)

// adminPage is the instance console.
type adminPage struct {
	Workspaces []adminWorkspace
	Trashed    []store.Workspace
	Catalog    *tenant.BackupStatus
	TotalBytes int64
}

type adminWorkspace struct {
	tenant.Info
	Members int
	Backup  *tenant.BackupStatus
}

// admin lists every workspace with its region, size, members and state.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	infos, err := s.tenants.List(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	counts, err := store.MemberCounts(r.Context(), s.catalog.R)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	statuses, err := s.tenants.BackupStatus(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	byID := map[string]*tenant.BackupStatus{}
	for i := range statuses {
		byID[statuses[i].WorkspaceID] = &statuses[i]
	}
	page := adminPage{Catalog: byID["catalog"]}
	for _, info := range infos {
		page.Workspaces = append(page.Workspaces, adminWorkspace{Info: info, Members: counts[info.ID], Backup: byID[info.ID]})
		page.TotalBytes += info.SizeBytes
	}
	if page.Trashed, err = s.tenants.ListTrashed(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Console")
	v.Page = page
	s.render(w, r, http.StatusOK, "admin", v)
}
