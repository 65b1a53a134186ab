package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestErrors_TitledInWords: error pages say what happened in words, not
// as an HTTP status text.
func TestErrors_TitledInWords(t *testing.T) {
	f := newFixture(t)
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	for _, tc := range []struct {
		path   string
		status int
		title  string
	}{
		{"/no/such/page", http.StatusNotFound, "<h1>Page not found</h1>"},
		{"/w/" + f.a + "/contacts/00000000-0000-0000-0000-000000000000", http.StatusNotFound, "<h1>Page not found</h1>"},
		{"/w/" + f.a + "/audit", http.StatusForbidden, "<h1>You do not have access</h1>"},
	} {
		r := viewer.get(tc.path)
		wantStatus(t, tc.path, r, tc.status)
		if !strings.Contains(r.body, tc.title) {
			t.Errorf("%s: no %s in the page", tc.path, tc.title)
		}
	}
}

// TestErrors_TrashedWorkspace: the owner of a trashed workspace is told it
// is in the trash and can restore it from there; a member who is not an
// owner, and a superadmin who is no member, get the plain not-found page.
func TestErrors_TrashedWorkspace(t *testing.T) {
	f := newFixture(t)
	f.ts.mustUser(t, "root@example.com", true)
	owner := f.ts.loggedIn(t, f.owner.Email)
	if _, err := f.ts.tenants.Trash(t.Context(), f.a, "user:"+f.owner.ID); err != nil {
		t.Fatal(err)
	}
	r := owner.get("/w/" + f.a + "/contacts")
	wantStatus(t, "owner", r, http.StatusNotFound)
	if !strings.Contains(r.body, "<h1>This workspace is in the trash</h1>") || !strings.Contains(r.body, `action="/workspaces/`+f.a+`/untrash"`) {
		t.Fatalf("the owner's page of a trashed workspace: %.2000s", r.body)
	}
	for _, email := range []string{f.admin.Email, "root@example.com", f.outsider.Email} {
		r := f.ts.loggedIn(t, email).get("/w/" + f.a + "/contacts")
		wantStatus(t, email, r, http.StatusNotFound)
		if !strings.Contains(r.body, "<h1>Page not found</h1>") || strings.Contains(r.body, "trash") {
			t.Errorf("%s sees a trashed workspace's page other than plain not found: %.600s", email, r.body)
		}
	}
	page := owner.get("/w/" + f.a + "/")
	if !strings.Contains(page.body, "This workspace is in the trash") {
		t.Fatal("the owner's overview of a trashed workspace does not say it is in the trash")
	}
	token := csrfField.FindStringSubmatch(page.body)
	if token == nil {
		t.Fatal("no CSRF token on the page")
	}
	wantStatus(t, "restore from the page", owner.post("/workspaces/"+f.a+"/untrash", token[1], url.Values{}), http.StatusSeeOther)
	wantStatus(t, "back", owner.get("/w/"+f.a+"/contacts"), http.StatusOK)
}
