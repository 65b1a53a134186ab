package handlers

import (
	"cmp"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
)

// dealsPage is the board or table of one pipeline, with its forecast.
type dealsPage struct {
	Pipelines []store.Pipeline
	Pipeline  store.Pipeline
	Board     *store.Board
	Deals     []store.Deal // table view
	Next      string
	Forecast  []store.ForecastRow
	Filter    store.DealFilter
	View      string
	Params    url.Values
	Members   []store.Member
	Stage     *store.Stage // the column page's stage
}

// MemberName returns how to show the member with this id.
func (p dealsPage) MemberName(id string) string { return memberName(p.Members, id) }

// dealFilter reads the deal list's and board's filters from a query.
func dealFilter(q url.Values) store.DealFilter {
	return store.DealFilter{OwnerID: q.Get("owner"), CloseFrom: q.Get("close_from"), CloseTo: q.Get("close_to"),
		Status: q.Get("status"), Query: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor")}
}

func (s *Server) deals(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	q := r.URL.Query()
	pipelines, err := store.Pipelines(ctx, wc.lease.DB)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := dealsPage{Pipelines: pipelines, Pipeline: pipelines[0], View: q.Get("view"), Params: q}
	if id := q.Get("pipeline"); id != "" {
		p, err := store.GetPipeline(ctx, wc.lease.DB, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		page.Pipeline = *p
	}
	f := dealFilter(q)
	page.Filter = f
	if page.View == "table" {
		f.PipelineID = page.Pipeline.ID
		page.Deals, page.Next, err = store.ListDeals(ctx, wc.lease.DB, f)
	} else {
		page.View = "board"
		page.Board, err = store.LoadBoard(ctx, wc.lease.DB, page.Pipeline.ID, f)
	}
	if err == nil {
		page.Forecast, err = store.Forecast(ctx, wc.lease.DB, page.Pipeline.ID, f)
	}
	if err == nil {
		page.Members, err = wc.svc.Members(ctx)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Deals")
	v.Section = "deals"
	v.Page = page
	s.render(w, r, http.StatusOK, "deals", v)
}

// dealColumn is the next page of one board column's cards: for htmx, the
// cards and the next "Load more" alone, which take the place of the one
// clicked; without JavaScript, a page of that column.
func (s *Server) dealColumn(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	q := r.URL.Query()
	pipelines, err := store.Pipelines(ctx, wc.lease.DB)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	page := dealsPage{Pipelines: pipelines, View: "column", Params: q}
	f := dealFilter(q)
	f.Status = "" // a column holds its stage's open deals
	page.Filter = f
	p, stage, deals, next, err := store.BoardColumnPage(ctx, wc.lease.DB, pipelines, mux.Vars(r)["stage"], f)
	if err == nil {
		page.Pipeline, page.Stage, page.Deals, page.Next = *p, stage, deals, next
		page.Members, err = wc.svc.Members(ctx)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, page.Stage.Name+" deals")
	v.Section = "deals"
	v.Page = page
	if r.Header.Get("HX-Request") == "true" {
		s.renderPartial(w, r, "deals", "deal-cards", map[string]any{"V": v, "Deals": page.Deals, "Stage": page.Stage, "Next": page.Next})
		return
	}
	s.render(w, r, http.StatusOK, "deals", v)
}

// dealPage is one deal, with its tasks and its timeline on its own page.
type dealPage struct {
	Deal      *store.Deal
	Pipelines []store.Pipeline
	Members   []store.Member
	Tasks     []store.Task
	Timeline  []store.TimelineItem
	Fields    []store.CustomField // the deals' custom fields
}

// dealTimelineShown bounds the entries of a deal page's timeline.
const dealTimelineShown = 100

// MemberName returns how to show the member with this id.
func (p dealPage) MemberName(id string) string { return memberName(p.Members, id) }

// dealPageData loads what the deal page and form show besides the deal.
func (s *Server) dealPageData(r *http.Request, d *store.Deal) (dealPage, error) {
	wc := workspaceFrom(r)
	page := dealPage{Deal: d}
	var err error
	page.Pipelines, err = store.Pipelines(r.Context(), wc.lease.DB)
	if err == nil {
		page.Members, err = wc.svc.Members(r.Context())
	}
	if err == nil {
		page.Fields, err = store.CustomFields(r.Context(), wc.lease.DB, store.KindDeal)
	}
	return page, err
}

func (s *Server) deal(w http.ResponseWriter, r *http.Request) {
	d, err := store.GetDeal(r.Context(), workspaceFrom(r).lease.DB, mux.Vars(r)["deal"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.dealPageData(r, d)
	wc := workspaceFrom(r)
	if err == nil {
		page.Tasks, _, err = store.ListTasks(r.Context(), wc.lease.DB, store.TaskFilter{DealID: d.ID, Limit: store.MaxLimit})
	}
	if err == nil {
		page.Timeline, err = store.DealTimeline(r.Context(), wc.lease.DB, d.ID, dealTimelineShown)
	}
	if err == nil {
		err = describeTimeline(r.Context(), wc, store.KindDeal, page.Members, page.Timeline)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, d.Title)
	v.Section = "deals"
	v.Page = page
	s.render(w, r, http.StatusOK, "deal", v)
}

func (s *Server) newDeal(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	q := r.URL.Query()
	f.Values.Set("currency", "EUR")
	f.Values.Set("stage_id", q.Get("stage"))
	f.Values.Set("contact_id", q.Get("contact"))
	f.Values.Set("company_id", q.Get("company"))
	s.renderDealForm(w, r, http.StatusOK, nil, f)
}

func (s *Server) editDeal(w http.ResponseWriter, r *http.Request) {
	db := workspaceFrom(r).lease.DB
	d, err := store.GetDeal(r.Context(), db, mux.Vars(r)["deal"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fields, err := store.CustomFields(r.Context(), db, store.KindDeal)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.renderDealForm(w, r, http.StatusOK, d, newForm(dealFormValues(d, fields)))
}

// dealFormValues are a deal's values as its edit form shows them, with
// the version they are at.
func dealFormValues(d *store.Deal, fields []store.CustomField) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"title": d.Title, "value": d.Value, "currency": d.Currency, "stage_id": d.StageID,
		"contact_id": d.ContactID, "company_id": d.CompanyID, "owner_id": d.OwnerID, "expected_close": d.ExpectedClose,
		"status": d.Status, "lost_reason": d.LostReason} {
		v.Set(k, val)
	}
	setCustomFormValues(v, fields, d.Custom)
	v.Set("version", strconv.FormatInt(d.Version, 10))
	return v
}

// showDeal writes a deal's form values as text: names for the ids.
func showDeal(d *store.Deal, members []store.Member) func(name, value string) string {
	return func(name, value string) string {
		switch name {
		case "stage_id":
			return d.StageName
		case "contact_id":
			return cmp.Or(d.ContactName, value)
		case "company_id":
			return cmp.Or(d.CompanyName, value)
		}
		return showMember(members)(name, value)
	}
}

func (s *Server) renderDealForm(w http.ResponseWriter, r *http.Request, status int, d *store.Deal, f *form) {
	page, err := s.dealPageData(r, d)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	title := "New deal"
	if d != nil {
		title = "Edit " + d.Title
	}
	v := s.newView(r, title)
	v.Section = "deals"
	v.Form = f
	v.Page = page
	s.render(w, r, status, "deal_form", v)
}

// dealInput reads the deal form. The stage picker names a stage; its
// pipeline follows. A contact may be given by email, a company by name.
// Every custom field is sent, so every one is set.
func (s *Server) dealInput(r *http.Request, f *form, fields []store.CustomField) (store.DealInput, error) {
	wc := workspaceFrom(r)
	str := func(name string) *string { v := f.Get(name); return &v }
	in := store.DealInput{Title: str("title"), Value: str("value"), Currency: str("currency"), StageID: str("stage_id"),
		ContactID: str("contact_id"), CompanyID: str("company_id"), OwnerID: str("owner_id"),
		ExpectedClose: str("expected_close"), Status: str("status"), LostReason: str("lost_reason"),
		Custom: customInput(f, fields)}
	if *in.Status == "" {
		*in.Status = "open"
	}
	if email := f.Get("contact_email"); email != "" && *in.ContactID == "" {
		id, err := store.ContactIDByEmail(r.Context(), wc.lease.DB, email)
		if err != nil {
			return in, store.FieldError("contact_email", "No contact has the email %s in this workspace.", email)
		}
		in.ContactID = &id
	}
	if name := f.Get("company_name"); name != "" && *in.CompanyID == "" {
		id, err := store.CompanyIDByName(r.Context(), wc.lease.DB, name)
		if err != nil {
			return in, store.FieldError("company_name", "No company is called %s in this workspace.", name)
		}
		in.CompanyID = &id
	}
	if *in.StageID != "" {
		pipeline, err := s.pipelineOfStage(r, *in.StageID)
		if err != nil {
			return in, err
		}
		in.PipelineID = &pipeline
	}
	return in, nil
}

func (s *Server) pipelineOfStage(r *http.Request, stageID string) (string, error) {
	ps, err := store.Pipelines(r.Context(), workspaceFrom(r).lease.DB)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		for _, st := range p.Stages {
			if st.ID == stageID {
				return p.ID, nil
			}
		}
	}
	return "", store.FieldError("stage_id", "No stage with this id exists in this workspace.")
}

// saveDeal creates (id "") or updates a deal from the form.
func (s *Server) saveDeal(w http.ResponseWriter, r *http.Request, id string) {
	wc := workspaceFrom(r)
	var current *store.Deal
	if id != "" {
		var err error
		if current, err = store.GetDeal(r.Context(), wc.lease.DB, id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	f := newForm(r.PostForm)
	fields, err := store.CustomFields(r.Context(), wc.lease.DB, store.KindDeal)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	in, err := s.dealInput(r, f, fields)
	var saved *store.Deal
	if err == nil && id == "" {
		saved, err = wc.svc.CreateDeal(r.Context(), s.actor(r), in)
	} else if err == nil {
		if in.Expect, err = formExpect(f); err == nil {
			saved, err = wc.svc.UpdateDeal(r.Context(), s.actor(r), id, in)
		}
	}
	if _, stale := store.CurrentVersion(err); stale {
		// Someone saved since the form was loaded: show theirs beside it.
		now, err := store.GetDeal(r.Context(), wc.lease.DB, id)
		var members []store.Member
		if err == nil {
			members, err = wc.svc.Members(r.Context())
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		current = now
		f.showTheirs("deal", dealFormValues(now, fields), now.Version, dealURL(wc.ws.ID, id), showDeal(now, members))
	}
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderDealForm(w, r, status, current, f) })
		return
	}
	s.flash(w, r, "success", "Saved "+saved.Title+".")
	http.Redirect(w, r, dealURL(wc.ws.ID, saved.ID), http.StatusSeeOther)
}

func (s *Server) createDeal(w http.ResponseWriter, r *http.Request) { s.saveDeal(w, r, "") }

func (s *Server) updateDeal(w http.ResponseWriter, r *http.Request) {
	s.saveDeal(w, r, mux.Vars(r)["deal"])
}

// moveDeal puts a deal in another stage, or marks it won or lost (the
// board's drop zones, "won" or "lost" for a stage): the board's drag and
// drop, and the form under each card that does the same without
// JavaScript. With htmx the form follows the redirect and takes the
// board from the page it gets.
func (s *Server) moveDeal(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id, stage := mux.Vars(r)["deal"], r.PostForm.Get("stage_id")
	d, err := store.GetDeal(r.Context(), wc.lease.DB, id)
	if err == nil {
		in := store.DealInput{StageID: &stage}
		if stage == "won" || stage == "lost" {
			in = store.DealInput{Status: &stage}
		}
		_, err = wc.svc.UpdateDeal(r.Context(), s.actor(r), id, in)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, boardURL(wc.ws.ID, d.PipelineID, r.PostForm.Get("board")), http.StatusSeeOther)
}

// boardURL is the board of a pipeline with the filters the board had when
// a card was moved (its query, sent back by the Move form), so the board
// htmx swaps in after a move is the one that was shown. Only the board's
// own filters are kept.
func boardURL(workspaceID, pipelineID, board string) string {
	q, err := url.ParseQuery(strings.TrimPrefix(board, "?"))
	if err != nil {
		return pipelineDealsURL(workspaceID, pipelineID)
	}
	keep := url.Values{"pipeline": {pipelineID}}
	for _, k := range []string{"q", "owner", "close_from", "close_to"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	return workspaceURL(workspaceID, "deals") + "?" + keep.Encode()
}

// closeDeal marks a deal won or lost (or open again). It sends and changes
// the status alone: a form that sent every field back reverted what others
// had changed since the page was loaded.
func (s *Server) closeDeal(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["deal"]
	status, reason := r.PostForm.Get("status"), r.PostForm.Get("lost_reason")
	_, err := wc.svc.UpdateDeal(r.Context(), s.actor(r), id, store.DealInput{Status: &status, LostReason: &reason})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, dealURL(wc.ws.ID, id), http.StatusSeeOther)
}

func (s *Server) confirmDeleteDeal(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	d, err := store.GetDeal(r.Context(), wc.lease.DB, mux.Vars(r)["deal"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderConfirm(w, r, confirmPage{Question: "Delete the deal " + d.Title + "?", Detail: "This cannot be undone; to keep its history, mark it lost instead.",
		Action: dealURL(wc.ws.ID, d.ID, "delete"), Button: "Delete deal", Cancel: dealURL(wc.ws.ID, d.ID)})
}

func (s *Server) deleteDeal(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.DeleteDeal(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["deal"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The deal was deleted.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "deals"), http.StatusSeeOther)
}
