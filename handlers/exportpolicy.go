package handlers

import (
	"net/http"

	"atrium/store"
)

// Who may export lists is a workspace setting (store.ListExportRole):
// members and above unless an admin chooses otherwise. Every route that
// downloads a list as CSV or JSON asks mayExportLists first: today the
// contacts list in the app (the API has no list download; a new one must
// ask too).

// mayExportLists answers 403 and returns false when the caller's role may
// not export lists in this workspace.
func (s *Server) mayExportLists(w http.ResponseWriter, r *http.Request) bool {
	wc := workspaceFrom(r)
	ok, err := store.MayExportLists(r.Context(), wc.lease.DB.R, wc.role)
	if err != nil {
		s.serverError(w, r, err)
		return false
	}
	if !ok {
		min, _ := store.ListExportRole(r.Context(), wc.lease.DB.R)
		s.renderError(w, r, http.StatusForbidden, "Exporting lists in this workspace is for "+exportRoleLabel(min)+"; ask an admin.")
	}
	return ok
}

// exportRoleLabel says who a setting's value lets export.
func exportRoleLabel(role string) string {
	switch role {
	case "admin":
		return "admins and owners only"
	case "viewer":
		return "everyone"
	}
	return "members and above"
}

// listExportValue puts the workspace's setting in the settings form.
func (s *Server) listExportValue(r *http.Request, f *form) error {
	role, err := store.ListExportRole(r.Context(), workspaceFrom(r).lease.DB.R)
	if err == nil {
		f.Values.Set("list_export", role)
	}
	return err
}

// setListExport changes who may export lists; admins and owners only.
func (s *Server) setListExport(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	role := f.Get("list_export")
	if err := store.SetListExportRole(r.Context(), wc.lease.DB, s.actor(r), role); err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderSettings(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", "Exporting lists is now for "+exportRoleLabel(role)+".")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings"), http.StatusSeeOther)
}
