package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"atrium/store"
	"atrium/tenant"
)

func TestSequenceStats_APIAndPage(t *testing.T) {
	ts := newTestServer(t)
	a := ts.mustAPIWorkspace(t, "Acme", "Acme") // one enrollment, one message of unknown delivery
	path := "/api/v1/sequences/" + a.sequence + "/stats"

	r := ts.api(t, a.key, "GET", path, "")
	wantStatus(t, "stats", r, http.StatusOK)
	var st tenant.SequenceStats
	mustDecode(t, r.body, &st)
	if st.Total.Enrolled != 1 || len(st.Days) != 30 || st.Steps == nil {
		t.Errorf("stats of the last 30 days: %s", r.body)
	}
	reasons := func(st tenant.SequenceStats) string {
		var rs []string
		for _, h := range st.Holdups {
			rs = append(rs, h.Reason)
		}
		return strings.Join(rs, " | ")
	}
	if got := reasons(st); !strings.Contains(got, "1 message of unknown delivery waits") || !strings.Contains(got, "The sequence is draft") {
		t.Errorf("holdups = %q", got)
	}

	ts.api(t, a.key, "POST", "/api/v1/sequences/"+a.sequence+"/activate", "")
	ts.api(t, a.key, "PATCH", "/api/v1/mailboxes/"+a.mailbox, `{"state":"paused"}`)
	mustDecode(t, ts.api(t, a.key, "GET", path, "").body, &st)
	if got := reasons(st); !strings.Contains(got, "Mailbox Acme sales paused") || strings.Contains(got, "draft") {
		t.Errorf("holdups of an active sequence on a paused mailbox = %q", got)
	}

	today := time.Now().UTC().Format(time.DateOnly)
	r = ts.api(t, a.key, "GET", path+"?from="+today+"&to="+today, "")
	mustDecode(t, r.body, &st)
	if len(st.Days) != 1 || st.Days[0].Day != today || st.Total.Enrolled != 1 {
		t.Errorf("one day's stats: %s", r.body)
	}
	for q, field := range map[string]string{"?from=yesterday": "from", "?to=2026-13-01": "to", "?from=2026-11-10&to=2026-11-01": "from"} {
		wantAPIError(t, "period "+q, ts.api(t, a.key, "GET", path+q, ""), http.StatusUnprocessableEntity, "validation", field)
	}

	ts.mustUser(t, "ana@example.com", false)
	c := ts.mustUserInWorkspace(t, a.id, "ana@example.com")
	page := c.get("/w/" + a.id + "/sequences/" + a.sequence + "/stats?" + url.Values{"from": {today}}.Encode())
	wantStatus(t, "analytics page", page, http.StatusOK)
	for _, want := range []string{"Not sending now", "Mailbox Acme sales paused", "<svg class=\"chart\"", "This sequence has no email steps", today} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page lacks %q: %s", want, mainOf(page.body))
		}
	}
	wantStatus(t, "bad period on the page", c.get("/w/"+a.id+"/sequences/"+a.sequence+"/stats?from=x"), http.StatusUnprocessableEntity)
}

func TestAnalyticsPage(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "ana@example.com", false)
	id := ts.mustWorkspace(t, "Acme", "ana@example.com")
	c := ts.loggedIn(t, "ana@example.com")
	page := c.get("/w/" + id + "/analytics")
	wantStatus(t, "empty analytics", page, http.StatusOK)
	if !strings.Contains(page.body, "No sequences yet") {
		t.Errorf("no empty state: %s", mainOf(page.body))
	}
	a := ts.mustAPIWorkspace(t, "Globex", "Globex")
	ts.mustMember(t, a.id, mustUserByEmail(t, ts, "ana@example.com"), "viewer")
	page = c.get("/w/" + a.id + "/analytics?from=2026-01-01")
	wantStatus(t, "analytics", page, http.StatusOK)
	if !strings.Contains(page.body, "Globex launch") || !strings.Contains(page.body, "from 2026-01-01") {
		t.Errorf("the sequence is not listed: %s", mainOf(page.body))
	}
	if strings.Contains(c.get("/w/"+id+"/analytics").body, "Globex launch") {
		t.Error("another workspace's sequence is listed")
	}
}

func mustUserByEmail(tb testing.TB, ts *testServer, email string) *store.User {
	tb.Helper()
	u, err := store.UserByEmail(tb.Context(), ts.tenants.Catalog().R, email)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
