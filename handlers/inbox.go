package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// inboxPage is the reply inbox: the answers of every mailbox, newest
// first, the unhandled ones unless All.
type inboxPage struct {
	Unhandled  int
	Replies    []store.Reply
	Next       string
	All        bool
	Categories []replyCategory
}

// replyCategory is one choice of the category select.
type replyCategory struct{ Value, Label string }

var replyCategories = []replyCategory{{"", "No category"}, {"interested", "Interested"}, {"not_now", "Not now"},
	{"not_interested", "Not interested"}, {"out_of_office", "Out of office"}, {"other", "Other"}}

// categoryLabel names a reply's category for people.
func categoryLabel(v string) string {
	for _, c := range replyCategories {
		if c.Value == v {
			return c.Label
		}
	}
	return v
}

func (s *Server) inbox(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	q := r.URL.Query()
	all := q.Get("show") == "all"
	list, next, err := store.ListReplies(r.Context(), wc.lease.DB, store.ReplyFilter{Unhandled: !all, Cursor: q.Get("cursor")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	unhandled, err := store.CountUnhandledReplies(r.Context(), wc.lease.DB)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Inbox")
	v.Section = "inbox"
	v.Page = inboxPage{Unhandled: unhandled, Replies: list, Next: next, All: all, Categories: replyCategories}
	s.render(w, r, http.StatusOK, "inbox", v)
}

// updateReply marks a reply handled or not, or sorts it in a category,
// and goes back to the inbox as it was shown.
func (s *Server) updateReply(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	in := store.ReplyInput{}
	if v := r.PostForm.Get("handled"); v != "" {
		handled, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(w, r, store.FieldError("handled", "handled must be true or false."))
			return
		}
		in.Handled = &handled
	}
	if _, ok := r.PostForm["category"]; ok {
		c := r.PostForm.Get("category")
		in.Category = &c
	}
	reply, err := store.UpdateReply(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["reply"], in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "Saved."
	if in.Handled != nil && *in.Handled {
		msg = "The reply from " + reply.FromEmail + " is handled."
	}
	s.flash(w, r, "success", msg)
	back := workspaceURL(wc.ws.ID, "inbox")
	if r.PostForm.Get("show") == "all" {
		back += "?show=all"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// stopOnAutoReply stops the sequences of the contact an automatic answer
// came from, as a reply would have: an out-of-office stops nothing by
// itself, but a person may decide it should.
func (s *Server) stopOnAutoReply(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	reply, err := store.GetReply(r.Context(), wc.lease.DB, mux.Vars(r)["reply"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := store.StopOnReply(r.Context(), wc.lease.DB, s.actor(r), reply.ContactID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", fmt.Sprintf("%d enrolment%s stopped.", n, map[bool]string{true: "", false: "s"}[n == 1]))
	back := workspaceURL(wc.ws.ID, "inbox")
	if r.PostForm.Get("show") == "all" {
		back += "?show=all"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// apiRepliesList is GET /api/v1/replies (?handled=false for those to
// handle).
func apiRepliesList(ctx context.Context, db *store.DB, q url.Values, p page) ([]store.Reply, string, error) {
	f := store.ReplyFilter{Cursor: p.cursor, Limit: p.limit}
	if v := q.Get("handled"); v != "" {
		handled, err := strconv.ParseBool(v)
		if err != nil || handled {
			return nil, "", store.Errorf(store.EInvalid, "handled can only be false (the unhandled replies); leave it out for all.")
		}
		f.Unhandled = true
	}
	return store.ListReplies(ctx, db, f)
}

// apiUpdateReply is PATCH /api/v1/replies/{id} {"handled": true, "category": "interested"}.
func apiUpdateReply(svc *tenant.Service, ctx context.Context, a store.Actor, id string, in store.ReplyInput) (*store.Reply, error) {
	return store.UpdateReply(ctx, svc.DB(), a, id, in)
}
