package handlers

import (
	"net/http"

	"atrium/store"
	"atrium/tenant"
)

// adminPage is the instance console.
type adminPage struct {
	Workspaces []adminWorkspace
	TotalBytes int64
}

type adminWorkspace struct {
	tenant.Info
	Members int
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
	page := adminPage{}
	for _, info := range infos {
		page.Workspaces = append(page.Workspaces, adminWorkspace{Info: info, Members: counts[info.ID]})
		page.TotalBytes += info.SizeBytes
	}
	v := s.newView(r, "Console")
	v.Page = page
	s.render(w, r, http.StatusOK, "admin", v)
}
