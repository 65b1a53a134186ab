package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSwitcher_ManyWorkspaces: the switcher lists the first switcherShown
// of a user's workspaces by name and finds the others by name, among the
// user's own only.
func TestSwitcher_ManyWorkspaces(t *testing.T) {
	ts := newTestServer(t)
	ts.mustUser(t, "agency@example.com", false)
	ts.mustUser(t, "other@example.com", false)
	ids := map[string]string{}
	for i := range switcherShown + 5 {
		name := fmt.Sprintf("Client %02d", i)
		ids[name] = ts.mustWorkspace(t, name, "agency@example.com")
	}
	foreign := ts.mustWorkspace(t, "Client 99 of another agency", "other@example.com")
	c := ts.loggedIn(t, "agency@example.com")

	home := c.get("/").body
	switcher := home[strings.Index(home, `id="switcher-list"`):]
	switcher = switcher[:strings.Index(switcher, "</form>")]
	if n := strings.Count(switcher, `name="workspace"`); n != switcherShown {
		t.Errorf("the switcher lists %d workspaces, want %d", n, switcherShown)
	}
	if !strings.Contains(switcher, ids["Client 00"]) || strings.Contains(switcher, ids["Client 19"]) {
		t.Error("the switcher does not list the first ones by name")
	}
	if !strings.Contains(home, `hx-get="/switcher"`) || !strings.Contains(switcher, "search for the others") {
		t.Error("the switcher offers no search though more workspaces exist")
	}
	if strings.Count(switcher, `name="csrf_token"`) != 1 {
		t.Error("the switcher's list is not one form")
	}

	r := c.get("/switcher?q=" + url.QueryEscape("client 1"))
	wantStatus(t, "search", r, http.StatusOK)
	for i := 10; i < 20; i++ {
		if !strings.Contains(r.body, ids[fmt.Sprintf("Client %d", i)]) {
			t.Errorf("the search for client 1 misses Client %d", i)
		}
	}
	if strings.Contains(r.body, ids["Client 01"]) || strings.Contains(r.body, "search for the others") {
		t.Error("the search lists what does not match, or says more match")
	}
	if r := c.get("/switcher?q=99"); strings.Contains(r.body, foreign) || !strings.Contains(r.body, "No workspace of yours") {
		t.Error("the search finds another user's workspace")
	}
	wantStatus(t, "a search too long", c.get("/switcher?q="+strings.Repeat("x", 101)), http.StatusBadRequest)

	// A button of the list switches.
	r = c.post("/switch", c.token("/"), url.Values{"workspace": {ids["Client 17"]}})
	wantStatus(t, "switch", r, http.StatusSeeOther)

	// A user with few workspaces gets no search.
	o := ts.loggedIn(t, "other@example.com")
	if body := o.get("/").body; strings.Contains(body, `hx-get="/switcher"`) || !strings.Contains(body, foreign) {
		t.Error("a user with one workspace gets a search, or not their workspace")
	}
	wantStatus(t, "signed out", ts.newClient(t).get("/switcher?q=a"), http.StatusSeeOther)
}
