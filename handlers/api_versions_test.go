package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"atrium/store"
)

// apiIfMatch sends a request with key and an If-Match header ("" for none).
func (ts *testServer) apiIfMatch(tb testing.TB, key, method, path, ifMatch, body string) response {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// versionIn returns the "version" of a record's JSON.
func versionIn(tb testing.TB, r response) int64 {
	tb.Helper()
	var rec struct{ Version int64 }
	mustDecode(tb, r.body, &rec)
	return rec.Version
}

// wantConflict checks a 409 conflict that names the current version.
func wantConflict(tb testing.TB, what string, r response, current int64) {
	tb.Helper()
	wantAPIError(tb, what, r, http.StatusConflict, "conflict", "")
	var body struct {
		Error struct {
			CurrentVersion int64 `json:"current_version"`
		}
	}
	mustDecode(tb, r.body, &body)
	if body.Error.CurrentVersion != current || r.header.Get("ETag") != quotedVersion(current) {
		tb.Errorf("%s: current_version %d, ETag %q; want %d: %s", what, body.Error.CurrentVersion, r.header.Get("ETag"), current, r.body)
	}
}

// quotedVersion is a version as ETag and If-Match write it: "3".
func quotedVersion(v int64) string { return `"` + itoa(int(v)) + `"` }

// Two API clients read the same record; the first PATCH with its version
// wins, the second gets 409 with the current version, and goes through
// once it sends that one. Without a version, a PATCH writes as before.
func TestAPI_IfMatch(t *testing.T) {
	f := newAPIFixture(t)
	for _, tc := range []struct{ entity, mine, theirs string }{
		{"contacts", `{"title":"Mine"}`, `{"title":"Theirs"}`},
		{"companies", `{"industry":"Mine"}`, `{"industry":"Theirs"}`},
		{"notes", `{"body":"Mine"}`, `{"body":"Theirs"}`},
		{"tasks", `{"title":"Mine"}`, `{"title":"Theirs"}`},
		{"deals", `{"title":"Mine"}`, `{"title":"Theirs"}`},
	} {
		t.Run(tc.entity, func(t *testing.T) {
			path := "/api/v1/" + tc.entity + "/" + f.a.idOf(tc.entity)
			got := f.ts.api(t, f.a.key, "GET", path, "")
			wantStatus(t, "get", got, http.StatusOK)
			v := versionIn(t, got)
			if v < 1 || got.header.Get("ETag") != quotedVersion(v) {
				t.Fatalf("GET: version %d, ETag %q", v, got.header.Get("ETag"))
			}
			// Theirs first, with the version both read.
			theirs := f.ts.apiIfMatch(t, f.a.key, "PATCH", path, quotedVersion(v), tc.theirs)
			wantStatus(t, "their PATCH", theirs, http.StatusOK)
			if versionIn(t, theirs) != v+1 || theirs.header.Get("ETag") != quotedVersion(v+1) {
				t.Fatalf("their PATCH: %s, ETag %q; want version %d", theirs.body, theirs.header.Get("ETag"), v+1)
			}
			// Mine, with the same, now stale, version: refused, theirs kept.
			wantConflict(t, "stale If-Match", f.ts.apiIfMatch(t, f.a.key, "PATCH", path, quotedVersion(v), tc.mine), v+1)
			withVersion := strings.Replace(tc.mine, "{", `{"version":`+itoa(int(v))+`,`, 1)
			wantConflict(t, "stale body version", f.ts.api(t, f.a.key, "PATCH", path, withVersion), v+1)
			if now := f.ts.api(t, f.a.key, "GET", path, ""); !strings.Contains(now.body, "Theirs") || versionIn(t, now) != v+1 {
				t.Fatalf("a stale PATCH changed the record: %s", now.body)
			}
			// Mine again at the current version, in the body this time.
			withVersion = strings.Replace(tc.mine, "{", `{"version":`+itoa(int(v+1))+`,`, 1)
			mine := f.ts.api(t, f.a.key, "PATCH", path, withVersion)
			wantStatus(t, "PATCH at the current version", mine, http.StatusOK)
			if !strings.Contains(mine.body, "Mine") || versionIn(t, mine) != v+2 {
				t.Fatalf("PATCH at the current version: %s", mine.body)
			}
			// No version: last write wins, as before versions.
			blind := f.ts.api(t, f.a.key, "PATCH", path, tc.theirs)
			wantStatus(t, "PATCH without a version", blind, http.StatusOK)
			if versionIn(t, blind) != v+3 {
				t.Fatalf("PATCH without a version: %s", blind.body)
			}
			wantStatus(t, "If-Match: *", f.ts.apiIfMatch(t, f.a.key, "PATCH", path, "*", tc.mine), http.StatusOK)
			wantAPIError(t, "malformed If-Match", f.ts.apiIfMatch(t, f.a.key, "PATCH", path, "three", tc.mine), http.StatusBadRequest, "invalid", "")
			withVersion = strings.Replace(tc.mine, "{", `{"version":1,`, 1)
			wantAPIError(t, "If-Match and body disagree", f.ts.apiIfMatch(t, f.a.key, "PATCH", path, quotedVersion(v+4), withVersion),
				http.StatusUnprocessableEntity, "validation", "version")
		})
	}
	t.Run("pipelines", func(t *testing.T) {
		path := "/api/v1/pipelines/" + f.a.pipeline
		wantAPIError(t, "If-Match on a pipeline", f.ts.apiIfMatch(t, f.a.key, "PATCH", path, `"1"`, `{"name":"Renamed"}`),
			http.StatusBadRequest, "invalid", "")
	})
}

// A PATCH changes the fields it names and nothing else: for every entity
// and every field a PATCH can name, the record after it equals the record
// before, but for that field, what it implies (a stage's name, the
// close date of a status) and the version and time of the change.
func TestAPI_PatchChangesOnlyNamedFields(t *testing.T) {
	ts := newTestServer(t)
	w := ts.mustAPIWorkspace(t, "Acme", "Acmeword")
	owner := ts.mustUser(t, "owner@example.com", false)
	ts.mustMember(t, w.id, owner, "member")
	other := ts.mustUser(t, "other@example.com", false)
	ts.mustMember(t, w.id, other, "member")
	lease, err := ts.tenants.Acquire(t.Context(), w.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range []store.NewCustomField{{Entity: "contact", Label: "Budget", Type: "number"}, {Entity: "contact", Label: "Region", Type: "text"},
		{Entity: "company", Label: "Tier", Type: "text"}, {Entity: "company", Label: "Since", Type: "date"}} {
		if _, err := store.CreateCustomField(t.Context(), lease.DB, store.Actor{Kind: "user", ID: "test"}, fd); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := store.Pipelines(t.Context(), lease.DB)
	lease.Release()
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, s := range ps[0].Stages {
		stages = append(stages, s.ID)
	}
	company2 := ts.mustCreate(t, w.key, "/api/v1/companies", `{"name":"Second Co"}`)
	full := map[string]string{
		"contacts": ts.mustCreate(t, w.key, "/api/v1/contacts", `{"first_name":"Ana","last_name":"Silva","email":"ana@example.com","phone":"+1 555",
			"title":"CEO","company_id":"`+w.company+`","owner_id":"`+owner.ID+`","stage":"qualified","tags":["vip","event"],
			"custom":{"budget":1200,"region":"North"}}`),
		"companies": ts.mustCreate(t, w.key, "/api/v1/companies", `{"name":"Initech","domain":"initech.example","industry":"Software",
			"size":"11-50","owner_id":"`+owner.ID+`","tags":["partner"],"custom":{"tier":"gold","since":"2020-01-02"}}`),
		"deals": ts.mustCreate(t, w.key, "/api/v1/deals", `{"title":"Renewal","value":"1200.10","currency":"EUR","pipeline_id":"`+ps[0].ID+`",
			"stage_id":"`+stages[1]+`","contact_id":"`+w.contact+`","company_id":"`+w.company+`","owner_id":"`+owner.ID+`",
			"expected_close":"2027-03-01","status":"lost","lost_reason":"Budget"}`),
		"tasks": ts.mustCreate(t, w.key, "/api/v1/tasks", `{"contact_id":"`+w.contact+`","title":"Call","due_date":"2027-01-15",
			"assignee_id":"`+owner.ID+`","done":true}`),
		"notes": ts.mustCreate(t, w.key, "/api/v1/notes", `{"contact_id":"`+w.contact+`","body":"Met at the fair"}`),
	}
	always := []string{"version", "updated_at"}
	for _, tc := range []struct {
		entity, patch string
		changes       []string // the fields that may change besides version and updated_at
	}{
		{"contacts", `{"first_name":"Ann"}`, []string{"first_name"}},
		{"contacts", `{"last_name":"Berg"}`, []string{"last_name"}},
		{"contacts", `{"email":"ann@example.com"}`, []string{"email"}},
		{"contacts", `{"phone":"+1 556"}`, []string{"phone"}},
		{"contacts", `{"title":"CTO"}`, []string{"title"}},
		{"contacts", `{"company":"Globex"}`, []string{"company", "company_id"}},
		{"contacts", `{"company_id":"` + company2 + `"}`, []string{"company", "company_id"}},
		{"contacts", `{"owner_id":"` + other.ID + `"}`, []string{"owner_id"}},
		{"contacts", `{"stage":"customer"}`, []string{"stage"}},
		{"contacts", `{"tags":["new"]}`, []string{"tags"}},
		{"contacts", `{"custom":{"budget":99}}`, []string{"custom.budget"}},
		{"companies", `{"name":"Initrode"}`, []string{"name"}},
		{"companies", `{"domain":"initrode.example"}`, []string{"domain"}},
		{"companies", `{"industry":"Paper"}`, []string{"industry"}},
		{"companies", `{"size":"51-200"}`, []string{"size"}},
		{"companies", `{"owner_id":"` + other.ID + `"}`, []string{"owner_id"}},
		{"companies", `{"tags":["x"]}`, []string{"tags"}},
		{"companies", `{"custom":{"tier":"silver"}}`, []string{"custom.tier"}},
		{"deals", `{"title":"Upsell"}`, []string{"title"}},
		{"deals", `{"value":"99.00"}`, []string{"value"}},
		{"deals", `{"currency":"USD"}`, []string{"currency"}},
		{"deals", `{"stage_id":"` + stages[2] + `"}`, []string{"stage_id", "stage"}},
		{"deals", `{"contact_id":""}`, []string{"contact_id"}},
		{"deals", `{"company_id":"` + company2 + `"}`, []string{"company_id"}},
		{"deals", `{"owner_id":"` + other.ID + `"}`, []string{"owner_id"}},
		{"deals", `{"expected_close":"2027-06-30"}`, []string{"expected_close"}},
		{"deals", `{"lost_reason":"Timing"}`, []string{"lost_reason"}},
		// Reopening clears the reason lost and the close time.
		{"deals", `{"status":"open"}`, []string{"status", "closed_at", "lost_reason"}},
		{"tasks", `{"title":"Call back"}`, []string{"title"}},
		{"tasks", `{"due_date":"2027-02-01"}`, []string{"due_date"}},
		{"tasks", `{"assignee_id":"` + other.ID + `"}`, []string{"assignee_id"}},
		{"tasks", `{"done":false}`, []string{"done", "done_at"}},
		{"notes", `{"body":"Met twice"}`, []string{"body"}},
	} {
		path := "/api/v1/" + tc.entity + "/" + full[tc.entity]
		before := recordFields(t, ts.api(t, w.key, "GET", path, ""))
		patched := ts.api(t, w.key, "PATCH", path, tc.patch)
		wantStatus(t, "PATCH "+tc.entity+" "+tc.patch, patched, http.StatusOK)
		after := recordFields(t, ts.api(t, w.key, "GET", path, ""))
		if !reflect.DeepEqual(after, recordFields(t, patched)) {
			t.Errorf("PATCH %s %s: the response is not the record as read after it", tc.entity, tc.patch)
		}
		allowed := map[string]bool{}
		for _, k := range append(tc.changes, always...) {
			allowed[k] = true
		}
		var changed []string
		for k := range unionKeys(before, after) {
			if !reflect.DeepEqual(before[k], after[k]) {
				if !allowed[k] {
					t.Errorf("PATCH %s %s changed %s: %v → %v", tc.entity, tc.patch, k, before[k], after[k])
				}
				changed = append(changed, k)
			}
		}
		sort.Strings(changed)
		if !hasString(changed, tc.changes[0]) || !hasString(changed, "version") {
			t.Errorf("PATCH %s %s: changed only %v", tc.entity, tc.patch, changed)
		}
	}
}

// recordFields flattens a record's JSON one level: custom values become
// "custom.<key>", so each can be compared alone.
func recordFields(tb testing.TB, r response) map[string]any {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("status %d: %s", r.status, r.body)
	}
	var rec map[string]any
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&rec); err != nil {
		tb.Fatal(err)
	}
	if custom, ok := rec["custom"].(map[string]any); ok {
		delete(rec, "custom")
		for k, v := range custom {
			rec["custom."+k] = v
		}
	}
	return rec
}

func unionKeys(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
