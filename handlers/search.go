package handlers

import (
	"net/http"
	"strings"

	"atrium/store"
)

// searchPage is the results of a workspace search.
type searchPage struct {
	WorkspaceID string
	Query       string
	Results     []store.SearchResult
}

// ResultURL is the page a search result opens: the store gives its path
// under the workspace ("contacts/<id>").
func (p searchPage) ResultURL(r store.SearchResult) string {
	return workspaceURL(p.WorkspaceID, strings.Split(r.Link, "/")...)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	results, err := store.Search(r.Context(), wc.lease.DB, q, 50)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Search")
	v.Section = "search"
	v.Page = searchPage{WorkspaceID: wc.ws.ID, Query: q, Results: results}
	s.render(w, r, http.StatusOK, "search", v)
}

// auditPage is a workspace's audit log.
type auditPage struct {
	Events  []store.AuditEvent
	Filter  store.AuditFilter
	Next    string
	Members []store.Member
	Names   *store.Names // API keys by name
}

// ActorName shows an audit actor: a member's name, or the key or system.
func (p auditPage) ActorName(actor string) string {
	if id, ok := strings.CutPrefix(actor, "user:"); ok {
		if n := memberName(p.Members, id); n != "" {
			return n
		}
	}
	if p.Names != nil && strings.HasPrefix(actor, "apikey:") {
		return p.Names.Actor(actor)
	}
	return actor
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	q := r.URL.Query()
	f := store.AuditFilter{Action: q.Get("action"), EntityType: q.Get("entity"), EntityID: q.Get("entity_id"), Actor: q.Get("actor"),
		Cursor: q.Get("before"), Limit: 50}
	events, next, err := store.ListAudit(r.Context(), wc.lease.DB, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	members, err := wc.svc.Members(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	names, err := store.LoadNames(r.Context(), wc.lease.DB, "", members)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := auditPage{Events: events, Filter: f, Next: next, Members: members, Names: names}
	v := s.newView(r, "Audit log")
	v.Section = "audit"
	v.Page = page
	s.render(w, r, http.StatusOK, "audit", v)
}
