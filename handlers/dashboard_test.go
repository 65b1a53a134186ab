package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"atrium/store"
)

// The workspace opens on its dashboard: open pipeline by stage, won per
// month, tasks due, activity per member, this month's emails (the
// fixture has a sequence); another workspace's numbers never show.
func TestDashboard(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	title, value, won := "Closed one", "99.00", "won"
	if _, err := store.CreateDeal(t.Context(), l.DB, a, store.DealInput{Title: &title, Value: &value, Status: &won}); err != nil {
		t.Fatal(err)
	}
	late := "Late task"
	if _, err := store.CreateTask(t.Context(), l.DB, a, store.TaskInput{ContactID: &f.contact, Title: &late, DueDate: &yesterday}); err != nil {
		t.Fatal(err)
	}
	l.Release()

	owner := f.ts.loggedIn(t, f.owner.Email)
	r := owner.get("/w/" + f.a + "/")
	wantStatus(t, "dashboard", r, http.StatusOK)
	for _, want := range []string{
		"Open pipeline by stage", "1,200.10 EUR", // the fixture's open deal
		"Won per month (EUR)", "99.00 EUR", "<dt>Overdue</dt><dd>1</dd>",
		"Activity per member this week", "Emails this month", "<dt>Opened</dt><dd>0 <span class=\"muted\">0.0%</span>",
		"<dt>Delivered</dt><dd>0</dd>",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	r = owner.get("/w/" + f.b + "/")
	wantStatus(t, "Globex's dashboard", r, http.StatusOK)
	if strings.Contains(r.body, "1,200.10") || strings.Contains(r.body, "99.00 EUR") || strings.Contains(r.body, "Emails this month") {
		t.Error("Globex's dashboard shows Acme's numbers")
	}
}
