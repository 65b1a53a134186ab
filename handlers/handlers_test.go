package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"

	"atrium/store"
	"atrium/tenant"
)

// route is one route of the table every access test walks.
type route struct {
	method, path string
	min          string // least role for workspace routes
}

// workspaceRoutes are the routes under /w/{workspace}; {user} and {inv} are
// filled in by the tests.
var workspaceRoutes = []route{
	{"GET", "/w/{ws}/", "viewer"},
	{"GET", "/w/{ws}/settings", "viewer"},
	{"POST", "/w/{ws}/settings", "admin"},
	{"POST", "/w/{ws}/delete", "owner"},
	{"POST", "/w/{ws}/restore", "owner"},
	{"POST", "/w/{ws}/settings/retention", "admin"},
	{"POST", "/w/{ws}/settings/list-export", "admin"},
	{"GET", "/w/{ws}/export", "admin"},
	{"POST", "/w/{ws}/export", "admin"},
	{"GET", "/w/{ws}/members", "viewer"},
	{"POST", "/w/{ws}/members/invite", "admin"},
	{"POST", "/w/{ws}/members/{user}", "admin"},
	{"POST", "/w/{ws}/members/{user}/remove", "admin"},
	{"POST", "/w/{ws}/invitations/{inv}/revoke", "admin"},
	{"GET", "/w/{ws}/settings/fields", "viewer"},
	{"POST", "/w/{ws}/settings/fields", "admin"},
	{"POST", "/w/{ws}/settings/fields/{field}", "admin"},
	{"POST", "/w/{ws}/settings/fields/{field}/move", "admin"},
	{"POST", "/w/{ws}/settings/fields/{field}/delete", "admin"},
	{"GET", "/w/{ws}/contacts", "viewer"},
	{"POST", "/w/{ws}/contacts", "member"},
	{"GET", "/w/{ws}/contacts/new", "member"},
	{"POST", "/w/{ws}/contacts/bulk", "member"},
	{"GET", "/w/{ws}/contacts/bulk/{job}", "member"},
	{"GET", "/w/{ws}/contacts/import", "member"},
	{"POST", "/w/{ws}/contacts/import", "member"},
	{"GET", "/w/{ws}/contacts/import/{job}", "member"},
	{"POST", "/w/{ws}/contacts/import/{job}", "member"},
	{"GET", "/w/{ws}/contacts/import/{job}/errors.csv", "member"},
	{"GET", "/w/{ws}/contacts/import/{job}/summary.csv", "member"},
	{"GET", "/w/{ws}/companies/import", "member"},
	{"POST", "/w/{ws}/companies/import", "member"},
	{"GET", "/w/{ws}/companies/import/{job}", "member"},
	{"POST", "/w/{ws}/companies/import/{job}", "member"},
	{"GET", "/w/{ws}/companies/import/{job}/summary.csv", "member"},
	{"GET", "/w/{ws}/deals/import", "member"},
	{"POST", "/w/{ws}/deals/import", "member"},
	{"GET", "/w/{ws}/deals/import/{job}", "member"},
	{"POST", "/w/{ws}/deals/import/{job}", "member"},
	{"GET", "/w/{ws}/deals/import/{job}/summary.csv", "member"},
	{"GET", "/w/{ws}/sequences", "viewer"},
	{"POST", "/w/{ws}/sequences", "member"},
	{"GET", "/w/{ws}/sequences/{sequence}", "viewer"},
	{"POST", "/w/{ws}/sequences/{sequence}", "member"},
	{"GET", "/w/{ws}/analytics", "viewer"},
	{"GET", "/w/{ws}/sequences/{sequence}/stats", "viewer"},
	{"POST", "/w/{ws}/sequences/{sequence}/steps", "member"},
	{"POST", "/w/{ws}/sequences/{sequence}/steps/{step}/delete", "member"},
	{"POST", "/w/{ws}/sequences/{sequence}/state", "member"},
	{"POST", "/w/{ws}/sequences/{sequence}/enrollments/{enrollment}/state", "member"},
	{"POST", "/w/{ws}/sequences/{sequence}/messages/{message}/settle", "member"},
	{"POST", "/w/{ws}/contacts/columns", "viewer"},
	{"POST", "/w/{ws}/contacts/views", "viewer"},
	{"POST", "/w/{ws}/contacts/views/{view}", "viewer"},
	{"POST", "/w/{ws}/contacts/views/{view}/delete", "viewer"},
	{"GET", "/w/{ws}/email-accounts", "viewer"},
	{"POST", "/w/{ws}/email-accounts", "admin"},
	{"GET", "/w/{ws}/email-accounts/new", "admin"},
	{"GET", "/w/{ws}/email-accounts/{mailbox}", "viewer"},
	{"POST", "/w/{ws}/email-accounts/{mailbox}", "admin"},
	{"GET", "/w/{ws}/email-accounts/{mailbox}/edit", "admin"},
	{"POST", "/w/{ws}/email-accounts/{mailbox}/check", "admin"},
	{"POST", "/w/{ws}/email-accounts/{mailbox}/test", "admin"},
	{"POST", "/w/{ws}/email-accounts/{mailbox}/poll", "admin"},
	{"GET", "/w/{ws}/email-accounts/{mailbox}/delete", "admin"},
	{"POST", "/w/{ws}/email-accounts/{mailbox}/delete", "admin"},
	{"GET", "/w/{ws}/inbox", "viewer"},
	{"POST", "/w/{ws}/inbox/{reply}", "member"},
	{"POST", "/w/{ws}/inbox/{reply}/stop", "member"},
	{"GET", "/w/{ws}/suppressions", "viewer"},
	{"POST", "/w/{ws}/suppressions", "admin"},
	{"GET", "/w/{ws}/suppressions/{suppression}/delete", "admin"},
	{"POST", "/w/{ws}/suppressions/{suppression}/delete", "admin"},
	{"GET", "/w/{ws}/contacts/{contact}", "viewer"},
	{"POST", "/w/{ws}/contacts/{contact}", "member"},
	{"GET", "/w/{ws}/contacts/{contact}/edit", "member"},
	{"GET", "/w/{ws}/contacts/{contact}/delete", "member"},
	{"POST", "/w/{ws}/contacts/{contact}/delete", "member"},
	{"GET", "/w/{ws}/contacts/{contact}/merge", "member"},
	{"POST", "/w/{ws}/contacts/{contact}/merge", "member"},
	{"GET", "/w/{ws}/contacts/{contact}/erase", "admin"},
	{"POST", "/w/{ws}/contacts/{contact}/erase", "admin"},
	{"GET", "/w/{ws}/contacts/{contact}/export.json", "admin"},
	{"GET", "/w/{ws}/companies", "viewer"},
	{"POST", "/w/{ws}/companies", "member"},
	{"GET", "/w/{ws}/companies/new", "member"},
	{"GET", "/w/{ws}/companies/{company}", "viewer"},
	{"POST", "/w/{ws}/companies/{company}", "member"},
	{"GET", "/w/{ws}/companies/{company}/edit", "member"},
	{"GET", "/w/{ws}/companies/{company}/delete", "member"},
	{"POST", "/w/{ws}/companies/{company}/delete", "member"},
	{"GET", "/w/{ws}/companies/{company}/merge", "member"},
	{"POST", "/w/{ws}/companies/{company}/merge", "member"},
	{"GET", "/w/{ws}/deals", "viewer"},
	{"POST", "/w/{ws}/deals", "member"},
	{"GET", "/w/{ws}/deals/new", "member"},
	{"GET", "/w/{ws}/deals/stages/{stage}", "viewer"},
	{"GET", "/w/{ws}/deals/{deal}", "viewer"},
	{"POST", "/w/{ws}/deals/{deal}", "member"},
	{"GET", "/w/{ws}/deals/{deal}/edit", "member"},
	{"POST", "/w/{ws}/deals/{deal}/move", "member"},
	{"POST", "/w/{ws}/deals/{deal}/status", "member"},
	{"GET", "/w/{ws}/deals/{deal}/delete", "member"},
	{"POST", "/w/{ws}/deals/{deal}/delete", "member"},
	{"GET", "/w/{ws}/settings/pipelines", "viewer"},
	{"POST", "/w/{ws}/settings/pipelines", "admin"},
	{"POST", "/w/{ws}/settings/pipelines/{pipeline}", "admin"},
	{"POST", "/w/{ws}/settings/pipelines/{pipeline}/delete", "admin"},
	{"POST", "/w/{ws}/settings/pipelines/{pipeline}/stages", "admin"},
	{"POST", "/w/{ws}/settings/stages/{stage}", "admin"},
	{"POST", "/w/{ws}/settings/stages/{stage}/move", "admin"},
	{"POST", "/w/{ws}/settings/stages/{stage}/delete", "admin"},
	{"POST", "/w/{ws}/tasks", "member"},
	{"POST", "/w/{ws}/tasks/{task}/toggle", "member"},
	{"POST", "/w/{ws}/tasks/{task}/delete", "member"},
	{"GET", "/w/{ws}/settings/api-keys", "admin"},
	{"POST", "/w/{ws}/settings/api-keys", "admin"},
	{"POST", "/w/{ws}/settings/api-keys/{key}/revoke", "admin"},
	{"POST", "/w/{ws}/notes", "member"},
	{"POST", "/w/{ws}/notes/{note}", "member"},
	{"POST", "/w/{ws}/notes/{note}/delete", "member"},
	{"GET", "/w/{ws}/search", "viewer"},
	{"GET", "/w/{ws}/audit", "admin"},
	{"GET", "/w/{ws}/templates", "viewer"},
	{"POST", "/w/{ws}/templates", "member"},
	{"GET", "/w/{ws}/templates/new", "member"},
	{"POST", "/w/{ws}/templates/preview", "member"},
	{"GET", "/w/{ws}/templates/{template}", "viewer"},
	{"POST", "/w/{ws}/templates/{template}", "member"},
	{"GET", "/w/{ws}/templates/{template}/edit", "member"},
	{"GET", "/w/{ws}/templates/{template}/delete", "member"},
	{"POST", "/w/{ws}/templates/{template}/delete", "member"},
}

// userRoutes need a signed-in user but no workspace.
var userRoutes = []route{
	{"GET", "/", ""},
	{"POST", "/workspaces", ""},
	{"POST", "/workspaces/import", ""},
	{"POST", "/switch", ""},
	{"GET", "/switcher", ""},
	{"POST", "/workspaces/{id}/untrash", ""},
	{"GET", "/account", ""},
	{"POST", "/account/password", ""},
	{"POST", "/account/preferences", ""},
	{"POST", "/logout-everywhere", ""},
	{"GET", "/my-tasks", ""},
	{"GET", "/my-tasks/counts", ""},
	{"GET", "/account/2fa", ""},
	{"POST", "/account/2fa/enable", ""},
	{"POST", "/account/2fa/disable", ""},
	{"POST", "/account/2fa/recovery-codes", ""},
	{"POST", "/admin/two-factor", ""},
	{"GET", "/admin", ""},
	{"POST", "/admin/suppressions", ""},
	{"POST", "/admin/workspaces/{id}/plan", ""},
	{"POST", "/admin/suppressions/delete", ""},
	{"GET", "/console", ""},
	{"GET", "/console/workspaces.csv", ""},
	{"GET", "/console/portfolio", ""},
	{"GET", "/console/usage", ""},
	{"GET", "/console/usage/{id}", ""},
}

// publicRoutes work without signing in.
var publicRoutes = []route{
	{"GET", "/healthz", ""}, {"GET", "/readyz", ""}, {"GET", "/metrics", ""}, {"GET", "/static/", ""},
	{"GET", "/setup", ""}, {"POST", "/setup", ""},
	{"GET", "/login", ""}, {"POST", "/login", ""}, {"POST", "/logout", ""},
	// The code step of two-factor sign-in: the half-signed-in cookie is
	// the proof (see twofactor.go).
	{"GET", "/login/2fa", ""}, {"POST", "/login/2fa", ""},
	// Password reset: the emailed link's token is the proof (see
	// passwordreset.go).
	{"GET", "/login/forgot", ""}, {"POST", "/login/forgot", ""},
	{"GET", "/reset/{token}", ""}, {"POST", "/reset/{token}", ""},
	{"GET", "/invite/{token}", ""}, {"POST", "/invite/{token}", ""},
	// Unsubscribe links: the token is the proof (see suppressions.go).
	{"GET", "/u/{token}", ""}, {"POST", "/u/{token}", ""},
	// Tracking: the token is the proof (see tracking.go).
	{"GET", "/t/o/{token}", ""}, {"GET", "/t/c/{token}", ""},
}

// TestRoutes_TableIsComplete fails when a route is added to the router but
// not to the tables above, so every route gets the access tests.
func TestRoutes_TableIsComplete(t *testing.T) {
	ts := newTestServer(t)
	h, _ := New(t.Context(), Config{Tenants: ts.tenants, Logger: nil, Assets: os.DirFS("..")})
	var got []string
	h.(*mux.Router).Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := r.GetPathTemplate()
		methods, merr := r.GetMethods()
		if err != nil || merr != nil || strings.HasPrefix(tpl, "/api/") {
			return nil // a subrouter, or the JSON API, which api_test.go covers
		}
		tpl = strings.ReplaceAll(tpl, "{workspace}", "{ws}")
		tpl = strings.ReplaceAll(tpl, "{invitation}", "{inv}")
		for _, m := range methods {
			if m != http.MethodHead {
				got = append(got, m+" "+tpl)
			}
		}
		return nil
	})
	var want []string
	for _, table := range [][]route{workspaceRoutes, userRoutes, publicRoutes} {
		for _, r := range table {
			want = append(want, r.method+" "+r.path)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes and test tables differ:\nrouter:\n%s\n\ntables:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// fixture is a server with workspace A (owner, admin, member, viewer) and
// workspace B (owner of B is also owner of A), plus an outsider.
type fixture struct {
	ts                                     *testServer
	a, b                                   string
	owner, admin, member, viewer, outsider *store.User
	inviteID                               string
	contact, note, field                   string // records of workspace A
	company, task, apiKey                  string
	deal, pipeline, stage                  string
	job                                    string // a CSV import of A, run
	companiesJob, dealsJob                 string // CSV imports of companies and deals of A, run
	mailbox                                string // an email account of A, whose server is not there
	sequence, step, enrollment             string // a sequence of A with a step, Ana enrolled
	message                                string // the ledger row of Ana's step, of unknown delivery
	template                               string // an outreach template of A
	suppression                            string // a suppressed address of A
	reply                                  string // an automatic reply to Ana's message, in A's inbox
	view                                   string // a saved view of the member's in A
	bulkJob                                string // a bulk job on the contacts of A, run
}

func newFixture(t *testing.T) *fixture {
	ts := newTestServer(t)
	f := &fixture{ts: ts}
	f.owner = ts.mustUser(t, "owner@example.com", false)
	f.admin = ts.mustUser(t, "admin@example.com", false)
	f.member = ts.mustUser(t, "member@example.com", false)
	f.viewer = ts.mustUser(t, "viewer@example.com", false)
	f.outsider = ts.mustUser(t, "outsider@example.com", false)
	f.a = ts.mustWorkspace(t, "Acme", f.owner.Email)
	f.b = ts.mustWorkspace(t, "Globex", f.owner.Email)
	ts.mustMember(t, f.a, f.admin, "admin")
	ts.mustMember(t, f.a, f.member, "member")
	ts.mustMember(t, f.a, f.viewer, "viewer")
	ts.mustWorkspace(t, "Outsider Inc", f.outsider.Email)
	token, err := store.CreateInvitation(t.Context(), ts.tenants.Catalog(), f.a, "member", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	f.inviteID = store.HashToken(token)
	f.seedRecords(t)
	owner := ts.loggedIn(t, f.owner.Email)
	// An import that adds nothing: Ana is there already, Zoe's email is
	// refused (so the job has an error report).
	f.job = f.uploadCSV(t, owner, f.a, "first_name,email\nAna,ana@acme.example\nZoe,zoe-at-example\n")
	owner.post("/w/"+f.a+"/contacts/import/"+f.job, owner.workspaceToken(f.a), url.Values{"map_0": {"first_name"}, "map_1": {"email"}})
	if j, err := ts.tenants.WaitJob(t.Context(), f.a, f.job); err != nil || j.State != store.JobDone {
		t.Fatalf("the fixture's import: %+v, %v", j, err)
	}
	f.companiesJob = f.runRecordImport(t, owner, "companies", "Company name,Website\nInitech,initech.example\n", url.Values{"map_0": {"name"}, "map_1": {"domain"}})
	// In a pipeline of its own, so that the first pipeline's board stays as
	// the other tests expect it.
	f.dealsJob = f.runRecordImport(t, owner, "deals", "Deal Name,Amount,Pipeline,Stage\nInitech pilot,100,Imported,Pilot\n",
		url.Values{"map_0": {"title"}, "map_1": {"value"}, "map_2": {"pipeline"}, "map_3": {"stage"}, "stages": {"create"}})
	f.bulkJob = f.runBulkJob(t, store.ContactFilter{Tag: "no-such-tag"}, store.BulkAction{Kind: "tag", Value: "unused"})
	return f
}

// runRecordImport uploads and imports a CSV of companies or deals into A
// and returns the import's id.
func (f *fixture) runRecordImport(t *testing.T, c *client, entity, content string, form url.Values) string {
	t.Helper()
	r := c.postFile("/w/"+f.a+"/"+entity+"/import", c.workspaceToken(f.a), entity+".csv", content)
	if r.status != http.StatusSeeOther {
		t.Fatalf("upload of %s: status %d: %.300s", entity, r.status, r.body)
	}
	loc := r.header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	if r := c.post(loc, c.workspaceToken(f.a), form); r.status != http.StatusSeeOther {
		t.Fatalf("import of %s: status %d: %.300s", entity, r.status, r.body)
	}
	return id
}

// seedRecords gives workspace A a custom field, a contact and a note.
func (f *fixture) seedRecords(t *testing.T) {
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	fd, err := store.CreateCustomField(t.Context(), l.DB, a, store.NewCustomField{Entity: "contact", Label: "Tier", Type: "select", Options: []string{"Gold", "Silver"}})
	if err != nil {
		t.Fatal(err)
	}
	name, email := "Ana", "ana@acme.example"
	c, err := store.CreateContact(t.Context(), l.DB, a, store.ContactInput{FirstName: &name, Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	n, err := store.CreateNote(t.Context(), l.DB, a, store.NoteInput{ContactID: c.ID, Body: "First call went well"})
	if err != nil {
		t.Fatal(err)
	}
	f.field, f.contact, f.note = fd.ID, c.ID, n.ID
	coName := "Acme Labs"
	co, err := store.CreateCompany(t.Context(), l.DB, a, store.CompanyInput{Name: &coName})
	if err != nil {
		t.Fatal(err)
	}
	title := "Send the proposal"
	task, err := store.CreateTask(t.Context(), l.DB, a, store.TaskInput{ContactID: &c.ID, Title: &title})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := store.CreateAPIKey(t.Context(), l.DB, a, f.a, "Website", "write")
	if err != nil {
		t.Fatal(err)
	}
	f.company, f.task, f.apiKey = co.ID, task.ID, key.ID
	dealTitle, value := "Big sale", "1200.10"
	d, err := store.CreateDeal(t.Context(), l.DB, a, store.DealInput{Title: &dealTitle, Value: &value, ContactID: &c.ID})
	if err != nil {
		t.Fatal(err)
	}
	f.deal, f.pipeline, f.stage = d.ID, d.PipelineID, d.StageID
	// Port 1 of this machine refuses at once: a check or a test message
	// fails fast, with no network.
	mb, err := f.ts.tenants.Service(l).CreateMailbox(t.Context(), a, store.MailboxInput{Name: ptrTo("Outbound"), FromEmail: ptrTo("outbound@acme.example"),
		SMTPHost: ptrTo("127.0.0.1"), SMTPPort: ptrTo(1), TLSMode: ptrTo("none"), Password: ptrTo("secret")})
	if err != nil {
		t.Fatal(err)
	}
	f.mailbox = mb.ID
	svc := f.ts.tenants.Service(l)
	seq, err := svc.CreateSequence(t.Context(), a, store.SequenceInput{Name: ptrTo("Launch"), MailboxIDs: &[]string{mb.ID},
		Steps: &[]store.StepInput{{Kind: store.StepTask, TaskTitle: "Call"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enroll(t.Context(), a, seq.ID, []string{c.ID}); err != nil {
		t.Fatal(err)
	}
	list, _, err := store.ListEnrollments(t.Context(), l.DB, seq.ID, "", "", 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("the fixture's enrollment: %v, %v", list, err)
	}
	f.sequence, f.step, f.enrollment = seq.ID, seq.Steps[0].ID, list[0].ID
	f.message = mustUnknownMessage(t, l.DB, &list[0], f.step)
	tp, err := store.CreateTemplate(t.Context(), l.DB, a, store.TemplateInput{Name: s("Intro"), Subject: s("Hi {{first_name}}"),
		Body: s(`<p>Hello {{first_name | "there"}} ({{custom.tier}})</p>`)})
	if err != nil {
		t.Fatal(err)
	}
	f.template = tp.ID
	sup, _, err := store.AddSuppression(t.Context(), l.DB, a, store.SuppressionInput{Email: "gone@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	f.suppression = sup.ID
	f.reply = mustReply(t, l.DB, f.message, store.ReplyAuto, "Out of office")
	view, err := store.CreateView(t.Context(), l.DB, f.member.ID, store.ViewContacts, store.ViewInput{Name: ptrTo("Leads"), Query: ptrTo("stage=lead")})
	if err != nil {
		t.Fatal(err)
	}
	f.view = view.ID
}

func ptrTo[T any](v T) *T { return &v }

func (f *fixture) path(r route, ws string) string {
	p := strings.ReplaceAll(r.path, "{ws}", ws)
	p = strings.ReplaceAll(p, "{user}", f.member.ID)
	p = strings.ReplaceAll(p, "{contact}", f.contact)
	p = strings.ReplaceAll(p, "{note}", f.note)
	p = strings.ReplaceAll(p, "{field}", f.field)
	p = strings.ReplaceAll(p, "{company}", f.company)
	p = strings.ReplaceAll(p, "{task}", f.task)
	p = strings.ReplaceAll(p, "{key}", f.apiKey)
	p = strings.ReplaceAll(p, "{deal}", f.deal)
	p = strings.ReplaceAll(p, "{pipeline}", f.pipeline)
	p = strings.ReplaceAll(p, "{stage}", f.stage)
	p = strings.ReplaceAll(p, "/companies/import/{job}", "/companies/import/"+f.companiesJob)
	p = strings.ReplaceAll(p, "/deals/import/{job}", "/deals/import/"+f.dealsJob)
	p = strings.ReplaceAll(p, "/contacts/bulk/{job}", "/contacts/bulk/"+f.bulkJob)
	p = strings.ReplaceAll(p, "{job}", f.job)
	p = strings.ReplaceAll(p, "{mailbox}", f.mailbox)
	p = strings.ReplaceAll(p, "{sequence}", f.sequence)
	p = strings.ReplaceAll(p, "{step}", f.step)
	p = strings.ReplaceAll(p, "{enrollment}", f.enrollment)
	p = strings.ReplaceAll(p, "{message}", f.message)
	p = strings.ReplaceAll(p, "{template}", f.template)
	p = strings.ReplaceAll(p, "{suppression}", f.suppression)
	p = strings.ReplaceAll(p, "{reply}", f.reply)
	p = strings.ReplaceAll(p, "{view}", f.view)
	return strings.ReplaceAll(p, "{inv}", f.inviteID)
}

// formFor gives each POST route a valid-looking body, so a refusal is not
// a validation error in disguise.
func (f *fixture) formFor(r route) url.Values {
	return url.Values{"name": {"Renamed"}, "role": {"viewer"}, "confirm": {"Acme"}, "email": {""},
		"first_name": {"Changed"}, "label": {"Extra"}, "entity": {"contact"}, "type": {"text"},
		"contact_id": {f.contact}, "body": {"A note"}, "id": {f.contact}, "action": {"delete"}, "title": {"A task"},
		"value": {"5.00"}, "currency": {"EUR"}, "status": {"won"}, "probability": {"40"}, "direction": {"down"}, "audit_days": {"30"}, "activity_days": {"30"}, "list_export": {"member"},
		"to": {"someone@example.com"}, "from_email": {"ana@acme.example"}, "smtp_host": {"127.0.0.1"}, "tls_mode": {"none"},
		"daily_limit": {"30"}, "gap_min_seconds": {"90"}, "gap_max_seconds": {"180"}, "ramp_per_day": {"0"},
		"window_start": {"09:00"}, "window_end": {"17:00"}, "window_days": {"1"}, "time_zone": {"UTC"},
		"handled": {"true"}}
}

func TestRoutes_AnonymousIsSentToLogin(t *testing.T) {
	f := newFixture(t)
	c := f.ts.newClient(t)
	for _, r := range append(append([]route{}, userRoutes...), workspaceRoutes...) {
		path := f.path(r, f.a)
		var resp response
		if r.method == "GET" {
			resp = c.get(path)
		} else {
			resp = c.post(path, "", f.formFor(r))
		}
		wantStatus(t, r.method+" "+path, resp, http.StatusSeeOther)
		if loc := resp.header.Get("Location"); !strings.HasPrefix(loc, "/login") {
			t.Errorf("%s %s: redirected to %q", r.method, path, loc)
		}
	}
}

func TestRoutes_NonMemberGets404(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.outsider.Email)
	ownToken := c.token("/")
	for _, ws := range []string{f.a, "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e", "not-a-uuid", strings.ToUpper(f.a)} {
		for _, r := range workspaceRoutes {
			path := f.path(r, ws)
			var resp response
			if r.method == "GET" {
				resp = c.get(path)
			} else {
				resp = c.post(path, ownToken, f.formFor(r))
			}
			wantStatus(t, r.method+" "+path, resp, http.StatusNotFound)
			if strings.Contains(resp.body, "Acme") {
				t.Errorf("%s %s: the 404 page names the workspace", r.method, path)
			}
		}
	}
	assertWorkspaceIntact(t, f)
}

func TestRoutes_ViewerCannotWrite(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.viewer.Email)
	token := c.workspaceToken(f.a)
	for _, r := range workspaceRoutes {
		path := f.path(r, f.a)
		if r.method == "GET" {
			want := http.StatusOK
			if r.min != "viewer" {
				want = http.StatusForbidden
			}
			wantStatus(t, "viewer GET "+path, c.get(path), want)
			continue
		}
		if r.min == "viewer" {
			continue // a viewer's own preferences (columns, saved views), not the workspace's data
		}
		wantStatus(t, "viewer POST "+path, c.post(path, token, f.formFor(r)), http.StatusForbidden)
	}
	assertWorkspaceIntact(t, f)
}

func TestRoutes_RolesAreEnforced(t *testing.T) {
	f := newFixture(t)
	for _, u := range []*store.User{f.member, f.admin} {
		c := f.ts.loggedIn(t, u.Email)
		token := c.workspaceToken(f.a)
		role, _ := store.MemberRole(t.Context(), f.ts.tenants.Catalog().R, u.ID, f.a)
		for _, r := range workspaceRoutes {
			path := f.path(r, f.a)
			switch {
			case store.RoleRank(role) >= store.RoleRank(r.min):
				if r.method == "GET" {
					wantStatus(t, role+" GET "+path, c.get(path), http.StatusOK)
				}
			case r.method == "GET":
				wantStatus(t, role+" GET "+path, c.get(path), http.StatusForbidden)
			default:
				wantStatus(t, role+" POST "+path, c.post(path, token, f.formFor(r)), http.StatusForbidden)
			}
		}
	}
	assertWorkspaceIntact(t, f)
}

func TestRoutes_CSRF(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	tokenB := c.workspaceToken(f.b)
	globalToken := c.token("/")
	for _, r := range workspaceRoutes {
		if r.method != "POST" {
			continue
		}
		path := f.path(r, f.a)
		for name, token := range map[string]string{"missing": "", "wrong": "not-a-token", "of workspace B": tokenB, "outside workspaces": globalToken} {
			wantStatus(t, "POST "+path+" with "+name+" token", c.post(path, token, f.formFor(r)), http.StatusForbidden)
		}
	}
	for _, r := range userRoutes {
		if r.method == "POST" {
			wantStatus(t, "POST "+r.path+" without token", c.post(r.path, "", nil), http.StatusForbidden)
			wantStatus(t, "POST "+r.path+" with workspace token", c.post(r.path, tokenB, nil), http.StatusForbidden)
		}
	}
	for _, path := range []string{"/login", "/login/2fa", "/setup", "/logout", "/login/forgot", "/reset/x"} {
		wantStatus(t, "POST "+path+" without token", c.post(path, "", nil), http.StatusForbidden)
	}
	// The htmx header carries the token as well as the form field does.
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/w/"+f.a+"/settings", strings.NewReader("name=Via+htmx"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", c.workspaceToken(f.a))
	wantStatus(t, "POST with X-CSRF-Token", c.do(req), http.StatusSeeOther)
}

// assertWorkspaceIntact checks workspace A kept its name, members and file.
func assertWorkspaceIntact(t *testing.T, f *fixture) {
	t.Helper()
	w, err := store.GetWorkspace(t.Context(), f.ts.tenants.Catalog().R, f.a)
	if err != nil || w.Name != "Acme" || w.State != store.StateActive {
		t.Fatalf("workspace A changed: %+v %v", w, err)
	}
	members, _ := store.WorkspaceMembers(t.Context(), f.ts.tenants.Catalog().R, f.a)
	if len(members) != 4 {
		t.Fatalf("workspace A has %d members, want 4", len(members))
	}
	if role, _ := store.MemberRole(t.Context(), f.ts.tenants.Catalog().R, f.member.ID, f.a); role != "member" {
		t.Fatalf("member's role changed to %q", role)
	}
	if invs, _ := store.PendingInvitations(t.Context(), f.ts.tenants.Catalog().R, f.a); len(invs) != 1 {
		t.Fatalf("%d pending invitations, want 1", len(invs))
	}
	path, _ := f.ts.tenants.FilePath(w)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("workspace file: %v", err)
	}
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	c, err := store.GetContact(t.Context(), l.DB, f.contact)
	if err != nil || c.FirstName != "Ana" {
		t.Fatalf("contact changed: %+v %v", c, err)
	}
	if _, err := store.GetNote(t.Context(), l.DB, f.note); err != nil {
		t.Fatalf("note: %v", err)
	}
	if fields, _ := store.CustomFields(t.Context(), l.DB, "contact"); len(fields) != 1 {
		t.Fatalf("%d custom fields", len(fields))
	}
	if n, _ := store.CountContacts(t.Context(), l.DB, store.ContactFilter{}); n != 1 {
		t.Fatalf("%d contacts", n)
	}
	if co, err := store.GetCompany(t.Context(), l.DB, f.company); err != nil || co.Name != "Acme Labs" {
		t.Fatalf("company changed: %+v %v", co, err)
	}
	if task, err := store.GetTask(t.Context(), l.DB, f.task); err != nil || task.Done {
		t.Fatalf("task changed: %+v %v", task, err)
	}
	keys, _ := store.ListAPIKeys(t.Context(), l.DB)
	if len(keys) != 1 || keys[0].RevokedAt != nil {
		t.Fatalf("API keys changed: %+v", keys)
	}
	if d, err := store.GetDeal(t.Context(), l.DB, f.deal); err != nil || d.Title != "Big sale" || d.Value != "1200.10" || d.StageID != f.stage {
		t.Fatalf("deal changed: %+v %v", d, err)
	}
	p, err := store.GetPipeline(t.Context(), l.DB, f.pipeline)
	if err != nil || p.Name != "Sales" || len(p.Stages) != 5 || p.Stages[0].ID != f.stage || p.Stages[0].Probability != 10 {
		t.Fatalf("pipeline changed: %+v %v", p, err)
	}
}

func TestWorkspace_RenameAndDelete(t *testing.T) {
	f := newFixture(t)
	admin := f.ts.loggedIn(t, f.admin.Email)
	token := admin.workspaceToken(f.a)
	wantStatus(t, "rename empty", admin.post("/w/"+f.a+"/settings", token, url.Values{"name": {"  "}}), http.StatusUnprocessableEntity)
	wantStatus(t, "rename", admin.post("/w/"+f.a+"/settings", token, url.Values{"name": {"Acme Europe"}}), http.StatusSeeOther)
	if r := admin.get("/w/" + f.a + "/"); !strings.Contains(r.body, "Acme Europe") {
		t.Fatal("the new name is not shown")
	}

	owner := f.ts.loggedIn(t, f.owner.Email)
	token = owner.workspaceToken(f.a)
	r := owner.post("/w/"+f.a+"/delete", token, url.Values{"confirm": {"Acme"}})
	wantStatus(t, "delete with the old name", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "Type the workspace name exactly") {
		t.Error("no explanation of the confirmation")
	}
	wantStatus(t, "delete", owner.post("/w/"+f.a+"/delete", token, url.Values{"confirm": {"Acme Europe"}}), http.StatusSeeOther)
	wantStatus(t, "after delete", owner.get("/w/"+f.a+"/"), http.StatusNotFound)
	wantStatus(t, "a member after delete", admin.get("/w/"+f.a+"/contacts"), http.StatusNotFound)
	wantStatus(t, "other workspace", owner.get("/w/"+f.b+"/"), http.StatusOK)
	home := owner.get("/")
	if !strings.Contains(home.body, "In the trash") || !strings.Contains(home.body, "Restore Acme Europe") {
		t.Fatal("the trashed workspace is not offered for restore")
	}
	if strings.Contains(admin.get("/").body, "Restore Acme Europe") {
		t.Fatal("a non-owner is offered the restore")
	}
	wantStatus(t, "an admin restores", admin.post("/workspaces/"+f.a+"/untrash", admin.token("/"), nil), http.StatusNotFound)
	wantStatus(t, "the owner restores", owner.post("/workspaces/"+f.a+"/untrash", owner.token("/"), nil), http.StatusSeeOther)
	wantStatus(t, "after restore", admin.get("/w/"+f.a+"/contacts"), http.StatusOK)
	wantStatus(t, "restore again", owner.post("/workspaces/"+f.a+"/untrash", owner.token("/"), nil), http.StatusNotFound)
}

func TestMembers_RolesAndLastOwner(t *testing.T) {
	f := newFixture(t)
	owner := f.ts.loggedIn(t, f.owner.Email)
	token := owner.workspaceToken(f.a)
	base := "/w/" + f.a + "/members/"
	r := owner.post(base+f.owner.ID, token, url.Values{"role": {"admin"}})
	wantStatus(t, "demote the last owner", r, http.StatusConflict)
	wantStatus(t, "bad role", owner.post(base+f.member.ID, token, url.Values{"role": {"god"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "unknown member", owner.post(base+f.outsider.ID, token, url.Values{"role": {"viewer"}}), http.StatusNotFound)
	wantStatus(t, "promote", owner.post(base+f.member.ID, token, url.Values{"role": {"admin"}}), http.StatusSeeOther)

	admin := f.ts.loggedIn(t, f.admin.Email)
	adminToken := admin.workspaceToken(f.a)
	wantStatus(t, "admin makes an owner", admin.post(base+f.member.ID, adminToken, url.Values{"role": {"owner"}}), http.StatusForbidden)
	wantStatus(t, "admin removes the owner", admin.post(base+f.owner.ID+"/remove", adminToken, nil), http.StatusForbidden)
	wantStatus(t, "admin removes a viewer", admin.post(base+f.viewer.ID+"/remove", adminToken, nil), http.StatusSeeOther)
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	wantStatus(t, "removed viewer", viewer.get("/w/"+f.a+"/"), http.StatusNotFound)
}

func TestInvitation_Flow(t *testing.T) {
	f := newFixture(t)
	admin := f.ts.loggedIn(t, f.admin.Email)
	r := admin.post("/w/"+f.a+"/members/invite", admin.workspaceToken(f.a), url.Values{"role": {"member"}})
	wantStatus(t, "invite", r, http.StatusCreated)
	i := strings.Index(r.body, f.ts.URL+"/invite/")
	if i < 0 {
		t.Fatal("no invitation link on the page")
	}
	link := r.body[i+len(f.ts.URL) : i+len(f.ts.URL)+len("/invite/")+43]

	newbie := f.ts.newClient(t)
	wantStatus(t, "open link", newbie.get(link), http.StatusOK)
	token := newbie.token(link)
	wantStatus(t, "register with a short password", newbie.post(link, token, url.Values{"email": {"new@example.com"}, "password": {"short"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "register with a taken email", newbie.post(link, token, url.Values{"email": {"OWNER@example.com"}, "password": {testPassword}}), http.StatusConflict)
	r = newbie.post(link, token, url.Values{"name": {"New Person"}, "email": {"new@example.com"}, "password": {testPassword}})
	wantStatus(t, "register", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/w/"+f.a+"/" {
		t.Fatalf("redirected to %s", loc)
	}
	home := newbie.get("/")
	if !strings.Contains(home.body, "Acme") || strings.Contains(home.body, "Globex") {
		t.Fatal("the new member should see Acme and only Acme")
	}
	wantStatus(t, "member page", newbie.get("/w/"+f.a+"/"), http.StatusOK)
	wantStatus(t, "other workspace", newbie.get("/w/"+f.b+"/"), http.StatusNotFound)
	wantStatus(t, "reuse link", f.ts.newClient(t).get(link), http.StatusNotFound)
	wantStatus(t, "bogus link", f.ts.newClient(t).get("/invite/nope"), http.StatusNotFound)
}

func TestInvitation_ForOneEmail(t *testing.T) {
	f := newFixture(t)
	token, _ := store.CreateInvitation(t.Context(), f.ts.tenants.Catalog(), f.a, "viewer", "ana@example.com", "test")
	link := "/invite/" + token
	member := f.ts.loggedIn(t, f.outsider.Email)
	wantStatus(t, "wrong account", member.post(link, member.token(link), nil), http.StatusForbidden)
	anon := f.ts.newClient(t)
	wantStatus(t, "wrong email", anon.post(link, anon.token(link), url.Values{"email": {"bo@example.com"}, "password": {testPassword}}), http.StatusUnprocessableEntity)
	wantStatus(t, "right email", anon.post(link, anon.token(link), url.Values{"email": {"Ana@example.com"}, "password": {testPassword}}), http.StatusSeeOther)
}

func TestSessions_LogoutEverywhereRevokesCopiedCookies(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	copied := f.ts.newClient(t)
	u, _ := url.Parse(f.ts.URL)
	copied.hc.Jar.SetCookies(u, c.hc.Jar.Cookies(u))
	wantStatus(t, "copied cookie before", copied.get("/"), http.StatusOK)
	other := f.ts.loggedIn(t, f.owner.Email)

	wantStatus(t, "logout everywhere", c.post("/logout-everywhere", c.token("/"), nil), http.StatusSeeOther)
	for name, cl := range map[string]*client{"copied cookie": copied, "other device": other, "this device": c} {
		r := cl.get("/")
		wantStatus(t, name+" after", r, http.StatusSeeOther)
		if !strings.HasPrefix(r.header.Get("Location"), "/login") {
			t.Errorf("%s: redirected to %s", name, r.header.Get("Location"))
		}
	}
}

func TestSessions_PasswordChangeEndsOtherSessions(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	other := f.ts.loggedIn(t, f.member.Email)
	token := c.token("/account")
	wantStatus(t, "wrong current", c.post("/account/password", token, url.Values{"current_password": {"nope"}, "new_password": {"a new password"}, "confirm_password": {"a new password"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "mismatch", c.post("/account/password", token, url.Values{"current_password": {testPassword}, "new_password": {"a new password"}, "confirm_password": {"another"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "change", c.post("/account/password", token, url.Values{"current_password": {testPassword}, "new_password": {"a new password"}, "confirm_password": {"a new password"}}), http.StatusSeeOther)
	wantStatus(t, "this session", c.get("/"), http.StatusOK)
	wantStatus(t, "other session", other.get("/"), http.StatusSeeOther)
	fresh := f.ts.newClient(t)
	r := fresh.post("/login", fresh.token("/login"), url.Values{"email": {f.member.Email}, "password": {"a new password"}})
	wantStatus(t, "login with the new password", r, http.StatusSeeOther)
}

func TestSwitch_RotatesTheSession(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	u, _ := url.Parse(f.ts.URL)
	before := f.ts.newClient(t)
	before.hc.Jar.SetCookies(u, c.hc.Jar.Cookies(u))
	r := c.post("/switch", c.token("/"), url.Values{"workspace": {f.b}})
	wantStatus(t, "switch", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/w/"+f.b+"/" {
		t.Fatalf("switch went to %s", loc)
	}
	wantStatus(t, "after switch", c.get("/w/"+f.b+"/"), http.StatusOK)
	wantStatus(t, "cookie from before the switch", before.get("/"), http.StatusSeeOther)
	wantStatus(t, "switch to a foreign workspace", c.post("/switch", c.token("/"), url.Values{"workspace": {f.a[:8]}}), http.StatusNotFound)
	outsider := f.ts.loggedIn(t, f.outsider.Email)
	wantStatus(t, "switch as non-member", outsider.post("/switch", outsider.token("/"), url.Values{"workspace": {f.a}}), http.StatusNotFound)
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	c := f.ts.newClient(t)
	token := c.token("/login")
	unknown := c.post("/login", token, url.Values{"email": {"nobody@example.com"}, "password": {testPassword}})
	wrong := c.post("/login", token, url.Values{"email": {f.member.Email}, "password": {"wrong password"}})
	wantStatus(t, "unknown email", unknown, http.StatusUnauthorized)
	wantStatus(t, "wrong password", wrong, http.StatusUnauthorized)
	errorOf := func(body string) string {
		i := strings.Index(body, `class="error"`)
		if i < 0 {
			return ""
		}
		return body[i : i+strings.Index(body[i:], "</p>")]
	}
	if errorOf(unknown.body) == "" || errorOf(unknown.body) != errorOf(wrong.body) {
		t.Fatalf("unknown email and wrong password answer differently: %q vs %q", errorOf(unknown.body), errorOf(wrong.body))
	}
	for i := 0; i < maxFailuresPerPair-1; i++ {
		c.post("/login", token, url.Values{"email": {f.member.Email}, "password": {"wrong password"}})
	}
	r := c.post("/login", token, url.Values{"email": {f.member.Email}, "password": {testPassword}})
	wantStatus(t, "after too many failures", r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed sign-ins") {
		t.Fatal("no Retry-After or no clear message")
	}
	// Another account from the same address still signs in.
	f.ts.loggedIn(t, f.owner.Email)
	r = c.post("/login", token, url.Values{"email": {f.owner.Email}, "password": {testPassword}, "next": {"//evil.example"}})
	if loc := r.header.Get("Location"); loc != "/" {
		t.Fatalf("open redirect: %s", loc)
	}
}

func TestSetup(t *testing.T) {
	ts := newTestServer(t)
	c := ts.newClient(t)
	r := c.get("/login")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/setup" {
		t.Fatalf("first run: %d %s", r.status, r.header.Get("Location"))
	}
	token := c.token("/setup")
	wantStatus(t, "bad email", c.post("/setup", token, url.Values{"email": {"nope"}, "password": {testPassword}}), http.StatusUnprocessableEntity)
	wantStatus(t, "setup", c.post("/setup", token, url.Values{"name": {"Ana"}, "email": {"ana@example.com"}, "password": {testPassword}}), http.StatusSeeOther)
	wantStatus(t, "signed in", c.get("/"), http.StatusOK)
	wantStatus(t, "console", c.get("/admin"), http.StatusOK)
	other := ts.newClient(t)
	wantStatus(t, "setup again", other.post("/setup", other.token("/login"), url.Values{"email": {"eve@example.com"}, "password": {testPassword}}), http.StatusForbidden)
	if n, _ := store.CountUsers(t.Context(), ts.tenants.Catalog().R); n != 1 {
		t.Fatalf("%d users", n)
	}
}

func TestAdmin(t *testing.T) {
	f := newFixture(t)
	f.ts.mustUser(t, "root@example.com", true)
	root := f.ts.loggedIn(t, "root@example.com")
	r := root.get("/admin")
	wantStatus(t, "superadmin", r, http.StatusOK)
	for _, name := range []string{"Acme", "Globex", "Outsider Inc"} {
		if !strings.Contains(r.body, name) {
			t.Errorf("console lacks %s", name)
		}
	}
	wantStatus(t, "superadmin in a workspace they are not in", root.get("/w/"+f.a+"/"), http.StatusNotFound)
	if !strings.Contains(r.body, "in sync") && !strings.Contains(r.body, "behind") && !strings.Contains(r.body, "not yet replicated") {
		t.Error("the console shows no backup state")
	}
	if _, err := f.ts.tenants.Trash(t.Context(), f.b, "test"); err != nil {
		t.Fatal(err)
	}
	r = root.get("/admin")
	if !strings.Contains(r.body, "Pending deletion") || !strings.Contains(r.body, f.b) {
		t.Fatal("the console does not list the trashed workspace")
	}
	wantStatus(t, "superadmin restores", root.post("/workspaces/"+f.b+"/untrash", root.token("/"), url.Values{"from": {"admin"}}), http.StatusSeeOther)
	wantStatus(t, "restored", f.ts.loggedIn(t, f.owner.Email).get("/w/"+f.b+"/"), http.StatusOK)
	wantStatus(t, "not superadmin", f.ts.loggedIn(t, f.owner.Email).get("/admin"), http.StatusNotFound)
}

// The console shows a page of workspaces at a time and finds one by name
// or id.
func TestAdmin_PagesAndSearch(t *testing.T) {
	f := newFixture(t)
	f.ts.mustUser(t, "root@example.com", true)
	root := f.ts.loggedIn(t, "root@example.com")
	for i := range 100 {
		if _, err := f.ts.tenants.Create(t.Context(), tenant.CreateOptions{Name: fmt.Sprintf("Filler %03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := f.ts.tenants.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	total := len(infos)
	r := root.get("/admin")
	wantStatus(t, "first page", r, http.StatusOK)
	if !strings.Contains(r.body, fmt.Sprintf("1–100 of %d", total)) || !strings.Contains(r.body, `rel="next" href="?page=2"`) || strings.Contains(r.body, `rel="prev"`) {
		t.Fatalf("first page: no range or no next link")
	}
	if n := strings.Count(r.body, `class="mono muted"`); n != 100 {
		t.Fatalf("first page shows %d workspaces", n)
	}
	r = root.get("/admin?page=2")
	if !strings.Contains(r.body, fmt.Sprintf("101–%d of %d", total, total)) || !strings.Contains(r.body, `rel="prev" href="?page=1"`) || strings.Contains(r.body, `rel="next"`) {
		t.Fatalf("last page: wrong range or links")
	}
	for _, page := range []string{"0", "-3", "abc", "99999"} {
		wantStatus(t, "page "+page, root.get("/admin?page="+page), http.StatusOK)
	}
	r = root.get("/admin?q=globex")
	if !strings.Contains(r.body, "Globex") || strings.Contains(r.body, "Filler") || !strings.Contains(r.body, "1–1 of 1") {
		t.Fatal("search by name")
	}
	if r = root.get("/admin?q=" + f.a); !strings.Contains(r.body, "1–1 of 1") {
		t.Fatal("search by id")
	}
	if r = root.get("/admin?q=nothing-like-this"); !strings.Contains(r.body, "No workspace matches") {
		t.Fatal("search without a match")
	}
}

func TestCreateWorkspace(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.token("/")
	wantStatus(t, "empty name", c.post("/workspaces", token, url.Values{"name": {""}}), http.StatusUnprocessableEntity)
	wantStatus(t, "bad region", c.post("/workspaces", token, url.Values{"name": {"X"}, "region": {"mars"}}), http.StatusUnprocessableEntity)
	r := c.post("/workspaces", token, url.Values{"name": {"Member Co"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	id := strings.TrimSuffix(strings.TrimPrefix(r.header.Get("Location"), "/w/"), "/")
	if role, err := store.MemberRole(t.Context(), f.ts.tenants.Catalog().R, f.member.ID, id); err != nil || role != "owner" {
		t.Fatalf("creator's role %q, %v", role, err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	for _, path := range []string{"/", "/login", "/w/" + f.a + "/", "/nope"} {
		r := c.get(path)
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: missing nosniff or Referrer-Policy", path)
		}
		if strings.Contains(r.body, " style=") || strings.Contains(r.body, "<script>") || strings.Contains(r.body, " onclick=") {
			t.Errorf("%s: inline style or script in the page", path)
		}
	}
	r := f.ts.newClient(t).get("/login")
	for _, c := range r.header.Values("Set-Cookie") {
		if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
			t.Errorf("cookie %q lacks HttpOnly or SameSite=Lax", c)
		}
	}
}

func TestForms_OversizedBodyIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	big := url.Values{"name": {strings.Repeat("x", maxFormBytes+1)}}
	wantStatus(t, "oversized", c.post("/w/"+f.a+"/settings", c.workspaceToken(f.a), big), http.StatusRequestEntityTooLarge)
	assertWorkspaceIntact(t, f)
}

func TestLogin_LimitPerAddress(t *testing.T) {
	f := newFixture(t)
	c := f.ts.newClient(t)
	token := c.token("/login")
	for i := 0; i < maxFailuresPerIP; i++ {
		c.post("/login", token, url.Values{"email": {"guess" + strconv.Itoa(i) + "@example.com"}, "password": {"nope"}})
	}
	r := c.post("/login", token, url.Values{"email": {f.owner.Email}, "password": {testPassword}})
	wantStatus(t, "any account from a guessing address", r, http.StatusTooManyRequests)
}

// TestLogin_ConcurrentAttempts fires many wrong passwords at once: no more
// than the limit may be checked, however the requests interleave. The
// accounts get slow password hashes so that, without an atomic check and
// count, every request would pass the check before the first is counted.
func TestLogin_ConcurrentAttempts(t *testing.T) {
	const attempts = 40
	t.Run("OneAccount", func(t *testing.T) {
		ts := newTestServer(t)
		u := ts.mustUser(t, "ann@example.com", false)
		ts.slowPasswords(t)
		c := ts.newClient(t)
		checked, limited := c.concurrentLogins(t, attempts, func(int) string { return u.Email })
		if checked > maxFailuresPerPair {
			t.Errorf("passwords checked: got %d, want at most %d", checked, maxFailuresPerPair)
		}
		if got, want := checked+limited, attempts; got != want {
			t.Errorf("checked or limited: got %d, want %d", got, want)
		}
		r := c.post("/login", c.token("/login"), url.Values{"email": {u.Email}, "password": {testPassword}})
		wantStatus(t, "right password while limited", r, http.StatusTooManyRequests)
	})
	t.Run("OneAddress", func(t *testing.T) {
		ts := newTestServer(t)
		emails := make([]string, attempts+1)
		for i := range emails {
			emails[i] = "user" + strconv.Itoa(i) + "@example.com"
			ts.mustUser(t, emails[i], false)
		}
		ts.slowPasswords(t)
		c := ts.newClient(t)
		checked, limited := c.concurrentLogins(t, attempts, func(i int) string { return emails[i] })
		if checked > maxFailuresPerIP {
			t.Errorf("passwords checked: got %d, want at most %d", checked, maxFailuresPerIP)
		}
		if got, want := checked+limited, attempts; got != want {
			t.Errorf("checked or limited: got %d, want %d", got, want)
		}
		r := c.post("/login", c.token("/login"), url.Values{"email": {emails[attempts]}, "password": {testPassword}})
		wantStatus(t, "another account from the limited address", r, http.StatusTooManyRequests)
	})
}

// slowPasswords gives every user testPassword hashed at a cost high enough
// that a comparison takes milliseconds.
func (ts *testServer) slowPasswords(tb testing.TB) {
	tb.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost+4)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ts.tenants.Catalog().W.Exec(`UPDATE users SET password_hash = ?`, string(hash)); err != nil {
		tb.Fatal(err)
	}
}

// concurrentLogins posts n wrong passwords at once, for emailOf(i), and
// counts the answers: checked (401) and rate-limited (429).
func (c *client) concurrentLogins(t *testing.T, n int, emailOf func(int) string) (checked, limited int) {
	t.Helper()
	token := c.token("/login")
	start := make(chan struct{})
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		body := url.Values{"email": {emailOf(i)}, "password": {"wrong password"}, "csrf_token": {token}}.Encode()
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, c.ts.URL+"/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			<-start
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	close(statuses)
	for status := range statuses {
		switch status {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Errorf("status %d, want 401 or 429", status)
		}
	}
	return checked, limited
}

func TestCookies_SecureBehindTrustedProxy(t *testing.T) {
	ts := newTestServer(t)
	h, err := New(t.Context(), Config{Tenants: ts.tenants, Logger: slog.New(slog.DiscardHandler), Assets: os.DirFS(".."), TrustProxy: true})
	if err != nil {
		t.Fatal(err)
	}
	for proto, want := range map[string]bool{"https": true, "http": false} {
		req := httptest.NewRequest(http.MethodGet, "/login", nil)
		req.Header.Set("X-Forwarded-Proto", proto)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cookie := rec.Header().Get("Set-Cookie")
		if strings.Contains(cookie, "Secure") != want {
			t.Errorf("X-Forwarded-Proto %s: cookie %q", proto, cookie)
		}
	}
	// Without trust, the header is ignored.
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	ts.Config.Handler.ServeHTTP(rec, req)
	if strings.Contains(rec.Header().Get("Set-Cookie"), "Secure") {
		t.Error("an untrusted X-Forwarded-Proto made the cookie Secure")
	}
}

// uploadCSV uploads a CSV for import into ws and returns the job id.
func (f *fixture) uploadCSV(t *testing.T, c *client, ws, content string) string {
	t.Helper()
	r := c.postFile("/w/"+ws+"/contacts/import", c.workspaceToken(ws), "people.csv", content)
	if r.status != http.StatusSeeOther {
		t.Fatalf("upload: status %d: %.300s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// Settings and the console show when a workspace's backup was last
// verified, and a failed verification, to whoever sees its backup state.
func TestBackupVerification_Shown(t *testing.T) {
	f := newFixture(t)
	f.ts.mustUser(t, "root@example.com", true)
	root := f.ts.loggedIn(t, "root@example.com")
	owner := f.ts.loggedIn(t, f.owner.Email)
	if body := owner.get("/w/" + f.a + "/settings").body; !strings.Contains(body, "<dt>Verified</dt><dd>not yet") {
		t.Fatal("settings do not say the backup is not verified yet")
	}
	if v, err := f.ts.tenants.VerifyReplica(t.Context(), f.a); err != nil || v.Failure != "" {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	if body := owner.get("/w/" + f.a + "/settings").body; !strings.Contains(body, "restored aside and compared with this workspace page by page") {
		t.Fatal("settings do not show the verification")
	}
	if body := root.get("/admin").body; !strings.Contains(body, "· verified ") {
		t.Fatal("the console does not show the verification")
	}
	if err := store.RecordReplicaFailed(t.Context(), f.ts.tenants.Catalog().W, f.b, "page 7 of 90 differs from the live file's", time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	body := owner.get("/w/" + f.b + "/settings").body
	if !strings.Contains(body, "Last failed check") || !strings.Contains(body, "page 7 of 90 differs from the live file&#39;s. A new backup") {
		t.Fatal("settings do not show the failed verification")
	}
	if body := root.get("/admin").body; !strings.Contains(body, `title="page 7 of 90 differs from the live file&#39;s">check failed</span>`) {
		t.Fatal("the console does not show the failed verification")
	}
}

// No request leaves a file in the temporary directory: public routes refuse
// an upload unread, and every upload that is read is removed when its
// request ends, whatever the answer.
func TestUploads_LeaveNoTemporaryFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where mime/multipart spills files past 8 MiB
	f := newFixture(t)
	big := "first_name,email\n" + strings.Repeat("Zoe,zoe@example.com\n", 600_000) // 12 MiB
	anon := f.ts.newClient(t)
	anonToken := anon.token("/login")
	owner := f.ts.loggedIn(t, f.owner.Email)
	cases := []struct {
		name   string
		c      *client
		path   string
		token  string
		status int
	}{
		{"anonymous sign-in", anon, "/login", anonToken, http.StatusUnsupportedMediaType},
		{"anonymous setup", anon, "/setup", anonToken, http.StatusUnsupportedMediaType},
		{"anonymous sign-out", anon, "/logout", anonToken, http.StatusUnsupportedMediaType},
		{"anonymous invitation", anon, "/invite/x", anonToken, http.StatusUnsupportedMediaType},
		{"signed-in sign-out", owner, "/logout", owner.token("/"), http.StatusUnsupportedMediaType},
		{"upload with a wrong token", owner, "/w/" + f.a + "/contacts/import", "nope", http.StatusForbidden},
		{"upload of another workspace's token", owner, "/w/" + f.a + "/contacts/import", owner.workspaceToken(f.b), http.StatusForbidden},
		{"CSV upload", owner, "/w/" + f.a + "/contacts/import", owner.workspaceToken(f.a), http.StatusSeeOther},
		{"workspace import of a non-archive", owner, "/workspaces/import", owner.token("/"), http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		r := tc.c.postFile(tc.path, tc.token, "people.csv", big)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%s: %d files left in the temporary directory (%s…)", tc.name, len(left), left[0].Name())
			for _, e := range left {
				os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
	}
}

// A member who leaves a workspace, or can no longer invite, takes their
// pending invitations with them: a removed admin cannot rejoin through a
// link they made.
func TestInvitation_RevokedWithItsCreator(t *testing.T) {
	for _, how := range []string{"removed", "demoted"} {
		t.Run(how, func(t *testing.T) {
			f := newFixture(t)
			admin := f.ts.loggedIn(t, f.admin.Email)
			r := admin.post("/w/"+f.a+"/members/invite", admin.workspaceToken(f.a), url.Values{"role": {"admin"}})
			wantStatus(t, "invite", r, http.StatusCreated)
			link := r.body[strings.Index(r.body, "/invite/"):]
			link = link[:strings.IndexAny(link, `"<`)]
			owner := f.ts.loggedIn(t, f.owner.Email)
			if how == "removed" {
				wantStatus(t, how, owner.post("/w/"+f.a+"/members/"+f.admin.ID+"/remove", owner.workspaceToken(f.a), nil), http.StatusSeeOther)
			} else {
				wantStatus(t, how, owner.post("/w/"+f.a+"/members/"+f.admin.ID, owner.workspaceToken(f.a), url.Values{"role": {"member"}}), http.StatusSeeOther)
			}
			wantStatus(t, "the link afterwards", admin.get(link), http.StatusNotFound)
			wantStatus(t, "accepting it", admin.post(link, admin.token(link), nil), http.StatusNotFound)
			if role, _ := store.MemberRole(t.Context(), f.ts.tenants.Catalog().R, f.admin.ID, f.a); role == "admin" {
				t.Fatalf("the %s admin is admin again", how)
			}
			// Invitations made by others stay.
			invs, err := store.PendingInvitations(t.Context(), f.ts.tenants.Catalog().R, f.a)
			if err != nil || len(invs) != 1 || invs[0].ID != f.inviteID {
				t.Fatalf("pending invitations: %+v, %v", invs, err)
			}
		})
	}
}

// An address claimed through an open invitation link is unverified: it
// cannot keep an invitation addressed to it from the person who holds that
// invitation, who proves the address. A verified address stays its
// account's, and accepting an invitation addressed to your own address
// verifies it.
func TestInvitation_AddressProof(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	catalog := f.ts.tenants.Catalog()
	join := func(c *client, link string, email string) response {
		return c.post(link, c.token(link), url.Values{"email": {email}, "password": {testPassword}})
	}
	open, _ := store.CreateInvitation(ctx, catalog, f.a, "viewer", "", "test")
	squatter := f.ts.newClient(t)
	wantStatus(t, "claim through an open link", join(squatter, "/invite/"+open, "bob@example.com"), http.StatusSeeOther)
	claimed, err := store.UserByEmail(ctx, catalog.R, "bob@example.com")
	if err != nil || claimed.EmailVerified {
		t.Fatalf("the account from an open link: %+v, %v", claimed, err)
	}
	if body := f.ts.loggedIn(t, f.owner.Email).get("/w/" + f.a + "/members").body; !strings.Contains(body, ">unverified</span>") {
		t.Error("the members page does not mark the unverified address")
	}

	// The real Bob holds an invitation addressed to him.
	addressed, _ := store.CreateInvitation(ctx, catalog, f.b, "member", "bob@example.com", "test")
	bob := f.ts.newClient(t)
	wantStatus(t, "join with the addressed link", join(bob, "/invite/"+addressed, "bob@example.com"), http.StatusSeeOther)
	real, err := store.UserByEmail(ctx, catalog.R, "bob@example.com")
	if err != nil || real.ID == claimed.ID || !real.EmailVerified {
		t.Fatalf("the address went to %+v (claimed by %s), %v", real, claimed.ID, err)
	}
	if role, _ := store.MemberRole(ctx, catalog.R, claimed.ID, f.b); role != "" {
		t.Fatal("the squatter joined the workspace the invitation was for")
	}
	r := squatter.get("/")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Fatalf("the squatter is still signed in: %d", r.status)
	}

	// A verified address is not taken away: its owner signs in first.
	again, _ := store.CreateInvitation(ctx, catalog, f.a, "member", "bob@example.com", "test")
	wantStatus(t, "another account for a verified address", join(f.ts.newClient(t), "/invite/"+again, "bob@example.com"), http.StatusConflict)

	// Accepting an invitation addressed to your own address verifies it.
	open2, _ := store.CreateInvitation(ctx, catalog, f.a, "viewer", "", "test")
	carol := f.ts.newClient(t)
	wantStatus(t, "carol through an open link", join(carol, "/invite/"+open2, "carol@example.com"), http.StatusSeeOther)
	forCarol, _ := store.CreateInvitation(ctx, catalog, f.b, "viewer", "carol@example.com", "test")
	wantStatus(t, "carol accepts hers", carol.post("/invite/"+forCarol, carol.token("/invite/"+forCarol), nil), http.StatusSeeOther)
	if c, _ := store.UserByEmail(ctx, catalog.R, "carol@example.com"); !c.EmailVerified {
		t.Fatal("accepting an invitation addressed to her did not verify carol's address")
	}
}
