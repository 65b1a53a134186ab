package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atrium/store"
)

func TestTemplatesUI_CreateEditPreviewDelete(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/templates"

	if r := c.get(base + "/new"); !strings.Contains(r.body, "{{custom.tier}}") {
		t.Error("the form does not list the workspace's custom field")
	}
	body := "<p>Hi {{first_name}},</p>\n<p>At {{compnay}} we</p>"
	r := c.post(base, token, url.Values{"name": {"Follow-up"}, "subject": {"Hello"}, "body": {body}})
	wantStatus(t, "unknown field", r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, `id="e-body"`) || !strings.Contains(html.UnescapeString(r.body), `Line 2, column 9: "compnay" is not a field`) {
		t.Errorf("the error is not shown on the body with its position:\n%s", r.body)
	}
	if !strings.Contains(r.body, html.EscapeString(body)) || !strings.Contains(r.body, `value="Follow-up"`) {
		t.Error("the form lost what was typed")
	}
	r = c.post(base, token, url.Values{"name": {"Follow-up"}, "subject": {"Hi {{first_name"}, "body": {"x"}})
	if wantStatus(t, "bad subject", r, http.StatusUnprocessableEntity); !strings.Contains(r.body, `id="e-subject"`) || !strings.Contains(r.body, "Column 4") {
		t.Error("the subject's error is not shown on it")
	}
	wantStatus(t, "same name", c.post(base, token, url.Values{"name": {"intro"}, "subject": {"Hi"}, "body": {"x"}}), http.StatusConflict)

	r = c.post(base, token, url.Values{"name": {"Follow-up"}, "subject": {`Hi {{first_name | "there"}}`},
		"body": {`<p>Dear {{first_name}} of {{company | "your team"}},</p><p>See <a href="https://acme.example/{{custom.tier}}">the plan</a>.</p><script>x()</script>`}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	id := strings.TrimPrefix(r.header.Get("Location"), base+"/")
	if !store.ValidID(id) {
		t.Fatalf("redirected to %q", r.header.Get("Location"))
	}
	// The preview is for the newest contact unless one is picked.
	bo := f.contactIn(t, f.a, store.ContactInput{FirstName: s("<b>Bo</b>"), Email: s("bo@example.com"), Custom: map[string]any{"tier": "Gold"}})
	page := c.get(base + "/" + id)
	for _, want := range []string{"Hi &lt;b&gt;Bo&lt;/b&gt;", "Dear &lt;b&gt;Bo&lt;/b&gt; of your team", `href="https://acme.example/Gold"`,
		"Dear &lt;b&gt;Bo&lt;/b&gt; of your team,\n\nSee the plan (https://acme.example/Gold)."} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the preview lacks %q", want)
		}
	}
	if strings.Contains(page.body, "x()</script>") {
		t.Error("the preview runs the body's script")
	}
	page = c.get(base + "/" + id + "?contact=" + f.contact)
	if !strings.Contains(page.body, "Hi Ana") {
		t.Error("the preview is not for the contact picked")
	}
	if page = c.get(base + "/" + id + "?q=bo%40example"); !strings.Contains(page.body, "?contact="+bo.ID) {
		t.Error("the contact search does not offer Bo")
	}
	other := f.contactIn(t, f.b, store.ContactInput{FirstName: s("Globex person")})
	wantStatus(t, "a contact of B", c.get(base+"/"+id+"?contact="+other.ID), http.StatusNotFound)

	// Two people editing: the second save, of the older version, is refused.
	wantStatus(t, "edit form", c.get(base+"/"+id+"/edit"), http.StatusOK)
	edit := url.Values{"name": {"Follow-up"}, "subject": {"Second try"}, "body": {"Plain text now"}, "version": {"1"}}
	wantStatus(t, "update", c.post(base+"/"+id, token, edit), http.StatusSeeOther)
	edit.Set("subject", "Lost edit")
	r = c.post(base+"/"+id, token, edit)
	if wantStatus(t, "stale update", r, http.StatusConflict); !strings.Contains(r.body, "Someone saved this template") {
		t.Error("the conflict is not explained")
	}
	if page = c.get(base + "/" + id); !strings.Contains(page.body, "Second try") || !strings.Contains(page.body, "Version 2") {
		t.Error("the update is not shown")
	}
	if list := c.get(base); !strings.Contains(list.body, "Follow-up") || !strings.Contains(list.body, "Intro") {
		t.Error("the list lacks a template")
	}
	if confirm := c.get(base + "/" + id + "/delete"); !strings.Contains(confirm.body, "Delete the template Follow-up?") {
		t.Error("no confirmation before deleting")
	}
	wantStatus(t, "delete", c.post(base+"/"+id+"/delete", token, nil), http.StatusSeeOther)
	wantStatus(t, "deleted", c.get(base+"/"+id), http.StatusNotFound)
}

func TestTemplatesUI_EmptyList(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	r := c.get("/w/" + f.b + "/templates")
	if wantStatus(t, "list", r, http.StatusOK); !strings.Contains(r.body, "No templates yet") || !strings.Contains(r.body, "Write the first template") {
		t.Error("no empty state")
	}
	if v := f.ts.loggedIn(t, f.viewer.Email).get("/w/" + f.a + "/templates"); strings.Contains(v.body, "+ New template") {
		t.Error("a viewer is offered to write a template")
	}
}

// A template of workspace A is not found in B, on every route, even for
// someone who is a member of both.
func TestTemplatesUI_OtherWorkspacesTemplate(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.owner.Email)
	token := c.workspaceToken(f.b)
	base := "/w/" + f.b + "/templates/" + f.template
	for _, path := range []string{base, base + "/edit", base + "/delete"} {
		wantStatus(t, "GET "+path, c.get(path), http.StatusNotFound)
	}
	for _, path := range []string{base, base + "/delete"} {
		wantStatus(t, "POST "+path, c.post(path, token, url.Values{"name": {"X"}, "subject": {"Y"}, "body": {"Z"}}), http.StatusNotFound)
	}
	if r := c.get("/w/" + f.a + "/templates/" + f.template); !strings.Contains(r.body, "Intro") {
		t.Fatal("A's template is gone")
	}
}

// A refused save puts the cursor in the field at fault.
func TestTemplatesUI_FocusOnTheMistake(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	for field, values := range map[string]url.Values{
		"f-name":    {"name": {""}, "subject": {"Hi"}, "body": {"x"}},
		"f-subject": {"name": {"N"}, "subject": {"{{nope}}"}, "body": {"x"}},
		"f-body":    {"name": {"N"}, "subject": {"Hi"}, "body": {"{{nope}}"}},
	} {
		r := c.post("/w/"+f.a+"/templates", token, values)
		if n := strings.Count(r.body, " autofocus"); n != 1 || !strings.Contains(r.body, `id="`+field+`"`) {
			t.Errorf("%s: %d autofocus", field, n)
		}
		i := strings.Index(r.body, `id="`+field+`"`)
		if j := strings.Index(r.body, " autofocus"); i < 0 || j < i || strings.Contains(r.body[i:j], "<") {
			t.Errorf("the focus is not on %s", field)
		}
	}
}

// "Preview" in the form renders the text as typed, not saved, for the
// newest contact or the one the form names.
func TestTemplatesUI_PreviewDraft(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	path := "/w/" + f.a + "/templates/preview"
	draft := url.Values{"name": {"Draft"}, "subject": {"Hi {{first_name}}"}, "body": {"Dear {{first_name}},\n\n{{custom.tier | \"no tier\"}}"}}
	r := c.post(path, token, draft)
	if wantStatus(t, "preview", r, http.StatusOK); !strings.Contains(r.body, "Preview for Ana") || !strings.Contains(r.body, "<p>Dear Ana,</p>") ||
		!strings.Contains(r.body, "Dear Ana,\n\nno tier") || !strings.Contains(r.body, `action="/w/`+f.a+`/templates"`) {
		t.Errorf("the preview is not shown under the new-template form:\n%s", r.body)
	}
	if n, _ := countTemplates(t, f, f.a); n != 1 {
		t.Fatalf("the preview saved: %d templates", n)
	}
	draft.Set("body", "Dear {{frist_name}}")
	r = c.post(path, token, draft)
	if wantStatus(t, "preview of a mistake", r, http.StatusOK); strings.Count(html.UnescapeString(r.body), `Line 1, column 8: "frist_name" is not a field`) != 2 {
		t.Error("the mistake is not shown on the body and in the preview")
	}
	draft.Set("body", "x")
	draft.Set("template_id", f.template)
	draft.Set("contact", f.contact)
	if r = c.post(path, token, draft); !strings.Contains(r.body, `action="/w/`+f.a+`/templates/`+f.template+`"`) {
		t.Error("the edit form no longer posts to its template")
	}
	other := f.contactIn(t, f.b, store.ContactInput{FirstName: s("Globex person")})
	draft.Set("contact", other.ID)
	wantStatus(t, "a contact of B", c.post(path, token, draft), http.StatusNotFound)
	draft.Set("contact", f.contact)
	draft.Set("template_id", "0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e")
	wantStatus(t, "an unknown template", c.post(path, token, draft), http.StatusNotFound)
}

func countTemplates(t *testing.T, f *fixture, ws string) (int, error) {
	l, err := f.ts.tenants.Acquire(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	return store.CountTemplates(t.Context(), l.DB)
}
