package handlers

import (
	"net/http"

	"github.com/gorilla/mux"

	"atrium/store"
)

// apiKeysPage lists a workspace's API keys; NewKey is shown once, after
// creation, and never again.
type apiKeysPage struct {
	Keys   []store.APIKey
	NewKey string
	Names  *store.Names // who created each key
}

func (s *Server) apiKeys(w http.ResponseWriter, r *http.Request) {
	s.renderAPIKeys(w, r, http.StatusOK, newForm(nil), "")
}

func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, f *form, newKey string) {
	wc := workspaceFrom(r)
	keys, err := store.ListAPIKeys(r.Context(), wc.lease.DB)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	members, err := wc.svc.Members(r.Context())
	var names *store.Names
	if err == nil {
		names, err = store.LoadNames(r.Context(), wc.lease.DB, "", members)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "API keys")
	v.Section = "settings"
	v.Form = f
	v.Page = apiKeysPage{Keys: keys, NewKey: newKey, Names: names}
	s.render(w, r, status, "apikeys", v)
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	key, _, err := store.CreateAPIKey(r.Context(), wc.lease.DB, s.actor(r), wc.ws.ID, f.Get("name"), f.Get("role"))
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderAPIKeys(w, r, status, f, "") })
		return
	}
	s.renderAPIKeys(w, r, http.StatusCreated, newForm(nil), key)
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := wc.svc.RevokeAPIKey(r.Context(), s.actor(r), mux.Vars(r)["key"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The key was revoked; requests with it are refused from now on.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "settings", "api-keys"), http.StatusSeeOther)
}
