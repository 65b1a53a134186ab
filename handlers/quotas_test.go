package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"atrium/tenant"
)

func limit(n int64) *int64 { return &n }

// newPlannedServer starts a server whose config has a "small" plan beside
// an unlimited default one.
func newPlannedServer(tb testing.TB, small tenant.Plan) *testServer {
	tb.Helper()
	cfg := &tenant.Config{Plans: map[string]*tenant.Plan{"default": {}, "small": &small}, DefaultPlan: "default"}
	return newTestServerWith(tb, tenant.Options{Config: cfg})
}

func (ts *testServer) mustPlan(tb testing.TB, workspaceID, plan string) {
	tb.Helper()
	if _, err := ts.tenants.SetPlan(tb.Context(), workspaceID, plan); err != nil {
		tb.Fatal(err)
	}
}

func TestRateLimit_PerWorkspaceAPI(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{RequestsPerSecond: 0.01, Burst: 3})
	a := ts.mustAPIWorkspace(t, "Busy", "Busy")
	b := ts.mustAPIWorkspace(t, "Calm", "Calm")
	ts.mustPlan(t, a.id, "small")
	ts.mustPlan(t, b.id, "small")

	for i := range 3 {
		r := ts.api(t, a.key, "GET", "/api/v1/contacts", "")
		wantStatus(t, "request within the burst", r, http.StatusOK)
		if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Errorf("request %d: RateLimit-Remaining = %q, want %d", i, got, 2-i)
		}
		if r.header.Get("RateLimit-Limit") != "3" {
			t.Errorf("RateLimit-Limit = %q, want 3", r.header.Get("RateLimit-Limit"))
		}
	}
	r := ts.api(t, a.key, "GET", "/api/v1/contacts", "")
	wantAPIError(t, "request past the burst", r, http.StatusTooManyRequests, "rate_limited", "")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", r.header.Get("Retry-After"))
	}
	// The other workspace on the same plan has its own bucket, and the
	// refused workspace's other key shares the workspace's.
	wantStatus(t, "another workspace", ts.api(t, b.key, "GET", "/api/v1/contacts", ""), http.StatusOK)
	wantStatus(t, "another key of the limited workspace", ts.api(t, a.readKey, "GET", "/api/v1/contacts", ""), http.StatusTooManyRequests)
	if n := value(t, (&metricsServer{testServer: ts}).scrape(t), "atrium_requests_refused_total", map[string]string{"reason": "rate_limited"}); n != 2 {
		t.Errorf("%v refusals counted, want 2", n)
	}
}

func TestRateLimit_PerKey(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{RequestsPerSecond: 100, Burst: 100, KeyRequestsPerSecond: 0.01, KeyBurst: 2})
	a := ts.mustAPIWorkspace(t, "Keys", "Keys")
	ts.mustPlan(t, a.id, "small")
	for range 2 {
		wantStatus(t, "key within its burst", ts.api(t, a.key, "GET", "/api/v1/workspace", ""), http.StatusOK)
	}
	wantStatus(t, "key past its burst", ts.api(t, a.key, "GET", "/api/v1/workspace", ""), http.StatusTooManyRequests)
	wantStatus(t, "another key of the same workspace", ts.api(t, a.readKey, "GET", "/api/v1/workspace", ""), http.StatusOK)
}

func TestRateLimit_WebPage(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{RequestsPerSecond: 0.01, Burst: 2})
	ts.mustUser(t, "ana@example.com", false)
	busy := ts.mustWorkspace(t, "Busy", "ana@example.com")
	calm := ts.mustWorkspace(t, "Calm", "ana@example.com")
	ts.mustPlan(t, busy, "small")
	c := ts.loggedIn(t, "ana@example.com")
	for range 2 {
		wantStatus(t, "page within the burst", c.get("/w/"+busy+"/contacts"), http.StatusOK)
	}
	r := c.get("/w/" + busy + "/contacts")
	wantStatus(t, "page past the burst", r, http.StatusTooManyRequests)
	if !strings.Contains(r.body, "Too many requests") || !strings.Contains(r.body, "<html") {
		t.Errorf("the refusal is not a friendly page: %.300s", r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After on the refused page")
	}
	wantStatus(t, "a workspace on the default plan", c.get("/w/"+calm+"/contacts"), http.StatusOK)
}

func TestBuckets_IdleOnesAreDropped(t *testing.T) {
	b := newBuckets()
	now := time.Now()
	r := tenant.Rate{PerSecond: 10, Burst: 20}
	for i := range 10_000 {
		b.take(fmt.Sprintf("w:%d", i), r, now)
	}
	if b.len() != 10_000 {
		t.Fatalf("%d buckets, want 10000", b.len())
	}
	// Ten seconds later every bucket is full again: the next take sweeps.
	b.take("w:new", r, now.Add(sweepEvery+time.Second))
	if b.len() != 1 {
		t.Errorf("%d buckets after the sweep, want 1", b.len())
	}
}

func TestQuota_ContactsAPIAndUI(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{Contacts: limit(2)})
	a := ts.mustAPIWorkspace(t, "Full", "Full") // one contact
	other := ts.mustAPIWorkspace(t, "Roomy", "Roomy")
	ts.mustPlan(t, a.id, "small")
	ts.mustCreate(t, a.key, "/api/v1/contacts", `{"email":"two@example.com"}`)

	r := ts.api(t, a.key, "POST", "/api/v1/contacts", `{"email":"three@example.com"}`)
	wantAPIError(t, "a contact past the quota", r, http.StatusForbidden, "quota_exceeded", "")
	for _, want := range []string{"2 contacts", "used 2"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the refusal does not say %q: %s", want, r.body)
		}
	}
	ts.mustCreate(t, other.key, "/api/v1/contacts", `{"email":"three@example.com"}`)
	families := (&metricsServer{testServer: ts}).scrape(t)
	if n := value(t, families, "atrium_requests_refused_total", map[string]string{"reason": "quota_exceeded", "quota": "contacts"}); n != 1 {
		t.Errorf("%v quota refusals counted, want 1", n)
	}

	// Deleting makes room again.
	list := ts.api(t, a.key, "GET", "/api/v1/contacts?q=two", "")
	var page struct{ Data []struct{ ID string } }
	mustDecode(t, list.body, &page)
	wantStatus(t, "delete", ts.api(t, a.key, "DELETE", "/api/v1/contacts/"+page.Data[0].ID, ""), http.StatusNoContent)
	ts.mustCreate(t, a.key, "/api/v1/contacts", `{"email":"three@example.com"}`)

	// The same refusal through the web form, values kept.
	ts.mustUser(t, "ana@example.com", false)
	owner := ts.mustUserInWorkspace(t, a.id, "ana@example.com")
	tok := owner.workspaceToken(a.id)
	r = owner.post("/w/"+a.id+"/contacts", tok, url.Values{"first_name": {"Zoe"}, "email": {"zoe@example.com"}})
	wantStatus(t, "a contact past the quota from the form", r, http.StatusForbidden)
	if !strings.Contains(r.body, "allows 2 contacts") || !strings.Contains(r.body, "zoe@example.com") {
		t.Errorf("the form does not show the quota and keep the values: %s", mainOf(r.body))
	}
}

// mustUserInWorkspace makes an existing user an owner of a workspace and
// signs them in.
func (ts *testServer) mustUserInWorkspace(tb testing.TB, workspaceID, email string) *client {
	tb.Helper()
	ts.mustMember(tb, workspaceID, mustUserByEmail(tb, ts, email), "owner")
	return ts.loggedIn(tb, email)
}

func TestQuota_CSVImportRefusedBeforeStart(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{Contacts: limit(3), ImportsPerDay: limit(5)})
	ts.mustUser(t, "ana@example.com", false)
	id := ts.mustWorkspace(t, "Small", "ana@example.com")
	ts.mustPlan(t, id, "small")
	c := ts.loggedIn(t, "ana@example.com")
	tok := c.workspaceToken(id)
	csv := "email\na@example.com\nb@example.com\nc@example.com\nd@example.com\n"
	r := c.postFile("/w/"+id+"/contacts/import", tok, "people.csv", csv)
	wantStatus(t, "upload", r, http.StatusSeeOther)
	mapping := r.header.Get("Location")
	wantStatus(t, "mapping page", c.get(mapping), http.StatusOK)
	r = c.post(mapping, tok, url.Values{"map_0": {"email"}})
	wantStatus(t, "start of an import past the quota", r, http.StatusForbidden)
	if !strings.Contains(r.body, "This file has 4 rows") || !strings.Contains(r.body, "allows 3 contacts") {
		t.Errorf("the refusal does not explain the quota: %s", mainOf(r.body))
	}
	if jobs, err := ts.tenants.Jobs(t.Context(), id, 10); err != nil || len(jobs) != 0 {
		t.Errorf("jobs = %v, %v; want none started", jobs, err)
	}

	// Through the API, a file that creates too many is refused whole.
	key, _ := ts.mustAPIKey(t, id, "write")
	r = ts.apiRaw(t, "Bearer "+key, "POST", "/api/v1/contacts/import", strings.NewReader(csv))
	wantAPIError(t, "API import past the quota", r, http.StatusForbidden, "quota_exceeded", "")
	list := ts.api(t, key, "GET", "/api/v1/contacts", "")
	if strings.Contains(list.body, "@example.com") {
		t.Errorf("a refused import left contacts: %s", list.body)
	}
	ok := ts.apiRaw(t, "Bearer "+key, "POST", "/api/v1/contacts/import", strings.NewReader("email\na@example.com\nb@example.com\n"))
	wantStatus(t, "an import within the quota", ok, http.StatusOK)
}

func TestQuota_ImportsPerDay(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{ImportsPerDay: limit(1)})
	a := ts.mustAPIWorkspace(t, "Imports", "Imports")
	ts.mustPlan(t, a.id, "small")
	csv := "email\nx@example.com\n"
	wantStatus(t, "first import", ts.apiRaw(t, "Bearer "+a.key, "POST", "/api/v1/contacts/import", strings.NewReader(csv)), http.StatusOK)
	r := ts.apiRaw(t, "Bearer "+a.key, "POST", "/api/v1/contacts/import", strings.NewReader(csv))
	wantAPIError(t, "second import of the day", r, http.StatusForbidden, "quota_exceeded", "")
	if !strings.Contains(r.body, "1 imports per day") {
		t.Errorf("the refusal does not name the quota: %s", r.body)
	}
}

func TestQuota_APICallsPerDayAndMembers(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{APICallsPerDay: limit(3), Members: limit(2)})
	a := &apiWorkspace{id: ts.mustWorkspace(t, "Calls", "")}
	a.key, _ = ts.mustAPIKey(t, a.id, "write")
	ts.mustPlan(t, a.id, "small")
	for range 3 {
		wantStatus(t, "call within the day's quota", ts.api(t, a.key, "GET", "/api/v1/workspace", ""), http.StatusOK)
	}
	wantAPIError(t, "call past the day's quota", ts.api(t, a.key, "GET", "/api/v1/workspace", ""), http.StatusForbidden, "quota_exceeded", "")

	ts.mustUser(t, "ana@example.com", false)
	c := ts.mustUserInWorkspace(t, a.id, "ana@example.com") // member 1
	tok := c.workspaceToken(a.id)
	wantStatus(t, "invite within the quota", c.post("/w/"+a.id+"/members/invite", tok, url.Values{"role": {"member"}}), http.StatusCreated)
	r := c.post("/w/"+a.id+"/members/invite", tok, url.Values{"role": {"member"}})
	wantStatus(t, "invite past the quota", r, http.StatusForbidden)
	if !strings.Contains(r.body, "allows 2 members") {
		t.Errorf("the refusal does not name the quota: %.1500s", r.body)
	}

	settings := c.get("/w/" + a.id + "/settings")
	for _, want := range []string{"small</strong> plan", "API calls per day", "near-limit"} {
		if !strings.Contains(settings.body, want) {
			t.Errorf("settings do not show %q", want)
		}
	}
}

func TestQuota_StorageAllowsDeletes(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{StorageMB: limit(0)})
	a := ts.mustAPIWorkspace(t, "Disk", "Disk")
	ts.mustPlan(t, a.id, "small")
	r := ts.api(t, a.key, "POST", "/api/v1/companies", `{"name":"Another"}`)
	wantAPIError(t, "a write past the storage quota", r, http.StatusForbidden, "quota_exceeded", "")
	wantStatus(t, "a read", ts.api(t, a.key, "GET", "/api/v1/companies", ""), http.StatusOK)
	wantStatus(t, "a delete", ts.api(t, a.key, "DELETE", "/api/v1/notes/"+a.note, ""), http.StatusNoContent)

	// In the UI: a bulk delete and a retention policy make room; another
	// bulk action is a write like any.
	ts.mustUser(t, "ana@example.com", false)
	c := ts.mustUserInWorkspace(t, a.id, "ana@example.com")
	tok := c.workspaceToken(a.id)
	r = c.post("/w/"+a.id+"/contacts/bulk", tok, url.Values{"id": {a.contact}, "action": {"tag"}, "value": {"vip"}})
	wantStatus(t, "a bulk tag past the storage quota", r, http.StatusForbidden)
	r = c.post("/w/"+a.id+"/contacts/bulk", tok, url.Values{"id": {a.contact}, "action": {"delete"}, "confirm": {"yes"}})
	wantStatus(t, "a bulk delete past the storage quota", r, http.StatusSeeOther)
	wantStatus(t, "the contact deleted in bulk", ts.api(t, a.key, "GET", "/api/v1/contacts/"+a.contact, ""), http.StatusNotFound)
	r = c.post("/w/"+a.id+"/settings/retention", tok, url.Values{"audit_days": {"30"}, "activity_days": {"30"}})
	wantStatus(t, "a retention policy past the storage quota", r, http.StatusSeeOther)
}

func TestAdmin_SetsPlanAndShowsNearLimits(t *testing.T) {
	ts := newPlannedServer(t, tenant.Plan{APICallsPerDay: limit(2)})
	ts.mustUser(t, "root@example.com", true)
	a := ts.mustAPIWorkspace(t, "Acme", "Acme")
	c := ts.loggedIn(t, "root@example.com")
	tok := c.token("/admin")
	r := c.post("/admin/workspaces/"+a.id+"/plan", tok, url.Values{"plan": {"small"}})
	wantStatus(t, "set plan", r, http.StatusSeeOther)
	wantStatus(t, "set an unknown plan", c.post("/admin/workspaces/"+a.id+"/plan", tok, url.Values{"plan": {"gold"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "set the plan of no workspace", c.post("/admin/workspaces/"+tenant.NewID()+"/plan", tok, url.Values{"plan": {"small"}}), http.StatusNotFound)

	ts.api(t, a.key, "GET", "/api/v1/workspace", "")
	ts.api(t, a.key, "GET", "/api/v1/workspace", "")
	page := c.get("/admin")
	if !strings.Contains(page.body, "<option selected>small</option>") || !strings.Contains(page.body, "API calls per day 100%") {
		t.Errorf("the console does not show the plan and the quota near its limit: %.3000s", page.body)
	}

	member := ts.mustUser(t, "ana@example.com", false)
	ts.mustMember(t, a.id, member, "owner")
	ana := ts.loggedIn(t, "ana@example.com")
	wantStatus(t, "set plan as a workspace owner", ana.post("/admin/workspaces/"+a.id+"/plan", ana.token("/"), url.Values{"plan": {"default"}}), http.StatusNotFound)
}

// mainOf is the <main> part of a page, for failure messages.
func mainOf(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	return body[:min(len(body), 6000)]
}
