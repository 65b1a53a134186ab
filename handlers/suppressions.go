package handlers

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// suppressionsPage is the workspace's suppression list: a page of it,
// what it was searched for, and the add form for admins.
type suppressionsPage struct {
	Suppressions []store.Suppression
	Query        string
	Next         string
	Reasons      string // the reasons, for the form's select
}

func (s *Server) suppressions(w http.ResponseWriter, r *http.Request) {
	s.renderSuppressions(w, r, http.StatusOK, newForm(url.Values{"reason": {store.SuppressManual}}))
}

func (s *Server) renderSuppressions(w http.ResponseWriter, r *http.Request, status int, f *form) {
	q := r.URL.Query()
	list, next, err := store.ListSuppressions(r.Context(), workspaceFrom(r).lease.DB,
		store.SuppressionFilter{Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: store.DefaultLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Suppression list")
	v.Section = "suppressions"
	v.Form = f
	v.Page = suppressionsPage{Suppressions: list, Query: q.Get("q"), Next: next, Reasons: strings.Join(store.SuppressionReasons, ",")}
	s.render(w, r, status, "suppressions", v)
}

func (s *Server) createSuppression(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	sup, added, err := store.AddSuppression(r.Context(), wc.lease.DB, s.actor(r),
		store.SuppressionInput{Email: f.Get("email"), Reason: f.Get("reason"), Detail: f.Get("detail")})
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderSuppressions(w, r, status, f) })
		return
	}
	if added {
		s.flash(w, r, "success", sup.Email+" will not be emailed from this workspace.")
	} else {
		s.flash(w, r, "success", sup.Email+" was already on the list ("+sup.Reason+"); it stays as it was.")
	}
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "suppressions"), http.StatusSeeOther)
}

func (s *Server) confirmDeleteSuppression(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	sup, err := store.GetSuppression(r.Context(), wc.lease.DB, mux.Vars(r)["suppression"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	who := sup.Email
	if sup.Erased {
		who = "this erased address"
	}
	v := s.newView(r, "Remove "+who)
	v.Section = "suppressions"
	v.Page = confirmPage{
		Question: "Take " + who + " off the suppression list?",
		Detail: "It was added as " + sup.Reason + ". Once off the list, sequences and imports may email it again; " +
			"remove it only when the person asked to hear from this workspace again.",
		Action: workspaceURL(wc.ws.ID, "suppressions", sup.ID, "delete"), Button: "Remove from the list",
		Cancel: workspaceURL(wc.ws.ID, "suppressions"),
	}
	s.render(w, r, http.StatusOK, "confirm", v)
}

func (s *Server) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.RemoveSuppression(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["suppression"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The address is off the suppression list.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "suppressions"), http.StatusSeeOther)
}

// The unsubscribe link of every email: /u/{token}. It is public: no
// session, no sign-in, and no CSRF token, because the one-click POST of
// RFC 8058 comes from the recipient's mail provider, which has neither.
// That is safe: the token is itself the proof, unguessable and sealed
// with the workspace's key, and the only thing it can do is take its own
// address off that workspace's mailings, which is what anyone holding the
// email may ask. No cookie is read, so a cross-site form cannot borrow a
// signed-in member's rights here. A GET only asks (link scanners follow
// links); a POST with any body unsubscribes: the page's own button sends
// a form, a mail provider "List-Unsubscribe=One-Click", urlencoded or
// multipart, and neither needs to be read.

// unsubscribePage is the confirmation, or the answer once done.
type unsubscribePage struct {
	Email     string // masked
	Workspace string // the workspace's name
	Done      bool
}

// unsubscribeClaim checks the token and leases its workspace; a token
// that does not open, or whose workspace is gone or in the trash, is the
// same not-found page.
func (s *Server) unsubscribeClaim(w http.ResponseWriter, r *http.Request) (*tenant.UnsubscribeClaim, *tenant.Lease, bool) {
	c, err := s.tenants.ParseUnsubscribeToken(r.Context(), mux.Vars(r)["token"])
	var lease *tenant.Lease
	if err == nil {
		lease, err = s.tenants.Acquire(r.Context(), c.WorkspaceID)
	}
	if err != nil {
		if code := store.ErrorCode(err); code == store.ENotFound || code == store.EInvalid {
			s.renderError(w, r, http.StatusNotFound, "This unsubscribe link is not valid. To stop receiving emails, reply to the last one and ask the sender.")
		} else {
			s.fail(w, r, err)
		}
		return nil, nil, false
	}
	return c, lease, true
}

func (s *Server) renderUnsubscribe(w http.ResponseWriter, r *http.Request, c *tenant.UnsubscribeClaim, done bool) {
	name := "the sender"
	if ws, err := store.GetWorkspace(r.Context(), s.catalog.R, c.WorkspaceID); err == nil {
		name = ws.Name
	}
	title := "Unsubscribe"
	if done {
		title = "Unsubscribed"
	}
	v := s.newView(r, title)
	v.Page = unsubscribePage{Email: maskEmail(c.Email), Workspace: name, Done: done}
	s.render(w, r, http.StatusOK, "unsubscribe", v)
}

// unsubscribeForm asks, unless the address is suppressed already (then
// it says so); it changes nothing.
func (s *Server) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	c, lease, ok := s.unsubscribeClaim(w, r)
	if !ok {
		return
	}
	done, err := store.IsSuppressed(r.Context(), lease.DB, c.Email)
	lease.Release()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderUnsubscribe(w, r, c, done)
}

// unsubscribe suppresses the token's address, once; the same answer
// every time.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	// The body is not needed (see above); it is drained, within a bound,
	// so the connection can serve the next request.
	io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	c, lease, ok := s.unsubscribeClaim(w, r)
	if !ok {
		return
	}
	_, err := s.tenants.Service(lease).Unsubscribe(r.Context(), c, s.clientIP(r))
	lease.Release()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderUnsubscribe(w, r, c, true)
}

// maskEmail shows enough of an address for its owner to know it, not
// enough to read it off a forwarded link: "a…@example.com".
func maskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "…"
	}
	r := []rune(local)
	return string(r[0]) + "…@" + domain
}

// suppressionsAPI is /api/v1/suppressions: list (?q=, ?reason=), add (201;
// an address already there answers 200 with the row as it was), get and
// delete by id or by address.
func (s *Server) apiSuppressionRoutes(r *mux.Router) {
	r.Handle("/suppressions", methods{
		http.MethodGet: apiList(s, func(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Suppression, string, error) {
			return store.ListSuppressions(ctx, db, store.SuppressionFilter{Query: q.Get("q"), Reason: q.Get("reason"), Cursor: p.cursor, Limit: p.limit})
		}),
		http.MethodPost: s.apiAddSuppression,
	})
	r.Handle("/suppressions/{id}", methods{
		http.MethodGet:    s.apiGetSuppression,
		http.MethodDelete: s.apiDeleteSuppression,
	})
}

func (s *Server) apiAddSuppression(w http.ResponseWriter, r *http.Request) {
	var in store.SuppressionInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	c := callerFrom(r)
	sup, added, err := store.AddSuppression(r.Context(), c.db(), c.actor, in)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, status, sup)
}

// suppressionRef is the {id} of a suppression route: its id or its
// address (escaped in the path, "ana%40example.com", or as it is).
func suppressionRef(r *http.Request) (string, error) {
	ref := mux.Vars(r)["id"]
	if store.ValidID(ref) || strings.Contains(ref, "@") {
		return ref, nil
	}
	return "", errNotFound()
}

func (s *Server) apiGetSuppression(w http.ResponseWriter, r *http.Request) {
	ref, err := suppressionRef(r)
	var sup *store.Suppression
	if err == nil {
		sup, err = store.GetSuppression(r.Context(), callerFrom(r).db(), ref)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sup)
}

func (s *Server) apiDeleteSuppression(w http.ResponseWriter, r *http.Request) {
	ref, err := suppressionRef(r)
	if err == nil {
		c := callerFrom(r)
		err = store.RemoveSuppression(r.Context(), c.db(), c.actor, ref)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// instanceSuppressions is the console's section on the instance-wide
// list: a page of it and what it was searched for.
type instanceSuppressions struct {
	List    []store.Suppression
	Query   string
	Next    string
	Reasons []string
}

func (s *Server) loadInstanceSuppressions(r *http.Request) (instanceSuppressions, error) {
	q := r.URL.Query()
	list, next, err := store.ListInstanceSuppressions(r.Context(), s.catalog,
		store.SuppressionFilter{Query: q.Get("sq"), Cursor: q.Get("scursor"), Limit: store.DefaultLimit})
	return instanceSuppressions{List: list, Query: q.Get("sq"), Next: next, Reasons: store.SuppressionReasons}, err
}

// addInstanceSuppression puts an address on the instance-wide list.
func (s *Server) addInstanceSuppression(w http.ResponseWriter, r *http.Request) {
	f := newForm(r.PostForm)
	added, err := store.AddInstanceSuppression(r.Context(), s.catalog, s.actor(r).String(),
		store.SuppressionInput{Email: f.Get("email"), Reason: f.Get("reason"), Detail: f.Get("detail")})
	switch {
	case err != nil && store.ErrorCode(err) == store.EValidation:
		s.flash(w, r, "error", store.ErrorMessage(err))
	case err != nil:
		s.fail(w, r, err)
		return
	case added:
		s.flash(w, r, "success", strings.ToLower(f.Get("email"))+" will not be emailed from any workspace.")
	default:
		s.flash(w, r, "success", strings.ToLower(f.Get("email"))+" was already on the instance's list.")
	}
	http.Redirect(w, r, "/admin#suppressions", http.StatusSeeOther)
}

// removeInstanceSuppression takes an address off the instance-wide list,
// after a confirmation.
func (s *Server) removeInstanceSuppression(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if r.PostForm.Get("confirm") != "yes" {
		s.renderConfirm(w, r, confirmPage{
			Question: "Take " + email + " off the instance's suppression list?",
			Detail:   "Every workspace may email it again, unless it is on that workspace's own list.",
			Action:   "/admin/suppressions/delete", Button: "Remove from the list", Cancel: "/admin#suppressions",
			Hidden: url.Values{"email": {email}, "confirm": {"yes"}},
		})
		return
	}
	if err := store.RemoveInstanceSuppression(r.Context(), s.catalog, email); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", email+" is off the instance's suppression list.")
	http.Redirect(w, r, "/admin#suppressions", http.StatusSeeOther)
}
