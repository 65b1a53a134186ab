package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// fieldsPage lists and defines custom fields.
type fieldsPage struct {
	Contact []store.CustomField
	Company []store.CustomField
	Deal    []store.CustomField
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
	deal, err := store.CustomFields(r.Context(), wc.lease.DB, "deal")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Custom fields")
	v.Section = "settings"
	v.Form = f
	v.Page = fieldsPage{Contact: contact, Company: company, Deal: deal}
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

// setCustomFormValues puts custom field values in a form as its inputs
// hold them: a multi-select's picks each as a value of the field, a ticked
// checkbox as "true".
func setCustomFormValues(v url.Values, fields []store.CustomField, custom store.Custom) {
	for _, fd := range fields {
		name := "custom." + fd.Key
		switch x := custom[fd.Key].(type) {
		case []any:
			for _, e := range x {
				v.Add(name, store.CustomText(e))
			}
		case bool:
			if x {
				v.Set(name, "true")
			}
		default:
			v.Set(name, store.CustomText(x))
		}
	}
}

// customInput reads the custom fields of a form. Every field is sent, so
// every field is set: one left empty (an unticked box, a multi-select with
// nothing picked) is cleared.
func customInput(f *form, fields []store.CustomField) map[string]any {
	out := make(map[string]any, len(fields))
	for _, fd := range fields {
		name := "custom." + fd.Key
		if fd.Type == "multiselect" {
			out[fd.Key] = append([]string{}, f.Values[name]...)
			continue
		}
		out[fd.Key] = f.Get(name)
	}
	return out
}

// updateField renames a custom field or changes its options.
func (s *Server) updateField(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	fd, err := store.UpdateCustomField(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["field"], store.CustomFieldChange{
		Label: f.Get("label"), Options: strings.Split(f.Get("options"), ","),
	})
	if err != nil {
		if store.ErrorCode(err) == store.EValidation {
			s.flash(w, r, "error", store.ErrorMessage(err))
			http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "fields"), http.StatusSeeOther)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The field "+fd.Label+" was saved.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "fields"), http.StatusSeeOther)
}

// moveField moves a custom field up or down on forms and pages.
func (s *Server) moveField(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	dir := r.PostForm.Get("dir")
	if dir != "up" && dir != "down" {
		s.renderError(w, r, http.StatusBadRequest, "Move a field up or down.")
		return
	}
	if err := store.MoveCustomField(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["field"], dir == "up"); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "fields"), http.StatusSeeOther)
}
