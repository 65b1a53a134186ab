package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// maxAPIBody bounds a JSON request body; larger ones are refused with 413.
const maxAPIBody = 1 << 20

// apiCallerKey holds the *apiCaller in a request's context.
type apiCallerKey struct{}

// apiCaller is who calls the API: a key of one workspace, the lease of that
// workspace's file, the workspace service on it, and the actor its changes
// are recorded under.
type apiCaller struct {
	key   *store.APIKey
	lease *tenant.Lease
	svc   *tenant.Service
	actor store.Actor
}

func callerFrom(r *http.Request) *apiCaller {
	c, _ := r.Context().Value(apiCallerKey{}).(*apiCaller)
	return c
}

// db is the caller's workspace file: the only one an API handler can reach.
func (c *apiCaller) db() *store.DB { return c.lease.DB }

// apiRoutes registers the JSON API under /api/v1. Every route is behind the
// key check; the workspace comes from the key, never from the request.
func (s *Server) apiRoutes(r *mux.Router) {
	r.NotFoundHandler = s.observeUnmatched(s.secureHeaders(http.HandlerFunc(s.apiNotFound)))
	r.Use(s.apiAuthenticate)

	r.Handle("/workspace", methods{http.MethodGet: s.apiWorkspace})
	r.Handle("/usage", methods{http.MethodGet: s.apiUsage})
	r.Handle("/audit", methods{http.MethodGet: s.apiAudit})
	r.Handle("/search", methods{http.MethodGet: s.apiSearch})
	r.Handle("/contacts/import", methods{http.MethodPost: s.apiImportContacts})
	apiResource(s, r, "/contacts", contactsAPI)
	r.Handle("/contacts/{id}/erase", methods{http.MethodPost: s.apiEraseContact})
	r.Handle("/contacts/{id}/export", methods{http.MethodGet: s.apiContactSubjectAccess})
	r.Handle("/companies/import", methods{http.MethodPost: s.apiImportCompanies})
	apiResource(s, r, "/companies", companiesAPI)
	apiResource(s, r, "/notes", notesAPI)
	apiResource(s, r, "/tasks", tasksAPI)
	apiResource(s, r, "/pipelines", pipelinesAPI)
	r.Handle("/deals/import", methods{http.MethodPost: s.apiImportDeals})
	apiResource(s, r, "/deals", dealsAPI)
	apiResource(s, r, "/mailboxes", mailboxesAPI)
	r.Handle("/mailboxes/{id}/check", methods{http.MethodPost: s.apiCheckMailbox})
	r.Handle("/mailboxes/{id}/test", methods{http.MethodPost: s.apiTestMailbox})
	r.Handle("/mailboxes/{id}/poll", methods{http.MethodPost: s.apiPollMailbox})
	apiResource(s, r, "/sequences", sequencesAPI)
	r.Handle("/sequences/{id}/enrollments", methods{http.MethodGet: s.apiEnrollments, http.MethodPost: s.apiEnroll})
	r.Handle("/sequences/{id}/stats", methods{http.MethodGet: s.apiSequenceStats})
	r.Handle("/sequences/{id}/activate", methods{http.MethodPost: s.apiSequenceState(store.SequenceActive)})
	r.Handle("/sequences/{id}/pause", methods{http.MethodPost: s.apiSequenceState(store.SequencePaused)})
	r.Handle("/messages", methods{http.MethodGet: s.apiMessages})
	r.Handle("/messages/{id}", methods{http.MethodGet: s.apiMessage})
	r.Handle("/messages/{id}/settle", methods{http.MethodPost: s.apiSettleMessage})
	r.Handle("/replies", methods{http.MethodGet: apiList(s, apiRepliesList)})
	r.Handle("/replies/{id}", methods{http.MethodGet: apiGet(s, store.GetReply, nil), http.MethodPatch: apiUpdate(s, apiUpdateReply, nil)})
	s.apiSuppressionRoutes(r)
	r.Handle("/export", methods{http.MethodGet: s.apiExport})
	apiResource(s, r, "/templates", templatesAPI)
	r.Handle("/templates/{id}/preview", methods{http.MethodPost: s.apiPreviewTemplate})
}

// apiAuthenticate takes the key from "Authorization: Bearer <key>", opens
// the workspace the key names and checks the key in that workspace's file.
// Any failure is the same 401; a read key may only read (403 otherwise).
// The lease is held until the request ends.
func (s *Server) apiAuthenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.apiCaller(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		defer c.lease.Release()
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !c.key.CanWrite() {
			s.apiFail(w, r, store.Errorf(store.EForbidden, "This API key is read-only."))
			return
		}
		requestInfoFrom(r.Context()).workspace = c.lease.ID
		err = s.limitRate(w, r, c.lease.ID, c.key.ID)
		if err == nil {
			err = checkStorage(r, c.svc)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if err := c.svc.CountAPICall(r.Context()); err != nil {
			s.apiFail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiCallerKey{}, c)))
	})
}

func (s *Server) apiCaller(r *http.Request) (*apiCaller, error) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, store.Errorf(store.EUnauthorized, "Send an API key as Authorization: Bearer <key>.")
	}
	wsID, keyID, secret, err := store.ParseAPIKey(strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	lease, err := s.tenants.Acquire(r.Context(), wsID)
	if code := store.ErrorCode(err); code == store.ENotFound || code == store.EInvalid {
		err = store.ErrBadAPIKey() // a deleted workspace's keys are as dead as unknown ones
	}
	if err != nil {
		return nil, err
	}
	key, err := store.AuthenticateAPIKey(r.Context(), lease.DB, keyID, secret)
	if err != nil {
		lease.Release()
		return nil, err
	}
	return &apiCaller{key: key, lease: lease, svc: s.tenants.Service(lease), actor: store.Actor{Kind: "apikey", ID: key.ID, IP: s.clientIP(r)}}, nil
}

// apiErrorBody is the one shape of every API error.
type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// CurrentVersion is, for a write that expected a stale version, the
	// record's version now.
	CurrentVersion int64 `json:"current_version,omitempty"`
}

// apiFail writes err as {"error":{...}} with the status of its code (see
// statusOf). Only domain errors show their message; any other error is
// logged and shown as a plain internal error.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	code := store.ErrorCode(err)
	if code == store.EInternal {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.noteRefusal(r, code, err)
	if code == store.EUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="atrium"`)
	}
	body := apiErrorBody{Code: code, Message: store.ErrorMessage(err), Field: store.ErrorField(err)}
	if v, ok := store.CurrentVersion(err); ok {
		body.CurrentVersion = v
		w.Header().Set("ETag", etag(v))
	}
	writeAPIError(w, statusOf(code), body)
}

func writeAPIError(w http.ResponseWriter, status int, body apiErrorBody) {
	writeJSON(w, status, map[string]apiErrorBody{"error": body})
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.apiFail(w, r, errNotFound())
}

// methods serves one API path by request method; any other method is 405.
// It stands in for mux's Methods matcher, which in a subrouter loses a
// method mismatch once a later route shares the path's prefix, and so
// answers 404 where 405 is right.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // net/http drops the body of a HEAD answer
	}
	if h, ok := m[method]; ok {
		h(w, r)
		return
	}
	allow := m.allowed()
	if m[http.MethodGet] != nil {
		allow = append(allow, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeAPIError(w, http.StatusMethodNotAllowed, apiErrorBody{Code: "method_not_allowed", Message: r.Method + " is not allowed here."})
}

// allowed lists the methods served, sorted.
func (m methods) allowed() []string {
	list := make([]string, 0, len(m))
	for method := range m {
		list = append(list, method)
	}
	sort.Strings(list)
	return list
}

func errNotFound() error {
	return store.Errorf(store.ENotFound, "There is nothing here with this id.")
}

// writeJSON writes v with the status; v is encoded first, so a failure
// cannot leave a half-written body behind a success status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"An internal error occurred."}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// decodeJSON reads one JSON object of at most maxAPIBody bytes into dst.
// Malformed JSON is invalid (400); a value of the wrong type or a field dst
// does not have is a validation error naming that field (422).
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if isTimeout(err) {
			return errBodyTimeout
		}
		return decodeError(err, dst)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return decodeError(err, dst)
		}
		return store.Errorf(store.EInvalid, "The request body must be one JSON object and nothing after it.")
	}
	return nil
}

func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

func decodeError(err error, dst any) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case tooLarge(err):
		return store.Errorf(store.ETooLarge, "The request body is larger than 1 MiB.")
	case errors.Is(err, io.EOF):
		return store.Errorf(store.EInvalid, "The request body is empty; send a JSON object.")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return store.FieldError(typeErr.Field, "%s must be %s (found a JSON %s).", typeErr.Field, jsonKind(fieldType(dst, typeErr.Field, typeErr.Type)), typeErr.Value)
	case errors.As(err, &typeErr):
		return store.Errorf(store.EInvalid, "The request body must be a JSON object.")
	}
	// encoding/json has no error type for an unknown field: its text is the
	// only sign (stable since Go 1.10). The one error text read in handlers,
	// and it is the standard library's, not ours.
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field = strings.Trim(field, `"`)
		return store.FieldError(field, "%s is not a field of this record.", field)
	}
	return store.Errorf(store.EInvalid, "The request body is not valid JSON.")
}

// fieldType is the type of dst's field named name in JSON, so an error in
// an array's element names the array; def when there is no such field.
func fieldType(dst any, name string, def reflect.Type) reflect.Type {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return def
	}
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
			return t.Field(i).Type
		}
	}
	return def
}

// jsonKind names what a Go type takes in JSON, for error messages.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value of another type"
}
