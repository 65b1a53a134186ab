package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"atrium/store"
)

// searchPage is the results of a workspace search: every kind's best
// results with its count, or, for "show all", one kind's results a page at
// a time.
type searchPage struct {
	WorkspaceID string
	Query       string
	Groups      []store.SearchGroup
	Kind        string               // the kind shown alone; "" for the groups
	Results     []store.SearchResult // that kind's page
	Next        string               // the cursor of its next page
}

// searchPerKind is how many results each kind shows on the search page.
const searchPerKind = 5

// kindPlurals names the kinds in headings and links.
var kindPlurals = map[string]string{"company": "Companies", "contact": "Contacts", "deal": "Deals", "note": "Notes"}

// ResultURL is the page a search result opens: the store gives its path
// under the workspace ("contacts/<id>").
func (p searchPage) ResultURL(r store.SearchResult) string {
	return workspaceURL(p.WorkspaceID, strings.Split(r.Link, "/")...)
}

// KindName is a kind's plural for headings ("Companies").
func (p searchPage) KindName(kind string) string { return kindPlurals[kind] }

// KindNoun is a kind's plural in a sentence ("companies").
func (p searchPage) KindNoun(kind string) string { return strings.ToLower(kindPlurals[kind]) }

// CountText is a group's count as shown: "1,000+" when the count stopped
// at its cap.
func (p searchPage) CountText(g store.SearchGroup) string {
	n := store.GroupThousands(int64(g.Count))
	if g.Capped {
		n += "+"
	}
	return n
}

// KindURL is the "show all" page of one kind, from its cursor when set.
func (p searchPage) KindURL(kind, cursor string) string {
	q := url.Values{"q": {p.Query}, "kind": {kind}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return workspaceURL(p.WorkspaceID, "search") + "?" + q.Encode()
}

// AllURL is the search of every kind.
func (p searchPage) AllURL() string {
	return workspaceURL(p.WorkspaceID, "search") + "?" + url.Values{"q": {p.Query}}.Encode()
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	q := r.URL.Query()
	page := searchPage{WorkspaceID: wc.ws.ID, Query: strings.TrimSpace(q.Get("q")), Kind: q.Get("kind")}
	var err error
	if page.Kind != "" {
		page.Results, page.Next, err = store.SearchKind(r.Context(), wc.lease.DB, page.Query, page.Kind, q.Get("cursor"), 50)
	} else {
		page.Groups, err = store.SearchGroups(r.Context(), wc.lease.DB, page.Query, searchPerKind)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Search")
	v.Section = "search"
	v.Page = page
	s.render(w, r, http.StatusOK, "search", v)
}

// auditPage is a workspace's audit log.
type auditPage struct {
	Events []store.AuditEvent
	Filter store.AuditFilter
	Next   string
	Names  *store.Names // actors, and the ids changes hold, by name
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
	if err == nil {
		changes := make([]map[string]store.Change, len(events))
		for i, e := range events {
			changes[i] = e.ChangesMap()
		}
		err = names.LoadRecords(r.Context(), wc.lease.DB, changes)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := auditPage{Events: events, Filter: f, Next: next, Names: names}
	v := s.newView(r, "Audit log")
	v.Section = "audit"
	v.Page = page
	s.render(w, r, http.StatusOK, "audit", v)
}
