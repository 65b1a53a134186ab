package handlers

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// actor is the signed-in user as the audit log records them.
func (s *Server) actor(r *http.Request) store.Actor {
	return store.Actor{Kind: "user", ID: authFrom(r).user.ID, IP: s.clientIP(r)}
}

// contactsPage is the contact list with its filters.
type contactsPage struct {
	Contacts []store.Contact
	Rows     template.HTML // the table's rows (contactRowsHTML)
	Nav      pageNav
	Total    int
	Params   url.Values // the filters, sort and columns, for links
	Here     string     // the whole query of this page, position included
	Filter   store.ContactFilter
	Tags     []string
	Members  []store.Member
	Fields   []store.CustomField
	// Sequences are those the selected contacts can be enrolled in.
	Sequences []store.SequenceRef
	// MayExport says whether the workspace lets this member export lists.
	MayExport bool
	// Chips are the active filters, each with the link that drops it.
	Chips []filterChip
	// Columns are the columns shown after the name; Choices the chooser's.
	Columns []listColumn
	Choices []columnChoice
	// Prefs are the user's saved views and columns of the list; Open is
	// the view open (nil for none), Changed says its filters were changed
	// since.
	Prefs   store.ListPrefs
	Open    *store.SavedView
	Changed bool
}

// filterChip is an active filter of a list and the list without it.
type filterChip struct{ Label, Remove string }

// contactChips lists the filters f applies, in the order of the filter
// form, each removable on its own (the others and the sort stay).
func contactChips(base string, params url.Values, f store.ContactFilter, members []store.Member, fields []store.CustomField, company string) []filterChip {
	var chips []filterChip
	add := func(label, key string) {
		q := url.Values{}
		for k, v := range params {
			if k != key && k != "format" && !slices.Contains(pageParams, k) {
				q[k] = v
			}
		}
		if len(q) == 0 {
			q.Set("view", viewAll) // the bare list would open the default view
		}
		chips = append(chips, filterChip{Label: label, Remove: base + "?" + q.Encode()})
	}
	if f.Query != "" {
		add("Search: "+f.Query, "q")
	}
	if f.Stage != "" {
		add("Stage: "+f.Stage, "stage")
	}
	if f.Tag != "" {
		add("Tag: "+f.Tag, "tag")
	}
	if f.OwnerID != "" {
		add("Owner: "+cmp.Or(memberName(members, f.OwnerID), "a former member"), "owner")
	}
	for _, fd := range fields {
		if v, ok := f.Custom[fd.Key]; ok {
			add(fd.Label+": "+v, "custom."+fd.Key)
		}
	}
	if f.CompanyID != "" {
		add("Company: "+cmp.Or(company, "unknown"), "company")
	}
	return chips
}

// MemberName returns how to show the member with this id.
func (p contactsPage) MemberName(id string) string { return memberName(p.Members, id) }

func memberName(members []store.Member, id string) string {
	for _, m := range members {
		if m.UserID == id {
			if m.Name != "" {
				return m.Name
			}
			return m.Email
		}
	}
	return ""
}

// listParams is q without the parameters that say which page is shown.
func listParams(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if !slices.Contains(pageParams, k) {
			out[k] = v
		}
	}
	return out
}

// contactFilter reads the list's filters from the query string.
func contactFilter(q url.Values) store.ContactFilter {
	f := store.ContactFilter{
		Query: strings.TrimSpace(q.Get("q")), Tag: q.Get("tag"), Stage: q.Get("stage"),
		OwnerID: q.Get("owner"), CompanyID: q.Get("company"), Sort: q.Get("sort"),
		Asc: q.Get("dir") == "asc", Cursor: q.Get("cursor"),
	}
	for k, v := range q {
		if key, ok := strings.CutPrefix(k, "custom."); ok && len(v) > 0 && v[0] != "" {
			if f.Custom == nil {
				f.Custom = map[string]string{}
			}
			f.Custom[key] = v[0]
		}
	}
	return f
}

func (s *Server) contacts(w http.ResponseWriter, r *http.Request) {
	if format := r.URL.Query().Get("format"); format != "" {
		s.exportContacts(w, r, format)
		return
	}
	s.renderContacts(w, r, http.StatusOK, r.URL.Query(), newForm(nil))
}

// renderContacts shows the list for the query q: the user's default view
// when q is empty, the view q names opened. A form that failed (saving a
// view) comes back with its errors.
func (s *Server) renderContacts(w http.ResponseWriter, r *http.Request, status int, q url.Values, form *form) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	prefs, err := store.UserListPrefs(ctx, wc.lease.DB, authFrom(r).user.ID, store.ViewContacts)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	q, open, ok := openView(q, prefs)
	if !ok {
		s.notFound(w, r) // another user's view, or none
		return
	}
	f := contactFilter(q)
	var from int
	f.Cursor, f.Before, from = listPosition(q)
	list, cur, err := store.ListContactsPage(ctx, wc.lease.DB, f)
	if err == nil && f.Before && f.Cursor != "" && cur.Prev == "" && len(list) < store.DefaultLimit {
		// Read back to the start short of a page: the first page is shown
		// whole instead.
		f.Cursor, f.Before = "", false
		list, cur, err = store.ListContactsPage(ctx, wc.lease.DB, f)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := contactsPage{Contacts: list, Params: listParams(q), Here: q.Encode(), Filter: f, Prefs: prefs, Open: open}
	page.Changed = open != nil && viewQuery(q) != open.Query
	if page.Total, err = store.CountContacts(ctx, wc.lease.DB, f); err == nil {
		page.Nav = newPageNav(q, cur, len(list), store.DefaultLimit, page.Total, from, f.Cursor, f.Before)
		page.Tags, err = store.AllTags(ctx, wc.lease.DB)
	}
	if err == nil {
		page.Members, err = wc.svc.Members(ctx)
	}
	if err == nil {
		page.Fields, err = store.CustomFields(ctx, wc.lease.DB, "contact")
	}
	if err == nil {
		page.Columns = shownContactColumns(q, page.Prefs, page.Fields)
		page.Choices = columnChoices(page.Columns, page.Fields)
		page.Sequences, err = store.OpenSequences(ctx, wc.lease.DB)
	}
	if err == nil {
		page.MayExport, err = store.MayExportLists(ctx, wc.lease.DB.R, wc.role)
	}
	var company string
	if err == nil && f.CompanyID != "" {
		if c, cerr := store.GetCompany(ctx, wc.lease.DB, f.CompanyID); cerr == nil {
			company = c.Name
		} else if store.ErrorCode(cerr) != store.ENotFound {
			err = cerr
		}
	}
	page.Chips = contactChips(workspaceURL(wc.ws.ID, "contacts"), page.Params, f, page.Members, page.Fields, company)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, "Contacts")
	v.Section = "contacts"
	v.Form = form
	page.Rows = contactRowsHTML(wc.ws.ID, list, page.Columns, page.Members, page.Params, v.Clock,
		store.RoleRank(wc.role) >= store.RoleRank("member"), s.pages.inPlace["contacts-list"])
	v.Page = page
	s.render(w, r, status, "contacts", v)
}

// contactFormPage is the new and edit form of a contact.
type contactFormPage struct {
	Contact *store.Contact // nil when new
	Members []store.Member
	Fields  []store.CustomField
}

func (s *Server) newContact(w http.ResponseWriter, r *http.Request) {
	s.renderContactForm(w, r, http.StatusOK, nil, newForm(nil))
}

func (s *Server) editContact(w http.ResponseWriter, r *http.Request) {
	db := workspaceFrom(r).lease.DB
	c, err := store.GetContact(r.Context(), db, mux.Vars(r)["contact"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fields, err := store.CustomFields(r.Context(), db, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.renderContactForm(w, r, http.StatusOK, c, newForm(contactFormValues(c, fields)))
}

// contactFormValues are a contact's values as its edit form shows them,
// with the version they are at.
func contactFormValues(c *store.Contact, fields []store.CustomField) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"first_name": c.FirstName, "last_name": c.LastName, "email": c.Email, "phone": c.Phone,
		"title": c.Title, "company": c.Company, "owner_id": c.OwnerID, "stage": c.Stage, "tags": strings.Join(c.Tags, ", ")} {
		v.Set(k, val)
	}
	setCustomFormValues(v, fields, c.Custom)
	v.Set("version", strconv.FormatInt(c.Version, 10))
	return v
}

func (s *Server) renderContactForm(w http.ResponseWriter, r *http.Request, status int, c *store.Contact, f *form) {
	wc := workspaceFrom(r)
	members, err := wc.svc.Members(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	fields, err := store.CustomFields(r.Context(), wc.lease.DB, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	title := "New contact"
	if c != nil {
		title = "Edit " + c.Name()
	}
	v := s.newView(r, title)
	v.Section = "contacts"
	v.Form = f
	v.Page = contactFormPage{Contact: c, Members: members, Fields: fields}
	s.render(w, r, status, "contact_form", v)
}

// contactInput reads the contact form. Every field is sent, so every field
// is set; custom fields left empty are cleared.
func contactInput(f *form, fields []store.CustomField) store.ContactInput {
	str := func(name string) *string { v := f.Get(name); return &v }
	tags := strings.Split(f.Get("tags"), ",")
	in := store.ContactInput{
		FirstName: str("first_name"), LastName: str("last_name"), Email: str("email"), Phone: str("phone"),
		Title: str("title"), Company: str("company"), OwnerID: str("owner_id"), Stage: str("stage"), Tags: &tags,
		Custom: customInput(f, fields),
	}
	return in
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	fields, err := store.CustomFields(r.Context(), wc.lease.DB, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	c, err := wc.svc.CreateContact(r.Context(), s.actor(r), contactInput(f, fields))
	if err != nil {
		s.contactFormError(w, r, nil, f, err)
		return
	}
	s.flash(w, r, "success", c.Name()+" was added.")
	http.Redirect(w, r, contactURL(wc.ws.ID, c.ID), http.StatusSeeOther)
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["contact"]
	current, err := store.GetContact(r.Context(), wc.lease.DB, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	fields, err := store.CustomFields(r.Context(), wc.lease.DB, "contact")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	in := contactInput(f, fields)
	if in.Expect, err = formExpect(f); err == nil {
		_, err = wc.svc.UpdateContact(r.Context(), s.actor(r), id, in)
	}
	if _, stale := store.CurrentVersion(err); stale {
		// Someone saved since the form was loaded: show theirs beside it.
		now, err := store.GetContact(r.Context(), wc.lease.DB, id)
		var members []store.Member
		if err == nil {
			members, err = wc.svc.Members(r.Context())
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		current = now
		f.showTheirs("contact", contactFormValues(now, fields), now.Version, contactURL(wc.ws.ID, id), showMember(members))
	}
	if err != nil {
		s.contactFormError(w, r, current, f, err)
		return
	}
	s.flash(w, r, "success", "Saved.")
	http.Redirect(w, r, contactURL(wc.ws.ID, id), http.StatusSeeOther)
}

// contactFormError re-renders the form with the error on its field.
func (s *Server) contactFormError(w http.ResponseWriter, r *http.Request, c *store.Contact, f *form, err error) {
	s.failForm(w, r, f, err, func(status int) { s.renderContactForm(w, r, status, c, f) })
}

// contactPage is one contact with its deals, tasks and timeline.
type contactPage struct {
	Contact   *store.Contact
	Tasks     []store.Task
	Timeline  []store.TimelineItem
	Members   []store.Member
	Fields    []store.CustomField
	Deals     []store.Deal
	MoreDeals bool // more deals than the panel shows
}

// MemberName returns how to show the member with this id.
func (p contactPage) MemberName(id string) string { return memberName(p.Members, id) }

func (s *Server) contact(w http.ResponseWriter, r *http.Request) {
	s.renderContact(w, r, http.StatusOK, newForm(nil))
}

func (s *Server) renderContact(w http.ResponseWriter, r *http.Request, status int, f *form) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	c, err := store.GetContact(ctx, wc.lease.DB, mux.Vars(r)["contact"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := contactPage{Contact: c}
	page.Timeline, err = store.Timeline(ctx, wc.lease.DB, "contact", c.ID, 100)
	if err == nil {
		page.Tasks, _, err = store.ListTasks(ctx, wc.lease.DB, store.TaskFilter{ContactID: c.ID, Limit: store.MaxLimit})
	}
	if err == nil {
		page.Members, err = wc.svc.Members(ctx)
	}
	if err == nil {
		page.Fields, err = store.CustomFields(ctx, wc.lease.DB, "contact")
	}
	if err == nil {
		err = contactExtras(ctx, wc, &page)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := s.newView(r, c.Name())
	v.Section = "contacts"
	v.Form = f
	v.Page = page
	s.render(w, r, status, "contact", v)
}

func (s *Server) confirmDeleteContact(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	c, err := store.GetContact(r.Context(), wc.lease.DB, mux.Vars(r)["contact"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderConfirm(w, r, confirmPage{
		Question: "Delete " + c.Name() + "?",
		Detail:   "Their notes, tasks and timeline go too. This cannot be undone.",
		Action:   contactURL(wc.ws.ID, c.ID, "delete"),
		Button:   "Delete contact",
		Cancel:   contactURL(wc.ws.ID, c.ID),
	})
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.DeleteContact(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["contact"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The contact was deleted.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "contacts"), http.StatusSeeOther)
}

// confirmPage asks before a destructive action; it works without JavaScript.
type confirmPage struct {
	Question, Detail, Action, Button, Cancel string
	Hidden                                   url.Values // fields to send along
}

func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, p confirmPage) {
	v := s.newView(r, p.Question)
	v.Page = p
	s.render(w, r, http.StatusOK, "confirm", v)
}

// bulkContacts applies an action to the selected contacts, or to every
// contact the list's filters match (all=matching); deleting asks for
// confirmation first. The list comes back with the filters it had.
func (s *Server) bulkContacts(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	ids, kind := r.PostForm["id"], r.PostForm.Get("action")
	value := bulkValue(r.PostForm, kind)
	back := contactsBack(wc.ws.ID, r.PostForm.Get("back"))
	if r.PostForm.Get("all") == "matching" {
		s.bulkMatching(w, r, kind, value)
		return
	}
	if kind == "delete" && r.PostForm.Get("confirm") != "yes" && len(ids) > 0 {
		hidden := url.Values{"id": ids, "action": {"delete"}, "confirm": {"yes"}, "back": {r.PostForm.Get("back")}}
		s.renderConfirm(w, r, confirmPage{
			Question: "Delete " + countText(len(ids), "contact", "contacts") + "?",
			Detail:   "Their notes, tasks and timelines go too. This cannot be undone.",
			Action:   workspaceURL(wc.ws.ID, "contacts", "bulk"), Button: "Delete " + countText(len(ids), "contact", "contacts"), Cancel: back, Hidden: hidden,
		})
		return
	}
	if kind == "enroll" {
		s.bulkEnroll(w, r, ids, value, back)
		return
	}
	n, err := wc.svc.BulkContacts(r.Context(), s.actor(r), ids, store.BulkAction{Kind: kind, Value: value})
	if err != nil {
		s.bulkFailed(w, r, err, back)
		return
	}
	s.flash(w, r, "success", bulkSummary(kind, s.bulkValueLabel(r, kind, value), n, len(ids)))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// bulkFields are the bulk bar's fields that hold each action's value.
var bulkFields = map[string]string{"tag": "tag", "untag": "tag", "stage": "stage", "owner": "owner", "enroll": "sequence_id"}

// bulkValue is the value of a bulk action: its own field of the bulk bar,
// else the "value" field (how forms and scripts of before send it).
func bulkValue(form url.Values, kind string) string {
	if v, ok := form[bulkFields[kind]]; ok && len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return strings.TrimSpace(form.Get("value"))
}

// bulkValueLabel is how a bulk action's result names its value: an owner
// by name, anything else as it is.
func (s *Server) bulkValueLabel(r *http.Request, kind, value string) string {
	if kind != "owner" || value == "" {
		return value
	}
	if members, err := workspaceFrom(r).svc.Members(r.Context()); err == nil {
		if name := memberName(members, value); name != "" {
			return name
		}
	}
	return value
}

// bulkFailed says why a bulk action changed nothing.
func (s *Server) bulkFailed(w http.ResponseWriter, r *http.Request, err error, back string) {
	if store.ErrorCode(err) == store.EValidation {
		s.flash(w, r, "error", store.ErrorMessage(err))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	s.fail(w, r, err)
}

// bulkInRequest is the most contacts a bulk action on a filter changes in
// the request; more run as a job with a progress page.
const bulkInRequest = store.BulkBatch

// JobBulkContacts' page, for tests and links.
func bulkJobURL(workspaceID, jobID, backQuery string) string {
	u := workspaceURL(workspaceID, "contacts", "bulk", jobID)
	if backQuery != "" {
		u += "?" + url.Values{"back": {backQuery}}.Encode()
	}
	return u
}

// bulkMatching applies an action to every contact the list's filters
// match (the filters are those of the list's query, its "back" field):
// up to bulkInRequest in the request, more as a background job.
func (s *Server) bulkMatching(w http.ResponseWriter, r *http.Request, kind, value string) {
	wc := workspaceFrom(r)
	backQuery := r.PostForm.Get("back")
	back := contactsBack(wc.ws.ID, backQuery)
	q, _ := url.ParseQuery(backQuery)
	f := contactFilter(q)
	f.Cursor, f.Before = "", false
	n, err := store.CountContacts(r.Context(), wc.lease.DB, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n == 0 {
		s.flash(w, r, "error", "No contact matches these filters.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if kind == "enroll" {
		s.enrollMatching(w, r, f, n, value, back)
		return
	}
	all, _ := countOf(n, "contact that matches", "contacts that match")
	if kind == "delete" && r.PostForm.Get("confirm") != "yes" {
		s.renderConfirm(w, r, confirmPage{
			Question: "Delete the " + all + " these filters?",
			Detail:   "Their notes, tasks and timelines go too. This cannot be undone.",
			Action:   workspaceURL(wc.ws.ID, "contacts", "bulk"), Button: "Delete " + countText(n, "contact", "contacts"), Cancel: back,
			Hidden: url.Values{"all": {"matching"}, "action": {"delete"}, "confirm": {"yes"}, "back": {backQuery}},
		})
		return
	}
	act := store.BulkAction{Kind: kind, Value: value}
	if n <= bulkInRequest {
		res, err := wc.svc.BulkContactsMatching(r.Context(), s.actor(r), f, act, nil)
		if err != nil {
			s.bulkFailed(w, r, err, back)
			return
		}
		s.flash(w, r, "success", bulkSummary(kind, s.bulkValueLabel(r, kind, value), res.Changed, res.Matched))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	id, err := s.tenants.StartBulkContacts(r.Context(), wc.svc, tenant.BulkContactsJob{
		WorkspaceID: wc.ws.ID, Actor: s.actor(r), Filter: f, Action: act, Matching: n})
	if err != nil {
		s.bulkFailed(w, r, err, back)
		return
	}
	http.Redirect(w, r, bulkJobURL(wc.ws.ID, id, backQuery), http.StatusSeeOther)
}

// contactsBack is the contact list with the filters and sort of query, the
// list's own query string as its bulk form carries it; anything else in it
// is dropped, so it can only lead back to the list.
func contactsBack(workspaceID, query string) string {
	back := workspaceURL(workspaceID, "contacts")
	q, err := url.ParseQuery(query)
	if err != nil || len(q) == 0 {
		return back
	}
	return back + "?" + q.Encode()
}

// bulkSummary says what a bulk action did to n of the selected contacts.
func bulkSummary(kind, value string, n, selected int) string {
	contacts := countText(n, "contact", "contacts")
	var msg string
	switch kind {
	case "delete":
		return contacts + " deleted."
	case "tag":
		msg = fmt.Sprintf("Tag %q added to %s.", value, contacts)
	case "untag":
		msg = fmt.Sprintf("Tag %q removed from %s.", value, contacts)
	case "stage":
		msg = fmt.Sprintf("Stage set to %s on %s.", strings.ToLower(value), contacts)
	case "owner":
		if value == "" {
			msg = "Owner removed from " + contacts + "."
		} else {
			msg = fmt.Sprintf("Owner set to %s on %s.", value, contacts)
		}
	default:
		msg = contacts + " changed."
	}
	if same := selected - n; same > 0 {
		msg += " " + countText(same, "was", "were") + " already so."
	}
	return msg
}

// maxFilterEnroll bounds the contacts one "enrol all matching" takes.
const maxFilterEnroll = 10_000

// enrollMatching enrolls every contact f matches (n of them, as counted)
// in a sequence; more than maxFilterEnroll are refused whole, never cut
// short.
func (s *Server) enrollMatching(w http.ResponseWriter, r *http.Request, f store.ContactFilter, n int, sequenceID, back string) {
	wc := workspaceFrom(r)
	f.Limit = store.MaxLimit
	if n > maxFilterEnroll {
		s.flash(w, r, "error", fmt.Sprintf("%d contacts match these filters; enrol at most %d at once: narrow them (a tag, a stage or an owner) and enrol each part.",
			n, maxFilterEnroll))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	var ids []string
	for {
		page, next, err := store.ListContacts(r.Context(), wc.lease.DB, f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, c := range page {
			ids = append(ids, c.ID)
		}
		if f.Cursor = next; next == "" {
			break
		}
	}
	if len(ids) == 0 {
		s.flash(w, r, "error", "No contact matches these filters.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	total := &store.EnrollResult{}
	for i := 0; i < len(ids); i += 1000 {
		res, err := wc.svc.Enroll(r.Context(), s.actor(r), sequenceID, ids[i:min(i+1000, len(ids))])
		if err != nil && total.Enrolled > 0 {
			// The parts before are in: say so, and why the rest is not.
			s.flash(w, r, "error", fmt.Sprintf("%s Then the rest stopped: %s", enrollSummary(total), store.ErrorMessage(err)))
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		if err != nil {
			s.enrollFailed(w, r, err, back)
			return
		}
		total.Enrolled += res.Enrolled
		total.Skipped = append(total.Skipped, res.Skipped...)
	}
	s.flash(w, r, "success", enrollSummary(total))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// enrollFailed says why nobody was enrolled.
func (s *Server) enrollFailed(w http.ResponseWriter, r *http.Request, err error, back string) {
	switch code := store.ErrorCode(err); {
	case code == store.ENotFound:
		s.flash(w, r, "error", "Choose a sequence of this workspace to enrol them in.")
	case code == store.EValidation || code == store.EConflict:
		s.flash(w, r, "error", store.ErrorMessage(err))
	default:
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// bulkEnroll enrolls the selected contacts in a sequence and says who was
// skipped and why.
func (s *Server) bulkEnroll(w http.ResponseWriter, r *http.Request, ids []string, sequenceID, back string) {
	res, err := workspaceFrom(r).svc.Enroll(r.Context(), s.actor(r), sequenceID, ids)
	if err != nil {
		s.enrollFailed(w, r, err, back)
		return
	}
	s.flash(w, r, "success", enrollSummary(res))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// countText writes a count with its noun: "1 contact", "4,956 contacts".
func countText(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return store.GroupThousands(int64(n)) + " " + many
}
