package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// resource is one entity of the API, as the functions that list, create,
// read, change and delete it. In is the JSON body of a create or a patch;
// a patch leaves the fields it does not give alone. Creates and changes
// take the workspace service, not the file: the rules that need the
// catalog too (owners are members) live there, and the web forms call the
// same methods, so the API cannot skip a rule the UI keeps. The service's
// methods fit as method expressions: (*tenant.Service).CreateContact.
// version gives a record's version, for its ETag; nil for an entity
// without versions.
type resource[T, In any] struct {
	list    func(ctx context.Context, db *store.DB, q url.Values, p page) ([]T, string, error)
	create  func(svc *tenant.Service, ctx context.Context, a store.Actor, in In) (*T, error)
	get     func(ctx context.Context, db *store.DB, id string) (*T, error)
	update  func(svc *tenant.Service, ctx context.Context, a store.Actor, id string, in In) (*T, error)
	delete  func(ctx context.Context, db *store.DB, a store.Actor, id string) error
	version func(*T) int64
}

// page is where a list page starts and how long it is.
type page struct {
	cursor string
	limit  int
}

// apiResource registers the five routes of an entity under path:
// GET and POST on the collection, GET, PATCH and DELETE on /{id}.
func apiResource[T, In any](s *Server, r *mux.Router, path string, res resource[T, In]) {
	r.Handle(path, methods{
		http.MethodGet:  apiList(s, res.list),
		http.MethodPost: apiCreate(s, res.create),
	})
	r.Handle(path+"/{id}", methods{
		http.MethodGet:    apiGet(s, res.get, res.version),
		http.MethodPatch:  apiUpdate(s, res.update, res.version),
		http.MethodDelete: s.apiDelete(res.delete),
	})
}

// listResponse is one page of a list.
type listResponse[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

func apiList[T any](s *Server, list func(context.Context, *store.DB, url.Values, page) ([]T, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p, err := pageOf(q)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		data, next, err := list(r.Context(), callerFrom(r).db(), q, p)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, listResponse[T]{Data: data, NextCursor: next})
	}
}

// pageOf reads ?cursor= and ?limit= (store.DefaultLimit when absent; at
// most store.MaxLimit, more is cut).
func pageOf(q url.Values) (page, error) {
	p := page{cursor: q.Get("cursor"), limit: store.DefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, store.Errorf(store.EInvalid, "limit must be a whole number from 1 to %d.", store.MaxLimit)
		}
		p.limit = min(n, store.MaxLimit)
	}
	return p, nil
}

func apiCreate[T, In any](s *Server, create func(*tenant.Service, context.Context, store.Actor, In) (*T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		if err := decodeJSON(w, r, &in); err != nil {
			s.apiFail(w, r, err)
			return
		}
		c := callerFrom(r)
		rec, err := create(c.svc, r.Context(), c.actor, in)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, rec)
	}
}

func apiGet[T any](s *Server, get func(context.Context, *store.DB, string) (*T, error), version func(*T) int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := recordID(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		rec, err := get(r.Context(), callerFrom(r).db(), id)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		setETag(w, version, rec)
		writeJSON(w, http.StatusOK, rec)
	}
}

// apiUpdate applies a patch; with If-Match or a version in the body, only
// to the record at that version (see api_versions.go).
func apiUpdate[T, In any](s *Server, update func(*tenant.Service, context.Context, store.Actor, string, In) (*T, error), version func(*T) int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := recordID(r)
		var in In
		if err == nil {
			err = decodeJSON(w, r, &in)
		}
		if err == nil {
			err = expectIfMatch(r, &in)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		c := callerFrom(r)
		rec, err := update(c.svc, r.Context(), c.actor, id, in)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		setETag(w, version, rec)
		writeJSON(w, http.StatusOK, rec)
	}
}

func (s *Server) apiDelete(del func(context.Context, *store.DB, store.Actor, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := recordID(r)
		if err == nil {
			c := callerFrom(r)
			err = del(r.Context(), c.db(), c.actor, id)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// recordID is the {id} of the URL. Anything but a canonical id is simply
// not found: ids are looked up only in the caller's own workspace file, so
// another workspace's id is not found either.
func recordID(r *http.Request) (string, error) {
	id := mux.Vars(r)["id"]
	if !store.ValidID(id) {
		return "", errNotFound()
	}
	return id, nil
}

var contactsAPI = resource[store.Contact, store.ContactInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Contact, string, error) {
		f := store.ContactFilter{Query: q.Get("q"), Tag: q.Get("tag"), Stage: q.Get("stage"), OwnerID: q.Get("owner_id"),
			CompanyID: q.Get("company_id"), Sort: q.Get("sort"), Asc: q.Get("order") == "asc", Cursor: p.cursor, Limit: p.limit}
		for k, v := range q {
			if key, ok := strings.CutPrefix(k, "custom."); ok {
				if f.Custom == nil {
					f.Custom = map[string]string{}
				}
				f.Custom[key] = v[0]
			}
		}
		return store.ListContacts(ctx, db, f)
	},
	create:  (*tenant.Service).CreateContact,
	get:     store.GetContact,
	update:  (*tenant.Service).UpdateContact,
	delete:  store.DeleteContact,
	version: func(c *store.Contact) int64 { return c.Version },
}

var companiesAPI = resource[store.Company, store.CompanyInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Company, string, error) {
		return store.ListCompanies(ctx, db, store.CompanyFilter{Query: q.Get("q"), Tag: q.Get("tag"),
			Sort: q.Get("sort"), Asc: q.Get("order") == "asc", Cursor: p.cursor, Limit: p.limit})
	},
	create:  (*tenant.Service).CreateCompany,
	get:     store.GetCompany,
	update:  (*tenant.Service).UpdateCompany,
	delete:  store.DeleteCompany,
	version: func(c *store.Company) int64 { return c.Version },
}

var tasksAPI = resource[store.Task, store.TaskInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Task, string, error) {
		f := store.TaskFilter{ContactID: q.Get("contact_id"), CompanyID: q.Get("company_id"), DealID: q.Get("deal_id"), AssigneeID: q.Get("assignee_id"),
			Cursor: p.cursor, Limit: p.limit}
		if v := q.Get("done"); v != "" {
			done, err := strconv.ParseBool(v)
			if err != nil {
				return nil, "", store.Errorf(store.EInvalid, "done must be true or false.")
			}
			f.Done = &done
		}
		return store.ListTasks(ctx, db, f)
	},
	create:  (*tenant.Service).CreateTask,
	get:     store.GetTask,
	update:  (*tenant.Service).UpdateTask,
	delete:  store.DeleteTask,
	version: func(t *store.Task) int64 { return t.Version },
}

// noteInput is a note's create or patch body. A note stays on the record
// it was written on; only its body changes.
type noteInput struct {
	store.Expect
	ContactID *string `json:"contact_id"`
	CompanyID *string `json:"company_id"`
	DealID    *string `json:"deal_id"`
	Body      *string `json:"body"`
}

var notesAPI = resource[store.Note, noteInput]{
	list: func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Note, string, error) {
		return store.ListNotes(ctx, db, q.Get("contact_id"), q.Get("company_id"), q.Get("deal_id"), p.cursor, p.limit)
	},
	create: func(svc *tenant.Service, ctx context.Context, a store.Actor, in noteInput) (*store.Note, error) {
		return svc.CreateNote(ctx, a, store.NoteInput{ContactID: deref(in.ContactID), CompanyID: deref(in.CompanyID), DealID: deref(in.DealID), Body: deref(in.Body)})
	},
	get: store.GetNote,
	update: func(svc *tenant.Service, ctx context.Context, a store.Actor, id string, in noteInput) (*store.Note, error) {
		if in.ContactID != nil || in.CompanyID != nil || in.DealID != nil {
			return nil, store.FieldError("contact_id", "A note stays on the record it was written on; only its body can change.")
		}
		if in.Body == nil {
			n, err := store.GetNote(ctx, svc.DB(), id)
			if err == nil {
				err = in.Check("note", n.Version)
			}
			if err != nil {
				return nil, err
			}
			return n, nil
		}
		return svc.UpdateNote(ctx, a, id, *in.Body, in.Expect)
	},
	delete:  store.DeleteNote,
	version: func(n *store.Note) int64 { return n.Version },
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
