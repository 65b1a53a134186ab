package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"atrium/store"
)

func TestContactPage_TimelineInWords(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	owner, stage := f.member.ID, "customer"
	_, err = store.UpdateContact(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.admin.ID}, f.contact,
		store.ContactInput{OwnerID: &owner, Stage: &stage, Custom: map[string]any{"tier": "Gold"}})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := f.ts.mustAPIKey(t, f.a, "write")
	wantStatus(t, "note by API", f.ts.api(t, key, "POST", "/api/v1/notes", `{"contact_id":"`+f.contact+`","body":"Written by the website"}`), http.StatusCreated)

	c := f.ts.loggedIn(t, f.owner.Email)
	page := c.get("/w/" + f.a + "/contacts/" + f.contact)
	wantStatus(t, "contact page", page, http.StatusOK)
	timeline := between(t, page.body, "<h2>Timeline</h2>", "</section>")
	for _, want := range []string{
		"Owner changed from — to member@example.com", "Stage changed from Lead to Customer", "Tier changed from — to Gold",
		"admin@example.com", // who changed it
		"API key “test write”",
	} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	for _, raw := range []string{"owner_id", f.member.ID, "a former member", "custom"} {
		if strings.Contains(timeline, raw) {
			t.Errorf("the timeline shows %q", raw)
		}
	}
	// The audit log names the key too.
	audit := c.get("/w/" + f.a + "/audit?action=note.create").body
	if !strings.Contains(audit, "API key “test write”") {
		t.Error("the audit log does not name the key")
	}
}

func TestContactPage_DealsAndOverdueTasks(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	wantStatus(t, "late task", c.post("/w/"+f.a+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {"Chase the invoice"}, "due_date": {day(-3)}}), http.StatusSeeOther)
	wantStatus(t, "future task", c.post("/w/"+f.a+"/tasks", token, url.Values{"contact_id": {f.contact}, "title": {"Plan the visit"}, "due_date": {"2099-01-15"}}), http.StatusSeeOther)
	body := c.get("/w/" + f.a + "/contacts/" + f.contact).body
	deals := between(t, body, `<h2 id="deals-heading">Deals</h2>`, "</section>")
	if !strings.Contains(deals, "Big sale") || !strings.Contains(deals, "1,200.10 EUR") || !strings.Contains(deals, "/deals/"+f.deal) {
		t.Errorf("the deals panel lacks the deal:\n%s", deals)
	}
	if timeline := between(t, body, "<h2>Timeline</h2>", "</section>"); !strings.Contains(timeline, "Big sale</a> · Lead in") {
		t.Error("the deal on the timeline does not name its stage")
	}
	late := regexp.MustCompile(`<li class="overdue">[^<]*(?:<form(?s:.*?)</form>)?\s*<span class="task-title">([^<]*)</span>`).FindAllStringSubmatch(body, -1)
	if len(late) != 1 || late[0][1] != "Chase the invoice" {
		t.Errorf("overdue tasks marked: %q", late)
	}
	if !strings.Contains(body, "due 2099-01-15") {
		t.Error("due dates are not written as days")
	}
	// Another contact without deals says so.
	b := f.ts.loggedIn(t, f.owner.Email)
	r := b.post("/w/"+f.a+"/contacts", b.workspaceToken(f.a), url.Values{"first_name": {"Lone"}, "stage": {"lead"}})
	if !strings.Contains(b.get(r.header.Get("Location")).body, "No deals.") {
		t.Error("an empty deals panel says nothing")
	}
}

func TestNotes_Edit(t *testing.T) {
	f := newFixture(t)
	contactPage := "/w/" + f.a + "/contacts/" + f.contact
	noteURL := "/w/" + f.a + "/notes/" + f.note // the owner's note

	member := f.ts.loggedIn(t, f.member.Email)
	token := member.workspaceToken(f.a)
	if strings.Contains(member.get(contactPage).body, `action="`+noteURL+`"`) {
		t.Error("a member is offered to edit someone else's note")
	}
	wantStatus(t, "member edits the owner's note", member.post(noteURL, token, url.Values{"body": {"Hijacked"}}), http.StatusForbidden)

	// Their own note they may edit.
	wantStatus(t, "member's note", member.post("/w/"+f.a+"/notes", token, url.Values{"contact_id": {f.contact}, "body": {"Mine"}}), http.StatusSeeOther)
	own := regexp.MustCompile(`action="/w/`+f.a+`/notes/([0-9a-f-]{36})"`).FindAllStringSubmatch(member.get(contactPage).body, -1)
	if len(own) != 1 {
		t.Fatalf("the member is offered %d notes to edit, want 1", len(own))
	}
	mine := "/w/" + f.a + "/notes/" + own[0][1]
	wantStatus(t, "edit own", member.post(mine, token, url.Values{"body": {"Mine, corrected"}, "version": {"1"}}), http.StatusSeeOther)
	page := member.get(contactPage).body
	if !strings.Contains(page, "Mine, corrected") || !strings.Contains(page, "Note saved.") || !strings.Contains(page, "edited") {
		t.Error("the edit is not shown")
	}
	// A stale form: the note is at version 2 now.
	wantStatus(t, "stale", member.post(mine, token, url.Values{"body": {"Lost words"}, "version": {"1"}}), http.StatusSeeOther)
	if page := member.get(contactPage).body; strings.Contains(page, `>Lost words</div>`) || !strings.Contains(page, "What you wrote: Lost words") {
		t.Error("a stale edit was saved, or not reported")
	}
	wantStatus(t, "empty", member.post(mine, token, url.Values{"body": {"  "}}), http.StatusSeeOther)
	if page := member.get(contactPage).body; !strings.Contains(page, "The note is empty.") || !strings.Contains(page, "Mine, corrected") {
		t.Error("an empty edit was not refused")
	}
	wantStatus(t, "bad version", member.post(mine, token, url.Values{"body": {"x"}, "version": {"two"}}), http.StatusBadRequest)

	// An admin may edit anyone's; the audit log keeps before and after.
	admin := f.ts.loggedIn(t, f.admin.Email)
	wantStatus(t, "admin edits", admin.post(noteURL, admin.workspaceToken(f.a), url.Values{"body": {"First call went very well"}}), http.StatusSeeOther)
	audit := admin.get("/w/" + f.a + "/audit?action=note.update").body
	if !strings.Contains(audit, "First call went well") || !strings.Contains(audit, "First call went very well") || strings.Count(audit, "<code>note.update</code>") != 2 {
		t.Error("the audit log lacks the edits")
	}

	// Wrong ids: none, and one of another workspace.
	wantStatus(t, "no such note", admin.post("/w/"+f.a+"/notes/nope", admin.workspaceToken(f.a), url.Values{"body": {"x"}}), http.StatusNotFound)
	owner := f.ts.loggedIn(t, f.owner.Email)
	l, err := f.ts.tenants.Acquire(t.Context(), f.b)
	if err != nil {
		t.Fatal(err)
	}
	name := "Bea"
	bc, err := store.CreateContact(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.ContactInput{FirstName: &name})
	var bn *store.Note
	if err == nil {
		bn, err = store.CreateNote(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.NoteInput{ContactID: bc.ID, Body: "B's"})
	}
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "note of B through A", owner.post("/w/"+f.a+"/notes/"+bn.ID, owner.workspaceToken(f.a), url.Values{"body": {"x"}}), http.StatusNotFound)
}

func TestImport_TimelineNamesTheFile(t *testing.T) {
	f := newFixture(t)
	owner := f.ts.loggedIn(t, f.owner.Email)
	job := f.uploadCSV(t, owner, f.a, "first_name,email\nIvo,ivo@example.com\n")
	owner.post("/w/"+f.a+"/contacts/import/"+job, owner.workspaceToken(f.a), url.Values{"map_0": {"first_name"}, "map_1": {"email"}})
	if j, err := f.ts.tenants.WaitJob(t.Context(), f.a, job); err != nil || j.State != store.JobDone {
		t.Fatalf("import: %+v, %v", j, err)
	}
	r := owner.get("/w/" + f.a + "/contacts?q=ivo")
	id := regexp.MustCompile(`/contacts/([0-9a-f-]{36})"`).FindStringSubmatch(r.body)
	if id == nil {
		t.Fatal("the imported contact is not listed")
	}
	if body := owner.get("/w/" + f.a + "/contacts/" + id[1]).body; !strings.Contains(between(t, body, "<h2>Timeline</h2>", "</section>"), "Imported from people.csv") {
		t.Error("the timeline does not name the file")
	}
	// Ana was there before the fixture's import: it did not create her.
	if strings.Contains(owner.get("/w/"+f.a+"/contacts/"+f.contact).body, "Imported from") {
		t.Error("a contact the import did not create says it was imported")
	}
}
