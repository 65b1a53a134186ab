package handlers

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"atrium/store"
	"atrium/tenant"
)

// mailboxesPage lists the workspace's sending accounts.
type mailboxesPage struct {
	Mailboxes []store.Mailbox
	Next      string
}

func (s *Server) mailboxes(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	list, next, err := store.ListMailboxes(r.Context(), wc.lease.DB, r.URL.Query().Get("cursor"), store.DefaultLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Email accounts")
	v.Section = "email-accounts"
	v.Page = mailboxesPage{Mailboxes: list, Next: next}
	s.render(w, r, http.StatusOK, "mailboxes", v)
}

// mailboxPage is one sending account: its settings, its health, the check
// and the test message; Problem is what the last check or test said.
type mailboxPage struct {
	Mailbox *store.Mailbox
	Checked bool               // a check or a test just ran
	Problem string             // what it said went wrong ("" when it went well)
	Sent    string             // the address a test message went to
	Polled  *tenant.PollResult // what reading the IMAP folder now did
	// Listening says the folder is listened to (IMAP IDLE): answers are
	// read as they arrive.
	Listening bool
}

func (s *Server) mailbox(w http.ResponseWriter, r *http.Request) {
	s.renderMailbox(w, r, http.StatusOK, mailboxPage{}, newForm(nil))
}

func (s *Server) renderMailbox(w http.ResponseWriter, r *http.Request, status int, page mailboxPage, f *form) {
	mb, err := store.GetMailbox(r.Context(), workspaceFrom(r).lease.DB, mux.Vars(r)["mailbox"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page.Mailbox = mb
	page.Listening = s.tenants.IdleListening(workspaceFrom(r).ws.ID, mb)
	v := s.newView(r, mb.Name)
	v.Section = "email-accounts"
	v.Form = f
	v.Page = page
	s.render(w, r, status, "mailbox", v)
}

// mailboxFormPage is the new and edit form of a mailbox.
type mailboxFormPage struct {
	Mailbox *store.Mailbox
	Days    []weekday
}

// weekday is one checkbox of the sending days.
type weekday struct {
	N       int
	Name    string
	Checked bool
}

var weekdayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

func (s *Server) newMailbox(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil)
	for k, v := range map[string]string{"tls_mode": store.TLSStartTLS, "daily_limit": "30", "gap_min_seconds": "90",
		"gap_max_seconds": "180", "window_start": "09:00", "window_end": "17:00", "time_zone": "UTC", "ramp_per_day": "0",
		"imap_tls": store.TLSImplicit, "imap_folder": "INBOX"} {
		f.Values.Set(k, v)
	}
	for _, d := range []string{"1", "2", "3", "4", "5"} {
		f.Values.Add("window_days", d)
	}
	s.renderMailboxForm(w, r, http.StatusOK, nil, f)
}

func (s *Server) editMailbox(w http.ResponseWriter, r *http.Request) {
	mb, err := store.GetMailbox(r.Context(), workspaceFrom(r).lease.DB, mux.Vars(r)["mailbox"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderMailboxForm(w, r, http.StatusOK, mb, newForm(mailboxValues(mb)))
}

// mailboxValues are a mailbox's settings as its form holds them; never
// its passwords nor its DKIM key.
func mailboxValues(mb *store.Mailbox) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"name": mb.Name, "from_name": mb.FromName, "from_email": mb.FromEmail, "reply_to": mb.ReplyTo,
		"smtp_host": mb.SMTPHost, "smtp_port": strconv.Itoa(mb.SMTPPort), "tls_mode": mb.TLSMode, "username": mb.Username,
		"daily_limit": strconv.Itoa(mb.DailyLimit), "gap_min_seconds": strconv.Itoa(mb.GapMin), "gap_max_seconds": strconv.Itoa(mb.GapMax),
		"window_start": mb.WindowStart, "window_end": mb.WindowEnd, "time_zone": mb.TimeZone,
		"ramp_per_day": strconv.Itoa(mb.RampPerDay), "state": mb.State, "dkim_selector": mb.DKIMSelector,
		"imap_host": mb.IMAPHost, "imap_port": strconv.Itoa(mb.IMAPPort), "imap_tls": mb.IMAPTLS, "imap_username": mb.IMAPUsername,
		"imap_folder": mb.IMAPFolder} {
		v.Set(k, s)
	}
	for _, d := range mb.WindowDays {
		v.Add("window_days", strconv.Itoa(d))
	}
	return v
}

func (s *Server) renderMailboxForm(w http.ResponseWriter, r *http.Request, status int, mb *store.Mailbox, f *form) {
	title := "New email account"
	if mb != nil {
		title = "Edit " + mb.Name
	}
	page := mailboxFormPage{Mailbox: mb}
	for i, name := range weekdayNames {
		n := strconv.Itoa(i + 1)
		page.Days = append(page.Days, weekday{N: i + 1, Name: name, Checked: slices.Contains(f.Values["window_days"], n)})
	}
	v := s.newView(r, title)
	v.Section = "email-accounts"
	v.Form = f
	v.Page = page
	s.render(w, r, status, "mailbox_form", v)
}

// weekdayList names ISO weekdays for people: "Monday to Friday" for a run
// of days, else their names.
func weekdayList(days store.Weekdays) string {
	if len(days) == 0 {
		return "no day"
	}
	run := len(days) > 2
	for i := 1; i < len(days); i++ {
		run = run && days[i] == days[i-1]+1
	}
	name := func(d int) string {
		if d < 1 || d > 7 {
			return "?"
		}
		return weekdayNames[d-1]
	}
	if run {
		return name(days[0]) + " to " + name(days[len(days)-1])
	}
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = name(d)
	}
	return strings.Join(names, ", ")
}

// mailboxInput reads the form. Every setting is in the form, so each is
// set; an empty password or DKIM key keeps the one set, an empty selector
// turns signing off.
func mailboxInput(f *form) (store.MailboxInput, error) {
	text := func(k string) *string { v := f.Get(k); return &v }
	in := store.MailboxInput{Name: text("name"), FromName: text("from_name"), FromEmail: text("from_email"), ReplyTo: text("reply_to"),
		SMTPHost: text("smtp_host"), TLSMode: text("tls_mode"), Username: text("username"), Password: text("password"),
		WindowStart: text("window_start"), WindowEnd: text("window_end"), TimeZone: text("time_zone"),
		DKIMSelector: text("dkim_selector"), DKIMKey: text("dkim_private_key"), DKIMGenerate: text("dkim_generate"),
		IMAPHost: text("imap_host"), IMAPTLS: text("imap_tls"), IMAPUsername: text("imap_username"), IMAPPassword: text("imap_password"),
		IMAPFolder: text("imap_folder")}
	if st := f.Get("state"); st != "" {
		in.State = &st
	}
	for _, n := range []struct {
		field string
		dst   **int
	}{{"smtp_port", &in.SMTPPort}, {"daily_limit", &in.DailyLimit}, {"gap_min_seconds", &in.GapMin},
		{"gap_max_seconds", &in.GapMax}, {"ramp_per_day", &in.RampPerDay}, {"imap_port", &in.IMAPPort}} {
		raw := strings.TrimSpace(f.Get(n.field))
		if raw == "" && n.field == "smtp_port" {
			continue // the TLS mode's usual port
		}
		if raw == "" && n.field == "imap_port" {
			raw = strconv.Itoa(store.DefaultIMAPPort(f.Get("imap_tls")))
		}
		v, err := strconv.Atoi(raw)
		if err != nil {
			return in, store.FieldError(n.field, "Write a whole number.")
		}
		*n.dst = &v
	}
	days := store.Weekdays{}
	for _, d := range f.Values["window_days"] {
		n, err := strconv.Atoi(d)
		if err != nil {
			return in, store.FieldError("window_days", "Days are numbered 1 (Monday) to 7 (Sunday).")
		}
		days = append(days, n)
	}
	in.WindowDays = &days
	return in, nil
}

func (s *Server) createMailbox(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	f := newForm(r.PostForm)
	in, err := mailboxInput(f)
	var mb *store.Mailbox
	if err == nil {
		mb, err = wc.svc.CreateMailbox(r.Context(), s.actor(r), in)
	}
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderMailboxForm(w, r, status, nil, f) })
		return
	}
	s.flash(w, r, "success", mb.Name+" was added. Check its connection or send yourself a test message.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "email-accounts", mb.ID), http.StatusSeeOther)
}

func (s *Server) updateMailbox(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	id := mux.Vars(r)["mailbox"]
	current, err := store.GetMailbox(r.Context(), wc.lease.DB, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(r.PostForm)
	in, err := mailboxInput(f)
	if err == nil {
		_, err = wc.svc.UpdateMailbox(r.Context(), s.actor(r), id, in)
	}
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderMailboxForm(w, r, status, current, f) })
		return
	}
	s.flash(w, r, "success", "Saved.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "email-accounts", id), http.StatusSeeOther)
}

// checkMailbox logs in to the mailbox's server and shows what it said.
func (s *Server) checkMailbox(w http.ResponseWriter, r *http.Request) {
	problem, err := workspaceFrom(r).svc.CheckMailbox(r.Context(), mux.Vars(r)["mailbox"])
	s.showMailboxOutcome(w, r, mailboxPage{Checked: true, Problem: problem}, err)
}

// testMailbox sends a test message and shows what the server said.
func (s *Server) testMailbox(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimSpace(r.PostForm.Get("to"))
	problem, err := workspaceFrom(r).svc.SendTestEmail(r.Context(), mux.Vars(r)["mailbox"], to)
	s.showMailboxOutcome(w, r, mailboxPage{Checked: true, Problem: problem, Sent: to}, err)
}

// pollMailbox reads the account's IMAP folder now and shows what came of
// it.
func (s *Server) pollMailbox(w http.ResponseWriter, r *http.Request) {
	res, problem, err := workspaceFrom(r).svc.PollMailboxNow(r.Context(), mux.Vars(r)["mailbox"])
	s.showMailboxOutcome(w, r, mailboxPage{Checked: true, Problem: problem, Polled: &res}, err)
}

// showMailboxOutcome shows the mailbox page with the outcome of a check or
// a test: 200 when the server was happy, 422 with its words when not.
func (s *Server) showMailboxOutcome(w http.ResponseWriter, r *http.Request, page mailboxPage, err error) {
	f := newForm(r.PostForm)
	if err != nil {
		s.failForm(w, r, f, err, func(status int) { s.renderMailbox(w, r, status, mailboxPage{}, f) })
		return
	}
	status := http.StatusOK
	if page.Problem != "" {
		status = http.StatusUnprocessableEntity
	}
	s.renderMailbox(w, r, status, page, f)
}

func (s *Server) confirmDeleteMailbox(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	mb, err := store.GetMailbox(r.Context(), wc.lease.DB, mux.Vars(r)["mailbox"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.newView(r, "Delete "+mb.Name)
	v.Section = "email-accounts"
	v.Page = confirmPage{
		Question: "Delete the email account " + mb.Name + "?",
		Detail:   "Atrium forgets its settings and its password. Messages already sent stay in the recipients' inboxes.",
		Action:   workspaceURL(wc.ws.ID, "email-accounts", mb.ID, "delete"), Button: "Delete email account",
		Cancel: workspaceURL(wc.ws.ID, "email-accounts", mb.ID),
	}
	s.render(w, r, http.StatusOK, "confirm", v)
}

func (s *Server) deleteMailbox(w http.ResponseWriter, r *http.Request) {
	wc := workspaceFrom(r)
	if err := store.DeleteMailbox(r.Context(), wc.lease.DB, s.actor(r), mux.Vars(r)["mailbox"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(w, r, "success", "The email account was deleted.")
	http.Redirect(w, r, workspaceURL(wc.ws.ID, "email-accounts"), http.StatusSeeOther)
}

var mailboxesAPI = resource[store.Mailbox, store.MailboxInput]{
	list: func(ctx context.Context, db *store.DB, _ url.Values, p page) ([]store.Mailbox, string, error) {
		return store.ListMailboxes(ctx, db, p.cursor, p.limit)
	},
	create: (*tenant.Service).CreateMailbox,
	get:    store.GetMailbox,
	update: (*tenant.Service).UpdateMailbox,
	delete: store.DeleteMailbox,
}

// mailboxOutcome is the answer of a check or a test message: OK, or the
// server's words.
type mailboxOutcome struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// apiCheckMailbox is POST /api/v1/mailboxes/{id}/check.
func (s *Server) apiCheckMailbox(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	problem, err := callerFrom(r).svc.CheckMailbox(r.Context(), id)
	s.apiMailboxOutcome(w, r, problem, err)
}

// apiTestMailbox is POST /api/v1/mailboxes/{id}/test {"to": "…"}.
func (s *Server) apiTestMailbox(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var in struct {
		To string `json:"to"`
	}
	if err == nil {
		err = decodeJSON(w, r, &in)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	problem, err := callerFrom(r).svc.SendTestEmail(r.Context(), id, in.To)
	s.apiMailboxOutcome(w, r, problem, err)
}

// pollOutcome is the answer of a poll: OK or the server's words, and what
// the poll read.
type pollOutcome struct {
	mailboxOutcome
	Read        int `json:"read"`
	Replies     int `json:"replies"`
	AutoReplies int `json:"auto_replies"`
	Bounces     int `json:"bounces"`
}

// apiPollMailbox is POST /api/v1/mailboxes/{id}/poll: the IMAP folder is
// read at once.
func (s *Server) apiPollMailbox(w http.ResponseWriter, r *http.Request) {
	id, err := recordID(r)
	var res tenant.PollResult
	problem := ""
	if err == nil {
		res, problem, err = callerFrom(r).svc.PollMailboxNow(r.Context(), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pollOutcome{mailboxOutcome: mailboxOutcome{OK: problem == "", Error: problem}, Read: res.Read,
		Replies: res.Replies, AutoReplies: res.AutoReplies, Bounces: res.Bounces})
}

func (s *Server) apiMailboxOutcome(w http.ResponseWriter, r *http.Request, problem string, err error) {
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mailboxOutcome{OK: problem == "", Error: problem})
}
