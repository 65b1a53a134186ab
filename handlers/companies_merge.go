package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// companyMergePage picks the company to merge one into.
type companyMergePage struct {
	Company *store.Company
	Query   string
	Matches []store.Company
}

// mergeCandidates is how many companies the picker lists for a name.
const mergeCandidates = 20

// mergeCompany picks the target by name search (?q=) and, once one is
// picked (?into=), asks for confirmation saying what moves.
func (s *Server) mergeCompany(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	c, err := store.GetCompany(ctx, wc.lease.DB, mux.Vars(r)["company"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	if into := q.Get("into"); into != "" {
		m, err := store.PreviewCompanyMerge(ctx, wc.lease.DB, c.ID, into)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.renderConfirm(w, r, confirmPage{
			Question: "Merge " + m.Source.Name + " into " + m.Target.Name + "?",
			Detail:   mergeDetail(m),
			Action:   companyURL(wc.ws.ID, c.ID, "merge"), Button: "Merge into " + m.Target.Name,
			Cancel: companyURL(wc.ws.ID, c.ID), Hidden: url.Values{"into": {m.Target.ID}},
		})
		return
	}
	page := companyMergePage{Company: c, Query: strings.TrimSpace(q.Get("q"))}
	if page.Query != "" {
		list, _, err := store.ListCompanies(ctx, wc.lease.DB, store.CompanyFilter{Query: page.Query, Sort: "name", Asc: true, Limit: mergeCandidates + 1})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, m := range list {
			if m.ID != c.ID && len(page.Matches) < mergeCandidates {
				page.Matches = append(page.Matches, m)
			}
		}
	}
	v := s.newView(r, "Merge "+c.Name+" into…")
	v.Section = "companies"
	v.Page = page
	s.render(w, r, http.StatusOK, "company_merge", v)
}

// counted is a number of things, with their name for one and for many.
type counted struct {
	n         int
	one, many string
}

// nonZeroCounts writes each count that is not zero ("1 note", "3 deals"),
// in order: what a merge moves.
func nonZeroCounts(cs []counted) []string {
	var out []string
	for _, c := range cs {
		if c.n > 0 {
			s, _ := countOf(c.n, c.one, c.many)
			out = append(out, s)
		}
	}
	return out
}

// mergeDetail says what a merge moves, fills and deletes.
func mergeDetail(m *store.CompanyMerge) string {
	moves := nonZeroCounts([]counted{{m.People, "person", "people"}, {m.Deals, "deal", "deals"}, {m.Notes, "note", "notes"},
		{m.Tasks, "task", "tasks"}, {m.Tags, "tag", "tags"}})
	d := "Nothing is attached to " + m.Source.Name + "."
	if len(moves) > 0 {
		d = fmt.Sprintf("Moving from %s to %s: %s.", m.Source.Name, m.Target.Name, strings.Join(moves, ", "))
	}
	if len(m.Filled) > 0 {
		d += " " + m.Target.Name + "'s empty " + strings.Join(m.Filled, ", ") + " take " + m.Source.Name + "'s."
	}
	return d + " Then " + m.Source.Name + " is deleted, with its timeline. This cannot be undone."
}

// mergeCompanyPost merges the company into the one of the form's into field.
func (s *Server) mergeCompanyPost(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	into := r.PostForm.Get("into")
	if into == "" {
		s.fail(w, r, store.Errorf(store.EInvalid, "Pick the company to merge into."))
		return
	}
	m, err := store.MergeCompanies(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["company"], into)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "Merged "+m.Source.Name+" into "+m.Target.Name+".")
	http.Redirect(w, r, companyURL(wc.ws.ID, m.Target.ID), http.StatusSeeOther)
}
