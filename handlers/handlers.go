// Package handlers is Atrium's HTTP layer: routes, middleware, pages and the
// JSON API. Every workspace route acts on the lease of the workspace in its
// URL or API key, never on a workspace id taken from anywhere else.
package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"atrium/tenant"
)

// Server holds what the handlers need.
type Server struct {
	tenants *tenant.Manager
	log     *slog.Logger
}

// New returns the HTTP handler of the whole application.
func New(tenants *tenant.Manager, log *slog.Logger) http.Handler {
	s := &Server{tenants: tenants, log: log}
	r := mux.NewRouter()
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	return r
}

// healthz reports whether the catalog answers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := s.tenants.Catalog().R.PingContext(r.Context()); err != nil {
		s.log.Error("healthz: catalog unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "unavailable"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}
