package handlers

import (
	"net/http"
	"strings"
	"testing"

	"atrium/store"
)

// withWorkspace runs fn on a lease of workspace ws, as its owner.
func (f *fixture) withWorkspace(t *testing.T, ws string, fn func(db *store.DB, a store.Actor)) {
	t.Helper()
	l, err := f.ts.tenants.Acquire(t.Context(), ws)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	fn(l.DB, store.Actor{Kind: "user", ID: f.owner.ID})
}

func TestCompaniesUI_ListCounts(t *testing.T) {
	f := newFixture(t)
	f.withWorkspace(t, f.a, func(db *store.DB, a store.Actor) {
		for _, n := range []string{"Ana", "Bo"} {
			if _, err := store.CreateContact(t.Context(), db, a, store.ContactInput{FirstName: ptrTo(n), CompanyID: &f.company}); err != nil {
				t.Fatal(err)
			}
		}
		for _, st := range []string{"open", "won"} {
			if _, err := store.CreateDeal(t.Context(), db, a, store.DealInput{Title: ptrTo("D"), CompanyID: &f.company, Status: ptrTo(st)}); err != nil {
				t.Fatal(err)
			}
		}
	})
	c := f.ts.loggedIn(t, f.viewer.Email)
	r := c.get("/w/" + f.a + "/companies")
	wantStatus(t, "list", r, http.StatusOK)
	for _, want := range []string{`<td data-label="People" class="num">2</td>`, `<td data-label="Open deals" class="num">1</td>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the list lacks %s", want)
		}
	}
}
