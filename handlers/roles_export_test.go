package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"atrium/store"
)

// between returns the part of body from the first start to the next end.
func between(t *testing.T, body, start, end string) string {
	t.Helper()
	i := strings.Index(body, start)
	if i < 0 {
		t.Fatalf("%q not found in the page", start)
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, start)
	}
	return body[i : i+j]
}

// TestViewers_NotOfferedAsOwners: owner and assignee pickers and the bulk
// owner list leave viewers out, and the server refuses a viewer posted
// anyway, in the app and the API; a record a viewer owns already keeps
// its owner through an edit.
func TestViewers_NotOfferedAsOwners(t *testing.T) {
	f := newFixture(t)
	mc := f.ts.loggedIn(t, f.member.Email)
	ws := "/w/" + f.a
	for _, path := range []string{ws + "/contacts/new", ws + "/companies/new", ws + "/deals/new"} {
		r := mc.get(path)
		wantStatus(t, path, r, http.StatusOK)
		sel := between(t, r.body, `id="f-owner_id"`, "</select>")
		if !strings.Contains(sel, f.member.ID) || strings.Contains(sel, f.viewer.ID) {
			t.Errorf("%s: owner picker offers the member %v, the viewer %v", path, strings.Contains(sel, f.member.ID), strings.Contains(sel, f.viewer.ID))
		}
	}
	sel := between(t, mc.get(ws+"/contacts/"+f.contact).body, `id="task-assignee"`, "</select>")
	if !strings.Contains(sel, f.member.ID) || strings.Contains(sel, f.viewer.ID) {
		t.Errorf("task assignee picker: member %v, viewer %v", strings.Contains(sel, f.member.ID), strings.Contains(sel, f.viewer.ID))
	}
	list := between(t, mc.get(ws+"/contacts").body, `id="bulk-owner"`, "</select>")
	if !strings.Contains(list, f.member.ID) || strings.Contains(list, f.viewer.ID) {
		t.Errorf("bulk owner list: member %v, viewer %v", strings.Contains(list, f.member.ID), strings.Contains(list, f.viewer.ID))
	}

	token := mc.workspaceToken(f.a)
	r := mc.post(ws+"/contacts", token, url.Values{"first_name": {"Vic"}, "stage": {"lead"}, "owner_id": {f.viewer.ID}})
	wantStatus(t, "contact owned by a viewer", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "viewers cannot") {
		t.Error("no clear message for a viewer as owner")
	}
	wantStatus(t, "company owned by a viewer", mc.post(ws+"/companies", token, url.Values{"name": {"Viewer Co"}, "owner_id": {f.viewer.ID}}), http.StatusUnprocessableEntity)
	r = mc.post(ws+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {"Call"}, "assignee_id": {f.viewer.ID}})
	wantStatus(t, "task for a viewer", r, http.StatusSeeOther)
	if page := mc.get(r.header.Get("Location")); !strings.Contains(page.body, "viewers cannot") {
		t.Error("task for a viewer: no clear message")
	}
	r = mc.post(ws+"/contacts/bulk", token, url.Values{"id": {f.contact}, "action": {"owner"}, "value": {f.viewer.Email}})
	if page := mc.get(r.header.Get("Location")); !strings.Contains(page.body, "viewers cannot") {
		t.Error("bulk owner a viewer: no clear message")
	}
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.GetContact(t.Context(), l.DB, f.contact)
	l.Release()
	if err != nil || c.OwnerID == f.viewer.ID {
		t.Fatalf("the bulk action gave the contact to the viewer (%v)", err)
	}
	if r := mc.post(ws+"/contacts", token, url.Values{"first_name": {"Mia"}, "stage": {"lead"}, "owner_id": {f.member.ID}}); r.status != http.StatusSeeOther {
		t.Fatalf("contact owned by a member: %d %s", r.status, regexp.MustCompile(`class="error"[^<]*<`).FindAllString(r.body, -1))
	}

	key, _ := f.ts.mustAPIKey(t, f.a, "write")
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/contacts", `{"first_name": "Vic", "owner_id": "` + f.viewer.ID + `"}`},
		{"/api/v1/companies", `{"name": "Viewer Two", "owner_id": "` + f.viewer.ID + `"}`},
		{"/api/v1/tasks", `{"contact_id": "` + f.contact + `", "title": "Call", "assignee_id": "` + f.viewer.ID + `"}`},
	} {
		wantStatus(t, "API "+tc.path+" with a viewer", f.ts.api(t, key, http.MethodPost, tc.path, tc.body), http.StatusUnprocessableEntity)
	}

	// A member who owns a contact becomes a viewer: the contact can still
	// be edited with its owner as it is, not given to them again.
	id := f.ts.mustCreate(t, key, "/api/v1/contacts", `{"first_name": "Kept", "owner_id": "`+f.member.ID+`"}`)
	if err := store.SetMemberRole(t.Context(), f.ts.tenants.Catalog(), f.a, f.member.ID, "viewer"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "edit keeping a viewer owner", f.ts.api(t, key, http.MethodPatch, "/api/v1/contacts/"+id, `{"last_name": "Still", "owner_id": "`+f.member.ID+`"}`), http.StatusOK)
	wantStatus(t, "another record given to the new viewer", f.ts.api(t, key, http.MethodPatch, "/api/v1/contacts/"+f.contact, `{"owner_id": "`+f.member.ID+`"}`), http.StatusUnprocessableEntity)
}

var selectedExport = regexp.MustCompile(`<option value="(\w+)" selected>`)

// TestListExport_Setting: members and above export lists by default, a
// viewer gets 403; admins change who may, per workspace.
func TestListExport_Setting(t *testing.T) {
	f := newFixture(t)
	ws := "/w/" + f.a
	viewer, member := f.ts.loggedIn(t, f.viewer.Email), f.ts.loggedIn(t, f.member.Email)
	admin, owner := f.ts.loggedIn(t, f.admin.Email), f.ts.loggedIn(t, f.owner.Email)
	export := func(c *client, format string) int { return c.get(ws + "/contacts?format=" + format).status }
	for _, format := range []string{"csv", "json"} {
		if got := export(viewer, format); got != http.StatusForbidden {
			t.Errorf("viewer exports %s by default: %d, want 403", format, got)
		}
		if got := export(member, format); got != http.StatusOK {
			t.Errorf("member exports %s by default: %d, want 200", format, got)
		}
	}
	if r := viewer.get(ws + "/contacts?format=csv"); !strings.Contains(r.body, "members and above") {
		t.Error("the refusal does not say who may export")
	}
	// The list offers the export only to whom it lets export.
	if strings.Contains(viewer.get(ws+"/contacts").body, "Export CSV") || !strings.Contains(member.get(ws+"/contacts").body, "Export CSV") {
		t.Error("the export buttons are offered to the wrong people")
	}
	sel := between(t, admin.get(ws+"/settings").body, `id="f-list_export"`, "</select>")
	if m := selectedExport.FindStringSubmatch(sel); m == nil || m[1] != "member" {
		t.Fatalf("settings page: the default is not shown selected: %s", sel)
	}

	set := func(c *client, workspace, role string) response {
		return c.post("/w/"+workspace+"/settings/list-export", c.workspaceToken(workspace), url.Values{"list_export": {role}})
	}
	wantStatus(t, "a member changing it", set(member, f.a, "viewer"), http.StatusForbidden)
	wantStatus(t, "a bad value", set(admin, f.a, "owner"), http.StatusUnprocessableEntity)
	wantStatus(t, "an empty value", set(admin, f.a, ""), http.StatusUnprocessableEntity)
	wantStatus(t, "admins only", set(admin, f.a, "admin"), http.StatusSeeOther)
	if got := export(member, "csv"); got != http.StatusForbidden {
		t.Errorf("member under admins only: %d, want 403", got)
	}
	if got := export(admin, "csv"); got != http.StatusOK {
		t.Errorf("admin under admins only: %d, want 200", got)
	}
	sel = between(t, admin.get(ws+"/settings").body, `id="f-list_export"`, "</select>")
	if m := selectedExport.FindStringSubmatch(sel); m == nil || m[1] != "admin" {
		t.Fatalf("settings page after the change: %s", sel)
	}
	wantStatus(t, "everyone", set(owner, f.a, "viewer"), http.StatusSeeOther)
	if got := export(viewer, "csv"); got != http.StatusOK {
		t.Errorf("viewer under everyone: %d, want 200", got)
	}

	// Cross-workspace: B keeps its default; a form of A is refused by B;
	// a non-member of A gets 404.
	f.ts.mustMember(t, f.b, f.viewer, "viewer")
	if got := viewer.get("/w/" + f.b + "/contacts?format=csv").status; got != http.StatusForbidden {
		t.Errorf("viewer exports from B after A opened up: %d, want 403", got)
	}
	r := owner.post("/w/"+f.b+"/settings/list-export", owner.workspaceToken(f.a), url.Values{"list_export": {"viewer"}})
	wantStatus(t, "A's form posted to B", r, http.StatusForbidden)
	outsider := f.ts.loggedIn(t, f.outsider.Email)
	wantStatus(t, "an outsider", outsider.post(ws+"/settings/list-export", outsider.token("/"), url.Values{"list_export": {"viewer"}}), http.StatusNotFound)
	wantStatus(t, "an outsider exporting", outsider.get(ws+"/contacts?format=csv"), http.StatusNotFound)
}
