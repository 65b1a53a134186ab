package handlers

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
)

// csvRows parses a CSV response into rows by their first column (the id).
func csvRows(t *testing.T, r response) map[string][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV: %v\n%s", err, r.body)
	}
	out := map[string][]string{}
	for _, rec := range recs[1:] {
		out[rec[0]] = rec
	}
	return out
}

// The console: a superadmin sees every workspace, an agency owner exactly
// the ones they own (page and CSV), anyone else none (404).
func TestConsole_Scope(t *testing.T) {
	f := newFixture(t)
	f.ts.mustUser(t, "root@example.com", true)
	if err := f.ts.tenants.PushRollups(t.Context(), f.a); err != nil {
		t.Fatal(err)
	}
	outsiderWS := ""
	for _, w := range mustUserWorkspaces(t, f, f.outsider.ID) {
		outsiderWS = w
	}

	root := f.ts.loggedIn(t, "root@example.com")
	r := root.get("/console")
	wantStatus(t, "superadmin", r, http.StatusOK)
	for _, name := range []string{"Acme", "Globex", "Outsider Inc"} {
		if !strings.Contains(r.body, name) {
			t.Errorf("the superadmin's console lacks %s", name)
		}
	}

	owner := f.ts.loggedIn(t, f.owner.Email)
	r = owner.get("/console")
	wantStatus(t, "agency owner", r, http.StatusOK)
	if !strings.Contains(r.body, "Acme") || !strings.Contains(r.body, "Globex") || strings.Contains(r.body, "Outsider") || strings.Contains(r.body, outsiderWS) {
		t.Errorf("the agency owner's console shows the wrong workspaces")
	}
	// The portfolio adds up their two workspaces: Acme's four members and
	// its contact (pushed), Globex's owner.
	r = owner.get("/console/portfolio")
	wantStatus(t, "agency owner's portfolio", r, http.StatusOK)
	for _, want := range []string{"<dt>Workspaces</dt><dd>2</dd>", "<dt>Members</dt><dd>5</dd>", "<dt>Contacts</dt><dd>1</dd>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the agency owner's portfolio lacks %s", want)
		}
	}
	rows := csvRows(t, owner.get("/console/workspaces.csv?sort=contacts&dir=desc"))
	if len(rows) != 2 || rows[f.a] == nil || rows[f.b] == nil {
		t.Fatalf("the agency owner's CSV: %v", rows)
	}
	// Columns: id, name, owner, region, members, contacts, ...
	if a := rows[f.a]; a[1] != "Acme" || a[2] != f.owner.Email || a[4] != "4" || a[5] != "1" {
		t.Errorf("Acme's CSV row: %v", a)
	}
	// A search and a filter narrow it; a bad sort falls back to the name.
	if rows := csvRows(t, owner.get("/console/workspaces.csv?q=glob&sort=nonsense")); len(rows) != 1 || rows[f.b] == nil {
		t.Errorf("search glob: %v", rows)
	}
	if rows := csvRows(t, owner.get("/console/workspaces.csv?state=trashed")); len(rows) != 0 {
		t.Errorf("state trashed: %v", rows)
	}

	outsider := f.ts.loggedIn(t, f.outsider.Email)
	rows = csvRows(t, outsider.get("/console/workspaces.csv"))
	if len(rows) != 1 || rows[outsiderWS] == nil {
		t.Errorf("the outsider's CSV: %v", rows)
	}

	for _, u := range []string{f.admin.Email, f.member.Email, f.viewer.Email} {
		c := f.ts.loggedIn(t, u)
		wantStatus(t, u+" console", c.get("/console"), http.StatusNotFound)
		wantStatus(t, u+" CSV", c.get("/console/workspaces.csv"), http.StatusNotFound)
		wantStatus(t, u+" portfolio", c.get("/console/portfolio"), http.StatusNotFound)
	}
}

func mustUserWorkspaces(t *testing.T, f *fixture, userID string) []string {
	t.Helper()
	var ids []string
	if err := f.ts.tenants.Catalog().R.SelectContext(t.Context(), &ids, `SELECT workspace_id FROM memberships WHERE user_id = ? AND role = 'owner'`, userID); err != nil {
		t.Fatal(err)
	}
	return ids
}
