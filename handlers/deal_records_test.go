package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"atrium/store"
)

// TestDealPage_NotesTasksTimeline adds a note and a task on a deal page,
// sees them and the deal's changes on its timeline, and is refused a deal
// of another workspace, an empty note and, as a viewer, any write.
func TestDealPage_NotesTasksTimeline(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a
	page := w + "/deals/" + f.deal

	r := c.post(w+"/notes", token, url.Values{"deal_id": {f.deal}, "body": {"Budget approved by the CFO"}})
	wantStatus(t, "note on the deal", r, http.StatusSeeOther)
	if r.header.Get("Location") != page {
		t.Fatalf("after the note: Location %q, want %q", r.header.Get("Location"), page)
	}
	r = c.post(w+"/tasks", token, url.Values{"deal_id": {f.deal}, "title": {"Send the contract"}, "due_date": {"2027-01-15"}})
	wantStatus(t, "task on the deal", r, http.StatusSeeOther)
	if r.header.Get("Location") != page {
		t.Fatalf("after the task: Location %q", r.header.Get("Location"))
	}
	p, _ := pipelineOf(t, f, f.a)
	wantStatus(t, "move", c.post(page+"/move", token, url.Values{"stage_id": {p.Stages[2].ID}}), http.StatusSeeOther)

	body := c.get(page).body
	for _, want := range []string{"Budget approved by the CFO", "Send the contract", "due 2027-01-15",
		`name="deal_id" value="` + f.deal + `"`, "Stage changed from " + p.Stages[0].Name + " to " + p.Stages[2].Name} {
		if !strings.Contains(body, want) {
			t.Errorf("the deal page lacks %q", want)
		}
	}
	if strings.Contains(body, "Budget approved") && strings.Contains(c.get(w+"/contacts/"+f.contact).body, "Budget approved") {
		t.Error("the deal's note shows on the contact's timeline too")
	}

	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _, err := store.ListTasks(t.Context(), l.DB, store.TaskFilter{DealID: f.deal})
	notes, _, err2 := store.ListNotes(t.Context(), l.DB, "", "", f.deal, "", 10)
	l.Release()
	if err != nil || err2 != nil || len(tasks) != 1 || len(notes) != 1 {
		t.Fatalf("deal's tasks %v %v, notes %v %v", tasks, err, notes, err2)
	}
	// Ticking, editing and deleting go back to the deal page.
	for what, path := range map[string]string{
		"toggle": w + "/tasks/" + tasks[0].ID + "/toggle",
		"edit":   w + "/notes/" + notes[0].ID,
	} {
		r := c.post(path, token, url.Values{"body": {"Budget approved, edited"}})
		wantStatus(t, what, r, http.StatusSeeOther)
		if r.header.Get("Location") != page {
			t.Errorf("after %s: Location %q", what, r.header.Get("Location"))
		}
	}
	if body := c.get(page).body; !strings.Contains(body, "Budget approved, edited") || !strings.Contains(body, "☑") {
		t.Error("the edit or the tick does not show on the deal page")
	}

	// Bad input: an empty note and a task without a title come back with a
	// message; a deal that does not exist, or is another workspace's, is not
	// found.
	r = c.post(w+"/notes", token, url.Values{"deal_id": {f.deal}, "body": {"  "}})
	wantStatus(t, "empty note", r, http.StatusSeeOther)
	if !strings.Contains(c.get(page).body, "The note is empty.") {
		t.Error("no message for the empty note")
	}
	wantStatus(t, "task without title", c.post(w+"/tasks", token, url.Values{"deal_id": {f.deal}, "title": {""}}), http.StatusSeeOther)
	if !strings.Contains(c.get(page).body, "A task needs a title.") {
		t.Error("no message for the task without a title")
	}
	l, _ = f.ts.tenants.Acquire(t.Context(), f.b)
	title := "B's deal"
	theirs, err := store.CreateDeal(t.Context(), l.DB, store.Actor{Kind: "user", ID: f.owner.ID}, store.DealInput{Title: &title})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{theirs.ID, "01900000-0000-7000-8000-000000000000", "not-an-id"} {
		wantStatus(t, "note on deal "+id, c.post(w+"/notes", token, url.Values{"deal_id": {id}, "body": {"x"}}), http.StatusNotFound)
		wantStatus(t, "task on deal "+id, c.post(w+"/tasks", token, url.Values{"deal_id": {id}, "title": {"x"}}), http.StatusNotFound)
	}
	wantStatus(t, "note on a deal and a contact", c.post(w+"/notes", token, url.Values{"deal_id": {f.deal}, "contact_id": {f.contact}, "body": {"x"}}), http.StatusNotFound)
	l, _ = f.ts.tenants.Acquire(t.Context(), f.b)
	if n, _, _ := store.ListNotes(t.Context(), l.DB, "", "", theirs.ID, "", 10); len(n) != 0 {
		t.Errorf("B's deal got notes: %v", n)
	}
	l.Release()

	// A viewer sees the notes and tasks and may write none.
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	vtoken := viewer.workspaceToken(f.a)
	vbody := viewer.get(page).body
	if !strings.Contains(vbody, "Send the contract") || strings.Contains(vbody, `action="`+w+`/notes"`) || strings.Contains(vbody, `action="`+w+`/tasks"`) {
		t.Error("the viewer's deal page: tasks missing or write forms shown")
	}
	wantStatus(t, "viewer note", viewer.post(w+"/notes", vtoken, url.Values{"deal_id": {f.deal}, "body": {"x"}}), http.StatusForbidden)
	wantStatus(t, "viewer task", viewer.post(w+"/tasks", vtoken, url.Values{"deal_id": {f.deal}, "title": {"x"}}), http.StatusForbidden)
	wantStatus(t, "viewer toggle", viewer.post(w+"/tasks/"+tasks[0].ID+"/toggle", vtoken, nil), http.StatusForbidden)

	// Deleting the note goes back to the deal.
	r = c.post(w+"/notes/"+notes[0].ID+"/delete", token, nil)
	wantStatus(t, "delete note", r, http.StatusSeeOther)
	if r.header.Get("Location") != page {
		t.Errorf("after deleting: Location %q", r.header.Get("Location"))
	}
}

// TestAPI_DealNotesAndTasks: the API takes deal_id on notes and tasks,
// lists by it, and refuses another workspace's deal with the field named.
func TestAPI_DealNotesAndTasks(t *testing.T) {
	f := newAPIFixture(t)
	r := f.ts.api(t, f.a.key, "POST", "/api/v1/notes", `{"deal_id":"`+f.a.deal+`","body":"Deal note"}`)
	wantStatus(t, "note on a deal", r, http.StatusCreated)
	var n store.Note
	if err := json.Unmarshal([]byte(r.body), &n); err != nil || n.DealID != f.a.deal {
		t.Fatalf("note: %s", r.body)
	}
	r = f.ts.api(t, f.a.key, "POST", "/api/v1/tasks", `{"deal_id":"`+f.a.deal+`","title":"Deal task"}`)
	wantStatus(t, "task on a deal", r, http.StatusCreated)
	for _, path := range []string{"/api/v1/notes?deal_id=" + f.a.deal, "/api/v1/tasks?deal_id=" + f.a.deal} {
		r := f.ts.api(t, f.a.key, "GET", path, "")
		wantStatus(t, path, r, http.StatusOK)
		if !strings.Contains(r.body, `"deal_id":"`+f.a.deal+`"`) || strings.Contains(r.body, f.a.contact) {
			t.Errorf("%s: %s", path, r.body)
		}
	}
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/notes", `{"deal_id":"` + f.b.deal + `","body":"x"}`},
		{"/api/v1/tasks", `{"deal_id":"` + f.b.deal + `","title":"x"}`},
		{"/api/v1/tasks/" + f.a.task, `{"deal_id":"` + f.b.deal + `"}`},
	} {
		r := f.ts.api(t, f.a.key, map[bool]string{true: "PATCH", false: "POST"}[strings.Contains(tc.path, f.a.task)], tc.path, tc.body)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `"field":"deal_id"`) || !strings.Contains(r.body, "No such record exists in this workspace.") {
			t.Errorf("%s with B's deal: %d %s", tc.path, r.status, r.body)
		}
	}
	r = f.ts.api(t, f.a.key, "PATCH", "/api/v1/notes/"+n.ID, `{"deal_id":"`+f.a.deal+`"}`)
	if r.status != http.StatusUnprocessableEntity {
		t.Errorf("moving a note: %d %s", r.status, r.body)
	}
	if r := f.ts.api(t, f.a.key, "GET", "/api/v1/notes?deal_id="+f.b.deal, ""); strings.Contains(r.body, f.b.deal) && strings.Contains(r.body, `"body"`) {
		t.Errorf("B's deal's notes listed with A's key: %s", r.body)
	}
}
