package handlers

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"atrium/store"
)

// Saved views of the contact list: a user's named filters, sort and
// columns, shown as tabs above the list. A view opens as the list's URL
// with its query and view=<id>; the list with no query at all opens the
// user's default view, and view=all the list without one.

// viewAll is the view parameter of the whole list, default view or not.
const viewAll = "all"

// viewQuery is what a view keeps of the list's query q: its filters, sort
// and columns, without the page, the export format or the view itself.
func viewQuery(q url.Values) string {
	out := listParams(q)
	out.Del("view")
	out.Del("format")
	return out.Encode()
}

// openView returns the query to show: q itself, or for an empty q the
// user's default view's. The view it opens is returned too; ok is false
// when q names a view the user does not have.
func openView(q url.Values, prefs store.ListPrefs) (_ url.Values, open *store.SavedView, ok bool) {
	if len(q) == 0 {
		if d := prefs.Default(); d != nil {
			return viewURLQuery(d), d, true
		}
		return q, nil, true
	}
	id := q.Get("view")
	if id == "" || id == viewAll {
		return q, nil, true
	}
	v := prefs.View(id)
	return q, v, v != nil
}

// viewURLQuery is the list's query that opens a view.
func viewURLQuery(v *store.SavedView) url.Values {
	q, _ := url.ParseQuery(v.Query)
	if q == nil {
		q = url.Values{}
	}
	q.Set("view", v.ID)
	return q
}

// viewLink is the list's URL that opens a view.
func viewLink(workspaceID string, v *store.SavedView) string {
	return workspaceURL(workspaceID, "contacts") + "?" + viewURLQuery(v).Encode()
}

// ViewLink is the link of a view's tab.
func (p contactsPage) ViewLink(ws string, v store.SavedView) string { return viewLink(ws, &v) }

// formQuery reads the list's query a view form carries in its "back"
// field (the page's own query string).
func formQuery(r *http.Request) url.Values {
	q, err := url.ParseQuery(r.PostForm.Get("back"))
	if err != nil {
		return url.Values{}
	}
	return q
}

// createView saves the list's filters, sort and columns as a view of the
// user's, then opens it. A name that is missing, too long or taken comes
// back on the list with the error.
func (s *Server) createView(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	q := formQuery(r)
	query, name, isDefault := viewQuery(q), r.PostForm.Get("name"), r.PostForm.Get("default") == "on"
	v, err := store.CreateView(r.Context(), wc.lease.DB, authFrom(r).user.ID, store.ViewContacts,
		store.ViewInput{Name: &name, Query: &query, IsDefault: &isDefault})
	if err != nil {
		f := newForm(r.PostForm)
		s.failForm(w, r, f, err, func(status int) { s.renderContacts(w, r, status, q, f) })
		return
	}
	s.flash(w, r, "success", "View “"+v.Name+"” saved.")
	http.Redirect(w, r, viewLink(wc.ws.ID, v), http.StatusSeeOther)
}

// updateView renames one of the user's views (name), makes it the default
// or not (default=on/off), or keeps the list's filters in it (keep=on). A
// view of another user's, or of another workspace, is not found.
func (s *Server) updateView(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["view"]
	var in store.ViewInput
	if _, ok := r.PostForm["name"]; ok {
		name := r.PostForm.Get("name")
		in.Name = &name
	}
	switch r.PostForm.Get("default") {
	case "on", "off":
		on := r.PostForm.Get("default") == "on"
		in.IsDefault = &on
	}
	if r.PostForm.Get("keep") == "on" {
		query := viewQuery(formQuery(r))
		in.Query = &query
	}
	v, err := store.UpdateView(r.Context(), wc.lease.DB, authFrom(r).user.ID, id, in)
	if err != nil {
		// The error goes on this view's rename field; the list is shown as
		// the form was sent from.
		f := newForm(r.PostForm)
		if code := store.ErrorCode(err); code != store.ENotFound && code != store.EInternal {
			err = store.FieldError("rename:"+id, "%s", store.ErrorMessage(err))
		}
		s.failForm(w, r, f, err, func(status int) { s.renderContacts(w, r, status, formQuery(r), f) })
		return
	}
	msg := "View “" + v.Name + "” saved."
	if in.IsDefault != nil && in.Query == nil && in.Name == nil {
		msg = "“" + v.Name + "” opens by default now."
		if !v.IsDefault {
			msg = "“" + v.Name + "” no longer opens by default."
		}
	}
	s.flash(w, r, "success", msg)
	http.Redirect(w, r, viewLink(wc.ws.ID, v), http.StatusSeeOther)
}

// deleteView deletes one of the user's views and shows the whole list.
func (s *Server) deleteView(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	userID := authFrom(r).user.ID
	v, err := store.GetView(r.Context(), wc.lease.DB, userID, mux.Vars(r)["view"])
	if err == nil {
		err = store.DeleteView(r.Context(), wc.lease.DB, userID, v.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "View “"+v.Name+"” deleted.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "contacts")+"?view="+viewAll, http.StatusSeeOther)
}
