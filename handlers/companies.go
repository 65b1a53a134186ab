package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// companiesPage is the company list with its filters.
type companiesPage struct {
	Companies []store.Company
	Counts    map[string]store.CompanyCounts // people and open deals, by company id
	Next      string
	Total     int
	Params    url.Values
	Filter    store.CompanyFilter
	Tags      []string
}

// People says how many people work at the company, grouped by thousands.
func (p companiesPage) People(id string) string {
	return store.GroupThousands(int64(p.Counts[id].People))
}

// OpenDeals says how many of the company's deals are open.
func (p companiesPage) OpenDeals(id string) string {
	return store.GroupThousands(int64(p.Counts[id].OpenDeals))
}

func (s *Server) companies(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	q := r.URL.Query()
	f := store.CompanyFilter{Query: strings.TrimSpace(q.Get("q")), Tag: q.Get("tag"), Sort: q.Get("sort"), Asc: q.Get("dir") == "asc", Cursor: q.Get("cursor")}
	list, next, err := store.ListCompanies(r.Context(), wc.lease.DB, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := companiesPage{Companies: list, Next: next, Params: q, Filter: f}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	if page.Counts, err = store.CountsOfCompanies(r.Context(), wc.lease.DB, ids); err == nil {
		page.Total, err = store.CountCompanies(r.Context(), wc.lease.DB, f)
	}
	if err == nil {
		page.Tags, err = store.AllTags(r.Context(), wc.lease.DB)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Companies")
	v.Section = "companies"
	v.Page = page
	s.render(w, r, http.StatusOK, "companies", v)
}

// companyPage is one company with a page of its people, its deals, tasks
// and timeline.
type companyPage struct {
	Company  *store.Company
	People   *store.CompanyPeople
	Deals    []store.Deal
	AllDeals bool // Deals is every deal of the company, not the newest ones only
	Tasks    []store.Task
	Timeline []store.TimelineItem
	Members  []store.Member
	Fields   []store.CustomField
}

// N writes a number grouped by thousands ("20,000").
func (p companyPage) N(n int) string { return store.GroupThousands(int64(n)) }

// MemberName returns how to show the member with this id.
func (p companyPage) MemberName(id string) string { return memberName(p.Members, id) }

func (s *Server) company(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	c, err := store.GetCompany(ctx, wc.lease.DB, mux.Vars(r)["company"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, before, err := peopleCursors(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := companyPage{Company: c}
	if page.People, err = store.ListCompanyPeople(ctx, wc.lease.DB, c.ID, after, before); err != nil {
		s.fail(w, r, err)
		return
	}
	{
		var next string
		page.Deals, next, err = store.ListDeals(ctx, wc.lease.DB, store.DealFilter{CompanyID: c.ID, Limit: companyDealsShown})
		page.AllDeals = next == ""
	}
	if err == nil {
		page.Tasks, _, err = store.ListTasks(ctx, wc.lease.DB, store.TaskFilter{CompanyID: c.ID, Limit: store.MaxLimit})
	}
	if err == nil {
		page.Timeline, err = store.Timeline(ctx, wc.lease.DB, "company", c.ID, 100)
	}
	if err == nil {
		page.Members, err = wc.svc.Members(ctx)
	}
	if err == nil {
		page.Fields, err = store.CustomFields(ctx, wc.lease.DB, "company")
	}
	if err == nil {
		err = describeTimeline(ctx, wc, store.KindCompany, page.Members, page.Timeline)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, c.Name)
	v.Section = "companies"
	v.Page = page
	s.render(w, r, http.StatusOK, "company", v)
}

// companyDealsShown is how many of its newest deals a company page lists.
const companyDealsShown = 50

// peopleCursors reads the after and before parameters of a company page's
// people (positive integers, at most one of them).
func peopleCursors(r *http.Request) (after, before int64, err error) {
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		to   *int64
	}{{"after", &after}, {"before", &before}} {
		if v := q.Get(p.name); v != "" {
			if *p.to, err = strconv.ParseInt(v, 10, 64); err != nil || *p.to <= 0 {
				return 0, 0, store.Errorf(store.EInvalid, "The page of people to show is not a valid one; start from the first page.")
			}
		}
	}
	return after, before, nil
}

// companyFormPage is the new and edit form of a company.
type companyFormPage struct {
	Company   *store.Company
	Duplicate *store.Company // a company of the same name, shown before creating another
	Members   []store.Member
	Fields    []store.CustomField
}

func (s *Server) newCompany(w http.ResponseWriter, r *http.Request) {
	s.renderCompanyForm(w, r, http.StatusOK, nil, nil, newForm(nil))
}

func (s *Server) editCompany(w http.ResponseWriter, r *http.Request) {
	db := workspaceFrom(r).lease.DB
	c, err := store.GetCompany(r.Context(), db, mux.Vars(r)["company"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fields, err := store.CustomFields(r.Context(), db, "company")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.renderCompanyForm(w, r, http.StatusOK, c, nil, newForm(companyFormValues(c, fields)))
}

// companyFormValues are a company's values as its edit form shows them,
// with the version they are at.
func companyFormValues(c *store.Company, fields []store.CustomField) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"name": c.Name, "domain": c.Domain, "industry": c.Industry, "size": c.Size,
		"owner_id": c.OwnerID, "tags": strings.Join(c.Tags, ", ")} {
		v.Set(k, val)
	}
	setCustomFormValues(v, fields, c.Custom)
	v.Set("version", strconv.FormatInt(c.Version, 10))
	return v
}

func (s *Server) renderCompanyForm(w http.ResponseWriter, r *http.Request, status int, c, duplicate *store.Company, f *form) {
	wc := workspaceFrom(r)
	members, err := wc.svc.Members(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	fields, err := store.CustomFields(r.Context(), wc.lease.DB, "company")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	title := "New company"
	if c != nil {
		title = "Edit " + c.Name
	}
	v := s.newView(r, title)
	v.Section = "companies"
	v.Form = f
	v.Page = companyFormPage{Company: c, Duplicate: duplicate, Members: members, Fields: fields}
	s.render(w, r, status, "company_form", v)
}

// companyInput reads the company form; every field is sent, so every field is set.
func companyInput(f *form, fields []store.CustomField) store.CompanyInput {
	str := func(name string) *string { v := f.Get(name); return &v }
	tags := strings.Split(f.Get("tags"), ",")
	in := store.CompanyInput{Name: str("name"), Domain: str("domain"), Industry: str("industry"), Size: str("size"),
		OwnerID: str("owner_id"), Tags: &tags, Custom: customInput(f, fields)}
	return in
}

// saveCompany creates (id "") or updates a company from the form.
func (s *Server) saveCompany(w http.ResponseWriter, r *http.Request, id string) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	var current *store.Company
	if id != "" {
		var err error
		if current, err = store.GetCompany(ctx, wc.lease.DB, id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	f := newForm(r.PostForm)
	fields, err := store.CustomFields(ctx, wc.lease.DB, "company")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	in := companyInput(f, fields)
	var saved *store.Company
	if id == "" {
		// A company of the same name is shown before another is made; the
		// form then carries its id, and "Create anyway" creates.
		in.CheckDuplicate, in.ConfirmDuplicate = true, f.Get("confirm_duplicate")
		saved, err = wc.svc.CreateCompany(ctx, s.actor(r), in)
	} else if in.Expect, err = formExpect(f); err == nil {
		saved, err = wc.svc.UpdateCompany(ctx, s.actor(r), id, in)
	}
	if _, stale := store.CurrentVersion(err); stale {
		// Someone saved since the form was loaded: show theirs beside it.
		now, err := store.GetCompany(ctx, wc.lease.DB, id)
		var members []store.Member
		if err == nil {
			members, err = wc.svc.Members(ctx)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		current = now
		f.showTheirs("company", companyFormValues(now, fields), now.Version, companyURL(wc.ws.ID, id), showMember(members))
	}
	if dup := (*store.DuplicateCompanyError)(nil); errors.As(err, &dup) {
		s.renderCompanyForm(w, r, http.StatusConflict, nil, dup.Company, f)
		return
	}
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderCompanyForm(w, r, status, current, nil, f) })
		return
	}
	s.flash(w, r, "success", "Saved "+saved.Name+".")
	http.Redirect(w, r, companyURL(wc.ws.ID, saved.ID), http.StatusSeeOther)
}

func (s *Server) createCompany(w http.ResponseWriter, r *http.Request) { s.saveCompany(w, r, "") }

func (s *Server) updateCompany(w http.ResponseWriter, r *http.Request) {
	s.saveCompany(w, r, mux.Vars(r)["company"])
}

func (s *Server) confirmDeleteCompany(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	c, err := store.GetCompany(r.Context(), wc.lease.DB, mux.Vars(r)["company"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderConfirm(w, r, confirmPage{
		Question: "Delete " + c.Name + "?",
		Detail:   "Its notes and tasks go too. Its contacts stay, without a company. This cannot be undone.",
		Action:   companyURL(wc.ws.ID, c.ID, "delete"), Button: "Delete company", Cancel: companyURL(wc.ws.ID, c.ID),
	})
}

func (s *Server) deleteCompany(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.DeleteCompany(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["company"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The company was deleted.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "companies"), http.StatusSeeOther)
}
