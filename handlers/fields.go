package handlers

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// fieldsPage lists and defines custom fields.
type fieldsPage struct {
	Contact []store.CustomField
	Company []store.CustomField
}

func (s *Server) fields(w http.ResponseWriter, r *http.Request) {
	s.renderFields(w, r, http.StatusOK, newForm(nil))
}

func (s *Server) renderFields(w http.ResponseWriter, r *http.Request, status int, f *form) {
	wc := workspaceFrom(r)
	contact, err := store.CustomFields(r.Context(), wc.lease.DB, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	company, err := store.CustomFields(r.Context(), wc.lease.DB, "company")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Custom fields")
	v.Section = "settings"
	v.Form = f
	v.Page = fieldsPage{Contact: contact, Company: company}
	s.render(w, r, status, "fields", v)
}

func (s *Server) createField(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	options := strings.Split(f.Get("options"), ",")
	_, err := store.CreateCustomField(r.Context(), wc.lease.DB, s.actor(r), store.NewCustomField{
		Entity: f.Get("entity"), Label: f.Get("label"), Key: f.Get("key"), Type: f.Get("type"), Options: options,
	})
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderFields(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", "The field "+f.Get("label")+" was added.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "fields"), http.StatusSeeOther)
}

func (s *Server) deleteField(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.DeleteCustomField(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["field"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The field was removed; values already entered are kept in exports.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "fields"), http.StatusSeeOther)
}
