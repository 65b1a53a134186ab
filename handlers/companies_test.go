package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
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

func TestCompaniesUI_PeopleAndDeals(t *testing.T) {
	f := newFixture(t)
	f.withWorkspace(t, f.a, func(db *store.DB, a store.Actor) {
		for i := 0; i < 60; i++ {
			if _, err := store.CreateContact(t.Context(), db, a, store.ContactInput{FirstName: ptrTo(fmt.Sprintf("Person%02d", i)), CompanyID: &f.company}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.CreateDeal(t.Context(), db, a, store.DealInput{Title: ptrTo("Rocket order"), Value: ptrTo("12500"), Currency: ptrTo("EUR"), CompanyID: &f.company, Status: ptrTo("won")}); err != nil {
			t.Fatal(err)
		}
	})
	c := f.ts.loggedIn(t, f.viewer.Email)
	page := "/w/" + f.a + "/companies/" + f.company
	r := c.get(page)
	wantStatus(t, "first page", r, http.StatusOK)
	for _, want := range []string{"People (60)", "1–50 of 60", "Person00", "Person49", "Rocket order", "Lead in", "won", "12,500.00 EUR"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("first page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "Person50") || strings.Contains(r.body, `rel="prev"`) {
		t.Error("the first page shows the second's people or a previous link")
	}
	next := regexp.MustCompile(`href="\?after=(\d+)#people"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no next link")
	}
	r = c.get(page + "?after=" + next[1])
	wantStatus(t, "second page", r, http.StatusOK)
	if !strings.Contains(r.body, "51–60 of 60") || !strings.Contains(r.body, "Person59") || strings.Contains(r.body, "Person49<") || strings.Contains(r.body, `rel="next"`) {
		t.Error("the second page is not people 51–60 alone")
	}
	prev := regexp.MustCompile(`href="\?before=(\d+)#people"`).FindStringSubmatch(r.body)
	if prev == nil {
		t.Fatal("no previous link")
	}
	if r = c.get(page + "?before=" + prev[1]); !strings.Contains(r.body, "1–50 of 60") || !strings.Contains(r.body, "Person00") {
		t.Error("previous did not go back to the first page")
	}
	for _, q := range []string{"?after=abc", "?after=-3", "?before=0", "?after=1&before=9"} {
		wantStatus(t, "bad cursor "+q, c.get(page+q), http.StatusBadRequest)
	}
	if r := c.get(page + "?after=999999"); r.status != http.StatusOK || !strings.Contains(r.body, "Back to the first page") {
		t.Errorf("past the end: %d", r.status)
	}
}

func TestCompaniesUI_DuplicateOnCreate(t *testing.T) {
	f := newFixture(t)
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/companies"
	r := c.post(base, token, url.Values{"name": {"Cyberdyne"}})
	wantStatus(t, "first", r, http.StatusSeeOther)
	first := r.header.Get("Location")
	for _, name := range []string{"cyberdyne", " CYBERDYNE ", "Cyberdyne Inc."} {
		r = c.post(base, token, url.Values{"name": {name}, "industry": {"Robots"}})
		wantStatus(t, "same name "+name, r, http.StatusConflict)
		id := strings.TrimPrefix(first, base+"/")
		for _, want := range []string{"A company named", `href="` + first + `"`, `name="confirm_duplicate" value="` + id + `"`, "Create anyway", `value="Robots"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%q: the form lacks %s", name, want)
			}
		}
		// A confirmation naming another company confirms nothing.
		wantStatus(t, "confirmed for another", c.post(base, token, url.Values{"name": {name}, "confirm_duplicate": {f.company}}), http.StatusConflict)
	}
	r = c.post(base, token, url.Values{"name": {"cyberdyne"}, "confirm_duplicate": {strings.TrimPrefix(first, base+"/")}})
	wantStatus(t, "create anyway", r, http.StatusSeeOther)
	if r.header.Get("Location") == first {
		t.Error("create anyway went to the existing company")
	}
	wantStatus(t, "another name", c.post(base, token, url.Values{"name": {"Cyberdyne Systems"}}), http.StatusSeeOther)
	// Editing a company to the same name as another is not a creation.
	wantStatus(t, "edit", c.post("/w/"+f.a+"/companies/"+f.company, token, url.Values{"name": {"Cyberdyne"}}), http.StatusSeeOther)

	// The API creates as before.
	key, _ := f.ts.mustAPIKey(t, f.a, "write")
	wantStatus(t, "api", f.ts.api(t, key, "POST", "/api/v1/companies", `{"name":"CYBERDYNE"}`), http.StatusCreated)
}

func TestCompaniesUI_Merge(t *testing.T) {
	f := newFixture(t)
	var src, foreign string
	f.withWorkspace(t, f.a, func(db *store.DB, a store.Actor) {
		co, err := store.CreateCompany(t.Context(), db, a, store.CompanyInput{Name: ptrTo("Acme Laboratories"), Domain: ptrTo("acmelabs.example")})
		if err != nil {
			t.Fatal(err)
		}
		src = co.ID
		if _, err := store.CreateContact(t.Context(), db, a, store.ContactInput{FirstName: ptrTo("Moved"), CompanyID: &src}); err != nil {
			t.Fatal(err)
		}
	})
	f.withWorkspace(t, f.b, func(db *store.DB, a store.Actor) {
		co, err := store.CreateCompany(t.Context(), db, a, store.CompanyInput{Name: ptrTo("Acme Elsewhere")})
		if err != nil {
			t.Fatal(err)
		}
		foreign = co.ID
	})
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	base := "/w/" + f.a + "/companies/" + src + "/merge"

	r := c.get(base + "?q=acme")
	wantStatus(t, "pick", r, http.StatusOK)
	if !strings.Contains(r.body, "?into="+f.company) || strings.Contains(r.body, "?into="+src) || strings.Contains(r.body, foreign) {
		t.Error("the picker should offer Acme Labs, not the company itself nor B's")
	}
	if r = c.get(base + "?q=zzzz"); !strings.Contains(r.body, "No other company matches") {
		t.Error("no word for no match")
	}
	r = c.get(base + "?into=" + f.company)
	wantStatus(t, "confirm", r, http.StatusOK)
	for _, want := range []string{"Merge Acme Laboratories into Acme Labs?", "1 person", "domain", "cannot be undone", `name="into" value="` + f.company + `"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the confirmation lacks %q", want)
		}
	}

	wantStatus(t, "into itself", c.get(base+"?into="+src), http.StatusBadRequest)
	wantStatus(t, "into B's (page)", c.get(base+"?into="+foreign), http.StatusNotFound)
	wantStatus(t, "into nothing", c.post(base, token, nil), http.StatusBadRequest)
	wantStatus(t, "into itself", c.post(base, token, url.Values{"into": {src}}), http.StatusBadRequest)
	wantStatus(t, "into B's", c.post(base, token, url.Values{"into": {foreign}}), http.StatusNotFound)
	wantStatus(t, "into a made-up id", c.post(base, token, url.Values{"into": {"0192f0c1-7b7e-7c3a-9d2e-3f4a5b6c7d8e"}}), http.StatusNotFound)
	wantStatus(t, "B's from A", c.post("/w/"+f.a+"/companies/"+foreign+"/merge", token, url.Values{"into": {f.company}}), http.StatusNotFound)
	wantStatus(t, "B's page from A", c.get("/w/"+f.a+"/companies/"+foreign+"/merge"), http.StatusNotFound)
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	wantStatus(t, "viewer", viewer.post(base, viewer.workspaceToken(f.a), url.Values{"into": {f.company}}), http.StatusForbidden)
	wantStatus(t, "viewer page", viewer.get(base), http.StatusForbidden)
	wantStatus(t, "still there", c.get("/w/"+f.a+"/companies/"+src), http.StatusOK)

	r = c.post(base, token, url.Values{"into": {f.company}})
	wantStatus(t, "merge", r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != "/w/"+f.a+"/companies/"+f.company {
		t.Errorf("went to %s", got)
	}
	wantStatus(t, "source gone", c.get("/w/"+f.a+"/companies/"+src), http.StatusNotFound)
	body := c.get("/w/" + f.a + "/companies/" + f.company).body
	if !strings.Contains(body, "Moved") || !strings.Contains(body, "acmelabs.example") {
		t.Error("the target lacks the moved person or the filled domain")
	}
	if !strings.Contains(body, "Company changed from Acme Laboratories to Acme Labs") {
		t.Error("the target's timeline does not tell the merge")
	}
	f.withWorkspace(t, f.b, func(db *store.DB, a store.Actor) {
		if _, err := store.GetCompany(t.Context(), db, foreign); err != nil {
			t.Errorf("B's company: %v", err)
		}
	})
}
