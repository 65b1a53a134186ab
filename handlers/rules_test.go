package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// memberWrite is one write that names a member (an owner or an assignee),
// as the web form and as the API call that do it. ui returns "" when the
// web UI has no such form.
type memberWrite struct {
	name, field string
	ui          func(id string) (path string, form url.Values)
	api         func(id string) (method, path, body string)
}

func (f *fixture) memberWrites() []memberWrite {
	w := "/w/" + f.a
	js := func(format, id string) string { return fmt.Sprintf(format, id) }
	return []memberWrite{
		{"create contact", "owner_id",
			func(id string) (string, url.Values) {
				return w + "/contacts", url.Values{"first_name": {"Bo"}, "stage": {"lead"}, "owner_id": {id}}
			},
			func(id string) (string, string, string) {
				return "POST", "/api/v1/contacts", js(`{"first_name":"Bo","owner_id":%q}`, id)
			}},
		{"update contact", "owner_id",
			func(id string) (string, url.Values) {
				return w + "/contacts/" + f.contact, url.Values{"first_name": {"Ana"}, "stage": {"lead"}, "owner_id": {id}}
			},
			func(id string) (string, string, string) {
				return "PATCH", "/api/v1/contacts/" + f.contact, js(`{"owner_id":%q}`, id)
			}},
		{"create company", "owner_id",
			func(id string) (string, url.Values) {
				return w + "/companies", url.Values{"name": {"Vandelay " + id}, "owner_id": {id}} // a new name each time: the form refuses a duplicate
			},
			func(id string) (string, string, string) {
				return "POST", "/api/v1/companies", js(`{"name":"Initech","owner_id":%q}`, id)
			}},
		{"update company", "owner_id",
			func(id string) (string, url.Values) {
				return w + "/companies/" + f.company, url.Values{"name": {"Acme Labs"}, "owner_id": {id}}
			},
			func(id string) (string, string, string) {
				return "PATCH", "/api/v1/companies/" + f.company, js(`{"owner_id":%q}`, id)
			}},
		{"create deal", "owner_id",
			func(id string) (string, url.Values) {
				return w + "/deals", url.Values{"title": {"Renewal"}, "value": {"10.00"}, "currency": {"EUR"}, "owner_id": {id}}
			},
			func(id string) (string, string, string) {
				return "POST", "/api/v1/deals", js(`{"title":"Renewal","value":"10.00","owner_id":%q}`, id)
			}},
		{"update deal", "owner_id",
			func(id string) (string, url.Values) {
				return w + "/deals/" + f.deal, url.Values{"title": {"Big sale"}, "value": {"1200.10"}, "currency": {"EUR"},
					"stage_id": {f.stage}, "owner_id": {id}}
			},
			func(id string) (string, string, string) {
				return "PATCH", "/api/v1/deals/" + f.deal, js(`{"owner_id":%q}`, id)
			}},
		{"create task", "assignee_id",
			func(id string) (string, url.Values) {
				return w + "/tasks", url.Values{"contact_id": {f.contact}, "title": {"Call"}, "assignee_id": {id}}
			},
			func(id string) (string, string, string) {
				return "POST", "/api/v1/tasks", js(`{"contact_id":"`+f.contact+`","title":"Call","assignee_id":%q}`, id)
			}},
		{"update task", "assignee_id", nil,
			func(id string) (string, string, string) {
				return "PATCH", "/api/v1/tasks/" + f.task, js(`{"assignee_id":%q}`, id)
			}},
	}
}

// TestMemberRule_UIAndAPI runs one table of owners and assignees through
// every web form and API call that sets one: both must give the same
// answer (the rule lives in the workspace service, not in a handler).
func TestMemberRule_UIAndAPI(t *testing.T) {
	f := newFixture(t)
	stranger := f.ts.mustUser(t, "stranger@example.com", false) // in no workspace at all
	key, _ := f.ts.mustAPIKey(t, f.a, "write")
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	people := []struct {
		name, id string
		ok       bool
	}{
		{"a user of the instance, member of nothing", stranger.ID, false},
		{"the owner of another workspace", f.outsider.ID, false},
		{"nobody at all", "nobody-at-all", false},
		{"empty", "", true},
		{"a member", f.member.ID, true},
		{"a viewer, who cannot act on records", f.viewer.ID, false},
	}
	for _, wr := range f.memberWrites() {
		for _, p := range people {
			what := wr.name + ", " + wr.field + " " + p.name
			method, path, body := wr.api(p.id)
			r := f.ts.api(t, key, method, path, body)
			switch {
			case p.ok && r.status != http.StatusOK && r.status != http.StatusCreated:
				t.Errorf("API %s: status %d, want success: %s", what, r.status, r.body)
			case !p.ok:
				wantAPIError(t, "API "+what, r, http.StatusUnprocessableEntity, "validation", wr.field)
			}
			if wr.ui == nil {
				continue
			}
			path, form := wr.ui(p.id)
			accepted, page := c.formAnswer(path, token, form)
			if accepted != p.ok {
				t.Errorf("UI %s: accepted %v, want %v", what, accepted, p.ok)
			}
			if !p.ok && !strings.Contains(page, "must be a member") {
				t.Errorf("UI %s: the page does not say why", what)
			}
		}
	}
}

// TestMemberRule_BulkOwner: setting the owner of many contacts at once
// follows the same rule, and says so on the list like the bulk action's
// other refusals.
func TestMemberRule_BulkOwner(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	bulk := "/w/" + f.a + "/contacts/bulk"
	form := func(owner string) url.Values {
		return url.Values{"id": {f.contact}, "action": {"owner"}, "value": {owner}}
	}
	accepted, page := c.formAnswer(bulk, token, form(f.outsider.ID))
	if accepted || !strings.Contains(page, "is not a member of this workspace") {
		t.Errorf("bulk owner not a member: accepted %v, or the list does not say why", accepted)
	}
	if accepted, _ := c.formAnswer(bulk, token, form(f.member.ID)); !accepted {
		t.Error("bulk owner a member: refused")
	}
}

// formAnswer posts a form and tells whether the write was accepted, with
// the page that says why not: a form re-rendered with 422, or a redirect
// to a page that shows an error flash (tasks are added from the page of
// their contact).
func (c *client) formAnswer(path, token string, form url.Values) (accepted bool, page string) {
	c.tb.Helper()
	r := c.post(path, token, form)
	switch r.status {
	case http.StatusUnprocessableEntity:
		return false, r.body
	case http.StatusSeeOther:
		next := c.get(r.header.Get("Location"))
		return !strings.Contains(next.body, "flash-error"), next.body
	}
	c.tb.Fatalf("POST %s: status %d", path, r.status)
	return false, ""
}

// TestFormErrors_OnTheFieldTheErrorNames: a form shows an error on the
// field the store or tenant names in it, never on one guessed from its
// text; an error no field is at fault for is the whole form's.
func TestFormErrors_OnTheFieldTheErrorNames(t *testing.T) {
	f := newFixture(t)
	admin := f.ts.loggedIn(t, f.admin.Email)
	token := admin.workspaceToken(f.a)
	global := admin.token("/")
	for _, tc := range []struct {
		name, path, token string
		form              url.Values
		status            int
		field             string
	}{
		{"workspace without a name", "/workspaces", global, url.Values{"name": {" "}}, 422, "name"},
		{"workspace in no region", "/workspaces", global, url.Values{"name": {"Mars"}, "region": {"mars"}}, 422, "region"},
		{"invitation as root", "/w/" + f.a + "/members/invite", token, url.Values{"role": {"root"}}, 422, "role"},
		{"invitation to no address", "/w/" + f.a + "/members/invite", token, url.Values{"role": {"member"}, "email": {"not an address"}}, 422, "email"},
		{"the last pipeline", "/w/" + f.a + "/settings/pipelines/" + f.pipeline + "/delete", token, nil, 409, ""},
	} {
		r := admin.post(tc.path, tc.token, tc.form)
		wantStatus(t, tc.name, r, tc.status)
		wantFormError(t, tc.name, r.body, tc.field)
	}

	setup := newTestServer(t).newClient(t)
	for _, tc := range []struct{ name, email, password, field string }{
		{"setup with a bad email", "not an address", testPassword, "email"},
		{"setup with a short password", "first@example.com", "short", "password"},
	} {
		r := setup.post("/setup", setup.token("/setup"), url.Values{"email": {tc.email}, "password": {tc.password}})
		wantStatus(t, tc.name, r, http.StatusUnprocessableEntity)
		wantFormError(t, tc.name, r.body, tc.field)
	}
}

// wantFormError checks a page shows one error, on field ("" for the whole
// form: an alert above the page).
func wantFormError(t *testing.T, what, body, field string) {
	t.Helper()
	onField := strings.Count(body, `<p class="error" id="e-`)
	formLevel := strings.Count(body, `class="flash flash-error" role="alert"`)
	switch {
	case field == "" && (formLevel != 1 || onField != 0):
		t.Errorf("%s: %d form errors and %d field errors, want the form's own", what, formLevel, onField)
	case field != "" && (onField != 1 || !strings.Contains(body, `id="e-`+field+`"`)):
		t.Errorf("%s: %d field errors, want one on %s", what, onField, field)
	}
}
