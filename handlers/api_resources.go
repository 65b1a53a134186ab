package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// apiResource is one entity of the API, as the store functions that list,
// create, read, change and delete it. In is the JSON body of a create or a
// patch; a patch leaves the fields it does not give alone.
type apiResource[T, In any] struct {
	list   func(ctx context.Context, db *store.DB, q url.Values, p page) ([]T, string, error)
	create func(ctx context.Context, db *store.DB, a store.Actor, in In) (*T, error)
	get    func(ctx context.Context, db *store.DB, id string) (*T, error)
	update func(ctx context.Context, db *store.DB, a store.Actor, id string, in In) (*T, error)
	delete func(ctx context.Context, db *store.DB, a store.Actor, id string) error
}

// page is where a list page starts and how long it is.
type page struct {
	cursor string
	limit  int
}

// apiResource registers the five routes of an entity under path:
// GET and POST on the collection, GET, PATCH and DELETE on /{id}.
func apiResource[T, In any](s *Server, r *mux.Router, path string, res apiResource[T, In]) {
	r.HandleFunc(path, s.apiList(res.list)).Methods(http.MethodGet)
	r.HandleFunc(path, apiCreate(s, path, res.create)).Methods(http.MethodPost)
	r.HandleFunc(path+"/{id}", apiGet(s, res.get)).Methods(http.MethodGet)
	r.HandleFunc(path+"/{id}", apiUpdate(s, res.update)).Methods(http.MethodPatch)
	r.HandleFunc(path+"/{id}", s.apiDelete(res.delete)).Methods(http.MethodDelete)
}

// listResponse is one page of a list.
type listResponse[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

func (s *Server) apiList[T any](list func(context.Context, *store.DB, url.Values, page) ([]T, string, error)) http.HandlerFunc {
	return nil
}
