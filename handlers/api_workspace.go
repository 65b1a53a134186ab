package handlers

import (
	"net/http"

	"atrium/store"
)

// apiWorkspace describes the key's workspace, read from the catalog so a
// rename shows at once.
func (s *Server) apiWorkspace(w http.ResponseWriter, r *http.Request) {
	ws, err := store.GetWorkspace(r.Context(), s.catalog.R, callerFrom(r).lease.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Region string `json:"region"`
	}{ws.ID, ws.Name, ws.Region})
}

// apiAudit lists the workspace's audit events, newest first, filtered by
// ?action=, ?entity_type=, ?entity_id= and ?actor=, keyset-paginated like
// every list.
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := pageOf(q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	f := store.AuditFilter{Action: q.Get("action"), EntityType: q.Get("entity_type"), EntityID: q.Get("entity_id"),
		Actor: q.Get("actor"), Cursor: p.cursor, Limit: p.limit}
	events, next, err := store.ListAudit(r.Context(), callerFrom(r).db(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listResponse[store.AuditEvent]{Data: events, NextCursor: next})
}

// apiSearch finds contacts, companies and notes of the workspace matching
// every word of ?q= as a prefix, best first. Any q is safe: it never
// reaches FTS5 syntax.
func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r.URL.Query())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	results, err := store.Search(r.Context(), callerFrom(r).db(), r.URL.Query().Get("q"), p.limit)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Data []store.SearchResult `json:"data"`
	}{results})
}
