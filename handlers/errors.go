package handlers

import (
	"net/http"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// statusOf maps a domain error code to its HTTP status: the one table.
func statusOf(code string) int {
	switch code {
	case store.EInvalid:
		return http.StatusBadRequest
	case store.EUnauthorized:
		return http.StatusUnauthorized
	case store.EForbidden, store.EQuota:
		return http.StatusForbidden
	case store.ERateLimited:
		return http.StatusTooManyRequests
	case store.EStorageFull:
		return http.StatusInsufficientStorage
	case store.ENotFound:
		return http.StatusNotFound
	case store.EConflict:
		return http.StatusConflict
	case store.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case store.EValidation:
		return http.StatusUnprocessableEntity
	case store.EUnavailable:
		return http.StatusServiceUnavailable
	case store.ETimeout:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// fail shows err as an error page. Only domain errors show their message;
// anything else is logged and shown as a plain internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := store.ErrorCode(err)
	s.noteRefusal(r, code, err)
	if code == store.EInternal {
		s.serverError(w, r, err)
		return
	}
	if code == store.ENotFound {
		s.notFound(w, r)
		return
	}
	s.renderError(w, r, statusOf(code), store.ErrorMessage(err))
}

// failForm re-renders a form with err on it, with the status of its code:
// on the field the error names, or as the error of the whole form when it
// names none (so no handler guesses a field). Internal and not-found errors
// are not about the form: fail shows them as pages.
func (s *Server) failForm(w http.ResponseWriter, r *http.Request, f *form, err error, rerender func(status int)) {
	code := store.ErrorCode(err)
	if code == store.EInternal || code == store.ENotFound {
		s.fail(w, r, err)
		return
	}
	s.noteRefusal(r, code, err)
	f.Fail(store.ErrorField(err), store.ErrorMessage(err))
	rerender(statusOf(code))
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong on our side. Please try again; if it keeps happening, tell your administrator.")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if tw := s.ownTrashedWorkspace(r); tw != nil {
		v := s.newView(r, "This workspace is in the trash")
		v.Page = errorPage{Message: "Someone deleted " + tw.Name + ". It stays in the trash until " + v.Clock.DateTime(tw.PurgeAt) +
			", then it and its backups are deleted for good. As an owner, you can bring it back until then.", Trashed: tw}
		s.render(w, r, http.StatusNotFound, "error", v)
		return
	}
	s.renderError(w, r, http.StatusNotFound, "There is nothing here. The link may be wrong, or you may not have access to it.")
}

// ownTrashedWorkspace returns the workspace of a /w/{workspace}/… request
// when it is in the trash and the user asking owns it; nil otherwise
// (anyone else gets the plain not-found page: a trashed workspace is not
// there for them).
func (s *Server) ownTrashedWorkspace(r *http.Request) *store.TrashedWorkspace {
	id, u := mux.Vars(r)["workspace"], authFrom(r).user
	if id == "" || u == nil || workspaceFrom(r) != nil {
		return nil
	}
	trashed, err := store.OwnedTrashedWorkspaces(r.Context(), s.catalog.R, u.ID)
	if err != nil {
		s.log.Error("list trashed workspaces for a not-found page", "err", err)
		return nil
	}
	for i := range trashed {
		if trashed[i].ID == id {
			return &trashed[i]
		}
	}
	return nil
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusMethodNotAllowed, "That action is not available here.")
}

// errorPage is what the error page shows: a message, and for a trashed
// workspace its owner asks for, that workspace (to restore it).
type errorPage struct {
	Message string
	Trashed *store.TrashedWorkspace
}

// errorTitles head the error pages in words, by status.
var errorTitles = map[int]string{
	http.StatusBadRequest:            "That did not work",
	http.StatusUnauthorized:          "Please sign in",
	http.StatusForbidden:             "You do not have access",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "Not available here",
	http.StatusRequestTimeout:        "That took too long",
	http.StatusConflict:              "That clashes with something already there",
	http.StatusRequestEntityTooLarge: "That is too large",
	http.StatusUnprocessableEntity:   "Some details need fixing",
	http.StatusTooManyRequests:       "Too many requests",
	http.StatusInternalServerError:   "Something went wrong",
	http.StatusServiceUnavailable:    "Not available right now",
	http.StatusInsufficientStorage:   "No space left",
}

// errorTitle is the heading of the error page of a status.
func errorTitle(status int) string {
	if t, ok := errorTitles[status]; ok {
		return t
	}
	return http.StatusText(status)
}

// renderError shows the error page with a status and a message.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := s.newView(r, errorTitle(status))
	v.Page = errorPage{Message: msg}
	s.render(w, r, status, "error", v)
}

// noteRefusal counts a quota's refusal for the metrics, and logs a change
// refused for want of disk space with the space left on each region's
// disk: the operator must act.
func (s *Server) noteRefusal(r *http.Request, code string, err error) {
	if code == store.EQuota {
		s.metrics.refused(refusedQuota, tenant.QuotaOf(err))
	}
	if code != store.EStorageFull {
		return
	}
	for _, d := range s.tenants.DiskSpaces() {
		s.log.Error("a change was refused: the disk is full or below its reserve", "method", r.Method, "route", r.URL.Path,
			"region", d.Region, "data", d.Path, "free_bytes", d.Free, "reserve_bytes", d.Reserve, "err", err)
	}
}
