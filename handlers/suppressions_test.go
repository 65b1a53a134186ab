package handlers

import (
	"bytes"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"atrium/store"
	"atrium/tenant"
)

// unsubscribeFixture is two workspaces, A with a contact, and the
// unsubscribe token of an email to that contact.
type unsubscribeFixture struct {
	ts          *testServer
	a, b        string
	contact     string
	token       string
	owner, root *store.User
}

func newUnsubscribeFixture(t *testing.T) *unsubscribeFixture {
	ts := newTestServer(t)
	f := &unsubscribeFixture{ts: ts}
	f.owner = ts.mustUser(t, "owner@example.com", false)
	f.root = ts.mustUser(t, "root@example.com", true)
	f.a = ts.mustWorkspace(t, "Acme", f.owner.Email)
	f.b = ts.mustWorkspace(t, "Globex", f.owner.Email)
	svc, release := f.service(t, f.a)
	defer release()
	name, email := "Ana", "Ana@Client.example"
	c, err := svc.CreateContact(t.Context(), store.Actor{Kind: "user", ID: f.owner.ID}, store.ContactInput{FirstName: &name, Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	f.contact = c.ID
	if f.token, err = svc.UnsubscribeToken(t.Context(), c.ID, c.Email); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *unsubscribeFixture) service(t *testing.T, ws string) (*tenant.Service, func()) {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return f.ts.tenants.Service(l), l.Release
}

// suppressed is what workspace ws says of email: its reason, or "".
func (f *unsubscribeFixture) suppressed(t *testing.T, ws, email string) string {
	t.Helper()
	svc, release := f.service(t, ws)
	defer release()
	got, err := svc.Suppressed(t.Context(), []string{email})
	if err != nil {
		t.Fatal(err)
	}
	return got[strings.ToLower(email)]
}

// anonymous sends a request with no cookie at all, as a mail provider does.
func (f *unsubscribeFixture) anonymous(t *testing.T, method, path, contentType string, body []byte) response {
	t.Helper()
	req, _ := http.NewRequest(method, f.ts.URL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b.String()}
}

func (f *unsubscribeFixture) oneClick(t *testing.T, token string) response {
	return f.anonymous(t, http.MethodPost, "/u/"+token, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
}

// TestUnsubscribe_GetOnlyAsks: following the link (as a link scanner
// does) shows the question and changes nothing.
func TestUnsubscribe_GetOnlyAsks(t *testing.T) {
	f := newUnsubscribeFixture(t)
	for range 2 {
		r := f.anonymous(t, http.MethodGet, "/u/"+f.token, "", nil)
		wantStatus(t, "GET", r, http.StatusOK)
		if !strings.Contains(r.body, "Acme") || !strings.Contains(r.body, "a…@client.example") || !strings.Contains(r.body, `<form method="post">`) {
			t.Fatalf("the page does not ask: %s", r.body)
		}
		if strings.Contains(r.body, "ana@client.example") {
			t.Fatal("the page shows the whole address")
		}
		if len(r.header.Values("Set-Cookie")) > 0 {
			t.Fatalf("the page sets a cookie: %v", r.header.Values("Set-Cookie"))
		}
	}
	if got := f.suppressed(t, f.a, "ana@client.example"); got != "" {
		t.Fatalf("a GET suppressed the address (%s)", got)
	}
}

// TestUnsubscribe_OneClick: the RFC 8058 POST, with no cookie and no CSRF
// token, suppresses the address once, records it, and answers the same
// the second time; a multipart body (what RFC 8058 prefers) works too.
func TestUnsubscribe_OneClick(t *testing.T) {
	f := newUnsubscribeFixture(t)
	for i := range 2 {
		r := f.oneClick(t, f.token)
		wantStatus(t, "one-click POST", r, http.StatusOK)
		if !strings.Contains(r.body, "You are unsubscribed") {
			t.Fatalf("POST %d: %s", i+1, r.body)
		}
	}
	if got := f.suppressed(t, f.a, "ana@client.example"); got != store.SuppressUnsubscribed {
		t.Fatalf("A: suppressed = %q", got)
	}
	if r := f.anonymous(t, http.MethodGet, "/u/"+f.token, "", nil); !strings.Contains(r.body, "You are unsubscribed") || strings.Contains(r.body, "<form") {
		t.Fatalf("the link, used again, asks again: %s", r.body)
	}
	if got := f.suppressed(t, f.b, "ana@client.example"); got != "" {
		t.Fatalf("B has A's unsubscribe: %q", got)
	}
	svc, release := f.service(t, f.a)
	events, _, err := store.ListAudit(t.Context(), svc.DB(), store.AuditFilter{Action: "suppression.add"})
	release()
	if err != nil || len(events) != 1 || events[0].ContactID != f.contact || events[0].Actor != "system:unsubscribe" || events[0].IP == "" {
		t.Fatalf("audit = %+v, %v", events, err)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	svcA, releaseA := f.service(t, f.a)
	other, _ := svcA.UnsubscribeToken(t.Context(), "", "bo@client.example")
	releaseA()
	wantStatus(t, "multipart one-click", f.anonymous(t, http.MethodPost, "/u/"+other, mw.FormDataContentType(), body.Bytes()), http.StatusOK)
	if got := f.suppressed(t, f.a, "bo@client.example"); got != store.SuppressUnsubscribed {
		t.Fatalf("multipart: suppressed = %q", got)
	}
}

// TestUnsubscribe_BadTokens: a changed token, a token of A claimed for B,
// and garbage are the same 404 that names no workspace, and change
// nothing anywhere.
func TestUnsubscribe_BadTokens(t *testing.T) {
	f := newUnsubscribeFixture(t)
	raw, _ := base64.RawURLEncoding.DecodeString(f.token)
	idB := uuid.MustParse(f.b)
	forB := append(append([]byte{raw[0]}, idB[:]...), raw[17:]...)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-1] ^= 0x80
	for name, token := range map[string]string{
		"A's token naming B": base64.RawURLEncoding.EncodeToString(forB),
		"changed":            base64.RawURLEncoding.EncodeToString(flipped),
		"cut":                f.token[:len(f.token)-2],
		"garbage":            "not-a-token",
	} {
		for _, r := range []response{f.anonymous(t, http.MethodGet, "/u/"+token, "", nil), f.oneClick(t, token)} {
			wantStatus(t, name, r, http.StatusNotFound)
			if strings.Contains(r.body, "Acme") || strings.Contains(r.body, "Globex") || strings.Contains(r.body, "client.example") {
				t.Fatalf("%s: the 404 leaks: %s", name, r.body)
			}
		}
	}
	for _, ws := range []string{f.a, f.b} {
		if got := f.suppressed(t, ws, "ana@client.example"); got != "" {
			t.Fatalf("a bad token suppressed the address in %s", ws)
		}
	}
}

// TestUnsubscribe_TrashedWorkspace: the links of a workspace in the trash
// lead nowhere.
func TestUnsubscribe_TrashedWorkspace(t *testing.T) {
	f := newUnsubscribeFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "delete", c.post("/w/"+f.a+"/delete", c.workspaceToken(f.a), url.Values{"confirm": {"Acme"}}), http.StatusSeeOther)
	wantStatus(t, "GET", f.anonymous(t, http.MethodGet, "/u/"+f.token, "", nil), http.StatusNotFound)
	wantStatus(t, "POST", f.oneClick(t, f.token), http.StatusNotFound)
}

// TestSuppressions_Page: admins add and remove (with a confirmation),
// members read, and neither workspace sees the other's list.
func TestSuppressions_Page(t *testing.T) {
	f := newUnsubscribeFixture(t)
	member := f.ts.mustUser(t, "member@example.com", false)
	f.ts.mustMember(t, f.a, member, "member")
	owner := f.ts.loggedIn(t, f.owner.Email)
	tokenA := owner.workspaceToken(f.a)
	r := owner.post("/w/"+f.a+"/suppressions", tokenA, url.Values{"email": {"Zed@Example.com"}, "reason": {"complaint"}, "detail": {"said so"}})
	wantStatus(t, "add", r, http.StatusSeeOther)
	r = owner.post("/w/"+f.a+"/suppressions", tokenA, url.Values{"email": {"not an address"}, "reason": {"manual"}})
	wantStatus(t, "add a bad address", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "is not a valid email address") || !strings.Contains(r.body, `value="not an address"`) {
		t.Fatalf("the form does not say what is wrong: %s", r.body)
	}

	m := f.ts.loggedIn(t, member.Email)
	r = m.get("/w/" + f.a + "/suppressions?q=zed")
	wantStatus(t, "member reads", r, http.StatusOK)
	if !strings.Contains(r.body, "zed@example.com") || !strings.Contains(r.body, "complaint") || strings.Contains(r.body, "Suppress address") {
		t.Fatalf("the member's page: %s", r.body)
	}
	wantStatus(t, "member adds", m.post("/w/"+f.a+"/suppressions", m.workspaceToken(f.a), url.Values{"email": {"x@example.com"}}), http.StatusForbidden)
	if r = owner.get("/w/" + f.b + "/suppressions"); strings.Contains(r.body, "zed@example.com") {
		t.Fatal("B's page shows A's suppression")
	}
	if r = owner.get("/w/" + f.a + "/suppressions?q=nobody"); strings.Contains(r.body, "zed@example.com") {
		t.Fatal("the search keeps what does not match")
	}

	svc, release := f.service(t, f.a)
	sup, err := store.GetSuppression(t.Context(), svc.DB(), "zed@example.com")
	release()
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "B's path to A's suppression", owner.get("/w/"+f.b+"/suppressions/"+sup.ID+"/delete"), http.StatusNotFound)
	r = owner.get("/w/" + f.a + "/suppressions/" + sup.ID + "/delete")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Take zed@example.com off the suppression list?") {
		t.Fatalf("confirmation: %d %s", r.status, r.body)
	}
	wantStatus(t, "remove", owner.post("/w/"+f.a+"/suppressions/"+sup.ID+"/delete", tokenA, nil), http.StatusSeeOther)
	if got := f.suppressed(t, f.a, "zed@example.com"); got != "" {
		t.Fatalf("still suppressed: %s", got)
	}
}

// TestSuppressions_Console: a superadmin's instance-wide list applies to
// every workspace; others cannot reach it.
func TestSuppressions_Console(t *testing.T) {
	f := newUnsubscribeFixture(t)
	root := f.ts.loggedIn(t, f.root.Email)
	global := root.token("/")
	wantStatus(t, "add", root.post("/admin/suppressions", global, url.Values{"email": {"Trap@Example.com"}, "reason": {"complaint"}}), http.StatusSeeOther)
	if r := root.get("/admin"); !strings.Contains(r.body, "trap@example.com") {
		t.Fatalf("the console does not list it: %s", r.body)
	}
	for _, ws := range []string{f.a, f.b} {
		if got := f.suppressed(t, ws, "trap@example.com"); got != store.SuppressComplaint {
			t.Fatalf("%s: suppressed = %q", ws, got)
		}
	}
	owner := f.ts.loggedIn(t, f.owner.Email)
	wantStatus(t, "an owner adds", owner.post("/admin/suppressions", owner.token("/"), url.Values{"email": {"x@example.com"}}), http.StatusNotFound)
	r := root.post("/admin/suppressions/delete", global, url.Values{"email": {"trap@example.com"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "off the instance") {
		t.Fatalf("no confirmation: %d %s", r.status, r.body)
	}
	if got := f.suppressed(t, f.a, "trap@example.com"); got == "" {
		t.Fatal("removed before the confirmation")
	}
	wantStatus(t, "remove", root.post("/admin/suppressions/delete", global, url.Values{"email": {"trap@example.com"}, "confirm": {"yes"}}), http.StatusSeeOther)
	if got := f.suppressed(t, f.b, "trap@example.com"); got != "" {
		t.Fatalf("still suppressed: %s", got)
	}
}

// TestAPI_Suppressions: add is idempotent (201, then 200 with the first
// row), get and delete take the id or the address, a list pages with a
// cursor, and a key of B sees none of A's.
func TestAPI_Suppressions(t *testing.T) {
	f := newAPIFixture(t)
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/suppressions", `{"email":"Dup@Example.com","reason":"unsubscribed"}`)
	wantStatus(t, "add", r, http.StatusCreated)
	var first store.Suppression
	mustDecode(t, r.body, &first)
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/suppressions", `{"email":"dup@example.com","reason":"bounced"}`)
	wantStatus(t, "add again", r, http.StatusOK)
	var again store.Suppression
	mustDecode(t, r.body, &again)
	if again.ID != first.ID || again.Reason != "unsubscribed" || again.Email != "dup@example.com" {
		t.Fatalf("first %+v, again %+v", first, again)
	}
	wantAPIError(t, "bad reason", f.ts.api(t, f.a.key, "POST", "/api/v1/suppressions", `{"email":"x@example.com","reason":"bored"}`),
		http.StatusUnprocessableEntity, "validation", "reason")
	wantStatus(t, "get by address", f.ts.api(t, f.a.key, "GET", "/api/v1/suppressions/DUP%40example.com", ""), http.StatusOK)
	wantAPIError(t, "B gets A's by address", f.ts.api(t, f.b.key, "GET", "/api/v1/suppressions/dup%40example.com", ""), http.StatusNotFound, "not_found", "")
	wantAPIError(t, "B deletes A's by address", f.ts.api(t, f.b.key, "DELETE", "/api/v1/suppressions/dup@example.com", ""), http.StatusNotFound, "not_found", "")

	for _, e := range []string{"p1", "p2", "p3", "p4"} {
		f.ts.mustCreate(t, f.a.key, "/api/v1/suppressions", `{"email":"`+e+`@example.com"}`)
	}
	seen, cursor := map[string]bool{}, ""
	for pages := 0; pages < 10; pages++ {
		var page struct {
			Data       []store.Suppression
			NextCursor string `json:"next_cursor"`
		}
		mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/suppressions?limit=2&cursor="+url.QueryEscape(cursor), "").body, &page)
		for _, s := range page.Data {
			seen[s.Email] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 6 || !seen["gone-acmeword@example.com"] || seen["gone-globexword@example.com"] {
		t.Fatalf("A's pages hold %v", seen)
	}
	if body := f.ts.api(t, f.b.key, "GET", "/api/v1/suppressions?limit=200", "").body; strings.Contains(body, "dup@") || strings.Contains(body, "acmeword") {
		t.Fatalf("B lists A's: %s", body)
	}

	wantStatus(t, "delete by address", f.ts.api(t, f.a.key, "DELETE", "/api/v1/suppressions/dup%40example.com", ""), http.StatusNoContent)
	wantAPIError(t, "delete again", f.ts.api(t, f.a.key, "DELETE", "/api/v1/suppressions/"+first.ID, ""), http.StatusNotFound, "not_found", "")
}

// TestAPI_ImportSkipsSuppressed: the API's CSV import skips addresses on
// the workspace's and the instance's lists, each with a note, unless
// ?suppressed=import.
func TestAPI_ImportSkipsSuppressed(t *testing.T) {
	f := newAPIFixture(t)
	if _, err := store.AddInstanceSuppression(t.Context(), f.ts.tenants.Catalog(), "user:root", store.SuppressionInput{Email: "trap@example.com"}); err != nil {
		t.Fatal(err)
	}
	csv := "first_name,email\nGone,gone-acmeword@example.com\nTrap,trap@example.com\nNew,new@example.com\n"
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/contacts/import", csv)
	wantStatus(t, "import", r, http.StatusOK)
	var res store.ImportResult
	mustDecode(t, r.body, &res)
	if res.Created != 1 || res.Skipped != 2 || res.Suppressed != 2 || len(res.Notes) != 2 ||
		res.Notes[0].Message != "Skipped: gone-acmeword@example.com is on the suppression list (bounced)." {
		t.Fatalf("got %s", r.body)
	}
	r = f.ts.api(t, f.b.key, "POST", "/api/v1/contacts/import?suppressed=import", csv)
	mustDecode(t, r.body, &res)
	if res.Created != 3 || res.Suppressed != 0 {
		t.Fatalf("?suppressed=import: %s", r.body)
	}
}
