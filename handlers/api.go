package handlers

import "github.com/gorilla/mux"

// apiRoutes registers the JSON API under /api/v1.
func (s *Server) apiRoutes(r *mux.Router) {}
