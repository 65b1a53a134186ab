package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

// tasksFixture: Maya owns Acme and is a member of Globex (Olga's); Olga
// also owns Initech, where Maya is not a member.
type tasksFixture struct {
	ts                    *testServer
	maya, olga            *store.User
	acme, globex, initech string
	acmeContact           string
}

func newTasksFixture(t *testing.T) *tasksFixture {
	t.Helper()
	ts := newTestServer(t)
	f := &tasksFixture{ts: ts}
	f.maya = ts.mustUser(t, "maya@example.com", false)
	f.olga = ts.mustUser(t, "olga@example.com", false)
	f.acme = ts.mustWorkspace(t, "Acme", f.maya.Email)
	f.globex = ts.mustWorkspace(t, "Globex", f.olga.Email)
	f.initech = ts.mustWorkspace(t, "Initech", f.olga.Email)
	ts.mustMember(t, f.globex, f.maya, "member")
	ts.mustMember(t, f.acme, f.olga, "member")
	return f
}

// day is today moved by n days, as due dates are written.
func day(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }

// addTask puts a task on a new contact of a workspace, as user by, and
// returns the task's and the contact's ids.
func (f *tasksFixture) addTask(t *testing.T, ws string, by *store.User, title, due, assignee string) (string, string) {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	a := store.Actor{Kind: "user", ID: by.ID}
	name := "Contact for " + title
	c, err := store.CreateContact(t.Context(), l.DB, a, store.ContactInput{FirstName: &name})
	if err != nil {
		t.Fatal(err)
	}
	task, err := store.CreateTask(t.Context(), l.DB, a, store.TaskInput{ContactID: &c.ID, Title: &title, DueDate: &due, AssigneeID: &assignee})
	if err != nil {
		t.Fatal(err)
	}
	return task.ID, c.ID
}

// section returns the part of a My tasks page under the heading h2.
func section(body, heading string) string {
	i := strings.Index(body, ">"+heading+" <span")
	if i < 0 {
		return ""
	}
	rest := body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		return rest[:j]
	}
	return rest
}

func TestMyTasks_AcrossWorkspaces(t *testing.T) {
	f := newTasksFixture(t)
	overdue, contact := f.addTask(t, f.acme, f.maya, "Call Ana back", day(-2), f.maya.ID)
	f.addTask(t, f.acme, f.maya, "Send the quote", day(0), "") // Maya's own, for nobody in particular
	f.addTask(t, f.acme, f.maya, "Olga's task", day(0), f.olga.ID)
	f.addTask(t, f.acme, f.olga, "Olga's unassigned", day(0), "")
	f.addTask(t, f.globex, f.olga, "Renew the contract", day(5), f.maya.ID)
	f.addTask(t, f.globex, f.olga, "Whenever", "", f.maya.ID)
	f.addTask(t, f.initech, f.olga, "Initech secret", day(0), f.maya.ID) // not her workspace

	c := f.ts.loggedIn(t, f.maya.Email)
	r := c.get("/my-tasks")
	wantStatus(t, "my tasks", r, http.StatusOK)
	for heading, want := range map[string]string{"Overdue": "Call Ana back", "Due today": "Send the quote", "Upcoming": "Renew the contract", "No due date": "Whenever"} {
		if !strings.Contains(section(r.body, heading), want) {
			t.Errorf("%q is not under %q", want, heading)
		}
	}
	for _, unwanted := range []string{"Olga&#39;s task", "Olga's task", "Olga&#39;s unassigned", "Initech secret", "Initech"} {
		if strings.Contains(r.body, unwanted) {
			t.Errorf("the page shows %q", unwanted)
		}
	}
	if !strings.Contains(r.body, `href="/w/`+f.acme+`/contacts/`+contact+`"`) || !strings.Contains(r.body, "Globex") {
		t.Error("tasks do not link to their record or name their workspace")
	}
	if !strings.Contains(r.body, `href="/my-tasks" aria-current="page"`) {
		t.Error("the frame has no current My tasks link")
	}

	// Olga sees hers, not Maya's.
	o := f.ts.loggedIn(t, f.olga.Email)
	body := o.get("/my-tasks").body
	if !strings.Contains(body, "Olga&#39;s task") || !strings.Contains(body, "Olga&#39;s unassigned") || strings.Contains(body, "Call Ana back") {
		t.Error("Olga's page is wrong")
	}

	// The switcher's counts, asked for when it opens.
	r = c.get("/my-tasks/counts")
	wantStatus(t, "counts", r, http.StatusOK)
	acme := regexp.MustCompile(`<span id="due-` + f.acme + `"[^>]*>(.*?)</span>\n`).FindStringSubmatch(r.body)
	if acme == nil || !strings.Contains(acme[1], `>1<span class="sr-only"> due today</span>`) || !strings.Contains(acme[1], `>1<span class="sr-only"> overdue</span>`) {
		t.Errorf("Acme's counts: %q", acme)
	}
	if strings.Contains(r.body, f.initech) {
		t.Error("counts name a workspace Maya is not a member of")
	}
	if !strings.Contains(r.body, `id="due-`+f.globex+`" class="due-count" hx-swap-oob="true"></span>`) {
		t.Errorf("Globex has nothing due today, its span should be empty:\n%s", r.body)
	}
	// Pages hold the empty spans and ask for counts only when the switcher opens.
	home := c.get("/").body
	if !strings.Contains(home, `<span id="due-`+f.acme+`" class="due-count"></span>`) || !strings.Contains(home, `hx-get="/my-tasks/counts" hx-trigger="toggle once from:closest details"`) {
		t.Error("the switcher lacks its lazy counts")
	}

	// Mark done with htmx: the row comes back, done.
	token := c.workspaceToken(f.acme)
	req, _ := http.NewRequest(http.MethodPost, c.ts.URL+"/w/"+f.acme+"/tasks/"+overdue+"/toggle",
		strings.NewReader(url.Values{"done": {"true"}, "return": {"my-tasks"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", token)
	r = c.do(req)
	wantStatus(t, "htmx done", r, http.StatusOK)
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<li id="mytask-`+overdue+`" class="done">`) || strings.Contains(r.body, "<html") {
		t.Errorf("the htmx answer is not the row, done:\n%s", r.body)
	}
	if strings.Contains(c.get("/my-tasks").body, "Call Ana back") {
		t.Error("a done task is still listed")
	}
	// Without JavaScript: the form posts, the page comes back.
	r = c.post("/w/"+f.acme+"/tasks/"+overdue+"/toggle", token, url.Values{"done": {"false"}, "return": {"my-tasks"}})
	wantStatus(t, "form reopen", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/my-tasks" {
		t.Errorf("went to %q", loc)
	}
	if body := c.get("/my-tasks").body; !strings.Contains(body, "Call Ana back") || !strings.Contains(body, "Task reopened.") {
		t.Error("the reopened task is not back, or no message says so")
	}
}

func TestMyTasks_WrongIDs(t *testing.T) {
	f := newTasksFixture(t)
	globexTask, _ := f.addTask(t, f.globex, f.olga, "Renew", day(1), f.maya.ID)
	initechTask, _ := f.addTask(t, f.initech, f.olga, "Secret", day(1), f.maya.ID)
	c := f.ts.loggedIn(t, f.maya.Email)
	token := c.workspaceToken(f.acme)
	form := url.Values{"done": {"true"}, "return": {"my-tasks"}}
	// A task of Globex sent to Acme's address: not there.
	wantStatus(t, "task of another workspace", c.post("/w/"+f.acme+"/tasks/"+globexTask+"/toggle", token, form), http.StatusNotFound)
	wantStatus(t, "no such task", c.post("/w/"+f.acme+"/tasks/nope/toggle", token, form), http.StatusNotFound)
	// A workspace she is not in, with her token of Acme or without.
	wantStatus(t, "not her workspace", c.post("/w/"+f.initech+"/tasks/"+initechTask+"/toggle", token, form), http.StatusNotFound)
	// Acme's token does not work for Globex.
	wantStatus(t, "token of another workspace", c.post("/w/"+f.globex+"/tasks/"+globexTask+"/toggle", token, form), http.StatusForbidden)
	wantStatus(t, "bad done", c.post("/w/"+f.globex+"/tasks/"+globexTask+"/toggle", c.workspaceToken(f.globex), url.Values{"done": {"maybe"}, "return": {"my-tasks"}}), http.StatusBadRequest)
	for _, p := range []string{"0", "-1", "x", "99999999999"} {
		wantStatus(t, "page "+p, c.get("/my-tasks?page="+p), http.StatusBadRequest)
	}
	wantStatus(t, "page past the end", c.get("/my-tasks?page=2"), http.StatusNotFound)
	wantStatus(t, "anonymous", f.ts.newClient(t).get("/my-tasks/counts"), http.StatusSeeOther)

	// A viewer sees their tasks but no button to tick them.
	viewer := f.ts.mustUser(t, "viewer@example.com", false)
	f.ts.mustMember(t, f.globex, viewer, "viewer")
	f.addTask(t, f.globex, f.olga, "Read the report", day(0), viewer.ID)
	body := f.ts.loggedIn(t, viewer.Email).get("/my-tasks").body
	if !strings.Contains(body, "Read the report") || strings.Contains(body, "/toggle") {
		t.Error("a viewer's My tasks is wrong")
	}
}

func TestMyTasks_MembershipAndTrash(t *testing.T) {
	f := newTasksFixture(t)
	f.addTask(t, f.globex, f.olga, "Renew the contract", day(1), f.maya.ID)
	f.addTask(t, f.acme, f.maya, "Acme thing", day(1), f.maya.ID)
	c := f.ts.loggedIn(t, f.maya.Email)
	if !strings.Contains(c.get("/my-tasks").body, "Renew the contract") {
		t.Fatal("the Globex task is not listed")
	}
	// Removed from Globex: its tasks are gone at the next request.
	if err := store.RemoveMember(t.Context(), f.ts.tenants.Catalog(), f.globex, f.maya.ID); err != nil {
		t.Fatal(err)
	}
	body := c.get("/my-tasks").body
	if strings.Contains(body, "Renew the contract") || strings.Contains(body, "Globex") || !strings.Contains(body, "Acme thing") {
		t.Error("removal from a workspace did not hide its tasks at once")
	}
	if strings.Contains(c.get("/my-tasks/counts").body, f.globex) {
		t.Error("the counts still cover the workspace she left")
	}
	// Acme in the trash: skipped.
	if _, err := f.ts.tenants.Trash(t.Context(), f.acme, "user:"+f.maya.ID); err != nil {
		t.Fatal(err)
	}
	r := c.get("/my-tasks")
	wantStatus(t, "after trash", r, http.StatusOK)
	if strings.Contains(r.body, "Acme thing") {
		t.Error("a trashed workspace's tasks are listed")
	}
	if !strings.Contains(r.body, "Nothing to do") {
		t.Error("no empty state")
	}
	if strings.Contains(c.get("/my-tasks/counts").body, f.acme) {
		t.Error("the counts cover a trashed workspace")
	}
}

func TestMyTasks_ManyWorkspacesArePaged(t *testing.T) {
	ts := newTestServer(t)
	u := ts.mustUser(t, "busy@example.com", false)
	f := &tasksFixture{ts: ts, maya: u}
	n := myTasksWorkspaces + 2
	for i := range n {
		ws := ts.mustWorkspace(t, fmt.Sprintf("Client %02d", i), u.Email)
		f.addTask(t, ws, u, fmt.Sprintf("Task of client %02d", i), day(0), u.ID)
	}
	c := ts.loggedIn(t, u.Email)
	first := c.get("/my-tasks").body
	if !strings.Contains(first, fmt.Sprintf("Showing workspaces 1–%d of %d", myTasksWorkspaces, n)) || !strings.Contains(first, `href="/my-tasks?page=2"`) {
		t.Error("the first page does not say it is capped")
	}
	if got := strings.Count(first, `class="task-title"`); got != myTasksWorkspaces {
		t.Errorf("%d tasks on the first page, want %d", got, myTasksWorkspaces)
	}
	second := c.get("/my-tasks?page=2").body
	if !strings.Contains(second, fmt.Sprintf("Task of client %02d", n-1)) || strings.Contains(second, "Task of client 00") {
		t.Error("the second page does not hold the last workspaces")
	}
	// One workspace with more tasks than a page shows of it.
	ws := ts.mustWorkspace(t, "AAA Big", u.Email)
	for i := range myTasksEach + 1 {
		f.addTask(t, ws, u, fmt.Sprintf("Big %02d", i), day(i), u.ID)
	}
	body := c.get("/my-tasks").body
	if !strings.Contains(body, fmt.Sprintf("AAA Big: only your %d soonest tasks are shown", myTasksEach)) || strings.Contains(body, fmt.Sprintf("Big %02d", myTasksEach)) {
		t.Error("a workspace's tasks are not capped, or the cap is not said")
	}
}
