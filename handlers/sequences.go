package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// sequencesPage lists the workspace's sequences with their counts.
type sequencesPage struct {
	Sequences []store.Sequence
	Next      string
}

func (s *Server) sequences(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	list, next, err := store.ListSequences(r.Context(), wc.lease.DB, r.URL.Query().Get("cursor"), store.DefaultLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Sequences")
	v.Section = "sequences"
	v.Page = sequencesPage{Sequences: list, Next: next}
	s.render(w, r, http.StatusOK, "sequences", v)
}

// sequencePage is one sequence: its steps, accounts and enrollments, and
// the forms that change them.
type sequencePage struct {
	Sequence    *store.Sequence
	Mailboxes   []store.Mailbox // every account of the workspace
	Templates   []store.Template
	Enrollments []store.Enrollment
	Next        string
	State       string // the enrollments' filter
	// The ledger: its counts by state, and its rows in MessageState
	// (those of unknown delivery first, when there are any).
	MessageCounts map[string]int
	Messages      []store.Message
	MessageState  string
	MessagesNext  string
}

// TemplateName names a template of the workspace.
func (p sequencePage) TemplateName(id string) string {
	for _, t := range p.Templates {
		if t.ID == id {
			return t.Name
		}
	}
	return "(a deleted template)"
}

// Uses reports whether the sequence sends from the account.
func (p sequencePage) Uses(mailboxID string) bool {
	for _, id := range p.Sequence.MailboxIDs {
		if id == mailboxID {
			return true
		}
	}
	return false
}

// MailboxName names an account of the workspace.
func (p sequencePage) MailboxName(id string) string {
	for _, m := range p.Mailboxes {
		if m.ID == id {
			return m.Name
		}
	}
	return id
}

func (s *Server) sequence(w http.ResponseWriter, r *http.Request) {
	s.renderSequence(w, r, http.StatusOK, newForm(nil))
}

func (s *Server) renderSequence(w http.ResponseWriter, r *http.Request, status int, f *form) {
	wc := workspaceFrom(r)
	ctx := r.Context()
	seq, err := store.GetSequence(ctx, wc.lease.DB, mux.Vars(r)["sequence"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	page := sequencePage{Sequence: seq, State: q.Get("state")}
	page.Enrollments, page.Next, err = store.ListEnrollments(ctx, wc.lease.DB, seq.ID, page.State, q.Get("cursor"), store.DefaultLimit)
	if err == nil {
		page.Mailboxes, _, err = store.ListMailboxes(ctx, wc.lease.DB, "", store.MaxLimit)
	}
	if err == nil {
		page.Templates, _, err = store.ListTemplates(ctx, wc.lease.DB, store.TemplateFilter{Limit: store.MaxLimit})
	}
	if err == nil {
		page.MessageCounts, err = store.MessageCounts(ctx, wc.lease.DB, seq.ID)
	}
	if err == nil {
		page.MessageState = q.Get("messages")
		if page.MessageState == "" && page.MessageCounts[store.MessageUnknown] > 0 {
			page.MessageState = store.MessageUnknown
		}
		state := page.MessageState
		if state == "all" {
			state = ""
		}
		page.Messages, page.MessagesNext, err = store.ListMessages(ctx, wc.lease.DB, seq.ID, "", state, q.Get("mcursor"), store.DefaultLimit)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, seq.Name)
	v.Section = "sequences"
	v.Form = f
	v.Page = page
	s.render(w, r, status, "sequence", v)
}

// createSequence makes a draft sequence from its name and opens it.
func (s *Server) createSequence(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	name := f.Get("name")
	seq, err := wc.svc.CreateSequence(r.Context(), s.actor(r), store.SequenceInput{Name: &name})
	if err != nil {
		s.failForm(w, r, f, err, func(status int) {
			list, next, _ := store.ListSequences(r.Context(), wc.lease.DB, "", store.DefaultLimit)
			v := s.newView(r, "Sequences")
			v.Section = "sequences"
			v.Form = f
			v.Page = sequencesPage{Sequences: list, Next: next}
			s.render(w, r, status, "sequences", v)
		})
		return
	}
	s.flash(w, r, "success", seq.Name+" was created. Choose its email accounts and add its steps.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "sequences", seq.ID), http.StatusSeeOther)
}

// updateSequence saves the settings form: name, stop options, tracking,
// accounts.
func (s *Server) updateSequence(w http.ResponseWriter, r *http.Request) {
	f := newForm(r.PostForm)
	name, reply, domain := f.Get("name"), f.Get("stop_on_reply") == "1", f.Get("stop_by_domain") == "1"
	tracking := f.Get("tracking") == "1"
	mailboxes := r.PostForm["mailbox_ids"]
	s.changeSequence(w, r, f, store.SequenceInput{Name: &name, StopOnReply: &reply, StopByDomain: &domain, Tracking: &tracking,
		MailboxIDs: &mailboxes}, "Saved.")
}

// changeSequence applies a change and goes back to the sequence, or shows
// it again with the error.
func (s *Server) changeSequence(w http.ResponseWriter, r *http.Request, f *form, in store.SequenceInput, done string) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["sequence"]
	if _, err := wc.svc.UpdateSequence(r.Context(), s.actor(r), id, in); err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderSequence(w, r, status, f) })
		return
	}
	s.flash(w, r, "success", done)
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "sequences", id), http.StatusSeeOther)
}

// stepsOf is a sequence's steps as inputs, to edit them.
func stepsOf(seq *store.Sequence) []store.StepInput {
	out := make([]store.StepInput, len(seq.Steps))
	for i, st := range seq.Steps {
		out[i] = store.StepInput{ID: st.ID, Kind: st.Kind, TemplateID: st.TemplateID.String, VariantID: st.VariantID.String,
			WaitMinutes: st.WaitMinutes, BusinessDays: st.BusinessDays, TaskTitle: st.TaskTitle}
	}
	return out
}

// waitUnits are the units a wait step is given in, in minutes.
var waitUnits = map[string]int{"minutes": 1, "hours": 60, "days": 24 * 60}

// addStep appends a step to the sequence.
func (s *Server) addStep(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	seq, err := store.GetSequence(r.Context(), wc.lease.DB, mux.Vars(r)["sequence"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	step := store.StepInput{Kind: f.Get("kind"), TemplateID: f.Get("template_id"), VariantID: f.Get("variant_id"),
		BusinessDays: f.Get("business_days") == "1", TaskTitle: f.Get("task_title")}
	if step.Kind == store.StepWait {
		n, err := strconv.Atoi(strings.TrimSpace(f.Get("wait")))
		unit, ok := waitUnits[f.Get("unit")]
		if err != nil || !ok || n < 0 {
			s.failForm(w, r, f, store.FieldError("wait", "Write how long to wait as a whole number."), func(status int) { s.renderSequence(w, r, status, f) })
			return
		}
		step.WaitMinutes = n * unit
	}
	steps := append(stepsOf(seq), step)
	s.changeSequence(w, r, f, store.SequenceInput{Steps: &steps}, "Step added.")
}

// removeStep takes a step out of the sequence.
func (s *Server) removeStep(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	seq, err := store.GetSequence(r.Context(), wc.lease.DB, mux.Vars(r)["sequence"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	steps := stepsOf(seq)
	i := -1
	for j, st := range seq.Steps {
		if st.ID == mux.Vars(r)["step"] {
			i = j
		}
	}
	if i < 0 {
		s.notFound(w, r)
		return
	}
	steps = append(steps[:i], steps[i+1:]...)
	s.changeSequence(w, r, newForm(r.PostForm), store.SequenceInput{Steps: &steps}, "Step removed.")
}

// setSequenceState activates, pauses or archives a sequence.
func (s *Server) setSequenceState(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["sequence"]
	seq, err := store.SetSequenceState(r.Context(), wc.lease.DB, s.actor(r), id, r.PostForm.Get("state"))
	if err != nil {
		s.failForm(w, r, newForm(r.PostForm), err, func(status int) { s.renderSequence(w, r, status, newForm(r.PostForm)) })
		return
	}
	s.flash(w, r, "success", seq.Name+" is "+seq.State+".")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "sequences", id), http.StatusSeeOther)
}

// setEnrollmentState pauses, resumes or stops one enrollment.
func (s *Server) setEnrollmentState(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["sequence"]
	e, err := store.GetEnrollment(r.Context(), wc.lease.DB, mux.Vars(r)["enrollment"])
	if err == nil && e.SequenceID != id {
		err = store.Errorf(store.ENotFound, "That enrollment does not exist.")
	}
	if err == nil {
		_, err = store.SetEnrollmentState(r.Context(), wc.lease.DB, s.actor(r), e.ID, r.PostForm.Get("state"), "", time.Now())
	}
	if err != nil {
		s.failForm(w, r, newForm(r.PostForm), err, func(status int) { s.renderSequence(w, r, status, newForm(r.PostForm)) })
		return
	}
	s.flash(w, r, "success", "Saved.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "sequences", id), http.StatusSeeOther)
}

// settleMessage records a person's decision on a message whose delivery is
// unknown: it arrived, send it again, or skip it.
func (s *Server) settleMessage(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["sequence"]
	m, err := store.GetMessage(r.Context(), wc.lease.DB, mux.Vars(r)["message"])
	if err == nil && m.SequenceID != id {
		err = store.Errorf(store.ENotFound, "That message does not exist.")
	}
	if err == nil {
		_, err = store.SettleMessage(r.Context(), wc.lease.DB, s.actor(r), m.ID, r.PostForm.Get("as"), time.Now())
	}
	if err != nil {
		s.failForm(w, r, newForm(r.PostForm), err, func(status int) { s.renderSequence(w, r, status, newForm(r.PostForm)) })
		return
	}
	s.flash(w, r, "success", settledText[r.PostForm.Get("as")])
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "sequences", id), http.StatusSeeOther)
}

var settledText = map[string]string{
	store.SettleSent:  "Marked as sent: the enrollment goes on.",
	store.SettleRetry: "It will be sent again, with the same Message-ID, as soon as its account may send.",
	store.SettleSkip:  "Skipped: the enrollment goes on without it.",
}

// apiMessages is GET /api/v1/messages?sequence_id=&contact_id=&state=.
func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := pageOf(q)
	if err == nil && q.Get("state") != "" && !slices.Contains(store.MessageStates, q.Get("state")) {
		err = store.Errorf(store.EInvalid, "state must be one of %s.", strings.Join(store.MessageStates, ", "))
	}
	var list []store.Message
	var next string
	if err == nil {
		list, next, err = store.ListMessages(r.Context(), callerFrom(r).db(), q.Get("sequence_id"), q.Get("contact_id"), q.Get("state"), p.cursor, p.limit)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listResponse[store.Message]{Data: list, NextCursor: next})
}

// apiSettleMessage is POST /api/v1/messages/{id}/settle {"as": "sent"|"retry"|"skip"}.
func (s *Server) apiSettleMessage(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var in struct {
		As string `json:"as"`
	}
	if err == nil {
		err = decodeJSON(w, r, &in)
	}
	var m *store.Message
	if err == nil {
		c := callerFrom(r)
		m, err = store.SettleMessage(r.Context(), c.db(), c.actor, id, in.As, time.Now())
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// apiMessage is GET /api/v1/messages/{id}.
func (s *Server) apiMessage(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var m *store.Message
	if err == nil {
		m, err = store.GetMessage(r.Context(), callerFrom(r).db(), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// enrollSummary says what an enrollment did, for a flash.
func enrollSummary(res *store.EnrollResult) string {
	msg := countText(res.Enrolled, "contact", "contacts") + " enrolled."
	if len(res.Skipped) == 0 {
		return msg
	}
	reasons := map[string]int{}
	for _, sk := range res.Skipped {
		reasons[sk.Reason]++
	}
	var parts []string
	for reason, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, skipText[reason]))
	}
	sort.Strings(parts)
	return msg + " Skipped: " + strings.Join(parts, ", ") + "."
}

var skipText = map[string]string{
	store.SkipNotFound: "not found", store.SkipNoEmail: "without an email", store.SkipSuppressed: "on the suppression list",
	store.SkipBounced: "whose email bounced", store.SkipAlreadyEnrolled: "already enrolled",
}

var sequencesAPI = resource[store.Sequence, store.SequenceInput]{
	list: func(ctx context.Context, db *store.DB, _ url.Values, p page) ([]store.Sequence, string, error) {
		return store.ListSequences(ctx, db, p.cursor, p.limit)
	},
	create: (*tenant.Service).CreateSequence,
	get:    store.GetSequence,
	update: (*tenant.Service).UpdateSequence,
	delete: store.DeleteSequence,
}

// apiEnroll is POST /api/v1/sequences/{id}/enrollments {"contact_ids": […]}.
func (s *Server) apiEnroll(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var in struct {
		ContactIDs []string `json:"contact_ids"`
	}
	if err == nil {
		err = decodeJSON(w, r, &in)
	}
	var res *store.EnrollResult
	if err == nil {
		c := callerFrom(r)
		res, err = c.svc.Enroll(r.Context(), c.actor, id, in.ContactIDs)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// apiEnrollments is GET /api/v1/sequences/{id}/enrollments[?state=].
func (s *Server) apiEnrollments(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var p page
	if err == nil {
		p, err = pageOf(r.URL.Query())
	}
	c := callerFrom(r)
	if err == nil {
		_, err = store.GetSequence(r.Context(), c.db(), id)
	}
	var list []store.Enrollment
	var next string
	if err == nil {
		list, next, err = store.ListEnrollments(r.Context(), c.db(), id, r.URL.Query().Get("state"), p.cursor, p.limit)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listResponse[store.Enrollment]{Data: list, NextCursor: next})
}

// apiSequenceState is POST /api/v1/sequences/{id}/activate and /pause.
func (s *Server) apiSequenceState(state string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := recordID(r)
		var seq *store.Sequence
		if err == nil {
			c := callerFrom(r)
			seq, err = store.SetSequenceState(r.Context(), c.db(), c.actor, id, state)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, seq)
	}
}
