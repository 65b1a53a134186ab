package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// contactMergePage is the "Merge with…" page of a contact: the picker of
// the other contact (?q=), then, once one is picked (?with=), the two side
// by side with a choice per field that differs, and the merge button.
type contactMergePage struct {
	Contact *store.Contact
	Query   string
	Matches []store.Contact
	Merge   *store.ContactMerge // the preview, once the other is picked
	Detail  string              // what the merge moves, in words
	Error   string              // why the picks cannot be merged (422)
	Members []store.Member
}

// MemberName returns how to show the member with this id.
func (p contactMergePage) MemberName(id string) string { return memberName(p.Members, id) }

// FieldText shows one side of a field of the preview.
func (p contactMergePage) FieldText(key string, v any) string {
	if key == "owner_id" {
		if s, _ := v.(string); s != "" {
			return p.MemberName(s)
		}
	}
	if t := store.CustomText(v); t != "" {
		return t
	}
	return "—"
}

// mergePicks reads the form's choices: pick.<field> = "other" takes the
// other contact's value. A form without any choice (the first preview)
// gives nil: each field keeps the kept contact's value unless empty.
func mergePicks(v url.Values) map[string]bool {
	var picks map[string]bool
	for k, vals := range v {
		if key, ok := strings.CutPrefix(k, "pick."); ok && len(vals) > 0 {
			if picks == nil {
				picks = map[string]bool{}
			}
			picks[key] = vals[0] == "other"
		}
	}
	return picks
}

// mergeContact shows the picker, or the preview of merging ?with= into
// this contact. The preview is the confirmation: nothing changes until its
// button is pressed.
func (s *Server) mergeContact(w http.ResponseWriter, r *http.Request) {
	s.renderContactMerge(w, r, http.StatusOK, r.URL.Query(), "")
}

// renderContactMerge renders the picker or, with q's "with", the preview
// with q's picks; problem is a refusal of those picks.
func (s *Server) renderContactMerge(w http.ResponseWriter, r *http.Request, status int, q url.Values, problem string) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	c, err := store.GetContact(ctx, wc.lease.DB, mux.Vars(r)["contact"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := contactMergePage{Contact: c, Query: strings.TrimSpace(q.Get("q")), Error: problem}
	if with := q.Get("with"); with != "" {
		page.Merge, err = store.PreviewContactMerge(ctx, wc.lease.DB, c.ID, with, mergePicks(q))
		if err == nil {
			page.Detail = contactMergeDetail(page.Merge)
			page.Members, err = wc.svc.Members(ctx)
		}
	} else if page.Query != "" {
		var list []store.Contact
		list, _, err = store.ListContacts(ctx, wc.lease.DB, store.ContactFilter{Query: page.Query, Sort: "name", Asc: true, Limit: mergeCandidates + 1})
		for _, m := range list {
			if m.ID != c.ID && len(page.Matches) < mergeCandidates {
				page.Matches = append(page.Matches, m)
			}
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	title := "Merge " + c.Name() + " with…"
	if page.Merge != nil {
		title = "Merge " + page.Merge.Other.Name() + " into " + c.Name()
	}
	v := s.newView(r, title)
	v.Section = "contacts"
	v.Page = page
	s.render(w, r, status, "contact_merge", v)
}

// contactMergeDetail says what a merge moves and deletes.
func contactMergeDetail(m *store.ContactMerge) string {
	moves := nonZeroCounts([]counted{{m.Notes, "note", "notes"}, {m.Tasks, "task", "tasks"}, {m.Deals, "deal", "deals"}, {m.Tags, "tag", "tags"},
		{m.Enrollments, "sequence enrolment", "sequence enrolments"}, {m.Emails, "email sent", "emails sent"}})
	d := "Nothing else is attached to " + m.Other.Name() + "."
	if len(moves) > 0 {
		d = fmt.Sprintf("Moving from %s to %s: %s, with the timeline and audit trail.", m.Other.Name(), m.Kept.Name(), strings.Join(moves, ", "))
	}
	return d
}

// mergeContactPost merges the form's contact (with) into this one, with
// the values picked on the preview.
func (s *Server) mergeContactPost(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	with := r.PostForm.Get("with")
	if with == "" {
		s.fail(w, r, store.Errorf(store.EInvalid, "Pick the contact to merge with."))
		return
	}
	m, err := wc.svc.MergeContacts(r.Context(), s.actor(r), mux.Vars(r)["contact"], with, mergePicks(r.PostForm))
	if store.ErrorCode(err) == store.EInvalid && with != mux.Vars(r)["contact"] {
		// The picks leave nothing to call the contact by: the preview
		// again, with them and the reason.
		s.renderContactMerge(w, r, http.StatusUnprocessableEntity, r.PostForm, store.ErrorMessage(err))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "Merged "+m.Other.Name()+" into "+m.Kept.Name()+".")
	http.Redirect(w, r, contactURL(wc.ws.ID, m.Kept.ID), http.StatusSeeOther)
}
