package handlers

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"atrium/store"
)

// apiFixture is a server with two workspaces, A and B, each with keys and
// records whose texts hold a word of their own.
type apiFixture struct {
	ts   *testServer
	a, b *apiWorkspace
}

func newAPIFixture(t *testing.T) *apiFixture {
	ts := newTestServer(t)
	return &apiFixture{ts: ts, a: ts.mustAPIWorkspace(t, "Acme", "Acmeword"), b: ts.mustAPIWorkspace(t, "Globex", "Globexword")}
}

// TestAPI_RouteTableIsComplete fails when an API route is added to the
// router but not to apiRouteTable, so every route gets the access tests.
func TestAPI_RouteTableIsComplete(t *testing.T) {
	ts := newTestServer(t)
	h, _ := New(t.Context(), Config{Tenants: ts.tenants, Assets: os.DirFS("..")})
	var got, want []string
	h.(*mux.Router).Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := r.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, "/api/v1/") {
			return nil
		}
		m, ok := r.GetHandler().(methods)
		if !ok {
			got = append(got, "(not served by methods) "+tpl)
		}
		for _, method := range m.allowed() {
			got = append(got, method+" "+tpl)
		}
		return nil
	})
	for _, r := range apiRouteTable {
		want = append(want, r.method+" "+r.path)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("API routes and apiRouteTable differ:\nrouter:\n%s\n\ntable:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAPI_BadKeysAreUnauthenticated sends every kind of bad credential to
// every route: each is the same 401, whatever the route or record.
func TestAPI_BadKeysAreUnauthenticated(t *testing.T) {
	f := newAPIFixture(t)
	revoked, revokedID := f.ts.mustAPIKey(t, f.a.id, "write")
	lease, err := f.ts.tenants.Acquire(t.Context(), f.a.id)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeAPIKey(t.Context(), lease.DB, store.Actor{Kind: "user", ID: "test"}, revokedID); err != nil {
		t.Fatal(err)
	}
	lease.Release()
	gone := f.ts.mustAPIWorkspace(t, "Gone", "Goneword")
	if _, err := f.ts.tenants.Delete(t.Context(), gone.id, "test"); err != nil {
		t.Fatal(err)
	}
	wrongSecret := f.a.key[:len(f.a.key)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(f.a.key, "A")]
	otherWorkspace := strings.Replace(f.a.key, strings.ReplaceAll(f.a.id, "-", ""), strings.ReplaceAll(f.b.id, "-", ""), 1)
	unknownWorkspace := "atr_0192f0c17b7e7c3a9d2e3f4a5b6c7d8e" + f.a.key[36:]
	for name, auth := range map[string]string{
		"none":               "",
		"empty bearer":       "Bearer ",
		"garbage":            "Bearer garbage",
		"basic":              "Basic " + f.a.key,
		"key without Bearer": f.a.key,
		"wrong secret":       "Bearer " + wrongSecret,
		"key of A sent as B": "Bearer " + otherWorkspace,
		"unknown workspace":  "Bearer " + unknownWorkspace,
		"revoked":            "Bearer " + revoked,
		"deleted workspace":  "Bearer " + gone.key,
	} {
		for _, r := range apiRouteTable {
			resp := f.ts.apiRaw(t, auth, r.method, pathFor(r, f.a.idOf(entityOf(r))), strings.NewReader(bodyFor(r, f.a)))
			wantAPIError(t, name+": "+r.method+" "+r.path, resp, http.StatusUnauthorized, "unauthenticated", "")
			if resp.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %s %s: no WWW-Authenticate", name, r.method, r.path)
			}
		}
	}
	// Nothing was written with any of them.
	resp := f.ts.api(t, f.a.key, "GET", "/api/v1/audit?limit=200&actor=apikey:"+revokedID, "")
	if strings.Contains(resp.body, `"action"`) {
		t.Fatalf("a refused key wrote: %s", resp.body)
	}
}

// TestAPI_ReadKeyCannotWrite: a read key reads every route and is refused
// every write with 403, changing nothing.
func TestAPI_ReadKeyCannotWrite(t *testing.T) {
	f := newAPIFixture(t)
	before := f.ts.api(t, f.a.key, "GET", "/api/v1/audit?limit=200", "")
	for _, r := range apiRouteTable {
		resp := f.ts.api(t, f.a.readKey, r.method, pathFor(r, f.a.idOf(entityOf(r))), bodyFor(r, f.a))
		if r.min == "read" {
			wantStatus(t, "read key: "+r.method+" "+r.path, resp, http.StatusOK)
		} else {
			wantAPIError(t, "read key: "+r.method+" "+r.path, resp, http.StatusForbidden, "forbidden", "")
		}
	}
	// Reading changes nothing; exporting is recorded, as access to all the data.
	after := f.ts.api(t, f.a.key, "GET", "/api/v1/audit?limit=200", "")
	exports := f.ts.api(t, f.a.key, "GET", "/api/v1/audit?limit=200&action=workspace.export", "")
	if strings.Count(after.body, `"seq"`) != strings.Count(before.body, `"seq"`)+1 || strings.Count(exports.body, `"seq"`) != 1 {
		t.Fatalf("a read key changed the audit log:\nbefore %s\nafter %s", before.body, after.body)
	}
}

// TestAPI_OtherWorkspaceIsNotFound uses B's ids with A's key on every route
// that takes an id: each is 404 (never 403), and B's records are unchanged.
func TestAPI_OtherWorkspaceIsNotFound(t *testing.T) {
	f := newAPIFixture(t)
	snapshot := func() map[string]string {
		m := map[string]string{}
		for _, e := range []string{"contacts", "companies", "notes", "tasks"} {
			m[e] = f.ts.api(t, f.b.key, "GET", "/api/v1/"+e+"/"+f.b.idOf(e), "").body
		}
		return m
	}
	before := snapshot()
	for _, r := range apiRouteTable {
		if !strings.Contains(r.path, "{id}") {
			continue
		}
		for name, id := range map[string]string{
			"B's id":         f.b.idOf(entityOf(r)),
			"unknown":        "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e",
			"upper":          strings.ToUpper(f.a.idOf(entityOf(r))),
			"garbage":        "1%20OR%201=1",
			"A's other kind": f.a.idOf(map[string]string{"contacts": "companies", "companies": "notes", "notes": "tasks", "tasks": "contacts"}[entityOf(r)]),
		} {
			resp := f.ts.api(t, f.a.key, r.method, pathFor(r, id), bodyFor(r, f.a))
			wantAPIError(t, name+": "+r.method+" "+r.path, resp, http.StatusNotFound, "not_found", "")
		}
	}
	after := snapshot()
	for e := range before {
		if before[e] != after[e] || !strings.Contains(after[e], `"id"`) {
			t.Errorf("B's %s changed:\nbefore %s\nafter  %s", e, before[e], after[e])
		}
	}
}

// TestAPI_NeverListsOtherWorkspaces reads every GET route of A, with every
// filter that takes an id given B's ids, and finds nothing of B's.
func TestAPI_NeverListsOtherWorkspaces(t *testing.T) {
	f := newAPIFixture(t)
	paths := []string{"/api/v1/search?q=globexword", "/api/v1/search?q=globex", "/api/v1/audit?limit=200", "/api/v1/workspace",
		"/api/v1/contacts?q=globexword", "/api/v1/contacts?company_id=" + f.b.company, "/api/v1/companies?q=globex",
		"/api/v1/notes?contact_id=" + f.b.contact, "/api/v1/tasks?company_id=" + f.b.company,
		"/api/v1/audit?entity_id=" + f.b.contact}
	for _, r := range apiRouteTable {
		if r.method == "GET" && !strings.Contains(r.path, "{id}") {
			paths = append(paths, r.path+"?limit=200")
		}
	}
	for _, p := range paths {
		resp := f.ts.api(t, f.a.key, "GET", p, "")
		wantStatus(t, p, resp, http.StatusOK)
		for _, leak := range []string{"Globex", "globex", f.b.id, f.b.contact, f.b.company, f.b.note, f.b.task, f.b.keyID} {
			if strings.Contains(resp.body, leak) && !strings.Contains(p, leak) {
				t.Errorf("GET %s with A's key shows %q of B: %s", p, leak, resp.body)
			}
		}
	}
	// Records of A cannot point at records of B either.
	for path, body := range map[string]string{
		"/api/v1/contacts": `{"first_name":"X","company_id":"` + f.b.company + `"}`,
		"/api/v1/notes":    `{"contact_id":"` + f.b.contact + `","body":"x"}`,
		"/api/v1/tasks":    `{"company_id":"` + f.b.company + `","title":"x"}`,
	} {
		resp := f.ts.api(t, f.a.key, "POST", path, body)
		if resp.status != http.StatusUnprocessableEntity {
			t.Errorf("POST %s with B's parent: status %d: %s", path, resp.status, resp.body)
		}
	}
}

// TestAPI_CRUD walks each entity through create, get, list, patch and
// delete, and checks the audit log names the key and its IP.
func TestAPI_CRUD(t *testing.T) {
	f := newAPIFixture(t)
	for _, tc := range []struct {
		entity, create, patch, changed string
	}{
		{"contacts", `{"first_name":"Zoë","last_name":"Ý","email":"zoe@example.com","phone":"+1 555","company":"Initech","title":"CEO","tags":["vip"],"custom":{}}`,
			`{"title":"CTO","tags":["a","b"]}`, `"title":"CTO"`},
		{"companies", `{"name":"Initrode","domain":"Initrode.example","industry":"Paper","size":"11-50","tags":["x"]}`, `{"size":"51-200"}`, `"size":"51-200"`},
		{"notes", `{"contact_id":"` + f.a.contact + `","body":"Met at the fair"}`, `{"body":"Met at the spring fair"}`, `"body":"Met at the spring fair"`},
		{"tasks", `{"contact_id":"` + f.a.contact + `","title":"Send deck","due_date":"2027-01-15"}`, `{"done":true}`, `"done":true`},
	} {
		t.Run(tc.entity, func(t *testing.T) {
			base := "/api/v1/" + tc.entity
			created := f.ts.api(t, f.a.key, "POST", base, tc.create)
			wantStatus(t, "create", created, http.StatusCreated)
			var rec map[string]any
			mustDecode(t, created.body, &rec)
			id, _ := rec["id"].(string)
			if !store.ValidID(id) || rec["created_at"] == nil || rec["updated_at"] == nil {
				t.Fatalf("created: %s", created.body)
			}
			wantStatus(t, "get", f.ts.api(t, f.a.key, "GET", base+"/"+id, ""), http.StatusOK)
			if list := f.ts.api(t, f.a.key, "GET", base, ""); !strings.Contains(list.body, id) || !strings.Contains(list.body, `"next_cursor":""`) {
				t.Errorf("list misses the new record: %s", list.body)
			}
			patched := f.ts.api(t, f.a.key, "PATCH", base+"/"+id, tc.patch)
			wantStatus(t, "patch", patched, http.StatusOK)
			if !strings.Contains(patched.body, tc.changed) {
				t.Errorf("patch: %s", patched.body)
			}
			del := f.ts.api(t, f.a.key, "DELETE", base+"/"+id, "")
			if del.status != http.StatusNoContent || del.body != "" {
				t.Errorf("delete: %d %q", del.status, del.body)
			}
			wantAPIError(t, "get after delete", f.ts.api(t, f.a.key, "GET", base+"/"+id, ""), http.StatusNotFound, "not_found", "")
			wantAPIError(t, "delete twice", f.ts.api(t, f.a.key, "DELETE", base+"/"+id, ""), http.StatusNotFound, "not_found", "")
			audit := f.ts.api(t, f.a.key, "GET", "/api/v1/audit?entity_id="+id, "")
			var events struct{ Data []store.AuditEvent }
			mustDecode(t, audit.body, &events)
			if len(events.Data) != 3 {
				t.Fatalf("audit of %s: %s", id, audit.body)
			}
			for _, e := range events.Data {
				if e.Actor != "apikey:"+f.a.keyID || e.IP != "127.0.0.1" {
					t.Errorf("audit event by %q from %q", e.Actor, e.IP)
				}
			}
		})
	}
}

func TestAPI_Workspace(t *testing.T) {
	f := newAPIFixture(t)
	resp := f.ts.api(t, f.a.key, "GET", "/api/v1/workspace", "")
	var ws map[string]string
	mustDecode(t, resp.body, &ws)
	if len(ws) != 3 || ws["id"] != f.a.id || ws["name"] != "Acme" || ws["region"] != "default" {
		t.Fatalf("workspace: %s", resp.body)
	}
}

// TestAPI_Validation covers the error codes a client can cause with a body.
func TestAPI_Validation(t *testing.T) {
	f := newAPIFixture(t)
	big := `{"first_name":"` + strings.Repeat("x", maxAPIBody) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"bad email", "POST", "/api/v1/contacts", `{"email":"not an email"}`, 422, "validation", "email"},
		{"duplicate email", "POST", "/api/v1/contacts", `{"email":"ACMEWORD@Example.COM"}`, 409, "conflict", "email"},
		{"duplicate email on patch", "PATCH", "/api/v1/contacts/{contact}", `{"email":"x@example.com"}`, 200, "", ""},
		{"duplicate email on patch", "POST", "/api/v1/contacts", `{"email":"X@EXAMPLE.COM"}`, 409, "conflict", "email"},
		{"string as number", "POST", "/api/v1/contacts", `{"first_name":5}`, 422, "validation", "first_name"},
		{"tags not an array", "POST", "/api/v1/contacts", `{"first_name":"a","tags":"vip"}`, 422, "validation", "tags"},
		{"tags of numbers", "PATCH", "/api/v1/contacts/{contact}", `{"tags":[1,2]}`, 422, "validation", "tags"},
		{"custom not an object", "POST", "/api/v1/companies", `{"name":"a","custom":[]}`, 422, "validation", "custom"},
		{"done not a bool", "PATCH", "/api/v1/tasks/{task}", `{"done":"yes"}`, 422, "validation", "done"},
		{"body not a string", "POST", "/api/v1/notes", `{"contact_id":"{contact}","body":{}}`, 422, "validation", "body"},
		{"unknown field", "POST", "/api/v1/contacts", `{"first_name":"a","fist_name":"b"}`, 422, "validation", "fist_name"},
		{"id is not input", "PATCH", "/api/v1/companies/{company}", `{"id":"x"}`, 422, "validation", "id"},
		{"note cannot move", "PATCH", "/api/v1/notes/{note}", `{"contact_id":"{contact}"}`, 422, "validation", "contact_id"},
		{"no name", "POST", "/api/v1/companies", `{"domain":"a.example"}`, 422, "validation", "name"},
		{"bad domain", "PATCH", "/api/v1/companies/{company}", `{"domain":"not a domain"}`, 422, "validation", "domain"},
		{"bad due date", "POST", "/api/v1/tasks", `{"contact_id":"{contact}","title":"t","due_date":"tomorrow"}`, 422, "validation", "due_date"},
		{"task without parent", "POST", "/api/v1/tasks", `{"title":"t"}`, 422, "validation", "contact_id"},
		{"malformed", "POST", "/api/v1/contacts", `{"first_name":`, 400, "invalid", ""},
		{"not json", "POST", "/api/v1/contacts", `first_name=a`, 400, "invalid", ""},
		{"empty", "POST", "/api/v1/contacts", ``, 400, "invalid", ""},
		{"array", "POST", "/api/v1/contacts", `[{"first_name":"a"}]`, 400, "invalid", ""},
		{"two objects", "POST", "/api/v1/contacts", `{"first_name":"a"}{"first_name":"b"}`, 400, "invalid", ""},
		{"too large", "POST", "/api/v1/contacts", big, 413, "too_large", ""},
		{"too large after an object", "PATCH", "/api/v1/contacts/{contact}", `{"title":"a"}` + strings.Repeat(" ", maxAPIBody), 413, "too_large", ""},
		{"bad limit", "GET", "/api/v1/contacts?limit=ten", ``, 400, "invalid", ""},
		{"zero limit", "GET", "/api/v1/notes?limit=0", ``, 400, "invalid", ""},
		{"bad cursor", "GET", "/api/v1/companies?cursor=abc", ``, 400, "invalid", ""},
		{"bad audit cursor", "GET", "/api/v1/audit?cursor=abc", ``, 400, "invalid", ""},
		{"bad sort", "GET", "/api/v1/contacts?sort=email", ``, 400, "invalid", ""},
		{"bad done", "GET", "/api/v1/tasks?done=maybe", ``, 400, "invalid", ""},
		{"unknown route", "GET", "/api/v1/invoices", ``, 404, "not_found", ""},
		{"unknown method", "PUT", "/api/v1/contacts/{contact}", `{}`, 405, "method_not_allowed", ""},
		{"HEAD is GET without a body", "HEAD", "/api/v1/contacts/{contact}", ``, 200, "", ""},
	} {
		path := strings.NewReplacer("{contact}", f.a.contact, "{company}", f.a.company, "{note}", f.a.note, "{task}", f.a.task)
		resp := f.ts.api(t, f.a.key, tc.method, path.Replace(tc.path), path.Replace(tc.body))
		if tc.status == 200 {
			wantStatus(t, tc.name, resp, 200)
			continue
		}
		wantAPIError(t, tc.name, resp, tc.status, tc.code, tc.field)
	}
}

// TestAPI_Pagination pages through every list with a small limit and
// finds each record once.
func TestAPI_Pagination(t *testing.T) {
	f := newAPIFixture(t)
	for i := 0; i < 11; i++ {
		n := string(rune('a' + i))
		f.ts.mustCreate(t, f.a.key, "/api/v1/contacts", `{"first_name":"P`+n+`","tags":["paged"]}`)
		f.ts.mustCreate(t, f.a.key, "/api/v1/companies", `{"name":"Co `+n+`"}`)
		f.ts.mustCreate(t, f.a.key, "/api/v1/notes", `{"company_id":"`+f.a.company+`","body":"n`+n+`"}`)
		f.ts.mustCreate(t, f.a.key, "/api/v1/tasks", `{"company_id":"`+f.a.company+`","title":"t`+n+`"}`)
	}
	for path, want := range map[string]int{
		"/api/v1/contacts?tag=paged":              11,
		"/api/v1/contacts?sort=name&order=asc":    12,
		"/api/v1/companies?sort=name":             12,
		"/api/v1/notes?company_id=" + f.a.company: 11,
		"/api/v1/tasks?company_id=" + f.a.company: 12,
		"/api/v1/tasks?done=false":                12,
		"/api/v1/audit?action=company.create":     12,
		"/api/v1/audit":                           4*12 + 10, // every create, the two keys, two pipelines (the first is made on first use), the deal, the mailbox, the template, the sequence, the suppression and the enrollment
	} {
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			sep := "&"
			if !strings.Contains(path, "?") {
				sep = "?"
			}
			resp := f.ts.api(t, f.a.key, "GET", path+sep+"limit=4&cursor="+url.QueryEscape(cursor), "")
			var page struct {
				Data []struct {
					ID  string
					Seq int64
				}
				NextCursor *string `json:"next_cursor"`
			}
			mustDecode(t, resp.body, &page)
			if page.NextCursor == nil {
				t.Fatalf("%s: no next_cursor: %s", path, resp.body)
			}
			for _, rec := range page.Data {
				key := fmt.Sprint(rec.ID, rec.Seq)
				if seen[key] {
					t.Fatalf("%s: %s twice", path, key)
				}
				seen[key] = true
			}
			pages++
			if cursor = *page.NextCursor; cursor == "" || pages > 50 {
				break
			}
		}
		if len(seen) != want {
			t.Errorf("%s: %d records in %d pages, want %d", path, len(seen), pages, want)
		}
	}
}

// TestAPI_Search: any q is a 200, never an FTS5 syntax error.
func TestAPI_Search(t *testing.T) {
	f := newAPIFixture(t)
	f.ts.mustCreate(t, f.a.key, "/api/v1/contacts", `{"first_name":"Zoë","last_name":"Núñez","email":"zoe@initech.example"}`)
	for q, want := range map[string]string{
		"acmeword":                        `"kind":"contact"`,
		"acmew":                           `"kind":"company"`,
		"nunez":                           "Núñez",
		"Núñ":                             "Núñez",
		"zoe":                             "Zoë",
		"日本語":                             `"data":[]`,
		"":                                `"data":[]`,
		`"a OR`:                           `"data":`,
		`NEAR(`:                           `"data":`,
		`*`:                               `"data":[]`,
		`"`:                               `"data":[]`,
		`acmeword"`:                       `"kind":"note"`,
		`a AND b`:                         `"data":`,
		`-acmeword`:                       `"kind":"contact"`,
		`col:acme`:                        `"data":`,
		strings.Repeat("x", 10000):        `"data":[]`,
		strings.Repeat("acmeword ", 1200): `"kind":"contact"`,
		"acmeword\x00\u202e":              `"data":`,
	} {
		resp := f.ts.api(t, f.a.key, "GET", "/api/v1/search?q="+url.QueryEscape(q), "")
		wantStatus(t, "search "+q[:min(len(q), 20)], resp, http.StatusOK)
		if !strings.Contains(resp.body, want) {
			t.Errorf("search %.20q: %s does not contain %s", q, resp.body, want)
		}
	}
	for _, q := range []string{`"a OR`, `NEAR(`, strings.Repeat("y", 10000), "日本"} {
		resp := f.ts.api(t, f.a.key, "GET", "/api/v1/contacts?q="+url.QueryEscape(q), "")
		wantStatus(t, "contacts q "+q[:min(len(q), 20)], resp, http.StatusOK)
	}
}

// TestAPI_InternalErrorHidesDetails: an error that is not a domain error is
// a 500 whose message says nothing of its cause.
func TestAPI_InternalErrorHidesDetails(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	s.apiFail(rec, httptest.NewRequest("GET", "/api/v1/contacts", nil), fmt.Errorf("open /srv/data/secret.db: disk I/O error"))
	resp := response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	wantAPIError(t, "internal", resp, http.StatusInternalServerError, "internal", "")
	if strings.Contains(resp.body, "secret") || strings.Contains(resp.body, "I/O") {
		t.Fatalf("internals leak: %s", resp.body)
	}
}

// TestAPI_ConcurrentWorkspacesStayApart writes to two workspaces at once
// through many connections; each ends with exactly its own records.
func TestAPI_ConcurrentWorkspacesStayApart(t *testing.T) {
	f := newAPIFixture(t)
	const writers, each = 4, 15
	var wg sync.WaitGroup
	for _, w := range []*apiWorkspace{f.a, f.b} {
		for g := range writers {
			wg.Go(func() {
				for i := range each {
					body := fmt.Sprintf(`{"first_name":"%s","last_name":"W%d-%d","tags":["load"]}`, w.word, g, i)
					if r := f.ts.api(t, w.key, "POST", "/api/v1/contacts", body); r.status != http.StatusCreated {
						t.Errorf("create: %d %s", r.status, r.body)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, pair := range [][2]*apiWorkspace{{f.a, f.b}, {f.b, f.a}} {
		w, other := pair[0], pair[1]
		resp := f.ts.api(t, w.key, "GET", "/api/v1/contacts?tag=load&limit=200", "")
		var page struct{ Data []store.Contact }
		mustDecode(t, resp.body, &page)
		if len(page.Data) != writers*each {
			t.Errorf("%s has %d contacts, want %d", w.word, len(page.Data), writers*each)
		}
		if strings.Contains(resp.body, other.word) {
			t.Errorf("%s lists contacts of %s", w.word, other.word)
		}
	}
}

// TestAPI_SessionCookieIsNoKey: a signed-in browser has no API access
// without a key, so a page of another site cannot drive the API with the
// user's cookie.
func TestAPI_SessionCookieIsNoKey(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.mustUser(t, "owner@example.com", false)
	ts.mustWorkspace(t, "Acme", owner.Email)
	c := ts.loggedIn(t, owner.Email)
	wantAPIError(t, "GET with a session", c.get("/api/v1/contacts"), http.StatusUnauthorized, "unauthenticated", "")
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/contacts", strings.NewReader(`{"first_name":"Forged"}`))
	wantAPIError(t, "POST with a session", c.do(req), http.StatusUnauthorized, "unauthenticated", "")
}

// TestAPI_HostileListQueries sends well-formed but hostile list queries:
// each must be a 400 invalid, never a 500.
func TestAPI_HostileListQueries(t *testing.T) {
	f := newAPIFixture(t)
	t.Run("CraftedCursor", func(t *testing.T) {
		for _, path := range []string{"/api/v1/contacts", "/api/v1/contacts?sort=name", "/api/v1/companies", "/api/v1/notes", "/api/v1/tasks", "/api/v1/deals", "/api/v1/pipelines"} {
			for _, raw := range []string{`[[1]]`, `[{"a":1}]`, `[true]`, `[[1],[2],[3]]`, `[null,{},[]]`} {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				cursor := base64.RawURLEncoding.EncodeToString([]byte(raw))
				resp := f.ts.api(t, f.a.key, "GET", path+sep+"cursor="+cursor, "")
				if resp.status == http.StatusOK && strings.HasPrefix(path, "/api/v1/pipelines") {
					continue // pipelines come in one page and take no cursor
				}
				wantAPIError(t, path+" cursor "+raw, resp, 400, "invalid", "")
			}
		}
	})
	t.Run("TooManyCustomFilters", func(t *testing.T) {
		q := url.Values{}
		for i := range 2000 {
			q.Set(fmt.Sprintf("custom.f%d", i), "x")
		}
		resp := f.ts.api(t, f.a.key, "GET", "/api/v1/contacts?"+q.Encode(), "")
		wantAPIError(t, "2000 custom filters", resp, 400, "invalid", "")
		if !strings.Contains(resp.body, "20") {
			t.Errorf("the message does not name the limit: %s", resp.body)
		}
	})
}
